/*
 * Snapshots and restores of the whole store.
 *
 * Acquiring a snapshot takes, under the VFS mutex, one reference on every
 * main-file page and every committed WAL frame: a pause proportional to the
 * number of pages (pointer copies), no page is copied. Writers then go on;
 * a page they change while the snapshot is alive is copied on write
 * (page.h), so the extra memory is the pointer arrays plus the pages
 * changed meanwhile. Restoring decodes and validates every image before
 * taking the mutex, then swaps contents, so it is all or nothing.
 */
#include <string.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "vfs/db.h"
#include "vfs/vfs.h"

static struct vfs_page **vfsRefAll(struct vfs_page **src, uint32_t n)
{
    struct vfs_page **dst = libMalloc(sizeof *dst * (n == 0 ? 1 : n));
    if (dst == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (i + 16 < n) {
            __builtin_prefetch(src[i + 16], 1); /* refs: one miss per page */
        }
        dst[i] = vfsPageRef(src[i]);
    }
    return dst;
}

static void vfsSnapDbFree(struct vfs_snapshot_db *d)
{
    for (uint32_t i = 0; d->pages != NULL && i < d->n_pages; i++) {
        vfsPageUnref(d->pages[i]);
    }
    for (uint32_t i = 0; d->frames != NULL && i < d->n_frames; i++) {
        vfsPageUnref(d->frames[i]);
    }
    libFree(d->pages);
    libFree(d->frames);
    libFree(d->name);
}

static int vfsSnapDbTake(const struct vfs_db *db, struct vfs_snapshot_db *d)
{
    memset(d, 0, sizeof *d);
    d->name = libStrdup(db->name);
    d->pages = vfsRefAll(db->main.pages, db->main.n_pages);
    d->frames = vfsRefAll(db->wal.frames, db->wal.n_committed);
    if (d->name == NULL || d->pages == NULL || d->frames == NULL) {
        d->n_pages = d->pages != NULL ? db->main.n_pages : 0;
        d->n_frames = d->frames != NULL ? db->wal.n_committed : 0;
        vfsSnapDbFree(d);
        return ERR_NOMEM;
    }
    d->page_size = db->main.page_size;
    d->n_pages = db->main.n_pages;
    d->n_frames = db->wal.n_committed;
    d->wal_page_size = d->n_frames > 0 ? db->wal.page_size : 0;
    memcpy(d->wal_hdr, db->wal.hdr, VFS_WAL_HDR_SIZE);
    return 0;
}

void vfsSnapshotRelease(struct vfs_snapshot *s)
{
    if (s == NULL) {
        return;
    }
    for (uint32_t i = 0; i < s->n_dbs; i++) {
        vfsSnapDbFree(&s->dbs[i]);
    }
    libFree(s->dbs);
    libFree(s);
}

static int vfsSnapshotLocked(struct vfs *v, const char *only,
                             struct vfs_snapshot *s)
{
    size_t n = queueCount(&v->dbs);
    s->dbs = libCalloc(n == 0 ? 1 : n, sizeof *s->dbs);
    if (s->dbs == NULL) {
        return ERR_NOMEM;
    }
    struct queue *q;
    QUEUE_FOREACH(q, &v->dbs)
    {
        struct vfs_db *db = QUEUE_DATA(q, struct vfs_db, link);
        if (only != NULL && strcmp(only, db->name) != 0) {
            continue;
        }
        int rv = vfsSnapDbTake(db, &s->dbs[s->n_dbs]);
        if (rv != 0) {
            return rv;
        }
        s->n_dbs++;
    }
    return only != NULL && s->n_dbs == 0 ? ERR_NOTFOUND : 0;
}

int vfsSnapshotAcquire(struct vfs *v, const char *only,
                       struct vfs_snapshot **out)
{
    struct vfs_snapshot *s = libCalloc(1, sizeof *s);
    if (s == NULL) {
        return ERR_NOMEM;
    }
    struct timespec t0;
    struct timespec t1;
    pthread_mutex_lock(&v->mu);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rv = vfsSnapshotLocked(v, only, s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_mutex_unlock(&v->mu);
    s->pause_ns = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
                             (t1.tv_nsec - t0.tv_nsec));
    if (rv != 0) {
        vfsSnapshotRelease(s);
        return rv;
    }
    *out = s;
    return 0;
}

uint64_t vfsSnapshotMainSize(const struct vfs_snapshot_db *d)
{
    return (uint64_t)d->n_pages * d->page_size;
}

uint64_t vfsSnapshotWalSize(const struct vfs_snapshot_db *d)
{
    if (d->n_frames == 0) {
        return 0;
    }
    return VFS_WAL_HDR_SIZE +
           (uint64_t)d->n_frames * (VFS_FRAME_HDR_SIZE + d->wal_page_size);
}

/* ------------------------------------------------------------ restore */

/* A decoded image, ready to be swapped in. */
struct vfs_loaded {
    const char *name;
    struct vfs_main main;
    struct vfs_wal wal;
};

static int vfsLoadMain(const struct vfs_image *im, struct vfs_main *m)
{
    if (im->main_len < 100) {
        return ERR_CORRUPT;
    }
    uint32_t page_size = (uint32_t)im->main[16] << 8 | im->main[17];
    page_size = page_size == 1 ? 65536 : page_size;
    if (!vfsPageSizeValid(page_size) || im->main_len % page_size != 0 ||
        im->main_len / page_size > UINT32_MAX - 1) {
        return ERR_CORRUPT;
    }
    m->page_size = page_size;
    uint32_t n = (uint32_t)(im->main_len / page_size);
    for (uint32_t i = n; i > 0; i--) { /* last first: one allocation */
        if (vfsMainSetPage(m, i, im->main + (uint64_t)(i - 1) * page_size) !=
            SQLITE_OK) {
            return ERR_NOMEM;
        }
    }
    return 0;
}

/* Check salts and the checksum chain of frame `f` continuing `sum`. */
static bool vfsFrameValid(const uint8_t *hdr, const uint8_t *f,
                          uint32_t page_size, uint32_t sum[2])
{
    if (memcmp(f + 8, hdr + 16, 8) != 0 || vfsWalFramePgno(f) == 0) {
        return false;
    }
    bool be = vfsWalHeaderBigEndian(hdr);
    vfsWalChecksum(be, f, 8, sum);
    vfsWalChecksum(be, f + VFS_FRAME_HDR_SIZE, page_size, sum);
    uint32_t stored[2];
    vfsWalFrameChecksum(f, stored);
    return stored[0] == sum[0] && stored[1] == sum[1];
}

static int vfsLoadFrames(const struct vfs_image *im, struct vfs_wal *w,
                         uint32_t n)
{
    uint32_t frame_size = VFS_FRAME_HDR_SIZE + w->page_size;
    uint32_t sum[2];
    vfsWalHeaderChecksum(w->hdr, sum);
    if (vfsWalReserve(w, n) != 0) {
        return ERR_NOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *src =
            im->wal + VFS_WAL_HDR_SIZE + (uint64_t)i * frame_size;
        if (!vfsFrameValid(w->hdr, src, w->page_size, sum)) {
            return ERR_CORRUPT;
        }
        w->frames[i] = vfsPageNew(frame_size);
        if (w->frames[i] == NULL) {
            return ERR_NOMEM;
        }
        memcpy(w->frames[i]->data, src, frame_size);
        w->n_frames = i + 1;
    }
    if (n > 0 && vfsWalFrameCommit(w->frames[n - 1]->data) == 0) {
        return ERR_CORRUPT; /* a snapshot holds committed frames only */
    }
    w->n_committed = n;
    return 0;
}

static int vfsLoadWal(const struct vfs_image *im, uint32_t page_size,
                      struct vfs_wal *w)
{
    if (im->wal_len == 0) {
        return 0;
    }
    if (im->wal_len < VFS_WAL_HDR_SIZE ||
        vfsWalHeaderPageSize(im->wal) != page_size) {
        return ERR_CORRUPT;
    }
    uint32_t sum[2] = {0, 0};
    vfsWalChecksum(vfsWalHeaderBigEndian(im->wal), im->wal, 24, sum);
    if (sum[0] != byteGet32Be(im->wal + 24) ||
        sum[1] != byteGet32Be(im->wal + 28)) {
        return ERR_CORRUPT;
    }
    uint64_t frames_len = im->wal_len - VFS_WAL_HDR_SIZE;
    uint32_t frame_size = VFS_FRAME_HDR_SIZE + page_size;
    if (frames_len % frame_size != 0 || frames_len / frame_size > UINT32_MAX) {
        return ERR_CORRUPT;
    }
    memcpy(w->hdr, im->wal, VFS_WAL_HDR_SIZE);
    w->page_size = page_size;
    return vfsLoadFrames(im, w, (uint32_t)(frames_len / frame_size));
}

static void vfsLoadedFree(struct vfs_loaded *l, uint32_t n)
{
    for (uint32_t i = 0; l != NULL && i < n; i++) {
        vfsMainFree(&l[i].main);
        vfsWalFree(&l[i].wal);
    }
    libFree(l);
}

static int vfsLoadAll(const struct vfs_image *images, uint32_t n,
                      struct vfs_loaded **out)
{
    struct vfs_loaded *l = libCalloc(n == 0 ? 1 : n, sizeof *l);
    if (l == NULL) {
        return ERR_NOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        l[i].name = images[i].name;
        int rv = strlen(images[i].name) > VFS_MAX_NAME ? ERR_CORRUPT : 0;
        if (rv == 0) {
            rv = vfsLoadMain(&images[i], &l[i].main);
        }
        if (rv == 0) {
            rv = vfsLoadWal(&images[i], l[i].main.page_size, &l[i].wal);
        }
        if (rv != 0) {
            vfsLoadedFree(l, n);
            return rv;
        }
    }
    *out = l;
    return 0;
}

static bool vfsLoadedHas(const struct vfs_loaded *l, uint32_t n,
                         const char *name)
{
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(l[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

/* Whether the restore may proceed: nothing locked in any database it
 * touches (all of them with `whole`). */
static bool vfsRestoreAllowed(struct vfs *v, const struct vfs_loaded *l,
                              uint32_t n, bool whole)
{
    struct queue *q;
    QUEUE_FOREACH(q, &v->dbs)
    {
        struct vfs_db *db = QUEUE_DATA(q, struct vfs_db, link);
        if ((whole || vfsLoadedHas(l, n, db->name)) && vfsDbLocked(db)) {
            return false;
        }
    }
    return true;
}

/* Create the databases the images add (the only step that allocates);
 * on failure remove the ones created here. */
static int vfsRestoreCreate(struct vfs *v, const struct vfs_loaded *l,
                            uint32_t n, bool *created)
{
    for (uint32_t i = 0; i < n; i++) {
        struct vfs_db *db;
        created[i] = false;
        if (vfsDbLookup(v, l[i].name) != NULL) {
            continue;
        }
        if (vfsDbNew(v, l[i].name, l[i].main.page_size, &db) != 0) {
            for (uint32_t j = 0; j < i; j++) {
                if (created[j]) {
                    vfsDbFree(vfsDbLookup(v, l[j].name));
                }
            }
            return ERR_NOMEM;
        }
        created[i] = true;
    }
    return 0;
}

static void vfsRestoreSwap(struct vfs *v, struct vfs_loaded *l, uint32_t n,
                           bool whole)
{
    struct queue *q;
    struct queue *tmp;
    QUEUE_FOREACH_SAFE(q, tmp, &v->dbs)
    {
        struct vfs_db *db = QUEUE_DATA(q, struct vfs_db, link);
        if (whole && !vfsLoadedHas(l, n, db->name)) {
            if (db->n_files == 0) {
                vfsDbFree(db);
            } else {
                vfsDbClearContent(db);
                vfsDbResetIndex(db);
            }
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        struct vfs_db *db = vfsDbLookup(v, l[i].name);
        ASSERT(db != NULL);
        vfsDbClearContent(db);
        db->main = l[i].main;
        db->wal = l[i].wal;
        memset(&l[i].main, 0, sizeof l[i].main);
        memset(&l[i].wal, 0, sizeof l[i].wal);
        db->ckpt_seq++;
        if (db->wal.n_committed > 0) {
            vfsDbInvalidateIndex(db);
        } else {
            vfsDbResetIndex(db);
        }
    }
}

int vfsRestore(struct vfs *v, const struct vfs_image *images, uint32_t n,
               bool whole)
{
    PRE(v != NULL && (images != NULL || n == 0));
    struct vfs_loaded *l;
    int rv = vfsLoadAll(images, n, &l);
    if (rv != 0) {
        return rv;
    }
    bool *created = libCalloc(n == 0 ? 1 : n, sizeof *created);
    if (created == NULL) {
        vfsLoadedFree(l, n);
        return ERR_NOMEM;
    }
    pthread_mutex_lock(&v->mu);
    if (!vfsRestoreAllowed(v, l, n, whole)) {
        rv = ERR_BUSY;
    } else {
        rv = vfsRestoreCreate(v, l, n, created);
    }
    if (rv == 0) {
        vfsRestoreSwap(v, l, n, whole);
    }
    pthread_mutex_unlock(&v->mu);
    libFree(created);
    vfsLoadedFree(l, n);
    return rv;
}
