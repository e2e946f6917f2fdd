/*
 * The node's replicated state: the raft core, its durable log and
 * snapshots (src/raftio), and the databases it keeps identical on every
 * node (src/vfs through src/repl). This is the ready/advance driver of
 * raft.h's contract, plus the waits the gateway needs on top of it:
 *
 *   replicaPropose   a leader's FRAMES command: callback once applied
 *                    locally (0), or lost (ERR_LEADERSHIP_LOST / ...)
 *   replicaBarrier   callback once this leader has applied everything
 *                    committed before the call (writes run on fresh state)
 *   replicaRead      callback once a read-index round confirmed leadership
 *                    and the read index is applied (linearizable reads)
 *
 * Threading: everything here runs on the node's loop thread, except the
 * jobs it hands to the db worker (applying entries, snapshots), which touch
 * only the repl/vfs state. Raft payload references are taken and dropped
 * on the loop only (their counts are not atomic).
 */
#ifndef SERVER_REPLICA_H
#define SERVER_REPLICA_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lib/queue.h"
#include "raft/raft.h"
#include "raftio/fs.h"
#include "raftio/log.h"
#include "raftio/writer.h"
#include "repl/repl.h"
#include "server/worker.h"
#include "vfs/vfs.h"

struct replica;
struct replica_wait;
struct metrics;

/* A client's SQLite connection, known to the db thread so that applying a
 * committed entry can roll back a transaction a deposed leader's client
 * left open (it would otherwise hold the write lock the entry needs), and
 * so that replacing a database (the last part of a LOAD, a snapshot
 * install) can end the statements reading it: a client never stops a
 * node (docs/server.md, "Readers of a replaced database"). Registered and
 * unregistered on the db thread only. */
struct replica_sqlconn {
    sqlite3 *db;
    /* Set (db thread) when the replica reset a statement of this
     * connection that was running: why, a static string the owner answers
     * its next step with; the owner clears it. NULL otherwise. */
    const char *ended;
    struct queue link;
};
typedef void (*replica_wait_cb)(struct replica_wait *w, int status);

/* A caller's wait: embedded in the caller's own struct, which must live
 * until `cb` ran (it always runs, with an error on shutdown). */
struct replica_wait {
    replica_wait_cb cb;
    uint64_t index; /* the entry (or read index) waited for */
    uint64_t term;  /* proposals: the term the entry must have */
    uint64_t ctx;   /* reads: the read-index context */
    uint64_t id;    /* role waits: the server */
    int role;       /* role waits: the role it must reach */
    uint64_t deadline_ms;
    uint64_t start_us; /* proposals: when proposed (commit latency) */
    bool read_confirmed;
    struct queue link;
};

/* Sends one raft message to a peer (the transport); the message is
 * borrowed for the call. */
typedef void (*replica_send_fn)(void *arg, uint64_t to, const char *address,
                                const struct raft_message *m);

/* Tells the owner about leadership changes (state, leader id). */
typedef void (*replica_state_fn)(void *arg, int state, uint64_t leader_id);

struct replica_options {
    uint64_t id;
    const char *address;  /* this node's advertised address */
    const char *data_dir; /* where the log, metadata and snapshots live */
    unsigned heartbeat_ms;
    unsigned election_ms;
    unsigned snapshot_threshold; /* entries applied between snapshots */
    unsigned snapshot_trailing;  /* entries kept behind a snapshot */
    uint64_t entry_cache_bytes;  /* raft_options.entry_cache_bytes */
    bool bootstrap;              /* first start of the cluster's first node */
    bool compress_snapshots;     /* LZ4 snapshot files */
    bool read_lease;             /* raft_options.read_lease */
    /* Log lines (DQLITE_LOG_* levels); may be called from any thread. */
    void (*log)(void *arg, int level, const char *message);
    void *log_arg;
    /* Optional: called once (loop thread, with log_arg) when the replica
     * stops serving for good; `message` says what failed, on which file,
     * and the system's reason. */
    void (*on_fail)(void *arg, const char *message);
};

struct replica {
    uv_loop_t *loop;
    struct worker *worker; /* the node's db thread, borrowed */
    struct replica_options o;
    struct raftio_fs fs;
    struct raftio_log log;
    struct raftio_writer writer;
    struct raft *raft;
    struct vfs *vfs;
    struct repl repl;       /* db thread only, once started */
    struct queue sql_conns; /* replica_sqlconn; db thread only */
    /* Db thread only: a received snapshot was superseded before it could
     * be installed (replica_snap.c); the entries up to the next install
     * are covered by that one and are not applied meanwhile. */
    bool install_skipped;
    uv_timer_t tick;
    replica_send_fn send;
    replica_state_fn on_state;
    void *cb_arg;

    /* The ready batch being carried out. */
    bool in_batch;
    struct raft_ready rd;
    struct raftio_req persist_reqs[4]; /* rd's durable writes: no
                                          allocation per commit */
    unsigned n_persist_reqs;
    unsigned persist_pending; /* writer requests of rd not completed */
    int persist_status;       /* first failure among them */

    /* Applying committed entries on the db thread, in order. */
    uint64_t applied;          /* loop's view: applied by the worker */
    uint64_t apply_queued;     /* last index handed to the worker */
    uint64_t snapshot_index;   /* last snapshot taken or installed */
    bool snapshot_running;     /* a snapshot job is out */
    unsigned jobs_out;         /* worker jobs not finished */
    bool failed;               /* a fatal error: stop serving */
    char fail_reason[768];     /* what failed, said again every minute */
    uint64_t fail_said_ms;     /* when it was last said */
    bool waiting_for_space;    /* the log writer waits for disk space */
    uint64_t nospace_since_ms; /* ...since then */
    /* Waits were answered ERR_NOSPACE while entries up to this index were
     * in the log and not applied: they may still commit, so no write may
     * run before they are applied (replicaBarrier waits for them). */
    uint64_t nospace_fence;
    int last_state;
    uint64_t last_leader;
    uint64_t next_read_ctx;
    uint64_t notice_log_ms;  /* last raft notice logged (loop clock) */
    uint64_t notices_held;   /* notices since then, not logged */
    struct metrics *metrics; /* the node's (metrics.h); NULL: none */
    /* Optional, with cb_arg: the configuration in effect changed. */
    void (*on_conf)(void *arg);

    struct queue proposals; /* replica_wait, by index */
    struct queue barriers;  /* replica_wait, by index */
    struct queue reads;     /* replica_wait: sent or confirmed reads */
    struct queue roles;     /* replica_wait: membership changes */
    struct queue transfers; /* replica_wait: leadership transfers */
    bool closing;
    bool writer_closed;
    void (*close_cb)(struct replica *r);
};

/* Loads the state from disk (bootstrapping a new cluster when asked),
 * creates the VFS and the raft core. Blocking: called before the loop runs
 * (no other thread uses SQLite-side state yet). */
int replicaOpen(struct replica *r, const struct replica_options *o,
                char *errmsg, size_t errmsg_len);

/* Starts timers, the log writer; `worker` must be running. */
int replicaStart(struct replica *r, uv_loop_t *loop, struct worker *worker,
                 replica_send_fn send, replica_state_fn on_state, void *arg);

/* A message from a peer (borrowed). */
void replicaReceive(struct replica *r, const struct raft_message *m);

/* The name SQLite knows the node's VFS by. */
const char *replicaVfsName(const struct replica *r);

/* Leader only. Proposes `data` (a raft payload block whose reference the
 * replica takes over). The wait's callback: 0 once applied here.
 *
 * A full disk: while the log writer waits for space, proposals, barriers
 * and reads are refused with ERR_NOSPACE, and those already waiting end
 * REPLICA_NOSPACE_ANSWER_MS after the disk was found full: barriers and
 * reads with ERR_NOSPACE, proposals with ERR_NOSPACE_UNKNOWN (their entry
 * is in the log and may still commit: the next barrier waits until it is
 * applied or lost). */
int replicaPropose(struct replica *r, uint8_t *data, size_t len,
                   struct replica_wait *w);
int replicaBarrier(struct replica *r, struct replica_wait *w);
int replicaRead(struct replica *r, struct replica_wait *w);
/* Reads on any node (follower reads, docs/protocol.md "Read
 * consistency"): linearizable (a follower asks the leader's read index;
 * ERR_READ_UNCONFIRMED through the callback when no answer comes within
 * an election timeout), bounded (ERR_READ_STALE when this follower last
 * caught up with its leader more than max_ms ago), any (what is applied).
 * On the leader: replicaRead, replicaBarrier, replicaBarrier. */
int replicaReadFollower(struct replica *r, struct replica_wait *w);
int replicaReadBounded(struct replica *r, struct replica_wait *w,
                       uint64_t max_ms);
int replicaReadAny(struct replica *r, struct replica_wait *w);

/* Callback once entry `index` is applied here (0), or an error. */
int replicaWaitApplied(struct replica *r, uint64_t index,
                       struct replica_wait *w);

/* Callback once server `id` has `role` in a committed configuration that
 * is applied here (0), or ERR_TIMEOUT at `deadline_ms`, or an error. */
int replicaWaitRole(struct replica *r, uint64_t id, int role,
                    uint64_t deadline_ms, struct replica_wait *w);

/* Callback once this node is no longer leader (0) or the transfer gave up
 * (ERR_TIMEOUT). */
int replicaWaitTransfer(struct replica *r, struct replica_wait *w);

/* Drops a wait before its callback (its owner went away); no callback. */
void replicaCancel(struct replica_wait *w);

/* Stops timers and the writer, fails every wait; close_cb runs on the loop
 * once everything is closed. */
void replicaClose(struct replica *r, void (*close_cb)(struct replica *r));

/* Frees what replicaOpen created (after close, or if never started). */
void replicaFree(struct replica *r);

/* Db thread: (un)register a client's SQLite connection. */
void replicaSqlConnAdd(struct replica *r, struct replica_sqlconn *c);
void replicaSqlConnRemove(struct replica_sqlconn *c);

/* Carries out whatever the raft core has ready (after calling the core
 * directly, e.g. for membership changes). */
void replicaProcess(struct replica *r);

/* Membership and leadership (leader only); see raft.h. */
bool replicaIsLeader(const struct replica *r);

#endif /* SERVER_REPLICA_H */
