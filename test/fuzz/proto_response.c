/*
 * libFuzzer target: the response decoder (client side). Input byte 0 is
 * what the client expects (bit 0: legacy handshake; bits 1-2: the CLUSTER
 * format asked for, 0, 1 or an unknown 2/3), then a header and a body cut
 * to whole words. Every decoded response is walked completely (rows,
 * lists) and must re-encode stably (see proto_common.h).
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/proto_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_header h;
    struct proto_expect expect;
    if (size < 1 + PROTO_HEADER_SIZE) {
        return 0;
    }
    expect.legacy = (data[0] & 1) != 0;
    expect.cluster_format = (data[0] >> 1) & 3;
    data++;
    size--;
    protoHeaderGet(data, &h);
    size_t len = (size - PROTO_HEADER_SIZE) & ~(size_t)7;
    h.words = (uint32_t)(len / PROTO_WORD);
    fuzzResponse(&h, data + PROTO_HEADER_SIZE, len, &expect);
    return 0;
}
