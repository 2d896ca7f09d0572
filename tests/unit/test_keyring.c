/* Unit tests for src/auth/keyring.c: the master key file (creation, mode, size checks) and
 * sealing connection secrets. Each test works in its own mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/keyring.h"
#include "base/err.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct fixture {
    char dir[64];      /* the mkdtemp directory */
    char home[96];     /* dir/home/keys: not yet existing, so load must create it */
    char keyfile[128]; /* home/master.key */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/px_keyring_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->home, sizeof(f->home), "%s/home/keys", f->dir);
    snprintf(f->keyfile, sizeof(f->keyfile), "%s/master.key", f->home);
    *state = f;
    return 0;
}

/* Removes path and everything below it. */
static int rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return -1;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return -1;
        for (struct dirent *de; (de = readdir(d));) {
            char sub[512];
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
            rm_tree(sub);
        }
        closedir(d);
    }
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = rm_tree(f->dir);
    free(f);
    return rc;
}

static void test_creates_private_file(void **state)
{
    struct fixture *f = *state;
    struct px_keyring kr, kr2;
    struct px_error err;
    px_error_clear(&err);
    assert_int_equal(px_keyring_load(f->home, &kr, &err), 0);

    struct stat st;
    assert_int_equal(stat(f->home, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(f->keyfile, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
    assert_memory_not_equal(kr.pepper, kr.secret_key, 32);

    /* A second load reads the same file and derives the same subkeys. */
    assert_int_equal(px_keyring_load(f->home, &kr2, &err), 0);
    assert_memory_equal(kr.pepper, kr2.pepper, 32);
    assert_memory_equal(kr.secret_key, kr2.secret_key, 32);

    px_keyring_wipe(&kr);
    uint8_t zero[sizeof(kr)] = {0};
    assert_memory_equal(&kr, zero, sizeof(kr));
    px_keyring_wipe(&kr2);
}

static void test_group_readable_refused(void **state)
{
    struct fixture *f = *state;
    struct px_keyring kr;
    struct px_error err;
    assert_int_equal(px_keyring_load(f->home, &kr, &err), 0);
    assert_int_equal(chmod(f->keyfile, 0644), 0);
    px_error_clear(&err);
    assert_true(px_keyring_load(f->home, &kr, &err) < 0);
    assert_non_null(strstr(err.hint, "chmod 600"));
    assert_non_null(strstr(err.message, f->keyfile));
    assert_int_equal(chmod(f->keyfile, 0600), 0);
    assert_int_equal(px_keyring_load(f->home, &kr, &err), 0);
    px_keyring_wipe(&kr);
}

static void test_wrong_size_refused(void **state)
{
    struct fixture *f = *state;
    struct px_keyring kr;
    struct px_error err;
    assert_int_equal(px_keyring_load(f->home, &kr, &err), 0);
    assert_int_equal(truncate(f->keyfile, 16), 0);
    px_error_clear(&err);
    assert_true(px_keyring_load(f->home, &kr, &err) < 0);
    assert_non_null(strstr(err.message, "16 bytes"));
    assert_int_equal(truncate(f->keyfile, 33), 0);
    assert_true(px_keyring_load(f->home, &kr, &err) < 0);
}

/* Several processes loading a missing key at once all end up with the same key. */
static void test_concurrent_create(void **state)
{
    struct fixture *f = *state;
    enum { N = 8 };
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    for (int i = 0; i < N; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct px_keyring kr;
            struct px_error err;
            if (px_keyring_load(f->home, &kr, &err) != 0)
                _exit(1);
            _exit(write(fds[1], kr.pepper, 32) == 32 ? 0 : 1);
        }
    }
    close(fds[1]);
    for (int i = 0; i < N; i++) {
        int status;
        assert_true(wait(&status) > 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    struct px_keyring kr;
    struct px_error err;
    assert_int_equal(px_keyring_load(f->home, &kr, &err), 0);
    for (int i = 0; i < N; i++) {
        uint8_t pepper[32];
        assert_int_equal(read(fds[0], pepper, 32), 32);
        assert_memory_equal(pepper, kr.pepper, 32);
    }
    close(fds[0]);
    px_keyring_wipe(&kr);

    /* The losers' temporary files are gone: master.key is the only entry. */
    DIR *d = opendir(f->home);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *de; (de = readdir(d));)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            entries++;
    closedir(d);
    assert_int_equal(entries, 1);
}

static void test_seal_open_roundtrip(void **state)
{
    struct fixture *f = *state;
    struct px_keyring kr;
    struct px_error err;
    assert_int_equal(px_keyring_load(f->home, &kr, &err), 0);

    const char *secret = "postgres://user:s3cr3t@db.example:5432/app";
    char *sealed = px_secret_seal(&kr, "org_a/conn_b", secret);
    assert_non_null(sealed);
    assert_null(strstr(sealed, "s3cr3t"));
    char *plain = NULL;
    assert_int_equal(px_secret_open(&kr, "org_a/conn_b", sealed, &plain, &err), 0);
    assert_string_equal(plain, secret);
    px_secret_free(plain);

    /* The empty plaintext round-trips too. */
    char *sealed_empty = px_secret_seal(&kr, "org_a/conn_b", "");
    assert_int_equal(px_secret_open(&kr, "org_a/conn_b", sealed_empty, &plain, &err), 0);
    assert_string_equal(plain, "");
    px_secret_free(plain);
    free(sealed_empty);

    /* Two seals of the same value differ (random nonce) and both open. */
    char *sealed2 = px_secret_seal(&kr, "org_a/conn_b", secret);
    assert_string_not_equal(sealed, sealed2);
    assert_int_equal(px_secret_open(&kr, "org_a/conn_b", sealed2, &plain, &err), 0);
    assert_string_equal(plain, secret);
    px_secret_free(plain);
    free(sealed2);
    free(sealed);
    px_keyring_wipe(&kr);
}

static void test_open_failures(void **state)
{
    struct fixture *f = *state;
    struct px_keyring kr;
    struct px_error err;
    char dummy[] = "untouched";
    char *plain = dummy;
    assert_int_equal(px_keyring_load(f->home, &kr, &err), 0);
    char *sealed = px_secret_seal(&kr, "org_a/conn_b", "hunter2");

    /* Moved to another row: wrong associated data. */
    px_error_clear(&err);
    assert_int_equal(px_secret_open(&kr, "org_a/conn_c", sealed, &plain, &err), -PX_ECRYPTO);
    assert_null(plain);
    assert_int_equal(err.code, PX_ECRYPTO);
    assert_non_null(strstr(err.message, "could not be decrypted"));
    assert_non_null(strstr(err.hint, "master.key"));

    /* Tampered ciphertext: change one character in the middle. */
    size_t n = strlen(sealed);
    char saved = sealed[n / 2];
    sealed[n / 2] = saved == 'A' ? 'B' : 'A';
    assert_int_equal(px_secret_open(&kr, "org_a/conn_b", sealed, &plain, &err), -PX_ECRYPTO);
    sealed[n / 2] = saved;
    assert_int_equal(px_secret_open(&kr, "org_a/conn_b", sealed, &plain, &err), 0);
    px_secret_free(plain);

    /* Truncated, not base64, empty. */
    sealed[10] = '\0';
    assert_int_equal(px_secret_open(&kr, "org_a/conn_b", sealed, &plain, &err), -PX_ECRYPTO);
    assert_int_equal(px_secret_open(&kr, "org_a/conn_b", "!!!***", &plain, &err), -PX_ECRYPTO);
    assert_int_equal(px_secret_open(&kr, "org_a/conn_b", "", &plain, &err), -PX_ECRYPTO);

    /* Another master key. */
    free(sealed);
    sealed = px_secret_seal(&kr, "org_a/conn_b", "hunter2");
    struct px_keyring other = kr;
    other.secret_key[0] ^= 1;
    assert_int_equal(px_secret_open(&other, "org_a/conn_b", sealed, &plain, &err), -PX_ECRYPTO);
    free(sealed);
    px_keyring_wipe(&kr);
    px_keyring_wipe(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_creates_private_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_readable_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_size_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_open_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
