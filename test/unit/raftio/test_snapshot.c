/* Snapshot files: round trip with and without LZ4, several chunks, damage
 * detected, old snapshots cleaned up, and a power cut at every point of a
 * write leaves the old or the new snapshot loadable, never a broken one. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "memfs.h"
#include "raft/raft.h"
#include "raftio/snapshot.h"

static uint8_t *makeData(size_t len, int seed)
{
    uint8_t *d = malloc(len);
    for (size_t i = 0; i < len; i++) {
        d[i] = (uint8_t)((i / 100) * 7 + (size_t)seed); /* compressible */
    }
    return d;
}

static void makeConf(struct raft_snapshot_meta *m)
{
    raftConfInit(&m->conf);
    cr_assert_eq(raftConfAdd(&m->conf, 1, "127.0.0.1:9001", RAFT_VOTER), 0);
    cr_assert_eq(raftConfAdd(&m->conf, 2, "@node2", RAFT_STANDBY), 0);
    m->conf_index = m->index - 1;
}

static void writeSnap(struct raftio_fs *fs, uint64_t index, size_t len,
                      bool compress, int expect)
{
    uint8_t *d = makeData(len, (int)index);
    struct raft_snapshot_meta m = {.index = index, .term = 3};
    makeConf(&m);
    struct raftio_snapshot_buf bufs[2] = {{d, len / 3},
                                          {d + len / 3, len - len / 3}};
    int wrv = raftioSnapshotWrite(fs, &m, bufs, 2, compress);
    cr_assert_eq(wrv, expect, "%s", errString(wrv));
    raftConfClose(&m.conf);
    free(d);
}

static void checkSnap(struct raftio_fs *fs, uint64_t index, size_t len)
{
    struct raft_snapshot_meta m;
    uint8_t *data;
    size_t n;
    int rv = raftioSnapshotLoad(fs, &m, &data, &n);
    cr_assert_eq(rv, 0, "%s", errString(rv));
    cr_assert_eq(m.index, index);
    cr_assert_eq(m.term, 3);
    cr_assert_eq(m.conf_index, index - 1);
    cr_assert_eq(m.conf.n, 2);
    cr_assert_str_eq(m.conf.servers[1].address, "@node2");
    cr_assert_eq(n, len);
    uint8_t *want = makeData(len, (int)index);
    cr_assert_eq(memcmp(data, want, len), 0);
    free(want);
    raftSnapshotMetaClose(&m);
    free(data);
}

Test(snapshot, round_trip_plain_and_lz4)
{
    struct raftio_fs *fs = memfsCreate();
    uint8_t *data;
    size_t n;
    struct raft_snapshot_meta m;
    cr_assert_eq(raftioSnapshotLoad(fs, &m, &data, &n), ERR_NOTFOUND);
    writeSnap(fs, 10, 3 * 1024 * 1024 + 17, false, 0);
    checkSnap(fs, 10, 3 * 1024 * 1024 + 17);
    writeSnap(fs, 20, 2 * 1024 * 1024 + 5, true, 0);
    checkSnap(fs, 20, 2 * 1024 * 1024 + 5);
    writeSnap(fs, 30, 0, true, 0);
    checkSnap(fs, 30, 0);
    uint64_t size;
    cr_assert_eq(memfsFileSize(fs, "snap-00000000000000000010", &size),
                 ERR_NOTFOUND, "oldest snapshot not cleaned up");
    cr_assert_eq(memfsFileSize(fs, "snap-00000000000000000020", &size), 0);
    memfsDestroy(fs);
}

/* A follower installs the snapshot its core received, not the newest. */
Test(snapshot, load_at_an_index_while_a_newer_one_exists)
{
    struct raftio_fs *fs = memfsCreate();
    struct raft_snapshot_meta m;
    uint8_t *data;
    size_t n;
    writeSnap(fs, 10, 5000, false, 0);
    writeSnap(fs, 20, 7000, true, 0);
    cr_assert_eq(raftioSnapshotLoadAt(fs, 10, &m, &data, &n), 0);
    cr_assert_eq(m.index, 10);
    cr_assert_eq(n, 5000);
    uint8_t *want = makeData(5000, 10);
    cr_assert_eq(memcmp(data, want, n), 0);
    free(want);
    raftSnapshotMetaClose(&m);
    free(data);
    cr_assert_eq(raftioSnapshotLoadAt(fs, 15, &m, &data, &n), ERR_NOTFOUND);
    writeSnap(fs, 30, 100, false, 0); /* the one at 10 is cleaned up */
    cr_assert_eq(raftioSnapshotLoadAt(fs, 10, &m, &data, &n), ERR_NOTFOUND);
    checkSnap(fs, 30, 100);
    memfsDestroy(fs);
}

Test(snapshot, damage_is_reported)
{
    struct raftio_fs *fs = memfsCreate();
    writeSnap(fs, 7, 100000, true, 0);
    const char *name = "snap-00000000000000000007";
    uint64_t size;
    cr_assert_eq(memfsFileSize(fs, name, &size), 0);
    for (uint64_t off = 0; off < size; off += size / 23 + 1) {
        cr_assert_eq(memfsFlipByte(fs, name, off), 0);
        struct raft_snapshot_meta m;
        uint8_t *data;
        size_t n;
        cr_assert_eq(raftioSnapshotLoad(fs, &m, &data, &n),
                     ERR_SNAPSHOT_CORRUPT, "offset %lu", (unsigned long)off);
        cr_assert_eq(memfsFlipByte(fs, name, off), 0);
    }
    checkSnap(fs, 7, 100000);
    memfsDestroy(fs);
}

Test(snapshot, power_cut_at_every_point_of_a_write)
{
    int points = 0;
    for (long k = 0;; k++) {
        struct raftio_fs *fs = memfsCreate();
        writeSnap(fs, 5, 50000, true, 0);
        memfsStopAfter(fs, k);
        uint8_t *d = makeData(50000, 9);
        struct raft_snapshot_meta m = {.index = 9, .term = 3};
        makeConf(&m);
        struct raftio_snapshot_buf buf = {d, 50000};
        int rv = raftioSnapshotWrite(fs, &m, &buf, 1, true);
        raftConfClose(&m.conf);
        free(d);
        for (uint64_t s = 0; s < 3; s++, points++) {
            struct raftio_fs *crashed = memfsCrash(fs, s + (uint64_t)k * 7);
            struct raft_snapshot_meta got;
            uint8_t *data;
            size_t n;
            cr_assert_eq(raftioSnapshotLoad(crashed, &got, &data, &n), 0);
            cr_assert(got.index == 5 || got.index == 9);
            cr_assert(rv != 0 || got.index == 9, "completed write lost");
            raftSnapshotMetaClose(&got);
            free(data);
            memfsDestroy(crashed);
        }
        memfsDestroy(fs);
        if (rv == 0) {
            break;
        }
    }
    cr_assert_gt(points, 20);
}

/* InstallSnapshot: the leader's file travels in chunks and the follower
 * publishes it only once all of it verifies. */
static int transfer(struct raftio_fs *from, struct raftio_fs *to,
                    uint64_t index, size_t chunk, long flip_at)
{
    uint8_t buf[7000];
    uint64_t offset = 0;
    bool last = false;
    int rv = 0;
    while (!last && rv == 0) {
        size_t got;
        cr_assert_eq(raftioSnapshotReadChunk(from, index, offset, buf, chunk,
                                             &got, &last),
                     0);
        if (flip_at >= 0 && (uint64_t)flip_at >= offset &&
            (uint64_t)flip_at < offset + got) {
            buf[flip_at - (long)offset] ^= 1;
        }
        struct raft_snapshot_write w = {index, 3, offset, buf, got, last};
        rv = raftioSnapshotWriteChunk(to, &w);
        offset += got;
    }
    return rv;
}

Test(snapshot, chunked_transfer_verifies_before_publishing)
{
    struct raftio_fs *leader = memfsCreate();
    struct raftio_fs *follower = memfsCreate();
    writeSnap(leader, 12, 200000, true, 0);
    cr_assert_eq(transfer(leader, follower, 12, 7000, -1), 0);
    checkSnap(follower, 12, 200000);
    writeSnap(leader, 14, 20000, false, 0);
    cr_assert_eq(transfer(leader, follower, 14, 4096, 9000),
                 ERR_SNAPSHOT_CORRUPT);
    uint64_t newest;
    cr_assert_eq(raftioSnapshotNewest(follower, &newest), 0);
    cr_assert_eq(newest, 12, "a damaged snapshot was published");
    struct raft_snapshot_write gap = {14, 3,    100, (const uint8_t *)"x",
                                      1,  false};
    cr_assert_eq(raftioSnapshotWriteChunk(follower, &gap), ERR_INVALID);
    memfsDestroy(leader);
    memfsDestroy(follower);
}

/* A disk that fills during InstallSnapshot: the chunk that hit ENOSPC is
 * undone, and once there is space the same chunk, then the rest, make the
 * snapshot whole. The last chunk too (its verification comes after). */
Test(snapshot, a_chunk_refused_for_space_can_be_written_again)
{
    struct raftio_fs *leader = memfsCreate();
    struct raftio_fs *follower = memfsCreate();
    const char *tmp = "snap-00000000000000000012.tmp";
    uint8_t buf[7000];
    uint64_t offset = 0, size = 0;
    bool last = false;
    writeSnap(leader, 12, 100000, false, 0);
    for (int i = 0; !last; i++) {
        size_t got;
        cr_assert_eq(raftioSnapshotReadChunk(leader, 12, offset, buf,
                                             sizeof buf, &got, &last),
                     0);
        struct raft_snapshot_write w = {12, 3, offset, buf, got, last};
        if (i == 3 || last) {
            memfsSetSpace(follower, offset + got / 2); /* half fits */
            cr_assert_eq(raftioSnapshotWriteChunk(follower, &w), ERR_NOSPACE);
            cr_assert_eq(memfsFileSize(follower, tmp, &size), 0);
            cr_assert_eq(size, offset, "the refused chunk was not undone");
            memfsSetSpace(follower, 0);
        }
        cr_assert_eq(raftioSnapshotWriteChunk(follower, &w), 0);
        offset += got;
    }
    checkSnap(follower, 12, 100000);
    memfsDestroy(leader);
    memfsDestroy(follower);
}

/* An install that a disk-full interrupted, then superseded by a newer
 * snapshot, leaves no snap-*.tmp behind: the newer snapshot's first chunk
 * removes the older unfinished file; one that fails otherwise (here EIO)
 * removes its own; start-up removes any that is left. */
Test(snapshot, unfinished_received_snapshots_leave_no_tmp_file)
{
    struct raftio_fs *leader = memfsCreate();
    struct raftio_fs *follower = memfsCreate();
    const char *tmp12 = "snap-00000000000000000012.tmp";
    const char *tmp14 = "snap-00000000000000000014.tmp";
    uint8_t buf[7000];
    uint64_t size;
    size_t got;
    bool last;
    writeSnap(leader, 12, 100000, false, 0);
    writeSnap(leader, 14, 100000, false, 0);
    cr_assert_eq(
        raftioSnapshotReadChunk(leader, 12, 0, buf, sizeof buf, &got, &last),
        0);
    struct raft_snapshot_write w12 = {12, 3, 0, buf, got, false};
    cr_assert_eq(raftioSnapshotWriteChunk(follower, &w12), 0);
    memfsSetSpace(follower, got + 10); /* the disk fills */
    w12.offset = got;
    cr_assert_eq(raftioSnapshotWriteChunk(follower, &w12), ERR_NOSPACE);
    memfsSetSpace(follower, 0);
    cr_assert_eq(memfsFileSize(follower, tmp12, &size), 0);
    /* the leader moved on to a newer snapshot */
    cr_assert_eq(transfer(leader, follower, 14, 7000, -1), 0);
    checkSnap(follower, 14, 100000);
    cr_assert_eq(memfsFileSize(follower, tmp12, &size), ERR_NOTFOUND,
                 "the superseded snap-*.tmp is still there");
    /* a chunk failing with EIO drops its file */
    writeSnap(leader, 16, 100000, false, 0);
    cr_assert_eq(
        raftioSnapshotReadChunk(leader, 16, 0, buf, sizeof buf, &got, &last),
        0);
    struct raft_snapshot_write w16 = {16, 3, 0, buf, got, false};
    cr_assert_eq(raftioSnapshotWriteChunk(follower, &w16), 0);
    memfsFailNext(follower, MEMFS_WRITE, ERR_IO);
    w16.offset = got;
    cr_assert_eq(raftioSnapshotWriteChunk(follower, &w16), ERR_IO);
    cr_assert_eq(
        memfsFileSize(follower, "snap-00000000000000000016.tmp", &size),
        ERR_NOTFOUND);
    /* start-up: whatever is left goes */
    struct raft_snapshot_write w18 = {18, 3, 0, buf, 100, false};
    cr_assert_eq(raftioSnapshotWriteChunk(follower, &w18), 0);
    cr_assert_eq(raftioSnapshotRemoveTemps(follower, UINT64_MAX), 1);
    cr_assert_eq(
        memfsFileSize(follower, "snap-00000000000000000018.tmp", &size),
        ERR_NOTFOUND);
    cr_assert_eq(memfsFileSize(follower, tmp14, &size), ERR_NOTFOUND);
    memfsDestroy(leader);
    memfsDestroy(follower);
}

/* The streaming writer: pieces of any size make the same file; a short or
 * an aborted stream publishes nothing. */
Test(snapshot, streaming_writer_in_uneven_pieces)
{
    struct raftio_fs *fs = memfsCreate();
    size_t len = 3 * SNAPSHOT_CHUNK_BYTES + 12345;
    uint8_t *d = makeData(len, 11);
    struct raft_snapshot_meta m = {.index = 11, .term = 3};
    struct raftio_snapshot_writer w;
    makeConf(&m);
    cr_assert_eq(raftioSnapshotWriterOpen(&w, fs, &m, len, true), 0);
    for (size_t off = 0, piece = 1; off < len; off += piece, piece *= 3) {
        size_t take = piece < len - off ? piece : len - off;
        cr_assert_eq(raftioSnapshotWriterAppend(&w, d + off, take), 0);
    }
    cr_assert_eq(raftioSnapshotWriterAppend(&w, d, 1), ERR_INVALID,
                 "more than announced");
    cr_assert_eq(raftioSnapshotWriterClose(&w, true), 0);
    checkSnap(fs, 11, len);

    m.index = 12;
    cr_assert_eq(raftioSnapshotWriterOpen(&w, fs, &m, len, false), 0);
    cr_assert_eq(raftioSnapshotWriterAppend(&w, d, len / 2), 0);
    cr_assert_eq(raftioSnapshotWriterClose(&w, true), ERR_INVALID,
                 "fewer bytes than announced");
    cr_assert_eq(raftioSnapshotWriterOpen(&w, fs, &m, len, false), 0);
    cr_assert_eq(raftioSnapshotWriterClose(&w, false), 0);
    m.index = 11;
    checkSnap(fs, 11, len); /* still the newest complete one */
    raftConfClose(&m.conf);
    free(d);
    memfsDestroy(fs);
}

/* A snapshot still being sent to a follower (the core's
 * raftSnapshotPinned) survives the clean-up after newer ones are written:
 * deleting it would restart a slow transfer (issue 15, finding 11). */
Test(snapshot, writer_keeps_the_snapshot_a_transfer_reads)
{
    struct raftio_fs *fs = memfsCreate();
    struct raft_snapshot_meta m = {.index = 30, .term = 3};
    struct raftio_snapshot_writer w;
    uint8_t *data;
    size_t n;
    struct raft_snapshot_meta got;
    writeSnap(fs, 10, 4000, false, 0);
    writeSnap(fs, 20, 4000, false, 0);
    makeConf(&m);
    uint8_t *d = makeData(300, 30);
    cr_assert_eq(raftioSnapshotWriterOpen(&w, fs, &m, 300, false), 0);
    w.keep_index = 10;
    cr_assert_eq(raftioSnapshotWriterAppend(&w, d, 300), 0);
    cr_assert_eq(raftioSnapshotWriterClose(&w, true), 0);
    cr_assert_eq(raftioSnapshotLoadAt(fs, 10, &got, &data, &n), 0,
                 "the snapshot in flight was deleted");
    raftSnapshotMetaClose(&got);
    free(data);
    m.index = 40;
    cr_assert_eq(raftioSnapshotWriterOpen(&w, fs, &m, 300, false), 0);
    cr_assert_eq(raftioSnapshotWriterAppend(&w, d, 300), 0);
    cr_assert_eq(raftioSnapshotWriterClose(&w, true), 0); /* no keep */
    cr_assert_eq(raftioSnapshotLoadAt(fs, 10, &got, &data, &n), ERR_NOTFOUND);
    cr_assert_eq(raftioSnapshotLoadAt(fs, 20, &got, &data, &n), ERR_NOTFOUND);
    cr_assert_eq(raftioSnapshotLoadAt(fs, 30, &got, &data, &n), 0);
    raftSnapshotMetaClose(&got);
    free(data);
    raftConfClose(&m.conf);
    free(d);
    memfsDestroy(fs);
}

/* A follower's own snapshot and a received one are written by two threads
 * (the snapshot worker, the raftio writer). This fs forwards to memfs and,
 * right after the own snapshot's rename into place (before its clean-up),
 * publishes the leader's snapshot as the writer thread may do then. */
struct race_fs {
    struct raftio_fs fs; /* first: the seam's pointer is this struct's */
    struct raftio_fs *inner;
    struct raftio_fs *leader;
    uint64_t received;
    bool fired;
};

static struct raftio_fs *raceInner(struct raftio_fs *fs)
{
    return ((struct race_fs *)fs)->inner;
}
static int raceOpen(struct raftio_fs *fs, const char *name, int flags, int *fd)
{
    return raceInner(fs)->open(raceInner(fs), name, flags, fd);
}
static void raceClose(struct raftio_fs *fs, int fd)
{
    raceInner(fs)->close(raceInner(fs), fd);
}
static int racePwrite(struct raftio_fs *fs, int fd, const void *buf, size_t n,
                      uint64_t off)
{
    return raceInner(fs)->pwrite(raceInner(fs), fd, buf, n, off);
}
static int racePread(struct raftio_fs *fs, int fd, void *buf, size_t n,
                     uint64_t off, size_t *got)
{
    return raceInner(fs)->pread(raceInner(fs), fd, buf, n, off, got);
}
static int raceSize(struct raftio_fs *fs, int fd, uint64_t *size)
{
    return raceInner(fs)->size(raceInner(fs), fd, size);
}
static int raceTruncate(struct raftio_fs *fs, int fd, uint64_t size)
{
    return raceInner(fs)->truncate(raceInner(fs), fd, size);
}
static int raceSync(struct raftio_fs *fs, int fd)
{
    return raceInner(fs)->sync(raceInner(fs), fd);
}
static int raceRename(struct raftio_fs *fs, const char *from, const char *to)
{
    struct race_fs *r = (struct race_fs *)fs;
    int rv = r->inner->rename(r->inner, from, to);
    if (rv == 0 && !r->fired) { /* published, not yet cleaned up */
        r->fired = true;
        cr_assert_eq(transfer(r->leader, r->inner, r->received, 4096, -1), 0);
    }
    return rv;
}
static int raceUnlink(struct raftio_fs *fs, const char *name)
{
    return raceInner(fs)->unlink(raceInner(fs), name);
}
static int raceSyncDir(struct raftio_fs *fs)
{
    return raceInner(fs)->syncDir(raceInner(fs));
}
static int raceList(struct raftio_fs *fs, char ***names, size_t *n)
{
    return raceInner(fs)->list(raceInner(fs), names, n);
}

Test(snapshot, own_snapshot_spares_one_received_meanwhile)
{
    struct raftio_fs *leader = memfsCreate();
    struct raftio_fs *follower = memfsCreate();
    writeSnap(leader, 384, 30000, true, 0);
    writeSnap(follower, 32, 3000, true, 0);
    struct race_fs race = {
        .inner = follower, .leader = leader, .received = 384};
    race.fs = *follower;
    race.fs.open = raceOpen;
    race.fs.close = raceClose;
    race.fs.pwrite = racePwrite;
    race.fs.pread = racePread;
    race.fs.size = raceSize;
    race.fs.truncate = raceTruncate;
    race.fs.sync = raceSync;
    race.fs.rename = raceRename;
    race.fs.unlink = raceUnlink;
    race.fs.syncDir = raceSyncDir;
    race.fs.list = raceList;
    race.fs.destroy = NULL;
    writeSnap(&race.fs, 64, 3000, true, 0);
    cr_assert(race.fired);
    /* The core announced 384 for install: its file must still be there. */
    struct raft_snapshot_meta m;
    uint8_t *data;
    size_t n;
    int rv = raftioSnapshotLoadAt(follower, 384, &m, &data, &n);
    cr_assert_eq(rv, 0, "the received snapshot was deleted: %s", errString(rv));
    cr_assert_eq(n, 30000);
    raftSnapshotMetaClose(&m);
    free(data);
    checkSnap(follower, 384, 30000);
    memfsDestroy(follower);
    memfsDestroy(leader);
}
