/*
 * DUMP: the files of one database as a FILES response: the main file as
 * stored and the WAL as it is (not merged; each is what SQLite would find
 * on disk, and the pair opens as the same database, as 1.11 does).
 *
 * The database is frozen with a VFS snapshot (a short pause, pages shared
 * copy-on-write), so the two files are consistent at one point in time
 * while writers go on. The response is encoded straight from the frozen
 * pages: one copy of the database, in the output buffer. Any node answers,
 * leader or not. An unknown database is FAILURE 1002, as the newer
 * reference answers.
 *
 * On the leader, the snapshot waits for the same gate as a query (a
 * read-index round, or a barrier without linearizable reads): a leader
 * just elected may not yet have applied writes its predecessor
 * acknowledged, and the dump must hold every write acknowledged before it
 * was asked for. A follower (or a leader that cannot pass the gate: disk
 * full, leadership lost meanwhile) dumps its own copy as applied so far,
 * which may lack the latest acknowledged writes (docs/membership.md).
 */
#include <stdio.h>
#include <string.h>

#include "lib/err.h"
#include "proto/cursor.h"
#include "server/gateway_internal.h"
#include "server/node.h"
#include "vfs/vfs.h"

static void dumpEncodeMain(struct proto_enc *e, const struct vfs_snapshot_db *d)
{
    protoEncText(e, protoText(d->name));
    protoEncU64(e, vfsSnapshotMainSize(d));
    for (uint32_t i = 0; i < d->n_pages; i++) {
        protoEncBytes(e, d->pages[i]->data, d->page_size);
    }
}

static void dumpEncodeWal(struct proto_enc *e, const struct vfs_snapshot_db *d,
                          const char *wal_name)
{
    protoEncText(e, protoText(wal_name));
    protoEncU64(e, vfsSnapshotWalSize(d));
    if (d->wal_page_size == 0) {
        return;
    }
    protoEncBytes(e, d->wal_hdr, VFS_WAL_HDR_SIZE);
    for (uint32_t i = 0; i < d->n_frames; i++) {
        protoEncBytes(e, d->frames[i]->data,
                      VFS_FRAME_HDR_SIZE + d->wal_page_size);
    }
}

static void dumpWork(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    struct vfs_snapshot *snap;
    char wal_name[VFS_MAX_NAME + 8];
    const char *name = g->req.dump.name.data;
    int rv = vfsSnapshotAcquire(gatewayNode(g)->replica.vfs, name, &snap);
    if (rv == ERR_NOTFOUND) {
        gatewaySetError(g, GATEWAY_ERR_NOTFOUND, "database does not exist");
        return;
    }
    if (rv != 0) {
        gatewaySetError(g, SQLITE_IOERR, errString(rv));
        return;
    }
    snprintf(wal_name, sizeof wal_name, "%s-wal", name);
    struct proto_enc e;
    bufReset(&g->out);
    protoEncBegin(&e, &g->out, PROTO_RESP_FILES, 0);
    protoEncU64(&e, 2);
    dumpEncodeMain(&e, &snap->dbs[0]);
    dumpEncodeWal(&e, &snap->dbs[0], wal_name);
    rv = protoEncEnd(&e);
    vfsSnapshotRelease(snap);
    g->rc = SQLITE_OK;
    if (rv != 0) {
        gatewaySetError(g, SQLITE_NOMEM, errString(rv));
    }
}

static void dumpDone(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    if (gatewayIsError(g)) {
        gatewayFailSaved(g);
        return;
    }
    gatewayFinish(g);
}

static void gatedOnRead(struct replica_wait *w, int status)
{
    struct gateway *g = GATEWAY_OF(w, wait);
    g->wait_out = false;
    if (g->closing) {
        gatewayCloseDb(g);
    } else if (status == ERR_SHUTDOWN) {
        gatewayFailErr(g, status);
    } else { /* status != 0: the local copy */
        gatewayRun(g, g->gated_work, g->gated_done);
    }
}

void gatewayRunGated(struct gateway *g, worker_fn work, worker_fn next)
{
    struct dqlite_node *n = gatewayNode(g);
    if (!replicaIsLeader(&n->replica)) {
        gatewayRun(g, work, next);
        return;
    }
    g->gated_work = work;
    g->gated_done = next;
    g->stage = GATEWAY_WAITING;
    g->wait.cb = gatedOnRead;
    g->wait_out = true;
    int rv = n->linearizable_reads ? replicaRead(&n->replica, &g->wait)
                                   : replicaBarrier(&n->replica, &g->wait);
    if (rv != 0) { /* refused at once (disk full...): the local copy */
        g->wait_out = false;
        gatewayRun(g, work, next);
    }
}

void gatewayDump(struct gateway *g)
{
    const struct proto_text name = g->req.dump.name;
    if (name.len == 0 || name.len > VFS_MAX_NAME) {
        gatewayFailure(g, GATEWAY_ERR_NOTFOUND, "database does not exist");
        return;
    }
    gatewayRunGated(g, dumpWork, dumpDone);
}
