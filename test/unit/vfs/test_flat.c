/* dqlite 1.11's flat forms (what dqlite_vfs_apply/snapshot/restore use):
 * contiguous pages without a database size, one-buffer snapshots. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdlib.h>

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

TestSuite(flat, .init = setup, .fini = teardown);

/* Poll the leader, then apply its frames in flat form on both nodes. */
static void replicateFlat(const char *name)
{
    struct vfs_txn txn;
    cr_assert_eq(vfsPoll(leader, name, &txn), 0);
    cr_assert_gt(txn.n_frames, 0);
    uint8_t *pages = malloc((size_t)txn.n_frames * txn.page_size);
    for (uint32_t i = 0; i < txn.n_frames; i++) {
        memcpy(pages + (size_t)i * txn.page_size, txn.pages[i], txn.page_size);
    }
    cr_assert_eq(
        vfsApplyFlat(follower, name, txn.n_frames, txn.page_numbers, pages), 0);
    cr_assert_eq(
        vfsApplyFlat(leader, name, txn.n_frames, txn.page_numbers, pages), 0);
    vfsTxnFree(&txn);
    free(pages);
}

Test(flat, apply_without_sizes_keeps_nodes_identical)
{
    cr_assert_eq(vfsDbCreate(follower, "t.db", 4096), 0);
    sqlite3 *w = hOpen(leader, "t.db");
    hExecOk(w, "CREATE TABLE t(b)");
    replicateFlat("t.db");
    for (int i = 0; i < 10; i++) {
        hExecOk(w, "INSERT INTO t VALUES(randomblob(6000))");
        replicateFlat("t.db");
    }
    hExecOk(w, "DELETE FROM t WHERE rowid > 2");
    replicateFlat("t.db");
    hExecOk(w, "VACUUM");
    replicateFlat("t.db");
    cr_assert(hSameImage(leader, follower, "t.db"));
    sqlite3 *f = hOpen(follower, "t.db");
    cr_assert_eq(hInt(f, "SELECT count(*) FROM t"), 2);
    cr_assert_eq(hInt(f, "PRAGMA page_count"), hInt(w, "PRAGMA page_count"));
    sqlite3_close(f);
    sqlite3_close(w);
}

Test(flat, snapshot_and_restore_as_one_buffer)
{
    sqlite3 *w = hOpen(leader, "test.db");
    hExecOk(w, "CREATE TABLE test (n INT)");
    hPollApply(leader, "test.db");
    struct vfs_snapshot *s;
    cr_assert_eq(vfsSnapshotAcquire(leader, "test.db", &s), 0);
    uint64_t len = vfsSnapshotFlatSize(&s->dbs[0]);
    cr_assert_eq(len, 4096 + 8272);
    uint8_t *flat = malloc(len);
    vfsSnapshotFlatten(&s->dbs[0], true, flat);
    vfsSnapshotRelease(s);
    cr_assert_eq(vfsRestoreFlat(follower, "copy.db", flat, len), 0);
    sqlite3 *f = hOpen(follower, "copy.db");
    hExecOk(f, "INSERT INTO test VALUES(1)");
    cr_assert_eq(vfsAbort(follower, "copy.db"), 0);
    cr_assert_eq(hInt(f, "SELECT count(*) FROM test"), 0);
    sqlite3_close(f);
    cr_assert_eq(vfsRestoreFlat(follower, "bad.db", flat, 99), ERR_CORRUPT);
    cr_assert_eq(vfsRestoreFlat(follower, "bad.db", flat, len - 8),
                 ERR_CORRUPT);
    cr_assert(!vfsDbExists(follower, "bad.db"));
    free(flat);
    sqlite3_close(w);
}
