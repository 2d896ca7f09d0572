/* Process-wide cache of loaded time zones: see zones.h. */
#include "base/zones.h"

#include "base/err.h"
#include "base/mem.h"
#include "base/tz.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct px_tz **zones;
static size_t count, cap;

static void free_all(void)
{
    for (size_t i = 0; i < count; i++)
        px_tz_free(zones[i]);
    free(zones);
    zones = NULL;
    count = cap = 0;
}

const struct px_tz *px_zone_get(const char *name, struct px_error *err)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(px_tz_name(zones[i]), name) == 0) {
            const struct px_tz *z = zones[i];
            pthread_mutex_unlock(&lock);
            return z;
        }
    }
    pthread_mutex_unlock(&lock);
    /* Load outside the lock (file I/O); a racing loader of the same name wastes one load. */
    struct px_tz *z;
    if (px_tz_load(name, &z, err) < 0)
        return NULL;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(px_tz_name(zones[i]), name) == 0) {
            const struct px_tz *found = zones[i];
            pthread_mutex_unlock(&lock);
            px_tz_free(z);
            return found;
        }
    }
    if (count == cap) {
        if (!zones)
            atexit(free_all);
        cap = cap ? cap * 2 : 64;
        zones = px_xrealloc(zones, cap * sizeof(*zones));
    }
    zones[count++] = z;
    pthread_mutex_unlock(&lock);
    return z;
}

void px_zone_format(const struct px_tz *tz, int64_t t, char *out, size_t size,
                    const char **abbr_out)
{
    bool dst;
    int32_t off = px_tz_offset_at(tz, t, abbr_out, &dst);
    time_t local = (time_t)(t + off);
    struct tm tm;
    gmtime_r(&local, &tm);
    char day[24];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    int32_t a = off < 0 ? -off : off;
    snprintf(out, size, "%s%c%02d:%02d", day, off < 0 ? '-' : '+', (int)(a / 3600),
             (int)(a / 60 % 60));
}
