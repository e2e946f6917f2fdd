/* rqlite's request shapes (docs/http-api.md, "Requests"), decoded as
 * rqlite documents them: statement arrays, positional and named
 * parameters, text/plain bodies, GET's q, flags and levels, and the
 * refusals of bad input (malformed JSON, wrong types, too many statements). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/rqlite_internal.h"
#include "lib/alloc.h"
#include "rqlite_fake.h"

static int decode(struct rq_request *r, enum rq_kind kind, struct fake_req *f,
                  char *err)
{
    return rqRequestDecode(r, kind, &f->req, err, 256);
}

Test(rqlite_request, plain_statements)
{
    struct fake_req f;
    struct rq_request r;
    char err[256];
    fakeInit(&f, HTTP_POST, "/db/execute",
             "[\"CREATE TABLE foo (id INTEGER PRIMARY KEY, name TEXT)\", "
             "\"INSERT INTO foo(name) VALUES('fiona')\"]");
    cr_assert_eq(decode(&r, RQ_EXECUTE, &f, err), 0, "%s", err);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.stmts[1].sql, "INSERT INTO foo(name) VALUES('fiona')");
    cr_assert_eq(r.stmts[1].n_params, 0);
    cr_assert_str_eq(r.db, "db");
    cr_assert_eq(r.level, RQ_LEVEL_WEAK);
    cr_assert(!r.transaction && !r.pretty && !r.timings);
    rqRequestFree(&r);
}

Test(rqlite_request, positional_parameters)
{
    struct fake_req f;
    struct rq_request r;
    char err[256];
    fakeInit(&f, HTTP_POST, "/db/execute",
             "[[\"INSERT INTO foo(name, age, w, b, n, ok) VALUES(?, ?, ?, ?, "
             "?, ?)\", \"fiona\", 20, 1.5, [1, 2, 255], null, true],"
             " [\"SELECT ?\", 9223372036854775807]]");
    cr_assert_eq(decode(&r, RQ_EXECUTE, &f, err), 0, "%s", err);
    cr_assert_eq(r.n, 2);
    struct rq_stmt *s = &r.stmts[0];
    cr_assert_eq(s->n_params, 6);
    cr_assert_eq(s->params[0].type, DQLITE_CLIENT_TEXT);
    cr_assert_eq(s->params[0].text.len, 5);
    cr_assert_eq(memcmp(s->params[0].text.data, "fiona", 5), 0);
    cr_assert_eq(s->params[1].type, DQLITE_CLIENT_INTEGER);
    cr_assert_eq(s->params[1].integer, 20);
    cr_assert_eq(s->params[2].type, DQLITE_CLIENT_FLOAT);
    cr_assert_float_eq(s->params[2].real, 1.5, 1e-12);
    cr_assert_eq(s->params[3].type, DQLITE_CLIENT_BLOB);
    cr_assert_eq(s->params[3].blob.len, 3);
    cr_assert_eq(((const unsigned char *)s->params[3].blob.data)[2], 255);
    cr_assert_eq(s->params[4].type, DQLITE_CLIENT_NULL);
    cr_assert_eq(s->params[5].type, DQLITE_CLIENT_INTEGER);
    cr_assert_eq(s->params[5].integer, 1);
    /* Large integers arrive exactly. */
    cr_assert_eq(r.stmts[1].params[0].integer, INT64_MAX);
    cr_assert(r.stmts[1].read);
    cr_assert(!r.stmts[0].read);
    rqRequestFree(&r);
}

Test(rqlite_request, named_parameters)
{
    struct fake_req f;
    struct rq_request r;
    char err[256];
    fakeInit(&f, HTTP_POST, "/db/execute",
             "[[\"INSERT INTO foo(name, age, note) VALUES(:name, :age, "
             "':name') -- :age\\n\", {\"name\": \"fiona\", \"age\": 20}],"
             " [\"SELECT * FROM foo WHERE name = @name OR name = $name OR "
             "x = :missing\", {\"name\": \"declan\"}]]");
    cr_assert_eq(decode(&r, RQ_EXECUTE, &f, err), 0, "%s", err);
    struct rq_stmt *s = &r.stmts[0];
    /* Literals and comments are left alone. */
    cr_assert_str_eq(s->sql, "INSERT INTO foo(name, age, note) VALUES(?1, ?2, "
                             "':name') -- :age\n");
    cr_assert_eq(s->n_params, 2);
    cr_assert_eq(s->params[0].type, DQLITE_CLIENT_TEXT);
    cr_assert_eq(s->params[1].integer, 20);
    s = &r.stmts[1];
    cr_assert_str_eq(s->sql, "SELECT * FROM foo WHERE name = ?1 OR name = ?1 "
                             "OR x = ?2");
    cr_assert_eq(s->n_params, 2);
    cr_assert_eq(s->params[0].text.len, 6);
    cr_assert_eq(s->params[1].type, DQLITE_CLIENT_NULL); /* not given */
    rqRequestFree(&r);
}

Test(rqlite_request, flags_level_and_database)
{
    struct fake_req f;
    struct rq_request r;
    char err[256];
    fakeInit(&f, HTTP_POST, "/db/query", "[\"SELECT 1\"]");
    fakeArgSet(&f, "pretty", "");
    fakeArgSet(&f, "timings", "");
    fakeArgSet(&f, "transaction", "true");
    fakeArgSet(&f, "associative", "");
    fakeArgSet(&f, "blob_array", "");
    fakeArgSet(&f, "redirect", "false");
    fakeArgSet(&f, "level", "strong");
    fakeArgSet(&f, "db", "orders");
    cr_assert_eq(decode(&r, RQ_QUERY, &f, err), 0, "%s", err);
    cr_assert(r.pretty && r.timings && r.transaction && r.associative &&
              r.blob_array && !r.redirect);
    cr_assert_eq(r.level, RQ_LEVEL_STRONG);
    cr_assert_str_eq(r.db, "orders");
    rqRequestFree(&r);

    fakeInit(&f, HTTP_POST, "/db/query", "[\"SELECT 1\"]");
    fakeArgSet(&f, "level", "eventual");
    cr_assert_eq(decode(&r, RQ_QUERY, &f, err), 400);
    cr_assert(strstr(err, "level") != NULL);
    rqRequestFree(&r);
}

Test(rqlite_request, get_q_and_text_plain)
{
    struct fake_req f;
    struct rq_request r;
    char err[256];
    fakeInit(&f, HTTP_GET, "/db/query", NULL);
    fakeArgSet(&f, "q", "SELECT * FROM foo");
    cr_assert_eq(decode(&r, RQ_QUERY, &f, err), 0, "%s", err);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.stmts[0].sql, "SELECT * FROM foo");
    rqRequestFree(&r);

    fakeInit(&f, HTTP_GET, "/db/query", NULL);
    cr_assert_eq(decode(&r, RQ_QUERY, &f, err), 400);
    rqRequestFree(&r);

    fakeInit(&f, HTTP_POST, "/db/execute", "CREATE TABLE t (x)");
    fakeHeaderSet(&f, "content-type", "text/plain");
    cr_assert_eq(decode(&r, RQ_EXECUTE, &f, err), 0, "%s", err);
    cr_assert_str_eq(r.stmts[0].sql, "CREATE TABLE t (x)");
    rqRequestFree(&r);
}

static void refused(const char *body, int status, const char *words)
{
    struct fake_req f;
    struct rq_request r;
    char err[256];
    fakeInit(&f, HTTP_POST, "/db/execute", body);
    cr_assert_eq(decode(&r, RQ_EXECUTE, &f, err), status, "%s -> %s", body,
                 err);
    cr_assert(strstr(err, words) != NULL, "%s -> %s", body, err);
    rqRequestFree(&r);
}

Test(rqlite_request, bad_input_refused)
{
    refused("[\"SELECT 1\"", 400, "invalid JSON");
    refused("{\"sql\": \"SELECT 1\"}", 400, "JSON array");
    refused("[1]", 400, "string or an array");
    refused("[[]]", 400, "string or an array");
    refused("[[1, 2]]", 400, "string or an array");
    refused("[[\"SELECT ?\", {\"a\": 1}, 2]]", 400, "object");
    refused("[[\"SELECT ?\", [1, 256]]]", 400, "byte values");
    refused("[[\"SELECT ?\", [\"x\"]]]", 400, "byte values");
    refused("[[\"SELECT :a, ?\", {\"a\": 1}]]", 400, "also uses ?");
    refused("[\"SELECT 1\\u0000\"]", 400, "invalid JSON");
    refused("[[\"SELECT ?\", 99999999999999999999]]", 400, "invalid JSON");
}

Test(rqlite_request, million_statements_refused)
{
    /* ["",""...] with 1,000,000 entries: refused whole, nothing decoded. */
    size_t n = 1000000;
    char *body = malloc(3 * n + 2);
    size_t o = 0;
    body[o++] = '[';
    for (size_t i = 0; i < n; i++) {
        body[o++] = '"';
        body[o++] = '"';
        body[o++] = i + 1 < n ? ',' : ']';
    }
    body[o] = '\0';
    refused(body, 413, "at most");
    free(body);
}

Test(rqlite_request, too_many_parameters_refused)
{
    size_t n = RQ_PARAMS_MAX + 1;
    char *body = malloc(2 * n + 32);
    size_t o = (size_t)sprintf(body, "[[\"SELECT 1\"");
    for (size_t i = 0; i < n; i++) {
        body[o++] = ',';
        body[o++] = '1';
    }
    strcpy(body + o, "]]");
    refused(body, 413, "parameters");
    free(body);
}

Test(rqlite_request, empty_array)
{
    struct fake_req f;
    struct rq_request r;
    char err[256];
    fakeInit(&f, HTTP_POST, "/db/execute", "[]");
    cr_assert_eq(decode(&r, RQ_EXECUTE, &f, err), 0);
    cr_assert_eq(r.n, 0);
    rqRequestFree(&r);
}

Test(rqlite_request, first_keyword)
{
    cr_assert(rqSqlIsRead("select 1"));
    cr_assert(rqSqlIsRead("  -- c\n /* x */ WITH t AS (SELECT 1) SELECT *"));
    cr_assert(rqSqlIsRead("PRAGMA table_info(foo)"));
    cr_assert(rqSqlIsRead("(SELECT 1)"));
    cr_assert(!rqSqlIsRead("INSERT INTO t VALUES(1)"));
    cr_assert(!rqSqlIsRead("SELECTED"));
    cr_assert(!rqSqlIsRead(""));
    cr_assert(!rqSqlIsRead("/* unterminated SELECT"));
}

Test(rqlite_request, rewrite_bounds)
{
    const char *names[2];
    size_t lens[2];
    unsigned n;
    char *out = NULL;
    cr_assert_eq(
        rqSqlRewriteNamed("SELECT :a, :b, :c", &out, names, lens, 2, &n),
        -E2BIG);
    cr_assert_eq(rqSqlRewriteNamed("SELECT \"x:y\", [a:b], `c:d`, 'it''s :q'",
                                   &out, names, lens, 2, &n),
                 0);
    cr_assert_eq(n, 0);
    cr_assert_str_eq(out, "SELECT \"x:y\", [a:b], `c:d`, 'it''s :q'");
    libFree(out);
    /* An unterminated literal runs to the end, never past it. */
    cr_assert_eq(rqSqlRewriteNamed("SELECT ':a", &out, names, lens, 2, &n), 0);
    cr_assert_eq(n, 0);
    libFree(out);
}

Test(rqlite_request, single_statement)
{
    cr_assert(rqSqlSingle("INSERT INTO t VALUES(?)"));
    cr_assert(rqSqlSingle("INSERT INTO t VALUES(?);"));
    cr_assert(rqSqlSingle("INSERT INTO t VALUES(';') ; -- done\n"));
    cr_assert(rqSqlSingle("SELECT 1; /* c */ ;"));
    cr_assert(!rqSqlSingle("INSERT INTO t VALUES(1); INSERT INTO t VALUES(2)"));
    cr_assert(!rqSqlSingle("SELECT 1;SELECT 2"));
}

Test(rqlite_request, timeout_durations)
{
    static const struct {
        const char *v;
        int status;
        unsigned ms;
    } cases[] = {
        {"500ms", 0, 500},
        {"2s", 0, 2000},
        {"1m", 0, 60000},
        {"1h", 0, 3600000},
        {"2h", 400, 0},
        {"0s", 400, 0},
        {"-1s", 400, 0},
        {"10", 400, 0},
        {"1.5s", 400, 0},
        {"s", 400, 0},
        {"99999999999999999999ms", 400, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fake_req f;
        struct rq_request r;
        char err[256];
        fakeInit(&f, HTTP_POST, "/db/query", "[\"SELECT 1\"]");
        fakeArgSet(&f, "timeout", cases[i].v);
        cr_assert_eq(decode(&r, RQ_QUERY, &f, err), cases[i].status, "%s",
                     cases[i].v);
        if (cases[i].status == 0) {
            cr_assert_eq(r.timeout_ms, cases[i].ms, "%s", cases[i].v);
        }
        rqRequestFree(&r);
    }
}
