/* The sound device side of the media engine: ALSA capture and playback of 20 ms mono frames, and the list of devices. */
#pragma once

#include <poll.h>

#include <glib.h>

G_BEGIN_DECLS

/*
 * One ALSA PCM opened for capture or playback, S16_LE mono, in non-blocking mode, with a period
 * of one frame (20 ms) and a small buffer of a few periods. Used from the media thread only.
 * The sample rate is asked for (48000) and taken as the device gives it.
 *
 * Some PCMs have no clock: `null` and the `file` plugin over `null` accept or return a second of
 * audio in no time. sp_audio_device_has_clock() tells; the engine then paces from its own timer
 * and moves exactly one frame per tick.
 */
typedef struct _SpAudioDevice SpAudioDevice;

typedef enum {
	SP_AUDIO_CAPTURE,
	SP_AUDIO_PLAYBACK,
} SpAudioDirection;

#define SP_AUDIO_RATE 48000
#define SP_AUDIO_FRAME_MS 20
#define SP_AUDIO_PERIODS 3 /* buffer = 3 periods: enough for scheduling, 60 ms at most */

/*
 * Opens, configures, prepares and starts the PCM name (playback also gets one period of silence
 * written first, so a clocked device does not underrun at once). NULL with *error set to a
 * newly allocated text (snd_strerror's, with the step that failed) when it cannot be used.
 */
SpAudioDevice *sp_audio_device_open(const char *name, SpAudioDirection direction, guint rate,
				    char **error);
/* snd_pcm_drop() (never drain: it may wait for a dead device) and close. NULL is fine. */
void sp_audio_device_close(SpAudioDevice *dev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpAudioDevice, sp_audio_device_close)

const char *sp_audio_device_get_name(const SpAudioDevice *dev);
SpAudioDirection sp_audio_device_get_direction(const SpAudioDevice *dev);
/* The rate the device runs at (what it gave for the one asked for). */
guint sp_audio_device_get_rate(const SpAudioDevice *dev);
/* One frame (SP_AUDIO_FRAME_MS) in samples at that rate: the period size. */
guint sp_audio_device_get_frame_samples(const SpAudioDevice *dev);
guint sp_audio_device_get_period_samples(const SpAudioDevice *dev);
guint sp_audio_device_get_buffer_samples(const SpAudioDevice *dev);
/* The buffer's length in ms (its share of the latency budget). */
double sp_audio_device_get_buffer_ms(const SpAudioDevice *dev);

/*
 * Whether the device paces itself (see audio-alsa.c for the rule). Decided at open; a capture
 * device that later turns out to run faster than real time can be told so with
 * sp_audio_device_set_no_clock().
 */
gboolean sp_audio_device_has_clock(const SpAudioDevice *dev);
void sp_audio_device_set_no_clock(SpAudioDevice *dev);

/* The poll descriptors of a clocked device (at most max_fds); the count filled. */
guint sp_audio_device_fill_pollfds(SpAudioDevice *dev, struct pollfd *fds, guint max_fds);
/* After poll: whether the device has room / data for a frame. -errno on a device failure. */
int sp_audio_device_poll_ready(SpAudioDevice *dev, struct pollfd *fds, guint n_fds);

/*
 * Reads up to n samples of capture without waiting. Returns the count read (0 when none is
 * there yet, or after an over/underrun that was recovered and counted), or -errno when the device
 * failed and cannot be recovered: the caller closes it.
 */
int sp_audio_device_read(SpAudioDevice *dev, gint16 *pcm, guint n);
/* Writes up to n samples of playback without waiting; as sp_audio_device_read(). */
int sp_audio_device_write(SpAudioDevice *dev, const gint16 *pcm, guint n);
/* Samples that can be read (capture) or written (playback) now; -errno on failure. */
int sp_audio_device_avail(SpAudioDevice *dev);
/* Samples queued for playback and not yet played (the playback buffer's current share). */
int sp_audio_device_queued(SpAudioDevice *dev);
/* Over/underruns recovered since open. */
guint64 sp_audio_device_get_xruns(const SpAudioDevice *dev);

/* What sp_audio_list_devices() returns, one per PCM hint. */
typedef struct {
	char *name;
	char *description; /* may be "" */
	gboolean capture;
	gboolean playback;
} SpAudioDeviceInfo;

void sp_audio_device_info_free(SpAudioDeviceInfo *info);
/* The PCMs ALSA knows (snd_device_name_hint), as SpAudioDeviceInfo; never NULL. */
GPtrArray *sp_audio_list_devices(void);

G_END_DECLS
