/* RTP port reservation: an even RTP port and its RTCP neighbour from a configured range. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _SpRtpPorts SpRtpPorts;
typedef struct _SpRtpPort SpRtpPort;

/* The range [min, max]; 0 for either means the default 16384..32767. */
SpRtpPorts *sp_rtp_ports_new(guint min, guint max);
void sp_rtp_ports_free(SpRtpPorts *ports);
/* The DSCP (0..63) marked on the RTP and RTCP sockets reserved from now on; 0: none. */
void sp_rtp_ports_set_dscp(SpRtpPorts *ports, guint dscp);

/*
 * Binds UDP sockets to an even port p and to p + 1 on address (NULL: any IPv4 address), trying
 * the range round-robin, and keeps them bound until the reservation is freed.
 * Fails with SP_ERROR_UNAVAILABLE when every pair is taken.
 */
SpRtpPort *sp_rtp_ports_reserve(SpRtpPorts *ports, const char *address, GError **error);

guint sp_rtp_port_get_port(const SpRtpPort *port);
/* The bound sockets, still owned by the reservation (for the media code to take over). */
int sp_rtp_port_get_rtp_fd(const SpRtpPort *port);
int sp_rtp_port_get_rtcp_fd(const SpRtpPort *port);
void sp_rtp_port_free(SpRtpPort *port);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpRtpPorts, sp_rtp_ports_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpRtpPort, sp_rtp_port_free)

G_END_DECLS
