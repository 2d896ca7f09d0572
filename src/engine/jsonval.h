/*
 * JSON values as typed cells, shared by the sources that read JSON records (JSON Lines,
 * engine/connectors/jsonl.c; HTTP JSON APIs, engine/connectors/http.c), so both type a record the
 * same way: JSON booleans, integers and decimals give boolean, integer and float columns; a string
 * that is an RFC 3339 date-time with seconds and a zone ("2026-01-02T03:04:05Z", "...+02:00") gives
 * a timestamp column (as CSV text does, engine/connectors/csv.c); other strings, objects and arrays
 * give strings (objects and arrays as compact JSON text).
 */
#ifndef PX_ENGINE_JSONVAL_H
#define PX_ENGINE_JSONVAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
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

/* An estimate of the bytes json-c's DOM of a JSON text takes, computed from the text as it
 * arrives (before json-c parses it), so a source can refuse a document that would not fit its
 * memory budget before it is built. Per value, measured on json-c 0.16 / glibc: an object 784
 * bytes (its hash table), a member 48 + the key, an array 144, an element slot 8, a scalar 64
 * to 96, a string 72 + its bytes; the estimate errs a little high (up to ~1.2x). Start
 * zeroed; feed the text in pieces; cost only grows. */
struct px_json_cost {
    int64_t cost;
    int depth;       /* nesting; levels past the stack count as arrays */
    uint8_t obj[16]; /* bit per level under 128: 1 = object */
    bool in_str, esc, in_lit, key_next;
};
void px__json_cost_feed(struct px_json_cost *c, const char *p, size_t n);

#endif
