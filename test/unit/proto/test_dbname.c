/* The database name grammar (proto/dbname.h): what the node accepts at
 * OPEN and the client before it connects. */
#include <criterion/criterion.h>
#include <string.h>

#include "proto/dbname.h"

static const char *check(const char *name)
{
    return protoDbNameCheck(name, strlen(name));
}

Test(dbname, plain_file_names_are_valid)
{
    cr_assert_null(check("test"));
    cr_assert_null(check("test.db"));
    cr_assert_null(check("my_app-1.DB"));
    cr_assert_null(check("k8s"));
    cr_assert_null(check("0"));
    char longest[PROTO_DB_NAME_MAX + 1];
    memset(longest, 'a', PROTO_DB_NAME_MAX);
    longest[PROTO_DB_NAME_MAX] = '\0';
    cr_assert_null(check(longest));
}

/* Names SQLite would take as a URI, an in-memory database or a path. */
Test(dbname, uris_memory_and_paths_are_refused)
{
    static const char *bad[] = {
        "file:%2ftmp%2fx.db?vfs=unix",
        "file:x.db",
        ":memory:",
        "file::memory:?cache=shared",
        "x.db?mode=memory",
        "/tmp/x.db",
        "../x",
        "a%2fb",
        "a b",
        "a\\b",
        "caf\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_not_null(check(bad[i]), "%s", bad[i]);
    }
}

Test(dbname, empty_long_and_embedded_nul_names_are_refused)
{
    cr_assert_not_null(protoDbNameCheck(NULL, 0));
    cr_assert_not_null(check(""));
    char name[PROTO_DB_NAME_MAX + 2];
    memset(name, 'a', PROTO_DB_NAME_MAX + 1);
    name[PROTO_DB_NAME_MAX + 1] = '\0';
    cr_assert_not_null(check(name));
    cr_assert_not_null(protoDbNameCheck("ab\0c", 4));
}

/* "x-wal" would be taken for the WAL of database "x" by the VFS. */
Test(dbname, names_of_sqlite_side_files_are_refused)
{
    cr_assert_not_null(check("x-wal"));
    cr_assert_not_null(check("x-shm"));
    cr_assert_not_null(check("x-journal"));
    cr_assert_null(check("x-wall"));
    cr_assert_null(check("wal"));
}
