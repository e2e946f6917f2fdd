/* A leader whose disk is full answers its waits (replicaFailNoSpace):
 * proposals with an unknown outcome (their entry is in the log), barriers
 * and reads with a plain refusal; and until the entries in the log then are
 * applied, no read or write may run (the fence), since they may still
 * commit and change the state a statement would see. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "raft/raft.h"
#include "raftio/fs.h"
#include "server/replica.h"
#include "server/replica_internal.h"

struct probe {
    struct replica_wait wait;
    int status;
    int calls;
};

static void probeDone(struct replica_wait *w, int status)
{
    struct probe *p = (struct probe *)w;
    p->status = status;
    p->calls++;
}

static void probeQueue(struct queue *q, struct probe *p)
{
    memset(p, 0, sizeof *p);
    p->wait.cb = probeDone;
    queueInsertTail(q, &p->wait.link);
}

struct fixture {
    char dir[64];
    struct replica r;
};

/* A bootstrapped single-node replica, not started: its log holds the
 * bootstrap entry (index 1), nothing applied. */
static void fixtureOpen(struct fixture *f)
{
    char err[256];
    strcpy(f->dir, "/tmp/dqlite-nospace-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    struct replica_options o = {0};
    o.id = 1;
    o.address = "127.0.0.1:9001";
    o.data_dir = f->dir;
    o.heartbeat_ms = 100;
    o.election_ms = 1000;
    o.bootstrap = true;
    cr_assert_eq(replicaOpen(&f->r, &o, err, sizeof err), 0, "%s", err);
}

static void fixtureClose(struct fixture *f)
{
    struct raftio_fs fs;
    char **names;
    size_t n;
    replicaFree(&f->r);
    cr_assert_eq(raftioFsPosixInit(&fs, f->dir), 0);
    cr_assert_eq(fs.list(&fs, &names, &n), 0);
    for (size_t i = 0; i < n; i++) {
        fs.unlink(&fs, names[i]);
    }
    raftioFsFreeList(names, n);
    fs.destroy(&fs);
    rmdir(f->dir);
}

Test(replica_nospace, waits_are_answered_and_later_reads_fenced)
{
    struct fixture f;
    struct probe prop, bar, rd, later;
    fixtureOpen(&f);
    cr_assert_eq(raftLastIndex(f.r.raft), 1);
    probeQueue(&f.r.proposals, &prop);
    probeQueue(&f.r.barriers, &bar);
    probeQueue(&f.r.reads, &rd);
    replicaFailNoSpace(&f.r);
    cr_assert_eq(prop.calls, 1);
    cr_assert_eq(prop.status, ERR_NOSPACE_UNKNOWN);
    cr_assert_eq(bar.calls, 1);
    cr_assert_eq(bar.status, ERR_NOSPACE);
    cr_assert_eq(rd.calls, 1);
    cr_assert_eq(rd.status, ERR_NOSPACE);
    cr_assert_eq(f.r.nospace_fence, 1);

    /* A read confirmed at index 0 still waits for the fenced entry. */
    probeQueue(&f.r.reads, &later);
    later.wait.ctx = 7;
    struct raft_read_state confirmed = {.ctx = 7, .index = 0};
    replicaReadsReady(&f.r, &confirmed, 1);
    cr_assert_eq(later.calls, 0, "a read ran before the fenced entry");
    f.r.applied = 1;
    replicaWakeApplied(&f.r);
    cr_assert_eq(later.calls, 1);
    cr_assert_eq(later.status, 0);
    fixtureClose(&f);
}
