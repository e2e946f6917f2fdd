/* CRC-32C: known vectors, hardware and table paths agree, pieces chain, and
 * a flipped bit anywhere changes the checksum. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "lib/crc32c.h"

Test(crc32c, known_vectors)
{
    cr_assert_eq(crc32c(0, "", 0), 0);
    cr_assert_eq(crc32c(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(crc32cSoftware(0, "123456789", 9), 0xE3069283u);
    uint8_t zeros[32] = {0};
    cr_assert_eq(crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
    uint8_t ones[32];
    memset(ones, 0xff, sizeof ones);
    cr_assert_eq(crc32c(0, ones, 32), 0x62A8AB43u);
}

Test(crc32c, hardware_and_table_agree_at_every_length_and_offset)
{
    uint8_t data[300];
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t)(i * 131 + 7);
    }
    for (size_t off = 0; off < 8; off++) {
        for (size_t n = 0; n + off <= sizeof data; n += 7) {
            cr_assert_eq(crc32c(0, data + off, n),
                         crc32cSoftware(0, data + off, n));
        }
    }
}

Test(crc32c, pieces_chain)
{
    const char *s = "the quick brown fox jumps over the lazy dog";
    size_t n = strlen(s);
    uint32_t whole = crc32c(0, s, n);
    for (size_t cut = 0; cut <= n; cut++) {
        cr_assert_eq(crc32c(crc32c(0, s, cut), s + cut, n - cut), whole);
    }
}

Test(crc32c, every_single_bit_flip_is_detected)
{
    uint8_t data[64];
    memset(data, 0x5a, sizeof data);
    uint32_t good = crc32c(0, data, sizeof data);
    for (size_t bit = 0; bit < sizeof data * 8; bit++) {
        data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_assert_neq(crc32c(0, data, sizeof data), good);
        data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}
