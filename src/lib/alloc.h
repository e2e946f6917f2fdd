/*
 * The allocator every module goes through.
 *
 * All heap memory of the project is obtained with libMalloc/libCalloc/
 * libRealloc/libStrdup and released with libFree, never with the libc calls
 * directly. That gives one seam for two things:
 *   - an embedding program can route our allocations to its own allocator
 *     (libAllocSetHook);
 *   - tests inject out-of-memory faults (libAllocFailAfter), so every
 *     error-unwinding path that follows an allocation can be exercised.
 *
 * Semantics match libc: a failed allocation returns NULL, libFree(NULL) is a
 * no-op, libRealloc(p, 0) frees p and returns NULL. Zero-byte libMalloc
 * returns a unique non-NULL pointer (it allocates one byte), so "NULL means
 * out of memory" holds without exceptions.
 *
 * The fault injector is process-wide and uses atomics, so it is safe to
 * consult from several threads; configure it before they start.
 */
#ifndef LIB_ALLOC_H
#define LIB_ALLOC_H

#include <stddef.h>

struct lib_alloc_hook {
    void *(*malloc_fn)(size_t size);
    void *(*realloc_fn)(void *ptr, size_t size);
    void (*free_fn)(void *ptr);
};

/* Replace the allocator (NULL restores libc). Call before any allocation:
 * memory must be freed by the allocator that produced it. */
void libAllocSetHook(const struct lib_alloc_hook *hook);

void *libMalloc(size_t size);
void *libCalloc(size_t count, size_t size);
void *libRealloc(void *ptr, size_t size);
void libFree(void *ptr);
char *libStrdup(const char *s);

/* Fault injection: the allocation after the next `n` successful ones fails,
 * and so do the following `repeat` - 1 ones (repeat >= 1). A negative `n`
 * disables injection. */
void libAllocFailAfter(long n, long repeat);

/* Number of allocations the injector has refused so far. */
long libAllocFailures(void);

#endif /* LIB_ALLOC_H */
