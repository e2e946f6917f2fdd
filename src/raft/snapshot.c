/*
 * Snapshots: recording the application's snapshots and compacting the log
 * behind them (keeping trailing entries), and InstallSnapshot in chunks.
 *
 * Leader side: a follower whose next entry was compacted switches to
 * snapshot mode; the core asks the I/O layer for one chunk at a time
 * (ready.snapshot_reads), sends it when raftSnapshotChunk delivers the
 * bytes, and asks for the next one when the follower acknowledges: one
 * chunk in flight per follower bounds memory. A chunk unanswered for an
 * election timeout is sent again.
 * Follower side: chunks must arrive in order (offset 0 restarts); each is
 * handed to the I/O layer to write (ready.snapshot_chunk) and acknowledged
 * once durable; the last one installs the snapshot.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "raft/core.h"

/* Failed reads or sends in a row before a transfer starts over. */
#define SNAPSHOT_MAX_FAILURES 5

void raftSnapshotMetaClose(struct raft_snapshot_meta *meta)
{
    raftConfClose(&meta->conf);
}

/* ------------------------------------------------------------ compaction */

/* The configuration in effect at `index`: the last RAFT_CHANGE at or before
 * it, else the snapshot's. */
int raftConfAt(const struct raft *r, uint64_t index,
               struct raft_configuration *conf, uint64_t *conf_index)
{
    for (uint64_t i = index; i > r->log.offset; i--) {
        const struct raft_entry *e = logGet(&r->log, i);
        if (e->type == RAFT_CHANGE) {
            *conf_index = i;
            return raftConfDecode(e->data, e->len, conf);
        }
    }
    if (!r->has_snap) {
        raftConfInit(conf);
        *conf_index = 0;
        return 0;
    }
    *conf_index = r->snap.conf_index;
    return raftConfCopy(&r->snap.conf, conf);
}

int raftSnapshotMetaAt(const struct raft *r, uint64_t index,
                       struct raft_snapshot_meta *meta)
{
    raftConfInit(&meta->conf);
    if (index > r->applied || index <= r->log.offset) {
        return ERR_INVALID;
    }
    meta->index = index;
    meta->term = logTermAt(&r->log, index);
    return raftConfAt(r, index, &meta->conf, &meta->conf_index);
}

/* A transfer to some follower reads the snapshot at `index`. */
static bool raftSnapshotInFlight(const struct raft *r, uint64_t index)
{
    if (r->state != RAFT_LEADER) {
        return false;
    }
    for (unsigned i = 0; i < r->n_prs; i++) {
        if (r->prs[i].mode == PROGRESS_SNAPSHOT &&
            r->prs[i].snap_index == index) {
            return true;
        }
    }
    return false;
}

uint64_t raftSnapshotPinned(const struct raft *r)
{
    uint64_t oldest = 0;
    if (r->state != RAFT_LEADER || !r->has_snap) {
        return 0;
    }
    for (unsigned i = 0; i < r->n_prs; i++) {
        const struct raft_progress *pr = &r->prs[i];
        if (pr->mode == PROGRESS_SNAPSHOT && pr->snap_index < r->snap.index &&
            (oldest == 0 || pr->snap_index < oldest)) {
            oldest = pr->snap_index;
        }
    }
    return oldest;
}

/* Records `meta` as the newest snapshot; the one it replaces stays known
 * as the previous one (see core.h), and the previous one becomes the
 * pinned one when a transfer still reads it (the oldest transfer wins:
 * one pinned at most). Takes over what `meta` owns. */
static void raftSnapshotPush(struct raft *r, struct raft_snapshot_meta *meta)
{
    bool pin_in_use =
        r->has_pin_snap && raftSnapshotInFlight(r, r->pin_snap.index);
    if (r->has_prev_snap && !pin_in_use &&
        raftSnapshotInFlight(r, r->prev_snap.index)) {
        raftSnapshotMetaClose(&r->pin_snap);
        r->pin_snap = r->prev_snap;
        r->has_pin_snap = true;
    } else {
        raftSnapshotMetaClose(&r->prev_snap);
    }
    r->prev_snap = r->snap;
    r->has_prev_snap = r->has_snap;
    r->snap = *meta;
    r->has_snap = true;
    raftConfInit(&meta->conf);
}

/* Where compaction behind a snapshot at `index` may go: index -
 * snapshot_trailing, but not past the index a follower is being sent a
 * snapshot at or is catching up from after one (it needs the entries
 * after it next: without them it would be sent a newer snapshot, and
 * chase snapshots for as long as a transfer outlasts the trailing window),
 * and never keeping more than snapshot_hold_max entries for it; and in
 * any case far enough that the log holds at most entry_cache_bytes, or
 * snapshot_hold_bytes more for a hold (docs/raft.md, "Memory"). */
uint64_t raftCompactionBound(const struct raft *r, uint64_t index)
{
    uint64_t last = logLastIndex(&r->log);
    index = index < last ? index : last;
    uint64_t upto =
        index > r->o.snapshot_trailing ? index - r->o.snapshot_trailing : 0;
    uint64_t floor =
        upto > r->o.snapshot_hold_max ? upto - r->o.snapshot_hold_max : 0;
    if (r->o.entry_cache_bytes != 0) {
        uint64_t cache = r->o.entry_cache_bytes;
        uint64_t by_bytes = logIndexKeeping(&r->log, cache);
        by_bytes = by_bytes < index ? by_bytes : index;
        upto = by_bytes > upto ? by_bytes : upto;
        by_bytes = logIndexKeeping(&r->log, cache + r->o.snapshot_hold_bytes);
        by_bytes = by_bytes < upto ? by_bytes : upto;
        floor = by_bytes > floor ? by_bytes : floor;
    }
    if (r->state != RAFT_LEADER) {
        return upto;
    }
    for (unsigned i = 0; i < r->n_prs; i++) {
        uint64_t hold = r->prs[i].hold_index;
        if (hold != 0 && hold < upto) {
            upto = hold > floor ? hold : floor;
        }
    }
    return upto;
}

void raftCacheTrim(struct raft *r)
{
    if (!r->has_snap || r->o.entry_cache_bytes == 0 ||
        logBytes(&r->log, 0, UINT64_MAX) <= r->o.entry_cache_bytes) {
        return; /* (within the bound: the next snapshot compacts) */
    }
    uint64_t upto = raftCompactionBound(r, r->snap.index);
    if (upto > r->log.offset) {
        logCompact(&r->log, upto);
    }
}

uint64_t raftLogBytes(const struct raft *r, uint64_t after, uint64_t upto)
{
    return logBytes(&r->log, after, upto);
}

int raftSnapshotTaken(struct raft *r, uint64_t index)
{
    struct raft_snapshot_meta meta;
    if (r->has_snap && index <= r->snap.index) {
        return 0;
    }
    int rv = raftSnapshotMetaAt(r, index, &meta);
    if (rv != 0) {
        return rv;
    }
    raftSnapshotPush(r, &meta);
    uint64_t upto = raftCompactionBound(r, index);
    if (upto > r->log.offset) {
        logCompact(&r->log, upto);
    }
    return 0;
}

void raftSnapshotPersisted(struct raft *r, uint64_t index, uint64_t term)
{
    if (r->has_snap && r->snap.index == index && r->snap.term == term &&
        r->stable < index) {
        r->stable = index;
    }
}

/* ------------------------------------------------------------ leader */

static int raftRequestChunk(struct raft *r, struct raft_progress *pr)
{
    struct raft_snapshot_read *reads =
        libRealloc(r->snap_reads, (r->n_snap_reads + 1) * sizeof *reads);
    if (reads == NULL) {
        return ERR_NOMEM;
    }
    r->snap_reads = reads;
    reads[r->n_snap_reads++] =
        (struct raft_snapshot_read){pr->id, pr->snap_index, pr->snap_term,
                                    pr->snap_offset, r->o.snapshot_chunk_bytes};
    pr->snap_reading = true;
    pr->snap_sending = false;
    pr->snap_sent_ms = r->now_ms;
    return 0;
}

/* An older snapshot already being sent to another follower, when it
 * serves this one too (newer than what it holds, and the log still holds
 * the entries after it): concurrent transfers converge on one snapshot, so
 * one pinned snapshot and one held log window are enough. */
static const struct raft_snapshot_meta *
raftSnapshotShared(const struct raft *r, const struct raft_progress *pr)
{
    const struct raft_snapshot_meta *older[2] = {
        r->has_pin_snap ? &r->pin_snap : NULL,
        r->has_prev_snap ? &r->prev_snap : NULL};
    for (unsigned k = 0; k < 2; k++) {
        const struct raft_snapshot_meta *s = older[k];
        if (s != NULL && s->index > pr->match && s->index >= r->log.offset &&
            raftSnapshotInFlight(r, s->index)) {
            return s;
        }
    }
    return &r->snap;
}

int raftSendSnapshot(struct raft *r, struct raft_progress *pr)
{
    if (!r->has_snap) {
        return 0; /* cannot happen: only snapshots compact the log */
    }
    const struct raft_snapshot_meta *s = raftSnapshotShared(r, pr);
    pr->mode = PROGRESS_SNAPSHOT;
    pr->in_head = pr->in_count = 0;
    pr->in_bytes = 0;
    pr->snap_index = s->index;
    pr->snap_term = s->term;
    pr->snap_offset = 0;
    pr->snap_failures = 0;
    pr->hold_index = s->index; /* released if the follower never answers */
    return raftRequestChunk(r, pr);
}

/* The metadata of the snapshot at `index` if it is still readable (one of
 * the two newest or the pinned one), else NULL. */
static const struct raft_snapshot_meta *
raftSnapshotFind(const struct raft *r, uint64_t index, uint64_t term)
{
    if (r->has_snap && r->snap.index == index && r->snap.term == term) {
        return &r->snap;
    }
    if (r->has_prev_snap && r->prev_snap.index == index &&
        r->prev_snap.term == term) {
        return &r->prev_snap;
    }
    if (r->has_pin_snap && r->pin_snap.index == index &&
        r->pin_snap.term == term) {
        return &r->pin_snap;
    }
    return NULL;
}

static void raftSnapshotAbort(struct raft_progress *pr)
{
    pr->mode = PROGRESS_PROBE;
    pr->next = pr->match + 1;
    pr->probe_sent = false;
    pr->snap_reading = pr->snap_sending = false;
}

int raftSnapshotChunk(struct raft *r, uint64_t to, uint64_t index,
                      uint64_t offset, const uint8_t *data, size_t len,
                      bool last)
{
    struct raft_progress *pr = raftProgress(r, to);
    struct raft_message m = {0};
    if (r->state != RAFT_LEADER || pr == NULL ||
        pr->mode != PROGRESS_SNAPSHOT || !pr->snap_reading ||
        index != pr->snap_index || offset != pr->snap_offset) {
        return 0; /* stale */
    }
    /* A snapshot superseded by a newer one goes on while it can be read:
     * starting over would let a transfer that outlasts the snapshot
     * interval never end. */
    const struct raft_snapshot_meta *meta =
        raftSnapshotFind(r, index, pr->snap_term);
    if (meta == NULL || len > RAFT_CHUNK_MAX_BYTES) {
        raftSnapshotAbort(pr); /* start over with the newest one */
        return 0;
    }
    m.type = RAFT_MSG_SNAPSHOT;
    m.to = to;
    m.term = r->term;
    m.snapshot.index = index;
    m.snapshot.term = meta->term;
    m.snapshot.conf_index = meta->conf_index;
    m.snapshot.offset = offset;
    m.snapshot.last = last;
    m.snapshot.len = len;
    if (len > 0 && (m.snapshot.data = raftPayloadAlloc(len)) == NULL) {
        return ERR_NOMEM;
    }
    if (len > 0) {
        memcpy(m.snapshot.data, data, len);
    }
    int rv = raftConfCopy(&meta->conf, &m.snapshot.conf);
    if (rv != 0) {
        raftPayloadUnref(m.snapshot.data);
        return rv;
    }
    pr->snap_reading = false;
    pr->snap_sending = true;
    pr->snap_sent_ms = r->now_ms;
    return raftSend(r, &m, false);
}

int raftStepSnapshotResult(struct raft *r, const struct raft_message *m)
{
    const struct raft_snapshot_result *res = &m->snapshot_result;
    struct raft_progress *pr = raftProgress(r, m->from);
    if (r->state != RAFT_LEADER || pr == NULL) {
        return 0;
    }
    pr->recent_active = true;
    if (pr->mode != PROGRESS_SNAPSHOT || !pr->snap_sending ||
        res->index != pr->snap_index || res->offset > RAFT_MSG_MAX_BYTES) {
        return 0;
    }
    /* The follower is receiving: compaction holds at the snapshot (again,
     * when a silence released it): the entries after it come next. */
    pr->hold_index = pr->snap_index;
    if (res->done) {
        if (res->index > pr->match) {
            pr->match = res->index;
        }
        raftSnapshotAbort(pr);
        int rv = raftMaybeCommit(r);
        if (rv != 0 || (pr = raftProgress(r, m->from)) == NULL) {
            return rv;
        }
        return raftSendAppend(r, pr, false);
    }
    pr->snap_offset = res->offset;
    pr->snap_failures = 0;
    return raftRequestChunk(r, pr);
}

int raftSnapshotTick(struct raft *r)
{
    for (unsigned i = 0; i < r->n_prs; i++) {
        struct raft_progress *pr = &r->prs[i];
        /* Nothing out (a failed read or send): retry after a heartbeat
         * interval; a chunk or read unanswered for an election timeout
         * was lost. */
        bool idle = !pr->snap_reading && !pr->snap_sending;
        uint64_t wait_ms =
            idle ? r->o.heartbeat_timeout_ms : r->o.election_timeout_ms;
        if (pr->mode != PROGRESS_SNAPSHOT ||
            r->now_ms - pr->snap_sent_ms < wait_ms) {
            continue;
        }
        if (raftSnapshotFind(r, pr->snap_index, pr->snap_term) == NULL) {
            raftSnapshotAbort(pr);
            continue;
        }
        if (pr->snap_offset == 0) {
            /* Not one chunk acknowledged in that time: a follower that is
             * down holds no compaction (it would pin every entry after
             * the snapshot, up to snapshot_hold_max); its answer takes
             * the hold again. */
            pr->hold_index = 0;
        }
        int rv = raftRequestChunk(r, pr); /* lost chunk or lost read */
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

/* A failed read or send is retried from the same offset at the next
 * heartbeat; starting over (with a newer snapshot) is for a snapshot that
 * can no longer be read or a transfer failing again and again. */
void raftReportSnapshot(struct raft *r, uint64_t id, bool ok)
{
    struct raft_progress *pr = raftProgress(r, id);
    if (r->state != RAFT_LEADER || pr == NULL ||
        pr->mode != PROGRESS_SNAPSHOT || ok) {
        return;
    }
    if (++pr->snap_failures >= SNAPSHOT_MAX_FAILURES ||
        raftSnapshotFind(r, pr->snap_index, pr->snap_term) == NULL) {
        raftSnapshotAbort(pr);
        return;
    }
    pr->snap_reading = pr->snap_sending = false;
    pr->snap_sent_ms = r->now_ms; /* raftSnapshotTick retries */
}

void raftReportUnreachable(struct raft *r, uint64_t id)
{
    struct raft_progress *pr = raftProgress(r, id);
    if (r->state != RAFT_LEADER || pr == NULL ||
        pr->mode != PROGRESS_PIPELINE) {
        return;
    }
    pr->mode = PROGRESS_PROBE;
    pr->next = pr->match + 1;
    pr->probe_sent = false;
    pr->in_head = pr->in_count = 0;
    pr->in_bytes = 0;
}

/* ------------------------------------------------------------ follower */

/* The last chunk arrived: the snapshot replaces the log up to its index. */
static int raftInstall(struct raft *r, const struct raft_snapshot_chunk_msg *s)
{
    struct raft_snapshot_meta meta = {s->index, s->term, {0}, s->conf_index};
    PRE(!r->has_install);
    int rv = raftConfCopy(&s->conf, &meta.conf);
    if (rv == 0) {
        rv = raftConfCopy(&s->conf, &r->install.conf);
    }
    if (rv != 0) {
        raftConfClose(&meta.conf);
        return rv;
    }
    r->install.index = s->index;
    r->install.term = s->term;
    r->install.conf_index = s->conf_index;
    r->has_install = true;
    if (s->index <= logLastIndex(&r->log) &&
        logTermAt(&r->log, s->index) == s->term) {
        logCompact(&r->log, s->index); /* keep the matching suffix */
        if (r->persist_from <= s->index) {
            r->persist_from = s->index + 1; /* the snapshot covers them */
        }
    } else {
        if (r->persist_from > s->index + 1 &&
            (r->truncate_from == 0 || r->truncate_from > s->index + 1)) {
            r->truncate_from = s->index + 1;
        }
        logReset(&r->log, s->index, s->term);
        r->persist_from = s->index + 1;
        if (r->stable > s->index) {
            r->stable = s->index;
        }
    }
    raftSnapshotPush(r, &meta);
    r->commit = r->commit > s->index ? r->commit : s->index;
    r->applied = s->index;
    return raftConfRebuild(r);
}

static int raftAcceptChunk(struct raft *r,
                           const struct raft_snapshot_chunk_msg *s)
{
    if (s->last) {
        int rv = raftInstall(r, s);
        if (rv != 0) {
            return rv; /* as if the chunk was lost */
        }
    }
    r->has_chunk = true;
    r->chunk = (struct raft_snapshot_write){s->index, s->term, s->offset,
                                            s->data,  s->len,  s->last};
    raftPayloadRef(s->data);
    r->in_snap_offset += s->len;
    return 0;
}

/* A well-formed chunk: a snapshot of a real entry (index and term > 0, no
 * newer than the message), whose configuration is not empty and came from
 * an entry it covers. Anything else comes from a broken or forged peer and
 * is ignored (a term-0 snapshot used to match any index past the log and
 * trip an assertion). */
bool raftSnapshotSane(const struct raft_message *m)
{
    const struct raft_snapshot_chunk_msg *s = &m->snapshot;
    return s->index > 0 && s->index <= RAFT_INDEX_MAX && s->term > 0 &&
           s->term <= m->term && s->conf_index <= s->index && s->conf.n > 0 &&
           s->offset <= UINT64_MAX - s->len;
}

int raftStepSnapshot(struct raft *r, const struct raft_message *m)
{
    const struct raft_snapshot_chunk_msg *s = &m->snapshot;
    struct raft_message reply = {0};
    int rv = 0;
    if (r->state == RAFT_LEADER) {
        return 0; /* raftStep checked raftSnapshotSane */
    }
    if (r->state == RAFT_CANDIDATE) {
        raftBecomeFollower(r, r->term, m->from);
    }
    raftNoteLeader(r, m->from);
    reply.type = RAFT_MSG_SNAPSHOT_RESULT;
    reply.to = m->from;
    reply.term = r->term;
    reply.snapshot_result.index = s->index;
    if (s->index <= r->commit) {
        reply.snapshot_result.success = reply.snapshot_result.done = 1;
        return raftSend(r, &reply, true);
    }
    if (s->offset == 0) {
        r->in_snap_index = s->index;
        r->in_snap_term = s->term;
        r->in_snap_offset = 0;
    }
    bool in_order = s->index == r->in_snap_index &&
                    s->term == r->in_snap_term &&
                    s->offset == r->in_snap_offset && !r->has_chunk;
    if (in_order) {
        rv = raftAcceptChunk(r, s);
        reply.snapshot_result.success = rv == 0;
        reply.snapshot_result.done = rv == 0 && s->last;
    }
    reply.snapshot_result.offset =
        s->index == r->in_snap_index ? r->in_snap_offset : 0;
    int rv2 = raftSend(r, &reply, true);
    return rv != 0 ? rv : rv2;
}
