/*
 * TLS for the client's connections (OpenSSL 3): the driver's loaded
 * configuration (one SSL_CTX, shared by every connection and thread), the
 * handshake after a dial, and the record I/O sock.c calls in place of
 * read() and send().
 *
 * Sockets stay non-blocking: every SSL call that wants bytes in or out
 * returns ERR_AGAIN with the poll() events to wait for, and the caller
 * waits with its own deadline and cancellation descriptor, so a TLS
 * connection keeps the timeouts and cancellation of a plain one. The
 * socket BIO is our own (send() with MSG_NOSIGNAL, write() for a custom
 * dial's non-socket descriptor): OpenSSL's would raise SIGPIPE on a peer
 * that closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

struct client_tls {
    SSL_CTX *ctx;
    int verify;        /* DQLITE_CLIENT_TLS_VERIFY_* */
    char *server_name; /* the name to verify, NULL = the host dialled */
};

/* ------------------------------------------------------------ socket BIO */

static BIO_METHOD *tls_bio_method;
static pthread_once_t tls_bio_once = PTHREAD_ONCE_INIT;

static int tlsBioWrite(BIO *b, const char *p, int n)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    ssize_t rv;
    BIO_clear_retry_flags(b);
    rv = send(fd, p, (size_t)n, MSG_NOSIGNAL);
    if (rv < 0 && errno == ENOTSOCK) {
        rv = write(fd, p, (size_t)n);
    }
    if (rv < 0 && (errno == EAGAIN || errno == EINTR)) {
        BIO_set_retry_write(b);
    }
    return (int)rv;
}

static int tlsBioRead(BIO *b, char *p, int n)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    ssize_t rv;
    BIO_clear_retry_flags(b);
    rv = read(fd, p, (size_t)n);
    if (rv < 0 && (errno == EAGAIN || errno == EINTR)) {
        BIO_set_retry_read(b);
    }
    return (int)rv;
}

static long tlsBioCtrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static void tlsBioMethodInit(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "dqlite client socket");
    if (m == NULL || BIO_meth_set_write(m, tlsBioWrite) != 1 ||
        BIO_meth_set_read(m, tlsBioRead) != 1 ||
        BIO_meth_set_ctrl(m, tlsBioCtrl) != 1) {
        BIO_meth_free(m);
        return;
    }
    tls_bio_method = m;
}

static BIO *tlsBioNew(int fd)
{
    BIO *b;
    pthread_once(&tls_bio_once, tlsBioMethodInit);
    if (tls_bio_method == NULL || (b = BIO_new(tls_bio_method)) == NULL) {
        return NULL;
    }
    BIO_set_data(b, (void *)(intptr_t)fd);
    BIO_set_init(b, 1);
    return b;
}

/* ------------------------------------------------------------ config */

/* Formats OpenSSL's first queued error (and clears the queue). */
static void tlsReason(char *out, size_t size)
{
    unsigned long code = ERR_get_error();
    const char *reason = code != 0 ? ERR_reason_error_string(code) : NULL;
    if (reason == NULL && code != 0 && ERR_SYSTEM_ERROR(code)) {
        reason = strerror(ERR_GET_REASON(code)); /* e.g. a missing file */
    }
    snprintf(out, size, "%s", reason != NULL ? reason : "unknown error");
    ERR_clear_error();
}

/* The first DNS name of the certificate in use (go-dqlite's ServerName). */
static char *tlsCertDnsName(SSL_CTX *ctx)
{
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    GENERAL_NAMES *names;
    char *name = NULL;
    int i;
    if (cert == NULL) {
        return NULL;
    }
    names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type == GEN_DNS) {
            const unsigned char *p = ASN1_STRING_get0_data(gn->d.dNSName);
            int len = ASN1_STRING_length(gn->d.dNSName);
            name = libMalloc((size_t)len + 1);
            if (name != NULL) {
                memcpy(name, p, (size_t)len);
                name[len] = '\0';
            }
            break;
        }
    }
    GENERAL_NAMES_free(names);
    return name;
}

/* Loads the certificate, key and CAs into `ctx`; `msg` says what failed. */
static int tlsLoad(SSL_CTX *ctx, const struct dqlite_driver_options *o,
                   char *msg, size_t size)
{
    char reason[256];
    const char *ca = o->tls_ca_file != NULL ? o->tls_ca_file : o->tls_cert_file;
    if ((o->tls_cert_file == NULL) != (o->tls_key_file == NULL)) {
        snprintf(msg, size, "TLS: both a certificate and a key must be given");
        return -1;
    }
    if (o->tls_cert_file != NULL) {
        if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert_file) != 1) {
            tlsReason(reason, sizeof reason);
            snprintf(msg, size, "TLS: cannot load certificate %s: %s",
                     o->tls_cert_file, reason);
            return -1;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key_file,
                                        SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            tlsReason(reason, sizeof reason);
            snprintf(msg, size, "TLS: cannot use key %s: %s", o->tls_key_file,
                     reason);
            return -1;
        }
    }
    if (ca != NULL ? SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1
                   : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        tlsReason(reason, sizeof reason);
        snprintf(msg, size, "TLS: cannot load CA %s: %s",
                 ca != NULL ? ca : "(system default)", reason);
        return -1;
    }
    return 0;
}

/* A context with the options' policy: peer verification always, TLS 1.2
 * or 1.3 at least, any certificate of the CA file as a trust anchor (as Go's
 * x509.CertPool: a self-signed cluster certificate is its own root). */
static SSL_CTX *tlsContext(const struct dqlite_driver_options *o, char *msg,
                           size_t size)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    X509_VERIFY_PARAM *param;
    if (ctx == NULL) {
        snprintf(msg, size, "TLS: cannot create a context");
        return NULL;
    }
    param = SSL_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_min_proto_version(
        ctx, o->tls_min_version == DQLITE_CLIENT_TLS_1_3 ? TLS1_3_VERSION
                                                         : TLS1_2_VERSION);
    /* go-dqlite's servers offer P-521, P-384 and P-256 only: a P-256 key
     * share first spares them a HelloRetryRequest. */
    SSL_CTX_set1_groups_list(ctx, "P-256:X25519:P-384:P-521");
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* One read() for a record's header and body (and whatever follows):
     * sock.c always asks the session before it polls the socket, so bytes
     * held here are never waited for. */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (tlsLoad(ctx, o, msg, size) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int clientTlsCreate(const struct dqlite_driver_options *o,
                    struct client_tls **out, char *msg, size_t size)
{
    struct client_tls *t;
    PRE(o != NULL && o->tls && out != NULL);
    if (o->tls_verify < DQLITE_CLIENT_TLS_VERIFY_HOST ||
        o->tls_verify > DQLITE_CLIENT_TLS_VERIFY_CHAIN ||
        (o->tls_min_version != 0 &&
         o->tls_min_version != DQLITE_CLIENT_TLS_1_2 &&
         o->tls_min_version != DQLITE_CLIENT_TLS_1_3)) {
        snprintf(msg, size, "TLS: invalid verify policy or version");
        return ERR_INVALID;
    }
    t = libCalloc(1, sizeof *t);
    if (t == NULL) {
        snprintf(msg, size, "TLS: out of memory");
        return ERR_NOMEM;
    }
    t->verify = o->tls_verify;
    t->ctx = tlsContext(o, msg, size);
    if (t->ctx == NULL) {
        goto err_after_alloc;
    }
    if (t->verify == DQLITE_CLIENT_TLS_VERIFY_CERT_NAME) {
        t->server_name = tlsCertDnsName(t->ctx);
        if (t->server_name == NULL) {
            snprintf(msg, size, "TLS: certificate %s has no DNS name",
                     o->tls_cert_file != NULL ? o->tls_cert_file : "(none)");
            goto err_after_ctx;
        }
    } else if (t->verify == DQLITE_CLIENT_TLS_VERIFY_HOST &&
               o->tls_server_name != NULL) {
        t->server_name = libStrdup(o->tls_server_name);
        if (t->server_name == NULL) {
            snprintf(msg, size, "TLS: out of memory");
            goto err_after_ctx;
        }
    }
    *out = t;
    return 0;
err_after_ctx:
    SSL_CTX_free(t->ctx);
err_after_alloc:
    libFree(t);
    return ERR_INVALID;
}

void clientTlsDestroy(struct client_tls *t)
{
    if (t == NULL) {
        return;
    }
    SSL_CTX_free(t->ctx);
    libFree(t->server_name);
    libFree(t);
}

/* ------------------------------------------------------------ handshake */

/* The host part of "host:port" / "[v6]:port"; "" for "@name". */
static void tlsHost(const char *address, char *host, size_t size)
{
    const char *colon = strrchr(address, ':');
    size_t len = colon != NULL ? (size_t)(colon - address) : strlen(address);
    host[0] = '\0';
    if (address[0] == '@') {
        return;
    }
    if (address[0] == '[' && len >= 2 && address[len - 1] == ']') {
        address++;
        len -= 2;
    }
    if (len < size) {
        memcpy(host, address, len);
        host[len] = '\0';
    }
}

/* Sets the name the server's certificate must match (DNS or IP) and the
 * SNI (DNS names only, as Go does). */
static int tlsSetName(SSL *ssl, const char *name)
{
    unsigned char ip[16];
    if (inet_pton(AF_INET, name, ip) == 1 ||
        inet_pton(AF_INET6, name, ip) == 1) {
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1
                   ? 0
                   : ERR_INVALID;
    }
    if (SSL_set1_host(ssl, name) != 1 ||
        SSL_set_tlsext_host_name(ssl, name) != 1) {
        return ERR_INVALID;
    }
    return 0;
}

/* Maps the last SSL call's failure to a wait (ERR_AGAIN and `*events`),
 * end of stream or an I/O error. */
static int tlsFailure(SSL *ssl, int ret, short *events)
{
    switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        *events = POLLIN;
        return ERR_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        *events = POLLOUT;
        return ERR_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return ERR_CLIENT_EOF;
    default:
        return ERR_IO;
    }
}

/* Why a handshake failed, in words: OpenSSL's reason, and the certificate
 * verification's when that was it. */
static void tlsHandshakeReason(SSL *ssl, int saved_errno, char *out,
                               size_t size)
{
    unsigned long code = ERR_peek_error();
    long verify = SSL_get_verify_result(ssl);
    char reason[256];
    if (code == 0) {
        snprintf(out, size, "%s",
                 saved_errno != 0 ? strerror(saved_errno)
                                  : "connection closed by the server");
        return;
    }
    tlsReason(reason, sizeof reason);
    if (verify != X509_V_OK) {
        snprintf(out, size, "%.120s (%.120s)", reason,
                 X509_verify_cert_error_string(verify));
        return;
    }
    snprintf(out, size, "%s", reason);
}

/* Waits for `events` on s->fd or for `cancel_fd`. */
static int tlsWait(int fd, short events, int cancel_fd, int64_t deadline_ms)
{
    struct pollfd p[2] = {{.fd = fd, .events = events},
                          {.fd = cancel_fd, .events = POLLIN}};
    int rv;
    do {
        rv = poll(p, cancel_fd >= 0 ? 2 : 1, clientRemainingMs(deadline_ms));
    } while (rv < 0 && errno == EINTR);
    if (rv == 0) {
        return ERR_TIMEOUT;
    }
    if (rv < 0) {
        return ERR_IO;
    }
    return cancel_fd >= 0 && p[1].revents != 0 ? ERR_CLIENT_CANCELLED : 0;
}

/* Runs SSL_connect() to the end, the deadline or the cancellation. */
static int tlsConnect(SSL *ssl, int fd, int cancel_fd, int64_t deadline_ms,
                      int *saved_errno)
{
    for (;;) {
        short events = 0;
        int ret;
        int rv;
        ERR_clear_error();
        errno = 0;
        ret = SSL_connect(ssl);
        if (ret == 1) {
            return 0;
        }
        *saved_errno = errno;
        rv = tlsFailure(ssl, ret, &events);
        if (rv != ERR_AGAIN) {
            return rv == ERR_CLIENT_EOF ? ERR_IO : rv;
        }
        rv = tlsWait(fd, events, cancel_fd, deadline_ms);
        if (rv != 0) {
            return rv;
        }
    }
}

int clientTlsHandshake(const struct client_tls *t, struct client_sock *s,
                       const char *address, int64_t deadline_ms, int cancel_fd,
                       struct client_err *e)
{
    char host[CLIENT_ADDRESS_MAX];
    char reason[CLIENT_ERRMSG_SIZE / 2];
    const char *name = t->server_name;
    int saved_errno = 0;
    SSL *ssl;
    BIO *bio;
    int rv;
    PRE(clientSockOpen(s) && s->ssl == NULL);
    if (name == NULL && t->verify == DQLITE_CLIENT_TLS_VERIFY_HOST) {
        tlsHost(address, host, sizeof host);
        if (host[0] == '\0') {
            return clientErrSet(e, ERR_INVALID,
                                "TLS with %s: no host name to verify", address);
        }
        name = host;
    }
    ssl = SSL_new(t->ctx);
    bio = ssl != NULL ? tlsBioNew(s->fd) : NULL;
    if (bio == NULL) {
        SSL_free(ssl);
        ERR_clear_error();
        return clientErrSet(e, ERR_NOMEM, "TLS with %s: out of memory",
                            address);
    }
    SSL_set_bio(ssl, bio, bio);
    if (name != NULL && tlsSetName(ssl, name) != 0) {
        SSL_free(ssl);
        ERR_clear_error();
        return clientErrSet(e, ERR_INVALID, "TLS with %s: bad server name %s",
                            address, name);
    }
    rv = tlsConnect(ssl, s->fd, cancel_fd, deadline_ms, &saved_errno);
    if (rv == 0) {
        s->ssl = ssl;
        return 0;
    }
    if (rv == ERR_TIMEOUT) {
        clientErrSet(e, rv, "TLS handshake with %s timed out", address);
    } else if (rv == ERR_CLIENT_CANCELLED) {
        clientErrSet(e, rv, "TLS handshake with %s cancelled", address);
    } else {
        tlsHandshakeReason(ssl, saved_errno, reason, sizeof reason);
        clientErrSet(e, rv, "TLS handshake with %s failed: %s", address,
                     reason);
    }
    ERR_clear_error();
    SSL_free(ssl);
    return rv;
}

/* ------------------------------------------------------------ records */

int clientTlsRead(struct client_sock *s, void *p, size_t n, size_t *got,
                  short *events)
{
    size_t done = 0;
    int ret;
    PRE(s->ssl != NULL && n > 0);
    ERR_clear_error();
    ret = SSL_read_ex(s->ssl, p, n, &done);
    if (ret == 1) {
        *got = done;
        return 0;
    }
    ret = tlsFailure(s->ssl, ret, events);
    if (ret == ERR_IO) {
        /* e.g. the server's alert refusing our certificate, which TLS 1.3
         * delivers after our side of the handshake has finished */
        tlsReason(s->tls_err, sizeof s->tls_err);
    }
    ERR_clear_error();
    return ret;
}

/* A write failed (the server closed): reads what it sent before, to find
 * the alert that says why (refused certificate, ...). */
static void tlsAlert(struct client_sock *s)
{
    char byte;
    size_t got = 0;
    ERR_clear_error();
    if (SSL_read_ex(s->ssl, &byte, 1, &got) != 1 && ERR_peek_error() != 0) {
        tlsReason(s->tls_err, sizeof s->tls_err);
    }
    ERR_clear_error();
}

int clientTlsWrite(struct client_sock *s, const void *p, size_t n, size_t *put,
                   short *events)
{
    size_t done = 0;
    int ret;
    PRE(s->ssl != NULL && n > 0);
    ERR_clear_error();
    ret = SSL_write_ex(s->ssl, p, n, &done);
    if (ret == 1) {
        *put = done;
        return 0;
    }
    ret = tlsFailure(s->ssl, ret, events);
    ERR_clear_error();
    if (ret == ERR_IO || ret == ERR_CLIENT_EOF) {
        tlsAlert(s);
        return ERR_IO;
    }
    return ret;
}

bool clientTlsHungUp(struct client_sock *s)
{
    char byte;
    size_t got = 0;
    int ret;
    PRE(s->ssl != NULL);
    /* Readable between requests: TLS records that are not data (a TLS 1.3
     * session ticket) leave the connection usable; data, a close_notify or
     * an error mean the server has gone. */
    ERR_clear_error();
    ret = SSL_peek_ex(s->ssl, &byte, 1, &got);
    if (ret != 1 && SSL_get_error(s->ssl, ret) == SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return false;
    }
    ERR_clear_error();
    return true;
}

void clientTlsClose(struct client_sock *s)
{
    if (s->ssl == NULL) {
        return;
    }
    /* One try at a close_notify: the socket is non-blocking and closing. */
    ERR_clear_error();
    SSL_shutdown(s->ssl);
    ERR_clear_error();
    SSL_free(s->ssl);
    s->ssl = NULL;
}
