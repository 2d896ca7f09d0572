/*
 * The files directory of an organization: opening beneath it without following links
 * (engine/connectors/fsroot.h), the one path resolution of the file connectors (px__files_target,
 * used by runs and test_connection alike, exec_int.h), the connection params check, and the disk
 * bounds (px__files_charge).
 */
#include "engine/connectors/fsroot.h"

#include "base/err.h"
#include "base/json.h"
#include "engine/engine.h"
#include "engine/connectors/file.h"
#include "engine/exec_int.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define REL_MAX 1024

static atomic_bool force_walk;
static atomic_int no_openat2; /* 1 once the kernel said ENOSYS */

void px_fsroot_force_walk(bool on)
{
    atomic_store(&force_walk, on);
}

bool px_fsroot_is_side_file(const char *name)
{
    if (name[0] != '.')
        return false;
    size_t n = strlen(name);
    const char *j = ".px-journal";
    if (n > strlen(j) && strcmp(name + n - strlen(j), j) == 0)
        return true;
    return strstr(name + 1, ".px-tmp-") != NULL;
}

int px_fsroot_check_rel(const char *what, const char *path, struct px_error *err)
{
    int rc;
    if (!path || !*path) {
        rc = px_error_set(err, PX_EINVALID, "%s is empty", what);
        px_error_hint(err, "give a path relative to your files directory, e.g. \"exports\" or "
                           "\"exports/orders.csv\"; \".\" is the directory itself");
        return rc;
    }
    if (strlen(path) > REL_MAX)
        return px_error_set(err, PX_EINVALID, "%s is longer than %d bytes", what, REL_MAX);
    if (path[0] == '/') {
        rc = px_error_set(err, PX_EINVALID, "%s '%s' is an absolute path", what, path);
        px_error_hint(err, "give a path relative to your files directory (without the leading "
                           "'/'), e.g. \"exports/orders.csv\"");
        return rc;
    }
    for (const char *s = path; *s;) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            rc = px_error_set(err, PX_EINVALID, "%s '%s' contains '..'", what, path);
            px_error_hint(err, "paths stay inside your files directory: name the file from there, "
                               "without '..'");
            return rc;
        }
        char name[256];
        if (n < sizeof(name)) {
            memcpy(name, s, n);
            name[n] = '\0';
            if (px_fsroot_is_side_file(name)) {
                rc = px_error_set(err, PX_EINVALID, "%s '%s' names a reserved file", what, path);
                px_error_hint(err, "names that start with '.' and contain '.px-tmp-' or end in "
                                   "'.px-journal' belong to the server's crash recovery");
                return rc;
            }
        } else {
            return px_error_set(err, PX_EINVALID, "%s '%s' has a name longer than 255 bytes", what,
                                path);
        }
        s += n;
        if (*s == '/')
            s++;
    }
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return px_error_set(err, PX_EINVALID, "%s must not contain control characters", what);
    return 0;
}

static int open2(int rootfd, const char *rel, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (unsigned long long)(flags | O_CLOEXEC),
        .mode = (flags & O_CREAT) ? mode : 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    for (;;) {
        long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != EINTR && errno != EAGAIN)
            return -errno;
    }
}

/* The walk: every directory opened with O_NOFOLLOW | O_DIRECTORY beneath the previous one, and
 * the last component with O_NOFOLLOW. rel has no "..", so nothing climbs out. */
static int walk(int rootfd, const char *rel, int flags, mode_t mode)
{
    int dfd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    const char *s = rel;
    for (;;) {
        while (*s == '/')
            s++;
        size_t n = strcspn(s, "/");
        const char *rest = s + n;
        while (*rest == '/')
            rest++;
        char name[256];
        if (n >= sizeof(name)) {
            close(dfd);
            return -ENAMETOOLONG;
        }
        memcpy(name, s, n);
        name[n] = '\0';
        if (n == 2 && name[0] == '.' && name[1] == '.') {
            close(dfd);
            return -EXDEV;
        }
        bool last = *rest == '\0';
        if (last) {
            if (n == 0 || strcmp(name, ".") == 0) {
                if (flags & O_CREAT && !(flags & O_DIRECTORY)) {
                    close(dfd);
                    return -EISDIR;
                }
                int fd = openat(dfd, ".", (flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC);
                int e = errno;
                close(dfd);
                return fd >= 0 ? fd : -e;
            }
            int fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
            int e = errno;
            struct stat lst;
            if (fd < 0 && e == ENOTDIR && fstatat(dfd, name, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(lst.st_mode))
                e = ELOOP; /* O_DIRECTORY | O_NOFOLLOW on a link */
            close(dfd);
            /* O_NOFOLLOW with O_PATH/O_DIRECTORY may open the link itself: refuse it. */
            if (fd >= 0) {
                struct stat st;
                if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
                    close(fd);
                    return -ELOOP;
                }
            }
            return fd >= 0 ? fd : -e;
        }
        if (n == 0 || strcmp(name, ".") == 0) {
            s = rest;
            continue;
        }
        int next = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        if (next < 0) {
            /* A link opened with O_DIRECTORY | O_NOFOLLOW fails with ENOTDIR or ELOOP. */
            struct stat st;
            if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                e = ELOOP;
            close(dfd);
            return -e;
        }
        close(dfd);
        dfd = next;
        s = rest;
    }
}

int px_fsroot_openat(int rootfd, const char *rel, int flags, mode_t mode)
{
    if (!*rel)
        rel = ".";
    if (!atomic_load(&force_walk) && !atomic_load(&no_openat2)) {
        int fd = open2(rootfd, rel, flags, mode);
        if (fd != -ENOSYS)
            return fd;
        atomic_store(&no_openat2, 1);
    }
    return walk(rootfd, rel, flags, mode);
}

int px_fsroot_mkdirs(int rootfd, const char *rel, mode_t mode)
{
    char part[REL_MAX + 1];
    size_t len = strlen(rel);
    if (len > REL_MAX)
        return -ENAMETOOLONG;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && rel[i] != '/')
            continue;
        if (i == 0 || rel[i - 1] == '/')
            continue;
        memcpy(part, rel, i);
        part[i] = '\0';
        int fd = px_fsroot_openat(rootfd, part, O_RDONLY | O_DIRECTORY, 0);
        if (fd >= 0) {
            close(fd);
            continue;
        }
        if (fd != -ENOENT)
            return fd;
        /* Its parent exists (the previous step): create it in the parent's fd. */
        const char *slash = strrchr(part, '/');
        int pfd;
        const char *base = part;
        if (slash) {
            char parent[REL_MAX + 1];
            memcpy(parent, part, (size_t)(slash - part));
            parent[slash - part] = '\0';
            pfd = px_fsroot_openat(rootfd, parent, O_RDONLY | O_DIRECTORY, 0);
            base = slash + 1;
        } else {
            pfd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (pfd < 0)
                pfd = -errno;
        }
        if (pfd < 0)
            return pfd;
        int rc = strcmp(base, ".") == 0 ? 0 : mkdirat(pfd, base, mode);
        int e = errno;
        close(pfd);
        if (rc < 0 && e != EEXIST)
            return -e;
    }
    return 0;
}

/* ---- the files directory ---- */

/* Appends the components of rel to out (of size PATH_MAX) without empty and "." ones. */
static void norm_append(char *out, const char *rel)
{
    size_t len = strlen(out);
    for (const char *s = rel; *s;) {
        size_t n = strcspn(s, "/");
        if (n && !(n == 1 && s[0] == '.') && len + n + 2 < PATH_MAX) {
            if (len)
                out[len++] = '/';
            memcpy(out + len, s, n);
            len += n;
            out[len] = '\0';
        }
        s += n;
        while (*s == '/')
            s++;
    }
}

static int link_error(const char *rel, struct px_error *err)
{
    int rc = px_error_set(err, PX_EINVALID,
                          "'%s' goes through a symbolic link; links are not followed in the files "
                          "directory",
                          rel);
    px_error_hint(err, "give the real path of the file inside your files directory");
    return rc;
}

/* An errno from opening rel beneath the root as an error. */
static int open_error(int e, const char *what, const char *rel, struct px_error *err)
{
    int rc;
    switch (e) {
    case ELOOP:
        return link_error(rel, err);
    case EXDEV:
        rc = px_error_set(err, PX_EINVALID, "'%s' leads outside the files directory", rel);
        px_error_hint(err, "give a path inside your files directory, without '..' or links");
        return rc;
    case ENOENT:
        rc = px_error_set(err, PX_ENOTFOUND, "%s '%s' does not exist in the files directory", what,
                          rel);
        px_error_hint(err, "create it in your files directory, or update the connection's path");
        return rc;
    case ENOTDIR:
        rc = px_error_set(err, PX_EINVALID, "a part of '%s' is a file, not a directory", rel);
        px_error_hint(err, "check the connection's path and the node's file");
        return rc;
    case EISDIR:
        rc = px_error_set(err, PX_EINVALID, "'%s' is a directory, not a file", rel);
        px_error_hint(err, "name a file, or set the node's config.file");
        return rc;
    case EACCES:
    case EPERM:
        rc = px_error_set(err, PX_EIO, "the server may not open '%s'", rel);
        px_error_hint(err, "fix the permissions of '%s' in the files directory", rel);
        return rc;
    default:
        return px_error_set(err, PX_EIO, "'%s': %s", rel, strerror(e));
    }
}

int px__files_target(const struct px_node_ctx *ctx, enum px_file_role role, const char *ext,
                     struct px_file_target *t, struct px_error *err)
{
    memset(t, 0, sizeof(*t));
    t->rootfd = t->dirfd = -1;
    const char *root = ctx->opts->files_root;
    const char *path = px_json_get_str(ctx->params, "path");
    const char *file = px_json_get_str(ctx->config, "file");
    if (!root || !*root)
        return px_error_set(err, PX_EUNAVAILABLE, "no files directory is configured");
    if (!path)
        return px_error_set(err, PX_EINVALID, "the connection has no path");
    int rc = px_fsroot_check_rel("path", path, err);
    if (rc == 0 && file)
        rc = px_fsroot_check_rel("file", file, err);
    if (rc < 0)
        return rc;
    t->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->rootfd < 0) {
        rc = px_error_set(err, PX_EUNAVAILABLE, "the files directory cannot be opened: %s",
                          strerror(errno));
        px_error_hint(err, "the operator sets it with `planasonix-mcp org update ORG --files-dir`");
        return rc;
    }
    bool dest = role != PX_FILE_SOURCE && role != PX_FILE_PROBE_SOURCE;
    bool probe = role == PX_FILE_PROBE_SOURCE || role == PX_FILE_PROBE_DEST;
    char full[PATH_MAX] = "";
    norm_append(full, path);
    /* The path names a directory when it says so (trailing '/', ".") or is one; the node's
     * file is then the file in it. */
    size_t plen = strlen(path);
    bool is_dir = path[plen - 1] == '/' || !full[0] || file;
    if (!is_dir) {
        int fd = px_fsroot_openat(t->rootfd, full, O_RDONLY | O_DIRECTORY, 0);
        if (fd >= 0) {
            is_dir = true;
            close(fd);
        } else if (fd == -ELOOP || fd == -EXDEV) {
            rc = open_error(-fd, "path", path, err);
            goto fail;
        } else if (fd == -ENOENT && strcmp(ext, "db") != 0) {
            /* CSV and JSON Lines: a missing name without an extension is a directory. */
            const char *last = strrchr(full, '/');
            is_dir = !strchr(last ? last + 1 : full, '.');
        }
    }
    if (is_dir && file) {
        norm_append(full, file);
        is_dir = false;
    }
    if (is_dir) {
        snprintf(t->dirrel, sizeof(t->dirrel), "%s", full);
        if (!probe && !dest) {
            rc = px_error_set(err, PX_EINVALID, "path '%s' is a directory", path);
            px_error_hint(err, "set the source node's config.file to the file to read in it");
            goto fail;
        }
        if (dest) {
            /* The naming rule: a directory destination writes <node id>.<ext> in it. */
            char *w = t->name;
            for (const char *p = ctx->node_id; *p && w < t->name + 200; p++)
                *w++ = isalnum((unsigned char)*p) || *p == '-' || *p == '_' ? *p : '_';
            snprintf(w, sizeof(t->name) - (size_t)(w - t->name), ".%s", ext);
            t->named_by_rule = true;
        }
    } else {
        char *slash = strrchr(full, '/');
        const char *base = slash ? slash + 1 : full;
        size_t bl = strlen(base); /* px_fsroot_check_rel bounds every name to 255 bytes */
        memcpy(t->name, base, bl < sizeof(t->name) ? bl + 1 : 0);
        t->name[sizeof(t->name) - 1] = '\0';
        if (slash)
            snprintf(t->dirrel, sizeof(t->dirrel), "%.*s", (int)(slash - full), full);
    }
    snprintf(t->rel, sizeof(t->rel), "%s%s%s", t->dirrel, t->dirrel[0] && t->name[0] ? "/" : "",
             t->name);
    if (!t->rel[0])
        snprintf(t->rel, sizeof(t->rel), ".");
    const char *dshow = t->dirrel[0] ? t->dirrel : ".";
    t->dirfd = px_fsroot_openat(t->rootfd, t->dirrel, O_RDONLY | O_DIRECTORY, 0);
    if (t->dirfd == -ENOENT && dest && !probe) {
        int mrc = px_fsroot_mkdirs(t->rootfd, t->dirrel, 0755);
        t->dirfd =
            mrc < 0 ? mrc : px_fsroot_openat(t->rootfd, t->dirrel, O_RDONLY | O_DIRECTORY, 0);
    } else if (t->dirfd == -ENOENT && dest) {
        /* test_connection of a destination: the run will create the directory; what must hold
         * now is that the nearest existing directory above it is one the server can write. */
        char up[PATH_MAX];
        snprintf(up, sizeof(up), "%s", t->dirrel);
        for (;;) {
            char *s = strrchr(up, '/');
            if (s)
                *s = '\0';
            else
                up[0] = '\0';
            t->dirfd = px_fsroot_openat(t->rootfd, up, O_RDONLY | O_DIRECTORY, 0);
            if (t->dirfd != -ENOENT || !up[0])
                break;
        }
        t->dir_missing = t->dirfd >= 0;
    }
    if (t->dirfd < 0) {
        rc = open_error(-t->dirfd, "the directory", dshow, err);
        goto fail;
    }
    return 0;
fail:
    px__files_target_close(t);
    return rc;
}

void px__files_target_close(struct px_file_target *t)
{
    if (t->dirfd >= 0)
        close(t->dirfd);
    if (t->rootfd >= 0)
        close(t->rootfd);
    t->dirfd = t->rootfd = -1;
}

int px__files_open(const struct px_file_target *t, int flags, unsigned mode, struct px_error *err)
{
    /* O_NONBLOCK: opening a FIFO must not hang; it is refused below like any non-file. */
    int fd = openat(t->dirfd, t->name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            bool dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
            close(fd);
            if (dir)
                return open_error(EISDIR, "file", t->rel, err);
            return px_error_set(err, PX_EINVALID, "'%s' is not a regular file", t->rel);
        }
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        return fd;
    }
    int e = errno;
    if (e == ELOOP || e == EMLINK)
        return link_error(t->rel, err);
    return open_error(e, "file", t->rel, err);
}

int px_engine_check_params(const char *type, struct json_object *params, struct px_error *err)
{
    if (!type ||
        (strcmp(type, "csv") != 0 && strcmp(type, "jsonl") != 0 && strcmp(type, "sqlite") != 0))
        return 0;
    const char *path = px_json_get_str(params, "path");
    int rc = path ? px_fsroot_check_rel("path", path, err) : 0;
    if (rc < 0)
        px_error_field(err, "params.path");
    return rc;
}

/* ---- the run's write cap and the organization's quota ---- */

/* Sums the sizes of the regular files below dfd (closed), never following links; at most 16
 * levels and 1,000,000 entries (what lies past that is not counted). */
static long long dir_bytes(int dfd, int depth, long *entries)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 0;
    }
    long long sum = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && ++*entries < 1000000) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            sum += st.st_size;
        } else if (S_ISDIR(st.st_mode) && depth < 16) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                sum += dir_bytes(sub, depth + 1, entries);
        }
    }
    closedir(d);
    return sum;
}

int px__files_charge(const struct px_engine_opts *opts, struct px_files_usage *u, long long bytes,
                     struct px_error *err)
{
    if (!u || bytes <= 0)
        return 0;
    long long written = atomic_fetch_add(&u->written, bytes) + bytes;
    const long long mb = 1024 * 1024;
    int rc;
    if (opts->run_write_limit_bytes > 0 && written > opts->run_write_limit_bytes) {
        rc = px_error_set(err, PX_ETOOLARGE,
                          "the run would write more than %lld MB to files, its limit "
                          "(PLANASONIX_RUN_WRITE_MB)",
                          (long long)opts->run_write_limit_bytes / mb);
        px_error_hint(err, "write less per run (a filter, a limit, an incremental source), or "
                           "ask the operator to raise PLANASONIX_RUN_WRITE_MB");
        return rc;
    }
    if (opts->files_quota_bytes <= 0)
        return 0;
    long long used = atomic_load(&u->used_at_start);
    if (used < 0) {
        int fd = open(opts->files_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        long entries = 0;
        used = fd >= 0 ? dir_bytes(fd, 0, &entries) : 0;
        /* What this run wrote before the first measurement is in the sum already. */
        used -= written - bytes;
        if (used < 0)
            used = 0;
        long long expected = -1;
        if (!atomic_compare_exchange_strong(&u->used_at_start, &expected, used))
            used = expected;
    }
    if (used + written > opts->files_quota_bytes) {
        rc = px_error_set(err, PX_ETOOLARGE,
                          "the organization's files directory would pass its quota of %lld MB "
                          "(PLANASONIX_ORG_DISK_QUOTA_MB): it held %lld MB before this run",
                          (long long)opts->files_quota_bytes / mb, used / mb);
        px_error_hint(err, "delete files the organization no longer needs (replace mode instead "
                           "of append helps), or ask the operator to raise "
                           "PLANASONIX_ORG_DISK_QUOTA_MB");
        return rc;
    }
    return 0;
}
