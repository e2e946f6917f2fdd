/*
 * The allocation seam (see alloc.h): an optional embedder hook plus a
 * countdown fault injector for out-of-memory tests.
 */
#include "lib/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct lib_alloc_hook *alloc_hook;

/* Allocations left before injected failures start; negative: disabled. */
static atomic_long alloc_countdown = -1;
static atomic_long alloc_fail_repeat;
static atomic_long alloc_failures;

void libAllocSetHook(const struct lib_alloc_hook *hook)
{
    alloc_hook = hook;
}

void libAllocFailAfter(long n, long repeat)
{
    atomic_store(&alloc_fail_repeat, repeat < 1 ? 1 : repeat);
    atomic_store(&alloc_failures, 0);
    atomic_store(&alloc_countdown, n);
}

long libAllocFailures(void)
{
    return atomic_load(&alloc_failures);
}

/* Decides whether this allocation is one the injector refuses. */
static int allocShouldFail(void)
{
    long left = atomic_load(&alloc_countdown);
    while (left > 0) {
        if (atomic_compare_exchange_weak(&alloc_countdown, &left, left - 1)) {
            return 0;
        }
    }
    if (left < 0) {
        return 0;
    }
    if (atomic_fetch_add(&alloc_failures, 1) + 1 >=
        atomic_load(&alloc_fail_repeat)) {
        atomic_store(&alloc_countdown, -1);
    }
    return 1;
}

void *libMalloc(size_t size)
{
    if (allocShouldFail()) {
        return NULL;
    }
    if (size == 0) {
        size = 1;
    }
    return alloc_hook ? alloc_hook->malloc_fn(size) : malloc(size);
}

void *libCalloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size) {
        return NULL;
    }
    void *p = libMalloc(count * size);
    if (p != NULL) {
        memset(p, 0, count * size);
    }
    return p;
}

void *libRealloc(void *ptr, size_t size)
{
    if (size == 0) {
        libFree(ptr);
        return NULL;
    }
    if (allocShouldFail()) {
        return NULL;
    }
    return alloc_hook ? alloc_hook->realloc_fn(ptr, size) : realloc(ptr, size);
}

void libFree(void *ptr)
{
    if (ptr == NULL) {
        return;
    }
    if (alloc_hook) {
        alloc_hook->free_fn(ptr);
    } else {
        free(ptr);
    }
}

char *libStrdup(const char *s)
{
    size_t len = strlen(s) + 1;
    char *copy = libMalloc(len);
    if (copy != NULL) {
        memcpy(copy, s, len);
    }
    return copy;
}
