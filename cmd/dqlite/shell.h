/*
 * The dqlite shell: what its files share. The shell talks to a cluster only
 * through the C client (dqlite_client.h): a driver over an in-memory or
 * file server store, one SQL connection opened on first use, and a cluster
 * client per dot-command. Output follows go-dqlite 1.11.5's shell (rows as
 * values joined by '|', formatted like Go's %v; .cluster and .describe in
 * JSON as Go's encoding/json indents them).
 */
#ifndef DQLITE_SHELL_H
#define DQLITE_SHELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <dqlite_client.h>

/* How rows are printed: go-dqlite's shell's two formats (-f tabular|json,
 * the default tabular), or one of the sqlite3 CLI's modes (.mode). */
enum shell_mode {
    SHELL_MODE_TABULAR, /* go-dqlite: values joined by '|', NULL as <nil> */
    SHELL_MODE_GO_JSON, /* go-dqlite: -f json */
    SHELL_MODE_LIST,    /* sqlite3's modes, byte for byte (mode.c) */
    SHELL_MODE_CSV,
    SHELL_MODE_COLUMN,
    SHELL_MODE_JSON,
    SHELL_MODE_LINE,
    SHELL_MODE_TABLE,
};

struct shell {
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    struct dqlite_conn *conn; /* opened by the first SQL statement */
    const char *database;
    bool json;    /* --format json: go-dqlite's JSON for dot-commands too */
    int mode;     /* enum shell_mode */
    bool headers; /* .headers on (sqlite3 modes) */
    bool timer;   /* .timer on: "Run Time: real ..." after each statement */
    bool quit;    /* .quit / .exit: read nothing more */
    int depth;    /* of nested .read */
    FILE *out;
};

/* Runs one input: a dot-command or one SQL statement. Prints its result on
 * sh->out and any error on stderr ("Error: ..."). Returns 0 or -1. */
int shellProcess(struct shell *sh, const char *input);

/* Prints "Error: <message>" on stderr; returns -1. */
int shellError(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* SQL (sql.c). A statement is first sent as a query (so any statement
 * that returns rows, PRAGMA, WITH, EXPLAIN, VALUES, RETURNING, prints
 * them); one the server finds returns no rows is then executed. */
int sqlRun(struct shell *sh, const char *stmt);
/* Runs a query and prints its rows in the current mode (no fallback). */
int sqlQuery(struct shell *sh, const char *stmt);
/* Opens the SQL connection on first use; -1 after reporting a failure. */
int sqlConnect(struct shell *sh);

/* sqlite3's output modes (mode.c). */
/* The mode called `name` (list, csv, column, json, line, table, or
 * tabular), -1 if none. */
int modeParse(const char *name);
const char *modeName(int mode);
/* Reads and prints the rows in sh->mode (a sqlite3 mode): the last
 * dqlite_rows_next() result (DQLITE_CLIENT_DONE when whole), -1 when out
 * of memory. */
int modePrint(struct shell *sh, struct dqlite_rows *rows);

/* EXPLAIN and EXPLAIN QUERY PLAN as sqlite3 prints them (explain.c). */
enum explain_kind { EXPLAIN_NONE, EXPLAIN_PROGRAM, EXPLAIN_QUERY_PLAN };
/* What the statement's first words make it. */
int explainKind(const char *stmt);
/* Whether the rows have the columns of that kind of EXPLAIN. */
bool explainColumns(struct dqlite_rows *rows, int kind);
/* Reads and prints the rows in sqlite3's layout for `kind`: the last
 * dqlite_rows_next() result, -1 when out of memory. */
int explainPrint(struct shell *sh, struct dqlite_rows *rows, int kind);

/* Schema dot-commands (schema.c), printed as sqlite3 does; a NULL
 * pattern matches everything. 0 or -1 (reported). */
int schemaTables(struct shell *sh, const char *pattern);
int schemaIndexes(struct shell *sh, const char *table);
int schemaSchema(struct shell *sh, const char *pattern);

/* .backup FILE (backup.c): the shell's database, from the leader, into a
 * standalone SQLite file, verified. 0 or -1 (reported). */
int shellBackup(struct shell *sh, const char *path);

/* Dot-commands (dot.c); `line` starts with '.'. */
int dotRun(struct shell *sh, const char *line);
/* A cluster client to the leader (address NULL) or to `address`; NULL
 * after reporting a failure. */
struct dqlite_client *dotClient(struct shell *sh, const char *address);
/* The id of the node at `address` in the configuration, 0 if none
 * (reported). */
uint64_t dotFindAddress(struct dqlite_client *cli, const char *address);
/* A whole decimal (base 10) or hexadecimal (base 16, "0x" allowed)
 * number: 0, or -1 when `text` is not one. */
int dotParseNumber(const char *text, int base, uint64_t *out);

/* Membership dot-commands (member.c): one request each, to the leader. A
 * node is an id in hex or an address. Return 0 or -1 (reported). */
int memberAdd(struct shell *sh, const char *id_text, const char *address,
              const char *role_text);
int memberAssign(struct shell *sh, const char *node, const char *role_text);
int memberRemove(struct shell *sh, const char *node);
int memberTransfer(struct shell *sh, const char *node);

/* .restore FILE [DB] [--force] (restore.c): argv[0] is the command.
 * Returns 0 or -1 (reported). */
int shellRestore(struct shell *sh, int argc, char *argv[]);

/* Value formatting (format.c). */
void formatTabularValue(FILE *out, struct dqlite_rows *rows, unsigned i);
void formatJsonValue(FILE *out, struct dqlite_rows *rows, unsigned i);
void formatJsonString(FILE *out, const char *s, size_t len);

/* Input (input.c). A splitter collects text until it holds whole
 * statements: a dot-command is one line (or ends at a ';'); SQL ends at a
 * ';' outside quotes, comments and trigger bodies (sqlite3_complete()), as
 * in sqlite3; what is left at the end of the input is run as is. */
struct splitter {
    char *text;
    size_t len;
    size_t cap;
    bool bail;    /* run nothing more after a failure */
    int failures; /* statements that failed so far */
};
void splitterInit(struct splitter *s, bool bail);
void splitterFree(struct splitter *s);
/* Adds a line (without its newline) and runs each statement it
 * completes. Returns 0, or -1 if out of memory. */
int splitterFeed(struct splitter *s, const char *line, struct shell *sh);
/* Runs whatever is left (at the end of the input). */
void splitterFlush(struct splitter *s, struct shell *sh);
/* Whether an unfinished statement is pending (for a continuation prompt). */
bool splitterPending(const struct splitter *s);

/* Reads from a terminal with line editing and history (libedit), or from
 * a stream; returns the number of statements that failed. */
int inputInteractive(struct shell *sh);
int inputStream(struct shell *sh, FILE *in);

#endif /* DQLITE_SHELL_H */
