/*
 * The graceful stop of a voter under automatic roles: before the node
 * shuts down (after the leadership hand-over of loop.c, so this node is
 * normally a follower by now), if its departure would leave fewer online
 * voters than the target, a healthy stand-by is promoted to voter and this
 * node demoted to spare, so the cluster keeps its margin without waiting
 * for the leader to notice the loss. The stand-by is promoted first: the
 * cluster never has fewer voters than it had.
 *
 * A follower probes the voters and stand-bys itself (DESCRIBE), picks the
 * stand-by the leader's rounds would pick and sends both ASSIGN requests to
 * the leader, all on the thread pool (roles_probe.c). A node that is still
 * leader (it could not hand leadership over: a single voter, no connected
 * voter) makes both changes itself, from the health its rounds recorded.
 * Either way the hand-off ends within ROLES_HANDOFF_MS and the stop goes
 * on whatever the outcome.
 */
#include <stdio.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "server/node.h"
#include "server/roles.h"
#include "server/tls.h"

#define HANDOFF_OF(ptr)                                     \
    ((struct dqlite_node *)(void *)((char *)(ptr)-offsetof( \
        struct dqlite_node, roles.handoff_wait)))

enum handoff_outcome {
    HANDOFF_NOT_NEEDED,
    HANDOFF_NO_CANDIDATE,
    HANDOFF_DONE,
    HANDOFF_FAILED,
};

/* A follower's hand-off, worked on the thread pool. */
struct handoff_job {
    uv_work_t req;
    struct dqlite_node *n;
    struct roles_dialer dialer;
    uint64_t self;
    unsigned voters; /* the target */
    int64_t deadline_ms;
    unsigned n_peers;
    struct roles_peer peers[ROLES_MAX_MEMBERS];
    int outcome; /* enum handoff_outcome */
    uint64_t candidate;
    char msg[256];
};

/* The answering voters, and the best answering stand-by (-1: none), among
 * the peers of a job. */
static int handoffPick(const struct handoff_job *j, unsigned *online_voters)
{
    struct roles_member m[ROLES_MAX_MEMBERS];
    *online_voters = 0;
    for (unsigned i = 0; i < j->n_peers; i++) {
        m[i].id = j->peers[i].id;
        m[i].role = j->peers[i].role;
        m[i].online = j->peers[i].status == ROLES_ANSWERED;
        m[i].lost = false;
        m[i].domain = j->peers[i].domain;
        m[i].weight = j->peers[i].weight;
        *online_voters += m[i].online && m[i].role == RAFT_VOTER;
    }
    return rolesPickPromotion(m, j->n_peers, RAFT_VOTER, true);
}

static void handoffWork(uv_work_t *req)
{
    struct handoff_job *j = req->data;
    unsigned online_voters;
    rolesProbeAll(&j->dialer, j->peers, j->n_peers, ROLES_HANDOFF_PROBE_MS);
    int best = handoffPick(j, &online_voters);
    if (online_voters >= j->voters) {
        j->outcome = HANDOFF_NOT_NEEDED;
        return;
    }
    if (best < 0) {
        j->outcome = HANDOFF_NO_CANDIDATE;
        return;
    }
    j->candidate = j->peers[best].id;
    int rv = rolesHandOffRemote(&j->dialer, j->peers, j->n_peers, j->candidate,
                                j->self, j->deadline_ms, j->msg, sizeof j->msg);
    j->outcome = rv == 0 ? HANDOFF_DONE : HANDOFF_FAILED;
}

static void handoffWorkDone(uv_work_t *req, int status)
{
    struct handoff_job *j = req->data;
    struct dqlite_node *n = j->n;
    static const char *const outcomes[] = {"not needed", "no healthy stand-by",
                                           "done", "failed"};
    if (status != 0) {
        j->outcome = HANDOFF_FAILED;
        snprintf(j->msg, sizeof j->msg, "%s", uv_strerror(status));
    }
    nodeLogf(n,
             j->outcome == HANDOFF_FAILED ? DQLITE_LOG_WARN : DQLITE_LOG_INFO,
             "auto roles: stopping voter hands its vote to node %llu: %s%s%s",
             (unsigned long long)j->candidate, outcomes[j->outcome],
             j->msg[0] != '\0' ? ": " : "", j->msg);
    void (*done)(struct dqlite_node * n) = n->roles.handoff_done;
    libFree(j);
    done(n);
}

static bool handoffAsFollower(struct dqlite_node *n)
{
    struct handoff_job *j = libCalloc(1, sizeof *j);
    if (j == NULL) {
        return false;
    }
    j->req.data = j;
    j->n = n;
    j->dialer.fn = n->connect_fn;
    j->dialer.arg = n->connect_arg;
    if (tlsEnabled(n)) { /* TLS to the peer, with the node's certificate */
        j->dialer.fn = tlsDial;
        j->dialer.arg = n;
    }
    j->self = n->id;
    j->voters = n->roles.voters;
    j->deadline_ms = rolesClockMs() + ROLES_HANDOFF_MS;
    /* Spares neither vote nor could take a vote at once. */
    struct roles_peer all[ROLES_MAX_MEMBERS];
    unsigned n_all = rolesPeers(n, all);
    bool any_standby = false;
    for (unsigned i = 0; i < n_all; i++) {
        if (all[i].role != RAFT_SPARE) {
            j->peers[j->n_peers++] = all[i];
            any_standby |= all[i].role == RAFT_STANDBY;
        }
    }
    if (!any_standby ||
        uv_queue_work(&n->loop, &j->req, handoffWork, handoffWorkDone) != 0) {
        libFree(j);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ leader */

/* The hand-off's last step runs from a fresh loop turn: the wait that ends
 * it is called from inside the replica. */
static void handoffOnFinish(uv_timer_t *timer)
{
    struct dqlite_node *n = timer->data;
    n->roles.handoff_done(n);
}

static void handoffFinish(struct dqlite_node *n, const char *how)
{
    nodeLogf(n, DQLITE_LOG_INFO,
             "auto roles: stopping leader hands its vote to node %llu: %s",
             (unsigned long long)n->roles.handoff_candidate, how);
    uv_timer_start(&n->roles.timer, handoffOnFinish, 0, 0);
}

static void handoffOnDemoted(struct replica_wait *w, int status)
{
    struct dqlite_node *n = HANDOFF_OF(w);
    const struct raft_server *s =
        raftConfGet(raftConfiguration(n->replica.raft), n->id);
    /* Demoting itself, a leader steps down once the change commits: its
     * wait may end with "not leader" although the change went through. */
    (void)status;
    handoffFinish(n, s != NULL && s->role == RAFT_SPARE
                         ? "done"
                         : "promoted, but this node is still a voter");
}

static void handoffOnPromoted(struct replica_wait *w, int status)
{
    struct dqlite_node *n = HANDOFF_OF(w);
    struct replica *r = &n->replica;
    uint64_t index;
    if (status != 0) {
        handoffFinish(n, errString(status));
        return;
    }
    int rv = raftAssignRole(r->raft, n->id, RAFT_SPARE, &index);
    if (rv == 0) {
        w->cb = handoffOnDemoted;
        rv = replicaWaitRole(r, n->id, RAFT_SPARE, n->roles.handoff_deadline_ms,
                             w);
    }
    if (rv != 0) {
        handoffFinish(n, errString(rv));
    }
}

/* How often a leader retries a promotion that found a change in flight
 * (a round's own change, or an ASSIGN from a client, not yet committed). */
#define HANDOFF_RETRY_MS 20

static void handoffPromote(struct dqlite_node *n);

static void handoffOnRetry(uv_timer_t *timer)
{
    handoffPromote(timer->data);
}

/* Promotes the candidate; a change still in flight is waited out until the
 * deadline: stopping right after a round changed a role must not skip the
 * hand-off. */
static void handoffPromote(struct dqlite_node *n)
{
    struct replica *r = &n->replica;
    uint64_t index;
    int rv =
        raftAssignRole(r->raft, n->roles.handoff_candidate, RAFT_VOTER, &index);
    if (rv == ERR_CONFIG_BUSY &&
        uv_now(&n->loop) + HANDOFF_RETRY_MS < n->roles.handoff_deadline_ms) {
        uv_timer_start(&n->roles.timer, handoffOnRetry, HANDOFF_RETRY_MS, 0);
        return;
    }
    if (rv == 0) {
        n->roles.handoff_wait.cb = handoffOnPromoted;
        rv = replicaWaitRole(r, n->roles.handoff_candidate, RAFT_VOTER,
                             n->roles.handoff_deadline_ms,
                             &n->roles.handoff_wait);
    }
    if (rv != 0) {
        handoffFinish(n, errString(rv));
        return;
    }
    replicaProcess(r);
}

static bool handoffAsLeader(struct dqlite_node *n)
{
    struct roles_member m[ROLES_MAX_MEMBERS];
    unsigned online_voters = 0;
    unsigned n_all = rolesMembers(n, m);
    unsigned k = 0;
    for (unsigned i = 0; i < n_all; i++) {
        if (m[i].id != n->id) { /* this node is leaving */
            m[k] = m[i];
            online_voters += m[k].online && m[k].role == RAFT_VOTER;
            k++;
        }
    }
    int best = rolesPickPromotion(m, k, RAFT_VOTER, true);
    if (online_voters >= n->roles.voters || best < 0) {
        return false;
    }
    n->roles.handoff_candidate = m[best].id;
    n->roles.handoff_deadline_ms = uv_now(&n->loop) + ROLES_HANDOFF_MS;
    handoffPromote(n);
    return true;
}

bool rolesHandOff(struct dqlite_node *n, void (*done)(struct dqlite_node *n))
{
    struct roles *R = &n->roles;
    const struct raft_server *self;
    if (R->voters == 0 || !R->started || R->stopping || n->shutting_down) {
        return false;
    }
    R->stopping = true; /* no more rounds */
    uv_timer_stop(&R->timer);
    self = raftConfGet(raftConfiguration(n->replica.raft), n->id);
    if (self == NULL || self->role != RAFT_VOTER) {
        return false;
    }
    R->handoff_done = done;
    return replicaIsLeader(&n->replica) ? handoffAsLeader(n)
                                        : handoffAsFollower(n);
}
