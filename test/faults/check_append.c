/*
 * The append checker (checker.h): list-append transactions. Every read
 * of a key must be a prefix of one version order (the longest read), hold
 * no duplicate and no element nobody appended; the final read holds every
 * acknowledged append; and the graph of write-write, write-read and
 * read-write (anti-)dependencies derived from that order must be acyclic,
 * or the transactions are not serializable. Kept alone: it is the one
 * checker with a graph.
 */
#include <stdlib.h>
#include <string.h>

#include "checker.h"

struct mop {
    int is_read;
    long long key;
    long long value; /* appends */
    long long *list; /* reads (owned) */
    int n;
};

struct txn {
    int ok; /* 1 ok, 0 unknown outcome */
    struct mop *mops;
    int n;
    const struct faults_event *event; /* the completion, or invocation */
};

struct graph {
    int *from, *to;
    unsigned n, cap;
};

struct state {
    struct txn *txns;
    unsigned n;
    struct graph g;
    FILE *report;
    int anomalies;
};

static int mopParse(char *s, struct mop *m)
{
    char *p2 = strchr(s, ':');
    char *p3 = p2 ? strchr(p2 + 1, ':') : NULL;
    if (p3 == NULL || (s[0] != 'a' && s[0] != 'r')) {
        return -1;
    }
    m->is_read = s[0] == 'r';
    m->key = strtoll(p2 + 1, NULL, 10);
    if (!m->is_read) {
        m->value = strtoll(p3 + 1, NULL, 10);
        return 0;
    }
    int cap = 1;
    for (const char *c = p3 + 1; *c != '\0'; c++) {
        cap += *c == ',';
    }
    m->list = calloc((size_t)cap, sizeof *m->list);
    m->n = m->list ? parseInts(p3 + 1, m->list, cap) : -1;
    return m->n < 0 ? -1 : 0;
}

static int txnParse(const char *value, struct txn *t)
{
    char *save = NULL;
    char *buf = strdup(value);
    int cap = 1, rv = 0;
    for (const char *c = value; *c != '\0'; c++) {
        cap += *c == ';';
    }
    t->mops = calloc((size_t)cap, sizeof *t->mops);
    if (buf == NULL || t->mops == NULL || strcmp(value, "-") == 0) {
        free(buf);
        return t->mops != NULL ? 0 : -1;
    }
    for (char *s = strtok_r(buf, ";", &save); s != NULL && rv == 0;
         s = strtok_r(NULL, ";", &save)) {
        rv = t->n < cap ? mopParse(s, &t->mops[t->n++]) : -1;
    }
    free(buf);
    return rv;
}

/* One micro-op of one transaction; the checker sorts these by key so that
 * each key's work touches only its own micro-ops (a 30-minute history has
 * ~250k transactions over ~7k keys: scanning every transaction per lookup
 * did not finish in hours). */
struct ref {
    long long key;
    unsigned txn;
    const struct mop *m;
};

static int refCmp(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return x->txn < y->txn ? -1 : x->txn > y->txn;
}

/* A key's micro-ops: refs[0..n). */
struct key_ops {
    const struct ref *refs;
    unsigned n;
};

/* The transaction (index) that appended `value` to the key, or -1. */
static int writerOf(const struct key_ops *k, long long value)
{
    for (unsigned i = 0; i < k->n; i++) {
        if (!k->refs[i].m->is_read && k->refs[i].m->value == value) {
            return (int)k->refs[i].txn;
        }
    }
    return -1;
}

static void edgeAdd(struct state *s, int from, int to)
{
    struct graph *g = &s->g;
    if (from < 0 || to < 0 || from == to) {
        return;
    }
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 1024;
        g->from = realloc(g->from, g->cap * sizeof *g->from);
        g->to = realloc(g->to, g->cap * sizeof *g->to);
    }
    g->from[g->n] = from;
    g->to[g->n++] = to;
}

/* The longest ok read of the key, or NULL. */
static const struct mop *longestRead(const struct state *s,
                                     const struct key_ops *k)
{
    const struct mop *best = NULL;
    for (unsigned i = 0; i < k->n; i++) {
        const struct mop *m = k->refs[i].m;
        if (s->txns[k->refs[i].txn].ok && m->is_read &&
            (!best || m->n > best->n)) {
            best = m;
        }
    }
    return best;
}

/* A read must be a prefix of the version order; it then holds a duplicate
 * only where the order does, which orderCheck reports once. */
static void readCheck(struct state *s, const struct key_ops *k, int reader,
                      const struct mop *m, const struct mop *order)
{
    for (int i = 0; i < m->n; i++) {
        if (m->list[i] != order->list[i]) {
            fprintf(s->report,
                    "append: key %lld: read diverges from the "
                    "version order at position %d\n",
                    m->key, i);
            s->anomalies++;
            return;
        }
    }
    if (m->n > 0) {
        edgeAdd(s, writerOf(k, m->list[m->n - 1]), reader); /* wr */
    }
    if (m->n < order->n) {
        edgeAdd(s, reader, writerOf(k, order->list[m->n])); /* rw */
    }
}

static void orderCheck(struct state *s, const struct key_ops *k,
                       const struct mop *order)
{
    int prev = -1;
    for (int i = 0; i < order->n; i++) {
        int w = writerOf(k, order->list[i]);
        if (w < 0) {
            fprintf(s->report,
                    "append: key %lld: %lld read, never "
                    "appended\n",
                    order->key, order->list[i]);
            s->anomalies++;
        }
        for (int j = 0; j < i; j++) {
            if (order->list[j] == order->list[i]) {
                fprintf(s->report, "append: key %lld: %lld duplicated\n",
                        order->key, order->list[i]);
                s->anomalies++;
            }
        }
        edgeAdd(s, prev, w); /* ww */
        prev = w;
    }
}

static void keyCheck(struct state *s, const struct key_ops *k)
{
    const struct mop *order = longestRead(s, k);
    if (order == NULL) {
        return;
    }
    orderCheck(s, k, order);
    for (unsigned i = 0; i < k->n; i++) {
        const struct ref *r = &k->refs[i];
        if (s->txns[r->txn].ok && r->m->is_read) {
            readCheck(s, k, (int)r->txn, r->m, order);
        }
    }
}

/* The micro-ops of `key` within the sorted refs[0..n). */
static struct key_ops keyFind(const struct ref *refs, unsigned n, long long key)
{
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (refs[mid].key < key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    struct key_ops k = {refs + lo, 0};
    while (lo + k.n < n && refs[lo + k.n].key == key) {
        k.n++;
    }
    return k;
}

/* Acknowledged appends missing from the last final read of their key. */
static void lostCheck(struct state *s, const struct txn *final,
                      const struct ref *refs, unsigned n_refs)
{
    for (int j = 0; final != NULL && j < final->n; j++) {
        const struct mop *r = &final->mops[j];
        struct key_ops k = keyFind(refs, n_refs, r->key);
        for (unsigned i = 0; i < k.n; i++) {
            const struct mop *m = k.refs[i].m;
            int found = 0;
            if (m->is_read || !s->txns[k.refs[i].txn].ok) {
                continue;
            }
            for (int x = 0; x < r->n && !found; x++) {
                found = r->list[x] == m->value;
            }
            if (!found) {
                fprintf(s->report,
                        "append: key %lld: acknowledged "
                        "append of %lld lost\n",
                        m->key, m->value);
                s->anomalies++;
            }
        }
    }
}

static void cycleReport(const struct state *s, int v)
{
    const struct faults_event *ev = s->txns[v].event;
    fprintf(s->report, "append:   in cycle: %s txn at %lld by %d: %.200s\n",
            s->txns[v].ok ? "ok" : "info", (long long)ev->time_ns, ev->process,
            ev->value);
}

/* Depth-first search for a cycle from `root`, with an explicit stack (a
 * history's dependency chains are longer than a thread's stack allows);
 * colors: 0 new, 1 on the path, 2 done. Reports the path's members. */
static int cycleFrom(const struct state *s, const unsigned *first, char *color,
                     unsigned *stack, unsigned *next, int root)
{
    unsigned depth = 0;
    stack[depth++] = (unsigned)root;
    color[root] = 1;
    next[root] = first[root];
    while (depth > 0) {
        unsigned v = stack[depth - 1];
        if (next[v] == first[v + 1]) {
            color[v] = 2;
            depth--;
            continue;
        }
        int w = s->g.to[next[v]++];
        if (color[w] == 1) {
            for (unsigned i = depth; i > 0; i--) {
                cycleReport(s, (int)stack[i - 1]);
            }
            return 1;
        }
        if (color[w] == 0) {
            color[w] = 1;
            next[w] = first[w];
            stack[depth++] = (unsigned)w;
        }
    }
    return 0;
}

static int edgeCmp(const void *a, const void *b)
{
    const int *x = a, *y = b;
    return x[0] != y[0] ? x[0] - y[0] : x[1] - y[1];
}

static int hasCycle(const struct state *s)
{
    int *pairs = calloc(s->g.n + 1, 2 * sizeof(int));
    unsigned *first = calloc(s->n + 2, sizeof *first);
    unsigned *stack = calloc(s->n + 1, sizeof *stack);
    unsigned *next = calloc(s->n + 1, sizeof *next);
    char *color = calloc(s->n + 1, 1);
    int found = pairs && first && stack && next && color ? 0 : -1;
    for (unsigned e = 0; found == 0 && e < s->g.n; e++) {
        pairs[2 * e] = s->g.from[e];
        pairs[2 * e + 1] = s->g.to[e];
    }
    if (found == 0) {
        qsort(pairs, s->g.n, 2 * sizeof(int), edgeCmp);
    }
    for (unsigned e = 0; found == 0 && e < s->g.n; e++) {
        s->g.from[e] = pairs[2 * e];
        s->g.to[e] = pairs[2 * e + 1];
        first[pairs[2 * e] + 1]++;
    }
    for (unsigned v = 0; found == 0 && v < s->n; v++) {
        first[v + 1] += first[v];
    }
    for (unsigned v = 0; found == 0 && v < s->n; v++) {
        if (color[v] == 0) {
            found = cycleFrom(s, first, color, stack, next, (int)v);
        }
    }
    free(pairs);
    free(first);
    free(stack);
    free(next);
    free(color);
    return found;
}

/* Every micro-op of every transaction, sorted by key; NULL on OOM. */
static struct ref *refsBuild(const struct state *s, unsigned *n)
{
    unsigned total = 0;
    for (unsigned i = 0; i < s->n; i++) {
        total += (unsigned)s->txns[i].n;
    }
    struct ref *refs = calloc(total + 1, sizeof *refs);
    *n = 0;
    for (unsigned i = 0; refs != NULL && i < s->n; i++) {
        for (int j = 0; j < s->txns[i].n; j++) {
            const struct mop *m = &s->txns[i].mops[j];
            refs[(*n)++] = (struct ref){m->key, i, m};
        }
    }
    if (refs != NULL) {
        qsort(refs, *n, sizeof *refs, refCmp);
    }
    return refs;
}

static int txnsLoad(struct state *s, const struct faults_history *h,
                    const struct txn **final)
{
    struct faults_op *ops;
    unsigned n;
    if (historyPair(h, &ops, &n) != 0) {
        return -1;
    }
    s->txns = calloc(n + 1, sizeof *s->txns);
    for (unsigned i = 0; s->txns != NULL && i < n; i++) {
        enum faults_type t = opOutcome(&ops[i]);
        const struct faults_event *e =
            t == FAULTS_OK ? ops[i].done : ops[i].invoke;
        struct txn *x = &s->txns[s->n];
        if (t == FAULTS_FAIL) {
            continue;
        }
        x->ok = t == FAULTS_OK;
        x->event = e;
        x->event = e;
        if (txnParse(e->value, x) != 0) {
            s->n++;
            free(ops);
            return -1;
        }
        if (x->ok && strcmp(ops[i].invoke->f, "final") == 0) {
            *final = x;
        }
        s->n++;
    }
    free(ops);
    return s->txns != NULL ? 0 : -1;
}

static void stateFree(struct state *s)
{
    for (unsigned i = 0; s->txns != NULL && i < s->n; i++) {
        for (int j = 0; j < s->txns[i].n; j++) {
            free(s->txns[i].mops[j].list);
        }
        free(s->txns[i].mops);
    }
    free(s->txns);
    free(s->g.from);
    free(s->g.to);
}

int checkAppend(const struct faults_history *h, FILE *report)
{
    struct state s = {NULL, 0, {NULL, NULL, 0, 0}, report, 0};
    const struct txn *final = NULL;
    unsigned n_refs = 0;
    struct ref *refs = NULL;
    if (txnsLoad(&s, h, &final) != 0 ||
        (refs = refsBuild(&s, &n_refs)) == NULL) {
        stateFree(&s);
        return -1;
    }
    for (unsigned i = 0; i < n_refs;) {
        struct key_ops k = keyFind(refs + i, n_refs - i, refs[i].key);
        keyCheck(&s, &k);
        i += k.n;
    }
    lostCheck(&s, final, refs, n_refs);
    int cycle = hasCycle(&s);
    if (cycle > 0) {
        fprintf(report, "append: dependency cycle (not serializable)\n");
        s.anomalies++;
    }
    int rv = cycle < 0 ? -1 : s.anomalies;
    free(refs);
    stateFree(&s);
    return rv;
}
