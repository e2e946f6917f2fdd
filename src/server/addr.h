/*
 * Node addresses: parsing "HOST:PORT", "[V6]:PORT", "@NAME" and "@", and
 * creating the listening socket a node binds before it starts.
 *
 * dqlite 1.11 binds inside dqlite_node_set_bind_address(), so the bound
 * address (with a kernel-chosen abstract name or port) is known before
 * start; these helpers use plain sockets for that, and the node's loop
 * adopts the descriptor when it starts.
 */
#ifndef SERVER_ADDR_H
#define SERVER_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Longest address string we accept, terminator included. */
#define ADDR_MAX_LEN 256

struct addr {
    struct sockaddr_storage sa;
    socklen_t len;
    int family; /* AF_INET, AF_INET6 or AF_UNIX (abstract) */
};

/* Parse `text` into `out`. ERR_INVALID when it is none of the forms above.
 * "@" yields an abstract address of zero length: the kernel picks a name. */
int addrParse(const char *text, struct addr *out);

/* Render a socket address as "HOST:PORT", "[V6]:PORT" or "@NAME" into `buf`
 * (ADDR_MAX_LEN bytes). */
int addrFormat(const struct sockaddr *sa, socklen_t len, char *buf);

/* Create a non-blocking, close-on-exec socket bound to `address` and
 * listening. A host name ("localhost:9001") is resolved (this blocks: not
 * on the loop thread) and its first IPv4 address (else its first) bound. On
 * success *fd is owned by the caller and `bound` receives the address actually
 * bound (ADDR_MAX_LEN bytes). ERR_INVALID for a bad address, ERR_NOTFOUND for a
 * name that does not resolve, ERR_IO (with errno kept) when the system
 * refuses. */
int addrListen(const char *address, int *fd, char *bound);

/* Adopt a descriptor the embedder bound and made listen: checks that it is
 * a listening stream socket of a family we serve (TCP over IPv4 or IPv6,
 * or an abstract Unix socket), makes it non-blocking and close-on-exec and
 * renders its address into `bound` (ADDR_MAX_LEN bytes). ERR_INVALID when
 * it is not such a socket (a pathname Unix socket included), ERR_IO (errno
 * kept) when the system refuses. The descriptor is not closed either way. */
int addrAdopt(int fd, char *bound);

/* Connect (blocking) to `address`; on success *fd is owned by the caller. */
int addrConnect(const char *address, int *fd);

#endif /* SERVER_ADDR_H */
