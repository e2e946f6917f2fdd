/*
 * Raft traffic between nodes (see peer.h): the glue between the node's
 * shared listening socket and the transport of src/raftio.
 *
 * A stream whose first request is CONNECT is a peer's: its descriptor is
 * duplicated out of the libuv handle the listener created (the handle is
 * then closed) and adopted by the transport, together with the bytes the
 * client reader had already received after the CONNECT request.
 */
#include "server/peer.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/byte.h"
#include "raftio/frame.h"
#include "raftio/transport.h"
#include "server/node.h"

static void peerOnClosed(uv_handle_t *handle)
{
    libFree(handle);
}

/* Rebuilds the handshake bytes (version word, CONNECT) and decodes them. */
static int peerDecodeHandshake(const struct proto_frame *frame,
                               struct raftio_handshake *hs)
{
    struct buf raw;
    size_t consumed;
    uint8_t head[16];
    bytePut64(head, PROTO_VERSION);
    protoHeaderPut(head + 8, &frame->header);
    bufInit(&raw);
    int rv = bufAppend(&raw, head, sizeof head);
    if (rv == 0) {
        rv = bufAppend(&raw, frame->body, frame->len);
    }
    if (rv == 0) {
        rv = frameDecodeHandshake(raw.data, raw.len, hs, &consumed);
    }
    bufFree(&raw);
    return rv;
}

/* Remembers the address a peer dialled us from. */
static void peerLearn(struct dqlite_node *node, uint64_t id,
                      const char *address)
{
    unsigned i;
    for (i = 0; i < node->n_learned && node->learned[i].id != id; i++) {
    }
    if (i == node->n_learned) {
        if (node->n_learned < NODE_MAX_LEARNED) {
            node->n_learned++;
        } else {
            memmove(&node->learned[0], &node->learned[1],
                    (NODE_MAX_LEARNED - 1) * sizeof node->learned[0]);
            i = NODE_MAX_LEARNED - 1;
        }
    }
    node->learned[i].id = id;
    snprintf(node->learned[i].address, sizeof node->learned[i].address, "%s",
             address);
}

static const char *peerLookup(const struct dqlite_node *node, uint64_t id)
{
    for (unsigned i = 0; i < node->n_learned; i++) {
        if (node->learned[i].id == id) {
            return node->learned[i].address;
        }
    }
    return NULL;
}

void peerAccept(struct dqlite_node *node, uv_stream_t *stream,
                const struct proto_frame *frame, struct proto_reader *reader)
{
    struct raftio_handshake hs;
    uv_os_fd_t fd;
    int copy = -1;
    if (peerDecodeHandshake(frame, &hs) == 0 &&
        uv_fileno((uv_handle_t *)stream, &fd) == 0) {
        copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    }
    uv_close((uv_handle_t *)stream, peerOnClosed);
    if (copy < 0) {
        return;
    }
    peerLearn(node, hs.node_id, hs.address);
    /* What the reader holds past the CONNECT frame belongs to the stream. */
    size_t start = reader->pos + reader->pending;
    const uint8_t *rest = reader->buf.data + start;
    size_t rest_len = reader->buf.len - start;
    raftioTransportAdopt(&node->transport, copy, &hs, rest, rest_len);
}

void peerSend(void *arg, uint64_t to, const char *address,
              const struct raft_message *m)
{
    struct dqlite_node *node = arg;
    if (address == NULL || address[0] == '\0') {
        address = peerLookup(node, to);
        if (address == NULL) {
            return; /* nobody to send to yet: raft will retry */
        }
    }
    if (raftioTransportSend(&node->transport, to, address, m) != 0) {
        raftReportUnreachable(node->replica.raft, to);
    }
}
