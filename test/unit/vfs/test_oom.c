/* Out of memory at every allocation of apply, snapshot and restore: the
 * call fails with ERR_NOMEM and the store is as before; retrying works. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdlib.h>

#include "helpers.h"
#include "lib/alloc.h"
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
    libAllocFailAfter(-1, 1);
    vfsDestroy(leader);
    vfsDestroy(follower);
}

TestSuite(oom, .init = setup, .fini = teardown);

Test(oom, follower_apply)
{
    sqlite3 *w = hOpen(leader, "t.db");
    hExecOk(w, "CREATE TABLE t AS SELECT randomblob(9000) AS b");
    struct vfs_txn txn;
    cr_assert_eq(vfsPoll(leader, "t.db", &txn), 0);
    cr_assert_gt(txn.n_frames, 2);
    int rv = ERR_NOMEM;
    for (long n = 0; rv == ERR_NOMEM; n++) {
        libAllocFailAfter(n, 1);
        rv = vfsApply(follower, "t.db", &txn);
        libAllocFailAfter(-1, 1);
        if (rv == ERR_NOMEM && vfsDbExists(follower, "t.db")) {
            uint32_t frames;
            cr_assert_eq(vfsWalFrames(follower, "t.db", &frames), 0);
            cr_assert_eq(frames, 0);
        }
    }
    cr_assert_eq(rv, 0);
    cr_assert_eq(vfsApply(leader, "t.db", &txn), 0);
    vfsTxnFree(&txn);
    cr_assert(hSameImage(leader, follower, "t.db"));
    sqlite3_close(w);
}

Test(oom, snapshot_and_restore)
{
    sqlite3 *w = hOpen(leader, "t.db");
    hExecOk(w, "CREATE TABLE t(b)");
    hPollApply(leader, "t.db");
    hExecOk(w, "INSERT INTO t VALUES(randomblob(9000))");
    hPollApply(leader, "t.db");
    struct vfs_snapshot *s = NULL;
    int rv = ERR_NOMEM;
    for (long n = 0; rv == ERR_NOMEM; n++) {
        libAllocFailAfter(n, 1);
        rv = vfsSnapshotAcquire(leader, NULL, &s);
        libAllocFailAfter(-1, 1);
    }
    cr_assert_eq(rv, 0);
    uint64_t len = vfsSnapshotFlatSize(&s->dbs[0]);
    uint8_t *flat = malloc(len);
    vfsSnapshotFlatten(&s->dbs[0], true, flat);
    vfsSnapshotRelease(s);
    cr_assert_eq(vfsDbCreate(follower, "keep.db", 4096), 0);
    rv = ERR_NOMEM;
    for (long n = 0; rv == ERR_NOMEM; n++) {
        libAllocFailAfter(n, 1);
        rv = vfsRestoreFlat(follower, "t.db", flat, len);
        libAllocFailAfter(-1, 1);
        if (rv == ERR_NOMEM) {
            cr_assert(!vfsDbExists(follower, "t.db"));
        }
    }
    cr_assert_eq(rv, 0);
    cr_assert(hSameImage(leader, follower, "t.db"));
    cr_assert(vfsDbExists(follower, "keep.db"));
    free(flat);
    sqlite3_close(w);
}

/* vfsDbNames: the databases sorted, staged ones (names with ':') left out;
 * out of memory at any allocation fails cleanly and leaks nothing. */
Test(oom, db_names)
{
    cr_assert_eq(vfsDbCreate(leader, "b.db", 4096), 0);
    cr_assert_eq(vfsDbCreate(leader, "a.db", 4096), 0);
    cr_assert_eq(vfsDbCreate(leader, "stage:1", 4096), 0);
    cr_assert_eq(vfsDbCreate(leader, "c.db", 4096), 0);
    char **names = NULL;
    unsigned n = 0;
    int rv = ERR_NOMEM;
    for (long i = 0; rv == ERR_NOMEM; i++) {
        libAllocFailAfter(i, 1);
        rv = vfsDbNames(leader, &names, &n);
        libAllocFailAfter(-1, 1);
    }
    cr_assert_eq(rv, 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(names[0], "a.db");
    cr_assert_str_eq(names[1], "b.db");
    cr_assert_str_eq(names[2], "c.db");
    for (unsigned i = 0; i < n; i++) {
        libFree(names[i]);
    }
    libFree(names);
    cr_assert_eq(vfsDbNames(follower, &names, &n), 0);
    cr_assert_eq(n, 0);
    libFree(names);
}
