/*
 * The node: what a dqlite_node handle holds, and its life cycle.
 *
 * A node is created inert (no sockets, no threads), optionally bound (the
 * listening socket exists from then on), started (a thread runs the node's
 * libuv loop, which owns every socket, timer and the raft core), stopped
 * (the loop closes everything and the thread ends) and destroyed.
 *
 * Threading: the public setters and start/stop are called by the host from
 * one thread at a time; after start, everything inside `loop` belongs to the
 * node's thread. `lock` guards only the start/stop hand-shake.
 */
#ifndef SERVER_NODE_H
#define SERVER_NODE_H

#include <dqlite.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lib/queue.h"
#include "raftio/transport.h"
#include "server/addr.h"
#include "server/budget.h"
#include "server/membership.h"
#include "server/metrics.h"
#include "server/replica.h"
#include "server/roles.h"
#include "server/worker.h"

#define NODE_ERRMSG_LEN 256

/* go-dqlite's id for the node that bootstraps a cluster in its `app`. */
#define NODE_BOOTSTRAP_ID 0x2dc171858c3155beULL

/* Client connections a node serves at once (default of max_conns); past
 * it a new client's first request closes the connection idle longest (at
 * least CONN_EVICT_IDLE_MS), or, when none is, is answered with a FAILURE
 * "too many connections" and closed. */
#define NODE_MAX_CONNS 1024

/* File descriptors kept for the node's own files, peers and libuv: client
 * connections beyond RLIMIT_NOFILE minus this are refused at accept
 * (loop.c), so a flood of clients cannot starve the raft log of the
 * descriptor it needs for its next segment. */
#define NODE_FD_RESERVE 64

/* Refused connections are logged at most once per this period. */
#define NODE_REFUSED_LOG_MS 10000
/* SQLite's soft heap limit, set by a starting node unless the process
 * already has one (sqlite3_soft_heap_limit64): past it SQLite recycles
 * page-cache memory instead of growing. Process-wide. */
#define NODE_SQLITE_SOFT_HEAP_BYTES ((int64_t)256 << 20)

/* Peer addresses remembered from handshakes (oldest replaced first). */
#define NODE_MAX_LEARNED 64
/* Default bound on one stretch of a statement's work on the db thread
 * (dqlite_node_set_statement_timeout; docs/server.md "Runaway
 * statements"). */
#define NODE_STATEMENT_TIMEOUT_MS 10000

/* Leader leases (dqlite_node_set_read_lease): on, as the fault battery
 * passes with them (docs/faults.md, docs/raft.md "Leader leases"). */
#define NODE_READ_LEASE_DEFAULT true
/* Entry payload bytes the raft log keeps in memory (docs/raft.md,
 * "Memory"; dqlite_node_set_entry_cache, --entry-cache). */
#define NODE_ENTRY_CACHE_BYTES RAFT_ENTRY_CACHE_BYTES_DEFAULT
#define NODE_ENTRY_CACHE_MIN_BYTES (1u << 20)
/* A leader whose db thread runs one job longer than the statement timeout
 * (the default one when unbounded) plus this hands leadership over
 * (watchdog.c). */
#define NODE_STUCK_GRACE_MS 5000

enum node_state { NODE_CREATED, NODE_RUNNING, NODE_STOPPED };

typedef int (*node_connect_fn)(void *arg, const char *address, int *fd);

struct http_server;
struct http_rqlite;

struct dqlite_node {
    dqlite_node_id id;
    char *address;   /* advertised to peers and clients; owned */
    char *data_dir;  /* owned */
    int dir_lock_fd; /* flock on data_dir/node.lock, -1 if not held */
    bool dir_owned;  /* data_dir's node-id names this node */
    char errmsg[NODE_ERRMSG_LEN];
    enum node_state state;

    /* Options (set before start). */
    node_connect_fn connect_fn; /* NULL: dial TCP/unix ourselves */
    void *connect_arg;
    uint64_t latency_ns;
    uint64_t failure_domain;
    unsigned snapshot_threshold;
    unsigned snapshot_trailing;
    uint64_t entry_cache_bytes; /* 0: no bound */

    /* Listening socket: created by bind (or start), adopted by the loop. */
    int listen_fd; /* -1 until bound */
    char bind_address[ADDR_MAX_LEN];

    /* The node's thread and loop. */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool loop_ready;    /* the loop accepts (or failed: start_rv != 0) */
    bool shutting_down; /* loopShutdown ran: its handles are closing */
    int start_rv;
    uv_loop_t loop;
    uv_async_t stop_async;
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } listener;
    struct queue conns;       /* struct conn, owned by the loop */
    unsigned n_conns;         /* client connections open */
    unsigned fd_budget;       /* n_conns allowed by RLIMIT_NOFILE (loop.c) */
    uint64_t refused_said_ms; /* last log line about refused accepts */
    unsigned refused_unsaid;  /* refusals since that line */
    bool refused_said;        /* a line was ever logged */
    unsigned max_conns;       /* NODE_MAX_CONNS unless a test lowers it */
    struct budget budget;     /* bytes client connections hold */
    unsigned conn_idle_timeout_ms;  /* 0: idle connections stay */
    unsigned conn_stall_timeout_ms; /* 0: unread responses wait */
    uint64_t stmt_bytes_max;        /* per connection's prepared statements */
    uv_timer_t conn_sweep_timer;    /* closes idle connections */
    struct tls_state *tls;          /* NULL: plaintext (tls.c) */
    unsigned tls_handshake_timeout_ms;

    /* Replication, storage and the db thread (opened by start). */
    struct replica replica;
    bool replica_open;
    struct worker worker;
    struct raftio_transport transport;
    bool transport_open;
    uint64_t weight;        /* reported by DESCRIBE, set by WEIGHT */
    dqlite_log_func log_fn; /* NULL: warnings and errors to stderr */
    void *log_arg;
    int log_level;
    dqlite_watch_func watch_fn;
    void *watch_arg;
    dqlite_fatal_func fatal_fn; /* the node stopped serving for good */
    void *fatal_arg;
    int last_state;
    bool snapshot_compression;
    unsigned busy_timeout_ms;      /* how long writers queue for a lock */
    unsigned statement_timeout_ms; /* bound on one SQL job (0: none) */
    bool linearizable_reads;       /* read-index before every query */
    bool read_lease;               /* ... or a leader lease (raft.md) */
    struct queue parked;           /* gateways waiting for a write lock */
    struct queue writing;          /* databases with a write in flight:
                                      struct gateway_slot (gateway_group.c) */
    /* Addresses peers gave in their handshakes, for replying to a leader
     * before this node has a configuration naming it. */
    struct node_peer_addr {
        uint64_t id;
        char address[ADDR_MAX_LEN];
    } learned[NODE_MAX_LEARNED];
    unsigned n_learned;
    uv_timer_t parked_timer;       /* retries and expires parked writers */
    struct replica_wait handover;  /* stop: leadership transfer */
    uv_timer_t handover_timer;     /* ...checked every heartbeat, */
    uint64_t handover_target;      /* ...while the stream to it is up, */
    uint64_t handover_deadline_ms; /* ...for two election timeouts */
    struct roles roles;            /* automatic roles (roles.c), opt-in */
    struct membership membership;  /* removed-node check (membership.c) */
    uv_timer_t stuck_timer;        /* the db-thread watchdog (watchdog.c) */
    uint64_t stuck_next_ms;        /* ...no new hand-over before this */
    /* Metrics and the HTTP listener (node_metrics.c, node_http.c). */
    struct metrics metrics;
    uv_timer_t metrics_timer;               /* publishes every 250 ms */
    struct raft_configuration metrics_conf; /* last membership logged */
    bool metrics_conf_known;
    bool catching_up; /* applied far behind commit */
    uint64_t catchup_since_ms;
    char *http_address;       /* NULL: no HTTP listener */
    char *http_auth_file;     /* NULL: rqlite's API open to every client */
    struct http_server *http; /* started with the node */
    struct http_rqlite *rqlite;
};

/* Log a line through the node's log function (node thread or host). */
void nodeLogf(struct dqlite_node *n, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record a formatted failure message on the node. */
void nodeErrorf(struct dqlite_node *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Run by the node's thread: the loop until stop. */
void *nodeThreadMain(void *arg);

/* The parked writers' list changed: keep their timer running. */
void nodeParkedChanged(struct dqlite_node *n);

/* Proposes a checkpoint of database `name` (fire and forget). */
void nodeProposeCheckpoint(struct dqlite_node *n, const char *name);

/* watchdog.c: a leader whose db thread is stuck hands leadership over. */
void nodeWatchdogStart(struct dqlite_node *n);
void nodeWatchdogClose(struct dqlite_node *n);
/* How long one db-thread job may run before the node counts as stuck. */
unsigned nodeStuckBoundMs(const struct dqlite_node *n);

/* The most up-to-date voter this node is connected to right now, or 0
 * (loop.c): where a leader hands leadership over. */
uint64_t nodeHandOverTarget(struct dqlite_node *n);

/* node_metrics.c: the metrics timer (loop), the snapshot published now,
 * and the log line of a role or leader change. */
void nodeMetricsStart(struct dqlite_node *n);
void nodeMetricsClose(struct dqlite_node *n);
void nodeMetricsPublish(struct dqlite_node *n);
void nodeLogState(struct dqlite_node *n, int old_state, int state,
                  uint64_t leader);

/* node_http.c: the HTTP listener, started once the loop serves (host
 * thread), stopped before the loop stops. */
int nodeHttpStart(struct dqlite_node *n);
void nodeHttpStop(struct dqlite_node *n);
int nodeHttpReloadTls(struct dqlite_node *n);

/* Heartbeat and election timeouts from the configured network latency. */
void nodeTimeouts(const struct dqlite_node *n, unsigned *heartbeat_ms,
                  unsigned *election_ms);

#endif /* SERVER_NODE_H */
