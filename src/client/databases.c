/*
 * The databases of the cluster through a SQL connection: the leader answers
 * the `PRAGMA dqlite_databases` statement its gateway intercepts
 * (docs/protocol.md "Listing databases") with one row per database.
 */
#include <string.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

DQLITE_API void dqlite_databases_free(char **names, unsigned n)
{
    if (names == NULL) {
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        libFree(names[i]);
    }
    libFree(names);
}

/* Appends a copy of `name`; false when out of memory. */
static bool databasesAppend(char ***names, unsigned *n, unsigned *cap,
                            const char *name)
{
    if (*n == *cap) {
        unsigned grown_cap = *cap == 0 ? 8 : *cap * 2;
        char **grown = libRealloc(*names, grown_cap * sizeof *grown);
        if (grown == NULL) {
            return false;
        }
        *names = grown;
        *cap = grown_cap;
    }
    (*names)[*n] = libStrdup(name);
    if ((*names)[*n] == NULL) {
        return false;
    }
    (*n)++;
    return true;
}

DQLITE_API int dqlite_conn_databases(struct dqlite_conn *conn, char ***names,
                                     unsigned *n)
{
    if (conn == NULL || names == NULL || n == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    struct dqlite_rows *rows = NULL;
    int rv = dqlite_conn_query(conn, "PRAGMA dqlite_databases", NULL, 0, &rows);
    if (rv != DQLITE_CLIENT_OK) {
        return rv;
    }
    char **list = NULL;
    unsigned count = 0;
    unsigned cap = 0;
    const char *why = NULL; /* a failure recorded once the rows are closed */
    int err = 0;
    /* A server without the extension has SQLite run an unknown pragma. */
    if (dqlite_rows_column_count(rows) != 1 ||
        strcmp(dqlite_rows_column_name(rows, 0), "name") != 0) {
        err = ERR_CLIENT_PROTO;
        why = "the server does not list databases (PRAGMA dqlite_databases)";
    }
    while (err == 0 && (rv = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
        const char *name = dqlite_rows_text(rows, 0);
        if (name == NULL) {
            err = ERR_CLIENT_PROTO;
            why = "a database name that is not text";
        } else if (!databasesAppend(&list, &count, &cap, name)) {
            err = ERR_NOMEM;
            why = "out of memory";
        }
    }
    dqlite_rows_close(rows);
    if (err != 0) {
        rv = clientErrPublic(clientErrSet(&conn->err, err, "%s", why));
    }
    if (rv != DQLITE_CLIENT_DONE) {
        dqlite_databases_free(list, count);
        return rv;
    }
    *names = list;
    *n = count;
    return DQLITE_CLIENT_OK;
}
