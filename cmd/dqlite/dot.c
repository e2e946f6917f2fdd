/*
 * The shell's dot-commands, as go-dqlite's shell has them (.cluster,
 * .leader, .remove, .describe, .weight, .dump) plus .add, .assign,
 * .transfer (member.c) and .help: parsing, dispatch and the inspection
 * commands. Each opens a cluster client (dqlite_client.h) for the one
 * command: to the leader found through the store, or to the node the
 * command names.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "shell.h"

#define DOT_MAX_ARGS 4
#define DOT_MAX_READ_DEPTH 16 /* nested .read */

static const char *const role_names[] = {"voter", "stand-by", "spare"};

static const char help_text[] =
    ".cluster                     the cluster's nodes: id (hex)|address|role\n"
    ".leader                      the leader's address\n"
    ".add <id> <address> [<role>] add a node (id in hex) as spare, or with\n"
    "                             <role>: voter, stand-by or spare\n"
    ".assign <id|address> <role>  give a node a role (a promotion to voter\n"
    "                             returns once the node has caught up)\n"
    ".remove <id|address>         remove a node\n"
    ".describe <address>          address|failure domain|weight of a node\n"
    ".weight <address> <weight>   set a node's weight\n"
    ".transfer <id|address>       hand leadership to a node (id in hex, as\n"
    "                             .cluster prints it)\n"
    ".dump <address> [<db> [<dir>]]  write a node's copy of database <db>\n"
    "                             (default db.bin) and its WAL (not merged)\n"
    "                             into <dir> (default: the current directory)\n"
    ".dump <file>                 write the leader's copy of this shell's\n"
    "                             database into <file> (WAL: <file>-wal)\n"
    ".tables [<pattern>]          names of tables and views (LIKE pattern)\n"
    ".schema [<pattern>]          CREATE statements (of matching tables)\n"
    ".indexes [<table>]           names of indexes (of matching tables)\n"
    ".headers on|off              column names above rows (sqlite3 modes)\n"
    ".mode [<mode>]               list, csv, column, json, line, table (as\n"
    "                             sqlite3 prints them) or tabular (go-dqlite)\n"
    ".read <file>                 run the statements and commands of <file>\n"
    ".timer on|off                print each statement's run time\n"
    ".databases                   the cluster's databases, one a line\n"
    ".backup <file>               write a consistent copy of the database\n"
    "                             as a standalone SQLite file, verified\n"
    ".restore <file> [<db>] [--force]  load an SQLite file into the cluster\n"
    "                             as <db> (default: the shell's database)\n"
    "                             in one replicated step; --force replaces\n"
    "                             an existing database\n"
    ".quit                        exit (.exit too)\n"
    ".help                        this text\n";

/* Splits a line into words (in place); returns their number. A word in
 * single or double quotes may hold blanks (".backup 'my file.db'"), as in
 * sqlite3. */
static int dotSplit(char *line, char *argv[DOT_MAX_ARGS + 1])
{
    int argc = 0;
    char *p = line;
    for (;;) {
        p += strspn(p, " \t");
        if (*p == '\0' || argc == DOT_MAX_ARGS + 1) {
            return argc;
        }
        char quote = *p == '\'' || *p == '"' ? *p : 0;
        char *end;
        if (quote != 0 && (end = strchr(p + 1, quote)) != NULL) {
            argv[argc++] = p + 1;
        } else {
            argv[argc++] = p;
            end = p + strcspn(p, " \t");
        }
        if (*end == '\0') {
            return argc;
        }
        *end = '\0';
        p = end + 1;
    }
}

/* A cluster client to the leader or to `address`; reports failures. */
struct dqlite_client *dotClient(struct shell *sh, const char *address)
{
    struct dqlite_client *cli = NULL;
    int rv = address == NULL ? dqlite_client_connect_leader(sh->driver, &cli)
                             : dqlite_client_connect(sh->driver, address, &cli);
    if (rv != 0) {
        shellError("%s",
                   cli != NULL ? dqlite_client_errmsg(cli) : "out of memory");
        dqlite_client_close(cli);
        return NULL;
    }
    return cli;
}

/* Reports a failed client call and closes the client; returns -1. */
static int dotFail(struct dqlite_client *cli, const char *what)
{
    if (what != NULL) {
        shellError("%s: %s", what, dqlite_client_errmsg(cli));
    } else {
        shellError("%s", dqlite_client_errmsg(cli));
    }
    dqlite_client_close(cli);
    return -1;
}

static void dotPrintCluster(struct shell *sh, struct dqlite_server_info *s,
                            unsigned n)
{
    for (unsigned i = 0; i < n && !sh->json; i++) {
        fprintf(sh->out, "%" PRIx64 "|%s|%s\n", s[i].id, s[i].address,
                s[i].role >= 0 && s[i].role <= 2 ? role_names[s[i].role]
                                                 : "unknown role");
    }
    if (sh->json && n == 0) {
        fputs("[]\n", sh->out);
    }
    for (unsigned i = 0; i < n && sh->json; i++) {
        fprintf(sh->out, "%s\t{\n\t\t\"ID\": %" PRIu64 ",\n\t\t\"Address\": ",
                i == 0 ? "[\n" : ",\n", s[i].id);
        formatJsonString(sh->out, s[i].address, strlen(s[i].address));
        fprintf(sh->out, ",\n\t\t\"Role\": %d\n\t}%s", s[i].role,
                i + 1 == n ? "\n]\n" : "");
    }
}

static int dotCluster(struct shell *sh)
{
    struct dqlite_server_info *servers = NULL;
    unsigned n = 0;
    struct dqlite_client *cli = dotClient(sh, NULL);
    if (cli == NULL) {
        return -1;
    }
    if (dqlite_client_cluster(cli, &servers, &n) != 0) {
        return dotFail(cli, NULL);
    }
    dotPrintCluster(sh, servers, n);
    dqlite_server_info_free(servers, n);
    dqlite_client_close(cli);
    return 0;
}

static int dotLeader(struct shell *sh)
{
    uint64_t id;
    char *address = NULL;
    struct dqlite_client *cli = dotClient(sh, NULL);
    if (cli == NULL) {
        return -1;
    }
    if (dqlite_client_leader(cli, &id, &address) != 0) {
        return dotFail(cli, NULL);
    }
    if (address != NULL && address[0] != '\0') {
        fprintf(sh->out, "%s\n", address);
    }
    dqlite_client_free(address);
    dqlite_client_close(cli);
    return 0;
}

/* The id of the node at `address` in the leader's configuration, 0 if
 * none (reported). */
uint64_t dotFindAddress(struct dqlite_client *cli, const char *address)
{
    struct dqlite_server_info *servers = NULL;
    unsigned n = 0;
    uint64_t id = 0;
    if (dqlite_client_cluster(cli, &servers, &n) != 0) {
        shellError("%s", dqlite_client_errmsg(cli));
        return 0;
    }
    for (unsigned i = 0; i < n && id == 0; i++) {
        id = strcmp(servers[i].address, address) == 0 ? servers[i].id : 0;
    }
    dqlite_server_info_free(servers, n);
    if (id == 0) {
        shellError("no node has address \"%s\"", address);
    }
    return id;
}

static int dotDescribe(struct shell *sh, const char *address)
{
    uint64_t domain, weight;
    struct dqlite_client *cli = dotClient(sh, address);
    if (cli == NULL) {
        return -1;
    }
    if (dqlite_client_describe(cli, &domain, &weight) != 0) {
        return dotFail(cli, NULL);
    }
    if (sh->json) {
        fprintf(sh->out,
                "{\n\t\"FailureDomain\": %" PRIu64 ",\n\t\"Weight\": %" PRIu64
                "\n}\n",
                domain, weight);
    } else {
        fprintf(sh->out, "%s|%" PRIu64 "|%" PRIu64 "\n", address, domain,
                weight);
    }
    dqlite_client_close(cli);
    return 0;
}

/* A whole decimal (base 10) or hexadecimal (base 16) number. */
int dotParseNumber(const char *text, int base, uint64_t *out)
{
    char *end;
    if (base == 16 && strncasecmp(text, "0x", 2) == 0) {
        text += 2;
    }
    errno = 0;
    *out = strtoull(text, &end, base);
    return text[0] == '\0' || text[0] == '-' || *end != '\0' || errno != 0 ? -1
                                                                           : 0;
}

static int dotWeight(struct shell *sh, const char *address, const char *arg)
{
    uint64_t weight;
    struct dqlite_client *cli;
    if (dotParseNumber(arg, 10, &weight) != 0) {
        return shellError("bad weight \"%s\"", arg);
    }
    cli = dotClient(sh, address);
    if (cli == NULL) {
        return -1;
    }
    if (dqlite_client_weight(cli, weight) != 0) {
        return dotFail(cli, NULL);
    }
    dqlite_client_close(cli);
    return 0;
}

static int dotDump(struct shell *sh, const char *address, const char *db,
                   const char *dir)
{
    struct dqlite_client *cli = dotClient(sh, address);
    if (cli == NULL) {
        return -1;
    }
    if (dqlite_client_dump_to_dir(cli, db != NULL ? db : "db.bin",
                                  dir != NULL ? dir : ".") != 0) {
        return dotFail(cli, "dump failed");
    }
    dqlite_client_close(cli);
    fputs("OK\n", sh->out);
    return 0;
}

/* Whether a .dump argument names a node (HOST:PORT, [V6]:PORT, @NAME)
 * rather than a file. */
static bool dotIsAddress(const char *arg)
{
    return arg[0] == '@' || strchr(arg, ':') != NULL;
}

/* Writes `size` bytes to `path` whole: a temporary file, then rename. */
static int dotWriteFile(const char *path, const void *data, size_t size)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        return shellError("file name too long: %s", path);
    }
    FILE *f = fopen(tmp, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fflush(f) != 0 ||
        fsync(fileno(f)) != 0) {
        int e = errno;
        if (f != NULL) {
            fclose(f);
            unlink(tmp);
        }
        return shellError("cannot write %s: %s", path, strerror(e));
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return shellError("cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

/* .dump FILE: the shell's database, from the leader, into FILE (and its
 * WAL, as the node holds it, into FILE-wal). */
static int dotDumpFile(struct shell *sh, const char *path)
{
    struct dqlite_file *files = NULL;
    unsigned n = 0;
    char wal[4096];
    int rv = 0;
    struct dqlite_client *cli = dotClient(sh, NULL);
    if (cli == NULL) {
        return -1;
    }
    if (dqlite_client_dump(cli, sh->database, &files, &n) != 0) {
        return dotFail(cli, "dump failed");
    }
    dqlite_client_close(cli);
    snprintf(wal, sizeof wal, "%s-wal", path);
    for (unsigned i = 0; i < n && rv == 0; i++) {
        size_t len = strlen(files[i].name);
        bool is_wal = len > 4 && strcmp(files[i].name + len - 4, "-wal") == 0;
        if (is_wal && files[i].size == 0) {
            unlink(wal); /* no stale WAL beside the new file */
            continue;
        }
        rv = dotWriteFile(is_wal ? wal : path, files[i].data, files[i].size);
    }
    dqlite_file_free(files, n);
    if (rv == 0) {
        fputs("OK\n", sh->out);
    }
    return rv;
}

static int dotDispatchMember(struct shell *sh, int argc, char *argv[]);

/* .headers/.timer argument: 1 (on), 0 (off), -1 (neither). */
static int dotOnOff(const char *arg)
{
    if (strcasecmp(arg, "on") == 0 || strcasecmp(arg, "yes") == 0 ||
        strcmp(arg, "1") == 0) {
        return 1;
    }
    if (strcasecmp(arg, "off") == 0 || strcasecmp(arg, "no") == 0 ||
        strcmp(arg, "0") == 0) {
        return 0;
    }
    return -1;
}

static int dotMode(struct shell *sh, int argc, char *argv[])
{
    if (argc == 1) {
        fprintf(sh->out, "current output mode: %s\n",
                sh->mode == SHELL_MODE_GO_JSON ? "json (go-dqlite)"
                                               : modeName(sh->mode));
        return 0;
    }
    int mode = modeParse(argv[1]);
    if (mode < 0) {
        return shellError("mode should be one of: column csv json line list "
                          "table tabular");
    }
    sh->mode = mode;
    sh->json = false;
    /* sqlite3 turns the headers on with these modes. */
    sh->headers =
        sh->headers || mode == SHELL_MODE_COLUMN || mode == SHELL_MODE_TABLE;
    return 0;
}

/* .read FILE: its lines through a splitter of their own. */
static int dotRead(struct shell *sh, const char *path)
{
    FILE *in;
    int failures;
    if (sh->depth >= DOT_MAX_READ_DEPTH) {
        return shellError(".read nested too deeply");
    }
    in = fopen(path, "r");
    if (in == NULL) {
        return shellError("cannot open \"%s\": %s", path, strerror(errno));
    }
    sh->depth++;
    failures = inputStream(sh, in);
    sh->depth--;
    fclose(in);
    return failures > 0 ? -1 : 0;
}

/* .databases: every database of the cluster (the leader's), one name a
 * line; sqlite3 lists the connection's attached schemas instead. */
static int dotDatabases(struct shell *sh)
{
    if (sqlConnect(sh) != 0) {
        return -1;
    }
    char **names = NULL;
    unsigned n = 0;
    int rv = dqlite_conn_databases(sh->conn, &names, &n);
    if (rv != DQLITE_CLIENT_OK) {
        return shellError("%s", dqlite_conn_errmsg(sh->conn));
    }
    for (unsigned i = 0; i < n; i++) {
        fprintf(sh->out, "%s\n", names[i]);
    }
    dqlite_databases_free(names, n);
    return 0;
}

/* The sqlite3-like commands; -2 when none fits. */
static int dotDispatchLite(struct shell *sh, int argc, char *argv[])
{
    const char *cmd = argv[0];
    const char *arg = argc >= 2 ? argv[1] : NULL;
    int flag = arg != NULL ? dotOnOff(arg) : -1;
    if (strcmp(cmd, ".tables") == 0 && argc <= 2) {
        return schemaTables(sh, arg);
    } else if (strcmp(cmd, ".indexes") == 0 && argc <= 2) {
        return schemaIndexes(sh, arg);
    } else if (strcmp(cmd, ".indices") == 0 && argc <= 2) {
        return schemaIndexes(sh, arg);
    } else if (strcmp(cmd, ".schema") == 0 && argc <= 2) {
        return schemaSchema(sh, arg);
    } else if (strcmp(cmd, ".headers") == 0 && argc == 2 && flag >= 0) {
        sh->headers = flag == 1;
        return 0;
    } else if (strcmp(cmd, ".timer") == 0 && argc == 2 && flag >= 0) {
        sh->timer = flag == 1;
        return 0;
    } else if (strcmp(cmd, ".mode") == 0 && argc <= 2) {
        return dotMode(sh, argc, argv);
    } else if (strcmp(cmd, ".read") == 0 && argc == 2) {
        return dotRead(sh, arg);
    } else if (strcmp(cmd, ".databases") == 0 && argc == 1) {
        return dotDatabases(sh);
    } else if (strcmp(cmd, ".backup") == 0 && (argc == 2 || argc == 3)) {
        if (argc == 3 && strcmp(arg, "main") != 0) {
            return shellError("unknown database %s", arg);
        }
        return shellBackup(sh, argv[argc - 1]);
    } else if ((strcmp(cmd, ".quit") == 0 || strcmp(cmd, ".exit") == 0) &&
               argc == 1) {
        sh->quit = true;
        return 0;
    }
    return dotDispatchMember(sh, argc, argv);
}

/* Runs a membership command (member.c); -2 when none fits. */
static int dotDispatchMember(struct shell *sh, int argc, char *argv[])
{
    const char *cmd = argv[0];
    if (strcasecmp(cmd, ".add") == 0 && (argc == 3 || argc == 4)) {
        return memberAdd(sh, argv[1], argv[2], argc == 4 ? argv[3] : NULL);
    } else if (strcasecmp(cmd, ".assign") == 0 && argc == 3) {
        return memberAssign(sh, argv[1], argv[2]);
    } else if (strcasecmp(cmd, ".remove") == 0 && argc == 2) {
        return memberRemove(sh, argv[1]);
    } else if (strcasecmp(cmd, ".transfer") == 0 && argc == 2) {
        return memberTransfer(sh, argv[1]);
    }
    return -2;
}

/* Runs a parsed command; -2 when its arguments do not fit. */
static int dotDispatch(struct shell *sh, int argc, char *argv[])
{
    const char *cmd = argv[0];
    if (strcmp(cmd, ".cluster") == 0 && argc == 1) {
        return dotCluster(sh);
    } else if (strcmp(cmd, ".leader") == 0 && argc == 1) {
        return dotLeader(sh);
    } else if (strcasecmp(cmd, ".describe") == 0 && argc == 2) {
        return dotDescribe(sh, argv[1]);
    } else if (strcasecmp(cmd, ".weight") == 0 && argc == 3) {
        return dotWeight(sh, argv[1], argv[2]);
    } else if (strcasecmp(cmd, ".dump") == 0 && argc == 2 &&
               !dotIsAddress(argv[1])) {
        return dotDumpFile(sh, argv[1]);
    } else if (strcasecmp(cmd, ".dump") == 0 && argc >= 2 && argc <= 4) {
        return dotDump(sh, argv[1], argc >= 3 ? argv[2] : NULL,
                       argc == 4 ? argv[3] : NULL);
    } else if (strcasecmp(cmd, ".restore") == 0 && argc >= 2 && argc <= 4) {
        return shellRestore(sh, argc, argv);
    } else if (strcmp(cmd, ".help") == 0 && argc == 1) {
        fputs(help_text, sh->out);
        return 0;
    }
    return dotDispatchLite(sh, argc, argv);
}

/* Reports a command used with the wrong arguments, or an unknown one. */
static int dotUsage(const char *cmd)
{
    size_t len = strlen(cmd);
    for (const char *l = help_text; *l != '\0'; l = strchr(l, '\n') + 1) {
        if (strncasecmp(l, cmd, len) == 0 && l[len] == ' ') {
            int width = (int)(strstr(l, "  ") - l);
            return shellError("bad command format, should be: %.*s", width, l);
        }
    }
    return shellError("unknown command %s (see .help)", cmd);
}

int dotRun(struct shell *sh, const char *line)
{
    char copy[1024];
    char *argv[DOT_MAX_ARGS + 1] = {NULL};
    int rv;
    if (snprintf(copy, sizeof copy, "%s", line) >= (int)sizeof copy) {
        return shellError("command too long");
    }
    int argc = dotSplit(copy, argv);
    if (argc == 0) {
        return shellError("empty command");
    }
    rv = dotDispatch(sh, argc, argv);
    if (rv == -2) {
        rv = dotUsage(argv[0]);
    }
    fflush(sh->out);
    return rv;
}
