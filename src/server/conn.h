/*
 * One accepted connection: the byte stream, the sans-I/O reader that frames
 * it, the queue of response writes, and the gateway that answers requests.
 *
 * Requests are taken one at a time: the next frame is pulled from the
 * reader only when the gateway has finished the previous request, so a
 * pipelining client is answered strictly in order. Reading pauses while the
 * reader holds more than CONN_MAX_BUFFERED unconsumed bytes.
 *
 * A connection whose first request is CONNECT (11) belongs to a peer: it is
 * handed to the raft transport and leaves the client machinery.
 *
 * Owned by the node's loop; closed on error, on EOF, or when the node stops.
 */
#ifndef SERVER_CONN_H
#define SERVER_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lib/buf.h"
#include "lib/queue.h"
#include "proto/reader.h"
#include "server/gateway.h"

struct dqlite_node;

/* Unconsumed input above which reading pauses. */
#define CONN_MAX_BUFFERED (8u << 20)
/* Bytes asked of the kernel per read. */
#define CONN_READ_CHUNK 65536

struct conn {
    struct dqlite_node *node;
    uv_stream_t *stream; /* owned: freed when the close completes */
    struct queue link;   /* in node->conns */
    struct proto_reader reader;
    struct gateway gateway;
    unsigned writes_out; /* uv_write requests in flight */
    bool reading;
    bool closing;
    bool first_request_seen;
};

/* Take ownership of an accepted stream and start reading. */
void connStart(struct dqlite_node *node, uv_stream_t *stream);

/* Close the connection; memory is released once libuv and the gateway are
 * done with it. */
void connClose(struct conn *c);

/* Queue the bytes of `msg` for writing; the connection takes the buffer's
 * memory (msg is left empty). `on_written` (may be NULL) runs on the loop
 * once the kernel has the bytes, or with an error status. */
typedef void (*conn_written_cb)(struct conn *c, int status);
int connWrite(struct conn *c, struct buf *msg, conn_written_cb on_written);

/* The gateway let go of the connection (after connClose): free it if
 * nothing else holds it. */
void connRelease(struct conn *c);

/* The gateway finished the current request: look at the next frame. */
void connRequestDone(struct conn *c);

/* A frame already buffered, not yet taken (NULL if none complete): lets a
 * streaming query notice an INTERRUPT between batches. */
bool connPeekInterrupt(struct conn *c);

#endif /* SERVER_CONN_H */
