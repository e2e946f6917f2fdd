/*
 * The automatic roles' policy: from what the leader knows of every member
 * (role, online, lost, failure domain, weight) and the targets, the one
 * role change to make next. One change per round keeps the cluster within
 * raft's one-change-at-a-time rule and lets every step be observed.
 *
 * Pure: no clock, no I/O, no allocation, so the rules can be tested one by
 * one (test/unit/server/test_roles.c). The rules, in priority order, and
 * why, are in docs/roles.md.
 */
#include <stdio.h>

#include "lib/assert.h"
#include "server/roles.h"

struct plan_counts {
    unsigned voters;
    unsigned online_voters;
    unsigned standbys;
    unsigned online_standbys;
};

static void planCount(const struct roles_member *m, unsigned n,
                      struct plan_counts *c)
{
    c->voters = c->online_voters = c->standbys = c->online_standbys = 0;
    for (unsigned i = 0; i < n; i++) {
        if (m[i].role == RAFT_VOTER) {
            c->voters++;
            c->online_voters += m[i].online;
        } else if (m[i].role == RAFT_STANDBY) {
            c->standbys++;
            c->online_standbys += m[i].online;
        }
    }
}

/* Whether an online member other than `self` holding `role` (or, with
 * `or_standby`, a stand-by too) is in `domain`. */
static bool planDomainHeld(const struct roles_member *m, unsigned n,
                           const struct roles_member *self, int role,
                           uint64_t domain)
{
    for (unsigned i = 0; i < n; i++) {
        if (&m[i] != self && m[i].online && m[i].role <= role &&
            m[i].domain == domain) {
            return true;
        }
    }
    return false;
}

/* Promotion order: a domain not held yet, lower weight, stand-by before
 * spare, lower id. Domains count for the role promoted to and above
 * (a stand-by's domain does not block a voter's promotion). */
static bool planPromoteBefore(const struct roles_member *m, unsigned n,
                              const struct roles_member *a,
                              const struct roles_member *b, int to)
{
    int held_role = to == RAFT_VOTER ? RAFT_VOTER : RAFT_STANDBY;
    bool held_a = planDomainHeld(m, n, a, held_role, a->domain);
    bool held_b = planDomainHeld(m, n, b, held_role, b->domain);
    if (held_a != held_b) {
        return !held_a;
    }
    if (a->weight != b->weight) {
        return a->weight < b->weight;
    }
    if (a->role != b->role) {
        return a->role < b->role;
    }
    return a->id < b->id;
}

int rolesPickPromotion(const struct roles_member *m, unsigned n, int to,
                       bool standbys_only)
{
    int best = -1;
    PRE(to == RAFT_VOTER || to == RAFT_STANDBY);
    for (unsigned i = 0; i < n; i++) {
        if (!m[i].online || m[i].role <= to ||
            (standbys_only && m[i].role != RAFT_STANDBY)) {
            continue;
        }
        if (best < 0 || planPromoteBefore(m, n, &m[i], &m[best], to)) {
            best = (int)i;
        }
    }
    return best;
}

/* Whether another member with a's role shares a's domain. */
static bool planDomainShared(const struct roles_member *m, unsigned n,
                             const struct roles_member *a)
{
    for (unsigned i = 0; i < n; i++) {
        if (&m[i] != a && m[i].role == a->role && m[i].domain == a->domain) {
            return true;
        }
    }
    return false;
}

/* Demotion order: lost, offline, a shared domain, higher weight, higher
 * id. */
static bool planDemoteBefore(const struct roles_member *m, unsigned n,
                             const struct roles_member *a,
                             const struct roles_member *b)
{
    if (a->lost != b->lost) {
        return a->lost;
    }
    if (a->online != b->online) {
        return !a->online;
    }
    bool shared_a = planDomainShared(m, n, a);
    bool shared_b = planDomainShared(m, n, b);
    if (shared_a != shared_b) {
        return shared_a;
    }
    if (a->weight != b->weight) {
        return a->weight > b->weight;
    }
    return a->id > b->id;
}

/* The worst member holding `role`, never the leader; -1 if none. */
static int planPickDemotion(const struct roles_member *m, unsigned n, int role,
                            uint64_t leader)
{
    int worst = -1;
    for (unsigned i = 0; i < n; i++) {
        if (m[i].role != role || m[i].id == leader) {
            continue;
        }
        if (worst < 0 || planDemoteBefore(m, n, &m[i], &m[worst])) {
            worst = (int)i;
        }
    }
    return worst;
}

static bool planSet(struct roles_change *out, const struct roles_member *who,
                    int role, const char *why, unsigned have, unsigned want)
{
    out->id = who->id;
    out->role = role;
    out->healthy_demotion = role > who->role && who->online;
    snprintf(out->reason, sizeof out->reason, why, have, want);
    return true;
}

/* The first lost member holding `role`, never the leader; -1 if none. */
static int planPickLost(const struct roles_member *m, unsigned n, int role,
                        uint64_t leader)
{
    for (unsigned i = 0; i < n; i++) {
        if (m[i].role == role && m[i].lost && m[i].id != leader) {
            return (int)i;
        }
    }
    return -1;
}

/* Whether two voters share a failure domain. */
static bool planVotersClustered(const struct roles_member *m, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (m[i].role == RAFT_VOTER && planDomainShared(m, n, &m[i])) {
            return true;
        }
    }
    return false;
}

/* Voters: replace missing ones, drop lost ones, trim extra ones, spread
 * them over failure domains. */
static bool planVoters(const struct roles_member *m, unsigned n,
                       uint64_t leader, unsigned want,
                       const struct plan_counts *c, struct roles_change *out)
{
    int i;
    if (c->online_voters < want &&
        (i = rolesPickPromotion(m, n, RAFT_VOTER, false)) >= 0) {
        return planSet(out, &m[i], RAFT_VOTER, "%u online voters, %u wanted",
                       c->online_voters, want);
    }
    /* The rest must keep a majority of the voters left: always true for a
     * leader whose quorum answers its probes. */
    if ((i = planPickLost(m, n, RAFT_VOTER, leader)) >= 0 &&
        2 * c->online_voters > c->voters - 1) {
        return planSet(out, &m[i], RAFT_SPARE,
                       "voter unreachable for too long (%u of %u voters "
                       "online)",
                       c->online_voters, c->voters);
    }
    /* Offline voters go first, so an online one is picked only when
     * every voter is online. */
    if (c->voters > want &&
        (i = planPickDemotion(m, n, RAFT_VOTER, leader)) >= 0 &&
        (!m[i].online || c->online_voters > want)) {
        return planSet(out, &m[i], m[i].online ? RAFT_STANDBY : RAFT_SPARE,
                       "%u voters, %u wanted", c->voters, want);
    }
    if (c->voters == want && c->online_voters == want &&
        planVotersClustered(m, n) &&
        (i = rolesPickPromotion(m, n, RAFT_VOTER, false)) >= 0 &&
        !planDomainHeld(m, n, &m[i], RAFT_VOTER, m[i].domain)) {
        return planSet(out, &m[i], RAFT_VOTER,
                       "spreads voters over failure domains (%u of %u)",
                       c->voters, want);
    }
    return false;
}

/* Stand-bys: fill up with online spares, drop lost ones, trim extra ones. */
static bool planStandbys(const struct roles_member *m, unsigned n,
                         uint64_t leader, unsigned want,
                         const struct plan_counts *c, struct roles_change *out)
{
    int i;
    if (c->online_standbys < want &&
        (i = rolesPickPromotion(m, n, RAFT_STANDBY, false)) >= 0) {
        return planSet(out, &m[i], RAFT_STANDBY,
                       "%u online stand-bys, %u wanted", c->online_standbys,
                       want);
    }
    if ((i = planPickLost(m, n, RAFT_STANDBY, leader)) >= 0) {
        return planSet(out, &m[i], RAFT_SPARE,
                       "stand-by unreachable for too long (%u of %u online)",
                       c->online_standbys, c->standbys);
    }
    if (c->standbys > want &&
        (i = planPickDemotion(m, n, RAFT_STANDBY, leader)) >= 0) {
        return planSet(out, &m[i], RAFT_SPARE, "%u stand-bys, %u wanted",
                       c->standbys, want);
    }
    return false;
}

bool rolesPlan(const struct roles_member *m, unsigned n, uint64_t leader,
               unsigned voters, unsigned standbys, struct roles_change *out)
{
    struct plan_counts c;
    PRE(voters % 2 == 1);
    planCount(m, n, &c);
    return planVoters(m, n, leader, voters, &c, out) ||
           planStandbys(m, n, leader, standbys, &c, out);
}
