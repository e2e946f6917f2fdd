/*
 * Growable byte buffer (see buf.h).
 */
#include "lib/buf.h"

#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"

static size_t bufLimit(const struct buf *b)
{
    return b->limit == 0 ? BUF_DEFAULT_LIMIT : b->limit;
}

void bufInit(struct buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = 0;
}

void bufFree(struct buf *b)
{
    libFree(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void bufReset(struct buf *b)
{
    b->len = 0;
}

int bufReserve(struct buf *b, size_t extra)
{
    size_t limit = bufLimit(b);
    PRE(b->len <= b->cap);
    if (extra > limit || b->len > limit - extra) {
        return ERR_TOOBIG;
    }
    size_t need = b->len + extra;
    if (need <= b->cap) {
        return 0;
    }
    size_t cap = b->cap == 0 ? 64 : b->cap;
    while (cap < need) {
        cap = cap > limit / 2 ? limit : cap * 2;
    }
    uint8_t *data = libRealloc(b->data, cap);
    if (data == NULL) {
        return ERR_NOMEM;
    }
    b->data = data;
    b->cap = cap;
    POST(b->cap >= need);
    return 0;
}

int bufAppend(struct buf *b, const void *src, size_t n)
{
    int rv = bufReserve(b, n);
    if (rv != 0) {
        return rv;
    }
    if (n > 0) {
        memcpy(b->data + b->len, src, n);
    }
    b->len += n;
    return 0;
}

int bufAppendZeros(struct buf *b, size_t n, uint8_t **out)
{
    int rv = bufReserve(b, n);
    if (rv != 0) {
        return rv;
    }
    uint8_t *start = b->data + b->len;
    if (n > 0) {
        memset(start, 0, n);
    }
    b->len += n;
    if (out != NULL) {
        *out = start;
    }
    return 0;
}

int bufAppend32(struct buf *b, uint32_t v)
{
    uint8_t bytes[4];
    bytePut32(bytes, v);
    return bufAppend(b, bytes, sizeof bytes);
}

int bufAppend64(struct buf *b, uint64_t v)
{
    uint8_t bytes[8];
    bytePut64(bytes, v);
    return bufAppend(b, bytes, sizeof bytes);
}

void bufConsume(struct buf *b, size_t n)
{
    PRE(n <= b->len);
    if (n < b->len) {
        memmove(b->data, b->data + n, b->len - n);
    }
    b->len -= n;
}

uint8_t *bufDetach(struct buf *b, size_t *len)
{
    uint8_t *data = b->data;
    if (len != NULL) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return data;
}
