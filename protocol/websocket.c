/*
 * The WebSocket transport of the control protocol, on libsoup's HTTP server: the upgrade and
 * its checks (Host, Origin, token, client limit), one JSON-RPC text per message through the
 * server's dispatcher, events, per-client output limit; and the agent page's static files.
 */
#include <string.h>

#include <gmodule.h>
#include <libsoup/soup.h>

#include "protocol/counting-stream.h"
#include "protocol/errors.h"
#include "protocol/methods.h"
#include "protocol/rpc.h"
#include "protocol/websocket.h"
#include "web/sp-web-resources.h"

#define RPC_PATH "/rpc"
/*
 * Most bytes read between two complete messages: a message of SP_RPC_MAX_LINE in fragments of
 * 16 bytes or more, with their headers, or pings. libsoup holds the fragments until the last.
 */
#define READ_LIMIT (4 * SP_RPC_MAX_LINE)

typedef struct _SpWsClient SpWsClient;

struct _SpRpcWebsocket {
	SpRpcServer *server;
	SoupServer *soup;
	char *address;	/* as configured, e.g. "127.0.0.1:8088" */
	char **hosts;	/* Host header values accepted */
	char **origins; /* Origin values accepted: the page's own, then the configured ones */
	char *token;
	GQueue clients; /* SpWsClient*, open ones and those closing */
	guint next_id;
};

struct _SpWsClient {
	SpRpcWebsocket *ws;
	GList link;
	guint id;
	SoupWebsocketConnection *conn;
	SpCountingStream *stream;
	guint64 handed; /* bytes of frames given to libsoup */
	gboolean authenticated;
	gboolean closing; /* counts no more, gets nothing more; freed once libsoup says closed */
	guint auth_timeout_id;
	SpRpcSubscription sub;
};

/* ---- clients ------------------------------------------------------------------------------- */

/* A client libsoup has begun to close (an error, a close frame) is done with too. */
static gboolean client_is_open(SpWsClient *c)
{
	return !c->closing &&
	       soup_websocket_connection_get_state(c->conn) == SOUP_WEBSOCKET_STATE_OPEN;
}

static void client_free(SpWsClient *c)
{
	g_signal_handlers_disconnect_by_data(c->conn, c);
	if (c->auth_timeout_id != 0)
		g_source_remove(c->auth_timeout_id);
	g_object_unref(c->conn);
	g_object_unref(c->stream);
	sp_rpc_subscription_clear(&c->sub);
	g_free(c);
}

/* Stops serving c and has libsoup close it; c is freed when libsoup reports it closed. */
static void client_close(SpWsClient *c, gushort code, const char *why)
{
	if (c->closing)
		return;
	c->closing = TRUE;
	g_debug("websocket client %u closing (%u): %s", c->id, code, why);
	if (c->auth_timeout_id != 0) {
		g_source_remove(c->auth_timeout_id);
		c->auth_timeout_id = 0;
	}
	sp_rpc_subscription_clear(&c->sub);
	if (soup_websocket_connection_get_state(c->conn) == SOUP_WEBSOCKET_STATE_OPEN)
		soup_websocket_connection_close(c->conn, code, why);
}

/* The size on the wire of a server frame (unmasked) with len bytes of payload. */
static guint64 frame_size(gsize len)
{
	return len + (len < 126 ? 2 : len <= 0xffff ? 4 : 10);
}

/* Sends one text (data: a JSON text, no newline), unless too much waits for c already. */
static void client_send(SpWsClient *c, GBytes *text)
{
	gsize len = g_bytes_get_size(text);
	guint64 written = sp_counting_stream_get_written(c->stream);
	/* libsoup's own frames (pongs, close) are written but not handed: never below 0. */
	guint64 unsent = c->handed > written ? c->handed - written : 0;

	if (!client_is_open(c))
		return;
	if (unsent + frame_size(len) > SP_RPC_MAX_UNSENT) {
		g_message("websocket client %u: more than %d bytes of output not taken; closing it",
			  c->id, SP_RPC_MAX_UNSENT);
		client_close(c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "output limit");
		return;
	}
	c->handed += frame_size(len);
	soup_websocket_connection_send_message(c->conn, SOUP_WEBSOCKET_DATA_TEXT, text);
}

static void client_send_json(SpWsClient *c, json_object *msg)
{
	gsize len = 0;
	char *line = sp_rpc_to_line(msg, &len);
	g_autoptr(GBytes) text = NULL;

	json_object_put(msg);
	/* Without its newline: one message is one JSON text. */
	text = g_bytes_new_take(line, len > 0 ? len - 1 : 0);
	client_send(c, text);
}

static void client_refuse(SpWsClient *c, json_object *id, const char *message)
{
	g_autoptr(GError) error = g_error_new_literal(SP_ERROR, SP_ERROR_UNAUTHORIZED, message);

	g_message("websocket client %u refused: %s", c->id, message);
	client_send_json(c, sp_rpc_build_error_from_gerror(id, error));
	client_close(c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "unauthorized");
}

/*
 * Authenticate {token}: the way a browser, which cannot set headers on a WebSocket, presents
 * the token. Handled here, not in the method table: it is a property of this transport.
 */
static void client_authenticate(SpWsClient *c, SpRpcRequest *req)
{
	json_object *token = NULL;

	if (req->params == NULL || !json_object_is_type(req->params, json_type_object) ||
	    !json_object_object_get_ex(req->params, "token", &token) ||
	    !json_object_is_type(token, json_type_string)) {
		client_refuse(c, req->id, "Authenticate needs params {\"token\": string}");
		return;
	}
	if (!sp_rpc_websocket_token_equal(c->ws->token, json_object_get_string(token))) {
		client_refuse(c, req->id, "wrong token");
		return;
	}
	if (!c->authenticated)
		g_debug("websocket client %u authenticated", c->id);
	c->authenticated = TRUE;
	if (c->auth_timeout_id != 0) {
		g_source_remove(c->auth_timeout_id);
		c->auth_timeout_id = 0;
	}
	if (req->type == SP_RPC_REQUEST)
		client_send_json(c, sp_rpc_build_result(req->id, json_object_new_boolean(TRUE)));
}

/* TRUE when data was an Authenticate request, or c is not authenticated yet (then it had to
 * be one). */
static gboolean client_take_auth(SpWsClient *c, const char *data, gsize len)
{
	g_autoptr(SpRpcMessage) msg = NULL;
	SpRpcRequest *req;

	if (c->authenticated && g_strstr_len(data, (gssize)len, "Authenticate") == NULL)
		return FALSE;
	msg = sp_rpc_message_parse(data, len);
	req = !msg->batch && msg->error_code == 0 && msg->requests->len == 1
		  ? g_ptr_array_index(msg->requests, 0)
		  : NULL;
	if (req != NULL && req->type != SP_RPC_INVALID &&
	    strcmp(req->method, "Authenticate") == 0) {
		client_authenticate(c, req);
		return TRUE;
	}
	if (c->authenticated)
		return FALSE;
	client_refuse(c, req != NULL ? req->id : NULL,
		      "the first message must be Authenticate {\"token\": ...}");
	return TRUE;
}

static void on_message(SoupWebsocketConnection *conn, gint type, GBytes *message,
		       gpointer user_data)
{
	SpWsClient *c = user_data;
	gsize len = 0;
	const char *data = g_bytes_get_data(message, &len);
	gsize reply_len = 0;
	char *reply;

	sp_counting_stream_reset_read(c->stream);
	if (c->closing)
		return;
	if (len > SP_RPC_MAX_LINE) {
		/* libsoup bounds each frame, not a message made of fragments. */
		g_message("websocket client %u: message longer than %d bytes; closing it", c->id,
			  SP_RPC_MAX_LINE);
		client_send_json(c, sp_rpc_build_error(NULL, SP_RPC_INVALID_REQUEST,
						       "Invalid Request: message longer than "
						       "65536 bytes",
						       NULL));
		client_close(c, SOUP_WEBSOCKET_CLOSE_TOO_BIG, "message too big");
		return;
	}
	if (type != SOUP_WEBSOCKET_DATA_TEXT) {
		client_close(c, SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA,
			     "one JSON-RPC text per text message");
		return;
	}
	if (client_take_auth(c, data, len))
		return;
	reply = sp_rpc_handle_line(sp_rpc_server_get_dispatcher(c->ws->server), &c->sub, data, len,
				   &reply_len);
	if (reply != NULL) {
		g_autoptr(GBytes) text = g_bytes_new_take(reply, reply_len > 0 ? reply_len - 1 : 0);

		client_send(c, text);
	}
}

static void on_error(SoupWebsocketConnection *conn, GError *error, gpointer user_data)
{
	SpWsClient *c = user_data;

	g_message("websocket client %u: %s", c->id, error->message);
}

static void on_closed(SoupWebsocketConnection *conn, gpointer user_data)
{
	SpWsClient *c = user_data;

	g_debug("websocket client %u closed (code %u)", c->id,
		soup_websocket_connection_get_close_code(conn));
	g_queue_unlink(&c->ws->clients, &c->link);
	client_free(c);
}

static gboolean on_auth_timeout(gpointer user_data)
{
	SpWsClient *c = user_data;

	c->auth_timeout_id = 0;
	g_message("websocket client %u: no Authenticate within %d ms; closing it", c->id,
		  SP_RPC_WS_AUTH_TIMEOUT_MS);
	client_close(c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "no token in time");
	return G_SOURCE_REMOVE;
}

static guint count_open(SpRpcWebsocket *ws)
{
	guint n = 0;

	for (GList *l = ws->clients.head; l != NULL; l = l->next)
		n += client_is_open(l->data);
	return n;
}

/* After the 101 went out: the HTTP connection becomes a WebSocket client. */
static void on_upgraded(SoupServerMessage *msg, gpointer user_data)
{
	SpRpcWebsocket *ws = user_data;
	const char *origin =
	    soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Origin");
	gboolean authenticated = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(msg), "sp-authed"));
	g_autoptr(GIOStream) base = NULL;
	g_autoptr(GIOStream) counting = NULL;
	SpWsClient *c;

	/* A 100 Continue is informational too; only the 101 hands the connection over. */
	if (soup_server_message_get_status(msg) != SOUP_STATUS_SWITCHING_PROTOCOLS)
		return;
	c = g_new0(SpWsClient, 1);
	g_object_ref(msg);
	base = soup_server_message_steal_connection(msg);
	counting = sp_counting_stream_new(base, READ_LIMIT);
	c->ws = ws;
	c->id = ++ws->next_id;
	c->link.data = c;
	c->stream = SP_COUNTING_STREAM(g_object_ref(counting));
	c->conn =
	    soup_websocket_connection_new(counting, soup_server_message_get_uri(msg),
					  SOUP_WEBSOCKET_CONNECTION_SERVER, origin, NULL, NULL);
	c->authenticated = authenticated;
	g_object_unref(msg);
	soup_websocket_connection_set_max_incoming_payload_size(c->conn, SP_RPC_MAX_LINE);
	g_signal_connect(c->conn, "message", G_CALLBACK(on_message), c);
	g_signal_connect(c->conn, "error", G_CALLBACK(on_error), c);
	g_signal_connect(c->conn, "closed", G_CALLBACK(on_closed), c);
	/* Two upgrades may have passed the check at once: the later one is turned away now. */
	if (count_open(ws) >= SP_RPC_MAX_CLIENTS) {
		g_queue_push_tail_link(&ws->clients, &c->link);
		client_close(c, 1013 /* Try Again Later */, "too many clients");
		return;
	}
	g_queue_push_tail_link(&ws->clients, &c->link);
	if (!authenticated)
		c->auth_timeout_id = g_timeout_add(SP_RPC_WS_AUTH_TIMEOUT_MS, on_auth_timeout, c);
	g_debug("websocket client %u connected%s", c->id,
		authenticated ? " with the token" : "; waiting for Authenticate");
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

static void respond(SoupServerMessage *msg, guint status, const char *text)
{
	g_autofree char *body = g_strconcat(text, "\n", NULL);

	soup_server_message_set_status(msg, status, NULL);
	soup_server_message_set_response(msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, body,
					 strlen(body));
}

static gboolean host_allowed(SpRpcWebsocket *ws, SoupServerMessage *msg)
{
	const char *host =
	    soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Host");

	/* Another name pointing at 127.0.0.1 (DNS rebinding) is not us. */
	return host != NULL && g_strv_contains((const char *const *)ws->hosts, host);
}

/*
 * Before libsoup reads a body: nothing here takes one, and libsoup would read any announced
 * body into memory before a handler could answer, so a request with one is cut off at once.
 */
static void on_headers(SoupServer *soup, SoupServerMessage *msg, const char *path,
		       GHashTable *query, gpointer user_data)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	SoupEncoding encoding = soup_message_headers_get_encoding(headers);
	g_autoptr(GIOStream) stream = NULL;

	if (encoding == SOUP_ENCODING_NONE ||
	    (encoding == SOUP_ENCODING_CONTENT_LENGTH &&
	     soup_message_headers_get_content_length(headers) == 0))
		return;
	g_message("HTTP request with a body on the WebSocket port; closing its connection");
	stream = soup_server_message_steal_connection(msg);
	if (stream != NULL)
		g_io_stream_close(stream, NULL, NULL);
}

static void on_rpc(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
		   gpointer user_data)
{
	SpRpcWebsocket *ws = user_data;
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	const char *origin = soup_message_headers_get_one(headers, "Origin");
	const char *auth = soup_message_headers_get_one(headers, "Authorization");
	const char *bearer = NULL;
	g_autoptr(GError) error = NULL;

	if (strcmp(path, RPC_PATH) != 0) {
		respond(msg, SOUP_STATUS_NOT_FOUND, "Not Found");
		return;
	}
	if (!host_allowed(ws, msg)) {
		g_message("websocket upgrade refused: unknown Host");
		respond(msg, SOUP_STATUS_FORBIDDEN, "Forbidden: unknown Host");
		return;
	}
	if (!soup_websocket_server_check_handshake(msg, NULL, NULL, NULL, &error)) {
		respond(msg, SOUP_STATUS_BAD_REQUEST, "Bad Request: a WebSocket upgrade is needed");
		return;
	}
	if (auth != NULL && g_ascii_strncasecmp(auth, "Bearer ", 7) == 0)
		bearer = auth + 7;
	if (origin != NULL && !g_strv_contains((const char *const *)ws->origins, origin)) {
		g_autofree char *q = g_strescape(origin, NULL);

		g_message("websocket upgrade refused: origin \"%.200s\" is not allowed", q);
		respond(msg, SOUP_STATUS_FORBIDDEN, "Forbidden: origin not allowed");
		return;
	}
	if (origin == NULL && bearer == NULL) {
		g_message("websocket upgrade refused: no Origin and no token");
		respond(
		    msg, SOUP_STATUS_UNAUTHORIZED,
		    "Unauthorized: a client without Origin must send Authorization: Bearer TOKEN");
		return;
	}
	if (bearer != NULL && !sp_rpc_websocket_token_equal(ws->token, bearer)) {
		g_message("websocket upgrade refused: wrong token");
		respond(msg, SOUP_STATUS_UNAUTHORIZED, "Unauthorized: wrong token");
		return;
	}
	if (count_open(ws) >= SP_RPC_MAX_CLIENTS) {
		g_message("websocket upgrade refused: already %d clients", SP_RPC_MAX_CLIENTS);
		respond(msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
			"Service Unavailable: too many clients");
		return;
	}
	if (!soup_websocket_server_process_handshake(msg, NULL, NULL, NULL, NULL))
		return;
	g_object_set_data(G_OBJECT(msg), "sp-authed", GINT_TO_POINTER(bearer != NULL));
	g_signal_connect(msg, "wrote-informational", G_CALLBACK(on_upgraded), ws);
}

static const struct {
	const char *path;
	const char *resource;
	const char *type;
} page_files[] = {
    {"/", "/org/softphoned/web/index.html", "text/html; charset=utf-8"},
    {"/app.js", "/org/softphoned/web/app.js", "text/javascript; charset=utf-8"},
    {"/style.css", "/org/softphoned/web/style.css", "text/css; charset=utf-8"},
};

static void on_page(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
		    gpointer user_data)
{
	SpRpcWebsocket *ws = user_data;
	const char *method = soup_server_message_get_method(msg);
	SoupMessageHeaders *out = soup_server_message_get_response_headers(msg);
	g_autoptr(GBytes) data = NULL;
	g_autofree char *csp = NULL;
	gsize i;

	if (!host_allowed(ws, msg)) {
		respond(msg, SOUP_STATUS_FORBIDDEN, "Forbidden: unknown Host");
		return;
	}
	if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
		respond(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Method Not Allowed");
		return;
	}
	for (i = 0; i < G_N_ELEMENTS(page_files) && strcmp(path, page_files[i].path) != 0; i++)
		;
	if (i == G_N_ELEMENTS(page_files)) {
		respond(msg, SOUP_STATUS_NOT_FOUND, "Not Found");
		return;
	}
	data = g_resource_lookup_data(sp_web_get_resource(), page_files[i].resource,
				      G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
	g_assert(data != NULL);
	/* Nothing but our own files, and no framing by another page (clickjacking). */
	csp = g_strdup_printf(
	    "default-src 'none'; script-src 'self'; style-src 'self'; "
	    "img-src 'self' data:; connect-src ws://%s; frame-ancestors 'none'; "
	    "base-uri 'none'; form-action 'none'",
	    soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Host"));
	soup_message_headers_replace(out, "Content-Security-Policy", csp);
	soup_message_headers_replace(out, "X-Frame-Options", "DENY");
	soup_message_headers_replace(out, "X-Content-Type-Options", "nosniff");
	soup_message_headers_replace(out, "Referrer-Policy", "no-referrer");
	soup_message_headers_replace(out, "Cache-Control", "no-store");
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(msg, page_files[i].type, SOUP_MEMORY_COPY,
					 g_bytes_get_data(data, NULL), g_bytes_get_size(data));
}

/* ---- transport ------------------------------------------------------------------------------ */

static gboolean ws_wants(gpointer transport, const char *event)
{
	SpRpcWebsocket *ws = transport;

	for (GList *l = ws->clients.head; l != NULL; l = l->next) {
		SpWsClient *c = l->data;

		if (client_is_open(c) && sp_rpc_subscription_admits(&c->sub, event))
			return TRUE;
	}
	return FALSE;
}

static void ws_send_event(gpointer transport, const char *event, GBytes *line)
{
	SpRpcWebsocket *ws = transport;
	gsize len = g_bytes_get_size(line);
	g_autoptr(GBytes) text = g_bytes_new_from_bytes(line, 0, len > 0 ? len - 1 : 0);

	for (GList *l = ws->clients.head, *next; l != NULL; l = next) {
		SpWsClient *c = l->data;

		/* Should libsoup report c closed at once when client_send() closes it. */
		next = l->next;
		if (client_is_open(c) && sp_rpc_subscription_admits(&c->sub, event))
			client_send(c, text);
	}
}

static guint ws_count_clients(gpointer transport)
{
	return count_open(transport);
}

static guint ws_count_subscribers(gpointer transport)
{
	SpRpcWebsocket *ws = transport;
	guint n = 0;

	for (GList *l = ws->clients.head; l != NULL; l = l->next) {
		SpWsClient *c = l->data;

		n += client_is_open(c) && c->sub.subscribed;
	}
	return n;
}

static const SpRpcTransport ws_transport = {
    .wants = ws_wants,
    .send_event = ws_send_event,
    .count_clients = ws_count_clients,
    .count_subscribers = ws_count_subscribers,
};

static void set_names(SpRpcWebsocket *ws, const char *const *origins)
{
	g_autoptr(GStrvBuilder) hosts = g_strv_builder_new();
	g_autoptr(GStrvBuilder) all = g_strv_builder_new();
	const char *colon = strrchr(ws->address, ':');
	gboolean is_default =
	    g_str_has_prefix(ws->address, "127.0.0.1:") || g_str_has_prefix(ws->address, "[::1]:");

	g_strv_builder_add(hosts, ws->address);
	if (is_default) {
		g_autofree char *local = g_strconcat("localhost", colon, NULL);

		g_strv_builder_add(hosts, local);
	}
	ws->hosts = g_strv_builder_end(hosts);
	for (guint i = 0; ws->hosts[i] != NULL; i++) {
		g_autofree char *own = g_strconcat("http://", ws->hosts[i], NULL);

		g_strv_builder_add(all, own);
	}
	if (origins != NULL)
		g_strv_builder_addv(all, (const char **)origins);
	ws->origins = g_strv_builder_end(all);
}

SpRpcWebsocket *sp_rpc_websocket_new(SpRpcServer *server, const char *address,
				     const char *const *origins, const char *token, GError **error)
{
	g_autoptr(SpRpcWebsocket) ws = g_new0(SpRpcWebsocket, 1);
	g_autoptr(GSocketConnectable) where = NULL;
	g_autoptr(GSocketAddressEnumerator) e = NULL;
	g_autoptr(GSocketAddress) sa = NULL;

	ws->address = g_strdup(address);
	ws->token = g_strdup(token);
	set_names(ws, origins);
	where = g_network_address_parse(address, 0, error);
	if (where == NULL)
		return NULL;
	/* An IP literal: no lookup happens. */
	e = g_socket_connectable_enumerate(where);
	sa = g_socket_address_enumerator_next(e, NULL, error);
	if (sa == NULL)
		return NULL;
	ws->soup = soup_server_new("server-header", NULL, NULL);
	soup_server_add_early_handler(ws->soup, "/", on_headers, ws, NULL);
	soup_server_add_early_handler(ws->soup, RPC_PATH, on_headers, ws, NULL);
	soup_server_add_handler(ws->soup, "/", on_page, ws, NULL);
	soup_server_add_handler(ws->soup, RPC_PATH, on_rpc, ws, NULL);
	if (!soup_server_listen(ws->soup, sa, 0, error)) {
		g_prefix_error(error, "cannot listen on %s: ", address);
		return NULL;
	}
	ws->server = server;
	sp_rpc_server_set_transport(server, &ws_transport, ws);
	return g_steal_pointer(&ws);
}

void sp_rpc_websocket_free(SpRpcWebsocket *ws)
{
	if (ws == NULL)
		return;
	if (ws->server != NULL)
		sp_rpc_server_set_transport(ws->server, NULL, NULL);
	while (!g_queue_is_empty(&ws->clients)) {
		SpWsClient *c = g_queue_peek_head(&ws->clients);

		g_queue_unlink(&ws->clients, &c->link);

		g_signal_handlers_disconnect_by_data(c->conn, c);
		if (soup_websocket_connection_get_state(c->conn) == SOUP_WEBSOCKET_STATE_OPEN)
			soup_websocket_connection_close(c->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
							"daemon stopping");
		client_free(c);
	}
	if (ws->soup != NULL) {
		soup_server_disconnect(ws->soup);
		g_object_unref(ws->soup);
	}
	g_strfreev(ws->hosts);
	g_strfreev(ws->origins);
	if (ws->token != NULL)
		explicit_bzero(ws->token, strlen(ws->token));
	g_free(ws->token);
	g_free(ws->address);
	g_free(ws);
}

char *sp_rpc_websocket_page_url(SpRpcWebsocket *ws)
{
	return g_strdup_printf("http://%s/", ws->address);
}

/* What the daemon looks up when it loads this module (websocket.h). */
G_MODULE_EXPORT const SpRpcWebsocketModule sp_rpc_websocket_module = {
    .create = sp_rpc_websocket_new,
    .free = sp_rpc_websocket_free,
    .page_url = sp_rpc_websocket_page_url,
};
