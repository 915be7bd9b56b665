/* The pure decisions of a connection's status machine (no sofia, no clock), unit tested. */
#include <string.h>

#include "daemon/connection-policy.h"
#include "daemon/connection.h"

const char *sp_connection_status_to_string(SpConnectionStatus status)
{
	switch (status) {
	case SP_CONNECTION_DISABLED:
		return "Disabled";
	case SP_CONNECTION_REGISTERING:
		return "Registering";
	case SP_CONNECTION_READY:
		return "Ready";
	case SP_CONNECTION_FAILED:
		return "Failed";
	case SP_CONNECTION_UNREGISTERING:
		return "Unregistering";
	case SP_CONNECTION_REMOVED:
		return "Removed";
	}
	return "Unknown";
}

const char *sp_register_outcome_to_string(SpRegisterOutcome outcome)
{
	switch (outcome) {
	case SP_REGISTER_OK:
		return "ok";
	case SP_REGISTER_CHALLENGED:
		return "challenged";
	case SP_REGISTER_UNREACHABLE:
		return "unreachable";
	case SP_REGISTER_REFUSED:
		return "refused";
	case SP_REGISTER_AUTH_FAILED:
		return "auth-failed";
	}
	return "unknown";
}

SpRegisterOutcome sp_register_outcome(int status, gboolean local, gboolean credentials_sent)
{
	if (status < 300)
		return SP_REGISTER_OK;
	if (status == 408)
		return SP_REGISTER_UNREACHABLE;
	if (local && status >= 900 && credentials_sent)
		return SP_REGISTER_AUTH_FAILED; /* sofia found nothing to use the credentials on */
	if (local) {
		/* The stack's 4xx are about the request it could not build: nothing was sent, and
		 * probing would not help. Everything else (503 on ICMP errors or refused
		 * connections, 5xx on transport errors, 9xx) means no answer from the site. */
		if (status < 500)
			return SP_REGISTER_REFUSED;
		return SP_REGISTER_UNREACHABLE;
	}
	if (status == 401 || status == 407)
		return credentials_sent ? SP_REGISTER_AUTH_FAILED : SP_REGISTER_CHALLENGED;
	if (status == 403)
		return SP_REGISTER_AUTH_FAILED;
	return SP_REGISTER_REFUSED;
}

gboolean sp_probe_failed(int status, gboolean local)
{
	if (status < 200)
		return FALSE;
	if (local)
		return status >= 300;
	return status == 408 || status == 503;
}

gboolean sp_status_suggests_site_down(int status)
{
	return status == 408 || status == 503;
}

static gboolean port_valid(const char *port)
{
	guint64 v = 0;

	if (port[0] == '\0' || strlen(port) > 5)
		return FALSE;
	for (const char *p = port; *p != '\0'; p++) {
		if (!g_ascii_isdigit(*p))
			return FALSE;
	}
	v = g_ascii_strtoull(port, NULL, 10);
	return v >= 1 && v <= 65535;
}

gboolean sp_server_split(const char *server, char **host, char **port)
{
	g_autofree char *h = NULL;
	const char *rest = NULL;

	*host = NULL;
	*port = NULL;
	if (server == NULL || server[0] == '\0')
		return FALSE;
	if (server[0] == '[') {
		const char *end = strchr(server, ']');

		if (end == NULL || end == server + 1)
			return FALSE;
		h = g_strndup(server + 1, end - server - 1);
		rest = end + 1;
		if (*rest != '\0' && *rest != ':')
			return FALSE;
	} else {
		const char *colon = strchr(server, ':');

		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return FALSE; /* a bare IPv6 address: needs brackets */
		h = colon != NULL ? g_strndup(server, colon - server) : g_strdup(server);
		rest = colon != NULL ? colon : "";
		if (h[0] == '\0' || strpbrk(h, "[]") != NULL)
			return FALSE;
	}
	if (*rest == ':') {
		if (!port_valid(rest + 1))
			return FALSE;
		*port = g_strdup(rest + 1);
	}
	*host = g_steal_pointer(&h);
	return TRUE;
}

char *sp_sip_quote(const char *display_name)
{
	GString *s;

	if (display_name == NULL || display_name[0] == '\0')
		return NULL;
	s = g_string_new("\"");
	for (const char *p = display_name; *p != '\0'; p++) {
		/* Line breaks cannot be in a quoted-string; everything else is escaped. */
		if (*p == '\r' || *p == '\n')
			continue;
		if (*p == '"' || *p == '\\')
			g_string_append_c(s, '\\');
		g_string_append_c(s, *p);
	}
	g_string_append_c(s, '"');
	return g_string_free(s, FALSE);
}

char *sp_line_stable_part(const char *instance_id, guint connection_id)
{
	g_autofree char *key = g_strdup_printf("%s:%u", instance_id, connection_id);
	g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);

	return g_strndup(hash, SP_LINE_STABLE_LEN);
}

gboolean sp_line_is_stale(const char *line, const char *stable, const char *current)
{
	if (line == NULL || stable == NULL || current == NULL)
		return FALSE;
	return strlen(line) == strlen(current) &&
	       g_ascii_strncasecmp(line, stable, strlen(stable)) == 0 &&
	       g_ascii_strcasecmp(line, current) != 0;
}

gboolean sp_failure_may_stall_transport(gboolean stream, int code)
{
	return stream && code == 408;
}
