/*
 * Loaded time zones shared by the whole process: the scheduler and the schedule views look
 * zones up by name many times a second, and a zone never changes once read, so each is read
 * from the tz database once and kept until exit (a tzdata upgrade takes effect on restart).
 * Thread-safe; the returned zones are immutable and must not be freed.
 */
#ifndef PX_BASE_ZONES_H
#define PX_BASE_ZONES_H

struct px_error;
struct px_tz;

/* The zone called name, loaded on first use. NULL with err set (as px_tz_load) when the name
 * is not a zone. The cache is bounded by the number of files in the tz database. */
const struct px_tz *px_zone_get(const char *name, struct px_error *err);

#include <stddef.h>
#include <stdint.h>

/* Formats the UTC instant t (seconds) as local RFC 3339 time in tz with its offset
 * ("2026-11-01T01:30:00-04:00") into out (at least 32 bytes); abbr_out (may be NULL) gets
 * the zone abbreviation in force ("EDT"), borrowed from tz. */
void px_zone_format(const struct px_tz *tz, int64_t t, char *out, size_t size,
                    const char **abbr_out);

#endif
