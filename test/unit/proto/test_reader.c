/* The sans-I/O reader: handshake first on the server side, messages split
 * anywhere, sticky framing errors, limits, zero-copy feeding. */
#include <criterion/criterion.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "proto/reader.h"
#include "vectors.h"

static void feedHex(struct proto_reader *r, const char *hex)
{
    struct buf bytes;
    bufInit(&bytes);
    cr_assert(vecHex(hex, &bytes));
    cr_assert_eq(protoReaderFeed(r, bytes.data, bytes.len), 0);
    bufFree(&bytes);
}

Test(reader, handshake_then_requests)
{
    struct proto_reader r;
    struct proto_frame f;
    protoReaderInit(&r, PROTO_SIDE_SERVER);
    cr_assert_eq(protoReaderNext(&r, &f), ERR_AGAIN);
    feedHex(&r, "01000000000000");
    cr_assert_eq(protoReaderNext(&r, &f), ERR_AGAIN);
    cr_assert_eq(r.version, 0);
    feedHex(&r, "00 0100000000000000 00000000000000");
    cr_assert_eq(protoReaderNext(&r, &f), ERR_AGAIN);
    cr_assert_eq(r.version, PROTO_VERSION);
    feedHex(&r, "00 0100000001000000 0000000000000000");
    cr_assert_eq(protoReaderNext(&r, &f), 0);
    cr_assert_eq(f.header.type, PROTO_REQ_LEADER);
    cr_assert_eq(f.len, 8);
    cr_assert_eq(protoReaderNext(&r, &f), 0);
    cr_assert_eq(f.header.type, PROTO_REQ_CLIENT);
    cr_assert_eq(protoReaderNext(&r, &f), ERR_AGAIN);
    cr_assert_eq(protoReaderBuffered(&r), 0);
    protoReaderClose(&r);
}

Test(reader, legacy_handshake)
{
    struct proto_reader r;
    struct proto_frame f;
    protoReaderInit(&r, PROTO_SIDE_SERVER);
    feedHex(&r, "e53f4360d74d1086");
    cr_assert_eq(protoReaderNext(&r, &f), ERR_AGAIN);
    cr_assert_eq(r.version, PROTO_VERSION_LEGACY);
    protoReaderClose(&r);
}

Test(reader, bad_handshake_sticks)
{
    struct proto_reader r;
    struct proto_frame f;
    uint8_t byte = 0;
    protoReaderInit(&r, PROTO_SIDE_SERVER);
    feedHex(&r, "0200000000000000 0100000000000000 0000000000000000");
    cr_assert_eq(protoReaderNext(&r, &f), ERR_PROTO_VERSION);
    cr_assert_eq(protoReaderNext(&r, &f), ERR_PROTO_VERSION);
    cr_assert_eq(protoReaderFeed(&r, &byte, 1), ERR_PROTO_VERSION);
    uint8_t *p;
    size_t avail;
    cr_assert_eq(protoReaderReserve(&r, 8, &p, &avail), ERR_PROTO_VERSION);
    protoReaderClose(&r);
}

Test(reader, empty_body_sticks)
{
    struct proto_reader r;
    struct proto_frame f;
    protoReaderInit(&r, PROTO_SIDE_SERVER);
    feedHex(&r, "0100000000000000 0000000000000000");
    cr_assert_eq(protoReaderNext(&r, &f), ERR_PROTO_EMPTY);
    cr_assert_eq(protoReaderNext(&r, &f), ERR_PROTO_EMPTY);
    protoReaderClose(&r);
}

Test(reader, client_side_reads_responses_only)
{
    struct proto_reader r;
    struct proto_frame f;
    protoReaderInit(&r, PROTO_SIDE_CLIENT);
    feedHex(&r, "0100000002000000 983a000000000000");
    cr_assert_eq(protoReaderNext(&r, &f), 0);
    cr_assert_eq(f.header.type, PROTO_RESP_WELCOME);
    cr_assert_eq(f.body[0], 0x98);
    cr_assert_eq(protoReaderNext(&r, &f), ERR_AGAIN);
    protoReaderClose(&r);
}

Test(reader, body_limit_is_checked_from_the_header_alone)
{
    struct proto_reader r;
    struct proto_frame f;
    protoReaderInit(&r, PROTO_SIDE_CLIENT);
    protoReaderSetMaxBody(&r, 16);
    feedHex(&r, "0200000006000000 0000000000000000 0000000000000000");
    cr_assert_eq(protoReaderNext(&r, &f), 0);
    feedHex(&r, "0300000006000000");
    cr_assert_eq(protoReaderNext(&r, &f), ERR_PROTO_TOOBIG);
    cr_assert_eq(protoReaderNext(&r, &f), ERR_PROTO_TOOBIG);
    protoReaderClose(&r);
    /* the default server limit refuses a 4 GiB announcement at once */
    protoReaderInit(&r, PROTO_SIDE_SERVER);
    feedHex(&r, "0100000000000000 ffffffff05000000");
    cr_assert_eq(protoReaderNext(&r, &f), ERR_PROTO_TOOBIG);
    cr_assert(r.buf.cap < 4096);
    protoReaderClose(&r);
}

Test(reader, frames_stay_valid_until_the_next_call)
{
    struct proto_reader r;
    struct proto_frame a, b;
    protoReaderInit(&r, PROTO_SIDE_CLIENT);
    feedHex(&r, "0100000008000000 1111111111111111"
                "0100000008000000 2222222222222222");
    cr_assert_eq(protoReaderNext(&r, &a), 0);
    cr_assert_eq(a.body[0], 0x11);
    cr_assert_eq(protoReaderNext(&r, &b), 0);
    cr_assert_eq(b.body[0], 0x22);
    cr_assert_eq(protoReaderBuffered(&r), 0);
    feedHex(&r, "0100000008000000");
    cr_assert_eq(protoReaderBuffered(&r), 8);
    cr_assert_eq(r.pos, 0); /* consumed bytes compacted away on feeding */
    protoReaderClose(&r);
}

Test(reader, zero_copy_reserve_and_commit)
{
    struct proto_reader r;
    struct proto_frame f;
    uint8_t *p;
    size_t avail;
    static const uint8_t msg[16] = {1, 0, 0, 0, 8, 0, 0, 0, 7};
    protoReaderInit(&r, PROTO_SIDE_CLIENT);
    for (size_t i = 0; i < sizeof msg; i++) {
        cr_assert_eq(protoReaderReserve(&r, 1, &p, &avail), 0);
        cr_assert(avail >= 1);
        *p = msg[i];
        protoReaderCommit(&r, 1);
    }
    cr_assert_eq(protoReaderNext(&r, &f), 0);
    cr_assert_eq(f.body[0], 7);
    protoReaderClose(&r);
}

Test(reader, out_of_memory_is_reported_and_recoverable)
{
    struct proto_reader r;
    struct proto_frame f;
    uint8_t *p;
    size_t avail;
    static const uint8_t msg[16] = {1, 0, 0, 0, 8};
    protoReaderInit(&r, PROTO_SIDE_CLIENT);
    libAllocFailAfter(0, 2);
    cr_assert_eq(protoReaderFeed(&r, msg, sizeof msg), ERR_NOMEM);
    cr_assert_eq(protoReaderReserve(&r, 16, &p, &avail), ERR_NOMEM);
    libAllocFailAfter(-1, 1);
    cr_assert_eq(protoReaderFeed(&r, msg, sizeof msg), 0);
    cr_assert_eq(protoReaderNext(&r, &f), 0);
    protoReaderClose(&r);
}

Test(reader, more_than_a_message_plus_a_chunk_is_refused)
{
    struct proto_reader r;
    static uint8_t chunk[PROTO_READER_CHUNK_MAX];
    protoReaderInit(&r, PROTO_SIDE_CLIENT);
    protoReaderSetMaxBody(&r, 8);
    cr_assert_eq(protoReaderFeed(&r, chunk, sizeof chunk), 0);
    cr_assert_eq(protoReaderFeed(&r, chunk, 64), ERR_TOOBIG);
    protoReaderClose(&r);
}
