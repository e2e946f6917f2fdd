/*
 * The start-up step that converts a dqlite 1.11 data directory in place
 * before anything is loaded (docs/disk-format.md §5): raftio reads and
 * writes the raft files, src/repl translates the state machine's bytes;
 * this file joins the two, since the module rules let only the server see
 * both. Without it our node would bootstrap an empty cluster beside the
 * 1.11 files and every row would be gone without a word.
 */
#include <stdio.h>

#include "lib/err.h"
#include "raftio/legacy.h"
#include "repl/legacy.h"
#include "server/replica_internal.h"

static int upgradeSnapshot(void *arg, const uint8_t *data, size_t len,
                           uint64_t index, struct buf *out, char *why,
                           size_t why_len)
{
    return replLegacySnapshot(arg, data, len, index, out, why, why_len);
}

static int upgradeCommand(void *arg, const uint8_t *data, size_t len,
                          struct buf *out, bool *noop, char *why,
                          size_t why_len)
{
    return replLegacyCommand(arg, data, len, out, noop, why, why_len);
}

int serverUpgradeDir(const char *dir, raftio_logger_fn logger, void *arg,
                     char *errmsg, size_t errmsg_len)
{
    struct repl_legacy state;
    replLegacyInit(&state);
    struct raftio_legacy_fsm fsm = {&state, upgradeSnapshot, upgradeCommand};
    enum legacy_outcome outcome;
    int rv = raftioLegacyUpgrade(dir, &fsm, logger, arg, &outcome, errmsg,
                                 errmsg_len);
    replLegacyClose(&state);
    return rv;
}
