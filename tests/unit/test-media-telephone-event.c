/* Unit tests of RFC 4733 telephone-event payloads and the DTMF state machines. */
#include <string.h>

#include <glib.h>

#include "daemon/media/telephone-event.h"

#define MS 1000 /* microseconds */

static void test_codec(void)
{
	SpTelephoneEvent ev = {.event = 11, .end = TRUE, .volume = 10, .duration = 0x1234};
	SpTelephoneEvent out;
	guint8 buf[8];
	const char *all = "0123456789*#ABCD";
	guint i;

	g_assert_cmpuint(sp_telephone_event_encode(&ev, buf, sizeof(buf)), ==, 4);
	g_assert_cmphex(buf[0], ==, 11);
	g_assert_cmphex(buf[1], ==, 0x8a);
	g_assert_cmphex(buf[2], ==, 0x12);
	g_assert_cmphex(buf[3], ==, 0x34);
	g_assert_true(sp_telephone_event_decode(buf, 4, &out));
	g_assert_cmpuint(out.event, ==, 11);
	g_assert_true(out.end);
	g_assert_cmpuint(out.volume, ==, 10);
	g_assert_cmpuint(out.duration, ==, 0x1234);
	g_assert_cmpuint(sp_telephone_event_encode(&ev, buf, 3), ==, 0);

	/* The reserved bit is ignored, volume is 6 bits. */
	buf[1] = 0x7f;
	g_assert_true(sp_telephone_event_decode(buf, 4, &out));
	g_assert_false(out.end);
	g_assert_cmpuint(out.volume, ==, 63);

	for (i = 0; i < 16; i++) {
		g_assert_cmpint(sp_telephone_event_from_digit(all[i]), ==, (gint)i);
		g_assert_cmpint(sp_telephone_event_to_digit(i), ==, all[i]);
	}
	g_assert_cmpint(sp_telephone_event_from_digit('d'), ==, 15);
	g_assert_cmpint(sp_telephone_event_from_digit('E'), ==, -1);
	g_assert_cmpint(sp_telephone_event_from_digit('\0'), ==, -1);
	g_assert_cmpint(sp_telephone_event_from_digit(' '), ==, -1);
	g_assert_cmpint(sp_telephone_event_to_digit(16), ==, '\0');
	g_assert_cmpint(sp_telephone_event_to_digit(255), ==, '\0');
}

static void test_decode_garbage(void)
{
	const guint8 two[8] = {3, 0x8a, 0, 160, 7, 0x0a, 1, 0};
	SpTelephoneEvent out;
	gsize len;

	g_assert_false(sp_telephone_event_decode(NULL, 4, &out));
	for (len = 0; len < 8; len++) {
		if (len == 4)
			continue;
		g_assert_false(sp_telephone_event_decode(two, len, &out));
	}
	/* Two blocks: the first is taken. */
	g_assert_true(sp_telephone_event_decode(two, 8, &out));
	g_assert_cmpuint(out.event, ==, 3);
	g_assert_true(out.end);
	g_assert_cmpuint(out.duration, ==, 160);
}

static void put(SpTelephoneEventReceiver *r, guint32 ts, gboolean marker, guint8 event,
		gboolean end, guint16 duration, guint64 now)
{
	SpTelephoneEvent ev = {.event = event, .end = end, .volume = 10, .duration = duration};

	sp_telephone_event_receiver_put(r, ts, marker, &ev, now);
}

/* A digit of n updates at 20 ms (8 kHz), then `ends` end packets, starting at t0. */
static guint64 send_digit(SpTelephoneEventReceiver *r, guint32 ts, guint8 event, guint n,
			  guint ends, guint64 t0)
{
	guint i;

	for (i = 0; i < n; i++)
		put(r, ts, i == 0, event, FALSE, (guint16)(160 * (i + 1)), t0 + i * 20 * MS);
	for (i = 0; i < ends; i++)
		put(r, ts, FALSE, event, TRUE, (guint16)(160 * (n + 1)), t0 + (n + i) * 20 * MS);
	return t0 + (n + ends) * 20 * MS;
}

static void test_receiver_retransmitted_end(void)
{
	g_autoptr(SpTelephoneEventReceiver) r = sp_telephone_event_receiver_new(8000);
	SpDtmfDigit d;
	guint64 t;

	t = send_digit(r, 1000, 5, 4, 3, 0);
	g_assert_true(sp_telephone_event_receiver_pop(r, &d));
	g_assert_cmpint(d.digit, ==, '5');
	g_assert_cmpuint(d.duration_ms, ==, 100);
	g_assert_false(sp_telephone_event_receiver_pop(r, &d));
	/* More copies of the end, much later; late updates; ticks: nothing more. */
	put(r, 1000, FALSE, 5, TRUE, 800, t + 500 * MS);
	put(r, 1000, FALSE, 5, FALSE, 480, t + 510 * MS);
	sp_telephone_event_receiver_tick(r, t + 2000 * MS);
	g_assert_false(sp_telephone_event_receiver_pop(r, &d));
}

static void test_receiver_lost_end_new_event(void)
{
	g_autoptr(SpTelephoneEventReceiver) r = sp_telephone_event_receiver_new(8000);
	SpDtmfDigit d;
	guint64 t;

	/* '1' with every end lost; '2' starts 60 ms later (within the timeout). */
	t = send_digit(r, 1000, 1, 4, 0, 0);
	sp_telephone_event_receiver_tick(r, t);
	g_assert_false(sp_telephone_event_receiver_pop(r, &d));
	t = send_digit(r, 3000, 2, 4, 3, t + 60 * MS);
	g_assert_true(sp_telephone_event_receiver_pop(r, &d));
	g_assert_cmpint(d.digit, ==, '1');
	g_assert_cmpuint(d.duration_ms, ==, 80); /* the last update seen */
	g_assert_true(sp_telephone_event_receiver_pop(r, &d));
	g_assert_cmpint(d.digit, ==, '2');
	g_assert_cmpuint(d.duration_ms, ==, 100);
	sp_telephone_event_receiver_tick(r, t + 1000 * MS);
	g_assert_false(sp_telephone_event_receiver_pop(r, &d));

	/* Late packets of '1' after '2' ended: ignored. */
	put(r, 1000, FALSE, 1, TRUE, 800, t + 1100 * MS);
	g_assert_false(sp_telephone_event_receiver_pop(r, &d));
}

static void test_receiver_lost_end_timeout(void)
{
	g_autoptr(SpTelephoneEventReceiver) r = sp_telephone_event_receiver_new(8000);
	SpDtmfDigit d;
	guint64 t, last;

	t = send_digit(r, 500, 13, 6, 0, 0); /* 'B' */
	last = t - 20 * MS;
	sp_telephone_event_receiver_tick(r, last + (SP_TELEPHONE_EVENT_TIMEOUT_MS - 1) * MS);
	g_assert_false(sp_telephone_event_receiver_pop(r, &d));
	sp_telephone_event_receiver_tick(r, last + SP_TELEPHONE_EVENT_TIMEOUT_MS * MS);
	g_assert_true(sp_telephone_event_receiver_pop(r, &d));
	g_assert_cmpint(d.digit, ==, 'B');
	g_assert_cmpuint(d.duration_ms, ==, 120);
	/* Its end arrives after all: already reported. */
	put(r, 500, FALSE, 13, TRUE, 1120, last + 400 * MS);
	sp_telephone_event_receiver_tick(r, last + 2000 * MS);
	g_assert_false(sp_telephone_event_receiver_pop(r, &d));
}

static void test_receiver_long_event(void)
{
	g_autoptr(SpTelephoneEventReceiver) r = sp_telephone_event_receiver_new(8000);
	SpDtmfDigit d;
	guint64 t = 0;
	guint32 ts = 0xfffff000; /* the timestamp wraps too */
	guint32 dur = 0;

	/* 10 s of '0' at 8 kHz: 80000 units, one segment of 0xffff then one of 14465. */
	while (dur < 0xffff) {
		dur = MIN(dur + 160, 0xffff);
		put(r, ts, dur == 160, 0, FALSE, (guint16)dur, t);
		t += 20 * MS;
	}
	sp_telephone_event_receiver_tick(r, t);
	g_assert_false(sp_telephone_event_receiver_pop(r, &d));
	ts += 0xffff;
	for (dur = 160; dur < 80000 - 0xffff; dur += 160) {
		put(r, ts, FALSE, 0, FALSE, (guint16)dur, t);
		t += 20 * MS;
	}
	sp_telephone_event_receiver_tick(r, t);
	g_assert_false(sp_telephone_event_receiver_pop(r, &d));
	put(r, ts, FALSE, 0, TRUE, 80000 - 0xffff, t);
	put(r, ts, FALSE, 0, TRUE, 80000 - 0xffff, t + 20 * MS);
	g_assert_true(sp_telephone_event_receiver_pop(r, &d));
	g_assert_cmpint(d.digit, ==, '0');
	g_assert_cmpuint(d.duration_ms, ==, 10000);
	g_assert_false(sp_telephone_event_receiver_pop(r, &d));
}

static void test_receiver_long_event_timed_out(void)
{
	g_autoptr(SpTelephoneEventReceiver) r = sp_telephone_event_receiver_new(8000);
	SpDtmfDigit d;

	/* The first segment's last packet arrives, then nothing for a while: reported once. */
	put(r, 0, TRUE, 9, FALSE, 0xff00, 0);
	put(r, 0, FALSE, 9, FALSE, 0xffff, 20 * MS);
	sp_telephone_event_receiver_tick(r, 400 * MS);
	g_assert_true(sp_telephone_event_receiver_pop(r, &d));
	g_assert_cmpint(d.digit, ==, '9');
	/* Its next segment and that one's end do not report it again. */
	put(r, 0xffff, FALSE, 9, FALSE, 160, 420 * MS);
	put(r, 0xffff, FALSE, 9, TRUE, 320, 440 * MS);
	sp_telephone_event_receiver_tick(r, 2000 * MS);
	g_assert_false(sp_telephone_event_receiver_pop(r, &d));
	/* Then a new digit is one. */
	put(r, 0x20000, TRUE, 9, TRUE, 800, 3000 * MS);
	g_assert_true(sp_telephone_event_receiver_pop(r, &d));
	g_assert_cmpuint(d.duration_ms, ==, 100);
}

static void test_receiver_other_events(void)
{
	g_autoptr(SpTelephoneEventReceiver) r = sp_telephone_event_receiver_new(16000);
	SpDtmfDigit d;

	/* Flash (16) is followed but not reported; a single end-only packet is a digit. */
	put(r, 100, TRUE, 16, FALSE, 320, 0);
	put(r, 100, FALSE, 16, TRUE, 1600, 20 * MS);
	put(r, 2000, TRUE, 10, TRUE, 1600, 200 * MS);
	g_assert_true(sp_telephone_event_receiver_pop(r, &d));
	g_assert_cmpint(d.digit, ==, '*');
	g_assert_cmpuint(d.duration_ms, ==, 100); /* 1600 units at 16 kHz */
	g_assert_false(sp_telephone_event_receiver_pop(r, &d));

	/* reset forgets the event in progress. */
	put(r, 5000, TRUE, 3, FALSE, 160, 300 * MS);
	sp_telephone_event_receiver_reset(r);
	sp_telephone_event_receiver_tick(r, 5000 * MS);
	g_assert_false(sp_telephone_event_receiver_pop(r, &d));
}

static void test_sender_packets(void)
{
	g_autoptr(SpTelephoneEventSender) s = sp_telephone_event_sender_new(8000, 20, 100, 70);
	SpTelephoneEventTick tick;
	SpTelephoneEvent ev;
	guint32 ts = 12345;
	guint i;

	g_assert_false(sp_telephone_event_sender_busy(s));
	sp_telephone_event_sender_tick(s, ts, &tick);
	g_assert_false(tick.send);
	g_assert_false(tick.suppress_audio);

	g_assert_true(sp_telephone_event_sender_queue(s, '5', 0));
	g_assert_true(sp_telephone_event_sender_busy(s));
	ts += 160;
	/* 100 ms at 20 ms: 5 packets (the 5th the end), 2 more ends. */
	for (i = 0; i < 7; i++, ts += 160) {
		sp_telephone_event_sender_tick(s, ts, &tick);
		g_assert_true(tick.send);
		g_assert_true(tick.suppress_audio);
		g_assert_cmpuint(tick.len, ==, 4);
		g_assert_cmpuint(tick.ts, ==, 12345 + 160);
		g_assert_cmpint(tick.marker, ==, i == 0);
		g_assert_cmpint(tick.digit, ==, '5');
		g_assert_cmpint(tick.digit_done, ==, i == 6);
		g_assert_true(sp_telephone_event_decode(tick.payload, tick.len, &ev));
		g_assert_cmpuint(ev.event, ==, 5);
		g_assert_cmpuint(ev.volume, ==, SP_TELEPHONE_EVENT_VOLUME);
		g_assert_cmpint(ev.end, ==, i >= 4);
		g_assert_cmpuint(ev.duration, ==, 160 * MIN(i + 1, 5));
	}
	/* The 70 ms gap: 4 intervals, 2 of them already spent on the end's retransmissions. */
	g_assert_true(sp_telephone_event_sender_busy(s));
	for (i = 0; i < 2; i++, ts += 160) {
		sp_telephone_event_sender_tick(s, ts, &tick);
		g_assert_false(tick.send);
		g_assert_false(tick.suppress_audio);
	}
	sp_telephone_event_sender_tick(s, ts, &tick);
	g_assert_false(tick.send);
	g_assert_false(sp_telephone_event_sender_busy(s));
}

static void test_sender_queue(void)
{
	g_autoptr(SpTelephoneEventSender) s = sp_telephone_event_sender_new(48000, 20, 100, 70);
	SpTelephoneEventTick tick;
	SpTelephoneEvent ev;
	guint i, n;

	g_assert_false(sp_telephone_event_sender_queue(s, 'x', 0));
	g_assert_false(sp_telephone_event_sender_queue(s, '\0', 0));
	for (i = 0; i < SP_TELEPHONE_EVENT_QUEUE_MAX; i++)
		g_assert_true(sp_telephone_event_sender_queue(s, 'a', 0));
	g_assert_false(sp_telephone_event_sender_queue(s, '1', 0));
	sp_telephone_event_sender_clear(s);
	g_assert_false(sp_telephone_event_sender_busy(s));

	/* 5 s at 48 kHz does not fit 16 bits: clamped to 0xffff (1365 ms). */
	g_assert_true(sp_telephone_event_sender_queue(s, 'd', 5000));
	for (n = 0; n < 1000; n++) {
		sp_telephone_event_sender_tick(s, n * 960, &tick);
		g_assert_true(tick.send);
		g_assert_true(sp_telephone_event_decode(tick.payload, tick.len, &ev));
		g_assert_cmpuint(ev.event, ==, 15);
		g_assert_cmpint(tick.digit, ==, 'D');
		if (ev.end)
			break;
	}
	g_assert_cmpuint(ev.duration, ==, 0xffff);
	g_assert_cmpuint(n, ==, (0xffff + 959) / 960 - 1);
}

/* The sender's packets to the receiver, 20 ms apart, optionally losing every end packet of one
 * digit; audio in between is counted. */
static void round_trip(const char *digits, char lose_ends_of, guint *audio_ticks)
{
	g_autoptr(SpTelephoneEventSender) s = sp_telephone_event_sender_new(8000, 20, 100, 70);
	g_autoptr(SpTelephoneEventReceiver) r = sp_telephone_event_receiver_new(8000);
	GString *got = g_string_new(NULL);
	SpTelephoneEventTick tick;
	SpDtmfDigit d;
	guint64 now = 1000000;
	guint32 ts = 0;
	guint i;

	*audio_ticks = 0;
	for (i = 0; digits[i]; i++)
		g_assert_true(sp_telephone_event_sender_queue(s, digits[i], 0));
	for (i = 0; i < 1000 && (sp_telephone_event_sender_busy(s) || i < 50); i++) {
		SpTelephoneEvent ev;

		sp_telephone_event_sender_tick(s, ts, &tick);
		if (tick.send) {
			g_assert_true(sp_telephone_event_decode(tick.payload, tick.len, &ev));
			if (!(ev.end && tick.digit == lose_ends_of))
				sp_telephone_event_receiver_put(r, tick.ts, tick.marker, &ev, now);
		}
		if (!tick.suppress_audio)
			(*audio_ticks)++;
		sp_telephone_event_receiver_tick(r, now);
		while (sp_telephone_event_receiver_pop(r, &d)) {
			g_string_append_c(got, d.digit);
			if (d.digit != lose_ends_of)
				g_assert_cmpuint(d.duration_ms, ==, 100);
			else
				g_assert_cmpuint(d.duration_ms, ==, 80);
		}
		ts += 160;
		now += 20 * MS;
	}
	g_assert_cmpstr(got->str, ==, digits);
	g_string_free(got, TRUE);
}

static void test_round_trip(void)
{
	guint audio;

	round_trip("123#", 0, &audio);
	/* 50 ticks run, 4 digits × (5 + 2) of them events; audio in the rest. */
	g_assert_cmpuint(audio, ==, 50 - 4 * 7);
	round_trip("123#", '2', &audio);
	round_trip("123#", '#', &audio);
	round_trip("A0*9", '0', &audio);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/media/telephone-event/codec", test_codec);
	g_test_add_func("/media/telephone-event/decode-garbage", test_decode_garbage);
	g_test_add_func("/media/telephone-event/receiver/retransmitted-end",
			test_receiver_retransmitted_end);
	g_test_add_func("/media/telephone-event/receiver/lost-end-new-event",
			test_receiver_lost_end_new_event);
	g_test_add_func("/media/telephone-event/receiver/lost-end-timeout",
			test_receiver_lost_end_timeout);
	g_test_add_func("/media/telephone-event/receiver/long-event", test_receiver_long_event);
	g_test_add_func("/media/telephone-event/receiver/long-event-timed-out",
			test_receiver_long_event_timed_out);
	g_test_add_func("/media/telephone-event/receiver/other-events", test_receiver_other_events);
	g_test_add_func("/media/telephone-event/sender/packets", test_sender_packets);
	g_test_add_func("/media/telephone-event/sender/queue", test_sender_queue);
	g_test_add_func("/media/telephone-event/round-trip", test_round_trip);

	return g_test_run();
}
