/*
 * Fuzz target: cron expressions (src/sched/cron.c). The input, NUL-terminated, goes to
 * px_cron_parse. Invariants checked besides memory safety: a parsed expression only sets bits
 * inside each field's range and sets at least one per field; a refused one leaves *out all
 * zero and carries a message and a hint (cron.h).
 */
#include "fuzz.h"

#include "base/err.h"
#include "sched/cron.h"

#include <string.h>

/* Field by field (memcmp would also compare padding). */
static bool same(const struct px_cron *a, const struct px_cron *b)
{
    return a->minutes == b->minutes && a->hours == b->hours && a->mdays == b->mdays &&
           a->months == b->months && a->wdays == b->wdays && a->mday_star == b->mday_star &&
           a->wday_star == b->wday_star && a->minute_fixed == b->minute_fixed &&
           a->hour_fixed == b->hour_fixed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0; /* expressions are short; longer inputs only slow the search down */
    char *expr = malloc(size + 1);
    if (!expr)
        abort();
    memcpy(expr, data, size);
    expr[size] = '\0';

    struct px_cron c = {.minutes = ~0ull, .hours = ~0u, .mday_star = true};
    struct px_error err;
    px_error_clear(&err);
    int rc = px_cron_parse(expr, &c, &err);
    if (rc == 0) {
        FUZZ_CHECK(c.minutes != 0 && c.minutes >> 60 == 0);
        FUZZ_CHECK(c.hours != 0 && c.hours >> 24 == 0);
        FUZZ_CHECK(c.mdays != 0 && (c.mdays & 1) == 0);
        FUZZ_CHECK(c.months != 0 && (c.months & 1) == 0 && c.months >> 13 == 0);
        FUZZ_CHECK(c.wdays != 0 && c.wdays >> 7 == 0);
        FUZZ_CHECK(err.code == 0);
    } else {
        static const struct px_cron zero;
        FUZZ_CHECK(rc == -PX_EINVALID && err.code == PX_EINVALID);
        FUZZ_CHECK(same(&c, &zero));
        FUZZ_CHECK(err.message[0] != '\0' && err.hint[0] != '\0');
        FUZZ_CHECK(memchr(err.message, '\0', sizeof(err.message)) != NULL);
    }
    /* NULL err must be accepted too. */
    struct px_cron c2;
    FUZZ_CHECK(px_cron_parse(expr, &c2, NULL) == rc);
    FUZZ_CHECK(same(&c, &c2));
    free(expr);
    return 0;
}
