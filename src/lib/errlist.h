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
    X(ERR_NOTLEADER, 100, "not leader")                                      \
    X(ERR_LEADERSHIP_LOST, 101, "leadership lost")                           \
    X(ERR_CONFIG_BUSY, 102, "a configuration change is already in progress") \
    X(ERR_BAD_ROLE, 103, "bad role")                                         \
    X(ERR_UNKNOWN_NODE, 104, "unknown node")                                 \
    X(ERR_DUPLICATE_NODE, 105, "node already in configuration")              \
    X(ERR_TOO_FAR_BEHIND, 106, "log entry already compacted")
