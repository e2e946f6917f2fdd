/* The state machine: commands applied in order on a leader and a follower
 * keep their databases identical; checkpoints; snapshots and restores. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "lib/err.h"
#include "repl/command.h"
#include "repl/repl.h"

static struct node l;
static struct node f;

static void setup(void)
{
    sqlite3_initialize();
    nodeInit(&l, "L");
    nodeInit(&f, "F");
}

static void teardown(void)
{
    nodeClose(&l);
    nodeClose(&f);
}

TestSuite(fsm, .init = setup, .fini = teardown);

Test(fsm, replicated_writes_reach_the_follower)
{
    struct cluster c = {&l, &f, 0};
    clusterOpen(&c, "a.db", 4096);
    sqlite3 *w = hOpen(l.vfs, "a.db");
    hExecOk(w, "CREATE TABLE t(n)");
    cr_assert(clusterReplicate(&c, "a.db"));
    hExecOk(w, "INSERT INTO t VALUES(random())");
    cr_assert(clusterReplicate(&c, "a.db"));
    cr_assert_eq(l.repl.applied_index, 3);
    cr_assert_eq(f.repl.applied_index, 3);
    sqlite3 *r = hOpen(f.vfs, "a.db");
    cr_assert_eq(hInt(r, "SELECT n FROM t"), hInt(w, "SELECT n FROM t"));
    cr_assert(hSameImage(l.vfs, f.vfs, "a.db"));
    /* a read-only statement holds nothing */
    hExecOk(w, "SELECT * FROM t");
    cr_assert(!clusterReplicate(&c, "a.db"));
    sqlite3_close(r);
    sqlite3_close(w);
}

/* A commit too large for one entry is refused at the poll, and its frames
 * are dropped: the database is not left locked for the next writer. */
Test(fsm, a_transaction_over_the_limit_is_refused_and_dropped)
{
    struct cluster c = {&l, &f, 0};
    clusterOpen(&c, "a.db", 65536);
    sqlite3 *w = hOpen(l.vfs, "a.db");
    hExecOk(w, "CREATE TABLE t(b)");
    cr_assert(clusterReplicate(&c, "a.db"));
    char sql[96];
    snprintf(sql, sizeof sql, "INSERT INTO t VALUES(zeroblob(%u))",
             (unsigned)REPL_MAX_TXN_BYTES + 1);
    hExecOk(w, sql);
    struct buf cmd;
    bool has = true;
    bufInit(&cmd);
    cr_assert_eq(replLeaderPoll(l.vfs, "a.db", &cmd, &has), ERR_TOOBIG);
    cr_assert(!has);
    cr_assert_lt(cmd.cap, 4096);
    bufFree(&cmd);
    cr_assert_eq(hInt(w, "SELECT count(*) FROM t"), 0);
    hExecOk(w, "INSERT INTO t VALUES(1)"); /* not locked */
    cr_assert(clusterReplicate(&c, "a.db"));
    cr_assert_eq(hInt(w, "SELECT count(*) FROM t"), 1);
    sqlite3_close(w);
}

Test(fsm, replicated_checkpoint_runs_everywhere_or_is_skipped_safely)
{
    struct cluster c = {&l, &f, 0};
    clusterOpen(&c, "a.db", 1024);
    sqlite3 *w = hOpen(l.vfs, "a.db");
    hExecOk(w, "CREATE TABLE t(b)");
    cr_assert(clusterReplicate(&c, "a.db"));
    l.repl.checkpoint_frames = 10;
    bool due = false;
    for (int i = 0; i < 20 && !due; i++) {
        hExecOk(w, "INSERT INTO t VALUES(randomblob(2000))");
        cr_assert(clusterReplicate(&c, "a.db"));
        struct buf cmd;
        bufInit(&cmd);
        cr_assert_eq(replLeaderCheckpoint(&l.repl, "a.db", &cmd, &due), 0);
        if (due) {
            sqlite3 *reader = hOpen(l.vfs, "a.db");
            hExecOk(reader, "BEGIN; SELECT count(*) FROM t");
            clusterApply(&c, &cmd);
            hExecOk(reader, "COMMIT");
            sqlite3_close(reader);
        }
        bufFree(&cmd);
    }
    cr_assert(due);
    uint32_t frames;
    cr_assert_eq(vfsWalFrames(f.vfs, "a.db", &frames), 0);
    cr_assert_eq(frames, 0);
    cr_assert_eq(vfsWalFrames(l.vfs, "a.db", &frames), 0);
    cr_assert_gt(frames, 0); /* the leader's reader blocked it there */
    cr_assert_eq(l.repl.n_checkpoints_skipped, 1);
    cr_assert(hSameImage(l.vfs, f.vfs, "a.db"));
    hExecOk(w, "INSERT INTO t VALUES(1)");
    cr_assert(clusterReplicate(&c, "a.db"));
    cr_assert(hSameImage(l.vfs, f.vfs, "a.db"));
    sqlite3_close(w);
}

Test(fsm, snapshot_restores_the_whole_state_at_its_index)
{
    struct cluster c = {&l, &f, 0};
    clusterOpen(&c, "a.db", 4096);
    clusterOpen(&c, "b.db", 512);
    sqlite3 *a = hOpen(l.vfs, "a.db");
    sqlite3 *b = hOpen(l.vfs, "b.db");
    hExecOk(a, "CREATE TABLE t(x)");
    cr_assert(clusterReplicate(&c, "a.db"));
    hExecOk(b, "CREATE TABLE u(y)");
    cr_assert(clusterReplicate(&c, "b.db"));
    struct repl_snapshot s;
    cr_assert_eq(replSnapshotTake(&l.repl, &s), 0);
    cr_assert_eq(s.index, 4);
    hExecOk(a, "INSERT INTO t VALUES(1)"); /* after the snapshot */
    cr_assert(clusterReplicate(&c, "a.db"));
    struct buf enc;
    bufInit(&enc);
    cr_assert_eq(replSnapshotEncode(&s, &enc), 0);
    cr_assert_eq(enc.len, replSnapshotSize(&s));
    replSnapshotRelease(&s);

    struct node n;
    nodeInit(&n, "N");
    cr_assert_eq(vfsDbCreate(n.vfs, "stale.db", 4096), 0);
    cr_assert_eq(replSnapshotRestore(&n.repl, enc.data, enc.len), 0);
    cr_assert_eq(n.repl.applied_index, 4);
    cr_assert(!vfsDbExists(n.vfs, "stale.db"));
    sqlite3 *r = hOpen(n.vfs, "a.db");
    cr_assert_eq(hInt(r, "SELECT count(*) FROM t"), 0);
    sqlite3_close(r);
    struct repl_snapshot s2;
    cr_assert_eq(replSnapshotTake(&n.repl, &s2), 0);
    struct buf enc2;
    bufInit(&enc2);
    cr_assert_eq(replSnapshotEncode(&s2, &enc2), 0);
    cr_assert_eq(enc2.len, enc.len);
    cr_assert_arr_eq(enc2.data, enc.data, enc.len);
    replSnapshotRelease(&s2);
    /* corrupt or truncated snapshots change nothing */
    enc.data[enc.len - 1] ^= 0xff;
    cr_assert_eq(replSnapshotRestore(&n.repl, enc.data, enc.len), ERR_CORRUPT);
    cr_assert_eq(replSnapshotRestore(&n.repl, enc.data, enc.len - 8),
                 ERR_MALFORMED);
    cr_assert_eq(replSnapshotRestore(&n.repl, enc.data, 10), ERR_MALFORMED);
    cr_assert(vfsDbExists(n.vfs, "b.db"));
    nodeClose(&n);
    bufFree(&enc);
    bufFree(&enc2);
    sqlite3_close(a);
    sqlite3_close(b);
}

Test(fsm, malformed_entries_change_nothing)
{
    uint8_t junk[16] = {1, 2, 0, 0, 200};
    cr_assert_eq(replApply(&f.repl, 1, junk, sizeof junk), ERR_MALFORMED);
    cr_assert_eq(f.repl.applied_index, 0);
    struct buf b;
    bufInit(&b);
    cr_assert_eq(replEncodeUndo(&b, "x.db"), 0);
    cr_assert_eq(replApply(&f.repl, 1, b.data, b.len), 0);
    cr_assert_eq(f.repl.applied_index, 1);
    bufFree(&b);
}
