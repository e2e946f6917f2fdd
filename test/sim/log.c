/*
 * Simulator logs with prefix hashes: each entry carries a hash of the whole
 * log up to it, so that "same index and term implies same prefix" (log
 * matching) and "every node applies the same entries" (state-machine
 * safety) are each checked in O(1) per entry.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "sim/sim.h"

static uint64_t simMix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

uint64_t simChain(uint64_t prev, uint64_t index, const struct raft_entry *e)
{
    uint64_t h = simMix(simMix(prev, index), e->term);
    h = simMix(h, e->type);
    for (size_t i = 0; i < e->len; i++) {
        h = simMix(h, e->data[i]);
    }
    return h;
}

void simLogInit(struct sim_log *l)
{
    memset(l, 0, sizeof *l);
    l->first = 1;
}

void simLogClose(struct sim_log *l)
{
    simLogTruncate(l, l->first);
    libFree(l->a);
    simLogInit(l);
}

uint64_t simLogLast(const struct sim_log *l)
{
    return l->first + l->n - 1;
}

uint64_t simLogTerm(const struct sim_log *l, uint64_t index)
{
    if (index == l->first - 1) {
        return l->base_term;
    }
    if (index < l->first || index > simLogLast(l)) {
        return 0;
    }
    return l->a[index - l->first].e.term;
}

void simLogTruncate(struct sim_log *l, uint64_t from)
{
    while (l->n > 0 && simLogLast(l) >= from) {
        raftPayloadUnref(l->a[l->n - 1].e.data);
        l->n--;
    }
}

uint64_t simLogAppend(struct sim_log *l, const struct raft_entry *e)
{
    uint64_t prev = l->n > 0 ? l->a[l->n - 1].chain : l->base_chain;
    if (l->n == l->cap) {
        l->cap = l->cap == 0 ? 64 : l->cap * 2;
        l->a = libRealloc(l->a, l->cap * sizeof *l->a);
        ASSERT(l->a != NULL);
    }
    l->a[l->n].e = *e;
    raftPayloadRef(e->data);
    l->a[l->n].chain = simChain(prev, simLogLast(l) + 1, e);
    l->n++;
    return l->a[l->n - 1].chain;
}

void simLogReset(struct sim_log *l, uint64_t index, uint64_t term,
                 uint64_t chain)
{
    simLogTruncate(l, l->first);
    l->first = index + 1;
    l->base_term = term;
    l->base_chain = chain;
}

void simLogCompact(struct sim_log *l, uint64_t upto)
{
    if (upto < l->first) {
        return;
    }
    ASSERT(upto <= simLogLast(l));
    size_t drop = (size_t)(upto - l->first + 1);
    l->base_term = l->a[drop - 1].e.term;
    l->base_chain = l->a[drop - 1].chain;
    for (size_t i = 0; i < drop; i++) {
        raftPayloadUnref(l->a[i].e.data);
    }
    memmove(l->a, l->a + drop, (l->n - drop) * sizeof *l->a);
    l->n -= drop;
    l->first = upto + 1;
}

void simLogCopy(struct sim_log *dst, const struct sim_log *src)
{
    simLogClose(dst);
    dst->first = src->first;
    dst->base_term = src->base_term;
    dst->base_chain = src->base_chain;
    for (size_t i = 0; i < src->n; i++) {
        simLogAppend(dst, &src->a[i].e);
    }
}
