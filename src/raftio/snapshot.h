/*
 * Snapshot files (docs/disk-format.md §4): raft metadata (last included
 * index and term, configuration) plus the state machine's bytes, split in
 * chunks that are each checksummed and optionally LZ4-compressed, so that
 * writing needs one chunk of extra memory whatever the snapshot's size.
 *
 * A snapshot is written to `snap-<index>.tmp`, synced, renamed to
 * `snap-<index>` and the directory synced: a file without .tmp is complete,
 * so any damage found in it is corruption (ERR_SNAPSHOT_CORRUPT), never a
 * torn write. After a new snapshot is durable the older ones except the
 * previous one are deleted.
 */
#ifndef RAFTIO_SNAPSHOT_H
#define RAFTIO_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"
#include "raftio/fs.h"

#define SNAPSHOT_MAGIC "DQLSNAP\n"
#define SNAPSHOT_VERSION 1
#define SNAPSHOT_HEADER_SIZE 64
#define SNAPSHOT_CHUNK_HEADER_SIZE 16
#define SNAPSHOT_CHUNK_BYTES ((uint32_t)1 << 20)
#define SNAPSHOT_CONF_MAX ((uint32_t)1 << 24)
#define SNAPSHOT_DATA_MAX ((uint64_t)1 << 36)
#define SNAPSHOT_FLAG_LZ4 1u

/* What a snapshot file's header says, with the configuration still in
 * raft's encoding (pointing into the decoded buffer or into *conf). */
struct snapshot_header {
    uint64_t index;
    uint64_t term;
    uint64_t conf_index;
    const uint8_t *conf;
    size_t conf_len;
};

/* A piece of the state machine's bytes, borrowed for the call. */
struct raftio_snapshot_buf {
    const void *base;
    size_t len;
};

/* A snapshot file being written piece by piece: memory stays one chunk
 * (plus its compressed copy) whatever the snapshot's size. */
struct raftio_snapshot_writer {
    struct raftio_fs *fs;
    int fd;
    uint64_t off;
    uint8_t *raw; /* SNAPSHOT_CHUNK_BYTES: bytes waiting to be chunked */
    size_t raw_len;
    uint8_t *stored; /* compression output */
    bool compress;
    uint32_t data_crc;
    uint64_t index;
    uint64_t data_len;   /* announced in the header */
    uint64_t written;    /* appended so far */
    uint64_t keep_index; /* also spared by the clean-up, 0: none (set after
                            Open: raftSnapshotPinned, a snapshot a transfer
                            to a follower still reads) */
};

/* Starts `snap-<index>.tmp` for exactly `data_len` bytes of state. Then
 * Append them in any pieces and Close: with `commit`, the file is synced,
 * renamed into place, the directory synced and older snapshots cleaned up
 * (ERR_INVALID if fewer than data_len bytes came); without, it is dropped.
 * After a failed Open there is nothing to close; after a failed Append,
 * Close(false). Blocking, like raftioSnapshotWrite. */
int raftioSnapshotWriterOpen(struct raftio_snapshot_writer *w,
                             struct raftio_fs *fs,
                             const struct raft_snapshot_meta *meta,
                             uint64_t data_len, bool compress);
int raftioSnapshotWriterAppend(struct raftio_snapshot_writer *w,
                               const void *data, size_t len);
int raftioSnapshotWriterClose(struct raftio_snapshot_writer *w, bool commit);

/* Writes the snapshot of `meta` (its configuration encoded with raft's
 * codec) durably, see above. Blocking: call from the writer thread or a
 * worker, never from the loop. */
int raftioSnapshotWrite(struct raftio_fs *fs,
                        const struct raft_snapshot_meta *meta,
                        const struct raftio_snapshot_buf *bufs, size_t n_bufs,
                        bool compress);

/* Loads and verifies the newest snapshot: ERR_NOTFOUND when there is none.
 * On success `meta` is filled (close it with raftSnapshotMetaClose) and
 * *data (libMalloc'd, *len bytes) belongs to the caller. */
int raftioSnapshotLoad(struct raftio_fs *fs, struct raft_snapshot_meta *meta,
                       uint8_t **data, size_t *len);

/* The same for the snapshot at `index` (ERR_NOTFOUND when its file is
 * gone): a follower installs exactly the snapshot its raft core received,
 * even when a newer one has arrived since. */
int raftioSnapshotLoadAt(struct raftio_fs *fs, uint64_t index,
                         struct raft_snapshot_meta *meta, uint8_t **data,
                         size_t *len);

/* Index of the newest complete snapshot file, ERR_NOTFOUND if none. */
int raftioSnapshotNewest(struct raftio_fs *fs, uint64_t *index);

/* Leader side of InstallSnapshot: the snapshot file's bytes are what
 * travels. Reads up to `len` bytes at `offset` of snapshot `index`;
 * *last when they reach the end of the file. */
int raftioSnapshotReadChunk(struct raftio_fs *fs, uint64_t index,
                            uint64_t offset, uint8_t *buf, size_t len,
                            size_t *got, bool *last);

/* Follower side: writes a received chunk to `snap-<index>.tmp` (offset 0
 * starts it over; any other offset must equal the bytes written so far,
 * else ERR_INVALID). With `last` the file is synced, verified completely
 * (ERR_SNAPSHOT_CORRUPT, and the file is dropped, if it does not decode to
 * a snapshot at `index`), renamed and the directory synced. A chunk that
 * fails with ERR_NOSPACE before the file is published is undone (the file
 * is cut back to `offset`), so the same chunk can be written again once
 * there is space. */
int raftioSnapshotWriteChunk(struct raftio_fs *fs,
                             const struct raft_snapshot_write *chunk);

/* Removes the temporary files of unfinished snapshots (`snap-<index>.tmp`)
 * whose index is below `below` (UINT64_MAX: all of them, at start-up when
 * nothing is being written); returns how many it removed. A received
 * snapshot's first chunk removes those below its own index, and a chunk
 * that fails for any reason but want of space removes its own file: an
 * interrupted install leaves nothing behind. */
unsigned raftioSnapshotRemoveTemps(struct raftio_fs *fs, uint64_t below);

/* Pure decoder of a whole snapshot file image (used by Load, fuzzed).
 * On success *conf and *data are libMalloc'd and owned by the caller
 * (h->conf points at *conf). ERR_SNAPSHOT_CORRUPT, ERR_DISK_VERSION,
 * ERR_NOMEM. */
int snapshotDecode(const uint8_t *file, size_t n, struct snapshot_header *h,
                   uint8_t **conf, uint8_t **data, size_t *len);

#endif /* RAFTIO_SNAPSHOT_H */
