/*
 * A fake dqlite node for the client's tests: a listening socket on
 * 127.0.0.1 (an ephemeral port) served by a thread, and one thread per
 * accepted connection running the test's handler. Handlers read requests
 * and write responses with proto's codec, or replay captured bytes.
 * Everything is bounded: every read has a timeout, and fakeStop() unblocks
 * and joins every thread.
 */
#ifndef TEST_CLIENT_FAKE_H
#define TEST_CLIENT_FAKE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/reader.h"
#include "proto/request.h"
#include "proto/response.h"

#define FAKE_CONNS_MAX 64
/* Every test of the client is bounded by this: the suites' init arms an
 * alarm whose default action kills the test's process, which Criterion
 * reports as a crash. (Criterion's own .timeout leaks in its runner under
 * LeakSanitizer when tests run in parallel, failing SAN=1 runs.) */
#define FAKE_TEST_SECONDS 20
#define FAKE_REQS_MAX 4096

struct fake_server;

/* One accepted connection. */
struct fake_conn {
    struct fake_server *srv;
    int fd;
    struct proto_reader reader;
    struct proto_frame frame;
    struct proto_request req; /* the last request, views `reader` */
    uint64_t version;
};

typedef void (*fake_handler)(struct fake_conn *fc, void *arg);

struct fake_server {
    int fd;
    char address[64];
    fake_handler handler;
    void *arg;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_t conn_threads[FAKE_CONNS_MAX];
    struct fake_conn *conns[FAKE_CONNS_MAX];
    int n_conns;                  /* accepted so far */
    uint8_t types[FAKE_REQS_MAX]; /* request types received, in order */
    int n_reqs;
    bool stopping;
};

/* Arms the watchdog of the current test (a suite's .init). */
void fakeWatchdog(void);
/* Under SAN=1, fails the current test if it leaked so far. Call it from
 * the test's body (tclusterStop and fakeReplayStop do): LeakSanitizer's
 * report at a worker's exit, or a failure in .fini, does not fail a test. */
void fakeLeakCheck(void);

/* Starts a server; its address is srv->address ("127.0.0.1:PORT"). */
struct fake_server *fakeStart(fake_handler handler, void *arg);
void fakeStop(struct fake_server *srv);
/* Number of requests of `type` received so far; connections accepted. */
int fakeCount(struct fake_server *srv, uint8_t type);
int fakeConns(struct fake_server *srv);

/* Reads the handshake word (0, or -1 on EOF/timeout). */
int fakeHandshake(struct fake_conn *fc);
/* Reads the next request into fc->req: 0, or -1 on EOF, timeout, error. */
int fakeRecv(struct fake_conn *fc);
/* Writes a response (encoded with proto). */
void fakeSend(struct fake_conn *fc, const struct proto_response *resp);
void fakeSendRaw(struct fake_conn *fc, const void *p, size_t n);
void fakeSendFailure(struct fake_conn *fc, uint64_t code, const char *msg);
void fakeSendServer(struct fake_conn *fc, uint64_t id, const char *address);
void fakeSendEmpty(struct fake_conn *fc);
void fakeSendResult(struct fake_conn *fc, uint64_t last_id, uint64_t changes);
/* Waits until the client closes (true) or 2 s pass (false). */
bool fakeWaitClose(struct fake_conn *fc);

/* Captured vectors: replays test/vectors/<file>, with one fake
 * server per address of the capture; `dial` maps the captured addresses
 * to them. Mismatches are counted in `errors`. */
struct fake_replay;
struct fake_replay *fakeReplayStart(const char *file);
void fakeReplayStop(struct fake_replay *r);
int fakeReplayErrors(struct fake_replay *r);
/* Whether every scripted connection ran to its end. */
bool fakeReplayDone(struct fake_replay *r);
int fakeReplayDial(void *arg, const char *address, int timeout_ms, int *fd);

#endif /* TEST_CLIENT_FAKE_H */
