/*
 * Calendar arithmetic on the proleptic Gregorian calendar, in days since 1970-01-01: the one
 * copy every module that turns dates into instants uses (the tz reader, cron next-fire times,
 * the expression language, database wire formats). The era/day-of-era method is the one
 * described by H. Hinnant ("chrono-Compatible Low-Level Date Algorithms"); it is exact for any
 * int64 day count that fits the arithmetic. Inline: these sit in hot loops.
 */
#ifndef PX_BASE_CIVIL_H
#define PX_BASE_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

/* a / b rounded toward negative infinity (b > 0). */
static inline int64_t px_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static inline bool px_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days in month m (1-12) of year y. */
static inline int px_month_days(int64_t y, int m)
{
    static const int n[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && px_is_leap(y) ? 29 : n[m];
}

/* Days from 1970-01-01 to y-m-d (m 1-12, d 1-31). */
static inline int64_t px_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = px_floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The date of day z (days since 1970-01-01). */
static inline void px_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = px_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

#endif
