/* A call's media stream and the media engine that runs every stream on one thread off the main loop. */
#pragma once

#include <glib.h>

#include "daemon/media/srtp.h"

G_BEGIN_DECLS

/*
 * The media engine owns one thread (started with the first stream, stopped with the last), the
 * sound devices (opened while a stream needs sound, closed when none does) and the clock: the
 * capture device's when it has one, else a 20 ms timerfd (ALSA null/file PCMs have no clock).
 * Every function here is called from the main thread; callbacks run in the GMainContext given
 * to sp_media_engine_new(). Nothing here blocks the caller for longer than a queue push, and
 * nothing on the media thread ever waits on the main thread.
 */
typedef struct _SpMediaEngine SpMediaEngine;
typedef struct _SpMediaStream SpMediaStream;

typedef struct {
	const char *capture;  /* ALSA PCM names */
	const char *playback;
	guint jitter_min_ms;  /* adaptive jitter buffer bounds */
	guint jitter_max_ms;
	guint dtmf_duration_ms; /* one digit sent (RFC 4733 or inband) */
	guint dtmf_gap_ms;	/* pause between digits */
	guint inactivity_timeout_ms; /* no RTP and no RTCP this long: media_timeout; 0 = never */
	/* The ring tone's PCM: NULL is the playback device (mixed into its output), "" no ring. */
	const char *ring;
	/* Tone specs (daemon/media/tones.h); NULL: the default, "": that tone is off. */
	const char *ring_tone;
	const char *ringback_tone;
	const char *call_waiting_tone;
} SpMediaEngineConfig;

/* The tones the engine plays (sp_media_engine_set_tones()). */
typedef enum {
	SP_MEDIA_TONE_NONE,
	SP_MEDIA_TONE_RING,	    /* the ringer, on the ring device */
	SP_MEDIA_TONE_CALL_WAITING, /* a short beep mixed into the playback, over the call */
	SP_MEDIA_TONE_RINGBACK,	    /* the far end is ringing, in the playback */
} SpMediaTone;

typedef struct {
	/* A digit received: method is "rfc4733" or "inband". Reported once per digit, at its end. */
	void (*dtmf_received)(gpointer stream_user_data, char digit, guint duration_ms,
			      const char *method);
	/* Nothing (RTP or RTCP) received for inactivity_timeout_ms while the stream is sendrecv. */
	void (*media_timeout)(gpointer stream_user_data);
	/* The stream's first packet from the far end (RTP audio or telephone-event): what tells
	 * early media that plays from silence that does not. Reported once per stream. */
	void (*media_started)(gpointer stream_user_data);
	/* A device could not be opened or failed (unplugged). Reported once per failure; the
	 * streams go on with silence. */
	void (*device_error)(gpointer engine_user_data, const char *device, const char *error);
	/* A device that failed works again (replugged, or it appeared): reported once, after
	 * it has moved a few frames. */
	void (*device_recovered)(gpointer engine_user_data, const char *device);
} SpMediaCallbacks;

typedef enum {
	SP_MEDIA_INACTIVE,
	SP_MEDIA_SENDONLY,
	SP_MEDIA_RECVONLY,
	SP_MEDIA_SENDRECV,
} SpMediaDirection;

/*
 * What the SDP offer/answer settled, as plain values (the session builds it; the media code
 * knows no SDP). Strings are copied by sp_media_stream_update().
 */
typedef struct {
	const char *remote_address; /* numeric IP; NULL or 0.0.0.0/:: means send nothing */
	guint remote_rtp_port;	    /* 0: send nothing */
	guint remote_rtcp_port;	    /* rtp + 1 unless the far end said a=rtcp:; ignored with mux */
	gboolean rtcp_mux;	    /* both sides said a=rtcp-mux */
	const char *codec;	    /* "PCMU", "PCMA", "G722" or "opus" */
	guint8 payload_type;	    /* the codec's PT, sent and accepted */
	guint clock_rate;	    /* its RTP clock: 8000 for PCMU/PCMA/G722, 48000 for opus */
	guint ptime_ms;		    /* per packet we send: 10..60 */
	gint telephone_event_pt;    /* -1: none negotiated (then inband is detected) */
	SpMediaDirection direction; /* as negotiated, from our side */
	gboolean local_hold;	    /* we hold: send silence (never the microphone), play nothing */
	/*
	 * SRTP (SDES): the suite both sides agreed on, or SP_SRTP_NONE for plain RTP; the master
	 * key we protect with and the one the far end protects with. RTCP is protected too. A
	 * changed key replaces that direction's context (a new inbound key starts a new replay
	 * window); the same keys keep both. The stream wipes its copies when it is done.
	 */
	SpSrtpSuite srtp_suite;
	guint8 srtp_local_key[SP_SRTP_KEY_LEN];
	guint8 srtp_remote_key[SP_SRTP_KEY_LEN];
} SpMediaDesc;

/* The figures of GetAudioStatistics; NAN where a figure is not known (yet). */
typedef struct {
	char codec[16];
	guint payload_type;
	guint clock_rate;
	guint ptime_ms;
	char local_address[64];	 /* "ip:port" */
	char remote_address[64]; /* "ip:port", "" when none */
	gboolean rtcp_mux;
	guint64 packets_sent;
	guint64 bytes_sent; /* RTP payload octets, as in RTCP SR */
	guint64 packets_received;
	guint64 bytes_received;
	gint64 packets_lost; /* RFC 3550 A.3: expected - received (may be < 0 with duplicates) */
	double loss_percent;
	guint64 packets_late;	   /* arrived after their playout time */
	guint64 packets_discarded; /* malformed, unknown PT, wrong source, duplicates, and SRTP
				      packets that failed authentication or were replayed */
	char srtp[32];		   /* the SRTP suite, "" for plain RTP */
	guint64 srtp_auth_failures; /* SRTP/SRTCP packets whose tag did not match (forged) */
	guint64 srtp_replays;	    /* SRTP/SRTCP packets seen before (replayed) */
	double jitter_ms;	   /* RFC 3550 interarrival jitter of what we receive */
	double remote_jitter_ms;   /* from the far end's RTCP report about us */
	double remote_loss_percent;
	double rtt_ms; /* from LSR/DLSR */
	guint jitter_buffer_ms; /* current playout delay */
	guint jitter_buffer_target_ms; /* the delay it aims at: jitter-min or more (opus: one
					  packet more while packets are lost) */
	gboolean fec_delay; /* opus: the packet more for FEC is held (holes in the last 10 s) */
	guint64 concealed_ms;
	guint64 fec_recovered_ms; /* of concealed_ms: lost frames rebuilt from the next packet's
				     FEC data (opus) */
	guint64 dtmf_sent;
	guint64 dtmf_received;
	guint64 xruns; /* device over/underruns recovered */
	double mos; /* E-model estimate (ITU-T G.107, simplified) */
} SpMediaStats;

SpMediaEngine *sp_media_engine_new(const SpMediaEngineConfig *config,
				   const SpMediaCallbacks *callbacks, gpointer engine_user_data,
				   GMainContext *context);
/*
 * Stops every stream (RTCP BYE) and the thread; no callback runs after it returns. Free every
 * SpMediaStream of the engine first: a stream handle does not outlive its engine.
 */
void sp_media_engine_free(SpMediaEngine *engine);
/* Mute: every stream sends silence in place of the microphone, with its timing kept. */
void sp_media_engine_set_mute(SpMediaEngine *engine, gboolean muted);
gboolean sp_media_engine_get_mute(SpMediaEngine *engine);
/*
 * What the tone player plays: ring (NONE or RING) on the ring device, and playback (NONE,
 * CALL_WAITING or RINGBACK) mixed into the playback device with the streams' sound. A tone that
 * goes on keeps its cadence; one that starts, starts at its beginning. The thread and the
 * devices run while a tone plays, streams or not: a ring device other than the playback device
 * is opened only while it rings, and the playback device alone (no capture) while a tone needs
 * it and no stream does. Mute does not silence tones. A device that fails is reported with
 * device_error once per tone and the tone goes on without it.
 */
void sp_media_engine_set_tones(SpMediaEngine *engine, SpMediaTone ring, SpMediaTone playback);

/*
 * Chooses other devices (NULL: that one unchanged; validate names first with sp_alsa_probe()).
 * A call with sound moves to them at the next 20 ms tick, its streams untouched; later calls
 * open them. A failed device named again is tried again at once.
 */
void sp_media_engine_set_devices(SpMediaEngine *engine, const char *capture, const char *playback);
/* The current choice (valid until the next sp_media_engine_set_devices()). */
const char *sp_media_engine_get_capture(SpMediaEngine *engine);
const char *sp_media_engine_get_playback(SpMediaEngine *engine);
/*
 * Whether both devices can be used now: FALSE (with the device's name in *device and why) when
 * one failed during a call and is not back, or when it cannot be opened. A device busy with
 * another program counts as there. Opens nothing for longer than a probe.
 */
gboolean sp_media_engine_check_devices(SpMediaEngine *engine, char **device, GError **error);

/*
 * A stream on the given bound UDP sockets (duplicated: the caller keeps its own). It sends and
 * plays nothing until the first sp_media_stream_update(). local_address is for statistics.
 */
SpMediaStream *sp_media_stream_new(SpMediaEngine *engine, int rtp_fd, int rtcp_fd,
				   const char *local_address, guint local_port,
				   gpointer stream_user_data);
/* Starts or changes the stream (answer, re-INVITE, hold, retrieve). */
void sp_media_stream_update(SpMediaStream *stream, const SpMediaDesc *desc);
/*
 * Queues digits (0-9 * # A-D) to send as RFC 4733 events (when a telephone-event PT was
 * negotiated) or, with inband TRUE, as tones in the audio.
 */
void sp_media_stream_send_dtmf(SpMediaStream *stream, const char *digits, gboolean inband);
/* The latest figures (at most ~100 ms old). FALSE before the stream first started. */
gboolean sp_media_stream_get_stats(SpMediaStream *stream, SpMediaStats *out);
/* Sends RTCP BYE and stops; no callback for this stream runs after it returns. NULL is fine. */
void sp_media_stream_free(SpMediaStream *stream);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpMediaEngine, sp_media_engine_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpMediaStream, sp_media_stream_free)

G_END_DECLS
