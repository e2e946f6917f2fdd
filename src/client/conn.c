/*
 * Connections: one database opened on the leader, with the rules that make
 * fail-over safe.
 *
 * A connection is a socket registered with the leader plus the database
 * opened on it. When the socket breaks or the server says it is not the
 * leader, the socket is closed; the next call reconnects (discovery, OPEN)
 * unless a transaction is open, which is then "cut": every call fails with
 * TXCUT until the application rolls back. A call the server refused with
 * "not leader" (nothing ran) is retried once on the new leader, and so are
 * queries and prepares whose connection failed; an exec whose connection
 * failed is not, as it may have run.
 *
 * Every call has a deadline (the connection's timeout); when it expires
 * while the server is working the connection sends INTERRUPT and drains the
 * answers up to EMPTY, within the same timeout again, so the connection
 * stays usable.
 *
 * A call can also be cancelled from another thread (a dqlite_cancel set on
 * the connection): the wait for the answer ends at once, INTERRUPT is
 * sent, and the answers still owed (up to the INTERRUPT's EMPTY) are read
 * and discarded by the next call, so the cancelled one returns at once.
 */
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "proto/dbname.h"

/* Server code of "no database opened" after a leadership loss. */
#define CONN_CODE_NOTFOUND 12

int64_t clientConnDeadline(const struct dqlite_conn *c)
{
    return clientDeadline(c->timeout_ms);
}

int clientConnBroken(struct dqlite_conn *c, int rv)
{
    char why[CLIENT_ERRMSG_SIZE];
    PRE(rv != 0);
    clientSockClose(&c->sock);
    clientSockInit(&c->sock);
    c->db_open = false;
    c->drain = false;
    if (c->tx != CLIENT_TX_OPEN) {
        return rv;
    }
    c->tx = CLIENT_TX_CUT;
    snprintf(why, sizeof why, "%s", c->err.msg);
    c->err.rv = ERR_CLIENT_TXCUT;
    snprintf(c->err.msg, sizeof c->err.msg,
             "transaction cut by a leader change or lost connection (%.300s): "
             "roll back and retry",
             why);
    return ERR_CLIENT_TXCUT;
}

/* Opens the database on a registered socket. */
static int connOpenDb(struct dqlite_conn *c, int64_t deadline_ms)
{
    struct proto_request req;
    int rv;
    protoRequestInit(&req, PROTO_REQ_OPEN);
    req.open.name = protoText(c->name);
    req.open.flags = 0;
    req.open.vfs = protoText("volatile");
    rv = clientSockEncode(&c->sock, &req);
    rv = rv != 0 ? rv : clientSockCall(&c->sock, deadline_ms);
    if (rv == ERR_TIMEOUT) {
        /* The leader answered LEADER and CLIENT, so it is up: it is slow. */
        return clientErrSet(&c->err, rv,
                            "open %s: the node is busy: no answer within the "
                            "connect timeout (%u ms); retry, or raise it",
                            c->name, c->driver->opts.connect_timeout_ms);
    }
    if (rv != 0) {
        return clientErrSet(&c->err, rv, "open %s: %s", c->name, errString(rv));
    }
    rv = clientConnExpect(c, PROTO_RESP_DB);
    if (rv != 0) {
        return rv;
    }
    c->db_id = c->sock.resp.db.db_id;
    return 0;
}

/* Sends PRAGMA dqlite_consistency (docs/protocol.md "Read consistency")
 * on a direct connection; the level belongs to the socket. */
static int connReadLevel(struct dqlite_conn *c, int64_t deadline_ms)
{
    char sql[64 + CLIENT_READ_LEVEL_MAX];
    struct proto_request req;
    int rv;
    const char *level = c->reader_address != NULL ? c->driver->spread_level
                                                  : c->driver->read_level;
    if (level[0] == '\0') {
        return 0;
    }
    snprintf(sql, sizeof sql, "PRAGMA dqlite_consistency = '%s'", level);
    protoRequestInit(&req, PROTO_REQ_EXEC_SQL);
    req.exec_sql.db_id = c->db_id;
    req.exec_sql.sql = protoText(sql);
    rv = clientSockEncode(&c->sock, &req);
    rv = rv != 0 ? rv : clientSockCall(&c->sock, deadline_ms);
    if (rv != 0) {
        return clientErrSet(&c->err, rv, "read level: %s", errString(rv));
    }
    return clientConnExpect(c, PROTO_RESP_RESULT);
}

/* Discovery (or the direct dial), store refresh, OPEN and the read level,
 * within the connect timeout. */
static int connConnect(struct dqlite_conn *c)
{
    struct dqlite_driver *d = c->driver;
    int64_t deadline_ms = clientDeadline(d->opts.connect_timeout_ms);
    int rv;
    PRE(!clientSockOpen(&c->sock) && !c->db_open);
    const char *why =
        protoDbNameCheck(c->name, c->name != NULL ? strlen(c->name) : 0);
    if (why != NULL) {
        return clientErrSet(&c->err, ERR_MISUSE, "invalid database name: %s",
                            why);
    }
    bool direct = d->read_level[0] != '\0' || c->reader_address != NULL;
    rv = direct ? clientDialDirect(d, c->reader_address, deadline_ms, c->cancel,
                                   &c->sock, &c->err)
                : clientDiscoverCancel(d, deadline_ms, c->cancel, &c->sock,
                                       &c->err);
    if (rv != 0) {
        return rv;
    }
    /* Direct: the node is the one asked for; the store stays. */
    if (!d->opts.no_store_refresh && !direct) {
        clientRefreshStore(d, &c->sock, deadline_ms);
    }
    if (!clientSockOpen(&c->sock)) {
        return clientErrSet(&c->err, ERR_IO, "connection lost");
    }
    rv = connOpenDb(c, deadline_ms);
    rv = rv != 0 ? rv : connReadLevel(c, deadline_ms);
    if (rv != 0) {
        clientSockClose(&c->sock);
        clientSockInit(&c->sock);
        return rv;
    }
    c->db_open = true;
    c->generation++;
    clientErrClear(&c->err);
    clientLog(d, DQLITE_CLIENT_LOG_DEBUG, "connected: database %s", c->name);
    return 0;
}

static int connDrain(struct dqlite_conn *c, int64_t deadline_ms);

int clientConnDrainOwed(struct dqlite_conn *c)
{
    int rv;
    if (!c->drain) {
        return 0;
    }
    ASSERT(clientSockOpen(&c->sock));
    rv = connDrain(c, clientConnDeadline(c));
    if (rv == 0) {
        c->drain = false;
        return 0;
    }
    clientErrSet(&c->err, rv,
                 "the server did not acknowledge the interrupt of a cancelled "
                 "call: %s",
                 errString(rv));
    return clientConnBroken(c, rv);
}

int clientConnReady(struct dqlite_conn *c)
{
    clientErrClear(&c->err);
    if (c->rows != NULL) {
        return clientErrSet(&c->err, ERR_MISUSE,
                            "a result set is open on this connection");
    }
    if (c->tx == CLIENT_TX_CUT) {
        return clientErrSet(&c->err, ERR_CLIENT_TXCUT,
                            "transaction cut by a leader change or lost "
                            "connection: roll back and retry");
    }
    if (clientCancelled(c->cancel)) {
        return clientErrSet(&c->err, ERR_CLIENT_CANCELLED,
                            "cancelled before the call started");
    }
    if (clientConnDrainOwed(c) == ERR_CLIENT_TXCUT) {
        return ERR_CLIENT_TXCUT;
    }
    if (clientSockOpen(&c->sock) && c->db_open) {
        if (!clientSockHungUp(&c->sock)) {
            return 0;
        }
        /* The server went away while idle: nothing was sent, so the call
         * can go to the new leader, unless a transaction was open. */
        clientErrSet(&c->err, ERR_CLIENT_EOF,
                     "connection closed by the server");
        if (clientConnBroken(c, ERR_CLIENT_EOF) == ERR_CLIENT_TXCUT) {
            return ERR_CLIENT_TXCUT;
        }
        clientLog(c->driver, DQLITE_CLIENT_LOG_DEBUG,
                  "server closed the connection: reconnecting");
    }
    ASSERT(c->tx == CLIENT_TX_NONE);
    if (clientSockOpen(&c->sock)) {
        clientSockClose(&c->sock);
        clientSockInit(&c->sock);
    }
    c->db_open = false;
    return connConnect(c);
}

/* Sends INTERRUPT. */
static int connSendInterrupt(struct dqlite_conn *c, int64_t deadline_ms)
{
    struct proto_request req;
    int rv;
    protoRequestInit(&req, PROTO_REQ_INTERRUPT);
    req.interrupt.db_id = c->db_id;
    rv = clientSockEncode(&c->sock, &req);
    return rv != 0 ? rv : clientSockFlush(&c->sock, deadline_ms);
}

/* Reads and discards every answer up to the INTERRUPT's EMPTY. */
static int connDrain(struct dqlite_conn *c, int64_t deadline_ms)
{
    struct client_sock *s = &c->sock;
    int rv;
    PRE(s->cancel_fd < 0);
    do {
        rv = clientSockRecv(s, deadline_ms);
        if (rv == 0 && s->resp.type == PROTO_RESP_EMPTY) {
            return 0;
        }
    } while (rv == 0);
    return rv;
}

int clientConnInterrupt(struct dqlite_conn *c)
{
    int64_t deadline_ms = clientConnDeadline(c);
    int rv = connSendInterrupt(c, deadline_ms);
    return rv != 0 ? rv : connDrain(c, deadline_ms);
}

int clientConnCancelled(struct dqlite_conn *c)
{
    int rv;
    clientLog(c->driver, DQLITE_CLIENT_LOG_DEBUG,
              "call cancelled: sending interrupt");
    rv = connSendInterrupt(c, clientConnDeadline(c));
    if (rv != 0) {
        clientErrSet(&c->err, ERR_CLIENT_CANCELLED,
                     "cancelled (interrupt not sent: %s, connection closed)",
                     errString(rv));
        return clientConnBroken(c, ERR_CLIENT_CANCELLED);
    }
    c->drain = true;
    return clientErrSet(&c->err, ERR_CLIENT_CANCELLED,
                        "cancelled (interrupt sent)");
}

/* The deadline passed with nothing read: interrupt the server. */
static int connTimedOut(struct dqlite_conn *c)
{
    int rv;
    clientLog(c->driver, DQLITE_CLIENT_LOG_DEBUG,
              "call timed out: sending interrupt");
    rv = clientConnInterrupt(c);
    clientErrSet(&c->err, ERR_TIMEOUT, "timed out after %u ms (interrupted%s)",
                 c->timeout_ms, rv == 0 ? "" : ", connection closed");
    if (rv != 0) {
        return clientConnBroken(c, ERR_TIMEOUT);
    }
    return ERR_TIMEOUT;
}

/* Turns a transport failure into the connection's error. */
static int connFailed(struct dqlite_conn *c, int rv)
{
    if (rv == ERR_TIMEOUT && clientSockOpen(&c->sock)) {
        return connTimedOut(c);
    }
    if (rv == ERR_CLIENT_CANCELLED) {
        return clientConnCancelled(c);
    }
    clientErrSet(&c->err, rv, "connection failed: %s", errString(rv));
    return clientConnBroken(c, rv);
}

/* Waits for the answer, cancellable by the connection's handle. */
static int connRecv(struct dqlite_conn *c, int64_t deadline_ms)
{
    int rv;
    c->sock.cancel_fd = clientCancelFd(c->cancel);
    rv = clientSockRecv(&c->sock, deadline_ms);
    c->sock.cancel_fd = -1;
    return rv;
}

int clientConnCall(struct dqlite_conn *c, int64_t deadline_ms)
{
    int rv = clientSockFlush(&c->sock, deadline_ms);
    if (rv == 0) {
        rv = connRecv(c, deadline_ms);
    }
    return rv != 0 ? connFailed(c, rv) : 0;
}

int clientConnMore(struct dqlite_conn *c, int64_t deadline_ms)
{
    int rv = connRecv(c, deadline_ms);
    return rv != 0 ? connFailed(c, rv) : 0;
}

int clientConnExpect(struct dqlite_conn *c, uint8_t type)
{
    const struct proto_response *r = &c->sock.resp;
    int rv;
    if (r->type == type) {
        return 0;
    }
    if (r->type != PROTO_RESP_FAILURE) {
        clientErrSet(&c->err, ERR_CLIENT_PROTO,
                     "unexpected response type %u (wanted %u)",
                     (unsigned)r->type, (unsigned)type);
        return clientConnBroken(c, ERR_CLIENT_PROTO);
    }
    rv = clientErrServer(&c->err, r->failure.code, r->failure.message.data);
    if (rv == ERR_CLIENT_NOTLEADER ||
        (r->failure.code == CONN_CODE_NOTFOUND &&
         strstr(c->err.msg, "no database opened") != NULL)) {
        return clientConnBroken(c, rv);
    }
    return rv;
}

DQLITE_API void dqlite_conn_close(struct dqlite_conn *conn)
{
    if (conn == NULL) {
        return;
    }
    PRE(conn->rows == NULL && conn->n_stmts == 0);
    dqlite_conn_close(conn->reader);
    clientSockClose(&conn->sock);
    libFree(conn->reader_address);
    libFree(conn->name);
    libFree(conn);
}

DQLITE_API const char *dqlite_conn_errmsg(struct dqlite_conn *conn)
{
    return conn != NULL ? clientErrMsg(&conn->err) : "connection is NULL";
}

DQLITE_API uint64_t dqlite_conn_errcode(struct dqlite_conn *conn)
{
    return conn != NULL ? conn->err.server_code : 0;
}

DQLITE_API void dqlite_conn_set_timeout(struct dqlite_conn *conn,
                                        unsigned timeout_ms)
{
    if (conn != NULL) {
        conn->timeout_ms =
            timeout_ms != 0 ? timeout_ms : conn->driver->opts.call_timeout_ms;
    }
}

DQLITE_API void dqlite_conn_set_cancel(struct dqlite_conn *conn,
                                       struct dqlite_cancel *cancel)
{
    if (conn != NULL) {
        conn->cancel = cancel;
    }
}

DQLITE_API bool dqlite_conn_in_tx(struct dqlite_conn *conn)
{
    return conn != NULL && conn->tx != CLIENT_TX_NONE;
}

static struct dqlite_conn *connAlloc(struct dqlite_driver *d, const char *name)
{
    struct dqlite_conn *c = libCalloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->name = libStrdup(name != NULL ? name : "");
    if (c->name == NULL) {
        libFree(c);
        return NULL;
    }
    c->driver = d;
    c->timeout_ms = d->opts.call_timeout_ms;
    c->tx = CLIENT_TX_NONE;
    clientSockInit(&c->sock);
    clientErrClear(&c->err);
    return c;
}

/* The next voter or stand-by of the store, round-robin over the
 * driver's readers (owned copy), NULL. */
static char *readerPick(struct dqlite_driver *d)
{
    struct dqlite_server_info *servers;
    unsigned n;
    unsigned n_members = 0;
    char *address = NULL;
    if (dqlite_server_store_get(d->store, &servers, &n) != 0) {
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        n_members += servers[i].role != DQLITE_SPARE;
    }
    if (n_members > 0) {
        unsigned k = atomic_fetch_add(&d->next_reader, 1) % n_members;
        for (unsigned i = 0; i < n && address == NULL; i++) {
            if (servers[i].role != DQLITE_SPARE && k-- == 0) {
                address = libStrdup(servers[i].address);
            }
        }
    }
    clientInfosFree(servers, n);
    return address;
}

int clientReaderQuery(struct dqlite_conn *c, const char *sql,
                      const struct dqlite_value *params, unsigned n,
                      struct dqlite_rows **rows)
{
    int rv;
    PRE(c->reader_address == NULL && c->driver->spread_level[0] != '\0');
    if (c->reader == NULL) {
        c->reader = connAlloc(c->driver, c->name);
        if (c->reader == NULL) {
            return ERR_NOMEM;
        }
        c->reader->reader_address = readerPick(c->driver);
        rv = c->reader->reader_address != NULL ? connConnect(c->reader)
                                               : ERR_CLIENT_NOLEADER;
        if (rv != 0) {
            goto drop;
        }
    }
    if (c->reader->rows != NULL) {
        return ERR_MISUSE; /* its rows still open: the leader serves this */
    }
    c->reader->timeout_ms = c->timeout_ms;
    c->reader->cancel = c->cancel;
    rv = clientSqlRun(c->reader, NULL, sql, params, n, NULL, rows);
    if (rv == 0) {
        return 0;
    }
drop:
    clientLog(c->driver, DQLITE_CLIENT_LOG_DEBUG,
              "follower read on %s refused (%s): asking the leader",
              c->reader->reader_address != NULL ? c->reader->reader_address
                                                : "no member",
              c->reader->err.msg);
    dqlite_conn_close(c->reader);
    c->reader = NULL;
    return rv;
}

DQLITE_API int dqlite_driver_connect_cancel(struct dqlite_driver *driver,
                                            const char *name,
                                            struct dqlite_cancel *cancel,
                                            struct dqlite_conn **conn)
{
    struct dqlite_conn *c;
    if (driver == NULL || conn == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    c = connAlloc(driver, name);
    *conn = c;
    if (c == NULL) {
        return DQLITE_CLIENT_NOMEM;
    }
    c->cancel = cancel;
    if (clientCancelled(cancel)) {
        return clientErrPublic(clientErrSet(&c->err, ERR_CLIENT_CANCELLED,
                                            "cancelled before connecting"));
    }
    return clientErrPublic(connConnect(c));
}

DQLITE_API int dqlite_driver_connect(struct dqlite_driver *driver,
                                     const char *name,
                                     struct dqlite_conn **conn)
{
    return dqlite_driver_connect_cancel(driver, name, NULL, conn);
}
