/*
 * Automatic role management (dqlite_node_set_auto_roles), server-side and
 * opt-in: the leader keeps the cluster at a target number of voters and
 * stand-bys, and a voter that is stopped hands its vote to a stand-by.
 *
 *   roles_plan.c   the policy: given what the leader knows of each member,
 *                  the one role change to make next (pure, unit-tested)
 *   roles_probe.c  DESCRIBE probes and ASSIGN requests through our client
 *                  library (blocking: run on libuv's thread pool)
 *   roles.c        the setter, the leader's periodic round (a uv timer:
 *                  probe every member, record its health, plan, apply one
 *                  change with raftAssignRole) and the loop hooks
 *   roles_stop.c   the graceful stop of a voter: promote a healthy stand-by
 *                  and demote this node before the stop proceeds
 *
 * Health and metadata come from DESCRIBE requests the leader sends to every
 * member each round: an answer proves the member's loop is alive end to end
 * (a frozen or partitioned node keeps its TCP stream "up" for minutes) and
 * carries its failure domain and weight, which only that node knows.
 * docs/roles.md has the rules and the reasons.
 *
 * Threading: `struct roles` lives in the node and belongs to the loop
 * thread; the thread-pool jobs work on copies and report back through
 * libuv's after-work callbacks on the loop.
 */
#ifndef SERVER_ROLES_H
#define SERVER_ROLES_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "raft/raft.h"
#include "server/replica.h"

/* How often the leader runs a round. */
#define ROLES_INTERVAL_MS 1000
/* Consecutive failed probes after which a member counts as offline. */
#define ROLES_SUSPECT_FAILS 2
/* A member offline this many election timeouts is lost: a lost voter is
 * demoted to spare even when no replacement exists. */
#define ROLES_OFFLINE_ELECTIONS 3
/* One probe: dialling, then the DESCRIBE call. */
#define ROLES_DIAL_MS 300
#define ROLES_CALL_MS 500
/* All the probes of one round. */
#define ROLES_PROBE_BUDGET_MS 1500
/* How long a change of ours may take (a promotion catches the node up). */
#define ROLES_CHANGE_TIMEOUT_MS 60000
/* The whole hand-off of a stopping voter, and its probing part. */
#define ROLES_HANDOFF_MS 2000
#define ROLES_HANDOFF_PROBE_MS 800
/* Members considered (a cluster has a handful). */
#define ROLES_MAX_MEMBERS 64

struct dqlite_node;

/* ------------------------------------------------------------ policy */

/* What the planner knows of one member. */
struct roles_member {
    uint64_t id;
    int role;    /* RAFT_VOTER, RAFT_STANDBY, RAFT_SPARE */
    bool online; /* answered recently */
    bool lost;   /* offline for ROLES_OFFLINE_ELECTIONS election timeouts */
    uint64_t domain;
    uint64_t weight;
};

/* One change: give `role` to member `id`. A demotion of a member that is
 * online (`healthy_demotion`) is only a tidying-up: the caller applies it
 * once two rounds in a row planned it, so it never races a stopping
 * voter's hand-off. */
struct roles_change {
    uint64_t id;
    int role;
    bool healthy_demotion;
    char reason[128];
};

/* The next change for `m` (n members, `leader` among them, never demoted)
 * towards `voters` voters and `standbys` stand-bys; false when none. */
bool rolesPlan(const struct roles_member *m, unsigned n, uint64_t leader,
               unsigned voters, unsigned standbys, struct roles_change *out);

/* The index in `m` of the best online member to promote to `to` (a stand-by
 * or spare for RAFT_VOTER, a spare for RAFT_STANDBY; only stand-bys when
 * `standbys_only`), or -1: a failure domain no online holder of the role
 * has yet, then lower weight, then stand-by before spare, then lower id. */
int rolesPickPromotion(const struct roles_member *m, unsigned n, int to,
                       bool standbys_only);

/* ------------------------------------------------------------ probes */

/* The node's connect function (dqlite_node_set_connect_func), NULL for the
 * client library's own TCP / abstract Unix dialling. */
struct roles_dialer {
    int (*fn)(void *arg, const char *address, int *fd);
    void *arg;
};

enum roles_probe_status { ROLES_SKIPPED, ROLES_ANSWERED, ROLES_FAILED };

/* A member to call, and what the call found. */
struct roles_peer {
    uint64_t id;
    int role;
    char address[RAFT_ADDRESS_MAX + 1];
    int status; /* enum roles_probe_status */
    uint64_t domain;
    uint64_t weight;
};

/* Monotonic milliseconds (any thread). */
int64_t rolesClockMs(void);

/* Off the loop: DESCRIBE each of the `n` peers in order, within `budget_ms`
 * in all; peers left when it is spent are ROLES_SKIPPED. */
void rolesProbeAll(const struct roles_dialer *d, struct roles_peer *p,
                   unsigned n, unsigned budget_ms);

/* Off the loop: find the leader among the answering voters of `p`, then
 * ASSIGN `candidate` voter and `self` spare, by `deadline_ms`
 * (rolesClockMs). 0, or an ERR_* code with `msg` saying what failed. */
int rolesHandOffRemote(const struct roles_dialer *d, const struct roles_peer *p,
                       unsigned n, uint64_t candidate, uint64_t self,
                       int64_t deadline_ms, char *msg, size_t msg_len);

/* ------------------------------------------------------------ the node */

/* What the leader remembers of a member between rounds. */
struct roles_health {
    uint64_t id;
    unsigned fails;         /* consecutive failed probes */
    uint64_t down_since_ms; /* loop time of the first of them */
    bool answered;          /* domain and weight are known */
    uint64_t domain;
    uint64_t weight;
};

struct roles {
    unsigned voters; /* targets; 0 and 0: automatic roles are off */
    unsigned standbys;
    bool started;  /* the timer is initialised */
    bool stopping; /* the stop path began: no more rounds */
    bool probing;  /* a round's probe job is out */
    bool changing; /* a change of ours is not finished */
    struct replica_wait wait;
    struct roles_change deferred; /* a healthy demotion planned once */
    bool has_deferred;
    struct roles_health health[ROLES_MAX_MEMBERS];
    unsigned n_health;
    uv_timer_t timer; /* rounds; then the hand-off's last step */
    void (*handoff_done)(struct dqlite_node *n);
    struct replica_wait handoff_wait;
    uint64_t handoff_candidate;
    uint64_t handoff_deadline_ms;
};

/* Loop hooks (loop.c). Start: once the replica runs (the timer runs only
 * when automatic roles are on). Close: from the node's shutdown. */
void rolesStart(struct dqlite_node *n);
void rolesClose(struct dqlite_node *n);

/* The stop path, before shutting down: when automatic roles are on and
 * this voter's departure leaves fewer online voters than the target, hands
 * its vote to a healthy stand-by (bounded by ROLES_HANDOFF_MS) and returns
 * true: `done` then runs on the loop once it is over, whatever the
 * outcome. False when there is nothing to do (call `done` yourself). */
bool rolesHandOff(struct dqlite_node *n, void (*done)(struct dqlite_node *n));

/* roles.c, for roles_stop.c: the members as this node sees them now, with
 * the health its rounds recorded (n_max >= ROLES_MAX_MEMBERS). */
unsigned rolesMembers(struct dqlite_node *n, struct roles_member *m);
/* The members of the configuration other than this node, healthy first. */
unsigned rolesPeers(struct dqlite_node *n, struct roles_peer *p);

#endif /* SERVER_ROLES_H */
