/* The SP_ERROR domain shared by every module, and its mapping to JSON-RPC error codes. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SP_ERROR (sp_error_quark())

typedef enum {
	SP_ERROR_FAILED,
	SP_ERROR_INVALID_ARGS,
	SP_ERROR_NOT_FOUND,
	SP_ERROR_WRONG_STATE,
	SP_ERROR_UNAVAILABLE,
	SP_ERROR_EXISTS,
	SP_ERROR_UNSUPPORTED,
	SP_ERROR_UNAUTHORIZED, /* a WebSocket client without the right token */
} SpError;

GQuark sp_error_quark(void);

/*
 * The one table from an SpError to the JSON-RPC error code and the stable data.kind string
 * (NULL kind for codes that carry none: -32602 invalid params, -32603 internal).
 * SP_RPC_ERROR errors carry their JSON-RPC code as they are (see protocol/rpc.h); errors of
 * other domains map to -32603.
 */
int sp_error_to_rpc_code(const GError *error);
const char *sp_error_to_rpc_kind(const GError *error);

G_END_DECLS
