/*
 * Segment encoding and scanning (docs/disk-format.md §2). The torn-versus-
 * corrupt decision lives here: see segmentClassifyTail.
 */
#include "raftio/segment.h"

#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/crc32c.h"
#include "lib/err.h"

STATIC_ASSERT(RAFT_ENTRY_MAX_BYTES <= SEGMENT_ENTRY_MAX_BYTES,
              "every entry raft accepts must fit a segment record");

void segmentEncodeHeader(uint8_t out[SEGMENT_HEADER_SIZE], uint64_t first_index)
{
    PRE(first_index >= 1);
    memset(out, 0, SEGMENT_HEADER_SIZE);
    memcpy(out, SEGMENT_MAGIC, 8);
    bytePut32(out + 8, SEGMENT_VERSION);
    bytePut64(out + 16, first_index);
    bytePut32(out + 28, crc32c(0, out, 28));
}

int segmentDecodeHeader(const uint8_t *p, size_t n, uint64_t *first_index)
{
    if (n < SEGMENT_HEADER_SIZE) {
        return ERR_AGAIN;
    }
    if (memcmp(p, SEGMENT_MAGIC, 8) != 0 ||
        byteGet32(p + 28) != crc32c(0, p, 28)) {
        return ERR_MALFORMED;
    }
    if (byteGet32(p + 8) != SEGMENT_VERSION) {
        return ERR_DISK_VERSION;
    }
    *first_index = byteGet64(p + 16);
    return *first_index >= 1 ? 0 : ERR_MALFORMED;
}

uint64_t segmentRecordSize(uint64_t len)
{
    return SEGMENT_RECORD_HEADER_SIZE + bytePad8(len);
}

void segmentEncodeRecord(uint8_t *out, uint64_t index, uint64_t group_offset,
                         const struct raft_entry *e)
{
    PRE(e->len <= SEGMENT_ENTRY_MAX_BYTES);
    PRE(e->len == 0 || e->data != NULL);
    uint64_t padded = bytePad8(e->len);
    memset(out + 36, 0, 4);
    bytePut32(out + 4, crc32c(0, e->data, e->len));
    bytePut64(out + 8, index);
    bytePut64(out + 16, e->term);
    bytePut64(out + 24, group_offset);
    bytePut32(out + 32, (uint32_t)e->len);
    out[36] = e->type;
    bytePut32(out, crc32c(0, out + 4, SEGMENT_RECORD_HEADER_SIZE - 4));
    if (e->len > 0) {
        memcpy(out + SEGMENT_RECORD_HEADER_SIZE, e->data, e->len);
    }
    memset(out + SEGMENT_RECORD_HEADER_SIZE + e->len, 0, padded - e->len);
}

/* Only the header: enough to learn a record's group while searching. */
static int segmentDecodeRecordHeader(const uint8_t *p, size_t n,
                                     struct segment_record *r)
{
    if (n < SEGMENT_RECORD_HEADER_SIZE) {
        return ERR_AGAIN;
    }
    if (byteGet32(p) != crc32c(0, p + 4, SEGMENT_RECORD_HEADER_SIZE - 4)) {
        return ERR_MALFORMED;
    }
    r->index = byteGet64(p + 8);
    r->term = byteGet64(p + 16);
    r->group_offset = byteGet64(p + 24);
    r->len = byteGet32(p + 32);
    r->type = p[36];
    r->data = p + SEGMENT_RECORD_HEADER_SIZE;
    if (r->len > SEGMENT_ENTRY_MAX_BYTES || p[37] | p[38] | p[39]) {
        return ERR_MALFORMED;
    }
    return 0;
}

int segmentDecodeRecord(const uint8_t *p, size_t n, struct segment_record *r)
{
    int rv = segmentDecodeRecordHeader(p, n, r);
    if (rv != 0) {
        return rv;
    }
    if (n < segmentRecordSize(r->len)) {
        return ERR_AGAIN;
    }
    if (byteGet32(p + 4) != crc32c(0, r->data, r->len)) {
        return ERR_MALFORMED;
    }
    return 0;
}

/* The records of a write group are synced together, and the writer starts
 * the next group only after that sync returned. So if any record that
 * begins after `bad` carries a valid header whose group started after `bad`,
 * the group holding `bad` was synced (acknowledged) and the damage is
 * corruption. Otherwise the damage lies in the last, unsynced group: a torn
 * tail. */
static enum segment_tail segmentClassifyTail(const uint8_t *file, size_t n,
                                             uint64_t bad)
{
    struct segment_record r;
    for (uint64_t off = bad + 8; off + SEGMENT_RECORD_HEADER_SIZE <= n;
         off += 8) {
        if (segmentDecodeRecordHeader(file + off, n - off, &r) == 0 &&
            r.group_offset > bad && r.group_offset <= off) {
            return SEGMENT_TAIL_CORRUPT;
        }
    }
    return SEGMENT_TAIL_TORN;
}

static int scanAddOffset(struct segment_scan *s, size_t *cap, uint64_t off)
{
    if (s->n_records + 1 >= *cap) {
        size_t new_cap = *cap * 2;
        uint64_t *grown = libRealloc(s->offsets, new_cap * sizeof *grown);
        if (grown == NULL) {
            return ERR_NOMEM;
        }
        s->offsets = grown;
        *cap = new_cap;
    }
    s->offsets[s->n_records] = off;
    return 0;
}

/* A record is acceptable only at its expected index, inside its group. */
static int scanRecordOk(const struct segment_scan *s, uint64_t off,
                        const struct segment_record *r)
{
    return r->index == s->first_index + s->n_records &&
           r->group_offset >= SEGMENT_HEADER_SIZE && r->group_offset <= off;
}

int segmentScan(const uint8_t *file, size_t n, struct segment_scan *out)
{
    struct segment_scan s = {0};
    int rv = segmentDecodeHeader(file, n, &s.first_index);
    if (rv != 0) {
        return rv;
    }
    size_t cap = 64;
    s.offsets = libMalloc(cap * sizeof *s.offsets);
    if (s.offsets == NULL) {
        return ERR_NOMEM;
    }
    uint64_t off = SEGMENT_HEADER_SIZE;
    struct segment_record r;
    while (off < n && segmentDecodeRecord(file + off, n - off, &r) == 0 &&
           scanRecordOk(&s, off, &r)) {
        if (scanAddOffset(&s, &cap, off) != 0) {
            segmentScanFree(&s);
            return ERR_NOMEM;
        }
        s.n_records++;
        off += segmentRecordSize(r.len);
    }
    s.offsets[s.n_records] = off;
    s.valid_end = off;
    s.bad_offset = off;
    if (off >= n) {
        s.tail = SEGMENT_TAIL_CLEAN;
    } else if (segmentDecodeRecord(file + off, n - off, &r) == 0) {
        s.tail = SEGMENT_TAIL_CORRUPT; /* whole but out of place */
    } else {
        s.tail = segmentClassifyTail(file, n, off);
    }
    *out = s;
    POST(out->valid_end <= n);
    return 0;
}

void segmentScanFree(struct segment_scan *s)
{
    libFree(s->offsets);
    s->offsets = NULL;
}
