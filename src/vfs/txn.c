/*
 * Capture of write transactions: hold a commit's frames, hand them out
 * (poll), publish them (apply) or drop them (abort); append replicated
 * frames on followers; checkpoint.
 *
 * How a commit is held: SQLite appends the frames to our WAL, updates the
 * WAL index header (mxFrame) and then releases the WAL write lock. At that
 * release (vfsTxnOnWriteUnlock, called with vfs->mu held, so atomically for
 * every other connection) we save the header SQLite wrote, put back the one
 * that was current when the write lock was taken, and keep the lock on
 * behalf of the transaction. Readers thus keep their snapshot, writers get
 * SQLITE_BUSY, and the frames stay in the WAL past mxFrame. Publishing puts
 * SQLite's header back; aborting drops the frames (SQLite cleans the stale
 * hash entries of the index on its next write).
 *
 * On a follower no connection writes: vfsApply appends fully formed frames
 * (SQLite's checksums and salts) and zeroes the index header, so the next
 * reader rebuilds the index from the WAL (SQLite's recovery).
 */
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "vfs/db.h"
#include "vfs/vfs.h"

void vfsTxnOnWriteLock(struct vfs_db *db)
{
    if (db->held) {
        ASSERT(db->stacking); /* keep the header readers see */
        return;
    }
    if (db->shm.n_regions > 0) {
        memcpy(db->hdr_at_lock, db->shm.regions[0], VFS_SHM_HDR_SIZE);
    } else {
        memset(db->hdr_at_lock, 0, VFS_SHM_HDR_SIZE);
    }
}

static uint32_t vfsShmHdrMx(const uint8_t *hdr)
{
    return hdr != NULL && hdr[12] != 0 ? vfsShmHdrMxFrame(hdr) : 0;
}

/* The end of a write stacked on held frames: its commit joins them (the
 * index header SQLite wrote becomes the held one), a rollback leaves
 * them as they were. The lock stays with the held frames. */
static void vfsTxnStackedUnlock(struct vfs_db *db)
{
    PRE(db->held && db->stacking);
    struct vfs_wal *w = &db->wal;
    uint8_t *hdr = db->shm.regions[0];
    uint32_t held_mx = vfsShmHdrMxFrame(db->hdr_held);
    uint32_t mx = vfsShmHdrMx(hdr);
    ASSERT(w->n_frames >= held_mx);
    if (mx <= held_mx || mx > w->n_frames) {
        vfsWalDropFrom(w, held_mx); /* rolled back */
        return;
    }
    vfsWalDropFrom(w, mx);
    ASSERT(vfsWalFrameCommit(w->frames[mx - 1]->data) != 0);
    memcpy(db->hdr_held, hdr, VFS_SHM_HDR_SIZE);
}

/* Returns true when the lock must stay taken for a held commit. */
bool vfsTxnOnWriteUnlock(struct vfs_db *db)
{
    if (db->held) {
        vfsTxnStackedUnlock(db);
        return false; /* the stacked writer's own count */
    }
    struct vfs_wal *w = &db->wal;
    uint8_t *hdr = db->shm.n_regions > 0 ? db->shm.regions[0] : NULL;
    bool valid = hdr != NULL && hdr[12] != 0; /* isInit */
    uint32_t mx = valid ? vfsShmHdrMxFrame(hdr) : 0;
    if (!valid || mx <= w->n_committed || mx > w->n_frames) {
        vfsWalDropFrom(w, w->n_committed); /* rolled back: no trace */
        return false;
    }
    vfsWalDropFrom(w, mx);
    ASSERT(vfsWalFrameCommit(w->frames[mx - 1]->data) != 0);
    ASSERT(vfsShmHdrMxFrame(db->hdr_at_lock) == w->n_committed);
    memcpy(db->hdr_held, hdr, VFS_SHM_HDR_SIZE);
    memcpy(hdr, db->hdr_at_lock, VFS_SHM_HDR_SIZE);
    memcpy(hdr + VFS_SHM_HDR_SIZE, db->hdr_at_lock, VFS_SHM_HDR_SIZE);
    db->held = true;
    return true;
}

void vfsTxnFree(struct vfs_txn *txn)
{
    libFree(txn->page_numbers);
    libFree(txn->pages);
    memset(txn, 0, sizeof *txn);
}

struct vfs_pick {
    uint32_t pgno;
    uint32_t index;
};

static int vfsPickCompare(const void *a, const void *b)
{
    const struct vfs_pick *x = a;
    const struct vfs_pick *y = b;
    if (x->pgno != y->pgno) {
        return x->pgno < y->pgno ? -1 : 1;
    }
    return x->index < y->index ? -1 : x->index > y->index;
}

static int vfsIndexCompare(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The held frames to replicate, as WAL indexes in order: the last frame of
 * each page. Stacked commits (a group, gateway_group.c) write the same
 * pages again and again; the last version is what a reader would see. A
 * NULL *out (n = 0) only for no held frame. */
static int vfsTxnPick(const struct vfs_wal *w, uint32_t **out, uint32_t *n)
{
    uint32_t held = w->n_frames - w->n_committed;
    *out = NULL;
    *n = 0;
    if (held == 0) {
        return 0;
    }
    struct vfs_pick *all = libMalloc(sizeof *all * held);
    uint32_t *idx = libMalloc(sizeof *idx * held);
    if (all == NULL || idx == NULL) {
        libFree(all);
        libFree(idx);
        return ERR_NOMEM;
    }
    for (uint32_t i = 0; i < held; i++) {
        all[i].pgno = vfsWalFramePgno(w->frames[w->n_committed + i]->data);
        all[i].index = w->n_committed + i;
    }
    qsort(all, held, sizeof *all, vfsPickCompare);
    uint32_t k = 0;
    for (uint32_t i = 0; i < held; i++) {
        if (i + 1 == held || all[i + 1].pgno != all[i].pgno) {
            idx[k++] = all[i].index;
        }
    }
    libFree(all);
    qsort(idx, k, sizeof *idx, vfsIndexCompare);
    ASSERT(idx[k - 1] == w->n_frames - 1); /* the last commit frame */
    *out = idx;
    *n = k;
    return 0;
}

static int vfsTxnFill(const struct vfs_db *db, struct vfs_txn *out)
{
    const struct vfs_wal *w = &db->wal;
    uint32_t *idx;
    uint32_t n;
    int rv = vfsTxnPick(w, &idx, &n);
    if (rv != 0) {
        return rv;
    }
    ASSERT(n > 0);
    out->page_numbers = libMalloc(sizeof *out->page_numbers * n);
    out->pages = libMalloc(sizeof *out->pages * n);
    if (out->page_numbers == NULL || out->pages == NULL) {
        libFree(idx);
        vfsTxnFree(out);
        return ERR_NOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *f = w->frames[idx[i]]->data;
        out->page_numbers[i] = vfsWalFramePgno(f);
        out->pages[i] = f + VFS_FRAME_HDR_SIZE;
    }
    libFree(idx);
    out->n_frames = n;
    out->page_size = w->page_size;
    out->db_size = vfsWalFrameCommit(w->frames[w->n_frames - 1]->data);
    return 0;
}

int vfsPoll(struct vfs *v, const char *name, struct vfs_txn *out)
{
    PRE(v != NULL && name != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    int rv = 0;
    pthread_mutex_lock(&v->mu);
    struct vfs_db *db = vfsDbLookup(v, name);
    if (db == NULL) {
        rv = ERR_NOTFOUND;
    } else if (db->held) {
        rv = vfsTxnFill(db, out);
    }
    pthread_mutex_unlock(&v->mu);
    return rv;
}

/* Whether `txn` is what vfsPoll returns for the held frames; *err set
 * when that cannot be told (out of memory). */
static bool vfsTxnMatches(const struct vfs_db *db, const struct vfs_txn *txn,
                          int *err)
{
    const struct vfs_wal *w = &db->wal;
    uint32_t *idx;
    uint32_t n;
    *err = 0;
    if (w->page_size != txn->page_size) {
        return false;
    }
    *err = vfsTxnPick(w, &idx, &n);
    if (*err != 0) {
        return false;
    }
    bool same = n == txn->n_frames;
    for (uint32_t i = 0; same && i < n; i++) {
        const uint8_t *f = w->frames[idx[i]]->data;
        same =
            vfsWalFramePgno(f) == txn->page_numbers[i] &&
            memcmp(f + VFS_FRAME_HDR_SIZE, txn->pages[i], txn->page_size) == 0;
    }
    libFree(idx);
    const uint8_t *last = w->frames[w->n_frames - 1]->data;
    return same && vfsWalFrameCommit(last) == txn->db_size;
}

static void vfsTxnPublish(struct vfs_db *db)
{
    PRE(db->held && db->shm.n_regions > 0);
    uint8_t *hdr = db->shm.regions[0];
    memcpy(hdr, db->hdr_held, VFS_SHM_HDR_SIZE);
    memcpy(hdr + VFS_SHM_HDR_SIZE, db->hdr_held, VFS_SHM_HDR_SIZE);
    db->wal.n_committed = db->wal.n_frames;
    db->held = false;
    db->shm.exclusive[VFS_SHM_WRITE_LOCK]--;
}

static void vfsTxnDrop(struct vfs_db *db)
{
    PRE(db->held);
    vfsWalDropFrom(&db->wal, db->wal.n_committed);
    db->held = false;
    db->shm.exclusive[VFS_SHM_WRITE_LOCK]--;
}

/* Start an empty WAL with our own header. */
static void vfsTxnStartWal(struct vfs_db *db, uint32_t page_size)
{
    struct vfs_wal *w = &db->wal;
    ASSERT(w->n_committed == 0);
    vfsWalDropFrom(w, 0);
    vfsWalHeaderEncode(w->hdr, page_size, db->ckpt_seq, db->ckpt_seq + 1,
                       db->salt++);
    w->page_size = page_size;
}

static int vfsTxnAppend(struct vfs_db *db, const struct vfs_txn *txn)
{
    struct vfs_wal *w = &db->wal;
    if (w->n_committed == 0) {
        vfsTxnStartWal(db, txn->page_size);
    }
    ASSERT(w->n_frames == w->n_committed);
    if (vfsWalReserve(w, w->n_frames + txn->n_frames) != 0) {
        return ERR_NOMEM;
    }
    uint32_t sum[2];
    if (w->n_frames == 0) {
        vfsWalHeaderChecksum(w->hdr, sum);
    } else {
        vfsWalFrameChecksum(w->frames[w->n_frames - 1]->data, sum);
    }
    for (uint32_t i = 0; i < txn->n_frames; i++) {
        struct vfs_page *f = vfsPageNew(VFS_FRAME_HDR_SIZE + w->page_size);
        if (f == NULL) {
            vfsWalDropFrom(w, w->n_committed);
            return ERR_NOMEM;
        }
        memcpy(f->data + VFS_FRAME_HDR_SIZE, txn->pages[i], w->page_size);
        uint32_t commit = i + 1 == txn->n_frames ? txn->db_size : 0;
        vfsWalFrameEncode(f->data, w->page_size, txn->page_numbers[i], commit,
                          w->hdr, sum);
        w->frames[w->n_frames++] = f;
    }
    w->n_committed = w->n_frames;
    vfsDbInvalidateIndex(db);
    return 0;
}

static bool vfsTxnValid(const struct vfs_txn *txn)
{
    if (!vfsPageSizeValid(txn->page_size) || txn->n_frames == 0 ||
        txn->n_frames > VFS_MAX_TXN_FRAMES || txn->db_size == 0) {
        return false;
    }
    for (uint32_t i = 0; i < txn->n_frames; i++) {
        if (txn->page_numbers[i] == 0 || txn->pages[i] == NULL) {
            return false;
        }
    }
    return true;
}

static int vfsApplyLocked(struct vfs *v, const char *name,
                          const struct vfs_txn *txn)
{
    struct vfs_db *db = vfsDbLookup(v, name);
    if (db == NULL) {
        int rv = vfsDbNew(v, name, txn->page_size, &db);
        if (rv != 0) {
            return rv;
        }
    }
    if (db->main.page_size != txn->page_size) {
        return ERR_INVALID;
    }
    PRE(!db->stacking);
    if (db->held) {
        int err;
        if (vfsTxnMatches(db, txn, &err)) {
            vfsTxnPublish(db);
            return 0;
        }
        if (err != 0) {
            return err; /* nothing changed: the apply is retried */
        }
        vfsTxnDrop(db); /* a deposed leader's transaction */
    }
    if (db->shm.exclusive[VFS_SHM_WRITE_LOCK] != 0) {
        return ERR_BUSY;
    }
    return vfsTxnAppend(db, txn);
}

int vfsApply(struct vfs *v, const char *name, const struct vfs_txn *txn)
{
    PRE(v != NULL && name != NULL && txn != NULL);
    if (!vfsTxnValid(txn)) {
        return ERR_INVALID;
    }
    pthread_mutex_lock(&v->mu);
    int rv = vfsApplyLocked(v, name, txn);
    pthread_mutex_unlock(&v->mu);
    return rv;
}

/* Puts `src` as the WAL index header readers (and the next writer) see. */
static void vfsTxnShowHeader(struct vfs_db *db, const uint8_t *src)
{
    uint8_t *hdr = db->shm.regions[0];
    memcpy(hdr, src, VFS_SHM_HDR_SIZE);
    memcpy(hdr + VFS_SHM_HDR_SIZE, src, VFS_SHM_HDR_SIZE);
}

int vfsStackBegin(struct vfs *v, const char *name, bool on_held)
{
    PRE(v != NULL && name != NULL);
    pthread_mutex_lock(&v->mu);
    struct vfs_db *db = vfsDbLookup(v, name);
    int rv = 0;
    if (db == NULL) {
        rv = ERR_NOTFOUND;
    } else if (db->held && !on_held) {
        rv = ERR_BUSY; /* not the caller's frames: its write waits */
    } else {
        PRE(!db->stacking);
        db->stacking = true;
        db->stack_on_held = db->held;
        db->stack_mark = db->wal.n_frames;
        if (db->held) {
            ASSERT(vfsShmHdrMxFrame(db->hdr_held) == db->wal.n_frames);
            memcpy(db->hdr_mark, db->hdr_held, VFS_SHM_HDR_SIZE);
            vfsTxnShowHeader(db, db->hdr_held);
        }
    }
    pthread_mutex_unlock(&v->mu);
    return rv;
}

int vfsStackEnd(struct vfs *v, const char *name, bool keep, uint64_t max_bytes)
{
    PRE(v != NULL && name != NULL);
    pthread_mutex_lock(&v->mu);
    struct vfs_db *db = vfsDbLookup(v, name);
    PRE(db != NULL && db->stacking);
    /* The stacked statement gave the lock back: only the held frames (or
     * a transaction of another connection) keep it. */
    ASSERT(!db->held || db->shm.exclusive[VFS_SHM_WRITE_LOCK] == 1);
    struct vfs_wal *w = &db->wal;
    int rv = 0;
    uint64_t bytes = (uint64_t)(w->n_frames - w->n_committed) * w->page_size;
    if (keep && db->stack_on_held && w->n_frames > db->stack_mark &&
        bytes > max_bytes) {
        keep = false;
        rv = ERR_TOOBIG; /* the held frames are full: alone next time */
    }
    if (!keep && db->stack_on_held) {
        ASSERT(db->held);
        vfsWalDropFrom(w, db->stack_mark);
        memcpy(db->hdr_held, db->hdr_mark, VFS_SHM_HDR_SIZE);
    } else if (!keep && db->held) {
        vfsTxnDrop(db);
    }
    if (db->held) {
        /* Readers never see held frames (docs/replication.md). */
        vfsTxnShowHeader(db, db->hdr_at_lock);
        ASSERT(vfsShmHdrMxFrame(db->hdr_held) == w->n_frames);
        ASSERT(vfsShmHdrMxFrame(db->hdr_at_lock) == w->n_committed);
    }
    db->stacking = false;
    pthread_mutex_unlock(&v->mu);
    return rv;
}

int vfsAbort(struct vfs *v, const char *name)
{
    PRE(v != NULL && name != NULL);
    int rv = 0;
    pthread_mutex_lock(&v->mu);
    struct vfs_db *db = vfsDbLookup(v, name);
    PRE(db == NULL || !db->stacking);
    if (db == NULL || !db->held) {
        rv = ERR_NOTFOUND;
    } else {
        vfsTxnDrop(db);
    }
    pthread_mutex_unlock(&v->mu);
    return rv;
}

static int vfsCheckpointLocked(struct vfs_db *db)
{
    struct vfs_wal *w = &db->wal;
    if (vfsDbLocked(db)) {
        return ERR_BUSY;
    }
    if (w->n_committed == 0) {
        return 0;
    }
    ASSERT(w->page_size == db->main.page_size);
    for (uint32_t i = 0; i < w->n_committed; i++) {
        const uint8_t *f = w->frames[i]->data;
        if (vfsMainSetPage(&db->main, vfsWalFramePgno(f),
                           f + VFS_FRAME_HDR_SIZE) != SQLITE_OK) {
            return ERR_NOMEM; /* harmless: the WAL still wins over main */
        }
    }
    uint32_t db_size = vfsWalFrameCommit(w->frames[w->n_committed - 1]->data);
    int rv = vfsMainTruncate(&db->main, (sqlite3_int64)db_size * w->page_size);
    ASSERT(rv == SQLITE_OK);
    w->n_committed = 0;
    vfsWalDropFrom(w, 0);
    w->page_size = 0;
    vfsDbResetIndex(db);
    db->ckpt_seq++;
    return 0;
}

int vfsCheckpoint(struct vfs *v, const char *name)
{
    PRE(v != NULL && name != NULL);
    pthread_mutex_lock(&v->mu);
    struct vfs_db *db = vfsDbLookup(v, name);
    int rv = db == NULL ? ERR_NOTFOUND : vfsCheckpointLocked(db);
    pthread_mutex_unlock(&v->mu);
    return rv;
}
