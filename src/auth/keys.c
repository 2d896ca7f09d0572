/*
 * API key tokens: generation, offline format check (prefix, length, alphabet, CRC32
 * checksum) and the HMAC-SHA-256 digest that is the only form ever stored. See keys.h.
 * Not here: key lookup, scopes and expiry (those live with the store).
 */
#include "auth/keys.h"

#include "base/err.h"
#include "base/id.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#define PREFIX_LEN (sizeof(PX_KEY_PREFIX) - 1)

/* CRC-32 as in zlib/PNG (reflected polynomial 0xEDB88320); the table is built once. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_table_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc32_calc(const char *s, size_t n)
{
    pthread_once(&crc_once, crc_table_init);
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ (uint8_t)s[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* Writes v as PX_KEY_CHECK_LEN base62 digits, most significant first, zero-padded
 * (62^6 > 2^32, so every CRC fits). */
static void checksum_encode(uint32_t v, char out[PX_KEY_CHECK_LEN])
{
    for (int i = PX_KEY_CHECK_LEN - 1; i >= 0; i--) {
        out[i] = base62[v % 62];
        v /= 62;
    }
}

static bool is_base62(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

void px_key_generate(char out[PX_KEY_TOKEN_LEN + 1])
{
    if (sodium_init() < 0)
        abort();
    memcpy(out, PX_KEY_PREFIX, PREFIX_LEN);
    px_random_base62(out + PREFIX_LEN, PX_KEY_SECRET_LEN);
    checksum_encode(crc32_calc(out, PREFIX_LEN + PX_KEY_SECRET_LEN),
                    out + PREFIX_LEN + PX_KEY_SECRET_LEN);
    out[PX_KEY_TOKEN_LEN] = '\0';
}

static int malformed(struct px_error *err, const char *why)
{
    int rc =
        px_error_set(err, PX_EUNAUTHORIZED, "Unauthorized: the API key is malformed (%s)", why);
    px_error_hint(err,
                  "Copy the whole key as it was shown when it was created (it starts with "
                  "\"" PX_KEY_PREFIX "\" and is %d characters long), or create a new key.",
                  PX_KEY_TOKEN_LEN);
    return rc;
}

int px_key_check_format(const char *token, struct px_error *err)
{
    if (!token || strncmp(token, PX_KEY_PREFIX, PREFIX_LEN) != 0)
        return malformed(err, "it does not start with \"" PX_KEY_PREFIX "\"");
    size_t len = strnlen(token, PX_KEY_TOKEN_LEN + 1);
    if (len != PX_KEY_TOKEN_LEN)
        return malformed(err, len < PX_KEY_TOKEN_LEN ? "it is too short" : "it is too long");
    for (size_t i = PREFIX_LEN; i < PX_KEY_TOKEN_LEN; i++)
        if (!is_base62(token[i]))
            return malformed(err, "it contains characters a key never has");
    char check[PX_KEY_CHECK_LEN];
    checksum_encode(crc32_calc(token, PREFIX_LEN + PX_KEY_SECRET_LEN), check);
    if (memcmp(check, token + PREFIX_LEN + PX_KEY_SECRET_LEN, PX_KEY_CHECK_LEN) != 0)
        return malformed(err, "its checksum does not match; it may be mistyped or truncated");
    return 0;
}

void px_key_hmac(const uint8_t pepper[32], const char *token, char out[PX_KEY_HMAC_HEX])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    if (sodium_init() < 0)
        abort();
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, pepper, 32);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, strlen(token));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, PX_KEY_HMAC_HEX, mac, sizeof(mac));
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(mac, sizeof(mac));
}

bool px_key_hmac_equal(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return false;
    return sodium_memcmp(a, b, la) == 0;
}
