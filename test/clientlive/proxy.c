/*
 * A delaying relay for the client-live tier: a dial function that connects
 * to the real node and hands the library one end of a socket pair, with a
 * thread copying bytes both ways. While a hold is set the node's answers
 * wait in the kernel (the relay stops reading them) while the client's
 * requests still go through: a test can make a fast answer arrive late at
 * a chosen moment, whatever the machine's load; and it can garble the
 * next answer's message type (a server speaking nonsense). Threads are joined
 * by liveProxyJoin() once the connections using them are closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "live.h"

#define PROXY_MAX 16

struct relay {
    int client_fd; /* our end of the pair */
    int server_fd;
};

static pthread_t threads[PROXY_MAX];
static unsigned n_threads;
static _Atomic int64_t hold_until_ms;
static atomic_bool garble_next;

void liveProxyHold(unsigned ms)
{
    atomic_store(&hold_until_ms, liveNowMs() + ms);
}

void liveProxyGarble(void)
{
    atomic_store(&garble_next, true);
}

/* Copies what `from` has into `to`; -1 at EOF or error. With `garble`,
 * a pending garble order replaces the type byte of the message header
 * that starts the chunk (the relay is idle between a request and its
 * answer, so an answer starts a chunk). */
static int pump(int from, int to, bool garble)
{
    char buf[16384];
    ssize_t n = read(from, buf, sizeof buf);
    ssize_t off = 0;
    if (n <= 0) {
        return -1;
    }
    if (garble && n > 4 && atomic_exchange(&garble_next, false)) {
        buf[4] = (char)0xee;
    }
    while (off < n) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        off += w;
    }
    return 0;
}

static void *relayMain(void *arg)
{
    struct relay *r = arg;
    struct pollfd p[2] = {{.fd = r->client_fd, .events = POLLIN},
                          {.fd = r->server_fd, .events = POLLIN}};
    for (;;) {
        int64_t left_ms = atomic_load(&hold_until_ms) - liveNowMs();
        bool held = left_ms > 0;
        int rv = poll(p, held ? 1 : 2, held ? (int)left_ms : 1000);
        if (rv < 0 && errno != EINTR) {
            break;
        }
        if (rv > 0 && p[0].revents != 0 &&
            pump(r->client_fd, r->server_fd, false)) {
            break;
        }
        if (rv > 0 && !held && p[1].revents != 0 &&
            pump(r->server_fd, r->client_fd, true)) {
            break;
        }
    }
    close(r->client_fd);
    close(r->server_fd);
    free(r);
    return NULL;
}

/* The relay's dial function: `arg` is a struct live_dial (counted). */
int liveProxyDial(void *arg, const char *address, int timeout_ms, int *fd)
{
    struct relay *r;
    int pair[2];
    if (n_threads == PROXY_MAX) {
        return -1;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL || liveDial(arg, address, timeout_ms, &r->server_fd) != 0) {
        free(r);
        return -1;
    }
    fcntl(r->server_fd, F_SETFL, 0); /* the relay blocks */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        close(r->server_fd);
        free(r);
        return -1;
    }
    r->client_fd = pair[1];
    if (pthread_create(&threads[n_threads], NULL, relayMain, r) != 0) {
        close(pair[0]);
        close(pair[1]);
        close(r->server_fd);
        free(r);
        return -1;
    }
    n_threads++;
    *fd = pair[0];
    return 0;
}

/* Joins every relay thread: their client ends must be closed. */
void liveProxyJoin(void)
{
    unsigned i;
    atomic_store(&hold_until_ms, 0);
    atomic_store(&garble_next, false);
    for (i = 0; i < n_threads; i++) {
        pthread_join(threads[i], NULL);
    }
    n_threads = 0;
}
