/*
 * The VFS object: creation and registration in SQLite, the database
 * registry, and the read-only queries (sizes, logical image).
 */
#include "vfs/vfs.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "vfs/db.h"

static int vfsAlloc(const char *name, struct vfs **out)
{
    PRE(name != NULL);
    struct vfs *v = libCalloc(1, sizeof *v);
    if (v == NULL) {
        return ERR_NOMEM;
    }
    v->name = libStrdup(name);
    if (v->name == NULL) {
        libFree(v);
        return ERR_NOMEM;
    }
    pthread_mutex_init(&v->mu, NULL);
    queueInit(&v->dbs);
    v->page_size = 4096;
    *out = v;
    return 0;
}

static void vfsFree(struct vfs *v)
{
    while (!queueEmpty(&v->dbs)) {
        struct vfs_db *db = QUEUE_DATA(queueHead(&v->dbs), struct vfs_db, link);
        ASSERT(db->n_files == 0);
        db->held = false; /* dropped with its frames */
        vfsDbFree(db);
    }
    pthread_mutex_destroy(&v->mu);
    libFree(v->name);
    libFree(v);
}

static int vfsRegister(struct vfs *v, sqlite3_vfs *base)
{
    v->base = base;
    vfsFillMethods(base, v);
    int rv = sqlite3_vfs_register(base, 0);
    return rv == SQLITE_OK ? 0 : (rv == SQLITE_NOMEM ? ERR_NOMEM : ERR_INVALID);
}

int vfsCreate(const char *name, struct vfs **out)
{
    struct vfs *v;
    int rv = vfsAlloc(name, &v);
    if (rv != 0) {
        return rv;
    }
    rv = vfsRegister(v, &v->own);
    if (rv != 0) {
        vfsFree(v);
        return rv;
    }
    *out = v;
    return 0;
}

void vfsDestroy(struct vfs *v)
{
    PRE(v != NULL);
    sqlite3_vfs_unregister(v->base);
    vfsFree(v);
}

int vfsInit(sqlite3_vfs *base, const char *name)
{
    PRE(base != NULL);
    struct vfs *v;
    int rv = vfsAlloc(name, &v);
    if (rv != 0) {
        return rv;
    }
    rv = vfsRegister(v, base);
    if (rv != 0) {
        vfsFree(v);
    }
    return rv;
}

void vfsClose(sqlite3_vfs *base)
{
    struct vfs *v = vfsFrom(base);
    PRE(v != NULL);
    sqlite3_vfs_unregister(base);
    vfsFree(v);
}

struct vfs *vfsFrom(sqlite3_vfs *base)
{
    return vfsIsOurs(base) ? base->pAppData : NULL;
}

const char *vfsName(const struct vfs *v)
{
    return v->name;
}

void vfsSetPageSize(struct vfs *v, uint32_t page_size)
{
    PRE(vfsPageSizeValid(page_size));
    pthread_mutex_lock(&v->mu);
    v->page_size = page_size;
    pthread_mutex_unlock(&v->mu);
}

int vfsDbCreate(struct vfs *v, const char *name, uint32_t page_size)
{
    if (!vfsPageSizeValid(page_size) || name == NULL) {
        return ERR_INVALID;
    }
    int rv = 0;
    pthread_mutex_lock(&v->mu);
    struct vfs_db *db = vfsDbLookup(v, name);
    if (db == NULL) {
        rv = vfsDbNew(v, name, page_size, &db);
    } else if (db->main.page_size != page_size) {
        rv = ERR_INVALID;
    }
    pthread_mutex_unlock(&v->mu);
    return rv;
}

bool vfsDbExists(struct vfs *v, const char *name)
{
    pthread_mutex_lock(&v->mu);
    bool found = vfsDbLookup(v, name) != NULL;
    pthread_mutex_unlock(&v->mu);
    return found;
}

static int vfsNameCompare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void vfsNamesFree(char **names, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        libFree(names[i]);
    }
    libFree(names);
}

int vfsDbNames(struct vfs *v, char ***names, unsigned *n)
{
    PRE(v != NULL && names != NULL && n != NULL);
    unsigned count = 0;
    unsigned cap = 0;
    char **list = NULL;
    int rv = 0;
    pthread_mutex_lock(&v->mu);
    struct queue *q;
    QUEUE_FOREACH(q, &v->dbs)
    {
        struct vfs_db *db = QUEUE_DATA(q, struct vfs_db, link);
        if (strchr(db->name, ':') != NULL) {
            continue;
        }
        if (count == cap) {
            cap = cap == 0 ? 8 : cap * 2;
            char **grown = libRealloc(list, cap * sizeof *list);
            if (grown == NULL) {
                rv = ERR_NOMEM;
                break;
            }
            list = grown;
        }
        list[count] = libStrdup(db->name);
        if (list[count] == NULL) {
            rv = ERR_NOMEM;
            break;
        }
        count++;
    }
    pthread_mutex_unlock(&v->mu);
    if (rv != 0) {
        vfsNamesFree(list, count);
        return rv;
    }
    if (count > 0) {
        qsort(list, count, sizeof *list, vfsNameCompare);
    }
    *names = list;
    *n = count;
    POST(count == 0 || *names != NULL);
    return 0;
}

int vfsWalFrames(struct vfs *v, const char *name, uint32_t *n)
{
    pthread_mutex_lock(&v->mu);
    struct vfs_db *db = vfsDbLookup(v, name);
    if (db != NULL) {
        *n = db->wal.n_committed;
    }
    pthread_mutex_unlock(&v->mu);
    return db == NULL ? ERR_NOTFOUND : 0;
}

int vfsNumPages(struct vfs *v, const char *name, uint32_t *n)
{
    pthread_mutex_lock(&v->mu);
    struct vfs_db *db = vfsDbLookup(v, name);
    if (db != NULL) {
        *n = db->main.n_pages;
    }
    pthread_mutex_unlock(&v->mu);
    return db == NULL ? ERR_NOTFOUND : 0;
}

/* The committed content of every page as a reader sees it: the last WAL
 * frame of the page, else the main file's page, else NULL (zeros). */
static int vfsImageLocked(const struct vfs_db *db, struct buf *out)
{
    const struct vfs_wal *w = &db->wal;
    uint32_t n_pages = db->main.n_pages;
    if (w->n_committed > 0) {
        n_pages = vfsWalFrameCommit(w->frames[w->n_committed - 1]->data);
    }
    size_t start = out->len;
    uint8_t *dst;
    int rv = bufAppendZeros(out, (size_t)n_pages * db->main.page_size, &dst);
    if (rv != 0) {
        return rv;
    }
    for (uint32_t i = 0; i < n_pages && i < db->main.n_pages; i++) {
        memcpy(dst + (size_t)i * db->main.page_size, db->main.pages[i]->data,
               db->main.page_size);
    }
    for (uint32_t i = 0; i < w->n_committed; i++) {
        const uint8_t *f = w->frames[i]->data;
        uint32_t pgno = vfsWalFramePgno(f);
        if (pgno <= n_pages) {
            memcpy(dst + (size_t)(pgno - 1) * w->page_size,
                   f + VFS_FRAME_HDR_SIZE, w->page_size);
        }
    }
    POST(out->len == start + (size_t)n_pages * db->main.page_size);
    return 0;
}

int vfsDbInfo(struct vfs *v, const char *name, uint32_t *page_size,
              uint32_t *n_pages)
{
    pthread_mutex_lock(&v->mu);
    struct vfs_db *db = vfsDbLookup(v, name);
    if (db != NULL) {
        const struct vfs_wal *w = &db->wal;
        *page_size = db->main.page_size;
        *n_pages = w->n_committed == 0
                       ? db->main.n_pages
                       : vfsWalFrameCommit(w->frames[w->n_committed - 1]->data);
    }
    pthread_mutex_unlock(&v->mu);
    return db == NULL ? ERR_NOTFOUND : 0;
}

int vfsReadImage(struct vfs *v, const char *name, struct buf *out)
{
    pthread_mutex_lock(&v->mu);
    struct vfs_db *db = vfsDbLookup(v, name);
    int rv = db == NULL ? ERR_NOTFOUND : vfsImageLocked(db, out);
    pthread_mutex_unlock(&v->mu);
    return rv;
}
