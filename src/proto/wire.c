/*
 * The shared vocabulary of wire.h: value type predicates, the 8-byte
 * header, and the classification of decoder errors.
 */
#include "proto/wire.h"

#include <string.h>

#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"

struct proto_text protoText(const char *s)
{
    PRE(s != NULL);
    struct proto_text t = {s, strlen(s)};
    return t;
}

bool protoParamTypeValid(unsigned type)
{
    switch (type) {
    case PROTO_INTEGER:
    case PROTO_FLOAT:
    case PROTO_TEXT:
    case PROTO_BLOB:
    case PROTO_NULL:
    case PROTO_ISO8601:
    case PROTO_BOOLEAN:
        return true;
    default:
        return false; /* UNIXTIME too: rows only (1.11.1: FAILURE 1005) */
    }
}

bool protoRowTypeValid(unsigned type)
{
    return type == PROTO_UNIXTIME || protoParamTypeValid(type);
}

void protoHeaderGet(const uint8_t *p, struct proto_header *h)
{
    PRE(p != NULL);
    h->words = byteGet32(p);
    h->type = p[4];
    h->schema = p[5];
    h->extra = byteGet16(p + 6);
}

void protoHeaderPut(uint8_t *p, const struct proto_header *h)
{
    PRE(p != NULL);
    bytePut32(p, h->words);
    p[4] = h->type;
    p[5] = h->schema;
    bytePut16(p + 6, h->extra);
}

bool protoErrAnswerable(int rv)
{
    switch (rv) {
    case ERR_PROTO_TYPE:
    case ERR_PROTO_SCHEMA:
    case ERR_PROTO_PARAM_TYPE:
    case ERR_PROTO_PARAM_COUNT:
    case ERR_PROTO_PARAM_SHORT:
    case ERR_PROTO_PARAM_LONG:
        return true;
    default:
        return false;
    }
}
