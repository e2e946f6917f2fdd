/*
 * A fake cluster for the client's tests: up to four fake nodes on loopback
 * that answer LEADER with the cluster's current leader, CLIENT, CLUSTER
 * (format 1, every node), OPEN, and by default simple SQL answers. Only the
 * leader serves SQL; the others answer FAILURE 10250 "not leader". A test
 * overrides any request with a hook.
 */
#ifndef TEST_CLIENT_TCLUSTER_H
#define TEST_CLIENT_TCLUSTER_H

#include <dqlite_client.h>
#include <stdbool.h>

#include "fake.h"

#define TCLUSTER_NODES_MAX 4

struct tcluster;

struct tnode {
    struct tcluster *tc;
    int index;
    uint64_t id;
    int role;
    struct fake_server *srv;
};

/* Handles the request in fc->req; returns false to get the default. */
typedef bool (*tnode_hook)(struct fake_conn *fc, struct tnode *node);

struct tcluster {
    pthread_mutex_t mutex;
    int n;
    struct tnode nodes[TCLUSTER_NODES_MAX];
    int leader; /* index of the leader, -1 for none */
    tnode_hook hook;
    void *data; /* for the hook */
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
};

/* Starts `n` nodes (ids 1..n, voters), node 0 leading, and a driver whose
 * store holds node 0 only (options may be NULL). */
struct tcluster *tclusterStart(int n,
                               const struct dqlite_driver_options *options);
void tclusterStop(struct tcluster *tc);
void tclusterSetLeader(struct tcluster *tc, int leader);
int tclusterLeader(struct tcluster *tc);
const char *tclusterAddress(struct tcluster *tc, int i);
/* Requests of `type` node i received. */
int tclusterCount(struct tcluster *tc, int i, uint8_t type);

/* Sends a ROWS batch of one INTEGER column "n" with values from..to-1. */
void tnodeSendIntRows(struct fake_conn *fc, int from, int to, bool done);

#endif /* TEST_CLIENT_TCLUSTER_H */
