/*
 * Fuzz target: the client's parser of ISO8601 texts received in rows
 * (clientTimeParse). Any text must either parse or be refused, never read
 * past its end, and a parsed time must survive a second parse of the same
 * text with the same result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    int64_t sec;
    int64_t sec2;
    int32_t nsec;
    int32_t nsec2;
    int32_t off;
    int32_t off2;
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    if (clientTimeParse(text, &sec, &nsec, &off) == 0) {
        if (clientTimeParse(text, &sec2, &nsec2, &off2) != 0 || sec != sec2 ||
            nsec != nsec2 || off != off2 || nsec < 0 || nsec > 999999999) {
            abort();
        }
    }
    free(text);
    return 0;
}
