/* Parameter tuples: both count widths, the header sizes of the spec's
 * table, absent and empty tuples, padding never read, and every refusal. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "lib/byte.h"
#include "lib/err.h"
#include "proto/params.h"
#include "vectors.h"

/* Decodes `hex` as a whole tuple with `schema`. */
static int decodeTuple(const char *hex, uint8_t schema, struct proto_params *p,
                       struct buf *keep)
{
    struct proto_dec d;
    bufInit(keep);
    cr_assert(vecHex(hex, keep));
    protoDecInit(&d, keep->data, keep->len);
    return protoParamsDecode(&d, schema, p);
}

static int tupleError(const char *hex, uint8_t schema)
{
    struct proto_params p;
    struct buf keep;
    int rv = decodeTuple(hex, schema, &p, &keep);
    bufFree(&keep);
    return rv;
}

/* Encodes `count` NULL parameters and returns the tuple size. */
static size_t encodedSize(uint8_t schema, uint32_t count)
{
    struct proto_value *v = calloc(count, sizeof *v);
    for (uint32_t i = 0; i < count; i++) {
        v[i].type = PROTO_NULL;
    }
    struct proto_params p;
    struct proto_enc e;
    struct buf out;
    bufInit(&out);
    protoParamsSet(&p, v, count);
    protoEncBegin(&e, &out, PROTO_REQ_EXEC, schema);
    protoParamsEncode(&e, schema, &p);
    cr_assert_eq(protoEncEnd(&e), 0);
    size_t size = out.len - PROTO_HEADER_SIZE - 8 * count;
    bufFree(&out);
    free(v);
    return size;
}

Test(params, header_sizes_match_the_spec_table)
{
    static const uint32_t n[] = {1, 4, 5, 7, 8, 12, 13, 255};
    static const size_t schema0[] = {8, 8, 8, 8, 16, 16, 16, 256};
    static const size_t schema1[] = {8, 8, 16, 16, 16, 16, 24, 264};
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) {
        cr_assert_eq(encodedSize(0, n[i]), schema0[i], "n=%u", n[i]);
        cr_assert_eq(encodedSize(1, n[i]), schema1[i], "n=%u", n[i]);
    }
}

Test(params, padding_after_type_codes_is_never_read)
{
    /* Vector 04: count 2, TEXT, INTEGER, then five stale bytes. */
    struct proto_params p;
    struct proto_params_iter it;
    struct proto_value v;
    struct buf keep;
    cr_assert_eq(decodeTuple("0203014543542069 706172616d000000"
                             "0000000000000000",
                             0, &p, &keep),
                 0);
    cr_assert_eq(p.count, 2);
    protoParamsIterInit(&it, &p);
    cr_assert(protoParamsIterNext(&it, &v));
    cr_assert_eq(v.type, PROTO_TEXT);
    cr_assert_str_eq(v.text.data, "param");
    cr_assert(protoParamsIterNext(&it, &v));
    cr_assert_eq(v.type, PROTO_INTEGER);
    cr_assert_eq(v.integer, 0);
    cr_assert(!protoParamsIterNext(&it, &v));
    bufFree(&keep);
}

Test(params, absent_and_explicitly_empty_tuples)
{
    struct proto_params p;
    struct buf keep;
    cr_assert_eq(decodeTuple("", 0, &p, &keep), 0);
    cr_assert_eq(p.count, 0);
    cr_assert(!p.present);
    bufFree(&keep);
    cr_assert_eq(decodeTuple("0000000000000000", 0, &p, &keep), 0);
    cr_assert_eq(p.count, 0);
    cr_assert(p.present);
    bufFree(&keep);
    cr_assert_eq(decodeTuple("0000000000000000", 1, &p, &keep), 0);
    cr_assert(p.present);
    bufFree(&keep);
}

Test(params, schema_one_allows_more_than_255)
{
    cr_assert_eq(encodedSize(1, 1000), bytePad8(4 + 1000));
    struct proto_value v = {.type = PROTO_NULL};
    struct proto_value *many = calloc(256, sizeof v);
    for (int i = 0; i < 256; i++) {
        many[i] = v;
    }
    struct proto_params p;
    struct proto_enc e;
    struct buf out;
    bufInit(&out);
    protoParamsSet(&p, many, 256);
    protoEncBegin(&e, &out, PROTO_REQ_EXEC, 0);
    protoParamsEncode(&e, 0, &p);
    cr_assert_eq(protoEncEnd(&e), ERR_PROTO_PARAM_COUNT);
    cr_assert_eq(out.len, 0);
    bufFree(&out);
    free(many);
}

Test(params, bad_type_codes)
{
    /* UNIXTIME, 0, 6, 12, 15 */
    static const char *hex[] = {
        "0109000000000000 0000000000000000",
        "0100000000000000 0000000000000000",
        "0106000000000000 0000000000000000",
        "010c000000000000 0000000000000000",
        "0201ff0000000000 0000000000000000 0000000000000000",
    };
    for (size_t i = 0; i < sizeof hex / sizeof hex[0]; i++) {
        cr_assert_eq(tupleError(hex[i], 0), ERR_PROTO_PARAM_TYPE, "%zu", i);
    }
    cr_assert_eq(tupleError("0100000009000000 0000000000000000", 1),
                 ERR_PROTO_PARAM_TYPE);
}

Test(params, encoder_refuses_non_parameter_types)
{
    struct proto_value v = {.type = PROTO_UNIXTIME, .integer = 1};
    struct proto_params p;
    struct proto_enc e;
    struct buf out;
    bufInit(&out);
    protoParamsSet(&p, &v, 1);
    protoEncBegin(&e, &out, PROTO_REQ_EXEC, 0);
    protoParamsEncode(&e, 0, &p);
    cr_assert_eq(protoEncEnd(&e), ERR_PROTO_PARAM_TYPE);
    bufFree(&out);
}

Test(params, count_above_the_limit)
{
    /* 250001 as a u32 */
    cr_assert_eq(tupleError("91d0030000000000", 1), ERR_PROTO_PARAM_COUNT);
    cr_assert_eq(tupleError("ffffffff00000000", 1), ERR_PROTO_PARAM_COUNT);
}

Test(params, truncated_tuples)
{
    static const struct {
        const char *hex;
        uint8_t schema;
    } cases[] = {
        /* type codes run past the body */
        {"0901010101010101", 0},
        /* schema 1: count field itself incomplete is impossible in whole
         * words, but type codes may run out */
        {"0500000001010101", 1},
        /* value missing */
        {"0101000000000000", 0},
        /* second value missing */
        {"0201010000000000 0100000000000000", 0},
        /* text without NUL */
        {"0103000000000000 6162636465666768", 0},
        /* blob longer than the body */
        {"0104000000000000 1000000000000000 0000000000000000", 0},
        /* blob length word missing */
        {"0104000000000000", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(tupleError(cases[i].hex, cases[i].schema),
                     ERR_PROTO_PARAM_SHORT, "case %zu", i);
    }
}

Test(params, blob_above_the_limit)
{
    /* length 2^40 */
    cr_assert_eq(tupleError("0104000000000000 0000000000010000", 0),
                 ERR_PROTO_PARAM_LONG);
}

Test(params, values_decode_as_sent)
{
    struct proto_params p;
    struct proto_params_iter it;
    struct proto_value v;
    struct buf keep;
    cr_assert_eq(decodeTuple("0401020b0a000000 f9ffffffffffffff"
                             "000000000000d0bf 0500000000000000"
                             "0000000000000000",
                             0, &p, &keep),
                 0);
    protoParamsIterInit(&it, &p);
    cr_assert(protoParamsIterNext(&it, &v));
    cr_assert_eq(v.integer, -7);
    cr_assert(protoParamsIterNext(&it, &v));
    cr_assert_eq(v.real, -0.25);
    cr_assert(protoParamsIterNext(&it, &v));
    cr_assert_eq(v.type, PROTO_BOOLEAN);
    cr_assert(v.boolean); /* any non-zero value is true */
    cr_assert(protoParamsIterNext(&it, &v));
    cr_assert_eq(v.type, PROTO_ISO8601);
    cr_assert_eq(v.text.len, 0);
    cr_assert(!protoParamsIterNext(&it, &v));
    bufFree(&keep);
}
