/*
 * Loading the WebSocket transport's module (websocket.h): libsoup and what it brings are mapped
 * only by a daemon that serves a WebSocket.
 */
#include <gmodule.h>

#include "protocol/errors.h"
#include "protocol/websocket.h"

/*
 * The module of a program run from a meson build directory (build.ninja next to its own
 * directory, as the tests and the demo run it) is the one built beside it; an installed
 * program's is in SP_MODULE_DIR.
 */
static char *module_path(void)
{
	g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
	g_autofree char *dir = NULL;
	g_autofree char *ninja = NULL;

	if (exe != NULL) {
		dir = g_path_get_dirname(exe);
		ninja = g_build_filename(dir, "..", "build.ninja", NULL);
		if (g_file_test(ninja, G_FILE_TEST_IS_REGULAR))
			return g_build_filename(dir, "..", "protocol", SP_RPC_WS_MODULE_NAME, NULL);
	}
	return g_build_filename(SP_MODULE_DIR, SP_RPC_WS_MODULE_NAME, NULL);
}

const SpRpcWebsocketModule *sp_rpc_websocket_module_load(GError **error)
{
	static const SpRpcWebsocketModule *loaded;
	g_autofree char *path = NULL;
	GModule *module;
	gpointer symbol = NULL;

	if (loaded != NULL)
		return loaded;
	path = module_path();
	/* Local: its symbols stay its own. The module is never unloaded (libsoup keeps types). */
	module = g_module_open(path, G_MODULE_BIND_LOCAL);
	if (module == NULL) {
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED,
			    "cannot load the WebSocket module: %s", g_module_error());
		return NULL;
	}
	if (!g_module_symbol(module, SP_RPC_WS_MODULE_SYMBOL, &symbol) || symbol == NULL) {
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED, "%s has no %s: %s", path,
			    SP_RPC_WS_MODULE_SYMBOL, g_module_error());
		g_module_close(module);
		return NULL;
	}
	g_module_make_resident(module);
	loaded = symbol;
	return loaded;
}
