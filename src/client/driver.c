/*
 * The driver: a server store plus options, shared by every connection made
 * from it. It is immutable after creation (the store has its own lock;
 * the readers' round-robin counter is atomic), so
 * any number of threads may connect through one driver at once. Also owns
 * logging and the refresh of the store from the leader's CLUSTER answer.
 */
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

DQLITE_API void
dqlite_driver_options_init(struct dqlite_driver_options *options)
{
    if (options == NULL) {
        return;
    }
    memset(options, 0, sizeof *options);
    options->backoff_factor_ms = DQLITE_CLIENT_DEFAULT_BACKOFF_FACTOR_MS;
    options->backoff_cap_ms = DQLITE_CLIENT_DEFAULT_BACKOFF_CAP_MS;
    options->connect_timeout_ms = DQLITE_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS;
    options->call_timeout_ms = DQLITE_CLIENT_DEFAULT_CALL_TIMEOUT_MS;
    options->dial_timeout_ms = DQLITE_CLIENT_DEFAULT_DIAL_TIMEOUT_MS;
    options->attempt_timeout_ms = DQLITE_CLIENT_DEFAULT_ATTEMPT_TIMEOUT_MS;
    options->log_level = DQLITE_CLIENT_LOG_DEBUG;
}

/* Replaces zeros by the defaults. */
static void driverDefaults(struct dqlite_driver_options *o)
{
    struct dqlite_driver_options d;
    dqlite_driver_options_init(&d);
    o->backoff_factor_ms = o->backoff_factor_ms ?: d.backoff_factor_ms;
    o->backoff_cap_ms = o->backoff_cap_ms ?: d.backoff_cap_ms;
    o->connect_timeout_ms = o->connect_timeout_ms ?: d.connect_timeout_ms;
    o->call_timeout_ms = o->call_timeout_ms ?: d.call_timeout_ms;
    o->dial_timeout_ms = o->dial_timeout_ms ?: d.dial_timeout_ms;
    o->attempt_timeout_ms = o->attempt_timeout_ms ?: d.attempt_timeout_ms;
    if (o->dial == NULL) {
        o->dial = clientDialDefault;
        o->dial_arg = NULL;
    }
}

/* Loads the TLS files; the reason of a failure goes to the log. The
 * option strings are the caller's: they are not kept. */
static int driverTls(struct dqlite_driver *d)
{
    char msg[CLIENT_ERRMSG_SIZE];
    int rv = clientTlsCreate(&d->opts, &d->tls, msg, sizeof msg);
    d->opts.tls_cert_file = NULL;
    d->opts.tls_key_file = NULL;
    d->opts.tls_ca_file = NULL;
    d->opts.tls_server_name = NULL;
    if (rv != 0) {
        clientLog(d, DQLITE_CLIENT_LOG_ERROR, "%s", msg);
    }
    return rv;
}

/* Copies a read level (direct_read_level, follower_read_level): "linearizable",
 * "any" or "bounded:N" (the node checks N's range); the string is not kept. */
static int driverLevel(struct dqlite_driver *d, const char **option, char *out,
                       size_t size)
{
    const char *level = *option;
    *option = NULL;
    if (level == NULL) {
        return 0;
    }
    size_t digits = strncmp(level, "bounded:", 8) == 0
                        ? strspn(level + 8, "0123456789")
                        : 0;
    bool ok = strcmp(level, "linearizable") == 0 || strcmp(level, "any") == 0 ||
              (digits > 0 && digits < 8 && level[8 + digits] == '\0');
    if (!ok) {
        clientLog(d, DQLITE_CLIENT_LOG_ERROR,
                  "read level: expected linearizable, any or bounded:N");
        return -1;
    }
    snprintf(out, size, "%s", level);
    return 0;
}

static int driverReadLevel(struct dqlite_driver *d)
{
    int rv = driverLevel(d, &d->opts.direct_read_level, d->read_level,
                         sizeof d->read_level);
    return rv != 0 ? rv
                   : driverLevel(d, &d->opts.follower_read_level,
                                 d->spread_level, sizeof d->spread_level);
}

DQLITE_API int dqlite_driver_create(struct dqlite_server_store *store,
                                    const struct dqlite_driver_options *options,
                                    struct dqlite_driver **driver)
{
    struct dqlite_driver *d;
    if (store == NULL || driver == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    d = libCalloc(1, sizeof *d);
    if (d == NULL) {
        return DQLITE_CLIENT_NOMEM;
    }
    d->store = store;
    if (options != NULL) {
        d->opts = *options;
    } else {
        dqlite_driver_options_init(&d->opts);
    }
    driverDefaults(&d->opts);
    if (driverReadLevel(d) != 0) {
        libFree(d);
        return DQLITE_CLIENT_MISUSE;
    }
    if (d->opts.tls && driverTls(d) != 0) {
        libFree(d);
        return DQLITE_CLIENT_TLS;
    }
    *driver = d;
    return 0;
}

DQLITE_API void dqlite_driver_destroy(struct dqlite_driver *driver)
{
    if (driver == NULL) {
        return;
    }
    clientTlsDestroy(driver->tls);
    libFree(driver);
}

void clientLog(const struct dqlite_driver *d, int level, const char *fmt, ...)
{
    char msg[CLIENT_ERRMSG_SIZE];
    va_list args;
    if (d->opts.log == NULL || level < d->opts.log_level) {
        return;
    }
    va_start(args, fmt);
    vsnprintf(msg, sizeof msg, fmt, args);
    va_end(args);
    d->opts.log(d->opts.log_arg, level, msg);
}

/* Copies a decoded SERVERS answer into an array the caller owns. */
static int driverServers(const struct proto_servers *servers,
                         struct dqlite_server_info **out, unsigned *n)
{
    struct proto_servers_iter it;
    struct proto_node node;
    struct dqlite_server_info *list;
    unsigned i = 0;
    if (servers->count > CLIENT_STORE_MAX) {
        return ERR_TOOBIG;
    }
    list = libCalloc(servers->count > 0 ? servers->count : 1, sizeof *list);
    if (list == NULL) {
        return ERR_NOMEM;
    }
    protoServersIterInit(&it, servers);
    while (protoServersIterNext(&it, &node)) {
        ASSERT(i < servers->count);
        list[i].id = node.id;
        list[i].role = (int)node.role;
        list[i].address = libStrdup(node.address.data);
        if (list[i].address == NULL) {
            clientInfosFree(list, i);
            return ERR_NOMEM;
        }
        i++;
    }
    *out = list;
    *n = i;
    return 0;
}

int clientServersCopy(const struct proto_servers *servers,
                      struct dqlite_server_info **out, unsigned *n)
{
    return driverServers(servers, out, n);
}

void clientRefreshStore(struct dqlite_driver *d, struct client_sock *s,
                        int64_t deadline_ms)
{
    struct proto_request req;
    struct dqlite_server_info *list;
    unsigned n;
    int rv;
    protoRequestInit(&req, PROTO_REQ_CLUSTER);
    req.cluster.format = 1;
    rv = clientSockEncode(s, &req);
    rv = rv != 0 ? rv : clientSockCall(s, deadline_ms);
    if (rv != 0 || s->resp.type != PROTO_RESP_SERVERS) {
        clientLog(d, DQLITE_CLIENT_LOG_WARN, "cluster request failed: %s",
                  rv != 0 ? errString(rv) : "unexpected answer");
        return;
    }
    if (driverServers(&s->resp.servers, &list, &n) != 0) {
        return;
    }
    if (n > 0 && dqlite_server_store_set(d->store, list, n) != 0) {
        clientLog(d, DQLITE_CLIENT_LOG_WARN, "cannot update server store");
    }
    clientInfosFree(list, n);
}
