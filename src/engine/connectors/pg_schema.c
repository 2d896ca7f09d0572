/*
 * The PostgreSQL connector's describe callback (engine/schema.h). The connection is the one a
 * source opens (px__pg_connect read-only: egress policy, sslmode, connect timeout,
 * default_transaction_read_only), with statement_timeout holding each statement to what is left
 * of the description's time (sampling: of its window). The catalog is read from pg_class,
 * pg_attribute, pg_index and pg_constraint with parameters ($1: the caps, the table oids):
 * tables, partitioned tables, views, materialized views and foreign tables the user may SELECT,
 * outside pg_catalog, information_schema and pg_toast (partitions are described through their
 * parent), the current schema first. Engine types are what the source's COPY decoder gives each
 * column's type (a domain by its base type; px__pg_decoder_set), row estimates pg_class.reltuples
 * (null when never analyzed). Values are sampled for string and enum columns.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/text.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/connectors/describe.h"
#include "engine/connectors/pg.h"
#include "engine/connectors/pq_api.h"
#include "engine/exec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char TABLES_SQL[] =
    "SELECT c.oid::int8, n.nspname, c.relname, c.relkind::text, c.reltuples::float8, "
    "count(*) OVER () FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = "
    "c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition AND "
    "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' AND "
    "pg_catalog.has_table_privilege(c.oid, 'SELECT') ORDER BY n.nspname <> "
    "pg_catalog.current_schema(), n.nspname, c.relname LIMIT $1";

static const char COLUMNS_SQL[] =
    "SELECT q.attrelid::int8, q.attname, q.tname, q.base::int8, q.nullable, q.cat, q.total "
    "FROM (SELECT a.attrelid, a.attnum, a.attname, pg_catalog.format_type(a.atttypid, "
    "a.atttypmod) AS tname, CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END "
    "AS base, NOT a.attnotnull AS nullable, bt.typcategory::text AS cat, row_number() OVER w "
    "AS rn, count(*) OVER (PARTITION BY a.attrelid) AS total FROM pg_catalog.pg_attribute a "
    "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid JOIN pg_catalog.pg_type bt ON bt.oid = "
    "CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END WHERE a.attrelid = "
    "ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped WINDOW w AS (PARTITION BY "
    "a.attrelid ORDER BY a.attnum)) q WHERE q.rn <= $2 ORDER BY q.attrelid, q.attnum";

static const char KEYS_SQL[] =
    "SELECT i.indrelid::int8, i.indisprimary, (SELECT json_agg(a.attname ORDER BY k.i) FROM "
    "unnest(i.indkey::int2[]) WITH ORDINALITY k(n, i) JOIN pg_catalog.pg_attribute a ON "
    "a.attrelid = i.indrelid AND a.attnum = k.n WHERE k.i <= i.indnkeyatts)::text FROM "
    "pg_catalog.pg_index i WHERE i.indrelid = ANY($1::oid[]) AND i.indisunique AND i.indisvalid "
    "AND i.indexprs IS NULL AND i.indpred IS NULL ORDER BY i.indrelid, i.indisprimary DESC, "
    "i.indexrelid";

static const char FKS_SQL[] =
    "SELECT co.conrelid::int8, (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(co.conkey) "
    "WITH ORDINALITY k(n, i) JOIN pg_catalog.pg_attribute a ON a.attrelid = co.conrelid AND "
    "a.attnum = k.n)::text, fn.nspname, fc.relname, (SELECT json_agg(a.attname ORDER BY k.i) "
    "FROM unnest(co.confkey) WITH ORDINALITY k(n, i) JOIN pg_catalog.pg_attribute a ON "
    "a.attrelid = co.confrelid AND a.attnum = k.n)::text FROM pg_catalog.pg_constraint co JOIN "
    "pg_catalog.pg_class fc ON fc.oid = co.confrelid JOIN pg_catalog.pg_namespace fn ON fn.oid "
    "= fc.relnamespace WHERE co.contype = 'f' AND co.conrelid = ANY($1::oid[]) ORDER BY "
    "co.conrelid, co.conname";

struct tab {
    long long oid;
    int idx;               /* the index in the table list (sampling candidates use it) */
    struct json_object *t; /* borrowed */
    char *schema, *name;
};

struct cand {
    struct json_object *col; /* borrowed */
    int tab;
    char *name;
};

static int cmp_oid(const void *a, const void *b)
{
    long long x = ((const struct tab *)a)->oid, y = ((const struct tab *)b)->oid;
    return x < y ? -1 : x > y;
}

static struct tab *find(struct tab *tabs, int n, long long oid)
{
    struct tab key = {.oid = oid};
    return bsearch(&key, tabs, (size_t)n, sizeof(*tabs), cmp_oid);
}

static int set_timeout(PGconn *conn, int ms, struct px_error *err)
{
    char q[64];
    snprintf(q, sizeof(q), "SET statement_timeout = %d", ms < 1 ? 1 : ms);
    return px__pg_exec(conn, q, "setting the statement timeout", err);
}

/* Runs a catalog statement with text parameters; the result, or NULL with err set. */
static PGresult *catalog(PGconn *conn, struct px_desc *d, const char *sql, int n,
                         const char *const *vals, struct px_error *err)
{
    if (set_timeout(conn, px__desc_left_ms(d, false), err) < 0)
        return NULL;
    PGresult *r = PQexecParams(conn, sql, n, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        px__pg_res_error(conn, r, "reading the catalog", err);
        if (strstr(err->message, "statement timeout"))
            px_error_hint(err, "the catalog did not answer within %d ms; try again",
                          d->o.timeout_ms);
        PQclear(r);
        return NULL;
    }
    return r;
}

static int engine_type(unsigned oid)
{
    struct pg_decoder dec;
    px__pg_decoder_init(&dec, 1);
    px__pg_decoder_set(&dec, 0, "c", oid);
    int t = dec.type[0];
    px__pg_decoder_cleanup(&dec);
    return t;
}

static void sample(PGconn *conn, struct px_desc *d, struct tab *tabs, struct cand *c, int nc)
{
    px__desc_sample_start(d);
    for (int i = 0; i < nc; i++) {
        int left = px__desc_left_ms(d, true);
        if (left <= 0 || d->full) {
            d->sampled = false;
            break;
        }
        struct tab *t = &tabs[c[i].tab];
        struct px_buf q;
        px_buf_init(&q, 1 << 16);
        (void)px_buf_printf(&q, "SET statement_timeout = %d; SELECT DISTINCT v FROM (SELECT ",
                            left);
        px__pg_quote_ident(&q, c[i].name, strlen(c[i].name));
        (void)px_buf_puts(&q, "::text AS v FROM ");
        px__pg_quote_ident(&q, t->schema, strlen(t->schema));
        (void)px_buf_puts(&q, ".");
        px__pg_quote_ident(&q, t->name, strlen(t->name));
        (void)px_buf_printf(&q, " LIMIT %d) q WHERE v IS NOT NULL LIMIT %d",
                            PX_DESCRIBE_SAMPLE_ROWS, d->o.max_values + 1);
        PGresult *r = PQexec(conn, q.data);
        px_buf_cleanup(&q);
        struct px_desc_values vs;
        px__desc_values_init(&vs, d);
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            for (int k = 0; k < PQntuples(r); k++)
                if (!px__desc_values_add(&vs, PQgetvalue(r, k, 0), strlen(PQgetvalue(r, k, 0))))
                    break;
        } else {
            vs.over = true;
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (state && strcmp(state, "57014") == 0)
                d->sampled = false; /* the window ended inside the statement */
        }
        PQclear(r);
        px__desc_values_set(d, c[i].col, &vs);
    }
}

int px__pg_describe(const struct px_node_ctx *ctx, struct px_desc *d, struct px_error *err)
{
    PGconn *conn = NULL;
    int rc = px__pg_connect(ctx, true, &conn, err);
    if (rc < 0)
        return rc;
    struct tab *tabs = NULL;
    struct cand *cands = NULL;
    int ntab = 0, ncand = 0;
    PGresult *r = NULL;
    struct px_buf oids;
    px_buf_init(&oids, 1 << 20);
    char lim[32], maxc[32];
    snprintf(lim, sizeof(lim), "%d", d->o.max_tables);
    snprintf(maxc, sizeof(maxc), "%d", d->o.max_columns);
    const char *v1[] = {lim};
    if (!(r = catalog(conn, d, TABLES_SQL, 1, v1, err))) {
        rc = -err->code;
        goto out;
    }
    d->table_count = PQntuples(r) ? px_text_ll(PQgetvalue(r, 0, 5)) : 0;
    tabs = px_xcalloc((size_t)PQntuples(r) + 1, sizeof(*tabs));
    (void)px_buf_puts(&oids, "{");
    for (int i = 0; i < PQntuples(r); i++) {
        const char *kind = PQgetvalue(r, i, 3);
        bool view = kind[0] == 'v';
        struct json_object *t =
            px__desc_table(d, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), view ? "view" : "table");
        if (!t)
            break;
        double est = px_text_double(PQgetvalue(r, i, 4));
        px__desc_rows(t, view || est < 0 ? -1 : (int64_t)est);
        tabs[ntab] = (struct tab){px_text_ll(PQgetvalue(r, i, 0)), ntab, t,
                                  px_xstrdup(PQgetvalue(r, i, 1)), px_xstrdup(PQgetvalue(r, i, 2))};
        (void)px_buf_printf(&oids, "%s%lld", ntab ? "," : "", tabs[ntab].oid);
        ntab++;
    }
    (void)px_buf_puts(&oids, "}");
    PQclear(r);
    /* Sampling candidates refer to tabs by index: sort a copy for lookups by oid. */
    struct tab *byoid = px_xcalloc((size_t)ntab + 1, sizeof(*byoid));
    memcpy(byoid, tabs, (size_t)ntab * sizeof(*tabs));
    qsort(byoid, (size_t)ntab, sizeof(*byoid), cmp_oid);
    const char *v2[] = {oids.data, maxc};
    r = ntab ? catalog(conn, d, COLUMNS_SQL, 2, v2, err) : NULL;
    if (ntab && !r) {
        rc = -err->code;
        free(byoid);
        goto out;
    }
    int capcand = 0;
    for (int i = 0; r && i < PQntuples(r); i++) {
        struct tab *bt = find(byoid, ntab, px_text_ll(PQgetvalue(r, i, 0)));
        if (!bt)
            continue;
        int type = engine_type((unsigned)px_text_ll(PQgetvalue(r, i, 3)));
        const char *name = PQgetvalue(r, i, 1);
        struct json_object *c = px__desc_column(d, bt->t, name, type, PQgetvalue(r, i, 2),
                                                PQgetvalue(r, i, 4)[0] == 't');
        long long total = px_text_ll(PQgetvalue(r, i, 6));
        if (total > d->o.max_columns) {
            px_json_set_int(bt->t, "column_count", total);
            px_json_set_bool(bt->t, "truncated", true);
            px__desc_truncated(d, "columns");
        }
        const char *cat = PQgetvalue(r, i, 5);
        if (c && type == PX_COL_STRING && (cat[0] == 'S' || cat[0] == 'E') && !d->o.no_sampling) {
            if (ncand == capcand) {
                capcand = capcand ? capcand * 2 : 64;
                cands = px_xrealloc(cands, (size_t)capcand * sizeof(*cands));
            }
            cands[ncand++] = (struct cand){c, bt->idx, px_xstrdup(name)};
        }
    }
    PQclear(r);
    r = ntab ? catalog(conn, d, KEYS_SQL, 1, v2, err) : NULL;
    for (int i = 0; r && i < PQntuples(r); i++) {
        struct tab *bt = find(byoid, ntab, px_text_ll(PQgetvalue(r, i, 0)));
        struct json_object *cols =
            PQgetisnull(r, i, 2) ? NULL : json_tokener_parse(PQgetvalue(r, i, 2));
        size_t n = json_object_is_type(cols, json_type_array) ? json_object_array_length(cols) : 0;
        if (bt && n > 0 && n <= 64) {
            const char *names[64];
            for (size_t k = 0; k < n; k++)
                names[k] = json_object_get_string(json_object_array_get_idx(cols, k));
            px__desc_key(d, bt->t, PQgetvalue(r, i, 1)[0] == 't', names, (int)n);
        }
        json_object_put(cols);
    }
    PQclear(r);
    r = ntab ? catalog(conn, d, FKS_SQL, 1, v2, err) : NULL;
    for (int i = 0; r && i < PQntuples(r); i++) {
        struct tab *bt = find(byoid, ntab, px_text_ll(PQgetvalue(r, i, 0)));
        struct json_object *from = json_tokener_parse(PQgetvalue(r, i, 1));
        struct json_object *to = json_tokener_parse(PQgetvalue(r, i, 4));
        if (bt && json_object_is_type(from, json_type_array) &&
            json_object_is_type(to, json_type_array))
            px__desc_fk(d, bt->t, from, PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), to);
        json_object_put(from);
        json_object_put(to);
    }
    PQclear(r);
    r = NULL;
    free(byoid);
    if (err->code) { /* a key query failed: the description stands without keys */
        rc = -err->code;
        goto out;
    }
    if (!d->o.no_sampling && px__desc_left_ms(d, false) > 0)
        sample(conn, d, tabs, cands, ncand);
    else if (!d->o.no_sampling && ncand)
        d->sampled = false;
out:
    PQclear(r);
    for (int i = 0; i < ntab; i++) {
        free(tabs[i].schema);
        free(tabs[i].name);
    }
    free(tabs);
    for (int i = 0; i < ncand; i++)
        free(cands[i].name);
    free(cands);
    px_buf_cleanup(&oids);
    PQfinish(conn);
    return rc;
}
