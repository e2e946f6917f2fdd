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

struct add {
    long long element;
    int outcome; /* the best of its adds: OK over INFO over FAIL */
};

static int addCmp(const void *a, const void *b)
{
    const struct add *x = a, *y = b;
    return (x->element > y->element) - (x->element < y->element);
}

static int llCmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static int rank(int t)
{
    return t == FAULTS_OK ? 2 : t == FAULTS_INFO ? 1 : 0;
}

/* The adds of the history sorted by element, one entry per element. */
static unsigned addsCollect(const struct faults_op *ops, unsigned n,
                            struct add *adds)
{
    unsigned k = 0, m = 0;
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(ops[i].invoke->f, "add") == 0) {
            adds[k].element = strtoll(ops[i].invoke->value, NULL, 10);
            adds[k++].outcome = (int)opOutcome(&ops[i]);
        }
    }
    qsort(adds, k, sizeof *adds, addCmp);
    for (unsigned i = 0; i < k; i++) {
        if (m > 0 && adds[m - 1].element == adds[i].element) {
            if (rank(adds[i].outcome) > rank(adds[m - 1].outcome)) {
                adds[m - 1].outcome = adds[i].outcome;
            }
        } else {
            adds[m++] = adds[i];
        }
    }
    return m;
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

static int setCompare(const struct add *adds, unsigned n_adds, long long *got,
                      int n_got, FILE *report)
{
    int anomalies = 0;
    qsort(got, (size_t)n_got, sizeof *got, llCmp);
    for (unsigned i = 0; i < n_adds; i++) {
        if (adds[i].outcome == FAULTS_OK &&
            !bsearch(&adds[i].element, got, (size_t)n_got, sizeof *got,
                     llCmp)) {
            fprintf(report, "set: acknowledged element %lld lost\n",
                    adds[i].element);
            anomalies++;
        }
    }
    for (int i = 0; i < n_got; i++) {
        struct add key = {got[i], 0};
        const struct add *a = bsearch(&key, adds, n_adds, sizeof *adds, addCmp);
        if (a == NULL || a->outcome == FAULTS_FAIL) {
            fprintf(report, "set: element %lld read but never added%s\n",
                    got[i], a == NULL ? "" : " (its add failed)");
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
    struct add *adds = calloc(n + 1, sizeof *adds);
    int rv = -1;
    if (got == NULL || adds == NULL) {
        goto out;
    }
    if (final == NULL) {
        fprintf(report, "set: no successful final read\n");
        goto out;
    }
    int n_got = parseInts(final->done->value, got, (int)n + 1);
    if (n_got < 0) {
        goto out;
    }
    rv = setCompare(adds, addsCollect(ops, n, adds), got, n_got, report);
out:
    free(adds);
    free(got);
    free(ops);
    return rv;
}
