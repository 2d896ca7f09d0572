/*
 * The SQLite connector. Source: a table (optionally some columns) or a SELECT query; column
 * types come from the declared types (INT → integer, REAL/FLOA/DOUB → float, BOOL → boolean,
 * TIMESTAMP/DATETIME/DATE → timestamp, CHAR/TEXT/CLOB → string) or, for expressions, from
 * the storage classes in the first batch. Destination: everything in one IMMEDIATE
 * transaction; the table is created when missing (integer → INTEGER, float → REAL, boolean →
 * BOOLEAN 0/1, string → TEXT, timestamp → TIMESTAMP as ISO 8601 text); replace writes a new
 * table and swaps it in (DROP + RENAME) in the same transaction; upsert updates the row matched
 * by the keys (IS, so NULL keys match) or inserts it.
 *
 * A source query must pass engine/connectors/sqlcheck.h (one statement that only reads); the source
 * connection is opened read-only and also has PRAGMA query_only, defensive mode, no extension
 * loading or ATTACH, an untrusted schema and an authorizer that allows only reads
 * (px__sqlite_read_only), and a statement sqlite3_stmt_readonly does not call read-only is refused.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/engine.h"
#include "engine/connectors/file.h"
#include "engine/exec_int.h"
#include "engine/expr/expr.h"
#include "engine/connectors/sqlcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static int db_error(sqlite3 *db, int rc, struct px_error *err)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int code = PX_EIO;
    if (strstr(msg, "no such table") || strstr(msg, "no such column"))
        code = PX_ENOTFOUND;
    else if (rc == SQLITE_ERROR || rc == SQLITE_CONSTRAINT || rc == SQLITE_MISMATCH)
        code = PX_EINVALID;
    px_error_set(err, code, "sqlite: %s", msg);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        err->retryable = true;
    return -code;
}

static void quote_ident(struct px_buf *b, const char *name)
{
    (void)px_buf_puts(b, "\"");
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            (void)px_buf_puts(b, "\"");
        (void)px_buf_append(b, p, 1);
    }
    (void)px_buf_puts(b, "\"");
}

/* SQLite opens a database by name, so the file is named through the directory fd the files
 * resolution opened beneath the files directory: "/proc/self/fd/N/NAME". The stock unix VFS
 * would turn that name into the directory's path text (xFullPathname resolves links) and
 * open that, racing with whoever swaps a directory for a link; the "px-beneath" VFS is the
 * unix VFS with a pass-through xFullPathname, so every open (database, -journal, -wal, -shm)
 * goes through the pinned directory fd. The unix VFS opens with O_NOFOLLOW, so a link as the
 * final component is refused too; the check below only makes the message clear. */
static sqlite3_vfs beneath_vfs;
static pthread_once_t beneath_once = PTHREAD_ONCE_INIT;

static int beneath_fullpath(sqlite3_vfs *vfs, const char *in, int n, char *out)
{
    (void)vfs;
    size_t len = strlen(in);
    if (len >= (size_t)n || strncmp(in, "/proc/self/fd/", 14) != 0)
        return SQLITE_CANTOPEN;
    memcpy(out, in, len + 1);
    return SQLITE_OK;
}

static void beneath_init(void)
{
    sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix");
    if (!unix_vfs)
        return;
    beneath_vfs = *unix_vfs;
    beneath_vfs.pNext = NULL;
    beneath_vfs.zName = "px-beneath";
    beneath_vfs.xFullPathname = beneath_fullpath;
    if (sqlite3_vfs_register(&beneath_vfs, 0) != SQLITE_OK)
        beneath_vfs.zName = NULL;
}

int px__sqlite_open(const struct px_file_target *t, int flags, struct sqlite3 **out,
                    struct px_error *err)
{
    *out = NULL;
    bool create = flags & SQLITE_OPEN_CREATE;
    pthread_once(&beneath_once, beneath_init);
    struct stat st;
    int sr = fstatat(t->dirfd, t->name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
    int rc;
    if (!beneath_vfs.zName)
        return px_error_set(err, PX_EUNAVAILABLE, "sqlite: the unix VFS is missing");
    if (sr == 0 && S_ISLNK(st.st_mode)) {
        rc = px_error_set(err, PX_EINVALID,
                          "'%s' is a symbolic link; links are not followed in the files directory",
                          t->rel);
        px_error_hint(err, "give the real path of the database inside your files directory");
        return rc;
    }
    if (sr == 0 && !S_ISREG(st.st_mode))
        return px_error_set(err, PX_EINVALID, "'%s' is not a file", t->rel);
    if (sr == ENOENT && !create) {
        rc = px_error_set(err, PX_ENOTFOUND, "database '%s' not found in the files directory",
                          t->rel);
        px_error_hint(err, "put the database file in your files directory, or update the "
                           "connection's path");
        return rc;
    }
    char name[64 + sizeof(t->name)];
    snprintf(name, sizeof(name), "/proc/self/fd/%d/%s", t->dirfd, t->name);
    rc = sqlite3_open_v2(name, out, flags, "px-beneath");
    if (rc != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_CANTOPEN)
            rc = px_error_set(err, PX_EIO, "cannot open database '%s'%s", t->rel,
                              flags & SQLITE_OPEN_READWRITE ? " for writing" : "");
        else
            rc = db_error(*out, rc, err);
        sqlite3_close(*out);
        *out = NULL;
        return rc;
    }
    return 0;
}

static int open_db(const struct px_node_ctx *ctx, int flags, sqlite3 **out, int *dirfd_out,
                   struct px_error *err)
{
    *out = NULL;
    *dirfd_out = -1;
    struct px_file_target t;
    int rc = px__files_target(ctx, flags & SQLITE_OPEN_CREATE ? PX_FILE_DEST : PX_FILE_SOURCE, "db",
                              &t, err);
    if (rc < 0)
        return rc;
    rc = px__sqlite_open(&t, flags, out, err);
    if (rc == 0) {
        sqlite3_busy_timeout(*out, 5000);
        *dirfd_out = t.dirfd;
        t.dirfd = -1; /* kept open for as long as the database is */
    }
    px__files_target_close(&t);
    return rc;
}

/* ---- source ---- */

struct sqlsrc {
    sqlite3 *db;
    sqlite3_stmt *st;
    int ncols;
    int *types; /* -1 until known */
    bool typed, eof;
    int64_t batch_rows, rownum;
    int dirfd; /* the database's directory (open_db) */
};

static void sqlsrc_close(void *state)
{
    struct sqlsrc *s = state;
    if (!s)
        return;
    sqlite3_finalize(s->st);
    sqlite3_close(s->db);
    if (s->dirfd >= 0)
        close(s->dirfd);
    free(s->types);
    free(s);
}

int px__sqlite_decl_type(const char *d)
{
    if (!d)
        return -1;
    char u[64];
    size_t i = 0;
    for (; d[i] && i < sizeof(u) - 1; i++)
        u[i] = (char)((d[i] >= 'a' && d[i] <= 'z') ? d[i] - 32 : d[i]);
    u[i] = '\0';
    if (strstr(u, "INT"))
        return PX_COL_INT;
    if (strstr(u, "BOOL"))
        return PX_COL_BOOL;
    if (strstr(u, "TIMESTAMP") || strstr(u, "DATE"))
        return PX_COL_TIMESTAMP;
    if (strstr(u, "CHAR") || strstr(u, "TEXT") || strstr(u, "CLOB"))
        return PX_COL_STRING;
    if (strstr(u, "REAL") || strstr(u, "FLOA") || strstr(u, "DOUB") || strstr(u, "NUMERIC") ||
        strstr(u, "DECIMAL"))
        return PX_COL_FLOAT;
    return -1;
}

/* Whether name is among the strings of arr. */
static bool in_array(struct json_object *arr, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), name) == 0)
            return true;
    return false;
}

/* The SELECT list: config.columns, narrowed to the columns the graph needs when the executor
 * pushed those down (pushdown.h); "*" when neither restricts it. */
static void select_list(const struct px_node_ctx *ctx, struct px_buf *sql)
{
    struct json_object *cols = px_json_get(ctx->config, "columns");
    int n = 0;
    if (ctx->push_ncols > 0) {
        for (int i = 0; i < ctx->push_ncols; i++) {
            if (cols && !in_array(cols, ctx->push_columns[i]))
                continue;
            if (n++)
                (void)px_buf_puts(sql, ", ");
            quote_ident(sql, ctx->push_columns[i]);
        }
    } else if (cols) {
        for (size_t i = 0; i < json_object_array_length(cols); i++) {
            if (n++)
                (void)px_buf_puts(sql, ", ");
            quote_ident(sql, json_object_get_string(json_object_array_get_idx(cols, i)));
        }
    }
    if (!n)
        (void)px_buf_puts(sql, "*");
}

/* The source's authorizer: reading only. Every statement the source prepares passes here;
 * writes, ATTACH, PRAGMA (the pragma_* functions included) and the functions that load code or
 * touch files are denied at prepare time. */
static int read_only_authorizer(void *ctx, int action, const char *a3, const char *a4,
                                const char *db, const char *trigger)
{
    (void)ctx;
    (void)a3;
    (void)db;
    (void)trigger;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
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

/* The database walls of a source connection (beside the read-only open): query_only,
 * defensive mode, no extension loading, no ATTACH, untrusted schema (functions with side
 * effects are not run from views or triggers), and the read-only authorizer. */
int px__sqlite_read_only(sqlite3 *db, struct px_error *err)
{
    int rc = sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return db_error(db, rc, err);
    (void)sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    (void)sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);
    (void)sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    (void)sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_set_authorizer(db, read_only_authorizer, NULL);
    return 0;
}

static int sqlsrc_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    struct sqlsrc *s = px_xcalloc(1, sizeof(*s));
    s->batch_rows = ctx->batch_rows;
    int rc = open_db(ctx, SQLITE_OPEN_READONLY, &s->db, &s->dirfd, err);
    struct px_buf sql;
    px_buf_init(&sql, 300000);
    if (rc < 0)
        goto out;
    const char *table = px_json_get_str(ctx->config, "table");
    const char *query = px_json_get_str(ctx->config, "query");
    size_t qlen = 0;
    if (!table && (rc = px_sqlcheck_source(PX_SQL_SQLITE, query, &qlen, err)) < 0)
        goto out;
    if ((rc = px__sqlite_read_only(s->db, err)) < 0)
        goto out;
    (void)px_buf_puts(&sql, "SELECT ");
    select_list(ctx, &sql);
    if (table) {
        (void)px_buf_puts(&sql, " FROM ");
        quote_ident(&sql, table);
    } else {
        (void)px_buf_printf(&sql, " FROM (%.*s\n)", (int)qlen, query);
    }
    if (ctx->push_where)
        (void)px_buf_printf(&sql, " WHERE %s", ctx->push_where);
    const char *tail = NULL;
    int src = sqlite3_prepare_v2(s->db, sql.data, -1, &s->st, &tail);
    if (src != SQLITE_OK) {
        rc = db_error(s->db, src, err);
        if (src == SQLITE_AUTH)
            px_error_hint(err, "a source query may only read (no writes, ATTACH, PRAGMA or "
                               "functions that load code or touch files)");
        goto out;
    }
    while (tail && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == '\r'))
        tail++;
    if (tail && *tail) {
        rc = px_error_set(err, PX_EINVALID, "sqlite: the query has more than one statement");
        goto out;
    }
    if (!sqlite3_stmt_readonly(s->st)) {
        rc = px_error_set(err, PX_EINVALID, "the query must be a read-only SELECT");
        goto out;
    }
    s->ncols = sqlite3_column_count(s->st);
    if (s->ncols > PX_BATCH_MAX_COLS) {
        rc = px_error_set(err, PX_EINVALID, "sqlite: the query returns %d columns (at most %d)",
                          s->ncols, PX_BATCH_MAX_COLS);
        goto out;
    }
    s->types = px_xcalloc((size_t)s->ncols + 1, sizeof(int));
    for (int i = 0; i < s->ncols; i++)
        s->types[i] = px__sqlite_decl_type(sqlite3_column_decltype(s->st, i));
out:
    px_buf_cleanup(&sql);
    if (rc < 0) {
        sqlsrc_close(s);
        return rc;
    }
    *state_out = s;
    return 0;
}

static int value_kind(sqlite3_value *v)
{
    switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
        return PX_COL_INT;
    case SQLITE_FLOAT:
        return PX_COL_FLOAT;
    case SQLITE_NULL:
        return -1;
    default:
        return PX_COL_STRING;
    }
}

static int set_sql_value(struct px_batch *b, int col, int64_t row, sqlite3_value *v)
{
    struct px_column *c = &b->cols[col];
    int t = sqlite3_value_type(v);
    if (t == SQLITE_NULL)
        return 0;
    const char *text = (const char *)sqlite3_value_text(v);
    switch (c->type) {
    case PX_COL_INT:
        if (t == SQLITE_INTEGER)
            c->v.i[row] = sqlite3_value_int64(v);
        else if (t == SQLITE_FLOAT && sqlite3_value_double(v) == floor(sqlite3_value_double(v)))
            c->v.i[row] = (int64_t)sqlite3_value_double(v);
        else
            return -PX_EINVALID;
        break;
    case PX_COL_FLOAT:
        if (t != SQLITE_INTEGER && t != SQLITE_FLOAT)
            return -PX_EINVALID;
        c->v.f[row] = sqlite3_value_double(v);
        break;
    case PX_COL_BOOL:
        if (t == SQLITE_INTEGER)
            c->v.b[row] = sqlite3_value_int64(v) != 0;
        else if (text && strcasecmp(text, "true") == 0)
            c->v.b[row] = 1;
        else if (text && strcasecmp(text, "false") == 0)
            c->v.b[row] = 0;
        else
            return -PX_EINVALID;
        break;
    case PX_COL_TIMESTAMP:
        if (t != SQLITE_TEXT || px_expr_parse_timestamp(text, &c->v.i[row]) != 0)
            return -PX_EINVALID;
        break;
    case PX_COL_STRING:
        c->v.s[row] = px_batch_strdup(b, text ? text : "", (size_t)sqlite3_value_bytes(v));
        break;
    }
    px_batch_set_null(c, row, false);
    return 0;
}

static int sqlsrc_next(void *state, struct px_batch **out, struct px_error *err)
{
    struct sqlsrc *s = state;
    *out = NULL;
    if (s->eof)
        return 0;
    int nc = s->ncols;
    sqlite3_value **vals = px_xcalloc((size_t)(s->batch_rows * nc) + 1, sizeof(*vals));
    int64_t n = 0, bytes = 0;
    int rc = 0;
    /* A batch ends at batch_rows rows or PX_BATCH_TARGET_BYTES of text and blobs (batch.h). */
    while (n < s->batch_rows && bytes < PX_BATCH_TARGET_BYTES) {
        int src = sqlite3_step(s->st);
        if (src == SQLITE_DONE) {
            s->eof = true;
            break;
        }
        if (src != SQLITE_ROW) {
            rc = db_error(s->db, src, err);
            break;
        }
        for (int i = 0; i < nc; i++) {
            sqlite3_value *v = sqlite3_value_dup(sqlite3_column_value(s->st, i));
            int t = sqlite3_value_type(v); /* only text and blobs: bytes() converts numbers */
            if (t == SQLITE_TEXT || t == SQLITE_BLOB)
                bytes += sqlite3_value_bytes(v);
            vals[n * nc + i] = v;
        }
        n++;
    }
    if (rc == 0 && !s->typed) {
        s->typed = true;
        for (int i = 0; i < nc; i++) {
            if (s->types[i] >= 0)
                continue;
            int t = -1;
            for (int64_t r = 0; r < n; r++) {
                int k = value_kind(vals[r * nc + i]);
                if (k < 0 || k == t)
                    continue;
                if (t < 0)
                    t = k;
                else if ((t == PX_COL_INT && k == PX_COL_FLOAT) ||
                         (t == PX_COL_FLOAT && k == PX_COL_INT))
                    t = PX_COL_FLOAT;
                else
                    t = PX_COL_STRING;
            }
            s->types[i] = t < 0 ? PX_COL_STRING : t;
        }
    }
    struct px_batch *b = NULL;
    if (rc == 0 && n > 0) {
        b = px_batch_create(s->batch_rows);
        b->first_row = s->rownum + 1;
        for (int i = 0; i < nc; i++)
            px_batch_add_column(b, sqlite3_column_name(s->st, i), (enum px_col_type)s->types[i]);
        for (int64_t r = 0; r < n && rc == 0; r++)
            for (int i = 0; i < nc; i++)
                if (set_sql_value(b, i, r, vals[r * nc + i]) < 0) {
                    rc = px_error_set(err, PX_EINVALID, "row %lld: column '%s' is not a valid %s",
                                      (long long)(s->rownum + r + 1), b->cols[i].name,
                                      px_col_type_name(b->cols[i].type));
                    break;
                }
        b->nrows = n;
        s->rownum += n;
    }
    for (int64_t k = 0; k < n * nc; k++)
        sqlite3_value_free(vals[k]);
    free(vals);
    if (rc < 0) {
        px_batch_destroy(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* ---- destination ---- */

enum sqlmode { M_APPEND, M_REPLACE, M_UPSERT };

struct sqldst {
    sqlite3 *db;
    enum sqlmode mode;
    char *table;  /* the target */
    char *target; /* where rows go: the table, or the replacement table */
    struct json_object *keys;
    sqlite3_stmt *ins, *upd;
    int *upd_map; /* update parameter i → batch column */
    int nupd;
    bool in_tx, committed, started;
    int dirfd; /* the database's directory (open_db) */
    const struct px_engine_opts *opts;
    struct px_files_usage *usage;
};

/* What a batch adds to a database, about: its values' bytes (8 per number, a string's length).
 * SQLite keeps a transaction's pages in its cache until the commit, so the file's growth is
 * known too late; this is charged before the rows are inserted (px__files_charge). */
static long long batch_bytes(const struct px_batch *b)
{
    long long sum = 0;
    for (int i = 0; i < b->ncols; i++) {
        const struct px_column *c = &b->cols[i];
        for (int64_t r = 0; r < b->nrows; r++)
            sum += c->type != PX_COL_STRING ? 8
                   : px_batch_is_null(c, r) ? 1
                                            : (long long)strlen(c->v.s[r]) + 1;
    }
    return sum;
}

static int exec_sql(sqlite3 *db, const char *sql, struct px_error *err)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_error(db, rc, err);
}

static void sqldst_close(void *state)
{
    struct sqldst *s = state;
    if (!s)
        return;
    sqlite3_finalize(s->ins);
    sqlite3_finalize(s->upd);
    if (s->in_tx && !s->committed)
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(s->db);
    if (s->dirfd >= 0)
        close(s->dirfd);
    free(s->table);
    free(s->target);
    free(s->upd_map);
    free(s);
}

static int sqldst_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    struct sqldst *s = px_xcalloc(1, sizeof(*s));
    int rc = open_db(ctx, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &s->db, &s->dirfd, err);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->opts = ctx->opts;
    s->usage = ctx->files_usage;
    const char *mode = px_json_get_str(ctx->config, "mode");
    s->mode = !mode || strcmp(mode, "append") == 0 ? M_APPEND
              : strcmp(mode, "replace") == 0       ? M_REPLACE
                                                   : M_UPSERT;
    s->keys = px_json_get(ctx->config, "keys");
    s->table = px_xstrdup(px_json_get_str(ctx->config, "table"));
    if (s->mode == M_REPLACE) {
        struct px_buf t;
        px_buf_init(&t, 600);
        (void)px_buf_printf(&t, "_px_replace_%s", s->table);
        s->target = px_buf_take(&t);
    } else {
        s->target = px_xstrdup(s->table);
    }
    rc = exec_sql(s->db, "BEGIN IMMEDIATE", err);
    if (rc < 0) {
        sqldst_close(s);
        return rc;
    }
    s->in_tx = true;
    *state_out = s;
    return 0;
}

static const char *sql_type(enum px_col_type t)
{
    switch (t) {
    case PX_COL_INT:
        return "INTEGER";
    case PX_COL_FLOAT:
        return "REAL";
    case PX_COL_BOOL:
        return "BOOLEAN";
    case PX_COL_TIMESTAMP:
        return "TIMESTAMP";
    case PX_COL_STRING:
        return "TEXT";
    }
    return "TEXT";
}

/* Appends b's column names, quoted and comma-separated, each with its SQL type if typed. */
static void put_columns(struct px_buf *q, const struct px_batch *b, bool typed)
{
    for (int i = 0; i < b->ncols; i++) {
        if (i)
            (void)px_buf_puts(q, ", ");
        quote_ident(q, b->cols[i].name);
        if (typed)
            (void)px_buf_printf(q, " %s", sql_type(b->cols[i].type));
    }
}

static int sqldst_start(struct sqldst *s, const struct px_batch *b, struct px_error *err)
{
    struct px_buf q;
    px_buf_init(&q, 1 << 20);
    int rc = 0;
    if (s->mode == M_REPLACE) {
        (void)px_buf_puts(&q, "DROP TABLE IF EXISTS ");
        quote_ident(&q, s->target);
        if ((rc = exec_sql(s->db, q.data, err)) < 0)
            goto out;
        px_buf_reset(&q);
    }
    (void)px_buf_puts(&q, "CREATE TABLE IF NOT EXISTS ");
    quote_ident(&q, s->target);
    (void)px_buf_puts(&q, " (");
    put_columns(&q, b, true);
    (void)px_buf_puts(&q, ")");
    if ((rc = exec_sql(s->db, q.data, err)) < 0)
        goto out;
    px_buf_reset(&q);
    (void)px_buf_puts(&q, "INSERT INTO ");
    quote_ident(&q, s->target);
    (void)px_buf_puts(&q, " (");
    put_columns(&q, b, false);
    (void)px_buf_puts(&q, ") VALUES (");
    for (int i = 0; i < b->ncols; i++)
        (void)px_buf_puts(&q, i ? ", ?" : "?");
    (void)px_buf_puts(&q, ")");
    int src = sqlite3_prepare_v2(s->db, q.data, -1, &s->ins, NULL);
    if (src != SQLITE_OK) {
        rc = db_error(s->db, src, err);
        goto out;
    }
    if (s->mode == M_UPSERT) {
        size_t nk = json_object_array_length(s->keys);
        s->upd_map = px_xcalloc((size_t)b->ncols + nk + 1, sizeof(int));
        px_buf_reset(&q);
        (void)px_buf_puts(&q, "UPDATE ");
        quote_ident(&q, s->target);
        (void)px_buf_puts(&q, " SET ");
        int nset = 0;
        for (int i = 0; i < b->ncols; i++) {
            bool key = false;
            for (size_t k = 0; k < nk; k++)
                key |= strcmp(json_object_get_string(json_object_array_get_idx(s->keys, k)),
                              b->cols[i].name) == 0;
            if (key)
                continue;
            (void)px_buf_puts(&q, nset ? ", " : "");
            quote_ident(&q, b->cols[i].name);
            (void)px_buf_puts(&q, " = ?");
            s->upd_map[s->nupd++] = i;
            nset++;
        }
        if (!nset) { /* every column is a key: a no-op update that still counts matches */
            const char *k0 = json_object_get_string(json_object_array_get_idx(s->keys, 0));
            quote_ident(&q, k0);
            (void)px_buf_puts(&q, " = ");
            quote_ident(&q, k0);
        }
        (void)px_buf_puts(&q, " WHERE ");
        for (size_t k = 0; k < nk; k++) {
            const char *name = json_object_get_string(json_object_array_get_idx(s->keys, k));
            int i = px_batch_find(b, name);
            if (i < 0) {
                rc = px_error_set(err, PX_EINVALID, "key column '%s' is not in the input", name);
                goto out;
            }
            (void)px_buf_puts(&q, k ? " AND " : "");
            quote_ident(&q, name);
            (void)px_buf_puts(&q, " IS ?");
            s->upd_map[s->nupd++] = i;
        }
        src = sqlite3_prepare_v2(s->db, q.data, -1, &s->upd, NULL);
        if (src != SQLITE_OK)
            rc = db_error(s->db, src, err);
    }
out:
    px_buf_cleanup(&q);
    s->started = rc == 0;
    return rc;
}

static void bind_cell(sqlite3_stmt *st, int param, const struct px_batch *b, int col, int64_t r)
{
    const struct px_column *c = &b->cols[col];
    if (px_batch_is_null(c, r)) {
        sqlite3_bind_null(st, param);
        return;
    }
    switch (c->type) {
    case PX_COL_INT:
        sqlite3_bind_int64(st, param, c->v.i[r]);
        break;
    case PX_COL_FLOAT:
        sqlite3_bind_double(st, param, c->v.f[r]);
        break;
    case PX_COL_BOOL:
        sqlite3_bind_int(st, param, c->v.b[r]);
        break;
    case PX_COL_STRING:
        sqlite3_bind_text(st, param, c->v.s[r], -1, SQLITE_STATIC);
        break;
    case PX_COL_TIMESTAMP: {
        struct px_value v = {.type = PX_VAL_TIMESTAMP, .i = c->v.i[r]};
        struct px_buf t;
        px_buf_init(&t, 64);
        (void)px_value_render(&v, &t);
        sqlite3_bind_text(st, param, t.data ? t.data : "", -1, SQLITE_TRANSIENT);
        px_buf_cleanup(&t);
        break;
    }
    }
}

static int sqldst_write(void *state, const struct px_batch *b, struct px_error *err)
{
    struct sqldst *s = state;
    int rc;
    if (!s->started && (rc = sqldst_start(s, b, err)) < 0)
        return rc;
    if (sqlite3_bind_parameter_count(s->ins) != b->ncols)
        return px_error_set(err, PX_EINVALID, "the input's columns changed between batches");
    if ((rc = px__files_charge(s->opts, s->usage, batch_bytes(b), err)) < 0)
        return rc;
    for (int64_t r = 0; r < b->nrows; r++) {
        if (s->upd) {
            sqlite3_reset(s->upd);
            for (int p = 0; p < s->nupd; p++)
                bind_cell(s->upd, p + 1, b, s->upd_map[p], r);
            int src = sqlite3_step(s->upd);
            if (src != SQLITE_DONE)
                return db_error(s->db, src, err);
            if (sqlite3_changes(s->db) > 0)
                continue;
        }
        sqlite3_reset(s->ins);
        for (int i = 0; i < b->ncols; i++)
            bind_cell(s->ins, i + 1, b, i, r);
        int src = sqlite3_step(s->ins);
        if (src != SQLITE_DONE) {
            rc = db_error(s->db, src, err);
            char msg[sizeof(err->message)];
            snprintf(msg, sizeof(msg), "row %lld: %.480s", (long long)(b->first_row + r),
                     err->message);
            snprintf(err->message, sizeof(err->message), "%s", msg);
            return rc;
        }
    }
    return 0;
}

static int sqldst_commit(void *state, struct px_error *err)
{
    struct sqldst *s = state;
    struct px_buf q;
    px_buf_init(&q, 2000);
    int rc = 0;
    if (s->mode == M_REPLACE) {
        sqlite3_finalize(s->ins);
        sqlite3_finalize(s->upd);
        s->ins = s->upd = NULL;
        if (s->started) {
            (void)px_buf_puts(&q, "DROP TABLE IF EXISTS ");
            quote_ident(&q, s->table);
            (void)px_buf_puts(&q, "; ALTER TABLE ");
            quote_ident(&q, s->target);
            (void)px_buf_puts(&q, " RENAME TO ");
            quote_ident(&q, s->table);
        } else { /* no rows at all: the table is emptied */
            (void)px_buf_puts(&q, "DELETE FROM ");
            quote_ident(&q, s->table);
        }
        rc = exec_sql(s->db, q.data, err);
        if (rc < 0 && !s->started && err->code == PX_ENOTFOUND)
            rc = 0; /* nothing to empty */
    }
    px_buf_cleanup(&q);
    if (rc == 0)
        rc = exec_sql(s->db, "COMMIT", err);
    if (rc == 0)
        s->committed = true;
    return rc;
}

const struct px_connector px__conn_sqlite = {
    .version = 1,
    .name = "sqlite",
    .description = "SQLite databases",
    .open_source = sqlsrc_open,
    .next_batch = sqlsrc_next,
    .close_source = sqlsrc_close,
    .open_dest = sqldst_open,
    .write_batch = sqldst_write,
    .commit = sqldst_commit,
    .close_dest = sqldst_close,
    .probe = px__probe_sqlite,
    .dialect = PX_SQL_SQLITE,
    .describe = px__sqlite_describe,
};
