/*
 * Leader election: (pre-)campaigns, answering vote requests, counting
 * votes, and TimeoutNow for leadership transfer. A pre-vote asks whether an
 * election at term + 1 could be won without bumping the term, so a node
 * that was cut off cannot disrupt a healthy leader when it returns.
 */
#include "lib/assert.h"
#include "lib/err.h"
#include "raft/core.h"

static bool raftLogUpToDate(const struct raft *r, uint64_t last_index,
                            uint64_t last_term)
{
    uint64_t my_term = logLastTerm(&r->log);
    return last_term > my_term ||
           (last_term == my_term && last_index >= logLastIndex(&r->log));
}

/* Counts the candidate's votes: 1 won, -1 lost, 0 undecided. */
static int raftTally(const struct raft *r)
{
    unsigned granted = raftIsVoter(r, r->id), rejected = 0; /* ourselves */
    unsigned voters = raftConfVoters(&r->conf);
    for (unsigned i = 0; i < r->n_prs; i++) {
        const struct raft_progress *pr = &r->prs[i];
        if (!raftIsVoter(r, pr->id) || !pr->vote_answered) {
            continue;
        }
        granted += pr->vote_granted;
        rejected += !pr->vote_granted;
    }
    if (granted >= raftQuorum(r)) {
        return 1;
    }
    return voters - rejected < raftQuorum(r) ? -1 : 0;
}

static int raftRequestVotes(struct raft *r, bool transfer)
{
    for (unsigned i = 0; i < r->n_prs; i++) {
        struct raft_message m = {0};
        if (!raftIsVoter(r, r->prs[i].id)) {
            continue;
        }
        m.type = RAFT_MSG_VOTE;
        m.to = r->prs[i].id;
        m.term = r->pre_voting ? r->term + 1 : r->term;
        m.vote.last_index = logLastIndex(&r->log);
        m.vote.last_term = logLastTerm(&r->log);
        m.vote.pre_vote = r->pre_voting;
        m.vote.disrupt_leader = transfer;
        int rv = raftSend(r, &m, true);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

static int raftTallyAct(struct raft *r, bool transfer)
{
    int outcome = raftTally(r);
    if (outcome > 0) {
        return r->pre_voting ? raftCampaign(r, false, transfer)
                             : raftBecomeLeader(r);
    }
    if (outcome < 0) {
        raftBecomeFollower(r, r->term, 0);
    }
    return 0;
}

int raftCampaign(struct raft *r, bool pre_vote, bool transfer)
{
    int rv;
    PRE(r->state != RAFT_LEADER);
    if (!raftMayCampaign(r)) {
        return 0;
    }
    r->state = RAFT_CANDIDATE;
    r->pre_voting = pre_vote;
    r->leader_id = 0;
    r->leader_contacted = false;
    if (!pre_vote) {
        r->term++;
        r->vote = r->id;
        r->hs_dirty = true;
    }
    raftResetElectionTimer(r);
    rv = raftProgressRebuild(r);
    if (rv != 0) {
        return rv;
    }
    for (unsigned i = 0; i < r->n_prs; i++) {
        r->prs[i].vote_granted = r->prs[i].vote_answered = false;
    }
    rv = raftRequestVotes(r, transfer);
    if (rv != 0) {
        return rv;
    }
    return raftTallyAct(r, transfer);
}

int raftStepVote(struct raft *r, const struct raft_message *m)
{
    struct raft_message reply = {0};
    bool log_ok = raftLogUpToDate(r, m->vote.last_index, m->vote.last_term);
    bool granted;
    if (m->vote.pre_vote) {
        granted = m->term > r->term && log_ok;
        reply.term = granted ? m->term : r->term;
    } else {
        ASSERT(m->term == r->term);
        granted = (r->vote == 0 || r->vote == m->from) && log_ok &&
                  r->state == RAFT_FOLLOWER;
        if (granted && r->vote == 0) {
            r->vote = m->from;
            r->hs_dirty = true;
        }
        if (granted) {
            raftResetElectionTimer(r);
        }
        reply.term = r->term;
    }
    reply.type = RAFT_MSG_VOTE_RESULT;
    reply.to = m->from;
    reply.vote_result.granted = granted;
    reply.vote_result.pre_vote = m->vote.pre_vote;
    return raftSend(r, &reply, true);
}

int raftStepVoteResult(struct raft *r, const struct raft_message *m)
{
    struct raft_progress *pr;
    if (r->state != RAFT_CANDIDATE ||
        r->pre_voting != (bool)m->vote_result.pre_vote) {
        return 0;
    }
    if (m->term != (r->pre_voting ? r->term + 1 : r->term) &&
        m->vote_result.granted) {
        return 0;
    }
    pr = raftProgress(r, m->from);
    if (pr == NULL || pr->vote_answered) {
        return 0;
    }
    pr->vote_answered = true;
    pr->vote_granted = m->vote_result.granted;
    return raftTallyAct(r, false);
}

int raftStepTimeoutNow(struct raft *r, const struct raft_message *m)
{
    if (r->state == RAFT_LEADER || !raftMayCampaign(r)) {
        return 0;
    }
    r->leader_id = m->from;
    return raftCampaign(r, false, true);
}
