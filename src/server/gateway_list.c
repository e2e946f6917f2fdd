/*
 * The databases of a node (docs/protocol.md "Listing databases"): the
 * `PRAGMA dqlite_databases` statement the gateway intercepts in QUERY_SQL
 * and EXEC_SQL, so that a client (the shell's .databases) can list them
 * without a new request type. Answered by the leader only, after a read
 * barrier, from its VFS: the databases of the replicated state.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "server/gateway_internal.h"
#include "server/node.h"
#include "vfs/vfs.h"

#define LIST_PRAGMA "dqlite_databases"

static const char *listSkipSpace(const char *p, const char *end)
{
    while (p < end && (isspace((unsigned char)*p) || *p == '\0')) {
        p++;
    }
    return p;
}

/* Whether the SQL text is `PRAGMA dqlite_databases` (any case, an
 * optional ';', nothing else). Reads only sql's len bytes (fuzzed:
 * test/fuzz/server_pragma.c). */
bool gatewayListIsPragma(const struct proto_text *sql)
{
    const char *p = sql->data;
    const char *end = sql->data + sql->len;
    size_t n = strlen("PRAGMA");
    p = listSkipSpace(p, end);
    if ((size_t)(end - p) <= n || strncasecmp(p, "PRAGMA", n) != 0 ||
        !isspace((unsigned char)p[n])) {
        return false;
    }
    p = listSkipSpace(p + n, end);
    n = strlen(LIST_PRAGMA);
    if ((size_t)(end - p) < n || strncasecmp(p, LIST_PRAGMA, n) != 0) {
        return false;
    }
    p = listSkipSpace(p + n, end);
    if (p < end && *p == ';') {
        p = listSkipSpace(p + 1, end);
    }
    return p == end;
}

/* One row per database, in one ROWS response (column "name"). */
static void listRespond(struct gateway *g)
{
    char **names = NULL;
    unsigned n = 0;
    int rv = vfsDbNames(gatewayNode(g)->replica.vfs, &names, &n);
    if (rv != 0) {
        gatewayFailErr(g, rv);
        return;
    }
    struct proto_value *values = libCalloc(n > 0 ? n : 1, sizeof *values);
    if (values == NULL) {
        gatewayFailErr(g, ERR_NOMEM);
    } else {
        for (unsigned i = 0; i < n; i++) {
            values[i].type = PROTO_TEXT;
            values[i].text = protoText(names[i]);
        }
        struct proto_text column = protoText("name");
        struct proto_response resp;
        protoResponseInit(&resp, PROTO_RESP_ROWS);
        resp.rows.n_columns = 1;
        resp.rows.n_rows = n;
        resp.rows.done = true;
        resp.rows.columns = &column;
        resp.rows.values = values;
        gatewayRespond(g, &resp);
    }
    for (unsigned i = 0; i < n; i++) {
        libFree(names[i]);
    }
    libFree(names);
    libFree(values);
}

static void listOnRead(struct replica_wait *w, int status)
{
    struct gateway *g = GATEWAY_OF(w, wait);
    g->wait_out = false;
    if (g->closing) {
        gatewayCloseDb(g);
    } else if (status != 0) {
        gatewayFailErr(g, status);
    } else {
        listRespond(g);
    }
}

bool gatewayListPragma(struct gateway *g)
{
    PRE(g->req.type == PROTO_REQ_EXEC_SQL ||
        g->req.type == PROTO_REQ_QUERY_SQL);
    if (!gatewayListIsPragma(&g->req.exec_sql.sql)) {
        return false;
    }
    if (!gatewayCheckLeader(g)) {
        return true;
    }
    if (g->req.type == PROTO_REQ_EXEC_SQL) {
        struct proto_response resp;
        protoResponseInit(&resp, PROTO_RESP_RESULT);
        gatewayRespond(g, &resp);
        return true;
    }
    /* The leader's state as of now: a barrier (or a read index) first, so
     * that a database created by an acknowledged write is listed. */
    gatewayAwait(g, listOnRead, gatewayReadGate(g));
    return true;
}
