/* Unit tests of the pure parts of the connections' status machine (daemon/connection-policy.c). */
#include <string.h>

#include <glib.h>

#include "daemon/connection-policy.h"
#include "daemon/connection.h"

static void test_status_names(void)
{
	static const struct {
		SpConnectionStatus status;
		const char *name;
	} names[] = {
	    {SP_CONNECTION_DISABLED, "Disabled"},
	    {SP_CONNECTION_REGISTERING, "Registering"},
	    {SP_CONNECTION_READY, "Ready"},
	    {SP_CONNECTION_FAILED, "Failed"},
	    {SP_CONNECTION_UNREGISTERING, "Unregistering"},
	    {SP_CONNECTION_REMOVED, "Removed"},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
		g_assert_cmpstr(sp_connection_status_to_string(names[i].status), ==, names[i].name);
}

static void test_register_ok(void)
{
	g_assert_cmpint(sp_register_outcome(200, FALSE, FALSE), ==, SP_REGISTER_OK);
	g_assert_cmpint(sp_register_outcome(202, FALSE, TRUE), ==, SP_REGISTER_OK);
}

static void test_register_unreachable(void)
{
	/* Timeouts, whoever reports them, and the stack's own transport errors. */
	g_assert_cmpint(sp_register_outcome(408, TRUE, FALSE), ==, SP_REGISTER_UNREACHABLE);
	g_assert_cmpint(sp_register_outcome(408, FALSE, FALSE), ==, SP_REGISTER_UNREACHABLE);
	g_assert_cmpint(sp_register_outcome(503, TRUE, FALSE), ==, SP_REGISTER_UNREACHABLE);
	g_assert_cmpint(sp_register_outcome(500, TRUE, TRUE), ==, SP_REGISTER_UNREACHABLE);
	g_assert_cmpint(sp_register_outcome(904, TRUE, FALSE), ==, SP_REGISTER_UNREACHABLE);
}

static void test_register_refused(void)
{
	/* The site answered but will not have us now: back off. */
	g_assert_cmpint(sp_register_outcome(503, FALSE, FALSE), ==, SP_REGISTER_REFUSED);
	g_assert_cmpint(sp_register_outcome(500, FALSE, FALSE), ==, SP_REGISTER_REFUSED);
	g_assert_cmpint(sp_register_outcome(404, FALSE, FALSE), ==, SP_REGISTER_REFUSED);
	g_assert_cmpint(sp_register_outcome(423, FALSE, FALSE), ==, SP_REGISTER_REFUSED);
	g_assert_cmpint(sp_register_outcome(302, FALSE, FALSE), ==, SP_REGISTER_REFUSED);
	g_assert_cmpint(sp_register_outcome(603, FALSE, FALSE), ==, SP_REGISTER_REFUSED);
	/* A request the stack could not even build: probing would not help either. */
	g_assert_cmpint(sp_register_outcome(400, TRUE, FALSE), ==, SP_REGISTER_REFUSED);
}

static void test_register_auth(void)
{
	g_assert_cmpint(sp_register_outcome(401, FALSE, FALSE), ==, SP_REGISTER_CHALLENGED);
	g_assert_cmpint(sp_register_outcome(407, FALSE, FALSE), ==, SP_REGISTER_CHALLENGED);
	g_assert_cmpint(sp_register_outcome(401, FALSE, TRUE), ==, SP_REGISTER_AUTH_FAILED);
	g_assert_cmpint(sp_register_outcome(407, FALSE, TRUE), ==, SP_REGISTER_AUTH_FAILED);
	g_assert_cmpint(sp_register_outcome(403, FALSE, FALSE), ==, SP_REGISTER_AUTH_FAILED);
	g_assert_cmpint(sp_register_outcome(403, FALSE, TRUE), ==, SP_REGISTER_AUTH_FAILED);
	/* sofia's "904 no matching challenge" after credentials were given. */
	g_assert_cmpint(sp_register_outcome(904, TRUE, TRUE), ==, SP_REGISTER_AUTH_FAILED);
}

static void test_outcome_names(void)
{
	for (int o = SP_REGISTER_OK; o <= SP_REGISTER_AUTH_FAILED; o++)
		g_assert_cmpstr(sp_register_outcome_to_string(o), !=, "unknown");
}

static void test_probe(void)
{
	/* Any answer of the site shows it is alive. */
	static const int alive[] = {200, 202, 302, 400, 401, 403, 404, 405, 407,
				    420, 480, 486, 500, 501, 502, 504, 600, 603};

	for (gsize i = 0; i < G_N_ELEMENTS(alive); i++)
		g_assert_false(sp_probe_failed(alive[i], FALSE));
	g_assert_true(sp_probe_failed(408, FALSE));
	g_assert_true(sp_probe_failed(503, FALSE));
	/* Anything final the stack made up means no answer. */
	g_assert_true(sp_probe_failed(408, TRUE));
	g_assert_true(sp_probe_failed(503, TRUE));
	g_assert_true(sp_probe_failed(500, TRUE));
	g_assert_true(sp_probe_failed(904, TRUE));
	g_assert_false(sp_probe_failed(200, TRUE));
	/* Provisional responses decide nothing. */
	g_assert_false(sp_probe_failed(100, TRUE));
	g_assert_false(sp_probe_failed(180, FALSE));
}

static void test_site_down_hint(void)
{
	g_assert_true(sp_status_suggests_site_down(408));
	g_assert_true(sp_status_suggests_site_down(503));
	g_assert_false(sp_status_suggests_site_down(404));
	g_assert_false(sp_status_suggests_site_down(486));
	g_assert_false(sp_status_suggests_site_down(200));
}

static void check_split(const char *server, const char *host, const char *port)
{
	g_autofree char *h = NULL;
	g_autofree char *p = NULL;

	g_assert_true(sp_server_split(server, &h, &p));
	g_assert_cmpstr(h, ==, host);
	g_assert_cmpstr(p, ==, port);
}

static void test_server_split(void)
{
	static const char *const bad[] = {
	    "",	       ":5060", "host:",  "host:0",	 "host:65536", "host:50x0",  "[::1",
	    "[]:5060", "::1",	"[::1]x", "host:5060:1", "ho]st",      "host:123456"};

	check_split("127.0.0.2:5060", "127.0.0.2", "5060");
	check_split("sip.example.net", "sip.example.net", NULL);
	check_split("[::1]:5070", "::1", "5070");
	check_split("[2001:db8::2]", "2001:db8::2", NULL);
	check_split("site:65535", "site", "65535");
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *h = NULL;
		g_autofree char *p = NULL;

		g_assert_false(sp_server_split(bad[i], &h, &p));
		g_assert_null(h);
		g_assert_null(p);
	}
	{
		g_autofree char *h = NULL;
		g_autofree char *p = NULL;

		g_assert_false(sp_server_split(NULL, &h, &p));
	}
}

static void test_quote(void)
{
	g_autofree char *plain = sp_sip_quote("Agent 5001");
	g_autofree char *escaped = sp_sip_quote("A \"B\" \\ C\r\n");

	g_assert_cmpstr(plain, ==, "\"Agent 5001\"");
	g_assert_cmpstr(escaped, ==, "\"A \\\"B\\\" \\\\ C\"");
	g_assert_null(sp_sip_quote(NULL));
	g_assert_null(sp_sip_quote(""));
}

static void test_line_stable_part(void)
{
	const char *id = "0b9f6a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
	g_autofree char *a0 = sp_line_stable_part(id, 0);
	g_autofree char *a0_again = sp_line_stable_part(id, 0);
	g_autofree char *a1 = sp_line_stable_part(id, 1);
	g_autofree char *b0 = sp_line_stable_part("another-installation", 0);

	/* The same installation and connection give the same part, across restarts. */
	g_assert_cmpstr(a0, ==, a0_again);
	g_assert_cmpuint(strlen(a0), ==, SP_LINE_STABLE_LEN);
	for (const char *p = a0; *p != '\0'; p++)
		g_assert_true(g_ascii_isxdigit(*p));
	/* Another connection, or another installation, another part. */
	g_assert_cmpstr(a0, !=, a1);
	g_assert_cmpstr(a0, !=, b0);
}

static void test_line_stale(void)
{
	const char *stable = "0123456789";
	const char *current = "0123456789abcdef";

	/* Ours, from a dead process or an earlier stack: stale. Case does not matter. */
	g_assert_true(sp_line_is_stale("0123456789fedcba", stable, current));
	g_assert_true(sp_line_is_stale("0123456789FEDCBA", stable, current));
	/* The current binding, in any case. */
	g_assert_false(sp_line_is_stale("0123456789abcdef", stable, current));
	g_assert_false(sp_line_is_stale("0123456789ABCDEF", stable, current));
	/* Someone else's (another connection, another installation, another format). */
	g_assert_false(sp_line_is_stale("9123456789abcdef", stable, current));
	g_assert_false(sp_line_is_stale("0123456789", stable, current));
	g_assert_false(sp_line_is_stale("0123456789abcdef00", stable, current));
	g_assert_false(sp_line_is_stale("", stable, current));
	g_assert_false(sp_line_is_stale(NULL, stable, current));
	g_assert_false(sp_line_is_stale("0123456789fedcba", NULL, current));
	g_assert_false(sp_line_is_stale("0123456789fedcba", stable, NULL));
}

static void test_stall(void)
{
	/* Only a silent TCP/TLS site leaves a stalled connection; refusals and UDP do not. */
	g_assert_true(sp_failure_may_stall_transport(TRUE, 408));
	g_assert_false(sp_failure_may_stall_transport(TRUE, 503));
	g_assert_false(sp_failure_may_stall_transport(TRUE, 401));
	g_assert_false(sp_failure_may_stall_transport(FALSE, 408));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/connection/status/names", test_status_names);
	g_test_add_func("/connection/register/ok", test_register_ok);
	g_test_add_func("/connection/register/unreachable", test_register_unreachable);
	g_test_add_func("/connection/register/refused", test_register_refused);
	g_test_add_func("/connection/register/auth", test_register_auth);
	g_test_add_func("/connection/register/names", test_outcome_names);
	g_test_add_func("/connection/probe/failed", test_probe);
	g_test_add_func("/connection/site-down-hint", test_site_down_hint);
	g_test_add_func("/connection/server-split", test_server_split);
	g_test_add_func("/connection/quote", test_quote);
	g_test_add_func("/connection/line/stable-part", test_line_stable_part);
	g_test_add_func("/connection/line/stale", test_line_stale);
	g_test_add_func("/connection/transport/stall", test_stall);
	return g_test_run();
}
