/* Receiver statistics of one RTP source (RFC 3550 Appendix A) and the E-model MOS estimate. */
#pragma once

#include <glib.h>

#include "daemon/media/rtcp.h"

G_BEGIN_DECLS

/*
 * One source's figures: sequence validation and extended highest sequence (A.1), expected and
 * lost packets (A.3), interarrival jitter (A.8), and the report block about it. Reset it (or
 * make a new one) when the source's SSRC changes. Time is given by the caller, in monotonic
 * microseconds.
 */
typedef struct _SpRtpStats SpRtpStats;

typedef enum {
	SP_RTP_SEQ_VALID,     /* in sequence (or a tolerated reorder/duplicate): use the packet */
	SP_RTP_SEQ_PROBATION, /* the source is not validated yet (A.1 MIN_SEQUENTIAL = 2) */
	SP_RTP_SEQ_BAD,	      /* a big jump not (yet) confirmed by the next packet: drop it */
	/* A big jump confirmed: the source restarted (its counters too). Use the packet and resync
	 * what depends on sequence (the jitter buffer). */
	SP_RTP_SEQ_RESTARTED,
} SpRtpSeqResult;

SpRtpStats *sp_rtp_stats_new(guint clock_rate);
void sp_rtp_stats_free(SpRtpStats *stats);
/* Back to "no packet yet" (a new SSRC): every figure restarts. */
void sp_rtp_stats_reset(SpRtpStats *stats);

/*
 * One RTP packet of the source arrived at arrival_us. payload_len counts the octets received.
 * update_jitter: FALSE for packets whose timestamp is not their sampling instant (RFC 4733
 * telephone-event packets reuse the event's start), so they do not disturb A.8's jitter.
 * Packets in probation or BAD count in no figure but the discarded count.
 */
SpRtpSeqResult sp_rtp_stats_received(SpRtpStats *stats, guint16 seq, guint32 ts, gsize payload_len,
				     guint64 arrival_us, gboolean update_jitter);

/* The far end's SR arrived at arrival_us: remembered for LSR/DLSR of our next report block. */
void sp_rtp_stats_sr_received(SpRtpStats *stats, guint64 sr_ntp, guint64 arrival_us);

/* FALSE while nothing valid has been received (no report block to send yet). */
gboolean sp_rtp_stats_has_received(const SpRtpStats *stats);

/*
 * Fills the report block about the source (ssrc is its SSRC) for a report sent at now_us and
 * starts the next interval (A.3 expected_prior/received_prior). Fraction lost is for the
 * interval (0 when none were lost or more arrived than expected), cumulative lost is clamped
 * to the 24-bit signed field.
 */
void sp_rtp_stats_make_report_block(SpRtpStats *stats, guint32 ssrc, guint64 now_us,
				    SpRtcpReportBlock *out);

/* Cumulative figures for statistics, at any time (does not start a report interval). */
typedef struct {
	guint64 packets;	  /* valid packets received, duplicates included */
	guint64 octets;		  /* their payload octets */
	guint64 discarded;	  /* in probation or BAD */
	guint64 restarts;	  /* SP_RTP_SEQ_RESTARTED */
	guint32 extended_max_seq; /* cycles << 16 | highest seq */
	gint64 expected;	  /* extended_max - base + 1; 0 before any packet */
	gint64 lost;		  /* expected - packets; < 0 with duplicates */
	double loss_percent;	  /* lost / expected × 100, never below 0 */
	double jitter_ts;	  /* A.8 interarrival jitter, timestamp units */
	double jitter_ms;	  /* the same in ms at the clock rate */
} SpRtpStatsFigures;

void sp_rtp_stats_get(const SpRtpStats *stats, SpRtpStatsFigures *out);

/*
 * MOS estimate by the ITU-T G.107 E-model, simplified (see rtp-stats.c for the formula and its
 * sources): codec is "PCMU", "PCMA", "G722" or "opus" (any other is treated as G.711),
 * one_way_delay_ms the mouth-to-ear delay the caller can estimate (RTT/2 + jitter buffer +
 * a device share), loss_percent 0..100. sp_mos_r_factor() gives R, sp_mos_from_r() maps an R to
 * MOS in [1, 4.5].
 */
double sp_mos_r_factor(const char *codec, double one_way_delay_ms, double loss_percent);
double sp_mos_from_r(double r);
double sp_mos_estimate(const char *codec, double one_way_delay_ms, double loss_percent);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpRtpStats, sp_rtp_stats_free)

G_END_DECLS
