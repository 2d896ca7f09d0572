/*
 * The PostgreSQL connector's destination (engine/connectors/pg.c has the rest of the connector).
 *
 * Destination: everything in one transaction (closing without commit rolls back). A missing
 * table is created (integer → bigint, float → double precision, boolean → boolean, string →
 * text, timestamp → timestamptz); an existing one must have every input column (only those are
 * written). Rows are loaded with `COPY t (cols) FROM STDIN` in binary format, each value
 * converted to the existing column's type (a value that does not fit is an error naming the
 * row and column); when a column's type is one we do not encode in binary the whole load uses
 * text format and the server parses it. Modes: append (COPY into the table); replace
 * (TRUNCATE + COPY in the same transaction: readers see the old rows until commit, then the
 * new ones, never an empty or half-loaded table; TRUNCATE's ACCESS EXCLUSIVE lock makes
 * readers of that table wait until commit); upsert by keys (COPY into a temporary staging
 * table with a sequence number, keep the last row per key, then INSERT ... ON CONFLICT (keys)
 * DO UPDATE when a unique index covers exactly the keys, else UPDATE ... FROM + INSERT ...
 * WHERE NOT EXISTS; rows with a NULL key never match an existing row).
 */
#include "engine/connectors/pg.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/exec_int.h"
#include "engine/connectors/pq_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_BYTES (256 * 1024) /* bytes per PQputCopyData */

/* ---- destination ---- */

enum pgmode { M_APPEND, M_REPLACE, M_UPSERT };

struct pgdst {
    PGconn *conn;
    enum pgmode mode;
    char *table; /* as configured */
    struct px_buf qname;
    struct json_object *keys;
    bool in_tx, started, copying, committed, existed, unique_keys;
    struct pg_encoder enc;
    struct px_buf out;
    int64_t rows;
};

void px__pg_dst_close(void *state)
{
    struct pgdst *s = state;
    if (!s)
        return;
    /* Closing the connection without COMMIT rolls everything back on the server. */
    PQfinish(s->conn);
    free(s->table);
    px_buf_cleanup(&s->qname);
    px_buf_cleanup(&s->out);
    px__pg_encoder_cleanup(&s->enc);
    free(s);
}

int px__pg_dst_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    const char *table = px_json_get_str(ctx->config, "table");
    if (!table || !*table)
        return px_error_set(err, PX_EINVALID, "postgres: config.table is required");
    struct pgdst *s = px_xcalloc(1, sizeof(*s));
    const char *mode = px_json_get_str(ctx->config, "mode");
    s->mode = !mode || strcmp(mode, "append") == 0 ? M_APPEND
              : strcmp(mode, "replace") == 0       ? M_REPLACE
                                                   : M_UPSERT;
    s->keys = px_json_get(ctx->config, "keys");
    if (s->mode == M_UPSERT && (!s->keys || json_object_array_length(s->keys) == 0)) {
        free(s);
        return px_error_set(err, PX_EINVALID, "postgres: mode upsert needs keys");
    }
    s->table = px_xstrdup(table);
    px_buf_init(&s->qname, 2000);
    px__pg_quote_table(&s->qname, table);
    px_buf_init(&s->out, (size_t)1 << 31);
    int rc = px__pg_connect(ctx, false, &s->conn, err);
    if (rc == 0)
        rc = px__pg_exec(s->conn, "BEGIN", "starting a transaction", err);
    if (rc < 0) {
        px__pg_dst_close(s);
        return rc;
    }
    s->in_tx = true;
    *state_out = s;
    return 0;
}

/* The destination's columns (name, type oid) when the table exists; *exists false if not. */
static int dst_lookup(struct pgdst *s, bool *exists, PGresult **cols, struct px_error *err)
{
    const char *vals[1] = {s->qname.data};
    *cols = NULL;
    PGresult *r =
        PQexecParams(s->conn, "SELECT to_regclass($1)::oid", 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = px__pg_res_error(s->conn, r, "looking up the table", err);
        PQclear(r);
        return rc;
    }
    *exists = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0);
    PQclear(r);
    if (!*exists)
        return 0;
    r = PQexecParams(s->conn,
                     "SELECT a.attname, a.atttypid FROM pg_attribute a WHERE a.attrelid = "
                     "to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                     1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = px__pg_res_error(s->conn, r, "looking up the table's columns", err);
        PQclear(r);
        return rc;
    }
    *cols = r;
    return 0;
}

/* Whether a unique, non-partial index of the table covers exactly the key columns. */
static int dst_has_unique(struct pgdst *s, bool *out, struct px_error *err)
{
    struct px_buf names;
    px_buf_init(&names, 100000);
    (void)px_buf_puts(&names, "{");
    size_t nk = json_object_array_length(s->keys);
    for (size_t k = 0; k < nk; k++) {
        const char *n = json_object_get_string(json_object_array_get_idx(s->keys, k));
        (void)px_buf_puts(&names, k ? ",\"" : "\"");
        for (const char *p = n; *p; p++) {
            if (*p == '"' || *p == '\\')
                (void)px_buf_puts(&names, "\\");
            (void)px_buf_append(&names, p, 1);
        }
        (void)px_buf_puts(&names, "\"");
    }
    (void)px_buf_puts(&names, "}");
    const char *vals[2] = {s->qname.data, names.data};
    PGresult *r = PQexecParams(
        s->conn,
        "SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique AND "
        "i.indpred IS NULL AND i.indexprs IS NULL AND (SELECT array_agg(a.attname::text ORDER "
        "BY a.attname) FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY "
        "(i.indkey)) = (SELECT array_agg(x ORDER BY x) FROM unnest($2::text[]) x) AND "
        "i.indnkeyatts = cardinality($2::text[])",
        2, NULL, vals, NULL, NULL, 0);
    px_buf_cleanup(&names);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = px__pg_res_error(s->conn, r, "looking up the table's indexes", err);
        PQclear(r);
        return rc;
    }
    *out = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

static const char *create_type(enum px_col_type t)
{
    switch (t) {
    case PX_COL_INT:
        return "bigint";
    case PX_COL_FLOAT:
        return "double precision";
    case PX_COL_BOOL:
        return "boolean";
    case PX_COL_TIMESTAMP:
        return "timestamptz";
    case PX_COL_STRING:
        return "text";
    }
    return "text";
}

static void put_col_list(struct px_buf *q, const struct px_batch *b, const char *prefix)
{
    for (int i = 0; i < b->ncols; i++) {
        (void)px_buf_puts(q, i ? ", " : "");
        if (prefix)
            (void)px_buf_puts(q, prefix);
        px__pg_quote_ident(q, b->cols[i].name, strlen(b->cols[i].name));
    }
}

static int dst_start(struct pgdst *s, const struct px_batch *b, struct px_error *err)
{
    bool exists = false;
    PGresult *cols = NULL;
    struct px_buf q;
    px_buf_init(&q, 4 << 20);
    int rc = dst_lookup(s, &exists, &cols, err);
    if (rc < 0)
        goto out;
    s->existed = exists;
    px__pg_encoder_init(&s->enc, b->ncols + (s->mode == M_UPSERT ? 1 : 0));
    if (!exists) {
        (void)px_buf_printf(&q, "CREATE TABLE %s (", s->qname.data);
        for (int i = 0; i < b->ncols; i++) {
            (void)px_buf_puts(&q, i ? ", " : "");
            px__pg_quote_ident(&q, b->cols[i].name, strlen(b->cols[i].name));
            (void)px_buf_printf(&q, " %s", create_type(b->cols[i].type));
        }
        (void)px_buf_puts(&q, ")");
        if ((rc = px__pg_exec(s->conn, q.data, "creating the table", err)) < 0)
            goto out;
        for (int i = 0; i < b->ncols; i++)
            px__pg_encoder_set(&s->enc, i, b->cols[i].name, b->cols[i].type,
                               px__pg_oid_for(b->cols[i].type));
    } else {
        int nt = PQntuples(cols);
        struct px_buf missing;
        px_buf_init(&missing, 400);
        for (int i = 0; i < b->ncols; i++) {
            int found = -1;
            for (int t = 0; t < nt && found < 0; t++)
                if (strcmp(PQgetvalue(cols, t, 0), b->cols[i].name) == 0)
                    found = t;
            if (found < 0) {
                (void)px_buf_printf(&missing, "%s'%s'", missing.len ? ", " : "", b->cols[i].name);
                continue;
            }
            px__pg_encoder_set(&s->enc, i, b->cols[i].name, b->cols[i].type,
                               (unsigned)strtoul(PQgetvalue(cols, found, 1), NULL, 10));
        }
        if (missing.len) {
            struct px_buf have;
            px_buf_init(&have, 300);
            for (int t = 0; t < nt; t++)
                (void)px_buf_printf(&have, "%s%s", t ? ", " : "", PQgetvalue(cols, t, 0));
            rc = px_error_set(err, PX_EINVALID,
                              "postgres: table '%s' has no column %s (columns: "
                              "%s%s)",
                              s->table, missing.data, have.data ? have.data : "",
                              have.len >= 290 ? ", ..." : "");
            px_error_hint(err, "add the column to the table, or rename or drop it upstream "
                               "(rename/select/drop transforms)");
            px_buf_cleanup(&have);
        }
        px_buf_cleanup(&missing);
        if (rc < 0)
            goto out;
    }
    const char *target = s->qname.data;
    if (s->mode == M_REPLACE && exists) {
        px_buf_reset(&q);
        (void)px_buf_printf(&q, "TRUNCATE %s", s->qname.data);
        if ((rc = px__pg_exec(s->conn, q.data, "emptying the table", err)) < 0)
            goto out;
    } else if (s->mode == M_UPSERT) {
        size_t nk = json_object_array_length(s->keys);
        for (size_t k = 0; k < nk; k++) {
            const char *name = json_object_get_string(json_object_array_get_idx(s->keys, k));
            if (px_batch_find(b, name) < 0) {
                rc = px_error_set(err, PX_EINVALID,
                                  "postgres: key column '%s' is not in the "
                                  "input",
                                  name);
                goto out;
            }
        }
        if (exists && (rc = dst_has_unique(s, &s->unique_keys, err)) < 0)
            goto out;
        px_buf_reset(&q);
        (void)px_buf_puts(&q, "CREATE TEMP TABLE px_stage ON COMMIT DROP AS SELECT ");
        put_col_list(&q, b, NULL);
        (void)px_buf_printf(&q, ", 0::bigint AS px_seq FROM %s WITH NO DATA", s->qname.data);
        if ((rc = px__pg_exec(s->conn, q.data, "creating the staging table", err)) < 0)
            goto out;
        px__pg_encoder_set(&s->enc, b->ncols, "px_seq", PX_COL_INT, 20);
        target = "px_stage";
    }
    px_buf_reset(&q);
    (void)px_buf_printf(&q, "COPY %s (", target);
    put_col_list(&q, b, NULL);
    if (s->mode == M_UPSERT)
        (void)px_buf_puts(&q, ", px_seq");
    (void)px_buf_printf(&q, ") FROM STDIN%s", s->enc.binary ? " (FORMAT binary)" : "");
    PGresult *r = PQexec(s->conn, q.data);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        rc = px__pg_res_error(s->conn, r, "starting the load", err);
        PQclear(r);
        goto out;
    }
    PQclear(r);
    s->copying = true;
    if (s->enc.binary)
        px__pg_encode_header(&s->out);
out:
    PQclear(cols);
    px_buf_cleanup(&q);
    s->started = rc == 0;
    return rc;
}

static int dst_flush(struct pgdst *s, struct px_error *err)
{
    if (!s->out.len)
        return 0;
    if (PQputCopyData(s->conn, s->out.data, (int)s->out.len) != 1)
        return px__pg_res_error(s->conn, NULL, "sending rows", err);
    px_buf_reset(&s->out);
    return 0;
}

int px__pg_dst_write(void *state, const struct px_batch *b, struct px_error *err)
{
    struct pgdst *s = state;
    int rc;
    if (!s->started && (rc = dst_start(s, b, err)) < 0)
        return rc;
    if (s->enc.ncols != b->ncols + (s->mode == M_UPSERT ? 1 : 0))
        return px_error_set(err, PX_EINVALID, "the input's columns changed between batches");
    for (int i = 0; i < b->ncols; i++)
        if (strcmp(s->enc.names[i], b->cols[i].name) != 0 || s->enc.from[i] != b->cols[i].type)
            return px_error_set(err, PX_EINVALID, "the input's columns changed between batches");
    for (int64_t r = 0; r < b->nrows; r++) {
        rc = px__pg_encode_row(&s->enc, &s->out, b, r, s->rows + 1, err);
        if (rc < 0)
            return rc;
        s->rows++;
        if (s->out.len >= FLUSH_BYTES && (rc = dst_flush(s, err)) < 0)
            return rc;
    }
    return 0;
}

/* The load's error: names the row (from the COPY context's line) and column when known. */
static int copy_error(struct pgdst *s, PGresult *r, struct px_error *err)
{
    int rc = px__pg_res_error(s->conn, r, "loading rows", err);
    const char *ctx = r ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
    const char *line = ctx ? strstr(ctx, ", line ") : NULL;
    if (!line)
        return rc;
    long long n = strtoll(line + 7, NULL, 10);
    const char *col = strstr(line, ", column ");
    char cname[128] = "";
    if (col) {
        col += 9;
        size_t len = strcspn(col, ":\n");
        snprintf(cname, sizeof(cname), "%.*s", (int)(len < 127 ? len : 127), col);
    }
    char msg[sizeof(err->message)];
    if (cname[0])
        snprintf(msg, sizeof(msg), "row %lld, column '%.100s': %.360s", n, cname, err->message);
    else
        snprintf(msg, sizeof(msg), "row %lld: %.460s", n, err->message);
    snprintf(err->message, sizeof(err->message), "%s", msg);
    return rc;
}

static int dst_end_copy(struct pgdst *s, struct px_error *err)
{
    int rc = 0;
    if (s->enc.binary)
        px__pg_encode_trailer(&s->out);
    if ((rc = dst_flush(s, err)) < 0)
        return rc;
    s->copying = false;
    if (PQputCopyEnd(s->conn, NULL) != 1)
        return px__pg_res_error(s->conn, NULL, "finishing the load", err);
    PGresult *r;
    while ((r = PQgetResult(s->conn))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0)
            rc = copy_error(s, r, err);
        PQclear(r);
    }
    return rc;
}

static void put_key_match(struct px_buf *q, struct json_object *keys, const char *a, const char *b)
{
    size_t nk = json_object_array_length(keys);
    for (size_t k = 0; k < nk; k++) {
        const char *n = json_object_get_string(json_object_array_get_idx(keys, k));
        (void)px_buf_printf(q, "%s%s.", k ? " AND " : "", a);
        px__pg_quote_ident(q, n, strlen(n));
        (void)px_buf_printf(q, " = %s.", b);
        px__pg_quote_ident(q, n, strlen(n));
    }
}

static bool is_key(struct json_object *keys, const char *name)
{
    size_t nk = json_object_array_length(keys);
    for (size_t k = 0; k < nk; k++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(keys, k)), name) == 0)
            return true;
    return false;
}

/* "p.a, p.b, ..." over the first n loaded columns (p: "" or an alias with its dot); the
 * staging table's last column is its row number, px_seq. */
static void put_columns(struct px_buf *q, const struct pgdst *s, int n, const char *p)
{
    for (int i = 0; i < n; i++) {
        (void)px_buf_puts(q, i ? ", " : "");
        (void)px_buf_puts(q, p);
        px__pg_quote_ident(q, s->enc.names[i], strlen(s->enc.names[i]));
    }
}

/* "a = p.a, ..." over the first n loaded columns that are not keys. */
static void put_assignments(struct px_buf *q, const struct pgdst *s, int n, const char *p)
{
    int w = 0;
    for (int i = 0; i < n; i++) {
        if (is_key(s->keys, s->enc.names[i]))
            continue;
        (void)px_buf_puts(q, w++ ? ", " : "");
        px__pg_quote_ident(q, s->enc.names[i], strlen(s->enc.names[i]));
        (void)px_buf_puts(q, " = ");
        (void)px_buf_puts(q, p);
        px__pg_quote_ident(q, s->enc.names[i], strlen(s->enc.names[i]));
    }
}

/* Merges the staging table into the target: the last row per key wins. */
static int dst_merge(struct pgdst *s, struct px_error *err)
{
    struct px_buf q;
    px_buf_init(&q, 4 << 20);
    size_t nk = json_object_array_length(s->keys);
    int nc = s->enc.ncols - 1;
    (void)px_buf_puts(&q, "CREATE TEMP TABLE px_last ON COMMIT DROP AS SELECT DISTINCT ON (");
    for (size_t k = 0; k < nk; k++) {
        const char *n = json_object_get_string(json_object_array_get_idx(s->keys, k));
        (void)px_buf_puts(&q, k ? ", " : "");
        px__pg_quote_ident(&q, n, strlen(n));
    }
    (void)px_buf_puts(&q, ") * FROM px_stage ORDER BY ");
    for (size_t k = 0; k < nk; k++) {
        const char *n = json_object_get_string(json_object_array_get_idx(s->keys, k));
        px__pg_quote_ident(&q, n, strlen(n));
        (void)px_buf_puts(&q, ", ");
    }
    (void)px_buf_puts(&q, "px_seq DESC");
    int rc = px__pg_exec(s->conn, q.data, "merging rows", err);
    int nset = 0;
    for (int i = 0; i < nc; i++)
        nset += !is_key(s->keys, s->enc.names[i]);
    if (rc == 0 && s->unique_keys) {
        px_buf_reset(&q);
        (void)px_buf_printf(&q, "INSERT INTO %s AS t (", s->qname.data);
        put_columns(&q, s, nc, "");
        (void)px_buf_puts(&q, ") SELECT ");
        put_columns(&q, s, nc, "");
        (void)px_buf_puts(&q, " FROM px_last ON CONFLICT (");
        for (size_t k = 0; k < nk; k++) {
            const char *n = json_object_get_string(json_object_array_get_idx(s->keys, k));
            (void)px_buf_puts(&q, k ? ", " : "");
            px__pg_quote_ident(&q, n, strlen(n));
        }
        (void)px_buf_puts(&q, nset ? ") DO UPDATE SET " : ") DO NOTHING");
        put_assignments(&q, s, nc, "EXCLUDED.");
        rc = px__pg_exec(s->conn, q.data, "upserting rows", err);
    } else if (rc == 0) {
        if (nset) {
            px_buf_reset(&q);
            (void)px_buf_printf(&q, "UPDATE %s AS t SET ", s->qname.data);
            put_assignments(&q, s, nc, "s.");
            (void)px_buf_puts(&q, " FROM px_last AS s WHERE ");
            put_key_match(&q, s->keys, "t", "s");
            rc = px__pg_exec(s->conn, q.data, "updating rows", err);
        }
        if (rc == 0) {
            px_buf_reset(&q);
            (void)px_buf_printf(&q, "INSERT INTO %s (", s->qname.data);
            put_columns(&q, s, nc, "");
            (void)px_buf_puts(&q, ") SELECT ");
            put_columns(&q, s, nc, "s.");
            (void)px_buf_printf(&q,
                                " FROM px_last AS s WHERE NOT EXISTS (SELECT 1 FROM %s AS t "
                                "WHERE ",
                                s->qname.data);
            put_key_match(&q, s->keys, "t", "s");
            (void)px_buf_puts(&q, ")");
            rc = px__pg_exec(s->conn, q.data, "inserting rows", err);
        }
    }
    px_buf_cleanup(&q);
    return rc;
}

int px__pg_dst_commit(void *state, struct px_error *err)
{
    struct pgdst *s = state;
    int rc = 0;
    if (s->copying)
        rc = dst_end_copy(s, err);
    if (rc == 0 && s->started && s->mode == M_UPSERT)
        rc = dst_merge(s, err);
    if (rc == 0 && !s->started && s->mode == M_REPLACE) { /* no rows: the table is emptied */
        bool exists = false;
        PGresult *cols = NULL;
        rc = dst_lookup(s, &exists, &cols, err);
        PQclear(cols);
        if (rc == 0 && exists) {
            struct px_buf q;
            px_buf_init(&q, 4000);
            (void)px_buf_printf(&q, "TRUNCATE %s", s->qname.data);
            rc = px__pg_exec(s->conn, q.data, "emptying the table", err);
            px_buf_cleanup(&q);
        }
    }
    if (rc == 0)
        rc = px__pg_exec(s->conn, "COMMIT", "committing", err);
    if (rc == 0)
        s->committed = true;
    return rc;
}
