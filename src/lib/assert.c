/*
 * The failure path of PRE/POST/ASSERT (see assert.h): the hook or a message
 * on stderr followed by abort().
 */
#include "lib/assert.h"

#include <stdio.h>
#include <stdlib.h>

static lib_assert_hook assert_hook;

lib_assert_hook libAssertSetHook(lib_assert_hook hook)
{
    lib_assert_hook previous = assert_hook;
    assert_hook = hook;
    return previous;
}

_Noreturn void libAssertFail(const char *expr, const char *file, int line)
{
    if (assert_hook != NULL) {
        assert_hook(expr, file, line);
    }
    fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
    fflush(stderr);
    abort();
}
