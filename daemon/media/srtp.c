/* SRTP/SRTCP contexts over libsrtp2, SDES key text, and fresh keys from getrandom. */
#include "daemon/media/srtp.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <srtp2/srtp.h>

#include "daemon/media/codec.h"
#include "daemon/media/tsan.h"

/* RFC 3711 §3.3.2: a window of 128 packets rather than libsrtp's 64 minimum, for jitter. */
#define SP_SRTP_REPLAY_WINDOW 128

struct _SpSrtp {
	srtp_t session;
};

const char *sp_srtp_suite_to_string(SpSrtpSuite suite)
{
	switch (suite) {
	case SP_SRTP_NONE:
		return NULL;
	case SP_SRTP_AES_CM_128_HMAC_SHA1_80:
		return "AES_CM_128_HMAC_SHA1_80";
	case SP_SRTP_AES_CM_128_HMAC_SHA1_32:
		return "AES_CM_128_HMAC_SHA1_32";
	}
	return NULL;
}

gboolean sp_srtp_suite_from_string(const char *name, SpSrtpSuite *out)
{
	if (name == NULL)
		return FALSE;
	if (strcmp(name, "AES_CM_128_HMAC_SHA1_80") == 0)
		*out = SP_SRTP_AES_CM_128_HMAC_SHA1_80;
	else if (strcmp(name, "AES_CM_128_HMAC_SHA1_32") == 0)
		*out = SP_SRTP_AES_CM_128_HMAC_SHA1_32;
	else
		return FALSE;
	return TRUE;
}

gboolean sp_srtp_random_key(guint8 key[SP_SRTP_KEY_LEN], GError **error)
{
	gsize got = 0;

	/* Bounded: getrandom returns at most 256 bytes a call and fails only on EINTR/ENOSYS. */
	for (guint tries = 0; got < SP_SRTP_KEY_LEN && tries < 16; tries++) {
		ssize_t n = getrandom(key + got, SP_SRTP_KEY_LEN - got, 0);

		if (n > 0)
			got += (gsize)n;
		else if (n < 0 && errno != EINTR)
			break;
	}
	if (got < SP_SRTP_KEY_LEN) {
		explicit_bzero(key, SP_SRTP_KEY_LEN);
		g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_FAILED,
			    "no random bytes for an SRTP key: %s", g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

char *sp_srtp_key_to_base64(const guint8 key[SP_SRTP_KEY_LEN])
{
	return g_base64_encode(key, SP_SRTP_KEY_LEN);
}

gboolean sp_srtp_key_from_base64(const char *text, gsize len, guint8 key[SP_SRTP_KEY_LEN])
{
	/* 30 bytes are 40 base64 characters, the last of them without padding. */
	guint8 out[SP_SRTP_KEY_LEN + 3];
	gint state = 0;
	guint save = 0;
	gsize n;

	if (text == NULL || len != 40)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(text[i]) && text[i] != '+' && text[i] != '/')
			return FALSE;
	}
	n = g_base64_decode_step(text, len, out, &state, &save);
	if (n != SP_SRTP_KEY_LEN) {
		explicit_bzero(out, sizeof(out));
		return FALSE;
	}
	memcpy(key, out, SP_SRTP_KEY_LEN);
	explicit_bzero(out, sizeof(out));
	explicit_bzero(&save, sizeof(save));
	return TRUE;
}

void sp_srtp_text_free(char *text)
{
	if (text == NULL)
		return;
	explicit_bzero(text, strlen(text));
	g_free(text);
}

static gpointer init_once(gpointer once)
{
	gpointer ok = GINT_TO_POINTER(srtp_init() == srtp_err_status_ok ? 1 : 2);

	SP_TSAN_RELEASE(once); /* GOnce waits on a futex (tsan.h) */
	return ok;
}

SpSrtp *sp_srtp_new(SpSrtpSuite suite, const guint8 key[SP_SRTP_KEY_LEN], gboolean inbound,
		    GError **error)
{
	static GOnce once = G_ONCE_INIT;
	srtp_policy_t policy;
	guint8 master[SP_SRTP_KEY_LEN];
	srtp_err_status_t err;
	SpSrtp *s;

	if (GPOINTER_TO_INT(g_once(&once, init_once, &once)) != 1) {
		g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_FAILED,
			    "libsrtp did not initialise");
		return NULL;
	}
	SP_TSAN_ACQUIRE(&once);
	memset(&policy, 0, sizeof(policy));
	switch (suite) {
	case SP_SRTP_AES_CM_128_HMAC_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
		break;
	case SP_SRTP_AES_CM_128_HMAC_SHA1_32:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp);
		break;
	case SP_SRTP_NONE:
	default:
		g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_INVALID_ARGS,
			    "no SRTP suite given");
		return NULL;
	}
	srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
	policy.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	memcpy(master, key, sizeof(master));
	policy.key = master;
	policy.window_size = SP_SRTP_REPLAY_WINDOW;
	policy.allow_repeat_tx = 0;
	s = g_new0(SpSrtp, 1);
	err = srtp_create(&s->session, &policy);
	explicit_bzero(master, sizeof(master));
	if (err != srtp_err_status_ok) {
		g_free(s);
		g_set_error(error, SP_MEDIA_ERROR, SP_MEDIA_ERROR_FAILED,
			    "cannot create an SRTP context (libsrtp error %d)", (int)err);
		return NULL;
	}
	return s;
}

void sp_srtp_free(SpSrtp *s)
{
	if (s == NULL)
		return;
	if (s->session != NULL)
		srtp_dealloc(s->session);
	g_free(s);
}

gsize sp_srtp_protect(SpSrtp *s, guint8 *buf, gsize len, gsize size, gboolean rtcp)
{
	int n = (int)len;
	srtp_err_status_t err;

	if (len < (rtcp ? 8u : 12u) || len > G_MAXINT / 2 || size < len + SP_SRTP_MAX_OVERHEAD)
		return 0;
	err = rtcp ? srtp_protect_rtcp(s->session, buf, &n) : srtp_protect(s->session, buf, &n);
	return err == srtp_err_status_ok && n > 0 ? (gsize)n : 0;
}

SpSrtpResult sp_srtp_unprotect(SpSrtp *s, guint8 *buf, gsize *len, gboolean rtcp)
{
	int n = (int)*len;
	srtp_err_status_t err;

	if (*len < (rtcp ? 8u + 4u + 10u : 12u + 4u) || *len > G_MAXINT / 2)
		return SP_SRTP_BAD;
	err = rtcp ? srtp_unprotect_rtcp(s->session, buf, &n) : srtp_unprotect(s->session, buf, &n);
	switch (err) {
	case srtp_err_status_ok:
		*len = (gsize)n;
		return SP_SRTP_OK;
	case srtp_err_status_auth_fail:
		return SP_SRTP_AUTH_FAILED;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
		return SP_SRTP_REPLAYED;
	default:
		return SP_SRTP_BAD;
	}
}
