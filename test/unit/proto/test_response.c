/* Responses: every type and variant encodes to the spec's bytes and decodes
 * back, and every malformed body is refused with its own code. */
#include <criterion/criterion.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/err.h"
#include "proto/response.h"
#include "vectors.h"

static void roundTrip(const struct proto_response *r,
                      const struct proto_expect *expect, const char *hex)
{
    struct buf out, want, again, keep;
    struct proto_response back;
    bufInit(&out);
    bufInit(&want);
    bufInit(&again);
    cr_assert_eq(protoResponseEncode(r, expect, &out), 0);
    cr_assert(vecHex(hex, &want));
    cr_assert_str_eq(vecToHex(out.data, out.len),
                     vecToHex(want.data, want.len));
    cr_assert_eq(vecDecodeResponse(hex, expect, &back, &keep), 0);
    cr_assert_eq(back.type, r->type);
    cr_assert_eq(protoResponseEncode(&back, expect, &again), 0);
    cr_assert_eq(again.len, out.len);
    cr_assert_arr_eq(again.data, out.data, out.len);
    bufFree(&out);
    bufFree(&want);
    bufFree(&again);
    bufFree(&keep);
}

static int decodeHex(const char *hex, const struct proto_expect *expect)
{
    struct proto_response r;
    struct buf keep;
    int rv = vecDecodeResponse(hex, expect, &r, &keep);
    bufFree(&keep);
    return rv;
}

Test(response, failure_is_the_spec_example)
{
    struct proto_response r;
    protoResponseInit(&r, PROTO_RESP_FAILURE);
    r.failure.code = 10250;
    r.failure.message = protoText("not leader");
    roundTrip(&r, NULL,
              "0300000000000000 0a28000000000000 6e6f74206c656164"
              "6572000000000000");
}

Test(response, server_current_and_legacy)
{
    struct proto_response r;
    struct proto_expect legacy = {.legacy = true};
    protoResponseInit(&r, PROTO_RESP_SERVER);
    r.server.id = 1;
    r.server.address = protoText("127.0.0.1:29001");
    roundTrip(&r, NULL,
              "0300000001000000 0100000000000000"
              "3132372e302e302e 313a323930303100");
    r.server.id = 0;
    roundTrip(&r, &legacy,
              "0200000001000000 3132372e302e302e 313a323930303100");
    /* no leader known */
    r.server.address = protoText("");
    roundTrip(&r, NULL, "0200000001000000 0000000000000000 0000000000000000");
}

Test(response, one_word_and_fixed_bodies)
{
    struct proto_response r;
    protoResponseInit(&r, PROTO_RESP_WELCOME);
    r.welcome.heartbeat_timeout_ms = 15000;
    roundTrip(&r, NULL, "0100000002000000 983a000000000000");
    protoResponseInit(&r, PROTO_RESP_EMPTY);
    roundTrip(&r, NULL, "0100000008000000 0000000000000000");
    protoResponseInit(&r, PROTO_RESP_DB);
    r.db.db_id = 0;
    roundTrip(&r, NULL, "0100000004000000 0000000000000000");
    protoResponseInit(&r, PROTO_RESP_RESULT);
    r.result.last_insert_id = 3;
    r.result.rows_affected = 1;
    roundTrip(&r, NULL, "0200000006000000 0300000000000000 0100000000000000");
    protoResponseInit(&r, PROTO_RESP_METADATA);
    r.metadata.failure_domain = 7;
    r.metadata.weight = 5;
    roundTrip(&r, NULL, "020000000a000000 0700000000000000 0500000000000000");
}

Test(response, stmt_both_schemas)
{
    struct proto_response r;
    protoResponseInit(&r, PROTO_RESP_STMT);
    r.stmt.stmt_id = 1;
    r.stmt.n_params = 2;
    roundTrip(&r, NULL, "0200000005000000 0000000001000000 0200000000000000");
    r.schema = 1;
    r.stmt.tail_offset = 9;
    roundTrip(&r, NULL,
              "0300000005010000 0000000001000000 0200000000000000"
              "0900000000000000");
}

Test(response, servers_both_formats)
{
    struct proto_node nodes[2] = {
        {1, {"127.0.0.1:29001", 15}, PROTO_VOTER},
        {2, {"127.0.0.1:29003", 15}, PROTO_SPARE},
    };
    struct proto_response r;
    struct proto_expect f0 = {.cluster_format = 0};
    protoResponseInit(&r, PROTO_RESP_SERVERS);
    r.servers.count = 2;
    r.servers.nodes = nodes;
    r.servers.format = 1;
    roundTrip(&r, NULL,
              "0900000003000000 0200000000000000"
              "0100000000000000 3132372e302e302e 313a323930303100"
              "0000000000000000"
              "0200000000000000 3132372e302e302e 313a323930303300"
              "0200000000000000");
    r.servers.format = 0;
    roundTrip(&r, &f0,
              "0700000003000000 0200000000000000"
              "0100000000000000 3132372e302e302e 313a323930303100"
              "0200000000000000 3132372e302e302e 313a323930303300");
}

Test(response, servers_iterate)
{
    struct proto_response r;
    struct proto_servers_iter it;
    struct proto_node node;
    struct buf keep;
    cr_assert_eq(vecDecodeResponse("0400000003000000 0100000000000000"
                                   "0100000000000000 6100000000000000"
                                   "0100000000000000",
                                   NULL, &r, &keep),
                 0);
    protoServersIterInit(&it, &r.servers);
    cr_assert(protoServersIterNext(&it, &node));
    cr_assert_eq(node.id, 1);
    cr_assert_str_eq(node.address.data, "a");
    cr_assert_eq(node.role, PROTO_STANDBY);
    cr_assert(!protoServersIterNext(&it, &node));
    bufFree(&keep);
}

Test(response, files_are_unpadded)
{
    static const uint8_t page[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    struct proto_file files[2] = {
        {{"demo", 4}, 16, page},
        {{"demo-wal", 8}, 0, NULL},
    };
    struct proto_response r;
    struct proto_files_iter it;
    struct proto_file file;
    struct buf keep;
    protoResponseInit(&r, PROTO_RESP_FILES);
    r.files.count = 2;
    r.files.files = files;
    const char *hex = "0800000009000000 0200000000000000"
                      "64656d6f00000000 1000000000000000"
                      "0102030405060708 0900000000000000"
                      "64656d6f2d77616c 0000000000000000"
                      "0000000000000000";
    roundTrip(&r, NULL, hex);
    cr_assert_eq(vecDecodeResponse(hex, NULL, &r, &keep), 0);
    protoFilesIterInit(&it, &r.files);
    cr_assert(protoFilesIterNext(&it, &file));
    cr_assert_eq(file.size, 16);
    cr_assert_arr_eq(file.data, page, 16);
    cr_assert(protoFilesIterNext(&it, &file));
    cr_assert_str_eq(file.name.data, "demo-wal");
    cr_assert(!protoFilesIterNext(&it, &file));
    bufFree(&keep);
}

Test(response, files_of_odd_size_pad_the_end)
{
    static const uint8_t three[3] = {1, 2, 3};
    struct proto_file file = {{"a", 1}, 3, three};
    struct proto_response r;
    protoResponseInit(&r, PROTO_RESP_FILES);
    r.files.count = 1;
    r.files.files = &file;
    roundTrip(&r, NULL,
              "0400000009000000 0100000000000000 6100000000000000"
              "0300000000000000 0102030000000000");
}

Test(response, type_schema_and_empty)
{
    cr_assert_eq(decodeHex("010000000b000000 0000000000000000", NULL),
                 ERR_PROTO_TYPE);
    cr_assert_eq(decodeHex("0100000008010000 0000000000000000", NULL),
                 ERR_PROTO_SCHEMA);
    cr_assert_eq(decodeHex("0300000005020000 0000000000000000"
                           "0000000000000000 0000000000000000",
                           NULL),
                 ERR_PROTO_SCHEMA);
    for (uint8_t type = 0; type < PROTO_RESP_COUNT_; type++) {
        struct proto_header h = {0, type, 0, 0};
        struct proto_response r;
        cr_assert_eq(protoResponseDecode(&h, NULL, 0, NULL, &r),
                     ERR_PROTO_EMPTY);
    }
}

Test(response, short_bodies)
{
    static const char *hex[] = {
        "0100000000000000 0100000000000000",                  /* FAILURE */
        "0100000001000000 0100000000000000",                  /* SERVER */
        "0100000005000000 0000000000000000",                  /* STMT */
        "0200000005010000 0000000000000000 0000000000000000", /* STMT 1 */
        "0100000006000000 0000000000000000",                  /* RESULT */
        "010000000a000000 0000000000000000",                  /* METADATA */
        "0100000003000000 0100000000000000",                  /* SERVERS */
        "0300000003000000 0100000000000000 0100000000000000"
        "6100000000000000",                                   /* no role */
        "0100000009000000 0100000000000000",                  /* FILES */
        "0200000009000000 0100000000000000 6100000000000000", /* size */
    };
    for (size_t i = 0; i < sizeof hex / sizeof hex[0]; i++) {
        cr_assert_eq(decodeHex(hex[i], NULL), ERR_PROTO_SHORT, "case %zu", i);
    }
}

Test(response, text_without_terminator)
{
    cr_assert_eq(decodeHex("0200000000000000 0100000000000000"
                           "6162636465666768",
                           NULL),
                 ERR_PROTO_NONUL);
    struct proto_expect legacy = {.legacy = true};
    cr_assert_eq(decodeHex("0100000001000000 6162636465666768", &legacy),
                 ERR_PROTO_NONUL);
}

Test(response, list_limits)
{
    cr_assert_eq(decodeHex("0100000003000000 0100010000000000", NULL),
                 ERR_PROTO_NODES);
    cr_assert_eq(decodeHex("0100000009000000 1100000000000000", NULL),
                 ERR_PROTO_FILES);
    cr_assert_eq(decodeHex("0300000009000000 0100000000000000"
                           "6100000000000000 0100000000000000",
                           NULL),
                 ERR_PROTO_FILE_SHORT);
    cr_assert_eq(decodeHex("0400000009000000 0100000000000000"
                           "6100000000000000 0900000000000000"
                           "0000000000000000",
                           NULL),
                 ERR_PROTO_FILE_SHORT);
}

Test(response, cluster_format_must_be_known)
{
    struct proto_expect f7 = {.cluster_format = 7};
    cr_assert_eq(decodeHex("0100000003000000 0000000000000000", &f7),
                 ERR_PROTO_FORMAT);
    struct proto_response r;
    struct buf out;
    bufInit(&out);
    protoResponseInit(&r, PROTO_RESP_SERVERS);
    r.servers.format = 2;
    cr_assert_eq(protoResponseEncode(&r, NULL, &out), ERR_PROTO_FORMAT);
    r.servers.format = 1;
    r.servers.count = PROTO_NODES_MAX + 1;
    cr_assert_eq(protoResponseEncode(&r, NULL, &out), ERR_PROTO_NODES);
    protoResponseInit(&r, PROTO_RESP_FILES);
    r.files.count = PROTO_FILES_MAX + 1;
    cr_assert_eq(protoResponseEncode(&r, NULL, &out), ERR_PROTO_FILES);
    cr_assert_eq(out.len, 0);
    bufFree(&out);
}

Test(response, encoder_refusals)
{
    struct proto_response r;
    struct buf out;
    bufInit(&out);
    protoResponseInit(&r, 11);
    cr_assert_eq(protoResponseEncode(&r, NULL, &out), ERR_PROTO_TYPE);
    protoResponseInit(&r, PROTO_RESP_EMPTY);
    r.schema = 1;
    cr_assert_eq(protoResponseEncode(&r, NULL, &out), ERR_PROTO_SCHEMA);
    protoResponseInit(&r, PROTO_RESP_FAILURE);
    r.failure.message.data = "a\0";
    r.failure.message.len = 2;
    cr_assert_eq(protoResponseEncode(&r, NULL, &out), ERR_PROTO_TEXT_NUL);
    bufFree(&out);
    libAllocFailAfter(0, 1);
    r.failure.message = protoText("x");
    cr_assert_eq(protoResponseEncode(&r, NULL, &out), ERR_NOMEM);
    libAllocFailAfter(-1, 1);
    cr_assert_eq(out.len, 0);
    bufFree(&out);
}

Test(response, ignored_fields)
{
    /* DB padding and EMPTY's word are not interpreted */
    struct proto_response r;
    struct buf keep;
    cr_assert_eq(
        vecDecodeResponse("0100000004000000 05000000ffffffff", NULL, &r, &keep),
        0);
    cr_assert_eq(r.db.db_id, 5);
    bufFree(&keep);
}

Test(response, backup_empty_database)
{
    struct proto_response r;
    protoResponseInit(&r, PROTO_RESP_BACKUP);
    r.backup.page_size = 4096;
    roundTrip(&r, NULL,
              "0400000040000000 0010000000000000 0000000000000000"
              "0000000000000000 0000000000000000");
}

/* A chunk of two 512-byte pages, pages 1 and 2 of 3. */
static void backupChunk(struct buf *out, uint64_t page_size, uint64_t n_pages,
                        uint64_t first, uint64_t count, size_t data_len)
{
    bufInit(out);
    size_t words = 4 + data_len / 8;
    cr_assert(bufAppend32(out, (uint32_t)words) == 0);
    cr_assert(bufAppend32(out, PROTO_RESP_BACKUP) == 0);
    cr_assert(bufAppend64(out, page_size) == 0);
    cr_assert(bufAppend64(out, n_pages) == 0);
    cr_assert(bufAppend64(out, first) == 0);
    cr_assert(bufAppend64(out, count) == 0);
    for (size_t i = 0; i < data_len; i++) {
        uint8_t b = (uint8_t)i;
        cr_assert(bufAppend(out, &b, 1) == 0);
    }
}

static int backupDecode(const struct buf *msg, struct proto_response *r)
{
    struct proto_header h;
    protoHeaderGet(msg->data, &h);
    return protoResponseDecode(&h, msg->data + PROTO_HEADER_SIZE,
                               msg->len - PROTO_HEADER_SIZE, NULL, r);
}

Test(response, backup_chunk_round_trip)
{
    struct buf msg, again;
    struct proto_response r;
    backupChunk(&msg, 512, 3, 1, 2, 1024);
    cr_assert_eq(backupDecode(&msg, &r), 0);
    cr_assert_eq(r.backup.page_size, 512);
    cr_assert_eq(r.backup.n_pages, 3);
    cr_assert_eq(r.backup.first, 1);
    cr_assert_eq(r.backup.count, 2);
    cr_assert_eq(r.backup.data[1023], (uint8_t)1023);
    bufInit(&again);
    cr_assert_eq(protoResponseEncode(&r, NULL, &again), 0);
    cr_assert_eq(again.len, msg.len);
    cr_assert_arr_eq(again.data, msg.data, msg.len);
    bufFree(&again);
    bufFree(&msg);
}

Test(response, backup_chunk_bounds)
{
    static const struct {
        uint64_t page_size, n_pages, first, count;
        size_t data_len;
    } bad[] = {
        {1000, 3, 0, 1, 1000},         /* not a power of two */
        {256, 3, 0, 1, 256},           /* below SQLite's smallest page */
        {131072, 1, 0, 0, 0},          /* above its largest */
        {512, 3, 2, 2, 1024},          /* past the end */
        {512, 3, 4, 0, 0},             /* starts past the end */
        {512, 3, 0, 2, 512},           /* data shorter than the pages */
        {512, 3, 0, 1, 1024},          /* data longer than the pages */
        {512, 0xffffffffull, 0, 0, 0}, /* more pages than SQLite allows */
        {512, 40000, 0, 40000, 0},     /* a chunk over the limit */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct buf msg;
        struct proto_response r;
        backupChunk(&msg, bad[i].page_size, bad[i].n_pages, bad[i].first,
                    bad[i].count, bad[i].data_len);
        cr_assert_eq(backupDecode(&msg, &r), ERR_PROTO_BACKUP, "case %zu", i);
        bufFree(&msg);
    }
    /* The encoder refuses what the decoder would. */
    struct proto_response r;
    struct buf out;
    protoResponseInit(&r, PROTO_RESP_BACKUP);
    r.backup.page_size = 512;
    r.backup.n_pages = 1;
    r.backup.first = 1;
    r.backup.count = 1;
    bufInit(&out);
    cr_assert_eq(protoResponseEncode(&r, NULL, &out), ERR_PROTO_BACKUP);
    cr_assert_eq(out.len, 0);
    bufFree(&out);
}
