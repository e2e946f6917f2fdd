/*
 * Result sets: ROWS messages (response 7) and the row tuples inside them.
 *
 * A ROWS body is the column count, the column names, zero or more row
 * tuples (a header of 4-bit type codes, then the values) and one end
 * marker word: DONE, or PART when the server will send another batch on
 * its own. Each batch repeats the column header.
 *
 * Server side, batches are written incrementally with a writer: begin with
 * the column names, add rows one at a time straight from the row producer
 * (each value is copied once, into the caller's output buffer), ask whether
 * the batch is full, then finish it with PART or DONE.
 *
 * Client side, protoRowsDecode validates a whole batch once (every row, the
 * marker) without allocating; the names and rows are then walked with
 * iterators whose values point into the body, so rows are consumed batch by
 * batch and nothing is copied unless the application keeps a value.
 */
#ifndef PROTO_ROWS_H
#define PROTO_ROWS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/cursor.h"
#include "proto/wire.h"

/* One batch. Decoded: `names` and `rows` view the body, `columns` and
 * `values` are NULL. To encode: `columns` (n_columns names) and `values`
 * (n_rows * n_columns values, row after row) are the caller's. */
struct proto_rows {
    uint64_t n_columns;
    uint64_t n_rows;
    bool done; /* end marker: DONE (true) or PART (false) */
    const struct proto_text *columns;
    const struct proto_value *values;
    struct proto_span names; /* decoded: the column name texts */
    struct proto_span rows;  /* decoded: the row tuples, without marker */
};

/* Decodes a ROWS body (the rows borrow it). Errors: ERR_PROTO_SHORT,
 * ERR_PROTO_NONUL (column header), ERR_PROTO_COLUMNS (above
 * PROTO_COLUMNS_MAX), ERR_PROTO_ROW_SHORT (a row runs past the body),
 * ERR_PROTO_VALUE_TYPE (a type nibble that is not a row type),
 * ERR_PROTO_TEXT_LONG, ERR_PROTO_BLOB_LONG, ERR_PROTO_ROWS (more than
 * PROTO_ROWS_PER_BATCH_MAX rows), ERR_PROTO_MARKER (no end marker, or a
 * word starting like one that is not all 0xee or all 0xff),
 * ERR_PROTO_TRAILING (bytes after the marker). */
int protoRowsDecode(const uint8_t *body, size_t len, struct proto_rows *rows);

/* Appends a whole ROWS message built from the arrays of `rows`. */
int protoRowsEncode(const struct proto_rows *rows, struct buf *out);

/* Fills `names` (n_columns entries, caller-owned) with the column names. */
void protoRowsNames(const struct proto_rows *rows, struct proto_text *names);

struct proto_rows_iter {
    const struct proto_rows *rows;
    uint64_t index;
    struct proto_dec dec;
};

void protoRowsIterInit(struct proto_rows_iter *it,
                       const struct proto_rows *rows);
/* Fills `row` (n_columns entries, caller-owned) with the next row; false at
 * the end of the batch. Decoded values point into the body. */
bool protoRowsIterNext(struct proto_rows_iter *it, struct proto_value *row);

/* Incremental encoder of one batch into the caller's buffer. */
struct proto_rows_writer {
    struct proto_enc enc;
    uint64_t n_columns;
    uint64_t n_rows;
};

/* Starts a batch: header, column count, names (copied). Errors:
 * ERR_PROTO_COLUMNS, ERR_PROTO_TEXT_NUL, ERR_PROTO_TEXT_LONG, ERR_NOMEM,
 * ERR_TOOBIG; `out` unchanged on error. */
int protoRowsBegin(struct proto_rows_writer *w, struct buf *out,
                   uint64_t n_columns, const struct proto_text *names);

/* Appends one row of n_columns values (copied). ERR_PROTO_VALUE_TYPE for a
 * type that cannot appear in a row; on any error the row is not added and
 * the batch can still be finished or aborted. */
int protoRowsAdd(struct proto_rows_writer *w, const struct proto_value *row);

/* Bytes of the message so far (header included): the reference ends a batch
 * with PART once this reaches the page size, checked before each step. */
size_t protoRowsSize(const struct proto_rows_writer *w);

/* Ends the batch with DONE or PART and completes the message. */
int protoRowsFinish(struct proto_rows_writer *w, bool done);

/* Drops the unfinished batch from the output buffer. */
void protoRowsAbort(struct proto_rows_writer *w);

/* Row tuples on their own. Encode: `row` has n_columns values. Decode:
 * `row` may be NULL to validate only; errors as for protoRowsDecode. */
void protoRowEncode(struct proto_enc *e, uint64_t n_columns,
                    const struct proto_value *row);
void protoRowDecode(struct proto_dec *d, uint64_t n_columns,
                    struct proto_value *row);

#endif /* PROTO_ROWS_H */
