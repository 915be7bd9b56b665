/* Unit tests of the codecs, their concealment, the resampler and inband DTMF (daemon/media). */
#include <math.h>
#include <string.h>

#include <glib.h>
#include <opus.h>

#include "daemon/media/codec.h"
#include "daemon/media/dtmf-inband.h"
#include "daemon/media/resample.h"

#define TONE_HZ 1000.0
#define OTHER_HZ 2500.0 /* no harmonic of TONE_HZ, below every Nyquist */
#define TONE_AMP 8000.0

/* The amplitude of freq in x[0..n), by Goertzel; exact for a whole number of cycles. */
static double goertzel(const gint16 *x, guint n, double freq, double rate)
{
	double coeff = 2.0 * cos(2.0 * G_PI * freq / rate);
	double s1 = 0.0, s2 = 0.0;

	for (guint i = 0; i < n; i++) {
		double s0 = x[i] + coeff * s1 - s2;

		s2 = s1;
		s1 = s0;
	}
	return 2.0 * sqrt(MAX(s1 * s1 + s2 * s2 - coeff * s1 * s2, 0.0)) / n;
}

static double peak(const gint16 *x, guint n)
{
	double m = 0.0;

	for (guint i = 0; i < n; i++)
		m = MAX(m, fabs((double)x[i]));
	return m;
}

/* A continuous sine: sample index i of the whole signal. */
static void sine(gint16 *x, guint n, guint64 first, double freq, double rate, double amp)
{
	for (guint i = 0; i < n; i++)
		x[i] = (gint16)lrint(amp * sin(2.0 * G_PI * freq * (double)(first + i) / rate));
}

/* Encodes a sine frame by frame and decodes each payload; returns the decoded signal. */
typedef struct {
	SpCodec *codec;
	guint rate;
	guint frame;
	guint64 sent; /* samples encoded so far */
	guint8 payload[SP_CODEC_MAX_PAYLOAD];
	gint payload_len;
} Tone;

static void tone_init(Tone *t, const char *name, guint ptime)
{
	g_autoptr(GError) error = NULL;

	memset(t, 0, sizeof(*t));
	t->codec = sp_codec_new(name, ptime, &error);
	g_assert_no_error(error);
	g_assert_nonnull(t->codec);
	t->rate = sp_codec_get_info(t->codec)->sample_rate;
	t->frame = sp_codec_get_frame_samples(t->codec);
	g_assert_cmpuint(t->frame, ==, ptime * t->rate / 1000);
}

/* Encodes the next frame into t->payload. */
static void tone_encode(Tone *t)
{
	gint16 pcm[SP_CODEC_MAX_FRAME_SAMPLES];

	sine(pcm, t->frame, t->sent, TONE_HZ, t->rate, TONE_AMP);
	t->sent += t->frame;
	t->payload_len = sp_codec_encode(t->codec, pcm, t->frame, t->payload, sizeof(t->payload));
	g_assert_cmpint(t->payload_len, >, 0);
}

/* Decodes t->payload and checks it is one frame long. */
static void tone_decode(Tone *t, gint16 *out)
{
	gint n = sp_codec_decode(t->codec, t->payload, (gsize)t->payload_len, out,
				 SP_CODEC_MAX_FRAME_SAMPLES);

	g_assert_cmpint(n, ==, (gint)t->frame);
	g_assert_cmpint(sp_codec_payload_samples(t->codec, t->payload, (gsize)t->payload_len), ==,
			n);
}

static void tone_clear(Tone *t)
{
	g_clear_pointer(&t->codec, sp_codec_free);
}

/* Frames to skip before measuring: opus's look-ahead and start-up, G.722's QMF settling. */
static guint settle_frames(const Tone *t)
{
	return (100 + sp_codec_get_ptime(t->codec) - 1) / sp_codec_get_ptime(t->codec);
}

static void test_info(void)
{
	const SpCodecInfo *pcmu = sp_codec_info_lookup("pcmu");
	const SpCodecInfo *g722 = sp_codec_info_lookup("g722");
	const SpCodecInfo *opus = sp_codec_info_lookup("OPUS");
	const SpCodecInfo *pcma = sp_codec_info_lookup("PCMA");
	guint n = 0;

	g_assert_nonnull(pcmu);
	g_assert_nonnull(pcma);
	g_assert_nonnull(g722);
	g_assert_nonnull(opus);
	g_assert_null(sp_codec_info_lookup("G729"));
	g_assert_null(sp_codec_info_lookup(NULL));
	g_assert_null(sp_codec_info_lookup(""));

	g_assert_cmpstr(pcmu->name, ==, "PCMU");
	g_assert_cmpint(pcmu->static_payload_type, ==, 0);
	g_assert_cmpuint(pcmu->clock_rate, ==, 8000);
	g_assert_cmpuint(pcmu->sample_rate, ==, 8000);
	g_assert_cmpstr(pcmu->rtpmap, ==, "PCMU/8000");
	g_assert_cmpint(pcma->static_payload_type, ==, 8);
	g_assert_cmpstr(pcma->rtpmap, ==, "PCMA/8000");

	g_assert_cmpstr(g722->name, ==, "G722");
	g_assert_cmpint(g722->static_payload_type, ==, 9);
	g_assert_cmpuint(g722->clock_rate, ==, 8000);
	g_assert_cmpuint(g722->sample_rate, ==, 16000);
	g_assert_cmpstr(g722->rtpmap, ==, "G722/8000");
	g_assert_cmpuint(sp_codec_info_samples_to_rtp(g722, 320), ==, 160);
	g_assert_cmpuint(sp_codec_info_rtp_to_samples(g722, 160), ==, 320);

	g_assert_cmpstr(opus->name, ==, "opus");
	g_assert_cmpint(opus->static_payload_type, ==, -1);
	g_assert_cmpuint(opus->default_payload_type, ==, 111);
	g_assert_cmpuint(opus->clock_rate, ==, 48000);
	g_assert_cmpuint(opus->sample_rate, ==, 48000);
	g_assert_cmpuint(opus->sdp_channels, ==, 2);
	g_assert_cmpstr(opus->rtpmap, ==, "opus/48000/2");
	g_assert_nonnull(strstr(opus->fmtp, "useinbandfec=1"));
	g_assert_true(opus->has_fec);
	g_assert_cmpuint(sp_codec_info_samples_to_rtp(opus, 960), ==, 960);
	g_assert_cmpuint(sp_codec_info_samples_to_rtp(pcmu, 160), ==, 160);

	for (const SpCodecInfo *i; (i = sp_codec_info_nth(n)); n++)
		g_assert_true(sp_codec_info_get(i->id) == i);
	g_assert_cmpuint(n, ==, 4);
}

static void test_new_errors(void)
{
	GError *error = NULL;

	g_assert_null(sp_codec_new("G729", 20, &error));
	g_assert_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_UNSUPPORTED);
	g_clear_error(&error);
	g_assert_null(sp_codec_new("PCMU", 5, &error));
	g_assert_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_INVALID_ARGS);
	g_clear_error(&error);
	g_assert_null(sp_codec_new("PCMA", 500, &error));
	g_assert_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_INVALID_ARGS);
	g_clear_error(&error);
	g_assert_null(sp_codec_new("opus", 25, &error));
	g_assert_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_INVALID_ARGS);
	g_clear_error(&error);
	sp_codec_free(NULL);
}

/* 1 s of tone through the codec at ptime: the tone keeps its level, nothing appears elsewhere. */
static void check_tone(const char *name, guint ptime)
{
	Tone t;
	gint16 out[SP_CODEC_MAX_FRAME_SAMPLES];
	guint frames, measured = 0;
	double amp = 0.0, other = 0.0;
	gsize bytes = 0;

	tone_init(&t, name, ptime);
	frames = 1000 / ptime;
	for (guint f = 0; f < frames; f++) {
		tone_encode(&t);
		bytes += (gsize)t.payload_len;
		switch (sp_codec_get_info(t.codec)->id) {
		case SP_CODEC_PCMU:
		case SP_CODEC_PCMA:
			g_assert_cmpint(t.payload_len, ==, (gint)(8 * ptime));
			break;
		case SP_CODEC_G722:
			g_assert_cmpint(t.payload_len, ==, (gint)(8 * ptime));
			break;
		case SP_CODEC_OPUS:
			/* 24 kbit/s VBR: about 3 bytes per ms, never near the 1275 byte limit. */
			g_assert_cmpint(t.payload_len, >=, 10);
			g_assert_cmpint(t.payload_len, <=, (gint)(12 * ptime));
			break;
		}
		tone_decode(&t, out);
		if (f < settle_frames(&t))
			continue;
		/* 10 ms blocks hold whole cycles of both frequencies at every rate. */
		for (guint b = 0; b + t.rate / 100 <= t.frame; b += t.rate / 100) {
			amp += goertzel(out + b, t.rate / 100, TONE_HZ, t.rate);
			other += goertzel(out + b, t.rate / 100, OTHER_HZ, t.rate);
			measured++;
		}
	}
	amp /= measured;
	other /= measured;
	g_test_message("%s %u ms: tone %.0f (sent %.0f), at %.0f Hz %.0f, %.1f kbit/s", name, ptime,
		       amp, TONE_AMP, OTHER_HZ, other, bytes * 8.0 / 1000.0);
	g_assert_cmpfloat(amp, >, 0.8 * TONE_AMP);
	g_assert_cmpfloat(amp, <, 1.2 * TONE_AMP);
	g_assert_cmpfloat(other, <, 0.03 * TONE_AMP);
	tone_clear(&t);
}

static void test_tone(gconstpointer data)
{
	check_tone(data, 20);
}

static void test_ptimes(gconstpointer data)
{
	static const guint ptimes[] = {10, 30, 60};

	for (guint i = 0; i < G_N_ELEMENTS(ptimes); i++)
		check_tone(data, ptimes[i]);
}

/* Runs the tone for settle + 10 frames; returns the level of the last good frame. */
static double tone_run(Tone *t, guint frames)
{
	gint16 out[SP_CODEC_MAX_FRAME_SAMPLES];

	for (guint f = 0; f < frames; f++) {
		tone_encode(t);
		tone_decode(t, out);
	}
	return goertzel(out, t->frame, TONE_HZ, t->rate);
}

/* One frame lost in the middle: the concealed frame still carries the tone. */
static void test_plc_one_frame(gconstpointer data)
{
	Tone t;
	gint16 out[SP_CODEC_MAX_FRAME_SAMPLES];
	double before, concealed, after;

	tone_init(&t, data, 20);
	before = tone_run(&t, settle_frames(&t) + 10);
	tone_encode(&t); /* lost */
	g_assert_cmpint(sp_codec_conceal(t.codec, out, t.frame), ==, (gint)t.frame);
	concealed = goertzel(out, t.frame, TONE_HZ, t.rate);
	after = tone_run(&t, 5);
	g_test_message("%s: before %.0f, concealed %.0f, after %.0f", (const char *)data, before,
		       concealed, after);
	g_assert_cmpfloat(concealed, >, 0.5 * before);
	g_assert_cmpfloat(after, >, 0.8 * before);
	tone_clear(&t);
}

/* A 200 ms gap fades out: its last 100 ms are silence; the next good frame sounds again. */
static void test_plc_fade(gconstpointer data)
{
	Tone t;
	gint16 out[SP_CODEC_MAX_FRAME_SAMPLES];
	double before, first = 0.0, after;
	GString *profile = g_string_new(NULL);

	tone_init(&t, data, 20);
	before = tone_run(&t, settle_frames(&t) + 10);
	for (guint f = 0; f < 10; f++) {
		tone_encode(&t); /* lost */
		g_assert_cmpint(sp_codec_conceal(t.codec, out, t.frame), ==, (gint)t.frame);
		if (f == 0)
			first = goertzel(out, t.frame, TONE_HZ, t.rate);
		g_string_append_printf(profile, " %.0f", peak(out, t.frame));
		if (f >= 5)
			g_assert_cmpfloat(peak(out, t.frame), <=, 1.0);
	}
	g_test_message("%s: peaks of 10 concealed 20 ms frames:%s", (const char *)data,
		       profile->str);
	g_string_free(profile, TRUE);
	g_assert_cmpfloat(first, >, 0.3 * before);
	/* A good frame ends the run: after it, a new loss is concealed afresh. */
	tone_run(&t, 3);
	after = tone_run(&t, 1);
	g_assert_cmpfloat(after, >, 0.8 * before);
	tone_encode(&t);
	g_assert_cmpint(sp_codec_conceal(t.codec, out, t.frame), ==, (gint)t.frame);
	g_assert_cmpfloat(goertzel(out, t.frame, TONE_HZ, t.rate), >, 0.3 * before);
	tone_clear(&t);
}

static void test_opus_fec(void)
{
	Tone t;
	gint16 out[SP_CODEC_MAX_FRAME_SAMPLES];
	guint8 lost[SP_CODEC_MAX_PAYLOAD];
	gint lost_len;
	double before, recovered, next;

	tone_init(&t, "opus", 20);
	before = tone_run(&t, settle_frames(&t) + 10);
	tone_encode(&t);
	memcpy(lost, t.payload, (gsize)t.payload_len);
	lost_len = t.payload_len;
	tone_encode(&t); /* the next packet, which carries the lost one's LBRR */
	g_assert_cmpint(sp_codec_decode_fec(t.codec, t.payload, (gsize)t.payload_len, out, t.frame),
			==, (gint)t.frame);
	recovered = goertzel(out, t.frame, TONE_HZ, t.rate);
	tone_decode(&t, out);
	next = goertzel(out, t.frame, TONE_HZ, t.rate);
	g_test_message("opus FEC: before %.0f, recovered %.0f, next %.0f", before, recovered, next);
	/* Well above what concealment gives (about 0.65 here): the LBRR copy was used. */
	g_assert_cmpfloat(recovered, >, 0.85 * before);
	g_assert_cmpfloat(next, >, 0.8 * before);

	/* Bad arguments. */
	g_assert_cmpint(sp_codec_decode_fec(t.codec, lost, (gsize)lost_len, out, 100), ==, -1);
	g_assert_cmpint(sp_codec_decode_fec(t.codec, NULL, 0, out, t.frame), ==, -1);
	tone_clear(&t);

	/* Not for the others. */
	tone_init(&t, "G722", 20);
	tone_encode(&t);
	g_assert_cmpint(sp_codec_decode_fec(t.codec, t.payload, (gsize)t.payload_len, out, t.frame),
			==, -1);
	tone_clear(&t);
}

static void test_decode_bad(void)
{
	static const char *const names[] = {"PCMU", "PCMA", "G722", "opus"};
	/* A code 3 opus packet that claims 0 frames, and one that claims 49. */
	static const guint8 bad_opus[][2] = {{0x03, 0x00}, {0x03, 0x31}};
	guint8 big[SP_CODEC_MAX_FRAME_SAMPLES + 1] = {0};
	gint16 out[SP_CODEC_MAX_FRAME_SAMPLES];

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autoptr(SpCodec) c = sp_codec_new(names[i], 20, NULL);
		gint16 frame[960] = {0};
		guint8 payload[SP_CODEC_MAX_PAYLOAD];

		g_assert_nonnull(c);
		g_assert_cmpint(sp_codec_decode(c, NULL, 0, out, G_N_ELEMENTS(out)), ==, -1);
		g_assert_cmpint(sp_codec_decode(c, big, 0, out, G_N_ELEMENTS(out)), ==, -1);
		g_assert_cmpint(sp_codec_decode(c, big, sizeof(big), out, G_N_ELEMENTS(out)), ==,
				-1);
		/* Too small an output: refused, not overrun. */
		g_assert_cmpint(sp_codec_decode(c, big, 200, out, 10), ==, -1);
		/* Encoding wants exactly one frame and enough room. */
		g_assert_cmpint(sp_codec_encode(c, frame, 7, payload, sizeof(payload)), ==, -1);
		g_assert_cmpint(
		    sp_codec_encode(c, frame, sp_codec_get_frame_samples(c), payload, 0), ==, -1);
	}
	{
		g_autoptr(SpCodec) c = sp_codec_new("opus", 20, NULL);

		for (guint i = 0; i < G_N_ELEMENTS(bad_opus); i++) {
			g_assert_cmpint(sp_codec_payload_samples(c, bad_opus[i], 2), ==, -1);
			g_assert_cmpint(sp_codec_decode(c, bad_opus[i], 2, out, G_N_ELEMENTS(out)),
					==, -1);
		}
		/* Opus concealment needs whole 2.5 ms steps. */
		g_assert_cmpint(sp_codec_conceal(c, out, 100), ==, -1);
		g_assert_cmpint(sp_codec_conceal(c, out, 120), ==, 120);
	}
}

/* Whatever frame size and channel count the far end's opus sends, we decode it, in mono. */
static void test_opus_far_end_frames(void)
{
	static const struct {
		int channels;
		int samples;
	} cases[] = {{1, 120}, {1, 240}, {1, 480}, {2, 960}, {1, 2880}, {2, 5760}};
	g_autoptr(SpCodec) c = sp_codec_new("opus", 20, NULL);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		int err, samples = cases[i].samples, channels = cases[i].channels;
		OpusEncoder *enc =
		    opus_encoder_create(48000, channels, OPUS_APPLICATION_AUDIO, &err);
		g_autofree gint16 *in = g_new0(gint16, (gsize)samples * channels);
		gint16 out[SP_CODEC_MAX_FRAME_SAMPLES];
		guint8 payload[4000];
		double amp = 0.0;
		int len;

		g_assert_cmpint(err, ==, OPUS_OK);
		/* A few packets so the decoder settles; the last one is measured. */
		for (int k = 0; k < 8; k++) {
			for (int s = 0; s < samples; s++)
				for (int ch = 0; ch < channels; ch++)
					in[s * channels + ch] = (gint16)lrint(
					    TONE_AMP * sin(2.0 * G_PI * TONE_HZ *
							   (double)(k * samples + s) / 48000));
			len = opus_encode(enc, in, samples, payload, sizeof(payload));
			g_assert_cmpint(len, >, 0);
			g_assert_cmpint(sp_codec_payload_samples(c, payload, (gsize)len), ==,
					samples);
			g_assert_cmpint(
			    sp_codec_decode(c, payload, (gsize)len, out, G_N_ELEMENTS(out)), ==,
			    samples);
		}
		/* Frames of 10 ms or more hold whole cycles of the tone. */
		if (samples >= 480) {
			amp = goertzel(out, (guint)samples, TONE_HZ, 48000);
			g_assert_cmpfloat(amp, >, 0.7 * TONE_AMP);
		}
		opus_encoder_destroy(enc);
	}
}

static void test_reset_decoder(gconstpointer data)
{
	Tone t;

	tone_init(&t, data, 20);
	tone_run(&t, 10);
	sp_codec_reset_decoder(t.codec);
	g_assert_cmpfloat(tone_run(&t, settle_frames(&t) + 2), >, 0.8 * TONE_AMP);
	tone_clear(&t);
}

/* A 1 kHz tone through a rate change keeps its frequency and level. */
static void check_resample(guint in_rate, guint out_rate)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(SpResampler) r = sp_resampler_new(in_rate, out_rate, &error);
	guint in_frame = in_rate / 50, out_frame = out_rate / 50;
	g_autofree gint16 *in = g_new(gint16, in_frame);
	g_autofree gint16 *out = g_new(gint16, sp_resampler_max_output(r, in_frame));
	double amp = 0.0, other = 0.0, latency;
	guint measured = 0;
	guint64 total = 0;

	g_assert_no_error(error);
	g_assert_cmpuint(sp_resampler_get_in_rate(r), ==, in_rate);
	g_assert_cmpuint(sp_resampler_get_out_rate(r), ==, out_rate);
	for (guint f = 0; f < 50; f++) {
		gint n;

		sine(in, in_frame, (guint64)f * in_frame, TONE_HZ, in_rate, TONE_AMP);
		n = sp_resampler_process(r, in, in_frame, out,
					 sp_resampler_max_output(r, in_frame));
		g_assert_cmpint(n, >=, (gint)out_frame - 1);
		g_assert_cmpint(n, <=, (gint)out_frame + 1);
		total += (guint)n;
		if (f < 2 || (guint)n < out_frame)
			continue;
		amp += goertzel(out, out_frame, TONE_HZ, out_rate);
		other += goertzel(out, out_frame, OTHER_HZ, out_rate);
		measured++;
	}
	amp /= measured;
	other /= measured;
	latency = sp_resampler_get_latency_ms(r);
	g_test_message("%u -> %u: tone %.0f, at %.0f Hz %.0f, latency %.2f ms", in_rate, out_rate,
		       amp, OTHER_HZ, other, latency);
	/* In the long run the output rate is exact. */
	g_assert_cmpuint(total, <=, 50 * (guint64)out_frame);
	g_assert_cmpuint(total + 2, >=, 50 * (guint64)out_frame);
	g_assert_cmpfloat(amp, >, 0.9 * TONE_AMP);
	g_assert_cmpfloat(amp, <, 1.1 * TONE_AMP);
	g_assert_cmpfloat(other, <, 0.02 * TONE_AMP);
	g_assert_cmpfloat(latency, >, 0.0);
	g_assert_cmpfloat(latency, <, 5.0);
}

static void test_resample_up(void)
{
	check_resample(8000, 48000);
}

static void test_resample_down(void)
{
	check_resample(48000, 16000);
}

static void test_resample_passthrough(void)
{
	g_autoptr(SpResampler) r = sp_resampler_new(16000, 16000, NULL);
	gint16 in[320], out[320];

	sine(in, 320, 0, TONE_HZ, 16000, TONE_AMP);
	g_assert_cmpint(sp_resampler_process(r, in, 320, out, 320), ==, 320);
	g_assert_cmpmem(in, sizeof(in), out, sizeof(out));
	g_assert_cmpint(sp_resampler_process(r, in, 320, out, 100), ==, -1);
	g_assert_cmpfloat(sp_resampler_get_latency_ms(r), ==, 0.0);
	g_assert_null(sp_resampler_new(0, 8000, NULL));
	g_assert_null(sp_resampler_new(8000, 1000000, NULL));
	sp_resampler_free(NULL);
}

typedef struct {
	GString *digits;
	GArray *durations;
} Heard;

static void on_digit(gpointer user_data, char digit, guint duration_ms)
{
	Heard *h = user_data;

	g_string_append_c(h->digits, digit);
	g_array_append_val(h->durations, duration_ms);
}

static void heard_init(Heard *h)
{
	h->digits = g_string_new(NULL);
	h->durations = g_array_new(FALSE, FALSE, sizeof(guint));
}

static void heard_clear(Heard *h)
{
	g_string_free(h->digits, TRUE);
	g_array_unref(h->durations);
}

/* Digits sent inband over PCMU come back as the same digits with their length. */
static void test_dtmf_roundtrip(void)
{
	g_autoptr(SpDtmfGenerator) gen = sp_dtmf_generator_new(100, 70);
	g_autoptr(SpCodec) c = sp_codec_new("PCMU", 20, NULL);
	g_autoptr(GError) error = NULL;
	Heard h;
	SpDtmfDetector *det;
	guint frames = 0;

	heard_init(&h);
	det = sp_dtmf_detector_new(on_digit, &h);
	g_assert_false(sp_dtmf_generator_is_busy(gen));
	g_assert_true(sp_dtmf_generator_queue(gen, "159#*D", &error));
	g_assert_no_error(error);
	g_assert_true(sp_dtmf_generator_is_busy(gen));
	/* 6 digits of 170 ms are 51 frames of 20 ms; then a few idle ones. */
	for (guint idle = 0; idle < 5 && frames < 200; frames++) {
		gint16 pcm[160], back[160];
		guint8 payload[160];
		guint n = sp_dtmf_generator_fill(gen, pcm, 160);

		if (n == 0)
			idle++;
		g_assert_cmpint(sp_codec_encode(c, pcm, 160, payload, sizeof(payload)), ==, 160);
		g_assert_cmpint(sp_codec_decode(c, payload, 160, back, 160), ==, 160);
		sp_dtmf_detector_feed(det, back, 160);
	}
	g_assert_false(sp_dtmf_generator_is_busy(gen));
	g_assert_cmpuint(frames, >=, 51);
	g_assert_cmpuint(frames, <=, 58);
	g_assert_cmpstr(h.digits->str, ==, "159#*D");
	for (guint i = 0; i < h.durations->len; i++) {
		guint d = g_array_index(h.durations, guint, i);

		g_test_message("digit %c: %u ms", h.digits->str[i], d);
		g_assert_cmpuint(d, >=, 80);
		g_assert_cmpuint(d, <=, 120);
	}
	sp_dtmf_detector_free(det);
	heard_clear(&h);
}

/* The same through the path an opus call takes: 8 kHz -> 48 kHz -> opus -> 48 kHz -> 8 kHz. */
static void test_dtmf_roundtrip_opus(void)
{
	g_autoptr(SpDtmfGenerator) gen = sp_dtmf_generator_new(100, 70);
	g_autoptr(SpCodec) c = sp_codec_new("opus", 20, NULL);
	g_autoptr(SpResampler) up = sp_resampler_new(8000, 48000, NULL);
	g_autoptr(SpResampler) down = sp_resampler_new(48000, 8000, NULL);
	Heard h;
	SpDtmfDetector *det;

	heard_init(&h);
	det = sp_dtmf_detector_new(on_digit, &h);
	g_assert_true(sp_dtmf_generator_queue(gen, "0123456789*#ABCD", NULL));
	for (guint idle = 0, f = 0; idle < 10 && f < 400; f++) {
		gint16 pcm[160], wide[962], back[SP_CODEC_MAX_FRAME_SAMPLES], narrow[162];
		guint8 payload[SP_CODEC_MAX_PAYLOAD];
		gint n, len;

		if (sp_dtmf_generator_fill(gen, pcm, 160) == 0)
			idle++;
		g_assert_cmpint(sp_resampler_process(up, pcm, 160, wide, G_N_ELEMENTS(wide)), ==,
				960);
		len = sp_codec_encode(c, wide, 960, payload, sizeof(payload));
		g_assert_cmpint(len, >, 0);
		g_assert_cmpint(sp_codec_decode(c, payload, (gsize)len, back, G_N_ELEMENTS(back)),
				==, 960);
		n = sp_resampler_process(down, back, 960, narrow, G_N_ELEMENTS(narrow));
		g_assert_cmpint(n, ==, 160);
		sp_dtmf_detector_feed(det, narrow, (guint)n);
	}
	for (guint i = 0; i < h.durations->len; i++)
		g_test_message("digit %c: %u ms", h.digits->str[i],
			       g_array_index(h.durations, guint, i));
	g_assert_cmpstr(h.digits->str, ==, "0123456789*#ABCD");
	/* Opus at 24 kbit/s blurs the tone edges: digits measure 65-90 ms rather than 90-100. */
	for (guint i = 0; i < h.durations->len; i++) {
		g_assert_cmpuint(g_array_index(h.durations, guint, i), >=, 50);
		g_assert_cmpuint(g_array_index(h.durations, guint, i), <=, 120);
	}
	sp_dtmf_detector_free(det);
	heard_clear(&h);
}

/* Signals that are no DTMF give no digit: a pure tone, white noise, a voiced vowel. */
static void test_dtmf_no_false_digits(void)
{
	Heard h;
	SpDtmfDetector *det;
	g_autoptr(GRand) rand = g_rand_new_with_seed(4711);
	gint16 pcm[160];

	heard_init(&h);
	det = sp_dtmf_detector_new(on_digit, &h);
	for (guint f = 0; f < 250; f++) { /* 5 s of 440 Hz at -10 dBm0 or so */
		sine(pcm, 160, (guint64)f * 160, 440.0, 8000, 10000.0);
		sp_dtmf_detector_feed(det, pcm, 160);
	}
	for (guint f = 0; f < 250; f++) { /* 5 s of white noise */
		for (guint i = 0; i < 160; i++)
			pcm[i] = (gint16)g_rand_int_range(rand, -8000, 8001);
		sp_dtmf_detector_feed(det, pcm, 160);
	}
	for (guint f = 0; f < 250; f++) { /* 5 s of a 120 Hz harmonic buzz, falling 6 dB/octave */
		for (guint i = 0; i < 160; i++) {
			double t = (double)(f * 160 + i) / 8000.0, v = 0.0;

			for (guint k = 1; k * 120 < 3800; k++)
				v += 6000.0 / k * sin(2.0 * G_PI * 120.0 * k * t);
			pcm[i] = (gint16)CLAMP(lrint(v), -32768, 32767);
		}
		sp_dtmf_detector_feed(det, pcm, 160);
	}
	g_assert_cmpstr(h.digits->str, ==, "");
	sp_dtmf_detector_free(det);
	heard_clear(&h);
}

static void test_dtmf_generator(void)
{
	g_autoptr(SpDtmfGenerator) gen = sp_dtmf_generator_new(100, 70);
	g_autoptr(GError) error = NULL;
	gint16 pcm[160];
	guint total = 0;

	g_assert_false(sp_dtmf_generator_queue(gen, "12x", &error));
	g_assert_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_INVALID_ARGS);
	g_clear_error(&error);
	g_assert_false(sp_dtmf_generator_is_busy(gen));
	g_assert_cmpuint(sp_dtmf_generator_fill(gen, pcm, 160), ==, 0);
	g_assert_cmpfloat(peak(pcm, 160), ==, 0.0);

	/* One digit: 100 ms of tone and 70 ms of gap, 1360 samples. */
	g_assert_true(sp_dtmf_generator_queue(gen, "a", NULL));
	for (guint f = 0; f < 20 && sp_dtmf_generator_is_busy(gen); f++) {
		guint n = sp_dtmf_generator_fill(gen, pcm, 160);

		if (f == 0) {
			/* -10 dBm0 per tone is about 7000 peak each, so below 16000 for both. */
			g_assert_cmpfloat(peak(pcm, 160), >, 8000.0);
			g_assert_cmpfloat(peak(pcm, 160), <, 16000.0);
		}
		total += n;
	}
	g_test_message("one digit: %u samples", total);
	g_assert_cmpuint(total, >=, 1360 - 8);
	g_assert_cmpuint(total, <=, 1360 + 8);

	/* Cancel stops at once. */
	g_assert_true(sp_dtmf_generator_queue(gen, "123", NULL));
	g_assert_cmpuint(sp_dtmf_generator_fill(gen, pcm, 160), ==, 160);
	sp_dtmf_generator_cancel(gen);
	g_assert_false(sp_dtmf_generator_is_busy(gen));
	g_assert_cmpuint(sp_dtmf_generator_fill(gen, pcm, 160), ==, 0);

	/* Other timing, and the level kept across the cancel: 60 + 50 ms are 880 samples. */
	sp_dtmf_generator_set_timing(gen, 60, 50);
	g_assert_true(sp_dtmf_generator_queue(gen, "#", NULL));
	total = 0;
	for (guint f = 0; f < 20 && sp_dtmf_generator_is_busy(gen); f++) {
		guint n = sp_dtmf_generator_fill(gen, pcm, 160);

		if (f == 0)
			g_assert_cmpfloat(peak(pcm, 160), <, 16000.0);
		total += n;
	}
	g_assert_cmpuint(total, >=, 880 - 8);
	g_assert_cmpuint(total, <=, 880 + 8);

	/* A queue that would overflow is refused as a whole. */
	{
		g_autofree char *many = g_strnfill(101, '1');

		g_assert_false(sp_dtmf_generator_queue(gen, many, &error));
		g_assert_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_FAILED);
		g_assert_false(sp_dtmf_generator_is_busy(gen));
		many[100] = '\0';
		g_assert_true(sp_dtmf_generator_queue(gen, many, NULL));
		g_assert_false(sp_dtmf_generator_queue(gen, "1", NULL));
	}
}

int main(int argc, char **argv)
{
	static const char *const all[] = {"PCMU", "PCMA", "G722", "opus"};

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/media/codec/info", test_info);
	g_test_add_func("/media/codec/new-errors", test_new_errors);
	for (guint i = 0; i < G_N_ELEMENTS(all); i++) {
		g_autofree char *tone = g_strdup_printf("/media/codec/tone/%s", all[i]);
		g_autofree char *ptimes = g_strdup_printf("/media/codec/ptimes/%s", all[i]);
		g_autofree char *reset = g_strdup_printf("/media/codec/reset/%s", all[i]);

		g_test_add_data_func(tone, all[i], test_tone);
		g_test_add_data_func(ptimes, all[i], test_ptimes);
		g_test_add_data_func(reset, all[i], test_reset_decoder);
	}
	for (guint i = 0; i < G_N_ELEMENTS(all); i++) {
		g_autofree char *one = g_strdup_printf("/media/codec/plc/one-frame/%s", all[i]);
		g_autofree char *fade = g_strdup_printf("/media/codec/plc/fade/%s", all[i]);

		g_test_add_data_func(one, all[i], test_plc_one_frame);
		g_test_add_data_func(fade, all[i], test_plc_fade);
	}
	g_test_add_func("/media/codec/opus/fec", test_opus_fec);
	g_test_add_func("/media/codec/opus/far-end-frames", test_opus_far_end_frames);
	g_test_add_func("/media/codec/decode-bad", test_decode_bad);
	g_test_add_func("/media/resample/up-8k-48k", test_resample_up);
	g_test_add_func("/media/resample/down-48k-16k", test_resample_down);
	g_test_add_func("/media/resample/passthrough", test_resample_passthrough);
	g_test_add_func("/media/dtmf-inband/generator", test_dtmf_generator);
	g_test_add_func("/media/dtmf-inband/roundtrip-pcmu", test_dtmf_roundtrip);
	g_test_add_func("/media/dtmf-inband/roundtrip-opus", test_dtmf_roundtrip_opus);
	g_test_add_func("/media/dtmf-inband/no-false-digits", test_dtmf_no_false_digits);
	return g_test_run();
}
