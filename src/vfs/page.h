/*
 * Refcounted, copy-on-write pages: the unit of storage of the VFS.
 *
 * Every database page, and every WAL frame (24-byte header + page), lives in
 * a `struct vfs_page`. A store holds one reference per slot; a snapshot takes
 * one more reference on each page it covers, in a short pause under the VFS
 * lock, and later reads the pages without any lock. A writer that finds a
 * page shared (refs > 1) writes into a fresh copy instead (vfsPageWritable),
 * so a snapshot costs a pointer array up front plus one copy per page that
 * changes while it is being serialized.
 *
 * Threading: refs is atomic, so references may be dropped from any thread.
 * The content of a page with refs > 1 never changes.
 */
#ifndef VFS_PAGE_H
#define VFS_PAGE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct vfs_page {
    atomic_uint refs;
    uint32_t size_bytes;
    uint8_t data[];
};

/* A zero-filled page of `size_bytes` with one reference, or NULL (OOM). */
struct vfs_page *vfsPageNew(uint32_t size_bytes);

/* A new page holding a copy of `src` (one reference), or NULL. */
struct vfs_page *vfsPageCopy(const struct vfs_page *src);

/* Take one more reference; returns `p`. */
struct vfs_page *vfsPageRef(struct vfs_page *p);

/* Drop one reference (NULL is a no-op); frees the page on the last one. */
void vfsPageUnref(struct vfs_page *p);

/* Make the page in `*slot` private to the caller's store before a write: a
 * shared page is replaced by a copy (the store's reference moves to it).
 * ERR_NOMEM leaves `*slot` untouched. */
int vfsPageWritable(struct vfs_page **slot);

#endif /* VFS_PAGE_H */
