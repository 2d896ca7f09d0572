/*
 * Schedules of one organization's pipelines: cron expression (sched/cron.h dialect), IANA
 * time zone (sched/tz.h), a frequency label checked against the expression, enabled flag.
 * Schedules of a deleted pipeline are invisible here. Computing next fire times and firing
 * runs belong to the scheduler (sched/); until it exists next_run_at is null.
 */
#ifndef PX_SERVICE_SCHEDULES_H
#define PX_SERVICE_SCHEDULES_H

#include "service/tenant.h"

#include <json-c/json.h>
#include <stdint.h>

struct px_error;

/* Optional fields are NULL when not given. */
struct px_schedule_fields {
    const char *cron_expression;
    const char *frequency; /* hourly | daily | weekly | monthly | custom */
    const char *timezone;  /* IANA; default UTC on create */
};

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
