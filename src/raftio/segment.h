/*
 * The byte format of log segment files (docs/disk-format.md §2), as pure
 * functions over memory: encode a header or a record, decode one, and scan a
 * whole segment image to find where its valid records end and whether what
 * follows is a torn tail (an unacknowledged write cut by a crash) or damage
 * to acknowledged data. No I/O here, so the decoders are fuzzed directly.
 *
 * Entries are raft's `struct raft_entry` (raft/raft.h); encoding only reads
 * them. Ownership: decoders never allocate except segmentScan's offsets array,
 * which the caller frees with segmentScanFree. Decoded records point into
 * the caller's buffer.
 */
#ifndef RAFTIO_SEGMENT_H
#define RAFTIO_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define SEGMENT_MAGIC "DQLOGSEG"
#define SEGMENT_VERSION 1
#define SEGMENT_HEADER_SIZE 32
#define SEGMENT_RECORD_HEADER_SIZE 40
/* Largest payload of one entry (a transaction's WAL frames). */
#define SEGMENT_ENTRY_MAX_BYTES ((uint32_t)256 << 20)

struct segment_record {
    uint64_t index;
    uint64_t term;
    uint64_t group_offset; /* where this record's write group starts */
    uint8_t type;
    uint32_t len;
    const uint8_t *data; /* into the decoded buffer */
};

enum segment_tail {
    SEGMENT_TAIL_CLEAN = 0, /* every byte belongs to a valid record */
    SEGMENT_TAIL_TORN,      /* trailing bytes of an unsynced write group */
    SEGMENT_TAIL_CORRUPT    /* damage before data that was synced after it */
};

struct segment_scan {
    uint64_t first_index;
    uint64_t n_records;
    uint64_t *offsets;  /* n_records + 1: each record's offset, then the end */
    uint64_t valid_end; /* == offsets[n_records] */
    enum segment_tail tail;
    uint64_t bad_offset; /* where the tail starts (TORN or CORRUPT) */
};

void segmentEncodeHeader(uint8_t out[SEGMENT_HEADER_SIZE],
                         uint64_t first_index);

/* ERR_AGAIN when n is short, ERR_DISK_VERSION for a newer version,
 * ERR_MALFORMED otherwise. */
int segmentDecodeHeader(const uint8_t *p, size_t n, uint64_t *first_index);

/* Bytes a record with `len` payload bytes takes, padding included. */
uint64_t segmentRecordSize(uint64_t len);

/* Writes the record at `out` (segmentRecordSize(e->len) bytes). */
void segmentEncodeRecord(uint8_t *out, uint64_t index, uint64_t group_offset,
                         const struct raft_entry *e);

/* Decodes the record at the start of `p`: ERR_AGAIN when `n` bytes do not
 * hold it all, ERR_MALFORMED when a checksum or a field is wrong. */
int segmentDecodeRecord(const uint8_t *p, size_t n, struct segment_record *r);

/* Scans a whole segment image. Returns ERR_MALFORMED / ERR_DISK_VERSION /
 * ERR_AGAIN for a bad or short header (out untouched), ERR_NOMEM, or 0 with
 * `out` filled (tail says how the valid records end). */
int segmentScan(const uint8_t *file, size_t n, struct segment_scan *out);
void segmentScanFree(struct segment_scan *s);

#endif /* RAFTIO_SEGMENT_H */
