/*
 * The leader's write queue: writers parked on a database's write lock, and
 * the groups they are run in (group commit). One home for both, so that
 * the path of a write that has to wait reads in one file:
 *
 *   EXEC finds its database locked (SQLITE_BUSY: a commit is in flight)
 *     -> gatewayPark: queued on the node's parked list, admission order
 *   the lock is released (the commit applied or aborted, a connection
 *   closed, a transaction ended: gatewayWakeParked)
 *     -> the parked writers of that database, up to GROUP_MAX_STMTS, form
 *        one group; one db-thread job runs their statements in admission
 *        order, each on its own connection and stacked on the frames its
 *        predecessors committed (vfsStackBegin/End, src/vfs/txn.c)
 *     -> the group's frames (the last version of each page) are proposed
 *        as one raft entry
 *     -> once it is applied here every member is answered with its own
 *        result (or its own failure); if it is lost, every member fails
 *        with the error that lost it (FAILURE 10506 leadership lost).
 *
 * Why stacking and not one SQLite transaction with a savepoint per
 * statement: each client's statements are prepared on its own connection
 * (EXEC names a statement id), so they can only run there. Each statement
 * is its own implicit transaction, committed on top of the previous ones;
 * the outcome is that of running them one after another in admission
 * order, which is what they are. A statement that fails rolls back only
 * itself (SQLite does), and one that fails after committing (EXEC of a
 * statement that yields rows) has its frames dropped alone
 * (vfsStackEnd with keep false). Readers see none of it before the apply.
 *
 * A lone writer never waits for company: it runs as soon as it arrives
 * (gateway_exec.c). A group forms only from writers that arrived while a
 * commit was in flight, so its wait for company is the commit's own
 * round trip, and nothing more.
 *
 * Loop thread, except groupWork (db thread), which touches only the
 * members' SQLite state and the fields it fills.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "raft/raft.h"
#include "repl/repl.h"
#include "server/conn.h"
#include "server/gateway_internal.h"
#include "server/node.h"
#include "server/policy.h"
#include "vfs/vfs.h"

/* Most statements one group runs; the rest wait for the next group. */
#define GROUP_MAX_STMTS 256
/* Most bytes of frames a group holds: a statement that would take it past
 * this runs alone in the next group (far below REPL_MAX_TXN_BYTES, so a
 * group never fails as too big because of its neighbours). */
#define GROUP_MAX_BYTES ((uint64_t)8 << 20)

struct gateway_group {
    struct dqlite_node *node;
    char *db_name;
    struct queue members; /* gateways (group_link), admission order */
    struct worker_job job;
    struct replica_wait wait;
    struct gateway_slot slot; /* the database is written by this group */
    struct buf frames;        /* the encoded frames command */
    bool has_frames;
    bool ours;   /* db thread: frames held are this group's */
    int poll_rc; /* SQLite code of a failed poll, 0 if none */
    int status;  /* what lost the proposal (groupAbort) */
    char poll_msg[GATEWAY_TOOBIG_MESSAGE_SIZE];
};

#define GROUP_OF(ptr, field)                                  \
    ((struct gateway_group *)(void *)((char *)(ptr)-offsetof( \
        struct gateway_group, field)))

/* ------------------------------------------------------------ slots */

void gatewaySlotTake(struct dqlite_node *n, struct gateway_slot *s,
                     const char *name)
{
    if (s->db_name != NULL) {
        return;
    }
    s->db_name = name;
    queueInsertTail(&n->writing, &s->link);
}

void gatewaySlotRelease(struct gateway_slot *s)
{
    if (s->db_name == NULL) {
        return;
    }
    queueRemove(&s->link);
    s->db_name = NULL;
}

bool gatewayDbWriting(struct dqlite_node *n, const char *name)
{
    struct queue *q;
    QUEUE_FOREACH(q, &n->writing)
    {
        struct gateway_slot *s = QUEUE_DATA(q, struct gateway_slot, link);
        if (strcmp(s->db_name, name) == 0) {
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------ parking */

void gatewayPark(struct gateway *g)
{
    struct dqlite_node *n = gatewayNode(g);
    uint64_t now_ms = uv_now(&n->loop);
    g->params = g->params_saved; /* the step runs again from scratch */
    if (g->busy_deadline_ms == 0) {
        g->busy_deadline_ms = now_ms + n->busy_timeout_ms;
    }
    if (now_ms >= g->busy_deadline_ms) {
        gatewayFailure(g, SQLITE_BUSY, "database is locked");
        return;
    }
    g->stage = GATEWAY_PARKED;
    queueInsertTail(&n->parked, &g->busy_link);
    nodeParkedChanged(n);
}

/* A member its group could not run, back at the front of the queue (in
 * admission order: called from the last to the first) unless its
 * deadline passed. */
static void groupRequeue(struct gateway *g)
{
    struct dqlite_node *n = gatewayNode(g);
    g->params = g->params_saved;
    if (uv_now(&n->loop) >= g->busy_deadline_ms) {
        gatewayFailure(g, SQLITE_BUSY, "database is locked");
        return;
    }
    g->stage = GATEWAY_PARKED;
    queueInsertHead(&n->parked, &g->busy_link);
    nodeParkedChanged(n);
}

/* The parked timer (loop.c), every few milliseconds while writers are
 * parked: fails those past their deadline, and runs the others of each
 * database nothing writes now (a lock released without a wake-up: a
 * safety net, wake-ups normally come first). */
void gatewayParkedTick(struct dqlite_node *n)
{
    uint64_t now_ms = uv_now(&n->loop);
    struct queue *q;
    struct queue *tmp;
    QUEUE_FOREACH_SAFE(q, tmp, &n->parked)
    {
        struct gateway *g = QUEUE_DATA(q, struct gateway, busy_link);
        if (now_ms >= g->busy_deadline_ms) {
            queueRemove(q);
            g->stage = GATEWAY_IDLE;
            gatewayFailure(g, SQLITE_BUSY, "database is locked");
        }
    }
    /* Each wake takes a database's writers off the list: start over. */
    bool woke = true;
    while (woke) {
        woke = false;
        QUEUE_FOREACH(q, &n->parked)
        {
            struct gateway *g = QUEUE_DATA(q, struct gateway, busy_link);
            if (!gatewayDbWriting(n, g->db_name)) {
                const char *name = g->db_name;
                gatewayWakeParked(&n->parked, name);
                woke = gatewayDbWriting(n, name); /* else out of memory */
                break;
            }
        }
    }
    nodeParkedChanged(n);
}

/* ------------------------------------------------------------ db thread */

/* The member did not run in the group (the lock was taken, the group was
 * full): it goes first in the next group. */
static void groupDefer(struct gateway *g)
{
    g->group_deferred = true;
    g->params = g->params_saved;
    g->has_error = false;
    g->rc = SQLITE_OK;
}

static void groupRunMember(struct gateway *g)
{
    struct gateway_group *grp = g->group;
    struct vfs *v = grp->node->replica.vfs;
    g->committed = false;
    g->group_deferred = false;
    if (!gatewayExecStart(g)) {
        return; /* failed (error saved) or nothing left to run */
    }
    /* Only autocommit writes stack: a statement of an explicit transaction
     * would keep the write lock past the group, and transaction control
     * (BEGIN, COMMIT) must not run inside it, nor VACUUM (it commits
     * behind SQLite's commit hook). Such a statement runs as usual, first
     * in its group (else in the next). */
    if (!sqlite3_get_autocommit(g->db) || sqlite3_stmt_readonly(g->stmt) ||
        policyIsVacuum(g->stmt)) {
        if (grp->ours) {
            groupDefer(g);
            return;
        }
        gatewayExecRun(g, false);
        if (g->rc == SQLITE_BUSY) {
            groupDefer(g);
        } else if (g->committed && !gatewayIsError(g)) {
            grp->ours = true; /* COMMIT: its frames are the group's */
        }
        return;
    }
    if (vfsStackBegin(v, grp->db_name, grp->ours) != 0) {
        groupDefer(g); /* frames held by another proposal */
        return;
    }
    bool on_held = grp->ours;
    gatewayExecRun(g, false);
    bool keep = !gatewayIsError(g) && g->rc != SQLITE_BUSY;
    if (!sqlite3_get_autocommit(g->db) && on_held) {
        /* It opened a transaction (BEGIN IMMEDIATE is not "read-only"):
         * never on top of the group's frames. Undone; first next time. */
        (void)sqlite3_exec(g->db, "ROLLBACK", NULL, NULL, NULL);
        (void)vfsStackEnd(v, grp->db_name, false, GROUP_MAX_BYTES);
        groupDefer(g);
        return;
    }
    int rv = vfsStackEnd(v, grp->db_name, keep, GROUP_MAX_BYTES);
    if (rv == ERR_TOOBIG || g->rc == SQLITE_BUSY) {
        groupDefer(g);
        return;
    }
    if (keep && g->committed) {
        grp->ours = true;
    }
}

static void groupRunMemberGuarded(struct gateway *g)
{
    groupRunMember(g);
    gatewayExecFinish(g);
}

/* Db thread: runs every member in admission order, then collects the
 * group's frames once. */
static void groupWork(struct worker_job *job)
{
    struct gateway_group *grp = GROUP_OF(job, job);
    struct queue *q;
    grp->ours = false;
    QUEUE_FOREACH(q, &grp->members)
    {
        struct gateway *g = QUEUE_DATA(q, struct gateway, group_link);
        g->has_error = false;
        g->rc = SQLITE_OK;
        gatewayGuarded(g, groupRunMemberGuarded);
    }
    if (!grp->ours) {
        return;
    }
    struct vfs *v = grp->node->replica.vfs;
    int rv = replLeaderPoll(v, grp->db_name, &grp->frames, &grp->has_frames);
    if (rv == ERR_TOOBIG) {
        grp->poll_rc = SQLITE_TOOBIG;
        gatewayTooBigMessage(grp->poll_msg, sizeof grp->poll_msg);
    } else if (rv != 0) {
        grp->poll_rc = SQLITE_IOERR;
        snprintf(grp->poll_msg, sizeof grp->poll_msg, "%s", errString(rv));
        (void)vfsAbort(v, grp->db_name); /* leave no lock held */
    }
    POST(rv == 0 || !grp->has_frames);
}

static void groupAbortWork(struct worker_job *job)
{
    struct gateway_group *grp = GROUP_OF(job, job);
    (void)replLeaderAbort(grp->node->replica.vfs, grp->db_name);
}

/* ------------------------------------------------------------ loop */

static void groupFree(struct gateway_group *grp)
{
    ASSERT(queueEmpty(&grp->members));
    bufFree(&grp->frames);
    libFree(grp->db_name);
    libFree(grp);
}

static struct gateway *groupPop(struct gateway_group *grp)
{
    struct queue *q = queueHead(&grp->members);
    queueRemove(q);
    struct gateway *g = QUEUE_DATA(q, struct gateway, group_link);
    ASSERT(g->group == grp);
    g->group = NULL;
    g->stage = GATEWAY_IDLE;
    return g;
}

/* The group's outcome is known (`status`: 0 applied, or what lost it):
 * every member is answered, then the next group may form. */
static void groupFinish(struct gateway_group *grp, int status)
{
    struct dqlite_node *n = grp->node;
    bool wrote = grp->has_frames;
    gatewaySlotRelease(&grp->slot);
    if (wrote) {
        /* The lock is free: the writers that queued meanwhile go next, on
         * the db thread while this loop answers these. A group that wrote
         * nothing released nothing (its members were all refused by a
         * lock someone else holds, whose release wakes them, or the
         * parked timer does). */
        gatewayWakeParked(&n->parked, grp->db_name);
    }
    while (!queueEmpty(&grp->members)) {
        struct gateway *g = groupPop(grp);
        if (g->closing) {
            gatewayCloseDb(g); /* its statement's fate is its own */
        } else if (status != 0) {
            gatewayFailErr(g, status);
        } else if (gatewayIsError(g)) {
            gatewayFailSaved(g);
        } else {
            gatewayExecContinue(g);
        }
    }
    groupFree(grp);
}

static void groupAbortDone(struct worker_job *job)
{
    struct gateway_group *grp = GROUP_OF(job, job);
    groupFinish(grp, grp->status);
}

/* Drops the group's held frames on the db thread, then fails everyone
 * with `rv`. */
static void groupAbort(struct gateway_group *grp, int rv)
{
    PRE(rv != 0);
    grp->status = rv;
    grp->job.work = groupAbortWork;
    grp->job.done = groupAbortDone;
    workerSubmit(&grp->node->worker, &grp->job);
}

static void groupOnApplied(struct replica_wait *w, int status)
{
    struct gateway_group *grp = GROUP_OF(w, wait);
    if (status != 0) {
        groupAbort(grp, status);
        return;
    }
    /* Nobody is answered before this point: the entry is applied here. */
    gatewayMaybeCheckpoint(grp->node, grp->db_name);
    groupFinish(grp, 0);
}

static void groupPropose(struct gateway_group *grp)
{
    PRE(grp->has_frames);
    uint8_t *payload = raftPayloadAlloc(grp->frames.len);
    if (payload == NULL) {
        groupAbort(grp, ERR_NOMEM);
        return;
    }
    memcpy(payload, grp->frames.data, grp->frames.len);
    grp->wait.cb = groupOnApplied;
    int rv = replicaPropose(&grp->node->replica, payload, grp->frames.len,
                            &grp->wait);
    if (rv != 0) {
        groupAbort(grp, rv);
    }
}

static void groupWorkDone(struct worker_job *job)
{
    struct gateway_group *grp = GROUP_OF(job, job);
    struct queue deferred;
    struct queue *q;
    struct queue *tmp;
    queueInit(&deferred);
    QUEUE_FOREACH_SAFE(q, tmp, &grp->members)
    {
        struct gateway *g = QUEUE_DATA(q, struct gateway, group_link);
        if (g->group_deferred || job->canceled) {
            queueRemove(q);
            queueInsertTail(&deferred, q);
        } else if (grp->poll_rc != 0 && !gatewayIsError(g)) {
            gatewaySetError(g, grp->poll_rc, grp->poll_msg);
        } else {
            g->stage = GATEWAY_WAITING;
        }
    }
    while (!queueEmpty(&deferred)) {
        struct queue *d = deferred.prev; /* last first: see Requeue */
        queueRemove(d);
        struct gateway *g = QUEUE_DATA(d, struct gateway, group_link);
        g->group = NULL;
        g->stage = GATEWAY_IDLE;
        g->group_deferred = false;
        if (g->closing || job->canceled) {
            gatewayCloseDb(g);
        } else {
            groupRequeue(g); /* first in the next group */
        }
    }
    if (grp->has_frames && !job->canceled) {
        groupPropose(grp);
        return;
    }
    groupFinish(grp, 0); /* nothing to replicate: answer now */
}

/* Runs the parked writers of `name` (at most GROUP_MAX_STMTS, in the
 * order they were parked) as one group. */
void gatewayWakeParked(struct queue *parked, const char *name)
{
    struct gateway_group *grp = NULL;
    struct queue *q;
    struct queue *tmp;
    unsigned n_members = 0;
    if (name == NULL || queueEmpty(parked)) {
        return;
    }
    struct gateway *first =
        QUEUE_DATA(queueHead(parked), struct gateway, busy_link);
    if (gatewayDbWriting(gatewayNode(first), name)) {
        return; /* the write in flight wakes them when it ends */
    }
    QUEUE_FOREACH_SAFE(q, tmp, parked)
    {
        struct gateway *g = QUEUE_DATA(q, struct gateway, busy_link);
        if (strcmp(g->db_name, name) != 0) {
            continue;
        }
        if (grp == NULL) {
            grp = libCalloc(1, sizeof *grp);
            char *copy = libStrdup(name);
            if (grp == NULL || copy == NULL) {
                libFree(grp);
                libFree(copy);
                return; /* the parked timer retries them */
            }
            grp->node = gatewayNode(g);
            grp->db_name = copy;
            queueInit(&grp->members);
            bufInit(&grp->frames);
        }
        ASSERT(g->stage == GATEWAY_PARKED && g->group == NULL);
        queueRemove(q);
        g->stage = GATEWAY_RUNNING;
        g->group = grp;
        queueInsertTail(&grp->members, &g->group_link);
        if (++n_members == GROUP_MAX_STMTS) {
            break;
        }
    }
    if (grp == NULL) {
        return;
    }
    nodeParkedChanged(grp->node);
    gatewaySlotTake(grp->node, &grp->slot, grp->db_name);
    grp->job.work = groupWork;
    grp->job.done = groupWorkDone;
    workerSubmit(&grp->node->worker, &grp->job);
}
