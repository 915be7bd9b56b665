/* Config loading: key file and SipEndpoint.config into SpConfig. (stub, being written) */
#include "config/config.h"

G_DEFINE_QUARK(sp-config-error-quark, sp_config_error)

SpConfig *sp_config_new(void)
{
	SpConfig *c = g_new0(SpConfig, 1);

	c->daemon.shutdown_timeout_ms = 3000;
	c->connections = g_ptr_array_new();
	c->warnings = g_ptr_array_new_with_free_func(g_free);
	return c;
}

void sp_config_free(SpConfig *c)
{
	if (c == NULL)
		return;
	g_ptr_array_unref(c->connections);
	g_ptr_array_unref(c->warnings);
	g_free(c);
}

SpConfig *sp_config_load(const char *path, GError **error)
{
	g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_IO, "%s: not implemented", path);
	return NULL;
}

char *sp_config_default_path(void)
{
	return NULL;
}
