/*
 * libFuzzer target for the raft message codec (src/raft/codec.c): decoding
 * arbitrary bytes must return an error or a message that re-encodes to the
 * very same bytes, and must never read out of bounds, leak or crash.
 * The first input byte also selects a configuration decode, the other
 * untrusted decoder of the module.
 *
 * Every decoded message is then stepped into a follower (node 2 of voters
 * 1, 2, 3) whose entries 1..4 are committed at terms 1, 2, 2, 2: whatever
 * the message (forged, from a stranger, addressed elsewhere), the commit
 * index never goes down and no committed entry changes its term (it may
 * only be replaced by a snapshot, which hides its term). The corpus holds
 * the forged cases of issue 15: append-forged-* (committed entries
 * contradicted, prev_index 0), append-stranger (a non-member), append-to-0
 * and append-to-other.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "raft/raft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzzConf(const uint8_t *data, size_t size)
{
    struct raft_configuration c;
    uint8_t *out;
    size_t len;
    if (raftConfDecode(data, size, &c) != 0) {
        return;
    }
    if (raftConfEncodePayload(&c, &out, &len) == 0) {
        if (len != size || memcmp(out, data, size) != 0) {
            abort(); /* the encoding is canonical */
        }
        raftPayloadUnref(out);
    }
    raftConfClose(&c);
}

static struct raft *fuzzFollower(void)
{
    struct raft_options o;
    struct raft_hard_state hs = {2, 1};
    struct raft_configuration c;
    struct raft_entry log[4];
    struct raft *r;
    raftOptionsDefault(&o);
    raftConfInit(&c);
    for (uint64_t id = 1; id <= 3; id++) {
        if (raftConfAdd(&c, id, "addr", RAFT_VOTER) != 0) {
            abort();
        }
    }
    if (raftBootstrapEntry(&c, &log[0]) != 0) {
        abort();
    }
    raftConfClose(&c);
    for (unsigned i = 1; i < 4; i++) {
        log[i] = (struct raft_entry){2, RAFT_COMMAND, NULL, 0};
    }
    if (raftCreate(2, &o, &hs, NULL, log, 4, 1, 0, &r) != 0) {
        abort();
    }
    raftPayloadUnref(log[0].data);
    /* The leader commits them. */
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 2};
    m.append = (struct raft_append){4, 2, 4, 0, NULL, 0};
    if (raftStep(r, &m) != 0 || raftCommitIndex(r) != 4) {
        abort();
    }
    return r;
}

static const uint64_t fuzz_terms[5] = {0, 1, 2, 2, 2};

/* The message must be refused whole: a stranger, addressed elsewhere, or
 * an append contradicting the committed entries 1..4. */
static bool fuzzRefused(const struct raft_message *m)
{
    const struct raft_append *a = &m->append;
    if (m->from == 2 || m->from == 0) {
        return false; /* ignored anyway, nothing to check */
    }
    if (m->from > 3 || m->to != 2) {
        return true;
    }
    if (m->type != RAFT_MSG_APPEND) {
        return false;
    }
    if (a->prev_index >= 1 && a->prev_index <= 4 &&
        a->prev_term != fuzz_terms[a->prev_index]) {
        return true;
    }
    for (unsigned i = 0; i < a->n_entries; i++) {
        uint64_t index = a->prev_index + 1 + i;
        if (index >= 1 && index <= 4 &&
            a->entries[i].term != fuzz_terms[index]) {
            return true;
        }
    }
    return false;
}

static void fuzzStep(const struct raft_message *m)
{
    const uint64_t *terms = fuzz_terms;
    struct raft *r = fuzzFollower();
    struct raft_ready rd;
    bool refused = fuzzRefused(m);
    if (raftStep(r, m) == 0 && raftHasReady(r) && raftReady(r, &rd) == 0) {
        raftAdvance(r, &rd);
    }
    if (refused &&
        (raftTerm(r) != 2 || raftLastIndex(r) != 4 || raftLeader(r) != 1)) {
        abort(); /* a forged message was acted upon */
    }
    if (raftCommitIndex(r) < 4) {
        abort();
    }
    for (uint64_t i = 1; i <= 4; i++) {
        uint64_t term = raftTermAt(r, i);
        if (term != 0 && term != terms[i]) {
            abort(); /* a committed entry was rewritten */
        }
    }
    raftDestroy(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct raft_message m;
    uint8_t *out;
    size_t len;
    fuzzConf(data, size);
    if (raftMessageDecode(data, size, &m) != 0) {
        return 0;
    }
    if (raftMessageEncode(&m, &out, &len) == 0) {
        /* Padding and reserved bytes may differ; the re-encoding must
         * decode to the same message and be stable from then on. */
        struct raft_message again;
        uint8_t *out2;
        size_t len2;
        if (len != size || raftMessageDecode(out, len, &again) != 0 ||
            raftMessageEncode(&again, &out2, &len2) != 0 || len2 != len ||
            memcmp(out, out2, len) != 0) {
            abort();
        }
        raftMessageClose(&again);
        libFree(out2);
        /* The shared encoding (pieces referencing large payloads) is the
         * same bytes. */
        struct raft_encoded enc;
        size_t off = 0;
        if (raftMessageEncodeShared(&m, &enc) != 0 || enc.len != len) {
            abort();
        }
        for (unsigned i = 0; i < enc.n_pieces; i++) {
            if (off + enc.pieces[i].len > len ||
                memcmp(out + off, enc.pieces[i].data, enc.pieces[i].len) != 0) {
                abort();
            }
            off += enc.pieces[i].len;
        }
        if (off != len) {
            abort();
        }
        raftEncodedClose(&enc);
        libFree(out);
    }
    fuzzStep(&m);
    raftMessageClose(&m);
    return 0;
}
