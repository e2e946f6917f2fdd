/*
 * dqlite-bench's measurements and output: latency samples and their
 * percentiles (nearest rank over every op of every client), the servers'
 * CPU time and memory read from /proc/PID/stat and /proc/PID/status before
 * and after each workload, and one row per workload as aligned text, CSV
 * or a JSON array. The field list is the same in the three formats, so
 * scripts/bench.sh can read any of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

int benchLatAdd(struct bench_latencies *l, uint64_t ns)
{
    if (l->n == l->cap) {
        uint64_t cap = l->cap == 0 ? 4096 : l->cap * 2;
        uint64_t *p = realloc(l->ns, cap * sizeof *p);
        if (p == NULL) {
            return -1;
        }
        l->ns = p;
        l->cap = cap;
    }
    l->ns[l->n++] = ns;
    return 0;
}

int benchLatMerge(struct bench_latencies *dst,
                  const struct bench_latencies *src)
{
    for (uint64_t i = 0; i < src->n; i++) {
        if (benchLatAdd(dst, src->ns[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

void benchLatFree(struct bench_latencies *l)
{
    free(l->ns);
    *l = (struct bench_latencies){0};
}

static int cmpU64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

double benchLatMedianUs(struct bench_latencies *l)
{
    qsort(l->ns, l->n, sizeof *l->ns, cmpU64);
    return l->n == 0 ? 0 : (double)l->ns[(l->n - 1) / 2] / 1e3;
}

/* The p-th percentile in ms (nearest rank); `l` must be sorted. */
static double latPercentileMs(const struct bench_latencies *l, double p)
{
    if (l->n == 0) {
        return 0;
    }
    uint64_t rank = (uint64_t)(p / 100.0 * (double)l->n + 0.999999);
    rank = rank == 0 ? 1 : rank > l->n ? l->n : rank;
    return (double)l->ns[rank - 1] / 1e6;
}

static bool readProcTicks(pid_t pid, uint64_t *ticks)
{
    char path[64], buf[1024];
    unsigned long long utime, stime;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    if (p == NULL || sscanf(p + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                            "%llu %llu",
                            &utime, &stime) != 2) {
        return false;
    }
    *ticks = utime + stime;
    return true;
}

static bool readProcMem(pid_t pid, double *rss_mb, double *hwm_mb)
{
    char path[64], line[256];
    unsigned long kb;
    int found = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "VmRSS: %lu", &kb) == 1) {
            *rss_mb = (double)kb / 1024.0;
            found++;
        } else if (sscanf(line, "VmHWM: %lu", &kb) == 1) {
            *hwm_mb = (double)kb / 1024.0;
            found++;
        }
    }
    fclose(f);
    return found == 2;
}

void benchSample(const struct bench_options *o, struct bench_sample *s)
{
    struct rusage ru;
    *s = (struct bench_sample){.ok = o->n_pids > 0};
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        s->client_cpu_us = (uint64_t)ru.ru_utime.tv_sec * 1000000 +
                           (uint64_t)ru.ru_utime.tv_usec +
                           (uint64_t)ru.ru_stime.tv_sec * 1000000 +
                           (uint64_t)ru.ru_stime.tv_usec;
    }
    for (unsigned i = 0; i < o->n_pids; i++) {
        uint64_t ticks = 0;
        double rss_mb = 0, hwm_mb = 0;
        if (!readProcTicks(o->pids[i], &ticks) ||
            !readProcMem(o->pids[i], &rss_mb, &hwm_mb)) {
            s->ok = false;
        }
        s->cpu_ticks += ticks;
        s->rss_mb = rss_mb > s->rss_mb ? rss_mb : s->rss_mb;
        s->hwm_mb = hwm_mb > s->hwm_mb ? hwm_mb : s->hwm_mb;
        s->rss_total_mb += rss_mb;
    }
}

/* The derived figures of one row, in the order of the header. */
struct report_row {
    double ops_per_s, rows_per_s, p50, p95, p99, max;
    double cpu_pct, cpu_us_per_op, rss_mb, hwm_mb, rss_total_mb;
    double client_cpu_us_per_op; /* dqlite-bench's own */
};

static const char *const kFields =
    "label,workload,clients,value_bytes,ops,seconds,ops_per_s,rows_per_s,"
    "p50_ms,p95_ms,p99_ms,max_ms,busy,errors,server_cpu_pct,"
    "server_cpu_us_per_op,rss_mb,hwm_mb,rss_total_mb,client_cpu_us_per_op";

static void rowDerive(const struct bench_result *r, struct report_row *w)
{
    double secs = r->seconds > 0 ? r->seconds : 1e-9;
    double cpu_s = (double)(r->after.cpu_ticks - r->before.cpu_ticks) /
                   (double)sysconf(_SC_CLK_TCK);
    bool ok = r->before.ok && r->after.ok;
    w->ops_per_s = (double)r->ops / secs;
    w->rows_per_s = (double)r->rows / secs;
    w->p50 = latPercentileMs(&r->lat, 50);
    w->p95 = latPercentileMs(&r->lat, 95);
    w->p99 = latPercentileMs(&r->lat, 99);
    w->max = latPercentileMs(&r->lat, 100);
    w->cpu_pct = ok ? 100.0 * cpu_s / secs : -1;
    w->cpu_us_per_op = ok && r->ops > 0 ? 1e6 * cpu_s / (double)r->ops : -1;
    w->rss_mb = ok ? r->after.rss_mb : -1;
    w->hwm_mb = ok ? r->after.hwm_mb : -1;
    w->rss_total_mb = ok ? r->after.rss_total_mb : -1;
    w->client_cpu_us_per_op =
        r->ops > 0
            ? (double)(r->after.client_cpu_us - r->before.client_cpu_us) /
                  (double)r->ops
            : -1;
}

static void printText(const struct bench_options *o,
                      const struct bench_result *r, const struct report_row *w)
{
    printf("%-10s %-7s %3u %5u %8.0f %9.0f %8.3f %8.3f %8.3f %8.3f %6llu "
           "%4llu %6.0f %8.0f %7.1f %7.1f\n",
           o->label, r->workload, r->clients, r->value_bytes, w->ops_per_s,
           w->rows_per_s, w->p50, w->p95, w->p99, w->max,
           (unsigned long long)r->busy, (unsigned long long)r->errors,
           w->cpu_pct, w->cpu_us_per_op, w->rss_mb, w->hwm_mb);
}

static void printCsv(const struct bench_options *o,
                     const struct bench_result *r, const struct report_row *w)
{
    printf("%s,%s,%u,%u,%llu,%.3f,%.1f,%.1f,%.4f,%.4f,%.4f,%.4f,%llu,%llu,"
           "%.1f,%.1f,%.1f,%.1f,%.1f,%.1f\n",
           o->label, r->workload, r->clients, r->value_bytes,
           (unsigned long long)r->ops, r->seconds, w->ops_per_s, w->rows_per_s,
           w->p50, w->p95, w->p99, w->max, (unsigned long long)r->busy,
           (unsigned long long)r->errors, w->cpu_pct, w->cpu_us_per_op,
           w->rss_mb, w->hwm_mb, w->rss_total_mb, w->client_cpu_us_per_op);
}

static void printJson(const struct bench_options *o,
                      const struct bench_result *r, const struct report_row *w)
{
    static bool first = true;
    printf("%s\n  {\"label\": \"%s\", \"workload\": \"%s\", \"clients\": %u, "
           "\"value_bytes\": %u, \"ops\": %llu, \"seconds\": %.3f, "
           "\"ops_per_s\": %.1f, \"rows_per_s\": %.1f, \"p50_ms\": %.4f, "
           "\"p95_ms\": %.4f, \"p99_ms\": %.4f, \"max_ms\": %.4f, "
           "\"busy\": %llu, \"errors\": %llu, \"server_cpu_pct\": %.1f, "
           "\"server_cpu_us_per_op\": %.1f, \"rss_mb\": %.1f, "
           "\"hwm_mb\": %.1f, \"rss_total_mb\": %.1f, "
           "\"client_cpu_us_per_op\": %.1f}",
           first ? "" : ",", o->label, r->workload, r->clients, r->value_bytes,
           (unsigned long long)r->ops, r->seconds, w->ops_per_s, w->rows_per_s,
           w->p50, w->p95, w->p99, w->max, (unsigned long long)r->busy,
           (unsigned long long)r->errors, w->cpu_pct, w->cpu_us_per_op,
           w->rss_mb, w->hwm_mb, w->rss_total_mb, w->client_cpu_us_per_op);
    first = false;
}

void benchReportBegin(const struct bench_options *o)
{
    if (o->format == BENCH_CSV && !o->no_header) {
        printf("%s\n", kFields);
    } else if (o->format == BENCH_JSON) {
        printf("[");
    } else if (o->format == BENCH_TEXT) {
        printf("%-10s %-7s %3s %5s %8s %9s %8s %8s %8s %8s %6s %4s %6s %8s "
               "%7s %7s\n",
               "label", "work", "cli", "bytes", "ops/s", "rows/s", "p50ms",
               "p95ms", "p99ms", "maxms", "busy", "err", "cpu%", "cpuus/op",
               "rssMB", "hwmMB");
    }
    fflush(stdout);
}

void benchReport(const struct bench_options *o, struct bench_result *r)
{
    struct report_row w;
    qsort(r->lat.ns, r->lat.n, sizeof *r->lat.ns, cmpU64);
    rowDerive(r, &w);
    if (o->format == BENCH_CSV) {
        printCsv(o, r, &w);
    } else if (o->format == BENCH_JSON) {
        printJson(o, r, &w);
    } else {
        printText(o, r, &w);
    }
    fflush(stdout);
    benchLatFree(&r->lat);
}

void benchReportEnd(const struct bench_options *o)
{
    if (o->format == BENCH_JSON) {
        printf("\n]\n");
    }
    fflush(stdout);
}
