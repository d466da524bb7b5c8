// Background read-ahead of whole files into the kernel's page cache (see prefetch.c).
#pragma once
#include <sys/types.h>
#include <stdbool.h>
#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 32
#endif
#include <fuse_lowlevel.h>
#include <squashfuse/ll.h>
#include "blocks.h"
#include "plan.h"

typedef struct xar_prefetch xar_prefetch;

/// Starts the read-ahead threads (one per core but one), each with its own libsquashfuse state for the image at
/// `offset` in `image_fd`, reading blocks through `blocks` (shared with the loop thread), the start-up plan's
/// (`plan`) first when `planning`; NULL when none can start (the server then works without them).
xar_prefetch *xar_prefetch_start(
    struct fuse_session *session, xar_blocks *blocks, xar_plan *plan, bool planning, int image_fd, size_t offset);

/// Called by the loop thread after a read of `inode` (number `ino`): the first read of a file queues its planned
/// pieces (while a plan is followed) or the whole file (if it is worth it), and wakes the threads.
void xar_prefetch_note_read(xar_prefetch *prefetch, fuse_ino_t ino, const sqfs_inode *inode);

/// Called from any thread once the kernel knows file `ino` (looked up by the replay of the start-up plan's names):
/// if there is a plan, the file's planned pieces are queued to be stored in the page cache.
void xar_prefetch_note_known(xar_prefetch *prefetch, fuse_ino_t ino);

/// Stops and joins the threads and frees everything; NULL is ignored.
void xar_prefetch_stop(xar_prefetch *prefetch);
