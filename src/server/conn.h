/*
 * One accepted connection: the byte stream, the sans-I/O reader that frames
 * it, the queue of response writes, and the gateway that answers requests.
 *
 * Requests are taken one at a time: the next frame is pulled from the
 * reader only when the gateway has finished the previous request, so a
 * pipelining client is answered strictly in order.
 *
 * Reading: while the gateway is idle the connection always reads, so a
 * frame of any size up to the request limit (PROTO_REQUEST_BODY_MAX) is
 * received whole and EOF is noticed; a frame declaring more is refused as
 * soon as its header arrives: FAILURE, then its body is read and thrown
 * away (never held) for at most CONN_DRAIN_MS, so a client blocked
 * writing it gets to read the FAILURE, and the connection is closed.
 * The only pause is back-pressure on a pipelining client: while a request
 * is being served and more than CONN_MAX_BUFFERED bytes wait behind it;
 * reading resumes when that request is answered.
 *
 * Memory: what a connection holds (input buffer, the gateway's copy of the
 * request, responses not yet taken by the kernel) is charged to the node's
 * budget (budget.h). A request that would not fit is refused before its
 * body is received; while the node is over budget, new requests get a
 * FAILURE. Buffers grown for a large request are released after it.
 *
 * Idle connections (no request started or answered, and less than
 * CONN_READ_CHUNK bytes of one received, for the node's
 * conn_idle_timeout_ms: a request trickling in counts as idle) are closed
 * by a sweep timer, and so are connections whose client takes no byte of a
 * pending response for conn_stall_timeout_ms: a query whose rows are not
 * read would otherwise keep its read transaction, pinning the WAL, and its
 * batch in memory, for ever (closing ends the statement).
 *
 * A connection whose first request is CONNECT (11) belongs to a peer: it is
 * handed to the raft transport and leaves the client machinery. With TLS
 * and DQLITE_TLS_ADMIN_AUTH, only a node certificate may do that, and only
 * a node or admin certificate may send an admin request (ADD, ASSIGN,
 * REMOVE, DUMP, TRANSFER, WEIGHT): others get a FAILURE (SQLITE_AUTH) and,
 * for CONNECT, the connection is closed.
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
#include "server/tls.h"

struct dqlite_node;

/* Input buffered behind the request being served above which reading
 * pauses (until that request is answered). */
#define CONN_MAX_BUFFERED (8u << 20)
/* Bytes asked of the kernel per read. */
#define CONN_READ_CHUNK 65536
/* Buffers larger than this are released once the request is answered. */
#define CONN_KEEP_BYTES ((size_t)1 << 20)
/* Default for closing idle client connections (dqlite_node's
 * conn_idle_timeout_ms; 0 turns it off). */
#define CONN_IDLE_TIMEOUT_MS_DEFAULT (300u * 1000u)
/* Default for closing a connection whose client does not read a pending
 * response (dqlite_node's conn_stall_timeout_ms; 0 turns it off). */
#define CONN_STALL_TIMEOUT_MS_DEFAULT (30u * 1000u)
/* Longest time the body of a refused request is read and dropped. */
#define CONN_DRAIN_MS 5000u
/* At the connection cap, a new client's first request closes the
 * connection idle longest if it has been idle this long. */
#define CONN_EVICT_IDLE_MS 5000u
/* Longest period of the idle sweep. */
#define CONN_SWEEP_MS 1000u

struct conn {
    struct dqlite_node *node;
    uv_stream_t *stream; /* owned: freed when the close completes */
    struct queue link;   /* in node->conns */
    struct proto_reader reader;
    struct gateway gateway;
    unsigned writes_out;        /* uv_write requests in flight */
    size_t out_bytes;           /* ...and their bytes */
    size_t held_bytes;          /* charged to the node's budget */
    size_t reserved_bytes;      /* ...at least, for a frame admitted */
    uint64_t active_ms;         /* loop time a request last started or ended, or
                                   CONN_READ_CHUNK more bytes of one arrived */
    size_t arrived_bytes;       /* ...bytes since then */
    uint64_t write_progress_ms; /* loop time writes last moved */
    size_t write_queue_seen;    /* libuv's write queue size then */
    bool reading;
    bool closing;
    bool refused;  /* a refusal closes the stream: take no more requests */
    bool draining; /* ...dropping the refused request's body */
    uint64_t drain_bytes;  /* ...still to come */
    uint64_t drain_end_ms; /* ...until then at most */
    bool first_request_seen;
    enum tls_role role;      /* what the client's certificate made it (tls.h) */
    struct tls_session *tls; /* owned: TLS on `stream`, NULL without */
    bool decrypting;         /* in connDecrypt: not to be freed */
};

/* Take ownership of an accepted stream and start reading; `role` is what
 * the client's TLS certificate made it (TLS_ROLE_NONE without TLS), `tls`
 * (owned) the TLS session whose handshake is done on `stream` (NULL
 * without TLS): its records are read, decrypted into the reader and
 * written by the connection itself (tls.h, the seam). */
void connStartAs(struct dqlite_node *node, uv_stream_t *stream,
                 enum tls_role role, struct tls_session *tls);

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

/* The node's idle sweep: started with the loop's services, closed with
 * them. */
void connSweepStart(struct dqlite_node *node);
void connSweepClose(struct dqlite_node *node);

#endif /* SERVER_CONN_H */
