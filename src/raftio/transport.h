/*
 * The raft peer transport over libuv: TCP ("host:port") and abstract Unix
 * sockets ("@name"), one outgoing stream per peer, messages framed as in
 * docs/transport.md.
 *
 * Outgoing: raftioTransportSend encodes a message (raft's codec) into a
 * frame and queues it for the peer; a peer that is not connected is dialled
 * through the connect function -- the embedder's (dqlite_node_set_connect_
 * func) or the built-in dialler -- always on a libuv thread-pool thread,
 * never on the loop, since it may block for seconds. The stream starts with
 * the handshake (a CONNECT request naming our id, address and cluster), so
 * peers share the client port. A broken stream is redialled with
 * exponential backoff (backoff_min_ms doubling up to backoff_max_ms).
 * Each peer's queue is bounded in messages and bytes: past the bound Send
 * returns ERR_SENDQ_FULL and drops the message (raft retries).
 *
 * Incoming: streams whose handshake has been read -- by our own listener
 * (raftioTransportListen, used standalone and in tests) or by the server's
 * client-port reader, which hands the socket over with raftioTransportAdopt
 * -- are decoded frame by frame; every message is passed to recv_cb.
 * Malformed frames, messages or a foreign cluster close the stream.
 *
 * Threading: everything but the connect function runs on the loop thread.
 * Ownership: Send copies the small parts of a message and takes a
 * reference to each large payload (raftMessageEncodeShared: entry data and
 * snapshot chunks must be payload blocks), which every peer's frame shares
 * until written; recv_cb borrows the message for the duration of the call
 * (raftStep takes its own references).
 */
#ifndef RAFTIO_TRANSPORT_H
#define RAFTIO_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lib/queue.h"
#include "raft/raft.h"
#include "raftio/frame.h"
#include "raftio/log.h"

/* Same contract as dqlite_node_set_connect_func: 0 and a connected stream
 * socket in *fd (which we then own), or non-zero for "no connection". */
typedef int (*raftio_connect_fn)(void *arg, const char *address, int *fd);

struct raftio_transport;
typedef void (*raftio_recv_fn)(struct raftio_transport *t,
                               const struct raft_message *m);

struct raftio_transport_options {
    uint64_t node_id;
    const char *address;          /* ours, sent in the handshake */
    const char *cluster;          /* name checked by both sides; "" = any */
    raftio_connect_fn connect_fn; /* NULL = built-in TCP / abstract dial */
    void *connect_arg;
    unsigned queue_max_msgs; /* per peer; 0 = 1024 */
    size_t queue_max_bytes;  /* per peer; 0 = 64 MiB */
    unsigned backoff_min_ms; /* 0 = 50 */
    unsigned backoff_max_ms; /* 0 = 1000 */
    raftio_recv_fn recv_cb;
    raftio_logger_fn logger; /* may be NULL */
    void *logger_arg;
};

struct raftio_transport_stats {
    uint64_t dials;    /* connect attempts */
    uint64_t connects; /* handshakes sent */
    uint64_t sent;     /* messages written to a socket */
    uint64_t received; /* messages passed to recv_cb */
    uint64_t dropped;  /* refused by a full queue */
};

struct raftio_transport {
    void *data; /* for the embedder */
    uv_loop_t *loop;
    struct raftio_transport_options o;
    char address[FRAME_TEXT_MAX + 1];
    char cluster[FRAME_TEXT_MAX + 1];
    struct queue peers;   /* struct peer */
    struct queue inbound; /* struct inconn */
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } listener;
    bool listening;
    char bound[FRAME_TEXT_MAX + 1]; /* address actually bound */
    bool closing;
    bool no_dial;     /* raftioTransportStopDialling was called */
    unsigned pending; /* handles and work items not finished yet */
    void (*close_cb)(struct raftio_transport *t);
    struct raftio_transport_stats stats;
};

int raftioTransportInit(struct raftio_transport *t, uv_loop_t *loop,
                        const struct raftio_transport_options *opts);

/* Listens on `address` ("host:port", port 0 picks one; "@name", "@" picks
 * one) and reads handshakes itself. The bound address is in t->bound. */
int raftioTransportListen(struct raftio_transport *t, const char *address);

/* Takes over `fd`, a stream whose handshake `hs` the caller already read;
 * `rest` are bytes it read past the handshake. The transport owns fd from
 * the call on, even when it fails. */
int raftioTransportAdopt(struct raftio_transport *t, int fd,
                         const struct raftio_handshake *hs, const void *rest,
                         size_t rest_len);

/* Queues `m` for node `to` at `address`. ERR_SENDQ_FULL, ERR_NOMEM,
 * ERR_SHUTDOWN, or the codec's error. */
int raftioTransportSend(struct raftio_transport *t, uint64_t to,
                        const char *address, const struct raft_message *m);

/* From now on only the streams that are up carry messages: no peer is
 * dialled or redialled, and a message for a peer without a stream is
 * dropped (ERR_UNREACHABLE: raft treats it like a lost message). For a
 * node that is stopping: it must not reach out to peers that left. */
void raftioTransportStopDialling(struct raftio_transport *t);

/* Whether the outgoing stream to `id` is up now (dialled, handshake sent,
 * not broken): a peer that just closed its end is not. */
bool raftioTransportConnected(const struct raftio_transport *t, uint64_t id);

/* Closes every stream and the listener; close_cb once all is released
 * (a dial in progress on the thread pool is waited for). close_cb may run
 * before this returns when nothing was open. */
void raftioTransportClose(struct raftio_transport *t,
                          void (*close_cb)(struct raftio_transport *t));

/* The built-in dialler (blocking, for the thread pool): "@name" is an
 * abstract Unix socket, anything else "host:port" over TCP. */
int raftioDial(void *arg, const char *address, int *fd);

#endif /* RAFTIO_TRANSPORT_H */
