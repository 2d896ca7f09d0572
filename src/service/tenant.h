/*
 * The organization-scoped context every domain service takes first. It is built from the
 * principal (the API key), never from arguments: services look rows up by (org_id, id) only,
 * so another organization's object is indistinguishable from a missing one.
 */
#ifndef PX_SERVICE_TENANT_H
#define PX_SERVICE_TENANT_H

#include <json-c/json.h>
#include <stdbool.h>

struct px_error;
struct px_store;
struct px_keyring;
struct px_rows;

struct px_tenant {
    struct px_store *store;           /* borrowed */
    const struct px_keyring *keyring; /* borrowed: connection secrets */
    const char *org_id;               /* the caller's organization */
    const char *key_id;               /* the acting key, for revisions; NULL from the CLI */
};

/* Checks an id argument's shape for its kind: an id of another kind gets a precise
 * -PX_EINVALID ("pipeline_id expects a pipeline id (pl_…), got a schedule id"); anything else
 * that is not a valid id of the kind gets the same result as a missing object
 * (px_not_found), so probing reveals nothing. */
int px_check_id(int kind, const char *field, const char *value, struct px_error *err);
/* The one "not found" error for a kind: identical bytes whatever the reason. */
int px_not_found(int kind, struct px_error *err);

/* Cursor pagination shared by the list services: a cursor is an opaque base64url token of
 * (created_at, id) of the last row returned. */
struct px_page {
    int limit;               /* rows to return (1..100) */
    bool has_cursor;         /* a cursor was given */
    long long after_created; /* from the cursor */
    char after_id[40];       /* from the cursor */
};
/* Parses limit (default def, 1..100) and cursor (NULL: first page); a bad cursor is
 * -PX_EINVALID naming the field. */
int px_page_init(struct px_page *pg, long long limit, int def, const char *cursor,
                 struct px_error *err);
/* Returns an owned JSON string for the cursor after (created_at, id). */
struct json_object *px_page_cursor(long long created_at, const char *id);

/* Builds one page from a query that selected up to limit + 1 rows ordered by
 * (created_at DESC, id DESC): {list_key: [view(row)...], next_cursor: string|null}.
 * created_col and id_col are the column indexes of created_at and id. Frees rows. */
typedef struct json_object *(*px_row_view_fn)(struct px_rows *rows);
int px_page_collect(struct px_rows *rows, const struct px_page *pg, px_row_view_fn view,
                    int created_col, int id_col, const char *list_key, struct json_object **out,
                    struct px_error *err);

/* Runs sql (its two parameters are the org id and id) and returns view() of the first row,
 * or the not-found error of kind when there is none. */
/* The same page rendered straight to text (no json-c objects per row): text(rows, b) appends
 * one row's JSON object to b. *out is a px_json_raw value (base/json.h): serialize it, do not
 * read its members. */
struct px_buf;
typedef void (*px_row_text_fn)(struct px_rows *rows, struct px_buf *b);
int px_page_collect_text(struct px_rows *rows, const struct px_page *pg, px_row_text_fn text,
                         int created_col, int id_col, const char *list_key,
                         struct json_object **out, struct px_error *err);
int px_load_one(const struct px_tenant *t, const char *sql, const char *id, px_row_view_fn view,
                int kind, struct json_object **out, struct px_error *err);

/* The SQL condition and ORDER BY that go with px_page_collect, for a table alias "x" with
 * columns created_at and id; it takes the parameters has_cursor, after_created (twice),
 * after_id, then the LIMIT (limit + 1). */
#define PX_PAGE_SQL(alias)                                                                         \
    " AND (? = 0 OR " alias ".created_at < ? OR (" alias ".created_at = ? AND " alias ".id < ?))"  \
    " ORDER BY " alias ".created_at DESC, " alias ".id DESC LIMIT ?"
#define PX_PAGE_PARAMS(pg)                                                                         \
    PX_V_INT((pg).has_cursor), PX_V_INT((pg).after_created), PX_V_INT((pg).after_created),         \
        PX_V_TEXT((pg).after_id), PX_V_INT((pg).limit + 1)

/* 0 when the pipeline exists (not deleted) in the org; the not-found error otherwise. Runs and
 * schedules check their pipeline with it: it sits here, below them, because pipelines.c uses
 * runs and schedules (latest run, schedule state) and the arrows must point one way. */
int px_pipeline_check(const struct px_tenant *t, const char *id, struct px_error *err);

#endif
