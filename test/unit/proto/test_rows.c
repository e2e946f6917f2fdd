/* ROWS: the spec's examples, nibble packing, the incremental writer, zero
 * columns, and every refusal of the batch decoder. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "proto/response.h"
#include "proto/rows.h"
#include "vectors.h"

static int rowsError(const char *hex)
{
    struct buf body;
    struct proto_rows rows;
    bufInit(&body);
    cr_assert(vecHex(hex, &body));
    int rv = protoRowsDecode(body.data, body.len, &rows);
    bufFree(&body);
    return rv;
}

Test(rows, select_one_is_the_spec_example)
{
    struct buf body;
    struct proto_rows rows;
    struct proto_text name;
    struct proto_value v;
    struct proto_rows_iter it;
    bufInit(&body);
    cr_assert(vecHex("0100000000000000 3100000000000000 0100000000000000"
                     "0100000000000000 ffffffffffffffff",
                     &body));
    cr_assert_eq(protoRowsDecode(body.data, body.len, &rows), 0);
    cr_assert_eq(rows.n_columns, 1);
    cr_assert_eq(rows.n_rows, 1);
    cr_assert(rows.done);
    protoRowsNames(&rows, &name);
    cr_assert_str_eq(name.data, "1");
    protoRowsIterInit(&it, &rows);
    cr_assert(protoRowsIterNext(&it, &v));
    cr_assert_eq(v.type, PROTO_INTEGER);
    cr_assert_eq(v.integer, 1);
    cr_assert(!protoRowsIterNext(&it, &v));
    bufFree(&body);
}

Test(rows, nibbles_pack_two_columns_per_byte)
{
    /* Vector 04's seven types give the header 21 43 b5 0a. */
    static const uint8_t types[] = {1, 2, 3, 4, 5, 11, 10};
    struct proto_value row[7];
    struct proto_text names[7];
    memset(row, 0, sizeof row);
    for (int i = 0; i < 7; i++) {
        row[i].type = types[i];
        if (types[i] == PROTO_TEXT || types[i] == PROTO_ISO8601) {
            row[i].text = protoText("");
        }
        names[i] = protoText("c");
    }
    struct proto_rows_writer w;
    struct buf out;
    bufInit(&out);
    cr_assert_eq(protoRowsBegin(&w, &out, 7, names), 0);
    cr_assert_eq(protoRowsAdd(&w, row), 0);
    cr_assert_eq(protoRowsFinish(&w, true), 0);
    size_t header_at = PROTO_HEADER_SIZE + 8 + 7 * 8;
    cr_assert_str_eq(vecToHex(out.data + header_at, 8), "2143b50a00000000");
    bufFree(&out);
}

Test(rows, twenty_one_columns_take_two_header_words)
{
    struct proto_value row[21];
    struct proto_text names[21];
    for (int i = 0; i < 21; i++) {
        row[i].type = PROTO_NULL;
        names[i] = protoText("n");
    }
    struct proto_rows_writer w;
    struct buf out;
    struct proto_rows rows;
    bufInit(&out);
    cr_assert_eq(protoRowsBegin(&w, &out, 21, names), 0);
    cr_assert_eq(protoRowsAdd(&w, row), 0);
    cr_assert_eq(protoRowsFinish(&w, false), 0);
    /* count + 21 names + 16-byte header + 21 NULL words + marker */
    cr_assert_eq(out.len, 8 + 8 + 21 * 8 + 16 + 21 * 8 + 8);
    cr_assert_eq(protoRowsDecode(out.data + 8, out.len - 8, &rows), 0);
    cr_assert_eq(rows.n_rows, 1);
    cr_assert(!rows.done);
    cr_assert_eq(byteGet64(out.data + out.len - 8), PROTO_ROWS_PART);
    bufFree(&out);
}

Test(rows, zero_columns_hold_only_the_marker)
{
    struct buf out;
    struct proto_rows_writer w;
    struct proto_rows rows;
    bufInit(&out);
    cr_assert_eq(protoRowsBegin(&w, &out, 0, NULL), 0);
    cr_assert_eq(protoRowsFinish(&w, true), 0);
    cr_assert_str_eq(vecToHex(out.data, out.len),
                     "0200000007000000"
                     "0000000000000000ffffffffffffffff");
    cr_assert_eq(protoRowsDecode(out.data + 8, out.len - 8, &rows), 0);
    cr_assert_eq(rows.n_rows, 0);
    /* no columns: a word that is not a marker cannot be a row */
    cr_assert_eq(rowsError("0000000000000000 0100000000000000"
                           "ffffffffffffffff"),
                 ERR_PROTO_MARKER);
    bufFree(&out);
}

Test(rows, writer_refuses_a_bad_row_and_keeps_the_batch)
{
    struct proto_text name = protoText("x");
    struct proto_value good = {.type = PROTO_INTEGER, .integer = 3};
    struct proto_value bad = {.type = 6};
    struct proto_rows_writer w;
    struct proto_rows rows;
    struct buf out;
    bufInit(&out);
    cr_assert_eq(protoRowsBegin(&w, &out, 1, &name), 0);
    size_t before = protoRowsSize(&w);
    cr_assert_eq(protoRowsAdd(&w, &bad), ERR_PROTO_VALUE_TYPE);
    cr_assert_eq(protoRowsSize(&w), before);
    bad.type = 15;
    cr_assert_eq(protoRowsAdd(&w, &bad), ERR_PROTO_VALUE_TYPE);
    cr_assert_eq(protoRowsAdd(&w, &good), 0);
    cr_assert_eq(protoRowsFinish(&w, true), 0);
    cr_assert_eq(protoRowsDecode(out.data + 8, out.len - 8, &rows), 0);
    cr_assert_eq(rows.n_rows, 1);
    bufFree(&out);
}

Test(rows, writer_abort_and_column_limit)
{
    struct proto_text name = protoText("x");
    struct proto_rows_writer w;
    struct buf out;
    bufInit(&out);
    cr_assert_eq(bufAppend(&out, "abc", 3), 0);
    cr_assert_eq(protoRowsBegin(&w, &out, 1, &name), 0);
    protoRowsAbort(&w);
    cr_assert_eq(out.len, 3);
    cr_assert_eq(protoRowsBegin(&w, &out, PROTO_COLUMNS_MAX + 1, &name),
                 ERR_PROTO_COLUMNS);
    name.data = "a\0b";
    name.len = 3;
    cr_assert_eq(protoRowsBegin(&w, &out, 1, &name), ERR_PROTO_TEXT_NUL);
    cr_assert_eq(out.len, 3);
    bufFree(&out);
}

Test(rows, writer_out_of_memory)
{
    struct proto_text name = protoText("x");
    struct proto_value v = {.type = PROTO_BLOB};
    static uint8_t big[512];
    v.blob.data = big;
    v.blob.len = sizeof big;
    struct proto_rows_writer w;
    struct buf out;
    bufInit(&out);
    libAllocFailAfter(0, 1);
    cr_assert_eq(protoRowsBegin(&w, &out, 1, &name), ERR_NOMEM);
    libAllocFailAfter(-1, 1);
    cr_assert_eq(protoRowsBegin(&w, &out, 1, &name), 0);
    libAllocFailAfter(0, 1);
    cr_assert_eq(protoRowsAdd(&w, &v), ERR_NOMEM);
    libAllocFailAfter(-1, 1);
    cr_assert_eq(protoRowsFinish(&w, true), 0);
    bufFree(&out);
}

Test(rows, encode_from_arrays_and_out_of_memory)
{
    struct proto_text names[2] = {protoText("a"), protoText("b")};
    struct proto_value values[4] = {
        {.type = PROTO_INTEGER, .integer = 1},
        {.type = PROTO_UNIXTIME, .integer = 1700000000},
        {.type = PROTO_FLOAT, .real = 2.5},
        {.type = PROTO_BOOLEAN, .boolean = true},
    };
    struct proto_rows rows = {.n_columns = 2,
                              .n_rows = 2,
                              .done = true,
                              .columns = names,
                              .values = values};
    struct buf out;
    struct proto_rows back;
    struct proto_rows_iter it;
    struct proto_value row[2];
    bufInit(&out);
    libAllocFailAfter(0, 1);
    cr_assert_eq(protoRowsEncode(&rows, &out), ERR_NOMEM);
    libAllocFailAfter(1, 1);
    cr_assert_eq(protoRowsEncode(&rows, &out), ERR_NOMEM);
    libAllocFailAfter(-1, 1);
    cr_assert_eq(out.len, 0);
    cr_assert_eq(protoRowsEncode(&rows, &out), 0);
    cr_assert_eq(protoRowsDecode(out.data + 8, out.len - 8, &back), 0);
    protoRowsIterInit(&it, &back);
    cr_assert(protoRowsIterNext(&it, row));
    cr_assert_eq(row[1].type, PROTO_UNIXTIME);
    cr_assert_eq(row[1].integer, 1700000000);
    cr_assert(protoRowsIterNext(&it, row));
    cr_assert_eq(row[0].real, 2.5);
    cr_assert(row[1].boolean);
    cr_assert(!protoRowsIterNext(&it, row));
    rows.n_columns = PROTO_COLUMNS_MAX + 1;
    cr_assert_eq(protoRowsEncode(&rows, &out), ERR_PROTO_COLUMNS);
    bufFree(&out);
}

Test(rows, refusals)
{
    static const struct {
        const char *hex;
        int rv;
    } cases[] = {
        /* column count missing (empty body) */
        {"", ERR_PROTO_SHORT},
        /* too many columns */
        {"0080000000000000 ffffffffffffffff", ERR_PROTO_COLUMNS},
        /* column name without NUL */
        {"0100000000000000 6162636465666768", ERR_PROTO_NONUL},
        /* fewer names than columns */
        {"0200000000000000 6100000000000000", ERR_PROTO_SHORT},
        /* no end marker */
        {"0100000000000000 6100000000000000", ERR_PROTO_MARKER},
        {"0100000000000000 6100000000000000 0500000000000000"
         "0000000000000000",
         ERR_PROTO_MARKER},
        /* a word starting like a marker that is not one */
        {"0100000000000000 6100000000000000 ff00000000000000",
         ERR_PROTO_MARKER},
        {"0100000000000000 6100000000000000 eeeeeeeeeeeeeeef",
         ERR_PROTO_MARKER},
        /* bytes after the marker */
        {"0100000000000000 6100000000000000 ffffffffffffffff"
         "0000000000000000",
         ERR_PROTO_TRAILING},
        /* row header or value runs past the body */
        {"1000000000000000 6100000000000000 6100000000000000"
         "6100000000000000 6100000000000000 6100000000000000"
         "6100000000000000 6100000000000000 6100000000000000"
         "6100000000000000 6100000000000000 6100000000000000"
         "6100000000000000 6100000000000000 6100000000000000"
         "6100000000000000 6100000000000000 5555555555555555",
         ERR_PROTO_ROW_SHORT},
        {"0100000000000000 6100000000000000 0100000000000000",
         ERR_PROTO_ROW_SHORT},
        {"0100000000000000 6100000000000000 0300000000000000"
         "6162636465666768",
         ERR_PROTO_ROW_SHORT},
        {"0100000000000000 6100000000000000 0400000000000000"
         "0900000000000000 0000000000000000",
         ERR_PROTO_ROW_SHORT},
        /* nibbles that are not row types: 0, 6, 8, 12 */
        {"0100000000000000 6100000000000000 0000000000000000"
         "ffffffffffffffff",
         ERR_PROTO_VALUE_TYPE},
        {"0100000000000000 6100000000000000 0600000000000000"
         "0000000000000000 ffffffffffffffff",
         ERR_PROTO_VALUE_TYPE},
        {"0200000000000000 6100000000000000 6200000000000000"
         "8100000000000000 0000000000000000 ffffffffffffffff",
         ERR_PROTO_VALUE_TYPE},
        {"0100000000000000 6100000000000000 0c00000000000000"
         "0000000000000000 ffffffffffffffff",
         ERR_PROTO_VALUE_TYPE},
        /* blob above the limit */
        {"0100000000000000 6100000000000000 0400000000000000"
         "0000000000010000 ffffffffffffffff",
         ERR_PROTO_BLOB_LONG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(rowsError(cases[i].hex), cases[i].rv, "case %zu: %d", i,
                     rowsError(cases[i].hex));
    }
}

Test(rows, unused_nibbles_are_not_read)
{
    /* one column; the high nibble and the rest of the header are junk */
    cr_assert_eq(rowsError("0100000000000000 6100000000000000"
                           "f5abcdef01234567 0000000000000000"
                           "ffffffffffffffff"),
                 0);
}

Test(rows, too_many_rows_in_one_batch)
{
    /* one NULL column: 16 bytes a row */
    size_t n = (size_t)PROTO_ROWS_PER_BATCH_MAX + 1;
    size_t len = 16 + n * 16 + 8;
    uint8_t *body = calloc(len, 1);
    struct proto_rows rows;
    bytePut64(body, 1);
    body[8] = 'a';
    for (size_t i = 0; i < n; i++) {
        body[16 + i * 16] = PROTO_NULL;
    }
    bytePut64(body + len - 8, PROTO_ROWS_DONE);
    cr_assert_eq(protoRowsDecode(body, len, &rows), ERR_PROTO_ROWS);
    bytePut64(body + len - 24, PROTO_ROWS_DONE);
    cr_assert_eq(protoRowsDecode(body, len - 16, &rows), 0);
    cr_assert_eq(rows.n_rows, PROTO_ROWS_PER_BATCH_MAX);
    free(body);
}

Test(rows, responses_carry_rows)
{
    struct proto_response r;
    struct buf keep;
    cr_assert_eq(vecDecodeResponse("0300000007000000 0100000000000000"
                                   "3100000000000000 eeeeeeeeeeeeeeee",
                                   NULL, &r, &keep),
                 0);
    cr_assert_eq(r.rows.n_columns, 1);
    cr_assert(!r.rows.done);
    bufFree(&keep);
    cr_assert_eq(vecDecodeResponse("0300000007000000 0100000000000000"
                                   "3100000000000000 eeeeeeeeeeeeee00",
                                   NULL, &r, &keep),
                 ERR_PROTO_MARKER);
    bufFree(&keep);
}
