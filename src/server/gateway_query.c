/*
 * QUERY and QUERY_SQL: statements whose rows stream back in ROWS batches.
 *
 * A query first waits for a read-index round (unless linearizable reads
 * are off), so it sees every write acknowledged before it arrived. Batches
 * are produced one at a time on the db thread (read-only ones outside a
 * transaction on the reader pool: docs/server.md) and written before the next
 * one is made, so a large result never sits in memory whole. Between two
 * batches an INTERRUPT already received stops the stream: the statement is
 * reset and the INTERRUPT answered with EMPTY (protocol.md §6.4). One
 * that arrives while a batch is being made stops the statement itself
 * (the connection's guard, sql.h): the first batch then fails with
 * SQLITE_INTERRUPT before the INTERRUPT gets its EMPTY; a later one ends
 * the stream with EMPTY alone, as between batches.
 *
 * A zero-column statement is refused (go-dqlite 1.11 would loop forever on
 * a zero-column ROWS message). A query that writes (RETURNING) has its
 * frames replicated before its last batch goes out.
 */
#include "lib/assert.h"
#include "lib/err.h"
#include "repl/repl.h"
#include "server/conn.h"
#include "server/gateway_internal.h"
#include "server/node.h"
#include "server/sql.h"

static void queryBatch(struct gateway *g);

static void queryEndStatement(struct gateway *g)
{
    if (g->owns_stmt) {
        sqlite3_finalize(g->stmt);
    } else {
        sqlite3_reset(g->stmt);
    }
    g->stmt = NULL;
}

static bool queryPrepare(struct gateway *g)
{
    const struct proto_text sql = g->req.query_sql.sql;
    const char *tail = NULL;
    int rc =
        sqlite3_prepare_v2(g->db, sql.data, (int)sql.len + 1, &g->stmt, &tail);
    if (rc != SQLITE_OK) {
        gatewaySaveError(g, rc);
        return false;
    }
    if (g->stmt == NULL) {
        gatewaySetError(g, 0, "empty statement");
        return false;
    }
    if (gatewayTailHasStatement(g->db, tail)) {
        gatewaySetError(g, SQLITE_ERROR, "nonempty statement tail");
        return false;
    }
    return true;
}

static bool queryBind(struct gateway *g)
{
    int n = sqlite3_bind_parameter_count(g->stmt);
    if (sqlite3_column_count(g->stmt) == 0) {
        gatewaySetError(g, SQLITE_ERROR, "statement does not return rows");
        return false;
    }
    if (g->params.params->count > (uint32_t)n) {
        gatewaySetError(g, SQLITE_RANGE, "column index out of range");
        return false;
    }
    int rc = sqlBind(g->stmt, &g->params, n);
    if (rc != SQLITE_OK) {
        gatewaySaveError(g, rc);
        return false;
    }
    return true;
}

/* The end of a batch: the error saved, the statement ended after its
 * last batch, and the frames of a query that wrote collected. */
static void queryBatchEnd(struct gateway *g, enum sql_batch_end end, int rc)
{
    g->stream_done = end != SQL_BATCH_PART;
    g->rc = SQLITE_OK;
    if (end == SQL_BATCH_ERROR) {
        gatewaySaveError(g, rc);
    }
    if (g->stream_done) {
        queryEndStatement(g);
    }
    if (end == SQL_BATCH_DONE && g->committed) {
        gatewayPollCommit(g);
    }
}

/* Db thread: one batch into g->out. */
static void queryBatchWork(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    int rc = SQLITE_OK;
    bufReset(&g->out);
    g->has_frames = false;
    if (g->sqlconn.ended != NULL) {
        /* The replica reset the statement to replace its database
         * (replicaEndReaders): stepping it again would restart it on the
         * new content; the stream fails instead. */
        gatewaySetError(g, SQLITE_ABORT, g->sqlconn.ended);
        g->sqlconn.ended = NULL;
        g->stream_done = true;
        queryEndStatement(g);
        return;
    }
    workerReadStepping();
    enum sql_batch_end end =
        sqlRowsBatch(g->stmt, &g->out, GATEWAY_BATCH_BYTES, &rc);
    queryBatchEnd(g, end, rc);
}

/* Loop thread, no job running: the next batch may go to the reader pool
 * (docs/server.md, "Parallel readers"). */
static bool queryIsPlainRead(const struct gateway *g)
{
    return g->stmt != NULL && sqlite3_stmt_readonly(g->stmt) &&
           sqlite3_get_autocommit(g->db);
}

/* The statement prepared (the *_SQL requests) and bound; on failure the
 * error is saved and the statement ended. */
static bool queryStartStatement(struct gateway *g)
{
    g->rc = SQLITE_OK;
    g->committed = false;
    g->has_frames = false;
    g->sqlconn.ended = NULL; /* about a statement that is over */
    if (g->owns_stmt && !queryPrepare(g)) {
        if (g->stmt != NULL) {
            queryEndStatement(g);
        }
        return false;
    }
    if (!queryBind(g)) {
        queryEndStatement(g);
        return false;
    }
    return true;
}

static void queryStartWork(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    if (queryStartStatement(g)) {
        queryBatchWork(job);
    }
}

/* ------------------------------------------------ first batch on the loop
 *
 * Most queries are short reads: handing them to the db thread and back
 * costs two thread wake-ups, far more than SQLite's own work (a point read
 * is a few microseconds; docs/performance.md). When the db thread is idle
 * the first batch of a read-only statement is made on the loop thread, as
 * the reference makes every batch, within GATEWAY_HERE_BUDGET_US
 * (sqlBudgetStart): past it the statement is interrupted (a read-only
 * statement interrupted rolls nothing back, in a transaction or not) and
 * run again from its start on the db thread. Statements that write
 * (RETURNING) always go to the db thread. */

enum query_here {
    QUERY_HERE_DONE,  /* answered from here */
    QUERY_HERE_BATCH, /* prepared and bound, not stepped (or reset) */
    QUERY_HERE_START, /* interrupted while preparing: start over */
};

/* Loop thread, SQLite lock held, db thread idle. */
static void queryStartHere(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    struct proto_params_iter params = g->params;
    sqlite3_stmt *stmt = g->stmt; /* QUERY: the prepared one, reset on error */
    struct sql_budget budget;
    int rc = SQLITE_OK;
    g->here_deferred = QUERY_HERE_DONE;
    sqlBudgetStart(g->db, &budget, GATEWAY_HERE_BUDGET_US);
    if (!queryStartStatement(g)) {
        sqlBudgetStop(g->db);
        if (sqlBudgetInterrupted(&budget, g->rc)) {
            g->params = params; /* nothing was run */
            g->stmt = g->owns_stmt ? NULL : stmt;
            g->here_deferred = QUERY_HERE_START;
        }
        return;
    }
    if (!sqlite3_stmt_readonly(g->stmt)) {
        sqlBudgetStop(g->db);
        g->here_deferred = QUERY_HERE_BATCH;
        return;
    }
    bufReset(&g->out);
    enum sql_batch_end end =
        sqlRowsBatch(g->stmt, &g->out, GATEWAY_BATCH_BYTES, &rc);
    sqlBudgetStop(g->db);
    if (end == SQL_BATCH_ERROR && sqlBudgetInterrupted(&budget, rc)) {
        sqlite3_reset(g->stmt); /* the bindings stay */
        g->here_deferred = QUERY_HERE_BATCH;
        return;
    }
    queryBatchEnd(g, end, rc);
}

/* Reader pool (the db thread or the loop was busy): prepared and bound
 * under the SQLite lock; a statement that may write, or one inside an
 * explicit transaction, is left to the db thread unstepped. */
static void queryStartRead(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    g->here_deferred = QUERY_HERE_DONE;
    if (!queryStartStatement(g)) {
        return;
    }
    if (!sqlite3_stmt_readonly(g->stmt) || !sqlite3_get_autocommit(g->db)) {
        g->here_deferred = QUERY_HERE_BATCH;
        return;
    }
    queryBatchWork(job);
}

static void queryBatchDone(struct worker_job *job);

static void queryHereDone(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    int deferred = g->here_deferred;
    g->here_deferred = QUERY_HERE_DONE;
    if (deferred == QUERY_HERE_BATCH && queryIsPlainRead(g)) {
        gatewayRunRead(g, queryBatchWork, queryBatchDone);
    } else if (deferred == QUERY_HERE_BATCH) {
        gatewayRun(g, queryBatchWork, queryBatchDone);
    } else if (deferred == QUERY_HERE_START) {
        gatewayRun(g, queryStartWork, queryBatchDone);
    } else {
        queryBatchDone(job);
    }
}

static void queryResetWork(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    queryEndStatement(g);
    if (g->committed) {
        /* An interrupted statement that wrote: the write is not kept. */
        replLeaderAbort(gatewayNode(g)->replica.vfs, g->db_name);
    }
}

static void queryInterruptDone(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    gatewayEmpty(g); /* the answer to the INTERRUPT */
}

static void queryOnWritten(struct conn *c, int status)
{
    struct gateway *g = &c->gateway;
    if (status != 0 || g->stage != GATEWAY_WRITING) {
        return;
    }
    g->stage = GATEWAY_IDLE;
    if (g->stream_done) {
        connRequestDone(c);
    } else if (connPeekInterrupt(c)) {
        gatewayRun(g, queryResetWork, queryInterruptDone);
    } else {
        queryBatch(g);
    }
}

static void queryWriteBatch(struct gateway *g)
{
    g->streaming = true;
    gatewayWrite(g, queryOnWritten);
}

static void queryOnProposed(struct gateway *g, int rv)
{
    if (rv != 0) {
        gatewayFailErr(g, rv);
        return;
    }
    queryWriteBatch(g);
}

/* A batch after the first one stopped by the client's INTERRUPT: the
 * stream ends as one stopped between batches does, with EMPTY and no
 * FAILURE (protocol.md §6.4); the statement was already ended. */
static bool queryStreamInterrupted(struct gateway *g)
{
    return g->streaming && (g->rc & 0xff) == SQLITE_INTERRUPT &&
           connPeekInterrupt(g->conn);
}

static void queryBatchDone(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    if (gatewayIsError(g) && (g->rc & 0xff) == SQLITE_INTERRUPT &&
        g->sqlconn.ended != NULL) {
        /* Stopped on the reader pool for the replica (workerEndReads). */
        gatewaySetError(g, SQLITE_ABORT, g->sqlconn.ended);
        g->sqlconn.ended = NULL;
    }
    if (gatewayIsError(g) && queryStreamInterrupted(g)) {
        gatewayEmpty(g); /* the answer to the INTERRUPT */
    } else if (gatewayIsError(g)) {
        gatewayFailSaved(g);
    } else if (g->has_frames) {
        gatewayPropose(g, queryOnProposed);
    } else {
        queryWriteBatch(g);
    }
}

static void queryBatch(struct gateway *g)
{
    if (queryIsPlainRead(g)) {
        gatewayRunRead(g, queryBatchWork, queryBatchDone);
        return;
    }
    gatewayRun(g, queryBatchWork, queryBatchDone);
}

static void queryOnRead(struct replica_wait *w, int status)
{
    struct gateway *g = GATEWAY_OF(w, wait);
    g->wait_out = false;
    if (g->closing) {
        gatewayCloseDb(g);
    } else if (status != 0) {
        gatewayFailErr(g, status);
    } else if (gatewayRunHere(g, queryStartHere, queryHereDone)) {
        return;
    } else if (workerHasReaders(&gatewayNode(g)->worker)) {
        gatewayRunRead(g, queryStartRead, queryHereDone);
    } else {
        gatewayRun(g, queryStartWork, queryBatchDone);
    }
}

void gatewayQuery(struct gateway *g)
{
    if (!gatewayCheckReader(g) || !gatewaySelectStatement(g)) {
        return;
    }
    g->streaming = false;
    gatewayAwait(g, queryOnRead, gatewayReadGate(g));
}
