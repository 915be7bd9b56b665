/* Unit tests of SRTP/SRTCP: a known answer, round trips, forged and replayed packets, keys. */
#include <string.h>

#include <glib.h>

#include "daemon/media/rtp.h"
#include "daemon/media/srtp.h"

/* libsrtp's reference packet for AES_CM_128_HMAC_SHA1_80 (its srtp_driver test). */
static const guint8 ref_key[SP_SRTP_KEY_LEN] = {
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41,
    0x39, 0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6};
static const guint8 ref_plain[28] = {0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe,
				     0xba, 0xbe, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
				     0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
static const guint8 ref_cipher[38] = {0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe,
				      0xba, 0xbe, 0x4e, 0x55, 0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8,
				      0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d, 0x24, 0x02, 0xb7, 0x8d,
				      0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb};

static void test_known_answer(void)
{
	g_autoptr(SpSrtp) tx = sp_srtp_new(SP_SRTP_AES_CM_128_HMAC_SHA1_80, ref_key, FALSE, NULL);
	g_autoptr(SpSrtp) rx = sp_srtp_new(SP_SRTP_AES_CM_128_HMAC_SHA1_80, ref_key, TRUE, NULL);
	guint8 buf[28 + SP_SRTP_MAX_OVERHEAD];
	gsize len;

	g_assert_nonnull(tx);
	memcpy(buf, ref_plain, sizeof(ref_plain));
	len = sp_srtp_protect(tx, buf, sizeof(ref_plain), sizeof(buf), FALSE);
	g_assert_cmpmem(buf, len, ref_cipher, sizeof(ref_cipher));
	g_assert_cmpint(sp_srtp_unprotect(rx, buf, &len, FALSE), ==, SP_SRTP_OK);
	g_assert_cmpmem(buf, len, ref_plain, sizeof(ref_plain));
}

static gsize make_rtp(guint8 *buf, gsize size, guint16 seq, guint8 fill)
{
	guint8 payload[160];

	memset(payload, fill, sizeof(payload));
	return sp_rtp_build(buf, size, 0, FALSE, seq, seq * 160u, 0x11223344, payload,
			    sizeof(payload));
}

static void round_trip(SpSrtpSuite suite, gsize tag_len)
{
	guint8 key[SP_SRTP_KEY_LEN];
	guint8 buf[SP_RTP_HEADER_LEN + 160 + SP_SRTP_MAX_OVERHEAD];
	guint8 plain[SP_RTP_HEADER_LEN + 160];
	g_autoptr(SpSrtp) tx = NULL;
	g_autoptr(SpSrtp) rx = NULL;
	gsize plain_len, len;

	g_assert_true(sp_srtp_random_key(key, NULL));
	tx = sp_srtp_new(suite, key, FALSE, NULL);
	rx = sp_srtp_new(suite, key, TRUE, NULL);
	g_assert_nonnull(tx);
	g_assert_nonnull(rx);
	for (guint16 seq = 65530; seq != 10; seq++) {
		plain_len = make_rtp(plain, sizeof(plain), seq, (guint8)seq);
		memcpy(buf, plain, plain_len);
		len = sp_srtp_protect(tx, buf, plain_len, sizeof(buf), FALSE);
		g_assert_cmpuint(len, ==, plain_len + tag_len);
		/* The header stays readable, the payload does not. */
		g_assert_cmpmem(buf, SP_RTP_HEADER_LEN, plain, SP_RTP_HEADER_LEN);
		g_assert_true(memcmp(buf + SP_RTP_HEADER_LEN, plain + SP_RTP_HEADER_LEN, 160) != 0);
		g_assert_cmpint(sp_srtp_unprotect(rx, buf, &len, FALSE), ==, SP_SRTP_OK);
		g_assert_cmpmem(buf, len, plain, plain_len);
	}
}

static void test_round_trip_80(void)
{
	round_trip(SP_SRTP_AES_CM_128_HMAC_SHA1_80, 10);
}

static void test_round_trip_32(void)
{
	round_trip(SP_SRTP_AES_CM_128_HMAC_SHA1_32, 4);
}

static void test_forged_and_replayed(void)
{
	guint8 key[SP_SRTP_KEY_LEN], other[SP_SRTP_KEY_LEN];
	guint8 buf[SP_RTP_HEADER_LEN + 160 + SP_SRTP_MAX_OVERHEAD];
	guint8 copy[sizeof(buf)];
	g_autoptr(SpSrtp) tx = NULL;
	g_autoptr(SpSrtp) rx = NULL;
	g_autoptr(SpSrtp) stranger = NULL;
	gsize len, n;

	g_assert_true(sp_srtp_random_key(key, NULL));
	g_assert_true(sp_srtp_random_key(other, NULL));
	g_assert_true(memcmp(key, other, sizeof(key)) != 0);
	tx = sp_srtp_new(SP_SRTP_AES_CM_128_HMAC_SHA1_80, key, FALSE, NULL);
	rx = sp_srtp_new(SP_SRTP_AES_CM_128_HMAC_SHA1_80, key, TRUE, NULL);
	stranger = sp_srtp_new(SP_SRTP_AES_CM_128_HMAC_SHA1_80, other, FALSE, NULL);

	len = make_rtp(buf, sizeof(buf), 100, 0x55);
	len = sp_srtp_protect(tx, buf, len, sizeof(buf), FALSE);
	memcpy(copy, buf, len);

	/* One flipped payload bit: the tag does not match. */
	n = len;
	buf[20] ^= 0x01;
	g_assert_cmpint(sp_srtp_unprotect(rx, buf, &n, FALSE), ==, SP_SRTP_AUTH_FAILED);
	/* The genuine packet still gets through after the forgery... */
	memcpy(buf, copy, len);
	n = len;
	g_assert_cmpint(sp_srtp_unprotect(rx, buf, &n, FALSE), ==, SP_SRTP_OK);
	/* ... but only once. */
	memcpy(buf, copy, len);
	n = len;
	g_assert_cmpint(sp_srtp_unprotect(rx, buf, &n, FALSE), ==, SP_SRTP_REPLAYED);

	/* Another key: not ours. */
	len = make_rtp(buf, sizeof(buf), 101, 0x55);
	len = sp_srtp_protect(stranger, buf, len, sizeof(buf), FALSE);
	g_assert_cmpint(sp_srtp_unprotect(rx, buf, &len, FALSE), ==, SP_SRTP_AUTH_FAILED);

	/* Plain RTP where SRTP is due: its last bytes are no tag. */
	len = make_rtp(buf, sizeof(buf), 102, 0x55);
	g_assert_cmpint(sp_srtp_unprotect(rx, buf, &len, FALSE), ==, SP_SRTP_AUTH_FAILED);
	/* Too short to be anything. */
	len = 8;
	g_assert_cmpint(sp_srtp_unprotect(rx, buf, &len, FALSE), ==, SP_SRTP_BAD);
	/* No room for the tag: refused, not overrun. */
	len = make_rtp(buf, sizeof(buf), 103, 0x55);
	g_assert_cmpuint(sp_srtp_protect(tx, buf, len, len + 4, FALSE), ==, 0);
}

static void test_rtcp(void)
{
	/* An RTCP RR with no blocks and an SDES-less tail: what matters is the framing. */
	const guint8 rr[8] = {0x80, 201, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44};
	guint8 key[SP_SRTP_KEY_LEN];
	guint8 buf[8 + SP_SRTP_MAX_OVERHEAD], copy[sizeof(buf)];
	g_autoptr(SpSrtp) tx = NULL;
	g_autoptr(SpSrtp) rx = NULL;
	gsize len, n;

	g_assert_true(sp_srtp_random_key(key, NULL));
	/* The _32 suite keeps the 80-bit tag on SRTCP. */
	tx = sp_srtp_new(SP_SRTP_AES_CM_128_HMAC_SHA1_32, key, FALSE, NULL);
	rx = sp_srtp_new(SP_SRTP_AES_CM_128_HMAC_SHA1_32, key, TRUE, NULL);
	memcpy(buf, rr, sizeof(rr));
	len = sp_srtp_protect(tx, buf, sizeof(rr), sizeof(buf), TRUE);
	g_assert_cmpuint(len, ==, sizeof(rr) + 4 + 10);
	memcpy(copy, buf, len);
	n = len;
	g_assert_cmpint(sp_srtp_unprotect(rx, buf, &n, TRUE), ==, SP_SRTP_OK);
	g_assert_cmpmem(buf, n, rr, sizeof(rr));
	memcpy(buf, copy, len);
	n = len;
	g_assert_cmpint(sp_srtp_unprotect(rx, buf, &n, TRUE), ==, SP_SRTP_REPLAYED);
	memcpy(buf, copy, len);
	buf[5] ^= 0x80;
	n = len;
	g_assert_cmpint(sp_srtp_unprotect(rx, buf, &n, TRUE), ==, SP_SRTP_AUTH_FAILED);
}

static void test_keys(void)
{
	guint8 key[SP_SRTP_KEY_LEN], back[SP_SRTP_KEY_LEN];
	char *text;
	SpSrtpSuite suite = SP_SRTP_NONE;

	g_assert_true(sp_srtp_random_key(key, NULL));
	text = sp_srtp_key_to_base64(key);
	g_assert_cmpuint(strlen(text), ==, 40);
	g_assert_true(sp_srtp_key_from_base64(text, strlen(text), back));
	g_assert_cmpmem(key, sizeof(key), back, sizeof(back));
	/* A lifetime or MKI is the caller's to cut off; anything else is refused. */
	g_assert_false(sp_srtp_key_from_base64(text, 39, back));
	text[5] = '*';
	g_assert_false(sp_srtp_key_from_base64(text, 40, back));
	sp_srtp_text_free(text);
	g_assert_false(sp_srtp_key_from_base64("AAAA", 4, back));
	g_assert_false(sp_srtp_key_from_base64(NULL, 0, back));
	/* 41 characters with padding decode to 30 bytes too, but SDES says exactly 40. */
	g_assert_false(
	    sp_srtp_key_from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 40, back));

	g_assert_true(sp_srtp_suite_from_string("AES_CM_128_HMAC_SHA1_80", &suite));
	g_assert_cmpint(suite, ==, SP_SRTP_AES_CM_128_HMAC_SHA1_80);
	g_assert_true(sp_srtp_suite_from_string("AES_CM_128_HMAC_SHA1_32", &suite));
	g_assert_cmpstr(sp_srtp_suite_to_string(suite), ==, "AES_CM_128_HMAC_SHA1_32");
	g_assert_false(sp_srtp_suite_from_string("F8_128_HMAC_SHA1_80", &suite));
	g_assert_null(sp_srtp_suite_to_string(SP_SRTP_NONE));
	g_assert_null(sp_srtp_new(SP_SRTP_NONE, key, TRUE, NULL));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/media/srtp/known-answer", test_known_answer);
	g_test_add_func("/media/srtp/round-trip-80", test_round_trip_80);
	g_test_add_func("/media/srtp/round-trip-32", test_round_trip_32);
	g_test_add_func("/media/srtp/forged-and-replayed", test_forged_and_replayed);
	g_test_add_func("/media/srtp/rtcp", test_rtcp);
	g_test_add_func("/media/srtp/keys", test_keys);
	return g_test_run();
}
