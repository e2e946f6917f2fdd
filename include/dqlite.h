/*
 * dqlite: the node API.
 *
 * Source- and ABI-compatible with dqlite 1.11's public header: a program (or
 * go-dqlite's cgo bindings) written against 1.11 compiles and runs against
 * this library unchanged. Our additions come after the 1.11 surface and are
 * marked as such.
 *
 * Conventions: functions return 0 on success and a DQLITE_* code on failure;
 * node functions leave a message for dqlite_node_errmsg(). Strings passed in
 * are copied unless a function says otherwise. A node handle may be used from
 * one thread at a time; the node runs its own thread after start.
 */
#ifndef DQLITE_H
#define DQLITE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#ifndef DQLITE_API
#define DQLITE_API __attribute__((visibility("default")))
#endif

#define DQLITE_VERSION_MAJOR 1
#define DQLITE_VERSION_MINOR 11
#define DQLITE_VERSION_RELEASE 0
#define DQLITE_VERSION_NUMBER                                        \
    (DQLITE_VERSION_MAJOR * 100 * 100 + DQLITE_VERSION_MINOR * 100 + \
     DQLITE_VERSION_RELEASE)

/* The library's version as MAJOR * 10000 + MINOR * 100 + RELEASE, which may
 * differ from DQLITE_VERSION_NUMBER when a program runs against a newer
 * library than it was compiled with. Thread-safe. */
DQLITE_API int dqlite_version_number(void);

/* Error codes. */
#define DQLITE_ERROR 1  /* generic failure */
#define DQLITE_MISUSE 2 /* the library was used wrongly */
#define DQLITE_NOMEM 3  /* out of memory */
/* dqlite_node_start: the data directory belongs to another node id (its
 * node-id file says which); older dqlite's value, which go-dqlite maps to
 * ErrServerCantBootstrap. */
#define DQLITE_CANTBOOTSTRAP 11
/* dqlite_node_start (or a bind on the address of a running node): another
 * node, in this process or another, holds the data directory's lock. */
#define DQLITE_LOCKED 12

/* Roles of a node in the cluster configuration. */
#define DQLITE_VOTER 0   /* replicates the log and votes */
#define DQLITE_STANDBY 1 /* replicates the log, does not vote */
#define DQLITE_SPARE 2   /* neither replicates nor votes */

/* ------------------------------------------------------------- the node */

/* An opaque node: one member of a cluster, serving clients and peers. */
typedef struct dqlite_node dqlite_node;

/* A node's identifier, unique in its cluster (never 0). */
typedef unsigned long long dqlite_node_id;

/* Allocate a node without touching the network or starting threads.
 *
 * `address` is what peers and clients are told to dial (it is not validated
 * here); `data_dir` must exist and holds the node's durable state, which a
 * later create on the same directory resumes. On failure *n still points to
 * a handle that dqlite_node_errmsg() and dqlite_node_destroy() accept (or is
 * NULL when even that could not be allocated). The caller owns *n. */
DQLITE_API int dqlite_node_create(dqlite_node_id id, const char *address,
                                  const char *data_dir, dqlite_node **n);

/* Stop the node if it runs, then free it. NULL is a no-op. */
DQLITE_API void dqlite_node_destroy(dqlite_node *n);

/* Bind and listen now, before start: "HOST:PORT" (IPv4), "@NAME" (abstract
 * Unix socket) or "@" (an abstract name chosen automatically). Clients and
 * peers share this socket. DQLITE_MISUSE after start. */
DQLITE_API int dqlite_node_set_bind_address(dqlite_node *n,
                                            const char *address);

/* The address actually bound (with the chosen name after "@"), or NULL if
 * not bound. The string belongs to the node and lives until destroy. */
DQLITE_API const char *dqlite_node_get_bind_address(dqlite_node *n);

/* Replace TCP dialling for connections to peers. `f` receives a peer's
 * address and returns 0 with a connected socket in *fd (which the node then
 * owns and closes), or non-zero for "no connection". It is called from a
 * worker thread, never from the node's loop, and may block. Before start. */
DQLITE_API int
dqlite_node_set_connect_func(dqlite_node *n,
                             int (*f)(void *arg, const char *address, int *fd),
                             void *arg);

/* The typical one-way network latency between nodes, used to scale the
 * heartbeat and election timeouts. Before start; values under 500 µs are
 * DQLITE_MISUSE. */
DQLITE_API int dqlite_node_set_network_latency(dqlite_node *n,
                                               unsigned long long nanoseconds);

/* The same in milliseconds (1 ms to 1 h). */
DQLITE_API int dqlite_node_set_network_latency_ms(dqlite_node *t,
                                                  unsigned milliseconds);

/* A free-form code describing where the node runs (rack, zone), reported by
 * DESCRIBE and used to spread voters. */
DQLITE_API int dqlite_node_set_failure_domain(dqlite_node *n,
                                              unsigned long long code);

/* Take a snapshot every `snapshot_threshold` applied entries, keeping the
 * last `snapshot_trailing` entries in the log. Before start. */
DQLITE_API int dqlite_node_set_snapshot_params(dqlite_node *n,
                                               unsigned snapshot_threshold,
                                               unsigned snapshot_trailing);

/* Start the node's thread and return once it accepts connections. A node
 * with id 1 (or go-dqlite's bootstrap id) and no prior state bootstraps a
 * one-voter cluster; any other waits to be added. The node locks its data
 * directory until dqlite_node_destroy (DQLITE_LOCKED if another node holds
 * it) and, once started, records its id in the directory's node-id file;
 * a directory whose node-id names another node is refused with
 * DQLITE_CANTBOOTSTRAP. A failed start leaves neither behind. */
DQLITE_API int dqlite_node_start(dqlite_node *n);

/* Hand leadership over if possible, close every connection and the
 * listener, end the thread. Returns once everything is closed. */
DQLITE_API int dqlite_node_stop(dqlite_node *n);

/* A member of a configuration given to dqlite_node_recover(). */
struct dqlite_node_info {
    dqlite_node_id id;
    const char *address;
};
typedef struct dqlite_node_info dqlite_node_info;

/* The extensible form: `size` must be at least
 * DQLITE_NODE_INFO_EXT_SZ_ORIG; `address` holds a `const char *`;
 * `dqlite_role` is DQLITE_VOTER, DQLITE_STANDBY or DQLITE_SPARE. */
struct dqlite_node_info_ext {
    uint64_t size;
    uint64_t id;
    uint64_t address;
    uint64_t dqlite_role;
};
typedef struct dqlite_node_info_ext dqlite_node_info_ext;
#define DQLITE_NODE_INFO_EXT_SZ_ORIG 32U

/* Durably replace the cluster configuration in the data directory of a node
 * that is created but not started, for recovery after losing a quorum for
 * good. Every listed node becomes a voter. */
DQLITE_API int dqlite_node_recover(dqlite_node *n, dqlite_node_info infos[],
                                   int n_info);

/* The same with explicit roles. */
DQLITE_API int dqlite_node_recover_ext(dqlite_node *n,
                                       dqlite_node_info_ext infos[],
                                       int n_info);

/* The message of the node's last failure; "node is NULL" for NULL. The
 * string belongs to the node. */
DQLITE_API const char *dqlite_node_errmsg(dqlite_node *n);

/* A fresh random id, different on every call, never 0 or 1. Thread-safe. */
DQLITE_API dqlite_node_id dqlite_generate_node_id(const char *address);

/* ------------------------------------------------------ the VFS helpers */
/*
 * An in-memory SQLite VFS that captures the WAL frames of each commit
 * (1.11's replication helpers; the node uses the same VFS internally).
 * Databases live in memory: page 1 of a new database is created in WAL
 * mode, SQLite's own checkpoints are refused. A commit on a connection of
 * this VFS is held: readers keep seeing the previous state and other writers
 * get SQLITE_BUSY until dqlite_vfs_apply() or dqlite_vfs_abort().
 *
 * Threading: every function takes the VFS's internal mutex briefly and may
 * be called from any thread; the SQLite connections themselves must be used
 * by one thread at a time (SQLite may be in single-thread mode).
 */

/* Fill the caller's `vfs` with the VFS's methods and register it in SQLite
 * under `name` (copied). `vfs` must stay valid until dqlite_vfs_close().
 * Returns 0, DQLITE_NOMEM or DQLITE_ERROR (e.g. SQLite not usable). */
DQLITE_API int dqlite_vfs_init(sqlite3_vfs *vfs, const char *name);

/* Unregister the VFS and free every database it holds. No connection may
 * still be open on it. */
DQLITE_API void dqlite_vfs_close(sqlite3_vfs *vfs);

/* One captured WAL frame: a page number and its content. */
struct dqlite_vfs_frame {
    unsigned long page_number;
    void *data;
};
typedef struct dqlite_vfs_frame dqlite_vfs_frame;

/* The frames the last commit on `filename` captured (held, invisible to
 * readers). *frames is an array of *n entries, owned by the caller, who
 * frees each frame's data and then the array with sqlite3_free(); NULL and
 * 0 if nothing is held. The frames stay held until apply or abort. */
DQLITE_API int dqlite_vfs_poll(sqlite3_vfs *vfs, const char *filename,
                               dqlite_vfs_frame **frames, unsigned *n);

/* Commit `n` frames to the WAL of `filename` and make them visible: the
 * page numbers and the page contents concatenated in `frames` (n times the
 * database's page size), both borrowed. On the node that holds exactly
 * these frames (after poll) this publishes them and releases the write
 * lock; elsewhere the frames are appended (a held transaction with other
 * frames is dropped first). */
DQLITE_API int dqlite_vfs_apply(sqlite3_vfs *vfs, const char *filename,
                                unsigned n, unsigned long *page_numbers,
                                void *frames);

/* Drop the frames held for `filename` and release its write lock; the
 * database is as before the commit. 0 also when nothing is held. */
DQLITE_API int dqlite_vfs_abort(sqlite3_vfs *vfs, const char *filename);

/* A copy of the database file followed by its committed WAL in one buffer
 * of *n bytes, owned by the caller (free it with sqlite3_free()). */
DQLITE_API int dqlite_vfs_snapshot(sqlite3_vfs *vfs, const char *filename,
                                   void **data, size_t *n);

/* A byte range. */
struct dqlite_buffer {
    void *base;
    size_t len;
};

/* The database as `n` = dqlite_vfs_num_pages() + 1 buffers: the main
 * file's pages, pointing into the VFS (no copy, not to be freed; valid until
 * the next checkpoint, restore or close of the database), then a copy of the
 * WAL that the caller frees with sqlite3_free(). */
DQLITE_API int dqlite_vfs_shallow_snapshot(sqlite3_vfs *vfs,
                                           const char *filename,
                                           struct dqlite_buffer bufs[],
                                           unsigned n);

/* Number of pages of the database file (WAL not counted) in *n. */
DQLITE_API int dqlite_vfs_num_pages(sqlite3_vfs *vfs, const char *filename,
                                    unsigned *n);

/* Replace the database and WAL of `filename` (created if missing) with a
 * dqlite_vfs_snapshot() buffer of `n` bytes (borrowed, copied). Fails,
 * changing nothing, if the buffer does not parse or the database is in use
 * (a held commit or an open transaction). */
DQLITE_API int dqlite_vfs_restore(sqlite3_vfs *vfs, const char *filename,
                                  const void *data, size_t n);

/* ------------------------------------------- our additions (beyond 1.11) */

/* Log levels of dqlite_node_set_log_func. */
#define DQLITE_LOG_DEBUG 0
#define DQLITE_LOG_INFO 1
#define DQLITE_LOG_WARN 2
#define DQLITE_LOG_ERROR 3

/* Receives the node's log lines of `level` and above. Called on the node's
 * thread: it must not block for long nor call back into the node. The
 * message is valid for the call only. */
typedef void (*dqlite_log_func)(void *arg, int level, const char *message);

/* Install a log function (NULL: warnings and errors go to stderr, the
 * default). Before start. */
DQLITE_API int dqlite_node_set_log_func(dqlite_node *n, dqlite_log_func f,
                                        void *arg, int min_level);

/* Raft states reported to the watch function. */
#define DQLITE_FOLLOWER 1
#define DQLITE_CANDIDATE 2
#define DQLITE_LEADER 3
/* new_state: the node learned that the cluster removed it (it had no
 * leader, and the leader's configuration no longer names it); it stops
 * campaigning until a leader contacts it again (added back: new_state
 * DQLITE_FOLLOWER), or until it is stopped. */
#define DQLITE_REMOVED 4

/* Called on the node's thread whenever its raft state or the leader it
 * knows changes (`leader` 0: none known). Same rules as the log function. */
typedef void (*dqlite_watch_func)(void *arg, int old_state, int new_state,
                                  dqlite_node_id leader);

/* Install a leadership-change callback (NULL removes it). Before start. */
DQLITE_API int dqlite_node_set_watch_func(dqlite_node *n, dqlite_watch_func f,
                                          void *arg);

/* Called once, on the node's thread, when the node stops serving for good
 * because its data directory cannot be written (a read-only or failing
 * disk) or its state cannot be applied: `message` names what failed, the
 * file and the system's reason, e.g. "making the raft log durable failed:
 * I/O error (open /data/metadata.tmp: Read-only file system)". The node
 * then stays up as a member that acknowledges nothing, logs the message
 * again every minute, and should be stopped (dqlited exits with status
 * 15). Same rules as the log function. Before start; NULL removes it. */
typedef void (*dqlite_fatal_func)(void *arg, const char *message);
DQLITE_API int dqlite_node_set_fatal_func(dqlite_node *n, dqlite_fatal_func f,
                                          void *arg);

/* How long a write waits for another connection's write lock on the same
 * database before failing with SQLITE_BUSY (default 5000 ms). */
DQLITE_API int dqlite_node_set_busy_timeout(dqlite_node *n,
                                            unsigned milliseconds);

/* Extension of the 1.11 API: the longest a statement may run on the node
 * before it is interrupted and its request fails with SQLITE_INTERRUPT,
 * "statement timed out after N ms" (default 10000 ms; 0: no bound). The
 * bound applies to each uninterrupted stretch of SQL work: one statement
 * of an EXEC or EXEC_SQL, the first rows of a QUERY and each further
 * batch of rows. A statement also stops within 100 ms when its client
 * sends INTERRUPT or closes the connection. Before start. */
DQLITE_API int dqlite_node_set_statement_timeout(dqlite_node *n,
                                                 unsigned milliseconds);

/* Whether queries first confirm leadership with a quorum (read-index), so
 * they never return stale data from a deposed leader (default on). */
DQLITE_API int dqlite_node_set_linearizable_reads(dqlite_node *n, int enabled);

/* Extension of the 1.11 API (docs/abi.md): whether a leader answers
 * linearizable reads from a lease instead of a read-index round to a
 * quorum (docs/raft.md "Leader leases"): while a quorum acknowledged its
 * heartbeats within the last election timeout less a 10% clock-drift
 * bound, no other leader can exist, so no round trip is needed. Assumes
 * the nodes' monotonic clocks advance at rates within 10% of each other
 * and that every node has the same election timeout. Before start. */
DQLITE_API int dqlite_node_set_read_lease(dqlite_node *n, int enabled);

/* Whether snapshot files are LZ4-compressed (default on). Before start. */
DQLITE_API int dqlite_node_set_snapshot_compression(dqlite_node *n,
                                                    int enabled);

/* Bounds on what clients make the node hold (docs/server.md, "Limits").
 * Before start. `idle_timeout_ms`: a client connection with no request
 * started or answered for that long is closed (default 300000; 0: never).
 * `stall_timeout_ms`: a connection whose client reads nothing of a pending
 * response (the rows of a query it started, a DUMP) for that long is
 * closed, ending its statement (default 30000; 0: never). `memory_bytes`:
 * the bytes all client connections may hold in requests and unread
 * responses; a request that does not fit is refused with a FAILURE
 * (default 1 GiB; 0: no bound). */
DQLITE_API int dqlite_node_set_client_limits(dqlite_node *n,
                                             unsigned idle_timeout_ms,
                                             unsigned stall_timeout_ms,
                                             uint64_t memory_bytes);

/* Extension of the 1.11 API: the raft entry payload bytes the node keeps
 * in memory (docs/raft.md, "Memory"; default 64 MiB; 0: no bound, the
 * 1.11 behaviour of keeping snapshot_threshold + snapshot_trailing entries
 * whatever their size). Beyond it the node drops the oldest entries a
 * snapshot covers (a leader sending a snapshot keeps up to 64 MiB more
 * for it), takes a snapshot once the entries after the last one hold half
 * of it, and loads at start only what it allows; a follower behind the
 * dropped entries is sent a snapshot. 0 or at least 1 MiB, else
 * DQLITE_MISUSE. Before start. */
DQLITE_API int dqlite_node_set_entry_cache(dqlite_node *n, uint64_t bytes);

/* Extension of the 1.11 API: TLS on the node's port, for clients and
 * peers (docs/server.md, "TLS"). Before start. `cert_path` (PEM, the chain
 * may follow), `key_path` (PEM) and `ca_path` (PEM, the cluster's CA; for
 * go-dqlite's convention of one self-signed certificate for the whole
 * cluster, the certificate itself). The node then speaks TLS 1.3 only (1.2
 * too with DQLITE_TLS_ALLOW_TLS12) on the same port, refuses plaintext,
 * and dials its peers over TLS with this certificate as client
 * certificate. Every client and peer must present a certificate the CA
 * signed (mutual TLS) unless DQLITE_TLS_CLIENT_AUTH_OPTIONAL (clients
 * without one are then let in; a certificate presented is still
 * verified). With DQLITE_TLS_ADMIN_AUTH, peer streams need a node
 * certificate (the node's own one, or one whose subject has
 * OU=dqlite-node) and admin requests (ADD, ASSIGN, REMOVE, TRANSFER, DUMP,
 * BACKUP, the LOAD requests, WEIGHT) a node or admin certificate
 * (OU=dqlite-admin); others get a FAILURE. DQLITE_ERROR (message in
 * dqlite_node_errmsg) when a file cannot be loaded or the key does not match
 * the certificate. */
#define DQLITE_TLS_CLIENT_AUTH_OPTIONAL 0x1u
#define DQLITE_TLS_ADMIN_AUTH 0x2u
#define DQLITE_TLS_ALLOW_TLS12 0x4u
DQLITE_API int dqlite_node_set_tls(dqlite_node *n, const char *cert_path,
                                   const char *key_path, const char *ca_path,
                                   unsigned flags);

/* Extension: how long a TLS handshake may take, from the first byte to the
 * verified certificate, before the connection is closed (default 10000
 * ms). Before start. */
DQLITE_API int dqlite_node_set_tls_handshake_timeout(dqlite_node *n,
                                                     unsigned timeout_ms);

/* Extension: loads the certificate, key and CA given to
 * dqlite_node_set_tls again, from any thread, running or not: connections
 * made afterwards use them, open ones keep theirs. On failure (logged,
 * DQLITE_ERROR) the previous ones stay in use. DQLITE_MISUSE without TLS. */
DQLITE_API int dqlite_node_reload_tls(dqlite_node *n);

/* Serve on a socket the embedder created (go-dqlite's Server.Start on an
 * existing listener; e.g. one inherited from systemd's socket activation
 * or bound with privileges the node does not have): `fd` is a bound,
 * listening stream socket, TCP (IPv4 or IPv6) or an abstract Unix socket.
 * Instead of dqlite_node_set_bind_address(), before start; the two are
 * exclusive (DQLITE_MISUSE for the second). On success the node owns the
 * descriptor (it makes it non-blocking and close-on-exec, and closes it at
 * stop, or at destroy if never started) and dqlite_node_get_bind_address()
 * gives its address. DQLITE_MISUSE, the descriptor left untouched and the
 * caller's, for anything else (not a socket, not listening, a datagram or
 * a pathname Unix socket); DQLITE_ERROR if the system refuses. */
DQLITE_API int dqlite_node_set_bind_fd(dqlite_node *n, int fd);

/* Automatic role management, server-side (what go-dqlite's `app` package
 * does client-side). Off by default (0 and 0); set it on every node, before
 * start. While this node is leader it checks every member once a second
 * (a DESCRIBE request: is it up, its failure domain and weight) and makes
 * at most one role change per round towards `voters` voters (odd, >= 1)
 * and `standbys` stand-bys: a missing voter is replaced by an online
 * stand-by (else spare), preferring a failure domain no voter holds yet,
 * then a lower weight; a voter unreachable for three election timeouts is
 * demoted to spare; extra voters and stand-bys are demoted; voters sharing
 * a domain are swapped for a member of a free one. A voter that is stopped
 * while its departure would leave fewer online voters than `voters` first
 * has a healthy stand-by promoted and itself demoted to spare (at most 2 s
 * more in dqlite_node_stop()). Every change is logged at
 * DQLITE_LOG_INFO. DQLITE_MISUSE after start or for an even number of
 * voters (or stand-bys without voters). */
DQLITE_API int dqlite_node_set_auto_roles(dqlite_node *n, unsigned voters,
                                          unsigned standbys);

/* Extension: an HTTP listener started and stopped with the node
 * (docs/operations.md, docs/http.md) serving /metrics (Prometheus' text
 * format), /healthz (200 while the node's loop runs), /readyz (200 for a
 * member that knows a leader and has applied all but at most 1000
 * committed entries; 503 with the reason otherwise) and rqlite's data API.
 * `address` is "HOST:PORT" or "[V6]:PORT" (port 0: any; see
 * dqlite_node_get_http_address). With dqlite_node_set_tls, the listener
 * speaks HTTPS with the same certificate and asks clients for one signed
 * by the CA unless DQLITE_TLS_CLIENT_AUTH_OPTIONAL. Before start;
 * dqlite_node_start fails with DQLITE_ERROR (dqlite_node_errmsg says why)
 * when the address cannot be served. */
DQLITE_API int dqlite_node_set_http_address(dqlite_node *n,
                                            const char *address);

/* Extension: basic auth for rqlite's data API on the HTTP listener: `path`
 * names a file in rqlite's auth.json shape (docs/http-api.md, "Auth": users
 * with plain-text passwords and permissions execute, query, backup, load,
 * status, ready, join, remove, all). Without it every client may do
 * everything. Before start; the file is read when the node starts, which
 * fails with DQLITE_ERROR (dqlite_node_errmsg says why) for a file that
 * cannot be read or parsed. DQLITE_MISUSE after start. */
DQLITE_API int dqlite_node_set_http_auth(dqlite_node *n, const char *path);

/* Extension: the HTTP listener's bound address while the node runs (the
 * real port when 0 was asked), else NULL. */
DQLITE_API const char *dqlite_node_get_http_address(dqlite_node *n);

#endif /* DQLITE_H */
