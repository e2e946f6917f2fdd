/* Peer stream codec: the handshake is a CONNECT (11) request of the client
 * protocol, frames survive any split of the byte stream, and malformed or
 * oversized input is refused. */
#include <criterion/criterion.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "raftio/frame.h"

Test(frame, handshake_is_a_connect_request)
{
    struct raftio_handshake hs = {7, "127.0.0.1:9001", "prod"}, got;
    struct buf b;
    size_t used;
    bufInit(&b);
    cr_assert_eq(frameEncodeHandshake(&b, &hs), 0);
    cr_assert_eq(byteGet64(b.data), 1);      /* protocol version word */
    cr_assert_eq(b.data[12], 11);            /* CONNECT */
    cr_assert_eq(byteGet64(b.data + 16), 7); /* node id first, as in 5.19 */
    cr_assert_str_eq((const char *)b.data + 24, "127.0.0.1:9001");
    cr_assert_eq(b.len, 8 + 8 + byteGet32(b.data + 8) * 8);
    for (size_t n = 0; n < b.len; n++) {
        cr_assert_eq(frameDecodeHandshake(b.data, n, &got, &used), ERR_AGAIN);
    }
    cr_assert_eq(frameDecodeHandshake(b.data, b.len, &got, &used), 0);
    cr_assert_eq(used, b.len);
    cr_assert_eq(got.node_id, 7);
    cr_assert_str_eq(got.address, "127.0.0.1:9001");
    cr_assert_str_eq(got.cluster, "prod");
    b.data[13] = 0; /* the reference's schema 0: no cluster field */
    cr_assert_eq(frameDecodeHandshake(b.data, b.len, &got, &used), 0);
    cr_assert_str_eq(got.cluster, "");
    b.data[0] = 2; /* wrong protocol version */
    cr_assert_eq(frameDecodeHandshake(b.data, b.len, &got, &used),
                 ERR_HANDSHAKE);
    bufFree(&b);
}

Test(frame, frames_survive_every_split)
{
    struct buf b;
    bufInit(&b);
    uint8_t big[3000];
    memset(big, 0xab, sizeof big);
    cr_assert_eq(frameEncode(&b, "one", 3), 0);
    cr_assert_eq(frameEncode(&b, "", 0), 0);
    cr_assert_eq(frameEncode(&b, big, sizeof big), 0);
    for (size_t piece = 1; piece < 200; piece += 13) {
        struct frame_decoder d;
        frameDecoderInit(&d, 4096);
        size_t lens[3], n = 0;
        for (size_t off = 0; off < b.len; off += piece) {
            size_t take = b.len - off < piece ? b.len - off : piece;
            cr_assert_eq(frameDecoderPush(&d, b.data + off, take), 0);
            const uint8_t *body;
            size_t len;
            while (frameDecoderPop(&d, &body, &len) == 0) {
                cr_assert_lt(n, 3);
                lens[n++] = len;
            }
        }
        cr_assert_eq(n, 3);
        cr_assert_eq(lens[0], 3);
        cr_assert_eq(lens[1], 0);
        cr_assert_eq(lens[2], sizeof big);
        frameDecoderClose(&d);
    }
    bufFree(&b);
}

Test(frame, oversized_or_damaged_frames_are_refused)
{
    struct frame_decoder d;
    const uint8_t *body;
    size_t len;
    uint8_t hdr[8];
    frameDecoderInit(&d, 100);
    bytePut32(hdr, 101);
    bytePut32(hdr + 4, 0);
    cr_assert_eq(frameDecoderPush(&d, hdr, 8), 0);
    cr_assert_eq(frameDecoderPop(&d, &body, &len), ERR_FRAME);
    frameDecoderClose(&d);
    struct buf b;
    bufInit(&b);
    cr_assert_eq(frameEncode(&b, "abc", 3), 0);
    b.data[9] ^= 1;
    frameDecoderInit(&d, 100);
    cr_assert_eq(frameDecoderPush(&d, b.data, b.len), 0);
    cr_assert_eq(frameDecoderPop(&d, &body, &len), ERR_FRAME);
    frameDecoderClose(&d);
    bufFree(&b);
}
