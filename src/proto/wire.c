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

static bool wireIsSqlRequest(uint8_t type)
{
    switch (type) {
    case PROTO_REQ_PREPARE:
    case PROTO_REQ_EXEC:
    case PROTO_REQ_QUERY:
    case PROTO_REQ_EXEC_SQL:
    case PROTO_REQ_QUERY_SQL:
        return true;
    default:
        return false;
    }
}

bool protoErrFailure(int rv, uint8_t request_type, uint64_t *code,
                     const char **message)
{
    if (!protoErrAnswerable(rv)) {
        return false;
    }
    *code = PROTO_CODE_PARSE;
    if (rv == ERR_PROTO_TYPE) {
        *message = "unrecognized request type";
    } else if (rv == ERR_PROTO_SCHEMA) {
        *message = "unrecognized schema version";
        if (wireIsSqlRequest(request_type)) {
            *code = PROTO_CODE_ERROR;
        }
    } else {
        *message = errString(rv);
    }
    POST(*message != NULL);
    return true;
}
