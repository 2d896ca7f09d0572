/* Schedules of one organization: see schedules.h. */
#include "service/schedules.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/id.h"
#include "base/json.h"
#include "sched/cron.h"
#include "sched/next.h"
#include "service/schedule_loop.h"
#include "base/tz.h"
#include "base/zones.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int popcount64(uint64_t v)
{
    return __builtin_popcountll(v);
}

const char *px_schedule_classify(const struct px_cron *c)
{
    bool all_months = c->months == 0x1FFE;
    bool all_days = c->mday_star && c->wday_star;
    if (!c->minute_fixed || !all_months)
        return "custom";
    if (c->hours == 0xFFFFFF && all_days)
        return "hourly";
    if (!c->hour_fixed)
        return "custom";
    if (all_days)
        return "daily";
    if (c->mday_star && popcount64(c->wdays) == 1)
        return "weekly";
    if (c->wday_star && popcount64(c->mdays) == 1)
        return "monthly";
    return "custom";
}

static const char *example_for(const char *frequency)
{
    if (strcmp(frequency, "hourly") == 0)
        return "'0 * * * *' (every hour at minute 0)";
    if (strcmp(frequency, "daily") == 0)
        return "'0 6 * * *' (every day at 06:00)";
    if (strcmp(frequency, "weekly") == 0)
        return "'0 6 * * MON' (Mondays at 06:00)";
    if (strcmp(frequency, "monthly") == 0)
        return "'0 6 1 * *' (the 1st of each month at 06:00)";
    return "any valid expression";
}

/* Zone names that load but rarely mean what their user wants (fixed offsets, POSIX-style
 * rule zones, deprecated aliases), and abbreviations that are no zone at all: each with the
 * IANA zone to suggest. The first kind is accepted with a warning, the second refused with
 * the suggestion as the hint. */
static const struct legacy_zone {
    const char *name;
    const char *zone;
    const char *what; /* NULL: not a zone in the tz database */
} legacy_zones[] = {
    {"EST", "America/New_York", "a fixed UTC-05:00 offset with no daylight saving time"},
    {"MST", "America/Denver",
     "a fixed UTC-07:00 offset with no daylight saving time (America/Phoenix keeps that all "
     "year)"},
    {"HST", "Pacific/Honolulu", "a fixed UTC-10:00 offset kept for compatibility"},
    {"EST5EDT", "America/New_York", "a POSIX-style legacy zone (current US rules only)"},
    {"CST6CDT", "America/Chicago", "a POSIX-style legacy zone (current US rules only)"},
    {"MST7MDT", "America/Denver", "a POSIX-style legacy zone (current US rules only)"},
    {"PST8PDT", "America/Los_Angeles", "a POSIX-style legacy zone (current US rules only)"},
    {"CET", "Europe/Paris", "a legacy zone name"},
    {"MET", "Europe/Paris", "a legacy zone name"},
    {"EET", "Europe/Athens", "a legacy zone name"},
    {"WET", "Europe/Lisbon", "a legacy zone name"},
    {"US/Eastern", "America/New_York", "a deprecated alias"},
    {"US/Central", "America/Chicago", "a deprecated alias"},
    {"US/Mountain", "America/Denver", "a deprecated alias"},
    {"US/Pacific", "America/Los_Angeles", "a deprecated alias"},
    {"US/Alaska", "America/Anchorage", "a deprecated alias"},
    {"US/Hawaii", "Pacific/Honolulu", "a deprecated alias"},
    {"US/Arizona", "America/Phoenix", "a deprecated alias"},
    {"PST", "America/Los_Angeles", NULL},
    {"PDT", "America/Los_Angeles", NULL},
    {"EDT", "America/New_York", NULL},
    {"CST", "America/Chicago", NULL},
    {"CDT", "America/Chicago", NULL},
    {"MDT", "America/Denver", NULL},
    {"BST", "Europe/London", NULL},
    {"IST", "Asia/Kolkata", NULL},
    {"JST", "Asia/Tokyo", NULL},
    {"AEST", "Australia/Sydney", NULL},
};

static const struct legacy_zone *legacy_zone(const char *name)
{
    for (size_t i = 0; i < sizeof(legacy_zones) / sizeof(legacy_zones[0]); i++)
        if (strcmp(legacy_zones[i].name, name) == 0)
            return &legacy_zones[i];
    return NULL;
}

/* A warning for a zone that loads but is a legacy or fixed-offset name (Etc/GMT+5 is
 * UTC-05:00); "" for a regular IANA zone. */
static void zone_warning(const char *zone, char *out, size_t size)
{
    out[0] = '\0';
    const struct legacy_zone *lz = legacy_zone(zone);
    int hours;
    char sign, end;
    if (lz && lz->what)
        snprintf(out, size,
                 "timezone '%s' is %s; if you mean the local time of a place, use its "
                 "IANA zone, e.g. %s",
                 zone, lz->what, lz->zone);
    else if (sscanf(zone, "Etc/GMT%c%d%c", &sign, &hours, &end) == 2 &&
             (sign == '+' || sign == '-') && hours != 0)
        snprintf(out, size,
                 "timezone '%s' is a fixed UTC%c%02d:00 offset (Etc/GMT names reverse the sign) "
                 "with no daylight saving time; if you mean the local time of a place, use its "
                 "IANA zone, e.g. America/New_York",
                 zone, sign == '+' ? '-' : '+', hours);
}

/* Validates expression, zone and label together; *label_out gets the frequency to store. */
static int check_fields(const char *expr, const char *frequency, const char *zone,
                        const char **label_out, struct px_error *err)
{
    struct px_cron cron;
    int rc = px_cron_parse(expr, &cron, err);
    if (rc) {
        px_error_field(err, "cron_expression");
        return rc;
    }
    struct px_tz *tz = NULL;
    if ((rc = px_tz_load(zone, &tz, err))) {
        px_error_field(err, "timezone");
        const struct legacy_zone *lz = legacy_zone(zone);
        if (lz && !lz->what)
            px_error_hint(err,
                          "'%s' is an abbreviation, not a zone: use an IANA zone name such "
                          "as %s (it follows daylight saving time)",
                          zone, lz->zone);
        else if (!err || !err->hint[0])
            px_error_hint(err, "use an IANA zone name such as UTC, America/New_York or "
                               "Europe/Berlin");
        return rc;
    }
    px_tz_free(tz);
    const char *actual = px_schedule_classify(&cron);
    if (frequency && strcmp(frequency, "custom") != 0 && strcmp(frequency, actual) != 0) {
        rc = px_error_set(err, PX_EINVALID,
                          "frequency '%s' does not match the cron expression '%s', which "
                          "describes a %s schedule",
                          frequency, expr, actual);
        px_error_field(err, "frequency");
        if (strcmp(actual, "custom") == 0)
            px_error_hint(err, "use frequency 'custom', or an expression like %s",
                          example_for(frequency));
        else
            px_error_hint(err, "use frequency '%s' (or 'custom'), or an expression like %s", actual,
                          example_for(frequency));
        return rc;
    }
    *label_out = frequency ? frequency : actual;
    return 0;
}

#define SCHEDULE_COLUMNS                                                                           \
    "s.id, s.pipeline_id, s.cron_expression, s.frequency, s.timezone, s.enabled, s.misfire,"       \
    " s.created_at, s.updated_at, s.next_fire_at, s.overlap, p.status"
#define LIVE_JOIN                                                                                  \
    " FROM schedules s JOIN pipelines p ON p.org_id = s.org_id AND p.id = s.pipeline_id"           \
    " AND p.deleted_at IS NULL"

int64_t px_schedule_next_after(const char *expr, const char *zone, int64_t after_ms)
{
    int64_t next;
    return px_sched_next_slot(expr, zone, after_ms, &next, NULL) == 1 ? next : -1;
}

/* What a DST change does to fire f ("" when nothing). */
static void dst_note(const struct px_fire *f, const struct px_cron *cron, const char *local,
                     char *out, size_t size)
{
    time_t nominal = (time_t)f->local;
    struct tm tm;
    gmtime_r(&nominal, &tm);
    char day[16], hm[8];
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    strftime(hm, sizeof(hm), "%H:%M", &tm);
    out[0] = '\0';
    if (f->flags & PX_FIRE_MERGED)
        snprintf(out, size,
                 "several times from %s fall in the gap when clocks spring forward on %s; they "
                 "run once, at %.5s",
                 hm, day, local + 11);
    else if (f->flags & PX_FIRE_MOVED)
        snprintf(out, size,
                 "%s does not exist on %s (clocks spring forward); it runs at %.5s instead", hm,
                 day, local + 11);
    else if ((f->flags & PX_FIRE_REPEATED) && px_cron_is_fixed_time(cron))
        snprintf(out, size,
                 "%s occurs twice on %s (clocks fall back); it runs once, on the first pass", hm,
                 day);
    else if (f->flags & PX_FIRE_REPEATED)
        snprintf(out, size,
                 "%s occurs twice on %s (clocks fall back); a wall-clock schedule runs on both "
                 "passes",
                 hm, day);
}

void px_schedule_add_next(struct json_object *o, const char *expr, const char *zone,
                          int64_t next_fire_ms)
{
    struct json_object *preview = json_object_new_array();
    struct px_cron cron;
    const struct px_tz *tz = NULL;
    struct px_fire fires[PX_SCHEDULE_PREVIEW];
    int n = 0;
    if (next_fire_ms >= 0 && !px_cron_parse(expr, &cron, NULL) && (tz = px_zone_get(zone, NULL)))
        n = px_cron_next_n(&cron, tz, next_fire_ms / 1000 - 1, PX_SCHEDULE_PREVIEW, fires);
    if (n <= 0) {
        px_json_set(o, "next_run_at", NULL);
        px_json_set(o, "next_run_at_local", NULL);
        px_json_set(o, "preview", preview);
        return;
    }
    for (int i = 0; i < n; i++) {
        char local[40], note[200];
        const char *abbr = NULL;
        px_zone_format(tz, fires[i].at, local, sizeof(local), &abbr);
        if (i == 0) {
            px_json_set_time(o, "next_run_at", fires[i].at * 1000);
            px_json_set_str(o, "next_run_at_local", local);
        }
        struct json_object *p = json_object_new_object();
        px_json_set_time(p, "at", fires[i].at * 1000);
        px_json_set_str(p, "local", local);
        px_json_set_str(p, "abbreviation", abbr ? abbr : "");
        dst_note(&fires[i], &cron, local, note, sizeof(note));
        const char *dst = fires[i].flags & PX_FIRE_MERGED     ? "merged"
                          : fires[i].flags & PX_FIRE_MOVED    ? "moved"
                          : fires[i].flags & PX_FIRE_REPEATED ? "repeated"
                                                              : NULL;
        px_json_set_str(p, "dst", dst);
        px_json_set_str(p, "note", note[0] ? note : NULL);
        json_object_array_add(preview, p);
    }
    px_json_set(o, "preview", preview);
}

void px_schedule_add_state(struct json_object *o, const char *expr, const char *zone, bool enabled,
                           bool paused, int64_t next_fire_ms)
{
    bool fires = enabled && !paused;
    if (fires && next_fire_ms < 0) /* not computed yet (a row older than the scheduler) */
        next_fire_ms = px_schedule_next_after(expr, zone, px_now_ms());
    px_json_set_bool(o, "fires", fires);
    px_json_set_str(o, "note",
                    !enabled ? "the schedule is disabled: nothing fires until enable_schedule "
                               "(slots missed meanwhile are not run)"
                    : paused ? "the pipeline is paused: this schedule does not fire until "
                               "resume_pipeline (slots missed meanwhile are not run)"
                             : NULL);
    px_schedule_add_next(o, expr, zone, fires ? next_fire_ms : -1);
}

static struct json_object *schedule_view(struct px_rows *rows)
{
    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "schedule_id", px_rows_text(rows, 0));
    px_json_set_str(o, "pipeline_id", px_rows_text(rows, 1));
    px_json_set_str(o, "cron_expression", px_rows_text(rows, 2));
    px_json_set_str(o, "frequency", px_rows_text(rows, 3));
    px_json_set_str(o, "timezone", px_rows_text(rows, 4));
    px_json_set_bool(o, "enabled", px_rows_int(rows, 5) != 0);
    px_json_set_str(o, "misfire", px_rows_text(rows, 6));
    px_json_set_str(o, "overlap", px_rows_text(rows, 10));
    bool enabled = px_rows_int(rows, 5) != 0;
    bool paused = strcmp(px_rows_text(rows, 11), "paused") == 0;
    int64_t next = px_rows_is_null(rows, 9) ? -1 : px_rows_int(rows, 9);
    px_schedule_add_state(o, px_rows_text(rows, 2), px_rows_text(rows, 4), enabled, paused, next);
    px_json_set_time(o, "created_at", px_rows_int(rows, 7));
    px_json_set_time(o, "updated_at", px_rows_int(rows, 8));
    return o;
}

static int load(const struct px_tenant *t, const char *id, struct json_object **out,
                struct px_error *err)
{
    return px_load_one(t, "SELECT " SCHEDULE_COLUMNS LIVE_JOIN " WHERE s.org_id = ? AND s.id = ?",
                       id, schedule_view, PX_ID_SCHEDULE, out, err);
}

/* Checks the id and loads the schedule (not found for another org's or a deleted
 * pipeline's schedule). */
static int find(const struct px_tenant *t, const char *id, struct json_object **out,
                struct px_error *err)
{
    int rc = px_check_id(PX_ID_SCHEDULE, "schedule_id", id, err);
    return rc ? rc : load(t, id, out, err);
}

#define DUP_SLOTS 8 /* next fires compared to call two schedules identical */
/* At most 100 other schedules of the pipeline are compared (LIMIT 100 below). */

/* Fills slots with the next DUP_SLOTS fires after now; returns how many there are. */
static int next_slots(const char *expr, const char *zone, int64_t now, int64_t *slots)
{
    int n = 0;
    for (int64_t at = now; n < DUP_SLOTS && (at = px_schedule_next_after(expr, zone, at)) >= 0;)
        slots[n++] = at;
    return n;
}

/* Appends a warning when another schedule of the pipeline fires at the same instants (same
 * expression and zone, or one that comes to the same fires: '0 6 * * *' in UTC and Etc/UTC). */
static int warn_duplicate(const struct px_tenant *t, const char *pipeline_id, const char *self_id,
                          const char *expr, const char *zone, struct json_object *warnings,
                          struct px_error *err)
{
    int64_t now = px_now_ms(), mine[DUP_SLOTS], theirs[DUP_SLOTS];
    int n = next_slots(expr, zone, now, mine);
    if (n == 0)
        return 0;
    struct px_rows *rows;
    int rc = px_store_query(
        t->store,
        "SELECT id, cron_expression, timezone FROM schedules"
        " WHERE org_id = ? AND pipeline_id = ? AND id <> ?"
        " ORDER BY created_at, id LIMIT 100",
        PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(pipeline_id), PX_V_TEXT(self_id)), 3, &rows, err);
    if (rc)
        return rc;
    while ((rc = px_rows_next(rows, err)) == 1) {
        if (next_slots(px_rows_text(rows, 1), px_rows_text(rows, 2), now, theirs) != n ||
            memcmp(mine, theirs, (size_t)n * sizeof(*mine)) != 0)
            continue;
        char w[400];
        snprintf(w, sizeof(w),
                 "schedule %s of this pipeline already fires at the same times ('%s' in %s): "
                 "each slot starts the pipeline once per schedule (with overlap skip the second "
                 "is recorded as skipped); delete one with delete_schedule unless that is meant",
                 px_rows_text(rows, 0), px_rows_text(rows, 1), px_rows_text(rows, 2));
        json_object_array_add(warnings, json_object_new_string(w));
        break;
    }
    px_rows_free(rows);
    return rc < 0 ? rc : 0;
}

/* Adds "warnings" (legacy zone, duplicate schedule) to a created or updated schedule view. */
static int add_warnings(const struct px_tenant *t, struct json_object *view, struct px_error *err)
{
    struct json_object *warnings = json_object_new_array();
    const char *zone = px_json_get_str(view, "timezone");
    char w[400];
    zone_warning(zone, w, sizeof(w));
    if (w[0])
        json_object_array_add(warnings, json_object_new_string(w));
    int rc = warn_duplicate(t, px_json_get_str(view, "pipeline_id"),
                            px_json_get_str(view, "schedule_id"),
                            px_json_get_str(view, "cron_expression"), zone, warnings, err);
    px_json_set(view, "warnings", warnings);
    return rc;
}

int px_schedule_create(const struct px_tenant *t, const char *pipeline_id,
                       const struct px_schedule_fields *f, struct json_object **out,
                       struct px_error *err)
{
    int rc = px_pipeline_check(t, pipeline_id, err);
    if (rc)
        return rc;
    const char *zone = f->timezone ? f->timezone : "UTC", *label;
    if ((rc = check_fields(f->cron_expression, f->frequency, zone, &label, err)))
        return rc;
    char id[PX_ID_MAX];
    px_id_new(PX_ID_SCHEDULE, id);
    int64_t now = px_now_ms();
    int64_t next = px_schedule_next_after(f->cron_expression, zone, now);
    /* The insert and the reads for the reply are one transaction: a create that reports an
     * error made no schedule (a retry would otherwise add a second one). */
    *out = NULL;
    if ((rc = px_store_begin(t->store, err)))
        return rc;
    rc = px_store_exec(t->store,
                       "INSERT INTO schedules (org_id, id, pipeline_id, cron_expression, frequency,"
                       " timezone, enabled, misfire, overlap, next_fire_at, created_at, updated_at)"
                       " VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
                       PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id), PX_V_TEXT(pipeline_id),
                                 PX_V_TEXT(f->cron_expression), PX_V_TEXT(label), PX_V_TEXT(zone),
                                 PX_V_TEXT(f->misfire ? f->misfire : "run_latest"),
                                 PX_V_TEXT(f->overlap ? f->overlap : "skip"),
                                 next >= 0 ? PX_V_INT(next) : PX_V_NULL, PX_V_INT(now),
                                 PX_V_INT(now)),
                       11, NULL, err);
    if (!rc)
        rc = load(t, id, out, err);
    if (!rc)
        rc = add_warnings(t, *out, err);
    if ((rc = px_store_finish(t->store, rc, err))) {
        json_object_put(*out);
        *out = NULL;
    }
    return rc;
}

int px_schedule_update(const struct px_tenant *t, const char *id,
                       const struct px_schedule_fields *f, struct json_object **out,
                       struct px_error *err)
{
    struct json_object *cur;
    int rc = find(t, id, &cur, err);
    if (rc)
        return rc;
    if (!f->cron_expression && !f->frequency && !f->timezone && !f->misfire && !f->overlap) {
        json_object_put(cur);
        rc = px_error_set(err, PX_EINVALID, "nothing to change");
        px_error_hint(err, "give cron_expression, frequency, timezone, misfire and/or overlap");
        return rc;
    }
    const char *expr =
        f->cron_expression ? f->cron_expression : px_json_get_str(cur, "cron_expression");
    const char *zone = f->timezone ? f->timezone : px_json_get_str(cur, "timezone");
    /* A new expression without a label gets its label derived; an old custom label stays. */
    const char *freq = f->frequency;
    if (!freq && !f->cron_expression)
        freq = px_json_get_str(cur, "frequency");
    const char *label;
    rc = check_fields(expr, freq, zone, &label, err);
    const char *misfire = f->misfire ? f->misfire : px_json_get_str(cur, "misfire");
    const char *overlap = f->overlap ? f->overlap : px_json_get_str(cur, "overlap");
    int64_t now = px_now_ms();
    /* A new expression or zone starts from now; an unchanged one keeps its pending slot. */
    bool reslot = f->cron_expression || f->timezone;
    int64_t next = reslot ? px_schedule_next_after(expr, zone, now) : -1;
    if (!rc)
        rc = px_store_exec(t->store,
                           "UPDATE schedules SET cron_expression = ?, frequency = ?, timezone = ?,"
                           " misfire = ?, overlap = ?, updated_at = ?,"
                           " next_fire_at = CASE WHEN enabled = 1 AND ? = 1 THEN ?"
                           " ELSE next_fire_at END WHERE org_id = ? AND id = ?",
                           PX_PARAMS(PX_V_TEXT(expr), PX_V_TEXT(label), PX_V_TEXT(zone),
                                     PX_V_TEXT(misfire), PX_V_TEXT(overlap), PX_V_INT(now),
                                     PX_V_INT(reslot), next >= 0 ? PX_V_INT(next) : PX_V_NULL,
                                     PX_V_TEXT(t->org_id), PX_V_TEXT(id)),
                           10, NULL, err);
    json_object_put(cur);
    if (!rc)
        rc = load(t, id, out, err);
    return rc ? rc : add_warnings(t, *out, err);
}

int px_schedule_list(const struct px_tenant *t, const char *pipeline_id, int enabled, int64_t limit,
                     const char *cursor, struct json_object **out, struct px_error *err)
{
    struct px_page pg;
    int rc = px_page_init(&pg, limit, 20, cursor, err);
    if (!rc && pipeline_id)
        rc = px_pipeline_check(t, pipeline_id, err);
    if (rc)
        return rc;
    struct px_rows *rows;
    rc = px_store_query(
        t->store,
        "SELECT " SCHEDULE_COLUMNS LIVE_JOIN " WHERE s.org_id = ?"
        " AND (? IS NULL OR s.pipeline_id = ?) AND (? < 0 OR s.enabled = ?)" PX_PAGE_SQL("s"),
        PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(pipeline_id), PX_V_TEXT(pipeline_id),
                  PX_V_INT(enabled), PX_V_INT(enabled), PX_PAGE_PARAMS(pg)),
        10, &rows, err);
    if (rc)
        return rc;
    return px_page_collect(rows, &pg, schedule_view, 7, 0, "schedules", out, err);
}

int px_schedule_set_enabled(const struct px_tenant *t, const char *id, int enabled,
                            struct json_object **out, struct px_error *err)
{
    struct json_object *cur;
    int rc = find(t, id, &cur, err);
    if (rc)
        return rc;
    bool changed = px_json_get_bool(cur, "enabled", false) != (enabled != 0);
    /* Enabling starts from now: slots that passed while disabled do not fire. */
    int64_t now = px_now_ms(),
            next = enabled ? px_schedule_next_after(px_json_get_str(cur, "cron_expression"),
                                                    px_json_get_str(cur, "timezone"), now)
                           : -1;
    json_object_put(cur);
    if (changed &&
        (rc = px_store_exec(t->store,
                            "UPDATE schedules SET enabled = ?, next_fire_at = ?, updated_at = ?"
                            " WHERE org_id = ? AND id = ?",
                            PX_PARAMS(PX_V_INT(enabled), next >= 0 ? PX_V_INT(next) : PX_V_NULL,
                                      PX_V_INT(now), PX_V_TEXT(t->org_id), PX_V_TEXT(id)),
                            5, NULL, err)))
        return rc;
    struct json_object *view;
    if ((rc = load(t, id, &view, err)))
        return rc;
    struct json_object *o = json_object_new_object();
    px_json_set_bool(o, "changed", changed);
    px_json_set(o, "schedule", view);
    *out = o;
    return 0;
}

int px_schedule_delete(const struct px_tenant *t, const char *id, struct json_object **out,
                       struct px_error *err)
{
    struct json_object *cur;
    int rc = find(t, id, &cur, err);
    if (rc)
        return rc;
    json_object_put(cur);
    if ((rc = px_store_exec(t->store, "DELETE FROM schedules WHERE org_id = ? AND id = ?",
                            PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, NULL, err)))
        return rc;
    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "schedule_id", id);
    px_json_set_bool(o, "deleted", true);
    *out = o;
    return 0;
}
