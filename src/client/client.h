/*
 * Internal to src/client: the handles behind dqlite_client.h and the
 * functions the files of the module share.
 *
 * Layering inside the module:
 *   time.c, dial.c   clock, deadlines, dialling a socket
 *   cancel.c         cancellation handles (an eventfd the waits poll)
 *   sock.c           one connection to one node: framed messages in and
 *                    out with deadlines, INTERRUPT and draining
 *   codec.c          the adapter to src/proto: requests and responses
 *   discover.c       leader discovery with backoff, handshake, CLIENT
 *   store*.c         server stores
 *   driver.c, conn.c, stmt.c, rows.c, cluster.c   the public handles
 *
 * Errors inside the module are ERR_* codes (lib/errlist.h, 600-699 for the
 * client); each public handle keeps a `struct client_err` with the message
 * and the server's code, and the public functions translate with
 * clientErrPublic().
 */
#ifndef CLIENT_CLIENT_H
#define CLIENT_CLIENT_H

#include <dqlite_client.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/reader.h"
#include "proto/request.h"
#include "proto/response.h"
#include "proto/rows.h"

/* Bounds of what the client accepts or sends. */
#define CLIENT_ERRMSG_SIZE 512
#define CLIENT_PARAMS_MAX PROTO_PARAMS_MAX /* schema 1 above 255 */
#define CLIENT_ADDRESS_MAX 1024            /* one server address */
#define CLIENT_STORE_MAX 4096              /* servers in a store */
#define CLIENT_BACKOFF_SHIFT_MAX 30        /* 2^n overflows past this */
#define CLIENT_MESSAGE_SMALL_MAX 4096      /* bodies of fixed-size answers */

/* ------------------------------------------------------------ errors */

struct client_err {
    int rv;               /* internal ERR_* code of the last failure, 0 */
    uint64_t server_code; /* FAILURE code from the server, 0 */
    char msg[CLIENT_ERRMSG_SIZE];
};

void clientErrClear(struct client_err *e);
/* Records `rv` and a formatted message; returns `rv` for tail calls. */
int clientErrSet(struct client_err *e, int rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records a FAILURE from the server (code, message): rv is
 * ERR_CLIENT_NOTLEADER for the not-leader codes, ERR_CLIENT_FAILURE else. */
int clientErrServer(struct client_err *e, uint64_t code, const char *msg);
/* Whether a server code means "not (or no longer) the leader". */
bool clientCodeIsNotLeader(uint64_t code);
/* The DQLITE_CLIENT_* code for an internal one. */
int clientErrPublic(int rv);

/* Writes all of bytes to fd, fsyncs and closes it: 0 or an errno value
 * (dump.c; the files of DUMP and BACKUP). */
int clientWriteAllClose(int fd, const void *bytes, size_t size);
const char *clientErrMsg(const struct client_err *e);

/* ------------------------------------------------------------ time */

/* Monotonic milliseconds. */
int64_t clientNowMs(void);
/* A deadline `timeout_ms` from now. */
int64_t clientDeadline(unsigned timeout_ms);
/* Milliseconds left until `deadline_ms` (0 when past), at most INT_MAX. */
int clientRemainingMs(int64_t deadline_ms);
/* Sleeps `ms` milliseconds (restarting after signals). */
void clientSleepMs(unsigned ms);
/* The sleep before discovery round `attempt` (>= 1): factor * 2^attempt,
 * capped at `cap_ms`. */
unsigned clientBackoffMs(unsigned factor_ms, unsigned cap_ms, unsigned attempt);

/* ------------------------------------------------------------ cancel */

/* The descriptor that is readable while `cancel` is fired; -1 for NULL. */
int clientCancelFd(const struct dqlite_cancel *cancel);
bool clientCancelled(const struct dqlite_cancel *cancel);
/* Sleeps `ms` milliseconds or until `cancel` (may be NULL) is fired. */
void clientCancelSleepMs(const struct dqlite_cancel *cancel, unsigned ms);

/* ------------------------------------------------------------ dial */

/* The default dial function: TCP to "host:port" / "[v6]:port", or an
 * abstract Unix socket for "@name". */
int clientDialDefault(void *arg, const char *address, int timeout_ms, int *fd);

/* ------------------------------------------------------------ socket */

/* One connection to one node: the socket, the request being sent, the
 * framing reader and the last response, decoded. Owns its fd and buffers;
 * `frame` and `resp` view the reader's buffer until the next receive. */
struct client_sock {
    int fd;             /* -1 when closed */
    struct ssl_st *ssl; /* the TLS session over fd, NULL for plaintext */
    char tls_err[128];  /* why the TLS session last failed, "" */
    int cancel_fd;      /* readable when the wait for an answer must end, -1 */
    uint64_t version;
    struct buf out; /* the request(s) to send */
    struct proto_reader reader;
    struct proto_frame frame;
    struct proto_response resp;
};

void clientSockInit(struct client_sock *s);
/* Closes the socket (if open) and frees the buffers. */
void clientSockClose(struct client_sock *s);
bool clientSockOpen(const struct client_sock *s);
/* Adopts a connected fd (makes it non-blocking) and queues the handshake
 * word of `version`. */
int clientSockAttach(struct client_sock *s, int fd, uint64_t version);
/* Appends a request to `out`. */
int clientSockEncode(struct client_sock *s, const struct proto_request *req);
/* Writes `out` completely by the deadline, then empties it. ERR_TIMEOUT,
 * ERR_IO (the socket is then closed). */
int clientSockFlush(struct client_sock *s, int64_t deadline_ms);
/* Reads and decodes one message into `frame`/`resp`. ERR_TIMEOUT with no
 * byte of the message read leaves the socket usable; so does
 * ERR_CLIENT_CANCELLED (`cancel_fd` readable), with or without bytes read:
 * the reader keeps them and the next call goes on with the message. Any
 * other failure (ERR_IO, ERR_CLIENT_EOF, a proto error, a timeout
 * mid-message) closes it. Writes never look at `cancel_fd`. */
int clientSockRecv(struct client_sock *s, int64_t deadline_ms);
/* Whether the server closed an idle connection (checked without
 * blocking before a request is sent). */
bool clientSockHungUp(struct client_sock *s);
/* Whether bytes of a message not returned yet were received. */
bool clientSockPartial(const struct client_sock *s);
/* Sends `out` and reads the answer. */
int clientSockCall(struct client_sock *s, int64_t deadline_ms);
/* ------------------------------------------------------------ tls */

/* The driver's TLS configuration (tls.c): an OpenSSL context with the
 * certificate, key and CAs loaded, and the server name policy. */
struct client_tls;

/* Loads the options' TLS files; on failure `msg` says why. */
int clientTlsCreate(const struct dqlite_driver_options *o,
                    struct client_tls **tls, char *msg, size_t size);
void clientTlsDestroy(struct client_tls *tls);
/* Runs the handshake on the connected, non-blocking s->fd, within the
 * deadline, ending early with ERR_CLIENT_CANCELLED when `cancel_fd` (-1 for
 * none) is readable. On success s->ssl is set; on failure `e` says why
 * (e.g. "TLS handshake with X failed: certificate verify failed (...)") and
 * the socket is left to the caller to close. */
int clientTlsHandshake(const struct client_tls *tls, struct client_sock *s,
                       const char *address, int64_t deadline_ms, int cancel_fd,
                       struct client_err *e);
/* Record I/O for sock.c: 0 with *got / *put bytes (at least one),
 * ERR_AGAIN with the poll() events to wait for, ERR_CLIENT_EOF (reads: the
 * server's close_notify) or ERR_IO. */
int clientTlsRead(struct client_sock *s, void *p, size_t n, size_t *got,
                  short *events);
int clientTlsWrite(struct client_sock *s, const void *p, size_t n, size_t *put,
                   short *events);
/* clientSockHungUp for a readable TLS socket: false when only non-data
 * records (session tickets) were waiting. */
bool clientTlsHungUp(struct client_sock *s);
/* Sends a close_notify if it can and frees the session (s->ssl NULL). */
void clientTlsClose(struct client_sock *s);

/* ------------------------------------------------------------ log */

/* Longest direct_read_level, "bounded:3600000" and its NUL fit. */
#define CLIENT_READ_LEVEL_MAX 24

struct dqlite_driver {
    struct dqlite_server_store *store; /* borrowed */
    struct dqlite_driver_options opts; /* defaults applied; tls_* strings
                                          cleared (not kept) */
    struct client_tls *tls;            /* loaded TLS settings, NULL: none */
    char read_level[CLIENT_READ_LEVEL_MAX];   /* direct_read_level, "": none */
    char spread_level[CLIENT_READ_LEVEL_MAX]; /* follower_read_level, "" */
    atomic_uint next_reader; /* round-robin over the store's members */
};

void clientLog(const struct dqlite_driver *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------ discovery */

/* Finds the leader through the driver's store and leaves `s` connected and
 * registered to it. ERR_CLIENT_NOLEADER when none answered by the deadline
 * (or within the retry limit); `e` explains. */
int clientDiscover(struct dqlite_driver *d, int64_t deadline_ms,
                   struct client_sock *s, struct client_err *e);
/* The same, ending with ERR_CLIENT_CANCELLED when `cancel` (may be NULL)
 * is fired: checked before each server probed and during the backoff. */
int clientDiscoverCancel(struct dqlite_driver *d, int64_t deadline_ms,
                         const struct dqlite_cancel *cancel,
                         struct client_sock *s, struct client_err *e);
/* Dials `address` (NULL: the store's first server), whatever its role,
 * and registers (direct and follower reads): `s` left open on success. */
int clientDialDirect(struct dqlite_driver *d, const char *address,
                     int64_t deadline_ms, const struct dqlite_cancel *cancel,
                     struct client_sock *s, struct client_err *e);
/* Dials `address`, runs the TLS handshake when the driver has TLS (ended
 * early when `cancel`, may be NULL, is fired) and queues the protocol
 * handshake. On failure `s` is closed. */
int clientDialNode(struct dqlite_driver *d, const char *address,
                   uint64_t version, int64_t deadline_ms,
                   const struct dqlite_cancel *cancel, struct client_sock *s,
                   struct client_err *e);
/* Copies a decoded SERVERS list into an array the caller owns. */
int clientServersCopy(const struct proto_servers *servers,
                      struct dqlite_server_info **out, unsigned *n);
/* Asks the leader's CLUSTER list on `s` and writes it to the store. */
void clientRefreshStore(struct dqlite_driver *d, struct client_sock *s,
                        int64_t deadline_ms);

/* ------------------------------------------------------------ stores */

/* One store of three kinds: in memory (`servers`), in a SQLite table
 * (`db`), or the caller's own (`custom`, a copy of its methods). */
struct dqlite_server_store {
    pthread_mutex_t mutex;
    struct dqlite_server_info *servers; /* memory store content */
    unsigned n;
    void *db;         /* sqlite3 * of a table store, NULL otherwise */
    bool own_db;      /* opened (and closed) by the store */
    char *sql_select; /* statements of a table store (sqlite3_mprintf) */
    char *sql_delete;
    char *sql_insert;
    bool custom; /* `methods` are the caller's */
    struct dqlite_server_store_methods methods;
    void *methods_arg;
};

/* Deep copies / frees of server arrays. */
int clientInfosCopy(const struct dqlite_server_info *src, unsigned n,
                    struct dqlite_server_info **dst);
void clientInfosFree(struct dqlite_server_info *infos, unsigned n);

/* The table store's halves (store_file.c), called with the mutex held.
 * Open creates the table if missing; a borrowed `db` is not closed. */
int clientStoreFileOpen(struct dqlite_server_store *st, const char *path);
int clientStoreTableOpen(struct dqlite_server_store *st, void *db, bool own_db,
                         const char *schema, const char *table,
                         const char *column);
void clientStoreFileClose(struct dqlite_server_store *st);
int clientStoreFileGet(struct dqlite_server_store *st,
                       struct dqlite_server_info **servers, unsigned *n);
int clientStoreFileSet(struct dqlite_server_store *st,
                       const struct dqlite_server_info *servers, unsigned n);

/* ------------------------------------------------------------ conns */

enum client_tx { CLIENT_TX_NONE, CLIENT_TX_OPEN, CLIENT_TX_CUT };

struct dqlite_conn {
    struct dqlite_driver *driver;
    char *name; /* database name, owned */
    struct client_sock sock;
    bool db_open; /* OPEN succeeded on sock */
    uint32_t db_id;
    uint64_t generation; /* bumped by every (re)connection */
    unsigned timeout_ms;
    enum client_tx tx;
    struct dqlite_rows *rows;     /* the open result set, NULL */
    unsigned n_stmts;             /* statements not closed yet */
    struct dqlite_cancel *cancel; /* borrowed, NULL */
    bool drain; /* a cancelled call's INTERRUPT was sent: every answer up to
                   its EMPTY is still to be read and discarded */
    struct client_err err;
    struct dqlite_conn *reader; /* follower_read_level: the connection on a
                                   member that serves reads, NULL */
    char *reader_address;       /* set on a reader: its node (owned), NULL */
};

/* Runs a read-only query on c's reader (opened on first use). Non-zero:
 * no reader, or it failed (then dropped): run it on c itself. */
int clientReaderQuery(struct dqlite_conn *c, const char *sql,
                      const struct dqlite_value *params, unsigned n,
                      struct dqlite_rows **rows);

/* Prepares a call on the connection: refuses while rows are open,
 * reconnects when needed and allowed, fails with TXCUT in a cut
 * transaction. */
int clientConnReady(struct dqlite_conn *c);
/* The deadline of a call starting now. */
int64_t clientConnDeadline(const struct dqlite_conn *c);
/* Sends conn->sock.out and reads the answer; on timeout sends INTERRUPT.
 * Failures are recorded in c->err (and mark the connection or the
 * transaction as broken as needed). */
int clientConnCall(struct dqlite_conn *c, int64_t deadline_ms);
/* Reads the next message of a stream (ROWS batches). */
int clientConnMore(struct dqlite_conn *c, int64_t deadline_ms);
/* Handles a failure of the connection itself (I/O, not leader): closes
 * the socket and cuts an open transaction. Returns `rv` (or TXCUT). */
int clientConnBroken(struct dqlite_conn *c, int rv);
/* Checks that the answer is of `type` (a FAILURE is recorded). */
int clientConnExpect(struct dqlite_conn *c, uint8_t type);

struct dqlite_stmt {
    struct dqlite_conn *conn;
    char *sql; /* owned */
    uint32_t id;
    uint64_t generation; /* conn generation it was prepared on */
    uint64_t num_input;
};

/* A result set being read. The current batch is the connection's last
 * response (c->sock.resp.rows): its rows are walked with `iter`, and the
 * values of the current row view its body. */
struct dqlite_rows {
    struct dqlite_conn *conn;
    struct proto_rows batch; /* views c->sock's reader buffer */
    struct proto_rows_iter iter;
    unsigned n_columns;
    char **names;            /* owned copies */
    const char **type_names; /* static strings; [0] NULL until known */
    struct proto_value *row; /* current row (n_columns), views the batch */
    bool has_row;
    bool peeked; /* `row` holds the next row, not returned yet */
    int peek_rv; /* what the peek found: ROW, DONE or an error */
    bool ended;  /* no more messages of this query will arrive */
};

/* Parses an ISO8601 text with go-dqlite's layouts (a trailing 'Z' is
 * dropped): seconds since the epoch, nanoseconds, UTC offset. ERR_INVALID
 * when no layout matches. */
int clientTimeParse(const char *text, int64_t *unix_sec, int32_t *nsec,
                    int32_t *utc_offset_sec);

/* One request of a call: encodes, calls and decodes (errors in c->err). */
typedef int (*client_conn_op)(struct dqlite_conn *c, void *arg);
/* Readies the connection and runs `fn`, once more on the new leader when
 * the server refused it as not leader, or (`idempotent`) when the
 * connection failed. Returns a DQLITE_CLIENT_* code. */
int clientConnRun(struct dqlite_conn *c, client_conn_op fn, void *arg,
                  bool idempotent);
/* Sends INTERRUPT and discards every answer up to its EMPTY. */
int clientConnInterrupt(struct dqlite_conn *c);
/* Reads the answers a cancelled call left owed (c->drain), if any; on
 * failure the connection is broken (its code, TXCUT in a transaction). */
int clientConnDrainOwed(struct dqlite_conn *c);
/* A cancelled call: sends INTERRUPT and leaves the drain for the next call
 * (c->drain). Returns ERR_CLIENT_CANCELLED (or the failure, the connection
 * then broken). */
int clientConnCancelled(struct dqlite_conn *c);

/* Runs SQL text (stmt NULL) or a statement: exec when `rows` is NULL,
 * query otherwise. Returns a DQLITE_CLIENT_* code. */
int clientSqlRun(struct dqlite_conn *c, struct dqlite_stmt *stmt,
                 const char *sql, const struct dqlite_value *params, unsigned n,
                 struct dqlite_result *result, struct dqlite_rows **rows);
/* The two requests of clientSqlRun (arg: its call), for clientConnRun. */
int clientSqlExec(struct dqlite_conn *c, void *arg);
int clientSqlQuery(struct dqlite_conn *c, void *arg);
/* Prepares the statement again if the connection changed since. */
int clientStmtReady(struct dqlite_stmt *stmt);

/* The node client's socket and call timeout (load.c sends its own
 * extension messages through them). */
struct client_sock *clientClusterSock(struct dqlite_client *cl);
unsigned clientClusterTimeoutMs(const struct dqlite_client *cl);
/* Cluster client (cluster.c): sends `req`, checks the answer's type. */
int clientClusterCall(struct dqlite_client *cl, struct proto_request *req,
                      uint8_t want);
/* Reads the next message of a streamed answer and checks its type. */
int clientClusterNext(struct dqlite_client *cl, uint8_t want);
/* Closes the connection (a stream abandoned midway); the client must be
 * connected again before the next call. */
void clientClusterReset(struct dqlite_client *cl);
/* The last answer on the cluster client's connection. */
const struct proto_response *clientClusterResp(struct dqlite_client *cl);
/* The cluster client's error record (for failures found client-side). */
struct client_err *clientClusterErr(struct dqlite_client *cl);

/* Takes the ROWS message in c->sock.resp as the first batch. */
int clientRowsStart(struct dqlite_conn *c, struct dqlite_rows **rows);

/* Builds the proto values of `n` parameters (caller frees with libFree). */
int clientParamsConvert(const struct dqlite_value *params, unsigned n,
                        struct proto_value **out, struct client_err *e);

#endif /* CLIENT_CLIENT_H */
