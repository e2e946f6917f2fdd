/*
 * Prepared statements. A statement keeps its SQL so that it survives a
 * reconnection: the server's statement id belongs to one connection (one
 * `generation` of the dqlite_conn), and a statement used after the
 * connection moved to a new leader is prepared again there first.
 */
#include <string.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

/* PREPARE on the current connection. */
static int stmtPrepare(struct dqlite_stmt *st)
{
    struct dqlite_conn *c = st->conn;
    struct proto_request req;
    int rv;
    protoRequestInit(&req, PROTO_REQ_PREPARE);
    req.prepare.db_id = c->db_id;
    req.prepare.sql = protoText(st->sql);
    rv = clientSockEncode(&c->sock, &req);
    if (rv != 0) {
        return clientErrSet(&c->err, ERR_MISUSE, "cannot encode request: %s",
                            errString(rv));
    }
    rv = clientConnCall(c, clientConnDeadline(c));
    rv = rv != 0 ? rv : clientConnExpect(c, PROTO_RESP_STMT);
    if (rv != 0) {
        return rv;
    }
    st->id = c->sock.resp.stmt.stmt_id;
    st->num_input = c->sock.resp.stmt.n_params;
    st->generation = c->generation;
    return 0;
}

int clientStmtReady(struct dqlite_stmt *st)
{
    if (st->generation == st->conn->generation) {
        return 0;
    }
    clientLog(st->conn->driver, DQLITE_CLIENT_LOG_DEBUG,
              "preparing statement again on the new connection");
    return stmtPrepare(st);
}

static int stmtOp(struct dqlite_conn *c, void *arg)
{
    struct dqlite_stmt *st = arg;
    ASSERT(st->conn == c);
    return stmtPrepare(st);
}

DQLITE_API int dqlite_conn_prepare(struct dqlite_conn *conn, const char *sql,
                                   struct dqlite_stmt **stmt)
{
    struct dqlite_stmt *st;
    int rv;
    if (conn == NULL || sql == NULL || stmt == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    *stmt = NULL;
    st = libCalloc(1, sizeof *st);
    if (st == NULL || (st->sql = libStrdup(sql)) == NULL) {
        libFree(st);
        clientErrSet(&conn->err, ERR_NOMEM, "out of memory");
        return DQLITE_CLIENT_NOMEM;
    }
    st->conn = conn;
    rv = clientConnRun(conn, stmtOp, st, true);
    if (rv != 0) {
        libFree(st->sql);
        libFree(st);
        return rv;
    }
    conn->n_stmts++;
    *stmt = st;
    return 0;
}

DQLITE_API unsigned dqlite_stmt_num_input(struct dqlite_stmt *stmt)
{
    return stmt != NULL ? (unsigned)stmt->num_input : 0;
}

DQLITE_API int dqlite_stmt_exec(struct dqlite_stmt *stmt,
                                const struct dqlite_value *params, unsigned n,
                                struct dqlite_result *result)
{
    if (stmt == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    return clientSqlRun(stmt->conn, stmt, NULL, params, n, result, NULL);
}

DQLITE_API int dqlite_stmt_query(struct dqlite_stmt *stmt,
                                 const struct dqlite_value *params, unsigned n,
                                 struct dqlite_rows **rows)
{
    if (stmt == NULL || rows == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    return clientSqlRun(stmt->conn, stmt, NULL, params, n, NULL, rows);
}

/* FINALIZE, when the statement lives on the current connection, after the
 * answers a cancelled call left owed; not cancellable (like go-dqlite's
 * Stmt.Close, which takes no context). */
static int stmtFinalize(struct dqlite_stmt *st)
{
    struct dqlite_conn *c = st->conn;
    struct dqlite_cancel *cancel = c->cancel;
    struct proto_request req;
    int rv;
    if (st->generation != c->generation || !clientSockOpen(&c->sock) ||
        c->rows != NULL) {
        return 0; /* gone with its connection (or closed with it later) */
    }
    clientErrClear(&c->err);
    rv = clientConnDrainOwed(c);
    if (rv != 0) {
        return clientErrPublic(rv); /* the connection is gone */
    }
    protoRequestInit(&req, PROTO_REQ_FINALIZE);
    req.finalize.db_id = c->db_id;
    req.finalize.stmt_id = st->id;
    rv = clientSockEncode(&c->sock, &req);
    c->cancel = NULL;
    rv = rv != 0 ? rv : clientConnCall(c, clientConnDeadline(c));
    c->cancel = cancel;
    rv = rv != 0 ? rv : clientConnExpect(c, PROTO_RESP_EMPTY);
    return clientErrPublic(rv);
}

DQLITE_API int dqlite_stmt_close(struct dqlite_stmt *stmt)
{
    int rv;
    if (stmt == NULL) {
        return 0;
    }
    rv = stmtFinalize(stmt);
    ASSERT(stmt->conn->n_stmts > 0);
    stmt->conn->n_stmts--;
    libFree(stmt->sql);
    libFree(stmt);
    return rv;
}
