/*
 * Ready batches: gathering everything the core wants done (writes, sends,
 * applies, reads, notifications) into one `struct raft_ready`, and
 * releasing it on raftAdvance. The contract is documented in raft.h; this
 * file makes the batch own its contents (payload references, messages, a
 * copy of the configuration for the addresses) so that inputs may keep
 * arriving while the batch is carried out.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "raft/core.h"

static bool raftNotificationsPending(const struct raft *r)
{
    bool committed = r->conf_index <= r->commit;
    return r->state != r->rep_state || r->leader_id != r->rep_leader ||
           r->term != r->rep_term || r->conf_index != r->rep_conf_index ||
           committed != r->rep_conf_committed || r->transfer_failed ||
           r->conf_rolled_back;
}

bool raftHasReady(const struct raft *r)
{
    if (r->batch_out) {
        return false;
    }
    return r->out_now.n > 0 || r->out_after.n > 0 || r->hs_dirty ||
           r->truncate_from != 0 || r->persist_from <= logLastIndex(&r->log) ||
           r->has_chunk || r->applied < r->commit || r->n_reads > 0 ||
           r->n_snap_reads > 0 || r->n_notices > 0 ||
           raftNotificationsPending(r);
}

/* Copies entries [from, to] with a payload reference each. */
static int raftReadyEntries(struct raft *r, uint64_t from, uint64_t to,
                            struct raft_entry **out, unsigned *n)
{
    *out = NULL;
    *n = 0;
    if (from > to) {
        return 0;
    }
    PRE(from > r->log.offset && to <= logLastIndex(&r->log));
    *out = libMalloc((size_t)(to - from + 1) * sizeof **out);
    if (*out == NULL) {
        return ERR_NOMEM;
    }
    for (uint64_t i = from; i <= to; i++) {
        (*out)[(*n)++] = *logGet(&r->log, i);
        raftPayloadRef((*out)[*n - 1].data);
    }
    return 0;
}

static void raftReadyTakeSends(struct raft *r, struct raft_outbox *o,
                               struct raft_send **sends, unsigned *n)
{
    for (unsigned i = 0; i < o->n; i++) {
        const struct raft_server *s =
            raftConfGet(&r->batch_conf, o->sends[i].to);
        o->sends[i].address = s != NULL ? s->address : "";
    }
    *sends = o->sends;
    *n = o->n;
    o->sends = NULL;
    o->n = o->cap = 0;
}

static void raftReadyNotify(struct raft *r, struct raft_ready *rd)
{
    bool committed = r->conf_index <= r->commit;
    rd->state = r->state;
    rd->leader_id = r->leader_id;
    rd->term = r->term;
    rd->state_changed = r->state != r->rep_state ||
                        r->leader_id != r->rep_leader || r->term != r->rep_term;
    rd->conf_index = r->conf_index;
    rd->conf_committed = committed;
    rd->conf_changed = r->conf_index != r->rep_conf_index ||
                       committed != r->rep_conf_committed ||
                       r->conf_rolled_back;
    rd->conf_rolled_back = r->conf_rolled_back;
    rd->transfer_failed = r->transfer_failed;
    r->rep_state = r->state;
    r->rep_leader = r->leader_id;
    r->rep_term = r->term;
    r->rep_conf_index = r->conf_index;
    r->rep_conf_committed = committed;
    r->conf_rolled_back = false;
    r->transfer_failed = false;
    rd->n_notices = r->n_notices;
    rd->notice = r->notice;
    r->n_notices = 0;
    memset(&r->notice, 0, sizeof r->notice);
}

/* Writes: truncation, new entries, hard state, snapshot chunk. */
static int raftReadyWrites(struct raft *r, struct raft_ready *rd)
{
    uint64_t last = logLastIndex(&r->log);
    int rv = raftReadyEntries(r, r->persist_from, last, &rd->entries,
                              &rd->n_entries);
    if (rv != 0) {
        return rv;
    }
    rd->entries_index = r->persist_from;
    rd->truncate_from = r->truncate_from;
    r->truncate_from = 0;
    r->persist_from = last + 1;
    rd->has_hard_state = r->hs_dirty;
    rd->hard_state = (struct raft_hard_state){r->term, r->vote};
    r->hs_dirty = false;
    rd->has_snapshot_chunk = r->has_chunk;
    rd->snapshot_chunk = r->chunk;
    r->has_chunk = false;
    memset(&r->chunk, 0, sizeof r->chunk);
    rd->has_snapshot_install = r->has_install;
    rd->snapshot_install = r->install;
    r->has_install = false;
    memset(&r->install, 0, sizeof r->install);
    return 0;
}

int raftReady(struct raft *r, struct raft_ready *rd)
{
    int rv;
    PRE(!r->batch_out);
    memset(rd, 0, sizeof *rd);
    if (r->hs_dirty && (rv = outboxHoldAll(&r->out_now, &r->out_after))) {
        return rv;
    }
    rv = raftConfCopy(&r->conf, &r->batch_conf);
    if (rv != 0) {
        return rv;
    }
    rv = raftReadyEntries(r, r->applied + 1, r->commit, &rd->committed,
                          &rd->n_committed);
    if (rv != 0) {
        raftConfClose(&r->batch_conf);
        return rv;
    }
    rd->committed_index = r->applied + 1;
    rv = raftReadyWrites(r, rd);
    if (rv != 0) {
        raftDiscard(r, rd); /* releases what was taken so far */
        return rv;
    }
    r->applied = r->commit;
    raftReadyTakeSends(r, &r->out_now, &rd->messages, &rd->n_messages);
    raftReadyTakeSends(r, &r->out_after, &rd->messages_after_persist,
                       &rd->n_messages_after_persist);
    rd->reads = r->reads;
    rd->n_reads = r->n_reads;
    r->reads = NULL;
    r->n_reads = 0;
    rd->snapshot_reads = r->snap_reads;
    rd->n_snapshot_reads = r->n_snap_reads;
    r->snap_reads = NULL;
    r->n_snap_reads = 0;
    raftReadyNotify(r, rd);
    r->batch_out = true;
    r->batch_hs = rd->has_hard_state;
    return 0;
}

void raftSendNow(struct raft *r, raft_send_fn send, void *arg)
{
    struct raft_outbox o = r->out_now;
    /* A term or vote that is not durable yet must not be promised to
     * anyone (raft.h step 3): what was sent under it waits for the batch
     * that writes it. */
    if (!r->batch_out || r->batch_hs || r->hs_dirty || o.n == 0) {
        return;
    }
    /* detached: whatever `send` causes to be sent goes to a new outbox */
    memset(&r->out_now, 0, sizeof r->out_now);
    for (unsigned i = 0; i < o.n; i++) {
        struct raft_send *s = &o.sends[i];
        const struct raft_server *server = raftConfGet(&r->conf, s->to);
        s->address = server != NULL ? server->address : "";
        send(arg, s);
        raftMessageClose(&s->message);
    }
    if (r->out_now.sends == NULL) {
        r->out_now.sends = o.sends; /* keep the room for the next ones */
        r->out_now.cap = o.cap;
    } else {
        libFree(o.sends);
    }
}

static void raftReleaseEntries(struct raft_entry *entries, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        raftPayloadUnref(entries[i].data);
    }
    libFree(entries);
}

static void raftReleaseSends(struct raft_send *sends, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        raftMessageClose(&sends[i].message);
    }
    libFree(sends);
}

void raftDiscard(struct raft *r, struct raft_ready *rd)
{
    raftReleaseEntries(rd->entries, rd->n_entries);
    raftReleaseEntries(rd->committed, rd->n_committed);
    raftReleaseSends(rd->messages, rd->n_messages);
    raftReleaseSends(rd->messages_after_persist, rd->n_messages_after_persist);
    raftPayloadUnref(rd->snapshot_chunk.data);
    raftSnapshotMetaClose(&rd->snapshot_install);
    libFree(rd->reads);
    libFree(rd->snapshot_reads);
    raftConfClose(&r->batch_conf);
    memset(rd, 0, sizeof *rd);
    r->batch_out = false;
    r->batch_hs = false;
}

void raftAdvance(struct raft *r, struct raft_ready *rd)
{
    PRE(r->batch_out);
    if (rd->has_snapshot_install) {
        raftSnapshotPersisted(r, rd->snapshot_install.index,
                              rd->snapshot_install.term);
    }
    if (rd->n_entries > 0) {
        raftPersisted(r, rd->entries_index + rd->n_entries - 1,
                      rd->entries[rd->n_entries - 1].term);
    }
    raftDiscard(r, rd);
}
