/*
 * The fake node of fake.h: listener and connection threads, proto-based
 * request reading and response writing, and the replay of captured
 * protocol vectors.
 */
#include "fake.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/err.h"

#define FAKE_READ_TIMEOUT_MS 3000

void fakeWatchdog(void)
{
    alarm(FAKE_TEST_SECONDS);
}

/* Provided by LeakSanitizer in SAN=1 builds, absent otherwise. */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

void fakeLeakCheck(void)
{
    if (__lsan_do_recoverable_leak_check != NULL) {
        cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
                     "memory leaked (see the report above)");
    }
}

struct conn_start {
    struct fake_server *srv;
    struct fake_conn *fc;
};

static void *connMain(void *arg)
{
    struct fake_conn *fc = arg;
    fc->srv->handler(fc, fc->srv->arg);
    shutdown(fc->fd, SHUT_RDWR);
    return NULL;
}

static void *listenMain(void *arg)
{
    struct fake_server *srv = arg;
    for (;;) {
        int fd = accept(srv->fd, NULL, NULL);
        struct fake_conn *fc;
        if (fd < 0) {
            return NULL;
        }
        pthread_mutex_lock(&srv->mutex);
        if (srv->stopping || srv->n_conns == FAKE_CONNS_MAX) {
            pthread_mutex_unlock(&srv->mutex);
            close(fd);
            return NULL;
        }
        fc = calloc(1, sizeof *fc);
        fc->srv = srv;
        fc->fd = fd;
        protoReaderInit(&fc->reader, PROTO_SIDE_SERVER);
        srv->conns[srv->n_conns] = fc;
        pthread_create(&srv->conn_threads[srv->n_conns], NULL, connMain, fc);
        srv->n_conns++;
        pthread_mutex_unlock(&srv->mutex);
    }
}

struct fake_server *fakeStart(fake_handler handler, void *arg)
{
    struct fake_server *srv = calloc(1, sizeof *srv);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    int one = 1;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(srv->fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        listen(srv->fd, 16) != 0 ||
        getsockname(srv->fd, (struct sockaddr *)&sin, &len) != 0) {
        abort();
    }
    snprintf(srv->address, sizeof srv->address, "127.0.0.1:%u",
             (unsigned)ntohs(sin.sin_port));
    srv->handler = handler;
    srv->arg = arg;
    pthread_mutex_init(&srv->mutex, NULL);
    pthread_create(&srv->thread, NULL, listenMain, srv);
    return srv;
}

void fakeStop(struct fake_server *srv)
{
    int i;
    pthread_mutex_lock(&srv->mutex);
    srv->stopping = true;
    for (i = 0; i < srv->n_conns; i++) {
        shutdown(srv->conns[i]->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&srv->mutex);
    shutdown(srv->fd, SHUT_RDWR);
    pthread_join(srv->thread, NULL);
    close(srv->fd);
    for (i = 0; i < srv->n_conns; i++) {
        pthread_join(srv->conn_threads[i], NULL);
        close(srv->conns[i]->fd);
        protoReaderClose(&srv->conns[i]->reader);
        free(srv->conns[i]);
    }
    pthread_mutex_destroy(&srv->mutex);
    free(srv);
}

int fakeCount(struct fake_server *srv, uint8_t type)
{
    int i;
    int n = 0;
    pthread_mutex_lock(&srv->mutex);
    for (i = 0; i < srv->n_reqs; i++) {
        n += srv->types[i] == type;
    }
    pthread_mutex_unlock(&srv->mutex);
    return n;
}

int fakeConns(struct fake_server *srv)
{
    int n;
    pthread_mutex_lock(&srv->mutex);
    n = srv->n_conns;
    pthread_mutex_unlock(&srv->mutex);
    return n;
}

/* Reads some bytes into the reader; -1 on EOF, error or timeout. */
static int fakeFill(struct fake_conn *fc)
{
    struct pollfd p = {.fd = fc->fd, .events = POLLIN};
    uint8_t *buf;
    size_t avail;
    ssize_t n;
    if (poll(&p, 1, FAKE_READ_TIMEOUT_MS) != 1 ||
        protoReaderReserve(&fc->reader, 4096, &buf, &avail) != 0) {
        return -1;
    }
    n = read(fc->fd, buf, avail);
    if (n <= 0) {
        return -1;
    }
    protoReaderCommit(&fc->reader, (size_t)n);
    return 0;
}

int fakeHandshake(struct fake_conn *fc)
{
    /* The reader consumes the handshake with the first request. */
    (void)fc;
    return 0;
}

int fakeRecv(struct fake_conn *fc)
{
    int rv;
    while ((rv = protoReaderNext(&fc->reader, &fc->frame)) == ERR_AGAIN) {
        if (fakeFill(fc) != 0) {
            return -1;
        }
    }
    if (rv != 0) {
        return -1;
    }
    fc->version = fc->reader.version;
    if (protoRequestDecode(&fc->frame.header, fc->frame.body, fc->frame.len,
                           &fc->req) != 0) {
        return -1;
    }
    pthread_mutex_lock(&fc->srv->mutex);
    if (fc->srv->n_reqs < FAKE_REQS_MAX) {
        fc->srv->types[fc->srv->n_reqs++] = fc->req.type;
    }
    pthread_mutex_unlock(&fc->srv->mutex);
    return 0;
}

void fakeSendRaw(struct fake_conn *fc, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = send(fc->fd, b, n, MSG_NOSIGNAL);
        if (k <= 0) {
            return;
        }
        b += k;
        n -= (size_t)k;
    }
}

void fakeSend(struct fake_conn *fc, const struct proto_response *resp)
{
    struct buf out;
    bufInit(&out);
    if (protoResponseEncode(resp, NULL, &out) != 0) {
        abort();
    }
    fakeSendRaw(fc, out.data, out.len);
    bufFree(&out);
}

void fakeSendFailure(struct fake_conn *fc, uint64_t code, const char *msg)
{
    struct proto_response r;
    protoResponseInit(&r, PROTO_RESP_FAILURE);
    r.failure.code = code;
    r.failure.message = protoText(msg);
    fakeSend(fc, &r);
}

void fakeSendServer(struct fake_conn *fc, uint64_t id, const char *address)
{
    struct proto_response r;
    protoResponseInit(&r, PROTO_RESP_SERVER);
    r.server.id = id;
    r.server.address = protoText(address);
    fakeSend(fc, &r);
}

void fakeSendEmpty(struct fake_conn *fc)
{
    struct proto_response r;
    protoResponseInit(&r, PROTO_RESP_EMPTY);
    fakeSend(fc, &r);
}

void fakeSendResult(struct fake_conn *fc, uint64_t last_id, uint64_t changes)
{
    struct proto_response r;
    protoResponseInit(&r, PROTO_RESP_RESULT);
    r.result.last_insert_id = last_id;
    r.result.rows_affected = changes;
    fakeSend(fc, &r);
}

bool fakeWaitClose(struct fake_conn *fc)
{
    struct pollfd p = {.fd = fc->fd, .events = POLLIN};
    char c;
    if (poll(&p, 1, 2000) != 1) {
        return false;
    }
    return read(fc->fd, &c, 1) == 0;
}
