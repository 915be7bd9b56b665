/* The control-socket server: Unix socket, clients, method dispatch and the event bus. */
#pragma once

#include <gio/gio.h>
#include <json-c/json.h>

#include "protocol/phone-api.h"
#include "protocol/rpc.h"

G_BEGIN_DECLS

#define SP_RPC_MAX_CLIENTS 64
#define SP_RPC_MAX_UNSENT (1024 * 1024)

typedef struct _SpRpcServer SpRpcServer;

/* api may be NULL (then only GetStatus/Subscribe/Unsubscribe work). */
SpRpcServer *sp_rpc_server_new(const SpPhoneApi *api, gpointer phone);
void sp_rpc_server_free(SpRpcServer *server);

/*
 * Binds path (directory created 0700, socket 0600, a stale socket replaced), or, when
 * systemd passed sockets (LISTEN_FDS), uses the first one and ignores path.
 */
gboolean sp_rpc_server_listen(SpRpcServer *server, const char *path, GError **error);
/* The path bound, or NULL when activated by a passed fd. */
const char *sp_rpc_server_get_path(SpRpcServer *server);
/* The default socket path of SPEC §4 for this process. Transfer full. */
char *sp_rpc_server_default_path(void);

/* Sends a notification to every subscriber whose filter admits event. Takes params. */
void sp_rpc_server_publish(SpRpcServer *server, const char *event, json_object *params);

/* Clients of the Unix socket. */
guint sp_rpc_server_client_count(SpRpcServer *server);
/* Clients of the Unix socket that called Subscribe (whatever their filter). */
guint sp_rpc_server_subscriber_count(SpRpcServer *server);

/*
 * A second transport of the same protocol (the WebSocket, protocol/websocket.c): it runs its
 * clients' messages through the server's dispatcher, so that methods, errors and Subscribe are
 * one code, gets every event the server publishes, and its clients count in GetStatus.
 */
typedef struct {
	/* Whether one of its clients admits event (checked before the event is encoded). */
	gboolean (*wants)(gpointer transport, const char *event);
	/* Sends the notification (one line, "\n" included) to each client that admits event. */
	void (*send_event)(gpointer transport, const char *event, GBytes *line);
	guint (*count_clients)(gpointer transport);
	guint (*count_subscribers)(gpointer transport);
} SpRpcTransport;

/* One at most; klass NULL detaches it. */
void sp_rpc_server_set_transport(SpRpcServer *server, const SpRpcTransport *klass,
				 gpointer transport);
SpRpcDispatcher *sp_rpc_server_get_dispatcher(SpRpcServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpRpcServer, sp_rpc_server_free)

G_END_DECLS
