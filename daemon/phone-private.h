/* What the phone's parts (connections, calls) see of the phone. */
#pragma once

#include "daemon/connection.h"
#include "daemon/phone.h"
#include "daemon/sofia.h"

G_BEGIN_DECLS

typedef struct _SpCalls SpCalls;

su_root_t *sp_phone_get_root(SpPhone *phone);
const SpConfig *sp_phone_get_config(SpPhone *phone);
SpCalls *sp_phone_get_calls(SpPhone *phone);
SpConnection *sp_phone_find_connection(SpPhone *phone, guint connection_id);
/* The connections sorted by id (owned by the phone; do not keep across a main-loop turn). */
GPtrArray *sp_phone_get_connections(SpPhone *phone);

/* connection.c calls this right after nua_create(): the call-related NUA parameters. */
void sp_phone_configure_nua(SpPhone *phone, SpConnection *c, nua_t *nua);
/*
 * Every event of a connection's NUA that is not on the connection's own REGISTER/OPTIONS
 * handles: the one place that hands it to the session it belongs to, to the calls (a new
 * INVITE) or back to the connection (anything else).
 */
void sp_phone_on_nua_event(SpPhone *phone, SpConnection *c, nua_event_t event, int status,
			   char const *phrase, nua_t *nua, nua_handle_t *nh, nua_hmagic_t *hmagic,
			   sip_t const *sip, tagi_t tags[]);

/* connection.c reports each status change after emitting its event. */
void sp_phone_on_connection_status(SpPhone *phone, SpConnection *c);

/* c is Removed: the phone drops it from its list now and frees it once it is shut down. */
void sp_phone_on_connection_removed(SpPhone *phone, SpConnection *c);
/* c's NUA finished shutting down (nua_r_shutdown >= 200). */
void sp_phone_on_connection_shut_down(SpPhone *phone, SpConnection *c);

/* Current time as the events' "time" field ("2026-11-23T18:00:00.123Z"). Transfer full. */
char *sp_phone_timestamp(void);

G_END_DECLS
