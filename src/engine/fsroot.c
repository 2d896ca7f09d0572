/* Opening beneath a files directory without following links: see fsroot.h. */
#include "engine/fsroot.h"

#include "base/err.h"

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
