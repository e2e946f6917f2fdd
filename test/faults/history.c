/*
 * Histories: text form, parsing and pairing of invocations with their
 * completions (history.h, docs/faults.md). Kept apart from the checkers so
 * each checker sees paired operations only.
 */
#include "history.h"

#include <stdlib.h>
#include <string.h>

static const char *type_names[] = {"invoke", "ok", "fail", "info"};

void historyInit(struct faults_history *h)
{
    memset(h, 0, sizeof *h);
}

void historyFree(struct faults_history *h)
{
    for (unsigned i = 0; i < h->n; i++) {
        free(h->events[i].value);
    }
    free(h->events);
    historyInit(h);
}

int historyAppend(struct faults_history *h, int64_t time_ns, int process,
                  enum faults_type type, const char *f, int64_t key,
                  const char *value)
{
    if (h->n == h->cap) {
        unsigned cap = h->cap ? h->cap * 2 : 256;
        void *p = realloc(h->events, cap * sizeof *h->events);
        if (p == NULL) {
            return -1;
        }
        h->events = p;
        h->cap = cap;
    }
    struct faults_event *e = &h->events[h->n];
    e->value = strdup(value != NULL ? value : "-");
    if (e->value == NULL) {
        return -1;
    }
    e->time_ns = time_ns;
    e->process = process;
    e->type = type;
    e->key = key;
    snprintf(e->f, sizeof e->f, "%s", f);
    h->n++;
    return 0;
}

static int typeParse(const char *s, enum faults_type *type)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, type_names[i]) == 0) {
            *type = (enum faults_type)i;
            return 0;
        }
    }
    return -1;
}

int historyParseLine(struct faults_history *h, const char *line)
{
    long long time_ns;
    long long key;
    int process;
    int at = 0;
    char type[16];
    char f[16];
    enum faults_type t;
    if (line[0] == '#' || line[0] == '\n' || line[0] == '\0') {
        return 0;
    }
    if (sscanf(line, "%lld %d %15s %15s %lld %n", &time_ns, &process, type, f,
               &key, &at) != 5 ||
        at == 0 || typeParse(type, &t) != 0) {
        return -1;
    }
    size_t len = strcspn(line + at, " \n");
    if (len == 0) {
        return -1;
    }
    char *value = strndup(line + at, len);
    int rv = value ? historyAppend(h, time_ns, process, t, f, key, value) : -1;
    free(value);
    return rv;
}

int historyRead(struct faults_history *h, const char *path)
{
    FILE *in = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    unsigned n = 0;
    int rv = 0;
    if (in == NULL) {
        perror(path);
        return -1;
    }
    while (rv == 0 && getline(&line, &cap, in) >= 0) {
        n++;
        if (historyParseLine(h, line) != 0) {
            fprintf(stderr, "%s:%u: bad history line\n", path, n);
            rv = -1;
        }
    }
    free(line);
    fclose(in);
    return rv;
}

void historyWriteEvent(FILE *out, const struct faults_event *e)
{
    fprintf(out, "%lld %d %s %s %lld %s\n", (long long)e->time_ns, e->process,
            type_names[e->type], e->f, (long long)e->key, e->value);
}

/* Index of the open operation of `process` in ops, or -1. */
static int openOf(struct faults_op *ops, unsigned n, int process)
{
    for (unsigned i = n; i-- > 0;) {
        if (ops[i].invoke->process == process) {
            return ops[i].done == NULL ? (int)i : -1;
        }
    }
    return -1;
}

int historyPair(const struct faults_history *h, struct faults_op **ops,
                unsigned *n)
{
    struct faults_op *o = calloc(h->n + 1, sizeof *o);
    unsigned k = 0;
    if (o == NULL) {
        return -1;
    }
    for (unsigned i = 0; i < h->n; i++) {
        const struct faults_event *e = &h->events[i];
        int open = openOf(o, k, e->process);
        if (e->type == FAULTS_INVOKE) {
            if (open >= 0) {
                goto err;
            }
            o[k++].invoke = e;
        } else {
            if (open < 0) {
                goto err;
            }
            o[open].done = e;
        }
    }
    *ops = o;
    *n = k;
    return 0;
err:
    free(o);
    return -1;
}

enum faults_type opOutcome(const struct faults_op *op)
{
    return op->done != NULL ? op->done->type : FAULTS_INFO;
}
