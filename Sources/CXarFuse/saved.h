// Decompressed start-up blocks kept on the host between mounts of an image (see saved.c).
#pragma once
#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <squashfuse/ll.h>

typedef struct xar_saved xar_saved;

/// The most blocks a saved-blocks file holds.
#define XAR_SAVED_MAX_BLOCKS 4096

/// Takes `fd` (a saved-blocks file open for reading; closed by xar_saved_close, or here on failure) for the image
/// whose 96-byte superblock is `superblock` and whose blocks decompress to at most `block_size` bytes. Sets
/// `*result` to 0 and returns the file; or returns NULL with `*result` -1 (not such a file, or damaged in its head or
/// index) or -2 (made for another image).
xar_saved *xar_saved_open(int fd, const uint8_t *superblock, size_t block_size, int *result);

/// Closes the file; NULL is ignored. No thread may be reading through it.
void xar_saved_close(xar_saved *saved);

/// True when the file holds the block at `position` (image offset) with size word `header`, not yet found damaged.
bool xar_saved_has(xar_saved *saved, uint64_t position, uint32_t header);

/// The file's copy of the block at `position` with size word `header`, as a new block like
/// `sqfs_data_block_read` returns (`sqfs_block_dispose` frees it): SQFS_OK; SQFS_ERR when the file has no such
/// block or its copy fails its checksum (that block is then never offered again). Safe from any thread.
sqfs_err xar_saved_read(xar_saved *saved, uint64_t position, uint32_t header, sqfs_block **out);

/// How many blocks the file holds.
size_t xar_saved_block_count(const xar_saved *saved);

/// How many blocks were read from the file and how many of its copies failed their checksum.
void xar_saved_counts(xar_saved *saved, unsigned long long *read, unsigned long long *damaged);

typedef struct xar_saved_writer xar_saved_writer;

/// Starts writing a saved-blocks file of at most `capacity` blocks for the image with `superblock` to `fd` (a new,
/// empty file; not closed here). NULL when out of memory.
xar_saved_writer *xar_saved_writer_new(int fd, const uint8_t *superblock, size_t capacity);

/// Appends the decompressed block at `position` with size word `header`: 0, or an errno value (the writer is
/// then good only for xar_saved_writer_finish, which returns it). Blocks past `capacity` are ignored.
int xar_saved_writer_add(xar_saved_writer *writer, uint64_t position, uint32_t header, const void *data, size_t length);

/// The data bytes added so far.
size_t xar_saved_writer_bytes(const xar_saved_writer *writer);

/// Writes the head and index, frees the writer and returns 0 or the first errno value met. The caller syncs and
/// renames the file.
int xar_saved_writer_finish(xar_saved_writer *writer);
