/*
 * Read-index: a leader answers a linearizable read at its commit index once
 * it has proven it is still the leader. It must first have committed an
 * entry of its own term (until then its commit index may lag the cluster's),
 * then a quorum of voters must acknowledge a heartbeat round started after
 * the request: the rounds are numbered (read_seq) and followers echo the
 * number in their AppendEntries results.
 */
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "raft/core.h"

static bool raftCommittedInTerm(const struct raft *r)
{
    return raftTermAt(r, r->commit) == r->term;
}

int raftReadIndex(struct raft *r, uint64_t ctx)
{
    struct raft_pending_read *reads;
    if (r->state != RAFT_LEADER) {
        return ERR_NOTLEADER;
    }
    reads =
        libRealloc(r->pending_reads, (r->n_pending_reads + 1) * sizeof *reads);
    if (reads == NULL) {
        return ERR_NOMEM;
    }
    r->pending_reads = reads;
    reads[r->n_pending_reads++] = (struct raft_pending_read){ctx, 0, 0};
    if (!raftCommittedInTerm(r)) {
        return 0; /* raftOnCommitAdvance starts the round */
    }
    return raftReadStartRounds(r);
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
            r->read_seq++;
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
    struct raft_read_state *reads =
        libRealloc(r->reads, (r->n_reads + 1) * sizeof *reads);
    if (reads == NULL) {
        return ERR_NOMEM;
    }
    r->reads = reads;
    reads[r->n_reads++] = (struct raft_read_state){p->ctx, p->index};
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
