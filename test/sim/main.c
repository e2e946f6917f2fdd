/*
 * Simulator scenarios and the command line.
 *
 *   sim [--seeds N] [--first S] [--jobs J]   run seeds S .. S+N-1
 *   sim --seed S [-v]                        one seed (-v: full trace)
 *   --lease P        share of seeds with leader leases on (permille, 700)
 *   --lease-drift P  their drift bound (permille of the election timeout,
 *                    200; 1 plants a lease that ignores clock drift)
 *
 * Each seed draws a cluster (1-7 nodes, some bootstrapped, the others
 * joining through membership changes), options, fault rates, and a fault
 * phase in which partitions, crashes, restarts, membership changes,
 * transfers and reads happen at random while clients propose. Then every
 * fault heals and the cluster must elect a leader and commit a new entry on
 * every member within a bound (liveness). Prints seeds per second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "sim/sim.h"

void simSeed(uint64_t seed);
void simTraceReset(void);

static struct sim_world world;

/* Leader leases: the share of seeds with leases on, and their drift bound.
 * The nodes' clocks run at 0.9-1.1x (simSetup): rates differ by up to
 * 1.1/0.9, so a bound under 182 permille is unsafe; --lease-drift 1 is the
 * planted bug "a lease that ignores the drift bound", which the read
 * checker must catch. */
static unsigned sim_lease_permille = 700;
static unsigned sim_lease_drift_permille = 200;

/* ------------------------------------------------------------ scenario */

static void simDrawOptions(struct raft_options *o)
{
    raftOptionsDefault(o);
    o->election_timeout_ms = (unsigned)simRange(100, 250);
    o->heartbeat_timeout_ms = o->election_timeout_ms / (unsigned)simRange(4, 8);
    o->max_inflight_msgs = (unsigned)simRange(1, 16);
    o->max_inflight_bytes = simRange(256, 65536);
    o->max_append_entries = (unsigned)simRange(1, 32);
    o->max_append_bytes = simRange(64, 16384);
    o->snapshot_trailing = (unsigned)simRange(0, 16);
    o->snapshot_hold_max = (unsigned)simRange(256, 4096);
    o->snapshot_chunk_bytes = simRange(64, 1024);
    o->pre_vote = simChance(800);
    o->check_quorum = simChance(800);
    /* Leases need check-quorum; simDrawConfig may turn it on later. */
    o->read_lease = simChance(sim_lease_permille);
    o->lease_drift_permille = sim_lease_drift_permille;
}

static void simDrawConfig(struct sim_config *c)
{
    static const unsigned sizes[] = {1, 2, 3, 3, 3, 4, 5, 5, 5, 6, 7};
    memset(c, 0, sizeof *c);
    c->n_nodes = sizes[simRange(0, 10)];
    c->faults = simChance(900);
    c->membership = c->n_nodes > 1 && simChance(500);
    c->n_initial =
        c->membership ? (unsigned)simRange(1, c->n_nodes) : c->n_nodes;
    simDrawOptions(&c->opts);
    if (c->membership) {
        c->opts.check_quorum = true; /* removed servers cannot disrupt */
    }
    c->loss_permille = c->faults ? (unsigned)simRange(0, 150) : 0;
    c->dup_permille = c->faults ? (unsigned)simRange(0, 80) : 0;
    c->delay_min_ms = (unsigned)simRange(1, 5);
    c->delay_max_ms = c->delay_min_ms + (unsigned)simRange(0, 40);
    c->disk_min_ms = (unsigned)simRange(0, 3);
    c->disk_max_ms = c->disk_min_ms + (unsigned)simRange(0, 15);
    c->disk_fail_permille = !c->faults       ? 0
                            : simChance(700) ? (unsigned)simRange(0, 20)
                                             : (unsigned)simRange(50, 150);
    c->snapshot_every = (unsigned)simRange(5, 60);
    c->slow_snapshots = simChance(150);
    if (c->slow_snapshots) {
        /* A transfer of many small chunks outlasts the snapshot interval
         * many times over (issue 15, finding 11). */
        c->snapshot_every = (unsigned)simRange(2, 6);
        c->opts.snapshot_trailing = (unsigned)simRange(0, 2);
        c->opts.snapshot_chunk_bytes = simRange(24, 96);
    }
    c->small_cache = simChance(250);
    if (c->small_cache) {
        /* A few entries' worth of entry cache: followers behind it are
         * sent snapshots (issue 15, finding 10). */
        c->opts.entry_cache_bytes = simRange(1024, 16384);
        c->opts.snapshot_hold_bytes = simRange(0, 8 * 16384);
    }
    c->fault_until_ms = simRange(1500, 4000);
    c->deadline_ms = c->fault_until_ms + 15000;
}

static void simBootstrap(void)
{
    struct raft_configuration conf;
    struct raft_entry e;
    char address[32];
    raftConfInit(&conf);
    for (unsigned i = 0; i < W->cfg.n_initial; i++) {
        snprintf(address, sizeof address, "node%u", i + 1);
        ASSERT(raftConfAdd(&conf, i + 1, address, RAFT_VOTER) == 0);
    }
    ASSERT(raftBootstrapEntry(&conf, &e) == 0);
    raftConfClose(&conf);
    for (unsigned i = 0; i < W->cfg.n_initial; i++) {
        uint64_t chain = simLogAppend(&W->nodes[i].disk.log, &e);
        simCheckAppend((int)i, 1, 1, chain, true);
        W->nodes[i].disk.ever = true;
    }
    raftPayloadUnref(e.data);
}

static void simSetup(uint64_t seed)
{
    memset(&world, 0, sizeof world);
    W = &world;
    W->seed = seed;
    simSeed(seed);
    simTraceReset();
    simCheckInit();
    simDrawConfig(&W->cfg);
    simHealNetwork();
    for (unsigned i = 0; i < W->cfg.n_nodes; i++) {
        struct sim_node *n = &W->nodes[i];
        n->id = i + 1;
        n->rate_permille = (unsigned)simRange(900, 1100);
        n->clock_offset_ms = simRange(0, 100000);
        simLogInit(&n->disk.log);
        simLogInit(&n->mirror);
        raftConfInit(&n->disk.meta.conf);
    }
    simBootstrap();
    const struct sim_config *c = &W->cfg;
    simTrace("seed %llu: %u nodes (%u bootstrapped), election %u ms, "
             "pre-vote %d, check-quorum %d, loss %u‰, dup %u‰, delay "
             "%u-%u ms, disk fail %u‰, faults until %llu ms%s%s",
             (unsigned long long)seed, c->n_nodes, c->n_initial,
             c->opts.election_timeout_ms, c->opts.pre_vote,
             c->opts.check_quorum, c->loss_permille, c->dup_permille,
             c->delay_min_ms, c->delay_max_ms, c->disk_fail_permille,
             (unsigned long long)c->fault_until_ms,
             c->slow_snapshots ? ", slow snapshots" : "",
             c->small_cache ? ", small entry cache" : "");
    for (unsigned i = 0; i < W->cfg.n_nodes; i++) {
        simNodeStart((int)i);
    }
    simPush(simRange(50, 300), EV_FAULT, -1, NULL, 0);
    simPush(simRange(5, 50), EV_PROPOSE, -1, NULL, 0);
}

static void simTeardown(void)
{
    for (unsigned i = 0; i < W->cfg.n_nodes; i++) {
        struct sim_node *n = &W->nodes[i];
        if (n->up) {
            simNodeClose((int)i);
        }
        simLogClose(&n->disk.log);
        simLogClose(&n->mirror);
        raftSnapshotMetaClose(&n->disk.meta);
        libFree(n->disk.snap);
        libFree(n->disk.prev_snap);
        libFree(n->disk.pin_snap);
        libFree(n->disk.incoming);
    }
    simWorldClose();
    simCheckClose();
}

/* ------------------------------------------------------------ faults */

static int simPickUp(bool up)
{
    int candidates[SIM_MAX_NODES], n = 0;
    for (unsigned i = 0; i < W->cfg.n_nodes; i++) {
        if (W->nodes[i].up == up && !W->nodes[i].stopped) {
            candidates[n++] = (int)i;
        }
    }
    return n == 0 ? -1 : candidates[simRange(0, (uint64_t)n - 1)];
}

/* Half the time, a node with a write in flight (the interesting crash). */
static int simPickWriting(void)
{
    int i = (int)simRange(0, W->cfg.n_nodes - 1);
    if (simChance(500) && W->nodes[i].up && W->nodes[i].writing) {
        return i;
    }
    return -1;
}

static void simPartition(void)
{
    unsigned side[SIM_MAX_NODES];
    for (unsigned i = 0; i < W->cfg.n_nodes; i++) {
        side[i] = (unsigned)simRange(0, 1);
    }
    for (unsigned i = 0; i < W->cfg.n_nodes; i++) {
        for (unsigned j = 0; j < W->cfg.n_nodes; j++) {
            W->link[i][j] = side[i] == side[j];
        }
    }
    char sides[SIM_MAX_NODES + 1] = "";
    for (unsigned i = 0; i < W->cfg.n_nodes; i++) {
        sides[i] = (char)('A' + side[i]);
    }
    simTrace("FAULT partition %s", sides);
}

static void simIsolate(int victim, bool in, bool out)
{
    if (victim < 0) {
        return;
    }
    for (unsigned j = 0; j < W->cfg.n_nodes; j++) {
        if ((int)j != victim) {
            W->link[victim][j] = W->link[victim][j] && !out;
            W->link[j][victim] = W->link[j][victim] && !in;
        }
    }
    simTrace("FAULT isolate n%d (in %d, out %d)", victim + 1, in, out);
}

static void simMembership(void)
{
    int l = simLeader();
    if (l < 0 || !W->cfg.membership) {
        return;
    }
    struct raft *r = W->nodes[l].r;
    uint64_t id = simRange(1, W->cfg.n_nodes), index = 0;
    const struct raft_server *s = raftConfGet(raftConfiguration(r), id);
    char address[32];
    int rv, role = (int)simRange(RAFT_VOTER, RAFT_SPARE);
    snprintf(address, sizeof address, "node%llu", (unsigned long long)id);
    if (s == NULL) {
        rv = raftAddServer(r, id, address, &index);
        simTrace("MEMBERSHIP n%d: add n%llu -> %s", l + 1,
                 (unsigned long long)id, errString(rv));
    } else if (simChance(300)) {
        rv = raftRemoveServer(r, id, &index);
        simTrace("MEMBERSHIP n%d: remove n%llu -> %s", l + 1,
                 (unsigned long long)id, errString(rv));
    } else {
        rv = raftAssignRole(r, id, role, &index);
        simTrace("MEMBERSHIP n%d: assign n%llu role %d -> %s", l + 1,
                 (unsigned long long)id, role, errString(rv));
    }
    sim_stats.changes += rv == 0;
    simNodePump(l);
}

/* A read on a node that believes it leads, chosen at random: a deposed
 * leader that has not heard of its successor is one, and the one a lease
 * must stop from answering. */
static void simRead(void)
{
    int leaders[SIM_MAX_NODES], n = 0;
    for (unsigned i = 0; i < W->cfg.n_nodes; i++) {
        if (W->nodes[i].up && raftState(W->nodes[i].r) == RAFT_LEADER) {
            leaders[n++] = (int)i;
        }
    }
    if (n == 0) {
        return;
    }
    int l = leaders[simRange(0, (uint64_t)n - 1)];
    struct raft *r = W->nodes[l].r;
    /* What a lease promises (docs/raft.md "Leader leases"): while it
     * holds, no other node leads, in any term. Checked whether or not a
     * newer leader has committed anything yet. */
    if (raftLeaseValid(r, simNodeNow(l))) {
        for (int k = 0; k < n; k++) {
            struct raft *o = W->nodes[leaders[k]].r;
            if (leaders[k] != l && raftTerm(o) > raftTerm(r)) {
                simFail("LEASE: n%d holds a lease in term %llu while n%d "
                        "leads term %llu",
                        l + 1, (unsigned long long)raftTerm(r), leaders[k] + 1,
                        (unsigned long long)raftTerm(o));
            }
        }
        sim_stats.lease_reads++;
    }
    uint64_t ctx = ++W->read_ctx;
    simCheckReadStart(ctx);
    int rv = raftReadIndex(W->nodes[l].r, ctx, simNodeNow(l));
    simTrace("READ %llu on n%d: %s", (unsigned long long)ctx, l + 1,
             errString(rv));
    simNodePump(l);
    /* And one on a follower (docs/raft.md "Follower reads"), whichever
     * leader it believes in. */
    int f = (int)simRange(0, W->cfg.n_nodes - 1);
    if (simChance(500) && W->nodes[f].up &&
        raftState(W->nodes[f].r) == RAFT_FOLLOWER) {
        ctx = ++W->read_ctx;
        simCheckReadStart(ctx);
        rv = raftReadIndex(W->nodes[f].r, ctx, simNodeNow(f));
        simTrace("READ %llu on follower n%d: %s", (unsigned long long)ctx,
                 f + 1, errString(rv));
        simNodePump(f);
    }
}

static void simTransferOrRead(void)
{
    int l = simLeader();
    if (l < 0) {
        return;
    }
    if (simChance(400)) {
        uint64_t target = simRange(0, W->cfg.n_nodes);
        int rv = raftTransfer(W->nodes[l].r, target);
        simTrace("TRANSFER n%d -> n%llu: %s", l + 1, (unsigned long long)target,
                 errString(rv));
        sim_stats.transfers += rv == 0;
    } else {
        /* Half the reads are asked of any node that is up: followers ask
         * their leader (ReadIndex), the checker holds them to the same
         * rule as the leader's. */
        int at = l;
        if (simChance(500)) {
            int pick = (int)simRange(0, W->cfg.n_nodes - 1);
            at = W->nodes[pick].up ? pick : l;
        }
        uint64_t ctx = ++W->read_ctx;
        simCheckReadStart(ctx);
        int rv = raftReadIndex(W->nodes[at].r, ctx, simNodeNow(at));
        simTrace("READ %llu on n%d: %s", (unsigned long long)ctx, at + 1,
                 errString(rv));
        if (at != l) {
            simNodePump(at);
        }
    }
    simNodePump(l);
}

static void simFault(void)
{
    int victim;
    switch (simRange(0, 12)) {
    case 0:
        simPartition();
        break;
    case 1:
        simIsolate(simLeader(), true, true);
        break;
    case 2:
        simIsolate(simPickUp(true), simChance(500), simChance(500));
        break;
    case 3:
        simHealNetwork();
        simTrace("FAULT network healed");
        break;
    case 4:
        if ((victim = simPickWriting()) >= 0 ||
            (victim = simPickUp(true)) >= 0) {
            simNodeCrash(victim, simChance(700));
            if (simChance(500)) {
                simPush(W->now_ms + simRange(1, 60), EV_RESTART, victim, NULL,
                        0);
            }
        }
        break;
    case 5:
    case 6:
        if ((victim = simPickUp(false)) >= 0) {
            simNodeStart(victim);
        }
        break;
    case 7:
    case 8:
        simMembership();
        break;
    case 11:
        simForge();
        break;
    case 12:
        simShortenLog();
        break;
    default:
        simTransferOrRead();
        break;
    }
}

static void simHeal(void)
{
    W->healed = true;
    simHealNetwork();
    simTrace("HEAL: network healed, every node restarted");
    for (unsigned i = 0; i < W->cfg.n_nodes; i++) {
        if (!W->nodes[i].up) {
            simNodeStart((int)i);
        }
    }
}

/* ------------------------------------------------------------ clients */

static uint64_t heal_index, heal_term;

static void simPropose(void)
{
    int l = simLeader();
    if (l < 0) {
        return;
    }
    size_t len = simChance(50) ? simRange(1000, 3000) : simRange(1, 64);
    uint8_t *data = raftPayloadAlloc(len);
    uint64_t index, term;
    for (size_t k = 0; k < len; k++) {
        data[k] = (uint8_t)simRand();
    }
    int rv = raftPropose(W->nodes[l].r, data, len, &index, &term);
    raftPayloadUnref(data);
    if (rv == 0) {
        W->proposals++;
        if (W->healed && heal_index == 0) {
            heal_index = index;
            heal_term = term;
        }
        simTrace("PROPOSE n%d: %zu bytes at %llu/%llu", l + 1, len,
                 (unsigned long long)index, (unsigned long long)term);
    }
    simNodePump(l);
}

/* Liveness: after healing, an entry proposed then is applied by every
 * replicating member of the leader's configuration. */
static bool simLive(void)
{
    int l = simLeader();
    if (l < 0 || heal_index == 0) {
        return false;
    }
    struct raft *r = W->nodes[l].r;
    if (raftTermAt(r, heal_index) != heal_term) {
        heal_index = 0; /* lost with a leadership change: propose again */
        return false;
    }
    const struct raft_configuration *c = raftConfiguration(r);
    for (unsigned k = 0; k < c->n; k++) {
        int i = simNodeIndex(c->servers[k].id);
        if (c->servers[k].role != RAFT_SPARE &&
            (i < 0 || W->nodes[i].applied < heal_index)) {
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------ run */

static void simDispatch(const struct sim_event *ev)
{
    W->now_ms = ev->at_ms;
    switch (ev->kind) {
    case EV_DELIVER:
        if (W->nodes[ev->node].up) {
            simNodeDeliver(ev->node, ev->buf, ev->len);
        }
        libFree(ev->buf);
        break;
    case EV_DISK_DONE:
    case EV_TICK:
        if (ev->gen != W->nodes[ev->node].gen || !W->nodes[ev->node].up) {
            break;
        }
        if (ev->kind == EV_TICK) {
            simNodeTick(ev->node);
        } else {
            simNodeDiskDone(ev->node);
        }
        break;
    case EV_FAULT:
        if (!W->healed && W->now_ms >= W->cfg.fault_until_ms) {
            simHeal();
        } else if (!W->healed) {
            if (W->cfg.faults || simChance(300)) {
                simFault();
            }
            simPush(W->now_ms + simRange(30, 400), EV_FAULT, -1, NULL, 0);
        }
        break;
    case EV_RESTART:
        if (!W->nodes[ev->node].up) {
            simNodeStart(ev->node);
        }
        break;
    case EV_PROPOSE:
        simPropose();
        if (simChance(500)) {
            simRead();
        }
        simPush(W->now_ms + simRange(5, 60), EV_PROPOSE, -1, NULL, 0);
        break;
    }
}

static uint64_t simRunSeed(uint64_t seed)
{
    struct sim_event ev;
    simSetup(seed);
    heal_index = heal_term = 0;
    while (simPop(&ev)) {
        simDispatch(&ev);
        W->events++;
        simCheckStep();
        if (W->healed && simLive()) {
            break;
        }
        if (W->now_ms > W->cfg.deadline_ms) {
            simFail("LIVENESS: no progress %llu ms after healing",
                    (unsigned long long)(W->now_ms - W->cfg.fault_until_ms));
        }
    }
    uint64_t events = W->events;
    sim_stats.seeds++;
    sim_stats.events += events;
    sim_stats.committed += simCheckCommitted();
    simTrace("seed %llu: ok, %llu events, %llu proposals, %llu committed",
             (unsigned long long)seed, (unsigned long long)events,
             (unsigned long long)W->proposals,
             (unsigned long long)simCheckCommitted());
    simTeardown();
    return events;
}

static void simAssertHook(const char *expr, const char *file, int line)
{
    if (!sim_verbose) {
        simTraceDump();
    }
    printf("sim: seed %llu: assertion %s failed at %s:%d\n",
           (unsigned long long)(W != NULL ? W->seed : 0), expr, file, line);
    printf("sim: reproduce with: sim --seed %llu -v\n",
           (unsigned long long)(W != NULL ? W->seed : 0));
    fflush(stdout);
}

static double simSeconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs seeds first + k, k = job, job + jobs, ... below count. */
static int simRunSlice(uint64_t first, uint64_t count, unsigned job,
                       unsigned jobs)
{
    const struct sim_stats *s = &sim_stats;
    for (uint64_t k = job; k < count; k += jobs) {
        simRunSeed(first + k);
    }
    printf("sim: job %u: %llu seeds, %llu events, %llu entries committed, "
           "%llu elections, %llu crashes (%llu torn writes, %llu failed "
           "writes), %llu snapshots taken, %llu installed, %llu membership "
           "changes, %llu configurations rolled back, %llu transfers, %llu "
           "reads (%llu under a lease), %llu forged messages refused, %llu "
           "restarts with a shorter log, %llu notices, %llu follower reads "
           "(%llu failed)\n",
           job, (unsigned long long)s->seeds, (unsigned long long)s->events,
           (unsigned long long)s->committed, (unsigned long long)s->elections,
           (unsigned long long)s->crashes, (unsigned long long)s->torn,
           (unsigned long long)s->write_failures,
           (unsigned long long)s->snapshots_taken,
           (unsigned long long)s->installs, (unsigned long long)s->changes,
           (unsigned long long)s->rollbacks, (unsigned long long)s->transfers,
           (unsigned long long)s->reads, (unsigned long long)s->lease_reads,
           (unsigned long long)s->forged, (unsigned long long)s->shortened,
           (unsigned long long)s->notices,
           (unsigned long long)s->follower_reads,
           (unsigned long long)s->follower_reads_failed);
    fflush(stdout);
    return 0;
}

static int simRunParallel(uint64_t first, uint64_t count, unsigned jobs)
{
    pid_t pids[64];
    int failed = 0;
    fflush(stdout);
    for (unsigned j = 0; j < jobs; j++) {
        pids[j] = fork();
        if (pids[j] == 0) {
            exit(simRunSlice(first, count, j, jobs));
        }
    }
    for (unsigned j = 0; j < jobs; j++) {
        int status;
        waitpid(pids[j], &status, 0);
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    return failed;
}

int main(int argc, char **argv)
{
    uint64_t first = 1, count = 100;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned jobs = cpus > 0 ? (unsigned)(cpus > 64 ? 64 : cpus) : 1;
    bool one = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            count = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--first") == 0 && i + 1 < argc) {
            first = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) {
            jobs = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            first = strtoull(argv[++i], NULL, 10);
            count = 1;
            one = true;
        } else if (strcmp(argv[i], "--lease") == 0 && i + 1 < argc) {
            sim_lease_permille = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--lease-drift") == 0 && i + 1 < argc) {
            sim_lease_drift_permille = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "-v") == 0) {
            sim_verbose = true;
        } else {
            fprintf(stderr,
                    "usage: %s [--seeds N] [--first S] [--jobs J] "
                    "[--seed S] [--lease PERMILLE] [--lease-drift PERMILLE] "
                    "[-v]\n",
                    argv[0]);
            return 2;
        }
    }
    libAssertSetHook(simAssertHook);
    if (jobs == 0 || one || count < 2) {
        jobs = 1;
    }
    double start = simSeconds();
    int failed = jobs == 1 ? simRunSlice(first, count, 0, 1)
                           : simRunParallel(first, count, jobs);
    double secs = simSeconds() - start;
    if (one && sim_verbose) {
        simTraceDump();
    }
    printf("[====] sim: %s: %llu seeds (%llu..%llu) in %.1f s, %.0f seeds/s, "
           "%u jobs\n",
           failed ? "FAILED" : "passed", (unsigned long long)count,
           (unsigned long long)first, (unsigned long long)(first + count - 1),
           secs, (double)count / (secs > 0 ? secs : 1), jobs);
    return failed;
}
