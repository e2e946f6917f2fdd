/*
 * The state machine's apply and the leader's side of a write (see repl.h).
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "repl/command.h"
#include "repl/repl.h"

void replInit(struct repl *r, struct vfs *vfs)
{
    PRE(r != NULL && vfs != NULL);
    memset(r, 0, sizeof *r);
    r->vfs = vfs;
    r->checkpoint_frames = REPL_CHECKPOINT_FRAMES;
}

/* A decoded FRAMES command as the VFS takes it: arrays point into `f`. */
static int replApplyFrames(struct repl *r, const char *name,
                           const struct repl_frames *f)
{
    if (!(f->flags & REPL_FLAG_COMMIT)) {
        return ERR_UNSUPPORTED; /* we only ever propose whole commits */
    }
    struct vfs_txn txn = {f->page_size, f->n_frames, f->db_size, NULL, NULL};
    txn.page_numbers = libMalloc(sizeof *txn.page_numbers * f->n_frames);
    txn.pages = libMalloc(sizeof *txn.pages * f->n_frames);
    int rv = ERR_NOMEM;
    if (txn.page_numbers != NULL && txn.pages != NULL) {
        for (uint32_t i = 0; i < f->n_frames; i++) {
            txn.page_numbers[i] = replFramesPgno(f, i);
            txn.pages[i] = f->pages + (size_t)i * f->page_size;
        }
        rv = vfsApply(r->vfs, name, &txn);
    }
    vfsTxnFree(&txn);
    return rv;
}

static int replApplyCheckpoint(struct repl *r, const char *name)
{
    int rv = vfsCheckpoint(r->vfs, name);
    if (rv == ERR_BUSY) {
        r->n_checkpoints_skipped++; /* readers here: try again later */
        return 0;
    }
    return rv == ERR_NOTFOUND ? 0 : rv;
}

static int replDispatch(struct repl *r, uint64_t index,
                        const struct repl_command *cmd)
{
    switch (cmd->type) {
    case REPL_OPEN:
        return vfsDbCreate(r->vfs, cmd->name, cmd->page_size);
    case REPL_FRAMES:
        return replApplyFrames(r, cmd->name, &cmd->frames);
    case REPL_UNDO:
        return 0; /* frames are only replicated whole: nothing to undo */
    case REPL_CHECKPOINT:
        return replApplyCheckpoint(r, cmd->name);
    case REPL_LOAD:
        return replApplyLoad(r, index, cmd->name, &cmd->load);
    default:
        UNREACHABLE();
    }
}

int replApply(struct repl *r, uint64_t index, const uint8_t *data, size_t len)
{
    PRE(r != NULL && index > r->applied_index);
    struct repl_command *cmd = libMalloc(sizeof *cmd);
    if (cmd == NULL) {
        return ERR_NOMEM;
    }
    int rv = replDecode(data, len, cmd);
    if (rv == 0) {
        rv = replDispatch(r, index, cmd);
    }
    if (rv == 0) {
        r->applied_index = index;
    }
    libFree(cmd);
    return rv;
}

int replLeaderPoll(struct vfs *v, const char *name, struct buf *out, bool *has)
{
    struct vfs_txn txn;
    *has = false;
    int rv = vfsPoll(v, name, &txn);
    if (rv != 0 || txn.n_frames == 0) {
        return rv;
    }
    rv = replEncodeFrames(out, name, &txn);
    vfsTxnFree(&txn);
    *has = rv == 0;
    if (rv != 0) {
        (void)vfsAbort(v, name); /* never replicated: leave no lock held */
    }
    return rv;
}

int replLeaderAbort(struct vfs *v, const char *name)
{
    return vfsAbort(v, name);
}

int replLeaderCheckpoint(struct repl *r, const char *name, struct buf *out,
                         bool *due)
{
    uint32_t frames;
    *due = false;
    int rv = vfsWalFrames(r->vfs, name, &frames);
    if (rv != 0 || frames < r->checkpoint_frames) {
        return rv;
    }
    rv = replEncodeCheckpoint(out, name);
    *due = rv == 0;
    return rv;
}
