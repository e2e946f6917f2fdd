/*
 * The start-up step that converts a dqlite 1.11 data directory in place
 * before anything is loaded (docs/disk-format.md §5): raftio reads and
 * writes the raft files, src/repl translates the state machine's bytes;
 * this file joins the two, since the module rules let only the server see
 * both. Without it our node would bootstrap an empty cluster beside the
 * 1.11 files and every row would be gone without a word.
 *
 * Every translated snapshot and command is also applied, in order, to a
 * scratch VFS before the conversion is marked complete: a state the node
 * could not restore or a command it could not apply stops the conversion
 * with the file named, instead of a node that converts and then refuses to
 * serve.
 */
#include <stdio.h>

#include "lib/err.h"
#include "raftio/legacy.h"
#include "repl/legacy.h"
#include "repl/repl.h"
#include "server/replica_internal.h"
#include "server/worker.h"
#include "vfs/vfs.h"

struct upgrade {
    struct repl_legacy state;
    struct vfs *vfs;
    struct repl repl;
    uint64_t index; /* of the last command applied to the scratch VFS */
};

/* The scratch VFS, made at the first snapshot or command: a start on a
 * directory with nothing to convert makes none. */
static int upgradeEnsure(struct upgrade *u, char *why, size_t why_len)
{
    if (u->vfs != NULL) {
        return 0;
    }
    char name[64];
    snprintf(name, sizeof name, "dqlite-upgrade-%p", (void *)u);
    int rv = vfsCreate(name, &u->vfs);
    if (rv != 0) {
        snprintf(why, why_len, "scratch VFS: %s", errString(rv));
        return rv;
    }
    replInit(&u->repl, u->vfs);
    return 0;
}

static int upgradeSnapshot(void *arg, const uint8_t *data, size_t len,
                           uint64_t index, struct buf *out, char *why,
                           size_t why_len)
{
    struct upgrade *u = arg;
    size_t start = out->len;
    int rv = upgradeEnsure(u, why, why_len);
    if (rv == 0) {
        rv = replLegacySnapshot(&u->state, data, len, index, out, why, why_len);
    }
    if (rv != 0) {
        return rv;
    }
    workerSqliteLock();
    rv = replSnapshotRestore(&u->repl, out->data + start, out->len - start);
    workerSqliteUnlock();
    if (rv != 0) {
        snprintf(why, why_len, "its state does not restore: %s", errString(rv));
        return ERR_CORRUPT;
    }
    u->index = u->repl.applied_index = index;
    return 0;
}

static int upgradeCommand(void *arg, const uint8_t *data, size_t len,
                          struct buf *out, bool *noop, char *why,
                          size_t why_len)
{
    struct upgrade *u = arg;
    int rv = upgradeEnsure(u, why, why_len);
    if (rv == 0) {
        rv = replLegacyCommand(&u->state, data, len, out, noop, why, why_len);
    }
    u->index++;
    if (rv != 0 || *noop) {
        return rv;
    }
    workerSqliteLock();
    rv = replApply(&u->repl, u->index, out->data, out->len);
    workerSqliteUnlock();
    if (rv != 0) {
        snprintf(why, why_len, "the converted command does not apply: %s",
                 errString(rv));
        return ERR_CORRUPT;
    }
    return 0;
}

int serverUpgradeDir(const char *dir, raftio_logger_fn logger, void *arg,
                     char *errmsg, size_t errmsg_len)
{
    struct upgrade u = {0};
    replLegacyInit(&u.state);
    struct raftio_legacy_fsm fsm = {&u, upgradeSnapshot, upgradeCommand};
    enum legacy_outcome outcome;
    int rv = raftioLegacyUpgrade(dir, &fsm, logger, arg, &outcome, errmsg,
                                 errmsg_len);
    replLegacyClose(&u.state);
    if (u.vfs != NULL) {
        workerSqliteLock();
        vfsDestroy(u.vfs);
        workerSqliteUnlock();
    }
    return rv;
}
