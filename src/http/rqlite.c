/* rqlite's data API: placeholder until the API lands (issue 21). It
 * offers no routes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/rqlite.h"

struct http_rqlite {
    int unused;
};

int httpRqliteCreate(struct http_rqlite **out,
                     const struct http_rqlite_config *config, char *errmsg,
                     size_t errmsg_len)
{
    (void)config;
    *out = calloc(1, sizeof **out);
    if (*out == NULL) {
        snprintf(errmsg, errmsg_len, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

unsigned httpRqliteRoutes(struct http_rqlite *api, struct http_route *routes,
                          unsigned max)
{
    (void)api;
    (void)routes;
    (void)max;
    return 0;
}

void httpRqliteDestroy(struct http_rqlite *api)
{
    free(api);
}
