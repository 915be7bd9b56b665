/* The key-file format: [daemon], [policy], [audio], [connection N] groups, read with GKeyFile. */
#include <string.h>

#include "config/config-private.h"

/*
 * GKeyFile knows no line numbers, so the file is scanned once more for them: one Entry per
 * group header and per key line, in file order. The scan also rejects malformed lines itself,
 * so that GKeyFile's message, which quotes the line (and could quote a password), is never shown.
 */
typedef struct {
	char *group; /* as written between the brackets */
	char *key;   /* NULL for the group header */
	guint line;
} Entry;

typedef struct {
	const char *path;
	char *dir; /* relative password-file and ca-file paths start here */
	GPtrArray *entries;
	GKeyFile *kf;
	SpConfig *config;
	GHashTable *present; /* "group/key" of the global keys the file gave */
} Load;

static void entry_free(Entry *e)
{
	g_free(e->group);
	g_free(e->key);
	g_free(e);
}

static void add_entry(Load *l, const char *group, const char *key, guint line)
{
	Entry *e = g_new0(Entry, 1);

	e->group = g_strdup(group);
	e->key = g_strdup(key);
	e->line = line;
	g_ptr_array_add(l->entries, e);
}

static gboolean scan(Load *l, const char *data, GError **error)
{
	g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
	g_autofree char *group = NULL;

	for (guint i = 0; lines[i] != NULL; i++) {
		char *s = g_strstrip(lines[i]);
		guint n = i + 1;
		char *eq;

		if (*s == '\0' || *s == '#')
			continue;
		if (*s == '[') {
			gsize len = strlen(s);

			if (s[len - 1] != ']' || len < 3) {
				g_set_error(
				    error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_PARSE,
				    "%s:%u: a group header must be [name] alone on its line",
				    l->path, n);
				return FALSE;
			}
			s[len - 1] = '\0';
			g_free(group);
			group = g_strdup(s + 1);
			add_entry(l, group, NULL, n);
			continue;
		}
		eq = strchr(s, '=');
		if (eq == NULL || eq == s) {
			g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_PARSE,
				    "%s:%u: expected key=value, a [group] header or a # comment",
				    l->path, n);
			return FALSE;
		}
		*eq = '\0';
		g_strchomp(s);
		if (group == NULL) {
			g_autofree char *q = sp_config_quote(s);

			g_set_error(
			    error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_PARSE,
			    "%s:%u: %s: key outside any group (put a [group] line above it)",
			    l->path, n, q);
			return FALSE;
		}
		add_entry(l, group, s, n);
	}
	return TRUE;
}

/* The line of a group's header (key NULL; the first one) or of a key (the last one, whose value
 * GKeyFile keeps); 0 when absent. */
static guint find_line(Load *l, const char *group, const char *key)
{
	guint line = 0;

	for (guint i = 0; i < l->entries->len; i++) {
		Entry *e = g_ptr_array_index(l->entries, i);

		if (strcmp(e->group, group) != 0 || g_strcmp0(e->key, key) != 0)
			continue;
		if (key == NULL)
			return e->line;
		line = e->line;
	}
	return line;
}

/* The distinct keys of a group in file order (their first line); a key given twice gets a
 * warning. */
static GPtrArray *group_keys(Load *l, const char *group)
{
	GPtrArray *keys = g_ptr_array_new();

	for (guint i = 0; i < l->entries->len; i++) {
		Entry *e = g_ptr_array_index(l->entries, i);
		Entry *first = NULL;

		if (e->key == NULL || strcmp(e->group, group) != 0)
			continue;
		for (guint j = 0; j < keys->len && first == NULL; j++) {
			Entry *k = g_ptr_array_index(keys, j);

			if (strcmp(k->key, e->key) == 0)
				first = k;
		}
		if (first != NULL) {
			sp_config_add_warning(l->config,
					      "%s:%u: [%s] %s: given again (first at line %u); the "
					      "last value counts",
					      l->path, e->line, group, e->key, first->line);
			continue;
		}
		g_ptr_array_add(keys, e);
	}
	return keys;
}

static gboolean fail_at(Load *l, guint line, const char *group, const char *key, GError *cause,
			GError **error)
{
	g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID, "%s:%u: [%s] %s: %s", l->path,
		    line, group, key, cause->message);
	g_error_free(cause);
	return FALSE;
}

/* The escapes g_key_file_get_string() decodes: \s \n \t \r \\, no lone backslash at the end. */
static gboolean valid_escapes(const char *raw)
{
	for (const char *p = raw; *p != '\0'; p++) {
		if (*p != '\\')
			continue;
		if (p[1] == '\0' || strchr("sntr\\", p[1]) == NULL)
			return FALSE;
		p++;
	}
	return TRUE;
}

/* The value as GKeyFile decodes it (escapes such as \s), without quoting it on failure. */
static char *get_value(Load *l, Entry *e, GError **error)
{
	g_autoptr(GError) e2 = NULL;
	char *raw = g_key_file_get_value(l->kf, e->group, e->key, NULL);
	gboolean escapes_ok = raw != NULL && valid_escapes(raw);
	char *value;

	sp_config_secret_free(raw);
	/* Checked first: GLib 2.74 sets its GError twice (and warns) on a bad escape followed
	 * by a trailing backslash. */
	value = escapes_ok ? g_key_file_get_string(l->kf, e->group, e->key, &e2) : NULL;
	/* On a bad escape GKeyFile sets the error and still returns a string. */
	if (value == NULL || e2 != NULL) {
		sp_config_secret_free(value);
		g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID,
			    "not valid UTF-8, or holds an invalid escape sequence "
			    "(write a backslash as \\\\)");
		return NULL;
	}
	return value;
}

static gboolean load_global(Load *l, const char *group, SpConfigGroup which, GError **error)
{
	g_autoptr(GPtrArray) keys = group_keys(l, group);

	for (guint i = 0; i < keys->len; i++) {
		Entry *e = g_ptr_array_index(keys, i);
		GError *cause = NULL;
		char *value;
		gboolean ok;

		if (!sp_config_has_key(which, e->key)) {
			sp_config_add_warning(l->config, "%s:%u: [%s] unknown key \"%s\" ignored",
					      l->path, e->line, group, e->key);
			continue;
		}
		value = get_value(l, e, &cause);
		if (value != NULL) {
			ok = sp_config_set(l->config, which, e->key, value, &cause);
			sp_config_secret_free(value);
		} else {
			ok = FALSE;
		}
		if (!ok)
			return fail_at(l, find_line(l, group, e->key), group, e->key, cause, error);
		g_hash_table_add(l->present, g_strdup_printf("%s/%s", group, e->key));
	}
	return TRUE;
}

/*
 * "connection N" → TRUE with *id. FALSE with *is_connection set for a malformed id; FALSE
 * otherwise for a group that is no connection at all.
 */
static gboolean parse_connection_group(const char *name, guint *id, gboolean *is_connection)
{
	const char *p;
	guint64 n = 0;

	*is_connection = FALSE;
	if (!g_str_has_prefix(name, "connection"))
		return FALSE;
	p = name + strlen("connection");
	if (*p != '\0' && *p != ' ' && *p != '\t')
		return FALSE;
	*is_connection = TRUE;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!g_ascii_isdigit(*p))
		return FALSE;
	for (; g_ascii_isdigit(*p); p++) {
		n = n * 10 + (guint64)(*p - '0');
		if (n >= G_MAXUINT)
			return FALSE;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		return FALSE;
	*id = (guint)n;
	return TRUE;
}

static gboolean load_connection(Load *l, const char *group, guint id, GError **error)
{
	g_autoptr(SpConnectionConfig) c = sp_connection_config_copy(l->config->connection_defaults);
	g_autoptr(GPtrArray) keys = group_keys(l, group);
	g_autoptr(GHashTable) present = g_hash_table_new(g_str_hash, g_str_equal);
	guint header = find_line(l, group, NULL);
	GError *cause = NULL;
	const char *bad = NULL;

	c->id = id;
	for (guint i = 0; i < keys->len; i++) {
		Entry *e = g_ptr_array_index(keys, i);
		char *value;
		gboolean ok;

		if (!sp_connection_config_has_key(e->key)) {
			sp_config_add_warning(l->config, "%s:%u: [%s] unknown key \"%s\" ignored",
					      l->path, e->line, group, e->key);
			continue;
		}
		value = get_value(l, e, &cause);
		if (value != NULL) {
			ok = sp_connection_config_set_full(c, e->key, value, l->dir, &cause);
			sp_config_secret_free(value);
		} else {
			ok = FALSE;
		}
		if (!ok)
			return fail_at(l, find_line(l, group, e->key), group, e->key, cause, error);
		g_hash_table_add(present, e->key);
	}
	if (!sp_connection_config_load_credential(c, &cause))
		return fail_at(l, header, group, "password", cause, error);
	if (!sp_connection_config_check(c, present, &bad, &cause)) {
		g_autofree char *policy_key = g_strdup_printf("policy/%s", bad);
		guint line = find_line(l, group, bad);

		/* A value that came from the [policy] defaults is reported where it was set. */
		if (line == 0 && g_hash_table_contains(l->present, policy_key))
			return fail_at(l, find_line(l, "policy", bad), "policy", bad, cause, error);
		return fail_at(l, line != 0 ? line : header, group, bad, cause, error);
	}
	g_ptr_array_add(l->config->connections, g_steal_pointer(&c));
	return TRUE;
}

static int compare_connections(gconstpointer a, gconstpointer b)
{
	const SpConnectionConfig *ca = *(SpConnectionConfig *const *)a;
	const SpConnectionConfig *cb = *(SpConnectionConfig *const *)b;

	return ca->id < cb->id ? -1 : ca->id > cb->id;
}

static gboolean load_groups(Load *l, GError **error)
{
	static const SpConfigGroup globals[] = {SP_CONFIG_GROUP_DAEMON, SP_CONFIG_GROUP_POLICY,
						SP_CONFIG_GROUP_AUDIO};
	g_autoptr(GHashTable) ids = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_autoptr(GPtrArray) connections = g_ptr_array_new();
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	SpConfigGroup bad_group;
	const char *bad = NULL;
	GError *cause = NULL;

	/* Global groups first: [policy] holds the defaults of every connection. */
	for (gsize i = 0; i < G_N_ELEMENTS(globals); i++) {
		if (!load_global(l, sp_config_group_name(globals[i]), globals[i], error))
			return FALSE;
	}
	if (!sp_config_check(l->config, l->present, &bad_group, &bad, &cause)) {
		const char *group = sp_config_group_name(bad_group);
		guint line = find_line(l, group, bad);

		return fail_at(l, line != 0 ? line : find_line(l, group, NULL), group, bad, cause,
			       error);
	}

	for (guint i = 0; i < l->entries->len; i++) {
		Entry *e = g_ptr_array_index(l->entries, i);
		gboolean is_connection;
		guint id;
		guint first;

		if (e->key != NULL)
			continue;
		first = find_line(l, e->group, NULL);
		if (g_hash_table_contains(seen, e->group)) {
			sp_config_add_warning(l->config,
					      "%s:%u: [%s] appears again (first at line %u); its "
					      "keys are merged",
					      l->path, e->line, e->group, first);
			continue;
		}
		g_hash_table_add(seen, e->group);
		if (strcmp(e->group, "daemon") == 0 || strcmp(e->group, "policy") == 0 ||
		    strcmp(e->group, "audio") == 0)
			continue;
		if (parse_connection_group(e->group, &id, &is_connection)) {
			Entry *other = g_hash_table_lookup(ids, GUINT_TO_POINTER(id + 1));

			if (other != NULL) {
				g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID,
					    "%s:%u: [%s]: connection id %u is already used by [%s] "
					    "at line %u",
					    l->path, e->line, e->group, id, other->group,
					    other->line);
				return FALSE;
			}
			g_hash_table_insert(ids, GUINT_TO_POINTER(id + 1), e);
			g_ptr_array_add(connections, e);
		} else if (is_connection) {
			g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_INVALID,
				    "%s:%u: [%s]: write [connection N], N being the connection id, "
				    "a whole number below 4294967295",
				    l->path, e->line, e->group);
			return FALSE;
		} else {
			sp_config_add_warning(l->config, "%s:%u: unknown group [%s] ignored",
					      l->path, e->line, e->group);
		}
	}

	for (guint i = 0; i < connections->len; i++) {
		Entry *e = g_ptr_array_index(connections, i);
		guint id = 0;
		gboolean is_connection;

		parse_connection_group(e->group, &id, &is_connection);
		if (!load_connection(l, e->group, id, error))
			return FALSE;
	}
	g_ptr_array_sort(l->config->connections, compare_connections);
	return TRUE;
}

SpConfig *sp_config_load_keyfile(const char *path, const char *data, gsize length, GError **error)
{
	g_autoptr(SpConfig) config = sp_config_new();
	g_autoptr(GError) e = NULL;
	Load l = {
	    .path = path,
	    .dir = sp_config_base_dir(path),
	    .entries = g_ptr_array_new_with_free_func((GDestroyNotify)entry_free),
	    .kf = g_key_file_new(),
	    .config = config,
	    .present = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
	};
	gboolean ok = FALSE;

	if (!scan(&l, data, error))
		goto out;
	if (!g_key_file_load_from_data(l.kf, data, length, G_KEY_FILE_NONE, &e)) {
		/* What the scan let through: group and key names, which GKeyFile may quote. */
		g_set_error(error, SP_CONFIG_ERROR, SP_CONFIG_ERROR_PARSE, "%s: %s", path,
			    e->message);
		goto out;
	}
	ok = load_groups(&l, error);
out:
	g_free(l.dir);
	g_ptr_array_unref(l.entries);
	g_key_file_free(l.kf);
	g_hash_table_unref(l.present);
	return ok ? g_steal_pointer(&config) : NULL;
}
