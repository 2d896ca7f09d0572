/*
 * Unit tests for the cron parser (src/sched/cron.c). The vectors live in
 * tests/cases/cron/parse.txt (format described at its top); this file reads them, plus a few
 * checks that read better as code (output on error, NULL input, every message has a hint).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "sched/cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASES_REL "tests/cases/cron/parse.txt"

/* Opens the case file: relative to the repo root (where tests run), else next to this file. */
static FILE *open_cases(void)
{
    FILE *f = fopen(CASES_REL, "r");
    if (!f) {
        char path[4096];
        const char *here = __FILE__;
        const char *slash = strrchr(here, '/');
        int dir = slash ? (int)(slash - here) : 0;
        snprintf(path, sizeof(path), "%.*s/../cases/cron/parse.txt", dir, here);
        f = fopen(path, "r");
    }
    return f;
}

/* Parses a set written like a cron field without names or steps: "*", "", "0,15", "1-5". */
static uint64_t parse_set(const char *s, int min, int max)
{
    uint64_t bits = 0;
    if (strcmp(s, "*") == 0) {
        for (int v = min; v <= max; v++)
            bits |= (uint64_t)1 << v;
        return bits;
    }
    while (*s) {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (*end == '-')
            b = strtol(end + 1, &end, 10);
        for (long v = a; v <= b; v++)
            bits |= (uint64_t)1 << v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') {
            fail_msg("bad set '%s' in the case file", s);
        }
    }
    return bits;
}

/* Checks one "key=value" expectation against a parsed expression. */
static void check_expect(const char *expr, const char *kv, const struct px_cron *c, int line)
{
    const char *eq = strchr(kv, '=');
    if (!eq)
        fail_msg("line %d: bad expectation '%s'", line, kv);
    size_t klen = (size_t)(eq - kv);
    const char *v = eq + 1;
    uint64_t got = 0, want = 0;
    if (strncmp(kv, "min", klen) == 0 && klen == 3) {
        got = c->minutes, want = parse_set(v, 0, 59);
    } else if (strncmp(kv, "hour", klen) == 0 && klen == 4) {
        got = c->hours, want = parse_set(v, 0, 23);
    } else if (strncmp(kv, "dom", klen) == 0 && klen == 3) {
        got = c->mdays, want = parse_set(v, 1, 31);
    } else if (strncmp(kv, "mon", klen) == 0 && klen == 3) {
        got = c->months, want = parse_set(v, 1, 12);
    } else if (strncmp(kv, "dow", klen) == 0 && klen == 3) {
        got = c->wdays, want = parse_set(v, 0, 6);
    } else if (strncmp(kv, "dstar", klen) == 0 && klen == 5) {
        got = c->mday_star, want = (uint64_t)atoi(v);
    } else if (strncmp(kv, "wstar", klen) == 0 && klen == 5) {
        got = c->wday_star, want = (uint64_t)atoi(v);
    } else if (strncmp(kv, "mfixed", klen) == 0 && klen == 6) {
        got = c->minute_fixed, want = (uint64_t)atoi(v);
    } else if (strncmp(kv, "hfixed", klen) == 0 && klen == 6) {
        got = c->hour_fixed, want = (uint64_t)atoi(v);
    } else if (strncmp(kv, "mwild", klen) == 0 && klen == 5) {
        got = c->minute_wild, want = (uint64_t)atoi(v);
    } else if (strncmp(kv, "hwild", klen) == 0 && klen == 5) {
        got = c->hour_wild, want = (uint64_t)atoi(v);
    } else {
        fail_msg("line %d: unknown key in '%s'", line, kv);
    }
    if (got != want)
        fail_msg("line %d: '%s': %s: got %#llx, want %#llx", line, expr, kv,
                 (unsigned long long)got, (unsigned long long)want);
}

static void test_case_file(void **state)
{
    (void)state;
    FILE *f = open_cases();
    char line[1024], empty[1] = "";
    int lineno = 0, ok_cases = 0, err_cases = 0;
    if (!f)
        fail_msg("cannot open %s (run the test from the repo root)", CASES_REL);
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *tab1 = strchr(line, '\t');
        if (!tab1)
            fail_msg("line %d: no TAB", lineno);
        *tab1 = '\0';
        char *kind = tab1 + 1, *tab2 = strchr(kind, '\t'), *expect = empty;
        if (tab2) {
            *tab2 = '\0';
            expect = tab2 + 1;
        }
        const char *expr = line;
        struct px_cron c;
        struct px_error err;
        px_error_clear(&err);
        int rc = px_cron_parse(expr, &c, &err);
        if (strcmp(kind, "ok") == 0) {
            if (rc != 0)
                fail_msg("line %d: '%s' should parse, got: %s", lineno, expr, err.message);
            char *save = NULL;
            for (char *kv = strtok_r(expect, " ", &save); kv; kv = strtok_r(NULL, " ", &save))
                check_expect(expr, kv, &c, lineno);
            ok_cases++;
        } else if (strcmp(kind, "error") == 0) {
            if (rc != -PX_EINVALID)
                fail_msg("line %d: '%s' should be rejected (rc %d)", lineno, expr, rc);
            if (!strstr(err.message, expect))
                fail_msg("line %d: '%s': message \"%s\" lacks \"%s\"", lineno, expr, err.message,
                         expect);
            if (err.hint[0] == '\0')
                fail_msg("line %d: '%s': no hint", lineno, expr);
            if (err.code != PX_EINVALID)
                fail_msg("line %d: err.code %d", lineno, err.code);
            /* The output is all zero after an error. */
            struct px_cron zero;
            memset(&zero, 0, sizeof(zero));
            assert_memory_equal(&c, &zero, sizeof(c));
            err_cases++;
        } else {
            fail_msg("line %d: kind must be ok or error, not '%s'", lineno, kind);
        }
    }
    fclose(f);
    assert_true(ok_cases >= 40);
    assert_true(err_cases >= 40);
}

static void test_hint_and_message_shape(void **state)
{
    (void)state;
    struct px_cron c;
    struct px_error err;
    assert_int_equal(px_cron_parse("61 * * * *", &c, &err), -PX_EINVALID);
    assert_string_equal(err.message, "minute field (field 1 of 5): '61' is out of range 0-59");
    assert_non_null(strstr(err.hint, "\"0 6 * * *\" = every day at 06:00"));

    assert_int_equal(px_cron_parse("* * *", &c, &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "found 3"));
    assert_non_null(strstr(err.message, "minute hour day-of-month month day-of-week"));

    assert_int_equal(px_cron_parse("0 0 0 * * *", &c, &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "seconds"));
    assert_non_null(strstr(err.hint, "drop the seconds field"));

    assert_int_equal(px_cron_parse("@reboot", &c, &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "@reboot"));
}

static void test_null_and_odd_input(void **state)
{
    (void)state;
    struct px_cron c;
    struct px_error err;
    char long_expr[400];

    assert_int_equal(px_cron_parse(NULL, &c, &err), -PX_EINVALID);
    assert_int_equal(px_cron_parse("* * * * *", &c, NULL), 0); /* err may be NULL */
    assert_int_equal(px_cron_parse("61 * * * *", &c, NULL), -PX_EINVALID);

    memset(long_expr, '1', sizeof(long_expr) - 1);
    long_expr[sizeof(long_expr) - 1] = '\0';
    assert_int_equal(px_cron_parse(long_expr, &c, &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "too long"));

    /* Control characters are not echoed back raw. */
    assert_int_equal(px_cron_parse("1\x01 * * * *", &c, &err), -PX_EINVALID);
    assert_null(strchr(err.message, '\x01'));

    /* A long garbage token is cut in the message. */
    char garbage[200];
    memset(garbage, 'x', 150);
    strcpy(garbage + 150, " * * * *");
    assert_int_equal(px_cron_parse(garbage, &c, &err), -PX_EINVALID);
    assert_true(strlen(err.message) < 200);
}

/* Every single-field token over a small alphabet parses or fails cleanly (sanitizers watch). */
static void test_exhaustive_short_tokens(void **state)
{
    (void)state;
    const char alphabet[] = "0179*/-,?LWM#";
    size_t k = sizeof(alphabet) - 1;
    char tok[5], expr[64];
    for (size_t n = 1; n <= 4; n++) {
        size_t total = 1;
        for (size_t i = 0; i < n; i++)
            total *= k;
        for (size_t x = 0; x < total; x++) {
            size_t y = x;
            for (size_t i = 0; i < n; i++, y /= k)
                tok[i] = alphabet[y % k];
            tok[n] = '\0';
            for (int field = 0; field < 5; field++) {
                const char *f[5] = {"*", "*", "*", "*", "*"};
                f[field] = tok;
                snprintf(expr, sizeof(expr), "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
                struct px_cron c;
                struct px_error err;
                int rc = px_cron_parse(expr, &c, &err);
                if (rc == 0) {
                    assert_true(c.minutes != 0 && c.hours != 0 && c.mdays != 0 && c.months != 0 &&
                                c.wdays != 0);
                    assert_true((c.minutes >> 60) == 0 && (c.hours >> 24) == 0 &&
                                (c.mdays & 1) == 0 && (c.months & 0xE001) == 0 &&
                                (c.wdays & 0x80) == 0);
                } else {
                    assert_int_equal(rc, -PX_EINVALID);
                    assert_true(err.message[0] != '\0' && err.hint[0] != '\0');
                }
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case_file),
        cmocka_unit_test(test_hint_and_message_shape),
        cmocka_unit_test(test_null_and_odd_input),
        cmocka_unit_test(test_exhaustive_short_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
