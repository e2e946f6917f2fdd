/*
 * The internals of a raft node shared by the core's files: the state of
 * `struct raft`, per-follower replication progress, and the functions the
 * files call across each other. Nothing here is visible outside src/raft.
 *
 * Files: core.c (creation, views, role transitions, timers), election.c
 * (votes, pre-vote, TimeoutNow), replication.c (AppendEntries both ways,
 * commit), snapshot.c (compaction, InstallSnapshot both ways), member.c
 * (configuration tracking and changes, transfer), read.c (read-index),
 * ready.c (output batches), outbox.c (queued messages).
 */
#ifndef RAFT_CORE_H
#define RAFT_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "raft/log.h"
#include "raft/raft.h"

/* Largest index or term a message may carry: far beyond any real log, and
 * far enough from UINT64_MAX that index + 1 and term + 1 cannot wrap. */
#define RAFT_INDEX_MAX (UINT64_MAX >> 2)

enum raft_progress_mode {
    PROGRESS_PROBE = 0,    /* one append at a time until a match is found */
    PROGRESS_PIPELINE = 1, /* optimistic, bounded by the in-flight window */
    PROGRESS_SNAPSHOT = 2, /* an InstallSnapshot is under way */
};

struct raft_inflight {
    uint64_t last_index; /* last entry the append carried */
    size_t bytes;
};

/* What the leader knows about one other server. */
struct raft_progress {
    uint64_t id;
    uint64_t next;  /* next index to send */
    uint64_t match; /* highest index known replicated */
    int mode;
    bool probe_sent;    /* probe mode: an append is waiting for its answer */
    bool recent_active; /* heard from since the last check-quorum */
    bool vote_granted;  /* candidate: granted its (pre-)vote */
    bool vote_answered;
    uint64_t last_send_ms;
    uint64_t read_ack; /* highest read_seq acknowledged */
    /* Lease: start time of the newest round this follower acknowledged
     * while holding the configuration we act on (lease_acked: any yet
     * in this term). */
    bool lease_acked;
    uint64_t lease_ack_ms;
    uint64_t hb_match; /* match at the previous heartbeat round */
    /* Pipeline window: a ring of max_inflight_msgs. */
    struct raft_inflight *inflight;
    unsigned in_head;
    unsigned in_count;
    size_t in_bytes;
    /* Snapshot mode. */
    uint64_t snap_index;
    uint64_t snap_term;
    uint64_t snap_offset; /* next byte to send */
    bool snap_reading;    /* a raft_snapshot_read is out */
    bool snap_sending;    /* a chunk is out, waiting for its answer */
    bool transfer_sent;   /* TimeoutNow went out to this follower */
    uint64_t snap_sent_ms;
    unsigned snap_failures; /* reads or sends failed in a row */
    /* Compaction stops here (0: no hold): a snapshot is in flight to this
     * follower, or it installed one and is catching up on the entries
     * after it. */
    uint64_t hold_index;
    /* An answer said the follower lacks entries up to its match: when the
     * first one came (a late answer to something sent before the match
     * was learnt says the same once; a follower that lost data says it
     * again to every heartbeat). */
    bool regress_seen;
    uint64_t regress_ms;
};

/* Read rounds whose start time the leader remembers for its lease. */
#define RAFT_LEASE_ROUNDS 256

struct raft_pending_read {
    uint64_t ctx;
    uint64_t index;
    uint64_t seq;  /* 0: waiting for an entry of this term to commit */
    uint64_t from; /* a follower's ReadIndex (answered by message); 0: ours */
};

/* Follower: a ReadIndex sent to the leader, waiting for its answer. */
struct raft_remote_read {
    uint64_t ctx;
    uint64_t term;   /* the answer must come in this term */
    uint64_t leader; /* ...from this leader */
    uint64_t start_ms;
};

/* A growable array of outgoing messages. */
struct raft_outbox {
    struct raft_send *sends;
    unsigned n;
    unsigned cap;
};

struct raft {
    uint64_t id;
    struct raft_options o;
    uint64_t rng;
    uint64_t now_ms;

    /* Persistent state and the log. */
    uint64_t term;
    uint64_t vote;
    bool hs_dirty;
    struct raft_log log;
    uint64_t stable;        /* entries up to here are durable */
    uint64_t persist_from;  /* first entry not yet handed out */
    uint64_t truncate_from; /* pending truncation for the next batch */

    uint64_t commit;
    uint64_t applied; /* last committed entry handed out */

    /* Configuration in effect (latest appended) and the last snapshot. */
    struct raft_configuration conf;
    uint64_t conf_index;
    bool has_snap;
    struct raft_snapshot_meta snap;
    /* The one before: the I/O layer keeps the two newest snapshots, so a
     * transfer of the previous one may go on when a newer one is taken. */
    bool has_prev_snap;
    struct raft_snapshot_meta prev_snap;
    /* An older one still being sent to a follower (raftSnapshotPinned):
     * the I/O layer keeps it readable until the transfer ends. */
    bool has_pin_snap;
    struct raft_snapshot_meta pin_snap;

    /* Role. */
    int state;
    uint64_t leader_id;
    bool pre_voting;
    uint64_t election_start_ms; /* election timer reset point */
    uint64_t election_rand_ms;  /* this round's randomized timeout */
    uint64_t leader_contact_ms; /* last time a leader was heard */
    bool leader_contacted;

    /* Leader. */
    struct raft_progress *prs; /* one per other server in conf */
    unsigned n_prs;
    uint64_t heartbeat_ms;
    uint64_t quorum_check_ms;
    uint64_t transfer_target;
    uint64_t transfer_start_ms;
    uint64_t promotee; /* server catching up before promotion */
    int promotee_role;
    uint64_t promotee_round_index;
    uint64_t promotee_round_ms;
    uint64_t promotee_start_ms;

    /* Read-index. */
    struct raft_pending_read *pending_reads;
    unsigned n_pending_reads;
    uint64_t read_seq;
    /* Leader lease: when round `seq` started (round_ms[seq % N], for the
     * newest N rounds); a transfer began in this term (no lease until the
     * next one); when this node started, and whether it had been in a
     * term before (then it refuses votes for an election timeout after
     * starting: it may have acknowledged a lease just before it stopped). */
    uint64_t round_ms[RAFT_LEASE_ROUNDS];
    bool lease_ended;
    uint64_t start_ms;
    bool restarted;
    struct raft_read_state *reads; /* ready for the next batch */
    unsigned n_reads;
    /* Follower reads: ReadIndex requests out to the leader; when this
     * follower last caught up with the commit index its leader sent. */
    struct raft_remote_read *remote_reads;
    unsigned n_remote_reads;
    bool fresh_seen;
    uint64_t fresh_ms;
    uint64_t fresh_index;

    /* Follower: incoming snapshot. */
    uint64_t in_snap_index;
    uint64_t in_snap_term;
    uint64_t in_snap_offset;
    bool has_chunk;
    struct raft_snapshot_write chunk; /* data is a payload reference */
    bool has_install;
    struct raft_snapshot_meta install;

    /* Outputs waiting for the next batch. */
    struct raft_outbox out_now;
    struct raft_outbox out_after;
    struct raft_snapshot_read *snap_reads;
    unsigned n_snap_reads;
    bool transfer_failed;
    bool conf_rolled_back;

    /* Notifications: what the last batch reported. */
    int rep_state;
    uint64_t rep_leader;
    uint64_t rep_term;
    uint64_t rep_conf_index;
    bool rep_conf_committed;

    /* Notices for the next batch, and counts since creation. */
    unsigned n_notices;
    struct raft_notice notice;
    uint64_t notice_counts[RAFT_NOTICE_KINDS];

    bool batch_out; /* a ready batch is outstanding */
    bool batch_hs;  /* ...and it writes the hard state (raftSendNow waits) */
    struct raft_configuration batch_conf; /* addresses of the batch */
};

/* core.c */
uint64_t raftRandom(struct raft *r);
void raftResetElectionTimer(struct raft *r);
void raftBecomeFollower(struct raft *r, uint64_t term, uint64_t leader);
int raftBecomeLeader(struct raft *r);
bool raftIsVoter(const struct raft *r, uint64_t id);
bool raftMayCampaign(const struct raft *r);
unsigned raftQuorum(const struct raft *r);
struct raft_progress *raftProgress(struct raft *r, uint64_t id);
int raftAppendLocal(struct raft *r, uint8_t type, uint8_t *data, size_t len);
void raftNotice(struct raft *r, int kind, const struct raft_message *m,
                uint64_t index, uint64_t last);

/* outbox.c */
void outboxClose(struct raft_outbox *o);
/* Moves every message of `now` in front of those of `after`: used when the
 * batch changes the hard state, since nothing may leave a node before the
 * term and vote it acted under are durable (a lone voter elects itself
 * within one call, before its vote is written). */
int outboxHoldAll(struct raft_outbox *now, struct raft_outbox *after);
/* Queues `m` (taking over what it owns, even on failure). */
int raftSend(struct raft *r, struct raft_message *m, bool after_persist);

/* election.c */
int raftCampaign(struct raft *r, bool pre_vote, bool transfer);
int raftStepVote(struct raft *r, const struct raft_message *m);
int raftStepVoteResult(struct raft *r, const struct raft_message *m);
int raftStepTimeoutNow(struct raft *r, const struct raft_message *m);
int raftStepReadIndex(struct raft *r, const struct raft_message *m);
int raftStepReadIndexResult(struct raft *r, const struct raft_message *m);
int raftRemoteReadsCheck(struct raft *r);

/* replication.c */
int raftSendAppend(struct raft *r, struct raft_progress *pr, bool heartbeat);
int raftBroadcastAppend(struct raft *r, bool heartbeat);
int raftHeartbeat(struct raft *r);
int raftStepAppend(struct raft *r, const struct raft_message *m);
void raftNoteLeader(struct raft *r, uint64_t leader);
uint64_t raftAppendCommitted(const struct raft *r, const struct raft_append *a);
bool raftAppendSane(const struct raft_message *m);
int raftStepAppendResult(struct raft *r, const struct raft_message *m);
int raftMaybeCommit(struct raft *r);
void raftProgressReset(struct raft *r, struct raft_progress *pr);
void raftTruncateLog(struct raft *r, uint64_t from);

/* snapshot.c */
int raftConfAt(const struct raft *r, uint64_t index,
               struct raft_configuration *conf, uint64_t *conf_index);
int raftSendSnapshot(struct raft *r, struct raft_progress *pr);
int raftStepSnapshot(struct raft *r, const struct raft_message *m);
int raftStepSnapshotResult(struct raft *r, const struct raft_message *m);
int raftSnapshotTick(struct raft *r);
bool raftSnapshotSane(const struct raft_message *m);
uint64_t raftCompactionBound(const struct raft *r, uint64_t upto);
/* Drops entries a snapshot covers while the log holds more than
 * entry_cache_bytes (within raftCompactionBound). */
void raftCacheTrim(struct raft *r);

/* member.c */
int raftConfRebuild(struct raft *r);
int raftConfOnAppend(struct raft *r, const struct raft_entry *e,
                     uint64_t index);
int raftConfRollback(struct raft *r);
int raftProgressRebuild(struct raft *r);
int raftOnCommitAdvance(struct raft *r, uint64_t old_commit);
int raftPromoteeCheck(struct raft *r, struct raft_progress *pr);
int raftTransferCheck(struct raft *r, struct raft_progress *pr);
int raftLeaderTick(struct raft *r);

/* read.c */
void raftReadNewRound(struct raft *r);
void raftLeaseAck(struct raft *r, struct raft_progress *pr, uint64_t seq);
int raftReadStartRounds(struct raft *r);
int raftReadCheck(struct raft *r);
void raftReadDrop(struct raft *r);

#endif /* RAFT_CORE_H */
