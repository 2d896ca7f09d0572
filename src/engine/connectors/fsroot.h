/*
 * Opening files beneath an organization's files directory without ever following a link.
 *
 * A path a tenant gives (a connection's `path`, a node's `file`) is relative, has no `..`
 * and no reserved name, and is opened one directory fd at a time: openat2() with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS where the kernel has it, else a
 * component-by-component openat(O_NOFOLLOW) walk. A symbolic link anywhere below the root is
 * refused (ELOOP), so swapping a directory for a link between a check and the open cannot lead
 * outside: there is no separate check. The root itself is chosen by the operator and may be
 * reached through links.
 *
 * The side files the file destinations keep next to a target (engine/connectors/file.c) have
 * reserved names, `.NAME.px-journal` and `.NAME.px-tmp-XXXXXX`; paths naming them are refused.
 */
#ifndef PX_ENGINE_FSROOT_H
#define PX_ENGINE_FSROOT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct px_error;

/* Checks a relative path a tenant gave (what names it in the message: "path", "file"):
 * not empty, not absolute, no ".." component, no reserved side-file name, at most 1024 bytes.
 * 0, or -PX_EINVALID with a message that says what was wrong and a hint. */
int px_fsroot_check_rel(const char *what, const char *path, struct px_error *err);

/* Opens rel beneath the directory rootfd with flags (O_CREAT allowed, with mode); "" or "."
 * opens the root itself. Never follows a link. Returns an fd, or -errno: ELOOP for a link,
 * EXDEV for an escape, ENOENT, ENOTDIR, EACCES... */
int px_fsroot_openat(int rootfd, const char *rel, int flags, mode_t mode);

/* Creates every missing directory of rel beneath rootfd (mode for new ones), never following
 * a link. 0, or -errno. */
int px_fsroot_mkdirs(int rootfd, const char *rel, mode_t mode);

/* Tests only: use the openat(O_NOFOLLOW) walk even when openat2 exists. */
void px_fsroot_force_walk(bool on);

/* Whether a file name is one of the destinations' side files (journal or temporary file). */
bool px_fsroot_is_side_file(const char *name);

#endif
