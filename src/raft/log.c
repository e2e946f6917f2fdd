/*
 * The in-memory raft log (see log.h): a growable array of entries after a
 * compaction offset.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "raft/log.h"

void logInit(struct raft_log *l, uint64_t offset, uint64_t offset_term)
{
    l->entries = NULL;
    l->ends = NULL;
    l->base = 0;
    l->n = 0;
    l->cap = 0;
    l->offset = offset;
    l->offset_term = offset_term;
}

void logClose(struct raft_log *l)
{
    logTruncate(l, l->offset + 1);
    libFree(l->entries);
    libFree(l->ends);
    l->entries = NULL;
    l->ends = NULL;
    l->cap = 0;
}

uint64_t logLastIndex(const struct raft_log *l)
{
    return l->offset + l->n;
}

uint64_t logLastTerm(const struct raft_log *l)
{
    return l->n > 0 ? l->entries[l->n - 1].term : l->offset_term;
}

uint64_t logTermAt(const struct raft_log *l, uint64_t index)
{
    if (index == l->offset) {
        return l->offset_term;
    }
    if (index < l->offset || index > logLastIndex(l)) {
        return 0;
    }
    return l->entries[index - l->offset - 1].term;
}

const struct raft_entry *logGet(const struct raft_log *l, uint64_t index)
{
    if (index <= l->offset || index > logLastIndex(l)) {
        return NULL;
    }
    return &l->entries[index - l->offset - 1];
}

/* Running total of payload bytes up to `index` (offset <= index <= last). */
static uint64_t logEnd(const struct raft_log *l, uint64_t index)
{
    PRE(index >= l->offset && index <= logLastIndex(l));
    return index == l->offset ? l->base : l->ends[index - l->offset - 1];
}

uint64_t logBytes(const struct raft_log *l, uint64_t after, uint64_t upto)
{
    uint64_t last = logLastIndex(l);
    after = after < l->offset ? l->offset : (after > last ? last : after);
    upto = upto > last ? last : upto;
    return upto > after ? logEnd(l, upto) - logEnd(l, after) : 0;
}

uint64_t logIndexKeeping(const struct raft_log *l, uint64_t max_bytes)
{
    uint64_t last = logLastIndex(l);
    uint64_t lo = l->offset, hi = last; /* the answer is in [lo, hi] */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (logBytes(l, mid, last) <= max_bytes) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    POST(logBytes(l, lo, last) <= max_bytes);
    return lo;
}

static int logGrow(struct raft_log *l)
{
    size_t cap = l->cap == 0 ? 16 : l->cap * 2;
    struct raft_entry *entries = libRealloc(l->entries, cap * sizeof *entries);
    if (entries == NULL) {
        return ERR_NOMEM;
    }
    l->entries = entries;
    uint64_t *ends = libRealloc(l->ends, cap * sizeof *ends);
    if (ends == NULL) {
        return ERR_NOMEM; /* entries grew: harmless, cap unchanged */
    }
    l->ends = ends;
    l->cap = cap;
    return 0;
}

int logAppend(struct raft_log *l, const struct raft_entry *e)
{
    PRE(e->term >= logLastTerm(l));
    if (l->n == l->cap) {
        int rv = logGrow(l);
        if (rv != 0) {
            return rv;
        }
    }
    uint64_t end = logEnd(l, logLastIndex(l)) + e->len;
    l->entries[l->n] = *e;
    l->ends[l->n++] = end;
    raftPayloadRef(e->data);
    return 0;
}

void logTruncate(struct raft_log *l, uint64_t from)
{
    PRE(from > l->offset);
    while (logLastIndex(l) >= from) {
        raftPayloadUnref(l->entries[l->n - 1].data);
        l->n--;
    }
}

void logCompact(struct raft_log *l, uint64_t upto)
{
    PRE(upto >= l->offset && upto <= logLastIndex(l));
    size_t drop = (size_t)(upto - l->offset);
    if (drop == 0) {
        return;
    }
    l->offset_term = logTermAt(l, upto);
    l->base = logEnd(l, upto);
    for (size_t i = 0; i < drop; i++) {
        raftPayloadUnref(l->entries[i].data);
    }
    memmove(l->entries, l->entries + drop, (l->n - drop) * sizeof *l->entries);
    memmove(l->ends, l->ends + drop, (l->n - drop) * sizeof *l->ends);
    l->n -= drop;
    l->offset = upto;
}

void logReset(struct raft_log *l, uint64_t index, uint64_t term)
{
    logTruncate(l, l->offset + 1);
    l->offset = index;
    l->offset_term = term;
}
