/*
 * The grammar of a database name, shared by the node (which refuses a bad
 * name at OPEN) and the client (which refuses it before dialling), so both
 * agree on what a name is (docs/sql-policy.md, "Database names").
 *
 * A name is what SQLite is handed to open: with URI filenames compiled in
 * (Debian), "file:..." names pick their own VFS and path, ":memory:" never
 * reaches a VFS, and "x-wal" collides with the WAL file of "x". The grammar
 * admits none of these: 1 to PROTO_DB_NAME_MAX bytes of [A-Za-z0-9._-],
 * not ending in "-wal", "-shm" or "-journal".
 */
#ifndef PROTO_DBNAME_H
#define PROTO_DBNAME_H

#include <stddef.h>

/* Longest database name accepted, in bytes (a file name's NAME_MAX). */
#define PROTO_DB_NAME_MAX 255

/* NULL if the `len` bytes at `name` are a valid database name, else a
 * static sentence saying why not. */
const char *protoDbNameCheck(const char *name, size_t len);

#endif /* PROTO_DBNAME_H */
