/*
 * dqlite-bench: what its files share. The tool drives a dqlite cluster
 * (ours or the reference: the same wire protocol) through the C client
 * (dqlite_client.h), or a local SQLite file (WAL, synchronous=FULL) as the
 * baseline without replication, with the same workloads, and reports
 * throughput, latency percentiles and, given server PIDs, their CPU and RSS.
 *
 *   conn.c      one client connection to either backend, its statements
 *   workload.c  the workloads, client threads, the load of the read table
 *   report.c    percentiles, /proc sampling, text/CSV/JSON output
 *   probe.c     the machine's fdatasync rate and loopback round trip
 *   main.c      command line
 */
#ifndef DQLITE_BENCH_H
#define DQLITE_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <dqlite_client.h>
#include <sqlite3.h>

#define BENCH_MAX_PIDS 16
#define BENCH_MAX_CLIENTS 256

enum bench_format { BENCH_TEXT, BENCH_CSV, BENCH_JSON };

struct bench_options {
    const char *servers;     /* "host:port,host:port" or NULL */
    const char *sqlite_path; /* local SQLite file or NULL */
    const char *db_name;     /* dqlite database name */
    const char *workloads;   /* comma list, see main.c's usage */
    const char *label;       /* first column of every result row */
    const char *probe_dir;   /* --probe: measure the machine instead */
    bool tls;                /* --tls: TLS to the cluster */
    const char *tls_cert;    /* --cert, --key, --ca (NULL) */
    const char *tls_key;
    const char *tls_ca;
    double duration_s;  /* per workload (0 = only --ops bounds it) */
    uint64_t max_ops;   /* per workload (0 = only duration bounds) */
    unsigned read_rows; /* rows of the point-read table */
    unsigned scan_rows; /* rows returned by one scan */
    int format;         /* enum bench_format */
    bool no_header;     /* CSV without its header line */
    pid_t pids[BENCH_MAX_PIDS];
    unsigned n_pids;
};

/* ------------------------------------------------------------- conn.c */
enum bench_rc { BENCH_OK = 0, BENCH_BUSY, BENCH_FAIL };
enum bench_stmt { STMT_INSERT, STMT_READ, STMT_SCAN, N_STMTS };

/* One connection of one client thread: to a dqlite cluster or to SQLite. */
struct bench_conn {
    struct dqlite_driver *driver; /* borrowed; NULL for SQLite */
    struct dqlite_conn *dq;
    struct dqlite_stmt *dq_stmts[N_STMTS];
    sqlite3 *lite;
    sqlite3_stmt *lite_stmts[N_STMTS];
    char errmsg[256]; /* the last failure, for the report on stderr */
};

/* Opens a connection (driver != NULL: dqlite, else the SQLite file). */
int benchConnOpen(struct bench_conn *c, struct dqlite_driver *driver,
                  const struct bench_options *o);
/* Prepares the workload's statements on tables for `value_bytes`. */
int benchConnPrepare(struct bench_conn *c, unsigned value_bytes);
void benchConnClose(struct bench_conn *c);
/* Runs SQL text without rows (setup). */
int benchConnExecSql(struct bench_conn *c, const char *sql);
/* The first column of the first row of `sql`, as an integer. */
int benchConnQueryInt(struct bench_conn *c, const char *sql, int64_t *value);
/* Executes a prepared statement with one parameter. */
int benchConnExec(struct bench_conn *c, enum bench_stmt s,
                  const struct dqlite_value *param);
/* Runs a prepared query with one integer parameter, reading every row;
 * *n_rows receives how many. */
int benchConnQuery(struct bench_conn *c, enum bench_stmt s, int64_t param,
                   uint64_t *n_rows);
int benchConnBegin(struct bench_conn *c);
int benchConnCommit(struct bench_conn *c);
void benchConnRollback(struct bench_conn *c);

/* ------------------------------------------------------------ report.c */
struct bench_latencies {
    uint64_t *ns; /* owned, grown by benchLatAdd */
    uint64_t n, cap;
};
int benchLatAdd(struct bench_latencies *l, uint64_t ns);
/* Appends src's samples to dst (src is left as is). */
int benchLatMerge(struct bench_latencies *dst,
                  const struct bench_latencies *src);
void benchLatFree(struct bench_latencies *l);
/* The median in microseconds (sorts the samples). */
double benchLatMedianUs(struct bench_latencies *l);

/* CPU (ticks) and memory of the watched processes at one instant. */
struct bench_sample {
    uint64_t cpu_ticks;  /* user + system, summed over the PIDs */
    double rss_mb;       /* the largest VmRSS */
    double hwm_mb;       /* the largest VmHWM (peak since start) */
    double rss_total_mb; /* VmRSS summed */
    bool ok;
    uint64_t client_cpu_us; /* this process: user + system */
};
void benchSample(const struct bench_options *o, struct bench_sample *s);

struct bench_result {
    char workload[32];
    unsigned clients;
    unsigned value_bytes;
    uint64_t ops, rows, busy, errors;
    double seconds;
    struct bench_latencies lat; /* owned; sorted by benchReport */
    struct bench_sample before, after;
};
void benchReportBegin(const struct bench_options *o);
void benchReport(const struct bench_options *o, struct bench_result *r);
void benchReportEnd(const struct bench_options *o);

/* ---------------------------------------------------------- workload.c */
/* Runs one workload item "name[:clients][/bytes]"; 0 or -1 (reported). */
int benchRunItem(const struct bench_options *o, struct dqlite_driver *driver,
                 const char *item);
uint64_t benchNowNs(void);

/* ------------------------------------------------------------- probe.c */
/* Prints the fdatasync rates in `dir` and the loopback round trip. */
int benchProbe(const char *dir, double seconds);

#endif /* DQLITE_BENCH_H */
