/* One call: its INVITE handle and status, failover while it is placed, hold, 3pcc, DTMF, REFER. */
#include "daemon/session.h"

#include <math.h>
#include <string.h>

#include "daemon/calls.h"
#include "daemon/connection.h"
#include "daemon/phone-private.h"
#include "daemon/rtp-ports.h"
#include "daemon/sdp.h"
#include "protocol/errors.h"

/*
 * nta marks the responses it makes up itself (timeouts, transport errors) with this parser
 * flag; it is NTA_INTERNAL_MSG in sofia's private nta_internal.h, not in its public headers.
 */
#define SP_NTA_INTERNAL_MSG (1 << 15)

/* How long a session that sent BYE/CANCEL waits for its handle to finish (64 * T1 + margin). */
#define SP_SESSION_ENDING_GUARD_S 40
#define SP_INVITE_FAILOVER_TIMEOUT_MS_DEFAULT 2000
/* Early media announced (a 18x with SDP) and silent this long: ringback until it sounds. */
#define EARLY_GRACE_MS 1000

/*
 * How soa builds our answers: every common codec in the offerer's order, telephone-event kept
 * beside them (with the one best codec only, soa drops telephone-event too). Given with each
 * call's own offer or answer: soa 1.12.11 does not carry them over from nua_set_params().
 * Both sides then send the offerer's first common codec (sdp.c).
 */
#define SP_SESSION_SOA_TAGS                                                                        \
	SOATAG_RTP_SELECT(SOA_RTP_SELECT_COMMON), SOATAG_AUDIO_AUX("telephone-event")

/*
 * An INVITE given up on while it may still reach the far end (a failover before any answer):
 * CANCELled, and kept bound to its session until it is over, so that an answer that comes
 * anyway is ACKed and ended with a BYE instead of leaving a call up at the far end.
 */
typedef struct {
	SpSession *session;
	nua_handle_t *nh;
	SpConnection *connection;
	guint connection_id;
	gboolean bye_sent;
	guint guard_timer;
} SpAttempt;

typedef enum {
	SP_OP_NONE,
	SP_OP_HOLD,
	SP_OP_RETRIEVE,
} SpSessionOp;

struct _SpSession {
	SpCalls *calls;
	SpPhone *phone;
	char *id;
	SpSessionStatus status;
	SpSessionStatus previous;
	gboolean has_previous;
	gboolean outbound;
	SpConnection *connection; /* the one the call runs on */
	guint connection_id;
	gint failover_from; /* the connection asked for, when another one is used; else -1 */
	nua_handle_t *nh;

	char *remote_uri;
	char *remote_display;
	char *remote_dn;

	int code;
	SpSessionReason reason;
	char *sip_reason;
	char *time;

	/* Placing an outbound call: failover to the next Ready connection. */
	char *destination;
	guint requested_id;
	GArray *tried;	       /* guint connection ids */
	gboolean provisional;  /* the current INVITE got a response (1xx or a challenge) */
	gboolean ringing;      /* ... and a 18x */
	nua_handle_t *ping_nh; /* OPTIONS to the site sent with the INVITE */
	gboolean site_alive;   /* ... and answered */
	gboolean auth_tried;
	guint failover_timer;
	int last_code;
	SpSessionReason last_reason;
	char *last_phrase;

	/* Media. */
	SpRtpPort *rtp;
	char *local_address;
	char *public_address; /* the connection's public-address, for c= and o=; NULL: local */
	char *sdp;
	char *local_sdp; /* the latest of each side that soa reported */
	char *remote_sdp;
	SpSdpMedia media; /* what they settled on */
	SpMediaStream *stream;
	SpConnection *ack_wait; /* answered, the ACK not yet in: the connection holding on */
	gboolean media_heard; /* the stream has had a packet from the far end */
	guint early_timer;    /* early media announced: the EARLY_GRACE_MS before ringback */
	json_object *audio; /* the statistics at the end, for the Disconnected event */

	/*
	 * SRTP (SDES). Our keys are in the user SDP we give soa, and soa's local SDP carries them
	 * back: the media takes both keys from the SDPs soa reports. Rule: a fresh key for every
	 * offer we send (the first INVITE, each hold/retrieve re-INVITE); our answers, soa's to
	 * the far end's re-INVITEs included, keep our current key. A new key from the far end
	 * gives a new inbound context; the same key keeps it (and its replay window).
	 */
	SpSrtpMode srtp_mode;  /* of the connection the call runs on, resolved */
	gboolean savp;	       /* our m-line says RTP/SAVP */
	SpSdpCrypto crypto[2]; /* our a=crypto lines */
	guint n_crypto;
	gboolean srtp_answered; /* crypto[] answers the far end's offer (an inbound call) */

	gboolean remote_holding;  /* the far end's last SDP does not receive audio */
	gboolean local_held;	  /* our hold re-INVITE was answered (and no retrieve since) */
	const char *hold_by_sent; /* the holdBy of the last event */
	SpSessionOp op;		  /* re-INVITE in flight */
	SpSessionOp retry;	  /* re-INVITE to send again after a 491 */
	guint retry_timer;

	GString *dtmf; /* digits queued for INFO */
	gboolean dtmf_busy;
	gboolean transferring;
	guint answer_timer;

	gboolean ending;    /* BYE/CANCEL/reject sent: waiting for the handle to finish */
	gboolean confirmed; /* the dialog is confirmed (our 2xx ACKed, or we ACKed theirs) */
	guint guard_timer;
	guint in_event;
	gboolean dead;	     /* free once the current NUA event returns and no attempt is left */
	GPtrArray *given_up; /* SpAttempt*, owned: INVITEs of earlier attempts still running */

	/* Correlation with the desktop: X-Genesys-CallUUID and the exposed headers. */
	char *call_uuid;
	json_object *sip_headers; /* object, owned; NULL: none */

	/* Being transferred (an incoming REFER): this call's handle notifies the transferor. */
	su_home_t *home;
	nua_handle_t *refer_nh; /* the transferor's dialog (a reference), NULL when not */
	sip_event_t *refer_event;
	char *transferred_from; /* session id of the call we were referred from */
	char *transferred_to;	/* session id of the call that replaced this one */
	char *refer_headers;	/* headers the Refer-To asked for (Replaces) */
	gboolean no_failover;	/* placed on the transferor's connection only */
	gboolean transfer_done; /* the call we were referred from was ended */
	gboolean refer_final;	/* the transferor has had our final sipfrag */
};

const char *sp_session_status_to_string(SpSessionStatus status)
{
	switch (status) {
	case SP_SESSION_ALERTING:
		return "Alerting";
	case SP_SESSION_IN_PROGRESS:
		return "InProgress";
	case SP_SESSION_CONNECTED:
		return "Connected";
	case SP_SESSION_HELD:
		return "Held";
	case SP_SESSION_DISCONNECTED:
		return "Disconnected";
	}
	return "Unknown";
}

const char *sp_session_reason_to_string(SpSessionReason reason)
{
	switch (reason) {
	case SP_REASON_NONE:
		return NULL;
	case SP_REASON_NORMAL:
		return "Normal";
	case SP_REASON_BUSY:
		return "Busy";
	case SP_REASON_REJECTED:
		return "Rejected";
	case SP_REASON_CANCELLED:
		return "Cancelled";
	case SP_REASON_NO_ANSWER:
		return "NoAnswer";
	case SP_REASON_SIP_ERROR:
		return "SipError";
	case SP_REASON_NETWORK_ERROR:
		return "NetworkError";
	case SP_REASON_MEDIA_TIMEOUT:
		return "MediaTimeout";
	}
	return NULL;
}

/* --- media -------------------------------------------------------------------------------- */

static void session_stop_media(SpSession *s);

static char *session_build_sdp(SpSession *s, const char *direction)
{
	const SpConfig *config = sp_phone_get_config(s->phone);

	return sp_sdp_build_secure(
	    s->public_address != NULL ? s->public_address : s->local_address,
	    sp_rtp_port_get_port(s->rtp), direction, sp_calls_get_codecs(s->calls),
	    config ? config->audio.ptime_ms : 0, s->savp, s->crypto, s->n_crypto);
}

/* Fresh keys for every a=crypto line we offer (see the rule at SpSession). */
static gboolean session_renew_keys(SpSession *s)
{
	for (guint i = 0; i < s->n_crypto; i++) {
		g_autoptr(GError) error = NULL;

		if (!sp_srtp_random_key(s->crypto[i].key, &error)) {
			g_warning("session %s: %s", s->id, error->message);
			return FALSE;
		}
	}
	return TRUE;
}

/*
 * What we offer: mandatory says RTP/SAVP, optional RTP/AVP with a=crypto (the usual form for
 * "best effort"), both with both suites; off offers plain RTP.
 */
static gboolean session_offer_srtp(SpSession *s)
{
	explicit_bzero(s->crypto, sizeof(s->crypto));
	s->srtp_answered = FALSE;
	s->savp = s->srtp_mode == SP_SRTP_MODE_MANDATORY;
	s->n_crypto = 0;
	if (s->srtp_mode == SP_SRTP_MODE_OFF)
		return TRUE;
	s->crypto[0].tag = 1;
	s->crypto[0].suite = SP_SRTP_AES_CM_128_HMAC_SHA1_80;
	s->crypto[1].tag = 2;
	s->crypto[1].suite = SP_SRTP_AES_CM_128_HMAC_SHA1_32;
	s->n_crypto = 2;
	return session_renew_keys(s);
}

/*
 * What we answer to an offer, or a reason to refuse it (488): off never answers RTP/SAVP;
 * optional takes either; mandatory needs a usable a=crypto. The answer keeps the offer's
 * profile (soa rejects an m-line whose profile differs from ours) and answers the offer's
 * first usable a=crypto with the same tag and suite and a key of ours.
 */
static gboolean session_answer_srtp(SpSession *s, const char *body, gsize len, const char **why)
{
	SpSdpSrtpOffer offer;

	explicit_bzero(s->crypto, sizeof(s->crypto));
	s->n_crypto = 0;
	s->savp = FALSE;
	s->srtp_answered = TRUE;
	if (!sp_sdp_offer_srtp(body, len, &offer))
		return TRUE; /* the codec check says what is wrong with it */
	if (s->srtp_mode == SP_SRTP_MODE_OFF) {
		if (offer.savp) {
			*why = "an RTP/SAVP offer, and srtp is off";
			return FALSE;
		}
		return TRUE;
	}
	if (!offer.usable) {
		if (offer.savp || s->srtp_mode == SP_SRTP_MODE_MANDATORY) {
			*why = "no usable a=crypto in the offer";
			return FALSE;
		}
		return TRUE;
	}
	s->savp = offer.savp;
	s->crypto[0].tag = offer.tag;
	s->crypto[0].suite = offer.suite;
	s->n_crypto = 1;
	if (!session_renew_keys(s)) {
		*why = "no key";
		return FALSE;
	}
	return TRUE;
}

/* We hold the call, or are about to: the microphone must not reach the far end. */
static gboolean session_local_hold(SpSession *s)
{
	return s->op == SP_OP_HOLD || (s->local_held && s->op != SP_OP_RETRIEVE);
}

static const char *direction_name(SpMediaDirection d)
{
	switch (d) {
	case SP_MEDIA_INACTIVE:
		return "inactive";
	case SP_MEDIA_SENDONLY:
		return "sendonly";
	case SP_MEDIA_RECVONLY:
		return "recvonly";
	case SP_MEDIA_SENDRECV:
		return "sendrecv";
	}
	return "inactive";
}

/*
 * The offer/answer has settled (or our hold changed): start the stream, or tell it what
 * changed. Before the first answer there is nothing to start.
 */
static void session_update_media(SpSession *s)
{
	SpMediaDesc desc;

	if (s->stream == NULL || s->media.codec == NULL)
		return;
	sp_sdp_media_to_desc(&s->media, session_local_hold(s), &desc);
	/*
	 * Held by the far end with c=0.0.0.0 and no direction (SIP Server's hold): nothing can be
	 * sent and nothing is to come, so it is no media timeout; what does come is still played.
	 */
	if (s->remote_holding && desc.direction == SP_MEDIA_SENDRECV)
		desc.direction = SP_MEDIA_RECVONLY;
	sp_media_stream_update(s->stream, &desc);
	explicit_bzero(&desc, sizeof(desc));
}

static gboolean on_early_grace(gpointer data);
static void clear_source(guint *id);
static void session_end_ack_wait(SpSession *s);
static void session_notify_referrer(SpSession *s, int status, const char *phrase);

/* soa reported SDP (tags of nua_i_state): when both sides are known and answered, apply it. */
static void session_on_sdp(SpSession *s, const char *local, const char *remote, gboolean answered)
{
	const SpConfig *config = sp_phone_get_config(s->phone);
	SpSdpMedia media;

	g_autofree char *local_shown = sp_sdp_redact(local);
	g_autofree char *remote_shown = sp_sdp_redact(remote);

	if (local != NULL && g_strcmp0(local, s->local_sdp) != 0) {
		sp_srtp_text_free(s->local_sdp);
		s->local_sdp = g_strdup(local);
	}
	if (remote != NULL && g_strcmp0(remote, s->remote_sdp) != 0) {
		sp_srtp_text_free(s->remote_sdp);
		s->remote_sdp = g_strdup(remote);
	}
	/* Never a key in a log line: the inline: values are hidden. */
	g_debug("session %s: SDP%s%s%s%s", s->id, local ? "\n--- ours:\n" : "",
		local ? local_shown : "", remote ? "\n--- theirs:\n" : "",
		remote ? remote_shown : "");
	if (s->local_sdp == NULL || s->remote_sdp == NULL || (!answered && s->stream == NULL) ||
	    s->status == SP_SESSION_DISCONNECTED || s->rtp == NULL)
		return;
	if (!sp_sdp_media_negotiated_str(s->local_sdp, s->remote_sdp,
					 config ? config->audio.ptime_ms : 0, &media)) {
		g_info("session %s: no common audio codec in the SDP; no media", s->id);
		return;
	}
	if (media.srtp_suite == SP_SRTP_NONE &&
	    (s->srtp_mode == SP_SRTP_MODE_MANDATORY || media.remote_savp || s->savp)) {
		g_autoptr(GError) error = NULL;

		/* Plain RTP is not what either side asked for: no media, and no call. */
		g_warning("session %s: the SDP settled on no SRTP key although %s; hanging up",
			  s->id,
			  s->srtp_mode == SP_SRTP_MODE_MANDATORY ? "srtp is mandatory"
								 : "RTP/SAVP was said");
		sp_sdp_media_clear(&media);
		if (!s->ending && !sp_session_hangup(s, &error))
			g_info("%s", error->message);
		return;
	}
	g_info("session %s: media %s/%u pt %u ptime %u, %s to %s:%u%s%s%s%s", s->id, media.codec,
	       media.clock_rate, media.payload_type, media.ptime_ms,
	       direction_name(media.direction), media.remote_address ? media.remote_address : "-",
	       media.remote_rtp_port, media.rtcp_mux ? ", rtcp-mux" : "",
	       media.telephone_event_pt >= 0 ? ", telephone-event" : "",
	       media.srtp_suite != SP_SRTP_NONE ? ", SRTP " : "",
	       media.srtp_suite != SP_SRTP_NONE ? sp_srtp_suite_to_string(media.srtp_suite) : "");
	sp_sdp_media_clear(&s->media);
	s->media = media;
	if (s->stream == NULL) {
		s->stream = sp_media_stream_new(sp_calls_get_media(s->calls),
						sp_rtp_port_get_rtp_fd(s->rtp),
						sp_rtp_port_get_rtcp_fd(s->rtp),
						s->local_address ? s->local_address : "0.0.0.0",
						sp_rtp_port_get_port(s->rtp), s);
		s->media_heard = FALSE;
		if (s->status == SP_SESSION_IN_PROGRESS) {
			g_info("session %s: early media announced", s->id);
			clear_source(&s->early_timer);
			s->early_timer = g_timeout_add(EARLY_GRACE_MS, on_early_grace, s);
			sp_calls_update_tones(s->calls); /* no ringback while it may start */
		}
	}
	session_update_media(s);
}

static void json_add_number(json_object *o, const char *key, double v)
{
	json_object_object_add(o, key, isnan(v) ? NULL : json_object_new_double(v));
}

/* The object of GetAudioStatistics and of the Disconnected event's "audio". */
static json_object *media_stats_to_json(const SpMediaStats *st)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "codec", json_object_new_string(st->codec));
	json_object_object_add(o, "payloadType", json_object_new_int64(st->payload_type));
	json_object_object_add(o, "clockRate", json_object_new_int64(st->clock_rate));
	json_object_object_add(o, "ptimeMs", json_object_new_int64(st->ptime_ms));
	json_object_object_add(o, "localAddress", json_object_new_string(st->local_address));
	json_object_object_add(o, "remoteAddress",
			       st->remote_address[0] ? json_object_new_string(st->remote_address)
						     : NULL);
	json_object_object_add(o, "rtcpMux", json_object_new_boolean(st->rtcp_mux));
	json_object_object_add(o, "packetsSent", json_object_new_int64((gint64)st->packets_sent));
	json_object_object_add(o, "bytesSent", json_object_new_int64((gint64)st->bytes_sent));
	json_object_object_add(o, "packetsReceived",
			       json_object_new_int64((gint64)st->packets_received));
	json_object_object_add(o, "bytesReceived",
			       json_object_new_int64((gint64)st->bytes_received));
	json_object_object_add(o, "packetsLost", json_object_new_int64(st->packets_lost));
	json_add_number(o, "lossPercent", st->loss_percent);
	json_object_object_add(o, "packetsLate", json_object_new_int64((gint64)st->packets_late));
	json_object_object_add(o, "packetsDiscarded",
			       json_object_new_int64((gint64)st->packets_discarded));
	json_object_object_add(o, "srtp", st->srtp[0] ? json_object_new_string(st->srtp) : NULL);
	json_object_object_add(o, "srtpAuthFailures",
			       json_object_new_int64((gint64)st->srtp_auth_failures));
	json_object_object_add(o, "srtpReplays", json_object_new_int64((gint64)st->srtp_replays));
	json_add_number(o, "jitterMs", st->jitter_ms);
	json_add_number(o, "remoteJitterMs", st->remote_jitter_ms);
	json_add_number(o, "remoteLossPercent", st->remote_loss_percent);
	json_add_number(o, "rttMs", st->rtt_ms);
	json_object_object_add(o, "jitterBufferMs", json_object_new_int64(st->jitter_buffer_ms));
	json_object_object_add(o, "jitterBufferTargetMs",
			       json_object_new_int64(st->jitter_buffer_target_ms));
	json_object_object_add(o, "concealedMs", json_object_new_int64((gint64)st->concealed_ms));
	json_object_object_add(o, "fecRecoveredMs",
			       json_object_new_int64((gint64)st->fec_recovered_ms));
	json_object_object_add(o, "dtmfSent", json_object_new_int64((gint64)st->dtmf_sent));
	json_object_object_add(o, "dtmfReceived", json_object_new_int64((gint64)st->dtmf_received));
	json_object_object_add(o, "xruns", json_object_new_int64((gint64)st->xruns));
	json_add_number(o, "mos", st->mos);
	return o;
}

json_object *sp_session_get_audio_statistics(SpSession *s, GError **error)
{
	SpMediaStats st;

	if (s->stream == NULL || !sp_media_stream_get_stats(s->stream, &st)) {
		g_set_error(error, SP_ERROR, SP_ERROR_UNAVAILABLE, "session %s has no audio (yet)",
			    s->id);
		return NULL;
	}
	return media_stats_to_json(&st);
}

/* The call ends: keep its last figures for the Disconnected event, then stop the stream. */
static void session_stop_media(SpSession *s)
{
	SpMediaStats st;

	if (s->stream == NULL)
		return;
	if (s->audio == NULL && sp_media_stream_get_stats(s->stream, &st))
		s->audio = media_stats_to_json(&st);
	g_clear_pointer(&s->stream, sp_media_stream_free);
}

static void session_emit_dtmf(SpSession *s, char digit, guint duration_ms, const char *method)
{
	json_object *o = json_object_new_object();
	g_autofree char *time = sp_phone_timestamp();
	char text[2] = {digit, '\0'};

	g_info("session %s: DTMF %c (%u ms, %s)", s->id, digit, duration_ms, method);
	json_object_object_add(o, "sessionId", json_object_new_string(s->id));
	json_object_object_add(o, "connectionId", json_object_new_int64(s->connection_id));
	json_object_object_add(o, "digit", json_object_new_string(text));
	json_object_object_add(o, "durationMs", json_object_new_int64(duration_ms));
	json_object_object_add(o, "method", json_object_new_string(method));
	json_object_object_add(o, "time", json_object_new_string(time));
	sp_phone_emit(s->phone, "DtmfReceived", o);
}

void sp_session_on_media_dtmf(SpSession *s, char digit, guint duration_ms, const char *method)
{
	if (s->status == SP_SESSION_DISCONNECTED || s->dead)
		return;
	session_emit_dtmf(s, digit, duration_ms, method);
}

/* --- JSON and the one status writer ------------------------------------------------------ */

static json_object *json_string_or_null(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

/* Who holds a call that is up: "local", "remote", "both", or NULL when nobody does. */
static const char *session_hold_by(SpSession *s)
{
	if (s->status != SP_SESSION_HELD)
		return NULL;
	if (s->local_held && s->remote_holding)
		return "both";
	return s->local_held ? "local" : "remote";
}

json_object *sp_session_to_json(SpSession *s)
{
	json_object *o = json_object_new_object();
	json_object *remote = json_object_new_object();
	json_object *props = json_object_new_object();

	json_object_object_add(o, "sessionId", json_object_new_string(s->id));
	json_object_object_add(o, "connectionId", json_object_new_int64(s->connection_id));
	json_object_object_add(o, "status",
			       json_object_new_string(sp_session_status_to_string(s->status)));
	json_object_object_add(
	    o, "previousStatus",
	    s->has_previous ? json_object_new_string(sp_session_status_to_string(s->previous))
			    : NULL);
	json_object_object_add(o, "direction",
			       json_object_new_string(s->outbound ? "outbound" : "inbound"));
	json_object_object_add(remote, "uri",
			       json_object_new_string(s->remote_uri ? s->remote_uri : ""));
	json_object_object_add(remote, "displayName",
			       json_object_new_string(s->remote_display ? s->remote_display : ""));
	json_object_object_add(remote, "dn",
			       json_object_new_string(s->remote_dn ? s->remote_dn : ""));
	json_object_object_add(o, "remote", remote);
	json_object_object_add(o, "failoverFrom",
			       s->failover_from >= 0 ? json_object_new_int(s->failover_from)
						     : NULL);
	json_object_object_add(o, "holdBy", json_string_or_null(session_hold_by(s)));
	json_object_object_add(props, "connectionId", json_object_new_int64(s->connection_id));
	json_object_object_add(props, "callUuid", json_string_or_null(s->call_uuid));
	if (s->sip_headers != NULL)
		json_object_object_add(props, "sipHeaders", json_object_get(s->sip_headers));
	json_object_object_add(o, "properties", props);
	if (s->transferred_to != NULL)
		json_object_object_add(o, "transferredTo",
				       json_object_new_string(s->transferred_to));
	if (s->transferred_from != NULL)
		json_object_object_add(o, "transferredFrom",
				       json_object_new_string(s->transferred_from));
	json_object_object_add(o, "code", s->code > 0 ? json_object_new_int(s->code) : NULL);
	json_object_object_add(o, "reason",
			       json_string_or_null(sp_session_reason_to_string(s->reason)));
	json_object_object_add(o, "sipReason", json_string_or_null(s->sip_reason));
	json_object_object_add(o, "time", json_string_or_null(s->time));
	if (s->audio != NULL)
		json_object_object_add(o, "audio", json_object_get(s->audio));
	return o;
}

static void session_end_transferor(SpSession *s);

void sp_session_set_status(SpSession *s, SpSessionStatus status, int code, SpSessionReason reason,
			   const char *sip_reason)
{
	if (s->status == SP_SESSION_DISCONNECTED)
		return; /* Disconnected is final and reported once */

	if (status == SP_SESSION_DISCONNECTED) {
		session_stop_media(s);
		session_end_ack_wait(s);
		/* A referred call that never got answered: how it ended, or that we ended it. */
		if (code >= 300)
			session_notify_referrer(s, code, sip_reason);
		else
			session_notify_referrer(s, 487, "Request Terminated");
	}
	s->previous = s->status;
	s->has_previous = TRUE;
	s->status = status;
	s->code = code;
	s->reason = reason;
	g_free(s->sip_reason);
	s->sip_reason = g_strdup(sip_reason);
	g_free(s->time);
	s->time = sp_phone_timestamp();
	s->hold_by_sent = session_hold_by(s);

	if (status == SP_SESSION_DISCONNECTED)
		g_info("session %s: %s -> Disconnected (%s%s%s) on connection %u", s->id,
		       sp_session_status_to_string(s->previous),
		       sp_session_reason_to_string(reason) ? sp_session_reason_to_string(reason)
							   : "-",
		       code > 0 ? ", " : "", code > 0 ? sip_reason ? sip_reason : "" : "",
		       s->connection_id);
	else
		g_info("session %s: %s -> %s on connection %u", s->id,
		       sp_session_status_to_string(s->previous),
		       sp_session_status_to_string(status), s->connection_id);

	sp_phone_emit(s->phone, "SessionStatusChanged", sp_session_to_json(s));
	/* Held and Connected decide whether the microphone reaches the far end. */
	session_update_media(s);
	sp_calls_update_tones(s->calls);

	if (status == SP_SESSION_CONNECTED && s->transferred_from != NULL && !s->transfer_done) {
		s->transfer_done = TRUE;
		session_end_transferor(s);
	}
}

/* The first status of a new session: previousStatus is null in its event. */
static void session_announce(SpSession *s)
{
	g_free(s->time);
	s->time = sp_phone_timestamp();
	g_info("session %s: %s %s on connection %u (%s)", s->id,
	       s->outbound ? "outbound" : "inbound", sp_session_status_to_string(s->status),
	       s->connection_id, s->remote_uri ? s->remote_uri : "");
	sp_phone_emit(s->phone, "SessionStatusChanged", sp_session_to_json(s));
}

/*
 * A call that is up is Held while either side holds it (the far end by c=0.0.0.0, sendonly or
 * inactive: SIP Server's T-Lib-initiated hold, docs.genesys.com/Documentation/SESDK/latest/
 * Overview/T-Lib-InitiatedHold-Retrieve), else Connected. An event goes out when the status
 * or who holds changes.
 */
static void session_update_hold_status(SpSession *s)
{
	SpSessionStatus want;
	SpSessionStatus was = s->status;

	if ((s->status != SP_SESSION_CONNECTED && s->status != SP_SESSION_HELD) || s->ending ||
	    s->dead)
		return;
	want = s->local_held || s->remote_holding ? SP_SESSION_HELD : SP_SESSION_CONNECTED;
	s->status = want;
	if (want == was && g_strcmp0(s->hold_by_sent, session_hold_by(s)) == 0) {
		/* Nothing to report; the microphone may still follow a hold of ours. */
		session_update_media(s);
		return;
	}
	s->status = was;
	sp_session_set_status(s, want, 0, SP_REASON_NONE, NULL);
}

/* --- lifetime ----------------------------------------------------------------------------- */

static void clear_source(guint *id)
{
	if (*id != 0) {
		g_source_remove(*id);
		*id = 0;
	}
}

/* Our 200 is answered by the ACK, or the call is over: its retransmissions need not last. */
static void session_end_ack_wait(SpSession *s)
{
	if (s->ack_wait != NULL) {
		sp_connection_hold_full_lifetime(s->ack_wait, FALSE);
		s->ack_wait = NULL;
	}
}

static void session_drop_ping(SpSession *s)
{
	if (s->ping_nh != NULL) {
		nua_handle_bind(s->ping_nh, NULL);
		nua_handle_destroy(s->ping_nh);
		s->ping_nh = NULL;
	}
}

/* --- INVITEs given up on ----------------------------------------------------------------- */

static void attempt_free(SpAttempt *a)
{
	clear_source(&a->guard_timer);
	if (a->nh != NULL) {
		nua_handle_bind(a->nh, NULL);
		nua_handle_destroy(a->nh);
	}
	g_free(a);
}

/* A dead session goes once the current NUA event returns and its given-up INVITEs are over. */
static void session_maybe_release(SpSession *s)
{
	if (s->dead && s->in_event == 0 && s->given_up->len == 0)
		sp_calls_release_session(s->calls, s);
}

/* The attempt is over (or has had its time): its handle goes, and maybe the session with it. */
static void attempt_end(SpAttempt *a)
{
	SpSession *s = a->session;

	g_ptr_array_remove(s->given_up, a);
	session_maybe_release(s);
}

static gboolean on_attempt_guard(gpointer data)
{
	SpAttempt *a = data;

	a->guard_timer = 0;
	g_info("session %s: the INVITE given up via connection %u did not finish in time; "
	       "dropping it",
	       a->session->id, a->connection_id);
	attempt_end(a);
	return G_SOURCE_REMOVE;
}

/*
 * The current INVITE is given up while the far end may still get it (no final response yet):
 * CANCEL it (sofia holds the CANCEL back until a provisional response comes, RFC 3261 §9.1)
 * and keep its handle, bound to the session, until it is over.
 */
static void session_give_up_invite(SpSession *s)
{
	SpAttempt *a;

	if (s->nh == NULL)
		return;
	a = g_new0(SpAttempt, 1);
	a->session = s;
	a->nh = g_steal_pointer(&s->nh);
	a->connection = s->connection;
	a->connection_id = s->connection_id;
	a->guard_timer = g_timeout_add_seconds(SP_SESSION_ENDING_GUARD_S, on_attempt_guard, a);
	g_ptr_array_add(s->given_up, a);
	g_debug("session %s: cancelling the INVITE via connection %u", s->id, a->connection_id);
	nua_cancel(a->nh, TAG_END());
}

/* An event of a given-up INVITE: BYE an answer, drop the handle once it is over. */
static void attempt_on_nua_event(SpAttempt *a, nua_event_t event, int status, char const *phrase,
				 tagi_t tags[])
{
	SpSession *s = a->session;
	int state = nua_callstate_init;

	switch (event) {
	case nua_r_invite:
		g_debug("session %s: given-up INVITE via connection %u: %d %s", s->id,
			a->connection_id, status, phrase ? phrase : "");
		break;
	case nua_r_cancel:
		g_debug("session %s: CANCEL via connection %u: %d %s", s->id, a->connection_id,
			status, phrase ? phrase : "");
		break;
	case nua_i_state:
		tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
		if (state == nua_callstate_ready && !a->bye_sent) {
			/* Answered after all (sofia has ACKed it): end that call. */
			g_info("session %s: the far end answered the INVITE given up via "
			       "connection %u; sending BYE",
			       s->id, a->connection_id);
			a->bye_sent = TRUE;
			nua_bye(a->nh, TAG_END());
		} else if (state == nua_callstate_terminated) {
			g_debug("session %s: the INVITE given up via connection %u is over (%d %s)",
				s->id, a->connection_id, status, phrase ? phrase : "");
			attempt_end(a);
		}
		break;
	case nua_r_bye:
		if (status >= 200)
			attempt_end(a);
		break;
	default:
		break;
	}
}

static SpAttempt *session_find_attempt(SpSession *s, nua_handle_t *nh)
{
	for (guint i = 0; i < s->given_up->len; i++) {
		SpAttempt *a = g_ptr_array_index(s->given_up, i);

		if (a->nh == nh)
			return a;
	}
	return NULL;
}

void sp_session_forget_connection(SpSession *s, SpConnection *c)
{
	for (guint i = s->given_up->len; i > 0; i--) {
		SpAttempt *a = g_ptr_array_index(s->given_up, i - 1);

		/* Its NUA goes away; nua_shutdown() ends what the CANCEL has not. */
		if (a->connection == c)
			g_ptr_array_remove_index(s->given_up, i - 1);
	}
	session_maybe_release(s);
}

static void session_drop_handle(SpSession *s)
{
	session_drop_ping(s);
	if (s->nh != NULL) {
		nua_handle_bind(s->nh, NULL);
		/* Events stop at once; sofia CANCELs an INVITE still pending. */
		nua_handle_destroy(s->nh);
		s->nh = NULL;
	}
}

void sp_session_free(SpSession *s)
{
	if (s == NULL)
		return;
	sp_media_stream_free(s->stream);
	sp_sdp_media_clear(&s->media);
	sp_srtp_text_free(s->local_sdp);
	sp_srtp_text_free(s->remote_sdp);
	explicit_bzero(s->crypto, sizeof(s->crypto));
	if (s->audio != NULL)
		json_object_put(s->audio);
	clear_source(&s->failover_timer);
	clear_source(&s->retry_timer);
	clear_source(&s->answer_timer);
	clear_source(&s->guard_timer);
	clear_source(&s->early_timer);
	session_drop_handle(s);
	if (s->given_up != NULL)
		g_ptr_array_unref(s->given_up);
	sp_rtp_port_free(s->rtp);
	g_free(s->id);
	g_free(s->remote_uri);
	g_free(s->remote_display);
	g_free(s->remote_dn);
	g_free(s->sip_reason);
	g_free(s->time);
	g_free(s->destination);
	if (s->tried != NULL)
		g_array_unref(s->tried);
	g_free(s->last_phrase);
	g_free(s->local_address);
	g_free(s->public_address);
	sp_srtp_text_free(s->sdp);
	if (s->dtmf != NULL)
		g_string_free(s->dtmf, TRUE);
	g_free(s->call_uuid);
	if (s->sip_headers != NULL)
		json_object_put(s->sip_headers);
	if (s->refer_nh != NULL)
		nua_handle_unref(s->refer_nh);
	g_free(s->transferred_from);
	g_free(s->transferred_to);
	g_free(s->refer_headers);
	su_home_unref(s->home);
	g_free(s);
}

/* The handle has nothing more to do: report Disconnected if not yet, then go. */
static void session_finish(SpSession *s, int code, SpSessionReason reason, const char *phrase)
{
	if (s->dead)
		return;
	if (s->status != SP_SESSION_DISCONNECTED)
		sp_session_set_status(s, SP_SESSION_DISCONNECTED, code, reason, phrase);
	s->dead = TRUE;
	session_maybe_release(s);
}

static gboolean on_guard_timeout(gpointer data)
{
	SpSession *s = data;

	s->guard_timer = 0;
	g_debug("session %s: handle did not finish in time; dropping it", s->id);
	session_finish(s, 0, SP_REASON_NORMAL, NULL);
	return G_SOURCE_REMOVE;
}

/* Reports Disconnected now; the handle finishes its BYE/CANCEL/reject in the background. */
static void session_end_locally(SpSession *s, int code, SpSessionReason reason, const char *phrase)
{
	clear_source(&s->failover_timer);
	clear_source(&s->retry_timer);
	clear_source(&s->answer_timer);
	clear_source(&s->early_timer);
	s->ending = TRUE;
	if (s->guard_timer == 0)
		s->guard_timer =
		    g_timeout_add_seconds(SP_SESSION_ENDING_GUARD_S, on_guard_timeout, s);
	sp_session_set_status(s, SP_SESSION_DISCONNECTED, code, reason, phrase);
}

const char *sp_session_get_id(SpSession *s)
{
	return s->id;
}

SpSessionStatus sp_session_get_status(SpSession *s)
{
	return s->status;
}

SpConnection *sp_session_get_connection(SpSession *s)
{
	return s->connection;
}

gboolean sp_session_is_auto_answering(SpSession *s)
{
	return s->answer_timer != 0;
}

/*
 * Ringback while the far end rings and we hear nothing of it: no early media, or early media
 * announced (a 18x with SDP) that has not sent a packet yet. A site that answers 183 with SDP
 * and then stays silent until the answer would otherwise leave the agent in silence. The grace
 * keeps a blip of ringback from preceding an announcement that starts a moment after its 183.
 */
gboolean sp_session_wants_ringback(SpSession *s)
{
	/* A stream made while InProgress started early_timer: once it has run, the grace is over. */
	return s->outbound && s->status == SP_SESSION_IN_PROGRESS && s->ringing &&
	       (s->stream == NULL || (s->early_timer == 0 && !s->media_heard));
}

gboolean sp_session_is_holding(SpSession *s)
{
	return s->op == SP_OP_HOLD || s->retry == SP_OP_HOLD || s->local_held;
}

/* --- helpers ------------------------------------------------------------------------------ */

static gboolean is_local_response(sip_t const *sip)
{
	return sip == NULL || (sip->sip_flags & SP_NTA_INTERNAL_MSG) != 0;
}

static gboolean is_site_failure(int status)
{
	return status == 408 || status == 503;
}

/* The host of "host[:port]" / "[v6]:port". */
/* Fills remote_uri/dn/display from a name-addr. */
static void session_set_remote(SpSession *s, sip_addr_t const *a)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	char *uri;

	if (a == NULL)
		return;
	uri = url_as_string(home, a->a_url);
	g_free(s->remote_uri);
	s->remote_uri = g_strdup(uri);
	g_free(s->remote_dn);
	s->remote_dn = g_strdup(a->a_url->url_user ? a->a_url->url_user : "");
	g_free(s->remote_display);
	if (a->a_display != NULL) {
		g_autofree char *d = g_strdup(a->a_display);
		gsize n = strlen(d);

		if (n >= 2 && d[0] == '"' && d[n - 1] == '"') {
			d[n - 1] = '\0';
			s->remote_display = g_strdup(d + 1);
		} else {
			s->remote_display = g_strdup(d);
		}
	} else {
		s->remote_display = g_strdup("");
	}
	su_home_deinit(home);
}

static void session_set_remote_uri(SpSession *s, const char *uri)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	url_t *url = url_make(home, uri);

	g_free(s->remote_uri);
	s->remote_uri = g_strdup(uri);
	g_free(s->remote_dn);
	s->remote_dn = g_strdup(url != NULL && url->url_user != NULL ? url->url_user : "");
	g_free(s->remote_display);
	s->remote_display = g_strdup("");
	su_home_deinit(home);
}

/* Reserves an RTP port on the address that reaches c's site and builds the user SDP. */
static gboolean session_prepare_media(SpSession *s, SpConnection *c, GError **error)
{
	const char *bound = sp_connection_get_local_address(c);
	/* A wildcard is no address for c=: then sofia fills in the one it sends from. */
	g_autofree char *address =
	    bound == NULL || g_str_equal(bound, "0.0.0.0") || g_str_equal(bound, "::")
		? NULL
		: g_strdup(bound);

	if (s->rtp == NULL || g_strcmp0(address, s->local_address) != 0) {
		SpRtpPort *rtp =
		    sp_rtp_ports_reserve(sp_calls_get_rtp_ports(s->calls), address, error);

		if (rtp == NULL)
			return FALSE;
		sp_rtp_port_free(s->rtp);
		s->rtp = rtp;
		g_free(s->local_address);
		s->local_address = g_steal_pointer(&address);
	}
	/* A public-address (NAT) is what the far end must send RTP to. */
	g_free(s->public_address);
	s->public_address = g_strdup(sp_connection_get_config(c)->public_address);
	/* The connection's SRTP: an inbound offer was answered already (session_answer_srtp). */
	s->srtp_mode = sp_connection_config_get_srtp(sp_connection_get_config(c));
	if (!s->srtp_answered && !session_offer_srtp(s)) {
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED, "no random bytes for an SRTP key");
		return FALSE;
	}
	sp_srtp_text_free(s->sdp);
	s->sdp = session_build_sdp(s, "sendrecv");
	return TRUE;
}

static SpSession *session_new(SpCalls *calls, const char *id, SpConnection *c)
{
	SpSession *s = g_new0(SpSession, 1);

	s->calls = calls;
	s->phone = sp_calls_get_phone(calls);
	s->id = g_strdup(id);
	s->connection = c;
	s->connection_id = sp_connection_get_id(c);
	s->failover_from = -1;
	s->tried = g_array_new(FALSE, FALSE, sizeof(guint));
	s->dtmf = g_string_new(NULL);
	s->given_up = g_ptr_array_new_with_free_func((GDestroyNotify)attempt_free);
	s->home = su_home_new(sizeof(su_home_t));
	return s;
}

/* --- placing an outbound call and failover ------------------------------------------------ */

static gboolean on_failover_timeout(gpointer data);

static guint failover_timeout_ms(SpSession *s)
{
	const SpConfig *config = sp_phone_get_config(s->phone);
	guint ms = config != NULL ? config->policy.invite_failover_timeout_ms : 0;

	return ms > 0 ? ms : SP_INVITE_FAILOVER_TIMEOUT_MS_DEFAULT;
}

/* host (and port) of a URI string equal those of url. */
static gboolean url_names_site(url_t const *url, const char *site_uri)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	url_t *site = site_uri != NULL ? url_make(home, site_uri) : NULL;
	gboolean same = site != NULL && site->url_host != NULL && url->url_host != NULL &&
			g_ascii_strcasecmp(site->url_host, url->url_host) == 0 &&
			(url->url_port == NULL || site->url_port == NULL ||
			 strcmp(url->url_port, site->url_port) == 0);

	su_home_deinit(home);
	return same;
}

/*
 * A dialled sip: URI whose host is the domain or server of a connection the call was moved
 * away from names the dead site: the site taking the call would relay it there. So its host
 * goes to c's domain, the user part, parameters and headers kept. Any other URI is kept as it
 * is. Transfer full; NULL when nothing needs to change.
 */
static char *session_retarget_uri(SpSession *s, SpConnection *c, const char *uri)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	url_t *url = url_make(home, uri);
	g_autofree char *own = sp_connection_make_uri(c, "x");
	url_t *own_url = own != NULL ? url_make(home, own) : NULL;
	char *out = NULL;

	if (url == NULL || own_url == NULL || url->url_host == NULL)
		goto done;
	if (url_names_site(url, own)) /* already c's own domain */
		goto done;
	for (guint i = 0; i < s->tried->len && out == NULL; i++) {
		guint id = g_array_index(s->tried, guint, i);
		SpConnection *old = sp_phone_find_connection(s->phone, id);
		g_autofree char *domain_uri = NULL;
		g_autofree char *server_uri = NULL;

		if (old == NULL || old == c)
			continue;
		domain_uri = sp_connection_make_uri(old, "x");
		server_uri = g_strdup_printf("sip:x@%s", sp_connection_get_config(old)->server);
		if (!url_names_site(url, domain_uri) && !url_names_site(url, server_uri))
			continue;
		url->url_host = own_url->url_host;
		url->url_port = own_url->url_port;
		out = g_strdup(url_as_string(home, url));
		g_info("session %s: %s names the site of connection %u; dialling %s", s->id, uri,
		       id, out);
	}
done:
	su_home_deinit(home);
	return out;
}

/* Sends the INVITE through c on a new handle. */
static gboolean session_place(SpSession *s, SpConnection *c, GError **error)
{
	const SpConnectionConfig *cfg = sp_connection_get_config(c);
	g_autofree char *uri = sp_connection_make_uri(c, s->destination);
	const char *proxy = sp_connection_get_proxy(c);
	const char *from = sp_connection_get_from(c);
	g_autofree char *site = NULL;
	guint cid = sp_connection_get_id(c);

	if (uri != NULL && s->tried->len > 0) {
		char *moved = session_retarget_uri(s, c, uri);

		if (moved != NULL) {
			g_free(uri);
			uri = moved;
		}
	}
	g_array_append_val(s->tried, cid);
	if (uri == NULL) {
		g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS, "bad destination \"%s\"",
			    s->destination);
		return FALSE;
	}
	if (!session_prepare_media(s, c, error))
		return FALSE;

	s->nh = nua_handle(sp_connection_get_nua(c), s, SIPTAG_TO_STR(uri), TAG_END());
	if (s->nh == NULL) {
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED, "cannot create a SIP handle");
		return FALSE;
	}
	s->connection = c;
	s->connection_id = cid;
	s->failover_from = cid != s->requested_id ? (gint)s->requested_id : -1;
	s->provisional = FALSE;
	s->ringing = FALSE;
	s->site_alive = FALSE;
	s->auth_tried = FALSE;
	session_set_remote_uri(s, uri);

	g_debug("session %s: INVITE %s via connection %u (%s)", s->id, uri, cid, proxy);
	/* The request-URI as dialled: sofia would take it from To, without its parameters. */
	nua_invite(s->nh, NUTAG_URL(URL_STRING_MAKE(uri)), NUTAG_PROXY(proxy),
		   SIPTAG_FROM_STR(from), NUTAG_MEDIA_ENABLE(1),
		   TAG_IF(s->refer_headers != NULL, SIPTAG_HEADER_STR(s->refer_headers)),
		   SOATAG_USER_SDP_STR(s->sdp), SP_SESSION_SOA_TAGS, TAG_END());

	/*
	 * A site that answers anything is alive, even while the far end takes its time. The
	 * INVITE's 100 Trying would say so, but sofia 1.12.11 only passes it up agent-wide
	 * (NTATAG_PASS_100), and then leaks a message for every 100 to an INVITE. So the site is
	 * asked directly, with one OPTIONS sent alongside the INVITE.
	 */
	site = g_strdup_printf("sip:%s", cfg->server);
	s->ping_nh = nua_handle(sp_connection_get_nua(c), s, SIPTAG_TO_STR(site), TAG_END());
	if (s->ping_nh != NULL)
		nua_options(s->ping_nh, NUTAG_PROXY(proxy), SIPTAG_FROM_STR(from), TAG_END());

	clear_source(&s->failover_timer);
	s->failover_timer = g_timeout_add(failover_timeout_ms(s), on_failover_timeout, s);
	return TRUE;
}

/*
 * The current attempt failed before the site answered at all: try the next Ready connection,
 * or end the session with this failure. Unless the INVITE got its final response, it is
 * cancelled, and kept until it is over in case the far end gets it and answers anyway.
 */
static void session_failover(SpSession *s, gboolean invite_over, int code, SpSessionReason reason,
			     const char *phrase)
{
	clear_source(&s->failover_timer);
	session_drop_ping(s);
	if (!invite_over)
		session_give_up_invite(s);
	session_drop_handle(s);
	s->last_code = code;
	s->last_reason = reason;
	g_free(s->last_phrase);
	s->last_phrase = g_strdup(phrase);

	for (; !s->no_failover;) {
		g_autoptr(GError) error = NULL;
		SpConnection *next = sp_calls_next_ready(s->calls, s->tried);

		if (next == NULL)
			break;
		g_info("session %s: connection %u failed (%d %s); placing the call via %u", s->id,
		       s->connection_id, code, phrase ? phrase : "", sp_connection_get_id(next));
		if (session_place(s, next, &error)) {
			/* Same status, new connectionId and failoverFrom. */
			sp_session_set_status(s, SP_SESSION_IN_PROGRESS, 0, SP_REASON_NONE, NULL);
			return;
		}
		g_warning("session %s: cannot place the call via %u: %s", s->id,
			  sp_connection_get_id(next), error->message);
		session_drop_handle(s);
	}
	session_finish(s, s->last_code, s->last_reason, s->last_phrase);
}

static gboolean on_failover_timeout(gpointer data)
{
	SpSession *s = data;

	SpConnection *c = s->connection;

	s->failover_timer = 0;
	g_info("session %s: no answer from the site of connection %u in %u ms", s->id,
	       s->connection_id, failover_timeout_ms(s));
	/* Moved first, so that the probe's outcome finds the call gone from c. */
	session_failover(s, FALSE, 408, SP_REASON_SIP_ERROR, "Request Timeout");
	sp_connection_report_failure(c, 408);
	return G_SOURCE_REMOVE;
}

SpSession *sp_session_new_outbound(SpCalls *calls, const char *id, const char *destination,
				   guint requested_id, SpConnection *c, GError **error)
{
	SpSession *s = session_new(calls, id, c);

	s->outbound = TRUE;
	s->status = SP_SESSION_IN_PROGRESS;
	s->destination = g_strdup(destination);
	s->requested_id = requested_id;
	/* The connection asked for is not tried again when it was skipped for not being Ready. */
	if (sp_connection_get_id(c) != requested_id)
		g_array_append_val(s->tried, requested_id);

	if (!session_place(s, c, error)) {
		sp_session_free(s);
		return NULL;
	}
	session_announce(s);
	return s;
}

void sp_session_on_connection_status(SpSession *s, SpConnection *c)
{
	if (c != s->connection || s->dead || s->ending)
		return;
	if (s->outbound && s->status == SP_SESSION_IN_PROGRESS && !s->provisional &&
	    sp_connection_get_status(c) != SP_CONNECTION_READY) {
		g_info("session %s: connection %u is %s while placing the call", s->id,
		       s->connection_id,
		       sp_connection_status_to_string(sp_connection_get_status(c)));
		session_failover(s, FALSE, 503, SP_REASON_NETWORK_ERROR, "Service Unavailable");
	}
}

void sp_session_abandon(SpSession *s)
{
	if (s->dead)
		return;
	if (s->nh != NULL && !s->ending) {
		switch (s->status) {
		case SP_SESSION_ALERTING:
			nua_respond(s->nh, SIP_480_TEMPORARILY_UNAVAILABLE, TAG_END());
			break;
		case SP_SESSION_IN_PROGRESS:
			nua_cancel(s->nh, TAG_END());
			break;
		case SP_SESSION_CONNECTED:
		case SP_SESSION_HELD:
			nua_bye(s->nh, TAG_END());
			break;
		case SP_SESSION_DISCONNECTED:
			break;
		}
	}
	session_drop_handle(s);
	session_finish(s, 0, SP_REASON_NORMAL, NULL);
}

/* --- correlation with the desktop --------------------------------------------------------- */

/* What is copied of a site's headers: bounded, whatever the site sends. */
#define SP_CALL_UUID_MAX 128
#define SP_SIP_HEADERS_MAX 32
#define SP_SIP_HEADER_VALUE_MAX 1024
#define SP_SIP_HEADERS_TOTAL_MAX 8192

static gboolean header_exposed(const SpConfig *config, const char *name)
{
	g_autofree char *lower = NULL;

	if (config == NULL || config->policy.expose_headers == NULL)
		return FALSE;
	lower = g_ascii_strdown(name, -1);
	for (char **p = config->policy.expose_headers; *p != NULL; p++)
		if (g_pattern_match_simple(*p, lower))
			return TRUE;
	return FALSE;
}

/* Printable ASCII or UTF-8 only, so that the JSON carries what the site sent. */
static gboolean header_value_ok(const char *v, gsize max)
{
	gsize n = strlen(v);

	if (n > max || !g_utf8_validate(v, (gssize)n, NULL))
		return FALSE;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return FALSE;
	return TRUE;
}

/*
 * properties.callUuid (X-Genesys-CallUUID: the id T-Server and the desktop know the call by)
 * and properties.sipHeaders (the headers named by [policy] expose-headers) from a request or
 * response of the call. What is known already is kept; what is too large is left out.
 */
static void session_take_headers(SpSession *s, sip_t const *sip)
{
	const SpConfig *config = sp_phone_get_config(s->phone);
	gsize total = 0;
	guint count = 0;

	if (sip == NULL || s->sip_headers != NULL || s->call_uuid != NULL)
		return;
	for (sip_unknown_t const *u = sip->sip_unknown; u != NULL; u = u->un_next) {
		json_object *prev = NULL;

		if (u->un_name == NULL || u->un_value == NULL)
			continue;
		if (s->call_uuid == NULL &&
		    g_ascii_strcasecmp(u->un_name, "X-Genesys-CallUUID") == 0 &&
		    header_value_ok(u->un_value, SP_CALL_UUID_MAX) && u->un_value[0] != '\0')
			s->call_uuid = g_strdup(u->un_value);
		if (!header_exposed(config, u->un_name) ||
		    !header_value_ok(u->un_value, SP_SIP_HEADER_VALUE_MAX) ||
		    strlen(u->un_name) > 128)
			continue;
		if (total + strlen(u->un_name) + strlen(u->un_value) > SP_SIP_HEADERS_TOTAL_MAX) {
			g_info("session %s: headers past %u bytes not exposed", s->id,
			       SP_SIP_HEADERS_TOTAL_MAX);
			break;
		}
		if (s->sip_headers == NULL)
			s->sip_headers = json_object_new_object();
		if (json_object_object_get_ex(s->sip_headers, u->un_name, &prev)) {
			/* A repeated header: its values joined, as RFC 3261 §7.3 allows. */
			g_autofree char *joined =
			    g_strdup_printf("%s, %s", json_object_get_string(prev), u->un_value);

			json_object_object_add(s->sip_headers, u->un_name,
					       json_object_new_string(joined));
		} else {
			if (count >= SP_SIP_HEADERS_MAX)
				continue;
			count++;
			json_object_object_add(s->sip_headers, u->un_name,
					       json_object_new_string(u->un_value));
		}
		total += strlen(u->un_name) + strlen(u->un_value) + 2;
	}
}

/* --- inbound ------------------------------------------------------------------------------ */

SpSession *sp_session_new_inbound(SpCalls *calls, const char *id, SpConnection *c, nua_handle_t *nh,
				  sip_t const *sip)
{
	SpSession *s = session_new(calls, id, c);
	g_autoptr(GError) error = NULL;

	s->outbound = FALSE;
	s->status = SP_SESSION_ALERTING;
	s->nh = nh;
	nua_handle_bind(nh, s);
	session_set_remote(s, sip->sip_from);
	session_take_headers(s, sip);

	/* An INVITE with SDP is an offer to answer; without, we offer in our 200 OK. */
	s->srtp_mode = sp_connection_config_get_srtp(sp_connection_get_config(c));
	if (sip->sip_payload != NULL && sip->sip_payload->pl_len > 0) {
		const char *why = NULL;

		if (!session_answer_srtp(s, sip->sip_payload->pl_data, sip->sip_payload->pl_len,
					 &why)) {
			g_info("session %s: rejecting the call on connection %u (srtp %s): %s",
			       s->id, sp_connection_get_id(c), sp_srtp_mode_to_string(s->srtp_mode),
			       why);
			nua_respond(nh, SIP_488_NOT_ACCEPTABLE,
				    SIPTAG_WARNING_STR(
					"399 softphoned \"Incompatible media security (SRTP)\""),
				    TAG_END());
			s->nh = NULL; /* the caller destroys the handle */
			nua_handle_bind(nh, NULL);
			sp_session_free(s);
			return NULL;
		}
	}
	if (!session_prepare_media(s, c, &error)) {
		g_warning("session %s: %s; rejecting the call", s->id, error->message);
		nua_respond(nh, SIP_503_SERVICE_UNAVAILABLE, TAG_END());
		s->nh = NULL; /* the caller destroys the handle */
		nua_handle_bind(nh, NULL);
		sp_session_free(s);
		return NULL;
	}
	nua_respond(nh, SIP_180_RINGING, TAG_END());
	session_announce(s);
	return s;
}

void sp_session_reject_inbound(SpCalls *calls, const char *id, SpConnection *c, nua_handle_t *nh,
			       sip_t const *sip, int code, const char *device, const char *error)
{
	SpSession *s = session_new(calls, id, c);
	const char *phrase = sip_status_phrase(code);
	json_object *o;
	json_object *why = json_object_new_object();

	if (phrase == NULL)
		phrase = "Audio Device Unavailable";
	nua_respond(nh, code, phrase,
		    SIPTAG_WARNING_STR("399 softphoned \"No audio device available\""), TAG_END());
	s->outbound = FALSE;
	session_set_remote(s, sip->sip_from);
	s->status = SP_SESSION_DISCONNECTED;
	s->code = code;
	s->reason = SP_REASON_REJECTED;
	s->sip_reason = g_strdup(phrase);
	s->time = sp_phone_timestamp();
	o = sp_session_to_json(s);
	json_object_object_add(why, "device", json_object_new_string(device));
	json_object_object_add(why, "error", json_object_new_string(error));
	json_object_object_add(o, "deviceError", why);
	sp_phone_emit(s->phone, "SessionStatusChanged", o);
	sp_session_free(s);
}

/* --- operations --------------------------------------------------------------------------- */

static gboolean wrong_state(SpSession *s, const char *what, GError **error)
{
	g_set_error(error, SP_ERROR, SP_ERROR_WRONG_STATE, "cannot %s session %s: it is %s%s", what,
		    s->id, sp_session_status_to_string(s->status),
		    s->op != SP_OP_NONE ? " (re-INVITE pending)" : "");
	return FALSE;
}

gboolean sp_session_answer(SpSession *s, GError **error)
{
	if (s->status != SP_SESSION_ALERTING || s->ending || s->nh == NULL)
		return wrong_state(s, "answer", error);

	clear_source(&s->answer_timer);
	sp_calls_hold_others(s->calls, s);
	/* Before the 200: its retransmissions get the lifetime set when it is sent. */
	if (s->ack_wait == NULL && s->connection != NULL) {
		s->ack_wait = s->connection;
		sp_connection_hold_full_lifetime(s->ack_wait, TRUE);
	}
	nua_respond(s->nh, SIP_200_OK, NUTAG_MEDIA_ENABLE(1), SOATAG_USER_SDP_STR(s->sdp),
		    SP_SESSION_SOA_TAGS, TAG_END());
	sp_session_set_status(s, SP_SESSION_CONNECTED, 0, SP_REASON_NONE, NULL);
	return TRUE;
}

gboolean sp_session_hangup(SpSession *s, GError **error)
{
	if (s->ending || s->nh == NULL)
		return wrong_state(s, "hang up", error);

	switch (s->status) {
	case SP_SESSION_ALERTING:
		nua_respond(s->nh, SIP_603_DECLINE, TAG_END());
		session_end_locally(s, 603, SP_REASON_REJECTED, "Decline");
		return TRUE;
	case SP_SESSION_IN_PROGRESS:
		nua_cancel(s->nh, TAG_END());
		session_end_locally(s, 0, SP_REASON_CANCELLED, NULL);
		return TRUE;
	case SP_SESSION_CONNECTED:
	case SP_SESSION_HELD:
		/*
		 * Answered but not ACKed yet: the BYE waits for the ACK (RFC 3261 §15), sent from
		 * on_i_state when the dialog is confirmed; the guard timer ends it otherwise.
		 */
		if (s->confirmed)
			nua_bye(s->nh, TAG_END());
		session_end_locally(s, 0, SP_REASON_NORMAL, NULL);
		return TRUE;
	case SP_SESSION_DISCONNECTED:
		break;
	}
	return wrong_state(s, "hang up", error);
}

/*
 * A re-INVITE is an offer: fresh keys. When the call settled on a suite, only that line is
 * offered again, with the profile the call has; otherwise what we offered or answered.
 */
static void session_reoffer_srtp(SpSession *s)
{
	if (s->media.srtp_suite != SP_SRTP_NONE) {
		explicit_bzero(s->crypto, sizeof(s->crypto));
		s->crypto[0].tag = s->media.srtp_tag;
		s->crypto[0].suite = s->media.srtp_suite;
		s->n_crypto = 1;
	}
	if (!session_renew_keys(s))
		g_warning("session %s: the re-INVITE keeps the current keys", s->id);
}

static void send_reinvite(SpSession *s, SpSessionOp op)
{
	char *sdp = NULL;
	const char *direction = "sendrecv";

	/*
	 * Hold is said in the user SDP rather than with SOATAG_HOLD: soa 1.12.11 offers sendonly
	 * even when the far end holds us too, where inactive is right. It stays soa's user SDP, so
	 * sofia's answers to the far end's re-INVITEs keep holding too.
	 */
	if (op == SP_OP_HOLD)
		direction = s->remote_holding ? "inactive" : "sendonly";
	session_reoffer_srtp(s);
	sdp = session_build_sdp(s, direction);
	s->op = op;
	s->retry = SP_OP_NONE;
	s->auth_tried = FALSE;
	/* Our microphone stops (or starts) now, not when the far end has answered. */
	session_update_media(s);
	g_debug("session %s: re-INVITE (%s, %s)", s->id, op == SP_OP_HOLD ? "hold" : "retrieve",
		direction);
	nua_invite(s->nh, SOATAG_USER_SDP_STR(sdp), SP_SESSION_SOA_TAGS, TAG_END());
	sp_srtp_text_free(sdp);
}

gboolean sp_session_hold(SpSession *s, GError **error)
{
	if ((s->status != SP_SESSION_CONNECTED && s->status != SP_SESSION_HELD) || s->local_held ||
	    s->ending || s->op != SP_OP_NONE || s->retry != SP_OP_NONE)
		return wrong_state(s, "hold", error);
	send_reinvite(s, SP_OP_HOLD);
	return TRUE;
}

gboolean sp_session_retrieve(SpSession *s, GError **error)
{
	if (!s->local_held || s->status != SP_SESSION_HELD || s->ending || s->op != SP_OP_NONE ||
	    s->retry != SP_OP_NONE)
		return wrong_state(s, "retrieve", error);
	sp_calls_hold_others(s->calls, s);
	send_reinvite(s, SP_OP_RETRIEVE);
	return TRUE;
}

static void send_next_dtmf(SpSession *s)
{
	g_autofree char *body = NULL;
	char digit;

	if (s->dtmf_busy || s->dtmf->len == 0 || s->nh == NULL || s->ending)
		return;
	digit = s->dtmf->str[0];
	g_string_erase(s->dtmf, 0, 1);
	body = g_strdup_printf("Signal=%c\r\nDuration=160\r\n", digit);
	s->dtmf_busy = TRUE;
	nua_info(s->nh, SIPTAG_CONTENT_TYPE_STR("application/dtmf-relay"), SIPTAG_PAYLOAD_STR(body),
		 TAG_END());
}

gboolean sp_session_send_dtmf(SpSession *s, const char *digits, GError **error)
{
	const SpConfig *config = sp_phone_get_config(s->phone);
	SpDtmfMethod method;

	if (digits == NULL || digits[0] == '\0' ||
	    strspn(digits, "0123456789*#ABCDabcd") != strlen(digits) || strlen(digits) > 256) {
		g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS,
			    "digits must be 1 to 256 of 0-9, *, #, A-D");
		return FALSE;
	}
	if (s->status != SP_SESSION_CONNECTED || s->ending)
		return wrong_state(s, "send DTMF on", error);
	method = config != NULL ? config->policy.dtmf_method : SP_DTMF_RFC4733;
	if (s->stream != NULL && s->media.codec != NULL && method != SP_DTMF_INFO) {
		g_autofree char *upper = g_ascii_strup(digits, -1);
		/* With no telephone-event negotiated, RFC 4733 falls back to tones in the audio. */
		gboolean inband = method == SP_DTMF_INBAND || s->media.telephone_event_pt < 0;

		g_info("session %s: sending DTMF %s %s", s->id, upper,
		       inband ? "in the audio" : "as RFC 4733 events");
		sp_media_stream_send_dtmf(s->stream, upper, inband);
		return TRUE;
	}
	for (const char *p = digits; *p; p++)
		g_string_append_c(s->dtmf, g_ascii_toupper(*p));
	send_next_dtmf(s);
	return TRUE;
}

gboolean sp_session_transfer(SpSession *s, const char *destination, GError **error)
{
	g_autofree char *uri = NULL;
	g_autofree char *refer_to = NULL;

	if ((s->status != SP_SESSION_CONNECTED && s->status != SP_SESSION_HELD) || s->ending ||
	    s->transferring)
		return wrong_state(s, "transfer", error);
	uri = sp_connection_make_uri(s->connection, destination);
	if (uri == NULL) {
		g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS, "bad destination \"%s\"",
			    destination);
		return FALSE;
	}
	refer_to = g_strdup_printf("<%s>", uri);
	s->transferring = TRUE;
	g_info("session %s: transferring to %s", s->id, uri);
	nua_refer(s->nh, SIPTAG_REFER_TO_STR(refer_to), TAG_END());
	return TRUE;
}

gboolean sp_session_transfer_attended(SpSession *s, SpSession *to, GError **error)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	sip_replaces_t *rp;
	char *replaces;
	g_autofree char *escaped = NULL;
	g_autofree char *refer_to = NULL;

	if ((s->status != SP_SESSION_CONNECTED && s->status != SP_SESSION_HELD) || s->ending ||
	    s->transferring || s->nh == NULL)
		return wrong_state(s, "transfer", error);
	if ((to->status != SP_SESSION_CONNECTED && to->status != SP_SESSION_HELD) || to->ending ||
	    to->nh == NULL || to->remote_uri == NULL)
		return wrong_state(to, "transfer to", error);
	rp = nua_handle_make_replaces(to->nh, home, 0);
	replaces = rp != NULL ? sip_header_as_string(home, (sip_header_t const *)rp) : NULL;
	if (replaces == NULL) {
		su_home_deinit(home);
		return wrong_state(to, "transfer to", error);
	}
	/* RFC 3891 §5 / RFC 5589 §7: Replaces travels as a header of the Refer-To URI. */
	escaped = g_uri_escape_string(replaces, NULL, FALSE);
	refer_to = g_strdup_printf("<%s?Replaces=%s>", to->remote_uri, escaped);
	su_home_deinit(home);
	s->transferring = TRUE;
	g_info("session %s: transferring to session %s (%s)", s->id, to->id, to->remote_uri);
	nua_refer(s->nh, SIPTAG_REFER_TO_STR(refer_to), TAG_END());
	return TRUE;
}

/* The call we were referred to is answered: the one that was transferred ends. */
static void session_end_transferor(SpSession *s)
{
	SpSession *from = sp_calls_find_session(s->calls, s->transferred_from);

	if (from == NULL || from->ending || from->dead)
		return;
	g_info("session %s: transferred to session %s; hanging up", from->id, s->id);
	g_free(from->transferred_to);
	from->transferred_to = g_strdup(s->id);
	if (from->nh != NULL && from->confirmed)
		nua_bye(from->nh, TAG_END());
	session_end_locally(from, 0, SP_REASON_NORMAL, NULL);
}

SpSession *sp_session_new_referred(SpCalls *calls, const char *id, SpSession *from, const char *uri,
				   const char *headers, nua_handle_t *refer_nh,
				   sip_event_t const *event, GError **error)
{
	SpSession *s = session_new(calls, id, from->connection);

	s->outbound = TRUE;
	s->status = SP_SESSION_IN_PROGRESS;
	s->destination = g_strdup(uri);
	s->requested_id = from->connection_id;
	s->no_failover = TRUE;
	s->transferred_from = g_strdup(from->id);
	s->refer_headers = g_strdup(headers);
	s->refer_nh = nua_handle_ref(refer_nh);
	s->refer_event = event != NULL ? sip_event_dup(s->home, event) : NULL;
	if (!session_place(s, from->connection, error)) {
		sp_session_free(s);
		return NULL;
	}
	session_announce(s);
	return s;
}

/*
 * An incoming REFER (SIP Server or the far end transfers us): sofia has accepted it (202) and
 * keeps the implicit subscription; the new call's progress goes to the transferor as NOTIFY
 * message/sipfrag (RFC 3515 §2.4.4), and the old call ends once the new one is answered.
 */
/* A NOTIFY message/sipfrag of a REFER's implicit subscription (RFC 3515 §2.4.4). */
static void notify_sipfrag(nua_handle_t *nh, sip_event_t const *event, int status,
			   const char *phrase)
{
	g_autofree char *frag = g_strdup_printf("SIP/2.0 %d %s\r\n", status, phrase ? phrase : "");

	nua_notify(nh, TAG_IF(event != NULL, SIPTAG_EVENT(event)),
		   SIPTAG_CONTENT_TYPE_STR("message/sipfrag;version=2.0"), SIPTAG_PAYLOAD_STR(frag),
		   NUTAG_SUBSTATE(status >= 200 ? nua_substate_terminated : nua_substate_active),
		   TAG_END());
}

static void on_i_refer(SpSession *s, int status, sip_t const *sip, tagi_t tags[])
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	sip_event_t const *event = NULL;
	url_t *url = NULL;
	char *uri = NULL;
	char *headers = NULL;
	g_autoptr(GError) error = NULL;

	tl_gets(tags, NUTAG_REFER_EVENT_REF(event), TAG_END());
	if (status >= 300 || sip == NULL || sip->sip_refer_to == NULL)
		goto done;
	url = url_hdup(home, sip->sip_refer_to->r_url);
	if (url != NULL && url->url_headers != NULL) {
		headers = url_query_as_header_string(home, url->url_headers);
		url->url_headers = NULL;
	}
	if (url != NULL && (url->url_type == url_sip || url->url_type == url_sips))
		uri = url_as_string(home, url);
	if (uri == NULL || strlen(uri) > 1024 || (headers != NULL && strlen(headers) > 2048) ||
	    (s->status != SP_SESSION_CONNECTED && s->status != SP_SESSION_HELD) || s->ending) {
		g_info("session %s: REFER not followed (%s)", s->id,
		       uri == NULL ? "no sip: Refer-To" : "call not up");
		if (event != NULL)
			notify_sipfrag(s->nh, event, 603, "Declined");
		goto done;
	}
	g_info("session %s: referred to %s%s%s", s->id, uri, headers ? " with " : "",
	       headers ? headers : "");
	if (sp_calls_follow_refer(s->calls, s, uri, headers, s->nh, event, &error) == NULL) {
		g_info("session %s: cannot follow the REFER: %s", s->id, error->message);
		if (event != NULL)
			notify_sipfrag(s->nh, event, 503, "Service Unavailable");
	}
done:
	su_home_deinit(home);
}

static gboolean on_early_grace(gpointer data)
{
	SpSession *s = data;

	s->early_timer = 0;
	if (!s->media_heard && s->status == SP_SESSION_IN_PROGRESS) {
		g_info("session %s: no early media in %d ms; ringback until it is heard", s->id,
		       EARLY_GRACE_MS);
		sp_calls_update_tones(s->calls);
	}
	return G_SOURCE_REMOVE;
}

void sp_session_on_media_started(SpSession *s)
{
	if (s->dead || s->media_heard)
		return;
	s->media_heard = TRUE;
	if (s->status == SP_SESSION_IN_PROGRESS) {
		g_info("session %s: early media heard", s->id);
		sp_calls_update_tones(s->calls); /* it replaces the ringback */
	}
}

void sp_session_on_media_timeout(SpSession *s)
{
	if (s->dead || s->ending || s->nh == NULL ||
	    (s->status != SP_SESSION_CONNECTED && s->status != SP_SESSION_HELD))
		return;
	g_info("session %s: no RTP or RTCP for the inactivity timeout; hanging up", s->id);
	nua_bye(s->nh, TAG_END());
	session_end_locally(s, 0, SP_REASON_MEDIA_TIMEOUT, NULL);
}

/*
 * A digit in an INFO: application/dtmf-relay ("Signal=5\r\nDuration=160") or application/dtmf
 * (the digit alone). sofia has answered the INFO already.
 */
static void on_i_info(SpSession *s, sip_t const *sip)
{
	g_autofree char *body = NULL;
	const char *type;
	char digit = '\0';
	guint duration = 0;

	if (sip == NULL || sip->sip_payload == NULL || sip->sip_content_type == NULL ||
	    sip->sip_payload->pl_len == 0 || sip->sip_payload->pl_len > 1024)
		return;
	type = sip->sip_content_type->c_type;
	body = g_strndup(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
	if (type != NULL && g_ascii_strcasecmp(type, "application/dtmf-relay") == 0) {
		g_auto(GStrv) lines = g_strsplit(body, "\n", 16);

		for (guint i = 0; lines[i] != NULL; i++) {
			char *line = g_strstrip(lines[i]);
			char *eq = strchr(line, '=');
			char *value;

			if (eq == NULL)
				continue;
			*eq = '\0';
			value = g_strstrip(eq + 1);
			g_strstrip(line);
			if (g_ascii_strcasecmp(line, "Signal") == 0 && strlen(value) == 1)
				digit = value[0];
			else if (g_ascii_strcasecmp(line, "Duration") == 0)
				duration = (guint)MIN(g_ascii_strtoull(value, NULL, 10), 60000);
		}
	} else if (type != NULL && g_ascii_strcasecmp(type, "application/dtmf") == 0) {
		g_strstrip(body);
		if (strlen(body) == 1)
			digit = body[0];
		else if (strlen(body) == 2 && body[0] == '1' && body[1] >= '0' && body[1] <= '1')
			digit = body[1] == '0' ? '*' : '#'; /* events 10 and 11 */
	} else {
		return;
	}
	digit = g_ascii_toupper(digit);
	if (digit == '\0' || strchr("0123456789*#ABCD", digit) == NULL) {
		g_info("session %s: INFO with no DTMF digit we know", s->id);
		return;
	}
	session_emit_dtmf(s, digit, duration, "info");
}

/* --- auto-answer -------------------------------------------------------------------------- */

static gboolean on_answer_timeout(gpointer data)
{
	SpSession *s = data;
	g_autoptr(GError) error = NULL;

	s->answer_timer = 0;
	if (!sp_session_answer(s, &error))
		g_debug("session %s: auto-answer: %s", s->id, error->message);
	return G_SOURCE_REMOVE;
}

/* The answer-after=N of a Call-Info header, or -1. */
static int call_info_answer_after(sip_t const *sip)
{
	for (sip_call_info_t const *ci = sip->sip_call_info; ci != NULL; ci = ci->ci_next) {
		const char *v = msg_params_find(ci->ci_params, "answer-after");

		if (v != NULL) {
			guint64 n = g_ascii_strtoull(v, NULL, 10);

			return n > 3600 ? 3600 : (int)n;
		}
	}
	return -1;
}

/* An Alert-Info header with info=alert-autoanswer (sofia leaves it an unknown header). */
static gboolean alert_info_autoanswer(sip_t const *sip)
{
	for (sip_unknown_t const *u = sip->sip_unknown; u != NULL; u = u->un_next) {
		g_autofree char *value = NULL;

		if (u->un_name == NULL || g_ascii_strcasecmp(u->un_name, "Alert-Info") != 0 ||
		    u->un_value == NULL)
			continue;
		value = g_ascii_strdown(u->un_value, -1);
		if (strstr(value, "info=alert-autoanswer") != NULL)
			return TRUE;
	}
	return FALSE;
}

void sp_session_check_auto_answer(SpSession *s, sip_t const *sip)
{
	const SpConfig *config = sp_phone_get_config(s->phone);
	int after = -1;

	if (config == NULL || s->status != SP_SESSION_ALERTING)
		return;
	if (config->policy.auto_answer) {
		after = 0;
	} else if (config->policy.honor_answer_after) {
		if (alert_info_autoanswer(sip))
			after = 0;
		else
			after = call_info_answer_after(sip);
	}
	if (after < 0)
		return;
	g_info("session %s: auto-answer in %d s", s->id, after);
	if (after == 0)
		on_answer_timeout(s);
	else
		s->answer_timer = g_timeout_add((guint)after * 1000, on_answer_timeout, s);
}

/* --- NUA events --------------------------------------------------------------------------- */

static SpSessionReason reason_for_failure(SpSession *s, int status, sip_t const *sip)
{
	if (status == 486 || status == 600)
		return SP_REASON_BUSY;
	if (status == 603)
		return SP_REASON_REJECTED;
	if (status == 487)
		return SP_REASON_CANCELLED;
	/* Only an unanswered call can go unanswered; a re-INVITE's 408 says the site is down. */
	if ((status == 480 || status == 408) && s->ringing && s->status == SP_SESSION_IN_PROGRESS)
		return SP_REASON_NO_ANSWER;
	if (status >= 700 || (status == 503 && is_local_response(sip)))
		return SP_REASON_NETWORK_ERROR;
	return SP_REASON_SIP_ERROR;
}

/* A challenge to our INVITE: answer it once with the connection's credentials. */
static gboolean session_authenticate(SpSession *s, sip_t const *sip)
{
	const SpConnectionConfig *cfg = sp_connection_get_config(s->connection);
	msg_auth_t const *au =
	    sip->sip_proxy_authenticate ? sip->sip_proxy_authenticate : sip->sip_www_authenticate;
	const char *realm;
	g_autofree char *auth = NULL;

	if (au == NULL || cfg->password == NULL || s->auth_tried)
		return FALSE;
	realm = msg_params_find(au->au_params, "realm=");
	if (realm == NULL)
		return FALSE;
	s->auth_tried = TRUE;
	auth = g_strdup_printf("%s:%s:%s:%s", au->au_scheme, realm,
			       cfg->auth_user ? cfg->auth_user : cfg->user, cfg->password);
	nua_authenticate(s->nh, NUTAG_AUTH(auth), TAG_END());
	return TRUE;
}

static gboolean on_retry_timeout(gpointer data)
{
	SpSession *s = data;
	SpSessionOp op = s->retry;

	s->retry_timer = 0;
	s->retry = SP_OP_NONE;
	if (s->ending || s->nh == NULL)
		return G_SOURCE_REMOVE;
	if ((op == SP_OP_HOLD && !s->local_held &&
	     (s->status == SP_SESSION_CONNECTED || s->status == SP_SESSION_HELD)) ||
	    (op == SP_OP_RETRIEVE && s->local_held))
		send_reinvite(s, op);
	else
		session_update_media(s);
	return G_SOURCE_REMOVE;
}

/*
 * The progress of a call we were referred to, to the transferor: a NOTIFY message/sipfrag per
 * 18x and one final one that ends the implicit subscription (RFC 3515 §2.4.4). Ours rather
 * than sofia's NUTAG_NOTIFY_REFER, which reports a failed call as "503" (the subscription's
 * end once our handle is gone) instead of the far end's own status.
 */
static void session_notify_referrer(SpSession *s, int status, const char *phrase)
{
	if (s->refer_nh == NULL || s->refer_final || status <= 100)
		return;
	notify_sipfrag(s->refer_nh, s->refer_event, status, phrase);
	s->refer_final = status >= 200;
}

static void on_r_invite(SpSession *s, int status, char const *phrase, sip_t const *sip)
{
	SpConnection *c = s->connection;
	gboolean local_failure;

	if (s->ending)
		return;

	if (s->status == SP_SESSION_IN_PROGRESS) {
		/* The initial INVITE. */
		if (status < 200) {
			if (!s->provisional)
				g_debug("session %s: %d %s via connection %u", s->id, status,
					phrase, s->connection_id);
			s->provisional = TRUE;
			if (status > 100) {
				if (!s->ringing) {
					s->ringing = TRUE;
					sp_calls_update_tones(s->calls); /* ringback, unless early media */
				}
				session_take_headers(s, sip);
				session_notify_referrer(s, status, phrase);
			}
			clear_source(&s->failover_timer);
			session_drop_ping(s);
			return;
		}
		session_drop_ping(s);
		if (status < 300) {
			clear_source(&s->failover_timer);
			session_notify_referrer(s, status, phrase);
			session_take_headers(s, sip);
			if (sip != NULL && sip->sip_to != NULL && sip->sip_to->a_display != NULL)
				session_set_remote(s, sip->sip_to);
			sp_session_set_status(s, SP_SESSION_CONNECTED, 0, SP_REASON_NONE, NULL);
			return;
		}
		if ((status == 401 || status == 407) && sip != NULL &&
		    session_authenticate(s, sip)) {
			s->provisional = TRUE;
			clear_source(&s->failover_timer);
			return;
		}
		clear_source(&s->failover_timer);
		local_failure =
		    is_local_response(sip) && (is_site_failure(status) || status >= 700);
		/* A 408/503 relayed by a site that answered the OPTIONS is the far end's. */
		if (!s->provisional &&
		    (local_failure || (is_site_failure(status) && !s->site_alive)))
			session_failover(s, TRUE, status, reason_for_failure(s, status, sip),
					 phrase);
		else
			session_finish(s, status, reason_for_failure(s, status, sip), phrase);
		/* After the failover, so that the probe's outcome finds the call gone from c. */
		if (is_site_failure(status) || local_failure)
			sp_connection_report_failure(c, status);
		return;
	}

	/* A re-INVITE of ours (hold or retrieve). */
	if (status < 200 || s->op == SP_OP_NONE)
		return;
	/* Sites that authenticate INVITE challenge re-INVITEs too: answered once each. */
	if ((status == 401 || status == 407) && sip != NULL && session_authenticate(s, sip))
		return;
	if (status < 300) {
		SpSessionOp op = s->op;

		s->op = SP_OP_NONE;
		s->local_held = op == SP_OP_HOLD;
		session_update_hold_status(s);
		return;
	}
	if (is_site_failure(status))
		sp_connection_report_failure(s->connection, status);
	g_info("session %s: re-INVITE failed: %d %s", s->id, status, phrase);
	if (status == 491) {
		/* Glare (RFC 3261 §14.1): try again after a random wait. */
		s->retry = s->op;
		clear_source(&s->retry_timer);
		s->retry_timer =
		    g_timeout_add((guint)g_random_int_range(500, 2000), on_retry_timeout, s);
	}
	s->op = SP_OP_NONE;
	/* A retrieve that failed leaves the call held; a failed hold leaves it talking. */
	session_update_media(s);
}

static void on_i_notify(SpSession *s, int status, sip_t const *sip)
{
	const char *event = sip != NULL && sip->sip_event != NULL ? sip->sip_event->o_type : NULL;
	nua_t *nua = sp_connection_get_nua(s->connection);
	g_autoptr(GError) error = NULL;

	if (status >= 200 && event != NULL && g_ascii_strcasecmp(event, "refer") == 0) {
		/* Progress of our REFER; sofia has answered it already (it expected it). */
		int code = 0;

		if (sip->sip_payload != NULL && sip->sip_payload->pl_data != NULL) {
			g_autofree char *frag =
			    g_strndup(sip->sip_payload->pl_data, sip->sip_payload->pl_len);

			if (g_str_has_prefix(frag, "SIP/2.0 "))
				code = (int)g_ascii_strtoll(frag + 8, NULL, 10);
		}
		g_debug("session %s: transfer progress %d", s->id, code);
		if (!s->transferring || code < 200)
			return;
		s->transferring = FALSE;
		if (code < 300 && !s->ending &&
		    (s->status == SP_SESSION_CONNECTED || s->status == SP_SESSION_HELD)) {
			g_info("session %s: transferred", s->id);
			nua_bye(s->nh, TAG_END());
			session_end_locally(s, 0, SP_REASON_NORMAL, NULL);
		} else if (code >= 300) {
			g_info("session %s: transfer failed: %d", s->id, code);
		}
		return;
	}

	if (status >= 200)
		return; /* answered by sofia already */

	/* Not part of a subscription of ours: NOTIFY is an application method, so answer it. */
	if (event != NULL && g_ascii_strcasecmp(event, "refer") == 0) {
		nua_respond(s->nh, 481, "Subscription Does Not Exist", NUTAG_WITH_THIS(nua),
			    TAG_END());
		return;
	}
	if (event == NULL ||
	    (g_ascii_strcasecmp(event, "talk") != 0 && g_ascii_strcasecmp(event, "hold") != 0)) {
		nua_respond(s->nh, 489, "Bad Event", NUTAG_WITH_THIS(nua),
			    SIPTAG_ALLOW_EVENTS_STR("talk, hold"), TAG_END());
		return;
	}
	nua_respond(s->nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());

	/* Remote control by the SIP Server (3pcc). */
	if (g_ascii_strcasecmp(event, "talk") == 0) {
		g_info("session %s: NOTIFY talk", s->id);
		if (s->status == SP_SESSION_ALERTING)
			sp_session_answer(s, &error);
		else if (s->local_held)
			sp_session_retrieve(s, &error);
	} else {
		g_info("session %s: NOTIFY hold", s->id);
		if (!s->local_held)
			sp_session_hold(s, &error);
	}
	if (error != NULL)
		g_info("session %s: NOTIFY %s: %s", s->id, event, error->message);
}

/*
 * The far end holds us: its audio does not receive (sendonly, inactive) or has c=0.0.0.0, the
 * RFC 2543 way that SIP Server uses (T-Lib-Initiated Hold-Retrieve, docs.genesys.com).
 */
static gboolean sdp_media_holds(sdp_session_t const *sdp, sdp_media_t const *m)
{
	sdp_connection_t const *c = m->m_connections ? m->m_connections : sdp->sdp_connection;

	if ((m->m_mode & sdp_recvonly) == 0)
		return TRUE;
	return c != NULL && c->c_address != NULL &&
	       (strcmp(c->c_address, "0.0.0.0") == 0 || strcmp(c->c_address, "::") == 0);
}

static void on_i_state(SpSession *s, int status, char const *phrase, sip_t const *sip,
		       tagi_t tags[])
{
	int state = nua_callstate_init;
	sdp_session_t const *remote = NULL;
	char const *local_str = NULL;
	char const *remote_str = NULL;
	int answer_sent = 0, answer_recv = 0;

	tl_gets(tags, NUTAG_CALLSTATE_REF(state), SOATAG_REMOTE_SDP_REF(remote),
		SOATAG_LOCAL_SDP_STR_REF(local_str), SOATAG_REMOTE_SDP_STR_REF(remote_str),
		NUTAG_ANSWER_SENT_REF(answer_sent), NUTAG_ANSWER_RECV_REF(answer_recv), TAG_END());
	if (remote != NULL) {
		sdp_media_t const *m = remote->sdp_media;

		while (m != NULL && (m->m_type != sdp_media_audio || m->m_rejected))
			m = m->m_next;
		if (m != NULL)
			s->remote_holding = sdp_media_holds(remote, m);
	}
	g_debug("session %s: call state %s (%d %s)%s", s->id,
		nua_callstate_name((enum nua_callstate)state), status, phrase ? phrase : "",
		s->remote_holding ? ", held by the far end" : "");
	if (local_str != NULL || remote_str != NULL)
		session_on_sdp(s, local_str, remote_str,
			       answer_sent || answer_recv || state == nua_callstate_ready);

	switch (state) {
	case nua_callstate_ready:
		s->confirmed = TRUE;
		session_end_ack_wait(s);
		if (s->ending && s->status == SP_SESSION_DISCONNECTED) {
			/* A 200 OK crossed our CANCEL, or we hung up before the ACK: end it now. */
			nua_bye(s->nh, TAG_END());
		} else if (s->status == SP_SESSION_IN_PROGRESS) {
			clear_source(&s->failover_timer);
			sp_session_set_status(s, SP_SESSION_CONNECTED, 0, SP_REASON_NONE, NULL);
		}
		break;
	case nua_callstate_terminated:
		if (status >= 300)
			session_finish(s, status, reason_for_failure(s, status, sip), phrase);
		else
			session_finish(s, 0, SP_REASON_NORMAL, NULL);
		break;
	default:
		break;
	}
	/* A far end's hold or retrieve (its re-INVITE, or the SDP in the ACK of our offer). */
	if (remote != NULL && state != nua_callstate_terminated)
		session_update_hold_status(s);
}

/* The answer to the OPTIONS sent with the INVITE. */
static void on_ping_response(SpSession *s, int status, char const *phrase, sip_t const *sip)
{
	session_drop_ping(s);
	if (s->ending || s->status != SP_SESSION_IN_PROGRESS || s->provisional || s->nh == NULL)
		return;
	if (is_local_response(sip) && (is_site_failure(status) || status >= 700)) {
		/* Unreachable (an ICMP error, say): no need to wait for the INVITE. */
		SpConnection *c = s->connection;

		g_info("session %s: the site of connection %u is unreachable (%d %s)", s->id,
		       s->connection_id, status, phrase);
		session_failover(s, FALSE, status, reason_for_failure(s, status, sip), phrase);
		sp_connection_report_failure(c, status);
		return;
	}
	g_debug("session %s: the site of connection %u answered (%d %s)", s->id, s->connection_id,
		status, phrase);
	s->site_alive = TRUE;
	clear_source(&s->failover_timer);
}

void sp_session_on_nua_event(SpSession *s, nua_event_t event, int status, char const *phrase,
			     nua_handle_t *nh, sip_t const *sip, tagi_t tags[])
{
	SpAttempt *a;

	if (s == NULL || nh == NULL)
		return;
	a = session_find_attempt(s, nh);
	if (a != NULL) {
		/* Whatever the session's own state: a dead session waits for these. */
		s->in_event++;
		attempt_on_nua_event(a, event, status, phrase, tags);
		s->in_event--;
		session_maybe_release(s);
		return;
	}
	if (s->dead)
		return;
	if (nh == s->ping_nh) {
		if (event == nua_r_options && status >= 200) {
			s->in_event++;
			on_ping_response(s, status, phrase, sip);
			s->in_event--;
			session_maybe_release(s);
		}
		return;
	}
	if (nh != s->nh)
		return;

	s->in_event++;
	switch (event) {
	case nua_r_invite:
		on_r_invite(s, status, phrase, sip);
		break;
	case nua_i_state:
		on_i_state(s, status, phrase, sip, tags);
		break;
	case nua_i_bye:
		g_debug("session %s: BYE from the far end", s->id);
		clear_source(&s->failover_timer);
		if (s->status != SP_SESSION_DISCONNECTED)
			sp_session_set_status(s, SP_SESSION_DISCONNECTED, 0, SP_REASON_NORMAL,
					      NULL);
		break;
	case nua_i_cancel:
		g_debug("session %s: CANCEL from the far end", s->id);
		clear_source(&s->answer_timer);
		if (s->status != SP_SESSION_DISCONNECTED)
			sp_session_set_status(s, SP_SESSION_DISCONNECTED, 487, SP_REASON_CANCELLED,
					      "Request Terminated");
		break;
	case nua_r_bye:
	case nua_r_cancel:
		if (status >= 200 && is_site_failure(status) && s->connection != NULL)
			sp_connection_report_failure(s->connection, status);
		if (event == nua_r_bye && status >= 200)
			session_finish(s, 0, SP_REASON_NORMAL, NULL);
		break;
	case nua_i_notify:
		on_i_notify(s, status, sip);
		break;
	case nua_r_refer:
		if (status >= 300) {
			g_info("session %s: REFER failed: %d %s", s->id, status, phrase);
			s->transferring = FALSE;
			if (is_site_failure(status))
				sp_connection_report_failure(s->connection, status);
		}
		break;
	case nua_i_info:
		on_i_info(s, sip);
		break;
	case nua_i_refer:
		on_i_refer(s, status, sip, tags);
		break;
	case nua_r_info:
		if (status >= 200) {
			if (is_site_failure(status))
				sp_connection_report_failure(s->connection, status);
			s->dtmf_busy = FALSE;
			send_next_dtmf(s);
		}
		break;
	default:
		break;
	}
	s->in_event--;
	session_maybe_release(s);
}
