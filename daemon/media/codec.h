/* Audio codecs (PCMU, PCMA, G.722, opus): RTP facts, and a call's encoder, decoder and PLC. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Errors of the media library (which must not depend on protocol/errors.h). */
#define SP_MEDIA_ERROR (sp_media_error_quark())
GQuark sp_media_error_quark(void);

typedef enum {
	SP_MEDIA_ERROR_FAILED,	     /* a library refused (out of memory, bad state) */
	SP_MEDIA_ERROR_INVALID_ARGS, /* e.g. a ptime the codec cannot frame */
	SP_MEDIA_ERROR_UNSUPPORTED,  /* an unknown codec name */
} SpMediaError;

typedef enum {
	SP_CODEC_PCMU,
	SP_CODEC_PCMA,
	SP_CODEC_G722,
	SP_CODEC_OPUS,
} SpCodecId;

/*
 * What SDP and RTP need to know about a codec. Two rates matter and differ for two codecs:
 * clock_rate is the RTP timestamp rate (G.722 keeps 8000 for historical reasons, RFC 3551 §4.5.2,
 * although it samples at 16000), sample_rate is the rate of the PCM that sp_codec_encode() takes
 * and sp_codec_decode() gives. Opus is always "opus/48000/2" in SDP (RFC 7587 §7) even though we
 * send mono; the fmtp parameters stereo and sprop-stereo default to 0 (mono), so we leave them out.
 */
typedef struct {
	SpCodecId id;
	const char *name;	     /* canonical spelling: "PCMU", "PCMA", "G722", "opus" */
	gint static_payload_type;    /* 0, 8, 9; -1 for opus, whose PT is dynamic */
	guint8 default_payload_type; /* the PT to offer: the static one, or 111 for opus */
	guint clock_rate;	     /* RTP clock: 8000, 8000, 8000, 48000 */
	guint sample_rate;	     /* PCM: 8000, 8000, 16000, 48000 */
	guint sdp_channels;	     /* the channel count in a=rtpmap (2 for opus, else 1) */
	const char *rtpmap;	     /* a=rtpmap encoding: "PCMU/8000", ..., "opus/48000/2" */
	const char *fmtp;	     /* default a=fmtp parameters, or NULL (opus: FEC, minptime) */
	gboolean has_fec;	     /* sp_codec_decode_fec() can recover a lost frame */
} SpCodecInfo;

/* The most PCM samples one payload decodes to: 120 ms of opus at 48 kHz. */
#define SP_CODEC_MAX_FRAME_SAMPLES 5760
/* Enough room for any payload sp_codec_encode() makes (G.711 at 120 ms is 960 bytes). */
#define SP_CODEC_MAX_PAYLOAD 1500
/* The ptimes sp_codec_new() accepts (opus: multiples of 10 ms only). */
#define SP_CODEC_MIN_PTIME_MS 10
#define SP_CODEC_MAX_PTIME_MS 120

/* The codec of that name (case-insensitive: "pcmu", "OPUS", "g722" work), or NULL. */
const SpCodecInfo *sp_codec_info_lookup(const char *name);
const SpCodecInfo *sp_codec_info_get(SpCodecId id);
/* The i-th entry of the table (0..3, in SpCodecId order), NULL past the end: for iteration. */
const SpCodecInfo *sp_codec_info_nth(guint i);

/* A duration in PCM samples as RTP timestamp units and back: G.722 halves, the others are 1:1. */
guint32 sp_codec_info_samples_to_rtp(const SpCodecInfo *info, guint samples);
guint sp_codec_info_rtp_to_samples(const SpCodecInfo *info, guint32 rtp_units);

/*
 * How many PCM samples (at sample_rate) a payload holds, without decoding it: G.711 one per byte,
 * G.722 two per byte, opus from the packet's TOC and frame count (2.5 to 120 ms). -1 for an
 * empty or malformed payload. Stateless, so the jitter buffer can use it with the info alone.
 */
gint sp_codec_info_payload_samples(const SpCodecInfo *info, const guint8 *payload, gsize len);

/*
 * One call's codec: an encoder for what we send and a decoder with its concealment state for
 * what we receive. Used from one thread only; no locking inside.
 *
 * Opus is encoded mono at 48 kHz with OPUS_APPLICATION_VOIP, the voice signal hint, 24 kbit/s
 * VBR, complexity 5, in-band FEC on and an expected loss of 10 % (so that its SILK packets carry
 * a low-rate copy, LBRR, of the previous frame's speech). The decoder is mono and downmixes a
 * stereo far end.
 */
typedef struct _SpCodec SpCodec;

/*
 * A codec by name (as sp_codec_info_lookup) that sends packets of ptime_ms. ptime_ms must lie
 * within SP_CODEC_MIN_PTIME_MS..SP_CODEC_MAX_PTIME_MS; for opus it must also be a multiple of
 * 10 (10, 20, 40, 60, 80, 100, 120 are one opus_encode() call; 30, 50, ... are several 10 ms
 * frames in one packet). NULL with SP_MEDIA_ERROR_UNSUPPORTED or _INVALID_ARGS otherwise.
 * The ptime only concerns sending: the decoder takes whatever the far end sends.
 */
SpCodec *sp_codec_new(const char *name, guint ptime_ms, GError **error);
void sp_codec_free(SpCodec *codec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpCodec, sp_codec_free)

const SpCodecInfo *sp_codec_get_info(const SpCodec *codec);
guint sp_codec_get_ptime(const SpCodec *codec);
/* PCM samples in one frame we send: ptime_ms * sample_rate / 1000 (20 ms: 160, 160, 320, 960). */
guint sp_codec_get_frame_samples(const SpCodec *codec);
/* RTP timestamp advance of one frame we send (20 ms: 160, 160, 160, 960). */
guint32 sp_codec_get_frame_rtp_units(const SpCodec *codec);

/*
 * Encodes exactly one frame (n_samples == sp_codec_get_frame_samples(), S16 mono at the
 * codec's sample_rate) into out. Returns the payload length (20 ms: 160 bytes for G.711 and
 * G.722, about 60 for opus), or -1 if n_samples is wrong, out_cap is too small or the
 * encoder failed. SP_CODEC_MAX_PAYLOAD is always enough.
 */
gint sp_codec_encode(SpCodec *codec, const gint16 *pcm, guint n_samples, guint8 *out,
		     gsize out_cap);

/*
 * Decodes one received payload into pcm (mono S16 at sample_rate; SP_CODEC_MAX_FRAME_SAMPLES is
 * always enough). Returns the number of samples, or -1 when the payload is empty, malformed or
 * larger than pcm_cap (the caller counts it as discarded and may conceal instead). A good frame
 * ends any concealment in progress (and is blended with it by the PLC).
 */
gint sp_codec_decode(SpCodec *codec, const guint8 *payload, gsize len, gint16 *pcm, guint pcm_cap);

/*
 * Fills n_samples of a lost frame (or a gap) into pcm: spandsp's PLC for G.711 (pitch
 * repetition tuned for 8 kHz speech), the same PLC on G.722's 16 kHz signal (an approximation:
 * spandsp's pitch search spans 40-120 samples, i.e. 133-400 Hz at 16 kHz rather than 66-200 Hz,
 * and its fade, counted in samples, ends after 25 ms instead of 50), opus's own concealment for
 * opus. For opus, n_samples must be a multiple of 2.5 ms (120 samples); any n_samples is fine
 * for the others.
 *
 * However the libraries behave, a gap fades to silence: the first 60 ms of consecutive
 * concealment are left as the PLC made them, the next frame (one ptime) ramps down linearly,
 * and after that the output is zeros, until the next good frame. (spandsp's PLC is silent after
 * 50 ms of its own accord; this bounds opus, whose concealment decays more slowly.) Returns
 * n_samples, or -1.
 */
gint sp_codec_conceal(SpCodec *codec, gint16 *pcm, guint n_samples);

/*
 * Recovers a lost frame of n_samples from the FEC (LBRR) data in next_payload, the packet that
 * followed it; the caller then decodes next_payload normally with sp_codec_decode(). Only opus
 * (has_fec): -1 for the others, for a malformed payload, or for an n_samples that is not a
 * multiple of 2.5 ms. When next_payload carries no FEC data (a CELT-only packet, or the far end
 * did not enable it), libopus conceals instead, so the result is never worse than
 * sp_codec_conceal() (opus 1.3 cannot tell which happened). The recovered frame ends a
 * concealment run like a good frame. Returns n_samples, or -1.
 */
gint sp_codec_decode_fec(SpCodec *codec, const guint8 *next_payload, gsize len, gint16 *pcm,
			 guint n_samples);

/* sp_codec_info_payload_samples() for this codec. */
gint sp_codec_payload_samples(const SpCodec *codec, const guint8 *payload, gsize len);

/* Forgets the decoder's history (a new far-end SSRC, or a long pause): decoder and PLC restart. */
void sp_codec_reset_decoder(SpCodec *codec);

G_END_DECLS
