/* rqlite's HTTP/JSON API on a dqlite node (docs/http-api.md): the routes
 * and their handlers. Each /db/ handler checks the caller's permission
 * (rqlite_auth.c), decodes the request (rqlite_request.c), runs it on a
 * pooled client connection (rqlite_exec.c) and answers in rqlite's shapes
 * (rqlite_response.c). /status, /nodes and /readyz ask the node through a
 * cluster client (dqlite_client_*) per request.
 *
 * Threads: handlers run on libmicrohttpd's threads, any number at once;
 * everything here is read-only after httpRqliteCreate except the pool,
 * which has its own lock. */
#include <dqlite.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/rqlite.h"
#include "http/rqlite_internal.h"
#include "lib/alloc.h"
#include "lib/assert.h"

struct http_rqlite {
    uint64_t node_id;
    char *node_address;
    char *http_address;
    struct rq_auth *auth; /* NULL: no auth */
    struct rq_pool pool;
    time_t start_time;
};

int httpRqliteCreate(struct http_rqlite **out,
                     const struct http_rqlite_config *config, char *errmsg,
                     size_t errmsg_len)
{
    PRE(out != NULL && config != NULL && config->node_address != NULL);
    struct http_rqlite *api = libCalloc(1, sizeof *api);
    int rv = -ENOMEM;
    *out = NULL;
    if (api == NULL) {
        goto err;
    }
    api->node_id = config->node_id;
    api->start_time = time(NULL);
    api->node_address = libStrdup(config->node_address);
    api->http_address =
        libStrdup(config->http_address != NULL ? config->http_address : "");
    if (api->node_address == NULL || api->http_address == NULL) {
        goto err_after_api;
    }
    if (config->auth_file != NULL) {
        rv = rqAuthLoad(&api->auth, config->auth_file, errmsg, errmsg_len);
        if (rv != 0) {
            goto err_after_api;
        }
    }
    rv = rqPoolInit(&api->pool, config, errmsg, errmsg_len);
    if (rv != 0) {
        goto err_after_auth;
    }
    *out = api;
    return 0;
err_after_auth:
    rqAuthFree(api->auth);
err_after_api:
    libFree(api->http_address);
    libFree(api->node_address);
    libFree(api);
err:
    if (rv == -ENOMEM) {
        snprintf(errmsg, errmsg_len, "out of memory");
    }
    return rv;
}

void httpRqliteDestroy(struct http_rqlite *api)
{
    if (api == NULL) {
        return;
    }
    rqPoolClose(&api->pool);
    rqAuthFree(api->auth);
    libFree(api->http_address);
    libFree(api->node_address);
    libFree(api);
}

/* ------------------------------------------------------------ auth */

static bool allowed(struct http_rqlite *api, const struct http_request *req,
                    unsigned perm, struct http_response *res)
{
    if (rqAuthAllowed(api->auth, req->header(req, "Authorization"), perm)) {
        return true;
    }
    rqRespondText(res, 401, "unauthorized");
    res->www_authenticate = strdup("Basic realm=\"rqlite\"");
    return false;
}

/* ------------------------------------------------------------ /db/ */

static void serveDb(struct http_rqlite *api, enum rq_kind kind,
                    const struct http_request *req, struct http_response *res)
{
    struct rq_request r;
    char err[256];
    unsigned need = kind == RQ_EXECUTE ? RQ_PERM_EXECUTE : RQ_PERM_QUERY;
    if (kind != RQ_REQUEST && !allowed(api, req, need, res)) {
        return;
    }
    int status = rqRequestDecode(&r, kind, req, err, sizeof err);
    if (status != 0) {
        rqRespondText(res, status, err);
        goto out;
    }
    if (kind == RQ_REQUEST) {
        need = 0;
        for (unsigned i = 0; i < r.n; i++) {
            need |= r.stmts[i].read ? RQ_PERM_QUERY : RQ_PERM_EXECUTE;
        }
        if (!allowed(api, req, need != 0 ? need : RQ_PERM_QUERY, res)) {
            goto out;
        }
    }
    /* A reader without the execute permission must not write through a
     * statement that only looks like a read (WITH ... INSERT); nor may
     * /db/query, which rqlite keeps read-only. */
    r.sandbox = kind != RQ_EXECUTE && api->auth != NULL &&
                !rqAuthAllowed(api->auth, req->header(req, "Authorization"),
                               RQ_PERM_EXECUTE);
    for (unsigned i = 0; kind == RQ_QUERY && i < r.n; i++) {
        r.sandbox |= r.stmts[i].read && r.stmts[i].dml; /* WITH ... */
    }
    rqExecute(&api->pool, &r, res);
out:
    rqRequestFree(&r);
}

static void handleExecute(void *data, const struct http_request *req,
                          struct http_response *res)
{
    serveDb(data, RQ_EXECUTE, req, res);
}

static void handleQuery(void *data, const struct http_request *req,
                        struct http_response *res)
{
    serveDb(data, RQ_QUERY, req, res);
}

static void handleRequest(void *data, const struct http_request *req,
                          struct http_response *res)
{
    serveDb(data, RQ_REQUEST, req, res);
}

/* The database named by ?db= (default RQ_DB_DEFAULT); NULL: too long. */
static const char *dbArg(const struct http_request *req)
{
    const char *db = req->arg(req, "db");
    if (db == NULL || db[0] == '\0') {
        return RQ_DB_DEFAULT;
    }
    return strlen(db) <= RQ_DB_NAME_MAX ? db : NULL;
}

static void handleBackup(void *data, const struct http_request *req,
                         struct http_response *res)
{
    struct http_rqlite *api = data;
    const char *fmt = req->arg(req, "fmt");
    if (!allowed(api, req, RQ_PERM_BACKUP, res)) {
        return;
    }
    if (dbArg(req) == NULL) {
        rqRespondText(res, 400, "database name too long");
    } else if (fmt == NULL || strcmp(fmt, "sql") != 0) {
        rqBackupFile(&api->pool, dbArg(req), res);
    } else {
        rqBackupSql(&api->pool, dbArg(req), res);
    }
}

static void handleLoad(void *data, const struct http_request *req,
                       struct http_response *res)
{
    struct http_rqlite *api = data;
    if (!allowed(api, req, RQ_PERM_LOAD, res)) {
        return;
    }
    if (dbArg(req) == NULL) {
        rqRespondText(res, 400, "database name too long");
        return;
    }
    rqLoad(&api->pool, dbArg(req), req, res);
}

/* ------------------------------------------------------------ cluster */

/* What this node knows of the cluster: its leader and its members. */
struct view {
    bool reached; /* this node answered */
    uint64_t leader_id;
    char *leader_address;
    struct dqlite_server_info *servers;
    unsigned n;
};

static void viewLoad(struct http_rqlite *api, struct view *v)
{
    struct dqlite_client *cl = NULL;
    memset(v, 0, sizeof *v);
    if (dqlite_client_connect(api->pool.driver, api->node_address, &cl) ==
        DQLITE_CLIENT_OK) {
        v->reached =
            dqlite_client_leader(cl, &v->leader_id, &v->leader_address) ==
            DQLITE_CLIENT_OK;
        if (v->reached) {
            dqlite_client_cluster(cl, &v->servers, &v->n);
        }
    }
    dqlite_client_close(cl);
}

static void viewFree(struct view *v)
{
    dqlite_client_free(v->leader_address);
    dqlite_server_info_free(v->servers, v->n);
}

/* Whether node `address` answers a handshake, and how long it took. */
static bool probe(struct http_rqlite *api, const char *address, double *secs)
{
    struct timespec t0;
    struct timespec t1;
    struct dqlite_client *cl = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool ok = dqlite_client_connect(api->pool.driver, address, &cl) ==
              DQLITE_CLIENT_OK;
    dqlite_client_close(cl);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *secs = (double)(t1.tv_sec - t0.tv_sec) +
            (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return ok;
}

static json_t *nodeJson(struct http_rqlite *api, const struct view *v,
                        const struct dqlite_server_info *s)
{
    char id[24];
    double secs = 0;
    snprintf(id, sizeof id, "%llu", (unsigned long long)s->id);
    bool self = s->id == api->node_id;
    bool reachable = self ? v->reached : probe(api, s->address, &secs);
    char api_addr[300] = "";
    if (self && api->http_address[0] != '\0') {
        snprintf(api_addr, sizeof api_addr, "http://%s", api->http_address);
    }
    return json_pack("{s:s,s:s,s:s,s:b,s:b,s:b,s:f}", "id", id, "api_addr",
                     api_addr, "addr", s->address, "voter",
                     s->role == DQLITE_VOTER, "reachable", reachable, "leader",
                     s->id == v->leader_id, "time", secs);
}

static void handleNodes(void *data, const struct http_request *req,
                        struct http_response *res)
{
    struct http_rqlite *api = data;
    struct view v;
    if (!allowed(api, req, RQ_PERM_STATUS, res)) {
        return;
    }
    viewLoad(api, &v);
    if (!v.reached) {
        viewFree(&v);
        rqRespondText(res, 503, "this node does not answer");
        return;
    }
    const char *ver = req->arg(req, "ver");
    bool v2 = ver != NULL && strcmp(ver, "2") == 0;
    bool nonvoters = rqArgFlag(req, "nonvoters");
    json_t *out = v2 ? json_array() : json_object();
    for (unsigned i = 0; out != NULL && i < v.n; i++) {
        if (v.servers[i].role != DQLITE_VOTER && !nonvoters) {
            continue;
        }
        json_t *n = nodeJson(api, &v, &v.servers[i]);
        if (v2) {
            json_array_append_new(out, n);
        } else {
            json_object_set_new(out,
                                json_string_value(json_object_get(n, "id")), n);
        }
    }
    viewFree(&v);
    if (v2 && out != NULL) {
        out = json_pack("{s:o}", "nodes", out);
    }
    rqRespondJson(res, 200, out, rqArgFlag(req, "pretty"));
}

static void handleReadyz(void *data, const struct http_request *req,
                         struct http_response *res)
{
    struct http_rqlite *api = data;
    struct view v;
    if (!allowed(api, req, RQ_PERM_READY, res)) {
        return;
    }
    viewLoad(api, &v);
    bool need_leader = !rqArgFlag(req, "noleader");
    if (!v.reached) {
        rqRespondText(res, 503, "[+]node not ok\n");
    } else if (need_leader && v.leader_id == 0) {
        rqRespondText(res, 503, "[+]node ok\n[+]leader not ok\n");
    } else {
        rqRespondText(res, 200,
                      need_leader ? "[+]node ok\n[+]leader ok\n[+]store ok\n"
                                  : "[+]node ok\n");
    }
    viewFree(&v);
}

static json_t *statusStore(struct http_rqlite *api, const struct view *v)
{
    json_t *nodes = json_array();
    for (unsigned i = 0; nodes != NULL && i < v->n; i++) {
        json_array_append_new(nodes,
                              json_pack("{s:I,s:s,s:b}", "id",
                                        (json_int_t)v->servers[i].id, "addr",
                                        v->servers[i].address, "voter",
                                        v->servers[i].role == DQLITE_VOTER));
    }
    const char *state = !v->reached                    ? "Unreachable"
                        : v->leader_id == api->node_id ? "Leader"
                        : v->leader_id == 0            ? "Candidate"
                                                       : "Follower";
    return json_pack(
        "{s:s,s:s,s:{s:I,s:s},s:{s:s},s:o}", "node_id", "", "addr",
        api->node_address, "leader", "node_id", (json_int_t)v->leader_id,
        "addr", v->leader_address != NULL ? v->leader_address : "", "raft",
        "state", state, "nodes", nodes != NULL ? nodes : json_array());
}

static void handleStatus(void *data, const struct http_request *req,
                         struct http_response *res)
{
    struct http_rqlite *api = data;
    struct view v;
    char id[24];
    char version[32];
    if (!allowed(api, req, RQ_PERM_STATUS, res)) {
        return;
    }
    viewLoad(api, &v);
    json_t *store = statusStore(api, &v);
    viewFree(&v);
    snprintf(id, sizeof id, "%llu", (unsigned long long)api->node_id);
    snprintf(version, sizeof version, "dqlite-c %d.%d.%d", DQLITE_VERSION_MAJOR,
             DQLITE_VERSION_MINOR, DQLITE_VERSION_RELEASE);
    if (store != NULL) {
        json_object_set_new(store, "node_id", json_string(id));
    }
    json_t *out =
        json_pack("{s:{s:s},s:{s:s,s:s},s:{s:I,s:I},s:o}", "build", "version",
                  version, "http", "bind_addr", api->http_address, "auth",
                  api->auth != NULL ? "enabled" : "disabled", "node",
                  "start_time", (json_int_t)api->start_time, "uptime",
                  (json_int_t)(time(NULL) - api->start_time), "store",
                  store != NULL ? store : json_object());
    rqRespondJson(res, 200, out, rqArgFlag(req, "pretty"));
}

/* ------------------------------------------------------------ routes */

unsigned httpRqliteRoutes(struct http_rqlite *api, struct http_route *routes,
                          unsigned max)
{
    const struct http_route all[] = {
        {"/db/execute", false, HTTP_POST, RQ_BODY_MAX, handleExecute, api,
         false},
        {"/db/query", false, HTTP_GET | HTTP_POST, RQ_BODY_MAX, handleQuery,
         api, false},
        {"/db/request", false, HTTP_POST, RQ_BODY_MAX, handleRequest, api,
         false},
        {"/db/backup", false, HTTP_GET, 0, handleBackup, api, false},
        {"/db/load", false, HTTP_POST, RQ_LOAD_BODY_MAX, handleLoad, api, true},
        {"/status", false, HTTP_GET, 0, handleStatus, api, false},
        {"/nodes", false, HTTP_GET, 0, handleNodes, api, false},
        {"/readyz", false, HTTP_GET, 0, handleReadyz, api, false},
    };
    unsigned n = sizeof all / sizeof all[0];
    if (n > max) {
        n = max;
    }
    memcpy(routes, all, n * sizeof all[0]);
    return n;
}
