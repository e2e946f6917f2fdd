/*
 * Internal to src/proto: the two cursors every message codec is written
 * with, so that no codec does its own bounds arithmetic.
 *
 * Both cursors carry a sticky error: after the first failure every further
 * call is a no-op (decoders then yield zeroed fields), and the codec checks
 * `rv` once at the end. A decoding cursor never reads outside [p, p + len)
 * and never reads padding. An encoding cursor appends to a caller-owned
 * `struct buf`, writes every padding byte as zero, and on failure leaves the
 * buffer exactly as it found it.
 */
#ifndef PROTO_CURSOR_H
#define PROTO_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/wire.h"

/* Reads a body. `p` is borrowed from the caller for the cursor's life. */
struct proto_dec {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int rv;
};

void protoDecInit(struct proto_dec *d, const uint8_t *p, size_t len);
size_t protoDecLeft(const struct proto_dec *d);
/* Records `rv` unless an earlier error is already recorded. */
void protoDecFail(struct proto_dec *d, int rv);

/* Fixed fields: ERR_PROTO_SHORT when the body ends first. */
uint64_t protoDecU64(struct proto_dec *d);
uint32_t protoDecU32(struct proto_dec *d);
uint8_t protoDecU8(struct proto_dec *d);
/* Skips `n` bytes (padding) without looking at them. */
void protoDecSkip(struct proto_dec *d, size_t n);
/* `n` raw bytes, unpadded (FILES contents). */
struct proto_span protoDecBytes(struct proto_dec *d, size_t n);

/* Text: ERR_PROTO_NONUL without a NUL before the end of the body,
 * ERR_PROTO_TEXT_LONG above PROTO_TEXT_MAX. */
struct proto_text protoDecText(struct proto_dec *d);
/* Blob: ERR_PROTO_SHORT, ERR_PROTO_BLOB_LONG. */
struct proto_span protoDecBlob(struct proto_dec *d);

/* One value of type `type` (already validated by the caller). */
void protoDecValue(struct proto_dec *d, uint8_t type, struct proto_value *v);

/* Appends one message to `out`. */
struct proto_enc {
    struct buf *out;
    size_t start; /* offset of the message header in out */
    int rv;
};

/* Starts a message: reserves its header. */
void protoEncBegin(struct proto_enc *e, struct buf *out, uint8_t type,
                   uint8_t schema);
void protoEncFail(struct proto_enc *e, int rv);
void protoEncU64(struct proto_enc *e, uint64_t v);
void protoEncU32(struct proto_enc *e, uint32_t v);
void protoEncZeros(struct proto_enc *e, size_t n);
void protoEncBytes(struct proto_enc *e, const void *p, size_t n);
/* Text: ERR_PROTO_TEXT_NUL for an embedded NUL, ERR_PROTO_TEXT_LONG. */
void protoEncText(struct proto_enc *e, struct proto_text t);
void protoEncBlob(struct proto_enc *e, struct proto_span b);
void protoEncValue(struct proto_enc *e, const struct proto_value *v);
/* Bytes of the body written so far. */
size_t protoEncBodyLen(const struct proto_enc *e);
/* Finishes the message (patches the header's word count). Returns the
 * sticky error; on error `out` is restored to its length before Begin. */
int protoEncEnd(struct proto_enc *e);

#endif /* PROTO_CURSOR_H */
