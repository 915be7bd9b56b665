/* The media engine: one thread that moves every call's RTP, RTCP and audio, and the sound devices.
 */
#include "daemon/media/stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "daemon/media/alsa-pcm.h"
#include "daemon/media/codec.h"
#include "daemon/media/dtmf-inband.h"
#include "daemon/media/jitter.h"
#include "daemon/media/resample.h"
#include "daemon/media/rtcp.h"
#include "daemon/media/rtp-stats.h"
#include "daemon/media/rtp.h"
#include "daemon/media/srtp.h"
#include "daemon/media/telephone-event.h"
#include "daemon/media/tones.h"
#include "daemon/media/tsan.h"

/*
 * The clock. Every 20 ms tick reads one frame from the capture device, sends what is due on
 * every stream, pulls 20 ms from every stream's jitter buffer and writes their mix to the
 * playback device. The tick comes from a timerfd on absolute times (CLOCK_MONOTONIC), so it does
 * not drift, and missed ticks are caught up so RTP timestamps and the recording's length stay
 * exact: the ALSA null and file PCMs have no clock of their own and take or give a second of
 * audio in no time. A device with a clock of its own runs beside it: what it captures beyond
 * two periods is dropped and a short read is padded with silence, so the delay stays bounded;
 * the far end's clock drift is absorbed by the jitter buffer, which inserts and drops frames.
 *
 * Buffers between the microphone and the far end's speaker (each side counted once):
 * capture device (one period read per tick: up to 20 ms on a real device, none on null/file),
 * the tick frame (20 ms), packetisation (ptime - 20 ms when ptime > 20), the network, the far
 * end's jitter buffer (jitter-min, 20 ms, when calm; opus one packet more while packets are
 * lost, see FEC_QUIET_US), its playback FIFO (< one packet), and its playback device (one
 * period prefilled: 20 ms). The resamplers add 1.5 to 3 ms each.
 *
 * Latching (which packets are accepted): only from the negotiated remote address. Its port may
 * change (an SBC or NAT): once nothing has come from the current port for 1 s, a new port on
 * the same IP is taken after 3 consecutive valid packets of one SSRC from it, and we send there
 * from then on; while the current port is alive, other ports cannot take the stream over. Another
 * IP is never taken until a new SDP says so. The first SSRC heard is locked; another one is taken
 * only after the current one has been silent for 1 s (the far end restarted), and then the jitter
 * buffer and the statistics start again. Everything else is dropped and counted in
 * packetsDiscarded.
 */

/* What top -H and /proc show for the media thread (the kernel keeps 15 characters). */
#define SP_MEDIA_THREAD_NAME "sp-media"

#define TICK_MS 20
#define TICK_US (TICK_MS * 1000)
#define DEV_FRAMES SP_ALSA_PERIOD_FRAMES /* 20 ms at 48 kHz */
#define MAX_CATCH_UP 10			 /* ticks made up at once after a stall */
#define LATCH_PACKETS 3
#define SSRC_SILENT_US G_GINT64_CONSTANT(1000000)
#define FIFO_SAMPLES (SP_CODEC_MAX_FRAME_SAMPLES * 3)
#define SEND_SAMPLES (SP_CODEC_MAX_FRAME_SAMPLES * 2)
#define STATS_EVERY_TICKS 5
#define RECV_BURST 64
#define DEVICE_RETRY_US G_GUINT64_CONSTANT(1000000) /* a failed device is tried again */
#define DEVICE_TRIAL_TICKS 10 /* frames a reopened device moves before it counts as back */

/*
 * Opus rebuilds a lost frame from the FEC data of the packet after it, which must then be in
 * the jitter buffer when the hole is played. The buffer's own target (the 95th percentile of
 * the transit plus a frame) has it there unless that packet is late itself: one of the 5 %
 * beyond the percentile, a spike on a calm line. One packet more of delay covers those too, but
 * a stream keeps it only while it is losing packets, as WebRTC's NetEq does, so that a clean
 * call does not pay 20 ms for it: the first hole the jitter buffer conceals raises its minimum
 * to jitter-min + one packet (the far end's packet duration), and FEC_QUIET_US with no hole
 * takes it back to jitter-min. Where the network's jitter already holds the target above that,
 * nothing changes.
 *
 * Why 10 s: losses come in episodes (a congested uplink, a Wi-Fi roam) that last seconds, and
 * every change costs a frame (one concealed frame to grow, one dropped to shrink). At 50 packets
 * a second, losses less than 500 packets apart keep the delay in place, and rarer ones change
 * it at most once every 10 s; much shorter and a bursty link would pay those frames every few
 * seconds, much longer and a call keeps the 20 ms well after its one bad moment.
 */
#define FEC_QUIET_US (10 * G_USEC_PER_SEC)

typedef enum {
	MSG_ADD,
	MSG_UPDATE,
	MSG_DTMF,
	MSG_REMOVE,
	MSG_DEVICES,
	MSG_TONES,
	MSG_QUIT,
} MsgType;

typedef struct _Stream Stream;

typedef struct {
	MsgType type;
	guint id;
	Stream *stream;	  /* MSG_ADD */
	SpMediaDesc desc; /* MSG_UPDATE: strings owned by the message */
	char *digits;	  /* MSG_DTMF */
	gboolean inband;
	char *capture; /* MSG_DEVICES: the new names, NULL for "unchanged" */
	char *playback;
	guint capture_gen, playback_gen; /* ... and their generations */
	SpMediaTone ring_tone; /* MSG_TONES */
	SpMediaTone playback_tone;
} Msg;

/* The statistics snapshot, shared by the media thread (writer) and the main thread. */
typedef struct {
	gatomicrefcount ref;
	GMutex lock;
	gboolean valid;
	SpMediaStats stats;
} Shared;

/*
 * What the main thread keeps of an engine while events are on their way to it: events hold a
 * reference, and drop themselves once the engine is gone.
 */
typedef struct {
	gatomicrefcount ref;
	gboolean alive; /* main thread only */
	SpMediaCallbacks callbacks;
	gpointer user_data;
	GHashTable *live; /* id -> SpMediaStream*, main thread only */
} Front;

/*
 * One sound device as the media thread sees it. A device that fails (cannot be opened, or an
 * unplugged headset mid-call) is reported once, then tried again every DEVICE_RETRY_US while a
 * stream needs sound; once it has moved DEVICE_TRIAL_TICKS frames again it is reported as
 * recovered. A reopened device that fails during its trial is closed again without a report, so
 * a flapping device does not flood the clients.
 */
typedef struct {
	gboolean capture;
	char *name;	/* the media thread's copy of the chosen name */
	guint name_gen; /* ... and its generation: the main thread counts the names it chose */
	SpAlsaPcm *pcm;
	gboolean failed;  /* reported as failed, not yet as recovered */
	guint good_ticks; /* frames moved since it was reopened after a failure */
	guint64 retry_us; /* not opened again before this tick */
	/* Atomic, read by the main thread: 0, or name_gen + 1 of the name that failed, so that a
	 * failure of the name before a SetAudioDevices is not taken for the new one's. */
	gint unavailable;
} Device;

struct _SpMediaEngine {
	Front *front;
	GMainContext *context;
	char *capture_name;
	char *playback_name;
	guint capture_gen, playback_gen; /* main thread: bumped with each new name */
	char *ring_name;	    /* "": no ring */
	gboolean ring_follows_playback; /* [audio] ring unset */
	SpMediaEngineConfig config; /* its strings point at the three above */
	gint muted;		    /* atomic */
	guint next_id;
	guint n_streams;		      /* main thread: streams alive */
	SpMediaTone want_ring, want_playback; /* main thread: the tones asked for */
	GSource *tones_stop;		      /* main thread: stops the thread a moment after */
	GThread *thread;
	int wake_fd;
	GAsyncQueue *queue;

	/* The media thread's own. */
	GPtrArray *streams; /* Stream* */
	Device capture;
	Device playback;
	guint64 xruns;
	int timer_fd;
	guint64 tick_us; /* the monotonic time of the current tick */

	/* The tone player's (media thread; the generators are made with the engine). */
	SpToneGenerator *tones[SP_MEDIA_TONE_RINGBACK + 1]; /* by SpMediaTone, NONE unused */
	SpMediaTone ring_tone, playback_tone;		    /* what plays */
	SpAlsaPcm *ring_pcm;  /* the ring device when it is not the playback device */
	gboolean ring_failed; /* until the ring stops: no retry while it rings */
	gboolean tone_opened; /* the tones opened the playback device once (until they stop) */
	guint tone_linger;    /* ticks the playback device stays open after a tone */
};

struct _SpMediaStream {
	SpMediaEngine *engine;
	guint id;
	Shared *shared;
	gpointer user_data;
};

/* One stream, owned by the media thread. */
struct _Stream {
	SpMediaEngine *engine;
	guint id;
	Shared *shared;
	int rtp_fd;
	int rtcp_fd;
	char local[64];

	gboolean configured;
	char codec_name[16];
	guint8 pt;
	guint clock_rate;
	guint ptime_ms;
	gint te_pt;
	SpMediaDirection direction;
	gboolean local_hold;
	gboolean rtcp_mux;
	gboolean has_remote;
	struct sockaddr_storage remote;
	socklen_t remote_len;
	struct sockaddr_storage remote_rtcp;
	socklen_t remote_rtcp_len;

	SpCodec *codec;
	const SpCodecInfo *info;
	SpResampler *down; /* 48 kHz -> codec rate */
	SpResampler *up;   /* codec rate -> 48 kHz */
	SpJitterBuffer *jb;
	SpRtpStats *rx_stats;
	SpTelephoneEventReceiver *te_rx;
	SpTelephoneEventSender *te_tx;
	SpDtmfGenerator *gen;
	SpResampler *gen_up; /* 8 kHz tones -> codec rate */
	SpDtmfDetector *det;
	SpResampler *det_down; /* codec rate -> 8 kHz */

	/* Sending. */
	guint32 ssrc;
	guint16 seq;
	guint32 ts;
	gboolean first_packet;
	gint16 send_buf[SEND_SAMPLES];
	guint send_fill;
	guint64 packets_sent, bytes_sent;
	gboolean sent_since_report;
	char cname[40];

	/* Receiving. */
	gboolean have_ssrc;
	guint32 remote_ssrc;
	gint64 last_rx_us;	/* RTP or RTCP */
	gint64 last_ssrc_rx_us; /* RTP of the locked SSRC */
	gint64 timeout_from_us; /* the inactivity clock runs from max(this, last_rx_us) */
	gboolean timed_out;
	struct sockaddr_storage latch;
	guint32 latch_ssrc;
	guint latch_count;
	guint64 packets_received, bytes_received, discarded;
	gint16 fifo[FIFO_SAMPLES];
	guint fifo_fill;
	guint64 concealed_samples;
	guint64 fec_samples; /* of concealed_samples: rebuilt from the next packet's FEC */
	gboolean fec_delay;  /* the jitter buffer keeps one packet more for FEC (FEC_QUIET_US) */
	guint64 jb_lost;     /* the jitter buffer's count of holes when last looked at */
	guint64 last_hole_us;
	guint64 dtmf_sent, dtmf_received;

	/* SRTP: the contexts and the keys they were made with (wiped when done). */
	SpSrtpSuite srtp_suite;
	SpSrtp *srtp_tx;
	SpSrtp *srtp_rx;
	guint8 srtp_tx_key[SP_SRTP_KEY_LEN];
	guint8 srtp_rx_key[SP_SRTP_KEY_LEN];
	guint64 srtp_auth_failures, srtp_replays;

	/* RTCP. */
	gint64 next_rtcp_us;
	double remote_jitter_ms, remote_loss_percent, rtt_ms;

	guint ticks;
};

/* ---- events to the main thread ----------------------------------------------------------------
 */

typedef enum {
	EV_DTMF,
	EV_TIMEOUT,
	EV_STARTED,
	EV_DEVICE_ERROR,
	EV_DEVICE_RECOVERED,
} EventType;

typedef struct {
	Front *front;
	EventType type;
	guint id;
	char digit;
	guint duration_ms;
	const char *method; /* static */
	char *device;
	char *error;
} Event;

static Front *front_ref(Front *f)
{
	g_atomic_ref_count_inc(&f->ref);
	return f;
}

static void front_unref(Front *f)
{
	if (g_atomic_ref_count_dec(&f->ref)) {
		g_hash_table_unref(f->live);
		g_free(f);
	}
}

static void event_free(gpointer data)
{
	Event *ev = data;

	SP_TSAN_ACQUIRE(ev); /* a source destroyed before it ran */
	front_unref(ev->front);
	g_free(ev->device);
	g_free(ev->error);
	g_free(ev);
}

static gboolean event_dispatch(gpointer data)
{
	Event *ev = data;
	Front *f;
	SpMediaStream *s;

	SP_TSAN_ACQUIRE(ev);
	f = ev->front;
	if (!f->alive)
		return G_SOURCE_REMOVE;
	switch (ev->type) {
	case EV_DEVICE_ERROR:
		if (f->callbacks.device_error != NULL)
			f->callbacks.device_error(f->user_data, ev->device, ev->error);
		break;
	case EV_DEVICE_RECOVERED:
		if (f->callbacks.device_recovered != NULL)
			f->callbacks.device_recovered(f->user_data, ev->device);
		break;
	case EV_DTMF:
		s = g_hash_table_lookup(f->live, GUINT_TO_POINTER(ev->id));
		if (s != NULL && f->callbacks.dtmf_received != NULL)
			f->callbacks.dtmf_received(s->user_data, ev->digit, ev->duration_ms,
						   ev->method);
		break;
	case EV_TIMEOUT:
		s = g_hash_table_lookup(f->live, GUINT_TO_POINTER(ev->id));
		if (s != NULL && f->callbacks.media_timeout != NULL)
			f->callbacks.media_timeout(s->user_data);
		break;
	case EV_STARTED:
		s = g_hash_table_lookup(f->live, GUINT_TO_POINTER(ev->id));
		if (s != NULL && f->callbacks.media_started != NULL)
			f->callbacks.media_started(s->user_data);
		break;
	}
	return G_SOURCE_REMOVE;
}

/*
 * An idle source in the main context rather than g_main_context_invoke(): that one runs the
 * callback right here, on the media thread, when no thread owns the context at the moment.
 */
static void post(SpMediaEngine *e, Event *ev)
{
	GSource *src = g_idle_source_new();

	ev->front = front_ref(e->front);
	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	g_source_set_callback(src, event_dispatch, ev, event_free);
	SP_TSAN_RELEASE(ev);
	g_source_attach(src, e->context);
	g_source_unref(src);
}

static void post_dtmf(Stream *st, char digit, guint duration_ms, const char *method)
{
	Event *ev = g_new0(Event, 1);

	st->dtmf_received++;
	ev->type = EV_DTMF;
	ev->id = st->id;
	ev->digit = digit;
	ev->duration_ms = duration_ms;
	ev->method = method;
	post(st->engine, ev);
}

static void post_device_error(SpMediaEngine *e, const char *device, const char *error)
{
	Event *ev = g_new0(Event, 1);

	ev->type = EV_DEVICE_ERROR;
	ev->device = g_strdup(device);
	ev->error = g_strdup(error);
	post(e, ev);
}

static void post_device_recovered(SpMediaEngine *e, const char *device)
{
	Event *ev = g_new0(Event, 1);

	ev->type = EV_DEVICE_RECOVERED;
	ev->device = g_strdup(device);
	post(e, ev);
}

/* ---- shared statistics ------------------------------------------------------------------------
 */

static Shared *shared_new(void)
{
	Shared *sh = g_new0(Shared, 1);

	g_atomic_ref_count_init(&sh->ref);
	g_mutex_init(&sh->lock);
	return sh;
}

static void shared_unref(Shared *sh)
{
	if (sh != NULL && g_atomic_ref_count_dec(&sh->ref)) {
		g_mutex_clear(&sh->lock);
		g_free(sh);
	}
}

/* ---- the media thread: streams ----------------------------------------------------------------
 */

static void stream_clear_codec(Stream *st)
{
	g_clear_pointer(&st->codec, sp_codec_free);
	g_clear_pointer(&st->down, sp_resampler_free);
	g_clear_pointer(&st->up, sp_resampler_free);
	g_clear_pointer(&st->jb, sp_jitter_buffer_free);
	g_clear_pointer(&st->rx_stats, sp_rtp_stats_free);
	g_clear_pointer(&st->te_rx, sp_telephone_event_receiver_free);
	g_clear_pointer(&st->te_tx, sp_telephone_event_sender_free);
	g_clear_pointer(&st->gen, sp_dtmf_generator_free);
	g_clear_pointer(&st->gen_up, sp_resampler_free);
	g_clear_pointer(&st->det, sp_dtmf_detector_free);
	g_clear_pointer(&st->det_down, sp_resampler_free);
	st->info = NULL;
}

static gboolean is_sending(const Stream *st)
{
	return st->configured && st->has_remote &&
	       (st->direction == SP_MEDIA_SENDRECV || st->direction == SP_MEDIA_SENDONLY);
}

static gboolean is_receiving(const Stream *st)
{
	return st->configured &&
	       (st->direction == SP_MEDIA_SENDRECV || st->direction == SP_MEDIA_RECVONLY);
}

/*
 * A stream that needs the devices: any call with media, held ones included (they play
 * silence), so that the headset is given back between calls, not between hold and retrieve.
 */
static gboolean needs_sound(const Stream *st)
{
	return st->configured;
}

static void on_inband_digit(gpointer data, char digit, guint duration_ms)
{
	post_dtmf(data, digit, duration_ms, "inband");
}

static gboolean parse_address(const char *address, guint port, struct sockaddr_storage *out,
			      socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;

	memset(out, 0, sizeof(*out));
	if (address == NULL || port == 0 || port > 65535)
		return FALSE;
	if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
		if (v4->sin_addr.s_addr == htonl(INADDR_ANY))
			return FALSE;
		v4->sin_family = AF_INET;
		v4->sin_port = htons((guint16)port);
		*len = sizeof(*v4);
		return TRUE;
	}
	if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
		if (IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr))
			return FALSE;
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((guint16)port);
		*len = sizeof(*v6);
		return TRUE;
	}
	return FALSE;
}

static gboolean same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return FALSE;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return FALSE;
}

static guint16 port_of(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)a)->sin_port);
	if (a->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
	return 0;
}

static void set_port(struct sockaddr_storage *a, guint16 port)
{
	if (a->ss_family == AF_INET)
		((struct sockaddr_in *)a)->sin_port = htons(port);
	else if (a->ss_family == AF_INET6)
		((struct sockaddr_in6 *)a)->sin6_port = htons(port);
}

static void format_address(const struct sockaddr_storage *a, char *out, gsize size)
{
	char ip[INET6_ADDRSTRLEN] = "";

	if (a->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, ip, sizeof(ip));
	else if (a->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, ip, sizeof(ip));
	if (ip[0] == '\0') {
		out[0] = '\0';
		return;
	}
	g_snprintf(out, size, a->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port_of(a));
}

/* A new codec (or the first): everything that depends on it starts again. */
static gboolean stream_set_codec(Stream *st, const SpMediaDesc *d)
{
	const SpMediaEngineConfig *cfg = &st->engine->config;
	g_autoptr(GError) error = NULL;
	guint rate;

	stream_clear_codec(st);
	st->codec = sp_codec_new(d->codec, d->ptime_ms, &error);
	if (st->codec == NULL) {
		g_warning("media: %s", error->message);
		return FALSE;
	}
	st->info = sp_codec_get_info(st->codec);
	rate = st->info->sample_rate;
	st->down = sp_resampler_new(SP_ALSA_RATE, rate, NULL);
	st->up = sp_resampler_new(rate, SP_ALSA_RATE, NULL);
	/* Opus too starts at jitter-min: its packet of delay for FEC comes with loss only. */
	st->jb = sp_jitter_buffer_new(st->info->clock_rate, cfg->jitter_min_ms, cfg->jitter_max_ms);
	sp_jitter_buffer_set_ptime(st->jb, d->ptime_ms);
	st->fec_delay = FALSE;
	st->jb_lost = 0;
	st->rx_stats = sp_rtp_stats_new(st->info->clock_rate);
	st->te_rx = sp_telephone_event_receiver_new(st->info->clock_rate);
	st->te_tx = sp_telephone_event_sender_new(st->info->clock_rate, d->ptime_ms,
						  cfg->dtmf_duration_ms, cfg->dtmf_gap_ms);
	st->gen = sp_dtmf_generator_new(cfg->dtmf_duration_ms, cfg->dtmf_gap_ms);
	st->gen_up = sp_resampler_new(SP_DTMF_INBAND_RATE, rate, NULL);
	st->det = sp_dtmf_detector_new(on_inband_digit, st);
	st->det_down = sp_resampler_new(rate, SP_DTMF_INBAND_RATE, NULL);
	g_strlcpy(st->codec_name, st->info->name, sizeof(st->codec_name));
	st->pt = d->payload_type;
	st->clock_rate = st->info->clock_rate;
	st->ptime_ms = d->ptime_ms;
	st->send_fill = 0;
	st->fifo_fill = 0;
	st->have_ssrc = FALSE;
	st->first_packet = TRUE;
	return st->down && st->up && st->jb && st->rx_stats && st->te_rx && st->te_tx && st->gen &&
	       st->gen_up && st->det && st->det_down;
}

static void stream_clear_srtp(Stream *st)
{
	g_clear_pointer(&st->srtp_tx, sp_srtp_free);
	g_clear_pointer(&st->srtp_rx, sp_srtp_free);
	explicit_bzero(st->srtp_tx_key, sizeof(st->srtp_tx_key));
	explicit_bzero(st->srtp_rx_key, sizeof(st->srtp_rx_key));
	st->srtp_suite = SP_SRTP_NONE;
}

/*
 * The keys of an SDP: a context is made again only when its key (or the suite) changed, so a
 * re-INVITE that keeps the keys keeps the replay window and the rollover counter.
 */
static void stream_set_srtp(Stream *st, const SpMediaDesc *d)
{
	g_autoptr(GError) error = NULL;
	gboolean same_suite = d->srtp_suite == st->srtp_suite;

	if (d->srtp_suite == SP_SRTP_NONE) {
		if (st->srtp_suite != SP_SRTP_NONE)
			g_info("media: SRTP off");
		stream_clear_srtp(st);
		return;
	}
	if (!same_suite || st->srtp_tx == NULL ||
	    memcmp(st->srtp_tx_key, d->srtp_local_key, SP_SRTP_KEY_LEN) != 0) {
		g_clear_pointer(&st->srtp_tx, sp_srtp_free);
		st->srtp_tx = sp_srtp_new(d->srtp_suite, d->srtp_local_key, FALSE, &error);
		if (st->srtp_tx == NULL)
			g_warning("media: %s; sending nothing", error->message);
		g_clear_error(&error);
		memcpy(st->srtp_tx_key, d->srtp_local_key, SP_SRTP_KEY_LEN);
		g_debug("media: new outbound SRTP context");
	}
	if (!same_suite || st->srtp_rx == NULL ||
	    memcmp(st->srtp_rx_key, d->srtp_remote_key, SP_SRTP_KEY_LEN) != 0) {
		g_clear_pointer(&st->srtp_rx, sp_srtp_free);
		st->srtp_rx = sp_srtp_new(d->srtp_suite, d->srtp_remote_key, TRUE, &error);
		if (st->srtp_rx == NULL)
			g_warning("media: %s; accepting nothing", error->message);
		memcpy(st->srtp_rx_key, d->srtp_remote_key, SP_SRTP_KEY_LEN);
		g_debug("media: new inbound SRTP context");
	}
	if (!same_suite)
		g_info("media: SRTP %s", sp_srtp_suite_to_string(d->srtp_suite));
	st->srtp_suite = d->srtp_suite;
}

/* Whether an SRTP(C) packet is genuine and new; decrypts it in place. Counts what is not. */
static gboolean stream_unprotect(Stream *st, guint8 *buf, gsize *len, gboolean rtcp)
{
	if (st->srtp_suite == SP_SRTP_NONE)
		return TRUE;
	if (st->srtp_rx == NULL) {
		st->discarded++;
		return FALSE;
	}
	switch (sp_srtp_unprotect(st->srtp_rx, buf, len, rtcp)) {
	case SP_SRTP_OK:
		return TRUE;
	case SP_SRTP_AUTH_FAILED:
		st->srtp_auth_failures++;
		break;
	case SP_SRTP_REPLAYED:
		st->srtp_replays++;
		break;
	case SP_SRTP_BAD:
		break;
	}
	st->discarded++;
	return FALSE;
}

/* Protects a packet about to be sent; FALSE: send nothing (no context). */
static gboolean stream_protect(Stream *st, guint8 *buf, gsize *len, gsize size, gboolean rtcp)
{
	gsize n;

	if (st->srtp_suite == SP_SRTP_NONE)
		return TRUE;
	if (st->srtp_tx == NULL)
		return FALSE;
	n = sp_srtp_protect(st->srtp_tx, buf, *len, size, rtcp);
	if (n == 0)
		return FALSE;
	*len = n;
	return TRUE;
}

static void stream_update(Stream *st, const SpMediaDesc *d)
{
	gboolean new_codec = !st->configured || st->codec == NULL ||
			     g_ascii_strcasecmp(st->codec_name, d->codec ? d->codec : "") != 0 ||
			     st->pt != d->payload_type || st->ptime_ms != d->ptime_ms;

	if (d->codec == NULL)
		return;
	if (new_codec && !stream_set_codec(st, d)) {
		stream_clear_codec(st);
		st->configured = FALSE;
		return;
	}
	st->te_pt = d->telephone_event_pt;
	st->direction = d->direction;
	st->local_hold = d->local_hold;
	st->rtcp_mux = d->rtcp_mux;
	st->has_remote =
	    parse_address(d->remote_address, d->remote_rtp_port, &st->remote, &st->remote_len);
	if (st->has_remote) {
		guint rtcp_port = d->rtcp_mux ? d->remote_rtp_port : d->remote_rtcp_port;

		if (!parse_address(d->remote_address,
				   rtcp_port ? rtcp_port : d->remote_rtp_port + 1, &st->remote_rtcp,
				   &st->remote_rtcp_len))
			st->remote_rtcp = st->remote;
	}
	stream_set_srtp(st, d);
	st->latch_count = 0;
	st->configured = TRUE;
	/* The inactivity clock starts again with every new SDP (re-INVITE, retrieve). */
	st->timeout_from_us = (gint64)st->engine->tick_us;
	st->timed_out = FALSE;
	if (st->next_rtcp_us == 0)
		st->next_rtcp_us =
		    (gint64)(st->engine->tick_us + sp_rtcp_first_interval_us(g_random_double()));
}

static void stream_send_rtcp(Stream *st, gboolean bye)
{
	SpRtcpReport report = {0};
	guint8 buf[SP_RTCP_MAX_BUILD_LEN + SP_SRTP_MAX_OVERHEAD];
	gsize len;

	if (!st->has_remote || st->codec == NULL)
		return;
	report.ssrc = st->ssrc;
	report.sender = st->sent_since_report;
	report.sr.ntp = sp_ntp_from_unix_us(g_get_real_time());
	report.sr.rtp_ts = st->ts;
	report.sr.packet_count = (guint32)st->packets_sent;
	report.sr.octet_count = (guint32)st->bytes_sent;
	if (st->have_ssrc && sp_rtp_stats_has_received(st->rx_stats)) {
		report.has_block = TRUE;
		sp_rtp_stats_make_report_block(st->rx_stats, st->remote_ssrc,
					       (guint64)g_get_monotonic_time(), &report.block);
	}
	report.cname = st->cname;
	report.bye = bye;
	len = sp_rtcp_build(buf, SP_RTCP_MAX_BUILD_LEN, &report);
	if (len == 0 || !stream_protect(st, buf, &len, sizeof(buf), TRUE))
		return;
	st->sent_since_report = FALSE;
	(void)sendto(st->rtcp_mux ? st->rtp_fd : st->rtcp_fd, buf, len, MSG_DONTWAIT,
		     (const struct sockaddr *)&st->remote_rtcp, st->remote_rtcp_len);
}

static void stream_free(Stream *st)
{
	if (st == NULL)
		return;
	if (st->configured)
		stream_send_rtcp(st, TRUE);
	stream_clear_codec(st);
	stream_clear_srtp(st);
	if (st->rtp_fd >= 0)
		close(st->rtp_fd);
	if (st->rtcp_fd >= 0)
		close(st->rtcp_fd);
	shared_unref(st->shared);
	g_free(st);
}

/* ---- receiving ----------------------------------------------------------------------------------
 */

static void stream_on_rtcp(Stream *st, const guint8 *data, gsize len)
{
	SpRtcpInfo info;
	gint64 now = g_get_monotonic_time();

	if (!st->configured || !sp_rtcp_parse(data, len, st->ssrc, &info)) {
		st->discarded++;
		return;
	}
	st->last_rx_us = now;
	if (info.has_sr && st->rx_stats != NULL)
		sp_rtp_stats_sr_received(st->rx_stats, info.sr.ntp, (guint64)now);
	if (info.has_block) {
		double rtt = sp_rtcp_rtt_ms(sp_ntp_middle32(sp_ntp_from_unix_us(g_get_real_time())),
					    info.block.lsr, info.block.dlsr);

		st->remote_jitter_ms = (double)info.block.jitter * 1000.0 / st->clock_rate;
		st->remote_loss_percent = info.block.fraction_lost * 100.0 / 256.0;
		if (!isnan(rtt))
			st->rtt_ms = rtt;
	}
}

/* Whether a packet from `from` is the far end's (see the latching rule at the top). */
static gboolean stream_accept_source(Stream *st, const struct sockaddr_storage *from, guint32 ssrc)
{
	if (!st->has_remote || !same_ip(from, &st->remote))
		return FALSE;
	if (port_of(from) == port_of(&st->remote)) {
		st->latch_count = 0;
		return TRUE;
	}
	if (g_get_monotonic_time() - st->last_ssrc_rx_us < SSRC_SILENT_US)
		return FALSE;
	if (st->latch_count > 0 && port_of(from) == port_of(&st->latch) && ssrc == st->latch_ssrc) {
		if (++st->latch_count >= LATCH_PACKETS) {
			g_info("media: the far end now sends from port %u; following it",
			       port_of(from));
			set_port(&st->remote, port_of(from));
			if (st->rtcp_mux)
				set_port(&st->remote_rtcp, port_of(from));
			st->latch_count = 0;
			return TRUE;
		}
		return FALSE;
	}
	st->latch = *from;
	st->latch_ssrc = ssrc;
	st->latch_count = 1;
	return FALSE;
}

static void stream_on_rtp(Stream *st, guint8 *data, gsize len, const struct sockaddr_storage *from)
{
	SpRtpPacket p;
	gint64 now = g_get_monotonic_time();
	SpRtpSeqResult seq;
	gboolean te;

	/* Only the far end's address is worth the cryptography; the rest is dropped below. */
	if (st->configured && st->has_remote && same_ip(from, &st->remote) &&
	    !stream_unprotect(st, data, &len, FALSE))
		return;
	if (!st->configured || st->codec == NULL || !sp_rtp_parse(data, len, &p)) {
		st->discarded++;
		return;
	}
	te = st->te_pt >= 0 && p.payload_type == (guint)st->te_pt;
	if ((p.payload_type != st->pt && !te) || !stream_accept_source(st, from, p.ssrc)) {
		st->discarded++;
		return;
	}
	if (st->have_ssrc && p.ssrc != st->remote_ssrc) {
		if (now - st->last_ssrc_rx_us < SSRC_SILENT_US) {
			st->discarded++;
			return;
		}
		/* The far end restarted: a new source. */
		st->have_ssrc = FALSE;
		sp_jitter_buffer_reset(st->jb);
		sp_rtp_stats_reset(st->rx_stats);
		sp_telephone_event_receiver_reset(st->te_rx);
		sp_codec_reset_decoder(st->codec);
	}
	if (!st->have_ssrc) {
		st->have_ssrc = TRUE;
		st->remote_ssrc = p.ssrc;
	}
	seq = sp_rtp_stats_received(st->rx_stats, p.seq, p.ts, p.payload_len, (guint64)now, !te);
	if (seq == SP_RTP_SEQ_BAD) {
		st->discarded++;
		return;
	}
	if (seq == SP_RTP_SEQ_RESTARTED)
		sp_jitter_buffer_reset(st->jb);
	st->last_rx_us = now;
	st->last_ssrc_rx_us = now;
	if (st->packets_received++ == 0) {
		Event *ev = g_new0(Event, 1);

		ev->type = EV_STARTED;
		ev->id = st->id;
		post(st->engine, ev);
	}
	st->bytes_received += p.payload_len;
	if (te) {
		SpTelephoneEvent ev;

		if (sp_telephone_event_decode(p.payload, p.payload_len, &ev))
			sp_telephone_event_receiver_put(st->te_rx, p.ts, p.marker, &ev,
							(guint64)now);
		else
			st->discarded++;
		return;
	}
	switch (sp_jitter_buffer_put(st->jb, p.seq, p.ts, p.marker, p.payload, p.payload_len,
				     (guint64)now)) {
	case SP_JITTER_PUT_ACCEPTED:
	case SP_JITTER_PUT_LATE: /* counted by the buffer as late */
		break;
	case SP_JITTER_PUT_DUPLICATE:
	case SP_JITTER_PUT_DISCARDED:
		st->discarded++;
		break;
	}
}

static void stream_receive(Stream *st, int fd, gboolean rtcp_port)
{
	guint8 buf[2048];

	for (guint i = 0; i < RECV_BURST; i++) {
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
				     &from_len);

		if (n < 0)
			return;
		if (rtcp_port || (st->rtcp_mux && sp_rtp_is_rtcp(buf, (gsize)n))) {
			gsize len = (gsize)n;

			if (st->has_remote && same_ip(&from, &st->remote)) {
				if (stream_unprotect(st, buf, &len, TRUE))
					stream_on_rtcp(st, buf, len);
			} else {
				st->discarded++;
			}
		} else {
			stream_on_rtp(st, buf, (gsize)n, &from);
		}
	}
}

/* ---- sending ------------------------------------------------------------------------------------
 */

static void stream_send_packet(Stream *st, guint8 pt, gboolean marker, guint32 ts,
			       const guint8 *payload, gsize len)
{
	guint8 buf[SP_RTP_HEADER_LEN + SP_CODEC_MAX_PAYLOAD + SP_SRTP_MAX_OVERHEAD];
	gsize n = sp_rtp_build(buf, SP_RTP_HEADER_LEN + SP_CODEC_MAX_PAYLOAD, pt, marker, st->seq,
			       ts, st->ssrc, payload, len);

	if (n == 0)
		return;
	st->seq++;
	if (!stream_protect(st, buf, &n, sizeof(buf), FALSE))
		return;
	if (sendto(st->rtp_fd, buf, n, MSG_DONTWAIT, (const struct sockaddr *)&st->remote,
		   st->remote_len) >= 0) {
		st->packets_sent++;
		st->bytes_sent += len;
		st->sent_since_report = TRUE;
	}
}

/* Sends every packet that 20 ms more of audio (pcm, at the codec's rate) makes due. */
static void stream_send(Stream *st, const gint16 *pcm, guint n)
{
	guint frame = sp_codec_get_frame_samples(st->codec);
	gboolean sending = is_sending(st);

	if (st->send_fill + n > SEND_SAMPLES)
		st->send_fill = 0;
	memcpy(st->send_buf + st->send_fill, pcm, n * sizeof(gint16));
	st->send_fill += n;
	while (st->send_fill >= frame) {
		SpTelephoneEventTick tick = {0};
		guint8 payload[SP_CODEC_MAX_PAYLOAD];

		if (st->te_pt >= 0)
			sp_telephone_event_sender_tick(st->te_tx, st->ts, &tick);
		if (sending && tick.send) {
			stream_send_packet(st, (guint8)st->te_pt, tick.marker, tick.ts,
					   tick.payload, tick.len);
			if (tick.digit_done)
				st->dtmf_sent++;
		}
		if (sending && !tick.suppress_audio) {
			gint len = sp_codec_encode(st->codec, st->send_buf, frame, payload,
						   sizeof(payload));

			if (len > 0) {
				stream_send_packet(st, st->pt, st->first_packet, st->ts, payload,
						   (gsize)len);
				st->first_packet = FALSE;
			}
		}
		st->ts += sp_codec_get_frame_rtp_units(st->codec);
		st->send_fill -= frame;
		memmove(st->send_buf, st->send_buf + frame, st->send_fill * sizeof(gint16));
	}
}

/* ---- playout ------------------------------------------------------------------------------------
 */

static void stream_detect_inband(Stream *st, const gint16 *pcm, guint n)
{
	gint16 low[SP_CODEC_MAX_FRAME_SAMPLES];
	gint m;

	if (st->te_pt >= 0)
		return;
	m = sp_resampler_process(st->det_down, pcm, n, low, G_N_ELEMENTS(low));
	if (m > 0)
		sp_dtmf_detector_feed(st->det, low, (guint)m);
}

/*
 * One packet more in the jitter buffer while it finds holes, for FEC (see FEC_QUIET_US). Its
 * own count of holes is the signal, not the RTP statistics: it counts exactly the frames that
 * playout missed (a packet that came too late included), after reordering and duplicates.
 */
static void stream_adapt_fec_delay(Stream *st, guint64 now_us)
{
	const SpMediaEngineConfig *cfg = &st->engine->config;
	SpJitterCounters jc;

	if (!st->info->has_fec)
		return;
	sp_jitter_buffer_get_counters(st->jb, &jc);
	if (jc.lost != st->jb_lost) {
		st->jb_lost = jc.lost;
		st->last_hole_us = now_us;
		if (!st->fec_delay) {
			guint packet_ms =
			    (guint)((guint64)sp_jitter_buffer_get_frame_duration(st->jb) * 1000 /
				    st->info->clock_rate);

			st->fec_delay = TRUE;
			sp_jitter_buffer_set_min_ms(st->jb, cfg->jitter_min_ms + packet_ms);
		}
	} else if (st->fec_delay && now_us >= st->last_hole_us + FEC_QUIET_US) {
		st->fec_delay = FALSE;
		sp_jitter_buffer_set_min_ms(st->jb, cfg->jitter_min_ms);
	}
}

/* Fills the stream's FIFO with at least n samples at the codec's rate from its jitter buffer. */
static void stream_pull(Stream *st, guint n, guint64 now_us)
{
	for (guint guard = 0; st->fifo_fill < n && guard < 16; guard++) {
		SpJitterFrame f;
		SpJitterGetResult r = sp_jitter_buffer_get(st->jb, now_us, &f);
		guint samples = sp_codec_info_rtp_to_samples(st->info, f.duration);
		gint got = -1;

		if (samples == 0 || samples > SP_CODEC_MAX_FRAME_SAMPLES)
			samples = n;
		if (st->fifo_fill + SP_CODEC_MAX_FRAME_SAMPLES > FIFO_SAMPLES)
			break;
		if (r == SP_JITTER_FRAME) {
			got = sp_codec_decode(st->codec, f.payload, f.len, st->fifo + st->fifo_fill,
					      FIFO_SAMPLES - st->fifo_fill);
			if (got < 0)
				st->discarded++;
		}
		if (r == SP_JITTER_EMPTY) {
			memset(st->fifo + st->fifo_fill, 0, samples * sizeof(gint16));
			got = (gint)samples;
		} else if (got < 0) {
			const guint8 *next;
			gsize next_len;

			/* Opus conceals in 2.5 ms steps. */
			if (st->info->id == SP_CODEC_OPUS)
				samples -= samples % 120;
			/*
			 * A lost opus frame is rebuilt from the next packet's FEC when it is here.
			 * Not an inserted one: nothing was lost, and the next packet's FEC data is
			 * for the frame played just before.
			 */
			if (r == SP_JITTER_LOST && !f.inserted && st->info->has_fec &&
			    sp_jitter_buffer_peek_next(st->jb, &next, &next_len)) {
				got = sp_codec_decode_fec(st->codec, next, next_len,
							  st->fifo + st->fifo_fill, samples);
				if (got > 0)
					st->fec_samples += (guint)got;
			}
			if (got < 0)
				got =
				    sp_codec_conceal(st->codec, st->fifo + st->fifo_fill, samples);
			if (got > 0)
				st->concealed_samples += (guint)got;
		}
		if (got <= 0)
			break;
		stream_detect_inband(st, st->fifo + st->fifo_fill, (guint)got);
		st->fifo_fill += (guint)got;
	}
	stream_adapt_fec_delay(st, now_us);
}

/* Takes 20 ms (n codec-rate samples) of what the far end says into out, or silence. */
static void stream_take(Stream *st, gint16 *out, guint n)
{
	guint take = MIN(n, st->fifo_fill);

	memcpy(out, st->fifo, take * sizeof(gint16));
	memset(out + take, 0, (n - take) * sizeof(gint16));
	st->fifo_fill -= take;
	memmove(st->fifo, st->fifo + take, st->fifo_fill * sizeof(gint16));
}

/* ---- one tick ---------------------------------------------------------------------------------
 */

static void stream_publish(Stream *st)
{
	SpMediaStats s = {0};
	SpRtpStatsFigures fig = {0};
	SpJitterCounters jc = {0};
	double delay;

	g_strlcpy(s.codec, st->codec_name, sizeof(s.codec));
	s.payload_type = st->pt;
	s.clock_rate = st->clock_rate;
	s.ptime_ms = st->ptime_ms;
	g_strlcpy(s.local_address, st->local, sizeof(s.local_address));
	if (st->has_remote)
		format_address(&st->remote, s.remote_address, sizeof(s.remote_address));
	s.rtcp_mux = st->rtcp_mux;
	s.packets_sent = st->packets_sent;
	s.bytes_sent = st->bytes_sent;
	s.packets_received = st->packets_received;
	s.bytes_received = st->bytes_received;
	if (st->rx_stats != NULL)
		sp_rtp_stats_get(st->rx_stats, &fig);
	if (st->jb != NULL)
		sp_jitter_buffer_get_counters(st->jb, &jc);
	s.packets_lost = fig.lost;
	s.loss_percent = fig.expected > 0 ? fig.loss_percent : NAN;
	s.packets_late = jc.late;
	s.packets_discarded = st->discarded;
	if (st->srtp_suite != SP_SRTP_NONE)
		g_strlcpy(s.srtp, sp_srtp_suite_to_string(st->srtp_suite), sizeof(s.srtp));
	s.srtp_auth_failures = st->srtp_auth_failures;
	s.srtp_replays = st->srtp_replays;
	s.jitter_ms = fig.expected > 0 ? fig.jitter_ms : NAN;
	s.remote_jitter_ms = st->remote_jitter_ms;
	s.remote_loss_percent = st->remote_loss_percent;
	s.rtt_ms = st->rtt_ms;
	s.jitter_buffer_ms = st->jb != NULL ? sp_jitter_buffer_get_delay_ms(st->jb) : 0;
	s.jitter_buffer_target_ms = st->jb != NULL ? sp_jitter_buffer_get_target_ms(st->jb) : 0;
	s.concealed_ms =
	    st->info != NULL ? st->concealed_samples * 1000 / st->info->sample_rate : 0;
	s.fec_recovered_ms = st->info != NULL ? st->fec_samples * 1000 / st->info->sample_rate : 0;
	s.fec_delay = st->fec_delay;
	s.dtmf_sent = st->dtmf_sent;
	s.dtmf_received = st->dtmf_received;
	s.xruns = st->engine->xruns;
	/* One way: half the round trip, our jitter buffer, and a device period at each end. */
	delay = (isnan(st->rtt_ms) ? 0.0 : st->rtt_ms / 2.0) + s.jitter_buffer_ms + 2.0 * TICK_MS;
	s.mos = fig.expected > 0 ? sp_mos_estimate(st->codec_name, delay, fig.loss_percent) : NAN;

	g_mutex_lock(&st->shared->lock);
	SP_TSAN_ACQUIRE(&st->shared->lock);
	st->shared->stats = s;
	st->shared->valid = TRUE;
	SP_TSAN_RELEASE(&st->shared->lock);
	g_mutex_unlock(&st->shared->lock);
}

static void stream_tick(Stream *st, const gint16 *mic, gint32 *mix, gboolean muted)
{
	SpMediaEngine *e = st->engine;
	guint rate;
	guint n;
	gint16 pcm[SP_CODEC_MAX_FRAME_SAMPLES];
	gint16 up[DEV_FRAMES * 2];
	SpDtmfDigit digit;
	gint got;

	if (!st->configured || st->codec == NULL)
		return;
	rate = st->info->sample_rate;
	n = rate * TICK_MS / 1000;

	/* What we send: the microphone, or silence that keeps the stream's timing alive. */
	if (mic != NULL && !muted && !st->local_hold && is_sending(st)) {
		got = sp_resampler_process(st->down, mic, DEV_FRAMES, pcm, G_N_ELEMENTS(pcm));
		if (got < (gint)n)
			memset(pcm + MAX(got, 0), 0, (n - (guint)MAX(got, 0)) * sizeof(gint16));
	} else {
		memset(pcm, 0, n * sizeof(gint16));
	}
	if (sp_dtmf_generator_is_busy(st->gen)) {
		gint16 tone[SP_DTMF_INBAND_RATE * TICK_MS / 1000];
		guint tn = sp_dtmf_generator_fill(st->gen, tone, G_N_ELEMENTS(tone));

		if (tn > 0) {
			gint16 tone_up[SP_CODEC_MAX_FRAME_SAMPLES];

			got = sp_resampler_process(st->gen_up, tone, G_N_ELEMENTS(tone), tone_up,
						   G_N_ELEMENTS(tone_up));
			/* The tones replace the voice while they play. */
			if (got > 0)
				memcpy(pcm, tone_up, MIN((guint)got, n) * sizeof(gint16));
		}
	}
	stream_send(st, pcm, n);

	/* What we play. */
	stream_pull(st, n, e->tick_us);
	stream_take(st, pcm, n);
	if (mix != NULL && is_receiving(st) && !st->local_hold) {
		got = sp_resampler_process(st->up, pcm, n, up, G_N_ELEMENTS(up));
		for (gint i = 0; i < MIN(got, DEV_FRAMES); i++)
			mix[i] += up[i];
	}

	sp_telephone_event_receiver_tick(st->te_rx, e->tick_us);
	while (sp_telephone_event_receiver_pop(st->te_rx, &digit))
		post_dtmf(st, digit.digit, digit.duration_ms, "rfc4733");

	if ((gint64)e->tick_us >= st->next_rtcp_us) {
		stream_send_rtcp(st, FALSE);
		st->next_rtcp_us = (gint64)(e->tick_us + sp_rtcp_interval_us(g_random_double()));
	}
	if (e->config.inactivity_timeout_ms > 0 && !st->timed_out &&
	    st->direction == SP_MEDIA_SENDRECV && !st->local_hold) {
		gint64 since = MAX(st->last_rx_us, st->timeout_from_us);

		if ((gint64)e->tick_us - since > (gint64)e->config.inactivity_timeout_ms * 1000) {
			Event *ev = g_new0(Event, 1);

			st->timed_out = TRUE;
			ev->type = EV_TIMEOUT;
			ev->id = st->id;
			post(e, ev);
		}
	}
	if (++st->ticks % STATS_EVERY_TICKS == 1)
		stream_publish(st);
}

/* ---- tones ------------------------------------------------------------------------------------
 *
 * The ringer and the call-progress tones, generated at the device rate (tones.c). The playback
 * tones (call waiting, ringback) are mixed into the playback device's frame with the streams'
 * sound; so is the ring when the ring device is the playback device, which is then opened once.
 * Another ring device is opened when the ring starts and closed when it stops.
 */

#define TONE_LEVEL 0.25	     /* peak, of full scale: about -12 dBFS, like a voice */
#define TONE_LINGER_TICKS 15 /* 300 ms */

static void tones_init(SpMediaEngine *e, const SpMediaEngineConfig *config)
{
	const char *specs[G_N_ELEMENTS(e->tones)] = {
	    [SP_MEDIA_TONE_RING] = config->ring_tone ? config->ring_tone : SP_TONE_RING_DEFAULT,
	    [SP_MEDIA_TONE_CALL_WAITING] = config->call_waiting_tone ? config->call_waiting_tone
								     : SP_TONE_CALL_WAITING_DEFAULT,
	    [SP_MEDIA_TONE_RINGBACK] =
		config->ringback_tone ? config->ringback_tone : SP_TONE_RINGBACK_DEFAULT,
	};

	for (guint i = SP_MEDIA_TONE_RING; i < G_N_ELEMENTS(e->tones); i++) {
		g_autoptr(GError) error = NULL;
		SpToneSpec spec = {0};

		/* The config checked them; a caller that did not gets the tone off. */
		if (!sp_tone_spec_parse(specs[i], &spec, &error))
			g_warning("tone \"%s\": %s; it is off", specs[i], error->message);
		e->tones[i] = sp_tone_generator_new(&spec, SP_ALSA_RATE, TONE_LEVEL);
	}
}

/* Main thread: a tone was asked for. */
static gboolean tones_wanted(SpMediaEngine *e)
{
	return e->want_ring != SP_MEDIA_TONE_NONE || e->want_playback != SP_MEDIA_TONE_NONE;
}

/* Media thread. An unset [audio] ring follows the playback device, SetAudioDevices included. */
static gboolean ring_shares_playback(SpMediaEngine *e)
{
	return e->ring_follows_playback || g_strcmp0(e->config.ring, e->playback.name) == 0;
}

static gboolean tones_play_on_playback(SpMediaEngine *e)
{
	return e->playback_tone != SP_MEDIA_TONE_NONE ||
	       (e->ring_tone != SP_MEDIA_TONE_NONE && ring_shares_playback(e));
}

/*
 * While a tone plays on the playback device, and a moment after: a call's stream usually comes
 * right after its ringback or ring ends (the answer), and must find the device still open
 * rather than close and reopen it (a click on a real device).
 */
static gboolean tones_need_playback(SpMediaEngine *e)
{
	return tones_play_on_playback(e) || e->tone_linger > 0;
}

static gboolean streams_need_sound(SpMediaEngine *e);
static void device_open(SpMediaEngine *e, Device *d);

/* Media thread: what plays from now on. */
static void tones_set(SpMediaEngine *e, SpMediaTone ring, SpMediaTone playback)
{
	gboolean was_playing = tones_play_on_playback(e);

	if (ring != e->ring_tone && ring != SP_MEDIA_TONE_NONE)
		sp_tone_generator_reset(e->tones[ring]);
	if (playback != e->playback_tone && playback != SP_MEDIA_TONE_NONE)
		sp_tone_generator_reset(e->tones[playback]);
	e->ring_tone = ring;
	e->playback_tone = playback;
	if (ring == SP_MEDIA_TONE_NONE) {
		g_clear_pointer(&e->ring_pcm, sp_alsa_close); /* at once, not at the next tick */
		e->ring_failed = FALSE;
	}
	if (!tones_play_on_playback(e)) {
		e->tone_opened = FALSE;
		if (was_playing)
			e->tone_linger = TONE_LINGER_TICKS;
	}
}

/* Opens what the tones need and no stream opened: each device once per tone. */
static void tones_devices_update(SpMediaEngine *e)
{
	g_autoptr(GError) error = NULL;

	if (e->ring_tone != SP_MEDIA_TONE_NONE && !ring_shares_playback(e) &&
	    e->config.ring[0] != '\0' && e->ring_pcm == NULL && !e->ring_failed) {
		e->ring_pcm = sp_alsa_open(e->config.ring, FALSE, &error);
		if (e->ring_pcm == NULL) {
			e->ring_failed = TRUE;
			post_device_error(e, e->config.ring, error->message);
			g_clear_error(&error);
		}
	}
	if (ring_shares_playback(e) || e->ring_tone == SP_MEDIA_TONE_NONE)
		g_clear_pointer(&e->ring_pcm, sp_alsa_close);
	if (tones_play_on_playback(e) && e->playback.pcm == NULL && !e->tone_opened &&
	    !streams_need_sound(e)) {
		e->tone_opened = TRUE;
		device_open(e, &e->playback);
	}
}

static void tones_tick(SpMediaEngine *e, gint32 *mix)
{
	if (e->tone_linger > 0 && !tones_play_on_playback(e))
		e->tone_linger--;
	if (e->playback_tone != SP_MEDIA_TONE_NONE)
		sp_tone_generator_mix(e->tones[e->playback_tone], mix, DEV_FRAMES);
	if (e->ring_tone == SP_MEDIA_TONE_NONE)
		return;
	if (ring_shares_playback(e)) {
		sp_tone_generator_mix(e->tones[e->ring_tone], mix, DEV_FRAMES);
	} else {
		gint32 ring[DEV_FRAMES] = {0};
		gint16 out[DEV_FRAMES];
		glong put;

		/* The cadence goes on while the device is missing. */
		sp_tone_generator_mix(e->tones[e->ring_tone], ring, DEV_FRAMES);
		if (e->ring_pcm == NULL)
			return;
		for (guint i = 0; i < DEV_FRAMES; i++)
			out[i] = (gint16)CLAMP(ring[i], G_MININT16, G_MAXINT16);
		put = sp_alsa_write(e->ring_pcm, out, DEV_FRAMES, &e->xruns);
		if (put < 0) {
			g_autofree char *name = g_strdup(sp_alsa_get_name(e->ring_pcm));

			g_clear_pointer(&e->ring_pcm, sp_alsa_close);
			e->ring_failed = TRUE;
			post_device_error(e, name, g_strerror((int)-put));
		}
	}
}

/* ---- devices ----------------------------------------------------------------------------------
 */

static void device_set_failed(Device *d, gboolean failed)
{
	d->failed = failed;
	g_atomic_int_set(&d->unavailable, failed ? (gint)(d->name_gen + 1) : 0);
}

/* Closed, with its failure forgotten: the next call (or the next name) starts afresh. */
static void device_reset(Device *d)
{
	g_clear_pointer(&d->pcm, sp_alsa_close);
	device_set_failed(d, FALSE);
	d->good_ticks = 0;
	d->retry_us = 0;
}

static gboolean streams_need_sound(SpMediaEngine *e)
{
	for (guint i = 0; i < e->streams->len; i++)
		if (needs_sound(g_ptr_array_index(e->streams, i)))
			return TRUE;
	return FALSE;
}

static void devices_close(SpMediaEngine *e)
{
	device_reset(&e->capture);
	device_reset(&e->playback);
}

static void device_failed(SpMediaEngine *e, Device *d, const char *error)
{
	g_clear_pointer(&d->pcm, sp_alsa_close);
	d->retry_us = e->tick_us + DEVICE_RETRY_US;
	if (d->failed)
		return; /* reported already: this was a retry */
	device_set_failed(d, TRUE);
	post_device_error(e, d->name, error);
}

static void device_open(SpMediaEngine *e, Device *d)
{
	g_autoptr(GError) error = NULL;

	if (d->pcm != NULL || e->tick_us < d->retry_us)
		return;
	d->good_ticks = 0;
	d->pcm = sp_alsa_open(d->name, d->capture, &error);
	if (d->pcm == NULL)
		device_failed(e, d, error->message);
}

/* A frame went through d. */
static void device_moved(SpMediaEngine *e, Device *d)
{
	if (d->failed && ++d->good_ticks >= DEVICE_TRIAL_TICKS) {
		device_set_failed(d, FALSE);
		post_device_recovered(e, d->name);
	}
}

/*
 * SetAudioDevices: the device changes before the next tick opens it again (a gap of one
 * frame). The same name again only retries a failed device at once: a working one is left
 * alone, so a file PCM's recording is not truncated by reopening it.
 */
static void device_switch(Device *d, const char *name, guint gen)
{
	if (name == NULL)
		return;
	d->name_gen = gen;
	if (g_strcmp0(name, d->name) == 0) {
		if (d->failed && d->pcm == NULL)
			d->retry_us = 0;
		return;
	}
	device_reset(d);
	g_free(d->name);
	d->name = g_strdup(name);
}

/*
 * Opens the devices when a stream needs sound (and tries failed ones again), and closes them
 * when none does.
 */
static void devices_update(SpMediaEngine *e)
{
	if (!streams_need_sound(e)) {
		/* A tone may keep the playback device (ringback, or a ring that shares it). */
		if (tones_need_playback(e))
			device_reset(&e->capture);
		else
			devices_close(e); /* the next call tries them again, and reports them again */
		return;
	}
	device_open(e, &e->capture);
	device_open(e, &e->playback);
}

/* One frame of the microphone, or FALSE (silence) when there is none. */
static gboolean capture_frame(SpMediaEngine *e, gint16 *mic)
{
	glong got;

	if (e->capture.pcm == NULL)
		return FALSE;
	/* A device with a clock of its own that is ahead of ours: keep two periods at most. */
	if (sp_alsa_has_clock(e->capture.pcm)) {
		glong avail = sp_alsa_avail(e->capture.pcm);

		while (avail > 2 * DEV_FRAMES) {
			gint16 skip[DEV_FRAMES];

			if (sp_alsa_read(e->capture.pcm, skip, DEV_FRAMES, &e->xruns) <= 0)
				break;
			avail -= DEV_FRAMES;
		}
	}
	/* The null PCM "reads" without writing the buffer: never send what was on the stack. */
	memset(mic, 0, DEV_FRAMES * sizeof(gint16));
	got = sp_alsa_read(e->capture.pcm, mic, DEV_FRAMES, &e->xruns);
	if (got < 0) {
		device_failed(e, &e->capture, g_strerror((int)-got));
		return FALSE;
	}
	if (got > 0)
		device_moved(e, &e->capture);
	if (got < DEV_FRAMES)
		memset(mic + got, 0, (gsize)(DEV_FRAMES - got) * sizeof(gint16));
	return TRUE;
}

static void playback_frame(SpMediaEngine *e, const gint32 *mix)
{
	gint16 out[DEV_FRAMES];
	glong put;

	if (e->playback.pcm == NULL)
		return;
	for (guint i = 0; i < DEV_FRAMES; i++)
		out[i] = (gint16)CLAMP(mix[i], G_MININT16, G_MAXINT16);
	put = sp_alsa_write(e->playback.pcm, out, DEV_FRAMES, &e->xruns);
	if (put < 0)
		device_failed(e, &e->playback, g_strerror((int)-put));
	else if (put > 0)
		device_moved(e, &e->playback);
}

static void engine_tick(SpMediaEngine *e)
{
	gint16 mic[DEV_FRAMES];
	gint32 mix[DEV_FRAMES] = {0};
	gboolean have_mic;
	gboolean muted = g_atomic_int_get(&e->muted) != 0;

	devices_update(e);
	tones_devices_update(e);
	have_mic = capture_frame(e, mic);
	for (guint i = 0; i < e->streams->len; i++)
		stream_tick(g_ptr_array_index(e->streams, i), have_mic ? mic : NULL, mix, muted);
	tones_tick(e, mix);
	playback_frame(e, mix);
}

/* ---- the thread ---------------------------------------------------------------------------------
 */

static Stream *engine_find(SpMediaEngine *e, guint id)
{
	for (guint i = 0; i < e->streams->len; i++) {
		Stream *st = g_ptr_array_index(e->streams, i);

		if (st->id == id)
			return st;
	}
	return NULL;
}

static void msg_free(Msg *m)
{
	explicit_bzero(m->desc.srtp_local_key, sizeof(m->desc.srtp_local_key));
	explicit_bzero(m->desc.srtp_remote_key, sizeof(m->desc.srtp_remote_key));
	g_free((char *)m->desc.remote_address);
	g_free((char *)m->desc.codec);
	g_free(m->digits);
	g_free(m->capture);
	g_free(m->playback);
	g_free(m);
}

/* The next message from the main thread, or NULL. */
static Msg *engine_pop(SpMediaEngine *e)
{
	Msg *m = g_async_queue_try_pop(e->queue);

	if (m != NULL)
		SP_TSAN_ACQUIRE(m);
	return m;
}

/* FALSE when told to quit. */
static gboolean engine_handle(SpMediaEngine *e, Msg *m)
{
	Stream *st = m->type == MSG_ADD ? NULL : engine_find(e, m->id);
	gboolean go_on = TRUE;

	switch (m->type) {
	case MSG_ADD:
		g_ptr_array_add(e->streams, g_steal_pointer(&m->stream));
		break;
	case MSG_UPDATE:
		if (st != NULL)
			stream_update(st, &m->desc);
		break;
	case MSG_DTMF:
		if (st != NULL && st->codec != NULL) {
			if (m->inband || st->te_pt < 0) {
				if (sp_dtmf_generator_queue(st->gen, m->digits, NULL))
					st->dtmf_sent += strlen(m->digits);
			} else {
				for (const char *p = m->digits; *p != '\0'; p++)
					sp_telephone_event_sender_queue(st->te_tx, *p,
									e->config.dtmf_duration_ms);
			}
		}
		break;
	case MSG_REMOVE:
		if (st != NULL)
			g_ptr_array_remove(e->streams, st); /* frees it, with an RTCP BYE */
		break;
	case MSG_DEVICES:
		device_switch(&e->capture, m->capture, m->capture_gen);
		device_switch(&e->playback, m->playback, m->playback_gen);
		break;
	case MSG_TONES:
		tones_set(e, m->ring_tone, m->playback_tone);
		break;
	case MSG_QUIT:
		go_on = FALSE;
		break;
	}
	if (m->stream != NULL)
		stream_free(m->stream);
	msg_free(m);
	return go_on;
}

static gpointer engine_thread(gpointer data)
{
	SpMediaEngine *e = data;
	struct itimerspec its = {{0, TICK_US * 1000}, {0, 0}};
	struct timespec now;
	gboolean running = TRUE;
	sigset_t pipe_set;
	Msg *m;

	/*
	 * A device plugin that writes to a pipe (a file PCM on a FIFO or "|command") whose reader
	 * went away gets EPIPE, which is a failed device; the signal would end the daemon.
	 */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);

	clock_gettime(CLOCK_MONOTONIC, &now);
	its.it_value = now;
	its.it_value.tv_nsec += TICK_US * 1000;
	if (its.it_value.tv_nsec >= 1000000000) {
		its.it_value.tv_sec++;
		its.it_value.tv_nsec -= 1000000000;
	}
	timerfd_settime(e->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
	e->tick_us = (guint64)g_get_monotonic_time();

	while (running) {
		struct pollfd fds[2 + 2 * 16];
		Stream *owners[G_N_ELEMENTS(fds)];
		nfds_t n = 0;

		fds[n].fd = e->wake_fd;
		fds[n].events = POLLIN;
		owners[n++] = NULL;
		fds[n].fd = e->timer_fd;
		fds[n].events = POLLIN;
		owners[n++] = NULL;
		for (guint i = 0; i < e->streams->len && n + 2 <= G_N_ELEMENTS(fds); i++) {
			Stream *st = g_ptr_array_index(e->streams, i);

			fds[n].fd = st->rtp_fd;
			fds[n].events = POLLIN;
			owners[n++] = st;
			fds[n].fd = st->rtcp_fd;
			fds[n].events = POLLIN;
			owners[n++] = st;
		}
		if (poll(fds, n, 1000) < 0 && errno != EINTR)
			break;
		if (fds[0].revents & POLLIN) {
			guint64 v;

			(void)read(e->wake_fd, &v, sizeof(v));
		}
		while (running && (m = engine_pop(e)) != NULL)
			running = engine_handle(e, m);
		if (!running)
			break;
		/* Streams may have gone with the messages: only poll results of live ones. */
		for (nfds_t i = 2; i < n; i++) {
			if ((fds[i].revents & POLLIN) &&
			    g_ptr_array_find(e->streams, owners[i], NULL))
				stream_receive(owners[i], fds[i].fd,
					       fds[i].fd == owners[i]->rtcp_fd);
		}
		if (fds[1].revents & POLLIN) {
			guint64 expirations = 0;

			if (read(e->timer_fd, &expirations, sizeof(expirations)) ==
			    sizeof(expirations)) {
				if (expirations > MAX_CATCH_UP)
					expirations = MAX_CATCH_UP;
				for (guint64 i = 0; i < expirations; i++) {
					e->tick_us = (guint64)g_get_monotonic_time() -
						     (expirations - 1 - i) * TICK_US;
					engine_tick(e);
				}
			}
		}
	}
	while ((m = engine_pop(e)) != NULL)
		engine_handle(e, m);
	g_ptr_array_set_size(e->streams, 0);
	tones_set(e, SP_MEDIA_TONE_NONE, SP_MEDIA_TONE_NONE);
	devices_close(e);
	return NULL;
}

/* ---- the main thread's side ---------------------------------------------------------------------
 */

static void engine_send(SpMediaEngine *e, Msg *m)
{
	guint64 one = 1;

	SP_TSAN_RELEASE(m);
	g_async_queue_push(e->queue, m);
	(void)write(e->wake_fd, &one, sizeof(one));
}

static void engine_stop_thread(SpMediaEngine *e)
{
	Msg *m;

	if (e->thread == NULL)
		return;
	m = g_new0(Msg, 1);
	m->type = MSG_QUIT;
	engine_send(e, m);
	g_thread_join(e->thread);
	e->thread = NULL;
}

SpMediaEngine *sp_media_engine_new(const SpMediaEngineConfig *config,
				   const SpMediaCallbacks *callbacks, gpointer engine_user_data,
				   GMainContext *context)
{
	SpMediaEngine *e = g_new0(SpMediaEngine, 1);

	e->front = g_new0(Front, 1);
	g_atomic_ref_count_init(&e->front->ref);
	e->front->alive = TRUE;
	if (callbacks != NULL)
		e->front->callbacks = *callbacks;
	e->front->user_data = engine_user_data;
	e->front->live = g_hash_table_new(g_direct_hash, g_direct_equal);
	e->context =
	    context != NULL ? g_main_context_ref(context) : g_main_context_ref_thread_default();
	e->config = *config;
	e->capture_name = g_strdup(config->capture ? config->capture : "default");
	e->playback_name = g_strdup(config->playback ? config->playback : "default");
	e->ring_name = g_strdup(config->ring ? config->ring : e->playback_name);
	e->ring_follows_playback = config->ring == NULL;
	e->config.capture = e->capture_name;
	e->config.playback = e->playback_name;
	e->capture.capture = TRUE;
	e->capture.name = g_strdup(e->capture_name);
	e->playback.name = g_strdup(e->playback_name);
	e->config.ring = e->ring_name;
	tones_init(e, config);
	e->next_id = 1;
	e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	e->queue = g_async_queue_new();
	e->streams = g_ptr_array_new_with_free_func((GDestroyNotify)stream_free);
	return e;
}

void sp_media_engine_free(SpMediaEngine *e)
{
	Msg *m;

	if (e == NULL)
		return;
	if (e->tones_stop != NULL) {
		g_source_destroy(e->tones_stop);
		g_clear_pointer(&e->tones_stop, g_source_unref);
	}
	engine_stop_thread(e);
	while ((m = engine_pop(e)) != NULL) {
		if (m->stream != NULL)
			stream_free(m->stream);
		msg_free(m);
	}
	g_async_queue_unref(e->queue);
	g_ptr_array_unref(e->streams);
	devices_close(e);
	g_clear_pointer(&e->ring_pcm, sp_alsa_close);
	for (guint i = 0; i < G_N_ELEMENTS(e->tones); i++)
		g_clear_pointer(&e->tones[i], sp_tone_generator_free);
	if (e->wake_fd >= 0)
		close(e->wake_fd);
	if (e->timer_fd >= 0)
		close(e->timer_fd);
	e->front->alive = FALSE;
	g_hash_table_remove_all(e->front->live);
	front_unref(e->front);
	g_main_context_unref(e->context);
	g_free(e->capture.name);
	g_free(e->playback.name);
	g_free(e->capture_name);
	g_free(e->playback_name);
	g_free(e->ring_name);
	g_free(e);
}

void sp_media_engine_set_devices(SpMediaEngine *e, const char *capture, const char *playback)
{
	Msg *m = g_new0(Msg, 1);

	if (capture != NULL) {
		if (g_strcmp0(capture, e->capture_name) != 0)
			e->capture_gen++;
		g_free(e->capture_name);
		e->capture_name = g_strdup(capture);
		e->config.capture = e->capture_name;
	}
	if (playback != NULL) {
		if (g_strcmp0(playback, e->playback_name) != 0)
			e->playback_gen++;
		g_free(e->playback_name);
		e->playback_name = g_strdup(playback);
		e->config.playback = e->playback_name;
	}
	m->capture_gen = e->capture_gen;
	m->playback_gen = e->playback_gen;
	/* Queued even with no thread running: the next one starts with it. */
	m->type = MSG_DEVICES;
	m->capture = g_strdup(capture);
	m->playback = g_strdup(playback);
	engine_send(e, m);
}

const char *sp_media_engine_get_capture(SpMediaEngine *e)
{
	return e->capture_name;
}

const char *sp_media_engine_get_playback(SpMediaEngine *e)
{
	return e->playback_name;
}

gboolean sp_media_engine_check_devices(SpMediaEngine *e, char **device, GError **error)
{
	struct {
		const char *name;
		Device *d;
		guint gen;
		gboolean capture;
	} both[] = {{e->capture_name, &e->capture, e->capture_gen, TRUE},
		    {e->playback_name, &e->playback, e->playback_gen, FALSE}};

	for (guint i = 0; i < G_N_ELEMENTS(both); i++) {
		g_autoptr(GError) local = NULL;

		/* Failed during a call (and being retried): the probe may not see it. */
		if (g_atomic_int_get(&both[i].d->unavailable) == (gint)(both[i].gen + 1))
			g_set_error(&local, SP_MEDIA_ERROR, SP_MEDIA_ERROR_FAILED,
				    "%s: failed during the call and not back yet", both[i].name);
		else
			sp_alsa_probe(both[i].name, both[i].capture, &local);
		if (local != NULL) {
			if (device != NULL)
				*device = g_strdup(both[i].name);
			g_propagate_error(error, g_steal_pointer(&local));
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean on_tones_stop(gpointer data)
{
	SpMediaEngine *e = data;

	g_clear_pointer(&e->tones_stop, g_source_unref);
	if (e->n_streams == 0 && !tones_wanted(e))
		engine_stop_thread(e);
	return G_SOURCE_REMOVE;
}

void sp_media_engine_set_tones(SpMediaEngine *e, SpMediaTone ring, SpMediaTone playback)
{
	Msg *m;

	g_return_if_fail(ring == SP_MEDIA_TONE_NONE || ring == SP_MEDIA_TONE_RING);
	g_return_if_fail(playback != SP_MEDIA_TONE_RING);
	if (e->ring_name[0] == '\0')
		ring = SP_MEDIA_TONE_NONE; /* [audio] ring= (empty): no ring at all */
	if (ring == e->want_ring && playback == e->want_playback)
		return;
	e->want_ring = ring;
	e->want_playback = playback;
	if (e->thread == NULL && !tones_wanted(e))
		return;
	m = g_new0(Msg, 1);
	m->type = MSG_TONES;
	m->ring_tone = ring;
	m->playback_tone = playback;
	engine_send(e, m);
	if (e->thread == NULL) {
		e->thread = g_thread_new(SP_MEDIA_THREAD_NAME, engine_thread, e);
	} else if (e->n_streams == 0 && !tones_wanted(e) && e->tones_stop == NULL) {
		/*
		 * Not at once: the answer that ended a ringback or a ring brings its stream
		 * right after, and the playback device should stay open for it.
		 */
		e->tones_stop = g_timeout_source_new(TONE_LINGER_TICKS * TICK_MS);
		g_source_set_callback(e->tones_stop, on_tones_stop, e, NULL);
		g_source_attach(e->tones_stop, e->context);
	}
}

void sp_media_engine_set_mute(SpMediaEngine *e, gboolean muted)
{
	g_atomic_int_set(&e->muted, muted ? 1 : 0);
}

gboolean sp_media_engine_get_mute(SpMediaEngine *e)
{
	return g_atomic_int_get(&e->muted) != 0;
}

SpMediaStream *sp_media_stream_new(SpMediaEngine *e, int rtp_fd, int rtcp_fd,
				   const char *local_address, guint local_port,
				   gpointer stream_user_data)
{
	SpMediaStream *s = g_new0(SpMediaStream, 1);
	Stream *st = g_new0(Stream, 1);
	Msg *m = g_new0(Msg, 1);

	s->engine = e;
	s->id = e->next_id++;
	s->shared = shared_new();
	s->user_data = stream_user_data;
	g_hash_table_insert(e->front->live, GUINT_TO_POINTER(s->id), s);

	st->engine = e;
	st->id = s->id;
	st->shared = s->shared;
	g_atomic_ref_count_inc(&s->shared->ref);
	st->rtp_fd = fcntl(rtp_fd, F_DUPFD_CLOEXEC, 3);
	st->rtcp_fd = fcntl(rtcp_fd, F_DUPFD_CLOEXEC, 3);
	if (st->rtp_fd >= 0)
		fcntl(st->rtp_fd, F_SETFL, fcntl(st->rtp_fd, F_GETFL) | O_NONBLOCK);
	if (st->rtcp_fd >= 0)
		fcntl(st->rtcp_fd, F_SETFL, fcntl(st->rtcp_fd, F_GETFL) | O_NONBLOCK);
	g_snprintf(st->local, sizeof(st->local),
		   local_address && strchr(local_address, ':') ? "[%s]:%u" : "%s:%u",
		   local_address ? local_address : "0.0.0.0", local_port);
	st->ssrc = g_random_int();
	st->seq = (guint16)g_random_int_range(0, 65536);
	st->ts = g_random_int();
	st->te_pt = -1;
	st->remote_jitter_ms = NAN;
	st->remote_loss_percent = NAN;
	st->rtt_ms = NAN;
	g_snprintf(st->cname, sizeof(st->cname), "%08x%08x@softphoned", g_random_int(),
		   g_random_int());

	m->type = MSG_ADD;
	m->stream = st;
	engine_send(e, m);
	if (e->thread == NULL)
		e->thread = g_thread_new(SP_MEDIA_THREAD_NAME, engine_thread, e);
	e->n_streams++;
	return s;
}

void sp_media_stream_update(SpMediaStream *s, const SpMediaDesc *desc)
{
	Msg *m = g_new0(Msg, 1);

	m->type = MSG_UPDATE;
	m->id = s->id;
	m->desc = *desc;
	m->desc.remote_address = g_strdup(desc->remote_address);
	m->desc.codec = g_strdup(desc->codec);
	engine_send(s->engine, m);
}

void sp_media_stream_send_dtmf(SpMediaStream *s, const char *digits, gboolean inband)
{
	Msg *m = g_new0(Msg, 1);

	m->type = MSG_DTMF;
	m->id = s->id;
	m->digits = g_strdup(digits);
	m->inband = inband;
	engine_send(s->engine, m);
}

gboolean sp_media_stream_get_stats(SpMediaStream *s, SpMediaStats *out)
{
	gboolean valid;

	g_mutex_lock(&s->shared->lock);
	SP_TSAN_ACQUIRE(&s->shared->lock);
	valid = s->shared->valid;
	if (valid)
		*out = s->shared->stats;
	SP_TSAN_RELEASE(&s->shared->lock);
	g_mutex_unlock(&s->shared->lock);
	return valid;
}

void sp_media_stream_free(SpMediaStream *s)
{
	SpMediaEngine *e;
	Msg *m;

	if (s == NULL)
		return;
	e = s->engine;
	g_hash_table_remove(e->front->live, GUINT_TO_POINTER(s->id));
	m = g_new0(Msg, 1);
	m->type = MSG_REMOVE;
	m->id = s->id;
	engine_send(e, m);
	/* The last stream takes the thread with it (unless a tone plays): an idle daemon has no
	 * 50 Hz wakeups. */
	if (--e->n_streams == 0 && !tones_wanted(e))
		engine_stop_thread(e);
	shared_unref(s->shared);
	g_free(s);
}
