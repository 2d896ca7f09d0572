/* MCP over stdio: see stdio.h. */
#include "transport/stdio.h"

#include "auth/audit.h"
#include "auth/principal.h"
#include "base/lines.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "mcp/session.h"
#include "transport/env.h"
#include "tools/registry.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Lines read but not yet handled, in arrival order. */
struct line {
    char *text;
    size_t len;
    struct line *next;
};

struct stdio_ctx {
    const struct px_transport_env *env;
    struct px_mcp_session *session;
    char *token;        /* PLANASONIX_API_KEY, copied at start */
    struct px_lines in; /* bytes read, not yet split into lines */
    bool during_call;   /* reading ahead while a request runs (see on_line) */
    bool eof;
    struct line *head, *tail;
    /* The key once it has acted: checked about once a second (px_mono_us), so a revocation
     * or expiry stops this server within seconds, even when idle or inside a long call. */
    char key_id[PX_ID_MAX];
    int64_t next_check_us;
    bool revoked;
};

#define KEY_CHECK_US 1000000

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void write_all(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            stop_signal = SIGPIPE; /* the client is gone */
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

static void send_line(const char *json)
{
    size_t n = strlen(json);
    char *line = px_xmalloc(n + 1);
    memcpy(line, json, n);
    line[n] = '\n';
    write_all(line, n + 1);
    free(line);
}

static void host_send(void *ctx, const char *json)
{
    struct stdio_ctx *c = ctx;
    if (!c->revoked) /* nothing more for a revoked key, notifications included */
        send_line(json);
}

static int host_authenticate(void *vctx, struct px_principal *out, struct px_error *err)
{
    struct stdio_ctx *c = vctx;
    int rc = px_principal_from_key(c->env->deps.store, c->env->deps.keyring, c->token, px_now_ms(),
                                   out, err);
    if (rc == 0 && !c->key_id[0]) {
        snprintf(c->key_id, sizeof(c->key_id), "%s", out->key_id);
        c->next_check_us = px_mono_us() + KEY_CHECK_US;
    }
    return rc;
}

/* Sets c->revoked once the key that acted here is revoked or expired (a plain read, at most
 * once a second; a store that does not answer is not taken as a revocation). */
static void check_key(struct stdio_ctx *c)
{
    if (!c->key_id[0] || c->revoked || px_mono_us() < c->next_check_us)
        return;
    c->next_check_us = px_mono_us() + KEY_CHECK_US;
    struct px_error err;
    px_error_clear(&err);
    if (px_principal_key_live(c->env->deps.store, c->key_id, px_now_ms(), &err) == 0)
        c->revoked = true;
}

static void push_line(struct stdio_ctx *c, const char *text, size_t len)
{
    struct line *l = px_xmalloc(sizeof(*l));
    l->text = px_xstrndup(text, len);
    l->len = len;
    l->next = NULL;
    if (c->tail)
        c->tail->next = l;
    else
        c->head = l;
    c->tail = l;
}

/* A complete line: queued in order, except that a cancellation read while a request runs
 * is handed to the session at once. */
static bool on_line(void *ctx, const char *text, size_t len)
{
    struct stdio_ctx *c = ctx;
    if (!(c->during_call && px_mcp_take_cancel(c->session, text, len)))
        push_line(c, text, len);
    return true;
}

static void on_oversize(void *ctx)
{
    (void)ctx;
    char *e = px_mcp_error_text(PX_RPC_INVALID_REQUEST,
                                "Invalid Request: message exceeds the 4 MiB limit");
    send_line(e);
    free(e);
}

/* Reads what is available, waiting at most wait_ms (-1: until input or a signal). */
static void read_input(struct stdio_ctx *c, int wait_ms, bool during_call)
{
    struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
    int r = poll(&pfd, 1, wait_ms);
    if (r <= 0)
        return;
    char chunk[65536];
    ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
        return;
    if (n <= 0) {
        c->eof = true;
        return;
    }
    c->during_call = during_call;
    px_lines_feed(&c->in, chunk, (size_t)n, on_line, on_oversize, c);
}

static void host_poll(void *vctx)
{
    struct stdio_ctx *c = vctx;
    if (!c->eof)
        read_input(c, 0, true);
    check_key(c);
}

int px_stdio_run(const struct px_transport_env *env)
{
    struct px_error err;
    if (px_tools_init(&err)) {
        px_logerr("%s", err.message);
        return 1;
    }
    if (env->start_workers(env->start_ctx, &err)) {
        px_logerr("%s", err.message);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct stdio_ctx c = {.env = env};
    const char *key = getenv("PLANASONIX_API_KEY");
    c.token = px_xstrdup(key ? key : "");
    if (!key || !*key)
        px_warn("PLANASONIX_API_KEY is not set: every request will be refused as unauthorized");
    px_lines_init(&c.in, PX_STDIO_MAX_MESSAGE);
    struct px_mcp_host host = {
        .ctx = &c,
        .transport = "stdio",
        .authenticate = host_authenticate,
        .send = host_send,
        .poll = host_poll,
    };
    struct px_mcp_deps deps = env->deps;
    c.session = px_mcp_session_create(&deps, &host);
    px_info("planasonix-mcp: serving MCP on stdio (store: %s)", env->store_url);

    while (!stop_signal) {
        check_key(&c);
        if (c.revoked)
            break;
        if (!c.head) {
            if (c.eof)
                break;
            /* Group commit: queued audit rows are written at most PX_AUDIT_FLUSH_MS after the
             * oldest was queued (or when the queue fills), not once per request. */
            int64_t due = px_audit_due_ms(env->deps.audit, px_now_ms());
            int wait_ms = due > 0 ? (int)due : -1;
            if (c.key_id[0] && (wait_ms < 0 || wait_ms > KEY_CHECK_US / 1000))
                wait_ms = KEY_CHECK_US / 1000; /* wake up to check the key */
            if (due == 0)
                px_audit_flush(env->deps.audit, env->deps.store);
            else
                read_input(&c, wait_ms, false);
            continue;
        }
        struct line *l = c.head;
        c.head = l->next;
        if (!c.head)
            c.tail = NULL;
        char *reply = px_mcp_handle(c.session, l->text, l->len);
        check_key(&c);
        if (reply && !c.revoked) {
            send_line(reply);
            free(reply);
        }
        free(l->text);
        free(l);
    }
    while (c.head) {
        struct line *l = c.head;
        c.head = l->next;
        free(l->text);
        free(l);
    }
    px_audit_flush(env->deps.audit, env->deps.store);
    px_mcp_session_destroy(c.session);
    px_lines_cleanup(&c.in);
    memset(c.token, 0, strlen(c.token));
    free(c.token);
    if (c.revoked) {
        px_logerr("planasonix-mcp: the API key was revoked or has expired; stopping (start the "
                  "server again with a valid PLANASONIX_API_KEY)");
        return 1;
    }
    if (stop_signal && stop_signal != SIGPIPE)
        px_info("planasonix-mcp: stopping on signal %d", (int)stop_signal);
    return 0;
}
