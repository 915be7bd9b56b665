/* libFuzzer target: one control-socket line through the JSON-RPC codec and the method table. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "protocol/errors.h"
#include "protocol/methods.h"
#include "protocol/rpc.h"

/* A phone that accepts everything, except ids ending in 9 (NotFound), so both paths run. */
static gboolean fake_check(guint id, GError **error)
{
	if (id % 10 == 9) {
		g_set_error(error, SP_ERROR, SP_ERROR_NOT_FOUND, "no connection %u", id);
		return FALSE;
	}
	return TRUE;
}

static gboolean fake_check_session(const char *id, GError **error)
{
	if (g_str_has_suffix(id, "9")) {
		g_set_error(error, SP_ERROR, SP_ERROR_WRONG_STATE, "session %s: wrong state", id);
		return FALSE;
	}
	return TRUE;
}

static json_object *fake_object(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(TRUE));
	return o;
}

static json_object *fake_status(gpointer phone)
{
	return fake_object();
}

static json_object *fake_list(gpointer phone)
{
	return json_object_new_array();
}

static json_object *fake_add(gpointer phone, SpConnectionConfig *config, GError **error)
{
	gboolean ok = config->id == SP_CONNECTION_ID_ANY || fake_check(config->id, error);

	sp_connection_config_free(config);
	return ok ? fake_object() : NULL;
}

static gboolean fake_connection(gpointer phone, guint id, GError **error)
{
	return fake_check(id, error);
}

static json_object *fake_dial(gpointer phone, guint id, const char *dest, GError **error)
{
	return fake_check(id, error) ? fake_object() : NULL;
}

static gboolean fake_session(gpointer phone, const char *id, GError **error)
{
	return fake_check_session(id, error);
}

static gboolean fake_session_text(gpointer phone, const char *id, const char *text, GError **error)
{
	return fake_check_session(id, error);
}

static gboolean fake_mute(gpointer phone, gboolean muted, GError **error)
{
	return TRUE;
}

static json_object *fake_session_object(gpointer phone, const char *id, GError **error)
{
	return fake_check_session(id, error) ? fake_object() : NULL;
}

static json_object *fake_devices(gpointer phone, GError **error)
{
	return json_object_new_array();
}

static json_object *fake_set_devices(gpointer phone, const char *capture, const char *playback,
				     GError **error)
{
	return fake_object();
}

static const SpPhoneApi fake_api = {
    .get_status = fake_status,
    .get_connections = fake_list,
    .add_connection = fake_add,
    .enable_connection = fake_connection,
    .disable_connection = fake_connection,
    .remove_connection = fake_connection,
    .dial = fake_dial,
    .answer = fake_session,
    .hangup = fake_session,
    .hold = fake_session,
    .retrieve = fake_session,
    .send_dtmf = fake_session_text,
    .transfer = fake_session_text,
    .get_sessions = fake_list,
    .mute = fake_mute,
    .get_audio_statistics = fake_session_object,
    .get_audio_devices = fake_devices,
    .set_audio_devices = fake_set_devices,
};

static guint fake_count(gpointer host)
{
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static SpRpcMethodContext ctx = {
	    .api = &fake_api,
	    .count_clients = fake_count,
	    .count_subscribers = fake_count,
	};
	SpRpcSubscription sub = {0};
	SpRpcDispatcher *d;
	gsize len = 0;
	char *reply;

	if (ctx.started_us == 0)
		ctx.started_us = g_get_monotonic_time();
	d = sp_rpc_dispatcher_new(sp_rpc_methods_call, &ctx);
	reply = sp_rpc_handle_line(d, &sub, (const char *)data, size, &len);

	if (reply != NULL) {
		/* A reply is always one line of valid JSON: an object, or a non-empty array. */
		json_tokener *tok = json_tokener_new();
		json_object *o;

		if (len == 0 || reply[len - 1] != '\n' || memchr(reply, '\n', len - 1) != NULL ||
		    strlen(reply) != len)
			abort();
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
		o = json_tokener_parse_ex(tok, reply, (int)len - 1);
		if (o == NULL ||
		    (!json_object_is_type(o, json_type_object) &&
		     !(json_object_is_type(o, json_type_array) && json_object_array_length(o) > 0)))
			abort();
		json_object_put(o);
		json_tokener_free(tok);
	}
	g_free(reply);
	sp_rpc_subscription_clear(&sub);
	sp_rpc_dispatcher_free(d);
	return 0;
}
