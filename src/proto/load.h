/*
 * The load extension (docs/protocol.md, "Load"): a client streams a SQLite
 * file to the leader, which replicates it as one operation
 * (docs/restore.md). Request codes 65..67 and response code 65 sit far
 * above the reference protocol's, so no dqlite version will reuse them.
 *
 *   LOAD_BEGIN (65):  text name, u64 size (bytes of the file), u64 flags
 *   LOAD_CHUNK (66):  u64 offset, u64 length, `length` bytes padded to 8
 *   LOAD_COMMIT (67): u64 flags (0)
 *   LOAD_PROGRESS (65, response): u64 done, u64 total, u64 chunk_max
 *
 * Decoders borrow the body (texts and chunk bytes point into it) and check
 * every length against it and the bounds below; encoders append one whole
 * message (header included) to a caller-owned buffer.
 */
#ifndef PROTO_LOAD_H
#define PROTO_LOAD_H

#include <stdint.h>

#include "lib/buf.h"
#include "proto/wire.h"

#define PROTO_REQ_LOAD_BEGIN 65
#define PROTO_REQ_LOAD_CHUNK 66
#define PROTO_REQ_LOAD_COMMIT 67
#define PROTO_RESP_LOAD_PROGRESS 65

/* LOAD_BEGIN flags. */
#define PROTO_LOAD_FORCE 1u
/* Largest chunk (the server's chunk_max is at most this). */
#define PROTO_LOAD_CHUNK_MAX ((uint64_t)16 << 20)
/* Largest file a load takes. */
#define PROTO_LOAD_SIZE_MAX ((uint64_t)1 << 40)

struct proto_load_begin {
    struct proto_text name;
    uint64_t size;
    uint64_t flags;
};

struct proto_load_chunk {
    uint64_t offset;
    uint64_t len;
    const uint8_t *data; /* len bytes, borrowed */
};

struct proto_load_progress {
    uint64_t done;      /* bytes the cluster committed */
    uint64_t total;     /* bytes of the file */
    uint64_t chunk_max; /* the largest chunk the server takes */
};

/* Whether `type` is one of the load requests. */
bool protoLoadIsRequest(uint8_t type);

/* Decoders: ERR_PROTO_SHORT, ERR_PROTO_NONUL, ERR_PROTO_TEXT_LONG,
 * ERR_PROTO_TOOBIG (a size or chunk over its bound), ERR_MALFORMED (flags
 * unknown, padding not zero). */
int protoLoadBeginDecode(const uint8_t *body, size_t len,
                         struct proto_load_begin *out);
int protoLoadChunkDecode(const uint8_t *body, size_t len,
                         struct proto_load_chunk *out);
int protoLoadCommitDecode(const uint8_t *body, size_t len, uint64_t *flags);
int protoLoadProgressDecode(const uint8_t *body, size_t len,
                            struct proto_load_progress *out);

int protoLoadBeginEncode(struct buf *out, const struct proto_load_begin *m);
int protoLoadChunkEncode(struct buf *out, uint64_t offset, const void *data,
                         size_t len);
int protoLoadCommitEncode(struct buf *out, uint64_t flags);
int protoLoadProgressEncode(struct buf *out,
                            const struct proto_load_progress *p);

#endif /* PROTO_LOAD_H */
