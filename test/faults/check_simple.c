/*
 * The bank and set checkers (checker.h): linear scans over a paired
 * history, kept together because each is a few rules about final or
 * intermediate reads.
 */
#include <stdlib.h>
#include <string.h>

#include "checker.h"

#define BANK_MAX_ACCOUNTS 64

int parseInts(const char *s, long long *out, int max)
{
    int n = 0;
    if (strcmp(s, "-") == 0 || s[0] == '\0') {
        return 0;
    }
    while (n < max) {
        char *end;
        out[n++] = strtoll(s, &end, 10);
        if (end == s || (*end != ',' && *end != '\0')) {
            return -1;
        }
        if (*end == '\0') {
            return n;
        }
        s = end + 1;
    }
    return -1;
}

static int bankRead(const struct faults_event *e, long long total, FILE *report)
{
    long long b[BANK_MAX_ACCOUNTS];
    long long sum = 0;
    int anomalies = 0;
    int n = parseInts(e->value, b, BANK_MAX_ACCOUNTS);
    if (n <= 0) {
        fprintf(report, "bank: unreadable read at %lld\n",
                (long long)e->time_ns);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        sum += b[i];
        if (b[i] < 0) {
            fprintf(report, "bank: negative balance %lld in read at %lld\n",
                    b[i], (long long)e->time_ns);
            anomalies++;
        }
    }
    if (sum != total) {
        fprintf(report, "bank: read at %lld sums to %lld, not %lld\n",
                (long long)e->time_ns, sum, total);
        anomalies++;
    }
    return anomalies;
}

int checkBank(const struct faults_history *h, long long total, FILE *report)
{
    int anomalies = 0;
    for (unsigned i = 0; i < h->n; i++) {
        const struct faults_event *e = &h->events[i];
        if (e->type == FAULTS_OK &&
            (strcmp(e->f, "read") == 0 || strcmp(e->f, "final") == 0)) {
            anomalies += bankRead(e, total, report);
        }
    }
    return anomalies;
}

/* Outcome of the add of `element`: OK, INFO, FAIL, or -1 (none). */
static int addOutcome(const struct faults_op *ops, unsigned n,
                      long long element)
{
    int best = -1;
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(ops[i].invoke->f, "add") == 0 &&
            strtoll(ops[i].invoke->value, NULL, 10) == element) {
            int t = (int)opOutcome(&ops[i]);
            best = t == FAULTS_OK || best < 0 ? t : best;
        }
    }
    return best;
}

static const struct faults_op *lastFinal(const struct faults_op *ops,
                                         unsigned n)
{
    const struct faults_op *last = NULL;
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(ops[i].invoke->f, "final") == 0 &&
            opOutcome(&ops[i]) == FAULTS_OK) {
            last = &ops[i];
        }
    }
    return last;
}

static int inList(const long long *v, int n, long long x)
{
    for (int i = 0; i < n; i++) {
        if (v[i] == x) {
            return 1;
        }
    }
    return 0;
}

static int setCompare(const struct faults_op *ops, unsigned n,
                      const long long *got, int n_got, FILE *report)
{
    int anomalies = 0;
    for (unsigned i = 0; i < n; i++) {
        long long x = strtoll(ops[i].invoke->value, NULL, 10);
        if (strcmp(ops[i].invoke->f, "add") == 0 &&
            opOutcome(&ops[i]) == FAULTS_OK && !inList(got, n_got, x)) {
            fprintf(report, "set: acknowledged element %lld lost\n", x);
            anomalies++;
        }
    }
    for (int i = 0; i < n_got; i++) {
        int t = addOutcome(ops, n, got[i]);
        if (t < 0 || t == FAULTS_FAIL) {
            fprintf(report, "set: element %lld read but never added%s\n",
                    got[i], t < 0 ? "" : " (its add failed)");
            anomalies++;
        }
    }
    return anomalies;
}

int checkSet(const struct faults_history *h, FILE *report)
{
    struct faults_op *ops;
    unsigned n;
    if (historyPair(h, &ops, &n) != 0) {
        return -1;
    }
    const struct faults_op *final = lastFinal(ops, n);
    long long *got = calloc(n + 1, sizeof *got);
    int rv = -1;
    if (final == NULL || got == NULL) {
        fprintf(report, "set: no successful final read\n");
        goto out;
    }
    int n_got = parseInts(final->done->value, got, (int)n + 1);
    if (n_got < 0) {
        goto out;
    }
    rv = setCompare(ops, n, got, n_got, report);
out:
    free(got);
    free(ops);
    return rv;
}
