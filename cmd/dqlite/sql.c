/*
 * SQL statements of the shell. A statement is sent as a query first: the
 * server prepares it and answers rows for anything that has columns
 * (SELECT, PRAGMA, WITH, EXPLAIN, VALUES, INSERT ... RETURNING), or refuses
 * one without columns ("statement does not return rows") before running
 * it; that one is then executed, printing nothing. Statements that surely
 * have no columns (INSERT, CREATE... without RETURNING) are executed at
 * once. Statements run in
 * autocommit mode, so BEGIN ... COMMIT typed by the user works. Rows print
 * in go-dqlite's formats (tabular, json) or in a sqlite3 mode (mode.c), and
 * stream to the output as they arrive, except sqlite3's column and table
 * modes, which need every width first.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#include "shell.h"

/* Opens the SQL connection on first use (as database/sql does). */
int sqlConnect(struct shell *sh)
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

/* The rows in go-dqlite's formats; the last dqlite_rows_next() result. */
static int sqlPrintGo(struct shell *sh, struct dqlite_rows *rows)
{
    unsigned n_rows = 0;
    int rv;
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
    return rv;
}

/* Prints the rows of `stmt` and closes them; 0 or -1 (reported). In
 * sqlite3's modes, EXPLAIN prints in sqlite3's explain layouts whatever
 * the mode, as sqlite3 does. */
static int sqlPrint(struct shell *sh, const char *stmt,
                    struct dqlite_rows *rows)
{
    int kind = sh->mode >= SHELL_MODE_LIST ? explainKind(stmt) : EXPLAIN_NONE;
    int rv;
    if (explainColumns(rows, kind)) {
        rv = explainPrint(sh, rows, kind);
    } else {
        rv = sh->mode >= SHELL_MODE_LIST ? modePrint(sh, rows)
                                         : sqlPrintGo(sh, rows);
    }
    dqlite_rows_close(rows);
    fflush(sh->out);
    if (rv == -1) {
        return shellError("out of memory");
    }
    if (rv != DQLITE_CLIENT_DONE) {
        return shellError("rows: %s", dqlite_conn_errmsg(sh->conn));
    }
    return 0;
}

int sqlQuery(struct shell *sh, const char *stmt)
{
    struct dqlite_rows *rows = NULL;
    if (dqlite_conn_query(sh->conn, stmt, NULL, 0, &rows) != 0) {
        return shellError("query: %s", dqlite_conn_errmsg(sh->conn));
    }
    return sqlPrint(sh, stmt, rows);
}

/* Whether the statement surely returns no rows: it starts with a keyword
 * of a statement without result columns and "RETURNING" appears nowhere
 * in it. Those are executed at once, saving a round trip and the server a
 * second parse of a large statement; anything else is sent as a query
 * first. */
static bool sqlSurelyNoRows(const char *stmt)
{
    static const char *const words[] = {
        "INSERT",  "UPDATE", "DELETE",  "REPLACE", "CREATE",   "DROP",
        "ALTER",   "BEGIN",  "COMMIT",  "END",     "ROLLBACK", "SAVEPOINT",
        "RELEASE", "VACUUM", "ANALYZE", "REINDEX", "ATTACH",   "DETACH",
    };
    for (;;) {
        stmt += strspn(stmt, " \t\r\n");
        if (stmt[0] == '-' && stmt[1] == '-') {
            stmt += strcspn(stmt, "\n");
        } else if (stmt[0] == '/' && stmt[1] == '*' &&
                   strstr(stmt + 2, "*/") != NULL) {
            stmt = strstr(stmt + 2, "*/") + 2;
        } else {
            break;
        }
    }
    size_t len = 0;
    while (isalpha((unsigned char)stmt[len])) {
        len++;
    }
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strlen(words[i]) == len && strncasecmp(stmt, words[i], len) == 0) {
            return strcasestr(stmt, "RETURNING") == NULL;
        }
    }
    return false;
}

/* What the server answers a query without columns (gateway_query.c). */
#define SQL_NO_ROWS "statement does not return rows"

static int sqlQueryOrExec(struct shell *sh, const char *stmt)
{
    struct dqlite_rows *rows = NULL;
    if (sqlSurelyNoRows(stmt)) {
        if (dqlite_conn_exec(sh->conn, stmt, NULL, 0, NULL) != 0) {
            return shellError("exec: %s", dqlite_conn_errmsg(sh->conn));
        }
        return 0;
    }
    if (dqlite_conn_query(sh->conn, stmt, NULL, 0, &rows) == 0) {
        return sqlPrint(sh, stmt, rows);
    }
    if (strcmp(dqlite_conn_errmsg(sh->conn), SQL_NO_ROWS) != 0) {
        return shellError("query: %s", dqlite_conn_errmsg(sh->conn));
    }
    if (dqlite_conn_exec(sh->conn, stmt, NULL, 0, NULL) != 0) {
        return shellError("exec: %s", dqlite_conn_errmsg(sh->conn));
    }
    return 0;
}

static double sqlNow(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double sqlSeconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int sqlRun(struct shell *sh, const char *stmt)
{
    if (sqlConnect(sh) != 0) {
        return -1;
    }
    struct rusage ru0, ru1;
    double start = sqlNow();
    getrusage(RUSAGE_SELF, &ru0);
    int rv = sqlQueryOrExec(sh, stmt);
    if (sh->timer) {
        /* sqlite3's line; user and sys are the shell's own CPU time (the
         * statement's is spent on the node). */
        getrusage(RUSAGE_SELF, &ru1);
        fprintf(sh->out, "Run Time: real %.3f user %f sys %f\n",
                sqlNow() - start,
                sqlSeconds(ru1.ru_utime) - sqlSeconds(ru0.ru_utime),
                sqlSeconds(ru1.ru_stime) - sqlSeconds(ru0.ru_stime));
    }
    return rv;
}
