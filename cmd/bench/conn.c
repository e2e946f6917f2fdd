/*
 * dqlite-bench's connections: one per client thread, to a dqlite cluster
 * through the C client or to a local SQLite file. Both sides run the same
 * prepared statements, so the workloads in workload.c do not know which
 * backend they drive. A busy answer (SQLite's SQLITE_BUSY, which the
 * reference returns to concurrent writers) is told apart from a failure so
 * that the workload can retry it and count it.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"

static const char *stmtSql(enum bench_stmt s)
{
    switch (s) {
    case STMT_INSERT:
        return "INSERT INTO bench_w(v) VALUES (?)";
    case STMT_READ:
        return "SELECT v FROM bench_r%u WHERE id = ?";
    default:
        return "SELECT id, v FROM bench_r%u WHERE id <= ?";
    }
}

static int dqFail(struct bench_conn *c, int rv, const char *what)
{
    if (rv == DQLITE_CLIENT_ERROR &&
        (dqlite_conn_errcode(c->dq) & 0xff) == DQLITE_CLIENT_SQLITE_BUSY) {
        return BENCH_BUSY;
    }
    snprintf(c->errmsg, sizeof c->errmsg, "%s: %s (rc %d, code %llu)", what,
             dqlite_conn_errmsg(c->dq), rv,
             (unsigned long long)dqlite_conn_errcode(c->dq));
    return BENCH_FAIL;
}

static int liteFail(struct bench_conn *c, int rv, const char *what)
{
    if ((rv & 0xff) == SQLITE_BUSY) {
        return BENCH_BUSY;
    }
    snprintf(c->errmsg, sizeof c->errmsg, "%s: %s (rc %d)", what,
             sqlite3_errmsg(c->lite), rv);
    return BENCH_FAIL;
}

static int liteOpen(struct bench_conn *c, const char *path)
{
    int rv = sqlite3_open_v2(path, &c->lite,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rv != SQLITE_OK) {
        return liteFail(c, rv, "open");
    }
    sqlite3_busy_timeout(c->lite, 10000);
    return benchConnExecSql(c,
                            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
}

int benchConnOpen(struct bench_conn *c, struct dqlite_driver *driver,
                  const struct bench_options *o)
{
    int rv;
    memset(c, 0, sizeof *c);
    c->driver = driver;
    if (driver == NULL) {
        return liteOpen(c, o->sqlite_path);
    }
    rv = dqlite_driver_connect(driver, o->db_name, &c->dq);
    if (rv != DQLITE_CLIENT_OK) {
        dqFail(c, rv, "connect");
        return BENCH_FAIL;
    }
    dqlite_conn_set_timeout(c->dq, 60000);
    return BENCH_OK;
}

int benchConnPrepare(struct bench_conn *c, unsigned value_bytes)
{
    char sql[128];
    int rv;
    for (int s = 0; s < N_STMTS; s++) {
        snprintf(sql, sizeof sql, stmtSql(s), value_bytes);
        if (c->dq != NULL) {
            rv = dqlite_conn_prepare(c->dq, sql, &c->dq_stmts[s]);
            if (rv != DQLITE_CLIENT_OK) {
                return dqFail(c, rv, sql);
            }
        } else {
            rv = sqlite3_prepare_v2(c->lite, sql, -1, &c->lite_stmts[s], NULL);
            if (rv != SQLITE_OK) {
                return liteFail(c, rv, sql);
            }
        }
    }
    return BENCH_OK;
}

void benchConnClose(struct bench_conn *c)
{
    for (int s = 0; s < N_STMTS; s++) {
        if (c->dq_stmts[s] != NULL) {
            dqlite_stmt_close(c->dq_stmts[s]);
        }
        sqlite3_finalize(c->lite_stmts[s]);
    }
    dqlite_conn_close(c->dq);
    sqlite3_close(c->lite);
    c->dq = NULL;
    c->lite = NULL;
}

int benchConnExecSql(struct bench_conn *c, const char *sql)
{
    int rv;
    char *msg = NULL;
    if (c->dq != NULL) {
        rv = dqlite_conn_exec(c->dq, sql, NULL, 0, NULL);
        return rv == DQLITE_CLIENT_OK ? BENCH_OK : dqFail(c, rv, sql);
    }
    rv = sqlite3_exec(c->lite, sql, NULL, NULL, &msg);
    sqlite3_free(msg);
    return rv == SQLITE_OK ? BENCH_OK : liteFail(c, rv, sql);
}

static int dqQueryInt(struct bench_conn *c, const char *sql, int64_t *value)
{
    struct dqlite_rows *rows;
    int rv = dqlite_conn_query(c->dq, sql, NULL, 0, &rows);
    if (rv != DQLITE_CLIENT_OK) {
        return dqFail(c, rv, sql);
    }
    rv = dqlite_rows_next(rows);
    *value = rv == DQLITE_CLIENT_ROW ? dqlite_rows_int64(rows, 0) : 0;
    dqlite_rows_close(rows);
    return rv == DQLITE_CLIENT_ROW ? BENCH_OK : dqFail(c, rv, sql);
}

int benchConnQueryInt(struct bench_conn *c, const char *sql, int64_t *value)
{
    sqlite3_stmt *stmt;
    int rv;
    if (c->dq != NULL) {
        return dqQueryInt(c, sql, value);
    }
    rv = sqlite3_prepare_v2(c->lite, sql, -1, &stmt, NULL);
    if (rv != SQLITE_OK) {
        return liteFail(c, rv, sql);
    }
    rv = sqlite3_step(stmt);
    *value = rv == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    return rv == SQLITE_ROW ? BENCH_OK : liteFail(c, rv, sql);
}

static int liteBind(sqlite3_stmt *stmt, const struct dqlite_value *p)
{
    if (p->type == DQLITE_CLIENT_BLOB) {
        return sqlite3_bind_blob(stmt, 1, p->blob.data, (int)p->blob.len,
                                 SQLITE_STATIC);
    }
    return sqlite3_bind_int64(stmt, 1, p->integer);
}

int benchConnExec(struct bench_conn *c, enum bench_stmt s,
                  const struct dqlite_value *param)
{
    sqlite3_stmt *stmt = c->lite_stmts[s];
    int rv;
    if (c->dq != NULL) {
        rv = dqlite_stmt_exec(c->dq_stmts[s], param, 1, NULL);
        return rv == DQLITE_CLIENT_OK ? BENCH_OK : dqFail(c, rv, "exec");
    }
    liteBind(stmt, param);
    rv = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rv == SQLITE_DONE ? BENCH_OK : liteFail(c, rv, "exec");
}

static int dqQuery(struct bench_conn *c, enum bench_stmt s, int64_t param,
                   uint64_t *n_rows)
{
    struct dqlite_value v = {.type = DQLITE_CLIENT_INTEGER, .integer = param};
    struct dqlite_rows *rows;
    size_t len;
    int rv = dqlite_stmt_query(c->dq_stmts[s], &v, 1, &rows);
    if (rv != DQLITE_CLIENT_OK) {
        return dqFail(c, rv, "query");
    }
    unsigned last = dqlite_rows_column_count(rows) - 1;
    while ((rv = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
        (void)dqlite_rows_blob(rows, last, &len);
        (*n_rows)++;
    }
    dqlite_rows_close(rows);
    return rv == DQLITE_CLIENT_DONE ? BENCH_OK : dqFail(c, rv, "rows");
}

int benchConnQuery(struct bench_conn *c, enum bench_stmt s, int64_t param,
                   uint64_t *n_rows)
{
    sqlite3_stmt *stmt = c->lite_stmts[s];
    int rv;
    if (c->dq != NULL) {
        return dqQuery(c, s, param, n_rows);
    }
    sqlite3_bind_int64(stmt, 1, param);
    int last = sqlite3_column_count(stmt) - 1;
    while ((rv = sqlite3_step(stmt)) == SQLITE_ROW) {
        (void)sqlite3_column_blob(stmt, last);
        (void)sqlite3_column_bytes(stmt, last);
        (*n_rows)++;
    }
    sqlite3_reset(stmt);
    return rv == SQLITE_DONE ? BENCH_OK : liteFail(c, rv, "query");
}

int benchConnBegin(struct bench_conn *c)
{
    int rv;
    if (c->dq != NULL) {
        rv = dqlite_conn_begin(c->dq, NULL);
        return rv == DQLITE_CLIENT_OK ? BENCH_OK : dqFail(c, rv, "begin");
    }
    return benchConnExecSql(c, "BEGIN IMMEDIATE");
}

int benchConnCommit(struct bench_conn *c)
{
    int rv;
    if (c->dq != NULL) {
        rv = dqlite_conn_commit(c->dq);
        return rv == DQLITE_CLIENT_OK ? BENCH_OK : dqFail(c, rv, "commit");
    }
    return benchConnExecSql(c, "COMMIT");
}

void benchConnRollback(struct bench_conn *c)
{
    if (c->dq != NULL) {
        dqlite_conn_rollback(c->dq);
        return;
    }
    if (!sqlite3_get_autocommit(c->lite)) {
        benchConnExecSql(c, "ROLLBACK");
    }
}
