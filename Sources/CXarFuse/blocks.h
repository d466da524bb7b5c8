// Decompressed data blocks shared by the server's threads, and file reads over them (see blocks.c).
#pragma once
#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>
#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 32
#endif
#include <fuse_lowlevel.h>
#include <squashfuse/ll.h>
#include "saved.h"
#include "support.h"

typedef struct xar_blocks xar_blocks;

/// The part of a data or fragment block that belongs to one file: an entry of the start-up plan and record.
typedef struct {
    uint64_t position;     // the block's position in the image
    uint32_t header;       // its size word from the inode's list or fragment table (bit 24: stored uncompressed)
    uint32_t offset;       // where the file's bytes start in the decompressed block (0 but for fragments)
    uint32_t length;       // how many bytes of the block are the file's
    uint64_t ino;          // the file's FUSE inode number
    uint64_t file_offset;  // where those bytes are in the file
} xar_piece;

/// Called by xar_blocks_read_plan with a planned piece and its bytes, while the block is held; true when the
/// bytes went into the kernel's page cache (the block then need not be kept for the application's read).
typedef bool (*xar_plan_store)(void *context, const xar_piece *piece, const char *data);


/// A cache of up to `bytes` of decompressed data blocks of `block_size` bytes each (at least a few blocks), for
/// the image whose superblock is `superblock`; NULL when out of memory.
xar_blocks *xar_blocks_new(size_t block_size, size_t bytes, const uint8_t *superblock);

/// Frees the cache and its blocks; no thread may be reading through it. NULL is ignored.
void xar_blocks_free(xar_blocks *blocks);

/// Who reads: the loop thread for the application (what the start-up record is made of and what moves the plan
/// on), the read-ahead thread for a whole file (recorded too), or the plan.
enum { XAR_READ_NEEDED, XAR_READ_AHEAD, XAR_READ_PLAN };

/// Reads up to `*size` bytes of the regular file `inode` (FUSE inode number `ino`) from byte `start` into
/// `buffer` and sets `*size` to the count read, as libsquashfuse's `sqfs_read_range` does, but takes data and
/// fragment blocks from `blocks`: a block another thread has decompressed or is decompressing is not
/// decompressed again. `fs` is the calling thread's own libsquashfuse state (its metadata cache is not shared).
sqfs_err xar_read_range(
    xar_blocks *blocks, sqfs *fs, uint64_t ino, sqfs_inode *inode, sqfs_off_t start, sqfs_off_t *size, void *buffer,
    int reader);

/// Makes the pieces of `bytes` (a plan file, which begins with what xar_blocks_copy_record wrote) the plan, and sets
/// `*used` to the bytes they took. Returns 0, -1 when it is not one, -2 when it was recorded on another image.
int xar_blocks_set_plan(xar_blocks *blocks, const uint8_t *bytes, size_t length, size_t *used);

/// The longest piece section of a plan file (XAR_PLAN_HEAD_BYTES included).
size_t xar_blocks_plan_max_bytes(void);

/// Forgets the plan.
void xar_blocks_drop_plan(xar_blocks *blocks);

/// The bytes a plan file begins with: a magic (8), the image's superblock and the number of pieces (4).
#define XAR_PLAN_HEAD_BYTES (8 + XAR_SUPERBLOCK_BYTES + 4)

/// Decompresses the next planned block into the cache, with `fs`, and hands its piece to `store`, unless `ahead`
/// planned blocks are already kept waiting for the application (a kept block stops counting once the
/// application reads it, or after a second). Returns 1 when it read one, 0 when it is ahead
/// enough, -1 when the plan is done (or proved not to fit the image).
int xar_blocks_read_plan(xar_blocks *blocks, sqfs *fs, size_t ahead, xar_plan_store store, void *context);

/// Stores every planned piece of file `ino` not stored yet (decompressing with `fs` what the cache lacks), now
/// that the kernel knows the file: its later reads and page faults then find their pages.
void xar_blocks_store_planned(xar_blocks *blocks, sqfs *fs, uint64_t ino, xar_plan_store store, void *context);

/// Records every block of regular file `inode` (FUSE inode `ino`), its tail too, in order, as if a read had taken
/// them all (to make a plan from the image's list of start-up files). `fs` is the calling thread's libsquashfuse
/// state.
void xar_blocks_note_file(xar_blocks *blocks, sqfs *fs, uint64_t ino, const sqfs_inode *inode);

/// Starts recording, for `seconds`, the pieces that reads other than the plan's take and the planned pieces put into
/// the page cache, in order, once each.
int xar_blocks_record(xar_blocks *blocks, double seconds);

/// The record in its file form (the start of a plan file): copies it to `buffer` when `capacity` allows and
/// returns its length.
size_t xar_blocks_copy_record(xar_blocks *blocks, uint8_t *buffer, size_t capacity);

/// Counts, since the cache was made: blocks loaded (decompressed, or read from the saved copies), those of them
/// loaded for an application's read (which waited for it), and blocks a read found loaded (or being loaded) by
/// another.
void xar_blocks_counts(
    xar_blocks *blocks, unsigned long long *decompressed, unsigned long long *waited, unsigned long long *shared);

/// The 96 bytes of the image's superblock the cache was made for.
const uint8_t *xar_blocks_superblock(const xar_blocks *blocks);

/// Makes `saved` (decompressed blocks an earlier server kept, saved.c) the first place blocks are read from, before
/// any thread reads; the cache owns and closes it.
void xar_blocks_use_saved(xar_blocks *blocks, xar_saved *saved);

/// How many blocks were read from the saved copies, and how many copies failed their checksum.
void xar_blocks_saved_counts(xar_blocks *blocks, unsigned long long *read, unsigned long long *damaged);

/// True when the saved blocks in use are exactly the blocks of the record, none found damaged: saving again would
/// write the same file. Call after the session.
bool xar_blocks_saved_current(xar_blocks *blocks);

/// Writes every block of the record, decompressed, once, in the record's order, as a saved-blocks file to `fd` (a
/// new empty file; the caller syncs and renames it), until `max_bytes` of data. Returns 0 or an errno value
/// (ENODATA: nothing was recorded). Call after the session, with the loop thread's `fs`.
int xar_blocks_save(xar_blocks *blocks, sqfs *fs, int fd, size_t max_bytes);
