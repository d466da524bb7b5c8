// Decompressed start-up blocks kept on the host between mounts of an image.
//
// A cold start with a start-up plan (plan.c) still decompresses every block the application's start needs:
// for `black --version` ~210 blocks of 128 KiB, ~21 MB of zstd output, ~50 ms of CPU on this machine, and that is
// the whole of what a cold start costs over a hot one (an image stored uncompressed starts cold as fast as the
// native venv). The image is what travels over the wire, so it stays compressed; but the host that ran the tool
// once may keep those blocks decompressed. When a session ends, the server writes the blocks of its start-up
// record, decompressed, to `<mount point>.startup-blocks`, next to the plan (docs/lifecycle.md, "Cold starts");
// the next server of the image reads a block from there with one `pread` instead of decompressing it.
//
// The file, all numbers little-endian:
//
//     magic "xarblks1" (8) | the image's superblock (96) | block count (4) | zero (4)
//     per block: image position (8) | size word (4) | length (4) | offset in this file (8) | checksum (8)
//     the blocks' bytes
//
// It is only a cache. One made for another image (its superblock differs) or damaged in its head or index is not
// used; a block whose bytes fail their checksum is decompressed from the image instead, as is any block it lacks.
// The checksum (64 bits over the block, four lanes of multiply-and-rotate, a few GB/s) catches a torn or damaged
// file, not an attacker: the file lives in the user's own mount directory, where its owner could put anything.
#include <sys/stat.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "saved.h"
#include "support.h"

static const char saved_magic[8] = {'x', 'a', 'r', 'b', 'l', 'k', 's', '1'};
#define HEAD_BYTES (8 + XAR_SUPERBLOCK_BYTES + 4 + 4)
#define ENTRY_BYTES 32

static inline uint64_t rotate(uint64_t x, int bits) { return (x << bits) | (x >> (64 - bits)); }

static uint64_t checksum(const uint8_t *bytes, size_t length) {
    const uint64_t k1 = 0x9E3779B185EBCA87ull, k2 = 0xC2B2AE3D27D4EB4Full;
    uint64_t lane[4] = {k1, k2, k1 ^ length, k2 ^ length};
    size_t i = 0;
    for (; i + 32 <= length; i += 32)
        for (int j = 0; j < 4; j++) lane[j] = rotate(lane[j] + xar_le_read(bytes + i + 8 * j, 8) * k2, 31) * k1;
    uint64_t hash = rotate(lane[0], 1) + rotate(lane[1], 7) + rotate(lane[2], 12) + rotate(lane[3], 18);
    for (; i < length; i++) hash = (hash ^ bytes[i]) * k1;
    hash ^= hash >> 33;
    hash *= k2;
    return hash ^ (hash >> 29);
}

struct saved_block {
    uint64_t position, offset, checksum;
    uint32_t header, length;
    int damaged;  // set once its copy failed the checksum (atomic)
};

struct xar_saved {
    int fd;
    size_t count;
    struct saved_block *blocks;
    xar_map index;  // by position: 1 + the block's number
    unsigned long long read, damaged;
};

static struct saved_block *find(xar_saved *saved, uint64_t position, uint32_t header) {
    uint32_t number = saved->index.values[xar_map_slot(&saved->index, position)];
    if (number == 0) return NULL;
    struct saved_block *block = &saved->blocks[number - 1];
    return block->header == header && !__atomic_load_n(&block->damaged, __ATOMIC_RELAXED) ? block : NULL;
}

static bool read_all(int fd, void *buffer, size_t length, uint64_t offset) {
    size_t done = 0;
    while (done < length) {
        ssize_t n = pread(fd, (char *)buffer + done, length - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += (size_t)n;
    }
    return true;
}

void xar_saved_close(xar_saved *saved) {
    if (!saved) return;
    close(saved->fd);
    free(saved->blocks);
    xar_map_free(&saved->index);
    free(saved);
}

xar_saved *xar_saved_open(int fd, const uint8_t *superblock, size_t block_size, int *result) {
    *result = -1;
    uint8_t head[HEAD_BYTES];
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !read_all(fd, head, sizeof head, 0)
        || memcmp(head, saved_magic, sizeof saved_magic) != 0) {
        close(fd);
        return NULL;
    }
    if (memcmp(head + 8, superblock, XAR_SUPERBLOCK_BYTES) != 0) {
        close(fd);
        *result = -2;
        return NULL;
    }
    size_t count = (size_t)xar_le_read(head + 104, 4);
    xar_saved *saved = calloc(1, sizeof *saved);
    uint8_t *entries = count ? malloc(count * ENTRY_BYTES) : NULL;
    if (!saved || count == 0 || count > XAR_SAVED_MAX_BLOCKS || !entries
        || !read_all(fd, entries, count * ENTRY_BYTES, HEAD_BYTES)) {
        free(saved);
        free(entries);
        close(fd);
        return NULL;
    }
    saved->fd = fd;
    saved->count = count;
    saved->blocks = calloc(count, sizeof *saved->blocks);
    uint64_t data_start = HEAD_BYTES + (uint64_t)count * ENTRY_BYTES, size = (uint64_t)st.st_size;
    bool whole = xar_map_init(&saved->index, count) && saved->blocks;
    for (size_t i = 0; whole && i < count; i++) {
        const uint8_t *e = entries + ENTRY_BYTES * i;
        struct saved_block block = {
            .position = xar_le_read(e, 8), .header = (uint32_t)xar_le_read(e + 8, 4),
            .length = (uint32_t)xar_le_read(e + 12, 4), .offset = xar_le_read(e + 16, 8),
            .checksum = xar_le_read(e + 24, 8)};
        size_t slot = xar_map_slot(&saved->index, block.position);
        whole = block.length > 0 && block.length <= block_size && block.offset >= data_start
            && block.offset <= size && block.length <= size - block.offset && saved->index.values[slot] == 0;
        saved->blocks[i] = block;
        saved->index.keys[slot] = block.position;
        saved->index.values[slot] = (uint32_t)i + 1;
    }
    free(entries);
    if (!whole) {
        xar_saved_close(saved);
        return NULL;
    }
    *result = 0;
    return saved;
}

bool xar_saved_has(xar_saved *saved, uint64_t position, uint32_t header) {
    return find(saved, position, header) != NULL;
}

sqfs_err xar_saved_read(xar_saved *saved, uint64_t position, uint32_t header, sqfs_block **out) {
    struct saved_block *found = find(saved, position, header);
    if (!found) return SQFS_ERR;
    sqfs_block *block = malloc(sizeof *block);
    void *data = malloc(found->length);
    if (!block || !data || !read_all(saved->fd, data, found->length, found->offset)
        || checksum(data, found->length) != found->checksum) {
        if (block && data) {  // read but wrong: never again
            __atomic_store_n(&found->damaged, 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&saved->damaged, 1, __ATOMIC_RELAXED);
        }
        free(block);
        free(data);
        return SQFS_ERR;
    }
    *block = (sqfs_block){.size = found->length, .data = data};
    *out = block;
    __atomic_add_fetch(&saved->read, 1, __ATOMIC_RELAXED);
    return SQFS_OK;
}

size_t xar_saved_block_count(const xar_saved *saved) { return saved->count; }

void xar_saved_counts(xar_saved *saved, unsigned long long *read, unsigned long long *damaged) {
    *read = saved ? __atomic_load_n(&saved->read, __ATOMIC_RELAXED) : 0;
    *damaged = saved ? __atomic_load_n(&saved->damaged, __ATOMIC_RELAXED) : 0;
}

// MARK: - Writing

struct xar_saved_writer {
    int fd, error;
    size_t capacity, count, bytes;
    uint8_t superblock[XAR_SUPERBLOCK_BYTES];
    uint8_t *entries;
};

xar_saved_writer *xar_saved_writer_new(int fd, const uint8_t *superblock, size_t capacity) {
    if (capacity > XAR_SAVED_MAX_BLOCKS) capacity = XAR_SAVED_MAX_BLOCKS;
    xar_saved_writer *writer = calloc(1, sizeof *writer);
    uint8_t *entries = malloc((capacity ? capacity : 1) * ENTRY_BYTES);
    if (!writer || !entries) {
        free(writer);
        free(entries);
        return NULL;
    }
    *writer = (xar_saved_writer){.fd = fd, .capacity = capacity, .entries = entries};
    memcpy(writer->superblock, superblock, XAR_SUPERBLOCK_BYTES);
    return writer;
}

static int write_all(int fd, const void *bytes, size_t length, uint64_t offset) {
    size_t done = 0;
    while (done < length) {
        ssize_t n = pwrite(fd, (const char *)bytes + done, length - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n == 0 ? EIO : errno;
        done += (size_t)n;
    }
    return 0;
}

int xar_saved_writer_add(xar_saved_writer *writer, uint64_t position, uint32_t header, const void *data, size_t length) {
    if (writer->error || writer->count >= writer->capacity || length == 0) return writer->error;
    uint64_t offset = HEAD_BYTES + (uint64_t)writer->capacity * ENTRY_BYTES + writer->bytes;
    if ((writer->error = write_all(writer->fd, data, length, offset)) != 0) return writer->error;
    uint8_t *e = writer->entries + ENTRY_BYTES * writer->count++;
    xar_le_write(e, position, 8);
    xar_le_write(e + 8, header, 4);
    xar_le_write(e + 12, length, 4);
    xar_le_write(e + 16, offset, 8);
    xar_le_write(e + 24, checksum(data, length), 8);
    writer->bytes += length;
    return 0;
}

size_t xar_saved_writer_bytes(const xar_saved_writer *writer) { return writer->bytes; }

int xar_saved_writer_finish(xar_saved_writer *writer) {
    int error = writer->error;
    if (!error && writer->count == 0) error = ENODATA;
    if (!error) {
        // The index has room for `capacity` entries; the unused ones stay zero bytes between it and the data.
        uint8_t head[HEAD_BYTES] = {0};
        memcpy(head, saved_magic, sizeof saved_magic);
        memcpy(head + 8, writer->superblock, XAR_SUPERBLOCK_BYTES);
        xar_le_write(head + 104, writer->count, 4);
        error = write_all(writer->fd, head, sizeof head, 0);
        if (!error) error = write_all(writer->fd, writer->entries, writer->count * ENTRY_BYTES, HEAD_BYTES);
    }
    free(writer->entries);
    free(writer);
    return error;
}
