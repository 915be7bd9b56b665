/* The user SDP of a call, and whether a far end's offer leaves us a codec. */
#include "daemon/sdp.h"

#include <sofia-sip/sdp.h>
#include <sofia-sip/su_alloc.h>

#include <string.h>

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
