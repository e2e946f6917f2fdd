/*
 * Applying committed entries on the db thread, and the waits built on the
 * applied index: proposals (a leader's writes), barriers (a leader catching
 * up before it executes SQL) and read-index reads.
 *
 * Committed entries go to the db thread in log order, one job per ready
 * batch (a short batch is run by the loop itself when the db thread is
 * idle: replicaApplyCommitted). The job holds its own payload references,
 * taken and dropped here on the loop, so the batch can be acknowledged
 * before the job runs.
 */
#include <stdio.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "repl/command.h"
#include "server/replica_internal.h"

/* Entries applied on the loop thread when the db thread is idle: at most
 * this many payload bytes in the batch, and no checkpoint among them. */
#define REPLICA_APPLY_HERE_BYTES (256 * 1024)

struct apply_job {
    struct worker_job job;
    struct replica *r;
    struct raft_entry *entries; /* owned copies, one payload ref each */
    uint64_t first;
    unsigned n;
    unsigned n_applied; /* entries applied before a failure */
    int rv;
};

void replicaSqlConnAdd(struct replica *r, struct replica_sqlconn *c)
{
    queueInsertTail(&r->sql_conns, &c->link);
}

void replicaSqlConnRemove(struct replica_sqlconn *c)
{
    queueRemove(&c->link);
}

struct end_reads {
    struct replica *r;
    const char *why;
};

/* Db thread, worker mutex held: the connection `db`, whose query the pool
 * steps, is about to be interrupted; its client learns why (on the loop,
 * once the job is done: queryBatchDone). */
static void endReadsMark(sqlite3 *db, void *arg)
{
    struct end_reads *e = arg;
    struct queue *q;
    QUEUE_FOREACH(q, &e->r->sql_conns)
    {
        struct replica_sqlconn *c = QUEUE_DATA(q, struct replica_sqlconn, link);
        if (c->db == db) {
            c->ended = e->why;
        }
    }
}

unsigned replicaEndReaders(struct replica *r, const char *name, const char *why)
{
    /* Queries the reader pool steps now use their connection: they stop
     * first (docs/server.md, "Parallel readers"). */
    struct end_reads e = {r, why};
    unsigned touched =
        r->worker != NULL ? workerEndReads(r->worker, endReadsMark, &e) : 0;
    struct queue *q;
    QUEUE_FOREACH(q, &r->sql_conns)
    {
        struct replica_sqlconn *c = QUEUE_DATA(q, struct replica_sqlconn, link);
        const char *file = sqlite3_db_filename(c->db, "main");
        if (name != NULL && (file == NULL || strcmp(file, name) != 0)) {
            continue;
        }
        bool ended = false;
        /* A statement between two batches of a query holds its read
         * transaction; resetting it releases it (the gateway fails the
         * next batch with `why`, never restarting it on the new file). */
        for (sqlite3_stmt *s = sqlite3_next_stmt(c->db, NULL); s != NULL;
             s = sqlite3_next_stmt(c->db, s)) {
            if (sqlite3_stmt_busy(s)) {
                sqlite3_reset(s);
                ended = true;
            }
        }
        if (!sqlite3_get_autocommit(c->db)) {
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            ended = true;
        }
        if (ended) {
            c->ended = why;
            touched++;
        }
    }
    return touched;
}

/* Db thread: an entry found its database locked by a connection of this
 * node. A LOAD's last part replaces the database: the readers of its
 * target end (their queries fail with REPLICA_ENDED_BY_LOAD). Any other
 * entry found a write transaction a deposed leader's client left open:
 * every open transaction is rolled back, its client learns it on its next
 * request, which a follower refuses anyway. Either way the entry is then
 * applied as on every other node: a client never stops a node. */
static void applyUnlock(struct replica *r, const struct raft_entry *e)
{
    struct repl_command cmd;
    if (replPeekType(e->data, e->len) == REPL_LOAD &&
        replDecode(e->data, e->len, &cmd) == 0) {
        unsigned n = replicaEndReaders(r, cmd.name, REPLICA_ENDED_BY_LOAD);
        replicaLogf(r, REPLICA_LOG_INFO,
                    "ended %u reader(s) of %s replaced by a restore", n,
                    cmd.name);
        return;
    }
    struct queue *q;
    QUEUE_FOREACH(q, &r->sql_conns)
    {
        struct replica_sqlconn *c = QUEUE_DATA(q, struct replica_sqlconn, link);
        if (!sqlite3_get_autocommit(c->db)) {
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        }
    }
}

static int applyEntry(struct replica *r, uint64_t index,
                      const struct raft_entry *e)
{
    int rv = replApply(&r->repl, index, e->data, e->len);
    if (rv == ERR_BUSY) {
        applyUnlock(r, e);
        rv = replApply(&r->repl, index, e->data, e->len);
    }
    return rv;
}

static void applyWork(struct worker_job *job)
{
    struct apply_job *a = (struct apply_job *)job;
    if (a->r->install_skipped) {
        a->n_applied = a->n; /* covered by the snapshot installed next */
        return;
    }
    for (a->n_applied = 0; a->n_applied < a->n; a->n_applied++) {
        const struct raft_entry *e = &a->entries[a->n_applied];
        replLoadTerm(&a->r->repl, e->term); /* a new term drops old loads */
        if (e->type != RAFT_COMMAND) {
            continue;
        }
        int rv = applyEntry(a->r, a->first + a->n_applied, e);
        if (rv == ERR_MALFORMED || rv == ERR_UNSUPPORTED) {
            /* Refused the same way on every node: the state stays equal. */
            replicaLogf(a->r, REPLICA_LOG_WARN, "entry %llu not applied: %s",
                        (unsigned long long)(a->first + a->n_applied),
                        errString(rv));
            continue;
        }
        if (rv != 0) {
            a->rv = rv;
            break;
        }
    }
}

/* Answers the proposals waiting on entry `index` of term `term`. */
static void applyResolveProposals(struct replica *r, uint64_t index,
                                  uint64_t term)
{
    while (!queueEmpty(&r->proposals)) {
        struct queue *q = queueHead(&r->proposals);
        struct replica_wait *w = QUEUE_DATA(q, struct replica_wait, link);
        if (w->index > index) {
            return;
        }
        queueRemove(q);
        metricsCommitted(w->index == index && w->term == term ? r->metrics
                                                              : NULL,
                         w->start_us);
        w->cb(w,
              w->index == index && w->term == term ? 0 : ERR_LEADERSHIP_LOST);
    }
}

static void applyJobFree(struct apply_job *a)
{
    for (unsigned i = 0; i < a->n; i++) {
        raftPayloadUnref(a->entries[i].data);
    }
    libFree(a->entries);
    libFree(a);
}

static void applyDone(struct worker_job *job)
{
    struct apply_job *a = (struct apply_job *)job;
    struct replica *r = a->r;
    if (!job->canceled) {
        for (unsigned i = 0; i < a->n_applied; i++) {
            r->applied = a->first + i;
            applyResolveProposals(r, r->applied, a->entries[i].term);
        }
        if (a->rv != 0) {
            replicaFail(r, "applying a committed entry", a->rv);
        }
    }
    bool canceled = job->canceled;
    applyJobFree(a);
    if (!canceled && !r->failed) {
        replicaWakeApplied(r);
        replicaMaybeSnapshot(r);
    }
    replicaJobFinished(r);
}

/* Whether applying `entries` is short work: copying (followers) or
 * publishing (the leader) a few pages into the in-memory WAL. A checkpoint
 * costs as much as the WAL it folds in, and goes to the db thread. */
static bool applyIsShort(const struct raft_entry *entries, unsigned n)
{
    size_t bytes = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct raft_entry *e = &entries[i];
        if (e->type != RAFT_COMMAND) {
            continue;
        }
        bytes += e->len;
        int type = replPeekType(e->data, e->len);
        /* A LOAD's last part runs integrity_check over the whole file. */
        if (bytes > REPLICA_APPLY_HERE_BYTES || type == REPL_CHECKPOINT ||
            type == REPL_LOAD) {
            return false;
        }
    }
    return true;
}

/* Committed entries go to the db thread in log order; when it is idle and
 * the batch is short (applyIsShort), the loop applies them itself, which
 * spares two thread wake-ups per commit on every node (docs/server.md). */
void replicaApplyCommitted(struct replica *r, const struct raft_entry *entries,
                           uint64_t first_index, unsigned n)
{
    PRE(n > 0 && first_index == r->apply_queued + 1);
    struct apply_job *a = libCalloc(1, sizeof *a);
    struct raft_entry *copies = libCalloc(n, sizeof *copies);
    if (a == NULL || copies == NULL) {
        libFree(a);
        libFree(copies);
        replicaFail(r, "queueing committed entries", ERR_NOMEM);
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        copies[i] = entries[i];
        if (copies[i].data != NULL) {
            raftPayloadRef(copies[i].data);
        }
    }
    *a = (struct apply_job){.job = {.work = applyWork, .done = applyDone},
                            .r = r,
                            .entries = copies,
                            .first = first_index,
                            .n = n};
    r->apply_queued = first_index + n - 1;
    r->jobs_out++;
    if (!applyIsShort(copies, n) || !workerRunHere(r->worker, &a->job)) {
        workerSubmit(r->worker, &a->job);
    }
}

/* ------------------------------------------------------------ waits */

/* Pops each wait of `head` and calls it with `status`. */
static void replicaCompleteQueue(struct queue *head, int status)
{
    while (!queueEmpty(head)) {
        struct queue *q = queueHead(head);
        queueRemove(q);
        struct replica_wait *w = QUEUE_DATA(q, struct replica_wait, link);
        w->cb(w, status);
    }
}

/* Moves the waits of `from` that `ready` accepts to the tail of `out`. */
static void replicaTakeWaits(struct queue *from, struct queue *out,
                             const struct replica *r,
                             bool (*ready)(const struct replica *r,
                                           const struct replica_wait *w))
{
    struct queue *q, *tmp;
    QUEUE_FOREACH_SAFE(q, tmp, from)
    {
        if (ready(r, QUEUE_DATA(q, struct replica_wait, link))) {
            queueRemove(q);
            queueInsertTail(out, q);
        }
    }
}

/* The entry a statement must see applied before it runs, beyond what
 * raft asks: the last of those whose writers were answered "disk full"
 * (they may still commit; a write run before they are applied would be
 * computed on a state they then change). 0 when there is none. */
static uint64_t replicaFence(const struct replica *r)
{
    uint64_t last = raftLastIndex(r->raft);
    if (r->nospace_fence <= r->applied) {
        return 0;
    }
    return r->nospace_fence < last ? r->nospace_fence : last;
}

static bool replicaBarrierMet(const struct replica *r,
                              const struct replica_wait *w)
{
    return w->index <= r->applied;
}

static bool replicaBarrierUncommitted(const struct replica *r,
                                      const struct replica_wait *w)
{
    return w->index > raftCommitIndex(r->raft);
}

static bool replicaReadMet(const struct replica *r,
                           const struct replica_wait *w)
{
    return w->read_confirmed && w->index <= r->applied;
}

/* The waits met are taken off the replica's lists before any callback
 * runs: a callback may add, cancel or meet waits itself (a membership
 * change starts its wait from its barrier's callback), and walking a list
 * that a callback changes under the walk loses track of it. */
void replicaWakeApplied(struct replica *r)
{
    struct queue met;
    queueInit(&met);
    replicaTakeWaits(&r->barriers, &met, r, replicaBarrierMet);
    replicaTakeWaits(&r->reads, &met, r, replicaReadMet);
    replicaCompleteQueue(&met, 0);
}

void replicaReadsReady(struct replica *r, const struct raft_read_state *reads,
                       unsigned n)
{
    struct queue failed;
    queueInit(&failed);
    for (unsigned i = 0; i < n; i++) {
        struct queue *q;
        QUEUE_FOREACH(q, &r->reads)
        {
            struct replica_wait *w = QUEUE_DATA(q, struct replica_wait, link);
            if (w->ctx == reads[i].ctx && reads[i].failed) {
                /* A follower read the leader did not confirm (raft.h). */
                queueRemove(&w->link);
                queueInsertTail(&failed, &w->link);
                break;
            }
            if (w->ctx == reads[i].ctx) {
                uint64_t fence = replicaFence(r);
                w->index = reads[i].index > fence ? reads[i].index : fence;
                w->read_confirmed = true;
                break;
            }
        }
    }
    replicaCompleteQueue(&failed, ERR_READ_UNCONFIRMED);
    if (n > 0) {
        replicaWakeApplied(r);
    }
}

void replicaFailWaits(struct replica *r, int status)
{
    replicaCompleteQueue(
        &r->roles, status == ERR_LEADERSHIP_LOST ? ERR_NOTLEADER : status);
    if (status != ERR_LEADERSHIP_LOST) {
        replicaCompleteQueue(&r->transfers, status);
    }
    replicaCompleteQueue(&r->proposals, status);
    if (status == ERR_LEADERSHIP_LOST) {
        /* An entry already committed is applied whoever leads (a REMOVE
         * of the leader commits as the leader steps down): only the waits
         * for entries that may still be lost end here. */
        struct queue lost;
        queueInit(&lost);
        replicaTakeWaits(&r->barriers, &lost, r, replicaBarrierUncommitted);
        replicaCompleteQueue(&lost, ERR_NOTLEADER);
    } else {
        replicaCompleteQueue(&r->barriers, status);
    }
    replicaCompleteQueue(
        &r->reads, status == ERR_LEADERSHIP_LOST ? ERR_NOTLEADER : status);
}

void replicaFailNoSpace(struct replica *r)
{
    uint64_t last = raftLastIndex(r->raft);
    if (last > r->nospace_fence) {
        r->nospace_fence = last;
    }
    /* A proposal's entry is in the log and was sent: outcome unknown. */
    replicaCompleteQueue(&r->proposals, ERR_NOSPACE_UNKNOWN);
    replicaCompleteQueue(&r->barriers, ERR_NOSPACE);
    replicaCompleteQueue(&r->reads, ERR_NOSPACE);
}

static int replicaCheckLeader(struct replica *r)
{
    if (r->closing) {
        return ERR_SHUTDOWN;
    }
    return replicaIsLeader(r) ? 0 : ERR_NOTLEADER;
}

/* Leaders only: new work is refused while the log waits for space. */
static int replicaCheckWritable(struct replica *r)
{
    int rv = replicaCheckLeader(r);
    return rv != 0 ? rv : r->waiting_for_space ? ERR_NOSPACE : 0;
}

int replicaPropose(struct replica *r, uint8_t *data, size_t len,
                   struct replica_wait *w)
{
    int rv = replicaCheckWritable(r);
    if (rv == 0) {
        rv = raftPropose(r->raft, data, len, &w->index, &w->term);
    }
    raftPayloadUnref(data); /* the core holds its own reference */
    if (rv != 0) {
        return rv;
    }
    metricsProposed(r->metrics, w->start_us = metricsNowUs(), len);
    queueInsertTail(&r->proposals, &w->link);
    replicaProcess(r);
    return 0;
}

int replicaBarrier(struct replica *r, struct replica_wait *w)
{
    int rv = replicaCheckWritable(r);
    if (rv != 0) {
        return rv;
    }
    uint64_t commit = raftCommitIndex(r->raft);
    /* Until an entry of this term is committed, earlier entries may be
     * committed without the leader knowing: wait for everything it has. */
    w->index = raftTermAt(r->raft, commit) == raftTerm(r->raft)
                   ? commit
                   : raftLastIndex(r->raft);
    uint64_t fence = replicaFence(r);
    w->index = fence > w->index ? fence : w->index;
    if (w->index <= r->applied) {
        queueInit(&w->link);
        w->cb(w, 0);
        return 0;
    }
    queueInsertTail(&r->barriers, &w->link);
    return 0;
}

int replicaRead(struct replica *r, struct replica_wait *w)
{
    int rv = replicaCheckWritable(r);
    if (rv != 0) {
        return rv;
    }
    w->ctx = ++r->next_read_ctx;
    w->read_confirmed = false;
    w->deadline_ms = 0; /* ended by leadership loss, not by time */
    rv = raftReadIndex(r->raft, w->ctx, replicaNowMs(r));
    if (rv != 0) {
        return rv;
    }
    queueInsertTail(&r->reads, &w->link);
    replicaProcess(r);
    return 0;
}

/* Follower reads (docs/protocol.md "Read consistency"). On the leader
 * each is the leader's own read. */
int replicaReadFollower(struct replica *r, struct replica_wait *w)
{
    if (r->closing) {
        return ERR_SHUTDOWN;
    }
    if (replicaIsLeader(r)) {
        return replicaRead(r, w);
    }
    /* raftReadIndex asks the leader (ERR_NOTLEADER when none is known);
     * the answer comes through replicaReadsReady like a leader's. */
    w->ctx = ++r->next_read_ctx;
    w->read_confirmed = false;
    /* The core fails the read after an election timeout without the
     * leader's answer; once answered, the follower must also have applied
     * up to the index by this deadline (it may be cut off meanwhile). */
    w->deadline_ms = replicaNowMs(r) + 2 * (uint64_t)r->o.election_ms;
    int rv = raftReadIndex(r->raft, w->ctx, replicaNowMs(r));
    if (rv != 0) {
        return rv;
    }
    queueInsertTail(&r->reads, &w->link);
    replicaProcess(r);
    return 0;
}

/* Serves at an index already known committed: at once once applied. */
static int replicaReadAt(struct replica *r, struct replica_wait *w,
                         uint64_t index)
{
    w->index = index;
    if (w->index <= r->applied) {
        queueInit(&w->link);
        w->cb(w, 0);
        return 0;
    }
    queueInsertTail(&r->barriers, &w->link);
    return 0;
}

int replicaReadBounded(struct replica *r, struct replica_wait *w,
                       uint64_t max_ms)
{
    uint64_t index;
    if (r->closing) {
        return ERR_SHUTDOWN;
    }
    if (replicaIsLeader(r)) {
        return replicaBarrier(r, w);
    }
    if (!raftFollowerFresh(r->raft, replicaNowMs(r), max_ms, &index)) {
        return ERR_READ_STALE;
    }
    return replicaReadAt(r, w, index);
}

int replicaReadAny(struct replica *r, struct replica_wait *w)
{
    if (r->closing) {
        return ERR_SHUTDOWN;
    }
    if (replicaIsLeader(r)) {
        return replicaBarrier(r, w);
    }
    return replicaReadAt(r, w, r->applied);
}

void replicaCancel(struct replica_wait *w)
{
    queueRemove(&w->link);
}

int replicaWaitApplied(struct replica *r, uint64_t index,
                       struct replica_wait *w)
{
    int rv = replicaCheckLeader(r);
    if (rv != 0) {
        return rv;
    }
    w->index = index;
    queueInsertTail(&r->barriers, &w->link);
    replicaProcess(r);
    replicaWakeApplied(r);
    return 0;
}

int replicaWaitRole(struct replica *r, uint64_t id, int role,
                    uint64_t deadline_ms, struct replica_wait *w)
{
    int rv = replicaCheckLeader(r);
    if (rv != 0) {
        return rv;
    }
    w->id = id;
    w->role = role;
    w->deadline_ms = deadline_ms;
    queueInsertTail(&r->roles, &w->link);
    replicaProcess(r);
    return 0;
}

/* A role wait is met once the configuration holding the role is committed:
 * it then becomes a wait for that index to be applied. */
static void replicaExpireReads(struct replica *r, uint64_t now_ms);

void replicaCheckRoles(struct replica *r)
{
    struct queue *q, *tmp;
    const struct raft_configuration *conf = raftConfiguration(r->raft);
    uint64_t now_ms = replicaNowMs(r);
    struct queue expired;
    queueInit(&expired);
    QUEUE_FOREACH_SAFE(q, tmp, &r->roles)
    {
        struct replica_wait *w = QUEUE_DATA(q, struct replica_wait, link);
        const struct raft_server *s = raftConfGet(conf, w->id);
        bool reached =
            w->role < 0 ? s == NULL : s != NULL && s->role == w->role;
        if (reached) {
            queueRemove(q);
            w->index = raftLastIndex(r->raft);
            queueInsertTail(&r->barriers, &w->link);
        } else if (now_ms >= w->deadline_ms) {
            queueRemove(q);
            queueInsertTail(&expired, q); /* failed after the walk */
        }
    }
    replicaCompleteQueue(&expired, ERR_TIMEOUT);
    replicaWakeApplied(r);
    replicaExpireReads(r, now_ms);
}

/* Follower reads past their deadline (replicaReadFollower) fail. */
static void replicaExpireReads(struct replica *r, uint64_t now_ms)
{
    struct queue *q, *tmp;
    struct queue expired;
    queueInit(&expired);
    QUEUE_FOREACH_SAFE(q, tmp, &r->reads)
    {
        struct replica_wait *w = QUEUE_DATA(q, struct replica_wait, link);
        if (w->deadline_ms != 0 && now_ms >= w->deadline_ms) {
            queueRemove(q);
            queueInsertTail(&expired, q);
        }
    }
    replicaCompleteQueue(&expired, ERR_READ_BEHIND);
}

int replicaWaitTransfer(struct replica *r, struct replica_wait *w)
{
    int rv = replicaCheckLeader(r);
    if (rv != 0) {
        return rv;
    }
    queueInsertTail(&r->transfers, &w->link);
    return 0;
}

void replicaTransferDone(struct replica *r, int status)
{
    replicaCompleteQueue(&r->transfers, status);
}
