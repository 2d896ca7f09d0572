/*
 * The PostgreSQL connector (libpq): connections, errors, the source and the probe, and the
 * connector table. The destination lives in engine/connectors/pg_dst.c, the binary COPY encoding
 * and decoding in engine/connectors/pg_copy.c (shared declarations: engine/connectors/pg.h).
 *
 * Connections are opened with PQconnectdbParams from keyword/value arrays (never a conninfo
 * string built from user input; expand_dbname off), application_name=planasonix, passfile
 * /dev/null (the server's own ~/.pgpass is never offered to a user's host), UTF8, TimeZone UTC;
 * source sessions are read-only (default_transaction_read_only; standard_conforming_strings on,
 * as engine/connectors/sqlcheck.h lexes), so a query cannot write; a query must pass
 * engine/connectors/sqlcheck.h first (one statement, nothing that modifies data or acts outside the
 * transaction, such as dblink or pg_terminate_backend), and PQprepare refuses a second statement
 * too.
 *
 * Source: `COPY (SELECT ...) TO STDOUT (FORMAT binary)` over a table (each part of
 * "schema.table" quoted as an identifier) or a query (wrapped as a subquery). The result's
 * columns are described first (PQprepare + PQdescribePrepared); columns of a type we decode
 * (int2/4/8 → integer; float4/8 and numeric → float, numeric NaN/±Infinity included;
 * bool → boolean; timestamptz, timestamp taken as UTC, date at 00:00 UTC → timestamp;
 * text/varchar/bpchar/name/json/jsonb/uuid → string) are read in binary, every other column
 * is cast to text in the SELECT list and read as a string. A prefetch thread owns the source
 * connection and decodes COPY rows straight into batch columns, handing full batches over a
 * queue of two, so the source server, our transforms and the destination work in parallel.
 * push_columns restrict the SELECT list; push_where (already SQL in this dialect) becomes
 * WHERE (...). close_source mid-stream stops the thread and cancels the COPY (PQcancel).
 *
 * Destination: engine/connectors/pg_dst.c.
 */
#include "engine/connectors/pg.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/egress.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/budget.h"
#include "engine/engine.h"
#include "engine/exec_int.h"
#include "engine/connectors/pq_api.h"
#include "engine/connectors/sqlcheck.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define CONNECT_TIMEOUT_SECONDS 10
#define STR_(x) #x
#define STR(x) STR_(x)
#define QUEUE_CAP 2
#define MAX_ROW_BYTES (1u << 30)

/* ---- connections and errors ---- */

struct pgconf {
    const char *kw[16];
    const char *val[16];
    char port[16];
    char timeout[16];
    const char *host, *user, *password;
};

static int pg_conf(struct json_object *params, int timeout_s, bool readonly, struct pgconf *c,
                   struct px_error *err)
{
    memset(c, 0, sizeof(*c));
    c->host = px_json_get_str(params, "host");
    c->user = px_json_get_str(params, "user");
    c->password = px_json_get_str(params, "password");
    const char *db = px_json_get_str(params, "database");
    if (!c->host || !*c->host || !db || !c->user)
        return px_error_set(err, PX_EINVALID, "postgres: host, database and user are required");
    if (strchr(c->host, '/') || c->host[0] == '@') {
        int rc = px_error_set(err, PX_EINVALID, "postgres: host must be a host name or address");
        px_error_hint(err, "unix socket paths are not allowed; give the server's host name");
        return rc;
    }
    snprintf(c->port, sizeof(c->port), "%d", (int)px_json_get_int(params, "port", 5432));
    if (timeout_s > 0)
        snprintf(c->timeout, sizeof(c->timeout), "%d", timeout_s < 2 ? 2 : timeout_s);
    else
        snprintf(c->timeout, sizeof(c->timeout), "%s", STR(CONNECT_TIMEOUT_SECONDS));
    int n = 0;
#define KV(k, v)                                                                                   \
    do {                                                                                           \
        c->kw[n] = (k);                                                                            \
        c->val[n] = (v);                                                                           \
        n++;                                                                                       \
    } while (0)
    KV("host", c->host);
    KV("port", c->port);
    KV("dbname", db);
    KV("user", c->user);
    if (c->password)
        KV("password", c->password);
    KV("passfile", "/dev/null");
    const char *ssl = px_json_get_str(params, "sslmode");
    KV("sslmode", ssl ? ssl : "prefer");
    KV("connect_timeout", c->timeout);
    KV("application_name", "planasonix");
    KV("client_encoding", "UTF8");
    KV("options", readonly ? "-c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=3 "
                             "-c default_transaction_read_only=on "
                             "-c standard_conforming_strings=on"
                           : "-c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=3");
#undef KV
    c->kw[n] = NULL;
    c->val[n] = NULL;
    return 0;
}

/* Copies the first line of s into out, with any occurrence of the password masked. */
static void clean_text(const char *s, const char *password, char *out, size_t size)
{
    snprintf(out, size, "%s", s ? s : "");
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = '\0';
    size_t pl = password ? strlen(password) : 0;
    if (pl >= 3) {
        char *p;
        while ((p = strstr(out, password)))
            memset(p, '*', pl);
    }
    /* Drop any absolute path (unix socket directories). */
    char *slash;
    while ((slash = strstr(out, " \"/"))) {
        char *end = strchr(slash + 2, '"');
        if (!end)
            break;
        memmove(slash + 1, end + 1, strlen(end + 1) + 1);
    }
}

/* A failed connection attempt: classifies libpq's message into a clear error. */
static int connect_error(const char *msg, const struct pgconf *c, struct px_error *err)
{
    char text[300];
    clean_text(msg, c->password, text, sizeof(text));
    if (strncmp(text, "connection to server at", 23) == 0 ||
        strncmp(text, "connection to server on", 23) == 0) {
        const char *colon = strstr(text, "failed: ");
        if (colon)
            memmove(text, colon + 8, strlen(colon + 8) + 1);
    }
    int rc;
    const char *u = c->user;
    if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied") ||
        strstr(msg, "authentication failed") || strstr(msg, "SCRAM")) {
        rc =
            px_error_set(err, PX_EUNAUTHORIZED, "postgres: authentication failed for user '%s'", u);
        px_error_hint(err, "check the connection's user and password");
    } else if (strstr(msg, "Connection refused")) {
        rc = px_error_set(err, PX_EIO, "postgres: connection to %s port %s refused", c->host,
                          c->port);
        err->retryable = true;
        px_error_hint(err, "check that the server is running and accepts TCP connections on "
                           "that host and port");
    } else if (strstr(msg, "could not translate host name") ||
               strstr(msg, "Name or service not known")) {
        bool temp = strstr(msg, "Temporary failure") != NULL;
        rc = px_error_set(err, PX_EIO, "postgres: unknown host '%s'", c->host);
        err->retryable = temp;
        px_error_hint(err, "check the connection's host name");
    } else if (strstr(msg, "timeout expired") || strstr(msg, "timed out")) {
        rc = px_error_set(err, PX_EIO, "postgres: no answer from %s port %s (timed out)", c->host,
                          c->port);
        err->retryable = true;
        px_error_hint(err, "check the host, the port and that no firewall drops the traffic");
    } else if (strstr(msg, "does not exist") && strstr(msg, "database")) {
        rc = px_error_set(err, PX_ENOTFOUND, "postgres: %s", text);
        px_error_hint(err, "check the connection's database name");
    } else if (strstr(msg, "pg_hba.conf")) {
        rc = px_error_set(err, PX_EFORBIDDEN,
                          "postgres: the server does not accept connections from this host for "
                          "user '%s'",
                          u);
        px_error_hint(err, "ask the database administrator to allow this client in pg_hba.conf, "
                           "or try another sslmode");
    } else if (strstr(msg, "too many") || strstr(msg, "starting up") ||
               strstr(msg, "shutting down") || strstr(msg, "recovery mode")) {
        rc = px_error_set(err, PX_EIO, "postgres: %s", text);
        err->retryable = true;
        px_error_hint(err, "the server is busy or restarting; try again later");
    } else if (strstr(msg, "SSL") || strstr(msg, "certificate")) {
        rc = px_error_set(err, PX_EIO, "postgres: %s", text);
        px_error_hint(err, "check the connection's sslmode against what the server supports");
    } else {
        rc = px_error_set(err, PX_EIO, "postgres: cannot connect to %s port %s: %s", c->host,
                          c->port, text);
        err->retryable = true;
        px_error_hint(err, "check the connection's host, port and network access");
    }
    return rc;
}

static int pg_resolve(const struct pgconf *c, int64_t deadline, int timeout_ms,
                      struct px_buf *hosts, struct px_buf *addrs, struct px_error *err);
static void use_addrs(struct pgconf *c, struct px_buf *hosts, struct px_buf *addrs);

/* readonly: the session refuses writes (sources: a query cannot modify the database). The
 * host is resolved here and only addresses the egress policy allows are given to libpq. */
int px__pg_connect(const struct px_node_ctx *ctx, bool readonly, PGconn **out, struct px_error *err)
{
    struct pgconf c;
    *out = NULL;
    int rc = px_pq_load(err);
    if (rc)
        return rc;
    rc = pg_conf(ctx->params, 0, readonly, &c, err);
    if (rc < 0)
        return rc;
    int timeout_ms = CONNECT_TIMEOUT_SECONDS * 1000;
    struct px_buf hosts, addrs;
    px_buf_init(&hosts, 4096);
    px_buf_init(&addrs, 4096);
    rc = pg_resolve(&c, px_mono_us() + (int64_t)timeout_ms * 1000, timeout_ms, &hosts, &addrs, err);
    if (rc > 0)
        use_addrs(&c, &hosts, &addrs);
    PGconn *conn = rc < 0 ? NULL : PQconnectdbParams(c.kw, c.val, 0);
    px_buf_cleanup(&hosts);
    px_buf_cleanup(&addrs);
    if (rc < 0)
        return rc;
    rc = 0;
    if (!conn)
        return px_error_set(err, PX_ENOMEM, "postgres: out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
        rc = connect_error(PQerrorMessage(conn), &c, err);
        PQfinish(conn);
        return rc;
    }
    *out = conn;
    return 0;
}

/* A failed statement (res may be NULL): maps SQLSTATE classes to codes and retryability. */
int px__pg_res_error(PGconn *conn, const PGresult *res, const char *what, struct px_error *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char text[360];
    clean_text(primary ? primary : PQerrorMessage(conn), NULL, text, sizeof(text));
    if (!state || PQstatus(conn) == CONNECTION_BAD) {
        int rc = px_error_set(err, PX_EIO, "postgres: %s: %s", what,
                              PQstatus(conn) == CONNECTION_BAD ? "the connection was lost" : text);
        err->retryable = true;
        px_error_hint(err, "the server closed the connection; try again");
        return rc;
    }
    int code = PX_EIO;
    bool retry = false;
    const char *hint = NULL;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
        strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strncmp(state, "57P", 3) == 0) {
        retry = true;
        hint = "a transient server condition; try again";
    } else if (strncmp(state, "28", 2) == 0) {
        code = PX_EUNAUTHORIZED;
        hint = "check the connection's user and password";
    } else if (strcmp(state, "42P01") == 0 || strcmp(state, "42703") == 0 ||
               strcmp(state, "3F000") == 0 || strcmp(state, "3D000") == 0 ||
               strcmp(state, "42883") == 0) {
        code = PX_ENOTFOUND;
    } else if (strcmp(state, "42501") == 0) {
        code = PX_EFORBIDDEN;
        hint = "grant the connection's user the privileges it needs on that object";
    } else if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
               strncmp(state, "42", 2) == 0) {
        code = PX_EINVALID;
    } else if (strcmp(state, "57014") == 0) {
        hint = "the statement was cancelled";
    } else if (strcmp(state, "25006") == 0) {
        code = PX_EFORBIDDEN;
        hint = "a read-only transaction refused a write: a source query may only read; a "
               "destination must point at the primary server";
    }
    int rc = px_error_set(err, code, "postgres: %s: %s", what, text);
    err->retryable = retry;
    const char *shint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
    if (hint)
        px_error_hint(err, "%s", hint);
    else if (shint)
        px_error_hint(err, "%.250s", shint);
    return rc;
}

/* Runs a statement that returns no rows (or whose rows are ignored). */
int px__pg_exec(PGconn *conn, const char *sql, const char *what, struct px_error *err)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = px__pg_res_error(conn, r, what, err);
    PQclear(r);
    return rc;
}

void px__pg_quote_ident(struct px_buf *b, const char *name, size_t len)
{
    (void)px_buf_puts(b, "\"");
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '"')
            (void)px_buf_puts(b, "\"");
        (void)px_buf_append(b, name + i, 1);
    }
    (void)px_buf_puts(b, "\"");
}

/* "schema.table" → "schema"."table"; "table" → "table" (split at the first dot). */
void px__pg_quote_table(struct px_buf *b, const char *name)
{
    const char *dot = strchr(name, '.');
    if (dot && dot != name && dot[1]) {
        px__pg_quote_ident(b, name, (size_t)(dot - name));
        (void)px_buf_puts(b, ".");
        name = dot + 1;
    }
    px__pg_quote_ident(b, name, strlen(name));
}

/* ---- source ---- */

struct pgsrc {
    PGconn *conn;
    PGcancel *cancel;
    struct pg_decoder dec;
    int64_t batch_rows;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct px_batch *queue[QUEUE_CAP];
    int qhead, qlen;
    bool done, stop, reported;
    int rc;
    struct px_error err;
    struct px_mem *mem; /* the node's account: queued batches count against the budget */
};

/* Hands b to the consumer; false (b destroyed) when the consumer has stopped. */
static bool src_enqueue(struct pgsrc *s, struct px_batch *b)
{
    px_batch_account(b, s->mem);
    pthread_mutex_lock(&s->mu);
    /* A full queue waits; so does a non-empty one while the run is over its memory budget
     * (the consumer takes the next batch and fails the run there), as the CSV read-ahead. */
    while ((s->qlen == QUEUE_CAP || (s->qlen > 0 && !px_mem_room(s->mem, 0))) && !s->stop)
        pthread_cond_wait(&s->cv, &s->mu);
    bool ok = !s->stop;
    if (ok) {
        s->queue[(s->qhead + s->qlen) % QUEUE_CAP] = b;
        s->qlen++;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (!ok)
        px_batch_destroy(b);
    return ok;
}

static bool src_stopped(struct pgsrc *s)
{
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* Waits (≤100 ms) for the socket to become readable and reads what arrived. */
static int src_wait(struct pgsrc *s)
{
    struct pollfd p = {.fd = PQsocket(s->conn), .events = POLLIN};
    if (p.fd < 0)
        return -1;
    int n = poll(&p, 1, 100);
    if (n < 0 && errno != EINTR)
        return -1;
    return PQconsumeInput(s->conn) ? 0 : -1;
}

static void *src_thread(void *arg)
{
    struct pgsrc *s = arg;
    struct px_error err;
    px_error_clear(&err);
    struct px_batch *b = NULL;
    int rc = 0;
    bool stopped = false;
    for (;;) {
        char *buf = NULL;
        int n = PQgetCopyData(s->conn, &buf, 1);
        if (n == 0) {
            if (src_stopped(s)) {
                stopped = true;
                break;
            }
            if (src_wait(s) < 0) {
                rc = px__pg_res_error(s->conn, NULL, "reading rows", &err);
                break;
            }
            continue;
        }
        if (n == -1) { /* the COPY ended: its result says how */
            PGresult *r;
            while ((r = PQgetResult(s->conn))) {
                if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0)
                    rc = px__pg_res_error(s->conn, r, "reading rows", &err);
                PQclear(r);
            }
            break;
        }
        if (n < 0) {
            rc = px__pg_res_error(s->conn, NULL, "reading rows", &err);
            break;
        }
        size_t pos = 0;
        while (rc == 0 && pos < (size_t)n) {
            if (!b) {
                b = px__pg_decoder_batch(&s->dec, s->batch_rows);
            }
            int got = px__pg_decode_row(&s->dec, b, buf, (size_t)n, &pos, &err);
            if (got < 0)
                rc = got;
            else if (got == 0)
                break;                                    /* trailer */
            if (rc == 0 && got > 0 && px_batch_full(b)) { /* rows or bytes (batch.h) */
                if (!src_enqueue(s, b)) {
                    b = NULL;
                    stopped = true;
                    break;
                }
                b = NULL;
            }
        }
        PQfreemem(buf);
        if (rc < 0 || stopped)
            break;
    }
    if (b && b->nrows > 0 && rc == 0 && !stopped)
        (void)src_enqueue(s, b);
    else
        px_batch_destroy(b);
    pthread_mutex_lock(&s->mu);
    s->done = true;
    s->rc = rc;
    s->err = err;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void src_close(void *state)
{
    struct pgsrc *s = state;
    if (!s)
        return;
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        bool done = s->done;
        s->stop = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        if (!done && s->cancel) {
            char ebuf[256];
            (void)PQcancel(s->cancel, ebuf, sizeof(ebuf));
        }
        pthread_join(s->thread, NULL);
        for (int i = 0; i < s->qlen; i++)
            px_batch_destroy(s->queue[(s->qhead + i) % QUEUE_CAP]);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    if (s->cancel)
        PQfreeCancel(s->cancel);
    PQfinish(s->conn);
    px__pg_decoder_cleanup(&s->dec);
    free(s);
}

/* Appends the configured column list (push_columns, else config.columns, else "*"). */
static void put_select_list(struct px_buf *q, const struct px_node_ctx *ctx)
{
    if (ctx->push_columns && ctx->push_ncols > 0) {
        for (int i = 0; i < ctx->push_ncols; i++) {
            if (i)
                (void)px_buf_puts(q, ", ");
            px__pg_quote_ident(q, ctx->push_columns[i], strlen(ctx->push_columns[i]));
        }
        return;
    }
    struct json_object *cols = px_json_get(ctx->config, "columns");
    size_t n = cols ? json_object_array_length(cols) : 0;
    if (!n) {
        (void)px_buf_puts(q, "*");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *c = json_object_get_string(json_object_array_get_idx(cols, i));
        if (i)
            (void)px_buf_puts(q, ", ");
        px__pg_quote_ident(q, c, strlen(c));
    }
}

static void put_from(struct px_buf *q, const struct px_node_ctx *ctx)
{
    const char *table = px_json_get_str(ctx->config, "table");
    (void)px_buf_puts(q, " FROM ");
    if (table) {
        px__pg_quote_table(q, table);
    } else { /* the statement without a final ';' (checked by src_open,
                engine/connectors/sqlcheck.h) */
        const char *query = px_json_get_str(ctx->config, "query");
        size_t len = 0;
        if (px_sqlcheck_source(PX_SQL_POSTGRES, query, &len, NULL) < 0)
            len = 0;
        while (len > 0 && isspace((unsigned char)query[len - 1]))
            len--;
        (void)px_buf_puts(q, "(");
        (void)px_buf_append(q, query, len);
        (void)px_buf_puts(q, "\n) AS q");
    }
}

/* After a failed describe: adds "(columns: a, b)" of the relation to a not-found error. */
static void add_columns_hint(PGconn *conn, const struct px_node_ctx *ctx, struct px_error *err)
{
    struct px_buf q;
    px_buf_init(&q, 300000);
    (void)px_buf_puts(&q, "SELECT *");
    put_from(&q, ctx);
    (void)px_buf_puts(&q, " LIMIT 0");
    PGresult *r = PQexec(conn, q.data);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        struct px_buf cols;
        px_buf_init(&cols, 200);
        for (int i = 0; i < PQnfields(r); i++)
            (void)px_buf_printf(&cols, "%s%s", i ? ", " : "", PQfname(r, i));
        size_t len = strlen(err->message);
        snprintf(err->message + len, sizeof(err->message) - len, " (columns: %s%s)",
                 cols.data ? cols.data : "", cols.len >= 190 ? ", ..." : "");
        px_buf_cleanup(&cols);
    }
    PQclear(r);
    px_buf_cleanup(&q);
}

static int src_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    const char *table = px_json_get_str(ctx->config, "table");
    const char *query = px_json_get_str(ctx->config, "query");
    if (!table == !query)
        return px_error_set(err, PX_EINVALID, "postgres: give exactly one of table or query");
    if (query && px_sqlcheck_source(PX_SQL_POSTGRES, query, NULL, err) < 0)
        return -PX_EINVALID;
    struct pgsrc *s = px_xcalloc(1, sizeof(*s));
    s->batch_rows = ctx->batch_rows > 0 ? ctx->batch_rows : PX_BATCH_DEFAULT_ROWS;
    s->mem = ctx->mem;
    struct px_buf inner, q;
    px_buf_init(&inner, 400000);
    px_buf_init(&q, 500000);
    PGresult *r = NULL;
    int rc = px__pg_connect(ctx, true, &s->conn, err);
    if (rc < 0)
        goto out;
    (void)px_buf_puts(&inner, "SELECT ");
    put_select_list(&inner, ctx);
    put_from(&inner, ctx);
    if (ctx->push_where && *ctx->push_where)
        (void)px_buf_printf(&inner, " WHERE (%s)", ctx->push_where);
    if (inner.len >= inner.max - 1) {
        rc = px_error_set(err, PX_ETOOLARGE, "postgres: the query is too long");
        goto out;
    }
    /* Describe the result: names and types. */
    r = PQprepare(s->conn, "", inner.data, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = px__pg_res_error(s->conn, r, table ? "reading the table" : "running the query", err);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, "42703") == 0 &&
            ((ctx->push_columns && ctx->push_ncols) || px_json_get(ctx->config, "columns")))
            add_columns_hint(s->conn, ctx, err);
        if (state && strcmp(state, "42P01") == 0 && table)
            px_error_hint(err, "check the table name (schema-qualify it as schema.table if "
                               "it is not on the search path)");
        goto out;
    }
    PQclear(r);
    r = PQdescribePrepared(s->conn, "");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = px__pg_res_error(s->conn, r, "describing the query", err);
        goto out;
    }
    int nf = PQnfields(r);
    if (nf <= 0 || nf > PX_BATCH_MAX_COLS) {
        rc = px_error_set(err, PX_EINVALID,
                          "postgres: the query returns %d columns (1 to %d "
                          "allowed)",
                          nf, PX_BATCH_MAX_COLS);
        goto out;
    }
    px__pg_decoder_init(&s->dec, nf);
    bool casts = false;
    for (int i = 0; i < nf; i++) {
        px__pg_decoder_set(&s->dec, i, PQfname(r, i), PQftype(r, i));
        casts |= s->dec.kind[i] == PG_D_CAST;
    }
    PQclear(r);
    r = NULL;
    (void)px_buf_puts(&q, "COPY (");
    if (casts) { /* rename positionally so duplicate or odd names cannot clash */
        (void)px_buf_puts(&q, "SELECT ");
        for (int i = 0; i < nf; i++)
            (void)px_buf_printf(&q, "%sq.px_%d%s", i ? ", " : "", i + 1,
                                s->dec.kind[i] == PG_D_CAST ? "::text" : "");
        (void)px_buf_printf(&q, " FROM (%s) AS q(", inner.data);
        for (int i = 0; i < nf; i++)
            (void)px_buf_printf(&q, "%spx_%d", i ? ", " : "", i + 1);
        (void)px_buf_puts(&q, ")");
    } else {
        (void)px_buf_puts(&q, inner.data);
    }
    (void)px_buf_puts(&q, ") TO STDOUT (FORMAT binary)");
    if (!PQsendQuery(s->conn, q.data)) {
        rc = px__pg_res_error(s->conn, NULL, "starting the read", err);
        goto out;
    }
    r = PQgetResult(s->conn);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        rc = px__pg_res_error(s->conn, r, "starting the read", err);
        PQclear(r);
        while ((r = PQgetResult(s->conn)))
            PQclear(r);
        goto out;
    }
    PQclear(r);
    r = NULL;
    s->cancel = PQgetCancel(s->conn);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, src_thread, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        rc = px_error_set(err, PX_ENOMEM, "postgres: cannot start the reader thread");
        goto out;
    }
    s->started = true;
out:
    PQclear(r);
    px_buf_cleanup(&inner);
    px_buf_cleanup(&q);
    if (rc < 0) {
        src_close(s);
        return rc;
    }
    *state_out = s;
    return 0;
}

static int src_next(void *state, struct px_batch **out, struct px_error *err)
{
    struct pgsrc *s = state;
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    while (s->qlen == 0 && !s->done)
        pthread_cond_wait(&s->cv, &s->mu);
    int rc = 0;
    if (s->qlen > 0) {
        *out = s->queue[s->qhead];
        s->qhead = (s->qhead + 1) % QUEUE_CAP;
        s->qlen--;
        pthread_cond_broadcast(&s->cv);
    } else if (s->rc < 0 && !s->reported) {
        s->reported = true;
        *err = s->err;
        rc = s->rc;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- probe ---- */

/* Waits for fd to be ready for events until deadline (µs, monotonic); 0, or -1 on timeout. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - px_mono_us();
        if (left <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)((left + 999) / 1000));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* Host name resolution for connections, bounded by a deadline (libpq resolves synchronously):
 * a detached thread runs getaddrinfo; whichever of it and the caller finishes last frees. */
struct resolve_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool done;
    int rc;
    char host[256];
    char addrs[8][INET6_ADDRSTRLEN];
    int naddrs;
};

static void resolve_release(struct resolve_job *j)
{
    pthread_mutex_lock(&j->mu);
    bool last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (last) {
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        free(j);
    }
}

static void *resolve_thread(void *arg)
{
    struct resolve_job *j = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(j->host, NULL, &hints, &res);
    pthread_mutex_lock(&j->mu);
    j->rc = rc;
    for (struct addrinfo *a = rc == 0 ? res : NULL; a && j->naddrs < 8; a = a->ai_next)
        if (getnameinfo(a->ai_addr, a->ai_addrlen, j->addrs[j->naddrs], INET6_ADDRSTRLEN, NULL, 0,
                        NI_NUMERICHOST) == 0)
            j->naddrs++;
    j->done = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (res)
        freeaddrinfo(res);
    resolve_release(j);
    return NULL;
}

/* Checks one numeric address against the egress policy (base/egress.h). */
static int check_egress(const char *ip, struct px_error *err)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1)
        a4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1)
        a6->sin6_family = AF_INET6;
    else
        return px_error_set(err, PX_EINVALID, "postgres: '%s' is not an address", ip);
    return px_egress_check("postgres", (struct sockaddr *)&ss, err);
}

/* Resolves c->host before deadline into "h,h,..." and "a1,a2,..." (host and hostaddr lists, so
 * that libpq still tries every address while host names them for TLS), keeping only the
 * addresses the egress policy allows: libpq then connects to exactly the checked addresses
 * (no second lookup, no DNS rebinding). 1 when resolved, 0 when the host is an address (checked
 * too), negative with err set (a refused address names the policy). */
static int pg_resolve(const struct pgconf *c, int64_t deadline, int timeout_ms,
                      struct px_buf *hosts, struct px_buf *addrs, struct px_error *err)
{
    unsigned char tmp[sizeof(struct in6_addr)];
    if (strchr(c->host, ',')) {
        int rc = px_error_set(err, PX_EINVALID, "postgres: host must be one host name or address");
        px_error_hint(err, "give a single host; lists of hosts are not supported");
        return rc;
    }
    if (inet_pton(AF_INET, c->host, tmp) == 1 || inet_pton(AF_INET6, c->host, tmp) == 1)
        return check_egress(c->host, err);
    if (strlen(c->host) >= 256)
        return px_error_set(err, PX_EINVALID, "postgres: the host name is too long");
    struct resolve_job *j = px_xcalloc(1, sizeof(*j));
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(j->host, sizeof(j->host), "%s", c->host);
    j->refs = 2;
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, resolve_thread, j) != 0) {
        pthread_attr_destroy(&at);
        j->refs = 1;
        resolve_release(j);
        return px_error_set(err, PX_ENOMEM, "postgres: cannot start the resolver thread");
    }
    pthread_attr_destroy(&at);
    pthread_mutex_lock(&j->mu);
    while (!j->done) {
        struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000),
                              .tv_nsec = (long)(deadline % 1000000) * 1000};
        if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) == ETIMEDOUT && !j->done)
            break;
    }
    int rc = 1;
    if (!j->done) {
        rc = px_error_set(err, PX_EIO, "postgres: host name '%s' did not resolve within %d ms",
                          c->host, timeout_ms);
        err->retryable = true;
        px_error_hint(err, "check the connection's host name and the server's DNS");
    } else if (j->rc != 0 || j->naddrs == 0) {
        rc = px_error_set(err, PX_EIO, "postgres: unknown host '%s'", c->host);
        err->retryable = j->rc == EAI_AGAIN;
        px_error_hint(err, "check the connection's host name");
    } else {
        int kept = 0;
        struct px_error refused;
        px_error_clear(&refused);
        for (int i = 0; i < j->naddrs; i++) {
            struct px_error e;
            px_error_clear(&e);
            if (check_egress(j->addrs[i], &e) < 0) {
                if (!refused.code)
                    refused = e;
                continue;
            }
            (void)px_buf_printf(hosts, "%s%s", kept ? "," : "", c->host);
            (void)px_buf_printf(addrs, "%s%s", kept ? "," : "", j->addrs[i]);
            kept++;
        }
        if (!kept) {
            if (err)
                *err = refused;
            rc = -refused.code;
        }
    }
    pthread_mutex_unlock(&j->mu);
    resolve_release(j);
    return rc;
}

/* After pg_resolve returned 1: connect to the resolved addresses, host still naming them. */
static void use_addrs(struct pgconf *c, struct px_buf *hosts, struct px_buf *addrs)
{
    int n = 0;
    while (c->kw[n])
        n++;
    c->val[0] = hosts->data;
    c->kw[n] = "hostaddr";
    c->val[n] = addrs->data;
    c->kw[n + 1] = c->val[n + 1] = NULL;
}

static int probe_timeout(const struct pgconf *c, int timeout_ms, struct px_error *err)
{
    int rc = px_error_set(err, PX_EIO, "postgres: no answer from %s port %s within %d ms", c->host,
                          c->port, timeout_ms);
    err->retryable = true;
    px_error_hint(err, "check the host, the port and that no firewall drops the traffic");
    return rc;
}

static int pg_probe(const struct px_node_ctx *ctx, bool write, int timeout_ms, char *version,
                    size_t version_size, struct px_error *err)
{
    struct pgconf c;
    int rc = px_pq_load(err);
    if (rc)
        return rc;
    rc = pg_conf(ctx->params, (timeout_ms + 999) / 1000, false, &c, err);
    if (rc < 0)
        return rc;
    int64_t deadline = px_mono_us() + (int64_t)timeout_ms * 1000;
    struct px_buf hosts, addrs;
    px_buf_init(&hosts, 4096);
    px_buf_init(&addrs, 4096);
    rc = pg_resolve(&c, deadline, timeout_ms, &hosts, &addrs, err);
    if (rc > 0)
        use_addrs(&c, &hosts, &addrs);
    PGconn *conn = rc < 0 ? NULL : PQconnectStartParams(c.kw, c.val, 0);
    px_buf_cleanup(&hosts);
    px_buf_cleanup(&addrs);
    if (rc < 0)
        return rc;
    rc = 0;
    if (!conn)
        return px_error_set(err, PX_ENOMEM, "postgres: out of memory");
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    if (PQstatus(conn) == CONNECTION_BAD)
        st = PGRES_POLLING_FAILED;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        short ev = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        if (wait_fd(PQsocket(conn), ev, deadline) < 0) {
            PQfinish(conn);
            return probe_timeout(&c, timeout_ms, err);
        }
        st = PQconnectPoll(conn);
    }
    if (st == PGRES_POLLING_FAILED) {
        rc = connect_error(PQerrorMessage(conn), &c, err);
        PQfinish(conn);
        return rc;
    }
    const char *v = PQparameterStatus(conn, "server_version");
    if (v)
        snprintf(version, version_size, "%.*s", (int)strcspn(v, " "), v);
    if (!PQsendQuery(conn, "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')"
                           " = 'on', current_schema(), current_schema() IS NOT NULL AND "
                           "has_schema_privilege(current_schema(), 'CREATE')")) {
        rc = px__pg_res_error(conn, NULL, "checking the server", err);
        PQfinish(conn);
        return rc;
    }
    PGresult *r = NULL;
    for (;;) {
        if (!PQconsumeInput(conn)) {
            rc = px__pg_res_error(conn, NULL, "checking the server", err);
            break;
        }
        if (!PQisBusy(conn)) {
            r = PQgetResult(conn);
            break;
        }
        if (wait_fd(PQsocket(conn), POLLIN, deadline) < 0) {
            PGcancel *cn = PQgetCancel(conn);
            char ebuf[128];
            if (cn) {
                (void)PQcancel(cn, ebuf, sizeof(ebuf));
                PQfreeCancel(cn);
            }
            rc = probe_timeout(&c, timeout_ms, err);
            break;
        }
    }
    if (rc == 0 && PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = px__pg_res_error(conn, r, "checking the server", err);
    if (rc == 0 && write) {
        const char *schema = PQgetisnull(r, 0, 1) ? "" : PQgetvalue(r, 0, 1);
        if (strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
            rc = px_error_set(err, PX_EFORBIDDEN,
                              "postgres: the server is read-only (a standby "
                              "or read-only transactions)");
            px_error_hint(err, "point the connection at the primary server");
        } else if (strcmp(PQgetvalue(r, 0, 2), "t") != 0) {
            rc = px_error_set(err, PX_EFORBIDDEN,
                              "postgres: user '%s' cannot create tables in schema '%s'", c.user,
                              *schema ? schema : "(none on the search path)");
            px_error_hint(err, "GRANT CREATE ON SCHEMA to the user, or use a user that owns "
                               "the destination schema");
        }
    }
    PQclear(r);
    if (rc == 0) { /* the rest of the results, if any */
        while ((r = PQgetResult(conn)))
            PQclear(r);
    }
    PQfinish(conn);
    return rc;
}

const struct px_connector px__conn_postgres = {
    .version = 1,
    .name = "postgres",
    .description = "PostgreSQL databases (COPY in binary format both ways)",
    .open_source = src_open,
    .next_batch = src_next,
    .close_source = src_close,
    .open_dest = px__pg_dst_open,
    .write_batch = px__pg_dst_write,
    .commit = px__pg_dst_commit,
    .close_dest = px__pg_dst_close,
    .probe = pg_probe,
    .dialect = PX_SQL_POSTGRES,
    .describe = px__pg_describe,
};
