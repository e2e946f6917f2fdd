/* Parallel readers (issue 18, item 3): a read-only query that runs long
 * goes to the node's reader pool, so it holds up nobody else: a point read
 * on another connection of the same database and a write are answered
 * while it still runs (docs/server.md, "Parallel readers"). The assertions
 * are on order (the long query has not answered when the others have),
 * not on time; a node without a pool fails them (the others would wait,
 * and wireRecv gives up after 10 s). */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto/rows.h"
#include "wire.h"

/* Counts forever: never ends unless interrupted. */
#define READERS_LONG_SQL                                               \
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) " \
    "SELECT count(*) FROM r"
/* Time given to the long query to be well under way (not asserted). */
#define READERS_RUNNING_MS 200

static struct wire_node node;
static struct wire slow; /* runs the long query */
static struct wire fast; /* point reads and writes meanwhile */

static void startNode(void)
{
    alarm(60); /* a hung test dies instead of stalling the suite */
    snprintf(node.dir, sizeof node.dir, "/tmp/dqlite-rd-XXXXXX");
    cr_assert_not_null(mkdtemp(node.dir));
    snprintf(node.address, sizeof node.address, "@dqlite-rd-%d", getpid());
    cr_assert_eq(dqlite_node_create(1, node.address, node.dir, &node.node), 0);
    cr_assert_eq(dqlite_node_set_statement_timeout(node.node, 0), 0);
    cr_assert_eq(dqlite_node_start(node.node), 0, "%s",
                 dqlite_node_errmsg(node.node));
    wireOpen(&slow, node.address, PROTO_VERSION);
    wireOpenDb(&slow, "test");
    wireOpen(&fast, node.address, PROTO_VERSION);
    wireOpenDb(&fast, "test");
}

static void stopNode(void)
{
    wireClose(&fast);
    wireClose(&slow);
    wireNodeStop(&node);
}

TestSuite(readers, .init = startNode, .fini = stopNode);

static void sendSql(struct wire *c, uint8_t type, const char *sql)
{
    struct proto_request req;
    protoRequestInit(&req, type);
    req.query_sql.sql = protoText(sql); /* EXEC_SQL has the same layout */
    wireSend(c, &req);
}

static int64_t queryInt(struct wire *c, const char *sql)
{
    struct proto_rows_iter it;
    struct proto_value row[1];
    sendSql(c, PROTO_REQ_QUERY_SQL, sql);
    cr_assert(wireRecv(c), "no answer to %s", sql);
    cr_assert_eq(c->resp.type, PROTO_RESP_ROWS, "%s: type %u", sql,
                 c->resp.type);
    protoRowsIterInit(&it, &c->resp.rows);
    cr_assert(protoRowsIterNext(&it, row));
    return row[0].integer;
}

/* Whether the node has sent anything on `c` yet (no waiting). */
static bool answered(struct wire *c)
{
    struct pollfd pfd = {c->fd, POLLIN, 0};
    return poll(&pfd, 1, 0) == 1;
}

/* Stops the long query: its request fails, the INTERRUPT gets EMPTY. */
static void interruptSlow(void)
{
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_INTERRUPT);
    wireSend(&slow, &req);
    cr_assert_eq(wireExpectFailure(&slow), 9 /* SQLITE_INTERRUPT */);
    cr_assert(wireRecv(&slow));
    cr_assert_eq(slow.resp.type, PROTO_RESP_EMPTY);
}

Test(readers, a_long_query_holds_up_no_read_or_write_of_its_database)
{
    wireExecSql(&fast, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INT)", NULL,
                NULL);
    wireExecSql(&fast, "INSERT INTO t VALUES (1, 10)", NULL, NULL);
    sendSql(&slow, PROTO_REQ_QUERY_SQL, READERS_LONG_SQL);
    usleep(READERS_RUNNING_MS * 1000);
    cr_assert_eq(queryInt(&fast, "SELECT n FROM t WHERE id = 1"), 10);
    wireExecSql(&fast, "INSERT INTO t VALUES (2, 20)", NULL, NULL);
    wireExecSql(&fast, "UPDATE t SET n = 11 WHERE id = 1", NULL, NULL);
    /* A read too long for the loop's budget goes to the pool as well. */
    cr_assert_eq(queryInt(&fast, "SELECT count(*) FROM (WITH RECURSIVE "
                                 "c(x) AS (SELECT 0 UNION ALL SELECT x + 1 "
                                 "FROM c WHERE x < 199999) SELECT x FROM c)"),
                 200000);
    cr_assert_eq(queryInt(&fast, "SELECT sum(n) FROM t"), 31);
    cr_assert_not(answered(&slow), "the long query is still running");
    interruptSlow();
    cr_assert_eq(queryInt(&slow, "SELECT sum(n) FROM t"), 31);
}

/* Two long queries at once, on two connections: both run (the pool has
 * at least two threads) and each stops on its own INTERRUPT, while a
 * third connection is served. */
Test(readers, two_long_queries_run_beside_each_other)
{
    struct wire third;
    wireOpen(&third, node.address, PROTO_VERSION);
    wireOpenDb(&third, "test");
    sendSql(&slow, PROTO_REQ_QUERY_SQL, READERS_LONG_SQL);
    sendSql(&third, PROTO_REQ_QUERY_SQL, READERS_LONG_SQL);
    usleep(READERS_RUNNING_MS * 1000);
    wireExecSql(&fast, "CREATE TABLE u (n INT)", NULL, NULL);
    cr_assert_eq(queryInt(&fast, "SELECT count(*) FROM u"), 0);
    cr_assert_not(answered(&slow));
    cr_assert_not(answered(&third));
    interruptSlow();
    cr_assert_not(answered(&third), "the other long query still runs");
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_INTERRUPT);
    wireSend(&third, &req);
    cr_assert_eq(wireExpectFailure(&third), 9 /* SQLITE_INTERRUPT */);
    cr_assert(wireRecv(&third));
    cr_assert_eq(third.resp.type, PROTO_RESP_EMPTY);
    wireClose(&third);
}
