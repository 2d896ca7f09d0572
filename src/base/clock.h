/*
 * Injectable wall clock. Everything that reasons about "now" (expiry, rate limits, the
 * scheduler) reads it here, so tests can set or advance time without sleeping.
 */
#ifndef PX_BASE_CLOCK_H
#define PX_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since the Unix epoch, from the installed clock (the system clock by default). */
int64_t px_now_ms(void);
/* Installs a fixed test clock at ms (later px_clock_advance moves it); ms < 0 restores the
 * system clock. PLANASONIX_FAKE_NOW_MS in the environment does the same at start-up (tests). */
void px_clock_set(int64_t ms);
void px_clock_advance(int64_t ms);
/* Monotonic microseconds, for measuring latency. */
int64_t px_mono_us(void);
/* The system-clock instant ms milliseconds from now (ms >= 0), as pthread_cond_timedwait on a
 * default condition variable wants its deadline. */
struct timespec px_deadline_in_ms(int64_t ms);
/* Formats ms since the epoch as RFC 3339 UTC with milliseconds ("2026-01-02T03:04:05.678Z")
 * into out (at least 32 bytes). */
void px_time_format(int64_t ms, char *out, unsigned size);

#endif
