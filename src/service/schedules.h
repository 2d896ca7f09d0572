/*
 * Schedules of one organization's pipelines: cron expression (sched/cron.h dialect), IANA
 * time zone (base/tz.h), a frequency label checked against the expression, enabled flag.
 * Schedules of a deleted pipeline are invisible here. Each enabled schedule stores its next
 * slot (next_fire_at, sched/next.h), computed here when it is created, changed or enabled and
 * advanced by the scheduler (service/schedule_loop.h) as slots fire; views show it in UTC and local
 * time with a preview of the next fires and notes on the ones a DST change moves or merges.
 */
#ifndef PX_SERVICE_SCHEDULES_H
#define PX_SERVICE_SCHEDULES_H

#include "service/tenant.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct px_error;

/* Optional fields are NULL when not given. */
struct px_schedule_fields {
    const char *cron_expression;
    const char *frequency; /* hourly | daily | weekly | monthly | custom */
    const char *timezone;  /* IANA; default UTC on create */
    const char *misfire;   /* run_latest | skip: after downtime (default run_latest) */
    const char *overlap;   /* skip | queue: while the previous run is going (default skip) */
};

/* Fires shown in a schedule's preview. */
#define PX_SCHEDULE_PREVIEW 5
/* The first slot of expr in zone strictly after after_ms (ms), or -1 when there is none. */
int64_t px_schedule_next_after(const char *expr, const char *zone, int64_t after_ms);
/* Sets next_run_at, next_run_at_local and preview [{at, local, abbreviation, dst, note}] on a
 * schedule view o, starting at the slot next_fire_ms (< 0: not scheduled: nulls and []). */
void px_schedule_add_next(struct json_object *o, const char *expr, const char *zone,
                          int64_t next_fire_ms);

/* Sets fires (enabled and the pipeline not paused), note (why it does not fire, or null)
 * and, through px_schedule_add_next, next_run_at/preview (null and [] when it does not
 * fire) on a schedule view o. next_fire_ms < 0: not computed yet. */
void px_schedule_add_state(struct json_object *o, const char *expr, const char *zone, bool enabled,
                           bool paused, int64_t next_fire_ms);

/* Create and update return the view with "warnings": [text] (a legacy or fixed-offset zone
 * name, another schedule of the pipeline firing at the same times); they do not refuse. */
int px_schedule_create(const struct px_tenant *t, const char *pipeline_id,
                       const struct px_schedule_fields *f, struct json_object **out,
                       struct px_error *err);
int px_schedule_update(const struct px_tenant *t, const char *id,
                       const struct px_schedule_fields *f, struct json_object **out,
                       struct px_error *err);
/* pipeline_id NULL: all; enabled < 0: any. */
int px_schedule_list(const struct px_tenant *t, const char *pipeline_id, int enabled, int64_t limit,
                     const char *cursor, struct json_object **out, struct px_error *err);
int px_schedule_set_enabled(const struct px_tenant *t, const char *id, int enabled,
                            struct json_object **out, struct px_error *err);
/* Permanent. */
int px_schedule_delete(const struct px_tenant *t, const char *id, struct json_object **out,
                       struct px_error *err);

/* The frequency label that describes a parsed expression: "hourly", "daily", "weekly",
 * "monthly" or "custom". */
struct px_cron;
const char *px_schedule_classify(const struct px_cron *c);

#endif
