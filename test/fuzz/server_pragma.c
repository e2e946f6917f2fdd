/*
 * libFuzzer target: the statements the gateway intercepts before SQLite
 * (docs/protocol.md, "Read consistency" and "Listing databases"):
 * `PRAGMA dqlite_consistency [= level]` and `PRAGMA dqlite_databases`.
 * Any client text must be classified without reading past its length (the
 * input is copied into a buffer of exactly its size, so ASan sees an
 * overread), and a text taken as a valid level must name one of the levels
 * with a bound in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/gateway_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size > 0 ? size : 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    struct proto_text sql = {.data = copy, .len = size};
    bool has_value = false;
    int level = -1;
    uint64_t bound_ms = 0;
    int rv = gatewayReadParsePragma(&sql, &has_value, &level, &bound_ms);
    if (rv < -1 || rv > 1) {
        abort();
    }
    if (rv == 1 && has_value) {
        if (level == GATEWAY_READ_BOUNDED) {
            if (bound_ms == 0 || bound_ms > GATEWAY_READ_BOUND_MAX_MS) {
                abort();
            }
        } else if (level != GATEWAY_READ_LINEARIZABLE &&
                   level != GATEWAY_READ_ANY) {
            abort();
        }
    }
    bool list = gatewayListIsPragma(&sql);
    if (list && rv != 0) {
        abort(); /* one text, two pragmas */
    }
    free(copy);
    return 0;
}
