/*
 * The read-only check of SQL source queries: lexes a query the way its database will, then
 * refuses what could change anything (see engine/connectors/sqlcheck.h for the rules and why they
 * exist). The lexer errs on the side of refusing: text it cannot read for sure (an unterminated
 * string, a comment inside an executable comment) is refused, never guessed.
 */
#include "engine/connectors/sqlcheck.h"

#include "base/err.h"
#include "base/mem.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum tok_kind {
    T_WORD,   /* a bare name or keyword */
    T_QNAME,  /* a quoted name: "x", `x`, [x] */
    T_STRING, /* a string literal */
    T_NUMBER,
    T_PUNCT, /* one character: ( ) ; , . and operator characters */
};

struct tok {
    enum tok_kind kind;
    size_t start, len; /* in the query; for T_QNAME the name between the quotes */
    bool in_exec;      /* MySQL: inside an executable comment */
};

struct lexer {
    enum px_sql_dialect d;
    const char *q;
    size_t n, pos;
    struct tok *toks;
    size_t ntoks, cap;
    bool in_exec;
    struct px_error *err;
};

static void push(struct lexer *lx, enum tok_kind kind, size_t start, size_t len)
{
    if (lx->ntoks == lx->cap) {
        lx->cap = lx->cap ? lx->cap * 2 : 64;
        lx->toks = px_xrealloc(lx->toks, lx->cap * sizeof(*lx->toks));
    }
    lx->toks[lx->ntoks++] = (struct tok){kind, start, len, lx->in_exec};
}

static int refuse(struct lexer *lx, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(struct lexer *lx, const char *hint, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int rc = px_error_set(lx->err, PX_EINVALID, "%s", msg);
    if (hint)
        px_error_hint(lx->err, "%s", hint);
    return rc;
}

static bool word_start(unsigned char c)
{
    return isalpha(c) || c == '_' || c >= 0x80;
}

static bool word_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* A quoted run from lx->pos (at the opening quote) to the closing quote; a doubled quote is
 * one quote character, and with backslash a backslash escapes the next character. */
static int quoted(struct lexer *lx, char close, bool backslash, enum tok_kind kind)
{
    size_t open = lx->pos++;
    for (;;) {
        if (lx->pos >= lx->n)
            return refuse(lx, "close the string or quoted name",
                          "the query has an unterminated %s starting at offset %zu",
                          kind == T_STRING ? "string" : "quoted name", open);
        char c = lx->q[lx->pos];
        if (backslash && c == '\\') {
            lx->pos += 2;
            continue;
        }
        if (c == close) {
            if (lx->pos + 1 < lx->n && lx->q[lx->pos + 1] == close) {
                lx->pos += 2;
                continue;
            }
            push(lx, kind, open + 1, lx->pos - open - 1);
            lx->pos++;
            return 0;
        }
        lx->pos++;
    }
}

/* PostgreSQL $tag$...$tag$ at lx->pos; 1 when it is not a dollar quote. */
static int dollar_quote(struct lexer *lx)
{
    size_t p = lx->pos + 1;
    if (p < lx->n && isdigit((unsigned char)lx->q[p]))
        return 1; /* $1: a parameter */
    while (p < lx->n && lx->q[p] != '$') {
        unsigned char c = (unsigned char)lx->q[p];
        if (!(p == lx->pos + 1 ? word_start(c) : (word_char(c) && c != '$')))
            return 1;
        p++;
    }
    if (p >= lx->n)
        return 1;
    size_t taglen = p + 1 - lx->pos; /* "$tag$" */
    const char *tag = lx->q + lx->pos;
    for (size_t i = p + 1; i + taglen <= lx->n; i++)
        if (lx->q[i] == '$' && memcmp(lx->q + i, tag, taglen) == 0) {
            push(lx, T_STRING, p + 1, i - p - 1);
            lx->pos = i + taglen;
            return 0;
        }
    return refuse(lx, "close the dollar-quoted string",
                  "the query has an unterminated dollar-quoted string starting at offset %zu",
                  lx->pos);
}

/* A block comment at lx->pos ("/" "*"): skipped, or for MySQL executable comments entered. */
static int block_comment(struct lexer *lx)
{
    size_t open = lx->pos;
    const char *q = lx->q;
    if (lx->in_exec)
        return refuse(lx, "MySQL does not nest comments; remove the inner comment",
                      "the query has a comment inside an executable comment at offset %zu", open);
    if (lx->d == PX_SQL_MYSQL) {
        size_t p = open + 2;
        if (p < lx->n && q[p] == 'M' && p + 1 < lx->n && q[p + 1] == '!')
            p++;
        if (p < lx->n && q[p] == '!') { /* executable: the contents are code */
            p++;
            for (int i = 0; i < 6 && p < lx->n && isdigit((unsigned char)q[p]); i++)
                p++;
            lx->in_exec = true;
            lx->pos = p;
            return 0;
        }
    }
    int depth = 1;
    size_t p = open + 2;
    while (p < lx->n) {
        if (q[p] == '*' && p + 1 < lx->n && q[p + 1] == '/') {
            p += 2;
            if (--depth == 0) {
                lx->pos = p;
                return 0;
            }
            continue;
        }
        if (lx->d == PX_SQL_POSTGRES && q[p] == '/' && p + 1 < lx->n && q[p + 1] == '*') {
            depth++; /* PostgreSQL nests block comments */
            p += 2;
            continue;
        }
        p++;
    }
    return refuse(lx, "close the comment with */",
                  "the query has an unterminated comment starting at offset %zu", open);
}

static int line_comment(struct lexer *lx)
{
    if (lx->in_exec)
        return refuse(lx, "remove the line comment from the executable comment",
                      "the query has a line comment inside an executable comment at offset %zu",
                      lx->pos);
    while (lx->pos < lx->n && lx->q[lx->pos] != '\n')
        lx->pos++;
    return 0;
}

static int lex(struct lexer *lx)
{
    const char *q = lx->q;
    while (lx->pos < lx->n) {
        unsigned char c = (unsigned char)q[lx->pos];
        unsigned char c1 = lx->pos + 1 < lx->n ? (unsigned char)q[lx->pos + 1] : 0;
        int rc = 0;
        if (isspace(c)) {
            lx->pos++;
        } else if (c == '/' && c1 == '*') {
            rc = block_comment(lx);
        } else if (lx->in_exec && c == '*' && c1 == '/') {
            lx->in_exec = false;
            lx->pos += 2;
        } else if (c == '-' && c1 == '-' &&
                   (lx->d != PX_SQL_MYSQL || lx->pos + 2 >= lx->n ||
                    (unsigned char)q[lx->pos + 2] <= ' ')) {
            rc = line_comment(lx); /* MySQL: "--" needs a blank or control character after */
        } else if (c == '#' && lx->d == PX_SQL_MYSQL) {
            rc = line_comment(lx);
        } else if (c == '\'') {
            /* MySQL: backslash escapes (the session's sql_mode has no NO_BACKSLASH_ESCAPES);
             * PostgreSQL: standard strings (standard_conforming_strings on); SQLite: none. */
            rc = quoted(lx, '\'', lx->d == PX_SQL_MYSQL, T_STRING);
        } else if (c == '"') {
            /* MySQL: a string (no ANSI_QUOTES in the session); elsewhere a quoted name. */
            rc = lx->d == PX_SQL_MYSQL ? quoted(lx, '"', true, T_STRING)
                                       : quoted(lx, '"', false, T_QNAME);
        } else if (c == '`' && lx->d != PX_SQL_POSTGRES) {
            rc = quoted(lx, '`', false, T_QNAME);
        } else if (c == '[' && lx->d == PX_SQL_SQLITE) {
            size_t close = lx->pos + 1;
            while (close < lx->n && q[close] != ']')
                close++;
            if (close >= lx->n)
                return refuse(lx, "close the name with ]",
                              "the query has an unterminated quoted name at offset %zu", lx->pos);
            push(lx, T_QNAME, lx->pos + 1, close - lx->pos - 1);
            lx->pos = close + 1;
        } else if (c == '$' && lx->d == PX_SQL_POSTGRES) {
            rc = dollar_quote(lx);
            if (rc == 1) {
                push(lx, T_PUNCT, lx->pos, 1);
                lx->pos++;
                rc = 0;
            }
        } else if (word_start(c)) {
            size_t s = lx->pos;
            while (lx->pos < lx->n && word_char((unsigned char)q[lx->pos]))
                lx->pos++;
            size_t len = lx->pos - s;
            /* PostgreSQL E'...': backslash escapes inside. */
            if (lx->d == PX_SQL_POSTGRES && len == 1 && (q[s] == 'E' || q[s] == 'e') &&
                lx->pos < lx->n && q[lx->pos] == '\'') {
                rc = quoted(lx, '\'', true, T_STRING);
            } else {
                push(lx, T_WORD, s, len);
            }
        } else if (isdigit(c) || (c == '.' && isdigit(c1))) {
            /* digits[.digits][e[+-]digits]; letters right after start a new word, so that
             * "1INTO" is seen as INTO however the server reads it. */
            size_t s = lx->pos;
            while (lx->pos < lx->n && isdigit((unsigned char)q[lx->pos]))
                lx->pos++;
            if (lx->pos < lx->n && q[lx->pos] == '.') {
                lx->pos++;
                while (lx->pos < lx->n && isdigit((unsigned char)q[lx->pos]))
                    lx->pos++;
            }
            if (lx->pos + 1 < lx->n && (q[lx->pos] == 'e' || q[lx->pos] == 'E')) {
                size_t p = lx->pos + 1;
                if (p < lx->n && (q[p] == '+' || q[p] == '-'))
                    p++;
                if (p < lx->n && isdigit((unsigned char)q[p])) {
                    while (p < lx->n && isdigit((unsigned char)q[p]))
                        p++;
                    lx->pos = p;
                }
            }
            push(lx, T_NUMBER, s, lx->pos - s);
        } else {
            push(lx, T_PUNCT, lx->pos, 1);
            lx->pos++;
        }
        if (rc < 0)
            return rc;
    }
    if (lx->in_exec)
        return refuse(lx, "close the executable comment with */",
                      "the query has an unterminated executable comment");
    return 0;
}

/* ---- the rules ---- */

static bool word_is(const struct lexer *lx, const struct tok *t, const char *w)
{
    return t && t->kind == T_WORD && t->len == strlen(w) &&
           strncasecmp(lx->q + t->start, w, t->len) == 0;
}

static bool punct_is(const struct lexer *lx, const struct tok *t, char c)
{
    return t && t->kind == T_PUNCT && lx->q[t->start] == c;
}

/* Functions that act outside a read-only transaction, or that read or write the database
 * server's files, per dialect. A trailing '*' matches any ending. */
static const char *const pg_funcs[] = {"dblink*",
                                       "lo_*",
                                       "lowrite",
                                       "pg_advisory*",
                                       "pg_try_advisory*",
                                       "pg_terminate_backend",
                                       "pg_cancel_backend",
                                       "pg_reload_conf",
                                       "pg_rotate_logfile",
                                       "pg_switch_wal",
                                       "pg_switch_xlog",
                                       "pg_promote",
                                       "pg_create_*",
                                       "pg_copy_*",
                                       "pg_drop_replication_slot",
                                       "pg_replication_*",
                                       "pg_logical_*",
                                       "pg_backup_*",
                                       "pg_start_backup",
                                       "pg_stop_backup",
                                       "pg_wal_replay_*",
                                       "pg_read_file",
                                       "pg_read_binary_file",
                                       "pg_ls_*",
                                       "pg_stat_file",
                                       "pg_file_*",
                                       "pg_notify",
                                       "set_config",
                                       "query_to_xml*",
                                       "cursor_to_xml*",
                                       "ts_stat",
                                       "ts_rewrite",
                                       "pg_log_backend_memory_contexts",
                                       "pg_export_snapshot",
                                       "pg_import_system_collations",
                                       "pg_stat_reset*",
                                       "nextval",
                                       "setval",
                                       NULL};
static const char *const my_funcs[] = {"get_lock",        "release_lock",    "release_all_locks",
                                       "master_pos_wait", "source_pos_wait", "master_gtid_wait",
                                       "load_file",       "sys_exec",        "sys_eval",
                                       "nextval",         "setval",          NULL};
static const char *const lite_funcs[] = {"load_extension", "readfile",       "writefile",
                                         "edit",           "fts3_tokenizer", NULL};

static const char *denied_function(const struct lexer *lx, const struct tok *t)
{
    const char *const *list = lx->d == PX_SQL_POSTGRES ? pg_funcs
                              : lx->d == PX_SQL_MYSQL  ? my_funcs
                                                       : lite_funcs;
    for (size_t i = 0; list[i]; i++) {
        size_t n = strlen(list[i]);
        bool prefix = list[i][n - 1] == '*';
        if (prefix ? (t->len >= n - 1 && strncasecmp(lx->q + t->start, list[i], n - 1) == 0)
                   : (t->len == n && strncasecmp(lx->q + t->start, list[i], n) == 0))
            return list[i];
    }
    return NULL;
}

static int check(struct lexer *lx, size_t *stmt_len)
{
    const struct tok *t = lx->toks;
    size_t n = lx->ntoks, i = 0;
    if (!t || n == 0)
        return refuse(lx, "give a SELECT statement", "the query is empty");
    const char *quote_hint = lx->d == PX_SQL_MYSQL
                                 ? "source queries only read; if it is a column or table name, "
                                   "quote it as `name`"
                                 : "source queries only read; if it is a column or table name, "
                                   "quote it as \"name\"";
    while (i < n && punct_is(lx, &t[i], '('))
        i++;
    if (i >= n)
        return refuse(lx, "give a SELECT statement", "the query is empty");
    bool first_ok =
        t[i].kind == T_WORD &&
        (word_is(lx, &t[i], "SELECT") || word_is(lx, &t[i], "WITH") ||
         word_is(lx, &t[i], "VALUES") || (lx->d != PX_SQL_SQLITE && word_is(lx, &t[i], "TABLE")));
    if (!first_ok) {
        const char *what = t[i].kind == T_WORD ? "" : "with ";
        return refuse(lx,
                      "a source reads with one SELECT (or WITH ... SELECT, VALUES); writing is "
                      "what destination nodes do",
                      "a source query must start with SELECT, WITH or VALUES, not %s'%.*s'", what,
                      (int)(t[i].len > 40 ? 40 : t[i].len), lx->q + t[i].start);
    }
    size_t end = lx->n;
    for (i = 0; i < n; i++) {
        const struct tok *k = &t[i];
        const struct tok *next = i + 1 < n ? &t[i + 1] : NULL;
        if (punct_is(lx, k, ';')) {
            if (k->in_exec)
                return refuse(lx, "remove the ';'",
                              "the query has a ';' inside an executable comment at offset %zu",
                              k->start);
            for (size_t j = i + 1; j < n; j++)
                if (!punct_is(lx, &t[j], ';'))
                    return refuse(lx,
                                  "a source query is one statement: remove the ';' and what "
                                  "follows it",
                                  "the query has more than one statement ('%.*s' after the ';' "
                                  "at offset %zu)",
                                  (int)(t[j].len > 40 ? 40 : t[j].len), lx->q + t[j].start,
                                  k->start);
            end = k->start;
            break;
        }
        bool qualified = i > 0 && punct_is(lx, &t[i - 1], '.');
        if ((k->kind == T_WORD || k->kind == T_QNAME) && punct_is(lx, next, '(')) {
            const char *f = denied_function(lx, k);
            if (f)
                return refuse(lx, "remove the call; a source query may only read the database",
                              "a source query cannot call %.*s(): it acts outside a read-only "
                              "transaction or on the server's files",
                              (int)(k->len > 64 ? 64 : k->len), lx->q + k->start);
        }
        if (k->kind != T_WORD || qualified)
            continue;
        if (word_is(lx, k, "INSERT") || word_is(lx, k, "REPLACE")) {
            if (lx->d != PX_SQL_POSTGRES && punct_is(lx, next, '('))
                continue; /* the string functions INSERT() and REPLACE() */
            if (lx->d == PX_SQL_POSTGRES && word_is(lx, k, "REPLACE"))
                continue; /* not a statement in PostgreSQL */
        }
        if (word_is(lx, k, "FOR") && (word_is(lx, next, "UPDATE") || word_is(lx, next, "SHARE") ||
                                      word_is(lx, next, "KEY") || word_is(lx, next, "NO")))
            return refuse(lx, "remove the locking clause; a source reads without locking rows",
                          "a source query cannot lock rows (FOR %.*s)", (int)next->len,
                          lx->q + next->start);
        if (lx->d == PX_SQL_MYSQL && word_is(lx, k, "LOCK") && word_is(lx, next, "IN"))
            return refuse(lx, "remove the locking clause; a source reads without locking rows",
                          "a source query cannot lock rows (LOCK IN SHARE MODE)");
        if (word_is(lx, k, "NEXT") && word_is(lx, next, "VALUE"))
            return refuse(lx, "read the sequence's current value instead",
                          "a source query cannot advance a sequence (NEXT VALUE FOR)");
        if (word_is(lx, k, "INTO"))
            return refuse(lx, quote_hint,
                          "a source query cannot contain INTO (SELECT ... INTO writes a table, a "
                          "file or variables)");
        static const char *const dml[] = {"INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE"};
        for (size_t d = 0; d < sizeof(dml) / sizeof(dml[0]); d++)
            if (word_is(lx, k, dml[d]))
                return refuse(lx, quote_hint,
                              "a source query cannot contain %s (a data-modifying statement)",
                              dml[d]);
    }
    if (stmt_len)
        *stmt_len = end;
    return 0;
}

int px_sqlcheck_source(enum px_sql_dialect d, const char *query, size_t *stmt_len,
                       struct px_error *err)
{
    if (!query)
        return px_error_set(err, PX_EINVALID, "the source has no query");
    struct lexer lx = {.d = d, .q = query, .n = strlen(query), .err = err};
    int rc = lex(&lx);
    if (rc == 0)
        rc = check(&lx, stmt_len);
    free(lx.toks);
    return rc;
}

enum px_sql_dialect px_sqlcheck_dialect(const char *node_type)
{
    if (!node_type)
        return PX_SQL_NONE;
    if (strcmp(node_type, "postgres") == 0)
        return PX_SQL_POSTGRES;
    if (strcmp(node_type, "mysql") == 0)
        return PX_SQL_MYSQL;
    if (strcmp(node_type, "sqlite") == 0)
        return PX_SQL_SQLITE;
    return PX_SQL_NONE;
}
