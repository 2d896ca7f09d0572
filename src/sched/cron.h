/*
 * Cron expressions (DESIGN §3.8): 5 fields (minute hour day-of-month month day-of-week),
 * names (JAN..DEC, SUN..SAT), ranges, steps, lists, '*', '?' (as '*' in day fields), and the
 * macros @hourly @daily @midnight @weekly @monthly @yearly @annually. Day-of-week 0 and 7 are
 * both Sunday. When both day fields are restricted they combine with OR (Vixie).
 * This module only parses and describes; next-fire computation is in sched/next.h.
 */
#ifndef PX_SCHED_CRON_H
#define PX_SCHED_CRON_H

#include <stdbool.h>
#include <stdint.h>

struct px_error;

struct px_cron {
    uint64_t minutes;  /* bit m set: fires at minute m (0..59) */
    uint32_t hours;    /* bit h: hour 0..23 */
    uint32_t mdays;    /* bit d: day of month 1..31 */
    uint16_t months;   /* bit m: month 1..12 */
    uint8_t wdays;     /* bit w: day of week 0..6, 0 = Sunday */
    bool mday_star;    /* day-of-month field was '*' or '?' (unrestricted) */
    bool wday_star;    /* day-of-week field was '*' or '?' */
    bool minute_fixed; /* minute field is a single value (no '*', step, range or list) */
    bool hour_fixed;   /* hour field is a single value */
    bool minute_wild;  /* minute field has '*' or a step ('/') in some item: a wildcard job */
    bool hour_wild;    /* hour field has '*' or a step in some item */
};

/* True for a fixed-time job (DESIGN §3.8, sched/next.h): neither the minute nor the hour field
 * has '*' or a step; single values, lists and ranges of numbers count as fixed. */
static inline bool px_cron_is_fixed_time(const struct px_cron *c)
{
    return !c->minute_wild && !c->hour_wild;
}

/* Parses expr. Returns 0, or -PX_EINVALID with a message naming the field, its position, the
 * offending token and the problem ("minute field (field 1 of 5): '61' is out of range 0-59"),
 * and a hint with an example; *out is then all zero. err may be NULL. */
int px_cron_parse(const char *expr, struct px_cron *out, struct px_error *err);

#endif
