/*
 * The node's memory budget for what clients make it hold: bytes in the
 * connections' input buffers (requests being received, requests being
 * served) and in responses written but not yet taken by the kernel.
 *
 * One counter per node, touched only by the node's loop thread. A
 * connection charges what it holds (conn.c, connAccount) and gives it
 * back when it lets go. Admission is checked before memory is taken: a
 * request whose frame would push the node over the bound is refused
 * (FAILURE, then close) instead of received, so the bound holds up to the
 * small amounts a connection may take without asking (BUDGET_FREE_BYTES).
 * Responses already built are charged even past the bound (they exist);
 * while the node is over its bound, new requests are refused.
 */
#ifndef SERVER_BUDGET_H
#define SERVER_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

/* Default bound on the bytes all client connections of a node hold. */
#define BUDGET_CONN_BYTES_DEFAULT ((size_t)1 << 30)
/* Input a connection may buffer without asking the budget: one read
 * chunk and the small requests of a pipelining client. */
#define BUDGET_FREE_BYTES ((size_t)256 << 10)

struct budget {
    size_t limit_bytes;
    size_t used_bytes;
    size_t refused; /* requests refused for lack of budget */
};

void budgetInit(struct budget *b, size_t limit_bytes);

/* Whether `n` more bytes fit under the bound (nothing is taken). */
bool budgetFits(const struct budget *b, size_t n);

/* Whether the node holds more than its bound. */
bool budgetOver(const struct budget *b);

/* Moves the charge of one holder from `*held` to `now` bytes (up or down;
 * never refused: call budgetFits first to ask). */
void budgetCharge(struct budget *b, size_t *held, size_t now);

#endif /* SERVER_BUDGET_H */
