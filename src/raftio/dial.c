/*
 * Sockets of the transport: the built-in dialler (the default connect
 * function, run on the thread pool) and the listening socket. Addresses:
 * "@name" is a Linux abstract Unix socket ("@" alone lets the kernel pick
 * a name), anything else "host:port" over TCP (host numeric or resolvable).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/assert.h"
#include "lib/err.h"
#include "raftio/transport_int.h"

#define DIAL_TIMEOUT_S 5

/* Fills an abstract address for "@name"; *len is its length. */
static int unixAddress(const char *address, struct sockaddr_un *sa,
                       socklen_t *len)
{
    size_t n = strlen(address + 1);
    if (n + 1 > sizeof sa->sun_path) {
        return ERR_INVALID;
    }
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path + 1, address + 1, n);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    if (n == 0) {
        *len = sizeof(sa_family_t); /* autobind */
    }
    return 0;
}

/* Splits "host:port" (IPv6 as "[::1]:port"). */
static int splitHostPort(const char *address, char *host, size_t host_size,
                         char *port, size_t port_size)
{
    const char *colon = strrchr(address, ':');
    if (colon == NULL || colon == address || strlen(colon + 1) == 0 ||
        strlen(colon + 1) >= port_size) {
        return ERR_INVALID;
    }
    const char *start = address;
    size_t len = (size_t)(colon - address);
    if (*start == '[' && colon[-1] == ']') {
        start++;
        len -= 2;
    }
    if (len == 0 || len >= host_size) {
        return ERR_INVALID;
    }
    memcpy(host, start, len);
    host[len] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

static int dialUnix(const char *address, int *fd)
{
    struct sockaddr_un sa;
    socklen_t len;
    if (address[1] == '\0' || unixAddress(address, &sa, &len) != 0) {
        return ERR_NOCONN;
    }
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        return ERR_NOCONN;
    }
    if (connect(s, (struct sockaddr *)&sa, len) != 0) {
        close(s);
        return ERR_NOCONN;
    }
    *fd = s;
    return 0;
}

static int dialTcpOne(const struct addrinfo *ai, int *fd)
{
    struct timeval tv = {DIAL_TIMEOUT_S, 0};
    int one = 1;
    int s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        return ERR_NOCONN;
    }
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(s, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(s);
        return ERR_NOCONN;
    }
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *fd = s;
    return 0;
}

int raftioDial(void *arg, const char *address, int *fd)
{
    (void)arg;
    char host[FRAME_TEXT_MAX + 1], port[16];
    struct addrinfo hints = {0}, *res;
    if (address[0] == '@') {
        return dialUnix(address, fd);
    }
    if (splitHostPort(address, host, sizeof host, port, sizeof port) != 0) {
        return ERR_NOCONN;
    }
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0) {
        return ERR_NOCONN;
    }
    int rv = ERR_NOCONN;
    for (struct addrinfo *ai = res; ai != NULL && rv != 0; ai = ai->ai_next) {
        rv = dialTcpOne(ai, fd);
    }
    freeaddrinfo(res);
    return rv;
}

/* Writes the bound name of a listening socket as an address. */
static void boundName(int fd, char *bound, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[NI_MAXHOST], port[NI_MAXSERV];
    getsockname(fd, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_UNIX) {
        struct sockaddr_un *sa = (struct sockaddr_un *)&ss;
        size_t n = len - offsetof(struct sockaddr_un, sun_path) - 1;
        snprintf(bound, size, "@%.*s", (int)n, sa->sun_path + 1);
        return;
    }
    getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port,
                sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(bound, size, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
             port);
}

static int listenTcp(const char *address, int *fd)
{
    char host[FRAME_TEXT_MAX + 1], port[16];
    struct addrinfo hints = {0}, *res;
    int one = 1;
    if (splitHostPort(address, host, sizeof host, port, sizeof port) != 0) {
        return ERR_INVALID;
    }
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(host, port, &hints, &res) != 0) {
        return ERR_INVALID;
    }
    int s = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rv = s < 0 ? ERR_IO : 0;
    if (rv == 0) {
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(s, res->ai_addr, res->ai_addrlen) != 0) {
            rv = errno == EADDRINUSE ? ERR_EXISTS : ERR_IO;
            close(s);
        }
    }
    freeaddrinfo(res);
    *fd = s;
    return rv;
}

static int listenUnix(const char *address, int *fd)
{
    struct sockaddr_un sa;
    socklen_t len;
    if (unixAddress(address, &sa, &len) != 0) {
        return ERR_INVALID;
    }
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        return ERR_IO;
    }
    if (bind(s, (struct sockaddr *)&sa, len) != 0) {
        int rv = errno == EADDRINUSE ? ERR_EXISTS : ERR_IO;
        close(s);
        return rv;
    }
    *fd = s;
    return 0;
}

int transportListenSocket(const char *address, int *fd, char *bound,
                          size_t bound_size)
{
    int rv =
        address[0] == '@' ? listenUnix(address, fd) : listenTcp(address, fd);
    if (rv != 0) {
        return rv;
    }
    if (listen(*fd, 128) != 0) {
        close(*fd);
        return ERR_IO;
    }
    boundName(*fd, bound, bound_size);
    return 0;
}

int transportOpenStream(uv_loop_t *loop, union transport_stream *s, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        return ERR_INVALID; /* nothing initialised */
    }
    if (ss.ss_family == AF_UNIX) {
        uv_pipe_init(loop, &s->pipe, 0);
        if (uv_pipe_open(&s->pipe, fd) != 0) {
            return ERR_IO;
        }
        return 0;
    }
    uv_tcp_init(loop, &s->tcp);
    if (uv_tcp_open(&s->tcp, fd) != 0) {
        return ERR_IO;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    return 0;
}
