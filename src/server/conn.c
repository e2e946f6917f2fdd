/*
 * Client connections (see conn.h): reading through the proto reader,
 * dispatching frames to the gateway one at a time, writing responses.
 *
 * A bad handshake word closes the connection without a byte written (what
 * go-dqlite relies on to fall back to the legacy version). Framing errors
 * (empty body, oversized message) close it too: the stream cannot be
 * resynchronised. Requests whose body cannot be decoded are answered with a
 * FAILURE where the protocol allows it and close the connection otherwise.
 */
#include "server/conn.h"

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include <sqlite3.h>

#include "proto/request.h"
#include "server/node.h"
#include "server/peer.h"

struct conn_write {
    uv_write_t req;
    struct conn *c;
    uint8_t *data; /* owned */
    conn_written_cb cb;
};

static void connMaybeFree(struct conn *c);

static void connOnAlloc(uv_handle_t *handle, size_t suggested, uv_buf_t *out);
static void connOnRead(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void connOnClosed(uv_handle_t *handle)
{
    struct conn *c = handle->data;
    libFree(c->stream);
    c->stream = NULL;
    connMaybeFree(c);
}

/* Frees the connection once the stream is closed and the gateway idle. */
static void connMaybeFree(struct conn *c)
{
    if (c->stream != NULL || c->writes_out > 0 || !gatewayClosed(&c->gateway)) {
        return;
    }
    protoReaderClose(&c->reader);
    libFree(c);
}

void connRelease(struct conn *c)
{
    connMaybeFree(c);
}

void connClose(struct conn *c)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    queueRemove(&c->link);
    c->node->n_conns--;
    gatewayClose(&c->gateway); /* may finish later: see gatewayClosed */
    uv_close((uv_handle_t *)c->stream, connOnClosed);
}

static void connOnRawClosed(uv_handle_t *handle)
{
    libFree(handle);
}

static void connOnWritten(uv_write_t *req, int status)
{
    struct conn_write *w = req->data;
    struct conn *c = w->c;
    libFree(w->data);
    c->writes_out--;
    if (w->cb != NULL && !c->closing) {
        w->cb(c, status);
    }
    libFree(w);
    if (status != 0) {
        connClose(c);
    }
    if (c->closing) {
        connMaybeFree(c);
    }
}

int connWrite(struct conn *c, struct buf *msg, conn_written_cb on_written)
{
    struct conn_write *w = libMalloc(sizeof *w);
    if (w == NULL) {
        bufFree(msg);
        return ERR_NOMEM;
    }
    size_t len;
    w->c = c;
    w->cb = on_written;
    w->data = bufDetach(msg, &len);
    w->req.data = w;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    int rv = uv_write(&w->req, c->stream, &b, 1, connOnWritten);
    if (rv != 0) {
        libFree(w->data);
        libFree(w);
        return ERR_IO;
    }
    c->writes_out++;
    return 0;
}

/* Hands the stream to the raft transport (CONNECT as first request),
 * with the frame and whatever the reader holds after it. */
static void connBecomePeer(struct conn *c, const struct proto_frame *f)
{
    uv_stream_t *stream = c->stream;
    c->closing = true;
    queueRemove(&c->link);
    c->node->n_conns--;
    uv_read_stop(stream);
    c->stream = NULL; /* the transport owns it now */
    peerAccept(c->node, stream, f, &c->reader);
    gatewayClose(&c->gateway); /* no database yet: this frees `c` */
}

static bool connFirstIsConnect(struct conn *c, const struct proto_frame *f)
{
    bool first = !c->first_request_seen;
    c->first_request_seen = true;
    return first && f->header.type == PROTO_REQ_CONNECT;
}

/* Takes frames while the gateway is idle. */
static void connPump(struct conn *c)
{
    struct proto_frame f;
    while (!c->closing && gatewayIdle(&c->gateway)) {
        int rv = protoReaderNext(&c->reader, &f);
        if (rv == ERR_AGAIN) {
            break;
        }
        if (rv == ERR_PROTO_TOOBIG) {
            gatewayRefuse(&c->gateway, SQLITE_TOOBIG, "message too large");
            return;
        }
        if (rv != 0) {
            connClose(c);
            return;
        }
        if (connFirstIsConnect(c, &f)) {
            connBecomePeer(c, &f);
            return;
        }
        if (c->node->n_conns > NODE_MAX_CONNS) {
            gatewayRefuse(&c->gateway, SQLITE_BUSY, "too many connections");
            return;
        }
        gatewayHandle(&c->gateway, &f);
    }
    if (!c->closing && !c->reading &&
        protoReaderBuffered(&c->reader) < CONN_MAX_BUFFERED) {
        c->reading = uv_read_start(c->stream, connOnAlloc, connOnRead) == 0;
    }
}

void connRequestDone(struct conn *c)
{
    connPump(c);
}

bool connPeekInterrupt(struct conn *c)
{
    return gatewayPeekInterrupt(&c->gateway, &c->reader);
}

static void connOnAlloc(uv_handle_t *handle, size_t suggested, uv_buf_t *out)
{
    struct conn *c = handle->data;
    uint8_t *p;
    size_t avail;
    (void)suggested;
    *out = uv_buf_init(NULL, 0);
    if (protoReaderReserve(&c->reader, CONN_READ_CHUNK, &p, &avail) == 0) {
        *out = uv_buf_init((char *)p, (unsigned)avail);
    }
}

static void connOnRead(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = stream->data;
    (void)buf;
    if (nread < 0 || (nread == 0 && buf->base == NULL)) {
        connClose(c);
        return;
    }
    protoReaderCommit(&c->reader, (size_t)nread);
    gatewayOnInput(&c->gateway, &c->reader); /* INTERRUPT while running */
    if (protoReaderBuffered(&c->reader) >= CONN_MAX_BUFFERED) {
        uv_read_stop(stream);
        c->reading = false;
    }
    connPump(c);
}

void connStart(struct dqlite_node *node, uv_stream_t *stream)
{
    struct conn *c = libCalloc(1, sizeof *c);
    if (c == NULL) {
        uv_close((uv_handle_t *)stream, connOnRawClosed);
        return;
    }
    c->node = node;
    c->stream = stream;
    stream->data = c;
    protoReaderInit(&c->reader, PROTO_SIDE_SERVER);
    gatewayInit(&c->gateway, c);
    queueInsertTail(&node->conns, &c->link);
    node->n_conns++;
    c->reading = true;
    if (uv_read_start(stream, connOnAlloc, connOnRead) != 0) {
        connClose(c);
    }
}
