/*
 * Fuzz target: the rqlite API's decoding of outside bytes (src/http/
 * rqlite_request.c, rqlite_sql.c, rqlite_auth.c). The first byte picks the
 * route and the Content-Type; the rest is the body. A decoded request must
 * respect every bound (statements, parameters, BLOB sizes) and name only
 * NUL-terminated SQL; a refused one must give a 4xx/5xx status and a
 * message. The same bytes are also tried as SQL for the named-parameter
 * rewrite and as an Authorization header against a fixed auth.json. When
 * the rest holds a newline, what comes before it is a query string
 * ("level=strong&timeout=2s&db=x&pretty") whose arguments the decoder sees.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/rqlite_internal.h"
#include "lib/alloc.h"

#define FUZZ_ARGS 16

struct fuzz_req {
    struct http_request req;
    const char *content_type;
    const char *args[FUZZ_ARGS][2];
    unsigned n_args;
};

static const char *arg(const struct http_request *r, const char *name)
{
    const struct fuzz_req *f = r->impl;
    for (unsigned i = 0; i < f->n_args; i++) {
        if (strcmp(f->args[i][0], name) == 0) {
            return f->args[i][1];
        }
    }
    return NULL;
}

/* Splits "a=1&b" (modified in place) into f->args. */
static void parseQuery(struct fuzz_req *f, char *q)
{
    char *save = NULL;
    for (char *kv = strtok_r(q, "&", &save);
         kv != NULL && f->n_args < FUZZ_ARGS; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq != NULL) {
            *eq = '\0';
        }
        f->args[f->n_args][0] = kv;
        f->args[f->n_args][1] = eq != NULL ? eq + 1 : "";
        f->n_args++;
    }
}

static const char *header(const struct http_request *r, const char *name)
{
    const struct fuzz_req *f = r->impl;
    return strcmp(name, "Content-Type") == 0 ? f->content_type : NULL;
}

static void checkRequest(const struct rq_request *r)
{
    if (r->n > RQ_STATEMENTS_MAX) {
        abort();
    }
    for (unsigned i = 0; i < r->n; i++) {
        const struct rq_stmt *s = &r->stmts[i];
        if (s->sql == NULL || s->n_params > RQ_PARAMS_MAX ||
            (s->n_params > 0 && s->params == NULL)) {
            abort();
        }
        (void)strlen(s->sql);
        for (unsigned k = 0; k < s->n_params; k++) {
            const struct dqlite_value *v = &s->params[k];
            if (v->type == DQLITE_CLIENT_BLOB && v->blob.len > 0 &&
                (v->blob.data == NULL || v->blob.len > RQ_BLOB_PARAM_MAX)) {
                abort();
            }
        }
    }
}

static void fuzzRewrite(const char *sql)
{
    const char *names[8];
    size_t lens[8];
    unsigned n;
    char *out;
    if (rqSqlRewriteNamed(sql, &out, names, lens, 8, &n) == 0) {
        if (n > 8 || strlen(out) > 3 * strlen(sql)) {
            abort();
        }
        libFree(out);
    }
    (void)rqSqlIsRead(sql);
    (void)rqSqlChangesRows(sql);
    (void)rqSqlSingle(sql);
}

static void fuzzAuth(const char *text)
{
    static const char *json =
        "[{\"username\": \"bob\", \"password\": \"x\", \"perms\": [\"all\"]},"
        " {\"username\": \"*\", \"perms\": [\"status\"]}]";
    struct rq_auth *a;
    char err[128];
    if (rqAuthParse(&a, json, strlen(json), err, sizeof err) != 0) {
        abort();
    }
    (void)rqAuthAllowed(a, text, RQ_PERM_EXECUTE);
    rqAuthFree(a);
    if (rqAuthParse(&a, text, strlen(text), err, sizeof err) == 0) {
        rqAuthFree(a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum rq_kind kinds[] = {RQ_EXECUTE, RQ_QUERY, RQ_REQUEST};
    struct fuzz_req f;
    struct rq_request r;
    char err[256];
    if (size == 0) {
        return 0;
    }
    char *body = malloc(size);
    if (body == NULL) {
        return 0;
    }
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';
    memset(&f, 0, sizeof f);
    char *query = NULL;
    char *nl = memchr(body, '\n', size - 1);
    const char *json = body;
    if (nl != NULL) {
        query = strndup(body, (size_t)(nl - body));
        json = nl + 1;
        if (query != NULL) {
            parseQuery(&f, query);
        }
    }
    f.req.method = (data[0] & 8) ? HTTP_GET : HTTP_POST;
    f.req.path = "/db/request";
    f.req.body = json;
    f.req.body_len = size - 1 - (size_t)(json - body);
    f.req.arg = arg;
    f.req.header = header;
    f.req.impl = &f;
    f.content_type = (data[0] & 4) ? "text/plain" : "application/json";
    int status =
        rqRequestDecode(&r, kinds[data[0] % 3], &f.req, err, sizeof err);
    if (status == 0) {
        checkRequest(&r);
        if (r.timeout_ms > RQ_TIMEOUT_MAX_MS || strlen(r.db) > RQ_DB_NAME_MAX) {
            abort();
        }
    } else if (status < 400 || status > 599 || err[0] == '\0') {
        abort();
    }
    rqRequestFree(&r);
    free(query);
    fuzzRewrite(body);
    fuzzAuth(body);
    free(body);
    return 0;
}
