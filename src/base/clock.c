/* Injectable clock: see clock.h. */
#include "base/clock.h"

#include "base/civil.h"

#include <stdio.h>
#include <time.h>

static int64_t fake_ms = -1;

int64_t px_now_ms(void)
{
    if (fake_ms >= 0)
        return fake_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void px_clock_set(int64_t ms)
{
    fake_ms = ms;
}

void px_clock_advance(int64_t ms)
{
    if (fake_ms >= 0)
        fake_ms += ms;
}

int64_t px_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct timespec px_deadline_in_ms(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

/* Writes n decimal digits of v, zero-padded. */
static char *digits(char *p, int v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

void px_time_format(int64_t ms, char *out, unsigned size)
{
    /* Formatted by hand (base/civil.h): this runs for every time in every list page, where
     * gmtime_r + snprintf showed up in profiles. */
    if (size < 25 || ms < 0 || ms >= 253402300800000LL) {
        time_t secs = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
        return;
    }
    int64_t days = ms / 86400000, rem = ms % 86400000, y;
    int month, day;
    px_civil_from_days(days, &y, &month, &day);
    int year = (int)y;
    char *p = out;
    p = digits(p, year, 4);
    *p++ = '-';
    p = digits(p, month, 2);
    *p++ = '-';
    p = digits(p, day, 2);
    *p++ = 'T';
    p = digits(p, (int)(rem / 3600000), 2);
    *p++ = ':';
    p = digits(p, (int)(rem / 60000 % 60), 2);
    *p++ = ':';
    p = digits(p, (int)(rem / 1000 % 60), 2);
    *p++ = '.';
    p = digits(p, (int)(rem % 1000), 3);
    *p++ = 'Z';
    *p = '\0';
}
