/* API key → principal: see principal.h. */
#include "auth/principal.h"

#include "auth/keyring.h"
#include "auth/keys.h"
#include "auth/scopes.h"
#include "base/err.h"
#include "base/mem.h"
#include "store/store.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *plan;
    int per_minute;
} plans[] = {
    {"starter", 0},
    {"professional", 60},
    {"premium", 120},
    {"enterprise", 300},
};

int px_plan_rate_limit(const char *plan)
{
    for (size_t i = 0; plan && i < sizeof(plans) / sizeof(plans[0]); i++)
        if (strcmp(plans[i].plan, plan) == 0)
            return plans[i].per_minute;
    return -1;
}

static int unauthorized(struct px_error *err)
{
    int rc = px_error_set(err, PX_EUNAUTHORIZED,
                          "Unauthorized: the API key is missing, invalid, expired or revoked");
    px_error_hint(err, "set PLANASONIX_API_KEY to a valid key; an operator creates one with "
                       "`planasonix-mcp key create --org ORG --scopes ...`");
    return rc;
}

/* A small cache of resolved keys (see px_principal_cache_clear). */
#define CACHE_SLOTS 64

/* Entries are found by a BLAKE2b-256 of the presented token under a key random to this
 * process (about a quarter of an HMAC-SHA-256's cost, which is only computed on a miss, for the
 * store lookup); never stored, never leaves memory. */
#define CACHE_TAG_BYTES 32

struct cached {
    const struct px_store *store;
    int64_t data_version;
    unsigned char tag[CACHE_TAG_BYTES];
    struct px_principal principal;
    int64_t expires_at; /* 0 = never */
    int64_t last_used;  /* as stored, to keep last_used_at within a minute */
};

static struct cached cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

void px_principal_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    memset(cache, 0, sizeof(cache));
    pthread_mutex_unlock(&cache_lock);
}

/* Entries are per store connection: data_version is only comparable between two readings on
 * the same connection, so a server with a pool of connections keeps one entry per key and
 * connection (each invalidated by commits from any other connection or process). */
static unsigned slot_of(const struct px_store *st, const unsigned char *tag)
{
    /* The tag is already uniformly random: a few of its bytes pick the slot. */
    unsigned h = (unsigned)tag[0] | (unsigned)tag[1] << 8 | (unsigned)tag[2] << 16;
    uintptr_t p = (uintptr_t)st;
    h += (unsigned)((p >> 4) ^ (p >> 12));
    return h % CACHE_SLOTS;
}

static unsigned char tag_key[crypto_generichash_KEYBYTES];
static pthread_once_t tag_once = PTHREAD_ONCE_INIT;

static void tag_init(void)
{
    if (sodium_init() < 0)
        abort();
    randombytes_buf(tag_key, sizeof(tag_key));
}

static void tag_of(const char *token, unsigned char tag[CACHE_TAG_BYTES])
{
    pthread_once(&tag_once, tag_init);
    crypto_generichash(tag, CACHE_TAG_BYTES, (const unsigned char *)token, strlen(token), tag_key,
                       sizeof(tag_key));
}

/* Copies a cached principal for digest into out; false on a miss or a stale entry. */
static bool cache_get(const struct px_store *st, int64_t version, const unsigned char *tag,
                      int64_t now_ms, struct px_principal *out, bool *touch_out)
{
    bool hit = false;
    pthread_mutex_lock(&cache_lock);
    struct cached *c = &cache[slot_of(st, tag)];
    if (version >= 0 && c->store == st && c->data_version == version &&
        sodium_memcmp(c->tag, tag, CACHE_TAG_BYTES) == 0 &&
        (!c->expires_at || c->expires_at > now_ms)) {
        *out = c->principal;
        *touch_out = now_ms - c->last_used >= 60000;
        if (*touch_out)
            c->last_used = now_ms;
        hit = true;
    }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void cache_put(const struct px_store *st, int64_t version, const unsigned char *tag,
                      const struct px_principal *p, int64_t expires_at, int64_t last_used)
{
    if (version < 0)
        return;
    pthread_mutex_lock(&cache_lock);
    struct cached *c = &cache[slot_of(st, tag)];
    c->store = st;
    c->data_version = version;
    memcpy(c->tag, tag, CACHE_TAG_BYTES);
    c->principal = *p;
    c->expires_at = expires_at;
    c->last_used = last_used;
    pthread_mutex_unlock(&cache_lock);
}

int px_principal_from_key(struct px_store *st, const struct px_keyring *kr, const char *token,
                          int64_t now_ms, struct px_principal *out, struct px_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!token || !*token || px_key_check_format(token, NULL) != 0)
        return unauthorized(err);
    unsigned char tag[CACHE_TAG_BYTES];
    tag_of(token, tag);
    int64_t version = px_store_data_version(st);
    bool touch = false;
    if (cache_get(st, version, tag, now_ms, out, &touch)) {
        if (touch)
            px_store_exec(st, "UPDATE api_keys SET last_used_at = ? WHERE id = ?",
                          PX_PARAMS(PX_V_INT(now_ms), PX_V_TEXT(out->key_id)), 2, NULL, NULL);
        return 0;
    }

    char digest[PX_KEY_HMAC_HEX];
    px_key_hmac(kr->pepper, token, digest);
    struct px_rows *rows;
    int rc = px_store_query(st,
                            "SELECT k.id, k.org_id, k.secret_hmac, k.scopes, k.expires_at,"
                            " k.revoked_at, k.last_used_at, o.plan, o.rate_limit"
                            " FROM api_keys k JOIN orgs o ON o.id = k.org_id"
                            " WHERE k.secret_hmac = ?",
                            PX_PARAMS(PX_V_TEXT(digest)), 1, &rows, err);
    if (rc)
        return rc;
    rc = px_rows_next(rows, err);
    if (rc <= 0) {
        px_rows_free(rows);
        return rc < 0 ? rc : unauthorized(err);
    }
    const char *stored = px_rows_text(rows, 2);
    bool match = stored && px_key_hmac_equal(stored, digest);
    int64_t expires = px_rows_is_null(rows, 4) ? 0 : px_rows_int(rows, 4);
    bool revoked = !px_rows_is_null(rows, 5);
    int64_t last_used = px_rows_is_null(rows, 6) ? 0 : px_rows_int(rows, 6);
    if (!match || revoked || (expires > 0 && expires <= now_ms)) {
        px_rows_free(rows);
        return unauthorized(err);
    }
    snprintf(out->key_id, sizeof(out->key_id), "%s", px_rows_text(rows, 0));
    snprintf(out->org_id, sizeof(out->org_id), "%s", px_rows_text(rows, 1));
    snprintf(out->plan, sizeof(out->plan), "%s", px_rows_text(rows, 7));
    uint32_t scopes = 0;
    px_scopes_parse(px_rows_text(rows, 3), 0, &scopes, NULL);
    out->scopes = scopes;
    bool has_override = !px_rows_is_null(rows, 8);
    int64_t override = px_rows_int(rows, 8);
    px_rows_free(rows);

    int plan_limit = px_plan_rate_limit(out->plan);
    if (plan_limit == 0) {
        rc = px_error_set(err, PX_EPLAN,
                          "the organization is on the Starter plan, which has no MCP access");
        px_error_hint(err, "MCP needs the Professional plan or above; an operator can change it "
                           "with `planasonix-mcp org update ORG --plan professional`");
        return rc;
    }
    out->rate_limit = has_override ? override : plan_limit;

    if (now_ms - last_used >= 60000) {
        px_store_exec(st, "UPDATE api_keys SET last_used_at = ? WHERE id = ?",
                      PX_PARAMS(PX_V_INT(now_ms), PX_V_TEXT(out->key_id)), 2, NULL, NULL);
        last_used = now_ms;
    }
    cache_put(st, version, tag, out, expires, last_used);
    return 0;
}

int px_principal_key_live(struct px_store *st, const char *key_id, int64_t now_ms,
                          struct px_error *err)
{
    int64_t n = 0;
    int rc = px_store_query_int(st,
                                "SELECT COUNT(*) FROM api_keys WHERE id = ? AND revoked_at IS NULL"
                                " AND (expires_at IS NULL OR expires_at <= 0 OR expires_at > ?)",
                                PX_PARAMS(PX_V_TEXT(key_id), PX_V_INT(now_ms)), 2, &n, err);
    if (rc < 0)
        return rc;
    return n > 0 ? 1 : 0;
}

int px_principal_dead_keys(struct px_store *st, int64_t now_ms, char (**ids)[PX_ID_MAX], size_t *n,
                           struct px_error *err)
{
    *ids = NULL;
    *n = 0;
    struct px_rows *rows;
    int rc = px_store_query(st,
                            "SELECT id FROM api_keys WHERE revoked_at IS NOT NULL"
                            " OR (expires_at > 0 AND expires_at <= ?) ORDER BY id",
                            PX_PARAMS(PX_V_INT(now_ms)), 1, &rows, err);
    if (rc)
        return rc;
    size_t cap = 0;
    while ((rc = px_rows_next(rows, err)) > 0) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *ids = px_xrealloc(*ids, cap * sizeof(**ids));
        }
        const char *id = px_rows_text(rows, 0);
        snprintf((*ids)[(*n)++], PX_ID_MAX, "%s", id ? id : "");
    }
    px_rows_free(rows);
    if (rc < 0) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        return rc;
    }
    return 0;
}
