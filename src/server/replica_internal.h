/*
 * Internal to the replica's files (replica.c: life cycle and the ready
 * driver; replica_apply.c: applying entries and the waits; replica_snap.c:
 * snapshots). Loop thread only, like the rest of the replica.
 */
#ifndef SERVER_REPLICA_INTERNAL_H
#define SERVER_REPLICA_INTERNAL_H

#include <stddef.h>

#include "server/metrics.h"
#include "server/replica.h"

#define REPLICA_OF(ptr, field) \
    ((struct replica *)(void *)((char *)(ptr)-offsetof(struct replica, field)))

uint64_t replicaNowMs(const struct replica *r);

/* Log levels (the values of dqlite.h's DQLITE_LOG_*). */
enum { REPLICA_LOG_INFO = 1, REPLICA_LOG_WARN = 2, REPLICA_LOG_ERROR = 3 };
/* Converts a dqlite 1.11 data directory in place, once (replica_upgrade.c,
 * docs/disk-format.md §5); nothing to do on any other directory. On error
 * `errmsg` names the file that stopped it and the 1.11 files are intact. */
int serverUpgradeDir(const char *dir, raftio_logger_fn logger, void *arg,
                     char *errmsg, size_t errmsg_len);

void replicaLogf(const struct replica *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One line and a count per snapshot taken, and per snapshot sent once its
 * last chunk went out (replica_log.c). */
void replicaSnapshotTakenLog(struct replica *r, uint64_t index);
void replicaSnapshotSentLog(struct replica *r, uint64_t to, uint64_t index,
                            bool last);

/* The batch's durable writes are done (or failed). */
void replicaAfterPersist(struct replica *r);
/* One of the batch's durable writes completed with `status`. */
void replicaPersistDone(struct replica *r, int status);
/* Queues a request for the log writer thread (APPEND takes the batch's
 * entries). */
int replicaSubmit(struct replica *r, enum raftio_req_kind kind, uint64_t index,
                  uint64_t vote);
/* Stops serving after an unrecoverable failure (logged once). */
void replicaFail(struct replica *r, const char *what, int rv);
/* A worker or pool job of the replica ended. */
void replicaJobFinished(struct replica *r);

/* replica_apply.c */
void replicaApplyCommitted(struct replica *r, const struct raft_entry *entries,
                           uint64_t first_index, unsigned n);
void replicaReadsReady(struct replica *r, const struct raft_read_state *reads,
                       unsigned n);
void replicaFailWaits(struct replica *r, int status);
/* The log has waited for disk space too long: ends proposals, barriers
 * and reads with ERR_NOSPACE and fences later writes (nospace_fence). */
void replicaFailNoSpace(struct replica *r);
/* Ends the transfer waits with `status`. */
void replicaTransferDone(struct replica *r, int status);
/* Resolves role waits that are reached or past their deadline. */
void replicaCheckRoles(struct replica *r);
/* Wakes barriers and confirmed reads whose index is applied. */
void replicaWakeApplied(struct replica *r);

/* replica_snap.c */
void replicaInstallSnapshot(struct replica *r,
                            const struct raft_snapshot_meta *meta);
/* Db thread: restores the state from the snapshot file at `index`. When
 * that file was superseded (*newest: the newer one's index, else 0) it
 * sets install_skipped instead and returns 0. */
int replicaInstallLoad(struct replica *r, uint64_t index, uint64_t *newest);

/* Db thread: ends what the connections of this node hold on database
 * `name` (every database when NULL) so that it can be replaced: running
 * statements are reset (their connection's `ended` set to `why`), open
 * transactions rolled back. Returns how many connections it touched. */
unsigned replicaEndReaders(struct replica *r, const char *name,
                           const char *why);

#define REPLICA_ENDED_BY_LOAD "database replaced by a restore"
#define REPLICA_ENDED_BY_SNAPSHOT "database replaced by a snapshot install"

void replicaSnapshotRead(struct replica *r,
                         const struct raft_snapshot_read *read);
void replicaMaybeSnapshot(struct replica *r);

#endif /* SERVER_REPLICA_INTERNAL_H */
