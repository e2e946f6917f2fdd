/*
 * Parameter tuples (EXEC, QUERY, EXEC_SQL, QUERY_SQL): a count, one type
 * code byte per parameter, padding to a word, then the values.
 *
 * Schema 0 has a 1-byte count (at most 255), schema 1 a u32 count. The
 * padding after the type codes is never read: go-dqlite leaves stale bytes
 * there. A tuple may be absent altogether (no bytes left in the body),
 * which means zero parameters; an explicit count of 0 is accepted too and
 * remembered (`present`) so that it re-encodes to the same bytes.
 *
 * One struct serves both directions. A decoder fills `types` and `data`
 * (views into the body, already validated value by value) and leaves
 * `values` NULL; an encoder reads `values` when it is set and the views
 * otherwise, so a decoded tuple can be re-encoded as is. Either way, walk
 * the parameters with the iterator.
 */
#ifndef PROTO_PARAMS_H
#define PROTO_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/cursor.h"
#include "proto/wire.h"

struct proto_params {
    uint32_t count;
    bool present; /* a tuple is on the wire (always, when count > 0) */
    /* To encode: `count` values, owned by the caller. NULL when decoded. */
    const struct proto_value *values;
    /* Decoded: `count` type codes and the encoded values, in the body. */
    const uint8_t *types;
    struct proto_span data;
};

/* An empty tuple (absent on the wire). */
void protoParamsInit(struct proto_params *p);

/* A tuple made of the caller's `values` (borrowed until encoded). */
void protoParamsSet(struct proto_params *p, const struct proto_value *values,
                    uint32_t count);

/* Decodes the tuple at the cursor (the rest of the body) with the layout of
 * `schema` (0 or 1). Errors: ERR_PROTO_PARAM_SHORT (truncated tuple or value,
 * text without NUL), ERR_PROTO_PARAM_TYPE, ERR_PROTO_PARAM_COUNT (above
 * PROTO_PARAMS_MAX), ERR_PROTO_PARAM_LONG (text/blob above its limit). The
 * views point into the cursor's bytes. */
int protoParamsDecode(struct proto_dec *d, uint8_t schema,
                      struct proto_params *p);

/* Appends the tuple with the layout of `schema`; ERR_PROTO_PARAM_COUNT when
 * schema 0 cannot hold the count, ERR_PROTO_PARAM_TYPE for a type that is
 * not a parameter type (UNIXTIME included). */
void protoParamsEncode(struct proto_enc *e, uint8_t schema,
                       const struct proto_params *p);

/* Walks the parameters in order. Values of a decoded tuple point into the
 * body; values of an encoder's tuple are copies of the caller's structs. */
struct proto_params_iter {
    const struct proto_params *params;
    uint32_t index;
    struct proto_dec dec;
};

void protoParamsIterInit(struct proto_params_iter *it,
                         const struct proto_params *p);
/* False once every parameter has been returned. */
bool protoParamsIterNext(struct proto_params_iter *it, struct proto_value *v);

#endif /* PROTO_PARAMS_H */
