/* Unit tests for src/planner/resolve.c: normalization (case, spaces, camelCase, plurals),
 * the strength order exact > normalized > abbreviation > near spelling, ambiguity, and the
 * closest names offered when nothing matches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "planner/resolve.h"

#include <string.h>

static void assert_norm(const char *in, const char *want)
{
    char out[PX_RESOLVE_NAME_MAX];
    px_resolve_norm(in, out, sizeof(out));
    if (strcmp(out, want) != 0)
        fail_msg("norm(%s) = %s, want %s", in, out, want);
}

static void test_norm(void **state)
{
    (void)state;
    assert_norm("order date", "order_date");
    assert_norm("Order_Dates", "order_date");
    assert_norm("OrderDate", "order_date");
    assert_norm("  the  Customers ", "the_customer");
    assert_norm("categories", "category");
    assert_norm("addresses", "address");
    assert_norm("status", "status");
    assert_norm("bus", "bus");
    assert_norm("analysis", "analysis");
    assert_norm("boxes", "box");
    assert_norm("user-id", "user_id");
    assert_norm("", "");
    char tiny[4];
    px_resolve_norm("order_date", tiny, sizeof(tiny));
    assert_string_equal(tiny, "ord"); /* cut to the buffer, terminated */
}

static const char *const columns[] = {"order_id",   "customer_id", "status",   "amount",
                                      "order_date", "updated_at",  "quantity", "ship_date",
                                      "created_at", "email"};
#define NCOL (sizeof(columns) / sizeof(columns[0]))

static struct px_resolution resolve(const char *mention)
{
    struct px_resolution r;
    px_resolve(mention, columns, NCOL, &r);
    return r;
}

static void assert_resolves(const char *mention, const char *want, enum px_match m)
{
    struct px_resolution r = resolve(mention);
    if (r.count != 1 || strcmp(columns[r.index[0]], want) != 0 || r.match != m)
        fail_msg("%s: count %zu match %d first %s, want %s (%d)", mention, r.count, (int)r.match,
                 r.nindex ? columns[r.index[0]] : "-", want, (int)m);
}

static void test_strengths(void **state)
{
    (void)state;
    assert_resolves("order_date", "order_date", PX_MATCH_EXACT);
    assert_resolves("order date", "order_date", PX_MATCH_NORMALIZED);
    assert_resolves("Order Dates", "order_date", PX_MATCH_NORMALIZED);
    assert_resolves("OrderID", "order_id", PX_MATCH_NORMALIZED);
    assert_resolves("qty", "quantity", PX_MATCH_SYNONYM);
    assert_resolves("cust id", "customer_id", PX_MATCH_SYNONYM);
    assert_resolves("amout", "amount", PX_MATCH_NEAR);
    assert_resolves("emial", "email", PX_MATCH_NEAR); /* a transposition is one edit */
}

static void test_ambiguous_and_none(void **state)
{
    (void)state;
    /* No column is near "region": nothing resolves. */
    struct px_resolution r = resolve("region");
    assert_int_equal(r.match, PX_MATCH_NONE);
    assert_int_equal(r.count, 0);
    /* Two columns one edit away: a question, not a guess. */
    static const char *const two[] = {"state", "stats", "status"};
    px_resolve("statu", two, 3, &r);
    assert_int_equal(r.match, PX_MATCH_NEAR);
    assert_true(r.count >= 2);
    /* A stronger match wins over weaker ones: "status" exact beats "stats" near. */
    px_resolve("status", two, 3, &r);
    assert_int_equal(r.match, PX_MATCH_EXACT);
    assert_int_equal(r.count, 1);
    assert_string_equal(two[r.index[0]], "status");
    /* Nothing near: the closest names are offered, closest first. */
    static const char *const tables[] = {"customers", "orders", "order_items", "products"};
    px_resolve("order lines", tables, 4, &r);
    assert_int_equal(r.match, PX_MATCH_NONE);
    assert_true(r.nindex >= 1);
    assert_string_equal(tables[r.index[0]], "order_items");
    /* An empty mention resolves to nothing and offers nothing. */
    px_resolve("  ", tables, 4, &r);
    assert_int_equal(r.match, PX_MATCH_NONE);
    assert_int_equal(r.nindex, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norm),
        cmocka_unit_test(test_strengths),
        cmocka_unit_test(test_ambiguous_and_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
