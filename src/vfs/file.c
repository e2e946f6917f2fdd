/*
 * The SQLite side of the VFS: sqlite3_vfs and sqlite3_io_methods callbacks.
 *
 * A file opened by SQLite is one of: the main database ("name"), its WAL
 * ("name-wal") or rollback journal ("name-journal"), all three stored in the
 * database's struct vfs_db; or a temporary file (statement journals, VACUUM
 * and sort spills) that lives in a private buffer until closed. The WAL
 * index is served by the main file's xShm* methods (shm.c).
 *
 * Every callback takes vfs->mu for its whole (short) body. They return
 * SQLite result codes, as SQLite requires.
 */
#include <string.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "vfs/db.h"
#include "vfs/shm.h"
#include "vfs/vfs.h"

enum vfs_file_kind { VFS_MAIN, VFS_WAL, VFS_JOURNAL, VFS_TEMP };

struct vfs_file {
    sqlite3_file base;
    struct vfs *v;
    enum vfs_file_kind kind;
    struct vfs_db *db;      /* NULL for VFS_TEMP */
    struct vfs_plain *temp; /* owned, VFS_TEMP only */
    struct vfs_shm_owner shm_owner;
    int lock_level;
};

static struct vfs *vfsOf(sqlite3_file *f)
{
    return ((struct vfs_file *)f)->v;
}

static int vfsFileClose(sqlite3_file *file)
{
    struct vfs_file *f = (struct vfs_file *)file;
    pthread_mutex_lock(&f->v->mu);
    if (f->db != NULL) {
        vfsShmReleaseAll(f->db, &f->shm_owner);
        ASSERT(f->db->n_files > 0);
        f->db->n_files--;
    }
    if (f->temp != NULL) {
        vfsPlainFree(f->temp);
        libFree(f->temp);
    }
    pthread_mutex_unlock(&f->v->mu);
    return SQLITE_OK;
}

static int vfsFileRead(sqlite3_file *file, void *buf, int amount,
                       sqlite3_int64 offset)
{
    struct vfs_file *f = (struct vfs_file *)file;
    int rv;
    pthread_mutex_lock(&f->v->mu);
    switch (f->kind) {
    case VFS_MAIN:
        rv = vfsMainRead(&f->db->main, buf, amount, offset);
        break;
    case VFS_WAL:
        rv = vfsWalRead(&f->db->wal, buf, amount, offset);
        break;
    case VFS_JOURNAL:
        rv = vfsPlainRead(&f->db->journal, buf, amount, offset);
        break;
    default:
        rv = vfsPlainRead(f->temp, buf, amount, offset);
    }
    pthread_mutex_unlock(&f->v->mu);
    return rv;
}

static int vfsFileWrite(sqlite3_file *file, const void *buf, int amount,
                        sqlite3_int64 offset)
{
    struct vfs_file *f = (struct vfs_file *)file;
    int rv;
    pthread_mutex_lock(&f->v->mu);
    switch (f->kind) {
    case VFS_MAIN:
        rv = vfsMainWrite(&f->db->main, buf, amount, offset);
        break;
    case VFS_WAL:
        rv = vfsWalWrite(&f->db->wal, buf, amount, offset);
        break;
    case VFS_JOURNAL:
        rv = vfsPlainWrite(&f->db->journal, buf, amount, offset);
        break;
    default:
        rv = vfsPlainWrite(f->temp, buf, amount, offset);
    }
    pthread_mutex_unlock(&f->v->mu);
    return rv;
}

static int vfsFileTruncate(sqlite3_file *file, sqlite3_int64 size)
{
    struct vfs_file *f = (struct vfs_file *)file;
    int rv;
    pthread_mutex_lock(&f->v->mu);
    switch (f->kind) {
    case VFS_MAIN:
        rv = vfsMainTruncate(&f->db->main, size);
        break;
    case VFS_WAL:
        rv = vfsWalTruncate(&f->db->wal, size);
        break;
    case VFS_JOURNAL:
        rv = vfsPlainTruncate(&f->db->journal, size);
        break;
    default:
        rv = vfsPlainTruncate(f->temp, size);
    }
    pthread_mutex_unlock(&f->v->mu);
    return rv;
}

static int vfsFileSync(sqlite3_file *file, int flags)
{
    (void)file;
    (void)flags;
    return SQLITE_OK; /* durability comes from the raft log */
}

static int vfsFileSize(sqlite3_file *file, sqlite3_int64 *size)
{
    struct vfs_file *f = (struct vfs_file *)file;
    pthread_mutex_lock(&f->v->mu);
    switch (f->kind) {
    case VFS_MAIN:
        *size = (sqlite3_int64)f->db->main.n_pages * f->db->main.page_size;
        break;
    case VFS_WAL:
        *size = vfsWalSize(&f->db->wal);
        break;
    case VFS_JOURNAL:
        *size = (sqlite3_int64)f->db->journal.len;
        break;
    default:
        *size = (sqlite3_int64)f->temp->len;
    }
    pthread_mutex_unlock(&f->v->mu);
    return SQLITE_OK;
}

/* File locks matter only to keep a WAL database in WAL mode: the exclusive
 * lock SQLite needs to leave WAL mode, or to checkpoint and delete the WAL
 * when the last connection closes, is refused. */
static int vfsFileLock(sqlite3_file *file, int level)
{
    struct vfs_file *f = (struct vfs_file *)file;
    int rv = SQLITE_OK;
    pthread_mutex_lock(&f->v->mu);
    if (level == SQLITE_LOCK_EXCLUSIVE && f->kind == VFS_MAIN &&
        vfsMainIsWal(&f->db->main)) {
        rv = SQLITE_BUSY;
    } else {
        f->lock_level = level;
    }
    pthread_mutex_unlock(&f->v->mu);
    return rv;
}

static int vfsFileUnlock(sqlite3_file *file, int level)
{
    struct vfs_file *f = (struct vfs_file *)file;
    f->lock_level = level;
    return SQLITE_OK;
}

static int vfsFileCheckReservedLock(sqlite3_file *file, int *out)
{
    (void)file;
    *out = 0;
    return SQLITE_OK;
}

static int vfsFileControl(sqlite3_file *file, int op, void *arg)
{
    (void)file;
    (void)op;
    (void)arg;
    return SQLITE_NOTFOUND;
}

static int vfsFileSectorSize(sqlite3_file *file)
{
    (void)file;
    return 512;
}

static int vfsFileDeviceCharacteristics(sqlite3_file *file)
{
    (void)file;
    /* No padding frames in the WAL: every frame is a page of the txn. */
    return SQLITE_IOCAP_POWERSAFE_OVERWRITE | SQLITE_IOCAP_SAFE_APPEND;
}

static int vfsFileShmMap(sqlite3_file *file, int region, int size, int extend,
                         void volatile **out)
{
    struct vfs_file *f = (struct vfs_file *)file;
    pthread_mutex_lock(&f->v->mu);
    int rv = vfsShmMap(f->db, region, size, extend, out);
    pthread_mutex_unlock(&f->v->mu);
    return rv;
}

static int vfsFileShmLock(sqlite3_file *file, int ofst, int n, int flags)
{
    struct vfs_file *f = (struct vfs_file *)file;
    pthread_mutex_lock(&f->v->mu);
    int rv = vfsShmLock(f->db, &f->shm_owner, ofst, n, flags);
    pthread_mutex_unlock(&f->v->mu);
    return rv;
}

static void vfsFileShmBarrier(sqlite3_file *file)
{
    /* Taking and releasing the mutex is a full memory barrier. */
    pthread_mutex_lock(&vfsOf(file)->mu);
    pthread_mutex_unlock(&vfsOf(file)->mu);
}

static int vfsFileShmUnmap(sqlite3_file *file, int delete_flag)
{
    struct vfs_file *f = (struct vfs_file *)file;
    (void)delete_flag; /* the index lives as long as the database */
    pthread_mutex_lock(&f->v->mu);
    vfsShmReleaseAll(f->db, &f->shm_owner);
    pthread_mutex_unlock(&f->v->mu);
    return SQLITE_OK;
}

static const sqlite3_io_methods vfsFileMethods = {
    .iVersion = 2,
    .xClose = vfsFileClose,
    .xRead = vfsFileRead,
    .xWrite = vfsFileWrite,
    .xTruncate = vfsFileTruncate,
    .xSync = vfsFileSync,
    .xFileSize = vfsFileSize,
    .xLock = vfsFileLock,
    .xUnlock = vfsFileUnlock,
    .xCheckReservedLock = vfsFileCheckReservedLock,
    .xFileControl = vfsFileControl,
    .xSectorSize = vfsFileSectorSize,
    .xDeviceCharacteristics = vfsFileDeviceCharacteristics,
    .xShmMap = vfsFileShmMap,
    .xShmLock = vfsFileShmLock,
    .xShmBarrier = vfsFileShmBarrier,
    .xShmUnmap = vfsFileShmUnmap,
};

/* "name-wal" -> kind VFS_WAL and the base name copied into `base`. */
static enum vfs_file_kind vfsKindOf(const char *name, int flags, char *base)
{
    size_t len = strlen(name);
    if (flags & SQLITE_OPEN_WAL && len > 4 &&
        strcmp(name + len - 4, "-wal") == 0) {
        memcpy(base, name, len - 4);
        base[len - 4] = '\0';
        return VFS_WAL;
    }
    if (flags & SQLITE_OPEN_MAIN_JOURNAL && len > 8 &&
        strcmp(name + len - 8, "-journal") == 0) {
        memcpy(base, name, len - 8);
        base[len - 8] = '\0';
        return VFS_JOURNAL;
    }
    memcpy(base, name, len + 1);
    return VFS_MAIN;
}

static int vfsOpenTemp(struct vfs_file *f)
{
    f->kind = VFS_TEMP;
    f->temp = libCalloc(1, sizeof *f->temp);
    return f->temp == NULL ? SQLITE_NOMEM : SQLITE_OK;
}

static int vfsOpenDb(struct vfs *v, struct vfs_file *f, const char *name,
                     int flags)
{
    char base[VFS_MAX_NAME + 1];
    if (strlen(name) > VFS_MAX_NAME) {
        return SQLITE_CANTOPEN;
    }
    f->kind = vfsKindOf(name, flags, base);
    struct vfs_db *db = vfsDbLookup(v, base);
    if (db == NULL) {
        if (f->kind != VFS_MAIN || !(flags & SQLITE_OPEN_CREATE)) {
            return SQLITE_CANTOPEN;
        }
        if (vfsDbNew(v, base, v->page_size, &db) != 0) {
            return SQLITE_NOMEM;
        }
    }
    f->db = db;
    db->n_files++;
    return SQLITE_OK;
}

static int vfsOpen(sqlite3_vfs *base, const char *name, sqlite3_file *file,
                   int flags, int *out_flags)
{
    struct vfs *v = base->pAppData;
    struct vfs_file *f = (struct vfs_file *)file;
    memset(f, 0, sizeof *f);
    f->v = v;
    bool temp = name == NULL ||
                (flags & (SQLITE_OPEN_DELETEONCLOSE | SQLITE_OPEN_TEMP_DB |
                          SQLITE_OPEN_TEMP_JOURNAL | SQLITE_OPEN_SUBJOURNAL |
                          SQLITE_OPEN_TRANSIENT_DB));
    pthread_mutex_lock(&v->mu);
    int rv = temp ? vfsOpenTemp(f) : vfsOpenDb(v, f, name, flags);
    pthread_mutex_unlock(&v->mu);
    if (rv != SQLITE_OK) {
        return rv;
    }
    f->base.pMethods = &vfsFileMethods;
    if (out_flags != NULL) {
        *out_flags = flags;
    }
    return SQLITE_OK;
}

static int vfsDelete(sqlite3_vfs *base, const char *name, int sync_dir)
{
    struct vfs *v = base->pAppData;
    char db_name[VFS_MAX_NAME + 1];
    (void)sync_dir;
    if (strlen(name) > VFS_MAX_NAME) {
        return SQLITE_IOERR_DELETE;
    }
    pthread_mutex_lock(&v->mu);
    enum vfs_file_kind kind =
        vfsKindOf(name, SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL, db_name);
    struct vfs_db *db = vfsDbLookup(v, db_name);
    if (db != NULL && kind == VFS_JOURNAL) {
        db->journal.len = 0;
    }
    /* The WAL and main file are never deleted by SQLite: they are ours. */
    pthread_mutex_unlock(&v->mu);
    return SQLITE_OK;
}

static int vfsAccess(sqlite3_vfs *base, const char *name, int flags, int *out)
{
    struct vfs *v = base->pAppData;
    char db_name[VFS_MAX_NAME + 1];
    (void)flags;
    *out = 0;
    if (strlen(name) > VFS_MAX_NAME) {
        return SQLITE_OK;
    }
    pthread_mutex_lock(&v->mu);
    enum vfs_file_kind kind =
        vfsKindOf(name, SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL, db_name);
    struct vfs_db *db = vfsDbLookup(v, db_name);
    if (db != NULL) {
        *out = kind == VFS_MAIN ||
               (kind == VFS_WAL && db->wal.page_size != 0) ||
               (kind == VFS_JOURNAL && db->journal.len > 0);
    }
    pthread_mutex_unlock(&v->mu);
    return SQLITE_OK;
}

static int vfsFullPathname(sqlite3_vfs *base, const char *name, int n_out,
                           char *out)
{
    (void)base;
    size_t len = strlen(name);
    if (len + 1 > (size_t)n_out) {
        return SQLITE_CANTOPEN;
    }
    memcpy(out, name, len + 1);
    return SQLITE_OK;
}

static int vfsRandomness(sqlite3_vfs *base, int n, char *out)
{
    (void)base;
    sqlite3_vfs *def = sqlite3_vfs_find(NULL);
    return def->xRandomness(def, n, out);
}

static int vfsSleep(sqlite3_vfs *base, int microseconds)
{
    (void)base;
    usleep((useconds_t)microseconds);
    return microseconds;
}

static int vfsCurrentTimeInt64(sqlite3_vfs *base, sqlite3_int64 *out)
{
    (void)base;
    sqlite3_vfs *def = sqlite3_vfs_find(NULL);
    return def->xCurrentTimeInt64(def, out);
}

static int vfsCurrentTime(sqlite3_vfs *base, double *out)
{
    sqlite3_int64 ms;
    int rv = vfsCurrentTimeInt64(base, &ms);
    *out = (double)ms / 86400000.0;
    return rv;
}

static int vfsGetLastError(sqlite3_vfs *base, int n, char *out)
{
    (void)base;
    (void)n;
    (void)out;
    return 0;
}

void vfsFillMethods(sqlite3_vfs *base, struct vfs *v)
{
    memset(base, 0, sizeof *base);
    base->iVersion = 2;
    base->szOsFile = sizeof(struct vfs_file);
    base->mxPathname = VFS_MAX_NAME + 16;
    base->zName = v->name;
    base->pAppData = v;
    base->xOpen = vfsOpen;
    base->xDelete = vfsDelete;
    base->xAccess = vfsAccess;
    base->xFullPathname = vfsFullPathname;
    base->xRandomness = vfsRandomness;
    base->xSleep = vfsSleep;
    base->xCurrentTime = vfsCurrentTime;
    base->xGetLastError = vfsGetLastError;
    base->xCurrentTimeInt64 = vfsCurrentTimeInt64;
}

bool vfsIsOurs(const sqlite3_vfs *base)
{
    return base != NULL && base->xOpen == vfsOpen;
}
