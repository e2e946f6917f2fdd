/*
 * Lock ownership of one connection on a database's WAL index (see shm.c).
 * Callers hold vfs->mu.
 */
#ifndef VFS_SHM_H
#define VFS_SHM_H

#include "vfs/db.h"

/* The slots one connection holds, as bit masks. */
struct vfs_shm_owner {
    unsigned shared;
    unsigned exclusive;
};

/* SQLite's xShmLock on behalf of owner `o`. SQLite result code. */
int vfsShmLock(struct vfs_db *db, struct vfs_shm_owner *o, int ofst, int n,
               int flags);

/* Release whatever `o` still holds (its connection is closing). */
void vfsShmReleaseAll(struct vfs_db *db, struct vfs_shm_owner *o);

#endif /* VFS_SHM_H */
