/*
 * libFuzzer target: the decoders of dqlite 1.11's raft files
 * (src/raftio/legacy_format.c). The first input byte picks one: a file
 * name, a metadata file, a configuration, a closed or an open segment, a
 * snapshot .meta file, a snapshot data file (LZ4 frame or raw). Every
 * accepted segment's entries must lie inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "raft/raft.h"
#include "raftio/legacy.h"

static void fuzzName(const uint8_t *data, size_t size)
{
    char name[128];
    size_t n = size < sizeof name - 1 ? size : sizeof name - 1;
    memcpy(name, data, n);
    name[n] = '\0';
    struct legacy_name p;
    legacyNameParse(name, &p);
}

static void fuzzSegment(const uint8_t *data, size_t size, bool closed)
{
    struct legacy_entry *e;
    size_t n, bad;
    if (legacySegmentDecode(data, size, closed, &e, &n, &bad) != 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (e[i].data < data || e[i].data + e[i].len > data + size) {
            abort();
        }
    }
    if (bad > size || (closed && bad != size)) {
        abort();
    }
    libFree(e);
}

static void fuzzConf(const uint8_t *data, size_t size)
{
    struct raft_configuration c;
    if (legacyConfDecode(data, size, &c) == 0) {
        raftConfClose(&c);
    }
}

static void fuzzSnap(const uint8_t *data, size_t size, bool meta)
{
    uint64_t conf_index;
    const uint8_t *conf;
    size_t len;
    uint8_t *out;
    if (meta) {
        if (legacySnapMetaDecode(data, size, &conf_index, &conf, &len) == 0 &&
            (conf < data || conf + len > data + size)) {
            abort();
        }
    } else if (legacySnapDataDecode(data, size, &out, &len) == 0) {
        libFree(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t version, term, vote;
    if (size == 0) {
        return 0;
    }
    switch (data[0] % 7) {
    case 0:
        fuzzName(data + 1, size - 1);
        break;
    case 1:
        legacyMetaDecode(data + 1, size - 1, &version, &term, &vote);
        break;
    case 2:
        fuzzConf(data + 1, size - 1);
        break;
    case 3:
    case 4:
        fuzzSegment(data + 1, size - 1, data[0] % 7 == 3);
        break;
    default:
        fuzzSnap(data + 1, size - 1, data[0] % 7 == 5);
    }
    return 0;
}
