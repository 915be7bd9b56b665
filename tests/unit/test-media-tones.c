/* Unit tests of the tone specs and the tone generator: parsing, errors, cadence and level. */
#include <math.h>
#include <string.h>

#include <glib.h>

#include "daemon/media/tones.h"

#define RATE 48000

static void test_parse_defaults(void)
{
	const char *specs[] = {SP_TONE_RING_DEFAULT, SP_TONE_RINGBACK_DEFAULT,
			       SP_TONE_CALL_WAITING_DEFAULT};

	for (guint i = 0; i < G_N_ELEMENTS(specs); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *back = NULL;
		SpToneSpec spec;

		g_assert_true(sp_tone_spec_parse(specs[i], &spec, &error));
		g_assert_no_error(error);
		back = sp_tone_spec_to_string(&spec);
		g_assert_cmpstr(back, ==, specs[i]);
	}
}

static void test_parse_forms(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *back = NULL;
	SpToneSpec spec;

	g_assert_true(sp_tone_spec_parse(" 440 + 480 / 2000 , 0/4000 ", &spec, &error));
	g_assert_cmpuint(spec.n_segments, ==, 2);
	g_assert_cmpuint(spec.segments[0].n_freqs, ==, 2);
	g_assert_cmpuint(spec.segments[0].freqs[0], ==, 440);
	g_assert_cmpuint(spec.segments[0].freqs[1], ==, 480);
	g_assert_cmpuint(spec.segments[0].ms, ==, 2000);
	g_assert_cmpuint(spec.segments[1].n_freqs, ==, 0);
	g_assert_cmpuint(spec.segments[1].ms, ==, 4000);
	back = sp_tone_spec_to_string(&spec);
	g_assert_cmpstr(back, ==, "440+480/2000,0/4000");

	/* Empty: the tone is off. */
	g_assert_true(sp_tone_spec_parse("  ", &spec, &error));
	g_assert_cmpuint(spec.n_segments, ==, 0);
	g_assert_true(sp_tone_spec_parse(NULL, &spec, &error));
	g_assert_cmpuint(spec.n_segments, ==, 0);
}

static void test_parse_errors(void)
{
	const char *bad[] = {
	    "440",		  /* no duration */
	    "440/",		  /* empty duration */
	    "440/5",		  /* too short */
	    "440/60001",	  /* too long */
	    "10/100",		  /* below 20 Hz */
	    "9000/100",		  /* above 8 kHz */
	    "440+480+620/100",	  /* three frequencies */
	    "440/1000,,0/100",	  /* an empty segment */
	    "0/1000,0/1000",	  /* all silence */
	    "-440/100",		  /* a sign */
	    "440.5/100",	  /* not whole */
	    "abc/100",		  /* not a number */
	    "440/1e3",		  /* not a number */
	    "440/99999999999999", /* overflow */
	    "1/10,1/10,1/10,1/10,1/10,1/10,1/10,1/10,1/10,1/10,1/10,1/10,1/10,1/10,1/10,1/10,1/10",
	};
	SpToneSpec spec = {.n_segments = 7};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;

		g_assert_false(sp_tone_spec_parse(bad[i], &spec, &error));
		g_assert_error(error, SP_TONE_ERROR, 0);
		/* Nothing was written on failure. */
		g_assert_cmpuint(spec.n_segments, ==, 7);
	}
}

/* The amplitude of freq in buf[start, start+n) as a fraction of full scale (one DFT bin). */
static double goertzel(const gint32 *buf, guint start, guint n, double freq)
{
	double re = 0, im = 0;

	for (guint i = 0; i < n; i++) {
		re += buf[start + i] * cos(2 * G_PI * freq * i / RATE);
		im += buf[start + i] * sin(2 * G_PI * freq * i / RATE);
	}
	return 2.0 * hypot(re, im) / n / 32768.0;
}

static void test_generator_cadence(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(SpToneGenerator) gen = NULL;
	SpToneSpec spec;
	const guint total = RATE * 3; /* 200 ms on, 300 ms off, six times */
	gint32 *buf = g_new0(gint32, total);
	const guint w = RATE / 50;

	g_assert_true(sp_tone_spec_parse("440+480/200,0/300", &spec, &error));
	gen = sp_tone_generator_new(&spec, RATE, 0.25);
	/* In 20 ms frames, as the engine asks. */
	for (guint i = 0; i < total; i += w)
		sp_tone_generator_mix(gen, buf + i, w);
	/* 100 ms windows hold whole cycles of 440 and 480 Hz: no leakage from one to the other. */
	for (guint k = 0; k < total / (5 * w); k++) {
		guint ms = k * 100 % 500;
		guint at = k * 5 * w;
		double a440 = goertzel(buf, at, 5 * w, 440), a480 = goertzel(buf, at, 5 * w, 480);
		gint32 peak = 0;

		for (guint i = at; i < at + 5 * w; i++)
			peak = MAX(peak, ABS(buf[i]));
		if (ms < 200) {
			/* Each frequency at half the level (the 4 ms ramps cost a little). */
			g_assert_cmpfloat(fabs(a440 - 0.125), <, 0.01);
			g_assert_cmpfloat(fabs(a480 - 0.125), <, 0.01);
			g_assert_cmpint(peak, <=, (gint32)(0.25 * 32767) + 1);
		} else {
			g_assert_cmpint(peak, ==, 0);
		}
	}
	/* No click: the first samples of a burst ramp up from zero. */
	g_assert_cmpint(ABS(buf[0]), <=, 1);
	g_assert_cmpint(ABS(buf[1]), <, 100);

	/* Reset starts the cadence over; mix adds to what is there. */
	sp_tone_generator_reset(gen);
	memset(buf, 0, total * sizeof(gint32));
	for (guint i = 0; i < 5 * w; i++)
		buf[i] = 1000;
	sp_tone_generator_mix(gen, buf, 5 * w);
	g_assert_cmpfloat(fabs(goertzel(buf, 0, 5 * w, 440) - 0.125), <, 0.01);
	g_assert_cmpint(buf[0], ==, 1000);
	g_free(buf);
}

static void test_generator_off(void)
{
	SpToneSpec spec = {0};
	g_autoptr(SpToneGenerator) gen = sp_tone_generator_new(&spec, RATE, 0.25);
	gint32 buf[960] = {0};

	sp_tone_generator_mix(gen, buf, G_N_ELEMENTS(buf));
	for (guint i = 0; i < G_N_ELEMENTS(buf); i++)
		g_assert_cmpint(buf[i], ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/media/tones/parse-defaults", test_parse_defaults);
	g_test_add_func("/media/tones/parse-forms", test_parse_forms);
	g_test_add_func("/media/tones/parse-errors", test_parse_errors);
	g_test_add_func("/media/tones/generator-cadence", test_generator_cadence);
	g_test_add_func("/media/tones/generator-off", test_generator_off);
	return g_test_run();
}
