/*
 * Typed columnar record batches: the only form rows take between pipeline stages. A batch
 * holds up to cap rows in columns of one type each (int64, double, bool, string, timestamp in
 * µs since the epoch UTC), with a null bitmap per column. Strings live in the batch's own
 * arena, so a batch owns everything it points to and is freed in one call. Operators edit a
 * batch in place (compact rows, add, drop, reorder or rename columns).
 *
 * Memory: a batch counts the bytes it has allocated (bytes) and, once accounted to a node's
 * memory account (engine/budget.h), keeps that account charged with them: px_batch_account
 * brings the charge up to date, px_batch_rehome moves it to another node, and destroying the
 * batch releases it. Sources end a batch early when its strings pass PX_BATCH_TARGET_BYTES
 * (px_batch_full), so that a batch of very long values stays small.
 */
#ifndef PX_ENGINE_BATCH_H
#define PX_ENGINE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct px_value;
struct px_error;
struct px_buf;

enum px_col_type {
    PX_COL_INT = 0,   /* int64_t */
    PX_COL_FLOAT,     /* double */
    PX_COL_BOOL,      /* uint8_t 0/1 */
    PX_COL_STRING,    /* const char *, NUL-terminated UTF-8 in the batch arena */
    PX_COL_TIMESTAMP, /* int64_t µs since the epoch UTC */
};

/* int and float: the types that compare, sum and widen as numbers. */
static inline bool px_col_numeric(enum px_col_type t)
{
    return t == PX_COL_INT || t == PX_COL_FLOAT;
}

#define PX_BATCH_MAX_COLS 1000
#define PX_BATCH_DEFAULT_ROWS 4096
#define PX_BATCH_TARGET_BYTES ((int64_t)8 << 20) /* string bytes after which a batch is full */

struct px_column {
    char *name; /* owned */
    enum px_col_type type;
    uint8_t *nulls; /* bitmap, bit set = NULL; cap bits */
    union {
        int64_t *i;     /* INT, TIMESTAMP */
        double *f;      /* FLOAT */
        uint8_t *b;     /* BOOL */
        const char **s; /* STRING: point into the arena */
    } v;
};

struct px_arena_block;
struct px_mem;

struct px_batch {
    int ncols;
    struct px_column *cols; /* ncols entries, room for cols_cap */
    int cols_cap;
    int64_t nrows; /* rows in use */
    int64_t cap;   /* rows allocated per column */
    struct px_arena_block *arena;
    int64_t first_row;   /* 1-based number of the first row in its source, for messages */
    int64_t bytes;       /* allocated: the struct, column arrays, names and arena blocks */
    int64_t arena_bytes; /* of which in string arena blocks */
    struct px_mem *mem;  /* the account charged, or NULL */
    int64_t charged;     /* bytes charged to mem */
};

const char *px_col_type_name(enum px_col_type t);

/* A batch with no columns and room for cap rows. Never NULL (allocation aborts). */
struct px_batch *px_batch_create(int64_t cap);
void px_batch_destroy(struct px_batch *b);
/* A deep copy (for fan-out). */
struct px_batch *px_batch_clone(const struct px_batch *b);
/* Adds an empty column (all rows NULL); returns its index. */
int px_batch_add_column(struct px_batch *b, const char *name, enum px_col_type type);
/* Charges b's bytes to m (once b has an account: to that account) as they are now. */
void px_batch_account(struct px_batch *b, struct px_mem *m);
/* Moves b's charge to account m (NULL: keeps its account) and brings it up to date. */
void px_batch_rehome(struct px_batch *b, struct px_mem *m);
/* Whether a source should end b: cap rows, or PX_BATCH_TARGET_BYTES of strings. */
static inline bool px_batch_full(const struct px_batch *b)
{
    return b->nrows >= b->cap || b->arena_bytes >= PX_BATCH_TARGET_BYTES;
}
/* Rows per batch for ncols columns: rows, or fewer so that the column arrays of a wide batch
 * stay within about PX_BATCH_TARGET_BYTES (at least 64). */
int64_t px_batch_rows_for(int ncols, int64_t rows);
/* Index of the column named name, or -1. */
int px_batch_find(const struct px_batch *b, const char *name);
/* Removes column i. */
void px_batch_remove_column(struct px_batch *b, int i);
/* Copies len bytes of s (plus a NUL) into the arena. */
const char *px_batch_strdup(struct px_batch *b, const char *s, size_t len);

static inline bool px_batch_is_null(const struct px_column *c, int64_t row)
{
    return (c->nulls[row >> 3] >> (row & 7)) & 1;
}
void px_batch_set_null(struct px_column *c, int64_t row, bool null);

/* Reads a cell as a px_value (a string is borrowed from the batch). */
void px_batch_get(const struct px_batch *b, int col, int64_t row, struct px_value *out);
/* Stores v in a cell, converting int → float and timestamp-looking strings only where
 * lossless; a string is copied into the arena. -PX_EINVALID with err naming the column when
 * the value does not fit the column's type. */
int px_batch_set(struct px_batch *b, int col, int64_t row, const struct px_value *v,
                 struct px_error *err);
/* Keeps the rows whose keep[] entry is true, in order. */
void px_batch_compact(struct px_batch *b, const bool *keep);
/* Moves b's columns, rows and arena into a new heap batch and leaves b empty (no columns,
 * no rows), still valid to destroy. */
struct px_batch *px_batch_take(struct px_batch *b);
/* Merges b's columns into a schema of *ncols names and types (both grown with px_xrealloc):
 * a new name is appended, an int/float mismatch widens to float. Returns -1, or at the first
 * other type clash the index in b of that column with *was set to the schema's type. */
int px_batch_merge_schema(char ***names, enum px_col_type **types, int *ncols,
                          const struct px_batch *b, enum px_col_type *was);
/* Copies cell (src, sc, sr) into (dst, dc, dr), widening int → float when dst is FLOAT; a
 * NULL source leaves the destination untouched (new columns start NULL). */
void px_batch_copy_cell(struct px_batch *dst, int dc, int64_t dr, const struct px_batch *src,
                        int sc, int64_t sr);
/* Appends row's key over columns cols[0..n) to key: per column a tag byte ('N' for NULL,
 * else 'a' + type) then the value (string with its NUL, bool 1 byte, others 8 bytes).
 * Negative when key would grow past its cap (the key is then partial). */
int px_batch_row_key(const struct px_batch *b, const int *cols, size_t n, int64_t row,
                     struct px_buf *key);

/* Compares two non-NULL-or-NULL cells of comparable types (NULL smallest; strings bytewise;
 * int and float numerically): negative, 0 or positive. */
int px_batch_cmp_cells(const struct px_column *a, int64_t ra, const struct px_column *b,
                       int64_t rb);
/* Ends rewriting column old into column neu (the last one): moves neu into old's place when
 * rc >= 0, else drops neu and leaves old as it was. */
void px_batch_settle_column(struct px_batch *b, int old, int neu, int rc);

/* Engine-private error helpers (px__: shared by the operators and connectors, not an API). */
/* "column 'x' not found (columns: a, b)": -PX_EINVALID. */
int px__no_column(const struct px_batch *b, const char *name, struct px_error *err);
/* Prefixes err's message with "row N: " (N 1-based in the source); returns -PX_EINVALID. */
int px__row_error(const struct px_batch *b, int64_t row, struct px_error *err);

#endif
