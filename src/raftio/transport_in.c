/*
 * Incoming side of the transport: our own listener (standalone use and
 * tests; in a node the server's client port reads the handshake and calls
 * raftioTransportAdopt) and the streams that carry a peer's messages to us.
 * Each stream: handshake (unless adopted), then frames, each decoded with
 * raft's codec and passed to recv_cb. Anything malformed closes it.
 */
#include <string.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "raftio/transport_int.h"

#define INCONN_READ_BYTES 65536

struct inconn {
    struct queue link;
    struct raftio_transport *t;
    union transport_stream s;
    struct frame_decoder dec;
    bool have_handshake;
    bool closing;
    struct raftio_handshake hs;
    uint8_t *read_buf; /* INCONN_READ_BYTES */
};

static void inconnClosed(uv_handle_t *h)
{
    struct inconn *c = h->data;
    struct raftio_transport *t = c->t;
    queueRemove(&c->link);
    frameDecoderClose(&c->dec);
    libFree(c->read_buf);
    libFree(c);
    transportRelease(t);
}

static void inconnClose(struct inconn *c, const char *why, int rv)
{
    if (c->closing) {
        return;
    }
    if (why != NULL) {
        transportNote(c->t, RAFTIO_LOG_WARN,
                      "transport: closing stream from %llu (%s): %s: %s",
                      (unsigned long long)c->hs.node_id, c->hs.address, why,
                      errString(rv));
    }
    c->closing = true;
    uv_close(&c->s.handle, inconnClosed);
}

static int inconnHandshake(struct inconn *c)
{
    struct frame_decoder *d = &c->dec;
    size_t used;
    int rv = frameDecodeHandshake(d->in.data + d->consumed,
                                  d->in.len - d->consumed, &c->hs, &used);
    if (rv != 0) {
        return rv;
    }
    d->consumed += used;
    if (c->t->cluster[0] != '\0' && c->hs.cluster[0] != '\0' &&
        strcmp(c->t->cluster, c->hs.cluster) != 0) {
        return ERR_CLUSTER_MISMATCH;
    }
    c->have_handshake = true;
    return 0;
}

/* Decodes and delivers one frame's message. */
static int inconnDeliver(struct inconn *c, const uint8_t *body, size_t len)
{
    struct raft_message m;
    int rv = raftMessageDecode(body, len, &m);
    if (rv != 0) {
        return rv;
    }
    if (m.from != c->hs.node_id) {
        raftMessageClose(&m);
        return ERR_HANDSHAKE; /* a peer speaks only for itself */
    }
    c->t->stats.received++;
    c->t->o.recv_cb(c->t, &m);
    raftMessageClose(&m);
    return 0;
}

/* Consumes what the decoder holds; ERR_AGAIN when it needs more. */
static int inconnProcess(struct inconn *c)
{
    int rv = 0;
    if (!c->have_handshake) {
        rv = inconnHandshake(c);
    }
    while (rv == 0 && !c->closing && !c->t->closing) {
        const uint8_t *body;
        size_t len;
        rv = frameDecoderPop(&c->dec, &body, &len);
        if (rv == 0) {
            rv = inconnDeliver(c, body, len);
        }
    }
    return rv;
}

static void inconnAlloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    struct inconn *c = h->data;
    (void)size;
    *buf = uv_buf_init((char *)c->read_buf, INCONN_READ_BYTES);
}

static void inconnRead(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
    struct inconn *c = stream->data;
    if (n < 0) {
        inconnClose(c, n == UV_EOF ? NULL : "read", ERR_IO);
        return;
    }
    int rv = frameDecoderPush(&c->dec, buf->base, (size_t)n);
    if (rv == 0) {
        rv = inconnProcess(c);
    }
    if (rv != ERR_AGAIN && !c->closing) {
        inconnClose(c, "bad input", rv);
    }
}

/* Creates a stream record; its handle is initialised by the caller. */
static struct inconn *inconnCreate(struct raftio_transport *t)
{
    struct inconn *c = libCalloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->read_buf = libMalloc(INCONN_READ_BYTES);
    if (c->read_buf == NULL) {
        libFree(c);
        return NULL;
    }
    c->t = t;
    frameDecoderInit(&c->dec, FRAME_BODY_MAX);
    queueInsertTail(&t->inbound, &c->link);
    return c;
}

static void inconnStart(struct inconn *c)
{
    c->s.handle.data = c;
    c->t->pending++;
    if (uv_read_start(&c->s.stream, inconnAlloc, inconnRead) != 0) {
        inconnClose(c, "read start", ERR_IO);
    }
}

static void listenerAccept(uv_stream_t *server, int status)
{
    struct raftio_transport *t = server->data;
    if (status < 0 || t->closing) {
        return;
    }
    struct inconn *c = inconnCreate(t);
    if (c == NULL) {
        return; /* the kernel keeps the connection for the next try */
    }
    if (server->type == UV_TCP) {
        uv_tcp_init(t->loop, &c->s.tcp);
    } else {
        uv_pipe_init(t->loop, &c->s.pipe, 0);
    }
    c->s.handle.data = c;
    if (uv_accept(server, &c->s.stream) != 0) {
        c->t->pending++;
        inconnClose(c, "accept", ERR_IO);
        return;
    }
    inconnStart(c);
}

int raftioTransportListen(struct raftio_transport *t, const char *address)
{
    PRE(!t->listening && !t->closing);
    int fd;
    int rv = transportListenSocket(address, &fd, t->bound, sizeof t->bound);
    if (rv != 0) {
        return rv;
    }
    rv = transportOpenStream(t->loop, (union transport_stream *)&t->listener,
                             fd);
    if (rv != 0) {
        close(fd);
    }
    if (rv == ERR_INVALID) {
        return ERR_IO;
    }
    t->listener.tcp.data = t;
    t->listening = true;
    t->pending++;
    if (rv == 0 &&
        uv_listen((uv_stream_t *)&t->listener, 128, listenerAccept) != 0) {
        rv = ERR_IO;
    }
    if (rv != 0) {
        transportCloseInbound(t); /* closes the listener */
        return rv;
    }
    return 0;
}

int raftioTransportAdopt(struct raftio_transport *t, int fd,
                         const struct raftio_handshake *hs, const void *rest,
                         size_t rest_len)
{
    if (t->closing) {
        return ERR_SHUTDOWN;
    }
    struct inconn *c = inconnCreate(t);
    if (c == NULL) {
        return ERR_NOMEM;
    }
    c->hs = *hs;
    c->have_handshake = true;
    int rv = transportOpenStream(t->loop, &c->s, fd);
    if (rv != 0) {
        close(fd);
    }
    if (rv == ERR_INVALID) {
        queueRemove(&c->link);
        frameDecoderClose(&c->dec);
        libFree(c->read_buf);
        libFree(c);
        return rv;
    }
    inconnStart(c);
    rv = rest_len > 0 ? frameDecoderPush(&c->dec, rest, rest_len) : 0;
    if (rv == 0 && !c->closing) {
        rv = inconnProcess(c);
    }
    if (rv != 0 && rv != ERR_AGAIN) {
        inconnClose(c, "bad input", rv);
    }
    return 0;
}

static void listenerClosed(uv_handle_t *h)
{
    transportRelease(h->data);
}

void transportCloseInbound(struct raftio_transport *t)
{
    struct queue *q;
    if (t->listening) {
        t->listening = false;
        uv_close((uv_handle_t *)&t->listener, listenerClosed);
    }
    QUEUE_FOREACH(q, &t->inbound)
    {
        inconnClose(QUEUE_DATA(q, struct inconn, link), NULL, 0);
    }
}
