/* Follower reads (docs/raft.md "Follower reads"): a follower asks its
 * leader for a read index with ReadIndex; the leader answers only once a
 * quorum confirmed its leadership after the request (or its lease holds);
 * the follower takes an answer only from the leader and term it asked,
 * fails the read when they change or after an election timeout, and knows
 * how fresh its copy is for bounded-staleness reads. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"
#include "lib/err.h"
#include "raft/raft.h"

static struct raft_options options(void)
{
    struct raft_options o;
    raftOptionsDefault(&o);
    o.election_timeout_ms = 100;
    o.heartbeat_timeout_ms = 10;
    return o;
}

static struct raft *follower(void)
{
    struct raft_options o = options();
    struct raft_hard_state hs = {0, 0};
    struct raft_configuration c;
    struct raft_entry e;
    struct raft *r;
    raftConfInit(&c);
    for (uint64_t i = 1; i <= 3; i++) {
        cr_assert_eq(raftConfAdd(&c, i, "addr", RAFT_VOTER), 0);
    }
    cr_assert_eq(raftBootstrapEntry(&c, &e), 0);
    raftConfClose(&c);
    cr_assert_eq(raftCreate(2, &o, &hs, NULL, &e, 1, 1, 0, &r), 0);
    raftPayloadUnref(e.data);
    return r;
}

/* A heartbeat of `leader` at `term` carrying commit index `commit`. */
static void heartbeat(struct raft *r, uint64_t leader, uint64_t term,
                      uint64_t commit)
{
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = leader, .to = 2, .term = term};
    m.append = (struct raft_append){
        raftLastIndex(r), raftTermAt(r, raftLastIndex(r)), commit, 0, NULL, 0};
    cr_assert_eq(raftStep(r, &m), 0);
}

static void answer(struct raft *r, uint64_t from, uint64_t term, uint64_t ctx,
                   uint64_t index, uint8_t success)
{
    struct raft_message m = {.type = RAFT_MSG_READ_INDEX_RESULT,
                             .from = from,
                             .to = 2,
                             .term = term};
    m.read_index_result = (struct raft_read_index_result){ctx, index, success};
    cr_assert_eq(raftStep(r, &m), 0);
}

/* The ready batch: how many reads, the first one; the ReadIndex sent. */
static unsigned ready(struct raft *r, struct raft_read_state *read,
                      uint64_t *asked_ctx, uint64_t *asked_to)
{
    struct raft_ready rd;
    cr_assert_eq(raftReady(r, &rd), 0);
    unsigned n = rd.n_reads;
    if (n > 0) {
        *read = rd.reads[0];
    }
    *asked_to = 0;
    for (unsigned i = 0; i < rd.n_messages + rd.n_messages_after_persist; i++) {
        const struct raft_send *s =
            i < rd.n_messages ? &rd.messages[i]
                              : &rd.messages_after_persist[i - rd.n_messages];
        if (s->message.type == RAFT_MSG_READ_INDEX) {
            *asked_ctx = s->message.read_index.ctx;
            *asked_to = s->to;
        }
    }
    raftAdvance(r, &rd);
    return n;
}

Test(follower_read, asks_the_leader_and_takes_its_answer)
{
    struct raft *r = follower();
    struct raft_read_state read;
    uint64_t ctx = 0, to = 0;
    cr_assert_eq(raftReadIndex(r, 9, 0), ERR_NOTLEADER); /* none known */
    heartbeat(r, 1, 2, 1);
    cr_assert_eq(raftReadIndex(r, 9, 0), 0);
    cr_assert_eq(ready(r, &read, &ctx, &to), 0);
    cr_assert_eq(to, 1);
    cr_assert_eq(ctx, 9);
    answer(r, 3, 2, 9, 5, 1); /* not the leader asked: ignored */
    cr_assert_eq(ready(r, &read, &ctx, &to), 0);
    answer(r, 1, 2, 8, 5, 1); /* another read: ignored */
    cr_assert_eq(ready(r, &read, &ctx, &to), 0);
    answer(r, 1, 2, 9, 5, 1);
    cr_assert_eq(ready(r, &read, &ctx, &to), 1);
    cr_assert_eq(read.ctx, 9);
    cr_assert_eq(read.index, 5);
    cr_assert(!read.failed);
    answer(r, 1, 2, 9, 5, 1); /* a duplicate: already answered */
    cr_assert_eq(ready(r, &read, &ctx, &to), 0);
    raftDestroy(r);
}

/* A deposed leader's answer is never used: once a newer leader is known
 * the read fails at once, and the old leader's late answer is dropped. */
Test(follower_read, a_deposed_leaders_answer_is_not_used)
{
    struct raft *r = follower();
    struct raft_read_state read;
    uint64_t ctx = 0, to = 0;
    heartbeat(r, 1, 2, 1);
    cr_assert_eq(raftReadIndex(r, 9, 0), 0);
    cr_assert_eq(ready(r, &read, &ctx, &to), 0);
    heartbeat(r, 3, 3, 1); /* 3 leads term 3 */
    cr_assert_eq(ready(r, &read, &ctx, &to), 1);
    cr_assert_eq(read.ctx, 9);
    cr_assert(read.failed);
    cr_assert_eq(read.index, 0);
    answer(r, 1, 2, 9, 7, 1); /* the old term: not used */
    cr_assert_eq(ready(r, &read, &ctx, &to), 0);
    /* The new leader is asked afresh; a refusal fails the read. */
    cr_assert_eq(raftReadIndex(r, 10, 0), 0);
    cr_assert_eq(ready(r, &read, &ctx, &to), 0);
    cr_assert_eq(to, 3);
    answer(r, 3, 3, 10, 0, 0);
    cr_assert_eq(ready(r, &read, &ctx, &to), 1);
    cr_assert(read.failed);
    raftDestroy(r);
}

/* No answer: the read fails after an election timeout, never hangs. */
Test(follower_read, fails_after_an_election_timeout)
{
    struct raft *r = follower();
    struct raft_read_state read;
    uint64_t ctx = 0, to = 0;
    heartbeat(r, 1, 2, 1);
    cr_assert_eq(raftReadIndex(r, 9, 0), 0);
    raftTick(r, 99);
    cr_assert_eq(ready(r, &read, &ctx, &to), 0);
    heartbeat(r, 1, 2, 1); /* the leader is alive, but never answers */
    raftTick(r, 100);
    cr_assert_eq(ready(r, &read, &ctx, &to), 1);
    cr_assert(read.failed);
    raftDestroy(r);
}

/* Bounded staleness: fresh while the last contact with the leader whose
 * commit index this follower reached is recent enough. */
Test(follower_read, freshness_follows_the_leaders_commit)
{
    struct raft *r = follower();
    uint64_t index = 0;
    cr_assert(!raftFollowerFresh(r, 0, 1000, &index));
    heartbeat(r, 1, 2, 1);
    cr_assert(raftFollowerFresh(r, 0, 50, &index));
    cr_assert_eq(index, 1);
    raftTick(r, 40);
    cr_assert(raftFollowerFresh(r, 40, 50, &index));
    cr_assert(!raftFollowerFresh(r, 51, 50, &index));
    /* The leader's commit index is past what this follower holds: the
     * contact does not make it fresh. */
    heartbeat(r, 1, 2, 5);
    cr_assert(!raftFollowerFresh(r, 60, 59, &index));
    cr_assert(raftFollowerFresh(r, 60, 60, &index));
    cr_assert_eq(index, 1);
    raftDestroy(r);
}

/* The cluster: the leader answers a follower's read only after a quorum
 * round started after the request; cut off, the follower fails it. */
Test(follower_read, leader_answers_after_a_quorum_round)
{
    harnessRun("cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "expect leader 1\n"
               "propose 1 1\n"
               "stabilize\n"
               "read 2 9\n"
               "deliver 1           # the ReadIndex: 1 starts a round\n"
               "cut 2 1             # 1 still reaches 2, hears nobody\n"
               "cut 3 1\n"
               "stabilize\n"
               "expect noread 2 9   # no quorum confirmed the round\n"
               "heal\n"
               "tick 20             # the next heartbeat round\n"
               "stabilize\n"
               "expect read 2 9 3   # after a quorum confirmed\n"
               "isolate 3\n"
               "read 2 10\n"
               "stabilize\n"
               "expect read 2 10 3  # 1 and 2 are a quorum\n"
               "heal\n"
               "isolate 1\n"
               "read 2 12\n"
               "stabilize\n"
               "tickone 2 50\n"
               "expect noread 2 12\n"
               "tickone 2 60        # an election timeout after asking\n"
               "expect readfail 2 12\n");
}

/* With a lease, the leader answers a follower at once. */
Test(follower_read, lease_answers_without_a_round)
{
    harnessRun("option lease 1\n"
               "cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "cut 1 3\n"
               "cut 3 1\n"
               "read 2 9\n"
               "deliver 2           # ReadIndex, then the answer\n"
               "expect read 2 9 2\n");
}
