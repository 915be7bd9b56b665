/* The phone's calls: the session list, Dial with failover, one active call, inbound INVITEs. */
#include "daemon/calls.h"
#include "daemon/sdp.h"

#include <string.h>

#include "daemon/media/alsa-pcm.h"
#include "daemon/phone-private.h"
#include "protocol/errors.h"

/* More calls than an agent can handle at once: further INVITEs get 486, Dial Unavailable. */
#define SP_CALLS_MAX 16

#define SP_ALLOW "INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, INFO, REFER, NOTIFY, UPDATE"

struct _SpCalls {
	SpPhone *phone;
	/* SpSession*, owned, oldest first; Disconnected ones until done (INVITEs given up too) */
	GPtrArray *sessions;
	guint64 next_id;
	SpRtpPorts *ports;    /* made on first use, once the config is known */
	SpMediaEngine *media; /* likewise */
};

SpCalls *sp_calls_new(SpPhone *phone)
{
	SpCalls *calls = g_new0(SpCalls, 1);

	calls->phone = phone;
	calls->sessions = g_ptr_array_new_with_free_func((GDestroyNotify)sp_session_free);
	calls->next_id = 1;
	return calls;
}

void sp_calls_free(SpCalls *calls)
{
	if (calls == NULL)
		return;
	/* The sessions stop their streams before the engine goes. */
	g_ptr_array_unref(calls->sessions);
	sp_media_engine_free(calls->media);
	sp_rtp_ports_free(calls->ports);
	g_free(calls);
}

SpPhone *sp_calls_get_phone(SpCalls *calls)
{
	return calls->phone;
}

SpRtpPorts *sp_calls_get_rtp_ports(SpCalls *calls)
{
	if (calls->ports == NULL) {
		const SpConfig *config = sp_phone_get_config(calls->phone);

		calls->ports = sp_rtp_ports_new(config ? config->daemon.rtp_port_min : 0,
						config ? config->daemon.rtp_port_max : 0);
		if (config != NULL)
			sp_rtp_ports_set_dscp(calls->ports, config->daemon.rtp_dscp);
	}
	return calls->ports;
}

static void on_media_dtmf(gpointer session, char digit, guint duration_ms, const char *method)
{
	sp_session_on_media_dtmf(session, digit, duration_ms, method);
}

static void on_media_timeout(gpointer session)
{
	sp_session_on_media_timeout(session);
}

static void on_media_started(gpointer session)
{
	sp_session_on_media_started(session);
}

static void on_device_error(gpointer data, const char *device, const char *error)
{
	SpCalls *calls = data;
	json_object *o = json_object_new_object();
	g_autofree char *time = sp_phone_timestamp();

	g_warning("audio device \"%s\": %s; the call goes on without it", device, error);
	json_object_object_add(o, "device", json_object_new_string(device));
	json_object_object_add(o, "error", json_object_new_string(error));
	json_object_object_add(o, "time", json_object_new_string(time));
	sp_phone_emit(calls->phone, "AudioDeviceError", o);
}

static void on_device_recovered(gpointer data, const char *device)
{
	SpCalls *calls = data;
	json_object *o = json_object_new_object();
	g_autofree char *time = sp_phone_timestamp();

	g_message("audio device \"%s\" works again", device);
	json_object_object_add(o, "device", json_object_new_string(device));
	json_object_object_add(o, "time", json_object_new_string(time));
	sp_phone_emit(calls->phone, "AudioDeviceRecovered", o);
}

SpMediaEngine *sp_calls_get_media(SpCalls *calls)
{
	static const SpMediaCallbacks callbacks = {
	    .dtmf_received = on_media_dtmf,
	    .media_timeout = on_media_timeout,
	    .media_started = on_media_started,
	    .device_error = on_device_error,
	    .device_recovered = on_device_recovered,
	};

	if (calls->media == NULL) {
		const SpConfig *config = sp_phone_get_config(calls->phone);
		g_autoptr(SpConfig) defaults = config == NULL ? sp_config_new() : NULL;
		const SpConfig *c = config != NULL ? config : defaults;
		SpMediaEngineConfig mc = {
		    .capture = c->audio.capture,
		    .playback = c->audio.playback,
		    .jitter_min_ms = c->audio.jitter_min_ms,
		    .jitter_max_ms = c->audio.jitter_max_ms,
		    .dtmf_duration_ms = c->audio.dtmf_duration_ms,
		    .dtmf_gap_ms = c->audio.dtmf_gap_ms,
		    .inactivity_timeout_ms = c->policy.rtp_inactivity_timeout_ms,
		    .ring = c->audio.ring,
		    .ring_tone = c->audio.ring_tone,
		    .ringback_tone = c->audio.ringback_tone,
		    .call_waiting_tone = c->audio.call_waiting_tone,
		};

		calls->media = sp_media_engine_new(&mc, &callbacks, calls, NULL);
	}
	return calls->media;
}

const char *const *sp_calls_get_codecs(SpCalls *calls)
{
	const SpConfig *config = sp_phone_get_config(calls->phone);

	return config != NULL ? (const char *const *)config->audio.codecs : NULL;
}

void sp_calls_configure_nua(SpCalls *calls, SpConnection *c, nua_t *nua)
{
	const SpConfig *config = sp_phone_get_config(calls->phone);
	unsigned session_expires = config != NULL ? config->policy.session_expires_s : 1800;
	unsigned min_se = config != NULL ? config->policy.min_session_expires_s : 90;

	(void)c;
	nua_set_params(nua,
		       /* Unsolicited NOTIFY (Event: talk / hold) is answered by session.c. */
		       NUTAG_APPL_METHOD("NOTIFY"), SIPTAG_ALLOW_STR(SP_ALLOW),
		       SIPTAG_ALLOW_EVENTS_STR("talk, hold"), NUTAG_AUTOANSWER(0),
		       NUTAG_AUTOALERT(0), NUTAG_MEDIA_ENABLE(1),
		       /*
			* Answers list every common codec in the offerer's order: with only the
			* one best codec, soa 1.12.11 drops telephone-event too. Both sides then
			* send the offerer's first (sdp.c).
			*/
		       SOATAG_RTP_SELECT(SOA_RTP_SELECT_COMMON),
		       SOATAG_AUDIO_AUX("telephone-event"),
		       /*
			* RFC 4028 session timers: SIP Server sends Session-Expires: 1800;
			* refresher=uac with Min-SE: 90; sofia answers them and refreshes when
			* it is the refresher, and ends a call whose refreshes stop.
			*/
		       NUTAG_SESSION_TIMER(session_expires), NUTAG_MIN_SE(min_se), TAG_END());
}

/* --- the session list --------------------------------------------------------------------- */

static SpSession *find_session(SpCalls *calls, const char *session_id, GError **error)
{
	for (guint i = 0; session_id != NULL && i < calls->sessions->len; i++) {
		SpSession *s = g_ptr_array_index(calls->sessions, i);

		if (sp_session_get_status(s) != SP_SESSION_DISCONNECTED &&
		    strcmp(sp_session_get_id(s), session_id) == 0)
			return s;
	}
	g_set_error(error, SP_ERROR, SP_ERROR_NOT_FOUND, "no session \"%s\"",
		    session_id ? session_id : "");
	return NULL;
}

guint sp_calls_count(SpCalls *calls)
{
	guint n = 0;

	for (guint i = 0; i < calls->sessions->len; i++)
		if (sp_session_get_status(g_ptr_array_index(calls->sessions, i)) !=
		    SP_SESSION_DISCONNECTED)
			n++;
	return n;
}

void sp_calls_release_session(SpCalls *calls, SpSession *s)
{
	if (!g_ptr_array_remove(calls->sessions, s))
		sp_session_free(s);
}

/* The live sessions as a new array (safe to walk while sessions end). */
static GPtrArray *snapshot(SpCalls *calls)
{
	GPtrArray *list = g_ptr_array_new();

	for (guint i = 0; i < calls->sessions->len; i++) {
		SpSession *s = g_ptr_array_index(calls->sessions, i);

		if (sp_session_get_status(s) != SP_SESSION_DISCONNECTED)
			g_ptr_array_add(list, s);
	}
	return list;
}

static gboolean still_listed(SpCalls *calls, SpSession *s)
{
	guint index;

	return g_ptr_array_find(calls->sessions, s, &index);
}

void sp_calls_hold_others(SpCalls *calls, SpSession *except)
{
	g_autoptr(GPtrArray) list = snapshot(calls);

	for (guint i = 0; i < list->len; i++) {
		SpSession *s = g_ptr_array_index(list, i);
		g_autoptr(GError) error = NULL;

		/* A call the far end holds is held here too: the microphone goes to one call. */
		if (s == except || !still_listed(calls, s) ||
		    (sp_session_get_status(s) != SP_SESSION_CONNECTED &&
		     sp_session_get_status(s) != SP_SESSION_HELD) ||
		    sp_session_is_holding(s))
			continue;
		g_info("session %s: holding it for session %s", sp_session_get_id(s),
		       except ? sp_session_get_id(except) : "(new call)");
		if (!sp_session_hold(s, &error))
			g_info("%s", error->message);
	}
}

SpConnection *sp_calls_next_ready(SpCalls *calls, GArray *tried)
{
	GPtrArray *list = sp_phone_get_connections(calls->phone);

	for (guint i = 0; list != NULL && i < list->len; i++) {
		SpConnection *c = g_ptr_array_index(list, i);
		guint id = sp_connection_get_id(c);
		gboolean skip = FALSE;

		for (guint j = 0; tried != NULL && j < tried->len; j++)
			skip = skip || g_array_index(tried, guint, j) == id;
		if (!skip && sp_connection_get_status(c) == SP_CONNECTION_READY)
			return c;
	}
	return NULL;
}

static char *next_session_id(SpCalls *calls)
{
	return g_strdup_printf("%" G_GUINT64_FORMAT, calls->next_id++);
}

/* --- NUA routing -------------------------------------------------------------------------- */

/*
 * [policy] reject-when-no-device (the SDK's reject_session_when_headset_na): an inbound call
 * while a device cannot be opened is refused with reject-code, and its one event says why.
 * TRUE when it was refused (nh is destroyed then).
 */
static gboolean reject_without_device(SpCalls *calls, const char *id, SpConnection *c,
				      nua_handle_t *nh, sip_t const *sip)
{
	const SpConfig *config = sp_phone_get_config(calls->phone);
	g_autoptr(GError) error = NULL;
	g_autofree char *device = NULL;

	if (config == NULL || !config->policy.reject_when_no_device ||
	    sp_media_engine_check_devices(sp_calls_get_media(calls), &device, &error))
		return FALSE;
	g_info("rejecting a call on connection %u with %u: audio device \"%s\" unavailable: %s",
	       sp_connection_get_id(c), config->policy.reject_code, device, error->message);
	sp_session_reject_inbound(calls, id, c, nh, sip, (int)config->policy.reject_code, device,
				  error->message);
	nua_handle_destroy(nh);
	return TRUE;
}

void sp_calls_on_incoming_invite(SpCalls *calls, SpConnection *c, nua_handle_t *nh,
				 sip_t const *sip, tagi_t tags[])
{
	g_autofree char *id = NULL;
	SpSession *s;

	if (sip == NULL || sip->sip_from == NULL) {
		nua_respond(nh, SIP_400_BAD_REQUEST, TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	/* An INVITE without a body is a late offer; one with SDP must leave us a codec. */
	if (sip->sip_payload != NULL && sip->sip_payload->pl_len > 0 &&
	    !sp_sdp_offer_usable(sip->sip_payload->pl_data, sip->sip_payload->pl_len,
				 sp_calls_get_codecs(calls))) {
		g_info("rejecting a call on connection %u: no audio codec of ours in its offer",
		       sp_connection_get_id(c));
		nua_respond(nh, SIP_488_NOT_ACCEPTABLE,
			    SIPTAG_WARNING_STR("304 softphoned \"Media type not available\""),
			    TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	if (sp_calls_count(calls) >= SP_CALLS_MAX) {
		g_info("rejecting a call on connection %u: %u calls already",
		       sp_connection_get_id(c), SP_CALLS_MAX);
		nua_respond(nh, SIP_486_BUSY_HERE, TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	id = next_session_id(calls);
	if (reject_without_device(calls, id, c, nh, sip))
		return;
	s = sp_session_new_inbound(calls, id, c, nh, sip);
	if (s == NULL) {
		nua_handle_destroy(nh);
		return;
	}
	g_ptr_array_add(calls->sessions, s);
	sp_session_check_auto_answer(s, sip);
	/* After the auto-answer check: a call answered by itself never rings. */
	sp_calls_update_tones(calls);
}

void sp_calls_on_connection_status(SpCalls *calls, SpConnection *c)
{
	g_autoptr(GPtrArray) list = snapshot(calls);
	gboolean gone = sp_connection_get_status(c) == SP_CONNECTION_REMOVED;

	for (guint i = 0; i < list->len; i++) {
		SpSession *s = g_ptr_array_index(list, i);

		if (!still_listed(calls, s) || sp_session_get_connection(s) != c)
			continue;
		if (gone)
			sp_session_abandon(s);
		else
			sp_session_on_connection_status(s, c);
	}
	if (gone) {
		/* Every session, the Disconnected ones too, may have INVITEs given up on c. */
		g_autoptr(GPtrArray) all = g_ptr_array_sized_new(calls->sessions->len);

		for (guint i = 0; i < calls->sessions->len; i++)
			g_ptr_array_add(all, g_ptr_array_index(calls->sessions, i));
		for (guint i = 0; i < all->len; i++) {
			SpSession *s = g_ptr_array_index(all, i);

			if (still_listed(calls, s))
				sp_session_forget_connection(s, c);
		}
	}
}

void sp_calls_hangup_all(SpCalls *calls)
{
	g_autoptr(GPtrArray) list = snapshot(calls);

	for (guint i = 0; i < list->len; i++) {
		SpSession *s = g_ptr_array_index(list, i);

		if (still_listed(calls, s))
			sp_session_hangup(s, NULL);
	}
}

/* --- tones ------------------------------------------------------------------------------- */

/*
 * Which tones play, from every live session's status: the ring while a call alerts and none is
 * Connected (a call that will be answered by itself does not ring); a call-waiting beep over the
 * call instead when one is Connected; ringback while an outbound call is rung (a 18x) with no
 * early media. Held calls count as neither: with every call on hold, a new one rings.
 */
void sp_calls_update_tones(SpCalls *calls)
{
	gboolean alerting = FALSE, connected = FALSE, ringback = FALSE;
	SpMediaTone ring, playback;

	for (guint i = 0; i < calls->sessions->len; i++) {
		SpSession *s = g_ptr_array_index(calls->sessions, i);

		switch (sp_session_get_status(s)) {
		case SP_SESSION_ALERTING:
			alerting = alerting || !sp_session_is_auto_answering(s);
			break;
		case SP_SESSION_IN_PROGRESS:
			ringback = ringback || sp_session_wants_ringback(s);
			break;
		case SP_SESSION_CONNECTED:
			connected = TRUE;
			break;
		case SP_SESSION_HELD:
		case SP_SESSION_DISCONNECTED:
			break;
		}
	}
	ring = alerting && !connected ? SP_MEDIA_TONE_RING : SP_MEDIA_TONE_NONE;
	playback = alerting && connected ? SP_MEDIA_TONE_CALL_WAITING
		   : ringback		 ? SP_MEDIA_TONE_RINGBACK
					 : SP_MEDIA_TONE_NONE;
	/* No engine is made just to play nothing. */
	if (calls->media == NULL && ring == SP_MEDIA_TONE_NONE && playback == SP_MEDIA_TONE_NONE)
		return;
	sp_media_engine_set_tones(sp_calls_get_media(calls), ring, playback);
}

/* --- the control API ---------------------------------------------------------------------- */

/* A DN (letters, digits, + - _ . *) or a sip:/sips: URI with a host. */
static gboolean valid_destination(const char *destination)
{
	gsize len;

	if (destination == NULL)
		return FALSE;
	len = strlen(destination);
	if (g_ascii_strncasecmp(destination, "sip:", 4) == 0 ||
	    g_ascii_strncasecmp(destination, "sips:", 5) == 0) {
		su_home_t home[1] = {SU_HOME_INIT(home)};
		url_t *url = len <= 1024 ? url_make(home, destination) : NULL;
		gboolean ok = url != NULL &&
			      (url->url_type == url_sip || url->url_type == url_sips) &&
			      url->url_host != NULL && url->url_host[0] != '\0' &&
			      strpbrk(destination, " \t\r\n<>\"") == NULL;

		su_home_deinit(home);
		return ok;
	}
	if (len == 0 || len > 64)
		return FALSE;
	for (const char *p = destination; *p; p++)
		if (!g_ascii_isalnum(*p) && strchr("+-_.*", *p) == NULL)
			return FALSE;
	return TRUE;
}

json_object *sp_calls_dial(SpCalls *calls, guint connection_id, const char *destination,
			   GError **error)
{
	SpConnection *asked = sp_phone_find_connection(calls->phone, connection_id);
	SpConnection *c;
	g_autofree char *id = NULL;
	g_autoptr(GArray) tried = NULL;
	SpSession *s;
	json_object *result;

	if (asked == NULL) {
		g_set_error(error, SP_ERROR, SP_ERROR_NOT_FOUND, "no connection %u", connection_id);
		return NULL;
	}
	if (!valid_destination(destination)) {
		g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS,
			    "destination must be a DN or a sip:/sips: URI");
		return NULL;
	}
	if (sp_calls_count(calls) >= SP_CALLS_MAX) {
		g_set_error(error, SP_ERROR, SP_ERROR_UNAVAILABLE, "too many calls (%u)",
			    SP_CALLS_MAX);
		return NULL;
	}

	c = asked;
	if (sp_connection_get_status(asked) != SP_CONNECTION_READY) {
		tried = g_array_new(FALSE, FALSE, sizeof(guint));
		g_array_append_val(tried, connection_id);
		c = sp_calls_next_ready(calls, tried);
		if (c == NULL) {
			g_set_error(
			    error, SP_ERROR, SP_ERROR_UNAVAILABLE,
			    "no connection is Ready (connection %u is %s)", connection_id,
			    sp_connection_status_to_string(sp_connection_get_status(asked)));
			return NULL;
		}
		g_info("connection %u is %s: placing the call via %u", connection_id,
		       sp_connection_status_to_string(sp_connection_get_status(asked)),
		       sp_connection_get_id(c));
	}

	sp_calls_hold_others(calls, NULL);
	id = next_session_id(calls);
	s = sp_session_new_outbound(calls, id, destination, connection_id, c, error);
	if (s == NULL)
		return NULL;
	g_ptr_array_add(calls->sessions, s);

	result = json_object_new_object();
	json_object_object_add(result, "sessionId", json_object_new_string(id));
	json_object_object_add(
	    result, "connectionId",
	    json_object_new_int64(sp_connection_get_id(sp_session_get_connection(s))));
	return result;
}

gboolean sp_calls_answer(SpCalls *calls, const char *session_id, GError **error)
{
	SpSession *s = find_session(calls, session_id, error);

	return s != NULL && sp_session_answer(s, error);
}

gboolean sp_calls_hangup(SpCalls *calls, const char *session_id, GError **error)
{
	SpSession *s = find_session(calls, session_id, error);

	return s != NULL && sp_session_hangup(s, error);
}

gboolean sp_calls_hold(SpCalls *calls, const char *session_id, GError **error)
{
	SpSession *s = find_session(calls, session_id, error);

	return s != NULL && sp_session_hold(s, error);
}

gboolean sp_calls_retrieve(SpCalls *calls, const char *session_id, GError **error)
{
	SpSession *s = find_session(calls, session_id, error);

	return s != NULL && sp_session_retrieve(s, error);
}

gboolean sp_calls_send_dtmf(SpCalls *calls, const char *session_id, const char *digits,
			    GError **error)
{
	SpSession *s = find_session(calls, session_id, error);

	return s != NULL && sp_session_send_dtmf(s, digits, error);
}

SpSession *sp_calls_find_session(SpCalls *calls, const char *session_id)
{
	return find_session(calls, session_id, NULL);
}

SpSession *sp_calls_follow_refer(SpCalls *calls, SpSession *from, const char *uri,
				 const char *headers, nua_handle_t *refer_nh,
				 sip_event_t const *event, GError **error)
{
	g_autofree char *id = NULL;
	SpSession *s;

	if (sp_calls_count(calls) >= SP_CALLS_MAX) {
		g_set_error(error, SP_ERROR, SP_ERROR_UNAVAILABLE, "too many calls (%u)",
			    SP_CALLS_MAX);
		return NULL;
	}
	/*
	 * Every other call is held for the new one, but not the call that referred us: the
	 * transferor has usually held it already, it ends as soon as the new call is answered,
	 * and if the transfer fails it is left as the transferor left it (RFC 5589 §6), not held
	 * by us behind the agent's back.
	 */
	sp_calls_hold_others(calls, from);
	id = next_session_id(calls);
	s = sp_session_new_referred(calls, id, from, uri, headers, refer_nh, event, error);
	if (s != NULL)
		g_ptr_array_add(calls->sessions, s);
	return s;
}

gboolean sp_calls_transfer_attended(SpCalls *calls, const char *session_id,
				    const char *to_session_id, GError **error)
{
	SpSession *s = find_session(calls, session_id, error);
	SpSession *to = s != NULL ? find_session(calls, to_session_id, error) : NULL;

	if (to == NULL)
		return FALSE;
	if (s == to) {
		g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS,
			    "a call cannot be transferred to itself");
		return FALSE;
	}
	return sp_session_transfer_attended(s, to, error);
}

gboolean sp_calls_transfer(SpCalls *calls, const char *session_id, const char *destination,
			   GError **error)
{
	SpSession *s = find_session(calls, session_id, error);

	if (s == NULL)
		return FALSE;
	if (!valid_destination(destination)) {
		g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS,
			    "destination must be a DN or a sip:/sips: URI");
		return FALSE;
	}
	return sp_session_transfer(s, destination, error);
}

json_object *sp_calls_get_sessions(SpCalls *calls)
{
	json_object *array = json_object_new_array();

	for (guint i = 0; i < calls->sessions->len; i++) {
		SpSession *s = g_ptr_array_index(calls->sessions, i);

		if (sp_session_get_status(s) != SP_SESSION_DISCONNECTED)
			json_object_array_add(array, sp_session_to_json(s));
	}
	return array;
}

gboolean sp_calls_mute(SpCalls *calls, gboolean muted, GError **error)
{
	SpMediaEngine *media = sp_calls_get_media(calls);
	json_object *o;
	g_autofree char *time = NULL;

	if (sp_media_engine_get_mute(media) == muted)
		return TRUE;
	sp_media_engine_set_mute(media, muted);
	g_info("microphone %s", muted ? "muted" : "unmuted");
	time = sp_phone_timestamp();
	o = json_object_new_object();
	json_object_object_add(o, "muted", json_object_new_boolean(muted));
	json_object_object_add(o, "time", json_object_new_string(time));
	sp_phone_emit(calls->phone, "MuteChanged", o);
	return TRUE;
}

json_object *sp_calls_get_audio_statistics(SpCalls *calls, const char *session_id, GError **error)
{
	SpSession *s = find_session(calls, session_id, error);

	return s != NULL ? sp_session_get_audio_statistics(s, error) : NULL;
}

void sp_calls_add_status(SpCalls *calls, json_object *o)
{
	gboolean muted = calls->media != NULL && sp_media_engine_get_mute(calls->media);
	SpMediaEngine *media = sp_calls_get_media(calls);
	json_object *devices = json_object_new_object();

	json_object_object_add(o, "muted", json_object_new_boolean(muted));
	json_object_object_add(devices, "capture",
			       json_object_new_string(sp_media_engine_get_capture(media)));
	json_object_object_add(devices, "playback",
			       json_object_new_string(sp_media_engine_get_playback(media)));
	json_object_object_add(o, "audioDevices", devices);
}

/* --- sound devices ------------------------------------------------------------------------ */

json_object *sp_calls_get_audio_devices(SpCalls *calls, GError **error)
{
	SpMediaEngine *media = sp_calls_get_media(calls);
	g_autoptr(GPtrArray) list = sp_alsa_list_devices();
	json_object *o = json_object_new_object();
	json_object *devices = json_object_new_array();

	for (guint i = 0; i < list->len; i++) {
		const SpAlsaDeviceInfo *d = g_ptr_array_index(list, i);
		json_object *dev = json_object_new_object();

		json_object_object_add(dev, "name", json_object_new_string(d->name));
		json_object_object_add(dev, "description", json_object_new_string(d->description));
		json_object_object_add(dev, "direction",
				       json_object_new_string(d->capture && d->playback ? "both"
							      : d->capture		? "capture"
									   : "playback"));
		json_object_array_add(devices, dev);
	}
	json_object_object_add(o, "capture",
			       json_object_new_string(sp_media_engine_get_capture(media)));
	json_object_object_add(o, "playback",
			       json_object_new_string(sp_media_engine_get_playback(media)));
	json_object_object_add(o, "devices", devices);
	return o;
}

json_object *sp_calls_set_audio_devices(SpCalls *calls, const char *capture, const char *playback,
					GError **error)
{
	SpMediaEngine *media = sp_calls_get_media(calls);
	g_autoptr(GError) local = NULL;

	if (capture == NULL && playback == NULL) {
		g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS,
			    "Invalid params: give capture, playback or both");
		return NULL;
	}
	/* Both are checked before either changes: a bad name changes nothing. */
	if ((capture != NULL && !sp_alsa_probe(capture, TRUE, &local)) ||
	    (playback != NULL && !sp_alsa_probe(playback, FALSE, &local))) {
		g_set_error(error, SP_ERROR, SP_ERROR_INVALID_ARGS,
			    "Invalid params: no such audio device: %s", local->message);
		return NULL;
	}
	g_message("audio devices: capture \"%s\", playback \"%s\"",
		  capture != NULL ? capture : sp_media_engine_get_capture(media),
		  playback != NULL ? playback : sp_media_engine_get_playback(media));
	sp_media_engine_set_devices(media, capture, playback);
	return sp_calls_get_audio_devices(calls, error);
}
