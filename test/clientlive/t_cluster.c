/*
 * The client-live tests of the cluster client (dqlite_client_*): leader and
 * cluster from the leader and from a follower, describe and weight, dump
 * and dump_to_dir (the files opened with SQLite), refusals on a follower (not
 * leader) and of unknown ids, a client whose connect failed, and leadership
 * transfer. Membership (add, assign, remove, join, leave) is in t_member.c.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "live.h"

#define DB "live.db"

static void testConnectLeader(void)
{
    struct dqlite_client *cl = NULL;
    struct live_node *leader = NULL;
    char *address = NULL;
    uint64_t id = 0;
    CHECK(liveLeader(&leader) == 0, "no leader");
    CHECK_CL(cl, dqlite_client_connect_leader(ctx->driver, &cl), 0);
    CHECK_CL(cl, dqlite_client_leader(cl, &id, &address), 0);
    CHECK(strcmp(address, leader->address) == 0 && id == leader->id,
          "leader says %llu %s, nodes agree on %llu %s", (unsigned long long)id,
          address, (unsigned long long)leader->id, leader->address);
    CHECK(strcmp(dqlite_client_errmsg(cl), "not an error") == 0 &&
              dqlite_client_errcode(cl) == 0,
          "errmsg after success: %s", dqlite_client_errmsg(cl));
out:
    dqlite_client_free(address);
    dqlite_client_close(cl);
}

/* Every node (leader and followers) names the same leader. */
static void testLeaderEverywhere(void)
{
    struct dqlite_client *cl = NULL;
    struct live_node *leader = NULL;
    char *address = NULL;
    uint64_t id = 0;
    unsigned i;
    CHECK(liveLeader(&leader) == 0, "no leader");
    for (i = 0; i < LIVE_NODES; i++) {
        CHECK_CL(cl,
                 dqlite_client_connect(ctx->driver, ctx->nodes[i].address, &cl),
                 0);
        CHECK_CL(cl, dqlite_client_leader(cl, &id, &address), 0);
        CHECK(id == leader->id && strcmp(address, leader->address) == 0,
              "node %s names %llu %s", ctx->nodes[i].address,
              (unsigned long long)id, address);
        dqlite_client_free(address);
        address = NULL;
        dqlite_client_close(cl);
        cl = NULL;
    }
out:
    dqlite_client_free(address);
    dqlite_client_close(cl);
}

/* Every node reports the 3 voters with their ids. */
static void testCluster(void)
{
    struct dqlite_client *cl = NULL;
    struct dqlite_server_info *servers = NULL;
    unsigned n = 0;
    unsigned i;
    unsigned j;
    unsigned found;
    for (i = 0; i < LIVE_NODES; i++) {
        CHECK_CL(cl,
                 dqlite_client_connect(ctx->driver, ctx->nodes[i].address, &cl),
                 0);
        CHECK_CL(cl, dqlite_client_cluster(cl, &servers, &n), 0);
        for (j = 0, found = 0; j < n; j++) {
            struct live_node *node = liveNodeById(servers[j].id);
            found += node != NULL && node != &ctx->extra &&
                     strcmp(node->address, servers[j].address) == 0 &&
                     servers[j].role == DQLITE_VOTER;
        }
        CHECK(found == LIVE_NODES && n <= LIVE_NODES + 1,
              "node %s: %u servers, %u of the 3 voters", ctx->nodes[i].address,
              n, found);
        dqlite_server_info_free(servers, n);
        servers = NULL;
        dqlite_client_close(cl);
        cl = NULL;
    }
out:
    dqlite_server_info_free(servers, n);
    dqlite_client_close(cl);
}

static void testConnectFails(void)
{
    struct dqlite_client *cl = NULL;
    char closed[LIVE_ADDR_MAX];
    char *address = NULL;
    uint64_t id;
    CHECK(liveFreePort(closed) == 0, "no free port");
    CHECK_CL(cl, dqlite_client_connect(ctx->driver, closed, &cl),
             DQLITE_CLIENT_IOERR);
    CHECK(cl != NULL && strstr(dqlite_client_errmsg(cl), closed) != NULL,
          "message: %s", dqlite_client_errmsg(cl));
    CHECK_CL(cl, dqlite_client_leader(cl, &id, &address), DQLITE_CLIENT_IOERR);
out:
    dqlite_client_free(address);
    dqlite_client_close(cl);
}

/* Counts the rows of `table` in `dir`/live.db with SQLite. */
static int countRows(const char *dir, const char *table, int64_t *count)
{
    char path[1200];
    char sql[128];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rv;
    snprintf(path, sizeof path, "%s/%s", dir, DB);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    rv = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    rv = rv != 0 ? rv : sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rv == 0 && sqlite3_step(st) == SQLITE_ROW) {
        *count = sqlite3_column_int64(st, 0);
    } else {
        rv = -1;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rv;
}

/* Writes a dump's files into `dir` and counts rows of `table`. */
static int countInDump(const struct dqlite_file *files, unsigned n,
                       const char *dir, const char *table, int64_t *count)
{
    char path[1200];
    unsigned i;
    int rv = 0;
    for (i = 0; i < n && rv == 0; i++) {
        FILE *f;
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        f = fopen(path, "wb");
        rv = f == NULL ||
             fwrite(files[i].data, 1, files[i].size, f) != files[i].size;
        if (f != NULL) {
            fclose(f);
        }
    }
    return rv != 0 ? rv : countRows(dir, table, count);
}

static void testDump(void)
{
    struct dqlite_client *cl = NULL;
    struct dqlite_file *files = NULL;
    char dir[512];
    unsigned n = 0;
    int64_t count = 0;
    snprintf(dir, sizeof dir, "%s/dump", ctx->dir);
    CHECK(mkdir(dir, 0700) == 0, "mkdir %s", dir);
    CHECK_CL(cl, dqlite_client_connect_leader(ctx->driver, &cl), 0);
    CHECK_CL(cl, dqlite_client_dump(cl, DB, &files, &n), 0);
    CHECK(n == 2 && strcmp(files[0].name, DB) == 0 &&
              strcmp(files[1].name, DB "-wal") == 0,
          "%u files, first %s", n, n > 0 ? files[0].name : "-");
    CHECK(files[0].size >= 100 &&
              memcmp(files[0].data, "SQLite format 3", 16) == 0,
          "the database file (%zu bytes) has no SQLite header", files[0].size);
    CHECK(countInDump(files, n, dir, "big", &count) == 0 && count == 100000,
          "the dump's table big has %lld rows", (long long)count);
out:
    dqlite_file_free(files, n);
    dqlite_client_close(cl);
}

/* The dump written by the library: both files, mode 0600, usable by
 * SQLite; a directory that does not exist: IOERR naming the file. */
static void testDumpToDir(void)
{
    struct dqlite_client *cl = NULL;
    struct stat st;
    char dir[512];
    char path[1200];
    int64_t count = 0;
    snprintf(dir, sizeof dir, "%s/dump-to-dir", ctx->dir);
    CHECK(mkdir(dir, 0700) == 0, "mkdir %s", dir);
    CHECK_CL(cl, dqlite_client_connect_leader(ctx->driver, &cl), 0);
    CHECK_CL(cl, dqlite_client_dump_to_dir(cl, DB, dir), 0);
    snprintf(path, sizeof path, "%s/%s-wal", dir, DB);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
          "%s: missing or mode %o", path, (unsigned)(st.st_mode & 0777));
    snprintf(path, sizeof path, "%s/%s", dir, DB);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size > 0,
          "%s: missing, empty or mode %o", path, (unsigned)(st.st_mode & 0777));
    CHECK(countRows(dir, "big", &count) == 0 && count == 100000,
          "the dumped table big has %lld rows", (long long)count);
    snprintf(dir, sizeof dir, "%s/no-such-dir", ctx->dir);
    CHECK_CL(cl, dqlite_client_dump_to_dir(cl, DB, dir), DQLITE_CLIENT_IOERR);
    CHECK(strstr(dqlite_client_errmsg(cl), "no-such-dir") != NULL,
          "message: %s", dqlite_client_errmsg(cl));
out:
    dqlite_client_close(cl);
}

/* DUMP of a database nobody opened: ours refuses it (1002, as the protocol
 * allows); the reference answers two empty files. */
static void testDumpUnknown(void)
{
    struct dqlite_client *cl = NULL;
    struct dqlite_file *files = NULL;
    unsigned n = 0;
    CHECK_CL(cl, dqlite_client_connect_leader(ctx->driver, &cl), 0);
    if (ctx->reference) {
        CHECK_CL(cl, dqlite_client_dump(cl, "never-opened.db", &files, &n), 0);
        CHECK(n == 2 && files[0].size == 0 && files[1].size == 0,
              "reference: %u files", n);
    } else {
        CHECK_CL(cl, dqlite_client_dump(cl, "never-opened.db", &files, &n),
                 DQLITE_CLIENT_ERROR);
        CHECK(dqlite_client_errcode(cl) == 1002, "code %llu: %s",
              (unsigned long long)dqlite_client_errcode(cl),
              dqlite_client_errmsg(cl));
    }
out:
    dqlite_file_free(files, n);
    dqlite_client_close(cl);
}

/* DESCRIBE gives each node's failure domain (ours: --failure-domain N on
 * node N) and weight; WEIGHT changes the weight DESCRIBE reports. */
static void testDescribeWeight(void)
{
    struct dqlite_client *cl = NULL;
    uint64_t domain = 99;
    uint64_t weight = 99;
    unsigned i;
    for (i = 0; i < LIVE_NODES; i++) {
        CHECK_CL(cl,
                 dqlite_client_connect(ctx->driver, ctx->nodes[i].address, &cl),
                 0);
        CHECK_CL(cl, dqlite_client_describe(cl, &domain, &weight), 0);
        CHECK(domain == (ctx->reference ? 0 : i + 1),
              "node %u: failure domain %llu", i + 1,
              (unsigned long long)domain);
        CHECK_CL(cl, dqlite_client_weight(cl, 10 + i), 0);
        CHECK_CL(cl, dqlite_client_describe(cl, &domain, &weight), 0);
        CHECK(weight == 10 + i, "node %u: weight %llu after WEIGHT %u", i + 1,
              (unsigned long long)weight, 10 + i);
        dqlite_client_close(cl);
        cl = NULL;
    }
out:
    dqlite_client_close(cl);
}

/* Membership and transfer on a follower: refused as not leader (10250). */
static void testNotLeaderClient(void)
{
    struct dqlite_client *cl = NULL;
    struct live_node *leader = NULL;
    struct live_node *follower;
    CHECK(liveLeader(&leader) == 0, "no leader");
    follower = liveFollower(leader);
    CHECK_CL(cl, dqlite_client_connect(ctx->driver, follower->address, &cl), 0);
    CHECK_CL(cl, dqlite_client_transfer(cl, follower->id),
             DQLITE_CLIENT_NOTLEADER);
    CHECK(dqlite_client_errcode(cl) == DQLITE_CLIENT_CODE_NOT_LEADER,
          "transfer: code %llu: %s",
          (unsigned long long)dqlite_client_errcode(cl),
          dqlite_client_errmsg(cl));
    CHECK_CL(cl, dqlite_client_assign(cl, leader->id, DQLITE_VOTER),
             DQLITE_CLIENT_NOTLEADER);
    CHECK_CL(cl, dqlite_client_remove(cl, 987654321), DQLITE_CLIENT_NOTLEADER);
    CHECK_CL(cl, dqlite_client_add(cl, 987654321, "127.0.0.1:1", DQLITE_SPARE),
             DQLITE_CLIENT_NOTLEADER);
    CHECK(dqlite_client_errcode(cl) == DQLITE_CLIENT_CODE_NOT_LEADER,
          "add: code %llu", (unsigned long long)dqlite_client_errcode(cl));
out:
    dqlite_client_close(cl);
}

/* The leader refuses ids it does not know, with a message. */
static void testUnknownIds(void)
{
    struct dqlite_client *cl = NULL;
    CHECK_CL(cl, dqlite_client_connect_leader(ctx->driver, &cl), 0);
    CHECK_CL(cl, dqlite_client_assign(cl, 987654321, DQLITE_STANDBY),
             DQLITE_CLIENT_ERROR);
    CHECK(dqlite_client_errcode(cl) != 0 &&
              strcmp(dqlite_client_errmsg(cl), "not an error") != 0,
          "assign: code %llu: %s",
          (unsigned long long)dqlite_client_errcode(cl),
          dqlite_client_errmsg(cl));
    CHECK_CL(cl, dqlite_client_remove(cl, 987654321), DQLITE_CLIENT_ERROR);
    CHECK_CL(cl, dqlite_client_assign(cl, 1, 7), DQLITE_CLIENT_MISUSE);
    CHECK_CL(cl, dqlite_client_add(cl, 5, "127.0.0.1:1", -1),
             DQLITE_CLIENT_MISUSE);
out:
    dqlite_client_close(cl);
}

/* Waits until the nodes agree that `want` leads (NULL: anyone but `except`). */
static int waitLeaderIs(const struct live_node *want,
                        const struct live_node *except, struct live_node **got)
{
    int64_t deadline_ms = liveNowMs() + 15000;
    while (liveNowMs() < deadline_ms) {
        if (liveLeader(got) == 0 &&
            (want != NULL ? *got == want : *got != except)) {
            return 0;
        }
        liveSleepMs(100);
    }
    return -1;
}

static void testTransfer(void)
{
    struct dqlite_client *cl = NULL;
    struct live_node *leader = NULL;
    struct live_node *target;
    struct live_node *now = NULL;
    CHECK(liveLeader(&leader) == 0, "no leader");
    target = liveFollower(leader);
    CHECK_CL(cl, dqlite_client_connect_leader(ctx->driver, &cl), 0);
    CHECK_CL(cl, dqlite_client_transfer(cl, target->id), 0);
    CHECK(waitLeaderIs(target, NULL, &now) == 0,
          "leader %s after TRANSFER to %s", now ? now->address : "none",
          target->address);
    dqlite_client_close(cl);
    cl = NULL;
    /* 0: the leader picks. */
    CHECK_CL(cl, dqlite_client_connect_leader(ctx->driver, &cl), 0);
    CHECK_CL(cl, dqlite_client_transfer(cl, 0), 0);
    CHECK(waitLeaderIs(NULL, target, &now) == 0,
          "leader still %s after TRANSFER 0", target->address);
out:
    dqlite_client_close(cl);
}

void liveClusterTests(void)
{
    liveRun("cluster.connect-leader", testConnectLeader);
    liveRun("cluster.leader-from-every-node", testLeaderEverywhere);
    liveRun("cluster.cluster-from-every-node", testCluster);
    liveRun("cluster.connect-unreachable", testConnectFails);
    liveRun("cluster.dump", testDump);
    liveRun("cluster.dump-to-dir", testDumpToDir);
    liveRun("cluster.dump-unknown-db", testDumpUnknown);
    liveRun("cluster.describe-weight", testDescribeWeight);
    liveRun("cluster.not-leader", testNotLeaderClient);
    liveRun("cluster.unknown-ids", testUnknownIds);
    liveRun("cluster.transfer", testTransfer);
    liveMemberTests();
    liveLeaderChangeTests();
}
