/*
 * faults-workload: runs one workload against a cluster with our C client
 * and writes its history (docs/faults.md). Client threads run operations
 * until the deadline; after FINAL_DELAY seconds (the harness heals faults
 * meanwhile) one final read is retried until it succeeds.
 *   faults-workload WORKLOAD ADDR[,ADDR] SECONDS CLIENTS SEED HISTORY
 *                   [FINAL_DELAY]
 * Also the membership helper of the harness:
 *   faults-workload member add|remove|assign|transfer|leader ID ADDR
 *                   ADDR[,ADDR]
 * (leader prints the leader's id; ID and ADDR are then ignored)
 * DQF_CALL_TIMEOUT_MS sets the clients' call timeout (2000 ms).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *history_out;
static atomic_llong counter;
static struct timespec start_time;
/* A client call's timeout: DQF_CALL_TIMEOUT_MS, 2000 by default. */
static unsigned call_timeout_ms = 2000;

struct run {
    const char *workload;
    const char *addresses;
    struct dqlite_driver *driver;
    int64_t deadline_ns;
    int clients;
    unsigned seed;
    enum faults_type (*op)(struct worker *w);
    atomic_llong n_invoked, n_ok, n_fail, n_info;
};

static int64_t nowNs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)(ts.tv_sec - start_time.tv_sec) * 1000000000LL +
           (ts.tv_nsec - start_time.tv_nsec);
}

void record(int process, enum faults_type type, const char *f, int64_t key,
            const char *value)
{
    pthread_mutex_lock(&record_lock);
    struct faults_event e = {nowNs(), process, type, key, "", (char *)value};
    snprintf(e.f, sizeof e.f, "%s", f);
    historyWriteEvent(history_out, &e);
    pthread_mutex_unlock(&record_lock);
}

int64_t nextCounter(void)
{
    return atomic_fetch_add(&counter, 1);
}

enum faults_type writeOutcome(struct dqlite_conn *conn, int rc)
{
    uint64_t code = dqlite_conn_errcode(conn);
    static atomic_int n_logged;
    if (atomic_fetch_add(&n_logged, 1) < 50) {
        fprintf(stderr, "write failed: rc %d code %llu: %s\n", rc,
                (unsigned long long)code, dqlite_conn_errmsg(conn));
    }
    if (rc == DQLITE_CLIENT_NOLEADER || rc == DQLITE_CLIENT_MISUSE) {
        return FAULTS_FAIL; /* never sent */
    }
    if (rc == DQLITE_CLIENT_NOTLEADER &&
        code == DQLITE_CLIENT_CODE_NOT_LEADER) {
        return FAULTS_FAIL;
    }
    if (rc == DQLITE_CLIENT_ERROR &&
        (code & 0xff) == DQLITE_CLIENT_SQLITE_BUSY) {
        return FAULTS_FAIL;
    }
    if (rc == DQLITE_CLIENT_ERROR && (code & 0xff) == 13 /* SQLITE_FULL */ &&
        strstr(dqlite_conn_errmsg(conn), "nothing was applied") != NULL) {
        return FAULTS_FAIL; /* a full leader refused it before proposing */
    }
    return FAULTS_INFO;
}

static int driverOpen(const char *addresses, unsigned rotate,
                      struct dqlite_server_store **s, struct dqlite_driver **d);

/* Each client thread has a driver of its own whose server list starts at
 * another node (thread i at node i mod N; never refreshed from CLUSTER), as
 * clients spread over the nodes: during a leadership change they ask
 * different nodes first, so some follow the new leader while others still
 * reach the old one. After an operation with unknown outcome the thread
 * continues as a new process on a new connection. */
static void *workerMain(void *arg)
{
    struct run *r = arg;
    static atomic_int next_process;
    struct worker w = {NULL, atomic_fetch_add(&next_process, 1), 0, 0, NULL};
    struct dqlite_server_store *store = NULL;
    struct dqlite_driver *driver = NULL;
    w.seed = r->seed * 7919u + (unsigned)w.process;
    if (driverOpen(r->addresses, (unsigned)w.process, &store, &driver) != 0) {
        fprintf(stderr, "faults-workload: client %d: no driver\n", w.process);
        return NULL;
    }
    w.driver = driver;
    dqlite_driver_connect(driver, r->workload, &w.conn);
    while (nowNs() < r->deadline_ns) {
        dqlite_conn_set_timeout(w.conn, call_timeout_ms);
        atomic_fetch_add(&r->n_invoked, 1);
        enum faults_type t = r->op(&w);
        atomic_fetch_add(t == FAULTS_OK     ? &r->n_ok
                         : t == FAULTS_FAIL ? &r->n_fail
                                            : &r->n_info,
                         1);
        if (t == FAULTS_INFO) { /* its op may still land: a new process */
            w.process = atomic_fetch_add(&next_process, 1) + 1000;
            /* ... on a new connection, found afresh (an interrupted call
             * leaves the old one open, to a node that may lead no more). */
            dqlite_conn_close(w.conn);
            w.conn = NULL;
            dqlite_driver_connect(driver, r->workload, &w.conn);
        }
        if (t != FAULTS_OK) {
            usleep(20000);
        }
    }
    dqlite_conn_close(w.conn);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
    return NULL;
}

/* A driver on the comma-separated `addresses`, listed from the one at
 * position `rotate` (modulo their number) on. */
static int driverOpen(const char *addresses, unsigned rotate,
                      struct dqlite_server_store **s, struct dqlite_driver **d)
{
    struct dqlite_driver_options o;
    char *copy = strdup(addresses), *save = NULL;
    char *list[64];
    unsigned n = 0;
    for (char *a = strtok_r(copy, ",", &save); a != NULL && n < 64;
         a = strtok_r(NULL, ",", &save)) {
        list[n++] = a;
    }
    dqlite_server_store_create(s);
    for (unsigned i = 0; i < n; i++) {
        dqlite_server_store_add(*s, 0, list[(i + rotate) % n], DQLITE_VOTER);
    }
    free(copy);
    dqlite_driver_options_init(&o);
    o.connect_timeout_ms = 3000;
    o.call_timeout_ms = call_timeout_ms;
    o.dial_timeout_ms = 1000;
    o.attempt_timeout_ms = 1000;
    o.backoff_cap_ms = 200;
    o.no_store_refresh = true; /* keep the rotated order */
    /* TLS=1 runs (run.sh): the client certificate the harness made; the
     * node's certificate is verified by chain and address (its IP SANs). */
    const char *cert = getenv("DQF_TLS_CERT");
    if (cert != NULL && cert[0] != '\0') {
        o.tls = true;
        o.tls_cert_file = cert;
        o.tls_key_file = getenv("DQF_TLS_KEY");
        o.tls_ca_file = getenv("DQF_TLS_CA");
    }
    return dqlite_driver_create(*s, &o, d);
}

/* Retries `what` on a fresh connection every 200 ms for up to `secs`. */
static int withRetry(struct run *r, int secs, char *out, size_t size)
{
    int64_t until = nowNs() + (int64_t)secs * 1000000000LL;
    int rc;
    do {
        struct dqlite_conn *conn = NULL;
        rc = dqlite_driver_connect(r->driver, r->workload, &conn);
        if (rc == DQLITE_CLIENT_OK) {
            rc = out ? finalRead(conn, r->workload, out, size)
                     : setupSchema(conn, r->workload);
        }
        dqlite_conn_close(conn);
        if (rc != DQLITE_CLIENT_OK) {
            usleep(200000);
        }
    } while (rc != DQLITE_CLIENT_OK && nowNs() < until);
    return rc;
}

static int finalPhase(struct run *r, int delay_s)
{
    static char out[8 << 20];
    if (strcmp(r->workload, "register") == 0 ||
        strcmp(r->workload, "runaway") == 0) {
        return 0;
    }
    sleep((unsigned)delay_s);
    record(9999, FAULTS_INVOKE, "final", 0, "-");
    int rc = withRetry(r, 60, out, sizeof out);
    record(9999, rc == 0 ? FAULTS_OK : FAULTS_FAIL, "final", 0,
           rc == 0 ? out : "-");
    return rc;
}

static int runWorkload(struct run *r, int seconds, int final_delay_s)
{
    pthread_t threads[64];
    if (withRetry(r, 60, NULL, 0) != 0) {
        fprintf(stderr, "faults-workload: %s: schema setup failed\n",
                r->workload);
        return 1;
    }
    r->deadline_ns = nowNs() + (int64_t)seconds * 1000000000LL;
    for (int i = 0; i < r->clients; i++) {
        pthread_create(&threads[i], NULL, workerMain, r);
    }
    for (int i = 0; i < r->clients; i++) {
        pthread_join(threads[i], NULL);
    }
    int rc = finalPhase(r, final_delay_s);
    printf("%s: invoked %lld ok %lld fail %lld info %lld%s\n", r->workload,
           (long long)r->n_invoked, (long long)r->n_ok, (long long)r->n_fail,
           (long long)r->n_info, rc ? " (final read failed)" : "");
    return rc ? 1 : 0;
}

static enum faults_type (*opOf(const char *w))(struct worker *)
{
    return strcmp(w, "register") == 0  ? opRegister
           : strcmp(w, "bank") == 0    ? opBank
           : strcmp(w, "set") == 0     ? opSet
           : strcmp(w, "append") == 0  ? opAppend
           : strcmp(w, "runaway") == 0 ? opRunaway
                                       : NULL;
}

static int member(char **argv)
{
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    struct dqlite_client *c = NULL;
    uint64_t id = strtoull(argv[1], NULL, 10);
    int rc = driverOpen(argv[3], 0, &store, &driver);
    if (rc == 0) {
        rc = dqlite_client_connect_leader(driver, &c);
    }
    if (rc == 0 && strcmp(argv[0], "leader") == 0) {
        char *address = NULL;
        rc = dqlite_client_leader(c, &id, &address);
        printf("%llu\n", rc == 0 ? (unsigned long long)id : 0ULL);
        dqlite_client_free(address);
    } else if (rc == 0) {
        rc = strcmp(argv[0], "add") == 0
                 ? dqlite_client_add(c, id, argv[2], DQLITE_SPARE)
             : strcmp(argv[0], "assign") == 0
                 ? dqlite_client_assign(c, id, DQLITE_VOTER)
             : strcmp(argv[0], "transfer") == 0 ? dqlite_client_transfer(c, id)
                                                : dqlite_client_remove(c, id);
    }
    if (rc != 0) {
        fprintf(stderr, "member %s %s: %s\n", argv[0], argv[1],
                c ? dqlite_client_errmsg(c) : "no leader");
    }
    dqlite_client_close(c);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct dqlite_server_store *store;
    struct run r = {0};
    clock_gettime(CLOCK_MONOTONIC, &start_time);
    const char *tmo = getenv("DQF_CALL_TIMEOUT_MS");
    if (tmo != NULL && atoi(tmo) > 0) {
        call_timeout_ms = (unsigned)atoi(tmo);
    }
    if (argc == 6 && strcmp(argv[1], "member") == 0) {
        return member(argv + 2);
    }
    if (argc < 7 || opOf(argv[1]) == NULL) {
        fprintf(stderr, "usage: faults-workload WORKLOAD ADDRS SECONDS "
                        "CLIENTS SEED HISTORY [FINAL_DELAY]\n");
        return 2;
    }
    r.workload = argv[1];
    r.addresses = argv[2];
    r.op = opOf(argv[1]);
    r.clients = atoi(argv[4]) > 64 ? 64 : atoi(argv[4]);
    r.seed = (unsigned)strtoul(argv[5], NULL, 10);
    history_out = fopen(argv[6], "w");
    if (history_out == NULL || driverOpen(argv[2], 0, &store, &r.driver) != 0) {
        perror(argv[6]);
        return 2;
    }
    /* Time 0 of the history on the wall clock, to line it up with the
     * nemesis log and the node logs (a comment line: readers skip it). */
    struct timespec wall;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &wall);
    localtime_r(&wall.tv_sec, &tm);
    fprintf(history_out, "# time 0 = %02d:%02d:%02d.%03ld\n", tm.tm_hour,
            tm.tm_min, tm.tm_sec, wall.tv_nsec / 1000000);
    int rc = runWorkload(&r, atoi(argv[3]), argc > 7 ? atoi(argv[7]) : 0);
    fclose(history_out);
    dqlite_driver_destroy(r.driver);
    dqlite_server_store_close(store);
    return rc;
}
