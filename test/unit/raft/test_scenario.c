/* Scripted scenarios: the classic raft cases, each a short script run by
 * harness.c (an in-memory cluster, synchronous disks, ordered network). */
#include <criterion/criterion.h>

#include "harness.h"

Test(scenario, three_nodes_elect_and_replicate)
{
    harnessRun("cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "expect leader 1\n"
               "expect term 1 1\n"
               "propose 1 5\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect commit 1 7   # bootstrap, no-op, 5 commands\n"
               "expect applied 2 7\n"
               "expect applied 3 7\n"
               "expect leaderid 3 1\n"
               "propose 2 1 notleader\n");
}

/* Raft paper, figure 8: an entry from an older term replicated on a
 * majority is not committed by counting replicas; only the new leader's
 * own no-op commits it, after which no other node can win and erase it. */
Test(scenario, figure_8)
{
    harnessRun("option prevote 0\n"
               "cluster 5\n"
               "log 1 2             # s1 led term 2, wrote index 2\n"
               "log 2 2             # ... and replicated it to s2\n"
               "log 5 3             # s5 led term 3, wrote another 2\n"
               "hardstate 1 4 1\n"
               "hardstate 2 4 1\n"
               "hardstate 3 4 1\n"
               "hardstate 4 4 1\n"
               "hardstate 5 4 1\n"
               "partition 1 2 3 / 4 / 5\n"
               "campaign 1          # term 5, votes from s2 and s3\n"
               "stabilize\n"
               "expect leader 1\n"
               "expect entry 3 2 2  # index 2 of term 2 is on s1 s2 s3\n"
               "expect entry 3 3 5  # and committed only with the no-op\n"
               "expect commit 1 3\n"
               "crash 1\n"
               "heal\n"
               "campaign 5          # s5 (log 2/3) cannot win now:\n"
               "stabilize           # s2 and s3 refuse their votes\n"
               "expect state 5 candidate\n"
               "campaign 2\n"
               "stabilize\n"
               "expect leader 2\n"
               "tick 20\n"
               "stabilize\n"
               "expect entry 5 2 2  # s5's uncommitted entry was erased\n"
               "expect commit 5 4   # and 2's own no-op\n");
}

/* Raft paper, figure 8 (c)-(d), stepped one message at a time: the term-5
 * leader s1 copies its term-2 entry to s2 and s3, a majority, but must not
 * count it committed; indeed s5 may still win and overwrite it. */
Test(scenario, figure_8_old_term_entry_on_a_majority_is_not_committed)
{
    harnessRun("option prevote 0\n"
               "option checkquorum 0\n"
               "option maxentries 1\n"
               "option inflight 1\n"
               "cluster 5\n"
               "log 1 2             # (b) s1 led term 2, wrote index 2\n"
               "log 5 3             # (c) s5 led term 3, wrote another\n"
               "hardstate 1 4 0\n"
               "hardstate 2 4 0\n"
               "hardstate 3 4 0\n"
               "hardstate 4 4 0\n"
               "hardstate 5 4 0\n"
               "partition 1 2 3 / 4 / 5\n"
               "campaign 1          # term 5 with votes from s2 and s3\n"
               "deliver-until leaderid 1 1\n"
               "deliver-until entry 2 2 2   # s1 copies index 2 (term 2)\n"
               "deliver-until entry 3 2 2   # to s2 and s3: a majority\n"
               "cut 1 2             # its no-op (index 3) never arrives\n"
               "cut 1 3\n"
               "stabilize           # the acks of index 2 do arrive\n"
               "expect commit 1 0   # yet it is not committed\n"
               "crash 1\n"
               "heal\n"
               "campaign 5          # term 5: s2, s3 already voted\n"
               "stabilize\n"
               "campaign 5          # (d) term 6: wins with s2, s3, s4\n"
               "stabilize\n"
               "expect leader 5\n"
               "tick 20\n"
               "stabilize\n"
               "expect entry 2 2 3  # and rightly overwrites index 2\n"
               "expect commit 2 3\n");
}

Test(scenario, isolated_leader_steps_down_with_check_quorum)
{
    harnessRun("cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "expect leader 1\n"
               "isolate 1\n"
               "tickone 1 60\n"
               "tickone 1 60\n"
               "tickone 1 60\n"
               "tickone 1 60        # a check-quorum period without answers\n"
               "expect state 1 follower\n"
               "tickone 3 100       # 3 no longer hears a leader either\n"
               "campaign 2\n"
               "stabilize\n"
               "expect leader 2\n"
               "heal\n"
               "tick 20\n"
               "stabilize\n"
               "expect leaderid 1 2\n");
}

/* A deposed leader that does not know it yet accepts proposals; they are
 * never committed and are overwritten by the new leader's log. */
Test(scenario, stale_leader_writes_are_discarded)
{
    harnessRun("option checkquorum 0\n"
               "cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "isolate 1\n"
               "propose 1 3         # on the stale leader only\n"
               "stabilize\n"
               "expect last 1 5\n"
               "expect commit 1 2\n"
               "campaign 2\n"
               "stabilize\n"
               "expect leader 2\n"
               "propose 2\n"
               "stabilize\n"
               "heal\n"
               "tick 20\n"
               "stabilize\n"
               "expect state 1 follower\n"
               "expect entry 1 3 2  # replaced by term 2's no-op\n"
               "expect last 1 4\n"
               "expect applied 1 4\n");
}

/* A follower cut off keeps timing out; with pre-vote its term does not
 * grow, so rejoining does not depose the leader. */
Test(scenario, prevote_stops_disruptive_rejoining_follower)
{
    harnessRun("cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "isolate 3\n"
               "campaign 3\n"
               "stabilize\n"
               "propose 1 2         # the cluster moves on\n"
               "stabilize\n"
               "campaign 3\n"
               "stabilize\n"
               "expect term 3 1     # pre-votes failed: no new term\n"
               "heal\n"
               "campaign 3          # asks again, now reachable\n"
               "stabilize\n"
               "expect leader 1\n"
               "expect term 1 1\n"
               "tick 20\n"
               "stabilize\n"
               "expect leaderid 3 1\n"
               "tick 20\n"
               "stabilize\n"
               "expect applied 3 4\n");
}

Test(scenario, without_prevote_rejoining_follower_disrupts)
{
    harnessRun("option prevote 0\n"
               "option checkquorum 0\n"
               "cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "isolate 3\n"
               "campaign 3\n"
               "campaign 3\n"
               "stabilize\n"
               "expect term 3 3\n"
               "heal\n"
               "campaign 3\n"
               "stabilize\n"
               "expect state 1 follower  # deposed by the higher term\n");
}

Test(scenario, membership_change_with_a_crashed_node)
{
    harnessRun("cluster 4 voters 3\n"
               "campaign 1\n"
               "stabilize\n"
               "crash 3\n"
               "add 1 4\n"
               "stabilize\n"
               "expect role 1 4 spare\n"
               "assign 1 4 voter    # catches up first, then promotes\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect role 1 4 voter\n"
               "expect voters 1 4\n"
               "expect commit 1 4\n"
               "remove 1 3          # the crashed node goes\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect voters 1 3\n"
               "expect role 4 3 none\n"
               "crash 2             # 2 of {1,2,4} still a quorum\n"
               "propose 1\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect applied 4 6\n");
}

Test(scenario, removed_leader_steps_down)
{
    harnessRun("cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "remove 1 1\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect state 1 follower\n"
               "expect voters 2 2\n"
               "tickone 3 90        # 3 no longer hears a leader\n"
               "campaign 2\n"
               "stabilize\n"
               "expect leader 2\n");
}

Test(scenario, snapshot_install_across_a_partition)
{
    harnessRun("option trailing 1\n"
               "option chunk 100    # 600-byte snapshots: 6 chunks\n"
               "cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "isolate 3\n"
               "propose 1 10\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "snapshot 1          # compacts everything node 3 lacks\n"
               "heal\n"
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
               "expect applied 3 13\n"
               "crash 3\n"
               "restart 3           # from the installed snapshot\n"
               "tick 20\n"
               "stabilize\n"
               "expect applied 3 13\n");
}

Test(scenario, transfer_to_a_lagging_node)
{
    harnessRun("cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "isolate 3\n"
               "propose 1 5\n"
               "stabilize\n"
               "heal\n"
               "transfer 1 3        # catches 3 up, then TimeoutNow\n"
               "propose 1 1 leadershiplost\n"
               "stabilize\n"
               "tick 20             # heartbeats find the lost appends\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect leader 3\n"
               "expect term 3 2\n"
               "expect last 3 8\n"
               "tick 20\n"
               "stabilize\n"
               "expect applied 1 8\n");
}

Test(scenario, transfer_times_out_when_target_is_gone)
{
    harnessRun("cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "crash 3\n"
               "transfer 1 3\n"
               "transfer 1 2 busy\n"
               "tick 60\n"
               "tick 60\n"
               "stabilize\n"
               "expect leader 1\n"
               "propose 1\n"
               "transfer 1 1 unknownnode\n"
               "transfer 1 0        # picks the best voter\n"
               "stabilize\n"
               "expect leader 2\n");
}

/* An embedder picks the transfer target among the peers it can reach:
 * the most up-to-date voter of the list, never itself or a spare. */
Test(scenario, transfer_target_picked_from_reachable_voters)
{
    harnessRun("cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "crash 3\n"
               "propose 1 3\n"
               "stabilize           # 2 has entries 3 lacks\n"
               "pickfrom 1 2 3 2\n"
               "pickfrom 1 3 3\n"
               "pickfrom 1 0 1      # never itself\n"
               "pickfrom 1 0\n"
               "add 1 4\n"
               "stabilize\n"
               "pickfrom 1 0 4 1    # a spare is not a voter\n");
}

/* `deliver N` steps the network one message at a time, to stop right after
 * the election, before the new leader's no-op is acknowledged. */
Test(scenario, read_index_needs_a_quorum_round)
{
    harnessRun("cluster 3\n"
               "isolate 3\n"
               "campaign 1          # pre-votes to 2 and 3\n"
               "deliver 2\n"
               "deliver 1           # 2's grant: votes to 2 and 3\n"
               "deliver 2\n"
               "deliver 1           # 2's vote: 1 leads, no-op sent\n"
               "expect leader 1\n"
               "read 1 7\n"
               "expect noread 1 7   # no entry of its term committed\n"
               "stabilize\n"
               "expect read 1 7 2\n"
               "isolate 1\n"
               "read 1 8\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect noread 1 8   # no quorum confirms leadership\n"
               "heal\n"
               "tick 20\n"
               "stabilize\n"
               "expect read 1 8 2\n"
               "read 2 9            # a follower asks the leader\n"
               "stabilize\n"
               "expect read 2 9 2\n");
}

/* Leader leases (docs/raft.md "Leader leases"): election timeout 100 ms,
 * heartbeat 20 ms, so a lease lasts 90 ms after the round a quorum last
 * acknowledged. */
Test(scenario, lease_answers_a_read_without_a_round)
{
    harnessRun("option lease 1\n"
               "cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "expect leader 1\n"
               "tick 20             # heartbeats renew the lease\n"
               "stabilize\n"
               "isolate 1\n"
               "read 1 7\n"
               "expect read 1 7 2   # no message delivered: the lease\n"
               "tickone 1 89\n"
               "read 1 8\n"
               "expect read 1 8 2   # 89 ms after the round: still valid\n"
               "tickone 1 1\n"
               "read 1 9\n"
               "expect noread 1 9   # 90 ms: the lease ran out\n"
               "heal\n"
               "tick 20\n"
               "stabilize\n"
               "expect read 1 9 2   # answered by a read-index round\n");
}

/* Five voters: the lease needs the acknowledgements of two followers (a
 * quorum of three with the leader), the quorum-th most recent counts. */
Test(scenario, lease_counts_a_quorum_of_acknowledgements)
{
    harnessRun("option lease 1\n"
               "cluster 5\n"
               "campaign 1\n"
               "stabilize\n"
               "isolate 4\n"
               "isolate 5\n"
               "tick 20\n"
               "stabilize           # 2 and 3 acknowledge the new round\n"
               "tickone 1 89\n"
               "read 1 7\n"
               "expect read 1 7 2\n"
               "isolate 3\n"
               "tick 20\n"
               "stabilize           # only 2 acknowledges: 2 of 3 needed\n"
               "tickone 1 70\n"
               "read 1 8\n"
               "expect noread 1 8   # 90 ms after 3's last acknowledgement\n");
}

Test(scenario, without_leases_a_read_needs_a_round)
{
    harnessRun("cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "isolate 1\n"
               "read 1 7\n"
               "expect noread 1 7\n");
}

Test(scenario, lease_needs_an_entry_of_the_term_committed)
{
    harnessRun("option lease 1\n"
               "cluster 3\n"
               "isolate 3\n"
               "campaign 1\n"
               "deliver 2\n"
               "deliver 1\n"
               "deliver 2\n"
               "deliver 1           # 1 leads, its no-op not yet acknowledged\n"
               "expect leader 1\n"
               "read 1 7\n"
               "expect noread 1 7\n");
}

Test(scenario, transfer_ends_the_lease)
{
    harnessRun("option lease 1\n"
               "cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "isolate 1\n"
               "transfer 1 2        # TimeoutNow is lost, 1 still leads\n"
               "read 1 7\n"
               "expect noread 1 7   # 2 may be elected meanwhile\n"
               "expect leader 1\n");
}

Test(scenario, lease_ends_with_leadership)
{
    harnessRun("option lease 1\n"
               "cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "isolate 1\n"
               "tick 100\n"
               "tick 100\n"
               "tick 100            # 1 loses its quorum and steps down\n"
               "stabilize\n"
               "expect state 1 follower\n"
               "read 1 7 notleader\n");
}

/* A node may have acknowledged a lease just before it stopped: once back,
 * it refuses votes for an election timeout. */
Test(scenario, lease_restarted_node_refuses_votes_for_a_timeout)
{
    harnessRun("option lease 1\n"
               "cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "crash 2\n"
               "restart 2\n"
               "isolate 1\n"
               "campaign 3\n"
               "stabilize\n"
               "expect state 3 candidate # 2 refused, 1 is cut off\n"
               "tickone 2 100\n"
               "campaign 3\n"
               "stabilize\n"
               "expect leader 3\n");
}

Test(scenario, single_node_cluster)
{
    harnessRun("cluster 1\n"
               "campaign 1\n"
               "stabilize\n"
               "expect leader 1\n"
               "propose 1\n"
               "read 1 1\n"
               "stabilize\n"
               "expect applied 1 3\n"
               "expect read 1 1 3\n"
               "barrier 1\n"
               "stabilize\n"
               "expect applied 1 4\n"
               "snapshot 1\n"
               "crash 1\n"
               "restart 1\n"
               "campaign 1\n"
               "stabilize\n"
               "expect leader 1\n"
               "expect applied 1 5\n");
}

Test(scenario, standby_replicates_but_does_not_vote)
{
    harnessRun("cluster 3 voters 2\n"
               "campaign 1\n"
               "stabilize\n"
               "add 1 3\n"
               "stabilize\n"
               "assign 1 3 standby\n"
               "stabilize\n"
               "propose 1\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect applied 3 5\n"
               "expect voters 3 2\n"
               "crash 2\n"
               "propose 1\n"
               "stabilize\n"
               "expect commit 1 5   # the standby does not count\n"
               "assign 1 3 voter    # caught up: promoted at once\n"
               "stabilize\n"
               "expect voters 1 3\n"
               "expect commit 1 7   # 1 and 3: a quorum of the new one\n"
               "restart 2\n"
               "tick 20\n"
               "stabilize\n"
               "assign 1 2 spare\n"
               "stabilize\n"
               "expect role 1 2 spare\n"
               "assign 1 2 spare badrole\n"
               "assign 1 9 voter unknownnode\n"
               "add 1 3 duplicate\n");
}

/* A follower that is down holds nothing back: the leader starts a
 * snapshot transfer to it (its match is compacted) that no answer
 * acknowledges for an election timeout, then goes on compacting behind
 * its newer snapshots instead of keeping every entry after the first one
 * for it (it did, up to snapshot_hold_max: a dead follower pinned the
 * leader's log). Back, the follower installs a snapshot and appends. */
Test(scenario, down_follower_holds_no_compaction)
{
    harnessRun("option trailing 2\n"
               "cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "crash 3\n"
               "propose 1 10\n"
               "stabilize\n"
               "snapshot 1          # at 12: compacts past node 3's match\n"
               "tick 20             # a transfer to node 3 starts\n"
               "stabilize\n"
               "tick 60\n"
               "stabilize\n"
               "tick 200            # unanswered: the hold is released\n"
               "stabilize\n"
               "propose 1 40\n"
               "stabilize\n"
               "snapshot 1          # at 52\n"
               "expect entry 1 40 0 # compacted to 50: nothing held\n"
               "restart 3\n"
               "tick 20\n"
               "stabilize\n"
               "tick 60\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect applied 3 52\n"
               "propose 1\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect applied 3 53\n");
}

/* raftMatchIndex, what the node's metrics print per peer: on the leader,
 * each follower's highest replicated index (its own last index for
 * itself), stuck for a cut-off follower while the others advance; 0 on a
 * follower. */
Test(scenario, match_index_per_peer)
{
    harnessRun("cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "expect leader 1\n"
               "expect match 1 1 2\n"
               "expect match 1 2 2\n"
               "expect match 1 3 2\n"
               "isolate 3\n"
               "propose 1 4\n"
               "stabilize\n"
               "expect match 1 1 6\n"
               "expect match 1 2 6\n"
               "expect match 1 3 2\n"
               "expect match 2 1 0   # a follower tracks nobody\n"
               "expect match 1 9 0   # nor does anyone track a stranger\n");
}
