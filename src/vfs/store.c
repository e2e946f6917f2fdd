/*
 * Storage of one database: the main file and WAL as page arrays, plain
 * files, and the database registry of a VFS (see db.h).
 *
 * The file functions are the bodies of SQLite's xRead/xWrite/xTruncate and
 * so return SQLite result codes (SQLITE_OK, SQLITE_IOERR_SHORT_READ, ...);
 * the registry functions return ERR_* codes. Callers hold vfs->mu.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "vfs/db.h"
#include "vfs/vfs.h"

/* ------------------------------------------------------------ page arrays */

static int vfsSlotsReserve(struct vfs_page ***slots, uint32_t *cap, uint32_t n)
{
    if (n <= *cap) {
        return 0;
    }
    uint32_t new_cap = *cap == 0 ? 16 : *cap;
    while (new_cap < n) {
        new_cap *= 2;
    }
    struct vfs_page **p = libRealloc(*slots, sizeof *p * new_cap);
    if (p == NULL) {
        return ERR_NOMEM;
    }
    memset(p + *cap, 0, sizeof *p * (new_cap - *cap));
    *slots = p;
    *cap = new_cap;
    return 0;
}

/* ------------------------------------------------------------ main file */

bool vfsMainIsWal(const struct vfs_main *m)
{
    return m->n_pages > 0 && m->pages[0]->data[18] == 2;
}

int vfsMainRead(const struct vfs_main *m, void *buf, int amount,
                sqlite3_int64 offset)
{
    PRE(amount >= 0 && offset >= 0);
    uint8_t *out = buf;
    int done = 0;
    while (done < amount) {
        uint64_t off = (uint64_t)offset + (uint64_t)done;
        if (m->page_size == 0 || off / m->page_size >= m->n_pages) {
            memset(out + done, 0, (size_t)(amount - done));
            return SQLITE_IOERR_SHORT_READ;
        }
        uint32_t in_page = (uint32_t)(off % m->page_size);
        uint32_t n = m->page_size - in_page;
        if (n > (uint32_t)(amount - done)) {
            n = (uint32_t)(amount - done);
        }
        memcpy(out + done, m->pages[off / m->page_size]->data + in_page, n);
        done += (int)n;
    }
    return SQLITE_OK;
}

/* Store `data` (page_size bytes) as page `pgno` (1-based), growing the file
 * by zero pages if needed. SQLite code. */
int vfsMainSetPage(struct vfs_main *m, uint32_t pgno, const uint8_t *data)
{
    PRE(pgno > 0 && m->page_size != 0);
    if (vfsSlotsReserve(&m->pages, &m->cap, pgno) != 0) {
        return SQLITE_NOMEM;
    }
    while (m->n_pages < pgno) {
        m->pages[m->n_pages] = vfsPageNew(m->page_size);
        if (m->pages[m->n_pages] == NULL) {
            return SQLITE_NOMEM;
        }
        m->n_pages++;
    }
    if (vfsPageWritable(&m->pages[pgno - 1]) != 0) {
        return SQLITE_NOMEM;
    }
    memcpy(m->pages[pgno - 1]->data, data, m->page_size);
    return SQLITE_OK;
}

int vfsMainWrite(struct vfs_main *m, const void *buf, int amount,
                 sqlite3_int64 offset)
{
    PRE(amount >= 0 && offset >= 0);
    if (m->n_pages == 0 && offset == 0 && vfsPageSizeValid((uint32_t)amount)) {
        m->page_size = (uint32_t)amount;
    }
    if (m->page_size == 0 || (uint32_t)amount != m->page_size ||
        (uint64_t)offset % m->page_size != 0) {
        return SQLITE_IOERR_WRITE; /* SQLite writes whole pages only */
    }
    uint64_t pgno = (uint64_t)offset / m->page_size + 1;
    if (pgno > UINT32_MAX - 1) {
        return SQLITE_FULL;
    }
    return vfsMainSetPage(m, (uint32_t)pgno, buf);
}

int vfsMainTruncate(struct vfs_main *m, sqlite3_int64 size)
{
    PRE(size >= 0);
    if (m->page_size == 0) {
        return size == 0 ? SQLITE_OK : SQLITE_IOERR_TRUNCATE;
    }
    if ((uint64_t)size % m->page_size != 0) {
        return SQLITE_IOERR_TRUNCATE;
    }
    uint64_t n = (uint64_t)size / m->page_size;
    while (m->n_pages > n) {
        m->n_pages--;
        vfsPageUnref(m->pages[m->n_pages]);
        m->pages[m->n_pages] = NULL;
    }
    return SQLITE_OK;
}

void vfsMainFree(struct vfs_main *m)
{
    for (uint32_t i = 0; i < m->n_pages; i++) {
        vfsPageUnref(m->pages[i]);
    }
    libFree(m->pages);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------ WAL file */

static uint32_t vfsWalFrameSize(const struct vfs_wal *w)
{
    return VFS_FRAME_HDR_SIZE + w->page_size;
}

sqlite3_int64 vfsWalSize(const struct vfs_wal *w)
{
    if (w->page_size == 0) {
        return 0;
    }
    return VFS_WAL_HDR_SIZE + (sqlite3_int64)w->n_frames * vfsWalFrameSize(w);
}

int vfsWalReserve(struct vfs_wal *w, uint32_t n_frames)
{
    return vfsSlotsReserve(&w->frames, &w->cap, n_frames);
}

void vfsWalDropFrom(struct vfs_wal *w, uint32_t n_keep)
{
    PRE(n_keep >= w->n_committed || n_keep == 0);
    while (w->n_frames > n_keep) {
        w->n_frames--;
        vfsPageUnref(w->frames[w->n_frames]);
        w->frames[w->n_frames] = NULL;
    }
}

void vfsWalFree(struct vfs_wal *w)
{
    w->n_committed = 0;
    vfsWalDropFrom(w, 0);
    libFree(w->frames);
    memset(w, 0, sizeof *w);
}

int vfsWalRead(const struct vfs_wal *w, void *buf, int amount,
               sqlite3_int64 offset)
{
    uint8_t *out = buf;
    int done = 0;
    while (done < amount) {
        uint64_t off = (uint64_t)offset + (uint64_t)done;
        const uint8_t *src;
        uint32_t avail;
        if (w->page_size == 0) {
            break;
        }
        if (off < VFS_WAL_HDR_SIZE) {
            src = w->hdr + off;
            avail = VFS_WAL_HDR_SIZE - (uint32_t)off;
        } else {
            uint64_t rel = off - VFS_WAL_HDR_SIZE;
            uint64_t i = rel / vfsWalFrameSize(w);
            if (i >= w->n_frames) {
                break;
            }
            uint32_t in_frame = (uint32_t)(rel % vfsWalFrameSize(w));
            src = w->frames[i]->data + in_frame;
            avail = vfsWalFrameSize(w) - in_frame;
        }
        uint32_t n = avail < (uint32_t)(amount - done)
                         ? avail
                         : (uint32_t)(amount - done);
        memcpy(out + done, src, n);
        done += (int)n;
    }
    if (done < amount) {
        memset(out + done, 0, (size_t)(amount - done));
        return SQLITE_IOERR_SHORT_READ;
    }
    return SQLITE_OK;
}

/* SQLite writes the header only when the WAL (re)starts empty. */
static int vfsWalWriteHeader(struct vfs_wal *w, const uint8_t *src, int amount)
{
    if (amount != VFS_WAL_HDR_SIZE || w->n_committed != 0) {
        return SQLITE_IOERR_WRITE;
    }
    uint32_t page_size = vfsWalHeaderPageSize(src);
    if (page_size == 0) {
        return SQLITE_IOERR_WRITE;
    }
    vfsWalDropFrom(w, 0);
    memcpy(w->hdr, src, VFS_WAL_HDR_SIZE);
    w->page_size = page_size;
    return SQLITE_OK;
}

/* The writable frame `i` (appended when i == n_frames). SQLite code. */
static int vfsWalFrameForWrite(struct vfs_wal *w, uint64_t i, uint8_t **out)
{
    if (i < w->n_committed || i > w->n_frames || i >= UINT32_MAX - 1) {
        return SQLITE_IOERR_WRITE; /* committed frames are immutable */
    }
    if (i == w->n_frames) {
        if (vfsWalReserve(w, w->n_frames + 1) != 0) {
            return SQLITE_NOMEM;
        }
        w->frames[i] = vfsPageNew(vfsWalFrameSize(w));
        if (w->frames[i] == NULL) {
            return SQLITE_NOMEM;
        }
        w->n_frames++;
    }
    if (vfsPageWritable(&w->frames[i]) != 0) {
        return SQLITE_NOMEM;
    }
    *out = w->frames[i]->data;
    return SQLITE_OK;
}

int vfsWalWrite(struct vfs_wal *w, const void *buf, int amount,
                sqlite3_int64 offset)
{
    const uint8_t *src = buf;
    if (offset == 0) {
        return vfsWalWriteHeader(w, src, amount);
    }
    if (w->page_size == 0 || offset < VFS_WAL_HDR_SIZE) {
        return SQLITE_IOERR_WRITE;
    }
    int done = 0;
    while (done < amount) {
        uint64_t rel = (uint64_t)offset + (uint64_t)done - VFS_WAL_HDR_SIZE;
        uint32_t in_frame = (uint32_t)(rel % vfsWalFrameSize(w));
        uint8_t *frame;
        int rv = vfsWalFrameForWrite(w, rel / vfsWalFrameSize(w), &frame);
        if (rv != SQLITE_OK) {
            return rv;
        }
        uint32_t n = vfsWalFrameSize(w) - in_frame;
        if (n > (uint32_t)(amount - done)) {
            n = (uint32_t)(amount - done);
        }
        memcpy(frame + in_frame, src + done, n);
        done += (int)n;
    }
    return SQLITE_OK;
}

int vfsWalTruncate(struct vfs_wal *w, sqlite3_int64 size)
{
    if (w->page_size == 0 || size <= VFS_WAL_HDR_SIZE) {
        if (w->n_committed != 0) {
            return SQLITE_IOERR_TRUNCATE;
        }
        vfsWalDropFrom(w, 0);
        return SQLITE_OK;
    }
    uint64_t n = ((uint64_t)size - VFS_WAL_HDR_SIZE) / vfsWalFrameSize(w);
    if (n < w->n_committed) {
        return SQLITE_IOERR_TRUNCATE;
    }
    if (n < w->n_frames) {
        vfsWalDropFrom(w, (uint32_t)n);
    }
    return SQLITE_OK;
}

/* ------------------------------------------------------------ plain files */

int vfsPlainRead(const struct vfs_plain *p, void *buf, int amount,
                 sqlite3_int64 offset)
{
    uint64_t off = (uint64_t)offset;
    uint64_t avail = off < p->len ? p->len - off : 0;
    uint64_t n = avail < (uint64_t)amount ? avail : (uint64_t)amount;
    if (n > 0) {
        memcpy(buf, p->data + off, n);
    }
    if (n < (uint64_t)amount) {
        memset((uint8_t *)buf + n, 0, (size_t)((uint64_t)amount - n));
        return SQLITE_IOERR_SHORT_READ;
    }
    return SQLITE_OK;
}

int vfsPlainWrite(struct vfs_plain *p, const void *buf, int amount,
                  sqlite3_int64 offset)
{
    uint64_t end = (uint64_t)offset + (uint64_t)amount;
    if (end > p->cap) {
        uint64_t cap = p->cap == 0 ? 4096 : p->cap;
        while (cap < end) {
            cap *= 2;
        }
        uint8_t *data = libRealloc(p->data, (size_t)cap);
        if (data == NULL) {
            return SQLITE_NOMEM;
        }
        p->data = data;
        p->cap = cap;
    }
    if ((uint64_t)offset > p->len) {
        memset(p->data + p->len, 0, (size_t)((uint64_t)offset - p->len));
    }
    memcpy(p->data + offset, buf, (size_t)amount);
    if (end > p->len) {
        p->len = end;
    }
    return SQLITE_OK;
}

int vfsPlainTruncate(struct vfs_plain *p, sqlite3_int64 size)
{
    if ((uint64_t)size < p->len) {
        p->len = (uint64_t)size;
    }
    return SQLITE_OK;
}

void vfsPlainFree(struct vfs_plain *p)
{
    libFree(p->data);
    memset(p, 0, sizeof *p);
}

/* ------------------------------------------------------------ databases */

struct vfs_db *vfsDbLookup(struct vfs *v, const char *name)
{
    struct queue *q;
    QUEUE_FOREACH(q, &v->dbs)
    {
        struct vfs_db *db = QUEUE_DATA(q, struct vfs_db, link);
        if (strcmp(db->name, name) == 0) {
            return db;
        }
    }
    return NULL;
}

/* Page 1 of an empty database already in WAL mode: the 100-byte header and
 * an empty table-leaf page for sqlite_schema (fileformat2.html §1.3). */
static void vfsPage1Init(uint8_t *p, uint32_t page_size)
{
    memcpy(p, "SQLite format 3", 16);
    uint16_t encoded = page_size == 65536 ? 1 : (uint16_t)page_size;
    p[16] = (uint8_t)(encoded >> 8);
    p[17] = (uint8_t)encoded;
    p[18] = 2; /* write version: WAL */
    p[19] = 2; /* read version: WAL */
    p[21] = 64;
    p[22] = 32;
    p[23] = 32;
    bytePut32Be(p + 24, 1); /* file change counter */
    bytePut32Be(p + 28, 1); /* database size in pages */
    bytePut32Be(p + 44, 4); /* schema format */
    bytePut32Be(p + 56, 1); /* UTF-8 */
    bytePut32Be(p + 92, 1); /* version-valid-for */
    bytePut32Be(p + 96, SQLITE_VERSION_NUMBER);
    p[100] = 13; /* leaf table b-tree page, no cells */
    uint16_t content = page_size == 65536 ? 0 : (uint16_t)page_size;
    p[105] = (uint8_t)(content >> 8);
    p[106] = (uint8_t)content;
}

int vfsDbNew(struct vfs *v, const char *name, uint32_t page_size,
             struct vfs_db **out)
{
    PRE(vfsPageSizeValid(page_size) && vfsDbLookup(v, name) == NULL);
    if (strlen(name) > VFS_MAX_NAME || name[0] == '\0') {
        return ERR_INVALID;
    }
    struct vfs_db *db = libCalloc(1, sizeof *db);
    if (db == NULL) {
        goto err;
    }
    db->name = libStrdup(name);
    if (db->name == NULL) {
        goto err_after_db;
    }
    uint8_t *page1 = libCalloc(1, page_size);
    if (page1 == NULL) {
        goto err_after_name;
    }
    vfsPage1Init(page1, page_size);
    db->main.page_size = page_size;
    int rv = vfsMainSetPage(&db->main, 1, page1);
    libFree(page1);
    if (rv != SQLITE_OK) {
        vfsMainFree(&db->main);
        goto err_after_name;
    }
    db->salt = 0x5eed0001;
    queueInsertTail(&v->dbs, &db->link);
    *out = db;
    return 0;
err_after_name:
    libFree(db->name);
err_after_db:
    libFree(db);
err:
    return ERR_NOMEM;
}

void vfsDbClearContent(struct vfs_db *db)
{
    vfsMainFree(&db->main);
    vfsWalFree(&db->wal);
    vfsPlainFree(&db->journal);
}

void vfsDbFree(struct vfs_db *db)
{
    PRE(db->n_files == 0 && !db->held);
    queueRemove(&db->link);
    vfsDbClearContent(db);
    vfsShmFree(&db->shm);
    libFree(db->name);
    libFree(db);
}

/* Make SQLite rebuild the WAL index from the WAL on its next read: zero
 * both header copies, which SQLite treats as an index needing recovery.
 * Only for a WAL with frames: the recovered header then depends on them
 * (salts, checksums, mxFrame), so it differs from any a connection cached
 * for another state and their page caches are dropped. */
void vfsDbInvalidateIndex(struct vfs_db *db)
{
    if (db->shm.n_regions > 0) {
        memset(db->shm.regions[0], 0, VFS_SHM_HDRS_SIZE);
    }
}

/* Fill a WAL-index header (walformat.html) for an empty WAL: mxFrame 0,
 * the main file's size, and a change counter and salts never used before
 * for this database, so that no connection's cached header matches it. */
static void vfsIndexHeaderInit(struct vfs_db *db, uint8_t *h, uint32_t ichange)
{
    uint32_t page_size = db->main.page_size;
    uint32_t v[12] = {0};
    v[0] = VFS_WAL_VERSION;
    v[2] = ichange;
    memcpy(h, v, sizeof v);
    h[12] = 1; /* isInit */
    uint16_t sz = (uint16_t)((page_size & 0xff00) | (page_size >> 16));
    memcpy(h + 14, &sz, 2);
    memcpy(h + 20, &db->main.n_pages, 4);
    uint32_t salts[2] = {db->ckpt_seq + 1, db->salt++};
    memcpy(h + 32, salts, 8);
    uint32_t sum[2] = {0, 0};
    const uint16_t one = 1;
    bool big_endian_host = *(const uint8_t *)&one == 0;
    vfsWalChecksum(big_endian_host, h, 40, sum);
    memcpy(h + 40, sum, 8);
}

/* Reset the WAL index of a database whose WAL is empty: no lock may be
 * taken. Every region is zeroed, then a valid header is written (both
 * copies) with all read marks unused, as SQLite's recovery would, but with
 * a fresh change counter: recovery of an empty WAL always gives the same
 * header, which would let connections keep pages cached from before. */
void vfsDbResetIndex(struct vfs_db *db)
{
    PRE(db->wal.n_committed == 0 && !vfsDbLocked(db));
    if (db->shm.n_regions == 0) {
        return;
    }
    uint8_t *r0 = db->shm.regions[0];
    uint32_t ichange;
    memcpy(&ichange, r0 + 8, 4);
    db->index_change =
        (ichange > db->index_change ? ichange : db->index_change) + 1;
    for (uint32_t i = 0; i < db->shm.n_regions; i++) {
        memset(db->shm.regions[i], 0, VFS_SHM_REGION_SIZE);
    }
    vfsIndexHeaderInit(db, r0, db->index_change);
    memcpy(r0 + VFS_SHM_HDR_SIZE, r0, VFS_SHM_HDR_SIZE);
    uint32_t marks[5] = {0, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    memcpy(r0 + VFS_SHM_HDRS_SIZE + 4, marks, sizeof marks);
}

/* Whether any WAL-index lock is taken (a reader, a writer or a held txn). */
bool vfsDbLocked(const struct vfs_db *db)
{
    for (int i = 0; i < VFS_SHM_NLOCK; i++) {
        if (db->shm.shared[i] != 0 || db->shm.exclusive[i] != 0) {
            return true;
        }
    }
    return db->held;
}
