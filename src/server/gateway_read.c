/*
 * Read consistency of a connection (docs/protocol.md "Read consistency"):
 * the `PRAGMA dqlite_consistency` statement the gateway intercepts in
 * EXEC_SQL and QUERY_SQL (so unchanged clients, go-dqlite's included, can
 * send it), and the read gate a query waits on, which lets followers
 * answer reads at the chosen level. Writes stay the leader's.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/assert.h"
#include "lib/err.h"
#include "server/gateway_internal.h"
#include "server/node.h"

#define READ_PRAGMA "dqlite_consistency"

/* Skips spaces; then, if `word` follows (any case), skips it too. */
static bool readSkipWord(const char **p, const char *end, const char *word)
{
    size_t len = strlen(word);
    while (*p < end && isspace((unsigned char)**p)) {
        (*p)++;
    }
    if ((size_t)(end - *p) < len || strncasecmp(*p, word, len) != 0) {
        return false;
    }
    *p += len;
    return true;
}

/* Parses a level ("linearizable", "any", "bounded:N" with N in ms, 1 to
 * GATEWAY_READ_BOUND_MAX_MS). */
static bool readParseLevel(const char *v, size_t len, int *level,
                           uint64_t *bound_ms)
{
    if (len == strlen("linearizable") &&
        strncasecmp(v, "linearizable", len) == 0) {
        *level = GATEWAY_READ_LINEARIZABLE;
        *bound_ms = 0;
        return true;
    }
    if (len == strlen("any") && strncasecmp(v, "any", len) == 0) {
        *level = GATEWAY_READ_ANY;
        *bound_ms = 0;
        return true;
    }
    size_t prefix = strlen("bounded:");
    if (len <= prefix || len > prefix + 9 ||
        strncasecmp(v, "bounded:", prefix) != 0) {
        return false;
    }
    uint64_t ms = 0;
    for (size_t i = prefix; i < len; i++) {
        if (!isdigit((unsigned char)v[i])) {
            return false;
        }
        ms = ms * 10 + (uint64_t)(v[i] - '0');
    }
    if (ms == 0 || ms > GATEWAY_READ_BOUND_MAX_MS) {
        return false;
    }
    *level = GATEWAY_READ_BOUNDED;
    *bound_ms = ms;
    return true;
}

/* 1: a valid pragma (set when `has_value`), 0: another statement, -1: the
 * pragma with a bad value. Reads only sql's len bytes (fuzzed:
 * test/fuzz/server_pragma.c). */
int gatewayReadParsePragma(const struct proto_text *sql, bool *has_value,
                           int *level, uint64_t *bound_ms)
{
    const char *p = sql->data;
    const char *end = sql->data + sql->len;
    if (!readSkipWord(&p, end, "PRAGMA") || p == end ||
        !isspace((unsigned char)*p) || !readSkipWord(&p, end, READ_PRAGMA)) {
        return 0;
    }
    if (p < end && (isalnum((unsigned char)*p) || *p == '_')) {
        return 0; /* a longer name */
    }
    *has_value = readSkipWord(&p, end, "=");
    if (*has_value) {
        while (p < end && isspace((unsigned char)*p)) {
            p++;
        }
        char quote = p < end && (*p == '\'' || *p == '"') ? *p++ : 0;
        const char *v = p;
        while (p < end && (quote ? *p != quote
                                 : !isspace((unsigned char)*p) && *p != ';')) {
            p++;
        }
        size_t len = (size_t)(p - v);
        if (quote) {
            if (p == end) {
                return -1;
            }
            p++;
        }
        if (!readParseLevel(v, len, level, bound_ms)) {
            return -1;
        }
    }
    readSkipWord(&p, end, ";");
    while (p < end && (isspace((unsigned char)*p) || *p == '\0')) {
        p++;
    }
    return p == end ? 1 : -1;
}

static void readLevelName(const struct gateway *g, char *buf, size_t size)
{
    switch (g->read_level) {
    case GATEWAY_READ_LEADER:
        snprintf(buf, size, "leader");
        break;
    case GATEWAY_READ_ANY:
        snprintf(buf, size, "any");
        break;
    case GATEWAY_READ_BOUNDED:
        snprintf(buf, size, "bounded:%llu",
                 (unsigned long long)g->read_bound_ms);
        break;
    default:
        snprintf(buf, size, "linearizable");
        break;
    }
}

bool gatewayReadPragma(struct gateway *g)
{
    bool has_value = false;
    int level = GATEWAY_READ_LEADER;
    uint64_t bound_ms = 0;
    PRE(g->req.type == PROTO_REQ_EXEC_SQL ||
        g->req.type == PROTO_REQ_QUERY_SQL);
    int rv = gatewayReadParsePragma(&g->req.exec_sql.sql, &has_value, &level,
                                    &bound_ms);
    if (rv == 0) {
        return false;
    }
    if (rv < 0) {
        gatewayFailure(g, SQLITE_ERROR,
                       "dqlite_consistency: expected 'linearizable', "
                       "'bounded:<ms>' (1 to 3600000) or 'any', alone in "
                       "the statement");
        return true;
    }
    if (has_value) {
        g->read_level = level;
        g->read_bound_ms = bound_ms;
    }
    struct proto_response resp;
    if (g->req.type == PROTO_REQ_EXEC_SQL) {
        protoResponseInit(&resp, PROTO_RESP_RESULT);
        gatewayRespond(g, &resp);
        return true;
    }
    /* QUERY_SQL: one row, the level in effect (as PRAGMAs answer). */
    char name[32];
    readLevelName(g, name, sizeof name);
    struct proto_text column = protoText(READ_PRAGMA);
    struct proto_value value = {.type = PROTO_TEXT, .text = protoText(name)};
    protoResponseInit(&resp, PROTO_RESP_ROWS);
    resp.rows.n_columns = 1;
    resp.rows.n_rows = 1;
    resp.rows.done = true;
    resp.rows.columns = &column;
    resp.rows.values = &value;
    gatewayRespond(g, &resp);
    return true;
}

static int readStartBounded(struct replica *r, struct replica_wait *w)
{
    struct gateway *g = GATEWAY_OF(w, wait);
    return replicaReadBounded(r, w, g->read_bound_ms);
}

read_start_fn gatewayReadGate(struct gateway *g)
{
    struct dqlite_node *n = gatewayNode(g);
    if (replicaIsLeader(&n->replica)) {
        return n->linearizable_reads ? replicaRead : replicaBarrier;
    }
    switch (g->read_level) {
    case GATEWAY_READ_ANY:
        return replicaReadAny;
    case GATEWAY_READ_BOUNDED:
        return readStartBounded;
    default:
        return replicaReadFollower;
    }
}

bool gatewayCheckReader(struct gateway *g)
{
    struct dqlite_node *n = gatewayNode(g);
    if (replicaIsLeader(&n->replica)) {
        return true;
    }
    /* A follower serves reads only to a connection that chose a level
     * (others keep being sent to the leader), from its own copy: spares
     * (and nodes out of the configuration) hold none. */
    const struct raft_server *s =
        raftConfGet(raftConfiguration(n->replica.raft), n->id);
    if (g->read_level == GATEWAY_READ_LEADER || s == NULL ||
        s->role == RAFT_SPARE || n->replica.failed) {
        gatewayFailure(g, GATEWAY_ERR_NOT_LEADER, "not leader");
        return false;
    }
    return true;
}
