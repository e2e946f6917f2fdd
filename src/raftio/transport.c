/*
 * Outgoing side of the transport (see transport.h): one `struct peer` per
 * node we send to, with its bounded queue of encoded frames, its dial on
 * the thread pool, its stream and its backoff timer; plus init, send and
 * close of the whole transport.
 *
 * Peer states: IDLE (no stream; dial when something is queued), DIALING
 * (a connect function runs on the pool), CONNECTED (handshake written
 * first, then frames), BACKOFF (stream gone; timer running). A peer lives
 * until the transport closes; its memory is freed once its timer and
 * stream are closed and no dial is in flight.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/crc32c.h"
#include "lib/err.h"
#include "raftio/transport_int.h"

#define PEER_WRITE_BATCH 32

enum peer_state { PEER_IDLE, PEER_DIALING, PEER_CONNECTED, PEER_BACKOFF };

/* One frame: its header and the encoded message, in pieces that share the
 * large entry payloads with the core and with the other peers' frames
 * (raftMessageEncodeShared): nothing large is copied per follower. */
struct frame_item {
    struct queue link;
    uint8_t header[8];
    struct raft_encoded body;
    size_t len;
};

struct peer {
    struct queue link;
    struct raftio_transport *t;
    uint64_t id;
    char address[FRAME_TEXT_MAX + 1];
    enum peer_state state;
    union transport_stream s;
    bool stream_open;
    uv_timer_t timer;
    bool timer_open;
    uv_work_t work;
    bool dialing; /* work queued or running */
    char dial_address[FRAME_TEXT_MAX + 1];
    int dial_fd;
    int dial_rv;
    struct queue queue; /* struct frame_item waiting */
    unsigned n_queued;
    size_t queued_bytes;
    struct queue writing; /* items of the write in flight */
    uv_buf_t *bufs;       /* of the write in flight (libuv copies them) */
    unsigned bufs_cap;
    uv_write_t write_req;
    bool write_busy;
    struct buf handshake;
    unsigned backoff_ms;
    uint8_t read_buf[64];
};

void transportNote(struct raftio_transport *t, int level, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    if (t->o.logger == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    t->o.logger(t->o.logger_arg, level, msg);
}

static void itemFree(struct frame_item *item)
{
    raftEncodedClose(&item->body);
    libFree(item);
}

static void itemsFree(struct queue *head)
{
    while (!queueEmpty(head)) {
        struct queue *q = queueHead(head);
        queueRemove(q);
        itemFree(QUEUE_DATA(q, struct frame_item, link));
    }
}

static void transportMaybeDone(struct raftio_transport *t)
{
    if (t->closing && t->pending == 0 && queueEmpty(&t->peers) &&
        queueEmpty(&t->inbound) && t->close_cb != NULL) {
        void (*cb)(struct raftio_transport *) = t->close_cb;
        t->close_cb = NULL;
        cb(t);
    }
}

void transportRelease(struct raftio_transport *t)
{
    ASSERT(t->pending > 0);
    t->pending--;
    transportMaybeDone(t);
}

/* Frees a closing peer once nothing refers to it any more. */
static void peerMaybeFree(struct peer *p)
{
    if (!p->t->closing || p->stream_open || p->timer_open || p->dialing ||
        p->write_busy) {
        return;
    }
    struct raftio_transport *t = p->t;
    queueRemove(&p->link);
    itemsFree(&p->queue);
    itemsFree(&p->writing);
    bufFree(&p->handshake);
    libFree(p->bufs);
    libFree(p);
    transportMaybeDone(t);
}

static void peerDial(struct peer *p);

static void peerTimerCb(uv_timer_t *timer)
{
    struct peer *p = timer->data;
    ASSERT(p->state == PEER_BACKOFF);
    p->state = PEER_IDLE;
    if (p->n_queued > 0 && !p->t->no_dial) {
        peerDial(p);
    }
}

/* Waits backoff_ms (doubling up to the maximum) before dialling again. */
static void peerBackoff(struct peer *p)
{
    unsigned max_ms = p->t->o.backoff_max_ms;
    p->state = PEER_BACKOFF;
    uv_timer_start(&p->timer, peerTimerCb, p->backoff_ms, 0);
    p->backoff_ms = p->backoff_ms * 2 < max_ms ? p->backoff_ms * 2 : max_ms;
}

static void peerTimerClosed(uv_handle_t *h)
{
    struct peer *p = h->data;
    p->timer_open = false;
    transportRelease(p->t);
    peerMaybeFree(p);
}

static void peerStreamClosed(uv_handle_t *h)
{
    struct peer *p = h->data;
    struct raftio_transport *t = p->t;
    p->stream_open = false;
    if (!t->closing) {
        peerBackoff(p);
    }
    transportRelease(t);
    peerMaybeFree(p);
}

/* The stream failed or the peer closed it: close, then back off. */
static void peerBroken(struct peer *p, const char *why)
{
    /* Once the stream is closing (the transport closes it on close, and a
     * write it cancels ends here with ECANCELED) there is nothing to do. */
    if (p->state != PEER_CONNECTED || uv_is_closing(&p->s.handle)) {
        return;
    }
    transportNote(p->t, RAFTIO_LOG_INFO, "transport: peer %llu (%s): %s",
                  (unsigned long long)p->id, p->address, why);
    p->state = PEER_BACKOFF;
    uv_close(&p->s.handle, peerStreamClosed);
}

static void peerFlush(struct peer *p);

static void peerWriteDone(uv_write_t *req, int status)
{
    struct peer *p = req->data;
    unsigned n = (unsigned)queueCount(&p->writing);
    itemsFree(&p->writing);
    p->write_busy = false;
    if (status < 0) {
        peerBroken(p, uv_strerror(status));
        peerMaybeFree(p);
        return;
    }
    p->t->stats.sent += n;
    peerFlush(p);
}

/* Room for `n` buffers in p->bufs. */
static bool peerBufsReserve(struct peer *p, unsigned n)
{
    if (n <= p->bufs_cap) {
        return true;
    }
    uv_buf_t *bufs = libRealloc(p->bufs, n * sizeof *bufs);
    if (bufs == NULL) {
        return false;
    }
    p->bufs = bufs;
    p->bufs_cap = n;
    return true;
}

/* Writes up to PEER_WRITE_BATCH queued frames with one uv_write: each
 * frame's header, then its pieces, shared payloads written from the
 * payload blocks themselves. libuv writes what the socket takes at once
 * and the rest as it drains, never blocking the loop. */
static void peerFlush(struct peer *p)
{
    unsigned n = 0, items = 0;
    if (p->state != PEER_CONNECTED || p->write_busy || p->n_queued == 0) {
        return;
    }
    while (p->n_queued > 0 && items < PEER_WRITE_BATCH) {
        struct queue *q = queueHead(&p->queue);
        struct frame_item *item = QUEUE_DATA(q, struct frame_item, link);
        if (!peerBufsReserve(p, n + 1 + item->body.n_pieces)) {
            break;
        }
        queueRemove(q);
        queueInsertTail(&p->writing, q);
        p->n_queued--;
        p->queued_bytes -= item->len;
        items++;
        p->bufs[n++] = uv_buf_init((char *)item->header, 8);
        for (unsigned i = 0; i < item->body.n_pieces; i++) {
            const struct raft_piece *piece = &item->body.pieces[i];
            p->bufs[n++] = uv_buf_init((char *)(uintptr_t)piece->data,
                                       (unsigned)piece->len);
        }
    }
    if (items == 0) {
        return; /* out of memory: the next send or write tries again */
    }
    p->write_busy = true;
    p->write_req.data = p;
    int rv = uv_write(&p->write_req, &p->s.stream, p->bufs, n, peerWriteDone);
    if (rv != 0) {
        p->write_busy = false;
        itemsFree(&p->writing);
        peerBroken(p, uv_strerror(rv));
    }
}

static void peerHandshakeDone(uv_write_t *req, int status)
{
    struct peer *p = req->data;
    p->write_busy = false;
    if (status < 0) {
        peerBroken(p, uv_strerror(status));
        peerMaybeFree(p);
        return;
    }
    p->backoff_ms = p->t->o.backoff_min_ms;
    p->t->stats.connects++;
    peerFlush(p);
}

static void peerAlloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    struct peer *p = h->data;
    (void)size;
    *buf = uv_buf_init((char *)p->read_buf, sizeof p->read_buf);
}

/* Nothing is expected back on an outgoing stream: only EOF or errors. */
static void peerRead(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
    struct peer *p = stream->data;
    (void)buf;
    if (n < 0) {
        peerBroken(p, n == UV_EOF ? "closed by peer" : uv_strerror((int)n));
    }
}

static int peerStart(struct peer *p, int fd)
{
    int rv = transportOpenStream(p->t->loop, &p->s, fd);
    if (rv == ERR_INVALID) {
        return rv;
    }
    bool owned = rv == 0;
    p->s.handle.data = p;
    p->stream_open = true;
    p->t->pending++;
    p->state = PEER_CONNECTED;
    if (rv == 0) {
        rv = uv_read_start(&p->s.stream, peerAlloc, peerRead) == 0 ? 0 : ERR_IO;
    }
    if (rv == 0) {
        uv_buf_t b =
            uv_buf_init((char *)p->handshake.data, (unsigned)p->handshake.len);
        p->write_req.data = p;
        p->write_busy = true;
        rv = uv_write(&p->write_req, &p->s.stream, &b, 1, peerHandshakeDone);
        p->write_busy = rv == 0;
        rv = rv == 0 ? 0 : ERR_IO;
    }
    if (rv != 0) {
        if (!owned) {
            close(fd); /* uv_close only closes a descriptor it owns */
        }
        peerBroken(p, "cannot open stream");
    }
    return 0;
}

/* Thread pool: the connect function may block (up to seconds). */
static void peerDialWork(uv_work_t *work)
{
    struct peer *p = work->data;
    raftio_connect_fn fn = p->t->o.connect_fn;
    p->dial_fd = -1;
    p->dial_rv = fn(p->t->o.connect_arg, p->dial_address, &p->dial_fd);
}

static void peerDialDone(uv_work_t *work, int status)
{
    struct peer *p = work->data;
    struct raftio_transport *t = p->t;
    p->dialing = false;
    bool ok = status == 0 && p->dial_rv == 0 && p->dial_fd >= 0;
    if (t->closing) {
        if (ok) {
            close(p->dial_fd);
        }
    } else if (!ok || peerStart(p, p->dial_fd) != 0) {
        if (ok) {
            close(p->dial_fd);
        }
        transportNote(t, RAFTIO_LOG_INFO,
                      "transport: cannot reach peer %llu at %s",
                      (unsigned long long)p->id, p->dial_address);
        peerBackoff(p);
    }
    transportRelease(t);
    peerMaybeFree(p);
}

static void peerDial(struct peer *p)
{
    PRE(p->state == PEER_IDLE && !p->dialing);
    p->state = PEER_DIALING;
    p->dialing = true;
    p->t->stats.dials++;
    strcpy(p->dial_address, p->address);
    p->work.data = p;
    p->t->pending++;
    int rv = uv_queue_work(p->t->loop, &p->work, peerDialWork, peerDialDone);
    ASSERT(rv == 0);
}

static struct peer *peerFind(const struct raftio_transport *t, uint64_t id)
{
    struct queue *q;
    QUEUE_FOREACH(q, &t->peers)
    {
        struct peer *p = QUEUE_DATA(q, struct peer, link);
        if (p->id == id) {
            return p;
        }
    }
    return NULL;
}

static int peerCreate(struct raftio_transport *t, uint64_t id,
                      struct peer **out)
{
    struct raftio_handshake hs = {.node_id = t->o.node_id};
    struct peer *p = libCalloc(1, sizeof *p);
    if (p == NULL) {
        return ERR_NOMEM;
    }
    strcpy(hs.address, t->address);
    strcpy(hs.cluster, t->cluster);
    bufInit(&p->handshake);
    if (frameEncodeHandshake(&p->handshake, &hs) != 0) {
        libFree(p);
        return ERR_NOMEM;
    }
    p->t = t;
    p->id = id;
    p->state = PEER_IDLE;
    p->backoff_ms = t->o.backoff_min_ms;
    queueInit(&p->queue);
    queueInit(&p->writing);
    uv_timer_init(t->loop, &p->timer);
    p->timer.data = p;
    p->timer_open = true;
    t->pending++;
    queueInsertTail(&t->peers, &p->link);
    *out = p;
    return 0;
}

/* Encodes `m` as one frame item, sharing its large payloads. */
static int itemEncode(const struct raft_message *m, struct frame_item **out)
{
    struct frame_item *item = libMalloc(sizeof *item);
    uint32_t crc = 0;
    if (item == NULL) {
        return ERR_NOMEM;
    }
    int rv = raftMessageEncodeShared(m, &item->body);
    if (rv != 0) {
        libFree(item);
        return rv;
    }
    item->len = item->body.len;
    ASSERT(item->len <= FRAME_BODY_MAX);
    for (unsigned i = 0; i < item->body.n_pieces; i++) {
        const struct raft_piece *piece = &item->body.pieces[i];
        crc = crc32c(crc, piece->data, piece->len);
    }
    bytePut32(item->header, (uint32_t)item->len);
    bytePut32(item->header + 4, crc);
    *out = item;
    return 0;
}

int raftioTransportSend(struct raftio_transport *t, uint64_t to,
                        const char *address, const struct raft_message *m)
{
    struct frame_item *item;
    struct peer *p = peerFind(t, to);
    if (t->closing) {
        return ERR_SHUTDOWN;
    }
    if (strlen(address) > FRAME_TEXT_MAX) {
        return ERR_INVALID;
    }
    if (t->no_dial && (p == NULL || p->state != PEER_CONNECTED)) {
        t->stats.dropped++;
        return ERR_UNREACHABLE;
    }
    if (p == NULL && peerCreate(t, to, &p) != 0) {
        return ERR_NOMEM;
    }
    strcpy(p->address, address); /* a changed address is used next dial */
    int rv = itemEncode(m, &item);
    if (rv != 0) {
        return rv;
    }
    if (p->n_queued >= t->o.queue_max_msgs ||
        p->queued_bytes + item->len > t->o.queue_max_bytes) {
        itemFree(item);
        t->stats.dropped++;
        return ERR_SENDQ_FULL;
    }
    queueInsertTail(&p->queue, &item->link);
    p->n_queued++;
    p->queued_bytes += item->len;
    if (p->state == PEER_IDLE) {
        peerDial(p);
    } else {
        peerFlush(p);
    }
    return 0;
}

int raftioTransportInit(struct raftio_transport *t, uv_loop_t *loop,
                        const struct raftio_transport_options *opts)
{
    PRE(opts->node_id > 0 && opts->recv_cb != NULL);
    if (strlen(opts->address) > FRAME_TEXT_MAX ||
        (opts->cluster != NULL && strlen(opts->cluster) > FRAME_TEXT_MAX)) {
        return ERR_INVALID;
    }
    memset(t, 0, sizeof *t);
    t->loop = loop;
    t->o = *opts;
    strcpy(t->address, opts->address);
    strcpy(t->cluster, opts->cluster != NULL ? opts->cluster : "");
    t->o.connect_fn = opts->connect_fn != NULL ? opts->connect_fn : raftioDial;
    t->o.queue_max_msgs = opts->queue_max_msgs ? opts->queue_max_msgs : 1024;
    t->o.queue_max_bytes =
        opts->queue_max_bytes ? opts->queue_max_bytes : (size_t)64 << 20;
    t->o.backoff_min_ms = opts->backoff_min_ms ? opts->backoff_min_ms : 50;
    t->o.backoff_max_ms = opts->backoff_max_ms ? opts->backoff_max_ms : 1000;
    queueInit(&t->peers);
    queueInit(&t->inbound);
    return 0;
}

/* Drops the messages waiting for the peer's stream (not the write in
 * flight). */
static void peerDropQueued(struct peer *p)
{
    itemsFree(&p->queue);
    p->n_queued = 0;
    p->queued_bytes = 0;
}

void raftioTransportStopDialling(struct raftio_transport *t)
{
    struct queue *q;
    t->no_dial = true;
    QUEUE_FOREACH(q, &t->peers)
    {
        struct peer *p = QUEUE_DATA(q, struct peer, link);
        if (p->state != PEER_CONNECTED) { /* nothing will carry them */
            peerDropQueued(p);
        }
    }
}

bool raftioTransportConnected(const struct raftio_transport *t, uint64_t id)
{
    const struct peer *p = peerFind(t, id);
    return p != NULL && p->state == PEER_CONNECTED;
}

static void peerClose(struct peer *p)
{
    peerDropQueued(p);
    if (p->timer_open) {
        uv_close((uv_handle_t *)&p->timer, peerTimerClosed);
    }
    if (p->stream_open && !uv_is_closing(&p->s.handle)) {
        p->state = PEER_BACKOFF; /* a cancelled write must not close it again */
        uv_close(&p->s.handle, peerStreamClosed);
    }
    if (p->dialing) {
        uv_cancel((uv_req_t *)&p->work); /* fails harmlessly if running */
    }
}

void raftioTransportClose(struct raftio_transport *t,
                          void (*close_cb)(struct raftio_transport *t))
{
    PRE(!t->closing);
    struct queue *q, *tmp;
    t->closing = true;
    t->close_cb = close_cb;
    transportCloseInbound(t);
    QUEUE_FOREACH_SAFE(q, tmp, &t->peers)
    {
        peerClose(QUEUE_DATA(q, struct peer, link));
    }
    transportMaybeDone(t);
}
