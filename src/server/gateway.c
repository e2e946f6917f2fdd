/*
 * The gateway's dispatch and the requests answered on the loop: LEADER,
 * CLIENT, HEARTBEAT and unknown types, INTERRUPT, CLUSTER, DESCRIBE,
 * WEIGHT, and the membership requests (gateway_sql.c has the SQL ones,
 * gateway_backup.c the extension BACKUP).
 *
 * Every request ends with exactly one response (ROWS streams end with one
 * DONE batch or a FAILURE), written before the next request is taken.
 * Malformed bodies that the protocol allows to answer get FAILURE 1005;
 * others close the connection (protocol.md §7.2).
 */
#include "server/gateway.h"

#include <stdio.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "proto/load.h"
#include "proto/response.h"
#include "server/conn.h"
#include "server/gateway_internal.h"
#include "server/node.h"

void gatewayInit(struct gateway *g, struct conn *conn)
{
    memset(g, 0, sizeof *g);
    g->conn = conn;
    g->db_closed = true;
    bufInit(&g->body);
    bufInit(&g->out);
    bufInit(&g->frames);
    queueInit(&g->busy_link);
    queueInit(&g->group_link);
    queueInit(&g->wait.link);
    sqlGuardInit(&g->guard);
}

struct dqlite_node *gatewayNode(const struct gateway *g)
{
    return g->conn->node;
}

bool gatewayIdle(const struct gateway *g)
{
    return g->stage == GATEWAY_IDLE && !g->closing;
}

/* ------------------------------------------------------------ responses */

static void gatewayOnWritten(struct conn *c, int status)
{
    struct gateway *g = &c->gateway;
    (void)status;
    if (g->stage == GATEWAY_WRITING) {
        g->stage = GATEWAY_IDLE;
        connRequestDone(c);
    }
}

void gatewayWrite(struct gateway *g, conn_written_cb on_written)
{
    g->stage = GATEWAY_WRITING;
    if (connWrite(g->conn, &g->out, on_written) != 0) {
        connClose(g->conn);
    }
}

void gatewayFinish(struct gateway *g)
{
    gatewayWrite(g, gatewayOnWritten);
}

/* Encodes `resp` into g->out for this connection's protocol version. */
static int gatewayEncode(struct gateway *g, const struct proto_response *resp)
{
    struct proto_expect expect = {g->version == PROTO_VERSION_LEGACY, 1};
    bufReset(&g->out);
    if (resp->type == PROTO_RESP_SERVERS) {
        expect.cluster_format = resp->servers.format;
    }
    return protoResponseEncode(resp, &expect, &g->out);
}

void gatewayRespond(struct gateway *g, const struct proto_response *resp)
{
    if (gatewayEncode(g, resp) != 0) {
        connClose(g->conn);
        return;
    }
    gatewayFinish(g);
}

static void gatewayFailureInit(struct proto_response *resp, uint64_t code,
                               const char *message)
{
    protoResponseInit(resp, PROTO_RESP_FAILURE);
    resp->failure.code = code;
    resp->failure.message = protoText(message);
}

void gatewayFailure(struct gateway *g, uint64_t code, const char *message)
{
    struct proto_response resp;
    metricsRequestFailed(&g->conn->node->metrics, g->db_name, g->req.type);
    gatewayFailureInit(&resp, code, message);
    gatewayRespond(g, &resp);
}

void gatewayEmpty(struct gateway *g)
{
    struct proto_response resp;
    protoResponseInit(&resp, PROTO_RESP_EMPTY);
    gatewayRespond(g, &resp);
}

static void gatewayOnRefused(struct conn *c, int status)
{
    (void)status;
    connClose(c);
}

void gatewayRefuse(struct gateway *g, uint64_t code, const char *message)
{
    struct proto_response resp;
    gatewayFailureInit(&resp, code, message);
    if (gatewayEncode(g, &resp) != 0) {
        connClose(g->conn);
        return;
    }
    gatewayWrite(g, gatewayOnRefused);
}

_Static_assert(RAFT_ENTRY_MAX_BYTES == (64u << 20),
               "gatewayFailErr's message names the entry limit");

/* Failures for the internal codes the replica and raft give. */
void gatewayFailErr(struct gateway *g, int rv)
{
    switch (rv) {
    case ERR_NOTLEADER:
    case ERR_SHUTDOWN:
        gatewayFailure(g, GATEWAY_ERR_NOT_LEADER, "not leader");
        break;
    case ERR_LEADERSHIP_LOST:
        gatewayFailure(g, GATEWAY_ERR_LEADERSHIP_LOST, "leadership lost");
        break;
    case ERR_CONFIG_BUSY:
        gatewayFailure(g, SQLITE_BUSY, errString(rv));
        break;
    case ERR_NOSPACE: /* refused before anything was proposed */
        gatewayFailure(g, SQLITE_FULL,
                       "disk full on the leader: request refused, nothing "
                       "was applied");
        break;
    case ERR_NOSPACE_UNKNOWN:
        gatewayFailure(g, SQLITE_FULL,
                       "disk full on the leader: its raft log cannot be "
                       "made durable, so this write is not acknowledged; "
                       "it was sent to the other nodes and may still be "
                       "applied");
        break;
    case ERR_TOOBIG:
        if (g->req.type != PROTO_REQ_EXEC &&
            g->req.type != PROTO_REQ_EXEC_SQL &&
            g->req.type != PROTO_REQ_QUERY &&
            g->req.type != PROTO_REQ_QUERY_SQL) {
            gatewayFailure(g, SQLITE_ERROR, errString(rv));
            break;
        }
        char msg[GATEWAY_TOOBIG_MESSAGE_SIZE];
        gatewayTooBigMessage(msg, sizeof msg);
        gatewayFailure(g, SQLITE_TOOBIG, msg);
        break;
    default:
        gatewayFailure(g, SQLITE_ERROR, errString(rv));
        break;
    }
}

/* ------------------------------------------------------------ cluster */

/* This node's role in the configuration in effect (-1 when absent). */
static int gatewayOwnRole(const struct dqlite_node *n)
{
    const struct raft_server *s =
        raftConfGet(raftConfiguration(n->replica.raft), n->id);
    return s != NULL ? s->role : -1;
}

static void gatewayLeader(struct gateway *g)
{
    struct dqlite_node *n = gatewayNode(g);
    struct proto_response resp;
    uint64_t leader = raftLeader(n->replica.raft);
    const struct raft_server *s =
        raftConfGet(raftConfiguration(n->replica.raft), leader);
    protoResponseInit(&resp, PROTO_RESP_SERVER);
    resp.server.address = protoText("");
    /* Only voters report a leader; legacy clients always get one. */
    if (s != NULL && !n->replica.failed &&
        (gatewayOwnRole(n) == RAFT_VOTER ||
         g->version == PROTO_VERSION_LEGACY)) {
        resp.server.id = s->id;
        resp.server.address = protoText(s->address);
    }
    gatewayRespond(g, &resp);
}

static void gatewayCluster(struct gateway *g)
{
    struct dqlite_node *n = gatewayNode(g);
    const struct raft_configuration *conf = raftConfiguration(n->replica.raft);
    uint64_t format = g->req.cluster.format;
    if (format > 1) {
        gatewayFailure(g, GATEWAY_ERR_PARSE, "unrecognized cluster format");
        return;
    }
    struct proto_node *nodes = libCalloc(conf->n + 1, sizeof *nodes);
    if (nodes == NULL) {
        gatewayFailure(g, SQLITE_NOMEM, "out of memory");
        return;
    }
    for (unsigned i = 0; i < conf->n; i++) {
        nodes[i].id = conf->servers[i].id;
        nodes[i].address = protoText(conf->servers[i].address);
        nodes[i].role = (uint64_t)conf->servers[i].role;
    }
    struct proto_response resp;
    protoResponseInit(&resp, PROTO_RESP_SERVERS);
    resp.servers.count = conf->n;
    resp.servers.format = format;
    resp.servers.nodes = nodes;
    gatewayRespond(g, &resp);
    libFree(nodes);
}

static void gatewayDescribe(struct gateway *g)
{
    struct dqlite_node *n = gatewayNode(g);
    if (g->req.describe.format != 0) {
        gatewayFailure(g, SQLITE_PROTOCOL, "bad format version");
        return;
    }
    struct proto_response resp;
    protoResponseInit(&resp, PROTO_RESP_METADATA);
    resp.metadata.failure_domain = n->failure_domain;
    resp.metadata.weight = n->weight;
    gatewayRespond(g, &resp);
}

static void gatewayWelcome(struct gateway *g)
{
    struct proto_response resp;
    protoResponseInit(&resp, PROTO_RESP_WELCOME);
    resp.welcome.heartbeat_timeout_ms = GATEWAY_WELCOME_HEARTBEAT_MS;
    gatewayRespond(g, &resp);
}

/* ------------------------------------------------------------ dispatch */

static void gatewayDispatch(struct gateway *g)
{
    struct dqlite_node *n = gatewayNode(g);
    switch (g->req.type) {
    case PROTO_REQ_LEADER:
        gatewayLeader(g);
        break;
    case PROTO_REQ_CLIENT:
        gatewayWelcome(g);
        break;
    case PROTO_REQ_CLUSTER:
        gatewayCluster(g);
        break;
    case PROTO_REQ_DESCRIBE:
        gatewayDescribe(g);
        break;
    case PROTO_REQ_WEIGHT:
        n->weight = g->req.weight.weight;
        gatewayEmpty(g);
        break;
    case PROTO_REQ_INTERRUPT:
        gatewayEmpty(g); /* nothing is running between requests */
        break;
    case PROTO_REQ_ADD:
    case PROTO_REQ_ASSIGN:
    case PROTO_REQ_REMOVE:
    case PROTO_REQ_TRANSFER:
        gatewayMembership(g);
        break;
    case PROTO_REQ_CONNECT:
        connClose(g->conn); /* a peer handshake in the middle of a client */
        break;
    case PROTO_REQ_BACKUP:
        gatewayBackup(g);
        break;
    default:
        gatewaySql(g);
        break;
    }
}

void gatewayHandle(struct gateway *g, const struct proto_frame *frame)
{
    PRE(gatewayIdle(g));
    g->version = g->conn->reader.version;
    bufReset(&g->body);
    if (bufAppend(&g->body, frame->body, frame->len) != 0) {
        connClose(g->conn);
        return;
    }
    g->stage = GATEWAY_RUNNING; /* until a response is queued */
    sqlGuardClear(&g->guard);   /* an INTERRUPT stopped the previous one */
    if (protoLoadIsRequest(frame->header.type)) {
        gatewayLoad(g, frame->header.type); /* an extension's own codec */
        return;
    }
    int rv =
        protoRequestDecode(&frame->header, g->body.data, g->body.len, &g->req);
    if (rv == ERR_PROTO_TYPE || frame->header.type == PROTO_REQ_HEARTBEAT) {
        gatewayFailure(g, GATEWAY_ERR_PARSE, "unrecognized request type");
    } else if (rv == ERR_PROTO_SCHEMA) {
        gatewayFailure(g, GATEWAY_ERR_PARSE, "unrecognized schema version");
    } else if (rv != 0 && protoErrAnswerable(rv)) {
        gatewayFailure(g, GATEWAY_ERR_PARSE, errString(rv));
    } else if (rv != 0) {
        g->stage = GATEWAY_IDLE;
        connClose(g->conn);
    } else {
        gatewayDispatch(g);
    }
}

/* Whether the next complete frame buffered in `reader` is an INTERRUPT. */
static bool gatewayInterruptBuffered(const struct proto_reader *reader)
{
    struct proto_header h;
    size_t start = reader->pos + reader->pending;
    if (reader->rv != 0 || reader->buf.len < start + PROTO_HEADER_SIZE) {
        return false;
    }
    protoHeaderGet(reader->buf.data + start, &h);
    return h.type == PROTO_REQ_INTERRUPT && h.words != 0 &&
           reader->buf.len - start - PROTO_HEADER_SIZE >=
               (uint64_t)h.words * PROTO_WORD;
}

/* Whether the request in progress runs statements INTERRUPT may stop. */
static bool gatewayRunsStatements(const struct gateway *g)
{
    switch (g->req.type) {
    case PROTO_REQ_EXEC:
    case PROTO_REQ_EXEC_SQL:
    case PROTO_REQ_QUERY:
    case PROTO_REQ_QUERY_SQL:
        return true;
    default:
        return false;
    }
}

void gatewayOnInput(struct gateway *g, const struct proto_reader *reader)
{
    if (g->stage == GATEWAY_IDLE || g->closing || !gatewayRunsStatements(g) ||
        !gatewayInterruptBuffered(reader)) {
        return;
    }
    sqlGuardRequest(&g->guard, SQL_STOP_INTERRUPT);
}

bool gatewayPeekInterrupt(struct gateway *g, struct proto_reader *reader)
{
    (void)g;
    if (!gatewayInterruptBuffered(reader)) {
        return false;
    }
    struct proto_frame f;
    int rv = protoReaderNext(reader, &f);
    ASSERT(rv == 0 && f.header.type == PROTO_REQ_INTERRUPT);
    return true;
}

/* ------------------------------------------------------------ closing */

void gatewayClose(struct gateway *g)
{
    if (g->closing) {
        return;
    }
    g->closing = true;
    sqlGuardRequest(&g->guard, SQL_STOP_CLOSED); /* nobody awaits it */
    queueRemove(&g->busy_link);
    gatewaySqlClose(g);
}

bool gatewayClosed(const struct gateway *g)
{
    return g->closing && g->db_closed && g->stage != GATEWAY_RUNNING &&
           !g->wait_out && g->group == NULL;
}

void gatewayFreeBuffers(struct gateway *g)
{
    gatewayLoadFree(g);
    bufFree(&g->body);
    bufFree(&g->out);
    bufFree(&g->frames);
    gatewayBackupFree(g);
    libFree(g->errmsg);
    g->errmsg = NULL;
    libFree(g->db_name);
    g->db_name = NULL;
}
