/*
 * The tz reader (src/base/tz.c) against glibc, for every zone in the system tz database and
 * every transition from 2026 through 2030.
 *
 * The oracle is this binary re-executed with "--oracle" in a child process, one per zone, with
 * TZ=":Zone" (and TZDIR) in the child's environment only: the test process never touches TZ.
 * The child answers one query a line on stdin (see oracle_main): localtime_r of an instant,
 * mktime of a civil time with a given tm_isdst, or a scan that finds glibc's transitions
 * (sampling every SCAN_STEP seconds and bisecting each change of offset, DST flag or
 * abbreviation down to the second).
 *
 * Per zone the test checks:
 *  - the transition list: the instants in [2026-01-01, 2031-01-01) UTC where our type
 *    (offset, DST, abbreviation) changes equal glibc's, one for one;
 *  - at T-1, T and T+1 of each transition, offset, DST flag and abbreviation agree;
 *  - local→UTC for local times just before, at the edges of and just after the skipped or
 *    repeated local range of each transition:
 *      * a local time that exists once: our single instant equals glibc mktime(tm_isdst=-1);
 *      * a repeated local time: we give 2 instants, one before and one at/after T, and glibc
 *        localtime_r maps both back to that local time; glibc's mktime(tm_isdst=-1) returns
 *        one of them (which side it picks is counted and printed, not asserted: glibc's
 *        mktime starts from the offset its previous call found, so its pick depends on the
 *        order of queries); when the passes differ in DST flag, mktime with a pass's
 *        tm_isdst must return that pass;
 *      * a skipped local time: we give 0 and "first instant after the gap" = T (glibc's T);
 *        glibc agrees it is skipped: localtime_r(T-1) is before it, localtime_r(T) after it,
 *        and the instant glibc's mktime(tm_isdst=-1) picks does not show it either.
 *    The expected kind (once, twice, skipped) comes from glibc's offsets around T.
 *  - zones without transitions in the window: offsets at three instants and a local noon.
 * Prints the tzdata version (tzdata.zi) and a summary line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/tz.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FROM 1767225600LL /* 2026-01-01T00:00:00Z */
#define TO 1924992000LL   /* 2031-01-01T00:00:00Z */
#define SCAN_STEP 10800   /* 3 h: no two real transitions are this close */
#define MAX_ZONES 2048
#define MAX_TRANS 64
#define MAX_FAILS 40 /* failures printed in full; all are counted */

/* ---- the oracle (child) ---- */

struct gl {
    long gmtoff;
    int isdst;
    char abbr[16];
};

static void gl_at(int64_t t, struct gl *g)
{
    time_t tt = (time_t)t;
    struct tm tm;
    memset(g, 0, sizeof(*g));
    if (!localtime_r(&tt, &tm))
        return;
    g->gmtoff = tm.tm_gmtoff;
    g->isdst = tm.tm_isdst > 0;
    snprintf(g->abbr, sizeof(g->abbr), "%s", tm.tm_zone ? tm.tm_zone : "");
}

static bool gl_same(const struct gl *a, const struct gl *b)
{
    return a->gmtoff == b->gmtoff && a->isdst == b->isdst && strcmp(a->abbr, b->abbr) == 0;
}

/* Queries: "L t" → "gmtoff isdst abbr"; "M y mo d h mi s isdst" → mktime's instant;
 * "S from to step" → "T at" per change, then "END"; "Q" → exit. */
static int oracle_main(void)
{
    char line[256];
    tzset();
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    while (fgets(line, sizeof(line), stdin)) {
        long long a, b, c;
        int y, mo, d, h, mi, s, isdst;
        struct gl g;
        if (sscanf(line, "L %lld", &a) == 1) {
            gl_at(a, &g);
            printf("%ld %d %s\n", g.gmtoff, g.isdst, g.abbr[0] ? g.abbr : "-");
        } else if (sscanf(line, "M %d %d %d %d %d %d %d", &y, &mo, &d, &h, &mi, &s, &isdst) == 7) {
            struct tm tm = {0};
            tm.tm_year = y - 1900;
            tm.tm_mon = mo - 1;
            tm.tm_mday = d;
            tm.tm_hour = h;
            tm.tm_min = mi;
            tm.tm_sec = s;
            tm.tm_isdst = isdst;
            printf("%lld\n", (long long)mktime(&tm));
        } else if (sscanf(line, "S %lld %lld %lld", &a, &b, &c) == 3) {
            struct gl prev, cur;
            gl_at(a, &prev);
            for (long long t = a + c; t < b + c; t += c) {
                gl_at(t, &cur);
                if (gl_same(&prev, &cur))
                    continue;
                long long lo = t - c, hi = t; /* prev at lo, changed at hi */
                while (hi - lo > 1) {
                    long long m = lo + (hi - lo) / 2;
                    struct gl mid;
                    gl_at(m, &mid);
                    if (gl_same(&mid, &prev))
                        lo = m;
                    else
                        hi = m;
                }
                if (hi >= a && hi < b)
                    printf("T %lld\n", hi);
                prev = cur;
            }
            printf("END\n");
        } else if (line[0] == 'Q') {
            break;
        } else {
            printf("?\n");
        }
        fflush(stdout);
    }
    return 0;
}

/* ---- the parent's side ---- */

struct child {
    pid_t pid;
    FILE *to, *from;
};

static const char *tz_root(void)
{
    const char *r = getenv("PLANASONIX_TZDIR");
    if (!r || !*r)
        r = getenv("TZDIR");
    return r && *r ? r : "/usr/share/zoneinfo";
}

static void child_start(struct child *ch, const char *zone)
{
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char tzv[512], dirv[4200];
        snprintf(tzv, sizeof(tzv), "TZ=:%s", zone);
        snprintf(dirv, sizeof(dirv), "TZDIR=%s", tz_root());
        const char *asan = getenv("ASAN_OPTIONS");
        char asanv[512];
        snprintf(asanv, sizeof(asanv), "ASAN_OPTIONS=%s", asan ? asan : "");
        char *envp[] = {tzv, dirv, asanv, NULL};
        char arg0[] = "test_tz_oracle", arg1[] = "--oracle";
        char *argv[] = {arg0, arg1, NULL};
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execve("/proc/self/exe", argv, envp);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    ch->pid = pid;
    ch->to = fdopen(in[1], "w");
    ch->from = fdopen(out[0], "r");
    assert_non_null(ch->to);
    assert_non_null(ch->from);
}

static void child_stop(struct child *ch)
{
    int status = 0;
    fputs("Q\n", ch->to);
    fclose(ch->to);
    fclose(ch->from);
    assert_int_equal(waitpid(ch->pid, &status, 0), ch->pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void ask(struct child *ch, char *reply, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void ask(struct child *ch, char *reply, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(ch->to, fmt, ap);
    va_end(ap);
    fflush(ch->to);
    if (!fgets(reply, (int)size, ch->from))
        fail_msg("oracle child stopped answering");
    reply[strcspn(reply, "\n")] = '\0';
}

static void ask_at(struct child *ch, int64_t t, struct gl *g)
{
    char r[128];
    ask(ch, r, sizeof(r), "L %" PRId64 "\n", t);
    memset(g, 0, sizeof(*g));
    if (sscanf(r, "%ld %d %15s", &g->gmtoff, &g->isdst, g->abbr) != 3)
        fail_msg("oracle: bad reply '%s'", r);
    if (strcmp(g->abbr, "-") == 0)
        g->abbr[0] = '\0';
}

/* glibc mktime of the local civil time l (seconds as if UTC) with tm_isdst = isdst. */
static int64_t ask_mktime(struct child *ch, int64_t l, int isdst)
{
    time_t tt = (time_t)l;
    struct tm tm;
    char r[64];
    gmtime_r(&tt, &tm); /* plain calendar arithmetic: l is "local as if UTC" */
    ask(ch, r, sizeof(r), "M %d %d %d %d %d %d %d\n", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
        tm.tm_hour, tm.tm_min, tm.tm_sec, isdst);
    return strtoll(r, NULL, 10);
}

/* ---- counters and failures ---- */

static struct {
    int zones, zones_static, transitions, instants, locals, fails;
    int repeat_glibc_first, repeat_glibc_second, repeat_isdst_checked;
} st;

static void failure(const char *zone, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void failure(const char *zone, const char *fmt, ...)
{
    st.fails++;
    if (st.fails > MAX_FAILS)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    print_error("%s: %s\n", zone, buf);
}

static void ours_at(const struct px_tz *tz, int64_t t, struct gl *o)
{
    const char *abbr = NULL;
    bool dst = false;
    memset(o, 0, sizeof(*o));
    o->gmtoff = px_tz_offset_at(tz, t, &abbr, &dst);
    o->isdst = dst;
    snprintf(o->abbr, sizeof(o->abbr), "%s", abbr ? abbr : "");
}

static void check_instant(struct child *ch, const struct px_tz *tz, const char *zone, int64_t t)
{
    struct gl g, o;
    ask_at(ch, t, &g);
    ours_at(tz, t, &o);
    st.instants++;
    if (!gl_same(&g, &o))
        failure(zone, "at %" PRId64 ": glibc %ld %d %s, ours %ld %d %s", t, g.gmtoff, g.isdst,
                g.abbr, o.gmtoff, o.isdst, o.abbr);
}

/* want: 1 exists once, 2 repeated, 0 skipped (glibc's view); T the transition. */
static void check_local(struct child *ch, const struct px_tz *tz, const char *zone, int64_t l,
                        int want, int64_t T)
{
    int64_t out[2];
    int n = px_tz_local_to_utc(tz, l, out);
    st.locals++;
    if (n != want) {
        failure(zone, "local %" PRId64 " (T=%" PRId64 "): %d instants, glibc says %d", l, T, n,
                want);
        return;
    }
    int64_t m = ask_mktime(ch, l, -1);
    struct gl g;
    if (n == 1) {
        if (m != out[0])
            failure(zone, "local %" PRId64 ": ours %" PRId64 ", glibc mktime %" PRId64, l, out[0],
                    m);
    } else if (n == 2) {
        struct gl side[2];
        for (int i = 0; i < 2; i++) {
            ask_at(ch, out[i], &side[i]);
            if (out[i] + side[i].gmtoff != l)
                failure(zone,
                        "repeated local %" PRId64 ": instant %" PRId64 " shows %" PRId64
                        " under glibc",
                        l, out[i], out[i] + side[i].gmtoff);
        }
        /* When the two passes differ in DST flag, mktime with that flag picks that pass. */
        if (side[0].isdst != side[1].isdst) {
            st.repeat_isdst_checked++;
            for (int i = 0; i < 2; i++) {
                int64_t mi = ask_mktime(ch, l, side[i].isdst);
                if (mi != out[i])
                    failure(zone,
                            "repeated local %" PRId64 ": glibc mktime(isdst=%d) %" PRId64
                            ", ours %" PRId64,
                            l, side[i].isdst, mi, out[i]);
            }
        }
        if (!(out[0] < T && out[1] >= T))
            failure(zone,
                    "repeated local %" PRId64 ": instants %" PRId64 ", %" PRId64
                    " not on both sides of %" PRId64,
                    l, out[0], out[1], T);
        if (m == out[0])
            st.repeat_glibc_first++;
        else if (m == out[1])
            st.repeat_glibc_second++;
        else
            failure(zone, "repeated local %" PRId64 ": glibc mktime %" PRId64 " is neither", l, m);
    } else {
        if (out[0] != T)
            failure(zone,
                    "skipped local %" PRId64 ": first instant after the gap %" PRId64
                    ", glibc's transition %" PRId64,
                    l, out[0], T);
        struct gl before, after;
        ask_at(ch, T - 1, &before);
        ask_at(ch, T, &after);
        if (!(T - 1 + before.gmtoff < l && T + after.gmtoff > l))
            failure(zone, "skipped local %" PRId64 " is not skipped under glibc", l);
        ask_at(ch, m, &g);
        if (m + g.gmtoff == l)
            failure(zone, "skipped local %" PRId64 ": glibc mktime finds %" PRId64, l, m);
    }
}

static void check_zone(const char *zone)
{
    struct px_tz *tz = NULL;
    struct px_error err;
    px_error_clear(&err);
    if (px_tz_load(zone, &tz, &err) != 0) {
        failure(zone, "does not load: %s", err.message);
        return;
    }
    struct child ch;
    child_start(&ch, zone);
    st.zones++;

    /* glibc's transitions in the window. */
    int64_t gt[MAX_TRANS];
    int ng = 0;
    char r[128];
    ask(&ch, r, sizeof(r), "S %lld %lld %d\n", FROM, TO, SCAN_STEP);
    while (strcmp(r, "END") != 0) {
        long long t;
        if (sscanf(r, "T %lld", &t) != 1)
            fail_msg("%s: oracle: bad scan reply '%s'", zone, r);
        if (ng < MAX_TRANS)
            gt[ng++] = t;
        if (!fgets(r, sizeof(r), ch.from))
            fail_msg("%s: oracle stopped", zone);
        r[strcspn(r, "\n")] = '\0';
    }

    /* Ours: walk px_tz_next_transition, keep the real changes. */
    int64_t ot[MAX_TRANS], t = FROM;
    int no = 0;
    struct gl prev, cur;
    ours_at(tz, FROM, &prev);
    while (px_tz_next_transition(tz, t, &t, NULL, NULL, NULL) && t < TO) {
        ours_at(tz, t, &cur);
        if (!gl_same(&prev, &cur) && no < MAX_TRANS)
            ot[no++] = t;
        prev = cur;
    }
    bool same_list = no == ng;
    for (int i = 0; same_list && i < no; i++)
        same_list = ot[i] == gt[i];
    if (!same_list)
        failure(zone,
                "transitions 2026-2030: glibc %d (first %" PRId64 "), ours %d (first %" PRId64 ")",
                ng, ng ? gt[0] : 0, no, no ? ot[0] : 0);

    for (int i = 0; i < ng; i++) {
        int64_t T = gt[i];
        st.transitions++;
        for (int64_t d = -1; d <= 1; d++)
            check_instant(&ch, tz, zone, T + d);
        struct gl b, a;
        ask_at(&ch, T - 1, &b);
        ask_at(&ch, T, &a);
        int64_t ob = b.gmtoff, oa = a.gmtoff;
        if (oa > ob) { /* local [T+ob, T+oa) skipped */
            check_local(&ch, tz, zone, T + ob - 1, 1, T);
            check_local(&ch, tz, zone, T + ob, 0, T);
            check_local(&ch, tz, zone, T + (ob + oa) / 2, 0, T);
            check_local(&ch, tz, zone, T + oa - 1, 0, T);
            check_local(&ch, tz, zone, T + oa, 1, T);
        } else if (oa < ob) { /* local [T+oa, T+ob) repeated */
            check_local(&ch, tz, zone, T + oa - 1, 1, T);
            check_local(&ch, tz, zone, T + oa, 2, T);
            check_local(&ch, tz, zone, T + (ob + oa) / 2, 2, T);
            check_local(&ch, tz, zone, T + ob - 1, 2, T);
            check_local(&ch, tz, zone, T + ob, 1, T);
        } else {
            check_local(&ch, tz, zone, T + ob - 1, 1, T);
            check_local(&ch, tz, zone, T + ob, 1, T);
        }
    }
    if (ng == 0) {
        st.zones_static++;
        static const int64_t probes[] = {FROM, 1846411200LL /* 2028-07-06 */, TO - 1};
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
            check_instant(&ch, tz, zone, probes[i]);
        struct gl g;
        ask_at(&ch, 1846411200LL, &g);
        check_local(&ch, tz, zone, 1846411200LL + g.gmtoff, 1, 0);
    }
    child_stop(&ch);
    px_tz_free(tz);
}

/* ---- the zone list ---- */

static char *names[MAX_ZONES];
static int nnames;

static bool is_tzif(const char *path)
{
    char magic[4];
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    bool ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    fclose(f);
    return ok;
}

static void walk(const char *root, const char *rel)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[1024], path[4096];
        snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        if (!*rel && (strcmp(e->d_name, "posix") == 0 || strcmp(e->d_name, "right") == 0 ||
                      strcmp(e->d_name, "posixrules") == 0 || strcmp(e->d_name, "localtime") == 0))
            continue; /* leap-second and duplicate trees, the zic template, the host setting */
        snprintf(path, sizeof(path), "%s/%s", root, sub);
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode))
            walk(root, sub);
        else if (S_ISREG(sb.st_mode) && is_tzif(path) && nnames < MAX_ZONES)
            names[nnames++] = strdup(sub);
    }
    closedir(d);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_all_zones(void **state)
{
    (void)state;
    const char *root = tz_root();
    char path[4096], version[64] = "unknown";
    snprintf(path, sizeof(path), "%s/tzdata.zi", root);
    FILE *f = fopen(path, "r");
    if (f) {
        char line[128];
        if (fgets(line, sizeof(line), f) && strncmp(line, "# version ", 10) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(version, sizeof(version), "%.40s", line + 10);
        }
        fclose(f);
    }
    print_message("tz database %s, version %s\n", root, version);

    signal(SIGPIPE, SIG_IGN);
    walk(root, "");
    qsort(names, (size_t)nnames, sizeof(names[0]), cmp_names);
    assert_true(nnames > 300);
    for (int i = 0; i < nnames; i++) {
        check_zone(names[i]);
        free(names[i]);
    }
    print_message("tz oracle: %d zones (%d without transitions in 2026-2030), %d transitions, "
                  "%d instants and %d local times compared with glibc; glibc mktime(isdst=-1) "
                  "picked the first pass %d times, the second %d times; mktime with the pass's "
                  "tm_isdst checked for %d repeated times; %d failures\n",
                  st.zones, st.zones_static, st.transitions, st.instants, st.locals,
                  st.repeat_glibc_first, st.repeat_glibc_second, st.repeat_isdst_checked, st.fails);
    assert_true(st.transitions > 500);
    assert_int_equal(st.fails, 0);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--oracle") == 0)
        return oracle_main();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_zones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
