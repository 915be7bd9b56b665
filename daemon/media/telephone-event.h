/* RFC 4733 telephone-event payloads and the DTMF receiving and sending state machines. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SP_TELEPHONE_EVENT_LEN 4
#define SP_TELEPHONE_EVENT_VOLUME 10 /* -dBm0, what we send */

/* One event block (RFC 4733 §2.3). */
typedef struct {
	guint8 event;	  /* 0-9, 10 '*', 11 '#', 12-15 'A'-'D'; other codes exist */
	gboolean end;	  /* E bit */
	guint8 volume;	  /* 0..63, -dBm0 */
	guint16 duration; /* in RTP timestamp units since the event's timestamp */
} SpTelephoneEvent;

/*
 * Decodes the first event block of a payload. FALSE when len is not a non-zero multiple of 4
 * (several blocks: the first is taken, the others ignored).
 */
gboolean sp_telephone_event_decode(const guint8 *data, gsize len, SpTelephoneEvent *out);
/* Writes 4 octets into buf; returns 4, or 0 when size < 4. volume is masked to 6 bits. */
gsize sp_telephone_event_encode(const SpTelephoneEvent *event, guint8 *buf, gsize size);

/* '0'-'9', '*', '#', 'A'-'D' (also 'a'-'d') to 0-15; -1 for anything else. */
gint sp_telephone_event_from_digit(char digit);
/* 0-15 to '0'-'9', '*', '#', 'A'-'D'; '\0' for any other event code. */
char sp_telephone_event_to_digit(guint event);

/* ---- receiving ------------------------------------------------------------------------------ */

/*
 * Fed every telephone-event packet of the source, it reports each DTMF digit (events 0-15)
 * exactly once:
 * - at its first end packet, with the duration the packet gives; retransmitted end packets
 *   and late updates of an event already reported are ignored;
 * - when every end packet was lost: as soon as a packet of a newer event arrives, or when no
 *   packet of the event came for SP_TELEPHONE_EVENT_TIMEOUT_MS (checked by tick), with the last
 *   duration seen;
 * - a long event continued in a new segment (RFC 4733 §2.5.1.3: same event, timestamp of the
 *   previous segment + its duration) is one digit, its duration the sum of the segments.
 * Other event codes are followed (so they end properly) but not reported.
 */
typedef struct _SpTelephoneEventReceiver SpTelephoneEventReceiver;

/* 3 × 60 ms (the longest ptime, one update per packet) + 50 ms, rounded up. */
#define SP_TELEPHONE_EVENT_TIMEOUT_MS 250

typedef struct {
	char digit;	   /* '0'-'9', '*', '#', 'A'-'D' */
	guint duration_ms; /* from the duration field(s) and the clock rate */
} SpDtmfDigit;

SpTelephoneEventReceiver *sp_telephone_event_receiver_new(guint clock_rate);
void sp_telephone_event_receiver_free(SpTelephoneEventReceiver *receiver);
/* Forgets the event in progress without reporting it (new SSRC). */
void sp_telephone_event_receiver_reset(SpTelephoneEventReceiver *receiver);
/* One packet: its RTP timestamp and marker bit, its decoded payload, its arrival time. */
void sp_telephone_event_receiver_put(SpTelephoneEventReceiver *receiver, guint32 ts,
				     gboolean marker, const SpTelephoneEvent *event,
				     guint64 arrival_us);
/* The time passes (call it every frame or so): an event without an end times out. */
void sp_telephone_event_receiver_tick(SpTelephoneEventReceiver *receiver, guint64 now_us);
/* The digits completed by put/tick, oldest first; FALSE when there is none. */
gboolean sp_telephone_event_receiver_pop(SpTelephoneEventReceiver *receiver, SpDtmfDigit *out);

/* ---- sending -------------------------------------------------------------------------------- */

/*
 * Turns queued digits into the packets to send, one call per packet interval (ptime), in
 * place of (or before) that interval's audio packet. For each digit: a first packet with the
 * marker bit, updates every ptime with a growing duration, all with the digit's start
 * timestamp, the end packet sent three times on three ticks (RFC 4733 §2.5.1.4), audio
 * suppressed throughout; then the inter-digit gap during which audio flows again. Durations
 * longer than the 16-bit field holds at the clock rate are clamped to it.
 */
typedef struct _SpTelephoneEventSender SpTelephoneEventSender;

#define SP_TELEPHONE_EVENT_QUEUE_MAX 128 /* digits waiting */

typedef struct {
	gboolean send; /* send this telephone-event packet at this tick */
	guint8 payload[SP_TELEPHONE_EVENT_LEN];
	gsize len;		 /* SP_TELEPHONE_EVENT_LEN when send */
	gboolean marker;	 /* the first packet of the digit */
	guint32 ts;		 /* RTP timestamp to send it with: the digit's start */
	gboolean suppress_audio; /* send no audio packet at this tick */
	char digit;		 /* the digit being sent (when send) */
	gboolean digit_done;	 /* the last packet of this digit: count it as sent */
} SpTelephoneEventTick;

/* duration_ms and gap_ms as configured ([audio] dtmf-duration / dtmf-gap). */
SpTelephoneEventSender *sp_telephone_event_sender_new(guint clock_rate, guint ptime_ms,
						      guint duration_ms, guint gap_ms);
void sp_telephone_event_sender_free(SpTelephoneEventSender *sender);
/* Queues one digit (duration 0: the configured one). FALSE for a non-digit or a full queue. */
gboolean sp_telephone_event_sender_queue(SpTelephoneEventSender *sender, char digit,
					 guint duration_ms);
/*
 * One packet interval passes. audio_ts is the RTP timestamp the audio packet of this interval
 * would carry (the caller keeps advancing it by ptime every tick, events or not).
 */
void sp_telephone_event_sender_tick(SpTelephoneEventSender *sender, guint32 audio_ts,
				    SpTelephoneEventTick *out);
/* TRUE while a digit is in progress, in its gap, or queued. */
gboolean sp_telephone_event_sender_busy(const SpTelephoneEventSender *sender);
/* Drops the queue and the digit in progress (its end is not sent). */
void sp_telephone_event_sender_clear(SpTelephoneEventSender *sender);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpTelephoneEventReceiver, sp_telephone_event_receiver_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpTelephoneEventSender, sp_telephone_event_sender_free)

G_END_DECLS
