/*
 * What SQL a replicated database accepts (docs/sql-policy.md): every
 * SQLite connection the node opens for a client gets the policy before its
 * first statement: connection settings (defensive mode, no extension
 * loading, no fts3_tokenizer pointers), SQLite's size limits, and an
 * authorizer that refuses at prepare time what would crash the node, touch
 * a file outside the replicated database, or change process-wide or
 * file-level state behind replication's back.
 *
 * A refusal fails the statement with SQLITE_AUTH; the policy keeps a
 * sentence saying what was refused and why, which the gateway sends as the
 * FAILURE message instead of SQLite's bare "not authorized".
 *
 * Runs where the connection's statements run (db thread, or the loop while
 * it holds the SQLite lock); a policy belongs to one connection.
 */
#ifndef SERVER_POLICY_H
#define SERVER_POLICY_H

#include <sqlite3.h>
#include <stdbool.h>

/* SQLite limits set on every client connection (sqlite3_limit). LENGTH is
 * the largest string or blob: a value may not be larger than the largest
 * request (PROTO_REQUEST_BODY_MAX, 64 MiB) that could carry it. */
#define POLICY_LIMIT_LENGTH (64 * 1024 * 1024)
#define POLICY_LIMIT_SQL_LENGTH (64 * 1024 * 1024)
#define POLICY_LIMIT_COLUMN 2000
#define POLICY_LIMIT_EXPR_DEPTH 1000
#define POLICY_LIMIT_COMPOUND_SELECT 500
#define POLICY_LIMIT_VDBE_OP 1000000
#define POLICY_LIMIT_FUNCTION_ARG 127
#define POLICY_LIMIT_ATTACHED 1 /* VACUUM's own temporary database only */
#define POLICY_LIMIT_LIKE_PATTERN_LENGTH 50000
#define POLICY_LIMIT_VARIABLE_NUMBER 32766
#define POLICY_LIMIT_TRIGGER_DEPTH 100
#define POLICY_LIMIT_WORKER_THREADS 0

/* While a statement runs on the event loop (docs/server.md, "Short
 * statements run on the loop"), no value or SQL text may exceed this: one
 * VDBE step making a larger value (randomblob, zeroblob, replace, ...)
 * cannot be interrupted by the time budget, so it fails SQLITE_TOOBIG and
 * runs again from its start on the db thread under the full limits. */
#define POLICY_LOOP_LENGTH 1048576

#define POLICY_MESSAGE_MAX 512

struct policy {
    sqlite3 *db;
    char message[POLICY_MESSAGE_MAX]; /* why the last refusal; "" if none */
};

/* Applies the settings, limits and authorizer to `db`; `p` must outlive
 * the connection. Returns a SQLite result code. */
int policyApply(struct policy *p, sqlite3 *db);

/* The message of the last refusal, NULL if there was none since
 * policyForget. A statement that failed with SQLITE_AUTH was refused by
 * the policy, and this says what and why. */
const char *policyMessage(const struct policy *p);
void policyForget(struct policy *p);

/* Whether `stmt` is a VACUUM (its text starts with the keyword). */
bool policyIsVacuum(sqlite3_stmt *stmt);

/* Lowers the length limits of `db` for a statement run on the loop and
 * restores them (POLICY_LOOP_LENGTH). */
void policyLoopLimits(sqlite3 *db, bool on_loop);

/* Whether `rc` may come from the lowered loop limits: the statement is to
 * run again on the db thread. */
bool policyLoopTooBig(int rc);

#endif /* SERVER_POLICY_H */
