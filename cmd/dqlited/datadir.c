/*
 * Who owns a data directory. The node's own files (metadata, seg-*, snap-*)
 * do not say which node wrote them, and starting node 2 on node 1's log
 * would corrupt the cluster, so the library keeps `node-id` (the id in
 * decimal and a newline), written once the node has started and checked at
 * every start (src/server/datadir.c). dqlited reads it here to learn its
 * id, and is stricter than the library: a directory with node state but no
 * node-id is refused. Other files in the directory are ignored.
 */
#include <dirent.h>
#include <errno.h>
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

/* The directory has a node-id file saying `owner`: that is the id, unless
 * --id says otherwise (then dqlite_node_start refuses the directory). */
static int claimOwned(struct config *cfg, uint64_t owner)
{
    if (cfg->id == 0) {
        cfg->id = owner;
    }
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
    return 0; /* dqlite_node_start writes node-id once the node runs */
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
    return found ? claimOwned(cfg, owner) : claimNew(cfg, path, state);
}

int datadirExitCode(int rv, int otherwise)
{
    switch (rv) {
    case DQLITE_CANTBOOTSTRAP:
        return DQLITED_EXIT_DATADIR;
    case DQLITE_LOCKED:
        return DQLITED_EXIT_INUSE;
    default:
        return otherwise;
    }
}
