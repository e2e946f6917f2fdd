/*
 * libFuzzer target: the raft command decoder (repl/command.h). Any input
 * must decode or fail cleanly; what decodes must re-encode to the very same
 * bytes (the format has exactly one encoding per command).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "repl/command.h"

static void reencode(const struct repl_command *cmd, const uint8_t *data,
                     size_t size)
{
    struct buf out;
    bufInit(&out);
    int rv = 0;
    if (cmd->type == REPL_OPEN) {
        rv = replEncodeOpen(&out, cmd->name, cmd->page_size);
    } else if (cmd->type == REPL_UNDO) {
        rv = replEncodeUndo(&out, cmd->name);
    } else if (cmd->type == REPL_CHECKPOINT) {
        rv = replEncodeCheckpoint(&out, cmd->name);
    } else if (cmd->type == REPL_LOAD) {
        rv = replEncodeLoad(&out, cmd->name, &cmd->load);
    } else {
        const struct repl_frames *f = &cmd->frames;
        if (!(f->flags & REPL_FLAG_COMMIT)) {
            bufFree(&out);
            return; /* the encoder only writes commits */
        }
        uint32_t *pgnos = malloc(sizeof *pgnos * f->n_frames);
        const uint8_t **pages = malloc(sizeof *pages * f->n_frames);
        for (uint32_t i = 0; i < f->n_frames; i++) {
            pgnos[i] = replFramesPgno(f, i);
            pages[i] = f->pages + (size_t)i * f->page_size;
        }
        struct vfs_txn txn = {f->page_size, f->n_frames, f->db_size, pgnos,
                              pages};
        rv = replEncodeFrames(&out, cmd->name, &txn);
        free(pgnos);
        free(pages);
    }
    if (rv != 0 || out.len != size || memcmp(out.data, data, size) != 0) {
        abort();
    }
    bufFree(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct repl_command cmd;
    if (replDecode(data, size, &cmd) == 0) {
        reencode(&cmd, data, size);
    }
    return 0;
}
