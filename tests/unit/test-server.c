/* Unit tests of the control-socket server: socket file, framing, limits, events. */
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

#include "protocol/errors.h"
#include "protocol/rpc.h"
#include "protocol/server.h"
#include "test-rpc-fixture.h"

typedef struct {
	SpTestBase base;
	char *dir;  /* a private temporary directory */
	char *path; /* dir/run/control: its directory does not exist yet */
	SpRpcServer *server;
	GPtrArray *clients;
} Fixture;

/* A test client: a non-blocking socket and what it has read but not yet returned. */
typedef struct {
	int fd;
	GString *in;
	gboolean eof;
} Client;

static void client_free(gpointer data)
{
	Client *c = data;

	if (c->fd >= 0)
		close(c->fd);
	g_string_free(c->in, TRUE);
	g_free(c);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	sp_test_base_setup(&f->base);
	f->dir = g_dir_make_tmp("sp-test-server-XXXXXX", &error);
	g_assert_no_error(error);
	f->path = g_build_filename(f->dir, "run", "control", NULL);
	f->clients = g_ptr_array_new_with_free_func(client_free);
}

static void fixture_listen(Fixture *f)
{
	g_autoptr(GError) error = NULL;

	f->server = sp_rpc_server_new(NULL, NULL);
	g_assert_true(sp_rpc_server_listen(f->server, f->path, &error));
	g_assert_no_error(error);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
	g_autofree char *run = g_build_filename(f->dir, "run", NULL);

	g_clear_pointer(&f->server, sp_rpc_server_free);
	g_ptr_array_unref(f->clients);
	g_unlink(f->path);
	g_rmdir(run);
	g_rmdir(f->dir);
	g_free(f->dir);
	g_free(f->path);
	sp_test_base_teardown(&f->base);
}

static void iterate(Fixture *f)
{
	g_main_context_iteration(f->base.context, TRUE);
}

/* Runs the loop until the server counts n clients (the watchdog bounds it). */
static void wait_client_count(Fixture *f, guint n)
{
	while (sp_rpc_server_client_count(f->server) != n)
		iterate(f);
}

static Client *client_connect_to(Fixture *f, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	Client *c = g_new0(Client, 1);

	c->in = g_string_new(NULL);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	g_assert_cmpint(c->fd, >=, 0);
	g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	/* A full backlog says EAGAIN until the server has accepted some. */
	while (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		g_assert_cmpint(errno, ==, EAGAIN);
		g_main_context_iteration(f->base.context, FALSE);
	}
	g_ptr_array_add(f->clients, c);
	return c;
}

static Client *client_connect(Fixture *f)
{
	return client_connect_to(f, f->path);
}

static void client_send(Fixture *f, Client *c, const char *data, gsize len)
{
	while (len > 0) {
		gssize n = send(c->fd, data, len, MSG_NOSIGNAL);

		if (n < 0) {
			g_assert_cmpint(errno, ==, EAGAIN);
			/* The server has input to take, so this does not block for ever. */
			iterate(f);
			continue;
		}
		data += n;
		len -= (gsize)n;
	}
}

static void client_send_str(Fixture *f, Client *c, const char *s)
{
	client_send(f, c, s, strlen(s));
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
	return G_SOURCE_REMOVE;
}

/* Reads what is there; TRUE if anything (data or EOF) came. */
static gboolean client_read_some(Client *c)
{
	char buf[65536];
	gssize n = recv(c->fd, buf, sizeof(buf), 0);

	if (n > 0) {
		g_string_append_len(c->in, buf, n);
		return TRUE;
	}
	if (n == 0 || errno == ECONNRESET) {
		c->eof = TRUE;
		return TRUE;
	}
	g_assert_cmpint(errno, ==, EAGAIN);
	return FALSE;
}

/* Runs the loop until c is readable. */
static void client_wait_readable(Fixture *f, Client *c)
{
	gboolean ready = FALSE;
	GSource *s = g_unix_fd_source_new(c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);

	g_source_set_callback(s, (GSourceFunc)(void (*)(void))on_readable, &ready, NULL);
	g_source_attach(s, f->base.context);
	while (!ready)
		iterate(f);
	g_source_destroy(s);
	g_source_unref(s);
}

/* The next line (without "\n"), or NULL at EOF. */
static char *client_recv_line(Fixture *f, Client *c)
{
	for (;;) {
		char *nl = memchr(c->in->str, '\n', c->in->len);

		if (nl != NULL) {
			char *line = g_strndup(c->in->str, (gsize)(nl - c->in->str));

			g_string_erase(c->in, 0, nl - c->in->str + 1);
			return line;
		}
		if (c->eof)
			return NULL;
		if (!client_read_some(c))
			client_wait_readable(f, c);
	}
}

static json_object *client_recv_json(Fixture *f, Client *c)
{
	g_autofree char *line = client_recv_line(f, c);
	json_object *o;

	if (line == NULL)
		g_error("EOF where a line was expected");
	o = json_tokener_parse(line);
	if (o == NULL)
		g_error("not JSON: %s", line);
	return o;
}

/* Reads until EOF, dropping lines; returns how many lines came first. */
static guint client_wait_eof(Fixture *f, Client *c)
{
	guint lines = 0;
	char *line;

	while ((line = client_recv_line(f, c)) != NULL) {
		lines++;
		g_free(line);
	}
	return lines;
}

static int error_code(json_object *reply)
{
	json_object *e, *v;

	if (!json_object_object_get_ex(reply, "error", &e) ||
	    !json_object_object_get_ex(e, "code", &v))
		return 0;
	return json_object_get_int(v);
}

static const char *error_kind(json_object *reply)
{
	json_object *e, *v;

	if (!json_object_object_get_ex(reply, "error", &e) ||
	    !json_object_object_get_ex(e, "data", &v) || !json_object_object_get_ex(v, "kind", &v))
		return NULL;
	return json_object_get_string(v);
}

static json_object *member(json_object *o, const char *a, const char *b)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, a, &v))
		return NULL;
	if (b != NULL && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return v;
}

/* A GetStatus round trip with id; returns the result's "clients". */
static gint64 client_get_status(Fixture *f, Client *c, int id)
{
	g_autofree char *req =
	    g_strdup_printf("{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"GetStatus\"}\n", id);
	json_object *reply;
	gint64 clients;

	client_send_str(f, c, req);
	reply = client_recv_json(f, c);
	g_assert_cmpint(json_object_get_int(member(reply, "id", NULL)), ==, id);
	g_assert_nonnull(member(reply, "result", "version"));
	clients = json_object_get_int64(member(reply, "result", "clients"));
	json_object_put(reply);
	return clients;
}

/* ---- the socket file --------------------------------------------------------------------- */

static void test_listen_modes(Fixture *f, gconstpointer data)
{
	g_autofree char *run = g_path_get_dirname(f->path);
	struct stat st;
	mode_t old = umask(0);

	/* Even a permissive umask gives 0700 and 0600. */
	fixture_listen(f);
	umask(old);
	g_assert_cmpstr(sp_rpc_server_get_path(f->server), ==, f->path);
	g_assert_cmpint(stat(run, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0700);
	g_assert_cmpint(lstat(f->path, &st), ==, 0);
	g_assert_true(S_ISSOCK(st.st_mode));
	g_assert_cmpint(st.st_mode & 07777, ==, 0600);

	g_clear_pointer(&f->server, sp_rpc_server_free);
	/* The server removes its socket file. */
	g_assert_cmpint(lstat(f->path, &st), !=, 0);
}

static void test_listen_existing_dir(Fixture *f, gconstpointer data)
{
	g_autofree char *run = g_path_get_dirname(f->path);
	struct stat st;

	/* A directory made by someone else (systemd's RuntimeDirectory=) is left as it is. */
	g_assert_cmpint(g_mkdir(run, 0750), ==, 0);
	g_assert_cmpint(chmod(run, 0750), ==, 0);
	fixture_listen(f);
	g_assert_cmpint(stat(run, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0750);
	g_assert_cmpint(lstat(f->path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0600);
}

static void test_listen_stale_socket(Fixture *f, gconstpointer data)
{
	g_autofree char *run = g_path_get_dirname(f->path);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	Client *c;

	/* A socket file left behind by a daemon that died. */
	g_assert_cmpint(g_mkdir(run, 0700), ==, 0);
	g_strlcpy(sa.sun_path, f->path, sizeof(sa.sun_path));
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	close(fd);
	g_test_expect_message("softphoned", G_LOG_LEVEL_INFO, "replaced the stale socket*");
	fixture_listen(f);
	g_test_assert_expected_messages();

	c = client_connect(f);
	client_get_status(f, c, 1);
}

static void test_listen_live_socket(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	SpRpcServer *second;
	Client *c;

	fixture_listen(f);
	second = sp_rpc_server_new(NULL, NULL);
	g_assert_false(sp_rpc_server_listen(second, f->path, &error));
	g_assert_error(error, SP_ERROR, SP_ERROR_EXISTS);
	g_assert_nonnull(strstr(error->message, f->path));
	sp_rpc_server_free(second);

	/* The first one still has its socket and serves. */
	c = client_connect(f);
	client_get_status(f, c, 1);
}

static void test_listen_not_socket(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *run = g_path_get_dirname(f->path);
	g_autofree char *text = NULL;

	g_assert_cmpint(g_mkdir(run, 0700), ==, 0);
	g_assert_true(g_file_set_contents(f->path, "keep me", -1, NULL));
	f->server = sp_rpc_server_new(NULL, NULL);
	g_assert_false(sp_rpc_server_listen(f->server, f->path, &error));
	g_assert_error(error, SP_ERROR, SP_ERROR_EXISTS);
	g_clear_pointer(&f->server, sp_rpc_server_free);
	g_assert_true(g_file_get_contents(f->path, &text, NULL, NULL));
	g_assert_cmpstr(text, ==, "keep me");
}

static void test_listen_path_too_long(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *name = g_strnfill(200, 'x');
	g_autofree char *path = g_build_filename(f->dir, name, NULL);

	f->server = sp_rpc_server_new(NULL, NULL);
	g_assert_false(sp_rpc_server_listen(f->server, path, &error));
	g_assert_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS);
}

static void test_default_path(Fixture *f, gconstpointer data)
{
	g_autofree char *saved = g_strdup(g_getenv("XDG_RUNTIME_DIR"));
	g_autofree char *user = NULL;
	g_autofree char *system = NULL;

	g_setenv("XDG_RUNTIME_DIR", "/run/user/1000", TRUE);
	user = sp_rpc_server_default_path();
	g_unsetenv("XDG_RUNTIME_DIR");
	system = sp_rpc_server_default_path();
	if (saved != NULL)
		g_setenv("XDG_RUNTIME_DIR", saved, TRUE);
	g_assert_cmpstr(user, ==, "/run/user/1000/softphoned/control");
	g_assert_cmpstr(system, ==, "/run/softphoned/control");
}

/* ---- lines ------------------------------------------------------------------------------- */

static void test_request(Fixture *f, gconstpointer data)
{
	Client *c;

	fixture_listen(f);
	c = client_connect(f);
	g_assert_cmpint(client_get_status(f, c, 1), ==, 1);
	client_connect(f);
	wait_client_count(f, 2);
	g_assert_cmpint(client_get_status(f, c, 2), ==, 2);
}

static void test_framing(Fixture *f, gconstpointer data)
{
	const char *req = "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"GetStatus\"}";
	g_autofree char *r1 = g_strdup_printf(req, 1);
	g_autofree char *r2 = g_strdup_printf(req, 2);
	g_autofree char *two = g_strdup_printf("%s\n%s\r\n\n  \n\r\n", r1, r2);
	Client *c;
	json_object *reply;

	fixture_listen(f);
	c = client_connect(f);

	/* Two lines in one write, CRLF, blank lines (no reply). */
	client_send_str(f, c, two);
	for (int id = 1; id <= 2; id++) {
		reply = client_recv_json(f, c);
		g_assert_cmpint(json_object_get_int(member(reply, "id", NULL)), ==, id);
		json_object_put(reply);
	}

	/* A line in three pieces with the loop running in between. */
	client_send(f, c, r1, 10);
	for (int i = 0; i < 5; i++)
		g_main_context_iteration(f->base.context, FALSE);
	client_send(f, c, r1 + 10, strlen(r1) - 10);
	for (int i = 0; i < 5; i++)
		g_main_context_iteration(f->base.context, FALSE);
	client_send_str(f, c, "\n");
	reply = client_recv_json(f, c);
	g_assert_cmpint(json_object_get_int(member(reply, "id", NULL)), ==, 1);
	json_object_put(reply);

	/* A bad line gets its error and the connection goes on. */
	client_send_str(f, c, "{\"jsonrpc\"\n");
	reply = client_recv_json(f, c);
	g_assert_cmpint(error_code(reply), ==, SP_RPC_PARSE_ERROR);
	json_object_put(reply);
	g_assert_cmpint(client_get_status(f, c, 3), ==, 1);

	/* A notification gets nothing: the next line is the reply to the next request. */
	client_send_str(f, c, "{\"jsonrpc\":\"2.0\",\"method\":\"GetStatus\"}\n");
	client_get_status(f, c, 4);

	/* socat's way: the last line without its newline, then end of input. */
	client_send_str(f, c, r2);
	g_assert_cmpint(shutdown(c->fd, SHUT_WR), ==, 0);
	reply = client_recv_json(f, c);
	g_assert_cmpint(json_object_get_int(member(reply, "id", NULL)), ==, 2);
	json_object_put(reply);
	g_assert_cmpuint(client_wait_eof(f, c), ==, 0);
	wait_client_count(f, 0);
}

/* A valid request padded with spaces to exactly len bytes (plus end). */
static char *padded_request(gsize len, const char *end)
{
	const char *req = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"GetStatus\"}";
	GString *s = g_string_new(req);

	while (s->len < len)
		g_string_append_c(s, ' ');
	g_string_append(s, end);
	return g_string_free(s, FALSE);
}

static void test_line_too_long(Fixture *f, gconstpointer data)
{
	g_autofree char *longest = padded_request(SP_RPC_MAX_LINE, "\n");
	g_autofree char *longest_crlf = padded_request(SP_RPC_MAX_LINE, "\r\n");
	g_autofree char *too_long = padded_request(SP_RPC_MAX_LINE + 1, "\n");
	Client *good, *bad;
	json_object *reply;

	fixture_listen(f);
	good = client_connect(f);
	bad = client_connect(f);

	/* 64 KiB is fine, with or without '\r'. */
	client_send_str(f, good, longest);
	reply = client_recv_json(f, good);
	g_assert_nonnull(member(reply, "result", NULL));
	json_object_put(reply);
	client_send_str(f, good, longest_crlf);
	reply = client_recv_json(f, good);
	g_assert_nonnull(member(reply, "result", NULL));
	json_object_put(reply);

	/* One byte more: an error reply, then the end. */
	g_test_expect_message("softphoned", G_LOG_LEVEL_MESSAGE, "*line longer than*");
	client_send_str(f, bad, too_long);
	reply = client_recv_json(f, bad);
	g_assert_cmpint(error_code(reply), ==, SP_RPC_INVALID_REQUEST);
	g_assert_true(json_object_is_type(member(reply, "id", NULL), json_type_null));
	json_object_put(reply);
	g_assert_cmpuint(client_wait_eof(f, bad), ==, 0);
	g_test_assert_expected_messages();

	/* The other client never noticed. */
	client_get_status(f, good, 2);
	wait_client_count(f, 1);
}

static void test_endless_line(Fixture *f, gconstpointer data)
{
	char chunk[4096];
	Client *c;
	json_object *reply;

	memset(chunk, 'x', sizeof(chunk));
	fixture_listen(f);
	c = client_connect(f);
	g_test_expect_message("softphoned", G_LOG_LEVEL_MESSAGE, "*line longer than*");
	/* The server answers once the line passes 64 KiB, without waiting for its end. */
	while (c->in->len == 0 && !c->eof) {
		gssize n = send(c->fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

		if (n < 0)
			g_assert_true(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET);
		g_main_context_iteration(f->base.context, FALSE);
		if (!c->eof)
			client_read_some(c);
	}
	reply = client_recv_json(f, c);
	g_assert_cmpint(error_code(reply), ==, SP_RPC_INVALID_REQUEST);
	json_object_put(reply);
	client_wait_eof(f, c);
	g_test_assert_expected_messages();
}

/* ---- limits ------------------------------------------------------------------------------ */

static void test_max_clients(Fixture *f, gconstpointer data)
{
	Client *clients[SP_RPC_MAX_CLIENTS];
	Client *extra;
	json_object *reply;

	fixture_listen(f);
	for (int i = 0; i < SP_RPC_MAX_CLIENTS; i++)
		clients[i] = client_connect(f);
	wait_client_count(f, SP_RPC_MAX_CLIENTS);

	g_test_expect_message("softphoned", G_LOG_LEVEL_MESSAGE, "*refused*64 clients*");
	extra = client_connect(f);
	reply = client_recv_json(f, extra);
	g_assert_cmpint(error_code(reply), ==, -32003);
	g_assert_cmpstr(error_kind(reply), ==, "Unavailable");
	g_assert_true(json_object_is_type(member(reply, "id", NULL), json_type_null));
	json_object_put(reply);
	g_assert_cmpuint(client_wait_eof(f, extra), ==, 0);
	g_test_assert_expected_messages();

	/* Everyone else still works, and a freed place can be taken. */
	g_assert_cmpint(client_get_status(f, clients[0], 1), ==, SP_RPC_MAX_CLIENTS);
	g_assert_cmpint(client_get_status(f, clients[SP_RPC_MAX_CLIENTS - 1], 2), ==,
			SP_RPC_MAX_CLIENTS);
	close(clients[5]->fd);
	clients[5]->fd = -1;
	wait_client_count(f, SP_RPC_MAX_CLIENTS - 1);
	extra = client_connect(f);
	g_assert_cmpint(client_get_status(f, extra, 3), ==, SP_RPC_MAX_CLIENTS);
}

static json_object *event_params(int n, gsize pad)
{
	json_object *p = json_object_new_object();
	g_autofree char *filler = g_strnfill(pad, 'p');

	json_object_object_add(p, "n", json_object_new_int(n));
	if (pad > 0)
		json_object_object_add(p, "pad", json_object_new_string(filler));
	return p;
}

static void subscribe(Fixture *f, Client *c, const char *params)
{
	g_autofree char *req =
	    g_strdup_printf("{\"jsonrpc\":\"2.0\",\"id\":100,\"method\":\"Subscribe\"%s%s}\n",
			    params ? ",\"params\":" : "", params ? params : "");
	json_object *reply;

	client_send_str(f, c, req);
	reply = client_recv_json(f, c);
	g_assert_true(json_object_get_boolean(member(reply, "result", NULL)));
	json_object_put(reply);
}

/* The next line must be event with params.n == n. */
static void expect_event(Fixture *f, Client *c, const char *event, int n)
{
	json_object *msg = client_recv_json(f, c);

	g_assert_cmpstr(json_object_get_string(member(msg, "jsonrpc", NULL)), ==, "2.0");
	g_assert_cmpstr(json_object_get_string(member(msg, "method", NULL)), ==, event);
	g_assert_null(member(msg, "id", NULL));
	g_assert_cmpint(json_object_get_int(member(msg, "params", "n")), ==, n);
	json_object_put(msg);
}

static void test_publish(Fixture *f, gconstpointer data)
{
	Client *all, *sessions, *none;
	json_object *reply;

	fixture_listen(f);
	/* Nobody subscribed: params are still taken. */
	sp_rpc_server_publish(f->server, "ConnectionStatusChanged", event_params(0, 0));

	all = client_connect(f);
	sessions = client_connect(f);
	none = client_connect(f);
	subscribe(f, all, NULL);
	subscribe(f, sessions, "{\"events\":[\"SessionStatusChanged\"]}");

	sp_rpc_server_publish(f->server, "ConnectionStatusChanged", event_params(1, 0));
	sp_rpc_server_publish(f->server, "SessionStatusChanged", event_params(2, 0));
	expect_event(f, all, "ConnectionStatusChanged", 1);
	expect_event(f, all, "SessionStatusChanged", 2);
	expect_event(f, sessions, "SessionStatusChanged", 2);

	/* The next thing each reads is its own reply: nothing else was sent to it. */
	client_send_str(f, none, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"GetStatus\"}\n");
	reply = client_recv_json(f, none);
	g_assert_cmpint(json_object_get_int(member(reply, "result", "subscribers")), ==, 2);
	json_object_put(reply);
	client_get_status(f, sessions, 6);

	/* Subscribe again replaces the filter; Unsubscribe ends the events. */
	subscribe(f, sessions, "[[\"ConnectionStatusChanged\"]]");
	client_send_str(f, all, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"Unsubscribe\"}\n");
	reply = client_recv_json(f, all);
	g_assert_true(json_object_get_boolean(member(reply, "result", NULL)));
	json_object_put(reply);
	sp_rpc_server_publish(f->server, "SessionStatusChanged", event_params(3, 0));
	sp_rpc_server_publish(f->server, "ConnectionStatusChanged", event_params(4, 0));
	expect_event(f, sessions, "ConnectionStatusChanged", 4);
	client_get_status(f, all, 8);
}

static void test_slow_subscriber(Fixture *f, gconstpointer data)
{
	Client *slow, *fast;
	guint published = 0;
	guint received = 0;

	fixture_listen(f);
	slow = client_connect(f);
	fast = client_connect(f);
	subscribe(f, slow, NULL);
	subscribe(f, fast, NULL);

	/* slow never reads. Bounded: 4 MiB of events is far past every buffer. */
	g_test_expect_message("softphoned", G_LOG_LEVEL_MESSAGE, "*output not taken*");
	while (sp_rpc_server_client_count(f->server) == 2) {
		g_assert_cmpuint(published, <, 1000);
		sp_rpc_server_publish(f->server, "ConnectionStatusChanged",
				      event_params((int)published++, 4000));
		/* fast keeps up. */
		while (g_main_context_iteration(f->base.context, FALSE))
			;
		while (!fast->eof && client_read_some(fast))
			;
		g_assert_false(fast->eof);
		for (char *nl; (nl = memchr(fast->in->str, '\n', fast->in->len)) != NULL;) {
			g_string_erase(fast->in, 0, nl - fast->in->str + 1);
			received++;
		}
	}
	g_test_assert_expected_messages();
	g_assert_cmpuint(published, >, SP_RPC_MAX_UNSENT / 4000);

	/* fast got everything and is still served; slow reads what was sent, then the end. */
	while (received < published) {
		char *line = client_recv_line(f, fast);

		g_assert_nonnull(line);
		g_free(line);
		received++;
	}
	g_assert_cmpint(client_get_status(f, fast, 1), ==, 1);
	g_assert_cmpuint(client_wait_eof(f, slow), <, published);
}

static void test_client_gone(Fixture *f, gconstpointer data)
{
	Client *a, *b;

	fixture_listen(f);
	a = client_connect(f);
	b = client_connect(f);
	subscribe(f, a, NULL);
	subscribe(f, b, NULL);

	/* a asks and leaves before the answer; events for it fail to be written. */
	client_send_str(f, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"GetStatus\"}\n");
	close(a->fd);
	a->fd = -1;
	for (int i = 0; i < 10; i++)
		sp_rpc_server_publish(f->server, "ConnectionStatusChanged", event_params(i, 100));
	wait_client_count(f, 1);
	for (int i = 0; i < 10; i++)
		expect_event(f, b, "ConnectionStatusChanged", i);
	client_get_status(f, b, 2);
}

static void test_free_with_clients(Fixture *f, gconstpointer data)
{
	Client *a, *b;

	fixture_listen(f);
	a = client_connect(f);
	b = client_connect(f);
	subscribe(f, a, NULL);
	client_send_str(f, b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"Get");
	for (int i = 0; i < 100; i++)
		sp_rpc_server_publish(f->server, "ConnectionStatusChanged", event_params(i, 8000));
	wait_client_count(f, 2);
	g_clear_pointer(&f->server, sp_rpc_server_free);
	/* Both see the end once the cancelled operations have called back. */
	client_wait_eof(f, a);
	client_wait_eof(f, b);
}

static void on_child_exit(GPid pid, gint status, gpointer user_data)
{
	*(int *)user_data = status;
}

static void test_peer_uid(Fixture *f, gconstpointer data)
{
	g_autofree char *run = g_path_get_dirname(f->path);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	pid_t pid;
	int status = -1;

	if (getuid() != 0) {
		g_test_skip("needs root to connect as another user");
		return;
	}
	fixture_listen(f);
	/* Open the way for another user, so that only the credential check stops it. */
	g_assert_cmpint(chmod(f->dir, 0755), ==, 0);
	g_assert_cmpint(chmod(run, 0755), ==, 0);
	g_assert_cmpint(chmod(f->path, 0666), ==, 0);
	g_strlcpy(sa.sun_path, f->path, sizeof(sa.sun_path));

	g_test_expect_message("softphoned", G_LOG_LEVEL_MESSAGE, "*refused*uid 65534*");
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"GetStatus\"}\n";
		char buf[256];
		int fd;
		gssize n;

		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
			_exit(3);
		/* The server may have closed already: then this fails, which is fine. */
		(void)!send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
		n = recv(fd, buf, sizeof(buf), 0);
		_exit(n <= 0 ? 0 : 1);
	}
	/* The server must run for the child to get its answer. */
	{
		GSource *watch = g_child_watch_source_new(pid);

		g_source_set_callback(watch, (GSourceFunc)(void (*)(void))on_child_exit, &status,
				      NULL);
		g_source_attach(watch, f->base.context);
		while (status == -1)
			iterate(f);
		g_source_unref(watch);
	}
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	g_test_assert_expected_messages();
	g_assert_cmpuint(sp_rpc_server_client_count(f->server), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)
	ADD("/protocol/server/listen-modes", test_listen_modes);
	ADD("/protocol/server/listen-existing-dir", test_listen_existing_dir);
	ADD("/protocol/server/listen-stale-socket", test_listen_stale_socket);
	ADD("/protocol/server/listen-live-socket", test_listen_live_socket);
	ADD("/protocol/server/listen-not-socket", test_listen_not_socket);
	ADD("/protocol/server/listen-path-too-long", test_listen_path_too_long);
	ADD("/protocol/server/default-path", test_default_path);
	ADD("/protocol/server/request", test_request);
	ADD("/protocol/server/framing", test_framing);
	ADD("/protocol/server/line-too-long", test_line_too_long);
	ADD("/protocol/server/endless-line", test_endless_line);
	ADD("/protocol/server/max-clients", test_max_clients);
	ADD("/protocol/server/publish", test_publish);
	ADD("/protocol/server/slow-subscriber", test_slow_subscriber);
	ADD("/protocol/server/client-gone", test_client_gone);
	ADD("/protocol/server/free-with-clients", test_free_with_clients);
	ADD("/protocol/server/peer-uid", test_peer_uid);
#undef ADD

	return g_test_run();
}
