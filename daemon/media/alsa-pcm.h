/* The sound devices: ALSA capture and playback PCMs opened by name, read and written without blocking. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What every device is opened at: 48 kHz mono S16_LE, 20 ms periods, a buffer of four. */
#define SP_ALSA_RATE 48000
#define SP_ALSA_PERIOD_FRAMES 960
#define SP_ALSA_BUFFER_PERIODS 4

typedef struct _SpAlsaPcm SpAlsaPcm;

/* One PCM that ALSA's name hints list. */
typedef struct {
	char *name;
	char *description; /* "" when it has none */
	gboolean capture;  /* it can be opened for capture */
	gboolean playback;
} SpAlsaDeviceInfo;

void sp_alsa_device_info_free(SpAlsaDeviceInfo *info);
/* The PCMs of snd_device_name_hint() (the "pcm" interface, every card), in ALSA's order. */
GPtrArray *sp_alsa_list_devices(void); /* SpAlsaDeviceInfo*, owned */
/*
 * Whether name can be opened in that direction: opened without blocking and closed at once,
 * never configured (a file PCM opens its output file only when configured, so a recording is
 * not truncated by a probe). A device busy with someone else (EBUSY) exists.
 */
gboolean sp_alsa_probe(const char *name, gboolean capture, GError **error);

/* Opens name for capture or playback, non-blocking; NULL with a message from ALSA. */
SpAlsaPcm *sp_alsa_open(const char *name, gboolean capture, GError **error);
/* snd_pcm_drop() (never drain: it can hang on a stuck device), then close. NULL is fine. */
void sp_alsa_close(SpAlsaPcm *pcm);
const char *sp_alsa_get_name(const SpAlsaPcm *pcm);
/*
 * Whether the device has a clock of its own. The null PCM and file PCMs over it take or give a
 * second of audio in no time: the caller then paces them.
 */
gboolean sp_alsa_has_clock(const SpAlsaPcm *pcm);
/* Frames available to read (capture) or room to write (playback), or -errno. */
glong sp_alsa_avail(SpAlsaPcm *pcm);
/*
 * Reads up to n frames (capture) or writes n frames (playback) without waiting. Returns the
 * frames moved (0: none could be), or -errno when the device failed for good (unplugged:
 * -ENODEV). Over- and underruns are recovered and counted in *xruns.
 */
glong sp_alsa_read(SpAlsaPcm *pcm, gint16 *buf, gulong n, guint64 *xruns);
glong sp_alsa_write(SpAlsaPcm *pcm, const gint16 *buf, gulong n, guint64 *xruns);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpAlsaDeviceInfo, sp_alsa_device_info_free)

G_END_DECLS
