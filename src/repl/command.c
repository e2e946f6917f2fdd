/*
 * The raft command codec (see command.h and docs/replication.md).
 */
#include "repl/command.h"

#include <string.h>

#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"

/* ------------------------------------------------------------ encoding */

static int replPad8(struct buf *out)
{
    uint8_t *zeros;
    size_t pad = (size_t)(bytePad8(out->len) - out->len);
    return pad == 0 ? 0 : bufAppendZeros(out, pad, &zeros);
}

static int replEncodeHeader(struct buf *out, uint8_t type, const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > REPL_MAX_NAME) {
        return ERR_INVALID;
    }
    uint8_t hdr[8] = {REPL_COMMAND_VERSION, type, 0, 0};
    bytePut32(hdr + 4, (uint32_t)len);
    int rv = bufAppend(out, hdr, sizeof hdr);
    if (rv == 0) {
        rv = bufAppend(out, name, len);
    }
    return rv == 0 ? replPad8(out) : rv;
}

int replEncodeOpen(struct buf *out, const char *name, uint32_t page_size)
{
    if (!vfsPageSizeValid(page_size)) {
        return ERR_INVALID;
    }
    int rv = replEncodeHeader(out, REPL_OPEN, name);
    if (rv == 0) {
        rv = bufAppend32(out, page_size);
    }
    return rv == 0 ? bufAppend32(out, 0) : rv;
}

static int replEncodeFramesHead(struct buf *out, const struct vfs_txn *txn)
{
    int rv = bufAppend32(out, txn->page_size);
    if (rv == 0) {
        rv = bufAppend32(out, txn->n_frames);
    }
    if (rv == 0) {
        rv = bufAppend32(out, txn->db_size);
    }
    return rv == 0 ? bufAppend32(out, REPL_FLAG_COMMIT) : rv;
}

uint64_t replFramesSize(const char *name, const struct vfs_txn *txn)
{
    uint64_t n = txn->n_frames;
    return 8 + bytePad8(strlen(name)) + 16 + bytePad8(4 * n) +
           n * txn->page_size;
}

int replEncodeFrames(struct buf *out, const char *name,
                     const struct vfs_txn *txn)
{
    if (txn->n_frames == 0 || txn->n_frames > REPL_MAX_FRAMES ||
        !vfsPageSizeValid(txn->page_size) || txn->db_size == 0) {
        return txn->n_frames > REPL_MAX_FRAMES ? ERR_TOOBIG : ERR_INVALID;
    }
    uint64_t size = replFramesSize(name, txn);
    if (size > REPL_MAX_TXN_BYTES) {
        return ERR_TOOBIG; /* before the buffer grows to its size */
    }
    size_t start = out->len;
    int rv = bufReserve(out, (size_t)size + 24); /* + padding of `start` */
    if (rv == 0) {
        rv = replEncodeHeader(out, REPL_FRAMES, name);
    }
    if (rv == 0) {
        rv = replEncodeFramesHead(out, txn);
    }
    for (uint32_t i = 0; rv == 0 && i < txn->n_frames; i++) {
        rv = bufAppend32(out, txn->page_numbers[i]);
    }
    if (rv == 0) {
        rv = replPad8(out);
    }
    for (uint32_t i = 0; rv == 0 && i < txn->n_frames; i++) {
        rv = bufAppend(out, txn->pages[i], txn->page_size);
    }
    if (rv != 0) {
        out->len = start;
    }
    POST(rv != 0 || start % 8 != 0 || out->len - start == size);
    return rv;
}

int replEncodeUndo(struct buf *out, const char *name)
{
    return replEncodeHeader(out, REPL_UNDO, name);
}

int replEncodeCheckpoint(struct buf *out, const char *name)
{
    return replEncodeHeader(out, REPL_CHECKPOINT, name);
}

/* The bounds of a LOAD part, shared by the encoder and the decoder. */
static bool replLoadValid(const char *name, const struct repl_load_part *p)
{
    uint32_t ps = p->page_size;
    uint32_t known = REPL_LOAD_LAST | REPL_LOAD_FORCE | REPL_LOAD_ABORT;
    if (strlen(name) > REPL_LOAD_MAX_NAME || !vfsPageSizeValid(ps) ||
        (p->flags & ~known) != 0 || p->len > REPL_LOAD_PART_MAX ||
        p->total == 0 || p->total % ps != 0 ||
        p->total / ps > VFS_STAGE_MAX_PAGES || p->offset % ps != 0 ||
        p->len % ps != 0 || p->offset > p->total ||
        p->len > p->total - p->offset) {
        return false;
    }
    if ((p->flags & REPL_LOAD_ABORT) != 0) {
        return p->flags == REPL_LOAD_ABORT && p->len == 0;
    }
    bool last = (p->flags & REPL_LOAD_LAST) != 0;
    if ((p->flags & REPL_LOAD_FORCE) != 0 && !last) {
        return false;
    }
    /* Only the last part may be empty; it ends exactly at the total. */
    return last ? p->offset + p->len == p->total : p->len > 0;
}

int replEncodeLoad(struct buf *out, const char *name,
                   const struct repl_load_part *part)
{
    if (!replLoadValid(name, part) || out->len % 8 != 0) {
        return ERR_INVALID;
    }
    size_t start = out->len;
    int rv = replEncodeHeader(out, REPL_LOAD, name);
    if (rv == 0) {
        rv = bufAppend64(out, part->id);
    }
    if (rv == 0) {
        rv = bufAppend64(out, part->total);
    }
    if (rv == 0) {
        rv = bufAppend64(out, part->offset);
    }
    if (rv == 0) {
        rv = bufAppend32(out, part->page_size);
    }
    if (rv == 0) {
        rv = bufAppend32(out, part->flags);
    }
    if (rv == 0) {
        rv = bufAppend32(out, part->len);
    }
    if (rv == 0) {
        rv = bufAppend32(out, 0);
    }
    if (rv == 0 && part->len > 0) {
        rv = bufAppend(out, part->data, part->len);
    }
    if (rv != 0) {
        out->len = start;
    }
    return rv;
}

/* ------------------------------------------------------------ decoding */

struct repl_reader {
    const uint8_t *data;
    size_t len;
    size_t off;
};

static const uint8_t *replTake(struct repl_reader *r, size_t n)
{
    if (n > r->len - r->off) {
        return NULL;
    }
    const uint8_t *p = r->data + r->off;
    r->off += n;
    return p;
}

static int replTakePad(struct repl_reader *r)
{
    size_t pad = (size_t)(bytePad8(r->off) - r->off);
    const uint8_t *p = replTake(r, pad);
    if (p == NULL) {
        return ERR_MALFORMED;
    }
    for (size_t i = 0; i < pad; i++) {
        if (p[i] != 0) {
            return ERR_MALFORMED;
        }
    }
    return 0;
}

static int replDecodeHeader(struct repl_reader *r, struct repl_command *out)
{
    const uint8_t *hdr = replTake(r, 8);
    if (hdr == NULL) {
        return ERR_MALFORMED;
    }
    if (hdr[0] != REPL_COMMAND_VERSION) {
        return ERR_UNSUPPORTED;
    }
    uint32_t name_len = byteGet32(hdr + 4);
    if (hdr[2] != 0 || hdr[3] != 0 || name_len == 0 ||
        name_len > REPL_MAX_NAME) {
        return ERR_MALFORMED;
    }
    const uint8_t *name = replTake(r, name_len);
    if (name == NULL || memchr(name, 0, name_len) != NULL) {
        return ERR_MALFORMED;
    }
    out->type = hdr[1];
    memcpy(out->name, name, name_len);
    out->name[name_len] = '\0';
    return replTakePad(r);
}

static int replDecodeOpen(struct repl_reader *r, struct repl_command *out)
{
    const uint8_t *p = replTake(r, 8);
    if (p == NULL || byteGet32(p + 4) != 0 || !vfsPageSizeValid(byteGet32(p))) {
        return ERR_MALFORMED;
    }
    out->page_size = byteGet32(p);
    return 0;
}

static int replDecodeFrames(struct repl_reader *r, struct repl_frames *f)
{
    const uint8_t *p = replTake(r, 16);
    if (p == NULL) {
        return ERR_MALFORMED;
    }
    f->page_size = byteGet32(p);
    f->n_frames = byteGet32(p + 4);
    f->db_size = byteGet32(p + 8);
    f->flags = byteGet32(p + 12);
    bool commit = (f->flags & REPL_FLAG_COMMIT) != 0;
    if (!vfsPageSizeValid(f->page_size) || f->n_frames == 0 ||
        f->n_frames > REPL_MAX_FRAMES || (f->flags & ~REPL_FLAG_COMMIT) ||
        commit != (f->db_size != 0)) {
        return ERR_MALFORMED;
    }
    f->page_numbers = replTake(r, (size_t)f->n_frames * 4);
    if (f->page_numbers == NULL || replTakePad(r) != 0) {
        return ERR_MALFORMED;
    }
    for (uint32_t i = 0; i < f->n_frames; i++) {
        if (replFramesPgno(f, i) == 0) {
            return ERR_MALFORMED;
        }
    }
    f->pages = replTake(r, (size_t)f->n_frames * f->page_size);
    return f->pages == NULL ? ERR_MALFORMED : 0;
}

static int replDecodeLoad(struct repl_reader *r, const char *name,
                          struct repl_load_part *p)
{
    const uint8_t *h = replTake(r, 40);
    if (h == NULL || byteGet32(h + 36) != 0) {
        return ERR_MALFORMED;
    }
    p->id = byteGet64(h);
    p->total = byteGet64(h + 8);
    p->offset = byteGet64(h + 16);
    p->page_size = byteGet32(h + 24);
    p->flags = byteGet32(h + 28);
    p->len = byteGet32(h + 32);
    if (!replLoadValid(name, p)) {
        return ERR_MALFORMED;
    }
    p->data = replTake(r, p->len); /* a multiple of the page size: aligned */
    return p->data == NULL ? ERR_MALFORMED : 0;
}

int replPeekType(const uint8_t *data, size_t len)
{
    if (data == NULL || len < 8 || data[0] != REPL_COMMAND_VERSION) {
        return 0;
    }
    return data[1];
}

int replDecode(const uint8_t *data, size_t len, struct repl_command *out)
{
    PRE(data != NULL || len == 0);
    struct repl_reader r = {data, len, 0};
    memset(out, 0, sizeof *out);
    int rv = replDecodeHeader(&r, out);
    if (rv != 0) {
        return rv;
    }
    switch (out->type) {
    case REPL_OPEN:
        rv = replDecodeOpen(&r, out);
        break;
    case REPL_FRAMES:
        rv = replDecodeFrames(&r, &out->frames);
        break;
    case REPL_LOAD:
        rv = replDecodeLoad(&r, out->name, &out->load);
        break;
    case REPL_UNDO:
    case REPL_CHECKPOINT:
        break;
    default:
        return ERR_MALFORMED;
    }
    if (rv == 0 && r.off != len) {
        rv = ERR_MALFORMED; /* trailing bytes */
    }
    return rv;
}

uint32_t replFramesPgno(const struct repl_frames *f, uint32_t i)
{
    PRE(i < f->n_frames);
    return byteGet32(f->page_numbers + (size_t)i * 4);
}
