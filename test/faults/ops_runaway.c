/*
 * The runaway workload (docs/faults.md, issue 15 finding 4): a hostile
 * client that keeps sending statements that never end by themselves and
 * abandons them, while the other workloads run. Each operation is one of:
 *   cte     a recursive CTE that counts forever, abandoned when the call
 *           times out (the client sends INTERRUPT);
 *   sort    a huge sort (ORDER BY random() over 10 M generated rows), the
 *           same way;
 *   stream  a long result of which one batch is read before the rows are
 *           closed (INTERRUPT between batches);
 *   close   a runaway CTE sent on a raw socket to the leader, which is
 *           closed while the statement runs.
 * After each abandoned statement the same connection must answer a probe,
 * "SELECT N", with N: the interrupted request and the INTERRUPT were both
 * answered and nothing of them leaks into the next answer. The checker
 * (checkRunaway) counts as anomalies a runaway acknowledged as finished
 * and a probe answered with another number; the other workloads' checkers
 * show that the runaways disturbed nobody's data.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "workload.h"

#define RUNAWAY_CTE_SQL                                                \
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) " \
    "SELECT count(*) FROM r"
/* OFFSET keeps the ORDER BY: every row is sorted. */
#define RUNAWAY_SORT_SQL                                                 \
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r "    \
    "LIMIT 10000000) SELECT max(x) FROM (SELECT i AS x FROM r ORDER BY " \
    "random() LIMIT -1 OFFSET 1)"
#define RUNAWAY_STREAM_SQL                                             \
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) " \
    "SELECT i, zeroblob(100) FROM r"
/* How long a runaway is let run before it is abandoned. */
#define RUNAWAY_TIMEOUT_MS 300
/* Pause after each operation: the runaways take turns with the others. */
#define RUNAWAY_PAUSE_US 200000

/* Abandoned on a call timeout: the client interrupts. */
static enum faults_type runawayQuery(struct worker *w, const char *f,
                                     const char *sql)
{
    struct dqlite_rows *rows = NULL;
    record(w->process, FAULTS_INVOKE, f, 0, "-");
    dqlite_conn_set_timeout(w->conn, RUNAWAY_TIMEOUT_MS);
    int rc = dqlite_conn_query(w->conn, sql, NULL, 0, &rows);
    while (rc == DQLITE_CLIENT_OK &&
           (rc = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
    }
    if (rows != NULL) {
        dqlite_rows_close(rows);
    }
    /* Finishing is the anomaly: neither statement ends in 300 ms. */
    enum faults_type t = rc == DQLITE_CLIENT_DONE ? FAULTS_OK : FAULTS_FAIL;
    record(w->process, t, f, 0, "-");
    return t;
}

static enum faults_type runawayStream(struct worker *w)
{
    struct dqlite_rows *rows = NULL;
    record(w->process, FAULTS_INVOKE, "stream", 0, "-");
    int rc = dqlite_conn_query(w->conn, RUNAWAY_STREAM_SQL, NULL, 0, &rows);
    if (rc == DQLITE_CLIENT_OK) {
        for (int i = 0; i < 10 && rc == DQLITE_CLIENT_OK; i++) {
            rc = dqlite_rows_next(rows) == DQLITE_CLIENT_ROW
                     ? DQLITE_CLIENT_OK
                     : DQLITE_CLIENT_ERROR;
        }
        int close_rc = dqlite_rows_close(rows); /* INTERRUPT: mid-stream */
        rc = rc == DQLITE_CLIENT_OK ? close_rc : rc;
    }
    enum faults_type t = rc == DQLITE_CLIENT_OK ? FAULTS_OK : FAULTS_FAIL;
    record(w->process, t, "stream", 0, "-");
    return t;
}

/* ------------------------------------------------ close on a raw socket */

static size_t wireText(uint8_t *p, const char *s)
{
    size_t len = strlen(s) + 1;
    size_t padded = (len + 7) / 8 * 8;
    memset(p, 0, padded);
    memcpy(p, s, len);
    return padded;
}

/* A raw link to a node: the socket, and over TLS (a TLS=1 run: DQF_TLS_*
 * in the environment) the session on it, made with OpenSSL directly since
 * the client library has no raw stream to lend. */
struct wire {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
};

static int wireWrite(struct wire *l, const void *buf, size_t len)
{
    if (l->ssl != NULL) {
        return SSL_write(l->ssl, buf, (int)len) == (int)len ? 0 : -1;
    }
    return send(l->fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* One request: header (words, type, schema 0) then `body`. */
static int wireSend(struct wire *l, uint8_t type, const uint8_t *body,
                    size_t len)
{
    uint8_t header[8] = {0};
    uint32_t words = (uint32_t)(len / 8);
    memcpy(header, &words, 4); /* little-endian hosts only, as the tier */
    header[4] = type;
    return wireWrite(l, header, 8) == 0 && wireWrite(l, body, len) == 0 ? 0
                                                                        : -1;
}

static void wireClose(struct wire *l)
{
    if (l->ssl != NULL) {
        SSL_free(l->ssl); /* no close_notify: the link is cut under it */
    }
    if (l->ctx != NULL) {
        SSL_CTX_free(l->ctx);
    }
    if (l->fd >= 0) {
        close(l->fd);
    }
    l->fd = -1;
    l->ssl = NULL;
    l->ctx = NULL;
}

/* The TLS handshake on l->fd with the harness's client certificate,
 * verifying the node's by chain (blocking; the socket has a 3 s timeout). */
static int wireTls(struct wire *l)
{
    const char *cert = getenv("DQF_TLS_CERT");
    if (cert == NULL || cert[0] == '\0') {
        return 0;
    }
    l->ctx = SSL_CTX_new(TLS_client_method());
    if (l->ctx == NULL ||
        SSL_CTX_use_certificate_chain_file(l->ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(l->ctx, getenv("DQF_TLS_KEY"),
                                    SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(l->ctx, getenv("DQF_TLS_CA"), NULL) !=
            1) {
        return -1;
    }
    SSL_CTX_set_verify(l->ctx, SSL_VERIFY_PEER, NULL);
    l->ssl = SSL_new(l->ctx);
    if (l->ssl == NULL || SSL_set_fd(l->ssl, l->fd) != 1 ||
        SSL_connect(l->ssl) != 1) {
        return -1;
    }
    return 0;
}

/* A link to `address` (IPv4 "HOST:PORT"), over TLS in a TLS=1 run. */
static int wireConnect(const char *address, struct wire *l)
{
    char host[64];
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct timeval tv = {.tv_sec = 3};
    const char *colon = strrchr(address, ':');
    *l = (struct wire){.fd = -1};
    if (colon == NULL || (size_t)(colon - address) >= sizeof host) {
        return -1;
    }
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    l->fd = fd;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return wireTls(l);
}

/* OPEN then the runaway on `l`, without reading the answers: the node
 * answers OPEN at once and runs the statement until the socket closes. */
static int wireRunaway(struct wire *l, const char *db)
{
    static uint8_t body[512];
    uint64_t version = 1;
    size_t len = wireText(body, db);
    memset(body + len, 0, 8); /* flags */
    len += 8;
    len += wireText(body + len, "");
    if (wireWrite(l, &version, 8) != 0 ||
        wireSend(l, 3 /* OPEN */, body, len) != 0) {
        return -1;
    }
    memset(body, 0, 8); /* db id */
    len = 8 + wireText(body + 8, RUNAWAY_CTE_SQL);
    memset(body + len, 0, 8); /* no parameters */
    return wireSend(l, 9 /* QUERY_SQL */, body, len + 8);
}

/* The leader's address into `out` (empty when none is known). */
static void runawayLeader(struct worker *w, char *out, size_t size)
{
    struct dqlite_client *c = NULL;
    char *address = NULL;
    uint64_t id = 0;
    out[0] = '\0';
    if (dqlite_client_connect_leader(w->driver, &c) == DQLITE_CLIENT_OK &&
        dqlite_client_leader(c, &id, &address) == DQLITE_CLIENT_OK &&
        address != NULL) {
        snprintf(out, size, "%s", address);
    }
    dqlite_client_free(address);
    dqlite_client_close(c);
}

static enum faults_type runawayClose(struct worker *w)
{
    char leader[128];
    record(w->process, FAULTS_INVOKE, "close", 0, "-");
    runawayLeader(w, leader, sizeof leader);
    struct wire l = {.fd = -1};
    int rv = leader[0] != '\0' && wireConnect(leader, &l) == 0
                 ? wireRunaway(&l, "runaway")
                 : -1;
    if (rv == 0) {
        usleep(RUNAWAY_TIMEOUT_MS * 1000);
    }
    wireClose(&l);
    record(w->process, FAULTS_FAIL, "close", 0, rv == 0 ? "sent" : "-");
    return FAULTS_FAIL;
}

/* ------------------------------------------------------------ the op */

/* The connection still answers, and answers this request. */
static enum faults_type runawayProbe(struct worker *w)
{
    struct dqlite_rows *rows = NULL;
    int64_t n = nextCounter();
    char sql[64], got[32] = "-";
    snprintf(sql, sizeof sql, "SELECT %lld", (long long)n);
    record(w->process, FAULTS_INVOKE, "probe", n, "-");
    dqlite_conn_set_timeout(w->conn, 2000);
    int rc = dqlite_conn_query(w->conn, sql, NULL, 0, &rows);
    if (rc == DQLITE_CLIENT_OK) {
        rc = dqlite_rows_next(rows);
        if (rc == DQLITE_CLIENT_ROW) {
            snprintf(got, sizeof got, "%lld",
                     (long long)dqlite_rows_int64(rows, 0));
            rc = DQLITE_CLIENT_OK;
        }
        dqlite_rows_close(rows);
    }
    enum faults_type t = rc == DQLITE_CLIENT_OK ? FAULTS_OK : FAULTS_FAIL;
    record(w->process, t, "probe", n, got);
    return t;
}

enum faults_type opRunaway(struct worker *w)
{
    enum faults_type t;
    switch (rand_r(&w->seed) % 4) {
    case 0:
        t = runawayQuery(w, "cte", RUNAWAY_CTE_SQL);
        break;
    case 1:
        t = runawayQuery(w, "sort", RUNAWAY_SORT_SQL);
        break;
    case 2:
        t = runawayStream(w);
        break;
    default:
        t = runawayClose(w);
        break;
    }
    (void)t; /* an abandoned runaway is the expected outcome */
    usleep(RUNAWAY_PAUSE_US);
    return runawayProbe(w);
}
