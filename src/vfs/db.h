/*
 * The in-memory state of one database and of the VFS that holds it: main
 * file and WAL as arrays of refcounted pages, the WAL index (shm) regions
 * with their lock counters, and the capture state of a held transaction.
 *
 * Private to src/vfs. Every field is protected by the owning vfs->mu; the
 * functions below expect it held (they never lock themselves).
 */
#ifndef VFS_DB_H
#define VFS_DB_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/queue.h"
#include "vfs/page.h"
#include "vfs/wal.h"

/* The main database file: pages of page_size (0 while empty). */
struct vfs_main {
    uint32_t page_size;
    uint32_t n_pages;
    uint32_t cap;
    struct vfs_page **pages;
};

/* The WAL file: a header (once page_size != 0) and frames of 24 + page_size
 * bytes. Frames [0, n_committed) are visible to readers; the rest belong to
 * the transaction being written or held. */
struct vfs_wal {
    uint8_t hdr[VFS_WAL_HDR_SIZE];
    uint32_t page_size;
    uint32_t n_frames;
    uint32_t n_committed;
    uint32_t cap;
    struct vfs_page **frames;
};

/* The WAL index: regions mapped by SQLite, lock counters per slot. */
struct vfs_shm {
    uint8_t **regions;
    uint32_t n_regions;
    unsigned shared[VFS_SHM_NLOCK];
    unsigned exclusive[VFS_SHM_NLOCK];
};

/* A plain byte file: rollback journal, temporary files. */
struct vfs_plain {
    uint8_t *data;
    uint64_t len;
    uint64_t cap;
};

struct vfs_db {
    struct queue link; /* in vfs->dbs */
    char *name;
    struct vfs_main main;
    struct vfs_wal wal;
    struct vfs_shm shm;
    struct vfs_plain journal;
    unsigned n_files; /* open sqlite3_files naming this database */
    bool held;        /* a committed transaction awaits apply/abort; it
                         owns the WAL write lock */
    uint8_t hdr_at_lock[VFS_SHM_HDR_SIZE]; /* index header at write lock */
    uint8_t hdr_held[VFS_SHM_HDR_SIZE];    /* index header of held commit */
    /* A statement stacked on the held frames (vfsStackBegin..End): the
     * index header shows hdr_held, the write lock may be taken once more. */
    bool stacking;
    bool stack_on_held;  /* frames were held when the stack began */
    uint32_t stack_mark; /* WAL frames when it began */
    uint8_t hdr_mark[VFS_SHM_HDR_SIZE]; /* hdr_held when it began */
    uint32_t ckpt_seq;     /* WAL header checkpoint counter we write */
    uint32_t salt;         /* next salt-2 we write */
    uint32_t index_change; /* last WAL-index change counter we wrote */
};

struct vfs {
    sqlite3_vfs own;   /* used when vfsCreate allocated the base */
    sqlite3_vfs *base; /* the registered object (pAppData = this) */
    char *name;
    pthread_mutex_t mu;
    struct queue dbs;
    uint32_t page_size; /* for databases SQLite creates */
};

/* store.c: databases. */
struct vfs_db *vfsDbLookup(struct vfs *v, const char *name);
int vfsDbNew(struct vfs *v, const char *name, uint32_t page_size,
             struct vfs_db **out);
void vfsDbFree(struct vfs_db *db);
void vfsDbClearContent(struct vfs_db *db);
void vfsDbInvalidateIndex(struct vfs_db *db);
void vfsDbResetIndex(struct vfs_db *db);
bool vfsDbLocked(const struct vfs_db *db);

/* store.c: main file. */
int vfsMainRead(const struct vfs_main *m, void *buf, int amount,
                sqlite3_int64 offset);
int vfsMainWrite(struct vfs_main *m, const void *buf, int amount,
                 sqlite3_int64 offset);
int vfsMainTruncate(struct vfs_main *m, sqlite3_int64 size);
int vfsMainSetPage(struct vfs_main *m, uint32_t pgno, const uint8_t *data);
void vfsMainFree(struct vfs_main *m);
bool vfsMainIsWal(const struct vfs_main *m);

/* store.c: WAL file. */
int vfsWalRead(const struct vfs_wal *w, void *buf, int amount,
               sqlite3_int64 offset);
int vfsWalWrite(struct vfs_wal *w, const void *buf, int amount,
                sqlite3_int64 offset);
int vfsWalTruncate(struct vfs_wal *w, sqlite3_int64 size);
sqlite3_int64 vfsWalSize(const struct vfs_wal *w);
void vfsWalDropFrom(struct vfs_wal *w, uint32_t n_keep);
int vfsWalReserve(struct vfs_wal *w, uint32_t n_frames);
void vfsWalFree(struct vfs_wal *w);

/* store.c: plain files. */
int vfsPlainRead(const struct vfs_plain *p, void *buf, int amount,
                 sqlite3_int64 offset);
int vfsPlainWrite(struct vfs_plain *p, const void *buf, int amount,
                  sqlite3_int64 offset);
int vfsPlainTruncate(struct vfs_plain *p, sqlite3_int64 size);
void vfsPlainFree(struct vfs_plain *p);

/* shm.c: the WAL index and its locks (SQLite's xShm* semantics). */
int vfsShmMap(struct vfs_db *db, int region, int size, int extend,
              void volatile **out);
void vfsShmFree(struct vfs_shm *shm);

/* txn.c: capture hooks called by the shm lock code. */
void vfsTxnOnWriteLock(struct vfs_db *db);
bool vfsTxnOnWriteUnlock(struct vfs_db *db);

/* file.c: the sqlite3_vfs methods. */
void vfsFillMethods(sqlite3_vfs *base, struct vfs *v);
bool vfsIsOurs(const sqlite3_vfs *base);

#endif /* VFS_DB_H */
