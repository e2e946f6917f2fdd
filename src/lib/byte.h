/*
 * Little-endian loads and stores at arbitrary (unaligned) addresses.
 *
 * Every on-wire and on-disk integer of the project is little-endian; these
 * helpers are the only place that knows how to move one between memory and
 * bytes. They never assume alignment, so a decoder can point them at any
 * offset of a received buffer. The caller guarantees the bytes exist (the
 * bounds check belongs to the decoder, which knows the length).
 */
#ifndef LIB_BYTE_H
#define LIB_BYTE_H

#include <stdint.h>
#include <string.h>

static inline uint16_t byteGet16(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[0] | (uint16_t)b[1] << 8);
}

static inline uint32_t byteGet32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

static inline uint64_t byteGet64(const void *p)
{
    const uint8_t *b = p;
    return (uint64_t)byteGet32(b) | (uint64_t)byteGet32(b + 4) << 32;
}

static inline void bytePut16(void *p, uint16_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}

static inline void bytePut32(void *p, uint32_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}

static inline void bytePut64(void *p, uint64_t v)
{
    uint8_t *b = p;
    bytePut32(b, (uint32_t)v);
    bytePut32(b + 4, (uint32_t)(v >> 32));
}

/* IEEE-754 binary64 as its little-endian bit pattern. */
static inline double byteGetDouble(const void *p)
{
    uint64_t bits = byteGet64(p);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static inline void bytePutDouble(void *p, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    bytePut64(p, bits);
}

/* Big-endian 32-bit, for the few foreign formats that use it (SQLite's WAL
 * and database headers). */
static inline uint32_t byteGet32Be(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
           (uint32_t)b[3];
}

static inline void bytePut32Be(void *p, uint32_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* Rounds n up to the next multiple of 8 (the wire protocol's word). */
static inline uint64_t bytePad8(uint64_t n)
{
    return (n + 7) & ~(uint64_t)7;
}

#endif /* LIB_BYTE_H */
