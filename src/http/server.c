/* The HTTP listener (libmicrohttpd): placeholder until the listener lands
 * (issue 20). Starting it fails with -ENOSYS and says so. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int httpServerStart(struct http_server **out, const struct http_config *config,
                    const struct http_route *routes, unsigned n_routes,
                    char *errmsg, size_t errmsg_len)
{
    (void)config;
    (void)routes;
    (void)n_routes;
    *out = NULL;
    snprintf(errmsg, errmsg_len, "the HTTP listener is not built yet");
    return -ENOSYS;
}

const char *httpServerAddress(const struct http_server *s)
{
    (void)s;
    return "";
}

void httpServerStop(struct http_server *s)
{
    (void)s;
}

void httpRespond(struct http_response *res, int status,
                 const char *content_type, const char *text)
{
    size_t n = strlen(text);
    res->status = status;
    res->content_type = content_type;
    res->body = malloc(n + 1);
    if (res->body == NULL) {
        res->status = 500;
        res->body_len = 0;
        return;
    }
    memcpy(res->body, text, n + 1);
    res->body_len = n;
}
