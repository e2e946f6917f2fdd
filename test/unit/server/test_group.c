/* Group commit (src/server/gateway_group.c), as clients see it: writers
 * that queue behind a commit run together as one raft entry, each with its
 * own result or its own failure, in the order they queued; a client that
 * goes away takes only its own statement with it; nobody is answered before
 * the group's entry is applied, and a lost entry fails the whole group. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/rows.h"
#include "server/node.h"
#include "wire.h"

#define N_MEMBERS 6

static struct wire_node node;
static struct wire blocker;
static struct wire members[N_MEMBERS];

static void setup(void)
{
    alarm(60); /* a hung test dies instead of stalling the suite */
    wireNodeStart(&node);
    wireOpen(&blocker, node.address, PROTO_VERSION);
    wireOpenDb(&blocker, "test");
    wireExecSql(&blocker, "CREATE TABLE t (n INTEGER PRIMARY KEY, v UNIQUE)",
                NULL, NULL);
    for (int i = 0; i < N_MEMBERS; i++) {
        wireOpen(&members[i], node.address, PROTO_VERSION);
        wireOpenDb(&members[i], "test");
    }
}

static void teardown(void)
{
    for (int i = 0; i < N_MEMBERS; i++) {
        if (members[i].fd >= 0) {
            wireClose(&members[i]);
        }
    }
    wireClose(&blocker);
    wireNodeStop(&node);
}

TestSuite(group, .init = setup, .fini = teardown);

static void sendExecSql(struct wire *c, const char *sql)
{
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_EXEC_SQL);
    req.exec_sql.sql = protoText(sql);
    wireSend(c, &req);
}

static int64_t queryInt(struct wire *c, const char *sql)
{
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_QUERY_SQL);
    req.query_sql.sql = protoText(sql);
    wireSend(c, &req);
    cr_assert(wireRecv(c));
    struct proto_rows_iter it;
    struct proto_value row[1];
    cr_assert_eq(c->resp.type, PROTO_RESP_ROWS);
    protoRowsIterInit(&it, &c->resp.rows);
    cr_assert(protoRowsIterNext(&it, row));
    cr_assert_eq(row[0].type, PROTO_INTEGER);
    return row[0].integer;
}

/* The blocker holds the write lock in an explicit transaction; each member
 * sends `sql[i]` and is parked behind it, in order. */
static void queueBehindBlocker(const char *const *sql)
{
    wireExecSql(&blocker, "BEGIN", NULL, NULL);
    wireExecSql(&blocker, "INSERT INTO t VALUES (100, 'blocker')", NULL, NULL);
    for (int i = 0; i < N_MEMBERS; i++) {
        sendExecSql(&members[i], sql[i]);
        usleep(20 * 1000); /* parked in this order */
    }
}

/* Each member keeps its own results, a failing one fails alone, and each
 * statement saw the ones queued before it (the order they were admitted). */
Test(group, each_member_gets_its_own_result_and_a_failure_stays_alone)
{
    const char *sql[N_MEMBERS] = {
        "INSERT INTO t VALUES (1, 'a')",
        "INSERT INTO t VALUES (2, 'a')", /* UNIQUE: 'a' is member 0's */
        "INSERT INTO t(v) SELECT 'c' || count(*) FROM t",
        "INSERT INTO t VALUES (1, 'dup')", /* PRIMARY KEY: member 0's */
        "INSERT INTO t(v) SELECT 'e' || count(*) FROM t",
        "UPDATE t SET v = v || '!' WHERE n >= 100",
    };
    queueBehindBlocker(sql);
    uint64_t before = node.node->replica.applied;
    wireExecSql(&blocker, "COMMIT", NULL, NULL);

    uint64_t id[N_MEMBERS] = {0};
    uint64_t changes[N_MEMBERS] = {0};
    for (int i = 0; i < N_MEMBERS; i++) {
        cr_assert(wireRecv(&members[i]), "member %d answered", i);
        if (i == 1 || i == 3) {
            cr_assert_eq(members[i].resp.type, PROTO_RESP_FAILURE);
            cr_assert_eq(members[i].resp.failure.code & 0xff, 19,
                         "member %d: constraint", i);
            continue;
        }
        cr_assert_eq(members[i].resp.type, PROTO_RESP_RESULT, "member %d", i);
        id[i] = members[i].resp.result.last_insert_id;
        changes[i] = members[i].resp.result.rows_affected;
    }
    uint64_t after = node.node->replica.applied;
    cr_assert_eq(id[0], 1);
    cr_assert_eq(id[2], 101);
    cr_assert_eq(id[4], 102);
    cr_assert_eq(changes[0], 1);
    cr_assert_eq(changes[5], 3, "rows 100, 101 and 102");
    /* Members 2 and 4 saw what was queued before them, nothing after. */
    cr_assert_eq(queryInt(&blocker, "SELECT count(*) FROM t WHERE v = 'c2!'"),
                 1);
    cr_assert_eq(queryInt(&blocker, "SELECT count(*) FROM t WHERE v = 'e3!'"),
                 1);
    cr_assert_eq(queryInt(&blocker, "SELECT count(*) FROM t"), 4);
    /* The blocker's commit and one entry for the whole group. */
    cr_assert_leq(after - before, 2, "%llu entries",
                  (unsigned long long)(after - before));
}

/* A member that goes away while queued or running takes only its own
 * statement with it. */
Test(group, a_member_that_disconnects_loses_only_its_own_statement)
{
    const char *sql[N_MEMBERS];
    char text[N_MEMBERS][64];
    for (int i = 0; i < N_MEMBERS; i++) {
        snprintf(text[i], sizeof text[i], "INSERT INTO t VALUES (%d, 'm%d')",
                 i + 1, i);
        sql[i] = text[i];
    }
    queueBehindBlocker(sql);
    wireClose(&members[2]);
    members[2].fd = -1;
    sendExecSql(&blocker, "COMMIT");
    wireClose(&members[4]); /* while the group forms or runs */
    members[4].fd = -1;
    cr_assert(wireRecv(&blocker));
    cr_assert_eq(blocker.resp.type, PROTO_RESP_RESULT);
    for (int i = 0; i < N_MEMBERS; i++) {
        if (members[i].fd < 0) {
            continue;
        }
        cr_assert(wireRecv(&members[i]), "member %d answered", i);
        cr_assert_eq(members[i].resp.type, PROTO_RESP_RESULT, "member %d", i);
        cr_assert_eq(members[i].resp.result.last_insert_id, (uint64_t)i + 1);
    }
    cr_assert_eq(queryInt(&blocker, "SELECT count(*) FROM t WHERE n IN "
                                    "(1, 2, 4, 6)"),
                 4);
    cr_assert_eq(queryInt(&blocker, "SELECT count(*) FROM t WHERE n = 3"), 0,
                 "gone before its group ran");
    cr_assert_leq(queryInt(&blocker, "SELECT count(*) FROM t WHERE n = 5"), 1);
    /* The node still takes writes from everybody. */
    wireExecSql(&members[0], "INSERT INTO t VALUES (7, 'after')", NULL, NULL);
}

/* Many rounds of queued writers: every acknowledged row is there once. */
Test(group, every_acknowledged_write_is_there_once)
{
    for (int round = 0; round < 5; round++) {
        const char *sql[N_MEMBERS];
        for (int i = 0; i < N_MEMBERS; i++) {
            sql[i] = "INSERT INTO t(v) VALUES (randomblob(8))";
        }
        queueBehindBlocker(sql);
        wireExecSql(&blocker, "DELETE FROM t WHERE n = 100", NULL, NULL);
        wireExecSql(&blocker, "COMMIT", NULL, NULL);
        for (int i = 0; i < N_MEMBERS; i++) {
            cr_assert(wireRecv(&members[i]));
            cr_assert_eq(members[i].resp.type, PROTO_RESP_RESULT);
        }
    }
    cr_assert_eq(queryInt(&blocker, "SELECT count(*) FROM t"), 5 * N_MEMBERS);
}

/* ------------------------------------------------ leadership lost */

static struct wire_node second;

/* Adds a second voter, so that stopping it takes the leader's quorum. */
static void startSecond(void)
{
    snprintf(second.dir, sizeof second.dir, "/tmp/dqlite-gw2-XXXXXX");
    cr_assert_not_null(mkdtemp(second.dir));
    snprintf(second.address, sizeof second.address, "@dqlite-gw2-%d", getpid());
    cr_assert_eq(
        dqlite_node_create(2, second.address, second.dir, &second.node), 0);
    cr_assert_eq(dqlite_node_start(second.node), 0);
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_ADD);
    req.add.id = 2;
    req.add.address = protoText(second.address);
    wireSend(&blocker, &req);
    cr_assert(wireRecv(&blocker));
    cr_assert_eq(blocker.resp.type, PROTO_RESP_EMPTY);
    protoRequestInit(&req, PROTO_REQ_ASSIGN);
    req.assign.id = 2;
    req.assign.has_role = true;
    req.assign.role = 0; /* voter */
    wireSend(&blocker, &req);
    cr_assert(wireRecv(&blocker));
    cr_assert_eq(blocker.resp.type, PROTO_RESP_EMPTY, "assign: %.*s",
                 (int)blocker.resp.failure.message.len,
                 blocker.resp.failure.message.data);
}

/* The group's entry can never commit: nobody gets a RESULT (nobody is
 * answered before the apply), every member fails with leadership lost. */
Test(group, a_lost_entry_fails_the_whole_group_with_leadership_lost)
{
    startSecond();
    const char *sql[N_MEMBERS];
    char text[N_MEMBERS][64];
    for (int i = 0; i < N_MEMBERS; i++) {
        snprintf(text[i], sizeof text[i], "INSERT INTO t VALUES (%d, 'm%d')",
                 i + 1, i);
        sql[i] = text[i];
    }
    queueBehindBlocker(sql);
    usleep(200 * 1000); /* every member past its barrier, parked */
    cr_assert_eq(dqlite_node_stop(second.node), 0);
    /* Releases the lock without an entry: the group is proposed while the
     * leader still believes it leads. */
    wireExecSql(&blocker, "ROLLBACK", NULL, NULL);
    for (int i = 0; i < N_MEMBERS; i++) {
        cr_assert(wireRecv(&members[i]), "member %d answered", i);
        cr_assert_eq(members[i].resp.type, PROTO_RESP_FAILURE,
                     "member %d: answered before its entry applied", i);
        cr_assert_eq(members[i].resp.failure.code, 10506, "member %d: %.*s", i,
                     (int)members[i].resp.failure.message.len,
                     members[i].resp.failure.message.data);
    }
    dqlite_node_destroy(second.node);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", second.dir);
    cr_assert_eq(system(cmd), 0);
}

/* An explicit transaction queued among autocommit writers gets its turn:
 * it runs first in a group, keeps the lock for its transaction, and the
 * writers after it wait for its commit. */
Test(group, an_explicit_transaction_among_queued_writers_gets_its_turn)
{
    const char *sql[N_MEMBERS] = {
        "INSERT INTO t VALUES (1, 'a')",
        "INSERT INTO t VALUES (2, 'b')",
        "BEGIN IMMEDIATE",
        "INSERT INTO t VALUES (4, 'd')",
        "SELECT 1",
        "INSERT INTO t VALUES (6, 'f')",
    };
    queueBehindBlocker(sql);
    wireExecSql(&blocker, "COMMIT", NULL, NULL);
    for (int i = 0; i < N_MEMBERS; i++) {
        cr_assert(wireRecv(&members[i]), "member %d answered", i);
        if (i == 4) {
            cr_assert_eq(members[i].resp.type, PROTO_RESP_FAILURE);
            continue; /* EXEC of a query: rows where none expected */
        }
        cr_assert_eq(members[i].resp.type, PROTO_RESP_RESULT, "member %d", i);
        if (i == 2) { /* its transaction, then its commit */
            wireExecSql(&members[2], "INSERT INTO t VALUES (3, 'c')", NULL,
                        NULL);
            wireExecSql(&members[2], "COMMIT", NULL, NULL);
        }
    }
    cr_assert_eq(queryInt(&blocker, "SELECT count(*) FROM t"), 6);
}

/* Prepared statements with parameters (EXEC), as drivers send them: each
 * member's own values reach its statement through the queue and the group,
 * and EXEC_SQL texts of several statements go on after their group. */
Test(group, prepared_statements_keep_their_parameters)
{
    uint32_t ids[N_MEMBERS];
    for (int i = 0; i < N_MEMBERS; i++) {
        struct proto_request req;
        protoRequestInit(&req, PROTO_REQ_PREPARE);
        req.prepare.sql = protoText("INSERT INTO t(n, v) VALUES (?, ?)");
        wireSend(&members[i], &req);
        cr_assert(wireRecv(&members[i]));
        cr_assert_eq(members[i].resp.type, PROTO_RESP_STMT);
        ids[i] = members[i].resp.stmt.stmt_id;
    }
    wireExecSql(&blocker, "BEGIN", NULL, NULL);
    wireExecSql(&blocker, "INSERT INTO t VALUES (100, 'blocker')", NULL, NULL);
    for (int i = 0; i < N_MEMBERS; i++) {
        struct proto_value v[2] = {
            {.type = PROTO_INTEGER, .integer = 10 * (i + 1)},
            {.type = PROTO_TEXT, .text = protoText(i % 2 ? "odd" : "even")}};
        struct proto_request req;
        if (i == 3) { /* two statements, the second sees the first */
            protoRequestInit(&req, PROTO_REQ_EXEC_SQL);
            req.exec_sql.sql = protoText(
                "INSERT INTO t VALUES (?, 'x'); INSERT INTO t(v) SELECT "
                "'after' || count(*) FROM t");
            protoParamsSet(&req.exec_sql.params, v, 1);
        } else {
            protoRequestInit(&req, PROTO_REQ_EXEC);
            req.exec.stmt_id = ids[i];
            /* 'even' twice breaks UNIQUE: only the first keeps it */
            protoParamsSet(&req.exec.params, v, 2);
        }
        wireSend(&members[i], &req);
        usleep(20 * 1000);
    }
    wireExecSql(&blocker, "COMMIT", NULL, NULL);
    for (int i = 0; i < N_MEMBERS; i++) {
        cr_assert(wireRecv(&members[i]), "member %d answered", i);
        if (i == 2 || i == 4 || i == 5) { /* member 0's 'even', 1's 'odd' */
            cr_assert_eq(members[i].resp.type, PROTO_RESP_FAILURE);
            continue;
        }
        cr_assert_eq(members[i].resp.type, PROTO_RESP_RESULT, "member %d", i);
        if (i != 3) {
            cr_assert_eq(members[i].resp.result.last_insert_id,
                         (uint64_t)(10 * (i + 1)));
        }
    }
    cr_assert_eq(queryInt(&blocker, "SELECT count(*) FROM t WHERE n IN "
                                    "(10, 20, 40)"),
                 3);
    cr_assert_eq(queryInt(&blocker, "SELECT count(*) FROM t"), 5);
    cr_assert_eq(queryInt(&blocker, "SELECT count(*) FROM t WHERE v LIKE "
                                    "'after%'"),
                 1);
}
