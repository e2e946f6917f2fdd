/*
 * The checkers of the fault-injection harness (docs/faults.md): each reads
 * a paired history and reports anomalies. A checker returns the number of
 * anomalies it found (0 = the history is valid), or -1 when it could not
 * decide (malformed history, search bound reached); it explains each
 * anomaly in a line on `report`.
 */
#ifndef FAULTS_CHECKER_H
#define FAULTS_CHECKER_H

#include <stdio.h>

#include "history.h"

/* Linearizable register per key: f = read (value: result or "nil"),
 * write (value), cas (value "OLD,NEW"). Wing-Gong search with Lowe's
 * memoisation; at most `max_states` states explored per key. */
int checkRegister(const struct faults_history *h, unsigned long max_states,
                  FILE *report);

/* Bank: f = read (value "B0,B1,..."), transfer (value "FROM,TO,AMOUNT").
 * Every ok read sums to `total` and holds no negative balance. */
int checkBank(const struct faults_history *h, long long total, FILE *report);

/* Set: f = add (value: the element), final (value "E1,E2,..." or "-").
 * Every acknowledged add is in the last ok final read, and every element
 * read was added by an ok or unknown add. */
int checkSet(const struct faults_history *h, FILE *report);

/* Append: f = txn or final, value micro-ops joined by ';': "a:K:V"
 * (append V to list K) and "r:K:V1,V2" (read of list K; "r:K:" empty).
 * Checks that reads of a key are prefixes of one order, hold no duplicate
 * or invented element, that the final read holds every acknowledged
 * append, and that the ww/wr/rw dependency graph has no cycle. */
int checkAppend(const struct faults_history *h, FILE *report);

/* Runaway (ops_runaway.c): f = cte, sort (never ok), stream, close, and
 * probe (key: the number asked for, value: the one answered; equal). */
int checkRunaway(const struct faults_history *h, FILE *report);

/* Follower reads (check_follower.c): f = read and write as the register
 * (linearizable, unique write values), plus bread (invoke value: the
 * bound in ms; ok value: the result), which must be no older than every
 * write acknowledged before its invocation - bound - `slack_ms`. */
int checkFollower(const struct faults_history *h, int64_t slack_ms,
                  unsigned long max_states, FILE *report);

/* Splits "A,B,C" into at most `max` integers; returns the count or -1. */
int parseInts(const char *s, long long *out, int max);

#endif
