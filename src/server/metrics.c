/*
 * The node's metrics: counting (loop thread), publishing (loop thread,
 * under mu), and printing in Prometheus' text format (HTTP threads, from
 * a copy). docs/operations.md lists every metric; metrics.h says why the
 * snapshot.
 */
#include "server/metrics.h"

#include <dqlite.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/assert.h"
#include "proto/wire.h"
#include "raft/raft.h"

void metricsInit(struct metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void metricsClose(struct metrics *m)
{
    pthread_mutex_destroy(&m->mu);
}

uint64_t metricsNowUs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void histogramObserve(struct metrics_histogram *h, uint64_t us)
{
    static const uint64_t bounds[RAFTIO_SYNC_BUCKETS] = RAFTIO_SYNC_BOUNDS_US;
    unsigned i = 0;
    while (i < RAFTIO_SYNC_BUCKETS && us > bounds[i]) {
        i++;
    }
    h->counts[i]++;
    h->sum_us += us;
    h->n++;
}

void metricsProposed(struct metrics *m, uint64_t start_us, size_t bytes)
{
    (void)start_us;
    if (m != NULL) {
        m->live.entries_proposed++;
        m->live.bytes_proposed += bytes;
    }
}

void metricsCommitted(struct metrics *m, uint64_t start_us)
{
    uint64_t now = metricsNowUs();
    if (m != NULL && start_us != 0 && now >= start_us) {
        histogramObserve(&m->live.commit, now - start_us);
    }
}

void metricsSnapshotTaken(struct metrics *m)
{
    if (m != NULL) {
        m->live.snapshots_taken++;
    }
}

void metricsSnapshotSent(struct metrics *m)
{
    if (m != NULL) {
        m->live.snapshots_sent++;
    }
}

void metricsSnapshotInstalled(struct metrics *m)
{
    if (m != NULL) {
        m->live.snapshots_installed++;
    }
}

void metricsStateChanged(struct metrics *m, int state, bool leader_changed)
{
    if (m == NULL) {
        return;
    }
    if (state == DQLITE_CANDIDATE) {
        m->live.elections++;
    }
    if (leader_changed) {
        m->live.leader_changes++;
    }
}

static bool isStatement(int type)
{
    return type == PROTO_REQ_EXEC || type == PROTO_REQ_QUERY ||
           type == PROTO_REQ_EXEC_SQL || type == PROTO_REQ_QUERY_SQL;
}

/* The counters of database `name`, made on first use. */
static struct metrics_db *dbOf(struct metrics_snapshot *s, const char *name)
{
    for (unsigned i = 0; i < s->n_dbs; i++) {
        if (strcmp(s->dbs[i].name, name) == 0) {
            return &s->dbs[i];
        }
    }
    if (s->n_dbs >= METRICS_MAX_DBS - 1 && strcmp(name, METRICS_OTHER_DB)) {
        return dbOf(s, METRICS_OTHER_DB); /* the last slot is "(other)" */
    }
    ASSERT(s->n_dbs < METRICS_MAX_DBS);
    struct metrics_db *d = &s->dbs[s->n_dbs++];
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    return d;
}

void metricsRequestDone(struct metrics *m, const char *db, int type)
{
    if (m != NULL && db != NULL && isStatement(type)) {
        dbOf(&m->live, db)->statements++;
    }
}

void metricsRequestFailed(struct metrics *m, const char *db, int type)
{
    if (m != NULL && db != NULL && isStatement(type)) {
        dbOf(&m->live, db)->errors++;
    }
}

void metricsSyncs(struct metrics *m, const struct raftio_writer_stats *s)
{
    struct metrics_histogram *h = &m->live.fsync;
    h->n = 0;
    for (unsigned i = 0; i < METRICS_BUCKETS; i++) {
        h->counts[i] = s->sync_us_buckets[i];
        h->n += h->counts[i];
    }
    h->sum_us = s->sync_us_sum;
    m->live.fsyncs = s->syncs;
}

void metricsPublish(struct metrics *m)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    m->live.published_ms =
        (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    pthread_mutex_lock(&m->mu);
    m->published = m->live;
    pthread_mutex_unlock(&m->mu);
}

void metricsRead(struct metrics *m, struct metrics_snapshot *out)
{
    pthread_mutex_lock(&m->mu);
    *out = m->published;
    pthread_mutex_unlock(&m->mu);
}

const char *metricsStateName(int state)
{
    switch (state) {
    case DQLITE_FOLLOWER:
        return "follower";
    case DQLITE_CANDIDATE:
        return "candidate";
    case DQLITE_LEADER:
        return "leader";
    case DQLITE_REMOVED:
        return "removed";
    default:
        return "unknown";
    }
}

const char *metricsRoleName(int role)
{
    switch (role) {
    case RAFT_VOTER:
        return "voter";
    case RAFT_STANDBY:
        return "standby";
    case RAFT_SPARE:
        return "spare";
    default:
        return "unknown";
    }
}

const char *metricsNotReady(const struct metrics_snapshot *s, uint64_t now_ms,
                            uint64_t max_lag)
{
    if (s->published_ms == 0 || now_ms > s->published_ms + METRICS_STALE_MS) {
        return "the node's loop has published nothing recently";
    }
    if (s->failed) {
        return "the node stopped serving (see its log)";
    }
    if (!s->member || s->state == DQLITE_REMOVED) {
        return "this node is not a member of the cluster";
    }
    if (s->leader_id == 0) {
        return "no known leader";
    }
    if (s->commit_index > s->applied_index + max_lag) {
        return "catching up: applied index too far behind the commit index";
    }
    return NULL;
}

/* ------------------------------------------------------------ printing */

struct text {
    char *data;
    size_t len;
    size_t cap;
    bool oom;
};

static void textf(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void textf(struct text *t, const char *fmt, ...)
{
    va_list args;
    for (;;) {
        size_t avail = t->cap - t->len;
        va_start(args, fmt);
        int n = t->oom ? 0 : vsnprintf(t->data + t->len, avail, fmt, args);
        va_end(args);
        if (t->oom || n < 0) {
            t->oom = true;
            return;
        }
        if ((size_t)n < avail) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *p = realloc(t->data, cap);
        if (p == NULL) {
            t->oom = true;
            return;
        }
        t->data = p;
        t->cap = cap;
    }
}

/* Prometheus label values: backslash, quote and newline escaped. */
static void labelEscape(const char *in, char *out, size_t len)
{
    size_t j = 0;
    PRE(len > 0);
    for (size_t i = 0; in[i] != '\0' && j + 3 < len; i++) {
        char c = in[i];
        if (c == '\\' || c == '"') {
            out[j++] = '\\';
            out[j++] = c;
        } else if (c == '\n') {
            out[j++] = '\\';
            out[j++] = 'n';
        } else {
            out[j++] = c;
        }
    }
    out[j] = '\0';
}

static void metric(struct text *t, const char *name, const char *type,
                   const char *help, uint64_t value)
{
    textf(t, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type,
          name, (unsigned long long)value);
}

static void histogram(struct text *t, const char *name, const char *help,
                      const struct metrics_histogram *h)
{
    static const uint64_t bounds[RAFTIO_SYNC_BUCKETS] = RAFTIO_SYNC_BOUNDS_US;
    uint64_t cumulative = 0;
    textf(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (unsigned i = 0; i < RAFTIO_SYNC_BUCKETS; i++) {
        cumulative += h->counts[i];
        textf(t, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds[i] / 1e6,
              (unsigned long long)cumulative);
    }
    cumulative += h->counts[RAFTIO_SYNC_BUCKETS];
    textf(t, "%s_bucket{le=\"+Inf\"} %llu\n", name,
          (unsigned long long)cumulative);
    textf(t, "%s_sum %.6f\n%s_count %llu\n", name, (double)h->sum_us / 1e6,
          name, (unsigned long long)cumulative);
}

static uint64_t rssBytes(void)
{
    unsigned long long size = 0;
    unsigned long long resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%llu %llu", &size, &resident) != 2) {
        resident = 0;
    }
    fclose(f);
    return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void formatRole(struct text *t, const struct metrics_snapshot *s)
{
    static const int states[] = {DQLITE_FOLLOWER, DQLITE_CANDIDATE,
                                 DQLITE_LEADER, DQLITE_REMOVED};
    char leader[2 * METRICS_ADDRESS_MAX];
    textf(t, "# HELP dqlite_role 1 for the node's current raft role.\n"
             "# TYPE dqlite_role gauge\n");
    for (unsigned i = 0; i < 4; i++) {
        textf(t, "dqlite_role{role=\"%s\"} %d\n", metricsStateName(states[i]),
              s->state == states[i]);
    }
    labelEscape(s->leader_address, leader, sizeof leader);
    textf(t,
          "# HELP dqlite_leader_id The leader this node knows (0: none).\n"
          "# TYPE dqlite_leader_id gauge\n"
          "dqlite_leader_id{address=\"%s\"} %llu\n",
          leader, (unsigned long long)s->leader_id);
    metric(t, "dqlite_node_id", "gauge", "This node's raft id.", s->id);
    metric(t, "dqlite_member", "gauge",
           "1 when this node is in its raft configuration.", s->member);
    metric(t, "dqlite_failed", "gauge",
           "1 when the node stopped serving for good (a fatal error).",
           s->failed);
    metric(t, "dqlite_disk_full", "gauge",
           "1 while the raft log waits for disk space.", s->waiting_for_space);
}

static void formatRaft(struct text *t, const struct metrics_snapshot *s)
{
    metric(t, "dqlite_term", "gauge", "Current raft term.", s->term);
    metric(t, "dqlite_commit_index", "gauge", "Highest committed index.",
           s->commit_index);
    metric(t, "dqlite_applied_index", "gauge",
           "Highest index applied to the databases here.", s->applied_index);
    metric(t, "dqlite_last_index", "gauge", "Last index in the raft log.",
           s->last_index);
    metric(t, "dqlite_snapshot_index", "gauge",
           "Index of the last snapshot taken or installed.", s->snapshot_index);
    textf(t, "# HELP dqlite_peer_match_index Leader only: highest index "
             "known replicated on each member.\n"
             "# TYPE dqlite_peer_match_index gauge\n");
    for (unsigned i = 0; i < s->n_peers; i++) {
        char addr[2 * METRICS_ADDRESS_MAX];
        labelEscape(s->peers[i].address, addr, sizeof addr);
        textf(t,
              "dqlite_peer_match_index{peer=\"%llu\",address=\"%s\","
              "role=\"%s\"} %llu\n",
              (unsigned long long)s->peers[i].id, addr,
              metricsRoleName(s->peers[i].role),
              (unsigned long long)s->peers[i].match);
    }
    textf(t, "# HELP dqlite_peer_lag_entries Leader only: entries of the "
             "leader's log each member lacks.\n"
             "# TYPE dqlite_peer_lag_entries gauge\n");
    for (unsigned i = 0; i < s->n_peers; i++) {
        uint64_t match = s->peers[i].match;
        textf(t, "dqlite_peer_lag_entries{peer=\"%llu\"} %llu\n",
              (unsigned long long)s->peers[i].id,
              (unsigned long long)(s->last_index > match ? s->last_index - match
                                                         : 0));
    }
}

static void formatCounters(struct text *t, const struct metrics_snapshot *s)
{
    metric(t, "dqlite_entries_proposed_total", "counter",
           "Entries this node proposed as leader.", s->entries_proposed);
    metric(t, "dqlite_bytes_proposed_total", "counter",
           "Payload bytes of those entries.", s->bytes_proposed);
    metric(t, "dqlite_snapshots_taken_total", "counter",
           "Snapshots this node took.", s->snapshots_taken);
    metric(t, "dqlite_snapshots_sent_total", "counter",
           "Snapshots this node sent to a follower.", s->snapshots_sent);
    metric(t, "dqlite_snapshots_installed_total", "counter",
           "Snapshots this node received and installed.",
           s->snapshots_installed);
    metric(t, "dqlite_elections_total", "counter",
           "Times this node became candidate.", s->elections);
    metric(t, "dqlite_leader_changes_total", "counter",
           "Times the leader this node knows changed.", s->leader_changes);
    metric(t, "dqlite_connections", "gauge", "Client connections open.",
           s->connections);
    metric(t, "dqlite_queued_writers", "gauge",
           "Writers waiting for another connection's write lock.",
           s->queued_writers);
    histogram(t, "dqlite_commit_latency_seconds",
              "Leader: from proposing a transaction to applying it.",
              &s->commit);
    histogram(t, "dqlite_fsync_latency_seconds",
              "fdatasync of the raft log's appends.", &s->fsync);
}

static void formatDbs(struct text *t, const struct metrics_snapshot *s)
{
    char name[2 * METRICS_DB_NAME_MAX];
    textf(t, "# HELP dqlite_statements_total Statements (EXEC, QUERY and "
             "their SQL forms) answered, by database.\n"
             "# TYPE dqlite_statements_total counter\n");
    for (unsigned i = 0; i < s->n_dbs; i++) {
        labelEscape(s->dbs[i].name, name, sizeof name);
        textf(t, "dqlite_statements_total{database=\"%s\"} %llu\n", name,
              (unsigned long long)s->dbs[i].statements);
    }
    textf(t, "# HELP dqlite_statement_errors_total Statements answered with "
             "a failure, by database.\n"
             "# TYPE dqlite_statement_errors_total counter\n");
    for (unsigned i = 0; i < s->n_dbs; i++) {
        labelEscape(s->dbs[i].name, name, sizeof name);
        textf(t, "dqlite_statement_errors_total{database=\"%s\"} %llu\n", name,
              (unsigned long long)s->dbs[i].errors);
    }
}

char *metricsFormat(const struct metrics_snapshot *s, size_t *len)
{
    struct text t = {.data = malloc(8192), .cap = 8192};
    if (t.data == NULL) {
        return NULL;
    }
    formatRole(&t, s);
    formatRaft(&t, s);
    formatCounters(&t, s);
    formatDbs(&t, s);
    metric(&t, "dqlite_resident_memory_bytes", "gauge",
           "Resident memory of the process (RSS).", rssBytes());
    if (t.oom) {
        free(t.data);
        return NULL;
    }
    *len = t.len;
    return t.data;
}
