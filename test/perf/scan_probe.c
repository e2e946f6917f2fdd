/*
 * scan_probe: the client side of the "event loop and heartbeats during a
 * 1 GB scan" measurement (test/perf/scan_heartbeat.sh, docs/performance.md).
 *
 * One phase per run: idle (sleep), load (fill table t of database "scan"
 * with random blobs through server-side INSERT ... SELECT randomblob()
 * transactions), sum (SELECT count(*), sum(length(v)) FROM t: one row, the
 * whole scan in one statement step; SQLite walks every page without
 * copying the values), hex (the same, but hex(v) reads every byte: a longer
 * single step) or stream (SELECT id, v FROM t, every row read by the
 * client). Meanwhile probe threads send, every interval,
 * a LEADER request to one node (answered by its event loop) and/or a
 * SELECT 1 on another database ("probe": a read-index round, then a job on
 * the db thread), each on its own connection, and record the latency. A
 * third thread only sleeps to the next interval and records how late it
 * woke up: the machine's own scheduling delay in the same window (the
 * control the other figures are read against).
 *
 * Output on stdout, one line each, fields separated by spaces:
 *   PHASE label start_epoch end_epoch seconds rows bytes errors
 *   PROBE label kind n p50_ms p99_ms max_ms max_at_epoch errors changes
 * (`changes`: how often the leader id answered by LEADER changed). With -o,
 * every probe sample is appended to a file as "epoch kind latency_ms".
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dqlite_client.h>

enum mode { MODE_IDLE, MODE_LOAD, MODE_SUM, MODE_HEX, MODE_STREAM };

struct options {
    const char *servers;
    const char *node;
    const char *label;
    const char *samples;
    enum mode mode;
    bool probe_leader;
    bool probe_select;
    unsigned seconds;
    unsigned long long bytes;
    unsigned row_bytes;
    unsigned rows_per_tx;
    unsigned interval_ms;
};

struct probe {
    const char *kind;
    const struct options *o;
    struct dqlite_driver *driver;
    pthread_t thread;
    double *lat_ms;
    double *at;
    size_t n;
    size_t cap;
    unsigned errors;
    unsigned changes;
};

static atomic_bool stop_probes;

static double nowEpoch(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double nowMono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleepUntilMono(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
           EINTR) {
    }
}

static void probeRecord(struct probe *p, double at, double ms)
{
    if (p->n == p->cap) {
        size_t cap = p->cap == 0 ? 4096 : p->cap * 2;
        double *l = realloc(p->lat_ms, cap * sizeof *l);
        if (l == NULL) {
            p->errors++;
            return;
        }
        p->lat_ms = l;
        double *a = realloc(p->at, cap * sizeof *a);
        if (a == NULL) {
            p->errors++;
            return;
        }
        p->at = a;
        p->cap = cap;
    }
    p->lat_ms[p->n] = ms;
    p->at[p->n] = at;
    p->n++;
}

/* One LEADER round trip; -1 on failure (the client is then reopened). */
static int probeLeaderOnce(struct probe *p, struct dqlite_client **cli,
                           uint64_t *last_id)
{
    uint64_t id = 0;
    char *addr = NULL;
    if (*cli == NULL &&
        dqlite_client_connect(p->driver, p->o->node, cli) != 0) {
        dqlite_client_close(*cli);
        *cli = NULL;
        return -1;
    }
    if (dqlite_client_leader(*cli, &id, &addr) != 0) {
        dqlite_client_close(*cli);
        *cli = NULL;
        return -1;
    }
    dqlite_client_free(addr);
    if (*last_id != 0 && id != *last_id) {
        p->changes++;
    }
    *last_id = id;
    return 0;
}

/* One SELECT 1 on database "probe"; -1 on failure. */
static int probeSelectOnce(struct probe *p, struct dqlite_conn **conn)
{
    struct dqlite_rows *rows = NULL;
    int rv;
    if (*conn == NULL) {
        if (dqlite_driver_connect(p->driver, "probe", conn) != 0) {
            dqlite_conn_close(*conn);
            *conn = NULL;
            return -1;
        }
        dqlite_conn_set_timeout(*conn, 600000);
    }
    if (dqlite_conn_query(*conn, "SELECT 1", NULL, 0, &rows) != 0) {
        return -1;
    }
    while ((rv = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
    }
    dqlite_rows_close(rows);
    return rv == DQLITE_CLIENT_DONE ? 0 : -1;
}

/* The control: how late a plain sleep to the next interval wakes up. */
static void probeSched(struct probe *p)
{
    double step = p->o->interval_ms / 1000.0;
    double next = nowMono();
    while (!atomic_load(&stop_probes)) {
        next += step;
        sleepUntilMono(next);
        double now = nowMono();
        double late = now - next;
        probeRecord(p, nowEpoch() - late, late * 1000.0);
        if (late > step) {
            next = now; /* one stall is one sample, not a falling series */
        }
    }
}

static void *probeMain(void *arg)
{
    struct probe *p = arg;
    if (strcmp(p->kind, "sched") == 0) {
        probeSched(p);
        return NULL;
    }
    struct dqlite_client *cli = NULL;
    struct dqlite_conn *conn = NULL;
    uint64_t last_id = 0;
    bool leader = strcmp(p->kind, "leader") == 0;
    double step = p->o->interval_ms / 1000.0;
    double next = nowMono();
    while (!atomic_load(&stop_probes)) {
        double at = nowEpoch();
        double t0 = nowMono();
        int rv = leader ? probeLeaderOnce(p, &cli, &last_id)
                        : probeSelectOnce(p, &conn);
        double t1 = nowMono();
        if (rv == 0) {
            probeRecord(p, at, (t1 - t0) * 1000.0);
        } else {
            p->errors++;
        }
        next += step;
        if (next < t1) {
            next = t1; /* late: no burst to catch up */
        }
        sleepUntilMono(next);
    }
    dqlite_client_close(cli);
    dqlite_conn_close(conn);
    return NULL;
}

static int cmpDouble(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double percentile(const double *v, size_t n, double pct)
{
    if (n == 0) {
        return 0;
    }
    size_t rank = (size_t)(pct / 100.0 * (double)n + 0.999999);
    rank = rank == 0 ? 1 : rank > n ? n : rank;
    return v[rank - 1];
}

static void probeReport(struct probe *p, FILE *samples)
{
    double max = 0;
    double max_at = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (samples != NULL) {
            fprintf(samples, "%.6f %s %.3f\n", p->at[i], p->kind, p->lat_ms[i]);
        }
        if (p->lat_ms[i] > max) {
            max = p->lat_ms[i];
            max_at = p->at[i];
        }
    }
    qsort(p->lat_ms, p->n, sizeof *p->lat_ms, cmpDouble);
    printf("PROBE %s %s %zu %.3f %.3f %.3f %.6f %u %u\n", p->o->label, p->kind,
           p->n, percentile(p->lat_ms, p->n, 50),
           percentile(p->lat_ms, p->n, 99), max, max_at, p->errors, p->changes);
}

static int connOpen(struct dqlite_driver *driver, const char *db,
                    struct dqlite_conn **conn)
{
    if (dqlite_driver_connect(driver, db, conn) != 0) {
        fprintf(stderr, "scan_probe: connect %s: %s\n", db,
                *conn != NULL ? dqlite_conn_errmsg(*conn) : "no memory");
        return -1;
    }
    dqlite_conn_set_timeout(*conn, 900000);
    return 0;
}

/* Fills t until o->bytes of values are in or o->seconds have passed. */
static int workLoad(struct dqlite_conn *conn, const struct options *o,
                    unsigned long long *rows, unsigned long long *bytes,
                    unsigned *errors)
{
    static const char sql[] =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
        "WHERE x < ?1) INSERT INTO t(v) SELECT randomblob(?2) FROM c";
    struct dqlite_value params[2];
    struct dqlite_result res;
    double deadline = nowMono() + o->seconds;
    unsigned tx = 0;
    if (dqlite_conn_exec(conn,
                         "CREATE TABLE IF NOT EXISTS t("
                         "id INTEGER PRIMARY KEY, v BLOB)",
                         NULL, 0, NULL) != 0) {
        fprintf(stderr, "scan_probe: create: %s\n", dqlite_conn_errmsg(conn));
        return -1;
    }
    params[0].type = DQLITE_CLIENT_INTEGER;
    params[0].integer = o->rows_per_tx;
    params[1].type = DQLITE_CLIENT_INTEGER;
    params[1].integer = o->row_bytes;
    while (*bytes < o->bytes && nowMono() < deadline) {
        if (dqlite_conn_exec(conn, sql, params, 2, &res) != 0) {
            fprintf(stderr, "scan_probe: insert: %s\n",
                    dqlite_conn_errmsg(conn));
            if (++*errors > 10) {
                return -1;
            }
            continue;
        }
        *rows += (unsigned long long)res.rows_affected;
        *bytes += (unsigned long long)res.rows_affected * o->row_bytes;
        if (++tx % 32 == 0) {
            fprintf(stderr, "scan_probe: loaded %llu MiB\n", *bytes >> 20);
        }
    }
    return 0;
}

/* Runs the scan query; rows and bytes seen by the client. */
static int workScan(struct dqlite_conn *conn, enum mode mode,
                    unsigned long long *rows, unsigned long long *bytes)
{
    struct dqlite_rows *r = NULL;
    bool stream = mode == MODE_STREAM;
    const char *sql = stream ? "SELECT id, v FROM t"
                      : mode == MODE_HEX
                          ? "SELECT count(*), sum(length(hex(v))) / 2 FROM t"
                          : "SELECT count(*), sum(length(v)) FROM t";
    int rv = dqlite_conn_query(conn, sql, NULL, 0, &r);
    if (rv != 0) {
        fprintf(stderr, "scan_probe: query: %s\n", dqlite_conn_errmsg(conn));
        return -1;
    }
    while ((rv = dqlite_rows_next(r)) == DQLITE_CLIENT_ROW) {
        if (stream) {
            size_t len = 0;
            (void)dqlite_rows_blob(r, 1, &len);
            *rows += 1;
            *bytes += len;
        } else {
            *rows = (unsigned long long)dqlite_rows_int64(r, 0);
            *bytes = (unsigned long long)dqlite_rows_int64(r, 1);
        }
    }
    if (rv != DQLITE_CLIENT_DONE) {
        fprintf(stderr, "scan_probe: rows: %s\n", dqlite_conn_errmsg(conn));
    }
    dqlite_rows_close(r);
    return rv == DQLITE_CLIENT_DONE ? 0 : -1;
}

static int runWork(struct dqlite_driver *driver, const struct options *o)
{
    struct dqlite_conn *conn = NULL;
    unsigned long long rows = 0;
    unsigned long long bytes = 0;
    unsigned errors = 0;
    int rv = 0;
    if (o->mode != MODE_IDLE && connOpen(driver, "scan", &conn) != 0) {
        dqlite_conn_close(conn);
        return -1;
    }
    double start = nowEpoch();
    double t0 = nowMono();
    switch (o->mode) {
    case MODE_IDLE:
        sleepUntilMono(t0 + o->seconds);
        break;
    case MODE_LOAD:
        rv = workLoad(conn, o, &rows, &bytes, &errors);
        break;
    case MODE_SUM:
    case MODE_HEX:
    case MODE_STREAM:
        rv = workScan(conn, o->mode, &rows, &bytes);
        break;
    }
    double secs = nowMono() - t0;
    printf("PHASE %s %.6f %.6f %.3f %llu %llu %u\n", o->label, start,
           nowEpoch(), secs, rows, bytes, errors + (rv != 0));
    dqlite_conn_close(conn);
    return rv;
}

static const char usage[] =
    "usage: scan_probe -s ADDR[,ADDR...] -m idle|load|sum|hex|stream "
    "[-n LEADER_ADDR]\n"
    "       [-p leader|select|both|none] [-t SECONDS] [-b BYTES] "
    "[-r ROW_BYTES]\n"
    "       [-x ROWS_PER_TX] [-i INTERVAL_MS] [-l LABEL] [-o SAMPLES_FILE]\n";

static int parseMode(const char *s, enum mode *m)
{
    static const char *const names[] = {"idle", "load", "sum", "hex", "stream"};
    for (int i = 0; i < 5; i++) {
        if (strcmp(s, names[i]) == 0) {
            *m = (enum mode)i;
            return 0;
        }
    }
    return -1;
}

static int parseArgs(int argc, char *argv[], struct options *o)
{
    const char *probes = "both";
    bool mode_set = false;
    int c;
    memset(o, 0, sizeof *o);
    o->label = "run";
    o->seconds = 10;
    o->bytes = 1ULL << 30;
    o->row_bytes = 1000;
    o->rows_per_tx = 4096;
    o->interval_ms = 10;
    while ((c = getopt(argc, argv, "s:n:m:p:t:b:r:x:i:l:o:")) != -1) {
        switch (c) {
        case 's':
            o->servers = optarg;
            break;
        case 'n':
            o->node = optarg;
            break;
        case 'm':
            if (parseMode(optarg, &o->mode) != 0) {
                return -1;
            }
            mode_set = true;
            break;
        case 'p':
            probes = optarg;
            break;
        case 't':
            o->seconds = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'b':
            o->bytes = strtoull(optarg, NULL, 10);
            break;
        case 'r':
            o->row_bytes = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'x':
            o->rows_per_tx = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'i':
            o->interval_ms = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'l':
            o->label = optarg;
            break;
        case 'o':
            o->samples = optarg;
            break;
        default:
            return -1;
        }
    }
    o->probe_leader = !strcmp(probes, "leader") || !strcmp(probes, "both");
    o->probe_select = !strcmp(probes, "select") || !strcmp(probes, "both");
    if (o->servers == NULL || !mode_set || o->interval_ms == 0 ||
        o->row_bytes == 0 || o->rows_per_tx == 0 ||
        (o->probe_leader && o->node == NULL)) {
        return -1;
    }
    return 0;
}

static int storeFill(struct dqlite_server_store *store, const char *list)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *a = strtok_r(buf, ",", &save); a != NULL;
         a = strtok_r(NULL, ",", &save)) {
        if (dqlite_server_store_add(store, 0, a, DQLITE_VOTER) != 0) {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char *argv[])
{
    struct options o;
    struct dqlite_server_store *store = NULL;
    struct dqlite_driver *driver = NULL;
    struct dqlite_driver_options dopts;
    struct probe probes[3];
    unsigned n_probes = 0;
    if (parseArgs(argc, argv, &o) != 0) {
        fputs(usage, stderr);
        return 2;
    }
    dqlite_driver_options_init(&dopts);
    dopts.connect_timeout_ms = 30000;
    dopts.no_store_refresh = true;
    if (dqlite_server_store_create(&store) != 0 ||
        storeFill(store, o.servers) != 0 ||
        dqlite_driver_create(store, &dopts, &driver) != 0) {
        fprintf(stderr, "scan_probe: cannot set up the driver\n");
        return 1;
    }
    memset(probes, 0, sizeof probes);
    if (o.probe_leader) {
        probes[n_probes++].kind = "leader";
    }
    if (o.probe_select) {
        probes[n_probes++].kind = "select";
    }
    probes[n_probes++].kind = "sched";
    for (unsigned i = 0; i < n_probes; i++) {
        probes[i].o = &o;
        probes[i].driver = driver;
        if (pthread_create(&probes[i].thread, NULL, probeMain, &probes[i]) !=
            0) {
            fprintf(stderr, "scan_probe: cannot start a probe\n");
            return 1;
        }
    }
    int rv = runWork(driver, &o);
    atomic_store(&stop_probes, true);
    FILE *samples = o.samples != NULL ? fopen(o.samples, "a") : NULL;
    for (unsigned i = 0; i < n_probes; i++) {
        pthread_join(probes[i].thread, NULL);
        probeReport(&probes[i], samples);
        free(probes[i].lat_ms);
        free(probes[i].at);
    }
    if (samples != NULL) {
        fclose(samples);
    }
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
    return rv == 0 ? 0 : 1;
}
