/* The SP_ERROR domain and its one mapping to JSON-RPC error codes and kinds. */
#include "protocol/errors.h"
#include "protocol/rpc.h"

G_DEFINE_QUARK(sp-error-quark, sp_error)

int sp_error_to_rpc_code(const GError *error)
{
	/* Protocol errors carry their JSON-RPC code as they are. */
	if (error != NULL && error->domain == SP_RPC_ERROR)
		return error->code;
	if (error == NULL || error->domain != SP_ERROR)
		return SP_RPC_INTERNAL_ERROR;

	switch ((SpError)error->code) {
	case SP_ERROR_FAILED:
		return SP_RPC_INTERNAL_ERROR;
	case SP_ERROR_INVALID_ARGS:
		return SP_RPC_INVALID_PARAMS;
	case SP_ERROR_NOT_FOUND:
		return -32001;
	case SP_ERROR_WRONG_STATE:
		return -32002;
	case SP_ERROR_UNAVAILABLE:
		return -32003;
	case SP_ERROR_EXISTS:
		return -32004;
	case SP_ERROR_UNSUPPORTED:
		return -32005;
	case SP_ERROR_UNAUTHORIZED:
		return -32006;
	}
	return SP_RPC_INTERNAL_ERROR;
}

const char *sp_error_to_rpc_kind(const GError *error)
{
	if (error == NULL || error->domain != SP_ERROR)
		return NULL;

	switch ((SpError)error->code) {
	case SP_ERROR_FAILED:
	case SP_ERROR_INVALID_ARGS:
		return NULL;
	case SP_ERROR_NOT_FOUND:
		return "NotFound";
	case SP_ERROR_WRONG_STATE:
		return "WrongState";
	case SP_ERROR_UNAVAILABLE:
		return "Unavailable";
	case SP_ERROR_EXISTS:
		return "Exists";
	case SP_ERROR_UNSUPPORTED:
		return "Unsupported";
	case SP_ERROR_UNAUTHORIZED:
		return "Unauthorized";
	}
	return NULL;
}
