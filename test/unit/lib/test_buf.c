/* Growable buffer: content survives growth, limits hold, and an injected
 * out-of-memory leaves the buffer intact. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/byte.h"
#include "lib/err.h"

Test(buf, append_grows_and_keeps_content)
{
    struct buf b;
    bufInit(&b);
    for (uint32_t i = 0; i < 1000; i++) {
        cr_assert_eq(bufAppend32(&b, i), 0);
    }
    cr_assert_eq(b.len, 4000);
    for (uint32_t i = 0; i < 1000; i++) {
        cr_assert_eq(byteGet32(b.data + 4 * i), i);
    }
    bufFree(&b);
}

Test(buf, limit_is_enforced)
{
    struct buf b;
    bufInit(&b);
    b.limit = 100;
    uint8_t *zeros;
    cr_assert_eq(bufAppendZeros(&b, 100, &zeros), 0);
    cr_assert_eq(bufAppend64(&b, 1), ERR_TOOBIG);
    cr_assert_eq(b.len, 100);
    cr_assert_eq(bufReserve(&b, SIZE_MAX), ERR_TOOBIG);
    bufFree(&b);
}

Test(buf, oom_leaves_buffer_intact)
{
    struct buf b;
    bufInit(&b);
    cr_assert_eq(bufAppend(&b, "hello", 5), 0);
    libAllocFailAfter(0, 1);
    uint8_t big[256] = {0};
    cr_assert_eq(bufAppend(&b, big, sizeof big), ERR_NOMEM);
    libAllocFailAfter(-1, 1);
    cr_assert_eq(b.len, 5);
    cr_assert_arr_eq(b.data, "hello", 5);
    bufFree(&b);
}

Test(buf, consume_and_detach)
{
    struct buf b;
    bufInit(&b);
    bufAppend(&b, "abcdef", 6);
    bufConsume(&b, 2);
    cr_assert_eq(b.len, 4);
    cr_assert_arr_eq(b.data, "cdef", 4);
    size_t len;
    uint8_t *data = bufDetach(&b, &len);
    cr_assert_eq(len, 4);
    cr_assert_null(b.data);
    libFree(data);
    bufReset(&b);
    bufFree(&b);
}

Test(err, strings_come_from_the_list)
{
    cr_assert_str_eq(errString(0), "success");
    cr_assert_str_eq(errString(ERR_NOMEM), "out of memory");
    cr_assert_str_eq(errString(ERR_NOTLEADER), "not leader");
    cr_assert_str_eq(errString(-5), "unknown error");
}
