/* Headers that must compile together: a file may include any mix of the public headers. The
 * store's statement parameters (store.h, PX_SV_*) and the expression language's values
 * (engine/expr/expr.h, PX_VAL_*) once shared enumerator names, so one file could not hold both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/expr/expr.h"
#include "store/store.h"

static void store_params_and_expr_values_coexist(void **state)
{
    (void)state;
    struct px_val p[] = {PX_V_NULL, PX_V_INT(7), PX_V_TEXT("x")};
    assert_int_equal(p[0].type, PX_SV_NULL);
    assert_int_equal(p[1].type, PX_SV_INT);
    assert_int_equal(p[2].type, PX_SV_TEXT);
    struct px_value v = {.type = PX_VAL_STRING};
    assert_int_equal(v.type, PX_VAL_STRING);
    assert_int_equal(PX_VAL_NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_params_and_expr_values_coexist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
