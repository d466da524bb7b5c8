// The C side of the FUSE server: everything that must touch libfuse3 or libsquashfuse directly.
// This header is what Swift sees; it includes no fuse or squashfuse header on purpose (see docs/building.md).
#ifndef CXARFUSE_H
#define CXARFUSE_H

#include <stddef.h>
#include <stdint.h>

/// The libfuse3 version this server is linked against, as libfuse reports it (e.g. 314 for 3.14).
int xar_fuse_library_version(void);

/// One served image: libsquashfuse's state over an open image, and (once mounted) the FUSE session.
typedef struct xar_server xar_server;

/// Opens the SquashFS image open as `image_fd` at byte `offset` with libsquashfuse, which trusts every length,
/// index and offset in it: check the image first (XarMount.Server.ImageCheck, by the Swift reader).
///
/// Returns NULL and writes one sentence (without the file name) to `error` when the image cannot be read, uses a
/// compression libsquashfuse lacks, or libsquashfuse refuses it. `image_fd`
/// stays owned by the caller and must stay open as long as the server does: every later read goes through it.
xar_server *xar_server_open(int image_fd, uint64_t offset, char *error, size_t error_size);

/// The server's knobs, from the settings the Swift side read from the environment (docs/settings.md): the C code
/// never calls `getenv`. Each field is 0 or 1.
typedef struct xar_server_settings {
    /// `XAR_SERVER_TRACE=1`: log every request to stderr.
    int trace;
    /// `XAR_NO_OPEN` (default 1): answer open and opendir with ENOSYS where the kernel supports that.
    int no_open;
    /// `XAR_PREFETCH` (default 1): run the read-ahead thread.
    int prefetch;
    /// `XAR_SERVER_FAULT=abort-on-lookup:NAME` (tests only): the name whose lookup aborts the server; NULL: none.
    /// Copied.
    const char *abort_on_lookup;
} xar_server_settings;

/// Sets the knobs; call after `xar_server_open` and before `xar_server_mount`. Without it, trace is off and the
/// others are on.
void xar_server_configure(xar_server *server, const xar_server_settings *settings);

/// Creates the FUSE session with `options` (a `-o` list) and mounts it at `mountpoint`.
///
/// `ready_fd` is written `ok\n` and closed as soon as the kernel's INIT request is answered, that is when
/// the mount serves requests; it then belongs to the server. Returns 0, or -EIO with libfuse's reason in `error`.
int xar_server_mount(
    xar_server *server, const char *mountpoint, const char *options, int ready_fd, char *error, size_t error_size);

/// Serves requests on the calling thread until the mount goes away or SIGTERM, SIGINT or SIGHUP arrives.
///
/// Single-threaded on purpose: libsquashfuse's caches are not thread-safe. Returns 0 or a negative errno.
int xar_server_run(xar_server *server);

/// Gives the server, before it mounts, the start-up record of an earlier server of the same image (the bytes
/// `xar_server_startup_record` returned): its read-ahead thread then decompresses those blocks, in order, from the
/// start, and a thread of its own looks the recorded names up through the mount as soon as it is ready, ahead of
/// the application. Returns 0; -EINVAL when `bytes` are not a record or do not fit the image (each
/// piece is checked against its file's block list), -EBUSY when the server is already mounted, -ESTALE when the record
/// was made on another image (nothing changes then).
int xar_server_set_startup_plan(xar_server *server, const uint8_t *bytes, size_t length);

/// Makes a start-up plan, before the server mounts, from the image's own list of start-up files (`list`: the path
/// in the image of a text file, one path per line, relative to the image's root, in the order a start needs them):
/// the lookups of each path and every block of each file, as if a start had read them whole. For the first start
/// of an image on a host, which has no recorded plan. Returns 0, or a negative errno (-ENOENT: the image has no such
/// list, or it names nothing the image has).
int xar_server_plan_from_list(xar_server *server, const char *list);

/// The longest start-up record (and plan) there can be, in bytes.
size_t xar_startup_plan_max_bytes(void);

/// The start-up record: which image blocks the application read and which names it looked up in the first seconds
/// after the mount was ready, in order, in a form `xar_server_set_startup_plan` takes. Copies it to `buffer` if it fits in `capacity` and
/// returns its length (0 when there is none). Safe once `xar_server_run` has returned.
size_t xar_server_startup_record(xar_server *server, uint8_t *buffer, size_t capacity);

/// Unmounts (lazily) if the mount is still there, once `xar_server_run` has returned; the session's state stays for
/// `xar_server_save_blocks` until `xar_server_close`.
void xar_server_unmount(xar_server *server);

/// Gives the server, before it mounts, a file of decompressed start-up blocks that an earlier server of the same
/// image saved (`fd`, open for reading; the server owns it from here on, and closes it when refusing it): the blocks
/// it holds are read from it instead of decompressed. Returns 0; -EINVAL when it is no such file or is damaged,
/// -EBUSY when the server is already mounted, -ESTALE when it was saved for another image.
int xar_server_use_saved_blocks(xar_server *server, int fd);

/// True when the saved blocks in use are exactly the blocks this session's start-up record names, none found
/// damaged: saving them again would write the same file. Safe once `xar_server_run` has returned.
int xar_server_saved_blocks_current(xar_server *server);

/// Writes the blocks of the start-up record, decompressed, to `fd` (a new, empty file; the caller syncs and renames
/// it), up to `max_bytes` of block data, in the form `xar_server_use_saved_blocks` takes. Returns 0 or a negative
/// errno (-ENODATA: nothing was recorded). Safe once `xar_server_run` has returned.
int xar_server_save_blocks(xar_server *server, int fd, size_t max_bytes);

/// CLOCK_MONOTONIC time in nanoseconds of the last lookup, readdir or read request (0 before the first);
/// safe to call from any thread. The local copy slows down while requests are coming in.
int64_t xar_server_last_request_ns(const xar_server *server);

/// True when the kernel has answered INIT, i.e. readiness was reported.
int xar_server_is_ready(const xar_server *server);

/// Starts reading through into the local copy of the image file (docs/lifecycle.md, "Source loss"): every data or
/// fragment block not yet in the copy (`copy_fd`, read-write) is read from `source_fd` and written there before it
/// is used. The copy already holds the bytes before `copied_end` and from `tail_start` on. 0, or -1 when out of
/// memory. Both descriptors stay the caller's and must stay open for the server's life; any thread.
int xar_server_read_through(xar_server *server, int source_fd, int copy_fd, uint64_t copied_end, uint64_t tail_start);

/// The local copy now holds the image file's bytes before `end`; any thread.
void xar_server_copied(xar_server *server, uint64_t end);

/// True when the start-up plan has been read ahead (or there is none): the launch has what it needs.
int xar_server_plan_done(xar_server *server);

/// Returns memory the server no longer needs once its start is over: the decompressed blocks nobody holds, the
/// start-up plan, the record's index, the allocator's free pages, and the executable's pages mapped by the start
/// (they stay in the page cache; memory.c). Returns the size of the executable's mappings advised. Any thread,
/// after the start-up window.
size_t xar_server_trim(xar_server *server);

/// Gives the allocator's free pages back again and unmaps again the executable's pages that the last
/// `xar_server_trim` unmapped and that code run since mapped back (memory.c): malloc_trim and two or three madvise
/// calls. Any thread; only the heap before the first trim.
void xar_release_file_pages_again(void);

/// Lowers the calling thread's CPU priority (nice 19) and gives it the idle I/O class (`ioprio_set`
/// IOPRIO_CLASS_IDLE): it runs only when nothing else wants the CPU or the disk.
void xar_thread_lower_priority(void);

/// Unmounts (lazily, if still mounted), ends the session and frees everything. A ready fd that never got `ok`
/// stays open, so that the caller can still write its error line to it.
void xar_server_close(xar_server *server);

/// Detaches the calling process from its parent, session and terminal, as a daemon does.
///
/// Forks; the parent exits 0 at once (so whoever spawned it can reap it at once and the server is never
/// a zombie child of the program the launcher execs). The child becomes a session leader, changes to `/`,
/// points stdin and stdout at /dev/null and stderr at `stderr_fd` (or /dev/null when negative), closes every
/// other descriptor except those in `keep`, and names itself `name` for `ps -e` and /proc/PID/comm.
/// Returns 0 in the child, or a negative errno (in the original process) when fork fails.
int xar_detach(const char *name, int stderr_fd, const int *keep, int keep_count);

/// What `xar_probe_statfs` found.
enum { XAR_PROBE_ALIVE = 0, XAR_PROBE_DEAD = 1, XAR_PROBE_NO_ANSWER = 2, XAR_PROBE_ERROR = 3 };

/// Asks `statfs(path)` in a child process, killed after `timeout_ms`: XAR_PROBE_ALIVE when it answered,
/// XAR_PROBE_DEAD when the mount's server is gone (ENOTCONN, ECONNABORTED), XAR_PROBE_NO_ANSWER when it did not
/// answer in time (a stopped or stuck server), XAR_PROBE_ERROR for any other failure; a negative errno when no child
/// could be started. The caller never waits on the mount itself.
int xar_probe_statfs(const char *path, int timeout_ms);

#endif
