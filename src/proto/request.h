/*
 * Requests (client -> server): one struct for all twenty types (and the
 * extension BACKUP, 64), and the
 * encoder and decoder of their bodies.
 *
 * The server decodes what its reader framed (protoRequestDecode) and the
 * client encodes what it sends (protoRequestEncode). A decoded request
 * borrows the body: its texts and its parameter tuple point into it, so the
 * body must outlive the request (with the reader: until the next call on
 * it). Decoding never allocates.
 */
#ifndef PROTO_REQUEST_H
#define PROTO_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/params.h"
#include "proto/wire.h"

/* EXEC (5), QUERY (6): a prepared statement and its parameters. */
struct proto_req_stmt {
    uint32_t db_id;
    uint32_t stmt_id;
    struct proto_params params;
};

/* EXEC_SQL (8), QUERY_SQL (9): SQL text and its parameters. */
struct proto_req_sql {
    uint64_t db_id;
    struct proto_text sql;
    struct proto_params params;
};

/* CONNECT (11), ADD (12): a node and its address. */
struct proto_req_node {
    uint64_t id;
    struct proto_text address;
};

struct proto_request {
    uint8_t type;   /* enum proto_request_type */
    uint8_t schema; /* 1 allowed for PREPARE and the four SQL requests */
    union {
        struct {
            uint64_t unused;
        } leader;
        struct {
            uint64_t id;
        } client;
        struct {
            uint64_t timestamp;
        } heartbeat;
        struct {
            struct proto_text name;
            uint64_t flags;
            struct proto_text vfs;
        } open;
        struct {
            uint64_t db_id;
            struct proto_text sql;
        } prepare;
        struct proto_req_stmt exec;  /* also QUERY */
        struct proto_req_stmt query; /* same layout as exec */
        struct {
            uint32_t db_id;
            uint32_t stmt_id;
        } finalize;
        struct proto_req_sql exec_sql;  /* also QUERY_SQL */
        struct proto_req_sql query_sql; /* same layout as exec_sql */
        struct {
            uint64_t db_id;
        } interrupt;
        struct proto_req_node connect;
        struct proto_req_node add;
        struct {
            uint64_t id;
            bool has_role; /* false: the one-word PROMOTE form (voter) */
            uint64_t role;
        } assign;
        struct {
            uint64_t id;
        } remove;
        struct {
            struct proto_text name;
        } dump;
        struct {
            uint64_t format;
        } cluster;
        struct {
            uint64_t id;
        } transfer;
        struct {
            uint64_t format;
        } describe;
        struct {
            uint64_t weight;
        } weight;
        struct {
            struct proto_text name;
            uint64_t flags; /* 0; others reserved */
        } backup;
    };
};

/* A zeroed request of `type`, schema 0, empty parameter tuples. */
void protoRequestInit(struct proto_request *r, uint8_t type);

/* Decodes a body framed by `h` (h->words * 8 == len). The request borrows
 * `body`. Errors:
 *   ERR_PROTO_TYPE      unknown request type (answerable: FAILURE 1005)
 *   ERR_PROTO_SCHEMA    schema not defined for the type (answerable)
 *   ERR_PROTO_PARAM_*   bad parameter tuple (answerable: FAILURE 1005)
 *   ERR_PROTO_EMPTY     empty body (close the connection)
 *   ERR_PROTO_SHORT, ERR_PROTO_NONUL, ERR_PROTO_TEXT_LONG
 *                       fixed fields cannot be decoded (close)
 * protoErrAnswerable() tells the two groups apart. Trailing bytes after the
 * fields are ignored, as the reference and go-dqlite do. On error `r` is
 * left with its type and schema set and no valid views. */
int protoRequestDecode(const struct proto_header *h, const uint8_t *body,
                       size_t len, struct proto_request *r);

/* Appends the header and body of `r` to `out` (the caller's buffer). Texts
 * and parameters are copied; padding is zeroed. Errors: ERR_PROTO_TYPE,
 * ERR_PROTO_SCHEMA, ERR_PROTO_TEXT_NUL, ERR_PROTO_TEXT_LONG,
 * ERR_PROTO_BLOB_LONG, ERR_PROTO_PARAM_COUNT, ERR_PROTO_PARAM_TYPE,
 * ERR_NOMEM, ERR_TOOBIG; `out` is unchanged on error. */
int protoRequestEncode(const struct proto_request *r, struct buf *out);

/* Appends the handshake word (PROTO_VERSION or PROTO_VERSION_LEGACY). */
int protoHandshakeEncode(uint64_t version, struct buf *out);

/* Checks a received handshake word: ERR_PROTO_VERSION if unknown. */
int protoHandshakeDecode(const uint8_t word[8], uint64_t *version);

#endif /* PROTO_REQUEST_H */
