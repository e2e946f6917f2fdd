/*
 * The db-thread watchdog: a leader whose SQL cannot make progress stops
 * claiming leadership, so the cluster moves on (docs/server.md, "Runaway
 * statements").
 *
 * Every statement is bounded by the statement timeout (sql.h's guard), so
 * a db thread that has run one job for longer than that bound plus
 * NODE_STUCK_GRACE_MS is stuck: a single step that does not heed the
 * interruption, an apply or a checkpoint that does not progress. Its
 * loop still answers LEADER and heartbeats, but no write can commit and no
 * query can run; so, checked once a second, such a leader hands
 * leadership to the most up-to-date voter it is connected to (raftTransfer,
 * as a stopping leader does), logs it, and tries again after another bound
 * while it stays stuck. Loop thread only.
 */
#include "lib/assert.h"
#include "server/node.h"

/* How often the db thread is looked at. */
#define WATCHDOG_INTERVAL_MS 1000

unsigned nodeStuckBoundMs(const struct dqlite_node *n)
{
    unsigned timeout_ms = n->statement_timeout_ms != 0
                              ? n->statement_timeout_ms
                              : NODE_STATEMENT_TIMEOUT_MS;
    return timeout_ms + NODE_STUCK_GRACE_MS;
}

/* A stuck leader hands over; false when there is nobody to hand over to. */
static bool watchdogStepDown(struct dqlite_node *n, uint64_t busy_ms)
{
    struct replica *r = &n->replica;
    uint64_t target = nodeHandOverTarget(n);
    if (target == 0 || raftTransfer(r->raft, target) != 0) {
        nodeLogf(n, DQLITE_LOG_ERROR,
                 "the db thread has run one job for %llu ms (bound %u ms) "
                 "and no voter can take leadership over",
                 (unsigned long long)busy_ms, nodeStuckBoundMs(n));
        return false;
    }
    nodeLogf(n, DQLITE_LOG_WARN,
             "the db thread has run one job for %llu ms (bound %u ms): "
             "handing leadership over to node %llu",
             (unsigned long long)busy_ms, nodeStuckBoundMs(n),
             (unsigned long long)target);
    replicaProcess(r);
    return true;
}

static void watchdogOnTimer(uv_timer_t *timer)
{
    struct dqlite_node *n = timer->data;
    uint64_t busy_ms = workerBusyMs(&n->worker);
    uint64_t now_ms = uv_now(&n->loop);
    unsigned bound_ms = nodeStuckBoundMs(n);
    if (busy_ms < bound_ms || !replicaIsLeader(&n->replica) ||
        now_ms < n->stuck_next_ms) {
        return;
    }
    watchdogStepDown(n, busy_ms);
    n->stuck_next_ms = now_ms + bound_ms; /* once per bound, not per tick */
}

void nodeWatchdogStart(struct dqlite_node *n)
{
    uv_timer_init(&n->loop, &n->stuck_timer);
    n->stuck_timer.data = n;
    n->stuck_next_ms = 0;
    uv_timer_start(&n->stuck_timer, watchdogOnTimer, WATCHDOG_INTERVAL_MS,
                   WATCHDOG_INTERVAL_MS);
}

void nodeWatchdogClose(struct dqlite_node *n)
{
    uv_close((uv_handle_t *)&n->stuck_timer, NULL);
}
