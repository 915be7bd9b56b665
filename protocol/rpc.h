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

G_END_DECLS
