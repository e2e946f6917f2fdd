/*
 * The node's memory budget (see budget.h): a bound and a counter.
 */
#include "server/budget.h"

#include "lib/assert.h"

void budgetInit(struct budget *b, size_t limit_bytes)
{
    b->limit_bytes = limit_bytes;
    b->used_bytes = 0;
    b->refused = 0;
}

bool budgetFits(const struct budget *b, size_t n)
{
    return b->used_bytes <= b->limit_bytes &&
           n <= b->limit_bytes - b->used_bytes;
}

bool budgetOver(const struct budget *b)
{
    return b->used_bytes > b->limit_bytes;
}

void budgetCharge(struct budget *b, size_t *held, size_t now)
{
    PRE(b->used_bytes >= *held);
    b->used_bytes = b->used_bytes - *held + now;
    *held = now;
    POST(b->used_bytes >= now);
}
