/*
 * SQL on a connection: exec and query of SQL text, and transactions.
 *
 * Every call goes through clientConnRun, which readies the connection
 * (reconnecting between transactions), runs the request, and retries it
 * once on the new leader when it provably did not run (FAILURE "not
 * leader") or cannot have changed anything (a query or prepare whose
 * connection failed). Parameters are converted to proto values and encoded
 * by proto: up to 255 in a schema 0 tuple (a 1-byte count, what go-dqlite
 * 1.11 sends), more in a schema 1 tuple (a 4-byte count, which our server
 * and the reference 1.11 accept).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

static bool paramTypeValid(int type)
{
    return type == DQLITE_CLIENT_INTEGER || type == DQLITE_CLIENT_FLOAT ||
           type == DQLITE_CLIENT_TEXT || type == DQLITE_CLIENT_BLOB ||
           type == DQLITE_CLIENT_NULL || type == DQLITE_CLIENT_ISO8601 ||
           type == DQLITE_CLIENT_BOOLEAN;
}

static int paramConvert(const struct dqlite_value *in, struct proto_value *out)
{
    out->type = (uint8_t)in->type;
    switch (in->type) {
    case DQLITE_CLIENT_INTEGER:
        out->integer = in->integer;
        return 0;
    case DQLITE_CLIENT_FLOAT:
        out->real = in->real;
        return 0;
    case DQLITE_CLIENT_BOOLEAN:
        out->boolean = in->boolean;
        return 0;
    case DQLITE_CLIENT_TEXT:
    case DQLITE_CLIENT_ISO8601:
        if (in->text.data == NULL && in->text.len > 0) {
            return ERR_MISUSE;
        }
        out->text.data = in->text.data != NULL ? in->text.data : "";
        out->text.len = in->text.len;
        return memchr(out->text.data, 0, out->text.len) ? ERR_MISUSE : 0;
    case DQLITE_CLIENT_BLOB:
        if (in->blob.data == NULL && in->blob.len > 0) {
            return ERR_MISUSE;
        }
        out->blob.data = in->blob.data;
        out->blob.len = in->blob.len;
        return 0;
    default:
        out->integer = 0; /* NULL */
        return 0;
    }
}

int clientParamsConvert(const struct dqlite_value *params, unsigned n,
                        struct proto_value **out, struct client_err *e)
{
    struct proto_value *values;
    unsigned i;
    if (n > CLIENT_PARAMS_MAX) {
        return clientErrSet(e, ERR_MISUSE, "too many parameters (%u) max = %d",
                            n, CLIENT_PARAMS_MAX);
    }
    if (n > 0 && params == NULL) {
        return clientErrSet(e, ERR_MISUSE, "parameters missing");
    }
    values = libCalloc(n > 0 ? n : 1, sizeof *values);
    if (values == NULL) {
        return clientErrSet(e, ERR_NOMEM, "out of memory");
    }
    for (i = 0; i < n; i++) {
        if (!paramTypeValid(params[i].type) ||
            paramConvert(&params[i], &values[i]) != 0) {
            libFree(values);
            return clientErrSet(e, ERR_MISUSE, "parameter %u is invalid",
                                i + 1);
        }
    }
    *out = values;
    return 0;
}

static bool connRetriable(struct dqlite_conn *c, int rv, bool idempotent)
{
    if (c->tx != CLIENT_TX_NONE) {
        return false;
    }
    if (rv == ERR_CLIENT_NOTLEADER) {
        return c->err.server_code == DQLITE_CLIENT_CODE_NOT_LEADER ||
               c->err.server_code == (10 | (32 << 8));
    }
    return idempotent && (rv == ERR_CLIENT_EOF || rv == ERR_IO);
}

int clientConnRun(struct dqlite_conn *c, client_conn_op fn, void *arg,
                  bool idempotent)
{
    int attempt;
    int rv = 0;
    for (attempt = 0; attempt < 2; attempt++) {
        rv = clientConnReady(c);
        if (rv != 0) {
            break;
        }
        rv = fn(c, arg);
        if (rv == 0) {
            clientErrClear(&c->err); /* discovery may have left notes */
            break;
        }
        if (!connRetriable(c, rv, idempotent)) {
            break;
        }
        clientLog(c->driver, DQLITE_CLIENT_LOG_DEBUG,
                  "retrying on the new leader: %s", c->err.msg);
    }
    return clientErrPublic(rv);
}

/* The arguments of one SQL call (conn or statement). */
struct sql_call {
    const char *sql; /* SQL text, or NULL for a statement */
    struct dqlite_stmt *stmt;
    const struct dqlite_value *params;
    unsigned n;
    struct dqlite_result *result;
    struct dqlite_rows **rows;
};

/* Encodes EXEC_SQL/QUERY_SQL or EXEC/QUERY and sends it. */
static int sqlSend(struct dqlite_conn *c, struct sql_call *a, bool query)
{
    struct proto_request req;
    struct proto_value *values;
    int rv = clientParamsConvert(a->params, a->n, &values, &c->err);
    if (rv != 0) {
        return rv;
    }
    if (a->stmt == NULL) {
        protoRequestInit(&req,
                         query ? PROTO_REQ_QUERY_SQL : PROTO_REQ_EXEC_SQL);
        req.exec_sql.db_id = c->db_id;
        req.exec_sql.sql = protoText(a->sql);
        protoParamsSet(&req.exec_sql.params, values, a->n);
    } else {
        protoRequestInit(&req, query ? PROTO_REQ_QUERY : PROTO_REQ_EXEC);
        req.exec.db_id = c->db_id;
        req.exec.stmt_id = a->stmt->id;
        protoParamsSet(&req.exec.params, values, a->n);
    }
    req.schema = a->n > PROTO_PARAMS_MAX_SCHEMA0 ? 1 : 0;
    rv = clientSockEncode(&c->sock, &req);
    libFree(values);
    if (rv != 0) {
        return clientErrSet(&c->err, ERR_MISUSE, "cannot encode request: %s",
                            errString(rv));
    }
    return clientConnCall(c, clientConnDeadline(c));
}

int clientSqlExec(struct dqlite_conn *c, void *arg)
{
    struct sql_call *a = arg;
    int rv = a->stmt != NULL ? clientStmtReady(a->stmt) : 0;
    rv = rv != 0 ? rv : sqlSend(c, a, false);
    rv = rv != 0 ? rv : clientConnExpect(c, PROTO_RESP_RESULT);
    if (rv != 0) {
        return rv;
    }
    if (a->result != NULL) {
        a->result->last_insert_id = (int64_t)c->sock.resp.result.last_insert_id;
        a->result->rows_affected = (int64_t)c->sock.resp.result.rows_affected;
    }
    return 0;
}

int clientSqlQuery(struct dqlite_conn *c, void *arg)
{
    struct sql_call *a = arg;
    int rv = a->stmt != NULL ? clientStmtReady(a->stmt) : 0;
    rv = rv != 0 ? rv : sqlSend(c, a, true);
    rv = rv != 0 ? rv : clientConnExpect(c, PROTO_RESP_ROWS);
    return rv != 0 ? rv : clientRowsStart(c, a->rows);
}

int clientSqlRun(struct dqlite_conn *c, struct dqlite_stmt *stmt,
                 const char *sql, const struct dqlite_value *params, unsigned n,
                 struct dqlite_result *result, struct dqlite_rows **rows)
{
    struct sql_call a = {.sql = sql,
                         .stmt = stmt,
                         .params = params,
                         .n = n,
                         .result = result,
                         .rows = rows};
    if (rows != NULL) {
        *rows = NULL;
        return clientConnRun(c, clientSqlQuery, &a, true);
    }
    return clientConnRun(c, clientSqlExec, &a, false);
}

/* Skips blanks and SQL comments. */
static const char *sqlSkip(const char *p)
{
    for (;;) {
        while (isspace((unsigned char)*p)) {
            p++;
        }
        if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end != NULL ? end + 2 : p + strlen(p);
        } else {
            return p;
        }
    }
}

/* Whether the keyword at `p` is `word` (case-insensitive, whole word). */
static bool sqlKeyword(const char *p, const char *word)
{
    size_t n = strlen(word);
    return strncasecmp(p, word, n) == 0 && !isalnum((unsigned char)p[n]) &&
           p[n] != '_';
}

enum sql_tx_kind { SQL_TX_OTHER, SQL_TX_BEGIN, SQL_TX_END, SQL_TX_ROLLBACK };

/* What the first statement of `sql` does to the transaction, so that
 * transactions begun with SQL text get the same fail-over rules as those
 * of dqlite_conn_begin(). */
static enum sql_tx_kind sqlTxKind(const char *sql)
{
    const char *p = sqlSkip(sql);
    if (sqlKeyword(p, "BEGIN")) {
        return SQL_TX_BEGIN;
    }
    if (sqlKeyword(p, "COMMIT") || sqlKeyword(p, "END")) {
        return SQL_TX_END;
    }
    if (!sqlKeyword(p, "ROLLBACK")) {
        return SQL_TX_OTHER;
    }
    p = sqlSkip(p + strlen("ROLLBACK"));
    if (sqlKeyword(p, "TRANSACTION")) {
        p = sqlSkip(p + strlen("TRANSACTION"));
    }
    return sqlKeyword(p, "TO") ? SQL_TX_OTHER : SQL_TX_ROLLBACK;
}

DQLITE_API int dqlite_conn_exec(struct dqlite_conn *conn, const char *sql,
                                const struct dqlite_value *params, unsigned n,
                                struct dqlite_result *result)
{
    enum sql_tx_kind kind;
    int rv;
    if (conn == NULL || sql == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    kind = sqlTxKind(sql);
    if (kind == SQL_TX_ROLLBACK && conn->tx != CLIENT_TX_NONE) {
        return dqlite_conn_rollback(conn);
    }
    rv = clientSqlRun(conn, NULL, sql, params, n, result, NULL);
    if (rv == 0 && kind == SQL_TX_BEGIN) {
        conn->tx = CLIENT_TX_OPEN;
    } else if (rv == 0 && kind != SQL_TX_OTHER) {
        conn->tx = CLIENT_TX_NONE;
    }
    return rv;
}

DQLITE_API int dqlite_conn_query(struct dqlite_conn *conn, const char *sql,
                                 const struct dqlite_value *params, unsigned n,
                                 struct dqlite_rows **rows)
{
    if (conn == NULL || sql == NULL || rows == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    if (conn->driver->spread_level[0] != '\0' && conn->reader_address == NULL &&
        conn->tx == CLIENT_TX_NONE &&
        (sqlKeyword(sqlSkip(sql), "SELECT") ||
         sqlKeyword(sqlSkip(sql), "WITH")) &&
        clientReaderQuery(conn, sql, params, n, rows) == 0) {
        return 0;
    }
    return clientSqlRun(conn, NULL, sql, params, n, NULL, rows);
}

/* ---------------------------------------------------------- transactions */

DQLITE_API int dqlite_conn_begin(struct dqlite_conn *conn,
                                 const struct dqlite_tx_options *opts)
{
    int rv;
    if (conn == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    if (opts != NULL && (opts->isolation != DQLITE_CLIENT_ISOLATION_DEFAULT ||
                         opts->read_only)) {
        clientErrSet(&conn->err, ERR_MISUSE,
                     opts->read_only ? "read-only transactions are not "
                                       "supported"
                                     : "isolation level not supported");
        return DQLITE_CLIENT_MISUSE;
    }
    if (conn->tx != CLIENT_TX_NONE) {
        clientErrSet(&conn->err, ERR_MISUSE, "a transaction is already open");
        return DQLITE_CLIENT_MISUSE;
    }
    rv = clientSqlRun(conn, NULL, "BEGIN", NULL, 0, NULL, NULL);
    if (rv == 0) {
        conn->tx = CLIENT_TX_OPEN;
    }
    return rv;
}

/* COMMIT or ROLLBACK of an open transaction; the transaction is over
 * whatever the outcome. */
static int connEnd(struct dqlite_conn *c, const char *sql)
{
    int rv;
    ASSERT(c->tx == CLIENT_TX_OPEN);
    rv = clientSqlRun(c, NULL, sql, NULL, 0, NULL, NULL);
    if (c->tx == CLIENT_TX_OPEN && rv == DQLITE_CLIENT_ERROR && sql[0] == 'C') {
        /* A failed COMMIT may leave SQLite's transaction open. */
        struct client_err saved = c->err;
        clientSqlRun(c, NULL, "ROLLBACK", NULL, 0, NULL, NULL);
        c->err = saved;
    }
    c->tx = CLIENT_TX_NONE;
    return rv;
}

DQLITE_API int dqlite_conn_commit(struct dqlite_conn *conn)
{
    if (conn == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    if (conn->tx == CLIENT_TX_NONE) {
        clientErrSet(&conn->err, ERR_MISUSE, "no transaction is open");
        return DQLITE_CLIENT_MISUSE;
    }
    if (conn->tx == CLIENT_TX_CUT) {
        return clientErrPublic(clientConnReady(conn));
    }
    return connEnd(conn, "COMMIT");
}

DQLITE_API int dqlite_conn_rollback(struct dqlite_conn *conn)
{
    int rv;
    if (conn == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    if (conn->tx == CLIENT_TX_NONE) {
        clientErrSet(&conn->err, ERR_MISUSE, "no transaction is open");
        return DQLITE_CLIENT_MISUSE;
    }
    if (conn->tx == CLIENT_TX_CUT) {
        conn->tx = CLIENT_TX_NONE; /* the cluster rolled it back already */
        clientErrClear(&conn->err);
        return 0;
    }
    rv = connEnd(conn, "ROLLBACK");
    if (rv == DQLITE_CLIENT_TXCUT) {
        clientErrClear(&conn->err); /* lost with the connection: rolled back */
        return 0;
    }
    return rv;
}
