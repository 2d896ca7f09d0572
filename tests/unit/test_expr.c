/*
 * Unit tests for the expression language (src/engine/expr*.c). The vectors live in
 * tests/cases/expr/parse.txt and tests/cases/expr/eval.txt (formats described at their tops);
 * this file reads them, plus checks that read better as code (columns, limits, ownership).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "engine/expr/expr.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opens tests/cases/expr/<name>: relative to the repo root, else next to this file. */
static FILE *open_cases(const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "tests/cases/expr/%s", name);
    FILE *f = fopen(path, "r");
    if (!f) {
        const char *here = __FILE__;
        const char *slash = strrchr(here, '/');
        int dir = slash ? (int)(slash - here) : 0;
        snprintf(path, sizeof(path), "%.*s/../cases/expr/%s", dir, here, name);
        f = fopen(path, "r");
    }
    if (!f)
        fail_msg("cannot open tests/cases/expr/%s (run the test from the repo root)", name);
    return f;
}

/* Splits a case line at TABs into at most 3 fields; returns the count. */
static int split(char *line, char *fields[3])
{
    int n = 0;
    fields[n++] = line;
    for (char *p = line; *p && n < 3; p++)
        if (*p == '\t') {
            *p = '\0';
            fields[n++] = p + 1;
        }
    return n;
}

static void test_parse_file(void **state)
{
    (void)state;
    FILE *f = open_cases("parse.txt");
    char line[8192];
    int lineno = 0, ok_cases = 0, err_cases = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *fl[3] = {0};
        int n = split(line, fl);
        if (n < 2)
            fail_msg("parse.txt line %d: no TAB", lineno);
        struct px_expr *ex = (struct px_expr *)1;
        struct px_error err;
        px_error_clear(&err);
        int rc = px_expr_parse(fl[0], &ex, &err);
        if (strcmp(fl[1], "ok") == 0) {
            if (rc != 0)
                fail_msg("parse.txt line %d: '%s' should parse, got: %s", lineno, fl[0],
                         err.message);
            assert_non_null(ex);
            ok_cases++;
        } else if (strcmp(fl[1], "error") == 0) {
            if (rc != -PX_EINVALID)
                fail_msg("parse.txt line %d: '%s' should be rejected (rc %d)", lineno, fl[0], rc);
            if (n < 3 || !strstr(err.message, fl[2]))
                fail_msg("parse.txt line %d: '%s': message \"%s\" lacks \"%s\"", lineno, fl[0],
                         err.message, n < 3 ? "" : fl[2]);
            assert_null(ex);
            assert_int_equal(err.code, PX_EINVALID);
            assert_string_equal(err.field, "");
            err_cases++;
        } else {
            fail_msg("parse.txt line %d: kind must be ok or error, not '%s'", lineno, fl[1]);
        }
        px_expr_free(ex);
    }
    fclose(f);
    print_message("parse.txt: %d ok, %d error cases\n", ok_cases, err_cases);
    assert_true(ok_cases + err_cases >= 60);
    assert_true(err_cases >= 25);
}

/* Row lookup over a JSON object: null, booleans, integers, decimals and strings map
 * directly; {"ts": "2024-01-01T00:00:00Z"} is a timestamp, {"iv": seconds} an interval. */
static int json_row(void *ctx, const char *column, struct px_value *out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(ctx, column, &v))
        return -PX_ENOTFOUND;
    memset(out, 0, sizeof(*out));
    struct json_object *x;
    switch (json_object_get_type(v)) {
    case json_type_null:
        out->type = PX_VAL_NULL;
        break;
    case json_type_boolean:
        out->type = PX_VAL_BOOL;
        out->b = json_object_get_boolean(v);
        break;
    case json_type_int:
        out->type = PX_VAL_INT;
        out->i = json_object_get_int64(v);
        break;
    case json_type_double:
        out->type = PX_VAL_FLOAT;
        out->f = json_object_get_double(v);
        break;
    case json_type_string:
        out->type = PX_VAL_STRING;
        out->s = (char *)(uintptr_t)json_object_get_string(v);
        break;
    case json_type_object:
        if (json_object_object_get_ex(v, "ts", &x)) {
            out->type = PX_VAL_TIMESTAMP;
            if (px_expr_parse_timestamp(json_object_get_string(x), &out->i) != 0)
                fail_msg("bad timestamp in a case row: %s", json_object_get_string(x));
        } else if (json_object_object_get_ex(v, "iv", &x)) {
            out->type = PX_VAL_INTERVAL;
            out->i = json_object_get_int64(x) * 1000000;
        } else {
            return -PX_EINTERNAL;
        }
        break;
    default:
        return -PX_EINTERNAL;
    }
    return 0;
}

static int64_t fixed_now(void)
{
    int64_t now;
    assert_int_equal(px_expr_parse_timestamp("2024-01-15T12:00:00Z", &now), 0);
    return now;
}

static void test_eval_file(void **state)
{
    (void)state;
    FILE *f = open_cases("eval.txt");
    char line[8192];
    int lineno = 0, cases = 0, err_cases = 0;
    int64_t now = fixed_now();
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *fl[3] = {0};
        if (split(line, fl) != 3)
            fail_msg("eval.txt line %d: want 3 TAB-separated fields", lineno);
        struct json_object *row = json_tokener_parse(fl[1]);
        if (!row || !json_object_is_type(row, json_type_object))
            fail_msg("eval.txt line %d: columns are not a JSON object: %s", lineno, fl[1]);
        struct px_expr *ex = NULL;
        struct px_error err;
        px_error_clear(&err);
        if (px_expr_parse(fl[0], &ex, &err) != 0)
            fail_msg("eval.txt line %d: '%s' does not parse: %s", lineno, fl[0], err.message);
        struct px_value out;
        int rc = px_expr_eval(ex, json_row, row, now, &out, &err);
        if (strncmp(fl[2], "error: ", 7) == 0) {
            if (rc != -PX_EINVALID)
                fail_msg("eval.txt line %d: '%s' should fail (rc %d)", lineno, fl[0], rc);
            if (!strstr(err.message, fl[2] + 7))
                fail_msg("eval.txt line %d: '%s': message \"%s\" lacks \"%s\"", lineno, fl[0],
                         err.message, fl[2] + 7);
            assert_int_equal(out.type, PX_VAL_NULL);
            err_cases++;
        } else {
            if (rc != 0)
                fail_msg("eval.txt line %d: '%s' failed: %s", lineno, fl[0], err.message);
            struct px_buf b;
            px_buf_init(&b, 4096);
            assert_int_equal(px_value_render(&out, &b), 0);
            if (strcmp(b.data ? b.data : "", fl[2]) != 0)
                fail_msg("eval.txt line %d: '%s': got %s, want %s", lineno, fl[0],
                         b.data ? b.data : "", fl[2]);
            px_buf_cleanup(&b);
        }
        px_value_clear(&out);
        px_expr_free(ex);
        json_object_put(row);
        cases++;
    }
    fclose(f);
    print_message("eval.txt: %d cases (%d errors)\n", cases, err_cases);
    assert_true(cases >= 60);
    assert_true(err_cases >= 8);
}

struct cols {
    char names[8][32];
    int n;
};

static void collect(void *ctx, const char *column)
{
    struct cols *c = ctx;
    if (c->n < 8)
        snprintf(c->names[c->n++], sizeof(c->names[0]), "%s", column);
}

static void test_columns(void **state)
{
    (void)state;
    struct px_expr *ex;
    struct px_error err;
    assert_int_equal(px_expr_parse("b > 1 AND lower(\"A b\") = 'x' OR b IN (c, 1) AND NOW() IS "
                                   "NOT NULL",
                                   &ex, &err),
                     0);
    struct cols c = {.n = 0};
    px_expr_columns(ex, collect, &c);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.names[0], "b");
    assert_string_equal(c.names[1], "A b");
    assert_string_equal(c.names[2], "c");
    px_expr_free(ex);
}

static void test_limits(void **state)
{
    (void)state;
    struct px_expr *ex;
    struct px_error err;
    char big[PX_EXPR_MAX_LEN + 2];

    /* Too long. */
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(px_expr_parse(big, &ex, &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "too long (4097 characters; at most 4096)"));

    /* Exactly 64 levels parse; 65 do not. */
    char deep[300];
    int k = 0;
    for (int i = 0; i < 63; i++)
        deep[k++] = '(';
    deep[k++] = '1';
    for (int i = 0; i < 63; i++)
        deep[k++] = ')';
    deep[k] = '\0';
    assert_int_equal(px_expr_parse(deep, &ex, &err), 0);
    px_expr_free(ex);
    memmove(deep + 1, deep, strlen(deep) + 1);
    deep[0] = '(';
    strcat(deep, ")");
    assert_int_equal(px_expr_parse(deep, &ex, &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "at position 65: expression nests too deeply"));

    /* Unary chains count as nesting too. */
    memset(big, '-', 100);
    strcpy(big + 100, "1");
    assert_int_equal(px_expr_parse(big, &ex, &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "nests too deeply"));
    memset(big, 0, sizeof(big));
    for (int i = 0; i < 100; i++)
        strcat(big, "NOT ");
    strcat(big, "x");
    assert_int_equal(px_expr_parse(big, &ex, &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "nests too deeply"));

    /* 1000 nodes: a+a+... with 500 terms is 999 nodes; 501 terms is 1001. */
    big[0] = '\0';
    for (int i = 0; i < 500; i++)
        strcat(big, i ? "+a" : "a");
    assert_int_equal(px_expr_parse(big, &ex, &err), 0);
    px_expr_free(ex);
    strcat(big, "+a");
    assert_int_equal(px_expr_parse(big, &ex, &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "too complex (more than 1000 parts)"));

    /* NULL input and NULL err are accepted. */
    assert_int_equal(px_expr_parse(NULL, &ex, NULL), -PX_EINVALID);
    assert_int_equal(px_expr_parse("1 +", &ex, NULL), -PX_EINVALID);
    assert_null(ex);
}

static void test_eval_ownership(void **state)
{
    (void)state;
    struct px_expr *ex;
    struct px_error err;
    struct json_object *row = json_tokener_parse("{\"name\": \"  Ada  \"}");
    assert_int_equal(px_expr_parse("upper(trim(name)) || '!'", &ex, &err), 0);
    struct px_value out;
    assert_int_equal(px_expr_eval(ex, json_row, row, 0, &out, &err), 0);
    assert_int_equal(out.type, PX_VAL_STRING);
    assert_string_equal(out.s, "ADA!");
    /* The row's string was not modified (it is borrowed). */
    struct json_object *v;
    json_object_object_get_ex(row, "name", &v);
    assert_string_equal(json_object_get_string(v), "  Ada  ");
    px_value_clear(&out);
    assert_int_equal(out.type, PX_VAL_NULL);
    px_value_clear(&out); /* twice is fine */
    px_expr_free(ex);

    /* A NULL row function: every column is unknown. */
    assert_int_equal(px_expr_parse("x + 1", &ex, &err), 0);
    assert_int_equal(px_expr_eval(ex, NULL, NULL, 0, &out, &err), -PX_EINVALID);
    assert_string_equal(err.message, "expression: at position 1: unknown column 'x'");
    px_expr_free(ex);
    json_object_put(row);
    px_expr_free(NULL);
}

static void test_timestamps(void **state)
{
    (void)state;
    int64_t us;
    assert_int_equal(px_expr_parse_timestamp("1970-01-01", &us), 0);
    assert_int_equal(us, 0);
    assert_int_equal(px_expr_parse_timestamp("1970-01-01T00:00:01.5Z", &us), 0);
    assert_int_equal(us, 1500000);
    assert_int_equal(px_expr_parse_timestamp("1970-01-01 02:00:00+02:00", &us), 0);
    assert_int_equal(us, 0);
    assert_int_equal(px_expr_parse_timestamp("2024-02-29", &us), 0);
    assert_int_equal(px_expr_parse_timestamp("2023-02-29", &us), -PX_EINVALID);
    assert_int_equal(px_expr_parse_timestamp("2024-13-01", &us), -PX_EINVALID);
    assert_int_equal(px_expr_parse_timestamp("2024-01-01T25:00", &us), -PX_EINVALID);
    assert_int_equal(px_expr_parse_timestamp("yesterday", &us), -PX_EINVALID);
    assert_int_equal(px_expr_parse_timestamp("2024-01-01x", &us), -PX_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_file),     cmocka_unit_test(test_eval_file),
        cmocka_unit_test(test_columns),        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_eval_ownership), cmocka_unit_test(test_timestamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
