/* Unit tests of the WebSocket transport: the token (comparison, creation, reading, credentials)
 * and the counting stream under libsoup (bytes written counted, reads bounded). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <gio/gio.h>
#include <sys/socket.h>

#include "protocol/counting-stream.h"
#include "protocol/websocket.h"

typedef struct {
	char *dir;
	char *path; /* dir/run/websocket-token (run/ does not exist at first) */
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_unsetenv("CREDENTIALS_DIRECTORY");
	f->dir = g_dir_make_tmp("test-websocket-XXXXXX", &error);
	g_assert_no_error(error);
	f->path = g_build_filename(f->dir, "run", "websocket-token", NULL);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

	g_unsetenv("CREDENTIALS_DIRECTORY");
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(f->dir);
	g_free(f->path);
}

#define TEST(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)

static void test_equal(Fixture *f, gconstpointer data)
{
	g_assert_true(sp_rpc_websocket_token_equal("abcdef0123456789", "abcdef0123456789"));
	g_assert_false(sp_rpc_websocket_token_equal("abcdef0123456789", "abcdef0123456788"));
	g_assert_false(sp_rpc_websocket_token_equal("abcdef0123456789", "abcdef012345678"));
	g_assert_false(sp_rpc_websocket_token_equal("abcdef0123456789", "abcdef01234567890"));
	g_assert_false(sp_rpc_websocket_token_equal("abcdef0123456789", ""));
	g_assert_false(sp_rpc_websocket_token_equal("abcdef0123456789", "Abcdef0123456789"));
}

static void test_created_then_kept(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *source = NULL;
	g_autofree char *again_source = NULL;
	g_autofree char *token = sp_rpc_websocket_load_token(f->path, &source, &error);
	g_autofree char *again = NULL;
	g_autofree char *dir = g_path_get_dirname(f->path);
	g_autofree char *contents = NULL;
	struct stat st;

	g_assert_no_error(error);
	g_assert_cmpuint(strlen(token), ==, 64);
	for (const char *p = token; *p; p++)
		g_assert_true(g_ascii_isxdigit(*p));
	g_assert_true(g_str_has_suffix(source, "(new)"));
	g_assert_cmpint(stat(f->path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0600);
	g_assert_cmpint(stat(dir, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0700);
	g_assert_true(g_file_get_contents(f->path, &contents, NULL, NULL));
	g_assert_cmpstr(g_strstrip(contents), ==, token);

	again = sp_rpc_websocket_load_token(f->path, &again_source, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(again, ==, token);
	g_assert_cmpstr(again_source, ==, f->path);
}

static void expect_refused(Fixture *f, const char *needle)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *source = NULL;
	g_autofree char *token = sp_rpc_websocket_load_token(f->path, &source, &error);

	g_assert_null(token);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, needle));
}

static void write_token(Fixture *f, const char *text, int mode)
{
	g_autofree char *dir = g_path_get_dirname(f->path);

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(f->path, text, -1, NULL));
	g_assert_cmpint(chmod(f->path, mode), ==, 0);
}

static void test_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *elsewhere = g_build_filename(f->dir, "elsewhere", NULL);

	write_token(f, "0123456789abcdef0123\n", 0644);
	expect_refused(f, "only we may read");
	write_token(f, "short\n", 0600);
	expect_refused(f, "printable characters");
	write_token(f, "has a space in it, which a header cannot carry\n", 0600);
	expect_refused(f, "printable characters");
	/* A link is never followed, not even to a good file. */
	g_assert_cmpint(g_unlink(f->path), ==, 0);
	g_assert_true(g_file_set_contents(elsewhere, "0123456789abcdef0123\n", -1, NULL));
	g_assert_cmpint(chmod(elsewhere, 0600), ==, 0);
	g_assert_cmpint(symlink(elsewhere, f->path), ==, 0);
	expect_refused(f, "cannot open");
}

static void test_credential(Fixture *f, gconstpointer data)
{
	g_autofree char *creds = g_build_filename(f->dir, "creds", NULL);
	g_autofree char *cred = g_build_filename(creds, SP_RPC_WS_TOKEN_CREDENTIAL, NULL);
	g_autoptr(GError) error = NULL;
	g_autofree char *source = NULL;
	g_autofree char *token = NULL;

	g_assert_cmpint(g_mkdir(creds, 0700), ==, 0);
	g_assert_true(g_file_set_contents(cred, "credential-token-0123456789\n", -1, NULL));
	g_setenv("CREDENTIALS_DIRECTORY", creds, TRUE);
	token = sp_rpc_websocket_load_token(f->path, &source, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(token, ==, "credential-token-0123456789");
	g_assert_nonnull(strstr(source, "credential"));
	/* No file is made when the credential is there. */
	g_assert_false(g_file_test(f->path, G_FILE_TEST_EXISTS));
}

/* A connected pair of GSocketConnections (a socketpair); [0] is wrapped, [1] the peer. */
static void socket_pair(GSocketConnection *out[2])
{
	int fds[2];

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
	for (int i = 0; i < 2; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GSocket) sock = g_socket_new_from_fd(fds[i], &error);

		g_assert_no_error(error);
		out[i] = g_socket_connection_factory_create_connection(sock);
	}
}

static void test_counting_stream(Fixture *f, gconstpointer data)
{
	GSocketConnection *pair[2];
	g_autoptr(GIOStream) counting = NULL;
	g_autoptr(GError) error = NULL;
	GPollableOutputStream *out;
	GPollableInputStream *in;
	char buf[64];
	gssize n;

	socket_pair(pair);
	counting = sp_counting_stream_new(G_IO_STREAM(pair[0]), 8);
	out = G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(counting));
	in = G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(counting));
	g_assert_true(g_pollable_output_stream_can_poll(out));
	g_assert_true(g_pollable_input_stream_can_poll(in));

	/* Writes, blocking or not, are counted and reach the peer. */
	n = g_pollable_output_stream_write_nonblocking(out, "hello", 5, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(n, ==, 5);
	g_assert_true(
	    g_output_stream_write_all(G_OUTPUT_STREAM(out), " world", 6, NULL, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(sp_counting_stream_get_written(SP_COUNTING_STREAM(counting)), ==, 11);
	n = g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(pair[1])), buf,
				sizeof(buf), NULL, &error);
	g_assert_cmpint(n, ==, 11);
	g_assert_cmpmem(buf, 11, "hello world", 11);

	/* Reads: up to the limit, then an error until a reset. */
	g_assert_true(g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(pair[1])),
						"0123456789", 10, NULL, NULL, &error));
	n = g_pollable_input_stream_read_nonblocking(in, buf, 9, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(n, ==, 9);
	n = g_pollable_input_stream_read_nonblocking(in, buf, sizeof(buf), NULL, &error);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
	g_assert_cmpint(n, ==, -1);
	g_clear_error(&error);
	sp_counting_stream_reset_read(SP_COUNTING_STREAM(counting));
	n = g_pollable_input_stream_read_nonblocking(in, buf, sizeof(buf), NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(n, ==, 1);
	g_assert_cmpint(buf[0], ==, '9');

	/* Closing the wrapper closes the socket: the peer sees the end. */
	g_assert_true(g_io_stream_close(counting, NULL, &error));
	g_assert_no_error(error);
	n = g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(pair[1])), buf,
				sizeof(buf), NULL, &error);
	g_assert_cmpint(n, ==, 0);
	g_object_unref(pair[0]);
	g_object_unref(pair[1]);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	TEST("/websocket/token/equal", test_equal);
	TEST("/websocket/token/created-then-kept", test_created_then_kept);
	TEST("/websocket/token/refused", test_refused);
	TEST("/websocket/token/credential", test_credential);
	TEST("/websocket/counting-stream", test_counting_stream);
	return g_test_run();
}
