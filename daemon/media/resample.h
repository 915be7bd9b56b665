/* Sample-rate conversion of mono S16 audio between the devices and the codecs (speexdsp). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * One direction of one stream: speexdsp's resampler at quality 3 (its "VoIP" setting), which
 * keeps the voice band flat and costs little CPU. It keeps filter history between calls, so feed
 * it a continuous signal; after a discontinuity (a new call on the same object) call
 * sp_resampler_reset(). When in_rate equals out_rate it copies and adds no latency.
 */
typedef struct _SpResampler SpResampler;

/* Rates from 1000 to 192000 Hz; NULL with SP_MEDIA_ERROR (codec.h) otherwise. */
SpResampler *sp_resampler_new(guint in_rate, guint out_rate, GError **error);
void sp_resampler_free(SpResampler *resampler);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpResampler, sp_resampler_free)

guint sp_resampler_get_in_rate(const SpResampler *resampler);
guint sp_resampler_get_out_rate(const SpResampler *resampler);

/*
 * An out_cap that is always enough for in_len input samples: the exact ratio rounded up, plus
 * a couple of samples for the fractional phase the resampler carries from call to call.
 */
guint sp_resampler_max_output(const SpResampler *resampler, guint in_len);

/*
 * Converts all in_len samples and returns how many were written to out (for a steady 20 ms
 * input, a steady 20 ms output: 160 at 8 kHz gives 960 at 48 kHz every time; for ratios that
 * do not divide a frame, the count varies by one). Returns -1 if out_cap was too small to take
 * everything (some input is then lost); sp_resampler_max_output() avoids that.
 */
gint sp_resampler_process(SpResampler *resampler, const gint16 *in, guint in_len, gint16 *out,
			  guint out_cap);

/*
 * The delay the filter adds, in milliseconds (speexdsp's input latency in input samples, which
 * is about its output latency in output samples): at quality 3, half the filter length, e.g.
 * 3 ms for 8000 -> 48000 and 1.5 ms for 48000 -> 16000; 0 for a passthrough. The stream adds it
 * to its latency budget.
 */
double sp_resampler_get_latency_ms(const SpResampler *resampler);

/* Forgets the filter history (the next output starts as if from silence). */
void sp_resampler_reset(SpResampler *resampler);

G_END_DECLS
