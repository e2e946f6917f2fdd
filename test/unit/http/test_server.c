/* The HTTP listener as a client sees it: a real libmicrohttpd daemon on
 * 127.0.0.1 port 0, spoken to with raw request bytes over a socket (so
 * malformed and oversized requests can be sent too), checking the status
 * line, headers and body that come back. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"

/* ------------------------------------------------------------ fixture */

static atomic_int calls;

static void onHello(void *data, const struct http_request *req,
                    struct http_response *res)
{
    (void)data;
    atomic_fetch_add(&calls, 1);
    const char *name = req->arg(req, "name");
    const char *agent = req->header(req, "x-agent");
    const char *flag = req->arg(req, "flag");
    char text[256];
    snprintf(text, sizeof text, "hello %s agent=%s flag=%s method=%u\n",
             name ? name : "(none)", agent ? agent : "(none)",
             flag ? (flag[0] ? flag : "(empty)") : "(absent)", req->method);
    httpRespond(res, 0, NULL, text);
}

static void onEcho(void *data, const struct http_request *req,
                   struct http_response *res)
{
    (void)data;
    atomic_fetch_add(&calls, 1);
    cr_assert_eq(req->body[req->body_len], '\0');
    res->status = 201;
    res->content_type = "application/octet-stream";
    res->body = malloc(req->body_len + 1);
    memcpy(res->body, req->body, req->body_len);
    res->body_len = req->body_len;
    res->location = strdup("/somewhere");
}

static void onPrefix(void *data, const struct http_request *req,
                     struct http_response *res)
{
    (void)data;
    httpRespond(res, 200, "text/plain", req->path);
}

static void onBadStatus(void *data, const struct http_request *req,
                        struct http_response *res)
{
    (void)data;
    (void)req;
    httpRespond(res, 1000, NULL, "nonsense");
}

static const struct http_route routes[] = {
    {.path = "/hello", .methods = HTTP_GET, .fn = onHello},
    {.path = "/echo",
     .methods = HTTP_POST | HTTP_PUT,
     .max_body = 1000,
     .fn = onEcho},
    {.path = "/db/", .prefix = true, .methods = HTTP_GET, .fn = onPrefix},
    {.path = "/bad", .methods = HTTP_GET, .fn = onBadStatus},
};

static struct http_server *server;
static char errmsg[256];

static void startWith(const struct http_config *config)
{
    int rv = httpServerStart(&server, config, routes,
                             sizeof routes / sizeof routes[0], errmsg,
                             sizeof errmsg);
    cr_assert_eq(rv, 0, "start: %s", errmsg);
}

static void start(void)
{
    struct http_config config = {.address = "127.0.0.1:0"};
    startWith(&config);
}

static int port(void)
{
    const char *a = httpServerAddress(server);
    const char *colon = strrchr(a, ':');
    cr_assert_not_null(colon, "address %s", a);
    return atoi(colon + 1);
}

static int dial(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    sa.sin_port = htons((uint16_t)port());
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Reads until the server closes (at most 10 s); returns the bytes read. */
static size_t readAll(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10000) != 1) {
            break;
        }
        ssize_t got = read(fd, buf + n, cap - 1 - n);
        if (got <= 0) {
            break;
        }
        n += (size_t)got;
    }
    buf[n] = '\0';
    return n;
}

/* Sends raw request bytes (closing our side) and returns the status code;
 * the whole answer is left in reply. */
static char reply[1 << 16];
static int exchange(const char *request, size_t len)
{
    int fd = dial();
    int status = 0;
    cr_assert_eq(write(fd, request, len), (ssize_t)len);
    readAll(fd, reply, sizeof reply);
    close(fd);
    if (sscanf(reply, "HTTP/1.%*d %d", &status) != 1) {
        return -1;
    }
    return status;
}

static int send1(const char *request)
{
    return exchange(request, strlen(request));
}

static const char *body(void)
{
    const char *b = strstr(reply, "\r\n\r\n");
    return b ? b + 4 : "";
}

static void stop(void)
{
    httpServerStop(server);
    server = NULL;
}

TestSuite(http, .fini = stop);

/* ------------------------------------------------------------ routing */

Test(http, get_route_answers_with_args_and_headers)
{
    start();
    cr_assert_eq(send1("GET /hello?name=ann&flag HTTP/1.1\r\nHost: x\r\n"
                       "X-Agent: probe\r\nConnection: close\r\n\r\n"),
                 200);
    cr_assert_str_eq(body(), "hello ann agent=probe flag=(empty) method=1\n");
    cr_assert(strstr(reply, "text/plain") != NULL);
}

Test(http, unknown_path_is_404_and_calls_nothing)
{
    start();
    atomic_store(&calls, 0);
    cr_assert_eq(send1("GET /nothing HTTP/1.1\r\nHost: x\r\n"
                       "Connection: close\r\n\r\n"),
                 404);
    cr_assert_eq(atomic_load(&calls), 0);
}

Test(http, wrong_method_is_405_with_allow)
{
    start();
    cr_assert_eq(send1("DELETE /hello HTTP/1.1\r\nHost: x\r\n"
                       "Connection: close\r\n\r\n"),
                 405);
    cr_assert(strstr(reply, "Allow: GET, HEAD\r\n") != NULL, "%s", reply);
    cr_assert_eq(send1("PATCH /echo HTTP/1.1\r\nHost: x\r\n"
                       "Connection: close\r\n\r\n"),
                 405);
    cr_assert(strstr(reply, "Allow: POST, PUT\r\n") != NULL, "%s", reply);
}

Test(http, head_on_a_get_route_has_no_body)
{
    start();
    cr_assert_eq(send1("HEAD /hello HTTP/1.1\r\nHost: x\r\n"
                       "Connection: close\r\n\r\n"),
                 200);
    cr_assert_str_eq(body(), "");
}

Test(http, prefix_route_sees_the_whole_path)
{
    start();
    cr_assert_eq(send1("GET /db/query/x HTTP/1.1\r\nHost: x\r\n"
                       "Connection: close\r\n\r\n"),
                 200);
    cr_assert_str_eq(body(), "/db/query/x");
}

Test(http, handler_status_out_of_range_is_500)
{
    start();
    cr_assert_eq(send1("GET /bad HTTP/1.1\r\nHost: x\r\n"
                       "Connection: close\r\n\r\n"),
                 500);
}

/* ------------------------------------------------------------ bodies */

Test(http, body_reaches_the_handler_whole)
{
    start();
    char req[2048];
    char data[1000];
    memset(data, 'z', sizeof data);
    data[0] = '\0'; /* a NUL inside the body survives */
    int n = snprintf(req, sizeof req,
                     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: "
                     "1000\r\nConnection: close\r\n\r\n");
    memcpy(req + n, data, sizeof data);
    cr_assert_eq(exchange(req, (size_t)n + sizeof data), 201);
    cr_assert(strstr(reply, "Location: /somewhere\r\n") != NULL);
    cr_assert(strstr(reply, "Content-Length: 1000\r\n") != NULL, "%s", reply);
    const char *b = strstr(reply, "\r\n\r\n") + 4;
    cr_assert_eq(memcmp(b, data, sizeof data), 0);
}

Test(http, content_length_over_the_bound_is_413_before_reading)
{
    start();
    atomic_store(&calls, 0);
    cr_assert_eq(send1("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: "
                       "1001\r\nConnection: close\r\n\r\n"),
                 413);
    cr_assert_eq(send1("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: "
                       "99999999999999999999999\r\nConnection: close\r\n\r\n"),
                 413);
    cr_assert_eq(atomic_load(&calls), 0);
}

Test(http, chunked_body_over_the_bound_is_413)
{
    start();
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                     "chunked\r\nConnection: close\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        n += snprintf(req + n, sizeof req - (size_t)n, "190\r\n");
        memset(req + n, 'a', 400);
        n += 400;
        n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    }
    n += snprintf(req + n, sizeof req - (size_t)n, "0\r\n\r\n");
    atomic_store(&calls, 0);
    cr_assert_eq(exchange(req, (size_t)n), 413);
    cr_assert_eq(atomic_load(&calls), 0);
}

Test(http, garbage_gets_400_or_a_close_never_a_handler)
{
    start();
    atomic_store(&calls, 0);
    int status = send1("\x01\x02 nonsense\r\n\r\n");
    cr_assert(status == 400 || status == -1, "status %d", status);
    status = send1("GET /hello HTTP/1.1\r\nHost: x\r\nBad header\r\n\r\n");
    cr_assert(status == 400 || status == -1, "status %d", status);
    cr_assert_eq(atomic_load(&calls), 0);
}

Test(http, headers_over_the_bound_are_refused)
{
    start();
    size_t len = HTTP_MAX_HEADER_BYTES * 3;
    char *req = malloc(len + 64);
    int n = snprintf(req, 64, "GET /hello HTTP/1.1\r\nX-Big: ");
    memset(req + n, 'b', len);
    memcpy(req + n + len, "\r\n\r\n", 4);
    int status = exchange(req, (size_t)n + len + 4);
    free(req);
    cr_assert(status == 431 || status == 413 || status == -1, "status %d",
              status);
}

/* ------------------------------------------------------------ limits */

Test(http, connections_over_the_limit_are_closed)
{
    struct http_config config = {.address = "127.0.0.1:0", .max_conns = 1};
    startWith(&config);
    int held = dial();
    usleep(100 * 1000);
    int fd = dial();
    const char *req =
        "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    (void)!write(fd, req, strlen(req));
    cr_assert_eq(readAll(fd, reply, sizeof reply), 0, "%s", reply);
    close(fd);
    close(held);
}

Test(http, an_unfinished_request_is_dropped_after_the_timeout)
{
    struct http_config config = {.address = "127.0.0.1:0", .conn_timeout_s = 1};
    startWith(&config);
    int fd = dial();
    const char *req = "GET /hello HTTP/1.1\r\nHost: x\r\n";
    cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 10000), 1, "still open after 10 s");
    cr_assert_eq(readAll(fd, reply, sizeof reply), 0);
    close(fd);
}

/* ------------------------------------------------------------ lifecycle */

Test(http, bad_address_is_refused_with_a_message)
{
    struct http_config config = {.address = "127.0.0.1"};
    cr_assert_eq(
        httpServerStart(&server, &config, routes, 1, errmsg, sizeof errmsg),
        -EINVAL);
    cr_assert_null(server);
    cr_assert(strstr(errmsg, "127.0.0.1") != NULL, "%s", errmsg);
    config.address = "127.0.0.1:99999";
    cr_assert_eq(
        httpServerStart(&server, &config, routes, 1, errmsg, sizeof errmsg),
        -EINVAL);
}

Test(http, address_in_use_is_refused)
{
    start();
    struct http_config config = {.address = httpServerAddress(server)};
    struct http_server *second = NULL;
    cr_assert_neq(
        httpServerStart(&second, &config, routes, 1, errmsg, sizeof errmsg), 0);
    cr_assert_null(second);
    cr_assert(strstr(errmsg, "cannot serve") != NULL, "%s", errmsg);
}

Test(http, ipv6_loopback_serves)
{
    struct http_config config = {.address = "[::1]:0"};
    startWith(&config);
    cr_assert(strncmp(httpServerAddress(server), "[::1]:", 6) == 0, "%s",
              httpServerAddress(server));
}

Test(http, connected_socket_is_served_without_a_listener)
{
    struct http_config config = {.address = NULL};
    startWith(&config);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(httpServerAddConnection(server, sv[1]), 0);
    const char *req = "GET /hello?name=bo HTTP/1.1\r\nHost: x\r\n"
                      "Connection: close\r\n\r\n";
    cr_assert_eq(write(sv[0], req, strlen(req)), (ssize_t)strlen(req));
    readAll(sv[0], reply, sizeof reply);
    close(sv[0]);
    cr_assert(strncmp(reply, "HTTP/1.1 200", 12) == 0, "%s", reply);
    cr_assert(strstr(reply, "hello bo") != NULL);
}

/* ------------------------------------------------------------ pure parts */

Test(http, route_match_rules)
{
    unsigned allow;
    cr_assert_eq(httpRouteMatch(routes, 4, HTTP_GET, "/hello", &allow), 0);
    cr_assert_eq(httpRouteMatch(routes, 4, HTTP_HEAD, "/hello", &allow), 0);
    cr_assert_eq(httpRouteMatch(routes, 4, HTTP_GET, "/hello/", &allow), -404);
    cr_assert_eq(httpRouteMatch(routes, 4, 0, "/echo", &allow), -405);
    cr_assert_eq(allow, HTTP_POST | HTTP_PUT);
    cr_assert_eq(httpRouteMatch(routes, 4, HTTP_GET, "/db/", &allow), 2);
    cr_assert_eq(httpRouteMatch(routes, 4, HTTP_GET, "/db", &allow), -404);
    cr_assert_eq(httpMethodParse("GET"), HTTP_GET);
    cr_assert_eq(httpMethodParse("get"), 0);
    char buf[8];
    httpAllowHeader(HTTP_GET | HTTP_POST | HTTP_DELETE, buf, sizeof buf);
    cr_assert_str_eq(buf, "GET");
}
