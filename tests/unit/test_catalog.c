/* Unit tests for src/engine/catalog.c: every embedded entry loads and its schemas pass
 * px_schema_check, lookups by kind and type, secret params, the category filter of
 * px_catalog_conn_types_json, and that node configs validate the way the catalog promises. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/embed.h"
#include "base/err.h"
#include "base/json.h"
#include "base/schema.h"
#include "engine/catalog.h"
#include "engine/exec_int.h"

#include <string.h>

static struct json_object *parse(const char *text)
{
    struct json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    return o;
}

static bool has_secret(const struct px_conn_type *ct, const char *name)
{
    for (const char *const *s = ct->secret_params; s && *s; s++)
        if (strcmp(*s, name) == 0)
            return true;
    return false;
}

static int count_secrets(const struct px_conn_type *ct)
{
    int n = 0;
    for (const char *const *s = ct->secret_params; s && *s; s++)
        n++;
    return n;
}

static void check_closed(struct json_object *schema)
{
    struct px_error err;
    px_error_clear(&err);
    assert_non_null(schema);
    if (px_schema_check(schema, &err) != 0)
        fail_msg("schema check: %s", err.message);
    assert_string_equal(px_json_get_str(schema, "type"), "object");
    assert_false(px_json_get_bool(schema, "additionalProperties", true));
}

static void test_init_loads_everything(void **state)
{
    (void)state;
    struct px_error err;
    px_error_clear(&err);
    if (px_catalog_init(&err) != 0)
        fail_msg("catalog init: %s", err.message);
    assert_int_equal(px_catalog_init(&err), 0); /* second call is a no-op */
    assert_true(px_embed_catalog_count >= 20);

    /* Every file is reachable through a lookup, and every schema is supported and closed. */
    for (size_t i = 0; i < px_embed_catalog_count; i++) {
        const char *name = px_embed_catalog[i].name;
        struct json_object *doc = parse(px_embed_catalog[i].data);
        const char *type = px_json_get_str(doc, "type");
        if (strncmp(name, "conn_", 5) == 0) {
            const struct px_conn_type *ct = px_catalog_conn_type(type);
            assert_non_null(ct);
            check_closed(ct->params_schema);
            if (ct->can_source) {
                const struct px_node_type *nt = px_catalog_node_type(PX_NODE_SOURCE, type);
                assert_non_null(nt);
                assert_ptr_equal(nt->config_schema, ct->source_config);
                assert_true(nt->needs_connection);
                check_closed(nt->config_schema);
            }
            if (ct->can_destination) {
                const struct px_node_type *nt = px_catalog_node_type(PX_NODE_DESTINATION, type);
                assert_non_null(nt);
                assert_ptr_equal(nt->config_schema, ct->dest_config);
                assert_true(nt->needs_connection);
                check_closed(nt->config_schema);
            }
        } else {
            assert_int_equal(strncmp(name, "op_", 3), 0);
            const struct px_node_type *nt = px_catalog_node_type(PX_NODE_TRANSFORM, type);
            assert_non_null(nt);
            assert_false(nt->needs_connection);
            assert_true(nt->min_inputs >= 1 && nt->min_inputs <= nt->max_inputs);
            check_closed(nt->config_schema);
        }
        json_object_put(doc);
    }
}

static void test_connection_types(void **state)
{
    (void)state;
    static const char *const both[] = {"postgres", "mysql", "sqlite", "csv", "jsonl"};
    for (size_t i = 0; i < sizeof(both) / sizeof(both[0]); i++) {
        const struct px_conn_type *ct = px_catalog_conn_type(both[i]);
        assert_non_null(ct);
        assert_true(ct->can_source);
        assert_true(ct->can_destination);
        assert_non_null(ct->title);
        assert_non_null(ct->description);
    }
    const struct px_conn_type *http = px_catalog_conn_type("http");
    assert_non_null(http);
    assert_true(http->can_source);
    assert_false(http->can_destination);
    assert_null(http->dest_config);
    assert_null(px_catalog_node_type(PX_NODE_DESTINATION, "http"));
    assert_non_null(px_catalog_node_type(PX_NODE_SOURCE, "http"));

    assert_null(px_catalog_conn_type("snowflake"));
    assert_null(px_catalog_conn_type("filter"));
    assert_null(px_catalog_conn_type(NULL));
    assert_string_equal(px_catalog_conn_type("postgres")->title, "PostgreSQL");
}

static void test_secret_params(void **state)
{
    (void)state;
    const struct px_conn_type *pg = px_catalog_conn_type("postgres");
    assert_true(has_secret(pg, "password"));
    assert_false(has_secret(pg, "host"));
    assert_int_equal(count_secrets(pg), 1);
    assert_true(has_secret(px_catalog_conn_type("mysql"), "password"));
    assert_true(has_secret(px_catalog_conn_type("http"), "auth_token"));
    /* Header values are secrets too (a map: names shown, values sealed). */
    assert_true(has_secret(px_catalog_conn_type("http"), "headers"));
    assert_int_equal(count_secrets(px_catalog_conn_type("http")), 2);
    assert_int_equal(count_secrets(px_catalog_conn_type("csv")), 0);
    assert_int_equal(count_secrets(px_catalog_conn_type("sqlite")), 0);
}

static void test_node_types(void **state)
{
    (void)state;
    static const char *const transforms[] = {
        "filter",           "derive",    "dedupe", "select", "drop", "rename", "cast",
        "convert_timezone", "aggregate", "sort",   "limit",  "join", "union",  "mask"};
    for (size_t i = 0; i < sizeof(transforms) / sizeof(transforms[0]); i++) {
        const struct px_node_type *nt = px_catalog_node_type(PX_NODE_TRANSFORM, transforms[i]);
        assert_non_null(nt);
        assert_int_equal(nt->kind, PX_NODE_TRANSFORM);
        assert_string_equal(nt->type, transforms[i]);
        if (strcmp(transforms[i], "join") == 0) {
            assert_int_equal(nt->min_inputs, 2);
            assert_int_equal(nt->max_inputs, 2);
        } else if (strcmp(transforms[i], "union") == 0) {
            assert_int_equal(nt->min_inputs, 2);
            assert_int_equal(nt->max_inputs, 16);
        } else {
            assert_int_equal(nt->min_inputs, 1);
            assert_int_equal(nt->max_inputs, 1);
        }
    }
    assert_null(px_catalog_node_type(PX_NODE_TRANSFORM, "postgres"));
    assert_null(px_catalog_node_type(PX_NODE_SOURCE, "filter"));
    assert_null(px_catalog_node_type(PX_NODE_DESTINATION, "snowflake"));

    const struct px_node_type *src = px_catalog_node_type(PX_NODE_SOURCE, "postgres");
    assert_int_equal(src->min_inputs, 0);
    assert_int_equal(src->max_inputs, 0);
    const struct px_node_type *dst = px_catalog_node_type(PX_NODE_DESTINATION, "postgres");
    assert_int_equal(dst->min_inputs, 1);
    assert_int_equal(dst->max_inputs, 1);

    assert_string_equal(px_catalog_node_type_names(PX_NODE_SOURCE),
                        "csv, http, jsonl, mysql, postgres, sqlite");
    assert_string_equal(px_catalog_node_type_names(PX_NODE_DESTINATION),
                        "csv, jsonl, mysql, postgres, sqlite");
    assert_string_equal(px_catalog_node_type_names(PX_NODE_TRANSFORM),
                        "aggregate, cast, convert_timezone, dedupe, derive, drop, filter, join, "
                        "limit, mask, rename, select, sort, union");
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(px_node_kind_name(PX_NODE_SOURCE), "source");
    assert_string_equal(px_node_kind_name(PX_NODE_TRANSFORM), "transform");
    assert_string_equal(px_node_kind_name(PX_NODE_DESTINATION), "destination");
    assert_int_equal(px_node_kind_parse("source"), PX_NODE_SOURCE);
    assert_int_equal(px_node_kind_parse("transform"), PX_NODE_TRANSFORM);
    assert_int_equal(px_node_kind_parse("destination"), PX_NODE_DESTINATION);
    assert_int_equal(px_node_kind_parse("sink"), -1);
    assert_int_equal(px_node_kind_parse(NULL), -1);
}

static size_t count_with_type(struct json_object *arr, const char *type)
{
    size_t n = 0;
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        if (strcmp(px_json_get_str(json_object_array_get_idx(arr, i), "type"), type) == 0)
            n++;
    return n;
}

/* The published node types are the validator's own entries: each config_schema equals the
 * schema px_catalog_node_type returns, and it is a copy. */
static void test_node_types_json(void **state)
{
    (void)state;
    struct json_object *all = px_catalog_node_types_json(NULL);
    size_t n = json_object_array_length(all), kinds[3] = {0, 0, 0};
    assert_true(n > 10);
    for (size_t i = 0; i < n; i++) {
        struct json_object *o = json_object_array_get_idx(all, i);
        int kind = px_node_kind_parse(px_json_get_str(o, "kind"));
        assert_true(kind >= 0);
        kinds[kind]++;
        const struct px_node_type *nt =
            px_catalog_node_type((enum px_node_kind)kind, px_json_get_str(o, "type"));
        assert_non_null(nt);
        assert_true(px_json_equal(px_json_get(o, "config_schema"), nt->config_schema));
        assert_true(px_json_get(o, "config_schema") != nt->config_schema);
        assert_int_equal(px_json_get_int(px_json_get(o, "inputs"), "max", -1), nt->max_inputs);
        assert_int_equal(px_json_get_bool(o, "needs_connection", false), nt->needs_connection);
    }
    assert_int_equal(kinds[PX_NODE_SOURCE], 6);
    assert_int_equal(kinds[PX_NODE_DESTINATION], 5);
    json_object_put(all);
    struct json_object *src = px_catalog_node_types_json("source");
    assert_int_equal(json_object_array_length(src),
                     kinds[PX_NODE_SOURCE] + kinds[PX_NODE_TRANSFORM]);
    json_object_put(src);
}

static void test_conn_types_json(void **state)
{
    (void)state;
    struct json_object *all = px_catalog_conn_types_json(NULL);
    assert_int_equal(json_object_array_length(all), 6);
    struct json_object *pg = NULL;
    for (size_t i = 0; i < json_object_array_length(all); i++)
        if (strcmp(px_json_get_str(json_object_array_get_idx(all, i), "type"), "postgres") == 0)
            pg = json_object_array_get_idx(all, i);
    assert_non_null(pg);
    assert_string_equal(px_json_get_str(pg, "title"), "PostgreSQL");
    assert_non_null(px_json_get_str(pg, "description"));
    assert_string_equal(px_json_str(px_json_get(pg, "categories")), "[\"source\",\"destination\"]");
    assert_string_equal(px_json_str(px_json_get(pg, "secret_params")), "[\"password\"]");
    struct json_object *ps = px_json_get(pg, "params_schema");
    assert_non_null(px_json_get(px_json_get(ps, "properties"), "host"));
    /* The schema is a copy: changing it does not change the catalog. */
    json_object_object_del(ps, "properties");
    assert_non_null(px_json_get(px_catalog_conn_type("postgres")->params_schema, "properties"));
    json_object_put(all);

    struct json_object *dst = px_catalog_conn_types_json("destination");
    assert_int_equal(json_object_array_length(dst), 5);
    assert_int_equal(count_with_type(dst, "http"), 0);
    assert_int_equal(count_with_type(dst, "csv"), 1);
    json_object_put(dst);

    struct json_object *src = px_catalog_conn_types_json("source");
    assert_int_equal(json_object_array_length(src), 6);
    assert_int_equal(count_with_type(src, "http"), 1);
    struct json_object *http = json_object_array_get_idx(src, 1);
    assert_string_equal(px_json_get_str(http, "type"), "http");
    assert_string_equal(px_json_str(px_json_get(http, "categories")), "[\"source\"]");
    json_object_put(src);

    struct json_object *none = px_catalog_conn_types_json("sideways");
    assert_int_equal(json_object_array_length(none), 0);
    json_object_put(none);
}

/* Validates text against a schema; returns the message, or "" when valid. */
static const char *try_validate(struct json_object *schema, const char *text, const char *root)
{
    static struct px_error err;
    px_error_clear(&err);
    struct json_object *v = parse(text);
    int rc = px_schema_validate(schema, v, root, &err);
    json_object_put(v);
    if (rc == 0)
        return "";
    assert_int_equal(rc, -PX_EINVALID);
    return err.message;
}

static void test_schemas_behave(void **state)
{
    (void)state;
    struct json_object *pg_params = px_catalog_conn_type("postgres")->params_schema;
    assert_string_equal(try_validate(pg_params,
                                     "{\"host\": \"db\", \"database\": \"shop\", \"user\": \"etl\","
                                     " \"password\": \"s3cret\", \"sslmode\": \"require\"}",
                                     "params"),
                        "");
    assert_string_equal(try_validate(pg_params,
                                     "{\"host\": \"db\", \"database\": \"shop\", \"user\": \"etl\","
                                     " \"port\": 70000}",
                                     "params"),
                        "params.port: must be an integer between 1 and 65535, got 70000");
    assert_string_equal(try_validate(pg_params, "{\"host\": \"db\", \"user\": \"etl\"}", "params"),
                        "params: missing required property 'database'");

    struct json_object *pg_src = px_catalog_node_type(PX_NODE_SOURCE, "postgres")->config_schema;
    assert_string_equal(try_validate(pg_src, "{\"table\": \"orders\"}", "c"), "");
    assert_string_equal(try_validate(pg_src, "{\"query\": \"select 1\"}", "c"), "");
    assert_string_equal(try_validate(pg_src, "{\"table\": \"a\", \"query\": \"select 1\"}", "c"),
                        "c: must have only one of the properties 'table', 'query', not several");
    assert_string_equal(try_validate(pg_src, "{\"columns\": [\"a\"]}", "c"),
                        "c: must have exactly one of the properties 'table', 'query'; none is "
                        "given");

    struct json_object *http = px_catalog_conn_type("http")->params_schema;
    assert_string_equal(try_validate(http, "{\"base_url\": \"https://api.example.com/v1\"}", "p"),
                        "");
    assert_string_equal(
        try_validate(http, "{\"base_url\": \"ftp://example.com/x\"}", "p"),
        "p.base_url: must match the pattern ^https?://[^[:space:]]+$, got \"ftp://example.com/x\"");
    assert_string_equal(
        try_validate(http, "{\"base_url\": \"https://a.example\", \"headers\": {\"X-A\": 1}}", "p"),
        "p.headers.X-A: must be a string, got 1");

    struct json_object *agg = px_catalog_node_type(PX_NODE_TRANSFORM, "aggregate")->config_schema;
    assert_string_equal(try_validate(agg,
                                     "{\"group_by\": [\"country\"], \"aggregates\": ["
                                     "{\"function\": \"count\"},"
                                     "{\"function\": \"sum\", \"column\": \"amount\", \"as\": "
                                     "\"total\"}]}",
                                     "cfg"),
                        "");
    assert_string_equal(try_validate(agg, "{\"aggregates\": [{\"function\": \"sum\"}]}", "cfg"),
                        "cfg.aggregates[0]: missing required property 'column'");
    assert_string_equal(
        try_validate(agg, "{\"aggregates\": [{\"function\": \"median\", \"column\": \"x\"}]}",
                     "cfg"),
        "cfg.aggregates[0].function: must be one of count, sum, avg, min, max; got \"median\"");

    struct json_object *cast = px_catalog_node_type(PX_NODE_TRANSFORM, "cast")->config_schema;
    assert_string_equal(try_validate(cast, "{\"columns\": {\"a\": \"integer\"}}", "cfg"), "");
    assert_string_equal(try_validate(cast, "{\"columns\": {\"a\": \"int\"}}", "cfg"),
                        "cfg.columns.a: must be one of string, integer, float, boolean, date, "
                        "timestamp; got \"int\"");
    assert_string_equal(try_validate(cast, "{\"columns\": {}}", "cfg"),
                        "cfg.columns: must not be empty (at least 1 entry)");

    struct json_object *tz =
        px_catalog_node_type(PX_NODE_TRANSFORM, "convert_timezone")->config_schema;
    assert_string_equal(
        try_validate(tz, "{\"column\": \"ts\", \"to_timezone\": \"America/New_York\"}", "c"), "");
    assert_string_equal(
        try_validate(tz, "{\"column\": \"ts\", \"to_timezone\": \"Etc/GMT+5\"}", "c"), "");

    struct json_object *un = px_catalog_node_type(PX_NODE_TRANSFORM, "union")->config_schema;
    assert_string_equal(try_validate(un, "{}", "c"), "");
    assert_string_equal(try_validate(un, "{\"by_name\": true}", "c"),
                        "c: unknown property 'by_name' (this object takes no properties)");
}

/* Registration cannot drift: every catalog connection type has a connector whose callbacks
 * match the roles the catalog promises (source: open_source/next_batch/close_source;
 * destination: open_dest/write_batch/commit/close_dest; test_connection: probe), and the
 * reverse; every catalog transform has an operator, and every operator a catalog entry. */
static void test_catalog_matches_registry(void **state)
{
    (void)state;
    struct px_error err;
    assert_int_equal(px_catalog_init(&err), 0);
    size_t nconn = 0, ntransform = 0;
    for (size_t i = 0; px_catalog_conn_type_at(i); i++, nconn++) {
        const struct px_conn_type *ct = px_catalog_conn_type_at(i);
        const struct px_connector *c = px__connector_find(ct->type);
        if (!c)
            fail_msg("catalog connection type %s has no connector in engine/registry.c", ct->type);
        bool src = c->open_source && c->next_batch && c->close_source;
        bool dst = c->open_dest && c->write_batch && c->commit && c->close_dest;
        if (src != ct->can_source)
            fail_msg("%s: the catalog says source %d, the connector %d", ct->type, ct->can_source,
                     src);
        if (dst != ct->can_destination)
            fail_msg("%s: the catalog says destination %d, the connector %d", ct->type,
                     ct->can_destination, dst);
        if (!c->probe)
            fail_msg("%s: no probe callback (test_connection)", ct->type);
        if (!ct->can_source && !ct->can_destination)
            fail_msg("%s: neither a source nor a destination", ct->type);
    }
    size_t nconnectors = 0;
    for (size_t i = 0; px__connector_at(i); i++, nconnectors++)
        if (!px_catalog_conn_type(px__connector_at(i)->name))
            fail_msg("connector %s has no catalog entry", px__connector_at(i)->name);
    assert_int_equal(nconn, nconnectors);
    for (size_t i = 0; px_catalog_node_type_at(i); i++) {
        const struct px_node_type *nt = px_catalog_node_type_at(i);
        if (nt->kind != PX_NODE_TRANSFORM)
            continue;
        ntransform++;
        const struct px_operator *op = px__operator_find(nt->type);
        if (!op || !op->open || !op->process || !op->close)
            fail_msg("catalog transform %s has no operator with open/process/close", nt->type);
    }
    size_t nops = 0;
    for (size_t i = 0; px__operator_at(i); i++, nops++)
        if (!px_catalog_node_type(PX_NODE_TRANSFORM, px__operator_at(i)->name))
            fail_msg("operator %s has no catalog entry", px__operator_at(i)->name);
    assert_int_equal(ntransform, nops);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_loads_everything),
        cmocka_unit_test(test_connection_types),
        cmocka_unit_test(test_secret_params),
        cmocka_unit_test(test_node_types_json),
        cmocka_unit_test(test_node_types),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_conn_types_json),
        cmocka_unit_test(test_schemas_behave),
        cmocka_unit_test(test_catalog_matches_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
