/*
 * TEMPORARY stubs so that src/raftio can build against raft.h while the core
 * is being written. Every function returns ERR_UNSUPPORTED or nothing.
 * STUB: this file disappears when the implementation lands.
 */
#include "lib/err.h"
#include "raft/raft.h"

int raftCreate(uint64_t id, const struct raft_options *opts,
               const struct raft_hard_state *hs,
               const struct raft_snapshot_meta *snap,
               const struct raft_entry *entries, unsigned n_entries,
               uint64_t first_index, uint64_t now_ms, struct raft **out)
{
    (void)id, (void)opts, (void)hs, (void)snap, (void)entries;
    (void)n_entries, (void)first_index, (void)now_ms;
    *out = NULL;
    return ERR_UNSUPPORTED; /* STUB */
}

int raftMessageEncode(const struct raft_message *m, uint8_t **out, size_t *len)
{
    (void)m, (void)out, (void)len;
    return ERR_UNSUPPORTED; /* STUB */
}

int raftMessageDecode(const uint8_t *buf, size_t len, struct raft_message *m)
{
    (void)buf, (void)len, (void)m;
    return ERR_UNSUPPORTED; /* STUB */
}
