/*
 * EXEC and EXEC_SQL: statements that run to completion, whose writes are
 * replicated before the client hears back.
 *
 * EXEC_SQL runs every statement of its text in turn, giving each as many
 * of the remaining parameters as it has placeholders (protocol.md §5.9,
 * the newer rule), and reports the last real statement's results. A value
 * left over for the last statement is an error ("column index out of
 * range"), as go-dqlite's tests expect.
 *
 * A step that finds the database locked (SQLITE_BUSY) is parked in the
 * write queue (gateway_group.c): run, with the other writers parked on
 * that database, as one group once the lock is released, or failed with
 * "database is locked" after GATEWAY_BUSY_TIMEOUT_MS.
 */
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "repl/repl.h"
#include "server/conn.h"
#include "server/gateway_internal.h"
#include "server/node.h"
#include "server/policy.h"
#include "server/sql.h"

static void proposeAbort(struct gateway *g, int rv);

static void execFailAfterAbort(struct gateway *g, int rv)
{
    (void)rv;
    gatewayFailSaved(g);
}

static struct proto_text execSql(const struct gateway *g)
{
    return g->req.exec_sql.sql;
}

/* Db thread: the next statement of the text, NULL when only blanks are
 * left (g->sql_finished). */
static int execPrepareNext(struct gateway *g)
{
    struct proto_text sql = execSql(g);
    const char *start = sql.data + g->sql_offset;
    const char *tail = NULL;
    g->stmt = NULL;
    int rc = sqlite3_prepare_v2(g->db, start, (int)(sql.len - g->sql_offset),
                                &g->stmt, &tail);
    if (rc != SQLITE_OK) {
        return rc;
    }
    g->next_offset = tail != NULL ? (size_t)(tail - sql.data) : sql.len;
    g->sql_finished = g->stmt == NULL;
    return SQLITE_OK;
}

/* Db thread: whether this is the last statement to run. */
static bool execIsLast(struct gateway *g)
{
    if (!g->owns_stmt) {
        return true;
    }
    return !gatewayTailHasStatement(g->db, execSql(g).data + g->next_offset);
}

static int execBind(struct gateway *g)
{
    int n = sqlite3_bind_parameter_count(g->stmt);
    uint32_t left = g->params.params->count - g->params.index;
    if (left > (uint32_t)n && execIsLast(g)) {
        /* The reference's words: EXEC says "bind parameters". */
        gatewaySetError(g, SQLITE_RANGE,
                        g->owns_stmt ? "column index out of range"
                                     : "bind parameters");
        return SQLITE_RANGE;
    }
    int rc = sqlBind(g->stmt, &g->params, n);
    if (rc != SQLITE_OK) {
        gatewaySaveError(g, rc);
    }
    return rc;
}

/* Db thread: steps one statement to its end; collects held frames when
 * `poll` (a group collects them once for all its members). */
void gatewayExecRun(struct gateway *g, bool poll)
{
    g->committed = false;
    int rc = sqlite3_step(g->stmt);
    if (rc == SQLITE_ROW) {
        gatewaySetError(g, SQLITE_ERROR,
                        "rows yielded when none expected for EXEC request");
    } else if (rc == SQLITE_DONE) {
        g->rc = SQLITE_DONE;
        g->last_insert_id = sqlite3_last_insert_rowid(g->db);
        g->changes = sqlite3_changes64(g->db);
        /* VACUUM commits without calling the commit hook: its frames
         * would stay held, and the database locked, for good. */
        g->committed = g->committed || policyIsVacuum(g->stmt);
    } else {
        gatewaySaveError(g, rc);
    }
    sqlite3_reset(g->stmt); /* may commit: an autocommit statement's rows */
    if (g->committed && poll) {
        gatewayPollCommit(g);
    }
}

bool gatewayExecStart(struct gateway *g)
{
    g->has_frames = false;
    g->rc = SQLITE_OK;
    if (g->owns_stmt) {
        int rc = execPrepareNext(g);
        if (rc != SQLITE_OK) {
            gatewaySaveError(g, rc);
            return false;
        }
        if (g->sql_finished) {
            return false;
        }
    }
    return execBind(g) == SQLITE_OK;
}

void gatewayExecFinish(struct gateway *g)
{
    if (g->owns_stmt) {
        sqlite3_finalize(g->stmt);
        g->stmt = NULL;
    }
}

static void execStepWork(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    if (gatewayExecStart(g)) {
        gatewayExecRun(g, true);
    }
    gatewayExecFinish(g);
}

/* A write in autocommit mode runs in its own implicit transaction, which
 * an interruption rolls back whole: like a short read (gateway_query.c) it
 * may run on the loop thread when the db thread is idle, within
 * GATEWAY_HERE_BUDGET_US, and runs again from its start on the db thread
 * if it is interrupted. Statements inside an explicit transaction (an
 * interrupted write there would roll the whole transaction back) and the
 * read-only ones (BEGIN, COMMIT, SAVEPOINT: transaction control) always go
 * to the db thread. Loop thread, SQLite lock held, db thread idle. */
static void execStepHere(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    struct sql_budget budget;
    g->here_deferred = 0;
    sqlBudgetStart(g->db, &budget, GATEWAY_HERE_BUDGET_US);
    if (gatewayExecStart(g)) {
        if (sqlite3_get_autocommit(g->db) && !sqlite3_stmt_readonly(g->stmt)) {
            gatewayExecRun(g, true);
        } else {
            g->here_deferred = 1;
        }
    }
    sqlBudgetStop(g->db);
    if (sqlBudgetInterrupted(&budget, g->rc)) {
        g->here_deferred = 1; /* rolled back: nothing was done */
    }
    gatewayExecFinish(g);
}

static void execStepDone(struct worker_job *job);

static void execHereDone(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    if (g->here_deferred) {
        g->here_deferred = 0;
        g->params = g->params_saved; /* bound again on the db thread */
        gatewayRun(g, execStepWork, execStepDone);
        return;
    }
    execStepDone(job);
}

static void execRespondResult(struct gateway *g)
{
    struct proto_response resp;
    gatewayWakeParked(&gatewayNode(g)->parked, g->db_name);
    protoResponseInit(&resp, PROTO_RESP_RESULT);
    resp.result.last_insert_id = (uint64_t)g->last_insert_id;
    resp.result.rows_affected = (uint64_t)g->changes;
    gatewayRespond(g, &resp);
}

void gatewayExecContinue(struct gateway *g)
{
    if (g->owns_stmt && !g->sql_finished) {
        g->sql_offset = g->next_offset;
        if (g->sql_offset < execSql(g).len) {
            gatewayExecStep(g);
            return;
        }
    }
    execRespondResult(g);
}

static void execOnProposed(struct gateway *g, int rv)
{
    if (rv != 0) {
        gatewayFailErr(g, rv);
        return;
    }
    gatewayExecContinue(g);
}

static void execStepDone(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    if (g->rc == SQLITE_BUSY) {
        gatewayPark(g);
        return;
    }
    if (gatewayIsError(g) && g->has_frames) {
        /* It committed, but the request fails: take the write back. */
        g->after_propose = execFailAfterAbort;
        proposeAbort(g, 0);
        return;
    }
    if (gatewayIsError(g)) {
        gatewayWakeParked(&gatewayNode(g)->parked, g->db_name);
        gatewayFailSaved(g);
        return;
    }
    if (g->has_frames) {
        gatewayPropose(g, execOnProposed);
        return;
    }
    if (g->owns_stmt && g->sql_finished) {
        execRespondResult(g);
        return;
    }
    gatewayExecContinue(g);
}

void gatewayExecStep(struct gateway *g)
{
    g->params_saved = g->params;
    /* An autocommit write would only find the lock taken: it queues at
     * once (the connection is idle: reading its flag is safe). */
    if (sqlite3_get_autocommit(g->db) &&
        gatewayDbWriting(gatewayNode(g), g->db_name)) {
        gatewayPark(g);
        return;
    }
    if (!gatewayRunHere(g, execStepHere, execHereDone)) {
        gatewayRun(g, execStepWork, execStepDone);
    }
}

static void execOnBarrier(struct replica_wait *w, int status)
{
    struct gateway *g = GATEWAY_OF(w, wait);
    g->wait_out = false;
    if (g->closing) {
        gatewayCloseDb(g);
    } else if (status != 0) {
        gatewayFailErr(g, status);
    } else {
        gatewayExecStep(g);
    }
}

/* Whether SQL text (at most len bytes) starts with ROLLBACK, any case,
 * after white space. */
static bool execIsRollback(const char *sql, size_t len)
{
    static const char word[] = "ROLLBACK";
    size_t i = 0;
    while (i < len && (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' ||
                       sql[i] == '\r')) {
        i++;
    }
    return len - i >= sizeof word - 1 &&
           strncasecmp(sql + i, word, sizeof word - 1) == 0;
}

/* Whether this statement may skip the barrier that makes a leader's state
 * current before a statement runs. Inside a transaction that has already
 * read (its snapshot is fixed), the barrier adds nothing; and a ROLLBACK
 * must never wait for one: a barrier refused (a full disk: "request
 * refused") would leave the transaction open, holding the write lock and
 * showing its own uncommitted changes to its connection, until the
 * connection closes (found by the fault battery's bank workload, seed
 * 11550: one client read its own half-done transfer for 24 s while every
 * other writer waited). Reading the connection's state is safe: it is
 * idle. */
static bool execSkipsBarrier(struct gateway *g)
{
    if (g->db == NULL || sqlite3_get_autocommit(g->db)) {
        return false;
    }
    if (sqlite3_txn_state(g->db, NULL) != SQLITE_TXN_NONE) {
        return true;
    }
    if (g->req.type == PROTO_REQ_EXEC_SQL) {
        return execIsRollback(g->req.exec_sql.sql.data,
                              g->req.exec_sql.sql.len);
    }
    const char *sql = g->stmt != NULL ? sqlite3_sql(g->stmt) : NULL;
    return sql != NULL && execIsRollback(sql, strlen(sql));
}

void gatewayExec(struct gateway *g)
{
    if (!gatewayCheckLeader(g) || !gatewaySelectStatement(g)) {
        return;
    }
    g->last_insert_id = 0;
    g->changes = 0;
    g->busy_deadline_ms = 0;
    if (execSkipsBarrier(g)) {
        gatewayExecStep(g);
        return;
    }
    gatewayAwait(g, execOnBarrier, replicaBarrier);
}

/* ------------------------------------------------------------ proposals */

static void proposeAbortWork(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    replLeaderAbort(gatewayNode(g)->replica.vfs, g->db_name);
}

static void proposeAbortDone(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    g->stage = GATEWAY_IDLE;
    g->has_frames = false;
    gatewaySlotRelease(&g->slot);
    gatewayWakeParked(&gatewayNode(g)->parked, g->db_name);
    if (job->canceled || g->closing) {
        gatewayCloseDb(g);
        return;
    }
    g->after_propose(g, g->propose_rv);
}

/* Drops the held frames on the db thread, then reports `rv`. */
static void proposeAbort(struct gateway *g, int rv)
{
    g->propose_rv = rv;
    g->stage = GATEWAY_RUNNING;
    gatewaySlotTake(gatewayNode(g), &g->slot, g->db_name);
    g->job.work = proposeAbortWork;
    g->job.done = proposeAbortDone;
    workerSubmit(&gatewayNode(g)->worker, &g->job);
}

bool gatewayAbortHeld(struct gateway *g)
{
    if (!g->has_frames) {
        return false;
    }
    g->after_propose = execFailAfterAbort; /* not called: closing */
    proposeAbort(g, 0);
    return true;
}

void gatewayMaybeCheckpoint(struct dqlite_node *n, const char *db_name)
{
    uint32_t frames = 0;
    if (vfsWalFrames(n->replica.vfs, db_name, &frames) != 0 ||
        frames < n->replica.repl.checkpoint_frames) {
        return;
    }
    nodeProposeCheckpoint(n, db_name);
}

static void proposeOnApplied(struct replica_wait *w, int status)
{
    struct gateway *g = GATEWAY_OF(w, wait);
    g->wait_out = false;
    if (status != 0) {
        proposeAbort(g, status);
        return;
    }
    g->has_frames = false; /* published by the apply */
    gatewaySlotRelease(&g->slot);
    gatewayWakeParked(&gatewayNode(g)->parked, g->db_name);
    gatewayMaybeCheckpoint(gatewayNode(g), g->db_name);
    if (g->closing) {
        gatewayCloseDb(g);
        return;
    }
    g->after_propose(g, 0);
}

void gatewayPropose(struct gateway *g, void (*next)(struct gateway *g, int rv))
{
    PRE(g->has_frames);
    g->after_propose = next;
    gatewaySlotTake(gatewayNode(g), &g->slot, g->db_name);
    uint8_t *payload = raftPayloadAlloc(g->frames.len);
    if (payload == NULL) {
        proposeAbort(g, ERR_NOMEM);
        return;
    }
    memcpy(payload, g->frames.data, g->frames.len);
    g->stage = GATEWAY_WAITING;
    g->wait.cb = proposeOnApplied;
    g->wait_out = true;
    int rv = replicaPropose(&gatewayNode(g)->replica, payload, g->frames.len,
                            &g->wait);
    if (rv != 0) {
        g->wait_out = false;
        proposeAbort(g, rv);
    }
}
