/*
 * The automatic roles' calls to other nodes, made with our client library
 * (src/client): DESCRIBE probes (is the member up, in which failure domain,
 * with which weight) and the ASSIGN requests with which a stopping voter
 * hands its vote to a stand-by through the leader.
 *
 * The client blocks on its sockets, so everything here runs off the loop,
 * on libuv's thread pool (uv_queue_work in roles.c and roles_stop.c), on
 * private copies of what it needs. Every call is bounded: a probe by
 * ROLES_DIAL_MS + ROLES_CALL_MS and the caller's budget, a hand-off by its
 * deadline. The node's own connect function, when it has one, dials for
 * the client too (it may ignore our timeouts: it is the embedder's).
 */
#include <dqlite_client.h>
#include <stdio.h>
#include <time.h>

#include "client/client.h" /* struct dqlite_driver: per-call timeouts */
#include "lib/err.h"
#include "server/roles.h"

int64_t rolesClockMs(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static unsigned probeMin(int64_t a, unsigned b)
{
    return a < (int64_t)b ? (unsigned)a : b;
}

static int probeDial(void *arg, const char *address, int timeout_ms, int *fd)
{
    const struct roles_dialer *d = arg;
    (void)timeout_ms; /* the embedder's function has its own */
    return d->fn(d->arg, address, fd);
}

/* A driver whose every timeout is `timeout_ms` (>= 1). */
static int probeDriver(const struct roles_dialer *d,
                       struct dqlite_server_store *store, unsigned timeout_ms,
                       struct dqlite_driver **out)
{
    struct dqlite_driver_options o;
    dqlite_driver_options_init(&o);
    o.connect_timeout_ms = timeout_ms;
    o.dial_timeout_ms = timeout_ms;
    o.call_timeout_ms = timeout_ms;
    o.attempt_timeout_ms = timeout_ms;
    o.no_store_refresh = true;
    if (d->fn != NULL) {
        o.dial = probeDial;
        o.dial_arg = (void *)d;
    }
    return dqlite_driver_create(store, &o, out);
}

/* DESCRIBE one peer within `timeout_ms`. */
static void probeOne(const struct roles_dialer *d,
                     struct dqlite_server_store *store, struct roles_peer *p,
                     unsigned timeout_ms)
{
    struct dqlite_driver *driver;
    struct dqlite_client *client = NULL;
    p->status = ROLES_FAILED;
    if (probeDriver(d, store, probeMin(timeout_ms, ROLES_DIAL_MS), &driver) !=
        0) {
        return;
    }
    if (dqlite_client_connect(driver, p->address, &client) == 0) {
        driver->opts.call_timeout_ms = probeMin(timeout_ms, ROLES_CALL_MS);
        if (dqlite_client_describe(client, &p->domain, &p->weight) == 0) {
            p->status = ROLES_ANSWERED;
        }
    }
    dqlite_client_close(client);
    dqlite_driver_destroy(driver);
}

void rolesProbeAll(const struct roles_dialer *d, struct roles_peer *p,
                   unsigned n, unsigned budget_ms)
{
    struct dqlite_server_store *store; /* unused, but a driver needs one */
    int64_t deadline_ms = rolesClockMs() + budget_ms;
    for (unsigned i = 0; i < n; i++) {
        p[i].status = ROLES_SKIPPED;
    }
    if (dqlite_server_store_create(&store) != 0) {
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        int64_t left_ms = deadline_ms - rolesClockMs();
        if (left_ms < 1) {
            break;
        }
        probeOne(d, store, &p[i], (unsigned)probeMin(left_ms, budget_ms));
    }
    dqlite_server_store_close(store);
}

/* Sets the client's next call timeout to what is left; false when
 * nothing is. */
static bool probeTimeLeft(struct dqlite_driver *driver, int64_t deadline_ms)
{
    int64_t left_ms = deadline_ms - rolesClockMs();
    if (left_ms < 1) {
        return false;
    }
    driver->opts.call_timeout_ms = probeMin(left_ms, ROLES_HANDOFF_MS);
    return true;
}

/* The two ASSIGN requests of a hand-off on a client connected to the
 * leader. */
static int probeAssignBoth(struct dqlite_driver *driver,
                           struct dqlite_client *client, uint64_t candidate,
                           uint64_t self, int64_t deadline_ms, char *msg,
                           size_t msg_len)
{
    if (!probeTimeLeft(driver, deadline_ms)) {
        snprintf(msg, msg_len, "out of time before the promotion");
        return ERR_TIMEOUT;
    }
    if (dqlite_client_assign(client, candidate, DQLITE_VOTER) != 0) {
        snprintf(msg, msg_len, "promoting node %llu: %s",
                 (unsigned long long)candidate, dqlite_client_errmsg(client));
        return ERR_CLIENT_FAILURE;
    }
    if (!probeTimeLeft(driver, deadline_ms)) {
        snprintf(msg, msg_len, "out of time before the demotion");
        return ERR_TIMEOUT;
    }
    if (dqlite_client_assign(client, self, DQLITE_SPARE) != 0) {
        snprintf(msg, msg_len, "demoting this node: %s",
                 dqlite_client_errmsg(client));
        return ERR_CLIENT_FAILURE;
    }
    return 0;
}

/* A store of the answering voters: the leader is one of them. */
static int probeVoterStore(const struct roles_peer *p, unsigned n,
                           struct dqlite_server_store **out)
{
    int rv = dqlite_server_store_create(out);
    for (unsigned i = 0; rv == 0 && i < n; i++) {
        if (p[i].role == RAFT_VOTER && p[i].status == ROLES_ANSWERED) {
            rv = dqlite_server_store_add(*out, p[i].id, p[i].address,
                                         DQLITE_VOTER);
        }
    }
    return rv;
}

int rolesHandOffRemote(const struct roles_dialer *d, const struct roles_peer *p,
                       unsigned n, uint64_t candidate, uint64_t self,
                       int64_t deadline_ms, char *msg, size_t msg_len)
{
    struct dqlite_server_store *store = NULL;
    struct dqlite_driver *driver = NULL;
    struct dqlite_client *client = NULL;
    int64_t left_ms = deadline_ms - rolesClockMs();
    int rv = ERR_NOMEM;
    snprintf(msg, msg_len, "out of memory");
    if (left_ms < 1) {
        snprintf(msg, msg_len, "out of time before finding the leader");
        return ERR_TIMEOUT;
    }
    if (probeVoterStore(p, n, &store) != 0 ||
        probeDriver(d, store, probeMin(left_ms, ROLES_HANDOFF_MS), &driver) !=
            0) {
        goto out;
    }
    if (dqlite_client_connect_leader(driver, &client) != 0) {
        snprintf(msg, msg_len, "no leader: %s", dqlite_client_errmsg(client));
        rv = ERR_CLIENT_NOLEADER;
        goto out;
    }
    rv = probeAssignBoth(driver, client, candidate, self, deadline_ms, msg,
                         msg_len);
    if (rv == 0) {
        msg[0] = '\0';
    }
out:
    dqlite_client_close(client);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
    return rv;
}
