/*
 * Operation histories of the fault-injection harness (docs/faults.md):
 * the in-memory form the checkers read and the text form the workload
 * program writes, one event per line. Owned here so that the workload
 * program, the checker program and the checker unit tests agree on one
 * format.
 */
#ifndef FAULTS_HISTORY_H
#define FAULTS_HISTORY_H

#include <stdint.h>
#include <stdio.h>

enum faults_type { FAULTS_INVOKE, FAULTS_OK, FAULTS_FAIL, FAULTS_INFO };

/* One event. `f` names the operation (read, write, cas, transfer, add,
 * txn, final); `value` is its argument or result as one token without
 * spaces ("-" when none). Both are owned by the event. */
struct faults_event {
    int64_t time_ns;
    int process;
    enum faults_type type;
    int64_t key;
    char f[16];
    char *value;
};

/* A whole history in file order, which is time order. */
struct faults_history {
    struct faults_event *events;
    unsigned n;
    unsigned cap;
};

/* One operation: an invocation and its completion (or none). */
struct faults_op {
    const struct faults_event *invoke;
    const struct faults_event *done; /* NULL: the run ended first */
};

void historyInit(struct faults_history *h);
void historyFree(struct faults_history *h);

/* Appends a copy of the event; returns 0 or -1 (out of memory). */
int historyAppend(struct faults_history *h, int64_t time_ns, int process,
                  enum faults_type type, const char *f, int64_t key,
                  const char *value);

/* Parses one line ("TIME PROCESS TYPE F KEY VALUE"); 0 or -1. */
int historyParseLine(struct faults_history *h, const char *line);

/* Reads a whole file; 0, or -1 with a message on stderr. */
int historyRead(struct faults_history *h, const char *path);

/* Writes one event as a line (no locking). */
void historyWriteEvent(FILE *out, const struct faults_event *e);

/* Pairs invocations with completions by process. *ops is owned by the
 * caller (free()); returns 0 or -1 (a completion without invocation, or
 * two invocations in flight on one process). */
int historyPair(const struct faults_history *h, struct faults_op **ops,
                unsigned *n);

/* The completion's type, FAULTS_INFO when there is none. */
enum faults_type opOutcome(const struct faults_op *op);

#endif
