/*
 * A raft node's life cycle and role transitions: creation from persisted
 * state, the clock (election and leader timers), dispatch of received
 * messages by term, proposals, and the read-only views. The protocol
 * details live in the sibling files listed in core.h.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "raft/core.h"

void raftOptionsDefault(struct raft_options *o)
{
    memset(o, 0, sizeof *o);
    o->election_timeout_ms = 1000;
    o->heartbeat_timeout_ms = 100;
    o->max_inflight_msgs = 64;
    o->max_inflight_bytes = 8u << 20;
    o->max_append_entries = 256;
    o->max_append_bytes = 1u << 20;
    o->snapshot_trailing = 128;
    o->snapshot_hold_max = 8192;
    o->snapshot_chunk_bytes = 1u << 20;
    o->entry_cache_bytes = RAFT_ENTRY_CACHE_BYTES_DEFAULT;
    o->snapshot_hold_bytes = RAFT_ENTRY_CACHE_BYTES_DEFAULT;
    o->pre_vote = true;
    o->check_quorum = true;
    o->read_lease = false;
    o->lease_drift_permille = 100;
}

/* splitmix64 over the caller's seed, unless the caller draws for us. */
uint64_t raftRandom(struct raft *r)
{
    if (r->o.rand_fn != NULL) {
        return r->o.rand_fn(r->o.rand_arg);
    }
    uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void raftResetElectionTimer(struct raft *r)
{
    uint64_t base = r->o.election_timeout_ms;
    r->election_start_ms = r->now_ms;
    r->election_rand_ms = base + raftRandom(r) % base;
}

static int raftOptionsCheck(const struct raft_options *o)
{
    if (o->election_timeout_ms == 0 || o->heartbeat_timeout_ms == 0 ||
        o->heartbeat_timeout_ms >= o->election_timeout_ms ||
        o->max_inflight_msgs == 0 || o->max_append_entries == 0 ||
        o->max_append_entries > RAFT_MSG_MAX_ENTRIES ||
        o->snapshot_chunk_bytes == 0 ||
        o->snapshot_chunk_bytes > RAFT_CHUNK_MAX_BYTES ||
        (o->read_lease &&
         (o->lease_drift_permille == 0 || o->lease_drift_permille >= 1000))) {
        return ERR_INVALID;
    }
    return 0;
}

/* Loads the persisted log, dropping what a snapshot contradicts. */
static int raftLoadLog(struct raft *r, const struct raft_snapshot_meta *snap,
                       const struct raft_entry *entries, unsigned n,
                       uint64_t first_index)
{
    uint64_t start = first_index;
    unsigned skip = 0;
    if (snap == NULL && first_index != 1 && n > 0) {
        return ERR_INVALID; /* entries were compacted without a snapshot */
    }
    if (snap == NULL) {
        start = 1;
    }
    if (snap != NULL) {
        uint64_t last = first_index + n - 1;
        bool covers =
            n > 0 && snap->index >= first_index && snap->index <= last;
        if (n > 0 && first_index > snap->index + 1) {
            return ERR_INVALID; /* a hole after the snapshot */
        }
        if (n == 0 || last < snap->index ||
            (covers && entries[snap->index - first_index].term != snap->term)) {
            start = snap->index + 1;
            skip = n; /* nothing of the log agrees with the snapshot */
        }
    }
    uint64_t offset_term = 0;
    if (snap != NULL && start - 1 == snap->index) {
        offset_term = snap->term;
    }
    logInit(&r->log, start - 1, offset_term);
    for (unsigned i = skip; i < n; i++) {
        int rv = logAppend(&r->log, &entries[i]);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

static int raftLoadSnapshot(struct raft *r,
                            const struct raft_snapshot_meta *snap)
{
    if (snap == NULL) {
        return 0;
    }
    r->has_snap = true;
    r->snap = *snap;
    r->commit = r->applied = snap->index;
    return raftConfCopy(&snap->conf, &r->snap.conf);
}

int raftCreate(uint64_t id, const struct raft_options *opts,
               const struct raft_hard_state *hs,
               const struct raft_snapshot_meta *snap,
               const struct raft_entry *entries, unsigned n_entries,
               uint64_t first_index, uint64_t now_ms, struct raft **out)
{
    struct raft *r;
    int rv;
    if (id == 0 || raftOptionsCheck(opts) != 0 || first_index == 0) {
        return ERR_INVALID;
    }
    r = libCalloc(1, sizeof *r);
    if (r == NULL) {
        return ERR_NOMEM;
    }
    r->id = id;
    r->o = *opts;
    r->rng = opts->seed;
    r->now_ms = now_ms;
    r->start_ms = now_ms;
    r->restarted = hs->term != 0;
    r->term = hs->term;
    r->vote = hs->vote;
    r->state = RAFT_FOLLOWER;
    raftConfInit(&r->conf);
    logInit(&r->log, 0, 0);
    rv = raftLoadSnapshot(r, snap);
    if (rv == 0) {
        rv = raftLoadLog(r, snap, entries, n_entries, first_index);
    }
    if (rv == 0) {
        rv = raftConfRebuild(r);
    }
    if (rv != 0) {
        goto err_after_alloc;
    }
    raftCacheTrim(r); /* entries a snapshot covers, beyond the bound */
    r->stable = logLastIndex(&r->log);
    r->persist_from = r->stable + 1;
    r->rep_state = RAFT_FOLLOWER;
    r->rep_term = r->term;
    raftResetElectionTimer(r);
    *out = r;
    return 0;
err_after_alloc:
    raftDestroy(r);
    return rv;
}

void raftDestroy(struct raft *r)
{
    if (r == NULL) {
        return;
    }
    PRE(!r->batch_out);
    for (unsigned i = 0; i < r->n_prs; i++) {
        libFree(r->prs[i].inflight);
    }
    libFree(r->prs);
    logClose(&r->log);
    raftConfClose(&r->conf);
    raftConfClose(&r->batch_conf);
    raftSnapshotMetaClose(&r->snap);
    raftSnapshotMetaClose(&r->prev_snap);
    raftSnapshotMetaClose(&r->pin_snap);
    raftSnapshotMetaClose(&r->install);
    raftPayloadUnref(r->chunk.data);
    outboxClose(&r->out_now);
    outboxClose(&r->out_after);
    libFree(r->pending_reads);
    libFree(r->remote_reads);
    libFree(r->reads);
    libFree(r->snap_reads);
    libFree(r);
}

/* ------------------------------------------------------------ roles */

bool raftIsVoter(const struct raft *r, uint64_t id)
{
    const struct raft_server *s = raftConfGet(&r->conf, id);
    return s != NULL && s->role == RAFT_VOTER;
}

/* A voter of the configuration in effect, or of the previous one while the
 * one in effect is not known to be committed (changes go one at a time, so
 * the previous one was): a leader that removed itself and lost leadership
 * before the change committed may be the only server able to finish it
 * (its log is the most up to date). */
bool raftMayCampaign(const struct raft *r)
{
    struct raft_configuration committed;
    uint64_t index;
    bool voter;
    if (raftIsVoter(r, r->id)) {
        return true;
    }
    if (r->conf_index <= r->commit || r->conf_index <= r->log.offset ||
        raftConfAt(r, r->conf_index - 1, &committed, &index) != 0) {
        return false;
    }
    const struct raft_server *s = raftConfGet(&committed, r->id);
    voter = s != NULL && s->role == RAFT_VOTER;
    raftConfClose(&committed);
    return voter;
}

unsigned raftQuorum(const struct raft *r)
{
    return raftConfVoters(&r->conf) / 2 + 1;
}

struct raft_progress *raftProgress(struct raft *r, uint64_t id)
{
    for (unsigned i = 0; i < r->n_prs; i++) {
        if (r->prs[i].id == id) {
            return &r->prs[i];
        }
    }
    return NULL;
}

void raftBecomeFollower(struct raft *r, uint64_t term, uint64_t leader)
{
    PRE(term >= r->term);
    if (term > r->term) {
        r->term = term;
        r->vote = 0;
        r->hs_dirty = true;
    }
    if (r->state == RAFT_LEADER) {
        raftReadDrop(r); /* unanswered reads are lost with leadership */
    }
    r->state = RAFT_FOLLOWER;
    r->leader_id = leader;
    r->pre_voting = false;
    r->transfer_target = 0;
    r->promotee = 0;
    raftResetElectionTimer(r);
    raftProgressRebuild(r);
}

int raftBecomeLeader(struct raft *r)
{
    int rv;
    PRE(r->state == RAFT_CANDIDATE && !r->pre_voting);
    r->state = RAFT_LEADER;
    r->leader_id = r->id;
    r->heartbeat_ms = r->now_ms;
    r->quorum_check_ms = r->now_ms;
    r->read_seq = 0;
    r->round_ms[0] = r->now_ms; /* appends carry round 0 until the first */
    r->lease_ended = false;
    rv = raftProgressRebuild(r);
    if (rv != 0) {
        return rv;
    }
    for (unsigned i = 0; i < r->n_prs; i++) {
        raftProgressReset(r, &r->prs[i]);
        r->prs[i].recent_active = false;
        r->prs[i].transfer_sent = false;
    }
    return raftAppendLocal(r, RAFT_BARRIER, NULL, 0);
}

/* Leader: appends a new entry of the current term and replicates it. Takes
 * a new reference to `data`. */
int raftAppendLocal(struct raft *r, uint8_t type, uint8_t *data, size_t len)
{
    struct raft_entry e = {r->term, type, data, len};
    uint64_t index = logLastIndex(&r->log) + 1;
    int rv;
    PRE(r->state == RAFT_LEADER);
    rv = logAppend(&r->log, &e);
    if (rv != 0) {
        return rv;
    }
    if (type == RAFT_CHANGE) {
        rv = raftConfOnAppend(r, &e, index);
        if (rv != 0) {
            raftTruncateLog(r, index);
            return rv;
        }
    }
    raftCacheTrim(r);
    rv = raftBroadcastAppend(r, false);
    if (rv == 0) {
        rv = raftMaybeCommit(r); /* a lone voter commits on persist */
    }
    return rv;
}

/* ------------------------------------------------------------ inputs */

void raftTick(struct raft *r, uint64_t now_ms)
{
    if (now_ms > r->now_ms) {
        r->now_ms = now_ms;
    }
    /* Follower reads past their election timeout, or asked in a term or
     * of a leader that changed, fail (ERR_NOMEM: checked again later). */
    raftRemoteReadsCheck(r);
    if (r->state == RAFT_LEADER) {
        raftLeaderTick(r);
        return;
    }
    /* A lone voter has nobody to wait for: it campaigns at once, so a
     * one-node cluster serves as soon as it starts. */
    bool alone = raftQuorum(r) == 1 && raftIsVoter(r, r->id);
    if ((alone || r->now_ms - r->election_start_ms >= r->election_rand_ms) &&
        raftMayCampaign(r)) {
        raftCampaign(r, alone ? false : r->o.pre_vote, false);
    }
}

/* With check-quorum, a leader (which steps down when it loses its quorum)
 * and a follower that heard from one within an election timeout ignore
 * requests to elect someone else. */
static bool raftLeaseHeld(const struct raft *r)
{
    if (!r->o.check_quorum) {
        return false;
    }
    if (r->state == RAFT_LEADER) {
        return true;
    }
    /* Leases: a node that starts may have acknowledged a leader's lease
     * just before it stopped, and forgot it: it keeps the promise for an
     * election timeout (docs/raft.md "Leader leases", restarts). */
    if (r->o.read_lease && r->restarted &&
        r->now_ms - r->start_ms < r->o.election_timeout_ms) {
        return true;
    }
    return r->leader_contacted && r->leader_id != 0 &&
           r->now_ms - r->leader_contact_ms < r->o.election_timeout_ms;
}

/* A message from an older term: tell stale leaders and pre-voters. */
static int raftStepStale(struct raft *r, const struct raft_message *m)
{
    struct raft_message reply = {0};
    reply.from = r->id;
    reply.to = m->from;
    reply.term = r->term;
    if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAPSHOT) {
        reply.type = RAFT_MSG_APPEND_RESULT;
        reply.append_result.index = logLastIndex(&r->log);
        reply.append_result.last_index = logLastIndex(&r->log);
        return raftSend(r, &reply, true);
    }
    if (m->type == RAFT_MSG_VOTE && m->vote.pre_vote) {
        reply.type = RAFT_MSG_VOTE_RESULT;
        reply.vote_result.pre_vote = 1;
        return raftSend(r, &reply, true);
    }
    if (m->type == RAFT_MSG_READ_INDEX) {
        /* Not the leader of that term (any more): the follower fails the
         * read now rather than after its timeout. */
        reply.type = RAFT_MSG_READ_INDEX_RESULT;
        reply.read_index_result.ctx = m->read_index.ctx;
        return raftSend(r, &reply, false);
    }
    return 0;
}

/* A message from a newer term. Returns false when it must be ignored. */
static bool raftStepNewer(struct raft *r, const struct raft_message *m)
{
    if (m->type == RAFT_MSG_VOTE) {
        if (raftLeaseHeld(r) && !m->vote.disrupt_leader) {
            return false;
        }
        if (!m->vote.pre_vote) {
            raftBecomeFollower(r, m->term, 0);
        }
        return true;
    }
    if (m->type == RAFT_MSG_VOTE_RESULT && m->vote_result.pre_vote &&
        m->vote_result.granted) {
        return true; /* granted for the term we would campaign at */
    }
    bool from_leader = m->type == RAFT_MSG_APPEND ||
                       m->type == RAFT_MSG_SNAPSHOT ||
                       m->type == RAFT_MSG_TIMEOUT_NOW;
    raftBecomeFollower(r, m->term, from_leader ? m->from : 0);
    return true;
}

void raftNotice(struct raft *r, int kind, const struct raft_message *m,
                uint64_t index, uint64_t last)
{
    PRE(kind > RAFT_NOTICE_NONE && kind < RAFT_NOTICE_KINDS);
    r->notice_counts[kind]++;
    if (r->n_notices++ > 0) {
        return; /* the batch reports the first one and a count */
    }
    r->notice = (struct raft_notice){kind,    m->type, m->from, m->to,
                                     m->term, index,   last};
}

/* A member of the configuration this node acts on: the one in effect or,
 * while that one is not known to be committed, the one before it (a leader
 * that removes itself leads until the change commits). A node that is not
 * in its own configuration (a new one being caught up, whose log may still
 * end before the entry adding it and the current leader, or a removed one)
 * has no way to judge and accepts the sender. So does a follower that has
 * not heard from a leader for an election timeout: its log may end before
 * the entry adding the current leader (it was cut off while that server
 * joined and won an election); refusing it would leave this node behind
 * for as long as it leads. Outside that window, and always on a leader, a
 * stranger cannot depose a leader, bump a term or write an entry. */
bool raftAcceptsStrangers(const struct raft *r)
{
    if (raftConfGet(&r->conf, r->id) == NULL) {
        return true;
    }
    return r->state != RAFT_LEADER &&
           (!r->leader_contacted ||
            r->now_ms - r->leader_contact_ms >= r->o.election_timeout_ms);
}

static bool raftSenderKnown(const struct raft *r, uint64_t from)
{
    struct raft_configuration prev;
    uint64_t prev_index;
    bool known;
    if (raftConfGet(&r->conf, from) != NULL || raftAcceptsStrangers(r)) {
        return true;
    }
    if (r->conf_index <= r->commit || r->conf_index <= r->log.offset ||
        raftConfAt(r, r->conf_index - 1, &prev, &prev_index) != 0) {
        return false;
    }
    known = raftConfGet(&prev, from) != NULL;
    raftConfClose(&prev);
    return known;
}

static int raftStepCurrent(struct raft *r, const struct raft_message *m);

int raftStep(struct raft *r, const struct raft_message *m)
{
    if (m->from == r->id || m->from == 0) {
        return 0;
    }
    if (m->to != r->id) {
        raftNotice(r, RAFT_NOTICE_WRONG_TO, m, 0, 0);
        return 0;
    }
    if (!raftSenderKnown(r, m->from)) {
        raftNotice(r, RAFT_NOTICE_NOT_MEMBER, m, 0, 0);
        return 0;
    }
    /* Checked before the term is looked at: such messages must not even
     * depose a leader or bump our term. */
    if (m->term > RAFT_INDEX_MAX ||
        (m->type == RAFT_MSG_APPEND && !raftAppendSane(m)) ||
        (m->type == RAFT_MSG_SNAPSHOT && !raftSnapshotSane(m))) {
        return 0; /* malformed: a broken peer */
    }
    /* (A leader of an older term may hold entries the newer ones
     * replaced: it gets the stale answer below, which deposes it.) */
    uint64_t conflict = m->type == RAFT_MSG_APPEND && m->term >= r->term
                            ? raftAppendCommitted(r, &m->append)
                            : 0;
    if (conflict != 0) {
        raftNotice(r, RAFT_NOTICE_COMMITTED, m, conflict, r->commit);
        return 0;
    }
    if (m->term < r->term) {
        return raftStepStale(r, m);
    }
    if (m->term > r->term && !raftStepNewer(r, m)) {
        return 0;
    }
    int rv = raftStepCurrent(r, m);
    if (r->n_remote_reads > 0) {
        int rv2 = raftRemoteReadsCheck(r); /* the term or leader changed */
        rv = rv != 0 ? rv : rv2;
    }
    return rv;
}

static int raftStepCurrent(struct raft *r, const struct raft_message *m)
{
    switch (m->type) {
    case RAFT_MSG_APPEND:
        return raftStepAppend(r, m);
    case RAFT_MSG_APPEND_RESULT:
        return raftStepAppendResult(r, m);
    case RAFT_MSG_VOTE:
        return raftStepVote(r, m);
    case RAFT_MSG_VOTE_RESULT:
        return raftStepVoteResult(r, m);
    case RAFT_MSG_SNAPSHOT:
        return raftStepSnapshot(r, m);
    case RAFT_MSG_SNAPSHOT_RESULT:
        return raftStepSnapshotResult(r, m);
    case RAFT_MSG_TIMEOUT_NOW:
        return raftStepTimeoutNow(r, m);
    case RAFT_MSG_READ_INDEX:
        return raftStepReadIndex(r, m);
    case RAFT_MSG_READ_INDEX_RESULT:
        return raftStepReadIndexResult(r, m);
    default:
        return 0;
    }
}

static int raftCanPropose(const struct raft *r)
{
    if (r->state != RAFT_LEADER) {
        return ERR_NOTLEADER;
    }
    if (r->transfer_target != 0) {
        return ERR_LEADERSHIP_LOST;
    }
    return 0;
}

int raftPropose(struct raft *r, uint8_t *data, size_t len, uint64_t *index,
                uint64_t *term)
{
    int rv = raftCanPropose(r);
    if (rv != 0) {
        return rv;
    }
    if (len > RAFT_ENTRY_MAX_BYTES) {
        return ERR_TOOBIG;
    }
    PRE((data == NULL) == (len == 0));
    *index = logLastIndex(&r->log) + 1;
    *term = r->term;
    return raftAppendLocal(r, RAFT_COMMAND, data, len);
}

int raftBarrier(struct raft *r, uint64_t *index, uint64_t *term)
{
    int rv = raftCanPropose(r);
    if (rv != 0) {
        return rv;
    }
    *index = logLastIndex(&r->log) + 1;
    *term = r->term;
    return raftAppendLocal(r, RAFT_BARRIER, NULL, 0);
}

void raftPersisted(struct raft *r, uint64_t index, uint64_t term)
{
    if (index <= r->stable || logTermAt(&r->log, index) != term ||
        index >= r->persist_from) {
        return;
    }
    r->stable = index;
    if (r->state == RAFT_LEADER) {
        raftMaybeCommit(r);
    }
}

/* ------------------------------------------------------------ views */

uint64_t raftId(const struct raft *r)
{
    return r->id;
}

int raftState(const struct raft *r)
{
    return r->state;
}

uint64_t raftLeader(const struct raft *r)
{
    return r->leader_id;
}

uint64_t raftTerm(const struct raft *r)
{
    return r->term;
}

uint64_t raftCommitIndex(const struct raft *r)
{
    return r->commit;
}

uint64_t raftLastIndex(const struct raft *r)
{
    return logLastIndex(&r->log);
}

uint64_t raftLastApplied(const struct raft *r)
{
    return r->applied;
}

uint64_t raftMatchIndex(const struct raft *r, uint64_t id)
{
    if (r->state != RAFT_LEADER) {
        return 0;
    }
    if (id == r->id) {
        return raftLastIndex(r);
    }
    for (unsigned i = 0; i < r->n_prs; i++) {
        if (r->prs[i].id == id) {
            return r->prs[i].match;
        }
    }
    return 0;
}

const struct raft_configuration *raftConfiguration(const struct raft *r)
{
    return &r->conf;
}

uint64_t raftNoticeCount(const struct raft *r, int kind)
{
    return kind > RAFT_NOTICE_NONE && kind < RAFT_NOTICE_KINDS
               ? r->notice_counts[kind]
               : 0;
}

uint64_t raftTermAt(const struct raft *r, uint64_t index)
{
    uint64_t term = logTermAt(&r->log, index);
    if (term == 0 && r->has_snap && index == r->snap.index) {
        term = r->snap.term;
    }
    return term;
}
