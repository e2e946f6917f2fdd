/*
 * The default dial function: go-dqlite's rule, TCP for "host:port" (and
 * "[v6]:port"), an abstract Unix socket for "@name". Connecting is
 * non-blocking and bounded by the caller's timeout, so an unreachable
 * address costs at most that long. Returns a connected socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client/client.h"
#include "lib/assert.h"
#include "lib/err.h"

/* Waits for a non-blocking connect on `fd` to finish. */
static int dialWait(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int so_error = 0;
    socklen_t len = sizeof so_error;
    int rv;
    do {
        rv = poll(&p, 1, timeout_ms);
    } while (rv < 0 && errno == EINTR);
    if (rv == 0) {
        return ERR_TIMEOUT;
    }
    if (rv < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) {
        return ERR_IO;
    }
    if (so_error != 0) {
        errno = so_error; /* e.g. ECONNREFUSED, for the caller's message */
        return ERR_IO;
    }
    return 0;
}

/* Creates a non-blocking socket and connects it to `sa`. */
static int dialOne(int family, const struct sockaddr *sa, socklen_t len,
                   int timeout_ms, int *fd)
{
    int rv;
    int rv_errno;
    int s = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) {
        return ERR_IO;
    }
    if (connect(s, sa, len) != 0) {
        rv = errno == EINPROGRESS ? dialWait(s, timeout_ms) : ERR_IO;
        if (rv != 0) {
            goto err_after_socket;
        }
    }
    if (family != AF_UNIX) {
        int one = 1;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    *fd = s;
    return 0;
err_after_socket:
    rv_errno = errno;
    close(s);
    errno = rv_errno;
    return rv;
}

static int dialUnix(const char *address, int timeout_ms, int *fd)
{
    struct sockaddr_un sun;
    size_t n = strlen(address); /* includes the '@', which becomes NUL */
    PRE(address[0] == '@');
    if (n > sizeof sun.sun_path) {
        return ERR_INVALID;
    }
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path + 1, address + 1, n - 1);
    return dialOne(AF_UNIX, (struct sockaddr *)&sun,
                   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n),
                   timeout_ms, fd);
}

/* Splits "host:port" or "[host]:port" into `host` and `port`. */
static int dialSplit(const char *address, char *host, size_t host_size,
                     const char **port)
{
    const char *colon = strrchr(address, ':');
    const char *start = address;
    size_t len;
    if (colon == NULL || colon[1] == '\0') {
        return ERR_INVALID;
    }
    len = (size_t)(colon - address);
    if (address[0] == '[') {
        if (len < 2 || address[len - 1] != ']') {
            return ERR_INVALID;
        }
        start = address + 1;
        len -= 2;
    }
    if (len >= host_size) {
        return ERR_INVALID;
    }
    memcpy(host, start, len);
    host[len] = '\0';
    *port = colon + 1;
    return 0;
}

static int dialTcp(const char *address, int timeout_ms, int *fd)
{
    char host[CLIENT_ADDRESS_MAX];
    const char *port;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *list;
    struct addrinfo *ai;
    int rv = dialSplit(address, host, sizeof host, &port);
    if (rv != 0) {
        return rv;
    }
    if (getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &list) != 0) {
        return ERR_NOTFOUND; /* the host name does not resolve */
    }
    rv = ERR_IO;
    for (ai = list; ai != NULL && rv != 0; ai = ai->ai_next) {
        rv =
            dialOne(ai->ai_family, ai->ai_addr, ai->ai_addrlen, timeout_ms, fd);
    }
    freeaddrinfo(list);
    return rv;
}

int clientDialDefault(void *arg, const char *address, int timeout_ms, int *fd)
{
    (void)arg;
    PRE(address != NULL && fd != NULL);
    if (address[0] == '@') {
        return dialUnix(address, timeout_ms, fd);
    }
    return dialTcp(address, timeout_ms, fd);
}
