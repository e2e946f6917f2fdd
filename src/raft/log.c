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
    l->n = 0;
    l->cap = 0;
    l->offset = offset;
    l->offset_term = offset_term;
}

void logClose(struct raft_log *l)
{
    logTruncate(l, l->offset + 1);
    libFree(l->entries);
    l->entries = NULL;
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

int logAppend(struct raft_log *l, const struct raft_entry *e)
{
    PRE(e->term >= logLastTerm(l));
    if (l->n == l->cap) {
        size_t cap = l->cap == 0 ? 16 : l->cap * 2;
        struct raft_entry *entries =
            libRealloc(l->entries, cap * sizeof *entries);
        if (entries == NULL) {
            return ERR_NOMEM;
        }
        l->entries = entries;
        l->cap = cap;
    }
    l->entries[l->n++] = *e;
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
    for (size_t i = 0; i < drop; i++) {
        raftPayloadUnref(l->entries[i].data);
    }
    memmove(l->entries, l->entries + drop, (l->n - drop) * sizeof *l->entries);
    l->n -= drop;
    l->offset = upto;
}

void logReset(struct raft_log *l, uint64_t index, uint64_t term)
{
    logTruncate(l, l->offset + 1);
    l->offset = index;
    l->offset_term = term;
}
