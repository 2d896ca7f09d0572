/* Unit tests for src/transport/metrics.c: the Prometheus text (counters, cumulative histogram
 * buckets, gauges, label escaping) and counting from several threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "transport/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(struct px_metrics *m, const struct px_metrics_gauges *g)
{
    struct px_buf b;
    px_buf_init(&b, 1u << 20);
    px_metrics_render(m, g, &b);
    return px_buf_take(&b);
}

static void test_render(void **state)
{
    (void)state;
    struct px_metrics *m = px_metrics_create();
    px_metrics_request(m, "/mcp", "POST", 200);
    px_metrics_request(m, "/mcp", "POST", 200);
    px_metrics_request(m, "/mcp", "POST", 401);
    px_metrics_tool(m, "list_pipelines", "ok", 0.0003);
    px_metrics_tool(m, "list_pipelines", "ok", 0.003);
    px_metrics_tool(m, "list_pipelines", "ok", 42);
    px_metrics_tool(m, "get_pipeline", "not_found", 0.002);
    struct px_metrics_gauges g = {.sessions_http = 3, .sessions_sse = 1, .streams_open = 2};
    char *t = render(m, &g);
    assert_non_null(strstr(t, "# TYPE planasonix_http_requests_total counter\n"));
    assert_non_null(strstr(
        t, "planasonix_http_requests_total{path=\"/mcp\",method=\"POST\",status=\"200\"} 2\n"));
    assert_non_null(strstr(
        t, "planasonix_http_requests_total{path=\"/mcp\",method=\"POST\",status=\"401\"} 1\n"));
    assert_non_null(
        strstr(t, "planasonix_tool_calls_total{tool=\"list_pipelines\",outcome=\"ok\"} 3\n"));
    assert_non_null(
        strstr(t, "planasonix_tool_calls_total{tool=\"get_pipeline\",outcome=\"not_found\"} 1\n"));
    assert_non_null(strstr(t, "# TYPE planasonix_tool_duration_seconds histogram\n"));
    /* Buckets are cumulative; the 42 s call is only in +Inf. */
    assert_non_null(strstr(t, "planasonix_tool_duration_seconds_bucket{tool=\"list_pipelines\","
                              "outcome=\"ok\",le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(t, "planasonix_tool_duration_seconds_bucket{tool=\"list_pipelines\","
                              "outcome=\"ok\",le=\"0.005\"} 2\n"));
    assert_non_null(strstr(t, "planasonix_tool_duration_seconds_bucket{tool=\"list_pipelines\","
                              "outcome=\"ok\",le=\"10\"} 2\n"));
    assert_non_null(strstr(t, "planasonix_tool_duration_seconds_bucket{tool=\"list_pipelines\","
                              "outcome=\"ok\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(
        t, "planasonix_tool_duration_seconds_count{tool=\"list_pipelines\",outcome=\"ok\"} 3\n"));
    assert_non_null(strstr(
        t, "planasonix_tool_duration_seconds_sum{tool=\"list_pipelines\",outcome=\"ok\"} 42.0033"));
    assert_non_null(strstr(t, "planasonix_sessions{transport=\"http\"} 3\n"));
    assert_non_null(strstr(t, "planasonix_sse_streams 2\n"));
    free(t);
    px_metrics_destroy(m);
}

static void test_escaping(void **state)
{
    (void)state;
    struct px_metrics *m = px_metrics_create();
    px_metrics_tool(m, "a\"b\\c\nd", "ok", 0.1);
    char *t = render(m, NULL);
    assert_non_null(strstr(t, "tool=\"a\\\"b\\\\c\\nd\""));
    assert_null(strstr(t, "planasonix_sessions")); /* no gauges without values */
    free(t);
    px_metrics_destroy(m);
}

/* Label values a client chooses are folded into "other": 5,000 invented methods and outcome
 * texts make one series each, and a real series counted afterwards is still recorded. */
static void test_closed_labels(void **state)
{
    (void)state;
    struct px_metrics *m = px_metrics_create();
    char name[16];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "X%05d", i);
        px_metrics_request(m, "/mcp", name, 405);
        px_metrics_tool(m, "list_pipelines", name, 0.001);
    }
    px_metrics_tool(m, "list_pipelines", "not_found", 0.001);
    px_metrics_tool(m, "list_pipelines", "has space", 0.001);
    px_metrics_request(m, "/mcp", "DELETE", 401);
    px_metrics_request(m, "/mcp", "GET", 9999);
    char *t = render(m, NULL);
    assert_null(strstr(t, "X0"));
    assert_non_null(strstr(
        t, "planasonix_http_requests_total{path=\"/mcp\",method=\"other\",status=\"405\"} 5000\n"));
    assert_non_null(strstr(
        t, "planasonix_http_requests_total{path=\"/mcp\",method=\"DELETE\",status=\"401\"} 1\n"));
    assert_non_null(
        strstr(t, "planasonix_http_requests_total{path=\"/mcp\",method=\"GET\",status=\"0\"} 1\n"));
    assert_non_null(
        strstr(t, "planasonix_tool_calls_total{tool=\"list_pipelines\",outcome=\"other\"} 5001\n"));
    assert_non_null(strstr(
        t, "planasonix_tool_calls_total{tool=\"list_pipelines\",outcome=\"not_found\"} 1\n"));
    assert_string_equal(px_metrics_code_label("ok"), "ok");
    assert_string_equal(px_metrics_code_label(""), "other");
    assert_string_equal(px_metrics_code_label("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                        "other");
    free(t);
    px_metrics_destroy(m);
}

static void *hammer(void *arg)
{
    struct px_metrics *m = arg;
    for (int i = 0; i < 10000; i++) {
        px_metrics_request(m, "/mcp", "POST", 200);
        px_metrics_tool(m, "list_pipelines", "ok", 0.001);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct px_metrics *m = px_metrics_create();
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, m), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    char *t = render(m, NULL);
    assert_non_null(
        strstr(t, "planasonix_http_requests_total{path=\"/mcp\",method=\"POST\",status=\"200\"} "
                  "40000\n"));
    assert_non_null(
        strstr(t, "planasonix_tool_calls_total{tool=\"list_pipelines\",outcome=\"ok\"} 40000\n"));
    free(t);
    px_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_closed_labels),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
