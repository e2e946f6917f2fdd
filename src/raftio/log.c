/*
 * The durable log over segment files: load with repair, append in write
 * groups, sync, truncate, compact. File-level crash-safety rules (each is
 * relied upon by the loader):
 *   - a segment is created header-first: header written, file synced, dir
 *     synced, before any record goes in, so a bad header is either a torn
 *     creation (last file, at most a header long) or corruption;
 *   - only the last segment ever holds unsynced bytes: rolling to a new
 *     segment syncs the open group first;
 *   - whole segments are deleted one at a time with a dir sync after each,
 *     from the end for a truncation and from the start for a compaction, so
 *     the files on disk always hold one contiguous run of indexes.
 */
#include "raftio/log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

/* Largest segment file the loader reads (a segment may pass its soft limit
 * by one write group). */
#define LOG_SEGMENT_READ_LIMIT ((size_t)1 << 31)

static void logNote(struct raftio_log *log, int level, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    if (log->logger == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log->logger(log->logger_arg, level, msg);
}

static void segName(char out[RAFTIO_FS_NAME_MAX], uint64_t first_index)
{
    snprintf(out, RAFTIO_FS_NAME_MAX, "seg-%020" PRIu64, first_index);
}

/* 0 and the first index for a name written by segName, else ERR_INVALID. */
static int segParseName(const char *name, uint64_t *first_index)
{
    if (strncmp(name, "seg-", 4) != 0 || strlen(name) != 24) {
        return ERR_INVALID;
    }
    for (const char *p = name + 4; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return ERR_INVALID;
        }
    }
    *first_index = strtoull(name + 4, NULL, 10);
    return *first_index >= 1 ? 0 : ERR_INVALID;
}

static struct raftio_log_seg *logLast(struct raftio_log *log)
{
    PRE(log->n_segs > 0);
    return &log->segs[log->n_segs - 1];
}

static uint64_t segEnd(const struct raftio_log_seg *seg)
{
    return seg->offsets[seg->n_entries];
}

static int logPushSeg(struct raftio_log *log, uint64_t first_index,
                      uint64_t *offsets, uint64_t n_entries)
{
    if (log->n_segs == log->segs_cap) {
        size_t cap = log->segs_cap == 0 ? 8 : log->segs_cap * 2;
        struct raftio_log_seg *grown =
            libRealloc(log->segs, cap * sizeof *grown);
        if (grown == NULL) {
            return ERR_NOMEM;
        }
        log->segs = grown;
        log->segs_cap = cap;
    }
    struct raftio_log_seg *seg = &log->segs[log->n_segs++];
    segName(seg->name, first_index);
    seg->first_index = first_index;
    seg->n_entries = n_entries;
    seg->offsets = offsets;
    seg->offsets_cap = n_entries + 1;
    return 0;
}

static void logPopSeg(struct raftio_log *log)
{
    PRE(log->n_segs > 0);
    libFree(logLast(log)->offsets);
    log->n_segs--;
}

static int segReserve(struct raftio_log_seg *seg, uint64_t extra)
{
    if (seg->n_entries + 1 + extra <= seg->offsets_cap) {
        return 0;
    }
    size_t cap = seg->offsets_cap * 2;
    if (cap < seg->n_entries + 1 + extra) {
        cap = (size_t)(seg->n_entries + 1 + extra);
    }
    uint64_t *grown = libRealloc(seg->offsets, cap * sizeof *grown);
    if (grown == NULL) {
        return ERR_NOMEM;
    }
    seg->offsets = grown;
    seg->offsets_cap = cap;
    return 0;
}

void raftioLogRange(const struct raftio_log *log, uint64_t *first,
                    uint64_t *last)
{
    if (log->n_segs == 0) {
        *first = 0;
        *last = 0;
        return;
    }
    const struct raftio_log_seg *tail = &log->segs[log->n_segs - 1];
    *first = log->segs[0].first_index;
    *last = tail->first_index + tail->n_entries - 1;
    if (*last < *first) { /* only an empty segment */
        *first = 0;
        *last = 0;
    }
}

static int logOpenLast(struct raftio_log *log)
{
    if (log->fd >= 0 || log->n_segs == 0) {
        return 0;
    }
    return log->fs->open(log->fs, logLast(log)->name, 0, &log->fd);
}

static void logCloseFd(struct raftio_log *log)
{
    if (log->fd >= 0) {
        log->fs->close(log->fs, log->fd);
        log->fd = -1;
    }
}

/* Unlinks the last segment file and syncs the directory. */
static int logDeleteLast(struct raftio_log *log)
{
    logCloseFd(log);
    int rv = log->fs->unlink(log->fs, logLast(log)->name);
    if (rv == 0 || rv == ERR_NOTFOUND) {
        rv = log->fs->syncDir(log->fs);
    }
    if (rv == 0) {
        logPopSeg(log);
    }
    return rv;
}

/* ------------------------------------------------------------------ load */

/* The loader's state: the array's capacity and the bound of
 * raftio_log_options (keep_before, keep_bytes). */
struct load_ctx {
    size_t cap;
    uint64_t keep_before;
    uint64_t keep_bytes;
    uint64_t kept_bytes; /* payload of the held entries <= keep_before */
};

/* Drops the oldest held entries the last snapshot covers while they hold
 * more than keep_bytes, never the newest one. */
static void loadedTrim(struct raftio_loaded *l, struct load_ctx *ctx)
{
    size_t drop = 0;
    while (drop + 1 < l->n_entries && ctx->kept_bytes > ctx->keep_bytes &&
           l->first_index + drop <= ctx->keep_before) {
        ctx->kept_bytes -= l->entries[drop].len;
        if (l->entries[drop].data != NULL) {
            raftPayloadUnref(l->entries[drop].data);
        }
        drop++;
    }
    if (drop > 0) {
        memmove(l->entries, l->entries + drop,
                (l->n_entries - drop) * sizeof *l->entries);
        l->n_entries -= drop;
        l->first_index += drop;
        l->dropped += drop;
    }
}

static int loadedAdd(struct raftio_loaded *l, struct load_ctx *ctx,
                     const struct segment_record *r)
{
    if (l->n_entries == ctx->cap) {
        size_t new_cap = ctx->cap == 0 ? 64 : ctx->cap * 2;
        struct raft_entry *grown =
            libRealloc(l->entries, new_cap * sizeof *grown);
        if (grown == NULL) {
            return ERR_NOMEM;
        }
        l->entries = grown;
        ctx->cap = new_cap;
    }
    uint8_t *copy = NULL;
    if (r->len > 0) {
        copy = raftPayloadAlloc(r->len);
        if (copy == NULL) {
            return ERR_NOMEM;
        }
        memcpy(copy, r->data, r->len);
    }
    if (l->n_entries == 0) {
        l->first_index = r->index;
    }
    l->entries[l->n_entries++] = (struct raft_entry){
        .term = r->term, .type = r->type, .data = copy, .len = r->len};
    if (ctx->keep_before != 0 && r->index <= ctx->keep_before) {
        ctx->kept_bytes += r->len;
        loadedTrim(l, ctx);
    }
    return 0;
}

void raftioLoadedFree(struct raftio_loaded *loaded)
{
    for (size_t i = 0; i < loaded->n_entries; i++) {
        if (loaded->entries[i].data != NULL) {
            raftPayloadUnref(loaded->entries[i].data);
        }
    }
    libFree(loaded->entries);
    *loaded = (struct raftio_loaded){0};
}

/* A last segment whose header never became durable: drop it. */
static int logDropTornCreation(struct raftio_log *log, const char *name,
                               size_t size)
{
    logNote(log, RAFTIO_LOG_WARN,
            "log: removing %s: creation cut by a crash (%zu bytes)", name,
            size);
    int rv = log->fs->unlink(log->fs, name);
    return rv == 0 ? log->fs->syncDir(log->fs) : rv;
}

static int logCutTornTail(struct raftio_log *log, const char *name,
                          const struct segment_scan *scan, size_t size,
                          struct raftio_loaded *loaded)
{
    int fd;
    logNote(log, RAFTIO_LOG_WARN,
            "log: %s: dropping torn tail of %zu bytes at offset %" PRIu64
            " (unacknowledged write cut by a crash), %" PRIu64 " entries kept",
            name, size - (size_t)scan->valid_end, scan->valid_end,
            scan->n_records);
    int rv = log->fs->open(log->fs, name, 0, &fd);
    if (rv != 0) {
        return rv;
    }
    rv = log->fs->truncate(log->fs, fd, scan->valid_end);
    if (rv == 0) {
        rv = log->fs->sync(log->fs, fd);
    }
    log->fs->close(log->fs, fd);
    loaded->torn_bytes += size - scan->valid_end;
    return rv;
}

static int logCorrupt(struct raftio_log *log, const char *name,
                      const char *what, uint64_t offset)
{
    logNote(log, RAFTIO_LOG_ERROR,
            "log: %s: %s at offset %" PRIu64
            ": acknowledged data damaged, refusing to start (restore this "
            "node from a peer's snapshot)",
            name, what, offset);
    return ERR_LOG_CORRUPT;
}

/* Checks where a scanned segment sits in the run and how it ends. */
static int logCheckScan(struct raftio_log *log, const char *name,
                        uint64_t name_index, const struct segment_scan *scan,
                        bool is_last)
{
    if (scan->first_index != name_index) {
        return logCorrupt(log, name, "header index differs from name", 0);
    }
    if (log->n_segs > 0) {
        struct raftio_log_seg *prev = logLast(log);
        if (prev->first_index + prev->n_entries != scan->first_index) {
            return logCorrupt(log, name, "gap or overlap with previous", 0);
        }
    }
    if (scan->tail == SEGMENT_TAIL_CORRUPT ||
        (scan->tail == SEGMENT_TAIL_TORN && !is_last)) {
        return logCorrupt(log, name, "bad record", scan->bad_offset);
    }
    return 0;
}

static int logLoadRecords(const uint8_t *file, const struct segment_scan *scan,
                          struct raftio_loaded *loaded, struct load_ctx *ctx)
{
    struct segment_record r;
    for (uint64_t i = 0; i < scan->n_records; i++) {
        uint64_t off = scan->offsets[i];
        int rv = segmentDecodeRecord(file + off, scan->valid_end - off, &r);
        ASSERT(rv == 0);
        rv = loadedAdd(loaded, ctx, &r);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

static int logLoadSeg(struct raftio_log *log, const char *name,
                      uint64_t name_index, bool is_last,
                      struct raftio_loaded *loaded, struct load_ctx *ctx)
{
    uint8_t *file;
    size_t size;
    struct segment_scan scan;
    int rv =
        raftioFsReadAll(log->fs, name, LOG_SEGMENT_READ_LIMIT, &file, &size);
    if (rv != 0) {
        return rv;
    }
    rv = segmentScan(file, size, &scan);
    if (rv == ERR_AGAIN || rv == ERR_MALFORMED) {
        rv = is_last && size <= SEGMENT_HEADER_SIZE
                 ? logDropTornCreation(log, name, size)
                 : logCorrupt(log, name, "bad segment header", 0);
        goto out_free_file;
    }
    if (rv != 0) {
        goto out_free_file;
    }
    rv = logCheckScan(log, name, name_index, &scan, is_last);
    if (rv == 0 && scan.tail == SEGMENT_TAIL_TORN) {
        rv = logCutTornTail(log, name, &scan, size, loaded);
    }
    if (rv == 0) {
        rv = logLoadRecords(file, &scan, loaded, ctx);
    }
    if (rv == 0) {
        rv = logPushSeg(log, scan.first_index, scan.offsets, scan.n_records);
    }
    if (rv != 0) {
        segmentScanFree(&scan);
    }
out_free_file:
    libFree(file);
    return rv;
}

struct seg_file {
    uint64_t first_index;
    const char *name;
};

static int segFileCmp(const void *a, const void *b)
{
    uint64_t x = ((const struct seg_file *)a)->first_index;
    uint64_t y = ((const struct seg_file *)b)->first_index;
    return x < y ? -1 : x > y;
}

/* The segment files of the directory, sorted (names borrowed from list). */
static int logListSegs(char **names, size_t n, struct seg_file **out,
                       size_t *n_out)
{
    *out = libMalloc((n + 1) * sizeof **out);
    if (*out == NULL) {
        return ERR_NOMEM;
    }
    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t first;
        if (segParseName(names[i], &first) == 0) {
            (*out)[(*n_out)++] = (struct seg_file){first, names[i]};
        }
    }
    qsort(*out, *n_out, sizeof **out, segFileCmp);
    return 0;
}

static int logLoadAll(struct raftio_log *log, struct raftio_loaded *loaded,
                      const struct raftio_log_options *opts)
{
    char **names;
    size_t n_names, n_segs;
    struct load_ctx ctx = {0};
    if (opts != NULL) {
        ctx.keep_before = opts->keep_before;
        ctx.keep_bytes = opts->keep_bytes;
    }
    struct seg_file *segs;
    int rv = log->fs->list(log->fs, &names, &n_names);
    if (rv != 0) {
        return rv;
    }
    rv = logListSegs(names, n_names, &segs, &n_segs);
    for (size_t i = 0; rv == 0 && i < n_segs; i++) {
        rv = logLoadSeg(log, segs[i].name, segs[i].first_index, i + 1 == n_segs,
                        loaded, &ctx);
    }
    libFree(segs);
    raftioFsFreeList(names, n_names);
    return rv;
}

int raftioLogOpen(struct raftio_log *log, struct raftio_fs *fs,
                  const struct raftio_log_options *opts,
                  struct raftio_loaded *loaded)
{
    *log = (struct raftio_log){.fs = fs, .fd = -1};
    log->segment_max_bytes = opts != NULL && opts->segment_max_bytes > 0
                                 ? opts->segment_max_bytes
                                 : RAFTIO_SEGMENT_MAX_BYTES_DEFAULT;
    log->logger = opts != NULL ? opts->logger : NULL;
    log->logger_arg = opts != NULL ? opts->logger_arg : NULL;
    bufInit(&log->scratch);
    *loaded = (struct raftio_loaded){0};
    int rv = logLoadAll(log, loaded, opts);
    if (rv == 0) {
        rv = logOpenLast(log);
    }
    if (rv != 0) {
        raftioLoadedFree(loaded);
        raftioLogClose(log);
    }
    return rv;
}

void raftioLogClose(struct raftio_log *log)
{
    logCloseFd(log);
    while (log->n_segs > 0) {
        logPopSeg(log);
    }
    libFree(log->segs);
    log->segs = NULL;
    log->segs_cap = 0;
    bufFree(&log->scratch);
}

/* ---------------------------------------------------------------- append */

/* Creates the segment starting at first_index, header-first and durable. */
static int logCreateSeg(struct raftio_log *log, uint64_t first_index)
{
    char name[RAFTIO_FS_NAME_MAX];
    uint8_t header[SEGMENT_HEADER_SIZE];
    int fd;
    segName(name, first_index);
    segmentEncodeHeader(header, first_index);
    int rv =
        log->fs->open(log->fs, name, RAFTIO_FS_CREATE | RAFTIO_FS_TRUNC, &fd);
    if (rv != 0) {
        return rv;
    }
    rv = log->fs->pwrite(log->fs, fd, header, sizeof header, 0);
    if (rv == 0) {
        rv = log->fs->sync(log->fs, fd);
    }
    if (rv == 0) {
        rv = log->fs->syncDir(log->fs);
    }
    if (rv != 0) {
        goto err_after_open;
    }
    uint64_t *offsets = libMalloc(sizeof *offsets);
    rv = offsets == NULL ? ERR_NOMEM : 0;
    if (rv == 0) {
        offsets[0] = SEGMENT_HEADER_SIZE;
        rv = logPushSeg(log, first_index, offsets, 0);
    }
    if (rv != 0) {
        libFree(offsets);
        goto err_after_open;
    }
    logCloseFd(log);
    log->fd = fd;
    return 0;
err_after_open:
    log->fs->close(log->fs, fd);
    log->fs->unlink(log->fs, name); /* best effort: reload drops it */
    return rv;
}

/* Makes sure the last segment can take a group starting at first_index. */
static int logPrepareTail(struct raftio_log *log, uint64_t first_index)
{
    if (log->n_segs == 0) {
        return logCreateSeg(log, first_index);
    }
    struct raftio_log_seg *tail = logLast(log);
    if (log->n_segs == 1 && tail->n_entries == 0 &&
        tail->first_index != first_index) {
        int rv = logDeleteLast(log); /* an empty log restarting elsewhere */
        return rv != 0 ? rv : logCreateSeg(log, first_index);
    }
    PRE(first_index == tail->first_index + tail->n_entries);
    if (segEnd(tail) < log->segment_max_bytes || tail->n_entries == 0) {
        return logOpenLast(log);
    }
    int rv = raftioLogSync(log); /* only the last segment holds a group */
    return rv != 0 ? rv : logCreateSeg(log, first_index);
}

static int logEncode(struct raftio_log *log, uint64_t first_index,
                     uint64_t group_offset, const struct raft_entry *entries,
                     size_t n)
{
    bufReset(&log->scratch);
    for (size_t i = 0; i < n; i++) {
        uint8_t *out;
        uint64_t size = segmentRecordSize(entries[i].len);
        if (entries[i].len > SEGMENT_ENTRY_MAX_BYTES) {
            return ERR_TOOBIG;
        }
        int rv = bufAppendZeros(&log->scratch, (size_t)size, &out);
        if (rv != 0) {
            return rv;
        }
        segmentEncodeRecord(out, first_index + i, group_offset, &entries[i]);
    }
    return 0;
}

/* A failed write may have left part of the records behind: cut them off so
 * a retry cannot leave stale records past its own end. */
static int logUndoWrite(struct raftio_log *log, uint64_t end, int cause)
{
    if (log->fs->truncate(log->fs, log->fd, end) != 0) {
        log->failed = true;
        logNote(log, RAFTIO_LOG_ERROR, "log: cannot undo a failed write");
    }
    return cause;
}

int raftioLogAppend(struct raftio_log *log, uint64_t first_index,
                    const struct raft_entry *entries, size_t n)
{
    PRE(n > 0 && first_index >= 1);
    if (log->failed) {
        return ERR_LOG_FAILED;
    }
    int rv = logPrepareTail(log, first_index);
    if (rv != 0) {
        return rv;
    }
    struct raftio_log_seg *tail = logLast(log);
    uint64_t start = segEnd(tail);
    uint64_t group = log->group_offset != 0 ? log->group_offset : start;
    rv = segReserve(tail, n);
    if (rv == 0) {
        rv = logEncode(log, first_index, group, entries, n);
    }
    if (rv != 0) {
        return rv;
    }
    rv = log->fs->pwrite(log->fs, log->fd, log->scratch.data, log->scratch.len,
                         start);
    if (rv != 0) {
        return logUndoWrite(log, start, rv);
    }
    log->group_offset = group;
    for (size_t i = 0; i < n; i++) {
        uint64_t size = segmentRecordSize(entries[i].len);
        tail->offsets[tail->n_entries + 1] =
            tail->offsets[tail->n_entries] + size;
        tail->n_entries++;
    }
    POST(segEnd(tail) == start + log->scratch.len);
    return 0;
}

/* After a failed sync the state of the group on disk is unknown (and Linux
 * may have dropped the dirty pages): cut the file back to the last synced
 * byte and sync that, forgetting the group. */
static int logForgetGroup(struct raftio_log *log, int cause)
{
    struct raftio_log_seg *tail = logLast(log);
    while (tail->n_entries > 0 &&
           tail->offsets[tail->n_entries - 1] >= log->group_offset) {
        tail->n_entries--;
    }
    int rv = log->fs->truncate(log->fs, log->fd, segEnd(tail));
    if (rv == 0) {
        rv = log->fs->sync(log->fs, log->fd);
    }
    if (rv != 0) {
        log->failed = true;
        logNote(log, RAFTIO_LOG_ERROR, "log: cannot recover from failed sync");
    }
    log->group_offset = 0;
    return cause;
}

int raftioLogSync(struct raftio_log *log)
{
    if (log->failed) {
        return ERR_LOG_FAILED;
    }
    if (log->group_offset == 0) {
        return 0;
    }
    int rv = log->fs->sync(log->fs, log->fd);
    if (rv != 0) {
        return logForgetGroup(log, rv);
    }
    log->group_offset = 0;
    return 0;
}

/* ------------------------------------------------- truncate and compact */

static int logFail(struct raftio_log *log, int rv, const char *what)
{
    if (rv != 0) {
        log->failed = true;
        logNote(log, RAFTIO_LOG_ERROR, "log: %s failed: %s", what,
                errString(rv));
    }
    return rv;
}

int raftioLogTruncate(struct raftio_log *log, uint64_t index)
{
    PRE(index >= 1);
    int rv = raftioLogSync(log);
    if (rv != 0) {
        return rv;
    }
    while (rv == 0 && log->n_segs > 0 && logLast(log)->first_index >= index) {
        rv = logDeleteLast(log);
    }
    if (rv != 0 || log->n_segs == 0) {
        return logFail(log, rv, "truncate");
    }
    struct raftio_log_seg *tail = logLast(log);
    if (tail->first_index + tail->n_entries > index) {
        tail->n_entries = index - tail->first_index;
        rv = logOpenLast(log);
        if (rv == 0) {
            rv = log->fs->truncate(log->fs, log->fd, segEnd(tail));
        }
        if (rv == 0) {
            rv = log->fs->sync(log->fs, log->fd);
        }
    }
    return logFail(log, rv, "truncate");
}

int raftioLogReset(struct raftio_log *log)
{
    return raftioLogTruncate(log, 1);
}

int raftioLogCompact(struct raftio_log *log, uint64_t index)
{
    if (log->failed) {
        return ERR_LOG_FAILED;
    }
    int rv = 0;
    while (rv == 0 && log->n_segs > 1 &&
           log->segs[0].first_index + log->segs[0].n_entries - 1 <= index) {
        rv = log->fs->unlink(log->fs, log->segs[0].name);
        if (rv == 0 || rv == ERR_NOTFOUND) {
            rv = log->fs->syncDir(log->fs);
        }
        if (rv == 0) {
            libFree(log->segs[0].offsets);
            memmove(log->segs, log->segs + 1,
                    (log->n_segs - 1) * sizeof *log->segs);
            log->n_segs--;
        }
    }
    return logFail(log, rv, "compact");
}
