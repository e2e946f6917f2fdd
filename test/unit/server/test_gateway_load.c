/* The load requests (docs/restore.md) against a real one-node cluster, as
 * a client sees them: a file streamed in chunks is installed with the
 * commit; a file that is not SQLite is refused before anything is
 * proposed; an existing database needs FORCE; chunks out of sequence end
 * the session. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "proto/load.h"
#include "repl/repl.h"
#include "server/node.h"
#include "wire.h"

static struct wire_node node;
static struct wire w;
static unsigned char *image;
static sqlite3_int64 image_len;

static void setup(void)
{
    alarm(60);
    wireNodeStart(&node);
    wireOpen(&w, node.address, PROTO_VERSION);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "CREATE TABLE t(n INTEGER PRIMARY KEY, b BLOB);"
                              "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
                              "SELECT i+1 FROM c WHERE i < 3000) INSERT INTO "
                              "t SELECT i, randomblob(4000) FROM c;",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    image = sqlite3_serialize(db, "main", &image_len, 0);
    cr_assert_not_null(image);
    sqlite3_close(db);
}

static void teardown(void)
{
    sqlite3_free(image);
    wireClose(&w);
    wireNodeStop(&node);
}

TestSuite(gateway_load, .init = setup, .fini = teardown);

static void sendBuf(struct buf *b)
{
    wireSendRaw(&w, b->data, b->len);
    bufReset(b);
}

static void sendBegin(const char *name, uint64_t size, uint64_t flags)
{
    struct buf b;
    bufInit(&b);
    struct proto_load_begin m = {protoText(name), size, flags};
    cr_assert_eq(protoLoadBeginEncode(&b, &m), 0);
    sendBuf(&b);
    bufFree(&b);
}

static void sendChunk(uint64_t offset, const void *data, size_t len)
{
    struct buf b;
    bufInit(&b);
    cr_assert_eq(protoLoadChunkEncode(&b, offset, data, len), 0);
    sendBuf(&b);
    bufFree(&b);
}

static void sendCommit(void)
{
    struct buf b;
    bufInit(&b);
    cr_assert_eq(protoLoadCommitEncode(&b, 0), 0);
    sendBuf(&b);
    bufFree(&b);
}

static struct proto_load_progress expectProgress(void)
{
    struct proto_load_progress p;
    cr_assert(wireRecvFrame(&w), "no answer");
    if (w.frame.header.type == PROTO_RESP_FAILURE) {
        cr_assert_eq(protoResponseDecode(&w.frame.header, w.frame.body,
                                         w.frame.len, NULL, &w.resp),
                     0);
        cr_assert_fail("failure %llu: %s",
                       (unsigned long long)w.resp.failure.code,
                       w.resp.failure.message.data);
    }
    cr_assert_eq(w.frame.header.type, PROTO_RESP_LOAD_PROGRESS);
    cr_assert_eq(protoLoadProgressDecode(w.frame.body, w.frame.len, &p), 0);
    return p;
}

/* The whole image, chunk by chunk, then the commit. */
static void loadImage(const char *name, uint64_t flags)
{
    sendBegin(name, (uint64_t)image_len, flags);
    struct proto_load_progress p = expectProgress();
    cr_assert_eq(p.done, 0);
    cr_assert_eq(p.total, (uint64_t)image_len);
    uint64_t chunk = p.chunk_max;
    for (uint64_t off = 0; off < (uint64_t)image_len; off += chunk) {
        uint64_t left = (uint64_t)image_len - off;
        sendChunk(off, image + off, (size_t)(left < chunk ? left : chunk));
        p = expectProgress();
        cr_assert_eq(p.done, off + (left < chunk ? left : chunk));
    }
    sendCommit();
    p = expectProgress();
    cr_assert_eq(p.done, (uint64_t)image_len);
}

static uint64_t lastIndex(void)
{
    return raftLastIndex(node.node->replica.raft);
}

Test(gateway_load, a_streamed_file_is_installed_with_the_commit)
{
    cr_assert_gt(image_len, 8 << 20, "more than one chunk");
    loadImage("x.db", 0);
    wireOpenDb(&w, "x.db");
    uint64_t id = 0;
    wireExecSql(&w, "INSERT INTO t(b) VALUES (1)", &id, NULL);
    cr_assert_eq(id, 3001); /* the file's 3000 rows are there */
}

Test(gateway_load, a_file_that_is_not_sqlite_is_refused_before_any_proposal)
{
    uint64_t before = lastIndex();
    memset(image, 'x', 100);
    sendBegin("x.db", (uint64_t)image_len, 0);
    expectProgress();
    sendChunk(0, image, 65536);
    cr_assert_eq(wireExpectFailure(&w), 26);
    cr_assert(strstr(w.resp.failure.message.data, "not a SQLite database"));
    sendBegin("y.db", 1000, 0); /* not whole pages */
    cr_assert_eq(wireExpectFailure(&w), 26);
    cr_assert_eq(lastIndex(), before, "something was proposed");
}

Test(gateway_load, an_existing_database_needs_force)
{
    wireOpenDb(&w, "x.db");
    wireExecSql(&w, "CREATE TABLE other(n)", NULL, NULL);
    sendBegin("x.db", (uint64_t)image_len, 0);
    cr_assert_eq(wireExpectFailure(&w), SQLITE_ERROR);
    cr_assert(strstr(w.resp.failure.message.data, "exists"));
    loadImage("x.db", PROTO_LOAD_FORCE);
}

Test(gateway_load, chunks_out_of_sequence_end_the_session)
{
    sendChunk(0, image, 4096); /* no BEGIN */
    cr_assert_eq(wireExpectFailure(&w), 1005);
    sendBegin("x.db", (uint64_t)image_len, 0);
    expectProgress();
    sendChunk(4096, image + 4096, 4096);
    cr_assert_eq(wireExpectFailure(&w), 1005);
    sendCommit(); /* the session is over */
    cr_assert_eq(wireExpectFailure(&w), 1005);
    /* a new session works */
    loadImage("x.db", 0);
}

/* A client that goes away mid-load: the leader proposes an ABORT part and
 * the stage is gone (no memory held for a load nobody will finish). */
Test(gateway_load, a_client_leaving_mid_load_drops_the_stage)
{
    sendBegin("x.db", (uint64_t)image_len, 0);
    struct proto_load_progress p = expectProgress();
    sendChunk(0, image, (size_t)p.chunk_max);
    expectProgress();
    char stage[REPL_LOAD_STAGE_NAME_SIZE];
    uint64_t staged = 0;
    replLoadStageName(stage, sizeof stage, "x.db",
                      raftTerm(node.node->replica.raft));
    cr_assert_eq(vfsStageSize(node.node->replica.vfs, stage, &staged), 0);
    cr_assert_eq(staged, p.chunk_max);
    wireClose(&w);
    int rv = 0;
    for (int i = 0; i < 200; i++) {
        rv = vfsStageSize(node.node->replica.vfs, stage, &staged);
        if (rv == ERR_NOTFOUND) {
            break;
        }
        usleep(10000);
    }
    cr_assert_eq(rv, ERR_NOTFOUND, "the stage is still there");
    wireOpen(&w, node.address, PROTO_VERSION); /* for the teardown */
}
