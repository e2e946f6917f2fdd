/*
 * The replica's lines for the operator about snapshots (docs/operations.md,
 * "Logs"), with their counters: kept apart so the snapshot code carries
 * one call per event.
 */
#include <stdbool.h>
#include <stdint.h>

#include "raft/raft.h"
#include "server/metrics.h"
#include "server/replica_internal.h"

void replicaSnapshotTakenLog(struct replica *r, uint64_t index)
{
    metricsSnapshotTaken(r->metrics);
    replicaLogf(r, REPLICA_LOG_INFO, "took a snapshot at index %llu",
                (unsigned long long)index);
}

void replicaSnapshotSentLog(struct replica *r, uint64_t to, uint64_t index,
                            bool last)
{
    const struct raft_server *s;
    if (!last) {
        return;
    }
    s = raftConfGet(raftConfiguration(r->raft), to);
    metricsSnapshotSent(r->metrics);
    replicaLogf(r, REPLICA_LOG_INFO,
                "sent the snapshot at index %llu to node %llu (%s)",
                (unsigned long long)index, (unsigned long long)to,
                s != NULL ? s->address : "?");
}
