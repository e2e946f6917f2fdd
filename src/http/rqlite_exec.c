/* Execution of rqlite requests through our C client (docs/http-api.md,
 * "Execution"): a bounded pool of dqlite_conn, each opened on one
 * database and reused by whichever handler thread takes it, and the
 * statements of one request run on one connection, in order, inside a
 * transaction when asked. Going through the client means the node's wire
 * port does everything a wire client gets: finding the leader, forwarding,
 * read consistency, the SQL policy and limits.
 *
 * Threads: libmicrohttpd's. The pool's mutex guards only the slots' busy
 * flags; a connection is used by the one thread holding its slot. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/rqlite_internal.h"
#include "lib/alloc.h"
#include "lib/assert.h"

int rqPoolInit(struct rq_pool *p, const struct http_rqlite_config *config,
               char *errmsg, size_t errmsg_len)
{
    struct dqlite_driver_options o;
    memset(p, 0, sizeof *p);
    p->n_slots = config->pool_size == 0 ? RQ_POOL_DEFAULT : config->pool_size;
    if (p->n_slots > RQ_POOL_MAX) {
        p->n_slots = RQ_POOL_MAX;
    }
    p->wait_ms = RQ_POOL_WAIT_MS;
    if (dqlite_server_store_create(&p->store) != 0 ||
        dqlite_server_store_add(p->store, config->node_id, config->node_address,
                                DQLITE_VOTER) != 0) {
        snprintf(errmsg, errmsg_len, "cannot build the server store of %s",
                 config->node_address);
        dqlite_server_store_close(p->store);
        return -ENOMEM;
    }
    dqlite_driver_options_init(&o);
    o.connect_timeout_ms = 5000;
    o.call_timeout_ms = RQ_CALL_TIMEOUT_MS;
    if (config->tls_cert_file != NULL) {
        o.tls = true;
        o.tls_cert_file = config->tls_cert_file;
        o.tls_key_file = config->tls_key_file;
        o.tls_ca_file = config->tls_ca_file;
        o.tls_verify = DQLITE_CLIENT_TLS_VERIFY_CHAIN;
    }
    if (dqlite_driver_create(p->store, &o, &p->driver) != 0) {
        snprintf(errmsg, errmsg_len,
                 "cannot build the client driver towards %s (TLS files?)",
                 config->node_address);
        dqlite_server_store_close(p->store);
        return -EINVAL;
    }
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->cond, NULL);
    return 0;
}

/* Closes the slot's statements, then its connection. */
static void slotDisconnect(struct rq_slot *s)
{
    for (unsigned i = 0; i < RQ_STMT_CACHE; i++) {
        if (s->cache[i].sql != NULL) {
            dqlite_stmt_close(s->cache[i].stmt);
            libFree(s->cache[i].sql);
        }
    }
    memset(s->cache, 0, sizeof s->cache);
    if (s->conn != NULL) {
        dqlite_conn_close(s->conn);
        s->conn = NULL;
    }
}

struct dqlite_stmt *rqSlotStmt(struct rq_slot *slot, const char *sql, int *rv)
{
    struct rq_cached *victim = &slot->cache[0];
    slot->clock++;
    for (unsigned i = 0; i < RQ_STMT_CACHE; i++) {
        struct rq_cached *c = &slot->cache[i];
        if (c->sql != NULL && strcmp(c->sql, sql) == 0) {
            c->used = slot->clock;
            return c->stmt;
        }
        if (c->sql == NULL || (victim->sql != NULL && c->used < victim->used)) {
            victim = c;
        }
    }
    char *copy = libStrdup(sql);
    if (copy == NULL) {
        *rv = DQLITE_CLIENT_NOMEM;
        return NULL;
    }
    struct dqlite_stmt *stmt;
    *rv = dqlite_conn_prepare(slot->conn, sql, &stmt);
    if (*rv != DQLITE_CLIENT_OK) {
        libFree(copy);
        return NULL;
    }
    if (victim->sql != NULL) {
        dqlite_stmt_close(victim->stmt);
        libFree(victim->sql);
    }
    *victim =
        (struct rq_cached){.sql = copy, .stmt = stmt, .used = slot->clock};
    return stmt;
}

void rqPoolClose(struct rq_pool *p)
{
    for (unsigned i = 0; i < p->n_slots; i++) {
        ASSERT(!p->slots[i].busy);
        slotDisconnect(&p->slots[i]);
    }
    dqlite_driver_destroy(p->driver);
    dqlite_server_store_close(p->store);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mutex);
}

/* A free slot, preferring one open on `db`, then an unused one. */
static struct rq_slot *pickSlot(struct rq_pool *p, const char *db)
{
    struct rq_slot *any = NULL;
    struct rq_slot *empty = NULL;
    for (unsigned i = 0; i < p->n_slots; i++) {
        struct rq_slot *s = &p->slots[i];
        if (s->busy) {
            continue;
        }
        if (s->conn != NULL && strcmp(s->db, db) == 0) {
            return s;
        }
        if (s->conn == NULL && empty == NULL) {
            empty = s;
        }
        if (any == NULL) {
            any = s;
        }
    }
    return empty != NULL ? empty : any;
}

static struct rq_slot *waitSlot(struct rq_pool *p, const char *db)
{
    struct timespec deadline;
    struct rq_slot *s;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += p->wait_ms / 1000;
    deadline.tv_nsec += (long)(p->wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mutex);
    while ((s = pickSlot(p, db)) == NULL) {
        if (pthread_cond_timedwait(&p->cond, &p->mutex, &deadline) ==
            ETIMEDOUT) {
            break;
        }
    }
    if (s != NULL) {
        s->busy = true;
    }
    pthread_mutex_unlock(&p->mutex);
    return s;
}

struct rq_slot *rqPoolAcquire(struct rq_pool *p, const char *db, char *err,
                              size_t err_len)
{
    PRE(strlen(db) <= RQ_DB_NAME_MAX);
    struct rq_slot *s = waitSlot(p, db);
    if (s == NULL) {
        snprintf(err, err_len, "all %u connections busy for %u ms", p->n_slots,
                 p->wait_ms);
        return NULL;
    }
    if (s->conn != NULL && strcmp(s->db, db) != 0) {
        slotDisconnect(s);
    }
    if (s->conn == NULL) {
        int rv = dqlite_driver_connect(p->driver, db, &s->conn);
        if (rv != DQLITE_CLIENT_OK) {
            snprintf(err, err_len, "leader not found: %s",
                     s->conn != NULL ? dqlite_conn_errmsg(s->conn) : "");
            dqlite_conn_close(s->conn);
            s->conn = NULL;
            rqPoolRelease(p, s, false);
            return NULL;
        }
        strcpy(s->db, db);
    }
    POST(s->busy && s->conn != NULL);
    return s;
}

void rqPoolRelease(struct rq_pool *p, struct rq_slot *slot, bool broken)
{
    PRE(slot->busy);
    if (broken) {
        slotDisconnect(slot);
    }
    pthread_mutex_lock(&p->mutex);
    slot->busy = false;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mutex);
}

/* ------------------------------------------------------------ running */

static double nowSeconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The mapping point of rqlite's read levels onto our read consistency.
 * Today every read goes through the wire protocol to the leader, which
 * answers it as leader: linearizable for every level (rqlite's none and
 * weak may read stale data; ours never do). When follower reads land,
 * RQ_LEVEL_NONE (and WEAK, if it means "a lease") map here onto them. */
static void applyLevel(struct dqlite_conn *conn, enum rq_level level)
{
    (void)conn;
    switch (level) {
    case RQ_LEVEL_NONE:
    case RQ_LEVEL_WEAK:
    case RQ_LEVEL_LINEARIZABLE:
    case RQ_LEVEL_STRONG:
        break;
    }
}

struct run {
    struct rq_slot *slot;
    struct dqlite_conn *conn;
    const struct rq_request *r;
    int rv;      /* the last client call's code */
    bool broken; /* the connection must not be reused */
};

static json_t *clientError(struct run *x, int rv)
{
    x->rv = rv;
    if (rv != DQLITE_CLIENT_ERROR && rv != DQLITE_CLIENT_MISUSE) {
        x->broken = true;
    }
    return rqErrorResult(dqlite_conn_errmsg(x->conn));
}

static json_t *runExec(struct run *x, const struct rq_stmt *s)
{
    struct dqlite_result res;
    double t0 = nowSeconds();
    int rv;
    if (s->n_params > 0 && s->single) {
        struct dqlite_stmt *stmt = rqSlotStmt(x->slot, s->sql, &rv);
        if (stmt != NULL) {
            rv = dqlite_stmt_exec(stmt, s->params, s->n_params, &res);
        }
    } else {
        rv = dqlite_conn_exec(x->conn, s->sql, s->params, s->n_params, &res);
    }
    if (rv != DQLITE_CLIENT_OK) {
        return clientError(x, rv);
    }
    if (!s->dml) {
        res.last_insert_id = 0; /* SQLite's counters of an earlier one */
        res.rows_affected = 0;
    }
    return rqExecResult(res.last_insert_id, res.rows_affected, x->r->timings,
                        nowSeconds() - t0);
}

/* One row as an array (or, associative, an object keyed by column). */
/* The client's type name of a value type (dqlite_rows_column_type_name's
 * names). */
static const char *valueTypeName(int type)
{
    switch (type) {
    case DQLITE_CLIENT_INTEGER:
        return "INTEGER";
    case DQLITE_CLIENT_FLOAT:
        return "FLOAT";
    case DQLITE_CLIENT_TEXT:
        return "TEXT";
    case DQLITE_CLIENT_BLOB:
        return "BLOB";
    case DQLITE_CLIENT_UNIXTIME:
    case DQLITE_CLIENT_ISO8601:
        return "TIME";
    case DQLITE_CLIENT_BOOLEAN:
        return "BOOL";
    default:
        return NULL;
    }
}

/* One row as an array (or, associative, an object keyed by column);
 * types[c] gets the type of column c's first non-NULL value. */
static json_t *rowJson(struct run *x, struct dqlite_rows *rows, unsigned n,
                       json_t *columns, const char **types, size_t *bytes)
{
    bool assoc = x->r->associative;
    json_t *row = assoc ? json_object() : json_array();
    for (unsigned c = 0; row != NULL && c < n; c++) {
        struct dqlite_value v;
        dqlite_rows_value(rows, c, &v);
        if (types[c] == NULL) {
            types[c] = valueTypeName(v.type);
        }
        *bytes += 16 + ((v.type == DQLITE_CLIENT_TEXT ||
                         v.type == DQLITE_CLIENT_ISO8601 ||
                         v.type == DQLITE_CLIENT_BLOB)
                            ? v.text.len * (x->r->blob_array ? 4 : 2)
                            : 0);
        json_t *j = rqValueJson(&v, x->r->blob_array);
        int rv =
            assoc ? json_object_set_new(
                        row, json_string_value(json_array_get(columns, c)), j)
                  : json_array_append_new(row, j);
        if (j == NULL || rv != 0) {
            json_decref(row);
            return NULL;
        }
    }
    return row;
}

static json_t *queryResult(struct run *x, struct dqlite_rows *rows,
                           json_t *columns, json_t *values,
                           const char **type_names, double t0)
{
    unsigned n = dqlite_rows_column_count(rows);
    bool assoc = x->r->associative;
    json_t *types = assoc ? json_object() : json_array();
    for (unsigned c = 0; types != NULL && c < n; c++) {
        json_t *t = json_string(rqTypeName(type_names[c]));
        if (assoc) {
            json_object_set_new(types, dqlite_rows_column_name(rows, c), t);
        } else {
            json_array_append_new(types, t);
        }
    }
    json_t *o = json_object();
    if (o == NULL || types == NULL) {
        json_decref(o);
        json_decref(types);
        json_decref(values);
        return NULL;
    }
    if (!assoc) {
        json_object_set(o, "columns", columns);
    }
    json_object_set_new(o, "types", types);
    if (assoc) {
        json_object_set_new(o, "rows", values);
    } else if (json_array_size(values) > 0) {
        json_object_set_new(o, "values", values);
    } else {
        json_decref(values);
    }
    if (x->r->timings) {
        json_object_set_new(o, "time", json_real(nowSeconds() - t0));
    }
    return o;
}

static json_t *runQuery(struct run *x, const struct rq_stmt *s)
{
    struct dqlite_rows *rows;
    double t0 = nowSeconds();
    size_t bytes = 0;
    int rv;
    if (s->n_params > 0 && s->single) {
        struct dqlite_stmt *stmt = rqSlotStmt(x->slot, s->sql, &rv);
        if (stmt != NULL) {
            rv = dqlite_stmt_query(stmt, s->params, s->n_params, &rows);
        }
    } else {
        rv = dqlite_conn_query(x->conn, s->sql, s->params, s->n_params, &rows);
    }
    if (rv != DQLITE_CLIENT_OK) {
        return clientError(x, rv);
    }
    unsigned n = dqlite_rows_column_count(rows);
    json_t *columns = json_array();
    json_t *values = json_array();
    const char **types = calloc(n + 1, sizeof *types);
    for (unsigned c = 0; columns != NULL && c < n; c++) {
        json_array_append_new(columns,
                              json_string(dqlite_rows_column_name(rows, c)));
    }
    json_t *out = NULL;
    while (columns != NULL && values != NULL && types != NULL &&
           (rv = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
        json_t *row = rowJson(x, rows, n, columns, types, &bytes);
        if (row == NULL || json_array_append_new(values, row) != 0) {
            out = rqErrorResult("out of memory building the result");
            break;
        }
        if (bytes > RQ_RESULT_MAX_BYTES) {
            char msg[128];
            snprintf(msg, sizeof msg,
                     "result larger than %u bytes: refused (page it with "
                     "LIMIT/OFFSET)",
                     RQ_RESULT_MAX_BYTES);
            out = rqErrorResult(msg);
            break;
        }
    }
    if (out == NULL && types == NULL) {
        out = rqErrorResult("out of memory building the result");
    }
    if (out == NULL && rv != DQLITE_CLIENT_DONE) {
        out = clientError(x, rv);
    }
    if (out == NULL) {
        out = queryResult(x, rows, columns, values, types, t0);
        values = NULL;
    }
    free(types);
    json_decref(values);
    json_decref(columns);
    if (dqlite_rows_close(rows) != DQLITE_CLIENT_OK) {
        x->broken = true;
    }
    return out;
}

/* Whether statement `s` runs as a query (rows) rather than an execute. */
static bool asQuery(const struct rq_request *r, const struct rq_stmt *s)
{
    switch (r->kind) {
    case RQ_QUERY:
        return true;
    case RQ_EXECUTE:
        return false;
    default:
        return s->read;
    }
}

static json_t *runStmt(struct run *x, const struct rq_stmt *s, bool *failed)
{
    json_t *o;
    x->rv = DQLITE_CLIENT_OK;
    if (x->r->kind == RQ_QUERY && !s->read) {
        /* rqlite refuses writes on /db/query (its words). */
        o = rqErrorResult("attempt to change database via query operation");
    } else if (asQuery(x->r, s)) {
        o = runQuery(x, s);
    } else {
        o = runExec(x, s);
    }
    *failed = o == NULL || json_object_get(o, "error") != NULL;
    return o != NULL ? o : rqErrorResult("out of memory");
}

/* Runs every statement into `results`; in a transaction the first
 * failure stops the run and nothing commits; in the sandbox every
 * statement runs and nothing commits. */
static void runAll(struct run *x, json_t *results)
{
    const struct rq_request *r = x->r;
    bool tx = r->transaction || r->sandbox;
    bool failed = false;
    if (tx && dqlite_conn_begin(x->conn, NULL) != DQLITE_CLIENT_OK) {
        json_array_append_new(results, clientError(x, DQLITE_CLIENT_ERROR));
        return;
    }
    for (unsigned i = 0; i < r->n && !(r->transaction && failed); i++) {
        json_array_append_new(results, runStmt(x, &r->stmts[i], &failed));
        if (x->rv == DQLITE_CLIENT_NOLEADER) {
            break;
        }
    }
    if (!tx) {
        return;
    }
    if (failed || r->sandbox) {
        if (dqlite_conn_rollback(x->conn) != DQLITE_CLIENT_OK) {
            x->broken = true;
        }
    } else if (dqlite_conn_commit(x->conn) != DQLITE_CLIENT_OK) {
        json_array_append_new(results, clientError(x, DQLITE_CLIENT_ERROR));
    }
}

void rqExecute(struct rq_pool *p, const struct rq_request *r,
               struct http_response *res)
{
    char err[256];
    double t0 = nowSeconds();
    json_t *results = json_array();
    if (results == NULL) {
        rqRespondText(res, 500, "out of memory");
        return;
    }
    if (r->n > 0) {
        struct rq_slot *slot = rqPoolAcquire(p, r->db, err, sizeof err);
        if (slot == NULL) {
            json_decref(results);
            rqRespondText(res, 503, err);
            return;
        }
        struct run x = {.slot = slot, .conn = slot->conn, .r = r};
        applyLevel(slot->conn, r->level);
        dqlite_conn_set_timeout(slot->conn, r->timeout_ms); /* 0: default */
        runAll(&x, results);
        dqlite_conn_set_timeout(slot->conn, 0);
        rqPoolRelease(p, slot, x.broken);
        if (x.rv == DQLITE_CLIENT_NOLEADER) {
            json_decref(results);
            rqRespondText(res, 503, "leader not found");
            return;
        }
    }
    json_t *top = json_pack("{s:o}", "results", results);
    if (top != NULL && r->timings) {
        json_object_set_new(top, "time", json_real(nowSeconds() - t0));
    }
    rqRespondJson(res, 200, top, r->pretty);
}
