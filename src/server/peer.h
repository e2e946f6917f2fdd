/*
 * Raft traffic between nodes: accepting peer streams (a CONNECT request on
 * the shared listening socket) and sending raft messages to peers.
 */
#ifndef SERVER_PEER_H
#define SERVER_PEER_H

#include <uv.h>

#include "proto/reader.h"
#include "raft/raft.h"

struct dqlite_node;

/* Takes over `stream` (owned from now on), whose first request was the
 * CONNECT `frame`; `reader` still holds what arrived after it (borrowed for
 * the call). */
void peerAccept(struct dqlite_node *node, uv_stream_t *stream,
                const struct proto_frame *frame, struct proto_reader *reader);

/* Sends `m` (borrowed for the call) to node `to` at `address`. */
void peerSend(void *node, uint64_t to, const char *address,
              const struct raft_message *m);

#endif /* SERVER_PEER_H */
