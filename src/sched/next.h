/*
 * Next fire time of a cron schedule in an IANA time zone (DESIGN §3.8): the one place that
 * says what a schedule means across daylight-saving changes. Pure computation on an immutable
 * parsed expression (sched/cron.h) and an immutable zone (base/tz.h): thread-safe, no
 * allocation, a few hundred nanoseconds per call for everyday schedules.
 *
 * The contract (Vixie/ISC cron; test vectors in tests/cases/cron/next.txt carry these tags):
 *
 *  - Slots. A slot is a local civil date and time (minute resolution) that the five fields
 *    match. Months, days of the month and days of the week are evaluated on the local date;
 *    when both day fields are restricted a day matches if either matches (Vixie's OR), when
 *    either is '*' both must match.
 *
 *  - Fixed-time jobs (px_cron_is_fixed_time: neither the minute nor the hour field has '*' or
 *    a step; single values, lists and ranges of numbers count as fixed; @daily @weekly
 *    @monthly @yearly are fixed, @hourly is not):
 *      gap-fixed     a slot inside a spring-forward gap fires once, at the first instant after
 *                    the gap (the transition): 02:30 in New York on the spring day fires at
 *                    03:00 EDT. Flag PX_FIRE_MOVED.
 *      gap-merged    several slots in one gap (and a slot at the exact end of the gap) fire
 *                    once at that instant. Flags PX_FIRE_MOVED | PX_FIRE_MERGED; `local` is
 *                    the earliest of them.
 *      repeat-fixed  a slot in a repeated (fall-back) hour fires once, on the first pass (the
 *                    earlier instant). Flag PX_FIRE_REPEATED.
 *    This applies to any size of shift (also Samoa's skipped day), unlike Vixie's 3 h limit.
 *
 *  - Wildcard jobs ('*' or a step in the minute or hour field) follow the wall clock: they
 *    fire at every instant whose local time matches, so both passes of a repeated hour fire
 *    (repeat-wildcard, each flagged PX_FIRE_REPEATED) and nothing fires for local times inside
 *    a gap (gap-wildcard).
 *
 *  - The result is always strictly later than `after`, and successive calls with
 *    after = previous.at enumerate every fire exactly once, in order. `at` identifies the slot
 *    (the scheduler stores one row per (schedule, at)).
 *
 *  - Offsets need not be whole hours (Asia/Kolkata, Lord Howe's 30-minute DST), gaps and
 *    repeats may sit at midnight (America/Santiago), and instants past the zone's transition
 *    table follow its POSIX footer rule.
 */
#ifndef PX_SCHED_NEXT_H
#define PX_SCHED_NEXT_H

#include <stdint.h>

struct px_cron;
struct px_tz;

/* The nominal local time was in a spring-forward gap; the job fires at the gap's end. */
#define PX_FIRE_MOVED 1
/* More than one nominal slot fires at this one instant (several slots in one gap). */
#define PX_FIRE_MERGED 2
/* The nominal local time occurs twice (fall-back); see the rules above for which pass fires. */
#define PX_FIRE_REPEATED 4

/* How far ahead px_cron_next looks: 9 years covers every expression px_cron_parse accepts
 * (February 29 can be 8 years away across a century). */
#define PX_CRON_HORIZON_SECS ((int64_t)9 * 366 * 86400)

struct px_fire {
    int64_t at;    /* UTC instant it fires (seconds since the epoch); also the slot's identity */
    int64_t local; /* nominal local civil time of the slot (seconds since the epoch, as if the
                      local time were UTC); for a moved fire the time the expression names */
    int flags;     /* PX_FIRE_* */
};

/* The first fire of c in tz strictly after `after` (UTC seconds). Returns 0 and *out, or
 * -PX_ENOTFOUND when there is none within PX_CRON_HORIZON_SECS, or -PX_EINVALID when `after`
 * is beyond ±2^45 s (about a million years). *out is zeroed when nothing is returned. */
int px_cron_next(const struct px_cron *c, const struct px_tz *tz, int64_t after,
                 struct px_fire *out);

/* Previews: up to n (at most PX_CRON_PREVIEW_MAX) consecutive fires after `after` into out.
 * Returns how many were found (fewer than n when the horizon ends first), or -PX_EINVALID. */
#define PX_CRON_PREVIEW_MAX 10
int px_cron_next_n(const struct px_cron *c, const struct px_tz *tz, int64_t after, int n,
                   struct px_fire *out);

#endif
