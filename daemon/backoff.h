/* Retry schedules of a connection: jittered intervals and exponential back-off (RFC 5626 §4.5). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Every wait is randomised to 50-100 % of its nominal value so that many phones that lost the
 * same site do not come back in lock step. uniform is a random number in [0, 1) (values out of
 * range are clamped), so that tests can check the bounds without a random source.
 */
guint sp_backoff_jitter_ms(guint interval_ms, double uniform);

/*
 * The wait before retry number attempt (0 for the first retry after a failure): min_ms doubled
 * attempt times, capped at max_ms, then jittered as above. A max_ms below min_ms counts as
 * min_ms; never overflows, whatever attempt is.
 */
guint sp_backoff_delay_ms(guint min_ms, guint max_ms, guint attempt, double uniform);

/* The same with a uniform number taken from rand (or from the global generator if NULL). */
guint sp_backoff_random_jitter_ms(GRand *rand, guint interval_ms);
guint sp_backoff_random_delay_ms(GRand *rand, guint min_ms, guint max_ms, guint attempt);

G_END_DECLS
