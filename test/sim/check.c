/*
 * The invariants, checked as the simulation runs:
 *   - election safety: at most one leader per term;
 *   - leader append-only: a leader never removes or rewrites its entries;
 *   - log matching: two logs holding an entry with the same index and term
 *     hold the same prefix up to it (prefix hashes, see log.c);
 *   - leader completeness: a new leader holds every committed entry;
 *   - state-machine safety: every node applies the same entry at an index
 *     (and a snapshot restores the same state);
 *   - no committed entry lost: what any node applied stays committed;
 *   - linearizable reads: a read-index is at least what was committed when
 *     the read was asked.
 * Liveness is checked by main.c once the faults heal.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "sim/sim.h"

struct slot {
    uint64_t index; /* 0 = empty */
    uint64_t term;
    uint64_t chain;
};

struct committed {
    uint64_t term;
    uint64_t chain;
};

static struct {
    struct slot *table; /* (index, term) -> prefix hash */
    size_t cap;
    size_t used;
    struct committed *committed; /* by index */
    size_t n_committed;
    uint64_t *leaders; /* by term */
    size_t n_leaders;
    uint64_t *read_need; /* by ctx */
    size_t n_reads;
    uint64_t known_commit;
} C;

void simCheckInit(void)
{
    memset(&C, 0, sizeof C);
}

void simCheckClose(void)
{
    libFree(C.table);
    libFree(C.committed);
    libFree(C.leaders);
    libFree(C.read_need);
    memset(&C, 0, sizeof C);
}

static void *simGrow(void *a, size_t *n, size_t need, size_t size)
{
    if (need <= *n) {
        return a;
    }
    size_t cap = *n == 0 ? 256 : *n;
    while (cap < need) {
        cap *= 2;
    }
    a = libRealloc(a, cap * size);
    ASSERT(a != NULL);
    memset((char *)a + *n * size, 0, (cap - *n) * size);
    *n = cap;
    return a;
}

/* ------------------------------------------------------------ entries */

static struct slot *simSlot(uint64_t index, uint64_t term)
{
    size_t h = (size_t)((index * 0x9e3779b97f4a7c15ull) ^ (term * 31));
    for (size_t k = 0;; k++) {
        struct slot *s = &C.table[(h + k) & (C.cap - 1)];
        if (s->index == 0 || (s->index == index && s->term == term)) {
            return s;
        }
    }
}

static void simTableGrow(void)
{
    struct slot *old = C.table;
    size_t old_cap = C.cap;
    C.cap = C.cap == 0 ? 1024 : C.cap * 2;
    C.table = libCalloc(C.cap, sizeof *C.table);
    ASSERT(C.table != NULL);
    for (size_t k = 0; k < old_cap; k++) {
        if (old[k].index != 0) {
            *simSlot(old[k].index, old[k].term) = old[k];
        }
    }
    libFree(old);
}

uint64_t simCheckChainAt(uint64_t index, uint64_t term, bool *found)
{
    *found = false;
    if (C.cap == 0) {
        return 0;
    }
    struct slot *s = simSlot(index, term);
    *found = s->index != 0;
    return s->chain;
}

/* An entry entered a log: the core's (handed out, not yet durable) or the
 * disk's. Only durable entries are recorded: a lone voter that crashes
 * before its vote is written may win the same term again and write other
 * entries at the same indexes, which is fine since nobody saw the first
 * ones (the core sends nothing before the vote is durable). */
void simCheckAppend(int i, uint64_t index, uint64_t term, uint64_t chain,
                    bool durable)
{
    if (2 * (C.used + 1) > C.cap) {
        simTableGrow();
    }
    struct slot *s = simSlot(index, term);
    if (s->index == 0) {
        if (durable) {
            *s = (struct slot){index, term, chain};
            C.used++;
        }
        return;
    }
    if (s->chain != chain) {
        simFail("LOG MATCHING: n%d holds %llu/%llu with another prefix", i + 1,
                (unsigned long long)index, (unsigned long long)term);
    }
}

void simCheckApply(int i, uint64_t index, uint64_t term, uint64_t chain)
{
    bool found;
    uint64_t logged = simCheckChainAt(index, term, &found);
    if (!found || logged != chain) {
        simFail("STATE MACHINE: n%d applied %llu/%llu over another history",
                i + 1, (unsigned long long)index, (unsigned long long)term);
    }
    C.committed =
        simGrow(C.committed, &C.n_committed, index + 1, sizeof *C.committed);
    struct committed *c = &C.committed[index];
    if (c->term != 0 && (c->term != term || c->chain != chain)) {
        simFail("STATE MACHINE: n%d applied %llu/%llu, another node %llu/%llu",
                i + 1, (unsigned long long)index, (unsigned long long)term,
                (unsigned long long)index, (unsigned long long)c->term);
    }
    c->term = term;
    c->chain = chain;
    if (index > C.known_commit) {
        C.known_commit = index;
    }
}

uint64_t simCheckCommitted(void)
{
    return C.known_commit;
}

/* ------------------------------------------------------------ leaders */

/* The entry cache bound (docs/raft.md, "Memory"): past it and what a
 * snapshot in flight may hold besides, the log holds nothing a snapshot
 * covers. */
void simCheckCache(int i)
{
    const struct sim_node *n = &W->nodes[i];
    uint64_t bound = W->cfg.opts.entry_cache_bytes;
    bound += bound != 0 ? W->cfg.opts.snapshot_hold_bytes : 0;
    uint64_t held = raftLogBytes(n->r, 0, UINT64_MAX);
    uint64_t snap = n->disk.has_snap ? n->disk.meta.index : 0;
    if (bound != 0 && held > bound && raftLogBytes(n->r, 0, snap) > 0) {
        simFail("n%d: log holds %llu bytes (bound %llu), %llu of them "
                "covered by the snapshot at %llu",
                i + 1, (unsigned long long)held, (unsigned long long)bound,
                (unsigned long long)raftLogBytes(n->r, 0, snap),
                (unsigned long long)snap);
    }
}

void simCheckLeader(int i)
{
    struct raft *r = W->nodes[i].r;
    uint64_t last = raftLastIndex(r);
    for (uint64_t k = 1; k < C.n_committed && k <= C.known_commit; k++) {
        uint64_t t = raftTermAt(r, k);
        if (C.committed[k].term == 0 || (t == 0 && k <= raftCommitIndex(r))) {
            continue; /* not recorded, or compacted (hence committed) */
        }
        if (k > last || t != C.committed[k].term) {
            simFail("LEADER COMPLETENESS: n%d leads term %llu without "
                    "committed entry %llu/%llu",
                    i + 1, (unsigned long long)raftTerm(r),
                    (unsigned long long)k,
                    (unsigned long long)C.committed[k].term);
        }
    }
}

static void simRecordLeader(uint64_t term, uint64_t id)
{
    C.leaders = simGrow(C.leaders, &C.n_leaders, term + 1, sizeof *C.leaders);
    if (C.leaders[term] != 0 && C.leaders[term] != id) {
        simFail("ELECTION SAFETY: n%llu and n%llu both lead term %llu",
                (unsigned long long)C.leaders[term], (unsigned long long)id,
                (unsigned long long)term);
    }
    C.leaders[term] = id;
}

/* A leader's message left node i: its leadership is now observable. */
void simCheckLeaderMessage(int i, const struct raft_message *m)
{
    if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAPSHOT ||
        m->type == RAFT_MSG_TIMEOUT_NOW) {
        simRecordLeader(m->term, W->nodes[i].id);
    }
}

static void simCheckLeaderStep(int i)
{
    struct sim_node *n = &W->nodes[i];
    uint64_t term = raftTerm(n->r);
    if (n->disk.hs.term == term) {
        /* Durable (until then a crash undoes the leadership before anyone
         * could see it: the core sends nothing first). */
        simRecordLeader(term, n->id);
    }
    uint64_t last = raftLastIndex(n->r);
    if (n->lead_term == term) {
        uint64_t t = raftTermAt(n->r, n->lead_last);
        if (last < n->lead_last || (t != 0 && t != n->lead_last_term)) {
            simFail("LEADER APPEND-ONLY: n%d lost or rewrote entry %llu", i + 1,
                    (unsigned long long)n->lead_last);
        }
    }
    n->lead_term = term;
    n->lead_last = last;
    n->lead_last_term = raftTermAt(n->r, last);
}

void simCheckStep(void)
{
    for (unsigned i = 0; i < W->cfg.n_nodes; i++) {
        struct sim_node *n = &W->nodes[i];
        if (!n->up) {
            continue;
        }
        if (raftState(n->r) == RAFT_LEADER) {
            simCheckLeaderStep((int)i);
        } else {
            n->lead_term = 0;
        }
        if (raftCommitIndex(n->r) > raftLastIndex(n->r)) {
            simFail("n%u: commit index past the end of the log", i + 1);
        }
    }
}

/* ------------------------------------------------------------ reads */

void simCheckReadStart(uint64_t ctx)
{
    C.read_need =
        simGrow(C.read_need, &C.n_reads, ctx + 1, sizeof *C.read_need);
    uint64_t need = C.known_commit;
    for (unsigned i = 0; i < W->cfg.n_nodes; i++) {
        const struct sim_node *n = &W->nodes[i];
        if (n->up && raftCommitIndex(n->r) > need) {
            need = raftCommitIndex(n->r);
        }
    }
    C.read_need[ctx] = need;
}

void simCheckRead(int i, uint64_t ctx, uint64_t index)
{
    if (ctx >= C.n_reads || index < C.read_need[ctx]) {
        simFail("LINEARIZABILITY: n%d answered read %llu at %llu, but %llu "
                "was committed before it was asked",
                i + 1, (unsigned long long)ctx, (unsigned long long)index,
                (unsigned long long)(ctx < C.n_reads ? C.read_need[ctx] : 0));
    }
    sim_stats.reads++;
    simTrace("n%d: read %llu at index %llu", i + 1, (unsigned long long)ctx,
             (unsigned long long)index);
}
