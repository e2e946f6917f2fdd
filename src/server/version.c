/*
 * The library's runtime version (dqlite_version_number of dqlite.h).
 */
#include <dqlite.h>

int dqlite_version_number(void)
{
    return DQLITE_VERSION_NUMBER;
}
