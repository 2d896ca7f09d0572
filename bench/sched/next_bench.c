/*
 * Next-fire throughput (sched/next.h): 100,000 schedules, a realistic mix of expressions and
 * about 50 zones (zones loaded once and shared, as the scheduler does), each asked for its next
 * fire after a random instant in 2026-2027 (a fifth of them within a day before a DST change).
 * Prints the median of 5 runs in schedules/s and ns per schedule, for px_cron_next alone and
 * for px_cron_parse + px_cron_next. Usage: next_bench [schedules] [runs]
 */
#include "sched/cron.h"
#include "sched/next.h"
#include "base/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const zone_names[] = {
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Phoenix",
    "America/Anchorage",
    "America/Toronto",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "America/Santiago",
    "America/Bogota",
    "America/Havana",
    "America/St_Johns",
    "America/Halifax",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Warsaw",
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Kyiv",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Africa/Cairo",
    "Africa/Casablanca",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "Asia/Amman",
    "Asia/Jerusalem",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Apia",
};
#define NZONES (sizeof(zone_names) / sizeof(zone_names[0]))

/* Weighted toward what people write: daily/hourly/every-N-minutes, weekdays, monthly. */
static const char *const exprs[] = {
    "0 * * * *",   "*/5 * * * *",  "*/15 * * * *",      "0 0 * * *",    "30 2 * * *",
    "0 6 * * *",   "0 9 * * 1-5",  "30 8 * * MON",      "0 0 1 * *",    "15 3 * * 0",
    "0 */2 * * *", "0 */6 * * *",  "*/10 9-17 * * 1-5", "0 12 * * 6,0", "45 23 * * *",
    "0 0 1 1 *",   "@daily",       "@hourly",           "@weekly",      "0 1 15 * *",
    "5 4 * * *",   "0 22 * * 1-5", "0,30 * * * *",      "0 0 29 2 *",   "0 3 1-7 * 1",
};
#define NEXPRS (sizeof(exprs) / sizeof(exprs[0]))

struct sched {
    struct px_cron cron;
    const char *expr;
    const struct px_tz *tz;
    int64_t after;
};

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000, runs = argc > 2 ? atoi(argv[2]) : 5;
    if (n <= 0 || runs <= 0 || runs > 99)
        return 2;
    struct px_tz *zones[NZONES];
    for (size_t i = 0; i < NZONES; i++)
        if (px_tz_load(zone_names[i], &zones[i], NULL) != 0) {
            fprintf(stderr, "zone %s does not load\n", zone_names[i]);
            return 1;
        }
    struct sched *s = calloc((size_t)n, sizeof(*s));
    if (!s)
        return 1;
    for (int i = 0; i < n; i++) {
        s[i].expr = exprs[rng() % NEXPRS];
        if (px_cron_parse(s[i].expr, &s[i].cron, NULL) != 0)
            return 1;
        s[i].tz = zones[rng() % NZONES];
        s[i].after = 1767225600 + (int64_t)(rng() % (2 * 365 * 86400ULL)); /* 2026-2027 */
        int64_t tr;
        if (i % 5 == 0 && px_tz_next_transition(s[i].tz, s[i].after, &tr, NULL, NULL, NULL))
            s[i].after = tr - (int64_t)(rng() % 86400);
    }

    double t_next[99], t_both[99];
    int64_t sum = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        for (int i = 0; i < n; i++) {
            struct px_fire f;
            if (px_cron_next(&s[i].cron, s[i].tz, s[i].after, &f) == 0)
                sum += f.at - s[i].after;
        }
        double t1 = now_s();
        for (int i = 0; i < n; i++) {
            struct px_cron c;
            struct px_fire f;
            if (px_cron_parse(s[i].expr, &c, NULL) == 0 &&
                px_cron_next(&c, s[i].tz, s[i].after, &f) == 0)
                sum += f.at - s[i].after;
        }
        double t2 = now_s();
        t_next[r] = t1 - t0;
        t_both[r] = t2 - t1;
    }
    qsort(t_next, (size_t)runs, sizeof(double), cmp_double);
    qsort(t_both, (size_t)runs, sizeof(double), cmp_double);
    double mn = t_next[runs / 2], mb = t_both[runs / 2];
    printf("schedules %d, zones %zu, expressions %zu, runs %d (median; min/max in brackets)\n", n,
           NZONES, NEXPRS, runs);
    printf("px_cron_next:                 %.0f schedules/s, %.0f ns/schedule [%.0f..%.0f ns], "
           "%.1f ms for all\n",
           n / mn, mn / n * 1e9, t_next[0] / n * 1e9, t_next[runs - 1] / n * 1e9, mn * 1e3);
    printf("px_cron_parse + px_cron_next: %.0f schedules/s, %.0f ns/schedule [%.0f..%.0f ns], "
           "%.1f ms for all\n",
           n / mb, mb / n * 1e9, t_both[0] / n * 1e9, t_both[runs - 1] / n * 1e9, mb * 1e3);
    printf("(checksum %lld)\n", (long long)sum);
    for (size_t i = 0; i < NZONES; i++)
        px_tz_free(zones[i]);
    free(s);
    return 0;
}
