/*
 * ROWS messages and row tuples (see rows.h). A row header packs one 4-bit
 * type code per column, column 0 in the low nibble of byte 0; it takes
 * pad8(ceil(n / 2)) bytes. Unused nibbles are written 0 and never read.
 */
#include "proto/rows.h"

#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"

static size_t rowHeaderSize(uint64_t n_columns)
{
    PRE(n_columns <= PROTO_COLUMNS_MAX);
    return (size_t)bytePad8((n_columns + 1) / 2);
}

static unsigned rowNibble(const uint8_t *types, uint64_t i)
{
    return (types[i / 2] >> ((i % 2) * 4)) & 0xf;
}

/* ------------------------------------------------------------ row tuples */

void protoRowDecode(struct proto_dec *d, uint64_t n_columns,
                    struct proto_value *row)
{
    PRE(d->rv == 0);
    size_t header = rowHeaderSize(n_columns);
    if (header > protoDecLeft(d)) {
        protoDecFail(d, ERR_PROTO_ROW_SHORT);
        return;
    }
    const uint8_t *types = d->p + d->pos;
    d->pos += header;
    struct proto_value scratch;
    for (uint64_t i = 0; i < n_columns && d->rv == 0; i++) {
        unsigned type = rowNibble(types, i);
        if (!protoRowTypeValid(type)) {
            protoDecFail(d, ERR_PROTO_VALUE_TYPE);
            break;
        }
        protoDecValue(d, (uint8_t)type, row != NULL ? &row[i] : &scratch);
    }
    if (d->rv == ERR_PROTO_SHORT || d->rv == ERR_PROTO_NONUL) {
        d->rv = ERR_PROTO_ROW_SHORT;
    }
}

void protoRowEncode(struct proto_enc *e, uint64_t n_columns,
                    const struct proto_value *row)
{
    PRE(row != NULL || n_columns == 0);
    for (uint64_t i = 0; i < n_columns; i++) {
        if (!protoRowTypeValid(row[i].type)) {
            protoEncFail(e, ERR_PROTO_VALUE_TYPE);
            return;
        }
    }
    size_t at = e->out->len;
    protoEncZeros(e, rowHeaderSize(n_columns));
    if (e->rv != 0) {
        return;
    }
    uint8_t *types = e->out->data + at;
    for (uint64_t i = 0; i < n_columns; i++) {
        types[i / 2] |= (uint8_t)(row[i].type << ((i % 2) * 4));
    }
    for (uint64_t i = 0; i < n_columns; i++) {
        protoEncValue(e, &row[i]);
    }
}

/* ------------------------------------------------------------ decoding */

/* The marker word at the cursor, which must end the body. */
static int rowsDecodeMarker(struct proto_dec *d, bool *done)
{
    if (protoDecLeft(d) < 8) {
        return ERR_PROTO_MARKER;
    }
    uint64_t word = protoDecU64(d);
    if (word != PROTO_ROWS_DONE && word != PROTO_ROWS_PART) {
        return ERR_PROTO_MARKER;
    }
    *done = word == PROTO_ROWS_DONE;
    return protoDecLeft(d) == 0 ? 0 : ERR_PROTO_TRAILING;
}

/* Whether the next word starts like an end marker: a valid row header's
 * first nibble is a row type (at most 11), never 0xe or 0xf. */
static bool rowsAtMarker(const struct proto_dec *d)
{
    uint8_t first = d->p[d->pos];
    return first == 0xee || first == 0xff;
}

static int rowsDecodeRows(struct proto_dec *d, struct proto_rows *rows)
{
    size_t start = d->pos;
    for (;;) {
        if (protoDecLeft(d) == 0) {
            return ERR_PROTO_MARKER;
        }
        if (rowsAtMarker(d) || rows->n_columns == 0) {
            break; /* no columns: nothing but the marker can follow */
        }
        if (rows->n_rows == PROTO_ROWS_PER_BATCH_MAX) {
            return ERR_PROTO_ROWS;
        }
        protoRowDecode(d, rows->n_columns, NULL);
        if (d->rv != 0) {
            return d->rv;
        }
        rows->n_rows++;
    }
    rows->rows.data = d->p + start;
    rows->rows.len = d->pos - start;
    return rowsDecodeMarker(d, &rows->done);
}

int protoRowsDecode(const uint8_t *body, size_t len, struct proto_rows *rows)
{
    PRE(body != NULL || len == 0);
    struct proto_dec d;
    memset(rows, 0, sizeof *rows);
    protoDecInit(&d, body, len);
    rows->n_columns = protoDecU64(&d);
    if (d.rv == 0 && rows->n_columns > PROTO_COLUMNS_MAX) {
        return ERR_PROTO_COLUMNS;
    }
    size_t names_start = d.pos;
    for (uint64_t i = 0; i < rows->n_columns && d.rv == 0; i++) {
        protoDecText(&d);
    }
    if (d.rv != 0) {
        return d.rv;
    }
    rows->names.data = body + names_start;
    rows->names.len = d.pos - names_start;
    int rv = rowsDecodeRows(&d, rows);
    if (rv != 0) {
        memset(rows, 0, sizeof *rows);
    }
    return rv;
}

/* ------------------------------------------------------------ iterating */

void protoRowsNames(const struct proto_rows *rows, struct proto_text *names)
{
    PRE(names != NULL || rows->n_columns == 0);
    if (rows->columns != NULL) {
        memcpy(names, rows->columns, rows->n_columns * sizeof *names);
        return;
    }
    struct proto_dec d;
    protoDecInit(&d, rows->names.data, rows->names.len);
    for (uint64_t i = 0; i < rows->n_columns; i++) {
        names[i] = protoDecText(&d);
    }
    ASSERT(d.rv == 0 && protoDecLeft(&d) == 0);
}

void protoRowsIterInit(struct proto_rows_iter *it,
                       const struct proto_rows *rows)
{
    it->rows = rows;
    it->index = 0;
    protoDecInit(&it->dec, rows->rows.data, rows->rows.len);
}

bool protoRowsIterNext(struct proto_rows_iter *it, struct proto_value *row)
{
    const struct proto_rows *rows = it->rows;
    if (it->index >= rows->n_rows) {
        return false;
    }
    uint64_t n = rows->n_columns;
    if (rows->values != NULL) {
        memcpy(row, rows->values + it->index * n, n * sizeof *row);
    } else {
        protoRowDecode(&it->dec, n, row);
        ASSERT(it->dec.rv == 0); /* validated when decoded */
    }
    it->index++;
    return true;
}

/* ------------------------------------------------------------ writing */

int protoRowsBegin(struct proto_rows_writer *w, struct buf *out,
                   uint64_t n_columns, const struct proto_text *names)
{
    PRE(names != NULL || n_columns == 0);
    w->n_columns = n_columns;
    w->n_rows = 0;
    if (n_columns > PROTO_COLUMNS_MAX) {
        return ERR_PROTO_COLUMNS;
    }
    protoEncBegin(&w->enc, out, PROTO_RESP_ROWS, 0);
    protoEncU64(&w->enc, n_columns);
    for (uint64_t i = 0; i < n_columns; i++) {
        protoEncText(&w->enc, names[i]);
    }
    if (w->enc.rv != 0) {
        return protoEncEnd(&w->enc); /* restores out */
    }
    return 0;
}

int protoRowsAdd(struct proto_rows_writer *w, const struct proto_value *row)
{
    PRE(w->enc.rv == 0);
    size_t mark = w->enc.out->len;
    protoRowEncode(&w->enc, w->n_columns, row);
    int rv = w->enc.rv;
    if (rv != 0) {
        w->enc.out->len = mark;
        w->enc.rv = 0; /* the batch itself is intact */
        return rv;
    }
    w->n_rows++;
    return 0;
}

size_t protoRowsSize(const struct proto_rows_writer *w)
{
    return w->enc.out->len - w->enc.start;
}

int protoRowsFinish(struct proto_rows_writer *w, bool done)
{
    PRE(w->enc.rv == 0);
    protoEncU64(&w->enc, done ? PROTO_ROWS_DONE : PROTO_ROWS_PART);
    return protoEncEnd(&w->enc);
}

void protoRowsAbort(struct proto_rows_writer *w)
{
    ASSERT(w->enc.out->len >= w->enc.start);
    w->enc.out->len = w->enc.start;
}

/* ------------------------------------------------------------ whole batch */

static int rowsEncodeBody(struct proto_rows_writer *w,
                          const struct proto_rows *rows,
                          struct proto_value *row)
{
    struct proto_rows_iter it;
    protoRowsIterInit(&it, rows);
    while (protoRowsIterNext(&it, row)) {
        int rv = protoRowsAdd(w, row);
        if (rv != 0) {
            protoRowsAbort(w);
            return rv;
        }
    }
    return protoRowsFinish(w, rows->done);
}

int protoRowsEncode(const struct proto_rows *rows, struct buf *out)
{
    int rv = ERR_PROTO_COLUMNS;
    if (rows->n_columns > PROTO_COLUMNS_MAX) {
        goto err;
    }
    size_t n = (size_t)rows->n_columns;
    rv = ERR_NOMEM;
    struct proto_text *names = libMalloc(n * sizeof *names);
    if (names == NULL) {
        goto err;
    }
    struct proto_value *row = libMalloc(n * sizeof *row);
    if (row == NULL) {
        goto err_after_names;
    }
    protoRowsNames(rows, names);
    struct proto_rows_writer w;
    rv = protoRowsBegin(&w, out, rows->n_columns, names);
    if (rv == 0) {
        rv = rowsEncodeBody(&w, rows, row);
    }
    libFree(row);
err_after_names:
    libFree(names);
err:
    return rv;
}
