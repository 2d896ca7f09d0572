/*
 * Private to the runs module (runs.c, runs_health.c, runs_exec.c, runs_lease.c, runs_worker.c):
 * what more than one of its files needs. Nothing outside src/service/runs*.c includes this header;
 * the module's interface is runs.h.
 */
#ifndef PX_SERVICE_RUNS_INT_H
#define PX_SERVICE_RUNS_INT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

/* The error a run gets when the server stopped (or died) before it finished: code
 * "interrupted", retryable. Used by execution (a stop during a run) and by recovery (runs a
 * dead or stopping process left queued or running). The caller owns the result. */
struct json_object *px__runs_interrupted_error(void);

/* The lease of a run this process executes (runs_lease.c): px_run_execute holds one from
 * start to end; px_run_renew_leases renews it and marks it lost when another process has
 * recovered the run. */
struct px__run_lease;
struct px__run_lease *px__run_lease_hold(const char *org_id, const char *run_id);
bool px__run_lease_lost(const struct px__run_lease *l);
void px__run_lease_release(struct px__run_lease *l);
/* The executor's latest progress (node may be NULL); stored: whether the executor has just
 * written it to the run itself. Otherwise the next renewal writes it. */
void px__run_lease_progress(struct px__run_lease *l, const char *node, int64_t rows_read,
                            int64_t rows_written, bool stored);

#endif
