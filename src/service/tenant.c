/* Shared pieces of the org-scoped services: see tenant.h. */
#include "service/tenant.h"

#include "base/buf.h"

#include "base/err.h"
#include "base/id.h"
#include "base/json.h"
#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int px_not_found(int kind, struct px_error *err)
{
    static const char *const hints[PX_ID_KIND_COUNT] = {
        [PX_ID_PIPELINE] = "list the pipelines you can see with list_pipelines",
        [PX_ID_SCHEDULE] = "list the schedules you can see with list_schedules",
        [PX_ID_CONN] = "list the connections you can see with list_connectors",
        [PX_ID_RUN] = "list a pipeline's runs with get_run_history",
    };
    const char *name = kind >= 0 && kind < PX_ID_KIND_COUNT ? px_id_kind_name(kind) : "object";
    int rc = px_error_set(err, PX_ENOTFOUND, "%s not found", name);
    if (kind >= 0 && kind < PX_ID_KIND_COUNT && hints[kind])
        px_error_hint(err, "%s", hints[kind]);
    return rc;
}

int px_check_id(int kind, const char *field, const char *value, struct px_error *err)
{
    if (px_id_valid(kind, value))
        return 0;
    int other = px_id_kind_of(value);
    if (other >= 0 && other != kind) {
        int rc =
            px_error_set(err, PX_EINVALID, "%s expects a %s id (%s…), but this is a %s id", field,
                         px_id_kind_name(kind), px_id_prefix(kind), px_id_kind_name(other));
        px_error_field(err, field);
        return rc;
    }
    return px_not_found(kind, err);
}

int px_page_init(struct px_page *pg, long long limit, int def, const char *cursor,
                 struct px_error *err)
{
    memset(pg, 0, sizeof(*pg));
    if (limit == 0)
        limit = def;
    if (limit < 1 || limit > 100) {
        int rc = px_error_set(err, PX_EINVALID, "limit must be between 1 and 100, got %lld", limit);
        px_error_field(err, "limit");
        return rc;
    }
    pg->limit = (int)limit;
    if (!cursor)
        return 0;
    unsigned char raw[96];
    size_t n = 0;
    char text[97];
    if (strlen(cursor) > 120 ||
        sodium_base642bin(raw, sizeof(raw) - 1, cursor, strlen(cursor), NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        goto bad;
    memcpy(text, raw, n);
    text[n] = '\0';
    char *colon = strchr(text, ':');
    if (!colon || strlen(colon + 1) >= sizeof(pg->after_id))
        goto bad;
    *colon = '\0';
    char *end;
    pg->after_created = strtoll(text, &end, 10);
    if (*end || end == text)
        goto bad;
    snprintf(pg->after_id, sizeof(pg->after_id), "%s", colon + 1);
    pg->has_cursor = true;
    return 0;
bad : {
    int rc = px_error_set(err, PX_EINVALID, "cursor is not a cursor this server issued");
    px_error_field(err, "cursor");
    px_error_hint(err, "pass next_cursor from the previous page unchanged, or omit cursor");
    return rc;
}
}

struct json_object *px_page_cursor(long long created_at, const char *id)
{
    char text[96], b64[160];
    int n = snprintf(text, sizeof(text), "%lld:%s", created_at, id);
    sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)text, (size_t)n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return json_object_new_string(b64);
}

int px_page_collect(struct px_rows *rows, const struct px_page *pg, px_row_view_fn view,
                    int created_col, int id_col, const char *list_key, struct json_object **out,
                    struct px_error *err)
{
    struct json_object *arr = json_object_new_array();
    int count = 0, rc;
    long long last_created = 0;
    char last_id[64] = "";
    while ((rc = px_rows_next(rows, err)) == 1 && count < pg->limit) {
        json_object_array_add(arr, view(rows));
        count++;
        last_created = px_rows_int(rows, created_col);
        snprintf(last_id, sizeof(last_id), "%s", px_rows_text(rows, id_col));
    }
    px_rows_free(rows);
    if (rc < 0) {
        json_object_put(arr);
        return rc;
    }
    /* A row beyond the page (rc == 1) means there is a next page. */
    struct json_object *o = json_object_new_object();
    px_json_set(o, list_key, arr);
    px_json_set(o, "next_cursor", rc == 1 ? px_page_cursor(last_created, last_id) : NULL);
    *out = o;
    return 0;
}

int px_page_collect_text(struct px_rows *rows, const struct px_page *pg, px_row_text_fn text,
                         int created_col, int id_col, const char *list_key,
                         struct json_object **out, struct px_error *err)
{
    struct px_buf b;
    px_buf_init(&b, (size_t)1 << 30);
    int count = 0, rc;
    long long last_created = 0;
    char last_id[64] = "";
    (void)px_buf_puts(&b, "{\"");
    (void)px_buf_puts(&b, list_key);
    (void)px_buf_puts(&b, "\":[");
    while ((rc = px_rows_next(rows, err)) == 1 && count < pg->limit) {
        if (count++)
            (void)px_buf_append(&b, ",", 1);
        text(rows, &b);
        last_created = px_rows_int(rows, created_col);
        snprintf(last_id, sizeof(last_id), "%s", px_rows_text(rows, id_col));
    }
    px_rows_free(rows);
    if (rc < 0) {
        px_buf_cleanup(&b);
        return rc;
    }
    (void)px_buf_puts(&b, "],\"next_cursor\":");
    if (rc == 1) {
        struct json_object *c = px_page_cursor(last_created, last_id);
        px_json_write_str(&b, json_object_get_string(c));
        json_object_put(c);
    } else {
        (void)px_buf_puts(&b, "null");
    }
    (void)px_buf_append(&b, "}", 1);
    *out = px_json_raw(px_buf_take(&b));
    px_buf_cleanup(&b);
    return 0;
}

int px_load_one(const struct px_tenant *t, const char *sql, const char *id, px_row_view_fn view,
                int kind, struct json_object **out, struct px_error *err)
{
    struct px_rows *rows;
    int rc = px_store_query(t->store, sql, PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, &rows,
                            err);
    if (rc)
        return rc;
    rc = px_rows_next(rows, err);
    if (rc == 1)
        *out = view(rows);
    px_rows_free(rows);
    return rc < 0 ? rc : rc == 1 ? 0 : px_not_found(kind, err);
}

int px_pipeline_check(const struct px_tenant *t, const char *id, struct px_error *err)
{
    int rc = px_check_id(PX_ID_PIPELINE, "pipeline_id", id, err);
    if (rc)
        return rc;
    int64_t one;
    rc = px_store_query_int(t->store,
                            "SELECT 1 FROM pipelines WHERE org_id = ? AND id = ?"
                            " AND deleted_at IS NULL",
                            PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, &one, err);
    if (rc < 0)
        return rc;
    return rc == 1 ? 0 : px_not_found(PX_ID_PIPELINE, err);
}
