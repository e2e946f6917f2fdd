/*
 * Helpers of the VFS tests: connections on a VFS and checks of what they
 * see. Every helper fails the current Criterion test on error.
 */
#ifndef TEST_VFS_HELPERS_H
#define TEST_VFS_HELPERS_H

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>

#include "vfs/vfs.h"

static inline sqlite3 *hOpen(struct vfs *v, const char *name)
{
    sqlite3 *conn;
    int rv = sqlite3_open_v2(
        name, &conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfsName(v));
    cr_assert_eq(rv, SQLITE_OK, "open: %s", sqlite3_errstr(rv));
    sqlite3_exec(conn, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF", NULL,
                 NULL, NULL);
    sqlite3_extended_result_codes(conn, 1);
    return conn;
}

static inline int hExec(sqlite3 *conn, const char *sql)
{
    return sqlite3_exec(conn, sql, NULL, NULL, NULL);
}

static inline void hExecOk(sqlite3 *conn, const char *sql)
{
    int rv = hExec(conn, sql);
    cr_assert_eq(rv, SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(conn));
}

/* The single integer a query returns. */
static inline int64_t hInt(sqlite3 *conn, const char *sql)
{
    sqlite3_stmt *stmt;
    int rv = sqlite3_prepare_v2(conn, sql, -1, &stmt, NULL);
    cr_assert_eq(rv, SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(conn));
    rv = sqlite3_step(stmt);
    cr_assert_eq(rv, SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(conn));
    int64_t n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
}

/* Poll, then apply the same frames: what the leader does on commit. */
static inline void hPollApply(struct vfs *v, const char *name)
{
    struct vfs_txn txn;
    cr_assert_eq(vfsPoll(v, name, &txn), 0);
    cr_assert_gt(txn.n_frames, 0);
    cr_assert_eq(vfsApply(v, name, &txn), 0);
    vfsTxnFree(&txn);
}

/* Whether two databases have the same logical page image. */
static inline int hSameImage(struct vfs *a, struct vfs *b, const char *name)
{
    struct buf x;
    struct buf y;
    bufInit(&x);
    bufInit(&y);
    cr_assert_eq(vfsReadImage(a, name, &x), 0);
    cr_assert_eq(vfsReadImage(b, name, &y), 0);
    int same = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    bufFree(&x);
    bufFree(&y);
    return same;
}

#endif /* TEST_VFS_HELPERS_H */
