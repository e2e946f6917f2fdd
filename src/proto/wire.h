/*
 * Wire protocol v1: the vocabulary every other file of the codec shares.
 *
 * This header owns the constants of the dqlite client protocol (versions,
 * message type codes, value type codes, end markers), the named limits that
 * bound every length the decoders accept, and the small value types that
 * decoded messages are made of. The byte layouts themselves live in the
 * files that encode and decode them (docs/protocol.md maps them to the
 * specification, docs/wire-spec.md).
 *
 * Ownership, once for the whole module: a decoded message never owns
 * memory. Its texts, blobs and lists are views into the body bytes that were
 * decoded, and stay valid exactly as long as those bytes do. Encoders copy
 * what they are given into the caller's `struct buf` and keep no pointer.
 */
#ifndef PROTO_WIRE_H
#define PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ framing */

#define PROTO_WORD 8        /* every body is a whole number of words */
#define PROTO_HEADER_SIZE 8 /* words:u32 type:u8 schema:u8 extra:u16 */

/* Handshake words (the client's first 8 bytes). */
#define PROTO_VERSION 1
#define PROTO_VERSION_LEGACY 0x86104dd760433fe5ULL

/* ------------------------------------------------------------ limits */

/* Default cap on a request body, server side (blob parameters travel inline;
 * the spec asks for several MiB at least). */
#define PROTO_REQUEST_BODY_MAX ((size_t)64 << 20)
/* Default cap on a response body, client side: a DUMP answer carries a whole
 * database in one message. */
#define PROTO_RESPONSE_BODY_MAX (((size_t)1 << 30) - PROTO_HEADER_SIZE)
/* No reader accepts more than this, whatever it is configured with: the
 * newer reference's bound (byte length fits a u32), rounded to words. */
#define PROTO_BODY_HARD_MAX ((size_t)0xfffffff8)

/* Parameters per request: schema 0 carries at most 255; schema 1 is bounded
 * by the largest variable number a SQLite build may allow (Debian's
 * SQLITE_MAX_VARIABLE_NUMBER is 250000). */
#define PROTO_PARAMS_MAX_SCHEMA0 255
#define PROTO_PARAMS_MAX 250000
/* Columns per row: SQLite's hard upper bound for SQLITE_MAX_COLUMN. */
#define PROTO_COLUMNS_MAX 32767
/* Text and blob values: SQLite's default SQLITE_MAX_LENGTH. */
#define PROTO_TEXT_MAX 1000000000
#define PROTO_BLOB_MAX 1000000000
/* Rows a decoder accepts in one ROWS message. */
#define PROTO_ROWS_PER_BATCH_MAX (1 << 20)
/* Default ROWS batch size for encoders: the reference's page size. */
#define PROTO_ROWS_BATCH_BYTES 4096
/* Entries of a SERVERS list and files of a FILES answer. */
#define PROTO_NODES_MAX 65536
#define PROTO_FILES_MAX 16
/* A BACKUP chunk: SQLite's page sizes, and at most this many bytes of
 * pages (the server's chunks are smaller). */
#define PROTO_BACKUP_PAGE_MIN 512
#define PROTO_BACKUP_PAGE_MAX 65536
#define PROTO_BACKUP_CHUNK_MAX ((size_t)16 << 20)
/* SQLite's largest page count (4294967294). */
#define PROTO_BACKUP_PAGES_MAX 0xfffffffeu

/* ------------------------------------------------------------ type codes */

enum proto_request_type {
    PROTO_REQ_LEADER = 0,
    PROTO_REQ_CLIENT = 1,
    PROTO_REQ_HEARTBEAT = 2,
    PROTO_REQ_OPEN = 3,
    PROTO_REQ_PREPARE = 4,
    PROTO_REQ_EXEC = 5,
    PROTO_REQ_QUERY = 6,
    PROTO_REQ_FINALIZE = 7,
    PROTO_REQ_EXEC_SQL = 8,
    PROTO_REQ_QUERY_SQL = 9,
    PROTO_REQ_INTERRUPT = 10,
    PROTO_REQ_CONNECT = 11,
    PROTO_REQ_ADD = 12,
    PROTO_REQ_ASSIGN = 13,
    PROTO_REQ_REMOVE = 14,
    PROTO_REQ_DUMP = 15,
    PROTO_REQ_CLUSTER = 16,
    PROTO_REQ_TRANSFER = 17,
    PROTO_REQ_DESCRIBE = 18,
    PROTO_REQ_WEIGHT = 19,
    PROTO_REQ_COUNT_ = 20,
    /* Extensions of this implementation (docs/protocol.md, "Extensions"). */
    PROTO_REQ_BACKUP = 64
};

enum proto_response_type {
    PROTO_RESP_FAILURE = 0,
    PROTO_RESP_SERVER = 1,
    PROTO_RESP_WELCOME = 2,
    PROTO_RESP_SERVERS = 3,
    PROTO_RESP_DB = 4,
    PROTO_RESP_STMT = 5,
    PROTO_RESP_RESULT = 6,
    PROTO_RESP_ROWS = 7,
    PROTO_RESP_EMPTY = 8,
    PROTO_RESP_FILES = 9,
    PROTO_RESP_METADATA = 10,
    PROTO_RESP_COUNT_ = 11,
    /* Extensions of this implementation (docs/protocol.md, "Extensions"). */
    PROTO_RESP_BACKUP = 64
};

/* Value type codes (1-5 are SQLite's fundamental types). */
enum proto_value_type {
    PROTO_INTEGER = 1,
    PROTO_FLOAT = 2,
    PROTO_TEXT = 3,
    PROTO_BLOB = 4,
    PROTO_NULL = 5,
    PROTO_UNIXTIME = 9, /* rows only */
    PROTO_ISO8601 = 10,
    PROTO_BOOLEAN = 11
};

/* Last word of a ROWS body. */
#define PROTO_ROWS_DONE 0xffffffffffffffffULL
#define PROTO_ROWS_PART 0xeeeeeeeeeeeeeeeeULL

/* Node roles (SERVERS format 1, ASSIGN). */
enum proto_role { PROTO_VOTER = 0, PROTO_STANDBY = 1, PROTO_SPARE = 2 };

/* ------------------------------------------------------------ values */

/* A message header. `extra` is reserved: written 0, ignored on read. */
struct proto_header {
    uint32_t words;
    uint8_t type;
    uint8_t schema;
    uint16_t extra;
};

/* A string. Decoded: points into the body, and data[len] is the NUL that
 * terminated it on the wire. To encode: any `len` bytes without a NUL. */
struct proto_text {
    const char *data;
    size_t len;
};

/* A byte range (blob contents, file contents, raw tuple views). */
struct proto_span {
    const uint8_t *data;
    size_t len;
};

/* One parameter or column value; `type` selects the member:
 * INTEGER and UNIXTIME use `integer`, FLOAT `real`, TEXT and ISO8601
 * `text`, BLOB `blob`, BOOLEAN `boolean`; NULL uses none. */
struct proto_value {
    uint8_t type;
    union {
        int64_t integer;
        double real;
        bool boolean;
        struct proto_text text;
        struct proto_span blob;
    };
};

/* Builds a proto_text from a C string (no copy). */
struct proto_text protoText(const char *s);

/* Whether `type` may appear in a parameter tuple / a row. */
bool protoParamTypeValid(unsigned type);
bool protoRowTypeValid(unsigned type);

/* Header of 8 bytes at `p` (the caller guarantees they exist). */
void protoHeaderGet(const uint8_t *p, struct proto_header *h);
void protoHeaderPut(uint8_t *p, const struct proto_header *h);

/* Whether an error from a request decoder leaves the connection usable: the
 * request can be answered with a FAILURE (unknown type, unknown schema, a
 * bad parameter tuple — the reference's code 1005 cases). Every other code
 * means the bytes cannot be trusted and the connection should be closed. */
bool protoErrAnswerable(int rv);

/* FAILURE codes the codec's answerable errors map to (spec §7.2). */
#define PROTO_CODE_ERROR 1    /* generic (SQLITE_ERROR) */
#define PROTO_CODE_PARSE 1005 /* DQLITE_PARSE */

/* The FAILURE a server sends for an answerable decoding error `rv` of a
 * request of type `request_type`, as the spec recommends: 1005
 * "unrecognized request type"; "unrecognized schema version" with code 1
 * for PREPARE/EXEC/QUERY/EXEC_SQL/QUERY_SQL and 1005 otherwise; 1005 and the
 * error's own text for parameter tuples. *message is static. Returns false
 * (and sets nothing) when `rv` is not answerable: close the connection. */
bool protoErrFailure(int rv, uint8_t request_type, uint64_t *code,
                     const char **message);

#endif /* PROTO_WIRE_H */
