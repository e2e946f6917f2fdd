/*
 * The simulated world: the seeded random source, the event queue (a binary
 * heap ordered by time then insertion), the network with its faults, and
 * the trace ring buffer printed when a seed fails.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "sim/sim.h"

struct sim_world *W;
struct sim_stats sim_stats;
bool sim_verbose;

/* ------------------------------------------------------------ random */

static uint64_t sim_rng;

uint64_t simRand(void)
{
    uint64_t z = (sim_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void simSeed(uint64_t seed);
void simSeed(uint64_t seed)
{
    sim_rng = seed * 0x2545f4914f6cdd1dull + 1;
}

uint64_t simRange(uint64_t lo, uint64_t hi)
{
    return lo + simRand() % (hi - lo + 1);
}

bool simChance(unsigned permille)
{
    return simRand() % 1000 < permille;
}

/* ------------------------------------------------------------ trace */

#define TRACE_LINES 600
#define TRACE_WIDTH 160
static char trace[TRACE_LINES][TRACE_WIDTH];
static unsigned trace_next;
static unsigned trace_count;

void simTrace(const char *fmt, ...)
{
    char *line = trace[trace_next];
    int n = snprintf(line, TRACE_WIDTH, "%7llu ms | ",
                     (unsigned long long)(W != NULL ? W->now_ms : 0));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, TRACE_WIDTH - (size_t)n, fmt, ap);
    va_end(ap);
    if (sim_verbose) {
        printf("%s\n", line);
    }
    trace_next = (trace_next + 1) % TRACE_LINES;
    if (trace_count < TRACE_LINES) {
        trace_count++;
    }
}

void simTraceDump(void)
{
    unsigned start = (trace_next + TRACE_LINES - trace_count) % TRACE_LINES;
    printf("---- trace (last %u events) ----\n", trace_count);
    for (unsigned i = 0; i < trace_count; i++) {
        printf("%s\n", trace[(start + i) % TRACE_LINES]);
    }
    printf("---- end of trace ----\n");
}

void simTraceReset(void);
void simTraceReset(void)
{
    trace_next = trace_count = 0;
}

_Noreturn void simFail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!sim_verbose) {
        simTraceDump();
    }
    printf("sim: seed %llu FAILED at %llu ms: %s\n",
           (unsigned long long)W->seed, (unsigned long long)W->now_ms, msg);
    printf("sim: reproduce with: sim --seed %llu -v\n",
           (unsigned long long)W->seed);
    fflush(stdout);
    exit(1);
}

/* ------------------------------------------------------------ events */

static bool simBefore(const struct sim_event *a, const struct sim_event *b)
{
    return a->at_ms < b->at_ms || (a->at_ms == b->at_ms && a->seq < b->seq);
}

static void simSwap(size_t i, size_t j)
{
    struct sim_event t = W->heap[i];
    W->heap[i] = W->heap[j];
    W->heap[j] = t;
}

void simPush(uint64_t at_ms, int kind, int node, uint8_t *buf, size_t len)
{
    if (W->n_heap == W->cap_heap) {
        W->cap_heap = W->cap_heap == 0 ? 256 : W->cap_heap * 2;
        W->heap = libRealloc(W->heap, W->cap_heap * sizeof *W->heap);
        ASSERT(W->heap != NULL);
    }
    size_t i = W->n_heap++;
    W->heap[i] = (struct sim_event){
        at_ms, W->seq++, kind, node, node >= 0 ? W->nodes[node].gen : 0,
        buf,   len};
    while (i > 0 && simBefore(&W->heap[i], &W->heap[(i - 1) / 2])) {
        simSwap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

bool simPop(struct sim_event *ev)
{
    size_t i = 0;
    if (W->n_heap == 0) {
        return false;
    }
    *ev = W->heap[0];
    W->heap[0] = W->heap[--W->n_heap];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < W->n_heap && simBefore(&W->heap[l], &W->heap[m])) {
            m = l;
        }
        if (r < W->n_heap && simBefore(&W->heap[r], &W->heap[m])) {
            m = r;
        }
        if (m == i) {
            break;
        }
        simSwap(i, m);
        i = m;
    }
    return true;
}

void simWorldClose(void)
{
    for (size_t i = 0; i < W->n_heap; i++) {
        libFree(W->heap[i].buf);
    }
    libFree(W->heap);
    W->heap = NULL;
    W->n_heap = W->cap_heap = 0;
}

/* ------------------------------------------------------------ network */

static const char *simMsgName(int type)
{
    static const char *names[] = {"?",          "Append",     "AppendResult",
                                  "Vote",       "VoteResult", "Snapshot",
                                  "SnapResult", "TimeoutNow"};
    return type >= 1 && type <= 7 ? names[type] : "?";
}

void simHealNetwork(void)
{
    for (int i = 0; i < SIM_MAX_NODES; i++) {
        for (int j = 0; j < SIM_MAX_NODES; j++) {
            W->link[i][j] = true;
        }
    }
}

static void simTraceMessage(int from, int to, const struct raft_message *m,
                            const char *what)
{
    char detail[96] = "";
    if (m->type == RAFT_MSG_APPEND) {
        snprintf(detail, sizeof detail, " prev=%llu/%llu n=%u commit=%llu",
                 (unsigned long long)m->append.prev_index,
                 (unsigned long long)m->append.prev_term, m->append.n_entries,
                 (unsigned long long)m->append.commit);
    } else if (m->type == RAFT_MSG_APPEND_RESULT) {
        snprintf(detail, sizeof detail, " ok=%u index=%llu last=%llu",
                 m->append_result.success,
                 (unsigned long long)m->append_result.index,
                 (unsigned long long)m->append_result.last_index);
    } else if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_VOTE_RESULT) {
        snprintf(detail, sizeof detail, " pre=%u granted=%u",
                 m->type == RAFT_MSG_VOTE ? m->vote.pre_vote
                                          : m->vote_result.pre_vote,
                 m->type == RAFT_MSG_VOTE ? 0 : m->vote_result.granted);
    } else if (m->type == RAFT_MSG_SNAPSHOT) {
        snprintf(detail, sizeof detail, " index=%llu off=%llu len=%zu last=%u",
                 (unsigned long long)m->snapshot.index,
                 (unsigned long long)m->snapshot.offset, m->snapshot.len,
                 m->snapshot.last);
    }
    simTrace("n%d -> n%d %s %s term=%llu%s", from + 1, to + 1, what,
             simMsgName(m->type), (unsigned long long)m->term, detail);
}

/* Encodes, then loses, delays or duplicates the message. */
void simSendMessage(int from, const struct raft_message *m)
{
    int to = simNodeIndex(m->to);
    uint8_t *buf;
    size_t len;
    if (to < 0) {
        return;
    }
    if (raftMessageEncode(m, &buf, &len) != 0) {
        simFail("encode failed");
    }
    simCheckLeaderMessage(from, m);
    bool lost =
        !W->link[from][to] || (!W->healed && simChance(W->cfg.loss_permille));
    if (sim_verbose) {
        simTraceMessage(from, to, m, lost ? "LOST" : "send");
    }
    if (lost) {
        libFree(buf);
        if (!W->link[from][to] && W->nodes[from].up && simChance(200)) {
            raftReportUnreachable(W->nodes[from].r, m->to); /* transport */
        }
        return;
    }
    unsigned copies = !W->healed && simChance(W->cfg.dup_permille) ? 2 : 1;
    for (unsigned c = 0; c < copies; c++) {
        uint8_t *copy = buf;
        if (c > 0) {
            copy = libMalloc(len);
            memcpy(copy, buf, len);
        }
        uint64_t delay = simRange(W->cfg.delay_min_ms, W->cfg.delay_max_ms);
        simPush(W->now_ms + delay, EV_DELIVER, to, copy, len);
    }
}
