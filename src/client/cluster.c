/*
 * The cluster client: one connection to one node for membership and
 * inspection (go-dqlite's client.Client), and the driver-level join and
 * leave built on it. Every call has the driver's call timeout; these
 * requests cannot be interrupted, so a timeout closes the connection.
 */
#include <string.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

struct dqlite_client {
    struct dqlite_driver *driver;
    struct client_sock sock;
    struct client_err err;
};

static struct dqlite_client *clusterAlloc(struct dqlite_driver *d)
{
    struct dqlite_client *cl = libCalloc(1, sizeof *cl);
    if (cl == NULL) {
        return NULL;
    }
    cl->driver = d;
    clientSockInit(&cl->sock);
    clientErrClear(&cl->err);
    return cl;
}

DQLITE_API int dqlite_client_connect(struct dqlite_driver *driver,
                                     const char *address,
                                     struct dqlite_client **client)
{
    struct dqlite_client *cl;
    if (driver == NULL || address == NULL || client == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    cl = *client = clusterAlloc(driver);
    if (cl == NULL) {
        return DQLITE_CLIENT_NOMEM;
    }
    return clientErrPublic(
        clientDialNode(driver, address, PROTO_VERSION,
                       clientDeadline(driver->opts.connect_timeout_ms), NULL,
                       &cl->sock, &cl->err));
}

DQLITE_API int dqlite_client_connect_leader(struct dqlite_driver *driver,
                                            struct dqlite_client **client)
{
    struct dqlite_client *cl;
    if (driver == NULL || client == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    cl = *client = clusterAlloc(driver);
    if (cl == NULL) {
        return DQLITE_CLIENT_NOMEM;
    }
    return clientErrPublic(
        clientDiscover(driver, clientDeadline(driver->opts.connect_timeout_ms),
                       &cl->sock, &cl->err));
}

DQLITE_API void dqlite_client_close(struct dqlite_client *client)
{
    if (client == NULL) {
        return;
    }
    clientSockClose(&client->sock);
    libFree(client);
}

DQLITE_API const char *dqlite_client_errmsg(struct dqlite_client *client)
{
    return client != NULL ? clientErrMsg(&client->err) : "client is NULL";
}

DQLITE_API uint64_t dqlite_client_errcode(struct dqlite_client *client)
{
    return client != NULL ? client->err.server_code : 0;
}

const struct proto_response *clientClusterResp(struct dqlite_client *cl)
{
    return &cl->sock.resp;
}

struct client_err *clientClusterErr(struct dqlite_client *cl)
{
    return &cl->err;
}

DQLITE_API void dqlite_client_free(void *p)
{
    libFree(p);
}

struct client_sock *clientClusterSock(struct dqlite_client *cl)
{
    return &cl->sock;
}

unsigned clientClusterTimeoutMs(const struct dqlite_client *cl)
{
    return cl->driver->opts.call_timeout_ms;
}

/* Sends `req` and checks that the answer is of type `want`. */
/* Checks the answer in cl->sock.resp against the type wanted. */
static int clusterCheckAnswer(struct dqlite_client *cl, uint8_t want)
{
    struct client_sock *s = &cl->sock;
    if (s->resp.type == want) {
        return 0;
    }
    if (s->resp.type == PROTO_RESP_FAILURE) {
        return clientErrServer(&cl->err, s->resp.failure.code,
                               s->resp.failure.message.data);
    }
    return clientErrSet(&cl->err, ERR_CLIENT_PROTO,
                        "unexpected response type %u", (unsigned)s->resp.type);
}

/* Drops the connection after a failed exchange (no INTERRUPT for these:
 * the next call starts afresh). */
void clientClusterReset(struct dqlite_client *cl)
{
    clientSockClose(&cl->sock);
    clientSockInit(&cl->sock);
}

int clientClusterCall(struct dqlite_client *cl, struct proto_request *req,
                      uint8_t want)
{
    struct client_sock *s = &cl->sock;
    int rv;
    clientErrClear(&cl->err);
    if (!clientSockOpen(s)) {
        return clientErrSet(&cl->err, ERR_NOCONN, "not connected");
    }
    rv = clientSockEncode(s, req);
    if (rv != 0) {
        return clientErrSet(&cl->err, ERR_MISUSE, "cannot encode: %s",
                            errString(rv));
    }
    rv = clientSockCall(s, clientDeadline(cl->driver->opts.call_timeout_ms));
    if (rv != 0) {
        clientClusterReset(cl);
        return clientErrSet(&cl->err, rv, "request failed: %s", errString(rv));
    }
    return clusterCheckAnswer(cl, want);
}

int clientClusterNext(struct dqlite_client *cl, uint8_t want)
{
    struct client_sock *s = &cl->sock;
    int rv;
    if (!clientSockOpen(s)) {
        return clientErrSet(&cl->err, ERR_NOCONN, "not connected");
    }
    rv = clientSockRecv(s, clientDeadline(cl->driver->opts.call_timeout_ms));
    if (rv != 0) {
        clientClusterReset(cl);
        return clientErrSet(&cl->err, rv, "request failed: %s", errString(rv));
    }
    return clusterCheckAnswer(cl, want);
}

/* A request whose body is one u64 and whose answer is EMPTY. */
static int clusterSimple(struct dqlite_client *cl, uint8_t type, uint64_t v)
{
    struct proto_request req;
    if (cl == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    protoRequestInit(&req, type);
    switch (type) {
    case PROTO_REQ_REMOVE:
        req.remove.id = v;
        break;
    case PROTO_REQ_TRANSFER:
        req.transfer.id = v;
        break;
    default:
        ASSERT(type == PROTO_REQ_WEIGHT);
        req.weight.weight = v;
    }
    return clientErrPublic(clientClusterCall(cl, &req, PROTO_RESP_EMPTY));
}

DQLITE_API int dqlite_client_leader(struct dqlite_client *client, uint64_t *id,
                                    char **address)
{
    struct proto_request req;
    int rv;
    if (client == NULL || id == NULL || address == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    protoRequestInit(&req, PROTO_REQ_LEADER);
    rv = clientClusterCall(client, &req, PROTO_RESP_SERVER);
    if (rv != 0) {
        return clientErrPublic(rv);
    }
    *address = libStrdup(client->sock.resp.server.address.data);
    if (*address == NULL) {
        return DQLITE_CLIENT_NOMEM;
    }
    *id = client->sock.resp.server.id;
    return 0;
}

DQLITE_API int dqlite_client_cluster(struct dqlite_client *client,
                                     struct dqlite_server_info **servers,
                                     unsigned *n)
{
    struct proto_request req;
    int rv;
    if (client == NULL || servers == NULL || n == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    protoRequestInit(&req, PROTO_REQ_CLUSTER);
    req.cluster.format = 1;
    rv = clientClusterCall(client, &req, PROTO_RESP_SERVERS);
    if (rv == 0) {
        rv = clientServersCopy(&client->sock.resp.servers, servers, n);
    }
    return clientErrPublic(rv);
}

DQLITE_API int dqlite_client_add(struct dqlite_client *client, uint64_t id,
                                 const char *address, int role)
{
    struct proto_request req;
    int rv;
    if (client == NULL || address == NULL || role < DQLITE_VOTER ||
        role > DQLITE_SPARE) {
        return DQLITE_CLIENT_MISUSE;
    }
    protoRequestInit(&req, PROTO_REQ_ADD);
    req.add.id = id;
    req.add.address = protoText(address);
    rv = clientClusterCall(client, &req, PROTO_RESP_EMPTY);
    if (rv != 0 || role == DQLITE_SPARE) {
        return clientErrPublic(rv);
    }
    return dqlite_client_assign(client, id, role);
}

DQLITE_API int dqlite_client_assign(struct dqlite_client *client, uint64_t id,
                                    int role)
{
    struct proto_request req;
    if (client == NULL || role < DQLITE_VOTER || role > DQLITE_SPARE) {
        return DQLITE_CLIENT_MISUSE;
    }
    protoRequestInit(&req, PROTO_REQ_ASSIGN);
    req.assign.id = id;
    req.assign.has_role = true;
    req.assign.role = (uint64_t)role;
    return clientErrPublic(clientClusterCall(client, &req, PROTO_RESP_EMPTY));
}

DQLITE_API int dqlite_client_remove(struct dqlite_client *client, uint64_t id)
{
    return clusterSimple(client, PROTO_REQ_REMOVE, id);
}

DQLITE_API int dqlite_client_transfer(struct dqlite_client *client, uint64_t id)
{
    return clusterSimple(client, PROTO_REQ_TRANSFER, id);
}

DQLITE_API int dqlite_client_weight(struct dqlite_client *client,
                                    uint64_t weight)
{
    return clusterSimple(client, PROTO_REQ_WEIGHT, weight);
}

DQLITE_API int dqlite_client_describe(struct dqlite_client *client,
                                      uint64_t *failure_domain,
                                      uint64_t *weight)
{
    struct proto_request req;
    int rv;
    if (client == NULL || failure_domain == NULL || weight == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    protoRequestInit(&req, PROTO_REQ_DESCRIBE);
    req.describe.format = 0;
    rv = clientClusterCall(client, &req, PROTO_RESP_METADATA);
    if (rv == 0) {
        *failure_domain = client->sock.resp.metadata.failure_domain;
        *weight = client->sock.resp.metadata.weight;
    }
    return clientErrPublic(rv);
}

DQLITE_API int dqlite_driver_join(struct dqlite_driver *driver, uint64_t id,
                                  const char *address, int role)
{
    struct dqlite_client *cl;
    int rv = dqlite_client_connect_leader(driver, &cl);
    if (rv == 0) {
        rv = dqlite_client_add(cl, id, address, role);
    }
    if (rv != 0 && cl != NULL) {
        clientLog(driver, DQLITE_CLIENT_LOG_WARN, "join %s: %s", address,
                  cl->err.msg);
    }
    dqlite_client_close(cl);
    return rv;
}

DQLITE_API int dqlite_driver_leave(struct dqlite_driver *driver, uint64_t id)
{
    struct dqlite_client *cl;
    int rv = dqlite_client_connect_leader(driver, &cl);
    if (rv == 0) {
        rv = dqlite_client_remove(cl, id);
    }
    if (rv != 0 && cl != NULL) {
        clientLog(driver, DQLITE_CLIENT_LOG_WARN, "leave %llu: %s",
                  (unsigned long long)id, cl->err.msg);
    }
    dqlite_client_close(cl);
    return rv;
}
