/*
 * Schema introspection (engine/schema.h): the entry point, which dispatches to the connector's
 * describe callback (exec_int.h), and the builder of the bounded document the callbacks fill
 * (engine/connectors/describe.h).
 */
#include "engine/schema.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/connectors/describe.h"
#include "engine/engine.h"
#include "engine/exec_int.h"

#include <stdlib.h>
#include <string.h>

#define TIMEOUT_DEFAULT_MS 10000
#define TIMEOUT_MAX_MS 60000
#define SAMPLE_DEFAULT_MS 1000
#define TABLES_DEFAULT 500
#define TABLES_MAX 5000
#define COLUMNS_DEFAULT 200
#define COLUMNS_MAX 1000
#define VALUES_MAX 50
#define BYTES_DEFAULT ((int64_t)1 << 20)
#define BYTES_MAX ((int64_t)16 << 20)

static int clamp(int v, int def, int max)
{
    return v <= 0 ? def : v > max ? max : v;
}

/* What a string costs as JSON text, at most: quotes, a separator, and escapes for a few. */
static int64_t str_cost(const char *s)
{
    return s ? (int64_t)strlen(s) * 2 + 8 : 6;
}

void px__desc_init(struct px_desc *d, const char *type, const struct px_describe_opts *o)
{
    memset(d, 0, sizeof(*d));
    if (o)
        d->o = *o;
    d->o.timeout_ms = clamp(d->o.timeout_ms, TIMEOUT_DEFAULT_MS, TIMEOUT_MAX_MS);
    d->o.sample_ms = clamp(d->o.sample_ms, SAMPLE_DEFAULT_MS, d->o.timeout_ms);
    d->o.max_tables = clamp(d->o.max_tables, TABLES_DEFAULT, TABLES_MAX);
    d->o.max_columns = clamp(d->o.max_columns, COLUMNS_DEFAULT, COLUMNS_MAX);
    d->o.max_values = clamp(d->o.max_values, VALUES_MAX, VALUES_MAX);
    if (d->o.max_bytes <= 0)
        d->o.max_bytes = BYTES_DEFAULT;
    if (d->o.max_bytes > BYTES_MAX)
        d->o.max_bytes = BYTES_MAX;
    int64_t now = px_mono_us();
    d->deadline_us = now + (int64_t)d->o.timeout_ms * 1000;
    d->sample_deadline_us = d->deadline_us; /* the sampling window starts when sampling does */
    d->table_count = -1;
    d->sampled = !d->o.no_sampling;
    d->doc = json_object_new_object();
    px_json_set_str(d->doc, "type", type);
    px_json_set_bool(d->doc, "describable", true);
    d->tables = json_object_new_array();
    px_json_set(d->doc, "tables", d->tables);
    px_json_set(d->doc, "table_count", NULL);
    px_json_set_bool(d->doc, "truncated", false);
    px_json_set(d->doc, "truncated_by", json_object_new_array());
    px_json_set_bool(d->doc, "sampled", d->sampled);
    d->bytes = 200 + str_cost(type);
}

void px__desc_cleanup(struct px_desc *d)
{
    json_object_put(d->doc);
    d->doc = NULL;
}

void px__desc_truncated(struct px_desc *d, const char *reason)
{
    px_json_set_bool(d->doc, "truncated", true);
    struct json_object *by = px_json_get(d->doc, "truncated_by");
    for (size_t i = 0; i < json_object_array_length(by); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(by, i)), reason) == 0)
            return;
    json_object_array_add(by, json_object_new_string(reason));
    if (strcmp(reason, "size") == 0)
        d->full = true;
}

void px__desc_sample_start(struct px_desc *d)
{
    int64_t end = px_mono_us() + (int64_t)d->o.sample_ms * 1000;
    d->sample_deadline_us = end < d->deadline_us ? end : d->deadline_us;
}

int px__desc_left_ms(const struct px_desc *d, bool sampling)
{
    int64_t end =
        sampling && d->sample_deadline_us < d->deadline_us ? d->sample_deadline_us : d->deadline_us;
    int64_t left = end - px_mono_us();
    return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

/* Charges cost bytes; false (and the document truncated by size) when they do not fit. */
static bool charge(struct px_desc *d, int64_t cost)
{
    if (d->full || d->bytes + cost > d->o.max_bytes) {
        px__desc_truncated(d, "size");
        return false;
    }
    d->bytes += cost;
    return true;
}

struct json_object *px__desc_table(struct px_desc *d, const char *schema, const char *name,
                                   const char *kind)
{
    if (!charge(d, 200 + str_cost(schema) + str_cost(name)))
        return NULL;
    struct json_object *t = json_object_new_object();
    px_json_set_str(t, "schema", schema);
    px_json_set_str(t, "name", name);
    px_json_set_str(t, "kind", kind);
    px_json_set(t, "row_estimate", NULL);
    px_json_set(t, "columns", json_object_new_array());
    px_json_set_int(t, "column_count", 0);
    px_json_set(t, "primary_key", NULL);
    px_json_set(t, "unique_keys", json_object_new_array());
    px_json_set(t, "foreign_keys", json_object_new_array());
    px_json_set_bool(t, "truncated", false);
    json_object_array_add(d->tables, t);
    return t;
}

void px__desc_rows(struct json_object *t, int64_t rows)
{
    if (rows >= 0)
        px_json_set_int(t, "row_estimate", rows);
    else
        px_json_set(t, "row_estimate", NULL);
}

struct json_object *px__desc_column(struct px_desc *d, struct json_object *t, const char *name,
                                    int type, const char *db_type, bool nullable)
{
    px_json_set_int(t, "column_count", px_json_get_int(t, "column_count", 0) + 1);
    struct json_object *cols = px_json_get(t, "columns");
    if ((int)json_object_array_length(cols) >= d->o.max_columns) {
        px_json_set_bool(t, "truncated", true);
        px__desc_truncated(d, "columns");
        return NULL;
    }
    if (!charge(d, 60 + str_cost(name) + str_cost(db_type))) {
        px_json_set_bool(t, "truncated", true);
        return NULL;
    }
    struct json_object *c = json_object_new_object();
    px_json_set_str(c, "name", name);
    px_json_set_str(c, "type", px_col_type_name((enum px_col_type)type));
    px_json_set_str(c, "db_type", db_type);
    px_json_set_bool(c, "nullable", nullable);
    json_object_array_add(cols, c);
    return c;
}

int px__desc_find_column(struct json_object *t, const char *name)
{
    struct json_object *cols = px_json_get(t, "columns");
    for (size_t i = 0; i < json_object_array_length(cols); i++)
        if (strcmp(px_json_get_str(json_object_array_get_idx(cols, i), "name"), name) == 0)
            return (int)i;
    return -1;
}

void px__desc_key(struct px_desc *d, struct json_object *t, bool primary, const char *const *cols,
                  int n)
{
    int64_t cost = 8;
    for (int i = 0; i < n; i++)
        cost += str_cost(cols[i]);
    if (n <= 0 || !charge(d, cost))
        return;
    struct json_object *a = json_object_new_array();
    for (int i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(cols[i]));
    if (primary)
        px_json_set(t, "primary_key", a);
    else
        json_object_array_add(px_json_get(t, "unique_keys"), a);
}

static int64_t array_cost(struct json_object *a)
{
    int64_t cost = 8;
    for (size_t i = 0; i < json_object_array_length(a); i++)
        cost += str_cost(json_object_get_string(json_object_array_get_idx(a, i)));
    return cost;
}

void px__desc_fk(struct px_desc *d, struct json_object *t, struct json_object *cols,
                 const char *ref_schema, const char *ref_table, struct json_object *ref_cols)
{
    if (!charge(d, 80 + array_cost(cols) + array_cost(ref_cols) + str_cost(ref_schema) +
                       str_cost(ref_table)))
        return;
    struct json_object *fk = json_object_new_object();
    px_json_set(fk, "columns", json_object_get(cols));
    struct json_object *ref = json_object_new_object();
    px_json_set_str(ref, "schema", ref_schema);
    px_json_set_str(ref, "table", ref_table);
    px_json_set(ref, "columns", json_object_get(ref_cols));
    px_json_set(fk, "references", ref);
    json_object_array_add(px_json_get(t, "foreign_keys"), fk);
}

void px__desc_values_init(struct px_desc_values *s, const struct px_desc *d)
{
    memset(s, 0, sizeof(*s));
    s->max = d->o.max_values;
}

bool px__desc_values_add(struct px_desc_values *s, const char *v, size_t len)
{
    if (s->over)
        return false;
    if (len > PX_DESCRIBE_VALUE_BYTES || memchr(v, '\0', len)) {
        s->over = true;
        return false;
    }
    for (int i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == len && memcmp(s->v[i], v, len) == 0)
            return true;
    if (s->n >= s->max) {
        s->over = true;
        return false;
    }
    s->v[s->n] = px_xmalloc(len + 1);
    memcpy(s->v[s->n], v, len);
    s->v[s->n][len] = '\0';
    s->n++;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void px__desc_values_set(struct px_desc *d, struct json_object *c, struct px_desc_values *s)
{
    if (c && !s->over && s->n > 0) {
        int64_t cost = 16;
        for (int i = 0; i < s->n; i++)
            cost += str_cost(s->v[i]);
        if (charge(d, cost)) {
            qsort(s->v, (size_t)s->n, sizeof(s->v[0]), cmp_str);
            struct json_object *a = json_object_new_array();
            for (int i = 0; i < s->n; i++)
                json_object_array_add(a, json_object_new_string(s->v[i]));
            px_json_set(c, "values", a);
        }
    }
    px__desc_values_cleanup(s);
}

void px__desc_values_cleanup(struct px_desc_values *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}

struct json_object *px__desc_finish(struct px_desc *d)
{
    if (d->table_count >= 0)
        px_json_set_int(d->doc, "table_count", d->table_count);
    if (d->table_count > (int64_t)json_object_array_length(d->tables) && !d->full)
        px__desc_truncated(d, "tables");
    px_json_set_bool(d->doc, "sampled", d->sampled);
    /* The estimate is on the safe side; the real text is checked too (a table at a time). */
    size_t n = json_object_array_length(d->tables);
    int64_t total = 256;
    size_t keep = 0;
    for (; keep < n; keep++) {
        const char *txt = json_object_to_json_string_ext(json_object_array_get_idx(d->tables, keep),
                                                         JSON_C_TO_STRING_PLAIN);
        total += (int64_t)strlen(txt) + 1;
        if (total > d->o.max_bytes)
            break;
    }
    if (keep < n) {
        json_object_array_del_idx(d->tables, keep, n - keep);
        px__desc_truncated(d, "size");
    }
    struct json_object *doc = d->doc;
    d->doc = NULL;
    return doc;
}

int px_engine_describe(const char *type, struct json_object *params,
                       const struct px_engine_opts *opts, const struct px_describe_opts *o,
                       struct json_object **out, struct px_error *err)
{
    *out = NULL;
    px_error_clear(err);
    const struct px_connector *c = type ? px__connector_find(type) : NULL;
    if (!c)
        return px_error_set(err, PX_EINVALID, "unknown connection type '%s'", type ? type : "");
    if (!c->describe) {
        struct json_object *doc = json_object_new_object();
        px_json_set_str(doc, "type", c->name);
        px_json_set_bool(doc, "describable", false);
        px_json_set_str(doc, "reason",
                        strcmp(c->name, "http") == 0
                            ? "an HTTP API has no catalog to describe: its records are known "
                              "only once a pipeline reads them (test_connection checks it answers)"
                            : "this connection type cannot be described");
        px_json_set(doc, "tables", json_object_new_array());
        px_json_set(doc, "table_count", NULL);
        px_json_set_bool(doc, "truncated", false);
        px_json_set(doc, "truncated_by", json_object_new_array());
        px_json_set_bool(doc, "sampled", false);
        *out = doc;
        return 0;
    }
    struct px_engine_opts eo = {0};
    if (opts)
        eo = *opts;
    struct json_object *config = json_object_new_object();
    struct px_node_ctx ctx = {.node_id = "describe",
                              .config = config,
                              .params = params,
                              .opts = &eo,
                              .batch_rows =
                                  eo.batch_rows > 0 ? eo.batch_rows : PX_BATCH_DEFAULT_ROWS};
    struct px_desc d;
    px__desc_init(&d, c->name, o);
    int rc = c->describe(&ctx, &d, err);
    json_object_put(config);
    if (rc < 0) {
        px__desc_cleanup(&d);
        return rc;
    }
    *out = px__desc_finish(&d);
    return 0;
}
