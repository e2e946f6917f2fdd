/*
 * CRC-32C: hardware (SSE4.2) when the CPU has it, slicing-by-8 otherwise.
 * The tables are computed on first use from the reflected polynomial
 * 0x82F63B78; nothing here allocates.
 */
#include "lib/crc32c.h"

#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc_table[8][256];
static atomic_int tables_ready; /* 0 not built, 1 built */
static atomic_int hw_state;     /* 0 unknown, 1 yes, 2 no */

static void crc32cBuildTables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        }
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            uint32_t prev = crc_table[t - 1][i];
            crc_table[t][i] = (prev >> 8) ^ crc_table[0][prev & 0xff];
        }
    }
}

uint32_t crc32cSoftware(uint32_t crc, const void *data, size_t n)
{
    /* Building twice from two threads writes identical values: harmless. */
    if (!atomic_load_explicit(&tables_ready, memory_order_acquire)) {
        crc32cBuildTables();
        atomic_store_explicit(&tables_ready, 1, memory_order_release);
    }
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (n >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                           (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
            crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^
            crc_table[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) {
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    }
    return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
crc32cHw(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (n >= 8) {
        uint64_t word;
        memcpy(&word, p, sizeof word);
        c = _mm_crc32_u64(c, word);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n-- > 0) {
        c32 = _mm_crc32_u8(c32, *p++);
    }
    return ~c32;
}
#endif

int crc32cHardware(void)
{
    int state = atomic_load_explicit(&hw_state, memory_order_relaxed);
    if (state == 0) {
        state = 2;
#if defined(__x86_64__)
        unsigned eax, ebx, ecx, edx;
        if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_SSE4_2)) {
            state = 1;
        }
#endif
        atomic_store_explicit(&hw_state, state, memory_order_relaxed);
    }
    return state == 1;
}

uint32_t crc32c(uint32_t crc, const void *data, size_t n)
{
#if defined(__x86_64__)
    if (crc32cHardware()) {
        return crc32cHw(crc, data, n);
    }
#endif
    return crc32cSoftware(crc, data, n);
}
