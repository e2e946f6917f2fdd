/*
 * Handshake and frame codec of the peer stream (see frame.h).
 */
#include "raftio/frame.h"

#include <string.h>

#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/crc32c.h"
#include "lib/err.h"

static size_t textSize(size_t len)
{
    return (size_t)bytePad8(len + 1);
}

static void putText(uint8_t *p, const char *s)
{
    size_t len = strlen(s);
    memset(p, 0, textSize(len));
    memcpy(p, s, len);
}

int frameEncodeHandshake(struct buf *out, const struct raftio_handshake *hs)
{
    size_t alen = strnlen(hs->address, FRAME_TEXT_MAX + 1);
    size_t clen = strnlen(hs->cluster, FRAME_TEXT_MAX + 1);
    PRE(alen <= FRAME_TEXT_MAX && clen <= FRAME_TEXT_MAX);
    size_t body = 8 + textSize(alen) + textSize(clen);
    uint8_t *p;
    int rv = bufAppendZeros(out, 8 + FRAME_HEADER_SIZE + body, &p);
    if (rv != 0) {
        return rv;
    }
    bytePut64(p, FRAME_PROTOCOL_VERSION);
    bytePut32(p + 8, (uint32_t)(body / 8));
    p[12] = FRAME_CONNECT_TYPE;
    p[13] = FRAME_CONNECT_SCHEMA;
    bytePut64(p + 16, hs->node_id);
    putText(p + 24, hs->address);
    putText(p + 24 + textSize(alen), hs->cluster);
    return 0;
}

/* Reads a text field of `body` at *off; ERR_HANDSHAKE when unterminated
 * or too long. */
static int getText(const uint8_t *body, size_t n, size_t *off, char *out)
{
    const uint8_t *start = body + *off;
    const uint8_t *nul = memchr(start, 0, n - *off);
    if (nul == NULL || (size_t)(nul - start) > FRAME_TEXT_MAX) {
        return ERR_HANDSHAKE;
    }
    size_t len = (size_t)(nul - start);
    memcpy(out, start, len);
    out[len] = '\0';
    *off += textSize(len);
    return *off <= n ? 0 : ERR_HANDSHAKE;
}

int frameDecodeHandshake(const uint8_t *p, size_t n,
                         struct raftio_handshake *hs, size_t *consumed)
{
    if (n < 8 + FRAME_HEADER_SIZE) {
        return ERR_AGAIN;
    }
    uint64_t words = byteGet32(p + 8);
    if (byteGet64(p) != FRAME_PROTOCOL_VERSION || p[12] != FRAME_CONNECT_TYPE ||
        p[13] > FRAME_CONNECT_SCHEMA || words < 2 ||
        words > (8 + 2 * textSize(FRAME_TEXT_MAX)) / 8) {
        return ERR_HANDSHAKE;
    }
    size_t body_len = (size_t)words * 8;
    if (n < 8 + FRAME_HEADER_SIZE + body_len) {
        return ERR_AGAIN;
    }
    const uint8_t *body = p + 8 + FRAME_HEADER_SIZE;
    size_t off = 8;
    hs->node_id = byteGet64(body);
    hs->cluster[0] = '\0';
    int rv = getText(body, body_len, &off, hs->address);
    if (rv == 0 && p[13] == FRAME_CONNECT_SCHEMA) {
        rv = getText(body, body_len, &off, hs->cluster);
    }
    if (rv != 0 || hs->node_id == 0) {
        return ERR_HANDSHAKE;
    }
    *consumed = 8 + FRAME_HEADER_SIZE + body_len;
    return 0;
}

int frameEncode(struct buf *out, const void *body, size_t len)
{
    PRE(len <= FRAME_BODY_MAX);
    uint8_t *p;
    int rv = bufAppendZeros(out, 8 + len, &p);
    if (rv != 0) {
        return rv;
    }
    bytePut32(p, (uint32_t)len);
    bytePut32(p + 4, crc32c(0, body, len));
    if (len > 0) {
        memcpy(p + 8, body, len);
    }
    return 0;
}

void frameDecoderInit(struct frame_decoder *d, uint32_t max_body)
{
    PRE(max_body <= FRAME_BODY_MAX);
    bufInit(&d->in);
    d->in.limit = (size_t)max_body + 8 + 65536;
    d->consumed = 0;
    d->max_body = max_body;
}

void frameDecoderClose(struct frame_decoder *d)
{
    bufFree(&d->in);
}

int frameDecoderPush(struct frame_decoder *d, const void *p, size_t n)
{
    if (d->consumed > 0) {
        bufConsume(&d->in, d->consumed);
        d->consumed = 0;
    }
    if (n > d->in.limit - d->in.len) {
        return ERR_FRAME; /* more than one frame plus one read pending */
    }
    return bufAppend(&d->in, p, n);
}

int frameDecoderPop(struct frame_decoder *d, const uint8_t **body, size_t *len)
{
    size_t avail = d->in.len - d->consumed;
    if (avail < 8) {
        return ERR_AGAIN;
    }
    const uint8_t *p = d->in.data + d->consumed;
    uint32_t n = byteGet32(p);
    if (n > d->max_body) {
        return ERR_FRAME;
    }
    if (avail - 8 < n) {
        return ERR_AGAIN;
    }
    if (byteGet32(p + 4) != crc32c(0, p + 8, n)) {
        return ERR_FRAME;
    }
    *body = p + 8;
    *len = n;
    d->consumed += 8 + (size_t)n;
    return 0;
}
