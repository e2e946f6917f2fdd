/*
 * Internal to the gateway's files: gateway.c (dispatch, responses, cluster
 * requests), gateway_sql.c (SQL requests on the db thread) and
 * gateway_member.c (membership requests). Loop thread only.
 */
#ifndef SERVER_GATEWAY_INTERNAL_H
#define SERVER_GATEWAY_INTERNAL_H

#include "proto/response.h"
#include "server/conn.h"
#include "server/gateway.h"

/* dqlite's own failure codes (protocol.md §7.2). */
#define GATEWAY_ERR_NOT_LEADER 10250       /* SQLITE_IOERR_NOT_LEADER */
#define GATEWAY_ERR_LEADERSHIP_LOST 10506  /* SQLITE_IOERR_LEADERSHIP_LOST */
#define GATEWAY_ERR_NOTFOUND 1002          /* DQLITE_NOTFOUND */
#define GATEWAY_ERR_PARSE 1005             /* DQLITE_PARSE */
#define GATEWAY_WELCOME_HEARTBEAT_MS 15000 /* what the reference announces */

struct dqlite_node *gatewayNode(const struct gateway *g);

/* Writes g->out (the gateway is WRITING until `on_written` runs); a
 * failure to queue it closes the connection. */
void gatewayWrite(struct gateway *g, conn_written_cb on_written);
/* Queue a response (g->out) and return to idle once it is written. */
void gatewayFinish(struct gateway *g);
void gatewayRespond(struct gateway *g, const struct proto_response *resp);
void gatewayFailure(struct gateway *g, uint64_t code, const char *message);
void gatewayFailErr(struct gateway *g, int rv);
void gatewayEmpty(struct gateway *g);
void gatewayFreeBuffers(struct gateway *g);

#define GATEWAY_OF(ptr, field) \
    ((struct gateway *)(void *)((char *)(ptr)-offsetof(struct gateway, field)))

/* gateway_sql.c: shared steps of the SQL requests. */
/* Runs `work` on the db thread, then `next` on the loop (unless closing). */
void gatewayRun(struct gateway *g, worker_fn work, worker_fn next);
/* Runs work then next on the db thread once the read gate is passed (on a
 * leader: a read index, or a barrier without linearizable reads; at once
 * on a follower, or with the local copy when the gate refuses at once).
 * DUMP and BACKUP read a whole database at one commit this way. */
void gatewayRunGated(struct gateway *g, worker_fn work, worker_fn next);

/* The same, with `work` run on the loop thread at once when the db thread
 * is idle (workerRunHere); false, having run nothing, otherwise. `work`
 * must bound its own duration. */
bool gatewayRunHere(struct gateway *g, worker_fn work, worker_fn next);
/* Runs `work` on the reader pool, beside the db thread (a read-only
 * statement outside explicit transactions), or on the db thread without a
 * pool. */
void gatewayRunRead(struct gateway *g, worker_fn work, worker_fn next);

/* How long SQL run on the loop thread may take before it is interrupted
 * and left to the db thread (gateway_query.c, gateway_exec.c). */
#define GATEWAY_HERE_BUDGET_US 1000
/* Records SQLite's code and message (db thread) / a chosen one. */
void gatewaySaveError(struct gateway *g, int rc);
void gatewaySetError(struct gateway *g, int rc, const char *message);
/* Db thread, after a commit: encodes its held frames into g->frames
 * (g->has_frames); a transaction too large to replicate records
 * SQLITE_TOOBIG with a message naming the limit (its frames are dropped),
 * any other failure SQLITE_IOERR. */
void gatewayPollCommit(struct gateway *g);
/* The one message for a transaction over REPL_MAX_TXN_BYTES, whether the
 * commit's poll or the proposal finds it. */
#define GATEWAY_TOOBIG_MESSAGE_SIZE 160
void gatewayTooBigMessage(char *buf, size_t size);
/* Answers FAILURE with what was recorded. */
void gatewayFailSaved(struct gateway *g);
bool gatewayIsError(const struct gateway *g);
/* Answer the failure themselves and return false when the check fails. */
bool gatewayCheckLeader(struct gateway *g);
bool gatewayCheckDb(struct gateway *g, uint64_t db_id);
sqlite3_stmt *gatewayLookupStmt(struct gateway *g, uint32_t db_id,
                                uint32_t stmt_id);
/* Whether `tail` holds another statement (db thread). */
bool gatewayTailHasStatement(sqlite3 *db, const char *tail);
/* EXEC/QUERY (a prepared statement) or EXEC_SQL/QUERY_SQL (SQL text): sets
 * the statement and the parameters up; false once a FAILURE was answered. */
bool gatewaySelectStatement(struct gateway *g);
/* Starts a wait on raft (`start`: replicaBarrier, replicaRead...) whose
 * callback continues the request; a refusal is answered at once. */
void gatewayAwait(struct gateway *g, replica_wait_cb cb,
                  int (*start)(struct replica *r, struct replica_wait *w));
/* Read consistency (gateway_read.c, docs/protocol.md). */
enum gateway_read_level {
    GATEWAY_READ_LEADER = 0, /* until the pragma: followers say "not leader" */
    GATEWAY_READ_LINEARIZABLE = 1,
    GATEWAY_READ_BOUNDED = 2,
    GATEWAY_READ_ANY = 3,
};
#define GATEWAY_READ_BOUND_MAX_MS 3600000
typedef int (*read_start_fn)(struct replica *r, struct replica_wait *w);
/* EXEC_SQL / QUERY_SQL: answers `PRAGMA dqlite_consistency[ = level]` and
 * returns true; false for any other statement. */
bool gatewayReadPragma(struct gateway *g);
/* EXEC_SQL / QUERY_SQL: answers `PRAGMA dqlite_databases` (the leader's
 * databases, gateway_list.c) and returns true; false for any other. */
bool gatewayListPragma(struct gateway *g);
/* The intercepted pragmas' parsers (exposed for test/fuzz/server_pragma.c). */
int gatewayReadParsePragma(const struct proto_text *sql, bool *has_value,
                           int *level, uint64_t *bound_ms);
bool gatewayListIsPragma(const struct proto_text *sql);
/* Like gatewayCheckLeader, for reads: a follower that holds a copy (not a
 * spare) passes too once the connection chose a level. */
bool gatewayCheckReader(struct gateway *g);
/* The wait a query starts with, for this node's role and the level. */
read_start_fn gatewayReadGate(struct gateway *g);
/* Closes the SQLite connection once nothing is in flight (closing). */
void gatewayCloseDb(struct gateway *g);

void gatewaySql(struct gateway *g);
void gatewaySqlClose(struct gateway *g);

/* gateway_exec.c: EXEC and EXEC_SQL. */
void gatewayExec(struct gateway *g);
/* Runs the statement in progress (on the loop when it can, else on the db
 * thread); a SQLITE_BUSY parks it (gatewayPark). */
void gatewayExecStep(struct gateway *g);
/* Db thread: prepares (EXEC_SQL) and binds the statement to run; false
 * when there is none (the text is finished) or it failed (error saved). */
bool gatewayExecStart(struct gateway *g);
/* Db thread: steps it to its end; collects held frames when `poll`. */
void gatewayExecRun(struct gateway *g, bool poll);
/* Db thread: finalizes an EXEC_SQL statement. */
void gatewayExecFinish(struct gateway *g);
/* A statement finished (its frames, if any, applied): next or answer. */
void gatewayExecContinue(struct gateway *g);
/* A closing connection whose job committed frames it will never propose:
 * drops them (else they would hold the database's write lock for good);
 * false when it holds none. gatewayCloseDb comes back once done. */
bool gatewayAbortHeld(struct gateway *g);
/* Proposes a checkpoint of `db_name` when its WAL is due for one. */
void gatewayMaybeCheckpoint(struct dqlite_node *n, const char *db_name);

/* gateway_group.c: the write queue (parked writers) and its groups. */
/* Parks a writer that found its database locked (stage PARKED), or fails
 * it if its deadline passed. */
void gatewayPark(struct gateway *g);
/* The write in flight on a database begins / ends (its end wakes the
 * database's parked writers); whether `name` has one. */
void gatewaySlotTake(struct dqlite_node *n, struct gateway_slot *s,
                     const char *name);
void gatewaySlotRelease(struct gateway_slot *s);
bool gatewayDbWriting(struct dqlite_node *n, const char *name);
/* Db thread: runs fn(g) under the connection's guard (sql.h), as every
 * SQL job does. */
void gatewayGuarded(struct gateway *g, void (*fn)(struct gateway *g));
/* Proposes the frames in g->frames; `next` runs with 0 once applied, or the
 * failure after the held frames were aborted. */
void gatewayPropose(struct gateway *g, void (*next)(struct gateway *g, int rv));

/* gateway_query.c: QUERY and QUERY_SQL. */
void gatewayQuery(struct gateway *g);

/* gateway_dump.c */
void gatewayDump(struct gateway *g);

/* gateway_backup.c: BACKUP (extension 64); the stream's state is freed
 * with the gateway's buffers. */
void gatewayBackup(struct gateway *g);
void gatewayBackupFree(struct gateway *g);

/* gateway_load.c: the load requests (`type`: PROTO_REQ_LOAD_*), and the
 * end of a connection's load session. */
void gatewayLoad(struct gateway *g, uint8_t type);
void gatewayLoadFree(struct gateway *g);

/* gateway_member.c */
void gatewayMembership(struct gateway *g);

#endif /* SERVER_GATEWAY_INTERNAL_H */
