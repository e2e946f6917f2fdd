/*
 * Membership requests: ADD (as a spare), ASSIGN (a role; a promotion to
 * voter first catches the node up), REMOVE, and TRANSFER of leadership.
 * Each is answered once its effect is committed and applied here (TRANSFER:
 * once this node is no longer leader), with the reference's messages for
 * the usual mistakes (protocol.md §5.12-5.17).
 */
#include <string.h>

#include "lib/err.h"
#include "server/gateway_internal.h"
#include "server/node.h"

/* How long a promotion may take to catch the node up. */
#define GATEWAY_ROLE_TIMEOUT_MS 60000

static void memberOnDone(struct replica_wait *w, int status)
{
    struct gateway *g = GATEWAY_OF(w, wait);
    g->wait_out = false;
    if (g->closing) {
        gatewayCloseDb(g);
    } else if (status == ERR_TIMEOUT && g->req.type == PROTO_REQ_TRANSFER) {
        gatewayFailure(g, SQLITE_ERROR, "leadership transfer failed");
    } else if (status == ERR_TIMEOUT) {
        gatewayFailure(g, SQLITE_ERROR, "node did not catch up in time");
    } else if (status != 0) {
        gatewayFailErr(g, status);
    } else {
        gatewayEmpty(g);
    }
}

/* Raft's refusals, in the words go-dqlite users know. */
static void memberFail(struct gateway *g, int rv)
{
    switch (rv) {
    case ERR_DUPLICATE_NODE:
        gatewayFailure(g, SQLITE_ERROR, "server ID already in use");
        break;
    case ERR_UNKNOWN_NODE:
        gatewayFailure(g, SQLITE_ERROR, "server ID is not valid");
        break;
    case ERR_BAD_ROLE:
        gatewayFailure(g, SQLITE_ERROR, "server role is not valid");
        break;
    default:
        gatewayFailErr(g, rv);
        break;
    }
}

static bool memberAddressUsed(struct raft *raft, struct proto_text address)
{
    const struct raft_configuration *conf = raftConfiguration(raft);
    for (unsigned i = 0; i < conf->n; i++) {
        if (strcmp(conf->servers[i].address, address.data) == 0) {
            return true;
        }
    }
    return false;
}

static int memberAdd(struct gateway *g, struct replica *r)
{
    uint64_t index;
    if (memberAddressUsed(r->raft, g->req.add.address)) {
        gatewayFailure(g, SQLITE_ERROR, "server address already in use");
        return -1;
    }
    int rv =
        raftAddServer(r->raft, g->req.add.id, g->req.add.address.data, &index);
    return rv != 0 ? rv : replicaWaitApplied(r, index, &g->wait);
}

static int memberAssign(struct gateway *g, struct replica *r)
{
    uint64_t index;
    uint64_t role = g->req.assign.has_role ? g->req.assign.role : RAFT_VOTER;
    if (role > RAFT_SPARE) {
        return ERR_BAD_ROLE;
    }
    const struct raft_server *s =
        raftConfGet(raftConfiguration(r->raft), g->req.assign.id);
    if (s != NULL && (uint64_t)s->role == role) {
        return ERR_BAD_ROLE;
    }
    int rv = raftAssignRole(r->raft, g->req.assign.id, (int)role, &index);
    if (rv != 0) {
        return rv;
    }
    uint64_t deadline_ms = uv_now(r->loop) + GATEWAY_ROLE_TIMEOUT_MS;
    return replicaWaitRole(r, g->req.assign.id, (int)role, deadline_ms,
                           &g->wait);
}

static int memberRemove(struct gateway *g, struct replica *r)
{
    uint64_t index;
    int rv = raftRemoveServer(r->raft, g->req.remove.id, &index);
    return rv != 0 ? rv : replicaWaitApplied(r, index, &g->wait);
}

static int memberTransfer(struct gateway *g, struct replica *r)
{
    int rv = raftTransfer(r->raft, g->req.transfer.id);
    return rv != 0 ? rv : replicaWaitTransfer(r, &g->wait);
}

static void memberOnBarrier(struct replica_wait *w, int status)
{
    struct gateway *g = GATEWAY_OF(w, wait);
    struct replica *r = &gatewayNode(g)->replica;
    int rv;
    g->wait_out = false;
    if (g->closing || status != 0) {
        memberOnDone(w, status);
        return;
    }
    g->wait.cb = memberOnDone;
    g->wait_out = true;
    switch (g->req.type) {
    case PROTO_REQ_ADD:
        rv = memberAdd(g, r);
        break;
    case PROTO_REQ_ASSIGN:
        rv = memberAssign(g, r);
        break;
    case PROTO_REQ_REMOVE:
        rv = memberRemove(g, r);
        break;
    default:
        rv = memberTransfer(g, r);
        break;
    }
    if (rv != 0) {
        g->wait_out = false;
        if (rv > 0) {
            memberFail(g, rv);
        }
    }
    replicaProcess(r);
}

/* A change waits for a barrier first: a new leader commits an entry of its
 * term (and with it the configuration it inherited) before it accepts a
 * change, so a client that just transferred leadership is not refused
 * with "configuration change in progress". */
void gatewayMembership(struct gateway *g)
{
    if (gatewayCheckLeader(g)) {
        gatewayAwait(g, memberOnBarrier, replicaBarrier);
    }
}
