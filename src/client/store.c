/*
 * Server stores: where a driver finds the cluster's nodes (go-dqlite's
 * NodeStore). The in-memory store keeps a copy of the list; the table
 * stores (store_file.c) keep it in a SQLite table; a custom store calls the
 * caller's get/set (go-dqlite's NodeStore interface). All sit behind one
 * mutex, so any number of drivers and threads may share a store and a
 * custom implementation is never called twice at once; every list handed
 * out is a deep copy the caller owns, checked like a list given to set.
 */
#include <string.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

void clientInfosFree(struct dqlite_server_info *infos, unsigned n)
{
    unsigned i;
    if (infos == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        libFree(infos[i].address);
    }
    libFree(infos);
}

int clientInfosCopy(const struct dqlite_server_info *src, unsigned n,
                    struct dqlite_server_info **dst)
{
    struct dqlite_server_info *out = libCalloc(n > 0 ? n : 1, sizeof *out);
    unsigned i;
    if (out == NULL) {
        return ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        out[i].id = src[i].id;
        out[i].role = src[i].role;
        out[i].address = libStrdup(src[i].address);
        if (out[i].address == NULL) {
            clientInfosFree(out, i);
            return ERR_NOMEM;
        }
    }
    *dst = out;
    return 0;
}

DQLITE_API void dqlite_server_info_free(struct dqlite_server_info *infos,
                                        unsigned n)
{
    clientInfosFree(infos, n);
}

static int storeAlloc(struct dqlite_server_store **store)
{
    struct dqlite_server_store *st = libCalloc(1, sizeof *st);
    if (st == NULL) {
        return ERR_NOMEM;
    }
    pthread_mutex_init(&st->mutex, NULL);
    *store = st;
    return 0;
}

DQLITE_API int dqlite_server_store_create(struct dqlite_server_store **store)
{
    if (store == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    return clientErrPublic(storeAlloc(store));
}

DQLITE_API int dqlite_server_store_open(const char *path,
                                        struct dqlite_server_store **store)
{
    struct dqlite_server_store *st;
    int rv;
    if (path == NULL || store == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    rv = storeAlloc(&st);
    if (rv != 0) {
        return clientErrPublic(rv);
    }
    rv = clientStoreFileOpen(st, path);
    if (rv != 0) {
        dqlite_server_store_close(st);
        return clientErrPublic(rv);
    }
    *store = st;
    return 0;
}

DQLITE_API int dqlite_server_store_open_db(struct sqlite3 *db,
                                           const char *schema,
                                           const char *table,
                                           const char *column,
                                           struct dqlite_server_store **store)
{
    struct dqlite_server_store *st;
    int rv;
    if (db == NULL || store == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    rv = storeAlloc(&st);
    if (rv != 0) {
        return clientErrPublic(rv);
    }
    rv = clientStoreTableOpen(st, db, false, schema, table, column);
    if (rv != 0) {
        dqlite_server_store_close(st);
        return clientErrPublic(rv);
    }
    *store = st;
    return 0;
}

DQLITE_API int
dqlite_server_store_custom(const struct dqlite_server_store_methods *methods,
                           void *arg, struct dqlite_server_store **store)
{
    struct dqlite_server_store *st;
    int rv;
    if (methods == NULL || methods->get == NULL || methods->set == NULL ||
        store == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    rv = storeAlloc(&st);
    if (rv != 0) {
        return clientErrPublic(rv);
    }
    st->custom = true;
    st->methods = *methods;
    st->methods_arg = arg;
    *store = st;
    return 0;
}

DQLITE_API void dqlite_server_store_close(struct dqlite_server_store *store)
{
    if (store == NULL) {
        return;
    }
    if (store->db != NULL) {
        clientStoreFileClose(store);
    }
    if (store->custom && store->methods.close != NULL) {
        store->methods.close(store->methods_arg);
    }
    clientInfosFree(store->servers, store->n);
    pthread_mutex_destroy(&store->mutex);
    libFree(store);
}

/* Checks a list given by the caller. */
static bool storeValid(const struct dqlite_server_info *servers, unsigned n)
{
    unsigned i;
    if (n > CLIENT_STORE_MAX || (n > 0 && servers == NULL)) {
        return false;
    }
    for (i = 0; i < n; i++) {
        if (servers[i].address == NULL || servers[i].address[0] == '\0' ||
            strlen(servers[i].address) >= CLIENT_ADDRESS_MAX) {
            return false;
        }
    }
    return true;
}

/* A custom store's get: its list is checked and copied, then released. */
static int storeCustomGet(struct dqlite_server_store *st,
                          struct dqlite_server_info **servers, unsigned *n)
{
    struct dqlite_server_info *list = NULL;
    unsigned count = 0;
    int rv;
    if (st->methods.get(st->methods_arg, &list, &count) != 0) {
        return ERR_CLIENT_STORE;
    }
    rv = storeValid(list, count) ? clientInfosCopy(list, count, servers)
                                 : ERR_CLIENT_STORE;
    if (st->methods.release != NULL) {
        st->methods.release(st->methods_arg, list, count);
    }
    if (rv == 0) {
        *n = count;
    }
    return rv;
}

static int storeSetLocked(struct dqlite_server_store *st,
                          const struct dqlite_server_info *servers, unsigned n)
{
    struct dqlite_server_info *copy;
    int rv;
    if (st->custom) {
        return st->methods.set(st->methods_arg, servers, n) == 0
                   ? 0
                   : ERR_CLIENT_STORE;
    }
    if (st->db != NULL) {
        return clientStoreFileSet(st, servers, n);
    }
    rv = clientInfosCopy(servers, n, &copy);
    if (rv != 0) {
        return rv;
    }
    clientInfosFree(st->servers, st->n);
    st->servers = copy;
    st->n = n;
    return 0;
}

static int storeGetLocked(struct dqlite_server_store *st,
                          struct dqlite_server_info **servers, unsigned *n)
{
    int rv;
    if (st->custom) {
        return storeCustomGet(st, servers, n);
    }
    if (st->db != NULL) {
        return clientStoreFileGet(st, servers, n);
    }
    rv = clientInfosCopy(st->servers, st->n, servers);
    if (rv == 0) {
        *n = st->n;
    }
    return rv;
}

DQLITE_API int dqlite_server_store_set(struct dqlite_server_store *store,
                                       const struct dqlite_server_info *servers,
                                       unsigned n)
{
    int rv;
    if (store == NULL || !storeValid(servers, n)) {
        return DQLITE_CLIENT_MISUSE;
    }
    pthread_mutex_lock(&store->mutex);
    rv = storeSetLocked(store, servers, n);
    pthread_mutex_unlock(&store->mutex);
    return clientErrPublic(rv);
}

DQLITE_API int dqlite_server_store_get(struct dqlite_server_store *store,
                                       struct dqlite_server_info **servers,
                                       unsigned *n)
{
    int rv;
    if (store == NULL || servers == NULL || n == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    pthread_mutex_lock(&store->mutex);
    rv = storeGetLocked(store, servers, n);
    pthread_mutex_unlock(&store->mutex);
    return clientErrPublic(rv);
}

/* Appends `info` to the current list unless its address is there. */
static int storeAddLocked(struct dqlite_server_store *st,
                          const struct dqlite_server_info *info)
{
    struct dqlite_server_info *list;
    struct dqlite_server_info *grown;
    unsigned n;
    unsigned i;
    int rv = storeGetLocked(st, &list, &n);
    if (rv != 0) {
        return rv;
    }
    for (i = 0; i < n; i++) {
        if (strcmp(list[i].address, info->address) == 0) {
            goto out;
        }
    }
    rv = ERR_TOOBIG;
    if (n >= CLIENT_STORE_MAX) {
        goto out;
    }
    rv = ERR_NOMEM;
    grown = libRealloc(list, (n + 1) * sizeof *list);
    if (grown == NULL) {
        goto out;
    }
    list = grown;
    list[n] = *info; /* borrowed address: not freed below */
    rv = storeSetLocked(st, list, n + 1);
out:
    clientInfosFree(list, n);
    return rv;
}

DQLITE_API int dqlite_server_store_add(struct dqlite_server_store *store,
                                       uint64_t id, const char *address,
                                       int role)
{
    struct dqlite_server_info info = {
        .id = id != 0 ? id : 1, .address = (char *)address, .role = role};
    int rv;
    if (store == NULL || !storeValid(&info, 1)) {
        return DQLITE_CLIENT_MISUSE;
    }
    pthread_mutex_lock(&store->mutex);
    rv = storeAddLocked(store, &info);
    pthread_mutex_unlock(&store->mutex);
    return clientErrPublic(rv);
}
