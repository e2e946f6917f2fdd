/*
 * dqlite 1.11's flat forms of a database, for the public dqlite_vfs_*
 * functions: apply with contiguous page data and no database size, and a
 * snapshot as one buffer (main file then WAL). Kept here, next to the
 * format knowledge, so the public wrappers stay thin and this is testable.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "vfs/vfs.h"

/* The database size after a transaction whose size the caller did not give:
 * the held commit's when these are its frames (the leader), else page 1's
 * header field if page 1 is in the transaction, else the current size
 * grown to the largest page written. */
static uint32_t vfsFlatDbSize(struct vfs *v, const char *name,
                              const struct vfs_txn *txn, uint32_t current)
{
    struct vfs_txn held;
    uint32_t size = current;
    if (vfsPoll(v, name, &held) == 0 && held.n_frames == txn->n_frames &&
        memcmp(held.page_numbers, txn->page_numbers,
               sizeof *held.page_numbers * held.n_frames) == 0) {
        size = held.db_size;
        vfsTxnFree(&held);
        return size;
    }
    vfsTxnFree(&held);
    for (uint32_t i = 0; i < txn->n_frames; i++) {
        if (txn->page_numbers[i] == 1) {
            size = byteGet32Be(txn->pages[i] + 28);
        }
    }
    for (uint32_t i = 0; i < txn->n_frames; i++) {
        size = txn->page_numbers[i] > size ? txn->page_numbers[i] : size;
    }
    return size;
}

int vfsApplyFlat(struct vfs *v, const char *name, uint32_t n,
                 const uint32_t *page_numbers, const uint8_t *pages)
{
    uint32_t page_size;
    uint32_t current;
    if (n == 0 || n > VFS_MAX_TXN_FRAMES) {
        return ERR_INVALID;
    }
    int rv = vfsDbInfo(v, name, &page_size, &current);
    if (rv != 0) {
        return rv;
    }
    const uint8_t **ptrs = libMalloc(sizeof *ptrs * n);
    if (ptrs == NULL) {
        return ERR_NOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        ptrs[i] = pages + (size_t)i * page_size;
    }
    struct vfs_txn txn = {page_size, n, 0, (uint32_t *)page_numbers, ptrs};
    txn.db_size = vfsFlatDbSize(v, name, &txn, current);
    rv = vfsApply(v, name, &txn);
    libFree(ptrs);
    return rv;
}

uint64_t vfsSnapshotFlatSize(const struct vfs_snapshot_db *d)
{
    return vfsSnapshotMainSize(d) + vfsSnapshotWalSize(d);
}

void vfsSnapshotFlatten(const struct vfs_snapshot_db *d, bool main,
                        uint8_t *dst)
{
    for (uint32_t i = 0; main && i < d->n_pages; i++) {
        memcpy(dst, d->pages[i]->data, d->page_size);
        dst += d->page_size;
    }
    if (d->n_frames > 0) {
        memcpy(dst, d->wal_hdr, VFS_WAL_HDR_SIZE);
        dst += VFS_WAL_HDR_SIZE;
    }
    for (uint32_t i = 0; i < d->n_frames; i++) {
        memcpy(dst, d->frames[i]->data, VFS_FRAME_HDR_SIZE + d->wal_page_size);
        dst += VFS_FRAME_HDR_SIZE + d->wal_page_size;
    }
}

/* Whether `n` bytes split into a main file of `len` bytes and a WAL of
 * `page_size` pages (or none). */
static bool vfsFlatSplitsAt(const uint8_t *p, size_t n, size_t len,
                            uint32_t page_size)
{
    if (len == 0 || len > n || len % page_size != 0) {
        return false;
    }
    return len == n || (n - len >= VFS_WAL_HDR_SIZE &&
                        vfsWalHeaderPageSize(p + len) == page_size);
}

/* Length of the main file: the header's page count if the bytes split
 * there, else the first page boundary where a WAL header starts. */
static size_t vfsFlatMainLen(const uint8_t *p, size_t n)
{
    if (n < 100) {
        return 0;
    }
    uint32_t page_size = (uint32_t)p[16] << 8 | p[17];
    page_size = page_size == 1 ? 65536 : page_size;
    if (!vfsPageSizeValid(page_size)) {
        return 0;
    }
    size_t guess = (size_t)byteGet32Be(p + 28) * page_size;
    if (vfsFlatSplitsAt(p, n, guess, page_size)) {
        return guess;
    }
    for (size_t len = page_size; len <= n; len += page_size) {
        if (vfsFlatSplitsAt(p, n, len, page_size)) {
            return len;
        }
    }
    return 0;
}

int vfsRestoreFlat(struct vfs *v, const char *name, const uint8_t *data,
                   size_t len)
{
    PRE(data != NULL || len == 0);
    size_t main_len = vfsFlatMainLen(data, len);
    if (main_len == 0) {
        return ERR_CORRUPT;
    }
    struct vfs_image im = {name, data, main_len, data + main_len,
                           len - main_len};
    return vfsRestore(v, &im, 1, false);
}
