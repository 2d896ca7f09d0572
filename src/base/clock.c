/* Injectable clock: see clock.h. */
#include "base/clock.h"

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

void px_time_format(int64_t ms, char *out, unsigned size)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}
