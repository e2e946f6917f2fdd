/*
 * Responses (server -> client): one struct for the eleven types, and the
 * encoder and decoder of their bodies.
 *
 * The server encodes its answers (protoResponseEncode; ROWS batches are
 * better written incrementally with the writer of rows.h) and the client
 * decodes what its reader framed (protoResponseDecode). Two bodies cannot be
 * decoded from their bytes alone, so the client says what it expects: the
 * legacy SERVER body (address only) on connections that shook hands with
 * the legacy version, and the SERVERS layout of the CLUSTER format it asked
 * for. A decoded response borrows the body: texts, lists, file contents and
 * rows point into it. Decoding never allocates.
 */
#ifndef PROTO_RESPONSE_H
#define PROTO_RESPONSE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/rows.h"
#include "proto/wire.h"

/* One entry of a SERVERS list (role: format 1 only). */
struct proto_node {
    uint64_t id;
    struct proto_text address;
    uint64_t role;
};

/* SERVERS: decoded, `wire` views the entries and `nodes` is NULL; to
 * encode, `nodes` holds `count` entries owned by the caller. */
struct proto_servers {
    uint64_t count;
    uint64_t format; /* 0: id + address, 1: id + address + role */
    const struct proto_node *nodes;
    struct proto_span wire;
};

/* One file of a FILES answer; `data` has `size` bytes (decoded: in the
 * body; to encode: the caller's). */
struct proto_file {
    struct proto_text name;
    uint64_t size;
    const uint8_t *data;
};

/* FILES: same convention as SERVERS. */
struct proto_files {
    uint64_t count;
    const struct proto_file *files;
    struct proto_span wire;
};

/* BACKUP (extension 64): `count` pages of `page_size` bytes, pages
 * `first` .. `first + count - 1` (0-based) of a database of `n_pages`; the
 * last chunk ends at n_pages. Decoded: page_size is 512..65536 and a power
 * of two, first + count <= n_pages <= PROTO_BACKUP_PAGES_MAX, the data is
 * exactly count * page_size bytes, at most PROTO_BACKUP_CHUNK_MAX. */
struct proto_backup {
    uint64_t page_size;
    uint64_t n_pages;
    uint64_t first;
    uint64_t count;
    const uint8_t *data; /* decoded: in the body; to encode: the caller's */
};

struct proto_response {
    uint8_t type;   /* enum proto_response_type */
    uint8_t schema; /* STMT: 0 or 1 (with tail offset); others 0 */
    union {
        struct {
            uint64_t code;
            struct proto_text message;
        } failure;
        struct {
            uint64_t id; /* not on the wire in the legacy body */
            struct proto_text address;
        } server;
        struct {
            uint64_t heartbeat_timeout_ms;
        } welcome;
        struct proto_servers servers;
        struct {
            uint32_t db_id;
        } db;
        struct {
            uint32_t db_id;
            uint32_t stmt_id;
            uint64_t n_params;
            uint64_t tail_offset; /* schema 1 only */
        } stmt;
        struct {
            uint64_t last_insert_id;
            uint64_t rows_affected;
        } result;
        struct proto_rows rows;
        struct {
            uint64_t unused;
        } empty;
        struct proto_files files;
        struct {
            uint64_t failure_domain;
            uint64_t weight;
        } metadata;
        struct proto_backup backup;
    };
};

/* What the receiver of a response knows from its own side. */
struct proto_expect {
    bool legacy;             /* handshake used PROTO_VERSION_LEGACY */
    uint64_t cluster_format; /* format of the CLUSTER request answered */
};

/* A zeroed response of `type`. */
void protoResponseInit(struct proto_response *r, uint8_t type);

/* Decodes a body framed by `h` (h->words * 8 == len); `expect` may be NULL
 * (version 1, CLUSTER format 1). The response borrows `body`. Errors:
 * ERR_PROTO_TYPE, ERR_PROTO_SCHEMA (any schema but STMT 0/1, others 0),
 * ERR_PROTO_EMPTY, ERR_PROTO_SHORT, ERR_PROTO_NONUL, ERR_PROTO_TEXT_LONG,
 * ERR_PROTO_FORMAT (expected CLUSTER format not 0 or 1), ERR_PROTO_NODES,
 * ERR_PROTO_FILES, ERR_PROTO_FILE_SHORT, and those of protoRowsDecode.
 * Trailing bytes are ignored except after a ROWS end marker. */
int protoResponseDecode(const struct proto_header *h, const uint8_t *body,
                        size_t len, const struct proto_expect *expect,
                        struct proto_response *r);

/* Appends header and body of `r` to `out` (the caller's), copying every
 * text, list and file. `expect` chooses the SERVER and SERVERS layouts as
 * for decoding (NULL: version 1; SERVERS uses r->servers.format). Errors:
 * ERR_PROTO_TYPE, ERR_PROTO_SCHEMA, ERR_PROTO_FORMAT, ERR_PROTO_NODES,
 * ERR_PROTO_FILES, ERR_PROTO_TEXT_NUL, ERR_PROTO_TEXT_LONG, the rows
 * writer's errors, ERR_NOMEM, ERR_TOOBIG; `out` is unchanged on error. */
int protoResponseEncode(const struct proto_response *r,
                        const struct proto_expect *expect, struct buf *out);

/* Iterators over decoded or caller-built lists; entries of a decoded list
 * point into the body. */
struct proto_servers_iter {
    const struct proto_servers *servers;
    uint64_t index;
    struct proto_dec dec;
};
void protoServersIterInit(struct proto_servers_iter *it,
                          const struct proto_servers *s);
bool protoServersIterNext(struct proto_servers_iter *it,
                          struct proto_node *node);

struct proto_files_iter {
    const struct proto_files *files;
    uint64_t index;
    struct proto_dec dec;
};
void protoFilesIterInit(struct proto_files_iter *it,
                        const struct proto_files *f);
bool protoFilesIterNext(struct proto_files_iter *it, struct proto_file *file);

#endif /* PROTO_RESPONSE_H */
