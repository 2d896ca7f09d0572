/*
 * Private to the runs module (runs.c, runs_health.c, runs_exec.c, runs_worker.c): what more
 * than one of its files needs. Nothing outside src/service/runs*.c includes this header; the
 * module's interface is runs.h.
 */
#ifndef PX_SERVICE_RUNS_INT_H
#define PX_SERVICE_RUNS_INT_H

#include <json-c/json.h>

/* The error a run gets when the server stopped (or died) before it finished: code
 * "interrupted", retryable. Used by execution (a stop during a run) and by recovery (runs a
 * dead or stopping process left queued or running). The caller owns the result. */
struct json_object *px__runs_interrupted_error(void);

#endif
