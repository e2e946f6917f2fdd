/*
 * dqlite 1.11 data directories (canonical/raft's "uv" files) and their
 * one-time conversion to our formats (docs/disk-format.md §5).
 *
 * Why here: a user who swaps the reference libdqlite.so.0 for ours starts
 * our node on a directory of `metadata1`/`metadata2`, closed segments
 * `<first>-<last>`, open segments `open-<n>` and `snapshot-<term>-<index>-
 * <timestamp>[.meta]` files. Ignoring them would bootstrap an empty cluster
 * beside them and lose every row in silence. raftio owns every raft file,
 * so it owns reading these and writing their converted form; what the
 * state machine's bytes mean (dqlite 1.11's FSM commands and snapshot) is
 * src/repl's business, reached through the callbacks of
 * struct raftio_legacy_fsm that the node supplies.
 *
 * Two layers: pure, bounded decoders of the 1.11 bytes (fuzzed by
 * test/fuzz/raftio_legacy.c), and raftioLegacyUpgrade, which converts a
 * directory crash-safely: everything is written to a staging subdirectory
 * first; the staging directory is renamed to mark the conversion complete;
 * then the 1.11 files move into the backup subdirectory and ours into
 * place. An interruption before the mark leaves the 1.11 files untouched
 * (the staging directory is thrown away at the next start), after it the
 * next start finishes the moves.
 */
#ifndef RAFTIO_LEGACY_H
#define RAFTIO_LEGACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "raft/raft.h"
#include "raftio/log.h"

/* Subdirectories of the data directory (docs/disk-format.md §5). */
#define LEGACY_BACKUP_DIR "dqlite-1.11-backup"
#define LEGACY_STAGING_DIR "dqlite-1.11-convert.tmp"
#define LEGACY_DONE_DIR "dqlite-1.11-converted"

#define LEGACY_FORMAT 1     /* raft's uv disk format, all files */
#define LEGACY_META_SIZE 32 /* format, version, term, vote */
#define LEGACY_CONF_MAX_BYTES ((size_t)1 << 20)
#define LEGACY_SNAP_META_HEADER 32

/* ------------------------------------------------------------ names */

enum legacy_kind {
    LEGACY_NONE = 0,
    LEGACY_METADATA,  /* metadata1 or metadata2 (a = 1 or 2) */
    LEGACY_CLOSED,    /* <a>-<b>: entries a..b */
    LEGACY_OPEN,      /* open-<a> */
    LEGACY_SNAP_META, /* snapshot-<a term>-<b index>-<c timestamp>.meta */
    LEGACY_SNAP_DATA  /* snapshot-<a>-<b>-<c> */
};

struct legacy_name {
    enum legacy_kind kind;
    uint64_t a, b, c;
};

/* Classifies a file name of the data directory (LEGACY_NONE otherwise). */
void legacyNameParse(const char *name, struct legacy_name *out);

/* ------------------------------------------------------------ decoders */

/* raft's checksum: CRC-32 with polynomial 0x04C11DB7, most significant bit
 * first, no reflection and no final complement, continued from `crc`. */
uint32_t legacyCrc32(const void *buf, size_t n, uint32_t crc);

/* One metadata file: ERR_MALFORMED for a format other than 1 or a version
 * of 0. A file shorter than 32 bytes is a write cut by a crash and is
 * reported as *version = 0 (absent), as raft does. */
int legacyMetaDecode(const uint8_t *p, size_t n, uint64_t *version,
                     uint64_t *term, uint64_t *vote);

/* A 1.11 configuration into an uninitialised `c` (the caller closes it on
 * success). Roles map STANDBY 0 / VOTER 1 / SPARE 2 to ours. */
int legacyConfDecode(const uint8_t *p, size_t n, struct raft_configuration *c);

/* A snapshot's .meta file: the configuration bytes point into `p`. */
int legacySnapMetaDecode(const uint8_t *p, size_t n, uint64_t *conf_index,
                         const uint8_t **conf, size_t *conf_len);

/* An entry of a batch; `data` points into the segment image. */
struct legacy_entry {
    uint64_t term;
    uint8_t type; /* RAFT_COMMAND, RAFT_BARRIER or RAFT_CHANGE */
    uint32_t len;
    const uint8_t *data;
};

/* Every entry of a segment image (after its 8-byte format header).
 * `closed`: every byte must belong to a valid batch (ERR_MALFORMED, with
 * *bad_offset, otherwise). Open: decoding stops at the first batch that
 * does not check (raft's rule for an open segment: the rest was never
 * acknowledged); *bad_offset is then where the dropped bytes start, or n.
 * *entries is libMalloc'd (caller frees), NULL when *n_entries is 0. */
int legacySegmentDecode(const uint8_t *file, size_t n, bool closed,
                        struct legacy_entry **entries, size_t *n_entries,
                        size_t *bad_offset);

/* A snapshot data file, LZ4-frame compressed or not: *data (libMalloc'd,
 * caller frees) holds the state machine's bytes. */
int legacySnapDataDecode(const uint8_t *p, size_t n, uint8_t **data,
                         size_t *len);

/* ------------------------------------------------------------ upgrade */

/* What the state machine's bytes become, supplied by the node (src/repl).
 * Both return 0 or an error and then write a reason into `why`. */
struct raftio_legacy_fsm {
    void *arg;
    /* A 1.11 FSM snapshot at `index` into our snapshot encoding (`out`). */
    int (*snapshot)(void *arg, const uint8_t *data, size_t len, uint64_t index,
                    struct buf *out, char *why, size_t why_len);
    /* A 1.11 FSM command into one of ours (`out`), or *noop when it
     * changes no state (it becomes a BARRIER entry). Called in log order,
     * after `snapshot` when there is one. */
    int (*command)(void *arg, const uint8_t *data, size_t len, struct buf *out,
                   bool *noop, char *why, size_t why_len);
};

/* What raftioLegacyUpgrade did. */
enum legacy_outcome {
    LEGACY_NOTHING = 0, /* no 1.11 files: nothing to do */
    LEGACY_CONVERTED,   /* converted now */
    LEGACY_RESUMED      /* a conversion interrupted after its mark finished */
};

/* Converts the dqlite 1.11 files of `dir` in place, once (see the file
 * comment). On error nothing of the 1.11 files has changed and `errmsg`
 * names the file and the reason (ERR_CORRUPT, ERR_UNSUPPORTED, ERR_EXISTS
 * when the directory also holds our files, ERR_IO, ERR_NOMEM). */
int raftioLegacyUpgrade(const char *dir, const struct raftio_legacy_fsm *fsm,
                        raftio_logger_fn logger, void *logger_arg,
                        enum legacy_outcome *outcome, char *errmsg,
                        size_t errmsg_len);

#endif /* RAFTIO_LEGACY_H */
