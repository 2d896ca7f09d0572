/* stdio proxy: the text/event-stream parser and the PLANASONIX_API_URL → endpoint rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "transport/proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct events {
    int n;
    char type[8][64];
    char data[8][256];
};

static void collect(void *ctx, const char *event, const char *data, size_t len)
{
    struct events *e = ctx;
    if (e->n >= 8)
        return;
    snprintf(e->type[e->n], sizeof(e->type[0]), "%s", event);
    snprintf(e->data[e->n], sizeof(e->data[0]), "%.*s", (int)len, data);
    e->n++;
}

/* Feeds text in chunks of `step` bytes (0: all at once). */
static int feed(struct px_sse *s, const char *text, size_t step)
{
    size_t n = strlen(text);
    if (!step)
        return px_sse_feed(s, text, n);
    for (size_t i = 0; i < n; i += step) {
        int rc = px_sse_feed(s, text + i, n - i < step ? n - i : step);
        if (rc)
            return rc;
    }
    return 0;
}

static void test_sse_fields(void **state)
{
    (void)state;
    static const char stream[] = "id: 0\ndata:\n\n"         /* priming: empty data */
                                 ": keep-alive\n\n"         /* a comment */
                                 "event: message\r\n"       /* CRLF */
                                 "data: {\"a\":\r\n"        /* multi-line data */
                                 "data:  1}\r\n\r\n"        /* only one leading space stripped */
                                 "event: ping\rdata: x\r\r" /* CR only */
                                 "retry: 100\nfoo: bar\n\n" /* no data: not dispatched */
                                 "data\n\n"                 /* a field without a colon */
                                 "data: last";              /* no blank line at the end */
    for (size_t step = 0; step <= 7; step++) {
        struct events e = {0};
        struct px_sse s;
        px_sse_init(&s, 1024, collect, &e);
        assert_int_equal(feed(&s, stream, step), 0);
        px_sse_finish(&s);
        px_sse_cleanup(&s);
        assert_int_equal(e.n, 5);
        assert_string_equal(e.data[0], "");
        assert_string_equal(e.type[1], "message");
        assert_string_equal(e.data[1], "{\"a\":\n 1}");
        assert_string_equal(e.type[2], "ping");
        assert_string_equal(e.data[2], "x");
        assert_string_equal(e.type[3], "");
        assert_string_equal(e.data[3], "");
        assert_string_equal(e.data[4], "last");
        assert_string_equal(s.last_id, "0");
    }
}

static void test_sse_limit(void **state)
{
    (void)state;
    struct events e = {0};
    struct px_sse s;
    px_sse_init(&s, 16, collect, &e);
    assert_int_equal(feed(&s, "data: 0123456789\n", 0), 0);
    assert_int_equal(feed(&s, "data: 0123456789\n\n", 0), -PX_ETOOLARGE); /* data over 16 */
    assert_int_equal(feed(&s, "data: x\n\n", 0), -PX_ETOOLARGE);          /* stays failed */
    px_sse_finish(&s);
    px_sse_cleanup(&s);
    assert_int_equal(e.n, 0);
}

static void check_endpoint(const char *given, const char *endpoint, const char *display)
{
    char *ep, *disp;
    struct px_error err;
    assert_int_equal(px_proxy_endpoint(given, &ep, &disp, &err), 0);
    assert_string_equal(ep, endpoint);
    assert_string_equal(disp, display);
    free(ep);
    free(disp);
}

static void test_endpoint_rule(void **state)
{
    (void)state;
    check_endpoint("https://mcp.example.com", "https://mcp.example.com/mcp",
                   "https://mcp.example.com/mcp");
    check_endpoint("https://mcp.example.com/", "https://mcp.example.com/mcp",
                   "https://mcp.example.com/mcp");
    check_endpoint("https://mcp.example.com/mcp", "https://mcp.example.com/mcp",
                   "https://mcp.example.com/mcp");
    check_endpoint("http://h:8080/MCP/", "http://h:8080/MCP", "http://h:8080/MCP");
    check_endpoint("https://h/sse", "https://h/mcp", "https://h/mcp");
    check_endpoint("https://h/tenant/a/", "https://h/tenant/a/mcp", "https://h/tenant/a/mcp");
    check_endpoint("https://h/mcpx", "https://h/mcpx/mcp", "https://h/mcpx/mcp");
    check_endpoint("https://user:secret@h/x?t=1#frag", "https://h/x/mcp?t=1", "https://h/x/mcp");

    char *ep, *disp;
    struct px_error err;
    assert_int_equal(px_proxy_endpoint("ftp://h/", &ep, &disp, &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "http://"));
    assert_int_equal(px_proxy_endpoint("localhost:8080", &ep, &disp, &err), -PX_EINVALID);
    assert_int_equal(px_proxy_endpoint("not a url", &ep, &disp, &err), -PX_EINVALID);
    assert_null(ep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_fields),
        cmocka_unit_test(test_sse_limit),
        cmocka_unit_test(test_endpoint_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
