/* Organizations and API keys: see orgs.h. */
#include "service/orgs.h"

#include "auth/keyring.h"
#include "auth/keys.h"
#include "auth/principal.h"
#include "auth/scopes.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/text.h"
#include "engine/engine.h"
#include "store/store.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int check_name(const char *what, const char *name, struct px_error *err)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > 100 || !px_utf8_valid(name, len)) {
        return px_error_set(err, PX_EINVALID, "%s name must be 1 to 100 characters of UTF-8", what);
    }
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return px_error_set(err, PX_EINVALID, "%s name must not contain control characters",
                                what);
    return 0;
}

static int check_plan(const char *plan, struct px_error *err)
{
    if (px_plan_rate_limit(plan) < 0) {
        int rc = px_error_set(err, PX_EINVALID, "unknown plan '%s'", plan ? plan : "");
        px_error_hint(err, "plans: starter, professional, premium, enterprise");
        return rc;
    }
    return 0;
}

int px_org_create(struct px_store *st, const char *name, const char *plan, struct px_org *out,
                  struct px_error *err)
{
    int rc;
    if ((rc = check_name("organization", name, err)) || (rc = check_plan(plan, err)))
        return rc;
    if (px_id_kind_of(name) == PX_ID_ORG)
        return px_error_set(err, PX_EINVALID, "an organization name must not look like an id");
    memset(out, 0, sizeof(*out));
    px_id_new(PX_ID_ORG, out->id);
    snprintf(out->name, sizeof(out->name), "%s", name);
    snprintf(out->plan, sizeof(out->plan), "%s", plan);
    out->rate_limit = -1;
    out->created_at = px_now_ms();
    rc = px_store_exec(st,
                       "INSERT INTO orgs (id, name, plan, created_at, updated_at)"
                       " VALUES (?, ?, ?, ?, ?)",
                       PX_PARAMS(PX_V_TEXT(out->id), PX_V_TEXT(name), PX_V_TEXT(plan),
                                 PX_V_INT(out->created_at), PX_V_INT(out->created_at)),
                       5, NULL, err);
    if (rc == -PX_ECONFLICT)
        return px_error_set(err, PX_ECONFLICT, "an organization named '%s' already exists", name);
    return rc;
}

int px_org_find(struct px_store *st, const char *id_or_name, struct px_org *out,
                struct px_error *err)
{
    struct px_rows *rows;
    memset(out, 0, sizeof(*out));
    int rc = px_store_query(
        st,
        "SELECT id, name, plan, rate_limit, created_at, files_dir FROM orgs"
        " WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1",
        PX_PARAMS(PX_V_TEXT(id_or_name), PX_V_TEXT(id_or_name), PX_V_TEXT(id_or_name)), 3, &rows,
        err);
    if (rc)
        return rc;
    rc = px_rows_next(rows, err);
    if (rc == 1) {
        snprintf(out->id, sizeof(out->id), "%s", px_rows_text(rows, 0));
        snprintf(out->name, sizeof(out->name), "%s", px_rows_text(rows, 1));
        snprintf(out->plan, sizeof(out->plan), "%s", px_rows_text(rows, 2));
        out->rate_limit = px_rows_is_null(rows, 3) ? -1 : px_rows_int(rows, 3);
        out->created_at = px_rows_int(rows, 4);
        snprintf(out->files_dir, sizeof(out->files_dir), "%s",
                 px_rows_is_null(rows, 5) ? "" : px_rows_text(rows, 5));
        rc = 0;
    } else if (rc == 0) {
        rc = px_error_set(err, PX_ENOTFOUND, "no organization with id or name '%s'", id_or_name);
        px_error_hint(err, "create one with `planasonix-mcp org create NAME`");
    }
    px_rows_free(rows);
    return rc;
}

int px_org_update(struct px_store *st, const char *org_id, const char *plan,
                  const char *rate_limit_set, struct px_error *err)
{
    px_principal_cache_clear(); /* the plan and limit are part of cached principals */
    int rc;
    int64_t now = px_now_ms();
    /* Both values are checked before either is written, and both are written in one
     * transaction: a bad limit or a store failure leaves the plan as it was too. */
    if (plan && (rc = check_plan(plan, err)))
        return rc;
    struct px_val v = PX_V_NULL;
    if (rate_limit_set && strcmp(rate_limit_set, "unlimited") == 0) {
        v = PX_V_INT(0);
    } else if (rate_limit_set && strcmp(rate_limit_set, "plan") != 0) {
        char *end;
        long n = strtol(rate_limit_set, &end, 10);
        if (*end || n <= 0 || n > 1000000) {
            rc = px_error_set(err, PX_EINVALID, "invalid rate limit '%s'", rate_limit_set);
            px_error_hint(err, "give a number of requests per minute, 'plan' or 'unlimited'");
            return rc;
        }
        v = PX_V_INT(n);
    }
    if ((rc = px_store_begin(st, err)))
        return rc;
    if (plan)
        rc = px_store_exec(st, "UPDATE orgs SET plan = ?, updated_at = ? WHERE id = ?",
                           PX_PARAMS(PX_V_TEXT(plan), PX_V_INT(now), PX_V_TEXT(org_id)), 3, NULL,
                           err);
    if (!rc && rate_limit_set)
        rc = px_store_exec(st, "UPDATE orgs SET rate_limit = ?, updated_at = ? WHERE id = ?",
                           PX_PARAMS(v, PX_V_INT(now), PX_V_TEXT(org_id)), 3, NULL, err);
    return px_store_finish(st, rc, err);
}

struct json_object *px_org_json(const struct px_org *org, const char *files_root)
{
    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "org_id", org->id);
    px_json_set_str(o, "name", org->name);
    px_json_set_str(o, "plan", org->plan);
    int64_t limit = org->rate_limit >= 0 ? org->rate_limit : px_plan_rate_limit(org->plan);
    if (limit == 0 && org->rate_limit != 0)
        px_json_set(o, "rate_limit_per_minute", json_object_new_int(0));
    else if (limit == 0)
        px_json_set_str(o, "rate_limit_per_minute", "unlimited");
    else
        px_json_set_int(o, "rate_limit_per_minute", limit);
    px_json_set_bool(o, "rate_limit_overridden", org->rate_limit >= 0);
    px_json_set_time(o, "created_at", org->created_at);
    char dir[PATH_MAX * 2];
    if (org->files_dir[0])
        snprintf(dir, sizeof(dir), "%s", org->files_dir);
    else
        snprintf(dir, sizeof(dir), "%s/%s", files_root ? files_root : "", org->id);
    px_json_set_str(o, "files_dir", dir);
    px_json_set_bool(o, "files_dir_overridden", org->files_dir[0] != '\0');
    return o;
}

/* ---- files directories ---- */

/* Creates dir and its missing parents (mode 0700). */
static int make_dirs(const char *dir, struct px_error *err)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
        return px_error_set(err, PX_EINVALID, "the files directory path is too long");
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            int rc = px_error_set(err, PX_EIO, "cannot create the files directory %s: %s", p,
                                  strerror(errno));
            px_error_hint(err, "check the permissions of PLANASONIX_FILES_ROOT or the "
                               "organization's --files-dir");
            return rc;
        }
        *s = c;
        if (!c)
            return 0;
    }
}

int px_org_files_dir(struct px_store *st, const char *files_root, const char *org_id, char *out,
                     size_t size, struct px_error *err)
{
    struct px_rows *rows;
    int rc = px_store_query(st, "SELECT files_dir FROM orgs WHERE id = ?",
                            PX_PARAMS(PX_V_TEXT(org_id)), 1, &rows, err);
    if (rc)
        return rc;
    rc = px_rows_next(rows, err);
    int n = 0;
    if (rc == 1 && !px_rows_is_null(rows, 0))
        n = snprintf(out, size, "%s", px_rows_text(rows, 0));
    else if (rc == 1 && files_root && *files_root)
        n = snprintf(out, size, "%s/%s", files_root, org_id);
    else if (rc == 1)
        rc = px_error_set(err, PX_EUNAVAILABLE, "no files root is configured");
    else if (rc == 0)
        rc = px_error_set(err, PX_ENOTFOUND, "organization not found");
    px_rows_free(rows);
    if (rc < 0)
        return rc;
    if (n < 0 || (size_t)n >= size)
        return px_error_set(err, PX_EINVALID, "the files directory path is too long");
    return make_dirs(out, err);
}

/* The canonical form of an absolute path: links resolved in the part that exists, "." and ".."
 * and repeated slashes removed in the rest. */
static int canon(const char *path, char *out, struct px_error *err)
{
    char lex[PATH_MAX] = "";
    size_t len = 0;
    for (const char *s = path; *s;) {
        while (*s == '/')
            s++;
        size_t n = strcspn(s, "/");
        if (n == 0)
            break;
        if (n == 1 && s[0] == '.') {
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            char *slash = strrchr(lex, '/');
            len = slash ? (size_t)(slash - lex) : 0;
            lex[len] = '\0';
        } else {
            if (len + n + 2 >= sizeof(lex))
                return px_error_set(err, PX_EINVALID, "the path is too long");
            lex[len++] = '/';
            memcpy(lex + len, s, n);
            len += n;
            lex[len] = '\0';
        }
        s += n;
    }
    if (!lex[0])
        snprintf(lex, sizeof(lex), "/");
    /* Resolve the longest existing prefix. */
    char head[PATH_MAX];
    snprintf(head, sizeof(head), "%s", lex);
    const char *tail = "";
    char real[PATH_MAX];
    for (;;) {
        if (realpath(head, real)) {
            int n = snprintf(out, PATH_MAX, "%s%s%s", strcmp(real, "/") == 0 ? "" : real,
                             *tail ? "/" : "", tail);
            if (n <= 0)
                snprintf(out, PATH_MAX, "/");
            else if (n >= PATH_MAX)
                return px_error_set(err, PX_EINVALID, "the path is too long");
            return 0;
        }
        char *slash = strrchr(head, '/');
        if (!slash || slash == head) {
            snprintf(out, PATH_MAX, "%s", lex);
            return 0;
        }
        *slash = '\0';
        tail = lex + (slash - head) + 1;
    }
}

/* Whether a is b or lies inside b. */
static bool inside(const char *a, const char *b)
{
    size_t n = strlen(b);
    if (n == 1 && b[0] == '/')
        return true;
    return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

int px_org_set_files_dir(struct px_store *st, const char *files_root, const char *org_id,
                         const char *dir, struct px_error *err)
{
    int rc;
    if (dir && strcmp(dir, "default") == 0)
        dir = NULL;
    char c[PATH_MAX] = "", root[PATH_MAX] = "";
    if (dir) {
        if (dir[0] != '/') {
            rc = px_error_set(err, PX_EINVALID, "--files-dir '%s' is not an absolute path", dir);
            px_error_hint(err, "give an absolute directory such as /srv/planasonix/acme, or "
                               "'default' for PLANASONIX_FILES_ROOT/<org_id>");
            return rc;
        }
        if ((rc = canon(dir, c, err)) || (files_root && (rc = canon(files_root, root, err))))
            return rc;
        if (root[0] && inside(root, c)) {
            rc = px_error_set(err, PX_EINVALID,
                              "--files-dir %s contains the shared files root %s, which holds "
                              "other organizations' directories",
                              c, root);
            px_error_hint(err, "choose a directory outside PLANASONIX_FILES_ROOT, or one of its "
                               "own below it");
            return rc;
        }
        if (root[0] && inside(c, root)) {
            /* Below the shared root: not in a directory named like another org's id. */
            const char *first = c + strlen(root) + 1;
            char name[PX_ID_MAX + 8];
            snprintf(name, sizeof(name), "%.*s", (int)strcspn(first, "/"), first);
            if (px_id_kind_of(name) == PX_ID_ORG && strcmp(name, org_id) != 0) {
                rc =
                    px_error_set(err, PX_ECONFLICT,
                                 "--files-dir %s is or lies inside organization %s's default files "
                                 "directory",
                                 c, name);
                px_error_hint(err, "choose a directory no other organization uses");
                return rc;
            }
        }
        struct px_rows *rows;
        if ((rc = px_store_query(st, "SELECT id, files_dir FROM orgs WHERE id <> ?",
                                 PX_PARAMS(PX_V_TEXT(org_id)), 1, &rows, err)))
            return rc;
        while ((rc = px_rows_next(rows, err)) == 1) {
            char other[PATH_MAX * 2];
            if (!px_rows_is_null(rows, 1))
                snprintf(other, sizeof(other), "%s", px_rows_text(rows, 1));
            else if (root[0])
                snprintf(other, sizeof(other), "%s/%s", root, px_rows_text(rows, 0));
            else
                continue;
            if (inside(c, other) || inside(other, c)) {
                rc = px_error_set(err, PX_ECONFLICT,
                                  "--files-dir %s overlaps the files directory of organization "
                                  "%s (%s)",
                                  c, px_rows_text(rows, 0), other);
                px_error_hint(err, "each organization needs a directory of its own that neither "
                                   "contains nor lies inside another's");
                break;
            }
        }
        px_rows_free(rows);
        if (rc)
            return rc < 0 ? rc : -PX_ECONFLICT;
    }
    rc = px_store_exec(
        st, "UPDATE orgs SET files_dir = ?, updated_at = ? WHERE id = ?",
        PX_PARAMS(dir ? PX_V_TEXT(c) : PX_V_NULL, PX_V_INT(px_now_ms()), PX_V_TEXT(org_id)), 3,
        NULL, err);
    if (rc == -PX_ECONFLICT)
        return px_error_set(err, PX_ECONFLICT, "another organization already uses %s", c);
    return rc;
}

static struct json_object *key_json(struct px_rows *rows)
{
    struct json_object *k = json_object_new_object();
    px_json_set_str(k, "key_id", px_rows_text(rows, 0));
    px_json_set_str(k, "org_id", px_rows_text(rows, 1));
    px_json_set_str(k, "name", px_rows_text(rows, 2));
    struct json_object *scopes = json_object_new_array();
    const char *s = px_rows_text(rows, 3);
    while (s && *s) {
        size_t n = strcspn(s, " ");
        json_object_array_add(scopes, json_object_new_string_len(s, (int)n));
        s += n;
        s += strspn(s, " ");
    }
    px_json_set(k, "scopes", scopes);
    px_json_set_time(k, "created_at", px_rows_int(rows, 4));
    px_json_set_time(k, "expires_at", px_rows_is_null(rows, 5) ? 0 : px_rows_int(rows, 5));
    px_json_set_time(k, "revoked_at", px_rows_is_null(rows, 6) ? 0 : px_rows_int(rows, 6));
    px_json_set_time(k, "last_used_at", px_rows_is_null(rows, 7) ? 0 : px_rows_int(rows, 7));
    return k;
}

#define KEY_COLUMNS "id, org_id, name, scopes, created_at, expires_at, revoked_at, last_used_at"

int px_key_create(struct px_store *st, const struct px_keyring *kr, const char *org_id,
                  const char *name, uint32_t scopes, int expires_days, char *token_out,
                  struct json_object **key_out, struct px_error *err)
{
    int rc;
    *key_out = NULL;
    if ((rc = check_name("key", name, err)))
        return rc;
    if (expires_days < 0 || expires_days > 3650)
        return px_error_set(err, PX_EINVALID, "--expires must be between 1 and 3650 days");
    char id[PX_ID_MAX], digest[PX_KEY_HMAC_HEX], scope_list[200];
    px_id_new(PX_ID_KEY, id);
    px_key_generate(token_out);
    px_key_hmac(kr->pepper, token_out, digest);
    px_scopes_format(scopes, scope_list, sizeof(scope_list));
    int64_t now = px_now_ms();
    int64_t expires = expires_days ? now + (int64_t)expires_days * 86400000 : 0;
    /* The insert and the read-back are one transaction: a key whose creation reports an
     * error does not exist (its token, shown only here, would be lost with it). */
    if ((rc = px_store_begin(st, err)))
        return rc;
    rc = px_store_exec(st,
                       "INSERT INTO api_keys (id, org_id, name, secret_hmac, scopes, created_at,"
                       " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       PX_PARAMS(PX_V_TEXT(id), PX_V_TEXT(org_id), PX_V_TEXT(name),
                                 PX_V_TEXT(digest), PX_V_TEXT(scope_list), PX_V_INT(now),
                                 PX_V_TIME(expires)),
                       7, NULL, err);
    struct px_rows *rows;
    if (!rc && !(rc = px_store_query(st, "SELECT " KEY_COLUMNS " FROM api_keys WHERE id = ?",
                                     PX_PARAMS(PX_V_TEXT(id)), 1, &rows, err))) {
        if (px_rows_next(rows, err) == 1)
            *key_out = key_json(rows);
        px_rows_free(rows);
        if (!*key_out)
            rc = px_error_set(err, PX_ESTORE, "key was not stored");
    }
    if ((rc = px_store_finish(st, rc, err))) {
        json_object_put(*key_out);
        *key_out = NULL;
    }
    return rc;
}

int px_key_list(struct px_store *st, const char *org_id, struct json_object **out,
                struct px_error *err)
{
    struct px_rows *rows;
    *out = NULL;
    int rc = px_store_query(st,
                            "SELECT " KEY_COLUMNS " FROM api_keys WHERE org_id = ?"
                            " ORDER BY created_at, id",
                            PX_PARAMS(PX_V_TEXT(org_id)), 1, &rows, err);
    if (rc)
        return rc;
    struct json_object *arr = json_object_new_array();
    while ((rc = px_rows_next(rows, err)) == 1)
        json_object_array_add(arr, key_json(rows));
    px_rows_free(rows);
    if (rc < 0) {
        json_object_put(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int px_key_revoke(struct px_store *st, const char *key_id, struct px_error *err)
{
    px_principal_cache_clear();
    int64_t changes = 0;
    int rc =
        px_store_exec(st, "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
                      PX_PARAMS(PX_V_INT(px_now_ms()), PX_V_TEXT(key_id)), 2, &changes, err);
    if (rc)
        return rc;
    if (changes == 0) {
        rc = px_error_set(err, PX_ENOTFOUND, "no API key with id '%s'", key_id);
        px_error_hint(err, "list keys with `planasonix-mcp key list --org ORG`");
    }
    return rc;
}

void px_org_files_recover(struct px_store *st, const char *files_root)
{
    struct px_rows *rows;
    if (px_store_query(st, "SELECT id, files_dir FROM orgs ORDER BY id", NULL, 0, &rows, NULL))
        return;
    while (px_rows_next(rows, NULL) == 1) {
        char dir[PATH_MAX * 2];
        if (!px_rows_is_null(rows, 1))
            snprintf(dir, sizeof(dir), "%s", px_rows_text(rows, 1));
        else if (files_root && *files_root)
            snprintf(dir, sizeof(dir), "%s/%s", files_root, px_rows_text(rows, 0));
        else
            continue;
        px_engine_recover_files(dir);
    }
    px_rows_free(rows);
}
