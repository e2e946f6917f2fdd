/*
 * LOAD_BEGIN / LOAD_CHUNK / LOAD_COMMIT: the leader's side of a database
 * load (docs/restore.md). One session per connection: BEGIN checks the
 * target, each CHUNK becomes one LOAD part proposed to raft and answered
 * with LOAD_PROGRESS once applied, COMMIT proposes the last part, which
 * every node applies by installing the staged database (or refusing it,
 * the same way everywhere).
 *
 * Nothing is proposed for a file whose first chunk is not a SQLite header:
 * such a load is refused with nothing replicated. A session is bound to
 * the term it began in: once leadership changed, its stage is gone on
 * every node (replLoadTerm) and the session fails.
 */
#include <stdio.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "proto/dbname.h"
#include "proto/load.h"
#include "repl/command.h"
#include "server/gateway_internal.h"
#include "server/node.h"

/* Bytes of file per chunk, and so per raft entry: a multiple of the
 * largest page size, well under the entry limit. */
#define GATEWAY_LOAD_CHUNK_BYTES ((uint64_t)8 << 20)
_Static_assert(GATEWAY_LOAD_CHUNK_BYTES % 65536 == 0 &&
                   GATEWAY_LOAD_CHUNK_BYTES <= REPL_LOAD_PART_MAX &&
                   GATEWAY_LOAD_CHUNK_BYTES <= PROTO_LOAD_CHUNK_MAX,
               "a chunk is whole pages and fits one LOAD part");

#define SQLITE_NOTADB_CODE 26

struct gateway_load {
    char name[PROTO_DB_NAME_MAX + 1];
    uint64_t id; /* the term the load began in */
    uint64_t total;
    uint64_t done; /* bytes applied by the cluster */
    uint64_t pending;
    uint32_t page_size; /* from the first chunk's header */
    bool force;
    bool committing;
    bool proposed;    /* a part was proposed */
    bool settled;     /* the cluster already dropped or installed the stage */
    struct buf entry; /* the part being encoded */
};

/* Whether the session's leader is still this node in the load's term. */
static bool loadStillLeader(struct gateway *g)
{
    struct replica *r = &gatewayNode(g)->replica;
    return replicaIsLeader(r) && raftTerm(r->raft) == g->load->id;
}

/* The wait of an ABORT part, which outlives the connection that left. */
struct load_abort {
    struct replica_wait wait;
};

static void loadAbortDone(struct replica_wait *w, int status)
{
    (void)status; /* applied, or lost with its leader: the stage is gone */
    libFree(w);
}

/* A session ended by its connection after parts were proposed: an ABORT
 * part drops its stage on every node (else it would stay until the next
 * leader change or load of that database). Best effort: a node that is no
 * longer the leader in the load's term proposes nothing, and a new term
 * drops the stage anyway. */
static void loadProposeAbort(struct gateway *g)
{
    struct gateway_load *s = g->load;
    struct replica *r = &gatewayNode(g)->replica;
    if (!loadStillLeader(g)) {
        return;
    }
    struct repl_load_part part = {.id = s->id,
                                  .total = s->total,
                                  .page_size = s->page_size,
                                  .flags = REPL_LOAD_ABORT};
    struct load_abort *a = libCalloc(1, sizeof *a);
    bufReset(&s->entry);
    uint8_t *payload = NULL;
    if (a != NULL && replEncodeLoad(&s->entry, s->name, &part) == 0) {
        payload = raftPayloadAlloc(s->entry.len);
    }
    if (payload == NULL) {
        libFree(a);
        return;
    }
    memcpy(payload, s->entry.data, s->entry.len);
    a->wait.cb = loadAbortDone;
    if (replicaPropose(r, payload, s->entry.len, &a->wait) != 0) {
        libFree(a);
    }
}

/* Ends the session; one that staged parts whose fate is not settled
 * drops them on every node (loadProposeAbort). */
static void loadEnd(struct gateway *g)
{
    struct gateway_load *s = g->load;
    if (s == NULL) {
        return;
    }
    if (s->proposed && !s->settled) {
        loadProposeAbort(g);
    }
    struct dqlite_node *n = gatewayNode(g);
    ASSERT(n->replica.repl.load_sessions > 0);
    n->replica.repl.load_sessions--;
    bufFree(&s->entry);
    libFree(s);
    g->load = NULL;
}

void gatewayLoadFree(struct gateway *g)
{
    loadEnd(g);
}

static void loadFail(struct gateway *g, uint64_t code, const char *message)
{
    loadEnd(g);
    gatewayFailure(g, code, message);
}

static void loadProgress(struct gateway *g)
{
    struct gateway_load *s = g->load;
    struct proto_load_progress p = {s->done, s->total,
                                    GATEWAY_LOAD_CHUNK_BYTES};
    bufReset(&g->out);
    if (protoLoadProgressEncode(&g->out, &p) != 0) {
        connClose(g->conn);
        return;
    }
    gatewayFinish(g);
}

static void loadBegin(struct gateway *g)
{
    struct proto_load_begin m;
    struct dqlite_node *n = gatewayNode(g);
    int rv = protoLoadBeginDecode(g->body.data, g->body.len, &m);
    if (rv != 0) {
        gatewayFailure(g, GATEWAY_ERR_PARSE, errString(rv));
        return;
    }
    const char *why = protoDbNameCheck(m.name.data, m.name.len);
    if (why != NULL) {
        gatewayFailure(g, GATEWAY_ERR_PARSE, why);
        return;
    }
    if (g->load != NULL || n->replica.repl.load_sessions > 0) {
        gatewayFailure(g, SQLITE_BUSY, "a load is already running");
        return;
    }
    if (!replicaIsLeader(&n->replica)) {
        gatewayFailErr(g, ERR_NOTLEADER);
        return;
    }
    if (m.size < 512 || m.size % 512 != 0) {
        gatewayFailure(g, SQLITE_NOTADB_CODE,
                       "not a SQLite database: its size is not a whole "
                       "number of pages; nothing was loaded");
        return;
    }
    bool force = (m.flags & PROTO_LOAD_FORCE) != 0;
    if (!force && replLoadTargetExists(n->replica.vfs, m.name.data)) {
        gatewayFailure(g, SQLITE_ERROR,
                       "the database exists: load it with force to replace "
                       "it; nothing was loaded");
        return;
    }
    struct gateway_load *s = libCalloc(1, sizeof *s);
    if (s == NULL) {
        gatewayFailErr(g, ERR_NOMEM);
        return;
    }
    memcpy(s->name, m.name.data, m.name.len);
    s->id = raftTerm(n->replica.raft);
    s->total = m.size;
    s->force = force;
    bufInit(&s->entry);
    g->load = s;
    n->replica.repl.load_sessions++;
    loadProgress(g);
}

static void loadOnApplied(struct replica_wait *w, int status)
{
    struct gateway *g = GATEWAY_OF(w, wait);
    struct gateway_load *s = g->load;
    g->wait_out = false;
    if (g->closing) {
        gatewayCloseDb(g);
        return;
    }
    ASSERT(s != NULL);
    if (status != 0) {
        loadEnd(g);
        gatewayFailErr(g, status); /* leadership lost: the load is lost */
        return;
    }
    int outcome = ERR_INVALID;
    if (!replLoadResult(&gatewayNode(g)->replica.repl, w->index, &outcome)) {
        outcome = ERR_INVALID; /* another part was applied after ours */
    }
    /* A refused part dropped the stage everywhere; a LAST one installed. */
    s->settled = outcome != 0 || s->committing;
    switch (outcome) {
    case 0:
        break;
    case ERR_EXISTS:
        loadFail(g, SQLITE_ERROR,
                 "the database exists: load it with force to replace it; "
                 "nothing was loaded");
        return;
    case ERR_CORRUPT:
        loadFail(g, SQLITE_CORRUPT,
                 "the file fails PRAGMA integrity_check: nothing was "
                 "loaded");
        return;
    default:
        loadFail(g, SQLITE_ERROR,
                 "the load was abandoned (a leader change or another load "
                 "of the database): nothing was loaded");
        return;
    }
    s->done += s->pending;
    s->pending = 0;
    bool finished = s->committing;
    loadProgress(g);
    if (finished) {
        loadEnd(g); /* installed on this node, and so committed */
    }
}

/* Proposes one LOAD part and answers once it is applied. */
static void loadPropose(struct gateway *g, const struct repl_load_part *part)
{
    struct gateway_load *s = g->load;
    struct dqlite_node *n = gatewayNode(g);
    if (!loadStillLeader(g)) {
        loadEnd(g);
        gatewayFailErr(g, ERR_LEADERSHIP_LOST);
        return;
    }
    bufReset(&s->entry);
    int rv = replEncodeLoad(&s->entry, s->name, part);
    uint8_t *payload = rv == 0 ? raftPayloadAlloc(s->entry.len) : NULL;
    if (payload == NULL) {
        loadEnd(g);
        gatewayFailErr(g, rv != 0 ? rv : ERR_NOMEM);
        return;
    }
    memcpy(payload, s->entry.data, s->entry.len);
    s->pending = part->len;
    s->proposed = true;
    g->stage = GATEWAY_WAITING;
    g->wait.cb = loadOnApplied;
    g->wait_out = true;
    rv = replicaPropose(&n->replica, payload, s->entry.len, &g->wait);
    if (rv != 0) {
        g->wait_out = false;
        loadEnd(g);
        gatewayFailErr(g, rv);
    }
}

/* The first chunk: a SQLite header whose page size divides the file. */
static bool loadFirstChunk(struct gateway *g, const struct proto_load_chunk *c)
{
    struct gateway_load *s = g->load;
    uint32_t ps = 0;
    if (c->len >= 100) {
        ps = (uint32_t)c->data[16] << 8 | c->data[17];
        ps = ps == 1 ? 65536 : ps;
    }
    if (!vfsPageSizeValid(ps) || !replLoadHeaderValid(c->data, c->len, ps) ||
        s->total % ps != 0) {
        loadFail(g, SQLITE_NOTADB_CODE,
                 "not a SQLite database (no SQLite header, or a size that "
                 "is not whole pages): nothing was loaded");
        return false;
    }
    s->page_size = ps;
    return true;
}

static void loadChunk(struct gateway *g)
{
    struct proto_load_chunk c;
    struct gateway_load *s = g->load;
    int rv = protoLoadChunkDecode(g->body.data, g->body.len, &c);
    if (rv != 0 || s == NULL || s->committing) {
        loadFail(g, GATEWAY_ERR_PARSE,
                 rv != 0 ? errString(rv) : "LOAD_CHUNK outside a load");
        return;
    }
    if (c.offset != s->done || c.len == 0 || c.len > GATEWAY_LOAD_CHUNK_BYTES ||
        c.len > s->total - s->done) {
        loadFail(g, GATEWAY_ERR_PARSE,
                 "LOAD_CHUNK out of sequence or over the chunk size");
        return;
    }
    if (c.offset == 0 && !loadFirstChunk(g, &c)) {
        return;
    }
    if (c.len % s->page_size != 0) {
        loadFail(g, GATEWAY_ERR_PARSE, "LOAD_CHUNK is not whole pages");
        return;
    }
    struct repl_load_part part = {.id = s->id,
                                  .total = s->total,
                                  .offset = c.offset,
                                  .page_size = s->page_size,
                                  .len = (uint32_t)c.len,
                                  .data = c.data};
    loadPropose(g, &part);
}

static void loadCommit(struct gateway *g)
{
    uint64_t flags;
    struct gateway_load *s = g->load;
    int rv = protoLoadCommitDecode(g->body.data, g->body.len, &flags);
    if (rv != 0 || s == NULL || s->done != s->total || s->committing) {
        loadFail(g, GATEWAY_ERR_PARSE,
                 rv != 0 ? errString(rv)
                         : "LOAD_COMMIT before the whole file was sent");
        return;
    }
    s->committing = true;
    struct repl_load_part part = {.id = s->id,
                                  .total = s->total,
                                  .offset = s->total,
                                  .page_size = s->page_size,
                                  .flags = REPL_LOAD_LAST |
                                           (s->force ? REPL_LOAD_FORCE : 0),
                                  .len = 0,
                                  .data = NULL};
    loadPropose(g, &part);
}

void gatewayLoad(struct gateway *g, uint8_t type)
{
    PRE(protoLoadIsRequest(type));
    switch (type) {
    case PROTO_REQ_LOAD_BEGIN:
        loadBegin(g);
        break;
    case PROTO_REQ_LOAD_CHUNK:
        loadChunk(g);
        break;
    default:
        loadCommit(g);
        break;
    }
}
