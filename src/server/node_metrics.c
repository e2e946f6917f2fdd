/*
 * The loop's side of metrics and of the operator's log lines that come
 * from watching state (docs/operations.md, "Logs"): every
 * METRICS_PUBLISH_MS the loop reads the raft state into the metrics
 * snapshot and publishes it, and compares the applied index with the
 * commit index, to log one line when a lagging node has caught up. Each
 * change of the configuration in effect (the replica's on_conf) is
 * compared with the previous one: one line per server added, removed or
 * given another role. Role changes are
 * logged as they happen (nodeLogState, from the replica's callback).
 */
#include <stdio.h>
#include <string.h>

#include "lib/assert.h"
#include "raft/raft.h"
#include "server/metrics.h"
#include "server/node.h"

/* A node this many entries behind its commit index is catching up; it
 * says so once it has applied everything. */
#define NODE_CATCHUP_LAG 100

static const char *addressOf(const struct raft_configuration *c, uint64_t id)
{
    const struct raft_server *s = c != NULL ? raftConfGet(c, id) : NULL;
    return s != NULL ? s->address : NULL;
}

/* A joining node hears from its leader before the configuration naming
 * it arrives: the address the leader gave in its handshake, then. */
static const char *learnedAddress(const struct dqlite_node *n, uint64_t id)
{
    for (unsigned i = 0; i < n->n_learned; i++) {
        if (n->learned[i].id == id) {
            return n->learned[i].address;
        }
    }
    return NULL;
}

/* "leader 127.0.0.1:9001 (node 1)", "no leader known". */
static void leaderName(struct dqlite_node *n, uint64_t leader, char *buf,
                       size_t len)
{
    const char *address = addressOf(raftConfiguration(n->replica.raft), leader);
    if (address == NULL) {
        address = learnedAddress(n, leader);
    }
    if (leader == 0) {
        snprintf(buf, len, "no leader known");
    } else {
        snprintf(buf, len, "leader %s (node %llu)", address ? address : "?",
                 (unsigned long long)leader);
    }
}

/* "follower in term 3, leader 127.0.0.1:9001 (node 1)", "leader in term
 * 4 (was candidate)", "candidate in term 5 (was follower)". */
void nodeLogState(struct dqlite_node *n, int old_state, int state,
                  uint64_t leader)
{
    char who[ADDR_MAX_LEN + 64];
    uint64_t old_leader = n->metrics.live.leader_id;
    unsigned long long term = raftTerm(n->replica.raft);
    leaderName(n, leader, who, sizeof who);
    metricsStateChanged(&n->metrics, state, leader != old_leader);
    if (state == DQLITE_LEADER || state == DQLITE_CANDIDATE) {
        nodeLogf(n, DQLITE_LOG_INFO, "%s in term %llu (was %s)",
                 metricsStateName(state), term, metricsStateName(old_state));
    } else if (state != old_state || leader != old_leader) {
        nodeLogf(n, DQLITE_LOG_INFO, "%s in term %llu, %s",
                 metricsStateName(state), term, who);
    }
    nodeMetricsPublish(n);
}

/* One line per server added, removed or given another role or address. */
static void logMembership(struct dqlite_node *n,
                          const struct raft_configuration *now)
{
    struct raft_configuration *was = &n->metrics_conf;
    for (unsigned i = 0; i < now->n; i++) {
        const struct raft_server *s = &now->servers[i];
        const struct raft_server *old = raftConfGet(was, s->id);
        if (old == NULL) {
            nodeLogf(n, DQLITE_LOG_INFO,
                     "membership: node %llu (%s) added as %s",
                     (unsigned long long)s->id, s->address,
                     metricsRoleName(s->role));
        } else if (old->role != s->role) {
            nodeLogf(n, DQLITE_LOG_INFO,
                     "membership: node %llu (%s) is now %s (was %s)",
                     (unsigned long long)s->id, s->address,
                     metricsRoleName(s->role), metricsRoleName(old->role));
        }
    }
    for (unsigned i = 0; i < was->n; i++) {
        if (raftConfGet(now, was->servers[i].id) == NULL) {
            nodeLogf(n, DQLITE_LOG_INFO, "membership: node %llu (%s) removed",
                     (unsigned long long)was->servers[i].id,
                     was->servers[i].address);
        }
    }
}

static bool confEqual(const struct raft_configuration *a,
                      const struct raft_configuration *b)
{
    if (a->n != b->n) {
        return false;
    }
    for (unsigned i = 0; i < a->n; i++) {
        const struct raft_server *s = raftConfGet(b, a->servers[i].id);
        if (s == NULL || s->role != a->servers[i].role ||
            strcmp(s->address, a->servers[i].address) != 0) {
            return false;
        }
    }
    return true;
}

static void watchMembership(struct dqlite_node *n);

static void onConfChanged(void *arg)
{
    watchMembership(arg);
}

static void watchMembership(struct dqlite_node *n)
{
    const struct raft_configuration *now = raftConfiguration(n->replica.raft);
    if (now == NULL || confEqual(now, &n->metrics_conf)) {
        return;
    }
    if (n->metrics_conf_known) {
        logMembership(n, now);
    } else {
        nodeLogf(n, DQLITE_LOG_INFO, "membership: %u members, %u voters",
                 now->n, raftConfVoters(now));
    }
    struct raft_configuration copy;
    raftConfInit(&copy);
    if (raftConfCopy(now, &copy) == 0) {
        raftConfClose(&n->metrics_conf);
        n->metrics_conf = copy;
        n->metrics_conf_known = true;
    }
}

static void watchCatchUp(struct dqlite_node *n, uint64_t commit,
                         uint64_t applied)
{
    uint64_t now_ms = uv_now(&n->loop);
    if (!n->catching_up && commit > applied + NODE_CATCHUP_LAG) {
        n->catching_up = true;
        n->catchup_since_ms = now_ms;
        nodeLogf(n, DQLITE_LOG_INFO,
                 "catching up: applied %llu of %llu committed entries",
                 (unsigned long long)applied, (unsigned long long)commit);
    } else if (n->catching_up && applied >= commit) {
        n->catching_up = false;
        nodeLogf(n, DQLITE_LOG_INFO,
                 "caught up: applied every committed entry (index %llu) "
                 "after %.1f s",
                 (unsigned long long)applied,
                 (double)(now_ms - n->catchup_since_ms) / 1000.0);
    }
}

static unsigned countQueue(struct queue *head)
{
    unsigned count = 0;
    for (struct queue *q = head->next; q != head; q = q->next) {
        count++;
    }
    return count;
}

static void fillPeers(struct dqlite_node *n, struct metrics_snapshot *s,
                      const struct raft_configuration *c)
{
    s->n_peers = 0;
    if (c == NULL || raftState(n->replica.raft) != RAFT_LEADER) {
        return; /* only a leader knows what its followers hold */
    }
    for (unsigned i = 0; i < c->n && s->n_peers < METRICS_MAX_PEERS; i++) {
        struct metrics_peer *p = &s->peers[s->n_peers++];
        p->id = c->servers[i].id;
        p->role = c->servers[i].role;
        p->match = raftMatchIndex(n->replica.raft, p->id);
        snprintf(p->address, sizeof p->address, "%s", c->servers[i].address);
    }
}

void nodeMetricsPublish(struct dqlite_node *n)
{
    struct metrics_snapshot *s = &n->metrics.live;
    struct raft *r = n->replica.raft;
    const struct raft_configuration *c = raftConfiguration(r);
    struct raftio_writer_stats stats = raftioWriterStats(&n->replica.writer);
    const char *leader_address;
    s->id = n->id;
    s->state = n->last_state;
    s->leader_id = raftLeader(r);
    leader_address = addressOf(c, s->leader_id);
    snprintf(s->leader_address, sizeof s->leader_address, "%s",
             leader_address != NULL ? leader_address : "");
    s->term = raftTerm(r);
    s->commit_index = raftCommitIndex(r);
    s->applied_index = n->replica.applied;
    s->last_index = raftLastIndex(r);
    s->snapshot_index = n->replica.snapshot_index;
    s->member = c != NULL && raftConfGet(c, n->id) != NULL;
    s->failed = n->replica.failed;
    s->waiting_for_space = n->replica.waiting_for_space;
    s->connections = n->n_conns;
    s->queued_writers = countQueue(&n->parked);
    fillPeers(n, s, c);
    metricsSyncs(&n->metrics, &stats);
    metricsPublish(&n->metrics);
}

static void onMetricsTimer(uv_timer_t *timer)
{
    struct dqlite_node *n = timer->data;
    nodeMetricsPublish(n);
    watchMembership(n);
    watchCatchUp(n, n->metrics.live.commit_index,
                 n->metrics.live.applied_index);
}

void nodeMetricsStart(struct dqlite_node *n)
{
    uv_timer_init(&n->loop, &n->metrics_timer);
    n->metrics_timer.data = n;
    n->replica.metrics = &n->metrics;
    n->replica.on_conf = onConfChanged;
    /* The loop has not run yet: this is the configuration on disk, said
     * once; from now on each change is said by onConfChanged. */
    watchMembership(n);
    nodeMetricsPublish(n);
    uv_timer_start(&n->metrics_timer, onMetricsTimer, METRICS_PUBLISH_MS,
                   METRICS_PUBLISH_MS);
}

void nodeMetricsClose(struct dqlite_node *n)
{
    n->replica.metrics = NULL;
    n->replica.on_conf = NULL;
    uv_close((uv_handle_t *)&n->metrics_timer, NULL);
}
