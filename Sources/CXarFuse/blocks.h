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

/// The part of a data or fragment block that belongs to one file: an entry of the start-up plan and record (plan.c).
typedef struct {
    uint64_t position;     // the block's position in the image
    uint32_t header;       // its size word from the inode's list or fragment table (bit 24: stored uncompressed)
    uint32_t offset;       // where the file's bytes start in the decompressed block (0 but for fragments)
    uint32_t length;       // how many bytes of the block are the file's
    uint64_t ino;          // the file's FUSE inode number
    uint64_t file_offset;  // where those bytes are in the file
} xar_piece;

/// A cache of up to `bytes` of decompressed data blocks of `block_size` bytes each (at least a few blocks), for
/// the image whose superblock is `superblock`; NULL when out of memory.
xar_blocks *xar_blocks_new(size_t block_size, size_t bytes, const uint8_t *superblock);

/// Frees the cache and its blocks; no thread may be reading through it. NULL is ignored.
void xar_blocks_free(xar_blocks *blocks);

/// Frees every decompressed block nobody holds (an idle server's memory); the cache fills again as reads come.
void xar_blocks_trim(xar_blocks *blocks);

/// Who reads: the loop thread for the application (what the start-up record is made of and what moves the plan
/// on), the read-ahead thread for a whole file (recorded too), or the plan.
enum { XAR_READ_NEEDED, XAR_READ_AHEAD, XAR_READ_PLAN };

/// Called, outside the cache's lock, with every piece a read other than the plan's takes (the start-up record).
typedef void (*xar_blocks_observer)(void *context, const xar_piece *piece);

/// Makes `observer` see the pieces reads take, before any thread reads.
void xar_blocks_observe(xar_blocks *blocks, xar_blocks_observer observer, void *context);

/// Reads up to `*size` bytes of the regular file `inode` (FUSE inode number `ino`) from byte `start` into
/// `buffer` and sets `*size` to the count read, as libsquashfuse's `sqfs_read_range` does, but takes data and
/// fragment blocks from `blocks`: a block another thread has decompressed or is decompressing is not
/// decompressed again. `fs` is the calling thread's own libsquashfuse state (its metadata cache is not shared).
sqfs_err xar_read_range(
    xar_blocks *blocks, sqfs *fs, uint64_t ino, sqfs_inode *inode, sqfs_off_t start, sqfs_off_t *size, void *buffer,
    int reader);

/// A block being read: a cache entry (which is not evicted while held), or a block of the caller's own.
typedef struct {
    struct xar_block_entry *entry;
    sqfs_block *block;
} xar_lease;

/// The block `piece` lies in, decompressed by this call unless another read has it, held until
/// xar_blocks_give_back. For XAR_READ_PLAN, `out->block` is NULL when every entry is in use (no room: try later);
/// for the other readers the block is then the caller's own.
sqfs_err xar_blocks_take(xar_blocks *blocks, sqfs *fs, const xar_piece *piece, int reader, xar_lease *out);

/// Ends a lease from xar_blocks_take (one with no block is ignored).
void xar_blocks_give_back(xar_blocks *blocks, xar_lease *held);

/// Keeps the held entry from eviction until `until` (CLOCK_MONOTONIC ns) or until the application reads it: a
/// planned block decompressed ahead of the application's read.
void xar_blocks_keep(xar_blocks *blocks, xar_lease *held, int64_t until);

/// How many entries are kept that way now.
size_t xar_blocks_kept_count(xar_blocks *blocks);

/// Block `position` (size word `header`), outside the cache: the saved copy when there is a good one, else
/// decompressed from the image with `fs`. The caller disposes of it.
sqfs_err xar_blocks_read_own(xar_blocks *blocks, sqfs *fs, uint64_t position, uint32_t header, sqfs_block **out);

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

/// The saved blocks in use, or NULL.
xar_saved *xar_blocks_saved(xar_blocks *blocks);

/// How many blocks were read from the saved copies, and how many copies failed their checksum.
void xar_blocks_saved_counts(xar_blocks *blocks, unsigned long long *read, unsigned long long *damaged);

/// Calls `each` with every piece of regular file `inode` (FUSE inode `ino`), its tail too, in order (holes
/// skipped), as a read of the whole file would take them; stops at the first that cannot be read. `fs` is the
/// calling thread's libsquashfuse state.
void xar_file_pieces(
    sqfs *fs, uint64_t ino, const sqfs_inode *inode, void (*each)(void *, const xar_piece *), void *context);

/// Reads through into a local copy of the image file (docs/lifecycle.md, "Source loss"): from now on, a data or
/// fragment block not yet in the copy open as `copy_fd` (read-write) is first read from `source_fd` and written
/// there at the same position, so that what the application has read survives the source. The copy holds the
/// file's bytes before `copied_end` and from `tail_start` on (the header, the superblock and the tables) already.
/// -1 when out of memory. The descriptors stay the caller's and must stay open.
int xar_blocks_read_through(xar_blocks *blocks, int source_fd, int copy_fd, uint64_t copied_end, uint64_t tail_start);

/// The copy now holds the file's bytes before `end` (the background copy's progress).
void xar_blocks_copied(xar_blocks *blocks, uint64_t end);
