/*
 * The sans-I/O message reader: bytes in, framed messages out.
 *
 * The caller moves bytes from wherever they come from (a socket, a test
 * vector, a fuzzer) into the reader, in chunks of any size split at any
 * byte, and pulls complete messages out. The server side first expects the
 * client's 8-byte handshake word; the client side reads responses only.
 * Framing is all the reader checks: a header whose body is empty or larger
 * than the configured limit is an error that sticks (the stream cannot be
 * resynchronised; close the connection). Bodies are then decoded with
 * protoRequestDecode / protoResponseDecode, whose errors do not affect the
 * reader.
 *
 * Memory: the reader owns one buffer holding the bytes not consumed yet.
 * A message header alone never makes it grow; it grows only with bytes
 * actually received. Drain it (protoReaderNext until ERR_AGAIN) before
 * adding more, and it holds at most one partial message plus one chunk.
 */
#ifndef PROTO_READER_H
#define PROTO_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/wire.h"

/* Largest chunk one Feed / Reserve may add on top of a partial message. */
#define PROTO_READER_CHUNK_MAX ((size_t)1 << 20)

enum proto_side {
    PROTO_SIDE_SERVER, /* reads a handshake word, then requests */
    PROTO_SIDE_CLIENT  /* reads responses */
};

/* One framed message. `body` points into the reader's buffer and is valid
 * until the next call of protoReaderFeed, protoReaderReserve,
 * protoReaderNext or protoReaderClose. */
struct proto_frame {
    struct proto_header header;
    const uint8_t *body;
    size_t len; /* header.words * 8 */
};

struct proto_reader {
    enum proto_side side;
    uint64_t version; /* server side: 0 until the handshake arrived */
    size_t max_body;  /* bytes; larger bodies are refused */
    struct buf buf;   /* owned: received bytes, unconsumed from `pos` */
    size_t pos;
    size_t pending; /* bytes of the frame last returned */
    int rv;         /* sticky framing error */
};

/* Default limits: PROTO_REQUEST_BODY_MAX on the server side,
 * PROTO_RESPONSE_BODY_MAX on the client side. */
void protoReaderInit(struct proto_reader *r, enum proto_side side);
/* Frees the buffer; every frame returned becomes invalid. */
void protoReaderClose(struct proto_reader *r);
/* Changes the body limit (at most PROTO_BODY_HARD_MAX). */
void protoReaderSetMaxBody(struct proto_reader *r, size_t max_body);

/* Copies `len` bytes in (len <= PROTO_READER_CHUNK_MAX). ERR_NOMEM,
 * ERR_TOOBIG (more than a message plus a chunk pending), or the sticky
 * framing error. */
int protoReaderFeed(struct proto_reader *r, const void *data, size_t len);

/* Zero-copy alternative: room for at least `want` bytes (want <=
 * PROTO_READER_CHUNK_MAX) is made at the end of the buffer and returned in
 * *p / *avail; write received bytes there, then protoReaderCommit(n). */
int protoReaderReserve(struct proto_reader *r, size_t want, uint8_t **p,
                       size_t *avail);
void protoReaderCommit(struct proto_reader *r, size_t n);

/* The next complete message: 0 and *frame filled, ERR_AGAIN when more bytes
 * are needed, or a sticky framing error: ERR_PROTO_VERSION (bad handshake:
 * close without answering), ERR_PROTO_EMPTY (words == 0), ERR_PROTO_TOOBIG.
 * The frame returned before is consumed by this call. */
int protoReaderNext(struct proto_reader *r, struct proto_frame *frame);

/* Bytes received but not yet returned as part of a frame. */
size_t protoReaderBuffered(const struct proto_reader *r);

/* Releases the buffer's memory when it holds nothing unconsumed (no frame
 * returned and not yet consumed either: call it after protoReaderNext gave
 * ERR_AGAIN on an empty reader). */
void protoReaderTrim(struct proto_reader *r);

/* What the buffered bytes say of the next frame (the one after the frame
 * returned last): 0 while its header has not arrived (or the handshake is
 * not done, or framing failed other than by ERR_PROTO_TOOBIG, whose frame
 * this still describes); otherwise its whole size in bytes, header
 * included, as the header declares it (possibly above the limit), and
 * *complete tells whether all of it is buffered. Consumes nothing. */
uint64_t protoReaderPeekSize(const struct proto_reader *r, bool *complete);

#endif /* PROTO_READER_H */
