/* Shared by the protocol unit tests: a private GMainContext and a watchdog for hung tests. */
#pragma once

#include <stdlib.h>

#include <glib.h>

#include "daemon/media/tsan.h"

/* Seconds a single test may take; SP_TEST_WATCHDOG_S overrides (valgrind is slow). */
#define SP_TEST_WATCHDOG_S 60

typedef struct {
	GMutex lock;
	GCond cond;
	gboolean done;
	char *path;
	GThread *thread;
} SpTestWatchdog;

static gpointer sp_test_watchdog_run(gpointer data)
{
	SpTestWatchdog *w = data;
	const char *env = g_getenv("SP_TEST_WATCHDOG_S");
	gint64 seconds = env != NULL ? g_ascii_strtoll(env, NULL, 10) : SP_TEST_WATCHDOG_S;
	gint64 deadline = g_get_monotonic_time() + MAX(seconds, 1) * G_USEC_PER_SEC;

	g_mutex_lock(&w->lock);
	SP_TSAN_ACQUIRE(&w->lock); /* GMutex and GCond are futexes TSan does not see (tsan.h) */
	while (!w->done) {
		gboolean woken;

		SP_TSAN_RELEASE(&w->lock);
		woken = g_cond_wait_until(&w->cond, &w->lock, deadline);
		SP_TSAN_ACQUIRE(&w->lock);
		if (!woken && !w->done) {
			/* g_error() would only stop this thread's view; the whole test must fail.
			 */
			g_printerr("watchdog: %s still running after %" G_GINT64_FORMAT
				   " s; aborting\n",
				   w->path, seconds);
			abort();
		}
	}
	SP_TSAN_RELEASE(&w->lock);
	g_mutex_unlock(&w->lock);
	return NULL;
}

static inline SpTestWatchdog *sp_test_watchdog_start(void)
{
	SpTestWatchdog *w = g_new0(SpTestWatchdog, 1);

	g_mutex_init(&w->lock);
	g_cond_init(&w->cond);
	w->path = g_strdup(g_test_get_path());
	w->thread = g_thread_new("watchdog", sp_test_watchdog_run, w);
	return w;
}

static inline void sp_test_watchdog_stop(SpTestWatchdog *w)
{
	g_mutex_lock(&w->lock);
	SP_TSAN_ACQUIRE(&w->lock);
	w->done = TRUE;
	g_cond_signal(&w->cond);
	SP_TSAN_RELEASE(&w->lock);
	g_mutex_unlock(&w->lock);
	g_thread_join(w->thread);
	g_mutex_clear(&w->lock);
	g_cond_clear(&w->cond);
	g_free(w->path);
	g_free(w);
}

/* Every protocol test runs with its own main context and under the watchdog. */
typedef struct {
	GMainContext *context;
	SpTestWatchdog *watchdog;
} SpTestBase;

static inline void sp_test_base_setup(SpTestBase *base)
{
	base->watchdog = sp_test_watchdog_start();
	base->context = g_main_context_new();
	g_main_context_push_thread_default(base->context);
}

static inline void sp_test_base_teardown(SpTestBase *base)
{
	/* Let cancelled operations call back so nothing they hold leaks; bounded by the watchdog
	 * and by the count. */
	for (int i = 0; i < 1000 && g_main_context_iteration(base->context, FALSE); i++)
		;
	g_main_context_pop_thread_default(base->context);
	g_main_context_unref(base->context);
	sp_test_watchdog_stop(base->watchdog);
}
