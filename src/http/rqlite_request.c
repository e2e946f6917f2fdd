/* Decoding of rqlite's requests (docs/http-api.md, "Requests"): the query
 * string's flags and level, the database name, and the body (a JSON array
 * of statements, each a string or an array [sql, params...] whose params
 * are values by position or one object of named values; or SQL as
 * text/plain; or GET's `q`). Every count and length is bounded before
 * anything is run, so a bad request is refused whole. JSON parsing is
 * jansson's; the only text scanned here is SQL, for its named parameters
 * and first keyword. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/rqlite_internal.h"
#include "lib/alloc.h"
#include "lib/assert.h"

bool rqArgFlag(const struct http_request *req, const char *name)
{
    const char *v = req->arg(req, name);
    if (v == NULL) {
        return false;
    }
    /* rqlite's flags are present-or-not (`?pretty`); an explicit false
     * turns one off. */
    return strcmp(v, "false") != 0 && strcmp(v, "0") != 0;
}

static int fail(char *err, size_t err_len, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t err_len, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return status;
}

static int decodeLevel(const char *v, enum rq_level *out)
{
    static const struct {
        const char *name;
        enum rq_level level;
    } levels[] = {
        {"none", RQ_LEVEL_NONE},
        {"weak", RQ_LEVEL_WEAK},
        {"linearizable", RQ_LEVEL_LINEARIZABLE},
        {"strong", RQ_LEVEL_STRONG},
    };
    if (v == NULL || v[0] == '\0') {
        *out = RQ_LEVEL_WEAK;
        return 0;
    }
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (strcmp(v, levels[i].name) == 0) {
            *out = levels[i].level;
            return 0;
        }
    }
    return -EINVAL;
}

/* rqlite's `timeout`: a Go duration of one unit ("500ms", "2s", "1m"). */
static int decodeTimeout(const char *v, unsigned *ms)
{
    static const struct {
        const char *unit;
        unsigned long long ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    char *end;
    *ms = 0;
    if (v == NULL || v[0] == '\0') {
        return 0;
    }
    if (v[0] < '0' || v[0] > '9') {
        return -EINVAL;
    }
    unsigned long long n = strtoull(v, &end, 10);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0 && n <= RQ_TIMEOUT_MAX_MS) {
            unsigned long long total = n * units[i].ms;
            if (total == 0 || total > RQ_TIMEOUT_MAX_MS) {
                return -EINVAL;
            }
            *ms = (unsigned)total;
            return 0;
        }
    }
    return -EINVAL;
}

static int decodeArgs(struct rq_request *r, const struct http_request *req,
                      char *err, size_t err_len)
{
    const char *db = req->arg(req, "db");
    if (db == NULL || db[0] == '\0') {
        db = RQ_DB_DEFAULT;
    }
    if (strlen(db) > RQ_DB_NAME_MAX) {
        return fail(err, err_len, 400, "database name longer than %u bytes",
                    RQ_DB_NAME_MAX);
    }
    strcpy(r->db, db);
    if (decodeLevel(req->arg(req, "level"), &r->level) != 0) {
        return fail(err, err_len, 400,
                    "unknown level: use none, weak, linearizable or strong");
    }
    /* `atomic` is its older name (rqlite-js still sends it). */
    r->transaction = rqArgFlag(req, "transaction") || rqArgFlag(req, "atomic");
    if (decodeTimeout(req->arg(req, "timeout"), &r->timeout_ms) != 0) {
        return fail(err, err_len, 400,
                    "timeout: want a duration such as 500ms, 2s or 1m, at "
                    "most 1h");
    }
    r->timings = rqArgFlag(req, "timings");
    r->pretty = rqArgFlag(req, "pretty");
    r->associative = rqArgFlag(req, "associative");
    r->blob_array = rqArgFlag(req, "blob_array");
    r->redirect = rqArgFlag(req, "redirect");
    return 0;
}

/* One parameter value from JSON. Texts point into `j` (kept alive by the
 * request's root). An array of byte values becomes a BLOB copied into
 * *blob (grown). */
static int decodeValue(json_t *j, struct dqlite_value *v, char *err,
                       size_t err_len)
{
    switch (json_typeof(j)) {
    case JSON_STRING:
        v->type = DQLITE_CLIENT_TEXT;
        v->text.data = json_string_value(j);
        v->text.len = json_string_length(j);
        if (memchr(v->text.data, '\0', v->text.len) != NULL) {
            return fail(err, err_len, 400,
                        "a text parameter holds a NUL character");
        }
        return 0;
    case JSON_INTEGER:
        v->type = DQLITE_CLIENT_INTEGER;
        v->integer = (int64_t)json_integer_value(j);
        return 0;
    case JSON_REAL:
        v->type = DQLITE_CLIENT_FLOAT;
        v->real = json_real_value(j);
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        v->type = DQLITE_CLIENT_INTEGER;
        v->integer = json_is_true(j) ? 1 : 0;
        return 0;
    case JSON_NULL:
        v->type = DQLITE_CLIENT_NULL;
        return 0;
    case JSON_ARRAY:
        v->type = DQLITE_CLIENT_BLOB; /* bytes filled by decodeBlob */
        return 0;
    default:
        return fail(err, err_len, 400,
                    "a parameter is an object where a value was expected");
    }
}

/* The bytes of a BLOB parameter given as [0..255, ...]. */
static int decodeBlob(json_t *j, struct dqlite_value *v, unsigned char *dst,
                      char *err, size_t err_len)
{
    size_t n = json_array_size(j);
    for (size_t i = 0; i < n; i++) {
        json_t *b = json_array_get(j, i);
        if (!json_is_integer(b) || json_integer_value(b) < 0 ||
            json_integer_value(b) > 255) {
            return fail(err, err_len, 400,
                        "a BLOB parameter must be an array of byte values "
                        "(0 to 255)");
        }
        dst[i] = (unsigned char)json_integer_value(b);
    }
    v->blob.data = dst;
    v->blob.len = n;
    return 0;
}

/* Decodes `vals[0..n)` into s->params, BLOB bytes in one allocation. */
static int decodeParams(struct rq_stmt *s, json_t **vals, unsigned n, char *err,
                        size_t err_len)
{
    size_t blob_bytes = 0;
    int rv;
    if (n == 0) {
        return 0;
    }
    s->params = libCalloc(n, sizeof *s->params);
    if (s->params == NULL) {
        return fail(err, err_len, 500, "out of memory");
    }
    s->n_params = n;
    for (unsigned i = 0; i < n; i++) {
        if (vals[i] == NULL) {
            s->params[i].type = DQLITE_CLIENT_NULL; /* named, not given */
            continue;
        }
        rv = decodeValue(vals[i], &s->params[i], err, err_len);
        if (rv != 0) {
            return rv;
        }
        if (json_is_array(vals[i])) {
            blob_bytes += json_array_size(vals[i]);
            if (json_array_size(vals[i]) > RQ_BLOB_PARAM_MAX) {
                return fail(err, err_len, 413,
                            "a BLOB parameter is larger than %u bytes",
                            RQ_BLOB_PARAM_MAX);
            }
        }
    }
    if (blob_bytes == 0) {
        return 0;
    }
    s->blob = libMalloc(blob_bytes);
    if (s->blob == NULL) {
        return fail(err, err_len, 500, "out of memory");
    }
    unsigned char *dst = s->blob;
    for (unsigned i = 0; i < n; i++) {
        if (vals[i] != NULL && json_is_array(vals[i])) {
            rv = decodeBlob(vals[i], &s->params[i], dst, err, err_len);
            if (rv != 0) {
                return rv;
            }
            dst += json_array_size(vals[i]);
        }
    }
    return 0;
}

/* [sql, {"name": value, ...}]: names rewritten to ?NNN, values by name
 * (a name not in the object binds NULL, as SQLite leaves it). */
static int decodeNamed(struct rq_stmt *s, json_t *obj, char *err,
                       size_t err_len)
{
    const char **names = NULL;
    size_t *lens = NULL;
    json_t **vals = NULL;
    char *sql = NULL;
    unsigned n = 0;
    int rv = 500;
    /* At most one name per prefix character of the SQL. */
    unsigned max = 1;
    for (const char *c = s->sql; *c != '\0' && max < RQ_PARAMS_MAX + 1; c++) {
        max += (*c == ':' || *c == '@' || *c == '$');
    }
    names = libCalloc(max, sizeof *names);
    lens = libCalloc(max, sizeof *lens);
    if (names == NULL || lens == NULL) {
        fail(err, err_len, 500, "out of memory");
        goto out;
    }
    int r = rqSqlRewriteNamed(s->sql, &sql, names, lens,
                              max < RQ_PARAMS_MAX ? max : RQ_PARAMS_MAX, &n);
    if (r == -E2BIG) {
        rv = fail(err, err_len, 413, "more than %u named parameters",
                  RQ_PARAMS_MAX);
        goto out;
    }
    if (r == -EINVAL) {
        rv = fail(err, err_len, 400,
                  "a statement with named parameters also uses ?");
        goto out;
    }
    if (r != 0) {
        fail(err, err_len, 500, "out of memory");
        goto out;
    }
    vals = libCalloc(n + 1, sizeof *vals);
    if (vals == NULL) {
        fail(err, err_len, 500, "out of memory");
        goto out;
    }
    for (unsigned i = 0; i < n; i++) {
        /* rqlite's keys are the names without their prefix; with it is
         * accepted too. */
        vals[i] = json_object_getn(obj, names[i], lens[i]);
        if (vals[i] == NULL) {
            vals[i] = json_object_getn(obj, names[i] - 1, lens[i] + 1);
        }
    }
    libFree(s->sql);
    s->sql = sql;
    sql = NULL;
    rv = decodeParams(s, vals, n, err, err_len);
out:
    libFree(sql);
    libFree(vals);
    libFree(lens);
    libFree(names);
    return rv;
}

static int setSql(struct rq_stmt *s, const char *sql, size_t len, char *err,
                  size_t err_len)
{
    if (memchr(sql, '\0', len) != NULL) {
        return fail(err, err_len, 400, "a statement holds a NUL character");
    }
    s->sql = libMalloc(len + 1);
    if (s->sql == NULL) {
        return fail(err, err_len, 500, "out of memory");
    }
    memcpy(s->sql, sql, len);
    s->sql[len] = '\0';
    s->read = rqSqlIsRead(s->sql);
    s->dml = rqSqlChangesRows(s->sql);
    s->single = rqSqlSingle(s->sql);
    return 0;
}

static int decodeStmt(struct rq_stmt *s, json_t *j, char *err, size_t err_len)
{
    if (json_is_string(j)) {
        return setSql(s, json_string_value(j), json_string_length(j), err,
                      err_len);
    }
    if (!json_is_array(j) || json_array_size(j) == 0 ||
        !json_is_string(json_array_get(j, 0))) {
        return fail(err, err_len, 400,
                    "a statement must be a string or an array whose first "
                    "element is the SQL");
    }
    json_t *sql = json_array_get(j, 0);
    int rv = setSql(s, json_string_value(sql), json_string_length(sql), err,
                    err_len);
    if (rv != 0) {
        return rv;
    }
    size_t n = json_array_size(j) - 1;
    if (n == 1 && json_is_object(json_array_get(j, 1))) {
        return decodeNamed(s, json_array_get(j, 1), err, err_len);
    }
    if (n > RQ_PARAMS_MAX) {
        return fail(err, err_len, 413, "more than %u parameters",
                    RQ_PARAMS_MAX);
    }
    /* json_t pointers of the array's items 1..n, in order. */
    json_t *vals[64];
    json_t **all = n <= 64 ? vals : libCalloc(n, sizeof *all);
    if (all == NULL) {
        return fail(err, err_len, 500, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        all[i] = json_array_get(j, i + 1);
    }
    rv = decodeParams(s, all, (unsigned)n, err, err_len);
    if (all != vals) {
        libFree(all);
    }
    return rv;
}

static int decodeArray(struct rq_request *r, json_t *root, char *err,
                       size_t err_len)
{
    if (!json_is_array(root)) {
        return fail(err, err_len, 400,
                    "the body must be a JSON array of statements");
    }
    size_t n = json_array_size(root);
    if (n > RQ_STATEMENTS_MAX) {
        return fail(err, err_len, 413,
                    "%zu statements in one request: at most %u", n,
                    RQ_STATEMENTS_MAX);
    }
    if (n == 0) {
        return 0;
    }
    r->stmts = libCalloc(n, sizeof *r->stmts);
    if (r->stmts == NULL) {
        return fail(err, err_len, 500, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        r->n = (unsigned)i + 1; /* freed by rqRequestFree when it fails */
        int rv =
            decodeStmt(&r->stmts[i], json_array_get(root, i), err, err_len);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

static int decodeOne(struct rq_request *r, const char *sql, size_t len,
                     char *err, size_t err_len)
{
    r->stmts = libCalloc(1, sizeof *r->stmts);
    if (r->stmts == NULL) {
        return fail(err, err_len, 500, "out of memory");
    }
    r->n = 1;
    return setSql(&r->stmts[0], sql, len, err, err_len);
}

static bool isTextPlain(const struct http_request *req)
{
    const char *ct = req->header(req, "Content-Type");
    return ct != NULL && strncasecmp(ct, "text/plain", 10) == 0;
}

int rqRequestDecode(struct rq_request *out, enum rq_kind kind,
                    const struct http_request *req, char *err, size_t err_len)
{
    PRE(out != NULL && req != NULL && err != NULL);
    memset(out, 0, sizeof *out);
    out->kind = kind;
    int rv = decodeArgs(out, req, err, err_len);
    if (rv != 0) {
        return rv;
    }
    const char *q = req->arg(req, "q");
    if (req->method == HTTP_GET) {
        if (kind != RQ_QUERY || q == NULL) {
            return fail(err, err_len, 400, "a GET query needs its SQL in q");
        }
        return decodeOne(out, q, strlen(q), err, err_len);
    }
    if (req->body_len > RQ_BODY_MAX) {
        return fail(err, err_len, 413, "body larger than %u bytes",
                    RQ_BODY_MAX);
    }
    if (isTextPlain(req)) {
        return decodeOne(out, req->body, req->body_len, err, err_len);
    }
    json_error_t jerr;
    out->root = json_loadb(req->body, req->body_len, 0, &jerr);
    if (out->root == NULL) {
        return fail(err, err_len, 400, "invalid JSON body: %s (line %d)",
                    jerr.text, jerr.line);
    }
    return decodeArray(out, out->root, err, err_len);
}

void rqRequestFree(struct rq_request *r)
{
    if (r == NULL) {
        return;
    }
    for (unsigned i = 0; i < r->n; i++) {
        libFree(r->stmts[i].sql);
        libFree(r->stmts[i].params);
        libFree(r->stmts[i].blob);
    }
    libFree(r->stmts);
    if (r->root != NULL) {
        json_decref(r->root);
    }
    memset(r, 0, sizeof *r);
}
