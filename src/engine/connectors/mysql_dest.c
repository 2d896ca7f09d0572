/*
 * The MySQL/MariaDB destination. Rows go in multi-row INSERT statements of up to ~2 MB (less
 * when max_allowed_packet is smaller), one per batch or more, with literals escaped by
 * mysql_real_escape_string, all in one InnoDB transaction committed by commit().
 *
 * A missing table is created (int → BIGINT, float → DOUBLE, boolean → BOOLEAN, string →
 * LONGTEXT, timestamp → DATETIME(6) in UTC; utf8mb4; InnoDB) and dropped again if the run
 * fails. An existing table must have every column of the input (it may have more).
 *
 * replace loads a staging table (`t__px_new_<random>`, CREATE TABLE ... LIKE t when t exists)
 * and, in commit(), swaps it in with one RENAME TABLE t TO t__px_old_<random>,
 * t__px_new_<random> TO t — atomic for readers — then drops the old table. DDL commits implicitly
 * in MySQL, so the swap happens only after the load has committed; a failed run drops the staging
 * table and leaves t untouched.
 *
 * upsert writes INSERT ... ON DUPLICATE KEY UPDATE c = VALUES(c), which needs a PRIMARY KEY or
 * UNIQUE index on exactly the key columns: a created table gets a UNIQUE key on them (string
 * key columns become VARCHAR(255)); an existing table without one is refused with a hint to
 * add it (no delete+insert fallback). Rows with a NULL key never match (UNIQUE allows many
 * NULLs) and are inserted. Another unique index on the table can also trigger the update.
 */
#include "base/buf.h"
#include "base/civil.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/connectors/mysql_int.h"
#include "engine/engine.h"
#include "engine/celltext.h"
#include "engine/exec_int.h"

#include <math.h>
#include <mysqld_error.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STMT_MAX (2u << 20)
#define NAME_MAX_LEN 64 /* MySQL identifiers */

enum mymode { M_APPEND, M_REPLACE, M_UPSERT };

struct mydst {
    MYSQL *m;
    struct px_my_target t;
    enum mymode mode;
    char *table;    /* as configured: "t" or "db.t" */
    char *db;       /* the "db." part, or NULL */
    char *name;     /* the bare table name */
    char *staging;  /* replace: the bare staging name */
    char token[16]; /* replace: random, in the staging and old names of this run */
    struct json_object *keys;
    bool started, existed, created, staged, in_tx, committed;
    bool utf8mb4_db; /* the database's default character set is utf8mb4 */
    size_t stmt_max;
    char *prefix; /* "INSERT INTO `t` (`a`, `b`) VALUES " */
    char *suffix; /* "" or " ON DUPLICATE KEY UPDATE ..." */
    int ncols;
    char **cols; /* the columns of the first batch */
    char *sql;   /* the statement being built */
    size_t len, cap;
};

/* A table reference in the destination's database part: `db`.`name` or `name`. */
static void qualified(struct px_buf *q, const struct mydst *s, const char *name)
{
    if (s->db) {
        px__mysql_quote_ident(q, s->db);
        (void)px_buf_puts(q, ".");
    }
    px__mysql_quote_ident(q, name);
}

static int exec_buf(struct mydst *s, struct px_buf *q, struct px_error *err)
{
    return px__mysql_exec(s->m, &s->t, q->data ? q->data : "", q->len, err);
}

void px__mysql_dest_close(void *state)
{
    struct mydst *s = state;
    if (!s)
        return;
    if (s->m && !s->committed) {
        struct px_error ignored;
        px_error_clear(&ignored);
        if (s->in_tx)
            (void)px__mysql_exec(s->m, &s->t, "ROLLBACK", 8, &ignored);
        struct px_buf q;
        px_buf_init(&q, 4096);
        if (s->staged) {
            (void)px_buf_puts(&q, "DROP TABLE IF EXISTS ");
            qualified(&q, s, s->staging);
            (void)exec_buf(s, &q, &ignored);
        } else if (s->created) {
            (void)px_buf_puts(&q, "DROP TABLE IF EXISTS ");
            qualified(&q, s, s->name);
            (void)exec_buf(s, &q, &ignored);
        }
        px_buf_cleanup(&q);
    }
    if (s->m)
        mysql_close(s->m);
    for (int i = 0; i < s->ncols; i++)
        free(s->cols[i]);
    free(s->cols);
    free(s->table);
    free(s->db);
    free(s->name);
    free(s->staging);
    free(s->prefix);
    free(s->suffix);
    free(s->sql);
    free(s);
}

/* "<name><suffix>" when it fits an identifier, else "px_<hash><suffix>". */
static char *side_name(const char *name, const char *suffix)
{
    char out[2 * NAME_MAX_LEN + 32];
    if (strlen(name) + strlen(suffix) <= NAME_MAX_LEN) {
        snprintf(out, sizeof(out), "%s%s", name, suffix);
    } else {
        uint64_t h = 1469598103934665603ull;
        for (const char *p = name; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
        snprintf(out, sizeof(out), "px_%016llx%s", (unsigned long long)h, suffix);
    }
    return px_xstrdup(out);
}

int px__mysql_dest_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    const char *table = px_json_get_str(ctx->config, "table");
    if (!table || !table[0])
        return px_error_set(err, PX_EINVALID, "mysql: the destination needs a table");
    const char *mode = px_json_get_str(ctx->config, "mode");
    struct mydst *s = px_xcalloc(1, sizeof(*s));
    s->mode = !mode || strcmp(mode, "append") == 0 ? M_APPEND
              : strcmp(mode, "replace") == 0       ? M_REPLACE
                                                   : M_UPSERT;
    s->keys = px_json_get(ctx->config, "keys");
    s->table = px_xstrdup(table);
    const char *dot = strchr(table, '.');
    if (dot && dot != table && dot[1]) {
        s->db = px_xstrndup(table, (size_t)(dot - table));
        s->name = px_xstrdup(dot + 1);
    } else {
        s->name = px_xstrdup(table);
    }
    /* A name of this run's own: two runs replacing the same table at once must never swap in
     * each other's half-loaded staging table. (A process killed mid-load leaves its staging
     * table behind under this name; it is never swapped in.) */
    snprintf(s->token, sizeof(s->token), "%08x", randombytes_random());
    char sfx[32];
    snprintf(sfx, sizeof(sfx), "__px_new_%s", s->token);
    s->staging = side_name(s->name, sfx);
    int rc = 0;
    if (s->mode == M_UPSERT && (!s->keys || !json_object_is_type(s->keys, json_type_array) ||
                                json_object_array_length(s->keys) == 0))
        rc = px_error_set(err, PX_EINVALID, "mysql: mode upsert needs keys");
    if (rc == 0)
        rc =
            px__mysql_connect(ctx->params, PX_MY_RUN_CONNECT_MS, PX_MY_RUN_IO_S, &s->m, &s->t, err);
    s->stmt_max = STMT_MAX;
    if (rc == 0 &&
        mysql_query(s->m, "SELECT @@max_allowed_packet, @@character_set_database") == 0) {
        MYSQL_RES *r = mysql_store_result(s->m);
        MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
        s->utf8mb4_db = row && row[1] && strcmp(row[1], "utf8mb4") == 0;
        if (row && row[0]) {
            long long p = strtoll(row[0], NULL, 10) - 1024;
            if (p > 4096 && (unsigned long long)p < s->stmt_max)
                s->stmt_max = (size_t)p;
        }
        if (r)
            mysql_free_result(r);
    }
    if (rc < 0) {
        px__mysql_dest_close(s);
        return rc;
    }
    *state_out = s;
    return 0;
}

static const char *sql_type(enum px_col_type t, bool key)
{
    switch (t) {
    case PX_COL_INT:
        return "BIGINT";
    case PX_COL_FLOAT:
        return "DOUBLE";
    case PX_COL_BOOL:
        return "BOOLEAN";
    case PX_COL_TIMESTAMP:
        return "DATETIME(6)";
    case PX_COL_STRING:
        return key ? "VARCHAR(255)" : "LONGTEXT";
    }
    return "LONGTEXT";
}

static bool is_key(const struct mydst *s, const char *col)
{
    for (size_t k = 0; s->mode == M_UPSERT && k < json_object_array_length(s->keys); k++)
        if (strcasecmp(json_object_get_string(json_object_array_get_idx(s->keys, k)), col) == 0)
            return true;
    return false;
}

/* The column names of table name, or -PX_ENOTFOUND (err untouched) when it does not exist. */
static int table_columns(struct mydst *s, const char *name, char ***out, int *n,
                         struct px_error *err)
{
    struct px_buf q;
    px_buf_init(&q, 4096);
    (void)px_buf_puts(&q, "SELECT * FROM ");
    qualified(&q, s, name);
    (void)px_buf_puts(&q, " LIMIT 0");
    int rc = 0;
    *out = NULL;
    *n = 0;
    if (mysql_real_query(s->m, q.data, (unsigned long)q.len) != 0) {
        rc = mysql_errno(s->m) == ER_NO_SUCH_TABLE ? -PX_ENOTFOUND
                                                   : px__mysql_fail(s->m, &s->t, err);
    } else {
        MYSQL_RES *r = mysql_store_result(s->m);
        if (!r) {
            rc = px__mysql_fail(s->m, &s->t, err);
        } else {
            unsigned nf = mysql_num_fields(r);
            MYSQL_FIELD *f = mysql_fetch_fields(r);
            *out = px_xcalloc(nf + 1, sizeof(char *));
            for (unsigned i = 0; i < nf; i++)
                (*out)[i] = px_xstrdup(f[i].name);
            *n = (int)nf;
            mysql_free_result(r);
        }
    }
    px_buf_cleanup(&q);
    return rc;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Every column of b exists in the table (names compare case-insensitively, as in MySQL). */
static int check_columns(struct mydst *s, const struct px_batch *b, char **names, int n,
                         struct px_error *err)
{
    for (int i = 0; i < b->ncols; i++) {
        bool found = false;
        for (int k = 0; k < n && !found; k++)
            found = strcasecmp(names[k], b->cols[i].name) == 0;
        if (found)
            continue;
        struct px_buf list;
        px_buf_init(&list, 300);
        for (int k = 0; k < n; k++)
            (void)px_buf_printf(&list, "%s%s", k ? ", " : "", names[k]);
        int rc = px_error_set(err, PX_EINVALID,
                              "mysql: column '%s' does not exist in table '%s' (columns: %s)",
                              b->cols[i].name, s->table, list.data ? list.data : "");
        px_buf_cleanup(&list);
        px_error_hint(err, "add the column to the table (ALTER TABLE ... ADD COLUMN), or "
                           "rename/drop it in the pipeline");
        return rc;
    }
    return 0;
}

/* upsert into an existing table: a PRIMARY KEY or UNIQUE index on exactly the keys. */
static int check_unique(struct mydst *s, struct px_error *err)
{
    struct px_buf q;
    px_buf_init(&q, 4096);
    (void)px_buf_puts(&q, "SHOW INDEX FROM ");
    qualified(&q, s, s->name);
    int rc = 0;
    if (mysql_real_query(s->m, q.data, (unsigned long)q.len) != 0) {
        px_buf_cleanup(&q);
        return px__mysql_fail(s->m, &s->t, err);
    }
    px_buf_cleanup(&q);
    MYSQL_RES *r = mysql_store_result(s->m);
    if (!r)
        return px__mysql_fail(s->m, &s->t, err);
    size_t nk = json_object_array_length(s->keys);
    /* Rows come grouped by index: count per unique index its columns and how many are keys. */
    char cur[256] = "";
    int total = 0, hits = 0;
    bool ok = false;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r)) && !ok) {
        if (!row[1] || !row[2] || !row[4] || strcmp(row[1], "0") != 0)
            continue;
        if (strcmp(cur, row[2]) != 0) {
            ok = total > 0 && total == hits && (size_t)hits == nk;
            snprintf(cur, sizeof(cur), "%s", row[2]);
            total = hits = 0;
        }
        total++;
        hits += is_key(s, row[4]);
    }
    ok = ok || (total > 0 && total == hits && (size_t)hits == nk);
    mysql_free_result(r);
    if (!ok) {
        struct px_buf list;
        px_buf_init(&list, 4096);
        for (size_t k = 0; k < nk; k++) {
            (void)px_buf_puts(&list, k ? ", " : "");
            px__mysql_quote_ident(&list,
                                  json_object_get_string(json_object_array_get_idx(s->keys, k)));
        }
        rc = px_error_set(err, PX_EINVALID,
                          "mysql: upsert into table '%s' needs a PRIMARY KEY or UNIQUE index on "
                          "exactly the keys (%s)",
                          s->table, list.data ? list.data : "");
        px_error_hint(err, "add one: ALTER TABLE ... ADD UNIQUE (%s)", list.data ? list.data : "");
        px_buf_cleanup(&list);
    }
    return rc;
}

static int create_table(struct mydst *s, const char *name, const struct px_batch *b,
                        struct px_error *err)
{
    struct px_buf q;
    px_buf_init(&q, 1 << 20);
    (void)px_buf_puts(&q, "CREATE TABLE ");
    qualified(&q, s, name);
    (void)px_buf_puts(&q, " (");
    for (int i = 0; i < b->ncols; i++) {
        (void)px_buf_puts(&q, i ? ", " : "");
        px__mysql_quote_ident(&q, b->cols[i].name);
        (void)px_buf_printf(&q, " %s NULL", sql_type(b->cols[i].type, is_key(s, b->cols[i].name)));
    }
    if (s->mode == M_UPSERT) {
        (void)px_buf_puts(&q, ", UNIQUE KEY `px_upsert_keys` (");
        for (size_t k = 0; k < json_object_array_length(s->keys); k++) {
            (void)px_buf_puts(&q, k ? ", " : "");
            px__mysql_quote_ident(&q,
                                  json_object_get_string(json_object_array_get_idx(s->keys, k)));
        }
        (void)px_buf_puts(&q, ")");
    }
    /* The database's collation when it is utf8mb4 already, else utf8mb4's default. */
    (void)px_buf_puts(&q, s->utf8mb4_db ? ") ENGINE=InnoDB"
                                        : ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
    int rc = exec_buf(s, &q, err);
    px_buf_cleanup(&q);
    return rc;
}

static int dest_start(struct mydst *s, const struct px_batch *b, struct px_error *err)
{
    if (b->ncols == 0)
        return px_error_set(err, PX_EINVALID, "mysql: the input has no columns");
    for (size_t k = 0; s->mode == M_UPSERT && k < json_object_array_length(s->keys); k++) {
        const char *key = json_object_get_string(json_object_array_get_idx(s->keys, k));
        bool found = false;
        for (int i = 0; i < b->ncols && !found; i++)
            found = strcasecmp(b->cols[i].name, key) == 0;
        if (!found)
            return px_error_set(err, PX_EINVALID, "mysql: key column '%s' is not in the input",
                                key);
    }
    char **names = NULL;
    int n = 0;
    int rc = table_columns(s, s->name, &names, &n, err);
    s->existed = rc == 0;
    if (rc < 0 && rc != -PX_ENOTFOUND)
        return rc;
    rc = 0;
    struct px_buf q;
    px_buf_init(&q, 1 << 20);
    if (s->existed)
        rc = check_columns(s, b, names, n, err);
    if (rc == 0 && s->mode == M_REPLACE) {
        (void)px_buf_puts(&q, "DROP TABLE IF EXISTS ");
        qualified(&q, s, s->staging);
        rc = exec_buf(s, &q, err);
        px_buf_reset(&q);
        if (rc == 0 && s->existed) {
            (void)px_buf_puts(&q, "CREATE TABLE ");
            qualified(&q, s, s->staging);
            (void)px_buf_puts(&q, " LIKE ");
            qualified(&q, s, s->name);
            rc = exec_buf(s, &q, err);
        } else if (rc == 0) {
            rc = create_table(s, s->staging, b, err);
        }
        s->staged = rc == 0;
    } else if (rc == 0 && !s->existed) {
        rc = create_table(s, s->name, b, err);
        s->created = rc == 0;
    } else if (rc == 0 && s->mode == M_UPSERT) {
        rc = check_unique(s, err);
    }
    free_names(names, n);
    if (rc == 0) {
        rc = px__mysql_exec(s->m, &s->t, "START TRANSACTION", 17, err);
        s->in_tx = rc == 0;
    }
    if (rc == 0) {
        px_buf_reset(&q);
        (void)px_buf_puts(&q, "INSERT INTO ");
        qualified(&q, s, s->mode == M_REPLACE ? s->staging : s->name);
        (void)px_buf_puts(&q, " (");
        s->cols = px_xcalloc((size_t)b->ncols + 1, sizeof(char *));
        s->ncols = b->ncols;
        for (int i = 0; i < b->ncols; i++) {
            (void)px_buf_puts(&q, i ? ", " : "");
            px__mysql_quote_ident(&q, b->cols[i].name);
            s->cols[i] = px_xstrdup(b->cols[i].name);
        }
        (void)px_buf_puts(&q, ") VALUES ");
        s->prefix = px_buf_take(&q);
        if (s->mode == M_UPSERT) {
            (void)px_buf_puts(&q, " ON DUPLICATE KEY UPDATE ");
            int nset = 0;
            for (int i = 0; i < b->ncols; i++) {
                if (is_key(s, b->cols[i].name))
                    continue;
                (void)px_buf_puts(&q, nset++ ? ", " : "");
                px__mysql_quote_ident(&q, b->cols[i].name);
                (void)px_buf_puts(&q, " = VALUES(");
                px__mysql_quote_ident(&q, b->cols[i].name);
                (void)px_buf_puts(&q, ")");
            }
            if (!nset) { /* every column is a key: a no-op update */
                const char *k0 = json_object_get_string(json_object_array_get_idx(s->keys, 0));
                px__mysql_quote_ident(&q, k0);
                (void)px_buf_puts(&q, " = ");
                px__mysql_quote_ident(&q, k0);
            }
        }
        s->suffix = px_buf_take(&q);
    }
    px_buf_cleanup(&q);
    s->started = rc == 0;
    return rc;
}

static void reserve(struct mydst *s, size_t more)
{
    if (s->len + more + 1 <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 1 << 16;
    while (cap < s->len + more + 1)
        cap *= 2;
    s->sql = px_xrealloc(s->sql, cap);
    s->cap = cap;
}

static void put(struct mydst *s, const char *p, size_t n)
{
    reserve(s, n);
    memcpy(s->sql + s->len, p, n);
    s->len += n;
}

/* Appends the SQL literal of a cell; -1 for a float MySQL cannot store (NaN, infinity). */
static int put_value(struct mydst *s, const struct px_column *c, int64_t r)
{
    char tmp[64];
    int n = 0;
    if (px_batch_is_null(c, r)) {
        put(s, "NULL", 4);
        return 0;
    }
    switch (c->type) {
    case PX_COL_INT:
        n = snprintf(tmp, sizeof(tmp), "%lld", (long long)c->v.i[r]);
        break;
    case PX_COL_FLOAT:
        if (!isfinite(c->v.f[r]))
            return -1;
        px_celltext_double(c->v.f[r], tmp, sizeof(tmp));
        n = (int)strlen(tmp);
        break;
    case PX_COL_BOOL:
        n = snprintf(tmp, sizeof(tmp), "%d", c->v.b[r] ? 1 : 0);
        break;
    case PX_COL_TIMESTAMP: {
        int64_t us = c->v.i[r];
        int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
        int64_t frac = us - secs * 1000000;
        int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
        int64_t sod = secs - days * 86400, y;
        int mo, d;
        px_civil_from_days(days, &y, &mo, &d);
        n = snprintf(tmp, sizeof(tmp), "'%04lld-%02d-%02d %02d:%02d:%02d.%06lld'", (long long)y, mo,
                     d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (long long)frac);
        break;
    }
    case PX_COL_STRING: {
        const char *v = c->v.s[r];
        size_t len = strlen(v);
        reserve(s, 2 * len + 3);
        s->sql[s->len++] = '\'';
        s->len += mysql_real_escape_string(s->m, s->sql + s->len, v, (unsigned long)len);
        s->sql[s->len++] = '\'';
        return 0;
    }
    }
    put(s, tmp, (size_t)n);
    return 0;
}

/* Sends the statement holding rows [first, first + count) of b; maps "at row N" in errors. */
static int flush(struct mydst *s, const struct px_batch *b, int64_t first, struct px_error *err)
{
    put(s, s->suffix, strlen(s->suffix));
    s->sql[s->len] = '\0';
    int rc = 0;
    if (mysql_real_query(s->m, s->sql, (unsigned long)s->len) != 0) {
        rc = px__mysql_fail(s->m, &s->t, err);
        char *at = strstr(err->message, " at row ");
        if (at) {
            long long n = strtoll(at + 8, NULL, 10);
            *at = '\0';
            char msg[sizeof(err->message)];
            snprintf(msg, sizeof(msg), "row %lld: %.480s",
                     (long long)(b->first_row + first + n - 1), err->message);
            snprintf(err->message, sizeof(err->message), "%s", msg);
        }
    }
    s->len = 0;
    return rc;
}

int px__mysql_dest_write(void *state, const struct px_batch *b, struct px_error *err)
{
    struct mydst *s = state;
    int rc;
    if (b->nrows == 0)
        return 0;
    if (!s->started && (rc = dest_start(s, b, err)) < 0)
        return rc;
    bool same = b->ncols == s->ncols;
    for (int i = 0; same && i < b->ncols; i++)
        same = strcmp(b->cols[i].name, s->cols[i]) == 0;
    if (!same)
        return px_error_set(err, PX_EINVALID, "mysql: the input's columns changed between batches");
    size_t plen = strlen(s->prefix), slen = strlen(s->suffix);
    int64_t first = 0;
    s->len = 0;
    for (int64_t r = 0; r < b->nrows; r++) {
        size_t mark = s->len;
        if (s->len == 0)
            put(s, s->prefix, plen);
        else
            put(s, ",", 1);
        put(s, "(", 1);
        for (int i = 0; i < b->ncols; i++) {
            if (i)
                put(s, ",", 1);
            if (put_value(s, &b->cols[i], r) < 0)
                return px_error_set(
                    err, PX_EINVALID, "mysql: row %lld: column '%s': %g cannot be stored in MySQL",
                    (long long)(b->first_row + r), b->cols[i].name, b->cols[i].v.f[r]);
        }
        put(s, ")", 1);
        if (s->len + slen > s->stmt_max && mark > plen) {
            /* Too big with this row: send the rows before it, start again with it. */
            size_t rowlen = s->len - mark - 1; /* without the leading comma */
            char *row = px_xmalloc(rowlen + 1);
            memcpy(row, s->sql + mark + 1, rowlen);
            s->len = mark;
            rc = flush(s, b, first, err);
            if (rc == 0) {
                put(s, s->prefix, plen);
                put(s, row, rowlen);
            }
            free(row);
            if (rc < 0)
                return rc;
            first = r;
        }
    }
    return s->len ? flush(s, b, first, err) : 0;
}

int px__mysql_dest_commit(void *state, struct px_error *err)
{
    struct mydst *s = state;
    int rc = 0;
    struct px_buf q;
    px_buf_init(&q, 4096);
    if (s->mode == M_REPLACE && !s->started) {
        /* No rows at all: an existing table is replaced by an empty copy. */
        char **names = NULL;
        int n = 0;
        rc = table_columns(s, s->name, &names, &n, err);
        free_names(names, n);
        if (rc == -PX_ENOTFOUND) {
            px_buf_cleanup(&q);
            s->committed = true;
            return 0;
        }
        s->existed = true;
        if (rc == 0) {
            (void)px_buf_puts(&q, "DROP TABLE IF EXISTS ");
            qualified(&q, s, s->staging);
            rc = exec_buf(s, &q, err);
            px_buf_reset(&q);
        }
        if (rc == 0) {
            (void)px_buf_puts(&q, "CREATE TABLE ");
            qualified(&q, s, s->staging);
            (void)px_buf_puts(&q, " LIKE ");
            qualified(&q, s, s->name);
            rc = exec_buf(s, &q, err);
            s->staged = rc == 0;
            px_buf_reset(&q);
        }
    }
    if (rc == 0 && s->in_tx) {
        rc = px__mysql_exec(s->m, &s->t, "COMMIT", 6, err);
        if (rc == 0)
            s->in_tx = false;
    }
    if (rc == 0 && s->mode == M_REPLACE) {
        char osfx[32];
        snprintf(osfx, sizeof(osfx), "__px_old_%s", s->token);
        char *old = side_name(s->name, osfx);
        (void)px_buf_puts(&q, "DROP TABLE IF EXISTS ");
        qualified(&q, s, old);
        rc = exec_buf(s, &q, err);
        px_buf_reset(&q);
        if (rc == 0) {
            (void)px_buf_puts(&q, "RENAME TABLE ");
            if (s->existed) {
                qualified(&q, s, s->name);
                (void)px_buf_puts(&q, " TO ");
                qualified(&q, s, old);
                (void)px_buf_puts(&q, ", ");
            }
            qualified(&q, s, s->staging);
            (void)px_buf_puts(&q, " TO ");
            qualified(&q, s, s->name);
            rc = exec_buf(s, &q, err);
            px_buf_reset(&q);
        }
        if (rc == 0) {
            s->staged = false; /* it is the table now */
            if (s->existed) {
                struct px_error ignored;
                px_error_clear(&ignored);
                (void)px_buf_puts(&q, "DROP TABLE IF EXISTS ");
                qualified(&q, s, old);
                (void)exec_buf(s, &q, &ignored);
            }
        }
        free(old);
    }
    px_buf_cleanup(&q);
    if (rc == 0)
        s->committed = true;
    return rc;
}
