/*
 * libFuzzer target: the snapshot decoder (repl/repl.h) and the VFS's
 * validation of the images it yields (vfsRestore into a scratch VFS).
 * Any input must be accepted or refused cleanly.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/err.h"
#include "repl/repl.h"
#include "vfs/vfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vfs *v;
    if (v == NULL && vfsCreate("fuzz-snapshot", &v) != 0) {
        abort();
    }
    struct repl r;
    replInit(&r, v);
    int rv = replSnapshotRestore(&r, data, size);
    if (rv != 0 && rv != ERR_MALFORMED && rv != ERR_UNSUPPORTED &&
        rv != ERR_CORRUPT) {
        abort();
    }
    return 0;
}
