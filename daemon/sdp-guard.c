/*
 * A guard in front of sofia-sip's SDP parser, which every SDP the daemon receives goes through
 * (sofia's offer/answer engine parses each offer and answer before we see the call).
 *
 * sofia-sip 1.12.11 loops for ever on an m= line whose transport is not RTP and whose format
 * list holds a character that is not a token character ("m=audio 6A ;"): each turn allocates,
 * and a dozen bytes of SDP in one INVITE, from anyone who can reach our SIP port, take the
 * main loop and then all the memory of the machine. Found by tests/fuzz/fuzz-sdp.
 *
 * This file defines sdp_parse() itself: the daemon exports it (see daemon/meson.build), so
 * sofia's own calls, which go through its PLT, come here as well as ours. A message whose m=
 * lines are not as RFC 4566 has them (media, port, transport and formats, each of the characters
 * allowed there) is handed on as an empty message, which sofia rejects at once ("bad SDP message");
 * the offer/answer engine then answers 400 Bad Session Description, and the call goes no further.
 * Everything else goes to sofia's parser unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

#include "daemon/sofia.h"

#include <sofia-sip/sdp.h>

#include "daemon/sdp.h"

typedef sdp_parser_t *(*SdpParseFunc)(su_home_t *, char const[], issize_t, int);

static gboolean is_token_char(char c)
{
	return g_ascii_isalnum(c) || strchr("-!#$%&'*+.^_`{|}~", c) != NULL;
}

/*
 * An m= line's value as RFC 4566 has it: media SP port ["/" integer] SP proto 1*(SP fmt), with
 * media, proto ("/"-separated) and fmt tokens, separated by spaces (trailing ones are common and
 * harmless). Anything else is refused, which is stricter than sofia but never refuses valid SDP.
 * Both loops found: a format that starts with a character that is not a token character, and a
 * tab right after the transport.
 */
static gboolean m_line_is_safe(const char *v, gsize len)
{
	guint field = 0;
	gsize i = 0;

	while (i < len) {
		gsize start;

		while (i < len && v[i] == ' ')
			i++;
		start = i;
		while (i < len && v[i] != ' ')
			i++;
		if (i == start)
			break;
		for (gsize k = start; k < i; k++) {
			char c = v[k];
			gboolean ok;

			if (field == 1) /* the port: digits, maybe "/" and a count */
				ok = g_ascii_isdigit(c) || (c == '/' && k > start && k + 1 < i);
			else if (field == 2) /* the transport */
				ok = is_token_char(c) || c == '/';
			else /* the media, then each format */
				ok = is_token_char(c);
			if (!ok)
				return FALSE;
		}
		field++;
	}
	return TRUE;
}

gboolean sp_sdp_is_safe(const char *msg, gsize len)
{
	gsize i = 0;

	while (i < len) {
		gsize start, end;

		/* A line as sofia cuts them: at any CR or LF, leading spaces and tabs skipped. */
		while (i < len && (msg[i] == '\r' || msg[i] == '\n'))
			i++;
		start = i;
		while (i < len && msg[i] != '\r' && msg[i] != '\n' && msg[i] != '\0')
			i++;
		end = i;
		while (start < end && (msg[start] == ' ' || msg[start] == '\t'))
			start++;
		if (end - start >= 2 && msg[start] == 'm' && msg[start + 1] == '=' &&
		    !m_line_is_safe(msg + start + 2, end - start - 2))
			return FALSE;
		if (i < len && msg[i] == '\0')
			break; /* sofia copies the text with strncpy: it ends at a NUL */
	}
	return TRUE;
}

sdp_parser_t *sdp_parse(su_home_t *home, char const msg[], issize_t msgsize, int flags)
{
	static gsize real_once;
	static SdpParseFunc real;
	gsize len;

	if (g_once_init_enter(&real_once)) {
		*(void **)&real = dlsym(RTLD_NEXT, "sdp_parse");
		g_assert(real != NULL);
		g_once_init_leave(&real_once, 1);
	}
	if (msg != NULL && msgsize != -1) {
		len = (gsize)msgsize;
		if (!sp_sdp_is_safe(msg, len)) {
			g_info("SDP rejected: an m= line holds characters RFC 4566 does not allow "
			       "there");
			return real(home, "", 0, flags);
		}
	}
	return real(home, msg, msgsize, flags);
}
