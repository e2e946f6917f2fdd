/*
 * Log replication: the leader's AppendEntries (probe / pipeline modes with
 * a bounded in-flight window, heartbeats), the follower's consistency check
 * and append, fast back-tracking on conflicts, and commitment by a quorum
 * of matching voters for an entry of the current term.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "raft/core.h"

/* ------------------------------------------------------------ progress */

void raftProgressReset(struct raft *r, struct raft_progress *pr)
{
    pr->next = logLastIndex(&r->log) + 1;
    pr->match = 0;
    pr->mode = PROGRESS_PROBE;
    pr->probe_sent = false;
    pr->in_head = pr->in_count = 0;
    pr->in_bytes = 0;
    pr->read_ack = 0;
    pr->lease_acked = false;
    pr->lease_ack_ms = 0;
    pr->snap_reading = pr->snap_sending = false;
    pr->hold_index = 0;
    pr->regress_seen = false;
    pr->last_send_ms = r->now_ms;
}

static bool raftInflightFull(const struct raft *r,
                             const struct raft_progress *pr)
{
    return pr->in_count >= r->o.max_inflight_msgs ||
           (r->o.max_inflight_bytes > 0 &&
            pr->in_bytes >= r->o.max_inflight_bytes);
}

static void raftInflightAdd(struct raft *r, struct raft_progress *pr,
                            uint64_t last_index, size_t bytes)
{
    PRE(pr->in_count < r->o.max_inflight_msgs);
    unsigned slot = (pr->in_head + pr->in_count) % r->o.max_inflight_msgs;
    pr->inflight[slot] = (struct raft_inflight){last_index, bytes};
    pr->in_count++;
    pr->in_bytes += bytes;
}

static void raftInflightFreeTo(struct raft *r, struct raft_progress *pr,
                               uint64_t index)
{
    while (pr->in_count > 0 && pr->inflight[pr->in_head].last_index <= index) {
        pr->in_bytes -= pr->inflight[pr->in_head].bytes;
        pr->in_head = (pr->in_head + 1) % r->o.max_inflight_msgs;
        pr->in_count--;
    }
}

static void raftBecomeProbe(struct raft_progress *pr, uint64_t next)
{
    pr->mode = PROGRESS_PROBE;
    pr->next = next > pr->match + 1 ? next : pr->match + 1;
    pr->probe_sent = false;
    pr->in_head = pr->in_count = 0;
    pr->in_bytes = 0;
}

/* ------------------------------------------------------------ leader send */

/* Fills m->append.entries from pr->next within the batch limits. */
static int raftCollectEntries(struct raft *r, struct raft_progress *pr,
                              struct raft_message *m, size_t *bytes)
{
    uint64_t last = logLastIndex(&r->log);
    unsigned n = 0;
    *bytes = 0;
    while (pr->next + n <= last && n < r->o.max_append_entries &&
           (n == 0 || *bytes < r->o.max_append_bytes)) {
        *bytes += logGet(&r->log, pr->next + n)->len;
        n++;
    }
    if (n == 0) {
        return 0;
    }
    m->append.entries = libMalloc(n * sizeof *m->append.entries);
    if (m->append.entries == NULL) {
        return ERR_NOMEM;
    }
    for (unsigned i = 0; i < n; i++) {
        m->append.entries[i] = *logGet(&r->log, pr->next + i);
        raftPayloadRef(m->append.entries[i].data);
    }
    m->append.n_entries = n;
    return 0;
}

static void raftAppendHeader(struct raft *r, struct raft_progress *pr,
                             struct raft_message *m, uint64_t prev)
{
    m->type = RAFT_MSG_APPEND;
    m->to = pr->id;
    m->term = r->term;
    m->append.prev_index = prev;
    m->append.prev_term = raftTermAt(r, prev);
    m->append.commit = r->commit;
    m->append.read_seq = r->read_seq;
    pr->last_send_ms = r->now_ms;
}

/* An empty append at the follower's known match (at 0 when that entry is
 * compacted, e.g. during a snapshot install): keeps the leadership alive,
 * carries the commit index and read-index rounds. */
static int raftSendHeartbeat(struct raft *r, struct raft_progress *pr)
{
    struct raft_message m = {0};
    uint64_t prev = pr->match;
    if (prev > 0 && raftTermAt(r, prev) == 0) {
        prev = 0;
    }
    raftAppendHeader(r, pr, &m, prev);
    m.append.commit = r->commit < prev ? r->commit : prev;
    return raftSend(r, &m, false);
}

static bool raftReplicatesTo(const struct raft *r,
                             const struct raft_progress *pr)
{
    const struct raft_server *s = raftConfGet(&r->conf, pr->id);
    return s != NULL && (s->role != RAFT_SPARE || pr->id == r->promotee);
}

int raftSendAppend(struct raft *r, struct raft_progress *pr, bool heartbeat)
{
    struct raft_message m = {0};
    uint64_t prev = pr->next - 1;
    size_t bytes;
    int rv;
    if (!raftReplicatesTo(r, pr)) {
        return 0;
    }
    if (pr->mode == PROGRESS_SNAPSHOT) {
        return heartbeat ? raftSendHeartbeat(r, pr) : 0;
    }
    if (prev < r->log.offset || (prev > 0 && raftTermAt(r, prev) == 0)) {
        return raftSendSnapshot(r, pr);
    }
    bool paused = (pr->mode == PROGRESS_PROBE && pr->probe_sent) ||
                  (pr->mode == PROGRESS_PIPELINE && raftInflightFull(r, pr));
    bool idle = pr->next > logLastIndex(&r->log);
    if (paused || (idle && pr->mode == PROGRESS_PIPELINE)) {
        return heartbeat ? raftSendHeartbeat(r, pr) : 0;
    }
    raftAppendHeader(r, pr, &m, prev);
    rv = raftCollectEntries(r, pr, &m, &bytes);
    if (rv != 0) {
        return rv;
    }
    if (pr->mode == PROGRESS_PROBE) {
        pr->probe_sent = true;
    } else {
        pr->next += m.append.n_entries;
        raftInflightAdd(r, pr, pr->next - 1, bytes);
    }
    return raftSend(r, &m, false);
}

int raftBroadcastAppend(struct raft *r, bool heartbeat)
{
    for (unsigned i = 0; i < r->n_prs; i++) {
        int rv = raftSendAppend(r, &r->prs[i], heartbeat);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

/* The heartbeat round. A pipelined follower that acknowledged nothing
 * since the previous round while entries were outstanding lost them (or
 * their answers): resend from its match, probing. */
int raftHeartbeat(struct raft *r)
{
    for (unsigned i = 0; i < r->n_prs; i++) {
        struct raft_progress *pr = &r->prs[i];
        if (pr->mode == PROGRESS_PIPELINE && pr->next > pr->match + 1 &&
            pr->match == pr->hb_match) {
            raftBecomeProbe(pr, pr->match + 1);
        }
        pr->hb_match = pr->match;
    }
    if (r->o.read_lease) {
        raftReadNewRound(r); /* its acknowledgements renew the lease */
    }
    return raftBroadcastAppend(r, true);
}

/* ------------------------------------------------------------ commit */

static int raftCompareDesc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : (x > y ? -1 : 0);
}

int raftMaybeCommit(struct raft *r)
{
    uint64_t matches[RAFT_CONF_MAX_SERVERS];
    unsigned n = 0;
    if (r->state != RAFT_LEADER) {
        return 0;
    }
    if (raftIsVoter(r, r->id)) {
        matches[n++] = r->stable;
    }
    for (unsigned i = 0; i < r->n_prs; i++) {
        if (raftIsVoter(r, r->prs[i].id)) {
            matches[n++] = r->prs[i].match;
        }
    }
    if (n == 0) {
        return 0;
    }
    qsort(matches, n, sizeof matches[0], raftCompareDesc);
    uint64_t q = matches[raftQuorum(r) - 1];
    if (q <= r->commit || raftTermAt(r, q) != r->term) {
        return 0;
    }
    uint64_t old = r->commit;
    r->commit = q;
    return raftOnCommitAdvance(r, old);
}

/* ------------------------------------------------------------ follower */

void raftTruncateLog(struct raft *r, uint64_t from)
{
    PRE(from > r->commit);
    logTruncate(&r->log, from);
    if (r->stable >= from) {
        r->stable = from - 1;
    }
    if (from < r->persist_from) {
        r->persist_from = from;
        if (r->truncate_from == 0 || from < r->truncate_from) {
            r->truncate_from = from;
        }
    }
    if (from <= r->conf_index) {
        raftConfRollback(r);
    }
}

/* Appends the entries of `m` that the log does not already hold. The
 * caller checked them against the committed log (raftAppendCommitted). */
static int raftAppendEntries(struct raft *r, const struct raft_append *a)
{
    for (unsigned i = 0; i < a->n_entries; i++) {
        const struct raft_entry *e = &a->entries[i];
        uint64_t index = a->prev_index + 1 + i;
        int rv;
        if (index <= r->commit || index <= r->log.offset) {
            /* Committed (its term matched or is compacted away): §5.4.1
             * Leader Completeness makes it the very entry we hold. */
            continue;
        }
        if (index <= logLastIndex(&r->log)) {
            if (logTermAt(&r->log, index) == e->term) {
                continue; /* §5.3 Log Matching: same index and term */
            }
            raftTruncateLog(r, index); /* §5.3: a conflict after commit */
        }
        rv = logAppend(&r->log, e);
        if (rv == 0 && e->type == RAFT_CHANGE) {
            rv = raftConfOnAppend(r, e, index);
        }
        if (rv != 0) {
            return rv;
        }
    }
    raftCacheTrim(r);
    return 0;
}

/* §5.4 Safety: an entry at or below our commit index is in the log of
 * every later leader, at the same index with the same term (§5.4.1
 * Leader Completeness, §5.3 Log Matching). An AppendEntries whose
 * previous entry or entries say otherwise about an index we know the term
 * of comes from corruption or a forger: returns that index (0 when the
 * message agrees with everything committed we know). Indexes compacted
 * away without a known term cannot be checked (the snapshot covers them). */
uint64_t raftAppendCommitted(const struct raft *r, const struct raft_append *a)
{
    if (a->prev_index > 0 && a->prev_index <= r->commit) {
        uint64_t term = raftTermAt(r, a->prev_index);
        if (term != 0 && term != a->prev_term) {
            return a->prev_index;
        }
    }
    for (unsigned i = 0; i < a->n_entries; i++) {
        uint64_t index = a->prev_index + 1 + i;
        if (index > r->commit) {
            break;
        }
        uint64_t term = raftTermAt(r, index);
        if (term != 0 && term != a->entries[i].term) {
            return index;
        }
    }
    return 0;
}

/* The highest index <= the rejected one whose term is <= the leader's
 * prev_term: where the leader should look next. */
static void raftRejectHint(struct raft *r, const struct raft_append *a,
                           struct raft_append_result *res)
{
    uint64_t last = logLastIndex(&r->log);
    uint64_t k = a->prev_index < last ? a->prev_index : last;
    while (k > r->commit && k > r->log.offset &&
           logTermAt(&r->log, k) > a->prev_term) {
        k--;
    }
    res->last_index = k;
    res->hint_term = raftTermAt(r, k);
}

/* A leader was heard from. Only one of our configuration counts as
 * contact (the lease, and the end of raftAcceptsStrangers' window): a
 * follower taken in by a leader it does not know yet keeps listening to it
 * until it learns the configuration that adds it. */
void raftNoteLeader(struct raft *r, uint64_t leader)
{
    r->leader_id = leader;
    if (raftConfGet(&r->conf, leader) != NULL) {
        r->leader_contacted = true;
        r->leader_contact_ms = r->now_ms;
    }
    raftResetElectionTimer(r);
}

/* A well-formed append: entry terms never decrease, never exceed the
 * message's term, and configurations decode. Anything else comes from a
 * broken peer and is ignored rather than trusted. */
bool raftAppendSane(const struct raft_message *m)
{
    const struct raft_append *a = &m->append;
    uint64_t term = a->prev_term;
    if (a->prev_index > RAFT_INDEX_MAX - a->n_entries ||
        (a->prev_index == 0 && a->prev_term != 0)) {
        return false;
    }
    for (unsigned i = 0; i < a->n_entries; i++) {
        const struct raft_entry *e = &a->entries[i];
        struct raft_configuration conf;
        if (e->term < term || e->term > m->term) {
            return false;
        }
        term = e->term;
        if (e->type == RAFT_CHANGE) {
            if (raftConfDecode(e->data, e->len, &conf) != 0) {
                return false;
            }
            raftConfClose(&conf);
        }
    }
    return true;
}

int raftStepAppend(struct raft *r, const struct raft_message *m)
{
    const struct raft_append *a = &m->append;
    struct raft_message reply = {0};
    int rv = 0;
    ASSERT(m->term == r->term);
    if (r->state == RAFT_LEADER) {
        return 0; /* one leader per term (raftStep checked the rest) */
    }
    if (r->state == RAFT_CANDIDATE) {
        raftBecomeFollower(r, r->term, m->from);
    }
    raftNoteLeader(r, m->from);
    reply.type = RAFT_MSG_APPEND_RESULT;
    reply.to = m->from;
    reply.term = r->term;
    reply.append_result.read_seq = a->read_seq;
    reply.append_result.index = a->prev_index;
    /* §5.3 consistency check: our entry at prev_index must have prev_term
     * (at or below the commit index raftStep already checked it). */
    if (a->prev_index > logLastIndex(&r->log) ||
        (a->prev_index > r->commit &&
         raftTermAt(r, a->prev_index) != a->prev_term)) {
        raftRejectHint(r, a, &reply.append_result);
        return raftSend(r, &reply, true);
    }
    rv = raftAppendEntries(r, a);
    if (rv != 0) {
        return rv;
    }
    uint64_t last_new = a->prev_index + a->n_entries;
    if (a->commit > r->commit && last_new > r->commit) {
        uint64_t old = r->commit;
        r->commit = a->commit < last_new ? a->commit : last_new;
        rv = raftOnCommitAdvance(r, old);
    }
    if (r->commit >= a->commit) {
        /* Caught up with the leader's commit index as of this message:
         * what raftFollowerFresh (bounded-staleness reads) serves. */
        r->fresh_seen = true;
        r->fresh_ms = r->now_ms;
        r->fresh_index = r->commit;
    }
    reply.append_result.success = 1;
    reply.append_result.index = last_new;
    reply.append_result.last_index = logLastIndex(&r->log);
    /* A heartbeat that acknowledges only entries already durable promises
     * nothing new about our disk: its answer may leave at once, during a
     * long write of an earlier batch too (raftSendNow), so that the leader
     * keeps hearing from a quorum (check-quorum) and its read-index rounds
     * complete. It reports the durable end of the log as its last index. */
    bool durable = a->n_entries == 0 && last_new <= r->stable;
    if (durable) {
        reply.append_result.last_index = r->stable;
    }
    int rv2 = raftSend(r, &reply, !durable);
    return rv != 0 ? rv : rv2;
}

/* ------------------------------------------------------------ leader recv */

/* A reject answering a heartbeat or probe at the follower's current match
 * that says it does not hold that entry (its log ends before it, or holds
 * another term there): the follower lost data it had acknowledged (a wiped
 * or restored data directory, lost segments, a torn tail). A reject for an
 * older index answers something sent before the match was learnt: stale. */
static bool raftRejectRegressed(const struct raft *r,
                                const struct raft_progress *pr,
                                const struct raft_append_result *res)
{
    return res->index == pr->match && pr->match > 0 &&
           (res->last_index < res->index ||
            res->hint_term != raftTermAt(r, res->index));
}

/* An answer says the follower holds less than its match. A single one
 * may be a late answer to something sent before the match was learnt (the
 * network reorders): only one repeated a heartbeat interval later, with no
 * acknowledgement in between, is believed. Then forget the match (counting
 * it towards commitment would be wrong now) and probe from what it has.
 * Returns true when believed. */
static bool raftOnRegressed(struct raft *r, struct raft_progress *pr,
                            const struct raft_message *m, uint64_t last)
{
    if (!pr->regress_seen) {
        pr->regress_seen = true;
        pr->regress_ms = r->now_ms;
        return false;
    }
    if (r->now_ms - pr->regress_ms < r->o.heartbeat_timeout_ms) {
        return false;
    }
    raftNotice(r, RAFT_NOTICE_REGRESSED, m, pr->match, last);
    pr->match = 0;
    pr->hb_match = 0;
    pr->hold_index = 0;
    pr->regress_seen = false;
    return true;
}

static int raftOnReject(struct raft *r, struct raft_progress *pr,
                        const struct raft_message *m)
{
    const struct raft_append_result *res = &m->append_result;
    if (pr->mode == PROGRESS_SNAPSHOT) {
        return 0; /* the snapshot will settle it */
    }
    if (raftRejectRegressed(r, pr, res)) {
        if (!raftOnRegressed(r, pr, m, res->last_index)) {
            return 0;
        }
    } else if (res->index <= pr->match ||
               (pr->mode == PROGRESS_PROBE && res->index != pr->next - 1)) {
        return 0; /* stale */
    }
    /* §5.3: back up to where the logs may match (fast back-tracking by
     * the follower's term at its hint). */
    uint64_t j = res->last_index < res->index ? res->last_index : res->index;
    while (j > pr->match && raftTermAt(r, j) > res->hint_term) {
        j--;
    }
    raftBecomeProbe(pr, j + 1);
    return raftSendAppend(r, pr, false);
}

static void raftOnAcceptMode(struct raft *r, struct raft_progress *pr,
                             const struct raft_append_result *res)
{
    if (pr->mode == PROGRESS_PROBE) {
        pr->probe_sent = false;
        if (res->index + 1 >= pr->next) {
            pr->mode = PROGRESS_PIPELINE;
            pr->next = res->index + 1;
        }
    } else if (pr->mode == PROGRESS_PIPELINE) {
        raftInflightFreeTo(r, pr, res->index);
    } else if (pr->match >= pr->snap_index) {
        raftBecomeProbe(pr, pr->match + 1);
    }
    if (pr->next <= pr->match) {
        pr->next = pr->match + 1;
    }
}

/* Each step may change the configuration or the role, which rebuilds the
 * progress array: look the follower up again every time. */
static int raftOnAccept(struct raft *r, struct raft_progress *pr,
                        const struct raft_append_result *res)
{
    uint64_t id = pr->id;
    bool advanced = res->index > pr->match;
    int rv = 0;
    if (advanced) {
        pr->match = res->index;
    }
    if (pr->hold_index != 0 && pr->mode != PROGRESS_SNAPSHOT &&
        pr->match >= pr->hold_index) {
        /* catching up after a snapshot: the hold follows the match until
         * the follower has everything, then compaction may go on */
        pr->hold_index = pr->match >= logLastIndex(&r->log) ? 0 : pr->match;
    }
    raftOnAcceptMode(r, pr, res);
    if (advanced) {
        rv = raftMaybeCommit(r);
    }
    if (rv == 0 && (pr = raftProgress(r, id)) != NULL) {
        rv = raftPromoteeCheck(r, pr);
    }
    if (rv == 0 && (pr = raftProgress(r, id)) != NULL) {
        rv = raftTransferCheck(r, pr);
    }
    if (rv == 0 && (pr = raftProgress(r, id)) != NULL) {
        rv = raftSendAppend(r, pr, false);
    }
    return rv;
}

int raftStepAppendResult(struct raft *r, const struct raft_message *m)
{
    const struct raft_append_result *res = &m->append_result;
    struct raft_progress *pr;
    if (r->state != RAFT_LEADER) {
        return 0;
    }
    pr = raftProgress(r, m->from);
    if (pr == NULL || res->index > logLastIndex(&r->log) ||
        res->read_seq > r->read_seq) {
        return 0; /* not a follower, or not an answer to us */
    }
    pr->recent_active = true;
    raftLeaseAck(r, pr, res->read_seq);
    if (res->read_seq > pr->read_ack) {
        pr->read_ack = res->read_seq;
        int rv = raftReadCheck(r);
        if (rv != 0) {
            return rv;
        }
    }
    if (!res->success) {
        return raftOnReject(r, pr, m);
    }
    if (res->index == 0 && res->last_index < pr->match &&
        pr->mode != PROGRESS_SNAPSHOT) {
        /* An answer to a heartbeat at 0 (our entry at its match is
         * compacted) from a follower whose log ends before its match. */
        if (!raftOnRegressed(r, pr, m, res->last_index)) {
            return 0;
        }
        raftBecomeProbe(pr, res->last_index + 1);
        return raftSendAppend(r, pr, false);
    }
    pr->regress_seen = false;
    return raftOnAccept(r, pr, res);
}
