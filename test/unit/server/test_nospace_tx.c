/* A leader whose disk is full refuses new statements at once ("request
 * refused, nothing was applied"), but never the end of a transaction: a
 * ROLLBACK refused would leave the transaction open, holding the write
 * lock (every other writer waits) and showing its own uncommitted changes
 * to its connection until it closes. The fault battery's bank workload
 * found that (one client read its own half-done transfer for 24 s). The
 * full disk is the replica's flag, set as the log writer sets it. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "server/node.h"
#include "wire.h"

static struct wire_node node;
static struct wire a;
static struct wire b;

static void setup(void)
{
    alarm(60);
    wireNodeStart(&node);
    wireOpen(&a, node.address, PROTO_VERSION);
    wireOpenDb(&a, "test");
    wireOpen(&b, node.address, PROTO_VERSION);
    wireOpenDb(&b, "test");
    wireExecSql(&a, "CREATE TABLE t (n INTEGER)", NULL, NULL);
}

static void teardown(void)
{
    wireClose(&a);
    wireClose(&b);
    wireNodeStop(&node);
}

TestSuite(nospace_tx, .init = setup, .fini = teardown);

/* The loop reads the flag between requests; the test's client is idle
 * while it flips it, and the store is made visible by the request that
 * follows (a socket write and read are full barriers in practice). */
static void diskFull(bool full)
{
    node.node->replica.waiting_for_space = full;
    atomic_thread_fence(memory_order_seq_cst);
}

static void sendSql(struct wire *c, const char *sql)
{
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_EXEC_SQL);
    req.exec_sql.sql = protoText(sql);
    wireSend(c, &req);
}

Test(nospace_tx, a_rollback_is_never_refused_and_releases_the_lock)
{
    uint64_t changes = 0;
    wireExecSql(&a, "BEGIN", NULL, NULL);
    wireExecSql(&a, "INSERT INTO t VALUES (1)", NULL, NULL);
    diskFull(true);
    sendSql(&b, "INSERT INTO t VALUES (2)");
    cr_assert_eq(wireExpectFailure(&b), 13, "a new write is refused at once");
    wireExecSql(&a, "ROLLBACK", NULL, NULL); /* FAILURE 13 before the fix */
    diskFull(false);
    wireExecSql(&b, "INSERT INTO t VALUES (3)", NULL, &changes);
    cr_assert_eq(changes, 1, "the write lock was released");
    wireExecSql(&a, "DELETE FROM t WHERE n = 1", NULL, &changes);
    cr_assert_eq(changes, 0, "the rolled-back row is not there");
}

Test(nospace_tx, a_rollback_right_after_begin_is_not_refused)
{
    wireExecSql(&a, "BEGIN", NULL, NULL);
    diskFull(true);
    wireExecSql(&a, "  rollback", NULL, NULL);
    diskFull(false);
    wireExecSql(&a, "BEGIN", NULL, NULL); /* not "within a transaction" */
    wireExecSql(&a, "ROLLBACK", NULL, NULL);
}
