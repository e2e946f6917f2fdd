/*
 * The in-memory raft log: the entries after the last compaction point, each
 * holding a reference to its payload. Index arithmetic lives here and only
 * here: entries[i] has index offset + 1 + i, and the term of the entry at
 * `offset` (the last compacted one) is remembered so that consistency
 * checks still work right after a compaction or a snapshot install.
 *
 * The log also counts the payload bytes it holds (the entry cache bound of
 * docs/raft.md, "Memory"): ends[i] is the running total of payload bytes up
 * to and including entries[i], and `base` the total up to `offset`, so the
 * bytes of any held range are one subtraction.
 */
#ifndef RAFT_LOG_H
#define RAFT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

struct raft_log {
    struct raft_entry *entries; /* owned, each with a payload reference */
    uint64_t *ends;             /* n: running payload bytes, see above */
    size_t n;
    size_t cap;
    uint64_t base;        /* running payload bytes up to offset */
    uint64_t offset;      /* index before entries[0] */
    uint64_t offset_term; /* term of the entry at offset, 0 when offset 0 */
};

void logInit(struct raft_log *l, uint64_t offset, uint64_t offset_term);
void logClose(struct raft_log *l);
uint64_t logLastIndex(const struct raft_log *l);
uint64_t logLastTerm(const struct raft_log *l);
/* Term at `index`, 0 when unknown (compacted or past the end). */
uint64_t logTermAt(const struct raft_log *l, uint64_t index);
/* NULL when not held in memory. */
const struct raft_entry *logGet(const struct raft_log *l, uint64_t index);
/* Payload bytes held of the entries with index in (after, upto]. */
uint64_t logBytes(const struct raft_log *l, uint64_t after, uint64_t upto);
/* The smallest index u >= offset such that the entries in (u, last] hold at
 * most max_bytes. */
uint64_t logIndexKeeping(const struct raft_log *l, uint64_t max_bytes);
/* Appends taking a NEW reference to e->data. ERR_NOMEM. */
int logAppend(struct raft_log *l, const struct raft_entry *e);
/* Drops entries with index >= from (from > offset). */
void logTruncate(struct raft_log *l, uint64_t from);
/* Drops entries with index <= upto (offset <= upto <= last). */
void logCompact(struct raft_log *l, uint64_t upto);
/* Drops everything: the log restarts after (index, term). */
void logReset(struct raft_log *l, uint64_t index, uint64_t term);

#endif /* RAFT_LOG_H */
