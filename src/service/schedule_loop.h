/*
 * The scheduler loop (DESIGN §3.8), a domain service: turns due schedule slots into runs, exactly
 * once per (schedule, slot), and sleeps until the next slot is due.
 *
 * Every enabled schedule stores the UTC instant of its next slot (schedules.next_fire_at,
 * computed with sched/next.h in the schedule's zone). A tick takes the schedules whose slot is
 * due at `now`, and in one transaction per tick inserts one run row per due schedule (unique
 * per (org, schedule, slot) in the store, so a second process or a restart can never insert it
 * twice) and advances next_fire_at past `now`:
 *
 *   - paused pipelines do not fire (their schedules just advance); disabled schedules and
 *     schedules of deleted pipelines are not looked at;
 *   - overlap: when a run of the same pipeline is still queued or running, the slot is
 *     recorded as a "skipped" run saying so (overlap "skip", the default) or queued behind it
 *     (overlap "queue");
 *   - downtime: when slots were missed (the latest due slot is more than the grace period late,
 *     or earlier slots are due too), only the latest due slot is considered, never a burst:
 *     misfire "run_latest" (default) runs it once with a note "late by N s; M earlier missed
 *     slots not run"; misfire "skip" records it as a skipped run with that note instead.
 *
 * Only one process schedules for a store at a time: the holder of the scheduler_lease row,
 * renewed every lease/3 and taken over by another process once it expires (a holder that
 * dies is replaced within one lease period). The unique (schedule, slot) index is the second
 * wall. Time comes from base/clock.h, so tests drive px_sched_tick with any `now`.
 */
#ifndef PX_SERVICE_SCHEDULE_LOOP_H
#define PX_SERVICE_SCHEDULE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct px_error;
struct px_store;

/* A slot later than this after its instant counts as missed (misfire policy applies). */
#define PX_SCHED_GRACE_MS_DEFAULT 60000

struct px_sched_opts {
    const char *holder; /* this process's token, written as the runs' runner and lease holder */
    int64_t grace_ms;   /* 0: PX_SCHED_GRACE_MS_DEFAULT */
};

struct px_sched_tick {
    int fired;           /* runs queued */
    int skipped;         /* slots recorded as skipped runs (overlap or misfire skip) */
    int missed;          /* earlier due slots passed over (downtime) */
    int64_t next_due_ms; /* the earliest next slot of any enabled schedule; INT64_MAX: none */
};

/* The first slot of expr in zone strictly after after_ms (ms): 1 and *out, 0 when there is
 * none, negative with err set when expr or zone does not load. */
int px_sched_next_slot(const char *expr, const char *zone, int64_t after_ms, int64_t *out,
                       struct px_error *err);

/* One pass at now_ms (see above). 0, or a negative code with err set; out is filled either
 * way with what was done before the error. */
int px_sched_tick(struct px_store *st, const struct px_sched_opts *o, int64_t now_ms,
                  struct px_sched_tick *out, struct px_error *err);

/* Takes or renews the lease for holder until now_ms + ttl_ms when it is free, expired or
 * already holder's: *held says whether holder has it now. */
int px_sched_lease(struct px_store *st, const char *holder, int64_t now_ms, int64_t ttl_ms,
                   bool *held, struct px_error *err);
/* Gives the lease up at once (clean shutdown) so another process can take over. */
void px_sched_lease_release(struct px_store *st, const char *holder);

/* The scheduler thread of a serving process: holds the lease when it can, ticks at every due
 * instant (woken by a timed wait on the wall clock, not by polling), and calls fired(ctx)
 * after a tick queued runs (the worker pool's wake). Lease period PLANASONIX_SCHED_LEASE_MS
 * (default 9000). */
struct px_scheduler;
int px_scheduler_start(const char *store_url, const char *holder, void (*fired)(void),
                       struct px_scheduler **out, struct px_error *err);
/* Stops the thread and releases the lease. NULL is a no-op. */
void px_scheduler_stop(struct px_scheduler *s);
/* A schedule changed in this process: recompute the next due instant now. */
void px_scheduler_wake(void);

#endif
