/*
 * Unit tests for the TZif reader (src/base/tz.c). The oracle is glibc reading the same
 * zoneinfo files: this test (and only this test) switches TZ with setenv + tzset and compares
 * localtime_r's tm_gmtoff / tm_isdst / tm_zone with px_tz_offset_at. It also checks local→UTC
 * at known gaps and overlaps, the footer (POSIX TZ string) rules on hand-built TZif files,
 * refused names, and that damaged files fail cleanly (run it under ASan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOUR 3600
#define DAY 86400

/* Seconds since the epoch of a UTC (or "local as if UTC") civil time. */
static int64_t civil(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t)timegm(&tm);
}

static struct px_tz *load_ok(const char *name)
{
    struct px_tz *tz = NULL;
    struct px_error err;
    px_error_clear(&err);
    int rc = px_tz_load(name, &tz, &err);
    if (rc != 0)
        fail_msg("loading %s: %s", name, err.message);
    assert_non_null(tz);
    assert_string_equal(px_tz_name(tz), name);
    return tz;
}

/* ---- glibc oracle ---- */

struct oracle {
    long gmtoff;
    int isdst;
    char zone[16];
};

static void oracle_at(int64_t t, struct oracle *o)
{
    time_t tt = (time_t)t;
    struct tm tm;
    assert_non_null(localtime_r(&tt, &tm));
    o->gmtoff = tm.tm_gmtoff;
    o->isdst = tm.tm_isdst > 0;
    snprintf(o->zone, sizeof(o->zone), "%s", tm.tm_zone ? tm.tm_zone : "");
}

static bool oracle_same(const struct oracle *a, const struct oracle *b)
{
    return a->gmtoff == b->gmtoff && a->isdst == b->isdst && strcmp(a->zone, b->zone) == 0;
}

/* Compares one instant with glibc; also checks that local→UTC maps the local time back. */
static void check_instant(const struct px_tz *tz, const char *zone, int64_t t)
{
    struct oracle o;
    const char *abbr = NULL;
    bool dst = false;
    oracle_at(t, &o);
    int32_t off = px_tz_offset_at(tz, t, &abbr, &dst);
    if (off != o.gmtoff || dst != (o.isdst != 0) || strcmp(abbr, o.zone) != 0)
        fail_msg("%s at %lld: ours %d %s dst=%d, glibc %ld %s dst=%d", zone, (long long)t, (int)off,
                 abbr, (int)dst, o.gmtoff, o.zone, o.isdst);

    int64_t out[2], local = t + off;
    int n = px_tz_local_to_utc(tz, local, out);
    if (!(n >= 1 && (out[0] == t || (n == 2 && out[1] == t))))
        fail_msg("%s: local %lld of instant %lld did not map back (n=%d)", zone, (long long)local,
                 (long long)t, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(out[i] + px_tz_offset_at(tz, out[i], NULL, NULL), local);
    if (n == 2)
        assert_true(out[0] < out[1]);
}

/* Sweeps [from, to) every step seconds; every change glibc shows between two samples is
 * narrowed to the exact second and checked at -1, 0 and +1. Returns the changes found. */
static int sweep(const struct px_tz *tz, const char *zone, int64_t from, int64_t to, int64_t step)
{
    struct oracle prev, cur;
    int changes = 0;
    oracle_at(from, &prev);
    check_instant(tz, zone, from);
    for (int64_t t = from + step; t < to; t += step) {
        oracle_at(t, &cur);
        check_instant(tz, zone, t);
        if (!oracle_same(&prev, &cur)) {
            int64_t lo = t - step, hi = t;
            while (hi - lo > 1) {
                struct oracle mid;
                int64_t m = lo + (hi - lo) / 2;
                oracle_at(m, &mid);
                if (oracle_same(&mid, &prev))
                    lo = m;
                else
                    hi = m;
            }
            check_instant(tz, zone, hi - 1);
            check_instant(tz, zone, hi);
            check_instant(tz, zone, hi + 1);
            changes++;
        }
        prev = cur;
    }
    return changes;
}

static void test_against_glibc(void **state)
{
    (void)state;
    static const struct {
        const char *zone;
        int min_changes; /* changes 1970-2040 glibc must show (sanity of the sweep) */
    } zones[] = {
        {"America/New_York", 130},
        {"Europe/Berlin", 120},
        {"Australia/Lord_Howe", 120},
        {"America/Santiago", 100},
        {"Asia/Amman", 60},
        {"Asia/Kolkata", 0},
        {"Pacific/Chatham", 120},
        {"UTC", 0},
        {"Etc/UTC", 0},
        {"America/Nuuk", 100},
        {"Africa/Casablanca", 40},
        {"Asia/Gaza", 60},
    };
    char *saved = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    const int64_t from = civil(1970, 1, 1, 0, 0, 0), to = civil(2041, 1, 1, 0, 0, 0);

    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        char tzvar[300];
        snprintf(tzvar, sizeof(tzvar), ":%s", zones[i].zone);
        setenv("TZ", tzvar, 1);
        tzset();
        struct px_tz *tz = load_ok(zones[i].zone);
        /* About every 6 hours (the odd seconds move the sample through the day). */
        int changes = sweep(tz, zones[i].zone, from, to, 6 * HOUR + 37);
        if (changes < zones[i].min_changes)
            fail_msg("%s: only %d changes found", zones[i].zone, changes);
        /* Far future (footer rules; glibc applies the same TZ string). */
        sweep(tz, zones[i].zone, to, civil(2400, 1, 1, 0, 0, 0), 9 * DAY + 7 * HOUR + 11);
        /* Before 1970 (the table's early part). */
        sweep(tz, zones[i].zone, civil(1890, 1, 1, 0, 0, 0), from, 5 * DAY + 5 * HOUR + 3);
        px_tz_free(tz);
    }
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
}

/* ---- local → UTC at known transitions ---- */

static void expect_local(const char *zone, int64_t local, int n_want, int64_t a, int64_t b)
{
    struct px_tz *tz = load_ok(zone);
    int64_t out[2] = {-1, -1};
    int n = px_tz_local_to_utc(tz, local, out);
    if (n != n_want)
        fail_msg("%s local %lld: %d instants, want %d", zone, (long long)local, n, n_want);
    if (out[0] != a)
        fail_msg("%s local %lld: out[0] %lld, want %lld", zone, (long long)local, (long long)out[0],
                 (long long)a);
    if (n_want == 2 && out[1] != b)
        fail_msg("%s local %lld: out[1] %lld, want %lld", zone, (long long)local, (long long)out[1],
                 (long long)b);
    px_tz_free(tz);
}

static void test_local_to_utc(void **state)
{
    (void)state;
    /* New York: 02:00 EST → 03:00 EDT on 2026-03-08; 02:00 EDT → 01:00 EST on 2026-11-01. */
    expect_local("America/New_York", civil(2026, 3, 8, 2, 30, 0), 0, civil(2026, 3, 8, 7, 0, 0), 0);
    expect_local("America/New_York", civil(2026, 3, 8, 2, 0, 0), 0, civil(2026, 3, 8, 7, 0, 0), 0);
    expect_local("America/New_York", civil(2026, 3, 8, 1, 59, 59), 1, civil(2026, 3, 8, 6, 59, 59),
                 0);
    expect_local("America/New_York", civil(2026, 3, 8, 3, 0, 0), 1, civil(2026, 3, 8, 7, 0, 0), 0);
    expect_local("America/New_York", civil(2026, 11, 1, 1, 30, 0), 2, civil(2026, 11, 1, 5, 30, 0),
                 civil(2026, 11, 1, 6, 30, 0));
    expect_local("America/New_York", civil(2026, 11, 1, 1, 0, 0), 2, civil(2026, 11, 1, 5, 0, 0),
                 civil(2026, 11, 1, 6, 0, 0));
    expect_local("America/New_York", civil(2026, 11, 1, 2, 0, 0), 1, civil(2026, 11, 1, 7, 0, 0),
                 0);
    expect_local("America/New_York", civil(2026, 7, 4, 12, 0, 0), 1, civil(2026, 7, 4, 16, 0, 0),
                 0);
    /* Past the fat table (2037): the footer rule. */
    expect_local("America/New_York", civil(2039, 3, 13, 2, 30, 0), 0, civil(2039, 3, 13, 7, 0, 0),
                 0);
    expect_local("America/New_York", civil(2250, 11, 3, 1, 30, 0), 2, civil(2250, 11, 3, 5, 30, 0),
                 civil(2250, 11, 3, 6, 30, 0));
    /* Lord Howe: half-hour shifts, 02:00 +1030 → 02:30 +11, and back. */
    expect_local("Australia/Lord_Howe", civil(2026, 10, 4, 2, 15, 0), 0,
                 civil(2026, 10, 3, 15, 30, 0), 0);
    expect_local("Australia/Lord_Howe", civil(2026, 4, 5, 1, 45, 0), 2,
                 civil(2026, 4, 4, 14, 45, 0), civil(2026, 4, 4, 15, 15, 0));
    expect_local("Australia/Lord_Howe", civil(2026, 4, 5, 2, 0, 0), 1, civil(2026, 4, 4, 15, 30, 0),
                 0);
    /* Berlin 02:00 → 03:00 CEST. */
    expect_local("Europe/Berlin", civil(2026, 3, 29, 2, 30, 0), 0, civil(2026, 3, 29, 1, 0, 0), 0);
    expect_local("Europe/Berlin", civil(2026, 10, 25, 2, 30, 0), 2, civil(2026, 10, 25, 0, 30, 0),
                 civil(2026, 10, 25, 1, 30, 0));
    /* Santiago: transitions at midnight (24:00 of Saturday). */
    expect_local("America/Santiago", civil(2026, 9, 6, 0, 30, 0), 0, civil(2026, 9, 6, 4, 0, 0), 0);
    expect_local("America/Santiago", civil(2026, 4, 4, 23, 30, 0), 2, civil(2026, 4, 5, 2, 30, 0),
                 civil(2026, 4, 5, 3, 30, 0));
    /* Chatham: 02:45 +1245 → 03:45 +1345. */
    expect_local("Pacific/Chatham", civil(2026, 9, 27, 3, 0, 0), 0, civil(2026, 9, 26, 14, 0, 0),
                 0);
    /* Amman 2022: midnight gap. */
    expect_local("Asia/Amman", civil(2022, 2, 25, 0, 30, 0), 0, civil(2022, 2, 24, 22, 0, 0), 0);
    /* No DST. */
    expect_local("Asia/Kolkata", civil(2026, 3, 8, 2, 30, 0), 1, civil(2026, 3, 7, 21, 0, 0), 0);
    expect_local("UTC", civil(2026, 3, 8, 2, 30, 0), 1, civil(2026, 3, 8, 2, 30, 0), 0);
}

/* ---- names ---- */

static void expect_unknown(const char *name)
{
    static char sentinel;
    struct px_tz *tz = (struct px_tz *)(void *)&sentinel; /* not NULL: see it being reset */
    struct px_error err;
    px_error_clear(&err);
    int rc = px_tz_load(name, &tz, &err);
    if (rc != -PX_EINVALID)
        fail_msg("'%s' should be refused (rc %d)", name ? name : "(null)", rc);
    assert_null(tz);
    assert_int_equal(err.code, PX_EINVALID);
    if (strncmp(err.message, "unknown time zone '", 19) != 0)
        fail_msg("'%s': message \"%s\"", name ? name : "(null)", err.message);
    assert_true(err.hint[0] != '\0');
}

static void test_names(void **state)
{
    (void)state;
    char longname[300];
    memset(longname, 'A', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';

    expect_unknown("Mars/Olympus_Mons");
    expect_unknown("america/new_york"); /* case matters, as in the database */
    expect_unknown("");
    expect_unknown(NULL);
    expect_unknown("America");           /* a directory */
    expect_unknown("America/New_York/"); /* not a directory */
    expect_unknown("../../../../etc/passwd");
    expect_unknown("/etc/passwd");
    expect_unknown("America/../../../etc/passwd");
    expect_unknown("America/..");
    expect_unknown("..");
    expect_unknown("zone.tab");  /* '.' is not allowed */
    expect_unknown("tzdata.zi"); /* a file in the directory, but not a zone name */
    expect_unknown("New York");
    expect_unknown("Europe/Berlin\n");
    expect_unknown("Europe\\Berlin");
    expect_unknown("Europe/Berlin;rm");
    expect_unknown(longname);

    struct px_error err;
    struct px_tz *tz;
    assert_int_equal(px_tz_load("../etc/passwd", &tz, &err), -PX_EINVALID);
    assert_string_equal(err.message, "unknown time zone '../etc/passwd': a zone name is like "
                                     "\"Area/City\" and uses only letters, digits, '/', '_', "
                                     "'+' and '-'");
    assert_int_equal(px_tz_load("Mars/Base", &tz, &err), -PX_EINVALID);
    assert_string_equal(err.message, "unknown time zone 'Mars/Base'");
    assert_int_equal(px_tz_load("Bad\x01Name", &tz, &err), -PX_EINVALID);
    assert_null(strchr(err.message, '\x01'));

    /* Names with + and - (Etc/GMT+5 is UTC-5). */
    tz = load_ok("Etc/GMT+5");
    const char *abbr;
    bool dst = true;
    assert_int_equal(px_tz_offset_at(tz, 0, &abbr, &dst), -5 * HOUR);
    assert_string_equal(abbr, "-05");
    assert_false(dst);
    px_tz_free(tz);

    tz = load_ok("UTC");
    assert_int_equal(px_tz_offset_at(tz, civil(2030, 6, 1, 0, 0, 0), &abbr, &dst), 0);
    assert_string_equal(abbr, "UTC");
    px_tz_free(tz);
    px_tz_free(NULL);
}

/* ---- hand-built TZif files in a private PLANASONIX_TZDIR ---- */

static char tmpdir[64];

static int setup_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/px_test_tz_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    setenv("PLANASONIX_TZDIR", tmpdir, 1);
    return 0;
}

static int teardown_tmpdir(void **state)
{
    (void)state;
    char cmd[128];
    unsetenv("PLANASONIX_TZDIR");
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *read_all(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len_out = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

struct syn_type {
    int32_t off;
    int dst;
    const char *abbr;
};

static void put32(unsigned char **p, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        *(*p)++ = (unsigned char)(v >> (8 * i));
}

/* Builds a v2 TZif image (empty v1 block) into buf; returns its length. */
static size_t build_tzif(unsigned char *buf, const int64_t *times, const unsigned char *idx, int n,
                         const struct syn_type *types, int ntypes, const char *footer)
{
    unsigned char *p = buf;
    char chars[256];
    unsigned char abbr_idx[16];
    size_t nchars = 0;
    for (int i = 0; i < ntypes; i++) {
        abbr_idx[i] = (unsigned char)nchars;
        size_t l = strlen(types[i].abbr) + 1;
        memcpy(chars + nchars, types[i].abbr, l);
        nchars += l;
    }
    /* v1 header, all counts zero. */
    memcpy(p, "TZif2", 5);
    memset(p + 5, 0, 39);
    p += 44;
    memcpy(p, "TZif2", 5);
    memset(p + 5, 0, 15);
    p += 20;
    put32(&p, 0);
    put32(&p, 0);
    put32(&p, 0);
    put32(&p, (uint32_t)n);
    put32(&p, (uint32_t)ntypes);
    put32(&p, (uint32_t)nchars);
    for (int i = 0; i < n; i++) {
        put32(&p, (uint32_t)((uint64_t)times[i] >> 32));
        put32(&p, (uint32_t)times[i]);
    }
    for (int i = 0; i < n; i++)
        *p++ = idx[i];
    for (int i = 0; i < ntypes; i++) {
        put32(&p, (uint32_t)types[i].off);
        *p++ = (unsigned char)types[i].dst;
        *p++ = abbr_idx[i];
    }
    memcpy(p, chars, nchars);
    p += nchars;
    *p++ = '\n';
    memcpy(p, footer, strlen(footer));
    p += strlen(footer);
    *p++ = '\n';
    return (size_t)(p - buf);
}

/* Compares two loaded zones at instants in [from, to). */
static void expect_same_zone(const struct px_tz *a, const struct px_tz *b, int64_t from, int64_t to,
                             int64_t step)
{
    for (int64_t t = from; t < to; t += step) {
        const char *aa, *ab;
        bool da, db;
        int32_t oa = px_tz_offset_at(a, t, &aa, &da), ob = px_tz_offset_at(b, t, &ab, &db);
        if (oa != ob || da != db || strcmp(aa, ab) != 0)
            fail_msg("%s vs %s at %lld: %d %s vs %d %s", px_tz_name(a), px_tz_name(b), (long long)t,
                     (int)oa, aa, (int)ob, ab);
    }
}

static void test_footer_only_files(void **state)
{
    (void)state;
    unsigned char buf[4096];
    static const struct syn_type est = {-5 * HOUR, 0, "EST"};
    char sys[512];
    const char *root =
        getenv("TZDIR") && *getenv("TZDIR") ? getenv("TZDIR") : "/usr/share/zoneinfo";
    size_t len;

    /* No transitions: the footer alone decides. Compare with the real zone since 2007. */
    len = build_tzif(buf, NULL, NULL, 0, &est, 1, "EST5EDT,M3.2.0,M11.1.0");
    write_file("SlimNY", buf, len);
    /* One transition in 2000 and the footer after it (the slim-file shape). */
    static const int64_t t2000[] = {946684800};
    static const unsigned char i0[] = {0};
    len = build_tzif(buf, t2000, i0, 1, &est, 1, "EST5EDT,M3.2.0,M11.1.0");
    write_file("SlimNY2", buf, len);
    snprintf(sys, sizeof(sys), "%s/America/New_York", root);
    unsigned char *real = read_all(sys, &len);
    write_file("FatNY", real, len);
    free(real);

    struct px_tz *slim = load_ok("SlimNY"), *slim2 = load_ok("SlimNY2"), *fat = load_ok("FatNY");
    expect_same_zone(slim, fat, civil(2008, 1, 1, 0, 0, 0), civil(2045, 1, 1, 0, 0, 0), HOUR + 13);
    expect_same_zone(slim2, fat, civil(2008, 1, 1, 0, 0, 0), civil(2045, 1, 1, 0, 0, 0), HOUR + 13);
    expect_same_zone(slim, slim2, civil(2000, 1, 1, 0, 0, 0), civil(2200, 1, 1, 0, 0, 0),
                     DAY / 3 + 1);
    /* Beyond the expanded table and across 400-year cycles. */
    expect_same_zone(slim, fat, civil(3000, 1, 1, 0, 0, 0), civil(3001, 1, 1, 0, 0, 0), HOUR + 13);
    assert_int_equal(px_tz_offset_at(slim, civil(12026, 7, 1, 0, 0, 0), NULL, NULL), -4 * HOUR);
    assert_int_equal(px_tz_offset_at(slim, civil(-3000, 1, 1, 0, 0, 0), NULL, NULL), -5 * HOUR);
    int64_t out[2];
    assert_int_equal(px_tz_local_to_utc(slim, civil(2026, 3, 8, 2, 30, 0), out), 0);
    assert_int_equal(out[0], civil(2026, 3, 8, 7, 0, 0));
    assert_int_equal(px_tz_local_to_utc(slim, civil(9999, 11, 7, 1, 30, 0), out), 2);
    assert_int_equal(out[0], civil(9999, 11, 7, 5, 30, 0));
    px_tz_free(slim);
    px_tz_free(slim2);
    px_tz_free(fat);

    /* Quoted names, minutes, southern hemisphere (Lord Howe's footer). */
    static const struct syn_type lh = {37800, 0, "+1030"};
    len = build_tzif(buf, NULL, NULL, 0, &lh, 1, "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
    write_file("LH", buf, len);
    struct px_tz *z = load_ok("LH");
    const char *abbr;
    bool dst;
    assert_int_equal(px_tz_offset_at(z, civil(2026, 1, 1, 0, 0, 0), &abbr, &dst), 11 * HOUR);
    assert_string_equal(abbr, "+11");
    assert_true(dst);
    assert_int_equal(px_tz_offset_at(z, civil(2026, 6, 1, 0, 0, 0), &abbr, &dst), 37800);
    assert_string_equal(abbr, "+1030");
    assert_false(dst);
    /* DST ends 2026-04-05 02:00 local +11 = 2026-04-04 15:00Z. */
    assert_int_equal(px_tz_offset_at(z, civil(2026, 4, 4, 14, 59, 59), NULL, NULL), 11 * HOUR);
    assert_int_equal(px_tz_offset_at(z, civil(2026, 4, 4, 15, 0, 0), NULL, NULL), 37800);
    px_tz_free(z);

    /* v3 times: negative (-1 = 23:00 the day before) and 24+ hours; Nuuk since 2024. */
    static const struct syn_type nuuk = {-2 * HOUR, 0, "-02"};
    len = build_tzif(buf, NULL, NULL, 0, &nuuk, 1, "<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    write_file("Nuuk", buf, len);
    z = load_ok("Nuuk");
    /* Last Sunday of March 2026 is the 29th; -1 means Saturday 28th 23:00 local (-02). */
    assert_int_equal(px_tz_offset_at(z, civil(2026, 3, 29, 0, 59, 59), NULL, NULL), -2 * HOUR);
    assert_int_equal(px_tz_offset_at(z, civil(2026, 3, 29, 1, 0, 0), NULL, NULL), -1 * HOUR);
    px_tz_free(z);

    static const struct syn_type x = {-3 * HOUR, 0, "XST"};
    /* "/26": 26:00 = 02:00 the next day. J60 is always March 1; 59 (zero-based) is Feb 29 in
     * leap years. */
    len = build_tzif(buf, NULL, NULL, 0, &x, 1, "XST3XDT,J60/26,J300");
    write_file("Jul", buf, len);
    len = build_tzif(buf, NULL, NULL, 0, &x, 1, "XST3XDT,59/0,299");
    write_file("Zero", buf, len);
    z = load_ok("Jul");
    /* 2024-03-02 02:00 local -03 = 05:00Z. */
    assert_int_equal(px_tz_offset_at(z, civil(2024, 3, 2, 4, 59, 59), NULL, NULL), -3 * HOUR);
    assert_int_equal(px_tz_offset_at(z, civil(2024, 3, 2, 5, 0, 0), NULL, NULL), -2 * HOUR);
    assert_int_equal(px_tz_offset_at(z, civil(2023, 3, 2, 5, 0, 0), NULL, NULL), -2 * HOUR);
    /* Ends J300 02:00 local DST: day 300 of a non-leap count is October 27. */
    assert_int_equal(px_tz_offset_at(z, civil(2024, 10, 27, 3, 59, 59), NULL, NULL), -2 * HOUR);
    assert_int_equal(px_tz_offset_at(z, civil(2024, 10, 27, 4, 0, 0), NULL, NULL), -3 * HOUR);
    px_tz_free(z);
    z = load_ok("Zero");
    /* 2024 is leap: day 59 = Feb 29, 00:00 local -03 = 03:00Z; 2023: day 59 = March 1. */
    assert_int_equal(px_tz_offset_at(z, civil(2024, 2, 29, 2, 59, 59), NULL, NULL), -3 * HOUR);
    assert_int_equal(px_tz_offset_at(z, civil(2024, 2, 29, 3, 0, 0), NULL, NULL), -2 * HOUR);
    assert_int_equal(px_tz_offset_at(z, civil(2023, 3, 1, 2, 59, 59), NULL, NULL), -3 * HOUR);
    assert_int_equal(px_tz_offset_at(z, civil(2023, 3, 1, 3, 0, 0), NULL, NULL), -2 * HOUR);
    px_tz_free(z);

    /* DST all year ("EST5EDT4,0/0,J365/25", as zic writes it). */
    len = build_tzif(buf, NULL, NULL, 0, &est, 1, "EST5EDT4,0/0,J365/25");
    write_file("AllDST", buf, len);
    z = load_ok("AllDST");
    for (int64_t t = civil(2020, 1, 1, 0, 0, 0); t < civil(2030, 1, 1, 0, 0, 0); t += DAY / 2 + 1)
        assert_int_equal(px_tz_offset_at(z, t, NULL, &dst), -4 * HOUR);
    assert_int_equal(px_tz_offset_at(z, civil(2027, 1, 1, 4, 0, 0), &abbr, &dst), -4 * HOUR);
    assert_true(dst);
    px_tz_free(z);

    /* Fixed offset footer, with transitions before. */
    static const struct syn_type two[] = {{3600, 0, "AAA"}, {7200, 0, "BBB"}};
    static const int64_t t1[] = {0, 1000000};
    static const unsigned char i1[] = {0, 1};
    len = build_tzif(buf, t1, i1, 2, two, 2, "BBB-2");
    write_file("Fixed", buf, len);
    z = load_ok("Fixed");
    assert_int_equal(px_tz_offset_at(z, -5, &abbr, NULL), 3600); /* type 0 before the first */
    assert_int_equal(px_tz_offset_at(z, 999999, NULL, NULL), 3600);
    assert_int_equal(px_tz_offset_at(z, 1000000, &abbr, NULL), 7200);
    assert_string_equal(abbr, "BBB");
    assert_int_equal(px_tz_offset_at(z, INT64_MAX, NULL, NULL), 7200);
    px_tz_free(z);
}

/* Footers whose DST periods overlap across years (the fuzz_tz finding, now
 * tests/fuzz/corpus/tz/regress-*): offsets, the transition walk and local→UTC must agree. */
static void test_overlapping_footers(void **state)
{
    (void)state;
    unsigned char buf[4096];
    static const struct syn_type est2 = {-2 * HOUR, 0, "EST"}, aaa = {0, 0, "AAA"};
    size_t len = build_tzif(buf, NULL, NULL, 0, &est2, 1, "EST2EDT4,0/0,J365/25");
    write_file("Behind", buf, len);
    len = build_tzif(buf, NULL, NULL, 0, &aaa, 1, "AAA0BBB-1,M1.1.0/-67,M12.5.6/164");
    write_file("Overlap", buf, len);
    static const char *const names[] = {"Behind", "Overlap"};
    static const int64_t from[] = {-5364662400LL /* 1800 */, -2208988800LL /* 1900 */, -3 * DAY,
                                   1767225600LL /* 2026 */, 4260211200LL /* 2105 */};
    for (size_t z = 0; z < 2; z++) {
        struct px_tz *tz = load_ok(names[z]);
        for (size_t k = 0; k < sizeof(from) / sizeof(from[0]); k++) {
            /* Walk transitions over ~3 years: each reports the offset then in force, and the
             * offset is constant between them. */
            int64_t t = from[k], at;
            int32_t off;
            int32_t cur = px_tz_offset_at(tz, t, NULL, NULL);
            while (px_tz_next_transition(tz, t, &at, &off, NULL, NULL) &&
                   at < from[k] + 3 * 366 * DAY) {
                assert_true(at > t);
                assert_int_equal(px_tz_offset_at(tz, at - 1, NULL, NULL), cur);
                assert_int_equal(px_tz_offset_at(tz, at, NULL, NULL), off);
                cur = off;
                t = at;
            }
            /* Every local time maps back. */
            for (int64_t l = from[k] - 2 * DAY; l < from[k] + 400 * DAY; l += 1800 + 7) {
                int64_t out[2];
                int n = px_tz_local_to_utc(tz, l, out);
                for (int i = 0; i < n; i++)
                    if (out[i] + px_tz_offset_at(tz, out[i], NULL, NULL) != l)
                        fail_msg("%s: local %lld -> %lld does not map back", names[z], (long long)l,
                                 (long long)out[i]);
            }
        }
        px_tz_free(tz);
    }
    /* The two crash examples from tests/fuzz/crashes/README.md. */
    struct px_tz *tz = load_ok("Behind");
    int64_t out[2];
    assert_int_equal(px_tz_offset_at(tz, -1, NULL, NULL), px_tz_offset_at(tz, 0, NULL, NULL));
    int n = px_tz_local_to_utc(tz, -1, out);
    for (int i = 0; i < n; i++)
        assert_int_equal(out[i] + px_tz_offset_at(tz, out[i], NULL, NULL), -1);
    px_tz_free(tz);
}

/* px_tz_next_transition on a real zone. */
static void test_next_transition(void **state)
{
    (void)state;
    struct px_tz *tz = load_ok("America/New_York");
    int64_t at;
    int32_t off;
    bool dst;
    const char *abbr;
    assert_true(px_tz_next_transition(tz, civil(2026, 1, 1, 0, 0, 0), &at, &off, &dst, &abbr));
    assert_int_equal(at, civil(2026, 3, 8, 7, 0, 0));
    assert_int_equal(off, -4 * HOUR);
    assert_true(dst);
    assert_string_equal(abbr, "EDT");
    assert_true(px_tz_next_transition(tz, at, &at, &off, &dst, NULL));
    assert_int_equal(at, civil(2026, 11, 1, 6, 0, 0));
    assert_int_equal(off, -5 * HOUR);
    assert_false(dst);
    /* Past the expanded table (2100): the footer. */
    assert_true(px_tz_next_transition(tz, civil(2150, 6, 1, 0, 0, 0), &at, NULL, NULL, NULL));
    assert_int_equal(at, civil(2150, 11, 1, 6, 0, 0)); /* first Sunday of November 2150 */
    px_tz_free(tz);
    tz = load_ok("Asia/Kolkata");
    assert_false(px_tz_next_transition(tz, civil(2026, 1, 1, 0, 0, 0), &at, &off, NULL, NULL));
    px_tz_free(tz);
}

/* Files that are not zones, or damaged ones, are refused without crashing. */
static void test_bad_files(void **state)
{
    (void)state;
    unsigned char buf[4096];
    static const struct syn_type est = {-5 * HOUR, 0, "EST"};
    size_t len;

    write_file("Text", "hello, world\n", 13);
    expect_unknown("Text");
    write_file("Empty", "", 0);
    expect_unknown("Empty");
    write_file("Magic", "TZif", 4);
    expect_unknown("Magic");
    char fifo[256];
    snprintf(fifo, sizeof(fifo), "%s/Fifo", tmpdir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    expect_unknown("Fifo"); /* must not block */
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/Dir", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    expect_unknown("Dir");

    static const char *const bad_footers[] = {
        "EST",                         /* no offset */
        "EST5EDT,M3.2.0",              /* one rule */
        "EST5EDT,M13.2.0,M11.1.0",     /* month 13 */
        "EST5EDT,M3.6.0,M11.1.0",      /* week 6 */
        "EST5EDT,M3.2.7,M11.1.0",      /* weekday 7 */
        "EST5EDT,J0,J100",             /* J is 1-based */
        "EST5EDT,366,100",             /* zero-based day beyond 365 */
        "EST5EDT,M3.2.0/168,M11.1.0",  /* time beyond 167 hours */
        "EST500",                      /* offset beyond 167 hours */
        "<+1030-10:30",                /* unterminated quote */
        "<+1>-1",                      /* too short a name */
        "EST5EDT,M3.2.0,M11.1.0 junk", /* trailing garbage */
        "ES5",                         /* too short */
    };
    for (size_t i = 0; i < sizeof(bad_footers) / sizeof(bad_footers[0]); i++) {
        len = build_tzif(buf, NULL, NULL, 0, &est, 1, bad_footers[i]);
        write_file("BadFooter", buf, len);
        struct px_tz *tz;
        struct px_error err;
        if (px_tz_load("BadFooter", &tz, &err) != -PX_EINVALID)
            fail_msg("footer '%s' accepted", bad_footers[i]);
        assert_non_null(strstr(err.message, "damaged"));
    }

    /* Structural damage. */
    static const struct syn_type two[] = {{3600, 0, "AAA"}, {7200, 0, "BBB"}};
    static const int64_t desc[] = {1000, 500};
    static const unsigned char ok_idx[] = {0, 1}, bad_idx[] = {0, 2};
    len = build_tzif(buf, desc, ok_idx, 2, two, 2, "");
    write_file("Desc", buf, len);
    expect_unknown("Desc");
    static const int64_t asc[] = {500, 1000};
    len = build_tzif(buf, asc, bad_idx, 2, two, 2, "");
    write_file("BadIdx", buf, len);
    expect_unknown("BadIdx");
    len = build_tzif(buf, NULL, NULL, 0, two, 0, "");
    write_file("NoTypes", buf, len);
    expect_unknown("NoTypes");
    static const struct syn_type huge = {200000, 0, "HUG"};
    len = build_tzif(buf, NULL, NULL, 0, &huge, 1, "");
    write_file("HugeOff", buf, len);
    expect_unknown("HugeOff");
    /* An empty footer is fine: the last type stays in force. */
    len = build_tzif(buf, asc, ok_idx, 2, two, 2, "");
    write_file("NoFooter", buf, len);
    struct px_tz *tz = load_ok("NoFooter");
    assert_int_equal(px_tz_offset_at(tz, INT64_MAX, NULL, NULL), 7200);
    assert_int_equal(px_tz_offset_at(tz, INT64_MIN, NULL, NULL), 3600);
    int64_t out[2];
    assert_int_equal(px_tz_local_to_utc(tz, INT64_MAX, out), 1);
    assert_int_equal(px_tz_local_to_utc(tz, INT64_MIN, out), 1);
    px_tz_free(tz);
    /* A v1-only file (version byte 0, 32-bit times). */
    unsigned char v1[44 + 4 + 1 + 6 + 4];
    memset(v1, 0, sizeof(v1));
    memcpy(v1, "TZif", 4);
    v1[35] = 1; /* timecnt */
    v1[39] = 1; /* typecnt */
    v1[43] = 4; /* charcnt */
    v1[44 + 3] = 100;
    v1[44 + 4] = 0;
    v1[44 + 5 + 2] = 0x0e; /* utoff 0x00000e10 = 3600 */
    v1[44 + 5 + 3] = 0x10;
    memcpy(v1 + 44 + 5 + 6, "ONE", 4);
    write_file("V1", v1, sizeof(v1));
    tz = load_ok("V1");
    assert_int_equal(px_tz_offset_at(tz, 1000, NULL, NULL), 3600);
    px_tz_free(tz);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Every truncation and many random corruptions of a real file: no crash, no leak. */
static void test_damaged_real_file(void **state)
{
    (void)state;
    char sys[512];
    const char *root =
        getenv("TZDIR") && *getenv("TZDIR") ? getenv("TZDIR") : "/usr/share/zoneinfo";
    size_t len;
    snprintf(sys, sizeof(sys), "%s/Australia/Lord_Howe", root);
    unsigned char *orig = read_all(sys, &len);
    unsigned char *buf = malloc(len);
    assert_non_null(buf);

    for (size_t cut = 0; cut < len; cut++) {
        write_file("Cut", orig, cut);
        expect_unknown("Cut");
    }
    int loaded = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, orig, len);
        int flips = 1 + (int)(rng() % 4);
        for (int k = 0; k < flips; k++) {
            size_t at;
            /* Aim half of the corruptions at the header counts of either block. */
            if (rng() % 2)
                at = 20 + rng() % 24;
            else
                at = rng() % len;
            buf[at] = (unsigned char)rng();
        }
        write_file("Fuzz", buf, len);
        struct px_tz *tz = NULL;
        struct px_error err;
        if (px_tz_load("Fuzz", &tz, &err) == 0) {
            loaded++;
            for (int k = 0; k < 50; k++) {
                int64_t t = (int64_t)rng();
                if (k % 2)
                    t = (int64_t)(rng() % 4000000000u);
                int64_t out[2];
                (void)px_tz_offset_at(tz, t, NULL, NULL);
                int n = px_tz_local_to_utc(tz, t, out);
                assert_true(n >= 0 && n <= 2);
            }
            px_tz_free(tz);
        } else {
            assert_null(tz);
        }
    }
    assert_true(loaded > 0); /* the v1 block is skipped, so some corruptions are harmless */
    free(buf);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_glibc),
        cmocka_unit_test(test_local_to_utc),
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_footer_only_files, setup_tmpdir, teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_overlapping_footers, setup_tmpdir, teardown_tmpdir),
        cmocka_unit_test(test_next_transition),
        cmocka_unit_test_setup_teardown(test_bad_files, setup_tmpdir, teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_damaged_real_file, setup_tmpdir, teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
