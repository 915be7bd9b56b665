/* The Genesys SIP Endpoint SDK's SipEndpoint.config (XML), read with GMarkup into SpConfig. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-private.h"

/*
 * The file as the SDK writes it ("Configuring SIP Endpoint SDK for .NET" and "SIP Proxy
 * Support" in the SIP Endpoint SDK Developer's Guide, docs.genesys.com, cited below as
 * [Configuring] and [Proxy]):
 *
 *   <SipEndpoint xmlns="http://schemas.genesyslab.com/2009/sipendpoint">   (any root will do)
 *     <Container name="Basic">
 *       <Connectivity user="5001" server="siteA:5060" protocol="UDP"/>    connection 0, 1, ...
 *     </Container>
 *     <Container name="Genesys">                                          8.5 and later
 *       <settings version="1.0" xmlns="http://www.genesyslab.com/sip">
 *         <domain name="policy"><section name="endpoint">
 *           <setting name="rtp_port_min" value="9000"/>
 *         <domain name="proxies"><section name="proxy0">                  connection 0
 *           <setting name="reg_timeout" value="1800"/>
 *           <section name="nat"> or <setting name="nat"> holding settings  (nested)
 *     <Container name="Cp">                                               8.1 (CounterPath)
 *       <settings xmlns="http://www.counterpath.com/cps"> ... the same domains ...
 *
 * Older files put the <domain>s straight into the Genesys container: read the same way. A
 * setting's place is its path of names, domain/section/.../setting ("proxies/proxy0/
 * reg_timeout"); CounterPath's flat names ("proxies:proxy0:reregister_in_seconds") are split
 * at ':'. GMarkup takes what real files hold as it is: blanks around '=' (name ="Basic"), CRLF
 * line ends, comments anywhere (closing and reopening inside a section), <?xml?> and
 * <!DOCTYPE>; sp_config_load_data() has removed a UTF-8 byte order mark.
 *
 * What each path becomes is the rules[] table below. Settings are applied once the whole
 * document is read, so their order does not matter: the global keys first (connection
 * defaults included), then each connection's <Connectivity> and proxyN settings. Every
 * setting is recorded in config->mappings for --check-config; a setting asking for a feature
 * softphoned lacks is a warning once by name, settings softphoned does not know make one
 * warning together, and settings it knows and has no use for are silent.
 */

typedef enum {
	FRAME_TOP,	/* the root element, or a Container other than Basic: looked into */
	FRAME_BASIC,	/* <Container name="Basic"> */
	FRAME_SETTINGS, /* <settings>: holds <domain>s (or CounterPath's flat <setting>s) */
	FRAME_DOMAIN,	/* <domain name="..."> */
	FRAME_SECTION,	/* <section name="...">; sections nest */
	FRAME_SETTING,	/* <setting name="...">, which may hold further settings */
	FRAME_LEAF,	/* <Connectivity>, <codec> */
	FRAME_SKIP,	/* inside something already reported as ignored */
} FrameKind;

typedef struct {
	FrameKind kind;
	GPtrArray *parts;    /* DOMAIN, SECTION, SETTING: the path to here (char*, owned) */
	char *section;	     /* the innermost section's (or domain's) name, for messages */
	gboolean in_section; /* section is a <section>'s name, not a <domain>'s */
} Frame;

/* One <setting> (or codec entry) as read. */
typedef struct {
	GPtrArray *parts; /* char*, owned: "proxies", "proxy0", "reg_timeout" */
	char *path;	  /* the parts joined with '/' */
	char *where;	  /* for errors: "<section name=\"proxy0\"> reg_timeout" */
	char *value;	  /* NULL: no value attribute */
	gboolean codec;	  /* a codec entry of the codecs domain, not a setting */
	int line, col;
} Item;

#define GLOBAL G_MAXUINT

/* One value to apply once the document is read. */
typedef struct {
	guint target;	     /* connection index, or GLOBAL */
	SpConfigGroup group; /* GLOBAL: the group */
	char *key;	     /* key-file name */
	char *value;
	char *where; /* "<Connectivity> server", "<section name=\"proxy0\"> reg_timeout" */
	int line, col;
	gboolean lower_retry_min; /* retry-max from reg_interval: retry-min follows it down */
} Pending;

/* A <section name="proxyN">, checked against the connections at the end. */
typedef struct {
	guint proxy;
	char *name;
	int line, col;
} Section;

typedef struct {
	const char *path;
	const char *data;
	GArray *line_starts; /* gsize: byte offset of each line */
	/* GMarkup is given the document from its first '<' (it does not count the lines of
	 * leading blanks): what it skipped, to add to its positions. */
	int skipped_lines, skipped_cols;
	GMarkupParseContext *ctx;
	SpConfig *config;
	GArray *stack;	       /* Frame */
	GPtrArray *items;      /* Item* */
	GPtrArray *pending;    /* Pending* */
	GArray *sections;      /* Section */
	guint connections;     /* <Connectivity> elements so far */
	guint tls_connections; /* of which protocol="TLS" */
	gboolean layout_settings, layout_cp, layout_domains;
} Xml;

static void pending_free(Pending *p)
{
	g_free(p->key);
	sp_config_secret_free(p->value);
	g_free(p->where);
	g_free(p);
}

static void item_free(Item *it)
{
	g_ptr_array_unref(it->parts);
	g_free(it->path);
	g_free(it->where);
	sp_config_secret_free(it->value);
	g_free(it);
}

static void frame_clear(Frame *f)
{
	if (f->parts != NULL)
		g_ptr_array_unref(f->parts);
	g_free(f->section);
}

static void section_clear(Section *s)
{
	g_free(s->name);
}

/* ---- positions and messages -------------------------------------------------------------- */

/* GMarkup's current position in the file. */
static void markup_position(Xml *x, int *line, int *col)
{
	g_markup_parse_context_get_position(x->ctx, line, col);
	if (*line == 1)
		*col += x->skipped_cols;
	*line += x->skipped_lines;
}

static gboolean tag_starts(const char *p, const char *element)
{
	gsize n = strlen(element);

	return strncmp(p + 1, element, n) == 0 &&
	       (g_ascii_isspace(p[1 + n]) || p[1 + n] == '/' || p[1 + n] == '>');
}

/*
 * The next character, never past the end of the line or of the text: a UTF-8 lead byte
 * whose continuation bytes are missing (the file is not valid UTF-8) counts as one.
 */
static const char *next_char(const char *p)
{
	if (*p == '\0')
		return p;
	p++;
	while (((guchar)*p & 0xc0) == 0x80)
		p++;
	return p;
}

/* Characters (lead bytes) in [start, end). */
static int count_chars(const char *start, const char *end)
{
	int n = 0;

	for (const char *q = start; q < end; q++)
		n += ((guchar)*q & 0xc0) != 0x80;
	return n;
}

/* Where the current start tag begins: GMarkup reports a position at or after its end. */
static void tag_position(Xml *x, int *line, int *col)
{
	const char *element = g_markup_parse_context_get_element(x->ctx);
	int l = 1, c = 1;
	const char *p;
	const char *start;

	markup_position(x, &l, &c);
	if (element == NULL || l < 1 || (guint)l > x->line_starts->len) {
		*line = l;
		*col = c;
		return;
	}
	p = x->data + g_array_index(x->line_starts, gsize, l - 1);
	for (int i = 1; i < c && *p != '\0' && *p != '\n'; i++)
		p = next_char(p);
	/* GMarkup may have read past the tag: find its '>', then the '<' followed by the
	 * element's name (GMarkup lets a '<' into an attribute value). */
	while (p > x->data && *p != '>') {
		p--;
		if (*p == '\n')
			l--;
	}
	while (p > x->data && !(*p == '<' && tag_starts(p, element))) {
		p--;
		if (*p == '\n')
			l--;
	}
	for (start = p; start > x->data && start[-1] != '\n'; start--)
		;
	*line = l;
	*col = count_chars(start, p) + 1;
}

static void warn_at(Xml *x, int line, int col, const char *format, ...) G_GNUC_PRINTF(4, 5);

static void warn_at(Xml *x, int line, int col, const char *format, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, format);
	msg = g_strdup_vprintf(format, ap);
	va_end(ap);
	sp_config_add_warning(x->config, "%s:%d:%d: %s", x->path, line, col, msg);
}

static void warn(Xml *x, const char *format, ...) G_GNUC_PRINTF(2, 3);

static void warn(Xml *x, const char *format, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;
	int line, col;

	tag_position(x, &line, &col);
	va_start(ap, format);
	msg = g_strdup_vprintf(format, ap);
	va_end(ap);
	sp_config_add_warning(x->config, "%s:%d:%d: %s", x->path, line, col, msg);
}

static gboolean fail(Xml *x, GError **error, const char *format, ...) G_GNUC_PRINTF(3, 4);

static gboolean fail(Xml *x, GError **error, const char *format, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;
	int line, col;

	tag_position(x, &line, &col);
	va_start(ap, format);
	msg = g_strdup_vprintf(format, ap);
	va_end(ap);
	g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID, "%s:%d:%d: %s", x->path, line,
		    col, msg);
	return FALSE;
}

/* ---- reading the document ------------------------------------------------------------------- */

static const char *attribute(const char **names, const char **values, const char *name)
{
	for (gsize i = 0; names[i] != NULL; i++) {
		if (g_ascii_strcasecmp(names[i], name) == 0)
			return values[i];
	}
	return NULL;
}

static gboolean is(const char *a, const char *b)
{
	return a != NULL && b != NULL && g_ascii_strcasecmp(a, b) == 0;
}

static void add_pending(Xml *x, guint target, SpConfigGroup group, const char *key,
			const char *value, const char *where, int line, int col)
{
	Pending *p = g_new0(Pending, 1);

	p->target = target;
	p->group = group;
	p->key = g_strdup(key);
	p->value = g_strdup(value);
	p->where = g_strdup(where);
	p->line = line;
	p->col = col;
	g_ptr_array_add(x->pending, p);
}

static gboolean start_connectivity(Xml *x, const char **names, const char **values, GError **error)
{
	/* [Configuring], "Basic Container": user (the DN), server (host:port of SIP Server) and
	 * protocol (UDP, TCP or TLS); the SDK's reconfiguration API also calls it transport. */
	static const char *const keys[] = {"user", "server", "protocol", "transport"};
	guint index = x->connections++;
	int line, col;

	tag_position(x, &line, &col);
	for (gsize i = 0; names[i] != NULL; i++) {
		gboolean known = FALSE;

		for (gsize k = 0; k < G_N_ELEMENTS(keys); k++)
			known |= is(names[i], keys[k]);
		if (!known)
			warn(x, "unknown attribute \"%s\" of <Connectivity> ignored", names[i]);
	}
	for (gsize k = 0; k < G_N_ELEMENTS(keys); k++) {
		const char *v = attribute(names, values, keys[k]);
		const char *key = k == 3 ? "protocol" : keys[k];
		g_autofree char *where = g_strdup_printf("<Connectivity> %s", keys[k]);
		g_autofree char *setting = NULL;
		g_autofree char *target = NULL;
		g_autofree char *mapped = NULL;

		if (v == NULL && k < 2)
			return fail(x, error, "%s: missing", where);
		if (v == NULL)
			continue;
		if (k == 3 && attribute(names, values, "protocol") != NULL) {
			warn(x, "<Connectivity> has both protocol and transport: protocol counts");
			continue;
		}
		add_pending(x, index, SP_CONFIG_GROUP_DAEMON, key, v, where, line, col);
		setting = g_strdup_printf("Connectivity %u %s", index, keys[k]);
		target = g_strdup_printf("[connection %u] %s", index, key);
		mapped = g_strstrip(g_strdup(v));
		if (k >= 2 && is(mapped, "tls"))
			x->tls_connections++;
		sp_config_add_mapping(x->config, SP_CONFIG_MAPPED, setting, line, col, v, target,
				      mapped, NULL);
	}
	return TRUE;
}

static GPtrArray *parts_new(void)
{
	return g_ptr_array_new_with_free_func(g_free);
}

static GPtrArray *parts_copy(const GPtrArray *parts)
{
	GPtrArray *copy = parts_new();

	for (guint i = 0; parts != NULL && i < parts->len; i++)
		g_ptr_array_add(copy, g_strdup(g_ptr_array_index(parts, i)));
	return copy;
}

static char *parts_join(const GPtrArray *parts)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < parts->len; i++) {
		if (i > 0)
			g_string_append_c(s, '/');
		g_string_append(s, g_ptr_array_index(parts, i));
	}
	return g_string_free(s, FALSE);
}

/* parts + name, CounterPath's "a:b:c" names split; NULL for an empty name. */
static GPtrArray *parts_append(const GPtrArray *parts, const char *name)
{
	g_autoptr(GPtrArray) out = parts_copy(parts);
	g_auto(GStrv) split = g_strsplit(name, ":", -1);

	for (guint i = 0; split[i] != NULL; i++) {
		char *part = g_strstrip(split[i]);

		if (*part == '\0')
			return NULL;
		g_ptr_array_add(out, g_strdup(part));
	}
	return out->len > (parts != NULL ? parts->len : 0) ? g_steal_pointer(&out) : NULL;
}

static void add_item(Xml *x, GPtrArray *parts, const Frame *parent, const char *name,
		     const char *value, gboolean codec)
{
	Item *it = g_new0(Item, 1);

	it->parts = parts;
	it->path = parts_join(parts);
	if (parent->in_section)
		it->where = g_strdup_printf("<section name=\"%s\"> %s", parent->section, name);
	else if (parent->section != NULL)
		it->where = g_strdup_printf("<domain name=\"%s\"> %s", parent->section, name);
	else
		it->where = g_strdup_printf("<setting name=\"%s\">", name);
	it->value = g_strdup(value);
	it->codec = codec;
	tag_position(x, &it->line, &it->col);
	g_ptr_array_add(x->items, it);
}

/* "proxyN" → N */
static gboolean parse_proxy(const char *name, guint *n)
{
	guint64 v = 0;
	const char *p;

	if (name == NULL || g_ascii_strncasecmp(name, "proxy", 5) != 0 || name[5] == '\0')
		return FALSE;
	for (p = name + 5; g_ascii_isdigit(*p); p++) {
		v = v * 10 + (guint64)(*p - '0');
		if (v >= G_MAXUINT)
			return FALSE;
	}
	if (*p != '\0')
		return FALSE;
	*n = (guint)v;
	return TRUE;
}

static gboolean needs_value(const Item *it);

/* A <domain>, <section> or <setting> (or a codec entry) below parent. */
static gboolean start_named(Xml *x, const Frame *parent, const char *element, const char **names,
			    const char **values, Frame *f, GError **error)
{
	const char *name = attribute(names, values, "name");
	const char *value = attribute(names, values, "value");
	gboolean setting = is(element, "setting");
	gboolean codec_domain = parent->parts != NULL && parent->parts->len == 1 &&
				is(g_ptr_array_index(parent->parts, 0), "codecs");
	/* codecs/enabled holds the list of codecs, not a codec. */
	gboolean codec = is(element, "codec") ||
			 (codec_domain && is(element, "section") && !is(name, "enabled"));
	GPtrArray *parts;

	if (name == NULL || *name == '\0') {
		if (setting && parent->section != NULL)
			return fail(x, error, "<setting> in %s \"%s\": name missing",
				    parent->in_section ? "section" : "domain", parent->section);
		warn(x, "<%s> without a name ignored", element);
		return TRUE;
	}
	parts = parts_append(parent->parts, name);
	if (parts == NULL) {
		g_autofree char *q = sp_config_quote(name);

		warn(x, "<%s name=\"%s\"> ignored: not a name", element, q);
		return TRUE;
	}
	if (is(element, "domain")) {
		f->kind = FRAME_DOMAIN;
		f->section = g_strdup(name);
	} else if (setting) {
		f->kind = FRAME_SETTING;
		f->section = g_strdup(parent->section);
		f->in_section = parent->in_section;
		add_item(x, parts_copy(parts), parent, name, value, FALSE);
		/* Said at once, as a truncated file could hide it behind a syntax error. */
		if (value == NULL && needs_value(g_ptr_array_index(x->items, x->items->len - 1))) {
			const Item *it = g_ptr_array_index(x->items, x->items->len - 1);

			g_ptr_array_unref(parts);
			return fail(x, error, "%s: value missing", it->where);
		}
	} else {
		guint n;

		f->kind = FRAME_SECTION;
		f->section = g_strdup(name);
		f->in_section = TRUE;
		if (codec) {
			add_item(x, parts_copy(parts), parent, name, value, TRUE);
			f->kind = is(element, "codec") ? FRAME_LEAF : FRAME_SECTION;
		}
		if (parts->len == 2 && is(g_ptr_array_index(parts, 0), "proxies") &&
		    parse_proxy(name, &n)) {
			Section s = {n, g_strdup(name), 0, 0};

			tag_position(x, &s.line, &s.col);
			g_array_append_val(x->sections, s);
		}
	}
	f->parts = parts;
	return TRUE;
}

static void start_element(GMarkupParseContext *ctx, const char *element, const char **names,
			  const char **values, gpointer user_data, GError **error)
{
	Xml *x = user_data;
	Frame f = {FRAME_SKIP, NULL, NULL, FALSE};
	const Frame *parent =
	    x->stack->len > 0 ? &g_array_index(x->stack, Frame, x->stack->len - 1) : NULL;
	const char *name = attribute(names, values, "name");

	if (parent == NULL) {
		f.kind = FRAME_TOP; /* any root element will do */
		g_array_append_val(x->stack, f);
		return;
	}
	switch (parent->kind) {
	case FRAME_TOP:
		if (is(element, "Container") && is(name, "Basic")) {
			f.kind = FRAME_BASIC;
		} else if (is(element, "Container")) {
			f.kind = FRAME_TOP;
			x->layout_cp |= is(name, "Cp");
		} else if (is(element, "settings")) {
			const char *ns = attribute(names, values, "xmlns");

			f.kind = FRAME_SETTINGS;
			if (ns != NULL && strstr(ns, "counterpath") != NULL)
				x->layout_cp = TRUE;
			else
				x->layout_settings = TRUE;
		} else if (is(element, "domain")) {
			const Frame top = {FRAME_TOP, NULL, NULL, FALSE};

			x->layout_domains = TRUE;
			if (!start_named(x, &top, element, names, values, &f, error)) {
				frame_clear(&f);
				return;
			}
		} else {
			warn(x, "element <%s> ignored", element);
		}
		break;
	case FRAME_BASIC:
		if (is(element, "Connectivity")) {
			f.kind = FRAME_LEAF;
			if (!start_connectivity(x, names, values, error))
				return;
		} else {
			warn(x, "element <%s> in <Container name=\"Basic\"> ignored", element);
		}
		break;
	case FRAME_SETTINGS:
		if (is(element, "domain") || is(element, "setting")) {
			if (!start_named(x, parent, element, names, values, &f, error)) {
				frame_clear(&f);
				return;
			}
		} else {
			warn(x, "element <%s> in <settings> ignored", element);
		}
		break;
	case FRAME_DOMAIN:
	case FRAME_SECTION:
	case FRAME_SETTING:
		if (is(element, "section") || is(element, "setting") || is(element, "codec")) {
			if (parent->kind == FRAME_SETTING && !is(element, "setting"))
				warn(x, "element <%s> inside a <setting> ignored", element);
			else if (!start_named(x, parent, element, names, values, &f, error)) {
				frame_clear(&f);
				return;
			}
		} else {
			warn(x, "element <%s> in %s \"%s\" ignored", element,
			     parent->in_section ? "section" : "domain", parent->section);
		}
		break;
	case FRAME_LEAF:
		warn(x, "element <%s> inside <%s> ignored", element,
		     (const char *)g_markup_parse_context_get_element_stack(ctx)->next->data);
		break;
	case FRAME_SKIP:
		break;
	}
	g_array_append_val(x->stack, f);
}

static void end_element(GMarkupParseContext *ctx, const char *element, gpointer user_data,
			GError **error)
{
	Xml *x = user_data;

	if (x->stack->len > 0)
		g_array_set_size(x->stack, x->stack->len - 1);
}

static const GMarkupParser parser = {
    .start_element = start_element,
    .end_element = end_element,
};

/* ---- what each setting becomes -------------------------------------------------------------- */

typedef enum {
	RULE_CONNECTION,   /* proxyN: the connection key `key` */
	RULE_GLOBAL,	   /* the key `key` of `group` */
	RULE_OWN_KEY,	   /* a softphoned key-file name written with '_' (`group`), else unknown */
	RULE_EXPIRES,	   /* reg_timeout */
	RULE_REREGISTER,   /* reregister_in_seconds */
	RULE_REG_INTERVAL, /* reg_interval */
	RULE_RTP_PORT_MIN, /* rtp_port_min: rounded up to even */
	RULE_QOS,	   /* signaling_qos, audio_qos: a TOS byte, to the DSCP `key` */
	RULE_DEVICE,	   /* audio_in_device, audio_out_device: `key` of [audio] */
	RULE_LOG_LEVEL,	   /* 0..4 */
	RULE_TLS,	   /* tls_enabled */
	RULE_SRTP,	   /* use_srtp: [policy] srtp */
	RULE_CODEC_LIST,   /* codecs/enabled/audio: names in order */
	RULE_CODEC_RANK,   /* policy/codecs/NAME = priority, codecs/NAME/priority */
	RULE_CODEC_ENABLED, /* codecs/NAME/enabled */
	RULE_CODEC_ENTRY,   /* a codec section or <codec> of the codecs domain */
	RULE_UNSUPPORTED,   /* a feature softphoned lacks yet: `why` names it */
	RULE_IGNORED,	    /* of no use to softphoned: `why` says why */
} RuleKind;

typedef struct {
	/* Path parts joined by '/': '*' is any one part, "proxy#" any proxyN, a final "**" any
	 * number of further parts (at least one). Compared without regard to case. */
	const char *pattern;
	RuleKind kind;
	SpConfigGroup group;
	const char *key;
	const char *why;   /* RULE_UNSUPPORTED, RULE_IGNORED; a note for the others */
	const char *needs; /* RULE_UNSUPPORTED: a sibling setting it only matters with */
} Rule;

#define NO_VIDEO "softphoned has no video"
#define NO_NAT "NAT traversal (ICE, STUN, TURN)"
#define NO_MAILBOX "voicemail (message-waiting) subscriptions"
#define OWN_AUDIO "the SDK's audio engine tuning; softphoned's audio has its own"
#define OWN_LOG "softphoned logs to the journal or stderr; log_level sets how much"

/* First match wins. */
/* clang-format off */
static const Rule rules[] = {
	/* [Configuring], "Timeout Issue": reg_timeout is the registration's expiry in seconds,
	 * valid only when numeric; empty, non-numeric or 0 is taken as 0, the standalone mode
	 * (no registration). */
	{"proxies/proxy#/reg_timeout", RULE_EXPIRES},
	/* The 8.1 (CounterPath) name of the same expiry: the Expires asked for in REGISTER. */
	{"proxies/proxy#/reregister_in_seconds", RULE_REREGISTER},
	/* [Proxy]: the period after which the endpoint starts a new registration cycle when its
	 * SIP Server does not answer. */
	{"proxies/proxy#/reg_interval", RULE_REG_INTERVAL},
	/* [Configuring]: the DN's password and the name shown to the far end. */
	{"proxies/proxy#/password", RULE_CONNECTION, 0, "password"},
	{"proxies/proxy#/display_name", RULE_CONNECTION, 0, "display-name"},
	{"proxies/proxy#/reg_match_received_rport", RULE_UNSUPPORTED, 0, NULL,
	 "re-registering with the address the server saw (received/rport)"},
	{"proxies/proxy#/nat", RULE_UNSUPPORTED, 0, NULL, NO_NAT},
	{"proxies/proxy#/nat/**", RULE_UNSUPPORTED, 0, NULL, NO_NAT},
	{"proxies/proxy#/mailbox", RULE_UNSUPPORTED, 0, NULL, NO_MAILBOX},
	{"proxies/proxy#/mailbox/**", RULE_UNSUPPORTED, 0, NULL, NO_MAILBOX},
	{"proxies/proxy#/*", RULE_OWN_KEY, SP_CONFIG_GROUP_DAEMON},
	{"mailboxes/**", RULE_UNSUPPORTED, 0, NULL, NO_MAILBOX},

	/* [Configuring], policy/endpoint: the UDP port range of RTP, and how long a call may go
	 * without RTP before it is ended. */
	{"policy/endpoint/rtp_port_min", RULE_RTP_PORT_MIN, SP_CONFIG_GROUP_DAEMON, "rtp-port-min"},
	{"policy/endpoint/rtp_port_max", RULE_GLOBAL, SP_CONFIG_GROUP_DAEMON, "rtp-port-max"},
	{"policy/endpoint/rtp_inactivity_timeout", RULE_GLOBAL, SP_CONFIG_GROUP_POLICY,
	 "rtp-inactivity-timeout"},
	/* [Configuring], the IPv6 section: public_address is applied to the SIP provider when the
	 * endpoint is created, the address it gives out (Contact, Via, SDP) for every
	 * connection; empty: the local one. */
	{"policy/endpoint/public_address", RULE_GLOBAL, SP_CONFIG_GROUP_POLICY, "public-address"},
	/* [Configuring]: the range of ports SIP listens on. */
	{"policy/endpoint/sip_port_min", RULE_GLOBAL, SP_CONFIG_GROUP_DAEMON, "sip-port-min"},
	{"policy/endpoint/sip_port_max", RULE_GLOBAL, SP_CONFIG_GROUP_DAEMON, "sip-port-max"},
	/* [Configuring], "QoS Bits": packets are marked by setting their QoS (TOS) bits, the
	 * value being the IP header's TOS byte; its upper six bits are the DSCP softphoned's
	 * keys take. */
	{"policy/endpoint/signaling_qos", RULE_QOS, SP_CONFIG_GROUP_DAEMON, "sip-dscp"},
	{"policy/endpoint/audio_qos", RULE_QOS, SP_CONFIG_GROUP_DAEMON, "rtp-dscp"},
	{"policy/endpoint/video_qos", RULE_IGNORED, 0, NULL, NO_VIDEO},
	/* [Configuring]: whether the User-Agent header names the operating system's version. */
	{"policy/endpoint/include_os_version_in_user_agent_header", RULE_GLOBAL,
	 SP_CONFIG_GROUP_DAEMON, "user-agent-os-version"},
	{"policy/endpoint/ip_versions", RULE_IGNORED, 0, NULL,
	 "softphoned takes the address family of each server's address"},
	{"policy/endpoint/sip_transaction_timeout", RULE_UNSUPPORTED, 0, NULL,
	 "one timeout for every SIP transaction (reg-timeout covers REGISTER)"},
	{"policy/endpoint/video_*", RULE_IGNORED, 0, NULL, NO_VIDEO},

	/* [Configuring], policy/session: answer every call at once; how DTMF is sent
	 * (Rfc2833, Info or InbandRtp); what to do when no headset is there. */
	{"policy/session/auto_answer", RULE_GLOBAL, SP_CONFIG_GROUP_POLICY, "auto-answer"},
	{"policy/session/dtmf_method", RULE_GLOBAL, SP_CONFIG_GROUP_POLICY, "dtmf-method"},
	{"policy/session/reject_session_when_headset_na", RULE_GLOBAL, SP_CONFIG_GROUP_POLICY,
	 "reject-when-no-device"},
	{"policy/session/sip_code_when_headset_na", RULE_GLOBAL, SP_CONFIG_GROUP_POLICY,
	 "reject-code"},
	{"policy/session/agc_mode", RULE_IGNORED, 0, NULL, OWN_AUDIO},
	{"policy/session/echo_control", RULE_IGNORED, 0, NULL, OWN_AUDIO},
	{"policy/session/noise_suppression", RULE_IGNORED, 0, NULL, OWN_AUDIO},
	{"policy/session/vad_level", RULE_IGNORED, 0, NULL, OWN_AUDIO},
	{"policy/session/auto_accept_video", RULE_IGNORED, 0, NULL, NO_VIDEO},
	{"policy/session/*", RULE_OWN_KEY, SP_CONFIG_GROUP_POLICY},

	/* [Configuring], policy/device: the microphone and the speaker. */
	{"policy/device/audio_in_device", RULE_DEVICE, SP_CONFIG_GROUP_AUDIO, "capture"},
	{"policy/device/audio_out_device", RULE_DEVICE, SP_CONFIG_GROUP_AUDIO, "playback"},
	{"policy/device/use_headset", RULE_UNSUPPORTED, 0, NULL, "headset detection"},
	{"policy/device/headset_name", RULE_UNSUPPORTED, 0, NULL, "headset detection",
	 "use_headset"},
	{"policy/device/capture_device", RULE_IGNORED, 0, NULL, NO_VIDEO},

	/* The codecs in order of preference: a priority per codec in policy/codecs, the list
	 * codecs/enabled/audio, or the order of the codecs domain's entries. */
	{"policy/codecs/*", RULE_CODEC_RANK},
	{"codecs/enabled/audio", RULE_CODEC_LIST},
	{"codecs/enabled/video", RULE_IGNORED, 0, NULL, NO_VIDEO},
	{"codecs/*", RULE_CODEC_ENTRY},
	{"codecs/*/priority", RULE_CODEC_RANK},
	{"codecs/*/enabled", RULE_CODEC_ENABLED},
	{"codecs/*/**", RULE_IGNORED, 0, NULL,
	 "codec parameters (payload type, fmtp) are softphoned's own"},

	/* [Configuring], system/diagnostics: log_level from 0 (fewest messages) to 4 (most). */
	{"system/diagnostics/log_level", RULE_LOG_LEVEL, SP_CONFIG_GROUP_DAEMON, "log-level"},
	{"system/diagnostics/**", RULE_IGNORED, 0, NULL, OWN_LOG},
	/* [Configuring], system/security: TLS at all, and SRTP. */
	{"system/security/tls_enabled", RULE_TLS},
	{"system/security/use_srtp", RULE_SRTP, SP_CONFIG_GROUP_POLICY, "srtp"},
	{"system/security/*", RULE_UNSUPPORTED, 0, NULL,
	 "TLS settings of the SDK (use the key file's ca-file and tls-verify)"},
};
/* clang-format on */

static gboolean match(char **pat, const GPtrArray *parts, guint *proxy)
{
	guint n = g_strv_length(pat);

	for (guint i = 0; i < n; i++) {
		const char *part = i < parts->len ? g_ptr_array_index(parts, i) : NULL;

		if (strcmp(pat[i], "**") == 0)
			return i + 1 == n && part != NULL;
		if (part == NULL)
			return FALSE;
		if (strcmp(pat[i], "proxy#") == 0) {
			if (!parse_proxy(part, proxy))
				return FALSE;
		} else if (g_str_has_suffix(pat[i], "*") && strlen(pat[i]) > 1) {
			if (g_ascii_strncasecmp(part, pat[i], strlen(pat[i]) - 1) != 0)
				return FALSE;
		} else if (strcmp(pat[i], "*") != 0 && g_ascii_strcasecmp(pat[i], part) != 0) {
			return FALSE;
		}
	}
	return parts->len == n;
}

static const Rule *find_rule(const Item *it, guint *proxy)
{
	/* The patterns split once, kept for the life of the process. */
	static char **split[G_N_ELEMENTS(rules)];
	static gsize once;

	if (g_once_init_enter(&once)) {
		for (gsize i = 0; i < G_N_ELEMENTS(rules); i++)
			split[i] = g_strsplit(rules[i].pattern, "/", -1);
		g_once_init_leave(&once, 1);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(rules); i++) {
		if (match(split[i], it->parts, proxy))
			return &rules[i];
	}
	return NULL;
}

static const char *item_name(const Item *it)
{
	return g_ptr_array_index(it->parts, it->parts->len - 1);
}

/* A value that asks for nothing: empty, 0, false, off, ... */
static gboolean is_off(const char *value)
{
	static const char *const off[] = {"", "0", "false", "no", "off", "disabled", "none"};
	g_autofree char *v = g_strstrip(g_strdup(value != NULL ? value : ""));

	for (gsize i = 0; i < G_N_ELEMENTS(off); i++) {
		if (g_ascii_strcasecmp(v, off[i]) == 0)
			return TRUE;
	}
	return FALSE;
}

/* A whole number of seconds as the SDK reads one: digits only, else -1. */
static gint64 sdk_number(const char *value)
{
	g_autofree char *v = g_strstrip(g_strdup(value != NULL ? value : ""));
	guint64 n = 0;

	if (*v == '\0' || v[strspn(v, "0123456789")] != '\0')
		return -1;
	for (const char *p = v; *p != '\0'; p++) {
		n = n * 10 + (guint64)(*p - '0');
		if (n > G_MAXINT64 / 10)
			return G_MAXINT64 / 10;
	}
	return (gint64)n;
}

/* One codec the file names, with its place in the order. */
typedef struct {
	char *name; /* as written, without "/rate/channels" */
	const Item *item;
	gint64 rank;	  /* lower first; G_MAXINT64: by file order */
	gboolean enabled; /* FALSE: priority 0 or enabled=0 */
	gboolean listed;  /* named by codecs/enabled/audio */
	guint order;	  /* file order */
} Codec;

typedef struct {
	GArray *entries;  /* Codec: from codec entries and priorities */
	const Item *list; /* codecs/enabled/audio, the last one */
} Codecs;

static void codec_clear(Codec *c)
{
	g_free(c->name);
}

/* The canonical name softphoned uses ("PCMU"), "telephone-event", or NULL. */
static const char *codec_canonical(const char *name)
{
	/* clang-format off */
	static const struct {
		const char *alias;
		const char *name;
	} names[] = {
		{"opus", "opus"}, {"g722", "G722"}, {"pcmu", "PCMU"}, {"pcma", "PCMA"},
		{"g711u", "PCMU"}, {"g711a", "PCMA"}, {"g711-ulaw", "PCMU"}, {"g711-alaw", "PCMA"},
		{"telephone-event", "telephone-event"},
	};
	/* clang-format on */

	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		if (g_ascii_strcasecmp(name, names[i].alias) == 0)
			return names[i].name;
	}
	return NULL;
}

static Codec *codec_entry(Codecs *codecs, const char *written)
{
	g_autofree char *name = g_strdup(written);
	char *slash = strchr(name, '/');
	Codec c = {NULL, NULL, G_MAXINT64, TRUE, FALSE, codecs->entries->len};

	if (slash != NULL)
		*slash = '\0';
	g_strstrip(name);
	for (guint i = 0; i < codecs->entries->len; i++) {
		Codec *e = &g_array_index(codecs->entries, Codec, i);

		if (g_ascii_strcasecmp(e->name, name) == 0)
			return e;
	}
	c.name = g_steal_pointer(&name);
	g_array_append_val(codecs->entries, c);
	return &g_array_index(codecs->entries, Codec, codecs->entries->len - 1);
}

static int compare_codecs(gconstpointer a, gconstpointer b)
{
	const Codec *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

typedef struct {
	Xml *x;
	GHashTable *warned;  /* rule patterns already warned of as not supported */
	GPtrArray *unknown;  /* paths of settings no rule knows */
	GHashTable *expires; /* proxy index + 1 of the proxies whose reg_timeout counts */
	GHashTable *by_path; /* lower-case path → the last Item with a value there */
	Codecs codecs;
} Map;

/* A password's value is never shown, wherever it is (mailboxes have them too). */
static gboolean is_secret(const Item *it)
{
	g_autofree char *name = g_ascii_strdown(item_name(it), -1);

	return strstr(name, "pass") != NULL && strstr(name, "file") == NULL;
}

static void record(Map *m, const Item *it, SpConfigMappingKind kind, const char *key,
		   const char *mapped, const char *note)
{
	gboolean secret = is_secret(it);

	sp_config_add_mapping(m->x->config, kind, it->path, it->line, it->col,
			      secret ? NULL : it->value, key, secret ? NULL : mapped, note);
}

static void unsupported(Map *m, const Item *it, const Rule *r, const char *needs_value)
{
	g_autofree char *q = NULL;

	/* A setting holding settings: they speak for themselves. */
	if (it->value == NULL && !it->codec)
		return;
	/* Asking for nothing (off, empty), it costs nothing to ignore. */
	if (is_off(it->value) || (r->needs != NULL && is_off(needs_value))) {
		g_autofree char *note = g_strdup_printf("off; not supported yet: %s", r->why);

		record(m, it, SP_CONFIG_IGNORED, NULL, NULL, note);
		return;
	}
	record(m, it, SP_CONFIG_UNSUPPORTED, NULL, NULL, r->why);
	if (g_hash_table_contains(m->warned, r->pattern))
		return;
	g_hash_table_add(m->warned, (char *)r->pattern);
	if (it->value == NULL) {
		warn_at(m->x, it->line, it->col, "%s: not supported yet (%s), ignored", it->path,
			r->why);
		return;
	}
	if (is_secret(it)) {
		warn_at(m->x, it->line, it->col, "%s: not supported yet (%s), ignored", it->path,
			r->why);
		return;
	}
	q = sp_config_quote(it->value);
	warn_at(m->x, it->line, it->col, "%s=\"%s\": not supported yet (%s), ignored", it->path, q,
		r->why);
}

/* The value of a sibling setting (same parent path), or NULL. */
static const char *sibling_value(Map *m, const Item *it, const char *name)
{
	g_autofree char *parent = g_strndup(it->path, strlen(it->path) - strlen(item_name(it)));
	g_autofree char *path = g_strconcat(parent, name, NULL);
	g_autofree char *lower = g_ascii_strdown(path, -1);
	const Item *found = g_hash_table_lookup(m->by_path, lower);

	return found != NULL ? found->value : NULL;
}

static void map_to(Map *m, const Item *it, guint target, SpConfigGroup group, const char *key,
		   const char *value, const char *note)
{
	g_autofree char *label = NULL;
	g_autofree char *mapped = g_strstrip(g_strdup(value));

	if (target == GLOBAL)
		label = g_strdup_printf("[%s] %s", sp_config_group_name(group), key);
	else
		label = g_strdup_printf("[connection %u] %s", target, key);
	add_pending(m->x, target, group, key, value, it->where, it->line, it->col);
	record(m, it, SP_CONFIG_MAPPED, label, mapped, note);
}

/* Setting names written as key-file names with '_' for '-'. */
static char *setting_key(const char *name)
{
	char *key = g_ascii_strdown(name, -1);

	g_strdelimit(key, "_", '-');
	return key;
}

/* A setting that sets a key: without a value it is a mistake, not a group of settings. */
static gboolean needs_value(const Item *it)
{
	guint proxy = 0;
	const Rule *r = find_rule(it, &proxy);
	g_autofree char *key = NULL;

	if (r == NULL || r->kind == RULE_UNSUPPORTED || r->kind == RULE_IGNORED ||
	    r->kind == RULE_CODEC_ENTRY)
		return FALSE;
	if (r->kind != RULE_OWN_KEY)
		return TRUE;
	key = setting_key(item_name(it));
	return g_str_has_prefix(r->pattern, "proxies/") ? sp_connection_config_has_key(key)
							: sp_config_has_key(r->group, key);
}

static gboolean map_item(Map *m, const Item *it, GError **error)
{
	guint proxy = 0;
	const Rule *r = find_rule(it, &proxy);
	guint target = GLOBAL;
	g_autofree char *key = NULL;
	g_autofree char *note = NULL;
	gint64 n;

	if (r == NULL) {
		/* A setting holding settings has no value of its own. */
		if (it->value != NULL || it->codec)
			g_ptr_array_add(m->unknown, it->path);
		if (it->value != NULL)
			record(m, it, SP_CONFIG_IGNORED, NULL, NULL, "not known to softphoned");
		return TRUE;
	}
	if (g_str_has_prefix(r->pattern, "proxies/proxy#")) {
		target = proxy;
		if (proxy >= m->x->connections) {
			note = g_strdup_printf("there is no Connectivity %u", proxy);
			record(m, it, SP_CONFIG_IGNORED, NULL, NULL, note);
			return TRUE;
		}
	}
	switch (r->kind) {
	case RULE_UNSUPPORTED:
		unsupported(m, it, r, r->needs != NULL ? sibling_value(m, it, r->needs) : NULL);
		return TRUE;
	case RULE_IGNORED:
		if (it->value != NULL)
			record(m, it, SP_CONFIG_IGNORED, NULL, NULL, r->why);
		return TRUE;
	case RULE_CODEC_ENTRY:
		break;
	default:
		if (it->value == NULL) {
			g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID,
				    "%s:%d:%d: %s: value missing", m->x->path, it->line, it->col,
				    it->where);
			return FALSE;
		}
		break;
	}
	/* The SDK's files carry empty placeholders (password=""): they set nothing. */
	if (it->value != NULL && it->value[strspn(it->value, " \t\r\n")] == '\0' &&
	    r->kind != RULE_EXPIRES && r->kind != RULE_CODEC_ENTRY) {
		record(m, it, SP_CONFIG_IGNORED, NULL, NULL, "empty: the default is kept");
		return TRUE;
	}
	switch (r->kind) {
	case RULE_CONNECTION:
		map_to(m, it, target, SP_CONFIG_GROUP_DAEMON, r->key, it->value, NULL);
		return TRUE;
	case RULE_GLOBAL:
		map_to(m, it, GLOBAL, r->group, r->key, it->value, NULL);
		return TRUE;
	case RULE_OWN_KEY:
		key = setting_key(item_name(it));
		if (target != GLOBAL ? sp_connection_config_has_key(key)
				     : sp_config_has_key(r->group, key)) {
			map_to(m, it, target, r->group, key, it->value, "softphoned's own key");
			return TRUE;
		}
		g_ptr_array_add(m->unknown, it->path);
		record(m, it, SP_CONFIG_IGNORED, NULL, NULL, "not known to softphoned");
		return TRUE;
	case RULE_EXPIRES:
		n = sdk_number(it->value);
		if (n > 0) {
			g_autofree char *v = g_strdup_printf("%" G_GINT64_FORMAT, n);

			map_to(m, it, target, SP_CONFIG_GROUP_DAEMON, "reregister-in-seconds", v,
			       "the registration expiry (Expires of REGISTER)");
			return TRUE;
		}
		note = g_strdup_printf("empty, 0 or not a number: the SDK's standalone mode (no "
				       "registration), not supported: connection %u registers "
				       "(Expires %u)",
				       target,
				       m->x->config->connection_defaults->reregister_in_seconds);
		record(m, it, SP_CONFIG_UNSUPPORTED, NULL, NULL, note);
		warn_at(m->x, it->line, it->col, "%s: %s", it->path, note);
		return TRUE;
	case RULE_REREGISTER:
		if (g_hash_table_contains(m->expires, GUINT_TO_POINTER(target + 1))) {
			record(m, it, SP_CONFIG_IGNORED, NULL, NULL,
			       "reg_timeout in the same section sets the expiry");
			return TRUE;
		}
		if (sdk_number(it->value) == 0) {
			record(m, it, SP_CONFIG_UNSUPPORTED, NULL, NULL,
			       "0 (never refresh the registration) is not supported: the default "
			       "expiry is kept");
			warn_at(m->x, it->line, it->col,
				"%s: 0 (never refresh the registration) is not supported, ignored",
				it->path);
			return TRUE;
		}
		map_to(m, it, target, SP_CONFIG_GROUP_DAEMON, "reregister-in-seconds", it->value,
		       "the registration expiry (Expires of REGISTER)");
		return TRUE;
	case RULE_REG_INTERVAL:
		n = sdk_number(it->value);
		if (n <= 0) {
			record(m, it, SP_CONFIG_IGNORED, NULL, NULL,
			       "0 or not a number: softphoned always tries a failed registration "
			       "again");
			return TRUE;
		}
		map_to(m, it, target, SP_CONFIG_GROUP_DAEMON, "retry-max", it->value,
		       "the longest wait between registrations after a failure");
		((Pending *)g_ptr_array_index(m->x->pending, m->x->pending->len - 1))
		    ->lower_retry_min = TRUE;
		return TRUE;
	case RULE_RTP_PORT_MIN:
		n = sdk_number(it->value);
		if (n > 0 && n < 65535 && n % 2 == 1) {
			g_autofree char *v = g_strdup_printf("%" G_GINT64_FORMAT, n + 1);

			map_to(m, it, GLOBAL, r->group, r->key, v,
			       "rounded up to even: RTP takes even ports, RTCP the next");
			return TRUE;
		}
		map_to(m, it, GLOBAL, r->group, r->key, it->value, NULL);
		return TRUE;
	case RULE_QOS: {
		g_autofree char *v = NULL;

		n = sdk_number(it->value);
		if (n < 0 || n > 255) {
			record(m, it, SP_CONFIG_IGNORED, NULL, NULL,
			       "not a TOS byte (0 to 255): packets stay unmarked");
			warn_at(m->x, it->line, it->col, "%s: not a TOS byte (0 to 255), ignored",
				it->path);
			return TRUE;
		}
		v = g_strdup_printf("%" G_GINT64_FORMAT, n >> 2);
		if (n % 4 != 0) {
			/* The two low bits are ECN's, not the sender's to set. A small value may
			 * have been meant as a DSCP: say what its TOS byte would be. */
			note =
			    g_strdup_printf("TOS byte %" G_GINT64_FORMAT ": DSCP %" G_GINT64_FORMAT
					    ", its two low (ECN) bits dropped%s",
					    n, n >> 2, n < 64 ? " (for DSCP " : "");
			if (n < 64) {
				char *more = g_strdup_printf("%s%" G_GINT64_FORMAT
							     ", write %" G_GINT64_FORMAT ")",
							     note, n, n << 2);

				g_free(note);
				note = more;
			}
			warn_at(m->x, it->line, it->col, "%s: %s", it->path, note);
		} else {
			note = g_strdup_printf(
			    "TOS byte %" G_GINT64_FORMAT ": DSCP %" G_GINT64_FORMAT, n, n >> 2);
		}
		map_to(m, it, GLOBAL, r->group, r->key, v, note);
		return TRUE;
	}
	case RULE_DEVICE:
		map_to(m, it, GLOBAL, r->group, r->key, it->value,
		       "an ALSA PCM name (aplay -L); a Windows device name will not open");
		return TRUE;
	case RULE_LOG_LEVEL: {
		static const char *const levels[] = {"error", "warning", "message", "info",
						     "debug"};

		n = sdk_number(it->value);
		if (n >= 0 && n < (gint64)G_N_ELEMENTS(levels)) {
			map_to(m, it, GLOBAL, r->group, r->key, levels[n], NULL);
			return TRUE;
		}
		/* softphoned's own names (error ... debug) are taken too; others fail. */
		if (n < 0) {
			map_to(m, it, GLOBAL, r->group, r->key, it->value, NULL);
			return TRUE;
		}
		g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID,
			    "%s:%d:%d: %s: must be 0 to 4 (got %" G_GINT64_FORMAT ")", m->x->path,
			    it->line, it->col, it->where, n);
		return FALSE;
	}
	case RULE_TLS:
		if (!is_off(it->value)) {
			record(m, it, SP_CONFIG_IGNORED, NULL, NULL,
			       "TLS is used by each Connectivity whose protocol is TLS");
			return TRUE;
		}
		record(m, it, SP_CONFIG_IGNORED, NULL, NULL,
		       m->x->tls_connections > 0 ? "a Connectivity with protocol TLS still uses TLS"
						 : "no Connectivity uses TLS");
		if (m->x->tls_connections > 0)
			warn_at(m->x, it->line, it->col,
				"%s is off, but a <Connectivity> has protocol TLS: it uses TLS",
				it->path);
		return TRUE;
	case RULE_SRTP: {
		/*
		 * The SDK's words for SRTP: disabled, optional (offered, plain RTP accepted) and
		 * mandatory (enabled and force taken as mandatory too); 0/1 as booleans.
		 */
		static const struct {
			const char *sdk, *mode;
		} words[] = {
		    {"disabled", "off"},	{"off", "off"},		  {"0", "off"},
		    {"false", "off"},		{"optional", "optional"}, {"prefer", "optional"},
		    {"mandatory", "mandatory"}, {"enabled", "mandatory"}, {"force", "mandatory"},
		    {"1", "mandatory"},		{"true", "mandatory"},
		};
		g_autofree char *v = g_strstrip(g_strdup(it->value ? it->value : ""));

		for (gsize i = 0; i < G_N_ELEMENTS(words); i++) {
			if (g_ascii_strcasecmp(v, words[i].sdk) == 0) {
				map_to(m, it, GLOBAL, r->group, r->key, words[i].mode,
				       "SRTP (SDES) for every connection");
				return TRUE;
			}
		}
		record(m, it, SP_CONFIG_UNSUPPORTED, NULL, NULL,
		       "not disabled, optional or mandatory: the default is kept");
		warn_at(m->x, it->line, it->col,
			"%s: \"%s\" is not disabled, optional or mandatory", it->path, v);
		return TRUE;
	}
	case RULE_CODEC_LIST:
		m->codecs.list = it;
		return TRUE;
	case RULE_CODEC_ENTRY:
		codec_entry(&m->codecs, item_name(it))->item = it;
		return TRUE;
	case RULE_CODEC_RANK: {
		/* policy/codecs/NAME or codecs/NAME/priority */
		const char *name = g_ptr_array_index(
		    it->parts,
		    it->parts->len == 3 && is(g_ptr_array_index(it->parts, 0), "codecs") ? 1 : 2);
		Codec *c = codec_entry(&m->codecs, name);

		if (c->item == NULL)
			c->item = it;
		n = sdk_number(it->value);
		c->rank = n > 0 ? n : G_MAXINT64;
		c->enabled = n != 0;
		return TRUE;
	}
	case RULE_CODEC_ENABLED: {
		Codec *c = codec_entry(&m->codecs, g_ptr_array_index(it->parts, 1));

		if (c->item == NULL)
			c->item = it;
		c->enabled = !is_off(it->value);
		return TRUE;
	}
	case RULE_UNSUPPORTED:
	case RULE_IGNORED:
		break;
	}
	g_return_val_if_reached(FALSE);
}

/* The codec settings become one [audio] codecs value. */
static void map_codecs(Map *m)
{
	Codecs *cs = &m->codecs;
	g_autoptr(GString) order = g_string_new(NULL);
	g_autoptr(GString) left_out = g_string_new(NULL);
	const Item *first = NULL;
	guint position = 0;

	if (cs->list != NULL) {
		g_auto(GStrv) names = g_strsplit(cs->list->value, ",", -1);

		/* The list decides; codec entries and priorities only carry parameters. */
		for (guint i = 0; names[i] != NULL; i++) {
			Codec *c;

			if (*g_strstrip(names[i]) == '\0')
				continue;
			c = codec_entry(cs, names[i]);
			c->item = cs->list;
			c->enabled = TRUE;
			c->listed = TRUE;
			c->rank = i;
		}
	}
	g_array_sort(cs->entries, compare_codecs);
	for (guint i = 0; i < cs->entries->len; i++) {
		const Codec *c = &g_array_index(cs->entries, Codec, i);
		const char *canonical = codec_canonical(c->name);
		g_autofree char *note = NULL;

		if (cs->list != NULL && !c->listed) {
			record(m, c->item, SP_CONFIG_IGNORED, NULL, NULL,
			       "not in codecs/enabled/audio");
			continue;
		}
		if (!c->enabled) {
			record(m, c->item, SP_CONFIG_IGNORED, NULL, NULL, "disabled");
			continue;
		}
		if (canonical == NULL) {
			note = g_strdup_printf("codec %s: softphoned has opus, G722, PCMU and PCMA",
					       c->name);
			sp_config_add_mapping(m->x->config, SP_CONFIG_UNSUPPORTED, c->item->path,
					      c->item->line, c->item->col,
					      c->item == cs->list ? c->name : c->item->value, NULL,
					      NULL, note);
			g_string_append_printf(left_out, "%s%s", left_out->len ? ", " : "",
					       c->name);
			continue;
		}
		if (strcmp(canonical, "telephone-event") == 0) {
			sp_config_add_mapping(m->x->config, SP_CONFIG_IGNORED, c->item->path,
					      c->item->line, c->item->col,
					      c->item == cs->list ? c->name : c->item->value, NULL,
					      NULL, "always offered (RFC 4733 DTMF)");
			continue;
		}
		if (strstr(order->str, canonical) != NULL)
			continue;
		g_string_append_printf(order, "%s%s", order->len ? "," : "", canonical);
		note = g_strdup_printf("codec %u in the order", ++position);
		sp_config_add_mapping(m->x->config, SP_CONFIG_MAPPED, c->item->path, c->item->line,
				      c->item->col, c->item == cs->list ? c->name : c->item->value,
				      "[audio] codecs", canonical, note);
		if (first == NULL)
			first = c->item;
	}
	if (left_out->len > 0)
		sp_config_add_warning(
		    m->x->config, "%s: codecs not supported yet, left out of [audio] codecs: %s",
		    m->x->path, left_out->str);
	if (order->len > 0) {
		const Item *at = cs->list != NULL ? cs->list : first;

		add_pending(m->x, GLOBAL, SP_CONFIG_GROUP_AUDIO, "codecs", order->str,
			    cs->list != NULL ? cs->list->where : "codecs", at->line, at->col);
	} else if (left_out->len > 0) {
		sp_config_add_warning(
		    m->x->config,
		    "%s: no codec softphoned has is enabled: [audio] codecs keeps "
		    "its default (" SP_AUDIO_CODECS_DEFAULT ")",
		    m->x->path);
	}
}

static gboolean map_items(Xml *x, GError **error)
{
	Map m = {
	    .x = x,
	    .warned = g_hash_table_new(g_str_hash, g_str_equal),
	    .unknown = g_ptr_array_new(),
	    .expires = g_hash_table_new(g_direct_hash, g_direct_equal),
	    .by_path = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
	    .codecs = {g_array_new(FALSE, FALSE, sizeof(Codec)), NULL},
	};
	g_autoptr(GHashTable) firsts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	gboolean ok = TRUE;

	g_array_set_clear_func(m.codecs.entries, (GDestroyNotify)codec_clear);
	/* A numeric reg_timeout decides the expiry over reregister_in_seconds, wherever each is. */
	for (guint i = 0; i < x->items->len; i++) {
		const Item *it = g_ptr_array_index(x->items, i);
		guint proxy = 0;
		const Rule *r = find_rule(it, &proxy);

		if (r != NULL && r->kind == RULE_EXPIRES && sdk_number(it->value) > 0)
			g_hash_table_add(m.expires, GUINT_TO_POINTER(proxy + 1));
		if (it->value != NULL)
			g_hash_table_insert(m.by_path, g_ascii_strdown(it->path, -1), (gpointer)it);
	}
	for (guint i = 0; ok && i < x->items->len; i++) {
		const Item *it = g_ptr_array_index(x->items, i);
		char *lower = g_ascii_strdown(it->path, -1);
		const Item *before = g_hash_table_lookup(firsts, lower);

		if (it->value != NULL && before != NULL)
			warn_at(x, it->line, it->col,
				"%s: given again (first at %d:%d); the last value counts", it->path,
				before->line, before->col);
		if (it->value != NULL && before == NULL)
			g_hash_table_insert(firsts, lower, (gpointer)it);
		else
			g_free(lower);
		ok = map_item(&m, it, error);
	}
	if (ok)
		map_codecs(&m);
	if (ok && m.unknown->len > 0) {
		g_autoptr(GString) names = g_string_new(NULL);

		for (guint i = 0; i < m.unknown->len && i < 8; i++)
			g_string_append_printf(names, "%s%s", i > 0 ? ", " : "",
					       (const char *)g_ptr_array_index(m.unknown, i));
		if (m.unknown->len > 8)
			g_string_append_printf(names, " and %u more", m.unknown->len - 8);
		sp_config_add_warning(x->config,
				      "%s: %u setting%s not known to softphoned ignored: %s (see "
				      "softphoned --check-config)",
				      x->path, m.unknown->len, m.unknown->len == 1 ? "" : "s",
				      names->str);
	}
	g_hash_table_unref(m.warned);
	g_ptr_array_unref(m.unknown);
	g_hash_table_unref(m.expires);
	g_hash_table_unref(m.by_path);
	g_array_unref(m.codecs.entries);
	return ok;
}

/* ---- applying the values ----------------------------------------------------------------- */

/* An error at the element a value came from; where names it ("<Connectivity> server"). */
static gboolean fail_at(Xml *x, int line, int col, const char *where, GError *cause, GError **error)
{
	g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID, "%s:%d:%d: %s: %s", x->path,
		    line, col, where, cause->message);
	g_error_free(cause);
	return FALSE;
}

static gboolean fail_pending(Xml *x, const Pending *p, GError *cause, GError **error)
{
	return fail_at(x, p->line, p->col, p->where, cause, error);
}

/* The last value given to key (of group, for GLOBAL) in pending. */
static const Pending *find_pending(GPtrArray *pending, guint target, SpConfigGroup group,
				   const char *key)
{
	const Pending *found = NULL;

	for (guint i = 0; key != NULL && i < pending->len; i++) {
		const Pending *p = g_ptr_array_index(pending, i);

		if (p->target == target && (target != GLOBAL || p->group == group) &&
		    strcmp(p->key, key) == 0)
			found = p;
	}
	return found;
}

static gboolean apply_connection(Xml *x, guint id, GPtrArray *pending, const char *dir,
				 GError **error)
{
	g_autoptr(SpConnectionConfig) c = sp_connection_config_copy(x->config->connection_defaults);
	g_autoptr(GHashTable) keys = g_hash_table_new(g_str_hash, g_str_equal);
	const Pending *at;
	const char *bad = NULL;
	GError *cause = NULL;

	c->id = id;
	for (guint i = 0; i < pending->len; i++) {
		const Pending *p = g_ptr_array_index(pending, i);

		if (!sp_connection_config_set_full(c, p->key, p->value, dir, &cause))
			return fail_pending(x, p, cause, error);
		if (p->lower_retry_min && c->retry_min_ms > c->retry_max_ms)
			c->retry_min_ms = c->retry_max_ms;
		g_hash_table_add(keys, p->key);
	}
	/* Every <Connectivity> has a user: its position stands for the connection. */
	at = find_pending(pending, id, 0, "user");
	if (!sp_connection_config_load_credential(c, &cause))
		return fail_at(x, at->line, at->col, "<Connectivity> password", cause, error);
	if (!sp_connection_config_check(c, keys, &bad, &cause)) {
		const Pending *p = find_pending(pending, id, 0, bad);
		g_autofree char *where = NULL;

		if (p == NULL)
			p = find_pending(x->pending, GLOBAL, SP_CONFIG_GROUP_POLICY, bad);
		if (p != NULL)
			return fail_pending(x, p, cause, error);
		where = g_strdup_printf("<Connectivity> %s", bad);
		return fail_at(x, at->line, at->col, where, cause, error);
	}
	g_ptr_array_add(x->config->connections, g_steal_pointer(&c));
	return TRUE;
}

static gboolean apply(Xml *x, GError **error)
{
	g_autoptr(GHashTable) present =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autofree char *dir = sp_config_base_dir(x->path);
	GPtrArray **buckets;
	SpConfigGroup group;
	const char *bad = NULL;
	GError *cause = NULL;
	gboolean ok = TRUE;

	for (guint i = 0; i < x->sections->len; i++) {
		const Section *s = &g_array_index(x->sections, Section, i);

		/* The SDK pairs proxyN with the Nth Connectivity ([Proxy]); a spare section
		 * configures nothing. */
		if (s->proxy >= x->connections)
			warn_at(
			    x, s->line, s->col,
			    "<section name=\"%s\">: there is no connection %u (%u <Connectivity> "
			    "in <Container name=\"Basic\">): its settings are ignored",
			    s->name, s->proxy, x->connections);
	}

	for (guint i = 0; i < x->pending->len; i++) {
		const Pending *p = g_ptr_array_index(x->pending, i);

		if (p->target != GLOBAL)
			continue;
		if (!sp_config_set(x->config, p->group, p->key, p->value, &cause))
			return fail_pending(x, p, cause, error);
		g_hash_table_add(present,
				 g_strdup_printf("%s/%s", sp_config_group_name(p->group), p->key));
	}
	if (!sp_config_check(x->config, present, &group, &bad, &cause)) {
		const Pending *p = find_pending(x->pending, GLOBAL, group, bad);

		if (p == NULL)
			return fail_at(x, 1, 1, bad, cause, error);
		return fail_pending(x, p, cause, error);
	}

	/* Each connection's values, in file order. */
	buckets = g_new0(GPtrArray *, x->connections);
	for (guint id = 0; id < x->connections; id++)
		buckets[id] = g_ptr_array_new();
	for (guint i = 0; i < x->pending->len; i++) {
		Pending *p = g_ptr_array_index(x->pending, i);

		if (p->target != GLOBAL && p->target < x->connections)
			g_ptr_array_add(buckets[p->target], p);
	}
	for (guint id = 0; ok && id < x->connections; id++)
		ok = apply_connection(x, id, buckets[id], dir, error);
	for (guint id = 0; id < x->connections; id++)
		g_ptr_array_unref(buckets[id]);
	g_free(buckets);
	return ok;
}

/* GMarkup's own message without its "Error on line N char M: " (the position is given in
 * front) and without quoting entity names, which could come from a password. */
static const char *markup_message(const GError *e)
{
	const char *m = e->message;
	const char *colon;

	if (e->domain == G_MARKUP_ERROR && e->code == G_MARKUP_ERROR_BAD_UTF8)
		return "not valid UTF-8";
	if (e->domain == G_MARKUP_ERROR && e->code == G_MARKUP_ERROR_EMPTY)
		return "the document is empty";
	if (strstr(m, "ntity") != NULL || strstr(m, "haracter reference") != NULL)
		return "bad entity or character reference (write & as &amp;)";
	if (g_str_has_prefix(m, "Error on line") && (colon = strstr(m, ": ")) != NULL)
		return colon + 2;
	return m;
}

static char *layout_name(const Xml *x)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new();

	if (x->layout_settings)
		g_ptr_array_add(names, "8.5+ (<settings> in Container \"Genesys\")");
	if (x->layout_cp)
		g_ptr_array_add(names, "8.1 (CounterPath <settings> in Container \"Cp\")");
	if (x->layout_domains)
		g_ptr_array_add(names, "<domain>s straight in a Container");
	if (names->len == 0)
		g_ptr_array_add(names, "Connectivity only");
	g_ptr_array_add(names, NULL);
	return g_strjoinv(" + ", (char **)names->pdata);
}

SpConfig *sp_config_load_xml(const char *path, const char *data, gsize length, GError **error)
{
	g_autoptr(SpConfig) config = sp_config_new();
	g_autoptr(GError) e = NULL;
	Xml x = {
	    .path = path,
	    .data = data,
	    .line_starts = g_array_new(FALSE, FALSE, sizeof(gsize)),
	    .config = config,
	    .stack = g_array_new(FALSE, FALSE, sizeof(Frame)),
	    .items = g_ptr_array_new_with_free_func((GDestroyNotify)item_free),
	    .pending = g_ptr_array_new_with_free_func((GDestroyNotify)pending_free),
	    .sections = g_array_new(FALSE, FALSE, sizeof(Section)),
	};
	gboolean ok = FALSE;
	gsize zero = 0;
	gsize lead = 0;

	g_array_set_clear_func(x.stack, (GDestroyNotify)frame_clear);
	g_array_set_clear_func(x.sections, (GDestroyNotify)section_clear);
	g_array_append_val(x.line_starts, zero);
	for (gsize i = 0; i < length; i++) {
		if (data[i] == '\n') {
			gsize next = i + 1;

			g_array_append_val(x.line_starts, next);
		}
	}
	while (lead < length && g_ascii_isspace(data[lead])) {
		x.skipped_cols++;
		if (data[lead++] == '\n') {
			x.skipped_lines++;
			x.skipped_cols = 0;
		}
	}
	x.ctx = g_markup_parse_context_new(&parser, 0, &x, NULL);
	if (!g_markup_parse_context_parse(x.ctx, data + lead, (gssize)(length - lead), &e) ||
	    !g_markup_parse_context_end_parse(x.ctx, &e)) {
		if (e->domain == SP_CONFIG_ERROR) {
			g_propagate_error(error, g_steal_pointer(&e));
		} else {
			int line, col;

			markup_position(&x, &line, &col);
			g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_PARSE, "%s:%d:%d: %s",
				    path, line, col, markup_message(e));
		}
		goto out;
	}
	config->layout = layout_name(&x);
	if (x.connections == 0)
		sp_config_add_warning(config,
				      "%s: no <Connectivity> in <Container name=\"Basic\">: no "
				      "connection configured",
				      path);
	ok = map_items(&x, error) && apply(&x, error);
out:
	g_markup_parse_context_free(x.ctx);
	g_array_unref(x.line_starts);
	g_array_unref(x.stack);
	g_ptr_array_unref(x.items);
	g_ptr_array_unref(x.pending);
	g_array_unref(x.sections);
	return ok ? g_steal_pointer(&config) : NULL;
}

/* ---- --check-config ---------------------------------------------------------------------- */

static void describe_line(GString *out, const SpConfigMapping *m)
{
	g_autofree char *q = m->value != NULL ? sp_config_quote(m->value) : NULL;
	g_autofree char *left = NULL;

	if (m->value != NULL)
		left = g_strdup_printf("%s = \"%s\"", m->setting, q);
	else if (strstr(m->setting, "pass") != NULL && strstr(m->setting, "file") == NULL)
		left = g_strdup_printf("%s = (hidden)", m->setting);
	else
		left = g_strdup(m->setting);
	g_string_append_printf(out, "  %4d  %-48s", m->line, left);
	if (m->kind == SP_CONFIG_MAPPED) {
		g_autofree char *mq = m->mapped != NULL ? sp_config_quote(m->mapped) : NULL;

		g_string_append_printf(out, " -> %s=%s", m->key, mq != NULL ? mq : "(hidden)");
	}
	if (m->note != NULL)
		g_string_append_printf(out, "%s(%s)", m->kind == SP_CONFIG_MAPPED ? "  " : " ",
				       m->note);
	g_string_append_c(out, '\n');
}

static int compare_mappings(gconstpointer a, gconstpointer b)
{
	const SpConfigMapping *x = *(SpConfigMapping *const *)a;
	const SpConfigMapping *y = *(SpConfigMapping *const *)b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->column < y->column ? -1 : x->column > y->column;
}

char *sp_config_describe(const SpConfig *config)
{
	static const struct {
		SpConfigMappingKind kind;
		const char *title;
	} parts[] = {
	    {SP_CONFIG_MAPPED, "Mapped to softphoned keys (line, setting, key):"},
	    {SP_CONFIG_UNSUPPORTED, "Not supported yet, ignored:"},
	};
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GPtrArray) reasons = g_ptr_array_new();
	g_autoptr(GHashTable) names =
	    g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_ptr_array_unref);
	g_autoptr(GPtrArray) sorted = NULL;

	if (config->layout == NULL)
		return g_strdup("");
	/* In file order: the codecs are recorded once the order is known. */
	sorted = g_ptr_array_sized_new(config->mappings->len);
	for (guint i = 0; i < config->mappings->len; i++)
		g_ptr_array_add(sorted, g_ptr_array_index(config->mappings, i));
	g_ptr_array_sort(sorted, compare_mappings);
	g_string_append_printf(out, "Read as a SipEndpoint.config, layout %s.\n", config->layout);
	for (gsize k = 0; k < G_N_ELEMENTS(parts); k++) {
		gboolean any = FALSE;

		for (guint i = 0; i < sorted->len; i++) {
			const SpConfigMapping *m = g_ptr_array_index(sorted, i);

			if (m->kind != parts[k].kind)
				continue;
			if (!any)
				g_string_append_printf(out, "%s\n", parts[k].title);
			any = TRUE;
			describe_line(out, m);
		}
	}
	/* What softphoned has no use for, by reason: the names only, to keep it short. */
	for (guint i = 0; i < sorted->len; i++) {
		const SpConfigMapping *m = g_ptr_array_index(sorted, i);
		const char *why = m->note != NULL ? m->note : "ignored";
		GPtrArray *list;

		if (m->kind != SP_CONFIG_IGNORED)
			continue;
		list = g_hash_table_lookup(names, why);
		if (list == NULL) {
			list = g_ptr_array_new();
			g_hash_table_insert(names, (char *)why, list);
			g_ptr_array_add(reasons, (char *)why);
		}
		g_ptr_array_add(list, (gpointer)m);
	}
	if (reasons->len > 0)
		g_string_append(out, "Ignored (reason: settings with their lines):\n");
	for (guint i = 0; i < reasons->len; i++) {
		GPtrArray *list = g_hash_table_lookup(names, g_ptr_array_index(reasons, i));

		g_string_append_printf(out, "  %s:", (const char *)g_ptr_array_index(reasons, i));
		for (guint k = 0; k < list->len; k++) {
			const SpConfigMapping *m = g_ptr_array_index(list, k);

			g_string_append_printf(out, "%s %s (%d)", k > 0 ? "," : "", m->setting,
					       m->line);
		}
		g_string_append_c(out, '\n');
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}
