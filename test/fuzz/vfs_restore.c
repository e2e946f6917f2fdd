/*
 * libFuzzer target: restoring a database from untrusted bytes (the flat
 * main-file-then-WAL form of dqlite_vfs_restore). Any input must be
 * refused cleanly or restored; what is restored must snapshot back to the
 * very same bytes, and SQLite must be able to open it without crashing.
 * The one difference allowed: a WAL of only a (valid) header, no frames,
 * is left out of the snapshot, as a snapshot leaves out any frame-less
 * WAL (docs/vfs.md).
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "vfs/vfs.h"

static void checkRoundTrip(struct vfs *v, const uint8_t *data, size_t size)
{
    struct vfs_snapshot *s;
    if (vfsSnapshotAcquire(v, "f.db", &s) != 0) {
        abort();
    }
    uint64_t len = vfsSnapshotFlatSize(&s->dbs[0]);
    uint8_t *flat = malloc(len == 0 ? 1 : len);
    vfsSnapshotFlatten(&s->dbs[0], true, flat);
    bool walless = s->dbs[0].n_frames == 0 && len + VFS_WAL_HDR_SIZE == size;
    if ((len != size && !walless) || memcmp(flat, data, len) != 0) {
        abort();
    }
    free(flat);
    vfsSnapshotRelease(s);
}

static void query(struct vfs *v)
{
    sqlite3 *conn;
    if (sqlite3_open_v2("f.db", &conn, SQLITE_OPEN_READWRITE, vfsName(v)) ==
        SQLITE_OK) {
        sqlite3_exec(conn, "SELECT * FROM sqlite_schema", NULL, NULL, NULL);
    }
    sqlite3_close(conn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vfs *v;
    if (v == NULL && vfsCreate("fuzz-restore", &v) != 0) {
        abort();
    }
    int rv = vfsRestoreFlat(v, "f.db", data, size);
    if (rv == 0) {
        checkRoundTrip(v, data, size);
        query(v);
    } else if (rv != ERR_CORRUPT) {
        abort();
    }
    return 0;
}
