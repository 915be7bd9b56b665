/* The session description we hand to sofia's offer/answer engine, checks of offers, and the
 * plain media description a finished offer/answer leaves for the media stream. */
#pragma once

#include <glib.h>

#include "daemon/media/stream.h"
#include "daemon/sofia.h"

G_BEGIN_DECLS

/*
 * The user SDP for one call: an audio m-line on port with the codecs in order (canonical names
 * "opus", "G722", "PCMU", "PCMA"; NULL: the default order) plus telephone-event at the clock
 * rates they need, a=ptime (0: 20), a=rtcp-mux, c= address (NULL: left for sofia to fill in),
 * and direction ("sendrecv"; "sendonly" to hold; "inactive" to hold a call the far end holds
 * too). sofia's soa derives the offers and answers from it (e.g. recvonly in answer to a far
 * end's sendonly, the offerer's first common codec in an answer).
 */
char *sp_sdp_build(const char *address, guint port, const char *direction,
		   const char *const *codecs, guint ptime_ms);

/* One a=crypto line (RFC 4568): its tag, suite and master key (no lifetime, no MKI). */
typedef struct {
	guint tag;
	SpSrtpSuite suite;
	guint8 key[SP_SRTP_KEY_LEN];
} SpSdpCrypto;

/*
 * sp_sdp_build() with SRTP: the m-line's profile RTP/SAVP when savp, else RTP/AVP, and an
 * a=crypto line for each of crypto (none when n_crypto is 0). Free the text with
 * sp_srtp_text_free(): it holds keys.
 */
char *sp_sdp_build_secure(const char *address, guint port, const char *direction,
			  const char *const *codecs, guint ptime_ms, gboolean savp,
			  const SpSdpCrypto *crypto, guint n_crypto);

/* What an offer's first audio m-line asks of SRTP. */
typedef struct {
	gboolean savp;	 /* its profile is RTP/SAVP */
	gboolean usable; /* it has an a=crypto we can use: */
	guint tag;	 /* the first such, in the offerer's order */
	SpSrtpSuite suite;
} SpSdpSrtpOffer;

/* FALSE for text that is not SDP or has no audio m-line. */
gboolean sp_sdp_offer_srtp(const char *body, gsize len, SpSdpSrtpOffer *out);

/* The SDP text with every key after "inline:" replaced, for logs. */
char *sp_sdp_redact(const char *sdp);

/*
 * Whether an offer gives us something to talk with: an audio m-line with a port and one of
 * codecs (NULL: any we support), by static payload type or rtpmap name. FALSE also for text
 * that is not SDP.
 */
gboolean sp_sdp_offer_usable(const char *body, gsize len, const char *const *codecs);

/*
 * The media a finished offer/answer settled on: the first codec of the far end's audio m-line
 * (the offerer's preference when we answered, the answerer's choice when we offered) that our
 * SDP has too, its payload type as the far end numbers it, the telephone-event of the same
 * clock rate, the far end's a=ptime (10..60; else default_ptime_ms), rtcp-mux when the far end
 * said it (we always do), the direction both sides allow, and where to send.
 */
typedef struct {
	char *remote_address; /* NULL: none (c=0.0.0.0 or no c=) */
	guint remote_rtp_port;
	guint remote_rtcp_port;
	gboolean rtcp_mux;
	char *codec;
	guint8 payload_type;
	guint clock_rate;
	guint ptime_ms;
	gint telephone_event_pt;
	SpMediaDirection direction;
	/*
	 * SRTP: the far end's a=crypto (in its order) that ours has too, by tag and suite, with a
	 * valid key on both sides; SP_SRTP_NONE when there is none. remote_savp: the far end's
	 * profile is RTP/SAVP.
	 */
	SpSrtpSuite srtp_suite;
	guint srtp_tag;
	guint8 srtp_local_key[SP_SRTP_KEY_LEN];
	guint8 srtp_remote_key[SP_SRTP_KEY_LEN];
	gboolean remote_savp;
} SpSdpMedia;

/* FALSE when they share no audio codec (out is left cleared). */
gboolean sp_sdp_media_negotiated(const sdp_session_t *local, const sdp_session_t *remote,
				 guint default_ptime_ms, SpSdpMedia *out);
/* Parses both texts and calls sp_sdp_media_negotiated(). */
gboolean sp_sdp_media_negotiated_str(const char *local, const char *remote,
				     guint default_ptime_ms, SpSdpMedia *out);
/* Frees the strings and wipes the keys. */
void sp_sdp_media_clear(SpSdpMedia *m);
/* m as the media stream's description (pointing into m). */
void sp_sdp_media_to_desc(const SpSdpMedia *m, gboolean local_hold, SpMediaDesc *desc);

/*
 * Whether sofia-sip's SDP parser can be given msg: FALSE when an m= line holds a character
 * RFC 4566 does not allow there (daemon/sdp-guard.c says why, and guards sofia's own calls).
 */
gboolean sp_sdp_is_safe(const char *msg, gsize len);

G_END_DECLS
