/* Client connections as a client and an operator see them (conn.c,
 * budget.c; issue 15, findings 5 and 10): requests larger than the old
 * 8 MiB read pause are received whole, requests over the limit are refused
 * without being read, a client that goes away mid-request leaves nothing
 * behind, the node's memory budget refuses what it cannot hold, and idle
 * connections are closed. */
#include <criterion/criterion.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/byte.h"
#include "proto/rows.h"
#include "server/conn.h"
#include "server/node.h"
#include "wire.h"

#define MIB ((size_t)1 << 20)
#define SEND_TIMEOUT_MS 10000

static struct wire_node node;

static void fini(void)
{
    wireNodeStop(&node);
}

static void startPlain(void)
{
    alarm(120); /* a hung test dies instead of stalling the suite */
    wireNodeStart(&node);
}

TestSuite(conn, .fini = fini);

/* Writes all of `data`, failing the test if the server stops taking bytes
 * for SEND_TIMEOUT_MS (a blocking write would hang instead). */
static bool sendAll(struct wire *w, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        struct pollfd pfd = {w->fd, POLLOUT, 0};
        if (poll(&pfd, 1, SEND_TIMEOUT_MS) != 1) {
            return false;
        }
        ssize_t n = send(w->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* The bytes of "INSERT INTO t VALUES (?)" with a blob of `len` bytes. */
static void encodeInsert(struct buf *out, const uint8_t *blob, size_t len)
{
    struct proto_request req;
    struct proto_value v = {.type = PROTO_BLOB};
    v.blob.data = blob;
    v.blob.len = len;
    protoRequestInit(&req, PROTO_REQ_EXEC_SQL);
    req.exec_sql.sql = protoText("INSERT INTO t VALUES (?)");
    protoParamsSet(&req.exec_sql.params, &v, 1);
    bufInit(out);
    cr_assert_eq(protoRequestEncode(&req, out), 0);
}

static uint8_t *randomBlob(size_t len)
{
    uint8_t *blob = malloc(len);
    cr_assert_not_null(blob);
    for (size_t i = 0; i < len; i++) {
        blob[i] = (uint8_t)(i * 2654435761u >> 13);
    }
    return blob;
}

/* Inserts a blob of `len` bytes and reads it back whole. */
static void insertAndReadBack(struct wire *w, size_t len, int64_t rowid)
{
    uint8_t *blob = randomBlob(len);
    struct buf out;
    encodeInsert(&out, blob, len);
    cr_assert_gt(out.len, CONN_MAX_BUFFERED);
    cr_assert(sendAll(w, out.data, out.len),
              "the node stopped reading a %zu "
              "byte request",
              out.len);
    bufFree(&out);
    cr_assert(wireRecv(w), "no answer to a %zu byte request", len);
    cr_assert_eq(w->resp.type, PROTO_RESP_RESULT, "%s",
                 w->resp.type == PROTO_RESP_FAILURE
                     ? w->resp.failure.message.data
                     : "-");

    struct proto_request req;
    struct proto_value arg = {.type = PROTO_INTEGER, .integer = rowid};
    protoRequestInit(&req, PROTO_REQ_QUERY_SQL);
    req.query_sql.sql = protoText("SELECT b FROM t WHERE rowid = ?");
    protoParamsSet(&req.query_sql.params, &arg, 1);
    wireSend(w, &req);
    cr_assert(wireRecv(w));
    cr_assert_eq(w->resp.type, PROTO_RESP_ROWS);
    struct proto_rows_iter it;
    struct proto_value row[1];
    protoRowsIterInit(&it, &w->resp.rows);
    cr_assert(protoRowsIterNext(&it, row));
    cr_assert_eq(row[0].type, PROTO_BLOB);
    cr_assert_eq(row[0].blob.len, len);
    cr_assert(memcmp(row[0].blob.data, blob, len) == 0);
    free(blob);
    while (!w->resp.rows.done) {
        cr_assert(wireRecv(w));
    }
}

Test(conn, requests_above_the_read_pause_are_served_whole, .init = startPlain)
{
    struct wire w;
    wireOpen(&w, node.address, PROTO_VERSION);
    wireOpenDb(&w, "test");
    wireExecSql(&w, "CREATE TABLE t (b BLOB)", NULL, NULL);
    insertAndReadBack(&w, 9000000, 1);
    insertAndReadBack(&w, 20000000, 2);
    /* The buffers grown for them went back once they were answered. */
    size_t used = node.node->budget.used_bytes;
    cr_assert_lt(used, 4 * MIB, "%zu bytes still held", used);
    wireClose(&w);
}

/* A header declaring `body_bytes`, sent alone. */
static void sendHeader(struct wire *w, uint64_t body_bytes)
{
    uint8_t header[PROTO_HEADER_SIZE] = {0};
    bytePut32(header, (uint32_t)(body_bytes / PROTO_WORD));
    header[4] = PROTO_REQ_EXEC_SQL;
    cr_assert(sendAll(w, header, sizeof header));
}

/* Waits (5 s at most) for the node to hold no client connection. */
static bool connsGone(void)
{
    for (int i = 0; i < 500; i++) {
        if (__atomic_load_n(&node.node->n_conns, __ATOMIC_RELAXED) == 0 &&
            __atomic_load_n(&node.node->budget.used_bytes, __ATOMIC_RELAXED) ==
                0) {
            return true;
        }
        usleep(10000);
    }
    return false;
}

/* Sends `len` zero bytes. */
static bool sendZeros(struct wire *w, size_t len)
{
    uint8_t *zeros = calloc(1, len);
    cr_assert_not_null(zeros);
    bool ok = sendAll(w, zeros, len);
    free(zeros);
    return ok;
}

/* The FAILURE comes as soon as the header is in; the body is then taken
 * and dropped (a client that writes its whole request before reading
 * gets to read it), and the connection is closed. */
Test(conn, a_request_over_the_limit_is_refused_unread, .init = startPlain)
{
    struct wire w;
    size_t body = PROTO_REQUEST_BODY_MAX + PROTO_WORD;
    wireOpen(&w, node.address, PROTO_VERSION);
    sendHeader(&w, body);
    cr_assert_eq(wireExpectFailure(&w), 18 /* SQLITE_TOOBIG */);
    cr_assert(strcmp(w.resp.failure.message.data, "message too large") == 0);
    cr_assert(sendZeros(&w, body), "the node stopped taking the body");
    cr_assert(wireClosed(&w));
    wireClose(&w);
    cr_assert(connsGone());
}

Test(conn, a_client_gone_mid_request_leaves_nothing_behind, .init = startPlain)
{
    for (int i = 0; i < 3; i++) {
        struct wire w;
        wireOpen(&w, node.address, PROTO_VERSION);
        sendHeader(&w, 20 * MIB);
        cr_assert(sendZeros(&w, 12 * MIB), "the node stopped reading");
        wireClose(&w);
    }
    cr_assert(connsGone(), "%u connections, %zu bytes still held",
              node.node->n_conns, node.node->budget.used_bytes);
}

static void smallBudget(dqlite_node *n)
{
    cr_assert_eq(dqlite_node_set_client_limits(n, 300000, 30000, 48 * MIB), 0);
}

static void startSmallBudget(void)
{
    alarm(120);
    wireNodeStartWith(&node, smallBudget);
}

Test(conn, a_request_the_budget_cannot_hold_is_refused,
     .init = startSmallBudget)
{
    struct wire a, b;
    uint8_t *blob = randomBlob(12 * MIB);
    struct buf out;
    wireOpen(&a, node.address, PROTO_VERSION);
    wireOpen(&b, node.address, PROTO_VERSION);
    wireOpenDb(&a, "test");
    wireExecSql(&a, "CREATE TABLE t (b BLOB)", NULL, NULL);

    /* a's request is half sent: the node holds its buffers. */
    encodeInsert(&out, blob, 12 * MIB);
    cr_assert(sendAll(&a, out.data, out.len / 2));
    /* b asks for as much: over the budget, refused before its body. */
    sendHeader(&b, 12 * MIB);
    cr_assert_eq(wireExpectFailure(&b), 7 /* SQLITE_NOMEM */);
    cr_assert(strstr(b.resp.failure.message.data, "memory budget") != NULL,
              "%s", b.resp.failure.message.data);
    cr_assert(sendZeros(&b, 12 * MIB), "the node stopped taking the body");
    cr_assert(wireClosed(&b));
    wireClose(&b);
    /* a is served. */
    cr_assert(sendAll(&a, out.data + out.len / 2, out.len - out.len / 2));
    cr_assert(wireRecv(&a));
    cr_assert_eq(a.resp.type, PROTO_RESP_RESULT);
    bufFree(&out);
    free(blob);
    wireClose(&a);
}

static void shortIdle(dqlite_node *n)
{
    cr_assert_eq(dqlite_node_set_client_limits(n, 300, 30000, 1 << 30), 0);
}

static void startShortIdle(void)
{
    alarm(60);
    wireNodeStartWith(&node, shortIdle);
}

Test(conn, idle_connections_are_closed, .init = startShortIdle)
{
    struct wire busy, idle, partial;
    wireOpen(&busy, node.address, PROTO_VERSION);
    wireOpen(&idle, node.address, PROTO_VERSION);
    wireOpen(&partial, node.address, PROTO_VERSION);
    wireOpenDb(&idle, "test");
    sendHeader(&partial, 4096); /* a request that never completes */
    /* A connection with requests every 100 ms stays open. */
    for (int i = 0; i < 10; i++) {
        if (i == 0) {
            wireOpenDb(&busy, "test");
            wireExecSql(&busy, "CREATE TABLE t (n INT)", NULL, NULL);
        } else {
            wireExecSql(&busy, "INSERT INTO t VALUES (1)", NULL, NULL);
        }
        usleep(100 * 1000);
    }
    cr_assert(wireClosed(&idle));
    cr_assert(wireClosed(&partial));
    wireExecSql(&busy, "INSERT INTO t VALUES (1)", NULL, NULL);
    cr_assert_eq(dqlite_node_set_client_limits(node.node, 0, 0, 0),
                 DQLITE_MISUSE, "only before start");
    wireClose(&busy);
    wireClose(&idle);
    wireClose(&partial);
}

static void shortStall(dqlite_node *n)
{
    cr_assert_eq(dqlite_node_set_client_limits(n, 300000, 300, 1 << 30), 0);
}

static void startShortStall(void)
{
    alarm(60);
    wireNodeStartWith(&node, shortStall);
}

/* A client that starts a query and reads none of its rows does not keep
 * the statement (and its read transaction) for ever: past the stall
 * timeout its connection is closed, so what it reads later ends in EOF,
 * not in the last batch. */
Test(conn, a_query_whose_rows_are_not_read_is_ended, .init = startShortStall)
{
    struct wire w;
    wireOpen(&w, node.address, PROTO_VERSION);
    wireOpenDb(&w, "test");
    wireExecSql(&w,
                "CREATE TABLE t (b BLOB); WITH RECURSIVE c(x) AS (SELECT 0 "
                "UNION ALL SELECT x + 1 FROM c WHERE x < 199) INSERT INTO t "
                "SELECT randomblob(65536) FROM c",
                NULL, NULL);
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_QUERY_SQL);
    req.query_sql.sql = protoText("SELECT b FROM t");
    wireSend(&w, &req);
    sleep(2); /* read nothing */
    bool done = false;
    while (wireRecv(&w)) {
        cr_assert_eq(w.resp.type, PROTO_RESP_ROWS);
        if (w.resp.rows.done) {
            done = true;
            break;
        }
    }
    cr_assert(!done, "the whole result was kept for a client not reading");
    wireClose(&w);
    cr_assert(connsGone());
}

Test(conn, the_node_sets_sqlites_soft_heap_limit, .init = startPlain)
{
    cr_assert_eq(sqlite3_soft_heap_limit64(-1), NODE_SQLITE_SOFT_HEAP_BYTES);
}

static void smallStmtBytes(dqlite_node *n)
{
    n->stmt_bytes_max = 16 * MIB;
}

static void startSmallStmtBytes(void)
{
    alarm(60);
    wireNodeStartWith(&node, smallStmtBytes);
}

/* One connection's prepared statements cannot take the node's memory:
 * past the bound a PREPARE fails clearly, and finalizing makes room. */
Test(conn, prepared_statements_memory_is_bounded, .init = startSmallStmtBytes)
{
    struct wire w;
    size_t hex_len = 1 << 20; /* a 512 KiB blob constant */
    char *sql = malloc(hex_len + 32);
    cr_assert_not_null(sql);
    strcpy(sql, "SELECT x'");
    memset(sql + strlen(sql), 'a', hex_len);
    strcpy(sql + strlen("SELECT x'") + hex_len, "'");
    wireOpen(&w, node.address, PROTO_VERSION);
    wireOpenDb(&w, "test");
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_PREPARE);
    req.prepare.sql = protoText(sql);
    unsigned prepared = 0;
    for (; prepared < 32; prepared++) {
        wireSend(&w, &req);
        cr_assert(wireRecv(&w));
        if (w.resp.type == PROTO_RESP_FAILURE) {
            break;
        }
        cr_assert_eq(w.resp.type, PROTO_RESP_STMT);
    }
    cr_assert_lt(prepared, 32, "32 statements of 512 KiB kept");
    cr_assert_geq(prepared, 4, "%u: %s", prepared, w.resp.failure.message.data);
    cr_assert_eq(w.resp.failure.code, 1);
    cr_assert(strstr(w.resp.failure.message.data, "prepared statements") !=
                  NULL,
              "%s", w.resp.failure.message.data);
    /* Finalizing one makes room for one more. */
    struct proto_request fin;
    protoRequestInit(&fin, PROTO_REQ_FINALIZE);
    fin.finalize.stmt_id = 0;
    wireSend(&w, &fin);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_EMPTY);
    wireSend(&w, &req);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_STMT);
    free(sql);
    wireClose(&w);
}

static void threeConns(dqlite_node *n)
{
    n->max_conns = 3;
}

static void startThreeConns(void)
{
    alarm(60);
    wireNodeStartWith(&node, threeConns);
}

static void askLeader(struct wire *w)
{
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_LEADER);
    wireSend(w, &req);
    cr_assert(wireRecv(w));
}

/* Idle connections cannot lock new clients out: at the cap, a new
 * client's first request closes the connection idle longest (at least
 * CONN_EVICT_IDLE_MS); busy ones are never closed for it. */
Test(conn, at_the_cap_the_longest_idle_connection_makes_room,
     .init = startThreeConns)
{
    struct wire w[5];
    for (int i = 0; i < 3; i++) {
        wireOpen(&w[i], node.address, PROTO_VERSION);
        askLeader(&w[i]);
        cr_assert_eq(w[i].resp.type, PROTO_RESP_SERVER);
    }
    /* Nobody idle long enough yet: refused. */
    wireOpen(&w[3], node.address, PROTO_VERSION);
    askLeader(&w[3]);
    cr_assert_eq(w[3].resp.type, PROTO_RESP_FAILURE);
    cr_assert(wireClosed(&w[3]));
    wireClose(&w[3]);
    usleep((CONN_EVICT_IDLE_MS + 300) * 1000);
    askLeader(&w[1]); /* busy again */
    askLeader(&w[2]);
    wireOpen(&w[4], node.address, PROTO_VERSION);
    askLeader(&w[4]);
    cr_assert_eq(w[4].resp.type, PROTO_RESP_SERVER,
                 "a new client locked out by an idle one");
    cr_assert(wireClosed(&w[0]), "the idle connection made room");
    askLeader(&w[1]);
    cr_assert_eq(w[1].resp.type, PROTO_RESP_SERVER);
    for (int i = 0; i < 5; i++) {
        if (i != 3) {
            wireClose(&w[i]);
        }
    }
}

/* A 67 MB blob bound as a parameter fits the 64 MiB request limit
 * (67,000,064 bytes), but its transaction does not fit one raft entry: a
 * clear FAILURE 18 (it was 'limit exceeded', code 1), and the connection
 * goes on. */
Test(conn, a_transaction_over_the_entry_limit_fails_clearly, .init = startPlain)
{
    struct wire w;
    size_t len = 67000000;
    wireOpen(&w, node.address, PROTO_VERSION);
    wireOpenDb(&w, "test");
    wireExecSql(&w, "CREATE TABLE t (b BLOB)", NULL, NULL);
    uint8_t *blob = randomBlob(len);
    struct buf out;
    encodeInsert(&out, blob, len);
    cr_assert_leq(out.len, PROTO_HEADER_SIZE + PROTO_REQUEST_BODY_MAX);
    cr_assert(sendAll(&w, out.data, out.len));
    bufFree(&out);
    free(blob);
    cr_assert_eq(wireExpectFailure(&w), 18 /* SQLITE_TOOBIG */);
    /* The commit's own size check ("...exceed the 64 MiB limit of one
     * replicated transaction"), or SQLite's refusal of the value itself. */
    cr_assert(strstr(w.resp.failure.message.data, "transaction too large") !=
                      NULL ||
                  strstr(w.resp.failure.message.data, "too big") != NULL,
              "%s", w.resp.failure.message.data);
    wireExecSql(&w, "INSERT INTO t VALUES (x'01')", NULL, NULL);
    wireClose(&w);
}

/* A pipelining client: 15 MB of requests sent before any answer is read.
 * Reading pauses while more than CONN_MAX_BUFFERED bytes wait behind the
 * request being served, and resumes as they are answered, in order. */
Test(conn, pipelined_large_requests_are_answered_in_order, .init = startPlain)
{
    struct wire w;
    size_t len = 3000000;
    uint8_t *blob = randomBlob(len);
    struct buf out;
    wireOpen(&w, node.address, PROTO_VERSION);
    wireOpenDb(&w, "test");
    wireExecSql(&w, "CREATE TABLE t (b BLOB)", NULL, NULL);
    encodeInsert(&out, blob, len);
    for (int i = 0; i < 5; i++) {
        cr_assert(sendAll(&w, out.data, out.len), "request %d not taken", i);
    }
    for (uint64_t i = 1; i <= 5; i++) {
        cr_assert(wireRecv(&w));
        cr_assert_eq(w.resp.type, PROTO_RESP_RESULT);
        cr_assert_eq(w.resp.result.last_insert_id, i);
    }
    bufFree(&out);
    free(blob);
    wireClose(&w);
}

/* A large request arriving slowly (128 KiB every 150 ms, 1.2 s in all,
 * with a 300 ms idle timeout) is activity, not idleness. */
Test(conn, a_slow_upload_is_not_idle, .init = startShortIdle)
{
    struct wire w;
    size_t len = 1 << 20;
    uint8_t *blob = randomBlob(len);
    struct buf out;
    wireOpen(&w, node.address, PROTO_VERSION);
    wireOpenDb(&w, "test");
    wireExecSql(&w, "CREATE TABLE t (b BLOB)", NULL, NULL);
    encodeInsert(&out, blob, len);
    for (size_t sent = 0; sent < out.len;) {
        size_t n = out.len - sent < (128u << 10) ? out.len - sent : 128u << 10;
        cr_assert(sendAll(&w, out.data + sent, n));
        sent += n;
        usleep(150 * 1000);
    }
    cr_assert(wireRecv(&w), "closed while uploading");
    cr_assert_eq(w.resp.type, PROTO_RESP_RESULT);
    bufFree(&out);
    free(blob);
    wireClose(&w);
}

static void tinyBudget(dqlite_node *n)
{
    cr_assert_eq(dqlite_node_set_client_limits(n, 300000, 30000, 8 * MIB), 0);
}

static void startTinyBudget(void)
{
    alarm(60);
    wireNodeStartWith(&node, tinyBudget);
}

/* An unread 10 MB DUMP holds more than the node's 8 MiB budget: while it
 * does, other clients' requests get a clear FAILURE (the connection
 * stays); once it is read, they are served again. */
Test(conn, over_the_budget_new_requests_fail_until_it_drains,
     .init = startTinyBudget)
{
    struct wire a, b;
    struct proto_request req;
    wireOpen(&a, node.address, PROTO_VERSION);
    wireOpen(&b, node.address, PROTO_VERSION);
    wireOpenDb(&a, "test");
    wireExecSql(&a,
                "CREATE TABLE t (b BLOB); WITH RECURSIVE c(x) AS (SELECT 0 "
                "UNION ALL SELECT x + 1 FROM c WHERE x < 9) INSERT INTO t "
                "SELECT randomblob(1000000) FROM c",
                NULL, NULL);
    protoRequestInit(&req, PROTO_REQ_DUMP);
    req.dump.name = protoText("test");
    wireSend(&a, &req); /* and read nothing yet */
    /* Once the DUMP is built (polled: the db thread may be slow). */
    bool refused = false;
    for (int i = 0; i < 100 && !refused; i++) {
        askLeader(&b);
        refused = b.resp.type == PROTO_RESP_FAILURE;
        if (!refused) {
            usleep(50 * 1000);
        }
    }
    cr_assert(refused, "served while an unread DUMP holds over the budget");
    cr_assert_eq(b.resp.failure.code, 7 /* SQLITE_NOMEM */);
    cr_assert(strstr(b.resp.failure.message.data, "memory budget") != NULL,
              "%s", b.resp.failure.message.data);
    cr_assert(wireRecv(&a));
    cr_assert_eq(a.resp.type, PROTO_RESP_FILES);
    /* Once the node has seen the write done, b is served again. */
    for (int i = 0; i < 100; i++) {
        askLeader(&b);
        if (b.resp.type == PROTO_RESP_SERVER) {
            break;
        }
        usleep(50 * 1000);
    }
    cr_assert_eq(b.resp.type, PROTO_RESP_SERVER);
    wireClose(&a);
    wireClose(&b);
}
