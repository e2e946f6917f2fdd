/*
 * libFuzzer target: the load extension's decoders (proto/load.h). The first
 * byte picks the message (BEGIN, CHUNK, COMMIT, PROGRESS), the rest is its
 * body. Any input must decode or fail cleanly, never read past the body;
 * what decodes must re-encode, and the re-encoding decode to the same
 * fields (text padding is not read, as in every request, so bytes may
 * differ there; everywhere else they are the same).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "proto/load.h"

/* The re-encoded body must be the input (whole words only). */
static void same(const struct buf *out, const uint8_t *body, size_t len)
{
    if (out->len < PROTO_HEADER_SIZE || out->len - PROTO_HEADER_SIZE > len ||
        memcmp(out->data + PROTO_HEADER_SIZE, body,
               out->len - PROTO_HEADER_SIZE) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const uint8_t *body = data + 1;
    size_t len = (size - 1) & ~(size_t)7; /* the reader frames whole words */
    struct buf out;
    bufInit(&out);
    int rv;
    switch (data[0] % 4) {
    case 0: {
        struct proto_load_begin m;
        struct proto_load_begin m2;
        if (protoLoadBeginDecode(body, len, &m) == 0) {
            rv = protoLoadBeginEncode(&out, &m);
            if (rv != 0 ||
                protoLoadBeginDecode(out.data + PROTO_HEADER_SIZE,
                                     out.len - PROTO_HEADER_SIZE, &m2) != 0 ||
                m2.size != m.size || m2.flags != m.flags ||
                m2.name.len != m.name.len ||
                memcmp(m2.name.data, m.name.data, m.name.len) != 0) {
                abort();
            }
        }
        break;
    }
    case 1: {
        struct proto_load_chunk c;
        if (protoLoadChunkDecode(body, len, &c) == 0) {
            if (c.len > len) {
                abort();
            }
            if (protoLoadChunkEncode(&out, c.offset, c.data, c.len) != 0) {
                abort();
            }
            same(&out, body, len);
        }
        break;
    }
    case 2: {
        uint64_t flags;
        if (protoLoadCommitDecode(body, len, &flags) == 0) {
            if (protoLoadCommitEncode(&out, flags) != 0) {
                abort();
            }
            same(&out, body, len);
        }
        break;
    }
    default: {
        struct proto_load_progress p;
        if (protoLoadProgressDecode(body, len, &p) == 0) {
            if (protoLoadProgressEncode(&out, &p) != 0) {
                abort();
            }
            same(&out, body, len);
        }
        break;
    }
    }
    bufFree(&out);
    return 0;
}
