/*
 * The file-system seam of raftio: every byte the durable log, the metadata
 * and the snapshots put on disk goes through one `struct raftio_fs`.
 *
 * Why a seam: the crash tests replace it with an in-memory file system that
 * records writes and, at a simulated power cut, keeps only what was synced
 * plus a random torn piece of the rest; the fault tests wrap it to inject
 * ENOSPC and EIO at any call. Production uses raftioFsPosixInit, a thin
 * layer over openat/pwrite/fdatasync/renameat rooted at the data directory.
 *
 * Names are plain file names inside the root directory (no '/'). Handles are
 * small non-negative ints owned by the caller until `close`. Every function
 * returns 0 or ERR_NOTFOUND, ERR_EXISTS, ERR_NOSPACE, ERR_IO, ERR_NOMEM.
 * Threading: one fs may be used from several threads only if its
 * implementation says so (the POSIX one does: it keeps no mutable state).
 */
#ifndef RAFTIO_FS_H
#define RAFTIO_FS_H

#include <stddef.h>
#include <stdint.h>

enum {
    RAFTIO_FS_CREATE = 1, /* create when missing */
    RAFTIO_FS_EXCL = 2,   /* with CREATE: fail with ERR_EXISTS if present */
    RAFTIO_FS_TRUNC = 4   /* start empty */
};

/* Longest file name raftio creates, terminator included. */
#define RAFTIO_FS_NAME_MAX 64

struct raftio_fs {
    void *data;
    int (*open)(struct raftio_fs *fs, const char *name, int flags, int *fd);
    void (*close)(struct raftio_fs *fs, int fd);
    /* Writes all `n` bytes or fails (a short write is reported as an error
     * and may leave part of the bytes written). */
    int (*pwrite)(struct raftio_fs *fs, int fd, const void *buf, size_t n,
                  uint64_t offset);
    /* Reads up to `n` bytes; *got < n only at end of file. */
    int (*pread)(struct raftio_fs *fs, int fd, void *buf, size_t n,
                 uint64_t offset, size_t *got);
    int (*size)(struct raftio_fs *fs, int fd, uint64_t *size_bytes);
    int (*truncate)(struct raftio_fs *fs, int fd, uint64_t size_bytes);
    /* Makes the file's data and size durable (fdatasync). */
    int (*sync)(struct raftio_fs *fs, int fd);
    /* Atomically replaces `to` with `from`. */
    int (*rename)(struct raftio_fs *fs, const char *from, const char *to);
    int (*unlink)(struct raftio_fs *fs, const char *name);
    /* Makes creations, renames and unlinks durable (fsync of the dir). */
    int (*syncDir)(struct raftio_fs *fs);
    /* The names in the root, as one libMalloc'd array of libMalloc'd
     * strings the caller frees with raftioFsFreeList. */
    int (*list)(struct raftio_fs *fs, char ***names, size_t *n);
    void (*destroy)(struct raftio_fs *fs);
    /* Optional (NULL: none kept): the last failure as "<operation>
     * <path>: <system error text>", for messages an operator acts on. */
    void (*lastError)(struct raftio_fs *fs, char *out, size_t len);
};

/* A POSIX fs rooted at `dir` (created if missing, mode 0700). */
int raftioFsPosixInit(struct raftio_fs *fs, const char *dir);

void raftioFsFreeList(char **names, size_t n);

/* The last failure `fs` recorded ("" when none or not kept): which call on
 * which file failed, and the system's reason, e.g. "open
 * /var/lib/dqlite/metadata.tmp: Read-only file system". */
void raftioFsLastError(struct raftio_fs *fs, char *out, size_t len);

/* Reads a whole file into a libMalloc'd buffer the caller owns; files over
 * `limit_bytes` give ERR_TOOBIG. */
int raftioFsReadAll(struct raftio_fs *fs, const char *name, size_t limit_bytes,
                    uint8_t **data, size_t *len);

/* Writes a whole file atomically: `name`.tmp, sync, rename, sync dir. */
int raftioFsWriteAtomic(struct raftio_fs *fs, const char *name,
                        const void *data, size_t len);

#endif /* RAFTIO_FS_H */
