/* rqlite's HTTP/JSON data API on a dqlite node (docs/http.md): the routes
 * /db/execute, /db/query, /db/request, /db/backup, /db/load, /status,
 * /nodes, /readyz, answered through our C client (src/client), so that
 * forwarding to the leader and read consistency work as for any client.
 *
 * This header is the seam between the node (src/server, which owns the
 * listener's route table) and the API: the node creates one struct
 * http_rqlite, asks it for its routes, and destroys it after the
 * listener stopped. */
#ifndef DQLITE_HTTP_RQLITE_H_
#define DQLITE_HTTP_RQLITE_H_

#include <stdint.h>

#include "http/http.h"

struct http_rqlite_config {
    uint64_t node_id;
    const char *node_address; /* the node's wire address (to dial) */
    const char *http_address; /* this listener's address (for /nodes) */
    const char *auth_file;    /* rqlite's auth.json shape; NULL: none */
    /* TLS towards the node's wire port (the node's own files). */
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *tls_ca_file;
    /* Client connections to the cluster shared by the handlers (0: 8, at
     * most 64); a request waits for a free one up to 10 s, then 503. */
    unsigned pool_size;
};

struct http_rqlite;

int httpRqliteCreate(struct http_rqlite **out,
                     const struct http_rqlite_config *config, char *errmsg,
                     size_t errmsg_len);

/* Fills at most max routes; returns how many. */
unsigned httpRqliteRoutes(struct http_rqlite *api, struct http_route *routes,
                          unsigned max);

void httpRqliteDestroy(struct http_rqlite *api);

#endif /* DQLITE_HTTP_RQLITE_H_ */
