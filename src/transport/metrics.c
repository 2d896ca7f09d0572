/* Server metrics in the Prometheus text format: see metrics.h. */
#include "transport/metrics.h"

#include "base/buf.h"
#include "base/mem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Latency buckets (seconds): tool calls are mostly sub-millisecond reads, with writes that
 * commit to disk and (later) waits for pipeline runs. */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
#define MAX_SERIES 4096 /* a safety cap: label values are closed sets, so never reached */

struct req_series {
    char *path, *method;
    int status;
    uint64_t count;
};

struct tool_series {
    char *tool, *outcome;
    uint64_t count;
    double sum;
    uint64_t le[NBUCKETS]; /* cumulative counts are built at render time */
};

struct px_metrics {
    pthread_mutex_t lock;
    struct req_series *reqs;
    size_t nreqs, capreqs;
    struct tool_series *tools;
    size_t ntools, captools;
};

struct px_metrics *px_metrics_create(void)
{
    struct px_metrics *m = px_xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

void px_metrics_destroy(struct px_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nreqs; i++) {
        free(m->reqs[i].path);
        free(m->reqs[i].method);
    }
    for (size_t i = 0; i < m->ntools; i++) {
        free(m->tools[i].tool);
        free(m->tools[i].outcome);
    }
    free(m->reqs);
    free(m->tools);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* The method as a label value: one of the methods HTTP defines, else "other" (a client may
 * send any token there; each one kept would be a new series). */
static const char *method_label(const char *method)
{
    static const char *const known[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                        "OPTIONS", "CONNECT", "TRACE", "PATCH"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(method, known[i]) == 0)
            return known[i];
    return "other";
}

const char *px_metrics_code_label(const char *code)
{
    size_t n = 0;
    for (; code[n]; n++)
        if (n >= 40 || !((code[n] >= 'a' && code[n] <= 'z') || code[n] == '_'))
            return "other";
    return n ? code : "other";
}

void px_metrics_request(struct px_metrics *m, const char *path, const char *method, int status)
{
    method = method_label(method);
    if (status < 100 || status > 599)
        status = 0;
    pthread_mutex_lock(&m->lock);
    struct req_series *s = NULL;
    for (size_t i = 0; i < m->nreqs && !s; i++)
        if (m->reqs[i].status == status && strcmp(m->reqs[i].path, path) == 0 &&
            strcmp(m->reqs[i].method, method) == 0)
            s = &m->reqs[i];
    if (!s && m->nreqs < MAX_SERIES) {
        if (m->nreqs == m->capreqs) {
            m->capreqs = m->capreqs ? m->capreqs * 2 : 16;
            m->reqs = px_xrealloc(m->reqs, m->capreqs * sizeof(*m->reqs));
        }
        s = &m->reqs[m->nreqs++];
        s->path = px_xstrdup(path);
        s->method = px_xstrdup(method);
        s->status = status;
        s->count = 0;
    }
    if (s)
        s->count++;
    pthread_mutex_unlock(&m->lock);
}

void px_metrics_tool(struct px_metrics *m, const char *tool, const char *outcome, double seconds)
{
    outcome = px_metrics_code_label(outcome);
    pthread_mutex_lock(&m->lock);
    struct tool_series *s = NULL;
    for (size_t i = 0; i < m->ntools && !s; i++)
        if (strcmp(m->tools[i].tool, tool) == 0 && strcmp(m->tools[i].outcome, outcome) == 0)
            s = &m->tools[i];
    if (!s && m->ntools < MAX_SERIES) {
        if (m->ntools == m->captools) {
            m->captools = m->captools ? m->captools * 2 : 32;
            m->tools = px_xrealloc(m->tools, m->captools * sizeof(*m->tools));
        }
        s = &m->tools[m->ntools++];
        memset(s, 0, sizeof(*s));
        s->tool = px_xstrdup(tool);
        s->outcome = px_xstrdup(outcome);
    }
    if (s) {
        s->count++;
        s->sum += seconds;
        for (size_t b = 0; b < NBUCKETS; b++)
            if (seconds <= buckets[b]) {
                s->le[b]++;
                break;
            }
    }
    pthread_mutex_unlock(&m->lock);
}

/* A label value with \, " and newline escaped as the text format requires. */
static void label(struct px_buf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            px_buf_printf(out, "\\%c", *v);
        else if (*v == '\n')
            px_buf_puts(out, "\\n");
        else
            px_buf_append(out, v, 1);
    }
}

void px_metrics_render(struct px_metrics *m, const struct px_metrics_gauges *g, struct px_buf *out)
{
    pthread_mutex_lock(&m->lock);
    px_buf_puts(out, "# HELP planasonix_http_requests_total HTTP requests by path, method and "
                     "status.\n# TYPE planasonix_http_requests_total counter\n");
    for (size_t i = 0; i < m->nreqs; i++) {
        const struct req_series *s = &m->reqs[i];
        px_buf_puts(out, "planasonix_http_requests_total{path=\"");
        label(out, s->path);
        px_buf_puts(out, "\",method=\"");
        label(out, s->method);
        px_buf_printf(out, "\",status=\"%d\"} %llu\n", s->status, (unsigned long long)s->count);
    }
    px_buf_puts(out, "# HELP planasonix_tool_calls_total MCP tool calls by tool and outcome "
                     "(ok or the error code).\n# TYPE planasonix_tool_calls_total counter\n");
    for (size_t i = 0; i < m->ntools; i++) {
        const struct tool_series *s = &m->tools[i];
        px_buf_puts(out, "planasonix_tool_calls_total{tool=\"");
        label(out, s->tool);
        px_buf_puts(out, "\",outcome=\"");
        label(out, s->outcome);
        px_buf_printf(out, "\"} %llu\n", (unsigned long long)s->count);
    }
    px_buf_puts(out, "# HELP planasonix_tool_duration_seconds MCP tool call latency.\n"
                     "# TYPE planasonix_tool_duration_seconds histogram\n");
    for (size_t i = 0; i < m->ntools; i++) {
        const struct tool_series *s = &m->tools[i];
        uint64_t cum = 0;
        for (size_t b = 0; b <= NBUCKETS; b++) {
            px_buf_puts(out, "planasonix_tool_duration_seconds_bucket{tool=\"");
            label(out, s->tool);
            px_buf_puts(out, "\",outcome=\"");
            label(out, s->outcome);
            if (b < NBUCKETS) {
                cum += s->le[b];
                px_buf_printf(out, "\",le=\"%g\"} %llu\n", buckets[b], (unsigned long long)cum);
            } else {
                px_buf_printf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long)s->count);
            }
        }
        for (int k = 0; k < 2; k++) {
            px_buf_printf(out, "planasonix_tool_duration_seconds_%s{tool=\"", k ? "count" : "sum");
            label(out, s->tool);
            px_buf_puts(out, "\",outcome=\"");
            label(out, s->outcome);
            if (k)
                px_buf_printf(out, "\"} %llu\n", (unsigned long long)s->count);
            else
                px_buf_printf(out, "\"} %.6f\n", s->sum);
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (g) {
        px_buf_printf(out,
                      "# HELP planasonix_sessions Open MCP sessions by transport.\n"
                      "# TYPE planasonix_sessions gauge\n"
                      "planasonix_sessions{transport=\"http\"} %zu\n"
                      "planasonix_sessions{transport=\"sse\"} %zu\n"
                      "# HELP planasonix_sse_streams Open SSE response streams.\n"
                      "# TYPE planasonix_sse_streams gauge\n"
                      "planasonix_sse_streams %zu\n"
                      "# HELP planasonix_http_inflight HTTP requests being handled.\n"
                      "# TYPE planasonix_http_inflight gauge\n"
                      "planasonix_http_inflight %ld\n",
                      g->sessions_http, g->sessions_sse, g->streams_open, g->inflight);
    }
}
