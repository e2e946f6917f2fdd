/*
 * The one-time conversion of a dqlite 1.11 data directory (see legacy.h and
 * docs/disk-format.md §5): find the 1.11 files, convert metadata, the
 * newest snapshot and the log into a staging subdirectory, mark the
 * conversion complete by renaming the staging directory, then move the
 * 1.11 files into the backup subdirectory and ours into place.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "raftio/legacy.h"
#include "raftio/meta.h"
#include "raftio/snapshot.h"

/* Largest 1.11 segment we read whole (raft's own limit is far below). */
#define LEGACY_SEGMENT_MAX_BYTES ((size_t)1 << 30)

struct legacy_file {
    const char *name; /* into legacy_dir.names */
    struct legacy_name p;
};

/* What the data directory holds. */
struct legacy_dir {
    char **names;
    size_t n_names;
    struct legacy_file *files; /* the 1.11 files, sorted (legacyCompare) */
    size_t n_files;
    const char *ours; /* one of our raft files, or NULL */
};

struct legacy_conv {
    int dir_fd;
    struct raftio_fs root;
    struct raftio_fs stage;
    struct legacy_dir d;
    const struct raftio_legacy_fsm *fsm;
    raftio_logger_fn logger;
    void *logger_arg;
    char *errmsg;
    size_t errmsg_len;
    bool has_snap;
    uint64_t snap_index;
    uint64_t next_index; /* index of the next 1.11 entry read */
    uint64_t n_written;  /* entries written to our log */
    struct raftio_log log;
    bool log_open;
};

static int legacyFail(struct legacy_conv *c, int rv, const char *file,
                      const char *fmt, ...)
{
    char why[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, sizeof why, fmt, args);
    va_end(args);
    snprintf(c->errmsg, c->errmsg_len,
             "dqlite 1.11 data directory not converted: %s: %s (the 1.11 "
             "files are untouched; docs/disk-format.md §5)",
             file, why);
    return rv;
}

static void legacyLogf(struct legacy_conv *c, int level, const char *fmt, ...)
{
    char line[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    if (c->logger != NULL) {
        c->logger(c->logger_arg, level, line);
    }
}

/* ------------------------------------------------------------ listing */

static bool legacyIsOurs(const char *name)
{
    return strcmp(name, META_FILE) == 0 || strncmp(name, "seg-", 4) == 0 ||
           strncmp(name, "snap-", 5) == 0;
}

/* Metadata, then closed segments by first index, open ones by counter,
 * snapshots by term, index, timestamp (raft's orders). */
static int legacyCompare(const void *x, const void *y)
{
    const struct legacy_name *a = &((const struct legacy_file *)x)->p;
    const struct legacy_name *b = &((const struct legacy_file *)y)->p;
    if (a->kind != b->kind) {
        return a->kind < b->kind ? -1 : 1;
    }
    if (a->a != b->a) {
        return a->a < b->a ? -1 : 1;
    }
    if (a->b != b->b) {
        return a->b < b->b ? -1 : 1;
    }
    return a->c < b->c ? -1 : (a->c > b->c);
}

static int legacyList(struct raftio_fs *fs, struct legacy_dir *d)
{
    memset(d, 0, sizeof *d);
    int rv = fs->list(fs, &d->names, &d->n_names);
    if (rv != 0) {
        return rv;
    }
    d->files = libMalloc(sizeof *d->files * (d->n_names + 1));
    if (d->files == NULL) {
        raftioFsFreeList(d->names, d->n_names);
        return ERR_NOMEM;
    }
    for (size_t i = 0; i < d->n_names; i++) {
        struct legacy_file f = {d->names[i], {0}};
        legacyNameParse(f.name, &f.p);
        if (f.p.kind != LEGACY_NONE) {
            d->files[d->n_files++] = f;
        } else if (legacyIsOurs(f.name) && d->ours == NULL) {
            d->ours = f.name;
        }
    }
    qsort(d->files, d->n_files, sizeof *d->files, legacyCompare);
    return 0;
}

static void legacyListFree(struct legacy_dir *d)
{
    libFree(d->files);
    raftioFsFreeList(d->names, d->n_names);
    memset(d, 0, sizeof *d);
}

/* ------------------------------------------------------------ directories */

static bool legacyDirExists(int dir_fd, const char *name)
{
    struct stat st;
    return fstatat(dir_fd, name, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

static int legacySyncFd(int fd)
{
    return fsync(fd) == 0 ? 0 : ERR_IO;
}

/* Removes subdirectory `name` of dir_fd and the files in it (one level). */
static int legacyRemoveDir(int dir_fd, const char *name)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : ERR_IO;
    }
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return ERR_IO;
    }
    int rv = 0;
    struct dirent *e;
    while (rv == 0 && (e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            unlinkat(fd, e->d_name, 0) != 0 && errno != ENOENT) {
            rv = ERR_IO;
        }
    }
    closedir(dir);
    if (rv == 0 && unlinkat(dir_fd, name, AT_REMOVEDIR) != 0) {
        rv = ERR_IO;
    }
    return rv == 0 ? legacySyncFd(dir_fd) : rv;
}

/* Moves every file of `from_fd` whose name `pick` accepts into `to_fd`. */
static int legacyMoveAll(int from_fd, int to_fd, bool (*pick)(const char *))
{
    DIR *dir = fdopendir(dup(from_fd));
    if (dir == NULL) {
        return ERR_IO;
    }
    rewinddir(dir);
    int rv = 0;
    struct dirent *e;
    while (rv == 0 && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.' || !pick(e->d_name)) {
            continue;
        }
        if (renameat(from_fd, e->d_name, to_fd, e->d_name) != 0) {
            rv = ERR_IO;
        }
    }
    closedir(dir);
    if (rv == 0) {
        rv = legacySyncFd(to_fd);
    }
    return rv == 0 ? legacySyncFd(from_fd) : rv;
}

static bool legacyPickOld(const char *name)
{
    struct legacy_name p;
    legacyNameParse(name, &p);
    return p.kind != LEGACY_NONE;
}

static bool legacyPickAny(const char *name)
{
    (void)name;
    return true;
}

/* After the mark: 1.11 files into the backup, ours into place, the marked
 * directory removed. Every step can run again after a crash. */
static int legacyFinish(int dir_fd)
{
    if (mkdirat(dir_fd, LEGACY_BACKUP_DIR, 0700) != 0 && errno != EEXIST) {
        return ERR_IO;
    }
    int backup_fd =
        openat(dir_fd, LEGACY_BACKUP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int done_fd =
        openat(dir_fd, LEGACY_DONE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rv = backup_fd < 0 || done_fd < 0 ? ERR_IO : 0;
    if (rv == 0) {
        rv = legacyMoveAll(dir_fd, backup_fd, legacyPickOld);
    }
    if (rv == 0) {
        rv = legacyMoveAll(done_fd, dir_fd, legacyPickAny);
    }
    if (backup_fd >= 0) {
        close(backup_fd);
    }
    if (done_fd >= 0) {
        close(done_fd);
    }
    if (rv == 0 && unlinkat(dir_fd, LEGACY_DONE_DIR, AT_REMOVEDIR) != 0) {
        rv = ERR_IO;
    }
    return rv == 0 ? legacySyncFd(dir_fd) : rv;
}

/* ------------------------------------------------------------ metadata */

static int legacyReadMeta(struct legacy_conv *c, const char *name,
                          uint64_t *version, uint64_t *term, uint64_t *vote)
{
    uint8_t *data;
    size_t len;
    *version = 0;
    int rv = raftioFsReadAll(&c->root, name, 4096, &data, &len);
    if (rv == ERR_NOTFOUND) {
        return 0;
    }
    if (rv != 0) {
        return legacyFail(c, rv, name, "cannot read: %s", errString(rv));
    }
    rv = legacyMetaDecode(data, len, version, term, vote);
    libFree(data);
    if (rv != 0) {
        return legacyFail(c, ERR_CORRUPT, name,
                          "not a raft metadata file of format 1");
    }
    return 0;
}

/* metadata1 and metadata2: the one with the higher version wins. */
static int legacyConvertMeta(struct legacy_conv *c)
{
    uint64_t v1, t1 = 0, vote1 = 0, v2, t2 = 0, vote2 = 0;
    int rv = legacyReadMeta(c, "metadata1", &v1, &t1, &vote1);
    if (rv == 0) {
        rv = legacyReadMeta(c, "metadata2", &v2, &t2, &vote2);
    }
    if (rv != 0) {
        return rv;
    }
    if (v1 != 0 && v1 == v2) {
        return legacyFail(c, ERR_CORRUPT, "metadata1",
                          "metadata1 and metadata2 both at version %llu",
                          (unsigned long long)v1);
    }
    uint64_t term = v1 > v2 ? t1 : t2;
    uint64_t vote = v1 > v2 ? vote1 : vote2;
    rv = raftioMetaStore(&c->stage, term, vote);
    if (rv != 0) {
        return legacyFail(c, rv, LEGACY_STAGING_DIR "/" META_FILE,
                          "cannot write: %s", errString(rv));
    }
    legacyLogf(c, RAFTIO_LOG_INFO, "dqlite 1.11 metadata: term %llu, vote %llu",
               (unsigned long long)term, (unsigned long long)vote);
    return 0;
}

/* ------------------------------------------------------------ snapshot */

/* The newest snapshot whose data file exists and is not empty, or NULL. */
static const struct legacy_file *legacyNewestSnap(struct legacy_conv *c)
{
    for (size_t i = c->d.n_files; i > 0; i--) {
        const struct legacy_file *f = &c->d.files[i - 1];
        if (f->p.kind != LEGACY_SNAP_META) {
            continue;
        }
        char data[96];
        snprintf(data, sizeof data, "%.*s", (int)(strlen(f->name) - 5),
                 f->name);
        int fd;
        uint64_t size = 0;
        if (c->root.open(&c->root, data, 0, &fd) == 0) {
            c->root.size(&c->root, fd, &size);
            c->root.close(&c->root, fd);
        }
        if (size > 0) {
            return f;
        }
    }
    return NULL;
}

static int legacySnapMeta(struct legacy_conv *c, const struct legacy_file *f,
                          struct raft_snapshot_meta *meta)
{
    uint8_t *file;
    size_t len;
    const uint8_t *conf;
    size_t conf_len;
    int rv = raftioFsReadAll(&c->root, f->name, LEGACY_CONF_MAX_BYTES + 4096,
                             &file, &len);
    if (rv != 0) {
        return legacyFail(c, rv, f->name, "cannot read: %s", errString(rv));
    }
    rv = legacySnapMetaDecode(file, len, &meta->conf_index, &conf, &conf_len);
    if (rv == 0) {
        rv = legacyConfDecode(conf, conf_len, &meta->conf);
    }
    libFree(file);
    if (rv != 0) {
        return legacyFail(c, ERR_CORRUPT, f->name,
                          "bad snapshot metadata (format, checksum or "
                          "configuration)");
    }
    meta->term = f->p.a;
    meta->index = f->p.b;
    return 0;
}

/* Reads, decompresses and translates the state of snapshot `f` into `out`. */
static int legacySnapData(struct legacy_conv *c, const struct legacy_file *f,
                          struct buf *out)
{
    char name[96];
    snprintf(name, sizeof name, "%.*s", (int)(strlen(f->name) - 5), f->name);
    uint8_t *file, *data;
    size_t len, data_len;
    int rv = raftioFsReadAll(&c->root, name, SNAPSHOT_DATA_MAX, &file, &len);
    if (rv != 0) {
        return legacyFail(c, rv, name, "cannot read: %s", errString(rv));
    }
    rv = legacySnapDataDecode(file, len, &data, &data_len);
    libFree(file);
    if (rv != 0) {
        return legacyFail(c, rv == ERR_NOMEM ? rv : ERR_CORRUPT, name,
                          "bad LZ4 frame");
    }
    char why[160] = "";
    rv = c->fsm->snapshot(c->fsm->arg, data, data_len, f->p.b, out, why,
                          sizeof why);
    libFree(data);
    if (rv != 0) {
        return legacyFail(c, rv, name, "state machine snapshot: %s", why);
    }
    return 0;
}

static int legacyConvertSnapshot(struct legacy_conv *c)
{
    const struct legacy_file *f = legacyNewestSnap(c);
    if (f == NULL) {
        return 0;
    }
    struct raft_snapshot_meta meta = {0};
    struct buf out;
    bufInit(&out);
    out.limit = (size_t)SNAPSHOT_DATA_MAX;
    int rv = legacySnapMeta(c, f, &meta);
    if (rv != 0) {
        return rv;
    }
    rv = legacySnapData(c, f, &out);
    if (rv == 0) {
        struct raftio_snapshot_buf b = {out.data, out.len};
        rv = raftioSnapshotWrite(&c->stage, &meta, &b, 1, true);
        if (rv != 0) {
            legacyFail(c, rv, LEGACY_STAGING_DIR, "cannot write snapshot: %s",
                       errString(rv));
        }
    }
    raftConfClose(&meta.conf);
    bufFree(&out);
    if (rv == 0) {
        c->has_snap = true;
        c->snap_index = f->p.b;
        legacyLogf(c, RAFTIO_LOG_INFO,
                   "dqlite 1.11 snapshot %s: index %llu, term %llu", f->name,
                   (unsigned long long)f->p.b, (unsigned long long)f->p.a);
    }
    return rv;
}

/* ------------------------------------------------------------ log */

/* Our entry for 1.11 entry `e` (the caller unrefs out->data). */
static int legacyEntry(struct legacy_conv *c, const char *file, uint64_t index,
                       const struct legacy_entry *e, struct raft_entry *out)
{
    *out = (struct raft_entry){e->term, e->type, NULL, 0};
    char why[160] = "";
    int rv = 0;
    if (e->type == RAFT_CHANGE) {
        struct raft_configuration conf;
        rv = legacyConfDecode(e->data, e->len, &conf);
        if (rv == 0) {
            rv = raftConfEncodePayload(&conf, &out->data, &out->len);
            raftConfClose(&conf);
        }
        snprintf(why, sizeof why, "bad configuration");
    } else if (e->type == RAFT_COMMAND) {
        struct buf b;
        bool noop = false;
        bufInit(&b);
        rv = c->fsm->command(c->fsm->arg, e->data, e->len, &b, &noop, why,
                             sizeof why);
        if (rv == 0 && noop) {
            out->type = RAFT_BARRIER;
        } else if (rv == 0 && b.len > RAFT_ENTRY_MAX_BYTES) {
            rv = ERR_TOOBIG;
            snprintf(why, sizeof why, "%zu bytes once converted", b.len);
        } else if (rv == 0) {
            out->data = raftPayloadAlloc(b.len);
            rv = out->data == NULL ? ERR_NOMEM : 0;
            if (rv == 0) {
                memcpy(out->data, b.data, b.len);
                out->len = b.len;
            }
        }
        bufFree(&b);
    }
    if (rv != 0) {
        return legacyFail(c, rv == ERR_NOMEM ? rv : ERR_CORRUPT, file,
                          "entry %llu: %s", (unsigned long long)index, why);
    }
    return 0;
}

static int legacyLogOpen(struct legacy_conv *c)
{
    if (c->log_open) {
        return 0;
    }
    struct raftio_log_options opts = {.logger = c->logger,
                                      .logger_arg = c->logger_arg};
    struct raftio_loaded loaded;
    int rv = raftioLogOpen(&c->log, &c->stage, &opts, &loaded);
    if (rv != 0) {
        return legacyFail(c, rv, LEGACY_STAGING_DIR, "cannot open the log: %s",
                          errString(rv));
    }
    ASSERT(loaded.n_entries == 0);
    raftioLoadedFree(&loaded);
    c->log_open = true;
    return 0;
}

/* Converts and appends the entries of one segment, then syncs. */
static int legacyAppend(struct legacy_conv *c, const char *file,
                        const struct legacy_entry *entries, size_t n)
{
    int rv = 0;
    bool wrote = false;
    for (size_t i = 0; rv == 0 && i < n; i++) {
        uint64_t index = c->next_index++;
        if (c->has_snap && index <= c->snap_index) {
            continue; /* in the snapshot: our log starts after it */
        }
        struct raft_entry e;
        rv = legacyLogOpen(c);
        if (rv == 0) {
            rv = legacyEntry(c, file, index, &entries[i], &e);
        }
        if (rv == 0) {
            rv = raftioLogAppend(&c->log, index, &e, 1);
            raftPayloadUnref(e.data);
            if (rv != 0) {
                legacyFail(c, rv, file, "cannot write entry %llu: %s",
                           (unsigned long long)index, errString(rv));
            }
            wrote = true;
            c->n_written++;
        }
    }
    if (rv == 0 && wrote) {
        rv = raftioLogSync(&c->log);
        if (rv != 0) {
            legacyFail(c, rv, file, "cannot sync: %s", errString(rv));
        }
    }
    return rv;
}

static bool legacyAllZero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

static int legacySegmentError(struct legacy_conv *c, const char *name, int rv,
                              const uint8_t *file, size_t len, size_t bad)
{
    uint64_t format = len >= 8 ? byteGet64(file) : 0;
    if (rv == ERR_NOMEM) {
        return legacyFail(c, rv, name, "out of memory");
    }
    if (len >= 8 && format != LEGACY_FORMAT) {
        return legacyFail(c, ERR_UNSUPPORTED, name,
                          "segment format %llu (only raft's format 1 is "
                          "converted)",
                          (unsigned long long)format);
    }
    return legacyFail(c, ERR_CORRUPT, name, "damaged batch at byte %zu", bad);
}

/* Reads, checks and converts one segment file. */
static int legacySegment(struct legacy_conv *c, const struct legacy_file *f)
{
    bool closed = f->p.kind == LEGACY_CLOSED;
    uint8_t *file;
    size_t len;
    int rv = raftioFsReadAll(&c->root, f->name, LEGACY_SEGMENT_MAX_BYTES, &file,
                             &len);
    if (rv != 0) {
        return legacyFail(c, rv, f->name, "cannot read: %s", errString(rv));
    }
    if (!closed && legacyAllZero(file, len)) {
        libFree(file); /* allocated, never written: raft drops it too */
        return 0;
    }
    struct legacy_entry *entries;
    size_t n;
    size_t bad;
    rv = legacySegmentDecode(file, len, closed, &entries, &n, &bad);
    if (rv == 0 && closed &&
        (f->p.a != c->next_index || n != f->p.b - f->p.a + 1)) {
        rv = legacyFail(c, ERR_CORRUPT, f->name,
                        "holds %zu entries from %llu, expected %llu..%llu", n,
                        (unsigned long long)c->next_index,
                        (unsigned long long)f->p.a, (unsigned long long)f->p.b);
    } else if (rv != 0) {
        rv = legacySegmentError(c, f->name, rv, file, len, bad);
    } else {
        if (!closed && bad < len && !legacyAllZero(file + bad, len - bad)) {
            legacyLogf(c, RAFTIO_LOG_WARN,
                       "%s: %zu bytes from offset %zu were never acknowledged "
                       "and are dropped, as dqlite 1.11 does",
                       f->name, len - bad, bad);
        }
        rv = legacyAppend(c, f->name, entries, n);
    }
    libFree(entries);
    libFree(file);
    return rv;
}

/* raft's choice of closed segments: with a snapshot, the newest contiguous
 * run (older, disconnected ones are ignored, as raft ignores them), none
 * if it ends before the snapshot and no open segment follows; without
 * one, all of them, from index 1 and contiguous. Sets c->next_index and
 * the range [*first, *last) of files to read. */
static int legacyPickClosed(struct legacy_conv *c, size_t *first, size_t *last)
{
    size_t lo = 0, hi = 0, n_open = 0;
    for (size_t i = 0; i < c->d.n_files; i++) {
        enum legacy_kind k = c->d.files[i].p.kind;
        lo += k < LEGACY_CLOSED;
        hi += k <= LEGACY_CLOSED;
        n_open += k == LEGACY_OPEN;
    }
    *first = lo;
    *last = hi;
    const struct legacy_file *f = c->d.files;
    if (lo == hi) {
        c->next_index = c->has_snap ? c->snap_index + 1 : 1;
        return 0;
    }
    if (c->has_snap && f[hi - 1].p.b < c->snap_index && n_open == 0) {
        *first = hi;
        c->next_index = c->snap_index + 1;
        return 0;
    }
    size_t i = hi - 1;
    while (i > lo && f[i - 1].p.b + 1 == f[i].p.a) {
        i--;
    }
    if (i > lo && !c->has_snap) {
        return legacyFail(c, ERR_CORRUPT, f[i - 1].name,
                          "not contiguous with %s", f[i].name);
    }
    uint64_t start = c->has_snap ? c->snap_index + 1 : 1;
    if (f[i].p.a > start) {
        return legacyFail(c, ERR_CORRUPT, f[i].name,
                          "starts at %llu: entries from %llu are missing",
                          (unsigned long long)f[i].p.a,
                          (unsigned long long)start);
    }
    *first = i;
    c->next_index = f[i].p.a;
    return 0;
}

static int legacyConvertLog(struct legacy_conv *c)
{
    size_t first, last;
    int rv = legacyPickClosed(c, &first, &last);
    for (size_t i = first; rv == 0 && i < last; i++) {
        rv = legacySegment(c, &c->d.files[i]);
    }
    for (size_t i = last; rv == 0 && i < c->d.n_files; i++) {
        if (c->d.files[i].p.kind == LEGACY_OPEN) {
            rv = legacySegment(c, &c->d.files[i]);
        }
    }
    if (c->log_open) {
        raftioLogClose(&c->log);
        c->log_open = false;
    }
    if (rv == 0) {
        legacyLogf(c, RAFTIO_LOG_INFO,
                   "dqlite 1.11 log: %llu entries converted, up to index %llu",
                   (unsigned long long)c->n_written,
                   (unsigned long long)(c->next_index - 1));
    }
    return rv;
}

/* ------------------------------------------------------------ upgrade */

/* Everything into the staging directory, synced, then the mark. */
static int legacyConvert(struct legacy_conv *c, const char *dir)
{
    char stage[4096];
    snprintf(stage, sizeof stage, "%s/%s", dir, LEGACY_STAGING_DIR);
    int rv = legacyRemoveDir(c->dir_fd, LEGACY_STAGING_DIR);
    if (rv == 0) {
        rv = raftioFsPosixInit(&c->stage, stage);
    }
    if (rv != 0) {
        return legacyFail(c, rv, LEGACY_STAGING_DIR, "cannot create: %s",
                          errString(rv));
    }
    rv = legacyConvertMeta(c);
    if (rv == 0) {
        rv = legacyConvertSnapshot(c);
    }
    if (rv == 0) {
        rv = legacyConvertLog(c);
    }
    c->stage.destroy(&c->stage);
    if (rv != 0) {
        legacyRemoveDir(c->dir_fd, LEGACY_STAGING_DIR);
        return rv;
    }
    if (renameat(c->dir_fd, LEGACY_STAGING_DIR, c->dir_fd, LEGACY_DONE_DIR) !=
            0 ||
        legacySyncFd(c->dir_fd) != 0) {
        return legacyFail(c, ERR_IO, LEGACY_STAGING_DIR, "cannot rename: %s",
                          strerror(errno));
    }
    return 0;
}

/* Refuses a directory the conversion could not tell apart. */
static int legacyCheck(struct legacy_conv *c)
{
    if (c->d.ours != NULL) {
        return legacyFail(c, ERR_EXISTS, c->d.files[0].name,
                          "the directory also holds our %s: remove one set",
                          c->d.ours);
    }
    if (legacyDirExists(c->dir_fd, LEGACY_BACKUP_DIR)) {
        return legacyFail(c, ERR_EXISTS, c->d.files[0].name,
                          "%s/ already exists: move it away first",
                          LEGACY_BACKUP_DIR);
    }
    return 0;
}

static int legacyRun(struct legacy_conv *c, const char *dir,
                     enum legacy_outcome *outcome)
{
    if (legacyDirExists(c->dir_fd, LEGACY_DONE_DIR)) {
        *outcome = LEGACY_RESUMED;
        int rv = legacyFinish(c->dir_fd);
        return rv == 0 ? 0
                       : legacyFail(c, rv, LEGACY_DONE_DIR,
                                    "cannot finish moving the files: %s",
                                    strerror(errno));
    }
    if (c->d.n_files == 0) {
        return legacyRemoveDir(c->dir_fd, LEGACY_STAGING_DIR);
    }
    int rv = legacyCheck(c);
    if (rv == 0) {
        rv = legacyConvert(c, dir);
    }
    if (rv == 0) {
        *outcome = LEGACY_CONVERTED;
        rv = legacyFinish(c->dir_fd);
        if (rv != 0) {
            legacyFail(c, rv, LEGACY_DONE_DIR, "cannot move the files: %s",
                       strerror(errno));
        }
    }
    if (rv == 0) {
        legacyLogf(c, RAFTIO_LOG_WARN,
                   "converted the dqlite 1.11 data directory %s; its files "
                   "are kept in %s/",
                   dir, LEGACY_BACKUP_DIR);
    }
    return rv;
}

int raftioLegacyUpgrade(const char *dir, const struct raftio_legacy_fsm *fsm,
                        raftio_logger_fn logger, void *logger_arg,
                        enum legacy_outcome *outcome, char *errmsg,
                        size_t errmsg_len)
{
    PRE(dir != NULL && fsm != NULL && outcome != NULL && errmsg != NULL);
    struct legacy_conv c = {.fsm = fsm,
                            .logger = logger,
                            .logger_arg = logger_arg,
                            .errmsg = errmsg,
                            .errmsg_len = errmsg_len};
    *outcome = LEGACY_NOTHING;
    int rv = raftioFsPosixInit(&c.root, dir);
    if (rv != 0) {
        return legacyFail(&c, rv, dir, "cannot open: %s", errString(rv));
    }
    c.dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    rv = c.dir_fd < 0 ? ERR_IO : legacyList(&c.root, &c.d);
    if (rv != 0) {
        legacyFail(&c, rv, dir, "cannot list: %s", errString(rv));
    } else {
        rv = legacyRun(&c, dir, outcome);
        legacyListFree(&c.d);
    }
    if (c.dir_fd >= 0) {
        close(c.dir_fd);
    }
    c.root.destroy(&c.root);
    return rv;
}
