/* Unit tests of the JSON-RPC 2.0 codec: parsing lines, building replies, dispatching calls. */
#include <string.h>

#include "protocol/errors.h"
#include "protocol/rpc.h"
#include "test-rpc-fixture.h"

typedef struct {
	SpTestBase base;
	SpRpcDispatcher *dispatcher;
	GPtrArray *calls; /* char*: "method" of every call the dispatcher made, in order */
} Fixture;

/* A small method set, the one of the examples in the JSON-RPC 2.0 specification. */
static gboolean fake_call(const char *method, json_object *params, gpointer caller,
			  gpointer user_data, json_object **result, GError **error)
{
	Fixture *f = user_data;

	g_ptr_array_add(f->calls, g_strdup(method));
	g_assert_true(caller == f);

	if (strcmp(method, "subtract") == 0) {
		json_object *a = NULL, *b = NULL;

		if (json_object_is_type(params, json_type_array) &&
		    json_object_array_length(params) == 2) {
			a = json_object_array_get_idx(params, 0);
			b = json_object_array_get_idx(params, 1);
		} else if (json_object_is_type(params, json_type_object)) {
			json_object_object_get_ex(params, "minuend", &a);
			json_object_object_get_ex(params, "subtrahend", &b);
		}
		if (!json_object_is_type(a, json_type_int) ||
		    !json_object_is_type(b, json_type_int)) {
			g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS, "Invalid params");
			return FALSE;
		}
		*result =
		    json_object_new_int64(json_object_get_int64(a) - json_object_get_int64(b));
		return TRUE;
	}
	if (strcmp(method, "sum") == 0) {
		int64_t sum = 0;

		for (gsize i = 0; i < json_object_array_length(params); i++)
			sum += json_object_get_int64(json_object_array_get_idx(params, i));
		*result = json_object_new_int64(sum);
		return TRUE;
	}
	if (strcmp(method, "get_data") == 0) {
		*result = json_object_new_array();
		json_object_array_add(*result, json_object_new_string("hello"));
		json_object_array_add(*result, json_object_new_int(5));
		return TRUE;
	}
	if (strcmp(method, "update") == 0 || strcmp(method, "notify_hello") == 0 ||
	    strcmp(method, "notify_sum") == 0) {
		*result = json_object_new_boolean(TRUE);
		return TRUE;
	}
	if (strcmp(method, "null") == 0) {
		*result = NULL;
		return TRUE;
	}
	if (strcmp(method, "missing") == 0) {
		g_set_error(error, SP_ERROR, SP_ERROR_NOT_FOUND, "no such session 7");
		return FALSE;
	}
	if (strcmp(method, "silent-failure") == 0)
		return FALSE;
	g_set_error(error, SP_RPC_ERROR, SP_RPC_METHOD_NOT_FOUND, "Method not found: %s", method);
	return FALSE;
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
	sp_test_base_setup(&f->base);
	f->dispatcher = sp_rpc_dispatcher_new(fake_call, f);
	f->calls = g_ptr_array_new_with_free_func(g_free);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
	sp_rpc_dispatcher_free(f->dispatcher);
	g_ptr_array_unref(f->calls);
	sp_test_base_teardown(&f->base);
}

/* Sends line, returns the reply line (without its "\n"), or NULL for no reply. */
static char *handle(Fixture *f, const char *line)
{
	gsize len = 0;
	char *reply = sp_rpc_handle_line(f->dispatcher, f, line, strlen(line), &len);

	if (reply == NULL) {
		g_assert_cmpuint(len, ==, 0);
		return NULL;
	}
	g_assert_cmpuint(len, ==, strlen(reply));
	g_assert_cmpuint(len, >, 1);
	g_assert_cmpint(reply[len - 1], ==, '\n');
	g_assert_null(memchr(reply, '\n', len - 1));
	reply[len - 1] = '\0';
	return reply;
}

static json_object *parse_json(const char *text)
{
	json_object *o = json_tokener_parse(text);

	if (o == NULL && strcmp(text, "null") != 0)
		g_error("test bug: bad JSON: %s", text);
	return o;
}

/*
 * Compares one reply with the expected one: "jsonrpc" and "id" exactly, "result" exactly,
 * "error" by code (and data.kind when expected has one) since messages are free text.
 */
static void check_one(json_object *got, json_object *want, const char *context)
{
	json_object *v, *w;

	if (!json_object_object_get_ex(got, "jsonrpc", &v) ||
	    strcmp(json_object_get_string(v), "2.0") != 0)
		g_error("%s: no jsonrpc 2.0 in %s", context, json_object_to_json_string(got));
	if (!json_object_object_get_ex(got, "id", &v))
		g_error("%s: no id in %s", context, json_object_to_json_string(got));
	json_object_object_get_ex(want, "id", &w);
	if (!json_object_equal(v, w))
		g_error("%s: id %s, wanted %s", context, json_object_to_json_string(v),
			json_object_to_json_string(w));

	if (json_object_object_get_ex(want, "result", &w)) {
		if (!json_object_object_get_ex(got, "result", &v) || !json_object_equal(v, w))
			g_error("%s: got %s, wanted result %s", context,
				json_object_to_json_string(got), json_object_to_json_string(w));
		g_assert_false(json_object_object_get_ex(got, "error", NULL));
	} else {
		json_object *ge, *we, *gc, *wc, *gm, *gd, *wd;

		g_assert_true(json_object_object_get_ex(want, "error", &we));
		if (!json_object_object_get_ex(got, "error", &ge))
			g_error("%s: got %s, wanted an error", context,
				json_object_to_json_string(got));
		g_assert_false(json_object_object_get_ex(got, "result", NULL));
		json_object_object_get_ex(ge, "code", &gc);
		json_object_object_get_ex(we, "code", &wc);
		if (json_object_get_int(gc) != json_object_get_int(wc))
			g_error("%s: code %d, wanted %d (%s)", context, json_object_get_int(gc),
				json_object_get_int(wc), json_object_to_json_string(got));
		g_assert_true(json_object_object_get_ex(ge, "message", &gm));
		g_assert_true(json_object_is_type(gm, json_type_string));
		g_assert_cmpint(json_object_get_string_len(gm), >, 0);
		if (json_object_object_get_ex(we, "data", &wd)) {
			g_assert_true(json_object_object_get_ex(ge, "data", &gd));
			g_assert_true(json_object_equal(gd, wd));
		}
	}
}

/* handle() line and compare with want (NULL: no reply; an array: a batch reply, in order). */
static void check(Fixture *f, const char *line, const char *want)
{
	g_autofree char *reply = handle(f, line);
	json_object *got, *w;

	if (want == NULL) {
		if (reply != NULL)
			g_error("%s: wanted no reply, got %s", line, reply);
		return;
	}
	if (reply == NULL)
		g_error("%s: wanted %s, got no reply", line, want);
	got = parse_json(reply);
	w = parse_json(want);
	if (json_object_is_type(w, json_type_array)) {
		if (!json_object_is_type(got, json_type_array) ||
		    json_object_array_length(got) != json_object_array_length(w))
			g_error("%s: got %s, wanted %s", line, reply, want);
		for (gsize i = 0; i < json_object_array_length(w); i++)
			check_one(json_object_array_get_idx(got, i),
				  json_object_array_get_idx(w, i), line);
	} else {
		g_assert_true(json_object_is_type(got, json_type_object));
		check_one(got, w, line);
	}
	json_object_put(got);
	json_object_put(w);
}

#define PARSE_ERROR "{\"id\":null,\"error\":{\"code\":-32700}}"
#define INVALID_REQUEST "{\"id\":null,\"error\":{\"code\":-32600}}"

/* ---- parse ------------------------------------------------------------------------------- */

static void test_parse_request(Fixture *f, gconstpointer data)
{
	const char *line =
	    "{\"jsonrpc\":\"2.0\",\"method\":\"Dial\",\"params\":{\"a\":1},\"id\":7}";
	g_autoptr(SpRpcMessage) m = sp_rpc_message_parse(line, strlen(line));
	SpRpcRequest *r;

	g_assert_cmpint(m->error_code, ==, 0);
	g_assert_false(m->batch);
	g_assert_cmpuint(m->requests->len, ==, 1);
	r = g_ptr_array_index(m->requests, 0);
	g_assert_cmpint(r->type, ==, SP_RPC_REQUEST);
	g_assert_cmpstr(r->method, ==, "Dial");
	g_assert_true(json_object_is_type(r->params, json_type_object));
	g_assert_true(r->has_id);
	g_assert_cmpint(json_object_get_int(r->id), ==, 7);
}

static void test_parse_notification(Fixture *f, gconstpointer data)
{
	const char *line = "{\"jsonrpc\":\"2.0\",\"method\":\"Hangup\",\"params\":[\"7\"]}";
	g_autoptr(SpRpcMessage) m = sp_rpc_message_parse(line, strlen(line));
	SpRpcRequest *r = g_ptr_array_index(m->requests, 0);

	g_assert_cmpint(m->error_code, ==, 0);
	g_assert_cmpint(r->type, ==, SP_RPC_NOTIFICATION);
	g_assert_false(r->has_id);
	g_assert_null(r->id);
	g_assert_true(json_object_is_type(r->params, json_type_array));
}

static void test_parse_id_null(Fixture *f, gconstpointer data)
{
	const char *line = "{\"jsonrpc\":\"2.0\",\"method\":\"GetStatus\",\"id\":null}";
	g_autoptr(SpRpcMessage) m = sp_rpc_message_parse(line, strlen(line));
	SpRpcRequest *r = g_ptr_array_index(m->requests, 0);

	/* An explicit null id is a request (discouraged, but not a notification). */
	g_assert_cmpint(r->type, ==, SP_RPC_REQUEST);
	g_assert_true(r->has_id);
	g_assert_null(r->id);
	g_assert_null(r->params);
	check(f, line, "{\"id\":null,\"error\":{\"code\":-32601}}");
}

static void test_parse_bad_json(Fixture *f, gconstpointer data)
{
	static const char *const lines[] = {
	    "{",
	    "{\"jsonrpc\": \"2.0\", \"method\": \"foobar, \"params\": \"bar\", \"baz]",
	    "[{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], \"id\": \"1\"},"
	    "{\"jsonrpc\": \"2.0\", \"method\"]",
	    "nul",
	    "tru",
	    "{\"a\" 1}",
	    "{\"a\":1,}",
	    "[1,]",
	    "[,1]",
	    "{,}",
	    "{1:2}",
	    "]",
	    "}",
	    "{]",
	    "[}",
	    "\"unterminated",
	    "{\"a\":\"b\"\"c\":1}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":1",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(lines); i++)
		check(f, lines[i], PARSE_ERROR);
	g_assert_cmpuint(f->calls->len, ==, 0);
}

static void test_parse_trailing_garbage(Fixture *f, gconstpointer data)
{
	static const char *const lines[] = {
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1} x",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1}{}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1},",
	    "[{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1}]]",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1} // comment",
	    "1 2",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(lines); i++)
		check(f, lines[i], PARSE_ERROR);
	g_assert_cmpuint(f->calls->len, ==, 0);
}

/* json-c accepts these; JSON (RFC 8259) does not. */
static void test_parse_non_standard(Fixture *f, gconstpointer data)
{
	static const char *const lines[] = {
	    "{'jsonrpc':'2.0','method':'get_data','id':1}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":NaN}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":Infinity}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":-Infinity}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1.}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":.5}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":01}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":+1}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1e}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":0x10}",
	    "/* c */{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1}",
	    "{jsonrpc:\"2.0\",\"method\":\"get_data\",\"id\":1}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get\\xdata\",\"id\":1}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get\\u12\",\"id\":1}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get\tdata\",\"id\":1}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":True}",
	    "\v{}",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(lines); i++)
		check(f, lines[i], PARSE_ERROR);
	g_assert_cmpuint(f->calls->len, ==, 0);
}

static void test_parse_invalid_utf8(Fixture *f, gconstpointer data)
{
	static const char *const lines[] = {
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":\"\xff\"}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":\"\xc3\x28\"}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":\"\xed\xa0\x80\"}", /* surrogate */
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":\"\xc0\xaf\"}",     /* overlong */
	    "\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1}",    /* BOM */
	};

	for (gsize i = 0; i < G_N_ELEMENTS(lines); i++)
		check(f, lines[i], PARSE_ERROR);
	g_assert_cmpuint(f->calls->len, ==, 0);
}

static void test_parse_nul_byte(Fixture *f, gconstpointer data)
{
	static const char line[] = "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1}\0x";
	g_autoptr(SpRpcMessage) m = sp_rpc_message_parse(line, sizeof(line) - 1);

	g_assert_cmpint(m->error_code, ==, SP_RPC_PARSE_ERROR);
	g_assert_cmpuint(m->requests->len, ==, 0);
}

static void test_parse_utf8(Fixture *f, gconstpointer data)
{
	check(
	    f,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":\"Jürgen \xe2\x82\xac \\u00fc\"}",
	    "{\"id\":\"Jürgen \xe2\x82\xac \xc3\xbc\",\"result\":[\"hello\",5]}");
}

static void test_parse_blank(Fixture *f, gconstpointer data)
{
	check(f, "", NULL);
	check(f, "   ", NULL);
	check(f, "\r", NULL);
	check(f, " \t\r", NULL);
	g_assert_cmpuint(f->calls->len, ==, 0);
}

static void test_parse_whitespace(Fixture *f, gconstpointer data)
{
	check(f, "  \t{ \"jsonrpc\" : \"2.0\" ,\"method\":\"get_data\" , \"id\" : 1 }  \r",
	      "{\"id\":1,\"result\":[\"hello\",5]}");
}

static void test_parse_not_object(Fixture *f, gconstpointer data)
{
	static const char *const lines[] = {"1", "\"x\"", "null", "true", "false", "-0.5e3"};

	for (gsize i = 0; i < G_N_ELEMENTS(lines); i++)
		check(f, lines[i], INVALID_REQUEST);
	g_assert_cmpuint(f->calls->len, ==, 0);
}

static void test_parse_bad_jsonrpc(Fixture *f, gconstpointer data)
{
	check(f, "{\"method\":\"get_data\",\"id\":1}", "{\"id\":1,\"error\":{\"code\":-32600}}");
	check(f, "{\"jsonrpc\":\"1.0\",\"method\":\"get_data\",\"id\":1}",
	      "{\"id\":1,\"error\":{\"code\":-32600}}");
	check(f, "{\"jsonrpc\":2.0,\"method\":\"get_data\",\"id\":\"a\"}",
	      "{\"id\":\"a\",\"error\":{\"code\":-32600}}");
	check(f, "{\"jsonrpc\":\"2.0 \",\"method\":\"get_data\",\"id\":1}",
	      "{\"id\":1,\"error\":{\"code\":-32600}}");
	check(f, "{\"jsonrpc\":\"2.0\\u0000\",\"method\":\"get_data\",\"id\":1}",
	      "{\"id\":1,\"error\":{\"code\":-32600}}");
	/* Not a valid Request, so not a notification either: it gets its error. */
	check(f, "{\"jsonrpc\":\"1.0\",\"method\":\"get_data\"}", INVALID_REQUEST);
	g_assert_cmpuint(f->calls->len, ==, 0);
}

static void test_parse_bad_method(Fixture *f, gconstpointer data)
{
	check(f, "{\"jsonrpc\": \"2.0\", \"method\": 1, \"params\": \"bar\"}", INVALID_REQUEST);
	check(f, "{\"jsonrpc\":\"2.0\",\"method\":null,\"id\":3}",
	      "{\"id\":3,\"error\":{\"code\":-32600}}");
	check(f, "{\"jsonrpc\":\"2.0\",\"method\":[\"a\"],\"id\":3}",
	      "{\"id\":3,\"error\":{\"code\":-32600}}");
	check(f, "{\"jsonrpc\":\"2.0\",\"id\":3}", "{\"id\":3,\"error\":{\"code\":-32600}}");
	check(f, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\\u0000x\",\"id\":3}",
	      "{\"id\":3,\"error\":{\"code\":-32600}}");
	check(f, "{\"jsonrpc\":\"2.0\",\"method\":\"\",\"id\":3}",
	      "{\"id\":3,\"error\":{\"code\":-32601}}");
	g_assert_cmpuint(f->calls->len, ==, 1);
}

static void test_parse_bad_params(Fixture *f, gconstpointer data)
{
	static const char *const values[] = {"\"bar\"", "1", "true", "null", "1.5"};

	for (gsize i = 0; i < G_N_ELEMENTS(values); i++) {
		g_autofree char *line = g_strdup_printf(
		    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"params\":%s,\"id\":4}",
		    values[i]);

		check(f, line, "{\"id\":4,\"error\":{\"code\":-32600}}");
	}
	check(f, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"params\":[],\"id\":4}",
	      "{\"id\":4,\"result\":[\"hello\",5]}");
	check(f, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"params\":{},\"id\":4}",
	      "{\"id\":4,\"result\":[\"hello\",5]}");
}

static void test_parse_bad_id(Fixture *f, gconstpointer data)
{
	static const char *const ids[] = {"true", "false", "{}", "[]", "[1]", "{\"a\":1}"};

	for (gsize i = 0; i < G_N_ELEMENTS(ids); i++) {
		g_autofree char *line = g_strdup_printf(
		    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":%s}", ids[i]);

		check(f, line, INVALID_REQUEST);
	}
	g_assert_cmpuint(f->calls->len, ==, 0);
}

static void test_parse_ids(Fixture *f, gconstpointer data)
{
	static const char *const ids[] = {
	    "0",
	    "-1",
	    "\"\"",
	    "\"abc\"",
	    "1.5",
	    "-0.25e-3",
	    "9223372036854775807",
	    "18446744073709551615",
	    "1e400",
	    "\"a\\nb\"",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(ids); i++) {
		g_autofree char *line = g_strdup_printf(
		    "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":%s}", ids[i]);
		g_autofree char *reply = handle(f, line);
		g_autofree char *want = g_strdup_printf(
		    "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":[\"hello\",5]}", ids[i]);

		/* The id comes back as the client wrote it. */
		g_assert_cmpstr(reply, ==, want);
	}
}

static void test_parse_empty_batch(Fixture *f, gconstpointer data)
{
	g_autofree char *reply = NULL;

	check(f, "[]", INVALID_REQUEST);
	check(f, " [ ] ", INVALID_REQUEST);
	/* One error object, not an array. */
	reply = handle(f, "[]");
	g_assert_true(reply[0] == '{');
}

static void test_parse_batch(Fixture *f, gconstpointer data)
{
	const char *line = "[{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1},"
			   "{\"jsonrpc\":\"2.0\",\"method\":\"b\"},1,"
			   "{\"jsonrpc\":\"2.0\",\"method\":\"c\",\"id\":true}]";
	g_autoptr(SpRpcMessage) m = sp_rpc_message_parse(line, strlen(line));

	g_assert_cmpint(m->error_code, ==, 0);
	g_assert_true(m->batch);
	g_assert_cmpuint(m->requests->len, ==, 4);
	g_assert_cmpint(((SpRpcRequest *)m->requests->pdata[0])->type, ==, SP_RPC_REQUEST);
	g_assert_cmpint(((SpRpcRequest *)m->requests->pdata[1])->type, ==, SP_RPC_NOTIFICATION);
	g_assert_cmpint(((SpRpcRequest *)m->requests->pdata[2])->type, ==, SP_RPC_INVALID);
	g_assert_cmpint(((SpRpcRequest *)m->requests->pdata[3])->type, ==, SP_RPC_INVALID);
	g_assert_false(((SpRpcRequest *)m->requests->pdata[3])->has_id);
}

static void test_parse_batch_too_large(Fixture *f, gconstpointer data)
{
	GString *line = g_string_new("[");

	for (int i = 0; i <= SP_RPC_MAX_BATCH; i++)
		g_string_append(line, i ? ",1" : "1");
	g_string_append(line, "]");
	check(f, line->str, INVALID_REQUEST);
	g_string_free(line, TRUE);
}

static void test_parse_deep_nesting(Fixture *f, gconstpointer data)
{
	GString *ok = g_string_new("{\"jsonrpc\":\"2.0\",\"method\":\"update\",\"params\":");
	GString *deep = g_string_new(NULL);

	/* The request object is depth 1; fill up to SP_RPC_MAX_DEPTH. */
	for (int i = 1; i < SP_RPC_MAX_DEPTH; i++)
		g_string_append_c(ok, '[');
	for (int i = 1; i < SP_RPC_MAX_DEPTH; i++)
		g_string_append_c(ok, ']');
	g_string_append(ok, ",\"id\":1}");
	check(f, ok->str, "{\"id\":1,\"result\":true}");

	for (int i = 0; i < 100000; i++)
		g_string_append_c(deep, '[');
	check(f, deep->str, PARSE_ERROR);
	for (int i = 0; i < 100000; i++)
		g_string_append_c(deep, ']');
	check(f, deep->str, PARSE_ERROR);

	g_string_free(ok, TRUE);
	g_string_free(deep, TRUE);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

/* Section 7 of the JSON-RPC 2.0 specification, example by example. */
static void test_dispatch_spec_examples(Fixture *f, gconstpointer data)
{
	check(f,
	      "{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [42, 23], \"id\": 1}",
	      "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 1}");
	check(f,
	      "{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [23, 42], \"id\": 2}",
	      "{\"jsonrpc\": \"2.0\", \"result\": -19, \"id\": 2}");
	check(f,
	      "{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": {\"subtrahend\": 23, "
	      "\"minuend\": 42}, \"id\": 3}",
	      "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 3}");
	check(f, "{\"jsonrpc\": \"2.0\", \"method\": \"update\", \"params\": [1,2,3,4,5]}", NULL);
	check(f, "{\"jsonrpc\": \"2.0\", \"method\": \"foobar\"}", NULL);
	check(f, "{\"jsonrpc\": \"2.0\", \"method\": \"foobar\", \"id\": \"1\"}",
	      "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32601}, \"id\": \"1\"}");
	check(f, "{\"jsonrpc\": \"2.0\", \"method\": \"foobar, \"params\": \"bar\", \"baz]",
	      PARSE_ERROR);
	check(f, "{\"jsonrpc\": \"2.0\", \"method\": 1, \"params\": \"bar\"}", INVALID_REQUEST);
	check(f,
	      "[{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], \"id\": \"1\"},"
	      "{\"jsonrpc\": \"2.0\", \"method\"]",
	      PARSE_ERROR);
	check(f, "[]", INVALID_REQUEST);
	check(f, "[1]", "[" INVALID_REQUEST "]");
	check(f, "[1,2,3]", "[" INVALID_REQUEST "," INVALID_REQUEST "," INVALID_REQUEST "]");
	check(
	    f,
	    "[{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], \"id\": \"1\"},"
	    "{\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", \"params\": [7]},"
	    "{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [42,23], \"id\": \"2\"},"
	    "{\"foo\": \"boo\"},"
	    "{\"jsonrpc\": \"2.0\", \"method\": \"foo.get\", \"params\": {\"name\": \"myself\"}, "
	    "\"id\": \"5\"},"
	    "{\"jsonrpc\": \"2.0\", \"method\": \"get_data\", \"id\": \"9\"}]",
	    "[{\"jsonrpc\": \"2.0\", \"result\": 7, \"id\": \"1\"},"
	    "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": \"2\"},"
	    "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600}, \"id\": null},"
	    "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32601}, \"id\": \"5\"},"
	    "{\"jsonrpc\": \"2.0\", \"result\": [\"hello\", 5], \"id\": \"9\"}]");
	check(f,
	      "[{\"jsonrpc\": \"2.0\", \"method\": \"notify_sum\", \"params\": [1,2,4]},"
	      "{\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", \"params\": [7]}]",
	      NULL);
}

static void test_dispatch_notification_no_reply(Fixture *f, gconstpointer data)
{
	/* Not even on error, and the call is still made. */
	check(f, "{\"jsonrpc\":\"2.0\",\"method\":\"missing\"}", NULL);
	check(f, "{\"jsonrpc\":\"2.0\",\"method\":\"subtract\",\"params\":[\"x\"]}", NULL);
	check(f, "{\"jsonrpc\":\"2.0\",\"method\":\"nosuchmethod\"}", NULL);
	check(f, "{\"jsonrpc\":\"2.0\",\"method\":\"silent-failure\"}", NULL);
	check(f, "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\"}", NULL);
	g_assert_cmpuint(f->calls->len, ==, 5);
	g_assert_cmpstr(f->calls->pdata[0], ==, "missing");
	g_assert_cmpstr(f->calls->pdata[4], ==, "get_data");
}

static void test_dispatch_batch_of_notifications(Fixture *f, gconstpointer data)
{
	check(f,
	      "[{\"jsonrpc\":\"2.0\",\"method\":\"missing\"},"
	      "{\"jsonrpc\":\"2.0\",\"method\":\"update\"},"
	      "{\"jsonrpc\":\"2.0\",\"method\":\"nosuchmethod\",\"params\":{}}]",
	      NULL);
	g_assert_cmpuint(f->calls->len, ==, 3);
	/* An invalid entry in an otherwise silent batch still gets its error. */
	check(f, "[{\"jsonrpc\":\"2.0\",\"method\":\"update\"},{}]", "[" INVALID_REQUEST "]");
}

static void test_dispatch_batch_order(Fixture *f, gconstpointer data)
{
	GString *line = g_string_new("[");
	GString *want = g_string_new("[");

	for (int i = 0; i < 50; i++) {
		g_string_append_printf(line,
				       "%s{\"jsonrpc\":\"2.0\",\"method\":\"sum\",\"params\":[%d],"
				       "\"id\":%d}",
				       i ? "," : "", i, i);
		g_string_append_printf(want, "%s{\"id\":%d,\"result\":%d}", i ? "," : "", i, i);
	}
	g_string_append(line, "]");
	g_string_append(want, "]");
	check(f, line->str, want->str);
	g_string_free(line, TRUE);
	g_string_free(want, TRUE);
}

static void test_dispatch_error_kind(Fixture *f, gconstpointer data)
{
	check(f, "{\"jsonrpc\":\"2.0\",\"method\":\"missing\",\"id\":1}",
	      "{\"id\":1,\"error\":{\"code\":-32001,\"data\":{\"kind\":\"NotFound\"}}}");
	check(f, "{\"jsonrpc\":\"2.0\",\"method\":\"subtract\",\"params\":[1],\"id\":2}",
	      "{\"id\":2,\"error\":{\"code\":-32602}}");
	check(f, "{\"jsonrpc\":\"2.0\",\"method\":\"silent-failure\",\"id\":3}",
	      "{\"id\":3,\"error\":{\"code\":-32603}}");
}

static void test_dispatch_null_result(Fixture *f, gconstpointer data)
{
	g_autofree char *reply = handle(f, "{\"jsonrpc\":\"2.0\",\"method\":\"null\",\"id\":1}");

	g_assert_cmpstr(reply, ==, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}");
}

/* ---- build ------------------------------------------------------------------------------- */

static void test_build_error_from_gerror(Fixture *f, gconstpointer data)
{
	static const struct {
		GQuark domain;
		int code;
		int rpc;
		const char *kind;
	} cases[] = {
	    {0, SP_ERROR_FAILED, -32603, NULL},
	    {0, SP_ERROR_INVALID_ARGS, -32602, NULL},
	    {0, SP_ERROR_NOT_FOUND, -32001, "NotFound"},
	    {0, SP_ERROR_WRONG_STATE, -32002, "WrongState"},
	    {0, SP_ERROR_UNAVAILABLE, -32003, "Unavailable"},
	    {0, SP_ERROR_EXISTS, -32004, "Exists"},
	    {0, SP_ERROR_UNSUPPORTED, -32005, "Unsupported"},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) e = g_error_new(SP_ERROR, cases[i].code, "case %zu", i);
		json_object *id = json_object_new_string("x");
		json_object *reply = sp_rpc_build_error_from_gerror(id, e);
		json_object *err, *v;

		g_assert_true(json_object_object_get_ex(reply, "error", &err));
		g_assert_true(json_object_object_get_ex(err, "code", &v));
		g_assert_cmpint(json_object_get_int(v), ==, cases[i].rpc);
		g_assert_true(json_object_object_get_ex(err, "message", &v));
		g_assert_cmpstr(json_object_get_string(v), ==, e->message);
		if (cases[i].kind != NULL) {
			g_assert_true(json_object_object_get_ex(err, "data", &v));
			g_assert_true(json_object_object_get_ex(v, "kind", &v));
			g_assert_cmpstr(json_object_get_string(v), ==, cases[i].kind);
		} else {
			g_assert_false(json_object_object_get_ex(err, "data", NULL));
		}
		g_assert_true(json_object_object_get_ex(reply, "id", &v));
		g_assert_cmpstr(json_object_get_string(v), ==, "x");
		/* The reply holds its own copy of the id. */
		json_object_put(id);
		json_object_put(reply);
	}

	{
		g_autoptr(GError) e = g_error_new(G_FILE_ERROR, G_FILE_ERROR_FAILED, "io");
		g_autoptr(GError) rpc = g_error_new(SP_RPC_ERROR, SP_RPC_METHOD_NOT_FOUND, "nf");

		g_assert_cmpint(sp_error_to_rpc_code(e), ==, SP_RPC_INTERNAL_ERROR);
		g_assert_null(sp_error_to_rpc_kind(e));
		g_assert_cmpint(sp_error_to_rpc_code(rpc), ==, SP_RPC_METHOD_NOT_FOUND);
		g_assert_null(sp_error_to_rpc_kind(rpc));
	}
}

static void test_build_lines(Fixture *f, gconstpointer data)
{
	json_object *params = json_object_new_object();
	json_object *n;
	g_autofree char *line = NULL;
	gsize len = 0;

	json_object_object_add(params, "reason", json_object_new_string("a\nb/c\r\"d\"\x01"));
	n = sp_rpc_build_notification("ConnectionStatusChanged", params);
	line = sp_rpc_to_line(n, &len);
	json_object_put(n);
	g_assert_cmpstr(line, ==,
			"{\"jsonrpc\":\"2.0\",\"method\":\"ConnectionStatusChanged\","
			"\"params\":{\"reason\":\"a\\nb/c\\r\\\"d\\\"\\u0001\"}}\n");
	g_assert_cmpuint(len, ==, strlen(line));

	{
		json_object *r = sp_rpc_build_result(NULL, json_object_new_boolean(TRUE));
		g_autofree char *l2 = sp_rpc_to_line(r, NULL);

		json_object_put(r);
		g_assert_cmpstr(l2, ==, "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":true}\n");
	}
	{
		json_object *e = sp_rpc_build_error(NULL, SP_RPC_PARSE_ERROR, "Parse error", NULL);
		g_autofree char *l3 = sp_rpc_to_line(e, NULL);

		json_object_put(e);
		g_assert_cmpstr(l3, ==,
				"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
				"\"message\":\"Parse error\"}}\n");
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)
	ADD("/protocol/parse/request", test_parse_request);
	ADD("/protocol/parse/notification", test_parse_notification);
	ADD("/protocol/parse/id-null", test_parse_id_null);
	ADD("/protocol/parse/bad-json", test_parse_bad_json);
	ADD("/protocol/parse/trailing-garbage", test_parse_trailing_garbage);
	ADD("/protocol/parse/non-standard", test_parse_non_standard);
	ADD("/protocol/parse/invalid-utf8", test_parse_invalid_utf8);
	ADD("/protocol/parse/nul-byte", test_parse_nul_byte);
	ADD("/protocol/parse/utf8", test_parse_utf8);
	ADD("/protocol/parse/blank", test_parse_blank);
	ADD("/protocol/parse/whitespace", test_parse_whitespace);
	ADD("/protocol/parse/not-object", test_parse_not_object);
	ADD("/protocol/parse/bad-jsonrpc", test_parse_bad_jsonrpc);
	ADD("/protocol/parse/bad-method", test_parse_bad_method);
	ADD("/protocol/parse/bad-params", test_parse_bad_params);
	ADD("/protocol/parse/bad-id", test_parse_bad_id);
	ADD("/protocol/parse/ids", test_parse_ids);
	ADD("/protocol/parse/empty-batch", test_parse_empty_batch);
	ADD("/protocol/parse/batch", test_parse_batch);
	ADD("/protocol/parse/batch-too-large", test_parse_batch_too_large);
	ADD("/protocol/parse/deep-nesting", test_parse_deep_nesting);
	ADD("/protocol/dispatch/spec-examples", test_dispatch_spec_examples);
	ADD("/protocol/dispatch/notification-no-reply", test_dispatch_notification_no_reply);
	ADD("/protocol/dispatch/batch-of-notifications", test_dispatch_batch_of_notifications);
	ADD("/protocol/dispatch/batch-order", test_dispatch_batch_order);
	ADD("/protocol/dispatch/error-kind", test_dispatch_error_kind);
	ADD("/protocol/dispatch/null-result", test_dispatch_null_result);
	ADD("/protocol/build/error-from-gerror", test_build_error_from_gerror);
	ADD("/protocol/build/lines", test_build_lines);
#undef ADD

	return g_test_run();
}
