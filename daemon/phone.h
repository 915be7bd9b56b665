/* The phone: owns the sofia-sip root, the connections and the sessions; routes NUA events. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "config/config.h"
#include "protocol/phone-api.h"

G_BEGIN_DECLS

typedef struct _SpPhone SpPhone;

/* Called for every event the phone publishes; params is transfer full. */
typedef void (*SpPhoneEventFunc)(const char *event, json_object *params, gpointer user_data);
/* Called whenever the count of Ready connections may have changed (for sd_notify STATUS=). */
typedef void (*SpPhoneChangedFunc)(SpPhone *phone, gpointer user_data);

SpPhone *sp_phone_new(const SpConfig *config, GError **error);
void sp_phone_free(SpPhone *phone);

void sp_phone_set_event_func(SpPhone *phone, SpPhoneEventFunc func, gpointer user_data);
void sp_phone_set_changed_func(SpPhone *phone, SpPhoneChangedFunc func, gpointer user_data);

/* Starts every enabled connection at once (registration runs in the background). */
gboolean sp_phone_start(SpPhone *phone, GError **error);

/*
 * Hangs up calls and un-REGISTERs every site; calls done() once finished or when deadline_ms
 * has passed, whichever comes first.
 */
void sp_phone_shutdown(SpPhone *phone, guint deadline_ms, GSourceFunc done, gpointer user_data);

guint sp_phone_count_connections(SpPhone *phone);
guint sp_phone_count_ready(SpPhone *phone);

/* The entries the control protocol calls; pass the SpPhone as their gpointer. */
const SpPhoneApi *sp_phone_api(void);

void sp_phone_emit(SpPhone *phone, const char *event, json_object *params);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpPhone, sp_phone_free)

G_END_DECLS
