/*
 * Group-commit benchmark of the raftio writer: appends/s and fdatasyncs/s
 * for batches of 1, 8 and 64 entries (1 KiB each) with several batches in
 * flight (as a leader with many concurrent clients), next to one batch in
 * flight (no grouping possible) and to the raw fdatasync rate of the disk.
 *
 *   build/release/bench/raftio_append [dir] [seconds-per-case]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "lib/crc32c.h"
#include "raftio/log.h"
#include "raftio/writer.h"

#define MAX_INFLIGHT 32
#define MAX_BATCH 64
#define ENTRY_BYTES 1024

struct bench {
    uv_loop_t loop;
    struct raftio_writer w;
    struct raftio_req reqs[MAX_INFLIGHT];
    struct raft_entry entries[MAX_BATCH];
    uint8_t payload[ENTRY_BYTES];
    uint64_t next;
    size_t batch;
    double deadline;
    int outstanding;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void submit(struct bench *b, struct raftio_req *req)
{
    *req = (struct raftio_req){.kind = RAFTIO_REQ_APPEND,
                               .index = b->next,
                               .entries = b->entries,
                               .n = b->batch,
                               .data = req->data,
                               .cb = req->cb};
    b->next += b->batch;
    b->outstanding++;
    raftioWriterSubmit(&b->w, req);
}

static void done(struct raftio_req *req, int status)
{
    struct bench *b = req->data;
    b->outstanding--;
    if (status != 0) {
        fprintf(stderr, "append failed: %d\n", status);
        exit(1);
    }
    if (now() < b->deadline) {
        submit(b, req);
    }
}

static void runCase(const char *dir, size_t batch, int inflight, double seconds)
{
    static struct bench b;
    struct raftio_fs fs;
    struct raftio_log log;
    struct raftio_loaded l;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s/bench-log", dir);
    if (system(cmd) != 0) {
        exit(1);
    }
    snprintf(cmd, sizeof cmd, "%s/bench-log", dir);
    if (raftioFsPosixInit(&fs, cmd) != 0 ||
        raftioLogOpen(&log, &fs, NULL, &l) != 0) {
        exit(1);
    }
    memset(&b, 0, sizeof b);
    uv_loop_init(&b.loop);
    raftioWriterStart(&b.w, &b.loop, &log, &fs);
    for (size_t i = 0; i < MAX_BATCH; i++) {
        b.entries[i] = (struct raft_entry){
            .term = 1, .data = b.payload, .len = ENTRY_BYTES};
    }
    b.next = 1;
    b.batch = batch;
    double start = now();
    b.deadline = start + seconds;
    for (int i = 0; i < inflight; i++) {
        b.reqs[i].data = &b;
        b.reqs[i].cb = done;
        submit(&b, &b.reqs[i]);
    }
    while (b.outstanding > 0) {
        uv_run(&b.loop, UV_RUN_ONCE);
    }
    double elapsed = now() - start;
    struct raftio_writer_stats s = raftioWriterStats(&b.w);
    printf("batch %2zu, %2d in flight: %9.0f entries/s %8.0f batches/s "
           "%7.0f syncs/s (%.1f entries/sync)\n",
           batch, inflight, (double)s.entries / elapsed,
           (double)s.appends / elapsed, (double)s.syncs / elapsed,
           s.syncs > 0 ? (double)s.entries / (double)s.syncs : 0.0);
    raftioWriterClose(&b.w, NULL);
    uv_run(&b.loop, UV_RUN_DEFAULT);
    uv_loop_close(&b.loop);
    raftioLogClose(&log);
    fs.destroy(&fs);
}

static void rawSync(const char *dir, double seconds)
{
    char path[512];
    uint8_t block[4096] = {1};
    snprintf(path, sizeof path, "%s/bench-raw", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        exit(1);
    }
    double start = now();
    long n = 0;
    off_t off = 0;
    while (now() - start < seconds) {
        if (pwrite(fd, block, sizeof block, off) != sizeof block ||
            fdatasync(fd) != 0) {
            exit(1);
        }
        off += sizeof block;
        n++;
    }
    printf("raw: 4 KiB pwrite + fdatasync: %.0f syncs/s\n",
           (double)n / (now() - start));
    close(fd);
    unlink(path);
}

/* The "simple alternative": a byte-at-a-time table CRC-32C. */
static uint32_t crcBytewise(uint32_t crc, const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    if (table[1] == 0) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) {
                c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            }
            table[i] = c;
        }
    }
    crc = ~crc;
    while (n-- > 0) {
        crc = (crc >> 8) ^ table[(crc ^ *p++) & 0xff];
    }
    return ~crc;
}

static void crcRate(const char *what, int kind)
{
    static uint8_t buf[1 << 20];
    uint32_t crc = 0;
    int rounds = 0;
    double start = now();
    while (now() - start < 0.5) {
        for (int i = 0; i < 16; i++, rounds++) {
            crc = kind == 0   ? crc32c(crc, buf, sizeof buf)
                  : kind == 1 ? crc32cSoftware(crc, buf, sizeof buf)
                              : crcBytewise(crc, buf, sizeof buf);
        }
    }
    printf("%-34s %6.2f GB/s (%08x)\n", what,
           (double)rounds * sizeof buf / (now() - start) / 1e9, crc);
}

int main(int argc, char **argv)
{
    crcRate(crc32cHardware() ? "crc32c (SSE4.2):"
                             : "crc32c (table, no SSE4.2):",
            0);
    crcRate("crc32c slicing-by-8 table:", 1);
    crcRate("crc32c byte-at-a-time table:", 2);
    const char *dir = argc > 1 ? argv[1] : ".";
    double seconds = argc > 2 ? atof(argv[2]) : 2.0;
    rawSync(dir, seconds);
    size_t batches[] = {1, 8, 64};
    for (int i = 0; i < 3; i++) {
        runCase(dir, batches[i], 1, seconds);
        runCase(dir, batches[i], 16, seconds);
    }
    return 0;
}
