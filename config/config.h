/* The daemon's configuration as a plain struct, loaded from a key file or SipEndpoint.config. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SP_CONFIG_ERROR (sp_config_error_quark())

typedef enum {
	SP_CONFIG_ERROR_IO,      /* file missing or unreadable */
	SP_CONFIG_ERROR_PARSE,   /* syntax error */
	SP_CONFIG_ERROR_INVALID, /* a key with a bad value, a missing required key */
} SpConfigError;

GQuark sp_config_error_quark(void);

typedef enum {
	SP_TRANSPORT_UDP,
	SP_TRANSPORT_TCP,
	SP_TRANSPORT_TLS,
} SpTransport;

const char *sp_transport_to_string(SpTransport t);
gboolean sp_transport_from_string(const char *s, SpTransport *out);

typedef enum {
	SP_DTMF_RFC4733,
	SP_DTMF_INFO,
	SP_DTMF_INBAND,
} SpDtmfMethod;

const char *sp_dtmf_method_to_string(SpDtmfMethod m);
gboolean sp_dtmf_method_from_string(const char *s, SpDtmfMethod *out);

/* SRTP (SDES) per connection: SP_SRTP_MODE_DEFAULT is optional over TLS, off otherwise. */
typedef enum {
	SP_SRTP_MODE_DEFAULT,
	SP_SRTP_MODE_OFF,	/* never offered; an RTP/SAVP-only offer gets 488 */
	SP_SRTP_MODE_OPTIONAL,	/* RTP/AVP offered with a=crypto; either kind accepted */
	SP_SRTP_MODE_MANDATORY, /* RTP/SAVP offered; an offer without usable crypto gets 488 */
} SpSrtpMode;

/* "off", "optional", "mandatory" (the default is shown as what it resolves to elsewhere). */
const char *sp_srtp_mode_to_string(SpSrtpMode m);
gboolean sp_srtp_mode_from_string(const char *s, SpSrtpMode *out);

/* One SIP Server site. Times are in milliseconds. */
typedef struct {
	guint id;
	char *user;          /* the DN */
	char *server;        /* host[:port] */
	SpTransport protocol;
	char *domain;        /* registrar domain; NULL: the server's host */
	char *auth_user;     /* NULL: user */
	char *password;      /* resolved secret (from password, password-file or credentials) */
	char *display_name;
	char *local_address; /* NULL: the default route's address */
	/* The address put in Contact, Via and SDP instead of the local one (NAT); NULL: none */
	char *public_address;
	char *ca_file;       /* TLS: CA bundle; NULL: the system's */
	gboolean tls_verify; /* default TRUE */
	gboolean enabled;    /* default TRUE */
	guint reregister_in_seconds; /* default 3600 */
	guint reg_timeout_ms;        /* REGISTER transaction timeout; default 0 = sofia's */
	guint keepalive_interval_ms; /* default 5000 */
	guint probe_timeout_ms;      /* default 2000 */
	guint probe_failures;        /* default 2 */
	guint down_probe_interval_ms; /* default 2000 */
	guint retry_min_ms;          /* default 1000 */
	guint retry_max_ms;          /* default 30000 */
	char *password_file; /* absolute path the password was read from, or NULL */
	SpSrtpMode srtp;     /* default SP_SRTP_MODE_DEFAULT */
} SpConnectionConfig;

/* c's srtp with the default resolved: optional on a tls connection, off otherwise. */
SpSrtpMode sp_connection_config_get_srtp(const SpConnectionConfig *c);

typedef struct {
	char *socket_path;   /* NULL: the default of SPEC §4 */
	char *log_level;     /* NULL: "info" */
	guint shutdown_timeout_ms; /* default 3000 */
	guint rtp_port_min;  /* default 16384 */
	guint rtp_port_max;  /* default 32767 */
	/* The WebSocket transport: "127.0.0.1:8088" or "[::1]:8088" (loopback only); NULL: off. */
	char *websocket;
	/* Exact Origin values allowed besides the page's own; NULL: none. */
	char **websocket_origins;
	char *websocket_token_file; /* absolute; NULL: beside the control socket */
	gboolean user_agent_os_version; /* User-Agent names the OS release too; default FALSE */
	guint sip_dscp;			/* DSCP (0..63) of SIP packets; default 0 (unmarked) */
	guint rtp_dscp;			/* DSCP of RTP and RTCP packets; default 0 */
	/* Each connection's SIP stack listens on the first free port of this range; 0 (both):
	 * any free port. */
	guint sip_port_min;
	guint sip_port_max;
} SpDaemonConfig;

typedef struct {
	gboolean auto_answer;        /* default FALSE */
	gboolean honor_answer_after; /* default TRUE */
	SpDtmfMethod dtmf_method;    /* default RFC4733 */
	guint invite_failover_timeout_ms; /* default 2000 */
	guint rtp_inactivity_timeout_ms;  /* no RTP/RTCP this long ends the call; default 30000, 0 off */
	/* An inbound call while the capture or playback device cannot be opened is answered
	 * reject_code (400..699, default 480); default FALSE (the call rings, with silence). */
	gboolean reject_when_no_device;
	guint reject_code;
	/* Incoming INVITE headers copied into a session's properties.sipHeaders: glob patterns,
	 * lower case; default {"x-genesys-*"}; empty: none. */
	char **expose_headers;
	guint session_expires_s;     /* RFC 4028 interval we ask for; default 1800, 0 off */
	guint min_session_expires_s; /* smallest interval we accept (Min-SE); default 90 */
} SpPolicyConfig;

/* The codec names [audio] codecs accepts, in the default order. */
#define SP_AUDIO_CODECS_DEFAULT "opus,G722,PCMU,PCMA"


typedef struct {
	char *capture;  /* ALSA PCM name; default "default" */
	char *playback; /* default "default" */
	char **codecs;  /* offer order, canonical names ("opus", "G722", "PCMU", "PCMA"); no repeats */
	guint ptime_ms;          /* the ptime we offer and send; default 20 (10..60, a multiple of 10) */
	guint jitter_min_ms;     /* adaptive jitter buffer bounds; default 20 */
	guint jitter_max_ms;     /* default 200 */
	guint dtmf_duration_ms;  /* one RFC 4733 / inband digit; default 100 */
	guint dtmf_gap_ms;       /* between digits; default 70 */
	char *ring;              /* the ring tone's ALSA PCM; NULL: the playback device; "": no ring */
	char *ring_tone;         /* tone specs (daemon/media/tones.h), canonical; "": off */
	char *ringback_tone;
	char *call_waiting_tone;
} SpAudioConfig;

/* What became of one setting of a SipEndpoint.config, for --check-config. */
typedef enum {
	SP_CONFIG_MAPPED,      /* it set a softphoned key */
	SP_CONFIG_UNSUPPORTED, /* it asks for a feature softphoned does not have yet */
	SP_CONFIG_IGNORED,     /* softphoned has no use for it, or it asks for nothing */
} SpConfigMappingKind;

typedef struct {
	SpConfigMappingKind kind;
	char *setting; /* "proxies/proxy0/reg_timeout", "Connectivity 0 server" */
	int line, column;
	char *value;   /* as written; NULL for a password or a setting without a value */
	char *key;     /* SP_CONFIG_MAPPED: "[connection 0] reregister-in-seconds" */
	char *mapped;  /* SP_CONFIG_MAPPED: the value given to key; NULL for a password */
	char *note;    /* how it was converted, or why it was ignored; may be NULL */
} SpConfigMapping;

typedef struct {
	char *path; /* the file it came from, or NULL */
	SpDaemonConfig daemon;
	SpPolicyConfig policy;
	SpAudioConfig audio;
	GPtrArray *connections; /* SpConnectionConfig*, owned, sorted by id */
	GPtrArray *warnings;    /* char*: unknown settings etc., to log once at start-up */
	/* The [policy] defaults of the connection keys (keepalive-interval, retry-min, ...): a
	 * template for connections added at run time (copy it, then set id and the rest). */
	SpConnectionConfig *connection_defaults;
	/* A SipEndpoint.config: the layout recognised ("8.5+ (Container Genesys, <settings>)")
	 * and what became of each setting, in file order. NULL and empty for a key file. */
	char *layout;
	GPtrArray *mappings; /* SpConfigMapping*, owned */
} SpConfig;

SpConfig *sp_config_new(void); /* all defaults, no connections */
void sp_config_free(SpConfig *config);
/* Detects the format by content (XML or key file). Errors name file, line/element and key. */
SpConfig *sp_config_load(const char *path, GError **error);
/* For --check-config: what a SipEndpoint.config's settings became (mapped, not supported yet,
 * ignored), passwords hidden; "" for a key file. */
char *sp_config_describe(const SpConfig *config);
/* The default path of SPEC §5 that exists, or NULL. */
char *sp_config_default_path(void);

SpConnectionConfig *sp_connection_config_new(void); /* defaults, id 0 */
SpConnectionConfig *sp_connection_config_copy(const SpConnectionConfig *c);
void sp_connection_config_free(SpConnectionConfig *c);
/* Checks required fields and ranges; fills domain defaults. The message starts with the key
 * ("retry-min: ..."). An id of G_MAXUINT ("any") is accepted. */
gboolean sp_connection_config_validate(SpConnectionConfig *c, GError **error);
/* Sets one option by its key-file name ("reregister-in-seconds", "password-file", ...) from a
 * string; used by the key-file loader and by AddConnection. Booleans are "true"/"false" (also
 * yes/no, on/off, 1/0), times are seconds ("0.5"), an empty string clears an optional key.
 * A relative password-file or ca-file is taken from the working directory. Errors are
 * SP_CONFIG_ERROR_INVALID; an unknown key is named in the message, a bad value is not (the
 * caller prefixes where it came from), and a password is never quoted. */
gboolean sp_connection_config_set(SpConnectionConfig *c, const char *key, const char *value,
				  GError **error);
/* TRUE when key is an option sp_connection_config_set() knows. */
gboolean sp_connection_config_has_key(const char *key);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpConfig, sp_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpConnectionConfig, sp_connection_config_free)

G_END_DECLS
