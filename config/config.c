/* Config values: defaults, the parsing and checking of every key, secrets, and loading a file. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config-private.h"
#include "daemon/media/tones.h"

/* clang-format off */
G_DEFINE_QUARK(sp-config-error-quark, sp_config_error)
/* clang-format on */

#define SECOND_MS 1000u
#define HOUR_MS (3600u * SECOND_MS)
#define DAY_MS (24u * HOUR_MS)
/* A password file larger than this is a wrong path, not a password. */
#define MAX_SECRET_SIZE 4096

static gboolean invalid(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);

static gboolean invalid(GError **error, const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	g_propagate_error(error,
			  g_error_new_valist(SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID, format, ap));
	va_end(ap);
	return FALSE;
}

/* ---- enums ----------------------------------------------------------------------------- */

const char *sp_transport_to_string(SpTransport t)
{
	switch (t) {
	case SP_TRANSPORT_UDP:
		return "udp";
	case SP_TRANSPORT_TCP:
		return "tcp";
	case SP_TRANSPORT_TLS:
		return "tls";
	}
	return "udp";
}

gboolean sp_transport_from_string(const char *s, SpTransport *out)
{
	static const SpTransport all[] = {SP_TRANSPORT_UDP, SP_TRANSPORT_TCP, SP_TRANSPORT_TLS};

	for (gsize i = 0; s != NULL && i < G_N_ELEMENTS(all); i++) {
		if (g_ascii_strcasecmp(s, sp_transport_to_string(all[i])) == 0) {
			*out = all[i];
			return TRUE;
		}
	}
	return FALSE;
}

const char *sp_dtmf_method_to_string(SpDtmfMethod m)
{
	switch (m) {
	case SP_DTMF_RFC4733:
		return "rfc4733";
	case SP_DTMF_INFO:
		return "info";
	case SP_DTMF_INBAND:
		return "inband";
	}
	return "rfc4733";
}

gboolean sp_dtmf_method_from_string(const char *s, SpDtmfMethod *out)
{
	/* The SIP Endpoint SDK's names (Rfc2833, Info, InbandRtp) are accepted too. */
	/* clang-format off */
	static const struct {
		const char *name;
		SpDtmfMethod method;
	} names[] = {
		{"rfc4733", SP_DTMF_RFC4733},
		{"rfc2833", SP_DTMF_RFC4733},
		{"info", SP_DTMF_INFO},
		{"inband", SP_DTMF_INBAND},
		{"inbandrtp", SP_DTMF_INBAND},
	};
	/* clang-format on */

	for (gsize i = 0; s != NULL && i < G_N_ELEMENTS(names); i++) {
		if (g_ascii_strcasecmp(s, names[i].name) == 0) {
			*out = names[i].method;
			return TRUE;
		}
	}
	return FALSE;
}

/* ---- helpers ----------------------------------------------------------------------------- */

char *sp_config_quote(const char *value)
{
	GString *s = g_string_new(NULL);
	gsize n = 0;

	for (const char *p = value; *p != '\0'; p++, n++) {
		guchar ch = (guchar)*p;

		if (n == 64) {
			g_string_append(s, "...");
			break;
		}
		if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
			g_string_append_printf(s, "\\x%02x", ch);
		else
			g_string_append_c(s, (char)ch);
	}
	if (!g_utf8_validate(s->str, -1, NULL)) {
		char *valid = g_utf8_make_valid(s->str, -1);

		g_string_assign(s, valid);
		g_free(valid);
	}
	return g_string_free(s, FALSE);
}

void sp_config_secret_free(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	g_free(secret);
}

char *sp_config_base_dir(const char *path)
{
	g_autofree char *dir = g_path_get_dirname(path);

	return g_canonicalize_filename(dir, NULL);
}

void sp_config_add_warning(SpConfig *config, const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	g_ptr_array_add(config->warnings, g_strdup_vprintf(format, ap));
	va_end(ap);
}

static gboolean has_control(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((guchar)*s < 0x20 || *s == 0x7f)
			return TRUE;
	}
	return FALSE;
}

/* "5", "0.5", "1.25": milliseconds as seconds, for messages. */
static char *format_ms(guint ms)
{
	if (ms % SECOND_MS == 0)
		return g_strdup_printf("%u", ms / SECOND_MS);
	if (ms % 100 == 0)
		return g_strdup_printf("%u.%u", ms / SECOND_MS, ms % SECOND_MS / 100);
	if (ms % 10 == 0)
		return g_strdup_printf("%u.%02u", ms / SECOND_MS, ms % SECOND_MS / 10);
	return g_strdup_printf("%u.%03u", ms / SECOND_MS, ms % SECOND_MS);
}

static gboolean parse_bool(const char *v, gboolean *out, GError **error)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	g_autofree char *q = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(yes); i++) {
		if (g_ascii_strcasecmp(v, yes[i]) == 0) {
			*out = TRUE;
			return TRUE;
		}
		if (g_ascii_strcasecmp(v, no[i]) == 0) {
			*out = FALSE;
			return TRUE;
		}
	}
	q = sp_config_quote(v);
	return invalid(error, "must be true or false (got \"%s\")", q);
}

static gboolean parse_uint(const char *v, guint min, guint max, guint *out, GError **error)
{
	g_autofree char *q = sp_config_quote(v);
	guint64 n = 0;

	if (*v == '\0' || v[strspn(v, "0123456789")] != '\0')
		return invalid(error, "must be a whole number (got \"%s\")", q);
	for (const char *p = v; *p != '\0'; p++) {
		n = n * 10 + (guint64)(*p - '0');
		if (n > max)
			return invalid(error, "must be at most %u (got \"%s\")", max, q);
	}
	if (n < min)
		return invalid(error, "must be at least %u (got \"%s\")", min, q);
	*out = (guint)n;
	return TRUE;
}

/* Seconds as a plain decimal ("5", "0.5", ".25") into milliseconds, rounded to the nearest. */
static gboolean parse_seconds(const char *v, guint min_ms, guint max_ms, guint *out, GError **error)
{
	static const guint scale[] = {100, 10, 1};
	g_autofree char *q = sp_config_quote(v);
	g_autofree char *limit = NULL;
	const char *p = v;
	guint64 ms = 0;
	guint frac_digits = 0;
	gboolean digits = FALSE;

	for (; g_ascii_isdigit(*p); p++) {
		digits = TRUE;
		if (ms <= G_MAXUINT) /* past that it is too large anyway: stop growing */
			ms = ms * 10 + (guint64)(*p - '0') * SECOND_MS;
	}
	if (*p == '.') {
		for (p++; g_ascii_isdigit(*p); p++, frac_digits++) {
			digits = TRUE;
			if (frac_digits < G_N_ELEMENTS(scale))
				ms += (guint64)(*p - '0') * scale[frac_digits];
			else if (frac_digits == G_N_ELEMENTS(scale) && *p >= '5')
				ms++;
		}
	}
	if (!digits || *p != '\0')
		return invalid(error, "must be a number of seconds, such as 5 or 0.5 (got \"%s\")",
			       q);
	if (ms > max_ms) {
		limit = format_ms(max_ms);
		return invalid(error, "must be at most %s s (got \"%s\")", limit, q);
	}
	if (ms < min_ms) {
		limit = format_ms(min_ms);
		return invalid(error, "must be at least %s s (got \"%s\")", limit, q);
	}
	*out = (guint)ms;
	return TRUE;
}

/* Reads a small file whole, refusing what is not a regular file or larger than max bytes. */
static gboolean read_bounded(const char *path, gsize max, char **data, gsize *length,
			     GError **error)
{
	g_autofree char *buf = NULL;
	struct stat st;
	gsize len = 0;
	int saved;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		saved = errno;
		g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_IO, "cannot read \"%s\": %s",
			    path, g_strerror(saved));
		return FALSE;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_IO,
			    "cannot read \"%s\": not a regular file", path);
		return FALSE;
	}
	buf = g_malloc(max + 2);
	while (len <= max) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			close(fd);
			explicit_bzero(buf, len);
			g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_IO,
				    "cannot read \"%s\": %s", path, g_strerror(saved));
			return FALSE;
		}
		if (n == 0)
			break;
		len += (gsize)n;
	}
	close(fd);
	if (len > max) {
		explicit_bzero(buf, len);
		g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_IO,
			    "cannot read \"%s\": larger than %" G_GSIZE_FORMAT " bytes", path, max);
		return FALSE;
	}
	buf[len] = '\0';
	*data = g_steal_pointer(&buf);
	*length = len;
	return TRUE;
}

/* A password from a file: one trailing newline is dropped, anything else must be the secret. */
static gboolean read_secret(const char *path, char **secret, GError **error)
{
	g_autoptr(GError) e = NULL;
	char *data = NULL;
	gsize len = 0;

	/* Not SP_CONFIG_ERROR_IO: the config file itself was read; one of its values is bad. */
	if (!read_bounded(path, MAX_SECRET_SIZE, &data, &len, &e))
		return invalid(error, "%s", e->message);
	if (len > 0 && data[len - 1] == '\n')
		data[--len] = '\0';
	if (len > 0 && data[len - 1] == '\r')
		data[--len] = '\0';
	if (len == 0 || memchr(data, '\0', len) != NULL || has_control(data)) {
		explicit_bzero(data, len);
		g_free(data);
		return invalid(error, "\"%s\" must hold the password on one line", path);
	}
	*secret = data;
	return TRUE;
}

/* ---- hosts and addresses ----------------------------------------------------------------- */

static gboolean valid_hostname(const char *h, gsize len)
{
	if (len == 0 || len > 253 || h[0] == '.' || h[0] == '-')
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(h[i]) && h[i] != '-' && h[i] != '.' && h[i] != '_')
			return FALSE;
		if (h[i] == '.' && i + 1 < len && h[i + 1] == '.')
			return FALSE;
	}
	return TRUE;
}

static gboolean valid_ipv6(const char *h, gsize len)
{
	g_autofree char *s = g_strndup(h, len);

	return strchr(s, ':') != NULL && g_hostname_is_ip_address(s);
}

/*
 * host[:port] where host is a name, an IPv4 address or a bracketed IPv6 address. *host_len is
 * the length of the host part (with brackets); with allow_port FALSE a port is an error.
 */
static gboolean parse_host_port(const char *v, gboolean allow_port, gsize *host_len, GError **error)
{
	g_autofree char *q = sp_config_quote(v);
	const char *port = NULL;
	const char *form = allow_port ? "host[:port]" : "a host name or IP address";
	gsize len;

	if (*v == '\0')
		return invalid(error, "must not be empty");
	if (g_ascii_strncasecmp(v, "sip:", 4) == 0 || g_ascii_strncasecmp(v, "sips:", 5) == 0)
		return invalid(error, "must be %s, not a URI (got \"%s\")", form, q);
	if (v[0] == '[') {
		const char *end = strchr(v, ']');

		if (end == NULL || !valid_ipv6(v + 1, (gsize)(end - v - 1)))
			return invalid(error, "\"%s\" is not a valid [IPv6] address", q);
		len = (gsize)(end - v + 1);
		if (*(end + 1) == ':')
			port = end + 2;
		else if (*(end + 1) != '\0')
			return invalid(error, "must be %s (got \"%s\")", form, q);
	} else {
		const char *colon = strchr(v, ':');

		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return invalid(error,
				       "an IPv6 address must be in brackets, as in [::1]:5060 "
				       "(got \"%s\")",
				       q);
		len = colon != NULL ? (gsize)(colon - v) : strlen(v);
		if (!valid_hostname(v, len))
			return invalid(error, "must be %s (got \"%s\")", form, q);
		if (colon != NULL)
			port = colon + 1;
	}
	if (port != NULL) {
		guint n = 0;
		gsize digits = strspn(port, "0123456789");

		if (!allow_port)
			return invalid(error, "must be %s, without a port (got \"%s\")", form, q);
		if (digits == 0 || digits > 5 || port[digits] != '\0' ||
		    (n = (guint)atoi(port)) < 1 || n > 65535)
			return invalid(error, "the port must be 1..65535 (got \"%s\")", q);
	}
	if (host_len != NULL)
		*host_len = len;
	return TRUE;
}

/* A DN: the user part of a SIP URI (RFC 3261 "user"), which the address-of-record is built
 * from, so nothing that would need escaping or break a header. */
static gboolean check_user(const char *v, GError **error)
{
	static const char allowed[] = "-_.!~*'()&=+$,;?/%";
	g_autofree char *q = sp_config_quote(v);

	if (*v == '\0')
		return invalid(error, "must not be empty");
	if (strpbrk(v, " \t@:") != NULL)
		return invalid(error, "must not contain spaces, '@' or ':' (got \"%s\")", q);
	for (const char *p = v; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && strchr(allowed, *p) == NULL)
			return invalid(error,
				       "may only hold letters, digits and -_.!~*'()&=+$,;?/%% "
				       "(got \"%s\")",
				       q);
	}
	return TRUE;
}

static gboolean check_text(const char *v, GError **error)
{
	if (!g_utf8_validate(v, -1, NULL))
		return invalid(error, "must be valid UTF-8");
	if (has_control(v)) {
		g_autofree char *q = sp_config_quote(v);

		return invalid(error, "must not contain control characters (got \"%s\")", q);
	}
	return TRUE;
}

/* ---- connection keys ----------------------------------------------------------------------- */

typedef enum {
	VALUE_USER,
	VALUE_SERVER,
	VALUE_PROTOCOL,
	VALUE_DOMAIN,
	VALUE_AUTH_USER,
	VALUE_PASSWORD,
	VALUE_PASSWORD_FILE,
	VALUE_TEXT,
	VALUE_ADDRESS,
	VALUE_FILE,
	VALUE_BOOLEAN,
	VALUE_COUNT,   /* a whole number in [min, max] */
	VALUE_SECONDS, /* seconds, stored in ms, in [min, max] ms */
	VALUE_SRTP,    /* off, optional, mandatory */
} ValueType;

typedef struct {
	const char *key;
	ValueType type;
	gsize offset;
	guint min, max;
} KeySpec;

#define FIELD(f) G_STRUCT_OFFSET(SpConnectionConfig, f)

/* Sorted by key: looked up with bsearch. */
/* clang-format off */
static const KeySpec connection_keys[] = {
	{"auth-user", VALUE_AUTH_USER, FIELD(auth_user)},
	{"ca-file", VALUE_FILE, FIELD(ca_file)},
	{"display-name", VALUE_TEXT, FIELD(display_name)},
	{"domain", VALUE_DOMAIN, FIELD(domain)},
	{"down-probe-interval", VALUE_SECONDS, FIELD(down_probe_interval_ms), 100, HOUR_MS},
	{"enabled", VALUE_BOOLEAN, FIELD(enabled)},
	{"keepalive-interval", VALUE_SECONDS, FIELD(keepalive_interval_ms), 100, DAY_MS},
	{"local-address", VALUE_ADDRESS, FIELD(local_address)},
	{"password", VALUE_PASSWORD, FIELD(password)},
	{"password-file", VALUE_PASSWORD_FILE, FIELD(password_file)},
	{"probe-failures", VALUE_COUNT, FIELD(probe_failures), 1, 100},
	{"probe-timeout", VALUE_SECONDS, FIELD(probe_timeout_ms), 100, 10 * 60 * SECOND_MS},
	{"protocol", VALUE_PROTOCOL, FIELD(protocol)},
	{"public-address", VALUE_ADDRESS, FIELD(public_address)},
	{"reg-timeout", VALUE_SECONDS, FIELD(reg_timeout_ms), 0, HOUR_MS},
	{"reregister-in-seconds", VALUE_COUNT, FIELD(reregister_in_seconds), 1, G_MAXINT32},
	{"retry-max", VALUE_SECONDS, FIELD(retry_max_ms), 100, DAY_MS},
	{"retry-min", VALUE_SECONDS, FIELD(retry_min_ms), 100, DAY_MS},
	{"server", VALUE_SERVER, FIELD(server)},
	{"srtp", VALUE_SRTP, FIELD(srtp)},
	{"tls-verify", VALUE_BOOLEAN, FIELD(tls_verify)},
	{"user", VALUE_USER, FIELD(user)},
};
/* clang-format on */

static int compare_key_spec(const void *key, const void *spec)
{
	return strcmp(key, ((const KeySpec *)spec)->key);
}

static const KeySpec *find_key(const KeySpec *table, gsize n, const char *key)
{
	if (key == NULL)
		return NULL;
	return bsearch(key, table, n, sizeof(*table), compare_key_spec);
}

const char *sp_srtp_mode_to_string(SpSrtpMode m)
{
	switch (m) {
	case SP_SRTP_MODE_DEFAULT:
		return "default";
	case SP_SRTP_MODE_OFF:
		return "off";
	case SP_SRTP_MODE_OPTIONAL:
		return "optional";
	case SP_SRTP_MODE_MANDATORY:
		return "mandatory";
	}
	return "default";
}

gboolean sp_srtp_mode_from_string(const char *s, SpSrtpMode *out)
{
	if (s == NULL)
		return FALSE;
	if (g_ascii_strcasecmp(s, "off") == 0)
		*out = SP_SRTP_MODE_OFF;
	else if (g_ascii_strcasecmp(s, "optional") == 0)
		*out = SP_SRTP_MODE_OPTIONAL;
	else if (g_ascii_strcasecmp(s, "mandatory") == 0)
		*out = SP_SRTP_MODE_MANDATORY;
	else
		return FALSE;
	return TRUE;
}

SpSrtpMode sp_connection_config_get_srtp(const SpConnectionConfig *c)
{
	if (c->srtp != SP_SRTP_MODE_DEFAULT)
		return c->srtp;
	return c->protocol == SP_TRANSPORT_TLS ? SP_SRTP_MODE_OPTIONAL : SP_SRTP_MODE_OFF;
}

gboolean sp_connection_config_has_key(const char *key)
{
	return find_key(connection_keys, G_N_ELEMENTS(connection_keys), key) != NULL;
}

SpConnectionConfig *sp_connection_config_new(void)
{
	SpConnectionConfig *c = g_new0(SpConnectionConfig, 1);

	c->protocol = SP_TRANSPORT_UDP;
	c->tls_verify = TRUE;
	c->enabled = TRUE;
	c->reregister_in_seconds = 3600;
	c->reg_timeout_ms = 0;
	c->keepalive_interval_ms = 5000;
	c->probe_timeout_ms = 2000;
	c->probe_failures = 2;
	c->down_probe_interval_ms = 2000;
	c->retry_min_ms = 1000;
	c->retry_max_ms = 30000;
	return c;
}

SpConnectionConfig *sp_connection_config_copy(const SpConnectionConfig *c)
{
	SpConnectionConfig *copy;

	if (c == NULL)
		return NULL;
	copy = g_memdup2(c, sizeof(*c));
	copy->user = g_strdup(c->user);
	copy->server = g_strdup(c->server);
	copy->domain = g_strdup(c->domain);
	copy->auth_user = g_strdup(c->auth_user);
	copy->password = g_strdup(c->password);
	copy->display_name = g_strdup(c->display_name);
	copy->local_address = g_strdup(c->local_address);
	copy->public_address = g_strdup(c->public_address);
	copy->ca_file = g_strdup(c->ca_file);
	copy->password_file = g_strdup(c->password_file);
	return copy;
}

void sp_connection_config_free(SpConnectionConfig *c)
{
	if (c == NULL)
		return;
	g_free(c->user);
	g_free(c->server);
	g_free(c->domain);
	g_free(c->auth_user);
	sp_config_secret_free(c->password);
	g_free(c->display_name);
	g_free(c->local_address);
	g_free(c->public_address);
	g_free(c->ca_file);
	g_free(c->password_file);
	g_free(c);
}

static void set_string(char **field, const char *v)
{
	g_free(*field);
	*field = *v != '\0' ? g_strdup(v) : NULL;
}

static gboolean set_password(SpConnectionConfig *c, const char *v, GError **error)
{
	if (c->password_file != NULL)
		return invalid(error, "cannot be used together with password-file");
	if (has_control(v))
		return invalid(error, "must not contain control characters");
	sp_config_secret_free(c->password);
	c->password = *v != '\0' ? g_strdup(v) : NULL;
	return TRUE;
}

static gboolean set_password_file(SpConnectionConfig *c, const char *v, const char *base_dir,
				  GError **error)
{
	g_autofree char *path = NULL;
	char *secret = NULL;

	if (c->password != NULL && c->password_file == NULL)
		return invalid(error, "cannot be used together with password");
	if (*v == '\0') {
		g_clear_pointer(&c->password_file, g_free);
		g_clear_pointer(&c->password, sp_config_secret_free);
		return TRUE;
	}
	if (!check_text(v, error))
		return FALSE;
	path = g_canonicalize_filename(v, base_dir);
	if (!read_secret(path, &secret, error))
		return FALSE;
	sp_config_secret_free(c->password);
	c->password = secret;
	g_free(c->password_file);
	c->password_file = g_steal_pointer(&path);
	return TRUE;
}

static gboolean set_file(char **field, const char *v, const char *base_dir, GError **error)
{
	g_autofree char *path = NULL;

	if (*v == '\0') {
		g_clear_pointer(field, g_free);
		return TRUE;
	}
	if (!check_text(v, error))
		return FALSE;
	path = g_canonicalize_filename(v, base_dir);
	if (access(path, R_OK) != 0) {
		int saved = errno;

		return invalid(error, "cannot read \"%s\": %s", path, g_strerror(saved));
	}
	if (!g_file_test(path, G_FILE_TEST_IS_REGULAR))
		return invalid(error, "cannot read \"%s\": not a regular file", path);
	g_free(*field);
	*field = g_steal_pointer(&path);
	return TRUE;
}

static gboolean set_connection_value(SpConnectionConfig *c, const KeySpec *spec, const char *v,
				     const char *base_dir, GError **error)
{
	char **str = G_STRUCT_MEMBER_P(c, spec->offset);
	g_autofree char *q = sp_config_quote(v);

	switch (spec->type) {
	case VALUE_USER:
		if (!check_user(v, error))
			return FALSE;
		set_string(str, v);
		return TRUE;
	case VALUE_SERVER:
		if (!check_text(v, error) || !parse_host_port(v, TRUE, NULL, error))
			return FALSE;
		set_string(str, v);
		return TRUE;
	case VALUE_DOMAIN:
		if (*v != '\0' &&
		    (!check_text(v, error) || !parse_host_port(v, FALSE, NULL, error)))
			return FALSE;
		set_string(str, v);
		return TRUE;
	case VALUE_PROTOCOL:
		if (!sp_transport_from_string(v, G_STRUCT_MEMBER_P(c, spec->offset)))
			return invalid(error, "must be udp, tcp or tls (got \"%s\")", q);
		return TRUE;
	case VALUE_AUTH_USER:
		if (!check_text(v, error))
			return FALSE;
		if (strpbrk(v, ":\"\\") != NULL)
			return invalid(error, "must not contain ':', '\"' or '\\' (got \"%s\")", q);
		set_string(str, v);
		return TRUE;
	case VALUE_PASSWORD:
		return set_password(c, v, error);
	case VALUE_PASSWORD_FILE:
		return set_password_file(c, v, base_dir, error);
	case VALUE_TEXT:
		if (!check_text(v, error))
			return FALSE;
		set_string(str, v);
		return TRUE;
	case VALUE_ADDRESS: {
		g_autofree char *addr = NULL;
		gsize len = strlen(v);

		if (len >= 2 && v[0] == '[' && v[len - 1] == ']')
			addr = g_strndup(v + 1, len - 2);
		else
			addr = g_strdup(v);
		if (*addr != '\0' && !g_hostname_is_ip_address(addr))
			return invalid(error, "must be an IP address (got \"%s\")", q);
		set_string(str, addr);
		return TRUE;
	}
	case VALUE_FILE:
		return set_file(str, v, base_dir, error);
	case VALUE_BOOLEAN:
		return parse_bool(v, G_STRUCT_MEMBER_P(c, spec->offset), error);
	case VALUE_COUNT:
		return parse_uint(v, spec->min, spec->max, G_STRUCT_MEMBER_P(c, spec->offset),
				  error);
	case VALUE_SECONDS:
		return parse_seconds(v, spec->min, spec->max, G_STRUCT_MEMBER_P(c, spec->offset),
				     error);
	case VALUE_SRTP:
		if (*v == '\0') {
			c->srtp = SP_SRTP_MODE_DEFAULT;
			return TRUE;
		}
		if (!sp_srtp_mode_from_string(v, &c->srtp))
			return invalid(error, "must be off, optional or mandatory (got \"%s\")", q);
		return TRUE;
	}
	g_return_val_if_reached(FALSE);
}

gboolean sp_connection_config_set_full(SpConnectionConfig *c, const char *key, const char *value,
				       const char *base_dir, GError **error)
{
	const KeySpec *spec = find_key(connection_keys, G_N_ELEMENTS(connection_keys), key);
	g_autofree char *v = NULL;

	if (spec == NULL) {
		g_autofree char *q = sp_config_quote(key != NULL ? key : "");

		return invalid(error, "unknown option \"%s\"", q);
	}
	if (value == NULL)
		value = "";
	/* A password is taken as it is: spaces can be part of it. */
	if (spec->type == VALUE_PASSWORD)
		return set_password(c, value, error);
	v = g_strstrip(g_strdup(value));
	return set_connection_value(c, spec, v, base_dir, error);
}

gboolean sp_connection_config_set(SpConnectionConfig *c, const char *key, const char *value,
				  GError **error)
{
	return sp_connection_config_set_full(c, key, value, NULL, error);
}

static gboolean is_present(GHashTable *present, const char *key)
{
	return present != NULL && g_hash_table_contains(present, key);
}

/* The checks that involve two keys of a connection or of the [policy] defaults. */
static gboolean check_timing(SpConnectionConfig *c, GHashTable *present, const char **key,
			     GError **error)
{
	if (c->retry_min_ms > c->retry_max_ms) {
		g_autofree char *min_s = format_ms(c->retry_min_ms);
		g_autofree char *max_s = format_ms(c->retry_max_ms);

		if (is_present(present, "retry-max") && !is_present(present, "retry-min")) {
			*key = "retry-max";
			return invalid(error, "must not be less than retry-min (%s s; got %s s)",
				       min_s, max_s);
		}
		*key = "retry-min";
		return invalid(error, "must not be greater than retry-max (%s s; got %s s)", max_s,
			       min_s);
	}
	return TRUE;
}

gboolean sp_connection_config_check(SpConnectionConfig *c, GHashTable *present, const char **key,
				    GError **error)
{
	gsize host_len = 0;

	if (c->user == NULL) {
		*key = "user";
		return invalid(error, "missing (the DN to register)");
	}
	if (c->server == NULL) {
		*key = "server";
		return invalid(error, "missing (host[:port] of the SIP Server site)");
	}
	if (!check_timing(c, present, key, error))
		return FALSE;
	if (c->domain == NULL) {
		if (!parse_host_port(c->server, TRUE, &host_len, error)) {
			*key = "server";
			return FALSE;
		}
		c->domain = g_strndup(c->server, host_len);
	}
	return TRUE;
}

gboolean sp_connection_config_validate(SpConnectionConfig *c, GError **error)
{
	const char *key = NULL;

	if (!sp_connection_config_check(c, NULL, &key, error)) {
		g_prefix_error(error, "%s: ", key);
		return FALSE;
	}
	return TRUE;
}

gboolean sp_connection_config_load_credential(SpConnectionConfig *c, GError **error)
{
	const char *dir = g_getenv("CREDENTIALS_DIRECTORY");
	g_autofree char *own = NULL;
	const char *names[2];

	if (c->password != NULL || c->password_file != NULL || dir == NULL || *dir == '\0')
		return TRUE;
	own = g_strdup_printf("softphoned-password-%u", c->id);
	names[0] = own;
	names[1] = "softphoned-password";
	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *path = g_build_filename(dir, names[i], NULL);
		char *secret = NULL;

		if (!g_file_test(path, G_FILE_TEST_EXISTS))
			continue;
		if (!read_secret(path, &secret, error)) {
			g_prefix_error(error, "credential: ");
			return FALSE;
		}
		c->password = secret;
		c->password_file = g_steal_pointer(&path);
		return TRUE;
	}
	return TRUE;
}

/* ---- global keys ----------------------------------------------------------------------------- */

/* Connection keys that [policy] sets for every connection. */
static const char *const policy_connection_keys[] = {
    "keepalive-interval",    "probe-timeout", "probe-failures",
    "down-probe-interval",   "retry-min",     "retry-max",
    "reregister-in-seconds", "reg-timeout",   "srtp",
    "public-address",
};

static const char *const daemon_keys[] = {
    "socket",	    "log-level",    "shutdown-timeout",
    "rtp-port-min", "rtp-port-max", "user-agent-os-version",
    "sip-dscp",	    "rtp-dscp",	    "sip-port-min",
    "sip-port-max", "websocket",    "websocket-origins",
    "websocket-token-file",
};
static const char *const policy_keys[] = {
    "auto-answer",
    "honor-answer-after",
    "dtmf-method",
    "invite-failover-timeout",
    "rtp-inactivity-timeout",
    "reject-when-no-device",
    "reject-code",
    "expose-headers",
    "session-expires",
    "min-session-expires",
};
static const char *const audio_keys[] = {
    "capture", "playback", "codecs", "ptime", "jitter-min", "jitter-max", "dtmf-duration",
    "dtmf-gap", "ring", "ring-tone", "ringback-tone", "call-waiting-tone",
};

static gboolean in_list(const char *const *list, gsize n, const char *key)
{
	for (gsize i = 0; key != NULL && i < n; i++) {
		if (strcmp(list[i], key) == 0)
			return TRUE;
	}
	return FALSE;
}

const char *sp_config_group_name(SpConfigGroup group)
{
	switch (group) {
	case SP_CONFIG_GROUP_DAEMON:
		return "daemon";
	case SP_CONFIG_GROUP_POLICY:
		return "policy";
	case SP_CONFIG_GROUP_AUDIO:
		return "audio";
	}
	return "daemon";
}

gboolean sp_config_has_key(SpConfigGroup group, const char *key)
{
	switch (group) {
	case SP_CONFIG_GROUP_DAEMON:
		return in_list(daemon_keys, G_N_ELEMENTS(daemon_keys), key);
	case SP_CONFIG_GROUP_POLICY:
		return in_list(policy_keys, G_N_ELEMENTS(policy_keys), key) ||
		       in_list(policy_connection_keys, G_N_ELEMENTS(policy_connection_keys), key);
	case SP_CONFIG_GROUP_AUDIO:
		return in_list(audio_keys, G_N_ELEMENTS(audio_keys), key);
	}
	return FALSE;
}

static gboolean set_log_level(SpConfig *config, const char *v, GError **error)
{
	static const char *const levels[] = {"error", "warning", "message", "info", "debug"};

	for (gsize i = 0; i < G_N_ELEMENTS(levels); i++) {
		if (g_ascii_strcasecmp(v, levels[i]) == 0) {
			g_free(config->daemon.log_level);
			config->daemon.log_level = g_strdup(levels[i]);
			return TRUE;
		}
	}
	{
		g_autofree char *q = sp_config_quote(v);

		return invalid(error, "must be error, warning, message, info or debug (got \"%s\")",
			       q);
	}
}

static gboolean set_rtp_port(guint *field, const char *v, gboolean even, GError **error)
{
	guint port;

	if (!parse_uint(v, 1, 65535, &port, error))
		return FALSE;
	if (even && port % 2 != 0)
		return invalid(error, "must be even: RTP takes even ports, RTCP the next (got %u)",
			       port);
	*field = port;
	return TRUE;
}

/* host:port with host a loopback IP literal (IPv6 in brackets); stored as written. */
static gboolean set_websocket(SpDaemonConfig *d, const char *v, GError **error)
{
	g_autofree char *q = sp_config_quote(v);
	g_autofree char *host = NULL;
	const char *colon;
	struct in_addr a4;
	struct in6_addr a6;
	guint port;
	gboolean loopback;

	if (*v == '\0') {
		g_clear_pointer(&d->websocket, g_free);
		return TRUE;
	}
	colon = strrchr(v, ':');
	if (colon == NULL || colon == v)
		return invalid(error, "must be ADDRESS:PORT, e.g. 127.0.0.1:8088 (got \"%s\")", q);
	if (v[0] == '[') {
		if (colon[-1] != ']')
			return invalid(error, "must be [IPv6]:PORT, e.g. [::1]:8088 (got \"%s\")",
				       q);
		host = g_strndup(v + 1, (gsize)(colon - v - 2));
		loopback = inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	} else {
		host = g_strndup(v, (gsize)(colon - v));
		loopback = inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
	}
	if (!loopback)
		return invalid(error,
			       "must be a loopback address (127.0.0.0/8 or [::1]) and a port; "
			       "anything else would open the phone to the network (got \"%s\")",
			       q);
	if (!parse_uint(colon + 1, 1, 65535, &port, error))
		return FALSE;
	set_string(&d->websocket, v);
	return TRUE;
}

/* A list of exact origins, "scheme://host[:port]" each, separated by ";" or ",". */
static gboolean set_websocket_origins(SpDaemonConfig *d, const char *v, GError **error)
{
	g_auto(GStrv) parts = g_strsplit_set(v, ";,", -1);
	g_autoptr(GPtrArray) origins = g_ptr_array_new_with_free_func(g_free);

	if (!check_text(v, error))
		return FALSE;
	for (guint i = 0; parts[i] != NULL; i++) {
		char *o = g_strstrip(parts[i]);
		const char *rest;

		if (*o == '\0')
			continue;
		rest = g_str_has_prefix(o, "http://")	 ? o + strlen("http://")
		       : g_str_has_prefix(o, "https://") ? o + strlen("https://")
							 : NULL;
		if (rest == NULL || *rest == '\0' || strpbrk(rest, "/?#* ") != NULL) {
			g_autofree char *q = sp_config_quote(o);

			return invalid(
			    error,
			    "each origin must be http://HOST[:PORT] or https://HOST[:PORT], "
			    "exactly as a browser sends it, with no path (got \"%s\")",
			    q);
		}
		g_ptr_array_add(origins, g_strdup(o));
	}
	g_strfreev(d->websocket_origins);
	d->websocket_origins = NULL;
	if (origins->len > 0) {
		g_ptr_array_add(origins, NULL);
		d->websocket_origins = (char **)g_ptr_array_free(g_steal_pointer(&origins), FALSE);
	}
	return TRUE;
}

static gboolean set_daemon(SpConfig *config, const char *key, const char *v, GError **error)
{
	SpDaemonConfig *d = &config->daemon;

	if (strcmp(key, "websocket") == 0)
		return set_websocket(d, v, error);
	if (strcmp(key, "websocket-origins") == 0)
		return set_websocket_origins(d, v, error);
	if (strcmp(key, "socket") == 0 || strcmp(key, "websocket-token-file") == 0) {
		char **field =
		    strcmp(key, "socket") == 0 ? &d->socket_path : &d->websocket_token_file;

		if (*v != '\0' && (!check_text(v, error)))
			return FALSE;
		if (*v != '\0' && !g_path_is_absolute(v)) {
			g_autofree char *q = sp_config_quote(v);

			return invalid(error, "must be an absolute path (got \"%s\")", q);
		}
		set_string(field, v);
		return TRUE;
	}
	if (strcmp(key, "log-level") == 0)
		return set_log_level(config, v, error);
	if (strcmp(key, "shutdown-timeout") == 0)
		return parse_seconds(v, 0, 10 * 60 * SECOND_MS, &d->shutdown_timeout_ms, error);
	if (strcmp(key, "rtp-port-min") == 0)
		return set_rtp_port(&d->rtp_port_min, v, TRUE, error);
	if (strcmp(key, "rtp-port-max") == 0)
		return set_rtp_port(&d->rtp_port_max, v, FALSE, error);
	if (strcmp(key, "user-agent-os-version") == 0)
		return parse_bool(v, &d->user_agent_os_version, error);
	if (strcmp(key, "sip-dscp") == 0)
		return parse_uint(v, 0, 63, &d->sip_dscp, error);
	if (strcmp(key, "rtp-dscp") == 0)
		return parse_uint(v, 0, 63, &d->rtp_dscp, error);
	if (strcmp(key, "sip-port-min") == 0)
		return parse_uint(v, 1, 65535, &d->sip_port_min, error);
	if (strcmp(key, "sip-port-max") == 0)
		return parse_uint(v, 1, 65535, &d->sip_port_max, error);
	g_return_val_if_reached(FALSE);
}

/*
 * "X-Genesys-*, X-Site" into lower-case glob patterns: header names are case-insensitive. Only
 * the characters of a header name (RFC 3261 token) and '*' / '?' are allowed.
 */
static gboolean set_expose_headers(SpPolicyConfig *p, const char *v, GError **error)
{
	g_auto(GStrv) parts = g_strsplit(v, ",", 65);
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; parts[i] != NULL; i++) {
		const char *name = g_strstrip(parts[i]);

		if (*name == '\0')
			continue;
		if (i >= 64)
			return invalid(error, "at most 64 patterns");
		if (strlen(name) > 128 ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				 "-.!%*_+`'~?") != strlen(name)) {
			g_autofree char *q = sp_config_quote(name);

			return invalid(error,
				       "\"%s\" is not a header name pattern (letters, digits, "
				       "-.!%%_+`'~ and the wildcards * ?)",
				       q);
		}
		g_ptr_array_add(out, g_ascii_strdown(name, -1));
	}
	g_ptr_array_add(out, NULL);
	g_strfreev(p->expose_headers);
	p->expose_headers = (char **)g_ptr_array_free(g_steal_pointer(&out), FALSE);
	return TRUE;
}

static gboolean set_policy(SpConfig *config, const char *key, const char *v, GError **error)
{
	SpPolicyConfig *p = &config->policy;

	if (strcmp(key, "auto-answer") == 0)
		return parse_bool(v, &p->auto_answer, error);
	if (strcmp(key, "honor-answer-after") == 0)
		return parse_bool(v, &p->honor_answer_after, error);
	if (strcmp(key, "dtmf-method") == 0) {
		g_autofree char *q = NULL;

		if (sp_dtmf_method_from_string(v, &p->dtmf_method))
			return TRUE;
		q = sp_config_quote(v);
		return invalid(error, "must be rfc4733, info or inband (got \"%s\")", q);
	}
	if (strcmp(key, "invite-failover-timeout") == 0)
		return parse_seconds(v, 100, 60 * SECOND_MS, &p->invite_failover_timeout_ms, error);
	if (strcmp(key, "rtp-inactivity-timeout") == 0)
		return parse_seconds(v, 0, DAY_MS, &p->rtp_inactivity_timeout_ms, error);
	if (strcmp(key, "reject-when-no-device") == 0)
		return parse_bool(v, &p->reject_when_no_device, error);
	if (strcmp(key, "reject-code") == 0)
		return parse_uint(v, 400, 699, &p->reject_code, error);
	if (strcmp(key, "expose-headers") == 0)
		return set_expose_headers(p, v, error);
	/* RFC 4028 §4 asks for at least 90 s in the network; smaller values are for tests. */
	if (strcmp(key, "session-expires") == 0)
		return parse_uint(v, 0, 86400, &p->session_expires_s, error);
	if (strcmp(key, "min-session-expires") == 0)
		return parse_uint(v, 1, 86400, &p->min_session_expires_s, error);
	return sp_connection_config_set_full(config->connection_defaults, key, v, NULL, error);
}

/* "opus, g722,PCMU" into canonical names in the order given; unknown or repeated names fail. */
static gboolean set_codecs(SpAudioConfig *a, const char *v, GError **error)
{
	static const char *const known[] = {"opus", "G722", "PCMU", "PCMA"};
	g_auto(GStrv) parts = g_strsplit(*v != '\0' ? v : SP_AUDIO_CODECS_DEFAULT, ",", -1);
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; parts[i] != NULL; i++) {
		const char *name = g_strstrip(parts[i]);
		const char *canonical = NULL;

		for (gsize k = 0; k < G_N_ELEMENTS(known) && canonical == NULL; k++) {
			if (g_ascii_strcasecmp(name, known[k]) == 0)
				canonical = known[k];
		}
		if (canonical == NULL) {
			g_autofree char *q = sp_config_quote(name);

			return invalid(error, "unknown codec \"%s\" (known: opus, G722, PCMU, PCMA)",
				       q);
		}
		for (guint k = 0; k < out->len; k++) {
			if (strcmp(g_ptr_array_index(out, k), canonical) == 0)
				return invalid(error, "%s is listed twice", canonical);
		}
		g_ptr_array_add(out, g_strdup(canonical));
	}
	g_ptr_array_add(out, NULL);
	g_strfreev(a->codecs);
	a->codecs = (char **)g_ptr_array_free(g_steal_pointer(&out), FALSE);
	return TRUE;
}

/* A tone spec (daemon/media/tones.h), kept in its canonical form; empty turns the tone off. */
static gboolean set_tone(char **field, const char *v, GError **error)
{
	g_autoptr(GError) e = NULL;
	SpToneSpec spec;

	if (!check_text(v, error))
		return FALSE;
	if (!sp_tone_spec_parse(v, &spec, &e))
		return invalid(error, "%s", e->message);
	g_free(*field);
	*field = sp_tone_spec_to_string(&spec);
	return TRUE;
}

static gboolean set_audio(SpConfig *config, const char *key, const char *v, GError **error)
{
	SpAudioConfig *a = &config->audio;
	char **field;

	if (strcmp(key, "ring") == 0) {
		/* Empty: no ring at all (not "default", as for capture and playback). */
		if (!check_text(v, error))
			return FALSE;
		g_free(a->ring);
		a->ring = g_strdup(v);
		return TRUE;
	}
	if (strcmp(key, "ring-tone") == 0)
		return set_tone(&a->ring_tone, v, error);
	if (strcmp(key, "ringback-tone") == 0)
		return set_tone(&a->ringback_tone, v, error);
	if (strcmp(key, "call-waiting-tone") == 0)
		return set_tone(&a->call_waiting_tone, v, error);

	if (strcmp(key, "codecs") == 0)
		return set_codecs(a, v, error);
	if (strcmp(key, "ptime") == 0) {
		guint ms;

		if (!parse_uint(v, 10, 60, &ms, error))
			return FALSE;
		if (ms % 10 != 0)
			return invalid(error, "must be 10, 20, 30, 40, 50 or 60 (got %u)", ms);
		a->ptime_ms = ms;
		return TRUE;
	}
	if (strcmp(key, "jitter-min") == 0)
		return parse_seconds(v, 0, 1000, &a->jitter_min_ms, error);
	if (strcmp(key, "jitter-max") == 0)
		return parse_seconds(v, 20, 2000, &a->jitter_max_ms, error);
	if (strcmp(key, "dtmf-duration") == 0)
		return parse_seconds(v, 40, 1000, &a->dtmf_duration_ms, error);
	if (strcmp(key, "dtmf-gap") == 0)
		return parse_seconds(v, 40, 1000, &a->dtmf_gap_ms, error);
	field = strcmp(key, "capture") == 0 ? &a->capture : &a->playback;
	if (!check_text(v, error))
		return FALSE;
	g_free(*field);
	*field = g_strdup(*v != '\0' ? v : "default");
	return TRUE;
}

gboolean sp_config_set(SpConfig *config, SpConfigGroup group, const char *key, const char *value,
		       GError **error)
{
	g_autofree char *v = NULL;

	if (!sp_config_has_key(group, key)) {
		g_autofree char *q = sp_config_quote(key != NULL ? key : "");

		return invalid(error, "unknown option \"%s\"", q);
	}
	v = g_strstrip(g_strdup(value != NULL ? value : ""));
	switch (group) {
	case SP_CONFIG_GROUP_DAEMON:
		return set_daemon(config, key, v, error);
	case SP_CONFIG_GROUP_POLICY:
		return set_policy(config, key, v, error);
	case SP_CONFIG_GROUP_AUDIO:
		return set_audio(config, key, v, error);
	}
	g_return_val_if_reached(FALSE);
}

gboolean sp_config_check(SpConfig *config, GHashTable *present, SpConfigGroup *group,
			 const char **key, GError **error)
{
	const SpDaemonConfig *d = &config->daemon;
	g_autoptr(GHashTable) policy = g_hash_table_new(g_str_hash, g_str_equal);
	GHashTableIter iter;
	gpointer k;

	if (d->rtp_port_min >= d->rtp_port_max) {
		*group = SP_CONFIG_GROUP_DAEMON;
		if (is_present(present, "daemon/rtp-port-max") &&
		    !is_present(present, "daemon/rtp-port-min")) {
			*key = "rtp-port-max";
			return invalid(error, "must be above rtp-port-min (%u; got %u)",
				       d->rtp_port_min, d->rtp_port_max);
		}
		*key = "rtp-port-min";
		return invalid(error, "must be below rtp-port-max (%u; got %u)", d->rtp_port_max,
			       d->rtp_port_min);
	}
	if ((d->sip_port_min == 0) != (d->sip_port_max == 0)) {
		*group = SP_CONFIG_GROUP_DAEMON;
		*key = d->sip_port_min == 0 ? "sip-port-max" : "sip-port-min";
		return invalid(error, "sip-port-min and sip-port-max go together");
	}
	if (d->sip_port_min > d->sip_port_max) {
		*group = SP_CONFIG_GROUP_DAEMON;
		*key = is_present(present, "daemon/sip-port-max") &&
			       !is_present(present, "daemon/sip-port-min")
			   ? "sip-port-max"
			   : "sip-port-min";
		return invalid(error, "the range is empty (sip-port-min %u, sip-port-max %u)",
			       d->sip_port_min, d->sip_port_max);
	}
	if (present != NULL) {
		g_hash_table_iter_init(&iter, present);
		while (g_hash_table_iter_next(&iter, &k, NULL)) {
			if (g_str_has_prefix(k, "policy/"))
				g_hash_table_add(policy, (char *)k + strlen("policy/"));
		}
	}
	if (config->audio.jitter_min_ms > config->audio.jitter_max_ms) {
		*group = SP_CONFIG_GROUP_AUDIO;
		*key = "jitter-min";
		return invalid(error, "may not exceed jitter-max (%u ms; got %u ms)",
			       config->audio.jitter_max_ms, config->audio.jitter_min_ms);
	}
	*group = SP_CONFIG_GROUP_POLICY;
	return check_timing(config->connection_defaults, policy, key, error);
}

/* ---- SpConfig ---------------------------------------------------------------------------- */

static void mapping_free(SpConfigMapping *m)
{
	g_free(m->setting);
	g_free(m->value);
	g_free(m->key);
	g_free(m->mapped);
	g_free(m->note);
	g_free(m);
}

void sp_config_add_mapping(SpConfig *config, SpConfigMappingKind kind, const char *setting,
			   int line, int column, const char *value, const char *key,
			   const char *mapped, const char *note)
{
	SpConfigMapping *m = g_new0(SpConfigMapping, 1);

	m->kind = kind;
	m->setting = g_strdup(setting);
	m->line = line;
	m->column = column;
	m->value = g_strdup(value);
	m->key = g_strdup(key);
	m->mapped = g_strdup(mapped);
	m->note = g_strdup(note);
	g_ptr_array_add(config->mappings, m);
}

SpConfig *sp_config_new(void)
{
	SpConfig *c = g_new0(SpConfig, 1);

	c->daemon.shutdown_timeout_ms = 3000;
	c->daemon.rtp_port_min = 16384;
	c->daemon.rtp_port_max = 32767;
	c->policy.auto_answer = FALSE;
	c->policy.honor_answer_after = TRUE;
	c->policy.dtmf_method = SP_DTMF_RFC4733;
	c->policy.invite_failover_timeout_ms = 2000;
	c->audio.capture = g_strdup("default");
	c->audio.playback = g_strdup("default");
	c->audio.codecs = g_strsplit(SP_AUDIO_CODECS_DEFAULT, ",", -1);
	c->audio.ptime_ms = 20;
	c->audio.jitter_min_ms = 20;
	c->audio.jitter_max_ms = 200;
	c->audio.dtmf_duration_ms = 100;
	c->audio.dtmf_gap_ms = 70;
	c->audio.ring_tone = g_strdup(SP_TONE_RING_DEFAULT);
	c->audio.ringback_tone = g_strdup(SP_TONE_RINGBACK_DEFAULT);
	c->audio.call_waiting_tone = g_strdup(SP_TONE_CALL_WAITING_DEFAULT);
	c->policy.rtp_inactivity_timeout_ms = 30000;
	c->policy.reject_code = 480;
	c->policy.expose_headers = g_strsplit("x-genesys-*", ",", -1);
	c->policy.session_expires_s = 1800;
	c->policy.min_session_expires_s = 90;
	c->connections = g_ptr_array_new_with_free_func((GDestroyNotify)sp_connection_config_free);
	c->warnings = g_ptr_array_new_with_free_func(g_free);
	c->connection_defaults = sp_connection_config_new();
	c->mappings = g_ptr_array_new_with_free_func((GDestroyNotify)mapping_free);
	return c;
}

void sp_config_free(SpConfig *c)
{
	if (c == NULL)
		return;
	g_free(c->path);
	g_free(c->daemon.socket_path);
	g_free(c->daemon.websocket);
	g_strfreev(c->daemon.websocket_origins);
	g_free(c->daemon.websocket_token_file);
	g_free(c->daemon.log_level);
	g_free(c->audio.capture);
	g_free(c->audio.playback);
	g_strfreev(c->audio.codecs);
	g_free(c->audio.ring);
	g_free(c->audio.ring_tone);
	g_free(c->audio.ringback_tone);
	g_free(c->audio.call_waiting_tone);
	g_strfreev(c->policy.expose_headers);
	if (c->connections != NULL)
		g_ptr_array_unref(c->connections);
	if (c->warnings != NULL)
		g_ptr_array_unref(c->warnings);
	sp_connection_config_free(c->connection_defaults);
	g_free(c->layout);
	if (c->mappings != NULL)
		g_ptr_array_unref(c->mappings);
	g_free(c);
}

SpConfig *sp_config_load_data(const char *path, const char *data, gsize length, GError **error)
{
	const char *text = data;
	gsize len = length;
	const char *p;
	SpConfig *config;

	if (len >= 2 && ((guchar)data[0] == 0xff || (guchar)data[0] == 0xfe) &&
	    ((guchar)data[1] == 0xff || (guchar)data[1] == 0xfe)) {
		g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_PARSE,
			    "%s: the file is in UTF-16; save it as UTF-8", path);
		return NULL;
	}
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	if (memchr(text, '\0', len) != NULL) {
		g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_PARSE,
			    "%s: holds a NUL byte: not a text file", path);
		return NULL;
	}
	for (p = text; g_ascii_isspace(*p); p++)
		;
	if (*p == '<')
		config = sp_config_load_xml(path, text, len, error);
	else
		config = sp_config_load_keyfile(path, text, len, error);
	if (config != NULL) {
		g_free(config->path);
		config->path = g_strdup(path);
	}
	return config;
}

SpConfig *sp_config_load(const char *path, GError **error)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) e = NULL;
	SpConfig *config;
	gsize len = 0;

	if (path == NULL || *path == '\0') {
		g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_IO, "no configuration file");
		return NULL;
	}
	if (!read_bounded(path, SP_CONFIG_MAX_FILE_SIZE, &data, &len, &e)) {
		g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_IO, "%s", e->message);
		return NULL;
	}
	config = sp_config_load_data(path, data, len, error);
	/* The text may hold passwords. */
	explicit_bzero(data, len);
	return config;
}

static char *existing(char *path)
{
	if (path != NULL && g_file_test(path, G_FILE_TEST_IS_REGULAR))
		return path;
	g_free(path);
	return NULL;
}

char *sp_config_default_path(void)
{
	/* Read the environment each time: g_get_user_config_dir() caches its first answer. */
	const char *xdg = g_getenv("XDG_CONFIG_HOME");
	char *path;

	if (xdg != NULL && g_path_is_absolute(xdg))
		path = existing(g_build_filename(xdg, "softphoned", "softphoned.conf", NULL));
	else
		path = existing(g_build_filename(g_get_home_dir(), ".config", "softphoned",
						 "softphoned.conf", NULL));
	if (path == NULL)
		path = existing(
		    g_build_filename(SP_SYSCONFDIR, "softphoned", "softphoned.conf", NULL));
	if (path == NULL && strcmp(SP_SYSCONFDIR, "/etc") != 0)
		path = existing(g_strdup("/etc/softphoned/softphoned.conf"));
	return path;
}
