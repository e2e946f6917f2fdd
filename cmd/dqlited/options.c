/*
 * dqlited's command line: the options, their checks and the --help text
 * (the daemon's manual page, kept next to the code that reads the options
 * so the two cannot drift apart).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dqlite.h>

#include "dqlited.h"

static const char usage_text[] =
    "NAME\n"
    "    dqlited - run one dqlite node\n"
    "\n"
    "SYNOPSIS\n"
    "    dqlited --address HOST:PORT --dir DIR [--id N] [--join "
    "ADDR[,ADDR...]]\n"
    "            [options]\n"
    "    dqlited --address HOST:PORT --dir DIR --recover LIST\n"
    "\n"
    "DESCRIPTION\n"
    "    Runs one node of a dqlite cluster: SQLite replicated with Raft, "
    "served\n"
    "    with the dqlite wire protocol v1 (clients and peers share the port).\n"
    "\n"
    "    Node 1 started on an empty directory bootstraps a new one-node "
    "cluster.\n"
    "    Any other node started on an empty directory with --join asks the\n"
    "    cluster's leader (found through the listed addresses) to add it, "
    "then\n"
    "    to give it --role; without --join it waits for a client to add it.\n"
    "    A node restarted on its directory resumes: --join is then ignored if\n"
    "    the node is already a member.\n"
    "\n"
    "    Once the node serves (and, with --join, is a member) one line goes "
    "to\n"
    "    stdout, for scripts to wait for:\n"
    "        listening on BIND-ADDRESS (node ID)\n"
    "    Logs go to stderr. SIGTERM or SIGINT stops the node gracefully: it\n"
    "    hands leadership over when it can, closes its connections and files,\n"
    "    and exits 0. A statement running at that moment is interrupted. A\n"
    "    stop that takes over 30 s is ended: one ERROR line is logged and the\n"
    "    process exits 6. SIGHUP never stops the node: it reads the log\n"
    "    level again (CONFIGURATION) and reloads the --tls-* files (a failed\n"
    "    reload keeps the previous ones, logged). Under systemd\n"
    "    (Type=notify) dqlited says READY=1 once it serves, and STOPPING=1.\n"
    "    A node removed from the cluster while it runs notices\n"
    "    (within a few election timeouts without a leader), logs it, stops\n"
    "    and exits 13.\n"
    "    --log-level filters dqlited's lines and the node's own.\n"
    "\n"
    "    The node locks DIR while it runs (DIR/node.lock): a second node on\n"
    "    it is refused with \"data directory DIR is in use by another node\n"
    "    (pid N)\" and exit 12. The first start writes DIR/node-id with the\n"
    "    node's id, once the node is started (a start that fails, e.g. on a\n"
    "    busy address, leaves DIR unclaimed). A later start with another --id\n"
    "    is refused, and so is a directory holding node state (metadata,\n"
    "    seg-*, snap-*) without a node-id file; other files in DIR are left\n"
    "    alone.\n"
    "\n"
    "    --recover LIST is quorum-loss recovery, run on a stopped node's\n"
    "    directory when a majority of the voters is lost for good: it "
    "replaces\n"
    "    the cluster configuration with LIST (appended to the log, durable),\n"
    "    prints \"recovered node ID in DIR: ...\" and exits 0 without "
    "serving.\n"
    "    Started again on DIR, the node runs in that configuration with every\n"
    "    entry of its log kept; new nodes then join it as usual. Run it on "
    "the\n"
    "    survivor with the most recent log, with every node stopped. LIST is\n"
    "    \"self\" (a one-node cluster: this node as voter) or comma-separated\n"
    "    ID=ADDRESS[=ROLE] items (ROLE voter, standby or spare; voter by\n"
    "    default) naming this node and at least one voter.\n"
    "\n"
    "OPTIONS\n"
    "    -i, --id N               node id, at least 1 (default: the one in\n"
    "                             DIR/node-id; at first start 1 without "
    "--join,\n"
    "                             a random id with --join)\n"
    "    -a, --address HOST:PORT  address advertised to peers and clients\n"
    "                             (HOST:PORT, HOST an IPv4 address, [IPv6]\n"
    "                             or a name such as localhost, resolved; or\n"
    "                             @NAME for an abstract Unix socket); "
    "required\n"
    "    -b, --bind ADDRESS       address to listen on (default: --address)\n"
    "    -d, --dir DIR            data directory, created if missing; "
    "required\n"
    "    -j, --join ADDR[,ADDR]   addresses of cluster members to join "
    "through\n"
    "    -r, --role ROLE          voter (default), standby or spare, for "
    "--join\n"
    "        --join-timeout SEC   give up joining after SEC seconds (0: keep\n"
    "                             trying until stopped, the default)\n"
    "    -l, --log-level LEVEL    debug, info (default), warn or error\n"
    "        --latency-ms MS      typical network latency; scales the "
    "heartbeat\n"
    "                             (1.5x) and election (15x) timeouts\n"
    "        --failure-domain N   failure domain reported by DESCRIBE\n"
    "        --voters N           automatic roles: keep N voters (odd), as\n"
    "                             this node leads (docs/roles.md; off)\n"
    "        --standbys N         automatic roles: keep N stand-bys (0)\n"
    "        --statement-timeout MS  interrupt a statement running longer\n"
    "                             than MS milliseconds; its client gets\n"
    "                             \"statement timed out after MS ms\"\n"
    "                             (default 10000; 0: no bound)\n"
    "        --snapshot-threshold N  snapshot every N applied entries (1024)\n"
    "        --read-lease on|off  a leader answers linearizable reads from\n"
    "                             its lease, with no round trip to a quorum\n"
    "                             (docs/raft.md \"Leader leases\"; on)\n"
    "        --snapshot-trailing N   entries kept in the log after (8192)\n"
    "        --idle-timeout SEC   close a client connection idle for SEC\n"
    "                             seconds (300; 0: never)\n"
    "        --stall-timeout SEC  close a client connection that reads "
    "nothing\n"
    "                             of a pending response (the rows of its\n"
    "                             query) for SEC seconds (30; 0: never)\n"
    "        --client-memory MIB  bytes all client connections may hold, in\n"
    "                             MiB; a request past it is refused (1024;\n"
    "                             0: no bound)\n"
    "        --entry-cache MIB    raft entry bytes kept in memory, in MiB\n"
    "                             (64; 0: no bound,\n"
    "                             docs/raft.md \"Memory\")\n"
    "        --tls-cert FILE      serve TLS on the port (clients and peers), "
    "with\n"
    "                             this certificate (PEM), also the client\n"
    "                             certificate when dialling peers\n"
    "        --tls-key FILE       its private key (PEM)\n"
    "        --tls-ca FILE        the cluster's CA (PEM); every client and "
    "peer\n"
    "                             must present a certificate it signed. For\n"
    "                             go-dqlite's one self-signed certificate per\n"
    "                             cluster, the certificate itself. SIGHUP\n"
    "                             reloads the three files\n"
    "        --tls-client-auth required|optional  whether clients need a\n"
    "                             certificate (required; peers always do)\n"
    "        --tls-admin-auth off|on  on: peer streams need a node "
    "certificate\n"
    "                             (this node's own, or OU=dqlite-node), and\n"
    "                             membership, roles, DUMP and WEIGHT a node "
    "or\n"
    "                             admin one (OU=dqlite-admin) (off)\n"
    "        --tls12              accept TLS 1.2 too (1.3 only otherwise)\n"
    "        --tls-handshake-timeout MS  close a connection whose TLS\n"
    "                             handshake takes longer (10000)\n"
    "        --recover LIST       rewrite the configuration and exit (above)\n"
    "        --http HOST:PORT     serve HTTP there: /metrics (Prometheus),\n"
    "                             /healthz, /readyz and rqlite's data API\n"
    "                             (HTTPS with the --tls-* files)\n"
    "        --http-auth FILE     rqlite's auth.json: basic auth and\n"
    "                             per-user permissions on the data API\n"
    "        --log-format text|json  text lines (default) or one JSON "
    "object\n"
    "                             per line: {\"time\",\"level\",\"msg\"}\n"
    "    -c, --config FILE        read options from FILE (default\n"
    "                             /etc/dqlited.conf when it exists)\n"
    "    -h, --help               this text\n"
    "    -V, --version            the build (git describe) and the ABI\n"
    "\n"
    "CONFIGURATION\n"
    "    Every option can be set in the configuration file, one per line as\n"
    "    NAME = VALUE (NAME the long option without dashes, e.g.\n"
    "    \"log-level = debug\"; a flag alone: \"tls12\"; # starts a "
    "comment),\n"
    "    or in the environment as DQLITED_NAME, upper case, dashes as\n"
    "    underscores (DQLITED_LOG_LEVEL=debug; DQLITED_CONFIG names the "
    "file).\n"
    "    The command line wins over the environment, which wins over the "
    "file.\n"
    "    SIGHUP reads the log level again from the file and the environment\n"
    "    (unless --log-level was given on the command line) and reloads the\n"
    "    --tls-* files; it never stops the node.\n"
    "\n"
    "EXIT STATUS\n"
    "    0  stopped by SIGTERM or SIGINT after a clean shutdown\n"
    "    1  the node could not be created, bound or started (or "
    "recovered)\n"
    "    2  bad command line (also --id 1 with --join on an empty DIR)\n"
    "    3  data directory refused (another node's, or unusable; with\n"
    "       --recover also an empty one)\n"
    "    4  could not join the cluster within --join-timeout\n"
    "    5  the node failed to stop cleanly\n"
    "    6  the stop did not finish within 30 s: forced exit (logged)\n"
    "    12 the data directory is in use by another running node\n"
    "    13 the node was removed from the cluster while it ran\n"
    "    15 the node stopped serving: its data directory cannot be written\n"
    "       (read-only, failing disk) or its state cannot be applied; the\n"
    "       log names the file and the system's error\n"
    "\n"
    "EXAMPLES\n"
    "    dqlited --id 1 --address 127.0.0.1:9001 --dir data/1\n"
    "    dqlited --id 2 --address 127.0.0.1:9002 --dir data/2 \\\n"
    "            --join 127.0.0.1:9001\n"
    "    dqlited --id 1 --address 127.0.0.1:9001 --dir data/1 --recover self\n";

enum {
    OPT_LATENCY = 256,
    OPT_FAILURE_DOMAIN,
    OPT_SNAP_THRESHOLD,
    OPT_SNAP_TRAILING,
    OPT_JOIN_TIMEOUT,
    OPT_RECOVER,
    OPT_VOTERS,
    OPT_STANDBYS,
    OPT_STATEMENT_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_STALL_TIMEOUT,
    OPT_CLIENT_MEMORY,
    OPT_ENTRY_CACHE,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_CA,
    OPT_TLS_CLIENT_AUTH,
    OPT_TLS_ADMIN_AUTH,
    OPT_TLS12,
    OPT_TLS_HANDSHAKE_TIMEOUT,
    OPT_HTTP,
    OPT_HTTP_AUTH,
    OPT_LOG_FORMAT,
    OPT_READ_LEASE,
};

static const struct option long_options[] = {
    {"id", required_argument, NULL, 'i'},
    {"address", required_argument, NULL, 'a'},
    {"bind", required_argument, NULL, 'b'},
    {"dir", required_argument, NULL, 'd'},
    {"join", required_argument, NULL, 'j'},
    {"role", required_argument, NULL, 'r'},
    {"log-level", required_argument, NULL, 'l'},
    {"latency-ms", required_argument, NULL, OPT_LATENCY},
    {"failure-domain", required_argument, NULL, OPT_FAILURE_DOMAIN},
    {"snapshot-threshold", required_argument, NULL, OPT_SNAP_THRESHOLD},
    {"snapshot-trailing", required_argument, NULL, OPT_SNAP_TRAILING},
    {"join-timeout", required_argument, NULL, OPT_JOIN_TIMEOUT},
    {"recover", required_argument, NULL, OPT_RECOVER},
    {"voters", required_argument, NULL, OPT_VOTERS},
    {"standbys", required_argument, NULL, OPT_STANDBYS},
    {"statement-timeout", required_argument, NULL, OPT_STATEMENT_TIMEOUT},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"stall-timeout", required_argument, NULL, OPT_STALL_TIMEOUT},
    {"client-memory", required_argument, NULL, OPT_CLIENT_MEMORY},
    {"entry-cache", required_argument, NULL, OPT_ENTRY_CACHE},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"tls-client-auth", required_argument, NULL, OPT_TLS_CLIENT_AUTH},
    {"tls-admin-auth", required_argument, NULL, OPT_TLS_ADMIN_AUTH},
    {"tls12", no_argument, NULL, OPT_TLS12},
    {"tls-handshake-timeout", required_argument, NULL,
     OPT_TLS_HANDSHAKE_TIMEOUT},
    {"http", required_argument, NULL, OPT_HTTP},
    {"http-auth", required_argument, NULL, OPT_HTTP_AUTH},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"config", required_argument, NULL, 'c'},
    {"read-lease", required_argument, NULL, OPT_READ_LEASE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

const struct option *optionsTable(void)
{
    return long_options;
}

/* Prints the --help text with one write(2) when it can: split into
 * stdio-buffer-sized writes, `dqlited --help | grep -q WORD` could see
 * grep exit before the last write, and dqlited die of SIGPIPE. */
static void printUsage(void)
{
    const char *p = usage_text;
    size_t left = sizeof usage_text - 1;
    fflush(stdout);
    while (left > 0) {
        ssize_t n = write(STDOUT_FILENO, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        p += n;
        left -= (size_t)n;
    }
}

/* A whole decimal number in [min, max]. */
static int parseNumber(const char *name, const char *text, uint64_t min,
                       uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] == '\0' || text[0] == '-' || *end != '\0' || errno != 0 ||
        v < min || v > max) {
        fprintf(stderr,
                "dqlited: --%s: expected a number in %llu..%llu, "
                "got \"%s\"\n",
                name, (unsigned long long)min, (unsigned long long)max, text);
        return -1;
    }
    *out = v;
    return 0;
}

static int parseRole(const char *text, int *role)
{
    static const char *const names[] = {"voter", "standby", "spare"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(text, names[i]) == 0) {
            *role = i; /* DQLITE_VOTER, DQLITE_STANDBY, DQLITE_SPARE */
            return 0;
        }
    }
    if (strcmp(text, "stand-by") == 0) {
        *role = DQLITE_STANDBY;
        return 0;
    }
    fprintf(stderr,
            "dqlited: --role: expected voter, standby or spare, "
            "got \"%s\"\n",
            text);
    return -1;
}

static int parseLevel(const char *text, int *level)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, names[i]) == 0) {
            *level = i;
            return 0;
        }
    }
    fprintf(stderr,
            "dqlited: --log-level: expected debug, info, warn or "
            "error, got \"%s\"\n",
            text);
    return -1;
}

static int parseFormat(const char *text, int *format)
{
    if (strcmp(text, "text") == 0 || strcmp(text, "json") == 0) {
        *format = strcmp(text, "json") == 0 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT;
        return 0;
    }
    fprintf(stderr,
            "dqlited: --log-format: expected text or json, got \"%s\"\n", text);
    return -1;
}

/* Applies one of the client limits; -1 on a bad value. */
static int optionClientLimit(int opt, const char *arg, struct config *cfg)
{
    uint64_t v = 0;
    int rv = -1;
    cfg->client_limits_set = true;
    switch (opt) {
    case OPT_IDLE_TIMEOUT:
        rv = parseNumber("idle-timeout", arg, 0, 86400, &v);
        cfg->idle_timeout_s = (unsigned)v;
        break;
    case OPT_STALL_TIMEOUT:
        rv = parseNumber("stall-timeout", arg, 0, 86400, &v);
        cfg->stall_timeout_s = (unsigned)v;
        break;
    case OPT_CLIENT_MEMORY:
        rv = parseNumber("client-memory", arg, 0, (uint64_t)1 << 30,
                         &cfg->client_memory_mib);
        break;
    }
    return rv;
}

/* Applies one numeric option; -1 on a bad value (already reported). */
static int optionNumber(int opt, const char *arg, struct config *cfg)
{
    uint64_t v = 0;
    int rv = -1;
    switch (opt) {
    case 'i':
        return parseNumber("id", arg, 1, UINT64_MAX, &cfg->id);
    case OPT_FAILURE_DOMAIN:
        cfg->failure_domain_set = true;
        return parseNumber("failure-domain", arg, 0, UINT64_MAX,
                           &cfg->failure_domain);
    case OPT_LATENCY:
        rv = parseNumber("latency-ms", arg, 1, 3600000, &v);
        cfg->latency_ms = (unsigned)v;
        break;
    case OPT_SNAP_THRESHOLD:
        rv = parseNumber("snapshot-threshold", arg, 1, UINT32_MAX, &v);
        cfg->snapshot_threshold = (unsigned)v;
        break;
    case OPT_SNAP_TRAILING:
        rv = parseNumber("snapshot-trailing", arg, 1, UINT32_MAX, &v);
        cfg->snapshot_trailing = (unsigned)v;
        break;
    case OPT_JOIN_TIMEOUT:
        rv = parseNumber("join-timeout", arg, 0, 86400, &v);
        cfg->join_timeout_s = (unsigned)v;
        break;
    case OPT_VOTERS:
        rv = parseNumber("voters", arg, 1, 99, &v);
        cfg->auto_voters = (unsigned)v;
        break;
    case OPT_STANDBYS:
        rv = parseNumber("standbys", arg, 0, 99, &v);
        cfg->auto_standbys = (unsigned)v;
        break;
    case OPT_ENTRY_CACHE:
        rv = parseNumber("entry-cache", arg, 0, (uint64_t)1 << 30, &v);
        cfg->entry_cache_mib = v;
        cfg->entry_cache_set = true;
        break;
    case OPT_STATEMENT_TIMEOUT:
        rv = parseNumber("statement-timeout", arg, 0, 86400000, &v);
        cfg->statement_timeout_ms = (unsigned)v;
        cfg->statement_timeout_set = true;
        break;
    case OPT_IDLE_TIMEOUT:
    case OPT_STALL_TIMEOUT:
    case OPT_CLIENT_MEMORY:
        rv = optionClientLimit(opt, arg, cfg);
        break;
    case OPT_READ_LEASE:
        rv = 0;
        cfg->read_lease_set = true;
        if (strcmp(arg, "on") == 0 || strcmp(arg, "off") == 0) {
            cfg->read_lease = strcmp(arg, "on") == 0;
        } else {
            fprintf(stderr,
                    "dqlited: --read-lease: expected on or off, got \"%s\"\n",
                    arg);
            rv = -1;
        }
        break;
    }
    return rv;
}

/* One of two words: `flag` set in cfg->tls_flags for the second. */
static int parseSwitch(const char *name, const char *text, const char *off,
                       const char *on, unsigned flag, struct config *cfg)
{
    if (strcmp(text, off) == 0) {
        cfg->tls_flags &= ~flag;
        return 0;
    }
    if (strcmp(text, on) == 0) {
        cfg->tls_flags |= flag;
        return 0;
    }
    fprintf(stderr, "dqlited: --%s: expected %s or %s, got \"%s\"\n", name, off,
            on, text);
    return -1;
}

/* Applies one TLS option; -1 on a bad value (already reported). */
static int optionTls(int opt, const char *arg, struct config *cfg)
{
    uint64_t v = 0;
    int rv = 0;
    switch (opt) {
    case OPT_TLS_CERT:
        cfg->tls_cert = arg;
        break;
    case OPT_TLS_KEY:
        cfg->tls_key = arg;
        break;
    case OPT_TLS_CA:
        cfg->tls_ca = arg;
        break;
    case OPT_TLS_CLIENT_AUTH:
        rv = parseSwitch("tls-client-auth", arg, "required", "optional",
                         DQLITE_TLS_CLIENT_AUTH_OPTIONAL, cfg);
        break;
    case OPT_TLS_ADMIN_AUTH:
        rv = parseSwitch("tls-admin-auth", arg, "off", "on",
                         DQLITE_TLS_ADMIN_AUTH, cfg);
        break;
    case OPT_TLS12:
        cfg->tls_flags |= DQLITE_TLS_ALLOW_TLS12;
        break;
    case OPT_TLS_HANDSHAKE_TIMEOUT:
        rv = parseNumber("tls-handshake-timeout", arg, 1, 3600000, &v);
        cfg->tls_handshake_timeout_ms = (unsigned)v;
        break;
    }
    return rv;
}

/* Applies one option; -1 on a bad value (already reported). */
static int optionApply(int opt, const char *arg, struct config *cfg)
{
    switch (opt) {
    case 'a':
        cfg->address = arg;
        return 0;
    case 'b':
        cfg->bind = arg;
        return 0;
    case 'd':
        cfg->dir = arg;
        return 0;
    case 'j':
        cfg->join = arg;
        return 0;
    case OPT_RECOVER:
        cfg->recover = arg;
        return 0;
    case OPT_HTTP:
        cfg->http = arg;
        return 0;
    case OPT_HTTP_AUTH:
        cfg->http_auth = arg;
        return 0;
    case OPT_LOG_FORMAT:
        return parseFormat(arg, &cfg->log_format);
    case 'c':
        return 0; /* read before the other options (sourcesCollect) */
    case 'r':
        return parseRole(arg, &cfg->role);
    case 'l':
        return parseLevel(arg, &cfg->log_level);
    case OPT_TLS_CERT:
    case OPT_TLS_KEY:
    case OPT_TLS_CA:
    case OPT_TLS_CLIENT_AUTH:
    case OPT_TLS_ADMIN_AUTH:
    case OPT_TLS12:
    case OPT_TLS_HANDSHAKE_TIMEOUT:
        return optionTls(opt, arg, cfg);
    default:
        return optionNumber(opt, arg, cfg);
    }
}

static int optionsCheck(const struct config *cfg)
{
    if (cfg->address == NULL || cfg->dir == NULL) {
        fprintf(stderr, "dqlited: --address and --dir are required "
                        "(see dqlited --help)\n");
        return -1;
    }
    if (cfg->recover != NULL && cfg->join != NULL) {
        fprintf(stderr, "dqlited: --recover and --join exclude each other\n");
        return -1;
    }
    bool tls_any =
        cfg->tls_cert != NULL || cfg->tls_key != NULL || cfg->tls_ca != NULL;
    bool tls_all =
        cfg->tls_cert != NULL && cfg->tls_key != NULL && cfg->tls_ca != NULL;
    if (tls_any && !tls_all) {
        fprintf(stderr, "dqlited: --tls-cert, --tls-key and --tls-ca go "
                        "together\n");
        return -1;
    }
    if (cfg->snapshot_threshold != 0 && cfg->snapshot_trailing != 0 &&
        cfg->snapshot_threshold > cfg->snapshot_trailing) {
        fprintf(stderr, "dqlited: --snapshot-threshold must not exceed "
                        "--snapshot-trailing\n");
        return -1;
    }
    return 0;
}

int optionsParse(int argc, char *argv[], struct config *cfg)
{
    int opt;
    char **args = NULL;
    int n_args = 0;
    memset(cfg, 0, sizeof *cfg);
    cfg->role = DQLITE_VOTER;
    cfg->log_level = LOG_INFO;
    cfg->join_timeout_s = 0;   /* a daemon keeps trying until stopped */
    cfg->idle_timeout_s = 300; /* the library's defaults */
    cfg->stall_timeout_s = 30;
    cfg->client_memory_mib = 1024;
    cfg->log_level_fixed = commandLineHas(argc, argv, "log-level", 'l');
    if (sourcesCollect(argc, argv, cfg, &args, &n_args) != 0) {
        return DQLITED_EXIT_USAGE;
    }
    while ((opt = getopt_long(n_args, args, "i:a:b:d:j:r:l:c:hV", long_options,
                              NULL)) != -1) {
        if (opt == 'h') {
            printUsage();
            return DQLITED_EXIT_OK;
        }
        if (opt == 'V') {
            int v = dqlite_version_number();
            printf("dqlited %s (dqlite ABI %d.%d.%d)\n", DQLITED_BUILD,
                   v / 10000, v / 100 % 100, v % 100);
            return DQLITED_EXIT_OK;
        }
        if (opt == '?' || optionApply(opt, optarg, cfg) != 0) {
            return DQLITED_EXIT_USAGE;
        }
    }
    if (optind < n_args) {
        fprintf(stderr, "dqlited: unexpected argument \"%s\"\n", args[optind]);
        return DQLITED_EXIT_USAGE;
    }
    return optionsCheck(cfg) == 0 ? -1 : DQLITED_EXIT_USAGE;
}
