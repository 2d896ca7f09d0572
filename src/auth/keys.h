/*
 * API key tokens (DESIGN §3.2): "flx_" + 32 base62 characters of CSPRNG secret (190 bits) +
 * 6 base62 characters of CRC32 over everything before it (GitHub-style checksum, so typos and
 * truncation are caught before any lookup). The CRC is zlib's CRC-32 written as a zero-padded
 * big-endian base62 number over the alphabet 0-9A-Za-z. Only HMAC-SHA-256(pepper, token) is
 * ever stored.
 */
#ifndef PX_AUTH_KEYS_H
#define PX_AUTH_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct px_error;

#define PX_KEY_PREFIX "flx_"
#define PX_KEY_SECRET_LEN 32
#define PX_KEY_CHECK_LEN 6
#define PX_KEY_TOKEN_LEN (4 + PX_KEY_SECRET_LEN + PX_KEY_CHECK_LEN)
#define PX_KEY_HMAC_HEX 65 /* 64 hex digits + NUL */

/* Writes a new token into out (PX_KEY_TOKEN_LEN + 1 bytes). */
void px_key_generate(char out[PX_KEY_TOKEN_LEN + 1]);
/* Checks prefix, length, alphabet and checksum. Returns 0 or -PX_EUNAUTHORIZED with a message
 * that never echoes the token. */
int px_key_check_format(const char *token, struct px_error *err);
/* HMAC-SHA-256 of the token under the pepper, as lowercase hex. */
void px_key_hmac(const uint8_t pepper[32], const char *token, char out[PX_KEY_HMAC_HEX]);
/* Constant-time equality of two hex digests of equal length; false if lengths differ. */
bool px_key_hmac_equal(const char *a, const char *b);

#endif
