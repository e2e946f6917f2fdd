/*
 * Response bodies (see response.h): one decoder and one encoder per layout,
 * selected through a table indexed by the type code. The layouts are those
 * of docs/wire-spec.md §3.2 and §5; ROWS is delegated to rows.c.
 */
#include "proto/response.h"

#include <string.h>

#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "proto/cursor.h"

/* Decoding context: the expectation resolved against its defaults. */
struct resp_ctx {
    bool legacy;
    uint64_t cluster_format;
};

/* ------------------------------------------------------------ lists */

static void decNode(struct proto_dec *d, uint64_t format, struct proto_node *n)
{
    n->id = protoDecU64(d);
    n->address = protoDecText(d);
    n->role = format == 1 ? protoDecU64(d) : PROTO_VOTER;
}

static void decFile(struct proto_dec *d, struct proto_file *f)
{
    f->name = protoDecText(d);
    f->size = protoDecU64(d);
    if (d->rv == 0 && f->size > protoDecLeft(d)) {
        protoDecFail(d, ERR_PROTO_FILE_SHORT);
    }
    f->data = protoDecBytes(d, (size_t)f->size).data;
}

void protoServersIterInit(struct proto_servers_iter *it,
                          const struct proto_servers *s)
{
    it->servers = s;
    it->index = 0;
    protoDecInit(&it->dec, s->wire.data, s->wire.len);
}

bool protoServersIterNext(struct proto_servers_iter *it,
                          struct proto_node *node)
{
    const struct proto_servers *s = it->servers;
    if (it->index >= s->count) {
        return false;
    }
    if (s->nodes != NULL) {
        *node = s->nodes[it->index];
    } else {
        decNode(&it->dec, s->format, node);
        ASSERT(it->dec.rv == 0); /* validated when decoded */
    }
    it->index++;
    return true;
}

void protoFilesIterInit(struct proto_files_iter *it,
                        const struct proto_files *f)
{
    it->files = f;
    it->index = 0;
    protoDecInit(&it->dec, f->wire.data, f->wire.len);
}

bool protoFilesIterNext(struct proto_files_iter *it, struct proto_file *file)
{
    const struct proto_files *f = it->files;
    if (it->index >= f->count) {
        return false;
    }
    if (f->files != NULL) {
        *file = f->files[it->index];
    } else {
        decFile(&it->dec, file);
        ASSERT(it->dec.rv == 0); /* validated when decoded */
    }
    it->index++;
    return true;
}

/* ------------------------------------------------------------ decoders */

static void decFailure(struct proto_dec *d, const struct resp_ctx *c,
                       struct proto_response *r)
{
    (void)c;
    r->failure.code = protoDecU64(d);
    r->failure.message = protoDecText(d);
}

static void decServer(struct proto_dec *d, const struct resp_ctx *c,
                      struct proto_response *r)
{
    r->server.id = c->legacy ? 0 : protoDecU64(d);
    r->server.address = protoDecText(d);
}

/* One-word bodies: WELCOME, EMPTY. */
static void decWord(struct proto_dec *d, const struct resp_ctx *c,
                    struct proto_response *r)
{
    (void)c;
    uint64_t v = protoDecU64(d);
    if (r->type == PROTO_RESP_WELCOME) {
        r->welcome.heartbeat_timeout_ms = v;
    } else {
        r->empty.unused = v;
    }
}

static void decServers(struct proto_dec *d, const struct resp_ctx *c,
                       struct proto_response *r)
{
    struct proto_servers *s = &r->servers;
    struct proto_node node;
    s->format = c->cluster_format;
    s->count = protoDecU64(d);
    if (d->rv == 0 && s->count > PROTO_NODES_MAX) {
        protoDecFail(d, ERR_PROTO_NODES);
    }
    size_t start = d->pos;
    for (uint64_t i = 0; i < s->count && d->rv == 0; i++) {
        decNode(d, s->format, &node);
    }
    s->wire.data = d->p + start;
    s->wire.len = d->pos - start;
}

static void decDb(struct proto_dec *d, const struct resp_ctx *c,
                  struct proto_response *r)
{
    (void)c;
    r->db.db_id = protoDecU32(d);
    protoDecSkip(d, 4); /* padding */
}

static void decStmt(struct proto_dec *d, const struct resp_ctx *c,
                    struct proto_response *r)
{
    (void)c;
    r->stmt.db_id = protoDecU32(d);
    r->stmt.stmt_id = protoDecU32(d);
    r->stmt.n_params = protoDecU64(d);
    r->stmt.tail_offset = r->schema == 1 ? protoDecU64(d) : 0;
}

static void decResult(struct proto_dec *d, const struct resp_ctx *c,
                      struct proto_response *r)
{
    (void)c;
    r->result.last_insert_id = protoDecU64(d);
    r->result.rows_affected = protoDecU64(d);
}

static void decRows(struct proto_dec *d, const struct resp_ctx *c,
                    struct proto_response *r)
{
    (void)c;
    int rv = protoRowsDecode(d->p, d->len, &r->rows);
    if (rv != 0) {
        protoDecFail(d, rv);
    }
    d->pos = d->len;
}

static void decFiles(struct proto_dec *d, const struct resp_ctx *c,
                     struct proto_response *r)
{
    (void)c;
    struct proto_files *f = &r->files;
    struct proto_file file;
    f->count = protoDecU64(d);
    if (d->rv == 0 && f->count > PROTO_FILES_MAX) {
        protoDecFail(d, ERR_PROTO_FILES);
    }
    size_t start = d->pos;
    for (uint64_t i = 0; i < f->count && d->rv == 0; i++) {
        decFile(d, &file);
    }
    f->wire.data = d->p + start;
    f->wire.len = d->pos - start;
}

static void decMetadata(struct proto_dec *d, const struct resp_ctx *c,
                        struct proto_response *r)
{
    (void)c;
    r->metadata.failure_domain = protoDecU64(d);
    r->metadata.weight = protoDecU64(d);
}

static bool backupPageSizeOk(uint64_t size)
{
    return size >= PROTO_BACKUP_PAGE_MIN && size <= PROTO_BACKUP_PAGE_MAX &&
           (size & (size - 1)) == 0;
}

static void decBackup(struct proto_dec *d, const struct resp_ctx *c,
                      struct proto_response *r)
{
    (void)c;
    struct proto_backup *b = &r->backup;
    b->page_size = protoDecU64(d);
    b->n_pages = protoDecU64(d);
    b->first = protoDecU64(d);
    b->count = protoDecU64(d);
    if (d->rv != 0) {
        return;
    }
    if (!backupPageSizeOk(b->page_size) ||
        b->n_pages > PROTO_BACKUP_PAGES_MAX || b->first > b->n_pages ||
        b->count > b->n_pages - b->first ||
        b->count > PROTO_BACKUP_CHUNK_MAX / b->page_size ||
        protoDecLeft(d) != b->count * b->page_size) {
        protoDecFail(d, ERR_PROTO_BACKUP);
        return;
    }
    b->data = protoDecBytes(d, (size_t)(b->count * b->page_size)).data;
}

/* ------------------------------------------------------------ encoders */

static void encFailure(struct proto_enc *e, const struct resp_ctx *c,
                       const struct proto_response *r)
{
    (void)c;
    protoEncU64(e, r->failure.code);
    protoEncText(e, r->failure.message);
}

static void encServer(struct proto_enc *e, const struct resp_ctx *c,
                      const struct proto_response *r)
{
    if (!c->legacy) {
        protoEncU64(e, r->server.id);
    }
    protoEncText(e, r->server.address);
}

static void encWord(struct proto_enc *e, const struct resp_ctx *c,
                    const struct proto_response *r)
{
    (void)c;
    STATIC_ASSERT(offsetof(struct proto_response, welcome) ==
                      offsetof(struct proto_response, empty),
                  "one-word bodies share their offset");
    protoEncU64(e, r->empty.unused);
}

static void encServers(struct proto_enc *e, const struct resp_ctx *c,
                       const struct proto_response *r)
{
    (void)c;
    const struct proto_servers *s = &r->servers;
    struct proto_servers_iter it;
    struct proto_node node;
    if (s->format > 1) {
        protoEncFail(e, ERR_PROTO_FORMAT);
    } else if (s->count > PROTO_NODES_MAX) {
        protoEncFail(e, ERR_PROTO_NODES);
    }
    if (e->rv != 0) {
        return;
    }
    protoEncU64(e, s->count);
    protoServersIterInit(&it, s);
    while (protoServersIterNext(&it, &node)) {
        protoEncU64(e, node.id);
        protoEncText(e, node.address);
        if (s->format == 1) {
            protoEncU64(e, node.role);
        }
    }
}

static void encDb(struct proto_enc *e, const struct resp_ctx *c,
                  const struct proto_response *r)
{
    (void)c;
    protoEncU32(e, r->db.db_id);
    protoEncU32(e, 0);
}

static void encStmt(struct proto_enc *e, const struct resp_ctx *c,
                    const struct proto_response *r)
{
    (void)c;
    protoEncU32(e, r->stmt.db_id);
    protoEncU32(e, r->stmt.stmt_id);
    protoEncU64(e, r->stmt.n_params);
    if (r->schema == 1) {
        protoEncU64(e, r->stmt.tail_offset);
    }
}

static void encResult(struct proto_enc *e, const struct resp_ctx *c,
                      const struct proto_response *r)
{
    (void)c;
    protoEncU64(e, r->result.last_insert_id);
    protoEncU64(e, r->result.rows_affected);
}

/* File contents are not padded; only the end of the body is, so that it
 * stays a whole number of words (sizes are multiples of 8 in practice). */
static void encFiles(struct proto_enc *e, const struct resp_ctx *c,
                     const struct proto_response *r)
{
    (void)c;
    const struct proto_files *f = &r->files;
    struct proto_files_iter it;
    struct proto_file file;
    if (f->count > PROTO_FILES_MAX) {
        protoEncFail(e, ERR_PROTO_FILES);
        return;
    }
    protoEncU64(e, f->count);
    protoFilesIterInit(&it, f);
    while (protoFilesIterNext(&it, &file)) {
        PRE(file.data != NULL || file.size == 0);
        protoEncText(e, file.name);
        protoEncU64(e, file.size);
        protoEncBytes(e, file.data, (size_t)file.size);
    }
    if (e->rv == 0) {
        size_t body = protoEncBodyLen(e);
        protoEncZeros(e, (size_t)bytePad8(body) - body);
    }
}

static void encMetadata(struct proto_enc *e, const struct resp_ctx *c,
                        const struct proto_response *r)
{
    (void)c;
    protoEncU64(e, r->metadata.failure_domain);
    protoEncU64(e, r->metadata.weight);
}

static void encBackup(struct proto_enc *e, const struct resp_ctx *c,
                      const struct proto_response *r)
{
    (void)c;
    const struct proto_backup *b = &r->backup;
    if (!backupPageSizeOk(b->page_size) || b->first > b->n_pages ||
        b->count > b->n_pages - b->first ||
        b->count > PROTO_BACKUP_CHUNK_MAX / b->page_size) {
        protoEncFail(e, ERR_PROTO_BACKUP);
        return;
    }
    protoEncU64(e, b->page_size);
    protoEncU64(e, b->n_pages);
    protoEncU64(e, b->first);
    protoEncU64(e, b->count);
    protoEncBytes(e, b->data, (size_t)(b->count * b->page_size));
}

/* ------------------------------------------------------------ table */

struct resp_layout {
    void (*decode)(struct proto_dec *d, const struct resp_ctx *c,
                   struct proto_response *r);
    void (*encode)(struct proto_enc *e, const struct resp_ctx *c,
                   const struct proto_response *r);
    uint8_t max_schema;
};

static const struct resp_layout resp_layouts[PROTO_RESP_COUNT_] = {
    [PROTO_RESP_FAILURE] = {decFailure, encFailure, 0},
    [PROTO_RESP_SERVER] = {decServer, encServer, 0},
    [PROTO_RESP_WELCOME] = {decWord, encWord, 0},
    [PROTO_RESP_SERVERS] = {decServers, encServers, 0},
    [PROTO_RESP_DB] = {decDb, encDb, 0},
    [PROTO_RESP_STMT] = {decStmt, encStmt, 1},
    [PROTO_RESP_RESULT] = {decResult, encResult, 0},
    [PROTO_RESP_ROWS] = {decRows, NULL, 0},
    [PROTO_RESP_EMPTY] = {decWord, encWord, 0},
    [PROTO_RESP_FILES] = {decFiles, encFiles, 0},
    [PROTO_RESP_METADATA] = {decMetadata, encMetadata, 0},
};

/* Extension responses (codes 64 and up). */
static const struct resp_layout resp_backup_layout = {decBackup, encBackup, 0};

static int respLayout(uint8_t type, uint8_t schema,
                      const struct resp_layout **layout)
{
    if (type == PROTO_RESP_BACKUP) {
        *layout = &resp_backup_layout;
    } else if (type >= PROTO_RESP_COUNT_) {
        return ERR_PROTO_TYPE;
    } else {
        *layout = &resp_layouts[type];
    }
    return schema > (*layout)->max_schema ? ERR_PROTO_SCHEMA : 0;
}

static void respCtx(const struct proto_expect *expect, struct resp_ctx *c)
{
    c->legacy = expect != NULL && expect->legacy;
    c->cluster_format = expect != NULL ? expect->cluster_format : 1;
}

void protoResponseInit(struct proto_response *r, uint8_t type)
{
    memset(r, 0, sizeof *r);
    r->type = type;
}

int protoResponseDecode(const struct proto_header *h, const uint8_t *body,
                        size_t len, const struct proto_expect *expect,
                        struct proto_response *r)
{
    PRE(h != NULL && r != NULL);
    PRE((size_t)h->words * PROTO_WORD == len);
    PRE(body != NULL || len == 0);
    const struct resp_layout *layout;
    struct resp_ctx c;
    respCtx(expect, &c);
    protoResponseInit(r, h->type);
    r->schema = h->schema;
    int rv = respLayout(h->type, h->schema, &layout);
    if (rv != 0) {
        return rv;
    }
    if (len == 0) {
        return ERR_PROTO_EMPTY;
    }
    if (h->type == PROTO_RESP_SERVERS && c.cluster_format > 1) {
        return ERR_PROTO_FORMAT;
    }
    struct proto_dec d;
    protoDecInit(&d, body, len);
    layout->decode(&d, &c, r);
    if (d.rv != 0) {
        protoResponseInit(r, h->type);
        r->schema = h->schema;
    }
    return d.rv;
}

int protoResponseEncode(const struct proto_response *r,
                        const struct proto_expect *expect, struct buf *out)
{
    PRE(r != NULL && out != NULL);
    const struct resp_layout *layout;
    struct resp_ctx c;
    respCtx(expect, &c);
    int rv = respLayout(r->type, r->schema, &layout);
    if (rv != 0) {
        return rv;
    }
    if (r->type == PROTO_RESP_ROWS) {
        return protoRowsEncode(&r->rows, out);
    }
    struct proto_enc e;
    size_t before = out->len;
    protoEncBegin(&e, out, r->type, r->schema);
    layout->encode(&e, &c, r);
    rv = protoEncEnd(&e);
    POST(rv == 0 || out->len == before);
    return rv;
}
