/* Ringer and call-progress tones: parsing cadence specs and generating them sample by sample. */
#include "daemon/media/tones.h"

#include <math.h>
#include <string.h>

#define RAMP_MS 4

G_DEFINE_QUARK(sp - tone - error - quark, sp_tone_error)

static gboolean bad(GError **error, const char *part, const char *why)
{
	g_set_error(error, SP_TONE_ERROR, 0,
		    "bad tone segment \"%s\": %s (a tone is Hz[+Hz]/ms segments separated by "
		    "commas, 0 Hz for silence, e.g. \"440+480/2000,0/4000\")",
		    part, why);
	return FALSE;
}

static gboolean parse_number(const char *text, guint min, guint max, guint *out)
{
	guint64 v;

	if (text[0] == '\0' || strlen(text) > 9)
		return FALSE;
	for (const char *p = text; *p != '\0'; p++)
		if (!g_ascii_isdigit(*p))
			return FALSE;
	v = g_ascii_strtoull(text, NULL, 10);
	if (v < min || v > max)
		return FALSE;
	*out = (guint)v;
	return TRUE;
}

static gboolean parse_segment(const char *part, SpToneSegment *seg, GError **error)
{
	g_autofree char *copy = g_strstrip(g_strdup(part));
	char *slash = strchr(copy, '/');
	g_auto(GStrv) freqs = NULL;
	guint hz;

	if (slash == NULL)
		return bad(error, copy, "no /duration");
	*slash = '\0';
	if (!parse_number(g_strstrip(slash + 1), SP_TONE_MIN_MS, SP_TONE_MAX_MS, &seg->ms))
		return bad(error, part,
			   "the duration must be " G_STRINGIFY(SP_TONE_MIN_MS) " to " G_STRINGIFY(
			       SP_TONE_MAX_MS) " ms");
	g_strstrip(copy);
	if (strcmp(copy, "0") == 0) {
		seg->n_freqs = 0;
		return TRUE;
	}
	freqs = g_strsplit(copy, "+", -1);
	if (g_strv_length(freqs) > SP_TONE_MAX_FREQS)
		return bad(error, part, "at most two frequencies");
	seg->n_freqs = 0;
	for (guint i = 0; freqs[i] != NULL; i++) {
		if (!parse_number(g_strstrip(freqs[i]), SP_TONE_MIN_HZ, SP_TONE_MAX_HZ, &hz))
			return bad(error, part,
				   "a frequency must be 0 (silence) or " G_STRINGIFY(
				       SP_TONE_MIN_HZ) " to " G_STRINGIFY(SP_TONE_MAX_HZ) " Hz");
		seg->freqs[seg->n_freqs++] = hz;
	}
	return TRUE;
}

gboolean sp_tone_spec_parse(const char *text, SpToneSpec *out, GError **error)
{
	g_autofree char *copy = g_strstrip(g_strdup(text != NULL ? text : ""));
	g_auto(GStrv) parts = NULL;
	SpToneSpec spec = {0};
	gboolean sounds = FALSE;

	if (copy[0] == '\0') {
		*out = spec;
		return TRUE;
	}
	parts = g_strsplit(copy, ",", -1);
	if (g_strv_length(parts) > SP_TONE_MAX_SEGMENTS) {
		g_set_error(error, SP_TONE_ERROR, 0, "at most %u segments in a tone",
			    SP_TONE_MAX_SEGMENTS);
		return FALSE;
	}
	for (guint i = 0; parts[i] != NULL; i++) {
		if (!parse_segment(parts[i], &spec.segments[i], error))
			return FALSE;
		sounds = sounds || spec.segments[i].n_freqs > 0;
		spec.n_segments++;
	}
	if (!sounds) {
		g_set_error(error, SP_TONE_ERROR, 0,
			    "the tone \"%s\" is all silence (leave it empty to turn it off)", copy);
		return FALSE;
	}
	*out = spec;
	return TRUE;
}

char *sp_tone_spec_to_string(const SpToneSpec *spec)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < spec->n_segments; i++) {
		const SpToneSegment *seg = &spec->segments[i];

		if (i > 0)
			g_string_append_c(s, ',');
		if (seg->n_freqs == 0)
			g_string_append_c(s, '0');
		for (guint j = 0; j < seg->n_freqs; j++)
			g_string_append_printf(s, "%s%u", j > 0 ? "+" : "", seg->freqs[j]);
		g_string_append_printf(s, "/%u", seg->ms);
	}
	return g_string_free(s, FALSE);
}

struct _SpToneGenerator {
	SpToneSpec spec;
	guint rate;
	double level;
	guint segment;
	guint64 pos;			 /* samples into the segment */
	double phase[SP_TONE_MAX_FREQS]; /* radians */
};

SpToneGenerator *sp_tone_generator_new(const SpToneSpec *spec, guint rate, double level)
{
	SpToneGenerator *gen = g_new0(SpToneGenerator, 1);

	gen->spec = *spec;
	gen->rate = rate;
	gen->level = level;
	return gen;
}

void sp_tone_generator_free(SpToneGenerator *gen)
{
	g_free(gen);
}

void sp_tone_generator_reset(SpToneGenerator *gen)
{
	gen->segment = 0;
	gen->pos = 0;
	memset(gen->phase, 0, sizeof(gen->phase));
}

void sp_tone_generator_mix(SpToneGenerator *gen, gint32 *mix, guint n)
{
	const guint64 ramp = (guint64)gen->rate * RAMP_MS / 1000;

	if (gen->spec.n_segments == 0)
		return;
	for (guint i = 0; i < n; i++) {
		const SpToneSegment *seg = &gen->spec.segments[gen->segment];
		guint64 len = (guint64)seg->ms * gen->rate / 1000;

		if (seg->n_freqs > 0) {
			double amp = gen->level * 32767.0 / seg->n_freqs;
			guint64 edge = MIN(gen->pos, len - 1 - gen->pos);
			double v = 0.0;

			if (edge < ramp)
				amp *= (double)edge / (double)ramp;
			for (guint f = 0; f < seg->n_freqs; f++) {
				v += sin(gen->phase[f]);
				gen->phase[f] += 2.0 * G_PI * seg->freqs[f] / gen->rate;
				if (gen->phase[f] >= 2.0 * G_PI)
					gen->phase[f] -= 2.0 * G_PI;
			}
			mix[i] += (gint32)lrint(amp * v);
		}
		if (++gen->pos >= len) {
			gen->pos = 0;
			gen->segment = (gen->segment + 1) % gen->spec.n_segments;
			memset(gen->phase, 0, sizeof(gen->phase));
		}
	}
}
