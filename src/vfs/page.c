/*
 * Refcounted copy-on-write pages (see page.h).
 */
#include "vfs/page.h"

#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

struct vfs_page *vfsPageNew(uint32_t size_bytes)
{
    struct vfs_page *p = libCalloc(1, sizeof *p + size_bytes);
    if (p == NULL) {
        return NULL;
    }
    atomic_init(&p->refs, 1);
    p->size_bytes = size_bytes;
    return p;
}

struct vfs_page *vfsPageCopy(const struct vfs_page *src)
{
    PRE(src != NULL);
    struct vfs_page *p = libMalloc(sizeof *p + src->size_bytes);
    if (p == NULL) {
        return NULL;
    }
    atomic_init(&p->refs, 1);
    p->size_bytes = src->size_bytes;
    memcpy(p->data, src->data, src->size_bytes);
    return p;
}

struct vfs_page *vfsPageRef(struct vfs_page *p)
{
    PRE(p != NULL);
    unsigned before = atomic_fetch_add(&p->refs, 1);
    ASSERT(before > 0);
    return p;
}

void vfsPageUnref(struct vfs_page *p)
{
    if (p == NULL) {
        return;
    }
    unsigned before = atomic_fetch_sub(&p->refs, 1);
    ASSERT(before > 0);
    if (before == 1) {
        libFree(p);
    }
}

int vfsPageWritable(struct vfs_page **slot)
{
    PRE(slot != NULL && *slot != NULL);
    if (atomic_load(&(*slot)->refs) == 1) {
        return 0;
    }
    struct vfs_page *copy = vfsPageCopy(*slot);
    if (copy == NULL) {
        return ERR_NOMEM;
    }
    vfsPageUnref(*slot);
    *slot = copy;
    POST(atomic_load(&(*slot)->refs) == 1);
    return 0;
}
