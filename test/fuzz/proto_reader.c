/*
 * libFuzzer target: the chunked reader on either side, followed by the
 * decoder of each frame it yields. Input byte 0: bit 0 picks the side
 * (0 server: handshake then requests; 1 client: responses), the other
 * bits seed the chunk sizes; byte 1 picks the body limit (small limits
 * exercise the size check). The rest is the byte stream, fed in chunks of
 * 1 to 64 bytes, each frame checked against the stream position. While
 * a frame is incomplete, protoReaderPeekSize must agree with what the
 * reader does with it; an empty reader is trimmed (its memory released)
 * and must go on reading.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/proto_common.h"
#include "proto/reader.h"

static size_t chunkSize(uint32_t *seed)
{
    *seed = *seed * 1664525u + 1013904223u;
    return 1 + (*seed >> 24) % 64;
}

static void decodeFrame(enum proto_side side, const struct proto_frame *f)
{
    struct proto_expect expect = {false, 1};
    FUZZ_CHECK(f->len == (size_t)f->header.words * PROTO_WORD);
    FUZZ_CHECK(f->len > 0);
    if (side == PROTO_SIDE_SERVER) {
        fuzzRequest(&f->header, f->body, f->len);
    } else {
        fuzzResponse(&f->header, f->body, f->len, &expect);
    }
}

/* What protoReaderPeekSize says must match protoReaderNext's `rv`. */
static void checkPeek(struct proto_reader *r, int rv, size_t max_body)
{
    bool complete;
    uint64_t size = protoReaderPeekSize(r, &complete);
    if (rv == ERR_PROTO_TOOBIG) {
        FUZZ_CHECK(size > PROTO_HEADER_SIZE + max_body);
        return;
    }
    FUZZ_CHECK(!complete);
    FUZZ_CHECK(size == 0 || (size > PROTO_HEADER_SIZE &&
                             size <= PROTO_HEADER_SIZE + max_body));
    if (protoReaderBuffered(r) == 0) {
        protoReaderTrim(r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    enum proto_side side =
        (data[0] & 1) ? PROTO_SIDE_CLIENT : PROTO_SIDE_SERVER;
    uint32_t seed = data[0] >> 1;
    size_t max_body =
        data[1] < 128 ? (size_t)8 << (data[1] % 20) : PROTO_REQUEST_BODY_MAX;
    struct proto_reader r;
    struct proto_frame f;
    protoReaderInit(&r, side);
    protoReaderSetMaxBody(&r, max_body);
    data += 2;
    size -= 2;
    size_t fed = 0;
    int rv = ERR_AGAIN;
    while (rv == 0 || rv == ERR_AGAIN) {
        if (rv == 0) {
            decodeFrame(side, &f);
        } else if (fed < size) {
            size_t n = chunkSize(&seed);
            n = n > size - fed ? size - fed : n;
            FUZZ_CHECK(protoReaderFeed(&r, data + fed, n) == 0);
            fed += n;
        } else {
            break;
        }
        rv = protoReaderNext(&r, &f);
        if (rv == ERR_AGAIN || rv == ERR_PROTO_TOOBIG) {
            checkPeek(&r, rv, max_body);
        }
    }
    FUZZ_CHECK(rv == ERR_AGAIN || rv == ERR_PROTO_VERSION ||
               rv == ERR_PROTO_EMPTY || rv == ERR_PROTO_TOOBIG);
    protoReaderClose(&r);
    return 0;
}
