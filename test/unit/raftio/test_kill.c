/* Process-crash test: the append path (writer thread, real files) runs in a
 * child process that reports every "persisted up to N" through a pipe and
 * is SIGKILLed at a random moment. The parent then reloads the log: every
 * index the child reported must be present and intact. The same directory
 * carries on across kills, so each child first recovers what the previous
 * one left. RAFTIO_KILL_POINTS (default 1000) kills per run. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "helpers.h"
#include "lib/err.h"
#include "raftio/log.h"
#include "raftio/writer.h"

#define INFLIGHT 4
#define BATCH 8

struct child {
    uv_loop_t loop;
    struct raftio_log log;
    struct raftio_writer w;
    struct raftio_req reqs[INFLIGHT];
    struct raft_entry entries[INFLIGHT][BATCH];
    uint8_t storage[INFLIGHT][BATCH][300];
    uint64_t next, term;
    int pipe_fd;
};

static void childSubmit(struct child *c, int slot);

static void compactDone(struct raftio_req *req, int status)
{
    (void)status; /* not what this test checks */
    *(bool *)req->data = false;
}

static void childDone(struct raftio_req *req, int status)
{
    struct child *c = req->data;
    if (status != 0) {
        _exit(3);
    }
    uint64_t persisted = req->index + req->n - 1;
    if (write(c->pipe_fd, &persisted, sizeof persisted) != sizeof persisted) {
        _exit(4);
    }
    /* One compaction at a time: the request is queued until it completes
     * (resubmitting it while queued corrupted the writer's queue). */
    static struct raftio_req compact;
    static bool compacting;
    if (persisted % 64 < BATCH && persisted > 200 && !compacting) {
        compact = (struct raftio_req){.kind = RAFTIO_REQ_COMPACT,
                                      .index = persisted - 150,
                                      .cb = compactDone,
                                      .data = &compacting};
        compacting = true;
        raftioWriterSubmit(&c->w, &compact);
    }
    childSubmit(c, (int)(req - c->reqs));
}

static void childSubmit(struct child *c, int slot)
{
    size_t n = 1 + (c->next % BATCH);
    for (size_t k = 0; k < n; k++) {
        c->entries[slot][k] =
            helperEntry(c->storage[slot][k], c->next + k, c->term);
    }
    c->reqs[slot] = (struct raftio_req){.kind = RAFTIO_REQ_APPEND,
                                        .index = c->next,
                                        .entries = c->entries[slot],
                                        .n = n,
                                        .cb = childDone,
                                        .data = c};
    c->next += n;
    raftioWriterSubmit(&c->w, &c->reqs[slot]);
}

static void childMain(const char *dir, int pipe_fd, uint64_t term)
{
    static struct child c;
    struct raftio_fs fs;
    struct raftio_loaded l;
    c.pipe_fd = pipe_fd;
    c.term = term;
    struct raftio_log_options opts = {.segment_max_bytes = 16384};
    if (uv_loop_init(&c.loop) != 0 || raftioFsPosixInit(&fs, dir) != 0 ||
        raftioLogOpen(&c.log, &fs, &opts, &l) != 0) {
        _exit(2);
    }
    c.next = l.n_entries > 0 ? l.first_index + l.n_entries : 1;
    raftioLoadedFree(&l);
    if (raftioWriterStart(&c.w, &c.loop, &c.log, &fs) != 0) {
        _exit(2);
    }
    for (int i = 0; i < INFLIGHT; i++) {
        childSubmit(&c, i);
    }
    uv_run(&c.loop, UV_RUN_DEFAULT);
    _exit(5);
}

/* Kills a child after a random number of acks plus a random delay;
 * returns the highest index it acknowledged. */
static uint64_t killOnce(const char *dir, uint64_t term, unsigned *seed)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        childMain(dir, fds[1], term);
    }
    close(fds[1]);
    uint64_t acked = 0, v;
    int wait_acks = rand_r(seed) % 8;
    for (int i = 0; i < wait_acks && read(fds[0], &v, sizeof v) == sizeof v;
         i++) {
        acked = v;
    }
    struct timespec ts = {0, (long)(rand_r(seed) % 3000) * 1000};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status), "child exited with %d", WEXITSTATUS(status));
    while (read(fds[0], &v, sizeof v) == sizeof v) {
        acked = v; /* acks sent before the kill count too */
    }
    close(fds[0]);
    return acked;
}

static void verify(const char *dir, uint64_t acked, uint64_t max_term)
{
    struct raftio_fs fs;
    struct raftio_log log;
    struct raftio_loaded l;
    cr_assert_eq(raftioFsPosixInit(&fs, dir), 0);
    int rv = raftioLogOpen(&log, &fs, NULL, &l);
    cr_assert_eq(rv, 0, "reload after kill: %s", errString(rv));
    uint64_t last = l.n_entries > 0 ? l.first_index + l.n_entries - 1 : 0;
    cr_assert_geq(last, acked, "acknowledged %lu lost (last %lu)",
                  (unsigned long)acked, (unsigned long)last);
    for (size_t i = 0; i < l.n_entries; i++) {
        const struct raft_entry *e = &l.entries[i];
        cr_assert(e->term <= max_term);
        cr_assert(helperCheck(e, l.first_index + i, e->term));
    }
    raftioLoadedFree(&l);
    raftioLogClose(&log);
    fs.destroy(&fs);
}

/* A writer that stops making progress would block the parent's reads:
 * bounded, so that a hang fails the test instead of stalling the suite. */
Test(kill, sigkill_at_random_points_keeps_acknowledged_entries, .timeout = 600)
{
    char dir[] = "/tmp/raftio-kill-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const char *env = getenv("RAFTIO_KILL_POINTS");
    int points = env != NULL ? atoi(env) : 1000;
    unsigned seed = (unsigned)time(NULL);
    uint64_t acked_max = 0;
    for (int i = 1; i <= points; i++) {
        uint64_t acked = killOnce(dir, (uint64_t)i, &seed);
        if (acked > acked_max) {
            acked_max = acked;
        }
        verify(dir, acked_max, (uint64_t)i);
    }
    fprintf(stderr, "[raftio] SIGKILL crash points: %d, last acked %lu\n",
            points, (unsigned long)acked_max);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
