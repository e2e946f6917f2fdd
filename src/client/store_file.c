/*
 * The SQLite-table server store: go-dqlite's DefaultNodeStore (a file
 * of its own, table main.servers (address TEXT, UNIQUE(address))) and
 * NewNodeStore (a table and column of the caller's choosing in the caller's
 * database handle, which is borrowed), each created if missing. Only addresses
 * are kept, so every server read back has id 1 and role voter, as in go-dqlite;
 * a file written by one client is read by the other. Called with the store's
 * mutex held (store.c); the SQLite handle is opened in full-mutex mode anyway,
 * as the host program may use SQLite from other threads.
 */
#include <sqlite3.h>
#include <string.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

/* The table of go-dqlite's DefaultNodeStore. */
#define STORE_DEFAULT_SCHEMA "main"
#define STORE_DEFAULT_TABLE "servers"
#define STORE_DEFAULT_COLUMN "address"

/* Longest schema, table or column name accepted. */
#define STORE_NAME_MAX 128

static bool tableNameValid(const char *name)
{
    return name != NULL && name[0] != '\0' && strlen(name) <= STORE_NAME_MAX;
}

/* Builds the three statements of the store, names quoted ("%w"). */
static int tableStatements(struct dqlite_server_store *st, const char *schema,
                           const char *table, const char *column)
{
    st->sql_select = sqlite3_mprintf("SELECT \"%w\" FROM \"%w\".\"%w\"", column,
                                     schema, table);
    st->sql_delete =
        sqlite3_mprintf("DELETE FROM \"%w\".\"%w\"", schema, table);
    st->sql_insert = sqlite3_mprintf(
        "INSERT OR IGNORE INTO \"%w\".\"%w\"(\"%w\") VALUES (?)", schema, table,
        column);
    if (st->sql_select == NULL || st->sql_delete == NULL ||
        st->sql_insert == NULL) {
        return ERR_NOMEM;
    }
    return 0;
}

static void tableStatementsFree(struct dqlite_server_store *st)
{
    sqlite3_free(st->sql_select);
    sqlite3_free(st->sql_delete);
    sqlite3_free(st->sql_insert);
    st->sql_select = st->sql_delete = st->sql_insert = NULL;
}

static int tableCreate(sqlite3 *db, const char *schema, const char *table,
                       const char *column)
{
    char *sql = sqlite3_mprintf(
        "CREATE TABLE IF NOT EXISTS \"%w\".\"%w\" (\"%w\" TEXT, "
        "UNIQUE(\"%w\"))",
        schema, table, column, column);
    int rv;
    if (sql == NULL) {
        return ERR_NOMEM;
    }
    rv = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    return rv == SQLITE_OK ? 0 : ERR_CLIENT_STORE;
}

int clientStoreTableOpen(struct dqlite_server_store *st, void *db, bool own_db,
                         const char *schema, const char *table,
                         const char *column)
{
    int rv;
    PRE(st->db == NULL && db != NULL);
    if (!tableNameValid(schema) || !tableNameValid(table) ||
        !tableNameValid(column)) {
        return ERR_MISUSE;
    }
    rv = tableCreate(db, schema, table, column);
    rv = rv != 0 ? rv : tableStatements(st, schema, table, column);
    if (rv != 0) {
        tableStatementsFree(st);
        return rv;
    }
    st->db = db;
    st->own_db = own_db;
    return 0;
}

int clientStoreFileOpen(struct dqlite_server_store *st, const char *path)
{
    sqlite3 *db = NULL;
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    int rv;
    PRE(st->db == NULL);
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        sqlite3_close(db); /* accepts NULL */
        return ERR_CLIENT_STORE;
    }
    sqlite3_busy_timeout(db, 5000);
    rv = clientStoreTableOpen(st, db, true, STORE_DEFAULT_SCHEMA,
                              STORE_DEFAULT_TABLE, STORE_DEFAULT_COLUMN);
    if (rv != 0) {
        sqlite3_close(db);
    }
    return rv;
}

void clientStoreFileClose(struct dqlite_server_store *st)
{
    PRE(st->db != NULL);
    if (st->own_db) {
        sqlite3_close(st->db);
    }
    tableStatementsFree(st);
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
    if (sqlite3_prepare_v2(st->db, st->sql_select, -1, &stmt, NULL) !=
        SQLITE_OK) {
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

static int fileInsertAll(struct dqlite_server_store *st,
                         const struct dqlite_server_info *servers, unsigned n)
{
    sqlite3_stmt *stmt;
    unsigned i;
    int rv = SQLITE_OK;
    if (sqlite3_prepare_v2(st->db, st->sql_insert, -1, &stmt, NULL) !=
        SQLITE_OK) {
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
    /* A savepoint, not BEGIN: a borrowed handle may be in a transaction. */
    if (sqlite3_exec(db, "SAVEPOINT dqlite_server_store", NULL, NULL, NULL) !=
        SQLITE_OK) {
        return ERR_CLIENT_STORE;
    }
    rv = sqlite3_exec(db, st->sql_delete, NULL, NULL, NULL) == SQLITE_OK
             ? fileInsertAll(st, servers, n)
             : ERR_CLIENT_STORE;
    if (rv != 0) {
        goto err_after_begin;
    }
    if (sqlite3_exec(db, "RELEASE dqlite_server_store", NULL, NULL, NULL) !=
        SQLITE_OK) {
        rv = ERR_CLIENT_STORE;
        goto err_after_begin;
    }
    return 0;
err_after_begin:
    sqlite3_exec(db, "ROLLBACK TO dqlite_server_store", NULL, NULL, NULL);
    sqlite3_exec(db, "RELEASE dqlite_server_store", NULL, NULL, NULL);
    return rv;
}
