/* The WebSocket transport: the control protocol at ws://127.0.0.1:PORT/rpc, the agent page at /. */
#pragma once

#include <glib.h>

#include "protocol/server.h"

G_BEGIN_DECLS

typedef struct _SpRpcWebsocket SpRpcWebsocket;

/* How long a client that connected without the token has to send Authenticate. */
#define SP_RPC_WS_AUTH_TIMEOUT_MS 10000
/* The credential (in $CREDENTIALS_DIRECTORY) that, when given, is the token. */
#define SP_RPC_WS_TOKEN_CREDENTIAL "softphoned-websocket-token"

/*
 * The transport is a module of its own (websocket.so, linked with libsoup), so that a daemon
 * without a WebSocket never loads libsoup. The daemon looks up one symbol in it,
 * SP_RPC_WS_MODULE_SYMBOL: an SpRpcWebsocketModule holding the three functions below.
 */
#define SP_RPC_WS_MODULE_NAME "websocket.so"
#define SP_RPC_WS_MODULE_SYMBOL "sp_rpc_websocket_module"

typedef struct {
	SpRpcWebsocket *(*create)(SpRpcServer *server, const char *address,
				  const char *const *origins, const char *token, GError **error);
	void (*free)(SpRpcWebsocket *ws);
	char *(*page_url)(SpRpcWebsocket *ws);
} SpRpcWebsocketModule;

/*
 * Loads the module once: from the build tree when the running program is in one (a meson
 * build directory, as the tests run it), else from the installed module directory. NULL, with
 * error set, when it cannot be loaded.
 */
const SpRpcWebsocketModule *sp_rpc_websocket_module_load(GError **error);

/*
 * In the module (and linked into the unit tests):
 * listens on address ("127.0.0.1:8088", "[::1]:8088"; the config has checked it is loopback)
 * and serves server's methods and events to clients that present token and, when they send an
 * Origin, one of origins (exact strings) or the page's own. Registers itself as the server's
 * second transport. token is copied.
 */
SpRpcWebsocket *sp_rpc_websocket_new(SpRpcServer *server, const char *address,
				     const char *const *origins, const char *token, GError **error);
void sp_rpc_websocket_free(SpRpcWebsocket *ws);

/* The URL of the agent page, e.g. "http://127.0.0.1:8088/". Transfer full. */
char *sp_rpc_websocket_page_url(SpRpcWebsocket *ws);

/*
 * The token: the systemd credential if there is one, else the contents of path, which is
 * created (0600, in a 0700 directory made if missing) with a fresh random token when absent.
 * A file that others may read, or not owned by us, is refused. *source is set to where it came
 * from (for the log; never the token itself). Transfer full.
 */
char *sp_rpc_websocket_load_token(const char *path, char **source, GError **error);

/* Compares two strings in a time that depends only on the length of expected. */
gboolean sp_rpc_websocket_token_equal(const char *expected, const char *given);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpRpcWebsocket, sp_rpc_websocket_free)

G_END_DECLS
