/*
 * The fake cluster of tcluster.h.
 */
#include "tcluster.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "lib/assert.h"

int tclusterLeader(struct tcluster *tc)
{
    int leader;
    pthread_mutex_lock(&tc->mutex);
    leader = tc->leader;
    pthread_mutex_unlock(&tc->mutex);
    return leader;
}

void tclusterSetLeader(struct tcluster *tc, int leader)
{
    pthread_mutex_lock(&tc->mutex);
    tc->leader = leader;
    pthread_mutex_unlock(&tc->mutex);
}

const char *tclusterAddress(struct tcluster *tc, int i)
{
    return tc->nodes[i].srv->address;
}

int tclusterCount(struct tcluster *tc, int i, uint8_t type)
{
    return fakeCount(tc->nodes[i].srv, type);
}

static void nodeLeader(struct fake_conn *fc, struct tnode *node)
{
    int leader = tclusterLeader(node->tc);
    if (leader < 0 || node->role != DQLITE_VOTER) {
        fakeSendServer(fc, 0, "");
        return;
    }
    fakeSendServer(fc, node->tc->nodes[leader].id,
                   tclusterAddress(node->tc, leader));
}

static void nodeCluster(struct fake_conn *fc, struct tnode *node)
{
    struct tcluster *tc = node->tc;
    struct proto_node list[TCLUSTER_NODES_MAX];
    struct proto_response r;
    int i;
    for (i = 0; i < tc->n; i++) {
        list[i].id = tc->nodes[i].id;
        list[i].address = protoText(tclusterAddress(tc, i));
        list[i].role = (uint64_t)tc->nodes[i].role;
    }
    protoResponseInit(&r, PROTO_RESP_SERVERS);
    r.servers.count = (uint64_t)tc->n;
    r.servers.format = 1;
    r.servers.nodes = list;
    fakeSend(fc, &r);
}

void tnodeSendIntRows(struct fake_conn *fc, int from, int to, bool done)
{
    struct proto_text name = protoText("n");
    struct proto_value *values =
        calloc((size_t)(to - from) + 1, sizeof *values);
    struct proto_response r;
    int i;
    for (i = from; i < to; i++) {
        values[i - from].type = PROTO_INTEGER;
        values[i - from].integer = i;
    }
    protoResponseInit(&r, PROTO_RESP_ROWS);
    r.rows.n_columns = 1;
    r.rows.n_rows = (uint64_t)(to - from);
    r.rows.done = done;
    r.rows.columns = &name;
    r.rows.values = values;
    fakeSend(fc, &r);
    free(values);
}

static void nodeStmt(struct fake_conn *fc)
{
    struct proto_response r;
    protoResponseInit(&r, PROTO_RESP_STMT);
    r.stmt.db_id = 0;
    r.stmt.stmt_id = 3;
    r.stmt.n_params = 2;
    fakeSend(fc, &r);
}

/* Default answers of the leader. */
static void nodeSql(struct fake_conn *fc, uint8_t type)
{
    struct proto_response r;
    switch (type) {
    case PROTO_REQ_OPEN:
        protoResponseInit(&r, PROTO_RESP_DB);
        fakeSend(fc, &r);
        break;
    case PROTO_REQ_EXEC_SQL:
    case PROTO_REQ_EXEC:
        fakeSendResult(fc, 1, 1);
        break;
    case PROTO_REQ_QUERY_SQL:
    case PROTO_REQ_QUERY:
        tnodeSendIntRows(fc, 0, 1, true);
        break;
    case PROTO_REQ_PREPARE:
        nodeStmt(fc);
        break;
    default:
        fakeSendEmpty(fc);
    }
}

static bool nodeIsLeader(struct tnode *node)
{
    return tclusterLeader(node->tc) == node->index;
}

static void nodeRequest(struct fake_conn *fc, struct tnode *node)
{
    uint8_t type = fc->req.type;
    if (node->tc->hook != NULL && node->tc->hook(fc, node)) {
        return;
    }
    switch (type) {
    case PROTO_REQ_LEADER:
        nodeLeader(fc, node);
        break;
    case PROTO_REQ_CLIENT: {
        struct proto_response r;
        protoResponseInit(&r, PROTO_RESP_WELCOME);
        r.welcome.heartbeat_timeout_ms = 15000;
        fakeSend(fc, &r);
        break;
    }
    case PROTO_REQ_CLUSTER:
        nodeCluster(fc, node);
        break;
    case PROTO_REQ_INTERRUPT:
        fakeSendEmpty(fc);
        break;
    default:
        if (type != PROTO_REQ_OPEN && !nodeIsLeader(node)) {
            fakeSendFailure(fc, 10250, "not leader");
            break;
        }
        nodeSql(fc, type);
    }
}

static void nodeMain(struct fake_conn *fc, void *arg)
{
    struct tnode *node = arg;
    while (fakeRecv(fc) == 0) {
        nodeRequest(fc, node);
    }
}

struct tcluster *tclusterStart(int n,
                               const struct dqlite_driver_options *options)
{
    struct tcluster *tc = calloc(1, sizeof *tc);
    int i;
    PRE(n >= 1 && n <= TCLUSTER_NODES_MAX);
    pthread_mutex_init(&tc->mutex, NULL);
    tc->n = n;
    tc->leader = 0;
    for (i = 0; i < n; i++) {
        tc->nodes[i].tc = tc;
        tc->nodes[i].index = i;
        tc->nodes[i].id = (uint64_t)i + 1;
        tc->nodes[i].role = DQLITE_VOTER;
        tc->nodes[i].srv = fakeStart(nodeMain, &tc->nodes[i]);
    }
    cr_assert_eq(dqlite_server_store_create(&tc->store), 0);
    cr_assert_eq(
        dqlite_server_store_add(tc->store, 1, tclusterAddress(tc, 0), 0), 0);
    cr_assert_eq(dqlite_driver_create(tc->store, options, &tc->driver), 0);
    return tc;
}

void tclusterStop(struct tcluster *tc)
{
    int i;
    for (i = 0; i < tc->n; i++) {
        fakeStop(tc->nodes[i].srv);
    }
    dqlite_driver_destroy(tc->driver);
    dqlite_server_store_close(tc->store);
    pthread_mutex_destroy(&tc->mutex);
    free(tc);
    fakeLeakCheck();
}
