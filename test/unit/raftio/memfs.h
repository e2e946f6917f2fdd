/*
 * An in-memory implementation of the raftio fs seam that models what a
 * power cut keeps: file data is durable only up to its last sync, and
 * creations, renames and unlinks only up to the last directory sync.
 * memfsCrash builds the file system a machine would find after losing
 * power now: the synced state, plus a random prefix of the later
 * namespace operations and, per file, a random prefix of its later writes
 * with the last one torn at a random byte.
 *
 * It also injects faults: a space limit (writes past it fail with
 * ERR_NOSPACE after writing what fits) and one-shot errors per operation.
 * Single-threaded: tests drive raftio_log synchronously over it.
 */
#ifndef TEST_MEMFS_H
#define TEST_MEMFS_H

#include <stdint.h>

#include "raftio/fs.h"

enum memfs_op { MEMFS_WRITE, MEMFS_SYNC, MEMFS_TRUNCATE, MEMFS_OPEN };

struct raftio_fs *memfsCreate(void);
void memfsDestroy(struct raftio_fs *fs);

/* The image after a power cut (see above); `seed` picks the torn pieces. */
struct raftio_fs *memfsCrash(struct raftio_fs *fs, uint64_t seed);

/* After `n` more mutating calls every call fails with ERR_IO (the machine
 * is "off"); negative disables. */
void memfsStopAfter(struct raftio_fs *fs, long n);
int memfsStopped(struct raftio_fs *fs);
long memfsMutations(struct raftio_fs *fs);

/* Total bytes all files may hold; 0 = unlimited. */
void memfsSetSpace(struct raftio_fs *fs, uint64_t bytes);

/* The next call of kind `op` fails with `err` (ERR_IO, ERR_NOSPACE). */
void memfsFailNext(struct raftio_fs *fs, enum memfs_op op, int err);

/* Direct access for corruption tests: flips one byte of a file, durably. */
int memfsFlipByte(struct raftio_fs *fs, const char *name, uint64_t offset);
int memfsFileSize(struct raftio_fs *fs, const char *name, uint64_t *size);

#endif /* TEST_MEMFS_H */
