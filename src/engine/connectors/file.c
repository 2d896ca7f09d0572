/*
 * What the CSV and JSON Lines connectors share: value formatting, the destinations and their
 * crash recovery. The sources are engine/connectors/csv.c and engine/connectors/jsonl.c; the path
 * resolution in an organization's files directory and the disk bounds are
 * engine/connectors/fsroot.c.
 *
 * Destinations: replace writes a temporary file in the same directory, fsyncs it and renames
 * it over the target on commit; append journals the target's length first and, if the run
 * fails or the process dies, the file is truncated back to it (see "crash safety" below).
 * CSV output uses LF line ends, quotes a field only when it must (and "" for an empty
 * string), and writes the header when the file starts empty.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/connectors/file.h"
#include "engine/engine.h"
#include "engine/celltext.h"
#include "engine/exec_int.h"
#include "engine/connectors/fsroot.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <limits.h>
#include <time.h>
#include <stdlib.h>

/* ---- file destinations (CSV and JSONL) ---- */

enum fmt { FMT_CSV, FMT_JSONL };

struct filedst {
    enum fmt fmt;
    int fd;
    struct px_file_target t;
    char tmp[300];     /* replace: the temporary file's name in t.dirfd, "" once gone */
    char journal[300]; /* append: the journal's name in t.dirfd */
    bool replace, committed, header, wrote_header, journaled;
    off_t orig_size;
    char delim;
    struct px_buf out;
    const struct px_node_ctx *ctx; /* during filedst_open only (the executor's stack) */
    const struct px_engine_opts *opts;
    struct px_files_usage *usage;
};

/* ---- crash safety: the append journal and the temporary files ----
 *
 * A writer holds an exclusive flock on the target (append) or on its temporary file (replace)
 * for as long as it writes: the kernel drops it when the process dies, which is how recovery
 * tells a crashed writer's side files from a live one's. Before the first byte is appended,
 * `.NAME.px-journal` records the target's length (and inode) and is fsynced; commit fsyncs
 * the target and removes the journal; a failed run truncates back and removes it. A journal
 * found later, with no writer holding the target, is an append a crash interrupted: the target
 * is truncated back to the recorded length. */

#define JOURNAL_SUFFIX ".px-journal"

static void side_name(char *out, size_t size, const char *name, const char *suffix)
{
    snprintf(out, size, ".%s%s", name, suffix);
}

static void fsync_dir(int dirfd)
{
    (void)fsync(dirfd);
}

/* Rolls back the journal `jname` in dirfd against the target fd (locked by the caller):
 * 1 if it truncated, 0 if nothing was to do, negative errno on failure. */
static int journal_recover(int dirfd, const char *jname, int fd)
{
    int jfd = openat(dirfd, jname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (jfd < 0)
        return errno == ENOENT ? 0 : -errno;
    char text[256];
    ssize_t n = read(jfd, text, sizeof(text) - 1);
    close(jfd);
    int done = 0;
    long long size = -1, dev = -1, ino = -1;
    if (n > 0) {
        text[n] = '\0';
        if (sscanf(text, "px-append-journal 1 size=%lld dev=%lld ino=%lld", &size, &dev, &ino) != 3)
            size = -1;
    }
    struct stat st;
    if (size >= 0 && fd >= 0 && fstat(fd, &st) == 0 && (long long)st.st_dev == dev &&
        (long long)st.st_ino == ino && st.st_size > size) {
        if (ftruncate(fd, (off_t)size) < 0 || fsync(fd) < 0)
            return -errno;
        done = 1;
    }
    (void)unlinkat(dirfd, jname, 0);
    fsync_dir(dirfd);
    return done;
}

static int journal_write(struct filedst *s, struct px_error *err)
{
    char text[128];
    struct stat st;
    if (fstat(s->fd, &st) < 0)
        return px_error_set(err, PX_EIO, "cannot stat the output file: %s", strerror(errno));
    s->orig_size = st.st_size;
    int n = snprintf(text, sizeof(text), "px-append-journal 1 size=%lld dev=%lld ino=%lld\n",
                     (long long)st.st_size, (long long)st.st_dev, (long long)st.st_ino);
    int jfd =
        openat(s->t.dirfd, s->journal, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (jfd < 0)
        return px_error_set(err, PX_EIO, "cannot write the append journal next to '%s': %s",
                            s->t.rel, strerror(errno));
    bool ok = write(jfd, text, (size_t)n) == n && fsync(jfd) == 0;
    close(jfd);
    if (!ok) {
        (void)unlinkat(s->t.dirfd, s->journal, 0);
        return px_error_set(err, PX_EIO, "cannot write the append journal next to '%s'", s->t.rel);
    }
    fsync_dir(s->t.dirfd);
    s->journaled = true;
    return 0;
}

void px__filesrc_recover(const struct px_file_target *t)
{
    char jname[300];
    side_name(jname, sizeof(jname), t->name, JOURNAL_SUFFIX);
    if (faccessat(t->dirfd, jname, F_OK, AT_SYMLINK_NOFOLLOW) != 0)
        return;
    int fd = openat(t->dirfd, t->name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return;
    /* Not held: the writer died. Held: a live append, which the reader does not wait for. */
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && journal_recover(t->dirfd, jname, fd) > 0)
        px_info("%s: rolled back an append a crash had interrupted", t->rel);
    close(fd);
}

/* Takes the exclusive lock on fd, waiting (polling cancellation) while another run writes the
 * same file; then checks fd is still the file the name leads to (a replace may have swapped
 * it). 1 locked, 0 the name moved on (reopen), negative with err on cancellation. */
static int lock_target(const struct px_node_ctx *ctx, const struct px_file_target *t, int fd,
                       struct px_error *err)
{
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK && errno != EINTR)
            return px_error_set(err, PX_EIO, "cannot lock '%s': %s", t->rel, strerror(errno));
        if (ctx->opts->cancelled && ctx->opts->cancelled(ctx->opts->cancel_ctx))
            return px_error_set(err, PX_EUNAVAILABLE,
                                "cancelled while waiting for another run writing '%s'", t->rel);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    struct stat a, b;
    if (fstat(fd, &a) < 0 || fstatat(t->dirfd, t->name, &b, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Opens, locks and recovers the append target. */
static int open_append(struct filedst *s, struct px_error *err)
{
    for (int tries = 0; tries < 100; tries++) {
        s->fd = px__files_open(&s->t, O_WRONLY | O_CREAT | O_APPEND, 0644, err);
        if (s->fd < 0)
            return s->fd;
        int rc = lock_target(s->ctx, &s->t, s->fd, err);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            int jr = journal_recover(s->t.dirfd, s->journal, s->fd);
            if (jr > 0)
                px_info("%s: rolled back an append a crash had interrupted", s->t.rel);
            return journal_write(s, err);
        }
        close(s->fd);
        s->fd = -1;
    }
    return px_error_set(err, PX_EIO, "'%s' kept changing while being opened", s->t.rel);
}

/* Creates the replace's temporary file, locked, with a random name. */
static int open_temp(struct filedst *s, struct px_error *err)
{
    static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    /* A live appender's lock on the old file serializes the swap with it; its journal too. */
    int old = openat(s->t.dirfd, s->t.name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (old >= 0) {
        struct stat st;
        if (fstat(old, &st) == 0 && S_ISREG(st.st_mode) &&
            lock_target(s->ctx, &s->t, old, err) >= 0)
            (void)journal_recover(s->t.dirfd, s->journal, old);
        close(old);
    }
    for (int tries = 0; tries < 100; tries++) {
        unsigned char rnd[8];
        if (getentropy(rnd, sizeof(rnd)) < 0)
            return px_error_set(err, PX_EIO, "no randomness: %s", strerror(errno));
        char suffix[24] = ".px-tmp-";
        for (int i = 0; i < 8; i++)
            suffix[8 + i] = digits[rnd[i] % 36];
        suffix[16] = '\0';
        side_name(s->tmp, sizeof(s->tmp), s->t.name, suffix);
        s->fd =
            openat(s->t.dirfd, s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (s->fd >= 0) {
            (void)flock(s->fd, LOCK_EX | LOCK_NB);
            return 0;
        }
        if (errno != EEXIST)
            break;
    }
    int rc = px_error_set(err, PX_EIO, "cannot create a temporary file next to '%s': %s", s->t.rel,
                          strerror(errno));
    s->tmp[0] = '\0';
    return rc;
}

static void filedst_free(struct filedst *s)
{
    if (s->fd >= 0)
        close(s->fd);
    px__files_target_close(&s->t);
    px_buf_cleanup(&s->out);
    free(s);
}

static int filedst_open(const struct px_node_ctx *ctx, enum fmt fmt, void **state_out,
                        struct px_error *err)
{
    struct filedst *s = px_xcalloc(1, sizeof(*s));
    s->fd = -1;
    s->fmt = fmt;
    s->ctx = ctx;
    s->opts = ctx->opts;
    s->usage = ctx->files_usage;
    px_buf_init(&s->out, (size_t)1 << 30);
    int rc = px__files_target(ctx, PX_FILE_DEST, fmt == FMT_CSV ? "csv" : "jsonl", &s->t, err);
    if (rc < 0) {
        filedst_free(s);
        return rc;
    }
    const char *mode = px_json_get_str(ctx->config, "mode");
    s->replace = mode && strcmp(mode, "replace") == 0;
    const char *d = px_json_get_str(ctx->params, "delimiter");
    s->delim = d && *d ? d[0] : ',';
    s->header = fmt == FMT_CSV && px_json_get_bool(ctx->params, "header", true);
    side_name(s->journal, sizeof(s->journal), s->t.name, JOURNAL_SUFFIX);
    rc = s->replace ? open_temp(s, err) : open_append(s, err);
    s->ctx = NULL;
    if (rc < 0) {
        filedst_free(s);
        return rc;
    }
    s->wrote_header = !s->replace && s->orig_size > 0;
    *state_out = s;
    return 0;
}

int px__csvdst_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    return filedst_open(ctx, FMT_CSV, state_out, err);
}

int px__jsonldst_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    return filedst_open(ctx, FMT_JSONL, state_out, err);
}

/* Appends a CSV field, quoted only when it must be (and "" for an empty string). */
static int csv_field(struct filedst *s, const char *v)
{
    const char *p = v;
    while (*p && *p != s->delim && *p != '"' && *p != '\r' && *p != '\n')
        p++;
    if (!*p && p != v)
        return px_buf_append(&s->out, v, (size_t)(p - v));
    p += strlen(p);
    size_t len = (size_t)(p - v);
    int rc = px_buf_append(&s->out, "\"", 1);
    const char *run = v;
    for (const char *q = memchr(v, '"', len); rc == 0 && q;
         q = memchr(q + 1, '"', len - (size_t)(q + 1 - v))) {
        rc = px_buf_append(&s->out, run, (size_t)(q + 1 - run)); /* through the quote */
        run = q;                                                 /* which is written again */
    }
    if (rc == 0)
        rc = px_buf_append(&s->out, run, (size_t)(p - run));
    return rc ? rc : px_buf_append(&s->out, "\"", 1);
}

static int write_all(int fd, const char *p, size_t n, struct px_error *err)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return px_error_set(err, PX_EIO, "write failed: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int px__filedst_write(void *state, const struct px_batch *b, struct px_error *err)
{
    struct filedst *s = state;
    char tmp[64];
    px_buf_reset(&s->out);
    if (s->fmt == FMT_CSV && s->header && !s->wrote_header) {
        for (int i = 0; i < b->ncols; i++) {
            if (i)
                (void)px_buf_append(&s->out, &s->delim, 1);
            (void)csv_field(s, b->cols[i].name);
        }
        (void)px_buf_puts(&s->out, "\n");
        s->wrote_header = true;
    }
    for (int64_t r = 0; r < b->nrows; r++) {
        if (s->fmt == FMT_JSONL)
            (void)px_buf_puts(&s->out, "{");
        for (int i = 0; i < b->ncols; i++) {
            const struct px_column *c = &b->cols[i];
            bool null = px_batch_is_null(c, r);
            if (s->fmt == FMT_CSV) {
                if (i)
                    (void)px_buf_append(&s->out, &s->delim, 1);
                if (null)
                    continue;
                if (c->type == PX_COL_STRING) {
                    (void)csv_field(s, c->v.s[r]);
                } else {
                    size_t n = px_celltext(b, i, r, tmp, sizeof(tmp));
                    (void)px_buf_append(&s->out, tmp, n);
                }
                continue;
            }
            if (i)
                (void)px_buf_puts(&s->out, ",");
            px_json_write_str(&s->out, c->name);
            (void)px_buf_puts(&s->out, ":");
            if (null || (c->type == PX_COL_FLOAT && !isfinite(c->v.f[r]))) {
                (void)px_buf_puts(&s->out, "null");
            } else if (c->type == PX_COL_STRING) {
                px_json_write_str(&s->out, c->v.s[r]);
            } else if (c->type == PX_COL_TIMESTAMP) {
                px_celltext(b, i, r, tmp, sizeof(tmp));
                px_json_write_str(&s->out, tmp);
            } else {
                px_celltext(b, i, r, tmp, sizeof(tmp));
                (void)px_buf_puts(&s->out, tmp);
            }
        }
        if (px_buf_puts(&s->out, s->fmt == FMT_JSONL ? "}\n" : "\n") < 0)
            return px_error_set(err, PX_ETOOLARGE, "a batch renders to more than 1 GiB");
    }
    int rc = px__files_charge(s->opts, s->usage, (long long)s->out.len, err);
    return rc < 0 ? rc : write_all(s->fd, s->out.data ? s->out.data : "", s->out.len, err);
}

int px__filedst_commit(void *state, struct px_error *err)
{
    struct filedst *s = state;
    if (fsync(s->fd) < 0)
        return px_error_set(err, PX_EIO, "fsync failed: %s", strerror(errno));
    if (s->replace) {
        if (renameat(s->t.dirfd, s->tmp, s->t.dirfd, s->t.name) < 0) {
            int rc =
                px_error_set(err, PX_EIO, "cannot replace '%s': %s", s->t.rel, strerror(errno));
            err->retryable = errno == ENOENT;
            return rc;
        }
        s->tmp[0] = '\0';
    } else {
        (void)unlinkat(s->t.dirfd, s->journal, 0);
        s->journaled = false;
    }
    fsync_dir(s->t.dirfd);
    s->committed = true;
    return 0;
}

void px__filedst_close(void *state)
{
    struct filedst *s = state;
    if (!s)
        return;
    if (!s->committed) {
        if (s->replace && s->tmp[0]) {
            (void)unlinkat(s->t.dirfd, s->tmp, 0);
        } else if (!s->replace && s->journaled) {
            if (ftruncate(s->fd, s->orig_size) == 0 && fsync(s->fd) == 0) {
                (void)unlinkat(s->t.dirfd, s->journal, 0);
                fsync_dir(s->t.dirfd);
            } /* else the journal stays: recovery truncates later */
        }
    }
    filedst_free(s);
}

/* ---- recovery of a files directory (engine/connectors/fsroot.h) ---- */

struct sweep {
    const char *top;
    int entries, handled;
};

static void recover_entry(struct sweep *w, int dfd, const char *name, const char *rel)
{
    size_t n = strlen(name), js = strlen(JOURNAL_SUFFIX);
    if (n > js + 1 && strcmp(name + n - js, JOURNAL_SUFFIX) == 0) {
        char target[256];
        snprintf(target, sizeof(target), "%.*s", (int)(n - js - 1), name + 1);
        int fd = openat(dfd, target, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0 && errno != ENOENT)
            return;
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
            close(fd); /* a live writer's journal */
            return;
        }
        int rc = journal_recover(dfd, name, fd);
        if (fd >= 0)
            close(fd);
        w->handled++;
        if (rc > 0)
            px_info("files recovery: rolled back an interrupted append to %s/%s%s%s", w->top, rel,
                    *rel ? "/" : "", target);
        return;
    }
    if (strstr(name, ".px-tmp-")) {
        int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            return;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && unlinkat(dfd, name, 0) == 0) {
            w->handled++;
            px_info("files recovery: removed an interrupted replace's temporary file %s/%s%s%s",
                    w->top, rel, *rel ? "/" : "", name);
        }
        close(fd);
    }
}

static void sweep_dir(struct sweep *w, int dfd, const char *rel, int depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && w->entries < 200000) {
        w->entries++;
        const char *name = e->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (px_fsroot_is_side_file(name)) {
            recover_entry(w, dirfd(d), name, rel);
            continue;
        }
        if (depth >= 16 || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
            continue;
        int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            continue;
        char subrel[PATH_MAX];
        snprintf(subrel, sizeof(subrel), "%s%s%s", rel, *rel ? "/" : "", name);
        sweep_dir(w, sub, subrel, depth + 1);
    }
    closedir(d);
}

int px_engine_recover_files(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct sweep w = {.top = dir};
    sweep_dir(&w, fd, "", 0);
    return w.handled;
}
