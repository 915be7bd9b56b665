/* Unit tests of the method table: param validation, mapping to the phone API, built-ins. */
#include <string.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "protocol/methods.h"
#include "protocol/rpc.h"
#include "test-rpc-fixture.h"

/* What the fake phone was last asked to do. */
typedef struct {
	char *method;
	guint connection_id;
	char *session_id;
	char *text; /* destination, digits, or capture device */
	char *text2;
	gboolean flag;
	SpConnectionConfig *config;
	guint calls;
} FakePhone;

typedef struct {
	SpTestBase base;
	FakePhone phone;
	SpPhoneApi api;
	SpRpcMethodContext ctx;
	SpRpcDispatcher *dispatcher;
	SpRpcSubscription sub;
	guint n_clients;
} Fixture;

static void fake_record(FakePhone *p, const char *method)
{
	g_free(p->method);
	p->method = g_strdup(method);
	p->calls++;
}

static gboolean fake_check_connection(guint id, GError **error)
{
	if (id == 99) {
		g_set_error(error, SP_ERROR, SP_ERROR_NOT_FOUND, "no connection %u", id);
		return FALSE;
	}
	return TRUE;
}

static gboolean fake_check_session(const char *id, GError **error)
{
	if (strcmp(id, "404") == 0) {
		g_set_error(error, SP_ERROR, SP_ERROR_NOT_FOUND, "no session %s", id);
		return FALSE;
	}
	if (strcmp(id, "409") == 0) {
		g_set_error(error, SP_ERROR, SP_ERROR_WRONG_STATE, "session %s is not ringing", id);
		return FALSE;
	}
	return TRUE;
}

static json_object *fake_get_status(gpointer phone)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "connections", json_object_new_int(2));
	json_object_object_add(o, "ready", json_object_new_int(1));
	/* Must not override the built-in field. */
	json_object_object_add(o, "version", json_object_new_string("fake"));
	return o;
}

static const SpConnectionConfig *fake_connection_defaults(gpointer phone)
{
	static SpConnectionConfig *defaults;

	if (defaults == NULL) {
		defaults = sp_connection_config_new();
		defaults->reregister_in_seconds = 77;
	}
	return defaults;
}

static json_object *fake_get_connections(gpointer phone)
{
	fake_record(phone, "get_connections");
	return json_object_new_array();
}

static json_object *fake_add_connection(gpointer phone, SpConnectionConfig *config, GError **error)
{
	FakePhone *p = phone;
	json_object *o;

	fake_record(p, "add_connection");
	sp_connection_config_free(p->config);
	p->config = config;
	if (config->id == 5) {
		g_set_error(error, SP_ERROR, SP_ERROR_EXISTS, "connection 5 exists");
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(
	    o, "connectionId",
	    json_object_new_int64(config->id == SP_CONNECTION_ID_ANY ? 0 : config->id));
	return o;
}

#define FAKE_CONNECTION_CALL(name)                                                                 \
	static gboolean fake_##name(gpointer phone, guint id, GError **error)                      \
	{                                                                                          \
		FakePhone *p = phone;                                                              \
		fake_record(p, #name);                                                             \
		p->connection_id = id;                                                             \
		return fake_check_connection(id, error);                                           \
	}
FAKE_CONNECTION_CALL(enable_connection)
FAKE_CONNECTION_CALL(disable_connection)
FAKE_CONNECTION_CALL(remove_connection)

static json_object *fake_dial(gpointer phone, guint id, const char *destination, GError **error)
{
	FakePhone *p = phone;
	json_object *o;

	fake_record(p, "dial");
	p->connection_id = id;
	g_free(p->text);
	p->text = g_strdup(destination);
	if (!fake_check_connection(id, error))
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "sessionId", json_object_new_string("7"));
	json_object_object_add(o, "connectionId", json_object_new_int64(id));
	return o;
}

#define FAKE_SESSION_CALL(name)                                                                    \
	static gboolean fake_##name(gpointer phone, const char *id, GError **error)                \
	{                                                                                          \
		FakePhone *p = phone;                                                              \
		fake_record(p, #name);                                                             \
		g_free(p->session_id);                                                             \
		p->session_id = g_strdup(id);                                                      \
		return fake_check_session(id, error);                                              \
	}
FAKE_SESSION_CALL(answer)
FAKE_SESSION_CALL(hangup)
FAKE_SESSION_CALL(hold)
FAKE_SESSION_CALL(retrieve)

static gboolean fake_session_text(gpointer phone, const char *method, const char *id,
				  const char *text, GError **error)
{
	FakePhone *p = phone;

	fake_record(p, method);
	g_free(p->session_id);
	p->session_id = g_strdup(id);
	g_free(p->text);
	p->text = g_strdup(text);
	return fake_check_session(id, error);
}

static gboolean fake_send_dtmf(gpointer phone, const char *id, const char *digits, GError **error)
{
	return fake_session_text(phone, "send_dtmf", id, digits, error);
}

static gboolean fake_transfer(gpointer phone, const char *id, const char *destination,
			      GError **error)
{
	return fake_session_text(phone, "transfer", id, destination, error);
}

static gboolean fake_transfer_attended(gpointer phone, const char *id, const char *to_id,
				       GError **error)
{
	return fake_session_text(phone, "transfer-attended", id, to_id, error);
}

static json_object *fake_get_sessions(gpointer phone)
{
	fake_record(phone, "get_sessions");
	return NULL; /* nothing to list */
}

static gboolean fake_mute(gpointer phone, gboolean muted, GError **error)
{
	FakePhone *p = phone;

	fake_record(p, "mute");
	p->flag = muted;
	return TRUE;
}

static json_object *fake_set_audio_devices(gpointer phone, const char *capture,
					   const char *playback, GError **error)
{
	FakePhone *p = phone;

	fake_record(p, "set_audio_devices");
	g_free(p->text);
	g_free(p->text2);
	p->text = g_strdup(capture);
	p->text2 = g_strdup(playback);
	return json_object_new_object();
}

static guint fake_count_clients(gpointer host)
{
	return ((Fixture *)host)->n_clients;
}

static guint fake_count_subscribers(gpointer host)
{
	return ((Fixture *)host)->sub.subscribed ? 1 : 0;
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
	sp_test_base_setup(&f->base);
	f->api = (SpPhoneApi){
	    .get_status = fake_get_status,
	    .get_connections = fake_get_connections,
	    .add_connection = fake_add_connection,
	    .enable_connection = fake_enable_connection,
	    .disable_connection = fake_disable_connection,
	    .remove_connection = fake_remove_connection,
	    .dial = fake_dial,
	    .answer = fake_answer,
	    .hangup = fake_hangup,
	    .hold = fake_hold,
	    .retrieve = fake_retrieve,
	    .send_dtmf = fake_send_dtmf,
	    .transfer = fake_transfer,
	    .transfer_attended = fake_transfer_attended,
	    .get_sessions = fake_get_sessions,
	    .mute = fake_mute,
	    .set_audio_devices = fake_set_audio_devices,
	    /* get_audio_statistics and get_audio_devices left NULL: Unsupported */
	};
	f->ctx = (SpRpcMethodContext){
	    .api = &f->api,
	    .phone = &f->phone,
	    .started_us = g_get_monotonic_time(),
	    .count_clients = fake_count_clients,
	    .count_subscribers = fake_count_subscribers,
	    .host = f,
	};
	f->n_clients = 3;
	f->dispatcher = sp_rpc_dispatcher_new(sp_rpc_methods_call, &f->ctx);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
	sp_rpc_dispatcher_free(f->dispatcher);
	sp_rpc_subscription_clear(&f->sub);
	g_free(f->phone.method);
	g_free(f->phone.session_id);
	g_free(f->phone.text);
	g_free(f->phone.text2);
	sp_connection_config_free(f->phone.config);
	sp_test_base_teardown(&f->base);
}

/* Calls method with params (JSON text or NULL) and returns the whole reply object. */
static json_object *call(Fixture *f, const char *method, const char *params)
{
	g_autofree char *line =
	    g_strdup_printf("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"%s%s}", method,
			    params ? ",\"params\":" : "", params ? params : "");
	gsize len = 0;
	g_autofree char *reply =
	    sp_rpc_handle_line(f->dispatcher, &f->sub, line, strlen(line), &len);
	json_object *o;

	g_assert_nonnull(reply);
	o = json_tokener_parse(reply);
	g_assert_nonnull(o);
	return o;
}

/* The result of a call that must succeed. Transfer full. */
static json_object *call_ok(Fixture *f, const char *method, const char *params)
{
	json_object *reply = call(f, method, params);
	json_object *result = NULL;

	if (!json_object_object_get_ex(reply, "result", &result))
		g_error("%s %s: %s", method, params ? params : "",
			json_object_to_json_string(reply));
	json_object_get(result);
	json_object_put(reply);
	return result;
}

static void call_true(Fixture *f, const char *method, const char *params)
{
	json_object *r = call_ok(f, method, params);

	g_assert_true(json_object_is_type(r, json_type_boolean) && json_object_get_boolean(r));
	json_object_put(r);
}

/* Checks that the call fails with code (and kind if not NULL) and that the message holds
 * the text `names` if not NULL. */
static void call_fails(Fixture *f, const char *method, const char *params, int code,
		       const char *kind, const char *names)
{
	json_object *reply = call(f, method, params);
	json_object *err, *v;
	const char *message;

	if (!json_object_object_get_ex(reply, "error", &err))
		g_error("%s %s: wanted error %d, got %s", method, params ? params : "", code,
			json_object_to_json_string(reply));
	g_assert_true(json_object_object_get_ex(err, "code", &v));
	if (json_object_get_int(v) != code)
		g_error("%s %s: wanted error %d, got %s", method, params ? params : "", code,
			json_object_to_json_string(reply));
	g_assert_true(json_object_object_get_ex(err, "message", &v));
	message = json_object_get_string(v);
	if (names != NULL && strstr(message, names) == NULL)
		g_error("%s %s: message '%s' does not name '%s'", method, params ? params : "",
			message, names);
	if (kind != NULL) {
		g_assert_true(json_object_object_get_ex(err, "data", &v));
		g_assert_true(json_object_object_get_ex(v, "kind", &v));
		g_assert_cmpstr(json_object_get_string(v), ==, kind);
	}
	json_object_put(reply);
}

#define INVALID(f, method, params, names)                                                          \
	call_fails(f, method, params, SP_RPC_INVALID_PARAMS, NULL, names)

/* ---- the table --------------------------------------------------------------------------- */

static void test_table_sorted(Fixture *f, gconstpointer data)
{
	static const char *const spec_methods[] = {
	    "GetConnections",
	    "AddConnection",
	    "EnableConnection",
	    "DisableConnection",
	    "RemoveConnection",
	    "Dial",
	    "Answer",
	    "Hangup",
	    "Hold",
	    "Retrieve",
	    "SendDtmf",
	    "Transfer",
	    "Mute",
	    "GetSessions",
	    "GetAudioStatistics",
	    "GetAudioDevices",
	    "SetAudioDevices",
	    "Subscribe",
	    "Unsubscribe",
	    "GetStatus",
	};
	guint n = sp_rpc_methods_count();

	g_assert_cmpuint(n, >, 0);
	for (guint i = 1; i < n; i++)
		if (strcmp(sp_rpc_methods_name(i - 1), sp_rpc_methods_name(i)) >= 0)
			g_error("method table not sorted: %s before %s", sp_rpc_methods_name(i - 1),
				sp_rpc_methods_name(i));
	g_assert_null(sp_rpc_methods_name(n));

	/* Every method of the protocol is in the table, and nothing else. */
	g_assert_cmpuint(n, ==, G_N_ELEMENTS(spec_methods));
	for (gsize i = 0; i < G_N_ELEMENTS(spec_methods); i++) {
		gboolean found = FALSE;

		for (guint k = 0; k < n; k++)
			found = found || strcmp(sp_rpc_methods_name(k), spec_methods[i]) == 0;
		if (!found)
			g_error("%s missing from the table", spec_methods[i]);
	}
}

static void test_method_not_found(Fixture *f, gconstpointer data)
{
	call_fails(f, "NoSuchMethod", NULL, SP_RPC_METHOD_NOT_FOUND, NULL, "NoSuchMethod");
	call_fails(f, "getstatus", NULL, SP_RPC_METHOD_NOT_FOUND, NULL, NULL);
	call_fails(f, "GetStatus ", NULL, SP_RPC_METHOD_NOT_FOUND, NULL, NULL);
	call_fails(f, "", NULL, SP_RPC_METHOD_NOT_FOUND, NULL, NULL);
	call_fails(f, "Zzz", NULL, SP_RPC_METHOD_NOT_FOUND, NULL, NULL);
	call_fails(f, "AAA", NULL, SP_RPC_METHOD_NOT_FOUND, NULL, NULL);
}

/* ---- built-ins --------------------------------------------------------------------------- */

static void test_get_status(Fixture *f, gconstpointer data)
{
	json_object *r = call_ok(f, "GetStatus", NULL);
	json_object *v;

	g_assert_true(json_object_object_get_ex(r, "version", &v));
	g_assert_cmpstr(json_object_get_string(v), ==, SP_VERSION);
	g_assert_true(json_object_object_get_ex(r, "uptimeS", &v));
	g_assert_true(json_object_is_type(v, json_type_int));
	g_assert_cmpint(json_object_get_int64(v), >=, 0);
	g_assert_true(json_object_object_get_ex(r, "pid", &v));
	g_assert_cmpint(json_object_get_int64(v), ==, getpid());
	g_assert_true(json_object_object_get_ex(r, "clients", &v));
	g_assert_cmpint(json_object_get_int64(v), ==, 3);
	g_assert_true(json_object_object_get_ex(r, "subscribers", &v));
	g_assert_cmpint(json_object_get_int64(v), ==, 0);
	/* Merged from the phone. */
	g_assert_true(json_object_object_get_ex(r, "connections", &v));
	g_assert_cmpint(json_object_get_int64(v), ==, 2);
	g_assert_true(json_object_object_get_ex(r, "ready", &v));
	json_object_put(r);

	call_true(f, "Subscribe", NULL);
	r = call_ok(f, "GetStatus", "{}");
	g_assert_true(json_object_object_get_ex(r, "subscribers", &v));
	g_assert_cmpint(json_object_get_int64(v), ==, 1);
	json_object_put(r);

	json_object_put(call_ok(f, "GetStatus", "[]"));
	INVALID(f, "GetStatus", "{\"verbose\":true}", "verbose");
	INVALID(f, "GetStatus", "[1]", NULL);
}

static void test_get_status_without_api(Fixture *f, gconstpointer data)
{
	json_object *r, *v;

	f->ctx.api = NULL;
	r = call_ok(f, "GetStatus", NULL);
	g_assert_true(json_object_object_get_ex(r, "version", &v));
	g_assert_false(json_object_object_get_ex(r, "connections", NULL));
	json_object_put(r);
	call_true(f, "Subscribe", NULL);
	call_true(f, "Unsubscribe", NULL);
	/* Everything else is Unsupported, after its params were checked. */
	call_fails(f, "GetConnections", NULL, -32005, "Unsupported", NULL);
	call_fails(f, "Dial", "{\"connectionId\":0,\"destination\":\"5002\"}", -32005,
		   "Unsupported", "Dial");
	call_fails(f, "AddConnection", "{\"user\":\"5001\",\"server\":\"127.0.0.1\"}", -32005,
		   "Unsupported", NULL);
	INVALID(f, "Dial", "{\"connectionId\":0}", "destination");
}

static void test_subscribe(Fixture *f, gconstpointer data)
{
	g_assert_false(sp_rpc_subscription_admits(&f->sub, "ConnectionStatusChanged"));

	call_true(f, "Subscribe", NULL);
	g_assert_true(f->sub.subscribed);
	g_assert_true(sp_rpc_subscription_admits(&f->sub, "ConnectionStatusChanged"));
	g_assert_true(sp_rpc_subscription_admits(&f->sub, "SessionStatusChanged"));

	/* Subscribing again replaces the filter. */
	call_true(f, "Subscribe", "{\"events\":[\"SessionStatusChanged\"]}");
	g_assert_false(sp_rpc_subscription_admits(&f->sub, "ConnectionStatusChanged"));
	g_assert_true(sp_rpc_subscription_admits(&f->sub, "SessionStatusChanged"));

	call_true(f, "Subscribe", "[[\"ConnectionStatusChanged\",\"ConnectionStatusChanged\"]]");
	g_assert_true(sp_rpc_subscription_admits(&f->sub, "ConnectionStatusChanged"));
	g_assert_false(sp_rpc_subscription_admits(&f->sub, "SessionStatusChanged"));
	g_assert_cmpuint(g_strv_length(f->sub.events), ==, 1);

	call_true(f, "Subscribe", "{\"events\":[]}");
	g_assert_true(f->sub.subscribed);
	g_assert_false(sp_rpc_subscription_admits(&f->sub, "ConnectionStatusChanged"));

	call_true(f, "Subscribe", "{\"events\":null}");
	g_assert_true(sp_rpc_subscription_admits(&f->sub, "SessionStatusChanged"));

	call_true(f, "Unsubscribe", NULL);
	g_assert_false(f->sub.subscribed);
	g_assert_false(sp_rpc_subscription_admits(&f->sub, "SessionStatusChanged"));
	call_true(f, "Unsubscribe", "{}");
}

static void test_subscribe_invalid(Fixture *f, gconstpointer data)
{
	call_true(f, "Subscribe", "{\"events\":[\"SessionStatusChanged\"]}");

	INVALID(f, "Subscribe", "{\"events\":[\"NoSuchEvent\"]}", "NoSuchEvent");
	INVALID(f, "Subscribe",
		"{\"events\":[\"SessionStatusChanged\",\"connectionstatuschanged\"]}",
		"connectionstatuschanged");
	INVALID(f, "Subscribe", "{\"events\":\"SessionStatusChanged\"}", "events");
	INVALID(f, "Subscribe", "{\"events\":[1]}", "events");
	INVALID(f, "Subscribe", "{\"events\":[[]]}", "events");
	INVALID(f, "Subscribe", "{\"event\":[]}", "event");
	INVALID(f, "Subscribe", "[[],[]]", NULL);
	INVALID(f, "Unsubscribe", "{\"events\":[]}", "events");

	/* A failed Subscribe leaves the filter as it was. */
	g_assert_true(f->sub.subscribed);
	g_assert_true(sp_rpc_subscription_admits(&f->sub, "SessionStatusChanged"));
	g_assert_false(sp_rpc_subscription_admits(&f->sub, "ConnectionStatusChanged"));
}

/* ---- connections ------------------------------------------------------------------------- */

static void test_connection_methods(Fixture *f, gconstpointer data)
{
	static const struct {
		const char *method;
		const char *api;
	} cases[] = {
	    {"EnableConnection", "enable_connection"},
	    {"DisableConnection", "disable_connection"},
	    {"RemoveConnection", "remove_connection"},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		const char *m = cases[i].method;

		call_true(f, m, "{\"connectionId\":1}");
		g_assert_cmpstr(f->phone.method, ==, cases[i].api);
		g_assert_cmpuint(f->phone.connection_id, ==, 1);
		call_true(f, m, "[4294967294]");
		g_assert_cmpuint(f->phone.connection_id, ==, 4294967294u);
		call_true(f, m, "{\"connectionId\":0}");
		g_assert_cmpuint(f->phone.connection_id, ==, 0);
		call_fails(f, m, "{\"connectionId\":99}", -32001, "NotFound", "99");

		INVALID(f, m, NULL, "connectionId");
		INVALID(f, m, "{}", "connectionId");
		INVALID(f, m, "[]", "connectionId");
		INVALID(f, m, "{\"connectionId\":-1}", "connectionId");
		INVALID(f, m, "{\"connectionId\":1.5}", "connectionId");
		INVALID(f, m, "{\"connectionId\":1.0}", "connectionId");
		INVALID(f, m, "{\"connectionId\":\"1\"}", "connectionId");
		INVALID(f, m, "{\"connectionId\":true}", "connectionId");
		INVALID(f, m, "{\"connectionId\":null}", "connectionId");
		INVALID(f, m, "{\"connectionId\":4294967295}", "connectionId");
		INVALID(f, m, "{\"connectionId\":18446744073709551615}", "connectionId");
		INVALID(f, m, "{\"connectionId\":1e400}", "connectionId");
		INVALID(f, m, "{\"connectionId\":1,\"force\":true}", "force");
		INVALID(f, m, "[1,2]", NULL);
	}
}

static void test_get_lists(Fixture *f, gconstpointer data)
{
	json_object *r = call_ok(f, "GetConnections", NULL);

	g_assert_true(json_object_is_type(r, json_type_array));
	json_object_put(r);
	/* A phone that has nothing to list gives an empty array, not null. */
	r = call_ok(f, "GetSessions", "[]");
	g_assert_true(json_object_is_type(r, json_type_array));
	g_assert_cmpuint(json_object_array_length(r), ==, 0);
	json_object_put(r);
	INVALID(f, "GetSessions", "{\"sessionId\":\"1\"}", "sessionId");
	INVALID(f, "GetConnections", "[0]", NULL);
}

static void test_add_connection(Fixture *f, gconstpointer data)
{
	json_object *r =
	    call_ok(f, "AddConnection", "{\"user\":\"5001\",\"server\":\"127.0.0.1:5070\"}");
	SpConnectionConfig *c = f->phone.config;

	json_object_put(r);
	g_assert_nonnull(c);
	g_assert_cmpuint(c->id, ==, SP_CONNECTION_ID_ANY);
	g_assert_cmpstr(c->user, ==, "5001");
	g_assert_cmpstr(c->server, ==, "127.0.0.1:5070");
	g_assert_cmpint(c->protocol, ==, SP_TRANSPORT_UDP);
	g_assert_true(c->enabled);
	g_assert_cmpuint(c->reregister_in_seconds, ==, 3600);

	json_object_put(call_ok(f, "AddConnection",
				"{\"connectionId\":3,\"user\":\"5001\",\"server\":\"siteB\","
				"\"protocol\":\"tcp\",\"domain\":\"example.net\","
				"\"authUser\":\"agent1\",\"password\":\"s3cret\","
				"\"displayName\":\"Agent One\",\"reregisterInSeconds\":120,"
				"\"enabled\":false,\"localAddress\":\"127.0.0.1\"}"));
	c = f->phone.config;
	g_assert_cmpuint(c->id, ==, 3);
	g_assert_cmpstr(c->server, ==, "siteB");
	g_assert_cmpint(c->protocol, ==, SP_TRANSPORT_TCP);
	g_assert_cmpstr(c->domain, ==, "example.net");
	g_assert_cmpstr(c->auth_user, ==, "agent1");
	g_assert_cmpstr(c->password, ==, "s3cret");
	g_assert_cmpstr(c->display_name, ==, "Agent One");
	g_assert_cmpuint(c->reregister_in_seconds, ==, 120);
	g_assert_false(c->enabled);
	g_assert_cmpstr(c->local_address, ==, "127.0.0.1");

	/* The phone's template ([policy] defaults) is where a new connection starts from. */
	f->api.connection_defaults = fake_connection_defaults;
	json_object_put(call_ok(f, "AddConnection", "{\"user\":\"5001\",\"server\":\"siteB\"}"));
	g_assert_cmpuint(f->phone.config->reregister_in_seconds, ==, 77);
	json_object_put(
	    call_ok(f, "AddConnection",
		    "{\"user\":\"5001\",\"server\":\"siteB\",\"reregisterInSeconds\":60}"));
	g_assert_cmpuint(f->phone.config->reregister_in_seconds, ==, 60);
	g_assert_cmpuint(fake_connection_defaults(NULL)->reregister_in_seconds, ==, 77);

	/* Positional: connectionId, user, server, protocol. A number is as good as a string. */
	json_object_put(call_ok(f, "AddConnection", "[7, 5002, \"siteC\", \"udp\"]"));
	c = f->phone.config;
	g_assert_cmpuint(c->id, ==, 7);
	g_assert_cmpstr(c->user, ==, "5002");

	call_fails(f, "AddConnection", "{\"connectionId\":5,\"user\":\"5001\",\"server\":\"x\"}",
		   -32004, "Exists", NULL);
}

static void test_add_connection_invalid(Fixture *f, gconstpointer data)
{
	g_autofree char *long_server = g_strnfill(SP_RPC_MAX_STRING + 1, 'a');
	g_autofree char *p = NULL;

	INVALID(f, "AddConnection", NULL, "user");
	INVALID(f, "AddConnection", "{\"server\":\"x\"}", "user");
	INVALID(f, "AddConnection", "{\"user\":\"5001\"}", "server");
	INVALID(f, "AddConnection", "{\"user\":\"5001\",\"server\":\"x\",\"proxy\":\"y\"}",
		"proxy");
	INVALID(f, "AddConnection", "{\"user\":\"5001\",\"server\":\"x\",\"protocol\":\"sctp\"}",
		"protocol");
	INVALID(f, "AddConnection", "{\"user\":\"5001\",\"server\":\"x\",\"protocol\":1}",
		"protocol");
	INVALID(f, "AddConnection", "{\"user\":\"5001\",\"server\":\"x\",\"enabled\":\"maybe\"}",
		"enabled");
	INVALID(f, "AddConnection",
		"{\"user\":\"5001\",\"server\":\"x\",\"reregisterInSeconds\":\"soon\"}",
		"reregisterInSeconds");
	INVALID(f, "AddConnection", "{\"user\":\"\",\"server\":\"x\"}", "user");
	INVALID(f, "AddConnection", "{\"user\":[],\"server\":\"x\"}", "user");
	INVALID(f, "AddConnection", "{\"user\":\"5001\",\"server\":\"x\\r\\nVia: evil\"}",
		"server");
	INVALID(f, "AddConnection", "{\"user\":\"5001\",\"server\":\"x\",\"connectionId\":-1}",
		"connectionId");
	p = g_strdup_printf("{\"user\":\"5001\",\"server\":\"%s\"}", long_server);
	INVALID(f, "AddConnection", p, "server");
	g_assert_null(f->phone.method);
}

/* ---- sessions ---------------------------------------------------------------------------- */

static void test_dial(Fixture *f, gconstpointer data)
{
	g_autofree char *longest = g_strnfill(SP_RPC_MAX_DESTINATION, '5');
	g_autofree char *too_long = g_strnfill(SP_RPC_MAX_DESTINATION + 1, '5');
	g_autofree char *params = NULL;
	json_object *r = call_ok(f, "Dial", "{\"connectionId\":0,\"destination\":\"5002\"}");
	json_object *v;

	g_assert_true(json_object_object_get_ex(r, "sessionId", &v));
	g_assert_cmpstr(json_object_get_string(v), ==, "7");
	json_object_put(r);
	g_assert_cmpstr(f->phone.method, ==, "dial");
	g_assert_cmpuint(f->phone.connection_id, ==, 0);
	g_assert_cmpstr(f->phone.text, ==, "5002");

	json_object_put(call_ok(f, "Dial", "[1, \"sip:5002@siteB\"]"));
	g_assert_cmpuint(f->phone.connection_id, ==, 1);
	g_assert_cmpstr(f->phone.text, ==, "sip:5002@siteB");

	params = g_strdup_printf("[1, \"%s\"]", longest);
	json_object_put(call_ok(f, "Dial", params));
	g_free(params);
	params = g_strdup_printf("[1, \"%s\"]", too_long);
	INVALID(f, "Dial", params, "destination");

	call_fails(f, "Dial", "[99, \"5002\"]", -32001, "NotFound", NULL);
	INVALID(f, "Dial", "[\"5002\"]", "connectionId");
	INVALID(f, "Dial", "[0]", "destination");
	INVALID(f, "Dial", "[0, 5002]", "destination");
	INVALID(f, "Dial", "[0, \"\"]", "destination");
	INVALID(f, "Dial", "[0, \"5002\", 1]", NULL);
	INVALID(f, "Dial", "{\"connectionId\":0,\"destination\":\"50\\n02\"}", "destination");
	INVALID(f, "Dial", "{\"connectionId\":0,\"destination\":\"50\\u000002\"}", "destination");
	INVALID(f, "Dial", "{\"connectionId\":0,\"destination\":\"5002\",\"video\":true}", "video");
}

static void test_session_methods(Fixture *f, gconstpointer data)
{
	static const struct {
		const char *method;
		const char *api;
	} cases[] = {
	    {"Answer", "answer"},
	    {"Hangup", "hangup"},
	    {"Hold", "hold"},
	    {"Retrieve", "retrieve"},
	};
	g_autofree char *long_id = g_strnfill(SP_RPC_MAX_SESSION_ID + 1, '1');
	g_autofree char *params = g_strdup_printf("{\"sessionId\":\"%s\"}", long_id);

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		const char *m = cases[i].method;

		call_true(f, m, "{\"sessionId\":\"7\"}");
		g_assert_cmpstr(f->phone.method, ==, cases[i].api);
		g_assert_cmpstr(f->phone.session_id, ==, "7");
		/* An integer session id is accepted and passed on as a string. */
		call_true(f, m, "{\"sessionId\":12}");
		g_assert_cmpstr(f->phone.session_id, ==, "12");
		call_true(f, m, "[\"abc\"]");
		g_assert_cmpstr(f->phone.session_id, ==, "abc");
		call_fails(f, m, "{\"sessionId\":\"404\"}", -32001, "NotFound", NULL);
		call_fails(f, m, "[409]", -32002, "WrongState", NULL);

		INVALID(f, m, NULL, "sessionId");
		INVALID(f, m, "{\"sessionId\":-1}", "sessionId");
		INVALID(f, m, "{\"sessionId\":1.5}", "sessionId");
		INVALID(f, m, "{\"sessionId\":\"\"}", "sessionId");
		INVALID(f, m, "{\"sessionId\":[\"7\"]}", "sessionId");
		INVALID(f, m, "{\"sessionId\":{}}", "sessionId");
		INVALID(f, m, "{\"sessionId\":true}", "sessionId");
		INVALID(f, m, params, "sessionId");
		INVALID(f, m, "{\"sessionId\":\"7\",\"connectionId\":0}", "connectionId");
		INVALID(f, m, "{\"SessionId\":\"7\"}", "SessionId");
	}
}

static void test_send_dtmf(Fixture *f, gconstpointer data)
{
	g_autofree char *max = g_strnfill(SP_RPC_MAX_DIGITS, '1');
	g_autofree char *too_many = g_strnfill(SP_RPC_MAX_DIGITS + 1, '1');
	g_autofree char *params = NULL;

	call_true(f, "SendDtmf", "{\"sessionId\":\"7\",\"digits\":\"0123456789*#ABCD\"}");
	g_assert_cmpstr(f->phone.method, ==, "send_dtmf");
	g_assert_cmpstr(f->phone.session_id, ==, "7");
	g_assert_cmpstr(f->phone.text, ==, "0123456789*#ABCD");
	call_true(f, "SendDtmf", "[7, \"5\"]");
	g_assert_cmpstr(f->phone.session_id, ==, "7");

	params = g_strdup_printf("[7, \"%s\"]", max);
	call_true(f, "SendDtmf", params);
	g_free(params);
	params = g_strdup_printf("[7, \"%s\"]", too_many);
	INVALID(f, "SendDtmf", params, "digits");

	INVALID(f, "SendDtmf", "[7, \"\"]", "digits");
	INVALID(f, "SendDtmf", "[7, \"12E\"]", "digits");
	INVALID(f, "SendDtmf", "[7, \"12a\"]", "digits");
	INVALID(f, "SendDtmf", "[7, \"1 2\"]", "digits");
	INVALID(f, "SendDtmf", "[7, 12]", "digits");
	INVALID(f, "SendDtmf", "[7]", "digits");
	call_fails(f, "SendDtmf", "[404, \"1\"]", -32001, "NotFound", NULL);
}

static void test_transfer(Fixture *f, gconstpointer data)
{
	call_true(f, "Transfer", "{\"sessionId\":\"7\",\"destination\":\"5003\"}");
	g_assert_cmpstr(f->phone.method, ==, "transfer");
	g_assert_cmpstr(f->phone.text, ==, "5003");
	INVALID(f, "Transfer", "{\"sessionId\":\"7\"}", "destination");
	INVALID(f, "Transfer", "{\"destination\":\"5003\"}", "sessionId");
	call_true(f, "Transfer", "{\"sessionId\":\"7\",\"toSessionId\":\"8\"}");
	g_assert_cmpstr(f->phone.method, ==, "transfer-attended");
	g_assert_cmpstr(f->phone.text, ==, "8");
	INVALID(f, "Transfer",
		"{\"sessionId\":\"7\",\"destination\":\"5003\",\"toSessionId\":\"8\"}",
		"toSessionId");
}

static void test_audio(Fixture *f, gconstpointer data)
{
	call_true(f, "Mute", "{\"muted\":true}");
	g_assert_true(f->phone.flag);
	call_true(f, "Mute", "[false]");
	g_assert_false(f->phone.flag);
	INVALID(f, "Mute", "{\"muted\":1}", "muted");
	INVALID(f, "Mute", NULL, "muted");

	json_object_put(call_ok(f, "SetAudioDevices", "{\"playback\":\"null\"}"));
	g_assert_null(f->phone.text);
	g_assert_cmpstr(f->phone.text2, ==, "null");
	INVALID(f, "SetAudioDevices", "{\"speaker\":\"x\"}", "speaker");

	call_fails(f, "GetAudioDevices", NULL, -32005, "Unsupported", NULL);
	call_fails(f, "GetAudioStatistics", "[\"7\"]", -32005, "Unsupported", NULL);
	INVALID(f, "GetAudioStatistics", NULL, "sessionId");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)
	ADD("/protocol/methods/table-sorted", test_table_sorted);
	ADD("/protocol/methods/not-found", test_method_not_found);
	ADD("/protocol/methods/get-status", test_get_status);
	ADD("/protocol/methods/without-api", test_get_status_without_api);
	ADD("/protocol/methods/subscribe", test_subscribe);
	ADD("/protocol/methods/subscribe-invalid", test_subscribe_invalid);
	ADD("/protocol/methods/connection", test_connection_methods);
	ADD("/protocol/methods/get-lists", test_get_lists);
	ADD("/protocol/methods/add-connection", test_add_connection);
	ADD("/protocol/methods/add-connection-invalid", test_add_connection_invalid);
	ADD("/protocol/methods/dial", test_dial);
	ADD("/protocol/methods/session", test_session_methods);
	ADD("/protocol/methods/send-dtmf", test_send_dtmf);
	ADD("/protocol/methods/transfer", test_transfer);
	ADD("/protocol/methods/audio", test_audio);
#undef ADD

	return g_test_run();
}
