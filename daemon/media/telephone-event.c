/* RFC 4733 telephone-event payloads and the DTMF receiving and sending state machines. */
#include "daemon/media/telephone-event.h"

#include <string.h>

static const char digits[] = "0123456789*#ABCD";

gboolean sp_telephone_event_decode(const guint8 *data, gsize len, SpTelephoneEvent *out)
{
	if (!data || !out || len < SP_TELEPHONE_EVENT_LEN || len % SP_TELEPHONE_EVENT_LEN != 0)
		return FALSE;
	out->event = data[0];
	out->end = (data[1] & 0x80) != 0;
	/* data[1] & 0x40 is the reserved R bit: ignored. */
	out->volume = data[1] & 0x3f;
	out->duration = (guint16)((data[2] << 8) | data[3]);
	return TRUE;
}

gsize sp_telephone_event_encode(const SpTelephoneEvent *event, guint8 *buf, gsize size)
{
	if (!event || !buf || size < SP_TELEPHONE_EVENT_LEN)
		return 0;
	buf[0] = event->event;
	buf[1] = (event->end ? 0x80 : 0) | (event->volume & 0x3f);
	buf[2] = event->duration >> 8;
	buf[3] = event->duration & 0xff;
	return SP_TELEPHONE_EVENT_LEN;
}

gint sp_telephone_event_from_digit(char digit)
{
	const char *p;

	if (digit == '\0')
		return -1;
	p = strchr(digits, g_ascii_toupper(digit));
	return p ? (gint)(p - digits) : -1;
}

char sp_telephone_event_to_digit(guint event)
{
	return event < 16 ? digits[event] : '\0';
}

/* ---- receiving ------------------------------------------------------------------------------ */

#define DIGIT_QUEUE 16

struct _SpTelephoneEventReceiver {
	guint clock_rate;

	/* The event in progress, not reported yet. */
	gboolean active;
	guint32 ts; /* its current segment's timestamp */
	guint8 event;
	guint32 seg_duration;  /* the largest duration seen in the current segment */
	guint64 prev_segments; /* timestamp units of earlier segments (long events) */
	guint64 last_us;       /* its last packet */

	/* The last event finished (reported or not a digit): its late packets are ignored. */
	gboolean have_done;
	guint32 done_ts;
	guint8 done_event;
	guint32 done_seg_duration;

	SpDtmfDigit queue[DIGIT_QUEUE];
	guint head, count;
};

SpTelephoneEventReceiver *sp_telephone_event_receiver_new(guint clock_rate)
{
	SpTelephoneEventReceiver *r = g_new0(SpTelephoneEventReceiver, 1);

	r->clock_rate = clock_rate ? clock_rate : 8000;
	return r;
}

void sp_telephone_event_receiver_free(SpTelephoneEventReceiver *receiver)
{
	g_free(receiver);
}

void sp_telephone_event_receiver_reset(SpTelephoneEventReceiver *receiver)
{
	receiver->active = FALSE;
	receiver->have_done = FALSE;
}

static void push_digit(SpTelephoneEventReceiver *r, char digit, guint64 duration_ts)
{
	SpDtmfDigit *d;

	if (r->count == DIGIT_QUEUE) {
		/* Nobody pops: forget the oldest. */
		r->head = (r->head + 1) % DIGIT_QUEUE;
		r->count--;
	}
	d = &r->queue[(r->head + r->count) % DIGIT_QUEUE];
	d->digit = digit;
	d->duration_ms = (guint)MIN(duration_ts * 1000 / r->clock_rate, G_MAXUINT);
	r->count++;
}

static void finish(SpTelephoneEventReceiver *r)
{
	char digit = sp_telephone_event_to_digit(r->event);

	if (digit)
		push_digit(r, digit, r->prev_segments + r->seg_duration);
	r->active = FALSE;
	r->have_done = TRUE;
	r->done_ts = r->ts;
	r->done_event = r->event;
	r->done_seg_duration = r->seg_duration;
}

static void start(SpTelephoneEventReceiver *r, guint32 ts, const SpTelephoneEvent *ev,
		  guint64 arrival_us)
{
	r->active = TRUE;
	r->ts = ts;
	r->event = ev->event;
	r->seg_duration = ev->duration;
	r->prev_segments = 0;
	r->last_us = arrival_us;
}

/*
 * RFC 4733 §2.5.1.3: an event longer than the 16-bit duration goes on in a new segment whose
 * timestamp is where the previous one reached its maximum. Taken as a continuation: the same
 * event, the previous segment within a second of the limit, the new one starting at or after
 * where the previous one's known duration ended and no later than the limit.
 */
static gboolean continues(const SpTelephoneEventReceiver *r, guint8 event, guint32 seg_ts,
			  guint32 seg_duration, guint32 ts)
{
	guint32 delta = ts - seg_ts;
	guint32 near = r->clock_rate < 0xffff ? 0xffff - r->clock_rate : 0;

	return event == r->event && seg_duration >= near && delta >= seg_duration &&
	       delta <= 0xffff;
}

void sp_telephone_event_receiver_put(SpTelephoneEventReceiver *r, guint32 ts, gboolean marker,
				     const SpTelephoneEvent *ev, guint64 arrival_us)
{
	(void)marker; /* the marker packet may be lost or repeated; timestamps tell events apart */

	if (!r->active && r->have_done) {
		/* Retransmitted ends, late updates, or the next segment of a timed-out event. */
		if (ts == r->done_ts || (gint32)(ts - r->done_ts) < 0)
			return;
		if (ev->event == r->done_event &&
		    r->done_seg_duration >= (r->clock_rate < 0xffff ? 0xffff - r->clock_rate : 0) &&
		    ts - r->done_ts >= r->done_seg_duration && ts - r->done_ts <= 0xffff) {
			r->done_ts = ts;
			r->done_seg_duration = ev->duration;
			return;
		}
	}

	if (r->active) {
		if (ts == r->ts) {
			r->seg_duration = MAX(r->seg_duration, ev->duration);
			r->last_us = arrival_us;
			if (ev->end)
				finish(r);
			return;
		}
		if ((gint32)(ts - r->ts) < 0)
			return; /* older than the event in progress */
		if (continues(r, ev->event, r->ts, r->seg_duration, ts)) {
			r->prev_segments += ts - r->ts;
			r->ts = ts;
			r->seg_duration = ev->duration;
			r->last_us = arrival_us;
			if (ev->end)
				finish(r);
			return;
		}
		/* A newer event: every end packet of the current one was lost. */
		finish(r);
	}

	start(r, ts, ev, arrival_us);
	if (ev->end)
		finish(r);
}

void sp_telephone_event_receiver_tick(SpTelephoneEventReceiver *receiver, guint64 now_us)
{
	if (receiver->active &&
	    now_us >= receiver->last_us + SP_TELEPHONE_EVENT_TIMEOUT_MS * G_GUINT64_CONSTANT(1000))
		finish(receiver);
}

gboolean sp_telephone_event_receiver_pop(SpTelephoneEventReceiver *receiver, SpDtmfDigit *out)
{
	if (receiver->count == 0)
		return FALSE;
	*out = receiver->queue[receiver->head];
	receiver->head = (receiver->head + 1) % DIGIT_QUEUE;
	receiver->count--;
	return TRUE;
}

/* ---- sending -------------------------------------------------------------------------------- */

typedef enum {
	SENDER_IDLE,
	SENDER_EVENT, /* first packet and updates */
	SENDER_END,   /* retransmitting the end packet */
	SENDER_GAP,   /* audio flows before the next digit */
} SenderPhase;

typedef struct {
	char digit;
	guint duration_ms;
} QueuedDigit;

struct _SpTelephoneEventSender {
	guint clock_rate;
	guint ptime_ts;
	guint duration_ms;
	guint gap_ms;

	QueuedDigit queue[SP_TELEPHONE_EVENT_QUEUE_MAX];
	guint head, count;

	SenderPhase phase;
	char digit;
	guint8 event;
	guint32 ts;
	guint32 total_ts; /* the digit's duration, clamped to 16 bits */
	guint sent;	  /* packets of the digit sent so far (first + updates) */
	guint ticks;	  /* packets before the end packet: ceil(total / ptime) */
	guint left;	  /* end retransmissions or gap ticks still to go */
};

SpTelephoneEventSender *sp_telephone_event_sender_new(guint clock_rate, guint ptime_ms,
						      guint duration_ms, guint gap_ms)
{
	SpTelephoneEventSender *s = g_new0(SpTelephoneEventSender, 1);

	s->clock_rate = clock_rate ? clock_rate : 8000;
	ptime_ms = ptime_ms ? MIN(ptime_ms, 200) : 20;
	s->ptime_ts = MAX(s->clock_rate * ptime_ms / 1000, 1);
	s->duration_ms = duration_ms ? duration_ms : 100;
	s->gap_ms = gap_ms;
	return s;
}

void sp_telephone_event_sender_free(SpTelephoneEventSender *sender)
{
	g_free(sender);
}

gboolean sp_telephone_event_sender_queue(SpTelephoneEventSender *sender, char digit,
					 guint duration_ms)
{
	QueuedDigit *q;

	if (sp_telephone_event_from_digit(digit) < 0 ||
	    sender->count == SP_TELEPHONE_EVENT_QUEUE_MAX)
		return FALSE;
	q = &sender->queue[(sender->head + sender->count) % SP_TELEPHONE_EVENT_QUEUE_MAX];
	q->digit = g_ascii_toupper(digit);
	q->duration_ms = duration_ms ? duration_ms : sender->duration_ms;
	sender->count++;
	return TRUE;
}

static void emit(SpTelephoneEventSender *s, gboolean marker, gboolean end, guint32 duration,
		 SpTelephoneEventTick *out)
{
	SpTelephoneEvent ev = {
	    .event = s->event,
	    .end = end,
	    .volume = SP_TELEPHONE_EVENT_VOLUME,
	    .duration = (guint16)MIN(duration, 0xffff),
	};

	out->send = TRUE;
	out->len = sp_telephone_event_encode(&ev, out->payload, sizeof(out->payload));
	out->marker = marker;
	out->ts = s->ts;
	out->suppress_audio = TRUE;
	out->digit = s->digit;
}

void sp_telephone_event_sender_tick(SpTelephoneEventSender *s, guint32 audio_ts,
				    SpTelephoneEventTick *out)
{
	guint64 gap;

	memset(out, 0, sizeof(*out));

	if (s->phase == SENDER_GAP) {
		if (s->left > 0) {
			s->left--;
			return;
		}
		s->phase = SENDER_IDLE;
	}

	if (s->phase == SENDER_IDLE) {
		QueuedDigit q;
		guint64 total;

		if (s->count == 0)
			return;
		q = s->queue[s->head];
		s->head = (s->head + 1) % SP_TELEPHONE_EVENT_QUEUE_MAX;
		s->count--;

		s->digit = q.digit;
		s->event = (guint8)sp_telephone_event_from_digit(q.digit);
		s->ts = audio_ts;
		total = (guint64)q.duration_ms * s->clock_rate / 1000;
		s->total_ts = (guint32)CLAMP(total, 1, 0xffff);
		s->ticks = (s->total_ts + s->ptime_ts - 1) / s->ptime_ts;
		s->sent = 0;
		s->phase = SENDER_EVENT;
	}

	if (s->phase == SENDER_EVENT) {
		gboolean last = s->sent + 1 >= s->ticks;
		guint32 duration = last ? s->total_ts : (s->sent + 1) * s->ptime_ts;

		emit(s, s->sent == 0, last, duration, out);
		s->sent++;
		if (last) {
			s->phase = SENDER_END;
			s->left = 2;
		}
		return;
	}

	/* SENDER_END */
	emit(s, FALSE, TRUE, s->total_ts, out);
	if (--s->left == 0) {
		out->digit_done = TRUE;
		s->phase = SENDER_GAP;
		/* The tone ended at the first end packet: the retransmissions count in the gap. */
		gap = ((guint64)s->gap_ms * s->clock_rate / 1000 + s->ptime_ts - 1) / s->ptime_ts;
		s->left = gap > 2 ? (guint)MIN(gap - 2, G_MAXUINT) : 0;
	}
}

gboolean sp_telephone_event_sender_busy(const SpTelephoneEventSender *sender)
{
	return sender->phase != SENDER_IDLE || sender->count > 0;
}

void sp_telephone_event_sender_clear(SpTelephoneEventSender *sender)
{
	sender->count = 0;
	sender->head = 0;
	sender->phase = SENDER_IDLE;
}
