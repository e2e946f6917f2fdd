/*
 * The durable raft log: a directory of segment files (docs/disk-format.md
 * §2) behind a synchronous API. This layer owns crash safety: every
 * function leaves the files in a state that reloads correctly if the
 * process or the machine dies at any instruction, and the loader repairs
 * a torn tail by itself while refusing (ERR_LOG_CORRUPT) to drop an entry
 * that was synced.
 *
 * Write groups: raftioLogAppend may be called many times between two
 * raftioLogSync calls; all records appended in between form one write group
 * and become durable with one fdatasync. Nothing appended after a sync is
 * written before that sync returned, which is what lets the loader tell a
 * torn tail from corruption.
 *
 * Threading: a raftio_log is used by one thread at a time (the group-commit
 * writer thread, see writer.h, or a test). It never blocks on anything but
 * the file system.
 */
#ifndef RAFTIO_LOG_H
#define RAFTIO_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "raftio/fs.h"
#include "raftio/segment.h"

enum { RAFTIO_LOG_INFO = 1, RAFTIO_LOG_WARN = 2, RAFTIO_LOG_ERROR = 3 };

/* Receives human-readable notes (torn tail repaired, corruption found). */
typedef void (*raftio_logger_fn)(void *arg, int level, const char *msg);

#define RAFTIO_SEGMENT_MAX_BYTES_DEFAULT ((uint64_t)8 << 20)

struct raftio_log_options {
    uint64_t segment_max_bytes; /* roll to a new segment past this; 0 = 8MiB */
    raftio_logger_fn logger;    /* may be NULL */
    void *logger_arg;
    /* The loader's bound (docs/raft.md, "Memory"): of the entries with
     * index <= keep_before (those the last snapshot covers) it keeps in
     * `loaded` only the newest ones holding at most keep_bytes of payload,
     * and always the newest one. 0: keep everything. */
    uint64_t keep_before;
    uint64_t keep_bytes;
};

/* What the loader found. The struct owns one reference to each entry's
 * payload block (raftPayloadAlloc; NULL when empty), dropped by
 * raftioLoadedFree: pass the entries to raftCreate (which takes its own
 * references), then free this. */
struct raftio_loaded {
    uint64_t first_index; /* index of entries[0]; 0 when n_entries == 0 */
    struct raft_entry *entries;
    size_t n_entries;
    uint64_t torn_bytes; /* bytes of torn tail dropped at load */
    uint64_t dropped;    /* entries the loader's bound left on disk only */
};

struct raftio_log_seg {
    char name[RAFTIO_FS_NAME_MAX];
    uint64_t first_index;
    uint64_t n_entries;
    uint64_t *offsets; /* n_entries + 1 (record offsets, then end) */
    size_t offsets_cap;
};

struct raftio_log {
    struct raftio_fs *fs; /* borrowed */
    struct raftio_log_seg *segs;
    size_t n_segs;
    size_t segs_cap;
    int fd;                /* last segment, open for appending, or -1 */
    uint64_t group_offset; /* start of the unsynced group, 0 if none */
    uint64_t segment_max_bytes;
    bool failed; /* an error left the tail unknown: reopen */
    raftio_logger_fn logger;
    void *logger_arg;
    struct buf scratch; /* encoding buffer of one append */
};

/* Loads and verifies every segment (repairing a torn tail) and fills
 * `loaded`. ERR_LOG_CORRUPT when acknowledged data is damaged or missing,
 * ERR_DISK_VERSION, ERR_IO, ERR_NOMEM. On error nothing is kept open. */
int raftioLogOpen(struct raftio_log *log, struct raftio_fs *fs,
                  const struct raftio_log_options *opts,
                  struct raftio_loaded *loaded);
void raftioLogClose(struct raftio_log *log);
void raftioLoadedFree(struct raftio_loaded *loaded);

/* First and last index held (0, 0 when empty). */
void raftioLogRange(const struct raftio_log *log, uint64_t *first,
                    uint64_t *last);

/* Writes entries first_index.. (not yet durable). first_index must be
 * last + 1, or anything >= 1 on an empty log. Entries are borrowed for the
 * call only. On ERR_NOSPACE / ERR_IO the log is unchanged (the partial write
 * is cut off) and the append may be retried; if even that fails the log
 * turns failed and every later call returns ERR_LOG_FAILED. */
int raftioLogAppend(struct raftio_log *log, uint64_t first_index,
                    const struct raft_entry *entries, size_t n);

/* Makes everything appended so far durable (one fdatasync). */
int raftioLogSync(struct raftio_log *log);

/* Durably deletes entries >= index (a conflicting suffix). */
int raftioLogTruncate(struct raftio_log *log, uint64_t index);

/* Durably deletes whole segments whose entries are all <= index (after a
 * snapshot at `index`); the segment being appended to is kept. */
int raftioLogCompact(struct raftio_log *log, uint64_t index);

/* Durably deletes everything (a snapshot from the leader replaced the log). */
int raftioLogReset(struct raftio_log *log);

#endif /* RAFTIO_LOG_H */
