// The FUSE low-level server over libsquashfuse_ll: the ops table ("no open" mode), readiness, the session.
//
// Order matters: the system headers first, then FUSE, then squashfuse, whose config.h redefines
// _POSIX_C_SOURCE and would otherwise hide st_ctim from struct stat.
#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <float.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define FUSE_USE_VERSION 32
#include <fuse_lowlevel.h>
#include <squashfuse/ll.h>

#include "CXarFuse.h"
#include "blocks.h"
#include "plan.h"
#include "names.h"
#include "prefetch.h"
#include "support.h"
#include "xattrs.h"

int xar_fuse_library_version(void) { return fuse_version(); }

struct xar_server {
    // First member: libsquashfuse's ops cast the session's userdata to `sqfs_ll *`.
    sqfs_ll ll;
    // Written `ok\n` and closed when INIT is answered; -1 afterwards.
    int ready_fd;
    int ready;
    // CLOCK_MONOTONIC nanoseconds of the last request that may read the image; the local copy yields to them.
    int64_t last_request_ns;
    // XAR_SERVER_TRACE=1: one stderr line per request that reaches the server (for counting round trips).
    int trace;
    // XAR_SERVER_FAULT=abort-on-lookup:NAME, for the tests of what a crash leaves behind: a lookup of NAME aborts
    // the server, as a bug would, while the lookup waits for its answer. NULL when unset.
    char *abort_on_lookup;
    struct fuse_session *session;
    // Whether open and opendir are answered with ENOSYS ("no open" mode): set at INIT from what the kernel
    // supports, unless XAR_NO_OPEN=0.
    int no_open, no_opendir;
    // Knobs from xar_server_configure (zero, the default: "no open" where the kernel has it, read-ahead on).
    int open_answered, prefetch_off;
    // Decompressed data blocks, shared with the read-ahead thread (blocks.c), and the start-up plan and record
    // (plan.c).
    xar_blocks *blocks;
    xar_plan *plan;
    int planned;
    // The names the start looks up, recorded and (from the plan) replayed as soon as the mount is ready (names.c).
    xar_names *names;
    char *mountpoint;
    // Read-ahead threads: the start-up plan and whole files (prefetch.c); NULL when off or not started. The lock
    // keeps the replay's thread (file_known) from using them while the loop thread stops them.
    xar_prefetch *prefetch;
    pthread_mutex_t prefetch_lock;
};

// The kernel keeps a dentry (and a negative dentry) this long; the image never changes, so "forever", as
// libsquashfuse does for the entries it finds (libfuse clamps it to what the protocol can carry).
#define XAR_ENTRY_TIMEOUT DBL_MAX

#define TRACE(server, ...) do { if ((server)->trace) fprintf(stderr, "request " __VA_ARGS__); } while (0)

// MARK: - libfuse's messages

// libfuse reports mount failures only through its log function, which has no userdata; the last message is kept
// here so that the one error line we send to the launcher says what libfuse said. Only the loop thread logs.
static char last_fuse_message[512];

static void xar_log(enum fuse_log_level level, const char *format, va_list args) {
    (void)level;
    va_list copy;
    va_copy(copy, args);
    vsnprintf(last_fuse_message, sizeof last_fuse_message, format, copy);
    va_end(copy);
    size_t length = strlen(last_fuse_message);
    while (length > 0 && last_fuse_message[length - 1] == '\n') last_fuse_message[--length] = '\0';
    // Also to stderr, which is the server's log file when XAR_SERVER_LOG is set and /dev/null otherwise.
    vfprintf(stderr, format, args);
}

static void copy_fuse_message(char *error, size_t size, const char *fallback) {
    const char *text = last_fuse_message[0] ? last_fuse_message : fallback;
    if (strncmp(text, "fuse: ", 6) == 0) text += 6;
    snprintf(error, size, "%s", text);
}

// MARK: - The image

// The superblock's 96 bytes, which a start-up plan carries to be refused for any other image. The image was checked
// before (XarMount.Server.ImageCheck, by the Swift reader: superblock, tables, directories, inodes, block lists):
// libsquashfuse trusts what it reads.
static int read_superblock(int fd, uint64_t offset, unsigned char sb[XAR_SUPERBLOCK_BYTES], char *error, size_t size) {
    ssize_t got;
    do got = pread(fd, sb, XAR_SUPERBLOCK_BYTES, (off_t)offset);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        snprintf(error, size, "it cannot be read (%s)", strerror(errno));
        return -EIO;
    }
    if (got < XAR_SUPERBLOCK_BYTES) {
        snprintf(error, size, "it is truncated: no complete SquashFS superblock at byte %llu", (unsigned long long)offset);
        return -EIO;
    }
    return 0;
}

// libsquashfuse 0.1.105 keeps 8 metadata blocks decompressed, evicting the oldest first. A cold start looks names
// up in many directories and reads the inodes and block lists of hundreds of files: each lookup after its block
// was evicted decompresses it (8 KiB) again. Blocks are allocated only when used: at most 2 MiB (256 blocks).
// Data and fragment blocks are read through the cache the server's threads share (blocks.c), 8 MiB;
// libsquashfuse's own data and fragment caches are not used.
#define XAR_METADATA_CACHE_BLOCKS 256
#define XAR_SHARED_DATA_BYTES (8u << 20)

static sqfs_err enlarge_caches(sqfs *fs) {
    sqfs_cache_destroy(&fs->md_cache);
    return sqfs_block_cache_init(&fs->md_cache, XAR_METADATA_CACHE_BLOCKS);
}

void xar_server_configure(xar_server *server, const xar_server_settings *settings) {
    server->trace = settings->trace != 0;
    server->open_answered = settings->no_open == 0;
    server->prefetch_off = settings->prefetch == 0;
    if (settings->abort_on_lookup) server->abort_on_lookup = strdup(settings->abort_on_lookup);
}

xar_server *xar_server_open(int image_fd, uint64_t offset, char *error, size_t error_size) {
    // Before any thread starts: the helper threads allocate from the main arena, and an idle server keeps no
    // arena per thread (memory.c).
    xar_limit_arenas();
    unsigned char superblock[XAR_SUPERBLOCK_BYTES];
    if (read_superblock(image_fd, offset, superblock, error, error_size) != 0) return NULL;
    xar_server *server = calloc(1, sizeof *server);
    if (!server) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    server->ready_fd = -1;
    pthread_mutex_init(&server->prefetch_lock, NULL);
    sqfs_err err = sqfs_init(&server->ll.fs, image_fd, (size_t)offset);
    if (err == SQFS_OK
        && (enlarge_caches(&server->ll.fs) != SQFS_OK
            || !(server->blocks = xar_blocks_new(server->ll.fs.sb.block_size, XAR_SHARED_DATA_BYTES, superblock))
            || !(server->plan = xar_plan_new(server->blocks))
            || !(server->names = xar_names_new()))) {
        // The caches may be half made; the process reports this and exits, so nothing is freed here.
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    if (err == SQFS_OK) {
        if (sqfs_ll_init(&server->ll) != SQFS_OK) {
            snprintf(error, error_size, "its root directory cannot be read (the image is corrupt)");
            sqfs_ll_destroy(&server->ll);
            free(server);
            return NULL;
        }
        sqfs_inode root;
        if (sqfs_inode_get(&server->ll.fs, &root, sqfs_inode_root(&server->ll.fs)) != SQFS_OK
            || !S_ISDIR(root.base.mode)) {
            snprintf(error, error_size, "its root directory cannot be read (the image is corrupt)");
            sqfs_ll_destroy(&server->ll);
            free(server);
            return NULL;
        }
        return server;
    }
    switch (err) {
    case SQFS_BADCOMP: {
        const char *name = sqfs_compression_name(server->ll.fs.sb.compression);
        snprintf(error, error_size, "it is compressed with %s, which this build of libsquashfuse cannot read",
            name ? name : "an unknown method");
        break;
    }
    case SQFS_BADVERSION: snprintf(error, error_size, "its SquashFS version is not 4.0"); break;
    case SQFS_BADFORMAT: snprintf(error, error_size, "it is not a SquashFS image"); break;
    default: snprintf(error, error_size, "its id, fragment or export table cannot be read (the image is corrupt)");
    }
    free(server);
    return NULL;
}

// MARK: - Ops: libsquashfuse's, without open handles, plus negative entries and readiness

// Blocks the application needs this long after the mount is ready make the start-up record (plan.c).
#define XAR_RECORD_SECONDS 5.0

// The replay of the plan's names looked file `ino` up: the read-ahead may store its planned pieces now.
static void file_known(void *context, uint64_t ino) {
    xar_server *server = context;
    pthread_mutex_lock(&server->prefetch_lock);
    xar_prefetch_note_known(server->prefetch, (fuse_ino_t)ino);
    pthread_mutex_unlock(&server->prefetch_lock);
}

static void report_ready(xar_server *server) {
    if (server->ready_fd < 0) return;
    (void)xar_plan_record(server->plan, XAR_RECORD_SECONDS);
    (void)xar_names_record(server->names, XAR_RECORD_SECONDS);
    // Its lookups wait in the kernel until INIT is answered, right after this.
    if (server->mountpoint) (void)xar_names_replay(server->names, server->mountpoint, file_known, server);
    static const char ok[] = "ok\n";
    ssize_t written;
    do written = write(server->ready_fd, ok, sizeof ok - 1);
    while (written < 0 && errno == EINTR);
    close(server->ready_fd);
    server->ready_fd = -1;
    __atomic_store_n(&server->ready, 1, __ATOMIC_SEQ_CST);
}

static void xar_op_init(void *userdata, struct fuse_conn_info *conn) {
    xar_server *server = userdata;
    // The image never changes: symlink targets may be cached like data, and mtime checks are pointless.
    if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
    conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
    // Kernels before FUSE_NO_OPEN_SUPPORT (4.19) and FUSE_NO_OPENDIR_SUPPORT (5.1) would hand ENOSYS to the
    // application's open(); there the server opens as libsquashfuse does.
    int allowed = !server->open_answered;
    server->no_open = allowed && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT);
    server->no_opendir = allowed && (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT);
    report_ready(server);
}

// "No open" mode: open and opendir are answered with ENOSYS, which the kernel (FUSE_NO_OPEN_SUPPORT,
// FUSE_NO_OPENDIR_SUPPORT) remembers for the connection: it stops sending open, opendir, release and releasedir,
// and treats every later open as having keep_cache (and cache_readdir for directories). A hot run of a Python
// application opens hundreds of files, each of which cost two round trips to this process before. Reads and
// readdirs then arrive without a file handle (fh 0) and find their inode by number. On kernels without the
// feature, open and opendir make libsquashfuse's handles (read and readdir still look the inode up by number)
// and release and releasedir free them.
static void xar_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    xar_server *server = fuse_req_userdata(req);
    if (server->no_open) {
        TRACE(server, "open %llu: ENOSYS\n", (unsigned long long)ino);
        fuse_reply_err(req, ENOSYS);
        return;
    }
    TRACE(server, "open %llu\n", (unsigned long long)ino);
    sqfs_ll_op_open(req, ino, fi);
}

static void xar_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    xar_server *server = fuse_req_userdata(req);
    if (server->no_opendir) {
        TRACE(server, "opendir %llu: ENOSYS\n", (unsigned long long)ino);
        fuse_reply_err(req, ENOSYS);
        return;
    }
    TRACE(server, "opendir %llu\n", (unsigned long long)ino);
    // A listing never changes: let the kernel keep it across opens.
    fi->cache_readdir = 1;
    fi->keep_cache = 1;
    sqfs_ll_op_opendir(req, ino, fi);
}

static void xar_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    TRACE((xar_server *)fuse_req_userdata(req), "release %llu\n", (unsigned long long)ino);
    sqfs_ll_op_release(req, ino, fi);
}

static void xar_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    TRACE((xar_server *)fuse_req_userdata(req), "releasedir %llu\n", (unsigned long long)ino);
    sqfs_ll_op_releasedir(req, ino, fi);
}

static void note_request(fuse_req_t req) {
    xar_server *server = fuse_req_userdata(req);
    __atomic_store_n(&server->last_request_ns, xar_now_ns(), __ATOMIC_RELAXED);
}

// Looks `name` up in directory `parent`, as the kernel asks, and records the lookup for the start-up record
// (names.c): SQFS_OK with `*child` the FUSE inode number found (and `*entry` its entry), or 0 when the name is
// missing; an error when `parent` is not a directory that can be read.
static sqfs_err lookup_name(
    xar_server *server, uint64_t parent, const char *name, sqfs_dir_entry *entry, uint64_t *child) {
    *child = 0;
    sqfs_inode directory;
    bool found = false;
    if (sqfs_ll_inode(&server->ll, &directory, parent) != SQFS_OK || !S_ISDIR(directory.base.mode)) return SQFS_ERR;
    sqfs_err err = sqfs_dir_lookup(&server->ll.fs, &directory, name, strlen(name), entry, &found);
    if (err != SQFS_OK) return err;
    if (found) *child = server->ll.ino_fuse_num(&server->ll, entry);
    xar_names_note_lookup(server->names, parent, name, *child);
    return SQFS_OK;
}

// A missing name is answered with inode 0 and an infinite entry timeout instead of ENOENT: that is how FUSE
// lets the kernel keep a negative dentry. With ENOENT (libsquashfuse's answer) every failed stat or open of the
// same path comes back here; Python's import system probes several candidate names per package.
static void xar_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
    note_request(req);
    xar_server *server = fuse_req_userdata(req);
    if (server->abort_on_lookup && strcmp(name, server->abort_on_lookup) == 0) abort();
    sqfs_name buffer;
    sqfs_dir_entry entry;
    uint64_t child;
    sqfs_dentry_init(&entry, buffer);
    if (lookup_name(server, parent, name, &entry, &child) == SQFS_OK && child == 0) {
        TRACE(server, "lookup %llu %s: negative\n", (unsigned long long)parent, name);
        struct fuse_entry_param negative;
        memset(&negative, 0, sizeof negative);
        negative.ino = 0;
        negative.entry_timeout = XAR_ENTRY_TIMEOUT;
        fuse_reply_entry(req, &negative);
        return;
    }
    // Found, or an error: libsquashfuse looks it up again (cheap: the metadata block is cached) and replies.
    TRACE(server, "lookup %llu %s\n", (unsigned long long)parent, name);
    sqfs_ll_op_lookup(req, parent, name);
}

static void xar_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    TRACE((xar_server *)fuse_req_userdata(req), "getattr %llu\n", (unsigned long long)ino);
    sqfs_ll_op_getattr(req, ino, fi);
}

static void xar_op_readlink(fuse_req_t req, fuse_ino_t ino) {
    TRACE((xar_server *)fuse_req_userdata(req), "readlink %llu\n", (unsigned long long)ino);
    sqfs_ll_op_readlink(req, ino);
}

static void xar_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
    note_request(req);
    xar_server *server = fuse_req_userdata(req);
    TRACE(server, "read %llu %zu@%lld\n", (unsigned long long)ino, size, (long long)off);
    // By number: in "no open" mode there is no handle from open to carry the inode.
    sqfs_inode inode;
    if (sqfs_ll_inode(&server->ll, &inode, ino) != SQFS_OK) {
        fuse_reply_err(req, EIO);
        return;
    }
    if (!S_ISREG(inode.base.mode)) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    (void)fi;
    char *buffer = malloc(size ? size : 1);
    if (!buffer) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    sqfs_off_t length = (sqfs_off_t)size;
    if (xar_read_range(server->blocks, &server->ll.fs, ino, &inode, off, &length, buffer, XAR_READ_NEEDED) != SQFS_OK)
        fuse_reply_err(req, EIO);
    else
        fuse_reply_buf(req, length ? buffer : NULL, (size_t)length);
    free(buffer);
    xar_prefetch_note_read(server->prefetch, ino, &inode);
}

static void xar_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
    note_request(req);
    xar_server *server = fuse_req_userdata(req);
    TRACE(server, "readdir %llu\n", (unsigned long long)ino);
    // As for read: the directory handle libsquashfuse's opendir would have made.
    sqfs_ll_i directory = {.ll = &server->ll};
    if (sqfs_ll_inode(&server->ll, &directory.inode, ino) != SQFS_OK) {
        fuse_reply_err(req, EIO);
        return;
    }
    if (!S_ISDIR(directory.inode.base.mode)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    if (off == 0) xar_names_note_listing(server->names, ino);
    struct fuse_file_info handle = *fi;
    handle.fh = (uint64_t)(intptr_t)&directory;
    sqfs_ll_op_readdir(req, ino, size, off, &handle);
}

// The kernel forwards every ioctl on a file of the mount, and unlike open, flush or access it does not remember
// that a server has none: each one is a round trip, whatever the reply. CPython before 3.14 asks `isatty` (TCGETS)
// of every file its `open()` opens, so each module a stock interpreter imports from the mount costs one
// (docs/benchmarks.md, "Launching" (d)). Answered here rather than by libfuse so that the trace counts them.
static void xar_op_ioctl(fuse_req_t req, fuse_ino_t ino, int cmd, void *arg, struct fuse_file_info *fi,
    unsigned flags, const void *in_buf, size_t in_size, size_t out_size) {
    (void)arg, (void)fi, (void)flags, (void)in_buf, (void)in_size, (void)out_size;
    TRACE((xar_server *)fuse_req_userdata(req), "ioctl %llu %#x\n", (unsigned long long)ino, (unsigned)cmd);
    fuse_reply_err(req, ENOTTY);
}

// Every statfs reaches the server (`df`, xarctl's checks of a mount; the launcher's hot path makes none).
static void xar_op_statfs(fuse_req_t req, fuse_ino_t ino) {
    TRACE((xar_server *)fuse_req_userdata(req), "statfs %llu\n", (unsigned long long)ino);
    stfs_ll_op_statfs(req, ino);
}

// squashfuse's header declares nlookup as unsigned long where fuse3 has uint64_t; the same width here.
static void xar_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
    sqfs_ll_op_forget(req, ino, (unsigned long)nlookup);
}

static const struct fuse_lowlevel_ops xar_ops = {
    .init = xar_op_init,
    .lookup = xar_op_lookup,
    .forget = xar_op_forget,
    .getattr = xar_op_getattr,
    .readlink = xar_op_readlink,
    .open = xar_op_open,
    .read = xar_op_read,
    .release = xar_op_release,
    .opendir = xar_op_opendir,
    .readdir = xar_op_readdir,
    .releasedir = xar_op_releasedir,
    .statfs = xar_op_statfs,
    .ioctl = xar_op_ioctl,
    // Not libsquashfuse's: it swaps the `trusted.` and `security.` namespaces (see xattrs.c).
    .getxattr = xar_op_getxattr,
    .listxattr = xar_op_listxattr,
    .create = sqfs_ll_op_create,
};

// MARK: - The session

static void stop_prefetch(xar_server *server) {
    pthread_mutex_lock(&server->prefetch_lock);
    xar_prefetch_stop(server->prefetch);
    server->prefetch = NULL;
    pthread_mutex_unlock(&server->prefetch_lock);
}

int xar_server_mount(
    xar_server *server, const char *mountpoint, const char *options, int ready_fd, char *error, size_t error_size) {
    fuse_set_log_func(xar_log);
    last_fuse_message[0] = '\0';
    char *argv[] = {"xarfs", "-o", (char *)options, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    server->session = fuse_session_new(&args, &xar_ops, sizeof xar_ops, server);
    fuse_opt_free_args(&args);
    if (!server->session) {
        copy_fuse_message(error, error_size, "libfuse could not create a session");
        return -EIO;
    }
    // The read-ahead thread starts now, so that a start-up plan is being read while the kernel mounts.
    // XAR_PREFETCH=0 (xar_server_configure) turns it off.
    if (!server->prefetch_off)
        server->prefetch = xar_prefetch_start(
            server->session, server->blocks, server->plan, server->planned, server->ll.fs.fd, server->ll.fs.offset);
    if (fuse_session_mount(server->session, mountpoint) != 0) {
        stop_prefetch(server);
        copy_fuse_message(error, error_size, "libfuse could not mount it");
        fuse_session_destroy(server->session);
        server->session = NULL;
        return -EIO;
    }
    server->ready_fd = ready_fd;
    server->mountpoint = strdup(mountpoint);  // for the replay of the plan's names (none when out of memory)
    return 0;
}

int xar_server_run(xar_server *server) {
    if (fuse_set_signal_handlers(server->session) != 0) return -EIO;
    int result = fuse_session_loop(server->session);
    stop_prefetch(server);
    if (server->trace) {
        unsigned long long decompressed, waited, shared;
        xar_blocks_counts(server->blocks, &decompressed, &waited, &shared);
        unsigned long long saved, damaged;
        xar_blocks_saved_counts(server->blocks, &saved, &damaged);
        fprintf(stderr, "data blocks: %llu loaded (%llu while a read waited; %llu from saved copies, %llu damaged), "
            "%llu shared\n", decompressed, waited, saved, damaged, shared);
    }
    fuse_remove_signal_handlers(server->session);
    return result;
}

// Whether `piece` is exactly a piece of file `ino` of this image, as its inode's block list and fragment entry say:
// the read-ahead puts a planned piece's bytes into the page cache of file `ino` at `file_offset`, so a tampered plan
// could otherwise make the mount serve another file's bytes.
static bool piece_fits_image(xar_server *server, const xar_piece *piece) {
    sqfs *fs = &server->ll.fs;
    sqfs_inode inode;
    if (piece->ino == 0 || sqfs_ll_inode(&server->ll, &inode, (fuse_ino_t)piece->ino) != SQFS_OK
        || !S_ISREG(inode.base.mode))
        return false;
    uint64_t size = inode.xtra.reg.file_size, block_size = fs->sb.block_size;
    bool has_tail = inode.xtra.reg.frag_idx != SQUASHFS_INVALID_FRAG;
    uint64_t blocks = has_tail ? size / block_size : (size + block_size - 1) / block_size;
    if (piece->file_offset % block_size != 0 || piece->file_offset >= size) return false;
    if (piece->file_offset / block_size < blocks) {
        uint64_t left = size - piece->file_offset;
        if (piece->offset != 0 || piece->length != (left < block_size ? left : block_size)) return false;
        sqfs_blocklist list;
        if (sqfs_blockidx_blocklist(fs, &inode, &list, (sqfs_off_t)piece->file_offset) != SQFS_OK) return false;
        while (list.remain > 0) {
            if (sqfs_blocklist_next(&list) != SQFS_OK) return false;
            if (list.pos < piece->file_offset) continue;
            return list.pos == piece->file_offset && list.input_size != 0 && list.block == piece->position
                && list.header == piece->header;
        }
        return false;
    }
    struct squashfs_fragment_entry entry;
    if (!has_tail || inode.xtra.reg.frag_idx >= fs->sb.fragments
        || sqfs_frag_entry(fs, &entry, inode.xtra.reg.frag_idx) != SQFS_OK)
        return false;
    return entry.start_block == piece->position && entry.size == piece->header
        && piece->offset == inode.xtra.reg.frag_off && piece->length == size % block_size
        && piece->file_offset == size - size % block_size;
}

// Checks every piece of a plan file's piece section (its form: plan.c) against the image.
static bool plan_fits_image(xar_server *server, const uint8_t *bytes, size_t used) {
    enum { PIECE_BYTES = 36 };
    for (size_t at = XAR_PLAN_HEAD_BYTES; at + PIECE_BYTES <= used; at += PIECE_BYTES) {
        const uint8_t *entry = bytes + at;
        xar_piece piece = {
            .position = xar_le_read(entry, 8), .header = (uint32_t)xar_le_read(entry + 8, 4),
            .offset = (uint32_t)xar_le_read(entry + 12, 4), .length = (uint32_t)xar_le_read(entry + 16, 4),
            .ino = xar_le_read(entry + 20, 8), .file_offset = xar_le_read(entry + 28, 8)};
        if (!piece_fits_image(server, &piece)) return false;
    }
    return true;
}

int xar_server_set_startup_plan(xar_server *server, const uint8_t *bytes, size_t length) {
    if (server->session) return -EBUSY;
    size_t used = 0;
    int result = xar_plan_set(server->plan, bytes, length, &used);
    if (result != 0) return result == -2 ? -ESTALE : -EINVAL;  // plan.c: -2 another image, -1 no plan
    if (!plan_fits_image(server, bytes, used)) {
        xar_plan_drop(server->plan);  // a piece that is not its file's: the plan was tampered with, or is stale
        return -EINVAL;
    }
    if (xar_names_set_plan(server->names, bytes + used, length - used) != 0) {
        xar_plan_drop(server->plan);  // the file is damaged: its pieces are not trusted either
        return -EINVAL;
    }
    server->planned = 1;
    return 0;
}

int xar_server_use_saved_blocks(xar_server *server, int fd) {
    if (server->session) {
        close(fd);
        return -EBUSY;
    }
    int result;
    xar_saved *saved = xar_saved_open(fd, xar_blocks_superblock(server->blocks), server->ll.fs.sb.block_size, &result);
    if (saved) xar_blocks_use_saved(server->blocks, saved);
    return result == 0 ? 0 : result == -2 ? -ESTALE : -EINVAL;  // saved.c: -2 another image, -1 damaged
}

int xar_server_saved_blocks_current(xar_server *server) { return xar_plan_saved_current(server->plan); }

int xar_server_save_blocks(xar_server *server, int fd, size_t max_bytes) {
    return -xar_plan_save(server->plan, &server->ll.fs, fd, max_bytes);
}

// MARK: - A plan from the image's list of start-up files

// The directories of the previous path of the list, which the next one usually shares (the list is in the order
// a start opens files: one package's modules after another), with their FUSE inode numbers: each directory is
// looked up and recorded once.
#define XAR_LIST_DEPTH 32
typedef struct {
    size_t count;
    char names[XAR_LIST_DEPTH][SQUASHFS_NAME_LEN + 1];
    uint64_t inodes[XAR_LIST_DEPTH];
} list_prefix;

// Looks `path` up from the root as the kernel would, one name at a time, recording each lookup not already made
// for the previous path; notes the file's blocks when it is a regular file.
static void note_path(xar_server *server, char *path, list_prefix *prefix) {
    uint64_t parent = FUSE_ROOT_ID;
    char *rest = path, *name;
    size_t depth = 0, kept = 0;  // directories passed; those of them `prefix` holds
    while ((name = strsep(&rest, "/"))) {
        if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) break;
        if (rest && kept == depth && depth < prefix->count && strcmp(prefix->names[depth], name) == 0) {
            parent = prefix->inodes[depth];
            kept = ++depth;
            continue;
        }
        sqfs_name buffer;
        sqfs_dir_entry entry;
        uint64_t child;
        sqfs_dentry_init(&entry, buffer);
        if (lookup_name(server, parent, name, &entry, &child) != SQFS_OK || child == 0) break;
        if (!rest) {
            sqfs_inode inode;
            sqfs_err err = sqfs_inode_get(&server->ll.fs, &inode, sqfs_dentry_inode(&entry));
            if (err == SQFS_OK && S_ISREG(inode.base.mode))
                xar_plan_note_file(server->plan, &server->ll.fs, child, &inode);
            break;
        }
        if (kept == depth && depth < XAR_LIST_DEPTH && strlen(name) <= SQUASHFS_NAME_LEN) {
            strcpy(prefix->names[depth], name);
            prefix->inodes[depth] = child;
            kept = depth + 1;
        }
        depth++;
        parent = child;
    }
    prefix->count = kept;
}

// The list is at most this long (it is a hint; the rest is ignored).
#define XAR_START_LIST_MAX (256u << 10)

int xar_server_plan_from_list(xar_server *server, const char *list) {
    if (server->session) return -EBUSY;
    sqfs_inode inode;
    bool found = false;
    // libsquashfuse looks the path up from the inode it is given: the root's.
    if (sqfs_inode_get(&server->ll.fs, &inode, sqfs_inode_root(&server->ll.fs)) != SQFS_OK
        || sqfs_lookup_path(&server->ll.fs, &inode, list, &found) != SQFS_OK || !found || !S_ISREG(inode.base.mode))
        return -ENOENT;
    sqfs_off_t size = (sqfs_off_t)inode.xtra.reg.file_size;
    if (size > XAR_START_LIST_MAX) size = XAR_START_LIST_MAX;
    char *text = malloc((size_t)size + 1);
    if (!text) return -ENOMEM;
    if (size > 0 && sqfs_read_range(&server->ll.fs, &inode, 0, &size, text) != SQFS_OK) {
        free(text);
        return -EINVAL;
    }
    text[size] = '\0';
    // Recorded as a start would be, then turned into a plan the way a saved record is; the recording starts
    // afresh at INIT.
    if (xar_plan_record(server->plan, 3600) != 0 || xar_names_record(server->names, 3600) != 0) {
        free(text);
        return -EINVAL;
    }
    char *rest = text, *line;
    list_prefix prefix = {0};
    while ((line = strsep(&rest, "\n")))
        if (*line) note_path(server, line, &prefix);
    free(text);
    size_t length = xar_server_startup_record(server, NULL, 0);
    uint8_t *plan = length ? malloc(length) : NULL;
    int result = plan && xar_server_startup_record(server, plan, length) == length
        ? xar_server_set_startup_plan(server, plan, length)
        : -ENOENT;
    free(plan);
    return result;
}

size_t xar_startup_plan_max_bytes(void) { return xar_plan_max_bytes() + xar_names_plan_max_bytes(); }

// The plan file: the pieces (plan.c), then the names (names.c).
size_t xar_server_startup_record(xar_server *server, uint8_t *buffer, size_t capacity) {
    size_t pieces = xar_plan_copy_record(server->plan, NULL, 0);
    size_t names = xar_names_copy_record(server->names, NULL, 0);
    if (pieces == XAR_PLAN_HEAD_BYTES && names == 4) return 0;  // nothing was recorded
    if (buffer && capacity >= pieces + names) {
        (void)xar_plan_copy_record(server->plan, buffer, pieces);
        (void)xar_names_copy_record(server->names, buffer + pieces, names);
    }
    return pieces + names;
}

int64_t xar_server_last_request_ns(const xar_server *server) {
    return __atomic_load_n(&server->last_request_ns, __ATOMIC_RELAXED);
}

int xar_server_is_ready(const xar_server *server) { return __atomic_load_n(&server->ready, __ATOMIC_SEQ_CST); }

int xar_server_read_through(xar_server *server, int source_fd, int copy_fd, uint64_t copied_end, uint64_t tail_start) {
    return xar_blocks_read_through(server->blocks, source_fd, copy_fd, copied_end, tail_start);
}

void xar_server_copied(xar_server *server, uint64_t end) { xar_blocks_copied(server->blocks, end); }

int xar_server_plan_done(xar_server *server) { return xar_plan_done(server->plan); }

size_t xar_server_trim(xar_server *server) {
    xar_blocks_trim(server->blocks);
    xar_plan_trim(server->plan);
    xar_trim_heap();
    return xar_release_file_pages();
}

void xar_server_unmount(xar_server *server) {
    // A no-op when the mount is already gone (libfuse sees POLLERR on the device); otherwise a lazy unmount.
    // libfuse forgets the mount point once done, so xar_server_close's call is then a no-op too.
    if (server->session) fuse_session_unmount(server->session);
}

void xar_server_close(xar_server *server) {
    if (!server) return;
    stop_prefetch(server);  // mounted but never run
    if (server->session) {
        // A no-op when the mount is already gone (libfuse sees POLLERR on the device); otherwise a lazy unmount.
        fuse_session_unmount(server->session);
        fuse_session_destroy(server->session);
    }
    // The replay's lookups through the mount fail from here on: its process ends and its thread can be joined.
    xar_names_free(server->names);
    free(server->mountpoint);
    free(server->abort_on_lookup);
    // A ready fd still open here means INIT never came: the caller reports its error line through it and exits.
    sqfs_ll_destroy(&server->ll);
    xar_plan_free(server->plan);
    xar_blocks_free(server->blocks);
    free(server);
}
