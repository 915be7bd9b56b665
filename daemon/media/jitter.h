/* An adaptive jitter buffer of RTP packets, played out by timestamp (algorithm: jitter.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The buffer holds copies of the payloads of one RTP source (one SSRC, one audio PT) and hands
 * them out in timestamp order, one packet per sp_jitter_buffer_get(). It reads no clock: every
 * call takes the caller's monotonic time in microseconds, the same clock for put and get.
 *
 * The consumer asks for one packet's worth at a time: each get returns a frame covering
 * frame.duration timestamp units (the packet duration, derived from consecutive packets, 20 ms
 * by default), whether it is a FRAME to decode, a LOST frame to conceal, or EMPTY (silence). The
 * consumer calls get again when it has played that much; its calls are the playout clock.
 */
typedef struct _SpJitterBuffer SpJitterBuffer;

/* Larger payloads are discarded by put(). */
#define SP_JITTER_MAX_PAYLOAD 2048

typedef enum {
	SP_JITTER_PUT_ACCEPTED,
	SP_JITTER_PUT_DUPLICATE, /* this sequence number is held or was just played */
	SP_JITTER_PUT_LATE, /* its playout time has passed (its slot was played or concealed) */
	SP_JITTER_PUT_DISCARDED, /* too large, or a timing jump not (yet) confirmed */
} SpJitterPutResult;

typedef enum {
	SP_JITTER_FRAME, /* payload to decode */
	SP_JITTER_LOST,	 /* conceal one frame (a hole, or a frame inserted to grow the delay) */
	SP_JITTER_EMPTY, /* no stream (yet), or a pause in it: play silence */
} SpJitterGetResult;

typedef struct {
	const guint8 *payload; /* FRAME: valid until the next call on the buffer */
	gsize len;
	guint32 ts;	   /* FRAME: the packet's; LOST: the slot's; EMPTY: 0 */
	guint16 seq;	   /* FRAME: the packet's; LOST: the expected one */
	gboolean marker;   /* FRAME: the packet's marker bit */
	gboolean inserted; /* LOST/EMPTY: the frame adds delay (nothing was skipped) */
	guint duration;	   /* timestamp units this frame covers; always > 0 */
} SpJitterFrame;

typedef struct {
	guint64 accepted; /* put() returned ACCEPTED */
	guint64 late;	  /* arrived after their slot */
	guint64 duplicates;
	guint64 discarded; /* too large, unconfirmed timing jumps */
	guint64 overflow;  /* the buffer was full: the oldest packet was dropped */
	guint64 played;	   /* FRAME returned */
	guint64 lost;	   /* holes concealed (a missing packet, its slot passed) */
	guint64 inserted;  /* frames inserted to grow the delay */
	guint64 dropped;   /* frames dropped to shrink the delay */
	guint64 resyncs;   /* new talkspurts and timing jumps that restarted playout */
} SpJitterCounters;

/*
 * clock_rate: the payload's RTP clock (8000, 16000, 48000...). The playout delay stays within
 * [min_ms, max_ms] (config [audio] jitter-min / jitter-max, defaults 20 / 200); min_ms > max_ms
 * is taken as max_ms = min_ms.
 */
SpJitterBuffer *sp_jitter_buffer_new(guint clock_rate, guint min_ms, guint max_ms);
void sp_jitter_buffer_free(SpJitterBuffer *jb);
/* Forget everything but the counters (new SSRC, far end restarted): get returns EMPTY until
 * the next packets. */
void sp_jitter_buffer_reset(SpJitterBuffer *jb);

/* The packet duration assumed until consecutive packets tell it (default 20 ms). */
void sp_jitter_buffer_set_ptime(SpJitterBuffer *jb, guint ptime_ms);

/*
 * A new minimum delay (at most max_ms): a higher one makes the delay grow to it at the next
 * get(), a lower one lets it come back down a frame at a time once the network is calm, to the
 * delay it would have had (see the algorithm in jitter.c). reset() keeps it.
 */
void sp_jitter_buffer_set_min_ms(SpJitterBuffer *jb, guint min_ms);
guint sp_jitter_buffer_get_min_ms(const SpJitterBuffer *jb);

/*
 * Optional: tells whether a payload is silence (opus DTX, comfort noise, a quiet frame the
 * decoder saw). When set, the buffer prefers such frames when it drops one to shrink the delay.
 */
typedef gboolean (*SpJitterSilenceFunc)(const guint8 *payload, gsize len, gpointer user_data);
void sp_jitter_buffer_set_silence_func(SpJitterBuffer *jb, SpJitterSilenceFunc func,
				       gpointer user_data);

/* One received packet (already validated as RTP of this source), copied. */
SpJitterPutResult sp_jitter_buffer_put(SpJitterBuffer *jb, guint16 seq, guint32 ts, gboolean marker,
				       const guint8 *payload, gsize len, guint64 arrival_us);

/* The next frame to play at now_us; *frame is always filled (see SpJitterFrame). */
SpJitterGetResult sp_jitter_buffer_get(SpJitterBuffer *jb, guint64 now_us, SpJitterFrame *frame);

/*
 * Right after a LOST frame: the packet that follows the hole, when it is already held, so that a
 * codec with forward error correction (opus) can rebuild the lost frame from it. The payload
 * stays valid until the next call on the buffer; the packet is still played in its turn. (After
 * an inserted LOST frame it is the packet about to be played, whose FEC data is for the frame
 * already played before it: nothing to rebuild.)
 */
gboolean sp_jitter_buffer_peek_next(const SpJitterBuffer *jb, const guint8 **payload, gsize *len);
/* The packet duration in timestamp units (what the next LOST/EMPTY frame covers). */
guint sp_jitter_buffer_get_frame_duration(const SpJitterBuffer *jb);
/* The current playout delay in ms (GetAudioStatistics' jitterBufferMs); 0 when not playing. */
guint sp_jitter_buffer_get_delay_ms(const SpJitterBuffer *jb);
/* The delay the buffer aims at, in ms, within [min, max]. */
guint sp_jitter_buffer_get_target_ms(const SpJitterBuffer *jb);
void sp_jitter_buffer_get_counters(const SpJitterBuffer *jb, SpJitterCounters *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpJitterBuffer, sp_jitter_buffer_free)

G_END_DECLS
