/*
 * The database name grammar (see dbname.h): checked on the node at OPEN
 * and in the client before it connects.
 */
#include "proto/dbname.h"

#include <stdbool.h>
#include <string.h>

static bool dbNameCharOk(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static bool dbNameEndsWith(const char *name, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(name + len - n, suffix, n) == 0;
}

const char *protoDbNameCheck(const char *name, size_t len)
{
    if (name == NULL || len == 0) {
        return "the name is empty";
    }
    if (len > PROTO_DB_NAME_MAX) {
        return "the name is longer than 255 bytes";
    }
    for (size_t i = 0; i < len; i++) {
        if (!dbNameCharOk(name[i])) {
            return "the name may hold only letters, digits, '.', '_' and '-' "
                   "(no path, no URI, no :memory:)";
        }
    }
    if (dbNameEndsWith(name, len, "-wal") ||
        dbNameEndsWith(name, len, "-shm") ||
        dbNameEndsWith(name, len, "-journal")) {
        return "the name ends like SQLite's own files (-wal, -shm, -journal)";
    }
    return NULL;
}
