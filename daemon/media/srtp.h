/* SRTP and SRTCP (RFC 3711) with keys from SDES (RFC 4568), over libsrtp2: one direction each. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The suites we offer and accept, in our order of preference. */
typedef enum {
	SP_SRTP_NONE = 0, /* plain RTP */
	SP_SRTP_AES_CM_128_HMAC_SHA1_80,
	SP_SRTP_AES_CM_128_HMAC_SHA1_32,
} SpSrtpSuite;

/* A master key and salt, as SDES carries it after "inline:" (128-bit key, 112-bit salt). */
#define SP_SRTP_KEY_LEN 30
/* Room to leave after a packet for what sp_srtp_protect() adds (tag, SRTCP index). */
#define SP_SRTP_MAX_OVERHEAD 148

typedef enum {
	SP_SRTP_OK,
	SP_SRTP_AUTH_FAILED, /* forged, damaged, or sent with another key */
	SP_SRTP_REPLAYED,    /* seen already, or too old for the replay window */
	SP_SRTP_BAD,	     /* too short or otherwise not SRTP */
} SpSrtpResult;

/* "AES_CM_128_HMAC_SHA1_80", ...; NULL for SP_SRTP_NONE. */
const char *sp_srtp_suite_to_string(SpSrtpSuite suite);
/* FALSE for a suite we do not support. */
gboolean sp_srtp_suite_from_string(const char *name, SpSrtpSuite *out);

/* A fresh master key and salt from the kernel's CSPRNG (getrandom). */
gboolean sp_srtp_random_key(guint8 key[SP_SRTP_KEY_LEN], GError **error);
/* The base64 text of a key (40 characters); wipe and free it with sp_srtp_text_free(). */
char *sp_srtp_key_to_base64(const guint8 key[SP_SRTP_KEY_LEN]);
/* The key of an SDES "inline:" value (len bytes of base64, no lifetime or MKI): FALSE when it
 * is not base64 of exactly SP_SRTP_KEY_LEN bytes. */
gboolean sp_srtp_key_from_base64(const char *text, gsize len, guint8 key[SP_SRTP_KEY_LEN]);
/* Wipes a string that held key material, then frees it. NULL is fine. */
void sp_srtp_text_free(char *text);

typedef struct _SpSrtp SpSrtp;

/*
 * One direction of a stream: inbound unprotects what the far end sends (any SSRC), outbound
 * protects what we send. RTP and RTCP share the master key; with the _32 suite SRTCP keeps an
 * 80-bit tag (RFC 4568 §6.2.2). libsrtp keeps its own derived keys and wipes them when freed.
 */
SpSrtp *sp_srtp_new(SpSrtpSuite suite, const guint8 key[SP_SRTP_KEY_LEN], gboolean inbound,
		    GError **error);
void sp_srtp_free(SpSrtp *srtp);
/* Protects len bytes of RTP (or RTCP) in place; buf has room for size bytes (len +
 * SP_SRTP_MAX_OVERHEAD is enough). Returns the new length, 0 on failure. */
gsize sp_srtp_protect(SpSrtp *srtp, guint8 *buf, gsize len, gsize size, gboolean rtcp);
/* Checks and decrypts in place; *len becomes the plain length on SP_SRTP_OK. */
SpSrtpResult sp_srtp_unprotect(SpSrtp *srtp, guint8 *buf, gsize *len, gboolean rtcp);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpSrtp, sp_srtp_free)

G_END_DECLS
