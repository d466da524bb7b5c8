// Small helpers the server's C files share: little-endian fields (the SquashFS superblock, the start-up plan's
// file) and the monotonic clock.
#pragma once
#include <stdint.h>
#include <time.h>

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
