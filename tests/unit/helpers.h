/*
 * Small fixtures several unit tests share. Include after <cmocka.h> (the file helper asserts).
 * Everything is static inline, so a test that uses only part of it still compiles cleanly.
 */
#ifndef PX_TESTS_HELPERS_H
#define PX_TESTS_HELPERS_H

#include "base/err.h"
#include "base/json.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>

/* Connections for engine runs: a JSON object of connection id → params. */
struct conns {
    struct json_object *map;
};

/* px_engine_opts.conn over struct conns: the params of id (a new reference), or not_found. */
static inline int resolve_conn(void *ctx, const char *id, struct json_object **out,
                               struct px_error *err)
{
    struct conns *c = ctx;
    struct json_object *p = px_json_get(c->map, id);
    if (!p)
        return px_error_set(err, PX_ENOTFOUND, "connection not found");
    *out = json_object_get(p);
    return 0;
}

/* Writes text to dir/rel (the file must be creatable). */
static inline void put_file_at(const char *dir, const char *rel, const char *text)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#endif
