/* The text length limit, on real bytes: a text one word longer than
 * PROTO_TEXT_MAX is refused wherever a text can appear (fixed field,
 * parameter, row value). Needs about 1 GB of memory, once. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "lib/byte.h"
#include "lib/err.h"
#include "proto/request.h"
#include "proto/rows.h"

#define PREFIX 64 /* room for the fields before the text */
#define TEXT_LEN ((size_t)PROTO_TEXT_MAX + 8)

Test(limits, text_longer_than_the_limit)
{
    size_t size = PREFIX + TEXT_LEN + 8;
    uint8_t *mem = malloc(size);
    cr_assert(mem != NULL);
    memset(mem + PREFIX, 'a', TEXT_LEN);
    memset(mem + PREFIX + TEXT_LEN, 0, 8);
    const uint8_t *end = mem + size;

    /* PREPARE: db id, then the SQL */
    struct proto_request r;
    uint8_t *body = mem + PREFIX - 8;
    struct proto_header h = {(uint32_t)((size_t)(end - body) / 8), 4, 0, 0};
    bytePut64(body, 0);
    cr_assert_eq(protoRequestDecode(&h, body, (size_t)(end - body), &r),
                 ERR_PROTO_TEXT_LONG);

    /* QUERY: ids, tuple of one TEXT parameter */
    body = mem + PREFIX - 16;
    h.words = (uint32_t)((size_t)(end - body) / 8);
    h.type = PROTO_REQ_QUERY;
    memset(body, 0, 16);
    body[8] = 1;
    body[9] = PROTO_TEXT;
    cr_assert_eq(protoRequestDecode(&h, body, (size_t)(end - body), &r),
                 ERR_PROTO_PARAM_LONG);

    /* ROWS: one column "a", a row holding one TEXT value */
    struct proto_rows rows;
    body = mem + PREFIX - 24;
    memset(body, 0, 24);
    body[0] = 1;
    body[8] = 'a';
    body[16] = PROTO_TEXT;
    cr_assert_eq(protoRowsDecode(body, (size_t)(end - body), &rows),
                 ERR_PROTO_TEXT_LONG);
    free(mem);
}
