/* The small API through which the control protocol drives the phone; it knows nothing of SIP. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "config/config.h"

G_BEGIN_DECLS

/* AddConnection without a connectionId: the phone picks the lowest free id. */
#define SP_CONNECTION_ID_ANY G_MAXUINT

/*
 * Every entry validates what the protocol layer cannot (ids, states) and fails with an SP_ERROR.
 * json_object results are transfer full. An entry left NULL makes its method answer
 * -32005 Unsupported. Methods reply when the request is accepted; outcomes arrive as events.
 */
typedef struct {
	json_object *(*get_status)(gpointer phone); /* merged into GetStatus's result */
	json_object *(*get_connections)(gpointer phone);
	/* The template AddConnection starts from before it applies the client's options: the
	 * [policy] defaults (SpConfig.connection_defaults). NULL entry or result: built-in
	 * defaults. */
	const SpConnectionConfig *(*connection_defaults)(gpointer phone);
	/* config->id is SP_CONNECTION_ID_ANY when the client left the id to the phone: it then
	 * takes the lowest free one. */
	json_object *(*add_connection)(gpointer phone, SpConnectionConfig *config /* transfer full */,
				       GError **error);
	gboolean (*enable_connection)(gpointer phone, guint connection_id, GError **error);
	gboolean (*disable_connection)(gpointer phone, guint connection_id, GError **error);
	gboolean (*remove_connection)(gpointer phone, guint connection_id, GError **error);

	json_object *(*dial)(gpointer phone, guint connection_id, const char *destination,
			     GError **error);
	gboolean (*answer)(gpointer phone, const char *session_id, GError **error);
	gboolean (*hangup)(gpointer phone, const char *session_id, GError **error);
	gboolean (*hold)(gpointer phone, const char *session_id, GError **error);
	gboolean (*retrieve)(gpointer phone, const char *session_id, GError **error);
	gboolean (*send_dtmf)(gpointer phone, const char *session_id, const char *digits,
			      GError **error);
	gboolean (*transfer)(gpointer phone, const char *session_id, const char *destination,
			     GError **error);
	/* Attended: session_id's far end is asked to replace to_session_id's call with it. */
	gboolean (*transfer_attended)(gpointer phone, const char *session_id,
				      const char *to_session_id, GError **error);
	json_object *(*get_sessions)(gpointer phone);

	/* Audio; a NULL capture or playback leaves that device as it is. */
	gboolean (*mute)(gpointer phone, gboolean muted, GError **error);
	json_object *(*get_audio_statistics)(gpointer phone, const char *session_id,
					     GError **error);
	json_object *(*get_audio_devices)(gpointer phone, GError **error);
	json_object *(*set_audio_devices)(gpointer phone, const char *capture, const char *playback,
					  GError **error);
} SpPhoneApi;

G_END_DECLS
