/*
 * The MySQL/MariaDB connector's describe callback (engine/schema.h). The connection is the one
 * a source opens (px__mysql_connect: TCP only, egress policy, TLS per sslmode, connect deadline
 * and read/write timeouts from what is left of the description's time), made read-only with
 * SET SESSION TRANSACTION READ ONLY. The catalog is information_schema of the connection's
 * database (DATABASE(): nothing a tenant wrote is spliced into the catalog statements except
 * the table names read from the catalog itself, escaped with mysql_real_escape_string): TABLES
 * (base tables and views; TABLE_ROWS is the row estimate, null for views), COLUMNS,
 * KEY_COLUMN_USAGE joined with TABLE_CONSTRAINTS (primary, unique and foreign keys). Engine
 * types follow the source's mapping of each column type (engine/connectors/mysql_src.c;
 * test_schema_describe checks both agree on every fixture column). Sampling runs each
 * statement under MariaDB's max_statement_time (MySQL: max_execution_time) = what is left of
 * the window; values are sampled for char, varchar, enum, set, tinytext and text columns.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/text.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/connectors/describe.h"
#include "engine/connectors/mysql_int.h"
#include "engine/exec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct tab {
    char *name;
    struct json_object *t; /* borrowed */
};

struct cand {
    struct json_object *col; /* borrowed */
    const char *table;       /* borrowed from tabs */
    char *name;
};

static int cmp_tab(const void *a, const void *b)
{
    return strcmp(((const struct tab *)a)->name, ((const struct tab *)b)->name);
}

static struct tab *find(struct tab *byname, int n, const char *name)
{
    struct tab key = {.name = (char *)(uintptr_t)name};
    return name ? bsearch(&key, byname, (size_t)n, sizeof(*byname), cmp_tab) : NULL;
}

/* The engine type the source gives a column (field_kind + kind_type in mysql_src.c, read here
 * from the catalog's names instead of a result's field). */
static int engine_type(const char *data_type, const char *column_type)
{
    const char *dt = data_type ? data_type : "";
    const char *ct = column_type ? column_type : "";
    if (strcasecmp(dt, "tinyint") == 0)
        return strncasecmp(ct, "tinyint(1)", 10) == 0 ? PX_COL_BOOL : PX_COL_INT;
    if (strcasecmp(dt, "bit") == 0)
        return strncasecmp(ct, "bit(1)", 6) == 0 ? PX_COL_BOOL : PX_COL_INT;
    static const char *const ints[] = {"smallint", "mediumint", "int", "integer", "year", "bigint"};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        if (strcasecmp(dt, ints[i]) == 0)
            return PX_COL_INT;
    static const char *const floats[] = {"float",   "double", "decimal",
                                         "numeric", "real",   "double precision"};
    for (size_t i = 0; i < sizeof(floats) / sizeof(floats[0]); i++)
        if (strcasecmp(dt, floats[i]) == 0)
            return PX_COL_FLOAT;
    if (strcasecmp(dt, "datetime") == 0 || strcasecmp(dt, "timestamp") == 0 ||
        strcasecmp(dt, "date") == 0)
        return PX_COL_TIMESTAMP;
    return PX_COL_STRING;
}

static bool sampled_type(const char *dt, const char *charset)
{
    if (!dt || !charset || strcasecmp(charset, "binary") == 0)
        return false;
    static const char *const ok[] = {"char", "varchar", "enum", "set", "tinytext", "text"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcasecmp(dt, ok[i]) == 0)
            return true;
    return false;
}

/* Runs sql and stores its rows; NULL with err set. */
static MYSQL_RES *query(MYSQL *m, const struct px_my_target *t, const char *sql,
                        struct px_error *err)
{
    if (mysql_real_query(m, sql, (unsigned long)strlen(sql)) != 0) {
        px__mysql_fail(m, t, err);
        return NULL;
    }
    MYSQL_RES *r = mysql_store_result(m);
    if (!r)
        px__mysql_fail(m, t, err);
    return r;
}

/* Appends " IN ('a', 'b', ...)" of the table names. */
static void in_list(MYSQL *m, struct px_buf *q, const struct tab *tabs, int n)
{
    (void)px_buf_puts(q, " IN (");
    for (int i = 0; i < n; i++) {
        size_t len = strlen(tabs[i].name);
        char *esc = px_xmalloc(len * 2 + 1);
        unsigned long el = mysql_real_escape_string(m, esc, tabs[i].name, (unsigned long)len);
        (void)px_buf_printf(q, "%s'%.*s'", i ? ", " : "", (int)el, esc);
        free(esc);
    }
    (void)px_buf_puts(q, ")");
}

/* Sets the server-side limit of the next statements to ms (MariaDB, else MySQL). */
static void statement_limit(MYSQL *m, int ms)
{
    char q[96];
    snprintf(q, sizeof(q), "SET SESSION max_statement_time = %d.%03d", ms / 1000, ms % 1000);
    if (mysql_query(m, q) != 0) {
        snprintf(q, sizeof(q), "SET SESSION max_execution_time = %d", ms < 1 ? 1 : ms);
        (void)mysql_query(m, q);
    }
}

static void sample(MYSQL *m, struct px_desc *d, struct cand *c, int nc)
{
    px__desc_sample_start(d);
    for (int i = 0; i < nc; i++) {
        int left = px__desc_left_ms(d, true);
        if (left <= 0 || d->full) {
            d->sampled = false;
            break;
        }
        statement_limit(m, left);
        struct px_buf q;
        px_buf_init(&q, 1 << 16);
        (void)px_buf_puts(&q, "SELECT DISTINCT v FROM (SELECT ");
        px__mysql_quote_ident(&q, c[i].name);
        (void)px_buf_puts(&q, " AS v FROM ");
        px__mysql_quote_ident(&q, c[i].table);
        (void)px_buf_printf(&q, " LIMIT %d) q WHERE v IS NOT NULL LIMIT %d",
                            PX_DESCRIBE_SAMPLE_ROWS, d->o.max_values + 1);
        struct px_desc_values vs;
        px__desc_values_init(&vs, d);
        MYSQL_RES *r = NULL;
        if (mysql_real_query(m, q.data, (unsigned long)q.len) == 0 && (r = mysql_store_result(m))) {
            MYSQL_ROW row;
            while ((row = mysql_fetch_row(r))) {
                unsigned long *len = mysql_fetch_lengths(r);
                if (row[0] && !px__desc_values_add(&vs, row[0], len[0]))
                    break;
            }
            mysql_free_result(r);
        } else {
            unsigned e = mysql_errno(m);
            vs.over = true;
            if (e == 1969 || e == 3024) /* the window ended inside the statement */
                d->sampled = false;
        }
        px_buf_cleanup(&q);
        px__desc_values_set(d, c[i].col, &vs);
    }
    statement_limit(m, 0);
}

int px__mysql_describe(const struct px_node_ctx *ctx, struct px_desc *d, struct px_error *err)
{
    int left = px__desc_left_ms(d, false);
    struct px_my_target tg;
    MYSQL *m = NULL;
    int rc = px__mysql_connect(ctx->params, left, (unsigned)((left + 999) / 1000), &m, &tg, err);
    if (rc < 0)
        return rc;
    static const char ro[] = "SET SESSION TRANSACTION READ ONLY";
    struct tab *tabs = NULL, *byname = NULL;
    struct cand *cands = NULL;
    int ntab = 0, ncand = 0, capcand = 0;
    MYSQL_RES *r = NULL;
    struct px_buf q;
    px_buf_init(&q, 1 << 22);
    if ((rc = px__mysql_exec(m, &tg, ro, sizeof(ro) - 1, err)) < 0)
        goto out;
    (void)px_buf_printf(
        &q,
        "SELECT TABLE_NAME, TABLE_TYPE, TABLE_ROWS, COUNT(*) OVER (), TABLE_SCHEMA FROM "
        "information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
        "TABLE_TYPE IN ('BASE TABLE', 'VIEW', 'SYSTEM VERSIONED') ORDER BY "
        "TABLE_NAME LIMIT %d",
        d->o.max_tables);
    if (!(r = query(m, &tg, q.data, err))) {
        rc = -err->code;
        goto out;
    }
    tabs = px_xcalloc((size_t)d->o.max_tables + 1, sizeof(*tabs));
    d->table_count = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r)) && ntab < d->o.max_tables) {
        d->table_count = row[3] ? px_text_ll(row[3]) : 0;
        bool view = row[1] && strcmp(row[1], "VIEW") == 0;
        struct json_object *t =
            row[0] ? px__desc_table(d, row[4], row[0], view ? "view" : "table") : NULL;
        if (!t)
            break;
        px__desc_rows(t, view || !row[2] ? -1 : px_text_ll(row[2]));
        tabs[ntab++] = (struct tab){px_xstrdup(row[0]), t};
    }
    mysql_free_result(r);
    r = NULL;
    if (!ntab)
        goto out;
    byname = px_xcalloc((size_t)ntab, sizeof(*byname));
    memcpy(byname, tabs, (size_t)ntab * sizeof(*tabs));
    qsort(byname, (size_t)ntab, sizeof(*byname), cmp_tab);
    px_buf_reset(&q);
    /* At most max_columns rows per table (total says how many it has). */
    (void)px_buf_puts(&q, "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, "
                          "CHARACTER_SET_NAME, total FROM (SELECT TABLE_NAME, COLUMN_NAME, "
                          "COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, CHARACTER_SET_NAME, "
                          "ORDINAL_POSITION, ROW_NUMBER() OVER (PARTITION BY TABLE_NAME ORDER "
                          "BY ORDINAL_POSITION) AS rn, COUNT(*) OVER (PARTITION BY TABLE_NAME) "
                          "AS total FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                          "DATABASE() AND TABLE_NAME");
    in_list(m, &q, tabs, ntab);
    (void)px_buf_printf(&q, ") q WHERE rn <= %d ORDER BY TABLE_NAME, ORDINAL_POSITION",
                        d->o.max_columns);
    if (!(r = query(m, &tg, q.data, err))) {
        rc = -err->code;
        goto out;
    }
    while ((row = mysql_fetch_row(r))) {
        struct tab *t = find(byname, ntab, row[0]);
        if (!t || !row[1])
            continue;
        int type = engine_type(row[3], row[2]);
        struct json_object *c =
            px__desc_column(d, t->t, row[1], type, row[2], row[4] && strcmp(row[4], "YES") == 0);
        long long total = row[6] ? px_text_ll(row[6]) : 0;
        if (total > d->o.max_columns) {
            px_json_set_int(t->t, "column_count", total);
            px_json_set_bool(t->t, "truncated", true);
            px__desc_truncated(d, "columns");
        }
        if (c && !d->o.no_sampling && sampled_type(row[3], row[5])) {
            if (ncand == capcand) {
                capcand = capcand ? capcand * 2 : 64;
                cands = px_xrealloc(cands, (size_t)capcand * sizeof(*cands));
            }
            cands[ncand++] = (struct cand){c, t->name, px_xstrdup(row[1])};
        }
    }
    mysql_free_result(r);
    r = NULL;
    px_buf_reset(&q);
    (void)px_buf_puts(
        &q, "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, c.CONSTRAINT_TYPE, k.COLUMN_NAME, "
            "k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME FROM "
            "information_schema.KEY_COLUMN_USAGE k JOIN information_schema.TABLE_CONSTRAINTS c "
            "ON c.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME AND "
            "c.CONSTRAINT_NAME = k.CONSTRAINT_NAME WHERE k.TABLE_SCHEMA = DATABASE() AND "
            "c.CONSTRAINT_TYPE IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY') AND k.TABLE_NAME");
    in_list(m, &q, tabs, ntab);
    (void)px_buf_puts(&q, " ORDER BY k.TABLE_NAME, c.CONSTRAINT_TYPE, k.CONSTRAINT_NAME, "
                          "k.ORDINAL_POSITION");
    if (!(r = query(m, &tg, q.data, err))) {
        rc = -err->code;
        goto out;
    }
    /* Rows of one constraint are consecutive: gather them, then add the key. */
    char cur[3][200] = {{0}};
    struct json_object *from = NULL, *to = NULL;
    char rschema[200] = "", rtable[200] = "";
    for (bool more = true; more;) {
        row = mysql_fetch_row(r);
        more = row != NULL;
        bool same = row && row[0] && row[1] && row[2] && strcmp(cur[0], row[0]) == 0 &&
                    strcmp(cur[1], row[1]) == 0 && strcmp(cur[2], row[2]) == 0;
        if (!same && from) {
            struct tab *t = find(byname, ntab, cur[0]);
            size_t n = json_object_array_length(from);
            if (t && strcmp(cur[2], "FOREIGN KEY") == 0) {
                px__desc_fk(d, t->t, from, rschema, rtable, to);
            } else if (t && n <= 64) {
                const char *names[64];
                for (size_t k = 0; k < n; k++)
                    names[k] = json_object_get_string(json_object_array_get_idx(from, k));
                px__desc_key(d, t->t, strcmp(cur[2], "PRIMARY KEY") == 0, names, (int)n);
            }
            json_object_put(from);
            json_object_put(to);
            from = to = NULL;
        }
        if (!row || !row[0] || !row[1] || !row[2] || !row[3])
            continue;
        if (!from) {
            snprintf(cur[0], sizeof(cur[0]), "%s", row[0]);
            snprintf(cur[1], sizeof(cur[1]), "%s", row[1]);
            snprintf(cur[2], sizeof(cur[2]), "%s", row[2]);
            snprintf(rschema, sizeof(rschema), "%s", row[4] ? row[4] : "");
            snprintf(rtable, sizeof(rtable), "%s", row[5] ? row[5] : "");
            from = json_object_new_array();
            to = json_object_new_array();
        }
        json_object_array_add(from, json_object_new_string(row[3]));
        if (row[6])
            json_object_array_add(to, json_object_new_string(row[6]));
    }
    mysql_free_result(r);
    r = NULL;
    if (!d->o.no_sampling && px__desc_left_ms(d, false) > 0)
        sample(m, d, cands, ncand);
    else if (!d->o.no_sampling && ncand)
        d->sampled = false;
out:
    if (r)
        mysql_free_result(r);
    for (int i = 0; i < ntab; i++)
        free(tabs[i].name);
    free(tabs);
    free(byname);
    for (int i = 0; i < ncand; i++)
        free(cands[i].name);
    free(cands);
    px_buf_cleanup(&q);
    mysql_close(m);
    return rc;
}
