/* Cancelling calls from another thread (dqlite_cancel): the call returns
 * before the server answers, INTERRUPT is sent, the answers owed are
 * drained by the next call so the connection stays usable; a handle fired
 * before a call stops it unsent; a stream waiting for its next batch and a
 * reconnection looking for a leader are cancelled too. */
#include <criterion/criterion.h>
#include <dqlite_client.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

#include "client/client.h"
#include "tcluster.h"

TestSuite(cancel, .init = fakeWatchdog);

static struct tcluster *tc;
static struct dqlite_conn *conn;
static struct dqlite_cancel *cancel;
static atomic_bool answered; /* the fake sent the answer the call waited for */

static void start(tnode_hook hook)
{
    tc = tclusterStart(1, NULL);
    tc->hook = hook;
    atomic_store(&answered, false);
    cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &conn), 0);
    cr_assert_eq(dqlite_cancel_create(&cancel), 0);
    dqlite_conn_set_cancel(conn, cancel);
}

static void stop(void)
{
    dqlite_conn_close(conn);
    dqlite_cancel_destroy(cancel);
    tclusterStop(tc);
}

/* Fires `cancel` after `delay_ms`, from another thread. */
struct firer {
    pthread_t thread;
    unsigned delay_ms;
};

static void *firerMain(void *arg)
{
    struct firer *f = arg;
    clientSleepMs(f->delay_ms);
    dqlite_cancel_fire(cancel);
    return NULL;
}

static void fireLater(struct firer *f, unsigned delay_ms)
{
    f->delay_ms = delay_ms;
    cr_assert_eq(pthread_create(&f->thread, NULL, firerMain, f), 0);
}

/* EXEC_SQL "SLOW" is answered only after INTERRUPT, and 500 ms late: the
 * FAILURE of the interrupted statement, then the INTERRUPT's EMPTY. */
static bool slowExec(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    if (fc->req.type != PROTO_REQ_EXEC_SQL ||
        strcmp(fc->req.exec_sql.sql.data, "SLOW") != 0) {
        return false;
    }
    if (fakeRecv(fc) != 0 || fc->req.type != PROTO_REQ_INTERRUPT) {
        return true;
    }
    clientSleepMs(500);
    atomic_store(&answered, true);
    fakeSendFailure(fc, 9, "interrupted");
    fakeSendEmpty(fc);
    return true;
}

Test(cancel, fire_from_another_thread_interrupts_and_keeps_the_connection)
{
    struct firer f;
    start(slowExec);
    dqlite_conn_set_timeout(conn, 10000);
    fireLater(&f, 100);
    cr_assert_eq(dqlite_conn_exec(conn, "SLOW", NULL, 0, NULL),
                 DQLITE_CLIENT_CANCELLED);
    /* Back before the server answered: nothing waited for the drain. */
    cr_assert_not(atomic_load(&answered));
    pthread_join(f.thread, NULL);
    cr_assert(strstr(dqlite_conn_errmsg(conn), "cancelled") != NULL);
    cr_assert(dqlite_cancel_fired(cancel));
    /* Still fired: the next call stops before sending anything. */
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL),
                 DQLITE_CLIENT_CANCELLED);
    dqlite_cancel_reset(cancel);
    cr_assert_not(dqlite_cancel_fired(cancel));
    /* The next call drains the FAILURE and EMPTY owed, then runs. */
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL), 0, "%s",
                 dqlite_conn_errmsg(conn));
    cr_assert(atomic_load(&answered));
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_INTERRUPT), 1);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_EXEC_SQL), 2);
    cr_assert_eq(fakeConns(tc->nodes[0].srv), 1);
    stop();
}

Test(cancel, fired_before_the_call_sends_nothing)
{
    struct dqlite_rows *rows = NULL;
    start(NULL);
    dqlite_cancel_fire(cancel);
    dqlite_cancel_fire(cancel); /* twice is once */
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL),
                 DQLITE_CLIENT_CANCELLED);
    cr_assert_eq(dqlite_conn_query(conn, "SELECT", NULL, 0, &rows),
                 DQLITE_CLIENT_CANCELLED);
    cr_assert_null(rows);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_EXEC_SQL), 0);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_QUERY_SQL), 0);
    dqlite_cancel_reset(cancel);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL), 0);
    /* Without a handle nothing is cancelled. */
    dqlite_cancel_fire(cancel);
    dqlite_conn_set_cancel(conn, NULL);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL), 0);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_INTERRUPT), 0);
    stop();
}

/* QUERY_SQL "STREAM": a first batch (PART), then nothing until INTERRUPT,
 * then the last batch and EMPTY. */
static bool slowStream(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    if (fc->req.type != PROTO_REQ_QUERY_SQL ||
        strcmp(fc->req.exec_sql.sql.data, "STREAM") != 0) {
        return false;
    }
    tnodeSendIntRows(fc, 0, 3, false);
    if (fakeRecv(fc) != 0 || fc->req.type != PROTO_REQ_INTERRUPT) {
        return true;
    }
    atomic_store(&answered, true);
    tnodeSendIntRows(fc, 3, 5, true);
    fakeSendEmpty(fc);
    return true;
}

Test(cancel, a_stream_waiting_for_its_next_batch_is_cancelled)
{
    struct dqlite_rows *rows;
    struct firer f;
    int rv;
    start(slowStream);
    dqlite_conn_set_timeout(conn, 10000);
    cr_assert_eq(dqlite_conn_query(conn, "STREAM", NULL, 0, &rows), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    }
    fireLater(&f, 100);
    rv = dqlite_rows_next(rows);
    pthread_join(f.thread, NULL);
    cr_assert_eq(rv, DQLITE_CLIENT_CANCELLED, "%s", dqlite_conn_errmsg(conn));
    cr_assert_eq(dqlite_rows_close(rows), 0);
    /* One INTERRUPT: closing the cancelled rows sends none. */
    dqlite_cancel_reset(cancel);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL), 0, "%s",
                 dqlite_conn_errmsg(conn));
    cr_assert(atomic_load(&answered));
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_INTERRUPT), 1);
    cr_assert_eq(fakeConns(tc->nodes[0].srv), 1);
    stop();
}

/* EXEC_SQL "SLOW" never answered, not even its INTERRUPT. */
static bool deaf(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    if (fc->req.type == PROTO_REQ_EXEC_SQL &&
        strcmp(fc->req.exec_sql.sql.data, "SLOW") == 0) {
        fakeRecv(fc); /* the INTERRUPT, left unanswered */
        return true;
    }
    return false;
}

Test(cancel, an_unacknowledged_interrupt_closes_the_connection_later)
{
    struct firer f;
    start(deaf);
    dqlite_conn_set_timeout(conn, 300);
    fireLater(&f, 50);
    cr_assert_eq(dqlite_conn_exec(conn, "SLOW", NULL, 0, NULL),
                 DQLITE_CLIENT_CANCELLED);
    pthread_join(f.thread, NULL);
    dqlite_cancel_reset(cancel);
    /* The drain times out: a new connection runs the call. */
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL), 0, "%s",
                 dqlite_conn_errmsg(conn));
    cr_assert_eq(fakeConns(tc->nodes[0].srv), 2);
    stop();
}

/* EXEC_SQL "BYE": the cluster loses its leader and the connection drops. */
static bool bye(struct fake_conn *fc, struct tnode *node)
{
    if (fc->req.type != PROTO_REQ_EXEC_SQL ||
        strcmp(fc->req.exec_sql.sql.data, "BYE") != 0) {
        return false;
    }
    tclusterSetLeader(node->tc, -1);
    shutdown(fc->fd, SHUT_RDWR);
    return true;
}

Test(cancel, looking_for_a_leader_is_cancelled)
{
    struct firer f;
    int64_t start_ms;
    start(bye);
    cr_assert_eq(dqlite_conn_exec(conn, "BYE", NULL, 0, NULL),
                 DQLITE_CLIENT_IOERR);
    /* The next call looks for a leader until the connect timeout (5 s)
     * unless cancelled. */
    start_ms = clientNowMs();
    fireLater(&f, 200);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL),
                 DQLITE_CLIENT_CANCELLED, "%s", dqlite_conn_errmsg(conn));
    pthread_join(f.thread, NULL);
    cr_assert_lt(clientNowMs() - start_ms, 4000);
    cr_assert_geq(tclusterCount(tc, 0, PROTO_REQ_LEADER), 2);
    dqlite_cancel_reset(cancel);
    tclusterSetLeader(tc, 0);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL), 0, "%s",
                 dqlite_conn_errmsg(conn));
    stop();
}

/* EXEC of a prepared statement answered only after INTERRUPT. */
static bool slowStmt(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    if (fc->req.type != PROTO_REQ_EXEC) {
        return false;
    }
    if (fakeRecv(fc) != 0 || fc->req.type != PROTO_REQ_INTERRUPT) {
        return true;
    }
    clientSleepMs(200);
    atomic_store(&answered, true);
    fakeSendFailure(fc, 9, "interrupted");
    fakeSendEmpty(fc);
    return true;
}

Test(cancel, closing_a_statement_after_a_cancel_drains_first)
{
    struct dqlite_stmt *stmt;
    struct firer f;
    start(slowStmt);
    dqlite_conn_set_timeout(conn, 10000);
    cr_assert_eq(dqlite_conn_prepare(conn, "INSERT", &stmt), 0);
    fireLater(&f, 100);
    cr_assert_eq(dqlite_stmt_exec(stmt, NULL, 0, NULL),
                 DQLITE_CLIENT_CANCELLED);
    pthread_join(f.thread, NULL);
    cr_assert_not(atomic_load(&answered));
    /* Still fired: FINALIZE is sent anyway, after the answers owed, and
     * its own EMPTY is the one it reads. */
    cr_assert_eq(dqlite_stmt_close(stmt), 0, "%s", dqlite_conn_errmsg(conn));
    cr_assert(atomic_load(&answered));
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_FINALIZE), 1);
    dqlite_cancel_reset(cancel);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL), 0, "%s",
                 dqlite_conn_errmsg(conn));
    cr_assert_eq(fakeConns(tc->nodes[0].srv), 1);
    stop();
}

Test(cancel, connecting_to_a_cluster_without_leader_is_cancelled)
{
    struct dqlite_conn *c = NULL;
    struct firer f;
    int64_t start_ms;
    tc = tclusterStart(1, NULL);
    tclusterSetLeader(tc, -1);
    cr_assert_eq(dqlite_cancel_create(&cancel), 0);
    dqlite_cancel_fire(cancel);
    cr_assert_eq(dqlite_driver_connect_cancel(tc->driver, "test", cancel, &c),
                 DQLITE_CLIENT_CANCELLED);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_LEADER), 0);
    dqlite_conn_close(c);
    dqlite_cancel_reset(cancel);
    /* Without a leader the search would go on for the connect timeout
     * (5 s). */
    start_ms = clientNowMs();
    fireLater(&f, 200);
    cr_assert_eq(dqlite_driver_connect_cancel(tc->driver, "test", cancel, &c),
                 DQLITE_CLIENT_CANCELLED, "%s", dqlite_conn_errmsg(c));
    pthread_join(f.thread, NULL);
    cr_assert_lt(clientNowMs() - start_ms, 4000);
    cr_assert(strstr(dqlite_conn_errmsg(c), "cancelled") != NULL, "%s",
              dqlite_conn_errmsg(c));
    /* The connection keeps the handle: once reset, the next call connects
     * when a leader is back. */
    dqlite_cancel_reset(cancel);
    tclusterSetLeader(tc, 0);
    cr_assert_eq(dqlite_conn_exec(c, "INSERT", NULL, 0, NULL), 0, "%s",
                 dqlite_conn_errmsg(c));
    dqlite_conn_close(c);
    dqlite_cancel_destroy(cancel);
    tclusterStop(tc);
}
