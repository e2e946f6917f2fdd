/*
 * TLS links (see tls.h): OpenSSL over memory BIOs on a network stream
 * (ciphertext). A link goes SNIFF (accepted only: the first two bytes must
 * open a TLS record) -> HANDSHAKE (bounded by the handshake timeout) ->
 * then either hands the stream and its session to conn.c (accepted: TLS
 * inside the connection, the tlsLink* seam) or OPEN: relaying both ways to
 * a Unix socketpair end, with back-pressure (dialled peer streams, and
 * accepted ones after CONNECT) -> closed; when either side of a relay ends,
 * what is queued for the other is written (for at most TLS_LINGER_MS)
 * before everything is closed.
 */
#include "server/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "lib/queue.h"
#include "raftio/transport.h"
#include "server/conn.h"
#include "server/node.h"

#define TLS_CHUNK 65536
#define TLS_REFUSED_SLOTS 16
#define TLS_PATH_MAX 4096

/* A stream dialled on the thread pool, waiting for the loop. */
struct tls_dialled {
    struct queue link;
    int net_fd;   /* the connection to the peer */
    int plain_fd; /* our end of the socketpair */
    char address[128];
};

struct tls_refused {
    char address[128];
    char what[96]; /* the kind of refusal */
    uint64_t said_ms;
    unsigned unsaid;
};

struct tls_state {
    char cert[TLS_PATH_MAX], key[TLS_PATH_MAX], ca[TLS_PATH_MAX];
    unsigned flags;
    pthread_mutex_t lock; /* guards the contexts and the dialled list */
    SSL_CTX *server_ctx;
    SSL_CTX *client_ctx;
    struct queue dialled; /* struct tls_dialled */
    bool loop_open;       /* dial_async may be signalled */
    uv_async_t dial_async;
    struct queue links; /* struct tls_link (loop) */
    unsigned n_links;
    struct tls_refused refused[TLS_REFUSED_SLOTS];
};

enum tls_stage { TLS_SNIFF, TLS_HANDSHAKE, TLS_OPEN, TLS_ENDING };

struct tls_link {
    struct dqlite_node *node;
    struct queue link; /* in tls_state.links */
    SSL *ssl;
    BIO *in;  /* ciphertext from the network, read by OpenSSL */
    BIO *out; /* ciphertext OpenSSL wrote, for the network */
    bool accepted;
    enum tls_stage stage;
    uv_stream_t *net; /* owned (malloc'ed) */
    uv_pipe_t plain;
    bool plain_open;
    int plain_fd; /* dialled: opened once the handshake is done */
    uv_timer_t timer;
    unsigned handles; /* open handles: freed at 0 */
    bool net_reading, plain_reading;
    bool closing;
    uint8_t sniffed[2];
    unsigned n_sniffed;
    char peer[128];
};

/* TLS inside a client connection (the seam for conn.c, see tls.h). */
struct tls_session {
    struct dqlite_node *node;
    SSL *ssl;
    BIO *in;  /* ciphertext conn.c read, for OpenSSL */
    BIO *out; /* records OpenSSL sealed, for conn.c to write */
    char peer[128];
};

struct tls_write {
    uv_write_t req;
    struct tls_link *l;
    char *data;
};

static struct tls_state *tlsOf(const struct dqlite_node *n)
{
    return n->tls;
}

bool tlsEnabled(const struct dqlite_node *n)
{
    return n->tls != NULL;
}

void tlsPaths(const struct dqlite_node *n, const char **cert, const char **key,
              const char **ca, bool *verify_clients)
{
    PRE(tlsEnabled(n));
    *cert = n->tls->cert;
    *key = n->tls->key;
    *ca = n->tls->ca;
    *verify_clients = !(n->tls->flags & DQLITE_TLS_CLIENT_AUTH_OPTIONAL);
}

bool tlsMayPeer(const struct dqlite_node *n, enum tls_role role)
{
    struct tls_state *t = tlsOf(n);
    if (t == NULL || !(t->flags & DQLITE_TLS_ADMIN_AUTH)) {
        return true;
    }
    return role == TLS_ROLE_NODE;
}

bool tlsMayAdmin(const struct dqlite_node *n, enum tls_role role)
{
    struct tls_state *t = tlsOf(n);
    if (t == NULL || !(t->flags & DQLITE_TLS_ADMIN_AUTH)) {
        return true;
    }
    return role == TLS_ROLE_NODE || role == TLS_ROLE_ADMIN;
}

unsigned tlsLinks(const struct dqlite_node *n)
{
    return n->tls != NULL ? tlsOf(n)->n_links : 0;
}

/* ----------------------------------------------------------- contexts */

/* OpenSSL's most recent error, for a log line. */
static const char *tlsError(char *buf, size_t size)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0) {
        snprintf(buf, size, "unknown error");
    } else {
        ERR_error_string_n(e, buf, size);
    }
    ERR_clear_error();
    return buf;
}

static SSL_CTX *tlsMakeContext(const struct tls_state *t, bool server,
                               char *why, size_t why_size)
{
    char err[256];
    const char *step = "create a context";
    SSL_CTX *ctx =
        SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL) {
        goto fail;
    }
    int min =
        (t->flags & DQLITE_TLS_ALLOW_TLS12) ? TLS1_2_VERSION : TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    /* Per-record costs: OpenSSL takes all the ciphertext buffered in one
     * go (the input is a memory BIO: nothing is over-read from a socket)
     * and keeps its record buffers between records. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_clear_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    step = "load the certificate";
    if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1) {
        goto fail;
    }
    step = "load the key";
    if (SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) != 1) {
        goto fail;
    }
    step = "match the key with the certificate";
    if (SSL_CTX_check_private_key(ctx) != 1) {
        goto fail;
    }
    step = "load the CA";
    if (SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1) {
        goto fail;
    }
    if (server) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->ca);
        if (names != NULL) {
            SSL_CTX_set_client_CA_list(ctx, names);
        }
        int mode = SSL_VERIFY_PEER;
        if (!(t->flags & DQLITE_TLS_CLIENT_AUTH_OPTIONAL)) {
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        }
        SSL_CTX_set_verify(ctx, mode, NULL);
        SSL_CTX_set_num_tickets(ctx, 0);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    return ctx;
fail:
    snprintf(why, why_size,
             "TLS: cannot %s (cert %.200s, key %.200s, CA %.200s): %.250s",
             step, t->cert, t->key, t->ca, tlsError(err, sizeof err));
    SSL_CTX_free(ctx);
    return NULL;
}

/* Builds both contexts from the paths in `t`; swaps them in on success. */
static int tlsLoad(struct dqlite_node *n, struct tls_state *t)
{
    char why[1024];
    SSL_CTX *server = tlsMakeContext(t, true, why, sizeof why);
    SSL_CTX *client =
        server != NULL ? tlsMakeContext(t, false, why, sizeof why) : NULL;
    if (client == NULL) {
        SSL_CTX_free(server);
        nodeErrorf(n, "%s", why);
        nodeLogf(n, DQLITE_LOG_ERROR, "%s", why);
        return DQLITE_ERROR;
    }
    pthread_mutex_lock(&t->lock);
    SSL_CTX *old_server = t->server_ctx;
    SSL_CTX *old_client = t->client_ctx;
    t->server_ctx = server;
    t->client_ctx = client;
    pthread_mutex_unlock(&t->lock);
    SSL_CTX_free(old_server); /* links made with them keep a reference */
    SSL_CTX_free(old_client);
    return 0;
}

static int tlsCopyPath(char *dst, const char *src)
{
    if (src == NULL || src[0] == '\0' || strlen(src) >= TLS_PATH_MAX) {
        return DQLITE_MISUSE;
    }
    strcpy(dst, src);
    return 0;
}

int tlsConfigure(struct dqlite_node *n, const char *cert_path,
                 const char *key_path, const char *ca_path, unsigned flags)
{
    struct tls_state *t = libCalloc(1, sizeof *t);
    if (t == NULL) {
        return DQLITE_NOMEM;
    }
    if (tlsCopyPath(t->cert, cert_path) != 0 ||
        tlsCopyPath(t->key, key_path) != 0 ||
        tlsCopyPath(t->ca, ca_path) != 0) {
        libFree(t);
        nodeErrorf(n, "TLS: certificate, key and CA paths are all needed");
        return DQLITE_MISUSE;
    }
    t->flags = flags;
    pthread_mutex_init(&t->lock, NULL);
    queueInit(&t->dialled);
    queueInit(&t->links);
    int rv = tlsLoad(n, t);
    if (rv != 0) {
        pthread_mutex_destroy(&t->lock);
        libFree(t);
        return rv;
    }
    tlsDestroy(n); /* a second call replaces the first */
    n->tls = t;
    return 0;
}

int tlsReload(struct dqlite_node *n)
{
    struct tls_state *t = tlsOf(n);
    if (t == NULL) {
        return DQLITE_MISUSE;
    }
    int rv = tlsLoad(n, t);
    if (rv == 0) {
        nodeLogf(n, DQLITE_LOG_INFO,
                 "TLS: certificate %s, key %s and CA %s reloaded: new "
                 "connections use them",
                 t->cert, t->key, t->ca);
    } else {
        nodeLogf(n, DQLITE_LOG_ERROR,
                 "TLS: reload failed, the previous certificate, key and CA "
                 "stay in use");
    }
    return rv;
}

void tlsDestroy(struct dqlite_node *n)
{
    struct tls_state *t = tlsOf(n);
    if (t == NULL) {
        return;
    }
    while (!queueEmpty(&t->dialled)) {
        struct queue *q = queueHead(&t->dialled);
        struct tls_dialled *d = QUEUE_DATA(q, struct tls_dialled, link);
        queueRemove(q);
        close(d->net_fd);
        close(d->plain_fd);
        libFree(d);
    }
    SSL_CTX_free(t->server_ctx);
    SSL_CTX_free(t->client_ctx);
    pthread_mutex_destroy(&t->lock);
    libFree(t);
    n->tls = NULL;
}

/* -------------------------------------------------------------- links */

static void tlsRelay(struct tls_link *l);
static void tlsEnd(struct tls_link *l);
static void tlsUpdateReading(struct tls_link *l);

static void tlsOnHandleClosed(uv_handle_t *h)
{
    struct tls_link *l = h->data;
    if (h == (uv_handle_t *)l->net) {
        libFree(l->net);
        l->net = NULL;
    }
    ASSERT(l->handles > 0);
    if (--l->handles > 0) {
        return;
    }
    if (l->plain_fd >= 0) {
        close(l->plain_fd);
    }
    SSL_free(l->ssl); /* frees the BIOs too */
    libFree(l);
}

/* Closes everything now (queued writes are dropped). */
static void tlsClose(struct tls_link *l)
{
    if (l->closing) {
        return;
    }
    struct tls_state *t = tlsOf(l->node);
    l->closing = true;
    queueRemove(&l->link);
    t->n_links--;
    uv_close((uv_handle_t *)&l->timer, tlsOnHandleClosed);
    uv_close((uv_handle_t *)l->net, tlsOnHandleClosed);
    if (l->plain_open) {
        uv_close((uv_handle_t *)&l->plain, tlsOnHandleClosed);
    }
}

static void tlsOnWritten(uv_write_t *req, int status)
{
    struct tls_write *w = req->data;
    struct tls_link *l = w->l;
    libFree(w->data);
    libFree(w);
    if (l->closing) {
        return;
    }
    if (status != 0) {
        tlsClose(l);
        return;
    }
    if (l->stage == TLS_ENDING) {
        tlsEnd(l); /* closes once both sides are written */
        return;
    }
    tlsUpdateReading(l);
}

/* Queues a copy of `len` bytes on `s`. */
static int tlsWrite(struct tls_link *l, uv_stream_t *s, const void *data,
                    size_t len)
{
    struct tls_write *w = libMalloc(sizeof *w);
    char *copy = libMalloc(len);
    if (w == NULL || copy == NULL) {
        libFree(w);
        libFree(copy);
        return ERR_NOMEM;
    }
    memcpy(copy, data, len);
    w->l = l;
    w->data = copy;
    w->req.data = w;
    uv_buf_t b = uv_buf_init(copy, (unsigned)len);
    if (uv_write(&w->req, s, &b, 1, tlsOnWritten) != 0) {
        libFree(copy);
        libFree(w);
        return ERR_IO;
    }
    return 0;
}

/* Writes out what OpenSSL produced for the network. */
static int tlsFlush(struct tls_link *l)
{
    char buf[TLS_CHUNK];
    int n;
    while ((n = BIO_read(l->out, buf, sizeof buf)) > 0) {
        if (tlsWrite(l, l->net, buf, (size_t)n) != 0) {
            return ERR_IO;
        }
    }
    return 0;
}

static void tlsOnLingerOver(uv_timer_t *timer)
{
    tlsClose(timer->data);
}

static void tlsFreeHandle(uv_handle_t *h)
{
    libFree(h);
}

/* One side is done: write what is queued (bounded by TLS_LINGER_MS), then
 * close. */
static void tlsEnd(struct tls_link *l)
{
    if (l->closing) {
        return;
    }
    if (l->stage != TLS_ENDING) {
        l->stage = TLS_ENDING;
        SSL_shutdown(l->ssl); /* close_notify, best effort */
        tlsFlush(l);
        uv_timer_start(&l->timer, tlsOnLingerOver, TLS_LINGER_MS, 0);
        if (l->net_reading) {
            uv_read_stop(l->net);
            l->net_reading = false;
        }
        if (l->plain_reading) {
            uv_read_stop((uv_stream_t *)&l->plain);
            l->plain_reading = false;
        }
    }
    bool plain_pending =
        l->plain_open && l->plain.write_queue_size > 0; /* bytes */
    if (l->net->write_queue_size == 0 && !plain_pending) {
        tlsClose(l);
    }
}

static void tlsOnAlloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    static _Thread_local char chunk[TLS_CHUNK]; /* consumed by the read cb */
    (void)h;
    (void)suggested;
    *out = uv_buf_init(chunk, sizeof chunk);
}

/* Whether a refusal of kind `what` from the link's address is to be
 * logged now: once per address and kind per TLS_REFUSED_LOG_MS, with in
 * *unsaid how many were refused meanwhile, so a stranger retrying cannot
 * flood the log. */
static bool tlsLogDue(struct tls_link *l, const char *what, unsigned *unsaid)
{
    struct tls_state *t = tlsOf(l->node);
    uint64_t now_ms = uv_now(&l->node->loop);
    struct tls_refused *slot = NULL, *oldest = &t->refused[0];
    for (unsigned i = 0; i < TLS_REFUSED_SLOTS; i++) {
        struct tls_refused *r = &t->refused[i];
        if (strcmp(r->address, l->peer) == 0 &&
            strncmp(r->what, what, sizeof r->what - 1) == 0) {
            slot = r;
            break;
        }
        if (r->said_ms < oldest->said_ms) {
            oldest = r;
        }
    }
    if (slot != NULL && slot->said_ms != 0 &&
        now_ms - slot->said_ms < TLS_REFUSED_LOG_MS) {
        slot->unsaid++;
        return false;
    }
    *unsaid = slot != NULL ? slot->unsaid : 0;
    if (slot == NULL) {
        slot = oldest;
        snprintf(slot->address, sizeof slot->address, "%s", l->peer);
        snprintf(slot->what, sizeof slot->what, "%s", what);
    }
    slot->said_ms = now_ms == 0 ? 1 : now_ms;
    slot->unsaid = 0;
    return true;
}

static void tlsLogPlaintext(struct tls_link *l)
{
    unsigned unsaid;
    if (tlsLogDue(l, "plaintext", &unsaid)) {
        nodeLogf(l->node, DQLITE_LOG_WARN,
                 "TLS: refused a connection from %s that does not start a "
                 "TLS handshake (plaintext to a TLS node?), %u more since the "
                 "last report; reported at most every %u s per address",
                 l->peer, unsaid, TLS_REFUSED_LOG_MS / 1000);
    }
}

/* Whether the bytes seen so far can open a TLS record (0x16 0x03). */
static bool tlsSniff(struct tls_link *l, const uint8_t *p, size_t n)
{
    static const uint8_t want[2] = {0x16, 0x03};
    for (size_t i = 0; i < n && l->n_sniffed < 2; i++) {
        if (p[i] != want[l->n_sniffed]) {
            return false;
        }
        l->sniffed[l->n_sniffed++] = p[i];
    }
    if (l->n_sniffed == 2) {
        l->stage = TLS_HANDSHAKE;
    }
    return true;
}

/* The role a verified client certificate gives (see tls.h). */
static enum tls_role tlsRoleOf(SSL *ssl)
{
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (peer == NULL) {
        return TLS_ROLE_ANON;
    }
    enum tls_role role = TLS_ROLE_CLIENT;
    X509 *own = SSL_get_certificate(ssl);
    if (own != NULL && X509_cmp(peer, own) == 0) {
        role = TLS_ROLE_NODE;
    }
    X509_NAME *subject = X509_get_subject_name(peer);
    int i = -1;
    while (role != TLS_ROLE_NODE &&
           (i = X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName,
                                           i)) >= 0) {
        ASN1_STRING *v =
            X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
        const char *s = (const char *)ASN1_STRING_get0_data(v);
        size_t len = (size_t)ASN1_STRING_length(v);
        if (len == 11 && memcmp(s, "dqlite-node", 11) == 0) {
            role = TLS_ROLE_NODE;
        } else if (len == 12 && memcmp(s, "dqlite-admin", 12) == 0) {
            role = TLS_ROLE_ADMIN;
        }
    }
    X509_free(peer);
    return role;
}

/* Opens our end of the socketpair as the link's cleartext side. */
static int tlsOpenPlain(struct tls_link *l, int fd)
{
    uv_pipe_init(&l->node->loop, &l->plain, 0);
    l->plain.data = l;
    l->plain_open = true;
    l->handles++;
    if (uv_pipe_open(&l->plain, fd) != 0) {
        close(fd);
        return ERR_IO;
    }
    return 0;
}

/* Accepted: the session and the stream go to conn.c, which runs TLS on
 * its connection from now on (tlsLink*); the link itself goes away. */
static int tlsHandOver(struct tls_link *l)
{
    struct tls_state *t = tlsOf(l->node);
    struct tls_session *s = libMalloc(sizeof *s);
    if (s == NULL) {
        return ERR_NOMEM;
    }
    s->node = l->node;
    s->ssl = l->ssl;
    s->in = l->in;
    s->out = l->out;
    snprintf(s->peer, sizeof s->peer, "%s", l->peer);
    enum tls_role role = tlsRoleOf(l->ssl);
    uv_stream_t *net = l->net;
    l->ssl = NULL; /* the session's now */
    l->stage = TLS_ENDING;
    l->closing = true;
    queueRemove(&l->link);
    t->n_links--;
    if (l->net_reading) {
        uv_read_stop(net);
        l->net_reading = false;
    }
    l->net = NULL; /* conn.c's now */
    l->handles--;
    uv_close((uv_handle_t *)&l->timer, tlsOnHandleClosed); /* frees `l` */
    connStartAs(s->node, net, role, s);
    return 0;
}

static void tlsHandshakeDone(struct tls_link *l)
{
    int rv;
    uv_timer_stop(&l->timer);
    l->stage = TLS_OPEN;
    nodeLogf(l->node, DQLITE_LOG_DEBUG, "TLS: %s %s with %s",
             l->accepted ? "accepted" : "connected", SSL_get_version(l->ssl),
             l->peer);
    if (l->accepted) {
        rv = tlsHandOver(l);
    } else {
        int fd = l->plain_fd;
        l->plain_fd = -1;
        rv = tlsOpenPlain(l, fd);
    }
    if (rv != 0) {
        tlsClose(l);
        return;
    }
    if (!l->closing) {
        tlsUpdateReading(l);
    }
}

/* Runs OpenSSL over what arrived: handshake, then cleartext out. */
static void tlsRelay(struct tls_link *l)
{
    char buf[TLS_CHUNK];
    char err[256];
    if (l->stage == TLS_HANDSHAKE) {
        int r = SSL_do_handshake(l->ssl);
        int e = SSL_get_error(l->ssl, r);
        tlsFlush(l); /* the alert too, on failure */
        if (r == 1) {
            tlsHandshakeDone(l);
        } else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            long v = SSL_get_verify_result(l->ssl);
            char why[400];
            unsigned unsaid;
            snprintf(why, sizeof why, "%s%s%s", tlsError(err, sizeof err),
                     v != X509_V_OK ? ": certificate: " : "",
                     v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
            if (tlsLogDue(l, why, &unsaid)) {
                nodeLogf(l->node, DQLITE_LOG_WARN,
                         "TLS: handshake with %s failed: %s (%u more like it "
                         "since the last report)",
                         l->peer, why, unsaid);
            }
            tlsEnd(l);
            return;
        }
    }
    while (l->stage == TLS_OPEN) {
        int r = SSL_read(l->ssl, buf, sizeof buf);
        if (r > 0) {
            if (tlsWrite(l, (uv_stream_t *)&l->plain, buf, (size_t)r) != 0) {
                tlsClose(l);
                return;
            }
            continue;
        }
        int e = SSL_get_error(l->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            break;
        }
        if (e != SSL_ERROR_ZERO_RETURN) {
            nodeLogf(l->node, DQLITE_LOG_WARN,
                     "TLS: bad record from %s after the handshake, "
                     "closing: %s",
                     l->peer, tlsError(err, sizeof err));
        }
        tlsEnd(l);
        return;
    }
    if (!l->closing) {
        tlsFlush(l);
        tlsUpdateReading(l);
    }
}

static void tlsOnNetRead(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct tls_link *l = s->data;
    if (nread == 0 || l->closing) {
        return;
    }
    if (nread < 0) {
        if (l->stage == TLS_HANDSHAKE || l->stage == TLS_SNIFF) {
            tlsClose(l); /* nothing of ours to deliver */
        } else {
            tlsEnd(l);
        }
        return;
    }
    const uint8_t *p = (const uint8_t *)buf->base;
    if (l->stage == TLS_SNIFF && !tlsSniff(l, p, (size_t)nread)) {
        tlsLogPlaintext(l);
        tlsClose(l);
        return;
    }
    if (BIO_write(l->in, p, (int)nread) != (int)nread) {
        tlsClose(l);
        return;
    }
    if (l->stage != TLS_SNIFF) {
        tlsRelay(l);
    }
}

static void tlsOnPlainRead(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct tls_link *l = s->data;
    if (nread == 0 || l->closing) {
        return;
    }
    if (nread < 0) {
        tlsEnd(l);
        return;
    }
    if (SSL_write(l->ssl, buf->base, (int)nread) != (int)nread ||
        tlsFlush(l) != 0) {
        tlsClose(l);
        return;
    }
    tlsUpdateReading(l);
}

/* Back-pressure: a side is read only while the other side's queue is
 * under TLS_MAX_QUEUED; the cleartext side only once the handshake is
 * done. */
static void tlsUpdateReading(struct tls_link *l)
{
    if (l->closing || l->stage == TLS_ENDING) {
        return;
    }
    bool plain_full =
        l->plain_open && l->plain.write_queue_size > TLS_MAX_QUEUED;
    bool net_full = l->net->write_queue_size > TLS_MAX_QUEUED;
    if (!plain_full && !l->net_reading) {
        l->net_reading = uv_read_start(l->net, tlsOnAlloc, tlsOnNetRead) == 0;
    } else if (plain_full && l->net_reading) {
        uv_read_stop(l->net);
        l->net_reading = false;
    }
    if (!l->plain_open) {
        return;
    }
    uv_stream_t *p = (uv_stream_t *)&l->plain;
    if (!net_full && !l->plain_reading) {
        l->plain_reading = uv_read_start(p, tlsOnAlloc, tlsOnPlainRead) == 0;
    } else if (net_full && l->plain_reading) {
        uv_read_stop(p);
        l->plain_reading = false;
    }
}

static void tlsOnHandshakeTimeout(uv_timer_t *timer)
{
    struct tls_link *l = timer->data;
    unsigned unsaid;
    if (tlsLogDue(l, "stalled", &unsaid)) {
        nodeLogf(l->node, DQLITE_LOG_WARN,
                 "TLS: handshake with %s not done after %u ms: closed (%u "
                 "more since the last report)",
                 l->peer, l->node->tls_handshake_timeout_ms, unsaid);
    }
    tlsClose(l);
}

static void tlsPeerName(uv_stream_t *s, char *out, size_t size)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char host[64] = "?";
    snprintf(out, size, "a local socket");
    if (s->type != UV_TCP ||
        uv_tcp_getpeername((uv_tcp_t *)s, (struct sockaddr *)&ss, &len) != 0) {
        return;
    }
    if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof host);
    } else {
        uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof host);
    }
    snprintf(out, size, "%s", host);
}

/* A link on `net` (owned), TLS server side if `accepted`. */
static struct tls_link *tlsLinkNew(struct dqlite_node *n, uv_stream_t *net,
                                   bool accepted)
{
    struct tls_state *t = tlsOf(n);
    struct tls_link *l = libCalloc(1, sizeof *l);
    if (l == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&t->lock);
    l->ssl = SSL_new(accepted ? t->server_ctx : t->client_ctx);
    pthread_mutex_unlock(&t->lock);
    l->in = BIO_new(BIO_s_mem());
    l->out = BIO_new(BIO_s_mem());
    if (l->ssl == NULL || l->in == NULL || l->out == NULL) {
        BIO_free(l->in);
        BIO_free(l->out);
        SSL_free(l->ssl);
        libFree(l);
        return NULL;
    }
    SSL_set_bio(l->ssl, l->in, l->out);
    if (accepted) {
        SSL_set_accept_state(l->ssl);
    } else {
        SSL_set_connect_state(l->ssl);
    }
    l->node = n;
    l->accepted = accepted;
    l->stage = accepted ? TLS_SNIFF : TLS_HANDSHAKE;
    l->plain_fd = -1;
    l->net = net;
    net->data = l;
    uv_timer_init(&n->loop, &l->timer);
    l->timer.data = l;
    l->handles = 2; /* net, timer */
    tlsPeerName(net, l->peer, sizeof l->peer);
    queueInsertTail(&t->links, &l->link);
    t->n_links++;
    uv_timer_start(&l->timer, tlsOnHandshakeTimeout,
                   n->tls_handshake_timeout_ms, 0);
    return l;
}

void tlsAccept(struct dqlite_node *n, uv_stream_t *stream)
{
    PRE(tlsEnabled(n));
    struct tls_link *l = tlsLinkNew(n, stream, true);
    if (l == NULL) {
        uv_close((uv_handle_t *)stream, tlsFreeHandle);
        return;
    }
    tlsUpdateReading(l);
}

/* ------------------------------------------------- TLS in conn.c (seam) */

int tlsLinkFeed(struct tls_session *s, const void *data, size_t len)
{
    PRE(len <= INT32_MAX);
    return BIO_write(s->in, data, (int)len) == (int)len ? 0 : ERR_NOMEM;
}

int tlsLinkRead(struct tls_session *s, void *out, size_t cap, size_t *n)
{
    char err[256];
    size_t got = 0;
    if (!SSL_has_pending(s->ssl) && BIO_ctrl_pending(s->in) == 0) {
        return ERR_AGAIN; /* spares OpenSSL's failing call and its errors */
    }
    int r = SSL_read_ex(s->ssl, out, cap, &got);
    if (r == 1) {
        POST(got > 0 && got <= cap);
        *n = got;
        return 0;
    }
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        return ERR_AGAIN;
    }
    if (e != SSL_ERROR_ZERO_RETURN) {
        nodeLogf(s->node, DQLITE_LOG_WARN,
                 "TLS: bad record from %s after the handshake, closing: %s",
                 s->peer, tlsError(err, sizeof err));
    }
    ERR_clear_error();
    return ERR_IO;
}

int tlsLinkWrite(struct tls_session *s, const void *data, size_t len)
{
    size_t done = 0;
    if (len == 0) {
        return 0;
    }
    if (SSL_write_ex(s->ssl, data, len, &done) != 1 || done != len) {
        ERR_clear_error();
        return ERR_IO;
    }
    return 0;
}

int tlsLinkTake(struct tls_session *s, void **data, size_t *len)
{
    size_t pending = BIO_ctrl_pending(s->out);
    *data = NULL;
    *len = 0;
    if (pending == 0) {
        return 0;
    }
    char *p = libMalloc(pending);
    if (p == NULL) {
        return ERR_NOMEM;
    }
    int n = BIO_read(s->out, p, (int)pending); /* a mem BIO: all of it */
    ASSERT(n == (int)pending);
    *data = p;
    *len = pending;
    return 0;
}

void tlsLinkClose(struct tls_session *s, uv_stream_t *stream)
{
    void *data;
    size_t len;
    if (SSL_get_shutdown(s->ssl) & SSL_SENT_SHUTDOWN) {
        return;
    }
    SSL_shutdown(s->ssl); /* close_notify, best effort */
    ERR_clear_error();
    if (tlsLinkTake(s, &data, &len) == 0 && len > 0) {
        uv_buf_t b = uv_buf_init(data, (unsigned)len);
        uv_try_write(stream, &b, 1); /* never waited for */
    }
    libFree(data);
}

void tlsLinkFree(struct tls_session *s)
{
    if (s != NULL) {
        SSL_free(s->ssl); /* frees the BIOs too */
        libFree(s);
    }
}

uv_stream_t *tlsLinkRelay(struct dqlite_node *n, struct tls_session *s,
                          uv_stream_t *stream)
{
    struct tls_state *t = tlsOf(n);
    struct tls_link *l = libCalloc(1, sizeof *l);
    uv_pipe_t *p = libMalloc(sizeof *p);
    int sv[2] = {-1, -1};
    if (l == NULL || p == NULL ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        libFree(l);
        libFree(p);
        tlsLinkFree(s);
        uv_close((uv_handle_t *)stream, tlsFreeHandle);
        return NULL;
    }
    l->ssl = s->ssl;
    l->in = s->in;
    l->out = s->out;
    snprintf(l->peer, sizeof l->peer, "%s", s->peer);
    libFree(s);
    l->node = n;
    l->accepted = true;
    l->stage = TLS_OPEN;
    l->plain_fd = -1;
    l->net = stream;
    stream->data = l;
    uv_timer_init(&n->loop, &l->timer);
    l->timer.data = l;
    l->handles = 2; /* net, timer */
    queueInsertTail(&t->links, &l->link);
    t->n_links++;
    uv_pipe_init(&n->loop, p, 0);
    if (tlsOpenPlain(l, sv[0]) != 0 || uv_pipe_open(p, sv[1]) != 0) {
        close(sv[1]);
        uv_close((uv_handle_t *)p, tlsFreeHandle);
        tlsClose(l);
        return NULL;
    }
    tlsRelay(l); /* records conn.c left undecrypted */
    return (uv_stream_t *)p;
}

/* ------------------------------------------------------------ dialling */

/* Loop: streams dialled on the thread pool start their handshake. */
static void tlsOnDialled(uv_async_t *async)
{
    struct dqlite_node *n = async->data;
    struct tls_state *t = tlsOf(n);
    struct queue ready;
    queueInit(&ready);
    pthread_mutex_lock(&t->lock);
    while (!queueEmpty(&t->dialled)) {
        struct queue *q = queueHead(&t->dialled);
        queueRemove(q);
        queueInsertTail(&ready, q);
    }
    pthread_mutex_unlock(&t->lock);
    while (!queueEmpty(&ready)) {
        struct queue *q = queueHead(&ready);
        struct tls_dialled *d = QUEUE_DATA(q, struct tls_dialled, link);
        queueRemove(q);
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        bool is_unix =
            getsockname(d->net_fd, (struct sockaddr *)&ss, &len) == 0 &&
            ss.ss_family == AF_UNIX;
        uv_stream_t *net =
            libMalloc(is_unix ? sizeof(uv_pipe_t) : sizeof(uv_tcp_t));
        int rv = net == NULL ? ERR_NOMEM : 0;
        if (rv == 0 && is_unix) {
            uv_pipe_init(&n->loop, (uv_pipe_t *)net, 0);
            rv = uv_pipe_open((uv_pipe_t *)net, d->net_fd);
        } else if (rv == 0) {
            uv_tcp_init(&n->loop, (uv_tcp_t *)net);
            rv = uv_tcp_open((uv_tcp_t *)net, d->net_fd);
            uv_tcp_nodelay((uv_tcp_t *)net, 1);
        }
        struct tls_link *l = NULL;
        if (rv != 0) {
            close(d->net_fd);
        } else {
            l = tlsLinkNew(n, net, false);
        }
        if (l == NULL) {
            if (net != NULL) {
                uv_close((uv_handle_t *)net, tlsFreeHandle);
            }
            close(d->plain_fd);
        } else {
            snprintf(l->peer, sizeof l->peer, "%s", d->address);
            l->plain_fd = d->plain_fd;
            tlsRelay(l); /* ClientHello */
            tlsUpdateReading(l);
        }
        libFree(d);
    }
}

int tlsDial(void *arg, const char *address, int *fd)
{
    struct dqlite_node *n = arg;
    struct tls_state *t = tlsOf(n);
    int net_fd, sv[2];
    int rv = n->connect_fn != NULL
                 ? n->connect_fn(n->connect_arg, address, &net_fd)
                 : raftioDial(NULL, address, &net_fd);
    if (rv != 0) {
        return rv;
    }
    struct tls_dialled *d = libMalloc(sizeof *d);
    if (d == NULL ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        libFree(d);
        close(net_fd);
        return ERR_NOCONN;
    }
    d->net_fd = net_fd;
    d->plain_fd = sv[0];
    snprintf(d->address, sizeof d->address, "%s", address);
    pthread_mutex_lock(&t->lock);
    bool open = t->loop_open;
    if (open) {
        queueInsertTail(&t->dialled, &d->link);
        uv_async_send(&t->dial_async);
    }
    pthread_mutex_unlock(&t->lock);
    if (!open) {
        close(net_fd);
        close(sv[0]);
        close(sv[1]);
        libFree(d);
        return ERR_NOCONN;
    }
    *fd = sv[1];
    return 0;
}

int tlsLoopStart(struct dqlite_node *n)
{
    struct tls_state *t = tlsOf(n);
    if (t == NULL) {
        return 0;
    }
    if (uv_async_init(&n->loop, &t->dial_async, tlsOnDialled) != 0) {
        return DQLITE_ERROR;
    }
    t->dial_async.data = n;
    pthread_mutex_lock(&t->lock);
    t->loop_open = true;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

void tlsLoopClose(struct dqlite_node *n)
{
    struct tls_state *t = tlsOf(n);
    if (t == NULL || !t->loop_open) {
        return;
    }
    pthread_mutex_lock(&t->lock);
    t->loop_open = false;
    pthread_mutex_unlock(&t->lock);
    uv_close((uv_handle_t *)&t->dial_async, NULL);
    while (!queueEmpty(&t->links)) {
        tlsClose(QUEUE_DATA(queueHead(&t->links), struct tls_link, link));
    }
}
