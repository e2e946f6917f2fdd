/* The rqlite API's routes as the listener calls them, on the paths that
 * answer before any statement runs (no node needed): the route table,
 * permissions (401 with WWW-Authenticate), bad bodies (400, 413). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/rqlite.h"
#include "rqlite_fake.h"

static struct http_rqlite *api;
static struct http_route routes[16];
static unsigned n_routes;
static char auth_path[64];

#define WRITER "Basic d3JpdGVyOnB3MQ==" /* writer:pw1 */
#define READER "Basic cmVhZGVyOnB3Mg==" /* reader:pw2 */

static void setup(void)
{
    strcpy(auth_path, "/tmp/rqlite-auth-XXXXXX");
    int fd = mkstemp(auth_path);
    cr_assert_geq(fd, 0);
    const char *json =
        "[{\"username\": \"writer\", \"password\": \"pw1\", \"perms\": "
        "[\"all\"]}, {\"username\": \"reader\", \"password\": \"pw2\", "
        "\"perms\": [\"query\"]}]";
    cr_assert_eq(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    /* Port 1 of loopback: nothing here ever dials it. */
    struct http_rqlite_config config = {.node_id = 1,
                                        .node_address = "127.0.0.1:1",
                                        .http_address = "127.0.0.1:4001",
                                        .auth_file = auth_path};
    char errmsg[256];
    cr_assert_eq(httpRqliteCreate(&api, &config, errmsg, sizeof errmsg), 0,
                 "%s", errmsg);
    n_routes = httpRqliteRoutes(api, routes, 16);
}

static void teardown(void)
{
    httpRqliteDestroy(api);
    unlink(auth_path);
}

TestSuite(rqlite_routes, .init = setup, .fini = teardown);

static const struct http_route *find(const char *path)
{
    for (unsigned i = 0; i < n_routes; i++) {
        if (strcmp(routes[i].path, path) == 0) {
            return &routes[i];
        }
    }
    return NULL;
}

static struct http_response call(unsigned method, const char *path,
                                 const char *body, const char *auth)
{
    struct fake_req f;
    struct http_response res = {0};
    fakeInit(&f, method, path, body);
    if (auth != NULL) {
        fakeHeaderSet(&f, "Authorization", auth);
    }
    const struct http_route *r = find(path);
    cr_assert_not_null(r, "%s", path);
    r->fn(r->data, &f.req, &res);
    return res;
}

static void freeRes(struct http_response *res)
{
    free(res->body);
    free(res->location);
    free(res->www_authenticate);
}

Test(rqlite_routes, table)
{
    cr_assert_eq(find("/db/execute")->methods, HTTP_POST);
    cr_assert_eq(find("/db/query")->methods, HTTP_GET | HTTP_POST);
    cr_assert_eq(find("/db/request")->methods, HTTP_POST);
    cr_assert_not_null(find("/status"));
    cr_assert_not_null(find("/nodes"));
    cr_assert_not_null(find("/readyz"));
    cr_assert_geq(find("/db/execute")->max_body, 1024u * 1024u);
    /* A short table asked for gets a prefix of the routes. */
    struct http_route two[2];
    cr_assert_eq(httpRqliteRoutes(api, two, 2), 2);
}

Test(rqlite_routes, unauthorized)
{
    struct http_response res =
        call(HTTP_POST, "/db/execute", "[\"SELECT 1\"]", NULL);
    cr_assert_eq(res.status, 401);
    cr_assert_str_eq(res.www_authenticate, "Basic realm=\"rqlite\"");
    freeRes(&res);
    res =
        call(HTTP_POST, "/db/execute", "[\"INSERT INTO t VALUES(1)\"]", READER);
    cr_assert_eq(res.status, 401);
    freeRes(&res);
    /* /db/request needs execute for a write, query for a read. */
    res = call(HTTP_POST, "/db/request", "[\"DELETE FROM t\"]", READER);
    cr_assert_eq(res.status, 401);
    freeRes(&res);
    res = call(HTTP_GET, "/status", NULL, READER);
    cr_assert_eq(res.status, 401);
    freeRes(&res);
}

Test(rqlite_routes, bad_bodies_refused_before_running)
{
    struct http_response res =
        call(HTTP_POST, "/db/execute", "[\"SELECT 1\"", WRITER);
    cr_assert_eq(res.status, 400);
    cr_assert(strstr(res.body, "invalid JSON") != NULL, "%s", res.body);
    freeRes(&res);
    res = call(HTTP_POST, "/db/query", "{\"q\": 1}", READER);
    cr_assert_eq(res.status, 400);
    freeRes(&res);
}

Test(rqlite_routes, empty_batch_needs_no_node)
{
    struct http_response res = call(HTTP_POST, "/db/execute", "[]", WRITER);
    cr_assert_eq(res.status, 200);
    cr_assert_str_eq(res.content_type, "application/json");
    cr_assert_str_eq(res.body, "{\"results\":[]}");
    freeRes(&res);
}

Test(rqlite_routes, load_and_backup_need_their_permissions)
{
    struct http_response res =
        call(HTTP_POST, "/db/load", "SQLite format 3", READER);
    cr_assert_eq(res.status, 401);
    freeRes(&res);
    res = call(HTTP_GET, "/db/backup", NULL, READER);
    cr_assert_eq(res.status, 401);
    freeRes(&res);
}

Test(rqlite_routes, bad_auth_file_refused)
{
    struct http_rqlite *other;
    char errmsg[256];
    struct http_rqlite_config config = {.node_id = 1,
                                        .node_address = "127.0.0.1:1",
                                        .auth_file = "/nonexistent/auth.json"};
    cr_assert_neq(httpRqliteCreate(&other, &config, errmsg, sizeof errmsg), 0);
    cr_assert(strstr(errmsg, "auth") != NULL, "%s", errmsg);
}
