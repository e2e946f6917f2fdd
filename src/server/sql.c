/*
 * Parameter binding and result rows (see sql.h).
 *
 * Row type rules (protocol.md §4.3): the storage class of each value, except
 * in columns declared exactly DATETIME, DATE or TIMESTAMP (integers become
 * UNIXTIME, texts ISO8601, NULL an empty ISO8601) and BOOLEAN (integers and
 * NULL become BOOLEAN). Other storage classes in such columns keep their own
 * type instead of tripping an assertion as the reference does.
 */
#include "server/sql.h"

#include <strings.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "proto/rows.h"
#include "server/policy.h"
#include "server/worker.h"

/* Most columns a row may have (SQLite's own hard limit). */
#define SQL_COLUMNS_MAX 32767

static int sqlBindOne(sqlite3_stmt *stmt, int i, const struct proto_value *v)
{
    switch (v->type) {
    case PROTO_INTEGER:
        return sqlite3_bind_int64(stmt, i, v->integer);
    case PROTO_FLOAT:
        return sqlite3_bind_double(stmt, i, v->real);
    case PROTO_TEXT:
    case PROTO_ISO8601:
        return sqlite3_bind_text(stmt, i, v->text.data, (int)v->text.len,
                                 SQLITE_TRANSIENT);
    case PROTO_BLOB:
        return sqlite3_bind_blob64(stmt, i, v->blob.data, v->blob.len,
                                   SQLITE_TRANSIENT);
    case PROTO_NULL:
        return sqlite3_bind_null(stmt, i);
    case PROTO_BOOLEAN:
        return sqlite3_bind_int64(stmt, i, v->boolean ? 1 : 0);
    default:
        return SQLITE_MISMATCH; /* the decoder admits only the above */
    }
}

int sqlBind(sqlite3_stmt *stmt, struct proto_params_iter *it, int n)
{
    struct proto_value v;
    int rc = sqlite3_clear_bindings(stmt);
    for (int i = 1; rc == SQLITE_OK && i <= n; i++) {
        if (!protoParamsIterNext(it, &v)) {
            break;
        }
        rc = sqlBindOne(stmt, i, &v);
    }
    return rc;
}

enum sql_decl { SQL_DECL_PLAIN, SQL_DECL_TIME, SQL_DECL_BOOLEAN };

static enum sql_decl sqlDeclared(sqlite3_stmt *stmt, int i)
{
    const char *decl = sqlite3_column_decltype(stmt, i);
    if (decl == NULL) {
        return SQL_DECL_PLAIN;
    }
    if (strcasecmp(decl, "DATETIME") == 0 || strcasecmp(decl, "DATE") == 0 ||
        strcasecmp(decl, "TIMESTAMP") == 0) {
        return SQL_DECL_TIME;
    }
    return strcasecmp(decl, "BOOLEAN") == 0 ? SQL_DECL_BOOLEAN : SQL_DECL_PLAIN;
}

/* The storage-class value of column i. */
static void sqlPlainValue(sqlite3_stmt *stmt, int i, struct proto_value *v)
{
    switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
        v->type = PROTO_INTEGER;
        v->integer = sqlite3_column_int64(stmt, i);
        break;
    case SQLITE_FLOAT:
        v->type = PROTO_FLOAT;
        v->real = sqlite3_column_double(stmt, i);
        break;
    case SQLITE_TEXT:
        v->type = PROTO_TEXT;
        v->text.data = (const char *)sqlite3_column_text(stmt, i);
        v->text.len = (size_t)sqlite3_column_bytes(stmt, i);
        break;
    case SQLITE_BLOB:
        v->type = PROTO_BLOB;
        v->blob.data = sqlite3_column_blob(stmt, i);
        v->blob.len = (size_t)sqlite3_column_bytes(stmt, i);
        break;
    default:
        v->type = PROTO_NULL;
        break;
    }
}

static void sqlColumnValue(sqlite3_stmt *stmt, int i, struct proto_value *v)
{
    enum sql_decl decl = sqlDeclared(stmt, i);
    sqlPlainValue(stmt, i, v);
    if (decl == SQL_DECL_TIME) {
        if (v->type == PROTO_INTEGER) {
            v->type = PROTO_UNIXTIME;
        } else if (v->type == PROTO_TEXT) {
            v->type = PROTO_ISO8601;
        } else if (v->type == PROTO_NULL) {
            v->type = PROTO_ISO8601;
            v->text.data = "";
            v->text.len = 0;
        }
    } else if (decl == SQL_DECL_BOOLEAN) {
        if (v->type == PROTO_INTEGER) {
            int64_t integer = v->integer;
            v->type = PROTO_BOOLEAN;
            v->boolean = integer != 0;
        } else if (v->type == PROTO_NULL) {
            v->type = PROTO_BOOLEAN;
            v->boolean = false;
        }
    }
}

/* Column names and a row's values, sized for the statement. */
struct sql_scratch {
    struct proto_text *names;
    struct proto_value *row;
};

static int sqlScratchInit(struct sql_scratch *s, sqlite3_stmt *stmt, int n)
{
    s->names = libCalloc((size_t)n + 1, sizeof *s->names);
    s->row = libCalloc((size_t)n + 1, sizeof *s->row);
    if (s->names == NULL || s->row == NULL) {
        libFree(s->names);
        libFree(s->row);
        return SQLITE_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(stmt, i);
        s->names[i] = protoText(name != NULL ? name : "");
    }
    return SQLITE_OK;
}

static void sqlScratchFree(struct sql_scratch *s)
{
    libFree(s->names);
    libFree(s->row);
}

/* Steps and appends rows until the batch is full or the statement ends. */
static enum sql_batch_end sqlFill(sqlite3_stmt *stmt,
                                  struct proto_rows_writer *w,
                                  struct sql_scratch *s, size_t batch_bytes,
                                  int *rc)
{
    int n = sqlite3_column_count(stmt);
    while (protoRowsSize(w) < batch_bytes) {
        *rc = sqlite3_step(stmt);
        if (*rc == SQLITE_DONE) {
            return SQL_BATCH_DONE;
        }
        if (*rc != SQLITE_ROW) {
            return SQL_BATCH_ERROR;
        }
        for (int i = 0; i < n; i++) {
            sqlColumnValue(stmt, i, &s->row[i]);
        }
        if (protoRowsAdd(w, s->row) != 0) {
            *rc = SQLITE_NOMEM;
            return SQL_BATCH_ERROR;
        }
    }
    return SQL_BATCH_PART;
}

enum sql_batch_end sqlRowsBatch(sqlite3_stmt *stmt, struct buf *out,
                                size_t batch_bytes, int *rc)
{
    struct proto_rows_writer w;
    struct sql_scratch s;
    int n = sqlite3_column_count(stmt);
    PRE(n > 0 && n <= SQL_COLUMNS_MAX);
    *rc = sqlScratchInit(&s, stmt, n);
    if (*rc != SQLITE_OK) {
        return SQL_BATCH_ERROR;
    }
    if (protoRowsBegin(&w, out, (uint64_t)n, s.names) != 0) {
        sqlScratchFree(&s);
        *rc = SQLITE_NOMEM;
        return SQL_BATCH_ERROR;
    }
    enum sql_batch_end end = sqlFill(stmt, &w, &s, batch_bytes, rc);
    sqlScratchFree(&s);
    if (end == SQL_BATCH_ERROR) {
        protoRowsAbort(&w);
        return end;
    }
    if (protoRowsFinish(&w, end == SQL_BATCH_DONE) != 0) {
        *rc = SQLITE_NOMEM;
        return SQL_BATCH_ERROR;
    }
    return end;
}

/* ------------------------------------------------------------ budget */

#define SQL_BUDGET_CHECK_OPS 200 /* VDBE ops between two clock reads */

static uint64_t sqlClockUs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int sqlOverBudget(void *arg)
{
    struct sql_budget *b = arg;
    b->over = sqlClockUs() >= b->deadline_us;
    return b->over; /* non-zero interrupts the statement */
}

void sqlBudgetStart(sqlite3 *db, struct sql_budget *b, unsigned budget_us)
{
    b->deadline_us = sqlClockUs() + budget_us;
    b->over = false;
    sqlite3_progress_handler(db, SQL_BUDGET_CHECK_OPS, sqlOverBudget, b);
    policyLoopLimits(db, true); /* one step cannot make a huge value here */
}

void sqlBudgetStop(sqlite3 *db)
{
    sqlite3_progress_handler(db, 0, NULL, NULL);
    policyLoopLimits(db, false);
}

bool sqlBudgetInterrupted(const struct sql_budget *b, int rc)
{
    return (b->over && rc == SQLITE_INTERRUPT) || policyLoopTooBig(rc);
}

/* ------------------------------------------------------------ guard */

#define SQL_GUARD_CHECK_OPS 1000 /* VDBE ops between two checks */

void sqlGuardInit(struct sql_guard *g)
{
    atomic_init(&g->stop, SQL_STOP_NONE);
    g->deadline_us = 0;
    g->fired = SQL_STOP_NONE;
}

void sqlGuardRequest(struct sql_guard *g, enum sql_stop why)
{
    PRE(why != SQL_STOP_NONE);
    int was = atomic_load(&g->stop);
    if (was != SQL_STOP_CLOSED) {
        atomic_store(&g->stop, (int)why);
    }
}

void sqlGuardClear(struct sql_guard *g)
{
    int was = SQL_STOP_INTERRUPT;
    atomic_compare_exchange_strong(&g->stop, &was, SQL_STOP_NONE);
}

static int sqlGuardCheck(void *arg)
{
    struct sql_guard *g = arg;
    workerReadProgress(); /* a reader's read transaction is open by now */
    int stop = atomic_load_explicit(&g->stop, memory_order_relaxed);
    if (stop == SQL_STOP_NONE && g->deadline_us != 0 &&
        sqlClockUs() >= g->deadline_us) {
        stop = SQL_STOP_DEADLINE;
    }
    g->fired = stop;
    return stop != SQL_STOP_NONE; /* non-zero interrupts the statement */
}

void sqlGuardArm(sqlite3 *db, struct sql_guard *g, unsigned timeout_ms)
{
    PRE(db != NULL);
    g->fired = SQL_STOP_NONE;
    g->deadline_us =
        timeout_ms != 0 ? sqlClockUs() + (uint64_t)timeout_ms * 1000u : 0;
    sqlite3_progress_handler(db, SQL_GUARD_CHECK_OPS, sqlGuardCheck, g);
}

void sqlGuardDisarm(sqlite3 *db)
{
    sqlite3_progress_handler(db, 0, NULL, NULL);
}
