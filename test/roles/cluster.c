/*
 * Helpers of the automatic roles test: see cluster.h.
 */
#include "cluster.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t tcNowMs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t tc_start_ms;

unsigned tcElapsedMs(void)
{
    if (tc_start_ms == 0) {
        tc_start_ms = tcNowMs();
    }
    return (unsigned)(tcNowMs() - tc_start_ms);
}

void tcFail(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stdout, "[%6u ms] FAIL: ", tcElapsedMs());
    vfprintf(stdout, fmt, args);
    fprintf(stdout, "\n");
    va_end(args);
    fflush(stdout);
    exit(1);
}

/* A port the kernel has just handed out (and we released). */
static unsigned tcFreePort(void)
{
    struct sockaddr_in sa = {0};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        tcFail("cannot pick a free port");
    }
    close(fd);
    return ntohs(sa.sin_port);
}

void tcInit(struct tc_cluster *c, unsigned n, const uint64_t *domains,
            unsigned voters, unsigned standbys)
{
    memset(c, 0, sizeof *c);
    snprintf(c->root, sizeof c->root, "/tmp/dqlite-roles-XXXXXX");
    if (mkdtemp(c->root) == NULL) {
        tcFail("mkdtemp");
    }
    c->n = n;
    c->voters = voters;
    c->standbys = standbys;
    for (unsigned i = 0; i < n; i++) {
        struct tc_node *t = &c->nodes[i];
        t->id = i + 1;
        t->domain = domains != NULL ? domains[i] : 0;
        snprintf(t->address, sizeof t->address, "127.0.0.1:%u", tcFreePort());
        snprintf(t->dir, sizeof t->dir, "%s/node%u", c->root, i + 1);
        if (mkdir(t->dir, 0755) != 0) {
            tcFail("mkdir %s", t->dir);
        }
    }
}

/* Node log lines about roles (all of them with ROLES_VERBOSE=1). */
static void tcLog(void *arg, int level, const char *message)
{
    const struct tc_node *t = arg;
    (void)level;
    if (getenv("ROLES_VERBOSE") != NULL ||
        strstr(message, "auto roles") != NULL ||
        strstr(message, "hand-over") != NULL) {
        fprintf(stdout, "[%6u ms] node %llu: %s\n", tcElapsedMs(),
                (unsigned long long)t->id, message);
        fflush(stdout);
    }
}

static dqlite_node *tcCreate(const struct tc_cluster *c, struct tc_node *t)
{
    dqlite_node *node = NULL;
    int rv = dqlite_node_create(t->id, t->address, t->dir, &node);
    if (rv == 0) {
        rv = dqlite_node_set_failure_domain(node, t->domain);
    }
    if (rv == 0) {
        rv = dqlite_node_set_log_func(node, tcLog, t, DQLITE_LOG_INFO);
    }
    if (rv == 0 && c->voters > 0) {
        rv = dqlite_node_set_auto_roles(node, c->voters, c->standbys);
    }
    if (rv == 0) {
        rv = dqlite_node_start(node);
    }
    if (rv != 0) {
        tcFail("node %llu: %d %s", (unsigned long long)t->id, rv,
               dqlite_node_errmsg(node));
    }
    return node;
}

void tcForkNode(struct tc_cluster *c, unsigned i)
{
    struct tc_node *t = &c->nodes[i];
    fflush(stdout);
    t->pid = fork();
    if (t->pid < 0) {
        tcFail("fork");
    }
    if (t->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        tcCreate(c, t);
        for (;;) {
            pause(); /* until SIGKILL */
        }
    }
}

void tcStartNode(struct tc_cluster *c, unsigned i)
{
    c->nodes[i].node = tcCreate(c, &c->nodes[i]);
}

unsigned tcStopNode(struct tc_cluster *c, unsigned i)
{
    struct tc_node *t = &c->nodes[i];
    uint64_t start_ms = tcNowMs();
    if (t->node == NULL) {
        tcFail("node %llu does not run here", (unsigned long long)t->id);
    }
    dqlite_node_stop(t->node);
    dqlite_node_destroy(t->node);
    t->node = NULL;
    return (unsigned)(tcNowMs() - start_ms);
}

void tcKillNode(struct tc_cluster *c, unsigned i)
{
    struct tc_node *t = &c->nodes[i];
    if (t->pid > 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
        t->pid = 0;
    }
}

void tcConnectDriver(struct tc_cluster *c)
{
    if (dqlite_server_store_create(&c->store) != 0) {
        tcFail("store");
    }
    for (unsigned i = 0; i < c->n; i++) {
        dqlite_server_store_add(c->store, c->nodes[i].id, c->nodes[i].address,
                                DQLITE_VOTER);
    }
    struct dqlite_driver_options o;
    dqlite_driver_options_init(&o);
    o.no_store_refresh = true; /* keep every address: nodes come and go */
    if (dqlite_driver_create(c->store, &o, &c->driver) != 0) {
        tcFail("driver");
    }
}

/* Runs `op` on a client connected to the leader (retried for 10 s). */
static void tcLeaderCall(struct tc_cluster *c, unsigned i, int role, bool add)
{
    struct tc_node *t = &c->nodes[i];
    uint64_t deadline_ms = tcNowMs() + 10000;
    const char *msg = "";
    do {
        struct dqlite_client *cl = NULL;
        int rv = dqlite_client_connect_leader(c->driver, &cl);
        if (rv == 0) {
            rv = add ? dqlite_client_add(cl, t->id, t->address, role)
                     : dqlite_client_assign(cl, t->id, role);
        }
        msg = rv == 0 ? "" : dqlite_client_errmsg(cl);
        dqlite_client_close(cl);
        if (rv == 0) {
            return;
        }
        fprintf(stdout, "[%6u ms] retrying node %llu: %d\n", tcElapsedMs(),
                (unsigned long long)t->id, rv);
        usleep(200 * 1000);
    } while (tcNowMs() < deadline_ms);
    tcFail("%s node %llu: %s", add ? "add" : "assign",
           (unsigned long long)t->id, msg);
}

void tcJoin(struct tc_cluster *c, unsigned i, int role)
{
    tcLeaderCall(c, i, role, true);
}

void tcAssign(struct tc_cluster *c, unsigned i, int role)
{
    tcLeaderCall(c, i, role, false);
}

static void tcViewFill(const struct tc_cluster *c, struct tc_view *v,
                       const struct dqlite_server_info *servers, unsigned n)
{
    for (unsigned i = 0; i < TC_MAX_NODES; i++) {
        v->role[i] = -1;
    }
    v->voters = v->standbys = v->spares = 0;
    for (unsigned k = 0; k < n; k++) {
        for (unsigned i = 0; i < c->n; i++) {
            if (c->nodes[i].id == servers[k].id) {
                v->role[i] = servers[k].role;
            }
        }
        v->voters += servers[k].role == DQLITE_VOTER;
        v->standbys += servers[k].role == DQLITE_STANDBY;
        v->spares += servers[k].role == DQLITE_SPARE;
    }
}

bool tcView(struct tc_cluster *c, struct tc_view *v)
{
    struct dqlite_client *cl = NULL;
    struct dqlite_server_info *servers = NULL;
    unsigned n = 0;
    char *address = NULL;
    int rv = dqlite_client_connect_leader(c->driver, &cl);
    if (rv == 0) {
        rv = dqlite_client_leader(cl, &v->leader, &address);
    }
    if (rv == 0) {
        rv = dqlite_client_cluster(cl, &servers, &n);
    }
    if (rv == 0) {
        tcViewFill(c, v, servers, n);
    }
    dqlite_server_info_free(servers, n);
    dqlite_client_free(address);
    dqlite_client_close(cl);
    return rv == 0;
}

void tcPrintView(const struct tc_cluster *c, const struct tc_view *v,
                 const char *label)
{
    static const char *names[] = {"voter", "stand-by", "spare"};
    fprintf(stdout, "[%6u ms] %s: leader %llu;", tcElapsedMs(), label,
            (unsigned long long)v->leader);
    for (unsigned i = 0; i < c->n; i++) {
        fprintf(stdout, " %llu(d%llu)=%s", (unsigned long long)c->nodes[i].id,
                (unsigned long long)c->nodes[i].domain,
                v->role[i] < 0 ? "-" : names[v->role[i]]);
    }
    fprintf(stdout, "\n");
    fflush(stdout);
}

bool tcWaitFor(struct tc_cluster *c, struct tc_view *v,
               bool (*pred)(const struct tc_cluster *c,
                            const struct tc_view *v),
               unsigned timeout_ms)
{
    uint64_t deadline_ms = tcNowMs() + timeout_ms;
    for (;;) {
        bool seen = tcView(c, v);
        if (seen && pred(c, v)) {
            return true;
        }
        if (tcNowMs() >= deadline_ms) {
            return false;
        }
        usleep(200 * 1000);
    }
}

static int tcRemove(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tcClose(struct tc_cluster *c)
{
    for (unsigned i = 0; i < c->n; i++) {
        if (c->nodes[i].node != NULL) {
            tcStopNode(c, i);
        }
        tcKillNode(c, i);
    }
    dqlite_driver_destroy(c->driver);
    dqlite_server_store_close(c->store);
    nftw(c->root, tcRemove, 16, FTW_DEPTH | FTW_PHYS);
}
