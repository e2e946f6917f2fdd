/*
 * libFuzzer target for the raft message codec (src/raft/codec.c): decoding
 * arbitrary bytes must return an error or a message that re-encodes to the
 * very same bytes, and must never read out of bounds, leak or crash.
 * The first input byte also selects a configuration decode, the other
 * untrusted decoder of the module.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "raft/raft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzzConf(const uint8_t *data, size_t size)
{
    struct raft_configuration c;
    uint8_t *out;
    size_t len;
    if (raftConfDecode(data, size, &c) != 0) {
        return;
    }
    if (raftConfEncodePayload(&c, &out, &len) == 0) {
        if (len != size || memcmp(out, data, size) != 0) {
            abort(); /* the encoding is canonical */
        }
        raftPayloadUnref(out);
    }
    raftConfClose(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct raft_message m;
    uint8_t *out;
    size_t len;
    fuzzConf(data, size);
    if (raftMessageDecode(data, size, &m) != 0) {
        return 0;
    }
    if (raftMessageEncode(&m, &out, &len) == 0) {
        /* Padding and reserved bytes may differ; the re-encoding must
         * decode to the same message and be stable from then on. */
        struct raft_message again;
        uint8_t *out2;
        size_t len2;
        if (len != size || raftMessageDecode(out, len, &again) != 0 ||
            raftMessageEncode(&again, &out2, &len2) != 0 || len2 != len ||
            memcmp(out, out2, len) != 0) {
            abort();
        }
        raftMessageClose(&again);
        libFree(out2);
        libFree(out);
    }
    raftMessageClose(&m);
    return 0;
}
