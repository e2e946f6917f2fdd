/* Basic auth with per-user permissions in rqlite's auth.json shape
 * (docs/http-api.md, "Security"): an array of {"username", "password",
 * "perms": ["all" | "execute" | "query" | "backup" | "load" | "status" |
 * "ready" | "join" | "remove" ...]}. The user "*" (password not needed)
 * gives its permissions to every request, authenticated or not.
 * Passwords are compared in constant time; they are kept as given
 * (plain text: rqlite also accepts bcrypt hashes, which we refuse at load
 * rather than compare wrongly). */
#include <errno.h>
#include <openssl/ssl.h> /* EVP_DecodeBlock, CRYPTO_memcmp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/rqlite_internal.h"
#include "lib/alloc.h"
#include "lib/assert.h"

struct rq_user {
    char *name;
    char *password;
    unsigned perms;
};

struct rq_auth {
    struct rq_user *users;
    unsigned n;
    unsigned anyone; /* the perms of user "*" */
};

static unsigned permBit(const char *name)
{
    static const struct {
        const char *name;
        unsigned bit;
    } perms[] = {
        {"all", RQ_PERM_ALL},
        {"execute", RQ_PERM_EXECUTE},
        {"query", RQ_PERM_QUERY},
        {"backup", RQ_PERM_BACKUP},
        {"load", RQ_PERM_LOAD},
        {"status", RQ_PERM_STATUS},
        {"ready", RQ_PERM_READY},
        {"join", RQ_PERM_JOIN},
        {"join-read-only", RQ_PERM_JOIN},
        {"remove", RQ_PERM_REMOVE},
    };
    for (size_t i = 0; i < sizeof perms / sizeof perms[0]; i++) {
        if (strcmp(name, perms[i].name) == 0) {
            return perms[i].bit;
        }
    }
    return 0; /* others of rqlite's (expvar, snapshot...) guard nothing here */
}

static int parseUser(struct rq_auth *a, json_t *u, char *err, size_t err_len)
{
    const char *name = json_string_value(json_object_get(u, "username"));
    const char *password = json_string_value(json_object_get(u, "password"));
    json_t *perms = json_object_get(u, "perms");
    unsigned bits = 0;
    if (name == NULL || (perms != NULL && !json_is_array(perms))) {
        snprintf(err, err_len,
                 "auth: user %u needs a username and a perms array", a->n);
        return -EINVAL;
    }
    for (size_t i = 0; i < json_array_size(perms); i++) {
        const char *p = json_string_value(json_array_get(perms, i));
        bits |= p != NULL ? permBit(p) : 0;
    }
    if (strcmp(name, "*") == 0) {
        a->anyone |= bits;
        return 0;
    }
    if (password == NULL || strncmp(password, "$2", 2) == 0) {
        snprintf(err, err_len,
                 "auth: user %s needs a plain-text password (bcrypt hashes "
                 "are not supported)",
                 name);
        return -EINVAL;
    }
    struct rq_user *x = &a->users[a->n];
    x->name = libStrdup(name);
    x->password = libStrdup(password);
    x->perms = bits;
    a->n++;
    if (x->name == NULL || x->password == NULL) {
        snprintf(err, err_len, "auth: out of memory");
        return -ENOMEM;
    }
    return 0;
}

int rqAuthParse(struct rq_auth **out, const char *text, size_t len, char *err,
                size_t err_len)
{
    json_error_t jerr;
    int rv = -EINVAL;
    *out = NULL;
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (root == NULL || !json_is_array(root) ||
        json_array_size(root) > RQ_AUTH_USERS_MAX) {
        snprintf(err, err_len,
                 "auth: not a JSON array of at most %u users (%s)",
                 RQ_AUTH_USERS_MAX, root == NULL ? jerr.text : "shape");
        goto out;
    }
    struct rq_auth *a = libCalloc(1, sizeof *a);
    if (a == NULL || (a->users = libCalloc(json_array_size(root) + 1,
                                           sizeof *a->users)) == NULL) {
        libFree(a);
        rv = -ENOMEM;
        snprintf(err, err_len, "auth: out of memory");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(root); i++) {
        rv = parseUser(a, json_array_get(root, i), err, err_len);
        if (rv != 0) {
            rqAuthFree(a);
            goto out;
        }
    }
    *out = a;
    rv = 0;
out:
    json_decref(root);
    return rv;
}

int rqAuthLoad(struct rq_auth **out, const char *path, char *err,
               size_t err_len)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        snprintf(err, err_len, "auth: %s: %s", path, jerr.text);
        return -EINVAL;
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text == NULL) {
        snprintf(err, err_len, "auth: out of memory");
        return -ENOMEM;
    }
    int rv = rqAuthParse(out, text, strlen(text), err, err_len);
    free(text);
    return rv;
}

void rqAuthFree(struct rq_auth *a)
{
    if (a == NULL) {
        return;
    }
    for (unsigned i = 0; i < a->n; i++) {
        libFree(a->users[i].name);
        if (a->users[i].password != NULL) {
            memset(a->users[i].password, 0, strlen(a->users[i].password));
        }
        libFree(a->users[i].password);
    }
    libFree(a->users);
    libFree(a);
}

/* The user and password of "Basic base64(user:password)" into buf. */
static bool decodeBasic(const char *header, char *buf, size_t size,
                        const char **user, const char **password)
{
    if (header == NULL || strncasecmp(header, "Basic ", 6) != 0) {
        return false;
    }
    const char *b64 = header + 6;
    while (*b64 == ' ') {
        b64++;
    }
    size_t n = strlen(b64);
    if (n == 0 || n % 4 != 0 || n / 4 * 3 + 1 > size) {
        return false;
    }
    int len = EVP_DecodeBlock((unsigned char *)buf, (const unsigned char *)b64,
                              (int)n);
    if (len < 0) {
        return false;
    }
    len -= (b64[n - 1] == '=') + (b64[n - 2] == '='); /* padding bytes */
    buf[len] = '\0';
    if (memchr(buf, '\0', (size_t)len) != NULL) {
        return false;
    }
    char *colon = strchr(buf, ':');
    if (colon == NULL) {
        return false;
    }
    *colon = '\0';
    *user = buf;
    *password = colon + 1;
    return true;
}

static bool passwordEqual(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    /* Compare the whole given password whatever the lengths. */
    int diff = CRYPTO_memcmp(a, b, la < lb ? la : lb);
    return diff == 0 && la == lb;
}

bool rqAuthAllowed(const struct rq_auth *a, const char *authorization,
                   unsigned perm)
{
    char buf[1024];
    const char *user;
    const char *password;
    if (a == NULL || (a->anyone & perm) == perm) {
        return true;
    }
    if (!decodeBasic(authorization, buf, sizeof buf, &user, &password)) {
        return false;
    }
    bool ok = false;
    for (unsigned i = 0; i < a->n; i++) {
        if (strcmp(a->users[i].name, user) == 0) {
            ok = passwordEqual(a->users[i].password, password) &&
                 (a->users[i].perms & perm) == perm;
            break;
        }
    }
    memset(buf, 0, sizeof buf);
    return ok;
}
