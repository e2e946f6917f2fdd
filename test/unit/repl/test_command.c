/* The raft command codec: every command round-trips, and malformed or
 * truncated input is refused with a specific code, never read past. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "lib/byte.h"
#include "lib/err.h"
#include "repl/command.h"

static void roundTripFrames(uint32_t page_size, uint32_t n)
{
    uint32_t *pgnos = calloc(n, sizeof *pgnos);
    const uint8_t **pages = calloc(n, sizeof *pages);
    uint8_t *data = malloc((size_t)n * page_size);
    for (uint32_t i = 0; i < n; i++) {
        pgnos[i] = i * 7 + 1;
        memset(data + (size_t)i * page_size, (int)i, page_size);
        pages[i] = data + (size_t)i * page_size;
    }
    struct vfs_txn txn = {page_size, n, n * 7, pgnos, pages};
    struct buf b;
    bufInit(&b);
    cr_assert_eq(replEncodeFrames(&b, "my.db", &txn), 0);
    cr_assert_eq(b.len % 8, 0);
    struct repl_command cmd;
    cr_assert_eq(replDecode(b.data, b.len, &cmd), 0);
    cr_assert_eq(cmd.type, REPL_FRAMES);
    cr_assert_str_eq(cmd.name, "my.db");
    cr_assert_eq(cmd.frames.page_size, page_size);
    cr_assert_eq(cmd.frames.n_frames, n);
    cr_assert_eq(cmd.frames.db_size, n * 7);
    cr_assert_eq(cmd.frames.flags, REPL_FLAG_COMMIT);
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_eq(replFramesPgno(&cmd.frames, i), pgnos[i]);
    }
    cr_assert_arr_eq(cmd.frames.pages, data, (size_t)n * page_size);
    /* every strict prefix is refused */
    for (size_t len = 0; len < b.len; len += 1 + len / 16) {
        cr_assert_eq(replDecode(b.data, len, &cmd), ERR_MALFORMED);
    }
    bufFree(&b);
    free(pgnos);
    free(pages);
    free(data);
}

Test(command, frames_round_trip)
{
    roundTripFrames(512, 1);
    roundTripFrames(4096, 3);
    roundTripFrames(65536, 2);
}

Test(command, small_commands_round_trip)
{
    struct buf b;
    struct repl_command cmd;
    bufInit(&b);
    cr_assert_eq(replEncodeOpen(&b, "test.db", 8192), 0);
    cr_assert_eq(replDecode(b.data, b.len, &cmd), 0);
    cr_assert_eq(cmd.type, REPL_OPEN);
    cr_assert_str_eq(cmd.name, "test.db");
    cr_assert_eq(cmd.page_size, 8192);
    bufReset(&b);
    cr_assert_eq(replEncodeUndo(&b, "u"), 0);
    cr_assert_eq(b.len, 16);
    cr_assert_eq(replDecode(b.data, b.len, &cmd), 0);
    cr_assert_eq(cmd.type, REPL_UNDO);
    cr_assert_str_eq(cmd.name, "u");
    bufReset(&b);
    cr_assert_eq(replEncodeCheckpoint(&b, "12345678"), 0);
    cr_assert_eq(b.len, 16);
    cr_assert_eq(replDecode(b.data, b.len, &cmd), 0);
    cr_assert_eq(cmd.type, REPL_CHECKPOINT);
    cr_assert_str_eq(cmd.name, "12345678");
    bufFree(&b);
}

Test(command, malformed_input_is_refused)
{
    struct buf b;
    struct repl_command cmd;
    bufInit(&b);
    cr_assert_eq(replEncodeOpen(&b, "test.db", 4096), 0);
    b.data[0] = 2;
    cr_assert_eq(replDecode(b.data, b.len, &cmd), ERR_UNSUPPORTED);
    b.data[0] = 1;
    b.data[1] = 9; /* unknown type */
    cr_assert_eq(replDecode(b.data, b.len, &cmd), ERR_MALFORMED);
    b.data[1] = REPL_OPEN;
    bytePut32(b.data + 16, 1000); /* not a page size */
    cr_assert_eq(replDecode(b.data, b.len, &cmd), ERR_MALFORMED);
    bytePut32(b.data + 16, 4096);
    b.data[15] = 1; /* padding must be zero */
    cr_assert_eq(replDecode(b.data, b.len, &cmd), ERR_MALFORMED);
    b.data[15] = 0;
    b.data[9] = 0; /* NUL inside the name */
    cr_assert_eq(replDecode(b.data, b.len, &cmd), ERR_MALFORMED);
    b.data[9] = 'e';
    bytePut32(b.data + 4, 0xffffffff); /* name longer than the limit */
    cr_assert_eq(replDecode(b.data, b.len, &cmd), ERR_MALFORMED);
    bytePut32(b.data + 4, 7);
    uint8_t *z;
    cr_assert_eq(bufAppendZeros(&b, 8, &z), 0); /* trailing bytes */
    cr_assert_eq(replDecode(b.data, b.len, &cmd), ERR_MALFORMED);
    cr_assert_eq(replDecode(b.data, b.len - 8, &cmd), 0);
    bufFree(&b);
}

Test(command, frames_limits_are_checked)
{
    uint32_t pgno = 1;
    uint8_t page[512] = {0};
    const uint8_t *pages[1] = {page};
    struct vfs_txn txn = {512, 1, 1, &pgno, pages};
    struct buf b;
    struct repl_command cmd;
    bufInit(&b);
    cr_assert_eq(replEncodeFrames(&b, "x", &txn), 0);
    size_t at = 16; /* page_size, n_frames, db_size, flags */
    bytePut32(b.data + at + 4, REPL_MAX_FRAMES + 1);
    cr_assert_eq(replDecode(b.data, b.len, &cmd), ERR_MALFORMED);
    bytePut32(b.data + at + 4, 2); /* more frames than bytes */
    cr_assert_eq(replDecode(b.data, b.len, &cmd), ERR_MALFORMED);
    bytePut32(b.data + at + 4, 1);
    bytePut32(b.data + at + 8, 0); /* commit without a size */
    cr_assert_eq(replDecode(b.data, b.len, &cmd), ERR_MALFORMED);
    bytePut32(b.data + at + 8, 1);
    bytePut32(b.data + at + 16, 0); /* page number 0 */
    cr_assert_eq(replDecode(b.data, b.len, &cmd), ERR_MALFORMED);
    bytePut32(b.data + at + 16, 1);
    cr_assert_eq(replDecode(b.data, b.len, &cmd), 0);
    bufFree(&b);
}

Test(command, encoders_refuse_what_cannot_be_encoded)
{
    struct buf b;
    bufInit(&b);
    char long_name[REPL_MAX_NAME + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_assert_eq(replEncodeOpen(&b, long_name, 4096), ERR_INVALID);
    cr_assert_eq(replEncodeOpen(&b, "", 4096), ERR_INVALID);
    cr_assert_eq(replEncodeOpen(&b, "x", 1000), ERR_INVALID);
    cr_assert_eq(replEncodeCheckpoint(&b, long_name), ERR_INVALID);
    uint32_t pgno = 1;
    uint8_t page[512] = {0};
    const uint8_t *pages[1] = {page};
    struct vfs_txn txn = {512, REPL_MAX_FRAMES + 1, 1, &pgno, pages};
    cr_assert_eq(replEncodeFrames(&b, "x", &txn), ERR_TOOBIG);
    cr_assert_eq(b.len, 0);
    bufFree(&b);
}

/* A transaction whose encoding would exceed one raft entry is refused by
 * its size alone, before the buffer grows to hold it (a 500 MB commit used
 * to allocate its copy, then fail "out of memory" further on). */
Test(command, frames_over_the_entry_limit_are_refused_before_allocating)
{
    uint32_t page_size = 65536;
    uint32_t n = (uint32_t)(REPL_MAX_TXN_BYTES / page_size) + 1;
    uint8_t *page = calloc(1, page_size);
    uint32_t *pgnos = calloc(n, sizeof *pgnos);
    const uint8_t **pages = calloc(n, sizeof *pages);
    for (uint32_t i = 0; i < n; i++) {
        pgnos[i] = i + 1;
        pages[i] = page;
    }
    struct vfs_txn txn = {page_size, n, n, pgnos, pages};
    cr_assert_gt(replFramesSize("x", &txn), REPL_MAX_TXN_BYTES);
    struct buf b;
    bufInit(&b);
    cr_assert_eq(replEncodeFrames(&b, "x", &txn), ERR_TOOBIG);
    cr_assert_eq(b.len, 0);
    cr_assert_lt(b.cap, 4096, "%zu bytes allocated for a refused txn", b.cap);
    /* one frame fewer fits, and its size is the one announced */
    txn.n_frames = n - 2;
    cr_assert_eq(replEncodeFrames(&b, "x", &txn), 0);
    cr_assert_eq(b.len, replFramesSize("x", &txn));
    bufFree(&b);
    free(pages);
    free(pgnos);
    free(page);
}

/* The type is read from the header alone; what is not a header of this
 * version gives 0. */
Test(command, peek_reads_the_type_from_the_header)
{
    struct buf b;
    bufInit(&b);
    cr_assert_eq(replEncodeCheckpoint(&b, "a.db"), 0);
    cr_assert_eq(replPeekType(b.data, b.len), REPL_CHECKPOINT);
    cr_assert_eq(replPeekType(b.data, 8), REPL_CHECKPOINT);
    cr_assert_eq(replPeekType(b.data, 7), 0, "shorter than a header");
    cr_assert_eq(replPeekType(NULL, 0), 0);
    b.data[0] = REPL_COMMAND_VERSION + 1;
    cr_assert_eq(replPeekType(b.data, b.len), 0, "another version");
    bufReset(&b);
    cr_assert_eq(replEncodeOpen(&b, "a.db", 4096), 0);
    cr_assert_eq(replPeekType(b.data, b.len), REPL_OPEN);
    bufFree(&b);
}
