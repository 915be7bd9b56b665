/* Ringer and call-progress tones: cadence specs ("440+480/2000,0/4000") and their generator. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * A tone is a cadence of segments, repeated for as long as it plays. Each segment is one or two
 * frequencies in Hz ("0" for silence) and a duration in milliseconds, written "440+480/2000";
 * segments are separated by commas. The defaults:
 *   ring          440+480 Hz, 2 s on, 4 s off (the North American ringer cadence)
 *   ringback      425 Hz, 1 s on, 4 s off (ETSI/CEPT ringing tone, ITU-T E.180)
 *   call waiting  440 Hz, 0.3 s, then every 10 s while the second call alerts
 * An empty spec is a tone that is off.
 */
#define SP_TONE_RING_DEFAULT "440+480/2000,0/4000"
#define SP_TONE_RINGBACK_DEFAULT "425/1000,0/4000"
#define SP_TONE_CALL_WAITING_DEFAULT "440/300,0/9700"

#define SP_TONE_MAX_SEGMENTS 16
#define SP_TONE_MAX_FREQS 2
#define SP_TONE_MIN_HZ 20
#define SP_TONE_MAX_HZ 8000
#define SP_TONE_MIN_MS 10
#define SP_TONE_MAX_MS 60000

typedef struct {
	guint freqs[SP_TONE_MAX_FREQS]; /* Hz; n_freqs of them, none for silence */
	guint n_freqs;
	guint ms;
} SpToneSegment;

typedef struct {
	SpToneSegment segments[SP_TONE_MAX_SEGMENTS];
	guint n_segments; /* 0: the tone is off */
} SpToneSpec;

#define SP_TONE_ERROR (sp_tone_error_quark())
GQuark sp_tone_error_quark(void);

/*
 * Parses text (surrounding spaces allowed) into *out. An empty text gives a tone that is off.
 * A spec that has segments must have at least one that sounds. FALSE with a message that
 * names the bad part.
 */
gboolean sp_tone_spec_parse(const char *text, SpToneSpec *out, GError **error);
/* The spec written back in its canonical form (free it). */
char *sp_tone_spec_to_string(const SpToneSpec *spec);

typedef struct _SpToneGenerator SpToneGenerator;

/*
 * Plays spec at rate Hz, at a peak of level (fraction of full scale) shared by its
 * frequencies, each segment's sound ramped in and out over 4 ms so the cadence does not click.
 */
SpToneGenerator *sp_tone_generator_new(const SpToneSpec *spec, guint rate, double level);
void sp_tone_generator_free(SpToneGenerator *gen);
/* Back to the start of the cadence. */
void sp_tone_generator_reset(SpToneGenerator *gen);
/* Adds the next n samples of the tone to mix (the cadence goes on). */
void sp_tone_generator_mix(SpToneGenerator *gen, gint32 *mix, guint n);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpToneGenerator, sp_tone_generator_free)

G_END_DECLS
