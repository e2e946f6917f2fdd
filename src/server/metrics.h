/*
 * The node's metrics (docs/operations.md, "Metrics"): counters and
 * histograms the loop updates with one-line calls, and the snapshot the
 * HTTP threads print as /metrics and judge /healthz and /readyz by.
 *
 * Why a snapshot: the HTTP listener's threads must not touch the raft core
 * or the connection list, which belong to the node's loop. The loop keeps
 * `live` (its own, no locking) and copies it, with the raft state read at
 * that moment, into `published` under `mu` every METRICS_PUBLISH_MS and on
 * every role change; a reader copies `published` out under the same mutex.
 * So /metrics is at most METRICS_PUBLISH_MS old, and a scrape costs the
 * loop nothing but one short mutex hold per publish.
 */
#ifndef SERVER_METRICS_H
#define SERVER_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "raftio/writer.h"

#define METRICS_PUBLISH_MS 250
/* Databases counted by name; statements of any further database are
 * counted under the name METRICS_OTHER_DB. */
#define METRICS_MAX_DBS 64
#define METRICS_DB_NAME_MAX 64
#define METRICS_OTHER_DB "(other)"
#define METRICS_MAX_PEERS 16
#define METRICS_ADDRESS_MAX 256
/* /readyz: the applied index may trail the commit index by this many
 * entries (a follower catching up is not ready); ?max_lag=N overrides. */
#define METRICS_READY_MAX_LAG 1000
/* /healthz and /readyz fail when the loop published nothing for this long
 * (a stuck loop serves nothing). */
#define METRICS_STALE_MS 5000

/* Latency histogram, upper bounds in microseconds (the writer's fsync
 * buckets, raftio/writer.h), plus +Inf. */
#define METRICS_BUCKETS (RAFTIO_SYNC_BUCKETS + 1)
struct metrics_histogram {
    uint64_t counts[METRICS_BUCKETS]; /* not cumulative */
    uint64_t sum_us;
    uint64_t n;
};

struct metrics_db {
    char name[METRICS_DB_NAME_MAX];
    uint64_t statements; /* EXEC, QUERY, EXEC_SQL, QUERY_SQL answered */
    uint64_t errors;     /* ...with a FAILURE */
};

struct metrics_peer {
    uint64_t id;
    char address[METRICS_ADDRESS_MAX];
    int role;       /* RAFT_VOTER, RAFT_STANDBY, RAFT_SPARE */
    uint64_t match; /* leader only: highest index known replicated */
};

struct metrics_snapshot {
    /* Raft state, read at publish. */
    uint64_t id;
    int state; /* DQLITE_FOLLOWER... DQLITE_REMOVED */
    uint64_t leader_id;
    char leader_address[METRICS_ADDRESS_MAX];
    uint64_t term;
    uint64_t commit_index;
    uint64_t applied_index;
    uint64_t last_index;
    uint64_t snapshot_index;
    bool member;            /* this node is in its configuration */
    bool failed;            /* stopped serving for good (a fatal error) */
    bool waiting_for_space; /* the log waits for disk space */
    struct metrics_peer peers[METRICS_MAX_PEERS];
    unsigned n_peers;
    unsigned connections;
    unsigned queued_writers;
    uint64_t published_ms; /* CLOCK_MONOTONIC */
    /* Counters since start. */
    uint64_t entries_proposed;
    uint64_t bytes_proposed;
    uint64_t snapshots_taken;
    uint64_t snapshots_sent;
    uint64_t snapshots_installed;
    uint64_t elections; /* times this node became candidate */
    uint64_t leader_changes;
    uint64_t fsyncs;
    struct metrics_histogram commit;
    struct metrics_histogram fsync;
    struct metrics_db dbs[METRICS_MAX_DBS];
    unsigned n_dbs;
};

struct metrics {
    struct metrics_snapshot live; /* the loop's */
    pthread_mutex_t mu;
    struct metrics_snapshot published; /* mu */
};

void metricsInit(struct metrics *m);
void metricsClose(struct metrics *m);

/* Monotonic clock in microseconds (for commit latency stamps). */
uint64_t metricsNowUs(void);

/* Loop thread; each accepts m == NULL (no metrics). */
void metricsProposed(struct metrics *m, uint64_t start_us, size_t bytes);
void metricsCommitted(struct metrics *m, uint64_t start_us);
void metricsSnapshotTaken(struct metrics *m);
void metricsSnapshotSent(struct metrics *m);
void metricsSnapshotInstalled(struct metrics *m);
void metricsStateChanged(struct metrics *m, int state, bool leader_changed);
/* A request finished (db NULL before OPEN); only statements count. */
void metricsRequestDone(struct metrics *m, const char *db, int type);
void metricsRequestFailed(struct metrics *m, const char *db, int type);
/* The writer's fsync figures (copied at publish). */
void metricsSyncs(struct metrics *m, const struct raftio_writer_stats *s);

/* Loop thread: copies live into published (gauges already filled in
 * live by the caller). */
void metricsPublish(struct metrics *m);

/* Any thread: a copy of the published snapshot. */
void metricsRead(struct metrics *m, struct metrics_snapshot *out);

/* Prints the snapshot in Prometheus' text format (version 0.0.4), with
 * the process' resident memory; returns a malloc()ed NUL-terminated text
 * (NULL: out of memory). */
char *metricsFormat(const struct metrics_snapshot *s, size_t *len);

/* /readyz's judgement: NULL when ready, else why not (a static text). */
const char *metricsNotReady(const struct metrics_snapshot *s, uint64_t now_ms,
                            uint64_t max_lag);

/* Names for logs and labels: "follower", "candidate", "leader",
 * "removed"; roles "voter", "standby", "spare". */
const char *metricsStateName(int state);
const char *metricsRoleName(int role);

#endif /* SERVER_METRICS_H */
