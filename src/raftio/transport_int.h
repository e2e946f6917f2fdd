/*
 * Private to the transport's files (transport.c: outgoing peers, init and
 * close; transport_in.c: listener and incoming streams; dial.c: sockets).
 */
#ifndef RAFTIO_TRANSPORT_INT_H
#define RAFTIO_TRANSPORT_INT_H

#include "raftio/transport.h"

/* A libuv stream over a TCP or Unix socket. */
union transport_stream {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
};

/* Opens `fd` (a connected or listening socket) as a libuv stream of the
 * right kind. ERR_INVALID: not a socket, nothing initialised. ERR_IO: the
 * handle is initialised but not open (uv_close it). On error fd is left
 * open either way. */
int transportOpenStream(uv_loop_t *loop, union transport_stream *s, int fd);

/* Socket helpers of dial.c. */
int transportListenSocket(const char *address, int *fd, char *bound,
                          size_t bound_size);

void transportNote(struct raftio_transport *t, int level, const char *fmt, ...);

/* Called by every close callback: finishes a pending close. */
void transportRelease(struct raftio_transport *t);

void transportCloseInbound(struct raftio_transport *t);

#endif /* RAFTIO_TRANSPORT_INT_H */
