/*
 * dqlite client: the C driver for a dqlite cluster.
 *
 * The concepts of go-dqlite's database/sql driver, one for one (docs/design.md
 * §3.3): a driver built from a server store and options; connections that
 * find the cluster's leader, register and open one database; exec, query,
 * prepared statements and transactions with a per-call timeout; rows
 * streamed batch by batch with typed accessors; errors carrying SQLite's
 * code and message; and helpers for the cluster's membership calls.
 *
 * Conventions:
 *   - Functions return DQLITE_CLIENT_OK (0) or a DQLITE_CLIENT_* code, and
 *     leave a message (and, for server failures, the server's code) on the
 *     handle they were called on: dqlite_conn_errmsg(), dqlite_conn_errcode().
 *   - Strings and values passed in are copied (or fully used) before the
 *     call returns, unless a function says otherwise.
 *   - Threading: a driver and a server store may be shared by any number of
 *     threads. A connection (with its statements and rows) and a cluster
 *     client are used by one thread at a time; different connections may be
 *     used by different threads at once.
 *   - Nothing here retains a pointer the caller passed, except the store
 *     given to dqlite_driver_create(), the handle given to
 *     dqlite_conn_set_cancel(), the SQLite handle given to
 *     dqlite_server_store_open_db() and the `arg` of callbacks.
 */
#ifndef DQLITE_CLIENT_H
#define DQLITE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef DQLITE_API
#define DQLITE_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- codes */

#define DQLITE_CLIENT_OK 0
/* The server answered the request with a failure: dqlite_conn_errcode()
 * gives SQLite's extended result code (or dqlite's own code) and
 * dqlite_conn_errmsg() its message. */
#define DQLITE_CLIENT_ERROR 1
#define DQLITE_CLIENT_MISUSE 2 /* wrong argument or call out of order */
#define DQLITE_CLIENT_NOMEM 3  /* out of memory */
/* The server is not, or no longer, the leader (server codes 10250, 10506
 * and their legacy values). Outside a transaction the next call reconnects
 * to the new leader; a write that failed with leadership lost (10506) may or
 * may not have been applied. */
#define DQLITE_CLIENT_NOTLEADER 4
/* No leader could be found through the store before the connection timeout
 * expired (or the retry limit was reached). */
#define DQLITE_CLIENT_NOLEADER 5
/* The call's timeout expired; for SQL an INTERRUPT was sent. */
#define DQLITE_CLIENT_TIMEOUT 6
/* The network connection failed (dial refused, reset, closed). */
#define DQLITE_CLIENT_IOERR 7
/* The server sent bytes that are not a valid answer to the request. */
#define DQLITE_CLIENT_PROTO 8
/* The transaction in progress was cut by a leader change or a lost
 * connection and has been rolled back by the cluster. Every further call in
 * it fails with this code; call dqlite_conn_rollback() (which then succeeds)
 * and retry the whole transaction. */
#define DQLITE_CLIENT_TXCUT 9
/* The server store failed (e.g. its SQLite file cannot be written). */
#define DQLITE_CLIENT_STORE 10
/* The call was cancelled through the connection's dqlite_cancel handle
 * (dqlite_conn_set_cancel()); for SQL in flight an INTERRUPT was sent. */
#define DQLITE_CLIENT_CANCELLED 11
/* The TLS options cannot be used (dqlite_driver_create(): a certificate, key
 * or CA file unreadable or invalid; the reason goes to the log function). */
#define DQLITE_CLIENT_TLS 12
/* dqlite_rows_next(): a row is available / the result set is finished. */
#define DQLITE_CLIENT_ROW 100
#define DQLITE_CLIENT_DONE 101

/* Server error codes worth naming (dqlite_conn_errcode()). */
#define DQLITE_CLIENT_SQLITE_BUSY 5
#define DQLITE_CLIENT_SQLITE_BUSY_RECOVERY (5 | (1 << 8))
#define DQLITE_CLIENT_SQLITE_BUSY_SNAPSHOT (5 | (2 << 8))
#define DQLITE_CLIENT_SQLITE_NOTFOUND 12
#define DQLITE_CLIENT_CODE_NOT_LEADER (10 | (40 << 8))      /* 10250 */
#define DQLITE_CLIENT_CODE_LEADERSHIP_LOST (10 | (41 << 8)) /* 10506 */

/* Roles of a node (the same values as dqlite.h). */
#ifndef DQLITE_VOTER
#define DQLITE_VOTER 0
#define DQLITE_STANDBY 1
#define DQLITE_SPARE 2
#endif

/* Value types: parameters (all but UNIXTIME) and row values. */
#define DQLITE_CLIENT_INTEGER 1
#define DQLITE_CLIENT_FLOAT 2
#define DQLITE_CLIENT_TEXT 3
#define DQLITE_CLIENT_BLOB 4
#define DQLITE_CLIENT_NULL 5
#define DQLITE_CLIENT_UNIXTIME 9 /* rows only: seconds since the epoch */
#define DQLITE_CLIENT_ISO8601 10 /* a date/time as text */
#define DQLITE_CLIENT_BOOLEAN 11

/* Log levels. */
#define DQLITE_CLIENT_LOG_DEBUG 0
#define DQLITE_CLIENT_LOG_INFO 1
#define DQLITE_CLIENT_LOG_WARN 2
#define DQLITE_CLIENT_LOG_ERROR 3

/* Option defaults (go-dqlite's driver). */
#define DQLITE_CLIENT_DEFAULT_BACKOFF_FACTOR_MS 50
#define DQLITE_CLIENT_DEFAULT_BACKOFF_CAP_MS 1000
#define DQLITE_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DQLITE_CLIENT_DEFAULT_CALL_TIMEOUT_MS 5000
#define DQLITE_CLIENT_DEFAULT_DIAL_TIMEOUT_MS 5000
#define DQLITE_CLIENT_DEFAULT_ATTEMPT_TIMEOUT_MS 15000

/* ---------------------------------------------------------------- values */

/* One parameter or row value; `type` selects the member. INTEGER and
 * UNIXTIME use `integer`, FLOAT `real`, TEXT and ISO8601 `text`, BLOB `blob`,
 * BOOLEAN `boolean`; NULL none. Texts need not be NUL-terminated (`len`
 * bytes, no NUL inside). A value filled by the library points into memory
 * it owns, valid as the function filling it says. */
struct dqlite_value {
    int type;
    union {
        int64_t integer;
        double real;
        bool boolean;
        struct {
            const char *data;
            size_t len;
        } text;
        struct {
            const void *data;
            size_t len;
        } blob;
    };
};

/* Result of a statement that does not return rows. */
struct dqlite_result {
    int64_t last_insert_id;
    int64_t rows_affected;
};

/* A node of the cluster: its id, address ("host:port", "[v6]:port" or
 * "@abstract-unix-name") and role. In arrays returned by the library the
 * addresses are owned by the array (see dqlite_server_info_free()). */
struct dqlite_server_info {
    uint64_t id;
    char *address;
    int role;
};

/* Frees an array of `n` infos returned by the library, addresses included.
 * NULL is accepted. Any thread. */
DQLITE_API void dqlite_server_info_free(struct dqlite_server_info *infos,
                                        unsigned n);

/* ---------------------------------------------------------------- stores */

/* Where the driver finds the cluster's nodes. Thread-safe: the driver reads
 * it on every connect and rewrites it from the leader's CLUSTER reply. */
struct dqlite_server_store;

/* An empty store kept in memory. Any thread (the store has its own lock). */
DQLITE_API int dqlite_server_store_create(struct dqlite_server_store **store);

/* A store persisted in the SQLite database `path`, as go-dqlite's
 * DefaultNodeStore: table main.servers (address TEXT, UNIQUE(address)),
 * created if missing. Every server read from it has id 1 and role voter. Any
 * thread (the store has its own lock). */
DQLITE_API int dqlite_server_store_open(const char *path,
                                        struct dqlite_server_store **store);

/* A SQLite handle (sqlite3.h need not be included to use this header). */
struct sqlite3;

/* A store in a table of the caller's choosing (go-dqlite's NewNodeStore(db,
 * schema, table, column)): `schema`.`table` with one TEXT column `column`
 * (UNIQUE), created if missing, in the caller's open SQLite handle `db`,
 * which is borrowed: it must outlive the store, and is never closed by it.
 * Names are quoted as identifiers (any name of 1 to 128 bytes works, e.g.
 * "main", "temp" or an attached database's name). Only addresses are
 * kept: every server read back has id 1 and role voter. Writes run in a
 * savepoint, so they nest in a transaction the caller has open on `db`.
 * Any thread (the store has its own lock; other users of `db` must respect
 * SQLite's threading mode of the handle). */
DQLITE_API int dqlite_server_store_open_db(struct sqlite3 *db,
                                           const char *schema,
                                           const char *table,
                                           const char *column,
                                           struct dqlite_server_store **store);

/* A store implemented by the caller (go-dqlite's NodeStore interface).
 * The library calls these with the store's lock held, so an implementation
 * is never called twice at once, from whichever thread uses the store (the
 * driver's connecting threads among them). Each returns 0, or non-zero on
 * failure (the call then fails with DQLITE_CLIENT_STORE). */
struct dqlite_server_store_methods {
    /* The current list: *servers (an array of *n entries, every address a
     * non-empty string) stays the implementation's; the library copies it
     * and then calls `release` (when set) with the same array. */
    int (*get)(void *arg, struct dqlite_server_info **servers, unsigned *n);
    /* Replaces the content with `n` servers, valid during the call only. */
    int (*set)(void *arg, const struct dqlite_server_info *servers, unsigned n);
    /* Optional: frees what `get` returned. */
    void (*release)(void *arg, struct dqlite_server_info *servers, unsigned n);
    /* Optional: called once by dqlite_server_store_close(). */
    void (*close)(void *arg);
};

/* Builds a store on the caller's methods (copied; `get` and `set` are
 * required) and `arg` (passed to each). A list that `get` returns is checked
 * as dqlite_server_store_set() checks its argument (an invalid one fails
 * with DQLITE_CLIENT_STORE). Every driver accepts such a store. Any thread. */
DQLITE_API int
dqlite_server_store_custom(const struct dqlite_server_store_methods *methods,
                           void *arg, struct dqlite_server_store **store);

/* Frees the store. No driver may be using it any more. NULL is accepted. Any
 * thread, once no driver or thread uses the store. */
DQLITE_API void dqlite_server_store_close(struct dqlite_server_store *store);

/* Replaces the content with `n` servers (copied). Any thread (the store has its
 * own lock). */
DQLITE_API int dqlite_server_store_set(struct dqlite_server_store *store,
                                       const struct dqlite_server_info *servers,
                                       unsigned n);

/* Adds one server (voter, id 1 unless given) if its address is not there. Any
 * thread (the store has its own lock). */
DQLITE_API int dqlite_server_store_add(struct dqlite_server_store *store,
                                       uint64_t id, const char *address,
                                       int role);

/* A copy of the content: the caller owns *servers (free it with
 * dqlite_server_info_free(*servers, *n)). Any thread (the store has its own
 * lock). */
DQLITE_API int dqlite_server_store_get(struct dqlite_server_store *store,
                                       struct dqlite_server_info **servers,
                                       unsigned *n);

/* ---------------------------------------------------------------- driver */

/* Opens a connected stream socket to `address` within `timeout_ms` and
 * stores its descriptor in *fd (the library then owns it: it switches it to
 * non-blocking mode and closes it). Returns 0, or non-zero on failure. Called
 * from any thread that connects. */
typedef int (*dqlite_client_dial_func)(void *arg, const char *address,
                                       int timeout_ms, int *fd);

/* Receives one log message (without a trailing newline; valid during the
 * call only). Called from any thread using the driver. */
typedef void (*dqlite_client_log_func)(void *arg, int level,
                                       const char *message);

struct dqlite_driver_options {
    unsigned backoff_factor_ms;   /* 0 = default (50): n-th retry sleeps
                                     factor * 2^n ms ... */
    unsigned backoff_cap_ms;      /* ... capped at this (0 = default, 1000) */
    unsigned connect_timeout_ms;  /* whole connect, discovery included
                                     (0 = default, 5000) */
    unsigned call_timeout_ms;     /* default per-call timeout (0 = 5000) */
    unsigned dial_timeout_ms;     /* one dial (0 = 5000) */
    unsigned attempt_timeout_ms;  /* one server probed (0 = 15000) */
    unsigned retry_limit;         /* discovery rounds, 0 = until timeout */
    dqlite_client_dial_func dial; /* NULL = TCP, or Unix for "@name" */
    void *dial_arg;
    dqlite_client_log_func log; /* NULL = no logging */
    void *log_arg;
    int log_level;         /* lowest level passed to `log` (default DEBUG) */
    bool no_store_refresh; /* don't rewrite the store from CLUSTER */

    /* TLS (an extension: go-dqlite's client.DialFuncWithTLS). When `tls`
     * is set every connection the driver makes (discovery, SQL, cluster
     * clients, the store refresh) runs a TLS handshake after dialling and
     * before the first byte of the protocol; a handshake that fails or
     * does not finish by the call's deadline fails like a dial. The files
     * are read by dqlite_driver_create() (the strings are not kept). */
    bool tls;
    const char *tls_cert_file;   /* PEM certificate (chain) shown to the
                                    server, NULL = none */
    const char *tls_key_file;    /* its PEM private key */
    const char *tls_ca_file;     /* PEM certificates the server's must chain
                                    to; NULL = tls_cert_file (go-dqlite's one
                                    cluster certificate is its own CA), or
                                    the system's CAs without a certificate */
    const char *tls_server_name; /* name the server's certificate must hold
                                    (and the SNI sent) under VERIFY_HOST,
                                    NULL = the host part of the address */
    int tls_verify;              /* DQLITE_CLIENT_TLS_VERIFY_* (0 = HOST) */
    int tls_min_version; /* DQLITE_CLIENT_TLS_1_2 (0) or DQLITE_CLIENT_TLS_1_3
                          */

    /* Follower reads (docs/client.md "Reading on one node"). NULL (the
     * default): connections find the leader. Otherwise a read level,
     * "linearizable", "any" or "bounded:N" (N in ms): every connection
     * goes to the store's first server itself, leader or not, and sends
     * PRAGMA dqlite_consistency = 'LEVEL' after OPEN, so its reads are
     * answered there; its writes fail there with "not leader". Copied by
     * dqlite_driver_create(); a malformed level fails it with MISUSE. */
    const char *direct_read_level;
    /* Spreading reads (docs/client.md "Reads on followers"). NULL (the
     * default): every call goes to the leader. Otherwise a read level as
     * above: a dqlite_conn_query() of a SELECT or WITH outside a
     * transaction goes to a second connection the dqlite_conn opens on
     * one of the store's voters or stand-bys (round-robin over the
     * driver's connections), which sends the pragma once; a node that
     * refuses (or fails) is dropped and the query runs on the leader.
     * Everything else goes to the leader as before. */
    const char *follower_read_level;
};

/* How the server's certificate is checked. Every policy requires a chain to
 * one of the CA certificates (tls_ca_file); they differ on the name. */
#define DQLITE_CLIENT_TLS_VERIFY_HOST   \
    0 /* + tls_server_name, or the host \
         dialled (a DNS name or an IP) */
#define DQLITE_CLIENT_TLS_VERIFY_CERT_NAME                                                                  \
    1                                    /* + the first DNS name of our                                     \
own certificate, as go-dqlite's app.SimpleDialTLSConfig (one certificate \
for the whole cluster) */
#define DQLITE_CLIENT_TLS_VERIFY_CHAIN 2 /* the chain only, any name */
/* Lowest TLS version offered. */
#define DQLITE_CLIENT_TLS_1_2 12
#define DQLITE_CLIENT_TLS_1_3 13

/* Fills `options` with the defaults. Any thread. */
DQLITE_API void
dqlite_driver_options_init(struct dqlite_driver_options *options);

struct dqlite_driver;

/* Builds a driver. `store` is borrowed: it must outlive the driver.
 * `options` may be NULL (defaults); it is copied. With `tls` set, the
 * certificate, key and CA files are loaded now: a file that cannot be read
 * or parsed, a key that does not match the certificate, or (VERIFY_CERT_NAME)
 * a certificate without a DNS name fails with DQLITE_CLIENT_TLS, the reason
 * passed to the options' `log` at DQLITE_CLIENT_LOG_ERROR. Any thread. */
DQLITE_API int dqlite_driver_create(struct dqlite_server_store *store,
                                    const struct dqlite_driver_options *options,
                                    struct dqlite_driver **driver);

/* Frees the driver. Its connections and clients must be closed first. NULL
 * is accepted. Any thread, once no other thread uses the driver. */
DQLITE_API void dqlite_driver_destroy(struct dqlite_driver *driver);

/* ---------------------------------------------------------------- conns */

struct dqlite_conn;
struct dqlite_stmt;
struct dqlite_rows;

/* Connects to the leader (or, with `direct_read_level`, to the store's
 * first server) and opens database `name` (1 to 255 bytes of
 * [A-Za-z0-9._-], not ending in -wal, -shm or -journal: no path, URI or
 * ":memory:"; docs/sql-policy.md): finds the leader through the store (LEADER
 * requests, following one redirect, retrying all servers with exponential
 * backoff until the connect timeout), handshakes (protocol 1), registers
 * (CLIENT), refreshes the store (CLUSTER), then sends OPEN.
 *
 * *conn is set even on failure (except NOMEM, when it is NULL), so that
 * dqlite_conn_errmsg() can explain; the caller always closes it. A failed
 * connection is retried by the next call on it. Any thread: a driver is shared.
 */
DQLITE_API int dqlite_driver_connect(struct dqlite_driver *driver,
                                     const char *name,
                                     struct dqlite_conn **conn);

/* dqlite_driver_connect() with a cancellation handle (go-dqlite's
 * Connector.Connect(ctx)): the search for the leader ends with
 * DQLITE_CLIENT_CANCELLED when `cancel` is fired (looked at before each
 * server probed and during the backoff sleeps; a fired handle fails at
 * once), and the connection keeps the handle as if given to
 * dqlite_conn_set_cancel(). `cancel` may be NULL. Any thread. */
struct dqlite_cancel;
DQLITE_API int dqlite_driver_connect_cancel(struct dqlite_driver *driver,
                                            const char *name,
                                            struct dqlite_cancel *cancel,
                                            struct dqlite_conn **conn);

/* Closes the connection: finalizes nothing server side (the server frees
 * the connection's statements and rolls back its transaction). Its
 * statements and rows must be closed first. NULL is accepted. Thread: the one
 * using the connection. */
DQLITE_API void dqlite_conn_close(struct dqlite_conn *conn);

/* The message of the last failed call on the connection (or on one of its
 * statements or rows), "not an error" after success. Valid until the next
 * call on the connection. Thread: the one using the connection. */
DQLITE_API const char *dqlite_conn_errmsg(struct dqlite_conn *conn);

/* The server's error code of the last DQLITE_CLIENT_ERROR, NOTLEADER or
 * TXCUT failure (SQLite's extended code, e.g. 2067 for a UNIQUE constraint,
 * 10250 for not leader), 0 otherwise. Thread: the one using the connection. */
DQLITE_API uint64_t dqlite_conn_errcode(struct dqlite_conn *conn);

/* Sets the timeout of every later call on this connection (0 = the
 * driver's default). When it expires while the server is running SQL the
 * connection sends INTERRUPT, waits up to the same timeout again for the
 * server to stop, and the call fails with DQLITE_CLIENT_TIMEOUT. Thread: the
 * one using the connection. */
DQLITE_API void dqlite_conn_set_timeout(struct dqlite_conn *conn,
                                        unsigned timeout_ms);

/* ------------------------------------------------------- cancellation */

/* A cancellation handle (go-dqlite's context cancellation: WithCancel,
 * WithContext): another thread fires it to end the calls of the connections
 * it is set on. Once fired it stays fired, like a cancelled context, until
 * dqlite_cancel_reset(): every call on such a connection fails at once with
 * DQLITE_CLIENT_CANCELLED. */
struct dqlite_cancel;

/* Any thread. */
DQLITE_API int dqlite_cancel_create(struct dqlite_cancel **cancel);
/* No connection may use it any more. NULL is accepted. */
DQLITE_API void dqlite_cancel_destroy(struct dqlite_cancel *cancel);
/* Fires the handle. Any thread, and async-signal-safe (an atomic flag and
 * one write(2)); firing a fired handle does nothing. NULL is accepted. */
DQLITE_API void dqlite_cancel_fire(struct dqlite_cancel *cancel);
/* Whether the handle is fired. Any thread. */
DQLITE_API bool dqlite_cancel_fired(struct dqlite_cancel *cancel);
/* Makes the handle usable again (not fired). Thread: call it when no call
 * that should still see the cancellation is running. */
DQLITE_API void dqlite_cancel_reset(struct dqlite_cancel *cancel);

/* Sets the cancellation handle of the connection's later calls (NULL
 * removes it); the handle is borrowed and must outlive its use. When it is
 * fired while a call waits for the server's answer (exec, query, prepare,
 * a further batch of rows, commit...), the call returns at once with
 * DQLITE_CLIENT_CANCELLED: the connection sends INTERRUPT, so the server
 * stops the statement, and the answers still owed (up to the EMPTY that
 * acknowledges the INTERRUPT) are read and discarded by the next call on the
 * connection, within that call's timeout (if they do not come, the
 * connection is closed and, in a transaction, the transaction is cut). As
 * with a timeout, a cancelled write may or may not have been applied. A
 * call started while the handle is fired fails at once without sending
 * anything; while connecting, the handle is looked at before each server
 * probed and during the backoff sleeps. Thread: the one using the
 * connection (dqlite_cancel_fire() from any). */
DQLITE_API void dqlite_conn_set_cancel(struct dqlite_conn *conn,
                                       struct dqlite_cancel *cancel);

/* Whether a transaction begun with dqlite_conn_begin() is open. Thread: the one
 * using the connection. */
DQLITE_API bool dqlite_conn_in_tx(struct dqlite_conn *conn);

/* Runs `sql` (one or more statements) with `n` parameters bound by
 * position (a named placeholder gets the value at its index). `result` may
 * be NULL. Up to 255 parameters travel in the protocol's 1-byte-count tuple
 * (schema 0), more (up to 250000; the server's SQLite allows 32766 by
 * default) in its 4-byte-count tuple (schema 1), which libdqlite 1.11.1
 * does not know (it ignores the schema byte and misreads the tuple): send
 * more than 255 only to our server or a newer reference. A first keyword BEGIN,
 * COMMIT/END or ROLLBACK opens or ends a transaction as dqlite_conn_begin() and
 * friends do. Thread: the one using the connection. */
DQLITE_API int dqlite_conn_exec(struct dqlite_conn *conn, const char *sql,
                                const struct dqlite_value *params, unsigned n,
                                struct dqlite_result *result);

/* Runs the query `sql`; on success the caller owns *rows and must close it
 * before the next call on the connection. Thread: the one using the connection.
 */
DQLITE_API int dqlite_conn_query(struct dqlite_conn *conn, const char *sql,
                                 const struct dqlite_value *params, unsigned n,
                                 struct dqlite_rows **rows);

/* The names of the cluster's databases, as the leader's replicated state
 * holds them (sorted bytewise; `PRAGMA dqlite_databases`, docs/protocol.md).
 * The caller owns *names: dqlite_databases_free(*names, *n).
 * DQLITE_CLIENT_PROTO from a server without that extension. Thread: the one
 * using the connection. */
DQLITE_API int dqlite_conn_databases(struct dqlite_conn *conn, char ***names,
                                     unsigned *n);
/* Frees what dqlite_conn_databases() returned. NULL is accepted. Any
 * thread. */
DQLITE_API void dqlite_databases_free(char **names, unsigned n);

/* Prepares one statement; the caller owns *stmt (dqlite_stmt_close()). A
 * statement survives a reconnection: it is prepared again on the new leader
 * when next used. Thread: the one using the connection. */
DQLITE_API int dqlite_conn_prepare(struct dqlite_conn *conn, const char *sql,
                                   struct dqlite_stmt **stmt);

/* Transaction options: only the default isolation exists; read-only
 * transactions are refused (DQLITE_CLIENT_MISUSE), as the protocol cannot
 * enforce them. */
#define DQLITE_CLIENT_ISOLATION_DEFAULT 0
struct dqlite_tx_options {
    int isolation;
    bool read_only;
};

/* BEGIN (opts may be NULL). While the transaction is open the connection
 * never reconnects: if the leader changes or the connection drops, calls
 * fail with DQLITE_CLIENT_TXCUT until dqlite_conn_rollback(). Thread: the one
 * using the connection. */
DQLITE_API int dqlite_conn_begin(struct dqlite_conn *conn,
                                 const struct dqlite_tx_options *opts);
/* COMMIT. The transaction is over whatever the outcome (a COMMIT the server
 * refused is followed by a ROLLBACK); DQLITE_CLIENT_TXCUT if it had been cut.
 * Thread: the one using the connection. */
DQLITE_API int dqlite_conn_commit(struct dqlite_conn *conn);
/* ROLLBACK. Succeeds on a cut transaction (the cluster rolled it back
 * already). Thread: the one using the connection. */
DQLITE_API int dqlite_conn_rollback(struct dqlite_conn *conn);

/* ---------------------------------------------------------------- stmts */

/* Number of parameters the statement takes (SQLite's largest index). Thread:
 * the one using the connection. */
DQLITE_API unsigned dqlite_stmt_num_input(struct dqlite_stmt *stmt);

/* Executes the statement with `n` parameters (more than 255 as for
 * dqlite_conn_exec()) bound by position; `result` may be NULL. Thread: the one
 * using the connection. */
DQLITE_API int dqlite_stmt_exec(struct dqlite_stmt *stmt,
                                const struct dqlite_value *params, unsigned n,
                                struct dqlite_result *result);

/* Runs the statement as a query; on success the caller owns *rows and must
 * close it before the next call on the connection. Thread: the one using the
 * connection. */
DQLITE_API int dqlite_stmt_query(struct dqlite_stmt *stmt,
                                 const struct dqlite_value *params, unsigned n,
                                 struct dqlite_rows **rows);

/* Finalizes the statement on the server (if the connection is still the
 * one it was prepared on) and frees it. NULL is accepted. Thread: the one using
 * the connection. */
DQLITE_API int dqlite_stmt_close(struct dqlite_stmt *stmt);

/* ---------------------------------------------------------------- rows */

/* Number of columns (known from the first batch). Thread: the one using the
 * connection. */
DQLITE_API unsigned dqlite_rows_column_count(struct dqlite_rows *rows);

/* Column name, owned by the rows (valid until dqlite_rows_close()). Thread: the
 * one using the connection. */
DQLITE_API const char *dqlite_rows_column_name(struct dqlite_rows *rows,
                                               unsigned i);

/* Advances to the next row: DQLITE_CLIENT_ROW, DQLITE_CLIENT_DONE, or an
 * error. Fetches the next batch from the server only when the current one
 * is exhausted. Thread: the one using the connection. */
DQLITE_API int dqlite_rows_next(struct dqlite_rows *rows);

/* The database type name of a column as go-dqlite derives it from the type
 * codes of a row: "INTEGER", "FLOAT", "TEXT", "BLOB", "NULL", "TIME"
 * (UNIXTIME, ISO8601) or "BOOL". Taken from the current row, or before the
 * first dqlite_rows_next() from the next row, then kept for later calls
 * that have no row to look at. "" when no row was ever seen. Thread: the one
 * using the connection. */
DQLITE_API const char *dqlite_rows_column_type_name(struct dqlite_rows *rows,
                                                    unsigned i);

/* The current row's value type for column i (DQLITE_CLIENT_INTEGER...). Thread:
 * the one using the connection. */
DQLITE_API int dqlite_rows_column_type(struct dqlite_rows *rows, unsigned i);

/* The current row's value; text and blob point into the rows' buffer,
 * valid until the next dqlite_rows_next() or close. Thread: the one using the
 * connection. */
DQLITE_API int dqlite_rows_value(struct dqlite_rows *rows, unsigned i,
                                 struct dqlite_value *value);

/* Typed accessors of the current row, converting like SQLite does between
 * numbers; NULL values read as 0 / NULL. Text and blob pointers are valid
 * until the next dqlite_rows_next() or close. Thread: the one using the
 * connection. */
DQLITE_API bool dqlite_rows_is_null(struct dqlite_rows *rows, unsigned i);
/* INTEGER, UNIXTIME, BOOLEAN (0/1), FLOAT (truncated), TEXT (parsed).
 * Thread: the one using the connection. */
DQLITE_API int64_t dqlite_rows_int64(struct dqlite_rows *rows, unsigned i);
/* FLOAT, the integer types converted, TEXT (parsed). Thread: the one using
 * the connection. */
DQLITE_API double dqlite_rows_double(struct dqlite_rows *rows, unsigned i);
/* Whether the value is non-zero. Thread: the one using the connection. */
DQLITE_API bool dqlite_rows_bool(struct dqlite_rows *rows, unsigned i);
/* NUL-terminated; NULL unless the value is TEXT or ISO8601. Thread: the one
 * using the connection. */
DQLITE_API const char *dqlite_rows_text(struct dqlite_rows *rows, unsigned i);
/* NULL unless the value is BLOB; *len receives its size. Thread: the one using
 * the connection. */
DQLITE_API const void *dqlite_rows_blob(struct dqlite_rows *rows, unsigned i,
                                        size_t *len);
/* A time value (UNIXTIME, or ISO8601 parsed with go-dqlite's layouts) as
 * seconds since the epoch, nanoseconds and the UTC offset it carried.
 * DQLITE_CLIENT_MISUSE for another type or an unparsable text. Thread: the one
 * using the connection. */
DQLITE_API int dqlite_rows_time(struct dqlite_rows *rows, unsigned i,
                                int64_t *unix_sec, int32_t *nsec,
                                int32_t *utc_offset_sec);

/* Closes the rows. If the server still has batches to send, sends
 * INTERRUPT and discards them, so the connection can be used again. NULL is
 * accepted. Thread: the one using the connection. */
DQLITE_API int dqlite_rows_close(struct dqlite_rows *rows);

/* ------------------------------------------------------- cluster client */

/* A connection to one node for the cluster's membership and inspection
 * calls (go-dqlite's client.Client). One thread at a time. */
struct dqlite_client;

/* Connects to the node at `address` (handshake only), with the driver's
 * dial function and timeouts. *client is set even on failure, as for
 * dqlite_driver_connect(). Any thread; the client is then used by one thread at
 * a time. */
DQLITE_API int dqlite_client_connect(struct dqlite_driver *driver,
                                     const char *address,
                                     struct dqlite_client **client);

/* Connects to the leader found through the driver's store (registered). Any
 * thread; the client is then used by one thread at a time. */
DQLITE_API int dqlite_client_connect_leader(struct dqlite_driver *driver,
                                            struct dqlite_client **client);

/* Thread: the one using the client. */
DQLITE_API void dqlite_client_close(struct dqlite_client *client);
/* Thread: the one using the client. */
DQLITE_API const char *dqlite_client_errmsg(struct dqlite_client *client);
/* Thread: the one using the client. */
DQLITE_API uint64_t dqlite_client_errcode(struct dqlite_client *client);

/* The leader as this node knows it: its id and address, id 0 and "" when
 * unknown. The caller owns *address (free it with dqlite_client_free()).
 * Thread: the one using the client. */
DQLITE_API int dqlite_client_leader(struct dqlite_client *client, uint64_t *id,
                                    char **address);

/* Frees a string the library returned (an address). NULL is accepted. Any
 * thread. */
DQLITE_API void dqlite_client_free(void *p);

/* The cluster configuration as this node knows it (with roles). The
 * caller owns *servers: dqlite_server_info_free(*servers, *n). Thread: the one
 * using the client. */
DQLITE_API int dqlite_client_cluster(struct dqlite_client *client,
                                     struct dqlite_server_info **servers,
                                     unsigned *n);

/* One file of a dump. */
struct dqlite_file {
    char *name;
    void *data;
    size_t size;
};

/* The database file and its WAL. The caller owns *files:
 * dqlite_file_free(*files, *n). Thread: the one using the client. */
DQLITE_API int dqlite_client_dump(struct dqlite_client *client,
                                  const char *name, struct dqlite_file **files,
                                  unsigned *n);
/* Any thread. */
DQLITE_API void dqlite_file_free(struct dqlite_file *files, unsigned n);

/* Dumps database `name` (as dqlite_client_dump()) and writes its files
 * into the existing directory `dir`: `dir`/`name` and `dir`/`name`-wal,
 * mode 0600, replacing files of those names. Each file is written to a
 * temporary name in `dir`, flushed to disk and renamed, so a reader never
 * sees half a file. The WAL is written as the node holds it (not merged
 * into the main file); SQLite opening the pair sees the database as it
 * was at one point in time. On failure (DQLITE_CLIENT_IOERR for a file
 * that cannot be written) dqlite_client_errmsg() names the file. Go-dqlite's
 * seed Server.Dump(name, dir). Thread: the one using the client. */
DQLITE_API int dqlite_client_dump_to_dir(struct dqlite_client *client,
                                         const char *name, const char *dir);

/* Loads a SQLite database file into the cluster as database `name`, as one
 * replicated operation (docs/restore.md): the file is streamed to the
 * leader (the client must be connected to it: dqlite_client_connect_leader)
 * in chunks, each replicated before the next is sent; once all of it is,
 * every node installs it at the same log index, or none does. Refused,
 * with nothing installed: a file that is not SQLite (nothing replicated at
 * all), an existing database without DQLITE_LOAD_FORCE (which replaces
 * it), a file that fails PRAGMA integrity_check, a leader change during
 * the load. The file must be a whole database: checkpoint a WAL-mode file
 * first (a -wal beside it is not read). `progress` (optional) is called
 * after each chunk the cluster committed with the bytes done and the total;
 * returning non-zero stops the load (DQLITE_CLIENT_CANCELLED, nothing
 * installed). Memory: one chunk (8 MiB). Thread: the one using the client. */
#define DQLITE_LOAD_FORCE 1
typedef int (*dqlite_load_progress_fn)(void *arg, uint64_t done,
                                       uint64_t total);
DQLITE_API int dqlite_client_load(struct dqlite_client *client,
                                  const char *name, const char *path, int flags,
                                  dqlite_load_progress_fn progress,
                                  void *progress_arg);

/* As dqlite_client_load(), from a reader of `size` bytes (an HTTP body, for
 * rqlite's /db/load): `read` fills exactly `len` bytes of `buf` and returns
 * 0, or non-zero to fail the load (DQLITE_CLIENT_IOERR). */
typedef int (*dqlite_load_read_fn)(void *arg, void *buf, size_t len);
DQLITE_API int dqlite_client_load_stream(struct dqlite_client *client,
                                         const char *name, uint64_t size,
                                         dqlite_load_read_fn read,
                                         void *read_arg, int flags,
                                         dqlite_load_progress_fn progress,
                                         void *progress_arg);

/* Backs database `name` up into `path` as a standalone SQLite file: the
 * database at one commit (writers go on meanwhile), copied page by page.
 * The node streams the pages in chunks (BACKUP, docs/protocol.md, "Extensions")
 * that are written as they arrive, so memory stays at one chunk (about 1 MiB)
 * on both sides; a node without BACKUP is asked for DUMP instead (whole in
 * memory). The copy is switched to a rollback journal (no -wal file needed
 * beside it) and checked with PRAGMA integrity_check before it is renamed
 * to `path` and flushed: `path` is never left half written. Asked of the
 * leader, the copy holds every write acknowledged before the call. On
 * failure dqlite_client_errmsg() says why (DQLITE_CLIENT_IOERR: `path`
 * cannot be written, naming it and the system's reason); a failure in the
 * middle of the stream closes the client's connection. Thread: the one
 * using the client. */
DQLITE_API int dqlite_client_backup(struct dqlite_client *client,
                                    const char *name, const char *path);

/* Adds a node (as spare), then assigns `role` unless it is spare. Leader
 * only. Thread: the one using the client. */
DQLITE_API int dqlite_client_add(struct dqlite_client *client, uint64_t id,
                                 const char *address, int role);
/* Thread: the one using the client. */
DQLITE_API int dqlite_client_assign(struct dqlite_client *client, uint64_t id,
                                    int role);
/* Thread: the one using the client. */
DQLITE_API int dqlite_client_remove(struct dqlite_client *client, uint64_t id);
/* Hands leadership to node `id` (0 = the leader picks). Thread: the one using
 * the client. */
DQLITE_API int dqlite_client_transfer(struct dqlite_client *client,
                                      uint64_t id);
/* This node's failure domain and weight. Thread: the one using the client. */
DQLITE_API int dqlite_client_describe(struct dqlite_client *client,
                                      uint64_t *failure_domain,
                                      uint64_t *weight);
/* Thread: the one using the client. */
DQLITE_API int dqlite_client_weight(struct dqlite_client *client,
                                    uint64_t weight);

/* Joins node (id, address) to the cluster found through the driver's store
 * with `role` (ADD, then ASSIGN unless spare, on the leader). These two
 * keep no handle: their failure messages go to the driver's log function;
 * for errmsg/errcode use dqlite_client_connect_leader() and the calls
 * above. Thread-safe like every driver function. Any thread: a driver is
 * shared. */
DQLITE_API int dqlite_driver_join(struct dqlite_driver *driver, uint64_t id,
                                  const char *address, int role);

/* Removes node `id` from the cluster found through the driver's store. Any
 * thread: a driver is shared. */
DQLITE_API int dqlite_driver_leave(struct dqlite_driver *driver, uint64_t id);

#ifdef __cplusplus
}
#endif

#endif /* DQLITE_CLIENT_H */
