/* ThreadSanitizer annotations for the hand-offs between threads that it cannot see by itself. */
#pragma once

/*
 * GLib 2.74 locks GMutex, GCond, GAsyncQueue and GMainContext with raw futexes, which
 * ThreadSanitizer does not see, so every hand-off through them looks like a race to it. Whoever
 * hands an object over says SP_TSAN_RELEASE(object) just before, and whoever takes it says
 * SP_TSAN_ACQUIRE(object) just after: that is the happens-before the futex gives. Outside a
 * ThreadSanitizer build they are nothing.
 */
#if defined(__SANITIZE_THREAD__)
#define SP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SP_TSAN 1
#endif
#endif

#ifdef SP_TSAN
#include <sanitizer/tsan_interface.h>
#define SP_TSAN_RELEASE(addr) __tsan_release((void *)(addr))
#define SP_TSAN_ACQUIRE(addr) __tsan_acquire((void *)(addr))
#else
#define SP_TSAN_RELEASE(addr) ((void)0)
#define SP_TSAN_ACQUIRE(addr) ((void)0)
#endif
