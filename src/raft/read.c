/*
 * Read-index: a leader answers a linearizable read at its commit index once
 * it has proven it is still the leader. It must first have committed an
 * entry of its own term (until then its commit index may lag the cluster's),
 * then a quorum of voters must acknowledge a heartbeat round started after
 * the request: the rounds are numbered (read_seq) and followers echo the
 * number in their AppendEntries results.
 *
 * Leader leases (docs/raft.md "Leader leases", Raft dissertation §6.4.1):
 * the same acknowledgements also tell when a follower last heard from us.
 * Every append carries the newest round number; a round's start time is
 * remembered, so an acknowledgement of round s proves the follower heard
 * from this leader at or after round_ms[s]. Such a follower refuses to
 * vote for anyone else for an election timeout after hearing from us
 * (check-quorum, core.c raftLeaseHeld). So until the quorum-th most recent
 * of those times plus an election timeout, no other leader can be elected,
 * and this leader's commit index is the newest: less a drift bound, as the
 * followers measure their election timeout with their own clocks.
 *
 * Follower reads (docs/raft.md "Follower reads", dissertation §6.4 "reads
 * on followers"): a follower sends ReadIndex to its leader, which runs the
 * same confirmation (round or lease) and answers with its read index by
 * message; the follower takes the answer only from the leader and term it
 * asked, and fails the read when they change or after an election timeout.
 */
#include <stdlib.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "raft/core.h"

static int raftReadDeliver(struct raft *r, const struct raft_pending_read *p);

static bool raftCommittedInTerm(const struct raft *r)
{
    return raftTermAt(r, r->commit) == r->term;
}

void raftReadNewRound(struct raft *r)
{
    PRE(r->state == RAFT_LEADER);
    r->read_seq++;
    r->round_ms[r->read_seq % RAFT_LEASE_ROUNDS] = r->now_ms;
}

/* When round `seq` started; false when it is too old to be remembered. */
static bool raftRoundMs(const struct raft *r, uint64_t seq, uint64_t *ms)
{
    PRE(seq <= r->read_seq);
    if (r->read_seq - seq >= RAFT_LEASE_ROUNDS) {
        return false;
    }
    *ms = r->round_ms[seq % RAFT_LEASE_ROUNDS];
    return true;
}

void raftLeaseAck(struct raft *r, struct raft_progress *pr, uint64_t seq)
{
    /* Only a follower that holds the configuration we act on (it names
     * this leader) counts our messages as a leader's contact
     * (replication.c raftNoteLeader): its promise starts after that. */
    if (!r->o.read_lease || pr->match < r->conf_index) {
        return;
    }
    uint64_t sent_ms;
    if (raftRoundMs(r, seq, &sent_ms) &&
        (!pr->lease_acked || sent_ms > pr->lease_ack_ms)) {
        pr->lease_acked = true;
        pr->lease_ack_ms = sent_ms;
    }
}

static int raftCompareDescMs(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : (x > y ? -1 : 0);
}

/* How long after a quorum's acknowledged round the lease lasts. */
static uint64_t raftLeaseMs(const struct raft *r)
{
    uint64_t timeout_ms = r->o.election_timeout_ms;
    return timeout_ms - timeout_ms * r->o.lease_drift_permille / 1000;
}

bool raftLeaseValid(const struct raft *r, uint64_t now_ms)
{
    uint64_t starts[RAFT_CONF_MAX_SERVERS];
    unsigned n = 0;
    if (!r->o.read_lease || !r->o.check_quorum || r->state != RAFT_LEADER ||
        r->lease_ended || r->transfer_target != 0 || !raftIsVoter(r, r->id) ||
        !raftCommittedInTerm(r)) {
        return false;
    }
    starts[n++] = now_ms; /* ourselves */
    for (unsigned i = 0; i < r->n_prs && n < RAFT_CONF_MAX_SERVERS; i++) {
        if (raftIsVoter(r, r->prs[i].id) && r->prs[i].lease_acked) {
            starts[n++] = r->prs[i].lease_ack_ms;
        }
    }
    unsigned quorum = raftQuorum(r);
    if (quorum == 0 || quorum > n) {
        return false; /* too few voters acknowledged anything yet */
    }
    qsort(starts, n, sizeof starts[0], raftCompareDescMs);
    /* The quorum-th most recent contact: every quorum holds a voter that
     * heard from us at or after it, and refuses to elect another leader
     * for an election timeout after that, by its own clock. */
    return now_ms < starts[quorum - 1] + raftLeaseMs(r);
}

static int raftReadRemote(struct raft *r, uint64_t ctx);

/* Leader: a read for `ctx` of this node (from 0) or of follower `from`. */
static int raftReadLeader(struct raft *r, uint64_t ctx, uint64_t from)
{
    struct raft_pending_read *reads;
    PRE(r->state == RAFT_LEADER);
    if (raftLeaseValid(r, r->now_ms)) {
        /* Dissertation §6.4.1: within the lease no other leader exists,
         * so the commit index (of this term: raftLeaseValid) is the
         * newest; the read waits only for it to be applied. */
        struct raft_pending_read p = {ctx, r->commit, r->read_seq, from};
        return raftReadDeliver(r, &p);
    }
    reads =
        libRealloc(r->pending_reads, (r->n_pending_reads + 1) * sizeof *reads);
    if (reads == NULL) {
        return ERR_NOMEM;
    }
    r->pending_reads = reads;
    reads[r->n_pending_reads++] = (struct raft_pending_read){ctx, 0, 0, from};
    if (!raftCommittedInTerm(r)) {
        return 0; /* raftOnCommitAdvance starts the round */
    }
    return raftReadStartRounds(r);
}

int raftReadIndex(struct raft *r, uint64_t ctx, uint64_t now_ms)
{
    if (now_ms > r->now_ms) {
        r->now_ms = now_ms;
    }
    if (r->state == RAFT_LEADER) {
        return raftReadLeader(r, ctx, 0);
    }
    if (r->state == RAFT_FOLLOWER && r->leader_id != 0 &&
        r->leader_id != r->id) {
        return raftReadRemote(r, ctx);
    }
    return ERR_NOTLEADER;
}

/* Follower: asks the leader for its read index. */
static int raftReadRemote(struct raft *r, uint64_t ctx)
{
    struct raft_remote_read *reads =
        libRealloc(r->remote_reads, (r->n_remote_reads + 1) * sizeof *reads);
    if (reads == NULL) {
        return ERR_NOMEM;
    }
    r->remote_reads = reads;
    struct raft_message m = {0};
    m.type = RAFT_MSG_READ_INDEX;
    m.from = r->id;
    m.to = r->leader_id;
    m.term = r->term;
    m.read_index.ctx = ctx;
    int rv = raftSend(r, &m, false);
    if (rv != 0) {
        return rv;
    }
    reads[r->n_remote_reads++] =
        (struct raft_remote_read){ctx, r->term, r->leader_id, r->now_ms};
    return 0;
}

static int raftReadAnswer(struct raft *r, uint64_t to, uint64_t ctx,
                          uint64_t index, bool success)
{
    struct raft_message m = {0};
    m.type = RAFT_MSG_READ_INDEX_RESULT;
    m.from = r->id;
    m.to = to;
    m.term = r->term;
    m.read_index_result.ctx = ctx;
    m.read_index_result.index = success ? index : 0;
    m.read_index_result.success = success ? 1 : 0;
    return raftSend(r, &m, false);
}

int raftStepReadIndex(struct raft *r, const struct raft_message *m)
{
    ASSERT(m->term == r->term);
    if (r->state != RAFT_LEADER) {
        return raftReadAnswer(r, m->from, m->read_index.ctx, 0, false);
    }
    /* The follower's read is confirmed exactly as ours: a quorum round
     * started after this request arrived, or the lease. */
    return raftReadLeader(r, m->read_index.ctx, m->from);
}

static int raftRemoteDeliver(struct raft *r, unsigned i, uint64_t index,
                             bool failed)
{
    struct raft_read_state *reads =
        libRealloc(r->reads, (r->n_reads + 1) * sizeof *reads);
    if (reads == NULL) {
        return ERR_NOMEM;
    }
    r->reads = reads;
    reads[r->n_reads++] = (struct raft_read_state){r->remote_reads[i].ctx,
                                                   failed ? 0 : index, failed};
    r->remote_reads[i] = r->remote_reads[--r->n_remote_reads];
    return 0;
}

int raftStepReadIndexResult(struct raft *r, const struct raft_message *m)
{
    const struct raft_read_index_result *a = &m->read_index_result;
    ASSERT(m->term == r->term);
    for (unsigned i = 0; i < r->n_remote_reads; i++) {
        const struct raft_remote_read *q = &r->remote_reads[i];
        /* Only the leader asked, in the term asked: an answer of a leader
         * of another term (deposed since) is never used. */
        if (q->ctx == a->ctx && q->term == m->term && q->leader == m->from) {
            return raftRemoteDeliver(r, i, a->index, !a->success);
        }
    }
    return 0; /* late: the read already failed */
}

int raftRemoteReadsCheck(struct raft *r)
{
    unsigned i = 0;
    while (i < r->n_remote_reads) {
        const struct raft_remote_read *q = &r->remote_reads[i];
        if (r->state == RAFT_FOLLOWER && r->term == q->term &&
            r->leader_id == q->leader &&
            r->now_ms - q->start_ms < r->o.election_timeout_ms) {
            i++;
            continue;
        }
        int rv = raftRemoteDeliver(r, i, 0, true);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

bool raftFollowerFresh(const struct raft *r, uint64_t now_ms, uint64_t max_ms,
                       uint64_t *index)
{
    if (r->state != RAFT_FOLLOWER || r->leader_id == 0 || !r->fresh_seen ||
        now_ms < r->fresh_ms || now_ms - r->fresh_ms > max_ms) {
        return false;
    }
    *index = r->fresh_index;
    return true;
}

int raftReadStartRounds(struct raft *r)
{
    bool started = false;
    PRE(r->state == RAFT_LEADER);
    for (unsigned i = 0; i < r->n_pending_reads; i++) {
        struct raft_pending_read *p = &r->pending_reads[i];
        if (p->seq != 0) {
            continue;
        }
        if (!started) {
            raftReadNewRound(r);
            started = true;
        }
        p->seq = r->read_seq;
        p->index = r->commit;
    }
    if (!started) {
        return 0;
    }
    int rv = raftBroadcastAppend(r, true);
    return rv != 0 ? rv : raftReadCheck(r);
}

static bool raftReadConfirmed(const struct raft *r, uint64_t seq)
{
    unsigned acks = raftIsVoter(r, r->id) ? 1 : 0;
    for (unsigned i = 0; i < r->n_prs; i++) {
        if (raftIsVoter(r, r->prs[i].id) && r->prs[i].read_ack >= seq) {
            acks++;
        }
    }
    return acks >= raftQuorum(r);
}

static int raftReadDeliver(struct raft *r, const struct raft_pending_read *p)
{
    if (p->from != 0) {
        return raftReadAnswer(r, p->from, p->ctx, p->index, true);
    }
    struct raft_read_state *reads =
        libRealloc(r->reads, (r->n_reads + 1) * sizeof *reads);
    if (reads == NULL) {
        return ERR_NOMEM;
    }
    r->reads = reads;
    reads[r->n_reads++] = (struct raft_read_state){p->ctx, p->index, false};
    return 0;
}

/* Delivers, in order, every pending read whose round a quorum confirmed. */
int raftReadCheck(struct raft *r)
{
    unsigned done = 0;
    int rv = 0;
    while (done < r->n_pending_reads) {
        const struct raft_pending_read *p = &r->pending_reads[done];
        if (p->seq == 0 || !raftReadConfirmed(r, p->seq)) {
            break;
        }
        rv = raftReadDeliver(r, p);
        if (rv != 0) {
            break;
        }
        done++;
    }
    for (unsigned i = done; i < r->n_pending_reads; i++) {
        r->pending_reads[i - done] = r->pending_reads[i];
    }
    r->n_pending_reads -= done;
    return rv;
}

void raftReadDrop(struct raft *r)
{
    r->n_pending_reads = 0;
}
