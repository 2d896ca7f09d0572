/* stderr logging: see log.h. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum px_log_level min_level = PX_LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error", "off"};

void px_log_set_level(enum px_log_level level)
{
    min_level = level;
}

int px_log_level_parse(const char *name)
{
    for (int i = 0; i <= PX_LOG_OFF; i++)
        if (name && strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

void px_log(enum px_log_level level, const char *fmt, ...)
{
    if (level < min_level || level >= PX_LOG_OFF)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            names[level], line);
}
