/* ALSA capture and playback PCMs for the media thread: open, read, write, recover, close. */
#include "daemon/media/alsa-pcm.h"

#include <alsa/asoundlib.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/media/codec.h"

struct _SpAlsaPcm {
	snd_pcm_t *pcm;
	char *name;
	gboolean capture;
	gboolean has_clock;
};

static gboolean alsa_fail(GError **error, const char *name, const char *what, int err)
{
	g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_FAILED, "%s: %s: %s", name, what,
		    snd_strerror(err));
	return FALSE;
}

static gboolean alsa_configure(SpAlsaPcm *p, GError **error)
{
	snd_pcm_hw_params_t *hw;
	snd_pcm_sw_params_t *sw;
	unsigned int rate = SP_ALSA_RATE;
	snd_pcm_uframes_t period = SP_ALSA_PERIOD_FRAMES;
	snd_pcm_uframes_t buffer = SP_ALSA_PERIOD_FRAMES * SP_ALSA_BUFFER_PERIODS;
	int err;

	snd_pcm_hw_params_alloca(&hw);
	snd_pcm_sw_params_alloca(&sw);
	if ((err = snd_pcm_hw_params_any(p->pcm, hw)) < 0 ||
	    (err = snd_pcm_hw_params_set_access(p->pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0 ||
	    (err = snd_pcm_hw_params_set_format(p->pcm, hw, SND_PCM_FORMAT_S16_LE)) < 0 ||
	    (err = snd_pcm_hw_params_set_channels(p->pcm, hw, 1)) < 0 ||
	    (err = snd_pcm_hw_params_set_rate_resample(p->pcm, hw, 1)) < 0 ||
	    (err = snd_pcm_hw_params_set_rate_near(p->pcm, hw, &rate, NULL)) < 0 ||
	    (err = snd_pcm_hw_params_set_period_size_near(p->pcm, hw, &period, NULL)) < 0 ||
	    (err = snd_pcm_hw_params_set_buffer_size_near(p->pcm, hw, &buffer)) < 0 ||
	    (err = snd_pcm_hw_params(p->pcm, hw)) < 0)
		return alsa_fail(error, p->name, "cannot set 48 kHz mono S16_LE", err);
	if (rate != SP_ALSA_RATE) {
		g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_FAILED,
			    "%s: 48000 Hz is not possible (the device offers %u Hz)", p->name,
			    rate);
		return FALSE;
	}
	if ((err = snd_pcm_sw_params_current(p->pcm, sw)) < 0 ||
	    (err = snd_pcm_sw_params_set_start_threshold(p->pcm, sw, p->capture ? 1 : period)) <
		0 ||
	    (err = snd_pcm_sw_params_set_avail_min(p->pcm, sw, period)) < 0 ||
	    (err = snd_pcm_sw_params(p->pcm, sw)) < 0)
		return alsa_fail(error, p->name, "cannot set the software parameters", err);
	return TRUE;
}

/*
 * The null PCM (alone or under a file PCM) has no clock. A real device's capture has nothing to
 * read right after it starts; a clockless one offers its whole buffer at once.
 */
static gboolean alsa_probe_clock(SpAlsaPcm *p)
{
	snd_pcm_type_t type = snd_pcm_type(p->pcm);
	snd_pcm_sframes_t avail;

	if (type == SND_PCM_TYPE_NULL || type == SND_PCM_TYPE_FILE)
		return FALSE;
	if (!p->capture)
		return TRUE;
	avail = snd_pcm_avail(p->pcm);
	return !(avail >= (snd_pcm_sframes_t)(SP_ALSA_PERIOD_FRAMES * SP_ALSA_BUFFER_PERIODS));
}

SpAlsaPcm *sp_alsa_open(const char *name, gboolean capture, GError **error)
{
	SpAlsaPcm *p = g_new0(SpAlsaPcm, 1);
	int err;

	p->name = g_strdup(name);
	p->capture = capture;
	err =
	    snd_pcm_open(&p->pcm, name, capture ? SND_PCM_STREAM_CAPTURE : SND_PCM_STREAM_PLAYBACK,
			 SND_PCM_NONBLOCK);
	if (err < 0) {
		p->pcm = NULL;
		alsa_fail(error, name,
			  capture ? "cannot open for capture" : "cannot open for playback", err);
		sp_alsa_close(p);
		return NULL;
	}
	if (!alsa_configure(p, error)) {
		sp_alsa_close(p);
		return NULL;
	}
	if (capture) {
		err = snd_pcm_start(p->pcm);
		if (err < 0) {
			alsa_fail(error, name, "cannot start capture", err);
			sp_alsa_close(p);
			return NULL;
		}
	} else {
		/* One period of silence ahead, so a real device does not underrun at once. */
		gint16 zeros[SP_ALSA_PERIOD_FRAMES] = {0};

		(void)snd_pcm_writei(p->pcm, zeros, SP_ALSA_PERIOD_FRAMES);
	}
	p->has_clock = alsa_probe_clock(p);
	return p;
}

void sp_alsa_close(SpAlsaPcm *p)
{
	if (p == NULL)
		return;
	if (p->pcm != NULL) {
		snd_pcm_drop(p->pcm);
		snd_pcm_close(p->pcm);
	}
	g_free(p->name);
	g_free(p);
}

const char *sp_alsa_get_name(const SpAlsaPcm *p)
{
	return p->name;
}

gboolean sp_alsa_has_clock(const SpAlsaPcm *p)
{
	return p->has_clock;
}

glong sp_alsa_avail(SpAlsaPcm *p)
{
	return snd_pcm_avail(p->pcm);
}

/* -EPIPE / -ESTRPIPE (and -EINTR) are recovered; anything else, or a failed recovery, is fatal. */
static glong alsa_recover(SpAlsaPcm *p, glong err, guint64 *xruns)
{
	if (err == -EAGAIN)
		return 0;
	if (err == -ESTRPIPE) {
		/* Suspended: try to resume once a tick; snd_pcm_recover() would sleep here. */
		int r = snd_pcm_resume(p->pcm);

		if (r == -EAGAIN)
			return 0;
		(*xruns)++;
		if (r < 0 && snd_pcm_prepare(p->pcm) < 0)
			return err;
	} else {
		if (err == -EPIPE)
			(*xruns)++;
		if (snd_pcm_recover(p->pcm, (int)err, 1) < 0)
			return err;
	}
	if (p->capture)
		snd_pcm_start(p->pcm);
	return 0;
}

glong sp_alsa_read(SpAlsaPcm *p, gint16 *buf, gulong n, guint64 *xruns)
{
	snd_pcm_sframes_t r = snd_pcm_readi(p->pcm, buf, n);

	if (r >= 0)
		return (glong)r;
	return alsa_recover(p, (glong)r, xruns);
}

glong sp_alsa_write(SpAlsaPcm *p, const gint16 *buf, gulong n, guint64 *xruns)
{
	snd_pcm_sframes_t r = snd_pcm_writei(p->pcm, buf, n);

	if (r >= 0)
		return (glong)r;
	r = alsa_recover(p, (glong)r, xruns);
	if (r < 0)
		return (glong)r;
	r = snd_pcm_writei(p->pcm, buf, n);
	return r >= 0 ? (glong)r : (r == -EAGAIN ? 0 : alsa_recover(p, (glong)r, xruns));
}

/* ---- what is there ------------------------------------------------------------------------ */

void sp_alsa_device_info_free(SpAlsaDeviceInfo *info)
{
	if (info == NULL)
		return;
	g_free(info->name);
	g_free(info->description);
	g_free(info);
}

GPtrArray *sp_alsa_list_devices(void)
{
	GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)sp_alsa_device_info_free);
	void **hints = NULL;

	if (snd_device_name_hint(-1, "pcm", &hints) < 0)
		return list;
	for (void **h = hints; *h != NULL; h++) {
		char *name = snd_device_name_get_hint(*h, "NAME");
		char *desc = snd_device_name_get_hint(*h, "DESC");
		char *ioid = snd_device_name_get_hint(*h, "IOID"); /* NULL: both ways */
		SpAlsaDeviceInfo *info;

		if (name == NULL) {
			free(desc);
			free(ioid);
			continue;
		}
		info = g_new0(SpAlsaDeviceInfo, 1);
		info->name = g_strdup(name);
		info->description = g_strdup(desc != NULL ? desc : "");
		info->capture = ioid == NULL || strcmp(ioid, "Input") == 0;
		info->playback = ioid == NULL || strcmp(ioid, "Output") == 0;
		g_ptr_array_add(list, info);
		free(name);
		free(desc);
		free(ioid);
	}
	snd_device_name_free_hint(hints);
	return list;
}

gboolean sp_alsa_probe(const char *name, gboolean capture, GError **error)
{
	snd_pcm_t *pcm = NULL;
	int err;

	if (name == NULL || *name == '\0') {
		g_set_error_literal(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_INVALID_ARGS,
				    "no device name");
		return FALSE;
	}
	err = snd_pcm_open(&pcm, name, capture ? SND_PCM_STREAM_CAPTURE : SND_PCM_STREAM_PLAYBACK,
			   SND_PCM_NONBLOCK);
	if (err == -EBUSY)
		return TRUE;
	if (err < 0)
		return alsa_fail(error, name,
				 capture ? "cannot open for capture" : "cannot open for playback",
				 err);
	snd_pcm_close(pcm);
	return TRUE;
}
