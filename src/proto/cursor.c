/*
 * The decoding and encoding cursors (see cursor.h), and the encodings of
 * the protocol's field types: u32/u64 words, text, blob and values.
 */
#include "proto/cursor.h"

#include <string.h>

#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"

/* ------------------------------------------------------------ decoding */

void protoDecInit(struct proto_dec *d, const uint8_t *p, size_t len)
{
    PRE(p != NULL || len == 0);
    d->p = p;
    d->len = len;
    d->pos = 0;
    d->rv = 0;
}

size_t protoDecLeft(const struct proto_dec *d)
{
    ASSERT(d->pos <= d->len);
    return d->len - d->pos;
}

void protoDecFail(struct proto_dec *d, int rv)
{
    PRE(rv != 0);
    if (d->rv == 0) {
        d->rv = rv;
    }
}

/* Whether `n` more bytes can be read; records ERR_PROTO_SHORT if not. */
static int decNeed(struct proto_dec *d, size_t n)
{
    if (d->rv != 0) {
        return 0;
    }
    if (n > protoDecLeft(d)) {
        protoDecFail(d, ERR_PROTO_SHORT);
        return 0;
    }
    return 1;
}

uint64_t protoDecU64(struct proto_dec *d)
{
    if (!decNeed(d, 8)) {
        return 0;
    }
    uint64_t v = byteGet64(d->p + d->pos);
    d->pos += 8;
    return v;
}

uint32_t protoDecU32(struct proto_dec *d)
{
    if (!decNeed(d, 4)) {
        return 0;
    }
    uint32_t v = byteGet32(d->p + d->pos);
    d->pos += 4;
    return v;
}

uint8_t protoDecU8(struct proto_dec *d)
{
    if (!decNeed(d, 1)) {
        return 0;
    }
    return d->p[d->pos++];
}

void protoDecSkip(struct proto_dec *d, size_t n)
{
    if (decNeed(d, n)) {
        d->pos += n;
    }
}

struct proto_span protoDecBytes(struct proto_dec *d, size_t n)
{
    struct proto_span s = {NULL, 0};
    if (decNeed(d, n)) {
        s.data = d->p + d->pos;
        s.len = n;
        d->pos += n;
    }
    return s;
}

struct proto_text protoDecText(struct proto_dec *d)
{
    struct proto_text t = {"", 0};
    if (d->rv != 0) {
        return t;
    }
    if (protoDecLeft(d) == 0) {
        protoDecFail(d, ERR_PROTO_SHORT);
        return t;
    }
    const uint8_t *start = d->p + d->pos;
    const uint8_t *nul = memchr(start, 0, protoDecLeft(d));
    if (nul == NULL) {
        protoDecFail(d, ERR_PROTO_NONUL);
        return t;
    }
    size_t len = (size_t)(nul - start);
    if (len > PROTO_TEXT_MAX) {
        protoDecFail(d, ERR_PROTO_TEXT_LONG);
        return t;
    }
    /* The NUL lies inside the body; the padding after it may not (a body
     * that ends mid-padding is short). */
    size_t size = (size_t)bytePad8(len + 1);
    if (!decNeed(d, size)) {
        return t;
    }
    t.data = (const char *)start;
    t.len = len;
    d->pos += size;
    POST(t.data[t.len] == '\0');
    return t;
}

struct proto_span protoDecBlob(struct proto_dec *d)
{
    struct proto_span b = {NULL, 0};
    uint64_t len = protoDecU64(d);
    if (d->rv != 0) {
        return b;
    }
    if (len > PROTO_BLOB_MAX) {
        protoDecFail(d, ERR_PROTO_BLOB_LONG);
        return b;
    }
    if (!decNeed(d, (size_t)bytePad8(len))) {
        return b;
    }
    b.data = d->p + d->pos;
    b.len = (size_t)len;
    d->pos += (size_t)bytePad8(len);
    return b;
}

void protoDecValue(struct proto_dec *d, uint8_t type, struct proto_value *v)
{
    uint64_t bits;
    PRE(protoRowTypeValid(type));
    memset(v, 0, sizeof *v);
    v->type = type;
    switch (type) {
    case PROTO_INTEGER:
    case PROTO_UNIXTIME:
        v->integer = (int64_t)protoDecU64(d);
        break;
    case PROTO_FLOAT:
        bits = protoDecU64(d);
        memcpy(&v->real, &bits, sizeof v->real);
        break;
    case PROTO_TEXT:
    case PROTO_ISO8601:
        v->text = protoDecText(d);
        break;
    case PROTO_BLOB:
        v->blob = protoDecBlob(d);
        break;
    case PROTO_NULL:
        protoDecSkip(d, 8); /* written as 0, never read */
        break;
    case PROTO_BOOLEAN:
        v->boolean = protoDecU64(d) != 0;
        break;
    default:
        UNREACHABLE();
    }
}

/* ------------------------------------------------------------ encoding */

void protoEncBegin(struct proto_enc *e, struct buf *out, uint8_t type,
                   uint8_t schema)
{
    uint8_t *hdr;
    e->out = out;
    e->start = out->len;
    e->rv = bufAppendZeros(out, PROTO_HEADER_SIZE, &hdr);
    if (e->rv == 0) {
        hdr[4] = type;
        hdr[5] = schema;
    }
}

void protoEncFail(struct proto_enc *e, int rv)
{
    PRE(rv != 0);
    if (e->rv == 0) {
        e->rv = rv;
    }
}

void protoEncU64(struct proto_enc *e, uint64_t v)
{
    if (e->rv == 0) {
        e->rv = bufAppend64(e->out, v);
    }
}

void protoEncU32(struct proto_enc *e, uint32_t v)
{
    if (e->rv == 0) {
        e->rv = bufAppend32(e->out, v);
    }
}

void protoEncZeros(struct proto_enc *e, size_t n)
{
    uint8_t *unused;
    if (e->rv == 0) {
        e->rv = bufAppendZeros(e->out, n, &unused);
    }
}

void protoEncBytes(struct proto_enc *e, const void *p, size_t n)
{
    if (e->rv == 0) {
        e->rv = bufAppend(e->out, p, n);
    }
}

void protoEncText(struct proto_enc *e, struct proto_text t)
{
    PRE(t.data != NULL || t.len == 0);
    if (t.len > PROTO_TEXT_MAX) {
        protoEncFail(e, ERR_PROTO_TEXT_LONG);
    } else if (t.len > 0 && memchr(t.data, 0, t.len) != NULL) {
        protoEncFail(e, ERR_PROTO_TEXT_NUL);
    }
    protoEncBytes(e, t.data, t.len);
    protoEncZeros(e, (size_t)bytePad8(t.len + 1) - t.len);
}

void protoEncBlob(struct proto_enc *e, struct proto_span b)
{
    PRE(b.data != NULL || b.len == 0);
    if (b.len > PROTO_BLOB_MAX) {
        protoEncFail(e, ERR_PROTO_BLOB_LONG);
    }
    protoEncU64(e, b.len);
    protoEncBytes(e, b.data, b.len);
    protoEncZeros(e, (size_t)bytePad8(b.len) - b.len);
}

void protoEncValue(struct proto_enc *e, const struct proto_value *v)
{
    uint8_t word[8];
    switch (v->type) {
    case PROTO_INTEGER:
    case PROTO_UNIXTIME:
        protoEncU64(e, (uint64_t)v->integer);
        break;
    case PROTO_FLOAT:
        bytePutDouble(word, v->real);
        protoEncBytes(e, word, sizeof word);
        break;
    case PROTO_TEXT:
    case PROTO_ISO8601:
        protoEncText(e, v->text);
        break;
    case PROTO_BLOB:
        protoEncBlob(e, v->blob);
        break;
    case PROTO_NULL:
        protoEncU64(e, 0);
        break;
    case PROTO_BOOLEAN:
        protoEncU64(e, v->boolean ? 1 : 0);
        break;
    default:
        protoEncFail(e, ERR_PROTO_VALUE_TYPE);
    }
}

size_t protoEncBodyLen(const struct proto_enc *e)
{
    ASSERT(e->out->len >= e->start + PROTO_HEADER_SIZE || e->rv != 0);
    return e->out->len - e->start - PROTO_HEADER_SIZE;
}

int protoEncEnd(struct proto_enc *e)
{
    if (e->rv == 0) {
        size_t body = protoEncBodyLen(e);
        ASSERT(body % PROTO_WORD == 0);
        if (body / PROTO_WORD > UINT32_MAX) {
            e->rv = ERR_PROTO_TOOBIG;
        } else {
            bytePut32(e->out->data + e->start, (uint32_t)(body / PROTO_WORD));
        }
    }
    if (e->rv != 0 && e->out->len > e->start) {
        e->out->len = e->start;
    }
    return e->rv;
}
