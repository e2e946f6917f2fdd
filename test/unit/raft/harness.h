/*
 * A scripted harness for raft scenario tests, in the spirit of etcd's
 * data-driven tests: a test is a short script of commands, one per line,
 * driving an in-memory cluster whose disks persist synchronously and whose
 * network delivers in order unless a partition cuts a link. The script
 * reads like the scenario it checks:
 *
 *   cluster 3                 three bootstrapped voters
 *   campaign 1                node 1's election timer fires
 *   stabilize                 deliver until nothing moves
 *   expect leader 1
 *
 * Commands: see harnessRun in harness.c. Every `expect` failing aborts the
 * test with the script line that failed.
 */
#ifndef TEST_RAFT_HARNESS_H
#define TEST_RAFT_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "raft/raft.h"

/* Runs `script`; returns 0 or fails the Criterion test. */
void harnessRun(const char *script);

/* Same, but tolerates errors returned by the core (used under injected
 * out-of-memory): returns the number of commands that failed. */
int harnessRunTolerant(const char *script);

#endif /* TEST_RAFT_HARNESS_H */
