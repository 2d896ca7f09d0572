/* Unit tests for src/base/schema.c: each supported keyword passing and failing, the exact
 * messages and fields (paths, "argument" wording, value echoes), anyOf/oneOf reporting, and
 * px_schema_check refusing unsupported keywords and malformed schemas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "base/schema.h"

#include <stdio.h>
#include <string.h>

static struct px_error err;

static struct json_object *parse(const char *text)
{
    struct json_object *o = json_tokener_parse(text);
    if (!o && strcmp(text, "null") != 0)
        fail_msg("test JSON does not parse: %s", text);
    return o;
}

/* Validates value against schema; returns the return code, leaving the error in err. */
static int run(const char *schema_text, const char *value_text, const char *root)
{
    struct json_object *schema = parse(schema_text), *value = parse(value_text);
    px_error_clear(&err);
    int rc = px_schema_validate(schema, value, root, &err);
    json_object_put(schema);
    json_object_put(value);
    return rc;
}

#define PASS(schema, value)                                                                        \
    do {                                                                                           \
        if (run(schema, value, "x") != 0)                                                          \
            fail_msg("expected %s to pass, got: %s", value, err.message);                          \
    } while (0)

/* Expects a failure with exactly this message and field. */
#define FAILS(schema, value, root, msg, fld)                                                       \
    do {                                                                                           \
        assert_int_equal(run(schema, value, root), -PX_EINVALID);                                  \
        assert_string_equal(err.message, msg);                                                     \
        assert_string_equal(err.field, fld);                                                       \
        assert_int_equal(err.code, PX_EINVALID);                                                   \
    } while (0)

static void test_type(void **state)
{
    (void)state;
    PASS("{\"type\": \"object\"}", "{}");
    PASS("{\"type\": \"array\"}", "[]");
    PASS("{\"type\": \"string\"}", "\"a\"");
    PASS("{\"type\": \"integer\"}", "3");
    PASS("{\"type\": \"integer\"}", "3.0");
    PASS("{\"type\": \"integer\"}", "-9007199254740993");
    PASS("{\"type\": \"number\"}", "1.5");
    PASS("{\"type\": \"number\"}", "2");
    PASS("{\"type\": \"boolean\"}", "false");
    PASS("{\"type\": \"null\"}", "null");
    PASS("{\"type\": [\"string\", \"null\"]}", "null");
    PASS("{}", "{\"anything\": [1, 2]}");
    PASS("true", "5");

    FAILS("{\"type\": \"object\"}", "[1]", "x", "x: must be an object, got an array", "x");
    FAILS("{\"type\": \"array\"}", "{}", "x", "x: must be an array, got an object", "x");
    FAILS("{\"type\": \"string\"}", "12", "x", "x: must be a string, got 12", "x");
    FAILS("{\"type\": \"integer\"}", "3.5", "x", "x: must be an integer, got 3.5", "x");
    FAILS("{\"type\": \"integer\"}", "\"3\"", "x", "x: must be an integer, got \"3\"", "x");
    FAILS("{\"type\": \"integer\"}", "true", "x", "x: must be an integer, got true", "x");
    FAILS("{\"type\": \"number\"}", "null", "x", "x: must be a number, got null", "x");
    FAILS("{\"type\": \"boolean\"}", "\"yes\"", "x", "x: must be a boolean, got \"yes\"", "x");
    FAILS("{\"type\": \"null\"}", "0", "x", "x: must be null, got 0", "x");
    FAILS("{\"type\": [\"string\", \"null\"]}", "5", "x", "x: must be a string or null, got 5",
          "x");
    FAILS("{\"type\": [\"string\", \"integer\", \"null\"]}", "{}", "x",
          "x: must be a string, an integer or null, got an object", "x");
    FAILS("false", "5", "x", "x: is not allowed here", "x");
}

static void test_enum_const(void **state)
{
    (void)state;
    const char *status = "{\"type\": \"string\", \"enum\": [\"active\", \"paused\"]}";
    PASS(status, "\"paused\"");
    FAILS(status, "\"running\"", "status", "status: must be one of active, paused; got \"running\"",
          "status");
    PASS("{\"enum\": [1, \"a\", null]}", "1.0");
    PASS("{\"enum\": [1, \"a\", null]}", "null");
    FAILS("{\"enum\": [1, \"a\", null, true]}", "2", "x",
          "x: must be one of 1, a, null, true; got 2", "x");
    PASS("{\"enum\": [{\"a\": [1, 2]}]}", "{\"a\": [1, 2.0]}");
    FAILS("{\"enum\": [{\"a\": [1, 2]}]}", "{\"a\": [2, 1]}", "x",
          "x: must be one of an object; got an object", "x");

    PASS("{\"const\": \"count\"}", "\"count\"");
    FAILS("{\"const\": \"count\"}", "\"sum\"", "fn", "fn: must be \"count\", got \"sum\"", "fn");
    PASS("{\"const\": null}", "null");
    FAILS("{\"const\": null}", "0", "x", "x: must be null, got 0", "x");
    FAILS("{\"const\": 3}", "3.5", "x", "x: must be 3, got 3.5", "x");
}

static void test_numbers(void **state)
{
    (void)state;
    const char *limit = "{\"type\": \"integer\", \"minimum\": 1, \"maximum\": 100}";
    PASS(limit, "1");
    PASS(limit, "100");
    PASS(limit, "50.0");
    FAILS(limit, "500", "limit", "limit: must be an integer between 1 and 100, got 500", "limit");
    FAILS(limit, "0", "limit", "limit: must be an integer between 1 and 100, got 0", "limit");
    FAILS("{\"type\": \"number\", \"minimum\": 0.5, \"maximum\": 2}", "2.25", "r",
          "r: must be a number between 0.5 and 2, got 2.25", "r");
    FAILS("{\"minimum\": 1}", "0", "x", "x: must be at least 1, got 0", "x");
    FAILS("{\"maximum\": 1.5}", "2", "x", "x: must be at most 1.5, got 2", "x");
    PASS("{\"exclusiveMinimum\": 0}", "0.001");
    FAILS("{\"exclusiveMinimum\": 0}", "0", "x", "x: must be greater than 0, got 0", "x");
    FAILS("{\"exclusiveMaximum\": 10}", "10", "x", "x: must be less than 10, got 10", "x");
    FAILS("{\"exclusiveMinimum\": 0, \"maximum\": 10}", "11", "x",
          "x: must be greater than 0 and at most 10, got 11", "x");
    /* Exact comparisons of big integers. */
    PASS("{\"maximum\": 9007199254740993}", "9007199254740993");
    FAILS("{\"maximum\": 9007199254740992}", "9007199254740993", "x",
          "x: must be at most 9007199254740992, got 9007199254740993", "x");
    /* Bounds apply to numbers only. */
    PASS("{\"minimum\": 5}", "\"abc\"");
}

static void test_strings(void **state)
{
    (void)state;
    PASS("{\"minLength\": 1}", "\"a\"");
    FAILS("{\"type\": \"string\", \"minLength\": 1}", "\"\"", "name", "name: must not be empty",
          "name");
    FAILS("{\"minLength\": 3}", "\"ab\"", "x", "x: must be at least 3 characters long, got 2", "x");
    FAILS("{\"maxLength\": 5}", "\"abcdef\"", "x", "x: must be at most 5 characters long, got 6",
          "x");
    FAILS("{\"minLength\": 2, \"maxLength\": 4}", "\"a\"", "x",
          "x: must be between 2 and 4 characters long, got 1", "x");
    /* Lengths count code points, not bytes. */
    PASS("{\"maxLength\": 5}", "\"h\\u00e9llo\"");
    PASS("{\"maxLength\": 1}", "\"\\ud83d\\ude00\"");

    const char *id = "{\"pattern\": \"^[a-z][a-z0-9_]*$\"}";
    PASS(id, "\"orders_2\"");
    FAILS(id, "\"Orders\"", "id", "id: must match the pattern ^[a-z][a-z0-9_]*$, got \"Orders\"",
          "id");
    /* Not anchored unless written so. */
    PASS("{\"pattern\": \"b\"}", "\"abc\"");

    const char *ts = "{\"format\": \"date-time\"}";
    PASS(ts, "\"2024-05-01T12:00:00Z\"");
    PASS(ts, "\"2024-02-29T23:59:60.123+05:30\"");
    PASS(ts, "\"2024-05-01t12:00:00z\"");
    FAILS(ts, "\"2024-05-01 12:00:00\"", "at",
          "at: must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z, got \"2024-05-01 "
          "12:00:00\"",
          "at");
    FAILS(ts, "\"2023-02-29T00:00:00Z\"", "at",
          "at: must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z, got "
          "\"2023-02-29T00:00:00Z\"",
          "at");
    assert_int_equal(run(ts, "\"2024-13-01T00:00:00Z\"", "at"), -PX_EINVALID);
    assert_int_equal(run(ts, "\"2024-05-01T00:00:00+0100\"", "at"), -PX_EINVALID);
    /* Other formats are annotations. */
    PASS("{\"format\": \"email\"}", "\"not an email\"");
}

static void test_long_values_are_cut(void **state)
{
    (void)state;
    char value[200];
    memset(value, 0, sizeof(value));
    value[0] = '"';
    memset(value + 1, 'a', 100);
    value[101] = '"';
    assert_int_equal(run("{\"enum\": [\"b\"]}", value, "x"), -PX_EINVALID);
    char expect[120];
    snprintf(expect, sizeof(expect), "x: must be one of b; got \"%.40s...\"", value + 1);
    assert_string_equal(err.message, expect);
    /* Control characters do not reach the message. */
    FAILS("{\"enum\": [\"b\"]}", "\"a\\nb\"", "x", "x: must be one of b; got \"a b\"", "x");
}

static void test_arrays(void **state)
{
    (void)state;
    const char *cols = "{\"type\": \"array\", \"minItems\": 1, \"maxItems\": 3, \"uniqueItems\": "
                       "true, \"items\": {\"type\": \"string\", \"minLength\": 1}}";
    PASS(cols, "[\"a\", \"b\"]");
    FAILS(cols, "[]", "columns", "columns: must not be empty (at least 1 item)", "columns");
    FAILS(cols, "[\"a\", \"b\", \"c\", \"d\"]", "columns",
          "columns: must contain at most 3 items, got 4", "columns");
    FAILS(cols, "[\"a\", 2]", "columns", "columns[1]: must be a string, got 2", "columns[1]");
    FAILS(cols, "[\"a\", \"\"]", "columns", "columns[1]: must not be empty", "columns[1]");
    FAILS(cols, "[\"a\", \"b\", \"a\"]", "columns",
          "columns: must not contain duplicates: item [2] repeats item [0] (\"a\")", "columns");
    FAILS("{\"minItems\": 2}", "[1]", "x", "x: must contain at least 2 items, got 1", "x");
    FAILS("{\"uniqueItems\": true}", "[1, 1.0]", "x",
          "x: must not contain duplicates: item [1] repeats item [0] (1)", "x");
    PASS("{\"uniqueItems\": true}", "[{\"a\": 1}, {\"a\": 2}]");
    PASS("{\"uniqueItems\": false}", "[1, 1]");
}

static const char *args_schema =
    "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"pipeline_id\"],"
    " \"properties\": {\"pipeline_id\": {\"type\": \"string\"},"
    "  \"limit\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 100}}}";

static void test_objects(void **state)
{
    (void)state;
    PASS(args_schema, "{\"pipeline_id\": \"pl_1\", \"limit\": 10}");
    /* Tool arguments: root "" (no leading dot) or "arguments". */
    FAILS(args_schema, "{\"pipeline_id\": \"pl_1\", \"limit\": 500}", "",
          "limit: must be an integer between 1 and 100, got 500", "limit");
    FAILS(args_schema, "{\"pipeline_id\": \"pl_1\", \"org_id\": \"org_1\"}", "",
          "unknown argument 'org_id' (allowed: pipeline_id, limit)", "org_id");
    FAILS(args_schema, "{\"pipeline_id\": \"pl_1\", \"org_id\": \"org_1\"}", "arguments",
          "arguments: unknown argument 'org_id' (allowed: pipeline_id, limit)", "arguments.org_id");
    FAILS(args_schema, "{}", "arguments", "arguments: missing required argument 'pipeline_id'",
          "arguments.pipeline_id");
    FAILS(args_schema, "{}", "", "missing required argument 'pipeline_id'", "pipeline_id");
    FAILS(args_schema, "[]", "", "must be an object, got an array", "");
    /* Unknown members are reported before missing ones, with a suggestion when close. */
    FAILS(args_schema, "{\"pipelineId\": \"pl_1\"}", "arguments",
          "arguments: unknown argument 'pipelineId' (allowed: pipeline_id, limit); did you mean "
          "'pipeline_id'?",
          "arguments.pipelineId");
    /* Other roots call them properties. */
    FAILS(args_schema, "{\"pipeline_id\": \"p\", \"limti\": 1}", "body",
          "body: unknown property 'limti' (allowed: pipeline_id, limit); did you mean 'limit'?",
          "body.limti");
    FAILS("{\"additionalProperties\": false}", "{\"a\": 1}", "x",
          "x: unknown property 'a' (this object takes no properties)", "x.a");
    /* additionalProperties as a schema; no additionalProperties means anything goes. */
    const char *headers =
        "{\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\"}}";
    PASS(headers, "{\"Accept\": \"application/json\"}");
    FAILS(headers, "{\"Accept\": \"a\", \"X-Count\": 3}", "h", "h.X-Count: must be a string, got 3",
          "h.X-Count");
    FAILS(headers, "{\"a b\": 3}", "h", "h[\"a b\"]: must be a string, got 3", "h[\"a b\"]");
    PASS("{\"properties\": {\"a\": {\"type\": \"string\"}}}", "{\"b\": 1}");
    /* minProperties */
    FAILS("{\"minProperties\": 1}", "{}", "m", "m: must not be empty (at least 1 entry)", "m");
    FAILS("{\"minProperties\": 2}", "{\"a\": 1}", "m", "m: must have at least 2 entries, got 1",
          "m");
    /* Object keywords do not apply to other types. */
    PASS("{\"required\": [\"a\"], \"minProperties\": 1}", "\"s\"");
}

static void test_nested_paths(void **state)
{
    (void)state;
    const char *graph =
        "{\"type\": \"object\", \"properties\": {\"nodes\": {\"type\": \"array\", \"items\": "
        "{\"type\": \"object\", \"required\": [\"id\", \"type\"], \"properties\": {"
        " \"id\": {\"type\": \"string\"}, \"type\": {\"type\": \"string\"},"
        " \"config\": {\"type\": \"object\", \"additionalProperties\": false, \"properties\": {"
        "   \"table\": {\"type\": \"string\"}, \"query\": {\"type\": \"string\"}}}}}}}}";
    PASS(graph, "{\"nodes\": [{\"id\": \"a\", \"type\": \"t\", \"config\": {\"table\": \"x\"}}]}");
    FAILS(graph, "{\"nodes\": [{\"id\": \"a\", \"type\": \"t\"}, {\"id\": \"b\"}]}", "graph",
          "graph.nodes[1]: missing required property 'type'", "graph.nodes[1].type");
    FAILS(graph,
          "{\"nodes\": [{\"id\": \"a\", \"type\": \"t\"}, {\"id\": \"b\", \"type\": \"t\"}, "
          "{\"id\": \"c\", \"type\": \"t\", \"config\": {\"tabel\": \"orders\"}}]}",
          "graph",
          "graph.nodes[2].config: unknown property 'tabel' (allowed: table, query); did you mean "
          "'table'?",
          "graph.nodes[2].config.tabel");
    FAILS(graph, "{\"nodes\": [{\"id\": 7, \"type\": \"t\"}]}", "graph",
          "graph.nodes[0].id: must be a string, got 7", "graph.nodes[0].id");
    FAILS(graph, "{\"nodes\": [{\"id\": 7, \"type\": \"t\"}]}", "",
          "nodes[0].id: must be a string, got 7", "nodes[0].id");
    FAILS("{\"items\": {\"items\": {\"type\": \"integer\"}}}", "[[1], [2, \"x\"]]", "",
          "[1][1]: must be an integer, got \"x\"", "[1][1]");
}

static void test_one_of_required(void **state)
{
    (void)state;
    const char *src = "{\"type\": \"object\", \"properties\": {\"table\": {\"type\": \"string\"},"
                      " \"query\": {\"type\": \"string\"}},"
                      " \"oneOf\": [{\"required\": [\"table\"]}, {\"required\": [\"query\"]}]}";
    PASS(src, "{\"table\": \"orders\"}");
    PASS(src, "{\"query\": \"select 1\"}");
    FAILS(src, "{}", "config",
          "config: must have exactly one of the properties 'table', 'query'; none is given",
          "config");
    FAILS(src, "{\"table\": \"a\", \"query\": \"b\"}", "config",
          "config: must have only one of the properties 'table', 'query', not several", "config");
    /* Property errors come first. */
    FAILS(src, "{\"table\": 1}", "config", "config.table: must be a string, got 1", "config.table");

    const char *any = "{\"anyOf\": [{\"required\": [\"a\"]}, {\"required\": [\"b\"]}]}";
    PASS(any, "{\"a\": 1, \"b\": 2}");
    FAILS(any, "{\"c\": 1}", "x",
          "x: must have at least one of the properties 'a', 'b'; none is "
          "given",
          "x");
}

static void test_alternatives(void **state)
{
    (void)state;
    /* "column is required unless function is count" */
    const char *agg = "{\"type\": \"object\", \"required\": [\"function\"], \"properties\": {"
                      " \"function\": {\"enum\": [\"count\", \"sum\"]}, \"column\": {\"type\": "
                      "\"string\"}},"
                      " \"anyOf\": [{\"properties\": {\"function\": {\"const\": \"count\"}}},"
                      "            {\"required\": [\"column\"]}]}";
    PASS(agg, "{\"function\": \"count\"}");
    PASS(agg, "{\"function\": \"sum\", \"column\": \"x\"}");
    /* The branch that failed on a const was meant for other values: the other one is reported. */
    FAILS(agg, "{\"function\": \"sum\"}", "a[0]", "a[0]: missing required property 'column'",
          "a[0].column");

    /* Several substantial failures: all are listed. */
    const char *num_or_str = "{\"anyOf\": [{\"type\": \"integer\", \"minimum\": 0},"
                             " {\"type\": \"string\", \"pattern\": \"^[0-9]+$\"}]}";
    PASS(num_or_str, "5");
    PASS(num_or_str, "\"5\"");
    FAILS(num_or_str, "-1", "n",
          "n: must match one of 2 allowed forms: (1) must be at least 0, got -1; (2) must be a "
          "string, got -1",
          "n");
    const char *nested = "{\"anyOf\": [{\"properties\": {\"a\": {\"type\": \"string\"}}},"
                         " {\"properties\": {\"a\": {\"type\": \"integer\"}}}]}";
    FAILS(nested, "{\"a\": true}", "v",
          "v: must match one of 2 allowed forms: (1) a: must be a string, got true; (2) a: must be "
          "an integer, got true",
          "v");

    /* oneOf matching twice. */
    const char *one = "{\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 0}]}";
    PASS(one, "-3");
    PASS(one, "2.5");
    FAILS(one, "3", "v",
          "v: matches more than one of the allowed forms (1 and 2) but must match exactly one",
          "v");
}

/* Expects px_schema_check to refuse the schema with a message containing needle. */
static void check_refused(const char *schema_text, const char *needle, const char *field)
{
    struct json_object *schema = parse(schema_text);
    px_error_clear(&err);
    assert_int_equal(px_schema_check(schema, &err), -PX_EINVALID);
    if (!strstr(err.message, needle))
        fail_msg("'%s' does not contain '%s'", err.message, needle);
    assert_string_equal(err.field, field);
    /* Callers check a schema once when they load it (px_schema_validate trusts it). */
    json_object_put(schema);
}

static void test_check(void **state)
{
    (void)state;
    struct json_object *ok = parse(
        "{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\", \"$comment\": \"c\","
        " \"title\": \"T\", \"description\": \"D\", \"type\": \"object\", \"additionalProperties\":"
        " false, \"required\": [\"a\"], \"minProperties\": 1, \"x-anything\": {\"weird\": 1},"
        " \"properties\": {\"a\": {\"type\": [\"string\", \"null\"], \"minLength\": 1,"
        "  \"maxLength\": 9, \"pattern\": \"^a\", \"format\": \"uuid\", \"default\": \"abc\","
        "  \"examples\": [\"ab\"], \"readOnly\": false, \"writeOnly\": true, \"x-secret\": true},"
        " \"n\": {\"type\": \"number\", \"minimum\": 0, \"maximum\": 1.5, \"exclusiveMinimum\": -1,"
        "  \"exclusiveMaximum\": 2, \"enum\": [0, 1], \"const\": 1},"
        " \"l\": {\"type\": \"array\", \"items\": true, \"minItems\": 0, \"maxItems\": 2,"
        "  \"uniqueItems\": true},"
        " \"u\": {\"anyOf\": [{\"type\": \"string\"}, false], \"oneOf\": [true]}}}");
    px_error_clear(&err);
    if (px_schema_check(ok, &err) != 0)
        fail_msg("unexpected: %s", err.message);
    json_object_put(ok);
    struct json_object *t = parse("true");
    assert_int_equal(px_schema_check(t, &err), 0);
    json_object_put(t);

    check_refused("{\"type\": \"object\", \"properties\": {\"a\": {\"minimun\": 1}}}",
                  "schema error at /properties/a: unsupported keyword 'minimun'", "/properties/a");
    check_refused("{\"$ref\": \"#/x\"}", "schema error at the root: unsupported keyword '$ref'",
                  "/");
    check_refused("{\"if\": {}}", "unsupported keyword 'if'", "/");
    check_refused("{\"items\": {\"prefixItems\": []}}", "unsupported keyword 'prefixItems'",
                  "/items");
    check_refused("{\"anyOf\": [{}, {\"typo\": 1}]}", "unsupported keyword 'typo'", "/anyOf/1");
    check_refused("{\"type\": \"int\"}", "unknown type 'int'", "/");
    check_refused("{\"type\": []}", "non-empty array of type names", "/");
    check_refused("{\"minimum\": \"1\"}", "'minimum' must be a number", "/");
    check_refused("{\"maxLength\": -1}", "'maxLength' must be a non-negative integer", "/");
    check_refused("{\"maxItems\": 1.5}", "'maxItems' must be a non-negative integer", "/");
    check_refused("{\"pattern\": \"([a-z\"}", "is not a valid POSIX extended regular expression",
                  "/");
    check_refused("{\"required\": \"a\"}", "'required' must be an array of strings", "/");
    check_refused("{\"required\": [\"a\", \"a\"]}", "'required' lists 'a' twice", "/");
    check_refused("{\"enum\": []}", "'enum' must be a non-empty array", "/");
    check_refused("{\"oneOf\": {}}", "'oneOf' must be a non-empty array of schemas", "/");
    check_refused("{\"uniqueItems\": 1}", "'uniqueItems' must be true or false", "/");
    check_refused("{\"properties\": {\"a\": 5}}", "a schema must be an object or a boolean",
                  "/properties/a");
    check_refused("{\"properties\": {\"a/b\": {\"x\": 1}}}", "unsupported keyword 'x'",
                  "/properties/a~1b");
    check_refused("{\"properties\": {\"port\": {\"type\": \"integer\", \"maximum\": 10,"
                  " \"default\": 5432}}}",
                  "the default value is not valid: default: must be at most 10, got 5432",
                  "/properties/port");
    check_refused("{\"additionalProperties\": false, \"required\": [\"b\"], \"properties\": {}}",
                  "required property 'b' is not listed in 'properties'", "/");
    check_refused("[]", "a schema must be an object or a boolean", "/");
}

static void test_threads_share_nothing_mutable(void **state)
{
    (void)state;
    /* Validating never changes the schema (callers share catalog schemas across threads). */
    struct json_object *schema = parse(args_schema);
    const char *before = json_object_to_json_string(schema);
    char copy[1024];
    snprintf(copy, sizeof(copy), "%s", before);
    struct json_object *v = parse("{\"pipeline_id\": \"p\", \"limit\": 1000}");
    assert_int_equal(px_schema_validate(schema, v, "", &err), -PX_EINVALID);
    assert_string_equal(json_object_to_json_string(schema), copy);
    json_object_put(v);
    json_object_put(schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type),
        cmocka_unit_test(test_enum_const),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_long_values_are_cut),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_nested_paths),
        cmocka_unit_test(test_one_of_required),
        cmocka_unit_test(test_alternatives),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_threads_share_nothing_mutable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
