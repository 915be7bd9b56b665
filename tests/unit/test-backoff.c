/* Unit tests of the connections' retry schedules (daemon/backoff.c). */
#include <math.h>

#include <glib.h>

#include "daemon/backoff.h"

static const double uniforms[] = {0.0, 0.001, 0.25, 0.5, 0.75, 0.999999};

static void test_jitter_bounds(void)
{
	static const guint intervals[] = {0, 1, 2, 500, 2000, 5000, 30000, G_MAXUINT};

	for (gsize i = 0; i < G_N_ELEMENTS(intervals); i++) {
		for (gsize j = 0; j < G_N_ELEMENTS(uniforms); j++) {
			guint w = sp_backoff_jitter_ms(intervals[i], uniforms[j]);

			g_assert_cmpuint(w, >=, intervals[i] / 2);
			g_assert_cmpuint(w, <=, intervals[i]);
		}
	}
	g_assert_cmpuint(sp_backoff_jitter_ms(2000, 0.0), ==, 1000);
	g_assert_cmpuint(sp_backoff_jitter_ms(2000, 0.5), ==, 1500);
	g_assert_cmpuint(sp_backoff_jitter_ms(2000, 1.0), ==, 2000);
}

static void test_jitter_clamps_bad_input(void)
{
	g_assert_cmpuint(sp_backoff_jitter_ms(1000, -3.0), ==, 500);
	g_assert_cmpuint(sp_backoff_jitter_ms(1000, 7.0), ==, 1000);
	g_assert_cmpuint(sp_backoff_jitter_ms(1000, NAN), ==, 500);
}

static void test_doubling_and_cap(void)
{
	/* With uniform 1 the nominal value shows: 1 s doubling to the 30 s cap. */
	static const guint expected[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};

	for (guint a = 0; a < G_N_ELEMENTS(expected); a++)
		g_assert_cmpuint(sp_backoff_delay_ms(1000, 30000, a, 1.0), ==, expected[a]);
	/* And half of it with uniform 0. */
	for (guint a = 0; a < G_N_ELEMENTS(expected); a++)
		g_assert_cmpuint(sp_backoff_delay_ms(1000, 30000, a, 0.0), ==, expected[a] / 2);
}

static void test_delay_bounds(void)
{
	for (guint a = 0; a < 100; a++) {
		guint nominal = MIN(1000u << MIN(a, 20u), 30000u);

		for (gsize j = 0; j < G_N_ELEMENTS(uniforms); j++) {
			guint w = sp_backoff_delay_ms(1000, 30000, a, uniforms[j]);

			g_assert_cmpuint(w, >=, nominal / 2);
			g_assert_cmpuint(w, <=, nominal);
		}
	}
}

static void test_no_overflow(void)
{
	/* Huge attempts and a cap near the top of guint stay within the cap. */
	g_assert_cmpuint(sp_backoff_delay_ms(G_MAXUINT / 2 + 1, G_MAXUINT, 5, 1.0), ==, G_MAXUINT);
	g_assert_cmpuint(sp_backoff_delay_ms(3, G_MAXUINT, G_MAXUINT, 1.0), ==, G_MAXUINT);
	g_assert_cmpuint(sp_backoff_delay_ms(1000, 30000, G_MAXUINT, 1.0), ==, 30000);
}

static void test_max_below_min(void)
{
	/* A cap below the start counts as the start: never below retry-min. */
	g_assert_cmpuint(sp_backoff_delay_ms(5000, 1000, 0, 1.0), ==, 5000);
	g_assert_cmpuint(sp_backoff_delay_ms(5000, 1000, 9, 1.0), ==, 5000);
	g_assert_cmpuint(sp_backoff_delay_ms(0, 0, 3, 1.0), ==, 0);
}

static void test_random_source(void)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(42);

	for (guint i = 0; i < 1000; i++) {
		guint j = sp_backoff_random_jitter_ms(rand, 2000);
		guint d = sp_backoff_random_delay_ms(rand, 1000, 30000, i % 10);
		guint nominal = MIN(1000u << (i % 10), 30000u);

		g_assert_cmpuint(j, >=, 1000);
		g_assert_cmpuint(j, <=, 2000);
		g_assert_cmpuint(d, >=, nominal / 2);
		g_assert_cmpuint(d, <=, nominal);
	}
	g_assert_cmpuint(sp_backoff_random_jitter_ms(NULL, 100), >=, 50);
	g_assert_cmpuint(sp_backoff_random_jitter_ms(NULL, 100), <=, 100);
}

static void test_spread(void)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(7);
	guint lo = G_MAXUINT, hi = 0;

	/* The waits really are spread over the range, not stuck at one end. */
	for (guint i = 0; i < 2000; i++) {
		guint w = sp_backoff_random_jitter_ms(rand, 2000);

		lo = MIN(lo, w);
		hi = MAX(hi, w);
	}
	g_assert_cmpuint(lo, <, 1100);
	g_assert_cmpuint(hi, >, 1900);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/backoff/jitter/bounds", test_jitter_bounds);
	g_test_add_func("/backoff/jitter/bad-input", test_jitter_clamps_bad_input);
	g_test_add_func("/backoff/delay/doubling-and-cap", test_doubling_and_cap);
	g_test_add_func("/backoff/delay/bounds", test_delay_bounds);
	g_test_add_func("/backoff/delay/no-overflow", test_no_overflow);
	g_test_add_func("/backoff/delay/max-below-min", test_max_below_min);
	g_test_add_func("/backoff/random/bounds", test_random_source);
	g_test_add_func("/backoff/random/spread", test_spread);
	return g_test_run();
}
