/* The raft message codec and the configuration encoding: round trips of
 * every message type, and rejection of malformed, truncated, oversized and
 * foreign-version input. */
#include <criterion/criterion.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "raft/raft.h"

static void roundTrip(const struct raft_message *m, struct raft_message *out)
{
    uint8_t *buf;
    size_t len;
    cr_assert_eq(raftMessageEncode(m, &buf, &len), 0);
    cr_assert_eq(raftMessageDecode(buf, len, out), 0);
    cr_assert_eq(out->type, m->type);
    cr_assert_eq(out->from, m->from);
    cr_assert_eq(out->to, m->to);
    cr_assert_eq(out->term, m->term);
    /* Every strict prefix is rejected, never read past. */
    for (size_t cut = 0; cut < len; cut++) {
        struct raft_message bad;
        cr_assert_neq(raftMessageDecode(buf, cut, &bad), 0);
    }
    libFree(buf);
}

Test(codec, append_round_trip)
{
    struct raft_entry entries[2] = {{3, RAFT_COMMAND, raftPayloadAlloc(5), 5},
                                    {4, RAFT_BARRIER, NULL, 0}};
    memcpy(entries[0].data, "hello", 5);
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 4};
    m.append = (struct raft_append){10, 3, 9, 77, entries, 2};
    struct raft_message out;
    roundTrip(&m, &out);
    cr_assert_eq(out.append.prev_index, 10);
    cr_assert_eq(out.append.prev_term, 3);
    cr_assert_eq(out.append.commit, 9);
    cr_assert_eq(out.append.read_seq, 77);
    cr_assert_eq(out.append.n_entries, 2);
    cr_assert_eq(out.append.entries[0].len, 5);
    cr_assert_arr_eq(out.append.entries[0].data, "hello", 5);
    cr_assert_eq(out.append.entries[1].type, RAFT_BARRIER);
    raftMessageClose(&out);
    raftPayloadUnref(entries[0].data);
}

Test(codec, small_messages_round_trip)
{
    struct raft_message m = {
        .type = RAFT_MSG_APPEND_RESULT, .from = 2, .to = 1, .term = 9};
    struct raft_message out;
    m.append_result = (struct raft_append_result){1, 5, 6, 2, 3};
    roundTrip(&m, &out);
    cr_assert_eq(out.append_result.success, 1);
    cr_assert_eq(out.append_result.hint_term, 2);
    m.type = RAFT_MSG_VOTE;
    m.vote = (struct raft_vote){7, 8, 1, 1};
    roundTrip(&m, &out);
    cr_assert_eq(out.vote.last_term, 8);
    cr_assert_eq(out.vote.disrupt_leader, 1);
    m.type = RAFT_MSG_VOTE_RESULT;
    m.vote_result = (struct raft_vote_result){1, 1};
    roundTrip(&m, &out);
    cr_assert_eq(out.vote_result.granted, 1);
    m.type = RAFT_MSG_SNAPSHOT_RESULT;
    m.snapshot_result = (struct raft_snapshot_result){11, 300, 1, 0};
    roundTrip(&m, &out);
    cr_assert_eq(out.snapshot_result.offset, 300);
    m.type = RAFT_MSG_TIMEOUT_NOW;
    m.timeout_now = (struct raft_timeout_now){12, 4};
    roundTrip(&m, &out);
    cr_assert_eq(out.timeout_now.last_index, 12);
    m.type = RAFT_MSG_READ_INDEX;
    m.read_index = (struct raft_read_index){77};
    roundTrip(&m, &out);
    cr_assert_eq(out.read_index.ctx, 77);
    m.type = RAFT_MSG_READ_INDEX_RESULT;
    m.read_index_result = (struct raft_read_index_result){77, 13, 1};
    roundTrip(&m, &out);
    cr_assert_eq(out.read_index_result.ctx, 77);
    cr_assert_eq(out.read_index_result.index, 13);
    cr_assert_eq(out.read_index_result.success, 1);
}

/* ReadIndexResult: a flag of 0 or 1, zero padding, and no index with a
 * refusal; a body of the wrong size is malformed. */
Test(codec, read_index_result_bounds)
{
    struct raft_message m = {
        .type = RAFT_MSG_READ_INDEX_RESULT, .from = 1, .to = 2, .term = 3};
    struct raft_message out;
    uint8_t *buf;
    size_t len;
    m.read_index_result = (struct raft_read_index_result){5, 9, 1};
    cr_assert_eq(raftMessageEncode(&m, &buf, &len), 0);
    cr_assert_eq(len, 32 + 24);
    buf[32 + 16] = 2;
    cr_assert_eq(raftMessageDecode(buf, len, &out), ERR_MALFORMED);
    buf[32 + 16] = 0; /* a refusal with an index */
    cr_assert_eq(raftMessageDecode(buf, len, &out), ERR_MALFORMED);
    buf[32 + 16] = 1;
    buf[32 + 20] = 1;
    cr_assert_eq(raftMessageDecode(buf, len, &out), ERR_MALFORMED);
    buf[32 + 20] = 0;
    cr_assert_eq(raftMessageDecode(buf, len - 1, &out), ERR_MALFORMED);
    cr_assert_eq(raftMessageDecode(buf, len, &out), 0);
    raftMessageClose(&out);
    buf[1] = 10; /* past the last type */
    cr_assert_eq(raftMessageDecode(buf, len, &out), ERR_MALFORMED);
    libFree(buf);
}

Test(codec, snapshot_chunk_round_trip)
{
    struct raft_message m = {
        .type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 3, .term = 2};
    struct raft_message out;
    raftConfInit(&m.snapshot.conf);
    cr_assert_eq(raftConfAdd(&m.snapshot.conf, 1, "a:1", RAFT_VOTER), 0);
    cr_assert_eq(raftConfAdd(&m.snapshot.conf, 3, "@abstract", RAFT_SPARE), 0);
    m.snapshot.index = 40;
    m.snapshot.term = 2;
    m.snapshot.conf_index = 30;
    m.snapshot.offset = 1024;
    m.snapshot.data = raftPayloadAlloc(3);
    memcpy(m.snapshot.data, "abc", 3);
    m.snapshot.len = 3;
    m.snapshot.last = 1;
    roundTrip(&m, &out);
    cr_assert_eq(out.snapshot.conf.n, 2);
    cr_assert_str_eq(out.snapshot.conf.servers[1].address, "@abstract");
    cr_assert_eq(out.snapshot.conf.servers[1].role, RAFT_SPARE);
    cr_assert_eq(out.snapshot.offset, 1024);
    cr_assert_arr_eq(out.snapshot.data, "abc", 3);
    raftMessageClose(&out);
    raftMessageClose(&m);
}

/* The pieces of a shared encoding, written one after the other. */
static uint8_t *joinPieces(const struct raft_encoded *e)
{
    uint8_t *flat = libMalloc(e->len);
    size_t off = 0;
    cr_assert_not_null(flat);
    for (unsigned i = 0; i < e->n_pieces; i++) {
        memcpy(flat + off, e->pieces[i].data, e->pieces[i].len);
        off += e->pieces[i].len;
    }
    cr_assert_eq(off, e->len);
    return flat;
}

/* A large entry goes out of its own block, not copied: the encoding holds
 * a reference, so the bytes stay valid after everyone else let go, and the
 * message reads the same as the flat encoding. */
Test(codec, shared_encoding_keeps_large_payloads_in_place)
{
    size_t big = RAFT_SHARE_MIN_BYTES * 2;
    struct raft_entry entries[3] = {
        {3, RAFT_COMMAND, raftPayloadAlloc(5), 5},
        {3, RAFT_COMMAND, raftPayloadAlloc(big), big},
        {4, RAFT_BARRIER, NULL, 0}};
    memcpy(entries[0].data, "small", 5);
    for (size_t i = 0; i < big; i++) {
        entries[1].data[i] = (uint8_t)(i * 7);
    }
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 4};
    m.append = (struct raft_append){10, 3, 9, 77, entries, 3};
    uint8_t *flat;
    size_t flat_len;
    struct raft_encoded to2, to3;
    cr_assert_eq(raftMessageEncode(&m, &flat, &flat_len), 0);
    cr_assert_eq(raftMessageEncodeShared(&m, &to2), 0);
    m.to = 3;
    cr_assert_eq(raftMessageEncodeShared(&m, &to3), 0);
    /* head, the big entry, head again (the barrier's fixed part) */
    cr_assert_eq(to2.n_pieces, 3);
    cr_assert(to2.pieces[1].shared);
    cr_assert_eq(to2.pieces[1].data, entries[1].data);
    cr_assert_eq(to3.pieces[1].data, entries[1].data);
    raftPayloadUnref(entries[0].data);
    raftPayloadUnref(entries[1].data); /* the encodings still hold it */
    uint8_t *joined = joinPieces(&to2);
    cr_assert_eq(to2.len, flat_len);
    cr_assert_arr_eq(joined, flat, flat_len);
    struct raft_message out;
    cr_assert_eq(raftMessageDecode(joined, to2.len, &out), 0);
    cr_assert_eq(out.append.n_entries, 3);
    cr_assert_eq(out.append.entries[1].len, big);
    cr_assert_eq(out.append.entries[1].data[big - 1], (uint8_t)((big - 1) * 7));
    raftMessageClose(&out);
    libFree(joined);
    libFree(flat);
    raftEncodedClose(&to2);
    raftEncodedClose(&to3); /* the last reference: freed (LeakSanitizer) */
}

Test(codec, shared_encoding_of_small_and_chunk_messages)
{
    struct raft_message m = {
        .type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 3, .term = 2};
    size_t big = RAFT_SHARE_MIN_BYTES;
    raftConfInit(&m.snapshot.conf);
    cr_assert_eq(raftConfAdd(&m.snapshot.conf, 1, "a:1", RAFT_VOTER), 0);
    m.snapshot.index = 40;
    m.snapshot.data = raftPayloadAlloc(big);
    memset(m.snapshot.data, 0xab, big);
    m.snapshot.len = big;
    m.snapshot.last = 1;
    struct raft_encoded e;
    uint8_t *flat;
    size_t flat_len;
    cr_assert_eq(raftMessageEncodeShared(&m, &e), 0);
    cr_assert_eq(raftMessageEncode(&m, &flat, &flat_len), 0);
    cr_assert_eq(e.n_pieces, 2); /* nothing after the chunk */
    cr_assert_eq(e.pieces[1].data, m.snapshot.data);
    uint8_t *joined = joinPieces(&e);
    cr_assert_arr_eq(joined, flat, flat_len);
    libFree(joined);
    libFree(flat);
    raftEncodedClose(&e);
    raftMessageClose(&m);

    /* no large payload: one piece, the head */
    struct raft_message v = {.type = RAFT_MSG_VOTE, .from = 1, .to = 2};
    cr_assert_eq(raftMessageEncodeShared(&v, &e), 0);
    cr_assert_eq(e.n_pieces, 1);
    cr_assert_eq(e.pieces[0].data, e.head);
    raftEncodedClose(&e);
    v.type = 200;
    cr_assert_eq(raftMessageEncodeShared(&v, &e), ERR_INVALID);
    cr_assert_eq(e.n_pieces, 0);
}

Test(codec, rejects_bad_input)
{
    struct raft_message m = {
        .type = RAFT_MSG_VOTE, .from = 1, .to = 2, .term = 1};
    struct raft_message out;
    uint8_t *buf;
    size_t len;
    cr_assert_eq(raftMessageEncode(&m, &buf, &len), 0);
    buf[0] = 2;
    cr_assert_eq(raftMessageDecode(buf, len, &out), ERR_UNSUPPORTED);
    buf[0] = RAFT_MSG_VERSION;
    buf[1] = 99;
    cr_assert_eq(raftMessageDecode(buf, len, &out), ERR_MALFORMED);
    buf[1] = RAFT_MSG_VOTE;
    buf[32 + 16] = 7; /* pre_vote must be 0 or 1 */
    cr_assert_eq(raftMessageDecode(buf, len, &out), ERR_MALFORMED);
    libFree(buf);
    m.type = 42;
    cr_assert_eq(raftMessageEncode(&m, &buf, &len), ERR_INVALID);
}

Test(codec, rejects_oversized_counts)
{
    uint8_t buf[32 + 36] = {RAFT_MSG_VERSION, RAFT_MSG_APPEND};
    struct raft_message out;
    bytePut32(buf + 32 + 32, RAFT_MSG_MAX_ENTRIES + 1);
    cr_assert_eq(raftMessageDecode(buf, sizeof buf, &out), ERR_TOOBIG);
    bytePut32(buf + 32 + 32, 1000); /* more entries than bytes */
    cr_assert_eq(raftMessageDecode(buf, sizeof buf, &out), ERR_MALFORMED);
}

Test(codec, out_of_memory_is_reported)
{
    struct raft_entry e = {1, RAFT_COMMAND, raftPayloadAlloc(4), 4};
    struct raft_message m = {.type = RAFT_MSG_APPEND, .from = 1, .to = 2};
    struct raft_message out;
    uint8_t *buf;
    size_t len;
    memset(e.data, 1, 4);
    m.append.entries = &e;
    m.append.n_entries = 1;
    cr_assert_eq(raftMessageEncode(&m, &buf, &len), 0);
    for (long n = 0; n < 3; n++) {
        libAllocFailAfter(n, 1);
        int rv = raftMessageDecode(buf, len, &out);
        libAllocFailAfter(-1, 1);
        cr_assert(rv == ERR_NOMEM || rv == 0);
        if (rv == 0) {
            raftMessageClose(&out);
        }
    }
    libAllocFailAfter(0, 1);
    cr_assert_eq(raftMessageEncode(&m, &buf, &len), ERR_NOMEM);
    libAllocFailAfter(-1, 1);
    raftPayloadUnref(e.data);
    libFree(buf);
}

Test(conf, encode_decode_and_limits)
{
    struct raft_configuration c, d;
    uint8_t *data;
    size_t len;
    raftConfInit(&c);
    cr_assert_eq(raftConfAdd(&c, 1, "x:1", RAFT_VOTER), 0);
    cr_assert_eq(raftConfAdd(&c, 1, "y:1", RAFT_VOTER), ERR_DUPLICATE_NODE);
    cr_assert_eq(raftConfAdd(&c, 0, "y:1", RAFT_VOTER), ERR_INVALID);
    cr_assert_eq(raftConfAdd(&c, 2, "y:1", 7), ERR_INVALID);
    cr_assert_eq(raftConfAdd(&c, 2, "y:1", RAFT_STANDBY), 0);
    cr_assert_eq(raftConfVoters(&c), 1);
    cr_assert_eq(raftConfEncodePayload(&c, &data, &len), 0);
    cr_assert_eq(raftConfDecode(data, len, &d), 0);
    cr_assert_eq(d.n, 2);
    cr_assert_str_eq(d.servers[1].address, "y:1");
    cr_assert_eq(d.servers[1].role, RAFT_STANDBY);
    raftConfClose(&d);
    for (size_t cut = 0; cut < len; cut++) {
        cr_assert_eq(raftConfDecode(data, cut, &d), ERR_MALFORMED);
    }
    data[8 + 8] = 9; /* bad role */
    cr_assert_eq(raftConfDecode(data, len, &d), ERR_MALFORMED);
    raftPayloadUnref(data);
    char big[RAFT_ADDRESS_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(raftConfAdd(&c, 3, big, RAFT_VOTER), ERR_INVALID);
    for (uint64_t id = 3; id <= RAFT_CONF_MAX_SERVERS; id++) {
        cr_assert_eq(raftConfAdd(&c, id, "z", RAFT_SPARE), 0);
    }
    cr_assert_eq(raftConfAdd(&c, 99, "z", RAFT_SPARE), ERR_TOOBIG);
    raftConfClose(&c);
}
