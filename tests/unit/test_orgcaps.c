/* Unit tests for src/transport/orgcaps.c: per-organization caps on sessions, streams and
 * calls (one organization at its cap leaves the others untouched), no cap at 0, giving back,
 * the environment settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "transport/orgcaps.h"

#include <stdlib.h>
#include <string.h>

static void test_caps_per_org(void **state)
{
    (void)state;
    size_t limits[PX_ORGCAP_KINDS] = {3, 1, 0};
    struct px_orgcaps *c = px_orgcaps_create(limits);
    for (int i = 0; i < 3; i++)
        assert_true(px_orgcaps_take(c, "org_A", PX_ORGCAP_SESSIONS));
    assert_false(px_orgcaps_take(c, "org_A", PX_ORGCAP_SESSIONS));
    assert_int_equal(px_orgcaps_held(c, "org_A", PX_ORGCAP_SESSIONS), 3);
    /* Another organization is not affected, nor another kind. */
    assert_true(px_orgcaps_take(c, "org_B", PX_ORGCAP_SESSIONS));
    assert_true(px_orgcaps_take(c, "org_A", PX_ORGCAP_STREAMS));
    assert_false(px_orgcaps_take(c, "org_A", PX_ORGCAP_STREAMS));
    /* 0: no cap. */
    for (int i = 0; i < 1000; i++)
        assert_true(px_orgcaps_take(c, "org_A", PX_ORGCAP_CALLS));
    /* Giving back frees a slot. */
    px_orgcaps_give(c, "org_A", PX_ORGCAP_SESSIONS);
    assert_true(px_orgcaps_take(c, "org_A", PX_ORGCAP_SESSIONS));
    /* Giving back what was never taken changes nothing. */
    px_orgcaps_give(c, "org_C", PX_ORGCAP_SESSIONS);
    assert_int_equal(px_orgcaps_held(c, "org_C", PX_ORGCAP_SESSIONS), 0);
    px_orgcaps_give(c, "org_B", PX_ORGCAP_SESSIONS);
    px_orgcaps_give(c, "org_B", PX_ORGCAP_SESSIONS);
    assert_int_equal(px_orgcaps_held(c, "org_B", PX_ORGCAP_SESSIONS), 0);
    assert_int_equal(px_orgcaps_limit(c, PX_ORGCAP_SESSIONS), 3);
    px_orgcaps_destroy(c); /* frees the entries still held */
}

static void test_env(void **state)
{
    (void)state;
    size_t limits[PX_ORGCAP_KINDS];
    struct px_error err;
    px_error_clear(&err);
    unsetenv("PLANASONIX_ORG_MAX_SESSIONS");
    unsetenv("PLANASONIX_ORG_MAX_STREAMS");
    unsetenv("PLANASONIX_ORG_MAX_CALLS");
    assert_int_equal(px_orgcaps_from_env(limits, &err), 0);
    assert_int_equal(limits[PX_ORGCAP_SESSIONS], PX_ORGCAP_DEFAULT_SESSIONS);
    assert_int_equal(limits[PX_ORGCAP_CALLS], PX_ORGCAP_DEFAULT_CALLS);
    setenv("PLANASONIX_ORG_MAX_STREAMS", "0", 1);
    assert_int_equal(px_orgcaps_from_env(limits, &err), 0);
    assert_int_equal(limits[PX_ORGCAP_STREAMS], 0);
    for (const char *bad = "-1"; bad; bad = bad[0] == '-' ? "12x" : bad[0] == '1' ? "" : NULL) {
        if (!*bad)
            break;
        setenv("PLANASONIX_ORG_MAX_STREAMS", bad, 1);
        assert_int_equal(px_orgcaps_from_env(limits, &err), -PX_EINVALID);
        assert_non_null(strstr(err.message, "PLANASONIX_ORG_MAX_STREAMS"));
    }
    unsetenv("PLANASONIX_ORG_MAX_STREAMS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caps_per_org),
        cmocka_unit_test(test_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
