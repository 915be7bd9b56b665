/* Sample-rate conversion over speexdsp's resampler, with a passthrough for equal rates. */
#include "daemon/media/resample.h"

#include <string.h>

#include <speex/speex_resampler.h>

#include "daemon/media/codec.h"

#define RESAMPLE_QUALITY SPEEX_RESAMPLER_QUALITY_VOIP
#define RATE_MIN 1000
#define RATE_MAX 192000

struct _SpResampler {
	guint in_rate;
	guint out_rate;
	SpeexResamplerState *st; /* NULL for a passthrough */
};

SpResampler *sp_resampler_new(guint in_rate, guint out_rate, GError **error)
{
	g_autoptr(SpResampler) r = NULL;
	int err = RESAMPLER_ERR_SUCCESS;

	if (in_rate < RATE_MIN || in_rate > RATE_MAX || out_rate < RATE_MIN ||
	    out_rate > RATE_MAX) {
		g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_INVALID_ARGS,
			    "cannot resample %u Hz to %u Hz", in_rate, out_rate);
		return NULL;
	}
	r = g_new0(SpResampler, 1);
	r->in_rate = in_rate;
	r->out_rate = out_rate;
	if (in_rate != out_rate) {
		r->st = speex_resampler_init(1, in_rate, out_rate, RESAMPLE_QUALITY, &err);
		if (!r->st) {
			g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_FAILED,
				    "resampler %u -> %u Hz: %s", in_rate, out_rate,
				    speex_resampler_strerror(err));
			return NULL;
		}
	}
	return g_steal_pointer(&r);
}

void sp_resampler_free(SpResampler *resampler)
{
	if (!resampler)
		return;
	if (resampler->st)
		speex_resampler_destroy(resampler->st);
	g_free(resampler);
}

guint sp_resampler_get_in_rate(const SpResampler *resampler)
{
	g_return_val_if_fail(resampler, 0);
	return resampler->in_rate;
}

guint sp_resampler_get_out_rate(const SpResampler *resampler)
{
	g_return_val_if_fail(resampler, 0);
	return resampler->out_rate;
}

guint sp_resampler_max_output(const SpResampler *resampler, guint in_len)
{
	g_return_val_if_fail(resampler, 0);
	if (!resampler->st)
		return in_len;
	return (guint)(((guint64)in_len * resampler->out_rate + resampler->in_rate - 1) /
		       resampler->in_rate) +
	       2;
}

gint sp_resampler_process(SpResampler *resampler, const gint16 *in, guint in_len, gint16 *out,
			  guint out_cap)
{
	guint done_in = 0, done_out = 0;

	g_return_val_if_fail(resampler && (in || in_len == 0) && (out || out_cap == 0), -1);
	if (!resampler->st) {
		if (out_cap < in_len)
			return -1;
		if (in_len)
			memmove(out, in, in_len * sizeof(*in));
		return (gint)in_len;
	}
	/* speexdsp may stop short of the input when the output fills; a bounded loop ends it. */
	for (guint round = 0; round < 4 && done_in < in_len; round++) {
		spx_uint32_t n_in = in_len - done_in;
		spx_uint32_t n_out = out_cap - done_out;

		if (speex_resampler_process_int(resampler->st, 0, in + done_in, &n_in,
						out + done_out, &n_out) != RESAMPLER_ERR_SUCCESS)
			return -1;
		done_in += n_in;
		done_out += n_out;
		if (done_out == out_cap || (n_in == 0 && n_out == 0))
			break;
	}
	return done_in == in_len ? (gint)done_out : -1;
}

double sp_resampler_get_latency_ms(const SpResampler *resampler)
{
	g_return_val_if_fail(resampler, 0.0);
	if (!resampler->st)
		return 0.0;
	return 1000.0 * speex_resampler_get_input_latency(resampler->st) / resampler->in_rate;
}

void sp_resampler_reset(SpResampler *resampler)
{
	g_return_if_fail(resampler);
	if (resampler->st)
		speex_resampler_reset_mem(resampler->st);
}
