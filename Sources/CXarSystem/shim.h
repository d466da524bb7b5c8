// The few libc calls Swift's Glibc module does not reach: <sys/vfs.h> is not part of it, and `flock` the
// function is shadowed by `struct flock`. Static inline, so nothing is linked.
#ifndef CXARSYSTEM_SHIM_H
#define CXARSYSTEM_SHIM_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <sys/vfs.h>

/// `statfs(2)`'s `f_type` for the file system holding `fd`, or -1 with `errno` set.
static inline long xar_fstatfs_type(int fd) {
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    return (long)info.f_type;
}

/// `pipe2(2)` with `O_CLOEXEC` (hidden from Swift without `_GNU_SOURCE`).
static inline int xar_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

/// `syncfs(2)`: flushes the whole file system holding `fd` (hidden from Swift without `_GNU_SOURCE`).
static inline int xar_syncfs(int fd) { return syncfs(fd); }

/// `flock(2)`.
static inline int xar_flock(int fd, int operation) { return flock(fd, operation); }

#endif
