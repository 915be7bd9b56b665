/* Unit tests of config/: defaults, every key, errors with file and line, XML, secrets. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>

#include "config/config.h"

/* A private temporary directory per test; the environment the loader reads is restored. */
typedef struct {
	char *dir;
	char *path; /* dir/softphoned.conf, written by load_text() */
} Fixture;

static const char *const env_vars[] = {"CREDENTIALS_DIRECTORY", "XDG_CONFIG_HOME"};

static void fixture_setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(env_vars); i++)
		g_unsetenv(env_vars[i]);
	f->dir = g_dir_make_tmp("test-config-XXXXXX", &error);
	g_assert_no_error(error);
	f->path = g_build_filename(f->dir, "softphoned.conf", NULL);
}

static void remove_tree(const char *path)
{
	GDir *dir = g_dir_open(path, 0, NULL);
	const char *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree char *child = g_build_filename(path, name, NULL);

		if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
			remove_tree(child);
		else
			g_assert_cmpint(g_unlink(child), ==, 0);
	}
	if (dir != NULL)
		g_dir_close(dir);
	g_assert_cmpint(g_rmdir(path), ==, 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
	for (gsize i = 0; i < G_N_ELEMENTS(env_vars); i++)
		g_unsetenv(env_vars[i]);
	remove_tree(f->dir);
	g_free(f->dir);
	g_free(f->path);
}

#define TEST(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)

static char *write_file(Fixture *f, const char *name, const char *text)
{
	char *path = g_build_filename(f->dir, name, NULL);
	g_autoptr(GError) error = NULL;

	g_file_set_contents(path, text, -1, &error);
	g_assert_no_error(error);
	return path;
}

static SpConfig *load_text(Fixture *f, const char *text, GError **error)
{
	g_autoptr(GError) e = NULL;

	g_file_set_contents(f->path, text, -1, &e);
	g_assert_no_error(e);
	return sp_config_load(f->path, error);
}

static SpConfig *load_ok(Fixture *f, const char *text)
{
	g_autoptr(GError) error = NULL;
	SpConfig *config = load_text(f, text, &error);

	g_assert_no_error(error);
	g_assert_nonnull(config);
	return config;
}

/* Loading text fails with an error whose message is exactly "<path>:<expected>". */
static void expect_error(Fixture *f, const char *text, int code, const char *expected)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(SpConfig) config = load_text(f, text, &error);
	g_autofree char *message = g_strdup_printf("%s:%s", f->path, expected);

	g_assert_null(config);
	g_assert_error(error, SP_CONFIG_ERROR, code);
	g_assert_cmpstr(error->message, ==, message);
}

static const SpConnectionConfig *connection(const SpConfig *config, guint i)
{
	g_assert_cmpuint(i, <, config->connections->len);
	return g_ptr_array_index(config->connections, i);
}

static char *source_path(const char *first, ...) G_GNUC_NULL_TERMINATED;

/* A file of the source tree; meson gives its root in SP_SOURCE_ROOT. */
static char *source_path(const char *first, ...)
{
	const char *root = g_getenv("SP_SOURCE_ROOT");
	g_autoptr(GPtrArray) parts = g_ptr_array_new();
	va_list ap;

	if (root == NULL)
		g_error("SP_SOURCE_ROOT is not set: run the test through meson");
	g_ptr_array_add(parts, (char *)root);
	va_start(ap, first);
	for (const char *p = first; p != NULL; p = va_arg(ap, const char *))
		g_ptr_array_add(parts, (char *)p);
	va_end(ap);
	g_ptr_array_add(parts, NULL);
	return g_build_filenamev((char **)parts->pdata);
}

static void assert_connection_defaults(const SpConnectionConfig *c)
{
	g_assert_cmpint(c->protocol, ==, SP_TRANSPORT_UDP);
	g_assert_null(c->auth_user);
	g_assert_null(c->password);
	g_assert_null(c->password_file);
	g_assert_null(c->display_name);
	g_assert_null(c->local_address);
	g_assert_null(c->ca_file);
	g_assert_true(c->tls_verify);
	g_assert_true(c->enabled);
	g_assert_cmpuint(c->reregister_in_seconds, ==, 3600);
	g_assert_cmpuint(c->reg_timeout_ms, ==, 0);
	g_assert_cmpuint(c->keepalive_interval_ms, ==, 5000);
	g_assert_cmpuint(c->probe_timeout_ms, ==, 2000);
	g_assert_cmpuint(c->probe_failures, ==, 2);
	g_assert_cmpuint(c->down_probe_interval_ms, ==, 2000);
	g_assert_cmpuint(c->retry_min_ms, ==, 1000);
	g_assert_cmpuint(c->retry_max_ms, ==, 30000);
}

/* Field by field, so that a new field is noticed here. */
static void assert_connections_equal(const SpConnectionConfig *a, const SpConnectionConfig *b)
{
	g_assert_cmpuint(a->id, ==, b->id);
	g_assert_cmpstr(a->user, ==, b->user);
	g_assert_cmpstr(a->server, ==, b->server);
	g_assert_cmpint(a->protocol, ==, b->protocol);
	g_assert_cmpstr(a->domain, ==, b->domain);
	g_assert_cmpstr(a->auth_user, ==, b->auth_user);
	g_assert_cmpstr(a->password, ==, b->password);
	g_assert_cmpstr(a->display_name, ==, b->display_name);
	g_assert_cmpstr(a->local_address, ==, b->local_address);
	g_assert_cmpstr(a->ca_file, ==, b->ca_file);
	g_assert_cmpint(a->tls_verify, ==, b->tls_verify);
	g_assert_cmpint(a->enabled, ==, b->enabled);
	g_assert_cmpuint(a->reregister_in_seconds, ==, b->reregister_in_seconds);
	g_assert_cmpuint(a->reg_timeout_ms, ==, b->reg_timeout_ms);
	g_assert_cmpuint(a->keepalive_interval_ms, ==, b->keepalive_interval_ms);
	g_assert_cmpuint(a->probe_timeout_ms, ==, b->probe_timeout_ms);
	g_assert_cmpuint(a->probe_failures, ==, b->probe_failures);
	g_assert_cmpuint(a->down_probe_interval_ms, ==, b->down_probe_interval_ms);
	g_assert_cmpuint(a->retry_min_ms, ==, b->retry_min_ms);
	g_assert_cmpuint(a->retry_max_ms, ==, b->retry_max_ms);
	g_assert_cmpstr(a->password_file, ==, b->password_file);
}

static void assert_configs_equal(const SpConfig *a, const SpConfig *b)
{
	g_assert_cmpstr(a->daemon.socket_path, ==, b->daemon.socket_path);
	g_assert_cmpstr(a->daemon.log_level, ==, b->daemon.log_level);
	g_assert_cmpuint(a->daemon.shutdown_timeout_ms, ==, b->daemon.shutdown_timeout_ms);
	g_assert_cmpuint(a->daemon.rtp_port_min, ==, b->daemon.rtp_port_min);
	g_assert_cmpuint(a->daemon.rtp_port_max, ==, b->daemon.rtp_port_max);
	g_assert_cmpint(a->policy.auto_answer, ==, b->policy.auto_answer);
	g_assert_cmpint(a->policy.honor_answer_after, ==, b->policy.honor_answer_after);
	g_assert_cmpint(a->policy.dtmf_method, ==, b->policy.dtmf_method);
	g_assert_cmpuint(a->policy.invite_failover_timeout_ms, ==,
			 b->policy.invite_failover_timeout_ms);
	g_assert_cmpuint(a->policy.rtp_inactivity_timeout_ms, ==,
			 b->policy.rtp_inactivity_timeout_ms);
	g_assert_true(g_strv_equal((const char *const *)a->policy.expose_headers,
				   (const char *const *)b->policy.expose_headers));
	g_assert_cmpuint(a->policy.session_expires_s, ==, b->policy.session_expires_s);
	g_assert_cmpuint(a->policy.min_session_expires_s, ==, b->policy.min_session_expires_s);
	g_assert_cmpstr(a->audio.capture, ==, b->audio.capture);
	g_assert_cmpstr(a->audio.playback, ==, b->audio.playback);
	g_assert_true(g_strv_equal((const char *const *)a->audio.codecs,
				   (const char *const *)b->audio.codecs));
	g_assert_cmpuint(a->audio.ptime_ms, ==, b->audio.ptime_ms);
	assert_connections_equal(a->connection_defaults, b->connection_defaults);
	g_assert_cmpuint(a->connections->len, ==, b->connections->len);
	for (guint i = 0; i < a->connections->len; i++)
		assert_connections_equal(connection(a, i), connection(b, i));
}

static gboolean has_warning(const SpConfig *config, const char *text)
{
	for (guint i = 0; i < config->warnings->len; i++) {
		if (strstr(g_ptr_array_index(config->warnings, i), text) != NULL)
			return TRUE;
	}
	return FALSE;
}

/* ---- defaults and the key file ------------------------------------------------------------ */

static void test_defaults(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = sp_config_new();
	g_autoptr(SpConnectionConfig) c = sp_connection_config_new();

	g_assert_null(config->path);
	g_assert_null(config->daemon.socket_path);
	g_assert_null(config->daemon.log_level);
	g_assert_cmpuint(config->daemon.shutdown_timeout_ms, ==, 3000);
	g_assert_cmpuint(config->daemon.rtp_port_min, ==, 16384);
	g_assert_cmpuint(config->daemon.rtp_port_max, ==, 32767);
	g_assert_false(config->policy.auto_answer);
	g_assert_true(config->policy.honor_answer_after);
	g_assert_cmpint(config->policy.dtmf_method, ==, SP_DTMF_RFC4733);
	g_assert_cmpuint(config->policy.invite_failover_timeout_ms, ==, 2000);
	g_assert_cmpstr(config->audio.capture, ==, "default");
	g_assert_cmpstr(config->audio.playback, ==, "default");
	g_assert_cmpuint(config->connections->len, ==, 0);
	g_assert_cmpuint(config->warnings->len, ==, 0);
	assert_connection_defaults(config->connection_defaults);

	g_assert_cmpuint(c->id, ==, 0);
	g_assert_null(c->user);
	g_assert_null(c->server);
	g_assert_null(c->domain);
	assert_connection_defaults(c);

	sp_config_free(NULL);
	sp_connection_config_free(NULL);
	g_assert_null(sp_connection_config_copy(NULL));
}

static void test_keyfile_minimal(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = load_ok(f, "[connection 0]\nuser=5001\nserver=siteA\n");
	g_autoptr(SpConfig) defaults = sp_config_new();
	const SpConnectionConfig *c = connection(config, 0);

	g_assert_cmpstr(config->path, ==, f->path);
	g_assert_cmpuint(config->connections->len, ==, 1);
	g_assert_cmpuint(config->warnings->len, ==, 0);
	g_assert_cmpuint(c->id, ==, 0);
	g_assert_cmpstr(c->user, ==, "5001");
	g_assert_cmpstr(c->server, ==, "siteA");
	g_assert_cmpstr(c->domain, ==, "siteA"); /* the server's host */
	assert_connection_defaults(c);

	/* Nothing else changed. */
	g_ptr_array_set_size(config->connections, 0);
	g_clear_pointer(&config->path, g_free);
	assert_configs_equal(config, defaults);
}

static void test_keyfile_empty(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = load_ok(f, "");
	g_autoptr(SpConfig) comments = NULL;
	g_autoptr(SpConfig) defaults = sp_config_new();

	g_assert_cmpuint(config->connections->len, ==, 0);
	assert_configs_equal(config, defaults);
	comments = load_ok(f, "# nothing\n\n   # but comments\n");
	assert_configs_equal(comments, defaults);
}

/* The SIP Server keys of [policy]: exposed headers (globs, lower case) and session timers. */
static void test_keyfile_sipserver_policy(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) defaults = load_ok(f, "");
	g_autoptr(SpConfig) config =
	    load_ok(f, "[policy]\n"
		       "expose-headers= X-Genesys-*, X-Site ,, User-To-User\n"
		       "session-expires=600\n"
		       "min-session-expires=4\n");
	g_autoptr(SpConfig) none = load_ok(f, "[policy]\nexpose-headers=\n");

	g_assert_cmpuint(g_strv_length(defaults->policy.expose_headers), ==, 1);
	g_assert_cmpstr(defaults->policy.expose_headers[0], ==, "x-genesys-*");
	g_assert_cmpuint(defaults->policy.session_expires_s, ==, 1800);
	g_assert_cmpuint(defaults->policy.min_session_expires_s, ==, 90);
	g_assert_cmpuint(g_strv_length(config->policy.expose_headers), ==, 3);
	g_assert_cmpstr(config->policy.expose_headers[0], ==, "x-genesys-*");
	g_assert_cmpstr(config->policy.expose_headers[1], ==, "x-site");
	g_assert_cmpstr(config->policy.expose_headers[2], ==, "user-to-user");
	g_assert_cmpuint(config->policy.session_expires_s, ==, 600);
	g_assert_cmpuint(config->policy.min_session_expires_s, ==, 4);
	g_assert_cmpuint(g_strv_length(none->policy.expose_headers), ==, 0);
	expect_error(f, "[policy]\nexpose-headers=X-Genesys-*, X Bad\n", SP_CONFIG_ERROR_INVALID,
		     "2: [policy] expose-headers: \"X Bad\" is not a header name pattern (letters, "
		     "digits, -.!%_+`'~ and the wildcards * ?)");
	expect_error(f, "[policy]\nmin-session-expires=0\n", SP_CONFIG_ERROR_INVALID,
		     "2: [policy] min-session-expires: must be at least 1 (got \"0\")");
}

static void test_keyfile_every_key(Fixture *f, gconstpointer data)
{
	g_autofree char *ca = write_file(f, "ca.pem", "-----BEGIN CERTIFICATE-----\n");
	g_autofree char *pw = write_file(f, "b.password", "pw-b\n");
	g_autoptr(SpConfig) config = load_ok(f, "[daemon]\n"
						"socket=/run/user/1000/sp/control\n"
						"log-level=DEBUG\n"
						"shutdown-timeout=1.5\n"
						"rtp-port-min=20000\n"
						"rtp-port-max=20099\n"
						"[policy]\n"
						"auto-answer=true\n"
						"honor-answer-after=false\n"
						"dtmf-method=inband\n"
						"invite-failover-timeout=0.75\n"
						"[audio]\n"
						"capture=plughw:1,0\n"
						"playback=dmix\n"
						"[connection 7]\n"
						"user=5001\n"
						"server=siteA.example.net:5070\n"
						"protocol=TLS\n"
						"domain=example.net\n"
						"auth-user=agent@example.net\n"
						"password=s3cret\n"
						"display-name=Agent Ünï 5001\n"
						"reregister-in-seconds=120\n"
						"enabled=false\n"
						"local-address=127.0.0.2\n"
						"ca-file=ca.pem\n"
						"tls-verify=false\n"
						"reg-timeout=4\n"
						"keepalive-interval=0.5\n"
						"probe-timeout=0.25\n"
						"probe-failures=3\n"
						"down-probe-interval=1\n"
						"retry-min=2\n"
						"retry-max=60\n"
						"[connection 3]\n"
						"user=5002\n"
						"server=[::1]:5060\n"
						"protocol=tcp\n"
						"password-file=b.password\n");
	const SpConnectionConfig *a = connection(config, 1);
	const SpConnectionConfig *b = connection(config, 0);

	g_assert_cmpuint(config->warnings->len, ==, 0);
	g_assert_cmpstr(config->daemon.socket_path, ==, "/run/user/1000/sp/control");
	g_assert_cmpstr(config->daemon.log_level, ==, "debug");
	g_assert_cmpuint(config->daemon.shutdown_timeout_ms, ==, 1500);
	g_assert_cmpuint(config->daemon.rtp_port_min, ==, 20000);
	g_assert_cmpuint(config->daemon.rtp_port_max, ==, 20099);
	g_assert_true(config->policy.auto_answer);
	g_assert_false(config->policy.honor_answer_after);
	g_assert_cmpint(config->policy.dtmf_method, ==, SP_DTMF_INBAND);
	g_assert_cmpuint(config->policy.invite_failover_timeout_ms, ==, 750);
	g_assert_cmpstr(config->audio.capture, ==, "plughw:1,0");
	g_assert_cmpstr(config->audio.playback, ==, "dmix");

	/* Sorted by id. */
	g_assert_cmpuint(config->connections->len, ==, 2);
	g_assert_cmpuint(a->id, ==, 7);
	g_assert_cmpstr(a->user, ==, "5001");
	g_assert_cmpstr(a->server, ==, "siteA.example.net:5070");
	g_assert_cmpint(a->protocol, ==, SP_TRANSPORT_TLS);
	g_assert_cmpstr(a->domain, ==, "example.net");
	g_assert_cmpstr(a->auth_user, ==, "agent@example.net");
	g_assert_cmpstr(a->password, ==, "s3cret");
	g_assert_null(a->password_file);
	g_assert_cmpstr(a->display_name, ==, "Agent Ünï 5001");
	g_assert_cmpuint(a->reregister_in_seconds, ==, 120);
	g_assert_false(a->enabled);
	g_assert_cmpstr(a->local_address, ==, "127.0.0.2");
	g_assert_cmpstr(a->ca_file, ==, ca);
	g_assert_false(a->tls_verify);
	g_assert_cmpuint(a->reg_timeout_ms, ==, 4000);
	g_assert_cmpuint(a->keepalive_interval_ms, ==, 500);
	g_assert_cmpuint(a->probe_timeout_ms, ==, 250);
	g_assert_cmpuint(a->probe_failures, ==, 3);
	g_assert_cmpuint(a->down_probe_interval_ms, ==, 1000);
	g_assert_cmpuint(a->retry_min_ms, ==, 2000);
	g_assert_cmpuint(a->retry_max_ms, ==, 60000);

	g_assert_cmpuint(b->id, ==, 3);
	g_assert_cmpstr(b->server, ==, "[::1]:5060");
	g_assert_cmpstr(b->domain, ==, "[::1]");
	g_assert_cmpint(b->protocol, ==, SP_TRANSPORT_TCP);
	g_assert_cmpstr(b->password, ==, "pw-b");
	g_assert_cmpstr(b->password_file, ==, pw);
}

static void test_keyfile_policy_defaults(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = load_ok(f, "[policy]\n"
						"keepalive-interval=1\n"
						"probe-timeout=0.5\n"
						"probe-failures=4\n"
						"down-probe-interval=3\n"
						"retry-min=0.2\n"
						"retry-max=5\n"
						"reregister-in-seconds=300\n"
						"reg-timeout=8\n"
						"[connection 0]\n"
						"user=5001\n"
						"server=siteA\n"
						"[connection 1]\n"
						"user=5001\n"
						"server=siteB\n"
						"keepalive-interval=2\n"
						"retry-max=10\n"
						"reregister-in-seconds=60\n");
	const SpConnectionConfig *a = connection(config, 0);
	const SpConnectionConfig *b = connection(config, 1);

	g_assert_cmpuint(config->connection_defaults->keepalive_interval_ms, ==, 1000);
	g_assert_cmpuint(a->keepalive_interval_ms, ==, 1000);
	g_assert_cmpuint(a->probe_timeout_ms, ==, 500);
	g_assert_cmpuint(a->probe_failures, ==, 4);
	g_assert_cmpuint(a->down_probe_interval_ms, ==, 3000);
	g_assert_cmpuint(a->retry_min_ms, ==, 200);
	g_assert_cmpuint(a->retry_max_ms, ==, 5000);
	g_assert_cmpuint(a->reregister_in_seconds, ==, 300);
	g_assert_cmpuint(a->reg_timeout_ms, ==, 8000);
	/* A [connection N] key overrides its default, the others stay. */
	g_assert_cmpuint(b->keepalive_interval_ms, ==, 2000);
	g_assert_cmpuint(b->retry_max_ms, ==, 10000);
	g_assert_cmpuint(b->reregister_in_seconds, ==, 60);
	g_assert_cmpuint(b->probe_failures, ==, 4);
	g_assert_cmpuint(b->retry_min_ms, ==, 200);
}

static void test_keyfile_syntax(Fixture *f, gconstpointer data)
{
	/* A byte order mark, CRLF lines, spaces around '=', indented lines, escapes. */
	g_autoptr(SpConfig) config = load_ok(f, "\xef\xbb\xbf# Windows editor\r\n"
						"[connection 0]\r\n"
						"  user = 5001 \r\n"
						"server\t=\tsiteA:5060\r\n"
						"display-name=\\sAgent \\\\ One\r\n"
						"password=back\\\\slash \r\n");
	const SpConnectionConfig *c = connection(config, 0);

	g_assert_cmpstr(c->user, ==, "5001");
	g_assert_cmpstr(c->server, ==, "siteA:5060");
	g_assert_cmpstr(c->display_name, ==, "Agent \\ One");
	g_assert_cmpstr(c->password, ==, "back\\slash "); /* a password is taken as it is */
	g_assert_cmpuint(config->warnings->len, ==, 0);
	/* Control characters (the \t) are refused in a display name. */
	expect_error(f, "[connection 0]\nuser=1\nserver=a\ndisplay-name=a\\tb\n",
		     SP_CONFIG_ERROR_INVALID,
		     "4: [connection 0] display-name: must not contain control characters "
		     "(got \"a\\x09b\")");
}

static void test_keyfile_times(Fixture *f, gconstpointer data)
{
	static const struct {
		const char *text;
		guint ms;
	} times[] = {
	    {"5", 5000},      {"0.5", 500}, {".25", 250},	 {"2.", 2000},	{"1.2344", 1234},
	    {"1.2345", 1235}, {"0.1", 100}, {"86400", 86400000}, {" 3 ", 3000}, {"007.500", 7500},
	};
	static const char *const bad[] = {"",
					  "5s",
					  "1e3",
					  "-1",
					  "0x10",
					  "1.2.3",
					  ".",
					  "inf",
					  "0.09",
					  "86400.001",
					  "99999999999999999999"};

	for (gsize i = 0; i < G_N_ELEMENTS(times); i++) {
		g_autoptr(SpConnectionConfig) c = sp_connection_config_new();
		g_autoptr(GError) error = NULL;

		g_assert_true(
		    sp_connection_config_set(c, "keepalive-interval", times[i].text, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(c->keepalive_interval_ms, ==, times[i].ms);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(SpConnectionConfig) c = sp_connection_config_new();
		g_autoptr(GError) error = NULL;

		g_assert_false(sp_connection_config_set(c, "keepalive-interval", bad[i], &error));
		g_assert_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID);
		g_assert_cmpuint(c->keepalive_interval_ms, ==, 5000);
	}
}

static void test_keyfile_unknown(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = load_ok(f, "[daemon]\n"
						"sockett=/tmp/x\n"
						"[policy]\n"
						"auto_answer=true\n"
						"[sounds]\n"
						"ring=bell.wav\n"
						"[connection 0]\n"
						"user=5001\n"
						"server=siteA\n"
						"proxy=siteC\n"
						"[connections]\n"
						"[audio]\n"
						"volume=11\n");
	g_autofree char *w0 =
	    g_strdup_printf("%s:2: [daemon] unknown key \"sockett\" ignored", f->path);
	g_autofree char *w1 =
	    g_strdup_printf("%s:4: [policy] unknown key \"auto_answer\" ignored", f->path);

	g_assert_cmpuint(config->connections->len, ==, 1);
	g_assert_false(config->policy.auto_answer);
	g_assert_cmpuint(config->warnings->len, ==, 6);
	/* Reported once each, in a stable order: globals, then groups in file order. */
	g_assert_cmpstr(g_ptr_array_index(config->warnings, 0), ==, w0);
	g_assert_cmpstr(g_ptr_array_index(config->warnings, 1), ==, w1);
	g_assert_true(has_warning(config, ":13: [audio] unknown key \"volume\" ignored"));
	g_assert_true(has_warning(config, ":5: unknown group [sounds] ignored"));
	g_assert_true(has_warning(config, ":11: unknown group [connections] ignored"));
	g_assert_true(has_warning(config, ":10: [connection 0] unknown key \"proxy\" ignored"));
}

static void test_keyfile_repeated(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = load_ok(f, "[connection 0]\n"
						"user=5001\n"
						"server=siteA\n"
						"[connection 1]\n"
						"user=5002\n"
						"server=siteB\n"
						"[connection 0]\n"
						"server=siteC\n");

	/* GKeyFile merges the groups and keeps the last value: say so. */
	g_assert_cmpstr(connection(config, 0)->server, ==, "siteC");
	g_assert_cmpuint(config->warnings->len, ==, 2);
	g_assert_true(has_warning(config, ":7: [connection 0] appears again (first at line 1)"));
	g_assert_true(has_warning(config, ":8: [connection 0] server: given again (first at line "
					  "3); the last value counts"));
	/* And an error in the last value names its line. */
	expect_error(f, "[connection 0]\nuser=5001\nserver=siteA\nserver=siteA:0\n",
		     SP_CONFIG_ERROR_INVALID,
		     "4: [connection 0] server: the port must be 1..65535 (got \"siteA:0\")");
}

static void test_keyfile_servers(Fixture *f, gconstpointer data)
{
	static const char *const good[] = {
	    "siteA",	  "siteA.example.net",	"site-a.example.net.",
	    "sip_a.lan",  "192.0.2.1",		"192.0.2.1:5060",
	    "siteA:1",	  "siteA:65535",	"[::1]",
	    "[::1]:5060", "[2001:db8::5]:5061", "  siteA:5060  ",
	};
	static const char *const bad[] = {
	    "",
	    "siteA:",
	    "siteA:0",
	    "siteA:65536",
	    "siteA:50x",
	    "siteA:-1",
	    "::1",
	    "::1:5060",
	    "[::1",
	    "[siteA]:5060",
	    "[::1]5060",
	    "[::1]:",
	    "sip:siteA",
	    "sips:siteA:5061",
	    "site A",
	    "siteA:5060:1",
	    "-siteA",
	    "site..A",
	    "siteA\r\nVia: evil",
	    "siteA/x",
	    "user@siteA",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
		g_autoptr(SpConnectionConfig) c = sp_connection_config_new();
		g_autoptr(GError) error = NULL;
		g_autofree char *stripped = g_strstrip(g_strdup(good[i]));

		g_assert_true(sp_connection_config_set(c, "server", good[i], &error));
		g_assert_no_error(error);
		g_assert_cmpstr(c->server, ==, stripped);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(SpConnectionConfig) c = sp_connection_config_new();
		g_autoptr(GError) error = NULL;

		if (g_test_verbose())
			g_test_message("server %s", bad[i]);
		g_assert_false(sp_connection_config_set(c, "server", bad[i], &error));
		g_assert_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID);
		g_assert_null(c->server);
	}
}

/* ---- sp_connection_config_set(), as AddConnection uses it ----------------------------------- */

static void set_ok(SpConnectionConfig *c, const char *key, const char *value)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(sp_connection_config_set(c, key, value, &error));
	g_assert_no_error(error);
}

static void set_fails(SpConnectionConfig *c, const char *key, const char *value,
		      const char *message)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(sp_connection_config_set(c, key, value, &error));
	g_assert_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID);
	if (message != NULL)
		g_assert_cmpstr(error->message, ==, message);
}

static void test_set_every_key(Fixture *f, gconstpointer data)
{
	static const char *const keys[] = {
	    "auth-user",
	    "ca-file",
	    "display-name",
	    "domain",
	    "down-probe-interval",
	    "enabled",
	    "keepalive-interval",
	    "local-address",
	    "password",
	    "password-file",
	    "probe-failures",
	    "probe-timeout",
	    "protocol",
	    "reg-timeout",
	    "reregister-in-seconds",
	    "retry-max",
	    "retry-min",
	    "server",
	    "tls-verify",
	    "user",
	};
	g_autoptr(SpConnectionConfig) c = sp_connection_config_new();
	g_autofree char *ca = write_file(f, "ca.pem", "x");
	g_autoptr(SpConnectionConfig) copy = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
		g_assert_true(sp_connection_config_has_key(keys[i]));
	g_assert_false(sp_connection_config_has_key("id"));
	g_assert_false(sp_connection_config_has_key("Server"));
	g_assert_false(sp_connection_config_has_key("reregister_in_seconds"));
	g_assert_false(sp_connection_config_has_key(NULL));

	set_ok(c, "user", "5001");
	set_ok(c, "server", "siteA:5060");
	set_ok(c, "protocol", "Tcp");
	g_assert_cmpint(c->protocol, ==, SP_TRANSPORT_TCP);
	set_ok(c, "domain", "example.net");
	set_ok(c, "auth-user", "agent");
	set_ok(c, "password", " with spaces ");
	g_assert_cmpstr(c->password, ==, " with spaces ");
	set_ok(c, "display-name", "Agent");
	set_ok(c, "reregister-in-seconds", "600");
	set_ok(c, "enabled", "false");
	g_assert_false(c->enabled);
	set_ok(c, "enabled", "1");
	g_assert_true(c->enabled);
	set_ok(c, "enabled", "No");
	g_assert_false(c->enabled);
	set_ok(c, "local-address", "::1");
	g_assert_cmpstr(c->local_address, ==, "::1");
	set_ok(c, "local-address", "[::1]");
	g_assert_cmpstr(c->local_address, ==, "::1");
	set_ok(c, "ca-file", ca);
	g_assert_cmpstr(c->ca_file, ==, ca);
	set_ok(c, "tls-verify", "off");
	g_assert_false(c->tls_verify);
	set_ok(c, "reg-timeout", "0");
	set_ok(c, "keepalive-interval", "0.1");
	set_ok(c, "probe-timeout", "1");
	set_ok(c, "probe-failures", "1");
	set_ok(c, "down-probe-interval", "0.5");
	set_ok(c, "retry-min", "0.5");
	set_ok(c, "retry-max", "0.5");
	g_assert_cmpuint(c->keepalive_interval_ms, ==, 100);
	g_assert_cmpuint(c->probe_failures, ==, 1);

	/* A deep copy. */
	copy = sp_connection_config_copy(c);
	assert_connections_equal(c, copy);
	g_assert_true(copy->user != c->user);
	g_assert_true(copy->password != c->password);

	/* An empty value clears an optional key. */
	set_ok(c, "display-name", "");
	g_assert_null(c->display_name);
	set_ok(c, "domain", "");
	g_assert_null(c->domain);
	set_ok(c, "password", "");
	g_assert_null(c->password);
	set_ok(c, "local-address", "");
	g_assert_null(c->local_address);
	set_ok(c, "ca-file", "");
	g_assert_null(c->ca_file);
}

static void test_set_bad_values(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConnectionConfig) c = sp_connection_config_new();

	set_fails(c, "proxy", "y", "unknown option \"proxy\"");
	set_fails(c, NULL, "y", "unknown option \"\"");
	set_fails(c, "user", "", "must not be empty");
	set_fails(c, "user", "50 01", "must not contain spaces, '@' or ':' (got \"50 01\")");
	set_fails(c, "user", "5001@siteA", NULL);
	set_fails(c, "user", "sip:5001", NULL);
	set_fails(c, "user", "<5001>", NULL);
	set_fails(c, "user", "agent\"x", NULL);
	set_fails(c, "server", "", "must not be empty");
	set_fails(c, "server", "siteA:70000", "the port must be 1..65535 (got \"siteA:70000\")");
	set_fails(c, "server", "::1",
		  "an IPv6 address must be in brackets, as in [::1]:5060 (got \"::1\")");
	set_fails(c, "protocol", "sctp", "must be udp, tcp or tls (got \"sctp\")");
	set_fails(c, "protocol", "", NULL);
	set_fails(c, "domain", "example.net:5060",
		  "must be a host name or IP address, without a port (got \"example.net:5060\")");
	set_fails(c, "auth-user", "a:b", NULL);
	set_fails(c, "display-name", "a\nb", NULL);
	set_fails(c, "display-name", "\xff", "must be valid UTF-8");
	set_fails(c, "enabled", "maybe", "must be true or false (got \"maybe\")");
	set_fails(c, "tls-verify", "", NULL);
	set_fails(c, "reregister-in-seconds", "soon", "must be a whole number (got \"soon\")");
	set_fails(c, "reregister-in-seconds", "0", "must be at least 1 (got \"0\")");
	set_fails(c, "reregister-in-seconds", "1.5", NULL);
	set_fails(c, "reregister-in-seconds", "2147483648",
		  "must be at most 2147483647 (got \"2147483648\")");
	set_fails(c, "probe-failures", "0", "must be at least 1 (got \"0\")");
	set_fails(c, "probe-failures", "101", "must be at most 100 (got \"101\")");
	set_fails(c, "keepalive-interval", "0.05", "must be at least 0.1 s (got \"0.05\")");
	set_fails(c, "keepalive-interval", "5s",
		  "must be a number of seconds, such as 5 or 0.5 (got \"5s\")");
	set_fails(c, "probe-timeout", "0", NULL);
	set_fails(c, "down-probe-interval", "0", NULL);
	set_fails(c, "retry-min", "0", NULL);
	set_fails(c, "retry-max", "86401", "must be at most 86400 s (got \"86401\")");
	set_fails(c, "reg-timeout", "3601", NULL);
	set_fails(c, "local-address", "siteA", "must be an IP address (got \"siteA\")");
	set_fails(c, "local-address", "127.0.0.1:5060", NULL);
	set_fails(c, "ca-file", "no-such-ca.pem", NULL);
	set_fails(c, "ca-file", f->dir, NULL);

	/* Nothing was changed by a failure. */
	assert_connection_defaults(c);
	g_assert_null(c->user);
	g_assert_null(c->server);
}

static void test_set_validate(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConnectionConfig) c = sp_connection_config_new();
	g_autoptr(GError) error = NULL;

	c->id = G_MAXUINT; /* "any": AddConnection without connectionId */
	g_assert_false(sp_connection_config_validate(c, &error));
	g_assert_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID);
	g_assert_cmpstr(error->message, ==, "user: missing (the DN to register)");
	g_clear_error(&error);

	set_ok(c, "user", "5001");
	g_assert_false(sp_connection_config_validate(c, &error));
	g_assert_cmpstr(error->message, ==, "server: missing (host[:port] of the SIP Server site)");
	g_clear_error(&error);

	set_ok(c, "server", "siteB.example.net:5070");
	set_ok(c, "retry-min", "40");
	g_assert_false(sp_connection_config_validate(c, &error));
	g_assert_cmpstr(error->message, ==,
			"retry-min: must not be greater than retry-max (30 s; got 40 s)");
	g_clear_error(&error);

	set_ok(c, "retry-max", "40");
	g_assert_true(sp_connection_config_validate(c, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(c->domain, ==, "siteB.example.net");
	g_assert_cmpuint(c->id, ==, G_MAXUINT);

	/* A domain given stays. */
	set_ok(c, "domain", "example.net");
	g_assert_true(sp_connection_config_validate(c, &error));
	g_assert_cmpstr(c->domain, ==, "example.net");
}

static void test_set_enums(Fixture *f, gconstpointer data)
{
	SpTransport t = SP_TRANSPORT_UDP;
	SpDtmfMethod m = SP_DTMF_RFC4733;

	g_assert_cmpstr(sp_transport_to_string(SP_TRANSPORT_UDP), ==, "udp");
	g_assert_cmpstr(sp_transport_to_string(SP_TRANSPORT_TCP), ==, "tcp");
	g_assert_cmpstr(sp_transport_to_string(SP_TRANSPORT_TLS), ==, "tls");
	g_assert_true(sp_transport_from_string("TLS", &t));
	g_assert_cmpint(t, ==, SP_TRANSPORT_TLS);
	g_assert_true(sp_transport_from_string("tcp", &t));
	g_assert_cmpint(t, ==, SP_TRANSPORT_TCP);
	g_assert_false(sp_transport_from_string("sctp", &t));
	g_assert_false(sp_transport_from_string(NULL, &t));
	g_assert_cmpint(t, ==, SP_TRANSPORT_TCP);

	g_assert_cmpstr(sp_dtmf_method_to_string(SP_DTMF_RFC4733), ==, "rfc4733");
	g_assert_cmpstr(sp_dtmf_method_to_string(SP_DTMF_INFO), ==, "info");
	g_assert_cmpstr(sp_dtmf_method_to_string(SP_DTMF_INBAND), ==, "inband");
	g_assert_true(sp_dtmf_method_from_string("Rfc2833", &m));
	g_assert_cmpint(m, ==, SP_DTMF_RFC4733);
	g_assert_true(sp_dtmf_method_from_string("INFO", &m));
	g_assert_cmpint(m, ==, SP_DTMF_INFO);
	g_assert_true(sp_dtmf_method_from_string("InbandRtp", &m));
	g_assert_cmpint(m, ==, SP_DTMF_INBAND);
	g_assert_true(sp_dtmf_method_from_string("rfc4733", &m));
	g_assert_cmpint(m, ==, SP_DTMF_RFC4733);
	g_assert_false(sp_dtmf_method_from_string("tones", &m));
	g_assert_false(sp_dtmf_method_from_string(NULL, &m));
}

/* ---- errors: file, line, group and key ----------------------------------------------------- */

#define CONN0 "[connection 0]\nuser=5001\nserver=siteA\n"

static void test_errors_bad_port(Fixture *f, gconstpointer data)
{
	expect_error(f, CONN0 "[connection 1]\nuser=5001\nserver=siteB:99999\n",
		     SP_CONFIG_ERROR_INVALID,
		     "6: [connection 1] server: the port must be 1..65535 (got \"siteB:99999\")");
	expect_error(f, "[daemon]\nrtp-port-min=0\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] rtp-port-min: must be at least 1 (got \"0\")");
	expect_error(f, "[daemon]\nrtp-port-max=65536\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] rtp-port-max: must be at most 65535 (got \"65536\")");
	expect_error(f, "[daemon]\nrtp-port-min=10001\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] rtp-port-min: must be even: RTP takes even ports, RTCP the next "
		     "(got 10001)");
	expect_error(f, "# ports\n[daemon]\nrtp-port-min=40000\n", SP_CONFIG_ERROR_INVALID,
		     "3: [daemon] rtp-port-min: must be below rtp-port-max (32767; got 40000)");
	expect_error(f, "[daemon]\nrtp-port-max=1000\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] rtp-port-max: must be above rtp-port-min (16384; got 1000)");
	expect_error(f, "[daemon]\nrtp-port-min=2000\nrtp-port-max=2000\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] rtp-port-min: must be below rtp-port-max (2000; got 2000)");
	expect_error(f, "[daemon]\nsip-port-min=5100\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] sip-port-min: sip-port-min and sip-port-max go together");
	expect_error(f, "[daemon]\nsip-port-min=5100\nsip-port-max=5000\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] sip-port-min: the range is empty (sip-port-min 5100, "
		     "sip-port-max 5000)");
	expect_error(f, "[daemon]\nsip-dscp=64\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] sip-dscp: must be at most 63 (got \"64\")");
}

static void test_errors_values(Fixture *f, gconstpointer data)
{
	expect_error(f,
		     "\n\n" CONN0 "\n[connection 1]\nuser=5001\nserver=siteB\n\n"
		     "probe-failures=0\n",
		     SP_CONFIG_ERROR_INVALID,
		     "11: [connection 1] probe-failures: must be at least 1 (got \"0\")");
	expect_error(f, CONN0 "keepalive-interval=0.01\n", SP_CONFIG_ERROR_INVALID,
		     "4: [connection 0] keepalive-interval: must be at least 0.1 s (got \"0.01\")");
	expect_error(f, CONN0 "protocol=sctp\n", SP_CONFIG_ERROR_INVALID,
		     "4: [connection 0] protocol: must be udp, tcp or tls (got \"sctp\")");
	expect_error(f, CONN0 "enabled=yes please\n", SP_CONFIG_ERROR_INVALID,
		     "4: [connection 0] enabled: must be true or false (got \"yes please\")");
	expect_error(f, "[connection 0]\nuser=50 01\nserver=siteA\n", SP_CONFIG_ERROR_INVALID,
		     "2: [connection 0] user: must not contain spaces, '@' or ':' (got \"50 01\")");
	expect_error(f, "[connection 0]\nuser=5001@siteA\nserver=siteA\n", SP_CONFIG_ERROR_INVALID,
		     "2: [connection 0] user: must not contain spaces, '@' or ':' "
		     "(got \"5001@siteA\")");
	expect_error(f, "[connection 0]\nuser=5001\nserver=::1\n", SP_CONFIG_ERROR_INVALID,
		     "3: [connection 0] server: an IPv6 address must be in brackets, as in "
		     "[::1]:5060 (got \"::1\")");
	expect_error(f, "[policy]\ndtmf-method=tones\n", SP_CONFIG_ERROR_INVALID,
		     "2: [policy] dtmf-method: must be rfc4733, info or inband (got \"tones\")");
	expect_error(f, "[policy]\nauto-answer=2\n", SP_CONFIG_ERROR_INVALID,
		     "2: [policy] auto-answer: must be true or false (got \"2\")");
	expect_error(f, "[policy]\ninvite-failover-timeout=0\n", SP_CONFIG_ERROR_INVALID,
		     "2: [policy] invite-failover-timeout: must be at least 0.1 s (got \"0\")");
	expect_error(f, "[policy]\nprobe-failures=0\n", SP_CONFIG_ERROR_INVALID,
		     "2: [policy] probe-failures: must be at least 1 (got \"0\")");
	expect_error(f, "[daemon]\nlog-level=verbose\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] log-level: must be error, warning, message, info or debug "
		     "(got \"verbose\")");
	expect_error(f, "[daemon]\nsocket=control\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] socket: must be an absolute path (got \"control\")");
	expect_error(f, "[daemon]\nshutdown-timeout=601\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] shutdown-timeout: must be at most 600 s (got \"601\")");
	expect_error(f, "[audio]\ncapture=hw:\\t0\n", SP_CONFIG_ERROR_INVALID,
		     "2: [audio] capture: must not contain control characters (got \"hw:\\x090\")");
	expect_error(f, CONN0 "display-name=a\\qb\n", SP_CONFIG_ERROR_INVALID,
		     "4: [connection 0] display-name: not valid UTF-8, or holds an invalid escape "
		     "sequence (write a backslash as \\\\)");
	/* Found by fuzzing: GLib's own check warns of a GError set twice on these (fatal under
	 * G_DEBUG=fatal-warnings). */
	expect_error(f, CONN0 "display-name=a\\qb\\\n", SP_CONFIG_ERROR_INVALID,
		     "4: [connection 0] display-name: not valid UTF-8, or holds an invalid escape "
		     "sequence (write a backslash as \\\\)");
	expect_error(f, CONN0 "display-name=ab\\\n", SP_CONFIG_ERROR_INVALID,
		     "4: [connection 0] display-name: not valid UTF-8, or holds an invalid escape "
		     "sequence (write a backslash as \\\\)");
}

static void test_errors_retry(Fixture *f, gconstpointer data)
{
	/* The error points at the key the file gave. */
	expect_error(f, CONN0 "retry-min=40\n", SP_CONFIG_ERROR_INVALID,
		     "4: [connection 0] retry-min: must not be greater than retry-max (30 s; got "
		     "40 s)");
	expect_error(f, CONN0 "retry-max=0.5\n", SP_CONFIG_ERROR_INVALID,
		     "4: [connection 0] retry-max: must not be less than retry-min (1 s; got "
		     "0.5 s)");
	expect_error(f, CONN0 "retry-max=2\nretry-min=3\n", SP_CONFIG_ERROR_INVALID,
		     "5: [connection 0] retry-min: must not be greater than retry-max (2 s; got "
		     "3 s)");
	/* In [policy] alone, or from [policy] into a connection. */
	expect_error(f, "[policy]\nretry-min=31\n", SP_CONFIG_ERROR_INVALID,
		     "2: [policy] retry-min: must not be greater than retry-max (30 s; got 31 s)");
	expect_error(f, "[policy]\nretry-min=20\n" CONN0 "retry-max=10\n", SP_CONFIG_ERROR_INVALID,
		     "6: [connection 0] retry-max: must not be less than retry-min (20 s; got "
		     "10 s)");
	expect_error(f, "[policy]\nretry-max=10\n" CONN0 "retry-min=20\n", SP_CONFIG_ERROR_INVALID,
		     "6: [connection 0] retry-min: must not be greater than retry-max (10 s; got "
		     "20 s)");
}

static void test_errors_missing(Fixture *f, gconstpointer data)
{
	expect_error(f, "# site A\n[connection 0]\nserver=siteA\n", SP_CONFIG_ERROR_INVALID,
		     "2: [connection 0] user: missing (the DN to register)");
	expect_error(f, CONN0 "\n[connection 1]\nuser=5001\n", SP_CONFIG_ERROR_INVALID,
		     "5: [connection 1] server: missing (host[:port] of the SIP Server site)");
	expect_error(f, "[connection 0]\nuser=\nserver=siteA\n", SP_CONFIG_ERROR_INVALID,
		     "2: [connection 0] user: must not be empty");
}

static void test_errors_groups(Fixture *f, gconstpointer data)
{
	expect_error(f, CONN0 "[connection x]\nuser=5001\n", SP_CONFIG_ERROR_INVALID,
		     "4: [connection x]: write [connection N], N being the connection id, a whole "
		     "number below 4294967295");
	expect_error(f, "[connection -1]\n", SP_CONFIG_ERROR_INVALID,
		     "1: [connection -1]: write [connection N], N being the connection id, a whole "
		     "number below 4294967295");
	expect_error(f, "[connection]\n", SP_CONFIG_ERROR_INVALID,
		     "1: [connection]: write [connection N], N being the connection id, a whole "
		     "number below 4294967295");
	expect_error(f, "[connection 4294967295]\n", SP_CONFIG_ERROR_INVALID,
		     "1: [connection 4294967295]: write [connection N], N being the connection id, "
		     "a whole number below 4294967295");
	expect_error(f, "[connection 1.5]\n", SP_CONFIG_ERROR_INVALID,
		     "1: [connection 1.5]: write [connection N], N being the connection id, a "
		     "whole number below 4294967295");
	/* The same id written twice. */
	expect_error(f, "[connection 1]\nuser=5001\nserver=siteA\n[connection 01]\n",
		     SP_CONFIG_ERROR_INVALID,
		     "4: [connection 01]: connection id 1 is already used by [connection 1] at "
		     "line 1");
}

static void test_errors_syntax(Fixture *f, gconstpointer data)
{
	expect_error(f, "user=5001\n[connection 0]\n", SP_CONFIG_ERROR_PARSE,
		     "1: user: key outside any group (put a [group] line above it)");
	expect_error(f, CONN0 "password secret\n", SP_CONFIG_ERROR_PARSE,
		     "4: expected key=value, a [group] header or a # comment");
	expect_error(f, CONN0 "=5\n", SP_CONFIG_ERROR_PARSE,
		     "4: expected key=value, a [group] header or a # comment");
	expect_error(f, "[connection 0\n", SP_CONFIG_ERROR_PARSE,
		     "1: a group header must be [name] alone on its line");
	expect_error(f, "[]\n", SP_CONFIG_ERROR_PARSE,
		     "1: a group header must be [name] alone on its line");
}

static void test_errors_files(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *missing = g_build_filename(f->dir, "none.conf", NULL);
	g_autofree char *message = NULL;
	SpConfig *config;

	config = sp_config_load(missing, &error);
	g_assert_null(config);
	g_assert_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_IO);
	message = g_strdup_printf("cannot read \"%s\": %s", missing, g_strerror(ENOENT));
	g_assert_cmpstr(error->message, ==, message);
	g_clear_error(&error);

	config = sp_config_load(f->dir, &error);
	g_assert_null(config);
	g_assert_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_IO);
	g_clear_error(&error);

	config = sp_config_load(NULL, &error);
	g_assert_null(config);
	g_assert_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_IO);
	g_clear_error(&error);

	g_file_set_contents(f->path, "\xff\xfe[\0c\0", 6, NULL);
	config = sp_config_load(f->path, &error);
	g_assert_null(config);
	g_assert_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_PARSE);
	g_assert_true(g_str_has_suffix(error->message, "UTF-16; save it as UTF-8"));
	g_clear_error(&error);

	g_file_set_contents(f->path, "[a]\nb=\0\n", 8, NULL);
	config = sp_config_load(f->path, &error);
	g_assert_null(config);
	g_assert_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_PARSE);
}

/* ---- secrets ------------------------------------------------------------------------------- */

static void test_secrets_password_file(Fixture *f, gconstpointer data)
{
	g_autofree char *sub = g_build_filename(f->dir, "secrets", NULL);
	g_autofree char *a = NULL;
	g_autofree char *b = NULL;
	g_autoptr(SpConfig) config = NULL;

	g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
	a = write_file(f, "secrets/a", "pw-a\n");
	b = write_file(f, "secrets/b", "pw b\r\n");
	g_free(write_file(f, "two-lines", "pw\n\n"));
	g_free(write_file(f, "empty", ""));
	g_free(write_file(f, "no-newline", "pw-c"));

	/* Relative to the config file's directory, not the working directory. */
	config = load_ok(f, "[connection 0]\nuser=5001\nserver=siteA\npassword-file=secrets/a\n"
			    "[connection 1]\nuser=5001\nserver=siteB\npassword-file="
			    "secrets/../"
			    "secrets/b\n"
			    "[connection 2]\nuser=5001\nserver=siteC\npassword-file=no-newline\n");
	g_assert_cmpstr(connection(config, 0)->password, ==, "pw-a");
	g_assert_cmpstr(connection(config, 0)->password_file, ==, a);
	g_assert_cmpstr(connection(config, 1)->password, ==, "pw b");
	g_assert_cmpstr(connection(config, 1)->password_file, ==, b);
	g_assert_cmpstr(connection(config, 2)->password, ==, "pw-c");

	{
		g_autofree char *two = g_build_filename(f->dir, "two-lines", NULL);
		g_autofree char *msg = g_strdup_printf(
		    "4: [connection 0] password-file: \"%s\" must hold the password on one line",
		    two);

		expect_error(f, CONN0 "password-file=two-lines\n", SP_CONFIG_ERROR_INVALID, msg);
	}
	{
		g_autofree char *empty = g_build_filename(f->dir, "empty", NULL);
		g_autofree char *msg = g_strdup_printf(
		    "4: [connection 0] password-file: \"%s\" must hold the password on one line",
		    empty);

		expect_error(f, CONN0 "password-file=empty\n", SP_CONFIG_ERROR_INVALID, msg);
	}
	{
		g_autofree char *none = g_build_filename(f->dir, "none", NULL);
		g_autofree char *msg =
		    g_strdup_printf("4: [connection 0] password-file: cannot read \"%s\": %s", none,
				    g_strerror(ENOENT));

		expect_error(f, CONN0 "password-file=none\n", SP_CONFIG_ERROR_INVALID, msg);
	}
	expect_error(f, CONN0 "password=pw\npassword-file=secrets/a\n", SP_CONFIG_ERROR_INVALID,
		     "5: [connection 0] password-file: cannot be used together with password");
	expect_error(f, CONN0 "password-file=secrets/a\npassword=pw\n", SP_CONFIG_ERROR_INVALID,
		     "5: [connection 0] password: cannot be used together with password-file");
}

static void test_secrets_set_password_file(Fixture *f, gconstpointer data)
{
	g_autofree char *a = write_file(f, "a", "pw-a\n");
	g_autoptr(SpConnectionConfig) c = sp_connection_config_new();

	set_ok(c, "password-file", a);
	g_assert_cmpstr(c->password, ==, "pw-a");
	g_assert_cmpstr(c->password_file, ==, a);
	set_fails(c, "password", "other", "cannot be used together with password-file");
	g_assert_cmpstr(c->password, ==, "pw-a");
	/* Clearing password-file clears the password read from it. */
	set_ok(c, "password-file", "");
	g_assert_null(c->password);
	g_assert_null(c->password_file);
	set_ok(c, "password", "other");
	set_fails(c, "password-file", a, "cannot be used together with password");
	g_assert_cmpstr(c->password, ==, "other");
}

static void test_secrets_credentials(Fixture *f, gconstpointer data)
{
	g_autofree char *creds = g_build_filename(f->dir, "credentials", NULL);
	g_autofree char *own = NULL;
	g_autofree char *shared = NULL;
	g_autoptr(SpConfig) config = NULL;
	g_autoptr(SpConfig) none = NULL;
	const char *text = "[connection 0]\nuser=5001\nserver=siteA\n"
			   "[connection 1]\nuser=5001\nserver=siteB\n"
			   "[connection 2]\nuser=5001\nserver=siteC\npassword=in-config\n";

	g_assert_cmpint(g_mkdir(creds, 0700), ==, 0);
	own = write_file(f, "credentials/softphoned-password-1", "pw-one\n");
	g_setenv("CREDENTIALS_DIRECTORY", creds, TRUE);

	/* Only the connection's own credential there: the others have no password. */
	config = load_ok(f, text);
	g_assert_null(connection(config, 0)->password);
	g_assert_cmpstr(connection(config, 1)->password, ==, "pw-one");
	g_assert_cmpstr(connection(config, 1)->password_file, ==, own);
	g_assert_cmpstr(connection(config, 2)->password, ==, "in-config");
	g_clear_pointer(&config, sp_config_free);

	/* The shared one for connections without their own; a password in the file wins. */
	shared = write_file(f, "credentials/softphoned-password", "pw-all");
	config = load_ok(f, text);
	g_assert_cmpstr(connection(config, 0)->password, ==, "pw-all");
	g_assert_cmpstr(connection(config, 0)->password_file, ==, shared);
	g_assert_cmpstr(connection(config, 1)->password, ==, "pw-one");
	g_assert_cmpstr(connection(config, 2)->password, ==, "in-config");
	g_assert_null(connection(config, 2)->password_file);

	/* Without $CREDENTIALS_DIRECTORY nothing is read. */
	g_unsetenv("CREDENTIALS_DIRECTORY");
	none = load_ok(f, text);
	g_assert_null(connection(none, 0)->password);
	g_assert_null(connection(none, 1)->password);

	/* A credential that is not a password is an error naming the connection. */
	g_setenv("CREDENTIALS_DIRECTORY", creds, TRUE);
	g_free(write_file(f, "credentials/softphoned-password-0", "a\nb\n"));
	{
		g_autofree char *path = g_build_filename(creds, "softphoned-password-0", NULL);
		g_autofree char *msg = g_strdup_printf(
		    "1: [connection 0] password: credential: \"%s\" must hold the password on "
		    "one line",
		    path);

		expect_error(f, text, SP_CONFIG_ERROR_INVALID, msg);
	}
}

static void assert_no_secret(Fixture *f, const char *text, const char *secret)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(SpConfig) config = load_text(f, text, &error);

	if (config != NULL) {
		g_autofree char *described = sp_config_describe(config);

		for (guint i = 0; i < config->warnings->len; i++)
			g_assert_null(strstr(g_ptr_array_index(config->warnings, i), secret));
		g_assert_null(strstr(described, secret));
	}
	if (error != NULL) {
		if (g_test_verbose())
			g_test_message("%s", error->message);
		g_assert_null(strstr(error->message, secret));
	}
	g_assert_true(config != NULL || error != NULL);
}

static void test_secrets_never_in_messages(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConnectionConfig) c = sp_connection_config_new();
	g_autoptr(GError) error = NULL;

	assert_no_secret(f, CONN0 "password=TOPSECRET\\q\n", "TOPSECRET");
	assert_no_secret(f, CONN0 "password=TOPSECRET\xff\n", "TOPSECRET");
	assert_no_secret(f, CONN0 "password TOPSECRET\n", "TOPSECRET");
	assert_no_secret(f, "password=TOPSECRET\n", "TOPSECRET");
	assert_no_secret(f, CONN0 "pasword=TOPSECRET\n", "TOPSECRET");
	assert_no_secret(f, CONN0 "password=TOPSECRET\n[connection 0]\npassword=TOPSECRET2\n",
			 "TOPSECRET");
	assert_no_secret(f,
			 "<C><Container name=\"Basic\"><Connectivity user=\"1\" server=\"a\"/>"
			 "</Container><Container name=\"Genesys\"><domain name=\"proxies\">"
			 "<section name=\"proxy0\"><setting name=\"password\" "
			 "value=\"a&TOPSECRET;\"/></section></domain></Container></C>",
			 "TOPSECRET");
	assert_no_secret(f,
			 "<C><Container name=\"Basic\"><Connectivity user=\"1\" server=\"a\"/>"
			 "</Container><Container name=\"Genesys\"><domain name=\"proxies\">"
			 "<section name=\"proxy0\"><setting name=\"pass_word\" "
			 "value=\"TOPSECRET\"/></section></domain></Container></C>",
			 "TOPSECRET");
	/* Passwords wherever the SDK has them: proxies, mailboxes, unknown places. */
	assert_no_secret(f,
			 "<C><Container name=\"Basic\"><Connectivity user=\"1\" server=\"a\"/>"
			 "</Container><Container name=\"Genesys\"><settings>"
			 "<domain name=\"proxies\"><section name=\"proxy0\">"
			 "<setting name=\"password\" value=\"TOPSECRET\"/>"
			 "<section name=\"mailbox\"><setting name=\"password\" "
			 "value=\"TOPSECRET\"/></section></section></domain>"
			 "<domain name=\"mailboxes\"><section name=\"mailbox0\">"
			 "<setting name=\"Password\" value=\"TOPSECRET\"/></section></domain>"
			 "<domain name=\"x\"><setting name=\"y:auth_password\" "
			 "value=\"TOPSECRET\"/></domain></settings></Container></C>",
			 "TOPSECRET");
	g_assert_false(sp_connection_config_set(c, "password", "TOPSECRET\r\n", &error));
	g_assert_null(strstr(error->message, "TOPSECRET"));
}

/* ---- SipEndpoint.config -------------------------------------------------------------------- */

static SpConfig *load_data(const char *name)
{
	g_autofree char *path = source_path("tests", "unit", "config-data", name, NULL);
	g_autoptr(GError) error = NULL;
	SpConfig *config = sp_config_load(path, &error);

	g_assert_no_error(error);
	g_assert_nonnull(config);
	return config;
}

static void test_xml_two_sites(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) xml = load_data("two-sites.config");
	g_autoptr(SpConfig) kf = load_data("two-sites.conf");

	g_assert_cmpuint(xml->warnings->len, ==, 0);
	g_assert_cmpuint(kf->warnings->len, ==, 0);
	assert_configs_equal(xml, kf);

	/* And what they hold. */
	g_assert_true(xml->policy.auto_answer);
	g_assert_cmpint(xml->policy.dtmf_method, ==, SP_DTMF_INFO);
	g_assert_cmpuint(xml->connections->len, ==, 2);
	g_assert_cmpuint(connection(xml, 0)->id, ==, 0);
	g_assert_cmpstr(connection(xml, 0)->server, ==, "siteA.example.net:5060");
	g_assert_cmpint(connection(xml, 0)->protocol, ==, SP_TRANSPORT_UDP);
	g_assert_cmpstr(connection(xml, 0)->password, ==, "site-a-secret");
	g_assert_true(g_str_has_suffix(connection(xml, 0)->password_file, "site-a.password"));
	/* reg_timeout is the SDK's registration expiry; reg-timeout softphoned's own key. */
	g_assert_cmpuint(connection(xml, 0)->reregister_in_seconds, ==, 10);
	g_assert_cmpuint(connection(xml, 0)->reg_timeout_ms, ==, 30000);
	g_assert_cmpuint(connection(xml, 0)->keepalive_interval_ms, ==, 4000);
	g_assert_cmpuint(connection(xml, 1)->id, ==, 1);
	g_assert_cmpint(connection(xml, 1)->protocol, ==, SP_TRANSPORT_TCP);
	g_assert_cmpstr(connection(xml, 1)->password, ==, "secret-b");
	g_assert_cmpuint(connection(xml, 1)->reregister_in_seconds, ==, 20);
	g_assert_cmpuint(connection(xml, 1)->keepalive_interval_ms, ==, 2500);
	g_assert_cmpstr(connection(xml, 1)->display_name, ==, "Agent 5001");
}

/* Warnings without the file name in front, in order. */
static void assert_warnings(const SpConfig *config, const char *const *expected, gsize n)
{
	for (guint i = 0; i < config->warnings->len; i++)
		g_test_message("warning: %s", (const char *)g_ptr_array_index(config->warnings, i));
	g_assert_cmpuint(config->warnings->len, ==, n);
	for (gsize i = 0; i < n; i++) {
		const char *w = g_ptr_array_index(config->warnings, i);

		g_assert_true(g_str_has_prefix(w, config->path));
		g_assert_cmpstr(w + strlen(config->path), ==, expected[i]);
	}
}

static const SpConfigMapping *find_mapping(const SpConfig *config, const char *setting)
{
	const SpConfigMapping *found = NULL;

	for (guint i = 0; i < config->mappings->len; i++) {
		const SpConfigMapping *m = g_ptr_array_index(config->mappings, i);

		if (strcmp(m->setting, setting) == 0)
			found = m;
	}
	if (found == NULL)
		g_error("no mapping of %s", setting);
	return found;
}

static void assert_mapped(const SpConfig *config, const char *setting, const char *key,
			  const char *mapped)
{
	const SpConfigMapping *m = find_mapping(config, setting);

	g_assert_cmpint(m->kind, ==, SP_CONFIG_MAPPED);
	g_assert_cmpstr(m->key, ==, key);
	g_assert_cmpstr(m->mapped, ==, mapped);
}

static void assert_codecs(const SpConfig *config, const char *expected)
{
	g_autofree char *joined = g_strjoinv(",", config->audio.codecs);

	g_assert_cmpstr(joined, ==, expected);
}

/* The 8.5+ layout with every setting softphoned maps: each lands in the struct. */
static void test_xml_sdk_85(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = load_data("sdk-85.config");
	static const char *const expected[] = {
	    ":25:11: policy/endpoint/audio_qos: TOS byte 46: DSCP 11, its two low (ECN) bits "
	    "dropped (for DSCP 46, write 184)",
	    ":60:13: proxies/proxy0/nat/stun_server=\"stun.example.net\": not supported yet (NAT "
	    "traversal (ICE, STUN, TURN)), ignored",
	    ":64:13: proxies/proxy0/mailbox/password: not supported yet (voicemail "
	    "(message-waiting) subscriptions), ignored",
	    ": codecs not supported yet, left out of [audio] codecs: G729",
	};
	const SpConnectionConfig *a, *b;

	assert_warnings(config, expected, G_N_ELEMENTS(expected));
	g_assert_cmpstr(config->layout, ==, "8.5+ (<settings> in Container \"Genesys\")");

	/* Basic: the commented-out Connectivity is none; blanks around '='. */
	g_assert_cmpuint(config->connections->len, ==, 2);
	a = connection(config, 0);
	b = connection(config, 1);
	g_assert_cmpstr(a->user, ==, "7001");
	g_assert_cmpstr(a->server, ==, "sip-a.example.net:5060");
	g_assert_cmpint(a->protocol, ==, SP_TRANSPORT_UDP);
	g_assert_cmpstr(b->server, ==, "sip-b.example.net:5070");
	g_assert_cmpint(b->protocol, ==, SP_TRANSPORT_TCP);
	/* proxies/proxyN */
	g_assert_cmpstr(a->display_name, ==, "Agent 7001");
	g_assert_cmpstr(b->display_name, ==, "Agent 7001 (B)");
	g_assert_cmpstr(a->password, ==, "s3cret-a");
	g_assert_null(b->password);
	g_assert_cmpuint(a->reregister_in_seconds, ==, 120);
	g_assert_cmpuint(b->reregister_in_seconds, ==, 240);
	g_assert_cmpuint(a->reg_timeout_ms, ==, 0);
	g_assert_cmpuint(a->retry_max_ms, ==, 15000);
	g_assert_cmpuint(b->retry_max_ms, ==, 60000);
	g_assert_cmpuint(a->retry_min_ms, ==, 1000);
	/* policy/endpoint */
	g_assert_cmpuint(config->daemon.rtp_port_min, ==, 9002);
	g_assert_cmpuint(config->daemon.rtp_port_max, ==, 9999);
	g_assert_cmpuint(config->policy.rtp_inactivity_timeout_ms, ==, 45000);
	/* policy/session */
	g_assert_true(config->policy.auto_answer);
	g_assert_cmpint(config->policy.dtmf_method, ==, SP_DTMF_INBAND);
	g_assert_true(config->policy.reject_when_no_device);
	g_assert_cmpuint(config->policy.reject_code, ==, 480);
	assert_mapped(config, "policy/session/reject_session_when_headset_na",
		      "[policy] reject-when-no-device", "1");
	assert_mapped(config, "policy/session/sip_code_when_headset_na", "[policy] reject-code",
		      "480");
	/* policy/device */
	g_assert_cmpstr(config->audio.capture, ==, "plughw:1,0");
	g_assert_cmpstr(config->audio.playback, ==, "plughw:2,0");
	/* policy/codecs: by priority; 0 disables; G729 left out */
	assert_codecs(config, "PCMA,PCMU,opus");
	/* system */
	g_assert_cmpstr(config->daemon.log_level, ==, "debug");

	/* What --check-config shows. */
	assert_mapped(config, "proxies/proxy0/reg_timeout", "[connection 0] reregister-in-seconds",
		      "120");
	assert_mapped(config, "proxies/proxy1/reg_interval", "[connection 1] retry-max", "60");
	assert_mapped(config, "policy/endpoint/rtp_port_min", "[daemon] rtp-port-min", "9002");
	assert_mapped(config, "system/diagnostics/log_level", "[daemon] log-level", "debug");
	assert_mapped(config, "Connectivity 1 server", "[connection 1] server",
		      "sip-b.example.net:5070");
	assert_mapped(config, "policy/codecs/pcma", "[audio] codecs", "PCMA");
	assert_mapped(config, "proxies/proxy0/password", "[connection 0] password", NULL);
	g_assert_null(find_mapping(config, "proxies/proxy0/password")->value);
	g_assert_null(find_mapping(config, "proxies/proxy0/mailbox/password")->value);
	assert_mapped(config, "policy/endpoint/public_address", "[policy] public-address",
		      "192.0.2.7");
	g_assert_cmpstr(config->connection_defaults->public_address, ==, "192.0.2.7");
	assert_mapped(config, "system/security/use_srtp", "[policy] srtp", "off");
	g_assert_cmpint(config->connection_defaults->srtp, ==, SP_SRTP_MODE_OFF);
	assert_mapped(config, "policy/endpoint/include_os_version_in_user_agent_header",
		      "[daemon] user-agent-os-version", "1");
	g_assert_true(config->daemon.user_agent_os_version);
	/* The SDK's values are TOS bytes: 24 is DSCP 6. */
	assert_mapped(config, "policy/endpoint/signaling_qos", "[daemon] sip-dscp", "6");
	assert_mapped(config, "policy/endpoint/audio_qos", "[daemon] rtp-dscp", "11");
	g_assert_cmpuint(config->daemon.sip_dscp, ==, 6);
	g_assert_cmpuint(config->daemon.rtp_dscp, ==, 11);
	assert_mapped(config, "policy/endpoint/sip_port_min", "[daemon] sip-port-min", "5060");
	g_assert_cmpuint(config->daemon.sip_port_min, ==, 5060);
	g_assert_cmpuint(config->daemon.sip_port_max, ==, 5080);
	g_assert_cmpint(find_mapping(config, "policy/codecs/G729")->kind, ==,
			SP_CONFIG_UNSUPPORTED);
	g_assert_cmpint(find_mapping(config, "policy/codecs/g722")->kind, ==, SP_CONFIG_IGNORED);
	g_assert_cmpint(find_mapping(config, "policy/session/echo_control")->kind, ==,
			SP_CONFIG_IGNORED);
}

/* The same file with CRLF line ends and a byte order mark: the same config, the same
 * positions. */
static void test_xml_crlf_bom(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) lf = load_data("sdk-85.config");
	g_autofree char *path = source_path("tests", "unit", "config-data", "sdk-85.config", NULL);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	g_autofree char *crlf = NULL;
	g_autofree char *bom = NULL;
	g_autoptr(SpConfig) config = NULL;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	lines = g_strsplit(text, "\n", -1);
	crlf = g_strjoinv("\r\n", lines);
	bom = g_strconcat("\xef\xbb\xbf", crlf, NULL);
	config = load_ok(f, bom);
	assert_configs_equal(config, lf);
	g_assert_cmpstr(config->daemon.log_level, ==, "debug");
	assert_codecs(config, "PCMA,PCMU,opus");
	g_assert_cmpuint(config->warnings->len, ==, lf->warnings->len);
	for (guint i = 0; i < lf->warnings->len; i++) {
		const char *a = g_ptr_array_index(config->warnings, i);
		const char *b = g_ptr_array_index(lf->warnings, i);

		g_assert_cmpstr(a + strlen(config->path), ==, b + strlen(lf->path));
	}
	g_assert_cmpuint(config->mappings->len, ==, lf->mappings->len);
	for (guint i = 0; i < lf->mappings->len; i++) {
		const SpConfigMapping *a = g_ptr_array_index(config->mappings, i);
		const SpConfigMapping *b = g_ptr_array_index(lf->mappings, i);

		g_assert_cmpstr(a->setting, ==, b->setting);
		g_assert_cmpint(a->line, ==, b->line);
		g_assert_cmpint(a->column, ==, b->column);
		g_assert_cmpstr(a->value, ==, b->value);
	}
}

/* The 8.1 layout: CounterPath's schema in Container "Cp". */
static void test_xml_cp_81(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = load_data("sdk-81-cp.config");
	static const char *const expected[] = {
	    ": 1 setting not known to softphoned ignored: system/network/use_rport (see "
	    "softphoned --check-config)",
	};

	assert_warnings(config, expected, G_N_ELEMENTS(expected));
	g_assert_cmpstr(config->layout, ==, "8.1 (CounterPath <settings> in Container \"Cp\")");
	g_assert_cmpuint(config->connections->len, ==, 2);
	g_assert_cmpstr(connection(config, 0)->server, ==, "SipServer1:5060");
	/* Attribute values are trimmed, as in the SDK's own example (server=" SipServer2:port2").
	 */
	g_assert_cmpstr(connection(config, 1)->server, ==, "SipServer2:5060");
	g_assert_cmpuint(connection(config, 0)->reregister_in_seconds, ==, 300);
	g_assert_cmpuint(connection(config, 1)->reregister_in_seconds, ==, 600);
	g_assert_cmpstr(connection(config, 0)->display_name, ==, "DN one");
	g_assert_false(config->policy.auto_answer);
	g_assert_cmpint(config->policy.dtmf_method, ==, SP_DTMF_RFC4733);

	/* CounterPath's flat names are the same paths. */
	g_clear_pointer(&config, sp_config_free);
	config =
	    load_ok(f, "<Container><Container name=\"Basic\">"
		       "<Connectivity user=\"1\" server=\"a\"/></Container>"
		       "<Container name=\"Cp\"><settings xmlns=\"http://www.counterpath.com/cps\">"
		       "<setting name=\"proxies:proxy0:reregister_in_seconds\" value=\"77\"/>"
		       "<domain name=\"policy\">"
		       "<setting name=\"session:auto_answer\" value=\"1\"/></domain>"
		       "</settings></Container></Container>");
	g_assert_cmpuint(connection(config, 0)->reregister_in_seconds, ==, 77);
	g_assert_true(config->policy.auto_answer);
	g_assert_cmpuint(config->warnings->len, ==, 0);
}

/* A Connectivity in a comment configures nothing, and proxy0 then has no connection. */
static void test_xml_comment_only(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = load_data("sdk-comment-only.config");
	static const char *const expected[] = {
	    ": no <Connectivity> in <Container name=\"Basic\">: no connection configured",
	    ":9:9: <section name=\"proxy0\">: there is no connection 0 (0 <Connectivity> in "
	    "<Container name=\"Basic\">): its settings are ignored",
	};

	assert_warnings(config, expected, G_N_ELEMENTS(expected));
	g_assert_cmpuint(config->connections->len, ==, 0);
	g_assert_cmpint(find_mapping(config, "proxies/proxy0/reg_timeout")->kind, ==,
			SP_CONFIG_IGNORED);
}

/*
 * A tag cut short by a byte that is not UTF-8 (found by fuzz-xml: the error's position was
 * looked for past the end of the text): a clear error, nothing read out of bounds.
 */
static void test_xml_invalid_utf8_in_a_tag(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(SpConfig) config = load_text(f, "<?><S>\n <C/\xf2", &error);

	(void)data;
	g_assert_null(config);
	g_assert_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_PARSE);
	g_assert_true(g_str_has_prefix(error->message, f->path));
}

/* The older layout of the seed's example: domains straight in the Genesys container. */
static void test_xml_sdk_full(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = load_data("sdk-full.config");
	static const char *const expected[] = {
	    ":19:9: policy/endpoint/sip_transaction_timeout=\"4000\": not supported yet (one "
	    "timeout for every SIP transaction (reg-timeout covers REGISTER)), ignored",
	    ":31:9: policy/device/headset_name=\"Plantronics\": not supported yet (headset "
	    "detection), ignored",
	    ":32:9: policy/device/use_headset=\"1\": not supported yet (headset detection), "
	    "ignored",
	};

	/* One warning each, in document order; never an error. */
	assert_warnings(config, expected, G_N_ELEMENTS(expected));
	g_assert_cmpstr(config->layout, ==, "<domain>s straight in a Container");
	g_assert_cmpuint(config->connections->len, ==, 2);
	g_assert_cmpstr(connection(config, 1)->server, ==, "sip-b.example.net:5060");
	/* reg_timeout decides the expiry over reregister_in_seconds of the same section. */
	g_assert_cmpuint(connection(config, 0)->reregister_in_seconds, ==, 1800);
	g_assert_cmpuint(connection(config, 1)->reregister_in_seconds, ==, 1800);
	g_assert_cmpuint(connection(config, 0)->reg_timeout_ms, ==, 0);
	g_assert_cmpuint(connection(config, 0)->retry_max_ms, ==, 30000);
	g_assert_null(connection(config, 0)->password); /* value="" sets nothing */
	g_assert_null(connection(config, 0)->display_name);
	g_assert_false(config->policy.auto_answer);
	g_assert_cmpint(config->policy.dtmf_method, ==, SP_DTMF_RFC4733);
	g_assert_cmpuint(config->daemon.rtp_port_min, ==, 9000);
	g_assert_cmpuint(config->policy.rtp_inactivity_timeout_ms, ==, 30000);
	/* The codecs domain's entries, in their order; telephone-event is always offered. */
	assert_codecs(config, "opus,PCMU,PCMA,G722");
	g_assert_cmpstr(config->daemon.log_level, ==, "debug");
	g_assert_cmpstr(config->audio.capture, ==, "default");
}

/* Blanks around '=', in every place GMarkup sees an attribute. */
static void test_xml_spaces_around_equals(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = load_ok(
	    f, "<SipEndpoint xmlns = \"http://schemas.genesyslab.com/2009/sipendpoint\">\n"
	       "<Container name =\"Basic\">\n"
	       "<Connectivity user= \"DN1\" server = \"SipServer1:5060\"\tprotocol\t=\t'TCP'/>\n"
	       "</Container>\n"
	       "<Container name= \"Genesys\"><settings version = \"1.0\">\n"
	       "<domain name =\"policy\"><section name= \"session\">\n"
	       "<setting name = \"auto_answer\"\n value =\r\n \"1\"/>\n"
	       "</section></domain></settings></Container></SipEndpoint>\n");

	g_assert_cmpuint(config->warnings->len, ==, 0);
	g_assert_cmpstr(connection(config, 0)->server, ==, "SipServer1:5060");
	g_assert_cmpint(connection(config, 0)->protocol, ==, SP_TRANSPORT_TCP);
	g_assert_true(config->policy.auto_answer);
	g_assert_cmpint(find_mapping(config, "policy/session/auto_answer")->line, ==, 7);
	g_assert_cmpint(find_mapping(config, "policy/session/auto_answer")->column, ==, 1);
}

/* Sections in sections (proxy0 → nat, mailbox), settings in settings: the proxy's own settings
 * before and after them still count, and nothing in them leaks out. */
static void test_xml_nested(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config =
	    load_ok(f, "<SipEndpoint><Container name=\"Basic\">\n"
		       "<Connectivity user=\"1\" server=\"a\"/></Container>\n"
		       "<Container name=\"Genesys\"><settings><domain name=\"proxies\">\n"
		       "<section name=\"proxy0\">\n"
		       "  <setting name=\"reg_timeout\" value=\"90\"/>\n"
		       "  <section name=\"nat\"><section name=\"turn\">\n"
		       "    <setting name=\"reg_timeout\" value=\"5\"/></section>\n"
		       "    <setting name=\"ice_enabled\" value=\"0\"/></section>\n"
		       "  <setting name=\"mailbox\" value=\"\">\n"
		       "    <setting name=\"display_name\" value=\"Voicemail\"/>\n"
		       "    <setting name=\"reg_interval\" value=\"1\"/>\n"
		       "  </setting>\n"
		       "  <setting name=\"display_name\" value=\"Agent\"/>\n"
		       "  <setting name=\"reg_interval\" value=\"10\"/>\n"
		       "</section></domain></settings></Container></SipEndpoint>\n");

	g_assert_cmpuint(connection(config, 0)->reregister_in_seconds, ==, 90);
	g_assert_cmpstr(connection(config, 0)->display_name, ==, "Agent");
	g_assert_cmpuint(connection(config, 0)->retry_max_ms, ==, 10000);
	g_assert_cmpint(find_mapping(config, "proxies/proxy0/nat/turn/reg_timeout")->kind, ==,
			SP_CONFIG_UNSUPPORTED);
	g_assert_cmpint(find_mapping(config, "proxies/proxy0/mailbox/display_name")->kind, ==,
			SP_CONFIG_UNSUPPORTED);
	g_assert_cmpint(find_mapping(config, "proxies/proxy0/mailbox/display_name")->line, ==, 10);
	/* Reported once by feature; ice_enabled is off. */
	g_assert_cmpuint(config->warnings->len, ==, 2);
	g_assert_true(has_warning(config, ":7:5: proxies/proxy0/nat/turn/reg_timeout=\"5\": not "
					  "supported yet (NAT traversal"));
	g_assert_true(has_warning(config, ":10:5: proxies/proxy0/mailbox/display_name="
					  "\"Voicemail\": not supported yet"));
}

#define SDK_HEAD                                                                                   \
	"<SipEndpoint><Container name=\"Basic\"><Connectivity user=\"1\" server=\"a\"/>"           \
	"</Container><Container name=\"Genesys\"><settings>"
#define SDK_TAIL "</settings></Container></SipEndpoint>"
#define PROXY0(settings)                                                                           \
	SDK_HEAD "<domain name=\"proxies\"><section name=\"proxy0\">" settings                     \
		 "</section></domain>" SDK_TAIL

/* reg_timeout: the expiry when numeric; empty, 0 or not a number is the SDK's standalone
 * mode, which softphoned lacks: a warning, and the default expiry. */
static void test_xml_reg_timeout(Fixture *f, gconstpointer data)
{
	static const char *const standalone[] = {"", "0", "often", "-5", "1.5"};
	g_autoptr(SpConfig) config = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(standalone); i++) {
		g_autofree char *text = g_strdup_printf(
		    PROXY0("<setting name=\"reg_timeout\" value=\"%s\"/>"), standalone[i]);

		config = load_ok(f, text);
		g_assert_cmpuint(connection(config, 0)->reregister_in_seconds, ==, 3600);
		g_assert_cmpuint(config->warnings->len, ==, 1);
		g_assert_true(has_warning(config, "proxies/proxy0/reg_timeout: empty, 0 or not a "
						  "number: the SDK's standalone mode"));
		g_assert_cmpint(find_mapping(config, "proxies/proxy0/reg_timeout")->kind, ==,
				SP_CONFIG_UNSUPPORTED);
		g_clear_pointer(&config, sp_config_free);
	}
	/* Numeric reg_timeout wins over reregister_in_seconds, before or after it. */
	config = load_ok(f, PROXY0("<setting name=\"reregister_in_seconds\" value=\"20\"/>"
				   "<setting name=\"reg_timeout\" value=\" 600 \"/>"));
	g_assert_cmpuint(connection(config, 0)->reregister_in_seconds, ==, 600);
	g_clear_pointer(&config, sp_config_free);
	config = load_ok(f, PROXY0("<setting name=\"reg_timeout\" value=\"600\"/>"
				   "<setting name=\"reregister_in_seconds\" value=\"20\"/>"));
	g_assert_cmpuint(connection(config, 0)->reregister_in_seconds, ==, 600);
	g_assert_cmpuint(config->warnings->len, ==, 0);
	g_clear_pointer(&config, sp_config_free);
	/* Without a numeric reg_timeout, reregister_in_seconds counts. */
	config = load_ok(f, PROXY0("<setting name=\"reg_timeout\" value=\"\"/>"
				   "<setting name=\"reregister_in_seconds\" value=\"20\"/>"));
	g_assert_cmpuint(connection(config, 0)->reregister_in_seconds, ==, 20);
	g_clear_pointer(&config, sp_config_free);
	/* reregister_in_seconds 0 (CounterPath: never refresh) is reported. */
	config = load_ok(f, PROXY0("<setting name=\"reregister_in_seconds\" value=\"0\"/>"));
	g_assert_cmpuint(connection(config, 0)->reregister_in_seconds, ==, 3600);
	g_assert_true(has_warning(config, "reregister_in_seconds: 0 (never refresh"));
	g_clear_pointer(&config, sp_config_free);
	/* reg_interval lowers retry-min when it is below it; 0 leaves the defaults. */
	config = load_ok(f, SDK_HEAD "<domain name=\"policy\"><section name=\"session\">"
				     "<setting name=\"retry_min\" value=\"5\"/></section></domain>"
				     "<domain name=\"proxies\"><section name=\"proxy0\">"
				     "<setting name=\"reg_interval\" value=\"2\"/>"
				     "</section></domain>" SDK_TAIL);
	g_assert_cmpuint(connection(config, 0)->retry_max_ms, ==, 2000);
	g_assert_cmpuint(connection(config, 0)->retry_min_ms, ==, 2000);
	g_clear_pointer(&config, sp_config_free);
	config = load_ok(f, PROXY0("<setting name=\"reg_interval\" value=\"0\"/>"));
	g_assert_cmpuint(connection(config, 0)->retry_max_ms, ==, 30000);
	g_assert_cmpuint(config->warnings->len, ==, 0);
	g_clear_pointer(&config, sp_config_free);
	/* Too large an expiry is an error where it was written. */
	expect_error(
	    f, PROXY0("<setting name=\"reg_timeout\" value=\"99999999999\"/>"),
	    SP_CONFIG_ERROR_INVALID,
	    "1:167: <section name=\"proxy0\"> reg_timeout: must be at most 2147483647 (got "
	    "\"99999999999\")");
}

#define SESSION(settings)                                                                          \
	SDK_HEAD "<domain name=\"policy\"><section name=\"session\">" settings                     \
		 "</section></domain>" SDK_TAIL

static void test_xml_session_and_system(Fixture *f, gconstpointer data)
{
	static const struct {
		const char *value;
		SpDtmfMethod method;
	} dtmf[] = {
	    {"InbandRtp", SP_DTMF_INBAND}, {"INBANDRTP", SP_DTMF_INBAND},
	    {"rfc2833", SP_DTMF_RFC4733},  {"Rfc2833", SP_DTMF_RFC4733},
	    {"Info", SP_DTMF_INFO},	   {"info", SP_DTMF_INFO},
	};
	static const char *const levels[] = {"error", "warning", "message", "info", "debug"};
	g_autoptr(SpConfig) config = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(dtmf); i++) {
		g_autofree char *text = g_strdup_printf(
		    SESSION("<setting name=\"dtmf_method\" value=\"%s\"/>"), dtmf[i].value);

		config = load_ok(f, text);
		g_assert_cmpint(config->policy.dtmf_method, ==, dtmf[i].method);
		g_clear_pointer(&config, sp_config_free);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(levels); i++) {
		g_autofree char *text = g_strdup_printf(
		    SDK_HEAD
		    "<domain name=\"system\"><section name=\"diagnostics\">"
		    "<setting name=\"log_level\" value=\"%zu\"/></section></domain>" SDK_TAIL,
		    i);

		config = load_ok(f, text);
		g_assert_cmpstr(config->daemon.log_level, ==, levels[i]);
		g_clear_pointer(&config, sp_config_free);
	}
	expect_error(f,
		     SDK_HEAD
		     "<domain name=\"system\"><section name=\"diagnostics\">"
		     "<setting name=\"log_level\" value=\"5\"/></section></domain>" SDK_TAIL,
		     SP_CONFIG_ERROR_INVALID,
		     "1:171: <section name=\"diagnostics\"> log_level: must be 0 to 4 (got 5)");
	config = load_ok(f, SESSION("<setting name=\"auto_answer\" value=\"0\"/>"));
	g_assert_false(config->policy.auto_answer);
	g_clear_pointer(&config, sp_config_free);

	/* TLS off in the file but a TLS Connectivity: it uses TLS, and says so. */
	config = load_ok(f, "<C><Container name=\"Basic\"><Connectivity user=\"1\" server=\"a\" "
			    "protocol=\"TLS\"/></Container><Container name=\"Genesys\"><settings>"
			    "<domain name=\"system\"><section name=\"security\">"
			    "<setting name=\"tls_enabled\" value=\"0\"/>"
			    "</section></domain></settings></Container></C>");
	g_assert_cmpint(connection(config, 0)->protocol, ==, SP_TRANSPORT_TLS);
	g_assert_true(has_warning(config, "system/security/tls_enabled is off, but a "
					  "<Connectivity> has protocol TLS: it uses TLS"));
	g_clear_pointer(&config, sp_config_free);

	/* An odd rtp_port_min is rounded up; an odd rtp_port_max is fine. */
	config = load_ok(f, SDK_HEAD "<domain name=\"policy\"><section name=\"endpoint\">"
				     "<setting name=\"rtp_port_min\" value=\"20001\"/>"
				     "<setting name=\"rtp_port_max\" value=\"20011\"/>"
				     "</section></domain>" SDK_TAIL);
	g_assert_cmpuint(config->daemon.rtp_port_min, ==, 20002);
	g_assert_cmpuint(config->daemon.rtp_port_max, ==, 20011);
	g_clear_pointer(&config, sp_config_free);
	expect_error(f,
		     SDK_HEAD "<domain name=\"policy\"><section name=\"endpoint\">"
			      "<setting name=\"rtp_port_min\" value=\"20000\"/>"
			      "<setting name=\"rtp_port_max\" value=\"10000\"/>"
			      "</section></domain>" SDK_TAIL,
		     SP_CONFIG_ERROR_INVALID,
		     "1:168: <section name=\"endpoint\"> rtp_port_min: must be below rtp-port-max "
		     "(10000; got 20000)");
}

#define CODECS(domains) SDK_HEAD domains SDK_TAIL

static void test_xml_codecs(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = NULL;

	/* The list form decides over the codec entries. */
	config =
	    load_ok(f, CODECS("<domain name=\"codecs\"><section name=\"enabled\">"
			      "<setting name=\"audio\" value=\"g722, iLBC,pcmu/8000,G729\"/>"
			      "</section><section name=\"opus/48000/2\"/>"
			      "<section name=\"PCMA/8000\"><setting name=\"fmtp\" value=\"x\"/>"
			      "</section></domain>"));
	assert_codecs(config, "G722,PCMU");
	g_assert_true(has_warning(config, "codecs not supported yet, left out of [audio] codecs: "
					  "iLBC, G729"));
	g_assert_cmpint(find_mapping(config, "codecs/opus/48000/2")->kind, ==, SP_CONFIG_IGNORED);
	g_clear_pointer(&config, sp_config_free);

	/* Codec entries in their order, each may be disabled; telephone-event needs no place. */
	config = load_ok(f, CODECS("<domain name=\"codecs\"><codec name=\"PCMA\"/>"
				   "<section name=\"telephone-event/8000\"/>"
				   "<section name=\"opus/48000/2\"><setting name=\"enabled\" "
				   "value=\"0\"/></section><codec name=\"pcmu\"/></domain>"));
	assert_codecs(config, "PCMA,PCMU");
	g_assert_cmpuint(config->warnings->len, ==, 0);
	g_clear_pointer(&config, sp_config_free);

	/* Priorities: 1 first, ties in file order, 0 or empty is no codec at all. */
	config = load_ok(f, CODECS("<domain name=\"policy\"><section name=\"codecs\">"
				   "<setting name=\"PCMU\" value=\"2\"/>"
				   "<setting name=\"opus\" value=\"0\"/>"
				   "<setting name=\"g722\" value=\"\"/>"
				   "<setting name=\"PCMA\" value=\"2\"/>"
				   "<setting name=\"G722\" value=\"1\"/>"
				   "</section></domain>"));
	assert_codecs(config, "G722,PCMU,PCMA");
	g_clear_pointer(&config, sp_config_free);

	/* Nothing softphoned has: the default order stays, with a warning. */
	config = load_ok(f, CODECS("<domain name=\"policy\"><section name=\"codecs\">"
				   "<setting name=\"G729\" value=\"1\"/></section></domain>"));
	assert_codecs(config, SP_AUDIO_CODECS_DEFAULT);
	g_assert_true(has_warning(config, "no codec softphoned has is enabled"));
}

/* What --check-config prints: every setting with its line, passwords hidden. */
static void test_xml_describe(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = load_data("sdk-85.config");
	g_autoptr(SpConfig) kf = load_data("two-sites.conf");
	g_autofree char *text = sp_config_describe(config);
	g_autofree char *empty = sp_config_describe(kf);
	g_auto(GStrv) lines = NULL;

	if (g_test_verbose())
		g_test_message("%s", text);
	g_assert_cmpstr(empty, ==, "");
	g_assert_true(g_str_has_prefix(text, "Read as a SipEndpoint.config, layout 8.5+"));
	g_assert_nonnull(strstr(text, "\nMapped to softphoned keys"));
	g_assert_nonnull(strstr(text, "\nNot supported yet, ignored:\n"));
	g_assert_nonnull(strstr(text, "\nIgnored (reason: settings with their lines):\n"));
	g_assert_nonnull(strstr(text, "proxies/proxy0/reg_timeout = \"120\""));
	g_assert_nonnull(strstr(text, "-> [connection 0] reregister-in-seconds=120"));
	g_assert_nonnull(strstr(text, "proxies/proxy0/password = (hidden)"));
	g_assert_nonnull(strstr(text, "-> [connection 0] password=(hidden)"));
	g_assert_nonnull(strstr(text, "policy/endpoint/public_address = \"192.0.2.7\""));
	g_assert_nonnull(strstr(text, "system/diagnostics/log_file (77)"));
	g_assert_null(strstr(text, "s3cret-a"));
	g_assert_null(strstr(text, "mailbox-secret"));
	/* One line per mapped or unsupported setting, one per reason for the rest: it fits a
	 * (tall) screen although the file has 62 settings and attributes. */
	lines = g_strsplit(text, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), <, 60);
}

static void test_xml_shapes(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = NULL;

	/* Any root; protocol in any case, UDP when absent; the seed's spacing. */
	config = load_ok(
	    f, "\n  <Whatever>\n"
	       "<Container name =\"basic\">\n"
	       "<Connectivity user =\"DN1\" server=\"SipServer1:5060\"/>\n"
	       "<Connectivity user =\"DN2\" server=\" SipServer2:5070\" protocol=\" tls\"/>\n"
	       "<Connectivity user=\"DN3\" server=\"[::1]:5080\" protocol=\"TCP\" extra=\"x\"/>\n"
	       "</Container>\n"
	       "<Container name=\"Genesys\"><domain name=\"policy\"><section name=\"session\">"
	       "<setting name=\"auto_answer\" value=\"true\"/>"
	       "<setting name=\"retry_max\" value=\"60\"/>"
	       "</section></domain></Container>\n"
	       "</Whatever>\n");
	g_assert_cmpuint(config->connections->len, ==, 3);
	g_assert_cmpint(connection(config, 0)->protocol, ==, SP_TRANSPORT_UDP);
	g_assert_cmpint(connection(config, 1)->protocol, ==, SP_TRANSPORT_TLS);
	g_assert_cmpint(connection(config, 2)->protocol, ==, SP_TRANSPORT_TCP);
	g_assert_cmpstr(connection(config, 1)->server, ==, "SipServer2:5070");
	g_assert_cmpstr(connection(config, 2)->domain, ==, "[::1]");
	g_assert_true(config->policy.auto_answer);
	/* [policy] connection defaults from the session section reach every connection. */
	for (guint i = 0; i < 3; i++)
		g_assert_cmpuint(connection(config, i)->retry_max_ms, ==, 60000);
	g_assert_cmpuint(config->warnings->len, ==, 1);
	g_assert_true(has_warning(config, ":6:1: unknown attribute \"extra\" of <Connectivity> "
					  "ignored"));
	g_clear_pointer(&config, sp_config_free);

	/* Settings before the connections they apply to; a BOM. */
	config = load_ok(f, "\xef\xbb\xbf<C><Container name=\"Genesys\"><domain name=\"proxies\">"
			    "<section name=\"proxy1\"><setting name=\"enabled\" value=\"0\"/>"
			    "</section></domain></Container>"
			    "<Container name=\"Basic\"><Connectivity user=\"1\" server=\"a\"/>"
			    "<Connectivity user=\"2\" server=\"b\"/></Container></C>");
	g_assert_true(connection(config, 0)->enabled);
	g_assert_false(connection(config, 1)->enabled);
	g_clear_pointer(&config, sp_config_free);

	/* No connection at all: a warning. */
	config = load_ok(f, "<Container/>");
	g_assert_cmpuint(config->connections->len, ==, 0);
	g_assert_cmpuint(config->warnings->len, ==, 1);
	g_clear_pointer(&config, sp_config_free);

	/* GMarkup lets '<' and '>' into attribute values: positions are still those of tags. */
	config = load_ok(f, "<C>\n <Container name=\"Basic\">\n"
			    "  <Connectivity user=\"1\" server=\"a\"/>\n"
			    "  <Connectivity user=\"2\" server=\"b\" note=\"<a> b\"/>\n"
			    "  <x y=\"a > b\"/></Container></C>");
	g_assert_cmpuint(config->connections->len, ==, 2);
	g_assert_true(has_warning(config, ":4:3: unknown attribute \"note\""));
	g_assert_true(has_warning(config, ":5:3: element <x> in <Container name=\"Basic\"> "
					  "ignored"));
}

#define XML_HEAD "<?xml version=\"1.0\"?>\n<Container>\n"
#define XML_BASIC                                                                                  \
	"  <Container name=\"Basic\">\n"                                                           \
	"    <Connectivity user=\"5001\" server=\"siteA:5060\"/>\n"                                \
	"  </Container>\n"

static void test_xml_errors(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = NULL;

	expect_error(f, XML_HEAD "  <Container name=\"Basic\">\n    <Connectivity server=\"a\"/>\n",
		     SP_CONFIG_ERROR_INVALID, "4:5: <Connectivity> user: missing");
	expect_error(f, XML_HEAD "  <Container name=\"Basic\">\n    <Connectivity user=\"1\"/>\n",
		     SP_CONFIG_ERROR_INVALID, "4:5: <Connectivity> server: missing");
	expect_error(f,
		     XML_HEAD "<Container name=\"Basic\">\n"
			      "<Connectivity user=\"1\" server=\"a\"/>\n"
			      "  <Connectivity user=\"5001\" server=\"siteA:0\"/>\n"
			      "</Container></Container>\n",
		     SP_CONFIG_ERROR_INVALID,
		     "5:3: <Connectivity> server: the port must be 1..65535 (got \"siteA:0\")");
	expect_error(f,
		     XML_HEAD "<Container name=\"Basic\">\n"
			      "<Connectivity user=\"1\" server=\"a\" protocol=\"sctp\"/>\n"
			      "</Container></Container>\n",
		     SP_CONFIG_ERROR_INVALID,
		     "4:1: <Connectivity> protocol: must be udp, tcp or tls (got \"sctp\")");
	expect_error(f,
		     XML_HEAD XML_BASIC "  <Container name=\"Genesys\">\n"
					"    <domain name=\"policy\">\n"
					"      <section name=\"session\">\n"
					"        <setting name=\"dtmf_method\" value=\"Tones\"/>\n"
					"</section></domain></Container></Container>\n",
		     SP_CONFIG_ERROR_INVALID,
		     "9:9: <section name=\"session\"> dtmf_method: must be rfc4733, info or inband "
		     "(got \"Tones\")");
	expect_error(f,
		     XML_HEAD XML_BASIC
		     "  <Container name=\"Genesys\">\n"
		     "    <domain name=\"proxies\">\n"
		     "      <section name=\"proxy0\">\n"
		     "        <setting name=\"reregister_in_seconds\" value=\"often\"/>\n"
		     "</section></domain></Container></Container>\n",
		     SP_CONFIG_ERROR_INVALID,
		     "9:9: <section name=\"proxy0\"> reregister_in_seconds: must be a whole number "
		     "(got \"often\")");
	/* A spare proxyN configures nothing: a warning, not an error. */
	config = load_ok(f, XML_HEAD XML_BASIC "  <Container name=\"Genesys\">\n"
					       "    <domain name=\"proxies\">\n"
					       "      <section name=\"proxy0\"></section>\n"
					       "      <section name=\"proxy1\">\n"
					       "        <setting name=\"reregister_in_seconds\" "
					       "value=\"10\"/>\n"
					       "</section></domain></Container></Container>\n");
	g_assert_cmpuint(config->warnings->len, ==, 1);
	g_assert_true(has_warning(config, ":9:7: <section name=\"proxy1\">: there is no "
					  "connection 1 (1 <Connectivity> in <Container "
					  "name=\"Basic\">): its settings are ignored"));
	g_assert_cmpuint(connection(config, 0)->reregister_in_seconds, ==, 3600);
	g_clear_pointer(&config, sp_config_free);
	expect_error(f,
		     XML_HEAD XML_BASIC "  <Container name=\"Genesys\">\n"
					"    <domain name=\"proxies\">\n"
					"      <section name=\"proxy0\">\n"
					"        <setting name=\"retry_min\" value=\"50\"/>\n"
					"</section></domain></Container></Container>\n",
		     SP_CONFIG_ERROR_INVALID,
		     "9:9: <section name=\"proxy0\"> retry_min: must not be greater than retry-max "
		     "(30 s; got 50 s)");
	expect_error(f,
		     XML_HEAD XML_BASIC "  <Container name=\"Genesys\">\n"
					"    <domain name=\"proxies\">\n"
					"      <section name=\"proxy0\">\n"
					"        <setting value=\"x\"/>\n",
		     SP_CONFIG_ERROR_INVALID, "9:9: <setting> in section \"proxy0\": name missing");
	expect_error(f,
		     XML_HEAD XML_BASIC "  <Container name=\"Genesys\">\n"
					"    <domain name=\"proxies\">\n"
					"      <section name=\"proxy0\">\n"
					"        <setting name=\"password\"/>\n",
		     SP_CONFIG_ERROR_INVALID,
		     "9:9: <section name=\"proxy0\"> password: value missing");
}

static void test_xml_malformed_cases(Fixture *f, gconstpointer data)
{
	static const char *const cases[] = {
	    "<Container>\n<Container name=\"Basic\">\n",
	    "<Container>\n  <Connectivity user=\"1\" server=\"a\"\n</Container>",
	    "<a>\n<b x=\"1&amp\"/></a>",
	    "<a>\n<b x=1/></a>",
	    "<a>\n</b>\n",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(SpConfig) config = load_text(f, cases[i], &error);
		g_autofree char *prefix = g_strdup_printf("%s:", f->path);
		const char *rest;
		int line = 0, col = 0;

		g_assert_null(config);
		g_assert_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_PARSE);
		g_assert_true(g_str_has_prefix(error->message, prefix));
		/* file:line:col: message, without GMarkup's own "Error on line" */
		rest = error->message + strlen(prefix);
		g_assert_cmpint(sscanf(rest, "%d:%d:", &line, &col), ==, 2);
		g_assert_cmpint(line, >=, 1);
		g_assert_cmpint(col, >=, 1);
		g_assert_null(strstr(error->message, "Error on line"));
	}
}

/* ---- shipped files and the default path ----------------------------------------------------- */

static void test_examples(Fixture *f, gconstpointer data)
{
	static const char *const names[] = {"softphoned.conf.example",
					    "SipEndpoint.config.example"};
	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *path = source_path("config", names[i], NULL);
		g_autoptr(GError) error = NULL;
		g_autoptr(SpConfig) config = sp_config_load(path, &error);

		g_assert_no_error(error);
		g_assert_nonnull(config);
		for (guint w = 0; w < config->warnings->len; w++)
			g_test_message("%s", (char *)g_ptr_array_index(config->warnings, w));
		g_assert_cmpuint(config->warnings->len, ==, 0);
		g_assert_cmpuint(config->connections->len, ==, 2);
		g_assert_cmpstr(connection(config, 0)->server, ==, "siteA.example.net:5060");
		g_assert_cmpstr(connection(config, 1)->server, ==, "siteB.example.net:5060");
	}
}

/* Every key the key-file example documents is a key the loader knows, with its default. */
static void test_example_documents_every_key(Fixture *f, gconstpointer data)
{
	g_autofree char *path = source_path("config", "softphoned.conf.example", NULL);
	g_autofree char *text = NULL;
	g_autofree char *uncommented = NULL;
	g_autoptr(GRegex) re = g_regex_new("^#([a-z-]+=)", G_REGEX_MULTILINE, 0, NULL);
	g_autoptr(SpConfig) config = NULL;
	g_autoptr(SpConfig) defaults = sp_config_new();
	const char *keys[] = {
	    "socket=",
	    "log-level=",
	    "shutdown-timeout=",
	    "rtp-port-min=",
	    "rtp-port-max=",
	    "auto-answer=",
	    "honor-answer-after=",
	    "dtmf-method=",
	    "invite-failover-timeout=",
	    "expose-headers=",
	    "session-expires=",
	    "min-session-expires=",
	    "capture=",
	    "playback=",
	    "protocol=",
	    "domain=",
	    "auth-user=",
	    "password=",
	    "password-file=",
	    "display-name=",
	    "reregister-in-seconds=",
	    "enabled=",
	    "local-address=",
	    "ca-file=",
	    "tls-verify=",
	    "reg-timeout=",
	    "keepalive-interval=",
	    "probe-timeout=",
	    "probe-failures=",
	    "down-probe-interval=",
	    "retry-min=",
	    "retry-max=",
	};

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
		g_autofree char *commented = g_strdup_printf("\n#%s", keys[i]);

		if (strstr(text, commented) == NULL)
			g_error("the example does not document %s", keys[i]);
	}
	/* The documented defaults of the global groups are the real ones. Cut the connection
	 * groups, whose commented keys are examples, then uncomment every key. */
	*strstr(text, "\n[connection 0]") = '\0';
	uncommented = g_regex_replace(re, text, -1, 0, "\\1", 0, NULL);
	config = load_ok(f, uncommented);
	g_free(config->daemon.socket_path);
	config->daemon.socket_path = NULL;
	g_free(config->daemon.log_level);
	config->daemon.log_level = NULL;
	assert_configs_equal(config, defaults);
}

static void test_default_path(Fixture *f, gconstpointer data)
{
	g_autofree char *dir = g_build_filename(f->dir, "softphoned", NULL);
	g_autofree char *path = g_build_filename(dir, "softphoned.conf", NULL);
	g_autofree char *found = NULL;
	g_autofree char *other = NULL;

	g_setenv("XDG_CONFIG_HOME", f->dir, TRUE);
	other = sp_config_default_path();
	/* Not in XDG_CONFIG_HOME yet: whatever the system has, if anything. */
	if (other != NULL)
		g_assert_false(g_str_has_prefix(other, f->dir));
	g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(path, "", 0, NULL));
	found = sp_config_default_path();
	g_assert_cmpstr(found, ==, path);
}

/* srtp: optional on tls and off otherwise by default, a [policy] default, per connection. */
static void test_keyfile_srtp(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = NULL;
	g_autoptr(SpConfig) policy = NULL;

	(void)data;
	config = load_ok(f, "[connection 0]\nuser=5001\nserver=a\n"
			    "[connection 1]\nuser=5001\nserver=b\nprotocol=tls\n"
			    "[connection 2]\nuser=5001\nserver=c\nprotocol=tls\nsrtp=off\n"
			    "[connection 3]\nuser=5001\nserver=d\nsrtp=Mandatory\n");
	g_assert_cmpint(sp_connection_config_get_srtp(connection(config, 0)), ==, SP_SRTP_MODE_OFF);
	g_assert_cmpint(sp_connection_config_get_srtp(connection(config, 1)), ==,
			SP_SRTP_MODE_OPTIONAL);
	g_assert_cmpint(sp_connection_config_get_srtp(connection(config, 2)), ==, SP_SRTP_MODE_OFF);
	g_assert_cmpint(sp_connection_config_get_srtp(connection(config, 3)), ==,
			SP_SRTP_MODE_MANDATORY);
	policy = load_ok(f, "[policy]\nsrtp=optional\n"
			    "[connection 0]\nuser=5001\nserver=a\n"
			    "[connection 1]\nuser=5001\nserver=b\nsrtp=mandatory\n");
	g_assert_cmpint(sp_connection_config_get_srtp(connection(policy, 0)), ==,
			SP_SRTP_MODE_OPTIONAL);
	g_assert_cmpint(sp_connection_config_get_srtp(connection(policy, 1)), ==,
			SP_SRTP_MODE_MANDATORY);
	g_assert_cmpint(sp_connection_config_get_srtp(policy->connection_defaults), ==,
			SP_SRTP_MODE_OPTIONAL);
	expect_error(f, "[connection 0]\nuser=5001\nserver=a\nsrtp=yes\n", SP_CONFIG_ERROR_INVALID,
		     "4: [connection 0] srtp: must be off, optional or mandatory (got \"yes\")");
}

static void test_keyfile_websocket(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) off = load_ok(f, "[daemon]\n");
	g_autoptr(SpConfig) v4 = NULL;
	g_autoptr(SpConfig) v6 = NULL;

	g_assert_null(off->daemon.websocket);
	g_assert_null(off->daemon.websocket_origins);
	g_assert_null(off->daemon.websocket_token_file);

	v4 = load_ok(f, "[daemon]\nwebsocket=127.0.0.5:8088\n"
			"websocket-origins=https://agent.example.com; http://localhost:3000,\n"
			"websocket-token-file=/run/x/token\n");
	g_assert_cmpstr(v4->daemon.websocket, ==, "127.0.0.5:8088");
	g_assert_cmpuint(g_strv_length(v4->daemon.websocket_origins), ==, 2);
	g_assert_cmpstr(v4->daemon.websocket_origins[0], ==, "https://agent.example.com");
	g_assert_cmpstr(v4->daemon.websocket_origins[1], ==, "http://localhost:3000");
	g_assert_cmpstr(v4->daemon.websocket_token_file, ==, "/run/x/token");

	v6 = load_ok(f, "[daemon]\nwebsocket=[::1]:9000\n");
	g_assert_cmpstr(v6->daemon.websocket, ==, "[::1]:9000");
}

static void test_errors_websocket(Fixture *f, gconstpointer data)
{
	static const char *const not_loopback[] = {"0.0.0.0:8088",   "10.1.2.3:8088",
						   "[::]:8088",	     "[fe80::1]:8088",
						   "localhost:8088", "128.0.0.1:80"};

	for (gsize i = 0; i < G_N_ELEMENTS(not_loopback); i++) {
		g_autofree char *text =
		    g_strdup_printf("[daemon]\nwebsocket=%s\n", not_loopback[i]);
		g_autofree char *want = g_strdup_printf(
		    "2: [daemon] websocket: must be a loopback address (127.0.0.0/8 or [::1]) and "
		    "a "
		    "port; anything else would open the phone to the network (got \"%s\")",
		    not_loopback[i]);

		expect_error(f, text, SP_CONFIG_ERROR_INVALID, want);
	}
	expect_error(f, "[daemon]\nwebsocket=127.0.0.1\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] websocket: must be ADDRESS:PORT, e.g. 127.0.0.1:8088 (got "
		     "\"127.0.0.1\")");
	expect_error(f, "[daemon]\nwebsocket=127.0.0.1:0\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] websocket: must be at least 1 (got \"0\")");
	expect_error(
	    f, "[daemon]\nwebsocket=[::1:80\n", SP_CONFIG_ERROR_INVALID,
	    "2: [daemon] websocket: must be [IPv6]:PORT, e.g. [::1]:8088 (got \"[::1:80\")");
	expect_error(f, "[daemon]\nwebsocket-origins=https://a.example/\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] websocket-origins: each origin must be http://HOST[:PORT] or "
		     "https://HOST[:PORT], exactly as a browser sends it, with no path (got "
		     "\"https://a.example/\")");
	expect_error(f, "[daemon]\nwebsocket-token-file=token\n", SP_CONFIG_ERROR_INVALID,
		     "2: [daemon] websocket-token-file: must be an absolute path (got \"token\")");
}

/* public-address: a [policy] default every connection takes unless its own says otherwise. */
static void test_public_address(Fixture *f, gconstpointer data)
{
	g_autoptr(SpConfig) config = load_ok(f, "[policy]\npublic-address=203.0.113.7\n"
						"[connection 0]\nuser=5001\nserver=a\n"
						"[connection 1]\nuser=5001\nserver=b\n"
						"public-address=[2001:db8::7]\n"
						"[connection 2]\nuser=5001\nserver=c\n"
						"public-address=\n");

	g_assert_cmpstr(connection(config, 0)->public_address, ==, "203.0.113.7");
	g_assert_cmpstr(connection(config, 1)->public_address, ==, "2001:db8::7");
	g_assert_null(connection(config, 2)->public_address);
	expect_error(f, "[connection 0]\nuser=5001\nserver=a\npublic-address=nat.example\n",
		     SP_CONFIG_ERROR_INVALID,
		     "4: [connection 0] public-address: must be an IP address (got "
		     "\"nat.example\")");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	TEST("/config/defaults", test_defaults);
	TEST("/config/keyfile/minimal", test_keyfile_minimal);
	TEST("/config/keyfile/websocket", test_keyfile_websocket);
	TEST("/config/errors/websocket", test_errors_websocket);
	TEST("/config/keyfile/empty", test_keyfile_empty);
	TEST("/config/keyfile/srtp", test_keyfile_srtp);
	TEST("/config/keyfile/public-address", test_public_address);
	TEST("/config/keyfile/every-key", test_keyfile_every_key);
	TEST("/config/keyfile/sipserver-policy", test_keyfile_sipserver_policy);
	TEST("/config/keyfile/policy-defaults", test_keyfile_policy_defaults);
	TEST("/config/keyfile/syntax", test_keyfile_syntax);
	TEST("/config/keyfile/times", test_keyfile_times);
	TEST("/config/keyfile/unknown", test_keyfile_unknown);
	TEST("/config/keyfile/repeated", test_keyfile_repeated);
	TEST("/config/keyfile/servers", test_keyfile_servers);
	TEST("/config/set/every-key", test_set_every_key);
	TEST("/config/set/bad-values", test_set_bad_values);
	TEST("/config/set/validate", test_set_validate);
	TEST("/config/set/enums", test_set_enums);
	TEST("/config/errors/bad-port", test_errors_bad_port);
	TEST("/config/errors/values", test_errors_values);
	TEST("/config/errors/retry", test_errors_retry);
	TEST("/config/errors/missing", test_errors_missing);
	TEST("/config/errors/groups", test_errors_groups);
	TEST("/config/errors/syntax", test_errors_syntax);
	TEST("/config/errors/files", test_errors_files);
	TEST("/config/secrets/password-file", test_secrets_password_file);
	TEST("/config/secrets/set-password-file", test_secrets_set_password_file);
	TEST("/config/secrets/credentials", test_secrets_credentials);
	TEST("/config/secrets/never-in-messages", test_secrets_never_in_messages);
	TEST("/config/xml/two-sites", test_xml_two_sites);
	TEST("/config/xml/sdk-85", test_xml_sdk_85);
	TEST("/config/xml/crlf-bom", test_xml_crlf_bom);
	TEST("/config/xml/cp-81", test_xml_cp_81);
	TEST("/config/xml/invalid-utf8-in-a-tag", test_xml_invalid_utf8_in_a_tag);
	TEST("/config/xml/comment-only", test_xml_comment_only);
	TEST("/config/xml/sdk-full", test_xml_sdk_full);
	TEST("/config/xml/spaces-around-equals", test_xml_spaces_around_equals);
	TEST("/config/xml/nested", test_xml_nested);
	TEST("/config/xml/reg-timeout", test_xml_reg_timeout);
	TEST("/config/xml/session-and-system", test_xml_session_and_system);
	TEST("/config/xml/codecs", test_xml_codecs);
	TEST("/config/xml/describe", test_xml_describe);
	TEST("/config/xml/shapes", test_xml_shapes);
	TEST("/config/xml/errors", test_xml_errors);
	TEST("/config/xml/malformed", test_xml_malformed_cases);
	TEST("/config/examples/load", test_examples);
	TEST("/config/examples/every-key", test_example_documents_every_key);
	TEST("/config/default-path", test_default_path);
	return g_test_run();
}
