/* The node's HTTP listener: one libmicrohttpd daemon per node serving a
 * table of routes (metrics and health, rqlite's data API).
 *
 * Why a module of its own: HTTP is outside bytes like the wire protocol,
 * so the request handling we own (routing, bounds, the rqlite JSON
 * decoding) must be unit-testable and fuzzable without a node. The HTTP
 * parsing itself is libmicrohttpd's (docs/http.md); JSON is jansson's.
 *
 * Threads: libmicrohttpd calls handlers on its own threads, never on the
 * node's loop. A handler must only use state that is safe to read from
 * another thread (the node's published metrics snapshot, a client
 * connection of its own).
 *
 * Error contract (libuv's): functions return 0 or a negative errno-style
 * code, and fill errmsg with a sentence for the operator. */
#ifndef DQLITE_HTTP_H_
#define DQLITE_HTTP_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Methods a route accepts (bit set). */
enum {
    HTTP_GET = 1u << 0,
    HTTP_POST = 1u << 1,
    HTTP_HEAD = 1u << 2,
    HTTP_PUT = 1u << 3,
    HTTP_DELETE = 1u << 4,
};

/* Bounds of the listener (named so docs and tests can cite them). */
#define HTTP_MAX_BODY_DEFAULT (64u * 1024u * 1024u) /* request body */
#define HTTP_MAX_CONNS_DEFAULT 256u
#define HTTP_CONN_TIMEOUT_S_DEFAULT 30u /* a request that never finishes */
#define HTTP_MAX_HEADER_BYTES 16384u

/* One request, complete (its whole body read, at most the route's bound). */
struct http_request {
    unsigned method;  /* one HTTP_* bit */
    const char *path; /* URL path without the query string */
    const char *body; /* NUL-terminated copy; body_len excludes the NUL */
    size_t body_len;
    /* A route with spool_body: the body is in body_fd (an unlinked
     * temporary file of body_len bytes, the listener's: read it with
     * pread, do not close it), body is "". */
    bool body_spooled;
    int body_fd;
    const char *peer; /* client address, "ip:port" */
    /* Look up a query-string argument or a header (case-insensitive name):
     * NULL when absent; "" for an argument given without a value. */
    const char *(*arg)(const struct http_request *r, const char *name);
    const char *(*header)(const struct http_request *r, const char *name);
    void *impl; /* the listener's */
};

/* A streamed body: called on the listener's thread for the bytes at `pos`
 * (consecutive calls, pos growing by what the previous one returned) with
 * room for `max`; returns how many it wrote (> 0), 0 at the end, or
 * a negative value on an error (the connection is then closed: the
 * client sees a truncated body). */
typedef ssize_t (*http_reader_fn)(void *arg, uint64_t pos, char *buf,
                                  size_t max);

/* What a handler answers. The body is malloc()ed by the handler and freed
 * by the listener; content_type and location are copied. Instead of body,
 * a handler may set reader (and reader_free, reader_size): the listener
 * then sends the body as reader produces it, one block (64 KiB) at a time
 * whatever its size, and calls reader_free(reader_arg) once when done
 * (also when the response is never sent). Fields left zero keep the
 * in-memory behaviour. */
struct http_response {
    int status;               /* 200 when left 0 */
    const char *content_type; /* "application/json" etc.; NULL: text/plain */
    char *body;
    size_t body_len;
    char *location;         /* malloc()ed; a "Location" header when set */
    char *www_authenticate; /* malloc()ed; a "WWW-Authenticate" header */
    http_reader_fn reader;  /* non-NULL: a streamed body (body unused) */
    void (*reader_free)(void *arg);
    void *reader_arg;
    uint64_t reader_size; /* bytes, for Content-Length; 0: unknown (chunked) */
};

/* Block size of a streamed body. */
#define HTTP_STREAM_BLOCK (64u * 1024u)

typedef void (*http_handler_fn)(void *data, const struct http_request *req,
                                struct http_response *res);

struct http_route {
    const char *path; /* exact match, or a prefix when prefix is true */
    bool prefix;
    unsigned methods; /* HTTP_* bits; others get 405 */
    size_t max_body;  /* 0: HTTP_MAX_BODY_DEFAULT; larger bodies get 413 */
    http_handler_fn fn;
    void *data;
    bool spool_body; /* the body goes to a temporary file, not memory */
};

/* TLS for the listener (the node's certificate files); NULL paths: plain. */
struct http_tls {
    const char *cert_file;
    const char *key_file;
    const char *ca_file; /* when set with verify_clients: mutual TLS */
    bool verify_clients;
};

struct http_config {
    const char *address;        /* "host:port" or "[v6]:port"; port 0: any */
    const struct http_tls *tls; /* NULL: plaintext */
    unsigned max_conns;         /* 0: HTTP_MAX_CONNS_DEFAULT */
    unsigned conn_timeout_s;    /* 0: HTTP_CONN_TIMEOUT_S_DEFAULT */
    unsigned threads;           /* unused: the listener runs one thread
                                 * per connection (at most max_conns), so
                                 * a slow handler delays only its own */
};

struct http_server;

/* Binds and serves routes (copied; the data pointers must outlive the
 * server). 0, or a negative code with errmsg filled. */
int httpServerStart(struct http_server **out, const struct http_config *config,
                    const struct http_route *routes, unsigned n_routes,
                    char *errmsg, size_t errmsg_len);

/* The bound address ("127.0.0.1:8080", the real port when 0 was asked). */
const char *httpServerAddress(const struct http_server *s);

/* Stops accepting, waits for running handlers, frees. NULL is a no-op. */
void httpServerStop(struct http_server *s);

/* Serves an already connected stream socket (takes fd) as if accepted:
 * tests and the fuzz target use it with a server started with a NULL
 * address (no listening socket). */
int httpServerAddConnection(struct http_server *s, int fd);

/* True when the listener speaks TLS. */
bool httpServerTls(const struct http_server *s);

/* The request handling we own, exposed for tests and fuzzing. */

/* HTTP_* bit of a method name ("GET"), 0 for any other. */
unsigned httpMethodParse(const char *method);

/* Index of the first route whose path matches and that answers method
 * (HEAD is answered by GET routes), or -404 (no path matches) or -405 (a
 * path matches, not the method); allow gets every method the matching
 * paths answer. */
int httpRouteMatch(const struct http_route *routes, unsigned n_routes,
                   unsigned method, const char *path, unsigned *allow);

/* Writes "GET, HEAD" etc. for an Allow header; returns its length. */
size_t httpAllowHeader(unsigned allow, char *buf, size_t len);

/* Helpers for handlers: set a malloc()ed copy of text as the body. */
void httpRespond(struct http_response *res, int status,
                 const char *content_type, const char *text);

/* For callers that run handlers in-process (tests, rqlite-gateway): reads
 * a streamed body into res->body (malloc()ed, NUL-terminated, body_len
 * set) and frees the reader. 0, -E2BIG beyond max bytes, -EIO when the
 * reader fails, -ENOMEM. A response without reader is left as it is. */
int httpResponseDrain(struct http_response *res, size_t max);

#endif /* DQLITE_HTTP_H_ */
