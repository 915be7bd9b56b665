/* The control protocol's methods: a sorted handler table; handlers check params, call the phone. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "protocol/phone-api.h"
#include "protocol/rpc.h"

G_BEGIN_DECLS

/* Bounds on what a client may pass. */
#define SP_RPC_MAX_DESTINATION 256 /* bytes of a Dial/Transfer destination */
#define SP_RPC_MAX_DIGITS 64	   /* DTMF digits in one SendDtmf */
#define SP_RPC_MAX_SESSION_ID 64   /* bytes of a session id */
#define SP_RPC_MAX_STRING 256	   /* any other string, unless said otherwise */
#define SP_RPC_MAX_PATH 4096	   /* file names (caFile) */

/* The state of one client that methods may read or change. */
typedef struct {
	gboolean subscribed;
	char **events; /* the Subscribe filter; NULL admits every event */
} SpRpcSubscription;

gboolean sp_rpc_subscription_admits(const SpRpcSubscription *sub, const char *event);
void sp_rpc_subscription_clear(SpRpcSubscription *sub);

/* What the methods need besides the caller. */
typedef struct {
	const SpPhoneApi *api; /* NULL: only GetStatus, Subscribe and Unsubscribe work */
	gpointer phone;
	gint64 started_us; /* g_get_monotonic_time() when the server started */
	guint (*count_clients)(gpointer host);
	guint (*count_subscribers)(gpointer host);
	gpointer host;
} SpRpcMethodContext;

/*
 * An SpRpcCallFunc: user_data is the SpRpcMethodContext, caller the calling client's
 * SpRpcSubscription. Unknown methods fail with SP_RPC_ERROR/METHOD_NOT_FOUND, bad params with
 * SP_ERROR_INVALID_ARGS (-32602) naming the parameter, NULL api entries with UNSUPPORTED.
 */
gboolean sp_rpc_methods_call(const char *method, json_object *params, gpointer caller,
			     gpointer user_data, json_object **result, GError **error);

/* The method table, in the order bsearch needs (for tests and docs). */
guint sp_rpc_methods_count(void);
const char *sp_rpc_methods_name(guint i);

/* The events Subscribe accepts in its filter, NULL-terminated. */
extern const char *const sp_rpc_event_names[];
gboolean sp_rpc_event_is_known(const char *event);

G_END_DECLS
