/*
 * Runs of pipelines (DESIGN §3.7): queueing (trigger, idempotency), the views (one run, run
 * history, the latest run for pipeline views), health over a window, execution of one run
 * through the engine, recovery of runs a dead process left behind, and the worker pool that
 * executes queued runs.
 *
 * A run is queued by px_run_trigger and claimed by one worker atomically (UPDATE … WHERE
 * status = 'queued'). Claiming makes the process the run's owner: its token goes in
 * runs.runner and a lease in runs.lease_until (PLANASONIX_RUN_LEASE_MS, default 15 s), which
 * the process's heartbeat renews every third of the lease while it executes the run. Other
 * processes sharing the store recover (fail as "interrupted") only running runs whose lease
 * has expired, and every write the executor makes names the owner (… AND runner = ?), so a
 * run another process took over cannot be finished by its old owner. Queued runs have no
 * owner: recovery never touches them, and the next process with workers claims them.
 *
 * Files: runs.c (views, trigger), runs_health.c (health), runs_exec.c (execution of one run),
 * runs_worker.c (process identity, claim, recovery, worker pool); runs_int.h is private to them.
 */
#ifndef PX_SERVICE_RUNS_H
#define PX_SERVICE_RUNS_H

#include "service/tenant.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct px_error;
struct px_keyring;
struct px_store;

/* Queues a run of a live pipeline at its current revision (paused pipelines can be
 * triggered). trigger is "manual", "api" or "schedule". params (may be NULL) is stored with
 * the run. A repeated idempotency_key (may be NULL) for the same pipeline returns the existing
 * run. *out = {run, replayed}. Wakes the worker pool. */
int px_run_trigger(const struct px_tenant *t, const char *pipeline_id, struct json_object *params,
                   const char *idempotency_key, const char *trigger, struct json_object **out,
                   struct px_error *err);
/* The run view (get_run_history's item shape). */
int px_run_get(const struct px_tenant *t, const char *run_id, struct json_object **out,
               struct px_error *err);
/* The node a running run's engine is at (the source it reads, or the blocking transform
 * handing on what it holds), or "" when it is not running or has not started a node yet. */
int px_run_node(const struct px_tenant *t, const char *run_id, char node[64], struct px_error *err);
/* True when the run has ended (succeeded, failed, cancelled, timed_out, skipped). */
bool px_run_finished(struct json_object *run);
/* {pipeline_id, runs, next_cursor}, newest first; status may be NULL; limit 0 = 10. */
int px_run_list(const struct px_tenant *t, const char *pipeline_id, const char *status,
                long long limit, const char *cursor, struct json_object **out,
                struct px_error *err);
/* The latest run of a pipeline, or NULL when it has none (or on a store error). */
struct json_object *px_run_latest(const struct px_tenant *t, const char *pipeline_id);
/* get_pipeline_health's shape over window ("24h", "7d"; NULL = "7d") ending at now. */
int px_run_health(const struct px_tenant *t, const char *pipeline_id, const char *window,
                  struct json_object **out, struct px_error *err);

/* This process's runner token ("pid:random hex"), unique per process. */
const char *px_run_self(void);
/* The lease period in ms: PLANASONIX_RUN_LEASE_MS (300 to 600000), default 15000. */
int64_t px_run_lease_ms(void);
/* At most this many runs of one organization run at once, store-wide:
 * PLANASONIX_ORG_MAX_RUNNING (1 to 1000), default 2. */
int px_run_org_max_running(void);
/* Claims a queued run for this process, with a lease, fairly: organizations take turns (the
 * one whose latest claim is the oldest goes first, store-wide, so one organization's long
 * queue cannot hold back another's run), an organization already running
 * px_run_org_max_running() runs is skipped, and within an organization the oldest queued run
 * goes first. 1 and the ids, 0 when nothing can be claimed, negative on a store error. */
int px_run_claim(struct px_store *st, char org_id[40], char run_id[40], struct px_error *err);
/* Renews the lease of every run this process is executing (px_run_execute holds one per run).
 * A run that is no longer this process's (another process recovered it after the lease
 * expired) is marked lost, counted in *lost (may be NULL), and its executor stops at its next
 * poll without recording anything. The worker pool's heartbeat calls this every third of the
 * lease. */
int px_run_renew_leases(struct px_store *st, int *lost, struct px_error *err);
/* Executes a claimed (running) run to its end and records the outcome. stop (may be NULL)
 * is polled between batches: when it returns true the run ends as failed "interrupted".
 * files_root confines file connectors. Returns 0 once the outcome is recorded (or, when the
 * run was taken over by another process meanwhile, once execution stopped: nothing is written
 * then, and the outcome the other process recorded stands).
 *
 * Timeout: PLANASONIX_RUN_TIMEOUT_S (seconds, fractions allowed, default 3600) bounds the
 * whole run, retries and backoff included, measured on the monotonic clock from the start of
 * execution; past it the engine is cancelled and the run ends "timed_out" (error code
 * "timed_out", not retryable, naming the limit).
 *
 * Retries: a failure with err->retryable is retried in place by the same worker, up to
 * PLANASONIX_RUN_MAX_ATTEMPTS (default 3) attempts in all. The run stays "running" and owned
 * by this process (so no other worker can claim it, and recovery treats it as any running
 * run); runs.attempt is incremented before each retry. The wait before attempt n+1 is uniform
 * in [0, min(60 s, base * 2^(n-1))] (full jitter, randombytes_uniform), base
 * PLANASONIX_RETRY_BASE_MS (default 1000); the wait ends early on stop or timeout. The final
 * error of a retried run says how many attempts failed. */
int px_run_execute(struct px_store *st, const struct px_keyring *keyring, const char *files_root,
                   const char *org_id, const char *run_id, bool (*stop)(void *), void *stop_ctx,
                   struct px_error *err);
/* Tests only: replaces px_engine_run (same signature) in px_run_execute; NULL restores it. */
struct px_engine_opts;
struct px_engine_result;
typedef int (*px_run_engine_fn)(struct json_object *graph, const struct px_engine_opts *opts,
                                struct px_engine_result *out, struct px_error *err);
void px_run_set_engine_hook(px_run_engine_fn fn);
/* Marks running runs whose lease has expired (their process is gone or stalled past its
 * lease), and with include_self (at shutdown) this process's running runs too, failed with
 * code "interrupted". Queued runs are left queued. *count (may be NULL) gets how many. */
int px_runs_recover(struct px_store *st, bool include_self, int *count, struct px_error *err);

/* The worker pool: n threads (0 = PLANASONIX_WORKERS or one per core), each with its own
 * store handle on store_url, and a heartbeat thread (its own handle) that renews this
 * process's leases and, once per lease period, recovers expired runs of other processes.
 * Start recovers expired runs first. Stop interrupts running runs, marks them interrupted
 * (queued runs stay queued for the next process), and joins. */
struct px_run_workers;
int px_run_workers_start(const char *store_url, const struct px_keyring *keyring,
                         const char *files_root, int n, struct px_run_workers **out,
                         struct px_error *err);
void px_run_workers_stop(struct px_run_workers *w);
/* Wakes idle workers (a run was queued). */
void px_run_workers_wake(void);

#endif
