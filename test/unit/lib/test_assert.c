/* Assertion contracts: a failed PRE/POST/ASSERT reaches the hook with its
 * location, and without a hook the process aborts. */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "lib/assert.h"

static jmp_buf escape;
static char seen_expr[128];
static int seen_line;

static void catchHook(const char *expr, const char *file, int line)
{
    (void)file;
    strncpy(seen_expr, expr, sizeof seen_expr - 1);
    seen_line = line;
    longjmp(escape, 1);
}

static int checked(int x)
{
    PRE(x > 0);
    return x * 2;
}

Test(assert, hook_sees_failed_precondition)
{
    libAssertSetHook(catchHook);
    if (setjmp(escape) == 0) {
        checked(-1);
        cr_assert_fail("a violated PRE returned");
    }
    cr_assert_str_eq(seen_expr, "PRE(x > 0)");
    cr_assert_gt(seen_line, 0);
    libAssertSetHook(NULL);
}

Test(assert, holding_contract_passes)
{
    cr_assert_eq(checked(4), 8);
}

Test(assert, default_aborts, .signal = SIGABRT)
{
    ASSERT(1 + 1 == 3);
}

Test(assert, unreachable_aborts, .signal = SIGABRT)
{
    UNREACHABLE();
}
