/* libFuzzer target: RTP/RTCP parsers, telephone-event decoding and the jitter buffer's input. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/media/jitter.h"
#include "daemon/media/rtcp.h"
#include "daemon/media/rtp-stats.h"
#include "daemon/media/rtp.h"
#include "daemon/media/telephone-event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile guint sink;

/* Reads every octet the parser says is payload, so ASan sees a pointer past the input. */
static void touch(const guint8 *p, gsize len)
{
	guint sum = 0;
	gsize i;

	for (i = 0; i < len; i++)
		sum += p[i];
	sink = sum;
}

static void fuzz_rtp(const guint8 *data, gsize size)
{
	guint8 buf[2048];
	SpRtpPacket p, q;
	gsize len;

	sink = sp_rtp_is_rtcp(data, size);
	if (!sp_rtp_parse(data, size, &p))
		return;
	g_assert(p.csrc_count <= SP_RTP_MAX_CSRC);
	g_assert(p.payload >= data && p.payload + p.payload_len <= data + size);
	touch(p.payload, p.payload_len);

	/* What was parsed builds and parses back the same. */
	len = sp_rtp_build(buf, sizeof(buf), p.payload_type, p.marker, p.seq, p.ts, p.ssrc,
			   p.payload, p.payload_len);
	if (len == 0)
		return;
	g_assert(sp_rtp_parse(buf, len, &q));
	g_assert(q.payload_type == p.payload_type && q.marker == p.marker && q.seq == p.seq &&
		 q.ts == p.ts && q.ssrc == p.ssrc && q.payload_len == p.payload_len);
	g_assert(memcmp(q.payload, p.payload, p.payload_len) == 0);
}

static void fuzz_rtcp(const guint8 *data, gsize size)
{
	guint8 buf[SP_RTCP_MAX_BUILD_LEN];
	SpRtcpInfo info, back;
	SpRtcpReport r = {0};
	guint32 ours = size >= 32 ? ((guint32)data[28] << 24 | (guint32)data[29] << 16 |
				     (guint32)data[30] << 8 | data[31])
				  : 0;
	char cname[64];
	gsize len, n;
	double rtt;

	if (!sp_rtcp_parse(data, size, ours, &info))
		return;
	rtt = sp_rtcp_rtt_ms(info.block.lsr + info.block.dlsr + 1000, info.block.lsr,
			     info.block.dlsr);
	g_assert(isnan(rtt) || (rtt >= 0 && rtt < 65536.0 * 1000));

	/* Rebuild a report from what was read; it must parse back. */
	n = MIN(size, sizeof(cname) - 1);
	memcpy(cname, data, n);
	cname[n] = '\0';
	r.ssrc = info.ssrc;
	r.sender = info.has_sr;
	r.sr = info.sr;
	r.has_block = info.has_block;
	r.block = info.block;
	r.cname = cname;
	r.bye = info.bye;
	len = sp_rtcp_build(buf, sizeof(buf), &r);
	g_assert(len > 0);
	g_assert(sp_rtcp_parse(buf, len, info.block.ssrc, &back));
	g_assert(back.ssrc == info.ssrc && back.has_sr == info.has_sr &&
		 back.has_block == info.has_block && back.bye == info.bye);
	if (info.has_block) {
		g_assert(back.block.highest_seq == info.block.highest_seq);
		g_assert(back.block.cumulative_lost == info.block.cumulative_lost);
	}
}

static void fuzz_telephone_event(const guint8 *data, gsize size)
{
	g_autoptr(SpTelephoneEventReceiver) r = sp_telephone_event_receiver_new(8000);
	SpTelephoneEvent ev;
	SpDtmfDigit d;
	guint64 now = 0;
	gsize off;

	if (sp_telephone_event_decode(data, size, &ev)) {
		guint8 out[4];

		g_assert(sp_telephone_event_encode(&ev, out, sizeof(out)) == 4);
		g_assert(out[0] == data[0] && out[2] == data[2] && out[3] == data[3]);
	}
	/* Each 8 octets: a timestamp (4), a marker/time step (1) and 3 octets of event. */
	for (off = 0; off + 8 <= size; off += 8) {
		const guint8 *c = data + off;
		guint8 payload[4] = {c[5], c[6], c[7], c[4]};
		guint32 ts = (guint32)c[0] << 24 | (guint32)c[1] << 16 | (guint32)c[2] << 8 | c[3];

		now += (c[4] & 0x7f) * 1000;
		if (sp_telephone_event_decode(payload, 4, &ev))
			sp_telephone_event_receiver_put(r, ts, c[4] & 0x80, &ev, now);
		sp_telephone_event_receiver_tick(r, now);
		while (sp_telephone_event_receiver_pop(r, &d))
			g_assert(sp_telephone_event_from_digit(d.digit) >= 0);
	}
}

/*
 * The input as a packet stream: a header octet picks the clock rate and bounds, then chunks of
 * [flags, seq step, ts step (2), arrival step (2), payload length, payload...]. Flags bits say
 * marker, reset, a new ptime, a telephone-event, a new minimum delay (as the engine sets for
 * opus FEC), and how many frames the consumer asks for before the next packet.
 * At most MAX_PACKETS of them: more adds no new state (the buffer holds far fewer), only time,
 * and kilobyte inputs of hundreds of packets had taken the rate below 1,000 inputs a second.
 */
#define MAX_PACKETS 160

static void fuzz_jitter(const guint8 *data, gsize size)
{
	static const guint rates[] = {8000, 16000, 48000, 8000};
	g_autoptr(SpJitterBuffer) jb = NULL;
	g_autoptr(SpRtpStats) stats = NULL;
	SpJitterCounters counters;
	SpJitterFrame f;
	guint64 now = 1000000, get_at = 1000000;
	guint16 seq = 0;
	guint32 ts = 0;
	guint rate;
	gsize off = 1;
	guint packets = 0;

	if (size < 1)
		return;
	rate = rates[data[0] & 3];
	jb = sp_jitter_buffer_new(rate, (data[0] >> 2 & 7) * 10, 20 + (data[0] >> 5) * 60);
	stats = sp_rtp_stats_new(rate);

	while (off + 7 <= size && packets++ < MAX_PACKETS) {
		const guint8 *c = data + off;
		guint flags = c[0];
		gsize len = MIN((gsize)c[6], size - off - 7);
		guint gets = flags >> 5;
		guint i;

		seq += (guint16)(c[1] - 8);
		ts += (guint32)((gint16)(c[2] << 8 | c[3])) * 4;
		now += (guint64)(c[4] << 8 | c[5]) * 10;
		if (flags & 2)
			sp_jitter_buffer_reset(jb);
		if (flags & 4)
			sp_jitter_buffer_set_ptime(jb, 10 * (c[1] & 7));
		if (flags & 16)
			sp_jitter_buffer_set_min_ms(jb, 10 * (c[1] >> 3));
		if (sp_rtp_stats_received(stats, seq, ts, len, now, !(flags & 8)) ==
		    SP_RTP_SEQ_RESTARTED)
			sp_jitter_buffer_reset(jb);
		sp_jitter_buffer_put(jb, seq, ts, flags & 1, c + 7, len, now);

		/* The consumer catches up with the time, at most a few frames per packet. */
		for (i = 0; i <= gets && get_at <= now + 200000; i++) {
			SpJitterGetResult res = sp_jitter_buffer_get(jb, get_at, &f);

			g_assert(f.duration > 0);
			if (res == SP_JITTER_FRAME) {
				g_assert(f.len <= SP_JITTER_MAX_PAYLOAD);
				touch(f.payload, f.len);
			}
			get_at += (guint64)f.duration * 1000000 / rate;
		}
		if (get_at + 2000000 < now)
			get_at = now; /* a consumer that slept */
		off += 7 + len;
	}
	sink = sp_jitter_buffer_get_delay_ms(jb) + sp_jitter_buffer_get_target_ms(jb);
	sp_jitter_buffer_get_counters(jb, &counters);
	g_assert(counters.played <= counters.accepted);

	{
		SpRtpStatsFigures fig;
		SpRtcpReportBlock b;
		double mos;

		sp_rtp_stats_get(stats, &fig);
		sp_rtp_stats_make_report_block(stats, 1, now, &b);
		mos = sp_mos_estimate("opus", fig.jitter_ms, fig.loss_percent);
		g_assert(mos >= 1.0 && mos <= 4.5);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_rtp(data, size);
	fuzz_rtcp(data, size);
	fuzz_telephone_event(data, size);
	fuzz_jitter(data, size);
	return 0;
}
