/* Retry schedules of a connection: jittered intervals and exponential back-off (RFC 5626 §4.5). */
#include "daemon/backoff.h"

guint sp_backoff_jitter_ms(guint interval_ms, double uniform)
{
	double u = uniform;
	double wait;

	if (!(u >= 0.0)) /* also NaN */
		u = 0.0;
	if (u > 1.0)
		u = 1.0;
	wait = (double)interval_ms * (0.5 + 0.5 * u);
	if (wait > (double)interval_ms)
		wait = (double)interval_ms;
	return (guint)wait;
}

guint sp_backoff_delay_ms(guint min_ms, guint max_ms, guint attempt, double uniform)
{
	guint64 base = min_ms;
	guint cap = MAX(min_ms, max_ms);

	/* Doubling stops at the cap, so base never exceeds 2 * G_MAXUINT. */
	for (guint i = 0; i < attempt && base < cap; i++)
		base *= 2;
	if (base > cap)
		base = cap;
	return sp_backoff_jitter_ms((guint)base, uniform);
}

static double uniform_from(GRand *rand)
{
	return rand != NULL ? g_rand_double(rand) : g_random_double();
}

guint sp_backoff_random_jitter_ms(GRand *rand, guint interval_ms)
{
	return sp_backoff_jitter_ms(interval_ms, uniform_from(rand));
}

guint sp_backoff_random_delay_ms(GRand *rand, guint min_ms, guint max_ms, guint attempt)
{
	return sp_backoff_delay_ms(min_ms, max_ms, attempt, uniform_from(rand));
}
