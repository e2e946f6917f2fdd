/*
 * The gateway: answers the requests of one client connection.
 *
 * One request at a time (the connection hands over the next frame only when
 * the gateway is idle). Requests that need SQLite run as jobs on the node's
 * db thread; writes wait for raft (replica.h) before they are answered;
 * queries first wait for a read-index round, so what they return is
 * linearizable. Everything else is answered on the loop at once.
 *
 * Memory: the gateway copies each request body into `body` (the reader may
 * move its buffer while the request is in progress); decoded fields point
 * into that copy. The SQLite connection and statements are touched only by
 * db-thread jobs, never while no job is out... except to read pointers.
 */
#ifndef SERVER_GATEWAY_H
#define SERVER_GATEWAY_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lib/buf.h"
#include "lib/queue.h"
#include "proto/params.h"
#include "proto/reader.h"
#include "proto/request.h"
#include "server/policy.h"
#include "server/replica.h"
#include "server/sql.h"
#include "server/worker.h"

struct conn;
struct gateway_group;
struct gateway_load;
struct dqlite_node;

/* A database with a write in flight (a commit held, proposed or being
 * aborted): the node's `writing` list. Writers that come meanwhile queue
 * at once (gateway_group.c). */
struct gateway_slot {
    const char *db_name; /* NULL while not in the list */
    struct queue link;
};

/* Prepared statements one connection may hold. */
#define GATEWAY_MAX_STMTS 1024
/* Default bound on the heap memory of one connection's prepared statements
 * (SQLITE_STMTSTATUS_MEMUSED: program, constants, bound values); a PREPARE
 * past it fails (dqlite_node's stmt_bytes_max; 0: no bound). */
#define GATEWAY_MAX_STMT_BYTES_DEFAULT ((uint64_t)64 << 20)
/* Size at which a ROWS batch is closed. The reference closes batches at
 * its 4 KiB page size; each batch costs a db-thread job, a hand-off and a
 * socket write, so larger batches make scans several times cheaper. A
 * client reads PART batches of any size; INTERRUPT is honoured between
 * batches. */
#define GATEWAY_BATCH_BYTES 65536
/* Bytes of pages in one BACKUP chunk (gateway_backup.c). */
#define GATEWAY_BACKUP_CHUNK_BYTES ((uint32_t)1 << 20)
/* Default wait of a writer for a database another connection writes. */
#define GATEWAY_BUSY_TIMEOUT_MS 5000

enum gateway_stage {
    GATEWAY_IDLE = 0,
    GATEWAY_WAITING, /* for raft: barrier, read index or a proposal */
    GATEWAY_RUNNING, /* a db-thread job is out */
    GATEWAY_WRITING, /* a response is being written */
    GATEWAY_PARKED   /* a writer waiting for another's write lock */
};

struct gateway_backup; /* gateway_backup.c */

struct gateway {
    struct conn *conn;
    enum gateway_stage stage;
    bool closing;
    bool db_closed; /* the SQLite connection is closed (or never opened) */
    uint64_t version;

    /* The request in progress. */
    struct buf body;
    struct proto_request req;
    struct proto_params_iter params;
    struct buf out; /* response being built */

    /* The connection's database. */
    char *db_name; /* NULL until OPEN */
    sqlite3 *db;
    struct replica_sqlconn sqlconn; /* registered while db is open */
    struct policy policy;           /* the SQL policy of db (policy.h) */
    sqlite3_stmt *stmts[GATEWAY_MAX_STMTS];

    /* Execution state of EXEC / QUERY / EXEC_SQL / QUERY_SQL. */
    sqlite3_stmt *stmt; /* the statement being run */
    bool owns_stmt;     /* finalize it when done (the *_SQL requests) */
    size_t sql_offset;  /* *_SQL: where the rest of the text starts */
    int rc;             /* SQLite's code of the last step */
    bool has_error;     /* rc/errmsg hold a failure to answer with */
    char *errmsg;       /* copy of the error message, libMalloc'd */
    int64_t last_insert_id;
    int64_t changes;
    struct proto_params_iter params_saved; /* to retry a parked step */
    size_t next_offset;                    /* *_SQL: after this statement */
    bool sql_finished;                     /* *_SQL: no statement left */
    struct buf frames; /* a write's encoded frames command */
    bool has_frames;   /* held frames to propose (or abort) */
    bool committed;    /* a commit of this connection happened in the job:
                          only then are the database's held frames ours */
    void (*after_propose)(struct gateway *g, int rv);
    int propose_rv;
    bool stream_done; /* the last batch ended with DONE */
    bool streaming;   /* a ROWS batch of this query went out */
    bool interrupted;
    int here_deferred; /* what a start on the loop left to the db thread
                          (gateway_query.c, gateway_exec.c); 0: nothing */
    uint64_t busy_deadline_ms;

    struct worker_job job;
    worker_fn job_work;     /* db-thread body of `job` (gatewayRun) */
    worker_fn job_next;     /* loop step to run once `job` is done */
    struct sql_guard guard; /* stops a runaway statement (sql.h) */
    struct replica_wait wait;
    bool wait_out;
    worker_fn gated_work; /* gatewayRunGated: what runs after the gate */
    worker_fn gated_done;
    struct queue busy_link;        /* in the node's parked writers */
    struct gateway_backup *backup; /* a BACKUP being streamed, NULL */
    struct gateway_load *load;     /* a load in progress (gateway_load.c) */
    /* A member of a group of autocommit writes (gateway_group.c). */
    struct gateway_group *group;
    struct queue group_link;  /* in group->members */
    bool group_deferred;      /* db thread: not run in it, next time */
    struct gateway_slot slot; /* its own proposal in flight */
    /* Read consistency (gateway_read.c): enum gateway_read_level, and
     * the bound of GATEWAY_READ_BOUNDED. */
    int read_level;
    uint64_t read_bound_ms;
};

void gatewayInit(struct gateway *g, struct conn *conn);

/* Takes a framed request (the body is copied). */
void gatewayHandle(struct gateway *g, const struct proto_frame *frame);

bool gatewayIdle(const struct gateway *g);

/* The connection went away: finish or cancel what is in progress, close
 * the SQLite connection on the db thread. */
void gatewayClose(struct gateway *g);

/* Whether nothing refers to the gateway any more (it may be freed). */
bool gatewayClosed(const struct gateway *g);

/* New input arrived while a request is in progress: an INTERRUPT already
 * buffered in `reader` stops the statement running (it is answered, with
 * EMPTY, after the request it interrupted). */
void gatewayOnInput(struct gateway *g, const struct proto_reader *reader);

/* Consumes an INTERRUPT request buffered in `reader`, if the next complete
 * frame is one. */
bool gatewayPeekInterrupt(struct gateway *g, struct proto_reader *reader);

/* Answers the request in progress (or the next one) with a FAILURE and
 * closes the connection once it is written: for limits that make the
 * stream unusable (message too large, too many connections). */
void gatewayRefuse(struct gateway *g, uint64_t code, const char *message);

/* The write queue (gateway_group.c). Runs the writers parked on database
 * `name` as one group (its write lock was released). */
void gatewayWakeParked(struct queue *parked, const char *name);
/* The node's parked timer: fails writers past their deadline, runs those
 * of the databases nothing writes. */
void gatewayParkedTick(struct dqlite_node *n);

#endif /* SERVER_GATEWAY_H */
