/* Control-socket server (stub, being written). */
#include "protocol/server.h"

struct _SpRpcServer {
	int unused;
};

SpRpcServer *sp_rpc_server_new(const SpPhoneApi *api, gpointer phone)
{
	return g_new0(SpRpcServer, 1);
}

void sp_rpc_server_free(SpRpcServer *server)
{
	g_free(server);
}

gboolean sp_rpc_server_listen(SpRpcServer *server, const char *path, GError **error)
{
	return TRUE;
}

const char *sp_rpc_server_get_path(SpRpcServer *server)
{
	return NULL;
}

char *sp_rpc_server_default_path(void)
{
	return g_strdup("/tmp/softphoned-control");
}

void sp_rpc_server_publish(SpRpcServer *server, const char *event, json_object *params)
{
	json_object_put(params);
}
