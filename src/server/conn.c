/*
 * Client connections (see conn.h): reading, the handshake, and tearing down.
 *
 * The handshake is one little-endian word: protocol version 1 or the legacy
 * pre-1.0 value. Anything else closes the connection without a byte sent,
 * which go-dqlite relies on to fall back to the legacy version. Requests
 * after the handshake are answered by the gateway (not yet part of this
 * tree: until then a connection is closed after its handshake is checked).
 */
#include "server/conn.h"

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "server/node.h"

#define CONN_VERSION_1 1ULL
#define CONN_VERSION_LEGACY 0x86104dd760433fe5ULL

static void connOnClosed(uv_handle_t *handle)
{
    struct conn *c = handle->data;
    bufFree(&c->in);
    libFree(c->stream);
    libFree(c);
}

/* Close callback for a stream that never got a struct conn. */
static void connOnRawClosed(uv_handle_t *handle)
{
    libFree(handle);
}

void connClose(struct conn *c)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    queueRemove(&c->link);
    uv_close((uv_handle_t *)c->stream, connOnClosed);
}

static void connOnAlloc(uv_handle_t *handle, size_t suggested, uv_buf_t *out)
{
    struct conn *c = handle->data;
    (void)suggested;
    out->base = NULL;
    out->len = 0;
    if (bufReserve(&c->in, CONN_READ_CHUNK) == 0) {
        out->base = (char *)c->in.data + c->in.len;
        out->len = CONN_READ_CHUNK;
    }
}

/* Consume the handshake word once it is complete. */
static int connHandshake(struct conn *c)
{
    if (c->version != 0 || c->in.len < 8) {
        return 0;
    }
    uint64_t version = byteGet64(c->in.data);
    if (version != CONN_VERSION_1 && version != CONN_VERSION_LEGACY) {
        return -1;
    }
    c->version = version;
    bufConsume(&c->in, 8);
    return 0;
}

static void connOnRead(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = stream->data;
    (void)buf;
    if (nread < 0) {
        connClose(c);
        return;
    }
    c->in.len += (size_t)nread;
    if (c->in.len > CONN_MAX_BUFFERED || connHandshake(c) != 0 ||
        c->version != 0) {
        connClose(c);
    }
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
    bufInit(&c->in);
    c->in.limit = CONN_MAX_BUFFERED + CONN_READ_CHUNK;
    queueInsertTail(&node->conns, &c->link);
    if (uv_read_start(stream, connOnAlloc, connOnRead) != 0) {
        connClose(c);
    }
}
