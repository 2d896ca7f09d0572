/*
 * Server metrics in the Prometheus text format (served at /metrics): HTTP requests by path,
 * method and status, and tool calls by tool and outcome with a latency histogram. Counters
 * live in memory behind one mutex, so every function here is safe from any thread. Every
 * label value comes from a small closed set, whatever a client sends, so no client can add
 * series: methods other than HTTP's own and malformed outcome codes become "other" here;
 * paths other than our routes and names other than our tools are folded into "other" by the
 * caller (it knows those sets).
 */
#ifndef PX_TRANSPORT_METRICS_H
#define PX_TRANSPORT_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct px_buf;
struct px_metrics;

/* Point-in-time values the server adds when rendering. */
struct px_metrics_gauges {
    size_t sessions_http; /* Streamable HTTP sessions */
    size_t sessions_sse;  /* legacy HTTP+SSE sessions */
    size_t streams_open;  /* SSE response streams open */
    long inflight;        /* HTTP requests being handled */
};

struct px_metrics *px_metrics_create(void);
void px_metrics_destroy(struct px_metrics *m);
/* Counts one finished HTTP request. path must come from a closed set; a method HTTP does not
 * define counts as "other", a status outside 100-599 as 0. */
void px_metrics_request(struct px_metrics *m, const char *path, const char *method, int status);
/* Counts one finished tool call (outcome "ok" or an error code name) taking seconds. tool must
 * come from a closed set; an outcome that is not a code name ([a-z_], at most 40) is "other". */
void px_metrics_tool(struct px_metrics *m, const char *tool, const char *outcome, double seconds);
/* code when it looks like an error code name ([a-z_]{1,40}), else "other". */
const char *px_metrics_code_label(const char *code);
/* Appends the exposition text to out. g may be NULL. */
void px_metrics_render(struct px_metrics *m, const struct px_metrics_gauges *g, struct px_buf *out);

#endif
