/*
 * The replicated SQLite storage layer: a SQLite VFS that keeps every
 * database of a node in memory (main file and WAL as copy-on-write pages,
 * the WAL index in process memory) and captures the WAL frames of each
 * commit instead of publishing them.
 *
 * Life of a write on the leader:
 *   1. a connection opened on this VFS commits (sqlite3_step); the VFS holds
 *      the new frames: readers keep seeing the previous state and the WAL
 *      write lock stays taken, so no other writer can start;
 *   2. vfsPoll returns the held frames (page numbers, page data, database
 *      size after the commit) to be replicated;
 *   3. vfsApply with the same frames makes them visible and releases the
 *      write lock; vfsAbort drops them (no trace left) and releases it.
 * On a follower, vfsApply appends the frames to the WAL itself.
 *
 * Each database is created with page 1 already in WAL mode (see vfsDbCreate),
 * so every change of content goes through the WAL and is captured; SQLite's
 * own checkpoints are refused (the WAL only grows until vfsCheckpoint, which
 * the replication layer runs at the same log index on every node).
 *
 * Threading: every function here, and every SQLite callback of the VFS, takes
 * the VFS mutex for a short, bounded time; they may be called from any
 * thread. SQLite itself may be in single-thread mode: the caller serializes
 * its use of connections, and must not run statements on two connections
 * of the same database at once (a reader could otherwise glimpse a commit
 * between SQLite's index update and the write-lock release at which the VFS
 * holds it). Snapshots are read without the mutex.
 */
#ifndef VFS_VFS_H
#define VFS_VFS_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "vfs/page.h"
#include "vfs/wal.h"

/* Longest database name (bytes, without the terminator). */
#define VFS_MAX_NAME 1024

/* Most frames of one transaction (a 4 GiB transaction of 4 KiB pages). */
#define VFS_MAX_TXN_FRAMES (1u << 20)

struct vfs;

/* Create a VFS registered in SQLite under `name` (copied). New databases get
 * pages of 4096 bytes unless vfsSetPageSize says otherwise. */
int vfsCreate(const char *name, struct vfs **out);

/* Unregister and free. No connection may be open on it any more. */
void vfsDestroy(struct vfs *v);

/* Like vfsCreate, but fill and register the caller's `base` (which must
 * outlive the VFS); vfsFrom(base) returns the VFS. For dqlite_vfs_init. */
int vfsInit(sqlite3_vfs *base, const char *name);
void vfsClose(sqlite3_vfs *base);

/* The VFS behind a sqlite3_vfs of ours, or NULL for any other VFS. */
struct vfs *vfsFrom(sqlite3_vfs *base);

/* Name under which SQLite knows it (pass it to sqlite3_open_v2). */
const char *vfsName(const struct vfs *v);

/* Page size of databases SQLite creates from now on (a valid size). */
void vfsSetPageSize(struct vfs *v, uint32_t page_size);

/* Create database `name` with `page_size` pages if it does not exist yet:
 * an empty database whose page 1 already says WAL mode. Idempotent;
 * ERR_INVALID if it exists with another page size. */
int vfsDbCreate(struct vfs *v, const char *name, uint32_t page_size);

/* Whether database `name` exists. */
bool vfsDbExists(struct vfs *v, const char *name);

/* The names of the databases clients can open (staged ones, whose names
 * hold ':', are left out), sorted bytewise: *names is an array of *n
 * strings, all owned by the caller (libFree each, then the array).
 * ERR_NOMEM. */
int vfsDbNames(struct vfs *v, char ***names, unsigned *n);

/* A transaction's frames. From vfsPoll, `pages[i]` point into the held
 * frames (valid until vfsApply/vfsAbort of that database); the arrays are
 * owned by the txn (vfsTxnFree). Given to vfsApply, everything is borrowed. */
struct vfs_txn {
    uint32_t page_size;
    uint32_t n_frames;
    uint32_t db_size;       /* database size in pages after commit */
    uint32_t *page_numbers; /* n_frames */
    const uint8_t **pages;  /* n_frames, page_size bytes each */
};

void vfsTxnFree(struct vfs_txn *txn);

/* The frames held for database `name` (n_frames = 0 when none). */
int vfsPoll(struct vfs *v, const char *name, struct vfs_txn *out);

/* Commit `txn` to the WAL of `name` and make it visible. If the database
 * holds a transaction with exactly these frames (the leader), it is
 * published; any other held transaction is dropped first (a deposed
 * leader) and the frames appended. Creates the database when missing.
 * ERR_BUSY if a local connection is in the middle of writing. */
int vfsApply(struct vfs *v, const char *name, const struct vfs_txn *txn);

/* Stacking: one write transaction on top of the held frames, so that
 * several commits travel as one (a group, src/server/gateway_group.c).
 * Between vfsStackBegin and vfsStackEnd the caller runs one statement on
 * one connection (nothing else runs SQL meanwhile): it sees the held frames
 * and may commit on top of them; its commit joins them (vfsPoll returns the
 * last version of each page). Readers never see held frames: vfsStackEnd
 * shows them the last published state again.
 * Begin: ERR_BUSY (nothing done) when frames are held and `on_held` is
 * false (they are not the caller's: already proposed, say). With no frame
 * held, the statement commits as usual and its frames become held.
 * End: `keep` false drops what the statement committed (and only that);
 * a commit on top of held frames that takes them past `max_bytes` is
 * dropped too, with ERR_TOOBIG (run it again alone). */
int vfsStackBegin(struct vfs *v, const char *name, bool on_held);
int vfsStackEnd(struct vfs *v, const char *name, bool keep, uint64_t max_bytes);

/* Drop the held transaction of `name`, release the write lock.
 * ERR_NOTFOUND if there is none. */
int vfsAbort(struct vfs *v, const char *name);

/* Move every committed WAL frame of `name` into the main file and empty the
 * WAL. ERR_BUSY (nothing done) while a connection holds any WAL lock or a
 * transaction is held; the content seen by readers never changes. */
int vfsCheckpoint(struct vfs *v, const char *name);

/* Committed frames in the WAL of `name`. */
int vfsWalFrames(struct vfs *v, const char *name, uint32_t *n);

/* Pages in the main file of `name` (the WAL excluded). */
int vfsNumPages(struct vfs *v, const char *name, uint32_t *n);

/* Page size of `name` and its size in pages as readers see it (after the
 * last committed WAL frame). */
int vfsDbInfo(struct vfs *v, const char *name, uint32_t *page_size,
              uint32_t *n_pages);

/* The database as a reader sees it (main file with the committed WAL
 * applied), appended to `out`. */
int vfsReadImage(struct vfs *v, const char *name, struct buf *out);

/* A consistent image of every database: main file pages and committed WAL
 * frames, referenced (not copied) in a short pause under the VFS mutex.
 * Read it from any thread without locks, then vfsSnapshotRelease. */
struct vfs_snapshot_db {
    char *name;
    uint32_t page_size; /* main file page size (0 = empty file) */
    uint32_t n_pages;
    struct vfs_page **pages; /* n_pages, page_size bytes each */
    uint8_t wal_hdr[VFS_WAL_HDR_SIZE];
    uint32_t wal_page_size; /* 0 = empty WAL (no header) */
    uint32_t n_frames;
    struct vfs_page **frames; /* n_frames, 24 + wal_page_size bytes each */
};

struct vfs_snapshot {
    uint32_t n_dbs;
    struct vfs_snapshot_db *dbs;
    uint64_t pause_ns; /* how long the VFS mutex was held to take it */
};

/* `only` names a single database (ERR_NOTFOUND if missing); NULL takes all
 * of them. The snapshot is owned by the caller. */
int vfsSnapshotAcquire(struct vfs *v, const char *only,
                       struct vfs_snapshot **out);
void vfsSnapshotRelease(struct vfs_snapshot *s);

/* Sizes in bytes of a snapshot database's main file and WAL. */
uint64_t vfsSnapshotMainSize(const struct vfs_snapshot_db *d);
uint64_t vfsSnapshotWalSize(const struct vfs_snapshot_db *d);

/* Bytes of one database file, as found in a snapshot (borrowed). */
struct vfs_image {
    const char *name;
    const uint8_t *main;
    uint64_t main_len;
    const uint8_t *wal;
    uint64_t wal_len;
};

/* Replace databases by the given images. With `whole`, databases not listed
 * are removed (or emptied if a connection has them open): the node's whole
 * state becomes the images, or nothing changes on error. ERR_BUSY if a
 * transaction is held or any WAL lock is taken; ERR_CORRUPT for an image
 * that is not a valid main file / committed WAL. */
int vfsRestore(struct vfs *v, const struct vfs_image *images, uint32_t n,
               bool whole);

/* ------------------------------------------------ dqlite 1.11 flat forms */

/* Apply `n` frames whose pages are contiguous in `pages` (page size of the
 * database), without a database size: the held commit's is used when these
 * are its frames, else page 1's header field or the largest page number.
 * For dqlite_vfs_apply. Everything is borrowed. */
int vfsApplyFlat(struct vfs *v, const char *name, uint32_t n,
                 const uint32_t *page_numbers, const uint8_t *pages);

/* A snapshot database as one buffer: main file (if `main`) then WAL.
 * `dst` holds vfsSnapshotFlatSize bytes (minus the main size without it). */
uint64_t vfsSnapshotFlatSize(const struct vfs_snapshot_db *d);
void vfsSnapshotFlatten(const struct vfs_snapshot_db *d, bool main,
                        uint8_t *dst);

/* Replace database `name` by a flat snapshot (main file then WAL; the split
 * is found from the main file's header). ERR_CORRUPT if it does not parse. */
int vfsRestoreFlat(struct vfs *v, const char *name, const uint8_t *data,
                   size_t len);

/* ------------------------------------------------ staged databases */

/* Most pages of a staged database (a 1 TiB file of 4 KiB pages). */
#define VFS_STAGE_MAX_PAGES (1u << 28)

/* Write `len` bytes of main-file pages at `offset` into the staged
 * database `name` (stage.c). Offset 0 starts it afresh (a previous stage of
 * that name is dropped); any other offset must be its current size.
 * Page 1 is marked WAL mode. ERR_INVALID (bad page size, unaligned, not the
 * continuation), ERR_NOTFOUND (no stage to continue), ERR_BUSY, ERR_NOMEM. */
int vfsStageWrite(struct vfs *v, const char *name, uint32_t page_size,
                  uint64_t offset, const uint8_t *data, size_t len);

/* Bytes staged so far under `name` (ERR_NOTFOUND if none). */
int vfsStageSize(struct vfs *v, const char *name, uint64_t *bytes);

/* Move the staged database's pages over `target` (created if missing; its
 * content and WAL are replaced, its connections see the new content on
 * their next read) and drop the stage, in one step under the VFS mutex.
 * ERR_BUSY (nothing done) if either is locked or the stage is open. */
int vfsStageMove(struct vfs *v, const char *stage, const char *target);

/* Drop every database whose name starts with `prefix`, unless `keep`
 * says otherwise or it is open/locked. Returns how many were dropped. */
unsigned vfsDropPrefix(struct vfs *v, const char *prefix,
                       bool (*keep)(const char *name, void *arg), void *arg);

#endif /* VFS_VFS_H */
