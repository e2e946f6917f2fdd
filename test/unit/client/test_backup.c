/* dqlite_client_backup against a fake leader: the BACKUP stream written
 * into a file SQLite opens with integrity "ok"; the DUMP fallback when the
 * node does not know BACKUP; chunks out of order and a failure midway
 * refused, with no file left behind. */
#include <criterion/criterion.h>
#include <dqlite_client.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "tcluster.h"

TestSuite(backup, .init = fakeWatchdog);

#define PAGE 512

enum backup_mode { STREAM, UNKNOWN, OUT_OF_ORDER, FAIL_MIDWAY };

struct image {
    enum backup_mode mode;
    uint8_t *data;
    size_t len;
};

static char dir[64];

/* A small database (page size 512, a few pages) as the bytes of its file. */
static void imageMake(struct image *img, enum backup_mode mode)
{
    char path[128];
    sqlite3 *db;
    snprintf(dir, sizeof dir, "/tmp/dqlite-test-backup.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/src.db", dir);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "PRAGMA page_size=512; CREATE TABLE t (n, s);"
                              "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
                              "SELECT i + 1 FROM c WHERE i < 50) INSERT INTO "
                              "t SELECT i, printf('%0100d', i) FROM c",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    img->len = (size_t)ftell(f);
    rewind(f);
    img->data = malloc(img->len);
    cr_assert_eq(fread(img->data, 1, img->len, f), img->len);
    fclose(f);
    unlink(path);
    cr_assert(img->len % PAGE == 0 && img->len / PAGE >= 4);
    img->mode = mode;
}

static void sendChunk(struct fake_conn *fc, const struct image *img,
                      uint64_t first, uint64_t count)
{
    struct proto_response r;
    protoResponseInit(&r, PROTO_RESP_BACKUP);
    r.backup.page_size = PAGE;
    r.backup.n_pages = img->len / PAGE;
    r.backup.first = first;
    r.backup.count = count;
    r.backup.data = img->data + first * PAGE;
    fakeSend(fc, &r);
}

static bool serveBackup(struct fake_conn *fc, struct tnode *node)
{
    const struct image *img = node->tc->data;
    uint64_t n = img->len / PAGE;
    if (fc->req.type == PROTO_REQ_DUMP) {
        struct proto_file files[2] = {
            {protoText("db"), img->len, img->data},
            {protoText("db-wal"), 0, NULL},
        };
        struct proto_response r;
        protoResponseInit(&r, PROTO_RESP_FILES);
        r.files.count = 2;
        r.files.files = files;
        fakeSend(fc, &r);
        return true;
    }
    if (fc->req.type != PROTO_REQ_BACKUP) {
        return false;
    }
    cr_assert_str_eq(fc->req.backup.name.data, "db");
    switch (img->mode) {
    case UNKNOWN:
        fakeSendFailure(fc, 1005, "unrecognized request type");
        break;
    case OUT_OF_ORDER:
        sendChunk(fc, img, 0, 2);
        sendChunk(fc, img, 3, n - 3);
        break;
    case FAIL_MIDWAY:
        sendChunk(fc, img, 0, 2);
        fakeSendFailure(fc, 10, "disk I/O error");
        break;
    default:
        for (uint64_t first = 0; first < n; first += 2) {
            sendChunk(fc, img, first, n - first < 2 ? n - first : 2);
        }
    }
    return true;
}

/* Runs a backup against a fake leader serving `mode`; returns its code and
 * copies the client's message into msg. */
static int runBackup(enum backup_mode mode, const char *path, char *msg,
                     size_t size, struct image *img)
{
    struct tcluster *tc = tclusterStart(1, NULL);
    struct dqlite_client *cl;
    imageMake(img, mode);
    tc->data = img;
    tc->hook = serveBackup;
    cr_assert_eq(dqlite_client_connect_leader(tc->driver, &cl), 0);
    char full[128];
    snprintf(full, sizeof full, "%s/%s", dir, path);
    int rv = dqlite_client_backup(cl, "db", full);
    snprintf(msg, size, "%s", dqlite_client_errmsg(cl));
    dqlite_client_close(cl);
    tclusterStop(tc);
    return rv;
}

/* What the copy holds: integrity and rows. */
static void checkCopy(const char *name)
{
    char path[128];
    sqlite3 *db;
    sqlite3_stmt *stmt;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT (SELECT integrity_check FROM "
                                    "pragma_integrity_check), count(*), "
                                    "sum(n) FROM t",
                                    -1, &stmt, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(stmt, 0), "ok");
    cr_assert_eq(sqlite3_column_int(stmt, 1), 50);
    cr_assert_eq(sqlite3_column_int(stmt, 2), 1275);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

/* Only `keep` (NULL: nothing) is left in the directory, then removed. */
static void cleanDir(const char *keep)
{
    char path[128];
    if (keep != NULL) {
        snprintf(path, sizeof path, "%s/%s", dir, keep);
        cr_assert_eq(unlink(path), 0);
    }
    cr_assert_eq(rmdir(dir), 0, "files left in %s", dir);
}

Test(backup, streamed_chunks_make_the_file)
{
    struct image img;
    char msg[256];
    cr_assert_eq(runBackup(STREAM, "copy.db", msg, sizeof msg, &img), 0);
    checkCopy("copy.db");
    cleanDir("copy.db");
    free(img.data);
}

Test(backup, node_without_backup_falls_back_to_dump)
{
    struct image img;
    char msg[256];
    cr_assert_eq(runBackup(UNKNOWN, "copy.db", msg, sizeof msg, &img), 0);
    checkCopy("copy.db");
    cleanDir("copy.db");
    free(img.data);
}

Test(backup, chunks_out_of_order_are_refused)
{
    struct image img;
    char msg[256];
    cr_assert_neq(runBackup(OUT_OF_ORDER, "copy.db", msg, sizeof msg, &img), 0);
    cr_assert_str_eq(msg, "backup chunk out of order");
    cleanDir(NULL);
    free(img.data);
}

Test(backup, failure_midway_is_reported)
{
    struct image img;
    char msg[256];
    cr_assert_eq(runBackup(FAIL_MIDWAY, "copy.db", msg, sizeof msg, &img),
                 DQLITE_CLIENT_ERROR);
    cr_assert_str_eq(msg, "disk I/O error");
    cleanDir(NULL);
    free(img.data);
}
