/* The HTTP listener (docs/http.md): one libmicrohttpd daemon serving a
 * table of routes.
 *
 * What this file owns, and libmicrohttpd does not: which route answers a
 * request (404 for an unknown path, 405 with an Allow header for a method
 * the route refuses), the body's bound per route (413 from the
 * Content-Length before a byte of the body is read, or as soon as a chunked
 * body crosses it), the copy of the body handed to the handler, and the
 * translation of the handler's struct http_response into a libmicrohttpd
 * response. The HTTP syntax (request line, headers, chunked encoding,
 * keep-alive, TLS) is libmicrohttpd's.
 *
 * Threads: the daemon runs one thread per connection (bounded by
 * max_conns), so a handler that blocks (the rqlite API waits for the
 * cluster) delays only its own connection, never /metrics or /healthz. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/http.h"
#include "lib/alloc.h"
#include "lib/assert.h"

/* Memory libmicrohttpd may use per connection for the request line and the
 * headers (its read buffer); a request whose headers do not fit gets 431. */
#define HTTP_CONN_MEMORY_BYTES (2u * HTTP_MAX_HEADER_BYTES)
/* Largest certificate or key file the listener reads. */
#define HTTP_MAX_PEM_BYTES (1u << 20)

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_route *routes;
    unsigned n_routes;
    bool tls;
    bool verify_clients;
    char *pem_cert; /* kept for the daemon's lifetime */
    char *pem_key;
    char *pem_ca;
    char address[INET6_ADDRSTRLEN + 16];
};

/* Per request: the route chosen and the body read so far. */
struct http_exchange {
    int route;    /* index in routes, or -1 */
    int status;   /* != 0: answer this without calling the handler */
    bool started; /* the first call (headers only) is done */
    size_t max_body;
    char *body;
    size_t body_len;
    size_t body_cap;
    int spool_fd; /* -1, or the route's spool_body file */
    char peer[INET6_ADDRSTRLEN + 16];
};

/* ------------------------------------------------------------ routing */

unsigned httpMethodParse(const char *method)
{
    static const struct {
        const char *name;
        unsigned bit;
    } methods[] = {
        {"GET", HTTP_GET}, {"POST", HTTP_POST},     {"HEAD", HTTP_HEAD},
        {"PUT", HTTP_PUT}, {"DELETE", HTTP_DELETE},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (strcmp(method, methods[i].name) == 0) {
            return methods[i].bit;
        }
    }
    return 0;
}

static bool routePathMatches(const struct http_route *route, const char *path)
{
    size_t n = strlen(route->path);
    if (route->prefix) {
        return strncmp(path, route->path, n) == 0;
    }
    return strcmp(path, route->path) == 0;
}

/* Methods a route answers: HEAD comes with GET (libmicrohttpd sends the
 * headers of the GET answer without its body). */
static unsigned routeMethods(const struct http_route *route)
{
    unsigned methods = route->methods;
    if (methods & HTTP_GET) {
        methods |= HTTP_HEAD;
    }
    return methods;
}

int httpRouteMatch(const struct http_route *routes, unsigned n_routes,
                   unsigned method, const char *path, unsigned *allow)
{
    PRE(path != NULL && allow != NULL);
    *allow = 0;
    for (unsigned i = 0; i < n_routes; i++) {
        if (!routePathMatches(&routes[i], path)) {
            continue;
        }
        *allow |= routeMethods(&routes[i]);
        if (method != 0 && (routeMethods(&routes[i]) & method) != 0) {
            return (int)i;
        }
    }
    return *allow == 0 ? -404 : -405;
}

size_t httpAllowHeader(unsigned allow, char *buf, size_t len)
{
    static const char *names[] = {"GET", "POST", "HEAD", "PUT", "DELETE"};
    size_t used = 0;
    PRE(len > 0);
    buf[0] = '\0';
    for (unsigned i = 0; i < 5; i++) {
        if ((allow & (1u << i)) == 0) {
            continue;
        }
        size_t n = strlen(names[i]) + (used ? 2 : 0);
        if (n >= len - used) {
            break; /* what does not fit is left out, never cut */
        }
        snprintf(buf + used, len - used, "%s%s", used ? ", " : "", names[i]);
        used += n;
    }
    return used;
}

/* ------------------------------------------------------------ requests */

static const char *requestLookup(const struct http_request *r,
                                 enum MHD_ValueKind kind, const char *name)
{
    const char *value = NULL;
    size_t value_len = 0;
    if (MHD_lookup_connection_value_n(r->impl, kind, name, strlen(name), &value,
                                      &value_len) != MHD_YES) {
        return NULL;
    }
    return value != NULL ? value : "";
}

static const char *requestArg(const struct http_request *r, const char *name)
{
    return requestLookup(r, MHD_GET_ARGUMENT_KIND, name);
}

static const char *requestHeader(const struct http_request *r, const char *name)
{
    return requestLookup(r, MHD_HEADER_KIND, name);
}

static void peerFormat(struct MHD_Connection *conn, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    snprintf(buf, len, "?");
    if (info == NULL || info->client_addr == NULL) {
        return;
    }
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(buf, len, "%s:%u", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(buf, len, "[%s]:%u", host, port);
    }
}

/* The Content-Length the client announced: false when absent or not a
 * number (chunked bodies are bounded as they arrive). */
static bool contentLength(struct MHD_Connection *conn, uint64_t *out)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end = NULL;
    if (v == NULL || *v < '0' || *v > '9') {
        return false;
    }
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0') {
        *out = UINT64_MAX;
        return true;
    }
    *out = n;
    return true;
}

/* ------------------------------------------------------------ answers */

static enum MHD_Result queueText(struct MHD_Connection *conn, int status,
                                 const char *text, unsigned allow)
{
    struct MHD_Response *res = MHD_create_response_from_buffer(
        strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rv;
    char allow_buf[64];
    if (res == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
        httpAllowHeader(allow, allow_buf, sizeof allow_buf);
        MHD_add_response_header(res, MHD_HTTP_HEADER_ALLOW, allow_buf);
    }
    rv = MHD_queue_response(conn, (unsigned)status, res);
    MHD_destroy_response(res);
    return rv;
}

static const char *statusText(int status)
{
    switch (status) {
    case 404:
        return "not found\n";
    case 405:
        return "method not allowed\n";
    case 413:
        return "request body too large\n";
    case 400:
        return "bad request\n";
    case 507:
        return "no room for the request body\n";
    default:
        return "internal error\n";
    }
}

static void responseFree(struct http_response *res)
{
    free(res->body);
    free(res->location);
    free(res->www_authenticate);
    if (res->reader != NULL && res->reader_free != NULL) {
        res->reader_free(res->reader_arg);
    }
    res->reader = NULL;
    res->reader_free = NULL;
    res->reader_arg = NULL;
    res->body = NULL;
    res->location = NULL;
    res->www_authenticate = NULL;
}

/* libmicrohttpd's reader over ours: 0 from ours is the end (in
 * libmicrohttpd's it would mean "nothing yet", a busy loop). */
struct stream {
    http_reader_fn reader;
    void (*reader_free)(void *arg);
    void *arg;
};

static ssize_t streamRead(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    ssize_t n = s->reader(s->arg, pos, buf, max);
    if (n == 0) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (n < 0) {
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    ASSERT((size_t)n <= max);
    return n;
}

static void streamFree(void *cls)
{
    struct stream *s = cls;
    if (s->reader_free != NULL) {
        s->reader_free(s->arg);
    }
    free(s);
}

/* A response whose body comes from the handler's reader; the reader is
 * libmicrohttpd's from here on (freed through streamFree). */
static struct MHD_Response *streamResponse(struct http_response *hres)
{
    struct stream *s = malloc(sizeof *s);
    if (s == NULL) {
        return NULL;
    }
    *s = (struct stream){hres->reader, hres->reader_free, hres->reader_arg};
    struct MHD_Response *res = MHD_create_response_from_callback(
        hres->reader_size != 0 ? hres->reader_size : MHD_SIZE_UNKNOWN,
        HTTP_STREAM_BLOCK, streamRead, s, streamFree);
    if (res == NULL) {
        free(s);
        return NULL;
    }
    hres->reader = NULL; /* libmicrohttpd's now */
    hres->reader_free = NULL;
    hres->reader_arg = NULL;
    return res;
}

/* Hands the handler's answer to libmicrohttpd (which takes the body). */
static enum MHD_Result queueHandlerResponse(struct MHD_Connection *conn,
                                            struct http_response *hres)
{
    int status = hres->status == 0 ? 200 : hres->status;
    struct MHD_Response *res;
    enum MHD_Result rv;
    if (status < 100 || status > 599) {
        responseFree(hres);
        return queueText(conn, 500, statusText(500), 0);
    }
    if (hres->body == NULL) {
        hres->body_len = 0;
    }
    if (hres->reader != NULL) {
        res = streamResponse(hres);
    } else {
        res = MHD_create_response_from_buffer(
            hres->body_len, hres->body != NULL ? hres->body : (void *)"",
            hres->body != NULL ? MHD_RESPMEM_MUST_FREE
                               : MHD_RESPMEM_PERSISTENT);
        if (res != NULL) {
            hres->body = NULL; /* libmicrohttpd frees it */
        }
    }
    if (res == NULL) {
        responseFree(hres);
        return MHD_NO;
    }
    MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE,
                            hres->content_type != NULL
                                ? hres->content_type
                                : "text/plain; charset=utf-8");
    if (hres->location != NULL) {
        MHD_add_response_header(res, MHD_HTTP_HEADER_LOCATION, hres->location);
    }
    if (hres->www_authenticate != NULL) {
        MHD_add_response_header(res, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                hres->www_authenticate);
    }
    responseFree(hres);
    rv = MHD_queue_response(conn, (unsigned)status, res);
    MHD_destroy_response(res);
    return rv;
}

/* ------------------------------------------------------------ the handler */

/* Mutual TLS: libmicrohttpd asks the client for a certificate when given
 * a CA, but leaves checking it to us. False unless the client presented a
 * certificate that chains to the CA and is valid now. */
static bool clientVerified(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    unsigned status = 0;
    if (info == NULL || info->tls_session == NULL) {
        return false;
    }
    gnutls_session_t session = info->tls_session;
    if (gnutls_certificate_verify_peers2(session, &status) != 0) {
        return false; /* no certificate among others */
    }
    return status == 0;
}

/* An unlinked temporary file (in $TMPDIR, else /tmp) for a spooled body:
 * the disk holds the body, memory one piece of it. */
static int spoolOpen(void)
{
    char path[512];
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/dqlite-http-body-XXXXXX",
             dir != NULL && dir[0] != '\0' ? dir : "/tmp");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0) {
        unlink(path);
    }
    return fd;
}

/* Writes a piece of a spooled body: 0, or -1 (the disk is full). */
static int spoolWrite(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The first call, with the headers only: chooses the route and refuses
 * what can be refused before the body is read. */
static int exchangeStart(struct http_server *s, struct http_exchange *x,
                         struct MHD_Connection *conn, const char *url,
                         const char *method)
{
    unsigned allow = 0;
    uint64_t length = 0;
    if (s->verify_clients && !clientVerified(conn)) {
        x->status = 403;
        return 0;
    }
    x->route = httpRouteMatch(s->routes, s->n_routes, httpMethodParse(method),
                              url, &allow);
    if (x->route < 0) {
        x->status = -x->route;
        return (int)allow;
    }
    const struct http_route *route = &s->routes[x->route];
    x->max_body =
        route->max_body != 0 ? route->max_body : HTTP_MAX_BODY_DEFAULT;
    if (contentLength(conn, &length) && length > x->max_body) {
        x->status = 413;
    } else if (route->spool_body) {
        x->spool_fd = spoolOpen();
        if (x->spool_fd < 0) {
            x->status = 500;
        }
    }
    return 0;
}

/* Appends a piece of the body, or notes that the route's bound was
 * crossed (the rest is read and dropped; the answer is 413). */
static void exchangeAppend(struct http_exchange *x, const char *data,
                           size_t len)
{
    if (x->status != 0) {
        return;
    }
    if (len > x->max_body - x->body_len) {
        x->status = 413;
        return;
    }
    if (x->spool_fd >= 0) {
        if (spoolWrite(x->spool_fd, data, len) != 0) {
            x->status = 507; /* Insufficient Storage */
            return;
        }
        x->body_len += len;
        return;
    }
    if (x->body_len + len + 1 > x->body_cap) {
        size_t cap = x->body_cap == 0 ? 4096 : x->body_cap;
        while (cap < x->body_len + len + 1) {
            cap *= 2;
        }
        char *p = libRealloc(x->body, cap);
        if (p == NULL) {
            x->status = 500;
            return;
        }
        x->body = p;
        x->body_cap = cap;
    }
    memcpy(x->body + x->body_len, data, len);
    x->body_len += len;
    ASSERT(x->body_len <= x->max_body);
}

static enum MHD_Result exchangeFinish(struct http_server *s,
                                      struct http_exchange *x,
                                      struct MHD_Connection *conn,
                                      const char *url, const char *method)
{
    const struct http_route *route = &s->routes[x->route];
    struct http_response res = {0};
    unsigned m = httpMethodParse(method);
    struct http_request req = {
        /* HEAD on a GET route: the handler answers a GET. */
        .method =
            (m == HTTP_HEAD && !(route->methods & HTTP_HEAD)) ? HTTP_GET : m,
        .path = url,
        .body = x->body != NULL ? x->body : "",
        .body_len = x->body_len,
        .body_spooled = x->spool_fd >= 0,
        .body_fd = x->spool_fd,
        .peer = x->peer,
        .arg = requestArg,
        .header = requestHeader,
        .impl = conn,
    };
    if (x->body != NULL) {
        x->body[x->body_len] = '\0';
    }
    peerFormat(conn, x->peer, sizeof x->peer);
    route->fn(route->data, &req, &res);
    return queueHandlerResponse(conn, &res);
}

static enum MHD_Result onRequest(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct http_server *s = cls;
    struct http_exchange *x = *con_cls;
    (void)version;
    if (x == NULL) {
        x = libCalloc(1, sizeof *x);
        if (x == NULL) {
            return MHD_NO;
        }
        *con_cls = x;
        x->route = -1;
        x->spool_fd = -1;
        int allow = exchangeStart(s, x, conn, url, method);
        if (x->status != 0) {
            x->started = true;
            return queueText(conn, x->status, statusText(x->status),
                             (unsigned)allow);
        }
        x->started = true;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        exchangeAppend(x, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (x->status != 0) {
        return queueText(conn, x->status, statusText(x->status), 0);
    }
    return exchangeFinish(s, x, conn, url, method);
}

static void onCompleted(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode why)
{
    struct http_exchange *x = *con_cls;
    (void)cls;
    (void)conn;
    (void)why;
    if (x != NULL) {
        if (x->spool_fd >= 0) {
            close(x->spool_fd);
        }
        libFree(x->body);
        libFree(x);
        *con_cls = NULL;
    }
}

/* libmicrohttpd's own complaints (a client's malformed request among
 * them) are not the operator's business: dropped. */
static void onMhdLog(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

/* ------------------------------------------------------------ lifecycle */

static int addressParse(const char *address, struct sockaddr_storage *out,
                        socklen_t *out_len)
{
    char host[256];
    const char *port;
    const char *colon;
    struct addrinfo hints = {0};
    struct addrinfo *ai = NULL;
    size_t host_len;
    if (address == NULL || strlen(address) >= sizeof host) {
        return -EINVAL;
    }
    if (address[0] == '[') {
        colon = strchr(address, ']');
        if (colon == NULL || colon[1] != ':') {
            return -EINVAL;
        }
        host_len = (size_t)(colon - address - 1);
        memcpy(host, address + 1, host_len);
        port = colon + 2;
    } else {
        colon = strrchr(address, ':');
        if (colon == NULL) {
            return -EINVAL;
        }
        host_len = (size_t)(colon - address);
        memcpy(host, address, host_len);
        port = colon + 1;
    }
    host[host_len] = '\0';
    if (*port == '\0' || strspn(port, "0123456789") != strlen(port) ||
        strlen(port) > 5 || atoi(port) > 65535) {
        return -EINVAL;
    }
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    if (getaddrinfo(host_len > 0 ? host : NULL, port, &hints, &ai) != 0 ||
        ai == NULL) {
        return -EADDRNOTAVAIL;
    }
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    *out_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static int pemRead(const char *path, char **out, char *errmsg,
                   size_t errmsg_len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    *out = NULL;
    if (f == NULL) {
        snprintf(errmsg, errmsg_len, "cannot open %s: %s", path,
                 strerror(errno));
        return -errno;
    }
    if (fstat(fileno(f), &st) != 0 || st.st_size <= 0 ||
        (size_t)st.st_size > HTTP_MAX_PEM_BYTES) {
        snprintf(errmsg, errmsg_len, "%s: empty or larger than %u bytes", path,
                 HTTP_MAX_PEM_BYTES);
        fclose(f);
        return -EINVAL;
    }
    *out = libMalloc((size_t)st.st_size + 1);
    if (*out == NULL) {
        fclose(f);
        snprintf(errmsg, errmsg_len, "out of memory");
        return -ENOMEM;
    }
    size_t n = fread(*out, 1, (size_t)st.st_size, f);
    fclose(f);
    (*out)[n] = '\0';
    return 0;
}

static int tlsLoad(struct http_server *s, const struct http_tls *tls,
                   char *errmsg, size_t errmsg_len)
{
    int rv;
    if (tls == NULL || tls->cert_file == NULL) {
        return 0;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(errmsg, errmsg_len,
                 "this libmicrohttpd was built without TLS");
        return -ENOTSUP;
    }
    if (tls->key_file == NULL) {
        snprintf(errmsg, errmsg_len, "HTTP TLS: a certificate needs its key");
        return -EINVAL;
    }
    s->tls = true;
    rv = pemRead(tls->cert_file, &s->pem_cert, errmsg, errmsg_len);
    if (rv == 0) {
        rv = pemRead(tls->key_file, &s->pem_key, errmsg, errmsg_len);
    }
    if (rv == 0 && tls->ca_file != NULL && tls->verify_clients) {
        s->verify_clients = true;
        rv = pemRead(tls->ca_file, &s->pem_ca, errmsg, errmsg_len);
    }
    return rv;
}

static void serverFree(struct http_server *s)
{
    if (s == NULL) {
        return;
    }
    libFree(s->routes);
    libFree(s->pem_cert);
    libFree(s->pem_key);
    libFree(s->pem_ca);
    libFree(s);
}

static void addressFormat(struct http_server *s, const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN] = "";
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(s->address, sizeof s->address, "[%s]:%u", host,
                 ntohs(in6->sin6_port));
    } else {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(s->address, sizeof s->address, "%s:%u", host,
                 ntohs(in->sin_port));
    }
}

static int daemonStart(struct http_server *s, const struct http_config *c,
                       const struct sockaddr_storage *sa, char *errmsg,
                       size_t errmsg_len)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    struct MHD_OptionItem ops[16];
    unsigned n = 0;
    unsigned max_conns = c->max_conns ? c->max_conns : HTTP_MAX_CONNS_DEFAULT;
    unsigned timeout_s =
        c->conn_timeout_s ? c->conn_timeout_s : HTTP_CONN_TIMEOUT_S_DEFAULT;
#define OPT(o, v, p) ops[n++] = (struct MHD_OptionItem){o, (intptr_t)(v), p}
    OPT(MHD_OPTION_CONNECTION_LIMIT, max_conns, NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, NULL);
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_CONN_MEMORY_BYTES, NULL);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, onCompleted, NULL);
    OPT(MHD_OPTION_EXTERNAL_LOGGER, onMhdLog, NULL);
    if (sa != NULL) {
        OPT(MHD_OPTION_SOCK_ADDR, 0, (void *)sa);
        if (sa->ss_family == AF_INET6) {
            flags |= MHD_USE_IPv6;
        }
    } else {
        flags |= MHD_USE_NO_LISTEN_SOCKET;
    }
    if (s->tls) {
        flags |= MHD_USE_TLS;
        OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, s->pem_cert);
        OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, s->pem_key);
        if (s->pem_ca != NULL) {
            OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, s->pem_ca);
        }
    }
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    ASSERT(n <= sizeof ops / sizeof ops[0]);
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, onRequest, s,
                                 MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (s->daemon == NULL) {
        snprintf(errmsg, errmsg_len,
                 "cannot serve HTTP on %s (address in use, or a bad "
                 "certificate or key)",
                 c->address != NULL ? c->address : "(no address)");
        return -EADDRINUSE;
    }
    return 0;
}

static void boundAddress(struct http_server *s)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage bound;
    socklen_t len = sizeof bound;
    if (info != NULL && info->listen_fd >= 0 &&
        getsockname(info->listen_fd, (struct sockaddr *)&bound, &len) == 0) {
        addressFormat(s, (const struct sockaddr *)&bound);
    }
}

int httpServerStart(struct http_server **out, const struct http_config *config,
                    const struct http_route *routes, unsigned n_routes,
                    char *errmsg, size_t errmsg_len)
{
    struct sockaddr_storage sa;
    socklen_t sa_len = 0;
    struct http_server *s;
    int rv;
    PRE(out != NULL && config != NULL && (routes != NULL || n_routes == 0));
    *out = NULL;
    for (unsigned i = 0; i < n_routes; i++) {
        PRE(routes[i].path != NULL && routes[i].fn != NULL);
    }
    if (config->address != NULL &&
        addressParse(config->address, &sa, &sa_len) != 0) {
        snprintf(errmsg, errmsg_len,
                 "bad HTTP address \"%s\" (want host:port or [v6]:port)",
                 config->address);
        return -EINVAL;
    }
    s = libCalloc(1, sizeof *s);
    if (s == NULL ||
        (n_routes > 0 &&
         (s->routes = libMalloc(n_routes * sizeof *routes)) == NULL)) {
        serverFree(s);
        snprintf(errmsg, errmsg_len, "out of memory");
        return -ENOMEM;
    }
    if (n_routes > 0) {
        memcpy(s->routes, routes, n_routes * sizeof *routes);
    }
    s->n_routes = n_routes;
    rv = tlsLoad(s, config->tls, errmsg, errmsg_len);
    if (rv == 0) {
        rv = daemonStart(s, config, config->address ? &sa : NULL, errmsg,
                         errmsg_len);
    }
    if (rv != 0) {
        serverFree(s);
        return rv;
    }
    boundAddress(s);
    *out = s;
    return 0;
}

int httpServerAddConnection(struct http_server *s, int fd)
{
    struct sockaddr_in peer = {.sin_family = AF_INET};
    PRE(s != NULL && fd >= 0);
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (MHD_add_connection(s->daemon, fd, (const struct sockaddr *)&peer,
                           sizeof peer) != MHD_YES) {
        return -EIO;
    }
    return 0;
}

const char *httpServerAddress(const struct http_server *s)
{
    PRE(s != NULL);
    return s->address;
}

bool httpServerTls(const struct http_server *s)
{
    PRE(s != NULL);
    return s->tls;
}

void httpServerStop(struct http_server *s)
{
    if (s == NULL) {
        return;
    }
    MHD_stop_daemon(s->daemon);
    serverFree(s);
}

void httpRespond(struct http_response *res, int status,
                 const char *content_type, const char *text)
{
    size_t n = strlen(text);
    res->status = status;
    res->content_type = content_type;
    free(res->body);
    res->body = malloc(n + 1);
    if (res->body == NULL) {
        res->status = 500;
        res->body_len = 0;
        return;
    }
    memcpy(res->body, text, n + 1);
    res->body_len = n;
}

int httpResponseDrain(struct http_response *res, size_t max)
{
    if (res->reader == NULL) {
        return 0;
    }
    size_t len = 0;
    size_t cap = HTTP_STREAM_BLOCK + 1;
    char *body = malloc(cap);
    int rv = body != NULL ? 0 : -ENOMEM;
    while (rv == 0) {
        if (cap - len < HTTP_STREAM_BLOCK + 1) {
            char *p = realloc(body, cap * 2);
            if (p == NULL) {
                rv = -ENOMEM;
                break;
            }
            body = p;
            cap *= 2;
        }
        ssize_t n =
            res->reader(res->reader_arg, len, body + len, HTTP_STREAM_BLOCK);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            rv = -EIO;
        } else if ((size_t)n > max - len) {
            rv = -E2BIG;
        } else {
            len += (size_t)n;
        }
    }
    if (res->reader_free != NULL) {
        res->reader_free(res->reader_arg);
    }
    res->reader = NULL;
    res->reader_free = NULL;
    res->reader_arg = NULL;
    if (rv != 0) {
        free(body);
        return rv;
    }
    body[len] = '\0';
    free(res->body);
    res->body = body;
    res->body_len = len;
    return 0;
}
