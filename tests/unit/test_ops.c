/* Unit tests for src/planner/ops.c: each operation, ids given from types, the input graph left
 * as it was and untouched nodes byte-identical, and refusals naming the operation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "base/json.h"
#include "planner/ops.h"

#include <stdio.h>
#include <string.h>

#define GRAPH                                                                                      \
    "{\"nodes\":[{\"id\":\"orders\",\"kind\":\"source\",\"type\":\"postgres\","                    \
    "\"connection_id\":\"conn_a\",\"config\":{\"table\":\"orders\"}},"                             \
    "{\"id\":\"recent\",\"kind\":\"transform\",\"type\":\"filter\",\"config\":{\"condition\":"     \
    "\"order_date >= now() - interval '7 days'\"}},"                                               \
    "{\"id\":\"load\",\"kind\":\"destination\",\"type\":\"sqlite\",\"connection_id\":\"conn_b\","  \
    "\"config\":{\"table\":\"recent_orders\"}}],"                                                  \
    "\"edges\":[{\"from\":\"orders\",\"to\":\"recent\"},{\"from\":\"recent\",\"to\":\"load\"}]}"

static struct json_object *parse(const char *text)
{
    struct json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    return o;
}

static const char *node_text(struct json_object *g, const char *id)
{
    struct json_object *nodes = px_json_get(g, "nodes");
    for (size_t i = 0; i < json_object_array_length(nodes); i++)
        if (strcmp(px_json_get_str(json_object_array_get_idx(nodes, i), "id"), id) == 0)
            return px_json_str(json_object_array_get_idx(nodes, i));
    return NULL;
}

static void assert_edges(struct json_object *g, const char *want)
{
    struct json_object *w = parse(want);
    if (!px_json_equal(px_json_get(g, "edges"), w))
        fail_msg("edges %s\nwant %s", px_json_str(px_json_get(g, "edges")), want);
    json_object_put(w);
}

static void test_insert_keeps_the_rest(void **state)
{
    (void)state;
    struct json_object *g = parse(GRAPH);
    char before_orders[512], before_recent[512];
    snprintf(before_orders, sizeof(before_orders), "%s", node_text(g, "orders"));
    snprintf(before_recent, sizeof(before_recent), "%s", node_text(g, "recent"));
    char saved[2048];
    snprintf(saved, sizeof(saved), "%s", px_json_str(g));
    struct json_object *ops = parse(
        "[{\"op\":\"insert_before\",\"target\":\"load\",\"node\":{\"kind\":\"transform\","
        "\"type\":\"convert_timezone\",\"config\":{\"column\":\"order_date\",\"from_timezone\":"
        "\"UTC\",\"to_timezone\":\"America/New_York\"}}},"
        "{\"op\":\"insert_after\",\"target\":\"recent\",\"node\":{\"kind\":\"transform\",\"type\":"
        "\"dedupe\",\"config\":{\"keys\":[\"order_id\"]}}}]");
    struct json_object *out;
    struct px_error err;
    assert_int_equal(px_graph_apply(g, ops, &out, &err), 0);
    assert_string_equal(px_json_str(g), saved); /* the input graph is unchanged */
    assert_string_equal(node_text(out, "orders"), before_orders);
    assert_string_equal(node_text(out, "recent"), before_recent);
    assert_non_null(node_text(out, "convert_timezone"));
    assert_non_null(node_text(out, "dedupe"));
    assert_edges(out, "[{\"from\":\"orders\",\"to\":\"recent\"},"
                      "{\"from\":\"recent\",\"to\":\"dedupe\"},"
                      "{\"from\":\"dedupe\",\"to\":\"convert_timezone\"},"
                      "{\"from\":\"convert_timezone\",\"to\":\"load\"}]");
    json_object_put(out);
    json_object_put(ops);
    /* A second node of a type gets the next readable id. */
    ops = parse("[{\"op\":\"add_node\",\"node\":{\"kind\":\"transform\",\"type\":\"filter\"}},"
                "{\"op\":\"add_node\",\"node\":{\"kind\":\"transform\",\"type\":\"filter\"}}]");
    assert_int_equal(px_graph_apply(g, ops, &out, &err), 0);
    assert_non_null(node_text(out, "filter"));
    assert_non_null(node_text(out, "filter_2"));
    json_object_put(out);
    json_object_put(ops);
    json_object_put(g);
}

static void test_remove_set_connect(void **state)
{
    (void)state;
    struct json_object *g = parse(GRAPH);
    struct json_object *ops =
        parse("[{\"op\":\"set_config\",\"target\":\"load\",\"config\":{\"table\":\"t2\"}},"
              "{\"op\":\"remove_node\",\"target\":\"recent\"}]");
    struct json_object *out;
    struct px_error err;
    assert_int_equal(px_graph_apply(g, ops, &out, &err), 0);
    assert_null(node_text(out, "recent"));
    assert_edges(out, "[{\"from\":\"orders\",\"to\":\"load\"}]");
    struct json_object *load = NULL, *nodes = px_json_get(out, "nodes");
    for (size_t i = 0; i < json_object_array_length(nodes); i++)
        if (strcmp(px_json_get_str(json_object_array_get_idx(nodes, i), "id"), "load") == 0)
            load = json_object_array_get_idx(nodes, i);
    assert_string_equal(px_json_get_str(px_json_get(load, "config"), "table"), "t2");
    assert_string_equal(px_json_get_str(load, "connection_id"), "conn_b");
    json_object_put(out);
    json_object_put(ops);
    ops = parse("[{\"op\":\"disconnect\",\"from\":\"recent\",\"to\":\"load\"},"
                "{\"op\":\"connect\",\"from\":\"orders\",\"to\":\"load\"},"
                "{\"op\":\"connect\",\"from\":\"orders\",\"to\":\"load\"}]");
    assert_int_equal(px_graph_apply(g, ops, &out, &err), 0);
    assert_edges(out,
                 "[{\"from\":\"orders\",\"to\":\"recent\"},{\"from\":\"orders\",\"to\":\"load\"}]");
    json_object_put(out);
    json_object_put(ops);
    /* From nothing. */
    ops = parse("[{\"op\":\"add_node\",\"node\":{\"id\":\"a\",\"kind\":\"source\"}}]");
    assert_int_equal(px_graph_apply(NULL, ops, &out, &err), 0);
    assert_non_null(node_text(out, "a"));
    json_object_put(out);
    json_object_put(ops);
    json_object_put(g);
}

static void assert_refused(const char *ops_text, const char *message, const char *field)
{
    struct json_object *g = parse(GRAPH), *ops = parse(ops_text), *out = (void *)1;
    struct px_error err;
    px_error_clear(&err);
    assert_int_equal(px_graph_apply(g, ops, &out, &err), -PX_EINVALID);
    assert_null(out);
    if (!strstr(err.message, message))
        fail_msg("message %s, want %s", err.message, message);
    assert_string_equal(err.field, field);
    json_object_put(ops);
    json_object_put(g);
}

static void test_refusals(void **state)
{
    (void)state;
    assert_refused("[{\"op\":\"remove_node\",\"target\":\"nope\"}]",
                   "operations[0]: the graph has no node 'nope'", "operations[0]");
    assert_refused("[{\"op\":\"set_config\",\"target\":\"load\",\"config\":{}},"
                   "{\"op\":\"add_node\",\"node\":{\"id\":\"load\"}}]",
                   "operations[1]: the graph already has a node 'load'", "operations[1]");
    assert_refused("[{\"op\":\"explode\"}]", "operations[0]: unknown op 'explode'",
                   "operations[0]");
    assert_refused("[{\"op\":\"insert_before\",\"node\":{}}]", "\"target\" is required",
                   "operations[0]");
    assert_refused("[{\"op\":\"set_config\",\"target\":\"load\",\"config\":3}]",
                   "\"config\" must be an object", "operations[0]");
    assert_refused("[7]", "operations[0]: must be an object", "operations[0]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_keeps_the_rest),
        cmocka_unit_test(test_remove_set_connect),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
