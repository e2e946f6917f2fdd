/*
 * The schema dot-commands, as sqlite3 3.40 prints them: .tables and
 * .indexes (names in columns that fit 80 characters, filled column by
 * column), .schema (each CREATE statement followed by ';', a quoted table
 * name as "CREATE TABLE IF NOT EXISTS", a view followed by a comment
 * listing its columns). Each reads the database's sqlite_schema with a
 * query of the shell's SQL connection, so it sees what a SELECT would.
 */
#include <ctype.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "shell.h"

#define SCHEMA_LINE_WIDTH 80

/* Strings of a query's first column. */
struct names {
    char **v;
    unsigned n;
};

static void namesFree(struct names *ns)
{
    for (unsigned i = 0; i < ns->n; i++) {
        free(ns->v[i]);
    }
    free(ns->v);
    ns->v = NULL;
    ns->n = 0;
}

/* Runs `sql` with one text parameter (`arg`, NULL for NULL) and collects
 * the first column's values (NULL values skipped). 0 or -1 (reported). */
static int schemaQuery(struct shell *sh, const char *sql, const char *arg,
                       struct names *out)
{
    struct dqlite_value param = {.type = DQLITE_CLIENT_NULL};
    struct dqlite_rows *rows = NULL;
    int rv;
    memset(out, 0, sizeof *out);
    if (sqlConnect(sh) != 0) {
        return -1;
    }
    if (arg != NULL) {
        param.type = DQLITE_CLIENT_TEXT;
        param.text.data = arg;
        param.text.len = strlen(arg);
    }
    if (dqlite_conn_query(sh->conn, sql, &param, 1, &rows) != 0) {
        return shellError("%s", dqlite_conn_errmsg(sh->conn));
    }
    while ((rv = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
        const char *text = dqlite_rows_text(rows, 0);
        if (text == NULL) {
            continue;
        }
        char **v = realloc(out->v, (out->n + 1) * sizeof *v);
        if (v == NULL || (v[out->n] = strdup(text)) == NULL) {
            out->v = v != NULL ? v : out->v;
            rv = -1;
            break;
        }
        out->v = v;
        out->n++;
    }
    dqlite_rows_close(rows);
    if (rv != DQLITE_CLIENT_DONE) {
        namesFree(out);
        return rv == -1 ? shellError("out of memory")
                        : shellError("%s", dqlite_conn_errmsg(sh->conn));
    }
    return 0;
}

/* Names in as many columns as fit, filled column by column, each padded
 * to the longest name (sqlite3's .tables). */
static void schemaPrintColumns(FILE *out, const struct names *ns)
{
    int width = 0;
    for (unsigned i = 0; i < ns->n; i++) {
        int len = (int)strlen(ns->v[i]);
        width = len > width ? len : width;
    }
    unsigned n_cols = (unsigned)(SCHEMA_LINE_WIDTH / (width + 2));
    n_cols = n_cols > 0 ? n_cols : 1;
    unsigned n_rows = (ns->n + n_cols - 1) / n_cols;
    for (unsigned r = 0; r < n_rows; r++) {
        for (unsigned k = r; k < ns->n; k += n_rows) {
            fprintf(out, "%s%-*s", k < n_rows ? "" : "  ", width, ns->v[k]);
        }
        fputc('\n', out);
    }
}

int schemaTables(struct shell *sh, const char *pattern)
{
    struct names ns;
    if (schemaQuery(sh,
                    "SELECT name FROM sqlite_schema WHERE type IN "
                    "('table','view') AND name NOT LIKE 'sqlite__%' ESCAPE "
                    "'_' AND name LIKE coalesce(?1, '%') ORDER BY 1",
                    pattern, &ns) != 0) {
        return -1;
    }
    schemaPrintColumns(sh->out, &ns);
    namesFree(&ns);
    return 0;
}

int schemaIndexes(struct shell *sh, const char *table)
{
    struct names ns;
    if (schemaQuery(sh,
                    "SELECT name FROM sqlite_schema WHERE type = 'index' "
                    "AND tbl_name LIKE coalesce(?1, '%') ORDER BY 1",
                    table, &ns) != 0) {
        return -1;
    }
    schemaPrintColumns(sh->out, &ns);
    namesFree(&ns);
    return 0;
}

/* '"' when sqlite3 quotes a name (not an identifier, or a keyword), 0. */
static char schemaQuoteChar(const char *name)
{
    if (!isalpha((unsigned char)name[0]) && name[0] != '_') {
        return '"';
    }
    int i = 0;
    for (; name[i] != '\0'; i++) {
        if (!isalnum((unsigned char)name[i]) && name[i] != '_') {
            return '"';
        }
    }
    return sqlite3_keyword_check(name, i) ? '"' : 0;
}

static void schemaPrintName(FILE *out, const char *name)
{
    char *q;
    if (schemaQuoteChar(name) == 0) {
        fputs(name, out);
        return;
    }
    q = sqlite3_mprintf("\"%w\"", name);
    fputs(q != NULL ? q : name, out);
    sqlite3_free(q);
}

/* A view's column comment: "\n/ * name(col,...) * /" as sqlite3 adds it. */
static int schemaViewComment(struct shell *sh, const char *view)
{
    struct names cols;
    if (schemaQuery(sh, "SELECT name FROM pragma_table_info(?1)", view,
                    &cols) != 0) {
        return -1;
    }
    fputs("\n/* ", sh->out);
    schemaPrintName(sh->out, view);
    fputc('(', sh->out);
    for (unsigned i = 0; i < cols.n; i++) {
        fputs(i > 0 ? "," : "", sh->out);
        schemaPrintName(sh->out, cols.v[i]);
    }
    fputs(") */", sh->out);
    namesFree(&cols);
    return 0;
}

int schemaSchema(struct shell *sh, const char *pattern)
{
    struct names sqls, views;
    int rv = 0;
    if (schemaQuery(sh,
                    "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND "
                    "(?1 IS NULL OR name LIKE ?1 OR tbl_name LIKE ?1) "
                    "ORDER BY rowid",
                    pattern, &sqls) != 0) {
        return -1;
    }
    /* The view of each statement, in the same order ("" if none). */
    if (schemaQuery(sh,
                    "SELECT CASE type WHEN 'view' THEN name ELSE '' END "
                    "FROM sqlite_schema WHERE sql IS NOT NULL AND "
                    "(?1 IS NULL OR name LIKE ?1 OR tbl_name LIKE ?1) "
                    "ORDER BY rowid",
                    pattern, &views) != 0) {
        namesFree(&sqls);
        return -1;
    }
    for (unsigned i = 0; i < sqls.n && rv == 0; i++) {
        const char *z = sqls.v[i];
        if (sqlite3_strglob("CREATE TABLE ['\"]*", z) == 0) {
            fprintf(sh->out, "CREATE TABLE IF NOT EXISTS %s", z + 13);
        } else {
            fputs(z, sh->out);
        }
        if (i < views.n && views.v[i][0] != '\0') {
            rv = schemaViewComment(sh, views.v[i]);
        }
        fputs(";\n", sh->out);
    }
    namesFree(&sqls);
    namesFree(&views);
    return rv;
}
