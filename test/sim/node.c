/*
 * Driving one simulated node: creating its core from what its disk holds,
 * carrying out ready batches (immediate sends, a disk write that completes
 * later, sends after persistence, snapshot install, applying committed
 * entries), serving snapshot reads, taking snapshots, and crashing with a
 * torn write. The mirror log tracks what the core handed out, for the
 * log-matching check.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "sim/sim.h"

#define TICK_MS 10
#define SNAP_HEADER 28

int simNodeIndex(uint64_t id)
{
    return id >= 1 && id <= W->cfg.n_nodes ? (int)(id - 1) : -1;
}

uint64_t simNodeNow(int i)
{
    const struct sim_node *n = &W->nodes[i];
    return n->clock_offset_ms + W->now_ms * n->rate_permille / 1000;
}

int simLeader(void)
{
    int best = -1;
    for (unsigned i = 0; i < W->cfg.n_nodes; i++) {
        const struct sim_node *n = &W->nodes[i];
        if (n->up && raftState(n->r) == RAFT_LEADER &&
            (best < 0 || raftTerm(n->r) > raftTerm(W->nodes[best].r))) {
            best = (int)i;
        }
    }
    return best;
}

/* ------------------------------------------------------------ snapshots */

/* The application's snapshot: index, term, chain and a checkable filler. */
static uint8_t *simSnapEncode(uint64_t index, uint64_t term, uint64_t chain,
                              size_t *len)
{
    size_t filler = (size_t)(chain % 1500);
    uint8_t *buf = libMalloc(SNAP_HEADER + filler);
    ASSERT(buf != NULL);
    bytePut64(buf, index);
    bytePut64(buf + 8, term);
    bytePut64(buf + 16, chain);
    bytePut32(buf + 24, (uint32_t)filler);
    for (size_t k = 0; k < filler; k++) {
        buf[SNAP_HEADER + k] = (uint8_t)(k * 7 + index);
    }
    *len = SNAP_HEADER + filler;
    return buf;
}

static void simSnapRestore(int i)
{
    struct sim_node *n = &W->nodes[i];
    const uint8_t *b = n->disk.snap;
    bool found;
    if (n->disk.snap_len < SNAP_HEADER ||
        n->disk.snap_len != SNAP_HEADER + byteGet32(b + 24)) {
        simFail("n%d: snapshot file has a bad length", i + 1);
    }
    for (size_t k = 0; k < byteGet32(b + 24); k++) {
        if (b[SNAP_HEADER + k] != (uint8_t)(k * 7 + byteGet64(b))) {
            simFail("n%d: snapshot file corrupted at %zu", i + 1, k);
        }
    }
    n->applied = byteGet64(b);
    n->app_term = byteGet64(b + 8);
    n->app_chain = byteGet64(b + 16);
    if (n->applied != n->disk.meta.index) {
        simFail("n%d: snapshot data/metadata mismatch", i + 1);
    }
    uint64_t chain = simCheckChainAt(n->applied, n->app_term, &found);
    if (found && chain != n->app_chain) {
        simFail("n%d: snapshot at %llu restores a different state", i + 1,
                (unsigned long long)n->applied);
    }
}

/* The newest snapshot becomes the previous one; the one before is
 * deleted unless a transfer still reads it (`pinned`, like raftio keeps
 * raftSnapshotPinned). */
static void simNodeKeepPrevious(struct sim_disk *d, uint64_t pinned)
{
    if (pinned != 0 && pinned == d->prev_index && d->prev_snap != NULL) {
        libFree(d->pin_snap);
        d->pin_snap = d->prev_snap;
        d->pin_snap_len = d->prev_snap_len;
        d->pin_index = d->prev_index;
    } else {
        libFree(d->prev_snap);
        if (pinned == 0 || pinned != d->pin_index) {
            libFree(d->pin_snap);
            d->pin_snap = NULL;
            d->pin_snap_len = 0;
            d->pin_index = 0;
        }
    }
    d->prev_snap = d->has_snap ? d->snap : NULL;
    d->prev_snap_len = d->has_snap ? d->snap_len : 0;
    d->prev_index = d->has_snap ? d->meta.index : 0;
    d->snap = NULL;
    d->snap_len = 0;
}

void simNodeDropSnapshots(int i)
{
    struct sim_disk *d = &W->nodes[i].disk;
    raftSnapshotMetaClose(&d->meta);
    libFree(d->snap);
    libFree(d->prev_snap);
    libFree(d->pin_snap);
    d->snap = d->prev_snap = d->pin_snap = NULL;
    d->snap_len = d->prev_snap_len = d->pin_snap_len = 0;
    d->prev_index = d->pin_index = 0;
    d->has_snap = false;
}

static void simTakeSnapshot(int i)
{
    struct sim_node *n = &W->nodes[i];
    struct raft_snapshot_meta meta;
    uint64_t index = n->applied;
    if (raftSnapshotMetaAt(n->r, index, &meta) != 0) {
        return; /* nothing new to cover */
    }
    if (raftSnapshotTaken(n->r, index) != 0) {
        simFail("n%d: snapshot taken refused", i + 1);
    }
    simNodeKeepPrevious(&n->disk, raftSnapshotPinned(n->r));
    raftSnapshotMetaClose(&n->disk.meta);
    n->disk.meta = meta;
    n->disk.has_snap = true;
    n->disk.snap =
        simSnapEncode(index, n->app_term, n->app_chain, &n->disk.snap_len);
    uint64_t trailing = W->cfg.opts.snapshot_trailing;
    if (index > trailing && index - trailing <= simLogLast(&n->disk.log)) {
        simLogCompact(&n->disk.log, index - trailing);
    }
    simTrace("n%d: snapshot taken at %llu", i + 1, (unsigned long long)index);
    sim_stats.snapshots_taken++;
}

/* ------------------------------------------------------------ start/stop */

void simNodeStart(int i)
{
    struct sim_node *n = &W->nodes[i];
    struct sim_disk *d = &n->disk;
    struct raft_entry *entries = libMalloc((d->log.n + 1) * sizeof *entries);
    ASSERT(entries != NULL);
    for (size_t k = 0; k < d->log.n; k++) {
        entries[k] = d->log.a[k].e;
    }
    struct raft_options opts = W->cfg.opts;
    opts.seed = simRand();
    int rv =
        raftCreate(n->id, &opts, &d->hs, d->has_snap ? &d->meta : NULL, entries,
                   (unsigned)d->log.n, d->log.first, simNodeNow(i), &n->r);
    libFree(entries);
    if (rv != 0) {
        simFail("n%d: restart failed: %s", i + 1, errString(rv));
    }
    n->up = true;
    n->gen++;
    n->applied = n->app_chain = n->app_term = 0;
    if (d->has_snap) {
        simSnapRestore(i);
    }
    simLogCopy(&n->mirror, &d->log);
    n->lead_term = 0;
    simTrace("n%d: start term=%llu vote=%llu log=%llu..%llu snap=%llu", i + 1,
             (unsigned long long)d->hs.term, (unsigned long long)d->hs.vote,
             (unsigned long long)d->log.first,
             (unsigned long long)simLogLast(&d->log),
             (unsigned long long)(d->has_snap ? d->meta.index : 0));
    simPush(W->now_ms + simRange(1, TICK_MS), EV_TICK, i, NULL, 0);
}

/* ------------------------------------------------------------ the disk */

static unsigned simBatchOps(const struct raft_ready *rd)
{
    return rd->has_snapshot_chunk + (rd->truncate_from != 0) + rd->n_entries +
           rd->has_hard_state;
}

static void simDiskChunk(int i, const struct raft_ready *rd)
{
    struct sim_disk *d = &W->nodes[i].disk;
    const struct raft_snapshot_write *c = &rd->snapshot_chunk;
    if (c->offset == 0) {
        d->incoming_len = 0;
    }
    if (c->offset != d->incoming_len) {
        simFail("n%d: snapshot chunk at %llu, file has %zu", i + 1,
                (unsigned long long)c->offset, d->incoming_len);
    }
    d->incoming = libRealloc(d->incoming, d->incoming_len + c->len + 1);
    memcpy(d->incoming + d->incoming_len, c->data, c->len);
    d->incoming_len += c->len;
    if (!c->last) {
        return;
    }
    const struct raft_snapshot_meta *m = &rd->snapshot_install;
    simNodeKeepPrevious(d, 0);
    d->snap = d->incoming;
    d->snap_len = d->incoming_len;
    d->incoming = NULL;
    d->incoming_len = 0;
    raftSnapshotMetaClose(&d->meta);
    d->meta = *m;
    ASSERT(raftConfCopy(&m->conf, &d->meta.conf) == 0);
    d->has_snap = true;
    d->ever = true;
}

/* Applies the install to a log: keep a matching suffix or start over. */
static void simLogInstall(int i, struct sim_log *l,
                          const struct raft_snapshot_meta *m)
{
    bool found;
    if (simLogTerm(l, m->index) == m->term) {
        simLogCompact(l, m->index); /* keeps the matching suffix */
        return;
    }
    uint64_t chain = simCheckChainAt(m->index, m->term, &found);
    if (!found) {
        simFail("n%d: installed snapshot %llu/%llu was never in a log", i + 1,
                (unsigned long long)m->index, (unsigned long long)m->term);
    }
    simLogReset(l, m->index, m->term, chain);
}

static void simLogWrite(int i, struct sim_log *l, const struct raft_ready *rd,
                        unsigned *ops, bool mirror)
{
    if (rd->has_snapshot_install && *ops > 0 && mirror) {
        simLogInstall(i, l, &rd->snapshot_install);
    }
    if (rd->truncate_from != 0 && *ops > 0) {
        simLogTruncate(l, rd->truncate_from);
        (*ops)--;
    }
    for (unsigned k = 0; k<rd->n_entries && * ops> 0; k++, (*ops)--) {
        uint64_t index = rd->entries_index + k;
        if (index != simLogLast(l) + 1) {
            simFail("n%d: entry %llu written after %llu", i + 1,
                    (unsigned long long)index,
                    (unsigned long long)simLogLast(l));
        }
        uint64_t chain = simLogAppend(l, &rd->entries[k]);
        simCheckAppend(i, index, rd->entries[k].term, chain, !mirror);
    }
}

/* Carries out the first `ops` writes of the batch (all of them unless a
 * crash tears it). */
static void simDiskWrite(int i, const struct raft_ready *rd, unsigned ops)
{
    struct sim_disk *d = &W->nodes[i].disk;
    if (rd->has_snapshot_chunk && ops > 0) {
        simDiskChunk(i, rd);
        if (rd->has_snapshot_install) {
            simLogInstall(i, &d->log, &rd->snapshot_install);
        }
        ops--;
    }
    if (rd->n_entries > 0 || rd->truncate_from != 0) {
        d->ever = true;
    }
    simLogWrite(i, &d->log, rd, &ops, false);
    if (rd->has_hard_state && ops > 0) {
        d->hs = rd->hard_state;
        d->ever = true;
    }
}

void simNodeClose(int i)
{
    struct sim_node *n = &W->nodes[i];
    if (n->writing) {
        raftDiscard(n->r, &n->rd);
        n->writing = false;
    }
    raftDestroy(n->r);
    n->r = NULL;
    n->up = false;
    n->gen++;
}

void simNodeCrash(int i, bool torn)
{
    struct sim_node *n = &W->nodes[i];
    if (!n->up) {
        return;
    }
    if (n->writing && torn) {
        unsigned total = simBatchOps(&n->rd);
        unsigned ops = (unsigned)simRange(0, total);
        simDiskWrite(i, &n->rd, ops);
        simTrace("n%d: CRASH, torn write: %u of %u writes landed", i + 1, ops,
                 total);
        sim_stats.torn += ops < total;
    } else {
        simTrace("n%d: CRASH", i + 1);
    }
    sim_stats.crashes++;
    simNodeClose(i);
}

/* ------------------------------------------------------------ batches */

static void simServeSnapshotReads(int i, const struct raft_ready *rd)
{
    struct sim_node *n = &W->nodes[i];
    for (unsigned k = 0; k < rd->n_snapshot_reads; k++) {
        const struct raft_snapshot_read *q = &rd->snapshot_reads[k];
        const struct sim_disk *d = &n->disk;
        const uint8_t *file = NULL;
        size_t file_len = 0;
        if (d->has_snap && d->meta.index == q->index) {
            file = d->snap;
            file_len = d->snap_len;
        } else if (d->prev_snap != NULL && d->prev_index == q->index) {
            file = d->prev_snap;
            file_len = d->prev_snap_len;
        } else if (d->pin_snap != NULL && d->pin_index == q->index) {
            file = d->pin_snap;
            file_len = d->pin_snap_len;
        }
        if (file == NULL || q->offset > file_len || simChance(10)) {
            raftReportSnapshot(n->r, q->to, false);
            continue;
        }
        size_t len = file_len - q->offset;
        len = len < q->len ? len : q->len;
        ASSERT(raftSnapshotChunk(n->r, q->to, q->index, q->offset,
                                 file + q->offset, len,
                                 q->offset + len == file_len) == 0);
    }
}

static void simObserve(int i, const struct raft_ready *rd)
{
    if (rd->state_changed) {
        static const char *states[] = {"?", "follower", "candidate", "LEADER"};
        simTrace("n%d: %s term=%llu leader=%llu", i + 1, states[rd->state],
                 (unsigned long long)rd->term,
                 (unsigned long long)rd->leader_id);
        if (rd->state == RAFT_LEADER) {
            simCheckLeader(i);
            sim_stats.elections++;
        }
    }
    sim_stats.rollbacks += rd->conf_rolled_back;
    if (rd->conf_changed) {
        simTrace("n%d: configuration %llu%s%s", i + 1,
                 (unsigned long long)rd->conf_index,
                 rd->conf_committed ? " committed" : "",
                 rd->conf_rolled_back ? " (rolled back)" : "");
    }
    if (rd->transfer_failed) {
        simTrace("n%d: transfer failed", i + 1);
    }
    if (rd->n_notices > 0) {
        simTrace("n%d: %u notice(s), first: kind %d from n%llu index %llu "
                 "last %llu",
                 i + 1, rd->n_notices, rd->notice.kind,
                 (unsigned long long)rd->notice.from,
                 (unsigned long long)rd->notice.index,
                 (unsigned long long)rd->notice.last);
        sim_stats.notices += rd->n_notices;
    }
    for (unsigned k = 0; k < rd->n_reads; k++) {
        if (raftState(W->nodes[i].r) != RAFT_LEADER) {
            sim_stats.follower_reads++;
        }
        if (rd->reads[k].failed) {
            sim_stats.follower_reads_failed++;
            continue; /* refused: nothing was read */
        }
        simCheckRead(i, rd->reads[k].ctx, rd->reads[k].index);
    }
}

static void simSendNow(void *arg, const struct raft_send *s)
{
    simSendMessage(*(const int *)arg, &s->message);
}

void simNodePump(int i)
{
    struct sim_node *n = &W->nodes[i];
    if (n->up && n->writing) {
        /* as src/server does: appends and heartbeats do not wait for the
         * batch's disk write (raftSendNow) */
        raftSendNow(n->r, simSendNow, &i);
    }
    if (!n->up || n->writing || !raftHasReady(n->r)) {
        return;
    }
    if (raftReady(n->r, &n->rd) != 0) {
        simFail("n%d: raftReady failed", i + 1);
    }
    struct raft_ready *rd = &n->rd;
    n->writing = true;
    simObserve(i, rd);
    for (unsigned k = 0; k < rd->n_messages; k++) {
        simSendMessage(i, &rd->messages[k].message);
    }
    unsigned all = simBatchOps(rd) + 1;
    simLogWrite(i, &n->mirror, rd, &all, true);
    simServeSnapshotReads(i, rd);
    uint64_t delay = simBatchOps(rd) == 0
                         ? 0
                         : simRange(W->cfg.disk_min_ms, W->cfg.disk_max_ms);
    simPush(W->now_ms + delay, EV_DISK_DONE, i, NULL, 0);
}

static void simApply(int i, const struct raft_ready *rd)
{
    struct sim_node *n = &W->nodes[i];
    if (rd->has_snapshot_install) {
        simSnapRestore(i);
        simTrace("n%d: installed snapshot %llu", i + 1,
                 (unsigned long long)n->applied);
        sim_stats.installs++;
    }
    if (rd->n_committed > 0 && rd->committed_index != n->applied + 1) {
        simFail("n%d: applying %llu after %llu", i + 1,
                (unsigned long long)rd->committed_index,
                (unsigned long long)n->applied);
    }
    for (unsigned k = 0; k < rd->n_committed; k++) {
        const struct raft_entry *e = &rd->committed[k];
        uint64_t index = rd->committed_index + k;
        n->app_chain = simChain(n->app_chain, index, e);
        n->app_term = e->term;
        n->applied = index;
        simCheckApply(i, index, e->term, n->app_chain);
    }
}

void simNodeDiskDone(int i)
{
    struct sim_node *n = &W->nodes[i];
    struct raft_ready *rd = &n->rd;
    if (!n->up || !n->writing) {
        return;
    }
    if (simBatchOps(rd) > 0 && !W->healed &&
        simChance(W->cfg.disk_fail_permille)) {
        simTrace("n%d: write FAILED", i + 1);
        sim_stats.write_failures++;
        simNodeCrash(i, true);
        simPush(W->now_ms + simRange(1, 60), EV_RESTART, i, NULL, 0);
        return;
    }
    simDiskWrite(i, rd, simBatchOps(rd));
    for (unsigned k = 0; k < rd->n_messages_after_persist; k++) {
        simSendMessage(i, &rd->messages_after_persist[k].message);
    }
    simApply(i, rd);
    raftAdvance(n->r, rd);
    n->writing = false;
    uint64_t base = n->disk.has_snap ? n->disk.meta.index : 0;
    uint64_t half = W->cfg.opts.entry_cache_bytes / 2;
    if (n->applied >= base + W->cfg.snapshot_every ||
        (n->applied > base && raftLogBytes(n->r, base, n->applied) >= half)) {
        simTakeSnapshot(i); /* also src/server's entry cache rule */
    }
    simCheckCache(i);
    simNodePump(i);
}

void simNodeTick(int i)
{
    struct sim_node *n = &W->nodes[i];
    raftTick(n->r, simNodeNow(i));
    simNodePump(i);
    simPush(W->now_ms + simRange(TICK_MS - 2, TICK_MS + 2), EV_TICK, i, NULL,
            0);
}

void simNodeDeliver(int i, const uint8_t *buf, size_t len)
{
    struct sim_node *n = &W->nodes[i];
    struct raft_message m;
    int rv = raftMessageDecode(buf, len, &m);
    if (rv != 0) {
        simFail("n%d: decode failed: %s", i + 1, errString(rv));
    }
    /* As the server does (replicaReceive): the time of receipt is when a
     * follower heard from a leader, which leases count on. */
    raftTick(n->r, simNodeNow(i));
    rv = raftStep(n->r, &m);
    raftMessageClose(&m);
    if (rv != 0) {
        simFail("n%d: step failed: %s", i + 1, errString(rv));
    }
    simNodePump(i);
}
