/* libFuzzer target: one SipEndpoint.config through sp_config_load_xml(), the XML reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-private.h"

/* No file a fuzz input names relatively (password-file=x) exists under this directory, and no
 * credential directory is looked in: only the text is read. */
#define FUZZ_PATH "/nonexistent-softphoned-fuzz/SipEndpoint.config"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A critical or warning (a g_return_if_fail() reached, a GError set twice) is a bug: abort,
 * which libFuzzer reports with the input (G_BREAKPOINT's SIGTRAP it does not catch). */
static GLogWriterOutput fatal_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
				     gpointer user_data)
{
	GLogWriterOutput out = g_log_writer_default(level, fields, n_fields, user_data);

	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
		abort();
	return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	g_unsetenv("CREDENTIALS_DIRECTORY");
	g_log_set_writer_func(fatal_writer, NULL, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(SpConfig) config = NULL;

	if (size > SP_CONFIG_MAX_FILE_SIZE)
		return 0;
	/* The loader's contract: a NUL after the text. */
	text = g_malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	/* What sp_config_load_data() lets through to the XML reader. */
	if (memchr(text, '\0', size) != NULL)
		return 0;
	config = sp_config_load_xml(FUZZ_PATH, text, size, &error);
	g_assert((config == NULL) != (error == NULL));
	if (config != NULL) {
		g_autofree char *described = sp_config_describe(config);

		g_assert(described != NULL);
		for (guint i = 0; i < config->connections->len; i++) {
			const SpConnectionConfig *c = g_ptr_array_index(config->connections, i);

			g_assert(c->user != NULL && c->server != NULL && c->domain != NULL);
			g_assert(c->retry_min_ms <= c->retry_max_ms);
		}
		g_assert(config->daemon.rtp_port_min < config->daemon.rtp_port_max);
		g_assert(config->audio.codecs != NULL && config->audio.codecs[0] != NULL);
	} else {
		g_assert(error->domain == SP_CONFIG_ERROR);
	}
	return 0;
}
