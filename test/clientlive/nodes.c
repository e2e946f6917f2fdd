/*
 * The client-live tier's view of the cluster the runner started: which
 * node leads (asked node by node with cluster clients, so that a dead node
 * or a stale answer is noticed), the nodes' ids (from CLUSTER), SIGKILL of
 * a node by the PID the runner passed (waiting until its port refuses
 * connections), and loopback addresses nobody serves (a closed port, and a
 * "black hole" that accepts connections but never answers).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "live.h"

static int blackhole_fd = -1;

static struct live_node *nodeByAddress(const char *address)
{
    unsigned i;
    for (i = 0; i < LIVE_NODES; i++) {
        if (strcmp(ctx->nodes[i].address, address) == 0) {
            return &ctx->nodes[i];
        }
    }
    if (strcmp(ctx->extra.address, address) == 0) {
        return &ctx->extra;
    }
    return NULL;
}

struct live_node *liveNodeById(uint64_t id)
{
    unsigned i;
    for (i = 0; i < LIVE_NODES; i++) {
        if (ctx->nodes[i].id == id) {
            return &ctx->nodes[i];
        }
    }
    return ctx->extra.id == id ? &ctx->extra : NULL;
}

/* The leader `node` reports ("" when it knows none); -1 if unreachable. */
static int askLeader(const struct live_node *node, char *leader, size_t size)
{
    struct dqlite_client *cl;
    uint64_t id;
    char *address = NULL;
    int rv = dqlite_client_connect(ctx->driver, node->address, &cl);
    if (rv == 0) {
        rv = dqlite_client_leader(cl, &id, &address);
    }
    if (rv == 0) {
        snprintf(leader, size, "%s", address);
    }
    dqlite_client_free(address);
    dqlite_client_close(cl);
    return rv == 0 ? 0 : -1;
}

/* The leader if every live node that answers names the same live node and
 * that node names itself. */
int liveLeader(struct live_node **leader)
{
    char seen[LIVE_ADDR_MAX] = "";
    char answer[LIVE_ADDR_MAX];
    unsigned i;
    for (i = 0; i < LIVE_NODES; i++) {
        if (!ctx->nodes[i].alive ||
            askLeader(&ctx->nodes[i], answer, sizeof answer) != 0) {
            continue;
        }
        if (answer[0] == '\0' ||
            (seen[0] != '\0' && strcmp(seen, answer) != 0)) {
            return -1;
        }
        snprintf(seen, sizeof seen, "%s", answer);
    }
    *leader = nodeByAddress(seen);
    if (*leader == NULL || !(*leader)->alive) {
        return -1;
    }
    return 0;
}

/* Waits until the nodes agree on a leader other than `except`. */
int liveWaitLeader(const struct live_node *except, unsigned timeout_ms,
                   struct live_node **leader)
{
    int64_t deadline_ms = liveNowMs() + timeout_ms;
    do {
        if (liveLeader(leader) == 0 && *leader != except) {
            return 0;
        }
        liveSleepMs(100);
    } while (liveNowMs() < deadline_ms);
    return -1;
}

struct live_node *liveFollower(const struct live_node *leader)
{
    unsigned i;
    for (i = 0; i < LIVE_NODES; i++) {
        if (&ctx->nodes[i] != leader && ctx->nodes[i].alive) {
            return &ctx->nodes[i];
        }
    }
    return NULL;
}

/* Fills the nodes' ids from the leader's CLUSTER answer. */
int liveLearnIds(void)
{
    struct dqlite_client *cl;
    struct dqlite_server_info *servers = NULL;
    struct live_node *node;
    unsigned n = 0;
    unsigned i;
    int rv = dqlite_client_connect_leader(ctx->driver, &cl);
    if (rv == 0) {
        rv = dqlite_client_cluster(cl, &servers, &n);
    }
    for (i = 0; rv == 0 && i < n; i++) {
        node = nodeByAddress(servers[i].address);
        if (node != NULL) {
            node->id = servers[i].id;
        }
    }
    dqlite_server_info_free(servers, n);
    dqlite_client_close(cl);
    return rv;
}

static bool refuses(const char *address)
{
    struct live_dial d = {0};
    int fd;
    if (liveDial(&d, address, 500, &fd) != 0) {
        return true;
    }
    close(fd);
    return false;
}

/* SIGKILL, then wait (10 s at most) until the node's port refuses. */
void liveKill(struct live_node *node)
{
    int i;
    if (node->pid > 0) {
        kill(node->pid, SIGKILL);
    }
    node->alive = false;
    for (i = 0; i < 100 && !refuses(node->address); i++) {
        liveSleepMs(100);
    }
}

/* A loopback socket bound to an ephemeral port, listening or not. */
static int boundSocket(bool listening, char *address)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0 ||
        (listening && listen(fd, 16) != 0)) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    snprintf(address, LIVE_ADDR_MAX, "127.0.0.1:%u",
             (unsigned)ntohs(sin.sin_port));
    return fd;
}

int liveListenSocket(char *address)
{
    return boundSocket(true, address);
}

/* A loopback address where nothing listens: a port bound without listen()
 * and released (connections to it are refused). */
int liveFreePort(char *address)
{
    int fd = boundSocket(false, address);
    if (fd < 0) {
        return -1;
    }
    close(fd);
    return 0;
}

/* A loopback address that accepts connections (the kernel completes them)
 * but never reads nor answers: kept open until the program exits. */
int liveBlackhole(char *address)
{
    static char blackhole_address[LIVE_ADDR_MAX];
    if (blackhole_fd < 0) {
        blackhole_fd = boundSocket(true, blackhole_address);
        if (blackhole_fd < 0) {
            return -1;
        }
    }
    snprintf(address, LIVE_ADDR_MAX, "%s", blackhole_address);
    return 0;
}
