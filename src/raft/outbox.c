/*
 * Outgoing messages waiting for the next ready batch. Two queues: messages
 * that may leave at once (a leader's appends, snapshot chunks, TimeoutNow)
 * and messages that promise something about the local disk (votes,
 * acknowledgements), which the caller sends only after the batch's writes
 * are durable.
 */
#include "lib/alloc.h"
#include "lib/err.h"
#include "raft/core.h"

void outboxClose(struct raft_outbox *o)
{
    for (unsigned i = 0; i < o->n; i++) {
        raftMessageClose(&o->sends[i].message);
    }
    libFree(o->sends);
    o->sends = NULL;
    o->n = o->cap = 0;
}

static int outboxGrow(struct raft_outbox *o)
{
    unsigned cap = o->cap == 0 ? 8 : o->cap * 2;
    struct raft_send *sends = libRealloc(o->sends, cap * sizeof *sends);
    if (sends == NULL) {
        return ERR_NOMEM;
    }
    o->sends = sends;
    o->cap = cap;
    return 0;
}

int raftSend(struct raft *r, struct raft_message *m, bool after_persist)
{
    struct raft_outbox *o = after_persist ? &r->out_after : &r->out_now;
    if (o->n == o->cap && outboxGrow(o) != 0) {
        raftMessageClose(m);
        return ERR_NOMEM;
    }
    m->from = r->id;
    o->sends[o->n].to = m->to;
    o->sends[o->n].address = NULL; /* resolved by raftReady */
    o->sends[o->n].message = *m;
    o->n++;
    return 0;
}

int outboxHoldAll(struct raft_outbox *now, struct raft_outbox *after)
{
    struct raft_outbox tmp;
    while (now->n + after->n > now->cap) {
        if (outboxGrow(now) != 0) {
            return ERR_NOMEM;
        }
    }
    for (unsigned i = 0; i < after->n; i++) {
        now->sends[now->n++] = after->sends[i];
    }
    after->n = 0;
    tmp = *now;
    *now = *after;
    *after = tmp;
    return 0;
}
