/* RTCP (RFC 3550 §6): compound packets, NTP timestamps, round-trip time, report interval. */
#include "daemon/media/rtcp.h"

#include <math.h>
#include <string.h>

#define NTP_UNIX_OFFSET G_GUINT64_CONSTANT(2208988800) /* 1900-01-01 to 1970-01-01, seconds */
#define BLOCK_LEN 24
#define SENDER_INFO_LEN 20

static guint32 get32(const guint8 *p)
{
	return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

static void put32(guint8 *p, guint32 v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static void put_header(guint8 *p, gboolean padding, guint count, guint8 type, gsize len)
{
	p[0] = (2 << 6) | (padding ? 0x20 : 0) | (count & 0x1f);
	p[1] = type;
	/* In 32-bit words minus one. */
	p[2] = ((len / 4 - 1) >> 8) & 0xff;
	p[3] = (len / 4 - 1) & 0xff;
}

static void parse_block(const guint8 *p, SpRtcpReportBlock *b)
{
	guint32 lost = ((guint32)p[5] << 16) | ((guint32)p[6] << 8) | p[7];

	b->ssrc = get32(p);
	b->fraction_lost = p[4];
	/* Sign-extend the 24-bit field. */
	b->cumulative_lost = (lost & 0x800000) ? (gint32)(lost | 0xff000000u) : (gint32)lost;
	b->highest_seq = get32(p + 8);
	b->jitter = get32(p + 12);
	b->lsr = get32(p + 16);
	b->dlsr = get32(p + 20);
}

static void write_block(guint8 *p, const SpRtcpReportBlock *b)
{
	gint32 lost = CLAMP(b->cumulative_lost, -8388608, 8388607);
	guint32 l24 = (guint32)lost & 0xffffff;

	put32(p, b->ssrc);
	p[4] = b->fraction_lost;
	p[5] = (l24 >> 16) & 0xff;
	p[6] = (l24 >> 8) & 0xff;
	p[7] = l24 & 0xff;
	put32(p + 8, b->highest_seq);
	put32(p + 12, b->jitter);
	put32(p + 16, b->lsr);
	put32(p + 20, b->dlsr);
}

/* An SR or RR body: [sender info] + count report blocks, all within body[0..len). */
static gboolean parse_report(const guint8 *pkt, gsize len, gboolean sr, guint32 our_ssrc,
			     gboolean first, SpRtcpInfo *out)
{
	guint count = pkt[0] & 0x1f;
	gsize off = 8;
	guint i;

	if (len < 8)
		return FALSE;
	if (sr) {
		if (len < 8 + SENDER_INFO_LEN)
			return FALSE;
		off += SENDER_INFO_LEN;
	}
	if ((len - off) / BLOCK_LEN < count)
		return FALSE;

	if (first)
		out->ssrc = get32(pkt + 4);
	if (sr && !out->has_sr) {
		out->has_sr = TRUE;
		out->sr.ntp = ((guint64)get32(pkt + 8) << 32) | get32(pkt + 12);
		out->sr.rtp_ts = get32(pkt + 16);
		out->sr.packet_count = get32(pkt + 20);
		out->sr.octet_count = get32(pkt + 24);
	}
	for (i = 0; i < count; i++, off += BLOCK_LEN) {
		if (!out->has_block && get32(pkt + off) == our_ssrc) {
			parse_block(pkt + off, &out->block);
			out->has_block = TRUE;
		}
	}
	return TRUE;
}

gboolean sp_rtcp_parse(const guint8 *data, gsize len, guint32 our_ssrc, SpRtcpInfo *out)
{
	gsize off = 0;
	gboolean first = TRUE;

	if (!data || !out || len < 4)
		return FALSE;
	memset(out, 0, sizeof(*out));

	while (off < len) {
		const guint8 *pkt = data + off;
		gsize remain = len - off;
		gsize plen, body_len;
		guint8 type;

		if (remain < 4)
			return FALSE;
		if ((pkt[0] >> 6) != 2)
			return FALSE;
		plen = 4 * ((gsize)((pkt[2] << 8) | pkt[3]) + 1);
		if (plen > remain)
			return FALSE;
		type = pkt[1];
		body_len = plen;

		if (pkt[0] & 0x20) {
			/* Only the last packet may be padded; its last octet counts the padding. */
			guint pad = pkt[plen - 1];

			if (off + plen != len || first || pad == 0 || pad > plen - 4)
				return FALSE;
			body_len = plen - pad;
		}

		if (first && type != SP_RTCP_SR && type != SP_RTCP_RR)
			return FALSE;

		switch (type) {
		case SP_RTCP_SR:
		case SP_RTCP_RR:
			if (!parse_report(pkt, body_len, type == SP_RTCP_SR, our_ssrc, first, out))
				return FALSE;
			break;
		case SP_RTCP_BYE: {
			guint count = pkt[0] & 0x1f;

			if ((body_len - 4) / 4 < count)
				return FALSE;
			if (!out->bye && count > 0)
				out->bye_ssrc = get32(pkt + 4);
			out->bye = TRUE;
			break;
		}
		default:
			/* SDES, APP, feedback, XR: not used here. */
			break;
		}

		first = FALSE;
		off += plen;
	}
	return TRUE;
}

gsize sp_rtcp_build(guint8 *buf, gsize size, const SpRtcpReport *report)
{
	gsize cname_len = report->cname ? MIN(strlen(report->cname), 255) : 0;
	gsize report_len =
	    8 + (report->sender ? SENDER_INFO_LEN : 0) + (report->has_block ? BLOCK_LEN : 0);
	/* SDES: header, one chunk (SSRC, CNAME item, END), padded to a 32-bit boundary. */
	gsize sdes_len = (4 + 4 + 2 + cname_len + 1 + 3) / 4 * 4;
	gsize bye_len = report->bye ? 8 : 0;
	gsize total = report_len + sdes_len + bye_len;
	guint8 *p = buf;

	if (!buf || size < total)
		return 0;
	memset(buf, 0, total);

	put_header(p, FALSE, report->has_block ? 1 : 0, report->sender ? SP_RTCP_SR : SP_RTCP_RR,
		   report_len);
	put32(p + 4, report->ssrc);
	p += 8;
	if (report->sender) {
		put32(p, report->sr.ntp >> 32);
		put32(p + 4, report->sr.ntp & 0xffffffff);
		put32(p + 8, report->sr.rtp_ts);
		put32(p + 12, report->sr.packet_count);
		put32(p + 16, report->sr.octet_count);
		p += SENDER_INFO_LEN;
	}
	if (report->has_block) {
		write_block(p, &report->block);
		p += BLOCK_LEN;
	}

	put_header(p, FALSE, 1, SP_RTCP_SDES, sdes_len);
	put32(p + 4, report->ssrc);
	p[8] = 1; /* CNAME */
	p[9] = (guint8)cname_len;
	if (cname_len > 0)
		memcpy(p + 10, report->cname, cname_len);
	/* The END item and the padding are the zeroes already there. */
	p += sdes_len;

	if (report->bye) {
		put_header(p, FALSE, 1, SP_RTCP_BYE, bye_len);
		put32(p + 4, report->ssrc);
	}
	return total;
}

guint64 sp_ntp_from_unix_us(gint64 unix_us)
{
	guint64 sec, usec;

	if (unix_us < 0)
		unix_us = 0;
	sec = (guint64)unix_us / G_USEC_PER_SEC + NTP_UNIX_OFFSET;
	usec = (guint64)unix_us % G_USEC_PER_SEC;
	return (sec << 32) | ((usec << 32) / G_USEC_PER_SEC);
}

guint32 sp_ntp_middle32(guint64 ntp)
{
	return (guint32)((ntp >> 16) & 0xffffffff);
}

double sp_rtcp_rtt_ms(guint32 arrival_middle32, guint32 lsr, guint32 dlsr)
{
	gint32 rtt;

	if (lsr == 0)
		return NAN;
	rtt = (gint32)(arrival_middle32 - lsr - dlsr);
	if (rtt < 0) {
		if (rtt < -65536 / 10)
			return NAN;
		return 0;
	}
	return rtt * 1000.0 / 65536.0;
}

guint64 sp_rtcp_interval_us(double random01)
{
	if (!(random01 >= 0)) /* also NAN */
		random01 = 0;
	if (random01 > 1)
		random01 = 1;
	return (guint64)(SP_RTCP_INTERVAL_US * (0.5 + random01));
}

guint64 sp_rtcp_first_interval_us(double random01)
{
	return sp_rtcp_interval_us(random01) / 2;
}
