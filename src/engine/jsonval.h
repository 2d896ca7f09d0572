/*
 * JSON values as typed cells, shared by the sources that read JSON records (JSON Lines,
 * conn_jsonl.c; HTTP JSON APIs, conn_http.c), so both type a record the same way: JSON
 * booleans, integers and decimals give boolean, integer and float columns; a string that is an
 * RFC 3339 date-time with seconds and a zone ("2026-01-02T03:04:05Z", "...+02:00") gives a
 * timestamp column (as CSV text does, conn_csv.c); other strings, objects and arrays give
 * strings (objects and arrays as compact JSON text).
 */
#ifndef PX_ENGINE_JSONVAL_H
#define PX_ENGINE_JSONVAL_H

#include <json-c/json.h>
#include <stdint.h>

struct px_batch;
struct px_error;

#define PX_JSON_NULL (-1) /* no type: JSON null (or nothing seen yet) */

/* The column type (enum px_col_type) value v suggests, or PX_JSON_NULL. */
int px__json_kind(struct json_object *v);
/* Merges kind k into a column's type so far (PX_JSON_NULL at first): integer + float → float,
 * any other mix → string. */
int px__json_merge(int current, int k);
/* Stores v into cell (col, row) of b, whose column type is fixed: 0, or -PX_EINVALID when v
 * does not fit it (a string where an integer column is, ...). NULL leaves the cell NULL. */
int px__json_cell_set(struct px_batch *b, int col, int64_t row, struct json_object *v);

/* The columns of a set of JSON object records: names in first-seen order, types merged across
 * records with px__json_merge. Start zeroed; names and types are px_xrealloc'd arrays the
 * caller takes over (or frees with px__json_cols_free). */
struct px_json_cols {
    char **names;
    int *types;
    int n;
};
/* Adds record's keys and value kinds: 0, or -PX_ETOOLARGE past PX_BATCH_MAX_COLS keys. */
int px__json_cols_add(struct px_json_cols *c, struct json_object *record, struct px_error *err);
/* Columns that only ever held null become strings. */
void px__json_cols_done(struct px_json_cols *c);
void px__json_cols_free(struct px_json_cols *c);

#endif
