/*
 * dqlite: the node API (source- and ABI-compatible with dqlite 1.11).
 *
 * This header is public: it includes libc headers only and every function
 * it declares is exported from libdqlite.so.0. Functions return 0 on success
 * and a DQLITE_* code on failure.
 *
 * The node functions (create, start, stop, ...) are declared here as the
 * node is built (issue: the node); so far the library exports its version.
 */
#ifndef DQLITE_H
#define DQLITE_H

#ifndef DQLITE_API
#define DQLITE_API __attribute__((visibility("default")))
#endif

/* Error codes. */
#define DQLITE_ERROR 1
#define DQLITE_MISUSE 2
#define DQLITE_NOMEM 3

#define DQLITE_VERSION_MAJOR 1
#define DQLITE_VERSION_MINOR 11
#define DQLITE_VERSION_RELEASE 0
#define DQLITE_VERSION_NUMBER                                        \
    (DQLITE_VERSION_MAJOR * 100 * 100 + DQLITE_VERSION_MINOR * 100 + \
     DQLITE_VERSION_RELEASE)

/* The library's version as MAJOR * 10000 + MINOR * 100 + RELEASE, which may
 * differ from DQLITE_VERSION_NUMBER when a program runs against a newer
 * library than it was compiled with. Thread-safe. */
DQLITE_API int dqlite_version_number(void);

#endif /* DQLITE_H */
