/* Unit tests for opening beneath a files directory (src/engine/fsroot.c), with openat2 and with
 * the openat(O_NOFOLLOW) walk the kernel falls back to. */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdatomic.h>

#include "helpers.h"

#include "base/err.h"
#include "engine/connectors/fsroot.h"
#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[PATH_MAX], outside[PATH_MAX];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/px_fsroot_XXXXXX");
    snprintf(outside, sizeof(outside), "/tmp/px_fsout_XXXXXX");
    assert_non_null(mkdtemp(root));
    assert_non_null(mkdtemp(outside));
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/d", root);
    assert_int_equal(mkdir(p, 0700), 0);
    put_file_at(root, "d/x.txt", "inside");
    put_file_at(outside, "x.txt", "OUTSIDE");
    snprintf(p, sizeof(p), "%s/out", root);
    assert_int_equal(symlink(outside, p), 0);
    snprintf(p, sizeof(p), "%s/d/l.txt", root);
    assert_int_equal(symlink("x.txt", p), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    nftw(outside, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void test_check_rel(void **state)
{
    (void)state;
    struct px_error err;
    const char *ok[] = {"a", ".", "./a", "a/b/c.csv", "a/", "..a", "a..b/c"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        px_error_clear(&err);
        if (px_fsroot_check_rel("path", ok[i], &err) != 0)
            fail_msg("'%s' refused: %s", ok[i], err.message);
    }
    px_error_clear(&err);
    assert_int_equal(px_fsroot_check_rel("path", "/etc/passwd", &err), -PX_EINVALID);
    assert_string_equal(err.message, "path '/etc/passwd' is an absolute path");
    assert_true(err.hint[0] != '\0');
    px_error_clear(&err);
    assert_int_equal(px_fsroot_check_rel("file", "a/../../b", &err), -PX_EINVALID);
    assert_string_equal(err.message, "file 'a/../../b' contains '..'");
    /* A relative path is never called absolute. */
    assert_null(strstr(err.message, "absolute"));
    px_error_clear(&err);
    assert_int_equal(px_fsroot_check_rel("path", "..", &err), -PX_EINVALID);
    px_error_clear(&err);
    assert_int_equal(px_fsroot_check_rel("path", "", &err), -PX_EINVALID);
    px_error_clear(&err);
    assert_int_equal(px_fsroot_check_rel("path", "a/.b.csv.px-journal", &err), -PX_EINVALID);
    assert_non_null(strstr(err.message, "reserved"));
    px_error_clear(&err);
    assert_int_equal(px_fsroot_check_rel("path", "a/.b.csv.px-tmp-abc", &err), -PX_EINVALID);
    px_error_clear(&err);
    assert_int_equal(px_fsroot_check_rel("path", "a\nb", &err), -PX_EINVALID);
    assert_true(px_fsroot_is_side_file(".orders.csv.px-journal"));
    assert_true(px_fsroot_is_side_file(".orders.csv.px-tmp-0a1b2c3d"));
    assert_false(px_fsroot_is_side_file("orders.csv"));
}

static void check_opens(void)
{
    int rfd = open(root, O_RDONLY | O_DIRECTORY);
    assert_true(rfd >= 0);
    int fd = px_fsroot_openat(rfd, "d/x.txt", O_RDONLY, 0);
    assert_true(fd >= 0);
    close(fd);
    fd = px_fsroot_openat(rfd, "./d//x.txt", O_RDONLY, 0);
    assert_true(fd >= 0);
    close(fd);
    fd = px_fsroot_openat(rfd, ".", O_RDONLY | O_DIRECTORY, 0);
    assert_true(fd >= 0);
    close(fd);
    /* A link in the middle, a link at the end, a link to a directory: all refused. */
    assert_int_equal(px_fsroot_openat(rfd, "out/x.txt", O_RDONLY, 0), -ELOOP);
    assert_int_equal(px_fsroot_openat(rfd, "d/l.txt", O_RDONLY, 0), -ELOOP);
    assert_int_equal(px_fsroot_openat(rfd, "out", O_RDONLY | O_DIRECTORY, 0), -ELOOP);
    assert_int_equal(px_fsroot_openat(rfd, "nope/x.txt", O_RDONLY, 0), -ENOENT);
    assert_int_equal(px_fsroot_openat(rfd, "d/x.txt/y", O_RDONLY, 0), -ENOTDIR);
    /* mkdirs creates beneath, never through a link. */
    assert_int_equal(px_fsroot_mkdirs(rfd, "d/n1/n2", 0700), 0);
    fd = px_fsroot_openat(rfd, "d/n1/n2", O_RDONLY | O_DIRECTORY, 0);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(px_fsroot_mkdirs(rfd, "out/evil", 0700), -ELOOP);
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/evil", outside);
    assert_int_not_equal(access(p, F_OK), 0);
    fd = px_fsroot_openat(rfd, "d/n1/new.txt", O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    close(rfd);
}

static void test_openat2(void **state)
{
    (void)state;
    px_fsroot_force_walk(false);
    check_opens();
}

static void test_walk(void **state)
{
    (void)state;
    px_fsroot_force_walk(true);
    check_opens();
    px_fsroot_force_walk(false);
}

/* A thread swaps d for a link to outside and back while the other opens d/x.txt: both ways of
 * opening only ever reach the inside file. */
static atomic_int stop_swapping;

static void *swapper(void *arg)
{
    (void)arg;
    char d[PATH_MAX * 2], real[PATH_MAX * 2];
    snprintf(d, sizeof(d), "%s/d", root);
    snprintf(real, sizeof(real), "%s/d.real", root);
    while (!stop_swapping) {
        if (rename(d, real) != 0)
            continue;
        if (symlink(outside, d) == 0)
            unlink(d);
        rename(real, d);
    }
    return NULL;
}

static void test_swap_race(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        px_fsroot_force_walk(mode == 1);
        stop_swapping = 0;
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, swapper, NULL), 0);
        int rfd = open(root, O_RDONLY | O_DIRECTORY);
        int outside_reads = 0, opened = 0;
        for (int i = 0; i < 20000; i++) {
            int fd = px_fsroot_openat(rfd, "d/x.txt", O_RDONLY, 0);
            if (fd < 0)
                continue;
            opened++;
            char b[16] = "";
            if (read(fd, b, sizeof(b) - 1) > 0 && strncmp(b, "OUTSIDE", 7) == 0)
                outside_reads++;
            close(fd);
        }
        stop_swapping = 1;
        pthread_join(th, NULL);
        close(rfd);
        print_message("%s: %d opens, %d outside\n", mode ? "walk" : "openat2", opened,
                      outside_reads);
        assert_int_equal(outside_reads, 0);
    }
    px_fsroot_force_walk(false);
}

/* Crash recovery: an append journal with no live writer truncates its target back; a
 * temporary file with no live writer is removed; a live writer's side files are left alone. */
static void write_journal(const char *dir, const char *name, long long size)
{
    char p[PATH_MAX * 2], j[PATH_MAX * 2], text[128];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    snprintf(j, sizeof(j), "%s/.%s.px-journal", dir, name);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    snprintf(text, sizeof(text), "px-append-journal 1 size=%lld dev=%lld ino=%lld\n", size,
             (long long)st.st_dev, (long long)st.st_ino);
    FILE *f = fopen(j, "w");
    fputs(text, f);
    fclose(f);
}

static void test_recover(void **state)
{
    (void)state;
    char dir[PATH_MAX], p[PATH_MAX * 3];
    snprintf(dir, sizeof(dir), "%.4000s/rec", root);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(p, sizeof(p), "%s/sub", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    put_file_at(dir, "sub/t.csv", "h\n1\n2\npartial");
    write_journal(p, "t.csv", 4);
    put_file_at(dir, "live.csv", "h\n1\n2\n");
    write_journal(dir, "live.csv", 2);
    put_file_at(dir, ".x.csv.px-tmp-abcdefgh", "dead");
    put_file_at(dir, ".y.csv.px-tmp-abcdefgh", "live");
    snprintf(p, sizeof(p), "%s/live.csv", dir);
    int live = open(p, O_RDONLY);
    assert_int_equal(flock(live, LOCK_EX), 0);
    snprintf(p, sizeof(p), "%s/.y.csv.px-tmp-abcdefgh", dir);
    int livetmp = open(p, O_RDONLY);
    assert_int_equal(flock(livetmp, LOCK_EX), 0);

    assert_int_equal(px_engine_recover_files(dir), 2);
    snprintf(p, sizeof(p), "%s/sub/t.csv", dir);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 4);
    snprintf(p, sizeof(p), "%s/sub/.t.csv.px-journal", dir);
    assert_int_not_equal(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/.x.csv.px-tmp-abcdefgh", dir);
    assert_int_not_equal(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/live.csv", dir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 6); /* a live writer's append is not touched */
    snprintf(p, sizeof(p), "%s/.y.csv.px-tmp-abcdefgh", dir);
    assert_int_equal(access(p, F_OK), 0);
    close(live);
    close(livetmp);
    /* Once the writers are gone, the rest is recovered too. */
    assert_int_equal(px_engine_recover_files(dir), 2);
    snprintf(p, sizeof(p), "%s/live.csv", dir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_rel), cmocka_unit_test(test_openat2),
        cmocka_unit_test(test_walk),      cmocka_unit_test(test_swap_race),
        cmocka_unit_test(test_recover),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
