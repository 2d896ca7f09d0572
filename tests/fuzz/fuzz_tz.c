/*
 * Fuzz target: the TZif reader (src/base/tz.c). The input is written as the zone file
 * "Fuzz/Zone" under a private PLANASONIX_TZDIR (one directory and one file name, reused for
 * every input; the file is removed again once loaded) and loaded with px_tz_load; a loaded
 * zone is then asked for offsets and local→UTC mappings at a fixed set of instants, from the
 * extremes of int64 through the years the transition table and the POSIX footer cover.
 *
 * Invariants besides memory safety: offsets stay within ±26 h, the abbreviation is a string,
 * px_tz_local_to_utc returns 0..2 instants in ascending order, and each instant it returns maps
 * back to the local time asked for (tz.h: "the number of instants the local time maps to");
 * px_tz_next_transition is strictly later and reports the offset px_tz_offset_at gives there;
 * px_cron_next (sched/next.h) on the zone finds a fire for a fixed-time and a wildcard job,
 * strictly later than the start, and asking again from one second before it gives the same
 * fire.
 */
#include "fuzz.h"

#include "base/err.h"
#include "sched/cron.h"
#include "sched/next.h"
#include "base/tz.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZONE "Fuzz/Zone"

static char dir[64];    /* the private tz root */
static char subdir[96]; /* dir/Fuzz */
static char path[128];  /* dir/Fuzz/Zone */
static pid_t owner;     /* the process that made dir (replay forks children) */

static void cleanup(void)
{
    if (getpid() != owner)
        return;
    unlink(path);
    rmdir(subdir);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "/tmp/px-fuzz-tz-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("fuzz_tz: mkdtemp");
        exit(1);
    }
    snprintf(subdir, sizeof(subdir), "%s/Fuzz", dir);
    snprintf(path, sizeof(path), "%s/" ZONE, dir);
    if (mkdir(subdir, 0700) != 0) {
        perror("fuzz_tz: mkdir");
        exit(1);
    }
    setenv("PLANASONIX_TZDIR", dir, 1);
    owner = getpid();
    atexit(cleanup);
    return 0;
}

static void write_zone(const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror("fuzz_tz: open");
        abort();
    }
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) {
            perror("fuzz_tz: write");
            abort();
        }
        done += (size_t)w;
    }
    close(fd);
}

static const int64_t instants[] = {
    INT64_MIN,
    INT64_MIN + 1,
    -((int64_t)1 << 62) - 1,
    -((int64_t)1 << 40),
    -5364662400LL, /* 1800-01-01 */
    -2208988800LL, /* 1900-01-01 */
    -1,
    0,
    1000000000LL,
    1710037800LL, /* 2024-03-10 02:30, a local time in the US spring-forward gap */
    1710054000LL, /* 2024-03-10 07:00 UTC, the US spring-forward */
    1730597400LL, /* 2024-11-03 01:30, a local time in the US fall-back overlap */
    1730613600LL, /* 2024-11-03 06:00 UTC, the US fall-back */
    1743865200LL, /* 2025-04-05 15:00 UTC, Lord Howe's half-hour fall-back */
    1743903900LL, /* 2025-04-06 01:45, a local time in Lord Howe's overlap */
    2147483647LL, /* the 32-bit limit */
    4102444800LL, /* 2100-01-01: the end of the expanded table */
    4260211200LL, /* 2105-01-01: footer evaluated directly */
    (int64_t)1 << 40,
    ((int64_t)1 << 62) + 1,
    INT64_MAX,
};

#define MAX_OFFSET (26 * 3600)
#define CHECKED ((int64_t)1 << 61) /* round trips are checked inside ±2^61 (no clamping) */

static void probe(const struct px_tz *tz, int64_t t)
{
    const char *abbr = NULL;
    bool dst = false;
    int32_t off = px_tz_offset_at(tz, t, &abbr, &dst);
    FUZZ_CHECK(off >= -MAX_OFFSET && off <= MAX_OFFSET);
    FUZZ_CHECK(abbr != NULL);
    FUZZ_CHECK(strlen(abbr) < 1024);
    FUZZ_CHECK(px_tz_offset_at(tz, t, NULL, NULL) == off);

    int64_t out[2] = {0, 0};
    int n = px_tz_local_to_utc(tz, t, out);
    FUZZ_CHECK(n >= 0 && n <= 2);
    if (n == 2)
        FUZZ_CHECK(out[0] < out[1]);
    if (t > -CHECKED && t < CHECKED)
        for (int i = 0; i < n; i++)
            FUZZ_CHECK(out[i] + px_tz_offset_at(tz, out[i], NULL, NULL) == t);

    int64_t at = 0;
    int32_t next_off = 0;
    if (px_tz_next_transition(tz, t, &at, &next_off, NULL, NULL) && t > -CHECKED && t < CHECKED) {
        FUZZ_CHECK(at > t);
        FUZZ_CHECK(px_tz_offset_at(tz, at, NULL, NULL) == next_off);
    }
}

/* Next fires of a fixed-time and a wildcard job in the zone, within the years next.c takes. */
static void probe_next(const struct px_tz *tz, int64_t t)
{
    static const char *const exprs[] = {"30 2 * * *", "*/30 * * * *"};
    for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
        struct px_cron c;
        struct px_fire f, g;
        FUZZ_CHECK(px_cron_parse(exprs[i], &c, NULL) == 0);
        FUZZ_CHECK(px_cron_next(&c, tz, t, &f) == 0);
        FUZZ_CHECK(f.at > t);
        FUZZ_CHECK(px_cron_next(&c, tz, f.at - 1, &g) == 0);
        FUZZ_CHECK(g.at == f.at && g.flags == f.flags);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_zone(data, size);
    struct px_tz *tz = NULL;
    struct px_error err;
    px_error_clear(&err);
    int rc = px_tz_load(ZONE, &tz, &err);
    unlink(path); /* so a crashed or killed run leaves at most two empty directories */
    if (rc != 0) {
        FUZZ_CHECK(rc < 0);
        FUZZ_CHECK(err.message[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(tz != NULL);
    FUZZ_CHECK(strcmp(px_tz_name(tz), ZONE) == 0);
    for (size_t i = 0; i < sizeof(instants) / sizeof(instants[0]); i++) {
        probe(tz, instants[i]);
        if (instants[i] > -CHECKED / 65536 && instants[i] < CHECKED / 65536)
            probe_next(tz, instants[i]);
    }
    px_tz_free(tz);
    return 0;
}
