// The few libc calls Swift's Glibc module does not reach: <sys/vfs.h> is not part of it, `statx`, `pipe2`,
// `syncfs`, `mkostemp` and `dup3` need `_GNU_SOURCE`, and `flock` the function is shadowed by `struct flock`. Static
// inline, so nothing is linked.
#ifndef CXARSYSTEM_SHIM_H
#define CXARSYSTEM_SHIM_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <sys/vfs.h>

/// `statfs(2)`'s `f_type` for the file system holding `fd`, or -1 with `errno` set.
static inline long xar_fstatfs_type(int fd) {
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    return (long)info.f_type;
}

/// The device number (`st_dev`) of `path` as the kernel has it cached, or 0 with `errno` set: `statx(2)` with
/// `AT_STATX_DONT_SYNC` and an empty mask asks a FUSE server nothing, so a server may call it on its own mount
/// point before it answers requests.
static inline unsigned long long xar_cached_device(const char *path) {
    struct statx status;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, 0, &status) != 0) return 0;
    return (unsigned long long)makedev(status.stx_dev_major, status.stx_dev_minor);
}

/// `pipe2(2)` with `O_CLOEXEC` (hidden from Swift without `_GNU_SOURCE`).
static inline int xar_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

/// `syncfs(2)`: flushes the whole file system holding `fd` (hidden from Swift without `_GNU_SOURCE`).
static inline int xar_syncfs(int fd) { return syncfs(fd); }

/// `mkostemp(3)`, declared here rather than through <stdlib.h>: with `_GNU_SOURCE` that header pulls in
/// <sys/select.h>, whose `fd_set` then differs from the Glibc module's (`fds_bits` against `__fds_bits`) and a
/// clean build fails in every Swift file that sees both modules.
extern int mkostemp(char *template, int flags);

/// `mkostemp(3)` with `O_CLOEXEC` (hidden from Swift without `_GNU_SOURCE`): the descriptor is never inheritable.
static inline int xar_mkstemp_cloexec(char *template) { return mkostemp(template, O_CLOEXEC); }

/// `dup3(2)` with `O_CLOEXEC` (hidden from Swift without `_GNU_SOURCE`): `newfd` is never inheritable.
static inline int xar_dup_cloexec(int oldfd, int newfd) { return dup3(oldfd, newfd, O_CLOEXEC); }

/// `flock(2)`.
static inline int xar_flock(int fd, int operation) { return flock(fd, operation); }

#endif
