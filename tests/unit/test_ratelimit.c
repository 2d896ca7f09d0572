/* Unit tests for src/auth/ratelimit.c: GCRA decisions at explicit times, independent keys,
 * "unlimited", the key-table cap and concurrent callers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/ratelimit.h"

#include <pthread.h>
#include <stdio.h>

#define T0 INT64_C(1700000000000) /* an arbitrary epoch time in ms */

static void test_burst_then_one_per_interval(void **state)
{
    (void)state;
    struct px_ratelimit *rl = px_ratelimit_create();
    struct px_rate_decision d;
    for (int i = 0; i < 60; i++) {
        d = px_ratelimit_take(rl, "org_a", 60, T0);
        assert_true(d.allowed);
        assert_int_equal(d.limit, 60);
        assert_int_equal(d.remaining, 59 - i);
        assert_int_equal(d.retry_after_ms, 0);
        assert_int_equal(d.reset_ms, (i + 1) * 1000);
    }
    d = px_ratelimit_take(rl, "org_a", 60, T0);
    assert_false(d.allowed);
    assert_int_equal(d.remaining, 0);
    assert_int_equal(d.retry_after_ms, 1000);
    assert_int_equal(d.reset_ms, 60000);

    /* Still refused just before the interval; the refusal took nothing. */
    d = px_ratelimit_take(rl, "org_a", 60, T0 + 999);
    assert_false(d.allowed);
    assert_int_equal(d.retry_after_ms, 1);
    d = px_ratelimit_take(rl, "org_a", 60, T0 + 1000);
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 0);
    d = px_ratelimit_take(rl, "org_a", 60, T0 + 1000);
    assert_false(d.allowed);
    assert_int_equal(d.retry_after_ms, 1000);

    /* After a quiet minute the whole burst is back. */
    d = px_ratelimit_take(rl, "org_a", 60, T0 + 61000);
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 59);
    px_ratelimit_destroy(rl);
}

/* Requests at twice the allowed rate for 120 s: burst + rate × elapsed get through. */
static void test_sustained_overload(void **state)
{
    (void)state;
    static const int64_t limits[] = {60, 120, 300, 7};
    for (size_t k = 0; k < sizeof(limits) / sizeof(limits[0]); k++) {
        struct px_ratelimit *rl = px_ratelimit_create();
        int64_t limit = limits[k];
        int64_t step = 60000 / limit / 2;
        int64_t elapsed = 120000;
        int64_t allowed = 0;
        for (int64_t t = 0; t <= elapsed; t += step)
            allowed += px_ratelimit_take(rl, "org_a", limit, T0 + t).allowed;
        int64_t expect = limit + limit * elapsed / 60000;
        assert_in_range(allowed, expect - 1, expect + 1);
        px_ratelimit_destroy(rl);
    }
}

static void test_keys_independent(void **state)
{
    (void)state;
    struct px_ratelimit *rl = px_ratelimit_create();
    for (int i = 0; i < 60; i++)
        assert_true(px_ratelimit_take(rl, "org_a", 60, T0).allowed);
    assert_false(px_ratelimit_take(rl, "org_a", 60, T0).allowed);
    struct px_rate_decision d = px_ratelimit_take(rl, "org_b", 120, T0);
    assert_true(d.allowed);
    assert_int_equal(d.limit, 120);
    assert_int_equal(d.remaining, 119);
    assert_int_equal(d.reset_ms, 500);
    assert_false(px_ratelimit_take(rl, "org_a", 60, T0).allowed);
    px_ratelimit_destroy(rl);
}

static void test_unlimited(void **state)
{
    (void)state;
    struct px_ratelimit *rl = px_ratelimit_create();
    for (int i = 0; i < 10000; i++) {
        struct px_rate_decision d = px_ratelimit_take(rl, "org_a", 0, T0);
        assert_true(d.allowed);
        assert_int_equal(d.limit, 0);
        assert_int_equal(d.retry_after_ms, 0);
    }
    assert_true(px_ratelimit_take(rl, "org_a", -5, T0).allowed);
    px_ratelimit_destroy(rl);
}

/* Filling the table past its cap keeps the keys that still matter. */
static void test_table_cap(void **state)
{
    (void)state;
    struct px_ratelimit *rl = px_ratelimit_create();
    char key[32];
    for (int i = 0; i < 60; i++)
        assert_true(px_ratelimit_take(rl, "hot", 60, T0).allowed);
    /* 150k one-off keys at t0: their tat is t0 + 1 s, hot's is t0 + 60 s. */
    for (int i = 0; i < 150000; i++) {
        snprintf(key, sizeof(key), "org_%d", i);
        assert_true(px_ratelimit_take(rl, key, 60, T0).allowed);
    }
    /* A new key at t0 + 2 s sweeps the expired ones; hot keeps its state (2 s earned back). */
    assert_true(px_ratelimit_take(rl, "new", 60, T0 + 2000).allowed);
    struct px_rate_decision d = px_ratelimit_take(rl, "hot", 60, T0 + 2000);
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 1);
    px_ratelimit_destroy(rl);
}

struct worker {
    struct px_ratelimit *rl;
    int allowed;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 1000; i++)
        w->allowed += px_ratelimit_take(w->rl, "org_a", 300, T0).allowed;
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct px_ratelimit *rl = px_ratelimit_create();
    struct worker w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){rl, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += w[i].allowed;
    }
    assert_int_equal(total, 300);
    px_ratelimit_destroy(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_one_per_interval),
        cmocka_unit_test(test_sustained_overload),
        cmocka_unit_test(test_keys_independent),
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_table_cap),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
