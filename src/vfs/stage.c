/*
 * Staged databases: a database built page by page outside SQLite (a load
 * streamed in parts, docs/restore.md), then moved over another database in
 * one step. A staged database is an ordinary database of the VFS under a
 * name the caller reserves, so snapshots carry it like any other; it is
 * never opened by clients (their names cannot hold ':').
 *
 * Owns: writing raw main-file pages, the move over the target, and
 * dropping databases by name prefix.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "vfs/db.h"
#include "vfs/vfs.h"

/* Offset 18 and 19 of page 1: file format write/read versions (2: WAL). */
#define STAGE_HDR_WRITE_VERSION 18
#define STAGE_HDR_READ_VERSION 19

static int stageWritePages(struct vfs_db *db, uint64_t offset,
                           const uint8_t *data, size_t len)
{
    uint32_t page_size = db->main.page_size;
    for (size_t done = 0; done < len; done += page_size) {
        uint32_t pgno = (uint32_t)((offset + done) / page_size) + 1;
        if (vfsMainSetPage(&db->main, pgno, data + done) != SQLITE_OK) {
            return ERR_NOMEM;
        }
        if (pgno == 1) {
            /* The VFS keeps every database in WAL mode (vfsDbCreate). */
            uint8_t *p1 = db->main.pages[0]->data;
            p1[STAGE_HDR_WRITE_VERSION] = 2;
            p1[STAGE_HDR_READ_VERSION] = 2;
        }
    }
    return 0;
}

int vfsStageWrite(struct vfs *v, const char *name, uint32_t page_size,
                  uint64_t offset, const uint8_t *data, size_t len)
{
    PRE(v != NULL && name != NULL && (data != NULL || len == 0));
    if (!vfsPageSizeValid(page_size) || offset % page_size != 0 ||
        len % page_size != 0 ||
        (offset + len) / page_size > VFS_STAGE_MAX_PAGES) {
        return ERR_INVALID;
    }
    pthread_mutex_lock(&v->mu);
    struct vfs_db *db = vfsDbLookup(v, name);
    int rv = 0;
    if (offset == 0 && db != NULL) {
        rv = db->n_files == 0 && !vfsDbLocked(db) ? 0 : ERR_BUSY;
        if (rv == 0) {
            vfsDbFree(db);
            db = NULL;
        }
    }
    if (rv == 0 && db == NULL) {
        rv = offset == 0 ? vfsDbNew(v, name, page_size, &db) : ERR_NOTFOUND;
    }
    if (rv == 0 &&
        (db->main.page_size != page_size ||
         (uint64_t)db->main.n_pages * page_size != offset) &&
        offset != 0) {
        rv = ERR_INVALID; /* not the part that continues this stage */
    }
    if (rv == 0) {
        rv = stageWritePages(db, offset, data, len);
    }
    pthread_mutex_unlock(&v->mu);
    return rv;
}

int vfsStageSize(struct vfs *v, const char *name, uint64_t *bytes)
{
    pthread_mutex_lock(&v->mu);
    struct vfs_db *db = vfsDbLookup(v, name);
    if (db != NULL) {
        *bytes = (uint64_t)db->main.n_pages * db->main.page_size;
    }
    pthread_mutex_unlock(&v->mu);
    return db != NULL ? 0 : ERR_NOTFOUND;
}

int vfsStageMove(struct vfs *v, const char *stage, const char *target)
{
    PRE(strcmp(stage, target) != 0);
    pthread_mutex_lock(&v->mu);
    struct vfs_db *from = vfsDbLookup(v, stage);
    struct vfs_db *to = vfsDbLookup(v, target);
    int rv = 0;
    if (from == NULL) {
        rv = ERR_NOTFOUND;
    } else if (from->n_files != 0 || vfsDbLocked(from) ||
               (to != NULL && vfsDbLocked(to))) {
        rv = ERR_BUSY;
    } else if (to == NULL) {
        rv = vfsDbNew(v, target, from->main.page_size, &to);
    }
    if (rv == 0) {
        /* The pages move (no copy): the old content is freed here. */
        vfsDbClearContent(to);
        to->main = from->main;
        memset(&from->main, 0, sizeof from->main);
        to->ckpt_seq++;
        vfsDbResetIndex(to);
        vfsDbFree(from);
    }
    pthread_mutex_unlock(&v->mu);
    return rv;
}

unsigned vfsDropPrefix(struct vfs *v, const char *prefix,
                       bool (*keep)(const char *name, void *arg), void *arg)
{
    size_t len = strlen(prefix);
    unsigned dropped = 0;
    pthread_mutex_lock(&v->mu);
    struct queue *q;
    struct queue *tmp;
    QUEUE_FOREACH_SAFE(q, tmp, &v->dbs)
    {
        struct vfs_db *db = QUEUE_DATA(q, struct vfs_db, link);
        if (strncmp(db->name, prefix, len) != 0 || db->n_files != 0 ||
            vfsDbLocked(db) || (keep != NULL && keep(db->name, arg))) {
            continue;
        }
        vfsDbFree(db);
        dropped++;
    }
    pthread_mutex_unlock(&v->mu);
    return dropped;
}
