/*
 * dqlite 1.11's state machine bytes translated into ours, for the one-time
 * conversion of a 1.11 data directory (raftio/legacy.h drives it; the
 * mapping is in docs/disk-format.md §5.3).
 *
 * 1.11 commands (canonical/dqlite src/command.c, format 1): an 8-byte header
 * (format, type, 6 unused bytes), then
 *   OPEN       filename                     -> no-op (1.11 applies nothing)
 *   FRAMES     filename, tx id, truncate, is-commit, 3 unused bytes, page
 *              count u32, page size u16, unused u16, page numbers u64 each,
 *              pages                        -> our FRAMES (whole commit)
 *   UNDO       tx id                        -> no-op
 *   CHECKPOINT filename                     -> our CHECKPOINT
 * with little-endian integers and NUL-terminated names padded to 8 bytes.
 * A FRAMES without its commit flag (the pre-1.0 form 1.11 only applies when
 * upgrading from it) is refused.
 *
 * Our FRAMES carries the database size after the commit; 1.11 derived it at
 * apply time (the size before the commit, grown to the largest page
 * number), so the translation tracks each database's size the same way,
 * seeded by the snapshot: it is a state machine of its own, fed every
 * command in log order after the snapshot.
 *
 * 1.11 snapshot (src/fsm.c, format 1): u64 format, u64 database count, then
 * per database its filename, u64 main size, u64 WAL size, the main file and
 * the WAL: the same content as our snapshot (docs/replication.md), which it
 * becomes.
 *
 * Every length is bounded by the input (fuzzed by test/fuzz/repl_legacy.c).
 */
#ifndef REPL_LEGACY_H
#define REPL_LEGACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define REPL_LEGACY_MAX_DBS 65536

struct repl_legacy_db {
    char *name;       /* libMalloc'd */
    uint32_t n_pages; /* database size after the last commit */
};

struct repl_legacy {
    struct repl_legacy_db *dbs;
    uint32_t n_dbs;
};

void replLegacyInit(struct repl_legacy *l);
void replLegacyClose(struct repl_legacy *l);

/* A 1.11 snapshot at `index` into our snapshot encoding, appended to `out`;
 * seeds the database sizes. ERR_MALFORMED (reason in `why`), ERR_NOMEM. */
int replLegacySnapshot(struct repl_legacy *l, const uint8_t *data, size_t len,
                       uint64_t index, struct buf *out, char *why,
                       size_t why_len);

/* A 1.11 command into one of ours appended to `out`, or *noop. Commands
 * must come in log order. ERR_MALFORMED, ERR_UNSUPPORTED (reason in `why`),
 * ERR_TOOBIG, ERR_NOMEM. */
int replLegacyCommand(struct repl_legacy *l, const uint8_t *data, size_t len,
                      struct buf *out, bool *noop, char *why, size_t why_len);

#endif /* REPL_LEGACY_H */
