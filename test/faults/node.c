/*
 * faults-node: the harness-only node program (docs/faults.md). It starts
 * one node through dqlite.h, like dqlited, and is the one place where the
 * harness plants a bug on purpose, so that a run can prove it catches one:
 *   DQF_BUG=stale-reads  queries skip the read-index round (a deposed
 *                        leader may answer from its stale state)
 *   DQF_BUG=amnesia      at start, the newest log segment loses its last
 *                        sixteenth: entries the node acknowledged as durable
 *                        are gone, as when fsync lies and power fails
 *   DQF_BUG=lease-drift  leader leases on, and while the node leads its
 *                        monotonic clock runs at a quarter of the real
 *                        rate: a clock drifting far beyond the lease's
 *                        bound, so the lease outlives the followers'
 *                        promise not to elect another leader (a lease
 *                        that ignores the drift bound, made visible)
 * No build users get has this switch: it lives in this test program only.
 * DQF_LATENCY_MS sets the network latency (dqlite_node_set_network_latency_ms,
 * as dqlited's --latency-ms: election timeout 15x, heartbeat 1.5x).
 * DQF_NODE_TLS_CERT, DQF_NODE_TLS_KEY and DQF_NODE_TLS_CA turn TLS on
 * (dqlite_node_set_tls; run.sh sets them when TLS=1).
 *   faults-node ID ADDRESS DIR
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dqlite.h"

static int fail(dqlite_node *node, const char *what, int rv)
{
    fprintf(stderr, "faults-node: %s: %d %s\n", what, rv,
            node ? dqlite_node_errmsg(node) : "");
    dqlite_node_destroy(node);
    return 1;
}

/* Cuts the last sixteenth off the newest seg-* file of `dir`. */
static void forgetTail(const char *dir)
{
    char newest[256] = "", path[4096];
    struct dirent *e;
    struct stat st;
    DIR *d = opendir(dir);
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "seg-", 4) == 0 &&
            strcmp(e->d_name, newest) > 0) {
            snprintf(newest, sizeof newest, "%s", e->d_name);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    snprintf(path, sizeof path, "%s/%s", dir, newest);
    if (newest[0] != '\0' && stat(path, &st) == 0) {
        fprintf(stderr, "faults-node: PLANTED BUG amnesia: %s %lld -> %lld\n",
                newest, (long long)st.st_size,
                (long long)st.st_size - st.st_size / 16);
        if (truncate(path, st.st_size - st.st_size / 16) != 0) {
            perror(path);
        }
    }
}

/* lease-drift: this program's clock_gettime replaces libc's for the whole
 * process (libuv's uv_hrtime and uv_now, the library's statement clock):
 * the monotonic clocks run at 1/DQF_SLOW_RATE of the real rate while
 * `slow` is set, continuously (no jump at a switch). */
#define DQF_SLOW_RATE 4
static pthread_mutex_t slow_lock = PTHREAD_MUTEX_INITIALIZER;
static bool slow_planted, slow;
static int64_t slow_real_ns, slow_fake_ns; /* at the last switch */

static bool isMonotonic(clockid_t id)
{
    return id == CLOCK_MONOTONIC || id == CLOCK_MONOTONIC_COARSE ||
           id == CLOCK_MONOTONIC_RAW || id == CLOCK_BOOTTIME;
}

static int64_t realNs(void)
{
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The fake time at real time `real`; slow_lock held. */
static int64_t fakeNs(int64_t real)
{
    int64_t elapsed = real - slow_real_ns;
    return slow_fake_ns + (slow ? elapsed / DQF_SLOW_RATE : elapsed);
}

static void slowSet(bool on)
{
    pthread_mutex_lock(&slow_lock);
    int64_t real = realNs();
    slow_fake_ns = fakeNs(real);
    slow_real_ns = real;
    slow = on;
    pthread_mutex_unlock(&slow_lock);
}

__attribute__((visibility("default"))) int clock_gettime(clockid_t id,
                                                         struct timespec *ts)
{
    if (!slow_planted || !isMonotonic(id)) {
        return (int)syscall(SYS_clock_gettime, id, ts);
    }
    pthread_mutex_lock(&slow_lock);
    int64_t ns = fakeNs(realNs());
    pthread_mutex_unlock(&slow_lock);
    ts->tv_sec = (time_t)(ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
    return 0;
}

/* Logs every raft state change with the wall-clock time, so a run's node
 * logs show who led when (next to the nemesis log's times). */
static void watch(void *arg, int old_state, int new_state,
                  dqlite_node_id leader)
{
    static const char *names[] = {"?", "follower", "candidate", "leader"};
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    fprintf(stderr,
            "[%02d:%02d:%02d.%03ld] faults-node %s: %s -> %s, leader %llu\n",
            tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            (const char *)arg,
            names[old_state >= 1 && old_state <= 3 ? old_state : 0],
            names[new_state >= 1 && new_state <= 3 ? new_state : 0],
            (unsigned long long)leader);
    if (slow_planted && (new_state == 3) != (old_state == 3)) {
        slowSet(new_state == 3);
    }
}

static int plantBug(dqlite_node *node, const char *dir)
{
    const char *bug = getenv("DQF_BUG");
    if (bug == NULL || bug[0] == '\0') {
        return 0;
    }
    if (strcmp(bug, "amnesia") == 0) {
        forgetTail(dir);
        return 0;
    }
    if (strncmp(bug, "group-", 6) == 0 ||
        strcmp(bug, "follower-no-read-index") == 0 ||
        strcmp(bug, "bounded-ignores-bound") == 0) {
        /* Compiled in (planted_group.c, planted_read.c): only
         * faults-node-group and faults-node-read have them. */
        fprintf(stderr, "faults-node: PLANTED BUG %s\n", bug);
        return 0;
    }
    if (strcmp(bug, "lease-drift") == 0) {
        fprintf(stderr,
                "faults-node: PLANTED BUG lease-drift: a leader's "
                "clock runs at 1/%d of the real rate\n",
                DQF_SLOW_RATE);
        slow_real_ns = slow_fake_ns = realNs();
        slow_planted = true;
        return dqlite_node_set_read_lease(node, 1);
    }
    if (strcmp(bug, "stale-reads") == 0) {
        fprintf(stderr, "faults-node: PLANTED BUG stale-reads\n");
        return dqlite_node_set_linearizable_reads(node, 0);
    }
    fprintf(stderr, "faults-node: unknown DQF_BUG %s\n", bug);
    return 1;
}

int main(int argc, char *argv[])
{
    sigset_t stop;
    int sig = 0;
    dqlite_node *node = NULL;
    if (argc != 4 || strtoull(argv[1], NULL, 10) == 0) {
        fprintf(stderr, "usage: faults-node ID ADDRESS DIR\n");
        return 2;
    }
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rv = dqlite_node_create(strtoull(argv[1], NULL, 10), argv[2], argv[3],
                                &node);
    if (rv != 0) {
        fprintf(stderr, "faults-node: create: %d\n", rv);
        return 1;
    }
    if ((rv = dqlite_node_set_bind_address(node, argv[2])) != 0) {
        return fail(node, "bind", rv);
    }
    if ((rv = dqlite_node_set_watch_func(node, watch, argv[1])) != 0) {
        return fail(node, "watch", rv);
    }
    const char *latency = getenv("DQF_LATENCY_MS");
    if (latency != NULL && latency[0] != '\0' &&
        (rv = dqlite_node_set_network_latency_ms(
             node, (unsigned)strtoul(latency, NULL, 10))) != 0) {
        return fail(node, "latency", rv);
    }
    /* TLS=1 runs (run.sh): the node certificate, key and CA it made. */
    const char *cert = getenv("DQF_NODE_TLS_CERT");
    if (cert != NULL && cert[0] != '\0' &&
        (rv = dqlite_node_set_tls(node, cert, getenv("DQF_NODE_TLS_KEY"),
                                  getenv("DQF_NODE_TLS_CA"), 0)) != 0) {
        fprintf(stderr, "faults-node: tls: %s\n", dqlite_node_errmsg(node));
        return fail(node, "tls", rv);
    }
    if ((rv = plantBug(node, argv[3])) != 0 ||
        (rv = dqlite_node_start(node)) != 0) {
        return fail(node, "start", rv);
    }
    printf("listening on %s (node %s)\n", argv[2], argv[1]);
    fflush(stdout);
    sigwait(&stop, &sig);
    rv = dqlite_node_stop(node);
    dqlite_node_destroy(node);
    return rv == 0 ? 0 : 5;
}
