/*
 * The four workloads' operations on our C client (workload.h): register
 * (read/write/cas per key), bank (transfers in transactions), set (unique
 * inserts) and append (transactions appending to and reading lists). Each
 * records its invocation and completion; keys rotate so that no key's
 * history outgrows the linearizability search.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

#define REG_OPS_PER_KEYS 120
#define APPEND_OPS_PER_KEYS 300

static struct dqlite_value intValue(int64_t v)
{
    struct dqlite_value x = {.type = DQLITE_CLIENT_INTEGER};
    x.integer = v;
    return x;
}

/* Runs a one-column integer query; *found is 0 when no row came. */
static int queryInt(struct dqlite_conn *conn, const char *sql,
                    struct dqlite_value *params, unsigned n, int64_t *v,
                    int *found)
{
    struct dqlite_rows *rows;
    int rc = dqlite_conn_query(conn, sql, params, n, &rows);
    if (rc != DQLITE_CLIENT_OK) {
        return rc;
    }
    *found = 0;
    while ((rc = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
        *v = dqlite_rows_int64(rows, 0);
        *found = 1;
    }
    dqlite_rows_close(rows);
    return rc == DQLITE_CLIENT_DONE ? DQLITE_CLIENT_OK : rc;
}

static enum faults_type regRead(struct worker *w, int64_t key)
{
    struct dqlite_value p = intValue(key);
    int64_t v = 0;
    int found;
    char out[32];
    record(w->process, FAULTS_INVOKE, "read", key, "-");
    int rc =
        queryInt(w->conn, "SELECT v FROM reg WHERE k = ?", &p, 1, &v, &found);
    if (rc != DQLITE_CLIENT_OK) {
        record(w->process, FAULTS_FAIL, "read", key, "-");
        return FAULTS_FAIL;
    }
    snprintf(out, sizeof out, found ? "%lld" : "nil", (long long)v);
    record(w->process, FAULTS_OK, "read", key, out);
    return FAULTS_OK;
}

static enum faults_type regWrite(struct worker *w, int64_t key, int cas)
{
    int64_t old = rand_r(&w->seed) % 5, v = rand_r(&w->seed) % 5;
    struct dqlite_value p[3] = {intValue(key), intValue(v), intValue(old)};
    struct dqlite_result res = {0, 0};
    char arg[48];
    const char *f = cas ? "cas" : "write";
    if (cas) {
        snprintf(arg, sizeof arg, "%lld,%lld", (long long)old, (long long)v);
    } else {
        snprintf(arg, sizeof arg, "%lld", (long long)v);
    }
    record(w->process, FAULTS_INVOKE, f, key, arg);
    int rc =
        dqlite_conn_exec(w->conn,
                         cas ? "UPDATE reg SET v = ?2 WHERE k = ?1 AND v = ?3"
                             : "INSERT INTO reg(k, v) VALUES(?1, ?2) "
                               "ON CONFLICT(k) DO UPDATE SET v = excluded.v",
                         p, cas ? 3 : 2, &res);
    enum faults_type t =
        rc == DQLITE_CLIENT_OK ? FAULTS_OK : writeOutcome(w->conn, rc);
    if (t == FAULTS_OK && cas && res.rows_affected != 1) {
        t = FAULTS_FAIL;
    }
    record(w->process, t, f, key, arg);
    return t;
}

enum faults_type opRegister(struct worker *w)
{
    int64_t n = nextCounter();
    int64_t key = (n / REG_OPS_PER_KEYS) * 3 + rand_r(&w->seed) % 3;
    int dice = rand_r(&w->seed) % 4;
    if (dice < 2) {
        return regRead(w, key);
    }
    return regWrite(w, key, dice == 3);
}

/* Appends "a,b,c" of all balances to `out`; 0 or the client's code. */
static int bankBalances(struct dqlite_conn *conn, char *out, size_t size)
{
    struct dqlite_rows *rows;
    size_t len = 0;
    int rc = dqlite_conn_query(conn, "SELECT balance FROM accounts ORDER BY id",
                               NULL, 0, &rows);
    if (rc != DQLITE_CLIENT_OK) {
        return rc;
    }
    out[0] = '\0';
    while ((rc = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
        len += (size_t)snprintf(out + len, size - len, "%s%lld", len ? "," : "",
                                (long long)dqlite_rows_int64(rows, 0));
    }
    dqlite_rows_close(rows);
    return rc == DQLITE_CLIENT_DONE ? DQLITE_CLIENT_OK : rc;
}

static enum faults_type bankRead(struct worker *w)
{
    char out[512];
    record(w->process, FAULTS_INVOKE, "read", 0, "-");
    int rc = bankBalances(w->conn, out, sizeof out);
    enum faults_type t = rc == DQLITE_CLIENT_OK ? FAULTS_OK : FAULTS_FAIL;
    record(w->process, t, "read", 0, t == FAULTS_OK ? out : "-");
    return t;
}

/* The transfer's statements inside BEGIN/COMMIT; FAIL before COMMIT. */
static enum faults_type bankTransferTx(struct worker *w, struct dqlite_value *p)
{
    struct dqlite_result res = {0, 0};
    int rc = dqlite_conn_begin(w->conn, NULL);
    if (rc == DQLITE_CLIENT_OK) {
        rc = dqlite_conn_exec(w->conn,
                              "UPDATE accounts SET balance = balance - ?3 "
                              "WHERE id = ?1 AND balance >= ?3",
                              p, 3, &res);
    }
    if (rc == DQLITE_CLIENT_OK && res.rows_affected == 1) {
        rc = dqlite_conn_exec(w->conn,
                              "UPDATE accounts SET balance = balance + ?3 "
                              "WHERE id = ?2",
                              p, 3, NULL);
    }
    if (rc != DQLITE_CLIENT_OK || res.rows_affected != 1) {
        if (rc != DQLITE_CLIENT_OK) {
            writeOutcome(w->conn, rc); /* logs why */
        }
        dqlite_conn_rollback(w->conn);
        return FAULTS_FAIL;
    }
    rc = dqlite_conn_commit(w->conn);
    return rc == DQLITE_CLIENT_OK ? FAULTS_OK : writeOutcome(w->conn, rc);
}

enum faults_type opBank(struct worker *w)
{
    if (rand_r(&w->seed) % 2 == 0) {
        return bankRead(w);
    }
    int64_t from = rand_r(&w->seed) % BANK_ACCOUNTS;
    int64_t to =
        (from + 1 + rand_r(&w->seed) % (BANK_ACCOUNTS - 1)) % BANK_ACCOUNTS;
    int64_t amount = 1 + rand_r(&w->seed) % 5;
    struct dqlite_value p[3] = {intValue(from), intValue(to), intValue(amount)};
    char arg[64];
    snprintf(arg, sizeof arg, "%lld,%lld,%lld", (long long)from, (long long)to,
             (long long)amount);
    record(w->process, FAULTS_INVOKE, "transfer", 0, arg);
    enum faults_type t = bankTransferTx(w, p);
    record(w->process, t, "transfer", 0, arg);
    return t;
}

enum faults_type opSet(struct worker *w)
{
    int64_t v = nextCounter();
    struct dqlite_value p = intValue(v);
    char arg[32];
    snprintf(arg, sizeof arg, "%lld", (long long)v);
    record(w->process, FAULTS_INVOKE, "add", 0, arg);
    int rc = dqlite_conn_exec(w->conn, "INSERT INTO elems(v) VALUES(?)", &p, 1,
                              NULL);
    enum faults_type t =
        rc == DQLITE_CLIENT_OK ? FAULTS_OK : writeOutcome(w->conn, rc);
    record(w->process, t, "add", 0, arg);
    return t;
}

/* Reads list `key` as "r:KEY:V1,V2" appended to out at *len. */
static int appendReadKey(struct dqlite_conn *conn, int64_t key, char *out,
                         size_t size, size_t *len)
{
    struct dqlite_value p = intValue(key);
    struct dqlite_rows *rows;
    const char *list = "";
    int rc = dqlite_conn_query(conn, "SELECT v FROM lists WHERE k = ?", &p, 1,
                               &rows);
    if (rc != DQLITE_CLIENT_OK) {
        return rc;
    }
    *len += (size_t)snprintf(out + *len, size - *len,
                             "%sr:%lld:", *len ? ";" : "", (long long)key);
    while ((rc = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
        list = dqlite_rows_text(rows, 0);
        *len += (size_t)snprintf(out + *len, size - *len, "%s", list);
    }
    dqlite_rows_close(rows);
    return rc == DQLITE_CLIENT_DONE ? DQLITE_CLIENT_OK : rc;
}

struct mop_plan {
    int is_read;
    int64_t key;
    int64_t value;
};

static int appendExec(struct dqlite_conn *conn, const struct mop_plan *m)
{
    struct dqlite_value p[2] = {intValue(m->key), intValue(m->value)};
    return dqlite_conn_exec(conn,
                            "INSERT INTO lists(k, v) VALUES(?1, ?2) "
                            "ON CONFLICT(k) DO UPDATE SET v = v || ',' || ?2",
                            p, 2, NULL);
}

/* Plans 1-3 micro-ops and writes the request to `in`; returns the count. */
static int appendPlan(struct worker *w, struct mop_plan *m, char *in,
                      size_t size)
{
    int64_t base = (nextCounter() / APPEND_OPS_PER_KEYS) * 4;
    int n = 1 + rand_r(&w->seed) % 3;
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        m[i].is_read = rand_r(&w->seed) % 2;
        m[i].key = base + rand_r(&w->seed) % 4;
        m[i].value = m[i].is_read ? 0 : nextCounter();
        len +=
            (size_t)snprintf(in + len, size - len, "%s%c:%lld:", len ? ";" : "",
                             m[i].is_read ? 'r' : 'a', (long long)m[i].key);
        if (!m[i].is_read) {
            len += (size_t)snprintf(in + len, size - len, "%lld",
                                    (long long)m[i].value);
        }
    }
    return n;
}

/* Runs the planned transaction, the result into `out`; FAIL before COMMIT
 * (the transaction was rolled back), the commit's outcome after. */
static enum faults_type appendTx(struct worker *w, const struct mop_plan *m,
                                 int n, char *out, size_t size)
{
    size_t len = 0;
    int rc = dqlite_conn_begin(w->conn, NULL);
    for (int i = 0; i < n && rc == DQLITE_CLIENT_OK; i++) {
        if (m[i].is_read) {
            rc = appendReadKey(w->conn, m[i].key, out, size, &len);
            continue;
        }
        len += (size_t)snprintf(out + len, size - len, "%sa:%lld:%lld",
                                len ? ";" : "", (long long)m[i].key,
                                (long long)m[i].value);
        rc = appendExec(w->conn, &m[i]);
    }
    if (rc != DQLITE_CLIENT_OK) {
        dqlite_conn_rollback(w->conn);
        return FAULTS_FAIL;
    }
    rc = dqlite_conn_commit(w->conn);
    return rc == DQLITE_CLIENT_OK ? FAULTS_OK : writeOutcome(w->conn, rc);
}

enum faults_type opAppend(struct worker *w)
{
    struct mop_plan m[3];
    static _Thread_local char in[1024], out[65536];
    int n = appendPlan(w, m, in, sizeof in);
    record(w->process, FAULTS_INVOKE, "txn", 0, in);
    enum faults_type t = appendTx(w, m, n, out, sizeof out);
    record(w->process, t, "txn", 0, t == FAULTS_OK ? out : in);
    return t;
}

static const char *schema_register =
    "CREATE TABLE IF NOT EXISTS reg (k INTEGER PRIMARY KEY, v INTEGER)";
static const char *schema_set =
    "CREATE TABLE IF NOT EXISTS elems (v INTEGER PRIMARY KEY)";
static const char *schema_append =
    "CREATE TABLE IF NOT EXISTS lists (k INTEGER PRIMARY KEY, v TEXT)";
static const char *schema_runaway =
    "CREATE TABLE IF NOT EXISTS runaway (n INTEGER)";
static const char *schema_bank =
    "CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, "
    "balance INTEGER NOT NULL)";

int setupSchema(struct dqlite_conn *conn, const char *workload)
{
    const char *sql = strcmp(workload, "register") == 0  ? schema_register
                      : strcmp(workload, "set") == 0     ? schema_set
                      : strcmp(workload, "append") == 0  ? schema_append
                      : strcmp(workload, "runaway") == 0 ? schema_runaway
                                                         : schema_bank;
    int rc = dqlite_conn_exec(conn, sql, NULL, 0, NULL);
    for (int i = 0;
         rc == DQLITE_CLIENT_OK && sql == schema_bank && i < BANK_ACCOUNTS;
         i++) {
        struct dqlite_value p[2] = {intValue(i), intValue(BANK_INITIAL)};
        rc = dqlite_conn_exec(
            conn, "INSERT OR IGNORE INTO accounts VALUES(?, ?)", p, 2, NULL);
    }
    return rc;
}

static int finalSet(struct dqlite_conn *conn, char *out, size_t size)
{
    struct dqlite_rows *rows;
    size_t len = 0;
    int rc = dqlite_conn_query(conn, "SELECT v FROM elems ORDER BY v", NULL, 0,
                               &rows);
    if (rc != DQLITE_CLIENT_OK) {
        return rc;
    }
    snprintf(out, size, "-");
    while ((rc = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW &&
           len + 32 < size) {
        len += (size_t)snprintf(out + len, size - len, "%s%lld", len ? "," : "",
                                (long long)dqlite_rows_int64(rows, 0));
    }
    dqlite_rows_close(rows);
    return rc == DQLITE_CLIENT_DONE ? DQLITE_CLIENT_OK : rc;
}

static int finalAppend(struct dqlite_conn *conn, char *out, size_t size)
{
    struct dqlite_rows *rows;
    size_t len = 0;
    int rc = dqlite_conn_query(conn, "SELECT k, v FROM lists ORDER BY k", NULL,
                               0, &rows);
    if (rc != DQLITE_CLIENT_OK) {
        return rc;
    }
    snprintf(out, size, "-");
    while ((rc = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
        len += (size_t)snprintf(
            out + len, size - len, "%sr:%lld:%s", len ? ";" : "",
            (long long)dqlite_rows_int64(rows, 0), dqlite_rows_text(rows, 1));
    }
    dqlite_rows_close(rows);
    return rc == DQLITE_CLIENT_DONE ? DQLITE_CLIENT_OK : rc;
}

int finalRead(struct dqlite_conn *conn, const char *workload, char *out,
              size_t size)
{
    if (strcmp(workload, "set") == 0) {
        return finalSet(conn, out, size);
    }
    if (strcmp(workload, "append") == 0) {
        return finalAppend(conn, out, size);
    }
    return bankBalances(conn, out, size);
}
