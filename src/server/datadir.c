/*
 * The node's lock on its data directory and the directory's owner file
 * (see datadir.h for why both exist).
 */
#include "server/datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lib/assert.h"
#include "server/node.h"

#define DATADIR_PATH_BYTES 4096

static int nodeDirPath(const char *dir, const char *name, char *path)
{
    int len = snprintf(path, DATADIR_PATH_BYTES, "%s/%s", dir, name);
    return len > 0 && len < DATADIR_PATH_BYTES ? 0 : -1;
}

/* The pid recorded in an open lock file, 0 if none. */
static long nodeDirReadPid(int fd)
{
    char text[32] = {0};
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    return n > 0 ? strtol(text, NULL, 10) : 0;
}

int nodeDirInUse(const char *dir, long *pid)
{
    char path[DATADIR_PATH_BYTES];
    int in_use = 0;
    *pid = 0;
    if (nodeDirPath(dir, DATADIR_LOCK_FILE, path) != 0) {
        return 0;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        in_use = errno == EWOULDBLOCK;
        *pid = nodeDirReadPid(fd);
    }
    close(fd); /* drops our lock, if we took it */
    return in_use;
}

static int nodeDirLock(struct dqlite_node *n)
{
    char path[DATADIR_PATH_BYTES];
    char text[32];
    if (nodeDirPath(n->data_dir, DATADIR_LOCK_FILE, path) != 0) {
        nodeErrorf(n, "data directory path too long: %s", n->data_dir);
        return DQLITE_ERROR;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        nodeErrorf(n, "data directory %s: cannot open %s: %s", n->data_dir,
                   DATADIR_LOCK_FILE, strerror(errno));
        return DQLITE_ERROR;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        long pid = nodeDirReadPid(fd);
        close(fd);
        if (e != EWOULDBLOCK) {
            nodeErrorf(n, "data directory %s: cannot lock %s: %s", n->data_dir,
                       DATADIR_LOCK_FILE, strerror(e));
            return DQLITE_ERROR;
        }
        nodeErrorf(n, "data directory %s is in use by another node (pid %ld)",
                   n->data_dir, pid);
        return DQLITE_LOCKED;
    }
    /* The pid is a hint for the message above; the lock is the flock. */
    int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        nodeLogf(n, DQLITE_LOG_WARN, "cannot record the pid in %s: %s", path,
                 strerror(errno));
    }
    n->dir_lock_fd = fd;
    return 0;
}

/* Reads node-id: 1 with *owner set, 0 if absent, -1 (errmsg set) if
 * unreadable or malformed. */
static int nodeDirReadOwner(struct dqlite_node *n, uint64_t *owner)
{
    char path[DATADIR_PATH_BYTES];
    char text[32] = {0};
    char *end;
    if (nodeDirPath(n->data_dir, DATADIR_ID_FILE, path) != 0) {
        nodeErrorf(n, "data directory path too long: %s", n->data_dir);
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return 0;
        }
        nodeErrorf(n, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t len = read(fd, text, sizeof text - 1);
    close(fd);
    errno = 0;
    *owner = strtoull(text, &end, 10);
    if (len <= 0 || errno != 0 || *owner == 0 ||
        (*end != '\n' && *end != '\0')) {
        nodeErrorf(n, "%s is not a node id file (expected a decimal id)", path);
        return -1;
    }
    return 1;
}

int nodeDirAcquire(struct dqlite_node *n)
{
    uint64_t owner = 0;
    PRE(n->dir_lock_fd < 0);
    int rv = nodeDirLock(n);
    if (rv != 0) {
        return rv;
    }
    int found = nodeDirReadOwner(n, &owner);
    if (found < 0) {
        rv = DQLITE_ERROR;
    } else if (found == 1 && owner != n->id) {
        /* go-dqlite's ErrServerCantBootstrap: the directory is another
         * node's, already bootstrapped. */
        nodeErrorf(n,
                   "refusing data directory %s: it belongs to node %" PRIu64
                   " (see its %s file), not to node %" PRIu64,
                   n->data_dir, owner, DATADIR_ID_FILE, (uint64_t)n->id);
        rv = DQLITE_CANTBOOTSTRAP;
    }
    if (rv != 0) {
        nodeDirRelease(n);
    }
    n->dir_owned = found == 1;
    return rv;
}

int nodeDirClaim(struct dqlite_node *n)
{
    char path[DATADIR_PATH_BYTES];
    char tmp[DATADIR_PATH_BYTES];
    char text[32];
    PRE(n->dir_lock_fd >= 0);
    if (n->dir_owned) {
        return 0;
    }
    int len = snprintf(text, sizeof text, "%" PRIu64 "\n", (uint64_t)n->id);
    if (nodeDirPath(n->data_dir, DATADIR_ID_FILE, path) != 0 ||
        nodeDirPath(n->data_dir, DATADIR_ID_FILE ".tmp", tmp) != 0) {
        nodeErrorf(n, "data directory path too long: %s", n->data_dir);
        return DQLITE_ERROR;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        goto err;
    }
    if (write(fd, text, (size_t)len) != len || fsync(fd) != 0) {
        close(fd);
        goto err;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        goto err;
    }
    fd = open(n->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    n->dir_owned = true;
    nodeLogf(n, DQLITE_LOG_INFO,
             "data directory %s now belongs to node %" PRIu64, n->data_dir,
             (uint64_t)n->id);
    return 0;
err:
    nodeErrorf(n, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return DQLITE_ERROR;
}

void nodeDirRelease(struct dqlite_node *n)
{
    if (n->dir_lock_fd >= 0) {
        close(n->dir_lock_fd);
        n->dir_lock_fd = -1;
    }
}
