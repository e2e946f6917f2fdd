/* Property: any message the encoders accept decodes back to the same
 * fields. Seeded random requests with random parameter tuples (both
 * schemas) and random ROWS batches, thousands of each. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "proto/request.h"
#include "proto/response.h"
#include "vectors.h"

#define MAX_VALUES 300

static unsigned rnd(unsigned *seed, unsigned n)
{
    *seed = *seed * 1103515245u + 12345u;
    return ((*seed >> 8) & 0xffffff) % n;
}

/* A random text without NUL (or an empty one), in `pool`. */
static struct proto_text randomText(unsigned *seed, char *pool)
{
    static const size_t lens[] = {0, 1, 7, 8, 9, 15, 16, 40};
    size_t len = lens[rnd(seed, 8)];
    for (size_t i = 0; i < len; i++) {
        pool[i] = (char)(1 + rnd(seed, 255));
    }
    pool[len] = '\0';
    struct proto_text t = {pool, len};
    return t;
}

static void randomValue(unsigned *seed, bool row, char *pool,
                        struct proto_value *v)
{
    static const uint8_t types[] = {1, 2, 3, 4, 5, 10, 11, 9};
    memset(v, 0, sizeof *v);
    v->type = types[rnd(seed, row ? 8 : 7)];
    switch (v->type) {
    case PROTO_INTEGER:
    case PROTO_UNIXTIME:
        v->integer = (int64_t)((uint64_t)rnd(seed, 1u << 24) << 40) - 5;
        break;
    case PROTO_FLOAT:
        v->real = (double)rnd(seed, 1000) / 7.0;
        break;
    case PROTO_BOOLEAN:
        v->boolean = rnd(seed, 2);
        break;
    case PROTO_TEXT:
    case PROTO_ISO8601:
        v->text = randomText(seed, pool);
        break;
    case PROTO_BLOB:
        v->text = randomText(seed, pool);
        v->blob.data = (const uint8_t *)v->text.data;
        v->blob.len = v->text.len;
        break;
    }
}

static void valueEqual(const struct proto_value *a, const struct proto_value *b)
{
    cr_assert_eq(a->type, b->type);
    switch (a->type) {
    case PROTO_INTEGER:
    case PROTO_UNIXTIME:
        cr_assert_eq(a->integer, b->integer);
        break;
    case PROTO_FLOAT:
        cr_assert_eq(a->real, b->real);
        break;
    case PROTO_BOOLEAN:
        cr_assert_eq(a->boolean, b->boolean);
        break;
    case PROTO_TEXT:
    case PROTO_ISO8601:
        cr_assert_eq(a->text.len, b->text.len);
        cr_assert_eq(memcmp(a->text.data, b->text.data, a->text.len), 0);
        cr_assert_eq(b->text.data[b->text.len], '\0');
        break;
    case PROTO_BLOB:
        cr_assert_eq(a->blob.len, b->blob.len);
        cr_assert(a->blob.len == 0 ||
                  memcmp(a->blob.data, b->blob.data, a->blob.len) == 0);
        break;
    }
}

static char pools[MAX_VALUES + 1][48];
static struct proto_value values[MAX_VALUES];

static void paramsEqual(const struct proto_params *sent,
                        const struct proto_params *got)
{
    struct proto_params_iter a, b;
    struct proto_value va, vb;
    cr_assert_eq(got->count, sent->count);
    cr_assert_eq(got->present, sent->present || sent->count > 0);
    protoParamsIterInit(&a, sent);
    protoParamsIterInit(&b, got);
    while (protoParamsIterNext(&a, &va)) {
        cr_assert(protoParamsIterNext(&b, &vb));
        valueEqual(&va, &vb);
    }
    cr_assert(!protoParamsIterNext(&b, &vb));
}

/* Encodes, frames and decodes `r` into `back` (which borrows `out`). */
static void requestBack(const struct proto_request *r, struct buf *out,
                        struct proto_request *back)
{
    struct proto_header h;
    bufInit(out);
    cr_assert_eq(protoRequestEncode(r, out), 0);
    protoHeaderGet(out->data, &h);
    cr_assert_eq(protoRequestDecode(&h, out->data + 8, out->len - 8, back), 0);
}

Test(random, sql_requests_with_parameters_round_trip)
{
    unsigned seed = 42;
    static const uint8_t types[] = {PROTO_REQ_EXEC, PROTO_REQ_QUERY,
                                    PROTO_REQ_EXEC_SQL, PROTO_REQ_QUERY_SQL};
    for (int iter = 0; iter < 3000; iter++) {
        struct proto_request r, back;
        struct buf out;
        protoRequestInit(&r, types[rnd(&seed, 4)]);
        r.schema = (uint8_t)rnd(&seed, 2);
        uint32_t n =
            rnd(&seed, 4) == 0 ? rnd(&seed, MAX_VALUES) : rnd(&seed, 9);
        if (r.schema == 0 && n > 255) {
            n = 255;
        }
        for (uint32_t i = 0; i < n; i++) {
            randomValue(&seed, false, pools[i], &values[i]);
        }
        struct proto_params *p =
            r.type == PROTO_REQ_EXEC || r.type == PROTO_REQ_QUERY
                ? &r.exec.params
                : &r.exec_sql.params;
        protoParamsSet(p, values, n);
        p->present = n > 0 || rnd(&seed, 2);
        if (r.type == PROTO_REQ_EXEC_SQL || r.type == PROTO_REQ_QUERY_SQL) {
            r.exec_sql.db_id = rnd(&seed, 3);
            r.exec_sql.sql = randomText(&seed, pools[MAX_VALUES]);
        } else {
            r.exec.db_id = rnd(&seed, 3);
            r.exec.stmt_id = rnd(&seed, 1000);
        }
        requestBack(&r, &out, &back);
        cr_assert_eq(back.schema, r.schema);
        if (r.type == PROTO_REQ_EXEC || r.type == PROTO_REQ_QUERY) {
            cr_assert_eq(back.exec.db_id, r.exec.db_id);
            cr_assert_eq(back.exec.stmt_id, r.exec.stmt_id);
            paramsEqual(&r.exec.params, &back.exec.params);
        } else {
            cr_assert_eq(back.exec_sql.db_id, r.exec_sql.db_id);
            cr_assert_eq(back.exec_sql.sql.len, r.exec_sql.sql.len);
            paramsEqual(&r.exec_sql.params, &back.exec_sql.params);
        }
        bufFree(&out);
    }
}

Test(random, rows_batches_round_trip)
{
    unsigned seed = 7;
    for (int iter = 0; iter < 1000; iter++) {
        uint64_t n_cols = 1 + rnd(&seed, 20);
        uint64_t n_rows = rnd(&seed, MAX_VALUES / n_cols);
        struct proto_text names[20];
        static char name_pool[20][48];
        for (uint64_t c = 0; c < n_cols; c++) {
            names[c] = randomText(&seed, name_pool[c]);
        }
        for (uint64_t i = 0; i < n_rows * n_cols; i++) {
            randomValue(&seed, true, pools[i], &values[i]);
        }
        struct proto_response r, back;
        struct proto_header h;
        struct buf out;
        protoResponseInit(&r, PROTO_RESP_ROWS);
        r.rows = (struct proto_rows){.n_columns = n_cols,
                                     .n_rows = n_rows,
                                     .done = rnd(&seed, 2),
                                     .columns = names,
                                     .values = values};
        bufInit(&out);
        cr_assert_eq(protoResponseEncode(&r, NULL, &out), 0);
        protoHeaderGet(out.data, &h);
        cr_assert_eq(
            protoResponseDecode(&h, out.data + 8, out.len - 8, NULL, &back), 0);
        cr_assert_eq(back.rows.n_rows, n_rows);
        cr_assert_eq(back.rows.done, r.rows.done);
        struct proto_text got_names[20];
        protoRowsNames(&back.rows, got_names);
        for (uint64_t c = 0; c < n_cols; c++) {
            cr_assert_eq(got_names[c].len, names[c].len);
        }
        struct proto_rows_iter it;
        struct proto_value row[20];
        protoRowsIterInit(&it, &back.rows);
        for (uint64_t i = 0; protoRowsIterNext(&it, row); i++) {
            for (uint64_t c = 0; c < n_cols; c++) {
                valueEqual(&values[i * n_cols + c], &row[c]);
            }
        }
        cr_assert_eq(it.index, n_rows);
        bufFree(&out);
    }
}
