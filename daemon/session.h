/* One call: its INVITE handle, status, SDP and the SIP requests inside its dialog. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "daemon/sofia.h"

G_BEGIN_DECLS

typedef struct _SpSession SpSession;
typedef struct _SpCalls SpCalls;
typedef struct _SpConnection SpConnection;

typedef enum {
	SP_SESSION_ALERTING,
	SP_SESSION_IN_PROGRESS,
	SP_SESSION_CONNECTED,
	SP_SESSION_HELD,
	SP_SESSION_DISCONNECTED,
} SpSessionStatus;

const char *sp_session_status_to_string(SpSessionStatus status);

/* Why a session ended (the "reason" of its Disconnected event). */
typedef enum {
	SP_REASON_NONE,
	SP_REASON_NORMAL,
	SP_REASON_BUSY,
	SP_REASON_REJECTED,
	SP_REASON_CANCELLED,
	SP_REASON_NO_ANSWER,
	SP_REASON_SIP_ERROR,
	SP_REASON_NETWORK_ERROR,
	SP_REASON_MEDIA_TIMEOUT,
} SpSessionReason;

/* NULL for SP_REASON_NONE. */
const char *sp_session_reason_to_string(SpSessionReason reason);

/*
 * Every NUA event on a handle whose hmagic is a session (connection.c routes them here in one
 * line). The session may be freed by this call.
 */
void sp_session_on_nua_event(SpSession *s, nua_event_t event, int status, char const *phrase,
			     nua_handle_t *nh, sip_t const *sip, tagi_t tags[]);

/*
 * The one writer of a session's status and the one emitter of SessionStatusChanged. Emits even
 * when status does not change (a failover reports its new connection that way). code 0 and
 * NULL sip_reason are sent as null.
 */
void sp_session_set_status(SpSession *s, SpSessionStatus status, int code, SpSessionReason reason,
			   const char *sip_reason);

/* The session object of GetSessions and of the event (transfer full). */
json_object *sp_session_to_json(SpSession *s);

/* --- for calls.c ------------------------------------------------------------------------- */

/*
 * An outbound call to destination (a DN or a sip:/sips: URI, already validated), asked for on
 * connection requested_id and placed through c (a Ready connection). Emits InProgress.
 * NULL with SP_ERROR_UNAVAILABLE when nothing could be sent.
 */
SpSession *sp_session_new_outbound(SpCalls *calls, const char *id, const char *destination,
				   guint requested_id, SpConnection *c, GError **error);
/* An inbound INVITE on nh (bound to the new session), answered 180; emits Alerting. */
SpSession *sp_session_new_inbound(SpCalls *calls, const char *id, SpConnection *c, nua_handle_t *nh,
				  sip_t const *sip);
/*
 * An inbound INVITE refused before it rings (the headset policy): answers code on nh (the
 * caller destroys it) and reports a session once, Disconnected (previousStatus null, reason
 * Rejected) with "deviceError": {device, error}. Nothing of it is kept.
 */
void sp_session_reject_inbound(SpCalls *calls, const char *id, SpConnection *c, nua_handle_t *nh,
			       sip_t const *sip, int code, const char *device, const char *error);
/*
 * The call an incoming REFER on from asks for: to uri (plus headers, e.g. Replaces) through
 * from's connection only, its progress NOTIFYed on refer_nh (message/sipfrag). Once it is
 * answered from is hung up. Emits InProgress (with transferredFrom).
 */
SpSession *sp_session_new_referred(SpCalls *calls, const char *id, SpSession *from, const char *uri,
				   const char *headers, nua_handle_t *refer_nh,
				   sip_event_t const *event, GError **error);
/* Policy auto-answer, Call-Info answer-after=N and Alert-Info info=alert-autoanswer. */
void sp_session_check_auto_answer(SpSession *s, sip_t const *sip);
/*
 * Drops the handles (sofia CANCELs what is pending), the ones of INVITEs given up on included,
 * and frees; emits nothing.
 */
void sp_session_free(SpSession *s);

const char *sp_session_get_id(SpSession *s);
SpSessionStatus sp_session_get_status(SpSession *s);
SpConnection *sp_session_get_connection(SpSession *s);
/* An Alerting call that is to be answered by itself (answer-after=N): it does not ring. */
gboolean sp_session_is_auto_answering(SpSession *s);
/*
 * An outbound call the far end rings (a 18x came) with no early media (no SDP in a 18x): the
 * caller hears ringback. With early media (183 with SDP), the far end's audio plays instead.
 */
gboolean sp_session_wants_ringback(SpSession *s);
/* TRUE while a re-INVITE putting the call on hold is on its way. */
gboolean sp_session_is_holding(SpSession *s);

/* The operations of the control API; each fails with SP_ERROR_WRONG_STATE when not possible. */
gboolean sp_session_answer(SpSession *s, GError **error);
gboolean sp_session_hangup(SpSession *s, GError **error);
gboolean sp_session_hold(SpSession *s, GError **error);
gboolean sp_session_retrieve(SpSession *s, GError **error);
gboolean sp_session_send_dtmf(SpSession *s, const char *digits, GError **error);
gboolean sp_session_transfer(SpSession *s, const char *destination, GError **error);
/* REFER to s's far end with Refer-To: to's far end and Replaces: to's dialog. */
gboolean sp_session_transfer_attended(SpSession *s, SpSession *to, GError **error);

/* The media stream's events (calls.c routes them; the stream's user data is the session). */
void sp_session_on_media_dtmf(SpSession *s, char digit, guint duration_ms, const char *method);
void sp_session_on_media_timeout(SpSession *s);
void sp_session_on_media_started(SpSession *s);
/* GetAudioStatistics: Unavailable before the call's media started. */
json_object *sp_session_get_audio_statistics(SpSession *s, GError **error);

/* The connection the session runs on changed status (failover of a call being placed). */
void sp_session_on_connection_status(SpSession *s, SpConnection *c);
/*
 * The session's connection goes away: hang up and drop the handle now, before its NUA is
 * destroyed. Emits Disconnected.
 */
void sp_session_abandon(SpSession *s);
/*
 * c goes away: drops the INVITEs given up on c (by a failover) that are still running, before
 * its NUA is destroyed. Any session may be passed, Disconnected ones too; s may be freed.
 */
void sp_session_forget_connection(SpSession *s, SpConnection *c);

G_END_DECLS
