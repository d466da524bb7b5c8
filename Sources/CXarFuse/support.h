// Small helpers the server's C files share: little-endian fields (the SquashFS superblock, the start-up plan's
// file), the monotonic clock, starting the server's helper threads, and a map of 64-bit keys.
#pragma once
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <errno.h>
#include <unistd.h>

/// The SquashFS superblock's size: a plan and a saved-blocks file carry the image's, and fit no other image.
#define XAR_SUPERBLOCK_BYTES 96

/// The `count`-byte little-endian number at `bytes`.
static inline uint64_t xar_le_read(const uint8_t *bytes, int count) {
    uint64_t value = 0;
    for (int i = count - 1; i >= 0; i--) value = (value << 8) | bytes[i];
    return value;
}

/// Writes `value` as a `count`-byte little-endian number at `bytes`.
static inline void xar_le_write(uint8_t *bytes, uint64_t value, int count) {
    for (int i = 0; i < count; i++) bytes[i] = (uint8_t)(value >> (8 * i));
}

/// CLOCK_MONOTONIC in nanoseconds.
static inline int64_t xar_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/// Starts a helper thread (read-ahead, the replay of names) that blocks every signal, so that SIGTERM reaches the
/// loop thread and ends its read of /dev/fuse instead of landing there. Returns pthread_create's result.
static inline int xar_thread_start(pthread_t *thread, void *(*run)(void *), void *argument) {
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);  // the new thread inherits this mask
    int result = pthread_create(thread, NULL, run, argument);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return result;
}

/// A map from 64-bit keys to non-zero 32-bit values, of a capacity fixed when made: open addressing, a slot whose
/// value is 0 is free. (The start-up record's pieces and names, the directories the replay reached, the blocks of a
/// saved-blocks file.)
typedef struct {
    uint64_t *keys;
    uint32_t *values;
    size_t slots;
} xar_map;

/// The slot of `key`: the one holding it, or the free one where it goes.
static inline size_t xar_map_slot(const xar_map *map, uint64_t key) {
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) % map->slots;
    while (map->values[i] != 0 && map->keys[i] != key) i = (i + 1) % map->slots;
    return i;
}

/// Makes an empty map for up to `capacity` keys; false when out of memory (free it all the same).
static inline bool xar_map_init(xar_map *map, size_t capacity) {
    map->slots = capacity * 2 + 1;
    map->keys = calloc(map->slots, sizeof *map->keys);
    map->values = calloc(map->slots, sizeof *map->values);
    return map->keys && map->values;
}

static inline void xar_map_free(xar_map *map) {
    free(map->keys);
    free(map->values);
    *map = (xar_map){0};
}

/// Reads `count` bytes at `offset` of `fd` (retrying short reads and EINTR); 0, or -1 (errno set; EIO at the end of
/// the file).
static inline int xar_pread_all(int fd, void *buffer, size_t count, uint64_t offset) {
    char *at = buffer;
    while (count > 0) {
        ssize_t n = pread(fd, at, count, (off_t)offset);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            return -1;
        }
        at += n;
        count -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

/// Writes `count` bytes at `offset` of `fd` (retrying short writes and EINTR); 0, or -1 (errno set).
static inline int xar_pwrite_all(int fd, const void *buffer, size_t count, uint64_t offset) {
    const char *at = buffer;
    while (count > 0) {
        ssize_t n = pwrite(fd, at, count, (off_t)offset);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        at += n;
        count -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

/// Gives the allocator's free pages back to the system, in every arena (malloc_trim; memory.c).
void xar_trim_heap(void);

/// Makes every thread allocate from the one main arena (mallopt M_ARENA_MAX; memory.c): an idle server's helper
/// threads then keep no arenas of their own. Call before the first thread starts.
void xar_limit_arenas(void);

/// Drops this process's resident pages of read-only private file mappings that hold no private copies (the
/// executable's code and constants): they stay in the page cache, and a later use maps them again with a minor
/// fault. Returns the bytes of the mappings advised (memory.c).
size_t xar_release_file_pages(void);
