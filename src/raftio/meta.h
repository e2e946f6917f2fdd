/*
 * Raft's hard state (current term and vote) on disk: one 40-byte file,
 * `metadata`, replaced atomically (write metadata.tmp, sync, rename, sync
 * the directory; docs/disk-format.md §3). A reader sees the old or the new
 * state, never a mix; a damaged file is reported, never guessed around,
 * because voting twice in one term breaks raft's safety.
 */
#ifndef RAFTIO_META_H
#define RAFTIO_META_H

#include <stddef.h>
#include <stdint.h>

#include "raftio/fs.h"

#define META_FILE "metadata"
#define META_MAGIC "DQLMETA\n"
#define META_VERSION 1
#define META_SIZE 40

void metaEncode(uint8_t out[META_SIZE], uint64_t term, uint64_t vote);

/* ERR_META_CORRUPT, ERR_DISK_VERSION or 0. */
int metaDecode(const uint8_t *p, size_t n, uint64_t *term, uint64_t *vote);

/* Term and vote as stored, or 0 and 0 when no file exists yet. */
int raftioMetaLoad(struct raftio_fs *fs, uint64_t *term, uint64_t *vote);

/* Durable on return. */
int raftioMetaStore(struct raftio_fs *fs, uint64_t term, uint64_t vote);

#endif /* RAFTIO_META_H */
