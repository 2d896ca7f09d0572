/*
 * The SQLite connector's describe callback (engine/schema.h). The database is opened the way a
 * source opens it (beneath the files directory, read-only, px__sqlite_read_only's walls) with an
 * authorizer that also lets the catalog pragmas run (table_info, index_list, index_info,
 * foreign_key_list). Tables and views come from sqlite_master; column types from the declared
 * types as the source maps them, and for a column without a usable declared type from the
 * storage classes of its first batch of values, as the source types it. Row counts only when cheap:
 * count(*) when the file is at most 64 MiB, else sqlite_stat1, else null. A progress handler holds
 * every statement to the deadline (sampling: its own).
 */
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/connectors/describe.h"
#include "engine/connectors/file.h"
#include "engine/exec_int.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define COUNT_MAX_FILE_BYTES ((long long)64 << 20)

struct sq {
    sqlite3 *db;
    struct px_desc *d;
    int64_t deadline_us; /* what the progress handler holds statements to */
    struct px_error *err;
    const struct px_node_ctx *ctx;
};

static int progress(void *arg)
{
    const struct sq *s = arg;
    return px_mono_us() > s->deadline_us;
}

/* Reads and the catalog pragmas; functions but the ones sources also refuse. */
static int authorizer(void *arg, int action, const char *a3, const char *a4, const char *db,
                      const char *trigger)
{
    (void)arg;
    (void)db;
    (void)trigger;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    case SQLITE_PRAGMA: {
        static const char *const ok[] = {"table_info", "index_list", "index_info",
                                         "foreign_key_list"};
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
            if (a3 && strcasecmp(a3, ok[i]) == 0 && a4)
                return SQLITE_OK;
        return SQLITE_DENY;
    }
    case SQLITE_FUNCTION: {
        static const char *const denied[] = {"load_extension", "readfile", "writefile", "edit",
                                             "fts3_tokenizer"};
        for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
            if (a4 && strcasecmp(a4, denied[i]) == 0)
                return SQLITE_DENY;
        return SQLITE_OK;
    }
    default:
        return SQLITE_DENY;
    }
}

static void quote(struct px_buf *b, const char *name)
{
    (void)px_buf_puts(b, "\"");
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            (void)px_buf_puts(b, "\"");
        (void)px_buf_append(b, p, 1);
    }
    (void)px_buf_puts(b, "\"");
}

static int fail(struct sq *s, int src, const char *what)
{
    if ((src & 0xff) == SQLITE_INTERRUPT) {
        int rc = px_error_set(s->err, PX_EIO, "sqlite: %s took longer than %d ms", what,
                              s->d->o.timeout_ms);
        s->err->retryable = true;
        px_error_hint(s->err, "try again when the database is less busy");
        return rc;
    }
    if ((src & 0xff) == SQLITE_BUSY || (src & 0xff) == SQLITE_LOCKED) {
        int rc = px_error_set(s->err, PX_EIO, "sqlite: %s: the database is locked", what);
        s->err->retryable = true;
        return rc;
    }
    return px_error_set(s->err, (src & 0xff) == SQLITE_NOTADB ? PX_EINVALID : PX_EIO,
                        "sqlite: %s: %s", what, sqlite3_errmsg(s->db));
}

/* The type the source gives a column without a usable declared type: from the storage classes
 * of its first batch (integer, float, integer and float: float; anything else mixed, text or
 * blob: string; no values: string), read here under the deadline (the source itself has none).
 * Keep in step with sqlsrc_next in engine/connectors/sqlite.c; test_schema_describe compares. */
static int values_type(struct sq *s, const char *table, const char *col)
{
    struct px_buf q;
    px_buf_init(&q, 1 << 17);
    (void)px_buf_puts(&q, "SELECT ");
    quote(&q, col);
    (void)px_buf_puts(&q, " FROM ");
    quote(&q, table);
    (void)px_buf_printf(&q, " LIMIT %lld", (long long)s->ctx->batch_rows);
    sqlite3_stmt *st = NULL;
    int t = -1;
    if (sqlite3_prepare_v2(s->db, q.data, -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            int k;
            switch (sqlite3_column_type(st, 0)) {
            case SQLITE_INTEGER:
                k = PX_COL_INT;
                break;
            case SQLITE_FLOAT:
                k = PX_COL_FLOAT;
                break;
            case SQLITE_NULL:
                continue;
            default:
                k = PX_COL_STRING;
            }
            if (t < 0 || k == t)
                t = k;
            else if ((t == PX_COL_INT && k == PX_COL_FLOAT) ||
                     (t == PX_COL_FLOAT && k == PX_COL_INT))
                t = PX_COL_FLOAT;
            else
                t = PX_COL_STRING;
        }
    }
    sqlite3_finalize(st);
    px_buf_cleanup(&q);
    return t < 0 ? PX_COL_STRING : t;
}

static int64_t row_count(struct sq *s, const char *table, bool cheap)
{
    struct px_buf q;
    px_buf_init(&q, 1 << 16);
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (cheap) {
        (void)px_buf_puts(&q, "SELECT count(*) FROM ");
        quote(&q, table);
    } else {
        (void)px_buf_puts(&q, "SELECT CAST(stat AS INTEGER) FROM sqlite_stat1 WHERE tbl = ?1 "
                              "ORDER BY idx IS NULL DESC LIMIT 1");
    }
    if (sqlite3_prepare_v2(s->db, q.data, -1, &st, NULL) == SQLITE_OK) {
        if (!cheap)
            sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
            n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    px_buf_cleanup(&q);
    return n;
}

/* Runs "PRAGMA name(table)"; the statement, or NULL. */
static sqlite3_stmt *pragma(struct sq *s, const char *name, const char *arg)
{
    struct px_buf q;
    px_buf_init(&q, 1 << 16);
    (void)px_buf_printf(&q, "PRAGMA %s(", name);
    quote(&q, arg);
    (void)px_buf_puts(&q, ")");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, q.data, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        st = NULL;
    }
    px_buf_cleanup(&q);
    return st;
}

/* The primary key columns of table, in key order, as a JSON array (owned). */
static struct json_object *pk_columns(struct sq *s, const char *table)
{
    struct json_object *a = json_object_new_array();
    sqlite3_stmt *st = pragma(s, "table_info", table);
    char *names[64] = {0};
    int max = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int pk = sqlite3_column_int(st, 5);
        if (pk > 0 && pk <= 64) {
            free(names[pk - 1]);
            names[pk - 1] = px_xstrdup((const char *)sqlite3_column_text(st, 1));
            if (pk > max)
                max = pk;
        }
    }
    sqlite3_finalize(st);
    for (int i = 0; i < max; i++) {
        if (names[i])
            json_object_array_add(a, json_object_new_string(names[i]));
        free(names[i]);
    }
    return a;
}

static void keys(struct sq *s, struct json_object *t, const char *table)
{
    struct json_object *pk = pk_columns(s, table);
    size_t npk = json_object_array_length(pk);
    if (npk) {
        const char *cols[64];
        for (size_t i = 0; i < npk && i < 64; i++)
            cols[i] = json_object_get_string(json_object_array_get_idx(pk, i));
        px__desc_key(s->d, t, true, cols, (int)npk);
    }
    json_object_put(pk);
    /* Unique indexes (UNIQUE constraints and CREATE UNIQUE INDEX), not partial ones. */
    sqlite3_stmt *il = pragma(s, "index_list", table);
    while (il && sqlite3_step(il) == SQLITE_ROW) {
        const char *origin = (const char *)sqlite3_column_text(il, 3);
        if (!sqlite3_column_int(il, 2) || sqlite3_column_int(il, 4) ||
            (origin && strcmp(origin, "pk") == 0))
            continue;
        char *iname = px_xstrdup((const char *)sqlite3_column_text(il, 1));
        sqlite3_stmt *ii = pragma(s, "index_info", iname);
        char *cols[64];
        int n = 0;
        bool expr = false;
        while (ii && sqlite3_step(ii) == SQLITE_ROW && n < 64) {
            const char *c = (const char *)sqlite3_column_text(ii, 2);
            if (!c) {
                expr = true;
                break;
            }
            cols[n++] = px_xstrdup(c);
        }
        sqlite3_finalize(ii);
        if (!expr)
            px__desc_key(s->d, t, false, (const char *const *)cols, n);
        for (int i = 0; i < n; i++)
            free(cols[i]);
        free(iname);
    }
    sqlite3_finalize(il);
    /* Foreign keys: rows grouped by id, in seq order; a missing "to" names the parent's key. */
    sqlite3_stmt *fl = pragma(s, "foreign_key_list", table);
    int cur = -1;
    struct json_object *from = NULL, *to = NULL;
    char *parent = NULL;
    bool to_missing = false;
    for (bool more = fl != NULL;;) {
        int row = more ? sqlite3_step(fl) : SQLITE_DONE;
        int id = row == SQLITE_ROW ? sqlite3_column_int(fl, 0) : -2;
        if (id != cur && from) {
            if (to_missing) {
                json_object_put(to);
                to = pk_columns(s, parent);
            }
            px__desc_fk(s->d, t, from, NULL, parent, to);
            json_object_put(from);
            json_object_put(to);
            free(parent);
            from = to = NULL;
            parent = NULL;
            to_missing = false;
        }
        if (row != SQLITE_ROW)
            break;
        if (!from) {
            cur = id;
            from = json_object_new_array();
            to = json_object_new_array();
            parent = px_xstrdup((const char *)sqlite3_column_text(fl, 2));
        }
        json_object_array_add(from,
                              json_object_new_string((const char *)sqlite3_column_text(fl, 3)));
        const char *tc = (const char *)sqlite3_column_text(fl, 4);
        if (tc)
            json_object_array_add(to, json_object_new_string(tc));
        else
            to_missing = true;
    }
    sqlite3_finalize(fl);
}

/* A column whose values are sampled: text by declaration or by the source's typing. */
struct cand {
    struct json_object *col; /* borrowed */
    char *table, *name;
};

static void sample(struct sq *s, struct cand *c, int nc)
{
    px__desc_sample_start(s->d);
    s->deadline_us = s->d->sample_deadline_us;
    for (int i = 0; i < nc; i++) {
        if (px__desc_left_ms(s->d, true) <= 0 || s->d->full) {
            s->d->sampled = false;
            break;
        }
        struct px_buf q;
        px_buf_init(&q, 1 << 17);
        (void)px_buf_puts(&q, "SELECT DISTINCT v FROM (SELECT ");
        quote(&q, c[i].name);
        (void)px_buf_puts(&q, " AS v FROM ");
        quote(&q, c[i].table);
        (void)px_buf_printf(&q, " LIMIT %d) WHERE v IS NOT NULL LIMIT %d", PX_DESCRIBE_SAMPLE_ROWS,
                            s->d->o.max_values + 1);
        sqlite3_stmt *st = NULL;
        struct px_desc_values vs;
        px__desc_values_init(&vs, s->d);
        int src = sqlite3_prepare_v2(s->db, q.data, -1, &st, NULL);
        if (src == SQLITE_OK)
            src = SQLITE_ROW;
        while (src == SQLITE_ROW && (src = sqlite3_step(st)) == SQLITE_ROW) {
            const char *v = (const char *)sqlite3_column_text(st, 0);
            if (!px__desc_values_add(&vs, v ? v : "", (size_t)sqlite3_column_bytes(st, 0)))
                break;
        }
        if (src == SQLITE_INTERRUPT) {
            s->d->sampled = false;
            vs.over = true;
        }
        sqlite3_finalize(st);
        px_buf_cleanup(&q);
        px__desc_values_set(s->d, c[i].col, &vs);
    }
    s->deadline_us = s->d->deadline_us;
}

int px__sqlite_describe(const struct px_node_ctx *ctx, struct px_desc *d, struct px_error *err)
{
    struct px_file_target t;
    int rc = px__files_target(ctx, PX_FILE_SOURCE, "db", &t, err);
    if (rc < 0)
        return rc;
    struct sq s = {.d = d, .deadline_us = d->deadline_us, .err = err, .ctx = ctx};
    struct stat fst;
    bool cheap = fstatat(t.dirfd, t.name, &fst, AT_SYMLINK_NOFOLLOW) == 0 &&
                 fst.st_size <= COUNT_MAX_FILE_BYTES;
    rc = px__sqlite_open(&t, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, &s.db, err);
    if (rc == 0)
        rc = px__sqlite_read_only(s.db, err);
    struct cand *cands = NULL;
    int ncand = 0, capcand = 0;
    sqlite3_stmt *tl = NULL;
    if (rc < 0)
        goto out;
    sqlite3_busy_timeout(s.db, px__desc_left_ms(d, false));
    sqlite3_set_authorizer(s.db, authorizer, NULL);
    sqlite3_progress_handler(s.db, 1000, progress, &s);
    int src = sqlite3_prepare_v2(
        s.db,
        "SELECT name, type, count(*) OVER () FROM sqlite_master WHERE type IN ('table', "
        "'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name LIMIT ?1",
        -1, &tl, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_bind_int(tl, 1, d->o.max_tables);
    if (src != SQLITE_OK) {
        rc = fail(&s, src, "reading the schema");
        goto out;
    }
    while ((src = sqlite3_step(tl)) == SQLITE_ROW) {
        char *name = px_xstrdup((const char *)sqlite3_column_text(tl, 0));
        bool view = strcmp((const char *)sqlite3_column_text(tl, 1), "view") == 0;
        d->table_count = sqlite3_column_int64(tl, 2);
        struct json_object *tj = px__desc_table(d, NULL, name, view ? "view" : "table");
        if (!tj) {
            free(name);
            break;
        }
        sqlite3_stmt *ti = pragma(&s, "table_info", name);
        while (ti && sqlite3_step(ti) == SQLITE_ROW) {
            const char *col = (const char *)sqlite3_column_text(ti, 1);
            const char *decl = (const char *)sqlite3_column_text(ti, 2);
            bool notnull = sqlite3_column_int(ti, 3) || sqlite3_column_int(ti, 5) > 0;
            int type = px__sqlite_decl_type(decl);
            if (type < 0)
                type = values_type(&s, name, col);
            struct json_object *cj =
                px__desc_column(d, tj, col, type, decl && *decl ? decl : NULL, !notnull);
            if (cj && type == PX_COL_STRING && !d->o.no_sampling) {
                if (ncand == capcand) {
                    capcand = capcand ? capcand * 2 : 64;
                    cands = px_xrealloc(cands, (size_t)capcand * sizeof(*cands));
                }
                cands[ncand++] = (struct cand){cj, px_xstrdup(name), px_xstrdup(col)};
            }
        }
        sqlite3_finalize(ti);
        if (!view) {
            keys(&s, tj, name);
            px__desc_rows(tj, row_count(&s, name, cheap));
        }
        free(name);
        if (px__desc_left_ms(d, false) <= 0) {
            px__desc_truncated(d, "time");
            d->sampled = false;
            break;
        }
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = fail(&s, src, "reading the schema");
        goto out;
    }
    if (d->table_count < 0)
        d->table_count = 0;
    if (!d->o.no_sampling && px__desc_left_ms(d, false) > 0)
        sample(&s, cands, ncand);
out:
    for (int i = 0; i < ncand; i++) {
        free(cands[i].table);
        free(cands[i].name);
    }
    free(cands);
    sqlite3_finalize(tl);
    sqlite3_close(s.db);
    px__files_target_close(&t);
    return rc;
}
