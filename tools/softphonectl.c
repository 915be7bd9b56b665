/* softphonectl: a thin command-line client of softphoned's JSON-RPC control socket. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>
#include <glib.h>
#include <json-c/json.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)

/* Exit codes scripts can rely on; documented in --help and docs/PROTOCOL.md. */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_RPC_ERROR = 1, /* the daemon answered with a JSON-RPC error */
	CTL_EXIT_USAGE = 2,	/* bad command line or bad JSON params */
	CTL_EXIT_NO_DAEMON = 3, /* cannot connect to the socket */
	CTL_EXIT_LOST = 4,	/* connection lost, no reply in time, unreadable reply */
};

/* The daemon's lines are at most 64 KiB; leave a wide margin for later versions. */
#define CTL_MAX_LINE (4 * 1024 * 1024)
#define CTL_READ_CHUNK (64 * 1024)
#define CTL_DEFAULT_TIMEOUT_S 10.0
/* The one request softphonectl sends per run. */
#define CTL_REQUEST_ID 1

typedef struct _Ctl Ctl;

typedef struct _CtlCommand CtlCommand;

/* Turns a command's arguments into a method and its params (NULL: none). */
typedef gboolean (*CtlBuildFunc)(const CtlCommand *command, char **args, guint n_args,
				 char **method_out, json_object **params_out, GError **error);
/* Prints a successful result for people; --json prints the raw result instead. */
typedef void (*CtlPrintFunc)(json_object *result);

struct _CtlCommand {
	const char *name;
	const char *usage;  /* its arguments, for --help */
	const char *method; /* NULL: taken from the arguments (call) */
	guint min_args;
	guint max_args; /* G_MAXUINT: any number */
	CtlBuildFunc build;
	CtlPrintFunc print;
	gboolean stream;    /* keep reading and print notifications after the reply */
	const char *param2; /* build_session: the name of the second argument's parameter */
	gboolean watch;	    /* a live view: refetched and redrawn on every event */
};

/* watch: what one view is made of, fetched again after every event. */
enum { WATCH_STATUS, WATCH_CONNECTIONS, WATCH_SESSIONS, WATCH_N };

struct _Ctl {
	GMainLoop *loop;
	GSocket *socket;
	GSource *read_source;
	guint timeout_id;
	GByteArray *in;
	const CtlCommand *command;
	char *method;
	double timeout_s;
	gboolean json;
	gboolean streaming; /* the Subscribe reply came: print events until the end */
	gboolean done;
	int exit_code;
	/* watch */
	gboolean redraw_in_place; /* stdout is a terminal: clear and draw from the top */
	gint64 next_id;
	gint64 watch_ids[WATCH_N]; /* the requests in flight, 0 when answered */
	json_object *watch_view[WATCH_N];
	guint watch_pending;
	gboolean watch_dirty; /* an event came while a refresh was in flight */
	guint views;
};

/* Colour (SGR) in tables and the watch view: --color, else on a terminal unless NO_COLOR. */
static gboolean use_colour;

static G_GNUC_PRINTF(1, 2) void ctl_warn(const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "softphonectl: %s\n", msg);
}

static void usage_error(GError **error, const char *command, const char *usage)
{
	g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "usage: softphonectl %s %s",
		    command, usage);
}

/* ---- building requests ---------------------------------------------------------------------- */

static gboolean parse_connection_id(const char *s, json_object **out, GError **error)
{
	guint64 n;

	if (!g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT - 1, &n, NULL)) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "'%s' is not a connection id (a non-negative integer)", s);
		return FALSE;
	}
	*out = json_object_new_int64((gint64)n);
	return TRUE;
}

static gboolean build_none(const CtlCommand *command, char **args, guint n_args, char **method_out,
			   json_object **params_out, GError **error)
{
	*method_out = g_strdup(command->method);
	*params_out = NULL;
	return TRUE;
}

/* mute / unmute: Mute {muted}. */
static gboolean build_mute(const CtlCommand *command, char **args, guint n_args, char **method_out,
			   json_object **params_out, GError **error)
{
	*method_out = g_strdup(command->method);
	*params_out = json_object_new_object();
	json_object_object_add(*params_out, "muted",
			       json_object_new_boolean(g_str_equal(command->name, "mute")));
	return TRUE;
}

static gboolean build_events(const CtlCommand *command, char **args, guint n_args,
			     char **method_out, json_object **params_out, GError **error)
{
	*method_out = g_strdup(command->method);
	*params_out = NULL;
	if (n_args > 0) {
		json_object *names = json_object_new_array();

		for (guint i = 0; i < n_args; i++)
			json_object_array_add(names, json_object_new_string(args[i]));
		*params_out = json_object_new_object();
		json_object_object_add(*params_out, "events", names);
	}
	return TRUE;
}

/* watch: Subscribe to the two events that change what the view shows. */
static gboolean build_watch(const CtlCommand *command, char **args, guint n_args, char **method_out,
			    json_object **params_out, GError **error)
{
	json_object *names = json_object_new_array();

	json_object_array_add(names, json_object_new_string("ConnectionStatusChanged"));
	json_object_array_add(names, json_object_new_string("SessionStatusChanged"));
	*method_out = g_strdup(command->method);
	*params_out = json_object_new_object();
	json_object_object_add(*params_out, "events", names);
	return TRUE;
}

/* set-devices: --capture and --playback are options of the command line (GOption). */
static char *opt_capture;
static char *opt_playback;

/* set-devices [--capture NAME] [--playback NAME]: SetAudioDevices {capture?, playback?}. */
static gboolean build_set_devices(const CtlCommand *command, char **args, guint n_args,
				  char **method_out, json_object **params_out, GError **error)
{
	if (opt_capture == NULL && opt_playback == NULL) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "give --capture NAME, --playback NAME or both");
		return FALSE;
	}
	*method_out = g_strdup(command->method);
	*params_out = json_object_new_object();
	if (opt_capture != NULL)
		json_object_object_add(*params_out, "capture", json_object_new_string(opt_capture));
	if (opt_playback != NULL)
		json_object_object_add(*params_out, "playback",
				       json_object_new_string(opt_playback));
	return TRUE;
}

/* Parses text as JSON params: one object or array, nothing after it but whitespace. */
static json_object *parse_params(const char *text, GError **error)
{
	json_tokener *tok;
	gsize len = strlen(text);
	json_object *params;
	gsize end;
	char first = text[strspn(text, " \t\r\n")];

	if (first != '{' && first != '[') {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "params must be a JSON object or array");
		return NULL;
	}
	tok = json_tokener_new();
	params = json_tokener_parse_ex(tok, text, (int)MIN(len, (gsize)G_MAXINT));
	end = json_tokener_get_parse_end(tok);
	if (params == NULL) {
		enum json_tokener_error err = json_tokener_get_error(tok);

		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "params are not valid JSON: %s",
			    err == json_tokener_continue ? "unexpected end of text"
							 : json_tokener_error_desc(err));
		json_tokener_free(tok);
		return NULL;
	}
	json_tokener_free(tok);
	if (text[end + strspn(text + end, " \t\r\n")] != '\0') {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "params are not valid JSON: text after the value");
		json_object_put(params);
		return NULL;
	}
	if (!json_object_is_type(params, json_type_object) &&
	    !json_object_is_type(params, json_type_array)) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "params must be a JSON object or array");
		json_object_put(params);
		return NULL;
	}
	return params;
}

static gboolean build_call(const CtlCommand *command, char **args, guint n_args, char **method_out,
			   json_object **params_out, GError **error)
{
	json_object *params = NULL;

	if (args[0][0] == '\0') {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "the method name is empty");
		return FALSE;
	}
	if (n_args > 1) {
		params = parse_params(args[1], error);
		if (params == NULL)
			return FALSE;
	}
	*method_out = g_strdup(args[0]);
	*params_out = params;
	return TRUE;
}

static gboolean build_dial(const CtlCommand *command, char **args, guint n_args, char **method_out,
			   json_object **params_out, GError **error)
{
	json_object *id;

	if (!parse_connection_id(args[0], &id, error))
		return FALSE;
	*params_out = json_object_new_object();
	json_object_object_add(*params_out, "connectionId", id);
	json_object_object_add(*params_out, "destination", json_object_new_string(args[1]));
	*method_out = g_strdup(command->method);
	return TRUE;
}

/* SID [SECOND]: sessionId plus, for SendDtmf and Transfer, the named second parameter. */
static gboolean build_session(const CtlCommand *command, char **args, guint n_args,
			      char **method_out, json_object **params_out, GError **error)
{
	*params_out = json_object_new_object();
	json_object_object_add(*params_out, "sessionId", json_object_new_string(args[0]));
	if (n_args > 1)
		json_object_object_add(*params_out, command->param2,
				       json_object_new_string(args[1]));
	*method_out = g_strdup(command->method);
	return TRUE;
}

static gboolean build_connection(const CtlCommand *command, char **args, guint n_args,
				 char **method_out, json_object **params_out, GError **error)
{
	json_object *id;

	if (!parse_connection_id(args[0], &id, error))
		return FALSE;
	*params_out = json_object_new_object();
	json_object_object_add(*params_out, "connectionId", id);
	*method_out = g_strdup(command->method);
	return TRUE;
}

/*
 * USER SERVER [PROTOCOL] [NAME=VALUE...]: extra options by their AddConnection names
 * (reregisterInSeconds=60, connectionId=2...), passed as strings except connectionId.
 */
static gboolean build_add_connection(const CtlCommand *command, char **args, guint n_args,
				     char **method_out, json_object **params_out, GError **error)
{
	g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func(g_free);
	json_object *params = json_object_new_object();

	json_object_object_add(params, "user", json_object_new_string(args[0]));
	json_object_object_add(params, "server", json_object_new_string(args[1]));
	for (guint i = 2; i < n_args; i++) {
		const char *eq = strchr(args[i], '=');
		g_autofree char *name = NULL;
		json_object *value;

		if (eq == NULL) {
			if (i != 2) {
				g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
					    "'%s' is not an option of the form NAME=VALUE",
					    args[i]);
				json_object_put(params);
				return FALSE;
			}
			json_object_object_add(params, "protocol", json_object_new_string(args[i]));
			continue;
		}
		name = g_strndup(args[i], (gsize)(eq - args[i]));
		if (name[0] == '\0' || json_object_object_get_ex(params, name, NULL)) {
			g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    name[0] == '\0' ? "'%s' has no option name"
						    : "option '%s' is given twice",
				    name[0] == '\0' ? args[i] : name);
			json_object_put(params);
			return FALSE;
		}
		if (g_str_equal(name, "connectionId")) {
			if (!parse_connection_id(eq + 1, &value, error)) {
				json_object_put(params);
				return FALSE;
			}
		} else {
			value = json_object_new_string(eq + 1);
		}
		json_object_object_add(params, name, value);
	}
	*params_out = params;
	*method_out = g_strdup(command->method);
	return TRUE;
}

/* ---- printing results ----------------------------------------------------------------------- */

/* A scalar member as text for a table cell ("-" when absent or null); control characters are
 * replaced so a hostile string cannot drive the terminal. */
static char *cell(json_object *obj, const char *key)
{
	json_object *v = NULL;
	char *s;

	if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
		return g_strdup("-");
	if (json_object_is_type(v, json_type_string))
		s = g_strdup(json_object_get_string(v));
	else
		s = g_strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	if (s[0] == '\0') {
		g_free(s);
		return g_strdup("-");
	}
	for (char *p = s; *p != '\0'; p++)
		if ((guchar)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

/* Joins the cells of keys that are present with spaces: "408 Request Timeout", else "-". */
static char *cells_joined(json_object *obj, const char *const *keys)
{
	g_autoptr(GString) out = g_string_new(NULL);

	for (gsize i = 0; keys[i] != NULL; i++) {
		g_autofree char *c = cell(obj, keys[i]);

		if (g_str_equal(c, "-"))
			continue;
		if (out->len > 0)
			g_string_append_c(out, ' ');
		g_string_append(out, c);
	}
	if (out->len == 0)
		g_string_append_c(out, '-');
	return g_string_free(g_steal_pointer(&out), FALSE);
}

typedef struct {
	const char *title;
	char *(*text)(json_object *row, gsize column);
	gboolean status; /* a status column: coloured by its value */
} CtlColumn;

/* The SGR colour of a connection or session status (SPEC §2, §3), NULL for none. */
static const char *status_colour(const char *status)
{
	static const struct {
		const char *status;
		const char *sgr;
	} colours[] = {
	    {"Ready", "32"},	     {"Connected", "32"},    {"Registering", "33"},
	    {"Unregistering", "33"}, {"InProgress", "33"},   {"Alerting", "1;33"},
	    {"Failed", "31"},	     {"Disconnected", "31"}, {"Held", "36"},
	    {"Disabled", "2"},	     {"Removed", "2"},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(colours); i++)
		if (g_str_equal(colours[i].status, status))
			return colours[i].sgr;
	return NULL;
}

/* Appends rows (objects of array) under titles, each column as wide as its widest cell; with
 * colour, the titles are bold and statuses coloured, the widths counting only the text. */
static void table_append(GString *out, json_object *array, const CtlColumn *columns,
			 gsize n_columns)
{
	gsize n_rows =
	    json_object_is_type(array, json_type_array) ? json_object_array_length(array) : 0;
	g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
	g_autofree gsize *width = g_new0(gsize, n_columns);

	for (gsize c = 0; c < n_columns; c++)
		width[c] = strlen(columns[c].title);
	for (gsize r = 0; r < n_rows; r++) {
		json_object *row = json_object_array_get_idx(array, r);

		for (gsize c = 0; c < n_columns; c++) {
			char *t = json_object_is_type(row, json_type_object)
				      ? columns[c].text(row, c)
				      : g_strdup("-");

			width[c] = MAX(width[c], (gsize)g_utf8_strlen(t, -1));
			g_ptr_array_add(texts, t);
		}
	}
	for (gsize r = 0; r <= n_rows; r++) {
		for (gsize c = 0; c < n_columns; c++) {
			const char *t = r == 0 ? columns[c].title
					       : g_ptr_array_index(texts, (r - 1) * n_columns + c);
			const char *sgr =
			    use_colour && r > 0 && columns[c].status ? status_colour(t) : NULL;

			if (use_colour && r == 0 && c == 0)
				g_string_append(out, "\033[1m");
			if (sgr != NULL)
				g_string_append_printf(out, "\033[%sm%s\033[0m", sgr, t);
			else
				g_string_append(out, t);
			if (c + 1 < n_columns)
				for (gsize pad = (gsize)g_utf8_strlen(t, -1); pad < width[c] + 2;
				     pad++)
					g_string_append_c(out, ' ');
		}
		if (use_colour && r == 0)
			g_string_append(out, "\033[0m");
		g_string_append_c(out, '\n');
	}
}

static void print_table(json_object *array, const CtlColumn *columns, gsize n_columns)
{
	g_autoptr(GString) out = g_string_new(NULL);

	table_append(out, array, columns, n_columns);
	fputs(out->str, stdout);
}

static char *connection_cell(json_object *row, gsize column)
{
	static const char *const keys[] = {"connectionId", "status", "user", "server", "protocol"};
	static const char *const code_reason[] = {"code", "reason", NULL};

	if (column < G_N_ELEMENTS(keys))
		return cell(row, keys[column]);
	return cells_joined(row, code_reason);
}

static const CtlColumn connection_columns[] = {
    {"ID", connection_cell},	   {"STATUS", connection_cell, TRUE},
    {"USER", connection_cell},	   {"SERVER", connection_cell},
    {"PROTOCOL", connection_cell}, {"CODE/REASON", connection_cell},
};

static void print_connections(json_object *result)
{
	print_table(result, connection_columns, G_N_ELEMENTS(connection_columns));
}

static void print_connection(json_object *result)
{
	json_object *one = json_object_new_array();

	json_object_array_add(one, json_object_get(result));
	print_connections(one);
	json_object_put(one);
}

static char *session_cell(json_object *row, gsize column)
{
	static const char *const keys[] = {"sessionId", "connectionId", "status", "direction"};
	static const char *const reason[] = {"reason", "code", "sipReason", NULL};
	json_object *remote = NULL;

	if (column < G_N_ELEMENTS(keys))
		return cell(row, keys[column]);
	if (column == G_N_ELEMENTS(keys)) {
		g_autofree char *dn = NULL;

		if (!json_object_object_get_ex(row, "remote", &remote) ||
		    !json_object_is_type(remote, json_type_object))
			return g_strdup("-");
		dn = cell(remote, "dn");
		return g_str_equal(dn, "-") ? cell(remote, "uri") : g_steal_pointer(&dn);
	}
	return cells_joined(row, reason);
}

static const CtlColumn session_columns[] = {
    {"ID", session_cell},	 {"CONN", session_cell},   {"STATUS", session_cell, TRUE},
    {"DIRECTION", session_cell}, {"REMOTE", session_cell}, {"REASON", session_cell},
};

static void print_sessions(json_object *result)
{
	print_table(result, session_columns, G_N_ELEMENTS(session_columns));
}

/* An object as "key: value" lines, keys aligned; anything else as pretty JSON. */
static void print_object(json_object *result)
{
	gsize width = 0;

	if (!json_object_is_type(result, json_type_object)) {
		puts(json_object_to_json_string_ext(result, JSON_C_TO_STRING_PRETTY |
								JSON_C_TO_STRING_NOSLASHESCAPE));
		return;
	}
	json_object_object_foreach(result, k, v)
	{
		(void)v;
		width = MAX(width, strlen(k));
	}
	json_object_object_foreach(result, key, val)
	{
		g_autofree char *text = cell(result, key);

		(void)val;
		printf("%s:%*s %s\n", key, (int)(width - strlen(key)), "", text);
	}
}

static char *device_cell(json_object *row, gsize column)
{
	static const char *const keys[] = {"name", "direction", "description"};
	char *text = cell(row, keys[MIN(column, G_N_ELEMENTS(keys) - 1)]);

	/* ALSA's descriptions come in lines ("card\ndevice"); cell() made them '?'. */
	if (column == 2)
		g_strdelimit(text, "?", '/');
	return text;
}

static const CtlColumn device_columns[] = {
    {"NAME", device_cell},
    {"DIRECTION", device_cell},
    {"DESCRIPTION", device_cell},
};

/* GetAudioDevices / SetAudioDevices: the current choice, then what ALSA lists. */
static void print_devices(json_object *result)
{
	g_autofree char *capture = cell(result, "capture");
	g_autofree char *playback = cell(result, "playback");
	json_object *devices = NULL;

	printf("capture:  %s\nplayback: %s\n", capture, playback);
	if (json_object_object_get_ex(result, "devices", &devices) &&
	    json_object_is_type(devices, json_type_array) &&
	    json_object_array_length(devices) > 0) {
		putchar('\n');
		print_table(devices, device_columns, G_N_ELEMENTS(device_columns));
	}
}

static void print_pretty(json_object *result)
{
	puts(json_object_to_json_string_ext(result, JSON_C_TO_STRING_PRETTY |
							JSON_C_TO_STRING_SPACED |
							JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void print_dial(json_object *result)
{
	g_autofree char *sid = cell(result, "sessionId");
	g_autofree char *cid = cell(result, "connectionId");

	printf("session %s on connection %s\n", sid, cid);
}

/* `true` says only that the request was accepted: nothing to show. */
static void print_nothing(json_object *result)
{
}

/* ---- the command table ---------------------------------------------------------------------- */

static const CtlCommand commands[] = {
    {"status", "", "GetStatus", 0, 0, build_none, print_object},
    {"connections", "", "GetConnections", 0, 0, build_none, print_connections},
    {"sessions", "", "GetSessions", 0, 0, build_none, print_sessions},
    {"events", "[EVENT...]", "Subscribe", 0, G_MAXUINT, build_events, print_nothing, TRUE},
    {"watch", "", "Subscribe", 0, 0, build_watch, print_nothing, .watch = TRUE},
    {"call", "METHOD [JSON-PARAMS]", NULL, 1, 2, build_call, print_pretty},
    {"dial", "CONN DEST", "Dial", 2, 2, build_dial, print_dial},
    {"answer", "SID", "Answer", 1, 1, build_session, print_nothing},
    {"hangup", "SID", "Hangup", 1, 1, build_session, print_nothing},
    {"hold", "SID", "Hold", 1, 1, build_session, print_nothing},
    {"retrieve", "SID", "Retrieve", 1, 1, build_session, print_nothing},
    {"dtmf", "SID DIGITS", "SendDtmf", 2, 2, build_session, print_nothing, FALSE, "digits"},
    {"transfer", "SID DEST", "Transfer", 2, 2, build_session, print_nothing, FALSE, "destination"},
    {"stats", "SID", "GetAudioStatistics", 1, 1, build_session, print_object},
    {"mute", "", "Mute", 0, 0, build_mute, print_nothing},
    {"devices", "", "GetAudioDevices", 0, 0, build_none, print_devices},
    {"set-devices", "[--capture NAME] [--playback NAME]", "SetAudioDevices", 0, 0,
     build_set_devices, print_devices},
    {"unmute", "", "Mute", 0, 0, build_mute, print_nothing},
    {"add-connection", "USER SERVER [PROTOCOL] [NAME=VALUE...]", "AddConnection", 2, G_MAXUINT,
     build_add_connection, print_connection},
    {"enable", "CONN", "EnableConnection", 1, 1, build_connection, print_nothing},
    {"disable", "CONN", "DisableConnection", 1, 1, build_connection, print_nothing},
    {"remove", "CONN", "RemoveConnection", 1, 1, build_connection, print_nothing},
};

static const CtlCommand *find_command(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
		if (g_str_equal(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* ---- talking to the daemon ------------------------------------------------------------------ */

static void ctl_finish(Ctl *ctl, int exit_code)
{
	if (ctl->done)
		return;
	ctl->done = TRUE;
	ctl->exit_code = exit_code;
	g_main_loop_quit(ctl->loop);
}

/* The message of a JSON-RPC error object and its data.kind, or its code when it has no kind. */
static void report_rpc_error(json_object *err)
{
	json_object *message = NULL;
	json_object *code = NULL;
	json_object *data = NULL;
	json_object *kind = NULL;
	g_autofree char *tag = NULL;

	json_object_object_get_ex(err, "message", &message);
	json_object_object_get_ex(err, "code", &code);
	if (json_object_object_get_ex(err, "data", &data) &&
	    json_object_is_type(data, json_type_object))
		json_object_object_get_ex(data, "kind", &kind);

	if (json_object_is_type(kind, json_type_string))
		tag = g_strdup(json_object_get_string(kind));
	else if (json_object_is_type(code, json_type_int))
		tag = g_strdup_printf("%" G_GINT64_FORMAT, (gint64)json_object_get_int64(code));
	else
		tag = g_strdup("no code");
	ctl_warn("%s (%s)",
		 json_object_is_type(message, json_type_string) ? json_object_get_string(message)
								: "error without a message",
		 tag);
}

static void print_result(Ctl *ctl, json_object *result)
{
	/* The events stream holds events only, even with --json. */
	if (ctl->command->stream)
		return;
	if (ctl->json)
		puts(json_object_to_json_string_ext(result, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		ctl->command->print(result);
	fflush(stdout);
}

/* ---- watch: a live view of the connections and sessions ------------------------------------ */

static int ctl_send(Ctl *ctl, gint64 id, const char *method, json_object *params);
static gboolean on_timeout(gpointer user_data);

static const char *const watch_methods[WATCH_N] = {"GetStatus", "GetConnections", "GetSessions"};
static const char *const watch_keys[WATCH_N] = {"status", "connections", "sessions"};

static void watch_arm_timeout(Ctl *ctl)
{
	if (ctl->timeout_id != 0)
		g_source_remove(ctl->timeout_id);
	ctl->timeout_id = 0;
	if (ctl->timeout_s > 0)
		ctl->timeout_id =
		    g_timeout_add((guint)MIN(ctl->timeout_s * 1000.0, G_MAXUINT), on_timeout, ctl);
}

/* Asks for the three parts of the view again; the view is drawn once all have come. */
static void watch_refresh(Ctl *ctl)
{
	/* Ids after the Subscribe request's, never reused. */
	ctl->next_id = MAX(ctl->next_id, CTL_REQUEST_ID);
	for (guint k = 0; k < WATCH_N; k++) {
		ctl->watch_ids[k] = ++ctl->next_id;
		if (ctl_send(ctl, ctl->watch_ids[k], watch_methods[k], NULL) != CTL_EXIT_OK) {
			ctl_finish(ctl, CTL_EXIT_LOST);
			return;
		}
	}
	ctl->watch_pending = WATCH_N;
	g_free(ctl->method);
	ctl->method = g_strdup("the view's requests");
	watch_arm_timeout(ctl);
}

static gsize array_length(json_object *array)
{
	return json_object_is_type(array, json_type_array) ? json_object_array_length(array) : 0;
}

/* The terminal's width, or 0 when it is not known (then lines are not clipped). */
static guint terminal_columns(void)
{
	struct winsize ws;

	return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
}

/*
 * text with each line cut to columns visible characters (UTF-8 characters; SGR sequences take
 * no room), so that a narrow terminal never wraps the view and scrolls its top away.
 */
static char *clip_lines(const char *text, guint columns)
{
	GString *out = g_string_sized_new(strlen(text));
	const char *p = text;
	guint col = 0;
	gboolean clipped = FALSE;

	while (*p != '\0') {
		if (*p == '\n') {
			if (clipped && use_colour)
				g_string_append(out, "\033[0m");
			g_string_append_c(out, '\n');
			col = 0;
			clipped = FALSE;
			p++;
		} else if (*p == '\033' && p[1] == '[') {
			const char *end = p + 2;

			while (*end != '\0' && !g_ascii_isalpha(*end))
				end++;
			if (*end != '\0')
				end++;
			if (!clipped)
				g_string_append_len(out, p, end - p);
			p = end;
		} else {
			const char *next = g_utf8_find_next_char(p, NULL);
			gsize len = next != NULL ? (gsize)(next - p) : strlen(p);

			if (col < columns)
				g_string_append_len(out, p, (gssize)len);
			else
				clipped = TRUE;
			col++;
			p += len;
		}
	}
	return g_string_free(out, FALSE);
}

static void watch_draw(Ctl *ctl)
{
	json_object *status = ctl->watch_view[WATCH_STATUS];
	json_object *conns = ctl->watch_view[WATCH_CONNECTIONS];
	json_object *sessions = ctl->watch_view[WATCH_SESSIONS];
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autofree char *clock = g_date_time_format(now, "%H:%M:%S");
	g_autofree char *version = cell(status, "version");
	g_autofree char *uptime = cell(status, "uptimeS");
	g_autofree char *summary = NULL;
	gsize n_conns = array_length(conns);
	gsize n_ready = 0;
	gsize n_sessions = array_length(sessions);

	ctl->views++;
	if (ctl->json) {
		json_object *view = json_object_new_object();

		for (guint k = 0; k < WATCH_N; k++)
			json_object_object_add(view, watch_keys[k],
					       json_object_get(ctl->watch_view[k]));
		puts(json_object_to_json_string_ext(view, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(view);
		fflush(stdout);
		return;
	}

	for (gsize i = 0; i < n_conns; i++) {
		g_autofree char *st = cell(json_object_array_get_idx(conns, i), "status");

		if (g_str_equal(st, "Ready"))
			n_ready++;
	}
	summary = g_strdup_printf("softphoned %s, up %ss: %" G_GSIZE_FORMAT "/%" G_GSIZE_FORMAT
				  " sites ready, %" G_GSIZE_FORMAT " call%s",
				  version, uptime, n_ready, n_conns, n_sessions,
				  n_sessions == 1 ? "" : "s");
	if (ctl->redraw_in_place)
		g_string_append(out, "\033[H\033[2J");
	else if (ctl->views > 1)
		g_string_append_c(out, '\n');
	g_string_append_printf(out, "%s%s%s  (%s)\n\n", use_colour ? "\033[1m" : "", summary,
			       use_colour ? "\033[0m" : "", clock);
	g_string_append(out, "Connections\n");
	table_append(out, conns, connection_columns, G_N_ELEMENTS(connection_columns));
	g_string_append(out, "\nSessions\n");
	if (n_sessions > 0)
		table_append(out, sessions, session_columns, G_N_ELEMENTS(session_columns));
	else
		g_string_append(out, "(no calls)\n");
	if (ctl->redraw_in_place) {
		guint columns = terminal_columns();

		g_string_append(out, "\nCtrl-C to quit.");
		if (columns > 0) {
			g_autofree char *clipped = clip_lines(out->str, columns);

			fputs(clipped, stdout);
			fflush(stdout);
			return;
		}
	}
	fputs(out->str, stdout);
	fflush(stdout);
}

/* The terminal was resized: the view is drawn again at its new width, from what it holds. */
static gboolean on_winch(gpointer user_data)
{
	Ctl *ctl = user_data;

	if (ctl->streaming && ctl->watch_pending == 0 && ctl->views > 0)
		watch_draw(ctl);
	return G_SOURCE_CONTINUE;
}

/* One message from the daemon while watching: the Subscribe reply, a part of the view, or an
 * event that makes the view stale. */
static void watch_handle(Ctl *ctl, json_object *msg)
{
	json_object *id = NULL;
	json_object *member = NULL;
	gboolean has_id = json_object_object_get_ex(msg, "id", &id);
	gint64 n;

	if (!has_id && json_object_object_get_ex(msg, "method", NULL)) {
		if (!ctl->streaming)
			return;
		if (ctl->watch_pending > 0)
			ctl->watch_dirty = TRUE;
		else
			watch_refresh(ctl);
		return;
	}
	if (!has_id)
		return;
	if (id != NULL && !json_object_is_type(id, json_type_int))
		return;
	if (json_object_object_get_ex(msg, "error", &member)) {
		/* Ours (id null: the daemon could not read a request, or refused us) or not. */
		gboolean ours;

		n = id == NULL ? 0 : json_object_get_int64(id);
		ours = n == 0 || n == CTL_REQUEST_ID;
		for (guint k = 0; k < WATCH_N; k++)
			ours = ours || (ctl->watch_ids[k] != 0 && n == ctl->watch_ids[k]);
		if (ours) {
			report_rpc_error(member);
			ctl_finish(ctl, CTL_EXIT_RPC_ERROR);
		}
		return;
	}
	if (id == NULL || !json_object_object_get_ex(msg, "result", &member))
		return;
	n = json_object_get_int64(id);
	if (n == CTL_REQUEST_ID && !ctl->streaming) {
		ctl->streaming = TRUE;
		watch_refresh(ctl);
		return;
	}
	for (guint k = 0; k < WATCH_N; k++) {
		if (ctl->watch_ids[k] == 0 || n != ctl->watch_ids[k])
			continue;
		ctl->watch_ids[k] = 0;
		json_object_put(ctl->watch_view[k]);
		ctl->watch_view[k] = json_object_get(member);
		if (--ctl->watch_pending > 0)
			return;
		if (ctl->timeout_id != 0) {
			g_source_remove(ctl->timeout_id);
			ctl->timeout_id = 0;
		}
		watch_draw(ctl);
		if (ctl->watch_dirty) {
			ctl->watch_dirty = FALSE;
			watch_refresh(ctl);
		}
		return;
	}
}

/* One line from the daemon: our reply, an event, or something else to skip. */
static void handle_line(Ctl *ctl, const char *line, gsize len)
{
	json_tokener *tok;
	json_object *msg;
	json_object *id = NULL;
	json_object *member = NULL;
	gboolean has_id;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return;

	tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	msg = json_tokener_parse_ex(tok, line, (int)len);
	json_tokener_free(tok);
	if (msg == NULL) {
		ctl_warn("the daemon sent a line that is not JSON");
		ctl_finish(ctl, CTL_EXIT_LOST);
		return;
	}
	if (!json_object_is_type(msg, json_type_object)) {
		/* A batch reply: we never send batches, so it is not ours. */
		json_object_put(msg);
		return;
	}
	if (ctl->command->watch) {
		watch_handle(ctl, msg);
		json_object_put(msg);
		return;
	}

	has_id = json_object_object_get_ex(msg, "id", &id);
	if (!has_id && json_object_object_get_ex(msg, "method", NULL)) {
		/* A notification: only the events command shows them. */
		if (ctl->command->stream) {
			fwrite(line, 1, len, stdout);
			fputc('\n', stdout);
			fflush(stdout);
		}
		json_object_put(msg);
		return;
	}

	/*
	 * Only one request is ever in flight, so a reply with id null is about it too: the
	 * daemon could not read it, or refused this client (too many clients).
	 */
	if (!has_id || !(id == NULL || (json_object_is_type(id, json_type_int) &&
					json_object_get_int64(id) == CTL_REQUEST_ID))) {
		json_object_put(msg);
		return;
	}
	if (id == NULL && !json_object_object_get_ex(msg, "error", NULL)) {
		json_object_put(msg);
		return;
	}

	if (ctl->timeout_id != 0) {
		g_source_remove(ctl->timeout_id);
		ctl->timeout_id = 0;
	}
	if (json_object_object_get_ex(msg, "error", &member)) {
		report_rpc_error(member);
		ctl_finish(ctl, CTL_EXIT_RPC_ERROR);
	} else if (json_object_object_get_ex(msg, "result", &member)) {
		print_result(ctl, member);
		if (ctl->command->stream)
			ctl->streaming = TRUE;
		else
			ctl_finish(ctl, CTL_EXIT_OK);
	} else {
		ctl_warn("the daemon's reply holds neither a result nor an error");
		ctl_finish(ctl, CTL_EXIT_LOST);
	}
	json_object_put(msg);
}

/* Hands every complete line in the buffer to handle_line() and keeps the rest. */
static void handle_input(Ctl *ctl)
{
	gsize start = 0;

	while (!ctl->done) {
		const guint8 *nl = memchr(ctl->in->data + start, '\n', ctl->in->len - start);

		if (nl == NULL)
			break;
		handle_line(ctl, (const char *)ctl->in->data + start,
			    (gsize)(nl - (ctl->in->data + start)));
		start = (gsize)(nl - ctl->in->data) + 1;
	}
	g_byte_array_remove_range(ctl->in, 0, (guint)start);
	if (!ctl->done && ctl->in->len > CTL_MAX_LINE) {
		ctl_warn("the daemon sent a line longer than %d bytes", CTL_MAX_LINE);
		ctl_finish(ctl, CTL_EXIT_LOST);
	}
}

static void handle_eof(Ctl *ctl)
{
	/* A last line without its newline still counts. */
	if (ctl->in->len > 0) {
		g_byte_array_append(ctl->in, (const guint8 *)"\n", 1);
		handle_input(ctl);
	}
	if (ctl->done)
		return;
	if (ctl->streaming)
		ctl_warn("the daemon closed the connection");
	else
		ctl_warn("the daemon closed the connection before replying to %s", ctl->method);
	ctl_finish(ctl, CTL_EXIT_LOST);
}

static gboolean on_readable(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	Ctl *ctl = user_data;
	guint8 buf[CTL_READ_CHUNK];
	g_autoptr(GError) error = NULL;
	gssize n;

	n = g_socket_receive(socket, (char *)buf, sizeof(buf), NULL, &error);
	if (n < 0) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
			return G_SOURCE_CONTINUE;
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)) {
			handle_eof(ctl);
		} else {
			ctl_warn("connection to the daemon lost: %s", error->message);
			ctl_finish(ctl, CTL_EXIT_LOST);
		}
	} else if (n == 0) {
		handle_eof(ctl);
	} else {
		g_byte_array_append(ctl->in, buf, (guint)n);
		handle_input(ctl);
	}
	if (ctl->done) {
		ctl->read_source = NULL;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static gboolean on_timeout(gpointer user_data)
{
	Ctl *ctl = user_data;

	ctl->timeout_id = 0;
	ctl_warn("no reply to %s within %g s", ctl->method, ctl->timeout_s);
	ctl_finish(ctl, CTL_EXIT_LOST);
	return G_SOURCE_REMOVE;
}

/* SIGINT/SIGTERM end the events stream normally. */
static gboolean on_signal(gpointer user_data)
{
	Ctl *ctl = user_data;

	ctl_finish(ctl, ctl->streaming ? CTL_EXIT_OK : CTL_EXIT_LOST);
	return G_SOURCE_CONTINUE;
}

static int ctl_connect(Ctl *ctl, const char *path)
{
	g_autoptr(GSocketAddress) address = NULL;
	g_autoptr(GError) error = NULL;
	struct sockaddr_un sun;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		ctl_warn("cannot connect to %s: the path is too long for a Unix socket", path);
		return CTL_EXIT_NO_DAEMON;
	}
	address = g_unix_socket_address_new(path);
	ctl->socket = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
				   G_SOCKET_PROTOCOL_DEFAULT, &error);
	if (ctl->socket == NULL) {
		ctl_warn("cannot create a socket: %s", error->message);
		return CTL_EXIT_NO_DAEMON;
	}
	/* Bounds connect() and sending the request; whole seconds, rounded up. */
	g_socket_set_timeout(
	    ctl->socket, ctl->timeout_s > 0 ? (guint)MIN(ctl->timeout_s + 0.999, G_MAXUINT) : 0);
	if (!g_socket_connect(ctl->socket, address, NULL, &error)) {
		ctl_warn("cannot connect to %s: %s", path, error->message);
		return CTL_EXIT_NO_DAEMON;
	}
	return CTL_EXIT_OK;
}

/* Sends one request line, blocking until it is written even on a non-blocking socket. */
static int ctl_send(Ctl *ctl, gint64 id, const char *method, json_object *params)
{
	json_object *req = json_object_new_object();
	g_autofree char *line = NULL;
	g_autoptr(GError) error = NULL;
	gsize len;
	gsize sent = 0;

	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "id", json_object_new_int64(id));
	json_object_object_add(req, "method", json_object_new_string(method));
	if (params != NULL)
		json_object_object_add(req, "params", json_object_get(params));
	line = g_strconcat(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE),
			   "\n", NULL);
	json_object_put(req);

	len = strlen(line);
	while (sent < len) {
		gssize n = g_socket_send_with_blocking(ctl->socket, line + sent, len - sent, TRUE,
						       NULL, &error);

		if (n < 0) {
			ctl_warn("cannot send %s to the daemon: %s", method, error->message);
			return CTL_EXIT_LOST;
		}
		sent += (gsize)n;
	}
	return CTL_EXIT_OK;
}

static int ctl_send_request(Ctl *ctl, json_object *params)
{
	return ctl_send(ctl, CTL_REQUEST_ID, ctl->method, params);
}

static char *default_socket_path(void)
{
	const char *env = g_getenv("SOFTPHONED_SOCKET");
	const char *runtime = g_getenv("XDG_RUNTIME_DIR");

	if (env != NULL && env[0] != '\0')
		return g_strdup(env);
	/* The daemon's own default (SPEC §4): the user service's, else the system service's. */
	if (runtime != NULL && runtime[0] == '/')
		return g_build_filename(runtime, "softphoned", "control", NULL);
	return g_strdup("/run/softphoned/control");
}

static int run(Ctl *ctl, const char *socket_path, json_object *params)
{
	int rc;

	rc = ctl_connect(ctl, socket_path);
	if (rc != CTL_EXIT_OK)
		return rc;
	rc = ctl_send_request(ctl, params);
	if (rc != CTL_EXIT_OK)
		return rc;

	/*
	 * Reads are driven by the main loop from here on, with our own timer: a socket timeout
	 * would make its source fire and the next read fail even while events keep coming.
	 */
	g_socket_set_blocking(ctl->socket, FALSE);
	g_socket_set_timeout(ctl->socket, 0);
	ctl->loop = g_main_loop_new(NULL, FALSE);
	ctl->in = g_byte_array_new();
	ctl->read_source = g_socket_create_source(ctl->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
	g_source_set_callback(ctl->read_source, G_SOURCE_FUNC(on_readable), ctl, NULL);
	g_source_attach(ctl->read_source, NULL);
	g_source_unref(ctl->read_source);
	if (ctl->timeout_s > 0)
		ctl->timeout_id =
		    g_timeout_add((guint)MIN(ctl->timeout_s * 1000.0, G_MAXUINT), on_timeout, ctl);
	if (ctl->command->stream || ctl->command->watch) {
		g_unix_signal_add(SIGINT, on_signal, ctl);
		g_unix_signal_add(SIGTERM, on_signal, ctl);
	}
	if (ctl->redraw_in_place)
		g_unix_signal_add(SIGWINCH, on_winch, ctl);

	g_main_loop_run(ctl->loop);

	if (ctl->read_source != NULL)
		g_source_destroy(ctl->read_source);
	if (ctl->timeout_id != 0)
		g_source_remove(ctl->timeout_id);
	g_socket_close(ctl->socket, NULL);
	return ctl->exit_code;
}

/* ---- the command line ----------------------------------------------------------------------- */

static char *commands_summary(void)
{
	GString *s = g_string_new("Commands:\n");

	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
		g_autofree char *left =
		    g_strdup_printf("%s %s", commands[i].name, commands[i].usage);

		const char *what = commands[i].method ? commands[i].method
						      : "any method; params: an object or array";

		if (strlen(left) > 34)
			g_string_append_printf(s, "  %s\n  %-34s %s\n", left, "", what);
		else
			g_string_append_printf(s, "  %-34s %s\n", left, what);
	}
	g_string_append(
	    s, "\n"
	       "CONN is a connection id, SID a session id, DEST a DN or a sip:/sips: URI.\n"
	       "\"events\" subscribes (to the EVENTs named, else to all) and prints each\n"
	       "notification as one JSON line until interrupted or the daemon closes.\n"
	       "\"watch\" shows the connections and sessions, redrawn on every change, until\n"
	       "interrupted or the daemon closes (--json: the view as one JSON line).");
	return g_string_free(s, FALSE);
}

static const char description[] =
    "Socket: --socket, else $SOFTPHONED_SOCKET, else $XDG_RUNTIME_DIR/softphoned/control\n"
    "when XDG_RUNTIME_DIR is set, else /run/softphoned/control.\n"
    "\n"
    "Exit status:\n"
    "  0  success (events, watch: ended by SIGINT or SIGTERM)\n"
    "  1  the daemon answered with a JSON-RPC error, printed to stderr as\n"
    "     \"softphonectl: MESSAGE (KIND or CODE)\"\n"
    "  2  usage error: unknown command, bad arguments, JSON params that are not an object\n"
    "     or array\n"
    "  3  cannot connect to the daemon (no socket, connection refused, permission denied)\n"
    "  4  connection lost, no reply within --timeout, or a reply that cannot be read\n"
    "     (events, watch: the daemon closed the connection)\n"
    "\n"
    "Colour: --color=auto (the default) colours tables on a terminal unless NO_COLOR is\n"
    "set or TERM is dumb; always, never. --json output is never coloured.";

int main(int argc, char **argv)
{
	g_autofree char *socket_path = NULL;
	gboolean json = FALSE;
	gboolean version = FALSE;
	g_autofree char *colour = NULL;
	double timeout_s = CTL_DEFAULT_TIMEOUT_S;
	GOptionEntry entries[] = {
	    {"socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path, "The daemon's control socket",
	     "PATH"},
	    {"json", 'j', 0, G_OPTION_ARG_NONE, &json,
	     "Print the raw JSON result on one line (for jq)", NULL},
	    {"timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout_s,
	     "Seconds to wait for a reply (default 10; 0 waits forever)", "SECONDS"},
	    {"version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
	    {"color", 0, 0, G_OPTION_ARG_STRING, &colour,
	     "Colour tables: auto (on a terminal), always or never", "WHEN"},
	    {"capture", 0, 0, G_OPTION_ARG_STRING, &opt_capture,
	     "set-devices: the ALSA PCM to capture from (the microphone)", "NAME"},
	    {"playback", 0, 0, G_OPTION_ARG_STRING, &opt_playback,
	     "set-devices: the ALSA PCM to play to (the speaker)", "NAME"},
	    {NULL},
	};
	g_autoptr(GOptionContext) octx = g_option_context_new("COMMAND [ARG...]");
	g_autofree char *summary = commands_summary();
	g_autoptr(GError) error = NULL;
	g_autoptr(json_object) params = NULL;
	const CtlCommand *command;
	char **args;
	guint n_args;
	Ctl ctl = {0};
	int rc;

	g_option_context_set_summary(octx, summary);
	g_option_context_set_description(octx, description);
	g_option_context_add_main_entries(octx, entries, NULL);
	if (!g_option_context_parse(octx, &argc, &argv, &error)) {
		ctl_warn("%s\nTry 'softphonectl --help'.", error->message);
		return CTL_EXIT_USAGE;
	}
	if (version) {
		printf("softphonectl %s\n", SP_VERSION);
		return CTL_EXIT_OK;
	}
	args = argv + 1;
	n_args = (guint)(argc - 1);
	if (n_args > 0 && g_str_equal(args[0], "--")) {
		args++;
		n_args--;
	}
	if (n_args == 0) {
		ctl_warn("no command given\nTry 'softphonectl --help'.");
		return CTL_EXIT_USAGE;
	}
	if (g_str_equal(args[0], "help")) {
		g_autofree char *help = g_option_context_get_help(octx, TRUE, NULL);

		fputs(help, stdout);
		return CTL_EXIT_OK;
	}
	if (!isfinite(timeout_s) || timeout_s < 0) {
		ctl_warn("--timeout must be a number of seconds, 0 or more");
		return CTL_EXIT_USAGE;
	}
	if (colour == NULL || g_str_equal(colour, "auto")) {
		const char *term = g_getenv("TERM");

		use_colour = isatty(STDOUT_FILENO) && g_getenv("NO_COLOR") == NULL &&
			     !(term != NULL && g_str_equal(term, "dumb"));
	} else if (g_str_equal(colour, "always")) {
		use_colour = TRUE;
	} else if (g_str_equal(colour, "never")) {
		use_colour = FALSE;
	} else {
		ctl_warn("--color must be auto, always or never");
		return CTL_EXIT_USAGE;
	}
	if (json)
		use_colour = FALSE;
	command = find_command(args[0]);
	if (command == NULL) {
		ctl_warn("unknown command '%s'\nTry 'softphonectl --help'.", args[0]);
		return CTL_EXIT_USAGE;
	}
	args++;
	n_args--;
	if ((opt_capture != NULL || opt_playback != NULL) && command->build != build_set_devices) {
		ctl_warn("--capture and --playback go with set-devices only");
		return CTL_EXIT_USAGE;
	}
	if (n_args < command->min_args || n_args > command->max_args) {
		usage_error(&error, command->name, command->usage);
		ctl_warn("%s", error->message);
		return CTL_EXIT_USAGE;
	}

	ctl.command = command;
	ctl.json = json;
	ctl.timeout_s = timeout_s;
	if (!command->build(command, args, n_args, &ctl.method, &params, &error)) {
		ctl_warn("%s: %s", command->name, error->message);
		return CTL_EXIT_USAGE;
	}
	if (socket_path == NULL)
		socket_path = default_socket_path();

	/* watch draws over the terminal from the top, the cursor hidden while it does. */
	ctl.redraw_in_place = command->watch && !json && isatty(STDOUT_FILENO);
	if (ctl.redraw_in_place) {
		fputs("\033[?25l", stdout);
		fflush(stdout);
	}

	rc = run(&ctl, socket_path, params);

	if (ctl.redraw_in_place) {
		fputs("\033[?25h\n", stdout);
		fflush(stdout);
	}
	for (guint k = 0; k < WATCH_N; k++)
		json_object_put(ctl.watch_view[k]);

	if (ctl.loop != NULL)
		g_main_loop_unref(ctl.loop);
	if (ctl.in != NULL)
		g_byte_array_unref(ctl.in);
	g_clear_object(&ctl.socket);
	g_free(ctl.method);
	g_free(opt_capture);
	g_free(opt_playback);
	return rc;
}
