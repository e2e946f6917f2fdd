/*
 * Whether this node is still a member: a node removed from the cluster
 * while it ran never hears of it (the leader stops replicating to it with
 * the very entry that removes it), so it would campaign in vain, forever
 * and in silence. A node that has had no leader for a while, and whose own
 * configuration still names it, asks the cluster's leader (through the
 * other members' addresses, with our client library, off the loop) for the
 * configuration; if the leader's does not name it, it was removed: it says
 * so in its log, stops taking part in raft (no more campaigns), and tells
 * the host through the watch function (new state DQLITE_REMOVED). If a
 * leader talks to it again (it was added back), it takes part again and
 * the watch function hears DQLITE_REMOVED -> DQLITE_FOLLOWER.
 */
#ifndef SERVER_MEMBERSHIP_H
#define SERVER_MEMBERSHIP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct dqlite_node;

struct membership {
    uv_timer_t timer;
    bool started;
    bool probing;           /* a check runs on the thread pool */
    bool removed;           /* learned: not a member any more */
    uint64_t leaderless_ms; /* since when no leader is known, 0 if one is */
};

/* On the loop thread, from start / at shutdown. */
void membershipStart(struct dqlite_node *n);
void membershipClose(struct dqlite_node *n);

#endif /* SERVER_MEMBERSHIP_H */
