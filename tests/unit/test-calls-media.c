/* Unit tests of a call's media setup: the user SDP, its c= address and RTP port reservation. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <glib.h>

#include "daemon/rtp-ports.h"
#include "daemon/sdp.h"
#include "protocol/errors.h"

/* The m= lines sofia-sip's parser would loop on never reach it; valid SDP does, unchanged. */
static void test_sdp_guard(void)
{
	static const char good[] = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
				   "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
				   "m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
				   "m=image 0 udptl t38\r\n";
	static const char bomb[] = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
				   "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6A ;\r\n";
	su_home_t home[1] = {SU_HOME_INIT(home)};
	sdp_parser_t *p;

	g_assert_true(sp_sdp_is_safe(good, strlen(good)));
	g_assert_false(sp_sdp_is_safe(bomb, strlen(bomb)));
	g_assert_false(sp_sdp_is_safe("m=audio 0R\xff\xff", 12));
	g_assert_false(sp_sdp_is_safe("v=0\n  m=a 6 \"x\"", 16));
	g_assert_false(sp_sdp_is_safe("m=au 0 7000 \t\r\n", 15));
	g_assert_true(sp_sdp_is_safe("m=audio 4000 RTP/AVP 0 \r\n", 26));
	/* After a NUL sofia reads nothing more. */
	g_assert_true(sp_sdp_is_safe("v=0\n\0m=a 6A ;", 14));

	/* sdp_parse() is the guard: the bomb comes back as an error at once. */
	p = sdp_parse(home, bomb, (issize_t)strlen(bomb), 0);
	g_assert_null(sdp_session(p));
	sdp_parser_free(p);
	p = sdp_parse(home, good, (issize_t)strlen(good), 0);
	g_assert_nonnull(sdp_session(p));
	g_assert_cmpint(sdp_session(p)->sdp_media->m_port, ==, 4000);
	sdp_parser_free(p);
	su_home_deinit(home);
}

static void test_sdp_build(void)
{
	g_autofree char *sdp = sp_sdp_build("192.0.2.7", 20000, "sendrecv", NULL, 0);

	g_assert_true(g_str_has_prefix(sdp, "v=0\r\n"));
	g_assert_nonnull(strstr(sdp, "o=- 0 0 IN IP4 192.0.2.7\r\n"));
	g_assert_nonnull(strstr(sdp, "c=IN IP4 192.0.2.7\r\n"));
	g_assert_nonnull(strstr(sdp, "m=audio 20000 RTP/AVP 111 9 0 8 101 110\r\n"));
	g_assert_nonnull(strstr(sdp, "a=rtpmap:0 PCMU/8000\r\n"));
	g_assert_nonnull(strstr(sdp, "a=rtpmap:8 PCMA/8000\r\n"));
	g_assert_nonnull(strstr(sdp, "a=rtpmap:101 telephone-event/8000\r\n"));
	g_assert_nonnull(strstr(sdp, "a=sendrecv\r\n"));
}

static void test_sdp_directions_and_families(void)
{
	g_autofree char *hold = sp_sdp_build("192.0.2.7", 20000, "sendonly", NULL, 0);
	g_autofree char *both = sp_sdp_build("192.0.2.7", 20000, "inactive", NULL, 0);
	g_autofree char *v6 = sp_sdp_build("2001:db8::1", 20002, NULL, NULL, 0);
	g_autofree char *none = sp_sdp_build(NULL, 20004, "sendrecv", NULL, 0);

	g_assert_nonnull(strstr(hold, "a=sendonly\r\n"));
	g_assert_null(strstr(hold, "a=sendrecv"));
	g_assert_nonnull(strstr(both, "a=inactive\r\n"));
	g_assert_nonnull(strstr(v6, "c=IN IP6 2001:db8::1\r\n"));
	g_assert_nonnull(strstr(v6, "a=sendrecv\r\n"));
	/* No address known: o= and c= are left for sofia's soa to fill in. */
	g_assert_null(strstr(none, "\nc="));
	g_assert_null(strstr(none, "\no="));
	g_assert_nonnull(strstr(none, "m=audio 20004 "));
}

static const char *const remote_head =
    "v=0\r\no=x 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\n";

static void test_sdp_negotiated(void)
{
	g_autofree char *ours = sp_sdp_build("127.0.0.1", 40000, "sendrecv", NULL, 20);
	g_autofree char *answer = g_strconcat(remote_head,
					      "m=audio 4000 RTP/AVP 8 101\r\n"
					      "a=rtpmap:101 telephone-event/8000\r\n"
					      "a=ptime:30\r\na=rtcp-mux\r\n",
					      NULL);
	g_autofree char *opus = g_strconcat(remote_head,
					    "m=audio 4002 RTP/AVP 96 0 97\r\n"
					    "a=rtpmap:96 opus/48000/2\r\n"
					    "a=rtpmap:97 telephone-event/48000\r\n"
					    "a=rtcp:5000\r\n",
					    NULL);
	g_autofree char *held = g_strconcat("v=0\r\no=x 1 2 IN IP4 127.0.0.9\r\ns=-\r\n"
					    "c=IN IP4 0.0.0.0\r\nt=0 0\r\n"
					    "m=audio 4000 RTP/AVP 0\r\n",
					    NULL);
	g_autofree char *sendonly =
	    g_strconcat(remote_head, "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n", NULL);
	g_autofree char *foreign =
	    g_strconcat(remote_head, "m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n", NULL);
	g_autofree char *pcmu_only =
	    sp_sdp_build("127.0.0.1", 40000, "sendrecv", (const char *const[]){"PCMU", NULL}, 20);
	SpSdpMedia m;

	g_assert_true(sp_sdp_media_negotiated_str(ours, answer, 20, &m));
	g_assert_cmpstr(m.codec, ==, "PCMA");
	g_assert_cmpuint(m.payload_type, ==, 8);
	g_assert_cmpuint(m.clock_rate, ==, 8000);
	g_assert_cmpint(m.telephone_event_pt, ==, 101);
	g_assert_cmpuint(m.ptime_ms, ==, 30);
	g_assert_true(m.rtcp_mux);
	g_assert_cmpstr(m.remote_address, ==, "127.0.0.9");
	g_assert_cmpuint(m.remote_rtp_port, ==, 4000);
	g_assert_cmpint(m.direction, ==, SP_MEDIA_SENDRECV);
	sp_sdp_media_clear(&m);

	/* The offerer's first codec we have, with its own payload type numbers. */
	g_assert_true(sp_sdp_media_negotiated_str(ours, opus, 20, &m));
	g_assert_cmpstr(m.codec, ==, "opus");
	g_assert_cmpuint(m.payload_type, ==, 96);
	g_assert_cmpuint(m.clock_rate, ==, 48000);
	g_assert_cmpint(m.telephone_event_pt, ==, 97);
	g_assert_cmpuint(m.ptime_ms, ==, 20);
	g_assert_false(m.rtcp_mux);
	g_assert_cmpuint(m.remote_rtcp_port, ==, 5000);
	sp_sdp_media_clear(&m);

	/* A codec we leave out of [audio] codecs is not taken. */
	g_assert_true(sp_sdp_media_negotiated_str(pcmu_only, opus, 20, &m));
	g_assert_cmpstr(m.codec, ==, "PCMU");
	g_assert_cmpint(m.telephone_event_pt, ==, -1);
	sp_sdp_media_clear(&m);

	/* c=0.0.0.0 (hold, RFC 2543 style): nothing to send to. */
	g_assert_true(sp_sdp_media_negotiated_str(ours, held, 20, &m));
	g_assert_null(m.remote_address);
	g_assert_cmpint(m.direction, ==, SP_MEDIA_RECVONLY);
	sp_sdp_media_clear(&m);

	g_assert_true(sp_sdp_media_negotiated_str(ours, sendonly, 20, &m));
	g_assert_cmpint(m.direction, ==, SP_MEDIA_RECVONLY);
	sp_sdp_media_clear(&m);

	g_assert_false(sp_sdp_media_negotiated_str(ours, foreign, 20, &m));
	g_assert_null(m.codec);
	g_assert_false(sp_sdp_media_negotiated_str(ours, "garbage", 20, &m));
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
	return sp_sdp_offer_usable(sdp, strlen(sdp), NULL);
}

static void test_sdp_offer_usable(void)
{
	g_autofree char *ours = sp_sdp_build("127.0.0.1", 40000, "sendrecv", NULL, 0);
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
	g_assert_false(sp_sdp_offer_usable(NULL, 0, NULL));
}

/* SDES: our a=crypto lines, which line an answer takes, and what an offer asks. */
static void test_sdp_crypto(void)
{
	SpSdpCrypto ours[2] = {{1, SP_SRTP_AES_CM_128_HMAC_SHA1_80, {0}},
			       {2, SP_SRTP_AES_CM_128_HMAC_SHA1_32, {0}}};
	guint8 theirs[SP_SRTP_KEY_LEN];
	char *offer, *answer, *key2, *key_theirs;
	g_autofree char *shown = NULL;
	SpSdpMedia m;
	SpSdpSrtpOffer o;

	g_assert_true(sp_srtp_random_key(ours[0].key, NULL));
	g_assert_true(sp_srtp_random_key(ours[1].key, NULL));
	g_assert_true(sp_srtp_random_key(theirs, NULL));
	offer = sp_sdp_build_secure("127.0.0.1", 40000, "sendrecv", NULL, 20, TRUE, ours, 2);
	g_assert_nonnull(strstr(offer, "m=audio 40000 RTP/SAVP "));
	g_assert_nonnull(strstr(offer, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
	g_assert_nonnull(strstr(offer, "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:"));
	key2 = sp_srtp_key_to_base64(ours[1].key);
	g_assert_nonnull(strstr(offer, key2));

	/* The redacted text keeps everything but the keys. */
	shown = sp_sdp_redact(offer);
	g_assert_null(strstr(shown, key2));
	g_assert_nonnull(
	    strstr(shown, "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:[key hidden]\r\n"));
	g_assert_nonnull(strstr(shown, "m=audio 40000 RTP/SAVP "));

	/* The far end answers the second line with a key of its own (and a lifetime). */
	key_theirs = sp_srtp_key_to_base64(theirs);
	answer = g_strdup_printf("%sm=audio 4000 RTP/SAVP 0\r\n"
				 "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:%s|2^31\r\n",
				 remote_head, key_theirs);
	g_assert_true(sp_sdp_media_negotiated_str(offer, answer, 20, &m));
	g_assert_cmpint(m.srtp_suite, ==, SP_SRTP_AES_CM_128_HMAC_SHA1_32);
	g_assert_cmpuint(m.srtp_tag, ==, 2);
	g_assert_true(m.remote_savp);
	g_assert_cmpmem(m.srtp_local_key, SP_SRTP_KEY_LEN, ours[1].key, SP_SRTP_KEY_LEN);
	g_assert_cmpmem(m.srtp_remote_key, SP_SRTP_KEY_LEN, theirs, SP_SRTP_KEY_LEN);
	sp_sdp_media_clear(&m);
	g_assert_cmpint(m.srtp_suite, ==, SP_SRTP_NONE);

	/* An answer without a=crypto (or with a tag we did not offer): plain RTP. */
	sp_srtp_text_free(answer);
	answer = g_strdup_printf("%sm=audio 4000 RTP/AVP 0\r\n"
				 "a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n",
				 remote_head, key_theirs);
	g_assert_true(sp_sdp_media_negotiated_str(offer, answer, 20, &m));
	g_assert_cmpint(m.srtp_suite, ==, SP_SRTP_NONE);
	g_assert_false(m.remote_savp);
	sp_sdp_media_clear(&m);
	sp_srtp_text_free(answer);

#define OFFER(attrs) g_strconcat(remote_head, "m=audio 4000 RTP/SAVP 0\r\n", attrs, NULL)
	{
		/* The first usable line, in the offerer's order; unusable ones are skipped. */
		g_autofree char *t = g_strdup_printf(
		    "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:%s\r\n"		/* unknown suite */
		    "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:%s|2^20|1:4\r\n" /* an MKI */
		    "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:%s UNENCRYPTED_SRTP\r\n"
		    "a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\n" /* short key */
		    "a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"	 /* bad tag */
		    "a=crypto:6 AES_CM_128_HMAC_SHA1_32 inline:%s\r\n",
		    key_theirs, key_theirs, key_theirs, key_theirs, key_theirs);
		g_autofree char *sdp = OFFER(t);

		g_assert_true(sp_sdp_offer_srtp(sdp, strlen(sdp), &o));
		g_assert_true(o.savp && o.usable);
		g_assert_cmpuint(o.tag, ==, 6);
		g_assert_cmpint(o.suite, ==, SP_SRTP_AES_CM_128_HMAC_SHA1_32);
	}
	{
		/* Fields apart by more than one space are still three fields. */
		g_autofree char *t = g_strdup_printf(
		    "a=crypto:8  AES_CM_128_HMAC_SHA1_80 \tinline:%s\r\n", key_theirs);
		g_autofree char *sdp = OFFER(t);

		g_assert_true(sp_sdp_offer_srtp(sdp, strlen(sdp), &o));
		g_assert_true(o.usable);
		g_assert_cmpuint(o.tag, ==, 8);
	}
	{
		g_autofree char *sdp = OFFER("a=sendrecv\r\n");

		g_assert_true(sp_sdp_offer_srtp(sdp, strlen(sdp), &o));
		g_assert_true(o.savp);
		g_assert_false(o.usable);
	}
#undef OFFER
	g_assert_false(sp_sdp_offer_srtp("not sdp", 7, &o));

	sp_srtp_text_free(key2);
	sp_srtp_text_free(key_theirs);
	sp_srtp_text_free(offer);
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
	g_test_add_func("/calls/sdp/guard", test_sdp_guard);
	g_test_add_func("/calls/sdp/directions-and-families", test_sdp_directions_and_families);
	g_test_add_func("/calls/sdp/negotiated", test_sdp_negotiated);
	g_test_add_func("/calls/sdp/offer-usable", test_sdp_offer_usable);
	g_test_add_func("/calls/sdp/crypto", test_sdp_crypto);
	g_test_add_func("/calls/rtp-ports/reserve", test_rtp_ports_reserve);
	g_test_add_func("/calls/rtp-ports/exhausted", test_rtp_ports_exhausted);
	g_test_add_func("/calls/rtp-ports/defaults", test_rtp_ports_defaults);
	return g_test_run();
}
