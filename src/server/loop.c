/*
 * The node's thread: start and stop hand-shakes with the host thread, the
 * libuv loop, the listener and accepting connections.
 *
 * dqlite_node_start() spawns the thread and waits until the loop accepts (or
 * failed to); dqlite_node_stop() wakes the loop through an async handle, the
 * loop closes every handle it owns, and the host joins the thread. After
 * stop the listening address is free again at once.
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "server/conn.h"
#include "server/datadir.h"
#include "server/gateway.h"
#include "server/node.h"
#include "server/peer.h"
#include "server/tls.h"

static uv_stream_t *loopListener(struct dqlite_node *n)
{
    return (uv_stream_t *)&n->listener;
}

/* Abstract sockets have no permissions: only our own process may use them. */
static bool loopPeerAllowed(uv_stream_t *client)
{
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (client->type != UV_NAMED_PIPE) {
        return true;
    }
    if (uv_fileno((uv_handle_t *)client, &fd) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        return false;
    }
    return cred.pid == getpid();
}

static void loopFreeHandle(uv_handle_t *handle)
{
    libFree(handle);
}

/* Client connections RLIMIT_NOFILE leaves room for, NODE_FD_RESERVE
 * descriptors kept for the node itself. */
static unsigned loopFdBudget(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
        return NODE_MAX_CONNS;
    }
    uint64_t cur = rl.rlim_cur;
    uint64_t budget =
        cur > 2 * NODE_FD_RESERVE ? cur - NODE_FD_RESERVE : cur / 2;
    return budget < NODE_MAX_CONNS ? (unsigned)budget : NODE_MAX_CONNS;
}

/* A client connection could not be served (`why`); said at once, then at
 * most once per NODE_REFUSED_LOG_MS with the number refused meanwhile. */
static void loopRefused(struct dqlite_node *n, const char *why)
{
    uint64_t now_ms = uv_now(&n->loop);
    n->refused_unsaid++;
    if (n->refused_said && now_ms - n->refused_said_ms < NODE_REFUSED_LOG_MS) {
        return;
    }
    struct rlimit rl = {0, 0};
    getrlimit(RLIMIT_NOFILE, &rl);
    nodeLogf(n, DQLITE_LOG_WARN,
             "refused %u client connection(s) since the last report: %s "
             "(%u client connections open, at most %u with RLIMIT_NOFILE "
             "%llu; reported at most every %d s)",
             n->refused_unsaid, why, n->n_conns, n->fd_budget,
             (unsigned long long)rl.rlim_cur, NODE_REFUSED_LOG_MS / 1000);
    n->refused_said = true;
    n->refused_said_ms = now_ms;
    n->refused_unsaid = 0;
}

static void loopOnConnection(uv_stream_t *listener, int status)
{
    struct dqlite_node *n = listener->data;
    uv_stream_t *client;
    if (status != 0) {
        /* EMFILE/ENFILE: libuv accepted and closed what was pending with
         * its spare descriptor, so the listener does not spin. */
        loopRefused(n, uv_strerror(status));
        return;
    }
    client = libMalloc(listener->type == UV_TCP ? sizeof(uv_tcp_t)
                                                : sizeof(uv_pipe_t));
    if (client == NULL) {
        return;
    }
    if (listener->type == UV_TCP) {
        uv_tcp_init(&n->loop, (uv_tcp_t *)client);
        uv_tcp_nodelay((uv_tcp_t *)client, 1);
    } else {
        uv_pipe_init(&n->loop, (uv_pipe_t *)client, 0);
    }
    if (uv_accept(listener, client) != 0 || !loopPeerAllowed(client)) {
        uv_close((uv_handle_t *)client, loopFreeHandle);
        return;
    }
    if (n->n_conns + 2 * tlsLinks(n) >= n->fd_budget) {
        loopRefused(n, "no file descriptor left for another connection");
        uv_close((uv_handle_t *)client, loopFreeHandle);
        return;
    }
    if (tlsEnabled(n)) {
        tlsAccept(n, client); /* the TLS link owns `client` from here */
        return;
    }
    connStartAs(n, client, TLS_ROLE_NONE, NULL); /* the connection owns it */
}

/* connClose takes the connection off the list; closing one may close
 * others (a rollback wakes parked writers), so take the head each time. */
static void loopCloseConns(struct dqlite_node *n)
{
    while (!queueEmpty(&n->conns)) {
        connClose(QUEUE_DATA(queueHead(&n->conns), struct conn, link));
    }
}

static void loopOnTransportClosed(struct raftio_transport *t)
{
    struct dqlite_node *n = t->data;
    workerStop(&n->worker);
    uv_close((uv_handle_t *)&n->stop_async, NULL);
}

static void loopOnReplicaClosed(struct replica *r)
{
    struct dqlite_node *n = r->cb_arg;
    raftioTransportClose(&n->transport, loopOnTransportClosed);
}

/* Stop: clients first (their gateways finish on the db thread), then the
 * replica (log writer, timers), the transport, and the db thread last. */
static void loopShutdown(struct dqlite_node *n)
{
    if (n->shutting_down) {
        return; /* a second path to the end: the handles are closing */
    }
    n->shutting_down = true;
    loopCloseConns(n);
    tlsLoopClose(n);
    uv_close((uv_handle_t *)loopListener(n), NULL);
    uv_close((uv_handle_t *)&n->parked_timer, NULL);
    uv_close((uv_handle_t *)&n->handover_timer, NULL);
    nodeWatchdogClose(n);
    connSweepClose(n);
    rolesClose(n);
    membershipClose(n);
    nodeMetricsClose(n);
    replicaClose(&n->replica, loopOnReplicaClosed);
}

/* Voters considered for a hand-over (a cluster has a handful). */
#define LOOP_HANDOVER_MAX_PEERS 64

/* After the hand-over: automatic roles may first hand this voter's vote
 * to a stand-by (roles_stop.c), then the shutdown. */
static void loopStopAfterHandOver(struct dqlite_node *n)
{
    if (!rolesHandOff(n, loopShutdown)) {
        loopShutdown(n);
    }
}

static void loopOnHandoverOver(uv_timer_t *timer)
{
    loopStopAfterHandOver(timer->data);
}

/* Called from inside the replica: shut down from a fresh loop turn. */
static void loopOnHandoverDone(struct replica_wait *w, int status)
{
    struct dqlite_node *n = QUEUE_DATA(w, struct dqlite_node, handover);
    nodeLogf(n, DQLITE_LOG_INFO, "leadership hand-over before stop: %s",
             status == 0 ? "done" : "gave up");
    if (!n->shutting_down) { /* the timer is closed once shutdown ran */
        uv_timer_start(&n->handover_timer, loopOnHandoverOver, 0, 0);
    }
}

/* Every heartbeat of the hand-over: give up at the deadline, or as soon as
 * the stream to the target is down (it is stopping too, or unreachable:
 * waiting for it would only delay our own stop). */
static void loopOnHandoverTick(uv_timer_t *timer)
{
    struct dqlite_node *n = timer->data;
    if (uv_now(&n->loop) < n->handover_deadline_ms &&
        raftioTransportConnected(&n->transport, n->handover_target)) {
        return;
    }
    uv_timer_stop(timer);
    replicaCancel(&n->handover);
    loopOnHandoverDone(&n->handover, ERR_TIMEOUT);
}

/* The most up-to-date voter we are connected to right now, or 0: a peer
 * whose stream is down (stopped, crashed, unreachable) is not waited for. */
uint64_t nodeHandOverTarget(struct dqlite_node *n)
{
    const struct raft_configuration *conf = raftConfiguration(n->replica.raft);
    uint64_t ids[LOOP_HANDOVER_MAX_PEERS];
    unsigned n_ids = 0;
    for (unsigned i = 0; i < conf->n && n_ids < LOOP_HANDOVER_MAX_PEERS; i++) {
        uint64_t id = conf->servers[i].id;
        if (id != n->id && raftioTransportConnected(&n->transport, id)) {
            ids[n_ids++] = id;
        }
    }
    return raftTransferPickFrom(n->replica.raft, ids, n_ids);
}

/* A leader with other voters hands leadership over before it stops, so
 * the cluster does not wait an election timeout for a new one. */
static bool loopHandOver(struct dqlite_node *n)
{
    struct replica *r = &n->replica;
    unsigned heartbeat_ms, election_ms;
    uint64_t target;
    /* With fewer than 3 voters the rest cannot elect anyone without us: a
     * hand-over would leave a leader without a quorum. */
    if (!replicaIsLeader(r) || raftConfVoters(raftConfiguration(r->raft)) < 3 ||
        (target = nodeHandOverTarget(n)) == 0 ||
        raftTransfer(r->raft, target) != 0) {
        return false;
    }
    n->handover.cb = loopOnHandoverDone;
    if (replicaWaitTransfer(r, &n->handover) != 0) {
        return false;
    }
    /* The timeout first: processing may end the hand-over at once, and its
     * end restarts the timer for the shutdown. */
    nodeTimeouts(n, &heartbeat_ms, &election_ms);
    n->handover_target = target;
    n->handover_deadline_ms = uv_now(&n->loop) + 2 * election_ms;
    uv_timer_start(&n->handover_timer, loopOnHandoverTick, heartbeat_ms,
                   heartbeat_ms);
    replicaProcess(r);
    return true;
}

/* A stopping node only uses the streams that are up: peers that stopped
 * before it are not dialled again (an embedder's connect function may
 * not expect calls for a peer it closed). */
/* A stopping node runs no statement to its end: each running one is
 * interrupted at once, not when its connection closes after the
 * hand-over. */
static void loopInterruptStatements(struct dqlite_node *n)
{
    struct queue *q;
    QUEUE_FOREACH(q, &n->conns)
    {
        struct conn *c = QUEUE_DATA(q, struct conn, link);
        sqlGuardRequest(&c->gateway.guard, SQL_STOP_CLOSED);
    }
}

static void loopOnStop(uv_async_t *async)
{
    struct dqlite_node *n = async->data;
    raftioTransportStopDialling(&n->transport);
    loopInterruptStatements(n);
    if (!loopHandOver(n)) {
        loopStopAfterHandOver(n);
    }
}

static int loopOpenListener(struct dqlite_node *n)
{
    int rv;
    int is_tcp = n->bind_address[0] != '@';
    if (is_tcp) {
        uv_tcp_init(&n->loop, &n->listener.tcp);
        rv = uv_tcp_open(&n->listener.tcp, n->listen_fd);
    } else {
        uv_pipe_init(&n->loop, &n->listener.pipe, 0);
        rv = uv_pipe_open(&n->listener.pipe, n->listen_fd);
    }
    loopListener(n)->data = n;
    n->fd_budget = loopFdBudget();
    if (n->fd_budget < NODE_MAX_CONNS) {
        nodeLogf(n, DQLITE_LOG_INFO,
                 "RLIMIT_NOFILE allows %u client connections (%d "
                 "descriptors kept for the node)",
                 n->fd_budget, NODE_FD_RESERVE);
    }
    if (rv == 0) {
        n->listen_fd = -1; /* the handle owns the descriptor now */
        rv = uv_listen(loopListener(n), 128, loopOnConnection);
    }
    if (rv != 0) {
        nodeErrorf(n, "listen on %s: %s", n->bind_address, uv_strerror(rv));
        uv_close((uv_handle_t *)loopListener(n), NULL);
        return DQLITE_ERROR;
    }
    return 0;
}

static void loopSignalReady(struct dqlite_node *n, int rv)
{
    pthread_mutex_lock(&n->lock);
    n->start_rv = rv;
    n->loop_ready = true;
    pthread_cond_signal(&n->cond);
    pthread_mutex_unlock(&n->lock);
}

static void loopOnPeerMessage(struct raftio_transport *t,
                              const struct raft_message *m)
{
    struct dqlite_node *n = t->data;
    replicaReceive(&n->replica, m);
}

static int loopOpenTransport(struct dqlite_node *n)
{
    struct raftio_transport_options o = {0};
    o.node_id = n->id;
    o.address = n->address;
    o.cluster = "";
    o.connect_fn = n->connect_fn;
    o.connect_arg = n->connect_arg;
    if (tlsEnabled(n)) {
        o.connect_fn = tlsDial; /* dials with n->connect_fn, adds TLS */
        o.connect_arg = n;
    }
    o.recv_cb = loopOnPeerMessage;
    /* Re-dial a lost peer after 500 ms at first: an election takes longer
     * anyway, and a stopping cluster is not hammered with dials. */
    o.backoff_min_ms = 500;
    int rv = raftioTransportInit(&n->transport, &n->loop, &o);
    if (rv != 0) {
        nodeErrorf(n, "peer transport: %s", errString(rv));
        return DQLITE_ERROR;
    }
    n->transport.data = n;
    return 0;
}

static void loopOnParkedTimer(uv_timer_t *timer)
{
    gatewayParkedTick(timer->data);
}

void nodeParkedChanged(struct dqlite_node *n)
{
    if (n->shutting_down) {
        return; /* the timer is closed: parked writers end with their conns */
    }
    if (queueEmpty(&n->parked)) {
        uv_timer_stop(&n->parked_timer);
    } else if (!uv_is_active((uv_handle_t *)&n->parked_timer)) {
        uv_timer_start(&n->parked_timer, loopOnParkedTimer, 5, 5);
    }
}

static void loopOnState(void *arg, int state, uint64_t leader_id)
{
    struct dqlite_node *n = arg;
    int old_state = n->last_state;
    n->last_state = state;
    nodeLogState(n, old_state, state, leader_id);
    if (n->watch_fn != NULL) {
        n->watch_fn(n->watch_arg, old_state, state, leader_id);
    }
}

static int loopStartServices(struct dqlite_node *n)
{
    int rv = workerStart(&n->worker, &n->loop);
    if (rv != 0) {
        nodeErrorf(n, "cannot start the db thread");
        return DQLITE_ERROR;
    }
    rv = tlsLoopStart(n);
    if (rv != 0) {
        nodeErrorf(n, "TLS: cannot start");
    } else {
        rv = loopOpenTransport(n);
    }
    if (rv == 0) {
        rv = replicaStart(&n->replica, &n->loop, &n->worker, peerSend,
                          loopOnState, n);
        if (rv != 0) {
            nodeErrorf(n, "raft: %s", errString(rv));
            rv = DQLITE_ERROR;
        }
    }
    uv_timer_init(&n->loop, &n->parked_timer);
    n->parked_timer.data = n;
    uv_timer_init(&n->loop, &n->handover_timer);
    n->handover_timer.data = n;
    nodeWatchdogStart(n);
    connSweepStart(n);
    rolesStart(n);
    membershipStart(n);
    nodeMetricsStart(n);
    return rv;
}

void *nodeThreadMain(void *arg)
{
    struct dqlite_node *n = arg;
    int rv = loopOpenListener(n);
    if (rv == 0) {
        rv = loopStartServices(n);
    }
    if (rv == 0) {
        uv_async_init(&n->loop, &n->stop_async, loopOnStop);
        n->stop_async.data = n;
    }
    loopSignalReady(n, rv);
    if (rv == 0) {
        uv_run(&n->loop, UV_RUN_DEFAULT);
    }
    return NULL;
}

static void loopLog(void *arg, int level, const char *message)
{
    nodeLogf(arg, level, "%s", message);
}

static void loopOnFail(void *arg, const char *message)
{
    struct dqlite_node *n = arg;
    if (n->fatal_fn != NULL) {
        n->fatal_fn(n->fatal_arg, message);
    }
}

static int loopOpenReplica(struct dqlite_node *n)
{
    struct replica_options o = {0};
    o.id = n->id;
    o.address = n->address;
    o.data_dir = n->data_dir;
    nodeTimeouts(n, &o.heartbeat_ms, &o.election_ms);
    o.snapshot_threshold = n->snapshot_threshold;
    o.snapshot_trailing = n->snapshot_trailing;
    o.entry_cache_bytes = n->entry_cache_bytes;
    o.bootstrap = n->id == 1 || n->id == NODE_BOOTSTRAP_ID;
    o.compress_snapshots = n->snapshot_compression;
    o.read_lease = n->read_lease;
    o.log = loopLog;
    o.log_arg = n;
    o.on_fail = loopOnFail;
    /* go-dqlite may have put SQLite in single-thread mode: make sure it is
     * initialised, under our lock like every other call. */
    workerSqliteLock();
    sqlite3_initialize();
    if (sqlite3_soft_heap_limit64(-1) == 0) {
        sqlite3_soft_heap_limit64(NODE_SQLITE_SOFT_HEAP_BYTES);
    }
    workerSqliteUnlock();
    int rv = replicaOpen(&n->replica, &o, n->errmsg, sizeof n->errmsg);
    if (rv != 0) {
        return DQLITE_ERROR;
    }
    n->replica_open = true;
    return 0;
}

int dqlite_node_start(dqlite_node *n)
{
    int rv;
    if (n == NULL || n->state != NODE_CREATED) {
        return DQLITE_MISUSE;
    }
    if (n->bind_address[0] == '\0') {
        rv = dqlite_node_set_bind_address(n, n->address);
        if (rv != 0) {
            return rv;
        }
    }
    rv = nodeDirAcquire(n);
    if (rv == 0) {
        rv = loopOpenReplica(n);
    }
    if (rv != 0) {
        nodeDirRelease(n);
        return rv;
    }
    rv = uv_loop_init(&n->loop);
    if (rv != 0) {
        nodeErrorf(n, "loop: %s", uv_strerror(rv));
        return DQLITE_ERROR;
    }
    n->loop_ready = false;
    if (pthread_create(&n->thread, NULL, nodeThreadMain, n) != 0) {
        nodeErrorf(n, "cannot start the node thread");
        uv_loop_close(&n->loop);
        return DQLITE_ERROR;
    }
    pthread_mutex_lock(&n->lock);
    while (!n->loop_ready) {
        pthread_cond_wait(&n->cond, &n->lock);
    }
    pthread_mutex_unlock(&n->lock);
    n->state = NODE_RUNNING;
    /* HTTP before the claim: a start that fails leaves DIR unclaimed. */
    rv = n->start_rv != 0 ? n->start_rv : nodeHttpStart(n);
    rv = rv != 0 ? rv : nodeDirClaim(n);
    if (rv != 0) {
        dqlite_node_stop(n);
        nodeDirRelease(n);
    }
    return rv;
}

int dqlite_node_stop(dqlite_node *n)
{
    if (n == NULL || n->state != NODE_RUNNING) {
        return DQLITE_MISUSE;
    }
    nodeHttpStop(n);
    if (n->start_rv == 0) {
        uv_async_send(&n->stop_async);
    }
    pthread_join(n->thread, NULL);
    int rv = uv_loop_close(&n->loop);
    ASSERT(rv == 0);
    n->state = NODE_STOPPED;
    return 0;
}
