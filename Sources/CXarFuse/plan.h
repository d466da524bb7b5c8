// The start-up plan and the start-up record: which blocks a start needs, in order (see plan.c).
#pragma once
#include "blocks.h"
#include "saved.h"

typedef struct xar_plan xar_plan;

/// The plan and record of the image `blocks` caches, which from now on shows it the pieces reads take; NULL when
/// out of memory. Make it before any thread reads.
xar_plan *xar_plan_new(xar_blocks *blocks);

/// Frees it; no thread may be using it. NULL is ignored.
void xar_plan_free(xar_plan *plan);

/// Called by xar_plan_read_next with a planned piece and its bytes, while the block is held; true when the bytes
/// went into the kernel's page cache (the block then need not be kept for the application's read).
typedef bool (*xar_plan_store)(void *context, const xar_piece *piece, const char *data);

/// Makes the pieces of `bytes` (a plan file, which begins with what xar_plan_copy_record wrote) the plan, and sets
/// `*used` to the bytes they took. Returns 0, -1 when it is not one, -2 when it was recorded on another image.
int xar_plan_set(xar_plan *plan, const uint8_t *bytes, size_t length, size_t *used);

/// The longest piece section of a plan file (XAR_PLAN_HEAD_BYTES included).
size_t xar_plan_max_bytes(void);

/// Forgets the plan.
void xar_plan_drop(xar_plan *plan);

/// The bytes a plan file begins with: a magic (8), the image's superblock and the number of pieces (4).
#define XAR_PLAN_HEAD_BYTES (8 + XAR_SUPERBLOCK_BYTES + 4)

/// Decompresses the next planned block into the cache, with `fs`, and hands its piece to `store`, unless `ahead`
/// planned blocks are already kept waiting for the application (a kept block stops counting once the
/// application reads it, or after a second). Returns 1 when it read one, 0 when it is ahead
/// enough, -1 when the plan is done (or proved not to fit the image).
int xar_plan_read_next(xar_plan *plan, sqfs *fs, size_t ahead, xar_plan_store store, void *context);

/// True once the plan is done (or there is none): what the start needs has been read.
bool xar_plan_done(xar_plan *plan);

/// Once the plan is done and the recording over, frees the plan and the record's index, and shrinks the record to
/// what it holds (kept for xar_plan_save): an idle server's memory.
void xar_plan_trim(xar_plan *plan);

/// Stores every planned piece of file `ino` not stored yet (decompressing with `fs` what the cache lacks), now
/// that the kernel knows the file: its later reads and page faults then find their pages.
void xar_plan_store_file(xar_plan *plan, sqfs *fs, uint64_t ino, xar_plan_store store, void *context);

/// Records every block of regular file `inode` (FUSE inode `ino`), its tail too, in order, as if a read had taken
/// them all (to make a plan from the image's list of start-up files). `fs` is the calling thread's libsquashfuse
/// state.
void xar_plan_note_file(xar_plan *plan, sqfs *fs, uint64_t ino, const sqfs_inode *inode);

/// Starts recording, for `seconds`, the pieces that reads other than the plan's take and the planned pieces put into
/// the page cache, in order, once each.
int xar_plan_record(xar_plan *plan, double seconds);

/// The record in its file form (the start of a plan file): copies it to `buffer` when `capacity` allows and
/// returns its length.
size_t xar_plan_copy_record(xar_plan *plan, uint8_t *buffer, size_t capacity);

/// True when the saved blocks in use are exactly the blocks of the record, none found damaged: saving again would
/// write the same file. Call after the session.
bool xar_plan_saved_current(xar_plan *plan);

/// Writes every block of the record, decompressed, once, in the record's order, as a saved-blocks file to `fd` (a
/// new empty file; the caller syncs and renames it), until `max_bytes` of data. Returns 0 or an errno value
/// (ENODATA: nothing was recorded). Call after the session, with the loop thread's `fs`.
int xar_plan_save(xar_plan *plan, sqfs *fs, int fd, size_t max_bytes);
