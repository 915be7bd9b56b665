/* One SIP Server site: its NUA, registration, health probes and retry. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "config/config.h"
#include "daemon/sofia.h"

G_BEGIN_DECLS

typedef struct _SpPhone SpPhone;
typedef struct _SpConnection SpConnection;

typedef enum {
	SP_CONNECTION_DISABLED,
	SP_CONNECTION_REGISTERING,
	SP_CONNECTION_READY,
	SP_CONNECTION_FAILED,
	SP_CONNECTION_UNREGISTERING,
	SP_CONNECTION_REMOVED,
} SpConnectionStatus;

const char *sp_connection_status_to_string(SpConnectionStatus status);

/*
 * Creates the connection's NUA on the phone's root (for a server given by name, without a
 * local-address, once the name has resolved: nothing is looked up here); registers only once
 * started.
 */
SpConnection *sp_connection_new(SpPhone *phone, const SpConnectionConfig *config,
				GError **error);
void sp_connection_free(SpConnection *c);

guint sp_connection_get_id(SpConnection *c);
SpConnectionStatus sp_connection_get_status(SpConnection *c);
const SpConnectionConfig *sp_connection_get_config(SpConnection *c);
/*
 * The NUA to make handles on: NULL while the site's name has never resolved; inside an event
 * of an earlier NUA of c (one kept for its calls after c got a new one), that NUA.
 */
nua_t *sp_connection_get_nua(SpConnection *c);
/* The address c's NUA is bound to: the one that reaches its site ("0.0.0.0" when unknown). */
const char *sp_connection_get_local_address(SpConnection *c);
/* The site with its transport ("sip:host:port;transport=tcp", "sips:host:port"). */
const char *sp_connection_get_proxy(SpConnection *c);
/* The From of every request through c: the display name and sip:user@domain. */
const char *sp_connection_get_from(SpConnection *c);

/* "5002" -> "sip:5002@<domain>"; sip:/sips: URIs are returned as they are. NULL if invalid. */
char *sp_connection_make_uri(SpConnection *c, const char *destination);

/*
 * A 408, 503 or transport error on any request through this connection: the site may be down,
 * so probe it now.
 */
void sp_connection_report_failure(SpConnection *c, int status);
/* An answered call waits for its ACK (TRUE) or no longer does (FALSE): while any does, the
 * NUA's transactions live at least sofia's default 32 s, whatever reg-timeout says. */
void sp_connection_hold_full_lifetime(SpConnection *c, gboolean hold);

json_object *sp_connection_to_json(SpConnection *c);

/*
 * An event of c's NUA that belongs to no session and is not a new call (the phone routes it
 * here): a stray request is answered (NOTIFY 481, others 480) and its handle dropped.
 */
void sp_connection_on_stray_event(SpConnection *c, nua_event_t event, int status,
				  const char *phrase, nua_t *nua, nua_handle_t *nh);

/* --- for phone.c ------------------------------------------------------------------------- */

/* Starts registering if the connection is enabled (start-up, AddConnection). */
void sp_connection_start(SpConnection *c);
/* Disabled -> Registering; SP_ERROR_WRONG_STATE otherwise. */
gboolean sp_connection_enable(SpConnection *c, GError **error);
/* un-REGISTER (bounded), Unregistering -> Disabled; SP_ERROR_WRONG_STATE when not enabled. */
gboolean sp_connection_disable(SpConnection *c, GError **error);
/*
 * un-REGISTER and shut the NUA down (bounded), Unregistering -> Removed; the phone is told with
 * sp_phone_on_connection_removed() and frees the connection once it is shut down.
 */
gboolean sp_connection_remove(SpConnection *c, GError **error);
/*
 * Daemon shutdown: un-REGISTER and shut the NUA down, with a SIP transaction lifetime of
 * t1x64_ms so that a dead site does not hold it up; sp_phone_on_connection_shut_down() follows.
 */
void sp_connection_shutdown(SpConnection *c, guint t1x64_ms);
/* TRUE once the NUA finished shutting down (or never existed): safe to free without leaking. */
gboolean sp_connection_is_shut_down(SpConnection *c);
gboolean sp_connection_is_shutting_down(SpConnection *c);

G_END_DECLS
