/* Unit tests for src/engine/graph.c: the DESIGN §3.6 example (with a postgres destination)
 * passes, and each rule (shape, ids, kinds, catalog types, configs, edges, input counts,
 * connectivity, cycles, connection lookups) fails with the expected path and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "engine/graph.h"

#include <stdio.h>
#include <string.h>

/* The fake organization's connections. */
static const struct {
    const char *id, *type, *category;
} fake_conns[] = {
    {"conn_pgsrc", "postgres", "source"},  {"conn_pgdst", "postgres", "destination"},
    {"conn_mysrc", "mysql", "source"},     {"conn_csvsrc", "csv", "source"},
    {"conn_csvdst", "csv", "destination"},
};

static int lookups;                      /* calls of fake_lookup */
static char store_down[] = "store down"; /* lookup context that makes the fake fail */

static int fake_lookup(void *ctx, const char *id, char type_out[32], char category_out[16])
{
    lookups++;
    if (ctx == store_down)
        return -PX_ESTORE;
    for (size_t i = 0; i < sizeof(fake_conns) / sizeof(fake_conns[0]); i++)
        if (strcmp(fake_conns[i].id, id) == 0) {
            snprintf(type_out, 32, "%s", fake_conns[i].type);
            snprintf(category_out, 16, "%s", fake_conns[i].category);
            return 0;
        }
    return -PX_ENOTFOUND;
}

static struct px_error err;

static int run_with(const char *text, struct json_object **ids_out, px_conn_lookup_fn fn, void *ctx)
{
    struct json_object *graph = json_tokener_parse(text);
    if (!graph)
        fail_msg("test graph does not parse: %s", text);
    px_error_clear(&err);
    lookups = 0;
    int rc = px_graph_validate(graph, fn, ctx, ids_out, &err);
    json_object_put(graph);
    return rc;
}

static int run(const char *text)
{
    return run_with(text, NULL, fake_lookup, NULL);
}

#define PASSES(text)                                                                               \
    do {                                                                                           \
        if (run(text) != 0)                                                                        \
            fail_msg("expected the graph to pass, got: %s", err.message);                          \
    } while (0)

#define FAILS(text, msg, fld)                                                                      \
    do {                                                                                           \
        assert_int_equal(run(text), -PX_EINVALID);                                                 \
        assert_string_equal(err.message, msg);                                                     \
        assert_string_equal(err.field, fld);                                                       \
    } while (0)

/* Nodes used to build graphs below. */
#define SRC                                                                                        \
    "{\"id\": \"orders\", \"kind\": \"source\", \"type\": \"postgres\", "                          \
    "\"connection_id\": \"conn_pgsrc\", \"config\": {\"table\": \"orders\"}}"
#define DST                                                                                        \
    "{\"id\": \"load\", \"kind\": \"destination\", \"type\": \"postgres\", "                       \
    "\"connection_id\": \"conn_pgdst\", \"config\": {\"table\": \"orders_out\", "                  \
    "\"mode\": \"append\"}}"
#define E(a, b) "{\"from\": \"" a "\", \"to\": \"" b "\"}"

static const char *design_example =
    "{\"nodes\": ["
    "  {\"id\": \"orders\", \"kind\": \"source\", \"type\": \"postgres\","
    "   \"connection_id\": \"conn_pgsrc\", \"config\": {\"table\": \"orders\"}},"
    "  {\"id\": \"recent\", \"kind\": \"transform\", \"type\": \"filter\","
    "   \"config\": {\"condition\": \"order_date >= now() - interval '7 days'\"}},"
    "  {\"id\": \"dedupe\", \"kind\": \"transform\", \"type\": \"dedupe\","
    "   \"config\": {\"keys\": [\"order_id\"]}},"
    "  {\"id\": \"load\", \"kind\": \"destination\", \"type\": \"postgres\","
    "   \"connection_id\": \"conn_pgdst\", \"config\": {\"table\": \"orders\", \"mode\": "
    "\"append\"}}],"
    " \"edges\": [{\"from\": \"orders\", \"to\": \"recent\"}, {\"from\": \"recent\", \"to\": "
    "\"dedupe\"},"
    "           {\"from\": \"dedupe\", \"to\": \"load\"}]}";

static void test_design_example(void **state)
{
    (void)state;
    struct json_object *ids = NULL;
    int rc = run_with(design_example, &ids, fake_lookup, NULL);
    if (rc != 0)
        fail_msg("%s", err.message);
    assert_non_null(ids);
    assert_string_equal(px_json_str(ids), "[\"conn_pgsrc\",\"conn_pgdst\"]");
    assert_int_equal(lookups, 2);
    json_object_put(ids);

    /* NULL conn_ids_out is fine; a NULL lookup skips the connection checks. */
    assert_int_equal(run_with(design_example, NULL, NULL, NULL), 0);
    assert_int_equal(lookups, 0);
}

static void test_shape(void **state)
{
    (void)state;
    FAILS("[]", "graph: must be an object, got an array", "graph");
    FAILS("{\"nodes\": []}", "graph: missing required property 'edges'", "graph.edges");
    FAILS("{\"nodes\": [], \"edges\": [], \"name\": \"x\"}",
          "graph: unknown property 'name' (allowed: nodes, edges)", "graph.name");
    FAILS("{\"nodes\": {}, \"edges\": []}", "graph.nodes: must be an array, got an object",
          "graph.nodes");
    FAILS("{\"nodes\": [], \"edges\": []}",
          "graph.nodes: a pipeline needs at least one source and one destination node; this graph "
          "has no source and no destination",
          "graph.nodes");
    FAILS("{\"nodes\": [" SRC "], \"edges\": []}",
          "graph.nodes: a pipeline needs at least one source and one destination node; this graph "
          "has no destination",
          "graph.nodes");
    FAILS("{\"nodes\": [" DST "], \"edges\": []}",
          "graph.nodes: a pipeline needs at least one source and one destination node; this graph "
          "has no source",
          "graph.nodes");
    FAILS("{\"nodes\": [{\"id\": \"a\", \"kind\": \"source\", \"type\": \"csv\", \"connection_id\":"
          " \"conn_csvsrc\", \"cfg\": {}}], \"edges\": []}",
          "graph.nodes[0]: unknown property 'cfg' (allowed: id, kind, type, connection_id, "
          "config, name)",
          "graph.nodes[0].cfg");
    FAILS("{\"nodes\": [{\"id\": \"a\", \"type\": \"csv\"}], \"edges\": []}",
          "graph.nodes[0]: missing required property 'kind'", "graph.nodes[0].kind");
    FAILS("{\"nodes\": [{\"id\": \"a\", \"kind\": \"sink\", \"type\": \"csv\"}], \"edges\": []}",
          "graph.nodes[0].kind: must be one of source, transform, destination; got \"sink\"",
          "graph.nodes[0].kind");
    FAILS("{\"nodes\": [" SRC "," DST "], \"edges\": [{\"from\": \"orders\"}]}",
          "graph.edges[0]: missing required property 'to'", "graph.edges[0].to");

    /* Limits. */
    struct px_buf b;
    px_buf_init(&b, 1 << 20);
    px_buf_puts(&b, "{\"nodes\": [" SRC);
    for (int i = 0; i < PX_GRAPH_MAX_NODES; i++)
        px_buf_printf(&b,
                      ", {\"id\": \"f%d\", \"kind\": \"transform\", \"type\": \"filter\", "
                      "\"config\": {\"condition\": \"true\"}}",
                      i);
    px_buf_puts(&b, "], \"edges\": []}");
    FAILS(b.data, "graph.nodes: must contain at most 200 items, got 201", "graph.nodes");
    px_buf_reset(&b);
    px_buf_puts(&b, "{\"nodes\": [" SRC "," DST "], \"edges\": [" E("orders", "load"));
    for (int i = 0; i < PX_GRAPH_MAX_EDGES; i++)
        px_buf_puts(&b, ", " E("orders", "load"));
    px_buf_puts(&b, "]}");
    FAILS(b.data, "graph.edges: must contain at most 1000 items, got 1001", "graph.edges");
    px_buf_cleanup(&b);
}

static void test_node_ids(void **state)
{
    (void)state;
    FAILS("{\"nodes\": [{\"id\": \"Orders\", \"kind\": \"source\", \"type\": \"csv\"}], \"edges\": "
          "[]}",
          "graph.nodes[0].id: must start with a lowercase letter and contain only lowercase "
          "letters, digits and underscores (at most 63 characters), got \"Orders\"",
          "graph.nodes[0].id");
    FAILS("{\"nodes\": [{\"id\": \"\", \"kind\": \"source\", \"type\": \"csv\"}], \"edges\": []}",
          "graph.nodes[0].id: must start with a lowercase letter and contain only lowercase "
          "letters, digits and underscores (at most 63 characters), got \"\"",
          "graph.nodes[0].id");
    FAILS("{\"nodes\": [{\"id\": \"1a\", \"kind\": \"source\", \"type\": \"csv\"}], \"edges\": []}",
          "graph.nodes[0].id: must start with a lowercase letter and contain only lowercase "
          "letters, digits and underscores (at most 63 characters), got \"1a\"",
          "graph.nodes[0].id");
    /* 63 characters pass, 64 do not. */
    char text[512];
    char id[70];
    memset(id, 'a', 63);
    id[63] = '\0';
    snprintf(text, sizeof(text),
             "{\"nodes\": [{\"id\": \"%s\", \"kind\": \"source\", \"type\": \"csv\", "
             "\"connection_id\": \"conn_csvsrc\"}, " DST "], \"edges\": [" E("%s", "load") "]}",
             id, id);
    PASSES(text);
    id[63] = 'a';
    id[64] = '\0';
    snprintf(text, sizeof(text),
             "{\"nodes\": [{\"id\": \"%s\", \"kind\": \"source\", \"type\": \"csv\"}], \"edges\": "
             "[]}",
             id);
    assert_int_equal(run(text), -PX_EINVALID);
    assert_string_equal(err.field, "graph.nodes[0].id");

    FAILS("{\"nodes\": [" SRC ", " DST ", " SRC "], \"edges\": []}",
          "graph.nodes[2].id: duplicate node id 'orders' (also used by graph.nodes[0])",
          "graph.nodes[2].id");
}

static void test_types(void **state)
{
    (void)state;
    FAILS("{\"nodes\": [" SRC ", {\"id\": \"f\", \"kind\": \"transform\", \"type\": \"filtr\"}], "
          "\"edges\": []}",
          "graph.nodes[1].type: unknown transform type 'filtr' (valid: aggregate, cast, "
          "convert_timezone, dedupe, derive, drop, filter, join, limit, mask, rename, select, "
          "sort, union)",
          "graph.nodes[1].type");
    FAILS("{\"nodes\": [" SRC ", {\"id\": \"w\", \"kind\": \"destination\", \"type\": "
          "\"snowflake\", \"connection_id\": \"conn_x\"}], \"edges\": []}",
          "graph.nodes[1].type: unknown destination type 'snowflake' (valid: csv, jsonl, mysql, "
          "postgres, sqlite)",
          "graph.nodes[1].type");
    FAILS("{\"nodes\": [" SRC ", {\"id\": \"w\", \"kind\": \"destination\", \"type\": \"http\", "
          "\"connection_id\": \"conn_x\"}], \"edges\": []}",
          "graph.nodes[1].type: http connections cannot be a destination (they are source only); "
          "destination types: csv, jsonl, mysql, postgres, sqlite",
          "graph.nodes[1].type");
    FAILS("{\"nodes\": [{\"id\": \"s\", \"kind\": \"source\", \"type\": \"filter\"}], \"edges\": "
          "[]}",
          "graph.nodes[0].type: 'filter' is a transform type, not a source type (source types: "
          "csv, http, jsonl, mysql, postgres, sqlite)",
          "graph.nodes[0].type");
    FAILS("{\"nodes\": [{\"id\": \"t\", \"kind\": \"transform\", \"type\": \"postgres\"}], "
          "\"edges\": []}",
          "graph.nodes[0].type: 'postgres' is a connection type; use kind \"source\" or "
          "\"destination\" for it (transform types: aggregate, cast, convert_timezone, dedupe, "
          "derive, drop, filter, join, limit, mask, rename, select, sort, union)",
          "graph.nodes[0].type");
}

static void test_connection_id_presence(void **state)
{
    (void)state;
    FAILS("{\"nodes\": [{\"id\": \"s\", \"kind\": \"source\", \"type\": \"postgres\", \"config\": "
          "{\"table\": \"t\"}}], \"edges\": []}",
          "graph.nodes[0]: missing required property 'connection_id' (a source node needs the id "
          "of a postgres connection)",
          "graph.nodes[0].connection_id");
    FAILS("{\"nodes\": [" SRC ", {\"id\": \"f\", \"kind\": \"transform\", \"type\": \"filter\", "
          "\"connection_id\": \"conn_pgsrc\", \"config\": {\"condition\": \"true\"}}], "
          "\"edges\": []}",
          "graph.nodes[1].connection_id: a transform does not use a connection; remove "
          "connection_id",
          "graph.nodes[1].connection_id");
}

static void test_configs(void **state)
{
    (void)state;
    FAILS("{\"nodes\": [" SRC
          ", {\"id\": \"f\", \"kind\": \"transform\", \"type\": \"filter\"}, " DST
          "], \"edges\": [" E("orders", "f") ", " E("f", "load") "]}",
          "graph.nodes[1].config: missing required property 'condition'",
          "graph.nodes[1].config.condition");
    FAILS("{\"nodes\": [" SRC ", {\"id\": \"f\", \"kind\": \"transform\", \"type\": \"filter\", "
          "\"config\": \"x > 1\"}], \"edges\": []}",
          "graph.nodes[1].config: must be an object, got \"x > 1\"", "graph.nodes[1].config");
    FAILS("{\"nodes\": [{\"id\": \"s\", \"kind\": \"source\", \"type\": \"postgres\", "
          "\"connection_id\": \"conn_pgsrc\", \"config\": {\"tabel\": \"orders\"}}], \"edges\": "
          "[]}",
          "graph.nodes[0].config: unknown property 'tabel' (allowed: table, query, columns, "
          "cursor_column); did you mean 'table'?",
          "graph.nodes[0].config.tabel");
    FAILS("{\"nodes\": [{\"id\": \"s\", \"kind\": \"source\", \"type\": \"postgres\", "
          "\"connection_id\": \"conn_pgsrc\"}], \"edges\": []}",
          "graph.nodes[0].config: must have exactly one of the properties 'table', 'query'; none "
          "is given",
          "graph.nodes[0].config");
    FAILS("{\"nodes\": [" SRC ", {\"id\": \"d\", \"kind\": \"transform\", \"type\": \"dedupe\", "
          "\"config\": {\"keys\": [\"id\"], \"keep\": \"newest\"}}], \"edges\": []}",
          "graph.nodes[1].config.keep: must be one of first, last; got \"newest\"",
          "graph.nodes[1].config.keep");

    /* Missing config means {} (fine for a csv source and a union). */
    PASSES("{\"nodes\": [{\"id\": \"a\", \"kind\": \"source\", \"type\": \"csv\", "
           "\"connection_id\": \"conn_csvsrc\"}, {\"id\": \"b\", \"kind\": \"source\", \"type\": "
           "\"csv\", \"connection_id\": \"conn_csvsrc\", \"name\": \"Second file\", \"config\": "
           "{\"file\": \"b.csv\"}}, {\"id\": \"u\", \"kind\": \"transform\", \"type\": "
           "\"union\"}, {\"id\": \"out\", \"kind\": \"destination\", \"type\": \"csv\", "
           "\"connection_id\": \"conn_csvdst\", \"config\": {\"file\": \"all.csv\", \"mode\": "
           "\"replace\"}}], \"edges\": [" E("a", "u") ", " E("b", "u") ", " E("u", "out") "]}");
}

/* Filter conditions and derive expressions are parsed at validation time (src/engine/expr.c). */
#define EXPR_FILTER(cond)                                                                          \
    "{\"nodes\": [" SRC ", {\"id\": \"f\", \"kind\": \"transform\", \"type\": \"filter\", "        \
    "\"config\": {\"condition\": \"" cond "\"}}, " DST                                             \
    "], \"edges\": [" E("orders", "f") ", " E("f", "load") "]}"
#define EXPR_DERIVE(expr)                                                                          \
    "{\"nodes\": [" SRC ", {\"id\": \"d\", \"kind\": \"transform\", \"type\": \"derive\", "        \
    "\"config\": {\"column\": \"y\", \"expression\": \"" expr "\"}}, " DST                         \
    "], \"edges\": [" E("orders", "d") ", " E("d", "load") "]}"

static void test_expressions(void **state)
{
    (void)state;
    PASSES(EXPR_FILTER("status = 'paid' AND amount > 100"));
    PASSES(EXPR_FILTER("order_date >= now() - interval '7 days'"));
    PASSES(EXPR_DERIVE("price * quantity"));
    FAILS(EXPR_FILTER("status IN ('a', 'b' region = 'eu'"),
          "graph.nodes[1].config.condition: expression: at position 21: expected ')' after the "
          "IN list, found 'region'",
          "graph.nodes[1].config.condition");
    FAILS(EXPR_FILTER("lowr(name) = 'x'"),
          "graph.nodes[1].config.condition: expression: at position 1: unknown function 'lowr' "
          "(did you mean lower?)",
          "graph.nodes[1].config.condition");
    assert_string_not_equal(err.hint, "");
    FAILS(EXPR_DERIVE("price * "),
          "graph.nodes[1].config.expression: expression: at position 9: expected a value, found "
          "the end of the expression",
          "graph.nodes[1].config.expression");
    FAILS(EXPR_FILTER("name = 'abc"),
          "graph.nodes[1].config.condition: expression: unterminated string starting at "
          "position 8",
          "graph.nodes[1].config.condition");
}

#define QUERY_SRC(type, conn, q)                                                                   \
    "{\"nodes\": [{\"id\": \"src\", \"kind\": \"source\", \"type\": \"" type "\", "                \
    "\"connection_id\": \"" conn "\", \"config\": {\"query\": \"" q "\"}}, " DST                   \
    "], \"edges\": [" E("src", "load") "]}"

/* A SQL source's query that could write is refused when the graph is stored, with the
 * query's path (issue 10 item 4; the rules are engine/connectors/sqlcheck.c's). */
static void test_source_queries(void **state)
{
    (void)state;
    PASSES(QUERY_SRC("mysql", "conn_mysrc", "SELECT id FROM orders WHERE note = '; DROP'"));
    PASSES(QUERY_SRC("postgres", "conn_pgsrc", "WITH a AS (SELECT 1 AS x) SELECT x FROM a;"));
    FAILS(QUERY_SRC("mysql", "conn_mysrc", "/*!CREATE OR REPLACE TABLE victim AS */ SELECT 1"),
          "graph.nodes[0].config.query: a source query must start with SELECT, WITH or VALUES, "
          "not 'CREATE'",
          "graph.nodes[0].config.query");
    assert_string_not_equal(err.hint, "");
    FAILS(QUERY_SRC("postgres", "conn_pgsrc",
                    "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d"),
          "graph.nodes[0].config.query: a source query cannot contain DELETE (a data-modifying "
          "statement)",
          "graph.nodes[0].config.query");
    FAILS(QUERY_SRC("postgres", "conn_pgsrc", "SELECT 1; DROP TABLE orders"),
          "graph.nodes[0].config.query: the query has more than one statement ('DROP' after the "
          "';' at offset 8)",
          "graph.nodes[0].config.query");
}

#define PG_DST(cfg)                                                                                \
    "{\"nodes\": [" SRC ", {\"id\": \"load\", \"kind\": \"destination\", \"type\": \"postgres\", " \
    "\"connection_id\": \"conn_pgdst\", \"config\": " cfg                                          \
    "}], \"edges\": [" E("orders", "load") "]}"

static void test_upsert_keys(void **state)
{
    (void)state;
    PASSES(PG_DST("{\"table\": \"t\", \"mode\": \"upsert\", \"keys\": [\"id\"]}"));
    PASSES(PG_DST("{\"table\": \"t\"}"));
    FAILS(PG_DST("{\"table\": \"t\", \"mode\": \"upsert\"}"),
          "graph.nodes[1].config: missing required property 'keys' (mode \"upsert\" needs the "
          "columns that identify a row)",
          "graph.nodes[1].config.keys");
    FAILS(PG_DST("{\"table\": \"t\", \"keys\": [\"id\"]}"),
          "graph.nodes[1].config.keys: only used with mode \"upsert\" (mode is \"append\"); "
          "remove keys or set mode to \"upsert\"",
          "graph.nodes[1].config.keys");
    FAILS(PG_DST("{\"table\": \"t\", \"mode\": \"merge\"}"),
          "graph.nodes[1].config.mode: must be one of append, replace, upsert; got \"merge\"",
          "graph.nodes[1].config.mode");
}

#define JOIN_GRAPH(cfg, edges)                                                                     \
    "{\"nodes\": [" SRC ", {\"id\": \"customers\", \"kind\": \"source\", \"type\": \"mysql\", "    \
    "\"connection_id\": \"conn_mysrc\", \"config\": {\"table\": \"customers\"}}, {\"id\": "        \
    "\"j\", \"kind\": \"transform\", \"type\": \"join\", \"config\": " cfg "}, " DST "], "         \
    "\"edges\": [" edges "]}"

static void test_join(void **state)
{
    (void)state;
    const char *cfg = "{\"type\": \"left\", \"left_keys\": [\"customer_id\"], \"right_keys\": "
                      "[\"id\"]}";
    char text[2048];
    snprintf(text, sizeof(text),
             JOIN_GRAPH("%s", E("orders", "j") ", " E("customers", "j") ", " E("j", "load")), cfg);
    struct json_object *ids = NULL;
    if (run_with(text, &ids, fake_lookup, NULL) != 0)
        fail_msg("%s", err.message);
    assert_string_equal(px_json_str(ids), "[\"conn_pgsrc\",\"conn_mysrc\",\"conn_pgdst\"]");
    json_object_put(ids);

    /* A join with one input. */
    FAILS("{\"nodes\": [" SRC ", {\"id\": \"j\", \"kind\": \"transform\", \"type\": \"join\", "
          "\"config\": {\"left_keys\": [\"a\"], \"right_keys\": [\"b\"]}}, " DST "], "
          "\"edges\": [" E("orders", "j") ", " E("j", "load") "]}",
          "graph.nodes[1]: transform 'j' (join) takes exactly 2 inputs, got 1", "graph.nodes[1]");
    snprintf(text, sizeof(text),
             JOIN_GRAPH("%s", E("orders", "j") ", " E("customers", "j") ", " E("j", "load")),
             "{\"left_keys\": [\"a\", \"b\"], \"right_keys\": [\"a\"]}");
    FAILS(text,
          "graph.nodes[2].config.right_keys: must list as many columns as left_keys (2), got 1; "
          "keys are matched by position",
          "graph.nodes[2].config.right_keys");
    snprintf(text, sizeof(text),
             JOIN_GRAPH("%s", E("orders", "j") ", " E("customers", "j") ", " E("j", "load")),
             "{\"left_keys\": [\"a\"]}");
    FAILS(text, "graph.nodes[2].config: missing required property 'right_keys'",
          "graph.nodes[2].config.right_keys");
}

static void test_edges(void **state)
{
    (void)state;
    FAILS("{\"nodes\": [" SRC ", " DST "], \"edges\": [" E("orders", "lod") "]}",
          "graph.edges[0].to: no node has id 'lod' (node ids: orders, load)", "graph.edges[0].to");
    FAILS("{\"nodes\": [" SRC ", " DST "], \"edges\": [" E("order", "load") "]}",
          "graph.edges[0].from: no node has id 'order' (node ids: orders, load)",
          "graph.edges[0].from");
    FAILS("{\"nodes\": [" SRC ", {\"id\": \"f\", \"kind\": \"transform\", \"type\": \"filter\", "
          "\"config\": {\"condition\": \"true\"}}, " DST
          "], \"edges\": [" E("orders", "f") ", " E("f", "f") "]}",
          "graph.edges[1]: an edge cannot connect node 'f' to itself", "graph.edges[1]");
    FAILS("{\"nodes\": [" SRC ", " DST
          "], \"edges\": [" E("orders", "load") ", " E("orders", "load") "]}",
          "graph.edges[1]: duplicate of graph.edges[0] (orders -> load)", "graph.edges[1]");
    FAILS("{\"nodes\": [" SRC ", " DST "], \"edges\": [" E("load", "orders") "]}",
          "graph.edges[0].to: node 'orders' is a source; sources have no incoming edges (edges go "
          "from sources toward destinations)",
          "graph.edges[0].to");
    FAILS("{\"nodes\": [" SRC ", " DST ", {\"id\": \"f\", \"kind\": \"transform\", \"type\": "
          "\"filter\", \"config\": {\"condition\": \"true\"}}], \"edges\": [" E("load", "f") "]}",
          "graph.edges[0].from: node 'load' is a destination; destinations have no outgoing edges",
          "graph.edges[0].from");
}

#define FILTER(id)                                                                                 \
    "{\"id\": \"" id "\", \"kind\": \"transform\", \"type\": \"filter\", "                         \
    "\"config\": {\"condition\": \"true\"}}"

static void test_degrees(void **state)
{
    (void)state;
    /* A filter with two inputs. */
    FAILS("{\"nodes\": [" SRC ", {\"id\": \"more\", \"kind\": \"source\", \"type\": \"csv\", "
          "\"connection_id\": \"conn_csvsrc\"}, " FILTER("f") ", " DST "], \"edges\": [" E(
              "orders", "f") ", " E("more", "f") ", " E("f", "load") "]}",
          "graph.nodes[2]: transform 'f' (filter) takes exactly 1 input, got 2; combine inputs "
          "with a union or join transform first",
          "graph.nodes[2]");
    /* A destination with two inputs. */
    FAILS("{\"nodes\": [" SRC ", " FILTER("f") ", " DST "], \"edges\": [" E("orders", "f") ", " E(
              "orders", "load") ", " E("f", "load") "]}",
          "graph.nodes[2]: destination 'load' (postgres) takes exactly 1 input, got 2; combine "
          "inputs with a union or join transform first",
          "graph.nodes[2]");
    /* A union of one. */
    FAILS("{\"nodes\": [" SRC
          ", {\"id\": \"u\", \"kind\": \"transform\", \"type\": \"union\"}, " DST
          "], \"edges\": [" E("orders", "u") ", " E("u", "load") "]}",
          "graph.nodes[1]: transform 'u' (union) takes 2 to 16 inputs, got 1", "graph.nodes[1]");
    /* Dangling nodes. */
    FAILS("{\"nodes\": [" SRC ", " DST "], \"edges\": []}",
          "graph.nodes[0]: source 'orders' is not connected; add an edge from it to a transform "
          "or a destination, or remove it",
          "graph.nodes[0]");
    FAILS("{\"nodes\": [" SRC ", " FILTER("f") ", " FILTER("g") ", " DST "], \"edges\": [" E(
              "orders", "f") ", " E("f", "g") ", " E("orders", "load") "]}",
          "graph.nodes[2]: the output of transform 'g' is not used; add an edge from it toward a "
          "destination, or remove it",
          "graph.nodes[2]");
    FAILS("{\"nodes\": [" SRC
          ", " FILTER("f") ", " DST
                           "], \"edges\": [" E("orders", "f") ", " E("orders", "load") "]}",
          "graph.nodes[1]: the output of transform 'f' is not used; add an edge from it toward a "
          "destination, or remove it",
          "graph.nodes[1]");
    /* Fan-out from a source into two destinations is fine. */
    PASSES("{\"nodes\": [" SRC ", " DST ", {\"id\": \"copy\", \"kind\": \"destination\", "
           "\"type\": \"csv\", \"connection_id\": \"conn_csvdst\"}], \"edges\": [" E(
               "orders", "load") ", " E("orders", "copy") "]}");
}

static void test_cycle(void **state)
{
    (void)state;
    /* orders -> u -> f -> g -> u (a loop through the union), and g -> load. */
    FAILS("{\"nodes\": [" SRC
          ", {\"id\": \"u\", \"kind\": \"transform\", \"type\": \"union\"}, " FILTER(
              "f") ", " FILTER("g") ", " DST
                                    "], \"edges\": [" E("orders", "u") ", " E("u", "f") ", " E(
                                        "f", "g") ", " E("g", "u") ", " E("g", "load") "]}",
          "graph.nodes[1]: node 'u' is on a cycle (u -> f -> g -> u); a pipeline graph must be "
          "acyclic, so remove one of these edges",
          "graph.nodes[1]");
    /* A cycle reached only downstream of it: load hangs off the cycle. */
    assert_int_equal(
        run("{\"nodes\": [" SRC ", " FILTER("a") ", " FILTER("b") ", " DST "], \"edges\": [" E(
            "a", "b") ", " E("b", "a") ", " E("b", "load") ", " E("orders", "load") "]}"),
        -PX_EINVALID);
    assert_string_equal(err.message, "graph.nodes[1]: node 'a' is on a cycle (a -> b -> a); a "
                                     "pipeline graph must be acyclic, so remove one of these "
                                     "edges");
}

static void test_connections(void **state)
{
    (void)state;
    /* The same connection twice is looked up once and listed once. */
    struct json_object *ids = NULL;
    assert_int_equal(run_with("{\"nodes\": [" SRC ", {\"id\": \"again\", \"kind\": \"source\", "
                              "\"type\": \"postgres\", \"connection_id\": \"conn_pgsrc\", "
                              "\"config\": {\"query\": \"select 1\"}}, {\"id\": \"u\", \"kind\": "
                              "\"transform\", \"type\": \"union\"}, " DST "], \"edges\": [" E(
                                  "orders", "u") ", " E("again", "u") ", " E("u", "load") "]}",
                              &ids, fake_lookup, NULL),
                     0);
    assert_string_equal(px_json_str(ids), "[\"conn_pgsrc\",\"conn_pgdst\"]");
    assert_int_equal(lookups, 2);
    json_object_put(ids);

    FAILS("{\"nodes\": [{\"id\": \"s\", \"kind\": \"source\", \"type\": \"postgres\", "
          "\"connection_id\": \"conn_other_org\", \"config\": {\"table\": \"t\"}}, " DST
          "], \"edges\": [" E("s", "load") "]}",
          "graph.nodes[0].connection_id: connection not found in this organization",
          "graph.nodes[0].connection_id");
    FAILS("{\"nodes\": [{\"id\": \"s\", \"kind\": \"source\", \"type\": \"postgres\", "
          "\"connection_id\": \"pl_abc\", \"config\": {\"table\": \"t\"}}, " DST
          "], \"edges\": [" E("s", "load") "]}",
          "graph.nodes[0].connection_id: 'pl_abc' is a pipeline id, not a connection id (those "
          "start with conn_)",
          "graph.nodes[0].connection_id");
    FAILS("{\"nodes\": [{\"id\": \"s\", \"kind\": \"source\", \"type\": \"postgres\", "
          "\"connection_id\": \"conn_mysrc\", \"config\": {\"table\": \"t\"}}, " DST
          "], \"edges\": [" E("s", "load") "]}",
          "graph.nodes[0].connection_id: connection conn_mysrc is a mysql connection but node 's' "
          "has type postgres; use a postgres connection or set the node type to mysql",
          "graph.nodes[0].connection_id");
    FAILS("{\"nodes\": [" SRC ", {\"id\": \"load\", \"kind\": \"destination\", \"type\": "
          "\"postgres\", \"connection_id\": \"conn_pgsrc\", \"config\": {\"table\": \"t\"}}], "
          "\"edges\": [" E("orders", "load") "]}",
          "graph.nodes[1].connection_id: connection conn_pgsrc is a source connection and cannot "
          "be written to by destination node 'load'; use a destination connection of type "
          "postgres",
          "graph.nodes[1].connection_id");
    FAILS("{\"nodes\": [{\"id\": \"s\", \"kind\": \"source\", \"type\": \"postgres\", "
          "\"connection_id\": \"conn_pgdst\", \"config\": {\"table\": \"t\"}}, " DST
          "], \"edges\": [" E("s", "load") "]}",
          "graph.nodes[0].connection_id: connection conn_pgdst is a destination connection and "
          "cannot be read by source node 's'; use a source connection of type postgres",
          "graph.nodes[0].connection_id");
    FAILS("{\"nodes\": [{\"id\": \"s\", \"kind\": \"source\", \"type\": \"postgres\", "
          "\"connection_id\": \"org_abc\", \"config\": {\"table\": \"t\"}}, " DST
          "], \"edges\": [" E("s", "load") "]}",
          "graph.nodes[0].connection_id: 'org_abc' is an organization id, not a connection id "
          "(those start with conn_)",
          "graph.nodes[0].connection_id");

    /* A failing lookup passes its error through. */
    assert_int_equal(run_with(design_example, NULL, fake_lookup, store_down), -PX_ESTORE);
    assert_string_equal(err.field, "graph.nodes[0].connection_id");
    assert_true(err.retryable);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_example),
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_node_ids),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_connection_id_presence),
        cmocka_unit_test(test_configs),
        cmocka_unit_test(test_expressions),
        cmocka_unit_test(test_source_queries),
        cmocka_unit_test(test_upsert_keys),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_degrees),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
