/* The user SDP of a call and the local address its c= line names. */
#include "daemon/sdp.h"

#include <sofia-sip/sdp.h>
#include <sofia-sip/su_alloc.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

char *sp_sdp_build(const char *address, guint port, const char *direction)
{
	GString *sdp = g_string_new("v=0\r\n");
	const char *family = address != NULL && strchr(address, ':') != NULL ? "IP6" : "IP4";

	if (address != NULL)
		g_string_append_printf(sdp, "o=- 0 0 IN %s %s\r\n", family, address);
	g_string_append(sdp, "s=softphoned\r\n");
	if (address != NULL)
		g_string_append_printf(sdp, "c=IN %s %s\r\n", family, address);
	g_string_append(sdp, "t=0 0\r\n");
	g_string_append_printf(sdp, "m=audio %u RTP/AVP 0 8 101\r\n", port);
	g_string_append(sdp, "a=rtpmap:0 PCMU/8000\r\n"
			     "a=rtpmap:8 PCMA/8000\r\n"
			     "a=rtpmap:101 telephone-event/8000\r\n"
			     "a=fmtp:101 0-16\r\n"
			     "a=ptime:20\r\n");
	g_string_append_printf(sdp, "a=%s\r\n", direction ? direction : "sendrecv");
	return g_string_free(sdp, FALSE);
}

/* Splits "host", "host:port", "[v6]" or "[v6]:port" into host and port (default 5060). */
static char *split_host_port(const char *server, guint16 *port)
{
	const char *colon;
	char *host;

	*port = 5060;
	if (server[0] == '[') {
		const char *end = strchr(server, ']');

		if (end == NULL)
			return NULL;
		host = g_strndup(server + 1, (gsize)(end - server - 1));
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strchr(server, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return g_strdup(server); /* a bare IPv6 address */
		host =
		    colon != NULL ? g_strndup(server, (gsize)(colon - server)) : g_strdup(server);
	}
	if (colon != NULL) {
		guint64 p = g_ascii_strtoull(colon + 1, NULL, 10);

		if (p > 0 && p <= 65535)
			*port = (guint16)p;
	}
	return host;
}

char *sp_sdp_local_address(const char *server, const char *configured)
{
	struct sockaddr_storage sa = {0};
	socklen_t len;
	g_autofree char *host = NULL;
	char buf[INET6_ADDRSTRLEN];
	guint16 port;
	int fd;

	if (configured != NULL && configured[0] != '\0')
		return g_strdup(configured);
	if (server == NULL || (host = split_host_port(server, &port)) == NULL)
		return NULL;

	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&sa)->sin_addr) == 1) {
		sa.ss_family = AF_INET;
		((struct sockaddr_in *)&sa)->sin_port = htons(port);
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&sa)->sin6_addr) == 1) {
		sa.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&sa)->sin6_port = htons(port);
		len = sizeof(struct sockaddr_in6);
	} else {
		return NULL;
	}

	/* connect() on UDP sends nothing; it only asks the kernel for the route's source. */
	fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&sa, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		close(fd);
		return NULL;
	}
	close(fd);

	if (sa.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, buf, sizeof(buf));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, buf, sizeof(buf));
	return g_strdup(buf);
}

static gboolean media_has_g711(const sdp_media_t *m)
{
	for (const sdp_rtpmap_t *r = m->m_rtpmaps; r != NULL; r = r->rm_next) {
		if (r->rm_pt == 0 || r->rm_pt == 8)
			return TRUE;
		if (r->rm_encoding != NULL && (g_ascii_strcasecmp(r->rm_encoding, "PCMU") == 0 ||
					       g_ascii_strcasecmp(r->rm_encoding, "PCMA") == 0))
			return TRUE;
	}
	return FALSE;
}

gboolean sp_sdp_offer_usable(const char *body, gsize len)
{
	su_home_t *home;
	sdp_parser_t *parser;
	sdp_session_t *sdp;
	gboolean usable = FALSE;

	if (body == NULL || len == 0 || len > G_MAXINT)
		return FALSE;
	home = su_home_new(sizeof(su_home_t));
	if (home == NULL)
		return FALSE;
	parser = sdp_parse(home, body, (issize_t)len, sdp_f_config);
	sdp = sdp_session(parser);
	for (const sdp_media_t *m = sdp ? sdp->sdp_media : NULL; m != NULL && !usable; m = m->m_next)
		usable = m->m_type == sdp_media_audio && m->m_port != 0 && !m->m_rejected &&
			 media_has_g711(m);
	sdp_parser_free(parser);
	su_home_unref(home);
	return usable;
}
