/*
 * The shell's dot-commands, as go-dqlite's shell has them (.cluster,
 * .leader, .remove, .describe, .weight, .dump) plus .transfer and .help.
 * Each opens a cluster client (dqlite_client.h) for the one command: to the
 * leader found through the store, or to the node the command names.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "shell.h"

#define DOT_MAX_ARGS 4

static const char *const role_names[] = {"voter", "stand-by", "spare"};

static const char help_text[] =
    ".cluster                     the cluster's nodes: id (hex)|address|role\n"
    ".leader                      the leader's address\n"
    ".remove <address>            remove the node at <address>\n"
    ".describe <address>          address|failure domain|weight of a node\n"
    ".weight <address> <weight>   set a node's weight\n"
    ".transfer <id|address>       hand leadership to a node (id in hex, as\n"
    "                             .cluster prints it)\n"
    ".dump <address> [<db>]       write a node's copy of database <db>\n"
    "                             (default db.bin) and its WAL into the\n"
    "                             current directory\n"
    ".help                        this text\n";

/* Splits a line into words (in place); returns their number. */
static int dotSplit(char *line, char *argv[DOT_MAX_ARGS + 1])
{
    int argc = 0;
    char *save = NULL;
    for (char *w = strtok_r(line, " \t", &save); w != NULL;
         w = strtok_r(NULL, " \t", &save)) {
        if (argc == DOT_MAX_ARGS + 1) {
            return argc;
        }
        argv[argc++] = w;
    }
    return argc;
}

/* A cluster client to the leader or to `address`; reports failures. */
static struct dqlite_client *dotClient(struct shell *sh, const char *address)
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
static uint64_t dotFindAddress(struct dqlite_client *cli, const char *address)
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

static int dotRemove(struct shell *sh, const char *address)
{
    struct dqlite_client *cli = dotClient(sh, NULL);
    uint64_t id;
    if (cli == NULL) {
        return -1;
    }
    id = dotFindAddress(cli, address);
    if (id == 0) {
        dqlite_client_close(cli);
        return -1;
    }
    if (dqlite_client_remove(cli, id) != 0) {
        shellError("remove node \"%s\": %s", address,
                   dqlite_client_errmsg(cli));
        dqlite_client_close(cli);
        return -1;
    }
    dqlite_client_close(cli);
    return 0;
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
static int dotParseNumber(const char *text, int base, uint64_t *out)
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

static int dotTransfer(struct shell *sh, const char *target)
{
    uint64_t id = 0;
    struct dqlite_client *cli = dotClient(sh, NULL);
    if (cli == NULL) {
        return -1;
    }
    if (strchr(target, ':') != NULL || target[0] == '@') {
        id = dotFindAddress(cli, target);
    } else if (dotParseNumber(target, 16, &id) != 0 || id == 0) {
        shellError("bad node id \"%s\" (an id in hex as .cluster prints it, "
                   "or an address)",
                   target);
        id = 0;
    }
    if (id == 0) {
        dqlite_client_close(cli);
        return -1;
    }
    if (dqlite_client_transfer(cli, id) != 0) {
        return dotFail(cli, "transfer");
    }
    dqlite_client_close(cli);
    return 0;
}

/* Writes one dumped file into the current directory (mode 0600). */
static int dotWriteFile(const struct dqlite_file *f)
{
    const char *p = f->data;
    size_t left = f->size;
    int fd = open(f->name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || strchr(f->name, '/') != NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return shellError("cannot write %s: %s", f->name,
                          fd < 0 ? strerror(errno) : "bad file name");
    }
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            close(fd);
            return shellError("cannot write %s: %s", f->name, strerror(errno));
        }
        p += n;
        left -= (size_t)n;
    }
    return close(fd) == 0 ? 0 : shellError("cannot write %s", f->name);
}

static int dotDump(struct shell *sh, const char *address, const char *db)
{
    struct dqlite_file *files = NULL;
    unsigned n = 0;
    int rv = 0;
    struct dqlite_client *cli = dotClient(sh, address);
    if (cli == NULL) {
        return -1;
    }
    if (dqlite_client_dump(cli, db != NULL ? db : "db.bin", &files, &n) != 0) {
        return dotFail(cli, "dump failed");
    }
    for (unsigned i = 0; i < n && rv == 0; i++) {
        rv = dotWriteFile(&files[i]);
    }
    dqlite_file_free(files, n);
    dqlite_client_close(cli);
    if (rv == 0) {
        fputs("OK\n", sh->out);
    }
    return rv;
}

/* Runs a parsed command; -2 when its arguments do not fit. */
static int dotDispatch(struct shell *sh, int argc, char *argv[])
{
    const char *cmd = argv[0];
    if (strcmp(cmd, ".cluster") == 0 && argc == 1) {
        return dotCluster(sh);
    } else if (strcmp(cmd, ".leader") == 0 && argc == 1) {
        return dotLeader(sh);
    } else if (strcasecmp(cmd, ".remove") == 0 && argc == 2) {
        return dotRemove(sh, argv[1]);
    } else if (strcasecmp(cmd, ".describe") == 0 && argc == 2) {
        return dotDescribe(sh, argv[1]);
    } else if (strcasecmp(cmd, ".weight") == 0 && argc == 3) {
        return dotWeight(sh, argv[1], argv[2]);
    } else if (strcasecmp(cmd, ".transfer") == 0 && argc == 2) {
        return dotTransfer(sh, argv[1]);
    } else if (strcasecmp(cmd, ".dump") == 0 && (argc == 2 || argc == 3)) {
        return dotDump(sh, argv[1], argc == 3 ? argv[2] : NULL);
    } else if (strcmp(cmd, ".help") == 0 && argc == 1) {
        fputs(help_text, sh->out);
        return 0;
    }
    return -2;
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
