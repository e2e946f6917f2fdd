/*
 * The sans-I/O reader (see reader.h): one buffer, a consumed prefix that is
 * compacted away only when bytes are added (so frames stay valid until
 * then), and a sticky error once framing fails.
 */
#include "proto/reader.h"

#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "proto/request.h"

void protoReaderInit(struct proto_reader *r, enum proto_side side)
{
    PRE(side == PROTO_SIDE_SERVER || side == PROTO_SIDE_CLIENT);
    r->side = side;
    r->version = 0;
    bufInit(&r->buf);
    r->pos = 0;
    r->pending = 0;
    r->rv = 0;
    protoReaderSetMaxBody(r, side == PROTO_SIDE_SERVER
                                 ? PROTO_REQUEST_BODY_MAX
                                 : PROTO_RESPONSE_BODY_MAX);
}

void protoReaderClose(struct proto_reader *r)
{
    bufFree(&r->buf);
    r->pos = 0;
    r->pending = 0;
}

void protoReaderSetMaxBody(struct proto_reader *r, size_t max_body)
{
    PRE(max_body >= PROTO_WORD && max_body <= PROTO_BODY_HARD_MAX);
    r->max_body = max_body;
    r->buf.limit = max_body + PROTO_HEADER_SIZE + PROTO_READER_CHUNK_MAX;
}

size_t protoReaderBuffered(const struct proto_reader *r)
{
    ASSERT(r->pos + r->pending <= r->buf.len);
    return r->buf.len - r->pos - r->pending;
}

/* Forgets the frame returned last and moves unconsumed bytes to the front
 * of the buffer. */
static void readerCompact(struct proto_reader *r)
{
    r->pos += r->pending;
    r->pending = 0;
    ASSERT(r->pos <= r->buf.len);
    if (r->pos > 0) {
        bufConsume(&r->buf, r->pos);
        r->pos = 0;
    }
}

int protoReaderFeed(struct proto_reader *r, const void *data, size_t len)
{
    PRE(data != NULL || len == 0);
    PRE(len <= PROTO_READER_CHUNK_MAX);
    if (r->rv != 0) {
        return r->rv;
    }
    readerCompact(r);
    return bufAppend(&r->buf, data, len);
}

int protoReaderReserve(struct proto_reader *r, size_t want, uint8_t **p,
                       size_t *avail)
{
    PRE(want > 0 && want <= PROTO_READER_CHUNK_MAX);
    if (r->rv != 0) {
        return r->rv;
    }
    readerCompact(r);
    int rv = bufReserve(&r->buf, want);
    if (rv != 0) {
        return rv;
    }
    *p = r->buf.data + r->buf.len;
    *avail = r->buf.cap - r->buf.len;
    POST(*avail >= want);
    return 0;
}

void protoReaderCommit(struct proto_reader *r, size_t n)
{
    PRE(n <= r->buf.cap - r->buf.len);
    r->buf.len += n;
}

static int readerFail(struct proto_reader *r, int rv)
{
    ASSERT(rv != 0 && r->rv == 0);
    r->rv = rv;
    return rv;
}

static int readerHandshake(struct proto_reader *r)
{
    if (r->buf.len - r->pos < 8) {
        return ERR_AGAIN;
    }
    int rv = protoHandshakeDecode(r->buf.data + r->pos, &r->version);
    if (rv != 0) {
        return readerFail(r, rv);
    }
    r->pos += 8;
    return 0;
}

int protoReaderNext(struct proto_reader *r, struct proto_frame *frame)
{
    if (r->rv != 0) {
        return r->rv;
    }
    r->pos += r->pending;
    r->pending = 0;
    if (r->side == PROTO_SIDE_SERVER && r->version == 0) {
        int rv = readerHandshake(r);
        if (rv != 0) {
            return rv;
        }
    }
    size_t avail = r->buf.len - r->pos;
    if (avail < PROTO_HEADER_SIZE) {
        return ERR_AGAIN;
    }
    protoHeaderGet(r->buf.data + r->pos, &frame->header);
    if (frame->header.words == 0) {
        return readerFail(r, ERR_PROTO_EMPTY);
    }
    uint64_t body = (uint64_t)frame->header.words * PROTO_WORD;
    if (body > r->max_body) {
        return readerFail(r, ERR_PROTO_TOOBIG);
    }
    if (avail - PROTO_HEADER_SIZE < body) {
        return ERR_AGAIN;
    }
    frame->body = r->buf.data + r->pos + PROTO_HEADER_SIZE;
    frame->len = (size_t)body;
    r->pending = PROTO_HEADER_SIZE + (size_t)body;
    POST(r->pos + r->pending <= r->buf.len);
    return 0;
}

uint64_t protoReaderPeekSize(const struct proto_reader *r, bool *complete)
{
    struct proto_header h;
    size_t start = r->pos + r->pending;
    *complete = false;
    if ((r->rv != 0 && r->rv != ERR_PROTO_TOOBIG) ||
        (r->side == PROTO_SIDE_SERVER && r->version == 0) ||
        r->buf.len - start < PROTO_HEADER_SIZE) {
        return 0;
    }
    protoHeaderGet(r->buf.data + start, &h);
    uint64_t size = PROTO_HEADER_SIZE + (uint64_t)h.words * PROTO_WORD;
    *complete = r->buf.len - start >= size;
    return size;
}

void protoReaderTrim(struct proto_reader *r)
{
    if (r->buf.len == r->pos + r->pending) {
        size_t limit = r->buf.limit;
        bufFree(&r->buf);
        r->buf.limit = limit;
        r->pos = 0;
        r->pending = 0;
    }
}
