/*
 * Parameter tuples (see params.h): layout per schema, validation of every
 * value at decode time so that iterating a decoded tuple cannot fail.
 */
#include "proto/params.h"

#include <string.h>

#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"

void protoParamsInit(struct proto_params *p)
{
    memset(p, 0, sizeof *p);
}

void protoParamsSet(struct proto_params *p, const struct proto_value *values,
                    uint32_t count)
{
    PRE(values != NULL || count == 0);
    protoParamsInit(p);
    p->count = count;
    p->present = count > 0;
    p->values = values;
}

/* Bytes of count field + type codes + padding. */
static size_t paramsHeaderSize(uint8_t schema, uint32_t count)
{
    size_t field = schema == 0 ? 1 : 4;
    return (size_t)bytePad8(field + (uint64_t)count);
}

/* A value decoder's error, restated as a parameter error. */
static int paramsErr(int rv)
{
    switch (rv) {
    case ERR_PROTO_TEXT_LONG:
    case ERR_PROTO_BLOB_LONG:
        return ERR_PROTO_PARAM_LONG;
    default:
        ASSERT(rv == ERR_PROTO_SHORT || rv == ERR_PROTO_NONUL);
        return ERR_PROTO_PARAM_SHORT;
    }
}

/* Checks every type code, then decodes every value once. */
static int paramsValidate(const struct proto_params *p)
{
    for (uint32_t i = 0; i < p->count; i++) {
        if (!protoParamTypeValid(p->types[i])) {
            return ERR_PROTO_PARAM_TYPE;
        }
    }
    struct proto_dec d;
    struct proto_value v;
    protoDecInit(&d, p->data.data, p->data.len);
    for (uint32_t i = 0; i < p->count && d.rv == 0; i++) {
        protoDecValue(&d, p->types[i], &v);
    }
    return d.rv == 0 ? 0 : paramsErr(d.rv);
}

static uint32_t paramsDecodeCount(struct proto_dec *d, uint8_t schema)
{
    return schema == 0 ? protoDecU8(d) : protoDecU32(d);
}

int protoParamsDecode(struct proto_dec *d, uint8_t schema,
                      struct proto_params *p)
{
    PRE(d->rv == 0);
    PRE(schema <= 1);
    protoParamsInit(p);
    if (protoDecLeft(d) == 0) {
        return 0; /* absent tuple: no parameters */
    }
    size_t tuple_start = d->pos;
    uint32_t count = paramsDecodeCount(d, schema);
    if (d->rv == 0 && count > PROTO_PARAMS_MAX) {
        return ERR_PROTO_PARAM_COUNT;
    }
    size_t header = paramsHeaderSize(schema, count);
    if (d->rv != 0 || header > d->len - tuple_start) {
        return ERR_PROTO_PARAM_SHORT;
    }
    p->count = count;
    p->present = true;
    p->types = d->p + d->pos;
    d->pos = tuple_start + header; /* padding: skipped unread */
    p->data.data = d->p + d->pos;
    p->data.len = protoDecLeft(d);
    int rv = paramsValidate(p);
    if (rv != 0) {
        protoParamsInit(p);
        return rv;
    }
    d->pos = d->len; /* the tuple is the rest of the body */
    return 0;
}

void protoParamsEncode(struct proto_enc *e, uint8_t schema,
                       const struct proto_params *p)
{
    PRE(schema <= 1);
    PRE(p->count == 0 || p->values != NULL || p->types != NULL);
    if (!p->present && p->count == 0) {
        return;
    }
    uint32_t max = schema == 0 ? PROTO_PARAMS_MAX_SCHEMA0 : PROTO_PARAMS_MAX;
    if (p->count > max) {
        protoEncFail(e, ERR_PROTO_PARAM_COUNT);
        return;
    }
    size_t header = paramsHeaderSize(schema, p->count);
    size_t field = schema == 0 ? 1 : 4;
    uint8_t count_le[4];
    bytePut32(count_le, p->count);
    protoEncBytes(e, count_le, field);
    struct proto_params_iter it;
    struct proto_value v;
    protoParamsIterInit(&it, p);
    while (protoParamsIterNext(&it, &v)) {
        if (!protoParamTypeValid(v.type)) {
            protoEncFail(e, ERR_PROTO_PARAM_TYPE);
        }
        protoEncBytes(e, &v.type, 1);
    }
    protoEncZeros(e, header - field - p->count);
    protoParamsIterInit(&it, p);
    while (protoParamsIterNext(&it, &v)) {
        protoEncValue(e, &v);
    }
}

void protoParamsIterInit(struct proto_params_iter *it,
                         const struct proto_params *p)
{
    it->params = p;
    it->index = 0;
    protoDecInit(&it->dec, p->data.data, p->data.len);
}

bool protoParamsIterNext(struct proto_params_iter *it, struct proto_value *v)
{
    const struct proto_params *p = it->params;
    if (it->index >= p->count) {
        return false;
    }
    if (p->values != NULL) {
        *v = p->values[it->index];
    } else {
        protoDecValue(&it->dec, p->types[it->index], v);
        ASSERT(it->dec.rv == 0); /* validated when decoded */
    }
    it->index++;
    return true;
}
