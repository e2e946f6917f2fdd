/* In-memory crash-modelling fs for the raftio tests (see memfs.h). */
#include "memfs.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/err.h"

#define MAX_INODES 4096
#define MAX_NAMES 512
#define MAX_FDS 256
#define MAX_PENDING 4096

struct wop {
    int kind; /* MEMFS_WRITE or MEMFS_TRUNCATE */
    uint64_t off;
    uint64_t len;
    uint8_t *data;
};

struct inode {
    bool used;
    uint8_t *cur;
    uint64_t cur_len;
    uint8_t *dur; /* content as of the last sync */
    uint64_t dur_len;
    struct wop *pending;
    int n_pending;
};

struct dent {
    char name[RAFTIO_FS_NAME_MAX];
    int ino; /* -1 = free slot */
};

struct nsop {
    char from[RAFTIO_FS_NAME_MAX];
    char to[RAFTIO_FS_NAME_MAX];
    int kind; /* 0 link(to=ino), 1 unlink(from), 2 rename(from, to) */
    int ino;
};

struct memfs {
    struct inode inodes[MAX_INODES];
    struct dent names[MAX_NAMES];     /* current namespace */
    struct dent dur_names[MAX_NAMES]; /* as of the last dir sync */
    struct nsop ns_pending[MAX_PENDING];
    int n_ns_pending;
    int fds[MAX_FDS]; /* inode or -1 */
    long stop_after;
    bool stopped;
    long mutations;
    uint64_t space;
    int fail_err[4];
};

/* memcpy that accepts NULL pointers when there is nothing to copy. */
static void copyBytes(void *dst, const void *src, size_t n)
{
    if (n > 0) {
        memcpy(dst, src, n);
    }
}

static struct memfs *M(struct raftio_fs *fs)
{
    return fs->data;
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int mutate(struct memfs *m)
{
    if (m->stopped) {
        return ERR_IO;
    }
    if (m->stop_after == 0) {
        m->stopped = true;
        return ERR_IO;
    }
    if (m->stop_after > 0) {
        m->stop_after--;
    }
    m->mutations++;
    return 0;
}

static int injected(struct memfs *m, enum memfs_op op)
{
    int err = m->fail_err[op];
    m->fail_err[op] = 0;
    return err;
}

static int findName(struct dent *names, const char *name)
{
    for (int i = 0; i < MAX_NAMES; i++) {
        if (names[i].ino >= 0 && strcmp(names[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

static int setName(struct dent *names, const char *name, int ino)
{
    int i = findName(names, name);
    for (int k = 0; i < 0 && k < MAX_NAMES; k++) {
        if (names[k].ino < 0) {
            i = k;
        }
    }
    if (i < 0) {
        abort();
    }
    strcpy(names[i].name, name);
    names[i].ino = ino;
    return 0;
}

static void nsRecord(struct memfs *m, int kind, const char *from,
                     const char *to, int ino)
{
    if (m->n_ns_pending == MAX_PENDING) {
        abort();
    }
    struct nsop *op = &m->ns_pending[m->n_ns_pending++];
    strcpy(op->from, from != NULL ? from : "");
    strcpy(op->to, to != NULL ? to : "");
    op->kind = kind;
    op->ino = ino;
}

static void nsApply(struct dent *names, const struct nsop *op)
{
    int i;
    switch (op->kind) {
    case 0:
        setName(names, op->to, op->ino);
        break;
    case 1:
        if ((i = findName(names, op->from)) >= 0) {
            names[i].ino = -1;
        }
        break;
    default:
        if ((i = findName(names, op->from)) >= 0) {
            int ino = names[i].ino;
            names[i].ino = -1;
            setName(names, op->to, ino);
        }
    }
}

static int newInode(struct memfs *m)
{
    for (int i = 0; i < MAX_INODES; i++) {
        if (!m->inodes[i].used) {
            m->inodes[i] = (struct inode){.used = true};
            return i;
        }
    }
    abort();
}

static uint64_t usedSpace(struct memfs *m)
{
    uint64_t total = 0;
    for (int i = 0; i < MAX_NAMES; i++) {
        total += m->names[i].ino >= 0 ? m->inodes[m->names[i].ino].cur_len : 0;
    }
    return total;
}

static void resize(uint8_t **p, uint64_t *len, uint64_t new_len)
{
    *p = realloc(*p, new_len > 0 ? new_len : 1);
    if (new_len > *len) {
        memset(*p + *len, 0, new_len - *len);
    }
    *len = new_len;
}

static void applyWop(uint8_t **p, uint64_t *len, const struct wop *w,
                     uint64_t keep)
{
    if (w->kind == MEMFS_TRUNCATE) {
        resize(p, len, w->off);
        return;
    }
    if (w->off + keep > *len) {
        resize(p, len, w->off + keep);
    }
    copyBytes(*p + w->off, w->data, keep);
}

static void pendPush(struct inode *ino, int kind, uint64_t off,
                     const void *data, uint64_t len)
{
    ino->pending = realloc(ino->pending,
                           (size_t)(ino->n_pending + 1) * sizeof *ino->pending);
    struct wop *w = &ino->pending[ino->n_pending++];
    *w = (struct wop){kind, off, len, NULL};
    if (data != NULL) {
        w->data = malloc(len > 0 ? len : 1);
        copyBytes(w->data, data, len);
    }
}

static void pendClear(struct inode *ino)
{
    for (int i = 0; i < ino->n_pending; i++) {
        free(ino->pending[i].data);
    }
    free(ino->pending);
    ino->pending = NULL;
    ino->n_pending = 0;
}

static int fdInode(struct memfs *m, int fd)
{
    if (fd < 0 || fd >= MAX_FDS || m->fds[fd] < 0) {
        abort();
    }
    return m->fds[fd];
}

static int mOpen(struct raftio_fs *fs, const char *name, int flags, int *fd)
{
    struct memfs *m = M(fs);
    int rv = (flags & (RAFTIO_FS_CREATE | RAFTIO_FS_TRUNC)) ? mutate(m)
             : m->stopped                                   ? ERR_IO
                                                            : 0;
    if (rv == 0) {
        rv = injected(m, MEMFS_OPEN);
    }
    if (rv != 0) {
        return rv;
    }
    int i = findName(m->names, name);
    if (i >= 0 && (flags & RAFTIO_FS_EXCL)) {
        return ERR_EXISTS;
    }
    if (i < 0 && !(flags & RAFTIO_FS_CREATE)) {
        return ERR_NOTFOUND;
    }
    int ino = i >= 0 ? m->names[i].ino : newInode(m);
    if (i < 0) {
        setName(m->names, name, ino);
        nsRecord(m, 0, NULL, name, ino);
    }
    if (flags & RAFTIO_FS_TRUNC) {
        struct inode *node = &m->inodes[ino];
        resize(&node->cur, &node->cur_len, 0);
        pendPush(node, MEMFS_TRUNCATE, 0, NULL, 0);
    }
    for (int k = 0; k < MAX_FDS; k++) {
        if (m->fds[k] < 0) {
            m->fds[k] = ino;
            *fd = k;
            return 0;
        }
    }
    abort();
}

static void mClose(struct raftio_fs *fs, int fd)
{
    fdInode(M(fs), fd);
    M(fs)->fds[fd] = -1;
}

static int mPwrite(struct raftio_fs *fs, int fd, const void *buf, size_t n,
                   uint64_t off)
{
    struct memfs *m = M(fs);
    int rv = mutate(m);
    if (rv == 0) {
        rv = injected(m, MEMFS_WRITE);
    }
    if (rv != 0) {
        return rv;
    }
    struct inode *node = &m->inodes[fdInode(m, fd)];
    uint64_t keep = n;
    if (m->space > 0) {
        uint64_t used = usedSpace(m);
        uint64_t grow = off + n > node->cur_len ? off + n - node->cur_len : 0;
        if (used + grow > m->space) {
            uint64_t room = m->space > used ? m->space - used : 0;
            keep = off + room > node->cur_len ? node->cur_len + room - off : 0;
            keep = keep > n ? n : keep;
            rv = ERR_NOSPACE;
        }
    }
    struct wop w = {MEMFS_WRITE, off, keep, (uint8_t *)buf};
    applyWop(&node->cur, &node->cur_len, &w, keep);
    pendPush(node, MEMFS_WRITE, off, buf, keep);
    return rv;
}

static int mPread(struct raftio_fs *fs, int fd, void *buf, size_t n,
                  uint64_t off, size_t *got)
{
    struct memfs *m = M(fs);
    if (m->stopped) {
        return ERR_IO;
    }
    struct inode *node = &m->inodes[fdInode(m, fd)];
    *got = off >= node->cur_len      ? 0
           : node->cur_len - off < n ? (size_t)(node->cur_len - off)
                                     : n;
    copyBytes(buf, node->cur + off, *got);
    return 0;
}

static int mSize(struct raftio_fs *fs, int fd, uint64_t *size)
{
    struct memfs *m = M(fs);
    *size = m->inodes[fdInode(m, fd)].cur_len;
    return m->stopped ? ERR_IO : 0;
}

static int mTruncate(struct raftio_fs *fs, int fd, uint64_t size)
{
    struct memfs *m = M(fs);
    int rv = mutate(m);
    if (rv == 0) {
        rv = injected(m, MEMFS_TRUNCATE);
    }
    if (rv != 0) {
        return rv;
    }
    struct inode *node = &m->inodes[fdInode(m, fd)];
    resize(&node->cur, &node->cur_len, size);
    pendPush(node, MEMFS_TRUNCATE, size, NULL, 0);
    return 0;
}

static int mSync(struct raftio_fs *fs, int fd)
{
    struct memfs *m = M(fs);
    int rv = mutate(m);
    if (rv == 0) {
        rv = injected(m, MEMFS_SYNC);
    }
    if (rv != 0) {
        return rv;
    }
    struct inode *node = &m->inodes[fdInode(m, fd)];
    node->dur = realloc(node->dur, node->cur_len > 0 ? node->cur_len : 1);
    copyBytes(node->dur, node->cur, node->cur_len);
    node->dur_len = node->cur_len;
    pendClear(node);
    return 0;
}

static int mRename(struct raftio_fs *fs, const char *from, const char *to)
{
    struct memfs *m = M(fs);
    int rv = mutate(m);
    if (rv != 0) {
        return rv;
    }
    int i = findName(m->names, from);
    if (i < 0) {
        return ERR_NOTFOUND;
    }
    struct nsop op = {.kind = 2};
    strcpy(op.from, from);
    strcpy(op.to, to);
    nsApply(m->names, &op);
    nsRecord(m, 2, from, to, -1);
    return 0;
}

static int mUnlink(struct raftio_fs *fs, const char *name)
{
    struct memfs *m = M(fs);
    int rv = mutate(m);
    if (rv != 0) {
        return rv;
    }
    int i = findName(m->names, name);
    if (i < 0) {
        return ERR_NOTFOUND;
    }
    m->names[i].ino = -1;
    nsRecord(m, 1, name, NULL, -1);
    return 0;
}

static int mSyncDir(struct raftio_fs *fs)
{
    struct memfs *m = M(fs);
    int rv = mutate(m);
    if (rv != 0) {
        return rv;
    }
    copyBytes(m->dur_names, m->names, sizeof m->names);
    m->n_ns_pending = 0;
    return 0;
}

static int mList(struct raftio_fs *fs, char ***names, size_t *n)
{
    struct memfs *m = M(fs);
    if (m->stopped) {
        return ERR_IO;
    }
    *names = libMalloc(MAX_NAMES * sizeof **names);
    *n = 0;
    for (int i = 0; i < MAX_NAMES; i++) {
        if (m->names[i].ino >= 0) {
            (*names)[(*n)++] = libStrdup(m->names[i].name);
        }
    }
    return 0;
}

static void mDestroy(struct raftio_fs *fs)
{
    (void)fs;
}

struct raftio_fs *memfsCreate(void)
{
    struct raftio_fs *fs = calloc(1, sizeof *fs);
    struct memfs *m = calloc(1, sizeof *m);
    for (int i = 0; i < MAX_NAMES; i++) {
        m->names[i].ino = -1;
        m->dur_names[i].ino = -1;
    }
    for (int i = 0; i < MAX_FDS; i++) {
        m->fds[i] = -1;
    }
    m->stop_after = -1;
    *fs = (struct raftio_fs){m,        mOpen,     mClose,   mPwrite, mPread,
                             mSize,    mTruncate, mSync,    mRename, mUnlink,
                             mSyncDir, mList,     mDestroy, NULL};
    return fs;
}

void memfsDestroy(struct raftio_fs *fs)
{
    struct memfs *m = M(fs);
    for (int i = 0; i < MAX_INODES; i++) {
        if (m->inodes[i].used) {
            free(m->inodes[i].cur);
            free(m->inodes[i].dur);
            pendClear(&m->inodes[i]);
        }
    }
    free(m);
    free(fs);
}

/* The content a file has after the power cut. */
static void crashInode(const struct inode *src, struct inode *dst,
                       uint64_t *seed)
{
    *dst = (struct inode){.used = true};
    resize(&dst->cur, &dst->cur_len, src->dur_len);
    copyBytes(dst->cur, src->dur, src->dur_len);
    int n = src->n_pending > 0
                ? (int)(rng(seed) % (uint64_t)(src->n_pending + 1))
                : 0;
    for (int i = 0; i < n; i++) {
        const struct wop *w = &src->pending[i];
        uint64_t keep = w->len;
        if (i == n - 1 && w->kind == MEMFS_WRITE && w->len > 0) {
            keep = rng(seed) % (w->len + 1); /* torn */
        }
        applyWop(&dst->cur, &dst->cur_len, w, keep);
    }
    dst->dur = malloc(dst->cur_len > 0 ? dst->cur_len : 1);
    copyBytes(dst->dur, dst->cur, dst->cur_len);
    dst->dur_len = dst->cur_len;
}

struct raftio_fs *memfsCrash(struct raftio_fs *fs, uint64_t seed)
{
    struct memfs *m = M(fs);
    seed = seed * 2654435761u + 1;
    struct raftio_fs *out = memfsCreate();
    struct memfs *c = M(out);
    struct dent names[MAX_NAMES];
    copyBytes(names, m->dur_names, sizeof names);
    int n_ns = m->n_ns_pending > 0
                   ? (int)(rng(&seed) % (uint64_t)(m->n_ns_pending + 1))
                   : 0;
    for (int i = 0; i < n_ns; i++) {
        nsApply(names, &m->ns_pending[i]);
    }
    for (int i = 0; i < MAX_NAMES; i++) {
        if (names[i].ino < 0) {
            continue;
        }
        int ino = newInode(c);
        crashInode(&m->inodes[names[i].ino], &c->inodes[ino], &seed);
        setName(c->names, names[i].name, ino);
    }
    copyBytes(c->dur_names, c->names, sizeof c->names);
    return out;
}

void memfsStopAfter(struct raftio_fs *fs, long n)
{
    M(fs)->stop_after = n;
    M(fs)->stopped = false;
}

int memfsStopped(struct raftio_fs *fs)
{
    return M(fs)->stopped;
}

long memfsMutations(struct raftio_fs *fs)
{
    return M(fs)->mutations;
}

void memfsSetSpace(struct raftio_fs *fs, uint64_t bytes)
{
    M(fs)->space = bytes;
}

void memfsFailNext(struct raftio_fs *fs, enum memfs_op op, int err)
{
    M(fs)->fail_err[op] = err;
}

int memfsFlipByte(struct raftio_fs *fs, const char *name, uint64_t offset)
{
    struct memfs *m = M(fs);
    int i = findName(m->names, name);
    if (i < 0) {
        return ERR_NOTFOUND;
    }
    struct inode *node = &m->inodes[m->names[i].ino];
    if (offset >= node->cur_len) {
        return ERR_INVALID;
    }
    node->cur[offset] ^= 0x40;
    if (offset < node->dur_len) {
        node->dur[offset] ^= 0x40;
    }
    return 0;
}

int memfsFileSize(struct raftio_fs *fs, const char *name, uint64_t *size)
{
    struct memfs *m = M(fs);
    int i = findName(m->names, name);
    if (i < 0) {
        return ERR_NOTFOUND;
    }
    *size = m->inodes[m->names[i].ino].cur_len;
    return 0;
}
