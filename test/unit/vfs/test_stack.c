/* Stacking commits on held frames (vfsStackBegin/End): what a group of
 * autocommit writes relies on (src/server/gateway_group.c). Readers never
 * see held frames; a statement dropped from the stack leaves the others;
 * an abort drops every stacked commit; the frames replicated are the last
 * version of each page and give followers the same database. */
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

TestSuite(vfs_stack, .init = setup, .fini = teardown);

/* Runs `sql` stacked on the held frames; returns SQLite's code. */
static int stackExec(sqlite3 *conn, const char *sql, bool keep)
{
    cr_assert_eq(vfsStackBegin(leader, "test.db", true), 0);
    int rc = hExec(conn, sql);
    cr_assert_eq(
        vfsStackEnd(leader, "test.db", keep && rc == SQLITE_OK, UINT64_MAX), 0);
    return rc;
}

static void createTable(sqlite3 *w)
{
    hExecOk(w, "CREATE TABLE t(n INTEGER PRIMARY KEY, v TEXT)");
    struct vfs_txn txn;
    cr_assert_eq(vfsPoll(leader, "test.db", &txn), 0);
    cr_assert_eq(vfsApply(follower, "test.db", &txn), 0);
    cr_assert_eq(vfsApply(leader, "test.db", &txn), 0);
    vfsTxnFree(&txn);
}

Test(vfs_stack, writers_see_stacked_frames_and_readers_never_do)
{
    sqlite3 *a = hOpen(leader, "test.db");
    sqlite3 *b = hOpen(leader, "test.db");
    sqlite3 *r = hOpen(leader, "test.db");
    createTable(a);
    cr_assert_eq(stackExec(a, "INSERT INTO t VALUES(1, 'a')", true), SQLITE_OK);
    cr_assert_eq(hInt(r, "SELECT count(*) FROM t"), 0);
    /* b runs on top of a's held commit: it sees it. */
    cr_assert_eq(
        stackExec(b, "INSERT INTO t SELECT 10 + count(*), 'b' FROM t", true),
        SQLITE_OK);
    cr_assert_eq(hInt(r, "SELECT count(*) FROM t"), 0);
    cr_assert_eq(hInt(a, "SELECT count(*) FROM t"), 0);
    /* Outside a stack, a writer still waits for the held frames. */
    cr_assert_eq(hExec(r, "INSERT INTO t VALUES(3, 'r')") & 0xff, SQLITE_BUSY);
    cr_assert_eq(vfsStackBegin(leader, "test.db", false), ERR_BUSY);

    struct vfs_txn txn;
    cr_assert_eq(vfsPoll(leader, "test.db", &txn), 0);
    cr_assert_eq(vfsApply(follower, "test.db", &txn), 0);
    cr_assert_eq(vfsApply(leader, "test.db", &txn), 0);
    vfsTxnFree(&txn);
    cr_assert_eq(hInt(r, "SELECT count(*) FROM t"), 2);
    cr_assert_eq(hInt(r, "SELECT n FROM t WHERE v = 'b'"), 11);
    cr_assert(hSameImage(leader, follower, "test.db"));
    sqlite3 *f = hOpen(follower, "test.db");
    cr_assert_eq(hInt(f, "SELECT sum(n) FROM t"), 12);
    sqlite3_close(f);
    sqlite3_close(a);
    sqlite3_close(b);
    sqlite3_close(r);
}

/* A failing statement, or one whose commit is taken back, leaves the
 * commits stacked before it (and after it) as they were. */
Test(vfs_stack, a_dropped_statement_leaves_its_neighbours)
{
    sqlite3 *a = hOpen(leader, "test.db");
    sqlite3 *b = hOpen(leader, "test.db");
    sqlite3 *c = hOpen(leader, "test.db");
    createTable(a);
    cr_assert_eq(stackExec(a, "INSERT INTO t VALUES(1, 'a')", true), SQLITE_OK);
    cr_assert_eq(stackExec(b, "INSERT INTO t VALUES(1, 'dup')", true) & 0xff,
                 SQLITE_CONSTRAINT);
    cr_assert_eq(stackExec(b, "INSERT INTO t VALUES(2, 'gone')", false),
                 SQLITE_OK);
    cr_assert_eq(
        stackExec(c, "INSERT INTO t SELECT 10 + count(*), 'c' FROM t", true),
        SQLITE_OK);
    hPollApply(leader, "test.db");
    cr_assert_eq(hInt(b, "SELECT count(*) FROM t"), 2);
    cr_assert_eq(hInt(b, "SELECT count(*) FROM t WHERE n = 2"), 0);
    cr_assert_eq(hInt(b, "SELECT n FROM t WHERE v = 'c'"), 11);
    sqlite3_close(a);
    sqlite3_close(b);
    sqlite3_close(c);
}

/* Abort drops every stacked commit at once: no trace for anybody. */
Test(vfs_stack, abort_drops_every_stacked_commit)
{
    sqlite3 *a = hOpen(leader, "test.db");
    sqlite3 *b = hOpen(leader, "test.db");
    createTable(a);
    struct buf before;
    bufInit(&before);
    cr_assert_eq(vfsReadImage(leader, "test.db", &before), 0);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(
            stackExec(i % 2 ? a : b, "INSERT INTO t(v) VALUES('x')", true),
            SQLITE_OK);
    }
    cr_assert_eq(vfsAbort(leader, "test.db"), 0);
    struct buf after;
    bufInit(&after);
    cr_assert_eq(vfsReadImage(leader, "test.db", &after), 0);
    cr_assert_eq(after.len, before.len);
    cr_assert_arr_eq(after.data, before.data, before.len);
    cr_assert_eq(hInt(a, "SELECT count(*) FROM t"), 0);
    hExecOk(b, "INSERT INTO t VALUES(5, 'after')");
    hPollApply(leader, "test.db");
    cr_assert_eq(hInt(a, "SELECT sum(n) FROM t"), 5);
    bufFree(&before);
    bufFree(&after);
    sqlite3_close(a);
    sqlite3_close(b);
}

/* Many commits of the same page travel as one version of it. */
Test(vfs_stack, stacked_commits_replicate_each_page_once)
{
    sqlite3 *a = hOpen(leader, "test.db");
    createTable(a);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(stackExec(a, "INSERT INTO t(v) VALUES('x')", true),
                     SQLITE_OK);
    }
    struct vfs_txn txn;
    cr_assert_eq(vfsPoll(leader, "test.db", &txn), 0);
    cr_assert_leq(txn.n_frames, 2);
    cr_assert_eq(vfsApply(follower, "test.db", &txn), 0);
    cr_assert_eq(vfsApply(leader, "test.db", &txn), 0);
    vfsTxnFree(&txn);
    cr_assert(hSameImage(leader, follower, "test.db"));
    cr_assert_eq(hInt(a, "SELECT count(*) FROM t"), 20);
    sqlite3_close(a);
}

/* A commit that would take the held frames past the bound is dropped
 * (ERR_TOOBIG) and the held frames stay as they were. */
Test(vfs_stack, a_full_stack_refuses_one_more)
{
    sqlite3 *a = hOpen(leader, "test.db");
    createTable(a);
    cr_assert_eq(stackExec(a, "INSERT INTO t(v) VALUES('x')", true), SQLITE_OK);
    cr_assert_eq(vfsStackBegin(leader, "test.db", true), 0);
    hExecOk(a, "INSERT INTO t(v) VALUES(randomblob(100000))");
    cr_assert_eq(vfsStackEnd(leader, "test.db", true, 65536), ERR_TOOBIG);
    hPollApply(leader, "test.db");
    cr_assert_eq(hInt(a, "SELECT count(*) FROM t"), 1);
    sqlite3_close(a);
}
