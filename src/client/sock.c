/*
 * One connection to one node: framed messages in and out of a socket, with
 * deadlines.
 *
 * The socket is non-blocking and every wait is a poll() bounded by the
 * call's deadline, so no call blocks past its timeout. Bytes received go
 * into proto's framing reader (which owns them); the last message is
 * decoded in place and stays valid until the next receive. Any failure that
 * can leave the stream out of step closes the socket: a closed socket is
 * the one signal the layers above need to reconnect.
 *
 * Over TLS (s->ssl, set up by tls.c after the dial) the bytes go through
 * the TLS session instead of read()/send(); the waits are the same, with
 * the events the session asks for.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "proto/load.h"

/* Bytes asked from the socket per read. */
#define SOCK_READ_CHUNK 65536

void clientSockInit(struct client_sock *s)
{
    PRE(s != NULL);
    s->fd = -1;
    s->ssl = NULL;
    s->tls_err[0] = '\0';
    s->cancel_fd = -1;
    s->version = PROTO_VERSION;
    bufInit(&s->out);
    protoReaderInit(&s->reader, PROTO_SIDE_CLIENT);
    s->frame.body = NULL;
    s->frame.len = 0;
    protoResponseInit(&s->resp, PROTO_RESP_EMPTY);
}

/* Closes the fd only: buffers stay for reuse, the reader is reset. */
static void sockShut(struct client_sock *s)
{
    clientTlsClose(s);
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    bufReset(&s->out);
    protoReaderClose(&s->reader);
    protoReaderInit(&s->reader, PROTO_SIDE_CLIENT);
}

void clientSockClose(struct client_sock *s)
{
    PRE(s != NULL);
    sockShut(s);
    bufFree(&s->out);
    protoReaderClose(&s->reader);
}

bool clientSockOpen(const struct client_sock *s)
{
    return s->fd >= 0;
}

int clientSockAttach(struct client_sock *s, int fd, uint64_t version)
{
    int flags;
    PRE(s != NULL && s->fd < 0 && fd >= 0);
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        close(fd);
        return ERR_IO;
    }
    s->fd = fd;
    s->version = version;
    bufReset(&s->out);
    return protoHandshakeEncode(version, &s->out);
}

int clientSockEncode(struct client_sock *s, const struct proto_request *req)
{
    PRE(s != NULL && req != NULL);
    return protoRequestEncode(req, &s->out);
}

/* Waits until the socket is ready for `events`, or (reads only) the
 * cancellation descriptor is readable. */
static int sockWait(struct client_sock *s, short events, bool reading,
                    int64_t deadline_ms)
{
    struct pollfd p[2] = {{.fd = s->fd, .events = events},
                          {.fd = s->cancel_fd, .events = POLLIN}};
    nfds_t n = reading && s->cancel_fd >= 0 ? 2 : 1;
    int rv;
    do {
        rv = poll(p, n, clientRemainingMs(deadline_ms));
    } while (rv < 0 && errno == EINTR);
    if (rv == 0) {
        return ERR_TIMEOUT;
    }
    if (rv < 0) {
        return ERR_IO;
    }
    return n == 2 && p[1].revents != 0 ? ERR_CLIENT_CANCELLED : 0;
}

/* One write: send() without SIGPIPE, write() for descriptors a custom
 * dial function returned that are not sockets, or a TLS record. 0 with
 * *put bytes, ERR_AGAIN with the events to wait for, or ERR_IO. */
static int sockWrite(struct client_sock *s, const void *p, size_t n,
                     size_t *put, short *events)
{
    ssize_t rv;
    if (s->ssl != NULL) {
        return clientTlsWrite(s, p, n, put, events);
    }
    rv = send(s->fd, p, n, MSG_NOSIGNAL);
    if (rv < 0 && errno == ENOTSOCK) {
        rv = write(s->fd, p, n);
    }
    if (rv > 0) {
        *put = (size_t)rv;
        return 0;
    }
    *events = POLLOUT;
    return rv < 0 && (errno == EAGAIN || errno == EINTR) ? ERR_AGAIN : ERR_IO;
}

/* One read, as sockWrite: 0 with *got bytes, ERR_AGAIN, ERR_CLIENT_EOF,
 * ERR_IO. */
static int sockRead(struct client_sock *s, void *p, size_t n, size_t *got,
                    short *events)
{
    ssize_t rv;
    if (s->ssl != NULL) {
        return clientTlsRead(s, p, n, got, events);
    }
    rv = read(s->fd, p, n);
    if (rv > 0) {
        *got = (size_t)rv;
        return 0;
    }
    if (rv == 0) {
        return ERR_CLIENT_EOF;
    }
    *events = POLLIN;
    return errno == EAGAIN || errno == EINTR ? ERR_AGAIN : ERR_IO;
}

int clientSockFlush(struct client_sock *s, int64_t deadline_ms)
{
    size_t done = 0;
    int rv;
    PRE(clientSockOpen(s));
    while (done < s->out.len) {
        size_t put = 0;
        short events = 0;
        rv = sockWrite(s, s->out.data + done, s->out.len - done, &put, &events);
        if (rv == 0) {
            done += put;
            continue;
        }
        if (rv != ERR_AGAIN) {
            goto err_after_open;
        }
        rv = sockWait(s, events, false, deadline_ms);
        if (rv != 0) {
            goto err_after_open;
        }
    }
    bufReset(&s->out);
    return 0;
err_after_open:
    sockShut(s); /* a partial request cannot be taken back */
    return rv;
}

/* Reads what the socket has into the reader (at least one byte). */
static int sockFill(struct client_sock *s, int64_t deadline_ms)
{
    uint8_t *p;
    size_t avail;
    int rv = protoReaderReserve(&s->reader, SOCK_READ_CHUNK, &p, &avail);
    if (rv != 0) {
        return rv;
    }
    for (;;) {
        size_t got = 0;
        short events = 0;
        rv = sockRead(s, p, avail, &got, &events);
        if (rv == 0) {
            protoReaderCommit(&s->reader, got);
            return 0;
        }
        if (rv != ERR_AGAIN) {
            return rv;
        }
        rv = sockWait(s, events, true, deadline_ms);
        if (rv != 0) {
            return rv;
        }
    }
}

static int sockDecode(struct client_sock *s)
{
    struct proto_expect expect = {
        .legacy = s->version == PROTO_VERSION_LEGACY,
        .cluster_format = 1,
    };
    return protoResponseDecode(&s->frame.header, s->frame.body, s->frame.len,
                               &expect, &s->resp);
}

int clientSockRecv(struct client_sock *s, int64_t deadline_ms)
{
    int rv;
    PRE(clientSockOpen(s));
    for (;;) {
        rv = protoReaderNext(&s->reader, &s->frame);
        if (rv == 0) {
            break;
        }
        if (rv != ERR_AGAIN) {
            goto err_after_open;
        }
        rv = sockFill(s, deadline_ms);
        if (rv == ERR_TIMEOUT && !clientSockPartial(s)) {
            return rv; /* nothing of the next message read: in step */
        }
        if (rv == ERR_CLIENT_CANCELLED) {
            return rv; /* the reader keeps what it has: still in step */
        }
        if (rv != 0) {
            goto err_after_open;
        }
    }
    if (s->frame.header.type == PROTO_RESP_LOAD_PROGRESS) {
        /* An extension's answer: its caller decodes s->frame (load.c). */
        memset(&s->resp, 0, sizeof s->resp);
        s->resp.type = PROTO_RESP_LOAD_PROGRESS;
        return 0;
    }
    rv = sockDecode(s);
    if (rv != 0) {
        goto err_after_open;
    }
    return 0;
err_after_open:
    sockShut(s);
    return rv;
}

bool clientSockHungUp(struct client_sock *s)
{
    struct pollfd p = {.fd = s->fd, .events = POLLIN | POLLRDHUP};
    PRE(clientSockOpen(s));
    /* Between requests the server never writes: anything readable is the
     * end of the stream (or an error). */
    if (poll(&p, 1, 0) != 1) {
        return false;
    }
    if ((p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) == 0) {
        return false;
    }
    return s->ssl == NULL || clientTlsHungUp(s);
}

bool clientSockPartial(const struct client_sock *s)
{
    return protoReaderBuffered(&s->reader) > 0;
}

int clientSockCall(struct client_sock *s, int64_t deadline_ms)
{
    int rv = clientSockFlush(s, deadline_ms);
    if (rv != 0) {
        return rv;
    }
    return clientSockRecv(s, deadline_ms);
}
