/* The VFS as SQLite and the node see it: storage, capture of commits
 * (poll/apply/abort), followers, many databases, page sizes. */
#include <criterion/criterion.h>
#include <sqlite3.h>

#include "helpers.h"
#include "lib/err.h"
#include "vfs/vfs.h"

static struct vfs *leader;
static struct vfs *follower;

static void setup(void)
{
    sqlite3_initialize();
    cr_assert_eq(vfsCreate("leader", &leader), 0);
    cr_assert_eq(vfsCreate("follower", &follower), 0);
}

static void teardown(void)
{
    vfsDestroy(leader);
    vfsDestroy(follower);
}

TestSuite(vfs, .init = setup, .fini = teardown);

Test(vfs, data_survives_reopening_the_connection)
{
    sqlite3 *c = hOpen(leader, "test.db");
    hExecOk(c, "CREATE TABLE t(n INTEGER)");
    hPollApply(leader, "test.db");
    hExecOk(c, "INSERT INTO t VALUES(42)");
    hPollApply(leader, "test.db");
    sqlite3_close(c);
    c = hOpen(leader, "test.db");
    cr_assert_eq(hInt(c, "SELECT n FROM t"), 42);
    sqlite3_close(c);
}

Test(vfs, fresh_database_dump_sizes_match_the_reference)
{
    sqlite3 *c = hOpen(leader, "test.db");
    hExecOk(c, "CREATE TABLE test (n INT)");
    hPollApply(leader, "test.db");
    struct vfs_snapshot *s;
    cr_assert_eq(vfsSnapshotAcquire(leader, "test.db", &s), 0);
    cr_assert_eq(vfsSnapshotMainSize(&s->dbs[0]), 4096);
    cr_assert_eq(vfsSnapshotWalSize(&s->dbs[0]), 8272);
    vfsSnapshotRelease(s);
    sqlite3_close(c);
}

Test(vfs, commit_is_held_until_applied)
{
    sqlite3 *w = hOpen(leader, "test.db");
    sqlite3 *r = hOpen(leader, "test.db");
    hExecOk(w, "CREATE TABLE t(n)");
    hPollApply(leader, "test.db");
    hExecOk(w, "INSERT INTO t VALUES(1)");
    cr_assert_eq(hInt(r, "SELECT count(*) FROM t"), 0);
    cr_assert_eq(hInt(w, "SELECT count(*) FROM t"), 0);
    /* A second writer is refused while the commit is held. */
    cr_assert_eq(hExec(r, "INSERT INTO t VALUES(2)") & 0xff, SQLITE_BUSY);
    struct vfs_txn txn;
    cr_assert_eq(vfsPoll(leader, "test.db", &txn), 0);
    cr_assert_gt(txn.n_frames, 0);
    cr_assert_eq(txn.page_size, 4096);
    cr_assert_eq(txn.db_size, 2);
    cr_assert_eq(vfsApply(leader, "test.db", &txn), 0);
    vfsTxnFree(&txn);
    cr_assert_eq(hInt(r, "SELECT count(*) FROM t"), 1);
    cr_assert_eq(hInt(w, "SELECT n FROM t"), 1);
    hExecOk(r, "INSERT INTO t VALUES(2)");
    hPollApply(leader, "test.db");
    cr_assert_eq(hInt(w, "SELECT sum(n) FROM t"), 3);
    sqlite3_close(w);
    sqlite3_close(r);
}

Test(vfs, abort_leaves_no_trace)
{
    sqlite3 *w = hOpen(leader, "test.db");
    hExecOk(w, "CREATE TABLE t(n)");
    hPollApply(leader, "test.db");
    struct buf before;
    bufInit(&before);
    cr_assert_eq(vfsReadImage(leader, "test.db", &before), 0);
    uint32_t frames_before;
    cr_assert_eq(vfsWalFrames(leader, "test.db", &frames_before), 0);
    hExecOk(w, "INSERT INTO t VALUES(1)");
    cr_assert_eq(vfsAbort(leader, "test.db"), 0);
    cr_assert_eq(vfsAbort(leader, "test.db"), ERR_NOTFOUND);
    struct buf after;
    bufInit(&after);
    cr_assert_eq(vfsReadImage(leader, "test.db", &after), 0);
    cr_assert_eq(after.len, before.len);
    cr_assert_arr_eq(after.data, before.data, before.len);
    uint32_t frames_after;
    cr_assert_eq(vfsWalFrames(leader, "test.db", &frames_after), 0);
    cr_assert_eq(frames_after, frames_before);
    cr_assert_eq(hInt(w, "SELECT count(*) FROM t"), 0);
    hExecOk(w, "INSERT INTO t VALUES(7)");
    hPollApply(leader, "test.db");
    cr_assert_eq(hInt(w, "SELECT sum(n) FROM t"), 7);
    bufFree(&before);
    bufFree(&after);
    sqlite3_close(w);
}

Test(vfs, rollback_of_a_spilled_transaction_leaves_no_trace)
{
    sqlite3 *w = hOpen(leader, "test.db");
    hExecOk(w, "PRAGMA cache_size=2; CREATE TABLE t(b)");
    hPollApply(leader, "test.db");
    uint32_t before;
    cr_assert_eq(vfsWalFrames(leader, "test.db", &before), 0);
    hExecOk(w, "BEGIN");
    for (int i = 0; i < 50; i++) {
        hExecOk(w, "INSERT INTO t VALUES(randomblob(3000))");
    }
    hExecOk(w, "ROLLBACK");
    struct vfs_txn txn;
    cr_assert_eq(vfsPoll(leader, "test.db", &txn), 0);
    cr_assert_eq(txn.n_frames, 0);
    uint32_t after;
    cr_assert_eq(vfsWalFrames(leader, "test.db", &after), 0);
    cr_assert_eq(after, before);
    cr_assert_eq(hInt(w, "SELECT count(*) FROM t"), 0);
    sqlite3_close(w);
}

static void replicate(const char *name)
{
    struct vfs_txn txn;
    cr_assert_eq(vfsPoll(leader, name, &txn), 0);
    cr_assert_gt(txn.n_frames, 0);
    cr_assert_eq(vfsApply(follower, name, &txn), 0);
    cr_assert_eq(vfsApply(leader, name, &txn), 0);
    vfsTxnFree(&txn);
}

Test(vfs, follower_sees_what_the_leader_applied)
{
    sqlite3 *w = hOpen(leader, "test.db");
    hExecOk(w, "CREATE TABLE t(n, b)");
    replicate("test.db");
    sqlite3 *f = hOpen(follower, "test.db");
    for (int i = 0; i < 20; i++) {
        hExecOk(w, "INSERT INTO t VALUES(random(), randomblob(5000))");
        replicate("test.db");
        cr_assert_eq(hInt(f, "SELECT count(*) FROM t"), i + 1);
    }
    cr_assert_eq(hInt(f, "SELECT sum(n % 1000) FROM t"),
                 hInt(w, "SELECT sum(n % 1000) FROM t"));
    cr_assert(hSameImage(leader, follower, "test.db"));
    hExecOk(w, "DELETE FROM t WHERE rowid % 2 = 0");
    replicate("test.db");
    hExecOk(w, "VACUUM");
    replicate("test.db");
    cr_assert(hSameImage(leader, follower, "test.db"));
    cr_assert_eq(hInt(f, "SELECT count(*) FROM t"), 10);
    sqlite3_close(f);
    sqlite3_close(w);
}

Test(vfs, a_deposed_leader_drops_its_held_commit_for_the_new_one)
{
    sqlite3 *w = hOpen(leader, "test.db");
    hExecOk(w, "CREATE TABLE t(n)");
    replicate("test.db");
    hExecOk(w, "INSERT INTO t VALUES(1)"); /* held, never committed */
    sqlite3 *f = hOpen(follower, "test.db");
    hExecOk(f, "INSERT INTO t VALUES(2)"); /* the new leader's write */
    struct vfs_txn txn;
    cr_assert_eq(vfsPoll(follower, "test.db", &txn), 0);
    cr_assert_eq(vfsApply(follower, "test.db", &txn), 0);
    cr_assert_eq(vfsApply(leader, "test.db", &txn), 0);
    vfsTxnFree(&txn);
    cr_assert_eq(hInt(w, "SELECT sum(n) FROM t"), 2);
    cr_assert(hSameImage(leader, follower, "test.db"));
    sqlite3_close(f);
    sqlite3_close(w);
}

Test(vfs, many_databases_are_independent)
{
    sqlite3 *a = hOpen(leader, "a.db");
    sqlite3 *b = hOpen(leader, "b.db");
    hExecOk(a, "CREATE TABLE t(n)");
    /* a.db's commit is held; b.db is not locked by it */
    hExecOk(b, "CREATE TABLE u(n)");
    replicate("b.db");
    replicate("a.db");
    hExecOk(a, "INSERT INTO t VALUES(1)");
    hExecOk(b, "INSERT INTO u VALUES(2)");
    cr_assert_eq(vfsAbort(leader, "a.db"), 0);
    replicate("b.db");
    cr_assert_eq(hInt(a, "SELECT count(*) FROM t"), 0);
    cr_assert_eq(hInt(b, "SELECT sum(n) FROM u"), 2);
    sqlite3 *fa = hOpen(follower, "a.db");
    sqlite3 *fb = hOpen(follower, "b.db");
    cr_assert_eq(hInt(fa, "SELECT count(*) FROM t"), 0);
    cr_assert_eq(hInt(fb, "SELECT sum(n) FROM u"), 2);
    sqlite3_close(fa);
    sqlite3_close(fb);
    sqlite3_close(a);
    sqlite3_close(b);
}

static void pageSizeRoundTrip(uint32_t page_size)
{
    cr_assert_eq(vfsDbCreate(leader, "p.db", page_size), 0);
    sqlite3 *w = hOpen(leader, "p.db");
    cr_assert_eq(hInt(w, "PRAGMA page_size"), page_size);
    hExecOk(w, "CREATE TABLE t(b)");
    replicate("p.db");
    for (int i = 0; i < 5; i++) {
        hExecOk(w, "INSERT INTO t VALUES(randomblob(20000))");
        replicate("p.db");
    }
    sqlite3 *f = hOpen(follower, "p.db");
    cr_assert_eq(hInt(f, "PRAGMA page_size"), page_size);
    cr_assert_eq(hInt(f, "SELECT count(*) FROM t"), 5);
    cr_assert(hSameImage(leader, follower, "p.db"));
    sqlite3_close(f);
    sqlite3_close(w);
}

Test(vfs, page_size_512)
{
    pageSizeRoundTrip(512);
}

Test(vfs, page_size_8192)
{
    pageSizeRoundTrip(8192);
}

Test(vfs, page_size_65536)
{
    pageSizeRoundTrip(65536);
}
