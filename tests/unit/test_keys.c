/* Unit tests for src/auth/keys.c: token format, checksum, HMAC digests and comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/keys.h"
#include "base/err.h"

#include <string.h>

static void test_generate_is_well_formed(void **state)
{
    (void)state;
    char a[PX_KEY_TOKEN_LEN + 1], b[PX_KEY_TOKEN_LEN + 1];
    struct px_error err;
    px_key_generate(a);
    px_key_generate(b);
    assert_int_equal(strlen(a), PX_KEY_TOKEN_LEN);
    assert_memory_equal(a, "flx_", 4);
    assert_string_not_equal(a, b);
    px_error_clear(&err);
    assert_int_equal(px_key_check_format(a, &err), 0);
    assert_int_equal(err.code, 0);
}

/* A known value pins the checksum encoding: zlib.crc32(b"flx_" + b"A" * 32) = 0xe7b6e4ad,
 * written as 6 base62 digits, most significant first. */
static void test_checksum_known_value(void **state)
{
    (void)state;
    char tok[PX_KEY_TOKEN_LEN + 1] = "flx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    uint32_t v = 0xe7b6e4adu;
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int i = 5; i >= 0; i--) {
        tok[36 + i] = b62[v % 62];
        v /= 62;
    }
    tok[PX_KEY_TOKEN_LEN] = '\0';
    assert_int_equal(px_key_check_format(tok, NULL), 0);
}

static void test_flipped_char_fails_checksum(void **state)
{
    (void)state;
    char tok[PX_KEY_TOKEN_LEN + 1];
    struct px_error err;
    px_key_generate(tok);
    tok[10] = tok[10] == 'a' ? 'b' : 'a';
    px_error_clear(&err);
    assert_int_equal(px_key_check_format(tok, &err), -PX_EUNAUTHORIZED);
    assert_int_equal(err.code, PX_EUNAUTHORIZED);
    assert_non_null(strstr(err.message, "Unauthorized"));
    assert_non_null(strstr(err.message, "checksum"));
    assert_null(strstr(err.message, tok + 4)); /* never echoes the token */
    assert_null(strstr(err.hint, tok + 4));
    assert_true(err.hint[0] != '\0');

    /* A flipped checksum character fails too. */
    px_key_generate(tok);
    tok[PX_KEY_TOKEN_LEN - 1] = tok[PX_KEY_TOKEN_LEN - 1] == '0' ? '1' : '0';
    assert_int_equal(px_key_check_format(tok, NULL), -PX_EUNAUTHORIZED);
}

static void test_wrong_prefix(void **state)
{
    (void)state;
    char tok[PX_KEY_TOKEN_LEN + 1];
    struct px_error err;
    px_key_generate(tok);
    tok[0] = 'g';
    assert_int_equal(px_key_check_format(tok, &err), -PX_EUNAUTHORIZED);
    assert_null(strstr(err.message, tok + 4));
    assert_int_equal(px_key_check_format("", &err), -PX_EUNAUTHORIZED);
    assert_int_equal(px_key_check_format(NULL, &err), -PX_EUNAUTHORIZED);
}

static void test_truncated_and_too_long(void **state)
{
    (void)state;
    char tok[PX_KEY_TOKEN_LEN + 2];
    struct px_error err;
    px_key_generate(tok);
    tok[PX_KEY_TOKEN_LEN - 1] = '\0';
    assert_int_equal(px_key_check_format(tok, &err), -PX_EUNAUTHORIZED);
    assert_non_null(strstr(err.message, "short"));
    px_key_generate(tok);
    tok[PX_KEY_TOKEN_LEN] = 'x';
    tok[PX_KEY_TOKEN_LEN + 1] = '\0';
    assert_int_equal(px_key_check_format(tok, &err), -PX_EUNAUTHORIZED);
    assert_non_null(strstr(err.message, "long"));
}

static void test_bad_alphabet(void **state)
{
    (void)state;
    char tok[PX_KEY_TOKEN_LEN + 1];
    px_key_generate(tok);
    tok[20] = '-';
    assert_int_equal(px_key_check_format(tok, NULL), -PX_EUNAUTHORIZED);
}

static void test_hmac(void **state)
{
    (void)state;
    uint8_t p1[32], p2[32];
    memset(p1, 1, sizeof(p1));
    memset(p2, 2, sizeof(p2));
    char tok[PX_KEY_TOKEN_LEN + 1];
    char a[PX_KEY_HMAC_HEX], b[PX_KEY_HMAC_HEX], c[PX_KEY_HMAC_HEX];
    px_key_generate(tok);
    px_key_hmac(p1, tok, a);
    px_key_hmac(p1, tok, b);
    px_key_hmac(p2, tok, c);
    assert_int_equal(strlen(a), 64);
    for (const char *s = a; *s; s++)
        assert_non_null(strchr("0123456789abcdef", *s));
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_true(px_key_hmac_equal(a, b));
    assert_false(px_key_hmac_equal(a, c));
}

/* A fixed pepper and token against a value from Python's hmac module, so the stored digest
 * format cannot drift unnoticed. */
static void test_hmac_known_value(void **state)
{
    (void)state;
    uint8_t pepper[32];
    for (int i = 0; i < 32; i++)
        pepper[i] = (uint8_t)i;
    char out[PX_KEY_HMAC_HEX];
    px_key_hmac(pepper, "flx_test", out);
    assert_string_equal(out, "7432beb59df5c3955c306d4e3c4ee1a27738516f401260fc069991aab97a8992");
}

static void test_hmac_equal(void **state)
{
    (void)state;
    assert_true(px_key_hmac_equal("abcd", "abcd"));
    assert_false(px_key_hmac_equal("abcd", "abce"));
    assert_false(px_key_hmac_equal("abcd", "abc"));
    assert_false(px_key_hmac_equal("abc", "abcd"));
    assert_true(px_key_hmac_equal("", ""));
    assert_false(px_key_hmac_equal(NULL, "abcd"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_is_well_formed),
        cmocka_unit_test(test_checksum_known_value),
        cmocka_unit_test(test_flipped_char_fails_checksum),
        cmocka_unit_test(test_wrong_prefix),
        cmocka_unit_test(test_truncated_and_too_long),
        cmocka_unit_test(test_bad_alphabet),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_hmac_known_value),
        cmocka_unit_test(test_hmac_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
