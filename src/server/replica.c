/*
 * The replica's life cycle and its ready/advance driver (see replica.h).
 *
 * One ready batch is carried out at a time, in the order raft.h demands:
 * send `messages`; hand the durable writes (truncate, append, hard state,
 * snapshot chunk) to the group-commit writer; once every one of them is
 * durable send `messages_after_persist`, install a received snapshot, queue
 * the committed entries for the db thread, record read-index results; then
 * raftAdvance and look for the next batch. Proposals made while a sync is
 * in flight accumulate in the core and are written together in the next
 * batch: that is the group commit. Their AppendEntries, and heartbeats,
 * do not wait for the sync: raftSendNow hands them out meanwhile (the
 * leader replicates while it writes, raft §10.2.1).
 *
 * A failed durable write stops the replica (fail-stop, logged): the core
 * was promised durability it did not get, so continuing could acknowledge
 * lost data. The node then refuses to serve until restarted.
 */
#include "server/replica.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "raftio/meta.h"
#include "raftio/snapshot.h"
#include "server/replica_internal.h"

/* Period of raft's clock. */
#define REPLICA_TICK_MS 10
/* A batch appending at most this many payload bytes while the log writer
 * is idle is written and synced by the loop thread itself (writer.h): a
 * lone commit then crosses no thread on its way to the disk (issue 17). */
#define REPLICA_INLINE_SYNC_BYTES ((size_t)64 << 10)
/* How often a replica that stopped serving says so again. */
#define REPLICA_FAIL_REMIND_MS 60000
/* How long waits may go unanswered while the log waits for disk space. */
#define REPLICA_NOSPACE_ANSWER_MS 1000
/* First wait before a write that found the disk full is tried again; the
 * wait doubles up to ten times this. */
#define REPLICA_NOSPACE_RETRY_MS 100

/* CLOCK_MONOTONIC (uv_hrtime), read afresh: a leader's lease is judged
 * against it (docs/raft.md "Leader leases"), where uv_now's cached loop
 * time could lag behind a long callback or a pause. */
uint64_t replicaNowMs(const struct replica *r)
{
    (void)r;
    return uv_hrtime() / 1000000;
}

static uint64_t replicaSeed(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
        seed = uv_hrtime();
    }
    return seed;
}

/* Writes the first configuration of a new cluster: this node, voter. */
static int replicaBootstrap(struct replica *r, struct raft_entry *entry)
{
    struct raft_configuration conf;
    raftConfInit(&conf);
    int rv = raftConfAdd(&conf, r->o.id, r->o.address, RAFT_VOTER);
    if (rv == 0) {
        rv = raftBootstrapEntry(&conf, entry);
    }
    raftConfClose(&conf);
    if (rv != 0) {
        return rv;
    }
    rv = raftioLogAppend(&r->log, 1, entry, 1);
    if (rv == 0) {
        rv = raftioLogSync(&r->log);
    }
    if (rv != 0) {
        raftPayloadUnref(entry->data);
    }
    return rv;
}

/* What was found on disk. */
struct replica_disk {
    struct raft_hard_state hs;
    bool has_snap;
    struct raft_snapshot_meta snap;
    uint8_t *snap_data;
    size_t snap_len;
    struct raftio_loaded loaded;
    struct raft_entry boot; /* bootstrap entry, when written now */
};

static void replicaDiskFree(struct replica_disk *d)
{
    if (d->has_snap) {
        raftSnapshotMetaClose(&d->snap);
    }
    libFree(d->snap_data);
    raftioLoadedFree(&d->loaded);
    if (d->boot.data != NULL) {
        raftPayloadUnref(d->boot.data);
    }
}

void replicaLogf(const struct replica *r, int level, const char *fmt, ...)
{
    char line[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    if (r->o.log != NULL) {
        r->o.log(r->o.log_arg, level, line);
    }
}

/* raftio's levels are the same numbers as ours. */
static void replicaLogNote(void *arg, int level, const char *msg)
{
    replicaLogf(arg, level, "raft log: %s", msg);
}

/* A log that ends at or before the snapshot (a crash between installing a
 * snapshot and dropping the log it covers) holds nothing the snapshot does
 * not: it is dropped, and the entries after the snapshot start a new one. */
static int replicaDropCoveredLog(struct replica *r, struct replica_disk *d)
{
    uint64_t last = d->loaded.first_index + d->loaded.n_entries - 1;
    if (!d->has_snap || d->loaded.n_entries == 0 || last > d->snap.index) {
        return 0;
    }
    replicaLogf(r, REPLICA_LOG_WARN,
                "raft log ends at %llu, within the snapshot at %llu: "
                "dropped, the next entries start a new log",
                (unsigned long long)last, (unsigned long long)d->snap.index);
    raftioLoadedFree(&d->loaded);
    d->loaded = (struct raftio_loaded){0};
    return raftioLogReset(&r->log);
}

static void replicaLogUpgrade(void *arg, int level, const char *msg)
{
    replicaLogf(arg, level, "%s", msg);
}

static int replicaLoad(struct replica *r, struct replica_disk *d)
{
    struct raftio_log_options log_opts = {.logger = replicaLogNote,
                                          .logger_arg = r};
    int rv = raftioMetaLoad(&r->fs, &d->hs.term, &d->hs.vote);
    if (rv != 0) {
        return rv;
    }
    unsigned stale = raftioSnapshotRemoveTemps(&r->fs, UINT64_MAX);
    if (stale > 0) {
        replicaLogf(r, REPLICA_LOG_INFO,
                    "removed %u unfinished snapshot file(s) (snap-*.tmp)",
                    stale);
    }
    rv = raftioSnapshotLoad(&r->fs, &d->snap, &d->snap_data, &d->snap_len);
    if (rv == 0) {
        d->has_snap = true;
    } else if (rv != ERR_NOTFOUND) {
        return rv;
    }
    if (d->has_snap && r->o.entry_cache_bytes != 0) {
        /* of the entries the snapshot covers, only what the core keeps */
        log_opts.keep_before = d->snap.index;
        log_opts.keep_bytes = r->o.entry_cache_bytes;
    }
    rv = raftioLogOpen(&r->log, &r->fs, &log_opts, &d->loaded);
    if (rv != 0) {
        return rv;
    }
    if (d->loaded.dropped > 0) {
        replicaLogf(r, REPLICA_LOG_INFO,
                    "raft log: %llu entries the snapshot at %llu covers left "
                    "on disk (entry cache bound %llu bytes)",
                    (unsigned long long)d->loaded.dropped,
                    (unsigned long long)d->snap.index,
                    (unsigned long long)r->o.entry_cache_bytes);
    }
    rv = replicaDropCoveredLog(r, d);
    if (rv != 0) {
        return rv;
    }
    if (r->o.bootstrap && !d->has_snap && d->loaded.n_entries == 0 &&
        d->hs.term == 0) {
        rv = replicaBootstrap(r, &d->boot);
    }
    return rv;
}

static int replicaCreateCore(struct replica *r, struct replica_disk *d)
{
    struct raft_options ro;
    const struct raft_entry *entries = d->loaded.entries;
    unsigned n = (unsigned)d->loaded.n_entries;
    uint64_t first = d->loaded.first_index;
    raftOptionsDefault(&ro);
    ro.election_timeout_ms = r->o.election_ms;
    ro.heartbeat_timeout_ms = r->o.heartbeat_ms;
    ro.seed = replicaSeed();
    ro.snapshot_trailing = r->o.snapshot_trailing;
    ro.entry_cache_bytes = (size_t)r->o.entry_cache_bytes;
    ro.read_lease = r->o.read_lease;
    if (d->boot.data != NULL) {
        entries = &d->boot;
        n = 1;
        first = 1;
    }
    if (n == 0) {
        first = d->has_snap ? d->snap.index + 1 : 1;
    }
    return raftCreate(r->o.id, &ro, &d->hs, d->has_snap ? &d->snap : NULL,
                      entries, n, first, replicaNowMs(r), &r->raft);
}

/* The databases come back from the newest snapshot; the log entries after
 * it are applied again as the core hands them out as committed. */
static int replicaRestoreState(struct replica *r, struct replica_disk *d)
{
    char name[64];
    snprintf(name, sizeof name, "dqlite-%llu-%p", (unsigned long long)r->o.id,
             (void *)r);
    int rv = vfsCreate(name, &r->vfs);
    if (rv != 0) {
        return rv;
    }
    replInit(&r->repl, r->vfs);
    if (!d->has_snap) {
        return 0;
    }
    workerSqliteLock();
    rv = replSnapshotRestore(&r->repl, d->snap_data, d->snap_len);
    workerSqliteUnlock();
    if (rv == 0) {
        r->applied = r->apply_queued = r->snapshot_index = d->snap.index;
        r->repl.applied_index = d->snap.index;
    }
    return rv;
}

/* " (<what the fs says failed>)" for an I/O failure, else "". */
static void replicaFsCause(struct replica *r, int rv, char *out, size_t len)
{
    char last[500];
    out[0] = '\0';
    if (rv == ERR_IO || rv == ERR_NOSPACE) {
        raftioFsLastError(&r->fs, last, sizeof last);
        if (last[0] != '\0') {
            snprintf(out, len, " (%s)", last);
        }
    }
}

int replicaOpen(struct replica *r, const struct replica_options *o,
                char *errmsg, size_t errmsg_len)
{
    struct replica_disk d;
    memset(r, 0, sizeof *r);
    memset(&d, 0, sizeof d);
    r->o = *o;
    queueInit(&r->proposals);
    queueInit(&r->barriers);
    queueInit(&r->reads);
    queueInit(&r->roles);
    queueInit(&r->sql_conns);
    queueInit(&r->transfers);
    const char *step = "data directory";
    char cause[520] = "";
    int rv =
        serverUpgradeDir(o->data_dir, replicaLogUpgrade, r, errmsg, errmsg_len);
    if (rv != 0) {
        replicaLogf(r, REPLICA_LOG_ERROR, "%s", errmsg);
        replicaDiskFree(&d);
        return rv;
    }
    rv = raftioFsPosixInit(&r->fs, o->data_dir);
    if (rv != 0) {
        goto err;
    }
    step = "loading the raft log";
    rv = replicaLoad(r, &d);
    if (rv != 0) {
        goto err_after_fs;
    }
    step = "restoring the databases";
    rv = replicaRestoreState(r, &d);
    if (rv != 0) {
        goto err_after_log;
    }
    step = "starting raft";
    rv = replicaCreateCore(r, &d);
    if (rv != 0) {
        goto err_after_vfs;
    }
    replicaDiskFree(&d);
    return 0;
err_after_vfs:
    vfsDestroy(r->vfs);
err_after_log:
    raftioLogClose(&r->log);
err_after_fs:
    replicaFsCause(r, rv, cause, sizeof cause);
    r->fs.destroy(&r->fs);
err:
    snprintf(errmsg, errmsg_len, "%s: %s%s", step, errString(rv), cause);
    replicaDiskFree(&d);
    return rv;
}

const char *replicaVfsName(const struct replica *r)
{
    return vfsName(r->vfs);
}

bool replicaIsLeader(const struct replica *r)
{
    return !r->failed && raftState(r->raft) == RAFT_LEADER;
}

/* A full disk does not fail the node: the log writer waits for space and
 * retries (raftioWriterRetryNoSpace), the node meanwhile acknowledges
 * nothing new, and the cluster goes on without it. Said once each way. */
static void replicaReportSpace(struct replica *r)
{
    bool waiting = raftioWriterStats(&r->writer).waiting_for_space;
    if (waiting && !r->waiting_for_space) {
        replicaLogf(r, REPLICA_LOG_ERROR,
                    "disk full: the raft log waits for space (retrying; "
                    "this node acknowledges nothing meanwhile)");
    } else if (!waiting && r->waiting_for_space) {
        replicaLogf(r, REPLICA_LOG_INFO,
                    "disk space is back: the raft log is durable again");
    }
    if (waiting && !r->waiting_for_space) {
        r->nospace_since_ms = replicaNowMs(r);
    }
    r->waiting_for_space = waiting;
    if (waiting &&
        replicaNowMs(r) - r->nospace_since_ms >= REPLICA_NOSPACE_ANSWER_MS) {
        replicaFailNoSpace(r);
    }
}

static void replicaRemindFailure(struct replica *r);

static void replicaOnTick(uv_timer_t *timer)
{
    struct replica *r = timer->data;
    replicaReportSpace(r);
    replicaRemindFailure(r);
    raftTick(r->raft, replicaNowMs(r));
    replicaProcess(r);
    replicaCheckRoles(r);
}

int replicaStart(struct replica *r, uv_loop_t *loop, struct worker *worker,
                 replica_send_fn send, replica_state_fn on_state, void *arg)
{
    r->loop = loop;
    r->worker = worker;
    r->send = send;
    r->on_state = on_state;
    r->cb_arg = arg;
    int rv = raftioWriterStart(&r->writer, loop, &r->log, &r->fs);
    if (rv != 0) {
        return rv;
    }
    raftioWriterRetryNoSpace(&r->writer, REPLICA_NOSPACE_RETRY_MS);
    raftioWriterInlineMax(&r->writer, REPLICA_INLINE_SYNC_BYTES);
    uv_timer_init(loop, &r->tick);
    r->tick.data = r;
    uv_timer_start(&r->tick, replicaOnTick, REPLICA_TICK_MS, REPLICA_TICK_MS);
    raftTick(r->raft, replicaNowMs(r));
    replicaProcess(r);
    return 0;
}

void replicaReceive(struct replica *r, const struct raft_message *m)
{
    if (r->closing) {
        return;
    }
    raftTick(r->raft, replicaNowMs(r));
    raftStep(r->raft, m);
    replicaProcess(r);
}

/* ------------------------------------------------------------ the batch */

static void replicaSendAll(struct replica *r, const struct raft_send *sends,
                           unsigned n)
{
    for (unsigned i = 0; r->send != NULL && i < n; i++) {
        r->send(r->cb_arg, sends[i].to, sends[i].address, &sends[i].message);
    }
}

void replicaFail(struct replica *r, const char *what, int rv)
{
    if (!r->failed) {
        char cause[520];
        replicaFsCause(r, rv, cause, sizeof cause);
        snprintf(r->fail_reason, sizeof r->fail_reason, "%s failed: %s%s", what,
                 errString(rv), cause);
        replicaLogf(r, REPLICA_LOG_ERROR, "%s; refusing to serve",
                    r->fail_reason);
        r->fail_said_ms = replicaNowMs(r);
        r->failed = true;
        if (r->o.on_fail != NULL) {
            r->o.on_fail(r->o.log_arg, r->fail_reason);
        }
    }
    r->failed = true;
    replicaFailWaits(r, ERR_IO);
}

/* A replica that stopped serving stays a silent member of the cluster
 * unless its owner stops it (dqlited does): it says why every minute. */
static void replicaRemindFailure(struct replica *r)
{
    uint64_t now_ms = replicaNowMs(r);
    if (r->failed && now_ms - r->fail_said_ms >= REPLICA_FAIL_REMIND_MS) {
        r->fail_said_ms = now_ms;
        replicaLogf(r, REPLICA_LOG_ERROR,
                    "still refusing to serve: %s (restart the node once "
                    "the cause is fixed)",
                    r->fail_reason);
    }
}

void replicaPersistDone(struct replica *r, int status)
{
    if (status != 0 && r->persist_status == 0) {
        r->persist_status = status;
    }
    ASSERT(r->persist_pending > 0);
    if (--r->persist_pending == 0) {
        replicaAfterPersist(r);
    }
}

static void replicaOnPersisted(struct raftio_req *req, int status)
{
    struct replica *r = req->data;
    replicaPersistDone(r, status);
}

int replicaSubmit(struct replica *r, enum raftio_req_kind kind, uint64_t index,
                  uint64_t vote)
{
    PRE(r->n_persist_reqs < sizeof r->persist_reqs / sizeof r->persist_reqs[0]);
    struct raftio_req *req = &r->persist_reqs[r->n_persist_reqs++];
    *req = (struct raftio_req){0};
    req->kind = kind;
    req->index = index;
    req->vote = vote;
    req->cb = replicaOnPersisted;
    req->data = r;
    if (kind == RAFTIO_REQ_APPEND) {
        req->entries = r->rd.entries;
        req->n = r->rd.n_entries;
    } else if (kind == RAFTIO_REQ_SNAPSHOT) {
        req->chunk = &r->rd.snapshot_chunk;
    }
    r->persist_pending++;
    raftioWriterSubmit(&r->writer, req);
    return 0;
}

/* Hands the batch's durable writes out; the last completion continues. */
static void replicaPersist(struct replica *r)
{
    const struct raft_ready *rd = &r->rd;
    int rv = 0;
    r->persist_pending = 1; /* held until everything is submitted */
    r->persist_status = 0;
    r->n_persist_reqs = 0;
    if (rd->truncate_from != 0) {
        rv = replicaSubmit(r, RAFTIO_REQ_TRUNCATE, rd->truncate_from, 0);
    }
    /* A received snapshot chunk goes through the writer, in order with the
     * appends: the last one also drops the log the snapshot covers, so the
     * entries after the snapshot start a log of their own. */
    if (rv == 0 && rd->has_snapshot_chunk) {
        rv = replicaSubmit(r, RAFTIO_REQ_SNAPSHOT, 0, 0);
    }
    if (rv == 0 && rd->n_entries > 0) {
        rv = replicaSubmit(r, RAFTIO_REQ_APPEND, rd->entries_index, 0);
    }
    if (rv == 0 && rd->has_hard_state) {
        rv = replicaSubmit(r, RAFTIO_REQ_META, rd->hard_state.term,
                           rd->hard_state.vote);
    }
    replicaPersistDone(r, rv);
}

/* What the raft core refused or noticed (docs/raft.md, "Refused
 * messages"): one line per REPLICA_NOTICE_LOG_MS at most, with the count
 * of those not logged since. */
#define REPLICA_NOTICE_LOG_MS 1000

static void replicaLogNotice(struct replica *r, const struct raft_ready *rd)
{
    static const char *const what[RAFT_NOTICE_KINDS] = {
        "",
        "refused a raft message from a server outside the configuration",
        "refused a raft message addressed to another node",
        "refused an AppendEntries contradicting the committed log "
        "(corruption or an attack)",
        "a follower holds less than it had acknowledged (lost or restored "
        "data); sending it again",
    };
    const struct raft_notice *n = &rd->notice;
    uint64_t now_ms = uv_now(r->loop);
    r->notices_held += rd->n_notices;
    if (r->notice_log_ms != 0 &&
        now_ms - r->notice_log_ms < REPLICA_NOTICE_LOG_MS) {
        return;
    }
    replicaLogf(
        r, REPLICA_LOG_WARN,
        "raft: %s: type %u from %llu to %llu, term %llu, index %llu, "
        "last %llu (%llu such notices since the last line)",
        n->kind > 0 && n->kind < RAFT_NOTICE_KINDS ? what[n->kind] : "?",
        n->msg_type, (unsigned long long)n->from, (unsigned long long)n->to,
        (unsigned long long)n->term, (unsigned long long)n->index,
        (unsigned long long)n->last, (unsigned long long)r->notices_held);
    r->notice_log_ms = now_ms != 0 ? now_ms : 1;
    r->notices_held = 0;
}

static void replicaNotify(struct replica *r)
{
    const struct raft_ready *rd = &r->rd;
    if (rd->n_notices > 0) {
        replicaLogNotice(r, rd);
    }
    if (rd->transfer_failed) {
        replicaTransferDone(r, ERR_TIMEOUT);
    }
    if (rd->conf_changed && r->on_conf != NULL) {
        r->on_conf(r->cb_arg);
    }
    if (!rd->state_changed) {
        return;
    }
    if (r->last_state == RAFT_LEADER && rd->state != RAFT_LEADER) {
        replicaFailWaits(r, ERR_LEADERSHIP_LOST);
    }
    if (rd->leader_id != 0 && rd->leader_id != r->o.id) {
        /* A transfer is done once another node leads, not merely when
         * this one stepped down (clients then find the new leader). */
        replicaTransferDone(r, 0);
    }
    r->last_state = rd->state;
    r->last_leader = rd->leader_id;
    if (r->on_state != NULL) {
        r->on_state(r->cb_arg, rd->state, rd->leader_id);
    }
}

void replicaAfterPersist(struct replica *r)
{
    struct raft_ready *rd = &r->rd;
    if (r->persist_status != 0) {
        replicaFail(r, "making the raft log durable", r->persist_status);
        return; /* the batch is never acknowledged */
    }
    replicaSendAll(r, rd->messages_after_persist, rd->n_messages_after_persist);
    if (rd->has_snapshot_install) {
        replicaInstallSnapshot(r, &rd->snapshot_install);
    }
    if (rd->n_committed > 0) {
        replicaApplyCommitted(r, rd->committed, rd->committed_index,
                              rd->n_committed);
    }
    for (unsigned i = 0; i < rd->n_snapshot_reads; i++) {
        replicaSnapshotRead(r, &rd->snapshot_reads[i]);
    }
    raftAdvance(r->raft, rd);
    r->in_batch = false;
    replicaProcess(r);
}

static void replicaSendNow(void *arg, const struct raft_send *s)
{
    struct replica *r = arg;
    if (r->send != NULL) {
        r->send(r->cb_arg, s->to, s->address, &s->message);
    }
}

void replicaProcess(struct replica *r)
{
    if (r->in_batch && !r->closing && !r->failed) {
        /* Appends and heartbeats leave while the batch's own write is in
         * flight (raft §10.2.1, raftSendNow): a slow disk write does not
         * silence the leader or hold back replication. */
        raftSendNow(r->raft, replicaSendNow, r);
    }
    if (r->in_batch || r->closing || r->failed || !raftHasReady(r->raft)) {
        return;
    }
    if (raftReady(r->raft, &r->rd) != 0) {
        return; /* out of memory: the next tick tries again */
    }
    r->in_batch = true;
    replicaSendAll(r, r->rd.messages, r->rd.n_messages);
    replicaNotify(r);
    /* A read index needs no local durability (it is a commit index a
     * quorum confirmed): reads do not wait for this batch's fsync. */
    replicaReadsReady(r, r->rd.reads, r->rd.n_reads);
    replicaPersist(r);
}

/* ------------------------------------------------------------ closing */

static void replicaMaybeClosed(struct replica *r)
{
    if (r->close_cb == NULL || r->jobs_out > 0 || !r->writer_closed) {
        return;
    }
    void (*cb)(struct replica *) = r->close_cb;
    r->close_cb = NULL;
    cb(r);
}

void replicaJobFinished(struct replica *r)
{
    ASSERT(r->jobs_out > 0);
    r->jobs_out--;
    if (r->closing) {
        replicaMaybeClosed(r);
    }
}

static void replicaOnWriterClosed(struct raftio_writer *w)
{
    struct replica *r = REPLICA_OF(w, writer);
    r->writer_closed = true;
    replicaMaybeClosed(r);
}

void replicaClose(struct replica *r, void (*close_cb)(struct replica *r))
{
    PRE(!r->closing);
    r->closing = true;
    r->close_cb = close_cb;
    replicaFailWaits(r, ERR_SHUTDOWN);
    uv_close((uv_handle_t *)&r->tick, NULL);
    raftioWriterClose(&r->writer, replicaOnWriterClosed);
}

void replicaFree(struct replica *r)
{
    if (r->in_batch) {
        raftDiscard(r->raft, &r->rd);
    }
    raftDestroy(r->raft);
    workerSqliteLock();
    vfsDestroy(r->vfs);
    workerSqliteUnlock();
    raftioLogClose(&r->log);
    r->fs.destroy(&r->fs);
}
