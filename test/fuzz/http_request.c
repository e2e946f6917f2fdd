/*
 * Fuzz target: the HTTP listener's request handling (src/http/server.c)
 * behind libmicrohttpd's parser. Each input is the raw byte stream of one
 * client connection (several pipelined requests possibly), handed to a
 * listener without a listening socket through a socketpair. Whatever the
 * bytes, the listener must answer with HTTP status lines or close, never
 * crash, leak, hand a handler a body over its route's bound, or hang
 * (the read is bounded by a timeout). /spool spools its body to a file
 * (spool_body) and streams it back through a reader (res->reader).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"

#define FUZZ_MAX_INPUT (64u * 1024u)
#define FUZZ_ECHO_MAX_BODY 4096u

static void onEcho(void *data, const struct http_request *req,
                   struct http_response *res)
{
    (void)data;
    if (req->body_len > FUZZ_ECHO_MAX_BODY || req->body[req->body_len] != 0) {
        abort();
    }
    const char *a = req->arg(req, "name");
    const char *h = req->header(req, "x-agent");
    if ((a != NULL && strlen(a) > FUZZ_MAX_INPUT) ||
        (h != NULL && strlen(h) > FUZZ_MAX_INPUT)) {
        abort();
    }
    res->body = malloc(req->body_len + 1);
    memcpy(res->body, req->body, req->body_len);
    res->body_len = req->body_len;
    res->status = req->body_len % 2 ? 201 : 0;
}

/* The spooled body read back from its file and answered as a stream. */
struct spooled {
    char *data;
    size_t len;
};

static ssize_t spooledRead(void *arg, uint64_t pos, char *buf, size_t max)
{
    struct spooled *s = arg;
    if (pos > s->len) {
        abort();
    }
    size_t n = s->len - (size_t)pos < max ? s->len - (size_t)pos : max;
    memcpy(buf, s->data + pos, n);
    return (ssize_t)n;
}

static void spooledFree(void *arg)
{
    struct spooled *s = arg;
    free(s->data);
    free(s);
}

static void onSpool(void *data, const struct http_request *req,
                    struct http_response *res)
{
    (void)data;
    if (!req->body_spooled || req->body_len > FUZZ_ECHO_MAX_BODY ||
        (req->body_len != 0 && req->body_fd < 0)) {
        abort();
    }
    struct spooled *s = malloc(sizeof *s);
    s->data = malloc(req->body_len + 1);
    s->len = req->body_len;
    if (pread(req->body_fd, s->data, s->len, 0) != (ssize_t)s->len) {
        abort();
    }
    res->reader = spooledRead;
    res->reader_free = spooledFree;
    res->reader_arg = s;
    res->reader_size = s->len % 2 ? s->len : 0; /* chunked when even */
}

static const struct http_route routes[] = {
    {.path = "/hello", .methods = HTTP_GET, .fn = onEcho},
    {.path = "/echo",
     .methods = HTTP_POST | HTTP_PUT,
     .max_body = FUZZ_ECHO_MAX_BODY,
     .fn = onEcho},
    {.path = "/db/",
     .prefix = true,
     .methods = HTTP_GET | HTTP_DELETE,
     .fn = onEcho},
    {.path = "/spool",
     .methods = HTTP_POST,
     .max_body = FUZZ_ECHO_MAX_BODY,
     .fn = onSpool,
     .spool_body = true},
};

static struct http_server *server;

static void stopServer(void)
{
    httpServerStop(server);
}

static void startServer(void)
{
    struct http_config config = {.address = NULL, .conn_timeout_s = 2};
    char errmsg[256];
    if (httpServerStart(&server, &config, routes,
                        sizeof routes / sizeof routes[0], errmsg,
                        sizeof errmsg)) {
        abort();
    }
    atexit(stopServer);
}

/* Writes the input and reads the answers until the listener closes. */
static void converse(int fd, const uint8_t *data, size_t size)
{
    char buf[8192];
    size_t sent = 0;
    size_t got = 0;
    char first[8] = {0};
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (sent < size) {
            p.events |= POLLOUT;
        }
        if (poll(&p, 1, 5000) != 1) {
            break; /* the listener's timeout closes before this */
        }
        if (p.revents & POLLOUT) {
            ssize_t n =
                send(fd, data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN) {
                sent = size;
            } else if (n > 0) {
                sent += (size_t)n;
            }
            if (sent == size) {
                shutdown(fd, SHUT_WR);
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN)) {
                break;
            }
            if (n > 0) {
                if (got < sizeof first) {
                    size_t k = sizeof first - got < (size_t)n
                                   ? sizeof first - got
                                   : (size_t)n;
                    memcpy(first + got, buf, k);
                }
                got += (size_t)n;
            }
        }
    }
    /* Anything answered starts with a status line. */
    if (got >= 7 && memcmp(first, "HTTP/1.", 7) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    if (server == NULL) {
        startServer();
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        abort();
    }
    if (httpServerAddConnection(server, sv[1]) != 0) {
        close(sv[1]);
        close(sv[0]);
        return 0;
    }
    converse(sv[0], data, size);
    close(sv[0]);
    return 0;
}
