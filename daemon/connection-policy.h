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

/*
 * The line= parameter of a connection's Contact is "<stable><stack>": SP_LINE_STABLE_LEN hex
 * digits that stay the same across restarts (derived from the installation's instance id and
 * the connection id) and SP_LINE_STACK_LEN that are new for every SIP stack the connection
 * creates. The stable part tells our own bindings from everyone else's; the rest tells the
 * current binding from the ones a dead process or an earlier stack left behind.
 */
#define SP_LINE_STABLE_LEN 10
#define SP_LINE_STACK_LEN 6

/* The stable part for connection_id of the installation whose instance id is instance_id. */
char *sp_line_stable_part(const char *instance_id, guint connection_id);

/*
 * TRUE when line (the line= value of a binding the registrar listed) is one of ours, i.e. it
 * starts with stable and is as long as ours, but is not current: a stale binding to remove.
 */
gboolean sp_line_is_stale(const char *line, const char *stable, const char *current);

/*
 * TRUE when a failure with this code may have left the connection's TCP/TLS transport stalled
 * (a timeout: the site went silent), so that the revival must not reuse that transport.
 */
gboolean sp_failure_may_stall_transport(gboolean stream, int code);

G_END_DECLS
