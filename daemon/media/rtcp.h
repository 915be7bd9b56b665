/* RTCP (RFC 3550 §6): compound packets, NTP timestamps, round-trip time, report interval. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SP_RTCP_SR 200
#define SP_RTCP_RR 201
#define SP_RTCP_SDES 202
#define SP_RTCP_BYE 203
#define SP_RTCP_APP 204

/* Room enough for what sp_rtcp_build() writes: SR + one block + SDES (255-octet CNAME) + BYE. */
#define SP_RTCP_MAX_BUILD_LEN 400

/* A reception report block (RFC 3550 §6.4.1), in host order, about the source ssrc. */
typedef struct {
	guint32 ssrc;		/* the source this block is about */
	guint8 fraction_lost;	/* since the previous report, in 1/256 */
	gint32 cumulative_lost; /* signed 24 bits: -8388608..8388607 */
	guint32 highest_seq;	/* extended highest sequence number received */
	guint32 jitter;		/* interarrival jitter, RTP timestamp units */
	guint32 lsr;		/* middle 32 bits of the last SR's NTP timestamp; 0: none */
	guint32 dlsr;		/* delay since that SR, 1/65536 s; 0 when lsr is 0 */
} SpRtcpReportBlock;

/* The sender info of an SR (RFC 3550 §6.4.1). */
typedef struct {
	guint64 ntp;	      /* 64-bit NTP timestamp (seconds in the high 32 bits) */
	guint32 rtp_ts;	      /* the RTP timestamp of the same instant */
	guint32 packet_count; /* RTP packets sent since the start */
	guint32 octet_count;  /* RTP payload octets sent since the start */
} SpRtcpSenderInfo;

/* What a received compound packet says that a stream uses. */
typedef struct {
	guint32 ssrc;	 /* sender of the first SR/RR */
	gboolean has_sr; /* the compound held an SR; sr is the first one's sender info */
	SpRtcpSenderInfo sr;
	gboolean has_block; /* a report block about our SSRC was found (the first one) */
	SpRtcpReportBlock block;
	gboolean bye;	  /* a BYE was present */
	guint32 bye_ssrc; /* the first SSRC it names (when bye) */
} SpRtcpInfo;

/*
 * Parses the compound packet data[0..len) (RFC 3550 §6.1 and the validity checks of A.2):
 * every sub-packet has version 2 and a length that fits in what remains, the lengths add up to
 * len exactly, the first sub-packet is an SR or RR without padding, only the last may be padded.
 * SR/RR sender info and report blocks are read (the block whose SSRC is our_ssrc is returned),
 * SDES, APP and unknown types are skipped, BYE is noted. FALSE when the packet must be
 * discarded; *out is then undefined.
 */
gboolean sp_rtcp_parse(const guint8 *data, gsize len, guint32 our_ssrc, SpRtcpInfo *out);

/* What sp_rtcp_build() writes. */
typedef struct {
	guint32 ssrc;	 /* ours */
	gboolean sender; /* we sent RTP since the last report: SR with sr, else RR */
	SpRtcpSenderInfo sr;
	gboolean has_block; /* one report block (about the far end, when we have received) */
	SpRtcpReportBlock block;
	const char *cname; /* SDES CNAME, at most 255 octets used; NULL or "" writes an empty one */
	gboolean bye;	   /* append a BYE for ssrc */
} SpRtcpReport;

/*
 * Writes the compound packet SR|RR [+ block], SDES (CNAME), [BYE] into buf[0..size). Returns
 * its length (a multiple of 4), or 0 when it does not fit.
 */
gsize sp_rtcp_build(guint8 *buf, gsize size, const SpRtcpReport *report);

/* A 64-bit NTP timestamp (RFC 5905: seconds since 1900 . 2^-32 fractions) of a wall-clock time
 * given in microseconds since the Unix epoch (as g_get_real_time() returns; the caller reads
 * the clock). */
guint64 sp_ntp_from_unix_us(gint64 unix_us);
/* The middle 32 bits of an NTP timestamp (16.16 fixed point seconds), as LSR and A use them. */
guint32 sp_ntp_middle32(guint64 ntp);

/*
 * RFC 3550 §6.4.1 round-trip time: A - LSR - DLSR, where arrival_middle32 (A) is the middle 32
 * bits of our NTP time when the report block arrived. In milliseconds; NAN when lsr is 0 (the
 * far end has no SR of ours) or the result is more than 100 ms negative (a bogus report). A
 * slightly negative result (rounding on a very short path) is 0.
 */
double sp_rtcp_rtt_ms(guint32 arrival_middle32, guint32 lsr, guint32 dlsr);

/*
 * The RTCP report interval, RFC 3550 §6.3 simplified to a fixed 5 s deterministic interval:
 * uniformly in [0.5, 1.5] × 5 s as random01 goes over [0, 1) (the caller draws it, e.g. with
 * g_random_double(); values outside are clamped). The first report after a stream starts uses
 * half of that (sp_rtcp_first_interval_us).
 */
#define SP_RTCP_INTERVAL_US G_GUINT64_CONSTANT(5000000)
guint64 sp_rtcp_interval_us(double random01);
guint64 sp_rtcp_first_interval_us(double random01);

G_END_DECLS
