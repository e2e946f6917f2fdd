/*
 * The rqlite API's test driver (docs/http-api.md, "Tests"):
 *
 *   rqlite-gateway check NODE_ID NODE_ADDRESS
 *       runs rqlite's documented requests through the API's handlers
 *       (called directly, no listener) against the cluster reached
 *       through NODE_ADDRESS, and compares the JSON answers with what
 *       rqlite's documentation and its own tests show. One line per check,
 *       exit 0 when all pass.
 *   rqlite-gateway serve NODE_ID NODE_ADDRESS HTTP_ADDRESS [AUTH_JSON]
 *       serves the API over HTTP (the node's listener, src/http/server.c)
 *       until SIGTERM; prints "ready ADDRESS" once listening.
 *
 * The requests are built as the listener would hand them over
 * (test/unit/http/rqlite_fake.h).
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http.h"
#include "http/rqlite.h"
#include "unit/http/rqlite_fake.h"

static struct http_route routes[16];
static unsigned n_routes;
static int failures;

static const struct http_route *route(const char *path)
{
    for (unsigned i = 0; i < n_routes; i++) {
        if (strcmp(routes[i].path, path) == 0) {
            return &routes[i];
        }
    }
    return NULL;
}

/* "a=1&b" into the fake request's arguments (the string is kept). */
static void parseArgs(struct fake_req *f, char *query)
{
    for (char *kv = strtok(query, "&"); kv != NULL; kv = strtok(NULL, "&")) {
        char *eq = strchr(kv, '=');
        if (eq != NULL) {
            *eq = '\0';
        }
        fakeArgSet(f, kv, eq != NULL ? eq + 1 : "");
    }
}

/* Drops "time" members (their values differ run to run). */
static void dropTimes(json_t *j)
{
    const char *key;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_del(j, "time");
        json_object_foreach(j, key, v)
        {
            dropTimes(v);
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            dropTimes(v);
        }
    }
}

/* Runs one request with a body of body_len bytes (binary allowed). */
static struct http_response callBytes(unsigned method, const char *path,
                                      const char *query, const char *body,
                                      size_t body_len,
                                      const char *authorization);

/* Runs one request; returns the response (caller frees body). */
static struct http_response call(unsigned method, const char *path,
                                 const char *query, const char *body,
                                 const char *authorization)
{
    return callBytes(method, path, query, body, body != NULL ? strlen(body) : 0,
                     authorization);
}

static struct http_response callBytes(unsigned method, const char *path,
                                      const char *query, const char *body,
                                      size_t body_len,
                                      const char *authorization)
{
    struct fake_req f;
    struct http_response res = {0};
    char args[4096];
    const char *db = getenv("RQLITE_DB"); /* the database of every check */
    snprintf(
        args, sizeof args, "%s%s%s", query != NULL ? query : "",
        db != NULL && (query == NULL || strstr(query, "db=") == NULL) ? "&db="
                                                                      : "",
        db != NULL && (query == NULL || strstr(query, "db=") == NULL) ? db
                                                                      : "");
    fakeInit(&f, method, path, body);
    f.req.body_len = body != NULL ? body_len : 0;
    parseArgs(&f, args);
    if (authorization != NULL) {
        fakeHeaderSet(&f, "Authorization", authorization);
    }
    const struct http_route *r = route(path);
    if (r == NULL || (r->methods & method) == 0) {
        res.status = 404;
        return res;
    }
    r->fn(r->data, &f.req, &res);
    /* A streamed body (a binary backup) read whole, as a client would. */
    if (httpResponseDrain(&res, (size_t)1 << 30) != 0) {
        res.status = 599;
    }
    if (res.status == 0) {
        res.status = 200;
    }
    return res;
}

static void report(const char *name, bool ok, const struct http_response *res,
                   const char *want)
{
    printf("%s %s\n", ok ? "ok  " : "FAIL", name);
    if (!ok) {
        printf("     got  %d %.*s\n     want %s\n", res->status,
               (int)res->body_len, res->body != NULL ? res->body : "", want);
        failures++;
    }
}

/* One check: the answer's status and JSON (times dropped) must match. */
static void expect(const char *name, unsigned method, const char *path,
                   const char *query, const char *body, int status,
                   const char *want_json)
{
    struct http_response res = call(method, path, query, body, NULL);
    json_t *got =
        res.body != NULL ? json_loadb(res.body, res.body_len, 0, NULL) : NULL;
    json_t *want = json_loads(want_json, 0, NULL);
    if (want == NULL) {
        fprintf(stderr, "bad expected JSON in %s\n", name);
        exit(2);
    }
    dropTimes(got);
    report(name, res.status == status && got != NULL && json_equal(got, want),
           &res, want_json);
    json_decref(got);
    json_decref(want);
    free(res.body);
    free(res.location);
    free(res.www_authenticate);
}

/* One check on the status and a substring of the body. */
static void expectText(const char *name, unsigned method, const char *path,
                       const char *query, const char *body,
                       const char *authorization, int status, const char *words)
{
    struct http_response res = call(method, path, query, body, authorization);
    bool ok = res.status == status &&
              (words == NULL ||
               (res.body != NULL && strstr(res.body, words) != NULL));
    report(name, ok, &res, words != NULL ? words : "(any body)");
    free(res.body);
    free(res.location);
    free(res.www_authenticate);
}

static void checkWrites(void)
{
    expect("create-table", HTTP_POST, "/db/execute", NULL,
           "[\"CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT, "
           "age INTEGER)\"]",
           200, "{\"results\":[{}]}");
    expect("insert", HTTP_POST, "/db/execute", "timings",
           "[\"INSERT INTO foo(name, age) VALUES('fiona', 20)\"]", 200,
           "{\"results\":[{\"last_insert_id\":1,\"rows_affected\":1}]}");
    expect("insert-positional", HTTP_POST, "/db/execute", NULL,
           "[[\"INSERT INTO foo(name, age) VALUES(?, ?)\", \"declan\", 30]]",
           200, "{\"results\":[{\"last_insert_id\":2,\"rows_affected\":1}]}");
    expect("insert-named", HTTP_POST, "/db/execute", NULL,
           "[[\"INSERT INTO foo(name, age) VALUES(:name, :age)\", "
           "{\"name\": \"aoife\", \"age\": 40}]]",
           200, "{\"results\":[{\"last_insert_id\":3,\"rows_affected\":1}]}");
    expect("syntax-error", HTTP_POST, "/db/execute", NULL,
           "[\"INSERT blah blah\"]", 200,
           "{\"results\":[{\"error\":\"near \\\"blah\\\": syntax error\"}]}");
    /* Statements with parameters are prepared (and cached): their
     * errors read the same. */
    expect("syntax-error-with-params", HTTP_POST, "/db/execute", NULL,
           "[[\"INSERT blah ?\", 1], [\"INSERT INTO nope VALUES(?)\", 1]]", 200,
           "{\"results\":[{\"error\":\"near \\\"blah\\\": syntax error\"},"
           "{\"error\":\"no such table: nope\"}]}");
    expect("no-such-table", HTTP_POST, "/db/execute", NULL,
           "[\"INSERT INTO bar(name) VALUES('fiona')\"]", 200,
           "{\"results\":[{\"error\":\"no such table: bar\"}]}");
    /* Without a transaction, a failed statement does not stop the next. */
    expect("batch-continues", HTTP_POST, "/db/execute", NULL,
           "[\"INSERT INTO nope VALUES(1)\", "
           "\"UPDATE foo SET age = age + 1 WHERE id = 3\"]",
           200,
           "{\"results\":[{\"error\":\"no such table: nope\"},"
           "{\"last_insert_id\":3,\"rows_affected\":1}]}");
    /* In a transaction the first failure stops the run and rolls back. */
    expect("transaction-rolls-back", HTTP_POST, "/db/execute", "transaction",
           "[\"INSERT INTO foo(name, age) VALUES('x', 1)\", "
           "\"INSERT INTO nope VALUES(1)\", "
           "\"INSERT INTO foo(name, age) VALUES('y', 2)\"]",
           200,
           "{\"results\":[{\"last_insert_id\":4,\"rows_affected\":1},"
           "{\"error\":\"no such table: nope\"}]}");
    expect("transaction-nothing-written", HTTP_GET, "/db/query",
           "q=SELECT COUNT(*) FROM foo", NULL, 200,
           "{\"results\":[{\"columns\":[\"COUNT(*)\"],\"types\":[\"integer\"],"
           "\"values\":[[3]]}]}");
}

static void checkReads(void)
{
    expect(
        "query-get", HTTP_GET, "/db/query", "q=SELECT * FROM foo ORDER BY id",
        NULL, 200,
        "{\"results\":[{\"columns\":[\"id\",\"name\",\"age\"],"
        "\"types\":[\"integer\",\"text\",\"integer\"],"
        "\"values\":[[1,\"fiona\",20],[2,\"declan\",30],[3,\"aoife\",41]]}]}");
    expect("query-post-params", HTTP_POST, "/db/query", "level=strong",
           "[[\"SELECT name FROM foo WHERE age > ?\", 25], "
           "[\"SELECT id FROM foo WHERE name = :n\", {\"n\": \"fiona\"}]]",
           200,
           "{\"results\":[{\"columns\":[\"name\"],\"types\":[\"text\"],"
           "\"values\":[[\"declan\"],[\"aoife\"]]},"
           "{\"columns\":[\"id\"],\"types\":[\"integer\"],\"values\":[[1]]}]}");
    expect("query-associative", HTTP_GET, "/db/query",
           "associative&q=SELECT id, name FROM foo WHERE id = 1", NULL, 200,
           "{\"results\":[{\"types\":{\"id\":\"integer\",\"name\":\"text\"},"
           "\"rows\":[{\"id\":1,\"name\":\"fiona\"}]}]}");
    /* No rows: rqlite gives the declared types; the wire protocol has
     * none to give (docs/http-api.md, "Differences"). */
    expect("query-empty", HTTP_GET, "/db/query",
           "q=SELECT id, name FROM foo WHERE id = 99", NULL, 200,
           "{\"results\":[{\"columns\":[\"id\",\"name\"],\"types\":[\"\",\"\"]}"
           "]}");
    expect("query-error", HTTP_GET, "/db/query", "q=SELECT * FROM bar", NULL,
           200, "{\"results\":[{\"error\":\"no such table: bar\"}]}");
    /* A write hidden behind WITH runs in a transaction rolled back (the
     * node refuses it on the query path unless it returns rows). */
    expect("query-with-write-rolled-back", HTTP_POST, "/db/query", NULL,
           "[\"WITH t(v) AS (SELECT 'w') INSERT INTO foo(name) SELECT v "
           "FROM t RETURNING name\", \"WITH t(v) AS (SELECT 'w') INSERT "
           "INTO foo(name) SELECT v FROM t\", "
           "\"SELECT COUNT(*) FROM foo WHERE name = 'w'\"]",
           200,
           "{\"results\":[{\"columns\":[\"name\"],\"types\":[\"text\"],"
           "\"values\":[[\"w\"]]},"
           "{\"error\":\"statement does not return rows\"},"
           "{\"columns\":[\"COUNT(*)\"],\"types\":[\"integer\"],"
           "\"values\":[[1]]}]}");
    expect("query-with-write-nothing-written", HTTP_GET, "/db/query",
           "q=SELECT COUNT(*) FROM foo WHERE name = 'w'", NULL, 200,
           "{\"results\":[{\"columns\":[\"COUNT(*)\"],"
           "\"types\":[\"integer\"],\"values\":[[0]]}]}");
    expect("query-refuses-write", HTTP_POST, "/db/query", NULL,
           "[\"INSERT INTO foo(name) VALUES('z')\"]", 200,
           "{\"results\":[{\"error\":\"attempt to change database via query "
           "operation\"}]}");
}

static void checkValues(void)
{
    expect("values-create", HTTP_POST, "/db/execute", NULL,
           "[\"CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB, n TEXT)\", "
           "[\"INSERT INTO v VALUES(?, ?, ?, X'0001FEFF', ?)\", "
           "9223372036854775807, 1.5, \"h\\u00e9\", null]]",
           200,
           "{\"results\":[{},{\"last_insert_id\":1,\"rows_affected\":1}]}");
    expect("values-types", HTTP_GET, "/db/query", "q=SELECT * FROM v", NULL,
           200,
           "{\"results\":[{\"columns\":[\"i\",\"r\",\"t\",\"b\",\"n\"],"
           "\"types\":[\"integer\",\"real\",\"text\",\"blob\",\"\"],"
           "\"values\":[[9223372036854775807,1.5,\"h\\u00e9\",\"AAH+/w==\","
           "null]]}]}");
    expect("values-blob-array", HTTP_GET, "/db/query",
           "blob_array&q=SELECT b FROM v", NULL, 200,
           "{\"results\":[{\"columns\":[\"b\"],\"types\":[\"blob\"],"
           "\"values\":[[[0,1,254,255]]]}]}");
    expect("values-blob-param", HTTP_POST, "/db/query", NULL,
           "[[\"SELECT hex(?)\", [222, 173, 190, 239]]]", 200,
           "{\"results\":[{\"columns\":[\"hex(?)\"],\"types\":[\"text\"],"
           "\"values\":[[\"DEADBEEF\"]]}]}");
}

static void checkUnified(void)
{
    expect("request-mixed", HTTP_POST, "/db/request", NULL,
           "[\"INSERT INTO foo(name, age) VALUES('brid', 50)\", "
           "\"SELECT COUNT(*) FROM foo\", \"INSERT blah\"]",
           200,
           "{\"results\":[{\"last_insert_id\":4,\"rows_affected\":1},"
           "{\"columns\":[\"COUNT(*)\"],\"types\":[\"integer\"],"
           "\"values\":[[4]]},"
           "{\"error\":\"near \\\"blah\\\": syntax error\"}]}");
    /* A result over the bound is that statement's error, never an
     * out-of-memory. */
    expectText("result-too-large", HTTP_GET, "/db/query",
               "q=WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM "
               "c LIMIT 1000000) SELECT x, zeroblob(1000) FROM c",
               NULL, NULL, 200, "result larger than");
    /* rqlite's timeout: a statement past it is interrupted, its error
     * says so, and the next request is served. */
    expectText("timeout-interrupts", HTTP_GET, "/db/query",
               "timeout=200ms&q=WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
               "SELECT x+1 FROM c) SELECT COUNT(*) FROM c",
               NULL, NULL, 200, "timed out");
    expectText("after-timeout", HTTP_GET, "/db/query", "q=SELECT 7", NULL, NULL,
               200, "[[7]]");
    expect("database-parameter", HTTP_POST, "/db/request", "db=other",
           "[\"SELECT * FROM foo\"]", 200,
           "{\"results\":[{\"error\":\"no such table: foo\"}]}");
    expect("empty-array", HTTP_POST, "/db/execute", NULL, "[]", 200,
           "{\"results\":[]}");
    expectText("bad-json", HTTP_POST, "/db/execute", NULL, "[\"SELECT 1\"",
               NULL, 400, "invalid JSON");
    expectText("bad-level", HTTP_GET, "/db/query", "level=eventual&q=SELECT 1",
               NULL, NULL, 400, "level");
    expectText("pretty", HTTP_GET, "/db/query", "pretty&q=SELECT 1", NULL, NULL,
               200, "\n    \"results\"");
    expectText("timings", HTTP_GET, "/db/query", "timings&q=SELECT 1", NULL,
               NULL, 200, "\"time\":");
}

static void checkCluster(void)
{
    expectText("readyz", HTTP_GET, "/readyz", NULL, NULL, NULL, 200,
               "[+]leader ok");
    expectText("status", HTTP_GET, "/status", NULL, NULL, NULL, 200,
               "\"leader\":{");
    expectText("nodes", HTTP_GET, "/nodes", NULL, NULL, NULL, 200,
               "\"reachable\":true");
    expectText("nodes-v2", HTTP_GET, "/nodes", "ver=2", NULL, NULL, 200,
               "{\"nodes\":[");
    expectText("backup-binary", HTTP_GET, "/db/backup", NULL, NULL, NULL, 200,
               "SQLite format 3");
}

/* A SQL backup loaded into another database reads back the same. */
static void checkBackup(void)
{
    struct http_response b =
        call(HTTP_GET, "/db/backup", "fmt=sql", NULL, NULL);
    bool ok = b.status == 200 && b.body != NULL &&
              strstr(b.body, "CREATE TABLE v") != NULL &&
              strstr(b.body, "X'0001FEFF'") != NULL &&
              strstr(b.body, "9223372036854775807") != NULL;
    report("backup-sql", ok, &b, "200 and the dump of table v");
    char query[64];
    const char *db = getenv("RQLITE_DB");
    snprintf(query, sizeof query, "db=%s-restored", db != NULL ? db : "db");
    struct http_response l =
        call(HTTP_POST, "/db/load", query, b.body != NULL ? b.body : "", NULL);
    report("load-sql", l.status == 200 && strstr(l.body, "error") == NULL, &l,
           "200 without error");
    free(b.body);
    free(l.body);
    snprintf(query, sizeof query, "db=%s-restored&q=SELECT * FROM v",
             db != NULL ? db : "db");
    expect("load-reads-back", HTTP_GET, "/db/query", query, NULL, 200,
           "{\"results\":[{\"columns\":[\"i\",\"r\",\"t\",\"b\",\"n\"],"
           "\"types\":[\"integer\",\"real\",\"text\",\"blob\",\"\"],"
           "\"values\":[[9223372036854775807,1.5,\"h\\u00e9\",\"AAH+/w==\","
           "null]]}]}");
    expectText("load-text-sqlite-words-is-sql", HTTP_POST, "/db/load", NULL,
               "SQLite format 3", NULL, 200, "error");
}

/* A binary backup loaded back as a SQLite file (one replicated load,
 * replacing the target) reads back the same; a file that only opens
 * with SQLite's header is refused with 400 and nothing loaded. */
static void checkLoadFile(void)
{
    struct http_response b = call(HTTP_GET, "/db/backup", NULL, NULL, NULL);
    bool ok = b.status == 200 && b.body_len >= 100 &&
              memcmp(b.body, "SQLite format 3", 16) == 0;
    report("backup-binary-for-load", ok, &b, "200 and a SQLite file");
    char query[96];
    const char *db = getenv("RQLITE_DB");
    db = db != NULL ? db : "db";
    snprintf(query, sizeof query, "db=%s-file", db);
    /* Twice: the second replaces the first (rqlite's load overwrites). */
    for (int i = 0; i < 2 && ok; i++) {
        struct http_response l =
            callBytes(HTTP_POST, "/db/load", query, b.body, b.body_len, NULL);
        report("load-sqlite-file",
               l.status == 200 && l.body != NULL &&
                   strcmp(l.body, "{\"results\":[]}") == 0,
               &l, "200 {\"results\":[]}");
        free(l.body);
    }
    free(b.body);
    snprintf(query, sizeof query, "db=%s-file&q=SELECT * FROM v", db);
    expect("load-sqlite-file-reads-back", HTTP_GET, "/db/query", query, NULL,
           200,
           "{\"results\":[{\"columns\":[\"i\",\"r\",\"t\",\"b\",\"n\"],"
           "\"types\":[\"integer\",\"real\",\"text\",\"blob\",\"\"],"
           "\"values\":[[9223372036854775807,1.5,\"h\\u00e9\",\"AAH+/w==\","
           "null]]}]}");
    /* A header then garbage (4096 bytes: one whole page of nothing). */
    char bad[4096];
    memset(bad, 0x5a, sizeof bad);
    memcpy(bad, "SQLite format 3", 16);
    snprintf(query, sizeof query, "db=%s-bad", db);
    struct http_response l =
        callBytes(HTTP_POST, "/db/load", query, bad, sizeof bad, NULL);
    report("load-sqlite-garbage-refused",
           l.status == 400 && l.body != NULL &&
               strstr(l.body, "not a SQLite database") != NULL,
           &l, "400 not a SQLite database");
    free(l.body);
}

static int check(struct http_rqlite *api)
{
    n_routes = httpRqliteRoutes(api, routes, 16);
    checkWrites();
    checkReads();
    checkValues();
    checkUnified();
    checkBackup();
    checkLoadFile();
    checkCluster();
    printf("%s: %d failure(s)\n", failures == 0 ? "PASS" : "FAIL", failures);
    return failures == 0 ? 0 : 1;
}

/* Auth checks: a file with a reader, a writer and "*" for ready. */
static int checkAuth(struct http_rqlite *api)
{
    n_routes = httpRqliteRoutes(api, routes, 16);
    /* writer:pw1 and reader:pw2 */
    const char *w = "Basic d3JpdGVyOnB3MQ==";
    const char *r = "Basic cmVhZGVyOnB3Mg==";
    expectText("auth-none-401", HTTP_POST, "/db/execute", NULL,
               "[\"CREATE TABLE IF NOT EXISTS a (x)\"]", NULL, 401,
               "unauthorized");
    expectText("auth-writer", HTTP_POST, "/db/execute", NULL,
               "[\"CREATE TABLE IF NOT EXISTS a (x)\"]", w, 200, "results");
    expectText("auth-reader-no-execute", HTTP_POST, "/db/execute", NULL,
               "[\"INSERT INTO a VALUES(1)\"]", r, 401, "unauthorized");
    expectText("auth-reader-query", HTTP_GET, "/db/query",
               "q=SELECT COUNT(*) FROM a", NULL, r, 200, "\"values\"");
    expectText("auth-reader-request-write", HTTP_POST, "/db/request", NULL,
               "[\"INSERT INTO a VALUES(1)\"]", r, 401, "unauthorized");
    /* A write dressed as a read runs, but in a sandbox that rolls back. */
    expectText("auth-reader-cte-write", HTTP_POST, "/db/request", NULL,
               "[\"WITH t(v) AS (SELECT 1) INSERT INTO a SELECT v FROM t\"]", r,
               200, "results");
    expectText("auth-reader-nothing-written", HTTP_GET, "/db/query",
               "q=SELECT COUNT(*) FROM a", NULL, r, 200, "[[0]]");
    expectText("auth-anyone-ready", HTTP_GET, "/readyz", NULL, NULL, NULL, 200,
               "ok");
    expectText("auth-status-401", HTTP_GET, "/status", NULL, NULL, r, 401,
               NULL);
    printf("%s: %d failure(s)\n", failures == 0 ? "PASS" : "FAIL", failures);
    return failures == 0 ? 0 : 1;
}

static volatile sig_atomic_t stop;
static void onSignal(int sig)
{
    (void)sig;
    stop = 1;
}

static int serve(struct http_rqlite *api, const char *http_address)
{
    struct http_config config = {.address = http_address};
    struct http_server *server;
    char errmsg[256];
    n_routes = httpRqliteRoutes(api, routes, 16);
    if (httpServerStart(&server, &config, routes, n_routes, errmsg,
                        sizeof errmsg) != 0) {
        fprintf(stderr, "rqlite-gateway: %s\n", errmsg);
        return 1;
    }
    signal(SIGTERM, onSignal);
    signal(SIGINT, onSignal);
    printf("ready %s\n", httpServerAddress(server));
    fflush(stdout);
    while (!stop) {
        pause();
    }
    httpServerStop(server);
    return 0;
}

int main(int argc, char *argv[])
{
    if (argc < 4) {
        fprintf(stderr,
                "usage: rqlite-gateway check|check-auth ID NODE_ADDRESS "
                "[AUTH_JSON]\n"
                "       rqlite-gateway serve ID NODE_ADDRESS HTTP_ADDRESS "
                "[AUTH_JSON]\n");
        return 2;
    }
    bool serving = strcmp(argv[1], "serve") == 0;
    const char *auth = argc > (serving ? 5 : 4) ? argv[serving ? 5 : 4] : NULL;
    struct http_rqlite_config config = {
        .node_id = strtoull(argv[2], NULL, 10),
        .node_address = argv[3],
        .http_address = serving ? argv[4] : "",
        .auth_file = auth,
    };
    struct http_rqlite *api;
    char errmsg[256];
    if (httpRqliteCreate(&api, &config, errmsg, sizeof errmsg) != 0) {
        fprintf(stderr, "rqlite-gateway: %s\n", errmsg);
        return 1;
    }
    int rc;
    if (serving) {
        rc = serve(api, argv[4]);
    } else if (strcmp(argv[1], "check-auth") == 0) {
        rc = checkAuth(api);
    } else {
        rc = check(api);
    }
    httpRqliteDestroy(api);
    return rc;
}
