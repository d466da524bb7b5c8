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

typedef struct xar_prefetch xar_prefetch;

/// Starts the prefetch thread over its own libsquashfuse state for the image at `offset` in `image_fd`, reading
/// data blocks through `blocks` (shared with the loop thread), first those of the start-up plan when `planning`;
/// NULL when it cannot (the server then works without it).
xar_prefetch *xar_prefetch_start(
    struct fuse_session *session, xar_blocks *blocks, bool planning, int image_fd, size_t offset);

/// Called by the loop thread after a read of `inode` (number `ino`): queues the whole file once, if it is worth
/// it, and lets the plan go on.
void xar_prefetch_note_read(xar_prefetch *prefetch, fuse_ino_t ino, const sqfs_inode *inode);

/// Stops and joins the thread and frees everything; NULL is ignored.
void xar_prefetch_stop(xar_prefetch *prefetch);
