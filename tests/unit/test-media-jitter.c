/* Unit tests of the adaptive jitter buffer: synthetic arrival patterns on a simulated clock. */
#include <math.h>
#include <string.h>

#include <glib.h>

#include "daemon/media/jitter.h"

#define MS 1000 /* microseconds */
#define SEC (1000 * MS)
#define RATE 8000
#define MIN_MS 20
#define MAX_MS 200

/* One packet as the network delivers it. Its payload is its index n (4 octets). */
typedef struct {
	guint32 n;
	guint16 seq;
	guint32 ts;
	gboolean marker;
	guint64 arrival_us;
	gboolean send_twice; /* a duplicate copy 5 ms later */
} Arrival;

/* What one get() returned, at what time and delay. */
typedef struct {
	guint64 t_us;
	SpJitterGetResult result;
	gboolean inserted;
	guint32 n;   /* FRAME: the packet index */
	guint16 seq; /* FRAME or LOST */
	guint duration;
	guint delay_ms;
	guint target_ms;
	gboolean next_held; /* LOST (a hole): peek_next() gave the packet after it */
} Get;

typedef struct {
	SpJitterBuffer *jb;
	GArray *arrivals; /* Arrival, in arrival order once sorted */
	GArray *gets;	  /* Get */
	guint put_results[4];
	double consumer_speed; /* 1.0: the consumer's clock is ours */
	guint64 first_get_us;
	guint64 end_us;
	guint64 pause_at_us; /* the consumer stops calling once, for pause_us */
	guint64 pause_us;
	/* set_min_ms(min_ms[i]) before the consumer's first get at or after min_at_us[i] */
	guint64 min_at_us[4];
	guint min_ms[4];
	guint n_min;
} Sim;

static void sim_init(Sim *sim, guint min_ms, guint max_ms)
{
	memset(sim, 0, sizeof(*sim));
	sim->jb = sp_jitter_buffer_new(RATE, min_ms, max_ms);
	sim->arrivals = g_array_new(FALSE, TRUE, sizeof(Arrival));
	sim->gets = g_array_new(FALSE, TRUE, sizeof(Get));
	sim->consumer_speed = 1.0;
	sim->first_get_us = 1 * SEC + 7 * MS; /* the consumer's phase against the packets */
}

static void sim_clear(Sim *sim)
{
	sp_jitter_buffer_free(sim->jb);
	g_array_free(sim->arrivals, TRUE);
	g_array_free(sim->gets, TRUE);
}

/* Packet n of a steady 20 ms stream sent at send_us with ts n × dur, arriving after delay. */
static void sim_add(Sim *sim, guint32 n, guint32 ts, guint64 arrival_us)
{
	Arrival a = {
	    .n = n, .seq = (guint16)(n + 60000), .ts = ts + 1000000, .arrival_us = arrival_us};

	g_array_append_val(sim->arrivals, a);
}

static gint cmp_arrival(gconstpointer a, gconstpointer b)
{
	const Arrival *x = a, *y = b;

	if (x->arrival_us != y->arrival_us)
		return x->arrival_us < y->arrival_us ? -1 : 1;
	return x->n < y->n ? -1 : (x->n > y->n);
}

static void sim_put(Sim *sim, const Arrival *a, guint64 at)
{
	guint8 payload[4];
	SpJitterPutResult r;

	payload[0] = a->n >> 24;
	payload[1] = (a->n >> 16) & 0xff;
	payload[2] = (a->n >> 8) & 0xff;
	payload[3] = a->n & 0xff;
	r = sp_jitter_buffer_put(sim->jb, a->seq, a->ts, a->marker, payload, sizeof(payload), at);
	sim->put_results[r]++;
}

/* Runs the consumer against the arrivals until end_us. */
static void sim_run(Sim *sim)
{
	double t = (double)sim->first_get_us;
	guint i = 0, guard;
	GArray *dups = g_array_new(FALSE, TRUE, sizeof(Arrival));
	guint d = 0, m = 0;

	g_array_sort(sim->arrivals, cmp_arrival);
	for (i = 0; i < sim->arrivals->len; i++) {
		Arrival a = g_array_index(sim->arrivals, Arrival, i);

		if (a.send_twice) {
			a.arrival_us += 5 * MS;
			g_array_append_val(dups, a);
		}
	}
	g_array_sort(dups, cmp_arrival);

	i = 0;
	for (guard = 0; guard < 10000000 && t < (double)sim->end_us; guard++) {
		guint64 now = (guint64)t;
		SpJitterFrame f;
		Get g = {0};

		while (TRUE) {
			const Arrival *a = i < sim->arrivals->len
					       ? &g_array_index(sim->arrivals, Arrival, i)
					       : NULL;
			const Arrival *b = d < dups->len ? &g_array_index(dups, Arrival, d) : NULL;

			if (a && a->arrival_us <= now && (!b || a->arrival_us <= b->arrival_us)) {
				sim_put(sim, a, a->arrival_us);
				i++;
			} else if (b && b->arrival_us <= now) {
				sim_put(sim, b, b->arrival_us);
				d++;
			} else {
				break;
			}
		}

		for (; m < sim->n_min && sim->min_at_us[m] <= now; m++)
			sp_jitter_buffer_set_min_ms(sim->jb, sim->min_ms[m]);
		g.t_us = now;
		g.result = sp_jitter_buffer_get(sim->jb, now, &f);
		g.inserted = f.inserted;
		g.seq = f.seq;
		g.duration = f.duration;
		g_assert_cmpuint(f.duration, >, 0);
		if (g.result == SP_JITTER_FRAME) {
			g_assert_cmpuint(f.len, ==, 4);
			g.n = ((guint32)f.payload[0] << 24) | ((guint32)f.payload[1] << 16) |
			      ((guint32)f.payload[2] << 8) | f.payload[3];
			g_assert_cmpuint((guint16)(g.n + 60000), ==, f.seq);
		}
		if (g.result == SP_JITTER_LOST && !f.inserted) {
			const guint8 *next;
			gsize next_len;

			g.next_held = sp_jitter_buffer_peek_next(sim->jb, &next, &next_len);
			if (g.next_held) {
				guint32 nn = ((guint32)next[0] << 24) | ((guint32)next[1] << 16) |
					     ((guint32)next[2] << 8) | next[3];

				g_assert_cmpuint(next_len, ==, 4);
				g_assert_cmpuint((guint16)(nn + 60000), ==, (guint16)(f.seq + 1));
			}
		}
		g.delay_ms = sp_jitter_buffer_get_delay_ms(sim->jb);
		g.target_ms = sp_jitter_buffer_get_target_ms(sim->jb);
		g_array_append_val(sim->gets, g);
		/* The consumer plays what it got, at its own clock's speed. */
		t += f.duration * (double)SEC / RATE / sim->consumer_speed;
		if (sim->pause_us && t >= (double)sim->pause_at_us) {
			t += (double)sim->pause_us;
			sim->pause_us = 0;
		}
	}
	g_array_free(dups, TRUE);
}

/* Frames played strictly in order; returns how many, and checks none twice. */
static guint sim_played(const Sim *sim, guint32 *first, guint32 *last)
{
	guint i, count = 0;
	gint64 prev = -1;

	for (i = 0; i < sim->gets->len; i++) {
		const Get *g = &g_array_index(sim->gets, Get, i);

		if (g->result != SP_JITTER_FRAME)
			continue;
		g_assert_cmpint((gint64)g->n, >, prev);
		if (count == 0 && first)
			*first = g->n;
		prev = g->n;
		count++;
	}
	if (last)
		*last = (guint32)prev;
	return count;
}

static guint sim_count(const Sim *sim, SpJitterGetResult result, gboolean inserted)
{
	guint i, count = 0;

	for (i = 0; i < sim->gets->len; i++) {
		const Get *g = &g_array_index(sim->gets, Get, i);

		if (g->result == result && g->inserted == inserted)
			count++;
	}
	return count;
}

/* The largest delay reported between two times. */
static guint sim_max_delay(const Sim *sim, guint64 from, guint64 to)
{
	guint i, max = 0;

	for (i = 0; i < sim->gets->len; i++) {
		const Get *g = &g_array_index(sim->gets, Get, i);

		if (g->t_us >= from && g->t_us < to && g->result == SP_JITTER_FRAME)
			max = MAX(max, g->delay_ms);
	}
	return max;
}

static guint sim_min_delay(const Sim *sim, guint64 from, guint64 to)
{
	guint i, min = G_MAXUINT;

	for (i = 0; i < sim->gets->len; i++) {
		const Get *g = &g_array_index(sim->gets, Get, i);

		if (g->t_us >= from && g->t_us < to && g->result == SP_JITTER_FRAME)
			min = MIN(min, g->delay_ms);
	}
	return min;
}

#define NET_US (30 * MS) /* a fixed network delay */

static void test_steady(void)
{
	Sim sim;
	SpJitterCounters c;
	guint32 n, first, last;

	sim_init(&sim, MIN_MS, MAX_MS);
	for (n = 0; n < 3000; n++)
		sim_add(&sim, n, n * 160, 1 * SEC + n * 20 * MS + NET_US);
	sim.end_us = 1 * SEC + 3000 * 20 * MS;
	sim_run(&sim);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	g_assert_cmpuint(sim_played(&sim, &first, &last), ==, last - first + 1);
	g_assert_cmpuint(first, ==, 0);
	g_assert_cmpuint(last, >=, 2995);
	g_assert_cmpuint(c.lost, ==, 0);
	g_assert_cmpuint(c.late, ==, 0);
	g_assert_cmpuint(c.inserted, ==, 0);
	g_assert_cmpuint(c.dropped, ==, 0);
	g_assert_cmpuint(sim_count(&sim, SP_JITTER_LOST, FALSE), ==, 0);
	g_assert_cmpuint(sim_count(&sim, SP_JITTER_LOST, TRUE), ==, 0);
	/* The delay stays at the minimum, within one frame of consumer phase. */
	g_assert_cmpuint(sim_min_delay(&sim, 0, G_MAXUINT64), >=, MIN_MS);
	g_assert_cmpuint(sim_max_delay(&sim, 0, G_MAXUINT64), <, MIN_MS + 20);
	g_assert_cmpuint(sp_jitter_buffer_get_target_ms(sim.jb), ==, MIN_MS);
	g_assert_cmpuint(sp_jitter_buffer_get_frame_duration(sim.jb), ==, 160);
	sim_clear(&sim);
}

static void test_random_jitter(void)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(20240601);
	Sim sim;
	SpJitterCounters c;
	guint32 n, first, last, total = 6000; /* 2 minutes */
	guint played;

	sim_init(&sim, MIN_MS, MAX_MS);
	for (n = 0; n < total; n++)
		sim_add(&sim, n, n * 160,
			1 * SEC + n * 20 * MS + NET_US +
			    (guint64)g_rand_int_range(rand, 0, 40 * MS));
	sim.end_us = 1 * SEC + total * 20 * MS;
	sim_run(&sim);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	played = sim_played(&sim, &first, &last);
	g_test_message("played %u late %" G_GUINT64_FORMAT " lost %" G_GUINT64_FORMAT
		       " inserted %" G_GUINT64_FORMAT " dropped %" G_GUINT64_FORMAT " target %u",
		       played, c.late, c.lost, c.inserted, c.dropped,
		       sp_jitter_buffer_get_target_ms(sim.jb));
	/* The delay covers the jitter: >= 95 % played, < 5 % late. */
	g_assert_cmpuint(played, >=, total * 95 / 100);
	g_assert_cmpuint(c.late, <, total * 5 / 100);
	g_assert_cmpuint(c.lost, <=, c.late + c.overflow);
	/* Target: the 95th percentile of 0..40 ms plus a frame, and the delay follows. */
	g_assert_cmpuint(sp_jitter_buffer_get_target_ms(sim.jb), >=, 50);
	g_assert_cmpuint(sp_jitter_buffer_get_target_ms(sim.jb), <=, 65);
	g_assert_cmpuint(sim_min_delay(&sim, 10 * SEC, G_MAXUINT64), >=, 45);
	g_assert_cmpuint(sim_max_delay(&sim, 10 * SEC, G_MAXUINT64), <=, 95);
	sim_clear(&sim);
}

static void test_burst(void)
{
	Sim sim;
	SpJitterCounters c;
	guint32 n, first, last, total = 2000;
	guint64 burst_at = 1 * SEC + 510 * 20 * MS + NET_US;

	sim_init(&sim, MIN_MS, MAX_MS);
	/* Steady, then 500..509 held 200 ms and delivered together with 510, then steady. */
	for (n = 0; n < total; n++) {
		guint64 at = 1 * SEC + n * 20 * MS + NET_US;

		if (n >= 500 && n < 510)
			at = burst_at;
		sim_add(&sim, n, n * 160, at);
	}
	sim.end_us = 1 * SEC + total * 20 * MS;
	sim_run(&sim);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	g_test_message("late %" G_GUINT64_FORMAT " lost %" G_GUINT64_FORMAT
		       " inserted %" G_GUINT64_FORMAT " dropped %" G_GUINT64_FORMAT,
		       c.late, c.lost, c.inserted, c.dropped);
	/* Nothing that arrived was lost or late; the shrink dropped about the stall's worth. */
	g_assert_cmpuint(c.late, ==, 0);
	g_assert_cmpuint(c.lost, ==, 0);
	g_assert_cmpuint(sim_count(&sim, SP_JITTER_LOST, FALSE), ==, 0);
	g_assert_cmpuint(sim_played(&sim, &first, &last) + c.dropped, ==, last - first + 1);
	g_assert_cmpuint(c.inserted, >=, 9);
	g_assert_cmpuint(c.dropped, >=, 9);
	g_assert_cmpuint(c.dropped, <=, c.inserted + 1);
	/* Every packet of the burst was played. */
	for (n = 500; n < 510; n++) {
		guint i;
		gboolean found = FALSE;

		for (i = 0; i < sim.gets->len && !found; i++) {
			const Get *g = &g_array_index(sim.gets, Get, i);

			found = g->result == SP_JITTER_FRAME && g->n == n;
		}
		g_assert_true(found);
	}
	/* The delay grew to cover the stall, then came back within 10 s of calm. */
	g_assert_cmpuint(sim_max_delay(&sim, burst_at, burst_at + 1 * SEC), >=, 200);
	g_assert_cmpuint(sim_max_delay(&sim, 0, burst_at - 10 * MS), <, MIN_MS + 20);
	g_assert_cmpuint(sim_max_delay(&sim, burst_at + 10 * SEC, G_MAXUINT64), <, MIN_MS + 20);
	sim_clear(&sim);
}

static void test_reorder(void)
{
	Sim sim;
	SpJitterCounters c;
	guint32 n, first, last, total = 1500;

	sim_init(&sim, MIN_MS, MAX_MS);
	/* Pairs swapped: 1 0 3 2 5 4 ... */
	for (n = 0; n < total; n++)
		sim_add(&sim, n, n * 160, 1 * SEC + (n ^ 1) * 20 * MS + NET_US);
	sim.end_us = 1 * SEC + total * 20 * MS;
	sim_run(&sim);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	g_assert_cmpuint(sim_played(&sim, &first, &last), ==, last - first + 1);
	g_assert_cmpuint(first, ==, 0);
	g_assert_cmpuint(last, >=, total - 6);
	g_assert_cmpuint(c.lost, ==, 0);
	g_assert_cmpuint(c.late, ==, 0);
	g_assert_cmpuint(sim_count(&sim, SP_JITTER_LOST, FALSE), ==, 0);
	sim_clear(&sim);
}

static void test_loss(void)
{
	Sim sim;
	SpJitterCounters c;
	guint32 n, first, last, total = 3000;
	guint i, holes = 0;

	sim_init(&sim, MIN_MS, MAX_MS);
	for (n = 0; n < total; n++) {
		if (n % 10 == 9)
			continue;
		sim_add(&sim, n, n * 160, 1 * SEC + n * 20 * MS + NET_US);
	}
	sim.end_us = 1 * SEC + total * 20 * MS;
	sim_run(&sim);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	sim_played(&sim, &first, &last);
	/* Exactly the missing ones are reported LOST, each once, in its place. */
	for (i = 0; i < sim.gets->len; i++) {
		const Get *g = &g_array_index(sim.gets, Get, i);

		if (g->result == SP_JITTER_LOST) {
			guint16 idx = (guint16)(g->seq - 60000);

			g_assert_false(g->inserted);
			g_assert_cmpuint(idx % 10, ==, 9);
			holes++;
		}
		if (g->result == SP_JITTER_FRAME)
			g_assert_cmpuint(g->n % 10, !=, 9);
	}
	g_assert_cmpuint(holes, ==, (last + 1) / 10);
	g_assert_cmpuint(c.lost, ==, holes);
	g_assert_cmpuint(c.inserted, ==, 0);
	g_assert_cmpuint(c.late, ==, 0);
	g_assert_cmpuint(c.played, ==, last + 1 - holes);
	sim_clear(&sim);
}

static void test_duplicates(void)
{
	Sim sim;
	SpJitterCounters c;
	guint32 n, first, last, total = 1000;

	sim_init(&sim, MIN_MS, MAX_MS);
	for (n = 0; n < total; n++) {
		sim_add(&sim, n, n * 160, 1 * SEC + n * 20 * MS + NET_US);
		g_array_index(sim.arrivals, Arrival, sim.arrivals->len - 1).send_twice = TRUE;
		/* And some copies long after they were played. */
		if (n % 50 == 0)
			sim_add(&sim, n, n * 160, 1 * SEC + n * 20 * MS + NET_US + 500 * MS);
	}
	sim.end_us = 1 * SEC + total * 20 * MS;
	sim_run(&sim);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	g_assert_cmpuint(sim_played(&sim, &first, &last), ==, last - first + 1);
	g_assert_cmpuint(c.lost, ==, 0);
	g_assert_cmpuint(c.duplicates, >=, total - 5 + (last / 50));
	g_assert_cmpuint(c.duplicates, ==, sim.put_results[SP_JITTER_PUT_DUPLICATE]);
	g_assert_cmpuint(c.late, ==, 0);
	g_assert_cmpuint(c.accepted, ==, sim.put_results[SP_JITTER_PUT_ACCEPTED]);
	sim_clear(&sim);
}

/* The far end's clock is factor × ours: it sends a packet every 20 ms / factor. */
static void drift(double factor, guint64 *inserted, guint64 *dropped)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(7);
	Sim sim;
	SpJitterCounters c;
	guint32 n, first, last, total = 30000; /* 10 minutes */
	guint i;

	sim_init(&sim, MIN_MS, MAX_MS);
	for (n = 0; n < total; n++)
		sim_add(&sim, n, n * 160,
			1 * SEC + (guint64)(n * 20 * MS / factor) + NET_US +
			    (guint64)g_rand_int_range(rand, 0, 4 * MS));
	sim.end_us = 1 * SEC + (guint64)(total * 20 * MS / factor);
	sim_run(&sim);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	g_test_message("drift %.4f: inserted %" G_GUINT64_FORMAT " dropped %" G_GUINT64_FORMAT
		       " lost %" G_GUINT64_FORMAT " late %" G_GUINT64_FORMAT " target %u",
		       factor, c.inserted, c.dropped, c.lost, c.late,
		       sp_jitter_buffer_get_target_ms(sim.jb));
	sim_played(&sim, &first, &last);
	g_assert_cmpuint(last, >=, total - 10);
	/* Always within [min, max], and near the target: within a frame and a half of it. */
	for (i = 0; i < sim.gets->len; i++) {
		const Get *g = &g_array_index(sim.gets, Get, i);

		if (g->result != SP_JITTER_FRAME)
			continue;
		g_assert_cmpuint(g->delay_ms, >=, MIN_MS);
		g_assert_cmpuint(g->delay_ms, <=, MAX_MS);
		g_assert_cmpuint(g->delay_ms, <=, g->target_ms + 30);
		g_assert_cmpuint(g->delay_ms + 5, >=, g->target_ms);
	}
	g_assert_cmpuint(c.lost, ==, 0);
	g_assert_cmpuint(c.late, ==, 0);
	*inserted = c.inserted;
	*dropped = c.dropped;
	sim_clear(&sim);
}

static void test_drift(void)
{
	guint64 inserted, dropped;

	/* 0.1 % over 10 minutes is 600 ms: about 30 frames to absorb. */
	drift(1.001, &inserted, &dropped);
	g_assert_cmpuint(dropped, >=, 20);
	g_assert_cmpuint(dropped, <=, 40);
	g_assert_cmpuint(inserted, <=, 5);
	drift(0.999, &inserted, &dropped);
	g_assert_cmpuint(inserted, >=, 20);
	g_assert_cmpuint(inserted, <=, 40);
	g_assert_cmpuint(dropped, <=, 5);
}

static void test_ptime_60(void)
{
	Sim sim;
	SpJitterCounters c;
	guint32 n, first, last, total = 500;
	guint i;

	sim_init(&sim, MIN_MS, MAX_MS);
	for (n = 0; n < total; n++)
		sim_add(&sim, n, n * 480, 1 * SEC + n * 60 * MS + NET_US);
	sim.end_us = 1 * SEC + total * 60 * MS;
	sim_run(&sim);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	g_assert_cmpuint(sim_played(&sim, &first, &last), ==, last - first + 1);
	g_assert_cmpuint(last, >=, total - 3);
	g_assert_cmpuint(c.lost, ==, 0);
	/* The first packet is taken for 20 ms until the second tells 60: the delay grows once. */
	g_assert_cmpuint(c.inserted, <=, 2);
	g_assert_cmpuint(sp_jitter_buffer_get_frame_duration(sim.jb), ==, 480);
	/* Every frame covers one 60 ms packet; the consumer asked once per packet. */
	for (i = 0; i < sim.gets->len; i++) {
		const Get *g = &g_array_index(sim.gets, Get, i);

		if (g->result == SP_JITTER_FRAME && g->n > 0) {
			g_assert_cmpuint(g->duration, ==, 480);
			g_assert_cmpuint(g->delay_ms, >=, 60);
			g_assert_cmpuint(g->delay_ms, <, 60 + 60);
		}
	}
	sim_clear(&sim);
}

static void test_talkspurts(void)
{
	Sim sim;
	SpJitterCounters c;
	guint32 n = 0, spurt, k, first, last;
	guint64 send = 0;
	guint32 ts = 0;

	sim_init(&sim, MIN_MS, MAX_MS);
	/* 20 talkspurts of 1 s, 500 ms of silence between (seq goes on, ts jumps, marker). */
	for (spurt = 0; spurt < 20; spurt++) {
		for (k = 0; k < 50; k++, n++) {
			sim_add(&sim, n, ts, 1 * SEC + send + NET_US);
			g_array_index(sim.arrivals, Arrival, sim.arrivals->len - 1).marker = k == 0;
			send += 20 * MS;
			ts += 160;
		}
		send += 500 * MS;
		ts += 4000;
	}
	sim.end_us = 1 * SEC + send;
	sim_run(&sim);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	g_assert_cmpuint(sim_played(&sim, &first, &last), ==, n);
	g_assert_cmpuint(c.lost, ==, 0);
	g_assert_cmpuint(c.late, ==, 0);
	g_assert_cmpuint(c.resyncs, ==, 19);
	/* The pauses (and the end) are silence, at most 100 ms concealed before each. */
	g_assert_cmpuint(sim_count(&sim, SP_JITTER_LOST, TRUE), <=, 20 * 5);
	g_assert_cmpuint(sim_max_delay(&sim, 0, G_MAXUINT64), <, MIN_MS + 20);
	sim_clear(&sim);
}

static void test_timestamp_jump(void)
{
	Sim sim;
	SpJitterCounters c;
	guint32 n, first, last;

	sim_init(&sim, MIN_MS, MAX_MS);
	/* The far end restarts its timestamps (same SSRC, seq going on) after 10 s. */
	for (n = 0; n < 1000; n++) {
		guint32 ts = n < 500 ? n * 160 : 0x80000000u + n * 160;

		sim_add(&sim, n, ts, 1 * SEC + n * 20 * MS + NET_US);
	}
	sim.end_us = 1 * SEC + 1000 * 20 * MS;
	sim_run(&sim);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	g_assert_cmpuint(c.discarded, ==, 1);
	g_assert_cmpuint(c.resyncs, ==, 1);
	g_assert_cmpuint(sim_played(&sim, &first, &last) + 1, ==, last - first + 1);
	g_assert_cmpuint(last, >=, 995);
	g_assert_cmpuint(sim_max_delay(&sim, 12 * SEC, G_MAXUINT64), <, MIN_MS + 20);
	sim_clear(&sim);
}

static void test_consumer_stall(void)
{
	Sim sim;
	SpJitterCounters c;
	guint32 n, total = 1500;

	sim_init(&sim, MIN_MS, MAX_MS);
	for (n = 0; n < total; n++)
		sim_add(&sim, n, n * 160, 1 * SEC + n * 20 * MS + NET_US);
	/* The consumer (a sound device) hangs for 1 s: what piled up is skipped, not played late.
	 */
	sim.pause_at_us = 10 * SEC;
	sim.pause_us = 1 * SEC;
	sim.end_us = 1 * SEC + total * 20 * MS;
	sim_run(&sim);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	g_assert_cmpuint(c.dropped, >=, 40);
	g_assert_cmpuint(c.overflow, ==, 0);
	g_assert_cmpuint(c.late, ==, 0);
	g_assert_cmpuint(sim_max_delay(&sim, 0, 10 * SEC), <, MIN_MS + 20);
	g_assert_cmpuint(sim_max_delay(&sim, 11 * SEC, G_MAXUINT64), <=, MAX_MS);
	g_assert_cmpuint(sim_max_delay(&sim, 16 * SEC, G_MAXUINT64), <, MIN_MS + 20);
	sim_clear(&sim);
}

static void test_reset_and_overflow(void)
{
	g_autoptr(SpJitterBuffer) jb = sp_jitter_buffer_new(RATE, MIN_MS, MAX_MS);
	SpJitterCounters c;
	SpJitterFrame f;
	guint8 big[SP_JITTER_MAX_PAYLOAD + 1] = {0};
	guint i;

	g_assert_cmpint(sp_jitter_buffer_get(jb, 0, &f), ==, SP_JITTER_EMPTY);
	g_assert_cmpuint(f.duration, ==, 160);
	g_assert_cmpuint(sp_jitter_buffer_get_delay_ms(jb), ==, 0);
	g_assert_cmpint(sp_jitter_buffer_put(jb, 1, 0, FALSE, big, sizeof(big), 0), ==,
			SP_JITTER_PUT_DISCARDED);
	/* 100 packets at once: the oldest go. */
	for (i = 0; i < 100; i++)
		g_assert_cmpint(sp_jitter_buffer_put(jb, (guint16)i, i * 160, FALSE, big, 10, 0),
				==, SP_JITTER_PUT_ACCEPTED);
	sp_jitter_buffer_get_counters(jb, &c);
	g_assert_cmpuint(c.overflow, ==, 100 - 64);
	/* All arrived at once, so the oldest are far behind the newest: skipped to the target. */
	g_assert_cmpint(sp_jitter_buffer_get(jb, 100 * MS, &f), ==, SP_JITTER_FRAME);
	g_assert_cmpuint(f.seq, >=, 36);
	sp_jitter_buffer_reset(jb);
	g_assert_cmpint(sp_jitter_buffer_get(jb, 200 * MS, &f), ==, SP_JITTER_EMPTY);
	/* After the reset, anything is new. */
	g_assert_cmpint(sp_jitter_buffer_put(jb, 36, 5, FALSE, NULL, 0, 200 * MS), ==,
			SP_JITTER_PUT_ACCEPTED);
	g_assert_cmpint(sp_jitter_buffer_get(jb, 300 * MS, &f), ==, SP_JITTER_FRAME);
	g_assert_cmpuint(f.len, ==, 0);
	sp_jitter_buffer_set_ptime(jb, 30);
	sp_jitter_buffer_reset(jb);
	g_assert_cmpuint(sp_jitter_buffer_get_frame_duration(jb), ==, 240);
}

static gboolean even_is_silence(const guint8 *payload, gsize len, gpointer user_data)
{
	guint *calls = user_data;

	(*calls)++;
	return len == 4 && payload[3] % 2 == 0;
}

static void test_silence_preferred(void)
{
	Sim sim;
	SpJitterCounters c;
	guint32 n, total = 2000;
	guint calls = 0, i;
	guint64 burst_at = 1 * SEC + 515 * 20 * MS + NET_US;
	gboolean *played = g_new0(gboolean, total);

	/* Room for the 300 ms stall: a drop can wait for silence only below max. */
	sim_init(&sim, MIN_MS, 500);
	sp_jitter_buffer_set_silence_func(sim.jb, even_is_silence, &calls);
	for (n = 0; n < total; n++) {
		guint64 at = 1 * SEC + n * 20 * MS + NET_US;

		if (n >= 500 && n < 515)
			at = burst_at;
		sim_add(&sim, n, n * 160, at);
	}
	sim.end_us = 1 * SEC + total * 20 * MS;
	sim_run(&sim);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	g_assert_cmpuint(c.dropped, >=, 12);
	g_assert_cmpuint(calls, >, 0);
	for (i = 0; i < sim.gets->len; i++) {
		const Get *g = &g_array_index(sim.gets, Get, i);

		if (g->result == SP_JITTER_FRAME)
			played[g->n] = TRUE;
	}
	/* Every dropped frame is one the callback called silence. */
	for (n = 0; n + 10 < total; n++) {
		if (!played[n])
			g_assert_cmpuint(n % 2, ==, 0);
	}
	g_assert_cmpuint(c.lost, ==, 0);
	g_assert_cmpuint(c.late, ==, 0);
	g_free(played);
	sim_clear(&sim);
}

/* ---- a minimum that changes during the call (the engine's packet of delay for opus FEC) -- */

static void sim_set_min_at(Sim *sim, guint64 at_us, guint min_ms)
{
	g_assert_cmpuint(sim->n_min, <, G_N_ELEMENTS(sim->min_ms));
	sim->min_at_us[sim->n_min] = at_us;
	sim->min_ms[sim->n_min++] = min_ms;
}

/* The i-th get at or after t. */
static const Get *sim_get_at(const Sim *sim, guint64 t, guint i)
{
	for (guint k = 0; k < sim->gets->len; k++) {
		if (g_array_index(sim->gets, Get, k).t_us >= t) {
			g_assert_cmpuint(k + i, <, sim->gets->len);
			return &g_array_index(sim->gets, Get, k + i);
		}
	}
	g_assert_not_reached();
	return NULL;
}

typedef struct {
	guint64 first_get_us; /* the consumer's phase: where the delay sits in its frame */
	guint64 lower_at_us;  /* when the minimum comes back down (raised at 11 s) */
} MinCase;

/*
 * A steady stream; the minimum goes from 20 to 40 ms at 11 s and back at lower_at. It rises at
 * once (one inserted frame at the next get), and comes back to exactly the delay it had before,
 * one dropped frame, once the network has been calm for 2 s. With the consumer's phase putting
 * the delay near the bottom of its frame (22 ms: 42 ms when raised, inside the shrink's
 * hysteresis band) as well as near the top (37 ms).
 */
static void test_min_rises_and_falls(gconstpointer data)
{
	const MinCase *mc = data;
	const guint64 raise_at = 11 * SEC;
	guint64 calm_at, back_at;
	Sim sim;
	SpJitterCounters c;
	guint32 n, first, last, total = 2500; /* 50 s */
	guint d0 = 0;
	const Get *g;

	sim_init(&sim, MIN_MS, MAX_MS);
	sim.first_get_us = mc->first_get_us;
	for (n = 0; n < total; n++)
		sim_add(&sim, n, n * 160, 1 * SEC + n * 20 * MS + NET_US);
	sim_set_min_at(&sim, raise_at, 2 * MIN_MS);
	sim_set_min_at(&sim, mc->lower_at_us, MIN_MS);
	sim.end_us = 1 * SEC + total * 20 * MS;
	sim_run(&sim);

	d0 = sim_min_delay(&sim, 0, raise_at);
	g_assert_cmpuint(d0, >=, MIN_MS);
	g_assert_cmpuint(d0, <, MIN_MS + 20);
	g_assert_cmpuint(sim_max_delay(&sim, 0, raise_at), ==, d0);
	g_assert_cmpuint(sim_get_at(&sim, raise_at, 0)[-1].target_ms, ==, MIN_MS);

	/* Up at once: the target at the next get, the delay one inserted frame later. */
	g = sim_get_at(&sim, raise_at, 0);
	g_assert_cmpuint(g->target_ms, ==, 2 * MIN_MS);
	g_assert_cmpint(g->result, ==, SP_JITTER_LOST);
	g_assert_true(g->inserted);
	/* Shrinking waits for 2 s without growth (that insert), then drops at the next frame. */
	calm_at = MAX(mc->lower_at_us, g->t_us + 2 * SEC);
	back_at = calm_at + 20 * MS;
	g = sim_get_at(&sim, raise_at, 1);
	g_assert_cmpint(g->result, ==, SP_JITTER_FRAME);
	g_assert_cmpuint(g->delay_ms, ==, d0 + 20);
	g_assert_cmpuint(sim_min_delay(&sim, raise_at + 1, mc->lower_at_us), ==, d0 + 20);
	g_assert_cmpuint(sim_max_delay(&sim, raise_at + 1, mc->lower_at_us), ==, d0 + 20);

	/* Down: the target at once, the delay after 2 s of calm, to where it was and no lower. */
	g = sim_get_at(&sim, mc->lower_at_us, 0);
	g_assert_cmpuint(g->target_ms, ==, MIN_MS);
	if (calm_at > mc->lower_at_us)
		g_assert_cmpuint(sim_min_delay(&sim, mc->lower_at_us, calm_at), ==, d0 + 20);
	g_assert_cmpuint(sim_min_delay(&sim, back_at, G_MAXUINT64), ==, d0);
	g_assert_cmpuint(sim_max_delay(&sim, back_at, G_MAXUINT64), ==, d0);
	g_test_message("delay %u ms, %u ms from %.2f s, %u ms again from %.2f s", d0, d0 + 20,
		       (double)raise_at / SEC, d0, (double)calm_at / SEC);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	g_assert_cmpuint(c.inserted, ==, 1);
	g_assert_cmpuint(c.dropped, ==, 1);
	g_assert_cmpuint(c.lost, ==, 0);
	g_assert_cmpuint(c.late, ==, 0);
	g_assert_cmpuint(sim_played(&sim, &first, &last) + c.dropped, ==, last - first + 1);
	g_assert_cmpuint(last, >=, total - 5);
	sim_clear(&sim);
}

/* The minimum stays within [0, max], and the delay within [target, max + a frame]. */
static void test_min_bounds(void)
{
	Sim sim;
	guint32 n, total = 1500; /* 30 s */
	guint i;

	sim_init(&sim, MIN_MS, 60);
	for (n = 0; n < total; n++)
		sim_add(&sim, n, n * 160, 1 * SEC + n * 20 * MS + NET_US);
	sim_set_min_at(&sim, 5 * SEC, 100); /* above max: max */
	sim_set_min_at(&sim, 15 * SEC, 0);  /* below the network's need: the target is a frame */
	sim.end_us = 1 * SEC + total * 20 * MS;
	sim_run(&sim);

	for (i = 0; i < sim.gets->len; i++) {
		const Get *g = &g_array_index(sim.gets, Get, i);

		g_assert_cmpuint(g->target_ms, <=, 60);
		g_assert_cmpuint(g->target_ms, >=, 20);
		if (g->result == SP_JITTER_FRAME) {
			g_assert_cmpuint(g->delay_ms, >=, g->target_ms);
			g_assert_cmpuint(g->delay_ms, <, 60 + 20);
		}
	}
	g_assert_cmpuint(sim_get_at(&sim, 5 * SEC, 0)->target_ms, ==, 60);
	g_assert_cmpuint(sim_min_delay(&sim, 5 * SEC + 100 * MS, 15 * SEC), >=, 60);
	g_assert_cmpuint(sim_get_at(&sim, 15 * SEC, 0)->target_ms, ==, 20);
	g_assert_cmpuint(sim_max_delay(&sim, 18 * SEC, G_MAXUINT64), <, 20 + 20);
	g_assert_cmpuint(sp_jitter_buffer_get_min_ms(sim.jb), ==, 0);
	sp_jitter_buffer_set_min_ms(sim.jb, 1000);
	g_assert_cmpuint(sp_jitter_buffer_get_min_ms(sim.jb), ==, 60);
	g_assert_cmpuint(sp_jitter_buffer_get_target_ms(sim.jb), ==, 60);
	/* A reset keeps the minimum. */
	sp_jitter_buffer_reset(sim.jb);
	g_assert_cmpuint(sp_jitter_buffer_get_target_ms(sim.jb), ==, 60);
	sim_clear(&sim);
}

/* A minimum under what the network's jitter needs changes neither the target nor the delay. */
static void test_min_under_target(void)
{
	Sim sim;
	SpJitterCounters c;
	guint32 n, total = 1500;
	guint64 before;

	sim_init(&sim, MIN_MS, MAX_MS);
	/* Every fourth packet 25 ms late: the target is 25 ms plus a frame. */
	for (n = 0; n < total; n++)
		sim_add(&sim, n, n * 160,
			1 * SEC + n * 20 * MS + NET_US + (n % 4 == 3 ? 25 * MS : 0));
	sim_set_min_at(&sim, 15 * SEC, 40);
	sim_set_min_at(&sim, 25 * SEC, MIN_MS);
	sim.end_us = 1 * SEC + total * 20 * MS;
	sim_run(&sim);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	g_assert_cmpuint(sim_get_at(&sim, 15 * SEC, 0)[-1].target_ms, ==, 45);
	g_assert_cmpuint(sim_get_at(&sim, 15 * SEC, 0)->target_ms, ==, 45);
	g_assert_cmpuint(sim_get_at(&sim, 25 * SEC, 0)->target_ms, ==, 45);
	before = sim_min_delay(&sim, 5 * SEC, 15 * SEC);
	g_assert_cmpuint(sim_min_delay(&sim, 15 * SEC, G_MAXUINT64), ==, before);
	g_assert_cmpuint(sim_max_delay(&sim, 15 * SEC, G_MAXUINT64), ==,
			 sim_max_delay(&sim, 5 * SEC, 15 * SEC));
	g_assert_cmpuint(c.lost, ==, 0);
	g_assert_cmpuint(c.late, ==, 0);
	g_assert_cmpuint(c.dropped, ==, 0);
	sim_clear(&sim);
}

/*
 * What the minimum's packet for opus FEC buys: the packet after a hole must be held when the
 * hole is played. The target's frame above the 95th percentile of the transit covers most of
 * them; not one that is itself late beyond that percentile (here: every tenth packet lost, one
 * in 25 late by 10 ms once the transit window is full, so every fifth hole is followed by a
 * late one), unless the delay is a frame above the target. With the consumer's phase putting
 * the delay near the bottom of its frame (22 ms), where the fewest are held.
 */
#define FEC_LATE(n) ((n) >= 250 && (n) % 25 == 6)

static guint holes_with_next(guint min_ms, guint *lost)
{
	Sim sim;
	SpJitterCounters c;
	guint32 n, total = 3000;
	guint i, with_next = 0;

	sim_init(&sim, MIN_MS, MAX_MS);
	sim.first_get_us = 1 * SEC + 32 * MS;
	for (n = 0; n < total; n++) {
		if (n % 10 == 5)
			continue;
		sim_add(&sim, n, n * 160,
			1 * SEC + n * 20 * MS + NET_US + (FEC_LATE(n) ? 10 * MS : 0));
	}
	sim_set_min_at(&sim, 0, min_ms); /* before the first packet */
	sim.end_us = 1 * SEC + total * 20 * MS + 100 * MS;
	sim_run(&sim);

	sp_jitter_buffer_get_counters(sim.jb, &c);
	for (i = 0; i < sim.gets->len; i++) {
		const Get *g = &g_array_index(sim.gets, Get, i);

		if (g->result == SP_JITTER_LOST && !g->inserted && g->next_held)
			with_next++;
	}
	g_test_message("min %u ms: %u of %" G_GUINT64_FORMAT " holes with the next packet held",
		       min_ms, with_next, c.lost);
	g_assert_cmpuint(c.lost, ==, total / 10);
	g_assert_cmpuint(c.late, ==, 0);
	g_assert_cmpuint(sp_jitter_buffer_get_target_ms(sim.jb), ==, min_ms);
	*lost = (guint)c.lost;
	sim_clear(&sim);
	return with_next;
}

static void test_min_for_fec(void)
{
	guint lost, late_next = 0;

	for (guint32 n = 5; n < 3000; n += 10)
		late_next += FEC_LATE(n + 1);
	g_assert_cmpuint(late_next, >, 0);
	/* At jitter-min: no FEC for the holes followed by a late packet. */
	g_assert_cmpuint(holes_with_next(MIN_MS, &lost), ==, lost - late_next);
	/* One frame more: every hole. */
	g_assert_cmpuint(holes_with_next(MIN_MS + 20, &lost), ==, lost);
}

int main(int argc, char **argv)
{
	/* The consumer's phase puts the delay at 37 or 22 ms; lowered long or 1 s after the raise.
	 */
	static const MinCase min_top = {1 * SEC + 7 * MS, 31 * SEC};
	static const MinCase min_low = {1 * SEC + 32 * MS, 31 * SEC};
	static const MinCase min_soon = {1 * SEC + 32 * MS, 12 * SEC};

	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/media/jitter/steady", test_steady);
	g_test_add_func("/media/jitter/random-jitter", test_random_jitter);
	g_test_add_func("/media/jitter/burst", test_burst);
	g_test_add_func("/media/jitter/reorder", test_reorder);
	g_test_add_func("/media/jitter/loss", test_loss);
	g_test_add_func("/media/jitter/duplicates", test_duplicates);
	g_test_add_func("/media/jitter/drift", test_drift);
	g_test_add_func("/media/jitter/ptime-60", test_ptime_60);
	g_test_add_func("/media/jitter/talkspurts", test_talkspurts);
	g_test_add_func("/media/jitter/timestamp-jump", test_timestamp_jump);
	g_test_add_func("/media/jitter/consumer-stall", test_consumer_stall);
	g_test_add_func("/media/jitter/reset-overflow", test_reset_and_overflow);
	g_test_add_func("/media/jitter/silence-preferred", test_silence_preferred);
	g_test_add_data_func("/media/jitter/min/rises-and-falls", &min_top,
			     test_min_rises_and_falls);
	g_test_add_data_func("/media/jitter/min/rises-and-falls-low-phase", &min_low,
			     test_min_rises_and_falls);
	g_test_add_data_func("/media/jitter/min/falls-after-calm", &min_soon,
			     test_min_rises_and_falls);
	g_test_add_func("/media/jitter/min/bounds", test_min_bounds);
	g_test_add_func("/media/jitter/min/under-target", test_min_under_target);
	g_test_add_func("/media/jitter/min/for-fec", test_min_for_fec);

	return g_test_run();
}
