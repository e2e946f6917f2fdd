/*
 * libFuzzer target: the translation of dqlite 1.11's state machine bytes
 * (src/repl/legacy.c). The first byte picks a 1.11 snapshot, or a
 * sequence of commands (each prefixed by a little-endian u16 length)
 * translated in order with the same state. Every command accepted must
 * decode with our own decoder (replDecode).
 */
#include <stdint.h>
#include <stdlib.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "repl/command.h"
#include "repl/legacy.h"
#include "repl/repl.h"

static void fuzzCommands(struct repl_legacy *l, const uint8_t *p, size_t n)
{
    struct repl_command *cmd = libMalloc(sizeof *cmd);
    char why[128];
    if (cmd == NULL) {
        return;
    }
    while (n >= 2) {
        size_t len = (size_t)p[0] | (size_t)p[1] << 8;
        p += 2;
        n -= 2;
        len = len < n ? len : n;
        struct buf out;
        bool noop;
        bufInit(&out);
        if (replLegacyCommand(l, p, len, &out, &noop, why, sizeof why) == 0 &&
            !noop && replDecode(out.data, out.len, cmd) != 0) {
            abort();
        }
        bufFree(&out);
        p += len;
        n -= len;
    }
    libFree(cmd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct repl_legacy l;
    char why[128];
    if (size == 0) {
        return 0;
    }
    replLegacyInit(&l);
    if (data[0] % 2 == 0) {
        struct buf out;
        struct repl_snapshot_view v;
        bufInit(&out);
        if (replLegacySnapshot(&l, data + 1, size - 1, 7, &out, why,
                               sizeof why) == 0) {
            if (replSnapshotDecode(out.data, out.len, &v) != 0) {
                abort();
            }
            replSnapshotViewFree(&v);
        }
        bufFree(&out);
    } else {
        fuzzCommands(&l, data + 1, size - 1);
    }
    replLegacyClose(&l);
    return 0;
}
