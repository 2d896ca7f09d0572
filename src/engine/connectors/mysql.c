/*
 * The MySQL/MariaDB connector (libmariadb): connections, error mapping, the probe and the
 * connector table; the source lives in engine/connectors/mysql_src.c, the destination in
 * engine/connectors/mysql_dest.c.
 *
 * Connections: utf8mb4, session time_zone '+00:00' (TIMESTAMP columns read and write as UTC;
 * DATETIME values are taken as UTC), sql_mode STRICT_ALL_TABLES (a value that does not fit is
 * an error, never a silent truncation). sslmode: disable → no TLS; prefer → TLS when the
 * server offers it; require → TLS or fail; verify-ca and verify-full → TLS with the server
 * certificate checked against the system CAs and the host name (libmariadb checks both
 * together, so verify-ca is as strict as verify-full). The connect uses libmariadb's
 * non-blocking API so that its deadline holds to the millisecond (name resolution excepted).
 * Connections always use TCP (MYSQL_PROTOCOL_TCP), "localhost" included: the server's Unix
 * socket may authenticate by the OS user of this process instead of the connection's
 * credentials, and a host that is a socket path is refused. The egress policy
 * (base/egress.h) is checked on the resolved address, which the connection then uses (with
 * verify-ca/verify-full the host name goes to libmariadb for the certificate check, and the
 * connected peer's address is checked before any query).
 *
 * Probe: connects within timeout_ms and reports mysql_get_server_info(); for destinations it
 * also fails when @@read_only is on or when information_schema shows no INSERT grant for the
 * user (globally, on the database or on one of its tables; skipped when a role is active,
 * whose grants it does not show). CREATE is not checked (only needed for missing tables).
 */
#include "base/buf.h"
#include "base/clock.h"
#include "base/egress.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/connectors/mysql_int.h"
#include "engine/engine.h"
#include "engine/exec_int.h"

#include <errmsg.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <mysqld_error.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SESSION_SQL                                                                                \
    "SET time_zone = '+00:00', sql_mode = "                                                        \
    "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO'"

/* ---- connections ---- */

void px__mysql_quote_ident(struct px_buf *b, const char *name)
{
    (void)px_buf_puts(b, "`");
    for (const char *p = name; *p; p++) {
        if (*p == '`')
            (void)px_buf_puts(b, "`");
        (void)px_buf_append(b, p, 1);
    }
    (void)px_buf_puts(b, "`");
}

void px__mysql_quote_table(struct px_buf *b, const char *table)
{
    const char *dot = strchr(table, '.');
    if (dot && dot != table && dot[1]) {
        char *db = px_xstrndup(table, (size_t)(dot - table));
        px__mysql_quote_ident(b, db);
        free(db);
        (void)px_buf_puts(b, ".");
        table = dot + 1;
    }
    px__mysql_quote_ident(b, table);
}

static void target_str(const struct px_my_target *t, char *out, size_t size)
{
    snprintf(out, size, "%s:%u", t && t->host ? t->host : "?", t ? t->port : 0);
}

int px__mysql_fail(MYSQL *m, const struct px_my_target *t, struct px_error *err)
{
    unsigned e = mysql_errno(m);
    const char *msg = mysql_error(m);
    char where[300];
    target_str(t, where, sizeof(where));
    const char *user = t && t->user ? t->user : "";
    const char *db = t && t->database ? t->database : "";
    int rc;
    switch (e) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
        rc =
            px_error_set(err, PX_EUNAUTHORIZED, "mysql: authentication failed for user '%s'", user);
        px_error_hint(err, "check the connection's user and password, and that the user may "
                           "connect from this host");
        return rc;
    case ER_DBACCESS_DENIED_ERROR:
        rc = px_error_set(err, PX_EFORBIDDEN, "mysql: user '%s' may not use database '%s'", user,
                          db);
        px_error_hint(err, "GRANT the user privileges on the database, or pick another one");
        return rc;
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_COLUMNACCESS_DENIED_ERROR:
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
        rc = px_error_set(err, PX_EFORBIDDEN, "mysql: %s", msg);
        px_error_hint(err, "GRANT the user the privilege named above");
        return rc;
    case ER_BAD_DB_ERROR:
        rc =
            px_error_set(err, PX_ENOTFOUND, "mysql: database '%s' does not exist on %s", db, where);
        px_error_hint(err, "create the database or fix the connection's database name");
        return rc;
    case ER_NO_SUCH_TABLE:
        rc = px_error_set(err, PX_ENOTFOUND, "mysql: %s", msg);
        px_error_hint(err, "check the table name (and its database)");
        return rc;
    case ER_BAD_FIELD_ERROR:
        rc = px_error_set(err, PX_EINVALID, "mysql: %s", msg);
        px_error_hint(err, "check the column names against the table");
        return rc;
    case ER_PARSE_ERROR:
        rc = px_error_set(err, PX_EINVALID, "mysql: %s", msg);
        px_error_hint(err, "fix the SQL of the query");
        return rc;
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_LOCK_DEADLOCK:
        rc = px_error_set(err, PX_EIO, "mysql: %s", msg);
        err->retryable = true;
        px_error_hint(err, "another transaction held the rows; the run can be retried");
        return rc;
    case ER_NET_PACKET_TOO_LARGE:
        rc = px_error_set(err, PX_ETOOLARGE, "mysql: %s", msg);
        px_error_hint(err, "raise the server's max_allowed_packet");
        return rc;
    case ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION:
        rc = px_error_set(err, PX_EFORBIDDEN, "mysql: %s", msg);
        px_error_hint(err, "a source query may only read; the database refused a write");
        return rc;
    case ER_OPTION_PREVENTS_STATEMENT:
        rc = px_error_set(err, PX_EFORBIDDEN, "mysql: %s", msg);
        px_error_hint(err, "the server is read-only; point the connection at the primary");
        return rc;
    case ER_DATA_TOO_LONG:
    case WARN_DATA_TRUNCATED:
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
    case ER_TRUNCATED_WRONG_VALUE:
    case ER_WARN_DATA_OUT_OF_RANGE:
    case ER_BAD_NULL_ERROR:
    case ER_DUP_ENTRY:
    case ER_NO_REFERENCED_ROW_2:
        rc = px_error_set(err, PX_EINVALID, "mysql: %s", msg);
        px_error_hint(err, "the value does not fit the destination column; widen the column "
                           "or cast/clean the value in the pipeline");
        return rc;
    case CR_CONN_HOST_ERROR:
    case CR_CONNECTION_ERROR:
        rc = px_error_set(err, PX_EIO, "mysql: cannot connect to the server at %s", where);
        err->retryable = true;
        px_error_hint(err, "check that the server runs and accepts connections on that host "
                           "and port (firewall, bind-address)");
        return rc;
    case CR_UNKNOWN_HOST:
        rc = px_error_set(err, PX_EIO, "mysql: unknown server host '%s'",
                          t && t->host ? t->host : "");
        err->retryable = true;
        px_error_hint(err, "check the connection's host name");
        return rc;
    case CR_SSL_CONNECTION_ERROR:
        rc = px_error_set(err, PX_EINVALID, "mysql: TLS connection to %s failed: %s", where, msg);
        px_error_hint(err, "check the server's TLS set-up or the connection's sslmode");
        return rc;
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
        rc = px_error_set(err, PX_EIO, "mysql: lost the connection to %s (%s)", where, msg);
        err->retryable = true;
        px_error_hint(err, "the server closed the connection or did not answer in time; the "
                           "run can be retried");
        return rc;
    default:
        break;
    }
    if (e >= 2000 && e < 3000) { /* client-side: network trouble */
        rc = px_error_set(err, PX_EIO, "mysql: %s: %s", where, msg);
        err->retryable = true;
        return rc;
    }
    return px_error_set(err, PX_EIO, "mysql: %s", msg[0] ? msg : "unknown error");
}

int px__mysql_exec(MYSQL *m, const struct px_my_target *t, const char *sql, size_t len,
                   struct px_error *err)
{
    if (mysql_real_query(m, sql, (unsigned long)len) != 0)
        return px__mysql_fail(m, t, err);
    MYSQL_RES *r = mysql_store_result(m);
    if (r)
        mysql_free_result(r);
    else if (mysql_field_count(m) != 0)
        return px__mysql_fail(m, t, err);
    return 0;
}

/* Waits on the connection's socket for what libmariadb's non-blocking call asked for, at most
 * until deadline_us. The status to hand back to the _cont call, or -1 past the deadline. */
static int wait_io(MYSQL *m, int status, int64_t deadline_us)
{
    for (;;) {
        int64_t left = (deadline_us - px_mono_us() + 999) / 1000;
        if (left <= 0)
            return -1;
        int t = left > INT_MAX ? INT_MAX : (int)left;
        bool lib_timeout = false;
        if (status & MYSQL_WAIT_TIMEOUT) {
            unsigned lt = mysql_get_timeout_value_ms(m);
            if (lt < (unsigned)t) {
                t = (int)lt;
                lib_timeout = true;
            }
        }
        struct pollfd p = {.fd = mysql_get_socket(m), .events = 0};
        if (status & MYSQL_WAIT_READ)
            p.events |= POLLIN;
        if (status & MYSQL_WAIT_WRITE)
            p.events |= POLLOUT;
        if (status & MYSQL_WAIT_EXCEPT)
            p.events |= POLLPRI;
        int r = poll(&p, 1, t);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return lib_timeout ? MYSQL_WAIT_TIMEOUT : -1;
        int out = 0;
        if (p.revents & (POLLIN | POLLERR | POLLHUP))
            out |= MYSQL_WAIT_READ;
        if (p.revents & (POLLOUT | POLLERR | POLLHUP))
            out |= MYSQL_WAIT_WRITE;
        if (p.revents & POLLPRI)
            out |= MYSQL_WAIT_EXCEPT;
        return out & status ? out & status : out;
    }
}

static int timeout_error(const struct px_my_target *t, int ms, struct px_error *err)
{
    char where[300];
    target_str(t, where, sizeof(where));
    int rc = px_error_set(err, PX_EIO, "mysql: no answer from %s within %d ms", where, ms);
    err->retryable = true;
    px_error_hint(err, "check that a MySQL/MariaDB server listens on that host and port and "
                       "is not overloaded");
    return rc;
}

#define MY_MAX_ADDRS 8

/* The egress policy (base/egress.h) for a connection to host: resolves it and copies into
 * addrs (numeric) the addresses the policy allows, in resolver order, so that the connection
 * goes to exactly checked addresses. The count, or negative with err set (a refused address
 * names the policy). */
static int egress_pick(const struct px_my_target *t, char addrs[][INET6_ADDRSTRLEN + 1],
                       struct px_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(t->host, NULL, &hints, &res);
    if (g != 0) {
        int rc = px_error_set(err, PX_EIO, "mysql: unknown server host '%s'", t->host);
        err->retryable = g == EAI_AGAIN;
        px_error_hint(err, "check the connection's host name");
        return rc;
    }
    struct px_error refused;
    px_error_clear(&refused);
    int n = 0;
    for (struct addrinfo *a = res; a && n < MY_MAX_ADDRS; a = a->ai_next) {
        struct px_error e;
        px_error_clear(&e);
        if (px_egress_check("mysql", a->ai_addr, &e) < 0) {
            if (!refused.code)
                refused = e;
            continue;
        }
        if (getnameinfo(a->ai_addr, a->ai_addrlen, addrs[n], INET6_ADDRSTRLEN + 1, NULL, 0,
                        NI_NUMERICHOST) == 0) {
            bool dup = false;
            for (int i = 0; i < n && !dup; i++)
                dup = strcmp(addrs[i], addrs[n]) == 0;
            n += !dup;
        }
    }
    freeaddrinfo(res);
    if (n > 0)
        return n;
    if (refused.code) {
        if (err)
            *err = refused;
        return -refused.code;
    }
    return px_error_set(err, PX_EIO, "mysql: unknown server host '%s'", t->host);
}

/* After a connect by host name (TLS verification needs it): the peer must be an address the
 * egress policy allows. */
static int egress_peer(MYSQL *m, struct px_error *err)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getpeername(mysql_get_socket(m), (struct sockaddr *)&ss, &len) != 0)
        return px_error_set(err, PX_EIO, "mysql: cannot read the server's address");
    return px_egress_check("mysql", (struct sockaddr *)&ss, err);
}

static void library_init(void)
{
    (void)mysql_library_init(0, NULL, NULL);
}

int px__mysql_connect(struct json_object *params, int connect_ms, unsigned io_s, MYSQL **out,
                      struct px_my_target *target, struct px_error *err)
{
    *out = NULL;
    int loaded = px_mysql_load(err);
    if (loaded)
        return loaded;
    /* mysql_init() would initialize the library on first use, but not thread-safely. */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, library_init);
    int64_t port = px_json_get_int(params, "port", 3306);
    target->host = px_json_get_str(params, "host");
    target->port = port > 0 && port <= 65535 ? (unsigned)port : 3306;
    target->user = px_json_get_str(params, "user");
    target->database = px_json_get_str(params, "database");
    const char *password = px_json_get_str(params, "password");
    const char *sslmode = px_json_get_str(params, "sslmode");
    if (!sslmode)
        sslmode = "prefer";
    if (!target->host || !target->host[0] || !target->user)
        return px_error_set(err, PX_EINVALID, "mysql: the connection needs a host and a user");
    if (strchr(target->host, '/')) {
        int rc = px_error_set(err, PX_EINVALID, "mysql: host must be a host name or address");
        px_error_hint(err, "unix socket paths are not allowed; give the server's host name");
        return rc;
    }
    bool tls = strcmp(sslmode, "disable") != 0;
    bool must_tls = tls && strcmp(sslmode, "prefer") != 0;
    bool verify = strncmp(sslmode, "verify-", 7) == 0;
    /* Egress: connect to the checked address; with TLS verification libmariadb needs the
     * host name (it checks the certificate against it), so the peer is checked after the
     * connect instead, before any query. */
    char addrs[MY_MAX_ADDRS][INET6_ADDRSTRLEN + 1];
    int naddrs = egress_pick(target, addrs, err);
    if (naddrs < 0)
        return naddrs;
    int erc, ai = 0;
    bool fell_back = false;
    int64_t deadline = px_mono_us() + (int64_t)connect_ms * 1000;
    for (int attempt = 0; attempt < 2 + naddrs; attempt++) {
        /* By address, the next one when a connect is refused (as libmariadb would do for a
         * name); with verification by name (libmariadb tries its addresses itself). */
        const char *connect_host = verify ? target->host : addrs[ai];
        MYSQL *m = mysql_init(NULL);
        if (!m)
            return px_error_set(err, PX_ENOMEM, "mysql: out of memory");
        unsigned cs = (unsigned)((connect_ms + 999) / 1000);
        mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &cs);
        mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io_s);
        mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io_s);
        mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
        mysql_options(m, MYSQL_INIT_COMMAND, SESSION_SQL);
        /* Always TCP: libmariadb would take "localhost" to the local Unix socket, where the
         * server may authenticate by the process's own OS user (socket auth), not the
         * connection's credentials. */
        unsigned proto = MYSQL_PROTOCOL_TCP;
        mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
        my_bool on = 1, off = 0;
        if (tls)
            mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &on);
        /* Explicit either way: newer libmariadb versions verify by default. */
        mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, verify ? &on : &off);
        mysql_options(m, MYSQL_OPT_NONBLOCK, 0);
        MYSQL *ret = NULL;
        int st = mysql_real_connect_start(&ret, m, connect_host, target->user, password,
                                          target->database, target->port, NULL, 0);
        while (st) {
            st = wait_io(m, st, deadline);
            if (st < 0) {
                mysql_close(m);
                return timeout_error(target, connect_ms, err);
            }
            st = mysql_real_connect_cont(&ret, m, st);
        }
        if (!ret) {
            /* prefer: a library that insists on TLS the server lacks → plain connection */
            if (tls && !must_tls && !fell_back && mysql_errno(m) == CR_SSL_CONNECTION_ERROR) {
                mysql_close(m);
                tls = false;
                fell_back = true;
                continue;
            }
            unsigned e = mysql_errno(m);
            if (!verify && ai + 1 < naddrs &&
                (e == CR_CONN_HOST_ERROR || e == CR_CONNECTION_ERROR)) {
                mysql_close(m);
                ai++;
                continue;
            }
            int rc = px__mysql_fail(m, target, err);
            mysql_close(m);
            return rc;
        }
        if (verify && (erc = egress_peer(m, err)) < 0) {
            mysql_close(m);
            return erc;
        }
        if (must_tls && !mysql_get_ssl_cipher(m)) {
            mysql_close(m);
            char where[300];
            target_str(target, where, sizeof(where));
            int rc = px_error_set(err, PX_EINVALID,
                                  "mysql: the server at %s does not offer TLS (sslmode %s)", where,
                                  sslmode);
            px_error_hint(err, "enable TLS on the server, or set sslmode to prefer or disable");
            return rc;
        }
        *out = m;
        return 0;
    }
    return px_error_set(err, PX_EINTERNAL, "mysql: connect retry loop ended");
}

/* Runs sql and stores its (small) result, all within deadline_us. */
static int query_deadline(MYSQL *m, const char *sql, int64_t deadline_us, MYSQL_RES **res)
{
    *res = NULL;
    int ret = 0;
    int st = mysql_real_query_start(&ret, m, sql, (unsigned long)strlen(sql));
    while (st) {
        if ((st = wait_io(m, st, deadline_us)) < 0)
            return -2;
        st = mysql_real_query_cont(&ret, m, st);
    }
    if (ret)
        return -1;
    st = mysql_store_result_start(res, m);
    while (st) {
        if ((st = wait_io(m, st, deadline_us)) < 0)
            return -2;
        st = mysql_store_result_cont(res, m, st);
    }
    return *res ? 0 : -1;
}

/* ---- probe ---- */

static int my_probe(const struct px_node_ctx *ctx, bool write, int timeout_ms, char *version,
                    size_t version_size, struct px_error *err)
{
    int64_t deadline = px_mono_us() + (int64_t)timeout_ms * 1000;
    struct px_my_target t;
    MYSQL *m = NULL;
    unsigned io_s = (unsigned)((timeout_ms + 999) / 1000);
    int rc = px__mysql_connect(ctx->params, timeout_ms, io_s, &m, &t, err);
    if (rc < 0)
        return rc;
    const char *v = mysql_get_server_info(m);
    if (version_size)
        snprintf(version, version_size, "%.*s", (int)(version_size - 1), v ? v : "");
    if (!write) {
        mysql_close(m);
        return 0;
    }
    MYSQL_RES *r = NULL;
    int q = query_deadline(m, "SELECT @@read_only", deadline, &r);
    if (q == 0) {
        MYSQL_ROW row = mysql_fetch_row(r);
        bool ro = row && row[0] && strcmp(row[0], "0") != 0;
        mysql_free_result(r);
        r = NULL;
        if (ro) {
            rc = px_error_set(err, PX_EFORBIDDEN, "mysql: the server is read-only");
            px_error_hint(err, "point the connection at the primary (read_only is ON)");
        }
    }
    /* INSERT granted globally, on the database or on one of its tables (or a role is active,
     * whose grants information_schema does not show): otherwise writing cannot work. */
    if (rc == 0 && q == 0) {
        q = query_deadline(
            m,
            "SELECT COALESCE(CURRENT_ROLE(), 'NONE') <> 'NONE' OR EXISTS(SELECT 1 FROM "
            "information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'INSERT') OR EXISTS("
            "SELECT 1 FROM information_schema.SCHEMA_PRIVILEGES WHERE PRIVILEGE_TYPE = "
            "'INSERT' AND DATABASE() LIKE TABLE_SCHEMA) OR EXISTS(SELECT 1 FROM "
            "information_schema.TABLE_PRIVILEGES WHERE PRIVILEGE_TYPE = 'INSERT' AND "
            "TABLE_SCHEMA = DATABASE())",
            deadline, &r);
        if (q == 0) {
            MYSQL_ROW row = mysql_fetch_row(r);
            if (row && row[0] && strcmp(row[0], "0") == 0) {
                rc = px_error_set(err, PX_EFORBIDDEN,
                                  "mysql: user '%s' may not INSERT into database '%s'", t.user,
                                  t.database ? t.database : "");
                px_error_hint(err, "GRANT INSERT, CREATE, DROP ON the database TO the user");
            }
            mysql_free_result(r);
        } else if (q == -1) {
            q = 0; /* an old server without CURRENT_ROLE(): the check is skipped */
        }
    }
    if (q == -2)
        rc = timeout_error(&t, timeout_ms, err);
    else if (q == -1 && rc == 0)
        rc = px__mysql_fail(m, &t, err);
    mysql_close(m);
    return rc;
}

const struct px_connector px__conn_mysql = {
    .version = 1,
    .name = "mysql",
    .description = "MySQL and MariaDB databases",
    .open_source = px__mysql_src_open,
    .next_batch = px__mysql_src_next,
    .close_source = px__mysql_src_close,
    .open_dest = px__mysql_dest_open,
    .write_batch = px__mysql_dest_write,
    .commit = px__mysql_dest_commit,
    .close_dest = px__mysql_dest_close,
    .probe = my_probe,
    .dialect = PX_SQL_MYSQL,
    .describe = px__mysql_describe,
};
