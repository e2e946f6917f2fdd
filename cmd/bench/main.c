/*
 * dqlite-bench's command line: parses the options, builds the client driver
 * over an in-memory server store (or nothing, for --sqlite), runs each
 * workload item in turn and prints one result row per item. Exit status 0
 * when every item ran, 1 when one failed, 2 for a bad command line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define DEFAULT_WORKLOADS                                                \
    "insert:1,insert:8,insert:32,tx100,tx1000,read:1,read:8,scan,mix:8," \
    "insert:1/1024,tx100/1024"

static const char kUsage[] =
    "NAME\n"
    "    dqlite-bench - throughput and latency of a dqlite cluster or of\n"
    "    local SQLite\n"
    "\n"
    "SYNOPSIS\n"
    "    dqlite-bench -s ADDR[,ADDR...] [options]\n"
    "    dqlite-bench --sqlite FILE [options]\n"
    "    dqlite-bench --probe DIR [-t SEC]\n"
    "\n"
    "WORKLOADS (-w: comma list of NAME[:CLIENTS][/VALUE_BYTES]; clients 1,\n"
    "value 100 bytes unless given)\n"
    "    insert   one autocommit INSERT of a random blob per op\n"
    "    tx100    BEGIN, 100 single-row INSERTs, COMMIT per op\n"
    "    tx1000   the same with 1000 rows\n"
    "    read     SELECT by a random primary key of a --read-rows table\n"
    "    scan     SELECT of the table's first --scan-rows rows per op\n"
    "    mix      90% read, 10% insert\n"
    "    NAME...+long  the same while one more connection runs a CPU-bound\n"
    "             query (a recursive count to 2e7, a few seconds) over and\n"
    "             over; its count and failures go to stderr\n"
    "    default: " DEFAULT_WORKLOADS "\n"
    "    The read table (bench_r<BYTES>) is loaded when missing or short; the\n"
    "    load is reported as a 'load' row. Busy answers are retried after\n"
    "    0.1-1 ms and counted; an op's latency includes its retries.\n"
    "\n"
    "OPTIONS\n"
    "    -s, --servers LIST     cluster addresses (any member)\n"
    "        --sqlite FILE      local SQLite, WAL, synchronous=FULL\n"
    "    -d, --db NAME          database name (default bench)\n"
    "    -w, --workloads LIST   workload items (default above)\n"
    "    -t, --duration SEC     per workload (default 5; 0 = --ops only)\n"
    "    -n, --ops N            per workload (default 0 = no limit)\n"
    "        --read-rows N      rows of the read table (default 100000)\n"
    "        --scan-rows N      rows per scan (default 10000)\n"
    "    -p, --pids LIST        server PIDs: CPU and RSS from /proc (with\n"
    "                           --sqlite and no --pids: this process)\n"
    "    -f, --format F         text (default), csv or json\n"
    "        --no-header        CSV without its header line\n"
    "    -l, --label TEXT       first column of each row (default: target)\n"
    "        --tls              TLS to the cluster (with --cert and --key;\n"
    "                           without --ca the certificate is the\n"
    "                           cluster's CA and the nodes' certificate\n"
    "                           must hold its first DNS name, go-dqlite's\n"
    "                           convention; with --ca the nodes' names are\n"
    "                           checked against the addresses)\n"
    "        --cert FILE        PEM client certificate\n"
    "        --key FILE         its PEM private key\n"
    "        --ca FILE          PEM CA certificates of the nodes\n"
    "        --probe DIR        print the fdatasync rate of 4 KiB appends and\n"
    "                           overwrites in DIR and the loopback TCP round\n"
    "                           trip (median), -t seconds each (default 2)\n"
    "    -h, --help             this text\n"
    "        --version          the build (git describe)\n"
    "\n"
    "OUTPUT\n"
    "    One row per workload: ops/s, rows/s, latency p50/p95/p99/max in ms,\n"
    "    busy retries, errors, the servers' CPU (percent of one core, and\n"
    "    microseconds per op summed over PIDs), the largest VmRSS and VmHWM\n"
    "    (MB), and VmRSS summed over the PIDs. CSV and JSON add\n"
    "    client_cpu_us_per_op: this process's own CPU per op.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 every workload ran, 1 one failed, 2 bad command line\n";

static int parsePids(struct bench_options *o, const char *list)
{
    char *copy = strdup(list), *save = NULL;
    int rv = 0;
    for (char *t = strtok_r(copy, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        long pid = strtol(t, NULL, 10);
        if (pid <= 0 || o->n_pids == BENCH_MAX_PIDS) {
            rv = -1;
            break;
        }
        o->pids[o->n_pids++] = (pid_t)pid;
    }
    free(copy);
    return rv;
}

static int parseFormat(struct bench_options *o, const char *f)
{
    static const char *const names[] = {"text", "csv", "json"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(f, names[i]) == 0) {
            o->format = i;
            return 0;
        }
    }
    return -1;
}

static int parseOption(struct bench_options *o, int opt, const char *arg)
{
    switch (opt) {
    case 's':
        o->servers = arg;
        return 0;
    case 'S':
        o->sqlite_path = arg;
        return 0;
    case 'd':
        o->db_name = arg;
        return 0;
    case 'w':
        o->workloads = arg;
        return 0;
    case 't':
        o->duration_s = strtod(arg, NULL);
        return 0;
    case 'n':
        o->max_ops = strtoull(arg, NULL, 10);
        return 0;
    case 'R':
        o->read_rows = (unsigned)strtoul(arg, NULL, 10);
        return 0;
    case 'C':
        o->scan_rows = (unsigned)strtoul(arg, NULL, 10);
        return 0;
    case 'p':
        return parsePids(o, arg);
    case 'f':
        return parseFormat(o, arg);
    case 'H':
        o->no_header = true;
        return 0;
    case 'l':
        o->label = arg;
        return 0;
    case 'P':
        o->probe_dir = arg;
        return 0;
    case 'T':
        o->tls = true;
        return 0;
    case 'c':
        o->tls_cert = arg;
        return 0;
    case 'k':
        o->tls_key = arg;
        return 0;
    case 'a':
        o->tls_ca = arg;
        return 0;
    default:
        return -1;
    }
}

static int parseArgs(struct bench_options *o, int argc, char **argv)
{
    static const struct option longs[] = {
        {"servers", 1, NULL, 's'},   {"sqlite", 1, NULL, 'S'},
        {"db", 1, NULL, 'd'},        {"workloads", 1, NULL, 'w'},
        {"duration", 1, NULL, 't'},  {"ops", 1, NULL, 'n'},
        {"read-rows", 1, NULL, 'R'}, {"scan-rows", 1, NULL, 'C'},
        {"pids", 1, NULL, 'p'},      {"format", 1, NULL, 'f'},
        {"no-header", 0, NULL, 'H'}, {"label", 1, NULL, 'l'},
        {"probe", 1, NULL, 'P'},     {"help", 0, NULL, 'h'},
        {"tls", 0, NULL, 'T'},       {"cert", 1, NULL, 'c'},
        {"key", 1, NULL, 'k'},       {"ca", 1, NULL, 'a'},
        {"version", 0, NULL, 'V'},   {NULL, 0, NULL, 0}};
    int opt;
    *o = (struct bench_options){.db_name = "bench",
                                .workloads = DEFAULT_WORKLOADS,
                                .duration_s = 5,
                                .read_rows = 100000,
                                .scan_rows = 10000};
    while ((opt = getopt_long(argc, argv, "s:d:w:t:n:p:f:l:h", longs, NULL)) !=
           -1) {
        if (opt == 'h') {
            fputs(kUsage, stdout);
            exit(0);
        }
        if (opt == 'V') {
            printf("dqlite-bench %s\n", DQLITED_BUILD);
            exit(0);
        }
        if (parseOption(o, opt, optarg) != 0) {
            return -1;
        }
    }
    if (o->probe_dir != NULL) {
        return optind == argc ? 0 : -1;
    }
    if (optind != argc || (o->servers == NULL) == (o->sqlite_path == NULL) ||
        (o->duration_s <= 0 && o->max_ops == 0) || o->read_rows == 0 ||
        (o->tls_cert == NULL) != (o->tls_key == NULL) ||
        (!o->tls && (o->tls_cert != NULL || o->tls_ca != NULL))) {
        return -1;
    }
    if (o->label == NULL) {
        o->label = o->servers != NULL ? "dqlite" : "sqlite";
    }
    return 0;
}

/* Prints the driver's errors (a TLS file it cannot use). */
static void logError(void *arg, int level, const char *message)
{
    (void)arg;
    if (level >= DQLITE_CLIENT_LOG_ERROR) {
        fprintf(stderr, "dqlite-bench: %s\n", message);
    }
}

static int driverCreate(const struct bench_options *o,
                        struct dqlite_server_store **store,
                        struct dqlite_driver **driver)
{
    struct dqlite_driver_options opts;
    char *copy, *save = NULL;
    dqlite_driver_options_init(&opts);
    opts.connect_timeout_ms = 20000;
    opts.call_timeout_ms = 60000;
    opts.log = logError;
    if (o->tls) {
        opts.tls = true;
        opts.tls_cert_file = o->tls_cert;
        opts.tls_key_file = o->tls_key;
        opts.tls_ca_file = o->tls_ca;
        opts.tls_verify = o->tls_ca == NULL && o->tls_cert != NULL
                              ? DQLITE_CLIENT_TLS_VERIFY_CERT_NAME
                              : DQLITE_CLIENT_TLS_VERIFY_HOST;
    }
    if (dqlite_server_store_create(store) != 0) {
        return -1;
    }
    copy = strdup(o->servers);
    for (char *t = strtok_r(copy, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        dqlite_server_store_add(*store, 0, t, DQLITE_VOTER);
    }
    free(copy);
    return dqlite_driver_create(*store, &opts, driver) == 0 ? 0 : -1;
}

static int runAll(const struct bench_options *o, struct dqlite_driver *driver)
{
    char *copy = strdup(o->workloads), *save = NULL;
    int rv = 0;
    benchReportBegin(o);
    for (char *t = strtok_r(copy, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        if (benchRunItem(o, driver, t) != 0) {
            rv = 1;
        }
    }
    benchReportEnd(o);
    free(copy);
    return rv;
}

int main(int argc, char **argv)
{
    struct bench_options o;
    struct dqlite_server_store *store = NULL;
    struct dqlite_driver *driver = NULL;
    if (parseArgs(&o, argc, argv) != 0) {
        fprintf(stderr, "usage: dqlite-bench -s ADDR[,ADDR] | --sqlite FILE "
                        "[options] (--help)\n");
        return 2;
    }
    if (o.probe_dir != NULL) {
        return benchProbe(o.probe_dir, o.duration_s == 5 ? 2 : o.duration_s);
    }
    if (o.sqlite_path != NULL && o.n_pids == 0) {
        o.pids[o.n_pids++] = getpid();
    }
    if (o.servers != NULL && driverCreate(&o, &store, &driver) != 0) {
        fprintf(stderr, "dqlite-bench: cannot create the client driver\n");
        return 1;
    }
    int rv = runAll(&o, driver);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
    return rv;
}
