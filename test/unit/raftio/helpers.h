/* Shared helpers of the raftio tests: deterministic entry contents, so a
 * reloaded log can be checked byte by byte against what was appended. */
#ifndef TEST_RAFTIO_HELPERS_H
#define TEST_RAFTIO_HELPERS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

/* Payload of entry `index` written in `term`: length and bytes derive from
 * both, so a stale entry of an older term never passes for a new one. */
static inline size_t helperLen(uint64_t index, uint64_t term)
{
    return (size_t)((index * 7919 + term * 31) % 300);
}

static inline void helperFill(uint8_t *out, uint64_t index, uint64_t term)
{
    size_t n = helperLen(index, term);
    for (size_t i = 0; i < n; i++) {
        out[i] = (uint8_t)(index * 131 + term * 17 + i);
    }
}

static inline struct raft_entry helperEntry(uint8_t *storage, uint64_t index,
                                            uint64_t term)
{
    helperFill(storage, index, term);
    return (struct raft_entry){.term = term,
                               .type = (uint8_t)(index % 3),
                               .data = storage,
                               .len = helperLen(index, term)};
}

/* 1 when `e` is exactly what helperEntry(index, e->term) produced. */
static inline int helperCheck(const struct raft_entry *e, uint64_t index,
                              uint64_t term)
{
    uint8_t want[300];
    if (e->term != term || e->len != helperLen(index, term) ||
        e->type != index % 3) {
        return 0;
    }
    if (e->len == 0) {
        return 1;
    }
    helperFill(want, index, term);
    return memcmp(e->data, want, e->len) == 0;
}

#endif /* TEST_RAFTIO_HELPERS_H */
