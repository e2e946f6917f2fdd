/* Result sets: batches fetched only when needed, every value type and its
 * database type name, early close with INTERRUPT, failures mid-stream. */
#include <criterion/criterion.h>
#include <dqlite_client.h>
#include <stdatomic.h>
#include <string.h>

#include "client/client.h"
#include "tcluster.h"

TestSuite(rows, .init = fakeWatchdog);

static struct tcluster *tc;
static struct dqlite_conn *conn;
static atomic_int go_on;

static void start(tnode_hook hook)
{
    atomic_store(&go_on, 0);
    tc = tclusterStart(1, NULL);
    tc->hook = hook;
    cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &conn), 0);
}

static void stop(void)
{
    dqlite_conn_close(conn);
    tclusterStop(tc);
}

static bool isQuery(struct fake_conn *fc, const char *sql)
{
    return fc->req.type == PROTO_REQ_QUERY_SQL &&
           strcmp(fc->req.query_sql.sql.data, sql) == 0;
}

/* Waits (bounded) until the test lets the server go on. */
static void waitGoOn(void)
{
    for (int i = 0; i < 300 && atomic_load(&go_on) == 0; i++) {
        clientSleepMs(10);
    }
}

static bool bigQuery(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    if (isQuery(fc, "EMPTY")) {
        tnodeSendIntRows(fc, 0, 0, true);
        return true;
    }
    if (!isQuery(fc, "BIG")) {
        return false;
    }
    tnodeSendIntRows(fc, 0, 100, false);
    waitGoOn();
    tnodeSendIntRows(fc, 100, 200, false);
    tnodeSendIntRows(fc, 200, 250, false);
    tnodeSendIntRows(fc, 250, 250, true); /* empty last batch */
    return true;
}

Test(rows, batches_are_fetched_only_when_needed)
{
    struct dqlite_rows *rows;
    int i;
    start(bigQuery);
    cr_assert_eq(dqlite_conn_query(conn, "BIG", NULL, 0, &rows), 0);
    cr_assert_eq(dqlite_rows_column_count(rows), 1);
    cr_assert_str_eq(dqlite_rows_column_name(rows, 0), "n");
    /* The whole first batch is read while the server holds the second. */
    for (i = 0; i < 100; i++) {
        cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
        cr_assert_eq(dqlite_rows_int64(rows, 0), i);
    }
    cr_assert_eq(atomic_load(&go_on), 0);
    atomic_store(&go_on, 1);
    for (; i < 250; i++) {
        cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
        cr_assert_eq(dqlite_rows_int64(rows, 0), i);
    }
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_DONE);
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_DONE);
    cr_assert_eq(dqlite_rows_close(rows), 0);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_INTERRUPT), 0);
    stop();
}

static bool typesQuery(struct fake_conn *fc, struct tnode *node)
{
    struct proto_text names[8] = {
        protoText("i"), protoText("f"), protoText("t"), protoText("b"),
        protoText("n"), protoText("u"), protoText("d"), protoText("ok")};
    struct proto_value v[16];
    struct proto_response r;
    (void)node;
    if (!isQuery(fc, "TYPES")) {
        return false;
    }
    memset(v, 0, sizeof v);
    v[0].type = PROTO_INTEGER;
    v[0].integer = -7;
    v[1].type = PROTO_FLOAT;
    v[1].real = 2.25;
    v[2].type = PROTO_TEXT;
    v[2].text = protoText("hello");
    v[3].type = PROTO_BLOB;
    v[3].blob.data = (const uint8_t *)"\0\1\2\3\4";
    v[3].blob.len = 5;
    v[4].type = PROTO_NULL;
    v[5].type = PROTO_UNIXTIME;
    v[5].integer = 1684326896;
    v[6].type = PROTO_ISO8601;
    v[6].text = protoText("2023-05-17 12:34:56+02:00");
    v[7].type = PROTO_BOOLEAN;
    v[7].boolean = true;
    /* Second row: NULL-ish time and false. */
    memcpy(&v[8], &v[0], 6 * sizeof v[0]);
    v[14].type = PROTO_ISO8601;
    v[14].text = protoText("");
    v[15].type = PROTO_BOOLEAN;
    v[15].boolean = false;
    protoResponseInit(&r, PROTO_RESP_ROWS);
    r.rows.n_columns = 8;
    r.rows.n_rows = 2;
    r.rows.done = true;
    r.rows.columns = names;
    r.rows.values = v;
    fakeSend(fc, &r);
    return true;
}

Test(rows, every_value_type_and_type_names)
{
    static const char *names[8] = {"INTEGER", "FLOAT", "TEXT", "BLOB",
                                   "NULL",    "TIME",  "TIME", "BOOL"};
    struct dqlite_rows *rows;
    struct dqlite_value v;
    size_t len;
    int64_t sec;
    int32_t nsec;
    int32_t off;
    start(typesQuery);
    cr_assert_eq(dqlite_conn_query(conn, "TYPES", NULL, 0, &rows), 0);
    /* Known before the first row, from the next row's header. */
    for (unsigned i = 0; i < 8; i++) {
        cr_assert_str_eq(dqlite_rows_column_type_name(rows, i), names[i]);
    }
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    cr_assert_eq(dqlite_rows_int64(rows, 0), -7);
    cr_assert_eq(dqlite_rows_double(rows, 0), -7.0);
    cr_assert_eq(dqlite_rows_double(rows, 1), 2.25);
    cr_assert_str_eq(dqlite_rows_text(rows, 2), "hello");
    cr_assert_null(dqlite_rows_text(rows, 0));
    cr_assert_eq(memcmp(dqlite_rows_blob(rows, 3, &len), "\0\1\2\3\4", 5), 0);
    cr_assert_eq(len, 5);
    cr_assert(dqlite_rows_is_null(rows, 4));
    cr_assert(!dqlite_rows_is_null(rows, 0));
    cr_assert_eq(dqlite_rows_column_type(rows, 5), DQLITE_CLIENT_UNIXTIME);
    cr_assert_eq(dqlite_rows_time(rows, 5, &sec, &nsec, &off), 0);
    cr_assert_eq(sec, 1684326896);
    cr_assert_eq(dqlite_rows_time(rows, 6, &sec, &nsec, &off), 0);
    cr_assert_eq(sec, 1684326896 - 7200);
    cr_assert_eq(off, 7200);
    cr_assert_eq(dqlite_rows_time(rows, 0, &sec, &nsec, &off),
                 DQLITE_CLIENT_MISUSE);
    cr_assert(dqlite_rows_bool(rows, 7));
    cr_assert_eq(dqlite_rows_value(rows, 2, &v), 0);
    cr_assert_eq(v.type, DQLITE_CLIENT_TEXT);
    cr_assert_eq(v.text.len, 5);
    cr_assert_eq(dqlite_rows_value(rows, 8, &v), DQLITE_CLIENT_MISUSE);
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    cr_assert(dqlite_rows_is_null(rows, 6)); /* empty ISO8601 is NULL */
    cr_assert(!dqlite_rows_bool(rows, 7));
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_DONE);
    cr_assert_str_eq(dqlite_rows_column_type_name(rows, 6), "TIME");
    cr_assert_eq(dqlite_rows_close(rows), 0);
    stop();
}

Test(rows, empty_result)
{
    struct dqlite_rows *rows;
    start(bigQuery);
    cr_assert_eq(dqlite_conn_query(conn, "EMPTY", NULL, 0, &rows), 0);
    cr_assert_str_eq(dqlite_rows_column_type_name(rows, 0), "");
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_DONE);
    cr_assert_eq(dqlite_rows_int64(rows, 0), 0);
    cr_assert_eq(dqlite_rows_close(rows), 0);
    stop();
}

/* Streams like the reference: every batch, then EMPTY for the INTERRUPT
 * that arrived meanwhile. */
static bool interruptedQuery(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    if (!isQuery(fc, "BIG")) {
        return false;
    }
    tnodeSendIntRows(fc, 0, 10, false);
    if (fakeRecv(fc) != 0 || fc->req.type != PROTO_REQ_INTERRUPT) {
        return true;
    }
    tnodeSendIntRows(fc, 10, 20, false);
    tnodeSendIntRows(fc, 20, 30, true);
    fakeSendEmpty(fc);
    return true;
}

Test(rows, early_close_interrupts_and_drains)
{
    struct dqlite_rows *rows;
    start(interruptedQuery);
    cr_assert_eq(dqlite_conn_query(conn, "BIG", NULL, 0, &rows), 0);
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    /* Another call while rows are open is refused. */
    cr_assert_eq(dqlite_conn_exec(conn, "X", NULL, 0, NULL),
                 DQLITE_CLIENT_MISUSE);
    cr_assert_eq(dqlite_rows_close(rows), 0);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_INTERRUPT), 1);
    cr_assert_eq(dqlite_conn_exec(conn, "X", NULL, 0, NULL), 0);
    cr_assert_eq(fakeConns(tc->nodes[0].srv), 1);
    stop();
}

static bool failingQuery(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    if (!isQuery(fc, "BIG")) {
        return false;
    }
    tnodeSendIntRows(fc, 0, 2, false);
    fakeSendFailure(fc, 13, "database or disk is full");
    return true;
}

Test(rows, failure_in_the_middle_of_the_stream)
{
    struct dqlite_rows *rows;
    start(failingQuery);
    cr_assert_eq(dqlite_conn_query(conn, "BIG", NULL, 0, &rows), 0);
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_ERROR);
    cr_assert_eq(dqlite_conn_errcode(conn), 13);
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_DONE);
    cr_assert_eq(dqlite_rows_close(rows), 0);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_INTERRUPT), 0);
    cr_assert_eq(dqlite_conn_exec(conn, "X", NULL, 0, NULL), 0);
    stop();
}

static bool notLeaderQuery(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    if (fc->req.type != PROTO_REQ_QUERY_SQL) {
        return false;
    }
    fakeSendFailure(fc, 10250, "not leader");
    return true;
}

Test(rows, query_refused_as_not_leader_reports_it)
{
    struct dqlite_rows *rows = (struct dqlite_rows *)1;
    start(notLeaderQuery);
    cr_assert_eq(dqlite_conn_query(conn, "SELECT 1", NULL, 0, &rows),
                 DQLITE_CLIENT_NOTLEADER);
    cr_assert_null(rows);
    /* Retried once on a fresh connection to the (same) leader. */
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_QUERY_SQL), 2);
    stop();
}

/* Stalls after the first batch until INTERRUPT, then ends the stream. */
static bool stallingQuery(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    if (!isQuery(fc, "BIG")) {
        return false;
    }
    tnodeSendIntRows(fc, 0, 3, false);
    if (fakeRecv(fc) != 0 || fc->req.type != PROTO_REQ_INTERRUPT) {
        return true;
    }
    tnodeSendIntRows(fc, 3, 4, true);
    fakeSendEmpty(fc);
    return true;
}

Test(rows, timeout_while_fetching_a_batch_interrupts)
{
    struct dqlite_rows *rows;
    start(stallingQuery);
    dqlite_conn_set_timeout(conn, 150);
    cr_assert_eq(dqlite_conn_query(conn, "BIG", NULL, 0, &rows), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    }
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_TIMEOUT);
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_DONE);
    cr_assert_eq(dqlite_rows_close(rows), 0);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_INTERRUPT), 1);
    cr_assert_eq(dqlite_conn_exec(conn, "X", NULL, 0, NULL), 0);
    cr_assert_eq(fakeConns(tc->nodes[0].srv), 1);
    stop();
}

static bool garbageRows(struct fake_conn *fc, struct tnode *node)
{
    /* One column, one row header claiming type 7 (not a row type). */
    static const uint8_t msg[] = {4, 0, 0,   0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0,
                                  0, 0, 'n', 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0,
                                  0, 0, 0,   0, 0, 0, 0, 0, 0, 0, 0, 0};
    (void)node;
    if (!isQuery(fc, "BAD")) {
        return false;
    }
    fakeSendRaw(fc, msg, sizeof msg);
    return true;
}

Test(rows, malformed_answer_is_a_protocol_error)
{
    struct dqlite_rows *rows;
    start(garbageRows);
    cr_assert_eq(dqlite_conn_query(conn, "BAD", NULL, 0, &rows),
                 DQLITE_CLIENT_PROTO);
    cr_assert_null(rows);
    /* The next call starts on a fresh connection. */
    cr_assert_eq(dqlite_conn_exec(conn, "X", NULL, 0, NULL), 0);
    cr_assert_eq(fakeConns(tc->nodes[0].srv), 2);
    stop();
}

/* go-dqlite closing Rows early (vector 07), byte for byte. */
Test(rows, early_close_matches_captured_vector)
{
    struct fake_replay *r = fakeReplayStart("07-interrupt.txt");
    struct dqlite_driver_options o;
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    struct dqlite_rows *rows;
    int n = 0;
    cr_assert_not_null(r, "vectors not found");
    dqlite_driver_options_init(&o);
    o.dial = fakeReplayDial;
    o.dial_arg = r;
    o.no_store_refresh = true;
    cr_assert_eq(dqlite_server_store_create(&store), 0);
    cr_assert_eq(dqlite_server_store_add(store, 1, "127.0.0.1:29001", 0), 0);
    cr_assert_eq(dqlite_driver_create(store, &o, &driver), 0);
    cr_assert_eq(dqlite_driver_connect(driver, "demo", &conn), 0);
    cr_assert_eq(dqlite_conn_query(conn, "SELECT id, v FROM big ORDER BY id",
                                   NULL, 0, &rows),
                 0);
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    cr_assert_eq(dqlite_rows_int64(rows, 0), 1);
    cr_assert_str_eq(dqlite_rows_text(rows, 1),
                     "value-0000-xxxxxxxxxxxxxxxxxxxx");
    cr_assert_eq(dqlite_rows_close(rows), 0);
    cr_assert_eq(
        dqlite_conn_query(conn, "SELECT count(*) FROM big", NULL, 0, &rows), 0);
    while (dqlite_rows_next(rows) == DQLITE_CLIENT_ROW) {
        n++;
        cr_assert_eq(dqlite_rows_int64(rows, 0), 200);
    }
    cr_assert_eq(n, 1);
    cr_assert_eq(dqlite_rows_close(rows), 0);
    dqlite_conn_close(conn);
    for (int i = 0; i < 100 && !fakeReplayDone(r); i++) {
        clientSleepMs(10);
    }
    cr_assert_eq(fakeReplayErrors(r), 0);
    cr_assert(fakeReplayDone(r));
    fakeReplayStop(r);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
}
