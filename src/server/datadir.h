/*
 * The node's hold on its data directory: an exclusive lock for the node's
 * lifetime and the `node-id` file that says which node the directory
 * belongs to.
 *
 * The raft files (metadata, seg-*, snap-*) do not say which node wrote
 * them: starting node 2 on node 1's log would vote and campaign with node
 * 1's term and vote. So the directory carries `node-id` (the id in decimal
 * and a newline), written atomically once the node has really started, and
 * checked at every start. Two processes (or two nodes in one process) on
 * one directory would share one log and one vote, so the node holds an
 * flock(2) on `node.lock` (which also records the holder's pid) from start
 * until it is destroyed; flock locks belong to the open file, so a second
 * node in the same process is refused too.
 */
#ifndef SERVER_DATADIR_H
#define SERVER_DATADIR_H

#include <stdint.h>

struct dqlite_node;

#define DATADIR_LOCK_FILE "node.lock"
#define DATADIR_ID_FILE "node-id"

/* Takes the directory's lock (kept until nodeDirRelease) and checks its
 * owner. DQLITE_LOCKED when another node holds it, DQLITE_CANTBOOTSTRAP
 * when node-id names another node, DQLITE_ERROR otherwise; the node's
 * errmsg says why. */
int nodeDirAcquire(struct dqlite_node *n);

/* Writes node-id for the started node, if the directory has none yet
 * (temporary file, fsync, rename, fsync of the directory). 0 or
 * DQLITE_ERROR with the node's errmsg set. */
int nodeDirClaim(struct dqlite_node *n);

/* Drops the lock (no-op if not held). */
void nodeDirRelease(struct dqlite_node *n);

/* Whether another node holds the directory's lock: 1 (with *pid its
 * holder's, 0 if unknown), else 0. Does not keep the lock. */
int nodeDirInUse(const char *dir, long *pid);

#endif /* SERVER_DATADIR_H */
