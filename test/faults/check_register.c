/*
 * Linearizability of a register per key (checker.h): the Wing-Gong search
 * over a list of call and return entries, with Lowe's memoisation of
 * (linearized set, register value) states, run key by key. Kept alone: it
 * is the one checker whose cost is exponential, bounded by max_states.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"

#define NIL (-1LL)
#define INF_TIME INT64_MAX

struct reg_op {
    int kind; /* 0 read, 1 write, 2 cas */
    long long arg;
    long long arg2;
    int64_t call_ns;
    int64_t ret_ns; /* INF_TIME when the outcome is unknown */
};

struct entry {
    int op;
    int is_call;
    int64_t time_ns;
    struct entry *prev, *next, *match;
};

struct memo {
    uint64_t *keys; /* each slot: words of the bitset, then the value */
    unsigned words;
    unsigned long cap, n;
};

static int regStep(const struct reg_op *op, long long v, long long *out)
{
    if (op->kind == 0) {
        *out = v;
        return op->arg == v;
    }
    if (op->kind == 1) {
        *out = op->arg;
        return 1;
    }
    *out = op->arg2;
    return op->arg == v;
}

static uint64_t memoHash(const uint64_t *k, unsigned words)
{
    uint64_t h = 1469598103934665603ULL;
    for (unsigned i = 0; i < words; i++) {
        h = (h ^ k[i]) * 1099511628211ULL;
        h ^= h >> 29;
    }
    return h;
}

/* Adds the state; 1 if it was new, 0 if seen, -1 if out of memory. */
static int memoAdd(struct memo *m, const uint64_t *k)
{
    unsigned w = m->words;
    if (m->n * 2 >= m->cap) {
        struct memo bigger = {NULL, w, m->cap ? m->cap * 2 : 1024, 0};
        bigger.keys = calloc(bigger.cap, (w + 1) * sizeof(uint64_t));
        if (bigger.keys == NULL) {
            return -1;
        }
        for (unsigned long i = 0; i < m->cap; i++) {
            if (m->keys[i * (w + 1) + w]) {
                memoAdd(&bigger, &m->keys[i * (w + 1)]);
            }
        }
        free(m->keys);
        *m = bigger;
    }
    unsigned long i = memoHash(k, w) % m->cap;
    for (;; i = (i + 1) % m->cap) {
        uint64_t *slot = &m->keys[i * (w + 1)];
        if (!slot[w]) {
            memcpy(slot, k, w * sizeof(uint64_t));
            slot[w] = 1;
            m->n++;
            return 1;
        }
        if (memcmp(slot, k, w * sizeof(uint64_t)) == 0) {
            return 0;
        }
    }
}

static int entryCmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->time_ns != y->time_ns) {
        return x->time_ns < y->time_ns ? -1 : 1;
    }
    return y->is_call - x->is_call; /* calls first: more overlap */
}

/* Builds the doubly linked entry list after `head` (2n entries). */
static struct entry *entriesBuild(const struct reg_op *ops, int n,
                                  struct entry *head)
{
    struct entry *e = calloc((size_t)(2 * n), sizeof *e);
    if (e == NULL) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        e[2 * i] = (struct entry){i, 1, ops[i].call_ns, 0, 0, 0};
        e[2 * i + 1] = (struct entry){i, 0, ops[i].ret_ns, 0, 0, 0};
    }
    qsort(e, (size_t)(2 * n), sizeof *e, entryCmp);
    struct entry **by_op = calloc((size_t)n + 1, sizeof *by_op);
    if (by_op == NULL) {
        free(e);
        return NULL;
    }
    memset(head, 0, sizeof *head);
    struct entry *prev = head;
    for (int i = 0; i < 2 * n; i++) {
        e[i].prev = prev;
        prev->next = &e[i];
        prev = &e[i];
        if (e[i].is_call) {
            by_op[e[i].op] = &e[i];
        } else {
            by_op[e[i].op]->match = &e[i];
        }
    }
    free(by_op);
    return e;
}

static void lift(struct entry *call)
{
    call->prev->next = call->next;
    call->next->prev = call->prev;
    struct entry *r = call->match;
    r->prev->next = r->next;
    if (r->next != NULL) {
        r->next->prev = r->prev;
    }
}

static void unlift(struct entry *call)
{
    struct entry *r = call->match;
    r->prev->next = r;
    if (r->next != NULL) {
        r->next->prev = r;
    }
    call->prev->next = call;
    call->next->prev = call;
}

struct frame {
    struct entry *call;
    long long value;
};

struct search {
    const struct reg_op *ops;
    struct memo memo;
    uint64_t *state; /* bitset words, then the value */
    struct frame *stack;
    int depth;
    unsigned long explored;
};

/* Tries to linearize the call at `e` now; 1 if it was, 0 if not. */
static int tryCall(struct search *s, struct entry *e, long long *value)
{
    long long next;
    unsigned w = s->memo.words - 1;
    if (!regStep(&s->ops[e->op], *value, &next)) {
        return 0;
    }
    s->state[e->op / 64] |= 1ULL << (e->op % 64);
    s->state[w] = (uint64_t)next;
    int fresh = memoAdd(&s->memo, s->state);
    if (fresh <= 0) {
        s->state[e->op / 64] &= ~(1ULL << (e->op % 64));
        s->state[w] = (uint64_t)*value;
        return 0;
    }
    s->stack[s->depth++] = (struct frame){e, *value};
    *value = next;
    lift(e);
    return 1;
}

/* 1 linearizable, 0 not, -1 bound reached. */
static int searchRun(struct search *s, struct entry *head,
                     unsigned long max_states)
{
    long long value = NIL;
    struct entry *e = head->next;
    while (head->next != NULL) {
        if (++s->explored > max_states) {
            return -1;
        }
        if (!e->is_call && e->time_ns == INF_TIME) {
            return 1; /* only unknown-outcome operations are left */
        }
        if (e->is_call) {
            e = tryCall(s, e, &value) ? head->next : e->next;
            continue;
        }
        if (s->depth == 0) {
            return 0;
        }
        struct frame f = s->stack[--s->depth];
        s->state[f.call->op / 64] &= ~(1ULL << (f.call->op % 64));
        s->state[s->memo.words - 1] = (uint64_t)f.value;
        value = f.value;
        unlift(f.call);
        e = f.call->next;
    }
    return 1;
}

static int checkKeyOps(const struct reg_op *ops, int n,
                       unsigned long max_states)
{
    struct entry head;
    struct search s = {ops, {NULL, (unsigned)(n / 64 + 2), 0, 0}, NULL, NULL, 0,
                       0};
    int rv = -1;
    struct entry *entries = entriesBuild(ops, n, &head);
    s.state = calloc(s.memo.words, sizeof(uint64_t));
    s.stack = calloc((size_t)n + 1, sizeof *s.stack);
    if (entries != NULL && s.state != NULL && s.stack != NULL) {
        s.state[s.memo.words - 1] = (uint64_t)NIL;
        rv = searchRun(&s, &head, max_states);
    }
    free(entries);
    free(s.state);
    free(s.stack);
    free(s.memo.keys);
    return rv;
}

/* Converts one operation; 0 if it takes part, 1 if it is left out. */
static int regOpOf(const struct faults_op *o, struct reg_op *r)
{
    enum faults_type t = opOutcome(o);
    const char *f = o->invoke->f;
    long long v[2];
    if (t == FAULTS_FAIL || (t == FAULTS_INFO && strcmp(f, "read") == 0)) {
        return 1;
    }
    r->call_ns = o->invoke->time_ns;
    r->ret_ns = t == FAULTS_OK ? o->done->time_ns : INF_TIME;
    if (strcmp(f, "read") == 0) {
        r->kind = 0;
        const char *s = o->done->value;
        r->arg = strcmp(s, "nil") == 0 ? NIL : strtoll(s, NULL, 10);
        return 0;
    }
    if (strcmp(f, "write") == 0) {
        r->kind = 1;
        r->arg = strtoll(o->invoke->value, NULL, 10);
        return 0;
    }
    if (parseInts(o->invoke->value, v, 2) != 2) {
        return -1;
    }
    *r = (struct reg_op){2, v[0], v[1], r->call_ns, r->ret_ns};
    return 0;
}

static int checkKey(const struct faults_op *ops, unsigned n, int64_t key,
                    unsigned long max_states, FILE *report)
{
    struct reg_op *r = calloc(n + 1, sizeof *r);
    int k = 0;
    int rv = -1;
    if (r == NULL) {
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        if (ops[i].invoke->key == key) {
            int c = regOpOf(&ops[i], &r[k]);
            if (c < 0) {
                goto out;
            }
            k += c == 0;
        }
    }
    rv = checkKeyOps(r, k, max_states);
    if (rv == 0) {
        fprintf(report, "register: key %lld: not linearizable (%d ops)\n",
                (long long)key, k);
    } else if (rv < 0) {
        fprintf(report, "register: key %lld: search bound reached\n",
                (long long)key);
    }
out:
    free(r);
    return rv;
}

static int keyCmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int checkRegister(const struct faults_history *h, unsigned long max_states,
                  FILE *report)
{
    struct faults_op *ops;
    unsigned n;
    int anomalies = 0;
    bool undecided = false;
    if (historyPair(h, &ops, &n) != 0) {
        return -1;
    }
    int64_t *keys = calloc(n + 1, sizeof *keys);
    for (unsigned i = 0; keys != NULL && i < n; i++) {
        keys[i] = ops[i].invoke->key;
    }
    if (keys != NULL) {
        qsort(keys, n, sizeof *keys, keyCmp);
    }
    /* Every key is checked: one that is undecided neither hides another's
     * anomaly nor stops the check of the keys after it. */
    for (unsigned i = 0; keys != NULL && i < n; i++) {
        if (i > 0 && keys[i] == keys[i - 1]) {
            continue;
        }
        int rv = checkKey(ops, n, keys[i], max_states, report);
        undecided = undecided || rv < 0;
        anomalies += rv == 0;
    }
    if (anomalies == 0 && (undecided || keys == NULL)) {
        anomalies = -1;
    }
    free(keys);
    free(ops);
    return anomalies;
}
