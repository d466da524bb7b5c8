// The start-up plan and the start-up record.
//
// On a cold start the application's first reads come one after another, each waiting for its block to be
// decompressed on the loop thread, while the other core idles: for a Python tool, the interpreter's pages, its
// extension modules and a few hundred modules, 200 blocks or so. The server therefore records which blocks the
// application needed in its first seconds, in order (xar_plan_record, fed by the block cache's observer), and keeps
// that record next to the mount (docs/lifecycle.md, "Cold starts"). The next server of the same image loads it as
// its plan (xar_plan_set), and the read-ahead thread decompresses the planned blocks from the moment the server
// starts: into the page cache when the kernel knows the file, else kept in the block cache (blocks.c; a bounded
// number, for a bounded time) for the application's read. A plan carries the image's superblock and is refused for
// any other image; every planned block is checked as it is decompressed, and the first that fails ends the plan.
//
// When the session ends, the record's blocks are saved decompressed for the next server (xar_plan_save, saved.c),
// unless the saved ones are exactly those already.
#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "plan.h"
#include "saved.h"
#include "support.h"

static uint64_t key_of(const xar_piece *piece) { return piece->position ^ (piece->ino * 0x9E3779B97F4A7C15ull); }

struct xar_plan {
    pthread_mutex_t lock;
    xar_blocks *blocks;
    // The plan, which of its pieces are in the page cache, and the next entry to read ahead.
    xar_piece *plan;
    bool *plan_stored;
    size_t plan_count, plan_next;
    // The record: pieces read until `record_until` (CLOCK_MONOTONIC ns; 0 = not started), in order, once each.
    xar_piece *record;
    size_t record_count;
    int64_t record_until;
    xar_map record_index;  // the record's pieces by key_of: 1 + their place in `record`
};

#define XAR_RECORD_MAX 4096
// A planned block the application has not read this long after it was decompressed is taken to be one this start
// does not need, and may be evicted.
#define XAR_PLAN_KEEP_NS 1000000000

// Called with the lock held for every piece a read other than the plan's takes, and for every planned piece put
// into the page cache (the application then reads it without a request): records it. Without the latter a start
// that followed a good plan would record only what the plan missed, and the start after it would have a poor one.
static void note(xar_plan *plan, const xar_piece *piece) {
    uint64_t key = key_of(piece);
    if (plan->record_until == 0 || plan->record_count >= XAR_RECORD_MAX || xar_now_ns() > plan->record_until)
        return;
    size_t slot = xar_map_slot(&plan->record_index, key);
    if (plan->record_index.values[slot] != 0) return;
    plan->record_index.keys[slot] = key;
    plan->record_index.values[slot] = (uint32_t)++plan->record_count;
    plan->record[plan->record_count - 1] = *piece;
}

// The cache's observer: a read took `piece`.
static void observe(void *context, const xar_piece *piece) {
    xar_plan *plan = context;
    pthread_mutex_lock(&plan->lock);
    note(plan, piece);
    pthread_mutex_unlock(&plan->lock);
}

xar_plan *xar_plan_new(xar_blocks *blocks) {
    xar_plan *plan = calloc(1, sizeof *plan);
    if (!plan) return NULL;
    plan->blocks = blocks;
    pthread_mutex_init(&plan->lock, NULL);
    xar_blocks_observe(blocks, observe, plan);
    return plan;
}

void xar_plan_free(xar_plan *plan) {
    if (!plan) return;
    free(plan->plan);
    free(plan->plan_stored);
    free(plan->record);
    xar_map_free(&plan->record_index);
    pthread_mutex_destroy(&plan->lock);
    free(plan);
}

int xar_plan_read_next(xar_plan *plan, sqfs *fs, size_t ahead, xar_plan_store store, void *context) {
    pthread_mutex_lock(&plan->lock);
    if (plan->plan_next >= plan->plan_count) {
        pthread_mutex_unlock(&plan->lock);
        return -1;
    }
    pthread_mutex_unlock(&plan->lock);
    if (xar_blocks_kept_count(plan->blocks) >= ahead) return 0;
    pthread_mutex_lock(&plan->lock);
    if (plan->plan_next >= plan->plan_count) {
        pthread_mutex_unlock(&plan->lock);
        return -1;
    }
    size_t index = plan->plan_next++;
    xar_piece next = plan->plan[index];
    bool done = plan->plan_stored[index];
    pthread_mutex_unlock(&plan->lock);
    if (done) return 1;  // stored already, with the rest of its file
    xar_lease held;
    if (xar_blocks_take(plan->blocks, fs, &next, XAR_READ_PLAN, &held) != SQFS_OK
        || (held.block && (next.offset > held.block->size || next.length > held.block->size - next.offset))) {
        // Not a block of this image after all: the rest of the plan is not trusted either.
        xar_blocks_give_back(plan->blocks, &held);
        pthread_mutex_lock(&plan->lock);
        plan->plan_next = plan->plan_count;
        pthread_mutex_unlock(&plan->lock);
        return -1;
    }
    if (!held.block) {  // no room in the cache: try this entry again later
        pthread_mutex_lock(&plan->lock);
        plan->plan_next--;
        pthread_mutex_unlock(&plan->lock);
        return 0;
    }
    // In the page cache now, the application will not ask for it; otherwise it is kept for the application.
    bool stored = store(context, &next, (const char *)held.block->data + next.offset);
    if (stored) {
        // The application will not ask for it, but its file was looked up: it is part of this start too.
        pthread_mutex_lock(&plan->lock);
        plan->plan_stored[index] = true;
        note(plan, &next);
        pthread_mutex_unlock(&plan->lock);
    } else xar_blocks_keep(plan->blocks, &held, xar_now_ns() + XAR_PLAN_KEEP_NS);
    xar_blocks_give_back(plan->blocks, &held);
    return 1;
}

bool xar_plan_done(xar_plan *plan) {
    pthread_mutex_lock(&plan->lock);
    bool done = plan->plan_next >= plan->plan_count;
    pthread_mutex_unlock(&plan->lock);
    return done;
}

void xar_plan_trim(xar_plan *plan) {
    pthread_mutex_lock(&plan->lock);
    if (plan->plan_next >= plan->plan_count) {
        free(plan->plan);
        free(plan->plan_stored);
        plan->plan = NULL;
        plan->plan_stored = NULL;
        plan->plan_count = plan->plan_next = 0;
    }
    if (plan->record && xar_now_ns() > plan->record_until) {
        xar_map_free(&plan->record_index);
        xar_piece *smaller = realloc(plan->record, (plan->record_count ? plan->record_count : 1) * sizeof *smaller);
        if (smaller) plan->record = smaller;
        plan->record_until = 0;  // nothing more is noted (note() stops at 0 before it uses the index)
    }
    pthread_mutex_unlock(&plan->lock);
}

void xar_plan_store_file(xar_plan *plan, sqfs *fs, uint64_t ino, xar_plan_store store, void *context) {
    pthread_mutex_lock(&plan->lock);
    for (size_t i = 0; i < plan->plan_count; i++) {
        if (plan->plan[i].ino != ino || plan->plan_stored[i]) continue;
        xar_piece piece = plan->plan[i];
        plan->plan_stored[i] = true;  // tried once; a failed store leaves the read to the application
        pthread_mutex_unlock(&plan->lock);
        xar_lease held;
        bool fits = xar_blocks_take(plan->blocks, fs, &piece, XAR_READ_PLAN, &held) == SQFS_OK && held.block
            && piece.offset <= held.block->size && piece.length <= held.block->size - piece.offset;
        bool stored = fits && store(context, &piece, (const char *)held.block->data + piece.offset);
        if (held.block) xar_blocks_give_back(plan->blocks, &held);
        pthread_mutex_lock(&plan->lock);
        if (stored) note(plan, &piece);  // the application read the file: this start needs the piece too
        if (!fits) break;
    }
    pthread_mutex_unlock(&plan->lock);
}

// The file form of a plan begins with this magic, the 96 bytes of the image's superblock (which hold its size,
// inode count, creation time and table positions: a plan made on another image, even one under the same name, is
// refused) and the number of pieces (4 bytes); then per piece, little-endian: the block's position (8 bytes) and
// size word (4), the piece's offset in the decompressed block (4) and length (4), the FUSE inode number (8) and
// the offset in the file (8). The names the start looked up follow (names.c).
static const char plan_magic[8] = {'x', 'a', 'r', 'p', 'l', 'a', 'n', '3'};
#define PIECE_BYTES 36
#define PLAN_HEAD XAR_PLAN_HEAD_BYTES

void xar_plan_drop(xar_plan *plan) {
    pthread_mutex_lock(&plan->lock);
    free(plan->plan);
    free(plan->plan_stored);
    plan->plan = NULL;
    plan->plan_stored = NULL;
    plan->plan_count = plan->plan_next = 0;
    pthread_mutex_unlock(&plan->lock);
}

int xar_plan_set(xar_plan *plan, const uint8_t *bytes, size_t length, size_t *used) {
    if (length < PLAN_HEAD || memcmp(bytes, plan_magic, sizeof plan_magic) != 0) return -1;
    if (memcmp(bytes + sizeof plan_magic, xar_blocks_superblock(plan->blocks), XAR_SUPERBLOCK_BYTES) != 0) return -2;
    size_t count = (size_t)xar_le_read(bytes + PLAN_HEAD - 4, 4);
    if (count > XAR_RECORD_MAX || (length - PLAN_HEAD) / PIECE_BYTES < count) return -1;
    xar_piece *pieces = malloc((count ? count : 1) * sizeof *pieces);
    bool *stored = calloc(count ? count : 1, sizeof *stored);
    if (!pieces || !stored) {
        free(pieces);
        free(stored);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        const uint8_t *entry = bytes + PLAN_HEAD + PIECE_BYTES * i;
        pieces[i] = (xar_piece){
            .position = xar_le_read(entry, 8), .header = (uint32_t)xar_le_read(entry + 8, 4),
            .offset = (uint32_t)xar_le_read(entry + 12, 4), .length = (uint32_t)xar_le_read(entry + 16, 4),
            .ino = xar_le_read(entry + 20, 8), .file_offset = xar_le_read(entry + 28, 8)};
    }
    *used = PLAN_HEAD + PIECE_BYTES * count;
    pthread_mutex_lock(&plan->lock);
    free(plan->plan);
    free(plan->plan_stored);
    plan->plan = pieces;
    plan->plan_stored = stored;
    plan->plan_count = count;
    plan->plan_next = 0;
    pthread_mutex_unlock(&plan->lock);
    return 0;
}

int xar_plan_record(xar_plan *plan, double seconds) {
    xar_piece *record = malloc(XAR_RECORD_MAX * sizeof *record);
    xar_map map;
    if (!record || !xar_map_init(&map, XAR_RECORD_MAX)) {
        free(record);
        xar_map_free(&map);
        return -1;
    }
    pthread_mutex_lock(&plan->lock);
    free(plan->record);
    xar_map_free(&plan->record_index);
    plan->record = record;
    plan->record_index = map;
    plan->record_count = 0;
    plan->record_until = xar_now_ns() + (int64_t)(seconds * 1e9);
    pthread_mutex_unlock(&plan->lock);
    return 0;
}

size_t xar_plan_max_bytes(void) { return PLAN_HEAD + PIECE_BYTES * XAR_RECORD_MAX; }

size_t xar_plan_copy_record(xar_plan *plan, uint8_t *buffer, size_t capacity) {
    pthread_mutex_lock(&plan->lock);
    size_t length = PLAN_HEAD + PIECE_BYTES * plan->record_count;
    if (buffer && capacity >= length) {
        memcpy(buffer, plan_magic, sizeof plan_magic);
        memcpy(buffer + sizeof plan_magic, xar_blocks_superblock(plan->blocks), XAR_SUPERBLOCK_BYTES);
        xar_le_write(buffer + PLAN_HEAD - 4, plan->record_count, 4);
        for (size_t i = 0; i < plan->record_count; i++) {
            uint8_t *entry = buffer + PLAN_HEAD + PIECE_BYTES * i;
            const xar_piece *piece = &plan->record[i];
            xar_le_write(entry, piece->position, 8);
            xar_le_write(entry + 8, piece->header, 4);
            xar_le_write(entry + 12, piece->offset, 4);
            xar_le_write(entry + 16, piece->length, 4);
            xar_le_write(entry + 20, piece->ino, 8);
            xar_le_write(entry + 28, piece->file_offset, 8);
        }
    }
    pthread_mutex_unlock(&plan->lock);
    return length;
}

static void note_piece(void *context, const xar_piece *piece) { observe(context, piece); }

void xar_plan_note_file(xar_plan *plan, sqfs *fs, uint64_t ino, const sqfs_inode *inode) {
    xar_file_pieces(fs, ino, inode, note_piece, plan);
}

// MARK: - Saving the record's blocks (saved.c)

// Calls `each` with every block of the record, once, in the order the record first met it; stops at a non-zero
// result and returns it. The record must be complete (the session over).
static int each_recorded_block(xar_plan *plan, int (*each)(void *, const xar_piece *), void *context) {
    xar_map seen;
    if (!xar_map_init(&seen, plan->record_count ? plan->record_count : 1)) return ENOMEM;
    int result = 0;
    for (size_t i = 0; i < plan->record_count && result == 0; i++) {
        const xar_piece *piece = &plan->record[i];
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

bool xar_plan_saved_current(xar_plan *plan) {
    xar_saved *saved = xar_blocks_saved(plan->blocks);
    if (!saved) return false;
    unsigned long long read, damaged;
    xar_saved_counts(saved, &read, &damaged);
    struct saved_check check = {.saved = saved};
    return damaged == 0 && each_recorded_block(plan, check_saved, &check) == 0
        && check.count == xar_saved_block_count(saved);
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
    xar_lease held;
    // A block that cannot be read is not saved; that is not fatal.
    if (xar_blocks_take(save->blocks, save->fs, piece, XAR_READ_PLAN, &held) != SQFS_OK) return 0;
    // Every cache entry in use: a block of our own.
    if (!held.block
        && xar_blocks_read_own(save->blocks, save->fs, piece->position, piece->header, &held.block) != SQFS_OK)
        return 0;
    int error = xar_saved_writer_add(save->writer, piece->position, piece->header, held.block->data, held.block->size);
    xar_blocks_give_back(save->blocks, &held);
    return error;
}

int xar_plan_save(xar_plan *plan, sqfs *fs, int fd, size_t max_bytes) {
    size_t count = 0;
    if (each_recorded_block(plan, count_block, &count) != 0) return ENOMEM;
    if (count == 0) return ENODATA;
    xar_saved_writer *writer = xar_saved_writer_new(fd, xar_blocks_superblock(plan->blocks), count);
    if (!writer) return ENOMEM;
    struct save_context save = {.blocks = plan->blocks, .fs = fs, .writer = writer, .max_bytes = max_bytes};
    int result = each_recorded_block(plan, save_block, &save);
    int finished = xar_saved_writer_finish(writer);
    return result > 0 ? result : finished;
}
