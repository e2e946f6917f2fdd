/*
 * The WAL index (SQLite's "shm") of a database, in process memory: regions
 * SQLite maps and the eight lock slots it takes on them. All connections of
 * a database live in this process, so locks are counters per slot plus a
 * mask per connection of what it holds.
 *
 * Two policies make capture work (see txn.c): releasing the WAL write lock
 * after a commit hands the lock to the held transaction instead of freeing
 * it (while a statement is stacked on a held transaction, it may take
 * the lock once more: txn.c, vfsStackBegin), and SQLite's own checkpoints (the
 * checkpoint lock taken alone) are refused, so committed WAL frames are never
 * overwritten or backfilled behind our back. Callers hold vfs->mu.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "vfs/db.h"
#include "vfs/shm.h"

int vfsShmMap(struct vfs_db *db, int region, int size, int extend,
              void volatile **out)
{
    PRE(region >= 0);
    if (size != VFS_SHM_REGION_SIZE) {
        return SQLITE_IOERR_SHMMAP;
    }
    struct vfs_shm *shm = &db->shm;
    if ((uint32_t)region >= shm->n_regions) {
        if (!extend) {
            *out = NULL;
            return SQLITE_OK;
        }
        uint8_t **regions =
            libRealloc(shm->regions, sizeof *regions * (size_t)(region + 1));
        if (regions == NULL) {
            return SQLITE_NOMEM;
        }
        shm->regions = regions;
        while (shm->n_regions <= (uint32_t)region) {
            regions[shm->n_regions] = libCalloc(1, VFS_SHM_REGION_SIZE);
            if (regions[shm->n_regions] == NULL) {
                return SQLITE_NOMEM;
            }
            shm->n_regions++;
        }
    }
    *out = shm->regions[region];
    return SQLITE_OK;
}

void vfsShmFree(struct vfs_shm *shm)
{
    for (uint32_t i = 0; i < shm->n_regions; i++) {
        libFree(shm->regions[i]);
    }
    libFree(shm->regions);
    memset(shm, 0, sizeof *shm);
}

static int vfsShmAcquire(struct vfs_db *db, struct vfs_shm_owner *o, int ofst,
                         int n, bool exclusive)
{
    struct vfs_shm *shm = &db->shm;
    for (int i = ofst; i < ofst + n; i++) {
        /* A statement stacked on the held frames shares their lock. */
        unsigned lent = i == VFS_SHM_WRITE_LOCK && db->stacking && db->held;
        bool mine_x = (o->exclusive & (1u << i)) != 0;
        bool mine_s = (o->shared & (1u << i)) != 0;
        if (mine_x || (mine_s && !exclusive)) {
            continue; /* already held at least as strongly */
        }
        if (shm->exclusive[i] > lent ||
            (exclusive && shm->shared[i] > (mine_s ? 1u : 0u))) {
            return SQLITE_BUSY;
        }
    }
    for (int i = ofst; i < ofst + n; i++) {
        unsigned bit = 1u << i;
        if (exclusive && (o->exclusive & bit) == 0) {
            if (o->shared & bit) {
                o->shared &= ~bit;
                shm->shared[i]--;
            }
            o->exclusive |= bit;
            shm->exclusive[i]++;
        } else if (!exclusive && ((o->shared | o->exclusive) & bit) == 0) {
            o->shared |= bit;
            shm->shared[i]++;
        }
    }
    return SQLITE_OK;
}

static void vfsShmRelease(struct vfs_db *db, struct vfs_shm_owner *o, int ofst,
                          int n)
{
    struct vfs_shm *shm = &db->shm;
    for (int i = ofst; i < ofst + n; i++) {
        unsigned bit = 1u << i;
        if (o->exclusive & bit) {
            o->exclusive &= ~bit;
            ASSERT(shm->exclusive[i] > 0);
            bool keep = i == VFS_SHM_WRITE_LOCK && vfsTxnOnWriteUnlock(db);
            if (!keep) {
                shm->exclusive[i]--;
            }
        } else if (o->shared & bit) {
            o->shared &= ~bit;
            ASSERT(shm->shared[i] > 0);
            shm->shared[i]--;
        }
    }
}

int vfsShmLock(struct vfs_db *db, struct vfs_shm_owner *o, int ofst, int n,
               int flags)
{
    PRE(ofst >= 0 && n >= 1 && ofst + n <= VFS_SHM_NLOCK);
    if (flags & SQLITE_SHM_UNLOCK) {
        vfsShmRelease(db, o, ofst, n);
        return SQLITE_OK;
    }
    bool exclusive = (flags & SQLITE_SHM_EXCLUSIVE) != 0;
    if (exclusive && ofst == VFS_SHM_CKPT_LOCK && n == 1) {
        return SQLITE_BUSY; /* SQLite's checkpoint: only vfsCheckpoint runs */
    }
    int rv = vfsShmAcquire(db, o, ofst, n, exclusive);
    if (rv == SQLITE_OK && exclusive && ofst == VFS_SHM_WRITE_LOCK) {
        vfsTxnOnWriteLock(db);
    }
    return rv;
}

void vfsShmReleaseAll(struct vfs_db *db, struct vfs_shm_owner *o)
{
    vfsShmRelease(db, o, 0, VFS_SHM_NLOCK);
}
