/*
 * Shared by the proto fuzz targets (header-only: each target is one
 * translation unit). Decodes one framed body as a request or a response;
 * when decoding succeeds, walks every view (parameters, rows, lists) and
 * checks that encoding is stable: decode(encode(m)) re-encodes to the very
 * same bytes. The body is copied to an allocation of its exact size first,
 * so that AddressSanitizer sees any read past it.
 */
#ifndef TEST_FUZZ_PROTO_COMMON_H
#define TEST_FUZZ_PROTO_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "proto/request.h"
#include "proto/response.h"

#define FUZZ_CHECK(cond) \
    do {                 \
        if (!(cond)) {   \
            abort();     \
        }                \
    } while (0)

static inline uint8_t *fuzzCopy(const uint8_t *p, size_t len)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    FUZZ_CHECK(copy != NULL);
    if (len > 0) {
        memcpy(copy, p, len);
    }
    return copy;
}

static inline void fuzzWalkParams(const struct proto_params *p)
{
    struct proto_params_iter it;
    struct proto_value v;
    uint32_t n = 0;
    protoParamsIterInit(&it, p);
    while (protoParamsIterNext(&it, &v)) {
        FUZZ_CHECK(protoParamTypeValid(v.type));
        n++;
    }
    FUZZ_CHECK(n == p->count);
}

static inline void fuzzWalkResponse(const struct proto_response *r)
{
    if (r->type == PROTO_RESP_ROWS) {
        size_t n = (size_t)r->rows.n_columns;
        struct proto_text *names = malloc((n + 1) * sizeof *names);
        struct proto_value *row = malloc((n + 1) * sizeof *row);
        struct proto_rows_iter it;
        uint64_t rows = 0;
        protoRowsNames(&r->rows, names);
        protoRowsIterInit(&it, &r->rows);
        while (protoRowsIterNext(&it, row)) {
            rows++;
        }
        FUZZ_CHECK(rows == r->rows.n_rows);
        free(names);
        free(row);
    } else if (r->type == PROTO_RESP_SERVERS) {
        struct proto_servers_iter it;
        struct proto_node node;
        protoServersIterInit(&it, &r->servers);
        while (protoServersIterNext(&it, &node)) {
        }
    } else if (r->type == PROTO_RESP_FILES) {
        struct proto_files_iter it;
        struct proto_file file;
        protoFilesIterInit(&it, &r->files);
        while (protoFilesIterNext(&it, &file)) {
        }
    }
}

/* Decodes the framed message in `buf` (header first) as a request. */
static inline void fuzzStableRequest(const struct buf *first)
{
    struct proto_header h;
    struct proto_request r;
    struct buf second;
    protoHeaderGet(first->data, &h);
    FUZZ_CHECK(protoRequestDecode(&h, first->data + 8, first->len - 8, &r) ==
               0);
    bufInit(&second);
    FUZZ_CHECK(protoRequestEncode(&r, &second) == 0);
    FUZZ_CHECK(second.len == first->len);
    FUZZ_CHECK(memcmp(second.data, first->data, first->len) == 0);
    bufFree(&second);
}

static inline int fuzzRequest(const struct proto_header *h, const uint8_t *body,
                              size_t len)
{
    struct proto_request r;
    uint8_t *copy = fuzzCopy(body, len);
    int rv = protoRequestDecode(h, copy, len, &r);
    if (rv == 0) {
        if (r.type == PROTO_REQ_EXEC || r.type == PROTO_REQ_QUERY) {
            fuzzWalkParams(&r.exec.params);
        } else if (r.type == PROTO_REQ_EXEC_SQL ||
                   r.type == PROTO_REQ_QUERY_SQL) {
            fuzzWalkParams(&r.exec_sql.params);
        }
        struct buf out;
        bufInit(&out);
        FUZZ_CHECK(protoRequestEncode(&r, &out) == 0);
        fuzzStableRequest(&out);
        bufFree(&out);
    } else {
        FUZZ_CHECK(rv >= 300 && rv < 400);
    }
    free(copy);
    return rv;
}

static inline void fuzzStableResponse(const struct buf *first,
                                      const struct proto_expect *expect)
{
    struct proto_header h;
    struct proto_response r;
    struct buf second;
    protoHeaderGet(first->data, &h);
    FUZZ_CHECK(protoResponseDecode(&h, first->data + 8, first->len - 8, expect,
                                   &r) == 0);
    bufInit(&second);
    FUZZ_CHECK(protoResponseEncode(&r, expect, &second) == 0);
    FUZZ_CHECK(second.len == first->len);
    FUZZ_CHECK(memcmp(second.data, first->data, first->len) == 0);
    bufFree(&second);
}

static inline int fuzzResponse(const struct proto_header *h,
                               const uint8_t *body, size_t len,
                               const struct proto_expect *expect)
{
    struct proto_response r;
    uint8_t *copy = fuzzCopy(body, len);
    int rv = protoResponseDecode(h, copy, len, expect, &r);
    if (rv == 0) {
        fuzzWalkResponse(&r);
        struct buf out;
        bufInit(&out);
        FUZZ_CHECK(protoResponseEncode(&r, expect, &out) == 0);
        fuzzStableResponse(&out, expect);
        bufFree(&out);
    } else {
        FUZZ_CHECK(rv >= 300 && rv < 400);
    }
    free(copy);
    return rv;
}

#endif /* TEST_FUZZ_PROTO_COMMON_H */
