// Background read-ahead on threads of its own, so that on a cold start decompression overlaps with the
// application's own work instead of stalling it. Two kinds of work, the first first:
//
// - The start-up plan (plan.c): the blocks the last start of this image needed, in order, decompressed into the
//   block cache the loop thread reads from, from the moment the server starts and a bounded number of blocks ahead
//   of the application.
// - Whole files: when a file of a few blocks is first read, the rest of it is decompressed and pushed into the
//   kernel's page cache (FUSE_NOTIFY_STORE), so the application's later page faults and reads find it there. The
//   kernel accepts a store only for an inode it has in its cache; a store it refuses is dropped.
//
// libsquashfuse's caches are not thread-safe, so each thread has its own `sqfs` over the same descriptor
// (reads are `pread`s, the decompressors keep no shared state), and takes from the loop thread only copies of
// inodes. Data blocks come from the cache both threads share, so a block the loop thread is decompressing for a
// page fault is not decompressed here again, nor the other way round.
#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "prefetch.h"
#include "support.h"

// Files between two blocks and this size are read ahead; smaller ones are one read anyway, larger ones are
// rarely read whole (data sets, archives) and would fill the page cache for nothing.
#define XAR_PREFETCH_MAX_FILE (16u << 20)
#define XAR_PREFETCH_QUEUE 256
#define XAR_PREFETCH_SEEN 8192
// How many planned blocks may be kept decompressed for the application's reads (half the block cache).
#define XAR_PLAN_AHEAD 32
// Threads: one per online CPU but one (left to the application), at least one, at most this. (On two cores a
// second thread made cold starts slower: it competes with the application it should be ahead of.)
#define XAR_PREFETCH_MAX_THREADS 4

// A thread and its own libsquashfuse state.
struct worker {
    xar_prefetch *p;
    pthread_t thread;
    sqfs fs;
};

struct xar_prefetch {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    struct fuse_session *session;
    xar_blocks *blocks;
    xar_plan *plan;
    bool planning;
    // Whether there was a plan at all: its pieces may be stored after the pass over it is done.
    bool planned;
    size_t block_size;
    struct worker workers[XAR_PREFETCH_MAX_THREADS];
    size_t worker_count;
    // Files to read ahead: whole, or (while a plan is followed) only their planned pieces.
    struct { fuse_ino_t ino; sqfs_inode inode; bool planned; } queue[XAR_PREFETCH_QUEUE];
    size_t head, count;
    // Inode numbers already queued (open addressing; 0 = empty). Only the loop thread touches it.
    fuse_ino_t seen[XAR_PREFETCH_SEEN];
    size_t seen_count;
};

static bool mark_seen(xar_prefetch *p, fuse_ino_t ino) {
    if (p->seen_count >= XAR_PREFETCH_SEEN / 2) return false;
    size_t i = (size_t)(ino * 0x9E3779B97F4A7C15ull) % XAR_PREFETCH_SEEN;
    while (p->seen[i] != 0) {
        if (p->seen[i] == ino) return false;
        i = (i + 1) % XAR_PREFETCH_SEEN;
    }
    p->seen[i] = ino;
    p->seen_count++;
    return true;
}

// Pushes `length` bytes at `offset` of file `ino` into the kernel's page cache; false when the kernel does not have
// the inode (not looked up yet, or forgotten) or the mount is gone.
static bool store(xar_prefetch *p, fuse_ino_t ino, uint64_t offset, const char *data, size_t length) {
    struct fuse_bufvec buffer = FUSE_BUFVEC_INIT(length);
    buffer.buf[0].mem = (void *)data;
    return fuse_lowlevel_notify_store(p->session, ino, (off_t)offset, &buffer, 0) == 0;
}

static void read_ahead_file(struct worker *w, fuse_ino_t ino, sqfs_inode *inode, char *buffer) {
    xar_prefetch *p = w->p;
    size_t block = p->block_size;
    uint64_t size = inode->xtra.reg.file_size;
    for (uint64_t offset = 0; offset < size && !__atomic_load_n(&p->stop, __ATOMIC_RELAXED); offset += block) {
        sqfs_off_t length = (sqfs_off_t)block;
        sqfs_err err = xar_read_range(p->blocks, &w->fs, ino, inode, (sqfs_off_t)offset, &length, buffer, XAR_READ_AHEAD);
        if (err != SQFS_OK || length <= 0) return;
        // The kernel forgot the inode, or the mount is gone.
        if (!store(p, ino, offset, buffer, (size_t)length)) return;
    }
}

// A planned piece goes into the page cache at once if the kernel knows its file already (it has looked it up:
// the application is about to read it); otherwise it waits in the block cache for the application's read.
static bool store_piece(void *context, const xar_piece *piece, const char *data) {
    if (piece->ino == 0 || piece->length == 0) return false;
    return store(context, (fuse_ino_t)piece->ino, piece->file_offset, data, piece->length);
}

static void *run(void *argument) {
    struct worker *w = argument;
    xar_prefetch *p = w->p;
    // A block's worth for reading whole files ahead, made when one is to be read and given back whenever the
    // thread waits after the plan is done: an idle server keeps no scratch memory (docs/lifecycle.md).
    char *buffer = NULL;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        // A file being read now comes first; then the plan; then waiting for either.
        if (p->count > 0) {
            fuse_ino_t ino = p->queue[p->head].ino;
            sqfs_inode inode = p->queue[p->head].inode;
            bool planned = p->queue[p->head].planned;
            p->head = (p->head + 1) % XAR_PREFETCH_QUEUE;
            p->count--;
            pthread_mutex_unlock(&p->lock);
            if (planned) xar_plan_store_file(p->plan, &w->fs, ino, store_piece, p);
            else if (buffer || (buffer = malloc(p->block_size))) read_ahead_file(w, ino, &inode, buffer);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        if (p->planning) {
            pthread_mutex_unlock(&p->lock);
            int planned = xar_plan_read_next(p->plan, &w->fs, XAR_PLAN_AHEAD, store_piece, p);
            pthread_mutex_lock(&p->lock);
            if (planned < 0) __atomic_store_n(&p->planning, false, __ATOMIC_RELAXED);
            if (planned > 0) continue;
        }
        if (p->count == 0 && !p->stop) {
            if (!p->planning) {
                free(buffer);
                buffer = NULL;
            }
            pthread_cond_wait(&p->wake, &p->lock);  // a file, a read, or stop
        }
    }
    pthread_mutex_unlock(&p->lock);
    free(buffer);
    return NULL;
}

xar_prefetch *xar_prefetch_start(
    struct fuse_session *session, xar_blocks *blocks, xar_plan *plan, bool planning, int image_fd, size_t offset) {
    xar_prefetch *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->session = session;
    p->blocks = blocks;
    p->plan = plan;
    p->planning = planning;
    p->planned = planning;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t wanted = cpus <= 2 ? 1 : cpus - 1 > XAR_PREFETCH_MAX_THREADS ? XAR_PREFETCH_MAX_THREADS : (size_t)cpus - 1;
    while (p->worker_count < wanted) {
        struct worker *w = &p->workers[p->worker_count];
        w->p = p;
        if (sqfs_init(&w->fs, image_fd, offset) != SQFS_OK) break;
        p->block_size = w->fs.sb.block_size;
        if (xar_thread_start(&w->thread, run, w) != 0) {
            sqfs_destroy(&w->fs);
            break;
        }
        p->worker_count++;
    }
    if (p->worker_count == 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

// Queues file `ino` (with the lock held): its planned pieces, or the whole of `inode`. A full queue drops it.
static void enqueue(xar_prefetch *p, fuse_ino_t ino, const sqfs_inode *inode, bool planned) {
    if (p->count >= XAR_PREFETCH_QUEUE) return;
    size_t tail = (p->head + p->count) % XAR_PREFETCH_QUEUE;
    p->queue[tail].ino = ino;
    if (inode) p->queue[tail].inode = *inode;
    p->queue[tail].planned = planned;
    p->count++;
}

void xar_prefetch_note_read(xar_prefetch *p, fuse_ino_t ino, const sqfs_inode *inode) {
    if (!p || !S_ISREG(inode->base.mode)) return;
    uint64_t size = inode->xtra.reg.file_size;
    // While a plan is followed it has the file's blocks (its record had the read-ahead's too): the first read of
    // a file (the kernel knows it now) has its planned pieces stored. A file first read after the plan is done
    // is read ahead whole. `planning` is only ever cleared, by the threads themselves.
    bool planning = __atomic_load_n(&p->planning, __ATOMIC_RELAXED);
    bool first = mark_seen(p, ino);
    bool whole = !planning && first && size > 2 * (uint64_t)p->block_size && size <= XAR_PREFETCH_MAX_FILE;
    if (!whole && !planning) return;
    pthread_mutex_lock(&p->lock);
    if (whole || (planning && first)) enqueue(p, ino, inode, planning);
    if (planning) pthread_cond_broadcast(&p->wake);
    else pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

void xar_prefetch_note_known(xar_prefetch *p, fuse_ino_t ino) {
    if (!p || !p->planned) return;
    pthread_mutex_lock(&p->lock);
    enqueue(p, ino, NULL, true);
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

void xar_prefetch_stop(xar_prefetch *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    __atomic_store_n(&p->stop, true, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->worker_count; i++) {
        pthread_join(p->workers[i].thread, NULL);
        sqfs_destroy(&p->workers[i].fs);
    }
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
