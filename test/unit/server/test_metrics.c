/* The node's metrics as a scraper and a load balancer see them: the
 * Prometheus text, cumulative histogram buckets, per-database counters
 * with escaped names, and /readyz's judgement. */
#include <criterion/criterion.h>
#include <dqlite.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"
#include "server/metrics.h"

static struct metrics m;

static void setup(void)
{
    metricsInit(&m);
}

static void teardown(void)
{
    metricsClose(&m);
}

TestSuite(metrics, .init = setup, .fini = teardown);

static char *format(void)
{
    struct metrics_snapshot s;
    size_t len = 0;
    metricsPublish(&m);
    metricsRead(&m, &s);
    char *text = metricsFormat(&s, &len);
    cr_assert_not_null(text);
    cr_assert_eq(strlen(text), len);
    return text;
}

Test(metrics, role_and_counters_are_printed)
{
    m.live.state = DQLITE_LEADER;
    m.live.term = 7;
    metricsProposed(&m, metricsNowUs(), 100);
    metricsProposed(&m, metricsNowUs(), 50);
    metricsStateChanged(&m, DQLITE_CANDIDATE, false);
    char *text = format();
    cr_assert(strstr(text, "dqlite_role{role=\"leader\"} 1\n") != NULL);
    cr_assert(strstr(text, "dqlite_role{role=\"follower\"} 0\n") != NULL);
    cr_assert(strstr(text, "\ndqlite_term 7\n") != NULL);
    cr_assert(strstr(text, "\ndqlite_entries_proposed_total 2\n") != NULL);
    cr_assert(strstr(text, "\ndqlite_bytes_proposed_total 150\n") != NULL);
    cr_assert(strstr(text, "\ndqlite_elections_total 1\n") != NULL);
    cr_assert(strstr(text, "# TYPE dqlite_elections_total counter\n") != NULL);
    free(text);
}

Test(metrics, histogram_buckets_are_cumulative)
{
    uint64_t now = metricsNowUs();
    metricsCommitted(&m, now - 200);     /* 0.2 ms */
    metricsCommitted(&m, now - 3000);    /* 3 ms */
    metricsCommitted(&m, now - 9000000); /* 9 s: over every bound */
    char *text = format();
    cr_assert(strstr(
        text, "dqlite_commit_latency_seconds_bucket{le=\"0.0001\"} 0\n"));
    cr_assert(strstr(
        text, "dqlite_commit_latency_seconds_bucket{le=\"0.00025\"} 1\n"));
    cr_assert(
        strstr(text, "dqlite_commit_latency_seconds_bucket{le=\"0.005\"} 2\n"));
    cr_assert(
        strstr(text, "dqlite_commit_latency_seconds_bucket{le=\"5\"} 2\n"));
    cr_assert(
        strstr(text, "dqlite_commit_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
    cr_assert(strstr(text, "dqlite_commit_latency_seconds_count 3\n"));
    free(text);
}

Test(metrics, statements_count_per_database_with_escaped_names)
{
    metricsRequestDone(&m, "a\"b", PROTO_REQ_EXEC_SQL);
    metricsRequestDone(&m, "a\"b", PROTO_REQ_QUERY);
    metricsRequestFailed(&m, "a\"b", PROTO_REQ_QUERY);
    metricsRequestDone(&m, "x", PROTO_REQ_OPEN);  /* not a statement */
    metricsRequestDone(&m, NULL, PROTO_REQ_EXEC); /* before OPEN */
    char *text = format();
    cr_assert(strstr(text, "dqlite_statements_total{database=\"a\\\"b\"} 2\n"),
              "%s", text);
    cr_assert(
        strstr(text, "dqlite_statement_errors_total{database=\"a\\\"b\"} 1\n"));
    cr_assert_null(strstr(text, "database=\"x\""));
    free(text);
}

Test(metrics, databases_past_the_bound_count_as_other)
{
    char name[32];
    for (int i = 0; i < METRICS_MAX_DBS + 10; i++) {
        snprintf(name, sizeof name, "db%d", i);
        metricsRequestDone(&m, name, PROTO_REQ_EXEC);
    }
    cr_assert_eq(m.live.n_dbs, METRICS_MAX_DBS);
    char *text = format();
    cr_assert(
        strstr(text, "dqlite_statements_total{database=\"(other)\"} 11\n"),
        "%s", text);
    free(text);
}

Test(metrics, readiness_rules)
{
    struct metrics_snapshot s = {0};
    s.published_ms = 1000;
    s.member = true;
    s.state = DQLITE_FOLLOWER;
    s.leader_id = 1;
    s.commit_index = 5000;
    s.applied_index = 4500;
    cr_assert_null(metricsNotReady(&s, 1100, METRICS_READY_MAX_LAG));
    cr_assert_not_null(metricsNotReady(&s, 1100, 10)); /* catching up */
    cr_assert_not_null(metricsNotReady(&s, 1000 + METRICS_STALE_MS + 1, 1000));
    s.leader_id = 0;
    cr_assert_str_eq(metricsNotReady(&s, 1100, 1000), "no known leader");
    s.leader_id = 1;
    s.member = false;
    cr_assert_not_null(metricsNotReady(&s, 1100, 1000));
    s.member = true;
    s.failed = true;
    cr_assert_not_null(metricsNotReady(&s, 1100, 1000));
}
