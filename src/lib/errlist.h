/*
 * THE list of internal error codes: one X(name, value, message) row each.
 * err.h turns it into an enum and err.c into errString(). Add a code here and
 * only here, in the range of your module, so values stay stable across
 * versions (they appear in logs and in FAILURE responses' text).
 *
 * Ranges: 1-99 generic, 100-199 raft, 200-299 raftio, 300-399 proto,
 * 400-499 vfs/repl, 500-599 server, 600-699 client.
 */
#define LIB_ERRLIST(X)                                                       \
    X(ERR_NOMEM, 1, "out of memory")                                         \
    X(ERR_INVALID, 2, "invalid argument")                                    \
    X(ERR_MISUSE, 3, "API misuse")                                           \
    X(ERR_MALFORMED, 4, "malformed input")                                   \
    X(ERR_TOOBIG, 5, "limit exceeded")                                       \
    X(ERR_AGAIN, 6, "more input needed")                                     \
    X(ERR_NOTFOUND, 7, "not found")                                          \
    X(ERR_EXISTS, 8, "already exists")                                       \
    X(ERR_IO, 9, "I/O error")                                                \
    X(ERR_NOSPACE, 10, "no space left on device")                            \
    X(ERR_CORRUPT, 11, "data corrupted")                                     \
    X(ERR_BUSY, 12, "busy")                                                  \
    X(ERR_TIMEOUT, 13, "timed out")                                          \
    X(ERR_CANCELED, 14, "canceled")                                          \
    X(ERR_SHUTDOWN, 15, "shutting down")                                     \
    X(ERR_NOCONN, 16, "no connection")                                       \
    X(ERR_UNSUPPORTED, 17, "unsupported")                                    \
    X(ERR_NOSPACE_UNKNOWN, 500, "disk full with the entry in flight")        \
    X(ERR_READ_UNCONFIRMED, 501,                                             \
      "follower read refused: the leader did not confirm a read index "      \
      "within the election timeout")                                         \
    X(ERR_READ_STALE, 502,                                                   \
      "follower read refused: this node last caught up with the leader "     \
      "longer ago than the bound")                                           \
    X(ERR_READ_BEHIND, 503,                                                  \
      "follower read refused: not caught up with the leader's read index "   \
      "within two election timeouts")                                        \
    X(ERR_CLIENT_FAILURE, 600, "the server answered with a failure")         \
    X(ERR_CLIENT_NOTLEADER, 601, "server is not the leader")                 \
    X(ERR_CLIENT_NOLEADER, 602, "no leader available")                       \
    X(ERR_CLIENT_TXCUT, 603, "transaction cut by a leader change")           \
    X(ERR_CLIENT_PROTO, 604, "unexpected answer from the server")            \
    X(ERR_CLIENT_STORE, 605, "server store failure")                         \
    X(ERR_CLIENT_EOF, 606, "connection closed by the server")                \
    X(ERR_CLIENT_CANCELLED, 607, "cancelled")                                \
    X(ERR_PROTO_VERSION, 300, "unsupported protocol version")                \
    X(ERR_PROTO_EMPTY, 301, "empty message body")                            \
    X(ERR_PROTO_TOOBIG, 302, "message larger than the limit")                \
    X(ERR_PROTO_SHORT, 303, "message body too short")                        \
    X(ERR_PROTO_NONUL, 304, "text without terminator")                       \
    X(ERR_PROTO_TYPE, 305, "unrecognized message type")                      \
    X(ERR_PROTO_SCHEMA, 306, "unrecognized schema version")                  \
    X(ERR_PROTO_PARAM_TYPE, 307, "invalid parameter type")                   \
    X(ERR_PROTO_PARAM_COUNT, 308, "too many parameters")                     \
    X(ERR_PROTO_PARAM_SHORT, 309, "parameter tuple truncated")               \
    X(ERR_PROTO_PARAM_LONG, 310, "parameter value too long")                 \
    X(ERR_PROTO_VALUE_TYPE, 311, "invalid row value type")                   \
    X(ERR_PROTO_COLUMNS, 312, "too many columns")                            \
    X(ERR_PROTO_TEXT_LONG, 313, "text too long")                             \
    X(ERR_PROTO_BLOB_LONG, 314, "blob too long")                             \
    X(ERR_PROTO_MARKER, 315, "missing or bad ROWS end marker")               \
    X(ERR_PROTO_TRAILING, 316, "bytes after ROWS end marker")                \
    X(ERR_PROTO_ROWS, 317, "too many rows in one batch")                     \
    X(ERR_PROTO_ROW_SHORT, 318, "row truncated")                             \
    X(ERR_PROTO_NODES, 319, "too many nodes")                                \
    X(ERR_PROTO_FILES, 320, "too many files")                                \
    X(ERR_PROTO_FILE_SHORT, 321, "file content truncated")                   \
    X(ERR_PROTO_FORMAT, 322, "unrecognized cluster format")                  \
    X(ERR_PROTO_TEXT_NUL, 323, "text contains a NUL byte")                   \
    X(ERR_PROTO_BACKUP, 324, "malformed backup chunk")                       \
    X(ERR_NOTLEADER, 100, "not leader")                                      \
    X(ERR_LEADERSHIP_LOST, 101, "leadership lost")                           \
    X(ERR_CONFIG_BUSY, 102, "a configuration change is already in progress") \
    X(ERR_BAD_ROLE, 103, "bad role")                                         \
    X(ERR_UNKNOWN_NODE, 104, "unknown node")                                 \
    X(ERR_DUPLICATE_NODE, 105, "node already in configuration")              \
    X(ERR_TOO_FAR_BEHIND, 106, "log entry already compacted")                \
    X(ERR_LOG_CORRUPT, 200, "acknowledged log entry corrupted or missing")   \
    X(ERR_META_CORRUPT, 201, "raft metadata file corrupted")                 \
    X(ERR_SNAPSHOT_CORRUPT, 202, "snapshot file corrupted")                  \
    X(ERR_DISK_VERSION, 203, "unsupported on-disk format version")           \
    X(ERR_LOG_FAILED, 204, "log stopped after an I/O error, reopen it")      \
    X(ERR_FRAME, 210, "malformed raft peer frame")                           \
    X(ERR_HANDSHAKE, 211, "bad raft peer handshake")                         \
    X(ERR_CLUSTER_MISMATCH, 212, "peer belongs to another cluster")          \
    X(ERR_SENDQ_FULL, 213, "peer send queue full")                           \
    X(ERR_UNREACHABLE, 214, "no stream to the peer and no dialling")
