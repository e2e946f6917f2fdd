/*
 * The deterministic cluster simulator: shared declarations.
 *
 * One seed drives everything: a cluster of 1-7 raft cores (src/raft) over a
 * simulated network (loss, delay, reordering, duplication, partitions of
 * every shape) and simulated disks (write latency, crashes losing what was
 * not durable, torn last writes, failing writes), with skewed clocks,
 * membership changes and leadership transfers in the middle of faults.
 * Invariants are checked after every event (check.c); a failing seed
 * prints a readable trace and reproduces exactly with --seed.
 *
 * Files: world.c (event queue, network, trace), node.c (driving one core:
 * ready batches, disk, application, crash/restart), check.c (invariants),
 * main.c (scenarios and the command line).
 */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define SIM_MAX_NODES 7

/* ------------------------------------------------------------ random */

uint64_t simRand(void);
/* Uniform in [lo, hi]. */
uint64_t simRange(uint64_t lo, uint64_t hi);
/* True with probability permille / 1000. */
bool simChance(unsigned permille);

/* ------------------------------------------------------------ logs */

struct sim_lentry {
    struct raft_entry e; /* holds a payload reference */
    uint64_t chain;      /* hash of the log prefix ending here */
};

/* A log with a base: entries first .. first + n - 1, and the prefix hash
 * of the entry at first - 1 (0 for an empty prefix). Used both for the
 * durable disk log and for the mirror of what each core holds. */
struct sim_log {
    struct sim_lentry *a;
    size_t n;
    size_t cap;
    uint64_t first;
    uint64_t base_term;
    uint64_t base_chain;
};

uint64_t simChain(uint64_t prev, uint64_t index, const struct raft_entry *e);
void simLogInit(struct sim_log *l);
void simLogClose(struct sim_log *l);
uint64_t simLogLast(const struct sim_log *l);
uint64_t simLogTerm(const struct sim_log *l, uint64_t index);
void simLogTruncate(struct sim_log *l, uint64_t from);
/* Appends at index simLogLast + 1; returns the new prefix hash. */
uint64_t simLogAppend(struct sim_log *l, const struct raft_entry *e);
void simLogReset(struct sim_log *l, uint64_t index, uint64_t term,
                 uint64_t chain);
void simLogCompact(struct sim_log *l, uint64_t upto);
void simLogCopy(struct sim_log *dst, const struct sim_log *src);

/* ------------------------------------------------------------ nodes */

struct sim_disk {
    struct raft_hard_state hs;
    struct sim_log log;
    bool has_snap;
    struct raft_snapshot_meta meta;
    uint8_t *snap; /* libMalloc-ed */
    size_t snap_len;
    /* The previous snapshot, kept readable like raftio keeps the two
     * newest: a transfer of it may go on. */
    uint64_t prev_index;
    uint8_t *prev_snap;
    size_t prev_snap_len;
    uint64_t pin_index; /* an older one a transfer still reads */
    uint8_t *pin_snap;
    size_t pin_snap_len;
    uint8_t *incoming; /* snapshot file being received */
    size_t incoming_len;
    bool ever; /* holds any state (bootstrapped or contacted) */
};

struct sim_node {
    uint64_t id;
    bool up;
    bool stopped; /* removed from the cluster for good */
    unsigned gen; /* bumped by crashes: stale events are dropped */
    struct raft *r;
    struct sim_disk disk;
    struct sim_log mirror; /* what the core holds (handed out) */
    /* The application: a hash chain over applied entries. */
    uint64_t applied;
    uint64_t app_chain;
    uint64_t app_term;
    /* An outstanding ready batch being written. */
    bool writing;
    struct raft_ready rd;
    /* Clock skew: local = offset + global * rate / 1000. */
    unsigned rate_permille;
    uint64_t clock_offset_ms;
    /* Leader append-only tracking. */
    uint64_t lead_term;
    uint64_t lead_last;
    uint64_t lead_last_term;
};

/* ------------------------------------------------------------ world */

enum sim_event_kind {
    EV_DELIVER = 1,
    EV_DISK_DONE,
    EV_TICK,
    EV_FAULT,
    EV_PROPOSE,
    EV_RESTART, /* a supervisor restarts a crashed node */
};

struct sim_event {
    uint64_t at_ms;
    uint64_t seq;
    int kind;
    int node; /* destination / subject (index into nodes) */
    unsigned gen;
    uint8_t *buf; /* EV_DELIVER: encoded message (libMalloc-ed) */
    size_t len;
};

struct sim_config {
    unsigned n_nodes;
    unsigned n_initial; /* bootstrapped voters: nodes 0..n_initial-1 */
    struct raft_options opts;
    unsigned loss_permille;
    unsigned dup_permille;
    unsigned delay_min_ms;
    unsigned delay_max_ms;
    unsigned disk_min_ms;
    unsigned disk_max_ms;
    unsigned disk_fail_permille;
    unsigned snapshot_every; /* applied entries between snapshots */
    uint64_t fault_until_ms; /* faults stop, everything heals */
    uint64_t deadline_ms;    /* liveness bound after healing */
    bool faults;
    bool membership;
    bool slow_snapshots; /* transfers outlast the snapshot interval */
    bool small_cache;    /* an entry cache of a few entries (finding 10) */
};

struct sim_world {
    uint64_t seed;
    uint64_t now_ms;
    struct sim_config cfg;
    struct sim_node nodes[SIM_MAX_NODES];
    bool link[SIM_MAX_NODES][SIM_MAX_NODES]; /* from -> to delivers */
    struct sim_event *heap;
    size_t n_heap;
    size_t cap_heap;
    uint64_t seq;
    bool healed;
    uint64_t proposals;
    uint64_t read_ctx;
    uint64_t events;
};

/* Counters over all seeds of a run (per job), to show the faults happen. */
struct sim_stats {
    uint64_t seeds, events, crashes, torn, write_failures, snapshots_taken,
        installs, elections, transfers, reads, changes, rollbacks, committed,
        forged, shortened, notices, lease_reads, follower_reads,
        follower_reads_failed;
};

extern struct sim_world *W;
extern struct sim_stats sim_stats;

void simPush(uint64_t at_ms, int kind, int node, uint8_t *buf, size_t len);
bool simPop(struct sim_event *ev);
void simWorldClose(void);
void simSendMessage(int from, const struct raft_message *m);
void simHealNetwork(void);

/* Trace: a ring of recent lines, printed in full when a seed fails. */
void simTrace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void simTraceDump(void);
extern bool sim_verbose;
_Noreturn void simFail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* node.c */
int simNodeIndex(uint64_t id);
void simNodeStart(int i);
void simNodeCrash(int i, bool torn);
void simNodePump(int i);
void simNodeDiskDone(int i);
void simNodeTick(int i);
void simNodeDeliver(int i, const uint8_t *buf, size_t len);
uint64_t simNodeNow(int i);
void simNodeClose(int i);
int simLeader(void);
void simNodeDropSnapshots(int i);

/* forge.c */
void simForge(void);
void simShortenLog(void);

/* check.c */
void simCheckInit(void);
void simCheckClose(void);
void simCheckStep(void);
void simCheckAppend(int i, uint64_t index, uint64_t term, uint64_t chain,
                    bool durable);
void simCheckApply(int i, uint64_t index, uint64_t term, uint64_t chain);
void simCheckCache(int i);
void simCheckLeader(int i);
void simCheckLeaderMessage(int i, const struct raft_message *m);
void simCheckReadStart(uint64_t ctx);
void simCheckRead(int i, uint64_t ctx, uint64_t index);
uint64_t simCheckChainAt(uint64_t index, uint64_t term, bool *found);
uint64_t simCheckCommitted(void);

#endif /* SIM_SIM_H */
