/* Little-endian codecs produce the exact bytes of the wire and disk formats,
 * at any alignment. */
#include <criterion/criterion.h>

#include "lib/byte.h"

Test(byte, put_get_round_trip_unaligned)
{
    uint8_t raw[32] = {0};
    bytePut16(raw + 1, 0xBEEF);
    bytePut32(raw + 3, 0xDEADBEEF);
    bytePut64(raw + 7, 0x0123456789ABCDEFULL);
    cr_assert_eq(byteGet16(raw + 1), 0xBEEF);
    cr_assert_eq(byteGet32(raw + 3), 0xDEADBEEF);
    cr_assert_eq(byteGet64(raw + 7), 0x0123456789ABCDEFULL);
}

Test(byte, little_endian_layout)
{
    uint8_t raw[8];
    bytePut64(raw, 0x86104dd760433fe5ULL); /* legacy handshake word */
    const uint8_t want[8] = {0xe5, 0x3f, 0x43, 0x60, 0xd7, 0x4d, 0x10, 0x86};
    cr_assert_arr_eq(raw, want, 8);
}

Test(byte, big_endian_layout)
{
    uint8_t raw[4];
    bytePut32Be(raw, 0x377f0682); /* SQLite WAL magic */
    const uint8_t want[4] = {0x37, 0x7f, 0x06, 0x82};
    cr_assert_arr_eq(raw, want, 4);
    cr_assert_eq(byteGet32Be(raw), 0x377f0682);
}

Test(byte, double_round_trip)
{
    uint8_t raw[8];
    bytePutDouble(raw, 3.1415);
    cr_assert_eq(byteGetDouble(raw), 3.1415);
    cr_assert_eq(byteGet64(raw), 0x400921cac083126fULL);
}

Test(byte, pad8)
{
    cr_assert_eq(bytePad8(0), 0);
    cr_assert_eq(bytePad8(1), 8);
    cr_assert_eq(bytePad8(8), 8);
    cr_assert_eq(bytePad8(9), 16);
}
