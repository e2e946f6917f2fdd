/*
 * Byte format of the raft peer stream (docs/transport.md), pure: the
 * handshake a dialling node sends on a peer's client port, and the framing
 * of raft messages after it. No I/O, so the decoders are fuzzed directly.
 *
 * Handshake = the wire protocol's version word (u64 1) then a CONNECT (11)
 * request (protocol.md §5.19): header {u32 words, u8 11, u8 schema, u16 0},
 * body {u64 node id, text address} and, with schema 1 (ours), {text
 * cluster}. A server that reads a CONNECT request hands the socket to the
 * transport with what was decoded here.
 *
 * Frame = u32 body length, u32 CRC-32C of the body, body (raft's codec).
 *
 * Ownership: the decoder owns its buffer; a popped frame's body points into
 * it and stays valid until the next push or pop.
 */
#ifndef RAFTIO_FRAME_H
#define RAFTIO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "raft/raft.h"

#define FRAME_PROTOCOL_VERSION 1
#define FRAME_CONNECT_TYPE 11
#define FRAME_CONNECT_SCHEMA 1
#define FRAME_HEADER_SIZE 8
#define FRAME_TEXT_MAX 255                /* address and cluster name */
#define FRAME_BODY_MAX RAFT_MSG_MAX_BYTES /* one encoded raft message */

struct raftio_handshake {
    uint64_t node_id;
    char address[FRAME_TEXT_MAX + 1];
    char cluster[FRAME_TEXT_MAX + 1]; /* "" for a schema-0 CONNECT */
};

/* Appends the whole handshake (version word included) to `out`. */
int frameEncodeHandshake(struct buf *out, const struct raftio_handshake *hs);

/* Decodes a handshake from the start of `p` (version word included):
 * ERR_AGAIN when more bytes are needed, ERR_HANDSHAKE when malformed, else
 * 0 with *consumed bytes used. */
int frameDecodeHandshake(const uint8_t *p, size_t n,
                         struct raftio_handshake *hs, size_t *consumed);

/* Appends a frame carrying `len` bytes to `out`. */
int frameEncode(struct buf *out, const void *body, size_t len);

struct frame_decoder {
    struct buf in;   /* received bytes not yet consumed */
    size_t consumed; /* bytes of `in` already popped */
    uint32_t max_body;
};

void frameDecoderInit(struct frame_decoder *d, uint32_t max_body);
void frameDecoderClose(struct frame_decoder *d);

/* Adds received bytes (at most 64 KiB per call; pop every complete frame
 * before pushing again). ERR_FRAME when that bound is broken, ERR_NOMEM. */
int frameDecoderPush(struct frame_decoder *d, const void *p, size_t n);

/* Next complete frame: 0 with *body and *len, ERR_AGAIN when incomplete,
 * ERR_FRAME when the stream is malformed (close the connection). */
int frameDecoderPop(struct frame_decoder *d, const uint8_t **body, size_t *len);

#endif /* RAFTIO_FRAME_H */
