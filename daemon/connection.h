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

/* Creates the connection's NUA on the phone's root; registers only once started. */
SpConnection *sp_connection_new(SpPhone *phone, const SpConnectionConfig *config,
				GError **error);
void sp_connection_free(SpConnection *c);

guint sp_connection_get_id(SpConnection *c);
SpConnectionStatus sp_connection_get_status(SpConnection *c);
const SpConnectionConfig *sp_connection_get_config(SpConnection *c);
nua_t *sp_connection_get_nua(SpConnection *c);

/* "5002" -> "sip:5002@<domain>"; sip:/sips: URIs are returned as they are. NULL if invalid. */
char *sp_connection_make_uri(SpConnection *c, const char *destination);

/*
 * A 408, 503 or transport error on any request through this connection: the site may be down,
 * so probe it now.
 */
void sp_connection_report_failure(SpConnection *c, int status);

json_object *sp_connection_to_json(SpConnection *c);

G_END_DECLS
