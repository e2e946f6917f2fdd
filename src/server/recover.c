/*
 * Quorum-loss recovery (dqlite_node_recover, dqlite_node_recover_ext): on a
 * node that is created but not started, append a configuration entry that
 * replaces the cluster's membership, and make it durable.
 *
 * The entry goes right after the last one in the log (or the snapshot),
 * with the highest term the node knows, so the log stays well-formed. A
 * configuration takes effect as soon as it is in the log: when the node
 * starts, it is the membership it campaigns in, and once committed it is
 * replicated to the rest like any other. Committed data is untouched.
 */
#include <stdio.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "raft/raft.h"
#include "raftio/fs.h"
#include "raftio/log.h"
#include "raftio/meta.h"
#include "raftio/snapshot.h"
#include "server/datadir.h"
#include "server/node.h"
#include "server/replica_internal.h"

/* The last index and the highest term the node's disk knows. */
static int recoverTail(struct raftio_fs *fs, struct raftio_log *log,
                       uint64_t *last_index, uint64_t *term)
{
    struct raftio_loaded loaded;
    struct raft_snapshot_meta snap;
    uint64_t vote;
    uint8_t *data = NULL;
    size_t len;
    int rv = raftioMetaLoad(fs, term, &vote);
    if (rv != 0) {
        return rv;
    }
    *last_index = 0;
    rv = raftioSnapshotLoad(fs, &snap, &data, &len);
    if (rv == 0) {
        *last_index = snap.index;
        *term = snap.term > *term ? snap.term : *term;
        raftSnapshotMetaClose(&snap);
        libFree(data);
    } else if (rv != ERR_NOTFOUND) {
        return rv;
    }
    rv = raftioLogOpen(log, fs, NULL, &loaded);
    if (rv != 0) {
        return rv;
    }
    if (loaded.n_entries > 0) {
        const struct raft_entry *e = &loaded.entries[loaded.n_entries - 1];
        *last_index = loaded.first_index + loaded.n_entries - 1;
        *term = e->term > *term ? e->term : *term;
    }
    raftioLoadedFree(&loaded);
    return 0;
}

static int recoverAppend(struct raftio_log *log, uint64_t index, uint64_t term,
                         const struct raft_configuration *conf)
{
    struct raft_entry entry = {.term = term, .type = RAFT_CHANGE};
    int rv = raftConfEncodePayload(conf, &entry.data, &entry.len);
    if (rv != 0) {
        return rv;
    }
    rv = raftioLogAppend(log, index, &entry, 1);
    if (rv == 0) {
        rv = raftioLogSync(log);
    }
    raftPayloadUnref(entry.data);
    return rv;
}

static int recoverWrite(struct dqlite_node *n,
                        const struct raft_configuration *conf)
{
    struct raftio_fs fs;
    struct raftio_log log;
    uint64_t last_index;
    uint64_t term;
    char errmsg[512];
    /* a dqlite 1.11 directory is converted first, as at start */
    int rv = serverUpgradeDir(n->data_dir, NULL, NULL, errmsg, sizeof errmsg);
    if (rv != 0) {
        nodeErrorf(n, "recover: %s", errmsg);
        return rv;
    }
    rv = raftioFsPosixInit(&fs, n->data_dir);
    if (rv != 0) {
        return rv;
    }
    rv = recoverTail(&fs, &log, &last_index, &term);
    if (rv == 0) {
        rv = recoverAppend(&log, last_index + 1, term == 0 ? 1 : term, conf);
        raftioLogClose(&log);
    }
    fs.destroy(&fs);
    return rv;
}

int dqlite_node_recover_ext(dqlite_node *n, dqlite_node_info_ext infos[],
                            int n_info)
{
    struct raft_configuration conf;
    int rv = 0;
    if (n == NULL || n->state != NODE_CREATED || n_info <= 0) {
        return DQLITE_MISUSE;
    }
    n->errmsg[0] = '\0';
    raftConfInit(&conf);
    for (int i = 0; i < n_info && rv == 0; i++) {
        if (infos[i].size < DQLITE_NODE_INFO_EXT_SZ_ORIG ||
            infos[i].dqlite_role > DQLITE_SPARE) {
            rv = ERR_INVALID;
            break;
        }
        const char *address = (const char *)(uintptr_t)infos[i].address;
        rv =
            raftConfAdd(&conf, infos[i].id, address, (int)infos[i].dqlite_role);
    }
    if (rv == 0 && raftConfVoters(&conf) == 0) {
        rv = ERR_INVALID;
    }
    if (rv == 0) {
        /* Not on a directory another node runs on, nor on another's. */
        int lock_rv = nodeDirAcquire(n);
        if (lock_rv != 0) {
            raftConfClose(&conf);
            return lock_rv;
        }
        rv = recoverWrite(n, &conf);
        nodeDirRelease(n);
    }
    raftConfClose(&conf);
    if (rv != 0 && n->errmsg[0] == '\0') {
        nodeErrorf(n, "recover: %s", errString(rv));
    }
    if (rv != 0) {
        return rv == ERR_INVALID ? DQLITE_MISUSE : DQLITE_ERROR;
    }
    return 0;
}

int dqlite_node_recover(dqlite_node *n, dqlite_node_info infos[], int n_info)
{
    dqlite_node_info_ext *ext;
    if (n == NULL || n_info <= 0) {
        return DQLITE_MISUSE;
    }
    ext = libCalloc((size_t)n_info, sizeof *ext);
    if (ext == NULL) {
        return DQLITE_NOMEM;
    }
    for (int i = 0; i < n_info; i++) {
        ext[i].size = DQLITE_NODE_INFO_EXT_SZ_ORIG;
        ext[i].id = infos[i].id;
        ext[i].address = (uint64_t)(uintptr_t)infos[i].address;
        ext[i].dqlite_role = DQLITE_VOTER;
    }
    int rv = dqlite_node_recover_ext(n, ext, n_info);
    libFree(ext);
    return rv;
}
