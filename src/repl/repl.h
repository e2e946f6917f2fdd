/*
 * The replicated state machine of a node: every database of its VFS, kept
 * identical on all nodes by applying the same raft commands in log order.
 *
 * What the node calls (raft itself stays outside: indexes are uint64_t):
 *
 *   leader, after sqlite3_step on a connection of the VFS:
 *     replLeaderPoll   -> a FRAMES command to propose (if the step committed)
 *     replLeaderAbort  -> the proposal failed: drop the held frames
 *     replLeaderCheckpoint -> a CHECKPOINT command to propose, if due
 *   every node, for each committed entry in order:
 *     replApply        -> OPEN / FRAMES / UNDO / CHECKPOINT (the leader's
 *                         own FRAMES publishes its held frames)
 *   snapshots:
 *     replSnapshotTake (short pause) -> replSnapshotWrite (streams, any
 *     thread, no lock) -> replSnapshotRelease; replSnapshotRestore installs
 *     one atomically.
 *
 * The node must not execute writes on a new leader before it applied every
 * entry of earlier terms (frames only make sense on the state they were
 * computed on), and must roll back local write transactions before
 * applying another leader's entries (replApply returns ERR_BUSY then).
 *
 * Threading: a struct repl is used by one thread at a time (the node's
 * apply loop); replSnapshotWrite may run on another thread meanwhile.
 */
#ifndef REPL_REPL_H
#define REPL_REPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "vfs/vfs.h"

/* Default WAL size (committed frames) at which the leader proposes a
 * checkpoint: SQLite's own auto-checkpoint threshold. */
#define REPL_CHECKPOINT_FRAMES 1000

struct repl {
    struct vfs *vfs;        /* borrowed; outlives the repl */
    uint64_t applied_index; /* last entry applied (0 = none) */
    uint32_t checkpoint_frames;
    uint64_t n_checkpoints_skipped; /* local checkpoints found busy */
    /* LOAD (load.c): the newest entry term seen, stages dropped by a new
     * term, and the outcome of the last LOAD part applied (index << 8 |
     * error code; read by the leader's loop while the apply thread may
     * write the next: atomic). */
    uint64_t load_term;
    uint64_t n_loads_dropped;
    /* The LOAD entry whose last part is staged but whose move found the
     * target busy (ERR_BUSY): applying it again, once the node ended its
     * readers, only moves (the part is not written twice). 0: none. */
    uint64_t load_staged_index;
    _Atomic uint64_t load_result;
    unsigned load_sessions; /* the server's loads running (its loop only) */
};

void replInit(struct repl *r, struct vfs *vfs);

/* Apply the committed entry `index` (> applied_index) holding `data`.
 * Malformed data: ERR_MALFORMED / ERR_UNSUPPORTED, nothing changes. A
 * checkpoint that local readers block is skipped (the content is the same
 * either way; counted in n_checkpoints_skipped). */
int replApply(struct repl *r, uint64_t index, const uint8_t *data, size_t len);

/* Encode the frames held for database `name` into `out` (appended);
 * *has says whether there were any (a read-only step holds none). On
 * error (ERR_TOOBIG: the transaction exceeds REPL_MAX_TXN_BYTES) the held
 * frames are dropped, as by replLeaderAbort, and *has is false. */
int replLeaderPoll(struct vfs *v, const char *name, struct buf *out, bool *has);

/* Drop the held frames of `name` (replication failed or leadership lost). */
int replLeaderAbort(struct vfs *v, const char *name);

/* If the WAL of `name` reached checkpoint_frames, encode a CHECKPOINT
 * command into `out` and set *due. */
int replLeaderCheckpoint(struct repl *r, const char *name, struct buf *out,
                         bool *due);

/* ------------------------------------------------------------ loads */

/* Staged loads are databases named REPL_LOAD_PREFIX target ':' id (16 hex
 * digits); client names cannot hold ':' (proto/dbname.h). */
#define REPL_LOAD_PREFIX "dqlite-load:"
#define REPL_LOAD_STAGE_NAME_SIZE (VFS_MAX_NAME + 1)

void replLoadStageName(char *buf, size_t size, const char *target, uint64_t id);

/* Every committed entry's term, in log order, before it is applied (also
 * for entries that are not commands): the first entry of a newer term
 * drops every stage of an earlier one, on every node alike. */
void replLoadTerm(struct repl *r, uint64_t term);

/* The outcome of the LOAD part applied at `index` into *rv; false when
 * the last LOAD part applied is another one. Any thread. */
bool replLoadResult(struct repl *r, uint64_t index, int *rv);

/* Whether database `name` exists with content: an empty database (one
 * page, as opening a name creates it) does not count. */
bool replLoadTargetExists(struct vfs *v, const char *name);

/* Whether `data` starts with a SQLite file header of `page_size` pages. */
bool replLoadHeaderValid(const uint8_t *data, size_t len, uint32_t page_size);

/* Applies a LOAD part (called by replApply). Its outcome, the same on
 * every node, is left in load_rv (0: staged, or installed by the last
 * part; ERR_CORRUPT: not SQLite or integrity_check failed; ERR_EXISTS: the
 * target exists and the part has no FORCE; ERR_INVALID: it does not
 * continue its stage; ERR_CANCELED: an ABORT part): a refused part drops
 * its stage. Returns an error
 * only when this node cannot apply it (ERR_NOMEM, ERR_BUSY). */
struct repl_load_part;
int replApplyLoad(struct repl *r, uint64_t index, const char *target,
                  const struct repl_load_part *p);

/* ------------------------------------------------------------ snapshots */

struct repl_snapshot {
    uint64_t index;           /* the state is that after this entry */
    struct vfs_snapshot *vfs; /* owned */
};

/* Freeze the state (a pause proportional to the number of pages, no copy). */
int replSnapshotTake(struct repl *r, struct repl_snapshot *out);

/* Encoded size in bytes. */
uint64_t replSnapshotSize(const struct repl_snapshot *s);

/* Stream the encoding to `write` in chunks (at most one page each, plus
 * small headers). `write` returns 0 or an error that stops the stream.
 * Each page is released once written, so a snapshot is written once (then
 * only replSnapshotSize and replSnapshotRelease remain valid). */
typedef int (*repl_write_fn)(void *arg, const void *data, size_t len);
int replSnapshotWrite(struct repl_snapshot *s, repl_write_fn write, void *arg);

/* The whole encoding appended to `out` (tests, small states); writes the
 * snapshot once, as replSnapshotWrite. */
int replSnapshotEncode(struct repl_snapshot *s, struct buf *out);

void replSnapshotRelease(struct repl_snapshot *s);

/* Decoded snapshot: images borrow from the encoded bytes. */
#define REPL_SNAPSHOT_MAX_DBS 65536
struct repl_snapshot_view {
    uint64_t index;
    uint32_t n_dbs;
    struct vfs_image *dbs; /* owned (libFree); names point into it */
};
int replSnapshotDecode(const uint8_t *data, size_t len,
                       struct repl_snapshot_view *out);
void replSnapshotViewFree(struct repl_snapshot_view *v);

/* Replace the whole state by an encoded snapshot, atomically. ERR_BUSY if
 * a transaction is held or a connection holds a WAL lock. */
int replSnapshotRestore(struct repl *r, const uint8_t *data, size_t len);

#endif /* REPL_REPL_H */
