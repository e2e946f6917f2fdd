/*
 * Automatic roles on the loop: the public setter, the leader's periodic
 * round and the hooks the node's loop calls (see roles.h).
 *
 * A round, every ROLES_INTERVAL_MS on the leader only: copy the members'
 * addresses, DESCRIBE them all on the thread pool (roles_probe.c), record
 * who answered and what they said, plan at most one change (roles_plan.c)
 * and apply it with raftAssignRole; the next change waits until it is
 * committed (or failed). A change someone else started (an ASSIGN from a
 * client) makes raft refuse ours with ERR_CONFIG_BUSY: the round is
 * skipped. Followers keep no health: a new leader starts afresh.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "server/node.h"
#include "server/roles.h"
#include "server/tls.h"

#define ROLES_OF(ptr, field) \
    ((struct roles *)(void *)((char *)(ptr)-offsetof(struct roles, field)))
#define ROLES_NODE(ptr)                                                        \
    ((struct dqlite_node *)(void *)((char *)(ptr)-offsetof(struct dqlite_node, \
                                                           roles)))

static const char *const roles_names[] = {"voter", "stand-by", "spare"};

int dqlite_node_set_auto_roles(dqlite_node *n, unsigned voters,
                               unsigned standbys)
{
    if (n == NULL) {
        return DQLITE_MISUSE;
    }
    if (n->state != NODE_CREATED) {
        nodeErrorf(n, "node already started");
        return DQLITE_MISUSE;
    }
    if ((voters == 0 && standbys != 0) || (voters != 0 && voters % 2 == 0) ||
        voters > ROLES_MAX_MEMBERS || standbys > ROLES_MAX_MEMBERS) {
        nodeErrorf(n, "auto roles: voters must be odd (or 0 and 0: off)");
        return DQLITE_MISUSE;
    }
    n->roles.voters = voters;
    n->roles.standbys = standbys;
    return 0;
}

static struct roles_health *rolesHealthOf(struct roles *R, uint64_t id)
{
    for (unsigned i = 0; i < R->n_health; i++) {
        if (R->health[i].id == id) {
            return &R->health[i];
        }
    }
    return NULL;
}

static unsigned rolesOfflineMs(const struct dqlite_node *n)
{
    unsigned heartbeat_ms, election_ms;
    nodeTimeouts(n, &heartbeat_ms, &election_ms);
    return ROLES_OFFLINE_ELECTIONS * election_ms;
}

/* What this node knows of other members: the health its rounds recorded
 * (none unless it was leading). */
static void rolesMemberHealth(struct dqlite_node *n, struct roles_member *m)
{
    const struct roles_health *h = rolesHealthOf(&n->roles, m->id);
    uint64_t now_ms = uv_now(&n->loop);
    m->online = false;
    m->lost = false;
    m->domain = m->weight = 0;
    if (h == NULL) {
        return;
    }
    m->online = h->answered && h->fails < ROLES_SUSPECT_FAILS;
    m->lost = h->fails >= ROLES_SUSPECT_FAILS &&
              now_ms - h->down_since_ms >= rolesOfflineMs(n);
    m->domain = h->domain;
    m->weight = h->weight;
}

unsigned rolesMembers(struct dqlite_node *n, struct roles_member *m)
{
    const struct raft_configuration *conf = raftConfiguration(n->replica.raft);
    unsigned k = 0;
    for (unsigned i = 0; i < conf->n && k < ROLES_MAX_MEMBERS; i++) {
        struct roles_member *mm = &m[k++];
        mm->id = conf->servers[i].id;
        mm->role = conf->servers[i].role;
        if (mm->id == n->id) {
            mm->online = true;
            mm->lost = false;
            mm->domain = n->failure_domain;
            mm->weight = n->weight;
        } else {
            rolesMemberHealth(n, mm);
        }
    }
    return k;
}

unsigned rolesPeers(struct dqlite_node *n, struct roles_peer *p)
{
    const struct raft_configuration *conf = raftConfiguration(n->replica.raft);
    unsigned k = 0;
    /* Those that answered last time first: a dead one cannot spend the
     * budget of the living. */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < conf->n && k < ROLES_MAX_MEMBERS; i++) {
            const struct raft_server *s = &conf->servers[i];
            const struct roles_health *h = rolesHealthOf(&n->roles, s->id);
            bool healthy = h != NULL && h->answered && h->fails == 0;
            if (s->id == n->id || healthy != (pass == 0)) {
                continue;
            }
            memset(&p[k], 0, sizeof p[k]);
            p[k].id = s->id;
            p[k].role = s->role;
            strncpy(p[k].address, s->address, RAFT_ADDRESS_MAX);
            k++;
        }
    }
    return k;
}

/* The probed peers' answers become the health table (members that left
 * the configuration drop out of it). */
static void rolesRecord(struct dqlite_node *n, const struct roles_peer *p,
                        unsigned n_peers)
{
    struct roles *R = &n->roles;
    struct roles_health next[ROLES_MAX_MEMBERS];
    uint64_t now_ms = uv_now(&n->loop);
    PRE(n_peers <= ROLES_MAX_MEMBERS);
    for (unsigned i = 0; i < n_peers; i++) {
        const struct roles_health *old = rolesHealthOf(R, p[i].id);
        struct roles_health *h = &next[i];
        if (old != NULL) {
            *h = *old;
        } else {
            memset(h, 0, sizeof *h);
            h->id = p[i].id;
        }
        if (p[i].status == ROLES_ANSWERED) {
            h->fails = 0;
            h->answered = true;
            h->domain = p[i].domain;
            h->weight = p[i].weight;
        } else if (p[i].status == ROLES_FAILED) {
            if (h->fails++ == 0) {
                h->down_since_ms = now_ms;
            }
        }
    }
    memcpy(R->health, next, n_peers * sizeof next[0]);
    R->n_health = n_peers;
}

static void rolesOnChanged(struct replica_wait *w, int status)
{
    struct roles *R = ROLES_OF(w, wait);
    struct dqlite_node *n = ROLES_NODE(R);
    R->changing = false;
    nodeLogf(n,
             status == 0 || status == ERR_SHUTDOWN ? DQLITE_LOG_INFO
                                                   : DQLITE_LOG_WARN,
             "auto roles: node %llu -> %s: %s", (unsigned long long)w->id,
             roles_names[w->role], status == 0 ? "done" : errString(status));
}

static void rolesApply(struct dqlite_node *n, const struct roles_change *c)
{
    struct roles *R = &n->roles;
    struct replica *r = &n->replica;
    const struct raft_server *s =
        raftConfGet(raftConfiguration(r->raft), c->id);
    uint64_t index;
    ASSERT(s != NULL);
    int from = s->role;
    int rv = raftAssignRole(r->raft, c->id, c->role, &index);
    if (rv != 0) {
        nodeLogf(n, DQLITE_LOG_DEBUG, "auto roles: node %llu -> %s: %s",
                 (unsigned long long)c->id, roles_names[c->role],
                 errString(rv));
        return;
    }
    nodeLogf(n, DQLITE_LOG_INFO, "auto roles: node %llu %s -> %s (%s)",
             (unsigned long long)c->id, roles_names[from], roles_names[c->role],
             c->reason);
    R->wait.cb = rolesOnChanged;
    rv = replicaWaitRole(r, c->id, c->role,
                         uv_now(&n->loop) + ROLES_CHANGE_TIMEOUT_MS, &R->wait);
    R->changing = rv == 0;
    replicaProcess(r);
}

/* Plans with fresh health; a healthy member is demoted only when two
 * rounds in a row want it (see struct roles_change). */
static void rolesRound(struct dqlite_node *n)
{
    struct roles *R = &n->roles;
    struct roles_member m[ROLES_MAX_MEMBERS];
    struct roles_change c;
    if (R->changing || !replicaIsLeader(&n->replica)) {
        return;
    }
    unsigned k = rolesMembers(n, m);
    if (!rolesPlan(m, k, n->id, R->voters, R->standbys, &c)) {
        R->has_deferred = false;
        return;
    }
    if (c.healthy_demotion && !(R->has_deferred && R->deferred.id == c.id &&
                                R->deferred.role == c.role)) {
        R->deferred = c;
        R->has_deferred = true;
        return;
    }
    R->has_deferred = false;
    rolesApply(n, &c);
}

struct roles_probe {
    uv_work_t req;
    struct dqlite_node *n;
    struct roles_dialer dialer;
    unsigned n_peers;
    struct roles_peer peers[ROLES_MAX_MEMBERS];
};

static void rolesProbeWork(uv_work_t *req)
{
    struct roles_probe *p = req->data;
    rolesProbeAll(&p->dialer, p->peers, p->n_peers, ROLES_PROBE_BUDGET_MS);
}

static void rolesProbeDone(uv_work_t *req, int status)
{
    struct roles_probe *p = req->data;
    struct dqlite_node *n = p->n;
    n->roles.probing = false;
    if (status == 0 && !n->roles.stopping && !n->shutting_down &&
        replicaIsLeader(&n->replica)) {
        rolesRecord(n, p->peers, p->n_peers);
        rolesRound(n);
    }
    libFree(p);
}

static void rolesOnTimer(uv_timer_t *timer)
{
    struct dqlite_node *n = timer->data;
    struct roles *R = &n->roles;
    if (R->stopping || R->probing) {
        return;
    }
    if (!replicaIsLeader(&n->replica)) {
        R->n_health = 0;
        R->has_deferred = false;
        return;
    }
    struct roles_probe *p = libMalloc(sizeof *p);
    if (p == NULL) {
        return;
    }
    p->req.data = p;
    p->n = n;
    p->dialer.fn = n->connect_fn;
    p->dialer.arg = n->connect_arg;
    if (tlsEnabled(n)) { /* TLS to the peer, with the node's certificate */
        p->dialer.fn = tlsDial;
        p->dialer.arg = n;
    }
    p->n_peers = rolesPeers(n, p->peers);
    if (uv_queue_work(&n->loop, &p->req, rolesProbeWork, rolesProbeDone) != 0) {
        libFree(p);
        return;
    }
    R->probing = true;
}

void rolesStart(struct dqlite_node *n)
{
    struct roles *R = &n->roles;
    uv_timer_init(&n->loop, &R->timer);
    R->timer.data = n;
    R->started = true;
    if (R->voters > 0) {
        nodeLogf(n, DQLITE_LOG_INFO, "auto roles: %u voters, %u stand-bys",
                 R->voters, R->standbys);
        uv_timer_start(&R->timer, rolesOnTimer, ROLES_INTERVAL_MS,
                       ROLES_INTERVAL_MS);
    }
}

void rolesClose(struct dqlite_node *n)
{
    struct roles *R = &n->roles;
    R->stopping = true;
    if (R->started) {
        uv_close((uv_handle_t *)&R->timer, NULL);
        R->started = false;
    }
}
