/*
 * One accepted client connection: its stream, its input buffer and its place
 * in the node's list. Owned by the node's loop; closed on error, on EOF, or
 * when the node stops.
 */
#ifndef SERVER_CONN_H
#define SERVER_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lib/buf.h"
#include "lib/queue.h"

struct dqlite_node;

/* Bytes read per chunk, and the most a connection may buffer unparsed. */
#define CONN_READ_CHUNK 65536
#define CONN_MAX_BUFFERED (64u << 20)

struct conn {
    struct dqlite_node *node;
    uv_stream_t *stream; /* owned: freed when the close completes */
    struct queue link;   /* in node->conns */
    struct buf in;       /* received, not yet consumed */
    uint64_t version;    /* handshake word, 0 until received */
    bool closing;
};

/* Take ownership of an accepted stream and start reading. */
void connStart(struct dqlite_node *node, uv_stream_t *stream);

/* Close the connection; its memory is released once libuv is done. */
void connClose(struct conn *c);

#endif /* SERVER_CONN_H */
