/* JSON-RPC 2.0 codec: one line in, a message model out; replies and errors; line dispatch. */
#include <string.h>

#include "protocol/errors.h"
#include "protocol/rpc.h"

/* clang-format off */
G_DEFINE_QUARK(sp-rpc-error-quark, sp_rpc_error)
/* clang-format on */

struct _SpRpcDispatcher {
	SpRpcCallFunc call;
	gpointer user_data;
};

/*
 * json-c accepts more than RFC 8259 (single quotes, NaN, "1."), so the line's syntax is checked
 * here first; json-c then only builds the tree of text already known to be JSON.
 */
typedef enum {
	EXPECT_VALUE,
	EXPECT_VALUE_OR_CLOSE, /* just after '[' */
	EXPECT_KEY_OR_CLOSE,   /* just after '{' */
	EXPECT_KEY,
	EXPECT_COLON,
	EXPECT_NEXT, /* after a value: ',' or a closing bracket, or the end at depth 0 */
} SyntaxState;

static inline gboolean is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static gboolean scan_string(const char *s, gsize len, gsize *i)
{
	gsize p = *i + 1;

	while (p < len) {
		guchar c = (guchar)s[p];

		if (c == '"') {
			*i = p + 1;
			return TRUE;
		}
		if (c < 0x20)
			return FALSE;
		if (c == '\\') {
			if (++p >= len)
				return FALSE;
			switch (s[p]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				break;
			case 'u':
				for (int k = 0; k < 4; k++)
					if (++p >= len || !g_ascii_isxdigit(s[p]))
						return FALSE;
				break;
			default:
				return FALSE;
			}
		}
		p++;
	}
	return FALSE;
}

static gboolean scan_digits(const char *s, gsize len, gsize *p)
{
	gsize start = *p;

	while (*p < len && g_ascii_isdigit(s[*p]))
		(*p)++;
	return *p > start;
}

static gboolean scan_number(const char *s, gsize len, gsize *i)
{
	gsize p = *i;

	if (s[p] == '-')
		p++;
	if (p < len && s[p] == '0')
		p++;
	else if (!scan_digits(s, len, &p))
		return FALSE;
	if (p < len && s[p] == '.') {
		p++;
		if (!scan_digits(s, len, &p))
			return FALSE;
	}
	if (p < len && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < len && (s[p] == '+' || s[p] == '-'))
			p++;
		if (!scan_digits(s, len, &p))
			return FALSE;
	}
	*i = p;
	return TRUE;
}

static gboolean scan_literal(const char *s, gsize len, gsize *i)
{
	static const char *const literals[] = {"true", "false", "null"};

	for (gsize k = 0; k < G_N_ELEMENTS(literals); k++) {
		gsize n = strlen(literals[k]);

		if (len - *i >= n && memcmp(s + *i, literals[k], n) == 0) {
			*i += n;
			return TRUE;
		}
	}
	return FALSE;
}

/* Checks that s is exactly one JSON text (RFC 8259) with whitespace around it. */
static gboolean check_syntax(const char *s, gsize len, const char **why)
{
	char stack[SP_RPC_MAX_DEPTH];
	guint depth = 0;
	SyntaxState state = EXPECT_VALUE;
	gsize i = 0;

	for (;;) {
		char c;

		while (i < len && is_ws(s[i]))
			i++;
		if (i == len) {
			if (state == EXPECT_NEXT && depth == 0)
				return TRUE;
			*why = "unexpected end of data";
			return FALSE;
		}
		if (state == EXPECT_NEXT && depth == 0) {
			*why = "trailing characters after the JSON text";
			return FALSE;
		}
		c = s[i];

		switch (state) {
		case EXPECT_VALUE_OR_CLOSE:
			if (c == ']') {
				depth--;
				state = EXPECT_NEXT;
				i++;
				continue;
			}
			/* fall through */
		case EXPECT_VALUE:
			if (c == '{' || c == '[') {
				if (depth == SP_RPC_MAX_DEPTH) {
					*why = "nesting too deep";
					return FALSE;
				}
				stack[depth++] = c;
				state = c == '{' ? EXPECT_KEY_OR_CLOSE : EXPECT_VALUE_OR_CLOSE;
				i++;
				continue;
			}
			state = EXPECT_NEXT;
			if (c == '"') {
				if (!scan_string(s, len, &i)) {
					*why = "bad string";
					return FALSE;
				}
			} else if (c == '-' || g_ascii_isdigit(c)) {
				if (!scan_number(s, len, &i)) {
					*why = "bad number";
					return FALSE;
				}
			} else if (!scan_literal(s, len, &i)) {
				*why = "unexpected character";
				return FALSE;
			}
			continue;
		case EXPECT_KEY_OR_CLOSE:
			if (c == '}') {
				depth--;
				state = EXPECT_NEXT;
				i++;
				continue;
			}
			/* fall through */
		case EXPECT_KEY:
			if (c != '"') {
				*why = "expected a string as member name";
				return FALSE;
			}
			if (!scan_string(s, len, &i)) {
				*why = "bad string";
				return FALSE;
			}
			state = EXPECT_COLON;
			continue;
		case EXPECT_COLON:
			if (c != ':') {
				*why = "expected ':'";
				return FALSE;
			}
			state = EXPECT_VALUE;
			i++;
			continue;
		case EXPECT_NEXT:
			if (c == ',') {
				state = stack[depth - 1] == '{' ? EXPECT_KEY : EXPECT_VALUE;
			} else if ((c == ']' && stack[depth - 1] == '[') ||
				   (c == '}' && stack[depth - 1] == '{')) {
				depth--;
			} else {
				*why = "unexpected character";
				return FALSE;
			}
			i++;
			continue;
		}
	}
}

static void request_free(gpointer data)
{
	SpRpcRequest *r = data;

	g_free(r->error_message);
	g_free(r);
}

static SpRpcRequest *request_invalid(SpRpcRequest *r, const char *why)
{
	r->type = SP_RPC_INVALID;
	r->method = NULL;
	r->params = NULL;
	r->error_code = SP_RPC_INVALID_REQUEST;
	r->error_message = g_strdup_printf("Invalid Request: %s", why);
	return r;
}

static SpRpcRequest *request_parse(json_object *o)
{
	SpRpcRequest *r = g_new0(SpRpcRequest, 1);
	json_object *v = NULL;
	gboolean has_id_member;

	if (!json_object_is_type(o, json_type_object))
		return request_invalid(r, "not an object");

	has_id_member = json_object_object_get_ex(o, "id", &v);
	if (has_id_member) {
		switch (json_object_get_type(v)) {
		case json_type_null:
			r->has_id = TRUE;
			break;
		case json_type_string:
		case json_type_int:
		case json_type_double:
			r->has_id = TRUE;
			r->id = v;
			break;
		case json_type_boolean:
		case json_type_object:
		case json_type_array:
			return request_invalid(r, "id must be a string, a number or null");
		}
	}

	if (!json_object_object_get_ex(o, "jsonrpc", &v) ||
	    !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) != 3 ||
	    strcmp(json_object_get_string(v), "2.0") != 0)
		return request_invalid(r, "\"jsonrpc\" must be \"2.0\"");

	if (!json_object_object_get_ex(o, "method", &v) ||
	    !json_object_is_type(v, json_type_string))
		return request_invalid(r, "\"method\" must be a string");
	if (strlen(json_object_get_string(v)) != (gsize)json_object_get_string_len(v))
		return request_invalid(r, "\"method\" holds a NUL character");
	r->method = json_object_get_string(v);

	if (json_object_object_get_ex(o, "params", &v)) {
		if (!json_object_is_type(v, json_type_object) &&
		    !json_object_is_type(v, json_type_array))
			return request_invalid(r, "\"params\" must be an object or an array");
		r->params = v;
	}

	r->type = has_id_member ? SP_RPC_REQUEST : SP_RPC_NOTIFICATION;
	return r;
}

static void message_fail(SpRpcMessage *m, int code, const char *fmt, const char *detail)
{
	m->error_code = code;
	m->error_message = g_strdup_printf(fmt, detail);
}

SpRpcMessage *sp_rpc_message_parse(const char *line, gsize len)
{
	SpRpcMessage *m = g_new0(SpRpcMessage, 1);
	const char *why = NULL;
	gsize i = 0;

	m->requests = g_ptr_array_new_with_free_func(request_free);

	while (i < len && is_ws(line[i]))
		i++;
	if (i == len)
		return m;

	if (len >= G_MAXINT) {
		message_fail(m, SP_RPC_PARSE_ERROR, "Parse error: %s", "line too long");
		return m;
	}
	/* Also rejects NUL bytes. */
	if (!g_utf8_validate_len(line, len, NULL)) {
		message_fail(m, SP_RPC_PARSE_ERROR, "Parse error: %s", "invalid UTF-8");
		return m;
	}
	if (!check_syntax(line, len, &why)) {
		message_fail(m, SP_RPC_PARSE_ERROR, "Parse error: %s", why);
		return m;
	}

	{
		/* json-c needs the terminating NUL to know a top-level number has ended. */
		g_autofree char *copy = g_strndup(line, len);
		json_tokener *tok = json_tokener_new_ex(SP_RPC_MAX_DEPTH + 1);

		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
		m->root = json_tokener_parse_ex(tok, copy, (int)len + 1);
		if (json_tokener_get_error(tok) != json_tokener_success) {
			message_fail(m, SP_RPC_PARSE_ERROR, "Parse error: %s",
				     json_tokener_error_desc(json_tokener_get_error(tok)));
			g_clear_pointer(&m->root, json_object_put);
			json_tokener_free(tok);
			return m;
		}
		json_tokener_free(tok);
	}

	if (json_object_is_type(m->root, json_type_array)) {
		gsize n = json_object_array_length(m->root);

		m->batch = TRUE;
		if (n == 0) {
			message_fail(m, SP_RPC_INVALID_REQUEST, "Invalid Request: %s",
				     "empty batch");
			return m;
		}
		if (n > SP_RPC_MAX_BATCH) {
			g_autofree char *max =
			    g_strdup_printf("batch of more than %d entries", SP_RPC_MAX_BATCH);

			message_fail(m, SP_RPC_INVALID_REQUEST, "Invalid Request: %s", max);
			return m;
		}
		for (gsize k = 0; k < n; k++)
			g_ptr_array_add(m->requests,
					request_parse(json_object_array_get_idx(m->root, k)));
	} else {
		g_ptr_array_add(m->requests, request_parse(m->root));
	}
	return m;
}

void sp_rpc_message_free(SpRpcMessage *m)
{
	if (m == NULL)
		return;
	g_clear_pointer(&m->requests, g_ptr_array_unref);
	g_free(m->error_message);
	json_object_put(m->root);
	g_free(m);
}

static json_object *reply_new(json_object *id)
{
	json_object *reply = json_object_new_object();
	json_object *copy = NULL;

	if (id != NULL && json_object_deep_copy(id, &copy, NULL) != 0)
		copy = NULL;
	json_object_object_add(reply, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(reply, "id", copy);
	return reply;
}

json_object *sp_rpc_build_result(json_object *id, json_object *result)
{
	json_object *reply = reply_new(id);

	json_object_object_add(reply, "result", result);
	return reply;
}

json_object *sp_rpc_build_error(json_object *id, int code, const char *message, json_object *data)
{
	json_object *reply = reply_new(id);
	json_object *err = json_object_new_object();

	json_object_object_add(err, "code", json_object_new_int(code));
	json_object_object_add(err, "message", json_object_new_string(message ? message : ""));
	if (data != NULL)
		json_object_object_add(err, "data", data);
	json_object_object_add(reply, "error", err);
	return reply;
}

json_object *sp_rpc_build_error_from_gerror(json_object *id, const GError *error)
{
	const char *kind = sp_error_to_rpc_kind(error);
	json_object *data = NULL;

	if (kind != NULL) {
		data = json_object_new_object();
		json_object_object_add(data, "kind", json_object_new_string(kind));
	}
	return sp_rpc_build_error(id, sp_error_to_rpc_code(error),
				  error ? error->message : "Internal error", data);
}

json_object *sp_rpc_build_notification(const char *method, json_object *params)
{
	json_object *n = json_object_new_object();

	json_object_object_add(n, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(n, "method", json_object_new_string(method));
	if (params != NULL)
		json_object_object_add(n, "params", params);
	return n;
}

char *sp_rpc_to_line(json_object *msg, gsize *len_out)
{
	size_t n = 0;
	const char *s = json_object_to_json_string_length(
	    msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	char *line = g_malloc(n + 2);

	memcpy(line, s, n);
	line[n] = '\n';
	line[n + 1] = '\0';
	if (len_out != NULL)
		*len_out = n + 1;
	return line;
}

SpRpcDispatcher *sp_rpc_dispatcher_new(SpRpcCallFunc call, gpointer user_data)
{
	SpRpcDispatcher *d = g_new0(SpRpcDispatcher, 1);

	d->call = call;
	d->user_data = user_data;
	return d;
}

void sp_rpc_dispatcher_free(SpRpcDispatcher *d)
{
	g_free(d);
}

/* Runs one entry; returns its reply, or NULL when none is due. */
static json_object *handle_request(SpRpcDispatcher *d, gpointer caller, const SpRpcRequest *r)
{
	g_autoptr(GError) error = NULL;
	json_object *result = NULL;

	if (r->type == SP_RPC_INVALID)
		return sp_rpc_build_error(r->id, r->error_code, r->error_message, NULL);

	if (!d->call(r->method, r->params, caller, d->user_data, &result, &error)) {
		if (error == NULL)
			g_set_error(&error, SP_RPC_ERROR, SP_RPC_INTERNAL_ERROR,
				    "%s failed without saying why", r->method);
		if (r->type == SP_RPC_NOTIFICATION) {
			g_debug("notification %s failed: %s", r->method, error->message);
			return NULL;
		}
		return sp_rpc_build_error_from_gerror(r->id, error);
	}
	if (r->type == SP_RPC_NOTIFICATION) {
		json_object_put(result);
		return NULL;
	}
	return sp_rpc_build_result(r->id, result);
}

char *sp_rpc_handle_line(SpRpcDispatcher *d, gpointer caller, const char *line, gsize len,
			 gsize *reply_len)
{
	g_autoptr(SpRpcMessage) m = sp_rpc_message_parse(line, len);
	json_object *reply = NULL;
	char *out;

	if (m->error_code != 0) {
		reply = sp_rpc_build_error(NULL, m->error_code, m->error_message, NULL);
	} else if (!m->batch) {
		if (m->requests->len == 1)
			reply = handle_request(d, caller, g_ptr_array_index(m->requests, 0));
	} else {
		reply = json_object_new_array();
		for (guint i = 0; i < m->requests->len; i++) {
			json_object *one =
			    handle_request(d, caller, g_ptr_array_index(m->requests, i));

			if (one != NULL)
				json_object_array_add(reply, one);
		}
		if (json_object_array_length(reply) == 0)
			g_clear_pointer(&reply, json_object_put);
	}

	if (reply == NULL) {
		if (reply_len != NULL)
			*reply_len = 0;
		return NULL;
	}
	out = sp_rpc_to_line(reply, reply_len);
	json_object_put(reply);
	return out;
}
