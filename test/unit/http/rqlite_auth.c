/* Basic auth in rqlite's auth.json shape (docs/http-api.md, "Security"):
 * per-user permissions, the "*" user, wrong or missing credentials, and
 * files that must be refused at load. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/rqlite_internal.h"

static const char *auth_json =
    "[{\"username\": \"bob\", \"password\": \"secret1\", \"perms\": [\"all\"]},"
    " {\"username\": \"mary\", \"password\": \"secret2\","
    "  \"perms\": [\"query\", \"backup\", \"join\"]},"
    " {\"username\": \"*\", \"perms\": [\"status\", \"ready\"]}]";

/* "Basic " + base64("user:password") */
#define BOB "Basic Ym9iOnNlY3JldDE="      /* bob:secret1 */
#define MARY "Basic bWFyeTpzZWNyZXQy"     /* mary:secret2 */
#define MARY_BAD "Basic bWFyeTpzZWNyZXQ=" /* mary:secret */
#define NOBODY "Basic ZXZlOnNlY3JldDE="   /* eve:secret1 */

static struct rq_auth *load(void)
{
    struct rq_auth *a;
    char err[256];
    cr_assert_eq(rqAuthParse(&a, auth_json, strlen(auth_json), err, sizeof err),
                 0, "%s", err);
    return a;
}

Test(rqlite_auth, permissions_per_user)
{
    struct rq_auth *a = load();
    cr_assert(rqAuthAllowed(a, BOB, RQ_PERM_EXECUTE));
    cr_assert(rqAuthAllowed(a, BOB, RQ_PERM_REMOVE | RQ_PERM_LOAD));
    cr_assert(rqAuthAllowed(a, MARY, RQ_PERM_QUERY));
    cr_assert(rqAuthAllowed(a, MARY, RQ_PERM_JOIN));
    cr_assert(!rqAuthAllowed(a, MARY, RQ_PERM_EXECUTE));
    cr_assert(!rqAuthAllowed(a, MARY, RQ_PERM_QUERY | RQ_PERM_EXECUTE));
    cr_assert(!rqAuthAllowed(a, MARY, RQ_PERM_LOAD));
    rqAuthFree(a);
}

Test(rqlite_auth, anyone_and_bad_credentials)
{
    struct rq_auth *a = load();
    /* "*" grants status and ready to all, even without credentials. */
    cr_assert(rqAuthAllowed(a, NULL, RQ_PERM_STATUS));
    cr_assert(rqAuthAllowed(a, NOBODY, RQ_PERM_READY));
    cr_assert(!rqAuthAllowed(a, NULL, RQ_PERM_QUERY));
    cr_assert(!rqAuthAllowed(a, MARY_BAD, RQ_PERM_QUERY));
    cr_assert(!rqAuthAllowed(a, NOBODY, RQ_PERM_QUERY));
    cr_assert(!rqAuthAllowed(a, "Bearer xyz", RQ_PERM_QUERY));
    cr_assert(!rqAuthAllowed(a, "Basic !!!!", RQ_PERM_QUERY));
    cr_assert(!rqAuthAllowed(a, "Basic Ym9i", RQ_PERM_QUERY)); /* "bob" */
    cr_assert(!rqAuthAllowed(a, "Basic ", RQ_PERM_QUERY));
    /* No auth configured: everything is allowed. */
    cr_assert(rqAuthAllowed(NULL, NULL, RQ_PERM_ALL));
    rqAuthFree(a);
}

static void refusedFile(const char *text)
{
    struct rq_auth *a = (void *)1;
    char err[256];
    cr_assert_neq(rqAuthParse(&a, text, strlen(text), err, sizeof err), 0, "%s",
                  text);
    cr_assert_null(a);
    cr_assert(strncmp(err, "auth:", 5) == 0);
}

Test(rqlite_auth, bad_files_refused)
{
    refusedFile("{}");
    refusedFile("[{\"username\": \"x\"");
    refusedFile("[{\"password\": \"x\", \"perms\": []}]");
    refusedFile("[{\"username\": \"x\", \"perms\": []}]");
    refusedFile("[{\"username\": \"x\", \"password\": \"p\", \"perms\": 1}]");
    /* bcrypt hashes are refused rather than compared as text. */
    refusedFile("[{\"username\": \"x\", \"password\": "
                "\"$2a$10$abcdefghijklmnopqrstuv\", \"perms\": [\"all\"]}]");
}
