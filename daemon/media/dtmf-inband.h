/* Inband DTMF at 8 kHz (spandsp): a generator for digits we send, a detector for those we hear. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The sample rate of both the generator and the detector; the stream resamples around them. */
#define SP_DTMF_INBAND_RATE 8000

/* Whether c is a DTMF digit: 0-9, *, #, A-D (upper or lower case). */
gboolean sp_dtmf_inband_is_digit(char c);

/*
 * The generator: digits queue up and play one after the other, each tone on_ms long followed
 * by off_ms of silence (also after the last one), each of the two frequencies at -10 dBm0
 * (no twist). Up to 100 digits can wait.
 */
typedef struct _SpDtmfGenerator SpDtmfGenerator;

/* on_ms / off_ms: our defaults are 100 / 70. on_ms is at least 40, off_ms at least 40. */
SpDtmfGenerator *sp_dtmf_generator_new(guint on_ms, guint off_ms);
void sp_dtmf_generator_free(SpDtmfGenerator *gen);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpDtmfGenerator, sp_dtmf_generator_free)

/* Timing for digits that start from now on (the one playing keeps its own). */
void sp_dtmf_generator_set_timing(SpDtmfGenerator *gen, guint on_ms, guint off_ms);

/*
 * Queues digits (lower-case a-d count as A-D). Returns FALSE and queues nothing if a character
 * is not a digit (SP_MEDIA_ERROR_INVALID_ARGS) or the queue has no room for all of them
 * (SP_MEDIA_ERROR_FAILED).
 */
gboolean sp_dtmf_generator_queue(SpDtmfGenerator *gen, const char *digits, GError **error);

/*
 * Writes the next n_samples of 8 kHz signal into pcm: tones and gaps while digits are queued,
 * zeros once they are done. Returns how many of those samples belong to the digit sequence
 * (n_samples while sending, fewer in the frame where it ends, 0 when idle): a stream sends the
 * frame instead of the microphone's while the result is non-zero.
 */
guint sp_dtmf_generator_fill(SpDtmfGenerator *gen, gint16 *pcm, guint n_samples);

/* Whether digits (or the gap after the last one) remain to be played. */
gboolean sp_dtmf_generator_is_busy(const SpDtmfGenerator *gen);

/* Drops everything queued, including the digit playing (e.g. when the call goes on hold). */
void sp_dtmf_generator_cancel(SpDtmfGenerator *gen);

/*
 * The detector: spandsp's Goertzel-based DTMF receiver with its default thresholds (twist 8 dB,
 * reverse twist 4 dB; tones at -38 dBm0 are still heard, at -46 dBm0 no longer) and dial-tone
 * filtering off. Each digit is reported once, when it ends, with how long it lasted, measured
 * between spandsp's confirmed start and end events (it decides per block of 102 samples): a
 * 100 ms digit reads 90-100 ms after G.711, 65-90 ms after opus at 24 kbit/s.
 */
typedef struct _SpDtmfDetector SpDtmfDetector;

/* digit is one of 0-9*#A-D, duration_ms its measured length; called from the feed function. */
typedef void (*SpDtmfDigitFunc)(gpointer user_data, char digit, guint duration_ms);

SpDtmfDetector *sp_dtmf_detector_new(SpDtmfDigitFunc func, gpointer user_data);
void sp_dtmf_detector_free(SpDtmfDetector *det);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpDtmfDetector, sp_dtmf_detector_free)

/* Feeds 8 kHz PCM; digits that end inside it are reported before this returns. */
void sp_dtmf_detector_feed(SpDtmfDetector *det, const gint16 *pcm, guint n_samples);

/*
 * Accounts for n_samples of lost audio (spandsp's dtmf_rx_fillin): a digit in progress is not
 * cut in two by a lost packet. Use it instead of feeding concealed audio if you wish.
 */
void sp_dtmf_detector_fill_in(SpDtmfDetector *det, guint n_samples);

/* Forgets a digit in progress without reporting it, and the detector's filter state. */
void sp_dtmf_detector_reset(SpDtmfDetector *det);

G_END_DECLS
