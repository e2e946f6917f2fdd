/*
 * Helpers of the repl tests: a "node" (a VFS and its state machine) and a
 * two-node "cluster" whose log is the sequence of commands applied to both.
 * Every helper fails the current Criterion test on error.
 */
#ifndef TEST_REPL_HELPERS_H
#define TEST_REPL_HELPERS_H

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "repl/command.h"
#include "repl/repl.h"
#include "vfs/vfs.h"

struct node {
    struct vfs *vfs;
    struct repl repl;
};

static inline void nodeInit(struct node *n, const char *name)
{
    cr_assert_eq(vfsCreate(name, &n->vfs), 0);
    replInit(&n->repl, n->vfs);
}

static inline void nodeClose(struct node *n)
{
    vfsDestroy(n->vfs);
}

/* A leader, a follower and the index of the last entry. */
struct cluster {
    struct node *leader;
    struct node *follower;
    uint64_t index;
};

/* Commit `cmd` at the next index: the follower first, then the leader. */
static inline void clusterApply(struct cluster *c, const struct buf *cmd)
{
    c->index++;
    int rv = replApply(&c->follower->repl, c->index, cmd->data, cmd->len);
    cr_assert_eq(rv, 0, "follower apply: %d", rv);
    rv = replApply(&c->leader->repl, c->index, cmd->data, cmd->len);
    cr_assert_eq(rv, 0, "leader apply: %d", rv);
}

static inline void clusterOpen(struct cluster *c, const char *name,
                               uint32_t page_size)
{
    struct buf cmd;
    bufInit(&cmd);
    cr_assert_eq(replEncodeOpen(&cmd, name, page_size), 0);
    clusterApply(c, &cmd);
    bufFree(&cmd);
}

/* Poll the leader and, if it holds a commit, replicate it. */
static inline bool clusterReplicate(struct cluster *c, const char *name)
{
    struct buf cmd;
    bool has;
    bufInit(&cmd);
    cr_assert_eq(replLeaderPoll(c->leader->vfs, name, &cmd, &has), 0);
    if (has) {
        clusterApply(c, &cmd);
    }
    bufFree(&cmd);
    return has;
}

static inline sqlite3 *hOpen(struct vfs *v, const char *name)
{
    sqlite3 *conn;
    int rv = sqlite3_open_v2(
        name, &conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfsName(v));
    cr_assert_eq(rv, SQLITE_OK, "open: %s", sqlite3_errstr(rv));
    sqlite3_exec(conn, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    return conn;
}

static inline void hExecOk(sqlite3 *conn, const char *sql)
{
    int rv = sqlite3_exec(conn, sql, NULL, NULL, NULL);
    cr_assert_eq(rv, SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(conn));
}

static inline int64_t hInt(sqlite3 *conn, const char *sql)
{
    sqlite3_stmt *stmt;
    int rv = sqlite3_prepare_v2(conn, sql, -1, &stmt, NULL);
    cr_assert_eq(rv, SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(conn));
    rv = sqlite3_step(stmt);
    cr_assert_eq(rv, SQLITE_ROW, "%s: %d %s", sql, rv, sqlite3_errmsg(conn));
    int64_t n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
}

static inline bool hSameImage(struct vfs *a, struct vfs *b, const char *name)
{
    struct buf x;
    struct buf y;
    bufInit(&x);
    bufInit(&y);
    cr_assert_eq(vfsReadImage(a, name, &x), 0);
    cr_assert_eq(vfsReadImage(b, name, &y), 0);
    bool same = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    bufFree(&x);
    bufFree(&y);
    return same;
}

#endif /* TEST_REPL_HELPERS_H */
