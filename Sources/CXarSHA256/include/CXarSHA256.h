#ifndef CXARSHA256_H
#define CXARSHA256_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has the SHA extensions (and the SSSE3 / SSE4.1 they are used with), so that
/// `xar_sha256_blocks` may be called. Asked once (CPUID); always 0 on anything but x86-64.
int xar_sha256_accelerated(void);

/// Runs the SHA-256 compression function over `count` 64-byte blocks at `data`, updating `state` (the eight
/// working words H0…H7, in order), with the SHA-NI instructions. Only call it when `xar_sha256_accelerated()`.
void xar_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t count);

#endif
