/* Unit tests of RTP, RTCP, receiver statistics and the MOS estimate. */
#include <math.h>
#include <string.h>

#include <glib.h>

#include "daemon/media/rtcp.h"
#include "daemon/media/rtp-stats.h"
#include "daemon/media/rtp.h"

/* ---- RTP ---------------------------------------------------------------------------------- */

static void test_rtp_round_trip(void)
{
	const guint8 payload[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	guint8 buf[64];
	SpRtpPacket p;
	gsize len;

	len = sp_rtp_build(buf, sizeof(buf), 0x88 /* masked to 8 */, TRUE, 65535, 0xdeadbeef,
			   0x01020304, payload, sizeof(payload));
	g_assert_cmpuint(len, ==, SP_RTP_HEADER_LEN + sizeof(payload));
	g_assert_cmpuint(buf[0], ==, 0x80);
	g_assert_true(sp_rtp_parse(buf, len, &p));
	g_assert_cmpuint(p.payload_type, ==, 8);
	g_assert_true(p.marker);
	g_assert_cmpuint(p.seq, ==, 65535);
	g_assert_cmpuint(p.ts, ==, 0xdeadbeef);
	g_assert_cmpuint(p.ssrc, ==, 0x01020304);
	g_assert_cmpuint(p.csrc_count, ==, 0);
	g_assert_false(p.has_extension);
	g_assert_cmpuint(p.padding_len, ==, 0);
	g_assert_true(p.payload == buf + SP_RTP_HEADER_LEN);
	g_assert_cmpmem(p.payload, p.payload_len, payload, sizeof(payload));

	/* No payload at all is a valid packet (e.g. a keepalive). */
	len = sp_rtp_build(buf, sizeof(buf), 0, FALSE, 1, 2, 3, NULL, 0);
	g_assert_cmpuint(len, ==, SP_RTP_HEADER_LEN);
	g_assert_true(sp_rtp_parse(buf, len, &p));
	g_assert_false(p.marker);
	g_assert_cmpuint(p.payload_len, ==, 0);
}

static void test_rtp_build_too_small(void)
{
	const guint8 payload[20] = {0};
	guint8 buf[31];

	g_assert_cmpuint(sp_rtp_build(buf, sizeof(buf), 0, FALSE, 0, 0, 0, payload, 20), ==, 0);
	g_assert_cmpuint(sp_rtp_build(buf, 11, 0, FALSE, 0, 0, 0, NULL, 0), ==, 0);
	g_assert_cmpuint(sp_rtp_build(buf, 12, 0, FALSE, 0, 0, 0, NULL, 0), ==, 12);
	g_assert_cmpuint(sp_rtp_build(buf, 31, 0, FALSE, 0, 0, 0, payload, 19), ==, 31);
}

/* V=2 P=1 X=1 CC=2, PT 0 with marker, two CSRCs, a 2-word extension, 3 payload octets, 4 pad. */
/* clang-format off */
static const guint8 full_packet[] = {
	0xb2, 0x80, 0x12, 0x34,	  /* V P X CC, M PT, seq */
	0x00, 0x00, 0x10, 0x00,	  /* ts */
	0xca, 0xfe, 0xba, 0xbe,	  /* ssrc */
	0x00, 0x00, 0x00, 0x01,	  /* csrc 1 */
	0x00, 0x00, 0x00, 0x02,	  /* csrc 2 */
	0xbe, 0xde, 0x00, 0x02,	  /* extension profile, length 2 words */
	0x11, 0x22, 0x33, 0x44,	  /* extension */
	0x55, 0x66, 0x77, 0x88,
	0xaa, 0xbb, 0xcc,	  /* payload */
	0x00, 0x00, 0x00, 0x04,	  /* padding, count 4 */
};
/* clang-format on */

static void test_rtp_csrc_extension_padding(void)
{
	SpRtpPacket p;

	g_assert_true(sp_rtp_parse(full_packet, sizeof(full_packet), &p));
	g_assert_true(p.marker);
	g_assert_cmpuint(p.payload_type, ==, 0);
	g_assert_cmpuint(p.seq, ==, 0x1234);
	g_assert_cmpuint(p.ts, ==, 0x1000);
	g_assert_cmpuint(p.ssrc, ==, 0xcafebabe);
	g_assert_cmpuint(p.csrc_count, ==, 2);
	g_assert_cmpuint(p.csrc[0], ==, 1);
	g_assert_cmpuint(p.csrc[1], ==, 2);
	g_assert_true(p.has_extension);
	g_assert_cmphex(p.extension_profile, ==, 0xbede);
	g_assert_cmpuint(p.padding_len, ==, 4);
	g_assert_cmpuint(p.payload_len, ==, 3);
	g_assert_cmpuint(p.payload[0], ==, 0xaa);
	g_assert_cmpuint(p.payload[2], ==, 0xcc);
}

static void test_rtp_fifteen_csrc(void)
{
	guint8 buf[12 + 15 * 4 + 1];
	SpRtpPacket p;
	guint i;

	memset(buf, 0, sizeof(buf));
	buf[0] = 0x8f;
	for (i = 0; i < 15; i++)
		buf[12 + 4 * i + 3] = (guint8)(i + 1);
	g_assert_true(sp_rtp_parse(buf, sizeof(buf), &p));
	g_assert_cmpuint(p.csrc_count, ==, 15);
	g_assert_cmpuint(p.csrc[14], ==, 15);
	g_assert_cmpuint(p.payload_len, ==, 1);
	/* Exactly the CSRC list, no payload: fine. One octet short: malformed. */
	g_assert_true(sp_rtp_parse(buf, sizeof(buf) - 1, &p));
	g_assert_cmpuint(p.payload_len, ==, 0);
	g_assert_false(sp_rtp_parse(buf, sizeof(buf) - 2, &p));
}

static void test_rtp_malformed(void)
{
	guint8 buf[sizeof(full_packet)];
	SpRtpPacket p;
	gsize i;

	g_assert_false(sp_rtp_parse(NULL, 0, &p));
	g_assert_false(sp_rtp_parse(full_packet, 0, &p));
	g_assert_false(sp_rtp_parse(full_packet, 11, &p));

	/* Versions 0, 1 and 3. */
	for (i = 0; i < 4; i++) {
		if (i == 2)
			continue;
		memcpy(buf, full_packet, sizeof(buf));
		buf[0] = (guint8)((buf[0] & 0x3f) | (i << 6));
		g_assert_false(sp_rtp_parse(buf, sizeof(buf), &p));
	}

	/* Every truncation cuts the CSRC list, the extension, or leaves a bad pad count. */
	for (i = 0; i < sizeof(full_packet); i++)
		g_assert_false(sp_rtp_parse(full_packet, i, &p));

	/* Without padding, truncation inside the CSRCs or the extension is still caught. */
	memcpy(buf, full_packet, sizeof(buf));
	buf[0] &= ~0x20;
	for (i = 0; i < 32; i++)
		g_assert_false(sp_rtp_parse(buf, i, &p));
	g_assert_true(sp_rtp_parse(buf, 32, &p));
	g_assert_cmpuint(p.payload_len, ==, 0);

	/* An extension length that runs past the end. */
	memcpy(buf, full_packet, sizeof(buf));
	buf[0] &= ~0x20;
	buf[23] = 4; /* 16 octets, 15 remain */
	g_assert_false(sp_rtp_parse(buf, sizeof(buf), &p));
	buf[23] = 3; /* ends exactly at the end: empty payload */
	g_assert_true(sp_rtp_parse(buf, 36, &p));
	g_assert_cmpuint(p.payload_len, ==, 0);

	/* A pad count of 0, or larger than payload + padding. */
	memcpy(buf, full_packet, sizeof(buf));
	buf[sizeof(buf) - 1] = 0;
	g_assert_false(sp_rtp_parse(buf, sizeof(buf), &p));
	buf[sizeof(buf) - 1] = 8;
	g_assert_false(sp_rtp_parse(buf, sizeof(buf), &p));
	buf[sizeof(buf) - 1] = 7; /* all of payload + padding: empty payload */
	g_assert_true(sp_rtp_parse(buf, sizeof(buf), &p));
	g_assert_cmpuint(p.payload_len, ==, 0);
	g_assert_cmpuint(p.padding_len, ==, 7);

	/* A header only, with P set: its last octet (in the SSRC) counts padding into the header.
	 */
	memcpy(buf, full_packet, 12);
	buf[0] = 0xa0;
	buf[11] = 1;
	g_assert_false(sp_rtp_parse(buf, 12, &p));
}

static void test_rtp_is_rtcp(void)
{
	guint8 b[2] = {0x80, 0};
	guint v;

	g_assert_false(sp_rtp_is_rtcp(b, 1));
	g_assert_false(sp_rtp_is_rtcp(NULL, 0));
	for (v = 0; v < 256; v++) {
		b[1] = (guint8)v;
		g_assert_cmpint(sp_rtp_is_rtcp(b, 2), ==, v >= 192 && v <= 223);
	}
	b[1] = SP_RTCP_SR;
	g_assert_true(sp_rtp_is_rtcp(b, 2));
	b[1] = 0x80 | 0; /* PCMU with marker: 128 */
	g_assert_false(sp_rtp_is_rtcp(b, 2));
}

/* ---- RTCP --------------------------------------------------------------------------------- */

static void test_rtcp_sr_round_trip(void)
{
	SpRtcpReport r = {
	    .ssrc = 0x11111111,
	    .sender = TRUE,
	    .sr = {.ntp = G_GUINT64_CONSTANT(0xe1234567890abcde),
		   .rtp_ts = 160000,
		   .packet_count = 1000,
		   .octet_count = 160000},
	    .has_block = TRUE,
	    .block = {.ssrc = 0x22222222,
		      .fraction_lost = 25,
		      .cumulative_lost = -3,
		      .highest_seq = 0x00012345,
		      .jitter = 77,
		      .lsr = 0xabcd1234,
		      .dlsr = 65536},
	    .cname = "softphoned@example",
	    .bye = TRUE,
	};
	guint8 buf[SP_RTCP_MAX_BUILD_LEN];
	SpRtcpInfo info;
	gsize len;

	len = sp_rtcp_build(buf, sizeof(buf), &r);
	/* SR 28 + block 24, SDES 4 + 4 + 2 + 18 + 1 -> 32, BYE 8 */
	g_assert_cmpuint(len, ==, 52 + 32 + 8);
	g_assert_cmpuint(len % 4, ==, 0);
	g_assert_cmpuint(buf[1], ==, SP_RTCP_SR);
	g_assert_cmpuint(buf[52 + 1], ==, SP_RTCP_SDES);
	g_assert_cmpuint(buf[84 + 1], ==, SP_RTCP_BYE);
	g_assert_true(sp_rtp_is_rtcp(buf, len));

	g_assert_true(sp_rtcp_parse(buf, len, 0x22222222, &info));
	g_assert_cmphex(info.ssrc, ==, 0x11111111);
	g_assert_true(info.has_sr);
	g_assert_cmphex(info.sr.ntp, ==, r.sr.ntp);
	g_assert_cmpuint(info.sr.rtp_ts, ==, 160000);
	g_assert_cmpuint(info.sr.packet_count, ==, 1000);
	g_assert_cmpuint(info.sr.octet_count, ==, 160000);
	g_assert_true(info.has_block);
	g_assert_cmphex(info.block.ssrc, ==, 0x22222222);
	g_assert_cmpuint(info.block.fraction_lost, ==, 25);
	g_assert_cmpint(info.block.cumulative_lost, ==, -3);
	g_assert_cmphex(info.block.highest_seq, ==, 0x00012345);
	g_assert_cmpuint(info.block.jitter, ==, 77);
	g_assert_cmphex(info.block.lsr, ==, 0xabcd1234);
	g_assert_cmpuint(info.block.dlsr, ==, 65536);
	g_assert_true(info.bye);
	g_assert_cmphex(info.bye_ssrc, ==, 0x11111111);

	/* A block about someone else is not returned. */
	g_assert_true(sp_rtcp_parse(buf, len, 0x33333333, &info));
	g_assert_false(info.has_block);

	/* Too small a buffer, by one word. */
	g_assert_cmpuint(sp_rtcp_build(buf, len - 1, &r), ==, 0);
}

static void test_rtcp_rr_round_trip(void)
{
	SpRtcpReport r = {.ssrc = 42, .cname = NULL};
	guint8 buf[SP_RTCP_MAX_BUILD_LEN];
	char long_cname[300];
	SpRtcpInfo info;
	gsize len;

	len = sp_rtcp_build(buf, sizeof(buf), &r);
	g_assert_cmpuint(len, ==, 8 + 12);
	g_assert_cmpuint(buf[0], ==, 0x80); /* RC 0 */
	g_assert_cmpuint(buf[1], ==, SP_RTCP_RR);
	g_assert_true(sp_rtcp_parse(buf, len, 1, &info));
	g_assert_cmpuint(info.ssrc, ==, 42);
	g_assert_false(info.has_sr);
	g_assert_false(info.has_block);
	g_assert_false(info.bye);

	/* A CNAME is cut at 255 octets, the packet still fits the documented maximum. */
	memset(long_cname, 'x', sizeof(long_cname) - 1);
	long_cname[sizeof(long_cname) - 1] = '\0';
	r.cname = long_cname;
	r.sender = TRUE;
	r.has_block = TRUE;
	r.bye = TRUE;
	len = sp_rtcp_build(buf, sizeof(buf), &r);
	g_assert_cmpuint(len, >, 0);
	g_assert_cmpuint(len, <=, SP_RTCP_MAX_BUILD_LEN);
	g_assert_cmpuint(buf[52 + 9], ==, 255);
	g_assert_true(sp_rtcp_parse(buf, len, 0, &info));
	g_assert_true(info.has_block);
}

static void put32(guint8 *p, guint32 v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* RR with 3 blocks (ours the second, cumulative lost -2), then SDES, then APP. */
static gsize make_rr_with_blocks(guint8 *buf)
{
	guint8 *p = buf;
	guint i;

	memset(buf, 0, 128);
	p[0] = 0x83;
	p[1] = SP_RTCP_RR;
	p[3] = (8 + 3 * 24) / 4 - 1;
	put32(p + 4, 0x5eed);
	for (i = 0; i < 3; i++) {
		guint8 *b = p + 8 + 24 * i;

		put32(b, 100 + i);
		b[4] = (guint8)(10 * i);
		if (i == 1) {
			b[5] = 0xff;
			b[6] = 0xff;
			b[7] = 0xfe;
		} else {
			b[7] = (guint8)i;
		}
		put32(b + 8, 1000 + i);
		put32(b + 12, 50 + i);
		put32(b + 16, 0x10000 * (i + 1));
		put32(b + 20, 0x8000);
	}
	p += 8 + 3 * 24;
	/* SDES with one chunk: SSRC, CNAME "ab", END, pad. */
	p[0] = 0x81;
	p[1] = SP_RTCP_SDES;
	p[3] = 2;
	put32(p + 4, 0x5eed);
	p[8] = 1;
	p[9] = 2;
	p[10] = 'a';
	p[11] = 'b';
	p += 12;
	/* APP: name + 4 octets of data */
	p[0] = 0x80;
	p[1] = SP_RTCP_APP;
	p[3] = 3;
	put32(p + 4, 0x5eed);
	memcpy(p + 8, "TEST", 4);
	p += 16;
	return (gsize)(p - buf);
}

static void test_rtcp_rr_blocks(void)
{
	guint8 buf[128];
	gsize len = make_rr_with_blocks(buf);
	SpRtcpInfo info;

	g_assert_true(sp_rtcp_parse(buf, len, 101, &info));
	g_assert_cmphex(info.ssrc, ==, 0x5eed);
	g_assert_false(info.has_sr);
	g_assert_true(info.has_block);
	g_assert_cmpuint(info.block.ssrc, ==, 101);
	g_assert_cmpuint(info.block.fraction_lost, ==, 10);
	g_assert_cmpint(info.block.cumulative_lost, ==, -2);
	g_assert_cmpuint(info.block.highest_seq, ==, 1001);
	g_assert_cmpuint(info.block.jitter, ==, 51);
	g_assert_cmphex(info.block.lsr, ==, 0x20000);
	g_assert_cmphex(info.block.dlsr, ==, 0x8000);
	g_assert_false(info.bye);

	g_assert_true(sp_rtcp_parse(buf, len, 102, &info));
	g_assert_cmpint(info.block.cumulative_lost, ==, 2);
}

static void test_rtcp_lying_lengths(void)
{
	guint8 buf[128], bad[128];
	gsize len = make_rr_with_blocks(buf);
	SpRtcpInfo info;
	gsize i;

	g_assert_false(sp_rtcp_parse(NULL, 0, 0, &info));
	/* Every truncation fails (a length no longer fits), but at a sub-packet boundary. */
	for (i = 0; i < len; i++) {
		gboolean boundary = i == 80 || i == 92;

		g_assert_cmpint(sp_rtcp_parse(buf, i, 101, &info), ==, boundary);
	}
	/* Trailing octets that are no packet. */
	memcpy(bad, buf, len);
	memset(bad + len, 0, 4);
	g_assert_false(sp_rtcp_parse(bad, len + 2, 101, &info));

	/* The RR's length one word longer than the data. */
	memcpy(bad, buf, len);
	bad[len - 16 + 3] = 4; /* APP says 20 octets, 16 remain */
	g_assert_false(sp_rtcp_parse(bad, len, 101, &info));
	/* A report count larger than the packet holds. */
	memcpy(bad, buf, len);
	bad[0] = 0x84;
	g_assert_false(sp_rtcp_parse(bad, len, 101, &info));
	/* Version 1 in the second packet. */
	memcpy(bad, buf, len);
	bad[80] = 0x41;
	g_assert_false(sp_rtcp_parse(bad, len, 101, &info));
	/* Padding on the first packet. */
	memcpy(bad, buf, len);
	bad[0] |= 0x20;
	g_assert_false(sp_rtcp_parse(bad, len, 101, &info));
	/* The first packet must be SR or RR. */
	g_assert_false(sp_rtcp_parse(buf + 80, len - 80, 101, &info));
	/* An SR too short for its sender info. */
	memcpy(bad, buf, len);
	bad[0] = 0x80;
	bad[1] = SP_RTCP_SR;
	bad[3] = 3; /* 16 octets */
	g_assert_false(sp_rtcp_parse(bad, 16, 101, &info));

	/* Padding on the last packet is fine when it fits, not when it lies. */
	memcpy(bad, buf, len);
	bad[len - 16] |= 0x20;
	bad[len - 1] = 4;
	g_assert_true(sp_rtcp_parse(bad, len, 101, &info));
	bad[len - 1] = 0;
	g_assert_false(sp_rtcp_parse(bad, len, 101, &info));
	bad[len - 1] = 13; /* more than the APP's 12 octets after its header */
	g_assert_false(sp_rtcp_parse(bad, len, 101, &info));

	/* A BYE whose source count does not fit. */
	{
		guint8 b[8 + 8] = {0x80, SP_RTCP_RR,  0, 1, 0, 0, 0, 1,
				   0x82, SP_RTCP_BYE, 0, 1, 0, 0, 0, 1};

		g_assert_false(sp_rtcp_parse(b, sizeof(b), 0, &info));
		b[8] = 0x81;
		g_assert_true(sp_rtcp_parse(b, sizeof(b), 0, &info));
		g_assert_true(info.bye);
		g_assert_cmpuint(info.bye_ssrc, ==, 1);
	}
}

static void test_rtcp_ntp(void)
{
	guint64 ntp = sp_ntp_from_unix_us(0);

	g_assert_cmphex(ntp, ==, G_GUINT64_CONSTANT(2208988800) << 32);
	ntp = sp_ntp_from_unix_us(1500000);
	g_assert_cmphex(ntp >> 32, ==, G_GUINT64_CONSTANT(2208988801));
	g_assert_cmphex(ntp & 0xffffffff, ==, 0x80000000);
	g_assert_cmphex(sp_ntp_middle32(ntp), ==, ((2208988801u & 0xffff) << 16) | 0x8000);
	g_assert_cmphex(sp_ntp_middle32(G_GUINT64_CONSTANT(0x123456789abcdef0)), ==, 0x56789abc);
	/* Monotone over a second. */
	g_assert_cmpuint(sp_ntp_from_unix_us(1999999), <, sp_ntp_from_unix_us(2000000));
}

static void test_rtcp_rtt(void)
{
	guint32 lsr = 0x12340000;
	guint32 dlsr = 65536 / 2; /* 0.5 s */
	/* arrival 0.6 s after our SR left */
	guint32 a = lsr + (guint32)(0.6 * 65536);

	g_assert_cmpfloat_with_epsilon(sp_rtcp_rtt_ms(a, lsr, dlsr), 100.0, 0.1);
	g_assert_true(isnan(sp_rtcp_rtt_ms(a, 0, dlsr)));
	/* Slightly negative: rounding, 0. Far negative: bogus. */
	g_assert_cmpfloat(sp_rtcp_rtt_ms(lsr + dlsr - 10, lsr, dlsr), ==, 0.0);
	g_assert_true(isnan(sp_rtcp_rtt_ms(lsr + dlsr - 65536, lsr, dlsr)));
	/* Across the wrap of the 32-bit middle word. */
	lsr = 0xffff8000;
	a = lsr + 65536 / 4 + 65536 / 10;
	g_assert_cmpfloat_with_epsilon(sp_rtcp_rtt_ms(a, lsr, 65536 / 4), 100.0, 0.1);
}

static void test_rtcp_interval(void)
{
	double r;

	g_assert_cmpuint(sp_rtcp_interval_us(0), ==, 2500000);
	g_assert_cmpuint(sp_rtcp_interval_us(0.5), ==, 5000000);
	g_assert_cmpuint(sp_rtcp_interval_us(0.999999), <, 7500000);
	g_assert_cmpuint(sp_rtcp_interval_us(0.999999), >, 7499000);
	g_assert_cmpuint(sp_rtcp_interval_us(-1), ==, 2500000);
	g_assert_cmpuint(sp_rtcp_interval_us(NAN), ==, 2500000);
	g_assert_cmpuint(sp_rtcp_interval_us(7), ==, 7500000);
	g_assert_cmpuint(sp_rtcp_first_interval_us(0.5), ==, 2500000);
	for (r = 0; r < 1; r += 0.01) {
		g_assert_cmpuint(sp_rtcp_interval_us(r), >=, 2500000);
		g_assert_cmpuint(sp_rtcp_interval_us(r), <=, 7500000);
		g_assert_cmpuint(sp_rtcp_first_interval_us(r), >=, 1250000);
		g_assert_cmpuint(sp_rtcp_first_interval_us(r), <=, 3750000);
	}
}

/* ---- receiver statistics ------------------------------------------------------------------ */

#define PTIME_US 20000

/* Feeds seq/ts of a 20 ms PCMU stream, packet i arriving at i × 20 ms + extra_us[i]. */
static SpRtpSeqResult feed(SpRtpStats *s, guint16 seq, guint32 ts, guint64 arrival_us)
{
	return sp_rtp_stats_received(s, seq, ts, 160, arrival_us, TRUE);
}

static void test_stats_probation(void)
{
	g_autoptr(SpRtpStats) s = sp_rtp_stats_new(8000);
	SpRtpStatsFigures f;
	SpRtcpReportBlock b;

	g_assert_false(sp_rtp_stats_has_received(s));
	g_assert_cmpint(feed(s, 100, 0, 0), ==, SP_RTP_SEQ_PROBATION);
	g_assert_false(sp_rtp_stats_has_received(s));
	/* Not sequential: probation again. */
	g_assert_cmpint(feed(s, 200, 160, 20000), ==, SP_RTP_SEQ_PROBATION);
	g_assert_cmpint(feed(s, 201, 320, 40000), ==, SP_RTP_SEQ_VALID);
	g_assert_true(sp_rtp_stats_has_received(s));
	g_assert_cmpint(feed(s, 202, 480, 60000), ==, SP_RTP_SEQ_VALID);
	sp_rtp_stats_get(s, &f);
	g_assert_cmpuint(f.packets, ==, 2);
	g_assert_cmpuint(f.discarded, ==, 2);
	g_assert_cmpint(f.expected, ==, 2);
	g_assert_cmpint(f.lost, ==, 0);
	g_assert_cmpuint(f.extended_max_seq, ==, 202);
	sp_rtp_stats_make_report_block(s, 0xabc, 60000, &b);
	g_assert_cmpuint(b.ssrc, ==, 0xabc);
	g_assert_cmpuint(b.fraction_lost, ==, 0);
	g_assert_cmpint(b.cumulative_lost, ==, 0);
	g_assert_cmpuint(b.highest_seq, ==, 202);
	g_assert_cmpuint(b.lsr, ==, 0);
	g_assert_cmpuint(b.dlsr, ==, 0);

	sp_rtp_stats_reset(s);
	g_assert_false(sp_rtp_stats_has_received(s));
	sp_rtp_stats_get(s, &f);
	g_assert_cmpuint(f.packets, ==, 0);
}

static void test_stats_loss(void)
{
	g_autoptr(SpRtpStats) s = sp_rtp_stats_new(8000);
	SpRtpStatsFigures f;
	SpRtcpReportBlock b;
	guint i;

	/* seq 0 is probation; 1..201 counted, every 10th of them missing. */
	for (i = 0; i <= 201; i++) {
		if (i > 1 && i % 10 == 0)
			continue;
		feed(s, (guint16)i, i * 160, (guint64)i * PTIME_US);
	}
	sp_rtp_stats_get(s, &f);
	g_assert_cmpint(f.expected, ==, 201);
	g_assert_cmpint(f.lost, ==, 20);
	g_assert_cmpfloat_with_epsilon(f.loss_percent, 2000.0 / 201, 1e-9);
	sp_rtp_stats_make_report_block(s, 1, 201 * PTIME_US, &b);
	g_assert_cmpuint(b.fraction_lost, ==, 20 * 256 / 201);
	g_assert_cmpint(b.cumulative_lost, ==, 20);

	/* The next interval without loss: fraction 0, cumulative unchanged. */
	for (i = 202; i <= 300; i++)
		feed(s, (guint16)i, i * 160, (guint64)i * PTIME_US);
	sp_rtp_stats_make_report_block(s, 1, 300 * PTIME_US, &b);
	g_assert_cmpuint(b.fraction_lost, ==, 0);
	g_assert_cmpint(b.cumulative_lost, ==, 20);
	g_assert_cmpuint(b.highest_seq, ==, 300);
}

static void test_stats_duplicates(void)
{
	g_autoptr(SpRtpStats) s = sp_rtp_stats_new(8000);
	SpRtpStatsFigures f;
	SpRtcpReportBlock b;
	guint i;

	for (i = 0; i <= 100; i++) {
		feed(s, (guint16)i, i * 160, (guint64)i * PTIME_US);
		if (i > 1 && i % 10 == 0)
			g_assert_cmpint(feed(s, (guint16)i, i * 160, (guint64)i * PTIME_US + 100),
					==, SP_RTP_SEQ_VALID);
	}
	sp_rtp_stats_get(s, &f);
	g_assert_cmpint(f.expected, ==, 100);
	g_assert_cmpuint(f.packets, ==, 110);
	g_assert_cmpint(f.lost, ==, -10);
	g_assert_cmpfloat(f.loss_percent, ==, 0);
	sp_rtp_stats_make_report_block(s, 1, 0, &b);
	g_assert_cmpuint(b.fraction_lost, ==, 0);
	g_assert_cmpint(b.cumulative_lost, ==, -10);
}

static void test_stats_reorder(void)
{
	g_autoptr(SpRtpStats) s = sp_rtp_stats_new(8000);
	SpRtpStatsFigures f;
	guint i;

	feed(s, 0, 0, 0);
	feed(s, 1, 160, PTIME_US);
	for (i = 2; i + 1 <= 101; i += 2) {
		/* pairs swapped */
		g_assert_cmpint(feed(s, (guint16)(i + 1), (i + 1) * 160, (guint64)i * PTIME_US), ==,
				SP_RTP_SEQ_VALID);
		g_assert_cmpint(feed(s, (guint16)i, i * 160, (guint64)(i + 1) * PTIME_US), ==,
				SP_RTP_SEQ_VALID);
	}
	sp_rtp_stats_get(s, &f);
	g_assert_cmpuint(f.extended_max_seq, ==, 101);
	g_assert_cmpint(f.lost, ==, 0);
	g_assert_cmpint(f.expected, ==, 101);
	g_assert_cmpuint(f.packets, ==, f.expected);
}

static void test_stats_wrap(void)
{
	g_autoptr(SpRtpStats) s = sp_rtp_stats_new(8000);
	SpRtpStatsFigures f;
	guint32 i;

	for (i = 0; i < 150; i++) {
		guint16 seq = (guint16)(65436 + i);

		g_assert_cmpint(feed(s, seq, i * 160, (guint64)i * PTIME_US), ==,
				i == 0 ? SP_RTP_SEQ_PROBATION : SP_RTP_SEQ_VALID);
	}
	sp_rtp_stats_get(s, &f);
	g_assert_cmpuint(f.extended_max_seq, ==, 65536 + 49);
	g_assert_cmpint(f.expected, ==, 149);
	g_assert_cmpint(f.lost, ==, 0);
	/* A reordered packet from before the wrap does not count a cycle. */
	g_assert_cmpint(feed(s, 65534, 98 * 160, 200 * PTIME_US), ==, SP_RTP_SEQ_VALID);
	sp_rtp_stats_get(s, &f);
	g_assert_cmpuint(f.extended_max_seq, ==, 65536 + 49);
	/* 100 behind is beyond MAX_MISORDER: a jump, not a reorder. */
	g_assert_cmpint(feed(s, 65485, 0, 201 * PTIME_US), ==, SP_RTP_SEQ_BAD);
}

static void test_stats_restart(void)
{
	g_autoptr(SpRtpStats) s = sp_rtp_stats_new(8000);
	SpRtpStatsFigures f;
	guint i;

	for (i = 0; i < 50; i++)
		feed(s, (guint16)(1000 + i), i * 160, (guint64)i * PTIME_US);
	/* A jump of 20000: bad until the next packet confirms it. */
	g_assert_cmpint(feed(s, 21000, 0, 50 * PTIME_US), ==, SP_RTP_SEQ_BAD);
	g_assert_cmpint(feed(s, 1050, 50 * 160, 51 * PTIME_US), ==, SP_RTP_SEQ_VALID);
	g_assert_cmpint(feed(s, 30000, 0, 52 * PTIME_US), ==, SP_RTP_SEQ_BAD);
	g_assert_cmpint(feed(s, 30001, 160, 53 * PTIME_US), ==, SP_RTP_SEQ_RESTARTED);
	g_assert_cmpint(feed(s, 30002, 320, 54 * PTIME_US), ==, SP_RTP_SEQ_VALID);
	sp_rtp_stats_get(s, &f);
	g_assert_cmpuint(f.restarts, ==, 1);
	g_assert_cmpuint(f.discarded, ==, 3); /* the probation packet and the two jumps */
	g_assert_cmpuint(f.extended_max_seq, ==, 30002);
	g_assert_cmpint(f.expected, ==, 2);
	g_assert_cmpuint(f.packets, ==, 2);
	g_assert_cmpint(f.lost, ==, 0);
}

static void test_stats_jitter(void)
{
	g_autoptr(SpRtpStats) steady = sp_rtp_stats_new(8000);
	g_autoptr(SpRtpStats) jittered = sp_rtp_stats_new(8000);
	g_autoptr(GRand) rand = g_rand_new_with_seed(42);
	SpRtpStatsFigures f;
	guint i;

	for (i = 0; i < 500; i++) {
		feed(steady, (guint16)i, i * 160, 1000000 + (guint64)i * PTIME_US);
		feed(jittered, (guint16)i, i * 160,
		     1000000 + (guint64)i * PTIME_US + (guint64)g_rand_int_range(rand, 0, 20000));
		/* Telephone-event packets with a fixed timestamp do not disturb it. */
		sp_rtp_stats_received(steady, (guint16)(i + 10000), 0, 4, (guint64)i * PTIME_US,
				      FALSE);
	}
	sp_rtp_stats_get(steady, &f);
	g_assert_cmpfloat(f.jitter_ts, <, 1.0);
	g_assert_cmpfloat(f.jitter_ms, <, 0.125);
	sp_rtp_stats_get(jittered, &f);
	/* Uniform 0..20 ms: mean |D| is 20/3 ms, about 53 timestamp units. */
	g_assert_cmpfloat(f.jitter_ms, >, 4.0);
	g_assert_cmpfloat(f.jitter_ms, <, 10.0);
	g_assert_cmpfloat_with_epsilon(f.jitter_ms, f.jitter_ts / 8.0, 1e-9);
}

static void test_stats_report_block_lsr(void)
{
	g_autoptr(SpRtpStats) s = sp_rtp_stats_new(8000);
	guint64 ntp = G_GUINT64_CONSTANT(0xe0000001) << 32 | 0x80000000;
	SpRtcpReportBlock b;
	guint i;

	for (i = 0; i < 10; i++)
		feed(s, (guint16)i, i * 160, (guint64)i * PTIME_US);
	sp_rtp_stats_sr_received(s, ntp, 5000000);
	sp_rtp_stats_make_report_block(s, 7, 6500000, &b);
	g_assert_cmphex(b.lsr, ==, 0x00018000);
	g_assert_cmpuint(b.dlsr, ==, 65536 * 3 / 2);
	/* The report arriving back 0.2 s later yields RTT 0.2 s on the far end's side. */
	g_assert_cmpfloat_with_epsilon(sp_rtcp_rtt_ms(b.lsr + b.dlsr + 65536 / 5, b.lsr, b.dlsr),
				       200.0, 0.1);
}

/* ---- MOS ----------------------------------------------------------------------------------- */

static void test_mos(void)
{
	double prev = 5;
	double loss;

	/* R = 93.2 (no delay, no loss): MOS 4.41 */
	g_assert_cmpfloat_with_epsilon(sp_mos_r_factor("PCMU", 0, 0), 93.2, 1e-9);
	g_assert_cmpfloat_with_epsilon(sp_mos_from_r(93.2), 4.409, 0.001);
	g_assert_cmpfloat_with_epsilon(sp_mos_estimate("PCMA", 0, 0), 4.409, 0.001);
	g_assert_cmpfloat_with_epsilon(sp_mos_estimate("opus", 0, 0), 4.409, 0.001);
	/* Delay: 0.024 d below 177.3 ms, steeper above. */
	g_assert_cmpfloat_with_epsilon(sp_mos_r_factor("PCMU", 100, 0), 93.2 - 2.4, 1e-9);
	g_assert_cmpfloat_with_epsilon(sp_mos_r_factor("PCMU", 277.3, 0), 93.2 - 0.024 * 277.3 - 11,
				       1e-9);
	/* Loss: Ie_eff = 95 Ppl / (Ppl + Bpl); 5 % on G.711 with PLC: 95 × 5 / 30.1. */
	g_assert_cmpfloat_with_epsilon(sp_mos_r_factor("PCMU", 0, 5), 93.2 - 95.0 * 5 / 30.1, 1e-9);
	g_assert_cmpfloat_with_epsilon(sp_mos_r_factor("opus", 0, 5), 93.2 - 95.0 * 5 / 25, 1e-9);
	/* Heavy loss lowers it monotonically, down to the floor. */
	for (loss = 0; loss <= 100; loss += 2.5) {
		double mos = sp_mos_estimate("PCMU", 50, loss);

		g_assert_cmpfloat(mos, <, prev);
		g_assert_cmpfloat(mos, >=, 1.0);
		prev = mos;
	}
	g_assert_cmpfloat(sp_mos_estimate("G722", 800, 60), ==, 1.0);
	g_assert_cmpfloat(sp_mos_from_r(-5), ==, 1.0);
	g_assert_cmpfloat(sp_mos_from_r(120), ==, 4.5);
	/* Unknown codec and nonsense input: treated as G.711, nothing worse than bounds. */
	g_assert_cmpfloat_with_epsilon(sp_mos_estimate(NULL, NAN, -3), 4.409, 0.001);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/media/rtp/round-trip", test_rtp_round_trip);
	g_test_add_func("/media/rtp/build-too-small", test_rtp_build_too_small);
	g_test_add_func("/media/rtp/csrc-extension-padding", test_rtp_csrc_extension_padding);
	g_test_add_func("/media/rtp/fifteen-csrc", test_rtp_fifteen_csrc);
	g_test_add_func("/media/rtp/malformed", test_rtp_malformed);
	g_test_add_func("/media/rtp/is-rtcp", test_rtp_is_rtcp);
	g_test_add_func("/media/rtcp/sr-round-trip", test_rtcp_sr_round_trip);
	g_test_add_func("/media/rtcp/rr-round-trip", test_rtcp_rr_round_trip);
	g_test_add_func("/media/rtcp/rr-blocks", test_rtcp_rr_blocks);
	g_test_add_func("/media/rtcp/lying-lengths", test_rtcp_lying_lengths);
	g_test_add_func("/media/rtcp/ntp", test_rtcp_ntp);
	g_test_add_func("/media/rtcp/rtt", test_rtcp_rtt);
	g_test_add_func("/media/rtcp/interval", test_rtcp_interval);
	g_test_add_func("/media/rtp-stats/probation", test_stats_probation);
	g_test_add_func("/media/rtp-stats/loss", test_stats_loss);
	g_test_add_func("/media/rtp-stats/duplicates", test_stats_duplicates);
	g_test_add_func("/media/rtp-stats/reorder", test_stats_reorder);
	g_test_add_func("/media/rtp-stats/wrap", test_stats_wrap);
	g_test_add_func("/media/rtp-stats/restart", test_stats_restart);
	g_test_add_func("/media/rtp-stats/jitter", test_stats_jitter);
	g_test_add_func("/media/rtp-stats/report-block-lsr", test_stats_report_block_lsr);
	g_test_add_func("/media/mos/points", test_mos);

	return g_test_run();
}
