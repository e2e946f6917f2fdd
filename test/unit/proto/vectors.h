/*
 * Shared helpers of the proto unit tests: hex, and comparing a message with
 * its re-encoding modulo the bytes the protocol says are never read.
 */
#ifndef TEST_UNIT_PROTO_VECTORS_H
#define TEST_UNIT_PROTO_VECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/request.h"
#include "proto/response.h"

/* Appends the bytes of a hex string (spaces ignored). False if malformed. */
bool vecHex(const char *hex, struct buf *out);

/* Marks, in `mask` (len bytes, for the body at `body`), every padding byte
 * of the decoded message: after text terminators, after blob contents, and
 * after the type codes of a parameter tuple. */
void vecMaskRequest(const struct proto_request *r, const uint8_t *body,
                    size_t len, bool *mask);
void vecMaskResponse(const struct proto_response *r, const uint8_t *body,
                     size_t len, bool *mask);

#endif /* TEST_UNIT_PROTO_VECTORS_H */
