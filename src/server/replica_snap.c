/*
 * Snapshots of the replica: taking one every `snapshot_threshold` applied
 * entries, installing one received from the leader, and the leader's side
 * of InstallSnapshot (reading chunks of its snapshot file).
 *
 * Taking: the db thread freezes the databases (a short pause, pages are
 * shared copy-on-write), then a libuv pool thread encodes the frozen state
 * and writes the snapshot file while writers go on; once it is durable the
 * core records it and the log is compacted up to index - trailing.
 *
 * The frozen state streams into the file piece by piece, so the extra
 * memory is one snapshot chunk plus the pages writers change meanwhile.
 */
#include <stdio.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "raftio/snapshot.h"
#include "server/replica_internal.h"

/* ------------------------------------------------- follower: receiving */

struct install_job {
    struct worker_job job;
    struct replica *r;
    uint64_t index;
    uint64_t newest; /* a newer snapshot that superseded this one, or 0 */
    int rv;
};

/* Its file can be gone only when two newer ones arrived before the
 * install ran (the store keeps the two newest): each has an install job
 * queued after this one, so this one and the entries applied in between
 * are skipped until the next install (install_skipped), and no snapshot is
 * taken of the stale state meanwhile. */
int replicaInstallLoad(struct replica *r, uint64_t index, uint64_t *newest)
{
    struct raft_snapshot_meta meta;
    uint8_t *data;
    size_t len;
    uint64_t found = 0;
    *newest = 0;
    int rv = raftioSnapshotLoadAt(&r->fs, index, &meta, &data, &len);
    if (rv == ERR_NOTFOUND && raftioSnapshotNewest(&r->fs, &found) == 0 &&
        found > index) {
        *newest = found;
        r->install_skipped = true;
        return 0;
    }
    if (rv != 0) {
        return rv;
    }
    rv = replSnapshotRestore(&r->repl, data, len);
    if (rv == ERR_BUSY) {
        /* A connection of this node reads (or writes, its node deposed) a
         * database the snapshot replaces: it ends, then the install goes
         * on as on every other node (docs/server.md). */
        unsigned n = replicaEndReaders(r, NULL, REPLICA_ENDED_BY_SNAPSHOT);
        replicaLogf(r, REPLICA_LOG_INFO,
                    "ended %u connection(s) reading databases a snapshot "
                    "install replaces",
                    n);
        rv = replSnapshotRestore(&r->repl, data, len);
    }
    if (rv == 0) {
        r->install_skipped = false;
    }
    raftSnapshotMetaClose(&meta);
    libFree(data);
    return rv;
}

static void installWork(struct worker_job *job)
{
    struct install_job *j = (struct install_job *)job;
    j->rv = replicaInstallLoad(j->r, j->index, &j->newest);
}

static void installDone(struct worker_job *job)
{
    struct install_job *j = (struct install_job *)job;
    struct replica *r = j->r;
    if (!job->canceled) {
        if (j->rv != 0) {
            char what[64];
            snprintf(what, sizeof what, "installing the snapshot at %llu",
                     (unsigned long long)j->index);
            replicaFail(r, what, j->rv);
        } else {
            r->applied = j->index;
            r->snapshot_index = j->index;
            metricsSnapshotInstalled(r->metrics);
            if (j->newest != 0) {
                replicaLogf(r, REPLICA_LOG_INFO,
                            "the leader's snapshot at %llu was superseded "
                            "by the one at %llu before it was installed",
                            (unsigned long long)j->index,
                            (unsigned long long)j->newest);
            } else {
                replicaLogf(r, REPLICA_LOG_INFO,
                            "installed the leader's snapshot at %llu",
                            (unsigned long long)j->index);
            }
            replicaWakeApplied(r);
        }
    }
    libFree(j);
    replicaJobFinished(r);
}

void replicaInstallSnapshot(struct replica *r,
                            const struct raft_snapshot_meta *meta)
{
    struct install_job *j = libCalloc(1, sizeof *j);
    if (j == NULL) {
        replicaFail(r, "installing a snapshot", ERR_NOMEM);
        return;
    }
    j->job.work = installWork;
    j->job.done = installDone;
    j->r = r;
    j->index = meta->index;
    r->apply_queued = meta->index; /* entries after it follow */
    r->jobs_out++;
    workerSubmit(r->worker, &j->job);
}

/* ------------------------------------------------- leader: sending */

struct chunk_read {
    uv_work_t req;
    struct replica *r;
    struct raft_snapshot_read read;
    uint8_t *buf;
    size_t got;
    bool last;
    int rv;
};

static void chunkReadWork(uv_work_t *req)
{
    struct chunk_read *c = req->data;
    c->rv = raftioSnapshotReadChunk(&c->r->fs, c->read.index, c->read.offset,
                                    c->buf, c->read.len, &c->got, &c->last);
}

static void chunkReadDone(uv_work_t *req, int status)
{
    struct chunk_read *c = req->data;
    struct replica *r = c->r;
    if (!r->closing) {
        if (status == 0 && c->rv == 0) {
            raftSnapshotChunk(r->raft, c->read.to, c->read.index,
                              c->read.offset, c->buf, c->got, c->last);
            replicaSnapshotSentLog(r, c->read.to, c->read.index, c->last);
        } else {
            raftReportSnapshot(r->raft, c->read.to, false);
        }
        replicaProcess(r);
    }
    libFree(c->buf);
    libFree(c);
    replicaJobFinished(r);
}

void replicaSnapshotRead(struct replica *r,
                         const struct raft_snapshot_read *read)
{
    struct chunk_read *c = libCalloc(1, sizeof *c);
    uint8_t *buf = libMalloc(read->len);
    if (c == NULL || buf == NULL) {
        libFree(c);
        libFree(buf);
        raftReportSnapshot(r->raft, read->to, false);
        return;
    }
    c->r = r;
    c->read = *read;
    c->buf = buf;
    c->req.data = c;
    r->jobs_out++;
    if (uv_queue_work(r->loop, &c->req, chunkReadWork, chunkReadDone) != 0) {
        r->jobs_out--;
        libFree(buf);
        libFree(c);
        raftReportSnapshot(r->raft, read->to, false);
    }
}

/* ------------------------------------------------- taking snapshots */

struct snap_job {
    struct worker_job job; /* phase 1, db thread: freeze */
    uv_work_t req;         /* phase 2, pool thread: encode and write */
    struct replica *r;
    struct raft_snapshot_meta meta;
    struct repl_snapshot snap;
    uint64_t keep_index; /* raftSnapshotPinned when the job started */
    int rv;
};

static void snapJobFree(struct snap_job *s)
{
    raftSnapshotMetaClose(&s->meta);
    libFree(s);
}

static int snapAppend(void *arg, const void *data, size_t len)
{
    return raftioSnapshotWriterAppend(arg, data, len);
}

/* Pool thread: streams the frozen state into the snapshot file. */
static void snapWriteWork(uv_work_t *req)
{
    struct snap_job *s = req->data;
    struct raftio_snapshot_writer w;
    s->rv = raftioSnapshotWriterOpen(&w, &s->r->fs, &s->meta,
                                     replSnapshotSize(&s->snap),
                                     s->r->o.compress_snapshots);
    if (s->rv == 0) {
        w.keep_index = s->keep_index;
        s->rv = replSnapshotWrite(&s->snap, snapAppend, &w);
        int close_rv = raftioSnapshotWriterClose(&w, s->rv == 0);
        s->rv = s->rv != 0 ? s->rv : close_rv;
    }
    replSnapshotRelease(&s->snap);
}

static void snapOnCompacted(struct raftio_req *req, int status)
{
    if (status != 0) {
        replicaLogf(req->data, REPLICA_LOG_WARN, "log compaction failed: %s",
                    errString(status));
    }
    libFree(req);
}

static void snapCompact(struct replica *r, uint64_t index)
{
    uint64_t trailing = r->o.snapshot_trailing;
    if (index <= trailing) {
        return;
    }
    struct raftio_req *req = libCalloc(1, sizeof *req);
    if (req == NULL) {
        return; /* compaction is an optimization: next snapshot retries */
    }
    req->kind = RAFTIO_REQ_COMPACT;
    req->index = index - trailing;
    req->cb = snapOnCompacted;
    req->data = r;
    raftioWriterSubmit(&r->writer, req);
}

static void snapWriteDone(uv_work_t *req, int status)
{
    struct snap_job *s = req->data;
    struct replica *r = s->r;
    r->snapshot_running = false;
    if (status == 0 && s->rv == 0 && !r->closing) {
        if (raftSnapshotTaken(r->raft, s->meta.index) == 0) {
            r->snapshot_index = s->meta.index;
            replicaSnapshotTakenLog(r, s->meta.index);
            snapCompact(r, s->meta.index);
        }
    } else if (!r->closing) {
        replicaLogf(r, REPLICA_LOG_WARN, "snapshot at %llu failed: %s",
                    (unsigned long long)s->meta.index,
                    errString(status != 0 ? ERR_CANCELED : s->rv));
    }
    snapJobFree(s);
    replicaJobFinished(r);
}

static void snapFreezeWork(struct worker_job *job)
{
    struct snap_job *s = (struct snap_job *)job;
    /* Not the state at s->meta.index while an install is pending. */
    s->rv = s->r->install_skipped ? ERR_BUSY
                                  : replSnapshotTake(&s->r->repl, &s->snap);
}

static void snapFreezeDone(struct worker_job *job)
{
    struct snap_job *s = (struct snap_job *)job;
    struct replica *r = s->r;
    if (job->canceled || s->rv != 0 || r->closing) {
        if (!job->canceled && s->rv == 0) {
            replSnapshotRelease(&s->snap);
        }
        r->snapshot_running = false;
        snapJobFree(s);
        replicaJobFinished(r);
        return;
    }
    s->req.data = s;
    if (uv_queue_work(r->loop, &s->req, snapWriteWork, snapWriteDone) != 0) {
        replSnapshotRelease(&s->snap);
        r->snapshot_running = false;
        snapJobFree(s);
        replicaJobFinished(r);
    }
}

/* Whether the entries applied since the last snapshot hold half the entry
 * cache: a snapshot then lets the core drop them (docs/raft.md, "Memory"),
 * at most once per half the bound written. */
static bool snapCacheFull(const struct replica *r, uint64_t index)
{
    uint64_t half = r->o.entry_cache_bytes / 2;
    return half > 0 && index > r->snapshot_index &&
           raftLogBytes(r->raft, r->snapshot_index, index) >= half;
}

void replicaMaybeSnapshot(struct replica *r)
{
    uint64_t index = r->apply_queued; /* the state once queued jobs ran */
    if (r->snapshot_running || r->closing || r->o.snapshot_threshold == 0 ||
        (index < r->snapshot_index + r->o.snapshot_threshold &&
         !snapCacheFull(r, index))) {
        return;
    }
    struct snap_job *s = libCalloc(1, sizeof *s);
    if (s == NULL) {
        return;
    }
    if (raftSnapshotMetaAt(r->raft, index, &s->meta) != 0) {
        libFree(s);
        return;
    }
    s->r = r;
    s->keep_index = raftSnapshotPinned(r->raft);
    s->job.work = snapFreezeWork;
    s->job.done = snapFreezeDone;
    r->snapshot_running = true;
    r->jobs_out++;
    workerSubmit(r->worker, &s->job);
}
