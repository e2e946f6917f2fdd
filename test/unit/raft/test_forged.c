/* Messages the core must refuse (issue 15, finding 1): appends that
 * contradict the committed log, messages from servers outside the
 * configuration, messages addressed to another node; and the follower that
 * lost acknowledged entries (finding 8) or whose snapshot transfer outlasts
 * the snapshot interval (finding 11), which must still catch up. */
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

static struct raft_entry bootstrap(unsigned voters)
{
    struct raft_configuration c;
    struct raft_entry e;
    raftConfInit(&c);
    for (unsigned i = 1; i <= voters; i++) {
        cr_assert_eq(raftConfAdd(&c, i, "addr", RAFT_VOTER), 0);
    }
    cr_assert_eq(raftBootstrapEntry(&c, &e), 0);
    raftConfClose(&c);
    return e;
}

static void drain(struct raft *r, struct raft_ready *rd)
{
    cr_assert_eq(raftReady(r, rd), 0);
    raftAdvance(r, rd);
}

/* Node 2 of {1, 2, 3}: leader 1 at term 2 replicates entries 2..4 and
 * commits them. */
static struct raft *committedFollower(void)
{
    struct raft_options o = options();
    struct raft_hard_state hs = {0, 0};
    struct raft_entry e = bootstrap(3);
    struct raft_ready rd;
    struct raft *r;
    cr_assert_eq(raftCreate(2, &o, &hs, NULL, &e, 1, 1, 0, &r), 0);
    raftPayloadUnref(e.data);
    struct raft_entry real[3] = {{2, RAFT_BARRIER, NULL, 0},
                                 {2, RAFT_COMMAND, NULL, 0},
                                 {2, RAFT_COMMAND, NULL, 0}};
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 2};
    m.append = (struct raft_append){1, 1, 4, 0, real, 3};
    cr_assert_eq(raftStep(r, &m), 0);
    drain(r, &rd);
    cr_assert_eq(raftCommitIndex(r), 4);
    cr_assert_eq(raftTerm(r), 2);
    return r;
}

/* The entries of the attack: barriers, then a configuration adding a voter
 * 666; entries[n - 1].data must be released by the caller. */
static void forgedEntries(struct raft_entry *entries, unsigned n, uint64_t term)
{
    struct raft_configuration c;
    raftConfInit(&c);
    cr_assert_eq(raftConfAdd(&c, 666, "attacker", RAFT_VOTER), 0);
    for (unsigned i = 0; i + 1 < n; i++) {
        entries[i] = (struct raft_entry){term, RAFT_BARRIER, NULL, 0};
    }
    entries[n - 1] = (struct raft_entry){term, RAFT_CHANGE, NULL, 0};
    cr_assert_eq(
        raftConfEncodePayload(&c, &entries[n - 1].data, &entries[n - 1].len),
        0);
    raftConfClose(&c);
}

static void assertUntouched(struct raft *r)
{
    cr_assert_eq(raftTerm(r), 2, "the forged term was adopted");
    cr_assert_eq(raftLastIndex(r), 4, "the log changed");
    cr_assert_eq(raftCommitIndex(r), 4);
    for (uint64_t i = 2; i <= 4; i++) {
        cr_assert_eq(raftTermAt(r, i), 2, "committed entry %llu rewritten",
                     (unsigned long long)i);
    }
    cr_assert_null(raftConfGet(raftConfiguration(r), 666));
}

/* The attack of issue 15: the leader's id, a higher term, prev_index 0 and
 * entries whose terms contradict the committed ones. Refused whole and
 * reported; the committed log stays as it was. */
Test(forged, append_from_zero_contradicting_the_commit_is_refused)
{
    struct raft *r = committedFollower();
    struct raft_ready rd;
    struct raft_entry bad[5];
    forgedEntries(bad, 5, 7);
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 7};
    m.append = (struct raft_append){0, 0, 5, 0, bad, 5};
    cr_assert_eq(raftStep(r, &m), 0);
    assertUntouched(r);
    cr_assert_eq(raftNoticeCount(r, RAFT_NOTICE_COMMITTED), 1);
    cr_assert_eq(raftReady(r, &rd), 0);
    cr_assert_eq(rd.n_notices, 1);
    cr_assert_eq(rd.notice.kind, RAFT_NOTICE_COMMITTED);
    cr_assert_eq(rd.notice.from, 1);
    cr_assert_eq(rd.notice.index, 1); /* the first contradiction */
    cr_assert_eq(rd.n_messages + rd.n_messages_after_persist, 0);
    raftAdvance(r, &rd);
    raftPayloadUnref(bad[4].data);
    raftDestroy(r);
}

/* A previous entry at or below the commit index with another term is not
 * taken as matching: the entries after it are refused too. */
Test(forged, append_with_a_wrong_committed_prev_term_is_refused)
{
    struct raft *r = committedFollower();
    struct raft_entry bad[3];
    forgedEntries(bad, 3, 9);
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 9};
    m.append = (struct raft_append){2, 9, 5, 0, bad, 3}; /* 3, 4, 5 */
    cr_assert_eq(raftStep(r, &m), 0);
    assertUntouched(r);
    cr_assert_eq(raftNoticeCount(r, RAFT_NOTICE_COMMITTED), 1);
    /* The real leader goes on as before. */
    struct raft_entry next = {2, RAFT_COMMAND, NULL, 0};
    m = (struct raft_message){
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 2};
    m.append = (struct raft_append){4, 2, 5, 0, &next, 1};
    cr_assert_eq(raftStep(r, &m), 0);
    cr_assert_eq(raftCommitIndex(r), 5);
    raftPayloadUnref(bad[2].data);
    raftDestroy(r);
}

/* A server outside the configuration: neither its entries nor its term
 * are taken, and an empty append does not depose a leader. */
Test(forged, message_from_a_non_member_is_refused)
{
    struct raft *r = committedFollower();
    struct raft_entry bad[2];
    forgedEntries(bad, 2, 7);
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = 666, .to = 2, .term = 7};
    m.append = (struct raft_append){4, 2, 6, 0, bad, 2}; /* consistent */
    cr_assert_eq(raftStep(r, &m), 0);
    assertUntouched(r);
    cr_assert_eq(raftLeader(r), 1);
    cr_assert_eq(raftNoticeCount(r, RAFT_NOTICE_NOT_MEMBER), 1);
    raftPayloadUnref(bad[1].data);
    raftDestroy(r);

    /* A lone voter leads; a stranger's empty append at a higher term. */
    struct raft_options o = options();
    struct raft_hard_state hs = {0, 0};
    struct raft_entry e = bootstrap(1);
    struct raft_ready rd;
    cr_assert_eq(raftCreate(1, &o, &hs, NULL, &e, 1, 1, 0, &r), 0);
    raftPayloadUnref(e.data);
    raftTick(r, 1);
    drain(r, &rd);
    cr_assert_eq(raftState(r), RAFT_LEADER);
    m = (struct raft_message){
        .type = RAFT_MSG_APPEND, .from = 666, .to = 1, .term = 50};
    cr_assert_eq(raftStep(r, &m), 0);
    cr_assert_eq(raftState(r), RAFT_LEADER, "a stranger deposed the leader");
    cr_assert_eq(raftTerm(r), 1);
    raftDestroy(r);
}

/* A node with no configuration yet (new, about to be caught up by the
 * leader that added it) cannot judge a sender and accepts the leader. */
Test(forged, a_new_node_accepts_the_leader)
{
    struct raft_options o = options();
    struct raft_hard_state hs = {0, 0};
    struct raft_entry e = bootstrap(3);
    struct raft *r;
    cr_assert_eq(raftCreate(4, &o, &hs, NULL, NULL, 0, 1, 0, &r), 0);
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 4, .term = 3};
    m.append = (struct raft_append){0, 0, 1, 0, &e, 1};
    cr_assert_eq(raftStep(r, &m), 0);
    cr_assert_eq(raftLastIndex(r), 1);
    cr_assert_eq(raftLeader(r), 1);
    raftPayloadUnref(e.data);
    raftDestroy(r);
}

/* A message addressed to nobody in particular (0) or to another node is
 * dropped, however plausible. */
Test(forged, message_for_another_node_is_dropped)
{
    struct raft *r = committedFollower();
    struct raft_entry next = {7, RAFT_COMMAND, NULL, 0};
    uint64_t wrong[] = {0, 3, 666};
    for (unsigned k = 0; k < 3; k++) {
        struct raft_message m = {
            .type = RAFT_MSG_APPEND, .from = 1, .to = wrong[k], .term = 7};
        m.append = (struct raft_append){4, 2, 5, 0, &next, 1};
        cr_assert_eq(raftStep(r, &m), 0);
        assertUntouched(r);
    }
    cr_assert_eq(raftNoticeCount(r, RAFT_NOTICE_WRONG_TO), 3);
    raftDestroy(r);
}

/* Finding 8: a follower restarted with part of its log lost (a torn tail,
 * lost segments, an older copy of its data) is noticed by the same leader
 * and caught up; before, rejects at or below its match were ignored. */
Test(forged, follower_that_lost_its_tail_catches_up)
{
    harnessRun("cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "propose 1 10\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect last 3 12\n"
               "crash 3\n"
               "losetail 3 4\n"
               "restart 3\n"
               "expect last 3 4\n"
               "tick 20          # the heartbeat at its match is rejected\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect last 3 12\n"
               "expect applied 3 12\n"
               "expect notices 1 4 1\n");
}

/* ... and one whose data directory was wiped (term and vote kept), after
 * the leader compacted its log: it gets a snapshot. */
Test(forged, wiped_follower_gets_a_snapshot_and_catches_up)
{
    harnessRun("option trailing 2\n"
               "cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "propose 1 10\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "snapshot 1\n"
               "crash 3\n"
               "losetail 3 0\n"
               "restart 3\n"
               "expect last 3 0\n"
               "tick 20\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect installs 3 1\n"
               "expect applied 3 12\n"
               "propose 1\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect applied 3 13\n");
}

/* Finding 11: while a snapshot is in flight to node 3, the leader takes
 * two newer ones. The transfer goes on with the snapshot it started (kept
 * readable: raftSnapshotPinned), the entries after it stay in the leader's
 * log, and node 3 catches up from them with a single install. Before, each
 * newer snapshot restarted the transfer and compacted the entries away: a
 * transfer slower than the snapshot interval never ended. */
Test(forged, slow_snapshot_transfer_is_not_chased)
{
    harnessRun("option trailing 0\n"
               "option chunk 50     # 600-byte snapshots: 12 chunks\n"
               "cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "isolate 3\n"
               "propose 1 10\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "snapshot 1          # at 12: compacts all node 3 lacks\n"
               "heal\n"
               "tick 20             # 3 rejects; the transfer starts\n"
               "deliver 4\n"
               "cut 1 3             # chunks to 3 are lost for a while\n"
               "propose 1 3\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "snapshot 1          # at 15\n"
               "expect entry 1 13 1 # held for the transfer at 12\n"
               "propose 1 3\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "snapshot 1          # at 18\n"
               "expect entry 1 13 1\n"
               "heal\n"
               "tick 150            # the lost chunk is sent again\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect installs 3 1\n"
               "expect applied 3 18\n");
}

/* A member whose log ends before the entry that added the current leader
 * (it was cut off while that server joined and won an election) refuses
 * it at first, then, with no leader heard from for an election timeout,
 * takes its messages and learns the configuration from them. */
Test(forged, a_member_behind_accepts_a_new_leader_after_a_timeout)
{
    struct raft *r = committedFollower(); /* conf {1, 2, 3}, at 0 ms */
    struct raft_configuration c;
    struct raft_entry add;
    raftConfInit(&c);
    for (uint64_t id = 1; id <= 4; id++) {
        cr_assert_eq(raftConfAdd(&c, id, "addr", RAFT_VOTER), 0);
    }
    add = (struct raft_entry){3, RAFT_CHANGE, NULL, 0};
    cr_assert_eq(raftConfEncodePayload(&c, &add.data, &add.len), 0);
    raftConfClose(&c);
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = 4, .to = 2, .term = 3};
    m.append = (struct raft_append){4, 2, 5, 0, &add, 1};
    cr_assert_not(raftAcceptsStrangers(r));
    cr_assert_eq(raftStep(r, &m), 0);
    cr_assert_eq(raftLastIndex(r), 4, "a stranger was taken at once");
    raftTick(r, 150); /* no leader heard from: an election timeout */
    cr_assert(raftAcceptsStrangers(r));
    cr_assert_eq(raftStep(r, &m), 0);
    cr_assert_eq(raftLastIndex(r), 5);
    cr_assert_eq(raftLeader(r), 4);
    cr_assert_not_null(raftConfGet(raftConfiguration(r), 4));
    /* Only a leader of its configuration ends the window: the next
     * message from 4, now a member, does. */
    cr_assert(raftAcceptsStrangers(r));
    m.append = (struct raft_append){5, 3, 5, 0, NULL, 0};
    cr_assert_eq(raftStep(r, &m), 0);
    cr_assert_not(raftAcceptsStrangers(r));
    raftPayloadUnref(add.data);
    raftDestroy(r);
}

/* A leader of an older term may still hold entries a newer leader replaced
 * and committed: that is no attack. It gets the stale answer (our term),
 * which deposes it, and no notice. */
Test(forged, a_stale_leader_is_answered_not_reported)
{
    struct raft *r = committedFollower(); /* term 2, 1..4 committed */
    struct raft_ready rd;
    struct raft_entry old = {1, RAFT_COMMAND, NULL, 0};
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = 3, .to = 2, .term = 1};
    m.append = (struct raft_append){1, 1, 1, 0, &old, 1}; /* index 2 */
    cr_assert_eq(raftStep(r, &m), 0);
    assertUntouched(r);
    cr_assert_eq(raftNoticeCount(r, RAFT_NOTICE_COMMITTED), 0);
    cr_assert_eq(raftReady(r, &rd), 0);
    cr_assert_eq(rd.n_messages_after_persist, 1);
    cr_assert_eq(rd.messages_after_persist[0].message.term, 2);
    cr_assert_eq(rd.messages_after_persist[0].to, 3);
    raftAdvance(r, &rd);
    raftDestroy(r);
}
