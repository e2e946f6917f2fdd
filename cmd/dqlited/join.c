/*
 * Joining a cluster with the C client: find the leader through the --join
 * addresses, and unless this node is already in the configuration, ADD it
 * then ASSIGN its role (dqlite_client_add does both). Retried until the
 * join timeout, because the other nodes may still be starting or electing.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dqlite.h>
#include <dqlite_client.h>

#include "dqlited.h"

#define JOIN_RETRY_MS 500
#define JOIN_CONNECT_TIMEOUT_MS 3000

static const char *const role_names[] = {"voter", "standby", "spare"};

static void joinLog(void *arg, int level, const char *message)
{
    (void)arg;
    logMsg(level <= DQLITE_CLIENT_LOG_DEBUG ? LOG_DEBUG : LOG_INFO,
           "client: %s", message);
}

/* Fills the store with the comma-separated addresses. */
static int joinFillStore(struct dqlite_server_store *store, const char *list)
{
    char *copy = strdup(list);
    char *save = NULL;
    int rv = 0;
    if (copy == NULL) {
        return -1;
    }
    for (char *a = strtok_r(copy, ",", &save); a != NULL && rv == 0;
         a = strtok_r(NULL, ",", &save)) {
        rv = dqlite_server_store_add(store, 0, a, DQLITE_VOTER);
    }
    free(copy);
    return rv;
}

/* The role of node `id` in the leader's configuration, or -1 if absent. */
static int joinFindRole(struct dqlite_client *cli, uint64_t id, int *role)
{
    struct dqlite_server_info *servers = NULL;
    unsigned n = 0;
    int rv = dqlite_client_cluster(cli, &servers, &n);
    *role = -1;
    for (unsigned i = 0; rv == 0 && i < n; i++) {
        if (servers[i].id == id) {
            *role = servers[i].role;
        }
    }
    dqlite_server_info_free(servers, n);
    return rv;
}

/* One attempt: 0 when the node is a member with its role, else non-zero
 * with the reason logged. *added records an ADD done by an earlier
 * attempt, whose ASSIGN is still owed. */
static int joinAttempt(struct dqlite_driver *driver, const struct config *cfg,
                       bool *added)
{
    struct dqlite_client *cli = NULL;
    int role = -1;
    int rv = dqlite_client_connect_leader(driver, &cli);
    if (rv == 0) {
        rv = joinFindRole(cli, cfg->id, &role);
    }
    if (rv == 0 && role < 0) {
        rv = dqlite_client_add(cli, cfg->id, cfg->address, cfg->role);
        *added = *added || rv == 0;
        role = rv == 0 ? cfg->role : -1;
    } else if (rv == 0 && role != cfg->role && *added) {
        rv = dqlite_client_assign(cli, cfg->id, cfg->role);
        role = rv == 0 ? cfg->role : role;
    } else if (rv == 0 && !*added) {
        logMsg(LOG_INFO, "node %" PRIu64 " is already a member (%s)", cfg->id,
               role_names[role]);
    }
    if (rv != 0) {
        logMsg(LOG_WARN, "join: %s", dqlite_client_errmsg(cli));
    }
    dqlite_client_close(cli);
    return rv;
}

static int64_t nowMs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int joinLoop(struct dqlite_driver *driver, const struct config *cfg,
                    bool *stop)
{
    int64_t deadline = nowMs() + (int64_t)cfg->join_timeout_s * 1000;
    bool added = false;
    while (joinAttempt(driver, cfg, &added) != 0) {
        if (cfg->join_timeout_s != 0 && nowMs() >= deadline) {
            logMsg(LOG_ERROR,
                   "could not join the cluster through %s within "
                   "%u s",
                   cfg->join, cfg->join_timeout_s);
            return DQLITED_EXIT_JOIN;
        }
        if (signalWait(JOIN_RETRY_MS) != 0) {
            *stop = true;
            return 1;
        }
    }
    logMsg(LOG_INFO, "node %" PRIu64 " is a member of the cluster (%s)",
           cfg->id, role_names[cfg->role]);
    return 0;
}

int joinCluster(const struct config *cfg, bool *stop)
{
    struct dqlite_server_store *store = NULL;
    struct dqlite_driver *driver = NULL;
    struct dqlite_driver_options options;
    int rv = DQLITED_EXIT_JOIN;

    dqlite_driver_options_init(&options);
    options.connect_timeout_ms = JOIN_CONNECT_TIMEOUT_MS;
    options.log = joinLog;
    options.log_level = DQLITE_CLIENT_LOG_DEBUG;
    if (cfg->tls_cert != NULL) {
        /* TLS with the node's own certificate (a node's identity), the
         * cluster's CA verifying the member dialled as peers verify each
         * other (the chain, no name). */
        options.tls = true;
        options.tls_cert_file = cfg->tls_cert;
        options.tls_key_file = cfg->tls_key;
        options.tls_ca_file = cfg->tls_ca;
        options.tls_verify = DQLITE_CLIENT_TLS_VERIFY_CHAIN;
        options.tls_min_version = (cfg->tls_flags & DQLITE_TLS_ALLOW_TLS12)
                                      ? DQLITE_CLIENT_TLS_1_2
                                      : DQLITE_CLIENT_TLS_1_3;
    }
    if (dqlite_server_store_create(&store) != 0 ||
        joinFillStore(store, cfg->join) != 0 ||
        dqlite_driver_create(store, &options, &driver) != 0) {
        logMsg(LOG_ERROR, "join: cannot set up the client (out of memory?)");
        goto out;
    }
    logMsg(LOG_INFO, "joining the cluster through %s as %s", cfg->join,
           role_names[cfg->role]);
    rv = joinLoop(driver, cfg, stop);
out:
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
    return rv;
}
