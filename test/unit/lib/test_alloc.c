/* The allocator seam: injected out-of-memory faults reach callers, and a
 * hook replaces the allocator. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/alloc.h"

static void resetInjector(void)
{
    libAllocFailAfter(-1, 1);
}

TestSuite(alloc, .fini = resetInjector);

Test(alloc, fail_after_n)
{
    libAllocFailAfter(2, 1);
    void *a = libMalloc(8);
    void *b = libMalloc(8);
    void *c = libMalloc(8);
    void *d = libMalloc(8);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_null(c, "third allocation must fail");
    cr_assert_not_null(d, "injection stops after one failure");
    cr_assert_eq(libAllocFailures(), 1);
    libFree(a);
    libFree(b);
    libFree(d);
}

Test(alloc, repeated_failures)
{
    libAllocFailAfter(0, 3);
    cr_assert_null(libMalloc(1));
    cr_assert_null(libCalloc(1, 1));
    cr_assert_null(libStrdup("x"));
    char *ok = libStrdup("back");
    cr_assert_str_eq(ok, "back");
    libFree(ok);
}

Test(alloc, realloc_fault_keeps_original)
{
    char *p = libMalloc(4);
    p[0] = 'k';
    libAllocFailAfter(0, 1);
    cr_assert_null(libRealloc(p, 4096));
    cr_assert_eq(p[0], 'k');
    libFree(p);
}

Test(alloc, calloc_zeroes_and_checks_overflow)
{
    unsigned char *p = libCalloc(16, 4);
    for (int i = 0; i < 64; i++) {
        cr_assert_eq(p[i], 0);
    }
    libFree(p);
    cr_assert_null(libCalloc(SIZE_MAX / 2, 4));
}

Test(alloc, zero_size_is_not_null)
{
    void *p = libMalloc(0);
    cr_assert_not_null(p);
    libFree(p);
    libFree(NULL);
}

static int hook_calls;
static void *countingMalloc(size_t n)
{
    hook_calls++;
    return malloc(n);
}
static void *countingRealloc(void *p, size_t n)
{
    hook_calls++;
    return realloc(p, n);
}
static void countingFree(void *p)
{
    hook_calls++;
    free(p);
}

Test(alloc, hook_routes_allocations)
{
    static const struct lib_alloc_hook hook = {countingMalloc, countingRealloc,
                                               countingFree};
    libAllocSetHook(&hook);
    void *p = libMalloc(10);
    p = libRealloc(p, 20);
    libFree(p);
    libAllocSetHook(NULL);
    cr_assert_eq(hook_calls, 3);
}
