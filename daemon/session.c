/* One call (stub until sessions land). */
#include "daemon/session.h"

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

void sp_session_on_nua_event(SpSession *s, nua_event_t event, int status, char const *phrase,
			     nua_handle_t *nh, sip_t const *sip, tagi_t tags[])
{
}

json_object *sp_session_to_json(SpSession *s)
{
	return json_object_new_object();
}
