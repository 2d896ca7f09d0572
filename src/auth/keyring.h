/*
 * The server's own secrets, kept in PLANASONIX_HOME/master.key (32 random bytes, mode 0600,
 * created on first use; refused if group/other can read it). Two subkeys are derived from
 * it with crypto_kdf: the API-key pepper and the connection-secret encryption key. The
 * database never holds either, so a stolen database alone reveals no key or password.
 */
#ifndef PX_AUTH_KEYRING_H
#define PX_AUTH_KEYRING_H

#include <stddef.h>
#include <stdint.h>

struct px_error;

struct px_keyring {
    uint8_t pepper[32];     /* HMAC key for API key digests */
    uint8_t secret_key[32]; /* XChaCha20-Poly1305 key for connection secrets */
};

/* Loads (or creates) the master key file in dir (created 0700 if missing) and derives the
 * subkeys. Returns 0 or a negative code with err explaining (path, permission problem). */
int px_keyring_load(const char *dir, struct px_keyring *out, struct px_error *err);
/* Wipes the keyring memory. */
void px_keyring_wipe(struct px_keyring *kr);

/* Encrypts plaintext with XChaCha20-Poly1305, binding it to ad (e.g. "org_x/conn_y") so a
 * ciphertext moved to another row fails to decrypt (NULL ad counts as ""). Returns an owned
 * URL-safe unpadded base64 string of nonce (24 bytes, random) || ciphertext || tag; free with
 * free(). */
char *px_secret_seal(const struct px_keyring *kr, const char *ad, const char *plaintext);
/* Decrypts what px_secret_seal made with the same ad. Returns 0 and an owned plaintext
 * (wipe and free it with px_secret_free), or -PX_ECRYPTO. */
int px_secret_open(const struct px_keyring *kr, const char *ad, const char *sealed,
                   char **plaintext_out, struct px_error *err);
/* Zeroes and frees a plaintext returned by px_secret_open. */
void px_secret_free(char *plaintext);

#endif
