/* The durable log through its synchronous API: round trips across segment
 * rolls, truncation, compaction, torn-tail repair, corruption refusal,
 * metadata, and disk-full / I/O-error behaviour. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helpers.h"
#include "lib/err.h"
#include "memfs.h"
#include "raftio/log.h"
#include "raftio/meta.h"

static char notes[4096];

static void noteLogger(void *arg, int level, const char *msg)
{
    (void)arg;
    (void)level;
    strncat(notes, msg, sizeof notes - strlen(notes) - 2);
    strcat(notes, "\n");
}

static const struct raftio_log_options small_segments = {
    .segment_max_bytes = 2048, .logger = noteLogger};

/* Appends [first, last] in `term`, in groups of `group`, syncing each. */
static void appendRange(struct raftio_log *log, uint64_t first, uint64_t last,
                        uint64_t term, size_t group)
{
    uint8_t storage[64][300];
    struct raft_entry batch[64];
    cr_assert(group <= 64);
    for (uint64_t i = first; i <= last;) {
        size_t n = 0;
        for (; n < group && i <= last; n++, i++) {
            batch[n] = helperEntry(storage[n], i, term);
        }
        cr_assert_eq(raftioLogAppend(log, i - n, batch, n), 0);
        cr_assert_eq(raftioLogSync(log), 0);
    }
}

static void checkLoaded(const struct raftio_loaded *l, uint64_t first,
                        uint64_t last, uint64_t term)
{
    cr_assert_eq(l->n_entries, last - first + 1, "n=%zu", l->n_entries);
    cr_assert_eq(l->first_index, first);
    for (size_t i = 0; i < l->n_entries; i++) {
        cr_assert(helperCheck(&l->entries[i], first + i, term), "entry %zu",
                  first + i);
    }
}

static void reopen(struct raftio_log *log, struct raftio_fs *fs,
                   struct raftio_loaded *l)
{
    raftioLogClose(log);
    cr_assert_eq(raftioLogOpen(log, fs, &small_segments, l), 0);
}

Test(log, round_trip_across_segments_on_disk)
{
    char dir[] = "/tmp/raftio-log-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    struct raftio_fs fs;
    struct raftio_log log;
    struct raftio_loaded l;
    cr_assert_eq(raftioFsPosixInit(&fs, dir), 0);
    cr_assert_eq(raftioLogOpen(&log, &fs, &small_segments, &l), 0);
    cr_assert_eq(l.n_entries, 0);
    appendRange(&log, 1, 200, 1, 7);
    cr_assert_gt(log.n_segs, 5);
    reopen(&log, &fs, &l);
    checkLoaded(&l, 1, 200, 1);
    raftioLoadedFree(&l);
    appendRange(&log, 201, 210, 1, 3);
    reopen(&log, &fs, &l);
    checkLoaded(&l, 1, 210, 1);
    raftioLoadedFree(&l);
    raftioLogClose(&log);
    fs.destroy(&fs);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(log, truncate_suffix_then_append_new_term)
{
    struct raftio_fs *fs = memfsCreate();
    struct raftio_log log;
    struct raftio_loaded l;
    cr_assert_eq(raftioLogOpen(&log, fs, &small_segments, &l), 0);
    appendRange(&log, 1, 100, 1, 5);
    cr_assert_eq(raftioLogTruncate(&log, 40), 0);
    appendRange(&log, 40, 60, 2, 4);
    reopen(&log, fs, &l);
    cr_assert_eq(l.n_entries, 60);
    for (uint64_t i = 1; i <= 60; i++) {
        cr_assert(helperCheck(&l.entries[i - 1], i, i < 40 ? 1 : 2));
    }
    raftioLoadedFree(&l);
    cr_assert_eq(raftioLogReset(&log), 0);
    appendRange(&log, 500, 510, 3, 2);
    reopen(&log, fs, &l);
    checkLoaded(&l, 500, 510, 3);
    raftioLoadedFree(&l);
    raftioLogClose(&log);
    memfsDestroy(fs);
}

Test(log, compact_drops_whole_old_segments_only)
{
    struct raftio_fs *fs = memfsCreate();
    struct raftio_log log;
    struct raftio_loaded l;
    uint64_t first, last;
    cr_assert_eq(raftioLogOpen(&log, fs, &small_segments, &l), 0);
    appendRange(&log, 1, 300, 1, 9);
    cr_assert_eq(raftioLogCompact(&log, 150), 0);
    raftioLogRange(&log, &first, &last);
    cr_assert_gt(first, 50);
    cr_assert_leq(first, 151);
    cr_assert_eq(last, 300);
    reopen(&log, fs, &l);
    checkLoaded(&l, first, 300, 1);
    raftioLoadedFree(&l);
    raftioLogClose(&log);
    memfsDestroy(fs);
}

Test(log, torn_tail_is_cut_and_reported)
{
    struct raftio_fs *fs = memfsCreate();
    struct raftio_log log;
    struct raftio_loaded l;
    uint8_t storage[300];
    cr_assert_eq(raftioLogOpen(&log, fs, NULL, &l), 0);
    appendRange(&log, 1, 20, 1, 4);
    struct raft_entry e = helperEntry(storage, 21, 1);
    cr_assert_eq(raftioLogAppend(&log, 21, &e, 1), 0);
    char name[RAFTIO_FS_NAME_MAX];
    strcpy(name, log.segs[0].name);
    uint64_t size;
    cr_assert_eq(memfsFileSize(fs, name, &size), 0);
    raftioLogClose(&log);
    /* a crash that kept the unsynced record only partly */
    int fd;
    cr_assert_eq(fs->open(fs, name, 0, &fd), 0);
    cr_assert_eq(fs->truncate(fs, fd, size - 5), 0);
    fs->close(fs, fd);
    notes[0] = '\0';
    cr_assert_eq(raftioLogOpen(&log, fs, &small_segments, &l), 0);
    checkLoaded(&l, 1, 20, 1);
    cr_assert_gt(l.torn_bytes, 0);
    cr_assert(strstr(notes, "torn tail") != NULL, "%s", notes);
    raftioLoadedFree(&l);
    appendRange(&log, 21, 30, 1, 3);
    reopen(&log, fs, &l);
    checkLoaded(&l, 1, 30, 1);
    raftioLoadedFree(&l);
    raftioLogClose(&log);
    memfsDestroy(fs);
}

/* Flips one payload byte of entry `index` and expects ERR_LOG_CORRUPT. */
static void expectCorrupt(uint64_t index, uint64_t last)
{
    struct raftio_fs *fs = memfsCreate();
    struct raftio_log log;
    struct raftio_loaded l;
    cr_assert_eq(raftioLogOpen(&log, fs, &small_segments, &l), 0);
    appendRange(&log, 1, last, 1, 4);
    size_t s = 0;
    while (s + 1 < log.n_segs && log.segs[s + 1].first_index <= index) {
        s++;
    }
    char name[RAFTIO_FS_NAME_MAX];
    strcpy(name, log.segs[s].name);
    uint64_t off = log.segs[s].offsets[index - log.segs[s].first_index];
    raftioLogClose(&log);
    cr_assert_eq(memfsFlipByte(fs, name, off + 10), 0);
    notes[0] = '\0';
    cr_assert_eq(raftioLogOpen(&log, fs, &small_segments, &l), ERR_LOG_CORRUPT);
    cr_assert(strstr(notes, "refusing to start") != NULL, "%s", notes);
    memfsDestroy(fs);
}

Test(log, damaged_acknowledged_entry_is_refused)
{
    expectCorrupt(3, 100);  /* in an old segment */
    expectCorrupt(95, 100); /* before a later group */
}

Test(log, metadata_round_trip_and_corruption)
{
    struct raftio_fs *fs = memfsCreate();
    uint64_t term, vote;
    cr_assert_eq(raftioMetaLoad(fs, &term, &vote), 0);
    cr_assert_eq(term, 0);
    cr_assert_eq(raftioMetaStore(fs, 5, 2), 0);
    cr_assert_eq(raftioMetaStore(fs, 6, 3), 0);
    cr_assert_eq(raftioMetaLoad(fs, &term, &vote), 0);
    cr_assert_eq(term, 6);
    cr_assert_eq(vote, 3);
    cr_assert_eq(memfsFlipByte(fs, META_FILE, 17), 0);
    cr_assert_eq(raftioMetaLoad(fs, &term, &vote), ERR_META_CORRUPT);
    memfsDestroy(fs);
}

Test(log, disk_full_fails_cleanly_and_recovers)
{
    struct raftio_fs *fs = memfsCreate();
    struct raftio_log log;
    struct raftio_loaded l;
    cr_assert_eq(raftioLogOpen(&log, fs, &small_segments, &l), 0);
    appendRange(&log, 1, 50, 1, 5);
    memfsSetSpace(fs, 1); /* already over: nothing more fits */
    uint8_t storage[8][300];
    struct raft_entry batch[8];
    for (int i = 0; i < 8; i++) {
        batch[i] = helperEntry(storage[i], 51 + (uint64_t)i, 1);
    }
    cr_assert_eq(raftioLogAppend(&log, 51, batch, 8), ERR_NOSPACE);
    cr_assert_eq(raftioLogAppend(&log, 51, batch, 8), ERR_NOSPACE);
    reopen(&log, fs, &l);
    checkLoaded(&l, 1, 50, 1);
    raftioLoadedFree(&l);
    memfsSetSpace(fs, 0);
    cr_assert_eq(raftioLogAppend(&log, 51, batch, 8), 0);
    cr_assert_eq(raftioLogSync(&log), 0);
    reopen(&log, fs, &l);
    checkLoaded(&l, 1, 58, 1);
    raftioLoadedFree(&l);
    raftioLogClose(&log);
    memfsDestroy(fs);
}

Test(log, io_error_on_write_or_sync_loses_only_that_group)
{
    struct raftio_fs *fs = memfsCreate();
    struct raftio_log log;
    struct raftio_loaded l;
    uint8_t storage[300];
    cr_assert_eq(raftioLogOpen(&log, fs, &small_segments, &l), 0);
    appendRange(&log, 1, 10, 1, 5);
    struct raft_entry e = helperEntry(storage, 11, 1);
    memfsFailNext(fs, MEMFS_WRITE, ERR_IO);
    cr_assert_eq(raftioLogAppend(&log, 11, &e, 1), ERR_IO);
    cr_assert_eq(raftioLogAppend(&log, 11, &e, 1), 0);
    memfsFailNext(fs, MEMFS_SYNC, ERR_IO);
    cr_assert_eq(raftioLogSync(&log), ERR_IO);
    uint64_t first, last;
    raftioLogRange(&log, &first, &last);
    cr_assert_eq(last, 10);
    appendRange(&log, 11, 20, 1, 5);
    reopen(&log, fs, &l);
    checkLoaded(&l, 1, 20, 1);
    raftioLoadedFree(&l);
    /* a failure of the recovery itself stops the log until reopened */
    e = helperEntry(storage, 21, 1);
    cr_assert_eq(raftioLogAppend(&log, 21, &e, 1), 0);
    memfsFailNext(fs, MEMFS_SYNC, ERR_IO);
    memfsFailNext(fs, MEMFS_TRUNCATE, ERR_IO);
    cr_assert_eq(raftioLogSync(&log), ERR_IO);
    cr_assert_eq(raftioLogAppend(&log, 21, &e, 1), ERR_LOG_FAILED);
    reopen(&log, fs, &l);
    cr_assert_geq(l.n_entries, 20);
    raftioLoadedFree(&l);
    raftioLogClose(&log);
    memfsDestroy(fs);
}

/* A real small tmpfs: ENOSPC from the kernel (skipped where mounting is not
 * permitted). */
Test(log, real_tmpfs_disk_full)
{
    char dir[] = "/tmp/raftio-full-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    if (syscall(SYS_mount, "tmpfs", dir, "tmpfs", 0UL, "size=64k") != 0) {
        rmdir(dir);
        cr_skip_test("cannot mount tmpfs here");
    }
    struct raftio_fs fs;
    struct raftio_log log;
    struct raftio_loaded l;
    cr_assert_eq(raftioFsPosixInit(&fs, dir), 0);
    cr_assert_eq(raftioLogOpen(&log, &fs, &small_segments, &l), 0);
    uint64_t next = 1;
    int rv = 0;
    uint8_t storage[300];
    while (rv == 0 && next < 100000) {
        struct raft_entry e = helperEntry(storage, next, 1);
        rv = raftioLogAppend(&log, next, &e, 1);
        if (rv == 0) {
            rv = raftioLogSync(&log);
        }
        next += rv == 0;
    }
    cr_assert_eq(rv, ERR_NOSPACE, "rv=%d", rv);
    reopen(&log, &fs, &l);
    checkLoaded(&l, 1, next - 1, 1);
    raftioLoadedFree(&l);
    cr_assert_eq(raftioLogCompact(&log, next / 2), 0); /* space returns */
    uint64_t first, last;
    raftioLogRange(&log, &first, &last);
    appendRange(&log, next, next + 5, 1, 2);
    reopen(&log, &fs, &l);
    checkLoaded(&l, first, next + 5, 1);
    raftioLoadedFree(&l);
    raftioLogClose(&log);
    fs.destroy(&fs);
    syscall(SYS_umount2, dir, 0);
    rmdir(dir);
}

/* The loader's bound (docs/raft.md, "Memory"): of 200 entries of 64 KiB,
 * the 180 a snapshot covers are loaded only as far as 1 MiB of them (16
 * entries), the 20 after it all; without a bound, all 200 (12.5 MiB). The
 * bytes loaded stay under the bound plus what follows the snapshot. */
Test(log, loader_keeps_only_the_bound_of_entries_a_snapshot_covers)
{
    enum { N = 200, LEN = 64 << 10, SNAP = 180 };
    struct raftio_fs *fs = memfsCreate();
    struct raftio_log log;
    struct raftio_loaded l;
    static uint8_t payload[LEN];
    cr_assert_eq(raftioLogOpen(&log, fs, NULL, &l), 0);
    for (uint64_t i = 1; i <= N; i++) {
        memset(payload, (int)i, LEN);
        struct raft_entry e = {1, RAFT_COMMAND, payload, LEN};
        cr_assert_eq(raftioLogAppend(&log, i, &e, 1), 0);
        cr_assert_eq(raftioLogSync(&log), 0);
    }
    raftioLogClose(&log);
    struct raftio_log_options bounded = {.keep_before = SNAP,
                                         .keep_bytes = 1 << 20};
    cr_assert_eq(raftioLogOpen(&log, fs, &bounded, &l), 0);
    cr_assert_eq(l.first_index, SNAP - 16 + 1, "first %llu",
                 (unsigned long long)l.first_index);
    cr_assert_eq(l.n_entries, N - SNAP + 16);
    cr_assert_eq(l.dropped, SNAP - 16);
    uint64_t bytes = 0;
    for (size_t i = 0; i < l.n_entries; i++) {
        cr_assert_eq(l.entries[i].len, LEN);
        cr_assert_eq(l.entries[i].data[LEN - 1], (uint8_t)(l.first_index + i));
        bytes += l.entries[i].len;
    }
    cr_assert_leq(bytes, (1 << 20) + (uint64_t)(N - SNAP) * LEN);
    raftioLoadedFree(&l);
    /* The log on disk is whole: appending goes on after the last entry. */
    memset(payload, 0, LEN);
    struct raft_entry e = {2, RAFT_COMMAND, payload, 1};
    cr_assert_eq(raftioLogAppend(&log, N + 1, &e, 1), 0);
    cr_assert_eq(raftioLogSync(&log), 0);
    raftioLogClose(&log);
    cr_assert_eq(raftioLogOpen(&log, fs, NULL, &l), 0);
    cr_assert_eq(l.first_index, 1);
    cr_assert_eq(l.n_entries, N + 1);
    raftioLoadedFree(&l);
    raftioLogClose(&log);
    memfsDestroy(fs);
}
