/* softphoned's entry point: options, config, logging, signals, sd_notify and the main loop. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <systemd/sd-daemon.h>

#include "config/config.h"
#include "daemon/phone.h"
#include "protocol/server.h"
#include "protocol/websocket.h"

#define SP_EXIT_OK 0
#define SP_EXIT_FAILURE 1
#define SP_EXIT_UNAVAILABLE 69 /* EX_UNAVAILABLE */
#define SP_EXIT_CONFIG 78      /* EX_CONFIG */

/* Time allowed beyond the shutdown deadline before the loop is left regardless. */
#define SP_SHUTDOWN_GRACE_MS 1000

typedef struct {
	GMainLoop *loop;
	SpPhone *phone;
	SpRpcServer *server;
	const SpRpcWebsocketModule *websocket_module; /* loaded with the first WebSocket */
	SpRpcWebsocket *websocket;
	guint shutdown_ms;
	gboolean stopping;
	guint hard_stop_id;
	int exit_code;
} SpDaemon;

static GLogLevelFlags max_level = G_LOG_LEVEL_INFO;
static gboolean log_to_journal;

static gboolean parse_log_level(const char *s, GLogLevelFlags *out)
{
	static const struct {
		const char *name;
		GLogLevelFlags level;
	} levels[] = {
		{"error", G_LOG_LEVEL_CRITICAL}, {"warning", G_LOG_LEVEL_WARNING},
		{"message", G_LOG_LEVEL_MESSAGE}, {"info", G_LOG_LEVEL_INFO},
		{"debug", G_LOG_LEVEL_DEBUG},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(levels); i++) {
		if (g_ascii_strcasecmp(s, levels[i].name) == 0) {
			*out = levels[i].level;
			return TRUE;
		}
	}
	return FALSE;
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static GLogWriterOutput log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
				   gpointer user_data)
{
	GLogLevelFlags only = level & G_LOG_LEVEL_MASK;
	GLogWriterOutput out = G_LOG_WRITER_UNHANDLED;

	/* Lower bits are more severe; anything above the chosen level is dropped. */
	if (only > max_level)
		return G_LOG_WRITER_HANDLED;

	/*
	 * The media thread logs too, and GLib's stream writer formats its timestamp with
	 * localtime(), whose buffer is libc's only one: one line at a time. A pthread mutex rather
	 * than a GMutex, so that ThreadSanitizer sees it.
	 */
	pthread_mutex_lock(&log_lock);
	if (log_to_journal)
		out = g_log_writer_journald(level, fields, n_fields, user_data);
	if (out != G_LOG_WRITER_HANDLED)
		out = g_log_writer_standard_streams(level, fields, n_fields, user_data);
	pthread_mutex_unlock(&log_lock);
	return out;
}

static void notify_status(SpPhone *phone, gpointer user_data)
{
	sd_notifyf(0, "STATUS=%u/%u sites ready", sp_phone_count_ready(phone),
		   sp_phone_count_connections(phone));
}

static void publish_event(const char *event, json_object *params, gpointer user_data)
{
	SpDaemon *d = user_data;

	if (d->server != NULL)
		sp_rpc_server_publish(d->server, event, params);
	else
		json_object_put(params);
}

static gboolean on_watchdog(gpointer user_data)
{
	sd_notify(0, "WATCHDOG=1");
	return G_SOURCE_CONTINUE;
}

static gboolean on_phone_stopped(gpointer user_data)
{
	SpDaemon *d = user_data;

	g_main_loop_quit(d->loop);
	return G_SOURCE_REMOVE;
}

static gboolean on_hard_stop(gpointer user_data)
{
	SpDaemon *d = user_data;

	d->hard_stop_id = 0;
	g_warning("shutdown did not finish in time; stopping anyway");
	g_main_loop_quit(d->loop);
	return G_SOURCE_REMOVE;
}

static gboolean on_stop_signal(gpointer user_data)
{
	SpDaemon *d = user_data;

	if (d->stopping) {
		/* A second signal: the user insists. */
		g_main_loop_quit(d->loop);
		return G_SOURCE_CONTINUE;
	}
	d->stopping = TRUE;
	g_message("stopping");
	sd_notify(0, "STOPPING=1");
	d->hard_stop_id =
		g_timeout_add(d->shutdown_ms + SP_SHUTDOWN_GRACE_MS, on_hard_stop, d);
	sp_phone_shutdown(d->phone, d->shutdown_ms, on_phone_stopped, d);
	return G_SOURCE_CONTINUE;
}

/*
 * The WebSocket transport, when configured: its token (a credential, or a file beside the
 * control socket unless websocket-token-file says where) and its listener.
 */
static gboolean start_websocket(SpDaemon *d, const SpConfig *config, const char *socket_path,
				GError **error)
{
	const SpDaemonConfig *dc = &config->daemon;
	g_autofree char *token_path = NULL;
	g_autofree char *source = NULL;
	g_autofree char *url = NULL;
	char *token;

	if (dc->websocket == NULL)
		return TRUE;
	d->websocket_module = sp_rpc_websocket_module_load(error);
	if (d->websocket_module == NULL)
		return FALSE;
	if (dc->websocket_token_file != NULL) {
		token_path = g_strdup(dc->websocket_token_file);
	} else {
		g_autofree char *dir = g_path_get_dirname(sp_rpc_server_get_path(d->server)
							      ? sp_rpc_server_get_path(d->server)
							      : socket_path);

		token_path = g_build_filename(dir, "websocket-token", NULL);
	}
	token = sp_rpc_websocket_load_token(token_path, &source, error);
	if (token == NULL)
		return FALSE;
	d->websocket = d->websocket_module->create(
	    d->server, dc->websocket, (const char *const *)dc->websocket_origins, token, error);
	explicit_bzero(token, strlen(token));
	g_free(token);
	if (d->websocket == NULL)
		return FALSE;
	url = d->websocket_module->page_url(d->websocket);
	g_message("agent page and WebSocket at %s (token from %s)", url, source);
	return TRUE;
}

static void stop_websocket(SpDaemon *d)
{
	if (d->websocket != NULL)
		d->websocket_module->free(g_steal_pointer(&d->websocket));
}

static void log_warnings(const SpConfig *config)
{
	for (guint i = 0; config->warnings != NULL && i < config->warnings->len; i++)
		g_warning("%s", (const char *)g_ptr_array_index(config->warnings, i));
}

int main(int argc, char **argv)
{
	g_autofree char *config_path = NULL;
	g_autofree char *socket_path = NULL;
	g_autofree char *log_level = NULL;
	gboolean check_config = FALSE;
	gboolean version = FALSE;
	GOptionEntry entries[] = {
		{"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
		 "Configuration file (key file or SipEndpoint.config)", "FILE"},
		{"socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path, "Control socket path",
		 "PATH"},
		{"log-level", 'l', 0, G_OPTION_ARG_STRING, &log_level,
		 "error, warning, message, info or debug", "LEVEL"},
		{"check-config", 0, 0, G_OPTION_ARG_NONE, &check_config,
		 "Validate the configuration and exit", NULL},
		{"version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
		{NULL},
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- headless SIP softphone daemon");
	g_autoptr(GError) error = NULL;
	g_autoptr(SpConfig) config = NULL;
	SpDaemon d = {0};
	guint watchdog_id = 0;
	guint64 watchdog_usec = 0;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "softphoned: %s\n", error->message);
		return SP_EXIT_FAILURE;
	}
	if (version) {
		printf("softphoned %s\n", SP_VERSION);
		return SP_EXIT_OK;
	}

	log_to_journal = g_log_writer_is_journald(fileno(stderr));
	g_log_set_writer_func(log_writer, NULL, NULL);
	if (log_level == NULL)
		log_level = g_strdup(g_getenv("SOFTPHONED_LOG_LEVEL"));
	if (log_level != NULL && !parse_log_level(log_level, &max_level)) {
		fprintf(stderr, "softphoned: unknown log level '%s'\n", log_level);
		return SP_EXIT_FAILURE;
	}

	if (config_path == NULL)
		config_path = sp_config_default_path();
	if (config_path != NULL) {
		config = sp_config_load(config_path, &error);
		if (config == NULL) {
			fprintf(stderr, "softphoned: %s\n", error->message);
			return SP_EXIT_CONFIG;
		}
	} else {
		config = sp_config_new();
	}
	if (check_config) {
		g_autofree char *mapping = sp_config_describe(config);

		for (guint i = 0; i < config->warnings->len; i++)
			fprintf(stderr, "softphoned: warning: %s\n",
				(const char *)g_ptr_array_index(config->warnings, i));
		/* A SipEndpoint.config: what each setting became, for a migrating admin. */
		fputs(mapping, stdout);
		printf("%s: OK (%u connections)\n", config_path ? config_path : "(defaults)",
		       config->connections->len);
		return SP_EXIT_OK;
	}
	if (log_level == NULL && config->daemon.log_level != NULL &&
	    !parse_log_level(config->daemon.log_level, &max_level)) {
		fprintf(stderr, "softphoned: %s: unknown log-level '%s'\n", config_path,
			config->daemon.log_level);
		return SP_EXIT_CONFIG;
	}
	log_warnings(config);

	d.shutdown_ms = config->daemon.shutdown_timeout_ms;
	d.exit_code = SP_EXIT_OK;

	d.phone = sp_phone_new(config, &error);
	if (d.phone == NULL) {
		g_critical("cannot create the phone: %s", error->message);
		return error->domain == SP_CONFIG_ERROR ? SP_EXIT_CONFIG : SP_EXIT_FAILURE;
	}
	sp_phone_set_event_func(d.phone, publish_event, &d);
	sp_phone_set_changed_func(d.phone, notify_status, &d);

	d.server = sp_rpc_server_new(sp_phone_api(), d.phone);
	if (socket_path == NULL)
		socket_path = g_strdup(config->daemon.socket_path);
	if (socket_path == NULL)
		socket_path = sp_rpc_server_default_path();
	if (!sp_rpc_server_listen(d.server, socket_path, &error)) {
		g_critical("cannot listen on %s: %s", socket_path, error->message);
		sp_rpc_server_free(d.server);
		sp_phone_free(d.phone);
		return SP_EXIT_UNAVAILABLE;
	}

	if (!start_websocket(&d, config, socket_path, &error)) {
		g_critical("cannot start the WebSocket transport: %s", error->message);
		sp_rpc_server_free(d.server);
		sp_phone_free(d.phone);
		return SP_EXIT_UNAVAILABLE;
	}

	if (!sp_phone_start(d.phone, &error)) {
		stop_websocket(&d);
		g_critical("cannot start: %s", error->message);
		sp_rpc_server_free(d.server);
		sp_phone_free(d.phone);
		return SP_EXIT_UNAVAILABLE;
	}

	d.loop = g_main_loop_new(NULL, FALSE);

	g_unix_signal_add(SIGTERM, on_stop_signal, &d);
	g_unix_signal_add(SIGINT, on_stop_signal, &d);
	if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0)
		watchdog_id = g_timeout_add(MAX(watchdog_usec / 2000, 1), on_watchdog, NULL);

	g_message("softphoned %s listening on %s", SP_VERSION,
		  sp_rpc_server_get_path(d.server) ? sp_rpc_server_get_path(d.server)
						   : "an activated socket");
	sd_notifyf(0, "READY=1\nSTATUS=%u/%u sites ready\nMAINPID=%lu",
		   sp_phone_count_ready(d.phone), sp_phone_count_connections(d.phone),
		   (unsigned long)getpid());

	g_main_loop_run(d.loop);

	if (watchdog_id != 0)
		g_source_remove(watchdog_id);
	if (d.hard_stop_id != 0)
		g_source_remove(d.hard_stop_id);
	stop_websocket(&d);
	g_clear_pointer(&d.server, sp_rpc_server_free);
	g_clear_pointer(&d.phone, sp_phone_free);
	g_main_loop_unref(d.loop);
	g_message("stopped");
	return d.exit_code;
}
