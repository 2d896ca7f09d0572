/*
 * Fuzz target: JSON-RPC framing and MCP dispatch (src/mcp/session.c) down through the tool
 * registry, argument validation, the services and the store. Each input gets a fresh
 * in-memory SQLite store with a fixture whose ids are fixed, so inputs can name them:
 *
 *   organization "fuzz" (the caller; premium, every scope, no rate limit)
 *     conn_PostgresSource00000001  postgres source  (password set)
 *     conn_CsvDestination00000002  csv destination
 *     pl_FuzzPipeline0000000001    src -> filter -> dst, using both connections
 *     sch_FuzzSchedule0000000001   "0 6 * * *" Europe/Berlin on that pipeline
 *   organization "other" (never the caller)
 *     conn_OtherOrgConn0000000003  postgres source of another tenant
 *
 * Then two passes, each with its own session:
 *   1. initialize (protocol 2025-03-26, so batches are accepted), notifications/initialized,
 *      then the whole input as one message;
 *   2. when the input has newlines: every line as one message, as the stdio transport frames
 *      them, with no initialize of our own (the lines drive the lifecycle). While a tool runs,
 *      the host's poll hook offers the next line to px_mcp_take_cancel, as stdio does.
 * The audit queue is flushed after every message (the transport does it when idle).
 *
 * Invariants besides memory safety: every reply and notification is one valid JSON object
 * (an array for a batch reply) with "jsonrpc":"2.0", and no reply or notification ever
 * contains a connection password, the other organization's name or its connection's params.
 * FUZZ_TRACE=1 in the environment prints every message and reply on stderr.
 */
#include "fuzz.h"

#include "auth/audit.h"
#include "auth/keyring.h"
#include "auth/principal.h"
#include "auth/ratelimit.h"
#include "auth/scopes.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "mcp/session.h"
#include "service/connections.h"
#include "service/orgs.h"
#include "service/pipelines.h"
#include "service/schedules.h"
#include "store/store.h"
#include "tools/registry.h"

#include <string.h>
#include <unistd.h>

#define SRC_ID "conn_PostgresSource00000001"
#define DST_ID "conn_CsvDestination00000002"
#define OTHER_CONN_ID "conn_OtherOrgConn0000000003"
#define PIPELINE_ID "pl_FuzzPipeline0000000001"
#define SCHEDULE_ID "sch_FuzzSchedule0000000001"
/* Values that must never come back: the two passwords, the other organization's name and a
 * param of its connection. Nothing in the server compares input against them, no dictionary
 * holds them, and check_message looks for them by hash, never with strstr or memcmp (libFuzzer
 * hooks those and would learn the needle from the check itself). */
#define SECRET_OWN "pw-Kx7Qz2Lm9Rv4Tn8W"
#define SECRET_OTHER "pw-Hd3Jf6Gs1Yc5Vb0N"
#define OTHER_NAME "orgname-Wq4Ez8Ux2Ip6"
#define OTHER_HOST "host-Ra5Sd9Fg3Hj7.example"

#define MAX_INPUT (256 * 1024)
#define OUT_DEPTH (PX_MCP_MAX_DEPTH + 16) /* replies nest the request's params a little deeper */

/* Rabin-Karp over bytes, mod 2^64. */
#define HASH_BASE 1099511628211ull

struct needle {
    const char *text;
    size_t len;
    uint64_t hash, top; /* hash of text; HASH_BASE^(len-1) */
};

static struct needle needles[] = {
    {SECRET_OWN, 0, 0, 0}, {SECRET_OTHER, 0, 0, 0}, {OTHER_NAME, 0, 0, 0}, {OTHER_HOST, 0, 0, 0}};
#define NNEEDLES (sizeof(needles) / sizeof(needles[0]))

static void needles_init(void)
{
    for (size_t i = 0; i < NNEEDLES; i++) {
        struct needle *n = &needles[i];
        n->len = strlen(n->text);
        n->top = 1;
        for (size_t k = 0; k < n->len; k++) {
            n->hash = n->hash * HASH_BASE + (unsigned char)n->text[k];
            if (k)
                n->top *= HASH_BASE;
        }
    }
}

/* Whether text holds needle n: compares rolling hashes, so the only comparison the fuzzer can
 * watch is between hashes. */
static bool contains(const char *text, size_t len, const struct needle *n)
{
    if (len < n->len)
        return false;
    uint64_t h = 0;
    for (size_t k = 0; k < n->len; k++)
        h = h * HASH_BASE + (unsigned char)text[k];
    for (size_t i = 0;; i++) {
        if (h == n->hash)
            return true; /* (a collision would be reported too; at 64 bits, never seen) */
        if (i + n->len >= len)
            return false;
        h = (h - (unsigned char)text[i] * n->top) * HASH_BASE + (unsigned char)text[i + n->len];
    }
}

static struct px_keyring keyring;
static bool trace; /* FUZZ_TRACE=1: print every message and reply on stderr */

struct fixture {
    struct px_store *st;
    struct px_ratelimit *rl;
    struct px_audit *audit;
    struct px_mcp_session *s;
    char org_id[PX_ID_MAX];
    bool dirty;    /* a message changed the store: rebuild it before the next input */
    unsigned uses; /* inputs run on this store */
    /* The lines of pass 2, for the poll hook. */
    char **lines;
    size_t *lens;
    bool *taken;
    size_t nlines, next;
};

static void fixture_release(void);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    px_log_set_level(PX_LOG_OFF);
    atexit(fixture_release);
    trace = getenv("FUZZ_TRACE") != NULL;
    needles_init();
    /* A fresh master key in a temporary directory, removed as soon as it is loaded (so a
     * killed fuzzer leaves nothing behind). */
    char home[64], keyfile[96];
    snprintf(home, sizeof(home), "/tmp/px-fuzz-rpc-XXXXXX");
    if (!mkdtemp(home)) {
        perror("fuzz_jsonrpc: mkdtemp");
        exit(1);
    }
    snprintf(keyfile, sizeof(keyfile), "%s/master.key", home);
    struct px_error err;
    px_error_clear(&err);
    int rc = px_keyring_load(home, &keyring, &err);
    unlink(keyfile);
    rmdir(home);
    if (rc < 0 || px_tools_init(&err) < 0) {
        fprintf(stderr, "fuzz_jsonrpc: setup: %s\n", err.message);
        exit(1);
    }
    return 0;
}

/* ---- fixture ---------------------------------------------------------------------------- */

static void must(int rc, const char *what, const struct px_error *err)
{
    if (rc < 0) {
        fprintf(stderr, "fuzz_jsonrpc: fixture: %s: %s\n", what, err->message);
        abort();
    }
}

/* Runs sql with up to two text parameters; an UPDATE must change at least one row. */
static void exec_sql(struct px_store *st, const char *sql, const char *a, const char *b)
{
    struct px_error err;
    px_error_clear(&err);
    int64_t changes = 0;
    int rc = a ? px_store_exec(st, sql, PX_PARAMS(PX_V_TEXT(a), PX_V_TEXT(b)), 2, &changes, &err)
               : px_store_exec(st, sql, NULL, 0, NULL, &err);
    must(rc, sql, &err);
    if (a && changes < 1) {
        fprintf(stderr, "fuzz_jsonrpc: fixture: %s ('%s', '%s') changed nothing\n", sql, a,
                b ? b : "(null)");
        abort();
    }
}

/* The first string member named key, searched depth-first (service results wrap views). */
static const char *find_str(struct json_object *o, const char *key)
{
    if (json_object_is_type(o, json_type_object)) {
        const char *s = px_json_get_str(o, key);
        if (s)
            return s;
        json_object_object_foreach(o, k, v)
        {
            (void)k;
            if ((s = find_str(v, key)) != NULL)
                return s;
        }
    }
    return NULL;
}

/* Creates a connection, gives it a fixed id (it has no dependants yet) and then sets its
 * password, if any: secrets are sealed bound to the connection id, so only after the rename. */
static void make_conn(struct px_store *st, const char *org, const char *name, const char *type,
                      const char *category, const char *params, const char *password,
                      const char *fixed_id)
{
    struct px_tenant t = {.store = st, .keyring = &keyring, .org_id = org};
    struct px_error err;
    px_error_clear(&err);
    struct json_object *p = json_tokener_parse(params), *out = NULL;
    must(px_connection_create(&t, name, type, category, p, &out, &err), name, &err);
    exec_sql(st, "UPDATE connections SET id = ? WHERE id = ?", fixed_id,
             find_str(out, "connection_id"));
    json_object_put(out);
    json_object_put(p);
    if (password) {
        p = json_object_new_object();
        px_json_set_str(p, "password", password);
        out = NULL;
        must(px_connection_update(&t, fixed_id, NULL, p, &out, &err), name, &err);
        json_object_put(out);
        json_object_put(p);
    }
}

static void fixture_open(struct fixture *f)
{
    struct px_error err;
    px_error_clear(&err);
    must(px_store_open(":memory:", &f->st, &err), "store", &err);
    struct px_org org, other;
    must(px_org_create(f->st, "fuzz", "premium", &org, &err), "org", &err);
    must(px_org_create(f->st, OTHER_NAME, "enterprise", &other, &err), "other org", &err);
    snprintf(f->org_id, sizeof(f->org_id), "%s", org.id);

    make_conn(f->st, org.id, "warehouse", "postgres", "source",
              "{\"host\":\"db.example.com\",\"database\":\"shop\",\"user\":\"etl\"}", SECRET_OWN,
              SRC_ID);
    make_conn(f->st, org.id, "exports", "csv", "destination", "{\"path\":\"exports\"}", NULL,
              DST_ID);
    make_conn(f->st, other.id, "warehouse", "postgres", "source",
              "{\"host\":\"" OTHER_HOST "\",\"database\":\"o\",\"user\":\"o\"}", SECRET_OTHER,
              OTHER_CONN_ID);

    struct px_tenant t = {.store = f->st, .keyring = &keyring, .org_id = org.id};
    struct json_object *graph = json_tokener_parse(
        "{\"nodes\":["
        "{\"id\":\"src\",\"kind\":\"source\",\"type\":\"postgres\",\"connection_id\":\"" SRC_ID
        "\",\"config\":{\"table\":\"orders\"}},"
        "{\"id\":\"paid\",\"kind\":\"transform\",\"type\":\"filter\","
        "\"config\":{\"condition\":\"status = 'paid'\"}},"
        "{\"id\":\"dst\",\"kind\":\"destination\",\"type\":\"csv\",\"connection_id\":\"" DST_ID
        "\",\"config\":{\"file\":\"orders.csv\"}}],"
        "\"edges\":[{\"from\":\"src\",\"to\":\"paid\"},{\"from\":\"paid\",\"to\":\"dst\"}]}");
    struct json_object *out = NULL;
    must(px_pipeline_create(&t, "orders", "Paid orders to CSV", graph, false, &out, &err),
         "pipeline", &err);
    char made[PX_ID_MAX];
    snprintf(made, sizeof(made), "%s", find_str(out, "pipeline_id"));
    json_object_put(out);
    json_object_put(graph);
    exec_sql(f->st, "PRAGMA foreign_keys = OFF", NULL, NULL);
    exec_sql(f->st, "UPDATE pipelines SET id = ? WHERE id = ?", PIPELINE_ID, made);
    exec_sql(f->st, "UPDATE pipeline_revisions SET pipeline_id = ? WHERE pipeline_id = ?",
             PIPELINE_ID, made);
    exec_sql(f->st, "UPDATE pipeline_connections SET pipeline_id = ? WHERE pipeline_id = ?",
             PIPELINE_ID, made);
    exec_sql(f->st, "PRAGMA foreign_keys = ON", NULL, NULL);

    struct px_schedule_fields sf = {
        .cron_expression = "0 6 * * *", .frequency = "daily", .timezone = "Europe/Berlin"};
    out = NULL;
    must(px_schedule_create(&t, PIPELINE_ID, &sf, &out, &err), "schedule", &err);
    exec_sql(f->st, "UPDATE schedules SET id = ? WHERE id = ?", SCHEDULE_ID,
             find_str(out, "schedule_id"));
    json_object_put(out);

    f->rl = px_ratelimit_create();
    f->audit = px_audit_create();
}

static void fixture_close(struct fixture *f)
{
    px_audit_flush(f->audit, f->st);
    px_audit_destroy(f->audit);
    px_ratelimit_destroy(f->rl);
    px_store_close(f->st);
    memset(f, 0, sizeof(*f));
}

/* Rows changed on the store's connection so far (SQLite counts every INSERT, UPDATE and
 * DELETE, rolled back or not). */
static int64_t changes(struct fixture *f)
{
    int64_t n = -1;
    struct px_error err;
    px_error_clear(&err);
    if (px_store_query_int(f->st, "SELECT total_changes()", NULL, 0, &n, &err) != 1) {
        fprintf(stderr, "fuzz_jsonrpc: total_changes: %s\n", err.message);
        abort();
    }
    return n;
}

/* The store is built once and reused by the inputs that leave it as it was: rebuilding it
 * costs more than all the rest of a typical input. A message that changes any row marks it
 * dirty (the audit rows flushed between messages are not counted: nothing reads them), and
 * it is rebuilt every FIXTURE_REUSE inputs anyway so the audit table stays small. */
#define FIXTURE_REUSE 2000
static struct fixture fx;

static void fixture_release(void)
{
    if (fx.st)
        fixture_close(&fx);
}

/* ---- the fake transport ----------------------------------------------------------------- */

static void check_message(const char *text)
{
    size_t len = strlen(text);
    for (size_t i = 0; i < NNEEDLES; i++)
        if (contains(text, len, &needles[i])) {
            fprintf(stderr, "fuzz_jsonrpc: a message leaks '%s': %s\n", needles[i].text, text);
            abort();
        }
    FUZZ_CHECK(strchr(text, '\n') == NULL); /* stdio frames messages by newlines */
    struct json_tokener *tok = json_tokener_new_ex(OUT_DEPTH);
    struct json_object *j = json_tokener_parse_ex(tok, text, (int)len);
    bool complete = json_tokener_get_error(tok) == json_tokener_success &&
                    json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    FUZZ_CHECK(j != NULL && complete);
    if (json_object_is_type(j, json_type_array)) {
        FUZZ_CHECK(json_object_array_length(j) > 0);
        for (size_t i = 0; i < json_object_array_length(j); i++) {
            struct json_object *m = json_object_array_get_idx(j, i);
            const char *v = px_json_get_str(m, "jsonrpc");
            FUZZ_CHECK(v && strcmp(v, "2.0") == 0);
        }
    } else {
        FUZZ_CHECK(json_object_is_type(j, json_type_object));
        const char *v = px_json_get_str(j, "jsonrpc");
        FUZZ_CHECK(v && strcmp(v, "2.0") == 0);
    }
    json_object_put(j);
}

static int fake_auth(void *ctx, struct px_principal *out, struct px_error *err)
{
    (void)err;
    struct fixture *f = ctx;
    memset(out, 0, sizeof(*out));
    snprintf(out->org_id, sizeof(out->org_id), "%s", f->org_id);
    snprintf(out->key_id, sizeof(out->key_id), "key_FuzzKey000000000000001");
    snprintf(out->plan, sizeof(out->plan), "premium");
    out->scopes = PX_SCOPES_ALL;
    out->rate_limit = 0;
    return 0;
}

static void fake_send(void *ctx, const char *json)
{
    (void)ctx;
    if (trace)
        fprintf(stderr, "<- %s\n", json);
    check_message(json);
}

/* During a tool call: offers the next unread line to px_mcp_take_cancel, as stdio does with
 * input that arrives meanwhile. */
static void fake_poll(void *ctx)
{
    struct fixture *f = ctx;
    if (f->next < f->nlines && !f->taken[f->next] &&
        px_mcp_take_cancel(f->s, f->lines[f->next], f->lens[f->next]))
        f->taken[f->next] = true;
}

static void session_start(struct fixture *f)
{
    struct px_mcp_deps deps = {f->st, &keyring, f->rl, f->audit, NULL};
    struct px_mcp_host host = {.ctx = f,
                               .transport = "fuzz",
                               .authenticate = fake_auth,
                               .send = fake_send,
                               .poll = fake_poll};
    f->s = px_mcp_session_create(&deps, &host);
}

static void deliver(struct fixture *f, const char *text, size_t len)
{
    if (trace)
        fprintf(stderr, "-> %.*s\n", (int)len, text);
    int64_t before = changes(f);
    char *reply = px_mcp_handle(f->s, text, len);
    if (changes(f) != before)
        f->dirty = true;
    if (trace)
        fprintf(stderr, "<- %s\n", reply ? reply : "(no reply)");
    if (reply) {
        check_message(reply);
        free(reply);
    }
    px_audit_flush(f->audit, f->st);
}

static void deliver_str(struct fixture *f, const char *text)
{
    deliver(f, text, strlen(text));
}

/* ---- the target ------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    const char *text = (const char *)data;
    if (!fx.st)
        fixture_open(&fx);
    struct fixture *f = &fx;

    /* Pass 1: initialized session, the input as one message. */
    session_start(f);
    deliver_str(f, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                   "\"protocolVersion\":\"2025-03-26\",\"capabilities\":{},"
                   "\"clientInfo\":{\"name\":\"fuzz\",\"version\":\"1\"}}}");
    deliver_str(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    deliver(f, text, size);
    px_mcp_session_destroy(f->s);

    /* Pass 2: one message a line, the lines driving the lifecycle. */
    if (memchr(text, '\n', size)) {
        size_t cap = 1;
        for (size_t i = 0; i < size; i++)
            cap += text[i] == '\n';
        f->lines = calloc(cap, sizeof(*f->lines));
        f->lens = calloc(cap, sizeof(*f->lens));
        f->taken = calloc(cap, sizeof(*f->taken));
        if (!f->lines || !f->lens || !f->taken)
            abort();
        size_t start = 0;
        for (size_t i = 0; i <= size; i++) {
            if (i < size && text[i] != '\n')
                continue;
            size_t len = i - start;
            if (len > 0 && text[start + len - 1] == '\r')
                len--;
            size_t lead = 0;
            while (lead < len && (text[start + lead] == ' ' || text[start + lead] == '\t'))
                lead++;
            if (lead < len) { /* stdio skips blank lines */
                /* Exactly len bytes, so ASan sees an over-read of a message. */
                f->lines[f->nlines] = malloc(len ? len : 1);
                if (!f->lines[f->nlines])
                    abort();
                memcpy(f->lines[f->nlines], text + start, len);
                f->lens[f->nlines++] = len;
            }
            start = i + 1;
        }
        session_start(f);
        for (f->next = 0; f->next < f->nlines;) {
            size_t k = f->next++;
            if (!f->taken[k])
                deliver(f, f->lines[k], f->lens[k]);
        }
        px_mcp_session_destroy(f->s);
        for (size_t i = 0; i < f->nlines; i++)
            free(f->lines[i]);
        free(f->lines);
        free(f->lens);
        free(f->taken);
    }
    f->lines = NULL;
    f->lens = NULL;
    f->taken = NULL;
    f->nlines = f->next = 0;
    if (f->dirty || ++f->uses >= FIXTURE_REUSE)
        fixture_close(f);
    return 0;
}
