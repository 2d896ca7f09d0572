/*
 * IANA time zones read from the system tz database (TZif v1/v2/v3, RFC 8536), including the
 * POSIX TZ footer that covers instants past the transition table. Never switches TZ and never
 * calls localtime for another zone. The root is /usr/share/zoneinfo unless PLANASONIX_TZDIR
 * (or TZDIR) says otherwise. A loaded zone is immutable: share it read-only between threads.
 */
#ifndef PX_BASE_TZ_H
#define PX_BASE_TZ_H

#include <stdbool.h>
#include <stdint.h>

struct px_error;
struct px_tz;

/* Loads a zone by IANA name ("America/New_York", "UTC"). Names with "..", a leading '/', or
 * characters outside [A-Za-z0-9/_+-] are refused. Returns 0 and an owned zone (free with
 * px_tz_free), or -PX_EINVALID: "unknown time zone 'X'" with a hint. */
int px_tz_load(const char *name, struct px_tz **out, struct px_error *err);
void px_tz_free(struct px_tz *tz);
/* The zone's name as loaded. */
const char *px_tz_name(const struct px_tz *tz);

/* UTC offset in seconds (local = utc + offset) in force at the instant t (seconds since the
 * epoch); abbreviation (may be NULL) gets e.g. "EST" (borrowed from tz), is_dst whether DST. */
int32_t px_tz_offset_at(const struct px_tz *tz, int64_t t, const char **abbr_out, bool *is_dst_out);

/* Local civil time (seconds since the epoch as if local were UTC) → UTC instants.
 * Returns the number of instants the local time maps to: 1 normally, 2 in a repeated
 * (fall-back) hour (first[0] < first[1]), 0 in a skipped (spring-forward) gap; in the gap
 * case out[0] is the first instant after the gap. out must hold 2 values. */
int px_tz_local_to_utc(const struct px_tz *tz, int64_t local, int64_t out[2]);

/* The first instant strictly after t at which the zone's time type may change (UT offset,
 * DST flag or abbreviation; rarely none of the three actually changes), with the UT offset,
 * DST flag and abbreviation in force from then on (each out pointer may be NULL). Returns false
 * when nothing changes after t. Walking this from t gives the pieces of constant offset that
 * sched/next.c searches for fire times; the instants agree with px_tz_offset_at. */
bool px_tz_next_transition(const struct px_tz *tz, int64_t t, int64_t *at_out, int32_t *off_out,
                           bool *is_dst_out, const char **abbr_out);

#endif
