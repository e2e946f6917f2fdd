/*
 * Hostile and lossy faults of the simulator: forged raft messages (a
 * byzantine-ish injector) and nodes restarted with a shorter log than they
 * had acknowledged.
 *
 * Forged messages are the ones the core must refuse (docs/raft.md,
 * "Refused messages"): AppendEntries from a server outside the
 * configuration (with a higher term: the entries of the attack, or none:
 * the step-down of a leader), AppendEntries claiming a member's id whose
 * entries contradict the committed log, and messages addressed to another
 * node. Each is stepped into its target at once (nothing can change in
 * between) and must be reported as a notice without changing the target's
 * term, commit index, last index or role; the invariants of check.c keep
 * watching the logs. Forgeries the core cannot tell from the real thing
 * (a member's id with a consistent log: that needs authentication) are not
 * sent. Nodes outside their own configuration (new, removed) cannot judge
 * a sender and are not targeted, nor are strangers sent to a node that
 * accepts them for now (raftAcceptsStrangers: no leader heard from for an
 * election timeout).
 *
 * A shorter log: a node is crashed and restarted with the tail of its
 * durable log cut (lost segments, a torn tail, an older copy of its data)
 * or with its log and snapshot wiped (the repair of a damaged data
 * directory), keeping its term and vote. Raft cannot survive a voter losing
 * entries that only it and a minority hold, so the cut only drops entries
 * that a quorum of the other voters holds (or covers with a snapshot), and
 * only in clusters without membership changes (a node holding a stale
 * configuration could count the shortened node's vote in a quorum of its
 * own): the leader must notice and send them again (liveness is checked
 * after healing as for every other fault).
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "sim/sim.h"

#define FORGED_ID 666 /* never a member: ids are 1..SIM_MAX_NODES */

/* ------------------------------------------------------------ forging */

/* An up node that is a member of its own configuration, or -1. */
static int simForgeTarget(void)
{
    int i = (int)simRange(0, W->cfg.n_nodes - 1);
    const struct sim_node *n = &W->nodes[i];
    if (!n->up || raftConfGet(raftConfiguration(n->r), n->id) == NULL) {
        return -1;
    }
    return i;
}

/* Another member of the target's configuration, or 0. */
static uint64_t simForgeMember(const struct raft *r)
{
    const struct raft_configuration *c = raftConfiguration(r);
    uint64_t id = c->servers[simRange(0, c->n - 1)].id;
    return id == raftId(r) ? 0 : id;
}

/* Entries with terms >= `term`, the last one a configuration adding a
 * voter FORGED_ID (the attack of issue 15). */
static void simForgeEntries(struct raft_message *m, uint64_t term, unsigned n)
{
    struct raft_configuration conf;
    m->append.entries = libCalloc(n, sizeof *m->append.entries);
    ASSERT(m->append.entries != NULL);
    m->append.n_entries = n;
    for (unsigned k = 0; k + 1 < n; k++) {
        m->append.entries[k] = (struct raft_entry){term, RAFT_BARRIER, NULL, 0};
    }
    raftConfInit(&conf);
    ASSERT(raftConfAdd(&conf, FORGED_ID, "attacker", RAFT_VOTER) == 0);
    struct raft_entry *e = &m->append.entries[n - 1];
    e->term = term;
    e->type = RAFT_CHANGE;
    ASSERT(raftConfEncodePayload(&conf, &e->data, &e->len) == 0);
    raftConfClose(&conf);
}

/* A committed index of the target whose term it knows, 0 if none. */
static uint64_t simForgeCommitted(const struct raft *r)
{
    uint64_t commit = raftCommitIndex(r);
    if (commit == 0) {
        return 0;
    }
    uint64_t index = simRange(1, commit);
    for (; index <= commit; index++) {
        if (raftTermAt(r, index) != 0) {
            return index;
        }
    }
    return 0;
}

/* Fills `m` for the target; false when this kind cannot be forged now. */
static bool simForgeMessage(int kind, const struct raft *r,
                            struct raft_message *m)
{
    uint64_t term = raftTerm(r) + simRange(1, 5), index;
    memset(m, 0, sizeof *m);
    m->type = RAFT_MSG_APPEND;
    m->to = raftId(r);
    m->term = term;
    switch (kind) {
    case 0: /* a stranger rewriting the log from index 1 */
        m->from = FORGED_ID;
        simForgeEntries(m, term, (unsigned)simRange(1, 6));
        m->append.commit = m->append.n_entries;
        return true;
    case 1: /* a stranger deposing a leader with an empty append */
        m->from = FORGED_ID;
        return true;
    case 2: /* a member's id, entries contradicting the committed log */
        if ((m->from = simForgeMember(r)) == 0 ||
            (index = simForgeCommitted(r)) == 0) {
            return false;
        }
        m->append.prev_index = index - 1;
        m->append.prev_term = raftTermAt(r, index - 1);
        if (m->append.prev_index == 0 || m->append.prev_term == 0) {
            m->append.prev_index = m->append.prev_term = 0;
            index = 1; /* from the start: checks entry 1 onwards */
            if (raftTermAt(r, 1) == 0) {
                return false;
            }
        }
        /* The entry at `index` gets another term than the committed one
         * (higher: terms may not decrease within a message). */
        simForgeEntries(m, raftTermAt(r, index) + 1, 1);
        m->append.commit = index;
        m->term =
            m->append.entries[0].term > term ? m->append.entries[0].term : term;
        return true;
    default: /* a member's id, addressed to another node */
        if ((m->from = simForgeMember(r)) == 0) {
            return false;
        }
        m->to = raftId(r) + SIM_MAX_NODES; /* nobody */
        return true;
    }
}

void simForge(void)
{
    int i = simForgeTarget();
    struct raft_message m;
    int kind = (int)simRange(0, 3);
    if (i < 0) {
        return;
    }
    struct sim_node *n = &W->nodes[i];
    struct raft *r = n->r;
    if (kind <= 1 && raftAcceptsStrangers(r)) {
        return; /* not yet in touch with a leader: cannot judge */
    }
    if (!simForgeMessage(kind, r, &m)) {
        raftMessageClose(&m);
        return;
    }
    static const int expect[] = {RAFT_NOTICE_NOT_MEMBER, RAFT_NOTICE_NOT_MEMBER,
                                 RAFT_NOTICE_COMMITTED, RAFT_NOTICE_WRONG_TO};
    uint64_t before = raftNoticeCount(r, expect[kind]);
    uint64_t term = raftTerm(r), commit = raftCommitIndex(r),
             last = raftLastIndex(r);
    int state = raftState(r);
    int rv = raftStep(r, &m);
    simTrace("FORGE kind %d to n%d from n%llu term %llu prev %llu n=%u: %s",
             kind, i + 1, (unsigned long long)m.from,
             (unsigned long long)m.term,
             (unsigned long long)m.append.prev_index, m.append.n_entries,
             errString(rv));
    raftMessageClose(&m);
    if (rv != 0 || raftNoticeCount(r, expect[kind]) != before + 1 ||
        raftTerm(r) != term || raftCommitIndex(r) != commit ||
        raftLastIndex(r) != last || raftState(r) != state) {
        simFail("FORGED message of kind %d accepted by n%d", kind, i + 1);
    }
    sim_stats.forged++;
    simNodePump(i);
}

/* ------------------------------------------------------------ shorter logs */

/* Node j holds entry index/term durably (or a snapshot covering it). */
static bool simHolds(int j, uint64_t index, uint64_t term)
{
    const struct sim_disk *d = &W->nodes[j].disk;
    if (d->has_snap && d->meta.index >= index) {
        return true; /* only committed entries are in snapshots */
    }
    return simLogTerm(&d->log, index) == term;
}

/* Node i's last durable entry is held by a quorum of the other voters of
 * the (fixed) configuration: by Log Matching, so is every entry before it,
 * and node i may lose any of them. */
static bool simMayDrop(int i)
{
    int l = simLeader();
    if (l < 0 || l == i) {
        return false;
    }
    const struct raft *r = W->nodes[l].r;
    const struct raft_configuration *c = raftConfiguration(r);
    const struct sim_disk *d = &W->nodes[i].disk;
    uint64_t last = simLogLast(&d->log);
    uint64_t term = simLogTerm(&d->log, last);
    unsigned holders = 0;
    if (W->cfg.membership || term == 0) {
        /* With changing configurations, a node holding a stale one may
         * count the shortened node's vote in a quorum of its own. */
        return false;
    }
    for (unsigned k = 0; k < c->n; k++) {
        int j = simNodeIndex(c->servers[k].id);
        holders += j >= 0 && j != i && c->servers[k].role == RAFT_VOTER &&
                   simHolds(j, last, term);
    }
    return holders >= raftConfVoters(c) / 2 + 1;
}

void simShortenLog(void)
{
    int i = (int)simRange(0, W->cfg.n_nodes - 1);
    struct sim_node *n = &W->nodes[i];
    struct sim_disk *d = &n->disk;
    bool wipe = simChance(300);
    if (!n->up || n->stopped || !simMayDrop(i)) {
        return;
    }
    uint64_t last = simLogLast(&d->log);
    /* The tail may not go below the log's start or the snapshot (a log
     * ending before its snapshot is a hole the disk would not load). */
    uint64_t floor = d->log.first - 1;
    if (d->has_snap && d->meta.index > floor) {
        floor = d->meta.index;
    }
    if (!wipe && last <= floor) {
        return;
    }
    uint64_t keep = wipe ? 0 : simRange(floor, last - 1);
    simNodeCrash(i, false);
    if (wipe) {
        simLogClose(&d->log);
        simLogInit(&d->log);
        simNodeDropSnapshots(i);
    } else {
        simLogTruncate(&d->log, keep + 1);
    }
    simTrace("FAULT n%d restarts with a shorter log: %s, kept up to %llu of "
             "%llu",
             i + 1, wipe ? "wiped" : "tail lost", (unsigned long long)keep,
             (unsigned long long)last);
    sim_stats.shortened++;
    simNodeStart(i);
}
