/*
 * Private interface between the parts of the PostgreSQL connector: engine/connectors/pg.c
 * (connections, errors, source, probe), engine/connectors/pg_dst.c (destination) and
 * engine/connectors/pg_copy.c (the COPY codec): decoding `COPY ... TO STDOUT (FORMAT binary)` rows
 * straight into batch columns, and encoding batch rows for `COPY ... FROM STDIN` in binary format
 * (or text format when a destination column has a type the binary encoder does not handle).
 */
#ifndef PX_ENGINE_CONN_PG_H
#define PX_ENGINE_CONN_PG_H

#include "engine/batch.h"
#include "engine/connectors/pq_api.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct px_buf;
struct px_error;
struct px_node_ctx;

/* ---- engine/connectors/pg.c: connections and errors ---- */

/* Connects with the node's params (readonly: a read-only session). 0 or negative with err set
 * (a clear message without the password; retryable for transient failures). */
int px__pg_connect(const struct px_node_ctx *ctx, bool readonly, PGconn **out,
                   struct px_error *err);
/* The error of a failed statement (res may be NULL: connection lost): SQLSTATE classes mapped to
 * codes, retryable and a hint; what says what was being done. Returns the negative code. */
int px__pg_res_error(PGconn *conn, const PGresult *res, const char *what, struct px_error *err);
/* Runs a statement whose rows, if any, are ignored. */
int px__pg_exec(PGconn *conn, const char *sql, const char *what, struct px_error *err);
/* Appends name (len bytes) quoted as an identifier. */
void px__pg_quote_ident(struct px_buf *b, const char *name, size_t len);
/* Appends "schema.table" as "schema"."table" (split at the first dot), or "table". */
void px__pg_quote_table(struct px_buf *b, const char *name);

/* ---- engine/connectors/pg_dst.c: the destination callbacks (exec_int.h) ---- */

int px__pg_dst_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err);
int px__pg_dst_write(void *state, const struct px_batch *b, struct px_error *err);
int px__pg_dst_commit(void *state, struct px_error *err);
void px__pg_dst_close(void *state);

/* ---- engine/connectors/pg_copy.c: the COPY codec ---- */

/* How a result column is decoded; PG_D_CAST: the SELECT casts it to text (read as TEXT). */
enum pg_dec_kind {
    PG_D_INT2,
    PG_D_INT4,
    PG_D_INT8,
    PG_D_FLOAT4,
    PG_D_FLOAT8,
    PG_D_NUMERIC,
    PG_D_BOOL,
    PG_D_TEXT,
    PG_D_BPCHAR, /* char(n): read without its padding, as PostgreSQL's own ::text does */
    PG_D_JSONB,
    PG_D_UUID,
    PG_D_TS,
    PG_D_DATE,
    PG_D_CAST,
};

struct pg_decoder {
    int ncols;
    char **names;           /* owned */
    enum pg_dec_kind *kind; /* per column */
    enum px_col_type *type; /* the batch column type */
    bool header_done;
    int64_t rownum; /* rows decoded so far */
};

void px__pg_decoder_init(struct pg_decoder *d, int ncols);
/* Column i of the result is called name and has type oid. */
void px__pg_decoder_set(struct pg_decoder *d, int i, const char *name, unsigned oid);
void px__pg_decoder_cleanup(struct pg_decoder *d);
/* An empty batch with the decoder's columns and room for cap rows. */
struct px_batch *px__pg_decoder_batch(const struct pg_decoder *d, int64_t cap);
/* Decodes the COPY data at buf[*pos..len) (the header first, once) into the next row of b:
 * 1 when a row was added, 2 when only the header was there, 0 at the trailer, or negative with
 * err set for malformed data. *pos advances past what was read. */
int px__pg_decode_row(struct pg_decoder *d, struct px_batch *b, const char *buf, size_t len,
                      size_t *pos, struct px_error *err);

struct pg_encoder {
    int ncols;
    char **names;           /* owned */
    enum px_col_type *from; /* the batch column type */
    unsigned *oid;          /* the destination column type */
    int *kind;              /* encoder per column */
    bool binary;            /* false when some column needs text format */
};

/* The type oid a created table uses for a batch type (bigint, float8, bool, text, timestamptz). */
unsigned px__pg_oid_for(enum px_col_type t);
void px__pg_encoder_init(struct pg_encoder *e, int ncols);
void px__pg_encoder_set(struct pg_encoder *e, int i, const char *name, enum px_col_type from,
                        unsigned oid);
void px__pg_encoder_cleanup(struct pg_encoder *e);
void px__pg_encode_header(struct px_buf *out);
void px__pg_encode_trailer(struct px_buf *out);
/* Appends row r of b (its columns 0..b->ncols-1, then seq as an int8 when the encoder has one
 * more column). -PX_EINVALID with err naming the row and column when a value does not fit. */
int px__pg_encode_row(const struct pg_encoder *e, struct px_buf *out, const struct px_batch *b,
                      int64_t r, int64_t seq, struct px_error *err);

#endif
