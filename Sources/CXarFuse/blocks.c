// Decompressed data blocks shared by the server's threads, and file reads over them.
//
// SquashFS stores a regular file as a list of data blocks, each compressed on its own, and maybe a tail packed
// into a fragment block (squashfs-tools-ng doc/format.adoc, "Data and fragment blocks"; the inode's
// `block_sizes` list gives each block's on-disk size, its position follows from `blocks_start`). The loop thread
// decompresses the blocks an application's reads and page faults need; the read-ahead thread (prefetch.c)
// decompresses whole files ahead of them. With a cache per thread, as libsquashfuse keeps, a block the
// application faults in while the read-ahead thread works on the same file is decompressed twice: on a cold start
// of a Python application, a quarter of all decompressions. Here the first read to need a block marks it as being
// loaded, and a read on the other thread that needs it meanwhile waits for it instead.
//
// Fragment blocks (the tails of small files packed together: most of a Python application's modules) are shared
// the same way.
//
// A block an earlier server saved decompressed (saved.c, `<mount point>.startup-blocks`) is read from there
// instead of decompressed. Whatever reads through the cache other than the start-up plan is shown to an observer:
// the start-up record (plan.c).
//
// Each thread passes its own `sqfs`: libsquashfuse's metadata and block-index caches are not thread-safe, so only
// data and fragment blocks, keyed by their position in the image, are shared.
#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "blocks.h"
#include "saved.h"
#include "support.h"

enum { EMPTY, LOADING, READY };

struct xar_block_entry {
    uint64_t position;
    sqfs_block *block;
    int state;
    unsigned readers;
    uint64_t last_use;
    // Read for the plan, not yet by the application, and not in the page cache: kept until the application reads
    // it or until this time (CLOCK_MONOTONIC ns; 0 = not kept).
    int64_t kept_until;
};

struct xar_blocks {
    pthread_mutex_t lock;
    pthread_cond_t loaded;
    uint64_t clock;
    unsigned long long decompressed, waited, shared;
    xar_blocks_observer observer;
    void *observer_context;
    // The image's superblock: a plan carries the one it was recorded on and is refused for any other image.
    uint8_t superblock[XAR_SUPERBLOCK_BYTES];
    // Decompressed blocks kept on the host by an earlier server (saved.c), read instead of decompressed; or NULL.
    xar_saved *saved;
    // Read-through into the local copy (xar_blocks_read_through); `copy_fd` is -1 while off. In the copy: the
    // file's bytes before `copied_end` and from `tail_start` on, and the blocks in `copied` (by file position).
    int source_fd, copy_fd;
    uint64_t copied_end, tail_start;
    xar_map copied;
    size_t copied_count;
    size_t count;
    struct xar_block_entry entries[];
};

static bool kept_for_plan(const struct xar_block_entry *e, int64_t now) { return e->kept_until > now; }

xar_blocks *xar_blocks_new(size_t block_size, size_t bytes, const uint8_t *superblock) {
    size_t count = block_size ? bytes / block_size : 0;
    if (count < 8) count = 8;
    xar_blocks *blocks = calloc(1, sizeof *blocks + count * sizeof(struct xar_block_entry));
    if (!blocks) return NULL;
    blocks->count = count;
    blocks->source_fd = blocks->copy_fd = -1;
    memcpy(blocks->superblock, superblock, XAR_SUPERBLOCK_BYTES);
    pthread_mutex_init(&blocks->lock, NULL);
    pthread_cond_init(&blocks->loaded, NULL);
    return blocks;
}

void xar_blocks_free(xar_blocks *blocks) {
    if (!blocks) return;
    xar_saved_close(blocks->saved);
    xar_map_free(&blocks->copied);
    for (size_t i = 0; i < blocks->count; i++)
        if (blocks->entries[i].block) sqfs_block_dispose(blocks->entries[i].block);
    pthread_cond_destroy(&blocks->loaded);
    pthread_mutex_destroy(&blocks->lock);
    free(blocks);
}

void xar_blocks_trim(xar_blocks *blocks) {
    pthread_mutex_lock(&blocks->lock);
    int64_t now = xar_now_ns();
    for (size_t i = 0; i < blocks->count; i++) {
        struct xar_block_entry *e = &blocks->entries[i];
        if (e->state != READY || e->readers != 0 || kept_for_plan(e, now)) continue;
        sqfs_block_dispose(e->block);
        *e = (struct xar_block_entry){.state = EMPTY};
    }
    pthread_mutex_unlock(&blocks->lock);
}

void xar_blocks_observe(xar_blocks *blocks, xar_blocks_observer observer, void *context) {
    blocks->observer = observer;
    blocks->observer_context = context;
}

void xar_blocks_counts(
    xar_blocks *blocks, unsigned long long *decompressed, unsigned long long *waited, unsigned long long *shared) {
    pthread_mutex_lock(&blocks->lock);
    *decompressed = blocks->decompressed;
    *waited = blocks->waited;
    *shared = blocks->shared;
    pthread_mutex_unlock(&blocks->lock);
}

// MARK: - Read-through into the local copy

int xar_blocks_read_through(xar_blocks *blocks, int source_fd, int copy_fd, uint64_t copied_end, uint64_t tail_start) {
    xar_map copied;
    if (!xar_map_init(&copied, 1024)) {
        xar_map_free(&copied);
        return -1;
    }
    pthread_mutex_lock(&blocks->lock);
    xar_map_free(&blocks->copied);
    blocks->copied = copied;
    blocks->copied_count = 0;
    blocks->source_fd = source_fd;
    blocks->copied_end = copied_end;
    blocks->tail_start = tail_start;
    __atomic_store_n(&blocks->copy_fd, copy_fd, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&blocks->lock);
    return 0;
}

void xar_blocks_copied(xar_blocks *blocks, uint64_t end) {
    pthread_mutex_lock(&blocks->lock);
    if (end > blocks->copied_end) blocks->copied_end = end;
    pthread_mutex_unlock(&blocks->lock);
}

// True when the file's bytes [start, start + size) are in the copy. With the lock held.
static bool in_copy(xar_blocks *blocks, uint64_t start, uint64_t size) {
    if (start + size <= blocks->copied_end || start >= blocks->tail_start) return true;
    return blocks->copied.values[xar_map_slot(&blocks->copied, start)] != 0;
}

// Notes that the block at file position `start` is in the copy, growing the map when half full. With the lock
// held. Out of memory, the block is simply not noted: it is read from the source again.
static void note_copied(xar_blocks *blocks, uint64_t start) {
    if (2 * (blocks->copied_count + 1) >= blocks->copied.slots) {
        xar_map bigger;
        if (!xar_map_init(&bigger, blocks->copied.slots)) {
            xar_map_free(&bigger);
            return;
        }
        for (size_t i = 0; i < blocks->copied.slots; i++) {
            if (blocks->copied.values[i] == 0) continue;
            size_t slot = xar_map_slot(&bigger, blocks->copied.keys[i]);
            bigger.keys[slot] = blocks->copied.keys[i];
            bigger.values[slot] = 1;
        }
        xar_map_free(&blocks->copied);
        blocks->copied = bigger;
    }
    size_t slot = xar_map_slot(&blocks->copied, start);
    if (blocks->copied.values[slot] != 0) return;
    blocks->copied.keys[slot] = start;
    blocks->copied.values[slot] = 1;
    blocks->copied_count++;
}

// Makes sure the stored bytes of block `position` (size word `header`) are in the copy: read from the source and
// written there at the same place, unless they are there already. 0, or -1 when the source (or the copy) failed.
static int copy_through(xar_blocks *blocks, sqfs *fs, uint64_t position, uint32_t header) {
    uint64_t size = header & ~(uint32_t)SQUASHFS_COMPRESSED_BIT_BLOCK;
    uint64_t start = (uint64_t)fs->offset + position;
    pthread_mutex_lock(&blocks->lock);
    bool present = in_copy(blocks, start, size);
    pthread_mutex_unlock(&blocks->lock);
    if (present || size == 0) return 0;
    char *bytes = malloc(size);
    if (!bytes) return -1;
    int result = xar_pread_all(blocks->source_fd, bytes, size, start) == 0
            && xar_pwrite_all(blocks->copy_fd, bytes, size, start) == 0
        ? 0
        : -1;
    free(bytes);
    if (result == 0) {
        pthread_mutex_lock(&blocks->lock);
        note_copied(blocks, start);
        pthread_mutex_unlock(&blocks->lock);
    }
    return result;
}

sqfs_err xar_blocks_read_own(xar_blocks *blocks, sqfs *fs, uint64_t position, uint32_t header, sqfs_block **out) {
    if (blocks->saved && xar_saved_read(blocks->saved, position, header, out) == SQFS_OK) return SQFS_OK;
    // Reading through: the block is in the copy before libsquashfuse reads it (from the copy, once the image
    // descriptor is switched to it; from the source until then).
    if (__atomic_load_n(&blocks->copy_fd, __ATOMIC_ACQUIRE) >= 0 && copy_through(blocks, fs, position, header) != 0)
        return SQFS_ERR;
    return sqfs_data_block_read(fs, (sqfs_off_t)position, header, out);
}

// The search is linear: the cache holds a few dozen blocks, and each miss costs a decompression.
sqfs_err xar_blocks_take(xar_blocks *blocks, sqfs *fs, const xar_piece *piece, int reader, xar_lease *out) {
    uint64_t position = piece->position;
    uint32_t header = piece->header;
    if (reader != XAR_READ_PLAN && blocks->observer) blocks->observer(blocks->observer_context, piece);
    pthread_mutex_lock(&blocks->lock);
    int64_t now = xar_now_ns();
    for (;;) {
        struct xar_block_entry *found = NULL, *victim = NULL;
        for (size_t i = 0; i < blocks->count; i++) {
            struct xar_block_entry *e = &blocks->entries[i];
            if (e->state != EMPTY && e->position == position) {
                found = e;
                break;
            }
            if (e->state == EMPTY) {
                if (!victim || victim->state != EMPTY) victim = e;
            } else if (e->state == READY && e->readers == 0 && !kept_for_plan(e, now)
                && (!victim || (victim->state != EMPTY && e->last_use < victim->last_use))) {
                victim = e;
            }
        }
        if (found && found->state == LOADING) {
            pthread_cond_wait(&blocks->loaded, &blocks->lock);
            continue;  // loaded, or failed and gone: look again
        }
        if (found) {
            if (reader == XAR_READ_NEEDED) found->kept_until = 0;
            found->readers++;
            found->last_use = ++blocks->clock;
            blocks->shared++;
            pthread_mutex_unlock(&blocks->lock);
            *out = (xar_lease){.entry = found, .block = found->block};
            return SQFS_OK;
        }
        blocks->decompressed++;
        if (reader == XAR_READ_NEEDED) blocks->waited++;
        if (!victim && reader == XAR_READ_PLAN) {
            pthread_mutex_unlock(&blocks->lock);
            *out = (xar_lease){.entry = NULL, .block = NULL};
            return SQFS_OK;  // no room: the plan waits (the caller sees no block)
        }
        if (!victim) {
            pthread_mutex_unlock(&blocks->lock);
            *out = (xar_lease){.entry = NULL, .block = NULL};
            return xar_blocks_read_own(blocks, fs, position, header, &out->block);
        }
        if (victim->block) sqfs_block_dispose(victim->block);
        *victim = (struct xar_block_entry){.position = position, .state = LOADING, .readers = 1};
        pthread_mutex_unlock(&blocks->lock);
        sqfs_block *block = NULL;
        sqfs_err err = xar_blocks_read_own(blocks, fs, position, header, &block);
        pthread_mutex_lock(&blocks->lock);
        if (err == SQFS_OK) {
            victim->block = block;
            victim->state = READY;
            victim->last_use = ++blocks->clock;
        } else {
            *victim = (struct xar_block_entry){.state = EMPTY};
        }
        pthread_cond_broadcast(&blocks->loaded);
        pthread_mutex_unlock(&blocks->lock);
        *out = (xar_lease){.entry = err == SQFS_OK ? victim : NULL, .block = block};
        return err;
    }
}

void xar_blocks_give_back(xar_blocks *blocks, xar_lease *held) {
    if (held->entry) {
        pthread_mutex_lock(&blocks->lock);
        held->entry->readers--;
        pthread_mutex_unlock(&blocks->lock);
    } else if (held->block) {
        sqfs_block_dispose(held->block);
    }
}

void xar_blocks_keep(xar_blocks *blocks, xar_lease *held, int64_t until) {
    if (!held->entry) return;
    pthread_mutex_lock(&blocks->lock);
    held->entry->kept_until = until;
    pthread_mutex_unlock(&blocks->lock);
}

size_t xar_blocks_kept_count(xar_blocks *blocks) {
    pthread_mutex_lock(&blocks->lock);
    int64_t now = xar_now_ns();
    size_t kept = 0;
    for (size_t i = 0; i < blocks->count; i++) kept += kept_for_plan(&blocks->entries[i], now);
    pthread_mutex_unlock(&blocks->lock);
    return kept;
}

// The piece of data block `list` is at (not a hole) that belongs to file `inode` (FUSE inode `ino`).
static xar_piece block_piece(sqfs *fs, uint64_t ino, const sqfs_inode *inode, const sqfs_blocklist *list) {
    uint64_t left = inode->xtra.reg.file_size - list->pos;
    return (xar_piece){
        .position = list->block, .header = list->header, .offset = 0,
        .length = (uint32_t)(left < fs->sb.block_size ? left : fs->sb.block_size), .ino = ino,
        .file_offset = list->pos};
}

// The piece of its fragment block that is the tail of file `inode` (which has one).
static sqfs_err tail_piece(sqfs *fs, uint64_t ino, const sqfs_inode *inode, xar_piece *piece) {
    struct squashfs_fragment_entry entry;
    sqfs_err err = sqfs_frag_entry(fs, &entry, inode->xtra.reg.frag_idx);
    if (err != SQFS_OK) return err;
    uint64_t size = inode->xtra.reg.file_size;
    uint32_t length = (uint32_t)(size % fs->sb.block_size);
    *piece = (xar_piece){
        .position = entry.start_block, .header = entry.size, .offset = inode->xtra.reg.frag_off, .length = length,
        .ino = ino, .file_offset = size - length};
    return SQFS_OK;
}

void xar_file_pieces(
    sqfs *fs, uint64_t ino, const sqfs_inode *inode, void (*each)(void *, const xar_piece *), void *context) {
    sqfs_blocklist list;
    if (inode->xtra.reg.file_size == 0 || sqfs_blockidx_blocklist(fs, (sqfs_inode *)inode, &list, 0) != SQFS_OK)
        return;
    while (list.remain > 0) {
        if (sqfs_blocklist_next(&list) != SQFS_OK) return;
        if (list.input_size == 0) continue;  // a hole
        xar_piece piece = block_piece(fs, ino, inode, &list);
        each(context, &piece);
    }
    xar_piece tail;
    if (inode->xtra.reg.frag_idx == SQUASHFS_INVALID_FRAG || tail_piece(fs, ino, inode, &tail) != SQFS_OK
        || tail.length == 0)
        return;
    each(context, &tail);
}

// The structure of libsquashfuse's sqfs_read_range: walk the block list from the block holding `start` (its
// block index skips whole metadata blocks of sizes), copy from each data block, zeros for a hole (a block of size
// 0), and the tail from the fragment block.
sqfs_err xar_read_range(
    xar_blocks *blocks, sqfs *fs, uint64_t ino, sqfs_inode *inode, sqfs_off_t start, sqfs_off_t *size, void *buffer,
    int reader) {
    if (!S_ISREG(inode->base.mode)) return SQFS_ERR;
    sqfs_off_t file_size = (sqfs_off_t)inode->xtra.reg.file_size;
    size_t block_size = fs->sb.block_size;
    if (*size < 0 || start > file_size) return SQFS_ERR;
    if (start == file_size) {
        *size = 0;
        return SQFS_OK;
    }
    sqfs_blocklist list;
    sqfs_err err = sqfs_blockidx_blocklist(fs, inode, &list, start);
    if (err != SQFS_OK) return err;
    size_t skip = (size_t)(start % (sqfs_off_t)block_size);
    char *out = buffer;
    sqfs_off_t wanted = *size;
    while (wanted > 0) {
        xar_lease held = {0};
        const char *data = NULL;
        size_t available;
        bool fragment = list.remain == 0;
        if (fragment) {
            if (inode->xtra.reg.frag_idx == SQUASHFS_INVALID_FRAG) break;
            xar_piece piece;
            if ((err = tail_piece(fs, ino, inode, &piece)) != SQFS_OK) return err;
            available = piece.length;
            if ((err = xar_blocks_take(blocks, fs, &piece, reader, &held)) != SQFS_OK) return err;
            if (piece.offset > held.block->size || available > held.block->size - piece.offset) {
                xar_blocks_give_back(blocks, &held);
                return SQFS_ERR;
            }
            data = (const char *)held.block->data + piece.offset;
        } else {
            if ((err = sqfs_blocklist_next(&list)) != SQFS_OK) return err;
            if (list.pos + block_size <= (uint64_t)start) continue;
            if (list.input_size == 0) {  // a hole
                uint64_t left = (uint64_t)file_size - list.pos;
                available = left < block_size ? (size_t)left : block_size;
            } else {
                xar_piece piece = block_piece(fs, ino, inode, &list);
                if ((err = xar_blocks_take(blocks, fs, &piece, reader, &held)) != SQFS_OK) return err;
                data = held.block->data;
                available = held.block->size;
            }
        }
        if (skip >= available) {
            xar_blocks_give_back(blocks, &held);
            return SQFS_ERR;  // a block shorter than the file says: the image is corrupt
        }
        size_t count = available - skip;
        if ((sqfs_off_t)count > wanted) count = (size_t)wanted;
        if (data) memcpy(out, data + skip, count);
        else memset(out, 0, count);
        xar_blocks_give_back(blocks, &held);
        skip = 0;
        wanted -= (sqfs_off_t)count;
        out += count;
        if (fragment) break;
    }
    *size = out - (char *)buffer;
    return *size ? SQFS_OK : SQFS_ERR;
}

// MARK: - Saved blocks (saved.c)

const uint8_t *xar_blocks_superblock(const xar_blocks *blocks) { return blocks->superblock; }

void xar_blocks_use_saved(xar_blocks *blocks, xar_saved *saved) {
    xar_saved_close(blocks->saved);
    blocks->saved = saved;
}

xar_saved *xar_blocks_saved(xar_blocks *blocks) { return blocks->saved; }

void xar_blocks_saved_counts(xar_blocks *blocks, unsigned long long *read, unsigned long long *damaged) {
    xar_saved_counts(blocks->saved, read, damaged);
}
