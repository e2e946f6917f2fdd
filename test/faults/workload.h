/*
 * The workload program's shared pieces (workload.c, ops.c): a client
 * thread's context, history recording and the classification of client
 * errors into fail (certainly not applied) and info (unknown outcome).
 */
#ifndef FAULTS_WORKLOAD_H
#define FAULTS_WORKLOAD_H

#include <stdint.h>

#include "dqlite_client.h"
#include "history.h"

#define BANK_ACCOUNTS 8
#define BANK_INITIAL 10

struct worker {
    struct dqlite_conn *conn;
    int process;
    unsigned seed;
    int64_t n_ops;
    struct dqlite_driver *driver; /* the thread's own (runaway: the leader) */
};

/* Records one event (thread-safe; time taken under the lock). */
void record(int process, enum faults_type type, const char *f, int64_t key,
            const char *value);

/* A new unique number (thread-safe). */
int64_t nextCounter(void);

/* FAULTS_FAIL when a write that returned `rc` surely did not happen,
 * FAULTS_INFO otherwise. */
enum faults_type writeOutcome(struct dqlite_conn *conn, int rc);

/* Runs one operation of the workload; returns its outcome type. */
enum faults_type opRegister(struct worker *w);
enum faults_type opBank(struct worker *w);
enum faults_type opSet(struct worker *w);
enum faults_type opAppend(struct worker *w);
enum faults_type opRunaway(struct worker *w); /* ops_runaway.c */

/* Creates the schema (and bank accounts); 0 or the client's code. */
int setupSchema(struct dqlite_conn *conn, const char *workload);

/* The final read of the workload into `out`; 0 or the client's code. */
int finalRead(struct dqlite_conn *conn, const char *workload, char *out,
              size_t size);

#endif
