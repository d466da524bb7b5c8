// Small helpers the server's C files share: little-endian fields (the SquashFS superblock, the start-up plan's
// file), the monotonic clock, and starting the server's helper threads.
#pragma once
#include <pthread.h>
#include <signal.h>
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
