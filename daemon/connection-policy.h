/* The pure decisions of a connection's status machine (no sofia, no clock), unit tested. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What a final response to REGISTER means for the connection. */
typedef enum {
	SP_REGISTER_OK,		 /* 2xx: registered */
	SP_REGISTER_CHALLENGED,	 /* 401/407 before credentials were sent: answer it */
	SP_REGISTER_UNREACHABLE, /* the site may be down: probe it until it answers */
	SP_REGISTER_REFUSED,	 /* the site answered but refused: retry with back-off */
	SP_REGISTER_AUTH_FAILED, /* credentials rejected (401/407 after credentials, 403) */
} SpRegisterOutcome;

const char *sp_register_outcome_to_string(SpRegisterOutcome outcome);

/*
 * status is final (>= 200). local is TRUE when the response was made up by the SIP stack
 * (timeouts, ICMP errors, refused or lost connections, DNS failures), FALSE when the site sent
 * it.
 */
SpRegisterOutcome sp_register_outcome(int status, gboolean local, gboolean credentials_sent);

/*
 * TRUE when a final response to an OPTIONS probe means the site did not answer. Any answer of
 * the site, even 404 or 501, shows that it is alive; only 408, 503 and the stack's own errors
 * count as failures.
 */
gboolean sp_probe_failed(int status, gboolean local);

/* TRUE for the statuses that hint that a site is down on any request (408, 503). */
gboolean sp_status_suggests_site_down(int status);

/*
 * Splits "host", "host:port", "[v6]" or "[v6]:port" into host (without brackets) and port
 * (NULL when absent). FALSE for an empty host, a bad port or unbalanced brackets.
 */
gboolean sp_server_split(const char *server, char **host, char **port);

/* A display name as a SIP quoted-string (with quotes, backslash escapes), or NULL for NULL/"". */
char *sp_sip_quote(const char *display_name);

G_END_DECLS
