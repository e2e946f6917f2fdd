/* TLS: a handshake and round trips through a local TLS server (an OpenSSL
 * front in a thread that decrypts and forwards to a fake node), refusal of
 * a server whose certificate does not chain to our CA or does not carry the
 * expected name, a bad key file, and a handshake that never finishes
 * bounded by the connect timeout and ended by cancellation. Certificates
 * are made at test time with the openssl CLI in a temporary directory. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dqlite_client.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client.h"
#include "tcluster.h"

TestSuite(tls, .init = fakeWatchdog);

/* ------------------------------------------------------------ certs */

static char tls_dir[64];

/* Makes a self-signed EC certificate `name`.crt / `name`.key (the CA of a
 * go-dqlite style cluster) with DNS name `dns` and IP 127.0.0.1. */
static void certMake(const char *name, const char *dns)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
             "-nodes -days 2 -subj /CN=%s -addext "
             "subjectAltName=DNS:%s,IP:127.0.0.1 -keyout %s/%s.key "
             "-out %s/%s.crt 2>/dev/null",
             dns, dns, tls_dir, name, tls_dir, name);
    cr_assert_eq(system(cmd), 0, "openssl req failed: %s", cmd);
}

static const char *certPath(const char *name, const char *ext)
{
    static char paths[8][128];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s.%s", tls_dir, name, ext);
    return p;
}

static void certsSetup(void)
{
    snprintf(tls_dir, sizeof tls_dir, "/tmp/dqlite-tls-XXXXXX");
    cr_assert_not_null(mkdtemp(tls_dir));
    certMake("cluster", "dqlite-cluster");
    certMake("other", "dqlite-other");
}

static void certsTeardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tls_dir);
    cr_assert_eq(system(cmd), 0);
}

/* ------------------------------------------------------------ TLS front */

/* A TLS server on 127.0.0.1 forwarding the plaintext to `backend`. It
 * serves one connection at a time (the tests connect one at a time) and
 * requires a client certificate from the cluster CA (mutual TLS, as
 * go-dqlite's SimpleListenTLSConfig). */
struct front {
    int lfd;
    int stop[2];
    char address[64];
    const char *backend;
    SSL_CTX *ctx;
    pthread_t thread;
    int handshakes; /* completed */
};

static int listenLoopback(char *address, size_t size)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(listen(fd, 16), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    snprintf(address, size, "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    return fd;
}

static int connectTo(const char *address)
{
    int fd = -1;
    cr_assert_eq(clientDialDefault(NULL, address, 1000, &fd), 0);
    /* The dial leaves it non-blocking: the front pumps with blocking I/O. */
    cr_assert_eq(fcntl(fd, F_SETFL, 0), 0);
    return fd;
}

/* Copies bytes both ways until either side closes or the test stops. */
static void frontPump(struct front *f, SSL *ssl, int cfd, int bfd)
{
    char buf[16384];
    for (;;) {
        struct pollfd p[3] = {{.fd = cfd, .events = POLLIN},
                              {.fd = bfd, .events = POLLIN},
                              {.fd = f->stop[0], .events = POLLIN}};
        int n;
        if (SSL_pending(ssl) == 0 && poll(p, 3, 10000) <= 0) {
            return;
        }
        if (p[2].revents != 0) {
            return;
        }
        if (SSL_pending(ssl) > 0 || p[0].revents != 0) {
            n = SSL_read(ssl, buf, sizeof buf);
            if (n <= 0 || write(bfd, buf, (size_t)n) != n) {
                return;
            }
        }
        if (p[1].revents != 0) {
            n = (int)read(bfd, buf, sizeof buf);
            if (n <= 0 || SSL_write(ssl, buf, n) != n) {
                return;
            }
        }
    }
}

static void frontServe(struct front *f, int cfd)
{
    struct timeval tv = {.tv_sec = 5};
    SSL *ssl = SSL_new(f->ctx);
    setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL_set_fd(ssl, cfd);
    if (SSL_accept(ssl) == 1) {
        int bfd = connectTo(f->backend);
        __atomic_add_fetch(&f->handshakes, 1, __ATOMIC_SEQ_CST);
        frontPump(f, ssl, cfd, bfd);
        close(bfd);
        SSL_shutdown(ssl);
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(cfd);
}

static void *frontMain(void *arg)
{
    struct front *f = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = f->lfd, .events = POLLIN},
                              {.fd = f->stop[0], .events = POLLIN}};
        int cfd;
        if (poll(p, 2, -1) < 0 || p[1].revents != 0) {
            return NULL;
        }
        cfd = accept(f->lfd, NULL, NULL);
        if (cfd >= 0) {
            frontServe(f, cfd);
        }
    }
}

/* A front with the cluster certificate, requiring client certificates
 * signed by the cluster CA, in front of `backend`. */
static struct front *frontStart(const char *backend)
{
    struct front *f = calloc(1, sizeof *f);
    f->backend = backend;
    f->ctx = SSL_CTX_new(TLS_server_method());
    cr_assert_eq(
        SSL_CTX_use_certificate_chain_file(f->ctx, certPath("cluster", "crt")),
        1);
    cr_assert_eq(SSL_CTX_use_PrivateKey_file(f->ctx, certPath("cluster", "key"),
                                             SSL_FILETYPE_PEM),
                 1);
    cr_assert_eq(
        SSL_CTX_load_verify_locations(f->ctx, certPath("cluster", "crt"), NULL),
        1);
    SSL_CTX_set_verify(f->ctx,
                       SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    f->lfd = listenLoopback(f->address, sizeof f->address);
    cr_assert_eq(pipe(f->stop), 0);
    cr_assert_eq(pthread_create(&f->thread, NULL, frontMain, f), 0);
    return f;
}

static void frontStop(struct front *f)
{
    cr_assert_eq(write(f->stop[1], "x", 1), 1);
    pthread_join(f->thread, NULL);
    close(f->lfd);
    close(f->stop[0]);
    close(f->stop[1]);
    SSL_CTX_free(f->ctx);
    free(f);
}

/* ------------------------------------------------------------ cluster */

/* The fake node names the front as the leader (the client must stay on
 * the TLS address it dialled). */
static struct front *the_front;

static bool leaderIsFront(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    if (fc->req.type != PROTO_REQ_LEADER) {
        return false;
    }
    fakeSendServer(fc, 1, the_front->address);
    return true;
}

struct setup {
    struct tcluster *tc;
    struct front *front;
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    char log[CLIENT_ERRMSG_SIZE]; /* the last error logged */
};

static void logError(void *arg, int level, const char *message)
{
    struct setup *s = arg;
    if (level >= DQLITE_CLIENT_LOG_ERROR) {
        snprintf(s->log, sizeof s->log, "%s", message);
    }
}

/* Options of a client holding the cluster certificate. */
static void optionsCluster(struct dqlite_driver_options *o, struct setup *s)
{
    dqlite_driver_options_init(o);
    o->tls = true;
    o->tls_cert_file = certPath("cluster", "crt");
    o->tls_key_file = certPath("cluster", "key");
    o->no_store_refresh = true;
    o->connect_timeout_ms = 3000;
    o->retry_limit = 1;
    o->backoff_factor_ms = 1;
    o->log = logError;
    o->log_arg = s;
}

/* Starts a fake node and a TLS front, and builds a driver on `o` whose
 * store holds the front. Returns the driver's create code. */
static int setupStart(struct setup *s, struct dqlite_driver_options *o)
{
    s->tc = tclusterStart(1, NULL);
    s->front = the_front = frontStart(tclusterAddress(s->tc, 0));
    s->tc->hook = leaderIsFront;
    cr_assert_eq(dqlite_server_store_create(&s->store), 0);
    cr_assert_eq(
        dqlite_server_store_add(s->store, 1, s->front->address, DQLITE_VOTER),
        0);
    return dqlite_driver_create(s->store, o, &s->driver);
}

static void setupStop(struct setup *s)
{
    dqlite_driver_destroy(s->driver);
    dqlite_server_store_close(s->store);
    frontStop(s->front);
    tclusterStop(s->tc);
}

/* ------------------------------------------------------------ tests */

/* go-dqlite's convention: one certificate for the whole cluster, its own
 * CA, the server's name checked against the certificate's DNS name. */
Test(tls, handshake_and_round_trips_with_the_cluster_certificate)
{
    struct setup s = {0};
    struct dqlite_driver_options o;
    struct dqlite_conn *conn;
    struct dqlite_result result;
    certsSetup();
    optionsCluster(&o, &s);
    o.tls_verify = DQLITE_CLIENT_TLS_VERIFY_CERT_NAME;
    cr_assert_eq(setupStart(&s, &o), 0);
    cr_assert_eq(dqlite_driver_connect(s.driver, "test", &conn), 0, "%s",
                 dqlite_conn_errmsg(conn));
    cr_assert_eq(
        dqlite_conn_exec(conn, "CREATE TABLE t (n INT)", NULL, 0, &result), 0,
        "%s", dqlite_conn_errmsg(conn));
    cr_assert_eq(
        dqlite_conn_exec(conn, "INSERT INTO t VALUES (1)", NULL, 0, &result), 0,
        "%s", dqlite_conn_errmsg(conn));
    /* Everything went through the front: one TLS session. */
    cr_assert_eq(__atomic_load_n(&s.front->handshakes, __ATOMIC_SEQ_CST), 1);
    cr_assert_eq(tclusterCount(s.tc, 0, PROTO_REQ_EXEC_SQL), 2);
    dqlite_conn_close(conn);
    setupStop(&s);
    certsTeardown();
    fakeLeakCheck();
}

/* The default policy checks the dialled host (127.0.0.1, an IP name of the
 * certificate); TLS 1.3 only; the cluster client dials through TLS too. */
Test(tls, verify_host_tls13_and_the_cluster_client)
{
    struct setup s = {0};
    struct dqlite_driver_options o;
    struct dqlite_client *cl;
    uint64_t id;
    char *address;
    certsSetup();
    optionsCluster(&o, &s);
    o.tls_min_version = DQLITE_CLIENT_TLS_1_3;
    cr_assert_eq(setupStart(&s, &o), 0);
    cr_assert_eq(dqlite_client_connect(s.driver, s.front->address, &cl), 0,
                 "%s", dqlite_client_errmsg(cl));
    cr_assert_eq(dqlite_client_leader(cl, &id, &address), 0, "%s",
                 dqlite_client_errmsg(cl));
    cr_assert_str_eq(address, s.front->address);
    dqlite_client_free(address);
    dqlite_client_close(cl);
    cr_assert_eq(__atomic_load_n(&s.front->handshakes, __ATOMIC_SEQ_CST), 1);
    setupStop(&s);
    certsTeardown();
    fakeLeakCheck();
}

Test(tls, a_server_from_another_ca_is_refused_with_the_reason)
{
    struct setup s = {0};
    struct dqlite_driver_options o;
    struct dqlite_conn *conn;
    char want[256];
    certsSetup();
    optionsCluster(&o, &s);
    o.tls_ca_file = certPath("other", "crt");
    cr_assert_eq(setupStart(&s, &o), 0);
    cr_assert_eq(dqlite_driver_connect(s.driver, "test", &conn),
                 DQLITE_CLIENT_NOLEADER);
    snprintf(want, sizeof want,
             "TLS handshake with %s failed: certificate verify failed "
             "(self-signed certificate)",
             s.front->address);
    cr_assert(strstr(dqlite_conn_errmsg(conn), want) != NULL, "%s",
              dqlite_conn_errmsg(conn));
    cr_assert_eq(tclusterCount(s.tc, 0, PROTO_REQ_LEADER), 0);
    dqlite_conn_close(conn);
    setupStop(&s);
    certsTeardown();
    fakeLeakCheck();
}

Test(tls, a_server_with_another_name_is_refused)
{
    struct setup s = {0};
    struct dqlite_driver_options o;
    struct dqlite_conn *conn;
    certsSetup();
    optionsCluster(&o, &s);
    o.tls_server_name = "db.example.com";
    cr_assert_eq(setupStart(&s, &o), 0);
    cr_assert_eq(dqlite_driver_connect(s.driver, "test", &conn),
                 DQLITE_CLIENT_NOLEADER);
    cr_assert(strstr(dqlite_conn_errmsg(conn),
                     "certificate verify failed (hostname mismatch)") != NULL,
              "%s", dqlite_conn_errmsg(conn));
    dqlite_conn_close(conn);
    setupStop(&s);
    certsTeardown();
    fakeLeakCheck();
}

/* The front requires a client certificate: without one the server's alert
 * is the reason given. */
Test(tls, a_server_refusing_our_missing_certificate_says_so)
{
    struct setup s = {0};
    struct dqlite_driver_options o;
    struct dqlite_conn *conn;
    certsSetup();
    optionsCluster(&o, &s);
    o.tls_cert_file = NULL;
    o.tls_key_file = NULL;
    o.tls_ca_file = certPath("cluster", "crt");
    cr_assert_eq(setupStart(&s, &o), 0);
    cr_assert_eq(dqlite_driver_connect(s.driver, "test", &conn),
                 DQLITE_CLIENT_NOLEADER);
    cr_assert(strstr(dqlite_conn_errmsg(conn), "TLS") != NULL &&
                  strstr(dqlite_conn_errmsg(conn), "certificate required") !=
                      NULL,
              "%s", dqlite_conn_errmsg(conn));
    dqlite_conn_close(conn);
    setupStop(&s);
    certsTeardown();
    fakeLeakCheck();
}

Test(tls, unusable_files_fail_the_driver_with_the_reason)
{
    struct setup s = {0};
    struct dqlite_driver_options o;
    struct dqlite_server_store *store;
    struct dqlite_driver *driver = NULL;
    certsSetup();
    cr_assert_eq(dqlite_server_store_create(&store), 0);
    optionsCluster(&o, &s);
    o.tls_key_file = certPath("other", "key");
    cr_assert_eq(dqlite_driver_create(store, &o, &driver), DQLITE_CLIENT_TLS);
    cr_assert(strstr(s.log, "TLS: cannot use key") != NULL, "%s", s.log);
    cr_assert(strstr(s.log, "key values mismatch") != NULL, "%s", s.log);
    optionsCluster(&o, &s);
    o.tls_cert_file = certPath("missing", "crt");
    cr_assert_eq(dqlite_driver_create(store, &o, &driver), DQLITE_CLIENT_TLS);
    cr_assert(strstr(s.log, "cannot load certificate") != NULL, "%s", s.log);
    optionsCluster(&o, &s);
    o.tls_key_file = NULL;
    cr_assert_eq(dqlite_driver_create(store, &o, &driver), DQLITE_CLIENT_TLS);
    dqlite_server_store_close(store);
    certsTeardown();
    fakeLeakCheck();
}

/* A listener that never accepts: the kernel completes the TCP handshake,
 * nobody answers the ClientHello. */
struct stall {
    int lfd;
    char address[64];
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
};

static void stallStart(struct stall *st, unsigned connect_timeout_ms)
{
    struct dqlite_driver_options o;
    st->lfd = listenLoopback(st->address, sizeof st->address);
    dqlite_driver_options_init(&o);
    o.tls = true;
    o.tls_cert_file = certPath("cluster", "crt");
    o.tls_key_file = certPath("cluster", "key");
    o.connect_timeout_ms = connect_timeout_ms;
    o.attempt_timeout_ms = connect_timeout_ms;
    o.retry_limit = 1;
    cr_assert_eq(dqlite_server_store_create(&st->store), 0);
    cr_assert_eq(
        dqlite_server_store_add(st->store, 1, st->address, DQLITE_VOTER), 0);
    cr_assert_eq(dqlite_driver_create(st->store, &o, &st->driver), 0);
}

static void stallStop(struct stall *st)
{
    dqlite_driver_destroy(st->driver);
    dqlite_server_store_close(st->store);
    close(st->lfd);
}

Test(tls, a_stalled_handshake_is_bounded_by_the_timeout)
{
    struct stall st;
    struct dqlite_conn *conn;
    struct dqlite_client *cl;
    int64_t start;
    int64_t elapsed;
    char want[128];
    certsSetup();
    stallStart(&st, 300);
    start = clientNowMs();
    cr_assert_eq(dqlite_driver_connect(st.driver, "test", &conn),
                 DQLITE_CLIENT_NOLEADER);
    elapsed = clientNowMs() - start;
    snprintf(want, sizeof want, "TLS handshake with %s timed out", st.address);
    cr_assert(strstr(dqlite_conn_errmsg(conn), want) != NULL, "%s",
              dqlite_conn_errmsg(conn));
    cr_assert(elapsed >= 250 && elapsed < 3000, "%lld", (long long)elapsed);
    dqlite_conn_close(conn);
    start = clientNowMs();
    cr_assert_eq(dqlite_client_connect(st.driver, st.address, &cl),
                 DQLITE_CLIENT_TIMEOUT);
    elapsed = clientNowMs() - start;
    cr_assert(strstr(dqlite_client_errmsg(cl), want) != NULL, "%s",
              dqlite_client_errmsg(cl));
    cr_assert(elapsed >= 250 && elapsed < 3000, "%lld", (long long)elapsed);
    dqlite_client_close(cl);
    stallStop(&st);
    certsTeardown();
    fakeLeakCheck();
}

static void *fireLater(void *arg)
{
    clientSleepMs(200);
    dqlite_cancel_fire(arg);
    return NULL;
}

Test(tls, cancelling_ends_a_handshake_in_progress)
{
    struct stall st;
    struct dqlite_cancel *cancel;
    struct dqlite_conn *conn;
    pthread_t thread;
    int64_t start;
    int64_t elapsed;
    certsSetup();
    stallStart(&st, 10000);
    cr_assert_eq(dqlite_cancel_create(&cancel), 0);
    cr_assert_eq(pthread_create(&thread, NULL, fireLater, cancel), 0);
    start = clientNowMs();
    cr_assert_eq(dqlite_driver_connect_cancel(st.driver, "test", cancel, &conn),
                 DQLITE_CLIENT_CANCELLED, "%s", dqlite_conn_errmsg(conn));
    elapsed = clientNowMs() - start;
    cr_assert(elapsed < 3000, "%lld", (long long)elapsed);
    pthread_join(thread, NULL);
    dqlite_conn_close(conn);
    dqlite_cancel_destroy(cancel);
    stallStop(&st);
    certsTeardown();
    fakeLeakCheck();
}
