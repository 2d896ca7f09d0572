/*
 * The server's master key file and what is derived from it: the API-key pepper and the key
 * that seals connection secrets (XChaCha20-Poly1305, bound to the row they belong to). See
 * keyring.h. Not here: key rotation (a later pepper_id/key version) or any database access.
 */
#include "auth/keyring.h"

#include "base/err.h"
#include "base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MASTER_FILE "master.key"
#define MASTER_LEN 32
#define KDF_CONTEXT "plnsonix" /* crypto_kdf_CONTEXTBYTES (8) characters */
#define KDF_ID_PEPPER 1
#define KDF_ID_SECRET 2
#define B64_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

/* Creates dir and its missing parents with mode 0700 (existing ones are left as they are). */
static int mkdir_parents(const char *dir, struct px_error *err)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(path))
        return px_error_set(err, PX_EINVALID, "the key directory path is empty or too long");
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) != 0) {
            int e = errno;
            struct stat st;
            if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
                int rc = px_error_set(err, PX_EIO, "cannot create the key directory %s: %s", dir,
                                      strerror(e));
                px_error_hint(err, "Check that the server may write there, or point "
                                   "PLANASONIX_HOME at a directory it owns.");
                return rc;
            }
        }
        path[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return px_error_set(err, PX_EIO, "the key directory %s is not a directory", dir);
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads exactly n bytes; returns the number read (less than n at end of file) or -1. */
static ssize_t read_all(int fd, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Makes the directory entry of a new file durable. Best effort: some filesystems refuse. */
static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/*
 * Creates path with fresh random bytes. The bytes go to a private temporary file (O_CREAT |
 * O_EXCL, 0600) that is written in full and fsynced, then link()ed to path; link never
 * replaces an existing file, so of two processes starting at once exactly one wins and the
 * other, like any reader, only ever sees a complete key. Returns 0, 1 when another process
 * created path first (the caller re-reads it), or a negative code.
 */
static int create_master(const char *dir, const char *path, struct px_error *err)
{
    char tmp[PATH_MAX];
    char suffix[17];
    uint8_t key[MASTER_LEN];
    uint8_t rnd[8];
    int rc = 0;

    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(suffix, sizeof(suffix), rnd, sizeof(rnd));
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%s", path, suffix) >= (int)sizeof(tmp))
        return px_error_set(err, PX_EINVALID, "the key directory path is too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = px_error_set(err, PX_EIO, "cannot create the master key file in %s: %s", dir,
                          strerror(errno));
        px_error_hint(err, "Check that the server may write to %s.", dir);
        return rc;
    }
    randombytes_buf(key, sizeof(key));
    if (write_all(fd, key, sizeof(key)) != 0 || fsync(fd) != 0) {
        rc = px_error_set(err, PX_EIO, "cannot write the master key file %s: %s", tmp,
                          strerror(errno));
        close(fd);
        goto out;
    }
    if (close(fd) != 0) {
        rc = px_error_set(err, PX_EIO, "cannot write the master key file %s: %s", tmp,
                          strerror(errno));
        goto out;
    }
    if (link(tmp, path) != 0) {
        if (errno == EEXIST)
            rc = 1;
        else
            rc = px_error_set(err, PX_EIO, "cannot create the master key file %s: %s", path,
                              strerror(errno));
        goto out;
    }
    fsync_dir(dir);
out:
    unlink(tmp);
    sodium_memzero(key, sizeof(key));
    return rc;
}

/* Reads the master key from path. Returns 0, 1 when the file does not exist, or a negative
 * code for a file that exists but must not be used. */
static int read_master(const char *path, uint8_t key[MASTER_LEN], struct px_error *err)
{
    int rc;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        rc = px_error_set(err, PX_EIO, "cannot open the master key file %s: %s", path,
                          strerror(errno));
        px_error_hint(err, "The file must be a regular file owned by the user running the "
                           "server (symbolic links are refused).");
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = px_error_set(err, PX_EIO, "cannot stat the master key file %s: %s", path,
                          strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = px_error_set(err, PX_EIO, "the master key file %s is not a regular file", path);
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        rc = px_error_set(err, PX_EIO,
                          "refusing to use the master key file %s: its mode %04o lets group or "
                          "others read it",
                          path, (unsigned)(st.st_mode & 07777));
        px_error_hint(err, "Run `chmod 600 %s` and consider whether the key leaked.", path);
        goto out;
    }
    if (st.st_size != MASTER_LEN) {
        rc = px_error_set(err, PX_EIO,
                          "the master key file %s is %lld bytes long; it must be exactly %d", path,
                          (long long)st.st_size, MASTER_LEN);
        px_error_hint(err, "Restore master.key from a backup. Do not replace it with a new one "
                           "while the database holds secrets sealed with the old key.");
        goto out;
    }
    if (read_all(fd, key, MASTER_LEN) != MASTER_LEN) {
        rc = px_error_set(err, PX_EIO, "cannot read the master key file %s", path);
        goto out;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

int px_keyring_load(const char *dir, struct px_keyring *out, struct px_error *err)
{
    char path[PATH_MAX];
    uint8_t master[MASTER_LEN];
    int rc;

    if (sodium_init() < 0)
        return px_error_set(err, PX_ECRYPTO, "libsodium could not be initialised");
    if (!dir)
        return px_error_set(err, PX_EINVALID, "no key directory was given");
    if ((rc = mkdir_parents(dir, err)) != 0)
        return rc;
    if (snprintf(path, sizeof(path), "%s/%s", dir, MASTER_FILE) >= (int)sizeof(path))
        return px_error_set(err, PX_EINVALID, "the key directory path is too long");

    /* Read; if missing, create; if another process won the creation race, read again. */
    for (int attempt = 0;; attempt++) {
        rc = read_master(path, master, err);
        if (rc <= 0)
            break;
        if (attempt == 2) {
            rc = px_error_set(err, PX_EIO, "the master key file %s keeps disappearing", path);
            break;
        }
        rc = create_master(dir, path, err);
        if (rc < 0)
            break;
    }
    if (rc == 0) {
        crypto_kdf_derive_from_key(out->pepper, sizeof(out->pepper), KDF_ID_PEPPER, KDF_CONTEXT,
                                   master);
        crypto_kdf_derive_from_key(out->secret_key, sizeof(out->secret_key), KDF_ID_SECRET,
                                   KDF_CONTEXT, master);
    }
    sodium_memzero(master, sizeof(master));
    return rc;
}

void px_keyring_wipe(struct px_keyring *kr)
{
    if (kr)
        sodium_memzero(kr, sizeof(*kr));
}

char *px_secret_seal(const struct px_keyring *kr, const char *ad, const char *plaintext)
{
    if (sodium_init() < 0)
        abort();
    if (!ad)
        ad = "";
    size_t mlen = strlen(plaintext);
    size_t blen = NONCE_LEN + mlen + TAG_LEN;
    uint8_t *buf = px_xmalloc(blen);
    unsigned long long clen = 0;

    randombytes_buf(buf, NONCE_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        buf + NONCE_LEN, &clen, (const unsigned char *)plaintext, mlen, (const unsigned char *)ad,
        strlen(ad), NULL, buf, kr->secret_key);
    size_t olen = sodium_base64_ENCODED_LEN(NONCE_LEN + (size_t)clen, B64_VARIANT);
    char *out = px_xmalloc(olen);
    sodium_bin2base64(out, olen, buf, NONCE_LEN + (size_t)clen, B64_VARIANT);
    free(buf);
    return out;
}

static int open_failed(struct px_error *err)
{
    int rc = px_error_set(err, PX_ECRYPTO,
                          "stored secret could not be decrypted (wrong master "
                          "key or the value was moved)");
    px_error_hint(err, "The server's master.key must be the one that sealed this secret; restore "
                       "it from a backup, or enter the connection's credentials again.");
    return rc;
}

int px_secret_open(const struct px_keyring *kr, const char *ad, const char *sealed,
                   char **plaintext_out, struct px_error *err)
{
    *plaintext_out = NULL;
    if (sodium_init() < 0)
        return px_error_set(err, PX_ECRYPTO, "libsodium could not be initialised");
    if (!sealed)
        return open_failed(err);
    if (!ad)
        ad = "";
    size_t slen = strlen(sealed);
    size_t cap = slen / 4 * 3 + 3;
    uint8_t *bin = px_xmalloc(cap);
    size_t blen = 0;
    int rc;

    if (sodium_base642bin(bin, cap, sealed, slen, NULL, &blen, NULL, B64_VARIANT) != 0 ||
        blen < NONCE_LEN + TAG_LEN) {
        rc = open_failed(err);
        goto out;
    }
    size_t mcap = blen - NONCE_LEN - TAG_LEN;
    char *pt = px_xmalloc(mcap + 1);
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            (unsigned char *)pt, &mlen, NULL, bin + NONCE_LEN, blen - NONCE_LEN,
            (const unsigned char *)ad, strlen(ad), bin, kr->secret_key) != 0) {
        sodium_memzero(pt, mcap + 1);
        free(pt);
        rc = open_failed(err);
        goto out;
    }
    pt[mlen] = '\0';
    *plaintext_out = pt;
    rc = 0;
out:
    free(bin);
    return rc;
}

void px_secret_free(char *plaintext)
{
    if (!plaintext)
        return;
    sodium_memzero(plaintext, strlen(plaintext));
    free(plaintext);
}
