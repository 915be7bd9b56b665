/* The phone's calls (stub until sessions land: every call method is Unsupported). */
#include "daemon/calls.h"
#include "protocol/errors.h"

struct _SpCalls {
	SpPhone *phone;
};

SpCalls *sp_calls_new(SpPhone *phone)
{
	SpCalls *calls = g_new0(SpCalls, 1);

	calls->phone = phone;
	return calls;
}

void sp_calls_free(SpCalls *calls)
{
	g_free(calls);
}

void sp_calls_configure_nua(SpCalls *calls, SpConnection *c, nua_t *nua)
{
}

void sp_calls_on_incoming_invite(SpCalls *calls, SpConnection *c, nua_handle_t *nh,
				 sip_t const *sip, tagi_t tags[])
{
	nua_respond(nh, SIP_480_TEMPORARILY_UNAVAILABLE, TAG_END());
	nua_handle_destroy(nh);
}

void sp_calls_on_connection_status(SpCalls *calls, SpConnection *c)
{
}

void sp_calls_hangup_all(SpCalls *calls)
{
}

guint sp_calls_count(SpCalls *calls)
{
	return 0;
}

static gboolean unsupported(GError **error)
{
	g_set_error(error, SP_ERROR, SP_ERROR_UNSUPPORTED, "calls are not supported yet");
	return FALSE;
}

json_object *sp_calls_dial(SpCalls *calls, guint connection_id, const char *destination,
			   GError **error)
{
	unsupported(error);
	return NULL;
}

gboolean sp_calls_answer(SpCalls *calls, const char *session_id, GError **error)
{
	return unsupported(error);
}

gboolean sp_calls_hangup(SpCalls *calls, const char *session_id, GError **error)
{
	return unsupported(error);
}

gboolean sp_calls_hold(SpCalls *calls, const char *session_id, GError **error)
{
	return unsupported(error);
}

gboolean sp_calls_retrieve(SpCalls *calls, const char *session_id, GError **error)
{
	return unsupported(error);
}

gboolean sp_calls_send_dtmf(SpCalls *calls, const char *session_id, const char *digits,
			    GError **error)
{
	return unsupported(error);
}

gboolean sp_calls_transfer(SpCalls *calls, const char *session_id, const char *destination,
			   GError **error)
{
	return unsupported(error);
}

json_object *sp_calls_get_sessions(SpCalls *calls)
{
	return json_object_new_array();
}
