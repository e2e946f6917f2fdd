/*
 * The planted bugs of faults-node-read (docs/faults.md, "Planted bugs"):
 * the follower-read gate's own code (src/server/gateway_read.c), compiled
 * again here with a call replaced, chosen by DQF_BUG:
 *   follower-no-read-index  a follower answers `linearizable` reads from
 *                           what it has applied, without asking the leader
 *                           for its read index;
 *   bounded-ignores-bound   a follower answers `bounded:N` reads however far
 *                           behind it is.
 * Both serve the read as `any` does. Test code only: the switch is which
 * program run.sh starts and this variable; nothing in src/ knows of it.
 */
#include <stdlib.h>
#include <string.h>

#include "server/replica.h"

static int plantedReadFollower(struct replica *r, struct replica_wait *w);
static int plantedReadBounded(struct replica *r, struct replica_wait *w,
                              uint64_t bound_ms);
#define replicaReadFollower plantedReadFollower
#define replicaReadBounded plantedReadBounded
#include "server/gateway_read.c"
#undef replicaReadFollower
#undef replicaReadBounded

static bool plantedIs(const char *bug)
{
    const char *env = getenv("DQF_BUG");
    return env != NULL && strcmp(env, bug) == 0;
}

static int plantedReadFollower(struct replica *r, struct replica_wait *w)
{
    if (plantedIs("follower-no-read-index")) {
        return replicaReadAny(r, w); /* THE BUG */
    }
    return replicaReadFollower(r, w);
}

static int plantedReadBounded(struct replica *r, struct replica_wait *w,
                              uint64_t bound_ms)
{
    if (plantedIs("bounded-ignores-bound")) {
        return replicaReadAny(r, w); /* THE BUG */
    }
    return replicaReadBounded(r, w, bound_ms);
}
