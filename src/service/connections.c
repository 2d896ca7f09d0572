/* Connections of one organization: see connections.h. */
#include "service/connections.h"

#include "auth/keyring.h"
#include "base/clock.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/id.h"
#include "base/json.h"
#include "base/mem.h"
#include "base/schema.h"
#include "base/text.h"
#include "engine/catalog.h"
#include "engine/engine.h"
#include "engine/probe.h"
#include "engine/schema.h"
#include "service/orgs.h"
#include "service/schema_cache.h"
#include "store/store.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_secret(const struct px_conn_type *ct, const char *key)
{
    for (const char *const *s = ct->secret_params; s && *s; s++)
        if (strcmp(*s, key) == 0)
            return true;
    return false;
}

/* A secret that is a map of secret strings (http "headers": name → value): its member names
 * are shown (<param>_set: [names]) and stored in clear, its values sealed. */
static bool is_secret_map(const struct px_conn_type *ct, const char *key)
{
    struct json_object *sub = px_json_get(px_json_get(ct->params_schema, "properties"), key);
    const char *type = px_json_get_str(sub, "type");
    return type && strcmp(type, "object") == 0;
}

static int find_type(const char *type, const struct px_conn_type **out, struct px_error *err)
{
    int rc = px_catalog_init(err);
    if (rc)
        return rc;
    *out = px_catalog_conn_type(type);
    if (*out)
        return 0;
    struct json_object *all = px_catalog_conn_types_json(NULL);
    char names[400] = "";
    for (size_t i = 0; i < json_object_array_length(all); i++) {
        size_t used = strlen(names);
        snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
                 px_json_get_str(json_object_array_get_idx(all, i), "type"));
    }
    json_object_put(all);
    rc = px_error_set(err, PX_EINVALID, "unknown connection type '%.40s'", type);
    px_error_field(err, "type");
    px_error_hint(err, "types: %s (list_connection_types describes each)", names);
    return rc;
}

/* Splits params into the stored public JSON and the sealed secret JSON (NULL if none). */
static void split_params(const struct px_tenant *t, const struct px_conn_type *ct, const char *id,
                         struct json_object *params, char **public_out, char **sealed_out)
{
    struct json_object *pub = json_object_new_object(), *sec = json_object_new_object();
    json_object_object_foreach(params, key, val)
    {
        if (!val)
            continue;
        px_json_set(is_secret(ct, key) ? sec : pub, key, json_object_get(val));
    }
    *public_out = px_xstrdup(px_json_str(pub));
    *sealed_out = NULL;
    if (json_object_object_length(sec) > 0) {
        char ad[2 * PX_ID_MAX + 2];
        snprintf(ad, sizeof(ad), "%s/%s", t->org_id, id);
        *sealed_out = px_secret_seal(t->keyring, ad, px_json_str(sec));
    }
    json_object_put(pub);
    json_object_put(sec);
}

#define CONN_COLUMNS "id, name, type, category, params, secret_names, created_at, updated_at"

/* True when name is a word of the space-separated list. */
static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, " ");
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p += len;
        p += strspn(p, " ");
    }
    return false;
}

/* The names of a map secret s from the secret_names words "s:Name" (sorted when stored). */
static struct json_object *map_names(const char *list, const char *s)
{
    struct json_object *arr = json_object_new_array();
    size_t n = strlen(s);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, " ");
        if (len > n + 1 && strncmp(p, s, n) == 0 && p[n] == ':')
            json_object_array_add(arr, json_object_new_string_len(p + n + 1, (int)(len - n - 1)));
        p += len;
        p += strspn(p, " ");
    }
    return arr;
}

/* A map's member names, in a new array. */
static struct json_object *object_keys(struct json_object *o)
{
    struct json_object *arr = json_object_new_array();
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        json_object_array_add(arr, json_object_new_string(key));
    }
    return arr;
}

static struct json_object *conn_view(struct px_rows *rows)
{
    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "connection_id", px_rows_text(rows, 0));
    char *name = px_text_clean(px_rows_text(rows, 1), 200, NULL);
    px_json_set_str(o, "name", name);
    free(name);
    const char *type = px_rows_text(rows, 2);
    px_json_set_str(o, "type", type);
    px_json_set_str(o, "category", px_rows_text(rows, 3));
    struct json_object *params = json_tokener_parse(px_rows_text(rows, 4));
    if (!params)
        params = json_object_new_object();
    /* Secret params show only whether they are set (from the names column); the sealed blob
     * is never decrypted for a view, so a view cannot leak a secret even by mistake. */
    const struct px_conn_type *ct = px_catalog_conn_type(type);
    const char *names = px_rows_text(rows, 5);
    for (const char *const *s = ct ? ct->secret_params : NULL; s && *s; s++) {
        char key[80];
        snprintf(key, sizeof(key), "%s_set", *s);
        /* A row written before the param was secret holds it in clear: show it as a secret
         * all the same (the next update seals it). */
        struct json_object *clear = px_json_get(params, *s);
        if (is_secret_map(ct, *s))
            px_json_set(params, key,
                        json_object_is_type(clear, json_type_object) ? object_keys(clear)
                                                                     : map_names(names, *s));
        else
            px_json_set_bool(params, key, clear || listed(names, *s));
        json_object_object_del(params, *s);
    }
    px_json_set(o, "params", params);
    px_json_set_time(o, "created_at", px_rows_int(rows, 6));
    px_json_set_time(o, "updated_at", px_rows_int(rows, 7));
    return o;
}

static int load(const struct px_tenant *t, const char *id, struct json_object **out,
                struct px_error *err)
{
    return px_load_one(t, "SELECT " CONN_COLUMNS " FROM connections WHERE org_id = ? AND id = ?",
                       id, conn_view, PX_ID_CONN, out, err);
}

int px_connection_get(const struct px_tenant *t, const char *id, struct json_object **out,
                      struct px_error *err)
{
    int rc = px_check_id(PX_ID_CONN, "connection_id", id, err);
    if (!rc)
        rc = px_catalog_init(err);
    return rc ? rc : load(t, id, out, err);
}

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The member names of a map secret are HTTP header names (tokens, at most 32 of 1-256 bytes):
 * they are stored in clear as words of secret_names. Authorization is refused here, as a run
 * would refuse it: the token belongs in auth_token. */
static int check_secret_map(const char *param, struct json_object *map, struct px_error *err)
{
    int rc;
    char field[80];
    snprintf(field, sizeof(field), "params.%s", param);
    if (json_object_object_length(map) > 32) {
        rc = px_error_set(err, PX_EINVALID, "params.%s has more than 32 members", param);
        px_error_field(err, field);
        return rc;
    }
    json_object_object_foreach(map, name, val)
    {
        (void)val;
        size_t n = strlen(name);
        bool ok = n > 0 && n <= 256;
        for (size_t i = 0; ok && i < n; i++)
            ok = is_tchar((unsigned char)name[i]);
        if (!ok) {
            rc = px_error_set(err, PX_EINVALID,
                              "params.%s: '%.64s' is not a valid HTTP header name", param, name);
            px_error_field(err, field);
            px_error_hint(err, "a header name is 1-256 letters, digits or !#$%%&'*+-.^_`|~");
            return rc;
        }
        if (strcasecmp(name, "Authorization") == 0) {
            rc = px_error_set(err, PX_EINVALID,
                              "params.%s must not contain an Authorization header", param);
            px_error_field(err, field);
            px_error_hint(err, "put the token in auth_token (sent as \"Authorization: Bearer "
                               "<token>\")");
            return rc;
        }
    }
    return 0;
}

static int validate_params(const struct px_conn_type *ct, struct json_object *params,
                           struct px_error *err)
{
    int rc = px_schema_validate(ct->params_schema, params, "params", err);
    if (rc && err && !err->hint[0])
        px_error_hint(err, "list_connection_types shows the params of each type");
    for (const char *const *s = ct->secret_params; !rc && s && *s; s++) {
        struct json_object *v = px_json_get(params, *s);
        if (v && is_secret_map(ct, *s))
            rc = check_secret_map(*s, v, err);
    }
    if (!rc) /* what the connector itself refuses (an absolute or ".." path, …) */
        rc = px_engine_check_params(ct->type, params, err);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* secret_names: the set secret params, space-separated, and for a map secret also one word
 * "param:Name" per member, sorted (names are tokens: no spaces or colons). Owned. */
static char *secret_names(const struct px_conn_type *ct, struct json_object *params)
{
    struct px_buf b;
    px_buf_init(&b, 64 * 1024); /* 32 names of at most 256 bytes per map */
    for (const char *const *s = ct->secret_params; s && *s; s++) {
        struct json_object *v = px_json_get(params, *s);
        if (!v)
            continue;
        px_buf_printf(&b, "%s%s", b.len ? " " : "", *s);
        if (!is_secret_map(ct, *s) || !json_object_is_type(v, json_type_object))
            continue;
        size_t n = 0, cap = (size_t)json_object_object_length(v);
        const char **keys = px_xcalloc(cap + 1, sizeof(*keys));
        json_object_object_foreach(v, key, val)
        {
            (void)val;
            keys[n++] = key;
        }
        qsort(keys, n, sizeof(*keys), cmp_str);
        for (size_t i = 0; i < n; i++)
            px_buf_printf(&b, " %s:%s", *s, keys[i]);
        free(keys);
    }
    return px_buf_take(&b);
}

/* Writes params (public part, sealed secrets and secret names) for connection id. */
static int store_params(const struct px_tenant *t, const struct px_conn_type *ct, const char *id,
                        struct json_object *params, struct px_error *err)
{
    char *pub, *sealed, *names = secret_names(ct, params);
    split_params(t, ct, id, params, &pub, &sealed);
    int rc = px_store_exec(t->store,
                           "UPDATE connections SET params = ?, secrets = ?, secret_names = ?,"
                           " updated_at = ? WHERE org_id = ? AND id = ?",
                           PX_PARAMS(PX_V_TEXT(pub), PX_V_TEXT(sealed), PX_V_TEXT(names),
                                     PX_V_INT(px_now_ms()), PX_V_TEXT(t->org_id), PX_V_TEXT(id)),
                           6, NULL, err);
    free(pub);
    free(sealed);
    free(names);
    return rc;
}

static int name_conflict(int rc, struct px_error *err)
{
    if (rc != -PX_ECONFLICT)
        return rc;
    rc = px_error_set(err, PX_ECONFLICT, "a connection with this name already exists");
    px_error_field(err, "name");
    px_error_hint(err, "choose another name, or change the existing one with update_connection");
    return rc;
}

int px_connection_create(const struct px_tenant *t, const char *name, const char *type,
                         const char *category, struct json_object *params, struct json_object **out,
                         struct px_error *err)
{
    const struct px_conn_type *ct;
    int rc = find_type(type, &ct, err);
    if (rc)
        return rc;
    bool is_source = strcmp(category, "source") == 0;
    if (is_source ? !ct->can_source : !ct->can_destination) {
        rc = px_error_set(err, PX_EINVALID, "a %s connection cannot be a %s", type, category);
        px_error_field(err, "category");
        px_error_hint(err, "%s connections can be: %s", type,
                      ct->can_source ? "source" : "destination");
        return rc;
    }
    if ((rc = validate_params(ct, params, err)))
        return rc;
    char id[PX_ID_MAX];
    px_id_new(PX_ID_CONN, id);
    int64_t now = px_now_ms();
    if ((rc = px_store_begin(t->store, err)))
        return rc;
    rc =
        px_store_exec(t->store,
                      "INSERT INTO connections (org_id, id, name, type, category, params,"
                      " created_at, updated_at) VALUES (?, ?, ?, ?, ?, '{}', ?, ?)",
                      PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id), PX_V_TEXT(name),
                                PX_V_TEXT(type), PX_V_TEXT(category), PX_V_INT(now), PX_V_INT(now)),
                      7, NULL, err);
    rc = name_conflict(rc, err);
    if (!rc)
        rc = store_params(t, ct, id, params, err);
    if (!rc)
        rc = load(t, id, out, err);
    rc = px_store_finish(t->store, rc, err);
    return rc;
}

int px_connection_secret_params(const struct px_tenant *t, const char *id, struct json_object **out,
                                struct px_error *err)
{
    struct px_rows *rows;
    *out = NULL;
    int rc = px_store_query(t->store,
                            "SELECT params, secrets FROM connections WHERE org_id = ? AND id = ?",
                            PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, &rows, err);
    if (rc)
        return rc;
    rc = px_rows_next(rows, err);
    if (rc <= 0) {
        px_rows_free(rows);
        return rc < 0 ? rc : px_not_found(PX_ID_CONN, err);
    }
    rc = 0;
    struct json_object *params = json_tokener_parse(px_rows_text(rows, 0));
    if (!params)
        params = json_object_new_object();
    const char *sealed = px_rows_text(rows, 1);
    if (sealed) {
        char ad[2 * PX_ID_MAX + 2], *plain = NULL;
        snprintf(ad, sizeof(ad), "%s/%s", t->org_id, id);
        rc = px_secret_open(t->keyring, ad, sealed, &plain, err);
        if (!rc) {
            struct json_object *sec = json_tokener_parse(plain);
            json_object_object_foreach(sec, key, val)
            {
                px_json_set(params, key, json_object_get(val));
            }
            json_object_put(sec);
            px_secret_free(plain);
        }
    }
    px_rows_free(rows);
    if (rc) {
        json_object_put(params);
        return rc;
    }
    *out = params;
    return 0;
}

int px_connection_update(const struct px_tenant *t, const char *id, const char *name,
                         struct json_object *params, struct json_object **out, struct px_error *err)
{
    struct json_object *cur;
    int rc = px_connection_get(t, id, &cur, err);
    if (rc)
        return rc;
    const struct px_conn_type *ct = px_catalog_conn_type(px_json_get_str(cur, "type"));
    json_object_put(cur);
    if (!name && !params) {
        rc = px_error_set(err, PX_EINVALID, "nothing to change");
        px_error_hint(err, "give name and/or params (only the params you give change)");
        return rc;
    }
    if ((rc = px_store_begin(t->store, err)))
        return rc;
    if (name) {
        rc = px_store_exec(
            t->store,
            "UPDATE connections SET name = ?, updated_at = ? WHERE org_id = ?"
            " AND id = ?",
            PX_PARAMS(PX_V_TEXT(name), PX_V_INT(px_now_ms()), PX_V_TEXT(t->org_id), PX_V_TEXT(id)),
            4, NULL, err);
        rc = name_conflict(rc, err);
    }
    if (!rc && params && ct) {
        struct json_object *merged = NULL;
        rc = px_connection_secret_params(t, id, &merged, err);
        if (!rc) {
            json_object_object_foreach(params, key, val)
            {
                if (val)
                    px_json_set(merged, key, json_object_get(val));
                else
                    json_object_object_del(merged, key);
            }
            rc = validate_params(ct, merged, err);
        }
        if (!rc)
            rc = store_params(t, ct, id, merged, err);
        json_object_put(merged);
    }
    if (!rc)
        rc = load(t, id, out, err);
    rc = px_store_finish(t->store, rc, err);
    px_schema_cache_drop(t->org_id, id); /* what it holds may have changed with it */
    return rc;
}

int px_connection_list(const struct px_tenant *t, const char *category, const char *type,
                       int64_t limit, const char *cursor, struct json_object **out,
                       struct px_error *err)
{
    struct px_page pg;
    int rc = px_page_init(&pg, limit, 20, cursor, err);
    if (!rc)
        rc = px_catalog_init(err);
    if (rc)
        return rc;
    struct px_rows *rows;
    rc = px_store_query(
        t->store,
        "SELECT " CONN_COLUMNS " FROM connections x WHERE org_id = ?"
        " AND (? IS NULL OR category = ?) AND (? IS NULL OR type = ?)" PX_PAGE_SQL("x"),
        PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(category), PX_V_TEXT(category), PX_V_TEXT(type),
                  PX_V_TEXT(type), PX_PAGE_PARAMS(pg)),
        10, &rows, err);
    if (rc)
        return rc;
    return px_page_collect(rows, &pg, conn_view, 6, 0, "connectors", out, err);
}

int px_connection_delete(const struct px_tenant *t, const char *id, struct json_object **out,
                         struct px_error *err)
{
    struct json_object *cur;
    int rc = px_connection_get(t, id, &cur, err);
    if (rc)
        return rc;
    json_object_put(cur);
    struct px_rows *rows;
    rc = px_store_query(t->store,
                        "SELECT p.id, p.name, p.deleted_at FROM pipeline_connections pc"
                        " JOIN pipelines p ON p.org_id = pc.org_id AND p.id = pc.pipeline_id"
                        " WHERE pc.org_id = ? AND pc.connection_id = ? ORDER BY p.id",
                        PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, &rows, err);
    if (rc)
        return rc;
    char users[600] = "", first_deleted[PX_ID_MAX] = "";
    int n = 0, deleted = 0;
    while ((rc = px_rows_next(rows, err)) == 1) {
        size_t used = strlen(users);
        char *pname = px_text_clean(px_rows_text(rows, 1), 60, NULL);
        bool gone = !px_rows_is_null(rows, 2);
        if (n < 10)
            snprintf(users + used, sizeof(users) - used, "%s%s (%s%s)", n ? ", " : "",
                     px_rows_text(rows, 0), pname, gone ? ", deleted but restorable" : "");
        if (gone && !deleted++)
            snprintf(first_deleted, sizeof(first_deleted), "%s", px_rows_text(rows, 0));
        free(pname);
        n++;
    }
    px_rows_free(rows);
    if (rc < 0)
        return rc;
    if (n > 0) {
        rc = px_error_set(err, PX_EIN_USE, "connection is used by %d pipeline%s: %s%s", n,
                          n == 1 ? "" : "s", users, n > 10 ? ", ..." : "");
        /* Deleted pipelines keep it so that a restore works; only an operator's purge
         * (`pipeline purge`, CLI) lets it go. */
        char purge[200];
        if (deleted == 1)
            snprintf(purge, sizeof(purge), "planasonix-mcp pipeline purge %s --org %s",
                     first_deleted, t->org_id);
        else
            snprintf(purge, sizeof(purge), "planasonix-mcp pipeline purge --all-deleted --org %s",
                     t->org_id);
        if (deleted == n)
            px_error_hint(err,
                          "%s deleted but kept restorable; an operator can remove %s for good "
                          "with `%s`, then delete the connection",
                          n == 1 ? "that pipeline is" : "those pipelines are",
                          n == 1 ? "it" : "them", purge);
        else if (deleted > 0)
            px_error_hint(err,
                          "point the live pipelines at another connection (update_pipeline) or "
                          "delete them (delete_pipeline); the deleted ones are removed for good "
                          "by an operator with `%s`",
                          purge);
        else
            px_error_hint(err, "point those pipelines at another connection (update_pipeline) "
                               "or delete them first");
        return rc;
    }
    if ((rc = px_store_exec(t->store, "DELETE FROM connections WHERE org_id = ? AND id = ?",
                            PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, NULL, err)))
        return rc;
    px_schema_cache_drop(t->org_id, id);
    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "connection_id", id);
    px_json_set_bool(o, "deleted", true);
    *out = o;
    return 0;
}

/* Rows written before a param was secret (http headers before issue 10) hold it in clear in
 * params: found by a LIKE on the member name (portable SQL; a false match only reseals a row
 * whose params are unchanged) and rewritten through store_params, which seals it. */
int px_connection_seal_clear(struct px_store *st, const struct px_keyring *keyring, int *sealed,
                             struct px_error *err)
{
    *sealed = 0;
    int rc = px_catalog_init(err);
    struct json_object *all = rc ? NULL : px_catalog_conn_types_json(NULL);
    for (size_t i = 0; !rc && i < json_object_array_length(all); i++) {
        const struct px_conn_type *ct =
            px_catalog_conn_type(px_json_get_str(json_object_array_get_idx(all, i), "type"));
        for (const char *const *sp = ct->secret_params; !rc && sp && *sp; sp++) {
            char like[96];
            snprintf(like, sizeof(like), "%%\"%s\":%%", *sp);
            struct px_rows *rows;
            rc = px_store_query(st,
                                "SELECT org_id, id FROM connections WHERE type = ?"
                                " AND params LIKE ?",
                                PX_PARAMS(PX_V_TEXT(ct->type), PX_V_TEXT(like)), 2, &rows, err);
            if (rc)
                break;
            struct json_object *ids = json_object_new_array();
            while ((rc = px_rows_next(rows, err)) == 1) {
                json_object_array_add(ids, json_object_new_string(px_rows_text(rows, 0)));
                json_object_array_add(ids, json_object_new_string(px_rows_text(rows, 1)));
            }
            px_rows_free(rows);
            size_t n = json_object_array_length(ids);
            if (rc > 0)
                rc = 0; /* no more rows */
            if (!rc && n > 0)
                rc = px_store_begin(st, err);
            bool open = rc == 0 && n > 0;
            for (size_t k = 0; open && !rc && k + 1 < n; k += 2) {
                struct px_tenant t = {
                    .store = st,
                    .keyring = keyring,
                    .org_id = json_object_get_string(json_object_array_get_idx(ids, k)),
                };
                const char *id = json_object_get_string(json_object_array_get_idx(ids, k + 1));
                struct json_object *merged = NULL;
                rc = px_connection_secret_params(&t, id, &merged, err);
                if (!rc && px_json_get(merged, *sp)) {
                    rc = store_params(&t, ct, id, merged, err);
                    (*sealed)++;
                }
                json_object_put(merged);
            }
            if (open)
                rc = px_store_finish(st, rc, err);
            json_object_put(ids);
        }
    }
    json_object_put(all);
    return rc;
}

/* The description of a reachable connection for test_connection's include_schema: from the
 * cache when the connection has not changed since, else described now and cached. Always a
 * document: one that cannot be made says why ({"describable": false, "reason": ...}). */
static struct json_object *connection_schema(const struct px_tenant *t, const char *id,
                                             const char *type, struct json_object *params,
                                             const char *org_dir, bool *cached)
{
    struct px_error err;
    px_error_clear(&err);
    int64_t version = 0;
    *cached = false;
    if (px_store_query_int(
            t->store, "SELECT updated_at FROM connections WHERE org_id = ? AND id = ?",
            PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, &version, &err) == 1) {
        struct json_object *doc = px_schema_cache_get(t->org_id, id, version, NULL);
        if (doc) {
            *cached = true;
            return doc;
        }
    }
    struct px_engine_opts opts = {.files_root = org_dir[0] ? org_dir : NULL};
    struct px_describe_opts d = {.max_bytes = PX_CONNECTION_SCHEMA_BYTES};
    struct json_object *doc = NULL;
    if (px_engine_describe(type, params, &opts, &d, &doc, &err) == 0) {
        if (version)
            px_schema_cache_put(t->org_id, id, version, doc, px_now_ms());
        return doc;
    }
    doc = json_object_new_object();
    px_json_set_str(doc, "type", type);
    px_json_set(doc, "describable", json_object_new_boolean(false));
    px_json_set_str(doc, "reason", err.message);
    return doc;
}

int px_connection_test(const struct px_tenant *t, const char *files_root, const char *id,
                       bool include_schema, int timeout_ms, struct json_object **out,
                       struct px_error *err)
{
    struct json_object *conn;
    int rc = px_connection_get(t, id, &conn, err);
    if (rc)
        return rc;
    char type[32], category[32];
    snprintf(type, sizeof(type), "%s",
             px_json_get_str(conn, "type") ? px_json_get_str(conn, "type") : "");
    snprintf(category, sizeof(category), "%s",
             px_json_get_str(conn, "category") ? px_json_get_str(conn, "category") : "");
    json_object_put(conn);
    /* The full params (secrets included) go to the probe only; the result never carries them. */
    struct json_object *params;
    if ((rc = px_connection_secret_params(t, id, &params, err)))
        return rc;
    /* File connections resolve in the organization's own files directory, as runs do. */
    char org_dir[PATH_MAX] = "";
    if (files_root &&
        (rc = px_org_files_dir(t->store, files_root, t->org_id, org_dir, sizeof(org_dir), err))) {
        json_object_put(params);
        return rc;
    }
    struct px_probe_result res;
    rc = px_engine_probe(type, category, params, org_dir[0] ? org_dir : NULL, timeout_ms, &res);
    if (rc) {
        json_object_put(params);
        *err = res.error;
        return rc;
    }
    *out = px_probe_result_json(id, &res);
    if (include_schema) {
        bool cached = false;
        struct json_object *schema =
            res.reachable ? connection_schema(t, id, type, params, org_dir, &cached) : NULL;
        px_json_set(*out, "schema", schema);
        px_json_set(*out, "schema_cached", json_object_new_boolean(cached));
    }
    json_object_put(params);
    return 0;
}
