/*
 * Request bodies (see request.h): one small decoder and one small encoder
 * per layout, selected through a table indexed by the type code. The
 * layouts are those of docs/wire-spec.md §5.
 */
#include "proto/request.h"

#include <string.h>

#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "proto/cursor.h"

/* ------------------------------------------------------------ decoders */

/* Bodies that are a single u64 (LEADER, CLIENT, HEARTBEAT, INTERRUPT,
 * REMOVE, CLUSTER, TRANSFER, DESCRIBE, WEIGHT): all first members. */
static void decWord(struct proto_dec *d, struct proto_request *r)
{
    uint64_t v = protoDecU64(d);
    switch (r->type) {
    case PROTO_REQ_LEADER:
        r->leader.unused = v;
        break;
    case PROTO_REQ_CLIENT:
        r->client.id = v;
        break;
    case PROTO_REQ_HEARTBEAT:
        r->heartbeat.timestamp = v;
        break;
    case PROTO_REQ_INTERRUPT:
        r->interrupt.db_id = v;
        break;
    case PROTO_REQ_REMOVE:
        r->remove.id = v;
        break;
    case PROTO_REQ_CLUSTER:
        r->cluster.format = v;
        break;
    case PROTO_REQ_TRANSFER:
        r->transfer.id = v;
        break;
    case PROTO_REQ_DESCRIBE:
        r->describe.format = v;
        break;
    default:
        ASSERT(r->type == PROTO_REQ_WEIGHT);
        r->weight.weight = v;
    }
}

static void decOpen(struct proto_dec *d, struct proto_request *r)
{
    r->open.name = protoDecText(d);
    r->open.flags = protoDecU64(d);
    r->open.vfs = protoDecText(d);
}

static void decPrepare(struct proto_dec *d, struct proto_request *r)
{
    r->prepare.db_id = protoDecU64(d);
    r->prepare.sql = protoDecText(d);
}

static void decStmt(struct proto_dec *d, struct proto_request *r)
{
    r->exec.db_id = protoDecU32(d);
    r->exec.stmt_id = protoDecU32(d);
    if (d->rv == 0) {
        d->rv = protoParamsDecode(d, r->schema, &r->exec.params);
    }
}

static void decFinalize(struct proto_dec *d, struct proto_request *r)
{
    r->finalize.db_id = protoDecU32(d);
    r->finalize.stmt_id = protoDecU32(d);
}

static void decSql(struct proto_dec *d, struct proto_request *r)
{
    r->exec_sql.db_id = protoDecU64(d);
    r->exec_sql.sql = protoDecText(d);
    if (d->rv == 0) {
        d->rv = protoParamsDecode(d, r->schema, &r->exec_sql.params);
    }
}

static void decNode(struct proto_dec *d, struct proto_request *r)
{
    r->add.id = protoDecU64(d);
    r->add.address = protoDecText(d);
}

static void decAssign(struct proto_dec *d, struct proto_request *r)
{
    r->assign.id = protoDecU64(d);
    r->assign.has_role = protoDecLeft(d) >= 8;
    r->assign.role = r->assign.has_role ? protoDecU64(d) : PROTO_VOTER;
}

static void decDump(struct proto_dec *d, struct proto_request *r)
{
    r->dump.name = protoDecText(d);
}

static void decBackup(struct proto_dec *d, struct proto_request *r)
{
    r->backup.name = protoDecText(d);
    r->backup.flags = protoDecU64(d);
}

/* ------------------------------------------------------------ encoders */

static void encWord(struct proto_enc *e, const struct proto_request *r)
{
    /* Every one-word body is the union's first u64 member. */
    STATIC_ASSERT(offsetof(struct proto_request, weight.weight) ==
                      offsetof(struct proto_request, leader.unused),
                  "one-word bodies share their offset");
    protoEncU64(e, r->leader.unused);
}

static void encOpen(struct proto_enc *e, const struct proto_request *r)
{
    protoEncText(e, r->open.name);
    protoEncU64(e, r->open.flags);
    protoEncText(e, r->open.vfs);
}

static void encPrepare(struct proto_enc *e, const struct proto_request *r)
{
    protoEncU64(e, r->prepare.db_id);
    protoEncText(e, r->prepare.sql);
}

static void encStmt(struct proto_enc *e, const struct proto_request *r)
{
    protoEncU32(e, r->exec.db_id);
    protoEncU32(e, r->exec.stmt_id);
    protoParamsEncode(e, r->schema, &r->exec.params);
}

static void encFinalize(struct proto_enc *e, const struct proto_request *r)
{
    protoEncU32(e, r->finalize.db_id);
    protoEncU32(e, r->finalize.stmt_id);
}

static void encSql(struct proto_enc *e, const struct proto_request *r)
{
    protoEncU64(e, r->exec_sql.db_id);
    protoEncText(e, r->exec_sql.sql);
    protoParamsEncode(e, r->schema, &r->exec_sql.params);
}

static void encNode(struct proto_enc *e, const struct proto_request *r)
{
    protoEncU64(e, r->add.id);
    protoEncText(e, r->add.address);
}

static void encAssign(struct proto_enc *e, const struct proto_request *r)
{
    protoEncU64(e, r->assign.id);
    if (r->assign.has_role) {
        protoEncU64(e, r->assign.role);
    }
}

static void encDump(struct proto_enc *e, const struct proto_request *r)
{
    protoEncText(e, r->dump.name);
}

static void encBackup(struct proto_enc *e, const struct proto_request *r)
{
    protoEncText(e, r->backup.name);
    protoEncU64(e, r->backup.flags);
}

/* ------------------------------------------------------------ table */

struct req_layout {
    void (*decode)(struct proto_dec *d, struct proto_request *r);
    void (*encode)(struct proto_enc *e, const struct proto_request *r);
    uint8_t max_schema;
};

static const struct req_layout req_layouts[PROTO_REQ_COUNT_] = {
    [PROTO_REQ_LEADER] = {decWord, encWord, 0},
    [PROTO_REQ_CLIENT] = {decWord, encWord, 0},
    [PROTO_REQ_HEARTBEAT] = {decWord, encWord, 0},
    [PROTO_REQ_OPEN] = {decOpen, encOpen, 0},
    [PROTO_REQ_PREPARE] = {decPrepare, encPrepare, 1},
    [PROTO_REQ_EXEC] = {decStmt, encStmt, 1},
    [PROTO_REQ_QUERY] = {decStmt, encStmt, 1},
    [PROTO_REQ_FINALIZE] = {decFinalize, encFinalize, 0},
    [PROTO_REQ_EXEC_SQL] = {decSql, encSql, 1},
    [PROTO_REQ_QUERY_SQL] = {decSql, encSql, 1},
    [PROTO_REQ_INTERRUPT] = {decWord, encWord, 0},
    [PROTO_REQ_CONNECT] = {decNode, encNode, 0},
    [PROTO_REQ_ADD] = {decNode, encNode, 0},
    [PROTO_REQ_ASSIGN] = {decAssign, encAssign, 0},
    [PROTO_REQ_REMOVE] = {decWord, encWord, 0},
    [PROTO_REQ_DUMP] = {decDump, encDump, 0},
    [PROTO_REQ_CLUSTER] = {decWord, encWord, 0},
    [PROTO_REQ_TRANSFER] = {decWord, encWord, 0},
    [PROTO_REQ_DESCRIBE] = {decWord, encWord, 0},
    [PROTO_REQ_WEIGHT] = {decWord, encWord, 0},
};

/* Extension requests (codes 64 and up). */
static const struct req_layout req_backup_layout = {decBackup, encBackup, 0};

/* The layout of (type, schema), or an error. */
static int reqLayout(uint8_t type, uint8_t schema,
                     const struct req_layout **layout)
{
    if (type == PROTO_REQ_BACKUP) {
        *layout = &req_backup_layout;
    } else if (type >= PROTO_REQ_COUNT_) {
        return ERR_PROTO_TYPE;
    } else {
        *layout = &req_layouts[type];
    }
    ASSERT((*layout)->decode != NULL && (*layout)->encode != NULL);
    return schema > (*layout)->max_schema ? ERR_PROTO_SCHEMA : 0;
}

void protoRequestInit(struct proto_request *r, uint8_t type)
{
    memset(r, 0, sizeof *r);
    r->type = type;
    if (type == PROTO_REQ_EXEC || type == PROTO_REQ_QUERY) {
        protoParamsInit(&r->exec.params);
    } else if (type == PROTO_REQ_EXEC_SQL || type == PROTO_REQ_QUERY_SQL) {
        protoParamsInit(&r->exec_sql.params);
    }
}

int protoRequestDecode(const struct proto_header *h, const uint8_t *body,
                       size_t len, struct proto_request *r)
{
    PRE(h != NULL && r != NULL);
    PRE((size_t)h->words * PROTO_WORD == len);
    PRE(body != NULL || len == 0);
    const struct req_layout *layout;
    protoRequestInit(r, h->type);
    r->schema = h->schema;
    int rv = reqLayout(h->type, h->schema, &layout);
    if (rv != 0) {
        return rv;
    }
    if (len == 0) {
        return ERR_PROTO_EMPTY;
    }
    struct proto_dec d;
    protoDecInit(&d, body, len);
    layout->decode(&d, r);
    if (d.rv != 0) {
        protoRequestInit(r, h->type);
        r->schema = h->schema;
    }
    return d.rv;
}

int protoRequestEncode(const struct proto_request *r, struct buf *out)
{
    PRE(r != NULL && out != NULL);
    const struct req_layout *layout;
    int rv = reqLayout(r->type, r->schema, &layout);
    if (rv != 0) {
        return rv;
    }
    struct proto_enc e;
    size_t before = out->len;
    protoEncBegin(&e, out, r->type, r->schema);
    layout->encode(&e, r);
    rv = protoEncEnd(&e);
    POST(rv != 0 || out->len > before + PROTO_HEADER_SIZE);
    POST(rv == 0 || out->len == before);
    return rv;
}

int protoHandshakeEncode(uint64_t version, struct buf *out)
{
    PRE(version == PROTO_VERSION || version == PROTO_VERSION_LEGACY);
    return bufAppend64(out, version);
}

int protoHandshakeDecode(const uint8_t word[8], uint64_t *version)
{
    uint64_t v = byteGet64(word);
    if (v != PROTO_VERSION && v != PROTO_VERSION_LEGACY) {
        return ERR_PROTO_VERSION;
    }
    *version = v;
    return 0;
}
