/*
 * Leader discovery: go-dqlite 1.11.5's connector (protocol.md §9.3).
 *
 * A round takes the store's servers, voters first, and asks each one with
 * LEADER who leads. A server naming itself is the leader: the connection is
 * registered with CLIENT and kept. A server naming another is followed once:
 * that one must name itself. A server whose first request fails with EOF or
 * a connection error is asked again with the legacy handshake. When a round
 * finds nobody the next one starts after an exponential backoff (factor *
 * 2^n, capped), until the deadline or the retry limit.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

/* Says why a dial failed: refused, unreachable, unresolved or timed out
 * (errno as the dial function left it). */
static int clientDialFailed(const char *address, int rv, int dial_errno,
                            int timeout_ms, struct client_err *e)
{
    if (rv == ERR_TIMEOUT) {
        return clientErrSet(e, ERR_TIMEOUT, "dial %s: timed out after %d ms",
                            address, timeout_ms);
    }
    if (rv == ERR_NOTFOUND) {
        return clientErrSet(e, ERR_IO, "dial %s: cannot resolve the host",
                            address);
    }
    if (rv == ERR_INVALID) {
        return clientErrSet(e, ERR_IO, "dial %s: invalid address", address);
    }
    if (dial_errno != 0) {
        return clientErrSet(e, ERR_IO, "dial %s: %s", address,
                            strerror(dial_errno));
    }
    return clientErrSet(e, ERR_IO, "dial %s: failed", address);
}

int clientDialNode(struct dqlite_driver *d, const char *address,
                   uint64_t version, int64_t deadline_ms,
                   const struct dqlite_cancel *cancel, struct client_sock *s,
                   struct client_err *e)
{
    int timeout_ms = clientRemainingMs(deadline_ms);
    int fd = -1;
    int rv;
    PRE(!clientSockOpen(s));
    if ((unsigned)timeout_ms > d->opts.dial_timeout_ms) {
        timeout_ms = (int)d->opts.dial_timeout_ms;
    }
    if (timeout_ms == 0) {
        return clientErrSet(e, ERR_TIMEOUT, "dial %s: timed out", address);
    }
    errno = 0;
    rv = d->opts.dial(d->opts.dial_arg, address, timeout_ms, &fd);
    if (rv != 0 || fd < 0) {
        return clientDialFailed(address, rv, errno, timeout_ms, e);
    }
    rv = clientSockAttach(s, fd, version);
    if (rv != 0) {
        return clientErrSet(e, rv, "connect %s: %s", address, errString(rv));
    }
    if (d->tls != NULL) {
        /* Bounded by the caller's deadline (the call's, or the attempt's
         * during discovery), like the requests that follow. */
        rv = clientTlsHandshake(d->tls, s, address, deadline_ms,
                                clientCancelFd(cancel), e);
        if (rv != 0) {
            clientSockClose(s);
            clientSockInit(s);
            return rv;
        }
    }
    return 0;
}

/* Checks that the last answer on `s` is of `type`. */
static int discoverExpect(struct client_sock *s, uint8_t type,
                          struct client_err *e)
{
    if (s->resp.type == type) {
        return 0;
    }
    if (s->resp.type == PROTO_RESP_FAILURE) {
        return clientErrServer(e, s->resp.failure.code,
                               s->resp.failure.message.data);
    }
    return clientErrSet(e, ERR_CLIENT_PROTO, "unexpected response type %u",
                        (unsigned)s->resp.type);
}

/* Sends one request of `type` whose body is a single u64 and reads the
 * answer, which must be of type `want`. */
static int discoverCall(struct client_sock *s, struct proto_request *req,
                        uint8_t want, int64_t deadline_ms, struct client_err *e)
{
    int rv = clientSockEncode(s, req);
    if (rv == 0) {
        rv = clientSockCall(s, deadline_ms);
    }
    if (rv != 0 && s->tls_err[0] != '\0') {
        return clientErrSet(e, rv, "request %u: TLS: %s", (unsigned)req->type,
                            s->tls_err);
    }
    if (rv != 0) {
        return clientErrSet(e, rv, "request %u: %s", (unsigned)req->type,
                            errString(rv));
    }
    return discoverExpect(s, want, e);
}

static int discoverRegister(struct client_sock *s, int64_t deadline_ms,
                            struct client_err *e)
{
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_CLIENT);
    req.client.id = 0;
    return discoverCall(s, &req, PROTO_RESP_WELCOME, deadline_ms, e);
}

/* Asks `address` who leads. On return `s` is open (registered) if it is the
 * leader; otherwise closed, with `leader` holding the address it named ("" for
 * none). *bad_version is set when the failure looked like a server refusing
 * the handshake. */
static int discoverAsk(struct dqlite_driver *d, const char *address,
                       uint64_t version, int64_t deadline_ms,
                       const struct dqlite_cancel *cancel,
                       struct client_sock *s, char *leader,
                       struct client_err *e, bool *bad_version)
{
    struct proto_request req;
    int rv;
    *bad_version = false;
    leader[0] = '\0';
    rv = clientDialNode(d, address, version, deadline_ms, cancel, s, e);
    if (rv != 0) {
        return rv;
    }
    protoRequestInit(&req, PROTO_REQ_LEADER);
    rv = discoverCall(s, &req, PROTO_RESP_SERVER, deadline_ms, e);
    if (rv != 0) {
        /* A TLS failure (e.g. the server's alert refusing our certificate)
         * is not a server refusing the protocol version. */
        *bad_version =
            (rv == ERR_CLIENT_EOF || rv == ERR_IO) && s->tls_err[0] == '\0';
        goto err_after_dial;
    }
    if (strcmp(s->resp.server.address.data, address) != 0) {
        snprintf(leader, CLIENT_ADDRESS_MAX, "%s", s->resp.server.address.data);
        clientSockClose(s);
        clientSockInit(s);
        return 0;
    }
    rv = discoverRegister(s, deadline_ms, e);
    if (rv != 0) {
        goto err_after_dial;
    }
    return 0;
err_after_dial:
    clientSockClose(s);
    clientSockInit(s);
    return rv;
}

/* discoverAsk with go-dqlite's fallback to the legacy handshake. */
static int discoverProbe(struct dqlite_driver *d, const char *address,
                         int64_t deadline_ms,
                         const struct dqlite_cancel *cancel,
                         struct client_sock *s, char *leader,
                         struct client_err *e)
{
    bool bad_version;
    int rv = discoverAsk(d, address, PROTO_VERSION, deadline_ms, cancel, s,
                         leader, e, &bad_version);
    if (rv != 0 && bad_version) {
        clientLog(d, DQLITE_CLIENT_LOG_DEBUG,
                  "server %s: retrying with the legacy protocol", address);
        rv = discoverAsk(d, address, PROTO_VERSION_LEGACY, deadline_ms, cancel,
                         s, leader, e, &bad_version);
    }
    return rv;
}

/* Probes one store entry, following one redirect. 0 with `s` open: found. */
static int discoverServer(struct dqlite_driver *d, const char *address,
                          int64_t deadline_ms,
                          const struct dqlite_cancel *cancel,
                          struct client_sock *s, struct client_err *e)
{
    char leader[CLIENT_ADDRESS_MAX];
    char ignored[CLIENT_ADDRESS_MAX];
    int64_t attempt_ms = clientDeadline(d->opts.attempt_timeout_ms);
    int rv = discoverProbe(d, address,
                           attempt_ms < deadline_ms ? attempt_ms : deadline_ms,
                           cancel, s, leader, e);
    if (rv != 0 || clientSockOpen(s)) {
        return rv;
    }
    if (leader[0] == '\0') {
        clientLog(d, DQLITE_CLIENT_LOG_DEBUG, "server %s: no known leader",
                  address);
        return clientErrSet(e, ERR_CLIENT_NOLEADER,
                            "%s is up but knows no leader", address);
    }
    clientLog(d, DQLITE_CLIENT_LOG_DEBUG, "server %s: leader is %s", address,
              leader);
    attempt_ms = clientDeadline(d->opts.attempt_timeout_ms);
    rv = discoverProbe(d, leader,
                       attempt_ms < deadline_ms ? attempt_ms : deadline_ms,
                       cancel, s, ignored, e);
    if (rv == 0 && !clientSockOpen(s)) {
        rv = clientErrSet(e, ERR_CLIENT_NOLEADER,
                          "reported leader %s is not the leader", leader);
    }
    return rv;
}

/* Sorts voters first, keeping the store's order within a role (a stable
 * insertion sort: stores are small). */
static void sortByRole(struct dqlite_server_info *servers, unsigned n)
{
    unsigned i;
    unsigned j;
    for (i = 1; i < n; i++) {
        struct dqlite_server_info cur = servers[i];
        for (j = i; j > 0 && servers[j - 1].role > cur.role; j--) {
            servers[j] = servers[j - 1];
        }
        servers[j] = cur;
    }
}

/* One round over the store. */
static int discoverRound(struct dqlite_driver *d, int64_t deadline_ms,
                         const struct dqlite_cancel *cancel,
                         struct client_sock *s, struct client_err *e)
{
    struct dqlite_server_info *servers;
    unsigned n;
    unsigned i;
    int rv = dqlite_server_store_get(d->store, &servers, &n);
    if (rv != 0) {
        return clientErrSet(e, ERR_CLIENT_STORE, "cannot read server store");
    }
    sortByRole(servers, n);
    rv = clientErrSet(e, ERR_CLIENT_NOLEADER, "server store is empty");
    for (i = 0; i < n && !clientSockOpen(s); i++) {
        if (clientCancelled(cancel)) {
            rv = clientErrSet(e, ERR_CLIENT_CANCELLED, "cancelled");
            break;
        }
        if (i > 0 && clientRemainingMs(deadline_ms) == 0) {
            break; /* keep the last server's own reason, not "timed out" */
        }
        rv = discoverServer(d, servers[i].address, deadline_ms, cancel, s, e);
        if (rv != 0) {
            clientLog(d, DQLITE_CLIENT_LOG_WARN, "server %s: %s",
                      servers[i].address, e->msg);
        }
    }
    clientInfosFree(servers, n);
    return clientSockOpen(s) ? 0 : rv;
}

int clientDiscover(struct dqlite_driver *d, int64_t deadline_ms,
                   struct client_sock *s, struct client_err *e)
{
    return clientDiscoverCancel(d, deadline_ms, NULL, s, e);
}

int clientDiscoverCancel(struct dqlite_driver *d, int64_t deadline_ms,
                         const struct dqlite_cancel *cancel,
                         struct client_sock *s, struct client_err *e)
{
    char last[CLIENT_ERRMSG_SIZE];
    unsigned attempt;
    int rv;
    PRE(d != NULL && s != NULL && !clientSockOpen(s));
    for (attempt = 0;; attempt++) {
        if (attempt > 0) {
            unsigned sleep_ms = clientBackoffMs(
                d->opts.backoff_factor_ms, d->opts.backoff_cap_ms, attempt);
            int left_ms = clientRemainingMs(deadline_ms);
            if (left_ms == 0 ||
                (d->opts.retry_limit != 0 && attempt > d->opts.retry_limit)) {
                break;
            }
            clientCancelSleepMs(cancel, sleep_ms < (unsigned)left_ms
                                            ? sleep_ms
                                            : (unsigned)left_ms);
            if (clientRemainingMs(deadline_ms) == 0) {
                break; /* no round with no time: keep the last reason */
            }
        }
        rv = discoverRound(d, deadline_ms, cancel, s, e);
        if (rv == 0) {
            clientErrClear(e);
            return 0;
        }
        if (rv == ERR_CLIENT_CANCELLED || clientCancelled(cancel)) {
            POST(!clientSockOpen(s));
            return clientErrSet(e, ERR_CLIENT_CANCELLED,
                                "cancelled while looking for the leader");
        }
        if (clientRemainingMs(deadline_ms) == 0) {
            break;
        }
    }
    POST(!clientSockOpen(s));
    snprintf(last, sizeof last, "%s", e->msg);
    return clientErrSet(e, ERR_CLIENT_NOLEADER,
                        "no available dqlite leader server found (%.400s)",
                        last);
}

int clientDialDirect(struct dqlite_driver *d, const char *address,
                     int64_t deadline_ms, const struct dqlite_cancel *cancel,
                     struct client_sock *s, struct client_err *e)
{
    struct dqlite_server_info *servers;
    unsigned n;
    int rv;
    PRE(!clientSockOpen(s));
    if (address != NULL) {
        rv = clientDialNode(d, address, PROTO_VERSION, deadline_ms, cancel, s,
                            e);
        rv = rv != 0 ? rv : discoverRegister(s, deadline_ms, e);
        if (rv != 0 && clientSockOpen(s)) {
            clientSockClose(s);
            clientSockInit(s);
        }
        return rv;
    }
    rv = dqlite_server_store_get(d->store, &servers, &n);
    if (rv != 0) {
        return clientErrSet(e, ERR_CLIENT_STORE, "cannot read server store");
    }
    if (n == 0) {
        clientInfosFree(servers, n);
        return clientErrSet(e, ERR_CLIENT_NOLEADER, "server store is empty");
    }
    rv = clientDialNode(d, servers[0].address, PROTO_VERSION, deadline_ms,
                        cancel, s, e);
    if (rv == 0) {
        rv = discoverRegister(s, deadline_ms, e);
        if (rv != 0) {
            clientSockClose(s);
            clientSockInit(s);
        }
    }
    clientInfosFree(servers, n);
    return rv;
}
