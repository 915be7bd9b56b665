/* Audio codecs over spandsp (G.711, G.722, PLC) and libopus; long gaps fade to silence. */
#include "daemon/media/codec.h"

#include <string.h>

#include <opus.h>
#include <spandsp.h>

GQuark sp_media_error_quark(void)
{
	return g_quark_from_static_string("sp-media-error-quark");
}

/* Opus encoder settings: voice at a modest VBR bitrate, cheap enough for several calls. */
#define OPUS_BITRATE 24000
#define OPUS_COMPLEXITY 5
#define OPUS_LOSS_PERC 10
/* The sub-frame used when the ptime is not one opus frame size (30, 50, 70, 90, 110 ms). */
#define OPUS_SUBFRAME_MS 10

/* Concealment is left alone this long, then ramps down over one ptime, then is silence. */
#define CONCEAL_HOLD_MS 60

/* clang-format off */
static const SpCodecInfo codec_table[] = {
	[SP_CODEC_PCMU] = {
		.id = SP_CODEC_PCMU,
		.name = "PCMU",
		.static_payload_type = 0,
		.default_payload_type = 0,
		.clock_rate = 8000,
		.sample_rate = 8000,
		.sdp_channels = 1,
		.rtpmap = "PCMU/8000",
	},
	[SP_CODEC_PCMA] = {
		.id = SP_CODEC_PCMA,
		.name = "PCMA",
		.static_payload_type = 8,
		.default_payload_type = 8,
		.clock_rate = 8000,
		.sample_rate = 8000,
		.sdp_channels = 1,
		.rtpmap = "PCMA/8000",
	},
	[SP_CODEC_G722] = {
		.id = SP_CODEC_G722,
		.name = "G722",
		.static_payload_type = 9,
		.default_payload_type = 9,
		.clock_rate = 8000,
		.sample_rate = 16000,
		.sdp_channels = 1,
		.rtpmap = "G722/8000",
	},
	[SP_CODEC_OPUS] = {
		.id = SP_CODEC_OPUS,
		.name = "opus",
		.static_payload_type = -1,
		.default_payload_type = 111,
		.clock_rate = 48000,
		.sample_rate = 48000,
		.sdp_channels = 2,
		.rtpmap = "opus/48000/2",
		.fmtp = "minptime=10; useinbandfec=1",
		.has_fec = TRUE,
	},
};
/* clang-format on */

struct _SpCodec {
	const SpCodecInfo *info;
	guint ptime_ms;
	guint frame_samples;

	g711_state_t *g711; /* PCMU/PCMA: stateless in practice, one object for both ways */
	g722_encode_state_t *g722_enc;
	g722_decode_state_t *g722_dec;
	plc_state_t *plc; /* G.711 and G.722 */

	OpusEncoder *opus_enc;
	OpusDecoder *opus_dec;
	OpusRepacketizer *opus_rp; /* only for ptimes that are not one opus frame */
	guint opus_subframes;	   /* frames per packet: 1, or ptime / OPUS_SUBFRAME_MS */

	/* Samples concealed since the last good frame, for the fade. */
	guint64 concealed;
	guint hold_samples;
	guint ramp_samples;
};

const SpCodecInfo *sp_codec_info_get(SpCodecId id)
{
	g_return_val_if_fail((guint)id < G_N_ELEMENTS(codec_table), NULL);
	return &codec_table[id];
}

const SpCodecInfo *sp_codec_info_nth(guint i)
{
	return i < G_N_ELEMENTS(codec_table) ? &codec_table[i] : NULL;
}

const SpCodecInfo *sp_codec_info_lookup(const char *name)
{
	if (!name)
		return NULL;
	for (guint i = 0; i < G_N_ELEMENTS(codec_table); i++)
		if (g_ascii_strcasecmp(name, codec_table[i].name) == 0)
			return &codec_table[i];
	return NULL;
}

guint32 sp_codec_info_samples_to_rtp(const SpCodecInfo *info, guint samples)
{
	g_return_val_if_fail(info, 0);
	return (guint32)((guint64)samples * info->clock_rate / info->sample_rate);
}

guint sp_codec_info_rtp_to_samples(const SpCodecInfo *info, guint32 rtp_units)
{
	g_return_val_if_fail(info, 0);
	return (guint)((guint64)rtp_units * info->sample_rate / info->clock_rate);
}

gint sp_codec_info_payload_samples(const SpCodecInfo *info, const guint8 *payload, gsize len)
{
	g_return_val_if_fail(info, -1);
	if (!payload || len == 0 || len > G_MAXINT32)
		return -1;
	switch (info->id) {
	case SP_CODEC_PCMU:
	case SP_CODEC_PCMA:
		return len > SP_CODEC_MAX_FRAME_SAMPLES ? -1 : (gint)len;
	case SP_CODEC_G722:
		return len > SP_CODEC_MAX_FRAME_SAMPLES / 2 ? -1 : (gint)len * 2;
	case SP_CODEC_OPUS: {
		int n = opus_packet_get_nb_samples(payload, (opus_int32)len, 48000);
		return n > 0 ? n : -1;
	}
	}
	return -1;
}

void sp_codec_free(SpCodec *codec)
{
	if (!codec)
		return;
	if (codec->g711)
		g711_free(codec->g711);
	if (codec->g722_enc)
		g722_encode_free(codec->g722_enc);
	if (codec->g722_dec)
		g722_decode_free(codec->g722_dec);
	if (codec->plc)
		plc_free(codec->plc);
	if (codec->opus_enc)
		opus_encoder_destroy(codec->opus_enc);
	if (codec->opus_dec)
		opus_decoder_destroy(codec->opus_dec);
	if (codec->opus_rp)
		opus_repacketizer_destroy(codec->opus_rp);
	g_free(codec);
}

static gboolean opus_frame_ms_ok(guint ms)
{
	switch (ms) {
	case 10:
	case 20:
	case 40:
	case 60:
	case 80:
	case 100:
	case 120:
		return TRUE;
	default:
		return FALSE;
	}
}

static gboolean codec_open_opus(SpCodec *codec, GError **error)
{
	int err;

	if (codec->ptime_ms % OPUS_SUBFRAME_MS != 0) {
		g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_INVALID_ARGS,
			    "opus cannot send %u ms packets (multiples of 10 ms only)",
			    codec->ptime_ms);
		return FALSE;
	}
	codec->opus_enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
	if (err != OPUS_OK)
		goto fail;
	if (opus_encoder_ctl(codec->opus_enc, OPUS_SET_BITRATE(OPUS_BITRATE)) != OPUS_OK ||
	    opus_encoder_ctl(codec->opus_enc, OPUS_SET_COMPLEXITY(OPUS_COMPLEXITY)) != OPUS_OK ||
	    opus_encoder_ctl(codec->opus_enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)) != OPUS_OK ||
	    opus_encoder_ctl(codec->opus_enc, OPUS_SET_INBAND_FEC(1)) != OPUS_OK ||
	    opus_encoder_ctl(codec->opus_enc, OPUS_SET_PACKET_LOSS_PERC(OPUS_LOSS_PERC)) !=
		OPUS_OK) {
		err = OPUS_INTERNAL_ERROR;
		goto fail;
	}
	codec->opus_dec = opus_decoder_create(48000, 1, &err);
	if (err != OPUS_OK)
		goto fail;
	if (opus_frame_ms_ok(codec->ptime_ms)) {
		codec->opus_subframes = 1;
	} else {
		codec->opus_subframes = codec->ptime_ms / OPUS_SUBFRAME_MS;
		codec->opus_rp = opus_repacketizer_create();
		if (!codec->opus_rp) {
			err = OPUS_ALLOC_FAIL;
			goto fail;
		}
	}
	return TRUE;

fail:
	g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_FAILED, "opus: %s", opus_strerror(err));
	return FALSE;
}

SpCodec *sp_codec_new(const char *name, guint ptime_ms, GError **error)
{
	const SpCodecInfo *info = sp_codec_info_lookup(name);
	g_autoptr(SpCodec) codec = NULL;

	if (!info) {
		g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_UNSUPPORTED, "unknown codec '%s'",
			    name ? name : "(null)");
		return NULL;
	}
	if (ptime_ms < SP_CODEC_MIN_PTIME_MS || ptime_ms > SP_CODEC_MAX_PTIME_MS) {
		g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_INVALID_ARGS,
			    "ptime %u ms out of range %u..%u", ptime_ms, SP_CODEC_MIN_PTIME_MS,
			    SP_CODEC_MAX_PTIME_MS);
		return NULL;
	}

	codec = g_new0(SpCodec, 1);
	codec->info = info;
	codec->ptime_ms = ptime_ms;
	codec->frame_samples = ptime_ms * info->sample_rate / 1000;
	codec->hold_samples = CONCEAL_HOLD_MS * info->sample_rate / 1000;
	codec->ramp_samples = codec->frame_samples;

	switch (info->id) {
	case SP_CODEC_PCMU:
	case SP_CODEC_PCMA:
		codec->g711 = g711_init(NULL, info->id == SP_CODEC_PCMU ? G711_ULAW : G711_ALAW);
		codec->plc = plc_init(NULL);
		if (!codec->g711 || !codec->plc)
			goto fail;
		break;
	case SP_CODEC_G722:
		codec->g722_enc = g722_encode_init(NULL, 64000, 0);
		codec->g722_dec = g722_decode_init(NULL, 64000, 0);
		codec->plc = plc_init(NULL);
		if (!codec->g722_enc || !codec->g722_dec || !codec->plc)
			goto fail;
		break;
	case SP_CODEC_OPUS:
		if (!codec_open_opus(codec, error))
			return NULL;
		break;
	}
	return g_steal_pointer(&codec);

fail:
	g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_FAILED, "%s: cannot set up the codec",
		    info->name);
	return NULL;
}

const SpCodecInfo *sp_codec_get_info(const SpCodec *codec)
{
	g_return_val_if_fail(codec, NULL);
	return codec->info;
}

guint sp_codec_get_ptime(const SpCodec *codec)
{
	g_return_val_if_fail(codec, 0);
	return codec->ptime_ms;
}

guint sp_codec_get_frame_samples(const SpCodec *codec)
{
	g_return_val_if_fail(codec, 0);
	return codec->frame_samples;
}

guint32 sp_codec_get_frame_rtp_units(const SpCodec *codec)
{
	g_return_val_if_fail(codec, 0);
	return sp_codec_info_samples_to_rtp(codec->info, codec->frame_samples);
}

gint sp_codec_payload_samples(const SpCodec *codec, const guint8 *payload, gsize len)
{
	g_return_val_if_fail(codec, -1);
	return sp_codec_info_payload_samples(codec->info, payload, len);
}

/*
 * A ptime that is no opus frame size: several 10 ms frames joined into one packet. The
 * repacketizer needs every frame to share one TOC (mode and bandwidth), so the bandwidth the
 * first frame got is imposed on the others. Should the mode still change (not seen with voice,
 * noise, tones and silence at 24 kbit/s), the packet fails and -1 is returned.
 */
static gint encode_opus_multi(SpCodec *codec, const gint16 *pcm, guint8 *out, gsize out_cap)
{
	guint sub_samples = OPUS_SUBFRAME_MS * 48;
	/* A 10 ms frame at 24 kbit/s is ~30 bytes; 1275 is opus's ceiling for one frame. */
	guint8 frames[SP_CODEC_MAX_PTIME_MS / OPUS_SUBFRAME_MS][1275 / 4];
	int bandwidth;
	gint ret = -1;

	opus_repacketizer_init(codec->opus_rp);
	for (guint i = 0; i < codec->opus_subframes; i++) {
		opus_int32 n = opus_encode(codec->opus_enc, pcm + i * sub_samples, (int)sub_samples,
					   frames[i], sizeof(frames[i]));
		if (n < 0)
			goto out;
		/* The TOC's bandwidth, not OPUS_GET_BANDWIDTH: they differ across a switch. */
		if (i == 0 && (bandwidth = opus_packet_get_bandwidth(frames[0])) > 0)
			opus_encoder_ctl(codec->opus_enc, OPUS_SET_BANDWIDTH(bandwidth));
		if (opus_repacketizer_cat(codec->opus_rp, frames[i], n) != OPUS_OK)
			goto out;
	}
	ret = opus_repacketizer_out(codec->opus_rp, out, (opus_int32)MIN(out_cap, G_MAXINT32));
	if (ret < 0)
		ret = -1;
out:
	opus_encoder_ctl(codec->opus_enc, OPUS_SET_BANDWIDTH(OPUS_AUTO));
	return ret;
}

gint sp_codec_encode(SpCodec *codec, const gint16 *pcm, guint n_samples, guint8 *out, gsize out_cap)
{
	g_return_val_if_fail(codec && pcm && out, -1);
	if (n_samples != codec->frame_samples)
		return -1;

	switch (codec->info->id) {
	case SP_CODEC_PCMU:
	case SP_CODEC_PCMA:
		if (out_cap < n_samples)
			return -1;
		return g711_encode(codec->g711, out, pcm, (int)n_samples);
	case SP_CODEC_G722:
		if (out_cap < n_samples / 2)
			return -1;
		return g722_encode(codec->g722_enc, out, pcm, (int)n_samples);
	case SP_CODEC_OPUS:
		if (codec->opus_subframes == 1) {
			opus_int32 n = opus_encode(codec->opus_enc, pcm, (int)n_samples, out,
						   (opus_int32)MIN(out_cap, G_MAXINT32));
			return n < 0 ? -1 : n;
		}
		return encode_opus_multi(codec, pcm, out, out_cap);
	}
	return -1;
}

/* A good frame (decoded or recovered): the next loss starts a fresh concealment run. */
static void codec_good_frame(SpCodec *codec)
{
	codec->concealed = 0;
}

gint sp_codec_decode(SpCodec *codec, const guint8 *payload, gsize len, gint16 *pcm, guint pcm_cap)
{
	gint n;

	g_return_val_if_fail(codec && pcm, -1);
	n = sp_codec_info_payload_samples(codec->info, payload, len);
	if (n < 0 || (guint)n > pcm_cap)
		return -1;

	switch (codec->info->id) {
	case SP_CODEC_PCMU:
	case SP_CODEC_PCMA:
		n = g711_decode(codec->g711, pcm, payload, (int)len);
		plc_rx(codec->plc, pcm, n);
		break;
	case SP_CODEC_G722:
		n = g722_decode(codec->g722_dec, pcm, payload, (int)len);
		plc_rx(codec->plc, pcm, n);
		break;
	case SP_CODEC_OPUS:
		n = opus_decode(codec->opus_dec, payload, (opus_int32)len, pcm, (int)pcm_cap, 0);
		if (n < 0)
			return -1;
		break;
	}
	codec_good_frame(codec);
	return n;
}

/*
 * The wrapper's own fade over whatever the PLC made: gain 1 for hold_samples, then a linear
 * ramp to 0 over ramp_samples, then 0. spandsp's PLC already fades out within 50 ms at 8 kHz
 * (25 ms at 16 kHz), opus's more slowly; this makes the end of a long gap the same for all.
 */
static void conceal_fade(SpCodec *codec, gint16 *pcm, guint n_samples)
{
	guint64 start = codec->concealed;
	guint64 ramp_end = (guint64)codec->hold_samples + codec->ramp_samples;

	for (guint i = 0; i < n_samples; i++) {
		guint64 pos = start + i;

		if (pos < codec->hold_samples)
			continue;
		if (pos >= ramp_end) {
			memset(pcm + i, 0, (n_samples - i) * sizeof(*pcm));
			break;
		}
		pcm[i] = (gint16)((gint64)pcm[i] * (gint64)(ramp_end - pos) /
				  (gint64)codec->ramp_samples);
	}
	codec->concealed += n_samples;
}

gint sp_codec_conceal(SpCodec *codec, gint16 *pcm, guint n_samples)
{
	g_return_val_if_fail(codec && pcm, -1);
	if (n_samples == 0)
		return 0;

	switch (codec->info->id) {
	case SP_CODEC_PCMU:
	case SP_CODEC_PCMA:
	case SP_CODEC_G722:
		plc_fillin(codec->plc, pcm, (int)n_samples);
		break;
	case SP_CODEC_OPUS:
		if (n_samples % 120 != 0)
			return -1;
		for (guint done = 0; done < n_samples;) {
			guint chunk = MIN(n_samples - done, SP_CODEC_MAX_FRAME_SAMPLES);
			int n = opus_decode(codec->opus_dec, NULL, 0, pcm + done, (int)chunk, 0);

			if (n <= 0)
				return -1;
			done += (guint)n;
		}
		break;
	}
	conceal_fade(codec, pcm, n_samples);
	return (gint)n_samples;
}

gint sp_codec_decode_fec(SpCodec *codec, const guint8 *next_payload, gsize len, gint16 *pcm,
			 guint n_samples)
{
	int n;

	g_return_val_if_fail(codec && pcm, -1);
	if (codec->info->id != SP_CODEC_OPUS || !next_payload || len == 0 || len > G_MAXINT32 ||
	    n_samples == 0 || n_samples % 120 != 0 || n_samples > SP_CODEC_MAX_FRAME_SAMPLES)
		return -1;
	if (opus_packet_get_nb_samples(next_payload, (opus_int32)len, 48000) <= 0)
		return -1;
	n = opus_decode(codec->opus_dec, next_payload, (opus_int32)len, pcm, (int)n_samples, 1);
	if (n != (int)n_samples)
		return -1;
	codec_good_frame(codec);
	return n;
}

void sp_codec_reset_decoder(SpCodec *codec)
{
	g_return_if_fail(codec);
	switch (codec->info->id) {
	case SP_CODEC_PCMU:
	case SP_CODEC_PCMA:
		plc_init(codec->plc);
		break;
	case SP_CODEC_G722:
		g722_decode_init(codec->g722_dec, 64000, 0);
		plc_init(codec->plc);
		break;
	case SP_CODEC_OPUS:
		opus_decoder_ctl(codec->opus_dec, OPUS_RESET_STATE);
		break;
	}
	codec->concealed = 0;
}
