/*
 * Address parsing and listening sockets (see addr.h).
 */
#include "server/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/assert.h"
#include "lib/err.h"

enum { ADDR_LISTEN_BACKLOG = 128 };

static int addrParseAbstract(const char *name, struct addr *out)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;
    size_t name_len = strlen(name);
    if (name_len > sizeof un->sun_path - 1) {
        return ERR_INVALID;
    }
    un->sun_family = AF_UNIX;
    /* Abstract namespace: a leading NUL, then the name, no terminator. */
    un->sun_path[0] = '\0';
    memcpy(un->sun_path + 1, name, name_len);
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                           (name_len > 0 ? 1 + name_len : 0));
    out->family = AF_UNIX;
    return 0;
}

static int addrParsePort(const char *text, uint16_t *port)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno != 0 || value < 0 ||
        value > 65535) {
        return ERR_INVALID;
    }
    *port = (uint16_t)value;
    return 0;
}

static int addrParseInet(const char *text, struct addr *out)
{
    char host[ADDR_MAX_LEN];
    const char *colon = strrchr(text, ':');
    uint16_t port;
    if (colon == NULL || (size_t)(colon - text) >= sizeof host ||
        addrParsePort(colon + 1, &port) != 0) {
        return ERR_INVALID;
    }
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    size_t host_len = strlen(host);
    if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;
        host[host_len - 1] = '\0';
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1) {
            return ERR_INVALID;
        }
        out->len = sizeof *in6;
        out->family = AF_INET6;
        return 0;
    }
    struct sockaddr_in *in4 = (struct sockaddr_in *)&out->sa;
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    if (inet_pton(AF_INET, host, &in4->sin_addr) != 1) {
        return ERR_INVALID;
    }
    out->len = sizeof *in4;
    out->family = AF_INET;
    return 0;
}

/* "HOST:PORT" with a host name: its first IPv4 address, else its first.
 * Blocks (DNS): never
 * called on the loop thread (bind runs on the host's thread, before
 * start). ERR_INVALID if the form is wrong, ERR_NOTFOUND if the name does
 * not resolve. */
static int addrResolve(const char *text, struct addr *out)
{
    char host[ADDR_MAX_LEN];
    const char *colon = strrchr(text, ':');
    uint16_t port;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *list;
    if (colon == NULL || colon == text || text[0] == '[' ||
        (size_t)(colon - text) >= sizeof host ||
        addrParsePort(colon + 1, &port) != 0) {
        return ERR_INVALID;
    }
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    if (getaddrinfo(host, colon + 1, &hints, &list) != 0) {
        return ERR_NOTFOUND;
    }
    /* IPv4 first, where there is one ("localhost" may list ::1 first on a
     * host without IPv6); dialers try every address of the name. */
    const struct addrinfo *pick = list;
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    }
    ASSERT(pick->ai_addrlen <= sizeof out->sa);
    memcpy(&out->sa, pick->ai_addr, pick->ai_addrlen);
    out->len = pick->ai_addrlen;
    out->family = pick->ai_family;
    freeaddrinfo(list);
    return 0;
}

int addrParse(const char *text, struct addr *out)
{
    PRE(text != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    if (strlen(text) >= ADDR_MAX_LEN) {
        return ERR_INVALID;
    }
    if (text[0] == '@') {
        return addrParseAbstract(text + 1, out);
    }
    return addrParseInet(text, out);
}

int addrFormat(const struct sockaddr *sa, socklen_t len, char *buf)
{
    char host[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t name_len = len > off + 1 ? len - off - 1 : 0;
        if (name_len >= ADDR_MAX_LEN - 1) {
            return ERR_INVALID;
        }
        buf[0] = '@';
        memcpy(buf + 1, un->sun_path + 1, name_len);
        buf[1 + name_len] = '\0';
        return 0;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
        snprintf(buf, ADDR_MAX_LEN, "%s:%u", host, ntohs(in4->sin_port));
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(buf, ADDR_MAX_LEN, "[%s]:%u", host, ntohs(in6->sin6_port));
        return 0;
    }
    return ERR_INVALID;
}

static int addrSocket(int family, int *fd)
{
    *fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (*fd < 0) {
        return ERR_IO;
    }
    if (family != AF_UNIX) {
        int one = 1;
        setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    return 0;
}

int addrListen(const char *address, int *fd, char *bound)
{
    struct addr a;
    struct sockaddr_storage got;
    socklen_t got_len = sizeof got;
    int rv = addrParse(address, &a);
    if (rv == ERR_INVALID && address[0] != '@') {
        rv = addrResolve(address, &a); /* "localhost:9001" */
    }
    if (rv != 0) {
        return rv;
    }
    rv = addrSocket(a.family, fd);
    if (rv != 0) {
        return rv;
    }
    if (bind(*fd, (struct sockaddr *)&a.sa, a.len) != 0 ||
        listen(*fd, ADDR_LISTEN_BACKLOG) != 0 ||
        getsockname(*fd, (struct sockaddr *)&got, &got_len) != 0) {
        rv = ERR_IO;
        goto err_after_socket;
    }
    rv = addrFormat((struct sockaddr *)&got, got_len, bound);
    if (rv != 0) {
        goto err_after_socket;
    }
    return 0;
err_after_socket : {
    int saved = errno;
    close(*fd);
    errno = saved;
}
    return rv;
}

/* Whether a bound Unix address is abstract (a name starting with NUL). */
static bool addrUnixAbstract(const struct sockaddr_storage *sa, socklen_t len)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    return len > off + 1 && un->sun_path[0] == '\0';
}

int addrAdopt(int fd, char *bound)
{
    struct sockaddr_storage got;
    socklen_t got_len = sizeof got;
    int value = 0;
    socklen_t value_len = sizeof value;
    int flags;
    if (fd < 0) {
        return ERR_INVALID;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &value_len) != 0) {
        return errno == ENOTSOCK ? ERR_INVALID : ERR_IO;
    }
    if (value != SOCK_STREAM) {
        return ERR_INVALID;
    }
    value_len = sizeof value;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &value_len) != 0) {
        return ERR_IO;
    }
    if (value == 0) {
        return ERR_INVALID; /* not listening */
    }
    if (getsockname(fd, (struct sockaddr *)&got, &got_len) != 0) {
        return ERR_IO;
    }
    if (got.ss_family == AF_UNIX && !addrUnixAbstract(&got, got_len)) {
        return ERR_INVALID;
    }
    if (addrFormat((struct sockaddr *)&got, got_len, bound) != 0) {
        return ERR_INVALID;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        return ERR_IO;
    }
    return 0;
}

int addrConnect(const char *address, int *fd)
{
    struct addr a;
    int rv = addrParse(address, &a);
    if (rv != 0) {
        return rv;
    }
    *fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*fd < 0) {
        return ERR_IO;
    }
    if (connect(*fd, (struct sockaddr *)&a.sa, a.len) != 0) {
        close(*fd);
        return ERR_NOCONN;
    }
    return 0;
}
