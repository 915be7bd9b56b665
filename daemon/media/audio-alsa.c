/* ALSA capture and playback for the media engine: open with 20 ms periods, move frames without waiting, recover xruns, list devices. */
#include "daemon/media/audio-alsa.h"

#include <errno.h>

#include <alsa/asoundlib.h>

/*
 * Whether a device has a clock. ALSA's `null` PCM, and the `file` plugin over it (what the
 * tests and CI use), accept or return any amount of audio at once: pacing from them would spin.
 * The rule, decided once at open:
 *   - snd_pcm_type() is SND_PCM_TYPE_NULL: no clock;
 *   - capture: right after snd_pcm_start() the whole buffer is already readable: no clock
 *     (a real device has at most a few samples by then);
 *   - playback: right after the one-period prefill the whole buffer is writable again (the
 *     prefill was "played" in no time): no clock.
 * The engine also watches a capture clock at run time and calls sp_audio_device_set_no_clock()
 * when it delivers clearly faster than real time (a plugin chain this rule cannot see into).
 */

struct _SpAudioDevice {
	snd_pcm_t *pcm;
	char *name;
	SpAudioDirection direction;
	guint rate;
	guint frame;  /* samples per SP_AUDIO_FRAME_MS */
	guint period; /* as the device gave it */
	guint buffer;
	gboolean has_clock;
	gboolean suspended; /* -ESTRPIPE seen: resume is retried on the next call */
	guint64 xruns;
};

static char *step_error(const char *step, int err)
{
	return g_strdup_printf("%s: %s", step, snd_strerror(err));
}

static int configure(SpAudioDevice *dev, guint rate, char **error)
{
	snd_pcm_hw_params_t *hw;
	snd_pcm_sw_params_t *sw;
	snd_pcm_uframes_t period, buffer;
	unsigned int r = rate;
	int err;

	snd_pcm_hw_params_alloca(&hw);
	snd_pcm_sw_params_alloca(&sw);

	if ((err = snd_pcm_hw_params_any(dev->pcm, hw)) < 0) {
		*error = step_error("no configuration", err);
		return err;
	}
	if ((err = snd_pcm_hw_params_set_access(dev->pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0) {
		*error = step_error("interleaved access", err);
		return err;
	}
	if ((err = snd_pcm_hw_params_set_format(dev->pcm, hw, SND_PCM_FORMAT_S16_LE)) < 0) {
		*error = step_error("format S16_LE", err);
		return err;
	}
	if ((err = snd_pcm_hw_params_set_channels(dev->pcm, hw, 1)) < 0) {
		*error = step_error("mono", err);
		return err;
	}
	if ((err = snd_pcm_hw_params_set_rate_near(dev->pcm, hw, &r, NULL)) < 0) {
		*error = step_error("rate", err);
		return err;
	}
	if (r < 8000 || r > 192000) {
		*error = g_strdup_printf("rate: %u Hz is not usable", r);
		return -EINVAL;
	}
	dev->rate = r;
	dev->frame = r * SP_AUDIO_FRAME_MS / 1000;
	period = dev->frame;
	if ((err = snd_pcm_hw_params_set_period_size_near(dev->pcm, hw, &period, NULL)) < 0) {
		*error = step_error("period size", err);
		return err;
	}
	buffer = period * SP_AUDIO_PERIODS;
	if ((err = snd_pcm_hw_params_set_buffer_size_near(dev->pcm, hw, &buffer)) < 0) {
		*error = step_error("buffer size", err);
		return err;
	}
	if ((err = snd_pcm_hw_params(dev->pcm, hw)) < 0) {
		*error = step_error("hardware parameters", err);
		return err;
	}
	snd_pcm_hw_params_get_period_size(hw, &period, NULL);
	snd_pcm_hw_params_get_buffer_size(hw, &buffer);
	dev->period = (guint)period;
	dev->buffer = (guint)buffer;
	if (dev->buffer < dev->frame) {
		*error = g_strdup_printf("buffer of %u samples is shorter than a frame", dev->buffer);
		return -EINVAL;
	}

	if ((err = snd_pcm_sw_params_current(dev->pcm, sw)) < 0) {
		*error = step_error("software parameters", err);
		return err;
	}
	/* Wake up for a whole frame; playback starts once the prefill is in. */
	snd_pcm_sw_params_set_avail_min(dev->pcm, sw, dev->frame);
	snd_pcm_sw_params_set_start_threshold(dev->pcm, sw,
					      dev->direction == SP_AUDIO_PLAYBACK ? dev->frame : 1);
	snd_pcm_sw_params_set_stop_threshold(dev->pcm, sw, dev->buffer);
	if ((err = snd_pcm_sw_params(dev->pcm, sw)) < 0) {
		*error = step_error("software parameters", err);
		return err;
	}
	return 0;
}

static int write_silence(SpAudioDevice *dev, guint n)
{
	gint16 zeros[960] = {0};

	while (n > 0) {
		snd_pcm_sframes_t w = snd_pcm_writei(dev->pcm, zeros, MIN(n, G_N_ELEMENTS(zeros)));

		if (w == -EAGAIN)
			return 0;
		if (w < 0)
			return (int)w;
		n -= (guint)w;
	}
	return 0;
}

SpAudioDevice *sp_audio_device_open(const char *name, SpAudioDirection direction, guint rate,
				    char **error)
{
	g_autoptr(SpAudioDevice) dev = g_new0(SpAudioDevice, 1);
	snd_pcm_sframes_t avail;
	int err;

	*error = NULL;
	dev->name = g_strdup(name && *name ? name : "default");
	dev->direction = direction;
	err = snd_pcm_open(&dev->pcm, dev->name,
			   direction == SP_AUDIO_CAPTURE ? SND_PCM_STREAM_CAPTURE
							 : SND_PCM_STREAM_PLAYBACK,
			   SND_PCM_NONBLOCK);
	if (err < 0) {
		dev->pcm = NULL;
		*error = step_error("cannot open", err);
		return NULL;
	}
	if (configure(dev, rate ? rate : SP_AUDIO_RATE, error) < 0)
		return NULL;
	if ((err = snd_pcm_prepare(dev->pcm)) < 0) {
		*error = step_error("prepare", err);
		return NULL;
	}

	dev->has_clock = snd_pcm_type(dev->pcm) != SND_PCM_TYPE_NULL;
	if (direction == SP_AUDIO_CAPTURE) {
		if ((err = snd_pcm_start(dev->pcm)) < 0) {
			*error = step_error("start", err);
			return NULL;
		}
		avail = snd_pcm_avail(dev->pcm);
		if (avail >= (snd_pcm_sframes_t)dev->buffer)
			dev->has_clock = FALSE;
	} else if (dev->has_clock) {
		if ((err = write_silence(dev, dev->frame)) < 0) {
			*error = step_error("prefill", err);
			return NULL;
		}
		avail = snd_pcm_avail(dev->pcm);
		if (avail >= (snd_pcm_sframes_t)dev->buffer)
			dev->has_clock = FALSE;
	}
	g_debug("audio: %s %s at %u Hz, period %u, buffer %u samples, %s", dev->name,
		direction == SP_AUDIO_CAPTURE ? "capture" : "playback", dev->rate, dev->period,
		dev->buffer, dev->has_clock ? "its own clock" : "no clock");
	return g_steal_pointer(&dev);
}

void sp_audio_device_close(SpAudioDevice *dev)
{
	if (!dev)
		return;
	if (dev->pcm) {
		snd_pcm_drop(dev->pcm);
		snd_pcm_close(dev->pcm);
	}
	g_free(dev->name);
	g_free(dev);
}

const char *sp_audio_device_get_name(const SpAudioDevice *dev)
{
	return dev->name;
}

SpAudioDirection sp_audio_device_get_direction(const SpAudioDevice *dev)
{
	return dev->direction;
}

guint sp_audio_device_get_rate(const SpAudioDevice *dev)
{
	return dev->rate;
}

guint sp_audio_device_get_frame_samples(const SpAudioDevice *dev)
{
	return dev->frame;
}

guint sp_audio_device_get_period_samples(const SpAudioDevice *dev)
{
	return dev->period;
}

guint sp_audio_device_get_buffer_samples(const SpAudioDevice *dev)
{
	return dev->buffer;
}

double sp_audio_device_get_buffer_ms(const SpAudioDevice *dev)
{
	return dev->buffer * 1000.0 / dev->rate;
}

gboolean sp_audio_device_has_clock(const SpAudioDevice *dev)
{
	return dev->has_clock;
}

void sp_audio_device_set_no_clock(SpAudioDevice *dev)
{
	dev->has_clock = FALSE;
}

guint sp_audio_device_fill_pollfds(SpAudioDevice *dev, struct pollfd *fds, guint max_fds)
{
	int n = snd_pcm_poll_descriptors(dev->pcm, fds, max_fds);

	return n > 0 ? (guint)n : 0;
}

/*
 * After an error from readi/writei/avail: over/underruns are recovered (and counted); a
 * suspended device is resumed without waiting (snd_pcm_recover() would sleep until the
 * system resumes); anything else is the device's end. 0 when the caller may go on.
 */
static int recover(SpAudioDevice *dev, int err)
{
	if (err == -EAGAIN || err == -EINTR)
		return 0;
	if (err == -ESTRPIPE || dev->suspended) {
		int r = snd_pcm_resume(dev->pcm);

		if (r == -EAGAIN) {
			dev->suspended = TRUE;
			return 0;
		}
		dev->suspended = FALSE;
		if (r < 0 && (r = snd_pcm_prepare(dev->pcm)) < 0)
			return r;
		dev->xruns++;
	} else if (err == -EPIPE) {
		int r = snd_pcm_recover(dev->pcm, err, 1);

		if (r < 0)
			return r;
		dev->xruns++;
	} else {
		return err;
	}
	if (dev->direction == SP_AUDIO_CAPTURE) {
		int r = snd_pcm_start(dev->pcm);

		if (r < 0 && r != -EBADFD)
			return r;
	} else if (dev->has_clock) {
		/* The cushion again, so the next frame does not underrun at once. */
		return write_silence(dev, dev->frame);
	}
	return 0;
}

int sp_audio_device_poll_ready(SpAudioDevice *dev, struct pollfd *fds, guint n_fds)
{
	unsigned short revents = 0;
	int err = snd_pcm_poll_descriptors_revents(dev->pcm, fds, n_fds, &revents);

	if (err < 0)
		return err;
	if (revents & (POLLERR | POLLNVAL)) {
		snd_pcm_sframes_t a = snd_pcm_avail_update(dev->pcm);

		if (a < 0)
			return recover(dev, (int)a) < 0 ? (int)a : 0;
		return 0;
	}
	return (revents & (POLLIN | POLLOUT)) ? 1 : 0;
}

int sp_audio_device_read(SpAudioDevice *dev, gint16 *pcm, guint n)
{
	snd_pcm_sframes_t r;

	if (dev->suspended && recover(dev, -ESTRPIPE) < 0)
		return -ESTRPIPE;
	if (dev->suspended)
		return 0;
	r = snd_pcm_readi(dev->pcm, pcm, n);
	if (r >= 0)
		return (int)r;
	return recover(dev, (int)r) < 0 ? (int)r : 0;
}

int sp_audio_device_write(SpAudioDevice *dev, const gint16 *pcm, guint n)
{
	snd_pcm_sframes_t w;

	if (dev->suspended && recover(dev, -ESTRPIPE) < 0)
		return -ESTRPIPE;
	if (dev->suspended)
		return 0;
	w = snd_pcm_writei(dev->pcm, pcm, n);
	if (w >= 0)
		return (int)w;
	if (recover(dev, (int)w) < 0)
		return (int)w;
	if (w != -EPIPE && w != -ESTRPIPE)
		return 0;
	/* Recovered from an underrun: the frame still goes in after the new cushion. */
	w = snd_pcm_writei(dev->pcm, pcm, n);
	return w >= 0 ? (int)w : 0;
}

int sp_audio_device_avail(SpAudioDevice *dev)
{
	snd_pcm_sframes_t a = snd_pcm_avail_update(dev->pcm);

	if (a >= 0)
		return (int)MIN(a, (snd_pcm_sframes_t)G_MAXINT);
	if (recover(dev, (int)a) < 0)
		return (int)a;
	a = snd_pcm_avail_update(dev->pcm);
	return a >= 0 ? (int)MIN(a, (snd_pcm_sframes_t)G_MAXINT) : 0;
}

int sp_audio_device_queued(SpAudioDevice *dev)
{
	snd_pcm_sframes_t a = snd_pcm_avail_update(dev->pcm);

	if (a < 0 || !dev->has_clock)
		return 0;
	return a >= (snd_pcm_sframes_t)dev->buffer ? 0 : (int)(dev->buffer - (guint)a);
}

guint64 sp_audio_device_get_xruns(const SpAudioDevice *dev)
{
	return dev->xruns;
}

void sp_audio_device_info_free(SpAudioDeviceInfo *info)
{
	if (!info)
		return;
	g_free(info->name);
	g_free(info->description);
	g_free(info);
}

GPtrArray *sp_audio_list_devices(void)
{
	GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)sp_audio_device_info_free);
	void **hints = NULL;

	if (snd_device_name_hint(-1, "pcm", &hints) < 0 || !hints)
		return list;
	for (void **h = hints; *h; h++) {
		char *name = snd_device_name_get_hint(*h, "NAME");
		char *desc = snd_device_name_get_hint(*h, "DESC");
		char *ioid = snd_device_name_get_hint(*h, "IOID");
		SpAudioDeviceInfo *info;

		if (name) {
			info = g_new0(SpAudioDeviceInfo, 1);
			info->name = g_strdup(name);
			/* Descriptions come in lines ("card\nuse"): one line reads better. */
			info->description = g_strdelimit(g_strdup(desc ? desc : ""), "\n", ' ');
			/* No IOID means both directions. */
			info->capture = !ioid || g_str_equal(ioid, "Input");
			info->playback = !ioid || g_str_equal(ioid, "Output");
			g_ptr_array_add(list, info);
		}
		free(name);
		free(desc);
		free(ioid);
	}
	snd_device_name_free_hint(hints);
	return list;
}
