/*
 * Helpers of the automatic roles test (test/roles): nodes on free loopback
 * ports, run in this process through dqlite.h or in a forked child (so the
 * test can kill one without a goodbye), and the cluster's roles as our
 * client (dqlite_client.h) reads them from the leader.
 */
#ifndef TEST_ROLES_CLUSTER_H
#define TEST_ROLES_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dqlite.h"
#include "dqlite_client.h"

#define TC_MAX_NODES 8

struct tc_node {
    uint64_t id;
    char address[64];
    char dir[256];
    uint64_t domain;
    dqlite_node *node; /* in this process, NULL otherwise */
    pid_t pid;         /* in a child process, 0 otherwise */
};

struct tc_cluster {
    char root[128]; /* temporary directory of the data dirs */
    unsigned n;
    struct tc_node nodes[TC_MAX_NODES];
    unsigned voters, standbys; /* auto roles of every node (0: off) */
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
};

/* Roles as read from the leader: role[i] of nodes[i] (-1: not a member). */
struct tc_view {
    int role[TC_MAX_NODES];
    unsigned voters, standbys, spares;
    uint64_t leader;
};

/* Failure of the test: prints and exits (the child nodes die with us). */
void tcFail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Milliseconds since the test started, for the log. */
unsigned tcElapsedMs(void);

/* `n` nodes with ids 1..n, free ports, fresh data dirs; nothing runs. */
void tcInit(struct tc_cluster *c, unsigned n, const uint64_t *domains,
            unsigned voters, unsigned standbys);

/* Runs nodes[i] in a forked child (call before any thread exists). */
void tcForkNode(struct tc_cluster *c, unsigned i);

/* Creates, configures and starts nodes[i] in this process. */
void tcStartNode(struct tc_cluster *c, unsigned i);

/* dqlite_node_stop() on nodes[i] (in this process); returns its duration
 * in milliseconds. */
unsigned tcStopNode(struct tc_cluster *c, unsigned i);

/* SIGKILL to the child running nodes[i]. */
void tcKillNode(struct tc_cluster *c, unsigned i);

/* The client driver (store: every node's address). */
void tcConnectDriver(struct tc_cluster *c);

/* Adds nodes[i] with `role` through the leader. */
void tcJoin(struct tc_cluster *c, unsigned i, int role);

/* Assigns `role` to nodes[i] through the leader. */
void tcAssign(struct tc_cluster *c, unsigned i, int role);

/* Reads the roles from the leader; false if no leader answered. */
bool tcView(struct tc_cluster *c, struct tc_view *v);

/* Prints a view on one line, with a label. */
void tcPrintView(const struct tc_cluster *c, const struct tc_view *v,
                 const char *label);

/* Polls the view every 200 ms until `pred` holds, for at most
 * `timeout_ms`; the last view is left in *v. */
bool tcWaitFor(struct tc_cluster *c, struct tc_view *v,
               bool (*pred)(const struct tc_cluster *c,
                            const struct tc_view *v),
               unsigned timeout_ms);

/* Stops every node, kills children, frees the client, removes the dirs. */
void tcClose(struct tc_cluster *c);

#endif /* TEST_ROLES_CLUSTER_H */
