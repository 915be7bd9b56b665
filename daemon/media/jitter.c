/* An adaptive jitter buffer of RTP packets, played out by timestamp. */
#include "daemon/media/jitter.h"

#include <stdlib.h>
#include <string.h>

/*
 * The algorithm
 * =============
 *
 * Packets are held sorted by (extended, 64-bit) RTP timestamp and played out in that order:
 * the consumer calls get() once per frame it needs and each call covers one packet duration.
 * The "slot" T is the timestamp of the next frame to play; a packet whose timestamp is before
 * T when it arrives is late and discarded, as is a second copy of a sequence number held or
 * recently played (duplicate). Reordered packets simply sort into place.
 *
 * Delay. For every packet we note its transit, arrival time minus the sender's time derived
 * from its timestamp (ts / clock rate); the absolute value is meaningless (the clocks are not
 * related) but its variation is the network jitter. Over a window of the last 4 s of packets
 * (at most 512) we keep the minimum transit: the packet that came fastest. The playout delay D
 * of slot T is how long after the earliest possible arrival of T's packet we play it:
 *     D = now - (T / rate + min transit)
 * A packet whose transit exceeds the minimum by r is on time when r <= D. The target delay is
 * the 95th percentile of r over the window plus one frame, clamped to [min, max].
 *
 * Growing: when D is below the target, get() returns LOST (marked inserted: the consumer
 * conceals) without advancing T, so D grows by one frame per call until it reaches the target:
 * at once. When T's packet is missing and nothing later is buffered (a stall, or a pause in the
 * stream), get() conceals without advancing too ("pending"): if the packet then comes, nothing
 * was lost and those frames were inserts; if a later one comes first, T's packet is taken as
 * lost and the first concealed frame stood for it. After 100 ms of concealment a pending stall
 * plays EMPTY (silence) instead.
 *
 * Shrinking: when D is more than one frame (+5 ms of hysteresis) above the target and the
 * network has been calm (no growth) for 2 s, one frame is dropped (its packet discarded, the
 * next one played), at most one every 250 ms, so the delay comes down a frame at a time. With
 * a silence callback set, a due drop waits (up to 1 s, unless D is beyond max) for a frame
 * the callback calls silence. If D exceeds a hard limit (twice max, at
 * least max + 100 ms) the buffer skips ahead at once to the target, dropping what is between.
 *
 * The minimum can change during a call (set_min_ms(): the engine keeps one packet more for
 * opus FEC while packets are being lost). A higher minimum raises the target at once, so the
 * delay grows to it by the growing rule above, at the next get(). A lower one lowers the
 * target and gives the difference back by the shrinking rule, but without the hysteresis: a
 * frame is dropped while D stays at or above the target after it, until as much as the minimum
 * came down has been dropped. Otherwise a delay that grew by exactly a frame could stay inside
 * the hysteresis band for good and the minimum's fall would take nothing off. Growth of the
 * delay for the network's sake (an insert, a stall) cancels what is left to give back.
 *
 * Loss: when T's packet is missing and a later one is buffered, T is a hole: get() returns
 * LOST (not inserted) and advances; the late arrival of T's packet is then discarded as late.
 * (When the later packet has the next expected sequence number, nothing is missing: the
 * previous packet was longer than assumed, and playout moves on to it.)
 *
 * Drift: a far-end clock faster or slower than the consumer's calls shows up as a transit that
 * slowly falls or rises, so D slowly rises or falls; the same shrink and grow rules drop or
 * insert one frame now and then (every 20 s at 0.1 %) and D stays near the target.
 *
 * Resync: a packet with the marker bit (a new talkspurt) or more than max ahead of a missing
 * slot starts playout afresh at that packet: the gap before it was silence, not loss, and
 * playout waits (EMPTY) until that packet's D reaches the target, which is also where delay
 * changes are cheapest. A packet whose transit is more than max(3 s, 4 × max) away from the
 * window's minimum (the far end restarted its timestamps, a huge jump) is discarded unless the
 * next sequence number confirms it, and then the buffer restarts from scratch with it.
 * reset() (new SSRC) does the same at once.
 *
 * Frame duration: the timestamp difference of consecutive sequence numbers (2.5..120 ms),
 * 20 ms (set_ptime) until seen. Each FRAME covers its packet's duration; LOST and EMPTY cover
 * the current frame duration.
 *
 * Capacity: MAX(64, max / 5 ms) packets of up to SP_JITTER_MAX_PAYLOAD octets, allocated once;
 * when full, the oldest packet is dropped (overflow).
 */

#define HISTORY_LEN 512
#define HISTORY_WINDOW_US (4 * G_USEC_PER_SEC)
#define PERCENTILE 95
#define SHRINK_HYSTERESIS_US 5000
#define SHRINK_INTERVAL_US 250000
#define CALM_US (2 * G_USEC_PER_SEC)
#define SILENCE_WAIT_US G_USEC_PER_SEC
#define PENDING_CONCEAL_US 100000
#define PLAYED_RING 128
#define MAX_MS_LIMIT 5000

typedef enum {
	STATE_IDLE, /* nothing to play: waiting for packets (T is a floor if have_t) */
	STATE_PLAYING,
} State;

typedef struct {
	guint16 seq;
	gint64 ets;
	gboolean marker;
	guint len;
	guint8 *data; /* a chunk of the pool, owned by this slot entry */
} Slot;

typedef struct {
	guint64 arrival_us;
	gint64 transit_us;
} Transit;

struct _SpJitterBuffer {
	guint clock_rate;
	gint64 min_us, max_us, hard_us;
	guint default_dur;

	guint capacity;
	Slot *slots; /* [0, n) hold packets sorted by ets; [n, capacity) free chunks */
	guint n;
	guint8 *pool;
	guint8 out[SP_JITTER_MAX_PAYLOAD];

	/* timestamp extension */
	gboolean have_ref;
	guint32 ref_ts;
	gint64 ref_ets;
	gint64 ets_base;

	/* transit window */
	Transit history[HISTORY_LEN];
	guint hist_head, hist_count;
	gint64 scratch[HISTORY_LEN];
	gint64 min_transit_us;
	gint64 target_us;

	/* playout */
	State state;
	gboolean have_t;
	gint64 t;
	guint16 next_seq;
	guint frame_dur;
	guint pending;
	guint64 last_shrink_us;
	gboolean have_shrink;
	guint64 last_grow_us; /* the delay last grew (inserts, a stall) */
	gboolean have_grow;
	guint64 shrink_due_us;
	gint64 delay_us;
	gint64 lowered_us; /* how much the minimum came down and the delay has not yet given back */
	gboolean have_last_played;
	guint16 last_played_seq;
	gint64 last_played_ets;
	guint32 played[PLAYED_RING]; /* seq + 1 of recently played (or dropped) packets; 0 none */

	/* a timing jump awaiting confirmation */
	gboolean have_cand;
	guint16 cand_seq;
	gint64 cand_transit;

	SpJitterSilenceFunc silence_func;
	gpointer silence_data;

	SpJitterCounters counters;
};

static gint64 ts_to_us(const SpJitterBuffer *jb, gint64 dts)
{
	return dts * G_USEC_PER_SEC / (gint64)jb->clock_rate;
}

static gint64 us_to_ts(const SpJitterBuffer *jb, gint64 us)
{
	return us * (gint64)jb->clock_rate / G_USEC_PER_SEC;
}

static gint64 frame_us(const SpJitterBuffer *jb)
{
	return ts_to_us(jb, jb->frame_dur);
}

SpJitterBuffer *sp_jitter_buffer_new(guint clock_rate, guint min_ms, guint max_ms)
{
	SpJitterBuffer *jb = g_new0(SpJitterBuffer, 1);
	guint i;

	jb->clock_rate = clock_rate ? clock_rate : 8000;
	max_ms = MIN(max_ms, MAX_MS_LIMIT);
	min_ms = MIN(min_ms, max_ms);
	jb->min_us = (gint64)min_ms * 1000;
	jb->max_us = (gint64)max_ms * 1000;
	jb->hard_us = MAX(2 * jb->max_us, jb->max_us + 100000);
	jb->default_dur = MAX(jb->clock_rate / 50, 1);
	jb->frame_dur = jb->default_dur;

	jb->capacity = MAX(64, max_ms / 5);
	jb->slots = g_new0(Slot, jb->capacity);
	jb->pool = g_malloc((gsize)jb->capacity * SP_JITTER_MAX_PAYLOAD);
	for (i = 0; i < jb->capacity; i++)
		jb->slots[i].data = jb->pool + (gsize)i * SP_JITTER_MAX_PAYLOAD;
	sp_jitter_buffer_reset(jb);
	return jb;
}

void sp_jitter_buffer_free(SpJitterBuffer *jb)
{
	if (!jb)
		return;
	g_free(jb->pool);
	g_free(jb->slots);
	g_free(jb);
}

void sp_jitter_buffer_reset(SpJitterBuffer *jb)
{
	jb->n = 0;
	jb->have_ref = FALSE;
	jb->hist_head = jb->hist_count = 0;
	jb->min_transit_us = 0;
	jb->target_us = MAX(jb->min_us, MIN(frame_us(jb), jb->max_us));
	jb->state = STATE_IDLE;
	jb->have_t = FALSE;
	jb->pending = 0;
	jb->have_shrink = FALSE;
	jb->have_grow = FALSE;
	jb->shrink_due_us = 0;
	jb->delay_us = 0;
	jb->lowered_us = 0;
	jb->have_last_played = FALSE;
	jb->have_cand = FALSE;
	jb->frame_dur = jb->default_dur;
	memset(jb->played, 0, sizeof(jb->played));
}

void sp_jitter_buffer_set_ptime(SpJitterBuffer *jb, guint ptime_ms)
{
	if (ptime_ms == 0 || ptime_ms > 120)
		return;
	jb->default_dur = MAX(jb->clock_rate * ptime_ms / 1000, 1);
	if (jb->state == STATE_IDLE && !jb->have_ref)
		jb->frame_dur = jb->default_dur;
}

static void update_target(SpJitterBuffer *jb);

void sp_jitter_buffer_set_min_ms(SpJitterBuffer *jb, guint min_ms)
{
	gint64 min_us = MIN((gint64)min_ms * 1000, jb->max_us);

	if (min_us < jb->min_us)
		jb->lowered_us += jb->min_us - min_us;
	else
		jb->lowered_us = 0;
	jb->min_us = min_us;
	/* The growing and shrinking rules of get() take the delay to the new target. */
	if (jb->hist_count > 0)
		update_target(jb);
	else
		jb->target_us = MAX(jb->min_us, MIN(frame_us(jb), jb->max_us));
}

guint sp_jitter_buffer_get_min_ms(const SpJitterBuffer *jb)
{
	return (guint)(jb->min_us / 1000);
}

void sp_jitter_buffer_set_silence_func(SpJitterBuffer *jb, SpJitterSilenceFunc func,
				       gpointer user_data)
{
	jb->silence_func = func;
	jb->silence_data = user_data;
}

/* ---- the packet store ------------------------------------------------------------------ */

static void remove_slot(SpJitterBuffer *jb, guint i)
{
	Slot s = jb->slots[i];

	memmove(&jb->slots[i], &jb->slots[i + 1], (jb->n - i - 1) * sizeof(Slot));
	jb->n--;
	jb->slots[jb->n] = s; /* its chunk goes back to the free part */
}

static void insert_slot(SpJitterBuffer *jb, guint16 seq, gint64 ets, gboolean marker,
			const guint8 *payload, gsize len)
{
	Slot s;
	guint i;

	if (jb->n == jb->capacity) {
		remove_slot(jb, 0);
		jb->counters.overflow++;
	}
	s = jb->slots[jb->n];
	s.seq = seq;
	s.ets = ets;
	s.marker = marker;
	s.len = (guint)len;
	if (len > 0)
		memcpy(s.data, payload, len);
	for (i = jb->n; i > 0 && jb->slots[i - 1].ets > ets; i--)
		jb->slots[i] = jb->slots[i - 1];
	jb->slots[i] = s;
	jb->n++;
}

static void mark_played(SpJitterBuffer *jb, const Slot *s)
{
	jb->played[s->seq % PLAYED_RING] = (guint32)s->seq + 1;
	jb->have_last_played = TRUE;
	jb->last_played_seq = s->seq;
	jb->last_played_ets = s->ets;
}

/* ---- the transit window ---------------------------------------------------------------- */

static int cmp_gint64(const void *a, const void *b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

	return (x > y) - (x < y);
}

static void expire_history(SpJitterBuffer *jb, guint64 now_us)
{
	while (jb->hist_count > 0) {
		const Transit *oldest = &jb->history[jb->hist_head];

		if (oldest->arrival_us + HISTORY_WINDOW_US >= now_us)
			break;
		jb->hist_head = (jb->hist_head + 1) % HISTORY_LEN;
		jb->hist_count--;
	}
}

static void update_target(SpJitterBuffer *jb)
{
	gint64 min = G_MAXINT64, p;
	guint i, idx;

	for (i = 0; i < jb->hist_count; i++) {
		gint64 t = jb->history[(jb->hist_head + i) % HISTORY_LEN].transit_us;

		jb->scratch[i] = t;
		min = MIN(min, t);
	}
	jb->min_transit_us = min;
	qsort(jb->scratch, jb->hist_count, sizeof(gint64), cmp_gint64);
	idx = (jb->hist_count * PERCENTILE + 99) / 100;
	idx = idx > 0 ? idx - 1 : 0;
	p = jb->scratch[idx] - min;
	jb->target_us = CLAMP(p + frame_us(jb), jb->min_us, jb->max_us);
}

static void add_transit(SpJitterBuffer *jb, guint64 arrival_us, gint64 transit_us)
{
	guint tail;

	if (jb->hist_count == HISTORY_LEN) {
		jb->hist_head = (jb->hist_head + 1) % HISTORY_LEN;
		jb->hist_count--;
	}
	tail = (jb->hist_head + jb->hist_count) % HISTORY_LEN;
	jb->history[tail].arrival_us = arrival_us;
	jb->history[tail].transit_us = transit_us;
	jb->hist_count++;
	update_target(jb);
}

/* ---- input ----------------------------------------------------------------------------- */

static gboolean sane_duration(const SpJitterBuffer *jb, gint64 d)
{
	return d >= (gint64)jb->clock_rate / 400 && d > 0 &&
	       d <= (gint64)jb->clock_rate * 120 / 1000;
}

/* Learns the packet duration from a consecutive neighbour of the packet just stored. */
static void learn_duration(SpJitterBuffer *jb, guint16 seq, gint64 ets)
{
	guint i;

	if (jb->have_last_played && (guint16)(jb->last_played_seq + 1) == seq &&
	    sane_duration(jb, ets - jb->last_played_ets)) {
		jb->frame_dur = (guint)(ets - jb->last_played_ets);
		return;
	}
	for (i = 0; i < jb->n; i++) {
		const Slot *s = &jb->slots[i];

		if ((guint16)(s->seq + 1) == seq && sane_duration(jb, ets - s->ets)) {
			jb->frame_dur = (guint)(ets - s->ets);
			return;
		}
		if ((guint16)(seq + 1) == s->seq && sane_duration(jb, s->ets - ets)) {
			jb->frame_dur = (guint)(s->ets - ets);
			return;
		}
	}
}

SpJitterPutResult sp_jitter_buffer_put(SpJitterBuffer *jb, guint16 seq, guint32 ts, gboolean marker,
				       const guint8 *payload, gsize len, guint64 arrival_us)
{
	gint64 ets, transit;
	guint i;

	if (len > SP_JITTER_MAX_PAYLOAD || (len > 0 && !payload)) {
		jb->counters.discarded++;
		return SP_JITTER_PUT_DISCARDED;
	}

	for (i = 0; i < jb->n; i++) {
		if (jb->slots[i].seq == seq) {
			jb->counters.duplicates++;
			return SP_JITTER_PUT_DUPLICATE;
		}
	}
	if (jb->played[seq % PLAYED_RING] == (guint32)seq + 1) {
		jb->counters.duplicates++;
		return SP_JITTER_PUT_DUPLICATE;
	}

	if (!jb->have_ref) {
		jb->have_ref = TRUE;
		jb->ref_ts = ts;
		jb->ref_ets = ts;
		jb->ets_base = ts;
	}
	ets = jb->ref_ets + (gint32)(ts - jb->ref_ts);
	transit = (gint64)arrival_us - ts_to_us(jb, ets - jb->ets_base);

	expire_history(jb, arrival_us);
	if (jb->hist_count > 0) {
		gint64 limit = MAX(3 * G_USEC_PER_SEC, 4 * jb->max_us);
		gint64 off = transit - jb->min_transit_us;

		if (off > limit || off < -limit) {
			/* A timing jump: believed when the next sequence number follows it. */
			gint64 d = transit - jb->cand_transit;

			if (!(jb->have_cand && seq == (guint16)(jb->cand_seq + 1) && d < 100000 &&
			      d > -100000)) {
				jb->have_cand = TRUE;
				jb->cand_seq = seq;
				jb->cand_transit = transit;
				jb->counters.discarded++;
				return SP_JITTER_PUT_DISCARDED;
			}
			sp_jitter_buffer_reset(jb);
			jb->counters.resyncs++;
			return sp_jitter_buffer_put(jb, seq, ts, marker, payload, len, arrival_us);
		}
	}
	jb->have_cand = FALSE;

	if (jb->have_t && ets < jb->t) {
		/* Its slot was played or concealed; its timing still tells the target. */
		add_transit(jb, arrival_us, transit);
		jb->counters.late++;
		return SP_JITTER_PUT_LATE;
	}

	jb->ref_ts = ts;
	jb->ref_ets = ets;
	add_transit(jb, arrival_us, transit);
	insert_slot(jb, seq, ets, marker, payload, len);
	learn_duration(jb, seq, ets);
	jb->counters.accepted++;
	return SP_JITTER_PUT_ACCEPTED;
}

/* ---- output ---------------------------------------------------------------------------- */

static gint64 delay_of(const SpJitterBuffer *jb, gint64 ets, guint64 now_us)
{
	return (gint64)now_us - (ts_to_us(jb, ets - jb->ets_base) + jb->min_transit_us);
}

/* The duration of the packet in slots[i]: up to its successor if that is the next seq. */
static guint slot_duration(const SpJitterBuffer *jb, guint i)
{
	if (i + 1 < jb->n && (guint16)(jb->slots[i].seq + 1) == jb->slots[i + 1].seq &&
	    sane_duration(jb, jb->slots[i + 1].ets - jb->slots[i].ets))
		return (guint)(jb->slots[i + 1].ets - jb->slots[i].ets);
	return jb->frame_dur;
}

static gboolean slot_is_at(const SpJitterBuffer *jb, guint i, gint64 t)
{
	return i < jb->n && jb->slots[i].ets - t < (gint64)(jb->frame_dur / 2 + 1);
}

/* D is far beyond max (a long stall ended, the consumer stopped calling): skip to the target. */
static void skip_ahead(SpJitterBuffer *jb, gint64 d)
{
	gint64 new_t = jb->t + us_to_ts(jb, d - jb->target_us);

	while (jb->n > 0 && jb->slots[0].ets < new_t) {
		mark_played(jb, &jb->slots[0]);
		remove_slot(jb, 0);
		jb->counters.dropped++;
	}
	if (jb->n > 0 && jb->slots[0].ets - new_t < (gint64)jb->frame_dur)
		new_t = jb->slots[0].ets;
	if (jb->n > 0)
		jb->next_seq = jb->slots[0].seq;
	jb->t = new_t;
	jb->pending = 0;
}

static void grew(SpJitterBuffer *jb, guint64 now_us)
{
	jb->last_grow_us = now_us;
	jb->have_grow = TRUE;
	/* The network wants this delay: nothing of a lower minimum is left to give back. */
	jb->lowered_us = 0;
}

static gboolean want_drop(SpJitterBuffer *jb, gint64 d, guint64 now_us)
{
	const Slot *p = &jb->slots[0];
	/* After the minimum came down: drop while the delay stays at the target, no hysteresis. */
	gboolean keep = jb->lowered_us > 0
			    ? d < jb->target_us + frame_us(jb)
			    : d <= jb->target_us + frame_us(jb) + SHRINK_HYSTERESIS_US;

	if (keep) {
		jb->shrink_due_us = 0;
		return FALSE;
	}
	if (jb->have_shrink && now_us < jb->last_shrink_us + SHRINK_INTERVAL_US)
		return FALSE;
	if (jb->have_grow && now_us < jb->last_grow_us + CALM_US)
		return FALSE;
	/* Only drop when the frame after it is here to play instead. */
	if (!slot_is_at(jb, 1, p->ets + slot_duration(jb, 0)))
		return FALSE;
	if (!jb->silence_func || jb->silence_func(p->data, p->len, jb->silence_data))
		return TRUE;
	if (jb->shrink_due_us == 0)
		jb->shrink_due_us = now_us;
	return d > jb->max_us || now_us >= jb->shrink_due_us + SILENCE_WAIT_US;
}

static SpJitterGetResult play(SpJitterBuffer *jb, SpJitterFrame *frame)
{
	Slot *p = &jb->slots[0];
	guint dur = slot_duration(jb, 0);

	memcpy(jb->out, p->data, p->len);
	frame->payload = jb->out;
	frame->len = p->len;
	frame->ts = (guint32)p->ets;
	frame->seq = p->seq;
	frame->marker = p->marker;
	frame->duration = dur;
	jb->t = p->ets + dur;
	jb->next_seq = p->seq + 1;
	mark_played(jb, p);
	remove_slot(jb, 0);
	jb->counters.played++;
	return SP_JITTER_FRAME;
}

static SpJitterGetResult conceal(SpJitterBuffer *jb, SpJitterFrame *frame, gboolean inserted,
				 SpJitterGetResult result)
{
	frame->ts = (guint32)jb->t;
	frame->seq = jb->next_seq;
	frame->inserted = inserted;
	frame->duration = jb->frame_dur;
	return result;
}

SpJitterGetResult sp_jitter_buffer_get(SpJitterBuffer *jb, guint64 now_us, SpJitterFrame *frame)
{
	guint guard;

	memset(frame, 0, sizeof(*frame));
	frame->duration = jb->frame_dur;

	/* Each pass either returns or consumes a hole or a buffered packet: bounded. */
	for (guard = 0; guard < 2 * jb->capacity + 8; guard++) {
		gint64 d;
		const Slot *p;

		if (jb->state == STATE_IDLE) {
			jb->delay_us = 0;
			if (jb->n == 0)
				return SP_JITTER_EMPTY;
			d = delay_of(jb, jb->slots[0].ets, now_us);
			if (d < jb->target_us)
				return SP_JITTER_EMPTY;
			if (jb->have_t)
				jb->counters.resyncs++; /* after a pause or at a new talkspurt */
			jb->state = STATE_PLAYING;
			jb->lowered_us = 0; /* playout starts at the target as it is now */
			jb->have_t = TRUE;
			jb->t = jb->slots[0].ets;
			jb->next_seq = jb->slots[0].seq;
			jb->pending = 0;
		}

		d = delay_of(jb, jb->t, now_us);
		if (d > jb->hard_us && jb->n > 0) {
			skip_ahead(jb, d);
			d = delay_of(jb, jb->t, now_us);
		}
		jb->delay_us = MAX(d, 0);

		if (slot_is_at(jb, 0, jb->t)) {
			if (jb->pending > 0) {
				/* The stall ended with nothing lost: those frames were inserts. */
				jb->counters.inserted += jb->pending;
				jb->pending = 0;
				grew(jb, now_us);
			}
			jb->t = jb->slots[0].ets;
			d = delay_of(jb, jb->t, now_us);
			jb->delay_us = MAX(d, 0);
			if (d < jb->target_us) {
				jb->counters.inserted++;
				grew(jb, now_us);
				jb->next_seq = jb->slots[0].seq;
				return conceal(jb, frame, TRUE, SP_JITTER_LOST);
			}
			if (want_drop(jb, d, now_us)) {
				mark_played(jb, &jb->slots[0]);
				remove_slot(jb, 0);
				jb->counters.dropped++;
				jb->lowered_us = MAX(jb->lowered_us - frame_us(jb), 0);
				jb->last_shrink_us = now_us;
				jb->have_shrink = TRUE;
				jb->shrink_due_us = 0;
				jb->delay_us = MAX(delay_of(jb, jb->slots[0].ets, now_us), 0);
			}
			return play(jb, frame);
		}

		if (jb->n > 0) {
			p = &jb->slots[0];
			if (p->marker || p->ets - jb->t > us_to_ts(jb, jb->max_us)) {
				/* A new talkspurt, or back after a pause: the gap was not loss. */
				jb->state = STATE_IDLE;
				jb->pending = 0;
				continue;
			}
			if (p->seq == jb->next_seq) {
				/* Nothing missing: the last packet was longer than assumed. */
				jb->t = p->ets;
				continue;
			}
			jb->counters.lost++;
			if (jb->pending > 0) {
				/* The first frame concealed while waiting stood for it. */
				jb->counters.inserted += jb->pending - 1;
				if (jb->pending > 1)
					grew(jb, now_us);
				jb->pending = 0;
				jb->t += jb->frame_dur;
				jb->next_seq++;
				continue;
			}
			conceal(jb, frame, FALSE, SP_JITTER_LOST);
			jb->t += jb->frame_dur;
			jb->next_seq++;
			return SP_JITTER_LOST;
		}

		/* Nothing buffered: a stall or a pause. Conceal a while, then play silence. */
		if (jb->pending < G_MAXUINT)
			jb->pending++;
		if (ts_to_us(jb, (gint64)jb->pending * jb->frame_dur) > jb->hard_us) {
			/* A pause: wait for packets again, T staying the floor for late ones. */
			jb->state = STATE_IDLE;
			jb->pending = 0;
			return conceal(jb, frame, TRUE, SP_JITTER_EMPTY);
		}
		if (ts_to_us(jb, (gint64)jb->pending * jb->frame_dur) > PENDING_CONCEAL_US)
			return conceal(jb, frame, TRUE, SP_JITTER_EMPTY);
		return conceal(jb, frame, TRUE, SP_JITTER_LOST);
	}
	/* Not reached: every pass above consumes something. Play silence all the same. */
	return conceal(jb, frame, TRUE, SP_JITTER_EMPTY);
}

gboolean sp_jitter_buffer_peek_next(const SpJitterBuffer *jb, const guint8 **payload, gsize *len)
{
	if (jb->state != STATE_PLAYING || !slot_is_at(jb, 0, jb->t))
		return FALSE;
	*payload = jb->slots[0].data;
	*len = jb->slots[0].len;
	return TRUE;
}

guint sp_jitter_buffer_get_frame_duration(const SpJitterBuffer *jb)
{
	return jb->frame_dur;
}

guint sp_jitter_buffer_get_delay_ms(const SpJitterBuffer *jb)
{
	return jb->state == STATE_PLAYING ? (guint)MIN(jb->delay_us / 1000, G_MAXUINT) : 0;
}

guint sp_jitter_buffer_get_target_ms(const SpJitterBuffer *jb)
{
	return (guint)(jb->target_us / 1000);
}

void sp_jitter_buffer_get_counters(const SpJitterBuffer *jb, SpJitterCounters *out)
{
	*out = jb->counters;
}
