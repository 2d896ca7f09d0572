/* Unit tests for src/planner/tokens.c: words, numbers (digits, separators, words, money),
 * quoted text in three quote styles, dates, punctuation, spans, and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "planner/tokens.h"

#include <string.h>

static struct px_token toks[PX_TOKENS_MAX];

static int tokenize(const char *s)
{
    size_t bad = 0;
    return px_tokenize(s, toks, PX_TOKENS_MAX, &bad);
}

static void test_sentence(void **state)
{
    (void)state;
    const char *s = "Extract orders from PostgreSQL, keep the last seven days and amounts over "
                    "$1,000.50; dedupe by order_id.";
    int n = tokenize(s);
    assert_int_equal(n, 19);
    assert_int_equal(toks[0].kind, PX_TOK_WORD);
    assert_string_equal(toks[0].text, "extract");
    assert_string_equal(toks[3].text, "postgresql");
    assert_int_equal(toks[4].kind, PX_TOK_PUNCT);
    assert_string_equal(toks[4].text, ",");
    assert_int_equal(toks[8].kind, PX_TOK_NUMBER);
    assert_true(toks[8].number == 7 && !toks[8].money);
    assert_int_equal(toks[13].kind, PX_TOK_NUMBER);
    assert_true(toks[13].number == 1000.5 && toks[13].money);
    assert_string_equal(toks[13].text, "$1,000.50");
    assert_string_equal(toks[14].text, ";");
    assert_string_equal(toks[17].text, "order_id");
    assert_string_equal(toks[18].text, ".");
    /* Spans point into the original text. */
    assert_int_equal(strncmp(s + toks[3].start, "PostgreSQL", toks[3].end - toks[3].start), 0);
}

static void test_numbers_quotes_dates(void **state)
{
    (void)state;
    int n = tokenize("twenty five, twenty, 100 dollars, 50 usd, 3.5, 2.");
    assert_int_equal(n, 14);
    assert_true(toks[0].number == 25);
    assert_true(toks[2].number == 20);
    assert_true(toks[4].number == 100 && toks[4].money);
    assert_true(toks[7].number == 50 && toks[7].money);
    assert_true(toks[10].number == 3.5);
    /* "2." ends the sentence: the dot is punctuation, not part of the number. */
    assert_int_equal(toks[12].kind, PX_TOK_NUMBER);
    assert_true(toks[12].number == 2);
    assert_string_equal(toks[13].text, ".");

    n = tokenize("status is 'Shipped', name \"A B\" or \xe2\x80\x9c"
                 "curly\xe2\x80\x9d since 2026-01-31 "
                 "with the customer's email");
    assert_int_equal(toks[2].kind, PX_TOK_QUOTED);
    assert_string_equal(toks[2].text, "Shipped"); /* as written */
    assert_string_equal(toks[5].text, "A B");
    assert_string_equal(toks[7].text, "curly");
    assert_int_equal(toks[9].kind, PX_TOK_DATE);
    assert_string_equal(toks[9].text, "2026-01-31");
    assert_string_equal(toks[12].text, "customer's");
    assert_int_equal(n, 14);
}

static void test_refusals(void **state)
{
    (void)state;
    size_t bad = 0;
    assert_int_equal(px_tokenize("status is 'open", toks, PX_TOKENS_MAX, &bad), -1);
    assert_int_equal(bad, 10);
    struct px_token few[3];
    assert_int_equal(px_tokenize("a b c d", few, 3, &bad), -1);
    assert_int_equal(bad, 6);
    assert_int_equal(tokenize(""), 0);
    assert_int_equal(tokenize("   "), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sentence),
        cmocka_unit_test(test_numbers_quotes_dates),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
