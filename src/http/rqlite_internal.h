/* Internal to rqlite's data API (src/http/rqlite*.c, docs/http-api.md):
 * the decoded request, the JSON encoding of results, the pool of client
 * connections that runs them, and basic auth with per-user permissions.
 *
 * Layering inside the API:
 *   rqlite_request.c   query string and body -> struct rq_request (bounded)
 *   rqlite_response.c  values, results and errors -> rqlite's JSON shapes
 *   rqlite_exec.c      the connection pool and the statements' execution
 *   rqlite_auth.c      auth.json and the Authorization header
 *   rqlite.c           the routes: permissions, then decode, run, answer
 *
 * Why split: the decoder and the encoder are pure (no node needed), so
 * they are unit-tested on JSON in and out and the decoder is fuzzed
 * (test/fuzz/http_rqlite_request.c). */
#ifndef HTTP_RQLITE_INTERNAL_H_
#define HTTP_RQLITE_INTERNAL_H_

#include <dqlite_client.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "http/rqlite.h"

/* ------------------------------------------------------------ bounds */

/* Body of a /db/ request (larger: 413 from the listener). */
#define RQ_BODY_MAX (16u * 1024u * 1024u)
/* Body of /db/load: spooled by the listener to a temporary file, then a
 * SQLite file is streamed from it to the cluster (one chunk in memory); a
 * SQL dump, run as one text, is held in memory up to RQ_BODY_MAX. */
#define RQ_LOAD_BODY_MAX (64ull * 1024u * 1024u * 1024u)
/* Statements in one request: a batch of more is refused with 413 before
 * anything runs (rqlite has no such bound; docs/http-api.md). */
#define RQ_STATEMENTS_MAX 100000u
/* Parameters of one statement (SQLite's default SQLITE_MAX_VARIABLE_NUMBER). */
#define RQ_PARAMS_MAX 32766u
/* Bytes of one BLOB parameter given as an array of byte values. */
#define RQ_BLOB_PARAM_MAX (1u << 20)
/* Estimated bytes of one query's result set held before it is answered:
 * beyond, the statement's result is an error (never an out-of-memory). */
#define RQ_RESULT_MAX_BYTES (64u * 1024u * 1024u)
/* Database name (the `db` query parameter; dqlite's OPEN allows 255). */
#define RQ_DB_NAME_MAX 255u
#define RQ_DB_DEFAULT "db"
/* Connections of the pool (each one a dqlite_conn to the leader). */
#define RQ_POOL_DEFAULT 8u
#define RQ_POOL_MAX 64u
/* How long a request waits for a free connection before 503. */
#define RQ_POOL_WAIT_MS 10000u
/* Per-call timeout of the pooled connections (the node bounds statements
 * itself: dqlited --statement-timeout), and the largest `timeout=`. */
#define RQ_CALL_TIMEOUT_MS 60000u
#define RQ_TIMEOUT_MAX_MS 3600000u
/* Users in auth.json. */
#define RQ_AUTH_USERS_MAX 1024u

/* ------------------------------------------------------------ request */

enum rq_kind {
    RQ_EXECUTE, /* /db/execute: every statement as a write */
    RQ_QUERY,   /* /db/query: every statement as a read */
    RQ_REQUEST, /* /db/request: each statement by its first keyword */
};

/* rqlite's read consistency levels (`level=`). */
enum rq_level {
    RQ_LEVEL_NONE,
    RQ_LEVEL_WEAK, /* rqlite's default */
    RQ_LEVEL_LINEARIZABLE,
    RQ_LEVEL_STRONG,
};

struct rq_stmt {
    char *sql;                   /* owned; named parameters rewritten to ?NNN */
    struct dqlite_value *params; /* owned, n_params; texts and blobs point
                                    into the request's JSON or `blobs` */
    unsigned n_params;
    void *blob;  /* owned: the bytes of BLOB parameters given as arrays */
    bool read;   /* first keyword reads (SELECT, WITH, PRAGMA...) */
    bool dml;    /* first keyword may change rows (rqSqlChangesRows) */
    bool single; /* one statement (rqSqlSingle) */
};

struct rq_request {
    enum rq_kind kind;
    json_t *root; /* the parsed body (owns the parameters' texts) */
    struct rq_stmt *stmts;
    unsigned n;
    char db[RQ_DB_NAME_MAX + 1];
    enum rq_level level;
    bool transaction;
    bool timings;
    bool pretty;
    bool associative;
    bool blob_array;
    bool redirect;
    unsigned timeout_ms; /* rqlite's `timeout` (a Go duration); 0: default */
    /* Set by the route, not decoded: the caller may read but not write,
     * so reads run inside BEGIN ... ROLLBACK (nothing they might write
     * can commit). */
    bool sandbox;
};

/* Flags of the query string only (every route has `pretty`). */
bool rqArgFlag(const struct http_request *req, const char *name);

/* Decodes `req` into `out` (the caller frees it with rqRequestFree, also
 * on failure). Returns 0, or the HTTP status to answer (400, 413) with
 * `err` saying why. Nothing of the request has run yet. */
int rqRequestDecode(struct rq_request *out, enum rq_kind kind,
                    const struct http_request *req, char *err, size_t err_len);
void rqRequestFree(struct rq_request *r);

/* Rewrites the named parameters (:name, @name, $name) of `sql` to ?NNN,
 * numbered by first appearance, skipping string literals, quoted
 * identifiers and comments. *out (libMalloc) gets the new SQL and
 * names[i] (pointing into `sql`, length names_len[i]) the i-th name
 * without its prefix; *n the number found (at most `max`). Returns 0, or
 * -E2BIG (more than max names), -ENOMEM. */
int rqSqlRewriteNamed(const char *sql, char **out, const char **names,
                      size_t *names_len, unsigned max, unsigned *n);

/* Whether the first keyword of `sql` (after comments and spaces) reads:
 * SELECT, WITH, PRAGMA, EXPLAIN, VALUES. */
bool rqSqlIsRead(const char *sql);

/* Whether the first keyword may change rows (INSERT, UPDATE, DELETE,
 * REPLACE, WITH): other statements answer {} as rqlite's do, where SQLite's
 * counters would still hold the previous statement's figures. */
bool rqSqlChangesRows(const char *sql);

/* Whether `sql` holds one statement (nothing but spaces and comments after
 * its first ';' outside literals): only those are prepared and cached. */
bool rqSqlSingle(const char *sql);

/* ------------------------------------------------------------ response */

/* A row value as rqlite writes it: numbers, text (invalid UTF-8 replaced
 * by U+FFFD, as Go does), null, BLOBs as base64 or (blob_array) arrays of
 * byte values. NULL on out-of-memory. */
json_t *rqValueJson(const struct dqlite_value *v, bool blob_array);
/* The type name of a column as rqlite writes it ("integer", "real",
 * "text", "blob", "" unknown) from our client's type name. */
const char *rqTypeName(const char *client_type_name);
/* {"error": msg} */
json_t *rqErrorResult(const char *msg);
/* {"last_insert_id": .., "rows_affected": ..} (+ "time"), zeros left out */
json_t *rqExecResult(int64_t last_insert_id, int64_t rows_affected,
                     bool timings, double seconds);
/* Sets the response to the JSON of `root` (stolen), indented if pretty. */
void rqRespondJson(struct http_response *res, int status, json_t *root,
                   bool pretty);
/* A plain-text error (rqlite's 4xx/5xx bodies are text). */
void rqRespondText(struct http_response *res, int status, const char *msg);

/* ------------------------------------------------------------ exec */

/* Prepared statements kept per connection, for statements with
 * parameters (a batch of one INSERT repeated prepares it once). */
#define RQ_STMT_CACHE 16u

struct rq_cached {
    char *sql; /* libMalloc; NULL: free entry */
    struct dqlite_stmt *stmt;
    uint64_t used; /* the slot's clock at last use (least recent goes) */
};

struct rq_slot {
    struct dqlite_conn *conn; /* NULL until first used */
    char db[RQ_DB_NAME_MAX + 1];
    bool busy;
    struct rq_cached cache[RQ_STMT_CACHE];
    uint64_t clock;
};

/* The slot's prepared statement of `sql` (prepared now if missing; the
 * least recently used one is closed when the cache is full). NULL with
 * *rv the client's code when the prepare failed. */
struct dqlite_stmt *rqSlotStmt(struct rq_slot *slot, const char *sql, int *rv);

struct rq_pool {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    struct rq_slot slots[RQ_POOL_MAX];
    unsigned n_slots;
    unsigned wait_ms;
};

int rqPoolInit(struct rq_pool *p, const struct http_rqlite_config *config,
               char *errmsg, size_t errmsg_len);
void rqPoolClose(struct rq_pool *p);
/* A connection to database `db`, reserved for the caller: NULL when
 * none freed up within the wait (*err says why). */
struct rq_slot *rqPoolAcquire(struct rq_pool *p, const char *db, char *err,
                              size_t err_len);
/* Gives the slot back; `broken`: close its connection. */
void rqPoolRelease(struct rq_pool *p, struct rq_slot *slot, bool broken);

/* Runs the decoded request and answers `res` with rqlite's shapes. */
void rqExecute(struct rq_pool *p, const struct rq_request *r,
               struct http_response *res);

/* GET /db/backup?fmt=sql: database `db` as SQL text (schema and one
 * INSERT per row), read in one transaction; at most RQ_RESULT_MAX_BYTES. */
void rqBackupSql(struct rq_pool *p, const char *db, struct http_response *res);
/* GET /db/backup: database `db` as a SQLite file (the client's
 * dqlite_client_backup() into an unlinked temporary file), streamed:
 * res->reader, any size. */
void rqBackupFile(struct rq_pool *p, const char *db, struct http_response *res);
/* POST /db/load: a body opening with SQLite's header replaces database
 * `db` through dqlite_client_load_stream() (one replicated load); any
 * other body is a SQL dump for rqLoadSql(). */
void rqLoad(struct rq_pool *p, const char *db, const struct http_request *req,
            struct http_response *res);
/* POST /db/load: runs a SQL dump (NUL-terminated) as one execute. */
void rqLoadSql(struct rq_pool *p, const char *db, const char *sql,
               struct http_response *res);

/* ------------------------------------------------------------ auth */

enum {
    RQ_PERM_EXECUTE = 1u << 0,
    RQ_PERM_QUERY = 1u << 1,
    RQ_PERM_BACKUP = 1u << 2,
    RQ_PERM_LOAD = 1u << 3,
    RQ_PERM_STATUS = 1u << 4,
    RQ_PERM_JOIN = 1u << 5,
    RQ_PERM_REMOVE = 1u << 6,
    RQ_PERM_READY = 1u << 7,
    RQ_PERM_ALL = 0xffffu,
};

struct rq_auth;

/* Parses rqlite's auth.json text: an array of {"username", "password",
 * "perms": [...]}; username "*" grants its perms to every request. */
int rqAuthParse(struct rq_auth **out, const char *text, size_t len, char *err,
                size_t err_len);
int rqAuthLoad(struct rq_auth **out, const char *path, char *err,
               size_t err_len);
void rqAuthFree(struct rq_auth *a);
/* Whether the request (its Authorization header, may be NULL) holds
 * `perm`. A NULL auth allows everything. */
bool rqAuthAllowed(const struct rq_auth *a, const char *authorization,
                   unsigned perm);

#endif /* HTTP_RQLITE_INTERNAL_H_ */
