/* Unit tests for src/transport/sessions.c: ids, binding to the key that opened a session,
 * kinds, removal while in use, the idle sweep, the size cap, and one message handled through
 * a session (initialize, ping, a queued cancellation) against a real app in a temp home. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "app/config.h"
#include "auth/principal.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "store/store.h"
#include "tools/registry.h"
#include "transport/env.h"
#include "transport/sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TTL 60000

struct fixture {
    char dir[64];
    struct px_app app;
    struct px_transport_env env;
    struct px_store_pool *pool;
    struct px_sessions *t;
    int tool_calls;
};

static void on_tool(void *ctx, const char *tool, const char *outcome, long long latency_us)
{
    (void)tool;
    (void)outcome;
    (void)latency_us;
    ((struct fixture *)ctx)->tool_calls++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/px-hsess-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    setenv("PLANASONIX_HOME", f->dir, 1);
    unsetenv("DATABASE_URL");
    struct px_error err;
    if (px_tools_init(&err) || px_app_open(&f->app, &err) ||
        px_store_pool_open(f->app.store_url, 2, &f->pool, &err))
        return -1;
    px_app_transport_env(&f->app, &f->env);
    struct px_sessions_config cfg = {.env = &f->env,
                                     .pool = f->pool,
                                     .max_sessions = 3,
                                     .idle_ttl_ms = TTL,
                                     .tool_done = on_tool,
                                     .tool_ctx = f};
    f->t = px_sessions_create(&cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    px_sessions_destroy(f->t);
    px_store_pool_close(f->pool);
    px_app_close(&f->app);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void test_ids_and_binding(void **state)
{
    struct fixture *f = *state;
    struct px_hsession *a = px_hsession_new(f->t, PX_HSESSION_STREAMABLE, "key_a", "org_t");
    struct px_hsession *b = px_hsession_new(f->t, PX_HSESSION_STREAMABLE, "key_a", "org_t");
    const char *id = px_hsession_id(a);
    assert_true(strlen(id) >= 43); /* 256 bits, base64url */
    for (const char *p = id; *p; p++)
        assert_true(*p >= 0x21 && *p <= 0x7e && *p != '=' && *p != '+' && *p != '/');
    assert_string_not_equal(id, px_hsession_id(b));
    /* Not findable before it is added. */
    assert_null(px_sessions_get(f->t, id, "key_a", PX_HSESSION_STREAMABLE));
    assert_int_equal(PX_SESSION_ADDED, px_sessions_add(f->t, a));
    struct px_hsession *g = px_sessions_get(f->t, id, "key_a", PX_HSESSION_STREAMABLE);
    assert_ptr_equal(g, a);
    px_hsession_release(g);
    /* Another key, another kind, an unknown or overlong id: nothing. */
    assert_null(px_sessions_get(f->t, id, "key_b", PX_HSESSION_STREAMABLE));
    assert_null(px_sessions_get(f->t, id, "key_a", PX_HSESSION_LEGACY));
    assert_null(px_sessions_get(f->t, "nope", "key_a", PX_HSESSION_STREAMABLE));
    char longid[200];
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_null(px_sessions_get(f->t, longid, "key_a", PX_HSESSION_STREAMABLE));
    assert_int_equal(px_sessions_count(f->t, PX_HSESSION_STREAMABLE), 1);
    px_hsession_release(a);
    px_hsession_release(b);
}

static void test_remove_while_in_use(void **state)
{
    struct fixture *f = *state;
    struct px_hsession *s = px_hsession_new(f->t, PX_HSESSION_STREAMABLE, "key_a", "org_t");
    assert_int_equal(PX_SESSION_ADDED, px_sessions_add(f->t, s));
    px_hsession_release(s); /* the table's reference remains */
    char id[PX_HSESSION_ID_MAX];
    snprintf(id, sizeof(id), "%s", px_hsession_id(s));
    struct px_hsession *held = px_sessions_get(f->t, id, "key_a", PX_HSESSION_STREAMABLE);
    assert_non_null(held);
    assert_true(px_sessions_remove(f->t, held));
    assert_false(px_sessions_remove(f->t, held));
    assert_null(px_sessions_get(f->t, id, "key_a", PX_HSESSION_STREAMABLE));
    assert_string_equal(px_hsession_id(held), id); /* still valid for its holder */
    px_hsession_release(held);
    assert_int_equal(px_sessions_count(f->t, PX_HSESSION_STREAMABLE), 0);
}

static bool key_b_gone(void *ctx, const char *key_id)
{
    (void)ctx;
    return strcmp(key_id, "key_b") == 0;
}

/* Sessions of a revoked key leave the table (either kind); others stay; a holder keeps its
 * reference. */
static void test_end_keys(void **state)
{
    struct fixture *f = *state;
    struct px_hsession *a = px_hsession_new(f->t, PX_HSESSION_STREAMABLE, "key_a", "org_t");
    struct px_hsession *b1 = px_hsession_new(f->t, PX_HSESSION_STREAMABLE, "key_b", "org_t");
    struct px_hsession *b2 = px_hsession_new(f->t, PX_HSESSION_LEGACY, "key_b", "org_t");
    assert_int_equal(PX_SESSION_ADDED, px_sessions_add(f->t, a));
    assert_int_equal(PX_SESSION_ADDED, px_sessions_add(f->t, b1));
    assert_int_equal(PX_SESSION_ADDED, px_sessions_add(f->t, b2));
    px_hsession_release(b2); /* only the table holds it now */
    char id[PX_HSESSION_ID_MAX];
    snprintf(id, sizeof(id), "%s", px_hsession_id(b1));
    assert_int_equal(px_sessions_end_keys(f->t, key_b_gone, NULL), 2);
    assert_null(px_sessions_get(f->t, id, "key_b", PX_HSESSION_STREAMABLE));
    assert_string_equal(px_hsession_id(b1), id); /* still valid for its holder */
    assert_int_equal(px_sessions_count(f->t, PX_HSESSION_STREAMABLE), 1);
    assert_int_equal(px_sessions_count(f->t, PX_HSESSION_LEGACY), 0);
    assert_int_equal(px_sessions_end_keys(f->t, key_b_gone, NULL), 0);
    px_hsession_release(b1);
    px_hsession_release(a);
}

static void test_sweep_and_cap(void **state)
{
    struct fixture *f = *state;
    struct px_hsession *s[4];
    for (int i = 0; i < 3; i++) {
        s[i] = px_hsession_new(f->t, i == 2 ? PX_HSESSION_LEGACY : PX_HSESSION_STREAMABLE, "k",
                               "org_t");
        assert_int_equal(PX_SESSION_ADDED, px_sessions_add(f->t, s[i]));
    }
    s[3] = px_hsession_new(f->t, PX_HSESSION_STREAMABLE, "k", "org_t");
    assert_int_equal(PX_SESSION_FULL, px_sessions_add(f->t, s[3])); /* cap of 3 */
    px_hsession_release(s[3]);
    px_hsession_release(s[1]);
    px_hsession_release(s[2]);
    /* s[0] is still held by the test (in use): not swept; s[1] is idle: swept; the legacy
     * session lives as long as its stream, never swept. */
    int64_t later = px_now_ms() + TTL + 1;
    assert_int_equal(px_sessions_sweep(f->t, px_now_ms()), 0);
    assert_int_equal(px_sessions_sweep(f->t, later), 1);
    assert_int_equal(px_sessions_count(f->t, PX_HSESSION_STREAMABLE), 1);
    assert_int_equal(px_sessions_count(f->t, PX_HSESSION_LEGACY), 1);
    px_hsession_release(s[0]);
    assert_int_equal(px_sessions_sweep(f->t, later), 1);
    assert_int_equal(px_sessions_count(f->t, PX_HSESSION_STREAMABLE), 0);
}

struct sink_count {
    int n;
};

static void count_emit(void *ctx, const char *json)
{
    (void)json;
    ((struct sink_count *)ctx)->n++;
}

static struct json_object *handle(struct px_hsession *s, const struct px_principal *p,
                                  struct px_http_sink *sink, const char *text)
{
    char *reply = px_hsession_handle(s, p, sink, text, strlen(text));
    if (!reply)
        return NULL;
    struct json_object *o = px_json_parse(reply, strlen(reply), 64, NULL);
    free(reply);
    return o;
}

static void test_handle(void **state)
{
    struct fixture *f = *state;
    struct px_principal p;
    memset(&p, 0, sizeof(p));
    snprintf(p.org_id, sizeof(p.org_id), "org_test");
    snprintf(p.key_id, sizeof(p.key_id), "key_test");
    snprintf(p.plan, sizeof(p.plan), "professional");
    p.rate_limit = 1; /* the session must not count again: several requests still pass */
    struct px_hsession *s = px_hsession_new(f->t, PX_HSESSION_STREAMABLE, p.key_id, "org_t");
    struct sink_count c = {0};
    struct px_http_sink sink = {.emit = count_emit, .ctx = &c};
    assert_false(px_hsession_initialized(s));
    struct json_object *r =
        handle(s, &p, &sink,
               "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
               "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{"
               "\"name\":\"t\",\"version\":\"1\"}}}");
    assert_string_equal(px_json_get_str(px_json_get(r, "result"), "protocolVersion"), "2025-06-18");
    json_object_put(r);
    assert_true(px_hsession_initialized(s));
    for (int i = 0; i < 3; i++) {
        r = handle(s, &p, &sink, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
        assert_non_null(px_json_get(px_json_get(r, "result"), "tools"));
        json_object_put(r);
    }
    /* A cancellation queued before its request arrives: the request gets no response. */
    const char *cancel = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                         "\"params\":{\"requestId\":9}}";
    px_hsession_cancel(s, cancel, strlen(cancel));
    assert_null(handle(s, &p, &sink, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}"));
    assert_int_equal(c.n, 0);
    px_hsession_release(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ids_and_binding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_while_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_and_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
