/*
 * Next fire time of a cron schedule in a time zone (the contract is in next.h).
 *
 * How: walk forward in UTC through the zone's pieces of constant UT offset (between two
 * transitions). Inside a piece [s, e) with offset o the wall clock runs from s+o to e+o
 * without jumps, so the first matching local minute L in that range fires at L-o; the search
 * for L goes month by month and day by day on the local calendar with the field bit sets (never
 * by adding 86400 s to an instant). Every instant whose wall clock matches is found this way,
 * which is exactly the wildcard rule. Fixed-time jobs then (a) drop a match that is the second
 * pass of a repeated local time (px_tz_local_to_utc gives the earlier instant first), and (b)
 * at a forward transition look for slots in the skipped local range and fire them once at the
 * transition instant.
 */
#include "sched/next.h"

#include "base/civil.h"
#include "base/err.h"
#include "sched/cron.h"
#include "base/tz.h"

#include <stdbool.h>
#include <string.h>

#define MINUTE 60
#define DAY 86400
#define AFTER_LIMIT ((int64_t)1 << 45)

/* Smallest set bit of mask at or above `from` (mask has bits below 64), or -1. */
static int next_bit(uint64_t mask, int from)
{
    if (from >= 64)
        return -1;
    mask >>= from;
    return mask ? from + __builtin_ctzll(mask) : -1;
}

static bool day_matches(const struct px_cron *c, int d, int64_t day)
{
    int wd = (int)(((day + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
    bool dom = (c->mdays >> d) & 1, dow = (c->wdays >> wd) & 1;
    if (c->mday_star || c->wday_star)
        return dom && dow;
    return dom || dow;
}

/*
 * The smallest local time L (a whole minute) with from <= L < until that c matches, in local
 * seconds. Returns false when there is none.
 */
static bool find_local(const struct px_cron *c, int64_t from, int64_t until, int64_t *out)
{
    if (from >= until)
        return false;
    int64_t start = px_floor_div(from + MINUTE - 1, MINUTE) * MINUTE;
    int64_t day = px_floor_div(start, DAY);
    int secs = (int)(start - day * DAY);
    int hh = secs / 3600, mm = (secs % 3600) / 60;
    int64_t y;
    int m, d;
    px_civil_from_days(day, &y, &m, &d);

    while (day * DAY < until) {
        if (!((c->months >> m) & 1)) { /* skip to the first of the next month */
            day += px_month_days(y, m) - d + 1;
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
            hh = mm = 0;
            continue;
        }
        if (day_matches(c, d, day)) {
            for (;;) {
                int h = next_bit(c->hours, hh);
                if (h < 0)
                    break;
                if (h != hh)
                    mm = 0;
                int mi = next_bit(c->minutes, mm);
                if (mi < 0) {
                    hh = h + 1;
                    mm = 0;
                    continue;
                }
                int64_t l = day * DAY + h * 3600 + mi * MINUTE;
                if (l >= until)
                    return false;
                *out = l;
                return true;
            }
        }
        day++;
        hh = mm = 0;
        if (++d > px_month_days(y, m)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    return false;
}

/* The fire at transition e for the first gap slot l; gap_end is the local time at e (a slot
 * there fires at e anyway, so it merges). */
static void fire_gap(const struct px_cron *c, int64_t e, int64_t l, int64_t gap_end,
                     struct px_fire *out)
{
    int64_t l2;
    out->at = e;
    out->local = l;
    out->flags = PX_FIRE_MOVED;
    if (find_local(c, l + MINUTE, gap_end + 1, &l2))
        out->flags |= PX_FIRE_MERGED;
}

int px_cron_next(const struct px_cron *c, const struct px_tz *tz, int64_t after,
                 struct px_fire *out)
{
    memset(out, 0, sizeof(*out));
    if (after < -AFTER_LIMIT || after > AFTER_LIMIT)
        return -PX_EINVALID;
    bool fixed = px_cron_is_fixed_time(c);
    int64_t limit = after + PX_CRON_HORIZON_SECS; /* UTC end of the search */
    int64_t s = after + 1; /* start of the current piece (or of the search) */
    int32_t o = px_tz_offset_at(tz, s, NULL, NULL);
    int32_t o_before = px_tz_offset_at(tz, after, NULL, NULL);
    int64_t l;

    /* The search may start exactly at a forward transition: its gap fires there. */
    if (fixed && o > o_before && find_local(c, s + o_before, s + o, &l)) {
        fire_gap(c, s, l, s + o, out);
        return 0;
    }
    while (s < limit) {
        int64_t e;
        int32_t o_next = o;
        bool more = px_tz_next_transition(tz, s, &e, &o_next, NULL, NULL);
        if (!more || e > limit)
            e = limit;

        /* Slots the wall clock shows in [s, e). */
        int64_t from = s + o, two[2];
        while (find_local(c, from, e + o, &l)) {
            int n = px_tz_local_to_utc(tz, l, two);
            if (fixed && (n == 0 || two[0] != l - o)) {
                from = l + MINUTE; /* second pass of a repeated time: the first one fired */
                continue;
            }
            out->at = l - o;
            out->local = l;
            out->flags = n == 2 ? PX_FIRE_REPEATED : 0;
            return 0;
        }
        if (!more || e >= limit)
            break;

        /* A forward transition skips local [e+o, e+o_next): fixed slots there fire at e. */
        if (fixed && o_next > o && find_local(c, e + o, e + o_next, &l)) {
            fire_gap(c, e, l, e + o_next, out);
            return 0;
        }
        s = e;
        o = o_next;
    }
    return -PX_ENOTFOUND;
}

int px_cron_next_n(const struct px_cron *c, const struct px_tz *tz, int64_t after, int n,
                   struct px_fire *out)
{
    if (n < 0 || n > PX_CRON_PREVIEW_MAX)
        return -PX_EINVALID;
    for (int i = 0; i < n; i++) {
        int rc = px_cron_next(c, tz, after, &out[i]);
        if (rc == -PX_ENOTFOUND)
            return i;
        if (rc < 0)
            return rc;
        after = out[i].at;
    }
    return n;
}
