/* Unit tests for src/service/schema_cache.c: a hit needs the same organization, connection and
 * version; drop forgets; one organization cannot hold more than its share, nor push another
 * organization's entries out while under its share; the total is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/json.h"
#include "service/schema_cache.h"

#include <stdio.h>

static struct json_object *doc(const char *name)
{
    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "name", name);
    return o;
}

static bool has(const char *org, const char *conn, int64_t version)
{
    struct json_object *o = px_schema_cache_get(org, conn, version, NULL);
    json_object_put(o);
    return o != NULL;
}

static void test_hit_needs_org_conn_and_version(void **state)
{
    (void)state;
    struct json_object *d = doc("a");
    px_schema_cache_put("org_A", "conn_1", 100, d, 5);
    json_object_put(d);
    int64_t at = 0;
    struct json_object *o = px_schema_cache_get("org_A", "conn_1", 100, &at);
    assert_non_null(o);
    assert_string_equal(px_json_get_str(o, "name"), "a");
    assert_int_equal(at, 5);
    json_object_put(o);
    assert_false(has("org_B", "conn_1", 100)); /* another organization's entry is not found */
    assert_false(has("org_A", "conn_1", 101)); /* the connection changed since */
    assert_false(has("org_A", "conn_2", 100));
    px_schema_cache_drop("org_A", "conn_1");
    assert_false(has("org_A", "conn_1", 100));
}

static void test_each_org_has_its_share(void **state)
{
    (void)state;
    struct json_object *d = doc("x");
    px_schema_cache_put("org_B", "conn_b", 1, d, 0);
    char id[32];
    for (int i = 0; i < PX_SCHEMA_CACHE_PER_ORG + 5; i++) {
        snprintf(id, sizeof(id), "conn_%d", i);
        px_schema_cache_put("org_A", id, 1, d, 0);
    }
    int held = 0;
    for (int i = 0; i < PX_SCHEMA_CACHE_PER_ORG + 5; i++) {
        snprintf(id, sizeof(id), "conn_%d", i);
        held += has("org_A", id, 1);
    }
    assert_int_equal(held, PX_SCHEMA_CACHE_PER_ORG);
    assert_false(has("org_A", "conn_0", 1)); /* its least recently used went first */
    assert_true(has("org_B", "conn_b", 1));  /* the other organization kept its entry */
    /* Many organizations: the total stays bounded, the newest entries are there. */
    for (int i = 0; i < PX_SCHEMA_CACHE_ENTRIES * 2; i++) {
        char org[32];
        snprintf(org, sizeof(org), "org_%d", i);
        px_schema_cache_put(org, "conn", 1, d, 0);
    }
    int total = 0;
    for (int i = 0; i < PX_SCHEMA_CACHE_ENTRIES * 2; i++) {
        char org[32];
        snprintf(org, sizeof(org), "org_%d", i);
        total += has(org, "conn", 1);
    }
    assert_int_equal(total, PX_SCHEMA_CACHE_ENTRIES);
    char last[32];
    snprintf(last, sizeof(last), "org_%d", PX_SCHEMA_CACHE_ENTRIES * 2 - 1);
    assert_true(has(last, "conn", 1));
    json_object_put(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_needs_org_conn_and_version),
        cmocka_unit_test(test_each_org_has_its_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
