/* Transport-free JSON-RPC 2.0 message model: parse a line, build replies and errors. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

enum {
	SP_RPC_PARSE_ERROR = -32700,
	SP_RPC_INVALID_REQUEST = -32600,
	SP_RPC_METHOD_NOT_FOUND = -32601,
	SP_RPC_INVALID_PARAMS = -32602,
	SP_RPC_INTERNAL_ERROR = -32603,
};

/* Longest line a client may send, newline excluded. */
#define SP_RPC_MAX_LINE (64 * 1024)
/* Most entries a batch may hold; a longer batch is one -32600 error. */
#define SP_RPC_MAX_BATCH 1024
/* Deepest nesting of arrays and objects a line may hold. */
#define SP_RPC_MAX_DEPTH 32

/*
 * Errors of the protocol itself (method not found, invalid request...): the GError code is the
 * JSON-RPC error code. sp_error_to_rpc_code() passes it through.
 */
#define SP_RPC_ERROR (sp_rpc_error_quark())
GQuark sp_rpc_error_quark(void);

typedef enum {
	SP_RPC_REQUEST,	     /* a call with an id: gets exactly one reply */
	SP_RPC_NOTIFICATION, /* a call without an id: never gets a reply, not even an error */
	SP_RPC_INVALID,	     /* not a Request object: gets an error reply (id null unless known) */
} SpRpcRequestType;

/* One entry of a message. Its json objects are borrowed from the message that holds it. */
typedef struct {
	SpRpcRequestType type;
	const char *method;  /* NUL-free; NULL when INVALID */
	json_object *params; /* an object or an array; NULL when absent */
	json_object *id;     /* NULL for JSON null and for notifications; see has_id */
	gboolean has_id;     /* TRUE when an id of a valid type was found (even if INVALID) */
	int error_code;	     /* INVALID only: SP_RPC_INVALID_REQUEST */
	char *error_message; /* INVALID only */
} SpRpcRequest;

typedef struct {
	gboolean batch;	     /* the line was an array */
	GPtrArray *requests; /* SpRpcRequest*, in line order; empty when error_code is set */
	int error_code;	     /* 0, or an error about the line as a whole (-32700, -32600) */
	char *error_message;
	json_object *root; /* owns every json object the requests point into */
} SpRpcMessage;

/*
 * Parses one line (newline excluded; a trailing "\r" is whitespace). Never fails: errors are
 * recorded in the message. Blank lines give a message with no requests and no error.
 */
SpRpcMessage *sp_rpc_message_parse(const char *line, gsize len);
void sp_rpc_message_free(SpRpcMessage *message);

/* Reply builders; id is borrowed (copied into the reply), NULL means JSON null. */
json_object *sp_rpc_build_result(json_object *id, json_object *result /* transfer full */);
json_object *sp_rpc_build_error(json_object *id, int code, const char *message,
				json_object *data /* transfer full, nullable */);
/* Code from sp_error_to_rpc_code(), message from error, data {"kind":...} when it has one. */
json_object *sp_rpc_build_error_from_gerror(json_object *id, const GError *error);
json_object *sp_rpc_build_notification(const char *method, json_object *params /* full */);
/* Serialises a message as one line ending in "\n". Transfer full; does not consume msg. */
char *sp_rpc_to_line(json_object *msg, gsize *len_out);

/*
 * Runs one method for caller (opaque to the codec). On success returns TRUE and sets *result
 * (transfer full; NULL is JSON null). On failure sets error: SP_RPC_ERROR for protocol errors
 * (METHOD_NOT_FOUND, INVALID_PARAMS), SP_ERROR for application errors.
 */
typedef gboolean (*SpRpcCallFunc)(const char *method, json_object *params, gpointer caller,
				  gpointer user_data, json_object **result, GError **error);

typedef struct _SpRpcDispatcher SpRpcDispatcher;

SpRpcDispatcher *sp_rpc_dispatcher_new(SpRpcCallFunc call, gpointer user_data);
void sp_rpc_dispatcher_free(SpRpcDispatcher *dispatcher);

/*
 * Handles one line from caller: parses it, runs each call and returns the reply line
 * (ending in "\n", transfer full), or NULL when no reply is due (notifications, a batch of only
 * notifications, a blank line). The length of the reply is stored in *reply_len if not NULL.
 */
char *sp_rpc_handle_line(SpRpcDispatcher *dispatcher, gpointer caller, const char *line, gsize len,
			 gsize *reply_len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpRpcMessage, sp_rpc_message_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpRpcDispatcher, sp_rpc_dispatcher_free)

G_END_DECLS
