/* The control-socket server: a Unix socket, its clients' lines in and out, and the event bus. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <systemd/sd-daemon.h>

#include "protocol/errors.h"
#include "protocol/methods.h"
#include "protocol/rpc.h"
#include "protocol/server.h"

#define READ_CHUNK (16 * 1024)
/* Queued replies and events are joined into writes of up to this size. */
#define WRITE_COALESCE (64 * 1024)
/* How long a client being closed gets to take its last reply before it is dropped. */
#define LINGER_MS 5000

typedef struct _SpRpcClient SpRpcClient;

struct _SpRpcServer {
	SpRpcMethodContext ctx;
	SpRpcDispatcher *dispatcher;
	GSocketService *service;
	char *path; /* the socket file we bound, NULL when activated */
	dev_t dev;  /* ... and its identity, so that only our own file is removed */
	ino_t ino;
	GQueue clients;	 /* SpRpcClient*, every open one (also those being refused) */
	guint n_clients; /* the counted ones */
	guint next_id;
	const SpRpcTransport *transport; /* the WebSocket's, or NULL */
	gpointer transport_data;
};

/*
 * One connected client. Every GIO operation in flight holds a reference, so a client closed
 * while one is pending is freed when the last one has called back.
 */
struct _SpRpcClient {
	guint refs;
	guint id;
	SpRpcServer *server; /* NULL once closed */
	GList link;	     /* in server->clients */
	GSocketConnection *conn;
	GInputStream *in;
	GOutputStream *out;
	GCancellable *cancellable;
	gboolean counted; /* one of the SP_RPC_MAX_CLIENTS */
	gboolean closing; /* reads no more; closed once its output is written */
	gboolean closed;
	gboolean writing;
	guint linger_id;
	GSource *hup_watch; /* a half-closed subscriber: waits for its hang-up */
	GByteArray *line; /* the start of a line whose newline has not come yet */
	GQueue queue;	  /* GBytes* not yet handed to a write */
	GBytes *inflight; /* the write in progress */
	gsize unsent;	  /* bytes in queue and inflight */
	SpRpcSubscription sub;
	char buf[READ_CHUNK];
};

static void client_close(SpRpcClient *c, const char *why);

static SpRpcClient *client_ref(SpRpcClient *c)
{
	c->refs++;
	return c;
}

static void client_unref(SpRpcClient *c)
{
	g_assert(c->refs > 0);
	if (--c->refs > 0)
		return;
	g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
	g_object_unref(c->conn);
	g_object_unref(c->cancellable);
	g_byte_array_unref(c->line);
	g_queue_clear_full(&c->queue, (GDestroyNotify)g_bytes_unref);
	g_clear_pointer(&c->inflight, g_bytes_unref);
	sp_rpc_subscription_clear(&c->sub);
	g_free(c);
}

static void on_written(GObject *source, GAsyncResult *res, gpointer user_data);

static void client_write(SpRpcClient *c)
{
	GBytes *head = g_queue_pop_head(&c->queue);
	gsize size;
	gconstpointer data;

	if (!g_queue_is_empty(&c->queue) && g_bytes_get_size(head) < WRITE_COALESCE) {
		GByteArray *joined = g_byte_array_sized_new(WRITE_COALESCE);

		g_byte_array_append(joined, g_bytes_get_data(head, NULL), g_bytes_get_size(head));
		g_bytes_unref(head);
		while (!g_queue_is_empty(&c->queue)) {
			GBytes *next = g_queue_peek_head(&c->queue);

			if (joined->len + g_bytes_get_size(next) > WRITE_COALESCE)
				break;
			g_byte_array_append(joined, g_bytes_get_data(next, NULL),
					    g_bytes_get_size(next));
			g_bytes_unref(g_queue_pop_head(&c->queue));
		}
		head = g_byte_array_free_to_bytes(joined);
	}
	c->inflight = head;
	c->writing = TRUE;
	data = g_bytes_get_data(head, &size);
	g_output_stream_write_all_async(c->out, data, size, G_PRIORITY_DEFAULT, c->cancellable,
					on_written, client_ref(c));
}

static void on_written(GObject *source, GAsyncResult *res, gpointer user_data)
{
	SpRpcClient *c = user_data;
	g_autoptr(GError) error = NULL;
	gboolean ok = g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, &error);

	c->writing = FALSE;
	c->unsent -= g_bytes_get_size(c->inflight);
	g_clear_pointer(&c->inflight, g_bytes_unref);
	if (c->closed) {
		client_unref(c);
		return;
	}
	if (!ok)
		client_close(c, error->message);
	else if (!g_queue_is_empty(&c->queue))
		client_write(c);
	else if (c->closing)
		client_close(c, "done");
	client_unref(c);
}

/* Queues bytes (taken) for c; a client that lets too much pile up is closed. */
static void client_queue(SpRpcClient *c, GBytes *bytes)
{
	gsize size = g_bytes_get_size(bytes);

	if (c->closed) {
		g_bytes_unref(bytes);
		return;
	}
	if (c->unsent + size > SP_RPC_MAX_UNSENT) {
		g_bytes_unref(bytes);
		g_message("control client %u: more than %d bytes of output not taken; closing it",
			  c->id, SP_RPC_MAX_UNSENT);
		client_close(c, "output limit");
		return;
	}
	g_queue_push_tail(&c->queue, bytes);
	c->unsent += size;
	if (!c->writing)
		client_write(c);
}

static void client_queue_json(SpRpcClient *c, json_object *msg)
{
	gsize len = 0;
	char *line = sp_rpc_to_line(msg, &len);

	json_object_put(msg);
	client_queue(c, g_bytes_new_take(line, len));
}

static gboolean on_linger(gpointer user_data)
{
	SpRpcClient *c = user_data;

	c->linger_id = 0;
	client_close(c, "its last reply was not taken in time");
	return G_SOURCE_REMOVE;
}

/* Reads no more from c and closes it once what is queued has been written. */
static void client_finish(SpRpcClient *c)
{
	if (c->closed || c->closing)
		return;
	c->closing = TRUE;
	if (!c->writing && g_queue_is_empty(&c->queue)) {
		client_close(c, "done");
		return;
	}
	c->linger_id = g_timeout_add_full(G_PRIORITY_DEFAULT, LINGER_MS, on_linger, client_ref(c),
					  (GDestroyNotify)client_unref);
}

static void client_close(SpRpcClient *c, const char *why)
{
	SpRpcServer *server = c->server;

	if (c->closed)
		return;
	c->closed = TRUE;
	g_debug("control client %u closed: %s", c->id, why);
	if (c->linger_id != 0) {
		guint id = c->linger_id;

		c->linger_id = 0;
		g_source_remove(id);
	}
	if (c->hup_watch != NULL) {
		g_source_destroy(c->hup_watch);
		g_clear_pointer(&c->hup_watch, g_source_unref);
	}
	g_cancellable_cancel(c->cancellable);
	g_queue_clear_full(&c->queue, (GDestroyNotify)g_bytes_unref);
	sp_rpc_subscription_clear(&c->sub);
	if (server != NULL) {
		g_queue_unlink(&server->clients, &c->link);
		if (c->counted)
			server->n_clients--;
		c->server = NULL;
	}
	/* The server's reference. */
	client_unref(c);
}

static void client_line_too_long(SpRpcClient *c)
{
	g_message("control client %u: line longer than %d bytes; closing it", c->id,
		  SP_RPC_MAX_LINE);
	client_queue_json(c, sp_rpc_build_error(NULL, SP_RPC_INVALID_REQUEST,
						"Invalid Request: line longer than 65536 bytes",
						NULL));
	client_finish(c);
}

static void client_handle_line(SpRpcClient *c, const char *line, gsize len)
{
	gsize reply_len = 0;
	char *reply;

	/* CRLF is tolerated. */
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > SP_RPC_MAX_LINE) {
		client_line_too_long(c);
		return;
	}
	reply = sp_rpc_handle_line(c->server->dispatcher, &c->sub, line, len, &reply_len);
	if (reply != NULL)
		client_queue(c, g_bytes_new_take(reply, reply_len));
}

/* Splits input into lines and handles each; stops once the client is closing. */
static void client_take_input(SpRpcClient *c, const char *data, gsize n)
{
	const char *p = data;
	const char *end = data + n;

	while (p < end && !c->closing && !c->closed) {
		const char *nl = memchr(p, '\n', (gsize)(end - p));
		gsize seg = (gsize)((nl != NULL ? nl : end) - p);

		/* One byte of slack for a '\r' before the newline. */
		if (c->line->len + seg > SP_RPC_MAX_LINE + 1) {
			client_line_too_long(c);
			return;
		}
		if (nl == NULL) {
			g_byte_array_append(c->line, (const guint8 *)p, (guint)seg);
			return;
		}
		if (c->line->len == 0) {
			client_handle_line(c, p, seg);
		} else {
			g_byte_array_append(c->line, (const guint8 *)p, (guint)seg);
			client_handle_line(c, (const char *)c->line->data, c->line->len);
			g_byte_array_set_size(c->line, 0);
		}
		p = nl + 1;
	}
}

static void on_read(GObject *source, GAsyncResult *res, gpointer user_data);

static gboolean on_hang_up(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	client_close(user_data, "hung up");
	return G_SOURCE_REMOVE;
}

/*
 * A subscriber that shut down only its sending side (socat does at the end of its input) still
 * reads: it keeps its events until it hangs up for good, which the socket reports as HUP.
 */
static void client_listen_only(SpRpcClient *c)
{
	GSocket *socket = g_socket_connection_get_socket(c->conn);

	c->hup_watch = g_socket_create_source(socket, G_IO_HUP | G_IO_ERR, NULL);
	g_source_set_callback(c->hup_watch, G_SOURCE_FUNC(on_hang_up), client_ref(c),
			      (GDestroyNotify)client_unref);
	g_source_attach(c->hup_watch, g_main_context_get_thread_default());
}

static void client_read(SpRpcClient *c)
{
	g_input_stream_read_async(c->in, c->buf, sizeof(c->buf), G_PRIORITY_DEFAULT, c->cancellable,
				  on_read, client_ref(c));
}

static void on_read(GObject *source, GAsyncResult *res, gpointer user_data)
{
	SpRpcClient *c = user_data;
	g_autoptr(GError) error = NULL;
	gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), res, &error);

	if (c->closed || c->closing) {
		client_unref(c);
		return;
	}
	if (n < 0) {
		client_close(c, error->message);
	} else if (n == 0) {
		/* A last line without its newline still counts; then reply and close. */
		if (c->line->len > 0) {
			client_handle_line(c, (const char *)c->line->data, c->line->len);
			g_byte_array_set_size(c->line, 0);
		}
		if (c->sub.subscribed && !c->closed && !c->closing)
			client_listen_only(c);
		else
			client_finish(c);
	} else {
		client_take_input(c, c->buf, (gsize)n);
		if (!c->closed && !c->closing)
			client_read(c);
	}
	client_unref(c);
}

static SpRpcClient *client_new(SpRpcServer *server, GSocketConnection *conn)
{
	SpRpcClient *c = g_new0(SpRpcClient, 1);

	c->refs = 1; /* the server's */
	c->id = ++server->next_id;
	c->server = server;
	c->link.data = c;
	c->conn = g_object_ref(conn);
	c->in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
	c->out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
	c->cancellable = g_cancellable_new();
	c->line = g_byte_array_new();
	g_queue_push_tail_link(&server->clients, &c->link);
	return c;
}

static gboolean on_incoming(GSocketService *service, GSocketConnection *conn, GObject *source,
			    gpointer user_data)
{
	SpRpcServer *server = user_data;
	GSocket *sock = g_socket_connection_get_socket(conn);
	g_autoptr(GError) error = NULL;
	g_autoptr(GCredentials) creds = g_socket_get_credentials(sock, &error);
	uid_t uid;
	pid_t pid;
	SpRpcClient *c;

	if (creds == NULL) {
		g_message("control client refused: cannot read its credentials: %s",
			  error->message);
		g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
		return TRUE;
	}
	uid = g_credentials_get_unix_user(creds, NULL);
	pid = g_credentials_get_unix_pid(creds, NULL);
	if (uid != getuid() && uid != 0) {
		g_message("control client refused: pid %ld runs as uid %lu, neither ours nor root",
			  (long)pid, (unsigned long)uid);
		g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
		return TRUE;
	}

	c = client_new(server, conn);
	if (server->n_clients >= SP_RPC_MAX_CLIENTS) {
		g_autoptr(GError) busy =
		    g_error_new(SP_ERROR, SP_ERROR_UNAVAILABLE,
				"too many control clients (at most %d)", SP_RPC_MAX_CLIENTS);

		g_message("control client refused: pid %ld: already %d clients", (long)pid,
			  SP_RPC_MAX_CLIENTS);
		client_queue_json(c, sp_rpc_build_error_from_gerror(NULL, busy));
		client_finish(c);
		return TRUE;
	}
	c->counted = TRUE;
	server->n_clients++;
	g_debug("control client %u connected: pid %ld, uid %lu", c->id, (long)pid,
		(unsigned long)uid);
	client_read(c);
	return TRUE;
}

/* GetStatus counts the clients of both transports. */
static guint count_clients(gpointer host)
{
	SpRpcServer *server = host;
	guint n = sp_rpc_server_client_count(server);

	if (server->transport != NULL)
		n += server->transport->count_clients(server->transport_data);
	return n;
}

static guint count_subscribers(gpointer host)
{
	SpRpcServer *server = host;
	guint n = sp_rpc_server_subscriber_count(server);

	if (server->transport != NULL)
		n += server->transport->count_subscribers(server->transport_data);
	return n;
}

void sp_rpc_server_set_transport(SpRpcServer *server, const SpRpcTransport *klass,
				 gpointer transport)
{
	server->transport = klass;
	server->transport_data = klass != NULL ? transport : NULL;
}

SpRpcDispatcher *sp_rpc_server_get_dispatcher(SpRpcServer *server)
{
	return server->dispatcher;
}

SpRpcServer *sp_rpc_server_new(const SpPhoneApi *api, gpointer phone)
{
	SpRpcServer *server = g_new0(SpRpcServer, 1);

	server->ctx.api = api;
	server->ctx.phone = phone;
	server->ctx.started_us = g_get_monotonic_time();
	server->ctx.count_clients = count_clients;
	server->ctx.count_subscribers = count_subscribers;
	server->ctx.host = server;
	server->dispatcher = sp_rpc_dispatcher_new(sp_rpc_methods_call, &server->ctx);
	server->service = g_socket_service_new();
	g_signal_connect(server->service, "incoming", G_CALLBACK(on_incoming), server);
	return server;
}

void sp_rpc_server_free(SpRpcServer *server)
{
	struct stat st;

	if (server == NULL)
		return;
	g_signal_handlers_disconnect_by_data(server->service, server);
	g_socket_service_stop(server->service);
	g_socket_listener_close(G_SOCKET_LISTENER(server->service));
	g_clear_object(&server->service);
	while (!g_queue_is_empty(&server->clients))
		client_close(g_queue_peek_head(&server->clients), "server stopping");
	if (server->path != NULL && lstat(server->path, &st) == 0 && st.st_dev == server->dev &&
	    st.st_ino == server->ino)
		unlink(server->path);
	g_free(server->path);
	sp_rpc_dispatcher_free(server->dispatcher);
	g_free(server);
}

/* Whether something accepts connections on the socket file at path. */
static gboolean socket_is_live(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	gboolean live;

	if (fd < 0)
		return FALSE;
	g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	/* A full backlog (EAGAIN) still means a listener. */
	live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN ||
	       errno == EINPROGRESS;
	close(fd);
	return live;
}

static gboolean set_error_errno(GError **error, int err, const char *fmt, const char *path)
{
	g_autofree char *what = g_strdup_printf(fmt, path);

	g_set_error(error, SP_ERROR, SP_ERROR_FAILED, "%s: %s", what, g_strerror(err));
	return FALSE;
}

static gboolean prepare_path(const char *path, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	struct stat st;

	if (strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
		g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS,
			    "socket path %s is too long for a Unix socket", path);
		return FALSE;
	}
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT)
			return set_error_errno(error, errno, "cannot use directory %s", dir);
		if (g_mkdir_with_parents(dir, 0700) != 0)
			return set_error_errno(error, errno, "cannot create directory %s", dir);
		/* The umask may have taken bits away, never added: make it exactly 0700. */
		if (chmod(dir, 0700) != 0)
			return set_error_errno(error, errno, "cannot set the mode of %s", dir);
	} else if (!S_ISDIR(st.st_mode)) {
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED, "%s is not a directory", dir);
		return FALSE;
	}

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return TRUE;
		return set_error_errno(error, errno, "cannot use %s", path);
	}
	if (!S_ISSOCK(st.st_mode)) {
		g_set_error(error, SP_ERROR, SP_ERROR_EXISTS,
			    "%s exists and is not a socket; not replacing it", path);
		return FALSE;
	}
	if (socket_is_live(path)) {
		g_set_error(error, SP_ERROR, SP_ERROR_EXISTS,
			    "another process (softphoned already running?) listens on %s", path);
		return FALSE;
	}
	if (unlink(path) != 0 && errno != ENOENT)
		return set_error_errno(error, errno, "cannot remove the stale socket %s", path);
	g_info("replaced the stale socket %s", path);
	return TRUE;
}

static gboolean listen_path(SpRpcServer *server, const char *path, GError **error)
{
	g_autoptr(GSocket) sock = NULL;
	g_autoptr(GSocketAddress) address = NULL;
	struct stat st;
	mode_t old_mask;
	gboolean bound;

	if (!prepare_path(path, error))
		return FALSE;

	sock = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
			    error);
	if (sock == NULL)
		return FALSE;
	address = g_unix_socket_address_new(path);
	/* No moment where the socket is open to others. */
	old_mask = umask(0177);
	bound = g_socket_bind(sock, address, FALSE, error);
	umask(old_mask);
	if (!bound)
		return FALSE;
	if (chmod(path, 0600) != 0 || lstat(path, &st) != 0) {
		set_error_errno(error, errno, "cannot set the mode of %s", path);
		unlink(path);
		return FALSE;
	}
	g_socket_set_listen_backlog(sock, SP_RPC_MAX_CLIENTS);
	if (!g_socket_listen(sock, error) ||
	    !g_socket_listener_add_socket(G_SOCKET_LISTENER(server->service), sock, NULL, error)) {
		unlink(path);
		return FALSE;
	}
	server->path = g_strdup(path);
	server->dev = st.st_dev;
	server->ino = st.st_ino;
	return TRUE;
}

static gboolean listen_activated(SpRpcServer *server, int n, GError **error)
{
	g_autoptr(GSocket) sock = NULL;
	int fd = SD_LISTEN_FDS_START;

	if (n > 1)
		g_warning("systemd passed %d sockets; using the first", n);
	if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
		g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS,
			    "the socket systemd passed is not a listening Unix stream socket");
		return FALSE;
	}
	sock = g_socket_new_from_fd(fd, error);
	if (sock == NULL)
		return FALSE;
	return g_socket_listener_add_socket(G_SOCKET_LISTENER(server->service), sock, NULL, error);
}

gboolean sp_rpc_server_listen(SpRpcServer *server, const char *path, GError **error)
{
	int n = sd_listen_fds(TRUE);
	gboolean ok;

	if (n < 0) {
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED,
			    "cannot take the sockets of systemd: %s", g_strerror(-n));
		return FALSE;
	}
	if (n > 0)
		ok = listen_activated(server, n, error);
	else
		ok = listen_path(server, path, error);
	if (!ok)
		return FALSE;
	server->ctx.started_us = g_get_monotonic_time();
	g_socket_service_start(server->service);
	return TRUE;
}

const char *sp_rpc_server_get_path(SpRpcServer *server)
{
	return server->path;
}

char *sp_rpc_server_default_path(void)
{
	const char *runtime = g_getenv("XDG_RUNTIME_DIR");

	if (runtime != NULL && runtime[0] == '/')
		return g_build_filename(runtime, "softphoned", "control", NULL);
	return g_strdup("/run/softphoned/control");
}

void sp_rpc_server_publish(SpRpcServer *server, const char *event, json_object *params)
{
	json_object *msg;
	GBytes *bytes;
	char *line;
	gsize len = 0;
	gboolean wanted = FALSE;

	for (GList *l = server->clients.head; l != NULL && !wanted; l = l->next) {
		SpRpcClient *c = l->data;

		wanted = c->counted && !c->closing && sp_rpc_subscription_admits(&c->sub, event);
	}
	if (!wanted && server->transport != NULL)
		wanted = server->transport->wants(server->transport_data, event);
	if (!wanted) {
		json_object_put(params);
		return;
	}

	msg = sp_rpc_build_notification(event, params);
	line = sp_rpc_to_line(msg, &len);
	json_object_put(msg);
	bytes = g_bytes_new_take(line, len);
	for (GList *l = server->clients.head, *next; l != NULL; l = next) {
		SpRpcClient *c = l->data;

		/* client_queue() may close c, which unlinks it. */
		next = l->next;
		if (c->counted && !c->closing && sp_rpc_subscription_admits(&c->sub, event))
			client_queue(c, g_bytes_ref(bytes));
	}
	if (server->transport != NULL)
		server->transport->send_event(server->transport_data, event, bytes);
	g_bytes_unref(bytes);
}

guint sp_rpc_server_client_count(SpRpcServer *server)
{
	return server->n_clients;
}

guint sp_rpc_server_subscriber_count(SpRpcServer *server)
{
	guint n = 0;

	for (GList *l = server->clients.head; l != NULL; l = l->next) {
		SpRpcClient *c = l->data;

		if (c->counted && c->sub.subscribed)
			n++;
	}
	return n;
}
