/*
 * The public node API of dqlite.h: create, options, start, stop, destroy,
 * errmsg, generate_node_id. The loop itself lives in loop.c.
 */
#include "server/node.h"
#include "server/conn.h"
#include "server/tls.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "repl/command.h"
#include "server/datadir.h"

/* Latency bounds of dqlite_node_set_network_latency (1.11's lower bound). */
#define NODE_MIN_LATENCY_NS 500000ULL
#define NODE_MAX_LATENCY_NS (3600ULL * 1000 * 1000 * 1000)

void nodeErrorf(struct dqlite_node *n, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(n->errmsg, sizeof n->errmsg, fmt, args);
    va_end(args);
}

static void nodeInitDefaults(struct dqlite_node *n, dqlite_node_id id)
{
    memset(n, 0, sizeof *n);
    n->id = id;
    n->listen_fd = -1;
    n->dir_lock_fd = -1;
    n->state = NODE_CREATED;
    n->snapshot_threshold = 1024;
    n->snapshot_trailing = 8192;
    n->entry_cache_bytes = NODE_ENTRY_CACHE_BYTES;
    n->busy_timeout_ms = 5000;
    n->statement_timeout_ms = NODE_STATEMENT_TIMEOUT_MS;
    n->linearizable_reads = true;
    n->read_lease = NODE_READ_LEASE_DEFAULT;
    n->snapshot_compression = true;
    n->log_level = DQLITE_LOG_WARN;
    n->last_state = DQLITE_FOLLOWER;
    pthread_mutex_init(&n->lock, NULL);
    pthread_cond_init(&n->cond, NULL);
    queueInit(&n->conns);
    queueInit(&n->parked);
    queueInit(&n->writing);
    budgetInit(&n->budget, BUDGET_CONN_BYTES_DEFAULT);
    n->max_conns = NODE_MAX_CONNS;
    n->conn_idle_timeout_ms = CONN_IDLE_TIMEOUT_MS_DEFAULT;
    n->conn_stall_timeout_ms = CONN_STALL_TIMEOUT_MS_DEFAULT;
    n->stmt_bytes_max = GATEWAY_MAX_STMT_BYTES_DEFAULT;
    n->tls_handshake_timeout_ms = TLS_HANDSHAKE_TIMEOUT_MS_DEFAULT;
    metricsInit(&n->metrics);
    raftConfInit(&n->metrics_conf);
}

int dqlite_node_create(dqlite_node_id id, const char *address,
                       const char *data_dir, dqlite_node **out)
{
    struct dqlite_node *n = libMalloc(sizeof *n);
    struct stat st;
    *out = n;
    if (n == NULL) {
        return DQLITE_NOMEM;
    }
    nodeInitDefaults(n, id);
    if (address == NULL || data_dir == NULL) {
        nodeErrorf(n, "address and data directory are required");
        return DQLITE_MISUSE;
    }
    n->address = libStrdup(address);
    n->data_dir = libStrdup(data_dir);
    if (n->address == NULL || n->data_dir == NULL) {
        nodeErrorf(n, "out of memory");
        return DQLITE_NOMEM;
    }
    if (stat(data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        nodeErrorf(n, "data directory %s: %s", data_dir,
                   errno != 0 ? strerror(errno) : "not a directory");
        return DQLITE_ERROR;
    }
    return 0;
}

void dqlite_node_destroy(dqlite_node *n)
{
    if (n == NULL) {
        return;
    }
    if (n->state == NODE_RUNNING) {
        dqlite_node_stop(n);
    }
    if (n->listen_fd >= 0) {
        close(n->listen_fd);
    }
    if (n->replica_open) {
        replicaFree(&n->replica);
    }
    nodeDirRelease(n);
    tlsDestroy(n);
    metricsClose(&n->metrics);
    raftConfClose(&n->metrics_conf);
    libFree(n->http_address);
    libFree(n->http_auth_file);
    pthread_cond_destroy(&n->cond);
    pthread_mutex_destroy(&n->lock);
    libFree(n->address);
    libFree(n->data_dir);
    libFree(n);
}

/* Setters are valid only on a node that has not started. */
static int nodeCheckNotStarted(struct dqlite_node *n)
{
    if (n == NULL) {
        return DQLITE_MISUSE;
    }
    if (n->state != NODE_CREATED) {
        nodeErrorf(n, "node already started");
        return DQLITE_MISUSE;
    }
    return 0;
}

int dqlite_node_set_bind_address(dqlite_node *n, const char *address)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    if (n->bind_address[0] != '\0') {
        nodeErrorf(n, "bind address already set");
        return DQLITE_MISUSE;
    }
    rv = addrListen(address, &n->listen_fd, n->bind_address);
    if (rv == ERR_INVALID || rv == ERR_NOTFOUND) {
        nodeErrorf(n, "invalid bind address: %s%s", address,
                   rv == ERR_NOTFOUND ? " (the host name does not resolve)"
                                      : "");
        return DQLITE_MISUSE;
    }
    long pid = 0;
    int bind_errno = errno;
    if (rv != 0 && errno == EADDRINUSE && nodeDirInUse(n->data_dir, &pid)) {
        /* Most likely this node already runs: say so, not "in use". */
        nodeErrorf(n, "data directory %s is in use by another node (pid %ld)",
                   n->data_dir, pid);
        n->listen_fd = -1;
        n->bind_address[0] = '\0';
        return DQLITE_LOCKED;
    }
    if (rv != 0) {
        nodeErrorf(n, "bind %s: %s", address, strerror(bind_errno));
        n->listen_fd = -1;
        n->bind_address[0] = '\0';
        return DQLITE_ERROR;
    }
    return 0;
}

int dqlite_node_set_bind_fd(dqlite_node *n, int fd)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    if (n->bind_address[0] != '\0') {
        nodeErrorf(n, "bind address already set");
        return DQLITE_MISUSE;
    }
    rv = addrAdopt(fd, n->bind_address);
    if (rv == ERR_INVALID) {
        nodeErrorf(n,
                   "descriptor %d is not a listening TCP or abstract Unix "
                   "stream socket",
                   fd);
    } else if (rv != 0) {
        nodeErrorf(n, "descriptor %d: %s", fd, strerror(errno));
    }
    if (rv != 0) {
        n->bind_address[0] = '\0';
        return rv == ERR_INVALID ? DQLITE_MISUSE : DQLITE_ERROR;
    }
    n->listen_fd = fd; /* the node's now: closed at stop or destroy */
    return 0;
}

const char *dqlite_node_get_bind_address(dqlite_node *n)
{
    if (n == NULL || n->bind_address[0] == '\0') {
        return NULL;
    }
    return n->bind_address;
}

int dqlite_node_set_connect_func(dqlite_node *n, node_connect_fn f, void *arg)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    n->connect_fn = f;
    n->connect_arg = arg;
    return 0;
}

int dqlite_node_set_network_latency(dqlite_node *n,
                                    unsigned long long nanoseconds)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    if (nanoseconds < NODE_MIN_LATENCY_NS ||
        nanoseconds > NODE_MAX_LATENCY_NS) {
        nodeErrorf(n, "network latency out of range");
        return DQLITE_MISUSE;
    }
    n->latency_ns = nanoseconds;
    return 0;
}

int dqlite_node_set_network_latency_ms(dqlite_node *n, unsigned milliseconds)
{
    return dqlite_node_set_network_latency(n, milliseconds * 1000000ULL);
}

int dqlite_node_set_failure_domain(dqlite_node *n, unsigned long long code)
{
    if (n == NULL) {
        return DQLITE_MISUSE;
    }
    n->failure_domain = code;
    return 0;
}

int dqlite_node_set_snapshot_params(dqlite_node *n, unsigned threshold,
                                    unsigned trailing)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    if (threshold == 0 || threshold > trailing) {
        nodeErrorf(n, "snapshot threshold must be in 1..trailing");
        return DQLITE_MISUSE;
    }
    n->snapshot_threshold = threshold;
    n->snapshot_trailing = trailing;
    return 0;
}

int dqlite_node_set_entry_cache(dqlite_node *n, uint64_t bytes)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    if (bytes != 0 && bytes < NODE_ENTRY_CACHE_MIN_BYTES) {
        nodeErrorf(n, "entry cache must be 0 or at least %u bytes",
                   NODE_ENTRY_CACHE_MIN_BYTES);
        return DQLITE_MISUSE;
    }
    n->entry_cache_bytes = bytes;
    return 0;
}

int dqlite_node_set_client_limits(dqlite_node *n, unsigned idle_timeout_ms,
                                  unsigned stall_timeout_ms,
                                  uint64_t memory_bytes)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    n->conn_idle_timeout_ms = idle_timeout_ms;
    n->conn_stall_timeout_ms = stall_timeout_ms;
    budgetInit(&n->budget, memory_bytes == 0 || memory_bytes > SIZE_MAX
                               ? SIZE_MAX
                               : (size_t)memory_bytes);
    return 0;
}

int dqlite_node_set_tls(dqlite_node *n, const char *cert_path,
                        const char *key_path, const char *ca_path,
                        unsigned flags)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    if (flags & ~(unsigned)(DQLITE_TLS_CLIENT_AUTH_OPTIONAL |
                            DQLITE_TLS_ADMIN_AUTH | DQLITE_TLS_ALLOW_TLS12)) {
        nodeErrorf(n, "TLS: unknown flags %#x", flags);
        return DQLITE_MISUSE;
    }
    return tlsConfigure(n, cert_path, key_path, ca_path, flags);
}

int dqlite_node_set_tls_handshake_timeout(dqlite_node *n, unsigned timeout_ms)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    if (timeout_ms == 0) {
        return DQLITE_MISUSE;
    }
    n->tls_handshake_timeout_ms = timeout_ms;
    return 0;
}

int dqlite_node_reload_tls(dqlite_node *n)
{
    if (n == NULL || !tlsEnabled(n)) {
        return DQLITE_MISUSE;
    }
    int rv = tlsReload(n);
    return rv == 0 ? nodeHttpReloadTls(n) : rv;
}

const char *dqlite_node_errmsg(dqlite_node *n)
{
    if (n == NULL) {
        return "node is NULL";
    }
    return n->errmsg;
}

dqlite_node_id dqlite_generate_node_id(const char *address)
{
    uint64_t id = 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    /* Mix the address in so two hosts seeded alike still differ. */
    for (const char *p = address ? address : ""; *p != '\0'; p++) {
        id = (id ^ (uint8_t)*p) * 0x100000001b3ULL;
    }
    do {
        uint64_t random_bits;
        if (getrandom(&random_bits, sizeof random_bits, 0) !=
            (ssize_t)sizeof random_bits) {
            random_bits = (uint64_t)now.tv_nsec * 0x9e3779b97f4a7c15ULL;
        }
        id ^= random_bits ^ (uint64_t)now.tv_sec;
    } while (id == 0 || id == 1 || id == NODE_BOOTSTRAP_ID);
    return id;
}

void nodeTimeouts(const struct dqlite_node *n, unsigned *heartbeat_ms,
                  unsigned *election_ms)
{
    /* 1.11 scales both from the latency: 15x for elections, 1.5x for
     * heartbeats; without one, raft's usual 1 s / 100 ms. */
    if (n->latency_ns == 0) {
        *heartbeat_ms = 100;
        *election_ms = 1000;
        return;
    }
    uint64_t latency_ms = n->latency_ns / 1000000;
    if (latency_ms == 0) {
        latency_ms = 1;
    }
    *heartbeat_ms = (unsigned)(latency_ms * 3 / 2 + 1);
    *election_ms = (unsigned)(latency_ms * 15);
}

/* A checkpoint proposal nobody waits for: the wait frees itself. */
static void nodeOnCheckpointDone(struct replica_wait *w, int status)
{
    (void)status; /* a lost checkpoint is proposed again by a later write */
    libFree(w);
}

void nodeProposeCheckpoint(struct dqlite_node *n, const char *name)
{
    struct buf cmd;
    bufInit(&cmd);
    if (replEncodeCheckpoint(&cmd, name) != 0) {
        bufFree(&cmd);
        return;
    }
    struct replica_wait *w = libCalloc(1, sizeof *w);
    uint8_t *payload = raftPayloadAlloc(cmd.len);
    if (w == NULL || payload == NULL) {
        libFree(w);
        if (payload != NULL) {
            raftPayloadUnref(payload);
        }
        bufFree(&cmd);
        return;
    }
    memcpy(payload, cmd.data, cmd.len);
    w->cb = nodeOnCheckpointDone;
    if (replicaPropose(&n->replica, payload, cmd.len, w) != 0) {
        libFree(w);
    }
    bufFree(&cmd);
}

void nodeLogf(struct dqlite_node *n, int level, const char *fmt, ...)
{
    char line[512];
    static const char *names[] = {"debug", "info", "warning", "error"};
    va_list args;
    if (level < n->log_level) {
        return;
    }
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    if (n->log_fn != NULL) {
        n->log_fn(n->log_arg, level, line);
        return;
    }
    fprintf(stderr, "dqlite node %llu: %s: %s\n", (unsigned long long)n->id,
            names[level < 0   ? 0
                  : level > 3 ? 3
                              : level],
            line);
}

int dqlite_node_set_log_func(dqlite_node *n, dqlite_log_func f, void *arg,
                             int min_level)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    n->log_fn = f;
    n->log_arg = arg;
    n->log_level = min_level;
    return 0;
}

int dqlite_node_set_watch_func(dqlite_node *n, dqlite_watch_func f, void *arg)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    n->watch_fn = f;
    n->watch_arg = arg;
    return 0;
}

int dqlite_node_set_fatal_func(dqlite_node *n, dqlite_fatal_func f, void *arg)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    n->fatal_fn = f;
    n->fatal_arg = arg;
    return 0;
}

int dqlite_node_set_busy_timeout(dqlite_node *n, unsigned milliseconds)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    n->busy_timeout_ms = milliseconds;
    return 0;
}

int dqlite_node_set_statement_timeout(dqlite_node *n, unsigned milliseconds)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    n->statement_timeout_ms = milliseconds;
    return 0;
}

int dqlite_node_set_linearizable_reads(dqlite_node *n, int enabled)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    n->linearizable_reads = enabled != 0;
    return 0;
}

int dqlite_node_set_read_lease(dqlite_node *n, int enabled)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    n->read_lease = enabled != 0;
    return 0;
}

int dqlite_node_set_snapshot_compression(dqlite_node *n, int enabled)
{
    int rv = nodeCheckNotStarted(n);
    if (rv != 0) {
        return rv;
    }
    n->snapshot_compression = enabled != 0;
    return 0;
}
