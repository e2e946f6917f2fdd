/*
 * Result sets, streamed batch by batch.
 *
 * The first ROWS message is the query's answer; each further one is read
 * from the socket only when the application has consumed the rows of the
 * one before and that one ended with PART. Rows are decoded in place by
 * proto's iterator: values point into the batch, valid until the next row
 * crosses into a new batch. Closing early sends INTERRUPT and discards the
 * batches still coming, as go-dqlite does, so the connection stays usable.
 */
#include <string.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

static void rowsFree(struct dqlite_rows *r)
{
    unsigned i;
    if (r->names != NULL) {
        for (i = 0; i < r->n_columns; i++) {
            libFree(r->names[i]);
        }
    }
    libFree(r->names);
    libFree((void *)r->type_names);
    libFree(r->row);
    libFree(r);
}

static int rowsNames(struct dqlite_rows *r)
{
    struct proto_text *names = libCalloc(r->n_columns + 1, sizeof *names);
    unsigned i;
    int rv = 0;
    if (names == NULL) {
        return ERR_NOMEM;
    }
    protoRowsNames(&r->batch, names);
    for (i = 0; i < r->n_columns && rv == 0; i++) {
        r->names[i] = libStrdup(names[i].data);
        rv = r->names[i] == NULL ? ERR_NOMEM : 0;
    }
    libFree(names);
    return rv;
}

static int rowsAlloc(struct dqlite_conn *c, struct dqlite_rows **out)
{
    struct dqlite_rows *r = libCalloc(1, sizeof *r);
    unsigned n;
    if (r == NULL) {
        return ERR_NOMEM;
    }
    r->conn = c;
    r->batch = c->sock.resp.rows;
    r->n_columns = n = (unsigned)r->batch.n_columns;
    r->names = libCalloc(n + 1, sizeof *r->names);
    r->type_names = libCalloc(n + 1, sizeof *r->type_names);
    r->row = libCalloc(n + 1, sizeof *r->row);
    if (r->names == NULL || r->type_names == NULL || r->row == NULL ||
        rowsNames(r) != 0) {
        rowsFree(r);
        return ERR_NOMEM;
    }
    protoRowsIterInit(&r->iter, &r->batch);
    *out = r;
    return 0;
}

int clientRowsStart(struct dqlite_conn *c, struct dqlite_rows **rows)
{
    int rv;
    PRE(c->sock.resp.type == PROTO_RESP_ROWS && c->rows == NULL);
    rv = rowsAlloc(c, rows);
    if (rv != 0) {
        /* The rest of the stream cannot be read into anything. */
        clientErrSet(&c->err, rv, "out of memory");
        return clientConnBroken(c, rv);
    }
    c->rows = *rows;
    return 0;
}

/* Reads the next batch of the stream. */
static int rowsFetch(struct dqlite_rows *r)
{
    struct dqlite_conn *c = r->conn;
    int rv = clientConnMore(c, clientConnDeadline(c));
    rv = rv != 0 ? rv : clientConnExpect(c, PROTO_RESP_ROWS);
    if (rv != 0) {
        r->ended = true;
        return rv;
    }
    if (c->sock.resp.rows.n_columns != r->n_columns) {
        r->ended = true;
        clientErrSet(&c->err, ERR_CLIENT_PROTO,
                     "column count changed between batches");
        return clientConnBroken(c, ERR_CLIENT_PROTO);
    }
    r->batch = c->sock.resp.rows;
    protoRowsIterInit(&r->iter, &r->batch);
    return 0;
}

/* Moves to the next row, fetching batches as needed: ROW, DONE or an
 * internal error code. */
static int rowsAdvance(struct dqlite_rows *r)
{
    int rv;
    for (;;) {
        if (r->ended) {
            return DQLITE_CLIENT_DONE;
        }
        if (protoRowsIterNext(&r->iter, r->row)) {
            return DQLITE_CLIENT_ROW;
        }
        if (r->batch.done) {
            r->ended = true;
            return DQLITE_CLIENT_DONE;
        }
        rv = rowsFetch(r);
        if (rv != 0) {
            return rv;
        }
    }
}

static int rowsResult(struct dqlite_rows *r, int rv)
{
    r->has_row = rv == DQLITE_CLIENT_ROW;
    if (rv == DQLITE_CLIENT_ROW || rv == DQLITE_CLIENT_DONE) {
        return rv;
    }
    return clientErrPublic(rv);
}

DQLITE_API int dqlite_rows_next(struct dqlite_rows *rows)
{
    if (rows == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    if (rows->peeked) {
        rows->peeked = false;
        return rowsResult(rows, rows->peek_rv);
    }
    return rowsResult(rows, rowsAdvance(rows));
}

DQLITE_API unsigned dqlite_rows_column_count(struct dqlite_rows *rows)
{
    return rows != NULL ? rows->n_columns : 0;
}

DQLITE_API const char *dqlite_rows_column_name(struct dqlite_rows *rows,
                                               unsigned i)
{
    if (rows == NULL || i >= rows->n_columns) {
        return NULL;
    }
    return rows->names[i];
}

static const char *typeName(uint8_t type)
{
    switch (type) {
    case PROTO_INTEGER:
        return "INTEGER";
    case PROTO_FLOAT:
        return "FLOAT";
    case PROTO_TEXT:
        return "TEXT";
    case PROTO_BLOB:
        return "BLOB";
    case PROTO_NULL:
        return "NULL";
    case PROTO_UNIXTIME:
    case PROTO_ISO8601:
        return "TIME";
    case PROTO_BOOLEAN:
        return "BOOL";
    default:
        return "";
    }
}

DQLITE_API const char *dqlite_rows_column_type_name(struct dqlite_rows *rows,
                                                    unsigned i)
{
    unsigned j;
    if (rows == NULL || i >= rows->n_columns) {
        return "";
    }
    if (!rows->has_row && !rows->peeked && rows->type_names[0] == NULL) {
        rows->peek_rv = rowsAdvance(rows);
        rows->peeked = true;
    }
    if (rows->has_row || (rows->peeked && rows->peek_rv == DQLITE_CLIENT_ROW)) {
        for (j = 0; j < rows->n_columns; j++) {
            rows->type_names[j] = typeName(rows->row[j].type);
        }
    }
    return rows->type_names[i] != NULL ? rows->type_names[i] : "";
}

DQLITE_API int dqlite_rows_close(struct dqlite_rows *rows)
{
    struct dqlite_conn *c;
    int rv = 0;
    if (rows == NULL) {
        return 0;
    }
    c = rows->conn;
    ASSERT(c->rows == rows);
    if (!rows->ended && !rows->batch.done && clientSockOpen(&c->sock)) {
        rv = clientConnInterrupt(c);
        if (rv != 0) {
            clientErrSet(&c->err, rv, "interrupt failed: %s", errString(rv));
            rv = clientErrPublic(clientConnBroken(c, rv));
        }
    }
    c->rows = NULL;
    rowsFree(rows);
    return rv;
}
