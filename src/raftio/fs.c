/*
 * The POSIX implementation of the raftio fs seam, plus helpers that work on
 * any implementation (whole-file read, atomic whole-file replace).
 * errno is mapped to ERR_* here and nowhere else.
 */
#include "raftio/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

static int fsErr(int e);

struct fs_posix {
    int dir_fd;
    char dir[256];        /* the root, for messages */
    pthread_mutex_t mu;   /* guards last_error (several threads) */
    char last_error[512]; /* "<op> <path>: <strerror>" */
};

/* Records what failed (the operation, the file's path, the system's text)
 * for raftioFsLastError, and maps errno. A missing file is an answer, not
 * a failure: it is not recorded. */
static int fsFail(struct raftio_fs *fs, const char *op, const char *name,
                  int fd)
{
    int e = errno;
    struct fs_posix *p = fs->data;
    char path[300];
    if (name != NULL) {
        snprintf(path, sizeof path, "%s/%s", p->dir, name);
    } else {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n > 0) {
            path[n] = '\0';
        } else {
            snprintf(path, sizeof path, "%s (fd %d)", p->dir, fd);
        }
    }
    if (e != ENOENT) {
        pthread_mutex_lock(&p->mu);
        snprintf(p->last_error, sizeof p->last_error, "%s %s: %s", op, path,
                 strerror(e));
        pthread_mutex_unlock(&p->mu);
    }
    errno = e;
    return fsErr(e);
}

static int fsErr(int e)
{
    switch (e) {
    case ENOENT:
        return ERR_NOTFOUND;
    case EEXIST:
        return ERR_EXISTS;
    case ENOSPC:
    case EDQUOT:
        return ERR_NOSPACE;
    case ENOMEM:
        return ERR_NOMEM;
    default:
        return ERR_IO;
    }
}

static int dirFd(struct raftio_fs *fs)
{
    return ((struct fs_posix *)fs->data)->dir_fd;
}

static int posixOpen(struct raftio_fs *fs, const char *name, int flags, int *fd)
{
    PRE(strchr(name, '/') == NULL);
    int oflags = O_RDWR | O_CLOEXEC;
    oflags |= (flags & RAFTIO_FS_CREATE) ? O_CREAT : 0;
    oflags |= (flags & RAFTIO_FS_EXCL) ? O_EXCL : 0;
    oflags |= (flags & RAFTIO_FS_TRUNC) ? O_TRUNC : 0;
    int rv = openat(dirFd(fs), name, oflags, 0600);
    if (rv < 0) {
        return fsFail(fs, "open", name, -1);
    }
    *fd = rv;
    return 0;
}

static void posixClose(struct raftio_fs *fs, int fd)
{
    (void)fs;
    close(fd);
}

static int posixPwrite(struct raftio_fs *fs, int fd, const void *buf, size_t n,
                       uint64_t offset)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t rv = pwrite(fd, p, n, (off_t)offset);
        if (rv < 0 && errno == EINTR) {
            continue;
        }
        if (rv <= 0) {
            return rv < 0 ? fsFail(fs, "write", NULL, fd) : ERR_IO;
        }
        p += rv;
        n -= (size_t)rv;
        offset += (uint64_t)rv;
    }
    return 0;
}

static int posixPread(struct raftio_fs *fs, int fd, void *buf, size_t n,
                      uint64_t offset, size_t *got)
{
    uint8_t *p = buf;
    *got = 0;
    while (*got < n) {
        ssize_t rv = pread(fd, p + *got, n - *got, (off_t)(offset + *got));
        if (rv < 0 && errno == EINTR) {
            continue;
        }
        if (rv < 0) {
            return fsFail(fs, "read", NULL, fd);
        }
        if (rv == 0) {
            break;
        }
        *got += (size_t)rv;
    }
    return 0;
}

static int posixSize(struct raftio_fs *fs, int fd, uint64_t *size_bytes)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return fsFail(fs, "stat", NULL, fd);
    }
    *size_bytes = (uint64_t)st.st_size;
    return 0;
}

static int posixTruncate(struct raftio_fs *fs, int fd, uint64_t size_bytes)
{
    return ftruncate(fd, (off_t)size_bytes) == 0
               ? 0
               : fsFail(fs, "truncate", NULL, fd);
}

static int posixSync(struct raftio_fs *fs, int fd)
{
    return fdatasync(fd) == 0 ? 0 : fsFail(fs, "sync", NULL, fd);
}

static int posixRename(struct raftio_fs *fs, const char *from, const char *to)
{
    int d = dirFd(fs);
    return renameat(d, from, d, to) == 0 ? 0 : fsFail(fs, "rename", from, -1);
}

static int posixUnlink(struct raftio_fs *fs, const char *name)
{
    return unlinkat(dirFd(fs), name, 0) == 0 ? 0
                                             : fsFail(fs, "unlink", name, -1);
}

static int posixSyncDir(struct raftio_fs *fs)
{
    return fsync(dirFd(fs)) == 0 ? 0 : fsFail(fs, "sync", ".", -1);
}

static void posixLastError(struct raftio_fs *fs, char *out, size_t len)
{
    struct fs_posix *p = fs->data;
    pthread_mutex_lock(&p->mu);
    snprintf(out, len, "%s", p->last_error);
    pthread_mutex_unlock(&p->mu);
}

static int listAdd(char ***names, size_t *n, size_t *cap, const char *name)
{
    if (*n == *cap) {
        size_t new_cap = *cap == 0 ? 16 : *cap * 2;
        char **grown = libRealloc(*names, new_cap * sizeof **names);
        if (grown == NULL) {
            return ERR_NOMEM;
        }
        *names = grown;
        *cap = new_cap;
    }
    (*names)[*n] = libStrdup(name);
    if ((*names)[*n] == NULL) {
        return ERR_NOMEM;
    }
    (*n)++;
    return 0;
}

static int posixList(struct raftio_fs *fs, char ***names, size_t *n)
{
    int fd = openat(dirFd(fs), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return fsFail(fs, "list", ".", -1);
    }
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return fsFail(fs, "list", ".", -1);
    }
    size_t cap = 0;
    int rv = 0;
    struct dirent *e;
    *names = NULL;
    *n = 0;
    while (rv == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            rv = listAdd(names, n, &cap, e->d_name);
        }
    }
    closedir(d);
    if (rv != 0) {
        raftioFsFreeList(*names, *n);
    }
    return rv;
}

static void posixDestroy(struct raftio_fs *fs)
{
    struct fs_posix *p = fs->data;
    close(p->dir_fd);
    pthread_mutex_destroy(&p->mu);
    libFree(fs->data);
    fs->data = NULL;
}

/* Best effort: fsync the directory holding `dir`. */
static void fsSyncParent(const char *dir)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash == NULL) {
        strcpy(parent, ".");
    } else if (slash == parent) {
        parent[1] = '\0';
    } else {
        *slash = '\0';
    }
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int raftioFsPosixInit(struct raftio_fs *fs, const char *dir)
{
    struct fs_posix *p = libMalloc(sizeof *p);
    if (p == NULL) {
        return ERR_NOMEM;
    }
    if (mkdir(dir, 0700) == 0) {
        fsSyncParent(dir); /* the new directory's own entry */
    } else if (errno != EEXIST) {
        libFree(p);
        return fsErr(errno);
    }
    p->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->dir_fd < 0) {
        libFree(p);
        return fsErr(errno);
    }
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    p->last_error[0] = '\0';
    pthread_mutex_init(&p->mu, NULL);
    *fs = (struct raftio_fs){p,
                             posixOpen,
                             posixClose,
                             posixPwrite,
                             posixPread,
                             posixSize,
                             posixTruncate,
                             posixSync,
                             posixRename,
                             posixUnlink,
                             posixSyncDir,
                             posixList,
                             posixDestroy,
                             posixLastError};
    return 0;
}

void raftioFsLastError(struct raftio_fs *fs, char *out, size_t len)
{
    PRE(len > 0);
    out[0] = '\0';
    if (fs->lastError != NULL) {
        fs->lastError(fs, out, len);
    }
}

void raftioFsFreeList(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        libFree(names[i]);
    }
    libFree(names);
}

int raftioFsReadAll(struct raftio_fs *fs, const char *name, size_t limit_bytes,
                    uint8_t **data, size_t *len)
{
    int fd;
    uint64_t size;
    int rv = fs->open(fs, name, 0, &fd);
    if (rv != 0) {
        return rv;
    }
    rv = fs->size(fs, fd, &size);
    if (rv == 0 && size > limit_bytes) {
        rv = ERR_TOOBIG;
    }
    if (rv != 0) {
        goto err_after_open;
    }
    *data = libMalloc((size_t)size);
    if (*data == NULL) {
        rv = ERR_NOMEM;
        goto err_after_open;
    }
    rv = fs->pread(fs, fd, *data, (size_t)size, 0, len);
    if (rv != 0) {
        libFree(*data);
    }
err_after_open:
    fs->close(fs, fd);
    return rv;
}

int raftioFsWriteAtomic(struct raftio_fs *fs, const char *name,
                        const void *data, size_t len)
{
    char tmp[RAFTIO_FS_NAME_MAX];
    int fd;
    PRE(strlen(name) + 5 <= sizeof tmp);
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    int rv = fs->open(fs, tmp, RAFTIO_FS_CREATE | RAFTIO_FS_TRUNC, &fd);
    if (rv != 0) {
        return rv;
    }
    rv = fs->pwrite(fs, fd, data, len, 0);
    if (rv == 0) {
        rv = fs->sync(fs, fd);
    }
    fs->close(fs, fd);
    if (rv == 0) {
        rv = fs->rename(fs, tmp, name);
    }
    if (rv == 0) {
        return fs->syncDir(fs);
    }
    fs->unlink(fs, tmp); /* best effort: a leftover .tmp is ignored */
    return rv;
}
