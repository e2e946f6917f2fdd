/*
 * The SQLite-file server store, compatible with go-dqlite's
 * DefaultNodeStore: one table main.servers (address TEXT, UNIQUE(address)),
 * created if missing. Only addresses are kept, so every server read back
 * has id 1 and role voter, as in go-dqlite; a file written by one client is
 * read by the other. Called with the store's mutex held (store.c); the
 * SQLite handle is opened in full-mutex mode anyway, as the host program
 * may use SQLite from other threads.
 */
#include <sqlite3.h>
#include <string.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

#define STORE_SCHEMA                                          \
    "CREATE TABLE IF NOT EXISTS main.servers (address TEXT, " \
    "UNIQUE(address))"

int clientStoreFileOpen(struct dqlite_server_store *st, const char *path)
{
    sqlite3 *db = NULL;
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    PRE(st->db == NULL);
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        goto err_after_open;
    }
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, STORE_SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
        goto err_after_open;
    }
    st->db = db;
    return 0;
err_after_open:
    sqlite3_close(db); /* accepts NULL */
    return ERR_CLIENT_STORE;
}

void clientStoreFileClose(struct dqlite_server_store *st)
{
    PRE(st->db != NULL);
    sqlite3_close(st->db);
    st->db = NULL;
}

/* Appends one address to a growing list. */
static int fileAppend(struct dqlite_server_info **list, unsigned *n,
                      const char *address)
{
    struct dqlite_server_info *grown;
    if (*n >= CLIENT_STORE_MAX) {
        return ERR_TOOBIG;
    }
    grown = libRealloc(*list, (*n + 1) * sizeof **list);
    if (grown == NULL) {
        return ERR_NOMEM;
    }
    *list = grown;
    grown[*n].id = 1;
    grown[*n].role = DQLITE_VOTER;
    grown[*n].address = libStrdup(address);
    if (grown[*n].address == NULL) {
        return ERR_NOMEM;
    }
    (*n)++;
    return 0;
}

int clientStoreFileGet(struct dqlite_server_store *st,
                       struct dqlite_server_info **servers, unsigned *n)
{
    sqlite3_stmt *stmt;
    struct dqlite_server_info *list = libMalloc(sizeof *list);
    unsigned count = 0;
    int rv = ERR_CLIENT_STORE;
    if (list == NULL) {
        return ERR_NOMEM;
    }
    if (sqlite3_prepare_v2(st->db, "SELECT address FROM main.servers", -1,
                           &stmt, NULL) != SQLITE_OK) {
        goto err_after_list;
    }
    while ((rv = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *address = (const char *)sqlite3_column_text(stmt, 0);
        rv = address != NULL ? fileAppend(&list, &count, address) : 0;
        if (rv != 0) {
            goto err_after_stmt;
        }
    }
    sqlite3_finalize(stmt);
    if (rv != SQLITE_DONE) {
        rv = ERR_CLIENT_STORE;
        goto err_after_list;
    }
    *servers = list;
    *n = count;
    return 0;
err_after_stmt:
    sqlite3_finalize(stmt);
err_after_list:
    clientInfosFree(list, count);
    return rv;
}

static int fileInsertAll(sqlite3 *db, const struct dqlite_server_info *servers,
                         unsigned n)
{
    sqlite3_stmt *stmt;
    unsigned i;
    int rv = SQLITE_OK;
    if (sqlite3_prepare_v2(db,
                           "INSERT OR IGNORE INTO main.servers(address) "
                           "VALUES (?)",
                           -1, &stmt, NULL) != SQLITE_OK) {
        return ERR_CLIENT_STORE;
    }
    for (i = 0; i < n && rv == SQLITE_OK; i++) {
        sqlite3_bind_text(stmt, 1, servers[i].address, -1, SQLITE_STATIC);
        rv = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    return rv == SQLITE_OK ? 0 : ERR_CLIENT_STORE;
}

int clientStoreFileSet(struct dqlite_server_store *st,
                       const struct dqlite_server_info *servers, unsigned n)
{
    sqlite3 *db = st->db;
    int rv;
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        return ERR_CLIENT_STORE;
    }
    rv = sqlite3_exec(db, "DELETE FROM main.servers", NULL, NULL, NULL) ==
                 SQLITE_OK
             ? fileInsertAll(db, servers, n)
             : ERR_CLIENT_STORE;
    if (rv != 0) {
        goto err_after_begin;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rv = ERR_CLIENT_STORE;
        goto err_after_begin;
    }
    return 0;
err_after_begin:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rv;
}
