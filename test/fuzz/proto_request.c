/*
 * libFuzzer target: the request decoder (server side). The input is a
 * header followed by a body; the body is cut to whole words and the
 * header's word count set to match, as the reader guarantees. Every
 * decoded request must re-encode stably (see proto_common.h).
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/proto_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_header h;
    if (size < PROTO_HEADER_SIZE) {
        return 0;
    }
    protoHeaderGet(data, &h);
    size_t len = (size - PROTO_HEADER_SIZE) & ~(size_t)7;
    h.words = (uint32_t)(len / PROTO_WORD);
    fuzzRequest(&h, data + PROTO_HEADER_SIZE, len);
    return 0;
}
