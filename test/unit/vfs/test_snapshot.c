/* Snapshots (a frozen image while writers go on), restores (byte for byte,
 * all or nothing) and checkpoints (content unchanged, WAL emptied). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <unistd.h>

#include "helpers.h"
#include "lib/err.h"
#include "vfs/vfs.h"

static struct vfs *a;
static struct vfs *b;

static void setup(void)
{
    sqlite3_initialize();
    cr_assert_eq(vfsCreate("a", &a), 0);
    cr_assert_eq(vfsCreate("b", &b), 0);
}

static void teardown(void)
{
    vfsDestroy(a);
    vfsDestroy(b);
}

TestSuite(snapshot, .init = setup, .fini = teardown);

/* Concatenate a snapshot db's main file and WAL into two buffers. */
static void serialize(const struct vfs_snapshot_db *d, struct buf *main,
                      struct buf *wal)
{
    bufInit(main);
    bufInit(wal);
    for (uint32_t i = 0; i < d->n_pages; i++) {
        cr_assert_eq(bufAppend(main, d->pages[i]->data, d->page_size), 0);
    }
    if (d->n_frames > 0) {
        cr_assert_eq(bufAppend(wal, d->wal_hdr, VFS_WAL_HDR_SIZE), 0);
    }
    for (uint32_t i = 0; i < d->n_frames; i++) {
        cr_assert_eq(bufAppend(wal, d->frames[i]->data,
                               VFS_FRAME_HDR_SIZE + d->wal_page_size),
                     0);
    }
    cr_assert_eq(main->len, vfsSnapshotMainSize(d));
    cr_assert_eq(wal->len, vfsSnapshotWalSize(d));
}

static void fill(const char *name, int rows)
{
    sqlite3 *c = hOpen(a, name);
    if (!vfsDbExists(a, name) || hExec(c, "SELECT 1 FROM t") != SQLITE_OK) {
        hExecOk(c, "CREATE TABLE t(n, b)");
        hPollApply(a, name);
    }
    for (int i = 0; i < rows; i++) {
        hExecOk(c, "INSERT INTO t VALUES(random(), randomblob(3000))");
        hPollApply(a, name);
    }
    sqlite3_close(c);
}

Test(snapshot, restore_round_trips_byte_for_byte)
{
    fill("x.db", 10);
    fill("y.db", 3);
    cr_assert_eq(vfsCheckpoint(a, "y.db"), 0);
    fill("y.db", 2);
    struct vfs_snapshot *s;
    cr_assert_eq(vfsSnapshotAcquire(a, NULL, &s), 0);
    cr_assert_eq(s->n_dbs, 2);
    struct buf main[2];
    struct buf wal[2];
    struct vfs_image images[2];
    for (int i = 0; i < 2; i++) {
        serialize(&s->dbs[i], &main[i], &wal[i]);
        images[i] = (struct vfs_image){s->dbs[i].name, main[i].data,
                                       main[i].len, wal[i].data, wal[i].len};
    }
    fill("z.db", 1); /* b will have it before the restore: removed */
    cr_assert_eq(vfsDbCreate(b, "z.db", 4096), 0);
    cr_assert_eq(vfsRestore(b, images, 2, true), 0);
    cr_assert(!vfsDbExists(b, "z.db"));
    struct vfs_snapshot *s2;
    cr_assert_eq(vfsSnapshotAcquire(b, NULL, &s2), 0);
    cr_assert_eq(s2->n_dbs, 2);
    for (int i = 0; i < 2; i++) {
        struct buf m2;
        struct buf w2;
        serialize(&s2->dbs[i], &m2, &w2);
        cr_assert_eq(m2.len, main[i].len);
        cr_assert_arr_eq(m2.data, main[i].data, m2.len);
        cr_assert_eq(w2.len, wal[i].len);
        cr_assert_arr_eq(w2.data, wal[i].data, w2.len);
        bufFree(&m2);
        bufFree(&w2);
        bufFree(&main[i]);
        bufFree(&wal[i]);
    }
    vfsSnapshotRelease(s2);
    vfsSnapshotRelease(s);
    sqlite3 *c = hOpen(b, "x.db");
    cr_assert_eq(hInt(c, "SELECT count(*) FROM t"), 10);
    sqlite3_close(c);
    c = hOpen(b, "y.db");
    cr_assert_eq(hInt(c, "SELECT count(*) FROM t"), 5);
    sqlite3_close(c);
}

Test(snapshot, is_frozen_while_writers_go_on)
{
    fill("x.db", 5);
    struct buf before;
    bufInit(&before);
    cr_assert_eq(vfsReadImage(a, "x.db", &before), 0);
    struct vfs_snapshot *s;
    cr_assert_eq(vfsSnapshotAcquire(a, "x.db", &s), 0);
    sqlite3 *c = hOpen(a, "x.db");
    hExecOk(c, "UPDATE t SET b = randomblob(100)");
    hPollApply(a, "x.db");
    sqlite3_close(c);
    cr_assert_eq(vfsCheckpoint(a, "x.db"), 0); /* rewrites main pages */
    struct buf main;
    struct buf wal;
    serialize(&s->dbs[0], &main, &wal);
    struct vfs_image im = {"x.db", main.data, main.len, wal.data, wal.len};
    cr_assert_eq(vfsRestore(b, &im, 1, true), 0);
    struct buf restored;
    bufInit(&restored);
    cr_assert_eq(vfsReadImage(b, "x.db", &restored), 0);
    cr_assert_eq(restored.len, before.len);
    cr_assert_arr_eq(restored.data, before.data, before.len);
    vfsSnapshotRelease(s);
    bufFree(&before);
    bufFree(&restored);
    bufFree(&main);
    bufFree(&wal);
}

Test(snapshot, restore_refuses_corrupt_images_and_changes_nothing)
{
    fill("x.db", 2);
    struct vfs_snapshot *s;
    cr_assert_eq(vfsSnapshotAcquire(a, "x.db", &s), 0);
    struct buf main;
    struct buf wal;
    serialize(&s->dbs[0], &main, &wal);
    cr_assert_eq(vfsDbCreate(b, "keep.db", 4096), 0);
    wal.data[wal.len - 1] ^= 1; /* breaks the checksum chain */
    struct vfs_image im = {"x.db", main.data, main.len, wal.data, wal.len};
    cr_assert_eq(vfsRestore(b, &im, 1, true), ERR_CORRUPT);
    im.wal_len = wal.len - 1;
    cr_assert_eq(vfsRestore(b, &im, 1, true), ERR_CORRUPT);
    im.main_len = 50;
    cr_assert_eq(vfsRestore(b, &im, 1, true), ERR_CORRUPT);
    cr_assert(vfsDbExists(b, "keep.db"));
    cr_assert(!vfsDbExists(b, "x.db"));
    vfsSnapshotRelease(s);
    bufFree(&main);
    bufFree(&wal);
}

Test(snapshot, checkpoint_keeps_content_and_empties_the_wal)
{
    fill("x.db", 8);
    struct buf before;
    bufInit(&before);
    cr_assert_eq(vfsReadImage(a, "x.db", &before), 0);
    sqlite3 *r = hOpen(a, "x.db");
    hExecOk(r, "BEGIN");
    cr_assert_eq(hInt(r, "SELECT count(*) FROM t"), 8);
    cr_assert_eq(vfsCheckpoint(a, "x.db"), ERR_BUSY); /* a reader */
    hExecOk(r, "COMMIT");
    hExecOk(r, "INSERT INTO t VALUES(1, 2)");
    cr_assert_eq(vfsCheckpoint(a, "x.db"), ERR_BUSY); /* a held commit */
    cr_assert_eq(vfsAbort(a, "x.db"), 0);
    cr_assert_eq(vfsCheckpoint(a, "x.db"), 0);
    uint32_t frames;
    cr_assert_eq(vfsWalFrames(a, "x.db", &frames), 0);
    cr_assert_eq(frames, 0);
    uint32_t pages;
    cr_assert_eq(vfsNumPages(a, "x.db", &pages), 0);
    cr_assert_eq((size_t)pages * 4096, before.len);
    struct buf after;
    bufInit(&after);
    cr_assert_eq(vfsReadImage(a, "x.db", &after), 0);
    cr_assert_eq(after.len, before.len);
    cr_assert_arr_eq(after.data, before.data, before.len);
    cr_assert_eq(hInt(r, "SELECT count(*) FROM t"), 8);
    hExecOk(r, "INSERT INTO t VALUES(1, 2)");
    hPollApply(a, "x.db");
    cr_assert_eq(hInt(r, "SELECT count(*) FROM t"), 9);
    hExecOk(r, "PRAGMA integrity_check");
    sqlite3_close(r);
    bufFree(&before);
    bufFree(&after);
}

Test(snapshot, sqlite_checkpoints_are_refused)
{
    fill("x.db", 3);
    sqlite3 *c = hOpen(a, "x.db");
    int log = -1;
    int ckpt = -1;
    int rv = sqlite3_wal_checkpoint_v2(c, NULL, SQLITE_CHECKPOINT_TRUNCATE,
                                       &log, &ckpt);
    cr_assert_eq(rv, SQLITE_BUSY);
    cr_assert_eq(hExec(c, "PRAGMA journal_mode=DELETE"), SQLITE_BUSY);
    sqlite3_close(c);
    uint32_t frames;
    cr_assert_eq(vfsWalFrames(a, "x.db", &frames), 0);
    cr_assert_gt(frames, 0);
}

/* After a checkpoint the WAL is empty, as it was after the previous one: an
 * idle connection must still notice that the content changed. */
Test(snapshot, idle_connections_see_content_changed_by_checkpoints)
{
    fill("x.db", 3);
    cr_assert_eq(vfsCheckpoint(a, "x.db"), 0);
    sqlite3 *r = hOpen(a, "x.db");
    sqlite3 *w = hOpen(a, "x.db");
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(hInt(r, "SELECT count(*) FROM t"), 3 + i);
        hExecOk(w, "INSERT INTO t VALUES(1, randomblob(5000))");
        hPollApply(a, "x.db");
        cr_assert_eq(vfsCheckpoint(a, "x.db"), 0);
        /* w reads first: it would rebuild an index identical to r's */
        cr_assert_eq(hInt(w, "SELECT count(*) FROM t"), 4 + i);
    }
    cr_assert_eq(hInt(r, "SELECT count(*) FROM t"), 8);
    hExecOk(r, "PRAGMA integrity_check");
    sqlite3_close(w);
    sqlite3_close(r);
}

struct writer {
    struct vfs *v;
    int n_txns;
};

static void *writerMain(void *arg)
{
    struct writer *w = arg;
    sqlite3 *c = hOpen(w->v, "x.db");
    for (int i = 0; i < w->n_txns; i++) {
        hExecOk(c, "INSERT INTO t VALUES(random(), randomblob(3000))");
        hPollApply(w->v, "x.db");
        if (i % 7 == 0) {
            hExecOk(c, "UPDATE t SET b = randomblob(2000) WHERE rowid % 3 = 0");
            hPollApply(w->v, "x.db");
        }
        if (i % 25 == 0) {
            vfsCheckpoint(w->v, "x.db"); /* may be busy: fine */
        }
    }
    sqlite3_close(c);
    return NULL;
}

/* Snapshots taken and serialized on one thread while another commits and
 * checkpoints: every snapshot is a consistent database. */
Test(snapshot, consistent_while_a_writer_runs_on_another_thread)
{
    fill("x.db", 5);
    struct writer w = {a, 200};
    pthread_t t;
    pthread_create(&t, NULL, writerMain, &w);
    int64_t last = 0;
    for (int i = 0; i < 20; i++) {
        struct vfs_snapshot *s;
        cr_assert_eq(vfsSnapshotAcquire(a, "x.db", &s), 0);
        struct buf main;
        struct buf wal;
        serialize(&s->dbs[0], &main, &wal);
        vfsSnapshotRelease(s);
        struct vfs_image im = {"x.db", main.data, main.len, wal.data, wal.len};
        cr_assert_eq(vfsRestore(b, &im, 1, true), 0);
        sqlite3 *c = hOpen(b, "x.db");
        sqlite3_stmt *stmt;
        sqlite3_prepare_v2(c, "PRAGMA integrity_check", -1, &stmt, NULL);
        cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW);
        cr_assert_str_eq((const char *)sqlite3_column_text(stmt, 0), "ok");
        sqlite3_finalize(stmt);
        int64_t count = hInt(c, "SELECT count(*) FROM t");
        cr_assert_geq(count, last);
        last = count;
        sqlite3_close(c);
        bufFree(&main);
        bufFree(&wal);
        usleep(2000);
    }
    pthread_join(t, NULL);
}
