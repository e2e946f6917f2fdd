/*
 * The removed-node check (see membership.h): a timer on the loop, a check
 * on libuv's thread pool with our client (it blocks on its sockets), and
 * the verdict back on the loop.
 */
#include "server/membership.h"

#include <dqlite_client.h>
#include <stdio.h>
#include <string.h>

#include "client/client.h" /* struct dqlite_driver: per-call timeouts */
#include "lib/alloc.h"
#include "lib/assert.h"
#include "server/node.h"
#include "server/roles.h"
#include "server/tls.h"

/* How often the loop looks; how many election timeouts without a leader
 * before it asks; how long one check may take in all. */
#define MEMBERSHIP_INTERVAL_MS 1000
#define MEMBERSHIP_LEADERLESS_TIMEOUTS 3
#define MEMBERSHIP_CHECK_MS 2000
#define MEMBERSHIP_MAX_PEERS 64

struct membership_check {
    uv_work_t req;
    struct dqlite_node *n;
    uint64_t id;
    struct roles_dialer dialer;
    unsigned n_peers;
    char peers[MEMBERSHIP_MAX_PEERS][RAFT_ADDRESS_MAX + 1];
    /* Results. */
    bool answered; /* a leader gave its configuration */
    bool listed;   /* ...and it names this node */
    char leader[RAFT_ADDRESS_MAX + 1];
};

static int membershipDial(void *arg, const char *address, int timeout_ms,
                          int *fd)
{
    const struct roles_dialer *d = arg;
    (void)timeout_ms; /* the embedder's function has its own */
    return d->fn(d->arg, address, fd);
}

/* Thread pool: asks the leader, found through the peers, for the
 * configuration. */
static void membershipWork(uv_work_t *req)
{
    struct membership_check *c = req->data;
    struct dqlite_server_store *store = NULL;
    struct dqlite_driver *driver = NULL;
    struct dqlite_client *client = NULL;
    struct dqlite_server_info *servers = NULL;
    struct dqlite_driver_options o;
    unsigned n = 0;
    dqlite_driver_options_init(&o);
    o.connect_timeout_ms = MEMBERSHIP_CHECK_MS;
    o.dial_timeout_ms = MEMBERSHIP_CHECK_MS / 2;
    o.call_timeout_ms = MEMBERSHIP_CHECK_MS / 2;
    o.attempt_timeout_ms = MEMBERSHIP_CHECK_MS / 2;
    o.no_store_refresh = true;
    if (c->dialer.fn != NULL) {
        o.dial = membershipDial;
        o.dial_arg = &c->dialer;
    }
    if (dqlite_server_store_create(&store) != 0) {
        return;
    }
    for (unsigned i = 0; i < c->n_peers; i++) {
        dqlite_server_store_add(store, 0, c->peers[i], DQLITE_VOTER);
    }
    if (dqlite_driver_create(store, &o, &driver) == 0 &&
        dqlite_client_connect_leader(driver, &client) == 0 &&
        dqlite_client_cluster(client, &servers, &n) == 0) {
        c->answered = n > 0;
        for (unsigned i = 0; i < n; i++) {
            c->listed = c->listed || servers[i].id == c->id;
        }
        dqlite_server_info_free(servers, n);
    }
    dqlite_client_close(client);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
}

/* The leader's configuration does not name this node. */
static void membershipRemoved(struct dqlite_node *n)
{
    struct membership *m = &n->membership;
    int old_state = n->last_state;
    m->removed = true;
    nodeLogf(n, DQLITE_LOG_ERROR,
             "node %llu was removed from the cluster (the leader's "
             "configuration no longer names it): it stops taking part as a "
             "member",
             (unsigned long long)n->id);
    /* No more ticks: no more campaigns against the cluster's leader. */
    uv_timer_stop(&n->replica.tick);
    n->last_state = DQLITE_REMOVED;
    if (n->watch_fn != NULL) {
        n->watch_fn(n->watch_arg, old_state, DQLITE_REMOVED, 0);
    }
}

static void membershipDone(uv_work_t *req, int status)
{
    struct membership_check *c = req->data;
    struct dqlite_node *n = c->n;
    n->membership.probing = false;
    if (status == 0 && !n->shutting_down && c->answered && !c->listed &&
        raftLeader(n->replica.raft) == 0) {
        membershipRemoved(n);
    } else if (!n->shutting_down) {
        /* Still a member (e.g. a spare, which the leader does not contact)
         * or no answer: the next check waits as long again. */
        n->membership.leaderless_ms = uv_now(&n->loop);
    }
    libFree(c);
}

/* Copies the other members' addresses; 0 if this node is not among them
 * (not added yet: nothing to check). */
static unsigned membershipPeers(struct dqlite_node *n,
                                struct membership_check *c)
{
    const struct raft_configuration *conf = raftConfiguration(n->replica.raft);
    unsigned count = 0;
    if (raftConfGet(conf, n->id) == NULL) {
        return 0;
    }
    for (unsigned i = 0; i < conf->n && count < MEMBERSHIP_MAX_PEERS; i++) {
        if (conf->servers[i].id != n->id) {
            snprintf(c->peers[count++], sizeof c->peers[0], "%s",
                     conf->servers[i].address);
        }
    }
    return count;
}

/* Whether no leader has been known for long enough to ask. */
static bool membershipLeaderless(struct dqlite_node *n)
{
    struct membership *m = &n->membership;
    unsigned heartbeat_ms, election_ms;
    uint64_t now_ms = uv_now(&n->loop);
    if (raftLeader(n->replica.raft) != 0) {
        m->leaderless_ms = 0;
        return false;
    }
    if (m->leaderless_ms == 0) {
        m->leaderless_ms = now_ms;
        return false;
    }
    nodeTimeouts(n, &heartbeat_ms, &election_ms);
    return now_ms - m->leaderless_ms >=
           (uint64_t)election_ms * MEMBERSHIP_LEADERLESS_TIMEOUTS;
}

/* A leader talks to the removed node again: it was added back. */
static void membershipReadded(struct dqlite_node *n)
{
    uint64_t leader = raftLeader(n->replica.raft);
    n->membership.removed = false;
    n->membership.leaderless_ms = 0;
    nodeLogf(n, DQLITE_LOG_WARN,
             "node %llu is a member again (leader %llu): it takes part again",
             (unsigned long long)n->id, (unsigned long long)leader);
    uv_timer_again(&n->replica.tick);
    n->last_state = DQLITE_FOLLOWER;
    if (n->watch_fn != NULL) {
        n->watch_fn(n->watch_arg, DQLITE_REMOVED, DQLITE_FOLLOWER, leader);
    }
}

static void membershipOnTimer(uv_timer_t *timer)
{
    struct dqlite_node *n = timer->data;
    struct membership *m = &n->membership;
    if (m->removed && !n->shutting_down && raftLeader(n->replica.raft) != 0) {
        membershipReadded(n);
        return;
    }
    if (m->removed || m->probing || n->shutting_down ||
        !membershipLeaderless(n)) {
        return;
    }
    struct membership_check *c = libCalloc(1, sizeof *c);
    if (c == NULL) {
        return;
    }
    c->req.data = c;
    c->n = n;
    c->id = n->id;
    c->dialer.fn = n->connect_fn;
    c->dialer.arg = n->connect_arg;
    if (tlsEnabled(n)) { /* TLS to the peer, with the node's certificate */
        c->dialer.fn = tlsDial;
        c->dialer.arg = n;
    }
    c->n_peers = membershipPeers(n, c);
    if (c->n_peers == 0 ||
        uv_queue_work(&n->loop, &c->req, membershipWork, membershipDone) != 0) {
        libFree(c);
        return;
    }
    m->probing = true;
}

void membershipStart(struct dqlite_node *n)
{
    struct membership *m = &n->membership;
    PRE(!m->started);
    uv_timer_init(&n->loop, &m->timer);
    m->timer.data = n;
    uv_timer_start(&m->timer, membershipOnTimer, MEMBERSHIP_INTERVAL_MS,
                   MEMBERSHIP_INTERVAL_MS);
    m->started = true;
}

void membershipClose(struct dqlite_node *n)
{
    struct membership *m = &n->membership;
    if (m->started) {
        uv_close((uv_handle_t *)&m->timer, NULL);
        m->started = false;
    }
}
