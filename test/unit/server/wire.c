/*
 * The test client of wire.h.
 */
#include "wire.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/byte.h"
#include "lib/err.h"
#include "server/addr.h"

#define WIRE_TIMEOUT_MS 10000

void wireOpen(struct wire *w, const char *address, uint64_t version)
{
    memset(w, 0, sizeof *w);
    cr_assert_eq(addrConnect(address, &w->fd), 0, "connect %s", address);
    protoReaderInit(&w->reader, PROTO_SIDE_CLIENT);
    if (version != 0) {
        uint8_t word[8];
        bytePut64(word, version);
        wireSendRaw(w, word, sizeof word);
    }
}

void wireClose(struct wire *w)
{
    close(w->fd);
    protoReaderClose(&w->reader);
}

void wireSendRaw(struct wire *w, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        cr_assert_gt(n, 0, "write");
        p += n;
        len -= (size_t)n;
    }
}

void wireSend(struct wire *w, const struct proto_request *req)
{
    struct buf out;
    bufInit(&out);
    cr_assert_eq(protoRequestEncode(req, &out), 0);
    wireSendRaw(w, out.data, out.len);
    bufFree(&out);
}

/* Reads more bytes: false on EOF/timeout. */
static bool wireFill(struct wire *w)
{
    struct pollfd pfd = {w->fd, POLLIN, 0};
    uint8_t chunk[65536];
    if (poll(&pfd, 1, WIRE_TIMEOUT_MS) != 1) {
        return false;
    }
    ssize_t n = read(w->fd, chunk, sizeof chunk);
    if (n <= 0) {
        return false;
    }
    cr_assert_eq(protoReaderFeed(&w->reader, chunk, (size_t)n), 0);
    return true;
}

bool wireRecvFrame(struct wire *w)
{
    int rv;
    while ((rv = protoReaderNext(&w->reader, &w->frame)) == ERR_AGAIN) {
        if (!wireFill(w)) {
            return false;
        }
    }
    cr_assert_eq(rv, 0, "framing: %s", errString(rv));
    return true;
}

bool wireRecv(struct wire *w)
{
    if (!wireRecvFrame(w)) {
        return false;
    }
    int rv = protoResponseDecode(&w->frame.header, w->frame.body, w->frame.len,
                                 NULL, &w->resp);
    cr_assert_eq(rv, 0, "decode: %s", errString(rv));
    return true;
}

bool wireClosed(struct wire *w)
{
    struct pollfd pfd = {w->fd, POLLIN, 0};
    uint8_t byte;
    if (poll(&pfd, 1, WIRE_TIMEOUT_MS) != 1) {
        return false;
    }
    return read(w->fd, &byte, 1) == 0;
}

void wireOpenDb(struct wire *w, const char *name)
{
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_OPEN);
    req.open.name = protoText(name);
    req.open.vfs = protoText("volatile");
    wireSend(w, &req);
    cr_assert(wireRecv(w));
    cr_assert_eq(w->resp.type, PROTO_RESP_DB);
}

void wireExecSql(struct wire *w, const char *sql, uint64_t *last_id,
                 uint64_t *changes)
{
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_EXEC_SQL);
    req.exec_sql.sql = protoText(sql);
    wireSend(w, &req);
    cr_assert(wireRecv(w));
    cr_assert_eq(w->resp.type, PROTO_RESP_RESULT, "%s: failure %s", sql,
                 w->resp.type == PROTO_RESP_FAILURE
                     ? w->resp.failure.message.data
                     : "-");
    if (last_id != NULL) {
        *last_id = w->resp.result.last_insert_id;
    }
    if (changes != NULL) {
        *changes = w->resp.result.rows_affected;
    }
}

uint64_t wireExpectFailure(struct wire *w)
{
    cr_assert(wireRecv(w), "no response");
    cr_assert_eq(w->resp.type, PROTO_RESP_FAILURE, "type %u", w->resp.type);
    return w->resp.failure.code;
}

static int wireRemove(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void wireNodeStart(struct wire_node *n)
{
    wireNodeStartWith(n, NULL);
}

void wireNodeStartWith(struct wire_node *n, void (*setup)(dqlite_node *node))
{
    snprintf(n->dir, sizeof n->dir, "/tmp/dqlite-gw-XXXXXX");
    cr_assert_not_null(mkdtemp(n->dir));
    snprintf(n->address, sizeof n->address, "@dqlite-gw-%d", getpid());
    cr_assert_eq(dqlite_node_create(1, n->address, n->dir, &n->node), 0);
    if (setup != NULL) {
        setup(n->node);
    }
    cr_assert_eq(dqlite_node_start(n->node), 0, "%s",
                 dqlite_node_errmsg(n->node));
}

void wireNodeStop(struct wire_node *n)
{
    cr_assert_eq(dqlite_node_stop(n->node), 0);
    dqlite_node_destroy(n->node);
    nftw(n->dir, wireRemove, 8, FTW_DEPTH | FTW_PHYS);
}
