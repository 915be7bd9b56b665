/* RTP port reservation: bind-tested even/odd UDP port pairs held while a call lives. */
#include "daemon/rtp-ports.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/errors.h"

#define SP_RTP_PORT_MIN_DEFAULT 16384
#define SP_RTP_PORT_MAX_DEFAULT 32767

struct _SpRtpPorts {
	guint min; /* even */
	guint max; /* highest usable RTP port (even, max + 1 in range) */
	guint next;
	int tos; /* the TOS byte (IPv4) or traffic class (IPv6) of the sockets; 0: left alone */
};

struct _SpRtpPort {
	guint port;
	int rtp_fd;
	int rtcp_fd;
};

SpRtpPorts *sp_rtp_ports_new(guint min, guint max)
{
	SpRtpPorts *ports = g_new0(SpRtpPorts, 1);

	if (min == 0 || max == 0 || min > 65534 || max > 65535 || min + 1 > max) {
		min = SP_RTP_PORT_MIN_DEFAULT;
		max = SP_RTP_PORT_MAX_DEFAULT;
	}
	ports->min = (min + 1) & ~1u;
	/* The RTP port is even and its RTCP port (p + 1) must stay in range. */
	ports->max = (max - 1) & ~1u;
	if (ports->max < ports->min)
		ports->max = ports->min;
	/* Start somewhere random so two daemons on one host rarely collide first. */
	ports->next = ports->min +
		      2 * (guint)g_random_int_range(0, (gint)((ports->max - ports->min) / 2 + 1));
	return ports;
}

void sp_rtp_ports_set_dscp(SpRtpPorts *ports, guint dscp)
{
	ports->tos = (int)((dscp & 0x3f) << 2);
}

void sp_rtp_ports_free(SpRtpPorts *ports)
{
	g_free(ports);
}

/* Binds a UDP socket to addr:port, its packets marked with tos unless 0; returns the fd or
 * -errno. */
static int bind_udp(const struct sockaddr_storage *addr, socklen_t len, guint port, int tos)
{
	struct sockaddr_storage sa = *addr;
	int fd;

	if (sa.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)port);

	fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (tos != 0 &&
	    (sa.ss_family == AF_INET6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos)
				      : setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static gboolean parse_address(const char *address, struct sockaddr_storage *sa, socklen_t *len)
{
	memset(sa, 0, sizeof(*sa));
	if (address != NULL && strchr(address, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;
		g_autofree char *plain = g_strdup(address);
		char *end;

		/* Accept "[::1]" as well as "::1". */
		if (plain[0] == '[' && (end = strchr(plain, ']')) != NULL) {
			*end = '\0';
			memmove(plain, plain + 1, strlen(plain));
		}
		sin6->sin6_family = AF_INET6;
		*len = sizeof(*sin6);
		return inet_pton(AF_INET6, plain, &sin6->sin6_addr) == 1;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)sa;

		sin->sin_family = AF_INET;
		*len = sizeof(*sin);
		if (address == NULL)
			return TRUE;
		return inet_pton(AF_INET, address, &sin->sin_addr) == 1;
	}
}

SpRtpPort *sp_rtp_ports_reserve(SpRtpPorts *ports, const char *address, GError **error)
{
	struct sockaddr_storage sa;
	socklen_t len;
	guint pairs = (ports->max - ports->min) / 2 + 1;

	if (!parse_address(address, &sa, &len)) {
		/* A host name or something unexpected: reserve on every address instead. */
		parse_address(NULL, &sa, &len);
	}

	for (guint i = 0; i < pairs; i++) {
		guint port = ports->next;
		int rtp, rtcp;

		ports->next = port + 2 > ports->max ? ports->min : port + 2;

		rtp = bind_udp(&sa, len, port, ports->tos);
		if (rtp < 0)
			continue;
		rtcp = bind_udp(&sa, len, port + 1, ports->tos);
		if (rtcp < 0) {
			close(rtp);
			continue;
		}

		SpRtpPort *p = g_new0(SpRtpPort, 1);

		p->port = port;
		p->rtp_fd = rtp;
		p->rtcp_fd = rtcp;
		return p;
	}
	g_set_error(error, SP_ERROR, SP_ERROR_UNAVAILABLE, "no free RTP port in %u..%u", ports->min,
		    ports->max + 1);
	return NULL;
}

guint sp_rtp_port_get_port(const SpRtpPort *port)
{
	return port->port;
}

int sp_rtp_port_get_rtp_fd(const SpRtpPort *port)
{
	return port->rtp_fd;
}

int sp_rtp_port_get_rtcp_fd(const SpRtpPort *port)
{
	return port->rtcp_fd;
}

void sp_rtp_port_free(SpRtpPort *port)
{
	if (port == NULL)
		return;
	if (port->rtp_fd >= 0)
		close(port->rtp_fd);
	if (port->rtcp_fd >= 0)
		close(port->rtcp_fd);
	g_free(port);
}
