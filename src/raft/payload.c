/*
 * Reference-counted payload blocks for raft entries and snapshot chunks.
 *
 * A payload is shared by the in-memory log, decoded messages, outgoing
 * messages and ready batches; counting references lets each of them hold it
 * without copying large entries (SQLite WAL frames). The counter lives in a
 * header just before the bytes handed out. The core is single-threaded, so
 * a plain counter suffices.
 */
#include <stdint.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "raft/raft.h"

#define PAYLOAD_MAGIC 0x7061796cu

struct payload_header {
    uint32_t magic;
    uint32_t refs;
    uint64_t len; /* keeps the data 8-byte aligned */
};

/* The counter is the block's, not the bytes': references are taken and
 * dropped through read-only views too. */
static struct payload_header *payloadHeader(const uint8_t *data)
{
    struct payload_header *h =
        (struct payload_header *)(uintptr_t)(data - sizeof(*h));
    ASSERT(h->magic == PAYLOAD_MAGIC);
    ASSERT(h->refs > 0);
    return h;
}

uint8_t *raftPayloadAlloc(size_t len)
{
    struct payload_header *h;
    if (len > RAFT_MSG_MAX_BYTES) {
        return NULL;
    }
    h = libMalloc(sizeof(*h) + len);
    if (h == NULL) {
        return NULL;
    }
    h->magic = PAYLOAD_MAGIC;
    h->refs = 1;
    h->len = len;
    return (uint8_t *)(h + 1);
}

void raftPayloadRef(const uint8_t *data)
{
    if (data == NULL) {
        return;
    }
    struct payload_header *h = payloadHeader(data);
    ASSERT(h->refs < UINT32_MAX);
    h->refs++;
}

void raftPayloadUnref(const uint8_t *data)
{
    if (data == NULL) {
        return;
    }
    struct payload_header *h = payloadHeader(data);
    h->refs--;
    if (h->refs == 0) {
        h->magic = 0;
        libFree(h);
    }
}
