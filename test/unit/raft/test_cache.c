/* The size-bounded entry cache (raft_options.entry_cache_bytes,
 * docs/raft.md "Memory"): with large entries the log keeps at most the
 * bound plus one entry in memory, while running and right after a restart,
 * and a follower that lags behind the dropped entries still catches up
 * (from a snapshot). The harness takes snapshots as src/server does: once
 * the applied entries after the last one hold half the bound. */
#include <criterion/criterion.h>

#include "harness.h"

/* 16 MiB bound, 1 MiB entries: the bound plus one entry. */
#define CACHE_SCRIPT_HEAD     \
    "option cache 16777216\n" \
    "option autosnap 1\n"     \
    "option trailing 8192\n"  \
    "cluster 3\n"             \
    "campaign 1\n"            \
    "stabilize\n"

Test(cache, large_entries_stay_under_the_bound_running_and_after_restart)
{
    harnessRun(CACHE_SCRIPT_HEAD
               "proposebig 1 200 1048576\n"
               "tick 20\n"
               "stabilize\n"
               "expect applied 1 202   # bootstrap, no-op, 200 commands\n"
               "expect applied 2 202\n"
               "expect applied 3 202\n"
               "expect logbytes-under 1 17825792\n"
               "expect logbytes-under 2 17825792\n"
               "expect logbytes-under 3 17825792\n"
               "crash 2\n"
               "restart 2             # reloads its whole disk\n"
               "expect logbytes-under 2 17825792\n"
               "crash 1\n"
               "restart 1\n"
               "expect logbytes-under 1 17825792\n"
               "campaign 2\n"
               "stabilize\n"
               "expect leader 2\n"
               "proposebig 2 20 1048576\n"
               "tick 20\n"
               "stabilize\n"
               "expect applied 1 223\n"
               "expect logbytes-under 1 17825792\n"
               "expect logbytes-under 2 17825792\n");
}

/* The leader holds at most 8 MiB more (snapshot_hold_bytes) for the
 * snapshot it sends node 3: 16 + 8 + 1 MiB. */
Test(cache, follower_behind_the_dropped_entries_catches_up)
{
    harnessRun("option holdbytes 8388608\n" CACHE_SCRIPT_HEAD "isolate 3\n"
               "proposebig 1 60 1048576\n"
               "expect applied 1 62\n"
               "expect logbytes-under 1 26214400\n"
               "expect entry 1 3 0   # what node 3 needs next is dropped\n"
               "heal\n"
               "tick 200            # a chunk lost to the partition times out\n"
               "stabilize\n"
               "tick 200\n"
               "stabilize\n"
               "expect applied 3 62\n"
               "expect logbytes-under 1 26214400\n"
               "expect logbytes-under 3 17825792\n"
               "proposebig 1 5 1048576\n"
               "tick 20\n"
               "stabilize\n"
               "expect applied 3 67\n");
}

/* Small entries: the count-based trailing window decides as before, the
 * byte bound never drops anything (nothing is sent as a snapshot). */
Test(cache, small_entries_keep_the_trailing_window)
{
    harnessRun("option cache 16777216\n"
               "option autosnap 1\n"
               "option trailing 100\n"
               "cluster 3\n"
               "campaign 1\n"
               "stabilize\n"
               "isolate 3\n"
               "propose 1 50\n"
               "stabilize\n"
               "snapshot 1\n"
               "heal\n"
               "tick 20\n"
               "stabilize\n"
               "tick 20\n"
               "stabilize\n"
               "expect applied 3 52\n"
               "expect installs 3 0\n");
}
