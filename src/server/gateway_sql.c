/*
 * The SQL requests: OPEN, PREPARE, FINALIZE, EXEC, EXEC_SQL, QUERY,
 * QUERY_SQL and DUMP.
 *
 * Each runs as a chain of steps: checks on the loop, then a wait on raft
 * (a barrier before writes, a read-index round before queries), then jobs
 * on the db thread that call SQLite, then, for a write that committed, a
 * raft proposal of its frames; the client is answered once the frames are
 * applied here. A writer that finds the database locked by another
 * connection is parked and retried when that lock is released, up to
 * GATEWAY_BUSY_TIMEOUT_MS, instead of failing at once.
 *
 * Job bodies (the *Work functions) run on the db thread and touch only the
 * gateway's SQLite state and the fields they fill; everything else happens
 * in the loop-side steps.
 */
#include <stdio.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "proto/dbname.h"
#include "repl/command.h"
#include "repl/repl.h"
#include "server/conn.h"
#include "server/gateway_internal.h"
#include "server/node.h"
#include "server/policy.h"
#include "server/sql.h"
#include "vfs/vfs.h"

static void sqlJobDone(struct worker_job *job);

/* Db thread (or the loop, for work run here): why a statement the guard
 * stopped failed, in words the client can act on. */
static void sqlExplainStop(struct gateway *g)
{
    if (!g->has_error || (g->rc & 0xff) != SQLITE_INTERRUPT) {
        return;
    }
    if (g->guard.fired == SQL_STOP_DEADLINE) {
        char msg[64];
        snprintf(msg, sizeof msg, "statement timed out after %u ms",
                 gatewayNode(g)->statement_timeout_ms);
        gatewaySetError(g, SQLITE_INTERRUPT, msg);
    } else if (g->guard.fired == SQL_STOP_INTERRUPT) {
        gatewaySetError(g, SQLITE_INTERRUPT, "interrupted by the client");
    } else if (g->guard.fired == SQL_STOP_CLOSED) {
        gatewaySetError(g, SQLITE_INTERRUPT, "interrupted: the node stops");
    }
}

/* Every SQL job runs under the connection's guard (sql.h): INTERRUPT, a
 * close or the statement timeout stop it. Work run on the loop replaces
 * the handler with its own budget (sqlBudgetStart). */
static void sqlJobRun(struct gateway *g)
{
    g->job_work(&g->job);
}

static void sqlJobWork(struct worker_job *job)
{
    gatewayGuarded(GATEWAY_OF(job, job), sqlJobRun);
}

void gatewayGuarded(struct gateway *g, void (*fn)(struct gateway *g))
{
    if (g->db != NULL) {
        sqlGuardArm(g->db, &g->guard, gatewayNode(g)->statement_timeout_ms);
    }
    fn(g);
    if (g->db != NULL) {
        sqlGuardDisarm(g->db);
        sqlExplainStop(g);
    }
}

static void sqlJobSet(struct gateway *g, worker_fn work, worker_fn next)
{
    g->stage = GATEWAY_RUNNING;
    g->has_error = false;
    g->job.work = sqlJobWork;
    g->job.done = sqlJobDone;
    g->job_work = work;
    g->job_next = next;
}

/* Runs `work` on the db thread, then `next` on the loop. */
void gatewayRun(struct gateway *g, worker_fn work, worker_fn next)
{
    sqlJobSet(g, work, next);
    workerSubmit(&gatewayNode(g)->worker, &g->job);
}

/* Runs `work` on the reader pool (or the db thread without one). */
void gatewayRunRead(struct gateway *g, worker_fn work, worker_fn next)
{
    sqlJobSet(g, work, next);
    g->job.db = g->db;
    workerSubmitRead(&gatewayNode(g)->worker, &g->job);
}

bool gatewayRunHere(struct gateway *g, worker_fn work, worker_fn next)
{
    sqlJobSet(g, work, next);
    if (!workerRunHere(&gatewayNode(g)->worker, &g->job)) {
        g->stage = GATEWAY_IDLE;
        return false;
    }
    return true;
}

static void sqlJobDone(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    g->stage = GATEWAY_IDLE;
    if (job->canceled || g->closing) {
        gatewayCloseDb(g);
        return;
    }
    g->job_next(job);
}

/* Records SQLite's error of the gateway's connection. */
void gatewaySaveError(struct gateway *g, int rc)
{
    g->rc = rc;
    libFree(g->errmsg);
    g->errmsg = NULL;
    g->has_error = false;
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        g->has_error = true;
        if (g->db != NULL) {
            g->rc = sqlite3_extended_errcode(g->db);
            if ((g->rc & 0xff) != (rc & 0xff)) {
                g->rc = rc;
            }
        }
        const char *msg =
            g->db != NULL ? sqlite3_errmsg(g->db) : sqlite3_errstr(rc);
        const char *refusal = policyMessage(&g->policy);
        if (refusal != NULL && ((rc & 0xff) == SQLITE_AUTH ||
                                strncmp(msg, "not authorized", 14) == 0)) {
            /* SQLite says "not authorized" (to use function: ...): say
             * what the policy refused and why, as SQLITE_AUTH. */
            g->rc = SQLITE_AUTH;
            msg = refusal;
        }
        g->errmsg = libStrdup(msg);
    }
    policyForget(&g->policy);
}

void gatewaySetError(struct gateway *g, int rc, const char *message)
{
    g->rc = rc;
    g->has_error = true;
    libFree(g->errmsg);
    g->errmsg = libStrdup(message);
}

void gatewayTooBigMessage(char *buf, size_t size)
{
    snprintf(buf, size,
             "transaction too large: its pages exceed the %u MiB limit "
             "of one replicated transaction; split it",
             (unsigned)(REPL_MAX_TXN_BYTES >> 20));
}

void gatewayPollCommit(struct gateway *g)
{
    struct replica *r = &gatewayNode(g)->replica;
    bufReset(&g->frames);
    int rv = replLeaderPoll(r->vfs, g->db_name, &g->frames, &g->has_frames);
    if (rv == ERR_TOOBIG) {
        char msg[GATEWAY_TOOBIG_MESSAGE_SIZE];
        gatewayTooBigMessage(msg, sizeof msg);
        gatewaySetError(g, SQLITE_TOOBIG, msg);
    } else if (rv != 0) {
        gatewaySetError(g, SQLITE_IOERR, errString(rv));
    }
    POST(rv == 0 || !g->has_frames);
}

void gatewayFailSaved(struct gateway *g)
{
    gatewayFailure(g, (uint64_t)g->rc,
                   g->errmsg != NULL ? g->errmsg : "out of memory");
}

bool gatewayIsError(const struct gateway *g)
{
    return g->has_error;
}

/* ------------------------------------------------------------ closing */

static void sqlCloseWork(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    for (unsigned i = 0; i < GATEWAY_MAX_STMTS; i++) {
        sqlite3_finalize(g->stmts[i]);
        g->stmts[i] = NULL;
    }
    if (g->owns_stmt) {
        sqlite3_finalize(g->stmt);
    }
    g->stmt = NULL;
    replicaSqlConnRemove(&g->sqlconn);
    sqlite3_close(g->db);
    g->db = NULL;
}

static void sqlCloseDone(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    g->stage = GATEWAY_IDLE;
    g->db_closed = true;
    gatewayWakeParked(&gatewayNode(g)->parked, g->db_name);
    gatewayFreeBuffers(g);
    connRelease(g->conn);
}

/* The connection is gone: once nothing is in flight, close SQLite. */
void gatewayCloseDb(struct gateway *g)
{
    if (g->stage == GATEWAY_RUNNING || g->wait_out || g->group != NULL) {
        return; /* the job's or the wait's end comes back here */
    }
    if (gatewayAbortHeld(g)) {
        return; /* a write it committed, never proposed: its end too */
    }
    if (g->db == NULL) {
        g->db_closed = true;
        gatewayFreeBuffers(g);
        connRelease(g->conn);
        return;
    }
    g->stage = GATEWAY_RUNNING;
    g->job.work = sqlCloseWork;
    g->job.done = sqlCloseDone;
    workerSubmit(&gatewayNode(g)->worker, &g->job);
}

void gatewaySqlClose(struct gateway *g)
{
    if (g->wait_out && g->wait.cb != NULL && !g->has_frames) {
        /* Barriers and reads may be dropped; a proposal is awaited so
         * that its frames are published or aborted. */
        replicaCancel(&g->wait);
        g->wait_out = false;
    }
    gatewayCloseDb(g);
}

/* ------------------------------------------------------------ checks */

bool gatewayCheckLeader(struct gateway *g)
{
    if (!replicaIsLeader(&gatewayNode(g)->replica)) {
        gatewayFailure(g, GATEWAY_ERR_NOT_LEADER, "not leader");
        return false;
    }
    return true;
}

bool gatewayCheckDb(struct gateway *g, uint64_t db_id)
{
    if (g->db == NULL || db_id != 0) {
        gatewayFailure(g, SQLITE_NOTFOUND, "no database opened");
        return false;
    }
    return true;
}

sqlite3_stmt *gatewayLookupStmt(struct gateway *g, uint32_t db_id,
                                uint32_t stmt_id)
{
    if (!gatewayCheckDb(g, db_id)) {
        return NULL;
    }
    if (stmt_id >= GATEWAY_MAX_STMTS || g->stmts[stmt_id] == NULL) {
        gatewayFailure(g, SQLITE_NOTFOUND, "no statement with the given id");
        return NULL;
    }
    return g->stmts[stmt_id];
}

bool gatewaySelectStatement(struct gateway *g)
{
    struct proto_params *params;
    /* EXEC and QUERY share a layout, and so do EXEC_SQL and QUERY_SQL. */
    if (g->req.type == PROTO_REQ_EXEC || g->req.type == PROTO_REQ_QUERY) {
        g->stmt = gatewayLookupStmt(g, g->req.exec.db_id, g->req.exec.stmt_id);
        if (g->stmt == NULL) {
            return false;
        }
        g->owns_stmt = false;
        params = &g->req.exec.params;
    } else {
        if (!gatewayCheckDb(g, g->req.exec_sql.db_id)) {
            return false;
        }
        g->stmt = NULL;
        g->owns_stmt = true;
        g->sql_offset = 0;
        g->sql_finished = false;
        params = &g->req.exec_sql.params;
    }
    protoParamsIterInit(&g->params, params);
    return true;
}

void gatewayAwait(struct gateway *g, replica_wait_cb cb,
                  int (*start)(struct replica *r, struct replica_wait *w))
{
    g->stage = GATEWAY_WAITING;
    g->wait.cb = cb;
    g->wait_out = true;
    int rv = start(&gatewayNode(g)->replica, &g->wait);
    if (rv != 0) {
        g->wait_out = false;
        gatewayFailErr(g, rv);
    }
}

/* ------------------------------------------------------------ OPEN */

/* SQLite's commit hook (db thread): this connection is committing a write
 * transaction, so the frames the VFS holds afterwards are its own. Another
 * connection's held frames (in flight to raft) must never be collected by
 * a statement that did not commit: proposing them twice would replay old
 * page images over newer ones. */
static int gatewayOnCommit(void *arg)
{
    struct gateway *g = arg;
    g->committed = true;
    return 0; /* let the commit proceed */
}

static void openWork(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    struct replica *r = &gatewayNode(g)->replica;
    int rv = vfsDbCreate(r->vfs, g->db_name, 4096);
    if (rv != 0 && rv != ERR_INVALID) {
        gatewaySetError(g, SQLITE_CANTOPEN, errString(rv));
        return;
    }
    /* The node's VFS, never a URI's: the name grammar admits no "file:"
     * or ":memory:" and SQLITE_OPEN_URI is not asked for. */
    int rc = sqlite3_open_v2(g->db_name, &g->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                             replicaVfsName(r));
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(g->db, 1);
        sqlite3_wal_autocheckpoint(g->db, 0);
        rc = sqlite3_exec(g->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = policyApply(&g->policy, g->db);
    }
    gatewaySaveError(g, rc);
    if (rc != SQLITE_OK) {
        sqlite3_close(g->db);
        g->db = NULL;
        return;
    }
    g->sqlconn.db = g->db;
    replicaSqlConnAdd(r, &g->sqlconn);
    sqlite3_commit_hook(g->db, gatewayOnCommit, g);
}

static void openDone(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    if (g->db == NULL) {
        libFree(g->db_name);
        g->db_name = NULL;
        gatewayFailSaved(g);
        return;
    }
    g->db_closed = false;
    struct proto_response resp;
    protoResponseInit(&resp, PROTO_RESP_DB);
    resp.db.db_id = 0;
    gatewayRespond(g, &resp);
}

static void sqlOpen(struct gateway *g)
{
    if (g->db_name != NULL) {
        gatewayFailure(g, SQLITE_BUSY,
                       "a database for this connection is already open");
        return;
    }
    const char *why =
        protoDbNameCheck(g->req.open.name.data, g->req.open.name.len);
    if (why != NULL) {
        char msg[160];
        snprintf(msg, sizeof msg, "invalid database name: %s", why);
        gatewayFailure(g, SQLITE_CANTOPEN, msg);
        return;
    }
    g->db_name = libStrdup(g->req.open.name.data);
    if (g->db_name == NULL) {
        gatewayFailure(g, SQLITE_NOMEM, "out of memory");
        return;
    }
    gatewayRun(g, openWork, openDone);
}

/* ------------------------------------------------------------ PREPARE */

/* Whether `tail` holds another statement (not just spaces or comments). */
bool gatewayTailHasStatement(sqlite3 *db, const char *tail)
{
    sqlite3_stmt *next = NULL;
    const char *rest = tail;
    while (rest != NULL && *rest != '\0') {
        if (sqlite3_prepare_v2(db, rest, -1, &next, &rest) != SQLITE_OK) {
            return true; /* something that is not blank */
        }
        if (next != NULL) {
            sqlite3_finalize(next);
            return true;
        }
    }
    return false;
}

/* Db thread: heap bytes the connection's prepared statements hold (their
 * program, constants and bound values), `extra` included. */
static uint64_t prepareStmtBytes(const struct gateway *g, sqlite3_stmt *extra)
{
    uint64_t n =
        (uint64_t)sqlite3_stmt_status(extra, SQLITE_STMTSTATUS_MEMUSED, 0);
    for (unsigned i = 0; i < GATEWAY_MAX_STMTS; i++) {
        if (g->stmts[i] != NULL) {
            n += (uint64_t)sqlite3_stmt_status(g->stmts[i],
                                               SQLITE_STMTSTATUS_MEMUSED, 0);
        }
    }
    return n;
}

/* Db thread: refuses (finalizes) the new statement past the node's
 * per-connection bound on prepared statements' memory. */
static void prepareCheckBytes(struct gateway *g)
{
    uint64_t limit = gatewayNode(g)->stmt_bytes_max;
    uint64_t bytes = prepareStmtBytes(g, g->stmt);
    if (limit == 0 || bytes <= limit) {
        return;
    }
    char msg[160];
    snprintf(msg, sizeof msg,
             "too much memory in prepared statements: %llu bytes, limit %llu "
             "per connection (finalize some)",
             (unsigned long long)bytes, (unsigned long long)limit);
    sqlite3_finalize(g->stmt);
    g->stmt = NULL;
    gatewaySetError(g, SQLITE_ERROR, msg);
}

static void prepareWork(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    const char *sql = g->req.prepare.sql.data;
    const char *tail = NULL;
    g->stmt = NULL;
    int rc = sqlite3_prepare_v2(g->db, sql, (int)g->req.prepare.sql.len + 1,
                                &g->stmt, &tail);
    gatewaySaveError(g, rc);
    if (rc != SQLITE_OK) {
        return;
    }
    if (g->stmt == NULL) {
        gatewaySetError(g, 0, "empty statement");
        return;
    }
    g->sql_offset = (size_t)(tail - sql);
    if (g->req.schema == 0 && gatewayTailHasStatement(g->db, tail)) {
        sqlite3_finalize(g->stmt);
        g->stmt = NULL;
        gatewaySetError(g, SQLITE_ERROR, "nonempty statement tail");
        return;
    }
    prepareCheckBytes(g);
}

static void prepareDone(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    if (g->stmt == NULL) {
        gatewayFailSaved(g);
        return;
    }
    uint32_t id = 0;
    while (id < GATEWAY_MAX_STMTS && g->stmts[id] != NULL) {
        id++;
    }
    ASSERT(id < GATEWAY_MAX_STMTS); /* checked before preparing */
    g->stmts[id] = g->stmt;
    struct proto_response resp;
    protoResponseInit(&resp, PROTO_RESP_STMT);
    resp.schema = g->req.schema;
    resp.stmt.stmt_id = id;
    resp.stmt.n_params = (uint64_t)sqlite3_bind_parameter_count(g->stmt);
    resp.stmt.tail_offset = g->sql_offset;
    g->stmt = NULL;
    gatewayRespond(g, &resp);
}

static void prepareOnRead(struct replica_wait *w, int status)
{
    struct gateway *g = GATEWAY_OF(w, wait);
    g->wait_out = false;
    if (g->closing) {
        gatewayCloseDb(g);
    } else if (status != 0) {
        gatewayFailErr(g, status);
    } else {
        gatewayRun(g, prepareWork, prepareDone);
    }
}

static unsigned sqlStmtCount(const struct gateway *g)
{
    unsigned n = 0;
    for (unsigned i = 0; i < GATEWAY_MAX_STMTS; i++) {
        n += g->stmts[i] != NULL;
    }
    return n;
}

static void sqlPrepare(struct gateway *g)
{
    if (!gatewayCheckReader(g) || !gatewayCheckDb(g, g->req.prepare.db_id)) {
        return;
    }
    if (sqlStmtCount(g) >= GATEWAY_MAX_STMTS) {
        gatewayFailure(g, SQLITE_ERROR, "too many prepared statements");
        return;
    }
    if (!replicaIsLeader(&gatewayNode(g)->replica)) {
        /* A follower read (gateway_read.c): the schema is read at the
         * connection's level, as the query will be. */
        gatewayAwait(g, prepareOnRead, gatewayReadGate(g));
        return;
    }
    gatewayRun(g, prepareWork, prepareDone);
}

/* ------------------------------------------------------------ FINALIZE */

static void finalizeWork(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    uint32_t id = g->req.finalize.stmt_id;
    gatewaySaveError(g, sqlite3_finalize(g->stmts[id]));
    g->stmts[id] = NULL;
}

static void finalizeDone(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    gatewayEmpty(g);
}

static void sqlFinalize(struct gateway *g)
{
    if (gatewayLookupStmt(g, g->req.finalize.db_id, g->req.finalize.stmt_id) !=
        NULL) {
        gatewayRun(g, finalizeWork, finalizeDone);
    }
}

/* ------------------------------------------------------------ dispatch */

void gatewaySql(struct gateway *g)
{
    switch (g->req.type) {
    case PROTO_REQ_OPEN:
        sqlOpen(g);
        break;
    case PROTO_REQ_PREPARE:
        sqlPrepare(g);
        break;
    case PROTO_REQ_FINALIZE:
        sqlFinalize(g);
        break;
    case PROTO_REQ_EXEC_SQL:
    case PROTO_REQ_QUERY_SQL:
        if (gatewayReadPragma(g) || gatewayListPragma(g)) {
            break;
        }
        g->req.type == PROTO_REQ_EXEC_SQL ? gatewayExec(g) : gatewayQuery(g);
        break;
    case PROTO_REQ_EXEC:
        gatewayExec(g);
        break;
    case PROTO_REQ_QUERY:
        gatewayQuery(g);
        break;
    case PROTO_REQ_DUMP:
        gatewayDump(g);
        break;
    default:
        gatewayFailure(g, GATEWAY_ERR_PARSE, "unrecognized request type");
        break;
    }
}
