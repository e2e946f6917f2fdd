/* LOAD parts (docs/restore.md): a database streamed as several entries is
 * installed on every node with the last one, identically, or refused on
 * every node with nothing changed; a new term drops a load in progress;
 * a snapshot taken mid-load carries it. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "lib/err.h"
#include "repl/command.h"
#include "repl/repl.h"

static struct node l;
static struct node f;
static unsigned char *image;
static sqlite3_int64 image_len;

/* A standalone SQLite file of 4 KiB pages with `rows` rows in table t. */
static void makeImage(int rows)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    char sql[256];
    snprintf(sql, sizeof sql,
             "PRAGMA page_size=4096; CREATE TABLE t(n INTEGER PRIMARY KEY, "
             "b BLOB); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 "
             "FROM c WHERE i < %d) INSERT INTO t SELECT i, randomblob(500) "
             "FROM c;",
             rows);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    image = sqlite3_serialize(db, "main", &image_len, 0);
    cr_assert_not_null(image);
    sqlite3_close(db);
}

static void setup(void)
{
    sqlite3_initialize();
    nodeInit(&l, "LL");
    nodeInit(&f, "LF");
    makeImage(200);
}

static void teardown(void)
{
    sqlite3_free(image);
    nodeClose(&l);
    nodeClose(&f);
}

TestSuite(load, .init = setup, .fini = teardown);

/* Applies one part of `image` to both nodes; its outcome on each. */
static int applyPart(struct cluster *c, const char *name, uint64_t id,
                     uint64_t offset, uint32_t len, uint32_t flags)
{
    struct repl_load_part p = {.id = id,
                               .total = (uint64_t)image_len,
                               .offset = offset,
                               .page_size = 4096,
                               .flags = flags,
                               .len = len,
                               .data = image + offset};
    struct buf cmd;
    bufInit(&cmd);
    cr_assert_eq(replEncodeLoad(&cmd, name, &p), 0);
    clusterApply(c, &cmd);
    bufFree(&cmd);
    int lrv, frv;
    cr_assert(replLoadResult(&c->leader->repl, c->index, &lrv));
    cr_assert(replLoadResult(&c->follower->repl, c->index, &frv));
    cr_assert_eq(lrv, frv, "the nodes decided differently");
    return lrv;
}

/* The whole image in parts of `part` bytes, then the last (empty) part. */
static int loadAll(struct cluster *c, const char *name, uint64_t id,
                   uint32_t part, uint32_t last_flags)
{
    for (uint64_t off = 0; off < (uint64_t)image_len; off += part) {
        uint64_t left = (uint64_t)image_len - off;
        int rv = applyPart(c, name, id, off,
                           (uint32_t)(left < part ? left : part), 0);
        if (rv != 0) {
            return rv;
        }
    }
    return applyPart(c, name, id, (uint64_t)image_len, 0,
                     REPL_LOAD_LAST | last_flags);
}

static int64_t countRows(struct vfs *v, const char *name)
{
    sqlite3 *conn = hOpen(v, name);
    int64_t n = hInt(conn, "SELECT count(*) FROM t");
    sqlite3_close(conn);
    return n;
}

Test(load, parts_install_the_same_database_on_every_node)
{
    struct cluster c = {&l, &f, 0};
    cr_assert_eq(loadAll(&c, "x.db", 1, 4096 * 8, 0), 0);
    cr_assert(vfsDbExists(l.vfs, "x.db"));
    cr_assert(hSameImage(l.vfs, f.vfs, "x.db"));
    cr_assert_eq(countRows(f.vfs, "x.db"), 200);
    /* the stage is gone; the database takes replicated writes */
    uint64_t staged;
    char stage[REPL_LOAD_STAGE_NAME_SIZE];
    replLoadStageName(stage, sizeof stage, "x.db", 1);
    cr_assert_eq(vfsStageSize(l.vfs, stage, &staged), ERR_NOTFOUND);
    sqlite3 *w = hOpen(l.vfs, "x.db");
    hExecOk(w, "INSERT INTO t(b) VALUES (1)");
    cr_assert(clusterReplicate(&c, "x.db"));
    sqlite3_close(w);
    cr_assert_eq(countRows(f.vfs, "x.db"), 201);
}

Test(load, an_existing_database_needs_force)
{
    struct cluster c = {&l, &f, 0};
    clusterOpen(&c, "x.db", 4096);
    sqlite3 *w = hOpen(l.vfs, "x.db");
    hExecOk(w, "CREATE TABLE other(n)");
    cr_assert(clusterReplicate(&c, "x.db"));
    sqlite3_close(w);
    cr_assert_eq(loadAll(&c, "x.db", 1, 4096 * 16, 0), ERR_EXISTS);
    sqlite3 *r = hOpen(f.vfs, "x.db");
    cr_assert_eq(hInt(r, "SELECT count(*) FROM other"), 0); /* untouched */
    sqlite3_close(r);
    cr_assert_eq(loadAll(&c, "x.db", 1, 4096 * 16, REPL_LOAD_FORCE), 0);
    cr_assert_eq(countRows(l.vfs, "x.db"), 200);
    cr_assert(hSameImage(l.vfs, f.vfs, "x.db"));
}

Test(load, a_file_that_is_not_sqlite_is_refused)
{
    struct cluster c = {&l, &f, 0};
    memset(image, 'x', 100);
    cr_assert_eq(applyPart(&c, "x.db", 1, 0, 4096, 0), ERR_CORRUPT);
    cr_assert(!vfsDbExists(l.vfs, "x.db"));
    /* nothing staged: the next part does not continue anything */
    cr_assert_eq(applyPart(&c, "x.db", 1, 4096, 4096, 0), ERR_INVALID);
}

Test(load, a_file_failing_integrity_check_is_refused)
{
    struct cluster c = {&l, &f, 0};
    /* Damage the pages of table t's b-tree (page 2 on). */
    memset(image + 4096, 0xa5, (size_t)image_len - 4096);
    cr_assert_eq(loadAll(&c, "x.db", 1, 4096 * 8, 0), ERR_CORRUPT);
    cr_assert(!vfsDbExists(l.vfs, "x.db"));
    cr_assert(!vfsDbExists(f.vfs, "x.db"));
}

Test(load, a_part_out_of_sequence_ends_the_load)
{
    struct cluster c = {&l, &f, 0};
    cr_assert_eq(applyPart(&c, "x.db", 1, 0, 4096, 0), 0);
    cr_assert_eq(applyPart(&c, "x.db", 1, 8192, 4096, 0), ERR_INVALID);
    cr_assert_eq(applyPart(&c, "x.db", 1, 4096, 4096, 0), ERR_INVALID);
    cr_assert(!vfsDbExists(l.vfs, "x.db"));
}

Test(load, a_new_term_drops_the_load_in_progress)
{
    struct cluster c = {&l, &f, 0};
    replLoadTerm(&l.repl, 1);
    replLoadTerm(&f.repl, 1);
    cr_assert_eq(applyPart(&c, "x.db", 1, 0, 4096 * 4, 0), 0);
    /* the next leader's first entry */
    replLoadTerm(&l.repl, 2);
    replLoadTerm(&f.repl, 2);
    cr_assert_eq(f.repl.n_loads_dropped, 1);
    cr_assert_eq(applyPart(&c, "x.db", 1, 4096 * 4, 4096, 0), ERR_INVALID);
    cr_assert(!vfsDbExists(f.vfs, "x.db"));
    /* a load of the new term goes through */
    cr_assert_eq(loadAll(&c, "x.db", 2, 4096 * 8, 0), 0);
    cr_assert_eq(countRows(f.vfs, "x.db"), 200);
}

/* A node that installs a snapshot taken mid-load goes on with the next
 * part: the stage is a database of the VFS, carried by the snapshot. */
Test(load, a_snapshot_taken_mid_load_carries_the_stage)
{
    struct cluster c = {&l, &f, 0};
    uint32_t part = 4096 * 8;
    cr_assert_eq(applyPart(&c, "x.db", 1, 0, part, 0), 0);
    struct repl_snapshot snap;
    struct buf enc;
    bufInit(&enc);
    cr_assert_eq(replSnapshotTake(&f.repl, &snap), 0);
    cr_assert_eq(replSnapshotEncode(&snap, &enc), 0);
    replSnapshotRelease(&snap);
    struct node fresh;
    nodeInit(&fresh, "LN");
    cr_assert_eq(replSnapshotRestore(&fresh.repl, enc.data, enc.len), 0);
    bufFree(&enc);
    struct cluster c2 = {&l, &fresh, c.index};
    for (uint64_t off = part; off < (uint64_t)image_len; off += part) {
        uint64_t left = (uint64_t)image_len - off;
        cr_assert_eq(applyPart(&c2, "x.db", 1, off,
                               (uint32_t)(left < part ? left : part), 0),
                     0);
    }
    cr_assert_eq(
        applyPart(&c2, "x.db", 1, (uint64_t)image_len, 0, REPL_LOAD_LAST), 0);
    cr_assert(hSameImage(l.vfs, fresh.vfs, "x.db"));
    cr_assert_eq(countRows(fresh.vfs, "x.db"), 200);
    nodeClose(&fresh);
}

Test(load, the_codec_refuses_parts_out_of_bounds)
{
    struct buf b;
    bufInit(&b);
    uint8_t page[512] = {0};
    struct repl_load_part p = {1, 1024, 0, 512, 0, 512, page};
    cr_assert_eq(replEncodeLoad(&b, "a", &p), 0);
    struct repl_command cmd;
    cr_assert_eq(replDecode(b.data, b.len, &cmd), 0);
    cr_assert_eq(cmd.type, REPL_LOAD);
    cr_assert_eq(cmd.load.len, 512);
    cr_assert_eq(cmd.load.total, 1024);
    for (size_t len = 0; len < b.len; len += 8) {
        cr_assert_neq(replDecode(b.data, len, &cmd), 0);
    }
    struct repl_load_part bad[] = {
        {1, 1024, 0, 512, 0, 0, page},                 /* empty, not last */
        {1, 1024, 0, 512, REPL_LOAD_LAST, 512, page},  /* last, not at end */
        {1, 1024, 0, 512, REPL_LOAD_FORCE, 512, page}, /* force, not last */
        {1, 1000, 0, 512, 0, 512, page},               /* total not pages */
        {1, 1024, 512, 512, 0, 1024, page},            /* past the total */
        {1, 1024, 0, 500, 0, 500, page},               /* bad page size */
        {1, 1024, 0, 512, 8, 512, page},               /* unknown flag */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bufReset(&b);
        cr_assert_eq(replEncodeLoad(&b, "a", &bad[i]), ERR_INVALID, "%zu", i);
    }
    bufFree(&b);
}

/* Opening a name creates an empty database (one page): it does not count
 * as existing, so a load needs no FORCE over it. */
Test(load, an_empty_database_does_not_need_force)
{
    struct cluster c = {&l, &f, 0};
    clusterOpen(&c, "x.db", 4096);
    cr_assert(!replLoadTargetExists(l.vfs, "x.db"));
    cr_assert_eq(loadAll(&c, "x.db", 1, 4096 * 8, 0), 0);
    cr_assert(replLoadTargetExists(l.vfs, "x.db"));
    cr_assert_eq(countRows(f.vfs, "x.db"), 200);
}

/* An ABORT part (its client went away) drops the stage on every node. */
Test(load, an_abort_part_drops_the_stage)
{
    struct cluster c = {&l, &f, 0};
    cr_assert_eq(applyPart(&c, "x.db", 1, 0, 4096 * 4, 0), 0);
    char stage[REPL_LOAD_STAGE_NAME_SIZE];
    uint64_t staged;
    replLoadStageName(stage, sizeof stage, "x.db", 1);
    cr_assert_eq(vfsStageSize(f.vfs, stage, &staged), 0);
    cr_assert_eq(staged, 4096 * 4);
    cr_assert_eq(applyPart(&c, "x.db", 1, 0, 0, REPL_LOAD_ABORT), ERR_CANCELED);
    cr_assert_eq(vfsStageSize(l.vfs, stage, &staged), ERR_NOTFOUND);
    cr_assert_eq(vfsStageSize(f.vfs, stage, &staged), ERR_NOTFOUND);
    cr_assert(!vfsDbExists(f.vfs, "x.db"));
}

/* A follower's connection reads the target (a query between two batches)
 * when the last part, carrying data, is applied with FORCE: the move finds
 * the target busy (ERR_BUSY, nothing recorded); once the node ended its
 * reader, the same entry applied again installs the file as on the leader
 * (its part is staged once, not twice: a second write would not continue
 * the stage and the load would fail on this node alone). */
Test(load, the_last_part_again_after_busy_installs_it)
{
    struct cluster c = {&l, &f, 0};
    clusterOpen(&c, "x.db", 4096);
    sqlite3 *w = hOpen(l.vfs, "x.db");
    hExecOk(w, "BEGIN; CREATE TABLE other(n); INSERT INTO other VALUES (1), "
               "(2); COMMIT");
    cr_assert(clusterReplicate(&c, "x.db"));
    sqlite3_close(w);
    uint32_t part = 4096 * 16;
    uint64_t last = ((uint64_t)image_len - 1) / part * part;
    for (uint64_t off = 0; off < last; off += part) {
        cr_assert_eq(applyPart(&c, "x.db", 1, off, part, 0), 0);
    }
    sqlite3 *r = hOpen(f.vfs, "x.db");
    sqlite3_stmt *stmt;
    cr_assert_eq(sqlite3_prepare_v2(r, "SELECT n FROM other", -1, &stmt, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW); /* read transaction held */
    struct repl_load_part p = {.id = 1,
                               .total = (uint64_t)image_len,
                               .offset = last,
                               .page_size = 4096,
                               .flags = REPL_LOAD_LAST | REPL_LOAD_FORCE,
                               .len = (uint32_t)((uint64_t)image_len - last),
                               .data = image + last};
    uint64_t index = ++c.index;
    int rv;
    cr_assert_eq(replApplyLoad(&l.repl, index, "x.db", &p), 0);
    cr_assert(replLoadResult(&l.repl, index, &rv));
    cr_assert_eq(rv, 0);
    cr_assert_eq(replApplyLoad(&f.repl, index, "x.db", &p), ERR_BUSY);
    cr_assert_not(replLoadResult(&f.repl, index, &rv), "nothing recorded");
    sqlite3_reset(stmt); /* what the node does: replicaEndReaders */
    cr_assert_eq(replApplyLoad(&f.repl, index, "x.db", &p), 0);
    cr_assert(replLoadResult(&f.repl, index, &rv));
    cr_assert_eq(rv, 0, "outcome %d", rv);
    sqlite3_finalize(stmt);
    sqlite3_close(r);
    cr_assert(hSameImage(l.vfs, f.vfs, "x.db"));
    cr_assert_eq(countRows(f.vfs, "x.db"), 200);
}
