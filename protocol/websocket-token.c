/*
 * The WebSocket transport's token: a systemd credential or a 0600 file made at first start, and
 * a comparison in constant time. Kept out of websocket.c so that the daemon has it without
 * loading libsoup (the transport is a module, loaded only when websocket= is set).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "protocol/websocket.h"

#define TOKEN_BYTES 32
#define TOKEN_MAX_FILE 4096
#define TOKEN_MIN_LEN 16

gboolean sp_rpc_websocket_token_equal(const char *expected, const char *given)
{
	gsize n = strlen(expected);
	gsize m = strnlen(given, n + 1);
	volatile guchar diff = (guchar)(n != m);

	/* Reads given only within its own length, and always n steps. */
	for (gsize i = 0; i < n; i++)
		diff |= (guchar)expected[i] ^ (guchar)(i < m ? given[i] : 0);
	return diff == 0;
}

static gboolean token_is_valid(const char *t)
{
	gsize len = strlen(t);

	if (len < TOKEN_MIN_LEN || len > 1024)
		return FALSE;
	/* Printable ASCII without spaces: it has to fit in an Authorization header. */
	for (gsize i = 0; i < len; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f)
			return FALSE;
	return TRUE;
}

static char *read_secret(int fd, const char *path, GError **error)
{
	char buf[TOKEN_MAX_FILE + 1];
	gsize len = 0;
	char *token;

	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			g_set_error(error, SP_ERROR, SP_ERROR_FAILED, "cannot read %s: %s", path,
				    g_strerror(errno));
			return NULL;
		}
		if (n == 0)
			break;
		len += (gsize)n;
	}
	if (len > TOKEN_MAX_FILE) {
		explicit_bzero(buf, sizeof(buf));
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED,
			    "%s is larger than %d bytes: not a token", path, TOKEN_MAX_FILE);
		return NULL;
	}
	token = g_strstrip(g_strndup(buf, len));
	explicit_bzero(buf, sizeof(buf));
	if (!token_is_valid(token)) {
		explicit_bzero(token, strlen(token));
		g_free(token);
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED,
			    "%s must hold one token of %d to 1024 printable characters, no spaces",
			    path, TOKEN_MIN_LEN);
		return NULL;
	}
	return token;
}

static char *new_token(GError **error)
{
	guchar raw[TOKEN_BYTES];
	gsize got = 0;
	char *hex = g_malloc(TOKEN_BYTES * 2 + 1);

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			g_set_error(error, SP_ERROR, SP_ERROR_FAILED, "getrandom: %s",
				    g_strerror(errno));
			g_free(hex);
			return NULL;
		}
		got += (gsize)n;
	}
	for (gsize i = 0; i < sizeof(raw); i++)
		g_snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return hex;
}

static char *create_token_file(const char *path, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *line = NULL;
	char *token;
	int fd;

	if (g_mkdir_with_parents(dir, 0700) != 0) {
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED, "cannot create directory %s: %s", dir,
			    g_strerror(errno));
		return NULL;
	}
	token = new_token(error);
	if (token == NULL)
		return NULL;
	/* O_EXCL: never through a link someone else planted. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED, "cannot create %s: %s", path,
			    g_strerror(errno));
		g_free(token);
		return NULL;
	}
	line = g_strconcat(token, "\n", NULL);
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line) || fsync(fd) != 0) {
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED, "cannot write %s: %s", path,
			    g_strerror(errno));
		close(fd);
		unlink(path);
		explicit_bzero(line, strlen(line));
		g_free(token);
		return NULL;
	}
	explicit_bzero(line, strlen(line));
	close(fd);
	return token;
}

char *sp_rpc_websocket_load_token(const char *path, char **source, GError **error)
{
	const char *creds = g_getenv("CREDENTIALS_DIRECTORY");
	struct stat st;
	char *token;
	int fd;

	if (creds != NULL && *creds == '/') {
		g_autofree char *cred = g_build_filename(creds, SP_RPC_WS_TOKEN_CREDENTIAL, NULL);

		fd = open(cred, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			token = read_secret(fd, cred, error);
			close(fd);
			if (token != NULL)
				*source = g_strdup_printf("systemd credential %s",
							  SP_RPC_WS_TOKEN_CREDENTIAL);
			return token;
		}
	}

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		token = create_token_file(path, error);
		if (token != NULL)
			*source = g_strdup_printf("%s (new)", path);
		return token;
	}
	if (fd < 0) {
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED, "cannot open %s: %s", path,
			    g_strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 0077) != 0) {
		close(fd);
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED,
			    "%s must be a regular file of ours that only we may read "
			    "(chmod 600 it, or remove it for a new token)",
			    path);
		return NULL;
	}
	token = read_secret(fd, path, error);
	close(fd);
	if (token != NULL)
		*source = g_strdup(path);
	return token;
}
