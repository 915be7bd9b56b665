/* Receiver statistics of one RTP source (RFC 3550 Appendix A) and the E-model MOS estimate. */
#include "daemon/media/rtp-stats.h"

#include <math.h>
#include <string.h>

/* RFC 3550 A.1 */
#define RTP_SEQ_MOD (1u << 16)
#define MIN_SEQUENTIAL 2
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100

struct _SpRtpStats {
	guint clock_rate;
	gboolean started; /* a first packet was seen (probation began) */

	/* A.1, with the RFC's names */
	guint16 max_seq;
	guint64 cycles; /* shifted count of seq number cycles */
	guint32 base_seq;
	guint32 bad_seq; /* RTP_SEQ_MOD + 1: none */
	guint probation;
	guint64 received;
	guint64 expected_prior;
	guint64 received_prior;
	gboolean valid; /* probation passed */

	guint64 octets;
	guint64 discarded;
	guint64 restarts;

	/* A.8 */
	gboolean have_transit;
	guint64 arrival_base_us;
	guint32 transit;
	double jitter;

	/* the far end's last SR */
	gboolean have_sr;
	guint32 lsr;
	guint64 sr_arrival_us;
};

static void init_seq(SpRtpStats *s, guint16 seq)
{
	s->base_seq = seq;
	s->max_seq = seq;
	s->bad_seq = RTP_SEQ_MOD + 1;
	s->cycles = 0;
	s->received = 0;
	s->received_prior = 0;
	s->expected_prior = 0;
	s->octets = 0;
	s->have_transit = FALSE;
	s->jitter = 0;
}

SpRtpStats *sp_rtp_stats_new(guint clock_rate)
{
	SpRtpStats *s = g_new0(SpRtpStats, 1);

	s->clock_rate = clock_rate ? clock_rate : 8000;
	return s;
}

void sp_rtp_stats_free(SpRtpStats *stats)
{
	g_free(stats);
}

void sp_rtp_stats_reset(SpRtpStats *stats)
{
	guint rate = stats->clock_rate;

	memset(stats, 0, sizeof(*stats));
	stats->clock_rate = rate;
}

/* A.1 update_seq(): TRUE when the packet is valid; *restarted when it confirmed a restart. */
static gboolean update_seq(SpRtpStats *s, guint16 seq, gboolean *restarted)
{
	guint16 udelta = seq - s->max_seq;

	*restarted = FALSE;
	if (s->probation) {
		if (seq == (guint16)(s->max_seq + 1)) {
			s->probation--;
			s->max_seq = seq;
			if (s->probation == 0) {
				init_seq(s, seq);
				s->received++;
				s->valid = TRUE;
				return TRUE;
			}
		} else {
			s->probation = MIN_SEQUENTIAL - 1;
			s->max_seq = seq;
		}
		return FALSE;
	} else if (udelta < MAX_DROPOUT) {
		/* In order, with a permissible gap. */
		if (seq < s->max_seq)
			s->cycles += RTP_SEQ_MOD;
		s->max_seq = seq;
	} else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
		/* A very large jump: a restart if the next packet follows it. */
		if (seq == s->bad_seq) {
			init_seq(s, seq);
			*restarted = TRUE;
		} else {
			s->bad_seq = (seq + 1) & (RTP_SEQ_MOD - 1);
			return FALSE;
		}
	} else {
		/* A duplicate or a reordered packet: counted, as the RFC does. */
	}
	s->received++;
	return TRUE;
}

SpRtpSeqResult sp_rtp_stats_received(SpRtpStats *s, guint16 seq, guint32 ts, gsize payload_len,
				     guint64 arrival_us, gboolean update_jitter)
{
	gboolean restarted;

	if (!s->started) {
		init_seq(s, seq);
		s->max_seq = seq - 1;
		s->probation = MIN_SEQUENTIAL;
		s->started = TRUE;
		s->arrival_base_us = arrival_us;
	}

	if (!update_seq(s, seq, &restarted)) {
		s->discarded++;
		return s->valid ? SP_RTP_SEQ_BAD : SP_RTP_SEQ_PROBATION;
	}
	if (restarted)
		s->restarts++;
	s->octets += payload_len;

	if (update_jitter) {
		/* A.8, with the arrival time in timestamp units (modulo 2^32, as ts). */
		guint64 rel =
		    arrival_us >= s->arrival_base_us ? arrival_us - s->arrival_base_us : 0;
		guint32 arrival =
		    (guint32)((rel / G_USEC_PER_SEC) * s->clock_rate +
			      (rel % G_USEC_PER_SEC) * s->clock_rate / G_USEC_PER_SEC);
		guint32 transit = arrival - ts;

		if (s->have_transit) {
			gint32 d = (gint32)(transit - s->transit);
			double ad = d < 0 ? -(double)d : (double)d;

			s->jitter += (ad - s->jitter) / 16.0;
		}
		s->transit = transit;
		s->have_transit = TRUE;
	}
	return restarted ? SP_RTP_SEQ_RESTARTED : SP_RTP_SEQ_VALID;
}

void sp_rtp_stats_sr_received(SpRtpStats *stats, guint64 sr_ntp, guint64 arrival_us)
{
	stats->have_sr = TRUE;
	stats->lsr = sp_ntp_middle32(sr_ntp);
	stats->sr_arrival_us = arrival_us;
}

gboolean sp_rtp_stats_has_received(const SpRtpStats *stats)
{
	return stats->valid;
}

static guint64 extended_max(const SpRtpStats *s)
{
	return s->cycles + s->max_seq;
}

static gint64 expected(const SpRtpStats *s)
{
	if (!s->valid)
		return 0;
	return (gint64)(extended_max(s) - s->base_seq + 1);
}

void sp_rtp_stats_make_report_block(SpRtpStats *s, guint32 ssrc, guint64 now_us,
				    SpRtcpReportBlock *out)
{
	gint64 exp = expected(s);
	gint64 lost = exp - (gint64)s->received;
	gint64 expected_interval = exp - (gint64)s->expected_prior;
	gint64 received_interval = (gint64)s->received - (gint64)s->received_prior;
	gint64 lost_interval = expected_interval - received_interval;

	memset(out, 0, sizeof(*out));
	out->ssrc = ssrc;
	s->expected_prior = (guint64)exp;
	s->received_prior = s->received;
	if (expected_interval <= 0 || lost_interval <= 0)
		out->fraction_lost = 0;
	else
		out->fraction_lost = (guint8)MIN((lost_interval << 8) / expected_interval, 255);
	out->cumulative_lost = (gint32)CLAMP(lost, -8388608, 8388607);
	out->highest_seq = (guint32)extended_max(s);
	out->jitter = (guint32)s->jitter;
	if (s->have_sr) {
		guint64 delay = now_us > s->sr_arrival_us ? now_us - s->sr_arrival_us : 0;

		out->lsr = s->lsr;
		out->dlsr = (guint32)MIN(delay * 65536 / G_USEC_PER_SEC, G_MAXUINT32);
	}
}

void sp_rtp_stats_get(const SpRtpStats *s, SpRtpStatsFigures *out)
{
	memset(out, 0, sizeof(*out));
	out->packets = s->received;
	out->octets = s->octets;
	out->discarded = s->discarded;
	out->restarts = s->restarts;
	out->extended_max_seq = s->valid ? (guint32)extended_max(s) : 0;
	out->expected = expected(s);
	out->lost = out->expected - (gint64)s->received;
	out->loss_percent =
	    out->expected > 0 && out->lost > 0 ? 100.0 * out->lost / out->expected : 0;
	out->jitter_ts = s->jitter;
	out->jitter_ms = s->jitter * 1000.0 / s->clock_rate;
}

/*
 * The E-model of ITU-T G.107, reduced to what a phone can measure, as commonly done (e.g.
 * Cole & Rosenbluth, "Voice over IP performance monitoring", ACM CCR 2001; G.107 §7 with its
 * default values for every other parameter):
 *   R = 93.2 - Id - Ie_eff
 *   Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)   (d: one-way mouth-to-ear delay, ms;
 *                                                     H the Heaviside step)
 *   Ie_eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl)        (G.107 §7.3, random loss: BurstR = 1;
 *                                                     Ppl: packet loss, percent)
 *   MOS = 1 + 0.035 R + R (R - 60) (100 - R) 7e-6, clamped to [1, 4.5]   (G.107 Annex B)
 * Codec constants from G.113 Appendix I / G.107 Appendix I:
 *   PCMU, PCMA: Ie 0; Bpl 4.3 without and 25.1 with packet loss concealment; we conceal, so
 *               25.1.
 *   G.722: a wideband codec, out of scope of the narrowband R scale (G.107.1 has the wideband
 *          model); rated here as G.711 with PLC: Ie 0, Bpl 25.1.
 *   opus: no G.113 figures; Ie 0, Bpl 20 is an assumption (its concealment is at least as
 *         good as G.711's).
 */
typedef struct {
	const char *name;
	double ie;
	double bpl;
} CodecImpairment;

static const CodecImpairment impairments[] = {
    {"PCMU", 0, 25.1},
    {"PCMA", 0, 25.1},
    {"G722", 0, 25.1},
    {"opus", 0, 20},
};

double sp_mos_r_factor(const char *codec, double one_way_delay_ms, double loss_percent)
{
	const CodecImpairment *imp = &impairments[0];
	double d = one_way_delay_ms;
	double ppl = loss_percent;
	double id, ie_eff;
	gsize i;

	for (i = 0; codec && i < G_N_ELEMENTS(impairments); i++) {
		if (g_ascii_strcasecmp(codec, impairments[i].name) == 0)
			imp = &impairments[i];
	}
	if (!(d > 0)) /* also NAN */
		d = 0;
	if (!(ppl > 0))
		ppl = 0;
	if (ppl > 100)
		ppl = 100;

	id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0);
	ie_eff = imp->ie + (95 - imp->ie) * ppl / (ppl + imp->bpl);
	return 93.2 - id - ie_eff;
}

double sp_mos_from_r(double r)
{
	double mos;

	if (r <= 0)
		return 1;
	if (r >= 100)
		return 4.5;
	mos = 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
	return CLAMP(mos, 1.0, 4.5);
}

double sp_mos_estimate(const char *codec, double one_way_delay_ms, double loss_percent)
{
	return sp_mos_from_r(sp_mos_r_factor(codec, one_way_delay_ms, loss_percent));
}
