/* The automatic roles' policy (src/server/roles_plan.c), rule by rule: the
 * one change a leader makes next for a given picture of its cluster. */
#include <criterion/criterion.h>

#include "server/roles.h"

#define V RAFT_VOTER
#define S RAFT_STANDBY
#define P RAFT_SPARE

/* Member `id`, role, online, domain, weight (lost: see lostMember). */
static struct roles_member member(uint64_t id, int role, bool online,
                                  uint64_t domain, uint64_t weight)
{
    struct roles_member m = {id, role, online, false, domain, weight};
    return m;
}

static struct roles_member lostMember(uint64_t id, int role)
{
    struct roles_member m = {id, role, false, true, 0, 0};
    return m;
}

static void expectChange(const struct roles_member *m, unsigned n,
                         unsigned voters, unsigned standbys, uint64_t id,
                         int role)
{
    struct roles_change c;
    cr_assert(rolesPlan(m, n, 1, voters, standbys, &c), "no change planned");
    cr_assert_eq(c.id, id, "changed node %llu, want %llu",
                 (unsigned long long)c.id, (unsigned long long)id);
    cr_assert_eq(c.role, role, "role %d, want %d (%s)", c.role, role, c.reason);
}

static void expectNothing(const struct roles_member *m, unsigned n,
                          unsigned voters, unsigned standbys)
{
    struct roles_change c;
    cr_assert(!rolesPlan(m, n, 1, voters, standbys, &c),
              "planned node %llu -> %d (%s)", (unsigned long long)c.id, c.role,
              c.reason);
}

Test(roles_plan, settled_cluster_changes_nothing)
{
    struct roles_member m[] = {
        member(1, V, true, 1, 0), member(2, V, true, 2, 0),
        member(3, V, true, 3, 0), member(4, S, true, 1, 0),
        member(5, P, true, 2, 0)};
    expectNothing(m, 5, 3, 1);
}

Test(roles_plan, promotes_a_free_domain_first)
{
    struct roles_member m[] = {member(1, V, true, 1, 0),
                               member(2, P, true, 1, 0),
                               member(3, P, true, 2, 0)};
    expectChange(m, 3, 3, 0, 3, V);
}

Test(roles_plan, promotes_lower_weight_then_standby_then_lower_id)
{
    struct roles_member by_weight[] = {member(1, V, true, 1, 0),
                                       member(2, S, true, 2, 5),
                                       member(3, P, true, 3, 1)};
    expectChange(by_weight, 3, 3, 0, 3, V);
    struct roles_member by_role[] = {member(1, V, true, 1, 0),
                                     member(2, P, true, 2, 0),
                                     member(3, S, true, 3, 0)};
    expectChange(by_role, 3, 3, 0, 3, V);
    struct roles_member by_id[] = {member(1, V, true, 1, 0),
                                   member(3, P, true, 2, 0),
                                   member(2, P, true, 3, 0)};
    expectChange(by_id, 3, 3, 0, 2, V);
}

Test(roles_plan, never_promotes_an_offline_member)
{
    struct roles_member m[] = {member(1, V, true, 1, 0),
                               member(2, S, false, 2, 0)};
    expectNothing(m, 2, 3, 1);
}

Test(roles_plan, replaces_an_offline_voter)
{
    struct roles_member m[] = {
        member(1, V, true, 1, 0), member(2, V, false, 2, 0),
        member(3, V, true, 3, 0), member(4, S, true, 2, 0)};
    expectChange(m, 4, 3, 1, 4, V);
}

Test(roles_plan, then_demotes_the_extra_offline_voter_to_spare)
{
    struct roles_member m[] = {
        member(1, V, true, 1, 0), member(2, V, false, 2, 0),
        member(3, V, true, 3, 0), member(4, V, true, 2, 0)};
    expectChange(m, 4, 3, 1, 2, P);
}

Test(roles_plan, demotes_a_lost_voter_without_replacement)
{
    struct roles_member m[] = {
        member(1, V, true, 1, 0), lostMember(2, V), member(3, V, true, 3, 0),
        member(4, V, true, 4, 0), member(5, V, true, 5, 0)};
    expectChange(m, 5, 5, 0, 2, P);
}

Test(roles_plan, never_demotes_the_leader)
{
    struct roles_member m[] = {member(1, V, true, 1, 9),
                               member(2, V, true, 2, 0),
                               member(3, V, true, 3, 0)};
    expectChange(m, 3, 1, 0, 3, S);
    struct roles_member lone[] = {member(1, V, true, 1, 0)};
    expectNothing(lone, 1, 1, 0);
}

Test(roles_plan, demotes_extra_voters_by_domain_then_weight)
{
    struct roles_member by_domain[] = {
        member(1, V, true, 1, 0), member(2, V, true, 2, 9),
        member(3, V, true, 3, 0), member(4, V, true, 3, 0)};
    expectChange(by_domain, 4, 3, 0, 4, S);
    struct roles_member by_weight[] = {
        member(1, V, true, 1, 0), member(2, V, true, 2, 9),
        member(3, V, true, 3, 0), member(4, V, true, 4, 0)};
    expectChange(by_weight, 4, 3, 0, 2, S);
}

Test(roles_plan, demoting_a_healthy_member_is_marked)
{
    struct roles_member m[] = {member(1, V, true, 1, 0),
                               member(2, V, true, 2, 0),
                               member(3, V, true, 3, 0)};
    struct roles_change c;
    cr_assert(rolesPlan(m, 3, 1, 1, 0, &c));
    cr_assert(c.healthy_demotion);
    struct roles_member gone[] = {
        member(1, V, true, 1, 0), member(2, V, false, 2, 0),
        member(3, V, true, 3, 0), member(4, S, true, 4, 0)};
    cr_assert(rolesPlan(gone, 4, 1, 1, 0, &c));
    cr_assert_eq(c.id, 2);
    cr_assert(!c.healthy_demotion);
}

Test(roles_plan, spreads_voters_over_domains)
{
    struct roles_member m[] = {
        member(1, V, true, 1, 0), member(2, V, true, 1, 0),
        member(3, V, true, 2, 0), member(4, S, true, 2, 0),
        member(5, P, true, 3, 0)};
    expectChange(m, 5, 3, 1, 5, V);
    /* No free domain among the candidates: nothing to gain. */
    m[4].domain = 2;
    expectNothing(m, 5, 3, 1);
}

Test(roles_plan, keeps_standbys_at_target)
{
    struct roles_member fill[] = {member(1, V, true, 1, 0),
                                  member(2, P, false, 2, 0),
                                  member(3, P, true, 3, 0)};
    expectChange(fill, 3, 1, 1, 3, S);
    struct roles_member lost[] = {member(1, V, true, 1, 0), lostMember(2, S),
                                  member(3, S, true, 3, 0)};
    expectChange(lost, 3, 1, 1, 2, P);
    struct roles_member extra[] = {member(1, V, true, 1, 0),
                                   member(2, S, true, 2, 0),
                                   member(3, S, true, 3, 4)};
    expectChange(extra, 3, 1, 1, 3, P);
}

Test(roles_plan, handoff_picks_standbys_only)
{
    struct roles_member m[] = {
        member(2, V, true, 1, 0), member(3, P, true, 2, 0),
        member(4, S, true, 1, 0), member(5, S, false, 3, 0)};
    cr_assert_eq(rolesPickPromotion(m, 4, RAFT_VOTER, true), 2);
    cr_assert_eq(rolesPickPromotion(m, 4, RAFT_VOTER, false), 1);
}
