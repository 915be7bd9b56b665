/* One SIP Server site: its NUA, registration, health probes and retry. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

/* daemon/sofia.h sets sofia's magic types: it comes before any other sofia header. */
#include "daemon/backoff.h"
#include "daemon/connection-policy.h"
#include "daemon/connection.h"
#include "daemon/phone-private.h"
#include "protocol/errors.h"

#include <sofia-sip/msg_header.h>
#include <sofia-sip/nta.h>

/*
 * How a connection behaves (SPEC §2):
 *
 * Registering: a REGISTER is on its way. If nothing final comes back within probe-timeout
 *   times probe-failures (a silent site), the connection is Failed with 408 and probed like
 *   an unreachable site; the REGISTER keeps going (sofia retransmits it) and is not repeated
 *   while it is on its way.
 * Ready: an OPTIONS probe every keepalive-interval (jittered to 50-100 %), each with its own
 *   probe-timeout watchdog (sofia's transaction timers are per NUA, 32 s by default). A failed
 *   probe is repeated at once; probe-failures in a row make the connection Failed. Any answer
 *   of the site counts as alive. sofia refreshes the registration by itself; a refresh that
 *   fails is handled like a failed REGISTER. A lost TCP/TLS connection makes sofia
 *   re-REGISTER at once, which fails fast (refused connection) when the site is dead.
 * Failed, unreachable (408, ICMP errors, transport errors): only OPTIONS probes, every
 *   down-probe-interval (jittered); the REGISTER goes out as soon as one is answered.
 * Failed, refused (the site answered 5xx or a 4xx other than auth): REGISTER again after
 *   retry-min doubling up to retry-max, jittered (RFC 5626 §4.5).
 * Failed, auth (401/407 after credentials, 403): REGISTER again every retry-max, jittered.
 *
 * One REGISTER handle serves the connection's whole life: sofia queues requests on a handle,
 * so a REGISTER can never overtake an un-REGISTER of the same binding (a fresh handle, with a
 * new Call-ID, could have its binding removed by a late un-REGISTER of the old one).
 *
 * Events: ConnectionStatusChanged on every change of status (a REGISTER retried from Failed
 * shows as Registering, then Ready or Failed again; probes change nothing while they fail),
 * and also when a Failed connection fails again with another code or reason (503 from the
 * site's address, then 503 "DNS: ..."), previousStatus being "Failed" then, so that the last
 * event always says why.
 *
 * Names (DNS). A server given as a host name is resolved asynchronously (GResolver: the
 * system's resolver, /etc/hosts included, in a GLib worker thread), never on the main loop:
 * before the first REGISTER and again before every probe while the site is unreachable, so a
 * site that moves to another address is followed at its next revival. A name is looked up
 * for plain A/AAAA records; a name without a port gets the transport's default port (5060,
 * 5061 for TLS): no RFC 3263 NAPTR/SRV lookups. Of the addresses, the first one the kernel
 * has a route to is used. The request goes to that address (maddr= in the proxy URI, so sofia
 * resolves nothing itself) while the name stays in the URI, for TLS certificate checks. A
 * name that does not resolve, or a lookup that takes longer than probe-timeout times
 * probe-failures, makes the site unreachable: Failed with 503 and a reason "DNS: ...",
 * probed (looked up) again on the down clock. At most one lookup per connection is on its
 * way: a slow one is waited for, not repeated.
 *
 * SIP stacks. The NUA is bound to the local address that reaches the site (chosen once the
 * site's address is known), so a revival that finds the site behind another local address
 * gets a new NUA bound to it. So does a revival of a TCP/TLS site that went silent: sofia
 * pins the registration to the TCP connection it came over, and would send the revival
 * REGISTER into that stalled connection, where it waits for the kernel's retransmission
 * back-off (seconds). The earlier NUA is retired: its REGISTER handle goes (sofia
 * un-REGISTERs its binding). One that no call ever used is shut down and freed at once; one
 * the calls had (they may still hold handles of it, which must outlive it) keeps running for
 * them until the connection is shut down. At most SP_MAX_RETIRED_STACKS of those are kept:
 * beyond that, the connection goes on with its current NUA (and the slower revival).
 *
 * Bindings across restarts. The Contact's line= parameter starts with a part derived from an
 * instance id kept in the state directory ($STATE_DIRECTORY, else
 * $XDG_STATE_HOME/softphoned) and the connection id, so the bindings a killed process left
 * at a site are recognised as ours: every 2xx to our REGISTER lists the AOR's bindings
 * (RFC 3261 10.3), and those with our stable part but another stack's part are removed at
 * once by a REGISTER that lists them with expires=0. That works with any RFC 3261 registrar
 * (it matches bindings by Contact URI), needs no port that may be taken after a restart,
 * and also removes what an earlier NUA of a running connection left. RFC 5626 +sip.instance
 * is not used: a registrar that matches on it would let the un-REGISTER of a retired NUA
 * remove the binding of its successor. The instance id file is locked while in use, so a
 * second daemon sharing the directory gets an id of its own and removes nothing of the
 * first's.
 */

/* sofia's default transaction lifetime (64 * T1). */
#define SP_SOFIA_T1X64_MS (64u * 500u)
/* Transaction lifetime while un-REGISTERing on Disable/Remove: a dead site may not hold us. */
#define SP_UNREGISTER_T1X64_MS 2000u
/* Beyond that lifetime (plus sofia's 1 s shutdown tick), the connection moves on anyway. */
#define SP_UNREGISTER_GRACE_MS 2000u
/* The Contact URI parameter that tells the connections' bindings apart. */
#define SP_LINE_PARAM "line"
/* Debian's CA directory, used when TLS verification is on and no ca-file is given. */
#define SP_SYSTEM_CA_DIR "/etc/ssl/certs"
/* TCP/TLS: connections nobody uses are closed after this long. */
#define SP_IDLE_CLOSE_MS 30000u
/* Lower bounds of the configured waits (a zero would spin). */
#define SP_MIN_WAIT_MS 100u
/* Lower bound of the transaction lifetime while the site is down. */
#define SP_DOWN_T1X64_MIN_MS 1000u
/* At most this many realms are answered in one challenge. */
#define SP_MAX_REALMS 4
/* Lower bound of the time a DNS lookup may take before the site counts as unreachable. */
#define SP_DNS_TIMEOUT_MIN_MS 1000u
/* Earlier SIP stacks kept for the calls on them (see above). */
#define SP_MAX_RETIRED_STACKS 4
/* The instance id file in the state directory. */
#define SP_INSTANCE_FILE "instance-id"

typedef enum {
	SP_TRANSPORT_NORMAL,
	SP_TRANSPORT_DOWN,
	SP_TRANSPORT_REVIVING,
} SpTransportMode;

typedef enum {
	SP_NEXT_NONE,
	SP_NEXT_PROBE,
	SP_NEXT_REGISTER,
} SpNextAttempt;

/* A DNS lookup on its way; outlives its connection when that goes first. */
typedef struct {
	SpConnection *c; /* NULL once the connection is gone */
	GCancellable *cancel;
} SpLookup;

/* An earlier SIP stack of the connection. */
typedef struct {
	nua_t *nua;
	gboolean lent; /* calls may hold handles of it: kept until the connection goes */
	gboolean shutdown_called;
	gboolean shutdown_final;
} SpRetiredStack;

struct _SpConnection {
	SpPhone *phone;
	SpConnectionConfig *config;

	/* What the NUA was made from. */
	char *host;		   /* the server's host, without brackets */
	char *port;		   /* the server's port, or the transport's default */
	gboolean port_given;	   /* the server came with a port */
	gboolean host_is_name;	   /* not an address literal: looked up before every attempt */
	char *server_address;	   /* what host resolved to last (host itself for a literal) */
	char *domain;		   /* registrar domain */
	char *aor;		   /* sip:user@domain */
	char *from;		   /* the From of every request: display name and aor */
	char *registrar;	   /* Request-URI of REGISTER and of the probes */
	char *proxy;		   /* the site, with its transport: every request goes there */
	char *bind_url;		   /* NUTAG_URL */
	char *local_address;	   /* the address the NUA is bound to */
	gboolean local_configured; /* local-address is set: never chosen by route */
	char *line_stable;	   /* the part of line= that survives restarts */
	char *line;		   /* value of the Contact's line= parameter (this stack's) */
	char *tls_dir;		   /* private directory holding cafile.pem for sofia, or NULL */
	unsigned t1x64_ms;	   /* the NUA's transaction lifetime in normal operation */
	guint full_lifetime_holds; /* answered calls waiting for their ACK (see below) */

	nua_t *nua;	    /* NULL until the site's name first resolved */
	gboolean nua_lent;  /* handed to the calls, which may hold handles of it */
	GPtrArray *retired; /* SpRetiredStack*: earlier NUAs, kept for calls on them */
	nua_t *dispatching; /* a retired NUA whose event is being delivered */
	guint reap_id;	    /* destroys retired NUAs that are shut down and not lent */
	nua_handle_t *reg_nh;
	nua_handle_t *probe_nh;
	nua_handle_t *cleanup_nh; /* removing stale bindings of ours */
	gboolean cleanup_credentials_sent;
	gboolean transport_suspect; /* TCP/TLS may be stalled: the next revival gets a new NUA */

	SpLookup *lookup;	    /* a DNS lookup on its way, or NULL */
	SpNextAttempt after_lookup; /* what waits for the lookup (NONE: nothing) */
	guint lookup_watchdog_id;

	SpConnectionStatus status;
	SpConnectionStatus previous;
	int code;
	char *reason;
	char *status_time;
	SpRegisterOutcome fail_mode; /* while Failed: why */
	guint backoff_attempt;
	guint probe_failures_in_row;
	guint expires_s; /* granted by the registrar, while Ready */

	gboolean reg_in_flight;	   /* a REGISTER of ours has no final answer yet */
	gboolean credentials_sent; /* for the REGISTER on its way */
	gboolean unreg_in_flight;
	gboolean unreg_credentials_sent;
	guint abandoned; /* challenges given up on: sofia answers each with a 9xx */
	gboolean probe_in_flight;
	SpTransportMode transport_mode;

	SpNextAttempt next;
	gint64 next_due_us;
	guint next_id;
	guint probe_watchdog_id;
	guint reg_watchdog_id;
	guint unreg_watchdog_id;
	guint remove_watchdog_id;
	guint nua_stop_id;

	gboolean removing;
	gboolean shutdown_started; /* un-REGISTER, then nua_shutdown() */
	gboolean nua_shutdown_called;
	gboolean shutdown_final; /* nua_r_shutdown >= 200 */

	/* Counters for GetConnections. */
	guint registrations;
	guint probes_sent;
	guint probes_failed;
	guint failures;
	char *last_ready_time;
};

static void connection_send_register(SpConnection *c);
static void connection_probe(SpConnection *c);
static void connection_find_site(SpConnection *c, SpNextAttempt after);
static void connection_schedule(SpConnection *c, SpNextAttempt next, guint delay_ms);
static void connection_drop_cleanup(SpConnection *c);
static gboolean connection_create_nua(SpConnection *c, GError **error);
static void connection_fail(SpConnection *c, SpRegisterOutcome why, int code, const char *reason);
static gboolean connection_wants_registration(SpConnection *c);
static void connection_set_transport(SpConnection *c, SpTransportMode mode);

/* ---- small helpers --------------------------------------------------------------------- */

static gboolean is_ipv6_literal(const char *host)
{
	return strchr(host, ':') != NULL;
}

/* host as it goes into a URI: IPv6 literals in brackets. */
static char *uri_host(const char *host)
{
	return is_ipv6_literal(host) ? g_strdup_printf("[%s]", host) : g_strdup(host);
}

static const char *default_port(SpTransport t)
{
	return t == SP_TRANSPORT_TLS ? "5061" : "5060";
}

static gint64 now_us(void)
{
	return g_get_monotonic_time();
}

/*
 * The local address the kernel would use to reach address:port (an address literal: nothing
 * is looked up, nothing blocks): a connected UDP socket sends nothing, and getsockname()
 * tells the source address of the route. One NUA bound to that address per site avoids the
 * multi-homed pitfall (a NUA bound to every address sends from the first one).
 */
static char *pick_local_address(const char *address, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char *found = NULL;

	if (getaddrinfo(address, port, &hints, &res) != 0)
		return NULL;
	for (struct addrinfo *ai = res; ai != NULL && found == NULL; ai = ai->ai_next) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		char buf[NI_MAXHOST];
		int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
		    getnameinfo((struct sockaddr *)&ss, len, buf, sizeof buf, NULL, 0,
				NI_NUMERICHOST) == 0) {
			/* A link-local IPv6 address carries a zone ("%eth0") a SIP URI cannot. */
			char *zone = strchr(buf, '%');

			if (zone != NULL)
				*zone = '\0';
			found = g_strdup(buf);
		}
		close(fd);
	}
	freeaddrinfo(res);
	return found;
}

/* A quoted-string's content, unescaped. */
static char *unquote(const char *s)
{
	GString *out = g_string_new(NULL);
	gsize len = strlen(s);

	if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
		for (gsize i = 1; i + 1 < len; i++) {
			if (s[i] == '\\' && i + 2 < len)
				i++;
			g_string_append_c(out, s[i]);
		}
	} else {
		g_string_append(out, s);
	}
	return g_string_free(out, FALSE);
}

static void secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	g_free(s);
}

/* ---- the instance id (bindings across restarts) ----------------------------------------- */

/* Shared by every connection of the process; the file stays locked while any exists. */
static struct {
	guint users;
	int fd;
	char *id;
} instance = {.fd = -1};

static char *state_directory(void)
{
	const char *systemd = g_getenv("STATE_DIRECTORY");

	if (systemd != NULL && systemd[0] != '\0') {
		/* StateDirectory= may list several, separated by colons: ours is the first. */
		const char *colon = strchr(systemd, ':');

		return colon != NULL ? g_strndup(systemd, colon - systemd) : g_strdup(systemd);
	}
	return g_build_filename(g_get_user_state_dir(), "softphoned", NULL);
}

/* The id in the locked file, a new one written there, or NULL (and why in *why). */
static char *instance_id_load(char **why)
{
	g_autofree char *dir = state_directory();
	g_autofree char *path = g_build_filename(dir, SP_INSTANCE_FILE, NULL);
	char buf[64] = {0};
	ssize_t n;
	int fd;

	if (g_mkdir_with_parents(dir, 0700) != 0) {
		*why = g_strdup_printf("%s: %s", dir, g_strerror(errno));
		return NULL;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		*why = g_strdup_printf("%s: %s", path, g_strerror(errno));
		return NULL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		/* Another live softphoned uses this directory (a dead one holds no lock). */
		*why = g_strdup_printf("%s is in use by another softphoned", path);
		close(fd);
		return NULL;
	}
	n = pread(fd, buf, sizeof buf - 1, 0);
	if (n > 0) {
		g_strstrip(buf);
		if (g_uuid_string_is_valid(buf)) {
			instance.fd = fd;
			return g_strdup(buf);
		}
	}
	{
		g_autofree char *id = g_uuid_string_random();
		g_autofree char *line = g_strdup_printf("%s\n", id);
		gsize len = strlen(line);

		if (ftruncate(fd, 0) != 0 || pwrite(fd, line, len, 0) != (ssize_t)len ||
		    fsync(fd) != 0) {
			*why = g_strdup_printf("%s: %s", path, g_strerror(errno));
			close(fd);
			return NULL;
		}
		instance.fd = fd;
		return g_steal_pointer(&id);
	}
}

/* The installation's instance id, kept across restarts when the state directory allows. */
static const char *instance_id_acquire(void)
{
	if (instance.users++ == 0) {
		g_autofree char *why = NULL;

		instance.id = instance_id_load(&why);
		if (instance.id == NULL) {
			g_message("no instance id kept (%s): bindings of a killed process are not "
				  "recognised after a restart",
				  why);
			instance.id = g_uuid_string_random();
		}
	}
	return instance.id;
}

static void instance_id_release(void)
{
	if (instance.users == 0 || --instance.users > 0)
		return;
	g_clear_pointer(&instance.id, g_free);
	if (instance.fd >= 0)
		close(instance.fd); /* and the lock goes with it */
	instance.fd = -1;
}

/* ---- status ---------------------------------------------------------------------------- */

static json_object *json_string_or_null(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

static json_object *connection_retry_json(SpConnection *c)
{
	gint64 left;

	if (c->status != SP_CONNECTION_FAILED)
		return NULL;
	if (c->next_id == 0)
		return json_object_new_int(0); /* a probe or REGISTER is on its way */
	left = (c->next_due_us - now_us()) / 1000;
	return json_object_new_int64(MAX(left, 0));
}

/* The fields of ConnectionStatusChanged, in the order of SPEC §2. */
static json_object *connection_event_json(SpConnection *c)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "connectionId", json_object_new_int64(c->config->id));
	json_object_object_add(o, "status",
			       json_object_new_string(sp_connection_status_to_string(c->status)));
	json_object_object_add(o, "previousStatus",
			       json_object_new_string(sp_connection_status_to_string(c->previous)));
	json_object_object_add(o, "user", json_object_new_string(c->config->user));
	json_object_object_add(o, "server", json_object_new_string(c->config->server));
	json_object_object_add(o, "protocol",
			       json_object_new_string(sp_transport_to_string(c->config->protocol)));
	json_object_object_add(o, "code", c->code > 0 ? json_object_new_int(c->code) : NULL);
	json_object_object_add(o, "reason", json_string_or_null(c->reason));
	json_object_object_add(o, "retryInMs", connection_retry_json(c));
	json_object_object_add(
	    o, "expiresInS",
	    c->status == SP_CONNECTION_READY ? json_object_new_int64(c->expires_s) : NULL);
	json_object_object_add(o, "time", json_string_or_null(c->status_time));
	return o;
}

/*
 * The one writer of a connection's status and the one emitter of ConnectionStatusChanged.
 * code 0 and a NULL reason are sent as null.
 */
static void connection_set_status(SpConnection *c, SpConnectionStatus status, int code,
				  const char *reason)
{
	gboolean changed =
	    status != c->status ||
	    (status == SP_CONNECTION_FAILED &&
	     (code != c->code || g_strcmp0(code > 0 ? reason : NULL, c->reason) != 0));
	g_autofree char *retry = NULL;
	g_autofree char *why = NULL;

	c->code = code;
	g_free(c->reason);
	c->reason = g_strdup(code > 0 ? reason : NULL);
	if (!changed)
		return;

	c->previous = c->status;
	c->status = status;
	g_free(c->status_time);
	c->status_time = sp_phone_timestamp();
	if (status == SP_CONNECTION_READY) {
		g_free(c->last_ready_time);
		c->last_ready_time = g_strdup(c->status_time);
	}
	if (status == SP_CONNECTION_FAILED && c->previous != SP_CONNECTION_FAILED)
		c->failures++;
	if (status != SP_CONNECTION_READY)
		c->expires_s = 0;

	if (status == SP_CONNECTION_FAILED && c->next_id != 0)
		retry = g_strdup_printf(", next %s in %" G_GINT64_FORMAT " ms",
					c->next == SP_NEXT_PROBE ? "probe" : "REGISTER",
					MAX((c->next_due_us - now_us()) / 1000, 0));
	if (code > 0)
		why = g_strdup_printf(" (%d %s)", code, reason != NULL ? reason : "");
	g_message("connection %u: %s -> %s%s%s", c->config->id,
		  sp_connection_status_to_string(c->previous),
		  sp_connection_status_to_string(status), why != NULL ? why : "",
		  retry != NULL ? retry : "");

	sp_phone_emit(c->phone, "ConnectionStatusChanged", connection_event_json(c));
	sp_phone_on_connection_status(c->phone, c);
}

/* ---- scheduling ------------------------------------------------------------------------ */

static gboolean on_next_attempt(gpointer data)
{
	SpConnection *c = data;
	SpNextAttempt next = c->next;

	c->next_id = 0;
	c->next = SP_NEXT_NONE;
	switch (next) {
	case SP_NEXT_PROBE:
		if (c->status == SP_CONNECTION_FAILED && c->fail_mode == SP_REGISTER_UNREACHABLE) {
			/*
			 * Revival probes are paced from their start, not from the last failure:
			 * one still waiting at the next tick (over TCP, a SYN the kernel would
			 * retransmit only seconds later) gives way to a new one, so a site that
			 * returns is seen within one interval. Where is the site now?
			 */
			connection_schedule(
			    c, SP_NEXT_PROBE,
			    sp_backoff_random_jitter_ms(
				NULL, MAX(c->config->down_probe_interval_ms, SP_MIN_WAIT_MS)));
			connection_find_site(c, SP_NEXT_PROBE);
		} else {
			connection_probe(c);
		}
		break;
	case SP_NEXT_REGISTER:
		connection_set_status(c, SP_CONNECTION_REGISTERING, 0, NULL);
		connection_send_register(c);
		break;
	case SP_NEXT_NONE:
		break;
	}
	return G_SOURCE_REMOVE;
}

static void connection_schedule(SpConnection *c, SpNextAttempt next, guint delay_ms)
{
	g_clear_handle_id(&c->next_id, g_source_remove);
	c->next = next;
	c->next_due_us = now_us() + (gint64)delay_ms * 1000;
	c->next_id = g_timeout_add(delay_ms, on_next_attempt, c);
}

/* The next probe of a Ready connection; a keepalive-interval of 0 turns the probes off. */
static void connection_schedule_keepalive(SpConnection *c)
{
	if (c->config->keepalive_interval_ms == 0) {
		g_clear_handle_id(&c->next_id, g_source_remove);
		c->next = SP_NEXT_NONE;
		return;
	}
	connection_schedule(c, SP_NEXT_PROBE,
			    sp_backoff_random_jitter_ms(NULL, c->config->keepalive_interval_ms));
}

static void connection_cancel_next(SpConnection *c)
{
	g_clear_handle_id(&c->next_id, g_source_remove);
	c->next = SP_NEXT_NONE;
}

/* Forgets the probe on its way; the handle goes with it, so its answer is never seen. */
static void connection_drop_probe(SpConnection *c)
{
	g_clear_handle_id(&c->probe_watchdog_id, g_source_remove);
	if (c->probe_nh != NULL) {
		nua_handle_destroy(c->probe_nh);
		c->probe_nh = NULL;
	}
	c->probe_in_flight = FALSE;
}

/* No timers, no probes: for Disable, Remove and shutdown. */
static void connection_stop_activity(SpConnection *c)
{
	connection_cancel_next(c);
	connection_drop_probe(c);
	connection_drop_cleanup(c);
	g_clear_handle_id(&c->reg_watchdog_id, g_source_remove);
	/* A lookup on its way finishes in its worker; nothing waits for it any more. */
	c->after_lookup = SP_NEXT_NONE;
	g_clear_handle_id(&c->lookup_watchdog_id, g_source_remove);
}

/*
 * The lifetime of the NUA's transactions while Ready. reg-timeout shortens it, for the REGISTER
 * and the probes; but it is also how long an answered call waits for its ACK (64 * T1, the
 * retransmissions of our 200), and SIP Server's 3pcc MakeCall withholds that ACK until the
 * dialled party answers, seconds later. So while an answered call waits for its ACK the
 * lifetime is at least sofia's default (a REGISTER sent meanwhile waits that long too). A call
 * on a retired stack keeps that stack's lifetime.
 */
static unsigned normal_t1x64(const SpConnection *c)
{
	return c->full_lifetime_holds > 0 ? MAX(c->t1x64_ms, SP_SOFIA_T1X64_MS) : c->t1x64_ms;
}

void sp_connection_hold_full_lifetime(SpConnection *c, gboolean hold)
{
	unsigned before = normal_t1x64(c);

	if (!hold && c->full_lifetime_holds == 0)
		return;
	c->full_lifetime_holds += hold ? 1 : -1;
	if (c->nua != NULL && c->transport_mode == SP_TRANSPORT_NORMAL && !c->shutdown_started &&
	    !c->unreg_in_flight && normal_t1x64(c) != before)
		nua_set_params(c->nua, NTATAG_SIP_T1X64(normal_t1x64(c)), TAG_END());
}

static void connection_set_t1x64(SpConnection *c, unsigned ms)
{
	if (c->nua != NULL)
		nua_set_params(c->nua, NTATAG_SIP_T1X64(ms), TAG_END());
}

/*
 * The NUA's transport settings follow what is known of the site.
 *
 * sofia sends every request over the open TCP/TLS connection to the site. A silently dead
 * site leaves that connection stalled: the kernel retransmits with an ever longer back-off
 * (up to minutes), so a revived site would be seen that late. So, for TCP/TLS:
 * - at creation: CRLF pings on connections idle for twice the keepalive interval, closed when
 *   no pong comes within probe-timeout. A Ready connection is never idle that long (the
 *   probes), so servers that do not answer pings are not affected; a stalled connection,
 *   idle once the probes go elsewhere, is closed, and sofia lets go of it.
 * - DOWN (unreachable): no connection reuse, so that every probe gets a fresh SYN, answered as
 *   soon as the site is back, and none goes into the stalled connection. The REGISTER of the
 *   revival does reuse (sofia sends every refresh over the registration's connection, and a
 *   connection made while reuse is off fails them), so it goes over the old connection if
 *   that is still open: after a short outage (less than about 2 keepalive intervals) it may
 *   wait there until the kernel retransmits, bounded by the short lifetime below.
 * And for every transport, while DOWN or REVIVING (a probe was answered, the REGISTER is on
 * its way) a short transaction lifetime, so that requests stuck on the dead site (sofia's own
 * re-REGISTER after a lost connection, a REGISTER that had no answer) are over soon instead
 * of holding up the REGISTER of the revival, which sofia queues behind them on the handle.
 * The lifetime goes back to normal once Ready (restoring it earlier would lengthen the stuck
 * requests again). Connections left over by the probes close when idle (TPTAG_IDLE).
 */
static void connection_set_transport(SpConnection *c, SpTransportMode mode)
{
	gboolean stream = c->config->protocol != SP_TRANSPORT_UDP;
	unsigned t1x64 = normal_t1x64(c);

	if (c->transport_mode == mode || c->nua == NULL || c->shutdown_started)
		return;
	if (mode != SP_TRANSPORT_NORMAL)
		t1x64 = MAX(c->config->probe_timeout_ms * MAX(c->config->probe_failures, 1u),
			    SP_DOWN_T1X64_MIN_MS);
	nua_set_params(c->nua, NTATAG_SIP_T1X64(t1x64),
		       TAG_IF(stream, TPTAG_REUSE(mode != SP_TRANSPORT_DOWN)), TAG_END());
	c->transport_mode = mode;
	g_debug("connection %u: transport %s", c->config->id,
		mode == SP_TRANSPORT_DOWN	? "down"
		: mode == SP_TRANSPORT_REVIVING ? "reviving"
						: "normal");
}

/* ---- failure and success --------------------------------------------------------------- */

static gboolean connection_wants_registration(SpConnection *c)
{
	if (c->removing || c->shutdown_started)
		return FALSE;
	return c->status == SP_CONNECTION_REGISTERING || c->status == SP_CONNECTION_READY ||
	       c->status == SP_CONNECTION_FAILED;
}

static void connection_fail(SpConnection *c, SpRegisterOutcome why, int code, const char *reason)
{
	const SpConnectionConfig *cfg = c->config;
	guint delay = 0;

	g_clear_handle_id(&c->reg_watchdog_id, g_source_remove);
	if (why == SP_REGISTER_UNREACHABLE && c->status == SP_CONNECTION_FAILED &&
	    c->fail_mode == SP_REGISTER_UNREACHABLE && (c->next_id != 0 || c->probe_in_flight)) {
		/* Already probing: keep the schedule, only the code may be news. */
		connection_set_status(c, SP_CONNECTION_FAILED, code, reason);
		return;
	}

	connection_drop_probe(c);
	c->probe_failures_in_row = 0;
	c->fail_mode = why;
	switch (why) {
	case SP_REGISTER_UNREACHABLE:
		/* While down, probes go on fresh connections that nothing reuses: only a
		 * failure from a live state may leave a stalled connection behind. */
		if (c->nua != NULL && c->transport_mode != SP_TRANSPORT_DOWN &&
		    sp_failure_may_stall_transport(cfg->protocol != SP_TRANSPORT_UDP, code))
			c->transport_suspect = TRUE;
		connection_set_transport(c, SP_TRANSPORT_DOWN);
		delay = sp_backoff_random_jitter_ms(
		    NULL, MAX(cfg->down_probe_interval_ms, SP_MIN_WAIT_MS));
		connection_schedule(c, SP_NEXT_PROBE, delay);
		break;
	case SP_REGISTER_REFUSED:
		connection_set_transport(c, SP_TRANSPORT_NORMAL);
		delay = sp_backoff_random_delay_ms(NULL, MAX(cfg->retry_min_ms, SP_MIN_WAIT_MS),
						   cfg->retry_max_ms, c->backoff_attempt);
		if (c->backoff_attempt < G_MAXUINT)
			c->backoff_attempt++;
		connection_schedule(c, SP_NEXT_REGISTER, delay);
		break;
	case SP_REGISTER_AUTH_FAILED:
	case SP_REGISTER_OK:
	case SP_REGISTER_CHALLENGED:
		connection_set_transport(c, SP_TRANSPORT_NORMAL);
		delay = sp_backoff_random_jitter_ms(
		    NULL, MAX(MAX(cfg->retry_max_ms, cfg->retry_min_ms), SP_MIN_WAIT_MS));
		connection_schedule(c, SP_NEXT_REGISTER, delay);
		break;
	}
	g_info("connection %u: %s (%d %s), next %s in %u ms", cfg->id,
	       sp_register_outcome_to_string(why), code, reason ? reason : "",
	       c->next == SP_NEXT_PROBE ? "probe" : "REGISTER", delay);
	connection_set_status(c, SP_CONNECTION_FAILED, code, reason);
}

/* The expiry the registrar granted to our binding (the Contact with our line= parameter). */
static guint connection_granted_expires(SpConnection *c, sip_t const *sip)
{
	char value[64];

	for (sip_contact_t const *m = sip != NULL ? sip->sip_contact : NULL; m != NULL;
	     m = m->m_next) {
		if (m->m_url->url_params == NULL ||
		    url_param(m->m_url->url_params, SP_LINE_PARAM, value, sizeof value) == 0 ||
		    strcmp(value, c->line) != 0)
			continue;
		if (m->m_expires != NULL)
			return (guint)g_ascii_strtoull(m->m_expires, NULL, 10);
		break;
	}
	if (sip != NULL && sip->sip_expires != NULL)
		return (guint)sip->sip_expires->ex_delta;
	return c->config->reregister_in_seconds;
}

/*
 * Bindings of ours that are not the current one (RFC 3261 10.3: a 2xx lists every binding of
 * the AOR): left by a process that was killed, or by an earlier NUA of this connection. One
 * REGISTER lists them all with expires=0; one at a time, the next 2xx lists what is left.
 */
static void connection_remove_stale(SpConnection *c, sip_t const *sip)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	GString *contacts = g_string_new(NULL);
	char value[64];

	for (sip_contact_t const *m = sip != NULL ? sip->sip_contact : NULL; m != NULL;
	     m = m->m_next) {
		char *uri;

		if (m->m_url->url_params == NULL ||
		    url_param(m->m_url->url_params, SP_LINE_PARAM, value, sizeof value) == 0 ||
		    !sp_line_is_stale(value, c->line_stable, c->line))
			continue;
		uri = url_as_string(home, m->m_url);
		if (uri == NULL)
			continue;
		g_string_append_printf(contacts, "%s<%s>;expires=0", contacts->len > 0 ? ", " : "",
				       uri);
	}
	if (contacts->len > 0 && c->cleanup_nh == NULL && c->nua != NULL) {
		g_message("connection %u: removing stale bindings of ours: %s", c->config->id,
			  contacts->str);
		c->cleanup_nh = nua_handle(c->nua, NULL, SIPTAG_TO_STR(c->aor), TAG_END());
		c->cleanup_credentials_sent = FALSE;
		nua_register(c->cleanup_nh, SIPTAG_CONTACT_STR(contacts->str),
			     SIPTAG_EXPIRES_STR("0"), TAG_END());
	}
	g_string_free(contacts, TRUE);
	su_home_deinit(home);
}

static void connection_drop_cleanup(SpConnection *c)
{
	if (c->cleanup_nh != NULL) {
		nua_handle_destroy(c->cleanup_nh);
		c->cleanup_nh = NULL;
	}
}

static void connection_on_registered(SpConnection *c, int status, const char *phrase,
				     sip_t const *sip)
{
	c->registrations++;
	c->backoff_attempt = 0;
	c->probe_failures_in_row = 0;
	c->credentials_sent = FALSE;
	c->transport_suspect = FALSE;
	c->expires_s = connection_granted_expires(c, sip);
	connection_remove_stale(c, sip);
	if (c->status == SP_CONNECTION_READY) {
		g_debug("connection %u: registration refreshed, expires in %u s", c->config->id,
			c->expires_s);
		return;
	}
	connection_drop_probe(c);
	connection_set_transport(c, SP_TRANSPORT_NORMAL);
	connection_schedule_keepalive(c);
	connection_set_status(c, SP_CONNECTION_READY, status, phrase);
}

/* ---- digest authentication ------------------------------------------------------------- */

static void add_credentials(SpConnection *c, GPtrArray *creds, msg_auth_t const *au)
{
	const char *user = c->config->auth_user != NULL ? c->config->auth_user : c->config->user;
	const char *realm;
	g_autofree char *quoted = NULL;
	g_autofree char *plain = NULL;
	char *a1;
	char *ha1;

	if (au->au_scheme == NULL || g_ascii_strcasecmp(au->au_scheme, "Digest") != 0)
		return;
	realm = msg_params_find(au->au_params, "realm=");
	if (realm == NULL)
		return;
	plain = unquote(realm);
	quoted = realm[0] == '"' ? g_strdup(realm) : sp_sip_quote(realm);
	if (quoted == NULL)
		quoted = g_strdup("\"\"");
	for (guint i = 0; i < creds->len; i++) {
		if (strstr(g_ptr_array_index(creds, i), quoted) != NULL)
			return;
	}
	/* The hash of user:realm:password (HA1) lets any password through, colons included,
	 * and keeps the plain secret out of the SIP stack. */
	a1 = g_strdup_printf("%s:%s:%s", user, plain, c->config->password);
	ha1 = g_compute_checksum_for_string(G_CHECKSUM_MD5, a1, -1);
	secret_free(a1);
	g_ptr_array_add(creds, g_strdup_printf("HA1+Digest:%s:%s:HA1+%s", quoted, user, ha1));
	secret_free(ha1);
}

/* Answers 401/407 with credentials for every realm challenged; FALSE if there are none. */
static gboolean connection_answer_challenge(SpConnection *c, nua_handle_t *nh, sip_t const *sip)
{
	const char *user = c->config->auth_user != NULL ? c->config->auth_user : c->config->user;
	GPtrArray *creds;
	tagi_t tags[2 * SP_MAX_REALMS + 1];
	guint n;

	if (sip == NULL || c->config->password == NULL || strchr(user, ':') != NULL)
		return FALSE;
	creds = g_ptr_array_new_with_free_func((GDestroyNotify)secret_free);
	for (msg_auth_t const *au = sip->sip_www_authenticate; au != NULL; au = au->au_next)
		add_credentials(c, creds, au);
	for (msg_auth_t const *au = sip->sip_proxy_authenticate; au != NULL; au = au->au_next)
		add_credentials(c, creds, au);
	n = MIN(creds->len, SP_MAX_REALMS);
	for (guint i = 0; i < n; i++) {
		/*
		 * sofia ignores credentials equal to the ones it dropped after a rejection (its
		 * auth client keeps them, marked cleared), so the retry of a rejected password
		 * would end in "904 no matching challenge". A placeholder given first makes the
		 * real credentials new again.
		 */
		const char *real = g_ptr_array_index(creds, i);
		const char *hash = strrchr(real, ':');

		g_ptr_array_add(creds, g_strdup_printf("%.*s:HA1+-", (int)(hash - real), real));
		tags[2 * i].t_tag = nutag_auth;
		tags[2 * i].t_value = (tag_value_t)g_ptr_array_index(creds, creds->len - 1);
		tags[2 * i + 1].t_tag = nutag_auth;
		tags[2 * i + 1].t_value = (tag_value_t)real;
	}
	tags[2 * n].t_tag = NULL;
	tags[2 * n].t_value = 0;
	if (n > 0)
		nua_authenticate(nh, TAG_NEXT(tags));
	g_ptr_array_unref(creds);
	return n > 0;
}

/*
 * A request of ours waits for credentials that will not come: sofia keeps it pending (and the
 * handle's queue blocked) until it gets them. Authenticating with nothing ends it with 904.
 */
static void connection_abandon_challenge(SpConnection *c, nua_handle_t *nh)
{
	c->abandoned++;
	nua_authenticate(nh, TAG_END());
}

/* ---- finding the site (DNS) and its SIP stack --------------------------------------- */

/* The proxy URI: the site by name, with the address it resolved to as maddr. */
static void connection_make_proxy(SpConnection *c)
{
	const char *tp = sp_transport_to_string(c->config->protocol);
	gboolean tls = c->config->protocol == SP_TRANSPORT_TLS;
	g_autofree char *host = uri_host(c->host);
	g_autofree char *maddr = NULL;
	g_autofree char *hostport = NULL;

	if (c->host_is_name && c->server_address != NULL)
		maddr = uri_host(c->server_address);
	hostport = c->host_is_name || c->port_given ? g_strdup_printf("%s:%s", host, c->port)
						    : g_strdup(host);
	g_free(c->proxy);
	if (tls)
		c->proxy = g_strdup_printf("sips:%s%s%s", hostport, maddr ? ";maddr=" : "",
					   maddr ? maddr : "");
	else
		c->proxy = g_strdup_printf("sip:%s;transport=%s%s%s", hostport, tp,
					   maddr ? ";maddr=" : "", maddr ? maddr : "");
}

static void connection_make_bind_url(SpConnection *c)
{
	const char *tp = sp_transport_to_string(c->config->protocol);
	g_autofree char *local =
	    c->local_address[0] == '[' ? g_strdup(c->local_address) : uri_host(c->local_address);

	const char *pub = c->config->public_address;
	g_autofree char *host = NULL;
	g_autofree char *maddr = NULL;

	/* public-address: sofia binds the maddr and puts the URL's host in Contact and Via. */
	if (pub != NULL && pub[0] != '\0') {
		host = uri_host(pub);
		maddr = g_strdup_printf(";maddr=%s", local);
	} else {
		host = g_strdup(local);
		maddr = g_strdup("");
	}
	g_free(c->bind_url);
	if (c->config->protocol == SP_TRANSPORT_TLS)
		c->bind_url = g_strdup_printf("sips:%s:*%s;transport=tls", host, maddr);
	else
		c->bind_url = g_strdup_printf("sip:%s:*%s;transport=%s", host, maddr, tp);
}

static SpRetiredStack *connection_find_retired(SpConnection *c, nua_t *nua)
{
	for (guint i = 0; c->retired != NULL && i < c->retired->len; i++) {
		SpRetiredStack *r = g_ptr_array_index(c->retired, i);

		if (r->nua == nua)
			return r;
	}
	return NULL;
}

static guint connection_count_lent_retired(SpConnection *c)
{
	guint n = 0;

	for (guint i = 0; i < c->retired->len; i++)
		n += ((SpRetiredStack *)g_ptr_array_index(c->retired, i))->lent ? 1 : 0;
	return n;
}

/* Retired NUAs that finished shutting down and that no call can hold a handle of. */
static gboolean on_reap_retired(gpointer data)
{
	SpConnection *c = data;

	c->reap_id = 0;
	for (guint i = 0; i < c->retired->len;) {
		SpRetiredStack *r = g_ptr_array_index(c->retired, i);

		if (r->shutdown_final && !r->lent) {
			g_ptr_array_remove_index(c->retired, i);
			nua_destroy(r->nua);
			g_free(r);
		} else {
			i++;
		}
	}
	return G_SOURCE_REMOVE;
}

/*
 * A new NUA bound to local for the connection (see "SIP stacks" at the top); the current one
 * is retired. FALSE when it cannot be done: then the current NUA stays, told of the proxy.
 */
static gboolean connection_renew_nua(SpConnection *c, const char *local, const char *why)
{
	g_autoptr(GError) error = NULL;
	SpRetiredStack *r;
	nua_t *old = c->nua;
	nua_handle_t *old_reg = c->reg_nh;
	char *old_local = c->local_address;
	char *old_bind = c->bind_url;
	char *old_line = c->line;

	if (connection_count_lent_retired(c) >= SP_MAX_RETIRED_STACKS) {
		g_message("connection %u: %s, but %u earlier SIP stacks are still kept for calls: "
			  "keeping this one",
			  c->config->id, why, SP_MAX_RETIRED_STACKS);
		nua_set_params(c->nua, NUTAG_PROXY(URL_STRING_MAKE(c->proxy)), TAG_END());
		return FALSE;
	}
	connection_drop_probe(c);
	connection_drop_cleanup(c);
	c->local_address = g_strdup(local);
	c->bind_url = NULL;
	c->line = NULL;
	connection_make_bind_url(c);
	c->nua = NULL;
	c->reg_nh = NULL;
	if (!connection_create_nua(c, &error)) {
		g_message("connection %u: %s, but no new SIP stack: %s", c->config->id, why,
			  error->message);
		g_free(c->local_address);
		g_free(c->bind_url);
		g_free(c->line);
		c->local_address = old_local;
		c->bind_url = old_bind;
		c->line = old_line;
		c->nua = old;
		c->reg_nh = old_reg;
		nua_set_params(c->nua, NUTAG_PROXY(URL_STRING_MAKE(c->proxy)), TAG_END());
		return FALSE;
	}
	g_message("connection %u: %s: new SIP stack bound to %s", c->config->id, why, c->bind_url);
	g_free(old_local);
	g_free(old_bind);
	g_free(old_line);

	/* Its probe and cleanup handles go; the REGISTER handle too: sofia stops refreshing
	 * and un-REGISTERs that binding (the new stack's first 2xx lists it if it stays). */
	r = g_new0(SpRetiredStack, 1);
	r->nua = old;
	r->lent = c->nua_lent;
	g_ptr_array_add(c->retired, r);
	nua_handle_destroy(old_reg);
	c->nua_lent = FALSE;
	c->reg_in_flight = FALSE;
	c->credentials_sent = FALSE;
	c->abandoned = 0;
	c->transport_suspect = FALSE;
	if (!r->lent) {
		/* No call ever had it: it goes as soon as it has shut down. */
		r->shutdown_called = TRUE;
		nua_shutdown(old);
	}
	if (c->status == SP_CONNECTION_FAILED && c->fail_mode == SP_REGISTER_UNREACHABLE)
		connection_set_transport(c, SP_TRANSPORT_DOWN);
	return TRUE;
}

/* The site is at address (an address literal) now: the NUA follows, then after is done. */
static void connection_use_address(SpConnection *c, SpNextAttempt after, const char *address)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *picked = NULL;
	gboolean moved = g_strcmp0(address, c->server_address) != 0;
	gboolean known = c->server_address != NULL;
	const char *local = c->local_address;

	if (!c->local_configured) {
		picked = pick_local_address(address, c->port);
		if (picked != NULL)
			local = picked;
		else if (local == NULL)
			local = "0.0.0.0"; /* no route (yet): every IPv4 address */
	}
	g_free(c->server_address);
	c->server_address = g_strdup(address);
	connection_make_proxy(c);
	if (moved && known)
		g_message("connection %u: %s is at %s now", c->config->id, c->host, address);

	if (c->nua == NULL) {
		if (local != c->local_address) {
			char *copy = g_strdup(local);

			g_free(c->local_address);
			c->local_address = copy;
		}
		connection_make_bind_url(c);
		if (!connection_create_nua(c, &error)) {
			g_warning("%s", error->message);
			connection_fail(c, SP_REGISTER_UNREACHABLE, 503, "cannot start SIP");
			return;
		}
	} else if (g_strcmp0(local, c->local_address) != 0) {
		g_autofree char *why = g_strdup_printf("%s is reached from %s now", address, local);

		connection_renew_nua(c, local, why);
	} else if (after == SP_NEXT_PROBE && c->transport_suspect) {
		connection_renew_nua(c, local, "its TCP/TLS connection may be stalled");
	} else if (moved) {
		nua_set_params(c->nua, NUTAG_PROXY(URL_STRING_MAKE(c->proxy)), TAG_END());
	}

	switch (after) {
	case SP_NEXT_PROBE:
		connection_probe(c);
		break;
	case SP_NEXT_REGISTER:
		connection_send_register(c);
		break;
	case SP_NEXT_NONE:
		break;
	}
}

static void connection_lookup_done(SpConnection *c, GList *addresses, GError *error)
{
	SpNextAttempt after = c->after_lookup;
	g_autofree char *reason = NULL;

	g_clear_handle_id(&c->lookup_watchdog_id, g_source_remove);
	c->after_lookup = SP_NEXT_NONE;
	if (after == SP_NEXT_NONE || !connection_wants_registration(c))
		return; /* it came too late, or the connection has stopped */
	if (error != NULL) {
		g_info("connection %u: %s", c->config->id, error->message);
		reason = g_strdup_printf("DNS: %s", error->message);
		connection_fail(c, SP_REGISTER_UNREACHABLE, 503, reason);
		return;
	}
	for (GList *l = addresses; l != NULL; l = l->next) {
		g_autofree char *address = g_inet_address_to_string(l->data);
		g_autofree char *local = NULL;

		/* The first address there is a route to (or of the configured address's family). */
		if (c->local_configured) {
			if (is_ipv6_literal(address) != is_ipv6_literal(c->local_address))
				continue;
		} else if ((local = pick_local_address(address, c->port)) == NULL) {
			continue;
		}
		g_debug("connection %u: %s is %s", c->config->id, c->host, address);
		connection_use_address(c, after, address);
		return;
	}
	reason = g_strdup_printf("DNS: no usable address for %s", c->host);
	connection_fail(c, SP_REGISTER_UNREACHABLE, 503, reason);
}

static void on_lookup(GObject *source, GAsyncResult *result, gpointer data)
{
	SpLookup *lookup = data;
	g_autoptr(GError) error = NULL;
	GList *addresses = g_resolver_lookup_by_name_finish(G_RESOLVER(source), result, &error);

	if (lookup->c != NULL) {
		lookup->c->lookup = NULL;
		connection_lookup_done(lookup->c, addresses, error);
	}
	g_resolver_free_addresses(addresses);
	g_object_unref(lookup->cancel);
	g_free(lookup);
}

static gboolean on_lookup_watchdog(gpointer data)
{
	SpConnection *c = data;
	SpNextAttempt after = c->after_lookup;

	c->lookup_watchdog_id = 0;
	c->after_lookup = SP_NEXT_NONE;
	g_info("connection %u: no answer from DNS for %s in time", c->config->id, c->host);
	/* The lookup goes on in its worker; the next attempt waits for it, not for another. */
	if (after != SP_NEXT_NONE && connection_wants_registration(c))
		connection_fail(c, SP_REGISTER_UNREACHABLE, 503, "DNS: no answer in time");
	return G_SOURCE_REMOVE;
}

/* Where the site is now (a lookup for a name), then after (a probe or the REGISTER). */
static void connection_find_site(SpConnection *c, SpNextAttempt after)
{
	if (!c->host_is_name) {
		connection_use_address(c, after, c->host);
		return;
	}
	c->after_lookup = after;
	if (c->lookup == NULL) {
		g_autoptr(GResolver) resolver = g_resolver_get_default();

		c->lookup = g_new0(SpLookup, 1);
		c->lookup->c = c;
		c->lookup->cancel = g_cancellable_new();
		g_resolver_lookup_by_name_async(resolver, c->host, c->lookup->cancel, on_lookup,
						c->lookup);
	}
	if (c->lookup_watchdog_id == 0) {
		guint ms = c->config->probe_timeout_ms * MAX(c->config->probe_failures, 1u);

		c->lookup_watchdog_id =
		    g_timeout_add(MAX(ms, SP_DNS_TIMEOUT_MIN_MS), on_lookup_watchdog, c);
	}
}

/* ---- REGISTER -------------------------------------------------------------------------- */

static gboolean on_register_watchdog(gpointer data)
{
	SpConnection *c = data;

	c->reg_watchdog_id = 0;
	g_info("connection %u: no answer to REGISTER", c->config->id);
	/* The REGISTER stays on its way: it is answered if the site comes back. */
	connection_fail(c, SP_REGISTER_UNREACHABLE, 408, "Request Timeout");
	return G_SOURCE_REMOVE;
}

static void connection_arm_register_watchdog(SpConnection *c)
{
	guint ms = c->config->probe_timeout_ms * MAX(c->config->probe_failures, 1u);

	g_clear_handle_id(&c->reg_watchdog_id, g_source_remove);
	c->reg_watchdog_id = g_timeout_add(MAX(ms, 1u), on_register_watchdog, c);
}

static void connection_send_register(SpConnection *c)
{
	g_autofree char *expires = NULL;

	if (c->nua == NULL) {
		/* The site's name never resolved: look it up first. */
		connection_find_site(c, SP_NEXT_REGISTER);
		return;
	}
	if (c->reg_in_flight) {
		/* Its answer decides; a second one would only queue behind it. */
		connection_arm_register_watchdog(c);
		return;
	}
	expires = g_strdup_printf("%u", c->config->reregister_in_seconds);
	c->reg_in_flight = TRUE;
	c->credentials_sent = FALSE;
	nua_register(c->reg_nh, SIPTAG_EXPIRES_STR(expires), TAG_END());
	connection_arm_register_watchdog(c);
	g_debug("connection %u: REGISTER %s via %s", c->config->id, c->registrar, c->proxy);
}

static void connection_on_register(SpConnection *c, int status, const char *phrase,
				   nua_handle_t *nh, sip_t const *sip)
{
	gboolean local = nta_sip_is_internal(sip);
	SpRegisterOutcome outcome;

	if (status < 200)
		return;
	if (status >= 900 && c->abandoned > 0) {
		/* sofia's end of a request we gave up on. */
		c->abandoned--;
		c->reg_in_flight = FALSE;
		return;
	}
	g_debug("connection %u: REGISTER answered %d %s%s", c->config->id, status,
		phrase ? phrase : "", local ? " (local)" : "");

	if (!connection_wants_registration(c)) {
		/* On its way when the connection was disabled; sofia's own refresh failing after
		 * a Disable lands here too. */
		if ((status == 401 || status == 407) && !local)
			connection_abandon_challenge(c, nh);
		else
			c->reg_in_flight = FALSE;
		return;
	}

	outcome = sp_register_outcome(status, local, c->credentials_sent);
	if (outcome == SP_REGISTER_CHALLENGED) {
		if (connection_answer_challenge(c, nh, sip)) {
			c->credentials_sent = TRUE;
			c->reg_in_flight = TRUE;
			connection_arm_register_watchdog(c);
			return;
		}
		outcome = SP_REGISTER_AUTH_FAILED;
	}
	if ((status == 401 || status == 407) && !local)
		connection_abandon_challenge(c, nh); /* reg_in_flight until its 9xx */
	else
		c->reg_in_flight = FALSE;
	c->credentials_sent = FALSE;
	g_clear_handle_id(&c->reg_watchdog_id, g_source_remove);

	if (outcome == SP_REGISTER_OK)
		connection_on_registered(c, status, phrase, sip);
	else
		connection_fail(c, outcome, status, phrase);
}

/* The REGISTER that removes stale bindings: answered, challenged once, or given up. */
static void connection_on_cleanup(SpConnection *c, int status, nua_handle_t *nh, sip_t const *sip)
{
	if (status < 200)
		return;
	if ((status == 401 || status == 407) && !nta_sip_is_internal(sip) &&
	    !c->cleanup_credentials_sent && connection_answer_challenge(c, nh, sip)) {
		c->cleanup_credentials_sent = TRUE;
		return;
	}
	g_debug("connection %u: stale bindings: %d", c->config->id, status);
	connection_drop_cleanup(c);
}

/* ---- un-REGISTER (Disable) ------------------------------------------------------------- */

static void connection_stop_nua(SpConnection *c)
{
	g_clear_handle_id(&c->nua_stop_id, g_source_remove);
	for (guint i = 0; i < c->retired->len; i++) {
		SpRetiredStack *r = g_ptr_array_index(c->retired, i);

		if (!r->shutdown_called) {
			r->shutdown_called = TRUE;
			nua_shutdown(r->nua);
		}
	}
	if (c->nua_shutdown_called || c->nua == NULL)
		return;
	c->nua_shutdown_called = TRUE;
	/* Ends what is left on every handle; only nua_r_shutdown is reported from now on. */
	nua_shutdown(c->nua);
}

static void connection_unregistered(SpConnection *c)
{
	g_clear_handle_id(&c->unreg_watchdog_id, g_source_remove);
	if (c->shutdown_started) {
		connection_stop_nua(c);
		return;
	}
	if (c->removing || c->status != SP_CONNECTION_UNREGISTERING)
		return;
	connection_set_t1x64(c, normal_t1x64(c));
	connection_set_status(c, SP_CONNECTION_DISABLED, 0, NULL);
}

static gboolean on_unregister_watchdog(gpointer data)
{
	SpConnection *c = data;

	c->unreg_watchdog_id = 0;
	g_info("connection %u: un-REGISTER unanswered; disabled anyway", c->config->id);
	connection_unregistered(c);
	return G_SOURCE_REMOVE;
}

static void connection_on_unregister(SpConnection *c, int status, const char *phrase,
				     nua_handle_t *nh, sip_t const *sip)
{
	gboolean local = nta_sip_is_internal(sip);

	if (status < 200)
		return;
	if (status >= 900 && c->abandoned > 0) {
		c->abandoned--;
		c->unreg_in_flight = FALSE;
		connection_unregistered(c);
		return;
	}
	g_debug("connection %u: un-REGISTER answered %d %s%s", c->config->id, status,
		phrase ? phrase : "", local ? " (local)" : "");
	if ((status == 401 || status == 407) && !local) {
		if (c->unreg_in_flight && !c->unreg_credentials_sent &&
		    connection_answer_challenge(c, nh, sip)) {
			c->unreg_credentials_sent = TRUE;
			return;
		}
		/* Also sofia's own un-REGISTER after a failed refresh: nobody waits for it. */
		connection_abandon_challenge(c, nh);
		return;
	}
	if (!c->unreg_in_flight)
		return; /* sofia un-REGISTERs by itself after some failed refreshes */
	c->unreg_in_flight = FALSE;
	connection_unregistered(c);
}

static void connection_send_unregister(SpConnection *c)
{
	connection_set_t1x64(c, SP_UNREGISTER_T1X64_MS);
	c->unreg_in_flight = TRUE;
	c->unreg_credentials_sent = FALSE;
	nua_unregister(c->reg_nh, TAG_END());
	g_clear_handle_id(&c->unreg_watchdog_id, g_source_remove);
	c->unreg_watchdog_id = g_timeout_add(SP_UNREGISTER_T1X64_MS + SP_UNREGISTER_GRACE_MS,
					     on_unregister_watchdog, c);
}

/* ---- OPTIONS probes -------------------------------------------------------------------- */

static void connection_on_probe_result(SpConnection *c, gboolean failed, int status,
				       const char *phrase)
{
	const SpConnectionConfig *cfg = c->config;

	if (failed)
		c->probes_failed++;
	g_debug("connection %u: probe %s (%d %s)", cfg->id, failed ? "failed" : "answered", status,
		phrase ? phrase : "");

	switch (c->status) {
	case SP_CONNECTION_READY:
		if (!failed) {
			c->probe_failures_in_row = 0;
			connection_schedule_keepalive(c);
		} else if (++c->probe_failures_in_row >= MAX(cfg->probe_failures, 1u)) {
			connection_fail(c, SP_REGISTER_UNREACHABLE, status, phrase);
		} else {
			connection_probe(c); /* at once */
		}
		break;
	case SP_CONNECTION_FAILED:
		if (failed) {
			/* Also ends a refused/auth back-off: the site is not there any more. */
			connection_fail(c, SP_REGISTER_UNREACHABLE, status, phrase);
		} else if (c->fail_mode == SP_REGISTER_UNREACHABLE) {
			connection_cancel_next(c);
			connection_set_transport(c, SP_TRANSPORT_REVIVING);
			connection_set_status(c, SP_CONNECTION_REGISTERING, 0, NULL);
			connection_send_register(c);
		}
		/* Refused or auth: the site is there, the REGISTER back-off goes on. */
		break;
	case SP_CONNECTION_DISABLED:
	case SP_CONNECTION_REGISTERING:
	case SP_CONNECTION_UNREGISTERING:
	case SP_CONNECTION_REMOVED:
		break;
	}
}

static gboolean on_probe_watchdog(gpointer data)
{
	SpConnection *c = data;

	c->probe_watchdog_id = 0;
	connection_drop_probe(c);
	connection_on_probe_result(c, TRUE, 408, "Request Timeout");
	return G_SOURCE_REMOVE;
}

static void connection_probe(SpConnection *c)
{
	if (c->probe_in_flight && c->status == SP_CONNECTION_FAILED &&
	    c->fail_mode == SP_REGISTER_UNREACHABLE && c->next_id != 0)
		connection_drop_probe(c); /* a revival tick: replaces the one still waiting */
	if (c->probe_in_flight || c->nua == NULL)
		return;
	if (c->probe_nh == NULL)
		c->probe_nh = nua_handle(c->nua, NULL, NUTAG_URL(URL_STRING_MAKE(c->registrar)),
					 SIPTAG_TO_STR(c->aor), TAG_END());
	c->probe_in_flight = TRUE;
	c->probes_sent++;
	nua_options(c->probe_nh, TAG_END());
	c->probe_watchdog_id =
	    g_timeout_add(MAX(c->config->probe_timeout_ms, 1u), on_probe_watchdog, c);
}

static void connection_on_probe(SpConnection *c, int status, const char *phrase, sip_t const *sip)
{
	if (status < 200 || !c->probe_in_flight)
		return;
	g_clear_handle_id(&c->probe_watchdog_id, g_source_remove);
	c->probe_in_flight = FALSE;
	connection_on_probe_result(c, sp_probe_failed(status, nta_sip_is_internal(sip)), status,
				   phrase);
}

/* ---- the NUA callback ------------------------------------------------------------------ */

static void connection_main_shut_down(SpConnection *c);

static void connection_on_shutdown(SpConnection *c, nua_t *nua, int status, const char *phrase)
{
	SpRetiredStack *r;

	if (status < 200)
		return;
	r = nua != c->nua ? connection_find_retired(c, nua) : NULL;
	if (r != NULL) {
		g_debug("connection %u: an earlier SIP stack shut down (%d %s)", c->config->id,
			status, phrase ? phrase : "");
		r->shutdown_final = TRUE;
		if (c->shutdown_started) {
			if (sp_connection_is_shut_down(c))
				sp_phone_on_connection_shut_down(c->phone, c);
		} else if (!r->lent && c->reap_id == 0) {
			/* Not from inside its own callback. */
			c->reap_id = g_idle_add(on_reap_retired, c);
		}
		return;
	}
	if (nua != c->nua)
		return;
	g_debug("connection %u: SIP stack shut down (%d %s)", c->config->id, status,
		phrase ? phrase : "");
	connection_main_shut_down(c);
}

/* The connection's own NUA has shut down (or never existed). */
static void connection_main_shut_down(SpConnection *c)
{
	c->shutdown_final = TRUE;
	g_clear_handle_id(&c->unreg_watchdog_id, g_source_remove);
	g_clear_handle_id(&c->remove_watchdog_id, g_source_remove);
	g_clear_handle_id(&c->nua_stop_id, g_source_remove);
	if (c->removing && c->status != SP_CONNECTION_REMOVED) {
		connection_set_status(c, SP_CONNECTION_REMOVED, 0, NULL);
		sp_phone_on_connection_removed(c->phone, c);
	}
	if (sp_connection_is_shut_down(c))
		sp_phone_on_connection_shut_down(c->phone, c);
}

/* Events on the connection's own REGISTER and OPTIONS handles. */
static void connection_on_own_event(SpConnection *c, nua_event_t event, int status,
				    const char *phrase, nua_handle_t *nh, sip_t const *sip)
{
	switch (event) {
	case nua_r_register:
		connection_on_register(c, status, phrase, nh, sip);
		break;
	case nua_r_unregister:
		connection_on_unregister(c, status, phrase, nh, sip);
		break;
	case nua_r_options:
		connection_on_probe(c, status, phrase, sip);
		break;
	default:
		g_debug("connection %u: %s %d %s", c->config->id, nua_event_name(event), status,
			phrase ? phrase : "");
		break;
	}
}

static gboolean is_request_event(nua_event_t event)
{
	switch (event) {
	case nua_i_options:
	case nua_i_message:
	case nua_i_info:
	case nua_i_notify:
	case nua_i_subscribe:
	case nua_i_refer:
	case nua_i_publish:
	case nua_i_register:
	case nua_i_method:
	case nua_i_update:
	case nua_i_prack:
	case nua_i_bye:
		return TRUE;
	default:
		return FALSE;
	}
}

void sp_connection_on_stray_event(SpConnection *c, nua_event_t event, int status,
				  const char *phrase, nua_t *nua, nua_handle_t *nh)
{
	g_debug("connection %u: %s %d %s", c->config->id, nua_event_name(event), status,
		phrase ? phrase : "");
	if (nh == NULL || !is_request_event(event))
		return;
	/* A NOTIFY (talk, hold) outside any call has no dialog to act on. */
	if (status < 200 && event == nua_i_notify)
		nua_respond(nh, SIP_481_NO_TRANSACTION, NUTAG_WITH_THIS(nua), TAG_END());
	else if (status < 200)
		nua_respond(nh, SIP_480_TEMPORARILY_UNAVAILABLE, NUTAG_WITH_THIS(nua), TAG_END());
	nua_handle_destroy(nh);
}

static void connection_nua_callback(nua_event_t event, int status, char const *phrase, nua_t *nua,
				    nua_magic_t *magic, nua_handle_t *nh, nua_hmagic_t *hmagic,
				    sip_t const *sip, tagi_t tags[])
{
	SpConnection *c = magic;

	SpRetiredStack *retired = nua != c->nua ? connection_find_retired(c, nua) : NULL;

	if (event == nua_r_shutdown) {
		connection_on_shutdown(c, nua, status, phrase);
		return;
	}
	if (nh != NULL && nh == c->cleanup_nh) {
		if (event == nua_r_register)
			connection_on_cleanup(c, status, nh, sip);
		return;
	}
	if (nh != NULL && (nh == c->reg_nh || nh == c->probe_nh)) {
		connection_on_own_event(c, event, status, phrase, nh, sip);
		return;
	}
	/* What the calls do now with sp_connection_get_nua() concerns the stack of this event. */
	c->dispatching = retired != NULL ? nua : NULL;
	/* A new call holds a handle of this stack: it is kept for the call (see above). */
	if (hmagic == NULL && event == nua_i_invite) {
		if (retired != NULL)
			retired->lent = TRUE;
		else
			c->nua_lent = TRUE;
	}
	sp_phone_on_nua_event(c->phone, c, event, status, phrase, nua, nh, hmagic, sip, tags);
	c->dispatching = NULL;
}

/* ---- life cycle ------------------------------------------------------------------------ */

/* sofia reads the CA from <dir>/cafile.pem (and hashed certificates in <dir>). */
static char *make_tls_dir(const char *ca_file, GError **error)
{
	g_autofree char *dir = g_dir_make_tmp("softphoned-tls-XXXXXX", error);
	g_autofree char *link = NULL;
	g_autofree char *target = NULL;

	if (dir == NULL)
		return NULL;
	link = g_build_filename(dir, "cafile.pem", NULL);
	target = g_canonicalize_filename(ca_file, NULL);
	if (symlink(target, link) != 0) {
		int err = errno;

		g_rmdir(dir);
		g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID, "ca-file %s: %s",
			    ca_file, g_strerror(err));
		return NULL;
	}
	return g_steal_pointer(&dir);
}

static void remove_tls_dir(const char *dir)
{
	g_autofree char *link = NULL;

	if (dir == NULL)
		return;
	link = g_build_filename(dir, "cafile.pem", NULL);
	g_unlink(link);
	g_rmdir(dir);
}

static gboolean connection_prepare(SpConnection *c, GError **error)
{
	const SpConnectionConfig *cfg = c->config;
	g_autofree char *port = NULL;
	g_autofree char *domain = NULL;

	if (!sp_server_split(cfg->server, &c->host, &port)) {
		g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID,
			    "connection %u: server '%s' is not host[:port]", cfg->id, cfg->server);
		return FALSE;
	}
	c->port_given = port != NULL;
	c->port = port != NULL ? g_steal_pointer(&port) : g_strdup(default_port(cfg->protocol));
	c->host_is_name = !g_hostname_is_ip_address(c->host);
	if (!c->host_is_name)
		c->server_address = g_strdup(c->host);
	c->domain = g_strdup(cfg->domain != NULL && cfg->domain[0] != '\0' ? cfg->domain : c->host);
	domain = is_ipv6_literal(c->domain) && c->domain[0] != '[' ? uri_host(c->domain)
								   : g_strdup(c->domain);
	c->aor = g_strdup_printf("sip:%s@%s", cfg->user, domain);
	c->registrar = g_strdup_printf("sip:%s", domain);
	c->line_stable = sp_line_stable_part(instance_id_acquire(), cfg->id);
	c->retired = g_ptr_array_new();
	connection_make_proxy(c);

	c->local_configured = cfg->local_address != NULL && cfg->local_address[0] != '\0';
	if (c->local_configured) {
		c->local_address = g_strdup(cfg->local_address);
	} else if (!c->host_is_name) {
		c->local_address = pick_local_address(c->host, c->port);
		if (c->local_address == NULL) {
			/* No route (yet): every IPv4 address, until a revival finds one. */
			g_message("connection %u: no route to %s; listening on every address",
				  cfg->id, cfg->server);
			c->local_address = g_strdup("0.0.0.0");
		}
	} else {
		/* Chosen once the name resolves: no lookup on the main loop. */
		c->local_address = g_strdup("0.0.0.0");
	}
	connection_make_bind_url(c);
	c->t1x64_ms = cfg->reg_timeout_ms > 0 ? cfg->reg_timeout_ms : SP_SOFIA_T1X64_MS;

	if (cfg->protocol == SP_TRANSPORT_TLS && cfg->tls_verify && cfg->ca_file != NULL) {
		c->tls_dir = make_tls_dir(cfg->ca_file, error);
		if (c->tls_dir == NULL)
			return FALSE;
	}
	return TRUE;
}

/* Whether a socket of the transport's kind binds address:port (nothing else listens there). */
static gboolean sip_port_is_free(const char *address, guint port, gboolean stream)
{
	struct addrinfo hints = {.ai_socktype = stream ? SOCK_STREAM : SOCK_DGRAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
	struct addrinfo *res = NULL;
	gsize len = strlen(address);
	g_autofree char *host = address[0] == '[' && len > 2 && address[len - 1] == ']'
				    ? g_strndup(address + 1, len - 2)
				    : g_strdup(address);
	char service[8];
	gboolean free_port = FALSE;
	int fd;

	g_snprintf(service, sizeof service, "%u", port);
	if (getaddrinfo(host, service, &hints, &res) != 0)
		return TRUE; /* not a literal: let sofia try it */
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		int on = 1;

		/* As sofia's own listening socket will: a TIME_WAIT leftover is no owner. */
		if (stream)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
		free_port = bind(fd, res->ai_addr, res->ai_addrlen) == 0;
		close(fd);
	}
	freeaddrinfo(res);
	return free_port;
}

/* bind_url ("sip:HOST:*;...") with port instead of '*'. */
static char *bind_url_at(const char *bind_url, guint port)
{
	const char *star = strstr(bind_url, ":*");
	g_autofree char *head = NULL;

	if (star == NULL)
		return g_strdup(bind_url);
	head = g_strndup(bind_url, (gsize)(star - bind_url));
	return g_strdup_printf("%s:%u%s", head, port, star + 2);
}

/* "softphoned/VERSION", or with user-agent-os-version "softphoned/VERSION (Linux RELEASE)". */
static char *connection_user_agent(SpConnection *c)
{
	const SpConfig *config = sp_phone_get_config(c->phone);
	struct utsname u;

	if (config == NULL || !config->daemon.user_agent_os_version || uname(&u) != 0)
		return g_strdup("softphoned/" SP_VERSION);
	return g_strdup_printf("softphoned/" SP_VERSION " (%s %s)", u.sysname, u.release);
}

static gboolean connection_create_nua(SpConnection *c, GError **error)
{
	const SpConnectionConfig *cfg = c->config;
	g_autofree char *display = sp_sip_quote(cfg->display_name);
	g_autofree char *line_param = NULL;
	g_autofree char *user_agent = connection_user_agent(c);
	const SpConfig *config = sp_phone_get_config(c->phone);
	int tos = config != NULL ? (int)(config->daemon.sip_dscp << 2) : 0;
	guint first = config != NULL ? config->daemon.sip_port_min : 0;
	guint last = config != NULL ? config->daemon.sip_port_max : 0;
	g_autofree char *url = NULL;
	/* With a public-address, sofia must not "fix" the Contact to the address the site
	 * saw (natify): the public one is meant. */
	const char *public_address = cfg->public_address != NULL && cfg->public_address[0] != '\0'
					 ? cfg->public_address
					 : NULL;
	const char *outbound = public_address != NULL ? "no-options-keepalive no-validate no-natify"
						      : "no-options-keepalive no-validate";
	gboolean tls = cfg->protocol == SP_TRANSPORT_TLS;
	gboolean stream = cfg->protocol != SP_TRANSPORT_UDP;
	const char *cert_dir = c->tls_dir != NULL ? c->tls_dir : SP_SYSTEM_CA_DIR;
	unsigned policy = TPTLS_VERIFY_NONE;

	if (tls && cfg->tls_verify)
		policy = TPTLS_VERIFY_OUTGOING | TPTLS_VERIFY_SUBJECTS_OUT;
	/* Every stack's binding has a Contact of its own: the same stable part, a new rest. */
	g_free(c->line);
	c->line = g_strdup_printf("%s%06x", c->line_stable, g_random_int() & 0xffffffu);
	line_param = g_strdup_printf(SP_LINE_PARAM "=%s", c->line);
	g_free(c->from);
	c->from = display != NULL ? g_strdup_printf("%s <%s>", display, c->aor) : g_strdup(c->aor);

	/* sip-port-min..max: the first free port of the range, else any free port. */
	for (guint port = first;; port++) {
		if (port != 0 && !sip_port_is_free(c->local_address, port, stream)) {
			if (port >= last)
				break;
			continue;
		}
		g_free(url);
		url = port != 0 ? bind_url_at(c->bind_url, port) : g_strdup(c->bind_url);
		errno = 0;
		c->nua = nua_create(
		    sp_phone_get_root(c->phone), connection_nua_callback, c,
		    NUTAG_URL(URL_STRING_MAKE(url)), NUTAG_PROXY(URL_STRING_MAKE(c->proxy)),
		    NUTAG_REGISTRAR(URL_STRING_MAKE(c->registrar)), SIPTAG_FROM_STR(c->from),
		    SIPTAG_USER_AGENT_STR(user_agent), NUTAG_M_USERNAME(cfg->user),
		    TAG_IF(display != NULL, NUTAG_M_DISPLAY(cfg->display_name)),
		    NUTAG_M_PARAMS(line_param),
		    /* Our own probes watch the site; sofia's outbound keepalives and its validation
		     * OPTIONS (to our own Contact, via the site) would only add traffic. */
		    NUTAG_OUTBOUND(outbound), NUTAG_KEEPALIVE(0),
		    /* ... and soa names it in the o= line of every SDP of this stack. */
		    TAG_IF(public_address != NULL, SOATAG_ADDRESS(public_address)),
		    NTATAG_SIP_T1X64(normal_t1x64(c)),
		    /* TLS: any version the library allows (sofia's default is TLS 1.0 only). */
		    TAG_IF(tls, TPTAG_TLS_VERSION(0)), TAG_IF(tls, TPTAG_CERTIFICATE(cert_dir)),
		    TAG_IF(tls, TPTAG_TLS_VERIFY_POLICY(policy)),
		    TAG_IF(stream, TPTAG_IDLE(SP_IDLE_CLOSE_MS)),
		    /* sip-dscp: the TOS byte of every SIP packet (DSCP in its upper six bits). */
		    TAG_IF(tos != 0, TPTAG_TOS(tos)),
		    TAG_IF(stream && cfg->keepalive_interval_ms > 0,
			   TPTAG_KEEPALIVE(2 * cfg->keepalive_interval_ms)),
		    TAG_IF(stream && cfg->keepalive_interval_ms > 0,
			   TPTAG_PINGPONG(MAX(cfg->probe_timeout_ms, 1000u))),
		    TAG_END());
		break;
	}
	if (c->nua != NULL && first != 0) {
		g_free(c->bind_url);
		c->bind_url = g_steal_pointer(&url);
	}
	if (c->nua == NULL && first != 0 && url == NULL) {
		g_set_error(
		    error, SP_ERROR, SP_ERROR_UNAVAILABLE,
		    "connection %u: no free SIP port in %u..%u (sip-port-min, sip-port-max) "
		    "on %s",
		    cfg->id, first, last, c->local_address);
		return FALSE;
	}
	if (c->nua == NULL) {
		int err = errno;

		/* A configured local-address that cannot be bound is a configuration error. */
		if (cfg->local_address != NULL && cfg->local_address[0] != '\0')
			g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID,
				    "connection %u: local-address %s cannot be used%s%s", cfg->id,
				    cfg->local_address, err != 0 ? ": " : "",
				    err != 0 ? g_strerror(err) : "");
		else
			g_set_error(error, SP_ERROR, SP_ERROR_FAILED,
				    "connection %u: cannot start SIP on %s%s%s", cfg->id,
				    c->bind_url, err != 0 ? ": " : "",
				    err != 0 ? g_strerror(err) : "");
		return FALSE;
	}
	c->transport_mode = SP_TRANSPORT_NORMAL;
	c->nua_shutdown_called = FALSE;
	c->shutdown_final = FALSE;
	sp_phone_configure_nua(c->phone, c, c->nua);
	c->reg_nh = nua_handle(c->nua, NULL, SIPTAG_TO_STR(c->aor), TAG_END());
	g_info("connection %u: %s as %s via %s, bound to %s", cfg->id, cfg->server, c->aor,
	       c->proxy, c->bind_url);
	return TRUE;
}

SpConnection *sp_connection_new(SpPhone *phone, const SpConnectionConfig *config, GError **error)
{
	SpConnection *c = g_new0(SpConnection, 1);

	c->phone = phone;
	c->config = sp_connection_config_copy(config);
	c->status = SP_CONNECTION_DISABLED;
	c->previous = SP_CONNECTION_DISABLED;
	c->shutdown_final = FALSE;
	if (!connection_prepare(c, error)) {
		c->shutdown_final = TRUE; /* nothing to shut down */
		sp_connection_free(c);
		return NULL;
	}
	/* A name waits for its lookup (the local address depends on the answer), unless the
	 * local address is configured: then a bad one is reported now. */
	if ((!c->host_is_name || c->local_configured) && !connection_create_nua(c, error)) {
		c->shutdown_final = TRUE;
		sp_connection_free(c);
		return NULL;
	}
	return c;
}

void sp_connection_free(SpConnection *c)
{
	if (c == NULL)
		return;
	connection_cancel_next(c);
	g_clear_handle_id(&c->probe_watchdog_id, g_source_remove);
	g_clear_handle_id(&c->reg_watchdog_id, g_source_remove);
	g_clear_handle_id(&c->unreg_watchdog_id, g_source_remove);
	g_clear_handle_id(&c->remove_watchdog_id, g_source_remove);
	g_clear_handle_id(&c->nua_stop_id, g_source_remove);
	g_clear_handle_id(&c->lookup_watchdog_id, g_source_remove);
	g_clear_handle_id(&c->reap_id, g_source_remove);
	if (c->lookup != NULL) {
		/* Its answer comes to a lookup without connection, which frees itself. */
		c->lookup->c = NULL;
		g_cancellable_cancel(c->lookup->cancel);
		c->lookup = NULL;
	}
	for (guint i = 0; c->retired != NULL && i < c->retired->len; i++) {
		SpRetiredStack *r = g_ptr_array_index(c->retired, i);

		if (r->shutdown_final)
			nua_destroy(r->nua);
		else
			g_message(
			    "connection %u: an earlier SIP stack still shutting down; left to "
			    "exit",
			    c->config->id);
		g_free(r);
	}
	g_clear_pointer(&c->retired, g_ptr_array_unref);
	if (c->nua != NULL) {
		if (c->shutdown_final) {
			/* nua_destroy() frees the handles with the stack. */
			nua_destroy(c->nua);
		} else {
			/*
			 * sofia asserts in nua_destroy() until nua_shutdown() has completed, and
			 * its thread may still use the NUA: left for the process exit to reclaim.
			 * Only happens when a shutdown outlived its deadline.
			 */
			g_message("connection %u: SIP stack still shutting down; left to exit",
				  c->config->id);
		}
	}
	remove_tls_dir(c->tls_dir);
	g_free(c->tls_dir);
	if (c->line_stable != NULL)
		instance_id_release();
	g_free(c->line_stable);
	g_free(c->port);
	g_free(c->server_address);
	g_free(c->host);
	g_free(c->domain);
	g_free(c->aor);
	g_free(c->from);
	g_free(c->registrar);
	g_free(c->proxy);
	g_free(c->bind_url);
	g_free(c->local_address);
	g_free(c->line);
	g_free(c->reason);
	g_free(c->status_time);
	g_free(c->last_ready_time);
	sp_connection_config_free(c->config);
	g_free(c);
}

void sp_connection_start(SpConnection *c)
{
	if (!c->config->enabled || c->status != SP_CONNECTION_DISABLED || c->removing ||
	    c->shutdown_started)
		return;
	connection_set_status(c, SP_CONNECTION_REGISTERING, 0, NULL);
	/* A name is looked up again: the site may have moved while we were not registered. */
	if (c->host_is_name)
		connection_find_site(c, SP_NEXT_REGISTER);
	else
		connection_send_register(c);
}

gboolean sp_connection_enable(SpConnection *c, GError **error)
{
	if (c->status != SP_CONNECTION_DISABLED || c->removing || c->shutdown_started) {
		g_set_error(error, SP_ERROR, SP_ERROR_WRONG_STATE, "connection %u is %s",
			    c->config->id, sp_connection_status_to_string(c->status));
		return FALSE;
	}
	c->config->enabled = TRUE;
	if (c->unreg_in_flight)
		connection_set_t1x64(c, normal_t1x64(c));
	sp_connection_start(c);
	return TRUE;
}

gboolean sp_connection_disable(SpConnection *c, GError **error)
{
	if (c->status == SP_CONNECTION_DISABLED || c->status == SP_CONNECTION_UNREGISTERING ||
	    c->status == SP_CONNECTION_REMOVED || c->removing || c->shutdown_started) {
		g_set_error(error, SP_ERROR, SP_ERROR_WRONG_STATE, "connection %u is %s",
			    c->config->id, sp_connection_status_to_string(c->status));
		return FALSE;
	}
	c->config->enabled = FALSE;
	connection_stop_activity(c);
	if (c->nua == NULL) {
		/* The site's name never resolved: nothing was sent, nothing to undo. */
		connection_set_status(c, SP_CONNECTION_UNREGISTERING, 0, NULL);
		connection_set_status(c, SP_CONNECTION_DISABLED, 0, NULL);
		return TRUE;
	}
	connection_set_transport(c, SP_TRANSPORT_NORMAL);
	connection_send_unregister(c);
	connection_set_status(c, SP_CONNECTION_UNREGISTERING, 0, NULL);
	return TRUE;
}

static gboolean on_remove_watchdog(gpointer data)
{
	SpConnection *c = data;

	c->remove_watchdog_id = 0;
	if (c->status != SP_CONNECTION_REMOVED) {
		g_info("connection %u: still shutting down; removed anyway", c->config->id);
		connection_set_status(c, SP_CONNECTION_REMOVED, 0, NULL);
		sp_phone_on_connection_removed(c->phone, c);
	}
	return G_SOURCE_REMOVE;
}

static gboolean on_nua_stop(gpointer data)
{
	SpConnection *c = data;

	c->nua_stop_id = 0;
	connection_stop_nua(c);
	return G_SOURCE_REMOVE;
}

/*
 * un-REGISTER first, then nua_shutdown(): nua_shutdown() would un-REGISTER by itself, but it
 * only reports at its next tick (once a second), so a clean stop would always take a second.
 * t1x64_ms bounds the un-REGISTER when the site is dead.
 */
static gboolean on_nothing_to_stop(gpointer data)
{
	SpConnection *c = data;

	c->nua_stop_id = 0;
	connection_main_shut_down(c);
	return G_SOURCE_REMOVE;
}

static void connection_shutdown_nua(SpConnection *c, unsigned t1x64_ms, gboolean unregister)
{
	if (c->shutdown_started)
		return;
	c->shutdown_started = TRUE;
	if (c->nua == NULL) {
		/* The site's name never resolved: no stack, no binding. Done, from the loop. */
		c->nua_stop_id = g_idle_add(on_nothing_to_stop, c);
		return;
	}
	connection_set_t1x64(c, t1x64_ms);
	if (c->unreg_in_flight) {
		/* A Disable's un-REGISTER is on its way: its answer stops the NUA. */
	} else if (unregister) {
		c->unreg_in_flight = TRUE;
		c->unreg_credentials_sent = FALSE;
		nua_unregister(c->reg_nh, TAG_END());
	} else {
		connection_stop_nua(c);
		return;
	}
	c->nua_stop_id = g_timeout_add(t1x64_ms + SP_UNREGISTER_GRACE_MS, on_nua_stop, c);
}

static gboolean status_has_binding(SpConnectionStatus status)
{
	return status == SP_CONNECTION_REGISTERING || status == SP_CONNECTION_READY ||
	       status == SP_CONNECTION_FAILED;
}

gboolean sp_connection_remove(SpConnection *c, GError **error)
{
	gboolean unregister = status_has_binding(c->status);

	if (c->removing || c->shutdown_started) {
		g_set_error(error, SP_ERROR, SP_ERROR_WRONG_STATE, "connection %u is being removed",
			    c->config->id);
		return FALSE;
	}
	c->removing = TRUE;
	connection_stop_activity(c);
	g_clear_handle_id(&c->unreg_watchdog_id, g_source_remove);
	/* Sessions hear of it first, so that their BYEs go out before the stack stops. */
	if (c->status != SP_CONNECTION_DISABLED && c->status != SP_CONNECTION_UNREGISTERING)
		connection_set_status(c, SP_CONNECTION_UNREGISTERING, 0, NULL);
	connection_shutdown_nua(c, SP_UNREGISTER_T1X64_MS, unregister);
	c->remove_watchdog_id = g_timeout_add(SP_UNREGISTER_T1X64_MS + 2 * SP_UNREGISTER_GRACE_MS,
					      on_remove_watchdog, c);
	return TRUE;
}

void sp_connection_shutdown(SpConnection *c, guint t1x64_ms)
{
	gboolean unregister = status_has_binding(c->status);

	if (c->shutdown_started)
		return;
	connection_stop_activity(c);
	g_clear_handle_id(&c->unreg_watchdog_id, g_source_remove);
	if (unregister)
		connection_set_status(c, SP_CONNECTION_UNREGISTERING, 0, NULL);
	connection_shutdown_nua(c, MAX(t1x64_ms, 500u), unregister);
}

gboolean sp_connection_is_shut_down(SpConnection *c)
{
	for (guint i = 0; c->retired != NULL && i < c->retired->len; i++) {
		if (!((SpRetiredStack *)g_ptr_array_index(c->retired, i))->shutdown_final)
			return FALSE;
	}
	return c->nua == NULL || c->shutdown_final;
}

gboolean sp_connection_is_shutting_down(SpConnection *c)
{
	return c->shutdown_started;
}

/* ---- accessors ------------------------------------------------------------------------- */

guint sp_connection_get_id(SpConnection *c)
{
	return c->config->id;
}

SpConnectionStatus sp_connection_get_status(SpConnection *c)
{
	return c->status;
}

const SpConnectionConfig *sp_connection_get_config(SpConnection *c)
{
	return c->config;
}

const char *sp_connection_get_local_address(SpConnection *c)
{
	return c->local_address;
}

const char *sp_connection_get_proxy(SpConnection *c)
{
	return c->proxy;
}

const char *sp_connection_get_from(SpConnection *c)
{
	return c->from;
}

nua_t *sp_connection_get_nua(SpConnection *c)
{
	/* Inside an event of a retired stack, requests answer on that stack. */
	if (c->dispatching != NULL)
		return c->dispatching;
	/* Whoever asks may make handles on it: then it outlives a renewal (see the top). */
	c->nua_lent = TRUE;
	return c->nua;
}

void sp_connection_report_failure(SpConnection *c, int status)
{
	if (c == NULL || !sp_status_suggests_site_down(status) || c->probe_in_flight ||
	    c->removing || c->shutdown_started)
		return;
	switch (c->status) {
	case SP_CONNECTION_READY:
		connection_cancel_next(c);
		break;
	case SP_CONNECTION_FAILED:
		if (c->fail_mode == SP_REGISTER_UNREACHABLE)
			connection_cancel_next(c);
		break;
	case SP_CONNECTION_DISABLED:
	case SP_CONNECTION_REGISTERING:
	case SP_CONNECTION_UNREGISTERING:
	case SP_CONNECTION_REMOVED:
		return;
	}
	g_info("connection %u: %d on a request; probing the site now", c->config->id, status);
	connection_probe(c);
}

/* Characters a DN may hold as the user part of a SIP URI without escaping (RFC 3261 25.1). */
static gboolean is_dn(const char *s)
{
	if (s[0] == '\0')
		return FALSE;
	for (const char *p = s; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && strchr("-_.!~*'()&=+$,;?/", *p) == NULL)
			return FALSE;
	}
	return TRUE;
}

char *sp_connection_make_uri(SpConnection *c, const char *destination)
{
	g_autofree char *candidate = NULL;
	su_home_t home[1] = {SU_HOME_INIT(home)};
	url_t *url;
	gboolean ok;

	if (destination == NULL)
		return NULL;
	if (g_str_has_prefix(destination, "sip:") || g_str_has_prefix(destination, "sips:")) {
		candidate = g_strdup(destination);
	} else if (is_dn(destination)) {
		g_autofree char *domain = is_ipv6_literal(c->domain) && c->domain[0] != '['
					      ? uri_host(c->domain)
					      : g_strdup(c->domain);

		candidate = g_strdup_printf("sip:%s@%s", destination, domain);
	} else {
		return NULL;
	}
	url = url_hdup(home, (url_t const *)URL_STRING_MAKE(candidate));
	ok = url != NULL && (url->url_type == url_sip || url->url_type == url_sips) &&
	     url->url_host != NULL && url->url_host[0] != '\0' &&
	     strpbrk(candidate, " \t\r\n<>\"") == NULL;
	su_home_deinit(home);
	return ok ? g_steal_pointer(&candidate) : NULL;
}

json_object *sp_connection_to_json(SpConnection *c)
{
	const SpConnectionConfig *cfg = c->config;
	json_object *o = connection_event_json(c);
	json_object *counters = json_object_new_object();

	json_object_object_add(o, "enabled", json_object_new_boolean(cfg->enabled));
	json_object_object_add(o, "domain", json_object_new_string(c->domain));
	json_object_object_add(o, "authUser", json_string_or_null(cfg->auth_user));
	json_object_object_add(o, "displayName", json_string_or_null(cfg->display_name));
	json_object_object_add(o, "reregisterInSeconds",
			       json_object_new_int64(cfg->reregister_in_seconds));
	json_object_object_add(o, "localAddress", json_object_new_string(c->local_address));
	json_object_object_add(o, "publicAddress", json_string_or_null(cfg->public_address));
	json_object_object_add(o, "serverAddress", json_string_or_null(c->server_address));
	json_object_object_add(o, "keepaliveIntervalMs",
			       json_object_new_int64(cfg->keepalive_interval_ms));
	json_object_object_add(o, "probeTimeoutMs", json_object_new_int64(cfg->probe_timeout_ms));
	json_object_object_add(o, "probeFailures", json_object_new_int64(cfg->probe_failures));
	json_object_object_add(o, "downProbeIntervalMs",
			       json_object_new_int64(cfg->down_probe_interval_ms));
	json_object_object_add(o, "retryMinMs", json_object_new_int64(cfg->retry_min_ms));
	json_object_object_add(o, "retryMaxMs", json_object_new_int64(cfg->retry_max_ms));
	json_object_object_add(
	    o, "srtp",
	    json_object_new_string(sp_srtp_mode_to_string(sp_connection_config_get_srtp(cfg))));
	if (cfg->protocol == SP_TRANSPORT_TLS) {
		json_object_object_add(o, "caFile", json_string_or_null(cfg->ca_file));
		json_object_object_add(o, "tlsVerify", json_object_new_boolean(cfg->tls_verify));
	}
	json_object_object_add(o, "counters", counters);
	json_object_object_add(counters, "registrations", json_object_new_int64(c->registrations));
	json_object_object_add(counters, "probesSent", json_object_new_int64(c->probes_sent));
	json_object_object_add(counters, "probesFailed", json_object_new_int64(c->probes_failed));
	json_object_object_add(counters, "failures", json_object_new_int64(c->failures));
	json_object_object_add(counters, "lastReadyTime", json_string_or_null(c->last_ready_time));
	return o;
}
