/*
 * SQL statements of the shell. Like go-dqlite's shell, a statement that
 * starts with SELECT is a query whose rows are printed; anything else is
 * executed and prints nothing. Unlike it, statements run in autocommit mode
 * rather than each in its own transaction, so BEGIN ... COMMIT typed by the
 * user works. Rows stream to the output as they arrive.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "shell.h"

/* Opens the SQL connection on first use (as database/sql does). */
static int sqlConnect(struct shell *sh)
{
    if (sh->conn != NULL) {
        return 0;
    }
    if (dqlite_driver_connect(sh->driver, sh->database, &sh->conn) != 0) {
        shellError("%s", sh->conn != NULL ? dqlite_conn_errmsg(sh->conn)
                                          : "out of memory");
        dqlite_conn_close(sh->conn);
        sh->conn = NULL;
        return -1;
    }
    return 0;
}

/* Whether the statement starts with SELECT (after blanks and comments). */
static bool sqlIsQuery(const char *stmt)
{
    for (;;) {
        while (isspace((unsigned char)*stmt)) {
            stmt++;
        }
        if (stmt[0] == '-' && stmt[1] == '-') {
            stmt += strcspn(stmt, "\n");
        } else if (stmt[0] == '/' && stmt[1] == '*' &&
                   strstr(stmt + 2, "*/") != NULL) {
            stmt = strstr(stmt + 2, "*/") + 2;
        } else {
            return strncasecmp(stmt, "SELECT", 6) == 0;
        }
    }
}

static void sqlPrintTabular(struct shell *sh, struct dqlite_rows *rows)
{
    unsigned n = dqlite_rows_column_count(rows);
    for (unsigned i = 0; i < n; i++) {
        if (i > 0) {
            fputc('|', sh->out);
        }
        formatTabularValue(sh->out, rows, i);
    }
    fputc('\n', sh->out);
}

/* One row as an object of encoding/json's indented form. */
static void sqlPrintJson(struct shell *sh, struct dqlite_rows *rows, bool first)
{
    unsigned n = dqlite_rows_column_count(rows);
    fputs(first ? "[\n\t{" : ",\n\t{", sh->out);
    for (unsigned i = 0; i < n; i++) {
        const char *name = dqlite_rows_column_name(rows, i);
        fputs(i == 0 ? "\n\t\t" : ",\n\t\t", sh->out);
        formatJsonString(sh->out, name, strlen(name));
        fputs(": ", sh->out);
        formatJsonValue(sh->out, rows, i);
    }
    fputs(n > 0 ? "\n\t}" : "}", sh->out);
}

static int sqlQuery(struct shell *sh, const char *stmt)
{
    struct dqlite_rows *rows = NULL;
    unsigned n_rows = 0;
    int rv = dqlite_conn_query(sh->conn, stmt, NULL, 0, &rows);
    if (rv != 0) {
        return shellError("query: %s", dqlite_conn_errmsg(sh->conn));
    }
    while ((rv = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
        if (sh->json) {
            sqlPrintJson(sh, rows, n_rows == 0);
        } else {
            sqlPrintTabular(sh, rows);
        }
        n_rows++;
    }
    if (sh->json) {
        fputs(n_rows == 0 ? "[]\n" : "\n]\n", sh->out);
    }
    dqlite_rows_close(rows);
    fflush(sh->out);
    if (rv != DQLITE_CLIENT_DONE) {
        return shellError("rows: %s", dqlite_conn_errmsg(sh->conn));
    }
    return 0;
}

int sqlRun(struct shell *sh, const char *stmt)
{
    if (sqlConnect(sh) != 0) {
        return -1;
    }
    if (sqlIsQuery(stmt)) {
        return sqlQuery(sh, stmt);
    }
    if (dqlite_conn_exec(sh->conn, stmt, NULL, 0, NULL) != 0) {
        return shellError("exec: %s", dqlite_conn_errmsg(sh->conn));
    }
    return 0;
}
