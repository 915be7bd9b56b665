/* The user SDP of a call, whether a far end's offer leaves us a codec, and what was negotiated. */
#include "daemon/sdp.h"

#include "daemon/media/codec.h"

#include <sofia-sip/sdp.h>
#include <sofia-sip/su_alloc.h>

#include <stdlib.h>
#include <string.h>

/*
 * The codecs' SDP facts (payload type to offer, rtpmap, fmtp, RTP clock) come from the media
 * library's table (daemon/media/codec.h): G.722's RTP clock is 8000 although it samples at
 * 16 kHz, opus is opus/48000/2 even for mono.
 */
typedef SpCodecInfo SdpCodec;

/* telephone-event per clock rate, offered with the codecs that need it. */
#define SP_SDP_TE_PT_8000 101
#define SP_SDP_TE_PT_48000 110

static const char *const default_codecs[] = {"opus", "G722", "PCMU", "PCMA", NULL};

static const SdpCodec *sdp_codec_by_name(const char *name)
{
	return name != NULL ? sp_codec_info_lookup(name) : NULL;
}

/* The codec an rtpmap stands for, by name and clock (static types without rtpmap included). */
static const SdpCodec *sdp_codec_of_rtpmap(const sdp_rtpmap_t *r)
{
	for (guint i = 0; sp_codec_info_nth(i) != NULL; i++) {
		const SdpCodec *c = sp_codec_info_nth(i);

		if (r->rm_encoding != NULL && g_ascii_strcasecmp(r->rm_encoding, c->name) == 0 &&
		    (r->rm_rate == c->clock_rate || r->rm_rate == 0))
			return c;
		/* sofia names well-known static types itself; a bare "m=... 0" still counts. */
		if ((r->rm_encoding == NULL || r->rm_encoding[0] == '\0') &&
		    c->static_payload_type >= 0 && r->rm_pt == (unsigned)c->static_payload_type)
			return c;
	}
	return NULL;
}

static gboolean in_list(const char *const *list, const char *name)
{
	for (gsize i = 0; list[i] != NULL; i++) {
		if (g_ascii_strcasecmp(list[i], name) == 0)
			return TRUE;
	}
	return FALSE;
}

/*
 * How we parse SDP: as sofia's offer/answer engine does (any network type, nothing lenient).
 * Not sdp_f_config: in that mode sofia's parser asks for gigabytes on a few bytes of broken
 * m-line (found by tests/fuzz/fuzz-sdp).
 */
#define SDP_FLAGS sdp_f_anynet

char *sp_sdp_build(const char *address, guint port, const char *direction,
		   const char *const *codecs, guint ptime_ms)
{
	return sp_sdp_build_secure(address, port, direction, codecs, ptime_ms, FALSE, NULL, 0);
}

char *sp_sdp_build_secure(const char *address, guint port, const char *direction,
			  const char *const *codecs, guint ptime_ms, gboolean savp,
			  const SpSdpCrypto *crypto, guint n_crypto)
{
	GString *sdp = g_string_new("v=0\r\n");
	GString *attrs = g_string_new(NULL);
	const char *family = address != NULL && strchr(address, ':') != NULL ? "IP6" : "IP4";
	gboolean te8000 = FALSE, te48000 = FALSE;

	if (codecs == NULL || codecs[0] == NULL)
		codecs = default_codecs;
	if (address != NULL)
		g_string_append_printf(sdp, "o=- 0 0 IN %s %s\r\n", family, address);
	g_string_append(sdp, "s=softphoned\r\n");
	if (address != NULL)
		g_string_append_printf(sdp, "c=IN %s %s\r\n", family, address);
	g_string_append(sdp, "t=0 0\r\n");
	g_string_append_printf(sdp, "m=audio %u %s", port, savp ? "RTP/SAVP" : "RTP/AVP");
	for (gsize i = 0; codecs[i] != NULL; i++) {
		const SdpCodec *c = sdp_codec_by_name(codecs[i]);

		if (c == NULL)
			continue;
		g_string_append_printf(sdp, " %u", c->default_payload_type);
		g_string_append_printf(attrs, "a=rtpmap:%u %s\r\n", c->default_payload_type,
				       c->rtpmap);
		if (c->fmtp != NULL)
			g_string_append_printf(attrs, "a=fmtp:%u %s\r\n", c->default_payload_type,
					       c->fmtp);
		te8000 = te8000 || c->clock_rate == 8000;
		te48000 = te48000 || c->clock_rate == 48000;
	}
	if (te8000) {
		g_string_append_printf(sdp, " %u", SP_SDP_TE_PT_8000);
		g_string_append_printf(attrs,
				       "a=rtpmap:%u telephone-event/8000\r\na=fmtp:%u 0-16\r\n",
				       SP_SDP_TE_PT_8000, SP_SDP_TE_PT_8000);
	}
	if (te48000) {
		g_string_append_printf(sdp, " %u", SP_SDP_TE_PT_48000);
		g_string_append_printf(attrs,
				       "a=rtpmap:%u telephone-event/48000\r\na=fmtp:%u 0-16\r\n",
				       SP_SDP_TE_PT_48000, SP_SDP_TE_PT_48000);
	}
	g_string_append(sdp, "\r\n");
	g_string_append_len(sdp, attrs->str, (gssize)attrs->len);
	g_string_free(attrs, TRUE);
	g_string_append_printf(sdp, "a=ptime:%u\r\n", ptime_ms > 0 ? ptime_ms : 20);
	g_string_append(sdp, "a=rtcp-mux\r\n");
	for (guint i = 0; i < n_crypto; i++) {
		char *key = sp_srtp_key_to_base64(crypto[i].key);

		g_string_append_printf(sdp, "a=crypto:%u %s inline:%s\r\n", crypto[i].tag,
				       sp_srtp_suite_to_string(crypto[i].suite), key);
		sp_srtp_text_free(key);
	}
	g_string_append_printf(sdp, "a=%s\r\n", direction ? direction : "sendrecv");
	if (n_crypto == 0)
		return g_string_free(sdp, FALSE);
	{
		/* The GString grew by reallocation: copy out, then wipe what it holds. */
		char *text = g_strndup(sdp->str, sdp->len);

		explicit_bzero(sdp->str, sdp->allocated_len);
		g_string_free(sdp, TRUE);
		return text;
	}
}

static gboolean media_has_codec(const sdp_media_t *m, const char *const *codecs)
{
	for (const sdp_rtpmap_t *r = m->m_rtpmaps; r != NULL; r = r->rm_next) {
		const SdpCodec *c = sdp_codec_of_rtpmap(r);

		if (c != NULL && in_list(codecs, c->name))
			return TRUE;
	}
	return FALSE;
}

gboolean sp_sdp_offer_usable(const char *body, gsize len, const char *const *codecs)
{
	su_home_t *home;
	sdp_parser_t *parser;
	sdp_session_t *sdp;
	gboolean usable = FALSE;

	if (codecs == NULL || codecs[0] == NULL)
		codecs = default_codecs;
	if (body == NULL || len == 0 || len > G_MAXINT || !sp_sdp_is_safe(body, len))
		return FALSE;
	home = su_home_new(sizeof(su_home_t));
	if (home == NULL)
		return FALSE;
	parser = sdp_parse(home, body, (issize_t)len, SDP_FLAGS);
	sdp = sdp_session(parser);
	for (const sdp_media_t *m = sdp ? sdp->sdp_media : NULL; m != NULL && !usable;
	     m = m->m_next)
		usable = m->m_type == sdp_media_audio && m->m_port != 0 && !m->m_rejected &&
			 media_has_codec(m, codecs);
	sdp_parser_free(parser);
	su_home_unref(home);
	return usable;
}

/* --- SRTP (RFC 4568 SDES) ---------------------------------------------------------------- */

/*
 * One a=crypto value: "<tag> <suite> inline:<key>[|<lifetime>][|<mki>:<len>][;inline:...]
 * [<session params>]". We take lines we can honour in full: a suite we know, the first key
 * (40 characters of base64), no MKI (one key per direction), no session parameters such as
 * UNENCRYPTED_SRTP or KDR. Anything else is skipped, as RFC 4568 §7.1.1 lets an answerer do.
 */
/* The fields of an a=crypto value hold a key: wiped before they are freed. */
static void crypto_fields_free(char **parts)
{
	for (guint i = 0; parts != NULL && parts[i] != NULL; i++)
		explicit_bzero(parts[i], strlen(parts[i]));
	g_strfreev(parts);
}

typedef char **SpCryptoFields;
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(SpCryptoFields, crypto_fields_free, NULL)

static gboolean crypto_parse(const char *value, SpSdpCrypto *out)
{
	g_auto(SpCryptoFields) parts = NULL;
	const char *key, *end;
	guint64 tag;
	char *tag_end;

	memset(out, 0, sizeof(*out));
	if (value == NULL)
		return FALSE;
	parts = g_strsplit_set(value, " \t", -1);
	{
		/* Drop empty fields (several spaces). */
		guint n = 0;

		for (guint i = 0; parts[i] != NULL; i++) {
			if (parts[i][0] != '\0')
				parts[n++] = parts[i];
			else
				g_free(parts[i]);
		}
		parts[n] = NULL;
		if (n != 3)
			return FALSE;
	}
	tag = g_ascii_strtoull(parts[0], &tag_end, 10);
	if (*tag_end != '\0' || tag_end == parts[0] || tag > 999999999)
		return FALSE;
	if (!sp_srtp_suite_from_string(parts[1], &out->suite))
		return FALSE;
	if (!g_str_has_prefix(parts[2], "inline:"))
		return FALSE;
	key = parts[2] + strlen("inline:");
	end = key + strcspn(key, "|;");
	if (*end == '|') {
		/* A lifetime may follow; an MKI ("n:len") may not. */
		const char *lifetime = end + 1;
		gsize n = strcspn(lifetime, "|;");

		if (lifetime[n] == '|' || memchr(lifetime, ':', n) != NULL)
			return FALSE;
	}
	out->tag = (guint)tag;
	if (!sp_srtp_key_from_base64(key, (gsize)(end - key), out->key)) {
		explicit_bzero(out, sizeof(*out));
		return FALSE;
	}
	return TRUE;
}

/* The n-th usable a=crypto of a media (in its order), or FALSE. */
static gboolean media_crypto(const sdp_media_t *m, guint n, SpSdpCrypto *out)
{
	for (const sdp_attribute_t *a = m->m_attributes; a != NULL; a = a->a_next) {
		if (a->a_name == NULL || g_ascii_strcasecmp(a->a_name, "crypto") != 0)
			continue;
		if (crypto_parse(a->a_value, out) && n-- == 0)
			return TRUE;
	}
	explicit_bzero(out, sizeof(*out));
	return FALSE;
}

static gboolean media_is_savp(const sdp_media_t *m)
{
	return m->m_proto == sdp_proto_srtp ||
	       (m->m_proto_name != NULL && g_ascii_strcasecmp(m->m_proto_name, "RTP/SAVP") == 0);
}

gboolean sp_sdp_offer_srtp(const char *body, gsize len, SpSdpSrtpOffer *out)
{
	su_home_t *home;
	sdp_parser_t *parser;
	const sdp_media_t *m = NULL;
	SpSdpCrypto c;

	memset(out, 0, sizeof(*out));
	if (body == NULL || len == 0 || len > G_MAXINT)
		return FALSE;
	home = su_home_new(sizeof(su_home_t));
	if (home == NULL)
		return FALSE;
	parser = sdp_parse(home, body, (issize_t)len, sdp_f_config);
	for (m = sdp_session(parser) ? sdp_session(parser)->sdp_media : NULL; m != NULL;
	     m = m->m_next) {
		if (m->m_type == sdp_media_audio && m->m_port != 0 && !m->m_rejected)
			break;
	}
	if (m != NULL) {
		out->savp = media_is_savp(m);
		if (media_crypto(m, 0, &c)) {
			out->usable = TRUE;
			out->tag = c.tag;
			out->suite = c.suite;
			explicit_bzero(&c, sizeof(c));
		}
	}
	sdp_parser_free(parser);
	su_home_unref(home);
	return m != NULL;
}

char *sp_sdp_redact(const char *sdp)
{
	GString *out;
	const char *p;

	if (sdp == NULL)
		return NULL;
	out = g_string_sized_new(strlen(sdp));
	for (p = sdp; *p != '\0';) {
		const char *hit = strstr(p, "inline:");

		if (hit == NULL) {
			g_string_append(out, p);
			break;
		}
		hit += strlen("inline:");
		g_string_append_len(out, p, hit - p);
		g_string_append(out, "[key hidden]");
		p = hit + strcspn(hit, "|; \t\r\n");
	}
	return g_string_free(out, FALSE);
}

/* Our a=crypto that answers (or was answered by) the far end's, and both keys. */
static void negotiate_srtp(const sdp_media_t *lm, const sdp_media_t *rm, SpSdpMedia *out)
{
	SpSdpCrypto r, l;

	out->remote_savp = media_is_savp(rm);
	for (guint i = 0; media_crypto(rm, i, &r); i++) {
		for (guint j = 0; media_crypto(lm, j, &l); j++) {
			if (l.tag == r.tag && l.suite == r.suite) {
				out->srtp_suite = r.suite;
				out->srtp_tag = r.tag;
				memcpy(out->srtp_local_key, l.key, SP_SRTP_KEY_LEN);
				memcpy(out->srtp_remote_key, r.key, SP_SRTP_KEY_LEN);
				explicit_bzero(&l, sizeof(l));
				explicit_bzero(&r, sizeof(r));
				return;
			}
		}
	}
	explicit_bzero(&l, sizeof(l));
	explicit_bzero(&r, sizeof(r));
}

/* --- what was negotiated -------------------------------------------------------------------- */

static const sdp_media_t *first_audio(const sdp_session_t *sdp)
{
	for (const sdp_media_t *m = sdp ? sdp->sdp_media : NULL; m != NULL; m = m->m_next) {
		if (m->m_type == sdp_media_audio && !m->m_rejected && m->m_port != 0)
			return m;
	}
	return NULL;
}

static const char *media_attribute(const sdp_media_t *m, const char *name)
{
	const sdp_attribute_t *a = sdp_attribute_find(m->m_attributes, name);

	return a != NULL ? (a->a_value ? a->a_value : "") : NULL;
}

static gboolean media_has_rtpmap_of(const sdp_media_t *m, const SdpCodec *codec)
{
	for (const sdp_rtpmap_t *r = m->m_rtpmaps; r != NULL; r = r->rm_next) {
		if (sdp_codec_of_rtpmap(r) == codec)
			return TRUE;
	}
	return FALSE;
}

/* The connection address of a media (its own c= or the session's), NULL when "nowhere". */
static const char *media_address(const sdp_session_t *sdp, const sdp_media_t *m)
{
	const sdp_connection_t *c = m->m_connections ? m->m_connections : sdp->sdp_connection;

	if (c == NULL || c->c_address == NULL || strcmp(c->c_address, "0.0.0.0") == 0 ||
	    strcmp(c->c_address, "::") == 0)
		return NULL;
	return c->c_address;
}

gboolean sp_sdp_media_negotiated(const sdp_session_t *local, const sdp_session_t *remote,
				 guint default_ptime_ms, SpSdpMedia *out)
{
	const sdp_media_t *lm = first_audio(local);
	const sdp_media_t *rm = first_audio(remote);
	const SdpCodec *codec = NULL;
	const sdp_rtpmap_t *chosen = NULL;
	const char *ptime;
	const char *rtcp;
	const char *address;
	gboolean send, recv;

	memset(out, 0, sizeof(*out));
	out->telephone_event_pt = -1;
	if (lm == NULL || rm == NULL)
		return FALSE;
	for (const sdp_rtpmap_t *r = rm->m_rtpmaps; r != NULL && codec == NULL; r = r->rm_next) {
		const SdpCodec *c = sdp_codec_of_rtpmap(r);

		if (c != NULL && media_has_rtpmap_of(lm, c)) {
			codec = c;
			chosen = r;
		}
	}
	if (codec == NULL)
		return FALSE;

	out->codec = g_strdup(codec->name);
	out->payload_type = (guint8)chosen->rm_pt;
	out->clock_rate = codec->clock_rate;
	for (const sdp_rtpmap_t *r = rm->m_rtpmaps; r != NULL; r = r->rm_next) {
		if (r->rm_encoding != NULL &&
		    g_ascii_strcasecmp(r->rm_encoding, "telephone-event") == 0 &&
		    r->rm_rate == codec->clock_rate) {
			out->telephone_event_pt = (gint)r->rm_pt;
			break;
		}
	}
	out->ptime_ms = default_ptime_ms > 0 ? default_ptime_ms : 20;
	ptime = media_attribute(rm, "ptime");
	if (ptime != NULL) {
		guint64 p = g_ascii_strtoull(ptime, NULL, 10);

		/* Whole 10 ms frames: what every codec here packs. */
		if (p >= 10 && p <= 60)
			out->ptime_ms = (guint)(p / 10 * 10);
	}
	address = media_address(remote, rm);
	out->remote_address = g_strdup(address);
	out->remote_rtp_port = rm->m_port;
	out->rtcp_mux = media_attribute(rm, "rtcp-mux") != NULL;
	out->remote_rtcp_port = rm->m_port + 1;
	rtcp = media_attribute(rm, "rtcp");
	if (rtcp != NULL) {
		guint64 p = g_ascii_strtoull(rtcp, NULL, 10);

		if (p > 0 && p < 65536)
			out->remote_rtcp_port = (guint)p;
	}
	/* We send what we may send and the far end will take; likewise for receiving. */
	send = (lm->m_mode & sdp_sendonly) && (rm->m_mode & sdp_recvonly) && address != NULL;
	recv = (lm->m_mode & sdp_recvonly) && (rm->m_mode & sdp_sendonly);
	out->direction = send && recv ? SP_MEDIA_SENDRECV
			 : send	      ? SP_MEDIA_SENDONLY
			 : recv	      ? SP_MEDIA_RECVONLY
				      : SP_MEDIA_INACTIVE;
	negotiate_srtp(lm, rm, out);
	return TRUE;
}

gboolean sp_sdp_media_negotiated_str(const char *local, const char *remote, guint default_ptime_ms,
				     SpSdpMedia *out)
{
	su_home_t *home = su_home_new(sizeof(su_home_t));
	sdp_parser_t *lp, *rp;
	gboolean ok;

	memset(out, 0, sizeof(*out));
	out->telephone_event_pt = -1;
	if (home == NULL || local == NULL || remote == NULL) {
		su_home_unref(home);
		return FALSE;
	}
	lp = sdp_parse(home, local, (issize_t)strlen(local), SDP_FLAGS);
	rp = sdp_parse(home, remote, (issize_t)strlen(remote), SDP_FLAGS);
	ok = sp_sdp_media_negotiated(sdp_session(lp), sdp_session(rp), default_ptime_ms, out);
	sdp_parser_free(lp);
	sdp_parser_free(rp);
	su_home_unref(home);
	return ok;
}

void sp_sdp_media_clear(SpSdpMedia *m)
{
	g_clear_pointer(&m->remote_address, g_free);
	g_clear_pointer(&m->codec, g_free);
	explicit_bzero(m->srtp_local_key, sizeof(m->srtp_local_key));
	explicit_bzero(m->srtp_remote_key, sizeof(m->srtp_remote_key));
	m->srtp_suite = SP_SRTP_NONE;
}

void sp_sdp_media_to_desc(const SpSdpMedia *m, gboolean local_hold, SpMediaDesc *desc)
{
	memset(desc, 0, sizeof(*desc));
	desc->remote_address = m->remote_address;
	desc->remote_rtp_port = m->remote_rtp_port;
	desc->remote_rtcp_port = m->remote_rtcp_port;
	desc->rtcp_mux = m->rtcp_mux;
	desc->codec = m->codec;
	desc->payload_type = m->payload_type;
	desc->clock_rate = m->clock_rate;
	desc->ptime_ms = m->ptime_ms;
	desc->telephone_event_pt = m->telephone_event_pt;
	desc->direction = m->direction;
	desc->local_hold = local_hold;
	desc->srtp_suite = m->srtp_suite;
	memcpy(desc->srtp_local_key, m->srtp_local_key, SP_SRTP_KEY_LEN);
	memcpy(desc->srtp_remote_key, m->srtp_remote_key, SP_SRTP_KEY_LEN);
}
