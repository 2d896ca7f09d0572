/*
 * Unit tests for next-fire computation (src/sched/next.c, contract in sched/next.h).
 *  - Every row of tests/cases/cron/next.txt (format at its top): expression, zone, start,
 *    the expected consecutive fires with their flags; a failing row is reported with its line
 *    number and rule tag, and all rows are run before the test fails.
 *  - Previews (px_cron_next_n) with flags.
 *  - Properties over random instants near and away from transitions, in zones with odd
 *    offsets: the result is strictly later than the start; for wildcard jobs no matching
 *    wall-clock minute between the start and the result is skipped (brute force, minute by
 *    minute); for every job, asking again from just before a fire gives that fire.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "sched/cron.h"
#include "sched/next.h"
#include "base/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASES_REL "tests/cases/cron/next.txt"
#define MAX_ZONES 64
#define MAX_FIRES 16

/* ---- zones, loaded once ---- */

static struct {
    char name[64];
    struct px_tz *tz;
} zones[MAX_ZONES];
static int nzones;

static const struct px_tz *zone(const char *name)
{
    for (int i = 0; i < nzones; i++)
        if (strcmp(zones[i].name, name) == 0)
            return zones[i].tz;
    if (nzones == MAX_ZONES)
        fail_msg("too many zones");
    struct px_error err;
    px_error_clear(&err);
    struct px_tz *tz = NULL;
    if (px_tz_load(name, &tz, &err) != 0)
        fail_msg("zone %s: %s", name, err.message);
    snprintf(zones[nzones].name, sizeof(zones[nzones].name), "%s", name);
    zones[nzones].tz = tz;
    nzones++;
    return tz;
}

static int teardown_zones(void **state)
{
    (void)state;
    for (int i = 0; i < nzones; i++)
        px_tz_free(zones[i].tz);
    nzones = 0;
    return 0;
}

/* ---- RFC 3339 ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "2026-03-08T03:00:00-04:00" or "...Z": the instant and the offset. False when malformed. */
static bool parse_rfc3339(const char *s, int64_t *t_out, int32_t *off_out)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return false;
    int32_t off = 0;
    const char *z = s + 19;
    if (strcmp(z, "Z") == 0) {
        off = 0;
    } else {
        int oh, om, k = 0;
        if ((z[0] != '+' && z[0] != '-') || sscanf(z + 1, "%2d:%2d%n", &oh, &om, &k) != 2 ||
            k != 5 || z[6] != '\0')
            return false;
        off = (z[0] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    }
    *t_out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    *off_out = off;
    return true;
}

static void format_fire(char *buf, size_t size, const struct px_tz *tz, const struct px_fire *f)
{
    int32_t off = px_tz_offset_at(tz, f->at, NULL, NULL);
    int64_t l = f->at + off, day = l >= 0 ? l / 86400 : (l - 86399) / 86400;
    int secs = (int)(l - day * 86400);
    /* civil from days */
    int64_t z = day + 719468, era = (z >= 0 ? z : z - 146096) / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = yoe + era * 400 + (m <= 2);
    int a = off < 0 ? -off : off;
    snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d%s%s%s", (long long)y, m, d,
             secs / 3600, secs % 3600 / 60, secs % 60, off < 0 ? '-' : '+', a / 3600, a % 3600 / 60,
             f->flags & PX_FIRE_MOVED ? " moved" : "", f->flags & PX_FIRE_MERGED ? ",merged" : "",
             f->flags & PX_FIRE_REPEATED ? ((f->flags & PX_FIRE_MOVED) ? ",repeated" : " repeated")
                                         : "");
}

/* "moved,merged" → flags; -1 when unknown. */
static int parse_flags(const char *s)
{
    int flags = 0;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", s);
    char *save = NULL;
    for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (strcmp(w, "moved") == 0)
            flags |= PX_FIRE_MOVED;
        else if (strcmp(w, "merged") == 0)
            flags |= PX_FIRE_MERGED;
        else if (strcmp(w, "repeated") == 0)
            flags |= PX_FIRE_REPEATED;
        else
            return -1;
    }
    return flags;
}

static FILE *open_cases(void)
{
    FILE *f = fopen(CASES_REL, "r");
    if (!f) {
        char path[4096];
        const char *here = __FILE__;
        const char *slash = strrchr(here, '/');
        int dir = slash ? (int)(slash - here) : 0;
        snprintf(path, sizeof(path), "%.*s/../cases/cron/next.txt", dir, here);
        f = fopen(path, "r");
    }
    return f;
}

/* Runs one row; returns NULL or a static description of what went wrong. */
static const char *run_row(char **col, int ncol, char *why, size_t why_size)
{
    const char *expr = col[0], *zname = col[1], *start = col[2];
    char *expect = col[3];
    struct px_cron c;
    struct px_error err;
    px_error_clear(&err);
    int rc = px_cron_parse(expr, &c, &err);
    (void)ncol;
    if (strcmp(expect, "refused") == 0) {
        if (rc == 0)
            return "expression should be refused by the parser";
        return NULL;
    }
    if (rc != 0) {
        snprintf(why, why_size, "parse failed: %.300s", err.message);
        return why;
    }
    const struct px_tz *tz = zone(zname);
    int64_t after;
    int32_t off;
    if (!parse_rfc3339(start, &after, &off))
        return "bad start time";
    if (strcmp(expect, "none") == 0) {
        struct px_fire f;
        rc = px_cron_next(&c, tz, after, &f);
        if (rc != -PX_ENOTFOUND) {
            snprintf(why, why_size, "expected no fire, got rc %d at %lld", rc, (long long)f.at);
            return why;
        }
        return NULL;
    }
    char *save = NULL;
    int k = 0;
    for (char *item = strtok_r(expect, ";", &save); item; item = strtok_r(NULL, ";", &save), k++) {
        char ts[64], fl[64] = "";
        if (sscanf(item, "%63s %63s", ts, fl) < 1)
            return "empty expected fire";
        int64_t want;
        int want_flags = parse_flags(fl);
        if (!parse_rfc3339(ts, &want, &off) || want_flags < 0)
            return "bad expected fire";
        struct px_fire f;
        rc = px_cron_next(&c, tz, after, &f);
        char got[96];
        if (rc != 0) {
            snprintf(why, why_size, "fire %d: expected %.200s, got rc %d", k + 1, item, rc);
            return why;
        }
        format_fire(got, sizeof(got), tz, &f);
        if (f.at != want || f.flags != want_flags ||
            (strchr(ts, 'Z') == NULL && px_tz_offset_at(tz, f.at, NULL, NULL) != off)) {
            snprintf(why, why_size, "fire %d: expected %.200s, got %.90s", k + 1, item, got);
            return why;
        }
        if (f.at <= after)
            return "not strictly later than the start";
        after = f.at;
    }
    return NULL;
}

static void test_vectors(void **state)
{
    (void)state;
    FILE *f = open_cases();
    if (!f)
        fail_msg("cannot open %s (run the test from the repo root)", CASES_REL);
    char line[4096], why[512];
    int lineno = 0, rows = 0, failed = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *col[8] = {0};
        int ncol = 0;
        char *p = line;
        while (ncol < 8) {
            col[ncol++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        rows++;
        if (ncol < 6) {
            print_error("next.txt:%d: expected at least 6 TAB-separated columns\n", lineno);
            failed++;
            continue;
        }
        char tag[64];
        snprintf(tag, sizeof(tag), "%s", col[4]);
        char copy[1024];
        snprintf(copy, sizeof(copy), "%s", col[3]);
        const char *bad = run_row(col, ncol, why, sizeof(why));
        if (bad) {
            print_error("next.txt:%d [%s] '%s' %s from %s: %s (want %s)\n", lineno, tag, col[0],
                        col[1], col[2], bad, copy);
            failed++;
        }
    }
    fclose(f);
    print_message("next.txt: %d rows, %d failed\n", rows, failed);
    assert_true(rows >= 80);
    assert_int_equal(failed, 0);
}

static void parse_ok(const char *expr, struct px_cron *c)
{
    struct px_error err;
    px_error_clear(&err);
    if (px_cron_parse(expr, c, &err) != 0)
        fail_msg("'%s': %s", expr, err.message);
}

static int64_t at(const char *s)
{
    int64_t t;
    int32_t off;
    if (!parse_rfc3339(s, &t, &off))
        fail_msg("bad time %s", s);
    return t;
}

static void test_preview(void **state)
{
    (void)state;
    struct px_cron c;
    struct px_fire f[PX_CRON_PREVIEW_MAX];
    const struct px_tz *ny = zone("America/New_York");

    /* Fixed job over the spring-forward day: moved once, then normal. */
    parse_ok("30 2 * * *", &c);
    assert_int_equal(px_cron_next_n(&c, ny, at("2026-03-06T12:00:00Z"), 5, f), 5);
    assert_int_equal(f[0].at, at("2026-03-07T02:30:00-05:00"));
    assert_int_equal(f[1].at, at("2026-03-08T03:00:00-04:00"));
    assert_int_equal(f[1].flags, PX_FIRE_MOVED);
    assert_int_equal(f[1].local, at("2026-03-08T02:30:00Z")); /* nominal local time */
    assert_int_equal(f[2].at, at("2026-03-09T02:30:00-04:00"));
    assert_int_equal(f[4].at, at("2026-03-11T02:30:00-04:00"));
    assert_int_equal(f[0].flags | f[2].flags | f[3].flags | f[4].flags, 0);

    /* Wildcard job over the fall-back: both passes, flagged. */
    parse_ok("*/30 * * * *", &c);
    assert_int_equal(px_cron_next_n(&c, ny, at("2026-11-01T00:45:00-04:00"), 5, f), 5);
    const char *want[5] = {"2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00",
                           "2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00",
                           "2026-11-01T02:00:00-05:00"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(f[i].at, at(want[i]));
        assert_int_equal(f[i].flags, i < 4 ? PX_FIRE_REPEATED : 0);
    }
    assert_int_equal(f[0].local, f[2].local);

    /* Merged: three slots in Berlin's gap fire once. */
    const struct px_tz *berlin = zone("Europe/Berlin");
    parse_ok("0,20,40 2 * * *", &c);
    assert_int_equal(px_cron_next_n(&c, berlin, at("2026-03-29T00:00:00+01:00"), 2, f), 2);
    assert_int_equal(f[0].at, at("2026-03-29T03:00:00+02:00"));
    assert_int_equal(f[0].flags, PX_FIRE_MOVED | PX_FIRE_MERGED);
    assert_int_equal(f[1].at, at("2026-03-30T02:00:00+02:00"));

    /* Bounds: n = 0, n too large. */
    assert_int_equal(px_cron_next_n(&c, berlin, 0, 0, f), 0);
    assert_int_equal(px_cron_next_n(&c, berlin, 0, PX_CRON_PREVIEW_MAX + 1, f), -PX_EINVALID);
    assert_int_equal(px_cron_next(&c, berlin, (int64_t)1 << 50, f), -PX_EINVALID);
}

/* ---- properties ---- */

static uint64_t rng_state = 0x243F6A8885A308D3u;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Does c match the local civil time l (seconds, whole minute)? Written independently of
 * next.c: via the test's own calendar. */
static bool matches_local(const struct px_cron *c, int64_t l)
{
    int64_t day = l >= 0 ? l / 86400 : (l - 86399) / 86400;
    int secs = (int)(l - day * 86400);
    int64_t z = day + 719468, era = (z >= 0 ? z : z - 146096) / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int wd = (int)(((day + 4) % 7 + 7) % 7);
    if (!((c->minutes >> (secs % 3600 / 60)) & 1) || !((c->hours >> (secs / 3600)) & 1) ||
        !((c->months >> m) & 1))
        return false;
    bool dom = (c->mdays >> d) & 1, dow = (c->wdays >> wd) & 1;
    return (c->mday_star || c->wday_star) ? dom && dow : dom || dow;
}

static void test_properties(void **state)
{
    (void)state;
    static const char *const zone_names[] = {
        "America/New_York", "Europe/Berlin",    "Australia/Lord_Howe", "America/Santiago",
        "Asia/Amman",       "Asia/Kolkata",     "Asia/Kathmandu",      "Pacific/Chatham",
        "Pacific/Apia",     "America/St_Johns", "Africa/Casablanca",   "UTC",
    };
    static const char *const exprs[] = {
        "*/30 * * * *",   "*/7 * * * *",    "15,45 * * * *",   "0 * * * *",    "* 1-3 * * *",
        "*/20 0-2 * * *", "0 */2 * * *",    "*/10 23,0 * * *", "5 * * * 0",    "* * 1 * *",
        "30 2 * * *",     "0,30 1-3 * * *", "0 0 * * *",       "45 1 * * 1-5", "0 0 1 * *",
        "15 0 * * 6,0",   "59 23 * * *",    "0 2 29 2 *",      "0 12 13 * 5",  "30 23 * * *",
    };
    int cases = 0, brute = 0, scanned = 0;
    for (int i = 0; i < 600; i++) {
        const char *zn = zone_names[rng() % (sizeof(zone_names) / sizeof(zone_names[0]))];
        const struct px_tz *tz = zone(zn);
        struct px_cron c;
        const char *expr = exprs[rng() % (sizeof(exprs) / sizeof(exprs[0]))];
        parse_ok(expr, &c);
        /* 2000..2060, half of them just before a transition. */
        int64_t t = 946684800 + (int64_t)(rng() % ((uint64_t)60 * 365 * 86400));
        int64_t tr;
        if (i % 2 == 0 && px_tz_next_transition(tz, t, &tr, NULL, NULL, NULL))
            t = tr - (int64_t)(rng() % (3 * 3600));
        struct px_fire f;
        int rc = px_cron_next(&c, tz, t, &f);
        assert_int_equal(rc, 0);
        assert_true(f.at > t);
        cases++;
        /* Asking from just before the fire gives the same fire. */
        struct px_fire g;
        assert_int_equal(px_cron_next(&c, tz, f.at - 1, &g), 0);
        if (g.at != f.at || g.flags != f.flags)
            fail_msg("%s '%s' from %lld: fire %lld flags %d, but from %lld: %lld flags %d", zn,
                     expr, (long long)t, (long long)f.at, f.flags, (long long)(f.at - 1),
                     (long long)g.at, g.flags);
        /* The nominal local time is a slot of the expression. */
        assert_true(matches_local(&c, f.local));
        if (!(f.flags & PX_FIRE_MOVED))
            assert_int_equal(f.local, f.at + px_tz_offset_at(tz, f.at, NULL, NULL));
        if (px_cron_is_fixed_time(&c) || f.at - t > 8 * 86400)
            continue;
        /* Wildcard: no instant between t and the fire shows a matching wall-clock minute. */
        brute++;
        for (int64_t u = t + 1; u < f.at; u++) {
            int32_t off = px_tz_offset_at(tz, u, NULL, NULL);
            int64_t l = u + off;
            if (l % 60 != 0) {
                u += (60 - (l % 60 + 60) % 60) - 1; /* to the next local minute */
                continue;
            }
            scanned++;
            if (matches_local(&c, l))
                fail_msg("%s '%s' from %lld: skipped a match at %lld (got %lld)", zn, expr,
                         (long long)t, (long long)u, (long long)f.at);
            u += 59;
        }
        assert_true(matches_local(&c, f.at + px_tz_offset_at(tz, f.at, NULL, NULL)));
    }
    print_message("properties: %d cases, %d brute-forced (%d minutes scanned)\n", cases, brute,
                  scanned);
    assert_true(brute > 50);
}

/* Far future (footer rules) and no fire at all. */
static void test_far_and_none(void **state)
{
    (void)state;
    struct px_cron c;
    struct px_fire f;
    /* A hand-made expression that never fires (the parser refuses such text). */
    memset(&c, 0, sizeof(c));
    c.minutes = 1, c.hours = 1, c.mdays = 1u << 31, c.months = 1u << 2, c.wdays = 0x7f;
    c.wday_star = true;
    assert_int_equal(px_cron_next(&c, zone("Europe/Berlin"), 0, &f), -PX_ENOTFOUND);
    assert_int_equal(f.at, 0);
    /* Leap day across 2100 (not a leap year): 2096-02-29, then 2104-02-29. */
    parse_ok("0 12 29 2 *", &c);
    assert_int_equal(px_cron_next(&c, zone("America/New_York"), at("2096-03-01T00:00:00Z"), &f), 0);
    assert_int_equal(f.at, at("2104-02-29T12:00:00-05:00"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_preview),
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_far_and_none),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_zones);
}
