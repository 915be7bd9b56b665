/* The phone: owns the sofia-sip root, the connections and the sessions; routes NUA events. */
#include <string.h>

#include "daemon/calls.h"
#include "daemon/connection.h"
#include "daemon/phone-private.h"
#include "daemon/phone.h"
#include "daemon/sdp.h"
#include "daemon/session.h"
#include "daemon/sofia.h"
#include "protocol/errors.h"

#include <sofia-sip/su_log.h>

/* A sync shutdown (sp_phone_free without sp_phone_shutdown) waits at most this long. */
#define SP_SYNC_SHUTDOWN_MS 3000u
/* Transaction lifetime then: nothing has been registered in the paths that take it. */
#define SP_SYNC_SHUTDOWN_T1X64_MS 1000u

struct _SpPhone {
	const SpConfig *config;
	su_root_t *root;
	GSource *root_source;
	SpCalls *calls;
	GPtrArray *connections; /* SpConnection*, sorted by id */
	GPtrArray *dying;	/* removed, waiting for their NUA to shut down */
	guint reap_id;

	SpPhoneEventFunc event_func;
	gpointer event_data;
	SpPhoneChangedFunc changed_func;
	gpointer changed_data;

	gboolean shutting_down;
	gboolean freeing;
	GSourceFunc done;
	gpointer done_data;
	guint deadline_id;
	guint done_id;
};

/* ---- sofia's log into GLib's ----------------------------------------------------------- */

static void free_line(gpointer data)
{
	g_string_free(data, TRUE);
}

/* sofia logs from its stack threads too, in pieces of lines: one buffer per thread. */
static GPrivate sofia_line = G_PRIVATE_INIT(free_line);

static void sofia_logger(void *stream, char const *fmt, va_list ap)
{
	GString *line = g_private_get(&sofia_line);
	char *nl;

	if (line == NULL) {
		line = g_string_new(NULL);
		g_private_set(&sofia_line, line);
	}
	g_string_append_vprintf(line, fmt, ap);
	while ((nl = memchr(line->str, '\n', line->len)) != NULL) {
		g_autofree char *one = g_strndup(line->str, (gsize)(nl - line->str));
		/* sofia's message dumps (TPORT_LOG) carry SDP: never an SRTP key in a log. */
		g_autofree char *shown = sp_sdp_redact(one);

		g_debug("sofia: %s", shown);
		explicit_bzero(line->str, (gsize)(nl - line->str));
		g_string_erase(line, 0, nl - line->str + 1);
	}
	if (line->len > 8192) {
		g_autofree char *shown = sp_sdp_redact(line->str);

		g_debug("sofia: %s", shown);
		g_string_truncate(line, 0);
	}
}

/* ---- the phone ------------------------------------------------------------------------- */

static gint compare_connections(gconstpointer a, gconstpointer b)
{
	guint ia = sp_connection_get_id(*(SpConnection *const *)a);
	guint ib = sp_connection_get_id(*(SpConnection *const *)b);

	return ia < ib ? -1 : ia > ib;
}

SpPhone *sp_phone_new(const SpConfig *config, GError **error)
{
	SpPhone *phone = g_new0(SpPhone, 1);

	phone->config = config;
	phone->connections = g_ptr_array_new();
	phone->dying = g_ptr_array_new();

	su_log_redirect(NULL, sofia_logger, NULL);
	if (su_init() != 0) {
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED, "cannot initialise sofia-sip");
		g_ptr_array_unref(phone->connections);
		g_ptr_array_unref(phone->dying);
		g_free(phone);
		return NULL;
	}
	phone->root = su_glib_root_create(phone);
	if (phone->root == NULL) {
		g_set_error(error, SP_ERROR, SP_ERROR_FAILED, "cannot create the sofia-sip root");
		sp_phone_free(phone);
		return NULL;
	}
	/* Every NUA's stack runs in this thread too (sofia would start a thread for each). */
	su_root_threading(phone->root, 0);
	phone->root_source = su_glib_root_gsource(phone->root);
	g_source_attach(phone->root_source, NULL);
	phone->calls = sp_calls_new(phone);

	for (guint i = 0; config->connections != NULL && i < config->connections->len; i++) {
		const SpConnectionConfig *cc = g_ptr_array_index(config->connections, i);
		SpConnection *c;

		if (sp_phone_find_connection(phone, cc->id) != NULL) {
			g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID,
				    "connection %u is configured twice", cc->id);
			sp_phone_free(phone);
			return NULL;
		}
		c = sp_connection_new(phone, cc, error);
		if (c == NULL) {
			sp_phone_free(phone);
			return NULL;
		}
		g_ptr_array_add(phone->connections, c);
	}
	g_ptr_array_sort(phone->connections, compare_connections);
	return phone;
}

/*
 * Shuts every NUA down and waits for it, running the main context (only nua_r_shutdown is
 * delivered once a NUA shuts down). For sp_phone_free() without sp_phone_shutdown(): error
 * paths at start-up, tests.
 */
static void phone_shutdown_sync(SpPhone *phone)
{
	gint64 end = g_get_monotonic_time() + SP_SYNC_SHUTDOWN_MS * 1000;
	gboolean busy = FALSE;

	for (guint i = 0; i < phone->connections->len; i++)
		sp_connection_shutdown(g_ptr_array_index(phone->connections, i),
				       SP_SYNC_SHUTDOWN_T1X64_MS);
	do {
		busy = FALSE;
		for (guint i = 0; i < phone->connections->len && !busy; i++)
			busy =
			    !sp_connection_is_shut_down(g_ptr_array_index(phone->connections, i));
		for (guint i = 0; i < phone->dying->len && !busy; i++)
			busy = !sp_connection_is_shut_down(g_ptr_array_index(phone->dying, i));
		if (busy && !g_main_context_iteration(NULL, FALSE))
			g_usleep(10000);
	} while (busy && g_get_monotonic_time() < end);
}

void sp_phone_free(SpPhone *phone)
{
	gboolean leaked = FALSE;

	if (phone == NULL)
		return;
	phone->freeing = TRUE;
	g_clear_handle_id(&phone->reap_id, g_source_remove);
	g_clear_handle_id(&phone->deadline_id, g_source_remove);
	g_clear_handle_id(&phone->done_id, g_source_remove);

	if (!phone->shutting_down && phone->root != NULL)
		phone_shutdown_sync(phone);
	/* Sessions hold handles of the NUAs: they go first. */
	g_clear_pointer(&phone->calls, sp_calls_free);
	for (guint i = 0; i < phone->connections->len; i++) {
		SpConnection *c = g_ptr_array_index(phone->connections, i);

		leaked |= !sp_connection_is_shut_down(c);
		sp_connection_free(c);
	}
	for (guint i = 0; i < phone->dying->len; i++) {
		SpConnection *c = g_ptr_array_index(phone->dying, i);

		leaked |= !sp_connection_is_shut_down(c);
		sp_connection_free(c);
	}
	g_ptr_array_unref(phone->connections);
	g_ptr_array_unref(phone->dying);

	if (phone->root_source != NULL)
		g_source_destroy(phone->root_source);
	if (phone->root != NULL && !leaked) {
		su_root_destroy(phone->root);
		su_deinit();
	}
	/* else: a NUA thread may still use the root; the process is about to exit. */
	g_free(phone);
}

void sp_phone_set_event_func(SpPhone *phone, SpPhoneEventFunc func, gpointer user_data)
{
	phone->event_func = func;
	phone->event_data = user_data;
}

void sp_phone_set_changed_func(SpPhone *phone, SpPhoneChangedFunc func, gpointer user_data)
{
	phone->changed_func = func;
	phone->changed_data = user_data;
}

gboolean sp_phone_start(SpPhone *phone, GError **error)
{
	/* Every enabled connection sends its REGISTER now, all in the same main-loop turn. */
	for (guint i = 0; i < phone->connections->len; i++)
		sp_connection_start(g_ptr_array_index(phone->connections, i));
	return TRUE;
}

/* ---- shutdown -------------------------------------------------------------------------- */

static gboolean on_shutdown_done(gpointer data)
{
	SpPhone *phone = data;
	GSourceFunc done = phone->done;

	phone->done_id = 0;
	g_clear_handle_id(&phone->deadline_id, g_source_remove);
	phone->done = NULL;
	if (done != NULL)
		done(phone->done_data);
	return G_SOURCE_REMOVE;
}

static void phone_check_shutdown(SpPhone *phone)
{
	if (!phone->shutting_down || phone->freeing || phone->done == NULL || phone->done_id != 0)
		return;
	for (guint i = 0; i < phone->connections->len; i++) {
		if (!sp_connection_is_shut_down(g_ptr_array_index(phone->connections, i)))
			return;
	}
	for (guint i = 0; i < phone->dying->len; i++) {
		if (!sp_connection_is_shut_down(g_ptr_array_index(phone->dying, i)))
			return;
	}
	g_message("every site unregistered");
	/* Not from inside a NUA callback: done() may quit the loop and free the phone. */
	phone->done_id = g_idle_add(on_shutdown_done, phone);
}

static gboolean on_shutdown_deadline(gpointer data)
{
	SpPhone *phone = data;

	phone->deadline_id = 0;
	g_message("shutdown deadline reached; not waiting for the remaining sites");
	if (phone->done_id == 0)
		phone->done_id = g_idle_add(on_shutdown_done, phone);
	return G_SOURCE_REMOVE;
}

void sp_phone_shutdown(SpPhone *phone, guint deadline_ms, GSourceFunc done, gpointer user_data)
{
	guint t1x64;

	if (phone == NULL || phone->shutting_down) {
		if (done != NULL)
			g_idle_add(done, user_data);
		return;
	}
	phone->shutting_down = TRUE;
	phone->done = done;
	phone->done_data = user_data;
	/* The un-REGISTER transactions must end before the deadline, with time for sofia's
	 * shutdown tick (once a second). */
	t1x64 = deadline_ms > 1500 ? deadline_ms - 1000 : MAX(deadline_ms / 2, 500u);

	sp_calls_hangup_all(phone->calls);
	for (guint i = 0; i < phone->connections->len; i++)
		sp_connection_shutdown(g_ptr_array_index(phone->connections, i), t1x64);
	phone->deadline_id = g_timeout_add(MAX(deadline_ms, 1u), on_shutdown_deadline, phone);
	phone_check_shutdown(phone);
}

/* ---- connections ----------------------------------------------------------------------- */

guint sp_phone_count_connections(SpPhone *phone)
{
	return phone->connections->len;
}

guint sp_phone_count_ready(SpPhone *phone)
{
	guint n = 0;

	for (guint i = 0; i < phone->connections->len; i++) {
		if (sp_connection_get_status(g_ptr_array_index(phone->connections, i)) ==
		    SP_CONNECTION_READY)
			n++;
	}
	return n;
}

su_root_t *sp_phone_get_root(SpPhone *phone)
{
	return phone->root;
}

const SpConfig *sp_phone_get_config(SpPhone *phone)
{
	return phone->config;
}

SpCalls *sp_phone_get_calls(SpPhone *phone)
{
	return phone->calls;
}

SpConnection *sp_phone_find_connection(SpPhone *phone, guint connection_id)
{
	for (guint i = 0; i < phone->connections->len; i++) {
		SpConnection *c = g_ptr_array_index(phone->connections, i);

		if (sp_connection_get_id(c) == connection_id)
			return c;
	}
	return NULL;
}

GPtrArray *sp_phone_get_connections(SpPhone *phone)
{
	return phone->connections;
}

void sp_phone_configure_nua(SpPhone *phone, SpConnection *c, nua_t *nua)
{
	sp_calls_configure_nua(phone->calls, c, nua);
}

void sp_phone_on_nua_event(SpPhone *phone, SpConnection *c, nua_event_t event, int status,
			   char const *phrase, nua_t *nua, nua_handle_t *nh, nua_hmagic_t *hmagic,
			   sip_t const *sip, tagi_t tags[])
{
	/* A handle bound to a session (its hmagic) is that session's, whatever the event. */
	if (hmagic != NULL) {
		sp_session_on_nua_event(hmagic, event, status, phrase, nh, sip, tags);
		return;
	}
	switch (event) {
	case nua_i_invite:
		sp_calls_on_incoming_invite(phone->calls, c, nh, sip, tags);
		break;
	default:
		sp_connection_on_stray_event(c, event, status, phrase, nua, nh);
		break;
	}
}

void sp_phone_on_connection_status(SpPhone *phone, SpConnection *c)
{
	if (phone->calls != NULL)
		sp_calls_on_connection_status(phone->calls, c);
	if (phone->changed_func != NULL && !phone->freeing)
		phone->changed_func(phone, phone->changed_data);
}

static gboolean on_reap(gpointer data)
{
	SpPhone *phone = data;

	phone->reap_id = 0;
	for (guint i = 0; i < phone->dying->len;) {
		SpConnection *c = g_ptr_array_index(phone->dying, i);

		if (sp_connection_is_shut_down(c)) {
			g_ptr_array_remove_index(phone->dying, i);
			sp_connection_free(c);
		} else {
			i++;
		}
	}
	return G_SOURCE_REMOVE;
}

void sp_phone_on_connection_removed(SpPhone *phone, SpConnection *c)
{
	if (g_ptr_array_remove(phone->connections, c))
		g_ptr_array_add(phone->dying, c);
	if (phone->changed_func != NULL && !phone->freeing)
		phone->changed_func(phone, phone->changed_data);
}

void sp_phone_on_connection_shut_down(SpPhone *phone, SpConnection *c)
{
	/* Freed from an idle callback: c's own NUA callback is still on the stack. */
	if (!phone->freeing && phone->reap_id == 0 && phone->dying->len > 0)
		phone->reap_id = g_idle_add(on_reap, phone);
	phone_check_shutdown(phone);
}

/* ---- events ---------------------------------------------------------------------------- */

void sp_phone_emit(SpPhone *phone, const char *event, json_object *params)
{
	if (phone->event_func != NULL && !phone->freeing)
		phone->event_func(event, params, phone->event_data);
	else
		json_object_put(params);
}

char *sp_phone_timestamp(void)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autofree char *base = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S");

	return g_strdup_printf("%s.%03dZ", base, g_date_time_get_microsecond(now) / 1000);
}

/* ---- the control API ------------------------------------------------------------------- */

static json_object *api_get_status(gpointer data)
{
	SpPhone *phone = data;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "connections",
			       json_object_new_int64(sp_phone_count_connections(phone)));
	json_object_object_add(o, "ready", json_object_new_int64(sp_phone_count_ready(phone)));
	json_object_object_add(o, "sessions", json_object_new_int64(sp_calls_count(phone->calls)));
	sp_calls_add_status(phone->calls, o);
	return o;
}

static json_object *api_get_connections(gpointer data)
{
	SpPhone *phone = data;
	json_object *list = json_object_new_array();

	for (guint i = 0; i < phone->connections->len; i++)
		json_object_array_add(
		    list, sp_connection_to_json(g_ptr_array_index(phone->connections, i)));
	return list;
}

static guint phone_lowest_free_id(SpPhone *phone)
{
	guint id = 0;

	/* connections is sorted by id. */
	for (guint i = 0; i < phone->connections->len; i++) {
		guint used = sp_connection_get_id(g_ptr_array_index(phone->connections, i));

		if (used == id)
			id++;
		else if (used > id)
			break;
	}
	return id;
}

static json_object *api_add_connection(gpointer data, SpConnectionConfig *config, GError **error)
{
	SpPhone *phone = data;
	g_autoptr(SpConnectionConfig) owned = config;
	g_autoptr(GError) local = NULL;
	SpConnection *c;

	if (phone->shutting_down) {
		g_set_error(error, SP_ERROR, SP_ERROR_UNAVAILABLE, "shutting down");
		return NULL;
	}
	if (owned->id == SP_CONNECTION_ID_ANY) {
		owned->id = phone_lowest_free_id(phone);
		if (owned->id == SP_CONNECTION_ID_ANY) {
			g_set_error(error, SP_ERROR, SP_ERROR_UNAVAILABLE, "no free connection id");
			return NULL;
		}
	} else if (sp_phone_find_connection(phone, owned->id) != NULL) {
		g_set_error(error, SP_ERROR, SP_ERROR_EXISTS, "connection %u exists", owned->id);
		return NULL;
	}
	c = sp_connection_new(phone, owned, &local);
	if (c == NULL) {
		/* A bad server or local-address is the client's mistake. */
		if (local->domain == SP_CONFIG_ERROR)
			g_set_error_literal(error, SP_ERROR, SP_ERROR_INVALID_ARGS, local->message);
		else
			g_propagate_error(error, g_steal_pointer(&local));
		return NULL;
	}
	g_ptr_array_add(phone->connections, c);
	g_ptr_array_sort(phone->connections, compare_connections);
	g_message("connection %u added: %s", sp_connection_get_id(c),
		  sp_connection_get_config(c)->server);
	sp_connection_start(c);
	if (phone->changed_func != NULL)
		phone->changed_func(phone, phone->changed_data);
	return sp_connection_to_json(c);
}

static SpConnection *api_find(SpPhone *phone, guint connection_id, GError **error)
{
	SpConnection *c = sp_phone_find_connection(phone, connection_id);

	if (c == NULL)
		g_set_error(error, SP_ERROR, SP_ERROR_NOT_FOUND, "no connection %u", connection_id);
	return c;
}

static gboolean api_enable_connection(gpointer data, guint connection_id, GError **error)
{
	SpPhone *phone = data;
	SpConnection *c = api_find(phone, connection_id, error);

	if (c != NULL && phone->shutting_down) {
		g_set_error(error, SP_ERROR, SP_ERROR_UNAVAILABLE, "shutting down");
		return FALSE;
	}
	return c != NULL && sp_connection_enable(c, error);
}

static gboolean api_disable_connection(gpointer data, guint connection_id, GError **error)
{
	SpConnection *c = api_find(data, connection_id, error);

	return c != NULL && sp_connection_disable(c, error);
}

static gboolean api_remove_connection(gpointer data, guint connection_id, GError **error)
{
	SpConnection *c = api_find(data, connection_id, error);

	return c != NULL && sp_connection_remove(c, error);
}

static json_object *api_dial(gpointer data, guint connection_id, const char *destination,
			     GError **error)
{
	SpPhone *phone = data;

	return sp_calls_dial(phone->calls, connection_id, destination, error);
}

static gboolean api_answer(gpointer data, const char *session_id, GError **error)
{
	SpPhone *phone = data;

	return sp_calls_answer(phone->calls, session_id, error);
}

static gboolean api_hangup(gpointer data, const char *session_id, GError **error)
{
	SpPhone *phone = data;

	return sp_calls_hangup(phone->calls, session_id, error);
}

static gboolean api_hold(gpointer data, const char *session_id, GError **error)
{
	SpPhone *phone = data;

	return sp_calls_hold(phone->calls, session_id, error);
}

static gboolean api_retrieve(gpointer data, const char *session_id, GError **error)
{
	SpPhone *phone = data;

	return sp_calls_retrieve(phone->calls, session_id, error);
}

static gboolean api_send_dtmf(gpointer data, const char *session_id, const char *digits,
			      GError **error)
{
	SpPhone *phone = data;

	return sp_calls_send_dtmf(phone->calls, session_id, digits, error);
}

static gboolean api_transfer_attended(gpointer data, const char *session_id,
				      const char *to_session_id, GError **error)
{
	SpPhone *phone = data;

	return sp_calls_transfer_attended(phone->calls, session_id, to_session_id, error);
}

static gboolean api_transfer(gpointer data, const char *session_id, const char *destination,
			     GError **error)
{
	SpPhone *phone = data;

	return sp_calls_transfer(phone->calls, session_id, destination, error);
}

static json_object *api_get_sessions(gpointer data)
{
	SpPhone *phone = data;

	return sp_calls_get_sessions(phone->calls);
}

static gboolean api_mute(gpointer data, gboolean muted, GError **error)
{
	SpPhone *phone = data;

	return sp_calls_mute(phone->calls, muted, error);
}

static json_object *api_get_audio_statistics(gpointer data, const char *session_id,
					     GError **error)
{
	SpPhone *phone = data;

	return sp_calls_get_audio_statistics(phone->calls, session_id, error);
}

static json_object *api_get_audio_devices(gpointer data, GError **error)
{
	SpPhone *phone = data;

	return sp_calls_get_audio_devices(phone->calls, error);
}

static json_object *api_set_audio_devices(gpointer data, const char *capture, const char *playback,
					  GError **error)
{
	SpPhone *phone = data;

	return sp_calls_set_audio_devices(phone->calls, capture, playback, error);
}

const SpPhoneApi *sp_phone_api(void)
{
	static const SpPhoneApi api = {
	    .get_status = api_get_status,
	    .get_connections = api_get_connections,
	    .add_connection = api_add_connection,
	    .enable_connection = api_enable_connection,
	    .disable_connection = api_disable_connection,
	    .remove_connection = api_remove_connection,
	    .dial = api_dial,
	    .answer = api_answer,
	    .hangup = api_hangup,
	    .hold = api_hold,
	    .retrieve = api_retrieve,
	    .send_dtmf = api_send_dtmf,
	    .transfer = api_transfer,
	    .transfer_attended = api_transfer_attended,
	    .get_sessions = api_get_sessions,
	    .mute = api_mute,
	    .get_audio_statistics = api_get_audio_statistics,
	    .get_audio_devices = api_get_audio_devices,
	    .set_audio_devices = api_set_audio_devices,
	};

	return &api;
}
