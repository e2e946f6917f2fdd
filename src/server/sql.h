/*
 * SQLite statements meet the wire: binding a request's parameter tuple and
 * turning result rows into ROWS batches, with the reference's type rules.
 *
 * Runs on the db thread (it calls SQLite). Nothing here allocates beyond
 * what the caller's output buffer needs.
 */
#ifndef SERVER_SQL_H
#define SERVER_SQL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/params.h"

/* Bind the next `n` parameters from `it` to positions 1..n of `stmt`
 * (fewer if the tuple runs out: the rest stay NULL because bindings are
 * cleared first). Returns a SQLite result code. */
int sqlBind(sqlite3_stmt *stmt, struct proto_params_iter *it, int n);

/* How a batch ended. */
enum sql_batch_end { SQL_BATCH_DONE, SQL_BATCH_PART, SQL_BATCH_ERROR };

/* Step `stmt` and append one ROWS message to `out`: rows until the message
 * reaches `batch_bytes` (checked before each step, as the reference does) or
 * the statement finishes. On SQL_BATCH_ERROR nothing was appended and *rc
 * holds SQLite's code (the message is in sqlite3_errmsg). */
enum sql_batch_end sqlRowsBatch(sqlite3_stmt *stmt, struct buf *out,
                                size_t batch_bytes, int *rc);

/* A time budget for SQL run on the event loop: a progress handler on the
 * connection interrupts the running statement once `budget_us` have passed
 * since sqlBudgetStart. Only statements whose interruption undoes all they
 * did may run under it: read-only ones, and writes in autocommit mode
 * (their implicit transaction is rolled back whole). */
struct sql_budget {
    uint64_t deadline_us;
    bool over; /* the handler fired: the statement was interrupted */
};

void sqlBudgetStart(sqlite3 *db, struct sql_budget *b, unsigned budget_us);
void sqlBudgetStop(sqlite3 *db);

/* While the budget runs, values and SQL texts are limited to
 * POLICY_LOOP_LENGTH (policy.h): a single VDBE step making a larger value
 * fails SQLITE_TOOBIG instead of holding the loop, and counts as
 * interrupted (an error in autocommit mode rolls back the implicit
 * transaction whole, as an interruption does).
 *
 * Whether a statement that ended with `rc` was stopped by the budget (or
 * by the loop's length limit): it is to run again on the db thread. */
bool sqlBudgetInterrupted(const struct sql_budget *b, int rc);

#endif /* SERVER_SQL_H */
