/* The phone's calls: the session list, Dial with failover, one active call, 3pcc. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "daemon/connection.h"
#include "daemon/media/stream.h"
#include "daemon/rtp-ports.h"
#include "daemon/session.h"

G_BEGIN_DECLS

typedef struct _SpCalls SpCalls;

SpCalls *sp_calls_new(SpPhone *phone);
void sp_calls_free(SpCalls *calls);

/* connection.c calls this right after nua_create() to set call-related NUA parameters. */
void sp_calls_configure_nua(SpCalls *calls, SpConnection *c, nua_t *nua);

/* A new INVITE (hmagic NULL) arrived through c. */
void sp_calls_on_incoming_invite(SpCalls *calls, SpConnection *c, nua_handle_t *nh,
				 sip_t const *sip, tagi_t tags[]);
/* c changed status (for failover of calls being dialled, and sessions of removed sites). */
void sp_calls_on_connection_status(SpCalls *calls, SpConnection *c);

/* Shutdown: hang up everything (BYE/CANCEL/486) without waiting. */
void sp_calls_hangup_all(SpCalls *calls);
guint sp_calls_count(SpCalls *calls);

/* The SpPhoneApi entries for calls; same contracts as in protocol/phone-api.h. */
json_object *sp_calls_dial(SpCalls *calls, guint connection_id, const char *destination,
			   GError **error);
gboolean sp_calls_answer(SpCalls *calls, const char *session_id, GError **error);
gboolean sp_calls_hangup(SpCalls *calls, const char *session_id, GError **error);
gboolean sp_calls_hold(SpCalls *calls, const char *session_id, GError **error);
gboolean sp_calls_retrieve(SpCalls *calls, const char *session_id, GError **error);
gboolean sp_calls_send_dtmf(SpCalls *calls, const char *session_id, const char *digits,
			    GError **error);
gboolean sp_calls_transfer(SpCalls *calls, const char *session_id, const char *destination,
			   GError **error);
gboolean sp_calls_transfer_attended(SpCalls *calls, const char *session_id,
				    const char *to_session_id, GError **error);
json_object *sp_calls_get_sessions(SpCalls *calls);
gboolean sp_calls_mute(SpCalls *calls, gboolean muted, GError **error);
json_object *sp_calls_get_audio_statistics(SpCalls *calls, const char *session_id,
					   GError **error);
/* Adds the calls' part of GetStatus ("muted", "audioDevices") to o. */
void sp_calls_add_status(SpCalls *calls, json_object *o);
/* GetAudioDevices / SetAudioDevices (NULL: unchanged; an unknown name changes nothing). */
json_object *sp_calls_get_audio_devices(SpCalls *calls, GError **error);
json_object *sp_calls_set_audio_devices(SpCalls *calls, const char *capture, const char *playback,
					GError **error);

/* --- for session.c ----------------------------------------------------------------------- */

SpPhone *sp_calls_get_phone(SpCalls *calls);
SpRtpPorts *sp_calls_get_rtp_ports(SpCalls *calls);
/* The media engine (made on first use); its stream callbacks go to the session (user data). */
SpMediaEngine *sp_calls_get_media(SpCalls *calls);
/* [audio] codecs, in offer order. */
const char *const *sp_calls_get_codecs(SpCalls *calls);
/* The Ready connection with the lowest id whose id is not in tried (guint ids), or NULL. */
SpConnection *sp_calls_next_ready(SpCalls *calls, GArray *tried);
/* One active call: puts every Connected call other than except (may be NULL) on hold. */
void sp_calls_hold_others(SpCalls *calls, SpSession *except);
/* A session's status (or its ringing, or its early media) changed: starts or stops the tones. */
void sp_calls_update_tones(SpCalls *calls);
/* A live session by id, or NULL. */
SpSession *sp_calls_find_session(SpCalls *calls, const char *session_id);
/*
 * An incoming REFER on from: calls uri (headers: the Refer-To's header part, e.g. Replaces,
 * or NULL) on from's connection, the new call's progress NOTIFYed on refer_nh with event.
 * NULL (error set) when the call cannot be placed.
 */
SpSession *sp_calls_follow_refer(SpCalls *calls, SpSession *from, const char *uri,
				 const char *headers, nua_handle_t *refer_nh,
				 sip_event_t const *event, GError **error);
/* s is Disconnected and its handle done: removes and frees it. */
void sp_calls_release_session(SpCalls *calls, SpSession *s);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpCalls, sp_calls_free)

G_END_DECLS
