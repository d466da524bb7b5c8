// Background read-ahead: when a file of a few blocks is first read, a second thread decompresses the rest of
// it and pushes the data into the kernel's page cache (FUSE_NOTIFY_STORE), so that the application's later page
// faults and reads find it there instead of waiting for the server. On a cold start the loop thread and the
// application then share the machine with this thread: decompression overlaps with the application's own work.
//
// libsquashfuse's caches are not thread-safe, so this thread has its own `sqfs` over the same descriptor
// (reads are `pread`s, the decompressors keep no shared state), and takes from the loop thread only copies of
// inodes. The kernel accepts a store only for an inode it has in its cache; a store it refuses is dropped.
#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "prefetch.h"

// Files between two blocks and this size are read ahead; smaller ones are one read anyway, larger ones are
// rarely read whole (data sets, archives) and would fill the page cache for nothing.
#define XAR_PREFETCH_MAX_FILE (16u << 20)
#define XAR_PREFETCH_QUEUE 256
#define XAR_PREFETCH_SEEN 8192

struct xar_prefetch {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool stop;
    struct fuse_session *session;
    sqfs fs;
    struct { fuse_ino_t ino; sqfs_inode inode; } queue[XAR_PREFETCH_QUEUE];
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

static void *run(void *argument) {
    xar_prefetch *p = argument;
    size_t block = p->fs.sb.block_size;
    char *buffer = malloc(block);
    if (!buffer) return NULL;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        if (p->count == 0) {
            pthread_cond_wait(&p->wake, &p->lock);
            continue;
        }
        fuse_ino_t ino = p->queue[p->head].ino;
        sqfs_inode inode = p->queue[p->head].inode;
        p->head = (p->head + 1) % XAR_PREFETCH_QUEUE;
        p->count--;
        pthread_mutex_unlock(&p->lock);
        uint64_t size = inode.xtra.reg.file_size;
        for (uint64_t offset = 0; offset < size && !__atomic_load_n(&p->stop, __ATOMIC_RELAXED); offset += block) {
            sqfs_off_t length = (sqfs_off_t)block;
            if (sqfs_read_range(&p->fs, &inode, (sqfs_off_t)offset, &length, buffer) != SQFS_OK || length <= 0) break;
            struct fuse_bufvec data = FUSE_BUFVEC_INIT((size_t)length);
            data.buf[0].mem = buffer;
            int stored = fuse_lowlevel_notify_store(p->session, ino, (off_t)offset, &data, 0);
            if (stored != 0) break;  // the kernel forgot the inode, or the mount is gone
        }
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    free(buffer);
    return NULL;
}

xar_prefetch *xar_prefetch_start(struct fuse_session *session, int image_fd, size_t offset) {
    xar_prefetch *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    if (sqfs_init(&p->fs, image_fd, offset) != SQFS_OK) {
        free(p);
        return NULL;
    }
    p->session = session;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    // The thread blocks every signal (it inherits this mask), so SIGTERM reaches the loop thread and ends its
    // read of /dev/fuse instead of landing here.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    int created = pthread_create(&p->thread, NULL, run, p);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (created != 0) {
        sqfs_destroy(&p->fs);
        free(p);
        return NULL;
    }
    return p;
}

void xar_prefetch_note_read(xar_prefetch *p, fuse_ino_t ino, const sqfs_inode *inode) {
    if (!p || !S_ISREG(inode->base.mode)) return;
    uint64_t size = inode->xtra.reg.file_size;
    if (size <= 2 * (uint64_t)p->fs.sb.block_size || size > XAR_PREFETCH_MAX_FILE) return;
    if (!mark_seen(p, ino)) return;
    pthread_mutex_lock(&p->lock);
    if (p->count < XAR_PREFETCH_QUEUE) {
        size_t tail = (p->head + p->count) % XAR_PREFETCH_QUEUE;
        p->queue[tail].ino = ino;
        p->queue[tail].inode = *inode;
        p->count++;
        pthread_cond_signal(&p->wake);
    }
    pthread_mutex_unlock(&p->lock);
}

void xar_prefetch_stop(xar_prefetch *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    __atomic_store_n(&p->stop, true, __ATOMIC_RELAXED);
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    sqfs_destroy(&p->fs);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
