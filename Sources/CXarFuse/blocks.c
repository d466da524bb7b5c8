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
// The start-up plan. On a cold start the application's first reads come one after another, each waiting for its
// block to be decompressed on the loop thread, while the other core idles: for a Python tool, the interpreter's
// pages, its extension modules and a few hundred modules, 200 blocks or so. The cache therefore records which
// blocks the application needed in its first seconds, in order (xar_blocks_record), and the server keeps that
// record next to the mount (docs/lifecycle.md, "Cold starts"). The next server of the same image loads it as its
// plan (xar_blocks_set_plan), and the read-ahead thread decompresses the planned blocks from the moment the server
// starts: into the page cache when the kernel knows the file, else kept here (a bounded number, for a bounded
// time) for the application's read. A plan carries the image's superblock and is refused for any other image;
// every planned block is checked as it is decompressed, and the first that fails ends the plan.
//
// A block an earlier server saved decompressed (saved.c, `<mount point>.startup-blocks`) is read from there
// instead of decompressed; when the session ends, the record's blocks are saved for the next server
// (xar_blocks_save), unless the saved ones are exactly those already.
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

struct entry {
    uint64_t position;
    sqfs_block *block;
    int state;
    unsigned readers;
    uint64_t last_use;
    // Read for the plan, not yet by the application, and not in the page cache: kept until the application reads
    // it or until this time (CLOCK_MONOTONIC ns; 0 = not kept).
    int64_t kept_until;
};

static uint64_t key_of(const xar_piece *piece) { return piece->position ^ (piece->ino * 0x9E3779B97F4A7C15ull); }

struct xar_blocks {
    pthread_mutex_t lock;
    pthread_cond_t loaded;
    uint64_t clock;
    unsigned long long decompressed, waited, shared;
    // The plan, which of its pieces are in the page cache, and the next entry to read ahead.
    xar_piece *plan;
    bool *plan_stored;
    size_t plan_count, plan_next;
    // The record: pieces read until `record_until` (CLOCK_MONOTONIC ns; 0 = not started), in order, once each.
    xar_piece *record;
    size_t record_count;
    int64_t record_until;
    xar_map record_index;  // the record's pieces by key_of: 1 + their place in `record`
    // The image's superblock: a plan carries the one it was recorded on and is refused for any other image.
    uint8_t superblock[XAR_SUPERBLOCK_BYTES];
    // Decompressed blocks kept on the host by an earlier server (saved.c), read instead of decompressed; or NULL.
    xar_saved *saved;
    size_t count;
    struct entry entries[];
};

#define XAR_RECORD_MAX 4096
// A planned block the application has not read this long after it was decompressed is taken to be one this start
// does not need, and may be evicted.
#define XAR_PLAN_KEEP_NS 1000000000

static bool kept_for_plan(const struct entry *e, int64_t now) { return e->kept_until > now; }

xar_blocks *xar_blocks_new(size_t block_size, size_t bytes, const uint8_t *superblock) {
    size_t count = block_size ? bytes / block_size : 0;
    if (count < 8) count = 8;
    xar_blocks *blocks = calloc(1, sizeof *blocks + count * sizeof(struct entry));
    if (!blocks) return NULL;
    blocks->count = count;
    memcpy(blocks->superblock, superblock, XAR_SUPERBLOCK_BYTES);
    pthread_mutex_init(&blocks->lock, NULL);
    pthread_cond_init(&blocks->loaded, NULL);
    return blocks;
}

void xar_blocks_free(xar_blocks *blocks) {
    if (!blocks) return;
    free(blocks->plan);
    free(blocks->plan_stored);
    free(blocks->record);
    xar_map_free(&blocks->record_index);
    xar_saved_close(blocks->saved);
    for (size_t i = 0; i < blocks->count; i++)
        if (blocks->entries[i].block) sqfs_block_dispose(blocks->entries[i].block);
    pthread_cond_destroy(&blocks->loaded);
    pthread_mutex_destroy(&blocks->lock);
    free(blocks);
}

void xar_blocks_counts(
    xar_blocks *blocks, unsigned long long *decompressed, unsigned long long *waited, unsigned long long *shared) {
    pthread_mutex_lock(&blocks->lock);
    *decompressed = blocks->decompressed;
    *waited = blocks->waited;
    *shared = blocks->shared;
    pthread_mutex_unlock(&blocks->lock);
}

// A block being read: a cache entry (whose `readers` count keeps it from eviction), or, when every entry is in
// use, a block of the caller's own.
typedef struct {
    struct entry *entry;
    sqfs_block *block;
} lease;

// Called with the lock held for every piece a read other than the plan's takes, and for every planned piece put
// into the page cache (the application then reads it without a request): records it. Without the latter a start
// that followed a good plan would record only what the plan missed, and the start after it would have a poor one.
static void note(xar_blocks *blocks, const xar_piece *piece) {
    uint64_t key = key_of(piece);
    if (blocks->record_until == 0 || blocks->record_count >= XAR_RECORD_MAX || xar_now_ns() > blocks->record_until)
        return;
    size_t slot = xar_map_slot(&blocks->record_index, key);
    if (blocks->record_index.values[slot] != 0) return;
    blocks->record_index.keys[slot] = key;
    blocks->record_index.values[slot] = (uint32_t)++blocks->record_count;
    blocks->record[blocks->record_count - 1] = *piece;
}

// Block `position` (size word `header`): the saved copy when there is a good one, else decompressed from the image.
static sqfs_err read_block(xar_blocks *blocks, sqfs *fs, uint64_t position, uint32_t header, sqfs_block **out) {
    if (blocks->saved && xar_saved_read(blocks->saved, position, header, out) == SQFS_OK) return SQFS_OK;
    return sqfs_data_block_read(fs, (sqfs_off_t)position, header, out);
}

// The block `piece` lies in, decompressed by this call unless another read has it. `piece` is noted for the plan
// and the record. The search is linear: the cache holds a few dozen blocks, and each miss costs a decompression.
static sqfs_err take(xar_blocks *blocks, sqfs *fs, const xar_piece *piece, int reader, lease *out) {
    uint64_t position = piece->position;
    uint32_t header = piece->header;
    pthread_mutex_lock(&blocks->lock);
    if (reader != XAR_READ_PLAN) note(blocks, piece);
    int64_t now = blocks->plan_count ? xar_now_ns() : 0;
    for (;;) {
        struct entry *found = NULL, *victim = NULL;
        for (size_t i = 0; i < blocks->count; i++) {
            struct entry *e = &blocks->entries[i];
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
            *out = (lease){.entry = found, .block = found->block};
            return SQFS_OK;
        }
        blocks->decompressed++;
        if (reader == XAR_READ_NEEDED) blocks->waited++;
        if (!victim && reader == XAR_READ_PLAN) {
            pthread_mutex_unlock(&blocks->lock);
            *out = (lease){.entry = NULL, .block = NULL};
            return SQFS_OK;  // no room: the plan waits (the caller sees no block)
        }
        if (!victim) {
            pthread_mutex_unlock(&blocks->lock);
            *out = (lease){.entry = NULL, .block = NULL};
            return read_block(blocks, fs, position, header, &out->block);
        }
        if (victim->block) sqfs_block_dispose(victim->block);
        *victim = (struct entry){.position = position, .state = LOADING, .readers = 1};
        pthread_mutex_unlock(&blocks->lock);
        sqfs_block *block = NULL;
        sqfs_err err = read_block(blocks, fs, position, header, &block);
        pthread_mutex_lock(&blocks->lock);
        if (err == SQFS_OK) {
            victim->block = block;
            victim->state = READY;
            victim->last_use = ++blocks->clock;
        } else {
            *victim = (struct entry){.state = EMPTY};
        }
        pthread_cond_broadcast(&blocks->loaded);
        pthread_mutex_unlock(&blocks->lock);
        *out = (lease){.entry = err == SQFS_OK ? victim : NULL, .block = block};
        return err;
    }
}

static void give_back(xar_blocks *blocks, lease *held) {
    if (held->entry) {
        pthread_mutex_lock(&blocks->lock);
        held->entry->readers--;
        pthread_mutex_unlock(&blocks->lock);
    } else if (held->block) {
        sqfs_block_dispose(held->block);
    }
}

int xar_blocks_read_plan(xar_blocks *blocks, sqfs *fs, size_t ahead, xar_plan_store store, void *context) {
    pthread_mutex_lock(&blocks->lock);
    if (blocks->plan_next >= blocks->plan_count) {
        pthread_mutex_unlock(&blocks->lock);
        return -1;
    }
    int64_t now = xar_now_ns();
    size_t kept = 0;
    for (size_t i = 0; i < blocks->count; i++) kept += kept_for_plan(&blocks->entries[i], now);
    if (kept >= ahead) {
        pthread_mutex_unlock(&blocks->lock);
        return 0;
    }
    size_t index = blocks->plan_next++;
    xar_piece next = blocks->plan[index];
    bool done = blocks->plan_stored[index];
    pthread_mutex_unlock(&blocks->lock);
    if (done) return 1;  // stored already, with the rest of its file
    lease held;
    if (take(blocks, fs, &next, XAR_READ_PLAN, &held) != SQFS_OK
        || (held.block && (next.offset > held.block->size || next.length > held.block->size - next.offset))) {
        // Not a block of this image after all: the rest of the plan is not trusted either.
        give_back(blocks, &held);
        pthread_mutex_lock(&blocks->lock);
        blocks->plan_next = blocks->plan_count;
        pthread_mutex_unlock(&blocks->lock);
        return -1;
    }
    if (!held.block) {  // no room in the cache: try this entry again later
        pthread_mutex_lock(&blocks->lock);
        blocks->plan_next--;
        pthread_mutex_unlock(&blocks->lock);
        return 0;
    }
    // In the page cache now, the application will not ask for it; otherwise it is kept for the application.
    bool stored = store(context, &next, (const char *)held.block->data + next.offset);
    pthread_mutex_lock(&blocks->lock);
    if (stored) {
        // The application will not ask for it, but its file was looked up: it is part of this start too.
        blocks->plan_stored[index] = true;
        note(blocks, &next);
    } else if (held.entry) held.entry->kept_until = xar_now_ns() + XAR_PLAN_KEEP_NS;
    pthread_mutex_unlock(&blocks->lock);
    give_back(blocks, &held);
    return 1;
}

void xar_blocks_store_planned(xar_blocks *blocks, sqfs *fs, uint64_t ino, xar_plan_store store, void *context) {
    pthread_mutex_lock(&blocks->lock);
    for (size_t i = 0; i < blocks->plan_count; i++) {
        if (blocks->plan[i].ino != ino || blocks->plan_stored[i]) continue;
        xar_piece piece = blocks->plan[i];
        blocks->plan_stored[i] = true;  // tried once; a failed store leaves the read to the application
        pthread_mutex_unlock(&blocks->lock);
        lease held;
        bool fits = take(blocks, fs, &piece, XAR_READ_PLAN, &held) == SQFS_OK && held.block
            && piece.offset <= held.block->size && piece.length <= held.block->size - piece.offset;
        bool stored = fits && store(context, &piece, (const char *)held.block->data + piece.offset);
        if (held.block) give_back(blocks, &held);
        pthread_mutex_lock(&blocks->lock);
        if (stored) note(blocks, &piece);  // the application read the file: this start needs the piece too
        if (!fits) break;
    }
    pthread_mutex_unlock(&blocks->lock);
}

// The file form of a plan begins with this magic, the 96 bytes of the image's superblock (which hold its size,
// inode count, creation time and table positions: a plan made on another image, even one under the same name, is
// refused) and the number of pieces (4 bytes); then per piece, little-endian: the block's position (8 bytes) and
// size word (4), the piece's offset in the decompressed block (4) and length (4), the FUSE inode number (8) and
// the offset in the file (8). The names the start looked up follow (names.c).
static const char plan_magic[8] = {'x', 'a', 'r', 'p', 'l', 'a', 'n', '3'};
#define PIECE_BYTES 36
#define PLAN_HEAD XAR_PLAN_HEAD_BYTES

void xar_blocks_drop_plan(xar_blocks *blocks) {
    pthread_mutex_lock(&blocks->lock);
    free(blocks->plan);
    free(blocks->plan_stored);
    blocks->plan = NULL;
    blocks->plan_stored = NULL;
    blocks->plan_count = blocks->plan_next = 0;
    pthread_mutex_unlock(&blocks->lock);
}

int xar_blocks_set_plan(xar_blocks *blocks, const uint8_t *bytes, size_t length, size_t *used) {
    if (length < PLAN_HEAD || memcmp(bytes, plan_magic, sizeof plan_magic) != 0) return -1;
    if (memcmp(bytes + sizeof plan_magic, blocks->superblock, XAR_SUPERBLOCK_BYTES) != 0) return -2;
    size_t count = (size_t)xar_le_read(bytes + PLAN_HEAD - 4, 4);
    if (count > XAR_RECORD_MAX || (length - PLAN_HEAD) / PIECE_BYTES < count) return -1;
    xar_piece *plan = malloc((count ? count : 1) * sizeof *plan);
    bool *stored = calloc(count ? count : 1, sizeof *stored);
    if (!plan || !stored) {
        free(plan);
        free(stored);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        const uint8_t *entry = bytes + PLAN_HEAD + PIECE_BYTES * i;
        plan[i] = (xar_piece){
            .position = xar_le_read(entry, 8), .header = (uint32_t)xar_le_read(entry + 8, 4),
            .offset = (uint32_t)xar_le_read(entry + 12, 4), .length = (uint32_t)xar_le_read(entry + 16, 4),
            .ino = xar_le_read(entry + 20, 8), .file_offset = xar_le_read(entry + 28, 8)};
    }
    *used = PLAN_HEAD + PIECE_BYTES * count;
    pthread_mutex_lock(&blocks->lock);
    free(blocks->plan);
    free(blocks->plan_stored);
    blocks->plan = plan;
    blocks->plan_stored = stored;
    blocks->plan_count = count;
    blocks->plan_next = 0;
    pthread_mutex_unlock(&blocks->lock);
    return 0;
}

int xar_blocks_record(xar_blocks *blocks, double seconds) {
    xar_piece *record = malloc(XAR_RECORD_MAX * sizeof *record);
    xar_map map;
    if (!record || !xar_map_init(&map, XAR_RECORD_MAX)) {
        free(record);
        xar_map_free(&map);
        return -1;
    }
    pthread_mutex_lock(&blocks->lock);
    free(blocks->record);
    xar_map_free(&blocks->record_index);
    blocks->record = record;
    blocks->record_index = map;
    blocks->record_count = 0;
    blocks->record_until = xar_now_ns() + (int64_t)(seconds * 1e9);
    pthread_mutex_unlock(&blocks->lock);
    return 0;
}

size_t xar_blocks_plan_max_bytes(void) { return PLAN_HEAD + PIECE_BYTES * XAR_RECORD_MAX; }

size_t xar_blocks_copy_record(xar_blocks *blocks, uint8_t *buffer, size_t capacity) {
    pthread_mutex_lock(&blocks->lock);
    size_t length = PLAN_HEAD + PIECE_BYTES * blocks->record_count;
    if (buffer && capacity >= length) {
        memcpy(buffer, plan_magic, sizeof plan_magic);
        memcpy(buffer + sizeof plan_magic, blocks->superblock, XAR_SUPERBLOCK_BYTES);
        xar_le_write(buffer + PLAN_HEAD - 4, blocks->record_count, 4);
        for (size_t i = 0; i < blocks->record_count; i++) {
            uint8_t *entry = buffer + PLAN_HEAD + PIECE_BYTES * i;
            const xar_piece *piece = &blocks->record[i];
            xar_le_write(entry, piece->position, 8);
            xar_le_write(entry + 8, piece->header, 4);
            xar_le_write(entry + 12, piece->offset, 4);
            xar_le_write(entry + 16, piece->length, 4);
            xar_le_write(entry + 20, piece->ino, 8);
            xar_le_write(entry + 28, piece->file_offset, 8);
        }
    }
    pthread_mutex_unlock(&blocks->lock);
    return length;
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

void xar_blocks_note_file(xar_blocks *blocks, sqfs *fs, uint64_t ino, const sqfs_inode *inode) {
    sqfs_blocklist list;
    if (inode->xtra.reg.file_size == 0 || sqfs_blockidx_blocklist(fs, (sqfs_inode *)inode, &list, 0) != SQFS_OK)
        return;
    while (list.remain > 0) {
        if (sqfs_blocklist_next(&list) != SQFS_OK) return;
        if (list.input_size == 0) continue;  // a hole
        xar_piece piece = block_piece(fs, ino, inode, &list);
        pthread_mutex_lock(&blocks->lock);
        note(blocks, &piece);
        pthread_mutex_unlock(&blocks->lock);
    }
    xar_piece tail;
    if (inode->xtra.reg.frag_idx == SQUASHFS_INVALID_FRAG || tail_piece(fs, ino, inode, &tail) != SQFS_OK
        || tail.length == 0)
        return;
    pthread_mutex_lock(&blocks->lock);
    note(blocks, &tail);
    pthread_mutex_unlock(&blocks->lock);
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
        lease held = {0};
        const char *data = NULL;
        size_t available;
        bool fragment = list.remain == 0;
        if (fragment) {
            if (inode->xtra.reg.frag_idx == SQUASHFS_INVALID_FRAG) break;
            xar_piece piece;
            if ((err = tail_piece(fs, ino, inode, &piece)) != SQFS_OK) return err;
            available = piece.length;
            if ((err = take(blocks, fs, &piece, reader, &held)) != SQFS_OK) return err;
            if (piece.offset > held.block->size || available > held.block->size - piece.offset) {
                give_back(blocks, &held);
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
                if ((err = take(blocks, fs, &piece, reader, &held)) != SQFS_OK) return err;
                data = held.block->data;
                available = held.block->size;
            }
        }
        if (skip >= available) {
            give_back(blocks, &held);
            return SQFS_ERR;  // a block shorter than the file says: the image is corrupt
        }
        size_t count = available - skip;
        if ((sqfs_off_t)count > wanted) count = (size_t)wanted;
        if (data) memcpy(out, data + skip, count);
        else memset(out, 0, count);
        give_back(blocks, &held);
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

void xar_blocks_saved_counts(xar_blocks *blocks, unsigned long long *read, unsigned long long *damaged) {
    xar_saved_counts(blocks->saved, read, damaged);
}

// Calls `each` with every block of the record, once, in the order the record first met it; stops at a non-zero
// result and returns it. The record must be complete (the session over).
static int each_recorded_block(xar_blocks *blocks, int (*each)(void *, const xar_piece *), void *context) {
    xar_map seen;
    if (!xar_map_init(&seen, blocks->record_count ? blocks->record_count : 1)) return ENOMEM;
    int result = 0;
    for (size_t i = 0; i < blocks->record_count && result == 0; i++) {
        const xar_piece *piece = &blocks->record[i];
        size_t slot = xar_map_slot(&seen, piece->position);
        if (seen.values[slot] != 0) continue;
        seen.keys[slot] = piece->position;
        seen.values[slot] = 1;
        result = each(context, piece);
    }
    xar_map_free(&seen);
    return result;
}

static int count_block(void *context, const xar_piece *piece) {
    (void)piece;
    ++*(size_t *)context;
    return 0;
}

struct saved_check {
    xar_saved *saved;
    size_t count;
};

// Counts the block, or stops at one the saved blocks lack.
static int check_saved(void *context, const xar_piece *piece) {
    struct saved_check *check = context;
    check->count++;
    return xar_saved_has(check->saved, piece->position, piece->header) ? 0 : 1;
}

bool xar_blocks_saved_current(xar_blocks *blocks) {
    if (!blocks->saved) return false;
    unsigned long long read, damaged;
    xar_saved_counts(blocks->saved, &read, &damaged);
    struct saved_check check = {.saved = blocks->saved};
    return damaged == 0 && each_recorded_block(blocks, check_saved, &check) == 0
        && check.count == xar_saved_block_count(blocks->saved);
}

struct save_context {
    xar_blocks *blocks;
    sqfs *fs;
    xar_saved_writer *writer;
    size_t max_bytes;
};

static int save_block(void *context, const xar_piece *piece) {
    struct save_context *save = context;
    if (xar_saved_writer_bytes(save->writer) >= save->max_bytes) return -1;  // full: the rest is decompressed
    lease held;
    if (take(save->blocks, save->fs, piece, XAR_READ_PLAN, &held) != SQFS_OK) return 0;  // not saved, not fatal
    // Every cache entry in use: a block of our own.
    if (!held.block && read_block(save->blocks, save->fs, piece->position, piece->header, &held.block) != SQFS_OK)
        return 0;
    int error = xar_saved_writer_add(save->writer, piece->position, piece->header, held.block->data, held.block->size);
    give_back(save->blocks, &held);
    return error;
}

int xar_blocks_save(xar_blocks *blocks, sqfs *fs, int fd, size_t max_bytes) {
    size_t count = 0;
    if (each_recorded_block(blocks, count_block, &count) != 0) return ENOMEM;
    if (count == 0) return ENODATA;
    xar_saved_writer *writer = xar_saved_writer_new(fd, blocks->superblock, count);
    if (!writer) return ENOMEM;
    struct save_context save = {.blocks = blocks, .fs = fs, .writer = writer, .max_bytes = max_bytes};
    int result = each_recorded_block(blocks, save_block, &save);
    int finished = xar_saved_writer_finish(writer);
    return result > 0 ? result : finished;
}
