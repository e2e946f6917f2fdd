/*
 * The load extension's codec (see load.h).
 */
#include "proto/load.h"

#include "lib/assert.h"
#include "lib/err.h"
#include "proto/cursor.h"

bool protoLoadIsRequest(uint8_t type)
{
    return type >= PROTO_REQ_LOAD_BEGIN && type <= PROTO_REQ_LOAD_COMMIT;
}

int protoLoadBeginDecode(const uint8_t *body, size_t len,
                         struct proto_load_begin *out)
{
    struct proto_dec d;
    protoDecInit(&d, body, len);
    out->name = protoDecText(&d);
    out->size = protoDecU64(&d);
    out->flags = protoDecU64(&d);
    if (d.rv == 0 && out->size > PROTO_LOAD_SIZE_MAX) {
        d.rv = ERR_PROTO_TOOBIG;
    }
    if (d.rv == 0 && (out->flags & ~(uint64_t)PROTO_LOAD_FORCE) != 0) {
        d.rv = ERR_MALFORMED;
    }
    return d.rv;
}

int protoLoadChunkDecode(const uint8_t *body, size_t len,
                         struct proto_load_chunk *out)
{
    struct proto_dec d;
    protoDecInit(&d, body, len);
    out->offset = protoDecU64(&d);
    out->len = protoDecU64(&d);
    out->data = NULL;
    if (d.rv != 0) {
        return d.rv;
    }
    if (out->len > PROTO_LOAD_CHUNK_MAX || out->offset > PROTO_LOAD_SIZE_MAX) {
        return ERR_PROTO_TOOBIG;
    }
    struct proto_span bytes = protoDecBytes(&d, (size_t)out->len);
    size_t pad = (size_t)((8 - out->len % 8) % 8);
    struct proto_span zeros = protoDecBytes(&d, pad);
    if (d.rv != 0) {
        return d.rv;
    }
    for (size_t i = 0; i < pad; i++) {
        if (zeros.data[i] != 0) {
            return ERR_MALFORMED;
        }
    }
    out->data = bytes.data;
    return 0;
}

int protoLoadCommitDecode(const uint8_t *body, size_t len, uint64_t *flags)
{
    struct proto_dec d;
    protoDecInit(&d, body, len);
    *flags = protoDecU64(&d);
    if (d.rv == 0 && *flags != 0) {
        d.rv = ERR_MALFORMED;
    }
    return d.rv;
}

int protoLoadProgressDecode(const uint8_t *body, size_t len,
                            struct proto_load_progress *out)
{
    struct proto_dec d;
    protoDecInit(&d, body, len);
    out->done = protoDecU64(&d);
    out->total = protoDecU64(&d);
    out->chunk_max = protoDecU64(&d);
    if (d.rv == 0 && (out->done > out->total || out->chunk_max == 0 ||
                      out->chunk_max > PROTO_LOAD_CHUNK_MAX ||
                      out->total > PROTO_LOAD_SIZE_MAX)) {
        d.rv = ERR_MALFORMED;
    }
    return d.rv;
}

int protoLoadBeginEncode(struct buf *out, const struct proto_load_begin *m)
{
    struct proto_enc e;
    protoEncBegin(&e, out, PROTO_REQ_LOAD_BEGIN, 0);
    protoEncText(&e, m->name);
    protoEncU64(&e, m->size);
    protoEncU64(&e, m->flags);
    return protoEncEnd(&e);
}

int protoLoadChunkEncode(struct buf *out, uint64_t offset, const void *data,
                         size_t len)
{
    PRE(data != NULL || len == 0);
    if (len > PROTO_LOAD_CHUNK_MAX) {
        return ERR_PROTO_TOOBIG;
    }
    struct proto_enc e;
    protoEncBegin(&e, out, PROTO_REQ_LOAD_CHUNK, 0);
    protoEncU64(&e, offset);
    protoEncU64(&e, len);
    protoEncBytes(&e, data, len);
    protoEncZeros(&e, (8 - len % 8) % 8);
    return protoEncEnd(&e);
}

int protoLoadCommitEncode(struct buf *out, uint64_t flags)
{
    struct proto_enc e;
    protoEncBegin(&e, out, PROTO_REQ_LOAD_COMMIT, 0);
    protoEncU64(&e, flags);
    return protoEncEnd(&e);
}

int protoLoadProgressEncode(struct buf *out,
                            const struct proto_load_progress *p)
{
    struct proto_enc e;
    protoEncBegin(&e, out, PROTO_RESP_LOAD_PROGRESS, 0);
    protoEncU64(&e, p->done);
    protoEncU64(&e, p->total);
    protoEncU64(&e, p->chunk_max);
    return protoEncEnd(&e);
}
