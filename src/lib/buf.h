/*
 * A growable byte buffer.
 *
 * The owner of a `struct buf` owns its `data`; bufFree releases it, and
 * bufDetach hands it over to the caller (who must then libFree it). Growth
 * doubles the capacity, so appending n bytes one at a time costs O(n).
 * A buffer never grows past `limit` bytes (0 means BUF_DEFAULT_LIMIT), which
 * bounds the memory any single decoder or encoder can take.
 */
#ifndef LIB_BUF_H
#define LIB_BUF_H

#include <stddef.h>
#include <stdint.h>

/* 1 GiB: above any single message or page set we produce. */
#define BUF_DEFAULT_LIMIT ((size_t)1 << 30)

struct buf {
    uint8_t *data; /* owned; NULL while cap == 0 */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated */
    size_t limit;  /* maximum cap; 0 = BUF_DEFAULT_LIMIT */
};

void bufInit(struct buf *b);
void bufFree(struct buf *b);

/* Forget the content but keep the memory. */
void bufReset(struct buf *b);

/* Make room for `extra` more bytes. ERR_TOOBIG past the limit, ERR_NOMEM. */
int bufReserve(struct buf *b, size_t extra);

/* Append `n` bytes copied from `src`. */
int bufAppend(struct buf *b, const void *src, size_t n);

/* Append `n` zero bytes and return a pointer to them through `out` (valid
 * until the next call that may grow the buffer). */
int bufAppendZeros(struct buf *b, size_t n, uint8_t **out);

/* Little-endian integers. */
int bufAppend32(struct buf *b, uint32_t v);
int bufAppend64(struct buf *b, uint64_t v);

/* Drop the first `n` bytes (n <= len), moving the rest to the front. */
void bufConsume(struct buf *b, size_t n);

/* Give the data to the caller and leave the buffer empty. The caller owns
 * the returned pointer (may be NULL when nothing was ever appended). */
uint8_t *bufDetach(struct buf *b, size_t *len);

#endif /* LIB_BUF_H */
