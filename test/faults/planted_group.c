/*
 * The planted bugs of faults-node-group (docs/faults.md, "Planted bugs"):
 * the write queue's own code (src/server/gateway_group.c), compiled again
 * here with a call replaced, chosen by DQF_BUG:
 *   group-early-answer  a group's members are answered as soon as its
 *                       entry is proposed, not once it is applied: a
 *                       leader that loses the entry has acknowledged
 *                       writes nobody will ever see;
 *   group-lost-member   every seventh statement kept on the stack is
 *                       dropped from it (the wrong mark restored), yet
 *                       answered as done.
 * Test code only: the switch is which program run.sh starts and this
 * variable; nothing in src/ knows of it.
 */
#include <stdlib.h>
#include <string.h>

#include "server/replica.h"
#include "vfs/vfs.h"

static int plantedPropose(struct replica *r, uint8_t *data, size_t len,
                          struct replica_wait *w);
static int plantedStackEnd(struct vfs *v, const char *name, bool keep,
                           uint64_t max_bytes);
#define replicaPropose plantedPropose
#define vfsStackEnd plantedStackEnd
#include "server/gateway_group.c"
#undef replicaPropose
#undef vfsStackEnd

static bool plantedIs(const char *bug)
{
    const char *env = getenv("DQF_BUG");
    return env != NULL && strcmp(env, bug) == 0;
}

static int plantedStackEnd(struct vfs *v, const char *name, bool keep,
                           uint64_t max_bytes)
{
    static unsigned n_kept;
    if (keep && plantedIs("group-lost-member") && ++n_kept % 7 == 0) {
        (void)vfsStackEnd(v, name, false, max_bytes); /* THE BUG */
        return 0;
    }
    return vfsStackEnd(v, name, keep, max_bytes);
}

/* The real wait of the entry, apart from the group (already answered). */
struct planted_wait {
    struct replica_wait wait;
    struct worker_job job;
    struct dqlite_node *node;
    char *db_name;
};

static void plantedFree(struct planted_wait *p)
{
    libFree(p->db_name);
    libFree(p);
}

static void plantedAbortWork(struct worker_job *job)
{
    struct planted_wait *p =
        (struct planted_wait *)(void *)((char *)job -
                                        offsetof(struct planted_wait, job));
    (void)replLeaderAbort(p->node->replica.vfs, p->db_name);
}

static void plantedAbortDone(struct worker_job *job)
{
    struct planted_wait *p =
        (struct planted_wait *)(void *)((char *)job -
                                        offsetof(struct planted_wait, job));
    gatewayWakeParked(&p->node->parked, p->db_name);
    plantedFree(p);
}

static void plantedOnApplied(struct replica_wait *w, int status)
{
    struct planted_wait *p = (struct planted_wait *)(void *)w;
    if (status == 0) {
        gatewayWakeParked(&p->node->parked, p->db_name);
        plantedFree(p);
        return;
    }
    p->job.work = plantedAbortWork;
    p->job.done = plantedAbortDone;
    workerSubmit(&p->node->worker, &p->job);
}

static int plantedPropose(struct replica *r, uint8_t *data, size_t len,
                          struct replica_wait *w)
{
    struct gateway_group *grp = GROUP_OF(w, wait);
    if (!plantedIs("group-early-answer")) {
        return replicaPropose(r, data, len, w);
    }
    struct planted_wait *p = libCalloc(1, sizeof *p);
    char *name = libStrdup(grp->db_name);
    if (p == NULL || name == NULL) {
        libFree(p);
        libFree(name);
        return ERR_NOMEM;
    }
    p->node = grp->node;
    p->db_name = name;
    queueInit(&p->wait.link);
    p->wait.cb = plantedOnApplied;
    int rv = replicaPropose(r, data, len, &p->wait);
    if (rv != 0) {
        plantedFree(p);
        return rv;
    }
    w->cb(w, 0); /* THE BUG: everyone answered before the apply */
    return 0;
}
