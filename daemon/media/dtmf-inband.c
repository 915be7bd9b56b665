/* Inband DTMF over spandsp's dtmf_tx / dtmf_rx, with digit durations from the realtime events. */
#include "daemon/media/dtmf-inband.h"

#include <string.h>

#include <spandsp.h>

#include "daemon/media/codec.h"

/* -10 dBm0 for each of the two tones, no twist between them. */
#define DTMF_LEVEL_DBM0 -10
#define DTMF_TWIST_DB 0
#define DTMF_MIN_MS 40
/* Our own queue limit, below spandsp's (MAX_DTMF_DIGITS), so that a queue never half-fails. */
#define DTMF_QUEUE_MAX 100
/*
 * The detector is fed in slices this long so that an event's position is known to within one
 * slice (5 ms); spandsp itself decides once per 102-sample block.
 */
#define DTMF_RX_SLICE 40

gboolean sp_dtmf_inband_is_digit(char c)
{
	return (c >= '0' && c <= '9') || c == '*' || c == '#' || (c >= 'A' && c <= 'D') ||
	       (c >= 'a' && c <= 'd');
}

struct _SpDtmfGenerator {
	dtmf_tx_state_t *tx;
	guint on_ms;
	guint off_ms;
	guint queued; /* digits handed to spandsp since the generator went idle */
	gboolean busy;
};

static void generator_setup(SpDtmfGenerator *gen)
{
	dtmf_tx_set_level(gen->tx, DTMF_LEVEL_DBM0, DTMF_TWIST_DB);
	dtmf_tx_set_timing(gen->tx, (int)gen->on_ms, (int)gen->off_ms);
}

SpDtmfGenerator *sp_dtmf_generator_new(guint on_ms, guint off_ms)
{
	SpDtmfGenerator *gen = g_new0(SpDtmfGenerator, 1);

	gen->tx = dtmf_tx_init(NULL);
	if (!gen->tx) {
		g_free(gen);
		return NULL;
	}
	gen->on_ms = MAX(on_ms, DTMF_MIN_MS);
	gen->off_ms = MAX(off_ms, DTMF_MIN_MS);
	generator_setup(gen);
	return gen;
}

void sp_dtmf_generator_free(SpDtmfGenerator *gen)
{
	if (!gen)
		return;
	if (gen->tx)
		dtmf_tx_free(gen->tx);
	g_free(gen);
}

void sp_dtmf_generator_set_timing(SpDtmfGenerator *gen, guint on_ms, guint off_ms)
{
	g_return_if_fail(gen);
	gen->on_ms = MAX(on_ms, DTMF_MIN_MS);
	gen->off_ms = MAX(off_ms, DTMF_MIN_MS);
	dtmf_tx_set_timing(gen->tx, (int)gen->on_ms, (int)gen->off_ms);
}

gboolean sp_dtmf_generator_queue(SpDtmfGenerator *gen, const char *digits, GError **error)
{
	g_autofree char *upper = NULL;
	size_t len;

	g_return_val_if_fail(gen && digits, FALSE);
	len = strlen(digits);
	for (size_t i = 0; i < len; i++) {
		if (!sp_dtmf_inband_is_digit(digits[i])) {
			g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_INVALID_ARGS,
				    "'%c' is not a DTMF digit", digits[i]);
			return FALSE;
		}
	}
	if (gen->queued + len > DTMF_QUEUE_MAX) {
		g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_FAILED,
			    "too many DTMF digits waiting (at most %d)", DTMF_QUEUE_MAX);
		return FALSE;
	}
	if (len == 0)
		return TRUE;
	upper = g_ascii_strup(digits, (gssize)len);
	/* spandsp 0.0.6 returns how many digits did NOT fit (its header says otherwise). */
	if (dtmf_tx_put(gen->tx, upper, (int)len) != 0) {
		/* Cannot happen below DTMF_QUEUE_MAX; spandsp keeps what fitted. */
		g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_FAILED, "DTMF queue full");
		gen->busy = TRUE;
		return FALSE;
	}
	gen->queued += (guint)len;
	gen->busy = TRUE;
	return TRUE;
}

guint sp_dtmf_generator_fill(SpDtmfGenerator *gen, gint16 *pcm, guint n_samples)
{
	int n = 0;

	g_return_val_if_fail(gen && (pcm || n_samples == 0), 0);
	if (gen->busy && n_samples > 0)
		n = dtmf_tx(gen->tx, pcm, (int)n_samples);
	if (n < 0)
		n = 0;
	if ((guint)n < n_samples) {
		memset(pcm + n, 0, (n_samples - (guint)n) * sizeof(*pcm));
		if (n_samples > 0) {
			gen->busy = FALSE;
			gen->queued = 0;
		}
	}
	return (guint)n;
}

gboolean sp_dtmf_generator_is_busy(const SpDtmfGenerator *gen)
{
	g_return_val_if_fail(gen, FALSE);
	return gen->busy;
}

void sp_dtmf_generator_cancel(SpDtmfGenerator *gen)
{
	g_return_if_fail(gen);
	dtmf_tx_release(gen->tx);
	dtmf_tx_init(gen->tx);
	generator_setup(gen);
	gen->busy = FALSE;
	gen->queued = 0;
}

struct _SpDtmfDetector {
	dtmf_rx_state_t *rx;
	SpDtmfDigitFunc func;
	gpointer user_data;
	guint64 position; /* samples fed so far, up to the end of the current slice */
	char digit;	  /* the digit in progress, or 0 */
	guint64 digit_start;
};

static void detector_end_digit(SpDtmfDetector *det)
{
	guint64 samples = det->position - det->digit_start;
	char digit = det->digit;

	det->digit = 0;
	if (det->func)
		det->func(det->user_data, digit,
			  (guint)MIN(samples * 1000 / SP_DTMF_INBAND_RATE, G_MAXUINT));
}

/* spandsp: code is the digit's ASCII when one is confirmed, 0 when it has gone. */
static void detector_on_event(void *user_data, int code, int level, int delay)
{
	SpDtmfDetector *det = user_data;

	(void)level;
	(void)delay;
	if (det->digit && code != det->digit)
		detector_end_digit(det);
	if (code > 0 && code != det->digit && sp_dtmf_inband_is_digit((char)code)) {
		det->digit = (char)code;
		det->digit_start = det->position;
	}
}

/* The digit string interface is not used; a callback keeps spandsp's buffer from filling. */
static void detector_on_digits(void *user_data, const char *digits, int len)
{
	(void)user_data;
	(void)digits;
	(void)len;
}

static void detector_setup(SpDtmfDetector *det)
{
	dtmf_rx_set_realtime_callback(det->rx, detector_on_event, det);
	dtmf_rx_parms(det->rx, FALSE, -1, -1, -99);
	det->digit = 0;
}

SpDtmfDetector *sp_dtmf_detector_new(SpDtmfDigitFunc func, gpointer user_data)
{
	SpDtmfDetector *det = g_new0(SpDtmfDetector, 1);

	det->func = func;
	det->user_data = user_data;
	det->rx = dtmf_rx_init(NULL, detector_on_digits, det);
	if (!det->rx) {
		g_free(det);
		return NULL;
	}
	detector_setup(det);
	return det;
}

void sp_dtmf_detector_free(SpDtmfDetector *det)
{
	if (!det)
		return;
	if (det->rx)
		dtmf_rx_free(det->rx);
	g_free(det);
}

void sp_dtmf_detector_feed(SpDtmfDetector *det, const gint16 *pcm, guint n_samples)
{
	g_return_if_fail(det && (pcm || n_samples == 0));
	for (guint done = 0; done < n_samples;) {
		guint slice = MIN(n_samples - done, DTMF_RX_SLICE);

		det->position += slice;
		dtmf_rx(det->rx, pcm + done, (int)slice);
		done += slice;
	}
}

void sp_dtmf_detector_fill_in(SpDtmfDetector *det, guint n_samples)
{
	g_return_if_fail(det);
	det->position += n_samples;
	dtmf_rx_fillin(det->rx, (int)n_samples);
}

void sp_dtmf_detector_reset(SpDtmfDetector *det)
{
	g_return_if_fail(det);
	dtmf_rx_release(det->rx);
	dtmf_rx_init(det->rx, detector_on_digits, det);
	detector_setup(det);
}
