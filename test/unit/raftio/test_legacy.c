/* Decoders of dqlite 1.11's raft files (src/raftio/legacy_format.c): names,
 * raft's checksum, metadata, configurations, segments (closed: every byte
 * must check; open: a damaged or unwritten tail is dropped, as raft does),
 * snapshot .meta files and LZ4-framed data. Damage is refused, never read
 * past. */
#include <criterion/criterion.h>
#include <lz4frame.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "raft/raft.h"
#include "raftio/legacy.h"

Test(legacy, names)
{
    struct legacy_name p;
    legacyNameParse("metadata2", &p);
    cr_assert(p.kind == LEGACY_METADATA && p.a == 2);
    legacyNameParse("0000000000000017-0000000000000032", &p);
    cr_assert(p.kind == LEGACY_CLOSED && p.a == 17 && p.b == 32);
    legacyNameParse("open-12", &p);
    cr_assert(p.kind == LEGACY_OPEN && p.a == 12);
    legacyNameParse("snapshot-3-48-792632.meta", &p);
    cr_assert(p.kind == LEGACY_SNAP_META && p.a == 3 && p.b == 48 &&
              p.c == 792632);
    legacyNameParse("snapshot-3-48-792632", &p);
    cr_assert(p.kind == LEGACY_SNAP_DATA);
    const char *not_ours[] = {"metadata",
                              "metadata3",
                              "open-",
                              "open-1x",
                              "17-",
                              "-17",
                              "17-32-",
                              "snapshot-1-2.meta",
                              "snapshot-1-2-3.met",
                              "99999999999999999999999-1",
                              "seg-00000000000000000001",
                              "info.yaml"};
    for (size_t i = 0; i < sizeof not_ours / sizeof *not_ours; i++) {
        legacyNameParse(not_ours[i], &p);
        cr_assert_eq(p.kind, LEGACY_NONE, "%s", not_ours[i]);
    }
}

Test(legacy, checksum)
{
    /* CRC-32/POSIX's check value 0x765E7680 without its final complement */
    cr_assert_eq(legacyCrc32("123456789", 9, 0), 0x765E7680u ^ 0xFFFFFFFFu);
    uint32_t part = legacyCrc32("1234", 4, 0);
    cr_assert_eq(legacyCrc32("56789", 5, part), legacyCrc32("123456789", 9, 0));
}

static void putMeta(uint8_t *p, uint64_t format, uint64_t version,
                    uint64_t term, uint64_t vote)
{
    bytePut64(p, format);
    bytePut64(p + 8, version);
    bytePut64(p + 16, term);
    bytePut64(p + 24, vote);
}

Test(legacy, metadata)
{
    uint8_t p[32];
    uint64_t version, term, vote;
    putMeta(p, 1, 5, 7, 2);
    cr_assert_eq(legacyMetaDecode(p, 32, &version, &term, &vote), 0);
    cr_assert(version == 5 && term == 7 && vote == 2);
    cr_assert_eq(legacyMetaDecode(p, 31, &version, &term, &vote), 0);
    cr_assert_eq(version, 0, "a short file is a write cut by a crash");
    putMeta(p, 2, 5, 7, 2);
    cr_assert_eq(legacyMetaDecode(p, 32, &version, &term, &vote),
                 ERR_MALFORMED);
    putMeta(p, 1, 0, 7, 2);
    cr_assert_eq(legacyMetaDecode(p, 32, &version, &term, &vote),
                 ERR_MALFORMED);
}

/* A 1.11 configuration: version 1, count, then id, address, role each. */
static size_t encodeConf(uint8_t *p, uint64_t count, const uint8_t *roles)
{
    const char *addrs[] = {"127.0.0.1:9001", "@node2", "h3:1"};
    size_t off = 9;
    p[0] = 1;
    bytePut64(p + 1, count);
    for (uint64_t i = 0; i < count; i++) {
        bytePut64(p + off, i + 1);
        off += 8;
        memcpy(p + off, addrs[i], strlen(addrs[i]) + 1);
        off += strlen(addrs[i]) + 1;
        p[off++] = roles[i];
    }
    while (off % 8 != 0) {
        p[off++] = 0;
    }
    return off;
}

Test(legacy, configuration)
{
    uint8_t p[128];
    uint8_t roles[] = {1, 0, 2};
    struct raft_configuration c;
    size_t n = encodeConf(p, 3, roles);
    cr_assert_eq(legacyConfDecode(p, n, &c), 0);
    cr_assert_eq(c.n, 3);
    cr_assert_str_eq(c.servers[1].address, "@node2");
    cr_assert_eq(c.servers[0].role, RAFT_VOTER);
    cr_assert_eq(c.servers[1].role, RAFT_STANDBY);
    cr_assert_eq(c.servers[2].role, RAFT_SPARE);
    raftConfClose(&c);
    for (size_t cut = 0; cut < 40; cut++) { /* cut inside the servers */
        cr_assert_eq(legacyConfDecode(p, cut, &c), ERR_MALFORMED, "%zu", cut);
    }
    roles[2] = 3;
    n = encodeConf(p, 3, roles);
    cr_assert_eq(legacyConfDecode(p, n, &c), ERR_MALFORMED, "unknown role");
    n = encodeConf(p, 0, roles);
    cr_assert_eq(legacyConfDecode(p, n, &c), ERR_MALFORMED, "no server");
}

/* A segment of format 1 with one batch per entry of `lens` (payload byte
 * = index). Returns its length. */
static size_t encodeSegment(uint8_t *p, const uint32_t *lens, size_t n)
{
    bytePut64(p, 1);
    size_t off = 8;
    for (size_t i = 0; i < n; i++) {
        uint8_t *h = p + off + 8;
        bytePut64(h, 1);
        bytePut64(h + 8, 3); /* term */
        memset(h + 16, 0, 4);
        h[16] = RAFT_COMMAND;
        bytePut32(h + 20, lens[i]);
        memset(h + 24, (int)i + 1, lens[i]);
        bytePut32(p + off, legacyCrc32(h, 24, 0));
        bytePut32(p + off + 4, legacyCrc32(h + 24, lens[i], 0));
        off += 8 + 24 + lens[i];
    }
    return off;
}

Test(legacy, closed_segment)
{
    uint8_t p[512];
    uint32_t lens[] = {16, 8, 40};
    struct legacy_entry *e;
    size_t n, bad;
    size_t len = encodeSegment(p, lens, 3);
    cr_assert_eq(legacySegmentDecode(p, len, true, &e, &n, &bad), 0);
    cr_assert_eq(n, 3);
    cr_assert(e[2].len == 40 && e[2].term == 3 && e[2].data[0] == 3);
    libFree(e);
    p[8 + 32 + 3] ^= 1; /* a payload byte of the first batch */
    cr_assert_eq(legacySegmentDecode(p, len, true, &e, &n, &bad),
                 ERR_MALFORMED);
    cr_assert_eq(bad, 8);
    p[8 + 32 + 3] ^= 1;
    memset(p + len, 0, 64); /* zeros after a closed segment: damage */
    cr_assert_eq(legacySegmentDecode(p, len + 64, true, &e, &n, &bad),
                 ERR_MALFORMED);
    bytePut64(p, 2);
    cr_assert_eq(legacySegmentDecode(p, len, true, &e, &n, &bad), ERR_MALFORMED,
                 "format 2 is not format 1");
}

Test(legacy, open_segment_tail_dropped)
{
    uint8_t p[512];
    uint32_t lens[] = {16, 8, 40};
    struct legacy_entry *e;
    size_t n, bad;
    size_t len = encodeSegment(p, lens, 3);
    memset(p + len, 0, 100); /* preallocated, never written */
    cr_assert_eq(legacySegmentDecode(p, len + 100, false, &e, &n, &bad), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(bad, len);
    libFree(e);
    size_t second = 8 + 8 + 24 + 16;
    p[second + 10] ^= 0x10; /* damage in the second batch's header */
    cr_assert_eq(legacySegmentDecode(p, len, false, &e, &n, &bad), 0);
    cr_assert_eq(n, 1, "the rest was never acknowledged");
    cr_assert_eq(bad, second);
    libFree(e);
    for (size_t cut = 8; cut < len; cut++) { /* every torn write */
        cr_assert_eq(legacySegmentDecode(p, cut, false, &e, &n, &bad), 0);
        cr_assert_leq(n, 1);
        libFree(e);
    }
}

Test(legacy, snapshot_meta)
{
    uint8_t p[160];
    uint8_t roles[] = {1};
    uint64_t conf_index;
    const uint8_t *conf;
    size_t conf_len;
    size_t n = encodeConf(p + 32, 1, roles);
    bytePut64(p, 1);
    bytePut64(p + 16, 9);
    bytePut64(p + 24, n);
    uint32_t crc = legacyCrc32(p + 16, 16, 0);
    bytePut64(p + 8, legacyCrc32(p + 32, n, crc));
    cr_assert_eq(legacySnapMetaDecode(p, 32 + n, &conf_index, &conf, &conf_len),
                 0);
    cr_assert(conf_index == 9 && conf == p + 32 && conf_len == n);
    cr_assert_eq(legacySnapMetaDecode(p, 31 + n, &conf_index, &conf, &conf_len),
                 ERR_MALFORMED, "truncated");
    p[33] ^= 1;
    cr_assert_eq(legacySnapMetaDecode(p, 32 + n, &conf_index, &conf, &conf_len),
                 ERR_MALFORMED, "checksum");
}

Test(legacy, snapshot_data_lz4)
{
    size_t raw_len = 300000;
    uint8_t *raw = malloc(raw_len);
    for (size_t i = 0; i < raw_len; i++) {
        raw[i] = (uint8_t)(i / 1000);
    }
    size_t cap = LZ4F_compressFrameBound(raw_len, NULL);
    uint8_t *frame = malloc(cap);
    size_t frame_len = LZ4F_compressFrame(frame, cap, raw, raw_len, NULL);
    cr_assert(!LZ4F_isError(frame_len));
    uint8_t *out;
    size_t len;
    cr_assert_eq(legacySnapDataDecode(frame, frame_len, &out, &len), 0);
    cr_assert(len == raw_len && memcmp(out, raw, raw_len) == 0);
    libFree(out);
    cr_assert_eq(legacySnapDataDecode(frame, frame_len / 2, &out, &len),
                 ERR_MALFORMED, "truncated frame");
    cr_assert_eq(legacySnapDataDecode(raw, 1000, &out, &len), 0);
    cr_assert(len == 1000 && memcmp(out, raw, 1000) == 0, "not compressed");
    libFree(out);
    free(frame);
    free(raw);
}
