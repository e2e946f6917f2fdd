/*
 * Snapshot files: chunked writer (bounded memory, optional LZ4 block
 * compression per chunk), whole-file decoder, newest-snapshot loader, and
 * clean-up of older snapshots.
 */
#include "raftio/snapshot.h"

#include <inttypes.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/buf.h"
#include "lib/byte.h"
#include "lib/crc32c.h"
#include "lib/err.h"

#define snap_out raftio_snapshot_writer

static void snapName(char out[RAFTIO_FS_NAME_MAX], uint64_t index,
                     const char *suffix)
{
    snprintf(out, RAFTIO_FS_NAME_MAX, "snap-%020" PRIu64 "%s", index, suffix);
}

static void snapEncodeHeader(uint8_t *h, const struct snapshot_header *m,
                             uint64_t data_len, bool compress)
{
    memset(h, 0, SNAPSHOT_HEADER_SIZE);
    memcpy(h, SNAPSHOT_MAGIC, 8);
    bytePut32(h + 8, SNAPSHOT_VERSION);
    bytePut32(h + 12, compress ? SNAPSHOT_FLAG_LZ4 : 0);
    bytePut64(h + 16, m->index);
    bytePut64(h + 24, m->term);
    bytePut64(h + 32, m->conf_index);
    bytePut64(h + 40, data_len);
    bytePut32(h + 48, (uint32_t)m->conf_len);
    bytePut32(h + 52, SNAPSHOT_CHUNK_BYTES);
    bytePut32(h + 60, crc32c(0, h, 60));
}

static int snapWrite(struct snap_out *o, const void *p, size_t n)
{
    int rv = o->fs->pwrite(o->fs, o->fd, p, n, o->off);
    o->off += n;
    return rv;
}

/* Writes the raw bytes gathered so far as one chunk (raw_len 0 = end). */
static int snapFlushChunk(struct snap_out *o)
{
    uint8_t h[SNAPSHOT_CHUNK_HEADER_SIZE];
    const uint8_t *stored = o->raw;
    uint32_t stored_len = (uint32_t)o->raw_len;
    if (o->compress && o->raw_len > 0) {
        int c = LZ4_compress_default((const char *)o->raw, (char *)o->stored,
                                     (int)o->raw_len,
                                     LZ4_compressBound(SNAPSHOT_CHUNK_BYTES));
        ASSERT(c > 0);
        stored = o->stored;
        stored_len = (uint32_t)c;
    }
    o->data_crc = crc32c(o->data_crc, o->raw, o->raw_len);
    bytePut32(h, (uint32_t)o->raw_len);
    bytePut32(h + 4, stored_len);
    bytePut32(h + 8,
              o->raw_len > 0 ? crc32c(0, stored, stored_len) : o->data_crc);
    bytePut32(h + 12, crc32c(0, h, 12));
    uint8_t pad[8] = {0};
    int rv = snapWrite(o, h, sizeof h);
    if (rv == 0) {
        rv = snapWrite(o, stored, stored_len);
    }
    if (rv == 0) {
        rv = snapWrite(o, pad, bytePad8(stored_len) - stored_len);
    }
    o->raw_len = 0;
    return rv;
}

/* Appends bytes of the state machine, flushing whole chunks. */
static int snapAppend(struct snap_out *o, const uint8_t *p, size_t left)
{
    while (left > 0) {
        size_t take = SNAPSHOT_CHUNK_BYTES - o->raw_len;
        take = take < left ? take : left;
        memcpy(o->raw + o->raw_len, p, take);
        o->raw_len += take;
        o->written += take;
        p += take;
        left -= take;
        if (o->raw_len == SNAPSHOT_CHUNK_BYTES) {
            int rv = snapFlushChunk(o);
            if (rv != 0) {
                return rv;
            }
        }
    }
    return 0;
}

static int snapWriteHead(struct snap_out *o, const struct snapshot_header *meta,
                         uint64_t data_len)
{
    uint8_t h[SNAPSHOT_HEADER_SIZE];
    uint8_t tail[16] = {0};
    snapEncodeHeader(h, meta, data_len, o->compress);
    int rv = snapWrite(o, h, sizeof h);
    if (rv == 0 && meta->conf_len > 0) {
        rv = snapWrite(o, meta->conf, meta->conf_len);
    }
    size_t pad = bytePad8(meta->conf_len) - meta->conf_len;
    bytePut32(tail + pad, crc32c(0, meta->conf, meta->conf_len));
    return rv != 0 ? rv : snapWrite(o, tail, pad + 8);
}

static int snapOutInit(struct snap_out *o, struct raftio_fs *fs, bool compress)
{
    *o = (struct snap_out){.fs = fs, .fd = -1, .compress = compress};
    o->raw = libMalloc(SNAPSHOT_CHUNK_BYTES);
    o->stored = compress
                    ? libMalloc((size_t)LZ4_compressBound(SNAPSHOT_CHUNK_BYTES))
                    : NULL;
    if (o->raw == NULL || (compress && o->stored == NULL)) {
        libFree(o->raw);
        libFree(o->stored);
        return ERR_NOMEM;
    }
    return 0;
}

static void snapOutFree(struct snap_out *o)
{
    libFree(o->raw);
    libFree(o->stored);
}

/* After publishing the snapshot at `index`: deletes every snapshot older
 * than the two newest on disk NOW, but `index` and `keep`. Best effort. The
 * two newest come from this very listing, never from one taken before the
 * rename: the snapshot worker (own snapshots) and the raftio writer
 * (received ones) publish concurrently, and a listing taken earlier missed
 * a snapshot the other published meanwhile, which was then deleted (a
 * received snapshot gone before its install: "not found"). One published
 * after this listing is not in it, so it is never deleted. */
static void snapCleanup(struct raftio_fs *fs, uint64_t index, uint64_t keep)
{
    char **names;
    size_t n;
    uint64_t newest = 0, previous = 0;
    if (fs->list(fs, &names, &n) != 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t at;
        char tail[2];
        if (sscanf(names[i], "snap-%20" SCNu64 "%1s", &at, tail) != 1) {
            continue;
        }
        if (at > newest) {
            previous = newest;
            newest = at;
        } else if (at > previous && at != newest) {
            previous = at;
        }
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t at;
        char tail[2];
        if (sscanf(names[i], "snap-%20" SCNu64 "%1s", &at, tail) == 1 &&
            at != index && at != newest && at != previous && at != keep) {
            fs->unlink(fs, names[i]);
        }
    }
    raftioFsFreeList(names, n);
    fs->syncDir(fs);
}

static int snapNewestIndex(struct raftio_fs *fs, uint64_t *newest,
                           uint64_t *previous);

unsigned raftioSnapshotRemoveTemps(struct raftio_fs *fs, uint64_t below)
{
    char **names;
    size_t n;
    unsigned removed = 0;
    if (fs->list(fs, &names, &n) != 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t index;
        char tail[8];
        if (sscanf(names[i], "snap-%20" SCNu64 "%7s", &index, tail) == 2 &&
            strcmp(tail, ".tmp") == 0 && index < below &&
            fs->unlink(fs, names[i]) == 0) {
            removed++;
        }
    }
    raftioFsFreeList(names, n);
    if (removed > 0) {
        fs->syncDir(fs);
    }
    return removed;
}

int raftioSnapshotWriterOpen(struct raftio_snapshot_writer *w,
                             struct raftio_fs *fs,
                             const struct raft_snapshot_meta *meta,
                             uint64_t data_len, bool compress)
{
    PRE(data_len <= SNAPSHOT_DATA_MAX);
    char tmp[RAFTIO_FS_NAME_MAX];
    size_t conf_len = raftConfEncodedSize(&meta->conf);
    uint8_t *conf = libMalloc(conf_len);
    int rv = conf != NULL ? snapOutInit(w, fs, compress) : ERR_NOMEM;
    if (rv != 0) {
        libFree(conf);
        return rv;
    }
    raftConfEncodeTo(&meta->conf, conf);
    struct snapshot_header h = {meta->index, meta->term, meta->conf_index, conf,
                                conf_len};
    PRE(h.conf_len <= SNAPSHOT_CONF_MAX);
    w->index = meta->index;
    w->data_len = data_len;
    snapName(tmp, meta->index, ".tmp");
    rv = fs->open(fs, tmp, RAFTIO_FS_CREATE | RAFTIO_FS_TRUNC, &w->fd);
    if (rv == 0) {
        rv = snapWriteHead(w, &h, data_len);
        if (rv != 0) {
            fs->close(fs, w->fd);
            fs->unlink(fs, tmp);
        }
    }
    libFree(conf);
    if (rv != 0) {
        snapOutFree(w);
    }
    return rv;
}

int raftioSnapshotWriterAppend(struct raftio_snapshot_writer *w,
                               const void *data, size_t len)
{
    if (w->written + len > w->data_len) {
        return ERR_INVALID;
    }
    return snapAppend(w, data, len);
}

/* Flushes, syncs and renames the file into place. */
static int snapWriterCommit(struct raftio_snapshot_writer *w, const char *tmp,
                            const char *name)
{
    struct raftio_fs *fs = w->fs;
    int rv = w->written == w->data_len ? 0 : ERR_INVALID;
    if (rv == 0 && w->raw_len > 0) {
        rv = snapFlushChunk(w);
    }
    if (rv == 0) {
        rv = snapFlushChunk(w); /* the end chunk */
    }
    if (rv == 0) {
        rv = fs->sync(fs, w->fd);
    }
    fs->close(fs, w->fd);
    if (rv == 0) {
        rv = fs->rename(fs, tmp, name);
    }
    if (rv == 0) {
        rv = fs->syncDir(fs);
    }
    return rv;
}

int raftioSnapshotWriterClose(struct raftio_snapshot_writer *w, bool commit)
{
    char tmp[RAFTIO_FS_NAME_MAX], name[RAFTIO_FS_NAME_MAX];
    struct raftio_fs *fs = w->fs;
    int rv = ERR_CANCELED;
    snapName(tmp, w->index, ".tmp");
    snapName(name, w->index, "");
    if (commit) {
        rv = snapWriterCommit(w, tmp, name);
    } else {
        fs->close(fs, w->fd);
    }
    if (rv != 0) {
        fs->unlink(fs, tmp);
    } else {
        snapCleanup(fs, w->index, w->keep_index);
    }
    snapOutFree(w);
    return commit ? rv : 0;
}

/* ---------------------------------------------------------------- decode */

struct snap_in {
    const uint8_t *p;
    size_t n;
    size_t off;
};

static const uint8_t *snapTake(struct snap_in *in, uint64_t n)
{
    if (n > in->n - in->off) {
        return NULL;
    }
    const uint8_t *p = in->p + in->off;
    in->off += (size_t)n;
    return p;
}

static int snapDecodeHeader(struct snap_in *in, struct snapshot_header *m,
                            uint32_t *flags, uint64_t *data_len)
{
    const uint8_t *h = snapTake(in, SNAPSHOT_HEADER_SIZE);
    if (h == NULL || memcmp(h, SNAPSHOT_MAGIC, 8) != 0 ||
        byteGet32(h + 60) != crc32c(0, h, 60)) {
        return ERR_SNAPSHOT_CORRUPT;
    }
    if (byteGet32(h + 8) != SNAPSHOT_VERSION) {
        return ERR_DISK_VERSION;
    }
    *flags = byteGet32(h + 12);
    m->index = byteGet64(h + 16);
    m->term = byteGet64(h + 24);
    m->conf_index = byteGet64(h + 32);
    *data_len = byteGet64(h + 40);
    m->conf_len = byteGet32(h + 48);
    if ((*flags & ~SNAPSHOT_FLAG_LZ4) != 0 || m->conf_len > SNAPSHOT_CONF_MAX ||
        *data_len > SNAPSHOT_DATA_MAX ||
        byteGet32(h + 52) != SNAPSHOT_CHUNK_BYTES) {
        return ERR_SNAPSHOT_CORRUPT;
    }
    return 0;
}

static bool snapAllZero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

static int snapDecodeConf(struct snap_in *in, struct snapshot_header *m,
                          uint8_t **conf)
{
    const uint8_t *c = snapTake(in, m->conf_len);
    const uint8_t *pad = snapTake(in, bytePad8(m->conf_len) - m->conf_len);
    const uint8_t *t = snapTake(in, 8);
    if (c == NULL || pad == NULL || t == NULL ||
        byteGet32(t) != crc32c(0, c, m->conf_len) || byteGet32(t + 4) != 0 ||
        !snapAllZero(pad, bytePad8(m->conf_len) - m->conf_len)) {
        return ERR_SNAPSHOT_CORRUPT;
    }
    *conf = libMalloc(m->conf_len);
    if (*conf == NULL) {
        return ERR_NOMEM;
    }
    memcpy(*conf, c, m->conf_len);
    m->conf = *conf;
    return 0;
}

/* Appends one chunk's raw bytes to `out`; *end set at the end chunk. */
static int snapDecodeChunk(struct snap_in *in, bool lz4, struct buf *out,
                           uint32_t *data_crc, bool *end)
{
    const uint8_t *h = snapTake(in, SNAPSHOT_CHUNK_HEADER_SIZE);
    if (h == NULL || byteGet32(h + 12) != crc32c(0, h, 12)) {
        return ERR_SNAPSHOT_CORRUPT;
    }
    uint32_t raw_len = byteGet32(h), stored_len = byteGet32(h + 4);
    if (raw_len == 0) {
        *end = true;
        return stored_len == 0 && byteGet32(h + 8) == *data_crc
                   ? 0
                   : ERR_SNAPSHOT_CORRUPT;
    }
    const uint8_t *s = snapTake(in, bytePad8(stored_len));
    if (s == NULL || raw_len > SNAPSHOT_CHUNK_BYTES ||
        !snapAllZero(s + stored_len, bytePad8(stored_len) - stored_len) ||
        (!lz4 && stored_len != raw_len) ||
        byteGet32(h + 8) != crc32c(0, s, stored_len)) {
        return ERR_SNAPSHOT_CORRUPT;
    }
    uint8_t *dst;
    int rv = bufAppendZeros(out, raw_len, &dst);
    if (rv != 0) {
        return rv == ERR_TOOBIG ? ERR_SNAPSHOT_CORRUPT : rv;
    }
    if (!lz4) {
        memcpy(dst, s, raw_len);
    } else if (LZ4_decompress_safe((const char *)s, (char *)dst,
                                   (int)stored_len,
                                   (int)raw_len) != (int)raw_len) {
        return ERR_SNAPSHOT_CORRUPT;
    }
    *data_crc = crc32c(*data_crc, dst, raw_len);
    return 0;
}

static int snapDecodeData(struct snap_in *in, bool lz4, uint64_t data_len,
                          uint8_t **data, size_t *len)
{
    struct buf out;
    uint32_t data_crc = 0;
    bool end = false;
    int rv = 0;
    bufInit(&out);
    out.limit = data_len > 0 ? (size_t)data_len : 1;
    while (rv == 0 && !end) {
        rv = snapDecodeChunk(in, lz4, &out, &data_crc, &end);
    }
    if (rv == 0 && (out.len != data_len || in->off != in->n)) {
        rv = ERR_SNAPSHOT_CORRUPT;
    }
    if (rv != 0) {
        bufFree(&out);
        return rv;
    }
    *data = bufDetach(&out, len);
    if (*data == NULL) {
        *data = libMalloc(0);
        *len = 0;
    }
    return *data == NULL ? ERR_NOMEM : 0;
}

int snapshotDecode(const uint8_t *file, size_t n, struct snapshot_header *meta,
                   uint8_t **conf, uint8_t **data, size_t *len)
{
    struct snap_in in = {file, n, 0};
    uint32_t flags;
    uint64_t data_len;
    int rv = snapDecodeHeader(&in, meta, &flags, &data_len);
    if (rv == 0) {
        rv = snapDecodeConf(&in, meta, conf);
    }
    if (rv != 0) {
        return rv;
    }
    rv = snapDecodeData(&in, flags & SNAPSHOT_FLAG_LZ4, data_len, data, len);
    if (rv != 0) {
        libFree(*conf);
    }
    return rv;
}

/* ------------------------------------------------------------------ load */

static int snapNewestIndex(struct raftio_fs *fs, uint64_t *newest,
                           uint64_t *previous)
{
    char **names;
    size_t n;
    int rv = fs->list(fs, &names, &n);
    if (rv != 0) {
        return rv;
    }
    *newest = 0;
    *previous = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t index;
        char tail[2];
        if (sscanf(names[i], "snap-%20" SCNu64 "%1s", &index, tail) != 1 ||
            strlen(names[i]) != 25) {
            continue;
        }
        if (index > *newest) {
            *previous = *newest;
            *newest = index;
        } else if (index > *previous) {
            *previous = index;
        }
    }
    raftioFsFreeList(names, n);
    return *newest > 0 ? 0 : ERR_NOTFOUND;
}

int raftioSnapshotNewest(struct raftio_fs *fs, uint64_t *index)
{
    uint64_t previous;
    return snapNewestIndex(fs, index, &previous);
}

/* Reads and decodes snapshot file `name`, expecting `index`. */
static int snapLoadFile(struct raftio_fs *fs, const char *name, uint64_t index,
                        struct snapshot_header *h, uint8_t **conf,
                        uint8_t **data, size_t *len)
{
    uint8_t *file;
    size_t size;
    int rv = raftioFsReadAll(fs, name, (size_t)SNAPSHOT_DATA_MAX, &file, &size);
    if (rv != 0) {
        return rv == ERR_TOOBIG ? ERR_SNAPSHOT_CORRUPT : rv;
    }
    rv = snapshotDecode(file, size, h, conf, data, len);
    if (rv == 0 && h->index != index) {
        libFree(*conf);
        libFree(*data);
        rv = ERR_SNAPSHOT_CORRUPT;
    }
    libFree(file);
    return rv;
}

int raftioSnapshotLoad(struct raftio_fs *fs, struct raft_snapshot_meta *meta,
                       uint8_t **data, size_t *len)
{
    uint64_t newest;
    int rv = raftioSnapshotNewest(fs, &newest);
    if (rv != 0) {
        return rv;
    }
    return raftioSnapshotLoadAt(fs, newest, meta, data, len);
}

int raftioSnapshotLoadAt(struct raftio_fs *fs, uint64_t index,
                         struct raft_snapshot_meta *meta, uint8_t **data,
                         size_t *len)
{
    char name[RAFTIO_FS_NAME_MAX];
    struct snapshot_header h;
    uint8_t *conf;
    snapName(name, index, "");
    int rv = snapLoadFile(fs, name, index, &h, &conf, data, len);
    if (rv != 0) {
        return rv;
    }
    rv = raftConfDecode(h.conf, h.conf_len, &meta->conf);
    libFree(conf);
    if (rv != 0) {
        libFree(*data);
        return ERR_SNAPSHOT_CORRUPT;
    }
    meta->index = h.index;
    meta->term = h.term;
    meta->conf_index = h.conf_index;
    return 0;
}

int raftioSnapshotWrite(struct raftio_fs *fs,
                        const struct raft_snapshot_meta *meta,
                        const struct raftio_snapshot_buf *bufs, size_t n_bufs,
                        bool compress)
{
    struct raftio_snapshot_writer w;
    uint64_t data_len = 0;
    for (size_t i = 0; i < n_bufs; i++) {
        data_len += bufs[i].len;
    }
    int rv = raftioSnapshotWriterOpen(&w, fs, meta, data_len, compress);
    if (rv != 0) {
        return rv;
    }
    for (size_t i = 0; rv == 0 && i < n_bufs; i++) {
        rv = raftioSnapshotWriterAppend(&w, bufs[i].base, bufs[i].len);
    }
    if (rv != 0) {
        raftioSnapshotWriterClose(&w, false);
        return rv;
    }
    return raftioSnapshotWriterClose(&w, true);
}

int raftioSnapshotReadChunk(struct raftio_fs *fs, uint64_t index,
                            uint64_t offset, uint8_t *buf, size_t len,
                            size_t *got, bool *last)
{
    char name[RAFTIO_FS_NAME_MAX];
    uint64_t size;
    int fd;
    snapName(name, index, "");
    int rv = fs->open(fs, name, 0, &fd);
    if (rv != 0) {
        return rv;
    }
    rv = fs->pread(fs, fd, buf, len, offset, got);
    if (rv == 0) {
        rv = fs->size(fs, fd, &size);
    }
    fs->close(fs, fd);
    *last = rv == 0 && offset + *got >= size;
    return rv;
}

/* Verifies the complete received file, then publishes it (*published:
 * it has its final name, whatever the outcome). */
static int snapFinishReceived(struct raftio_fs *fs, int fd, uint64_t index,
                              bool *published)
{
    char tmp[RAFTIO_FS_NAME_MAX], name[RAFTIO_FS_NAME_MAX];
    struct snapshot_header h;
    uint8_t *conf, *data;
    size_t len;
    snapName(tmp, index, ".tmp");
    snapName(name, index, "");
    int rv = fs->sync(fs, fd);
    if (rv != 0) {
        return rv;
    }
    rv = snapLoadFile(fs, tmp, index, &h, &conf, &data, &len);
    if (rv != 0) {
        fs->unlink(fs, tmp);
        return rv;
    }
    libFree(conf);
    libFree(data);
    rv = fs->rename(fs, tmp, name);
    if (rv == 0) {
        *published = true;
        rv = fs->syncDir(fs);
    }
    if (rv == 0) {
        snapCleanup(fs, index, 0);
    }
    return rv;
}

int raftioSnapshotWriteChunk(struct raftio_fs *fs,
                             const struct raft_snapshot_write *chunk)
{
    char tmp[RAFTIO_FS_NAME_MAX];
    uint64_t size = 0;
    bool published = false;
    int fd;
    snapName(tmp, chunk->index, ".tmp");
    if (chunk->offset == 0) {
        (void)raftioSnapshotRemoveTemps(fs, chunk->index); /* superseded */
    }
    int flags = chunk->offset == 0 ? RAFTIO_FS_CREATE | RAFTIO_FS_TRUNC : 0;
    int rv = fs->open(fs, tmp, flags, &fd);
    if (rv != 0) {
        return rv == ERR_NOTFOUND ? ERR_INVALID : rv;
    }
    rv = fs->size(fs, fd, &size);
    if (rv == 0 && size != chunk->offset) {
        rv = ERR_INVALID;
    }
    if (rv == 0 && chunk->len > 0) {
        rv = fs->pwrite(fs, fd, chunk->data, chunk->len, chunk->offset);
    }
    if (rv == 0 && chunk->last) {
        rv = snapFinishReceived(fs, fd, chunk->index, &published);
    }
    if (rv == ERR_NOSPACE && !published) {
        /* Undo the part written, so that the chunk can come again. */
        int undo = fs->truncate(fs, fd, chunk->offset);
        rv = undo == 0 ? rv : undo;
    }
    fs->close(fs, fd);
    if (rv != 0 && rv != ERR_NOSPACE && rv != ERR_INVALID && !published) {
        fs->unlink(fs, tmp); /* the install starts again from offset 0 */
    }
    return rv;
}
