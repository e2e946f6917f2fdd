/*
 * libFuzzer target: every decoder of raftio's on-disk bytes. The first
 * input byte picks one: a segment image (scanned, every accepted record
 * decoded again), the metadata file, or a snapshot file.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "raftio/meta.h"
#include "raftio/segment.h"
#include "raftio/snapshot.h"

static void fuzzSegment(const uint8_t *data, size_t size)
{
    struct segment_scan scan;
    if (segmentScan(data, size, &scan) != 0) {
        return;
    }
    for (uint64_t i = 0; i < scan.n_records; i++) {
        struct segment_record r;
        uint64_t off = scan.offsets[i];
        if (off >= size ||
            segmentDecodeRecord(data + off, size - off, &r) != 0 ||
            r.index != scan.first_index + i) {
            abort();
        }
    }
    if (scan.valid_end > size) {
        abort();
    }
    segmentScanFree(&scan);
}

static void fuzzSnapshot(const uint8_t *data, size_t size)
{
    struct snapshot_header m;
    uint8_t *conf, *out;
    size_t len;
    if (snapshotDecode(data, size, &m, &conf, &out, &len) == 0) {
        libFree(conf);
        libFree(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t term, vote;
    if (size == 0) {
        return 0;
    }
    switch (data[0] % 3) {
    case 0:
        fuzzSegment(data + 1, size - 1);
        break;
    case 1:
        metaDecode(data + 1, size - 1, &term, &vote);
        break;
    default:
        fuzzSnapshot(data + 1, size - 1);
    }
    return 0;
}
