/*
 * libFuzzer target: a BACKUP stream as the client reads it (extension
 * response 64, docs/protocol.md, "Extensions"). The input is a sequence of
 * messages, each a header (its word count taken as given, bounded by what is
 * left) and a body; every one is decoded as a response and, when it is a BACKUP
 * chunk, its documented bounds are checked: a valid page size, the pages
 * inside the database, the data exactly count * page_size bytes inside the
 * body, re-encoding stable. Chunks are followed as dqlite_client_backup
 * follows them (same page size and total, contiguous) to the end.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/proto_common.h"

static void checkChunk(const struct proto_backup *b, const uint8_t *body,
                       size_t len)
{
    FUZZ_CHECK(b->page_size >= PROTO_BACKUP_PAGE_MIN &&
               b->page_size <= PROTO_BACKUP_PAGE_MAX &&
               (b->page_size & (b->page_size - 1)) == 0);
    FUZZ_CHECK(b->n_pages <= PROTO_BACKUP_PAGES_MAX);
    FUZZ_CHECK(b->first + b->count <= b->n_pages);
    FUZZ_CHECK(b->count * b->page_size <= PROTO_BACKUP_CHUNK_MAX);
    FUZZ_CHECK(32 + b->count * b->page_size == len);
    FUZZ_CHECK(b->count == 0 || (b->data == body + 32));
    volatile uint8_t sum = 0;
    for (uint64_t i = 0; i < b->count * b->page_size; i++) {
        sum = (uint8_t)(sum + b->data[i]); /* ASan: all inside the body */
    }
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_backup first = {0};
    uint64_t next = 0;
    bool started = false;
    while (size >= PROTO_HEADER_SIZE) {
        struct proto_header h;
        struct proto_response r;
        protoHeaderGet(data, &h);
        data += PROTO_HEADER_SIZE;
        size -= PROTO_HEADER_SIZE;
        size_t len = (size_t)h.words * PROTO_WORD;
        if (len > size) {
            len = size & ~(size_t)7;
            h.words = (uint32_t)(len / PROTO_WORD);
        }
        uint8_t *body = fuzzCopy(data, len);
        int rv = protoResponseDecode(&h, body, len, NULL, &r);
        if (rv == 0 && r.type == PROTO_RESP_BACKUP) {
            checkChunk(&r.backup, body, len);
            struct buf again;
            bufInit(&again);
            FUZZ_CHECK(protoResponseEncode(&r, NULL, &again) == 0);
            FUZZ_CHECK(again.len == PROTO_HEADER_SIZE + len);
            FUZZ_CHECK(memcmp(again.data + PROTO_HEADER_SIZE, body, len) == 0);
            bufFree(&again);
            if (!started) {
                first = r.backup;
                started = true;
            }
            bool fits = r.backup.page_size == first.page_size &&
                        r.backup.n_pages == first.n_pages &&
                        r.backup.first == next;
            next += fits ? r.backup.count : 0;
            FUZZ_CHECK(next <= first.n_pages);
        }
        free(body);
        data += len;
        size -= len;
        if (started && next == first.n_pages) {
            break; /* the client stops reading here */
        }
    }
    return 0;
}
