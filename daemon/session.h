/* One call: its INVITE handle, status, SDP and the SIP requests inside its dialog. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "daemon/sofia.h"

G_BEGIN_DECLS

typedef struct _SpSession SpSession;

typedef enum {
	SP_SESSION_ALERTING,
	SP_SESSION_IN_PROGRESS,
	SP_SESSION_CONNECTED,
	SP_SESSION_HELD,
	SP_SESSION_DISCONNECTED,
} SpSessionStatus;

const char *sp_session_status_to_string(SpSessionStatus status);

/*
 * Every NUA event on a handle whose hmagic is a session (connection.c routes them here in one
 * line).
 */
void sp_session_on_nua_event(SpSession *s, nua_event_t event, int status, char const *phrase,
			     nua_handle_t *nh, sip_t const *sip, tagi_t tags[]);

json_object *sp_session_to_json(SpSession *s);

G_END_DECLS
