/*
 * Private to the connectors' describe callbacks (pg_schema.c, mysql_schema.c, sqlite_schema.c,
 * files_schema.c) and engine/schema.c: the builder of the bounded document engine/schema.h
 * describes. The builder counts the bytes it adds (an estimate on the safe side) and refuses
 * what would pass the size cap, marking the document truncated; px__desc_finish checks the
 * real size once more. Every add function copies what it is given.
 */
#ifndef PX_ENGINE_CONN_DESCRIBE_H
#define PX_ENGINE_CONN_DESCRIBE_H

#include "engine/schema.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct px_desc {
    struct px_describe_opts o;  /* the caps, defaults filled in */
    struct json_object *doc;    /* owned until px__desc_finish */
    struct json_object *tables; /* borrowed from doc */
    int64_t bytes;              /* estimated size of doc as JSON text */
    int64_t deadline_us;        /* the whole description (monotonic µs) */
    int64_t sample_deadline_us; /* sampling stops here */
    bool full;                  /* the size cap was reached: nothing more is added */
    int64_t table_count;        /* set by the callback; -1 (null) when unknown */
    bool sampled; /* starts true unless sampling is off; the callback clears it when the time
                   * cap stopped sampling before every candidate column */
};

void px__desc_init(struct px_desc *d, const char *type, const struct px_describe_opts *o);
void px__desc_cleanup(struct px_desc *d);
/* Marks the document truncated by reason ("tables", "columns", "size", "time"), once each. */
void px__desc_truncated(struct px_desc *d, const char *reason);
/* Starts the sampling window: sampling stops sample_ms from now (or at the deadline). */
void px__desc_sample_start(struct px_desc *d);
/* Milliseconds left before the deadline (sampling: the sampling deadline), at least 0. */
int px__desc_left_ms(const struct px_desc *d, bool sampling);

/* Appends a table (schema may be NULL) and returns it (borrowed), or NULL when the size cap
 * is reached (the document is marked truncated). */
struct json_object *px__desc_table(struct px_desc *d, const char *schema, const char *name,
                                   const char *kind);
/* Sets row_estimate (negative: null). */
void px__desc_rows(struct json_object *t, int64_t rows);
/* Appends a column to t (type: an enum px_col_type; db_type may be NULL) and returns it, or
 * NULL when t already has max_columns (t is marked truncated) or the size cap is reached.
 * column_count counts it either way. */
struct json_object *px__desc_column(struct px_desc *d, struct json_object *t, const char *name,
                                    int type, const char *db_type, bool nullable);
/* The index of column name in t's columns[], or -1. */
int px__desc_find_column(struct json_object *t, const char *name);
/* Sets primary_key, or appends to unique_keys, the n column names. */
void px__desc_key(struct px_desc *d, struct json_object *t, bool primary, const char *const *cols,
                  int n);
/* Appends a foreign key (columns and references from JSON arrays of strings, borrowed). */
void px__desc_fk(struct px_desc *d, struct json_object *t, struct json_object *cols,
                 const char *ref_schema, const char *ref_table, struct json_object *ref_cols);

/* The distinct values of one column while they are few enough to be a category. */
struct px_desc_values {
    char *v[51];
    int n;
    int max;   /* max_values */
    bool over; /* more than max distinct values, or one longer than PX_DESCRIBE_VALUE_BYTES */
};
void px__desc_values_init(struct px_desc_values *s, const struct px_desc *d);
/* Adds one non-NULL value; false once the column is not a category (stop feeding it). */
bool px__desc_values_add(struct px_desc_values *s, const char *v, size_t len);
/* Sets column c's values[] (sorted) unless over or empty, within the size cap; frees s. */
void px__desc_values_set(struct px_desc *d, struct json_object *c, struct px_desc_values *s);
void px__desc_values_cleanup(struct px_desc_values *s);

/* Ends the document: sets table_count and sampled, drops trailing tables while the text passes
 * max_bytes, and hands the document over (owned). */
struct json_object *px__desc_finish(struct px_desc *d);

#endif
