/* Unit tests of a call's media setup: the user SDP, its c= address and RTP port reservation. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <glib.h>

#include "daemon/rtp-ports.h"
#include "daemon/sdp.h"
#include "protocol/errors.h"

static void test_sdp_build(void)
{
	g_autofree char *sdp = sp_sdp_build("192.0.2.7", 20000, "sendrecv");

	g_assert_true(g_str_has_prefix(sdp, "v=0\r\n"));
	g_assert_nonnull(strstr(sdp, "o=- 0 0 IN IP4 192.0.2.7\r\n"));
	g_assert_nonnull(strstr(sdp, "c=IN IP4 192.0.2.7\r\n"));
	g_assert_nonnull(strstr(sdp, "m=audio 20000 RTP/AVP 0 8 101\r\n"));
	g_assert_nonnull(strstr(sdp, "a=rtpmap:0 PCMU/8000\r\n"));
	g_assert_nonnull(strstr(sdp, "a=rtpmap:8 PCMA/8000\r\n"));
	g_assert_nonnull(strstr(sdp, "a=rtpmap:101 telephone-event/8000\r\n"));
	g_assert_nonnull(strstr(sdp, "a=sendrecv\r\n"));
}

static void test_sdp_directions_and_families(void)
{
	g_autofree char *hold = sp_sdp_build("192.0.2.7", 20000, "sendonly");
	g_autofree char *both = sp_sdp_build("192.0.2.7", 20000, "inactive");
	g_autofree char *v6 = sp_sdp_build("2001:db8::1", 20002, NULL);
	g_autofree char *none = sp_sdp_build(NULL, 20004, "sendrecv");

	g_assert_nonnull(strstr(hold, "a=sendonly\r\n"));
	g_assert_null(strstr(hold, "a=sendrecv"));
	g_assert_nonnull(strstr(both, "a=inactive\r\n"));
	g_assert_nonnull(strstr(v6, "c=IN IP6 2001:db8::1\r\n"));
	g_assert_nonnull(strstr(v6, "a=sendrecv\r\n"));
	/* No address known: o= and c= are left for sofia's soa to fill in. */
	g_assert_null(strstr(none, "c="));
	g_assert_null(strstr(none, "o="));
	g_assert_nonnull(strstr(none, "m=audio 20004 "));
}

static guint16 bound_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
	return ntohs(sa.sin_port);
}

static gboolean usable(const char *sdp)
{
	return sp_sdp_offer_usable(sdp, strlen(sdp));
}

static void test_sdp_offer_usable(void)
{
	g_autofree char *ours = sp_sdp_build("127.0.0.1", 40000, "sendrecv");
	const char *head = "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
			   "t=0 0\r\n";
	g_autofree char *pcma = g_strconcat(head, "m=audio 4000 RTP/AVP 8\r\n", NULL);
	g_autofree char *named =
	    g_strconcat(head, "m=audio 4000 RTP/AVP 97\r\na=rtpmap:97 pcmu/8000\r\n", NULL);
	g_autofree char *foreign =
	    g_strconcat(head, "m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 FOO/8000\r\n", NULL);
	g_autofree char *video = g_strconcat(head, "m=video 4000 RTP/AVP 31\r\n", NULL);
	g_autofree char *port0 = g_strconcat(head, "m=audio 0 RTP/AVP 0\r\n", NULL);
	g_autofree char *second =
	    g_strconcat(head, "m=video 4000 RTP/AVP 31\r\nm=audio 4002 RTP/AVP 0\r\n", NULL);

	g_assert_true(usable(ours));
	g_assert_true(usable(pcma));
	g_assert_true(usable(named));
	g_assert_true(usable(second));
	g_assert_false(usable(foreign));
	g_assert_false(usable(video));
	g_assert_false(usable(port0));
	g_assert_false(usable(head));
	g_assert_false(usable("not SDP at all\r\n"));
	g_assert_false(sp_sdp_offer_usable(NULL, 0));
}

static void test_rtp_ports_reserve(void)
{
	g_autoptr(SpRtpPorts) ports = sp_rtp_ports_new(40000, 40099);
	g_autoptr(GError) error = NULL;
	g_autoptr(SpRtpPort) a = sp_rtp_ports_reserve(ports, "127.0.0.1", &error);
	g_autoptr(SpRtpPort) b = NULL;

	g_assert_no_error(error);
	g_assert_nonnull(a);
	g_assert_cmpuint(sp_rtp_port_get_port(a) % 2, ==, 0);
	g_assert_cmpuint(sp_rtp_port_get_port(a), >=, 40000);
	g_assert_cmpuint(sp_rtp_port_get_port(a) + 1, <=, 40099);
	g_assert_cmpuint(bound_port(sp_rtp_port_get_rtp_fd(a)), ==, sp_rtp_port_get_port(a));
	g_assert_cmpuint(bound_port(sp_rtp_port_get_rtcp_fd(a)), ==, sp_rtp_port_get_port(a) + 1);

	b = sp_rtp_ports_reserve(ports, "127.0.0.1", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(sp_rtp_port_get_port(a), !=, sp_rtp_port_get_port(b));
}

static void test_rtp_ports_exhausted(void)
{
	/* One pair only: 40200/40201. */
	g_autoptr(SpRtpPorts) ports = sp_rtp_ports_new(40200, 40201);
	g_autoptr(GError) error = NULL;
	g_autoptr(SpRtpPort) a = sp_rtp_ports_reserve(ports, "127.0.0.1", &error);
	SpRtpPort *b;

	g_assert_no_error(error);
	g_assert_cmpuint(sp_rtp_port_get_port(a), ==, 40200);
	b = sp_rtp_ports_reserve(ports, "127.0.0.1", &error);
	g_assert_null(b);
	g_assert_error(error, SP_ERROR, SP_ERROR_UNAVAILABLE);
	g_clear_error(&error);

	/* Freed, the pair can be had again. */
	g_clear_pointer(&a, sp_rtp_port_free);
	b = sp_rtp_ports_reserve(ports, "127.0.0.1", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(sp_rtp_port_get_port(b), ==, 40200);
	sp_rtp_port_free(b);
}

static void test_rtp_ports_defaults(void)
{
	/* An unset or inverted range falls back to 16384..32767. */
	g_autoptr(SpRtpPorts) ports = sp_rtp_ports_new(0, 0);
	g_autoptr(GError) error = NULL;
	g_autoptr(SpRtpPort) p = sp_rtp_ports_reserve(ports, NULL, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(sp_rtp_port_get_port(p), >=, 16384);
	g_assert_cmpuint(sp_rtp_port_get_port(p), <=, 32766);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/calls/sdp/build", test_sdp_build);
	g_test_add_func("/calls/sdp/directions-and-families", test_sdp_directions_and_families);
	g_test_add_func("/calls/sdp/offer-usable", test_sdp_offer_usable);
	g_test_add_func("/calls/rtp-ports/reserve", test_rtp_ports_reserve);
	g_test_add_func("/calls/rtp-ports/exhausted", test_rtp_ports_exhausted);
	g_test_add_func("/calls/rtp-ports/defaults", test_rtp_ports_defaults);
	return g_test_run();
}
