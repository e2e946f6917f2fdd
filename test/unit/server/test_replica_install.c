/* Installing a snapshot received from the leader: the follower restores
 * exactly the snapshot its raft core received, even when a newer one has
 * arrived since (it used to load the newest and refuse to serve); one whose
 * file two newer snapshots have replaced is skipped, with the entries up
 * to the next install, and no snapshot is taken of the stale state; a
 * connection of the follower reading a database the snapshot replaces is
 * ended, never the node. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "raft/raft.h"
#include "raftio/snapshot.h"
#include "repl/repl.h"
#include "server/replica.h"
#include "server/replica_internal.h"
#include "vfs/vfs.h"

struct fixture {
    char dir[64];
    struct replica r;
};

static void fixtureInit(struct fixture *f)
{
    strcpy(f->dir, "/tmp/dqlite-install-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    memset(&f->r, 0, sizeof f->r);
    cr_assert_eq(raftioFsPosixInit(&f->r.fs, f->dir), 0);
    cr_assert_eq(vfsCreate("install-test", &f->r.vfs), 0);
    replInit(&f->r.repl, f->r.vfs);
    queueInit(&f->r.sql_conns);
}

static void fixtureClose(struct fixture *f)
{
    char **names;
    size_t n;
    cr_assert_eq(f->r.fs.list(&f->r.fs, &names, &n), 0);
    for (size_t i = 0; i < n; i++) {
        f->r.fs.unlink(&f->r.fs, names[i]);
    }
    raftioFsFreeList(names, n);
    f->r.fs.destroy(&f->r.fs);
    vfsDestroy(f->r.vfs);
    rmdir(f->dir);
}

/* Writes a snapshot file at `index` of a state that says it is at `index`
 * (the repl snapshot records the applied index it was taken at). */
static void writeState(struct fixture *f, uint64_t index)
{
    struct repl_snapshot snap;
    struct buf out;
    bufInit(&out);
    f->r.repl.applied_index = index;
    cr_assert_eq(replSnapshotTake(&f->r.repl, &snap), 0);
    cr_assert_eq(replSnapshotEncode(&snap, &out), 0);
    replSnapshotRelease(&snap);
    struct raft_snapshot_meta m = {.index = index, .term = 2};
    raftConfInit(&m.conf);
    cr_assert_eq(raftConfAdd(&m.conf, 1, "127.0.0.1:9001", RAFT_VOTER), 0);
    struct raftio_snapshot_buf b = {out.data, out.len};
    cr_assert_eq(raftioSnapshotWrite(&f->r.fs, &m, &b, 1, false), 0);
    raftConfClose(&m.conf);
    bufFree(&out);
    f->r.repl.applied_index = 0;
}

Test(replica_install, the_received_snapshot_not_a_newer_one)
{
    struct fixture f;
    uint64_t newest;
    fixtureInit(&f);
    writeState(&f, 100);
    writeState(&f, 200); /* arrived before the install of 100 ran */
    cr_assert_eq(replicaInstallLoad(&f.r, 100, &newest), 0);
    cr_assert_eq(f.r.repl.applied_index, 100);
    cr_assert_eq(newest, 0);
    cr_assert_not(f.r.install_skipped);
    cr_assert_eq(replicaInstallLoad(&f.r, 200, &newest), 0);
    cr_assert_eq(f.r.repl.applied_index, 200);
    fixtureClose(&f);
}

Test(replica_install, superseded_snapshot_is_skipped_until_the_next)
{
    struct fixture f;
    uint64_t newest;
    fixtureInit(&f);
    writeState(&f, 100);
    writeState(&f, 200);
    writeState(&f, 300); /* the store keeps two: 100 is gone */
    cr_assert_eq(replicaInstallLoad(&f.r, 100, &newest), 0);
    cr_assert_eq(newest, 300);
    cr_assert(f.r.install_skipped);
    cr_assert_eq(f.r.repl.applied_index, 0, "nothing restored");
    cr_assert_eq(replicaInstallLoad(&f.r, 200, &newest), 0);
    cr_assert_not(f.r.install_skipped);
    cr_assert_eq(f.r.repl.applied_index, 200);
    fixtureClose(&f);
}

Test(replica_install, a_missing_snapshot_with_none_newer_is_an_error)
{
    struct fixture f;
    uint64_t newest;
    fixtureInit(&f);
    writeState(&f, 100);
    cr_assert_eq(replicaInstallLoad(&f.r, 150, &newest), ERR_NOTFOUND);
    cr_assert_not(f.r.install_skipped);
    cr_assert_eq(f.r.repl.applied_index, 0);
    fixtureClose(&f);
}

/* Commits what `conn` wrote as a follower applying it would. */
static void commitHeld(struct fixture *f, const char *name)
{
    struct vfs_txn txn;
    cr_assert_eq(vfsPoll(f->r.vfs, name, &txn), 0);
    cr_assert_eq(vfsApply(f->r.vfs, name, &txn), 0);
    vfsTxnFree(&txn);
}

static int64_t countRows(sqlite3 *conn)
{
    sqlite3_stmt *stmt;
    cr_assert_eq(
        sqlite3_prepare_v2(conn, "SELECT count(*) FROM t", -1, &stmt, NULL),
        SQLITE_OK);
    cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW, "%s", sqlite3_errmsg(conn));
    int64_t n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
}

/* A client's query on the follower sits between two batches (its read
 * transaction open) when the leader's snapshot is installed: the install
 * resets the statement, tells the connection why, and restores; it used
 * to fail with ERR_BUSY and stop the node. */
Test(replica_install, ends_the_readers_of_the_replaced_databases)
{
    struct fixture f;
    uint64_t newest;
    sqlite3 *conn;
    sqlite3_stmt *stmt;
    fixtureInit(&f);
    cr_assert_eq(sqlite3_open_v2("a", &conn,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                 "install-test"),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_exec(conn,
                              "BEGIN; CREATE TABLE t (n); INSERT INTO t "
                              "VALUES (1), (2); COMMIT",
                              NULL, NULL, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(conn));
    commitHeld(&f, "a");
    writeState(&f, 100); /* t holds 2 rows */
    cr_assert_eq(
        sqlite3_exec(conn, "INSERT INTO t VALUES (3)", NULL, NULL, NULL),
        SQLITE_OK);
    commitHeld(&f, "a");
    struct replica_sqlconn c = {.db = conn};
    replicaSqlConnAdd(&f.r, &c);
    cr_assert_eq(sqlite3_prepare_v2(conn, "SELECT n FROM t", -1, &stmt, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW); /* read transaction held */
    cr_assert_eq(replicaInstallLoad(&f.r, 100, &newest), 0);
    cr_assert_eq(f.r.repl.applied_index, 100);
    cr_assert_not(sqlite3_stmt_busy(stmt), "the reader was ended");
    cr_assert_str_eq(c.ended, REPLICA_ENDED_BY_SNAPSHOT);
    cr_assert_eq(countRows(conn), 2, "the connection sees the snapshot");
    replicaSqlConnRemove(&c);
    sqlite3_finalize(stmt);
    sqlite3_close(conn);
    fixtureClose(&f);
}
