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
#include <stdatomic.h>
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

/* A guard on the statements of one connection run on the db thread
 * (docs/server.md, "Runaway statements"): the loop asks the running
 * statement to stop (the client sent INTERRUPT, went away, or the node
 * stops) by setting `stop`; the deadline is the node's statement timeout.
 * A progress handler checks both every SQL_GUARD_CHECK_OPS virtual machine
 * operations (a few microseconds of work), so a statement stops well
 * within 100 ms of either. */
enum sql_stop {
    SQL_STOP_NONE = 0,
    SQL_STOP_INTERRUPT, /* the client sent INTERRUPT */
    SQL_STOP_CLOSED,    /* the connection closed, or the node stops */
    SQL_STOP_DEADLINE   /* the statement timeout passed */
};

struct sql_guard {
    atomic_int stop;      /* enum sql_stop, set by the loop */
    uint64_t deadline_us; /* db thread; 0: no timeout */
    int fired;            /* db thread: why the handler interrupted */
};

void sqlGuardInit(struct sql_guard *g);
/* Loop thread (the only writer of `stop`; the db thread reads it): ask
 * the statement running (or the next one armed before sqlGuardClear) to
 * stop. A CLOSED request is never lowered. */
void sqlGuardRequest(struct sql_guard *g, enum sql_stop why);
/* Loop thread, nothing running: a new request starts unstopped (unless
 * the connection is closed). */
void sqlGuardClear(struct sql_guard *g);
/* Db thread (SQLite lock held): install the handler for the work that
 * follows, with a deadline `timeout_ms` from now (0: none). */
void sqlGuardArm(sqlite3 *db, struct sql_guard *g, unsigned timeout_ms);
void sqlGuardDisarm(sqlite3 *db);

#endif /* SERVER_SQL_H */
