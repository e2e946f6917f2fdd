/*
 * The client-live tests of leader discovery and the driver options that
 * shape it: NOLEADER within the connect timeout for an unreachable store
 * and an empty one, the retry limit and the backoff between rounds, the
 * attempt timeout (a server that accepts but never answers is given up),
 * the dial timeout handed to a custom dial function, and the log function
 * with its level filter.
 */
#include <stdio.h>
#include <string.h>

#include "live.h"

#define DB "live.db"

/* Connects with `opts` through a store of `addrs`; returns the code and
 * the elapsed time, and copies the connection's message. */
static int connectWith(const char *const *addrs, unsigned n,
                       const struct dqlite_driver_options *opts,
                       int64_t *elapsed_ms, char *msg, size_t size)
{
    struct dqlite_server_store *store = NULL;
    struct dqlite_driver *driver = NULL;
    struct dqlite_conn *conn = NULL;
    int64_t start_ms = liveNowMs();
    int rv = liveDriver(addrs, n, opts, &store, &driver);
    if (rv == 0) {
        rv = dqlite_driver_connect(driver, DB, &conn);
        snprintf(msg, size, "%s", dqlite_conn_errmsg(conn));
    }
    *elapsed_ms = liveNowMs() - start_ms;
    dqlite_conn_close(conn);
    liveDriverFree(store, driver);
    return rv;
}

static void testUnreachable(void)
{
    char closed[LIVE_ADDR_MAX];
    const char *addrs[1] = {closed};
    struct dqlite_driver_options opts;
    char msg[512] = "";
    int64_t ms = 0;
    int rv;
    CHECK(liveFreePort(closed) == 0, "no free port");
    dqlite_driver_options_init(&opts);
    opts.connect_timeout_ms = 1000;
    rv = connectWith(addrs, 1, &opts, &ms, msg, sizeof msg);
    CHECK(rv == DQLITE_CLIENT_NOLEADER, "connect returned %d: %s", rv, msg);
    CHECK(ms >= 900 && ms < 4000, "NOLEADER after %lld ms (timeout 1000)",
          (long long)ms);
    CHECK(strstr(msg, "no available dqlite leader") != NULL, "message: %s",
          msg);
out:
    return;
}

static void testEmptyStore(void)
{
    struct dqlite_driver_options opts;
    char msg[512] = "";
    int64_t ms = 0;
    int rv;
    dqlite_driver_options_init(&opts);
    opts.connect_timeout_ms = 500;
    rv = connectWith(NULL, 0, &opts, &ms, msg, sizeof msg);
    CHECK(rv == DQLITE_CLIENT_NOLEADER, "connect returned %d: %s", rv, msg);
    CHECK(strstr(msg, "empty") != NULL, "message: %s", msg);
out:
    return;
}

/* retry_limit ends discovery long before the connect timeout; the backoff
 * (factor 2^n capped) sets the pace of the rounds. */
static void testRetryLimitBackoff(void)
{
    char closed[LIVE_ADDR_MAX];
    const char *addrs[1] = {closed};
    struct dqlite_driver_options opts;
    char msg[512] = "";
    int64_t fast_ms = 0;
    int64_t slow_ms = 0;
    int rv;
    CHECK(liveFreePort(closed) == 0, "no free port");
    dqlite_driver_options_init(&opts);
    opts.connect_timeout_ms = 60000;
    opts.retry_limit = 3;
    opts.backoff_factor_ms = 1;
    opts.backoff_cap_ms = 2;
    rv = connectWith(addrs, 1, &opts, &fast_ms, msg, sizeof msg);
    CHECK(rv == DQLITE_CLIENT_NOLEADER, "connect returned %d: %s", rv, msg);
    CHECK(fast_ms < 2000, "3 retries with 2 ms backoff took %lld ms",
          (long long)fast_ms);
    /* Rounds 1, 2, 3 sleep 100*2^n capped at 300: 200 + 300 + 300 ms. */
    opts.backoff_factor_ms = 100;
    opts.backoff_cap_ms = 300;
    rv = connectWith(addrs, 1, &opts, &slow_ms, msg, sizeof msg);
    CHECK(rv == DQLITE_CLIENT_NOLEADER, "connect returned %d: %s", rv, msg);
    CHECK(slow_ms >= 750 && slow_ms < 5000,
          "3 retries with backoff 100 ms capped at 300 took %lld ms",
          (long long)slow_ms);
out:
    return;
}

/* A server that accepts and never answers costs one attempt timeout, then
 * the next server of the store (the real cluster) is asked. */
static void testAttemptTimeout(void)
{
    char hole[LIVE_ADDR_MAX];
    const char *addrs[2] = {hole, ctx->nodes[0].address};
    struct dqlite_driver_options opts;
    struct live_dial dial = {0};
    char msg[512] = "";
    int64_t ms = 0;
    int rv;
    CHECK(liveBlackhole(hole) == 0, "no black hole");
    dqlite_driver_options_init(&opts);
    opts.attempt_timeout_ms = 500;
    opts.connect_timeout_ms = 20000;
    opts.dial = liveDial;
    opts.dial_arg = &dial;
    rv = connectWith(addrs, 2, &opts, &ms, msg, sizeof msg);
    CHECK(rv == 0, "connect returned %d: %s", rv, msg);
    CHECK(ms >= 450 && ms < 5000, "connected after %lld ms (attempt 500 ms)",
          (long long)ms);
    CHECK(dial.n_dials >= 2, "%u dials", dial.n_dials);
out:
    return;
}

/* The dial function gets min(dial timeout, time left); its dials count. */
static void testDialFunction(void)
{
    const char *addrs[1] = {ctx->nodes[0].address};
    struct dqlite_driver_options opts;
    struct live_dial dial = {0};
    char msg[512] = "";
    int64_t ms = 0;
    int rv;
    dqlite_driver_options_init(&opts);
    opts.dial_timeout_ms = 1234;
    opts.connect_timeout_ms = 20000;
    opts.dial = liveDial;
    opts.dial_arg = &dial;
    rv = connectWith(addrs, 1, &opts, &ms, msg, sizeof msg);
    CHECK(rv == 0, "connect returned %d: %s", rv, msg);
    CHECK(dial.n_dials >= 1 && dial.last_timeout_ms == 1234,
          "%u dials, last timeout %d ms (want 1234)", dial.n_dials,
          dial.last_timeout_ms);
out:
    return;
}

static void testLogLevels(void)
{
    char closed[LIVE_ADDR_MAX];
    const char *bad[1] = {closed};
    const char *good[1] = {ctx->nodes[0].address};
    struct dqlite_driver_options opts;
    struct live_log log = {0};
    char msg[512] = "";
    int64_t ms = 0;
    CHECK(liveFreePort(closed) == 0, "no free port");
    dqlite_driver_options_init(&opts);
    opts.log = liveLog;
    opts.log_arg = &log;
    opts.log_level = DQLITE_CLIENT_LOG_WARN;
    opts.connect_timeout_ms = 300;
    CHECK(connectWith(bad, 1, &opts, &ms, msg, sizeof msg) ==
              DQLITE_CLIENT_NOLEADER,
          "unreachable store: %s", msg);
    CHECK(log.n_by_level[DQLITE_CLIENT_LOG_WARN] > 0,
          "no WARN message for an unreachable server");
    CHECK(log.n_by_level[DQLITE_CLIENT_LOG_DEBUG] == 0 &&
              log.n_by_level[DQLITE_CLIENT_LOG_INFO] == 0,
          "level WARN passed %u DEBUG messages (last: %s)",
          log.n_by_level[DQLITE_CLIENT_LOG_DEBUG], log.last);
    memset(&log, 0, sizeof log);
    opts.log_level = DQLITE_CLIENT_LOG_DEBUG;
    opts.connect_timeout_ms = 20000;
    CHECK(connectWith(good, 1, &opts, &ms, msg, sizeof msg) == 0, "connect: %s",
          msg);
    CHECK(log.n_by_level[DQLITE_CLIENT_LOG_DEBUG] > 0,
          "no DEBUG message for a connect at level DEBUG");
out:
    return;
}

void liveDiscoveryTests(void)
{
    liveRun("noleader.unreachable-store", testUnreachable);
    liveRun("noleader.empty-store", testEmptyStore);
    liveRun("options.retry-limit-backoff", testRetryLimitBackoff);
    liveRun("options.attempt-timeout", testAttemptTimeout);
    liveRun("options.dial-function", testDialFunction);
    liveRun("options.log-level", testLogLevels);
}
