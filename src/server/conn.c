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

#include <stdio.h>

#include "proto/load.h"
#include "proto/request.h"
#include "server/gateway_internal.h"
#include "server/node.h"
#include "server/peer.h"

struct conn_write {
    uv_write_t req;
    struct conn *c;
    uint8_t *data; /* owned */
    size_t len;
    conn_written_cb cb;
};

static void connMaybeFree(struct conn *c);

static void connOnAlloc(uv_handle_t *handle, size_t suggested, uv_buf_t *out);
static void connOnRead(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void connUpdateReading(struct conn *c);

static void connOnClosed(uv_handle_t *handle)
{
    struct conn *c = handle->data;
    libFree(c->stream);
    c->stream = NULL;
    connMaybeFree(c);
}

/* Charges what the connection holds now to the node's budget. */
static void connAccount(struct conn *c)
{
    size_t now = c->reader.buf.cap + c->gateway.body.cap;
    if (now < c->reserved_bytes) {
        now = c->reserved_bytes; /* a frame admitted, still arriving */
    }
    /* While a job runs, its thread owns the output buffer (a batch is at
     * most GATEWAY_BATCH_BYTES); it is counted again once the job is done. */
    if (c->gateway.stage != GATEWAY_RUNNING) {
        now += c->gateway.out.cap;
    }
    now += c->out_bytes;
    budgetCharge(&c->node->budget, &c->held_bytes, now);
}

/* Frees the connection once the stream is closed and the gateway idle. */
static void connMaybeFree(struct conn *c)
{
    if (c->stream != NULL || c->writes_out > 0 || c->decrypting ||
        !gatewayClosed(&c->gateway)) {
        return;
    }
    protoReaderClose(&c->reader);
    budgetCharge(&c->node->budget, &c->held_bytes, 0);
    tlsLinkFree(c->tls);
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
    if (c->tls != NULL) {
        tlsLinkClose(c->tls, c->stream);
    }
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
    ASSERT(c->out_bytes >= w->len);
    c->out_bytes -= w->len;
    c->writes_out--;
    c->write_progress_ms = uv_now(&c->node->loop);
    connAccount(c);
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

/* Queues `len` bytes (owned from now on) as they are on the stream. */
static int connWriteRaw(struct conn *c, uint8_t *data, size_t len,
                        conn_written_cb on_written)
{
    struct conn_write *w = libMalloc(sizeof *w);
    if (w == NULL) {
        libFree(data);
        return ERR_NOMEM;
    }
    w->c = c;
    w->cb = on_written;
    w->data = data;
    w->len = len;
    w->req.data = w;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    int rv = uv_write(&w->req, c->stream, &b, 1, connOnWritten);
    if (rv != 0) {
        libFree(w->data);
        libFree(w);
        return ERR_IO;
    }
    if (c->writes_out == 0) {
        c->write_progress_ms = uv_now(&c->node->loop);
    }
    c->write_queue_seen = c->stream->write_queue_size;
    c->writes_out++;
    c->out_bytes += len;
    connAccount(c);
    return 0;
}

/* TLS: the records OpenSSL has for the stream (sealed by connWrite, or
 * its own answers such as a key update), in one write. */
static int connWriteRecords(struct conn *c, conn_written_cb on_written)
{
    void *records;
    size_t len;
    if (tlsLinkTake(c->tls, &records, &len) != 0) {
        return ERR_NOMEM;
    }
    if (len == 0 && on_written == NULL) {
        return 0;
    }
    return connWriteRaw(c, records, len, on_written);
}

int connWrite(struct conn *c, struct buf *msg, conn_written_cb on_written)
{
    size_t len;
    uint8_t *data = bufDetach(msg, &len);
    if (c->tls == NULL) {
        return connWriteRaw(c, data, len, on_written);
    }
    /* The cleartext is sealed at once (one record per 16 KiB of the
     * message) and let go: only the records wait for the kernel. */
    int rv = tlsLinkWrite(c->tls, data, len);
    libFree(data);
    if (rv != 0) {
        return ERR_IO;
    }
    return connWriteRecords(c, on_written);
}

/* Hands the stream to the raft transport (CONNECT as first request),
 * with the frame and whatever the reader holds after it. */
static void connBecomePeer(struct conn *c, const struct proto_frame *f)
{
    uv_stream_t *stream = c->stream;
    budgetCharge(&c->node->budget, &c->held_bytes, 0); /* peers are not */
    c->closing = true;
    queueRemove(&c->link);
    c->node->n_conns--;
    uv_read_stop(stream);
    c->stream = NULL; /* the transport owns it now */
    if (c->tls != NULL) {
        /* The transport reads descriptors: a relay decrypts for it. */
        stream = tlsLinkRelay(c->node, c->tls, stream);
        c->tls = NULL;
    }
    if (stream != NULL) {
        peerAccept(c->node, stream, f, &c->reader);
    }
    gatewayClose(&c->gateway); /* no database yet: this frees `c` */
}

static bool connFirstIsConnect(struct conn *c, const struct proto_frame *f)
{
    bool first = !c->first_request_seen;
    c->first_request_seen = true;
    return first && f->header.type == PROTO_REQ_CONNECT;
}

/* Membership, DUMP, BACKUP, LOAD, roles and weight: what
 * DQLITE_TLS_ADMIN_AUTH keeps to node and admin certificates. */
static bool connIsAdmin(const struct proto_frame *f)
{
    if (protoLoadIsRequest(f->header.type)) {
        return true; /* replaces a database wholesale (docs/restore.md) */
    }
    switch (f->header.type) {
    case PROTO_REQ_ADD:
    case PROTO_REQ_ASSIGN:
    case PROTO_REQ_REMOVE:
    case PROTO_REQ_DUMP:
    case PROTO_REQ_BACKUP:
    case PROTO_REQ_TRANSFER:
    case PROTO_REQ_WEIGHT:
        return true;
    default:
        return false;
    }
}

/* A request the client's certificate does not allow: a FAILURE (with
 * `why`, or the admin message), logged. */
static void connDenied(struct conn *c, const char *why)
{
    char msg[200];
    snprintf(msg, sizeof msg, "%s",
             why != NULL ? why
                         : "not authorized: this request needs an admin "
                           "certificate (OU=dqlite-admin) or a node's");
    nodeLogf(c->node, DQLITE_LOG_WARN, "TLS: refused a request: %s", msg);
    c->refused = true;
    c->gateway.version = c->reader.version;
    c->gateway.stage = GATEWAY_RUNNING;
    gatewayFailure(&c->gateway, SQLITE_AUTH, msg);
}

/* Answers with a FAILURE and closes: the stream is not read any more. */
static void connRefuse(struct conn *c, uint64_t code, const char *message)
{
    c->refused = true;
    gatewayRefuse(&c->gateway, code, message);
}

/* Refuses the frame whose header the reader holds (`size` bytes declared,
 * header included): the FAILURE is written at once, the rest of the frame
 * is read and dropped (connOnRead) and the connection closed after both
 * (connDrainCheck). */
static void connRefuseFrame(struct conn *c, uint64_t size, uint64_t code,
                            const char *message)
{
    struct gateway *g = &c->gateway;
    size_t buffered = c->reader.buf.len - c->reader.pos;
    c->refused = true;
    c->draining = true;
    c->drain_bytes = size > buffered ? size - buffered : 0;
    c->drain_end_ms = uv_now(&c->node->loop) + CONN_DRAIN_MS;
    protoReaderClose(&c->reader); /* nothing more is kept */
    g->version = c->reader.version;
    g->stage = GATEWAY_RUNNING;
    gatewayFailure(g, code, message); /* back to idle once written */
}

/* A refused frame is over once dropped whole (or for too long) and its
 * FAILURE written: close. */
static void connDrainCheck(struct conn *c)
{
    if (c->closing || !c->draining) {
        return;
    }
    if (c->drain_bytes > 0 && uv_now(&c->node->loop) < c->drain_end_ms) {
        return;
    }
    c->draining = false;
    if (gatewayIdle(&c->gateway)) {
        connClose(c);
    } else {
        connUpdateReading(c); /* stops: connPump closes once written */
    }
}

/* Bytes the buffers will hold to receive and serve a frame of `size`
 * bytes: the input buffer and the gateway's copy each grow by doubling. */
static uint64_t connFrameCost(uint64_t size)
{
    uint64_t cap = CONN_READ_CHUNK;
    while (cap < size + CONN_READ_CHUNK) {
        cap *= 2;
    }
    return 2 * cap;
}

/* With the gateway idle and the next frame still arriving: whether the
 * node can afford to receive it (else it is refused, unread). Frames over
 * the request limit are left to the reader, which refuses them. */
static bool connAdmit(struct conn *c)
{
    bool complete;
    uint64_t size = protoReaderPeekSize(&c->reader, &complete);
    if (complete || size <= BUDGET_FREE_BYTES ||
        size > PROTO_HEADER_SIZE + c->reader.max_body) {
        return true;
    }
    uint64_t cost = connFrameCost(size);
    uint64_t held = c->reader.buf.cap + c->gateway.body.cap;
    if (c->reserved_bytes >= cost) {
        return true; /* admitted already */
    }
    if (held < c->reserved_bytes) {
        held = c->reserved_bytes;
    }
    if (cost <= held || budgetFits(&c->node->budget, (size_t)(cost - held))) {
        c->reserved_bytes = (size_t)cost; /* charged by connAccount */
        return true;
    }
    char msg[160];
    struct budget *b = &c->node->budget;
    b->refused++;
    snprintf(msg, sizeof msg,
             "request of %llu bytes refused: the node's memory budget for "
             "connections is exhausted (%zu of %zu bytes held)",
             (unsigned long long)size, b->used_bytes, b->limit_bytes);
    nodeLogf(c->node, DQLITE_LOG_WARN, "%s", msg);
    connRefuseFrame(c, size, SQLITE_NOMEM, msg);
    return false;
}

/* A complete request while the node holds more than its budget: answered
 * with a FAILURE, the connection kept. */
static void connShed(struct conn *c)
{
    struct gateway *g = &c->gateway;
    c->node->budget.refused++;
    g->version = c->reader.version;
    g->stage = GATEWAY_RUNNING;
    gatewayFailure(g, SQLITE_NOMEM,
                   "request refused: the node's memory budget for "
                   "connections is exhausted, try again later");
}

/* After a request: buffers grown for a large one go back. */
static void connTrim(struct conn *c)
{
    if (!gatewayIdle(&c->gateway)) {
        return;
    }
    if (c->gateway.body.cap > CONN_KEEP_BYTES) {
        bufFree(&c->gateway.body);
    }
    if (c->reader.buf.cap > CONN_KEEP_BYTES &&
        protoReaderBuffered(&c->reader) == 0) {
        protoReaderTrim(&c->reader);
    }
}

/* Reading runs unless the stream is done, or a request is being served
 * and more than CONN_MAX_BUFFERED bytes wait behind it. */
static void connUpdateReading(struct conn *c)
{
    bool busy = !gatewayIdle(&c->gateway);
    bool want = !c->closing && (!c->refused || c->draining) &&
                !(busy && protoReaderBuffered(&c->reader) >= CONN_MAX_BUFFERED);
    if (want && !c->reading) {
        c->reading = uv_read_start(c->stream, connOnAlloc, connOnRead) == 0;
    } else if (!want && c->reading && !c->closing) {
        uv_read_stop(c->stream);
        c->reading = false;
    }
}

/* At the connection cap: closes the connection idle longest, if it has
 * been idle for CONN_EVICT_IDLE_MS, to make room for `c`. */
static bool connEvictIdle(struct conn *c)
{
    struct dqlite_node *n = c->node;
    uint64_t now_ms = uv_now(&n->loop);
    struct conn *oldest = NULL;
    struct queue *q;
    QUEUE_FOREACH(q, &n->conns)
    {
        struct conn *o = QUEUE_DATA(q, struct conn, link);
        if (o == c || !gatewayIdle(&o->gateway) || o->writes_out > 0 ||
            now_ms - o->active_ms < CONN_EVICT_IDLE_MS) {
            continue;
        }
        if (oldest == NULL || o->active_ms < oldest->active_ms) {
            oldest = o;
        }
    }
    if (oldest == NULL) {
        return false;
    }
    nodeLogf(n, DQLITE_LOG_INFO,
             "at the connection cap (%u): closing the connection idle "
             "longest (%llu ms) for a new one",
             n->max_conns, (unsigned long long)(now_ms - oldest->active_ms));
    connClose(oldest);
    return true;
}

/* Takes frames while the gateway is idle. */
static void connPump(struct conn *c)
{
    struct proto_frame f;
    while (!c->closing && !c->refused && gatewayIdle(&c->gateway)) {
        int rv = protoReaderNext(&c->reader, &f);
        if (rv == ERR_AGAIN) {
            connTrim(c);
            connAdmit(c);
            break;
        }
        if (rv == ERR_PROTO_TOOBIG) {
            bool complete;
            uint64_t size = protoReaderPeekSize(&c->reader, &complete);
            connRefuseFrame(c, size, SQLITE_TOOBIG, "message too large");
            break;
        }
        if (rv != 0) {
            connClose(c);
            return;
        }
        c->reserved_bytes = 0; /* the frame is here: its buffers count */
        if (connFirstIsConnect(c, &f)) {
            if (!tlsMayPeer(c->node, c->role)) {
                connDenied(c, "a peer stream (CONNECT) needs a node "
                              "certificate");
                break;
            }
            connBecomePeer(c, &f);
            return;
        }
        if (connIsAdmin(&f) && !tlsMayAdmin(c->node, c->role)) {
            connDenied(c, NULL);
            c->refused = false; /* answered: the connection stays */
            continue;
        }
        if (c->node->n_conns > c->node->max_conns && !connEvictIdle(c)) {
            connRefuse(c, SQLITE_BUSY, "too many connections");
            break;
        }
        c->active_ms = uv_now(&c->node->loop);
        if (budgetOver(&c->node->budget)) {
            connShed(c);
        } else {
            gatewayHandle(&c->gateway, &f);
        }
    }
    if (c->refused && !c->draining && gatewayIdle(&c->gateway)) {
        connClose(c); /* a refused frame's FAILURE is written */
    }
    if (!c->closing) {
        connAccount(c);
        connUpdateReading(c);
    }
}

void connRequestDone(struct conn *c)
{
    metricsRequestDone(&c->node->metrics, c->gateway.db_name,
                       c->gateway.req.type);
    c->active_ms = uv_now(&c->node->loop);
    connPump(c);
}

bool connPeekInterrupt(struct conn *c)
{
    return gatewayPeekInterrupt(&c->gateway, &c->reader);
}

/* The body of a refused request, read and thrown away. */
static _Thread_local uint8_t conn_dropped[CONN_READ_CHUNK];
/* TLS: ciphertext as read, handed to the session at once. */
static _Thread_local uint8_t conn_records[CONN_READ_CHUNK];

static void connOnAlloc(uv_handle_t *handle, size_t suggested, uv_buf_t *out)
{
    uint8_t *dropped = conn_dropped;
    struct conn *c = handle->data;
    uint8_t *p;
    size_t avail;
    (void)suggested;
    *out = uv_buf_init(NULL, 0);
    if (c->tls != NULL) {
        *out = uv_buf_init((char *)conn_records, sizeof conn_records);
        return;
    }
    if (c->draining) {
        *out = uv_buf_init((char *)dropped, CONN_READ_CHUNK);
        return;
    }
    if (protoReaderReserve(&c->reader, CONN_READ_CHUNK, &p, &avail) == 0) {
        *out = uv_buf_init((char *)p, (unsigned)avail);
    }
}

/* `nread` bytes of cleartext are in the reader's reserved space (or in
 * conn_dropped while draining). */
static void connTake(struct conn *c, size_t nread)
{
    if (c->draining) {
        uint64_t n = (uint64_t)nread;
        c->drain_bytes = n < c->drain_bytes ? c->drain_bytes - n : 0;
        connDrainCheck(c);
        return;
    }
    protoReaderCommit(&c->reader, nread);
    gatewayOnInput(&c->gateway, &c->reader); /* INTERRUPT while running */
    c->arrived_bytes += nread;
    if (c->arrived_bytes >= CONN_READ_CHUNK) {
        c->active_ms = uv_now(&c->node->loop); /* a request arriving */
        c->arrived_bytes = 0;
    }
    connPump(c);
}

/* TLS: every whole record buffered is decrypted straight into the reader
 * (as a plaintext read puts its bytes there), then whatever OpenSSL has
 * to say back (a key update) is written. */
static void connDecrypt(struct conn *c)
{
    c->decrypting = true; /* a CONNECT would free `c` under the loop */
    while (!c->closing && (!c->refused || c->draining)) {
        uint8_t *p = conn_dropped;
        size_t avail = CONN_READ_CHUNK, got;
        if (!c->draining &&
            protoReaderReserve(&c->reader, CONN_READ_CHUNK, &p, &avail) != 0) {
            connClose(c);
            break;
        }
        int rv = tlsLinkRead(c->tls, p, avail, &got);
        if (rv == ERR_AGAIN) {
            break;
        }
        if (rv != 0) {
            connClose(c); /* close_notify, or no record of ours (logged) */
            break;
        }
        connTake(c, got);
    }
    if (!c->closing && connWriteRecords(c, NULL) != 0) {
        connClose(c);
    }
    c->decrypting = false;
    if (c->closing) {
        connMaybeFree(c);
    }
}

static void connOnRead(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = stream->data;
    if (nread < 0 || (nread == 0 && buf->base == NULL)) {
        connClose(c);
        return;
    }
    if (c->tls == NULL) {
        connTake(c, (size_t)nread);
        return;
    }
    if (tlsLinkFeed(c->tls, buf->base, (size_t)nread) != 0) {
        connClose(c);
        return;
    }
    connDecrypt(c);
}

void connStartAs(struct dqlite_node *node, uv_stream_t *stream,
                 enum tls_role role, struct tls_session *tls)
{
    struct conn *c = libCalloc(1, sizeof *c);
    if (c == NULL) {
        tlsLinkFree(tls);
        uv_close((uv_handle_t *)stream, connOnRawClosed);
        return;
    }
    c->node = node;
    c->role = role;
    c->tls = tls;
    c->stream = stream;
    stream->data = c;
    protoReaderInit(&c->reader, PROTO_SIDE_SERVER);
    gatewayInit(&c->gateway, c);
    queueInsertTail(&node->conns, &c->link);
    node->n_conns++;
    c->active_ms = uv_now(&node->loop);
    c->reading = true;
    if (uv_read_start(stream, connOnAlloc, connOnRead) != 0) {
        connClose(c);
        return;
    }
    if (tls != NULL) {
        connDecrypt(c); /* records that came with the handshake's end */
    }
}

/* ------------------------------------------------------------ idle sweep */

/* Whether the client has taken no byte of a pending response for the
 * node's conn_stall_timeout_ms. */
static bool connStalled(struct conn *c, uint64_t now_ms)
{
    uint64_t timeout_ms = c->node->conn_stall_timeout_ms;
    size_t queued = c->stream->write_queue_size;
    if (c->writes_out == 0) {
        return false;
    }
    if (queued < c->write_queue_seen) {
        c->write_progress_ms = now_ms; /* the kernel took some */
    }
    c->write_queue_seen = queued;
    return timeout_ms > 0 && now_ms - c->write_progress_ms >= timeout_ms;
}

static bool connIdle(struct conn *c, uint64_t now_ms)
{
    uint64_t timeout_ms = c->node->conn_idle_timeout_ms;
    return timeout_ms > 0 && gatewayIdle(&c->gateway) && c->writes_out == 0 &&
           now_ms - c->active_ms >= timeout_ms;
}

static void connOnSweep(uv_timer_t *timer)
{
    struct dqlite_node *n = timer->data;
    uint64_t now_ms = uv_now(&n->loop);
    struct queue *q = n->conns.next;
    while (q != &n->conns) {
        struct conn *c = QUEUE_DATA(q, struct conn, link);
        q = q->next; /* connClose takes c off the list */
        connDrainCheck(c);
        if (c->closing) {
            continue;
        }
        if (connIdle(c, now_ms)) {
            nodeLogf(n, DQLITE_LOG_DEBUG,
                     "closing a client connection idle for %llu ms",
                     (unsigned long long)(now_ms - c->active_ms));
            connClose(c);
        } else if (connStalled(c, now_ms)) {
            nodeLogf(n, DQLITE_LOG_WARN,
                     "closing a client connection that read nothing of its "
                     "response for %llu ms (%zu bytes pending)",
                     (unsigned long long)(now_ms - c->write_progress_ms),
                     c->out_bytes);
            connClose(c);
        }
    }
}

void connSweepStart(struct dqlite_node *n)
{
    uint64_t period_ms = CONN_SWEEP_MS;
    if (n->conn_idle_timeout_ms > 0 &&
        n->conn_idle_timeout_ms / 2 < period_ms) {
        period_ms = n->conn_idle_timeout_ms / 2;
    }
    if (n->conn_stall_timeout_ms > 0 &&
        n->conn_stall_timeout_ms / 2 < period_ms) {
        period_ms = n->conn_stall_timeout_ms / 2;
    }
    if (period_ms == 0) {
        period_ms = 1;
    }
    uv_timer_init(&n->loop, &n->conn_sweep_timer);
    n->conn_sweep_timer.data = n;
    uv_timer_start(&n->conn_sweep_timer, connOnSweep, period_ms, period_ms);
}

void connSweepClose(struct dqlite_node *n)
{
    uv_close((uv_handle_t *)&n->conn_sweep_timer, NULL);
}
