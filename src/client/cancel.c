/*
 * Cancellation handles (go-dqlite's context cancellation): a flag another
 * thread raises, that the connection's waits see at once.
 *
 * A handle is an eventfd plus an atomic flag. Firing sets the flag and
 * makes the eventfd readable (one write, async-signal-safe); it stays
 * readable until reset, so every wait that polls it (sock.c) returns at
 * once while the handle is fired, like a cancelled context. What a
 * cancelled call does on the wire (INTERRUPT, the drain of the answers
 * owed) is conn.c's.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

struct dqlite_cancel {
    int fd; /* eventfd: readable while fired */
    atomic_bool fired;
};

DQLITE_API int dqlite_cancel_create(struct dqlite_cancel **cancel)
{
    struct dqlite_cancel *c;
    if (cancel == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    c = libCalloc(1, sizeof *c);
    if (c == NULL) {
        return DQLITE_CLIENT_NOMEM;
    }
    c->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->fd < 0) {
        libFree(c);
        return errno == ENOMEM ? DQLITE_CLIENT_NOMEM : DQLITE_CLIENT_IOERR;
    }
    atomic_init(&c->fired, false);
    *cancel = c;
    return 0;
}

DQLITE_API void dqlite_cancel_destroy(struct dqlite_cancel *cancel)
{
    if (cancel == NULL) {
        return;
    }
    close(cancel->fd);
    libFree(cancel);
}

DQLITE_API void dqlite_cancel_fire(struct dqlite_cancel *cancel)
{
    uint64_t one = 1;
    if (cancel == NULL || atomic_exchange(&cancel->fired, true)) {
        return;
    }
    /* Cannot fail short of a closed fd: the counter is far from full. */
    while (write(cancel->fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

DQLITE_API bool dqlite_cancel_fired(struct dqlite_cancel *cancel)
{
    return cancel != NULL && atomic_load(&cancel->fired);
}

DQLITE_API void dqlite_cancel_reset(struct dqlite_cancel *cancel)
{
    uint64_t count;
    if (cancel == NULL || !atomic_exchange(&cancel->fired, false)) {
        return;
    }
    /* A fire racing with this reset may leave the fd readable with the
     * flag raised again: then both say "fired", which is consistent. */
    while (read(cancel->fd, &count, sizeof count) < 0 && errno == EINTR) {
    }
    if (atomic_load(&cancel->fired)) {
        count = 1;
        while (write(cancel->fd, &count, sizeof count) < 0 && errno == EINTR) {
        }
    }
}

int clientCancelFd(const struct dqlite_cancel *cancel)
{
    return cancel != NULL ? cancel->fd : -1;
}

bool clientCancelled(const struct dqlite_cancel *cancel)
{
    return cancel != NULL && atomic_load(&cancel->fired);
}

void clientCancelSleepMs(const struct dqlite_cancel *cancel, unsigned ms)
{
    struct pollfd p = {.fd = clientCancelFd(cancel), .events = POLLIN};
    int64_t deadline_ms = clientDeadline(ms);
    int left_ms;
    if (cancel == NULL) {
        clientSleepMs(ms);
        return;
    }
    while ((left_ms = clientRemainingMs(deadline_ms)) > 0) {
        int rv = poll(&p, 1, left_ms);
        if (rv > 0 || (rv < 0 && errno != EINTR)) {
            return; /* fired (or poll failed: the caller checks the flag) */
        }
    }
}
