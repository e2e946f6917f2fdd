/*
 * CRC-32C (Castagnoli), the checksum of every record the node writes to
 * disk (log segments, metadata, snapshots) and of nothing it trusts blindly.
 *
 * Chosen over a plain CRC-32 or a simple additive sum because it detects all
 * burst errors up to 32 bits and every 1-3 bit error in records of the sizes
 * we write, and because x86-64 computes it in hardware (SSE4.2 `crc32`
 * instruction, about 8 bytes per cycle). Where the instruction is missing a
 * slicing-by-8 table version gives the same result. The choice is made once,
 * at the first call, and is thread-safe (both paths are pure functions).
 *
 * crc32c(0, NULL, 0) == 0; crc32c("123456789") == 0xE3069283. Checksums of
 * consecutive pieces chain: crc32c(crc32c(0, a), b) == crc32c(0, a||b).
 */
#ifndef LIB_CRC32C_H
#define LIB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend `crc` (0 to start) with `n` bytes at `data`. */
uint32_t crc32c(uint32_t crc, const void *data, size_t n);

/* The portable table implementation, for tests and measurements. */
uint32_t crc32cSoftware(uint32_t crc, const void *data, size_t n);

/* Whether crc32c() uses the hardware instruction on this machine. */
int crc32cHardware(void);

#endif /* LIB_CRC32C_H */
