/* dqlite 1.11's FSM commands and snapshots into ours (src/repl/legacy.c):
 * FRAMES keeps its pages and gets the database size 1.11 computed at apply
 * time (the size so far, grown to the largest page number); OPEN and UNDO
 * change nothing; CHECKPOINT stays; a 1.11 snapshot becomes ours with the
 * same images and seeds the sizes. Damaged input is refused with a reason. */
#include <criterion/criterion.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "repl/command.h"
#include "repl/legacy.h"
#include "repl/repl.h"

#define PS 512

/* A 1.11 FRAMES command on "test.db" with `n` pages numbered `pgnos`. */
static void frames11(struct buf *b, const uint64_t *pgnos, uint32_t n,
                     uint8_t commit)
{
    uint8_t h[8] = {1, 2, 0, 0, 0, 0, 0, 0};
    bufInit(b);
    cr_assert_eq(bufAppend(b, h, 8), 0);
    cr_assert_eq(bufAppend(b, "test.db", 8), 0); /* NUL makes 8 */
    cr_assert_eq(bufAppend64(b, 42), 0);         /* tx id */
    uint8_t flags[8] = {0, 0, 0, 0, commit, 0, 0, 0};
    cr_assert_eq(bufAppend(b, flags, 8), 0);
    cr_assert_eq(bufAppend32(b, n), 0);
    uint8_t ps[4] = {PS & 0xff, PS >> 8, 0, 0};
    cr_assert_eq(bufAppend(b, ps, 4), 0);
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_eq(bufAppend64(b, pgnos[i]), 0);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *page;
        cr_assert_eq(bufAppendZeros(b, PS, &page), 0);
        memset(page, (int)pgnos[i], PS);
    }
}

static void translate(struct repl_legacy *l, const struct buf *in,
                      struct repl_command *cmd, struct buf *out)
{
    char why[128];
    bool noop;
    bufInit(out);
    int rv =
        replLegacyCommand(l, in->data, in->len, out, &noop, why, sizeof why);
    cr_assert_eq(rv, 0, "%s", why);
    cr_assert(!noop);
    cr_assert_eq(replDecode(out->data, out->len, cmd), 0);
}

Test(repl_legacy, frames_get_the_size_1_11_computed)
{
    struct repl_legacy l;
    struct repl_command cmd;
    struct buf in, out;
    uint64_t first[] = {1, 2, 5};
    uint64_t second[] = {3};
    replLegacyInit(&l);
    frames11(&in, first, 3, 1);
    translate(&l, &in, &cmd, &out);
    cr_assert_eq(cmd.type, REPL_FRAMES);
    cr_assert_str_eq(cmd.name, "test.db");
    cr_assert(cmd.frames.page_size == PS && cmd.frames.n_frames == 3);
    cr_assert_eq(cmd.frames.db_size, 5);
    cr_assert(cmd.frames.flags & REPL_FLAG_COMMIT);
    cr_assert_eq(replFramesPgno(&cmd.frames, 2), 5);
    cr_assert_eq(cmd.frames.pages[2 * PS], 5, "the page itself");
    bufFree(&in);
    bufFree(&out);
    frames11(&in, second, 1, 1);
    translate(&l, &in, &cmd, &out);
    cr_assert_eq(cmd.frames.db_size, 5, "page 3 of 5: the size stays");
    bufFree(&in);
    bufFree(&out);
    replLegacyClose(&l);
}

Test(repl_legacy, refused)
{
    struct repl_legacy l;
    struct buf in, out;
    uint64_t pgnos[] = {1};
    char why[128];
    bool noop;
    replLegacyInit(&l);
    bufInit(&out);
    frames11(&in, pgnos, 1, 0);
    cr_assert_eq(
        replLegacyCommand(&l, in.data, in.len, &out, &noop, why, sizeof why),
        ERR_UNSUPPORTED, "uncommitted frames (pre-1.0 form)");
    bufFree(&in);
    frames11(&in, pgnos, 1, 1);
    for (size_t cut = 0; cut < in.len; cut++) {
        cr_assert_neq(
            replLegacyCommand(&l, in.data, cut, &out, &noop, why, sizeof why),
            0, "cut at %zu", cut);
        cr_assert_gt(strlen(why), 0);
    }
    in.data[0] = 2; /* format */
    cr_assert_eq(
        replLegacyCommand(&l, in.data, in.len, &out, &noop, why, sizeof why),
        ERR_MALFORMED);
    in.data[0] = 1;
    bytePut64(in.data + 40, 0); /* page number 0 */
    cr_assert_eq(
        replLegacyCommand(&l, in.data, in.len, &out, &noop, why, sizeof why),
        ERR_MALFORMED);
    bufFree(&in);
    bufFree(&out);
    replLegacyClose(&l);
}

Test(repl_legacy, open_undo_checkpoint)
{
    struct repl_legacy l;
    struct buf out;
    char why[128];
    bool noop;
    uint8_t open[16] = {1, 1, 0, 0, 0, 0, 0, 0, 't', '.', 'd', 'b', 0};
    uint8_t undo[16] = {1, 3, 0, 0, 0, 0, 0, 0, 42};
    uint8_t ckpt[16] = {1, 4, 0, 0, 0, 0, 0, 0, 't', '.', 'd', 'b', 0};
    replLegacyInit(&l);
    bufInit(&out);
    cr_assert_eq(replLegacyCommand(&l, open, 16, &out, &noop, why, sizeof why),
                 0);
    cr_assert(noop && out.len == 0, "1.11 applies nothing for OPEN");
    cr_assert_eq(replLegacyCommand(&l, undo, 16, &out, &noop, why, sizeof why),
                 0);
    cr_assert(noop && out.len == 0);
    cr_assert_eq(replLegacyCommand(&l, ckpt, 16, &out, &noop, why, sizeof why),
                 0);
    struct repl_command cmd;
    cr_assert_eq(replDecode(out.data, out.len, &cmd), 0);
    cr_assert(cmd.type == REPL_CHECKPOINT && strcmp(cmd.name, "t.db") == 0);
    bufFree(&out);
    replLegacyClose(&l);
}

/* A 1.11 snapshot of one database: a 2-page main file claiming 2 pages,
 * no WAL. */
static void snapshot11(struct buf *b, uint8_t *main)
{
    memset(main, 0, 2 * PS);
    memcpy(main, "SQLite format 3", 16);
    main[16] = PS >> 8;
    main[17] = PS & 0xff;
    bytePut32Be(main + 28, 2);
    bufInit(b);
    cr_assert_eq(bufAppend64(b, 1), 0);
    cr_assert_eq(bufAppend64(b, 1), 0);
    cr_assert_eq(bufAppend(b, "test.db", 8), 0);
    cr_assert_eq(bufAppend64(b, 2 * PS), 0);
    cr_assert_eq(bufAppend64(b, 0), 0);
    cr_assert_eq(bufAppend(b, main, 2 * PS), 0);
}

Test(repl_legacy, snapshot)
{
    struct repl_legacy l;
    struct buf in, out, f;
    uint8_t main[2 * PS];
    struct repl_snapshot_view v;
    struct repl_command cmd;
    char why[128];
    uint64_t pgnos[] = {1};
    replLegacyInit(&l);
    snapshot11(&in, main);
    bufInit(&out);
    cr_assert_eq(
        replLegacySnapshot(&l, in.data, in.len, 77, &out, why, sizeof why), 0,
        "%s", why);
    cr_assert_eq(replSnapshotDecode(out.data, out.len, &v), 0);
    cr_assert(v.index == 77 && v.n_dbs == 1);
    cr_assert_str_eq(v.dbs[0].name, "test.db");
    cr_assert(v.dbs[0].main_len == 2 * PS &&
              memcmp(v.dbs[0].main, main, 2 * PS) == 0);
    replSnapshotViewFree(&v);
    frames11(&f, pgnos, 1, 1);
    struct buf o2;
    translate(&l, &f, &cmd, &o2);
    cr_assert_eq(cmd.frames.db_size, 2, "seeded by the snapshot");
    bufFree(&f);
    bufFree(&o2);
    for (size_t cut = 0; cut < in.len; cut++) {
        out.len = 0;
        cr_assert_neq(
            replLegacySnapshot(&l, in.data, cut, 77, &out, why, sizeof why), 0,
            "cut at %zu", cut);
        cr_assert_eq(out.len, 0, "nothing appended on error");
    }
    bufFree(&in);
    bufFree(&out);
    replLegacyClose(&l);
}
