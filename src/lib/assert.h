/*
 * Contract assertions shared by every module.
 *
 * PRE() states what a function requires of its caller, POST() what it
 * guarantees on return, and ASSERT() an invariant in between. All three are
 * always compiled in (release builds included): a violated invariant in a
 * database must stop the process before it can write a wrong byte, not after.
 *
 * A failed assertion calls the installed hook; without one it prints the
 * location to stderr and aborts. Tests install a hook (see libAssertSetHook)
 * to observe a violation instead of dying, usually by longjmp-ing out.
 */
#ifndef LIB_ASSERT_H
#define LIB_ASSERT_H

/* Called with the failed expression and its location. If the hook returns,
 * the process aborts anyway: an assertion never continues execution. */
typedef void (*lib_assert_hook)(const char *expr, const char *file, int line);

/* Install a hook (NULL restores the default). Returns the previous hook.
 * Not thread-safe: install it before starting threads, as tests do. */
lib_assert_hook libAssertSetHook(lib_assert_hook hook);

/* Reports a failed assertion; never returns. */
_Noreturn void libAssertFail(const char *expr, const char *file, int line);

#define LIB_CHECK_(kind, cond) \
    ((cond) ? (void)0 : libAssertFail(kind "(" #cond ")", __FILE__, __LINE__))

#define PRE(cond) LIB_CHECK_("PRE", cond)
#define POST(cond) LIB_CHECK_("POST", cond)
#define ASSERT(cond) LIB_CHECK_("ASSERT", cond)

/* Marks a path that must never run. */
#define UNREACHABLE() libAssertFail("UNREACHABLE", __FILE__, __LINE__)

/* Compile-time assertion. */
#define STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)

#endif /* LIB_ASSERT_H */
