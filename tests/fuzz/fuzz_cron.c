/*
 * Fuzz target: cron expressions (src/sched/cron.c). The input, NUL-terminated, goes to
 * px_cron_parse. Invariants checked besides memory safety: a parsed expression only sets bits
 * inside each field's range and sets at least one per field; a refused one leaves *out all
 * zero and carries a message and a hint (cron.h). An accepted expression fires (px_cron_next
 * in UTC, from a few instants): strictly later, at a local time its fields match, and never
 * "no fire" (the parser refuses expressions that cannot fire).
 */
#include "fuzz.h"

#include "base/err.h"
#include "sched/cron.h"
#include "sched/next.h"
#include "base/tz.h"

#include <string.h>
#include <time.h>

/* Field by field (memcmp would also compare padding). */
static bool same(const struct px_cron *a, const struct px_cron *b)
{
    return a->minutes == b->minutes && a->hours == b->hours && a->mdays == b->mdays &&
           a->months == b->months && a->wdays == b->wdays && a->mday_star == b->mday_star &&
           a->wday_star == b->wday_star && a->minute_fixed == b->minute_fixed &&
           a->hour_fixed == b->hour_fixed && a->minute_wild == b->minute_wild &&
           a->hour_wild == b->hour_wild;
}

/* The fields of c match the UTC civil time t (a whole minute). */
static bool matches_utc(const struct px_cron *c, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    FUZZ_CHECK(gmtime_r(&tt, &tm) != NULL);
    if (!((c->minutes >> tm.tm_min) & 1) || !((c->hours >> tm.tm_hour) & 1) ||
        !((c->months >> (tm.tm_mon + 1)) & 1))
        return false;
    bool dom = (c->mdays >> tm.tm_mday) & 1, dow = (c->wdays >> tm.tm_wday) & 1;
    return (c->mday_star || c->wday_star) ? dom && dow : dom || dow;
}

static void check_next(const struct px_cron *c)
{
    static struct px_tz *utc;
    static const int64_t starts[] = {0, 951782400 /* 2000-02-29 */, 4102444799 /* 2099-12-31 */};
    if (!utc && px_tz_load("UTC", &utc, NULL) != 0)
        return; /* no tz database here: nothing to check against */
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
        struct px_fire f;
        FUZZ_CHECK(px_cron_next(c, utc, starts[i], &f) == 0);
        FUZZ_CHECK(f.at > starts[i] && f.at % 60 == 0 && f.flags == 0 && f.local == f.at);
        FUZZ_CHECK(matches_utc(c, f.at));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0; /* expressions are short; longer inputs only slow the search down */
    char *expr = malloc(size + 1);
    if (!expr)
        abort();
    memcpy(expr, data, size);
    expr[size] = '\0';

    struct px_cron c = {.minutes = ~0ull, .hours = ~0u, .mday_star = true};
    struct px_error err;
    px_error_clear(&err);
    int rc = px_cron_parse(expr, &c, &err);
    if (rc == 0) {
        FUZZ_CHECK(c.minutes != 0 && c.minutes >> 60 == 0);
        FUZZ_CHECK(c.hours != 0 && c.hours >> 24 == 0);
        FUZZ_CHECK(c.mdays != 0 && (c.mdays & 1) == 0);
        FUZZ_CHECK(c.months != 0 && (c.months & 1) == 0 && c.months >> 13 == 0);
        FUZZ_CHECK(c.wdays != 0 && c.wdays >> 7 == 0);
        FUZZ_CHECK(err.code == 0);
        check_next(&c);
    } else {
        static const struct px_cron zero;
        FUZZ_CHECK(rc == -PX_EINVALID && err.code == PX_EINVALID);
        FUZZ_CHECK(same(&c, &zero));
        FUZZ_CHECK(err.message[0] != '\0' && err.hint[0] != '\0');
        FUZZ_CHECK(memchr(err.message, '\0', sizeof(err.message)) != NULL);
    }
    /* NULL err must be accepted too. */
    struct px_cron c2;
    FUZZ_CHECK(px_cron_parse(expr, &c2, NULL) == rc);
    FUZZ_CHECK(same(&c, &c2));
    free(expr);
    return 0;
}
