/*
 * The public dqlite_vfs_* functions of dqlite.h (1.11's signatures): thin
 * wrappers over the internal VFS (src/vfs) that translate types, error codes
 * and memory rules (buffers from sqlite3_malloc, freed by the caller with
 * sqlite3_free). Threading is the VFS's: each call takes its mutex briefly
 * and may come from any thread.
 */
#include <dqlite.h>
#include <string.h>

#include "lib/err.h"
#include "vfs/vfs.h"

static int vfsApiCode(int rv)
{
    return rv == 0 ? 0 : rv == ERR_NOMEM ? DQLITE_NOMEM : DQLITE_ERROR;
}

int dqlite_vfs_init(sqlite3_vfs *vfs, const char *name)
{
    if (vfs == NULL || name == NULL) {
        return DQLITE_MISUSE;
    }
    return vfsApiCode(vfsInit(vfs, name));
}

void dqlite_vfs_close(sqlite3_vfs *vfs)
{
    if (vfsFrom(vfs) != NULL) {
        vfsClose(vfs);
    }
}

static void vfsApiFreeFrames(dqlite_vfs_frame *frames, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        sqlite3_free(frames[i].data);
    }
    sqlite3_free(frames);
}

static int vfsApiCopyFrames(const struct vfs_txn *txn,
                            dqlite_vfs_frame **frames)
{
    dqlite_vfs_frame *out = sqlite3_malloc64(sizeof *out * txn->n_frames);
    if (out == NULL) {
        return DQLITE_NOMEM;
    }
    for (uint32_t i = 0; i < txn->n_frames; i++) {
        out[i].page_number = txn->page_numbers[i];
        out[i].data = sqlite3_malloc64(txn->page_size);
        if (out[i].data == NULL) {
            vfsApiFreeFrames(out, i);
            return DQLITE_NOMEM;
        }
        memcpy(out[i].data, txn->pages[i], txn->page_size);
    }
    *frames = out;
    return 0;
}

int dqlite_vfs_poll(sqlite3_vfs *vfs, const char *filename,
                    dqlite_vfs_frame **frames, unsigned *n)
{
    struct vfs *v = vfsFrom(vfs);
    struct vfs_txn txn;
    if (v == NULL || filename == NULL || frames == NULL || n == NULL) {
        return DQLITE_MISUSE;
    }
    *frames = NULL;
    *n = 0;
    int rv = vfsPoll(v, filename, &txn);
    if (rv != 0 || txn.n_frames == 0) {
        return vfsApiCode(rv);
    }
    rv = vfsApiCopyFrames(&txn, frames);
    if (rv == 0) {
        *n = txn.n_frames;
    }
    vfsTxnFree(&txn);
    return rv;
}

int dqlite_vfs_apply(sqlite3_vfs *vfs, const char *filename, unsigned n,
                     unsigned long *page_numbers, void *frames)
{
    struct vfs *v = vfsFrom(vfs);
    if (v == NULL || filename == NULL || n == 0 || n > VFS_MAX_TXN_FRAMES ||
        page_numbers == NULL || frames == NULL) {
        return DQLITE_MISUSE;
    }
    uint32_t *pgnos = sqlite3_malloc64(sizeof *pgnos * n);
    if (pgnos == NULL) {
        return DQLITE_NOMEM;
    }
    for (unsigned i = 0; i < n; i++) {
        pgnos[i] = (uint32_t)page_numbers[i];
    }
    int rv = vfsApplyFlat(v, filename, n, pgnos, frames);
    sqlite3_free(pgnos);
    return vfsApiCode(rv);
}

int dqlite_vfs_abort(sqlite3_vfs *vfs, const char *filename)
{
    struct vfs *v = vfsFrom(vfs);
    if (v == NULL || filename == NULL) {
        return DQLITE_MISUSE;
    }
    int rv = vfsAbort(v, filename);
    if (rv == ERR_NOTFOUND && vfsDbExists(v, filename)) {
        return 0; /* nothing held: nothing to abort */
    }
    return vfsApiCode(rv);
}

int dqlite_vfs_snapshot(sqlite3_vfs *vfs, const char *filename, void **data,
                        size_t *n)
{
    struct vfs *v = vfsFrom(vfs);
    struct vfs_snapshot *s;
    if (v == NULL || filename == NULL || data == NULL || n == NULL) {
        return DQLITE_MISUSE;
    }
    int rv = vfsSnapshotAcquire(v, filename, &s);
    if (rv != 0) {
        return vfsApiCode(rv);
    }
    uint64_t len = vfsSnapshotFlatSize(&s->dbs[0]);
    *data = sqlite3_malloc64(len == 0 ? 1 : len);
    if (*data != NULL) {
        vfsSnapshotFlatten(&s->dbs[0], true, *data);
        *n = (size_t)len;
    }
    vfsSnapshotRelease(s);
    return *data == NULL ? DQLITE_NOMEM : 0;
}

static int vfsApiShallow(const struct vfs_snapshot_db *d,
                         struct dqlite_buffer bufs[], unsigned n)
{
    if (n != d->n_pages + 1) {
        return DQLITE_MISUSE;
    }
    uint64_t wal_len = vfsSnapshotWalSize(d);
    void *wal = sqlite3_malloc64(wal_len == 0 ? 1 : wal_len);
    if (wal == NULL) {
        return DQLITE_NOMEM;
    }
    vfsSnapshotFlatten(d, false, wal);
    for (uint32_t i = 0; i < d->n_pages; i++) {
        bufs[i].base = d->pages[i]->data; /* the store keeps a reference */
        bufs[i].len = d->page_size;
    }
    bufs[d->n_pages].base = wal;
    bufs[d->n_pages].len = (size_t)wal_len;
    return 0;
}

int dqlite_vfs_shallow_snapshot(sqlite3_vfs *vfs, const char *filename,
                                struct dqlite_buffer bufs[], unsigned n)
{
    struct vfs *v = vfsFrom(vfs);
    struct vfs_snapshot *s;
    if (v == NULL || filename == NULL || bufs == NULL) {
        return DQLITE_MISUSE;
    }
    int rv = vfsSnapshotAcquire(v, filename, &s);
    if (rv != 0) {
        return vfsApiCode(rv);
    }
    rv = vfsApiShallow(&s->dbs[0], bufs, n);
    vfsSnapshotRelease(s);
    return rv;
}

int dqlite_vfs_num_pages(sqlite3_vfs *vfs, const char *filename, unsigned *n)
{
    struct vfs *v = vfsFrom(vfs);
    uint32_t pages;
    if (v == NULL || filename == NULL || n == NULL) {
        return DQLITE_MISUSE;
    }
    int rv = vfsNumPages(v, filename, &pages);
    if (rv == 0) {
        *n = pages;
    }
    return vfsApiCode(rv);
}

int dqlite_vfs_restore(sqlite3_vfs *vfs, const char *filename, const void *data,
                       size_t n)
{
    struct vfs *v = vfsFrom(vfs);
    if (v == NULL || filename == NULL || data == NULL) {
        return DQLITE_MISUSE;
    }
    return vfsApiCode(vfsRestoreFlat(v, filename, data, n));
}
