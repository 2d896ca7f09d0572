/* MCP session: JSON-RPC framing errors, lifecycle, version negotiation, batches, auth, rate
 * limits and cancellation, driven through px_mcp_handle with a fake transport host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/audit.h"
#include "auth/keyring.h"
#include "auth/principal.h"
#include "auth/ratelimit.h"
#include "auth/scopes.h"
#include "base/err.h"
#include "base/json.h"
#include "mcp/session.h"
#include "store/store.h"
#include "tools/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
    char dir[64];
    struct px_store *st;
    struct px_keyring kr;
    struct px_ratelimit *rl;
    struct px_audit *audit;
    struct px_mcp_session *s;
    int auth_result; /* 0 or a negative code the fake host returns */
    int64_t limit;   /* rate limit of the fake principal */
    int sent;        /* notifications sent */
};

static int fake_auth(void *ctx, struct px_principal *out, struct px_error *err)
{
    struct fixture *f = ctx;
    memset(out, 0, sizeof(*out));
    if (f->auth_result)
        return px_error_set(err, -f->auth_result, "Unauthorized: test");
    snprintf(out->org_id, sizeof(out->org_id), "org_test");
    snprintf(out->key_id, sizeof(out->key_id), "key_test");
    snprintf(out->plan, sizeof(out->plan), "premium");
    out->scopes = PX_SCOPES_ALL;
    out->rate_limit = f->limit;
    return 0;
}

static void fake_send(void *ctx, const char *json)
{
    (void)json;
    ((struct fixture *)ctx)->sent++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct px_error err;
    snprintf(f->dir, sizeof(f->dir), "/tmp/px-session-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/t.db", f->dir);
    assert_int_equal(px_store_open(path, &f->st, &err), 0);
    assert_int_equal(px_keyring_load(f->dir, &f->kr, &err), 0);
    assert_int_equal(px_tools_init(&err), 0);
    if (px_tools_check_schemas(&err))
        fail_msg("%s", err.message);
    f->rl = px_ratelimit_create();
    f->audit = px_audit_create();
    struct px_mcp_deps deps = {f->st, &f->kr, f->rl, f->audit, NULL};
    struct px_mcp_host host = {
        .ctx = f, .transport = "test", .authenticate = fake_auth, .send = fake_send};
    f->s = px_mcp_session_create(&deps, &host);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    px_mcp_session_destroy(f->s);
    px_audit_flush(f->audit, f->st);
    px_audit_destroy(f->audit);
    px_ratelimit_destroy(f->rl);
    px_store_close(f->st);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Sends text; returns the parsed reply (NULL when none). */
static struct json_object *call(struct fixture *f, const char *text)
{
    char *out = px_mcp_handle(f->s, text, strlen(text));
    if (!out)
        return NULL;
    struct json_object *j = json_tokener_parse(out);
    assert_non_null(j);
    free(out);
    return j;
}

static int64_t error_code(struct json_object *reply)
{
    return px_json_get_int(px_json_get(reply, "error"), "code", 0);
}

static void init(struct fixture *f, const char *version)
{
    char msg[300];
    snprintf(msg, sizeof(msg),
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
             "\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\","
             "\"version\":\"1\"}}}",
             version);
    struct json_object *r = call(f, msg);
    assert_non_null(px_json_get(r, "result"));
    json_object_put(r);
    assert_null(call(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
}

static void framing_errors(void **state)
{
    struct fixture *f = *state;
    struct json_object *r = call(f, "{\"jsonrpc\":");
    assert_int_equal(error_code(r), -32700);
    assert_true(json_object_is_type(px_json_get(r, "id"), json_type_null));
    json_object_put(r);
    r = call(f, "[1,2");
    assert_int_equal(error_code(r), -32700);
    json_object_put(r);
    r = call(f, "{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"ping\"}");
    assert_int_equal(error_code(r), -32600);
    assert_int_equal(px_json_get_int(r, "id", 0), 3);
    json_object_put(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}");
    assert_int_equal(error_code(r), -32600);
    json_object_put(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\",\"params\":[1]}");
    assert_int_equal(error_code(r), -32602);
    json_object_put(r);
    r = call(f, "\"just a string\"");
    assert_int_equal(error_code(r), -32600);
    json_object_put(r);
}

static void lifecycle_and_negotiation(void **state)
{
    struct fixture *f = *state;
    struct json_object *r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    assert_int_equal(error_code(r), -32600); /* not initialized */
    json_object_put(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
    assert_non_null(px_json_get(r, "result")); /* ping always works */
    json_object_put(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                "\"protocolVersion\":\"1999-01-01\",\"capabilities\":{},\"clientInfo\":{}}}");
    assert_string_equal(px_json_get_str(px_json_get(r, "result"), "protocolVersion"), "2025-11-25");
    json_object_put(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{"
                "\"protocolVersion\":\"2025-06-18\"}}");
    assert_int_equal(error_code(r), -32600); /* second initialize */
    json_object_put(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/list\"}");
    assert_int_equal(error_code(r), -32601);
    json_object_put(r);
}

static void old_version_gets_old_shapes(void **state)
{
    struct fixture *f = *state;
    init(f, "2024-11-05");
    struct json_object *r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    struct json_object *tools = px_json_get(px_json_get(r, "result"), "tools");
    assert_int_equal(json_object_array_length(tools), 22);
    struct json_object *t0 = json_object_array_get_idx(tools, 0);
    assert_null(px_json_get(t0, "outputSchema"));
    assert_null(px_json_get(t0, "title"));
    assert_null(px_json_get(t0, "annotations"));
    json_object_put(r);
    r = call(f, "[{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}]");
    assert_int_equal(error_code(r), -32600); /* no batches in 2024-11-05 */
    json_object_put(r);
}

static void batches_only_in_2025_03_26(void **state)
{
    struct fixture *f = *state;
    init(f, "2025-03-26");
    struct json_object *r = call(f, "[{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"},"
                                    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"},"
                                    "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"nope\"}]");
    assert_true(json_object_is_type(r, json_type_array));
    assert_int_equal(json_object_array_length(r), 2);
    assert_int_equal(error_code(json_object_array_get_idx(r, 1)), -32601);
    json_object_put(r);
    assert_null(call(f, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}]"));
}

static void tools_call_errors(void **state)
{
    struct fixture *f = *state;
    init(f, "2025-11-25");
    struct json_object *r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\","
                                    "\"params\":{\"name\":\"no_such_tool\"}}");
    assert_int_equal(error_code(r), -32602);
    json_object_put(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
                "\"list_pipelines\",\"arguments\":{\"limit\":\"ten\"}}}");
    struct json_object *res = px_json_get(r, "result");
    assert_true(px_json_get_bool(res, "isError", false));
    const char *text =
        px_json_get_str(json_object_array_get_idx(px_json_get(res, "content"), 0), "text");
    assert_non_null(strstr(text, "limit"));
    json_object_put(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
                "\"list_pipelines\",\"arguments\":{\"org_id\":\"org_other\"}}}");
    res = px_json_get(r, "result");
    assert_true(px_json_get_bool(res, "isError", false));
    text = px_json_get_str(json_object_array_get_idx(px_json_get(res, "content"), 0), "text");
    assert_non_null(strstr(text, "org_id"));
    json_object_put(r);
}

static void unauthorized_and_rate_limited(void **state)
{
    struct fixture *f = *state;
    f->auth_result = -PX_EUNAUTHORIZED;
    struct json_object *r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
                                    "\"params\":{\"protocolVersion\":\"2025-11-25\"}}");
    assert_int_equal(error_code(r), -32001);
    json_object_put(r);
    f->auth_result = 0;
    f->limit = 3;
    init(f, "2025-11-25"); /* takes 1 */
    for (int i = 0; i < 2; i++) {
        r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
        assert_non_null(px_json_get(r, "result"));
        json_object_put(r);
    }
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}");
    assert_int_equal(error_code(r), -32029);
    assert_true(px_json_get_int(px_json_get(px_json_get(r, "error"), "data"), "retry_after_ms", 0) >
                0);
    json_object_put(r);
}

static void cancelled_request_gets_no_response(void **state)
{
    struct fixture *f = *state;
    init(f, "2025-11-25");
    const char *cancel = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                         "\"params\":{\"requestId\":\"r1\"}}";
    assert_true(px_mcp_take_cancel(f->s, cancel, strlen(cancel)));
    assert_null(call(f, "{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"method\":\"tools/list\"}"));
    struct json_object *r =
        call(f, "{\"jsonrpc\":\"2.0\",\"id\":\"r2\",\"method\":\"tools/list\"}");
    assert_non_null(r);
    json_object_put(r);
    const char *other = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}";
    assert_false(px_mcp_take_cancel(f->s, other, strlen(other)));
}

static void logging_set_level(void **state)
{
    struct fixture *f = *state;
    init(f, "2025-11-25");
    struct json_object *r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"logging/setLevel\","
                                    "\"params\":{\"level\":\"loud\"}}");
    assert_int_equal(error_code(r), -32602);
    json_object_put(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"logging/setLevel\",\"params\":{"
                "\"level\":\"debug\"}}");
    assert_non_null(px_json_get(r, "result"));
    json_object_put(r);
    int before = f->sent;
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
                "\"list_connection_types\"}}");
    json_object_put(r);
    assert_true(f->sent > before); /* a notifications/message went out */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(framing_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(lifecycle_and_negotiation, setup, teardown),
        cmocka_unit_test_setup_teardown(old_version_gets_old_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(batches_only_in_2025_03_26, setup, teardown),
        cmocka_unit_test_setup_teardown(tools_call_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(unauthorized_and_rate_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(cancelled_request_gets_no_response, setup, teardown),
        cmocka_unit_test_setup_teardown(logging_set_level, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
