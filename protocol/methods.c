/* The control protocol's method table and handlers: validate params, then call the phone API. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "protocol/methods.h"

const char *const sp_rpc_event_names[] = {
    "ConnectionStatusChanged", "SessionStatusChanged", "DtmfReceived", "AudioDeviceError",
    "AudioDeviceRecovered",    "MuteChanged",	       NULL,
};

gboolean sp_rpc_event_is_known(const char *event)
{
	return g_strv_contains(sp_rpc_event_names, event);
}

gboolean sp_rpc_subscription_admits(const SpRpcSubscription *sub, const char *event)
{
	return sub->subscribed &&
	       (sub->events == NULL || g_strv_contains((const char *const *)sub->events, event));
}

void sp_rpc_subscription_clear(SpRpcSubscription *sub)
{
	sub->subscribed = FALSE;
	g_clear_pointer(&sub->events, g_strfreev);
}

/* ---- params ------------------------------------------------------------------------------ */

typedef enum {
	PARAM_CONNECTION_ID, /* integer 0 .. G_MAXUINT - 1 */
	PARAM_SESSION_ID,    /* a string, or a non-negative integer turned into one */
	PARAM_STRING,	     /* non-empty, at most max bytes, no control characters */
	PARAM_DIGITS,	     /* DTMF: 1 .. SP_RPC_MAX_DIGITS of 0-9 * # A-D */
	PARAM_BOOLEAN,
	PARAM_OPTION, /* an AddConnection option: string, number or boolean, as text */
	PARAM_EVENTS, /* an array of known event names */
} ParamType;

typedef struct {
	const char *name;
	ParamType type;
	gboolean required;
	gsize max;	 /* strings: most bytes; 0 means SP_RPC_MAX_STRING */
	const char *key; /* PARAM_OPTION: the config key it sets */
} ParamSpec;

typedef struct {
	gboolean present;
	guint id;
	gboolean boolean;
	const char *string; /* borrowed from the params, or points into text */
	char text[G_ASCII_DTOSTR_BUF_SIZE];
	char **events; /* PARAM_EVENTS: owned */
} ParamValue;

#define MAX_PARAMS 24

static gboolean invalid(GError **error, const char *fmt, const char *name)
{
	g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS, fmt, name);
	return FALSE;
}

static void values_clear(ParamValue *values, gsize n)
{
	for (gsize i = 0; i < n; i++)
		g_clear_pointer(&values[i].events, g_strfreev);
}

/* A string json value without NUL or other control characters, of 1..max bytes. */
static gboolean check_text(const ParamSpec *spec, json_object *v, gsize max, GError **error)
{
	const char *s;
	gsize len;

	if (!json_object_is_type(v, json_type_string))
		return invalid(error, "Invalid params: %s must be a string", spec->name);
	s = json_object_get_string(v);
	len = (gsize)json_object_get_string_len(v);
	if (len == 0)
		return invalid(error, "Invalid params: %s must not be empty", spec->name);
	if (len > max) {
		g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS,
			    "Invalid params: %s is longer than %" G_GSIZE_FORMAT " bytes",
			    spec->name, max);
		return FALSE;
	}
	for (gsize i = 0; i < len; i++)
		if ((guchar)s[i] < 0x20 || s[i] == 0x7f)
			return invalid(error, "Invalid params: %s holds a control character",
				       spec->name);
	return TRUE;
}

static gboolean check_value(const ParamSpec *spec, json_object *v, ParamValue *out, GError **error)
{
	gsize max = spec->max ? spec->max : SP_RPC_MAX_STRING;

	switch (spec->type) {
	case PARAM_CONNECTION_ID: {
		int64_t n;

		if (!json_object_is_type(v, json_type_int))
			return invalid(error, "Invalid params: %s must be a non-negative integer",
				       spec->name);
		n = json_object_get_int64(v);
		if (n < 0 || n >= (int64_t)G_MAXUINT)
			return invalid(error,
				       "Invalid params: %s must be a non-negative integer "
				       "below 4294967295",
				       spec->name);
		out->id = (guint)n;
		return TRUE;
	}
	case PARAM_SESSION_ID:
		if (json_object_is_type(v, json_type_int)) {
			int64_t n = json_object_get_int64(v);

			if (n < 0)
				return invalid(error,
					       "Invalid params: %s must be a string or a "
					       "non-negative integer",
					       spec->name);
			g_snprintf(out->text, sizeof(out->text), "%" G_GUINT64_FORMAT,
				   (guint64)json_object_get_uint64(v));
			out->string = out->text;
			return TRUE;
		}
		if (!json_object_is_type(v, json_type_string))
			return invalid(
			    error, "Invalid params: %s must be a string or a non-negative integer",
			    spec->name);
		if (!check_text(spec, v, SP_RPC_MAX_SESSION_ID, error))
			return FALSE;
		out->string = json_object_get_string(v);
		return TRUE;
	case PARAM_STRING:
		if (!check_text(spec, v, max, error))
			return FALSE;
		out->string = json_object_get_string(v);
		return TRUE;
	case PARAM_DIGITS: {
		const char *s;

		if (!check_text(spec, v, SP_RPC_MAX_DIGITS, error))
			return FALSE;
		s = json_object_get_string(v);
		if (s[strspn(s, "0123456789*#ABCD")] != '\0')
			return invalid(error, "Invalid params: %s may only hold 0-9, *, # and A-D",
				       spec->name);
		out->string = s;
		return TRUE;
	}
	case PARAM_BOOLEAN:
		if (!json_object_is_type(v, json_type_boolean))
			return invalid(error, "Invalid params: %s must be true or false",
				       spec->name);
		out->boolean = json_object_get_boolean(v);
		return TRUE;
	case PARAM_OPTION:
		switch (json_object_get_type(v)) {
		case json_type_string:
			if (!check_text(spec, v, max, error))
				return FALSE;
			out->string = json_object_get_string(v);
			return TRUE;
		case json_type_boolean:
			out->string = json_object_get_boolean(v) ? "true" : "false";
			return TRUE;
		case json_type_int:
			if (json_object_get_int64(v) < 0)
				g_snprintf(out->text, sizeof(out->text), "%" G_GINT64_FORMAT,
					   (gint64)json_object_get_int64(v));
			else
				g_snprintf(out->text, sizeof(out->text), "%" G_GUINT64_FORMAT,
					   (guint64)json_object_get_uint64(v));
			out->string = out->text;
			return TRUE;
		case json_type_double:
			g_ascii_dtostr(out->text, sizeof(out->text), json_object_get_double(v));
			out->string = out->text;
			return TRUE;
		case json_type_null:
		case json_type_object:
		case json_type_array:
			break;
		}
		return invalid(error, "Invalid params: %s must be a string, a number or a boolean",
			       spec->name);
	case PARAM_EVENTS: {
		g_autoptr(GPtrArray) names = NULL;
		gsize n;

		if (!json_object_is_type(v, json_type_array))
			return invalid(error, "Invalid params: %s must be an array of event names",
				       spec->name);
		n = json_object_array_length(v);
		names = g_ptr_array_new_null_terminated(n, g_free, TRUE);
		for (gsize i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			const char *name = json_object_get_string(e);

			if (!json_object_is_type(e, json_type_string))
				return invalid(error,
					       "Invalid params: %s must be an array of event names",
					       spec->name);
			if (!sp_rpc_event_is_known(name)) {
				g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS,
					    "Invalid params: unknown event '%.64s' in %s", name,
					    spec->name);
				return FALSE;
			}
			if (!g_strv_contains((const char *const *)names->pdata, name))
				g_ptr_array_add(names, g_strdup(name));
		}
		out->events = (char **)g_ptr_array_free(g_steal_pointer(&names), FALSE);
		return TRUE;
	}
	}
	return invalid(error, "Invalid params: %s has an unknown type", spec->name);
}

/*
 * Maps params (absent, an object, or an array in the documented order) onto values[], one per
 * spec entry. Unknown members, missing required ones and values of the wrong type fail with
 * -32602 naming the parameter. An explicit null counts as absent.
 */
static gboolean parse_params(json_object *params, const ParamSpec *spec, gsize n,
			     ParamValue *values, GError **error)
{
	json_object *found[MAX_PARAMS] = {0};

	g_assert(n <= MAX_PARAMS);
	memset(values, 0, n * sizeof(*values));

	if (json_object_is_type(params, json_type_object)) {
		json_object_object_foreach(params, key, val)
		{
			gsize i;

			for (i = 0; i < n; i++)
				if (strcmp(key, spec[i].name) == 0)
					break;
			if (i == n) {
				g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS,
					    "Invalid params: unknown parameter '%.64s'", key);
				return FALSE;
			}
			found[i] = val;
		}
	} else if (json_object_is_type(params, json_type_array)) {
		gsize len = json_object_array_length(params);

		if (len > n) {
			g_set_error(
			    error, SP_ERROR, SP_ERROR_INVALID_ARGS,
			    "Invalid params: at most %" G_GSIZE_FORMAT " positional parameters", n);
			return FALSE;
		}
		for (gsize i = 0; i < len; i++)
			found[i] = json_object_array_get_idx(params, i);
	}

	for (gsize i = 0; i < n; i++) {
		if (found[i] == NULL) {
			if (spec[i].required) {
				values_clear(values, n);
				return invalid(error, "Invalid params: missing parameter '%s'",
					       spec[i].name);
			}
			continue;
		}
		if (!check_value(&spec[i], found[i], &values[i], error)) {
			values_clear(values, n);
			return FALSE;
		}
		values[i].present = TRUE;
	}
	return TRUE;
}

static json_object *unsupported(GError **error, const char *method)
{
	g_set_error(error, SP_ERROR, SP_ERROR_UNSUPPORTED, "%s is not supported by this phone",
		    method);
	return NULL;
}

/* ---- handlers ---------------------------------------------------------------------------- */

typedef json_object *(*MethodHandler)(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
				      json_object *params, GError **error);

#define API(ctx, entry) ((ctx)->api != NULL ? (ctx)->api->entry : NULL)

static const ParamSpec no_params[1] = {{NULL}};

static gboolean parse_none(json_object *params, GError **error)
{
	ParamValue values[1];

	return parse_params(params, no_params, 0, values, error);
}

static json_object *reply_true(gboolean ok)
{
	return ok ? json_object_new_boolean(TRUE) : NULL;
}

/* A getter without GError: NULL means nothing to list. */
static json_object *list_or_empty(json_object *list)
{
	return list != NULL ? list : json_object_new_array();
}

static json_object *handle_get_connections(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
					   json_object *params, GError **error)
{
	if (!parse_none(params, error))
		return NULL;
	if (API(ctx, get_connections) == NULL)
		return unsupported(error, "GetConnections");
	return list_or_empty(ctx->api->get_connections(ctx->phone));
}

static json_object *handle_get_sessions(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
					json_object *params, GError **error)
{
	if (!parse_none(params, error))
		return NULL;
	if (API(ctx, get_sessions) == NULL)
		return unsupported(error, "GetSessions");
	return list_or_empty(ctx->api->get_sessions(ctx->phone));
}

/* Option names of AddConnection (camelCase of SPEC §2) and the config keys they set. */
static const ParamSpec add_connection_params[] = {
    {"connectionId", PARAM_CONNECTION_ID},
    {"user", PARAM_OPTION, TRUE, 0, "user"},
    {"server", PARAM_OPTION, TRUE, 0, "server"},
    {"protocol", PARAM_OPTION, FALSE, 0, "protocol"},
    {"domain", PARAM_OPTION, FALSE, 0, "domain"},
    {"authUser", PARAM_OPTION, FALSE, 0, "auth-user"},
    {"password", PARAM_OPTION, FALSE, 0, "password"},
    {"displayName", PARAM_OPTION, FALSE, 0, "display-name"},
    {"reregisterInSeconds", PARAM_OPTION, FALSE, 0, "reregister-in-seconds"},
    {"enabled", PARAM_OPTION, FALSE, 0, "enabled"},
    {"localAddress", PARAM_OPTION, FALSE, 0, "local-address"},
    {"publicAddress", PARAM_OPTION, FALSE, 0, "public-address"},
    {"keepaliveInterval", PARAM_OPTION, FALSE, 0, "keepalive-interval"},
    {"probeTimeout", PARAM_OPTION, FALSE, 0, "probe-timeout"},
    {"probeFailures", PARAM_OPTION, FALSE, 0, "probe-failures"},
    {"downProbeInterval", PARAM_OPTION, FALSE, 0, "down-probe-interval"},
    {"retryMin", PARAM_OPTION, FALSE, 0, "retry-min"},
    {"retryMax", PARAM_OPTION, FALSE, 0, "retry-max"},
    {"caFile", PARAM_OPTION, FALSE, SP_RPC_MAX_PATH, "ca-file"},
    {"tlsVerify", PARAM_OPTION, FALSE, 0, "tls-verify"},
    {"srtp", PARAM_OPTION, FALSE, 0, "srtp"},
};

/*
 * Config errors are the client's: they become -32602 naming the parameter, given, or found as
 * the config key that starts the message ("retry-min: ...").
 */
static void config_error_to_params(GError **error, const char *param)
{
	GError *e = *error;
	const char *message = e->message;

	*error = NULL;
	for (gsize i = 0; param == NULL && i < G_N_ELEMENTS(add_connection_params); i++) {
		const char *key = add_connection_params[i].key;
		gsize n = key != NULL ? strlen(key) : 0;

		if (n > 0 && strncmp(message, key, n) == 0 && message[n] == ':') {
			param = add_connection_params[i].name;
			message += n + 1;
			while (*message == ' ')
				message++;
		}
	}
	if (param != NULL)
		g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS, "Invalid params: %s: %s", param,
			    message);
	else
		g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS, "Invalid params: %s", message);
	g_error_free(e);
}

static json_object *handle_add_connection(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
					  json_object *params, GError **error)
{
	g_autoptr(SpConnectionConfig) config = NULL;
	const SpConnectionConfig *defaults;
	ParamValue v[G_N_ELEMENTS(add_connection_params)];

	if (!parse_params(params, add_connection_params, G_N_ELEMENTS(add_connection_params), v,
			  error))
		return NULL;

	if (API(ctx, add_connection) == NULL)
		return unsupported(error, "AddConnection");

	defaults = API(ctx, connection_defaults) ? ctx->api->connection_defaults(ctx->phone) : NULL;
	config = defaults ? sp_connection_config_copy(defaults) : sp_connection_config_new();
	config->id = v[0].present ? v[0].id : SP_CONNECTION_ID_ANY;
	for (gsize i = 1; i < G_N_ELEMENTS(add_connection_params); i++) {
		const ParamSpec *p = &add_connection_params[i];

		if (!v[i].present)
			continue;
		if (!sp_connection_config_set(config, p->key, v[i].string, error)) {
			config_error_to_params(error, p->name);
			return NULL;
		}
	}
	if (!sp_connection_config_validate(config, error)) {
		config_error_to_params(error, NULL);
		return NULL;
	}
	return ctx->api->add_connection(ctx->phone, g_steal_pointer(&config), error);
}

static const ParamSpec connection_id_params[] = {
    {"connectionId", PARAM_CONNECTION_ID, TRUE},
};

static json_object *connection_call(SpRpcMethodContext *ctx, json_object *params,
				    gboolean (*func)(gpointer, guint, GError **),
				    const char *method, GError **error)
{
	ParamValue v[G_N_ELEMENTS(connection_id_params)];

	if (!parse_params(params, connection_id_params, G_N_ELEMENTS(connection_id_params), v,
			  error))
		return NULL;

	if (func == NULL)
		return unsupported(error, method);
	return reply_true(func(ctx->phone, v[0].id, error));
}

static json_object *handle_enable_connection(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
					     json_object *params, GError **error)
{
	return connection_call(ctx, params, API(ctx, enable_connection), "EnableConnection", error);
}

static json_object *handle_disable_connection(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
					      json_object *params, GError **error)
{
	return connection_call(ctx, params, API(ctx, disable_connection), "DisableConnection",
			       error);
}

static json_object *handle_remove_connection(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
					     json_object *params, GError **error)
{
	return connection_call(ctx, params, API(ctx, remove_connection), "RemoveConnection", error);
}

static const ParamSpec dial_params[] = {
    {"connectionId", PARAM_CONNECTION_ID, TRUE},
    {"destination", PARAM_STRING, TRUE, SP_RPC_MAX_DESTINATION},
};

static json_object *handle_dial(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
				json_object *params, GError **error)
{
	ParamValue v[G_N_ELEMENTS(dial_params)];

	if (!parse_params(params, dial_params, G_N_ELEMENTS(dial_params), v, error))
		return NULL;

	if (API(ctx, dial) == NULL)
		return unsupported(error, "Dial");
	return ctx->api->dial(ctx->phone, v[0].id, v[1].string, error);
}

static const ParamSpec session_id_params[] = {
    {"sessionId", PARAM_SESSION_ID, TRUE},
};

static json_object *session_call(SpRpcMethodContext *ctx, json_object *params,
				 gboolean (*func)(gpointer, const char *, GError **),
				 const char *method, GError **error)
{
	ParamValue v[G_N_ELEMENTS(session_id_params)];

	if (!parse_params(params, session_id_params, G_N_ELEMENTS(session_id_params), v, error))
		return NULL;

	if (func == NULL)
		return unsupported(error, method);
	return reply_true(func(ctx->phone, v[0].string, error));
}

static json_object *handle_answer(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
				  json_object *params, GError **error)
{
	return session_call(ctx, params, API(ctx, answer), "Answer", error);
}

static json_object *handle_hangup(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
				  json_object *params, GError **error)
{
	return session_call(ctx, params, API(ctx, hangup), "Hangup", error);
}

static json_object *handle_hold(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
				json_object *params, GError **error)
{
	return session_call(ctx, params, API(ctx, hold), "Hold", error);
}

static json_object *handle_retrieve(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
				    json_object *params, GError **error)
{
	return session_call(ctx, params, API(ctx, retrieve), "Retrieve", error);
}

static const ParamSpec send_dtmf_params[] = {
    {"sessionId", PARAM_SESSION_ID, TRUE},
    {"digits", PARAM_DIGITS, TRUE},
};

static json_object *handle_send_dtmf(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
				     json_object *params, GError **error)
{
	ParamValue v[G_N_ELEMENTS(send_dtmf_params)];

	if (!parse_params(params, send_dtmf_params, G_N_ELEMENTS(send_dtmf_params), v, error))
		return NULL;

	if (API(ctx, send_dtmf) == NULL)
		return unsupported(error, "SendDtmf");
	return reply_true(ctx->api->send_dtmf(ctx->phone, v[0].string, v[1].string, error));
}

static const ParamSpec transfer_params[] = {
    {"sessionId", PARAM_SESSION_ID, TRUE},
    {"destination", PARAM_STRING, FALSE, SP_RPC_MAX_DESTINATION},
    /* Attended transfer: REFER with Replaces naming this other call. */
    {"toSessionId", PARAM_SESSION_ID, FALSE},
};

static json_object *handle_transfer(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
				    json_object *params, GError **error)
{
	ParamValue v[G_N_ELEMENTS(transfer_params)];

	if (!parse_params(params, transfer_params, G_N_ELEMENTS(transfer_params), v, error))
		return NULL;

	if (v[1].present == v[2].present) {
		invalid(error, "Invalid params: %s takes destination or toSessionId", "Transfer");
		return NULL;
	}
	if (v[2].present) {
		if (API(ctx, transfer_attended) == NULL)
			return unsupported(error, "Transfer");
		return reply_true(
		    ctx->api->transfer_attended(ctx->phone, v[0].string, v[2].string, error));
	}
	if (API(ctx, transfer) == NULL)
		return unsupported(error, "Transfer");
	return reply_true(ctx->api->transfer(ctx->phone, v[0].string, v[1].string, error));
}

static const ParamSpec mute_params[] = {
    {"muted", PARAM_BOOLEAN, TRUE},
};

static json_object *handle_mute(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
				json_object *params, GError **error)
{
	ParamValue v[G_N_ELEMENTS(mute_params)];

	if (!parse_params(params, mute_params, G_N_ELEMENTS(mute_params), v, error))
		return NULL;

	if (API(ctx, mute) == NULL)
		return unsupported(error, "Mute");
	return reply_true(ctx->api->mute(ctx->phone, v[0].boolean, error));
}

static json_object *handle_get_audio_statistics(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
						json_object *params, GError **error)
{
	ParamValue v[G_N_ELEMENTS(session_id_params)];

	if (!parse_params(params, session_id_params, G_N_ELEMENTS(session_id_params), v, error))
		return NULL;

	if (API(ctx, get_audio_statistics) == NULL)
		return unsupported(error, "GetAudioStatistics");
	return ctx->api->get_audio_statistics(ctx->phone, v[0].string, error);
}

static json_object *handle_get_audio_devices(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
					     json_object *params, GError **error)
{
	if (!parse_none(params, error))
		return NULL;
	if (API(ctx, get_audio_devices) == NULL)
		return unsupported(error, "GetAudioDevices");
	return ctx->api->get_audio_devices(ctx->phone, error);
}

static const ParamSpec set_audio_devices_params[] = {
    {"capture", PARAM_STRING},
    {"playback", PARAM_STRING},
};

static json_object *handle_set_audio_devices(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
					     json_object *params, GError **error)
{
	ParamValue v[G_N_ELEMENTS(set_audio_devices_params)];

	if (!parse_params(params, set_audio_devices_params, G_N_ELEMENTS(set_audio_devices_params),
			  v, error))
		return NULL;

	if (API(ctx, set_audio_devices) == NULL)
		return unsupported(error, "SetAudioDevices");
	return ctx->api->set_audio_devices(ctx->phone, v[0].string, v[1].string, error);
}

static json_object *handle_get_status(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
				      json_object *params, GError **error)
{
	json_object *status;
	json_object *extra = NULL;
	gint64 uptime_us = g_get_monotonic_time() - ctx->started_us;

	if (!parse_none(params, error))
		return NULL;

	status = json_object_new_object();
	json_object_object_add(status, "version", json_object_new_string(SP_VERSION));
	json_object_object_add(status, "uptimeS",
			       json_object_new_int64(uptime_us / G_USEC_PER_SEC));
	json_object_object_add(status, "pid", json_object_new_int64(getpid()));
	json_object_object_add(
	    status, "clients",
	    json_object_new_int64(ctx->count_clients ? ctx->count_clients(ctx->host) : 0));
	json_object_object_add(
	    status, "subscribers",
	    json_object_new_int64(ctx->count_subscribers ? ctx->count_subscribers(ctx->host) : 0));

	if (API(ctx, get_status) != NULL)
		extra = ctx->api->get_status(ctx->phone);
	if (json_object_is_type(extra, json_type_object)) {
		/* The built-in fields win over the phone's. */
		json_object_object_foreach(extra, key, val)
		{
			if (!json_object_object_get_ex(status, key, NULL))
				json_object_object_add(status, key, json_object_get(val));
		}
	}
	json_object_put(extra);
	return status;
}

static const ParamSpec subscribe_params[] = {
    {"events", PARAM_EVENTS},
};

static json_object *handle_subscribe(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
				     json_object *params, GError **error)
{
	ParamValue v[G_N_ELEMENTS(subscribe_params)];

	if (!parse_params(params, subscribe_params, G_N_ELEMENTS(subscribe_params), v, error))
		return NULL;

	/* Subscribing again replaces the filter. */
	sp_rpc_subscription_clear(caller);
	caller->subscribed = TRUE;
	caller->events = g_steal_pointer(&v[0].events);
	return json_object_new_boolean(TRUE);
}

static json_object *handle_unsubscribe(SpRpcMethodContext *ctx, SpRpcSubscription *caller,
				       json_object *params, GError **error)
{
	if (!parse_none(params, error))
		return NULL;
	sp_rpc_subscription_clear(caller);
	return json_object_new_boolean(TRUE);
}

/* ---- the table --------------------------------------------------------------------------- */

typedef struct {
	const char *name;
	MethodHandler handler;
} Method;

/* Sorted by strcmp() for bsearch; a unit test checks the order. */
static const Method methods[] = {
    {"AddConnection", handle_add_connection},
    {"Answer", handle_answer},
    {"Dial", handle_dial},
    {"DisableConnection", handle_disable_connection},
    {"EnableConnection", handle_enable_connection},
    {"GetAudioDevices", handle_get_audio_devices},
    {"GetAudioStatistics", handle_get_audio_statistics},
    {"GetConnections", handle_get_connections},
    {"GetSessions", handle_get_sessions},
    {"GetStatus", handle_get_status},
    {"Hangup", handle_hangup},
    {"Hold", handle_hold},
    {"Mute", handle_mute},
    {"RemoveConnection", handle_remove_connection},
    {"Retrieve", handle_retrieve},
    {"SendDtmf", handle_send_dtmf},
    {"SetAudioDevices", handle_set_audio_devices},
    {"Subscribe", handle_subscribe},
    {"Transfer", handle_transfer},
    {"Unsubscribe", handle_unsubscribe},
};

guint sp_rpc_methods_count(void)
{
	return G_N_ELEMENTS(methods);
}

const char *sp_rpc_methods_name(guint i)
{
	return i < G_N_ELEMENTS(methods) ? methods[i].name : NULL;
}

static int method_compare(const void *key, const void *member)
{
	return strcmp(key, ((const Method *)member)->name);
}

gboolean sp_rpc_methods_call(const char *method, json_object *params, gpointer caller,
			     gpointer user_data, json_object **result, GError **error)
{
	SpRpcMethodContext *ctx = user_data;
	const Method *m =
	    bsearch(method, methods, G_N_ELEMENTS(methods), sizeof(methods[0]), method_compare);
	GError *local = NULL;

	*result = NULL;
	if (m == NULL) {
		g_set_error(error, SP_RPC_ERROR, SP_RPC_METHOD_NOT_FOUND, "Method not found: %.64s",
			    method);
		return FALSE;
	}
	*result = m->handler(ctx, caller, params, &local);
	if (*result == NULL) {
		if (local == NULL)
			g_set_error(&local, SP_ERROR, SP_ERROR_FAILED, "%s failed", m->name);
		g_propagate_error(error, local);
		return FALSE;
	}
	g_clear_error(&local);
	return TRUE;
}
