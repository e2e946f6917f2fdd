/* Requests built by hand for the rqlite API's unit tests: a struct
 * http_request whose query arguments and headers come from small tables,
 * as the listener would hand them to a handler. */
#ifndef TEST_UNIT_HTTP_RQLITE_FAKE_H_
#define TEST_UNIT_HTTP_RQLITE_FAKE_H_

#include <string.h>
#include <strings.h>

#include "http/http.h"

#define FAKE_MAX 16

struct fake_req {
    struct http_request req;
    const char *args[FAKE_MAX][2];
    const char *headers[FAKE_MAX][2];
};

static inline const char *fakeLookup(const char *(*table)[2], const char *name,
                                     int case_insensitive)
{
    for (int i = 0; i < FAKE_MAX && table[i][0] != NULL; i++) {
        if (case_insensitive ? strcasecmp(table[i][0], name) == 0
                             : strcmp(table[i][0], name) == 0) {
            return table[i][1];
        }
    }
    return NULL;
}

static inline const char *fakeArg(const struct http_request *r,
                                  const char *name)
{
    struct fake_req *f = r->impl;
    return fakeLookup(f->args, name, 0);
}

static inline const char *fakeHeader(const struct http_request *r,
                                     const char *name)
{
    struct fake_req *f = r->impl;
    return fakeLookup(f->headers, name, 1);
}

/* A request of `method` on `path` with `body` (NULL: none). */
static inline void fakeInit(struct fake_req *f, unsigned method,
                            const char *path, const char *body)
{
    memset(f, 0, sizeof *f);
    f->req.method = method;
    f->req.path = path;
    f->req.body = body != NULL ? body : "";
    f->req.body_len = body != NULL ? strlen(body) : 0;
    f->req.peer = "127.0.0.1:1";
    f->req.arg = fakeArg;
    f->req.header = fakeHeader;
    f->req.impl = f;
}

static inline void fakeArgSet(struct fake_req *f, const char *name,
                              const char *value)
{
    int i = 0;
    while (f->args[i][0] != NULL) {
        i++;
    }
    f->args[i][0] = name;
    f->args[i][1] = value;
}

static inline void fakeHeaderSet(struct fake_req *f, const char *name,
                                 const char *value)
{
    int i = 0;
    while (f->headers[i][0] != NULL) {
        i++;
    }
    f->headers[i][0] = name;
    f->headers[i][1] = value;
}

#endif /* TEST_UNIT_HTTP_RQLITE_FAKE_H_ */
