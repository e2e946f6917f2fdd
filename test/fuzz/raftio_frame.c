/*
 * libFuzzer target: the raft peer stream decoders (handshake, then frames
 * pushed in pieces whose sizes come from the input). Must never crash,
 * overread or grow without bound; a decoded handshake re-encodes to the
 * same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "raftio/frame.h"

static void fuzzHandshake(const uint8_t *data, size_t size)
{
    struct raftio_handshake hs;
    size_t used;
    if (frameDecodeHandshake(data, size, &hs, &used) != 0) {
        return;
    }
    struct buf out;
    bufInit(&out);
    if (frameEncodeHandshake(&out, &hs) == 0) {
        struct raftio_handshake again;
        size_t used2;
        if (frameDecodeHandshake(out.data, out.len, &again, &used2) != 0 ||
            again.node_id != hs.node_id ||
            strcmp(again.address, hs.address) != 0 ||
            strcmp(again.cluster, hs.cluster) != 0) {
            abort();
        }
    }
    bufFree(&out);
}

static void fuzzFrames(const uint8_t *data, size_t size)
{
    struct frame_decoder d;
    frameDecoderInit(&d, 4096);
    size_t off = 0;
    while (off < size) {
        size_t piece = 1 + data[off] % 64;
        off++;
        if (piece > size - off) {
            piece = size - off;
        }
        if (frameDecoderPush(&d, data + off, piece) != 0) {
            break;
        }
        off += piece;
        const uint8_t *body;
        size_t len;
        int rv;
        while ((rv = frameDecoderPop(&d, &body, &len)) == 0) {
            if (len > 4096) {
                abort();
            }
        }
        if (rv != ERR_AGAIN) {
            break;
        }
    }
    frameDecoderClose(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    if (data[0] & 1) {
        fuzzHandshake(data + 1, size - 1);
    } else {
        fuzzFrames(data + 1, size - 1);
    }
    return 0;
}
