/*
 * The automatic roles test (make check-roles; docs/roles.md): clusters of
 * real nodes on loopback driven only through the public headers, dqlite.h
 * for the nodes and dqlite_client.h to read the roles from the leader.
 *
 *   spread     5 nodes (domains 1,1,2,2,3), auto roles 3 voters / 1
 *              stand-by, nodes 2-5 added as spares: the roles converge to
 *              3 voters in 3 domains, 1 stand-by, 1 spare
 *   crash      the voter of domain 3 (a child process) is killed: a
 *              stand-by is promoted, the dead node demoted, a spare
 *              becomes the stand-by
 *   stop       a follower voter is stopped: when dqlite_node_stop()
 *              returns, the stand-by is a voter and the node a spare
 *   rebalance  voters assigned by hand in 2 domains, a spare in a third:
 *              it is swapped in, the extra voter demoted (after two
 *              rounds: it is healthy), then made a spare
 *   leader     1 voter / 1 stand-by, the leader is stopped: it hands its
 *              vote over itself and the stand-by leads
 *   off        auto roles off: spares stay spares, a stopped voter stays
 *              a voter; the setter refuses bad values and late calls
 *
 * Every wait is bounded (tcWaitFor); a failure prints the last view.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster.h"

#define WAIT_MS 20000

static unsigned tc_checks;

static void check(bool ok, const struct tc_cluster *c, const struct tc_view *v,
                  const char *what)
{
    if (v != NULL) {
        tcPrintView(c, v, what);
    } else {
        fprintf(stdout, "[%6u ms] %s\n", tcElapsedMs(), what);
    }
    if (!ok) {
        tcFail("%s", what);
    }
    tc_checks++;
}

/* The domains the voters are in, counted once each. */
static unsigned voterDomains(const struct tc_cluster *c,
                             const struct tc_view *v)
{
    uint64_t seen[TC_MAX_NODES];
    unsigned n = 0;
    for (unsigned i = 0; i < c->n; i++) {
        bool dup = false;
        if (v->role[i] != DQLITE_VOTER) {
            continue;
        }
        for (unsigned k = 0; k < n; k++) {
            dup |= seen[k] == c->nodes[i].domain;
        }
        if (!dup) {
            seen[n++] = c->nodes[i].domain;
        }
    }
    return n;
}

static bool spread(const struct tc_cluster *c, const struct tc_view *v)
{
    return v->voters == 3 && v->standbys == 1 && v->spares == 1 &&
           voterDomains(c, v) == 3;
}

/* nodes[4] (domain 3) is the crashed one. */
static bool healed(const struct tc_cluster *c, const struct tc_view *v)
{
    (void)c;
    return v->voters == 3 && v->standbys == 1 && v->role[4] == DQLITE_SPARE;
}

/* A voter of `v` that is not the leader and runs in this process. */
static unsigned pickFollowerVoter(const struct tc_cluster *c,
                                  const struct tc_view *v)
{
    for (unsigned i = 0; i < c->n; i++) {
        if (v->role[i] == DQLITE_VOTER && c->nodes[i].id != v->leader &&
            c->nodes[i].node != NULL) {
            return i;
        }
    }
    tcFail("no follower voter to stop");
    return 0;
}

static unsigned findRole(const struct tc_cluster *c, const struct tc_view *v,
                         int role)
{
    for (unsigned i = 0; i < c->n; i++) {
        if (v->role[i] == role) {
            return i;
        }
    }
    tcFail("no node with role %d", role);
    return 0;
}

/* The voter stopped gracefully has handed its vote over before the stop
 * returned: no waiting here. */
static void testStop(struct tc_cluster *c, struct tc_view *v)
{
    unsigned victim = pickFollowerVoter(c, v);
    unsigned standby = findRole(c, v, DQLITE_STANDBY);
    fprintf(stdout, "[%6u ms] stop: stopping voter %llu (stand-by %llu)\n",
            tcElapsedMs(), (unsigned long long)c->nodes[victim].id,
            (unsigned long long)c->nodes[standby].id);
    unsigned took_ms = tcStopNode(c, victim);
    fprintf(stdout, "[%6u ms] stop: dqlite_node_stop took %u ms\n",
            tcElapsedMs(), took_ms);
    if (!tcWaitFor(c, v, healed, 0) && !tcView(c, v)) {
        tcFail("stop: no leader after the stop");
    }
    check(v->role[victim] == DQLITE_SPARE && v->role[standby] == DQLITE_VOTER &&
              v->voters == 3,
          c, v, "stop: the stand-by took the stopped voter's vote");
    check(took_ms < 8000, c, v, "stop: the stop stayed bounded");
}

static void testFiveNodes(void)
{
    static const uint64_t domains[] = {1, 1, 2, 2, 3};
    struct tc_cluster c;
    struct tc_view v;
    tcInit(&c, 5, domains, 3, 1);
    tcForkNode(&c, 4); /* before any thread of ours exists */
    for (unsigned i = 0; i < 4; i++) {
        tcStartNode(&c, i);
    }
    tcConnectDriver(&c);
    for (unsigned i = 1; i < 5; i++) {
        tcJoin(&c, i, DQLITE_SPARE);
    }
    check(tcWaitFor(&c, &v, spread, WAIT_MS), &c, &v,
          "spread: 3 voters in 3 domains, 1 stand-by, 1 spare");
    check(v.role[4] == DQLITE_VOTER, &c, &v,
          "spread: the only node of domain 3 votes");

    tcKillNode(&c, 4);
    fprintf(stdout, "[%6u ms] crash: node 5 killed\n", tcElapsedMs());
    check(tcWaitFor(&c, &v, healed, WAIT_MS), &c, &v,
          "crash: 3 voters again, the dead node a spare, 1 stand-by");

    testStop(&c, &v);
    tcClose(&c);
}

static bool rebalanced(const struct tc_cluster *c, const struct tc_view *v)
{
    return v->voters == 3 && v->standbys == 0 && voterDomains(c, v) == 3;
}

/* Voters put by hand in two domains are swapped, one change at a time,
 * for the member of a third domain; the extra voter ends as a spare. */
static void testRebalance(void)
{
    static const uint64_t domains[] = {1, 1, 2, 3};
    struct tc_cluster c;
    struct tc_view v;
    tcInit(&c, 4, domains, 3, 0);
    for (unsigned i = 0; i < 4; i++) {
        tcStartNode(&c, i);
    }
    tcConnectDriver(&c);
    tcJoin(&c, 1, DQLITE_VOTER);
    tcJoin(&c, 2, DQLITE_VOTER);
    tcJoin(&c, 3, DQLITE_SPARE);
    check(tcWaitFor(&c, &v, rebalanced, WAIT_MS), &c, &v,
          "rebalance: voters in 3 domains, no stand-by");
    check(v.role[3] == DQLITE_VOTER && v.spares == 1, &c, &v,
          "rebalance: domain 3 votes, a domain 1 node is a spare");
    tcClose(&c);
}

static bool oneStandby(const struct tc_cluster *c, const struct tc_view *v)
{
    (void)c;
    return v->voters == 1 && v->standbys == 1;
}

static bool secondLeads(const struct tc_cluster *c, const struct tc_view *v)
{
    return v->leader == c->nodes[1].id && v->role[1] == DQLITE_VOTER &&
           v->role[0] == DQLITE_SPARE;
}

/* A single voter cannot hand leadership over: it hands its vote over as
 * leader, and the stand-by then leads alone. */
static void testLeaderStop(void)
{
    struct tc_cluster c;
    struct tc_view v;
    tcInit(&c, 2, NULL, 1, 1);
    tcStartNode(&c, 0);
    tcStartNode(&c, 1);
    tcConnectDriver(&c);
    tcJoin(&c, 1, DQLITE_SPARE);
    check(tcWaitFor(&c, &v, oneStandby, WAIT_MS), &c, &v,
          "leader: the spare became the stand-by");
    unsigned took_ms = tcStopNode(&c, 0);
    fprintf(stdout, "[%6u ms] leader: dqlite_node_stop took %u ms\n",
            tcElapsedMs(), took_ms);
    check(tcWaitFor(&c, &v, secondLeads, WAIT_MS), &c, &v,
          "leader: the stand-by became the voter and leads");
    tcClose(&c);
}

static void testSetter(struct tc_cluster *c)
{
    dqlite_node *node = NULL;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/scratch", c->root);
    if (mkdir(dir, 0755) != 0 ||
        dqlite_node_create(9, "127.0.0.1:1", dir, &node) != 0) {
        tcFail("off: scratch node");
    }
    check(dqlite_node_set_auto_roles(node, 2, 1) == DQLITE_MISUSE &&
              dqlite_node_set_auto_roles(node, 0, 1) == DQLITE_MISUSE &&
              dqlite_node_set_auto_roles(NULL, 3, 1) == DQLITE_MISUSE &&
              dqlite_node_set_auto_roles(node, 3, 1) == 0 &&
              dqlite_node_set_auto_roles(node, 0, 0) == 0,
          c, NULL, "off: the setter checks its values");
    dqlite_node_destroy(node);
    check(dqlite_node_set_auto_roles(c->nodes[0].node, 3, 1) == DQLITE_MISUSE,
          c, NULL, "off: the setter refuses a started node");
}

static bool unchanged(const struct tc_cluster *c, const struct tc_view *v)
{
    (void)c;
    (void)v;
    return false; /* wait the whole time */
}

static void testOff(void)
{
    struct tc_cluster c;
    struct tc_view v;
    tcInit(&c, 3, NULL, 0, 0);
    for (unsigned i = 0; i < 3; i++) {
        tcStartNode(&c, i);
    }
    testSetter(&c);
    tcConnectDriver(&c);
    tcJoin(&c, 1, DQLITE_SPARE);
    tcJoin(&c, 2, DQLITE_SPARE);
    tcWaitFor(&c, &v, unchanged, 3 * 1000 + 500);
    check(v.voters == 1 && v.spares == 2, &c, &v, "off: spares stay spares");
    tcAssign(&c, 1, DQLITE_VOTER);
    tcAssign(&c, 2, DQLITE_VOTER);
    tcStopNode(&c, 2);
    tcWaitFor(&c, &v, unchanged, 3 * 1000 + 500);
    check(v.voters == 3 && v.role[2] == DQLITE_VOTER, &c, &v,
          "off: a stopped voter stays a voter");
    tcClose(&c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    tcElapsedMs();
    testFiveNodes(); /* forks: first, while this process has one thread */
    testRebalance();
    testLeaderStop();
    testOff();
    fprintf(stdout, "[====] roles: %u checks passed in %u ms\n", tc_checks,
            tcElapsedMs());
    return 0;
}
