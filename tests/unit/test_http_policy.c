/* Unit tests for src/transport/http_policy.c: the Origin and Host allowlists (DNS rebinding),
 * Accept and Content-Type matching, bearer parsing, --listen parsing and RateLimit fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "transport/http_policy.h"

#include <string.h>

static void test_origin_defaults(void **state)
{
    (void)state;
    struct px_http_allow a;
    assert_int_equal(px_http_allow_init(&a, "127.0.0.1", NULL, NULL, NULL), 0);
    const char *good[] = {"http://localhost",      "http://localhost:3000", "https://localhost",
                          "http://127.0.0.1:8080", "https://127.0.0.1",     "http://[::1]:6274",
                          "HTTP://LOCALHOST:80",   "http://localhost/"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(px_http_origin_allowed(&a, good[i]));
    const char *bad[] = {"http://evil.example.com",
                         "null",
                         "",
                         "file://",
                         "http://localhost.evil.com",
                         "http://127.0.0.1.nip.io",
                         "http://localhost:abc",
                         "http://localhost:3000/path",
                         "http://user@localhost",
                         "ftp://localhost",
                         "http://[::2]:80",
                         "http://localhost:123456"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(px_http_origin_allowed(&a, bad[i]));
}

static void test_origin_extra(void **state)
{
    (void)state;
    struct px_http_allow a;
    assert_int_equal(px_http_allow_init(&a, "127.0.0.1",
                                        " https://app.example.com , https://x.example.com:8443/",
                                        NULL, NULL),
                     0);
    assert_int_equal(a.norigins, 2);
    assert_true(px_http_origin_allowed(&a, "https://app.example.com"));
    assert_true(px_http_origin_allowed(&a, "HTTPS://APP.EXAMPLE.COM/"));
    assert_true(px_http_origin_allowed(&a, "https://x.example.com:8443"));
    assert_false(px_http_origin_allowed(&a, "http://app.example.com")); /* scheme matters */
    assert_false(px_http_origin_allowed(&a, "https://x.example.com"));  /* port matters */
    struct px_error err;
    assert_int_equal(px_http_allow_init(&a, NULL, "app.example.com", NULL, &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "PLANASONIX_ALLOWED_ORIGINS"));
}

static void test_host(void **state)
{
    (void)state;
    struct px_http_allow a;
    assert_int_equal(
        px_http_allow_init(&a, "10.1.2.3", NULL, "mcp.example.com, api.example.com:443", NULL), 0);
    const char *good[] = {
        "localhost",       "localhost:8080",    "127.0.0.1",          "127.0.0.1:1",
        "[::1]",           "[::1]:8080",        "LOCALHOST:80",       "10.1.2.3:8080",
        "mcp.example.com", "mcp.example.com:9", "api.example.com:443"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(px_http_host_allowed(&a, good[i]));
    const char *bad[] = {"evil.example.com",
                         "evil.example.com:8080",
                         "api.example.com",
                         "api.example.com:80",
                         "localhost:x",
                         "127.0.0.2",
                         "",
                         "[::1",
                         "localhost.evil.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(px_http_host_allowed(&a, bad[i]));
    /* A wildcard listen address adds nothing; an IPv6 one is bracketed. */
    assert_int_equal(px_http_allow_init(&a, "0.0.0.0", NULL, NULL, NULL), 0);
    assert_int_equal(a.nhosts, 0);
    assert_false(px_http_host_allowed(&a, "0.0.0.0:8080"));
    assert_int_equal(px_http_allow_init(&a, "fd00::5", NULL, NULL, NULL), 0);
    assert_true(px_http_host_allowed(&a, "[fd00::5]:8080"));
}

static void test_accept(void **state)
{
    (void)state;
    const char *both = "application/json, text/event-stream";
    assert_true(px_http_accepts(both, "application/json"));
    assert_true(px_http_accepts(both, "text/event-stream"));
    assert_true(px_http_accepts("*/*", "text/event-stream"));
    assert_true(px_http_accepts("text/*;q=0.5", "text/event-stream"));
    assert_true(px_http_accepts("Application/JSON; charset=utf-8", "application/json"));
    assert_false(px_http_accepts("application/json", "text/event-stream"));
    assert_false(px_http_accepts("text/event-stream;q=0, application/json", "text/event-stream"));
    assert_false(px_http_accepts("text/html", "application/json"));
    assert_false(px_http_accepts(NULL, "application/json"));
    assert_false(px_http_accepts("application/jsonx", "application/json"));
}

static void test_content_type(void **state)
{
    (void)state;
    assert_true(px_http_is_json("application/json"));
    assert_true(px_http_is_json("application/json; charset=utf-8"));
    assert_true(px_http_is_json("Application/JSON"));
    assert_false(px_http_is_json("application/jsonp"));
    assert_false(px_http_is_json("text/plain"));
    assert_false(px_http_is_json(NULL));
    assert_false(px_http_is_json(""));
}

static void test_bearer(void **state)
{
    (void)state;
    const char *t;
    size_t n;
    assert_true(px_http_bearer("Bearer flx_abc", &t, &n));
    assert_int_equal(n, 7);
    assert_memory_equal(t, "flx_abc", 7);
    assert_true(px_http_bearer("bearer   flx_abc  ", &t, &n));
    assert_int_equal(n, 7);
    assert_false(px_http_bearer("Basic Zm9vOmJhcg==", &t, &n));
    assert_null(t);
    assert_false(px_http_bearer("Bearerflx_abc", &t, &n));
    assert_false(px_http_bearer(NULL, &t, &n));
    assert_true(px_http_bearer("Bearer ", &t, &n));
    assert_int_equal(n, 0);
}

static void test_listen(void **state)
{
    (void)state;
    char host[64];
    unsigned port;
    assert_int_equal(px_http_parse_listen("127.0.0.1:8080", host, sizeof(host), &port, NULL), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(px_http_parse_listen("[::1]:9000", host, sizeof(host), &port, NULL), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9000);
    assert_int_equal(px_http_parse_listen(":7000", host, sizeof(host), &port, NULL), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(px_http_parse_listen("0", host, sizeof(host), &port, NULL), 0);
    assert_int_equal(port, 0);
    assert_int_equal(px_http_parse_listen("localhost:80", host, sizeof(host), &port, NULL), 0);
    assert_string_equal(host, "localhost");
    const char *bad[] = {"",        "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:8x", "::1:80",
                         "[::1]80", "[::1]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(px_http_parse_listen(bad[i], host, sizeof(host), &port, NULL),
                         -PX_EINVALID);
}

static void test_ratelimit_fields(void **state)
{
    (void)state;
    assert_int_equal(px_http_ceil_seconds(0), 0);
    assert_int_equal(px_http_ceil_seconds(1), 1);
    assert_int_equal(px_http_ceil_seconds(1000), 1);
    assert_int_equal(px_http_ceil_seconds(1001), 2);
    char policy[64], state_[64];
    px_http_ratelimit_fields(60, 0, 2, policy, sizeof(policy), state_, sizeof(state_));
    assert_string_equal(policy, "\"org\";q=60;w=60");
    assert_string_equal(state_, "\"org\";r=0;t=2");
    px_http_ratelimit_fields(300, -3, 0, policy, sizeof(policy), state_, sizeof(state_));
    assert_string_equal(state_, "\"org\";r=0;t=0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_defaults),
        cmocka_unit_test(test_origin_extra),
        cmocka_unit_test(test_host),
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_ratelimit_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
