/*
 * The client-live tier's helpers: result bookkeeping ([PASS]/[FAIL] lines),
 * clocks, a recording (and optionally lying) dial function, a recording log
 * function, stores and drivers built from address lists, one-value SQL
 * helpers, finding the leader through cluster clients, and killing a node
 * the runner started (by the PID it passed).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "live.h"

void liveFail(const char *file, int line, const char *cond, const char *fmt,
              ...)
{
    char msg[LIVE_REASON_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ctx->reason[0] == '\0') { /* keep the first failure */
        snprintf(ctx->reason, sizeof ctx->reason, "%s (%s:%d: %.200s)", msg,
                 file, line, cond);
    }
}

void liveRun(const char *name, live_test_fn fn)
{
    int64_t start_ms = liveNowMs();
    ctx->current = name;
    ctx->reason[0] = '\0';
    fn();
    ctx->tested++;
    if (ctx->reason[0] == '\0') {
        ctx->passed++;
        printf("[PASS] %s::%s (%lld ms)\n", ctx->server, name,
               (long long)(liveNowMs() - start_ms));
    } else {
        ctx->failed++;
        printf("[FAIL] %s::%s: %s\n", ctx->server, name, ctx->reason);
    }
    fflush(stdout);
}

int64_t liveNowMs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void liveSleepMs(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* "a.b.c.d:port" into a sockaddr. */
static int parseAddress(const char *address, struct sockaddr_in *sin)
{
    char host[LIVE_ADDR_MAX];
    const char *colon = strrchr(address, ':');
    size_t n = colon != NULL ? (size_t)(colon - address) : 0;
    if (colon == NULL || n >= sizeof host) {
        return -1;
    }
    memcpy(host, address, n);
    host[n] = '\0';
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

/* A blocking TCP connect bounded by `timeout_ms`. */
static int connectTcp(const char *address, int timeout_ms, int *fd)
{
    struct sockaddr_in sin;
    struct pollfd p;
    int err = 0;
    socklen_t len = sizeof err;
    int s;
    if (parseAddress(address, &sin) != 0) {
        return -1;
    }
    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) {
        return -1;
    }
    if (connect(s, (struct sockaddr *)&sin, sizeof sin) != 0) {
        p.fd = s;
        p.events = POLLOUT;
        if (errno != EINPROGRESS || poll(&p, 1, timeout_ms) != 1 ||
            getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            close(s);
            return -1;
        }
    }
    *fd = s;
    return 0;
}

/* The tier's dial function: counts dials, records the timeout it was
 * given, and connects to `misroute_to` instead when that is set. */
int liveDial(void *arg, const char *address, int timeout_ms, int *fd)
{
    struct live_dial *d = arg;
    d->n_dials++;
    d->last_timeout_ms = timeout_ms;
    if (d->misroute_to[0] != '\0') {
        address = d->misroute_to;
    }
    return connectTcp(address, timeout_ms, fd);
}

void liveLog(void *arg, int level, const char *message)
{
    struct live_log *l = arg;
    size_t n;
    if (level >= 0 && level < 4) {
        l->n_by_level[level]++;
    }
    snprintf(l->last, sizeof l->last, "%s", message);
    n = strlen(l->all);
    snprintf(l->all + n, sizeof l->all - n, "%s; ", message);
    if (strstr(message, "interrupt") != NULL) {
        l->saw_interrupt = true;
    }
}

int liveStoreOf(struct dqlite_server_store **store, const char *const *addrs,
                unsigned n)
{
    unsigned i;
    int rv = dqlite_server_store_create(store);
    for (i = 0; rv == 0 && i < n; i++) {
        rv = dqlite_server_store_add(*store, 0, addrs[i], DQLITE_VOTER);
    }
    return rv;
}

int liveDriver(const char *const *addrs, unsigned n,
               const struct dqlite_driver_options *opts,
               struct dqlite_server_store **store,
               struct dqlite_driver **driver)
{
    int rv = liveStoreOf(store, addrs, n);
    *driver = NULL;
    if (rv == 0) {
        rv = dqlite_driver_create(*store, opts, driver);
    }
    return rv;
}

void liveDriverFree(struct dqlite_server_store *store,
                    struct dqlite_driver *driver)
{
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
}

int liveExec(struct dqlite_conn *conn, const char *sql)
{
    return dqlite_conn_exec(conn, sql, NULL, 0, NULL);
}

/* Setup SQL that may be run again (idempotent): retried twice when the
 * leader changed under it (NOTLEADER, IOERR), with a [NOTE] line, since
 * such a write may or may not have been applied. Tests of the client's
 * behaviour itself never use this. */
int liveExecSetup(struct dqlite_conn *conn, const char *sql)
{
    int rv = liveExec(conn, sql);
    int i;
    for (i = 0;
         i < 2 && (rv == DQLITE_CLIENT_NOTLEADER || rv == DQLITE_CLIENT_IOERR);
         i++) {
        printf("[NOTE] %s::%s: setup write retried after %d: %s\n", ctx->server,
               ctx->current, rv, dqlite_conn_errmsg(conn));
        rv = liveExec(conn, sql);
    }
    return rv;
}

/* The first column of the only row of `sql`. */
int liveQueryInt(struct dqlite_conn *conn, const char *sql, int64_t *out)
{
    struct dqlite_rows *rows;
    int rv = dqlite_conn_query(conn, sql, NULL, 0, &rows);
    if (rv != 0) {
        return rv;
    }
    rv = dqlite_rows_next(rows);
    if (rv == DQLITE_CLIENT_ROW) {
        *out = dqlite_rows_int64(rows, 0);
        rv = dqlite_rows_next(rows) == DQLITE_CLIENT_DONE ? 0 : -1;
    } else {
        rv = rv == DQLITE_CLIENT_DONE ? -1 : rv;
    }
    dqlite_rows_close(rows);
    return rv;
}
