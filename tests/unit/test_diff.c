/* Unit tests for src/planner/diff.c: nodes matched by id (added, removed, changed in kind, type,
 * connection or config; unchanged counted), edges by (from, to), and NULL graphs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/json.h"
#include "planner/diff.h"

static struct json_object *parse(const char *text)
{
    struct json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    return o;
}

static void assert_json(struct json_object *got, const char *want)
{
    struct json_object *w = parse(want);
    if (!px_json_equal(got, w))
        fail_msg("got %s\nwant %s", px_json_str(got), px_json_str(w));
    json_object_put(w);
}

static void test_diff_nodes_and_edges(void **state)
{
    (void)state;
    struct json_object *a = parse(
        "{\"nodes\":[{\"id\":\"s\",\"kind\":\"source\",\"type\":\"csv\",\"connection_id\":\"c1\","
        "\"config\":{\"file\":\"a.csv\"}},{\"id\":\"f\",\"kind\":\"transform\",\"type\":\"filter\","
        "\"config\":{\"condition\":\"x > 1\"}},{\"id\":\"d\",\"kind\":\"destination\",\"type\":"
        "\"csv\",\"connection_id\":\"c2\",\"config\":{}}],"
        "\"edges\":[{\"from\":\"s\",\"to\":\"f\"},{\"from\":\"f\",\"to\":\"d\"}]}");
    struct json_object *b = parse(
        "{\"nodes\":[{\"id\":\"s\",\"kind\":\"source\",\"type\":\"csv\",\"connection_id\":\"c3\","
        "\"config\":{\"file\":\"a.csv\"}},{\"id\":\"d\",\"kind\":\"destination\",\"type\":\"csv\","
        "\"connection_id\":\"c2\",\"config\":{}},{\"id\":\"l\",\"kind\":\"transform\",\"type\":"
        "\"limit\",\"config\":{\"count\":5}}],"
        "\"edges\":[{\"from\":\"s\",\"to\":\"l\"},{\"from\":\"l\",\"to\":\"d\"}]}");
    struct json_object *d = px_graph_diff(a, b);
    assert_json(
        px_json_get(d, "nodes_added"),
        "[{\"id\":\"l\",\"kind\":\"transform\",\"type\":\"limit\",\"config\":{\"count\":5}}]");
    assert_json(
        px_json_get(d, "nodes_removed"),
        "[{\"id\":\"f\",\"kind\":\"transform\",\"type\":\"filter\",\"config\":{\"condition\":"
        "\"x > 1\"}}]");
    struct json_object *changed = px_json_get(d, "nodes_changed");
    assert_int_equal(json_object_array_length(changed), 1);
    struct json_object *c = json_object_array_get_idx(changed, 0);
    assert_string_equal(px_json_get_str(c, "id"), "s");
    assert_string_equal(px_json_get_str(px_json_get(c, "before"), "connection_id"), "c1");
    assert_string_equal(px_json_get_str(px_json_get(c, "after"), "connection_id"), "c3");
    assert_json(px_json_get(d, "edges_added"),
                "[{\"from\":\"s\",\"to\":\"l\"},{\"from\":\"l\",\"to\":\"d\"}]");
    assert_json(px_json_get(d, "edges_removed"),
                "[{\"from\":\"s\",\"to\":\"f\"},{\"from\":\"f\",\"to\":\"d\"}]");
    assert_int_equal(px_json_get_int(d, "unchanged_nodes", -1), 1);
    json_object_put(d);
    /* A graph against itself: nothing but unchanged nodes. */
    d = px_graph_diff(a, a);
    assert_json(d, "{\"nodes_added\":[],\"nodes_removed\":[],\"nodes_changed\":[],"
                   "\"edges_added\":[],\"edges_removed\":[],\"unchanged_nodes\":3}");
    json_object_put(d);
    /* No graph before: everything is added. */
    d = px_graph_diff(NULL, b);
    assert_int_equal(json_object_array_length(px_json_get(d, "nodes_added")), 3);
    assert_int_equal(json_object_array_length(px_json_get(d, "edges_added")), 2);
    json_object_put(d);
    json_object_put(a);
    json_object_put(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_nodes_and_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
