/*
 * The MySQL/MariaDB source: a table (optionally "db.table") or a SELECT query, streamed with
 * mysql_use_result (text protocol, one row in client memory at a time; the server streams the
 * rest). Types: TINYINT(1) and BIT(1) → boolean; other integers and YEAR → int (a BIGINT
 * UNSIGNED above 2^63-1 is an error naming the row and column); FLOAT, DOUBLE, DECIMAL →
 * float; DATETIME, TIMESTAMP → timestamp (UTC: the session time_zone is '+00:00'); DATE →
 * timestamp at 00:00 UTC; zero dates ("0000-00-00") read as NULL; binary strings (BINARY,
 * VARBINARY, BLOB) → lowercase hex; everything else (CHAR, TEXT, TIME, ENUM, SET, JSON, ...)
 * → string. Pushed-down columns restrict the SELECT list and a pushed-down condition becomes
 * WHERE (...); a query is then wrapped as SELECT ... FROM (query) AS q WHERE (...) (which may
 * drop the query's ORDER BY). A query must pass engine/connectors/sqlcheck.h (one statement that
 * only reads, MySQL's executable comments read as code) and runs in a READ ONLY transaction of a
 * session whose every transaction is READ ONLY (SET SESSION TRANSACTION READ ONLY), so a
 * statement that commits implicitly cannot leave read-only mode. Closing before the end shuts the
 * socket instead of reading the rest.
 */
#include "base/buf.h"
#include "base/civil.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/connectors/mysql_int.h"
#include "engine/engine.h"
#include "engine/exec_int.h"
#include "engine/connectors/sqlcheck.h"

#include <ctype.h>
#include <errno.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

enum kind { K_INT, K_UINT, K_FLOAT, K_BOOL, K_BIT, K_DATETIME, K_DATE, K_STRING, K_BINARY };

struct mysrc {
    MYSQL *m;
    MYSQL_RES *res;
    struct px_my_target t;
    int ncols;
    enum kind *kinds;
    char **names;
    int64_t batch_rows, rownum;
    bool eof;
};

void px__mysql_src_close(void *state)
{
    struct mysrc *s = state;
    if (!s)
        return;
    /* Freeing an unfinished streamed result would read (and discard) every remaining row:
     * shut the socket first so that stops at once; the server then ends the query. */
    if (s->res && !s->eof && s->m)
        shutdown(mysql_get_socket(s->m), SHUT_RDWR);
    if (s->res)
        mysql_free_result(s->res);
    if (s->m)
        mysql_close(s->m);
    for (int i = 0; i < s->ncols; i++)
        free(s->names[i]);
    free(s->names);
    free(s->kinds);
    free(s);
}

static enum kind field_kind(const MYSQL_FIELD *f)
{
    switch (f->type) {
    case MYSQL_TYPE_TINY:
        return f->length == 1 ? K_BOOL : K_INT;
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_YEAR:
        return K_INT;
    case MYSQL_TYPE_LONGLONG:
        return (f->flags & UNSIGNED_FLAG) ? K_UINT : K_INT;
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
        return K_FLOAT;
    case MYSQL_TYPE_BIT:
        return f->length == 1 ? K_BOOL : K_BIT;
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP:
        return K_DATETIME;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
        return K_DATE;
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_GEOMETRY:
        return f->charsetnr == 63 ? K_BINARY : K_STRING;
    default:
        return K_STRING;
    }
}

static enum px_col_type kind_type(enum kind k)
{
    switch (k) {
    case K_INT:
    case K_UINT:
    case K_BIT:
        return PX_COL_INT;
    case K_FLOAT:
        return PX_COL_FLOAT;
    case K_BOOL:
        return PX_COL_BOOL;
    case K_DATETIME:
    case K_DATE:
        return PX_COL_TIMESTAMP;
    case K_STRING:
    case K_BINARY:
        return PX_COL_STRING;
    }
    return PX_COL_STRING;
}

/* Appends the SELECT list: the pushed-down columns, else config.columns, else "*". */
static void select_list(struct px_buf *q, const struct px_node_ctx *ctx)
{
    struct json_object *cols = px_json_get(ctx->config, "columns");
    if (ctx->push_columns && ctx->push_ncols > 0) {
        for (int i = 0; i < ctx->push_ncols; i++) {
            (void)px_buf_puts(q, i ? ", " : "");
            px__mysql_quote_ident(q, ctx->push_columns[i]);
        }
    } else if (cols && json_object_array_length(cols) > 0) {
        for (size_t i = 0; i < json_object_array_length(cols); i++) {
            (void)px_buf_puts(q, i ? ", " : "");
            px__mysql_quote_ident(q, json_object_get_string(json_object_array_get_idx(cols, i)));
        }
    } else {
        (void)px_buf_puts(q, "*");
    }
}

static int build_select(const struct px_node_ctx *ctx, struct px_buf *q, struct px_error *err)
{
    const char *table = px_json_get_str(ctx->config, "table");
    const char *query = px_json_get_str(ctx->config, "query");
    const char *where = ctx->push_where && ctx->push_where[0] ? ctx->push_where : NULL;
    if (table) {
        (void)px_buf_puts(q, "SELECT ");
        select_list(q, ctx);
        (void)px_buf_puts(q, " FROM ");
        px__mysql_quote_table(q, table);
    } else if (query) {
        size_t n = 0;
        int rc = px_sqlcheck_source(PX_SQL_MYSQL, query, &n, err);
        if (rc < 0)
            return rc;
        while (n > 0 && isspace((unsigned char)query[n - 1]))
            n--;
        struct json_object *cols = px_json_get(ctx->config, "columns");
        bool wrap = where || (ctx->push_columns && ctx->push_ncols > 0) || cols;
        if (wrap) {
            (void)px_buf_puts(q, "SELECT ");
            select_list(q, ctx);
            (void)px_buf_puts(q, " FROM (");
        }
        (void)px_buf_append(q, query, n);
        if (wrap)
            (void)px_buf_puts(q, "\n) AS q"); /* the query may end in a -- comment */
    } else {
        return px_error_set(err, PX_EINVALID, "mysql: the source needs a table or a query");
    }
    if (where)
        (void)px_buf_printf(q, " WHERE (%s)", where);
    return 0;
}

int px__mysql_src_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    /* cursor_column needs nothing here: the executor pushes `column > last` into push_where
     * and filters and tracks the position itself (engine/cursor.h). */
    struct px_buf q;
    px_buf_init(&q, 1 << 24);
    int rc = build_select(ctx, &q, err);
    if (rc < 0) {
        px_buf_cleanup(&q);
        return rc;
    }
    struct mysrc *s = px_xcalloc(1, sizeof(*s));
    s->batch_rows = ctx->batch_rows > 0 ? ctx->batch_rows : PX_BATCH_DEFAULT_ROWS;
    rc = px__mysql_connect(ctx->params, PX_MY_RUN_CONNECT_MS, PX_MY_RUN_IO_S, &s->m, &s->t, err);
    /* The session's later transactions are read-only too: a statement that commits
     * implicitly (DDL) would otherwise end the READ ONLY transaction and run read-write. */
    if (rc == 0) {
        static const char session_ro[] = "SET SESSION TRANSACTION READ ONLY";
        rc = px__mysql_exec(s->m, &s->t, session_ro, sizeof(session_ro) - 1, err);
    }
    if (rc == 0) {
        static const char ro[] = "START TRANSACTION READ ONLY";
        rc = px__mysql_exec(s->m, &s->t, ro, sizeof(ro) - 1, err);
    }
    if (rc == 0 && mysql_real_query(s->m, q.data, (unsigned long)q.len) != 0) {
        const char *table = px_json_get_str(ctx->config, "table");
        if (mysql_errno(s->m) == ER_NO_SUCH_TABLE && table) {
            rc = px_error_set(err, PX_ENOTFOUND, "mysql: table '%s' not found in database '%s'",
                              table, s->t.database ? s->t.database : "");
            px_error_hint(err, "check the table name, or create the table");
        } else {
            rc = px__mysql_fail(s->m, &s->t, err);
        }
    }
    px_buf_cleanup(&q);
    if (rc == 0) {
        s->res = mysql_use_result(s->m);
        if (!s->res)
            rc = mysql_field_count(s->m)
                     ? px__mysql_fail(s->m, &s->t, err)
                     : px_error_set(err, PX_EINVALID, "mysql: the query returned no result set");
    }
    if (rc == 0) {
        s->ncols = (int)mysql_num_fields(s->res);
        if (s->ncols > PX_BATCH_MAX_COLS)
            rc = px_error_set(err, PX_EINVALID, "mysql: the result has %d columns (at most %d)",
                              s->ncols, PX_BATCH_MAX_COLS);
    }
    if (rc == 0) {
        MYSQL_FIELD *f = mysql_fetch_fields(s->res);
        s->kinds = px_xcalloc((size_t)s->ncols + 1, sizeof(*s->kinds));
        s->names = px_xcalloc((size_t)s->ncols + 1, sizeof(*s->names));
        for (int i = 0; i < s->ncols; i++) {
            s->kinds[i] = field_kind(&f[i]);
            s->names[i] = px_xstrdup(f[i].name);
        }
    }
    if (rc < 0) {
        px__mysql_src_close(s);
        return rc;
    }
    *state_out = s;
    return 0;
}

static int num2(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

static bool digits(const char *p, int n)
{
    for (int i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* "YYYY-MM-DD[ HH:MM:SS[.ffffff]]" → µs since the epoch. 1 for a zero or partial date
 * (NULL), -1 when malformed. */
static int parse_datetime(const char *s, size_t len, int64_t *us)
{
    if (len < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2))
        return -1;
    int y = num2(s) * 100 + num2(s + 2), mo = num2(s + 5), d = num2(s + 8);
    if (mo == 0 || d == 0)
        return 1;
    if (mo > 12 || d > 31)
        return -1;
    int64_t t = px_days_from_civil(y, mo, d) * 86400;
    int64_t frac = 0;
    if (len > 10) {
        if (len < 19 || (s[10] != ' ' && s[10] != 'T') || !digits(s + 11, 2) || s[13] != ':' ||
            !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
            return -1;
        t += num2(s + 11) * 3600 + num2(s + 14) * 60 + num2(s + 17);
        if (len > 19) {
            if (s[19] != '.' || len > 26 || !digits(s + 20, (int)len - 20))
                return -1;
            int n = 0;
            for (size_t i = 20; i < len; i++, n++)
                frac = frac * 10 + (s[i] - '0');
            for (; n < 6; n++)
                frac *= 10;
        }
    }
    *us = t * 1000000 + frac;
    return 0;
}

static int cell(struct mysrc *s, struct px_batch *b, int i, int64_t r, const char *v,
                unsigned long len, struct px_error *err)
{
    struct px_column *c = &b->cols[i];
    char *end = NULL;
    switch (s->kinds[i]) {
    case K_INT:
    case K_UINT:
        errno = 0;
        c->v.i[r] = strtoll(v, &end, 10);
        if (errno == ERANGE)
            return px_error_set(err, PX_EINVALID,
                                "mysql: row %lld: column '%s': %s does not fit a 64-bit integer",
                                (long long)(b->first_row + r), c->name, v);
        break;
    case K_FLOAT:
        c->v.f[r] = strtod(v, &end);
        break;
    case K_BOOL:
        if (len == 1 && (v[0] == 0 || v[0] == 1))
            c->v.b[r] = (uint8_t)v[0]; /* BIT(1) comes as a raw byte */
        else
            c->v.b[r] = strtoll(v, NULL, 10) != 0;
        break;
    case K_BIT: {
        uint64_t x = 0;
        for (unsigned long k = 0; k < len; k++)
            x = x << 8 | (unsigned char)v[k];
        c->v.i[r] = (int64_t)x;
        break;
    }
    case K_DATETIME:
    case K_DATE: {
        int p = parse_datetime(v, len, &c->v.i[r]);
        if (p > 0)
            return 0; /* zero date: stays NULL */
        if (p < 0)
            return px_error_set(err, PX_EINVALID,
                                "mysql: row %lld: column '%s': cannot read '%.40s' as a date",
                                (long long)(b->first_row + r), c->name, v);
        break;
    }
    case K_STRING:
        c->v.s[r] = px_batch_strdup(b, v, len);
        break;
    case K_BINARY: {
        static const char hex[] = "0123456789abcdef";
        char *h = px_xmalloc(len * 2 + 1);
        for (unsigned long k = 0; k < len; k++) {
            h[2 * k] = hex[(unsigned char)v[k] >> 4];
            h[2 * k + 1] = hex[(unsigned char)v[k] & 15];
        }
        c->v.s[r] = px_batch_strdup(b, h, len * 2);
        free(h);
        break;
    }
    }
    px_batch_set_null(c, r, false);
    return 0;
}

int px__mysql_src_next(void *state, struct px_batch **out, struct px_error *err)
{
    struct mysrc *s = state;
    *out = NULL;
    if (s->eof)
        return 0;
    struct px_batch *b = px_batch_create(s->batch_rows);
    b->first_row = s->rownum + 1;
    for (int i = 0; i < s->ncols; i++)
        px_batch_add_column(b, s->names[i], kind_type(s->kinds[i]));
    int64_t n = 0;
    int rc = 0;
    while (n < s->batch_rows && b->arena_bytes < PX_BATCH_TARGET_BYTES && rc == 0) {
        MYSQL_ROW row = mysql_fetch_row(s->res);
        if (!row) {
            if (mysql_errno(s->m))
                rc = px__mysql_fail(s->m, &s->t, err);
            s->eof = true;
            break;
        }
        unsigned long *lens = mysql_fetch_lengths(s->res);
        for (int i = 0; i < s->ncols && rc == 0; i++)
            if (row[i])
                rc = cell(s, b, i, n, row[i], lens[i], err);
        n++;
    }
    b->nrows = n;
    s->rownum += n;
    if (rc < 0 || n == 0) {
        px_batch_destroy(b);
        return rc;
    }
    *out = b;
    return 0;
}
