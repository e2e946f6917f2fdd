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

/* A message from hex: header fields in *h, body bytes in `out` (the body
 * only). Asserts that the hex is well formed and framed. */
void vecMessage(const char *hex, struct proto_header *h, struct buf *body);

/* Decodes a request/response given as hex (header + body); returns the
 * decoder's result. `keep` receives the body bytes, which the decoded
 * message borrows: free it after use. */
int vecDecodeRequest(const char *hex, struct proto_request *r,
                     struct buf *keep);
int vecDecodeResponse(const char *hex, const struct proto_expect *expect,
                      struct proto_response *r, struct buf *keep);

/* Lower-case hex of `len` bytes, without spaces (static buffer). */
const char *vecToHex(const uint8_t *p, size_t len);

#endif /* TEST_UNIT_PROTO_VECTORS_H */
