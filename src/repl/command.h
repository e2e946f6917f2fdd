/*
 * The raft command codec: the bytes of the log entries that replicate
 * SQLite (docs/replication.md gives the format byte by byte).
 *
 * Pure: no I/O, no locks. Encoders append to a caller-owned struct buf.
 * The decoder reads a caller-owned buffer and, for FRAMES, points into it
 * (page numbers and page data are not copied): the decoded command is valid
 * as long as that buffer is. Every length is bounded by a named constant
 * and checked against the input; malformed input gives ERR_MALFORMED, a
 * version we do not know ERR_UNSUPPORTED.
 */
#ifndef REPL_COMMAND_H
#define REPL_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "raft/raft.h"
#include "vfs/vfs.h"

#define REPL_COMMAND_VERSION 1
#define REPL_MAX_NAME VFS_MAX_NAME
#define REPL_MAX_FRAMES VFS_MAX_TXN_FRAMES
#define REPL_FLAG_COMMIT 1u
/* Largest encoded FRAMES command: one raft entry. A transaction whose
 * pages do not fit is refused before anything of its size is allocated. */
#define REPL_MAX_TXN_BYTES RAFT_ENTRY_MAX_BYTES

enum repl_command_type {
    REPL_OPEN = 1,       /* create a database (page size) */
    REPL_FRAMES = 2,     /* WAL frames of one transaction */
    REPL_UNDO = 3,       /* discard a database's uncommitted frames */
    REPL_CHECKPOINT = 4, /* checkpoint a database */
    REPL_LOAD = 5,       /* one part of a database load (docs/restore.md) */
};

/* LOAD: part flags. */
#define REPL_LOAD_LAST 1u  /* install the staged database with this part */
#define REPL_LOAD_FORCE 2u /* LAST: replace the database if it exists */
#define REPL_LOAD_ABORT 4u /* drop the load's stage (alone, no pages) */
/* Most bytes of pages in one LOAD part (well under the entry limit). */
#define REPL_LOAD_PART_MAX ((uint32_t)16 << 20)
/* Longest target name of a LOAD: the stage's name adds a prefix and id. */
#define REPL_LOAD_MAX_NAME (REPL_MAX_NAME - 64)

struct repl_load_part {
    uint64_t id;     /* the load: its leader's term when it began */
    uint64_t total;  /* bytes of the whole file */
    uint64_t offset; /* of this part's pages in the file */
    uint32_t page_size;
    uint32_t flags;      /* REPL_LOAD_* */
    uint32_t len;        /* bytes of pages in this part (may be 0 if LAST) */
    const uint8_t *data; /* len bytes, borrowed */
};

struct repl_frames {
    uint32_t page_size;
    uint32_t n_frames;
    uint32_t db_size;            /* pages after commit; 0 if not commit */
    uint32_t flags;              /* REPL_FLAG_COMMIT */
    const uint8_t *page_numbers; /* n_frames little-endian u32, borrowed */
    const uint8_t *pages;        /* n_frames * page_size bytes, borrowed */
};

struct repl_command {
    uint8_t type;
    char name[REPL_MAX_NAME + 1]; /* NUL-terminated copy */
    uint32_t page_size;           /* REPL_OPEN */
    struct repl_frames frames;    /* REPL_FRAMES */
    struct repl_load_part load;   /* REPL_LOAD */
};

/* Encoders append one command to `out`. ERR_INVALID for a name that is
 * empty or longer than REPL_MAX_NAME, or a bad page size; ERR_TOOBIG for a
 * transaction above REPL_MAX_FRAMES frames, whose encoding would exceed
 * REPL_MAX_TXN_BYTES, or the buffer's limit (the transaction cannot be
 * replicated: abort it); that check comes before any allocation. `out` is
 * unchanged on error except for FRAMES, which restores its length. */
int replEncodeOpen(struct buf *out, const char *name, uint32_t page_size);
int replEncodeFrames(struct buf *out, const char *name,
                     const struct vfs_txn *txn);
int replEncodeUndo(struct buf *out, const char *name);
int replEncodeCheckpoint(struct buf *out, const char *name);

/* One LOAD part of `name` (ERR_INVALID if it breaks a bound of
 * replDecode's: alignment, sizes, flags). */
int replEncodeLoad(struct buf *out, const char *name,
                   const struct repl_load_part *part);

/* Bytes replEncodeFrames appends for `txn` of database `name`. */
uint64_t replFramesSize(const char *name, const struct vfs_txn *txn);

/* Decode one command (the whole of `data`). */
int replDecode(const uint8_t *data, size_t len, struct repl_command *out);

/* The type of the command in `data` from its header alone, without
 * decoding the rest; 0 when the header is too short or of another
 * version. A full decode may still refuse the command. */
int replPeekType(const uint8_t *data, size_t len);

/* Page number `i` of a decoded FRAMES command. */
uint32_t replFramesPgno(const struct repl_frames *f, uint32_t i);

#endif /* REPL_COMMAND_H */
