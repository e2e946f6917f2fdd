/*
 * dqlite, the shell: `dqlite -s host:port[,...] DATABASE ["SQL"]`. The
 * command line and the three ways to run (one command given as an
 * argument, statements read from a pipe, an interactive terminal), with the
 * flags of go-dqlite 1.11.5's shell where they overlap (-s/--servers with
 * file:// stores, -f/--format, -c/--cert and -k/--key for TLS), plus --ca.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "shell.h"

#ifndef SHELL_VERSION
#define SHELL_VERSION "unknown"
#endif

#define SERVERS_MAX 64

static const char usage_text[] =
    "NAME\n"
    "    dqlite - shell for a dqlite cluster\n"
    "\n"
    "SYNOPSIS\n"
    "    dqlite -s SERVERS [-f tabular|json] [--cert FILE --key FILE] [--ca "
    "FILE]\n"
    "           [--read-level LEVEL]\n"
    "           DATABASE [COMMAND]\n"
    "\n"
    "DESCRIPTION\n"
    "    Connects to the leader of the cluster reached through SERVERS and "
    "runs\n"
    "    SQL on DATABASE (a file name in the cluster, created on first use) "
    "and\n"
    "    dot-commands on the cluster. COMMAND, if given, is run and the shell\n"
    "    exits: it may hold several statements separated by ';' and stops at\n"
    "    the first failure. Without COMMAND, statements are read from the\n"
    "    terminal (line editing, history in ~/.dqlite_history) or from stdin\n"
    "    when it is not a terminal. As in sqlite3, a statement ends with a\n"
    "    ';' outside quotes, comments and trigger bodies (it may span\n"
    "    lines); a dot-command is one line.\n"
    "\n"
    "    Every statement is sent as a query: one that returns rows (SELECT,\n"
    "    PRAGMA, WITH, EXPLAIN, VALUES, RETURNING) prints them, any other is\n"
    "    executed and prints nothing. By default rows are printed as\n"
    "    go-dqlite's shell prints them: values separated by '|' (NULL as\n"
    "    <nil>, blobs as [1 2 3]), or with --format json as an array of\n"
    "    objects. .mode (or --mode) list, csv, column, json, line or table\n"
    "    prints them byte for byte as the sqlite3 shell does in that mode.\n"
    "    Statements run in autocommit mode; BEGIN ... COMMIT works.\n"
    "\n"
    "DOT-COMMANDS\n"
    "    .cluster                    id (hex)|address|role of every node\n"
    "    .leader                     the leader's address\n"
    "    .add ID ADDRESS [ROLE]      add a node as spare (or with ROLE:\n"
    "                                voter, stand-by, spare)\n"
    "    .assign ID|ADDRESS ROLE     give a node a role; a promotion to\n"
    "                                voter returns once it has caught up\n"
    "    .remove ID|ADDRESS          remove a node\n"
    "    .describe ADDRESS           ADDRESS|failure domain|weight\n"
    "    .weight ADDRESS WEIGHT      set the weight of the node at ADDRESS\n"
    "    .transfer ID|ADDRESS        hand leadership to that node\n"
    "    .dump ADDRESS [DB [DIR]]    write the node's copy of DB (default\n"
    "                                db.bin) and its WAL (as the node holds\n"
    "                                it, not merged) into DIR (default: the\n"
    "                                current directory), then print OK\n"
    "    .dump FILE                  write the leader's copy of the shell's\n"
    "                                DB into FILE (its WAL into FILE-wal)\n"
    "    Node ids are in hex, as .cluster prints them.\n"
    "    .tables, .schema, .indexes, .headers, .mode, .read, .timer,\n"
    "    .backup FILE, .restore FILE, .quit: as in sqlite3 (see .help)\n"
    "    .databases                  the cluster's databases, one a line\n"
    "    .restore FILE [DB] [--force]  load a SQLite file into the cluster\n"
    "                                as DB in one replicated step\n"
    "    .help                       list the dot-commands\n"
    "\n"
    "OPTIONS\n"
    "    -s, --servers LIST    comma-separated HOST:PORT addresses (or\n"
    "                          @abstract-socket names) of cluster nodes, or\n"
    "                          file://PATH of a go-dqlite server store;\n"
    "                          may be repeated; required\n"
    "    -f, --format FORMAT   tabular (default) or json\n"
    "    -c, --cert FILE       TLS: the PEM certificate shown to the nodes\n"
    "    -k, --key FILE        TLS: its PEM private key (both or neither)\n"
    "    --ca FILE             TLS: PEM CA certificates the nodes' must chain\n"
    "                          to, the nodes' names checked against the\n"
    "                          addresses dialled. Without --ca, go-dqlite's\n"
    "                          convention: the certificate is the cluster's\n"
    "                          own CA, and the nodes' certificate must hold\n"
    "                          its first DNS name\n"
    "    -m, --mode MODE       print rows as sqlite3 does in MODE: list,\n"
    "                          csv, column, json, line or table (.mode)\n"
    "    --header              column names above rows (.headers on)\n"
    "    --read-level LEVEL    connect to the first server itself, not the\n"
    "                          leader, and read there at LEVEL:\n"
    "                          linearizable, bounded:MS or any (PRAGMA\n"
    "                          dqlite_consistency); writes fail there\n"
    "                          with \"not leader\" unless it leads\n"
    "    -V, --version         the build (git describe), the ABI and SQLite\n"
    "    -h, --help            this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 when every statement and command succeeded, 1 when one failed\n"
    "    (errors are printed on stderr as \"Error: ...\"), 2 on a bad command\n"
    "    line.\n"
    "\n"
    "EXAMPLES\n"
    "    dqlite -s 127.0.0.1:9001 app \"CREATE TABLE t (n INT)\"\n"
    "    echo \"SELECT * FROM t;\" | dqlite -s 127.0.0.1:9001,127.0.0.1:9002 "
    "app\n"
    "    dqlite -s 127.0.0.1:9001 -f json app .cluster\n";

static const struct option long_options[] = {
    {"servers", required_argument, NULL, 's'},
    {"format", required_argument, NULL, 'f'},
    {"cert", required_argument, NULL, 'c'},
    {"key", required_argument, NULL, 'k'},
    {"ca", required_argument, NULL, 'a'},
    {"mode", required_argument, NULL, 'm'},
    {"header", no_argument, NULL, 'H'},
    {"read-level", required_argument, NULL, 'R'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct args {
    char *servers[SERVERS_MAX]; /* split from every -s */
    unsigned n_servers;
    bool json;
    int mode; /* enum shell_mode */
    bool headers;
    const char *database;
    const char *command; /* NULL: read statements */
    const char *cert;    /* TLS files, NULL */
    const char *key;
    const char *ca;
    const char *read_level; /* --read-level, NULL: the leader */
};

int shellError(const char *fmt, ...)
{
    va_list args;
    fflush(stdout);
    fputs("Error: ", stderr);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
    return -1;
}

int shellProcess(struct shell *sh, const char *input)
{
    return input[0] == '.' ? dotRun(sh, input) : sqlRun(sh, input);
}

/* Adds the comma-separated addresses of one -s option. */
static int argsAddServers(struct args *a, char *list)
{
    char *save = NULL;
    for (char *s = strtok_r(list, ",", &save); s != NULL;
         s = strtok_r(NULL, ",", &save)) {
        if (a->n_servers == SERVERS_MAX) {
            return shellError("too many servers (at most %d)", SERVERS_MAX);
        }
        a->servers[a->n_servers++] = s;
    }
    return 0;
}

static int argsOption(struct args *a, int opt, char *arg)
{
    switch (opt) {
    case 's':
        return argsAddServers(a, arg);
    case 'f':
        if (strcmp(arg, "tabular") != 0 && strcmp(arg, "json") != 0) {
            return shellError("unknown format %s", arg);
        }
        a->json = strcmp(arg, "json") == 0;
        a->mode = a->json ? SHELL_MODE_GO_JSON : SHELL_MODE_TABULAR;
        return 0;
    case 'm':
        a->mode = modeParse(arg);
        if (a->mode < 0) {
            return shellError("unknown mode %s", arg);
        }
        a->json = false;
        a->headers = a->headers || a->mode == SHELL_MODE_COLUMN ||
                     a->mode == SHELL_MODE_TABLE;
        return 0;
    case 'H':
        a->headers = true;
        return 0;
    case 'c':
        a->cert = arg;
        return 0;
    case 'k':
        a->key = arg;
        return 0;
    case 'a':
        a->ca = arg;
        return 0;
    case 'R':
        a->read_level = arg;
        return 0;
    default:
        return -1;
    }
}

/* Parses the command line: 0, 1 after --help, or -1 after a message. */
static int argsParse(int argc, char *argv[], struct args *a)
{
    int opt;
    memset(a, 0, sizeof *a);
    while ((opt = getopt_long(argc, argv, "s:f:m:c:k:a:hV", long_options,
                              NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            return 1;
        }
        if (opt == 'V') {
            printf("dqlite %s (dqlite ABI %s, SQLite %s)\n", DQLITED_BUILD,
                   SHELL_VERSION, sqlite3_libversion());
            return 1;
        }
        if (argsOption(a, opt, optarg) != 0) {
            return -1;
        }
    }
    if (argc - optind < 1 || argc - optind > 2) {
        return shellError("expected DATABASE [COMMAND] (see dqlite --help)");
    }
    if (a->n_servers == 0) {
        return shellError("no servers provided");
    }
    if ((a->cert == NULL) != (a->key == NULL)) {
        return shellError("both TLS certificate and key must be given");
    }
    a->database = argv[optind];
    if (a->database[strcspn(a->database, " \t\n;")] != '\0' ||
        a->database[0] == '.') {
        /* "dqlite -s A 'SELECT 1'": the database name was forgotten. */
        return shellError("\"%s\" is not a database name (expected "
                          "DATABASE [COMMAND])",
                          a->database);
    }
    a->command = argc - optind == 2 ? argv[optind + 1] : NULL;
    return 0;
}

/* A server store from the addresses, or the file:// store. */
static int storeOpen(const struct args *a, struct dqlite_server_store **store)
{
    struct stat st;
    if (strncmp(a->servers[0], "file://", 7) == 0) {
        const char *path = a->servers[0] + 7;
        if (a->n_servers > 1) {
            return shellError("can't mix server store and explicit list");
        }
        if (stat(path, &st) != 0 ||
            dqlite_server_store_open(path, store) != 0) {
            return shellError("open servers store: %s", path);
        }
        return 0;
    }
    if (dqlite_server_store_create(store) != 0) {
        return shellError("out of memory");
    }
    for (unsigned i = 0; i < a->n_servers; i++) {
        if (dqlite_server_store_add(*store, 0, a->servers[i], DQLITE_VOTER) !=
            0) {
            return shellError("bad server address %s", a->servers[i]);
        }
    }
    return 0;
}

/* The driver's last error message (a TLS file it cannot use). */
static char driver_error[512];

static void logError(void *arg, int level, const char *message)
{
    (void)arg;
    if (level >= DQLITE_CLIENT_LOG_ERROR) {
        snprintf(driver_error, sizeof driver_error, "%s", message);
    }
}

/* The driver, with TLS when asked. */
static int driverOpen(const struct args *a, struct shell *sh)
{
    struct dqlite_driver_options o;
    int rv;
    dqlite_driver_options_init(&o);
    o.log = logError;
    o.log_arg = NULL;
    o.log_level = DQLITE_CLIENT_LOG_ERROR;
    o.direct_read_level = a->read_level;
    if (a->cert != NULL || a->ca != NULL) {
        o.tls = true;
        o.tls_cert_file = a->cert;
        o.tls_key_file = a->key;
        o.tls_ca_file = a->ca;
        o.tls_verify = a->ca == NULL ? DQLITE_CLIENT_TLS_VERIFY_CERT_NAME
                                     : DQLITE_CLIENT_TLS_VERIFY_HOST;
    }
    rv = dqlite_driver_create(sh->store, &o, &sh->driver);
    if (rv != 0) {
        return shellError("%s", driver_error[0] != '\0'
                                    ? driver_error
                                    : "cannot create driver");
    }
    return 0;
}

/* Runs the command or the statements of stdin; returns the exit code. */
static int shellRun(struct shell *sh, const char *command)
{
    if (command != NULL) {
        struct splitter s;
        splitterInit(&s, true);
        if (splitterFeed(&s, command, sh) != 0) {
            s.failures += shellError("out of memory") != 0;
        }
        splitterFlush(&s, sh);
        int failures = s.failures;
        splitterFree(&s);
        return failures > 0 ? 1 : 0;
    }
    if (isatty(STDIN_FILENO)) {
        return inputInteractive(sh) > 0 ? 1 : 0;
    }
    return inputStream(sh, stdin) > 0 ? 1 : 0;
}

int main(int argc, char *argv[])
{
    struct args a;
    struct shell sh = {.out = stdout};
    /* A reader that stops early ("dqlite --help | grep -q X") is no
     * failure of ours: EPIPE, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    int rv = argsParse(argc, argv, &a);
    if (rv != 0) {
        return rv > 0 ? 0 : 2;
    }
    sh.database = a.database;
    sh.json = a.json;
    sh.mode = a.mode;
    sh.headers = a.headers;
    rv = 1;
    if (storeOpen(&a, &sh.store) == 0 && driverOpen(&a, &sh) == 0) {
        rv = shellRun(&sh, a.command);
    }
    dqlite_conn_close(sh.conn);
    dqlite_driver_destroy(sh.driver);
    dqlite_server_store_close(sh.store);
    return rv;
}
