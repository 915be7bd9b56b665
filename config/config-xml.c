/* The Genesys SIP Endpoint SDK's SipEndpoint.config (XML), read with GMarkup into SpConfig. */
#include <stdarg.h>
#include <string.h>

#include "config/config-private.h"

/*
 * The shape read:
 *
 *   <Container name="Basic">
 *     <Connectivity user="5001" server="siteA:5060" protocol="UDP"/>   connection 0, 1, ...
 *   </Container>
 *   <Container name="Genesys">
 *     <domain name="policy"><section name="session">
 *       <setting name="auto_answer" value="0"/>                          [policy] keys
 *     <domain name="proxies"><section name="proxy0">
 *       <setting name="reregister_in_seconds" value="10"/>               [connection 0] keys
 *
 * Setting names are key-file names with '_' for '-'. Everything else the SDK has (codecs,
 * mailboxes, system, ...) is reported once as a warning and skipped. Settings are applied after
 * the whole document is read, so their order in it does not matter: [policy] defaults first,
 * then each connection's <Connectivity> and proxyN settings.
 */

typedef enum {
	FRAME_ROOT,
	FRAME_CONTAINER, /* a Container other than Basic or Genesys: looked into */
	FRAME_BASIC,
	FRAME_GENESYS,
	FRAME_PROXIES,
	FRAME_POLICY,
	FRAME_PROXY,   /* <section name="proxyN"> */
	FRAME_SESSION, /* <domain name="policy"><section name="session"> */
	FRAME_LEAF,    /* <Connectivity>, <setting> */
	FRAME_SKIP,    /* inside something already reported as ignored */
} FrameKind;

typedef struct {
	FrameKind kind;
	guint proxy;   /* FRAME_PROXY: N */
	char *section; /* FRAME_PROXY, FRAME_SESSION: the section's name, for messages */
} Frame;

#define POLICY G_MAXUINT

/* One value to apply once the document is read. */
typedef struct {
	guint target; /* connection index, or POLICY */
	char *key;    /* key-file name */
	char *value;
	char *where; /* "<Connectivity> server", "<section name=\"proxy0\"> reg_timeout" */
	int line, col;
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
	GArray *stack;	    /* Frame */
	GPtrArray *pending; /* Pending* */
	GArray *sections;   /* Section */
	guint connections;  /* <Connectivity> elements so far */
} Xml;

static void pending_free(Pending *p)
{
	g_free(p->key);
	sp_config_secret_free(p->value);
	g_free(p->where);
	g_free(p);
}

static void frame_clear(Frame *f)
{
	g_free(f->section);
}

static void section_clear(Section *s)
{
	g_free(s->name);
}

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

/* Where the current start tag begins: GMarkup reports a position at or after its end. */
static void tag_position(Xml *x, int *line, int *col)
{
	const char *element = g_markup_parse_context_get_element(x->ctx);
	int l = 1, c = 1;
	const char *p;
	const char *start;

	markup_position(x, &l, &c);
	if (l < 1 || (guint)l > x->line_starts->len) {
		*line = l;
		*col = c;
		return;
	}
	p = x->data + g_array_index(x->line_starts, gsize, l - 1);
	for (int i = 1; i < c && *p != '\0' && *p != '\n'; i++)
		p = g_utf8_next_char(p);
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
	*col = (int)g_utf8_strlen(start, p - start) + 1;
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
	return a != NULL && g_ascii_strcasecmp(a, b) == 0;
}

static void add_pending(Xml *x, guint target, const char *key, const char *value, const char *where)
{
	Pending *p = g_new0(Pending, 1);

	p->target = target;
	p->key = g_strdup(key);
	p->value = g_strdup(value);
	p->where = g_strdup(where);
	tag_position(x, &p->line, &p->col);
	g_ptr_array_add(x->pending, p);
}

static gboolean start_connectivity(Xml *x, const char **names, const char **values, GError **error)
{
	static const char *const keys[] = {"user", "server", "protocol"};
	guint index = x->connections++;

	for (gsize i = 0; names[i] != NULL; i++) {
		gboolean known = FALSE;

		for (gsize k = 0; k < G_N_ELEMENTS(keys); k++)
			known |= is(names[i], keys[k]);
		if (!known)
			warn(x, "unknown attribute \"%s\" of <Connectivity> ignored", names[i]);
	}
	for (gsize k = 0; k < G_N_ELEMENTS(keys); k++) {
		const char *v = attribute(names, values, keys[k]);
		g_autofree char *where = g_strdup_printf("<Connectivity> %s", keys[k]);

		if (v == NULL && k < 2)
			return fail(x, error, "%s: missing", where);
		if (v != NULL)
			add_pending(x, index, keys[k], v, where);
	}
	return TRUE;
}

/* Setting names are key-file names written with '_'. */
static char *setting_key(const char *name)
{
	char *key = g_ascii_strdown(name, -1);

	g_strdelimit(key, "_", '-');
	return key;
}

/* *known: FALSE for a setting reported as ignored (whose content, if any, is then skipped). */
static gboolean start_setting(Xml *x, const Frame *section, const char **names, const char **values,
			      gboolean *known, GError **error)
{
	const char *name = attribute(names, values, "name");
	const char *value = attribute(names, values, "value");
	g_autofree char *key = NULL;
	g_autofree char *where = NULL;

	*known = FALSE;
	if (name == NULL || *name == '\0')
		return fail(x, error, "<setting> in section \"%s\": name missing",
			    section->section);
	key = setting_key(name);
	if (section->kind == FRAME_PROXY)
		*known = sp_connection_config_has_key(key);
	else
		*known = sp_config_has_key(SP_CONFIG_GROUP_POLICY, key);
	if (!*known) {
		warn(x, "unknown setting \"%s\" in section \"%s\" ignored", name, section->section);
		return TRUE;
	}
	where = g_strdup_printf("<section name=\"%s\"> %s", section->section, name);
	if (value == NULL)
		return fail(x, error, "%s: value missing", where);
	/* The SDK's files carry empty placeholders (password=""): they set nothing. */
	if (*value == '\0')
		return TRUE;
	add_pending(x, section->kind == FRAME_PROXY ? section->proxy : POLICY, key, value, where);
	return TRUE;
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

static void start_element(GMarkupParseContext *ctx, const char *element, const char **names,
			  const char **values, gpointer user_data, GError **error)
{
	Xml *x = user_data;
	Frame f = {FRAME_SKIP, 0, NULL};
	FrameKind parent =
	    x->stack->len > 0 ? g_array_index(x->stack, Frame, x->stack->len - 1).kind : FRAME_ROOT;
	const char *name = attribute(names, values, "name");

	switch (parent) {
	case FRAME_ROOT:
	case FRAME_CONTAINER:
		if (is(element, "Container")) {
			f.kind = is(name, "Basic")     ? FRAME_BASIC
				 : is(name, "Genesys") ? FRAME_GENESYS
						       : FRAME_CONTAINER;
		} else if (x->stack->len == 0) {
			f.kind = FRAME_ROOT; /* any root element will do */
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
	case FRAME_GENESYS:
		if (is(element, "domain") && is(name, "proxies"))
			f.kind = FRAME_PROXIES;
		else if (is(element, "domain") && is(name, "policy"))
			f.kind = FRAME_POLICY;
		else if (is(element, "domain"))
			warn(x, "domain \"%s\" ignored (not supported)", name ? name : "");
		else
			warn(x, "element <%s> in <Container name=\"Genesys\"> ignored", element);
		break;
	case FRAME_PROXIES:
		if (is(element, "section") && parse_proxy(name, &f.proxy)) {
			Section s = {f.proxy, g_strdup(name), 0, 0};

			tag_position(x, &s.line, &s.col);
			g_array_append_val(x->sections, s);
			f.kind = FRAME_PROXY;
			f.section = g_strdup(name);
		} else if (is(element, "section")) {
			warn(x, "section \"%s\" in domain \"proxies\" ignored (not proxyN)",
			     name ? name : "");
		} else {
			warn(x, "element <%s> in domain \"proxies\" ignored", element);
		}
		break;
	case FRAME_POLICY:
		if (is(element, "section") && is(name, "session")) {
			f.kind = FRAME_SESSION;
			f.section = g_strdup(name);
		} else if (is(element, "section")) {
			warn(x, "section \"%s\" in domain \"policy\" ignored (not supported)",
			     name ? name : "");
		} else {
			warn(x, "element <%s> in domain \"policy\" ignored", element);
		}
		break;
	case FRAME_PROXY:
	case FRAME_SESSION: {
		const Frame *section = &g_array_index(x->stack, Frame, x->stack->len - 1);

		if (is(element, "setting")) {
			gboolean known;

			if (!start_setting(x, section, names, values, &known, error))
				return;
			f.kind = known ? FRAME_LEAF : FRAME_SKIP;
		} else {
			warn(x, "element <%s> in section \"%s\" ignored", element,
			     section->section);
		}
		break;
	}
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

static const Pending *find_pending(Xml *x, guint target, const char *key)
{
	const Pending *found = NULL;

	for (guint i = 0; key != NULL && i < x->pending->len; i++) {
		const Pending *p = g_ptr_array_index(x->pending, i);

		if (p->target == target && strcmp(p->key, key) == 0)
			found = p;
	}
	return found;
}

static gboolean apply(Xml *x, GError **error)
{
	g_autoptr(GHashTable) policy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autofree char *dir = sp_config_base_dir(x->path);
	SpConfigGroup group;
	const char *bad = NULL;
	GError *cause = NULL;

	for (guint i = 0; i < x->sections->len; i++) {
		const Section *s = &g_array_index(x->sections, Section, i);

		if (s->proxy >= x->connections) {
			g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID,
				    "%s:%d:%d: <section name=\"%s\">: there is no connection %u "
				    "(%u <Connectivity> in <Container name=\"Basic\">)",
				    x->path, s->line, s->col, s->name, s->proxy, x->connections);
			return FALSE;
		}
	}

	for (guint i = 0; i < x->pending->len; i++) {
		const Pending *p = g_ptr_array_index(x->pending, i);

		if (p->target != POLICY)
			continue;
		if (!sp_config_set(x->config, SP_CONFIG_GROUP_POLICY, p->key, p->value, &cause))
			return fail_pending(x, p, cause, error);
		g_hash_table_add(policy, g_strdup_printf("policy/%s", p->key));
	}
	if (!sp_config_check(x->config, policy, &group, &bad, &cause)) {
		const Pending *p = find_pending(x, POLICY, bad);

		/* Only [policy] keys can be at fault here, and one of them was given. */
		if (p == NULL)
			return fail_at(x, 1, 1, bad, cause, error);
		return fail_pending(x, p, cause, error);
	}

	for (guint id = 0; id < x->connections; id++) {
		g_autoptr(SpConnectionConfig) c =
		    sp_connection_config_copy(x->config->connection_defaults);
		g_autoptr(GHashTable) present = g_hash_table_new(g_str_hash, g_str_equal);
		const Pending *at;

		c->id = id;
		for (guint i = 0; i < x->pending->len; i++) {
			const Pending *p = g_ptr_array_index(x->pending, i);

			if (p->target != id)
				continue;
			if (!sp_connection_config_set_full(c, p->key, p->value, dir, &cause))
				return fail_pending(x, p, cause, error);
			g_hash_table_add(present, p->key);
		}
		/* Every <Connectivity> has a user: its position stands for the connection. */
		at = find_pending(x, id, "user");
		if (!sp_connection_config_load_credential(c, &cause))
			return fail_at(x, at->line, at->col, "<Connectivity> password", cause,
				       error);
		if (!sp_connection_config_check(c, present, &bad, &cause)) {
			const Pending *p = find_pending(x, id, bad);
			g_autofree char *where = NULL;

			if (p == NULL)
				p = find_pending(x, POLICY, bad);
			if (p != NULL)
				return fail_pending(x, p, cause, error);
			where = g_strdup_printf("<Connectivity> %s", bad);
			return fail_at(x, at->line, at->col, where, cause, error);
		}
		g_ptr_array_add(x->config->connections, g_steal_pointer(&c));
	}
	return TRUE;
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
	if (x.connections == 0)
		sp_config_add_warning(config,
				      "%s: no <Connectivity> in <Container name=\"Basic\">: no "
				      "connection configured",
				      path);
	ok = apply(&x, error);
out:
	g_markup_parse_context_free(x.ctx);
	g_array_unref(x.line_starts);
	g_array_unref(x.stack);
	g_ptr_array_unref(x.pending);
	g_array_unref(x.sections);
	return ok ? g_steal_pointer(&config) : NULL;
}
