/*
 * Who owns a data directory. The node's own files (metadata, seg-*, snap-*)
 * do not say which node wrote them, and starting node 2 on node 1's log
 * would corrupt the cluster, so dqlited keeps a file of its own, `node-id`
 * (the id in decimal and a newline), written atomically at first start and
 * checked at every start. Other files in the directory are ignored.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dqlite.h>

#include "dqlited.h"

#define NODE_ID_FILE "node-id"
#define PATH_BYTES 4096

/* Creates `dir` and its missing parents (like mkdir -p). */
static int makeDirs(const char *dir)
{
    char path[PATH_BYTES];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

/* Whether a file name is one the node itself writes. */
static bool isNodeFile(const char *name)
{
    return strncmp(name, "metadata", 8) == 0 || strncmp(name, "seg-", 4) == 0 ||
           strncmp(name, "snap-", 5) == 0;
}

/* Whether the directory holds node state: 1 yes, 0 no, -1 unreadable. */
static int hasNodeState(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    if (d == NULL) {
        return -1;
    }
    while (found == 0 && (e = readdir(d)) != NULL) {
        found = isNodeFile(e->d_name) ? 1 : 0;
    }
    closedir(d);
    return found;
}

/* Reads the node-id file: 1 with *id set, 0 if absent, -1 if unreadable or
 * malformed (logged). */
static int readNodeId(const char *path, uint64_t *id)
{
    char text[32] = {0};
    char *end;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT) {
            return 0;
        }
        logMsg(LOG_ERROR, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    errno = 0;
    *id = strtoull(text, &end, 10);
    if (n == 0 || errno != 0 || *id == 0 || (*end != '\n' && *end != '\0')) {
        logMsg(LOG_ERROR, "%s is not a node id file (expected a decimal id)",
               path);
        return -1;
    }
    return 1;
}

/* Writes the node-id file atomically: temporary file, fsync, rename, fsync
 * of the directory. */
static int writeNodeId(const char *dir, const char *path, uint64_t id)
{
    char tmp[PATH_BYTES + 8];
    char text[32];
    int len = snprintf(text, sizeof text, "%" PRIu64 "\n", id);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
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
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
err:
    logMsg(LOG_ERROR, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
}

/* The directory has a node-id file saying `owner`. */
static int claimOwned(struct config *cfg, const char *path, uint64_t owner)
{
    if (cfg->id != 0 && cfg->id != owner) {
        logMsg(LOG_ERROR,
               "refusing data directory %s: it belongs to node %" PRIu64
               " (see %s), not to node %" PRIu64,
               cfg->dir, owner, path, cfg->id);
        return DQLITED_EXIT_DATADIR;
    }
    cfg->id = owner;
    return 0;
}

/* The directory has no node-id file: claim it unless it holds node state. */
static int claimNew(struct config *cfg, const char *path, int state)
{
    if (state != 0) {
        logMsg(LOG_ERROR,
               "refusing data directory %s: it holds node state (metadata, "
               "seg-*, snap-*) but no %s file, so its owner is unknown; if "
               "it is this node's, write its id into %s",
               cfg->dir, NODE_ID_FILE, path);
        return DQLITED_EXIT_DATADIR;
    }
    if (cfg->id == 1 && cfg->join != NULL) {
        logMsg(LOG_ERROR, "node 1 on an empty data directory bootstraps a "
                          "cluster of its own: a node that joins needs "
                          "another --id");
        return DQLITED_EXIT_USAGE;
    }
    if (cfg->id == 0) {
        cfg->id = cfg->join == NULL ? 1 : dqlite_generate_node_id(cfg->address);
    }
    if (writeNodeId(cfg->dir, path, cfg->id) != 0) {
        return DQLITED_EXIT_DATADIR;
    }
    logMsg(LOG_INFO, "data directory %s now belongs to node %" PRIu64, cfg->dir,
           cfg->id);
    return 0;
}

int datadirClaim(struct config *cfg, bool *fresh)
{
    char path[PATH_BYTES];
    uint64_t owner = 0;
    int state, found;

    if (makeDirs(cfg->dir) != 0) {
        logMsg(LOG_ERROR, "cannot create data directory %s: %s", cfg->dir,
               strerror(errno));
        return DQLITED_EXIT_DATADIR;
    }
    if (snprintf(path, sizeof path, "%s/%s", cfg->dir, NODE_ID_FILE) >=
        (int)sizeof path) {
        logMsg(LOG_ERROR, "data directory path too long: %s", cfg->dir);
        return DQLITED_EXIT_DATADIR;
    }
    state = hasNodeState(cfg->dir);
    found = readNodeId(path, &owner);
    if (state < 0 || found < 0) {
        if (state < 0) {
            logMsg(LOG_ERROR, "cannot list data directory %s: %s", cfg->dir,
                   strerror(errno));
        }
        return DQLITED_EXIT_DATADIR;
    }
    *fresh = state == 0;
    if (cfg->recover != NULL && state == 0) {
        logMsg(LOG_ERROR, "--recover: data directory %s holds no node state",
               cfg->dir);
        return DQLITED_EXIT_DATADIR;
    }
    return found ? claimOwned(cfg, path, owner) : claimNew(cfg, path, state);
}
