/* The replica's wait lists: waits met by one apply are completed once each,
 * in order, even when their callbacks add, cancel or meet other waits (a
 * membership change starts its wait from its barrier's callback). */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "server/replica.h"
#include "server/replica_internal.h"

struct probe {
    struct replica_wait wait;
    struct replica *r;
    int calls;
    int order;
    struct probe *chain; /* re-armed from the callback, as REMOVE does */
    uint64_t chain_index;
};

static int next_order;

static void probeDone(struct replica_wait *w, int status)
{
    struct probe *p = (struct probe *)w;
    cr_assert_eq(status, 0);
    p->calls++;
    p->order = ++next_order;
    if (p->chain != NULL) {
        struct probe *c = p->chain;
        p->chain = NULL;
        c->wait.index = c->chain_index;
        queueInsertTail(&p->r->barriers, &c->wait.link);
        replicaWakeApplied(p->r); /* nested, as replicaWaitApplied does */
    }
}

static void probeAdd(struct replica *r, struct probe *p, uint64_t index)
{
    memset(p, 0, sizeof *p);
    p->r = r;
    p->wait.cb = probeDone;
    p->wait.index = index;
    queueInsertTail(&r->barriers, &p->wait.link);
}

/* A walk that loses track of the list spins forever: fail instead. */
static void replicaForTest(struct replica *r)
{
    alarm(10);
    memset(r, 0, sizeof *r);
    queueInit(&r->barriers);
    queueInit(&r->reads);
    queueInit(&r->roles);
    next_order = 0;
}

Test(replica_waits, callback_that_rearms_does_not_disturb_the_others)
{
    struct replica r;
    struct probe a, b, c;
    replicaForTest(&r);
    probeAdd(&r, &a, 5);
    probeAdd(&r, &b, 5);
    probeAdd(&r, &c, 6);
    a.chain = &a; /* a's callback waits again, for index 9 */
    a.chain_index = 9;
    r.applied = 6;
    replicaWakeApplied(&r);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(b.calls, 1, "b completed %d times", b.calls);
    cr_assert_eq(c.calls, 1, "c completed %d times", c.calls);
    cr_assert(a.order < b.order && b.order < c.order);
    cr_assert_eq(queueCount(&r.barriers), 1); /* a, again */
    r.applied = 9;
    replicaWakeApplied(&r);
    cr_assert_eq(a.calls, 2);
    cr_assert(queueEmpty(&r.barriers));
}

Test(replica_waits, unmet_waits_stay_in_order)
{
    struct replica r;
    struct probe a, b, c;
    replicaForTest(&r);
    probeAdd(&r, &a, 3);
    probeAdd(&r, &b, 8);
    probeAdd(&r, &c, 4);
    r.applied = 4;
    replicaWakeApplied(&r);
    cr_assert(a.calls == 1 && b.calls == 0 && c.calls == 1);
    cr_assert_eq(queueHead(&r.barriers), &b.wait.link);
}
