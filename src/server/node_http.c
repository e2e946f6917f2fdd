/*
 * The node's HTTP listener (docs/operations.md): dqlite_node_set_http_address,
 * the route table (/metrics, /healthz, /readyz, then rqlite's data API
 * from src/http/rqlite.h), started after the node's loop serves and
 * stopped before it stops.
 *
 * The handlers run on the listener's threads: they read only the metrics
 * snapshot the loop publishes (metrics.h), never the loop's state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"
#include "http/rqlite.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "server/metrics.h"
#include "server/node.h"
#include "server/tls.h"

/* Routes of ours plus those of the rqlite API. */
#define NODE_HTTP_MAX_ROUTES 32

int dqlite_node_set_http_address(dqlite_node *n, const char *address)
{
    if (n == NULL || address == NULL) {
        return DQLITE_MISUSE;
    }
    if (n->state != NODE_CREATED) {
        nodeErrorf(n, "node already started");
        return DQLITE_MISUSE;
    }
    if (strlen(address) >= ADDR_MAX_LEN || strchr(address, ':') == NULL) {
        nodeErrorf(n, "bad HTTP address \"%s\" (want host:port)", address);
        return DQLITE_MISUSE;
    }
    char *copy = libStrdup(address);
    if (copy == NULL) {
        return DQLITE_NOMEM;
    }
    libFree(n->http_address);
    n->http_address = copy;
    return 0;
}

int dqlite_node_set_http_auth(dqlite_node *n, const char *path)
{
    if (n == NULL || path == NULL || path[0] == '\0') {
        return DQLITE_MISUSE;
    }
    if (n->state != NODE_CREATED) {
        nodeErrorf(n, "node already started");
        return DQLITE_MISUSE;
    }
    /* Read at start (httpRqliteCreate): a bad file fails the start. */
    char *copy = libStrdup(path);
    if (copy == NULL) {
        return DQLITE_NOMEM;
    }
    libFree(n->http_auth_file);
    n->http_auth_file = copy;
    return 0;
}

const char *dqlite_node_get_http_address(dqlite_node *n)
{
    if (n == NULL || n->http == NULL) {
        return NULL;
    }
    return httpServerAddress(n->http);
}

static uint64_t nowMs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void onMetrics(void *data, const struct http_request *req,
                      struct http_response *res)
{
    struct dqlite_node *n = data;
    struct metrics_snapshot *s = malloc(sizeof *s);
    (void)req;
    if (s == NULL) {
        httpRespond(res, 500, NULL, "out of memory\n");
        return;
    }
    metricsRead(&n->metrics, s);
    res->body = metricsFormat(s, &res->body_len);
    free(s);
    if (res->body == NULL) {
        httpRespond(res, 500, NULL, "out of memory\n");
        return;
    }
    res->status = 200;
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* /healthz: the process serves and its loop runs. */
static void onHealthz(void *data, const struct http_request *req,
                      struct http_response *res)
{
    struct dqlite_node *n = data;
    struct metrics_snapshot s;
    (void)req;
    metricsRead(&n->metrics, &s);
    if (s.published_ms == 0 || nowMs() > s.published_ms + METRICS_STALE_MS) {
        httpRespond(res, 503, NULL, "the node's loop is not running\n");
        return;
    }
    httpRespond(res, 200, NULL, "ok\n");
}

/* /readyz[?max_lag=N]: a member with a known leader, caught up. */
static void onReadyz(void *data, const struct http_request *req,
                     struct http_response *res)
{
    struct dqlite_node *n = data;
    struct metrics_snapshot s;
    uint64_t max_lag = METRICS_READY_MAX_LAG;
    const char *arg = req->arg(req, "max_lag");
    char text[256];
    if (arg != NULL) {
        char *end = NULL;
        max_lag = strtoull(arg, &end, 10);
        if (*arg == '\0' || *end != '\0' || *arg == '-') {
            httpRespond(res, 400, NULL, "max_lag: want a number of entries\n");
            return;
        }
    }
    metricsRead(&n->metrics, &s);
    const char *why = metricsNotReady(&s, nowMs(), max_lag);
    if (why != NULL) {
        snprintf(text, sizeof text, "not ready: %s\n", why);
        httpRespond(res, 503, NULL, text);
        return;
    }
    snprintf(text, sizeof text, "ready: %s, leader %llu, applied %llu\n",
             metricsStateName(s.state), (unsigned long long)s.leader_id,
             (unsigned long long)s.applied_index);
    httpRespond(res, 200, NULL, text);
}

static unsigned nodeHttpRoutes(struct dqlite_node *n, struct http_route *routes)
{
    unsigned i = 0;
    /* Ours come first: the first route matching a path answers it. */
    routes[i++] = (struct http_route){
        .path = "/metrics", .methods = HTTP_GET, .fn = onMetrics, .data = n};
    routes[i++] = (struct http_route){
        .path = "/healthz", .methods = HTTP_GET, .fn = onHealthz, .data = n};
    routes[i++] = (struct http_route){
        .path = "/readyz", .methods = HTTP_GET, .fn = onReadyz, .data = n};
    if (n->rqlite != NULL) {
        i += httpRqliteRoutes(n->rqlite, routes + i, NODE_HTTP_MAX_ROUTES - i);
    }
    ASSERT(i <= NODE_HTTP_MAX_ROUTES);
    return i;
}

static int nodeHttpRqlite(struct dqlite_node *n, const struct http_tls *tls,
                          const char *http_address)
{
    struct http_rqlite_config c = {
        .node_id = n->id,
        .node_address = n->address,
        .http_address = http_address,
        .tls_cert_file = tls->cert_file,
        .tls_key_file = tls->key_file,
        .tls_ca_file = tls->ca_file,
        .auth_file = n->http_auth_file,
    };
    char errmsg[NODE_ERRMSG_LEN];
    if (httpRqliteCreate(&n->rqlite, &c, errmsg, sizeof errmsg) != 0) {
        nodeErrorf(n, "HTTP API: %s", errmsg);
        return DQLITE_ERROR;
    }
    return 0;
}

/* Port 0 ("any"): the rqlite API must be told the port the system picks,
 * so a first listener without routes learns it, and the real one binds
 * that port again. */
static int nodeHttpResolvePort(struct dqlite_node *n,
                               const struct http_config *config, char *bound,
                               size_t len)
{
    struct http_server *probe = NULL;
    char errmsg[NODE_ERRMSG_LEN];
    const char *colon = strrchr(n->http_address, ':');
    snprintf(bound, len, "%s", n->http_address);
    if (colon == NULL || strcmp(colon, ":0") != 0) {
        return 0;
    }
    if (httpServerStart(&probe, config, NULL, 0, errmsg, sizeof errmsg) != 0) {
        nodeErrorf(n, "HTTP: %s", errmsg);
        return DQLITE_ERROR;
    }
    snprintf(bound, len, "%s", httpServerAddress(probe));
    httpServerStop(probe);
    return 0;
}

int nodeHttpStart(struct dqlite_node *n)
{
    struct http_route routes[NODE_HTTP_MAX_ROUTES];
    struct http_tls tls = {0};
    struct http_config config = {.address = n->http_address};
    char errmsg[NODE_ERRMSG_LEN];
    char bound[ADDR_MAX_LEN];
    if (n->http_address == NULL) {
        return 0;
    }
    if (tlsEnabled(n)) {
        tlsPaths(n, &tls.cert_file, &tls.key_file, &tls.ca_file,
                 &tls.verify_clients);
        config.tls = &tls;
    }
    if (nodeHttpResolvePort(n, &config, bound, sizeof bound) != 0 ||
        nodeHttpRqlite(n, &tls, bound) != 0) {
        nodeHttpStop(n);
        return DQLITE_ERROR;
    }
    config.address = bound;
    if (httpServerStart(&n->http, &config, routes, nodeHttpRoutes(n, routes),
                        errmsg, sizeof errmsg) != 0) {
        nodeErrorf(n, "HTTP: %s", errmsg);
        nodeHttpStop(n);
        return DQLITE_ERROR;
    }
    nodeLogf(n, DQLITE_LOG_INFO,
             "serving HTTP on %s%s (/metrics, /healthz, /readyz)",
             httpServerAddress(n->http), tls.cert_file ? " with TLS" : "");
    return 0;
}

/* After dqlite_node_reload_tls loaded the node's files again: the
 * listener is started again on the address it has, with the same routes,
 * so new HTTPS connections use the new certificate (libmicrohttpd takes
 * its certificate only when a daemon starts). Requests in progress finish
 * first; connections made during the swap are refused. The rqlite API
 * keeps its client connections. */
int nodeHttpReloadTls(struct dqlite_node *n)
{
    struct http_route routes[NODE_HTTP_MAX_ROUTES];
    struct http_tls tls = {0};
    char errmsg[NODE_ERRMSG_LEN];
    char bound[ADDR_MAX_LEN];
    if (n->http == NULL || !tlsEnabled(n)) {
        return 0;
    }
    snprintf(bound, sizeof bound, "%s", httpServerAddress(n->http));
    tlsPaths(n, &tls.cert_file, &tls.key_file, &tls.ca_file,
             &tls.verify_clients);
    struct http_config config = {.address = bound, .tls = &tls};
    httpServerStop(n->http);
    n->http = NULL;
    if (httpServerStart(&n->http, &config, routes, nodeHttpRoutes(n, routes),
                        errmsg, sizeof errmsg) != 0) {
        n->http = NULL;
        nodeLogf(n, DQLITE_LOG_ERROR,
                 "HTTP: the listener on %s could not start again with the "
                 "reloaded certificate: %s; HTTP is off until a reload works",
                 bound, errmsg);
        return DQLITE_ERROR;
    }
    nodeLogf(n, DQLITE_LOG_INFO,
             "HTTP: the listener on %s serves with the reloaded certificate",
             bound);
    return 0;
}

void nodeHttpStop(struct dqlite_node *n)
{
    httpServerStop(n->http);
    n->http = NULL;
    httpRqliteDestroy(n->rqlite);
    n->rqlite = NULL;
}
