/*
 * Snapshots of the state machine: the encoding of every database (main
 * file and committed WAL) at a log index, streamed from a frozen VFS
 * snapshot, and its decoding for restore (docs/replication.md, §snapshot).
 *
 * Taking a snapshot is the VFS's short pause; writing it out reads
 * refcounted immutable pages without any lock, from any thread. Decoding
 * is bounded and validates every length against the input; the images it
 * returns borrow from the input buffer.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "repl/repl.h"

#define REPL_SNAPSHOT_MAGIC "DQREPLSN"
#define REPL_SNAPSHOT_VERSION 1
#define REPL_SNAPSHOT_HDR 24
#define REPL_MAX_NAME_PADDED ((VFS_MAX_NAME + 7) / 8 * 8)

int replSnapshotTake(struct repl *r, struct repl_snapshot *out)
{
    PRE(r != NULL && out != NULL);
    out->index = r->applied_index;
    return vfsSnapshotAcquire(r->vfs, NULL, &out->vfs);
}

void replSnapshotRelease(struct repl_snapshot *s)
{
    vfsSnapshotRelease(s->vfs);
    s->vfs = NULL;
}

static uint64_t replDbHeaderSize(const struct vfs_snapshot_db *d)
{
    return 8 + bytePad8(strlen(d->name)) + 16;
}

uint64_t replSnapshotSize(const struct repl_snapshot *s)
{
    uint64_t n = REPL_SNAPSHOT_HDR;
    for (uint32_t i = 0; i < s->vfs->n_dbs; i++) {
        const struct vfs_snapshot_db *d = &s->vfs->dbs[i];
        n += replDbHeaderSize(d) + bytePad8(vfsSnapshotMainSize(d)) +
             bytePad8(vfsSnapshotWalSize(d));
    }
    return n;
}

static int replWriteDbHeader(const struct vfs_snapshot_db *d,
                             repl_write_fn write, void *arg)
{
    uint8_t hdr[8 + REPL_MAX_NAME_PADDED + 16];
    size_t name_len = strlen(d->name);
    size_t off = 8 + (size_t)bytePad8(name_len);
    memset(hdr, 0, sizeof hdr);
    bytePut32(hdr, (uint32_t)name_len);
    memcpy(hdr + 8, d->name, name_len);
    bytePut64(hdr + off, vfsSnapshotMainSize(d));
    bytePut64(hdr + off + 8, vfsSnapshotWalSize(d));
    return write(arg, hdr, off + 16);
}

/* Each page's reference is dropped once written: a page that writers
 * changed meanwhile is freed as soon as it is out, which bounds the extra
 * memory to the pages changed ahead of the stream. */
static int replWriteDb(struct vfs_snapshot_db *d, repl_write_fn write,
                       void *arg)
{
    int rv = replWriteDbHeader(d, write, arg);
    for (uint32_t i = 0; rv == 0 && i < d->n_pages; i++) {
        PRE(d->pages[i] != NULL); /* written once only */
        rv = write(arg, d->pages[i]->data, d->page_size);
        vfsPageUnref(d->pages[i]);
        d->pages[i] = NULL;
    }
    if (rv == 0 && d->n_frames > 0) {
        rv = write(arg, d->wal_hdr, VFS_WAL_HDR_SIZE);
    }
    for (uint32_t i = 0; rv == 0 && i < d->n_frames; i++) {
        PRE(d->frames[i] != NULL);
        rv = write(arg, d->frames[i]->data,
                   VFS_FRAME_HDR_SIZE + d->wal_page_size);
        vfsPageUnref(d->frames[i]);
        d->frames[i] = NULL;
    }
    return rv; /* main and WAL sizes are multiples of 8: no padding */
}

int replSnapshotWrite(struct repl_snapshot *s, repl_write_fn write, void *arg)
{
    PRE(s != NULL && s->vfs != NULL && write != NULL);
    uint8_t hdr[REPL_SNAPSHOT_HDR];
    memcpy(hdr, REPL_SNAPSHOT_MAGIC, 8);
    bytePut32(hdr + 8, REPL_SNAPSHOT_VERSION);
    bytePut32(hdr + 12, s->vfs->n_dbs);
    bytePut64(hdr + 16, s->index);
    int rv = write(arg, hdr, sizeof hdr);
    for (uint32_t i = 0; rv == 0 && i < s->vfs->n_dbs; i++) {
        rv = replWriteDb(&s->vfs->dbs[i], write, arg);
    }
    return rv;
}

static int replAppendChunk(void *arg, const void *data, size_t len)
{
    return bufAppend(arg, data, len);
}

int replSnapshotEncode(struct repl_snapshot *s, struct buf *out)
{
    int rv = bufReserve(out, (size_t)replSnapshotSize(s));
    return rv == 0 ? replSnapshotWrite(s, replAppendChunk, out) : rv;
}

/* ------------------------------------------------------------ decoding */

static const uint8_t *replSnapTake(const uint8_t *data, size_t len, size_t *off,
                                   uint64_t n)
{
    if (n > len - *off) {
        return NULL;
    }
    const uint8_t *p = data + *off;
    *off += (size_t)n;
    return p;
}

/* One database entry: its name is copied NUL-terminated into `name`. */
static int replDecodeDb(const uint8_t *data, size_t len, size_t *off,
                        struct vfs_image *im, char *name)
{
    const uint8_t *p = replSnapTake(data, len, off, 8);
    if (p == NULL || byteGet32(p + 4) != 0) {
        return ERR_MALFORMED;
    }
    uint32_t name_len = byteGet32(p);
    if (name_len == 0 || name_len > VFS_MAX_NAME) {
        return ERR_MALFORMED;
    }
    p = replSnapTake(data, len, off, bytePad8(name_len));
    if (p == NULL || memchr(p, 0, name_len) != NULL) {
        return ERR_MALFORMED;
    }
    memcpy(name, p, name_len);
    name[name_len] = '\0';
    im->name = name;
    p = replSnapTake(data, len, off, 16);
    if (p == NULL) {
        return ERR_MALFORMED;
    }
    im->main_len = byteGet64(p);
    im->wal_len = byteGet64(p + 8);
    if (im->main_len % 8 != 0 || im->wal_len % 8 != 0) {
        return ERR_MALFORMED;
    }
    im->main = replSnapTake(data, len, off, im->main_len);
    im->wal = replSnapTake(data, len, off, im->wal_len);
    return im->main == NULL || im->wal == NULL ? ERR_MALFORMED : 0;
}

static int replDecodeHeaderSnap(const uint8_t *data, size_t len,
                                struct repl_snapshot_view *out)
{
    if (len < REPL_SNAPSHOT_HDR || memcmp(data, REPL_SNAPSHOT_MAGIC, 8) != 0) {
        return ERR_MALFORMED;
    }
    if (byteGet32(data + 8) != REPL_SNAPSHOT_VERSION) {
        return ERR_UNSUPPORTED;
    }
    out->n_dbs = byteGet32(data + 12);
    out->index = byteGet64(data + 16);
    /* every entry takes at least 32 bytes: bounds the allocation */
    if (out->n_dbs > REPL_SNAPSHOT_MAX_DBS ||
        out->n_dbs > (len - REPL_SNAPSHOT_HDR) / 32) {
        return ERR_MALFORMED;
    }
    return 0;
}

int replSnapshotDecode(const uint8_t *data, size_t len,
                       struct repl_snapshot_view *out)
{
    PRE(data != NULL || len == 0);
    memset(out, 0, sizeof *out);
    int rv = replDecodeHeaderSnap(data, len, out);
    if (rv != 0) {
        return rv;
    }
    size_t per_db = sizeof *out->dbs + VFS_MAX_NAME + 1;
    out->dbs = libMalloc(per_db * (out->n_dbs == 0 ? 1 : out->n_dbs));
    if (out->dbs == NULL) {
        return ERR_NOMEM;
    }
    char *names = (char *)(out->dbs + out->n_dbs);
    size_t off = REPL_SNAPSHOT_HDR;
    for (uint32_t i = 0; rv == 0 && i < out->n_dbs; i++) {
        rv = replDecodeDb(data, len, &off, &out->dbs[i],
                          names + (size_t)i * (VFS_MAX_NAME + 1));
    }
    if (rv == 0 && off != len) {
        rv = ERR_MALFORMED;
    }
    if (rv != 0) {
        replSnapshotViewFree(out);
    }
    return rv;
}

void replSnapshotViewFree(struct repl_snapshot_view *v)
{
    libFree(v->dbs);
    memset(v, 0, sizeof *v);
}

int replSnapshotRestore(struct repl *r, const uint8_t *data, size_t len)
{
    struct repl_snapshot_view view;
    int rv = replSnapshotDecode(data, len, &view);
    if (rv != 0) {
        return rv;
    }
    rv = vfsRestore(r->vfs, view.dbs, view.n_dbs, true);
    if (rv == 0) {
        r->applied_index = view.index;
    }
    replSnapshotViewFree(&view);
    return rv;
}
