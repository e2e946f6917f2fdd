/* The core's API contract on a single node: creation from persisted state,
 * the ready batch, errors for misuse, and out-of-memory at every
 * allocation of a scripted run (each must fail cleanly, leak nothing). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "lib/alloc.h"
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

Test(core, create_rejects_inconsistent_state)
{
    struct raft_options o = options();
    struct raft_hard_state hs = {0, 0};
    struct raft_entry e = bootstrap(1);
    struct raft *r;
    cr_assert_eq(raftCreate(0, &o, &hs, NULL, NULL, 0, 1, 0, &r), ERR_INVALID);
    cr_assert_eq(raftCreate(1, &o, &hs, NULL, &e, 1, 5, 0, &r), ERR_INVALID);
    o.heartbeat_timeout_ms = o.election_timeout_ms;
    cr_assert_eq(raftCreate(1, &o, &hs, NULL, &e, 1, 1, 0, &r), ERR_INVALID);
    o = options();
    struct raft_snapshot_meta snap = {10, 2, {0}, 1};
    raftConfInit(&snap.conf);
    cr_assert_eq(raftConfAdd(&snap.conf, 1, "a", RAFT_VOTER), 0);
    cr_assert_eq(raftCreate(1, &o, &hs, &snap, &e, 1, 12, 0, &r),
                 ERR_INVALID); /* a hole after the snapshot */
    raftConfClose(&snap.conf);
    raftPayloadUnref(e.data);
}

/* One voter: elected on its first timeout; the ready batch persists the
 * vote, then the no-op; committing needs the write to be acknowledged. */
Test(core, single_voter_ready_contract)
{
    struct raft_options o = options();
    struct raft_hard_state hs = {0, 0};
    struct raft_entry e = bootstrap(1);
    struct raft_ready rd;
    struct raft *r;
    uint64_t index, term;
    cr_assert_eq(raftCreate(1, &o, &hs, NULL, &e, 1, 1, 0, &r), 0);
    raftPayloadUnref(e.data);
    cr_assert_eq(raftState(r), RAFT_FOLLOWER);
    raftTick(r, 500);
    cr_assert_eq(raftState(r), RAFT_LEADER);
    cr_assert(raftHasReady(r));
    cr_assert_eq(raftReady(r, &rd), 0);
    cr_assert(!raftHasReady(r)); /* one batch at a time */
    cr_assert(rd.has_hard_state);
    cr_assert_eq(rd.hard_state.term, 1);
    cr_assert_eq(rd.hard_state.vote, 1);
    cr_assert_eq(rd.n_entries, 1);
    cr_assert_eq(rd.entries_index, 2);
    cr_assert_eq(rd.entries[0].type, RAFT_BARRIER);
    cr_assert(rd.state_changed);
    cr_assert_eq(rd.state, RAFT_LEADER);
    cr_assert_eq(rd.n_committed, 1); /* the bootstrap entry is of term 1 */
    /* A proposal while the batch is out goes into the next one. */
    uint8_t *data = raftPayloadAlloc(3);
    memcpy(data, "abc", 3);
    cr_assert_eq(raftPropose(r, data, 3, &index, &term), 0);
    raftPayloadUnref(data);
    cr_assert_eq(index, 3);
    cr_assert_eq(raftCommitIndex(r), 1);
    raftAdvance(r, &rd);
    cr_assert_eq(raftCommitIndex(r), 2);
    cr_assert_eq(raftReady(r, &rd), 0);
    cr_assert_eq(rd.n_committed, 1); /* the no-op */
    cr_assert_eq(rd.committed_index, 2);
    cr_assert_eq(rd.n_entries, 1);
    cr_assert_arr_eq(rd.entries[0].data, "abc", 3);
    raftAdvance(r, &rd);
    cr_assert_eq(raftReady(r, &rd), 0);
    cr_assert_eq(rd.n_committed, 1);
    cr_assert_eq(rd.committed_index, 3);
    raftAdvance(r, &rd);
    cr_assert_eq(raftLastApplied(r), 3);
    cr_assert_eq(raftSnapshotTaken(r, 9), ERR_INVALID);
    cr_assert_eq(raftId(r), 1);
    cr_assert_eq(raftLeader(r), 1);
    raftDestroy(r);
}

/* Restart from a snapshot plus trailing entries that overlap it. */
Test(core, restart_from_snapshot_with_trailing_entries)
{
    struct raft_options o = options();
    struct raft_hard_state hs = {3, 1};
    struct raft_entry entries[4];
    struct raft_snapshot_meta snap = {6, 3, {0}, 1};
    struct raft *r;
    raftConfInit(&snap.conf);
    cr_assert_eq(raftConfAdd(&snap.conf, 1, "a", RAFT_VOTER), 0);
    for (unsigned i = 0; i < 4; i++) {
        entries[i] = (struct raft_entry){3, RAFT_COMMAND, NULL, 0};
    }
    cr_assert_eq(raftCreate(1, &o, &hs, &snap, entries, 4, 5, 0, &r), 0);
    cr_assert_eq(raftLastIndex(r), 8);
    cr_assert_eq(raftCommitIndex(r), 6);
    cr_assert_eq(raftLastApplied(r), 6);
    cr_assert_eq(raftTermAt(r, 6), 3);
    cr_assert_eq(raftTerm(r), 3);
    cr_assert_eq(raftConfiguration(r)->n, 1);
    raftDestroy(r);
    /* Entries that contradict the snapshot are dropped. */
    entries[1].term = 2;
    cr_assert_eq(raftCreate(1, &o, &hs, &snap, entries, 4, 5, 0, &r), 0);
    cr_assert_eq(raftLastIndex(r), 6);
    raftDestroy(r);
    raftConfClose(&snap.conf);
}

Test(core, api_errors_on_a_follower)
{
    struct raft_options o = options();
    struct raft_hard_state hs = {0, 0};
    struct raft_entry e = bootstrap(3);
    struct raft *r;
    uint64_t index, term;
    cr_assert_eq(raftCreate(1, &o, &hs, NULL, &e, 1, 1, 0, &r), 0);
    raftPayloadUnref(e.data);
    cr_assert_eq(raftPropose(r, NULL, 0, &index, &term), ERR_NOTLEADER);
    cr_assert_eq(raftBarrier(r, &index, &term), ERR_NOTLEADER);
    cr_assert_eq(raftAddServer(r, 4, "x", &index), ERR_NOTLEADER);
    cr_assert_eq(raftAssignRole(r, 2, RAFT_SPARE, &index), ERR_NOTLEADER);
    cr_assert_eq(raftRemoveServer(r, 2, &index), ERR_NOTLEADER);
    cr_assert_eq(raftTransfer(r, 2), ERR_NOTLEADER);
    cr_assert_eq(raftReadIndex(r, 1, 0), ERR_NOTLEADER);
    raftReportUnreachable(r, 2);
    raftReportSnapshot(r, 2, false);
    cr_assert_eq(raftSnapshotChunk(r, 2, 1, 0, NULL, 0, true), 0);
    /* Messages not for us, or from ourselves, are ignored. */
    struct raft_message m = {
        .type = RAFT_MSG_VOTE, .from = 1, .to = 1, .term = 9};
    cr_assert_eq(raftStep(r, &m), 0);
    m.from = 2;
    m.to = 3;
    cr_assert_eq(raftStep(r, &m), 0);
    cr_assert_eq(raftTerm(r), 0);
    raftDestroy(r);
}

Test(core, discard_releases_an_unacknowledged_batch)
{
    struct raft_options o = options();
    struct raft_hard_state hs = {0, 0};
    struct raft_entry e = bootstrap(1);
    struct raft_ready rd;
    struct raft *r;
    cr_assert_eq(raftCreate(1, &o, &hs, NULL, &e, 1, 1, 0, &r), 0);
    raftPayloadUnref(e.data);
    raftTick(r, 500);
    cr_assert_eq(raftReady(r, &rd), 0);
    raftDiscard(r, &rd);
    cr_assert_eq(raftCommitIndex(r), 1); /* the no-op was not acknowledged */
    raftDestroy(r);
}

static const char *oom_script = "option trailing 0\n"
                                "option chunk 200\n"
                                "cluster 3\n"
                                "oom %ld\n"
                                "campaign 1\n"
                                "stabilize\n"
                                "propose 1 3\n"
                                "read 1 1\n"
                                "isolate 3\n"
                                "propose 1 3\n"
                                "stabilize\n"
                                "tick 20\n"
                                "stabilize\n"
                                "snapshot 1\n"
                                "heal\n"
                                "tick 20\n"
                                "stabilize\n"
                                "tick 20\n"
                                "stabilize\n"
                                "remove 1 3\n"
                                "stabilize\n"
                                "tick 20\n"
                                "stabilize\n"
                                "add 1 3\n"
                                "stabilize\n"
                                "tick 20\n"
                                "stabilize\n"
                                "transfer 1 2\n"
                                "stabilize\n"
                                "tick 20\n"
                                "stabilize\n";

/* Every allocation the core makes in a busy scripted run fails once in
 * turn: calls return ERR_NOMEM, nothing crashes or leaks (ASan). */
Test(core, out_of_memory_everywhere)
{
    char script[2048];
    int failed = 0;
    for (long n = 0; n < 1500; n += 3) {
        snprintf(script, sizeof script, oom_script, n);
        failed += harnessRunTolerant(script) > 0;
        libAllocFailAfter(-1, 1);
    }
    cr_assert(failed > 0);
    snprintf(script, sizeof script, oom_script, -1L);
    cr_assert_eq(harnessRunTolerant(script), 0);
}

/* A decodable but inconsistent append (from a broken peer) is ignored
 * instead of tripping an assertion. */
Test(core, inconsistent_append_is_ignored)
{
    struct raft_options o = options();
    struct raft_hard_state hs = {0, 0};
    struct raft_entry e = bootstrap(3);
    struct raft *r;
    cr_assert_eq(raftCreate(2, &o, &hs, NULL, &e, 1, 1, 0, &r), 0);
    raftPayloadUnref(e.data);
    struct raft_entry bad[2] = {{3, RAFT_COMMAND, NULL, 0},
                                {2, RAFT_COMMAND, NULL, 0}};
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 3};
    m.append = (struct raft_append){1, 1, 0, 0, bad, 2};
    cr_assert_eq(raftStep(r, &m), 0); /* terms go down */
    bad[1].term = 4;
    cr_assert_eq(raftStep(r, &m), 0); /* past the message's term */
    bad[1] = (struct raft_entry){3, RAFT_CHANGE, raftPayloadAlloc(2), 2};
    memset(bad[1].data, 0xff, 2);
    cr_assert_eq(raftStep(r, &m), 0); /* undecodable configuration */
    cr_assert_eq(raftLastIndex(r), 1);
    raftPayloadUnref(bad[1].data);
    bad[1].type = RAFT_COMMAND;
    bad[1].data = NULL;
    bad[1].len = 0;
    cr_assert_eq(raftStep(r, &m), 0);
    cr_assert_eq(raftLastIndex(r), 3);
    cr_assert_eq(raftLeader(r), 1);
    raftDestroy(r);
}

/* What promises something about the disk leaves only after the batch's
 * writes: a vote grant, a candidate's requests, an append acknowledgement. */
Test(core, promises_wait_for_durability)
{
    struct raft_options o = options();
    struct raft_hard_state hs = {0, 0};
    struct raft_entry e = bootstrap(3);
    struct raft_ready rd;
    struct raft *r;
    cr_assert_eq(raftCreate(2, &o, &hs, NULL, &e, 1, 1, 0, &r), 0);
    struct raft_message m = {
        .type = RAFT_MSG_VOTE, .from = 1, .to = 2, .term = 1};
    m.vote = (struct raft_vote){1, 1, 0, 0};
    cr_assert_eq(raftStep(r, &m), 0);
    cr_assert_eq(raftReady(r, &rd), 0);
    cr_assert(rd.has_hard_state);
    cr_assert_eq(rd.hard_state.vote, 1);
    cr_assert_eq(rd.n_messages, 0);
    cr_assert_eq(rd.n_messages_after_persist, 1);
    cr_assert_eq(rd.messages_after_persist[0].message.type,
                 RAFT_MSG_VOTE_RESULT);
    cr_assert(rd.messages_after_persist[0].message.vote_result.granted);
    cr_assert_str_eq(rd.messages_after_persist[0].address, "addr");
    raftAdvance(r, &rd);
    /* An append from the leader: the acknowledgement waits too. */
    struct raft_entry more = {1, RAFT_COMMAND, NULL, 0};
    m = (struct raft_message){
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1};
    m.append = (struct raft_append){1, 1, 1, 0, &more, 1};
    cr_assert_eq(raftStep(r, &m), 0);
    cr_assert_eq(raftReady(r, &rd), 0);
    cr_assert_eq(rd.n_entries, 1);
    cr_assert_eq(rd.n_messages, 0);
    cr_assert_eq(rd.n_messages_after_persist, 1);
    cr_assert(rd.messages_after_persist[0].message.append_result.success);
    cr_assert_eq(rd.n_committed, 1);
    raftAdvance(r, &rd);
    raftDestroy(r);
    /* A candidate asks for votes only once its own vote is written. */
    o.pre_vote = false;
    cr_assert_eq(raftCreate(3, &o, &hs, NULL, &e, 1, 1, 0, &r), 0);
    raftPayloadUnref(e.data);
    raftTick(r, 1000);
    cr_assert_eq(raftState(r), RAFT_CANDIDATE);
    cr_assert_eq(raftReady(r, &rd), 0);
    cr_assert(rd.has_hard_state);
    cr_assert_eq(rd.hard_state.vote, 3);
    cr_assert_eq(rd.n_messages, 0);
    cr_assert_eq(rd.n_messages_after_persist, 2);
    raftAdvance(r, &rd);
    raftDestroy(r);
}

/* raftSendNow collects what it is handed. */
struct sent {
    unsigned n;
    uint64_t to[8];
    unsigned n_entries[8];
};

static void collect(void *arg, const struct raft_send *s)
{
    struct sent *sent = arg;
    cr_assert_lt(sent->n, 8);
    cr_assert_eq(s->message.type, RAFT_MSG_APPEND);
    cr_assert_str_eq(s->address, "addr");
    sent->to[sent->n] = s->to;
    sent->n_entries[sent->n++] = s->message.append.n_entries;
}

/* While a leader's batch is being written, a new proposal's AppendEntries
 * leave at once (raftSendNow), and the followers' acknowledgements commit
 * it before the leader's own write is durable (raft §10.2.1); nothing
 * leaves while a vote is not yet durable. */
Test(core, appends_leave_while_the_batch_is_written)
{
    struct raft_options o = options();
    struct raft_hard_state hs = {0, 0};
    struct raft_entry e = bootstrap(3);
    struct raft_ready rd;
    struct raft *r;
    struct sent sent = {0};
    uint64_t index, term;
    o.pre_vote = false;
    cr_assert_eq(raftCreate(1, &o, &hs, NULL, &e, 1, 1, 0, &r), 0);
    raftPayloadUnref(e.data);
    raftTick(r, 1000);
    cr_assert_eq(raftState(r), RAFT_CANDIDATE);
    cr_assert_eq(raftReady(r, &rd), 0);
    cr_assert(rd.has_hard_state);
    raftSendNow(r, collect, &sent); /* the vote is not durable yet */
    cr_assert_eq(sent.n, 0);
    raftAdvance(r, &rd);
    struct raft_message m = {
        .type = RAFT_MSG_VOTE_RESULT, .from = 2, .to = 1, .term = 1};
    m.vote_result.granted = true;
    cr_assert_eq(raftStep(r, &m), 0);
    cr_assert_eq(raftState(r), RAFT_LEADER);
    cr_assert_eq(raftReady(r, &rd), 0); /* the no-op at 2, being written */
    cr_assert_eq(rd.n_entries, 1);
    cr_assert_eq(rd.n_messages, 2);
    /* both followers hold the no-op: a quorum without the leader */
    for (uint64_t from = 2; from <= 3; from++) {
        m = (struct raft_message){
            .type = RAFT_MSG_APPEND_RESULT, .from = from, .to = 1, .term = 1};
        m.append_result = (struct raft_append_result){1, 2, 2, 0, 0};
        cr_assert_eq(raftStep(r, &m), 0);
    }
    cr_assert_eq(raftCommitIndex(r), 2);
    uint8_t *data = raftPayloadAlloc(3);
    memcpy(data, "abc", 3);
    cr_assert_eq(raftPropose(r, data, 3, &index, &term), 0);
    raftPayloadUnref(data);
    cr_assert_eq(index, 3);
    raftSendNow(r, collect, &sent);
    cr_assert_eq(sent.n, 2, "the proposal waited for the write");
    cr_assert_eq(sent.to[0] + sent.to[1], 2 + 3);
    cr_assert_eq(sent.n_entries[0], 1);
    raftSendNow(r, collect, &sent); /* each message once */
    cr_assert_eq(sent.n, 2);
    for (uint64_t from = 2; from <= 3; from++) {
        m = (struct raft_message){
            .type = RAFT_MSG_APPEND_RESULT, .from = from, .to = 1, .term = 1};
        m.append_result = (struct raft_append_result){1, 3, 3, 0, 0};
        cr_assert_eq(raftStep(r, &m), 0);
    }
    cr_assert_eq(raftCommitIndex(r), 3);
    raftAdvance(r, &rd);
    cr_assert_eq(raftReady(r, &rd), 0);
    cr_assert_eq(rd.n_entries, 1); /* the proposal, written after all */
    /* ...up to 3, handed out to apply once the write is acknowledged */
    cr_assert_eq(rd.committed_index + rd.n_committed - 1, 3);
    raftAdvance(r, &rd);
    raftDestroy(r);
}

static void collectResult(void *arg, const struct raft_send *s)
{
    struct raft_append_result *out = arg;
    cr_assert_eq(s->message.type, RAFT_MSG_APPEND_RESULT);
    *out = s->message.append_result;
}

/* A follower writing a batch still answers heartbeats about what is
 * already durable (the leader keeps its quorum); the acknowledgement of
 * the new entry waits for the write. */
Test(core, heartbeats_are_answered_during_a_write)
{
    struct raft_options o = options();
    struct raft_hard_state hs = {1, 1};
    struct raft_entry e = bootstrap(3);
    struct raft_ready rd;
    struct raft *r;
    struct raft_append_result res = {0};
    cr_assert_eq(raftCreate(2, &o, &hs, NULL, &e, 1, 1, 0, &r), 0);
    raftPayloadUnref(e.data);
    struct raft_entry more = {1, RAFT_COMMAND, NULL, 0};
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1};
    m.append = (struct raft_append){1, 1, 1, 0, &more, 1};
    cr_assert_eq(raftStep(r, &m), 0);
    cr_assert_eq(raftReady(r, &rd), 0); /* entry 2, being written */
    cr_assert_eq(rd.n_entries, 1);
    cr_assert_eq(rd.n_messages_after_persist, 1);
    m.append = (struct raft_append){1, 1, 1, 7, NULL, 0}; /* heartbeat */
    cr_assert_eq(raftStep(r, &m), 0);
    raftSendNow(r, collectResult, &res);
    cr_assert(res.success);
    cr_assert_eq(res.index, 1);
    cr_assert_eq(res.last_index, 1, "claims the entry being written");
    cr_assert_eq(res.read_seq, 7);
    /* a heartbeat at the entry being written waits for the write */
    res = (struct raft_append_result){0};
    m.append = (struct raft_append){2, 1, 1, 8, NULL, 0};
    cr_assert_eq(raftStep(r, &m), 0);
    raftSendNow(r, collectResult, &res);
    cr_assert_eq(res.read_seq, 0);
    raftAdvance(r, &rd);
    cr_assert_eq(raftReady(r, &rd), 0);
    cr_assert_eq(rd.n_messages_after_persist, 1);
    cr_assert_eq(rd.messages_after_persist[0].message.append_result.index, 2);
    cr_assert_eq(rd.messages_after_persist[0].message.append_result.read_seq,
                 8);
    raftAdvance(r, &rd);
    raftDestroy(r);
}
