// SHA-256's compression function with the x86 SHA extensions (SHA-NI): sha256rnds2 does two rounds, sha256msg1 and
// sha256msg2 the message schedule, four words at a time. The padding, the length and the portable fallback are in
// Swift (XarFormat.SHA256); this file only runs whole blocks.

#include "CXarSHA256.h"

#if defined(__x86_64__)

#include <cpuid.h>
#include <immintrin.h>

int xar_sha256_accelerated(void) {
    static int known = -1;
    int answer = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (answer >= 0) return answer;
    unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
    int result = 0;
    // Leaf 1: ECX bit 9 SSSE3, bit 19 SSE4.1. Leaf 7, subleaf 0: EBX bit 29 SHA.
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 9)) && (ecx & (1u << 19))) {
        if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ebx & (1u << 29))) result = 1;
    }
    __atomic_store_n(&known, result, __ATOMIC_RELAXED);  // Racing threads compute the same value.
    return result;
}

// "The round constants K0…K63" (FIPS 180-4, 4.2.2), four per round group.
static const uint32_t k[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

__attribute__((target("sha,sse4.1,ssse3"))) void xar_sha256_blocks(uint32_t state[8], const uint8_t *data,
                                                                     size_t count) {
    // The message words are big-endian: reverse the bytes of each 32-bit lane.
    const __m128i byteswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    // sha256rnds2 wants the state as ABEF and CDGH (A in the highest lane).
    __m128i dcba = _mm_loadu_si128((const __m128i *)&state[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&state[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);

    for (; count > 0; count--, data += 64) {
        const __m128i abefSaved = abef, cdghSaved = cdgh;
        // w[i & 3] holds message words 4i…4i+3 once group i starts; the schedule fills the next ones ahead.
        __m128i w[4];
        _Pragma("clang loop unroll(full)") for (int i = 0; i < 16; i++) {
            if (i < 4) w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), byteswap);
            __m128i message = _mm_add_epi32(w[i & 3], _mm_load_si128((const __m128i *)&k[4 * i]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, message);
            if (i >= 3 && i < 15) {
                // w[i+1] = msg2(msg1(w[i+1], …) + (words 4i-3…4i), w[i]): words 4(i+1)…4(i+1)+3.
                __m128i next = _mm_add_epi32(w[(i + 1) & 3], _mm_alignr_epi8(w[i & 3], w[(i + 3) & 3], 4));
                w[(i + 1) & 3] = _mm_sha256msg2_epu32(next, w[i & 3]);
            }
            message = _mm_shuffle_epi32(message, 0x0E);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, message);
            if (i >= 1 && i < 13) w[(i - 1) & 3] = _mm_sha256msg1_epu32(w[(i - 1) & 3], w[i & 3]);
        }
        abef = _mm_add_epi32(abef, abefSaved);
        cdgh = _mm_add_epi32(cdgh, cdghSaved);
    }

    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(dchg, feba, 8));
}

#else

int xar_sha256_accelerated(void) { return 0; }

void xar_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t count) {
    (void)state;
    (void)data;
    (void)count;
}

#endif
