/*
 * The follower-read checker (docs/faults.md, "follower" workload): reads
 * served by random nodes under PRAGMA dqlite_consistency. Owned apart from
 * the register checker because bounded reads are not linearizable by
 * design; they have their own rule, the bound:
 *   - f = read (linearizable, on any node) and write: checked by the
 *     linearizable register checker, unchanged;
 *   - f = bread (invoke value: the bound N in ms; ok value: the result,
 *     an integer or nil): writes carry unique values, so the write a read
 *     saw is known. Let T = the read's invocation - N ms - slack. The read
 *     is stale when a write acknowledged before T began after the write it
 *     saw was acknowledged (that write was then already overwritten at T),
 *     or, for a nil read, when any write was acknowledged before T. A value
 *     no write carried is an anomaly too.
 * All processes run on one machine and stamp events with CLOCK_MONOTONIC,
 * so times compare; the slack covers the one-way delay the bound allows.
 */
#include <stdlib.h>
#include <string.h>

#include "checker.h"

#define NIL_VALUE (-1)

/* The write of `key` that carried `value` (unique values), or NULL. */
static const struct faults_op *writeOf(const struct faults_op *ops, unsigned n,
                                       int64_t key, long long value)
{
    for (unsigned i = 0; i < n; i++) {
        const struct faults_op *o = &ops[i];
        if (o->invoke->key == key && strcmp(o->invoke->f, "write") == 0 &&
            strtoll(o->invoke->value, NULL, 10) == value) {
            return o;
        }
    }
    return NULL;
}

/* 1 if the bounded read `r` returned a value older than its bound. */
static int boundedStale(const struct faults_op *ops, unsigned n,
                        const struct faults_op *r, int64_t slack_ns,
                        FILE *report)
{
    int64_t key = r->invoke->key;
    int64_t bound_ns = strtoll(r->invoke->value, NULL, 10) * 1000000LL;
    int64_t t_ns = r->invoke->time_ns - bound_ns - slack_ns;
    const char *got = r->done->value;
    long long v = strcmp(got, "nil") == 0 ? NIL_VALUE : strtoll(got, NULL, 10);
    const struct faults_op *seen = NULL;
    if (v != NIL_VALUE) {
        seen = writeOf(ops, n, key, v);
        if (seen == NULL) {
            fprintf(report,
                    "follower: key %lld: bounded read of %lld, a value "
                    "no write carried\n",
                    (long long)key, v);
            return 1;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        const struct faults_op *w = &ops[i];
        if (w->invoke->key != key || strcmp(w->invoke->f, "write") != 0 ||
            opOutcome(w) != FAULTS_OK || w->done->time_ns >= t_ns) {
            continue;
        }
        int overwritten =
            seen == NULL || (opOutcome(seen) == FAULTS_OK &&
                             seen->done->time_ns < w->invoke->time_ns);
        if (overwritten) {
            fprintf(report,
                    "follower: key %lld: bounded read (bound %s ms, process "
                    "%d) returned %s, but write %s was acknowledged %.1f ms "
                    "before the read began, past the bound\n",
                    (long long)key, r->invoke->value, r->invoke->process, got,
                    w->invoke->value,
                    (double)(r->invoke->time_ns - w->done->time_ns) / 1e6);
            return 1;
        }
    }
    return 0;
}

int checkFollower(const struct faults_history *h, int64_t slack_ms,
                  unsigned long max_states, FILE *report)
{
    struct faults_history lin;
    struct faults_op *ops = NULL;
    unsigned n = 0;
    int anomalies = 0;
    historyInit(&lin);
    for (unsigned i = 0; i < h->n; i++) {
        const struct faults_event *e = &h->events[i];
        if (strcmp(e->f, "bread") != 0 &&
            historyAppend(&lin, e->time_ns, e->process, e->type, e->f, e->key,
                          e->value) != 0) {
            historyFree(&lin);
            return -1;
        }
    }
    int rv = checkRegister(&lin, max_states, report);
    historyFree(&lin);
    if (historyPair(h, &ops, &n) != 0) {
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(ops[i].invoke->f, "bread") == 0 &&
            opOutcome(&ops[i]) == FAULTS_OK) {
            anomalies +=
                boundedStale(ops, n, &ops[i], slack_ms * 1000000LL, report);
        }
    }
    free(ops);
    if (rv > 0) {
        return rv + anomalies;
    }
    return anomalies > 0 ? anomalies : rv;
}
