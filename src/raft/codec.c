/*
 * The raft message codec: struct raft_message <-> bytes, as specified byte
 * by byte in docs/raft.md. Pure and bounded: the decoder reads untrusted
 * network bytes, checks every length against the limits of raft.h before
 * allocating, and reports malformed input with an error, never a crash.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "raft/raft.h"

#define HEADER_BYTES 32
#define ENTRY_FIXED 16 /* term, type, 3 zero bytes, u32 length */

/* ------------------------------------------------------------ release */

void raftMessageClose(struct raft_message *m)
{
    if (m->type == RAFT_MSG_APPEND) {
        for (unsigned i = 0; i < m->append.n_entries; i++) {
            raftPayloadUnref(m->append.entries[i].data);
        }
        libFree(m->append.entries);
        m->append.entries = NULL;
        m->append.n_entries = 0;
    } else if (m->type == RAFT_MSG_SNAPSHOT) {
        raftConfClose(&m->snapshot.conf);
        raftPayloadUnref(m->snapshot.data);
        m->snapshot.data = NULL;
        m->snapshot.len = 0;
    }
}

/* ------------------------------------------------------------ encode */

static size_t codecBodySize(const struct raft_message *m)
{
    size_t size = 0;
    switch (m->type) {
    case RAFT_MSG_APPEND:
        size = 36;
        for (unsigned i = 0; i < m->append.n_entries; i++) {
            size += ENTRY_FIXED + m->append.entries[i].len;
        }
        return size;
    case RAFT_MSG_APPEND_RESULT:
        return 40;
    case RAFT_MSG_VOTE:
        return 24;
    case RAFT_MSG_VOTE_RESULT:
        return 8;
    case RAFT_MSG_SNAPSHOT:
        return 44 + raftConfEncodedSize(&m->snapshot.conf) + m->snapshot.len;
    case RAFT_MSG_SNAPSHOT_RESULT:
        return 24;
    case RAFT_MSG_TIMEOUT_NOW:
        return 16;
    case RAFT_MSG_READ_INDEX:
        return 8;
    case RAFT_MSG_READ_INDEX_RESULT:
        return 24;
    default:
        return SIZE_MAX;
    }
}

/* Where encoded bytes go: everything into `p` (a flat encoding), or, when
 * `pieces` is set, payloads of RAFT_SHARE_MIN_BYTES or more as pieces of
 * their own (a reference each) between runs of `p`'s bytes. */
struct codec_sink {
    uint8_t *p;    /* next byte of the head buffer */
    uint8_t *mark; /* start of the head run not yet made a piece */
    struct raft_piece *pieces;
    unsigned n;
};

static bool codecShares(const struct codec_sink *s, size_t len)
{
    return s->pieces != NULL && len >= RAFT_SHARE_MIN_BYTES;
}

/* Ends the current run of head bytes as a piece. */
static void codecCut(struct codec_sink *s)
{
    if (s->p > s->mark) {
        s->pieces[s->n++] = (struct raft_piece){
            .data = s->mark, .len = (size_t)(s->p - s->mark)};
    }
    s->mark = s->p;
}

static void codecPutPayload(struct codec_sink *s, const uint8_t *data,
                            size_t len)
{
    if (!codecShares(s, len)) {
        if (len > 0) {
            memcpy(s->p, data, len);
        }
        s->p += len;
        return;
    }
    codecCut(s);
    raftPayloadRef(data);
    s->pieces[s->n++] =
        (struct raft_piece){.data = data, .len = len, .shared = true};
}

static void codecPutEntries(const struct raft_append *a, struct codec_sink *s)
{
    for (unsigned i = 0; i < a->n_entries; i++) {
        const struct raft_entry *e = &a->entries[i];
        uint8_t *p = s->p;
        bytePut64(p, e->term);
        p[8] = e->type;
        p[9] = p[10] = p[11] = 0;
        bytePut32(p + 12, (uint32_t)e->len);
        s->p += ENTRY_FIXED;
        codecPutPayload(s, e->data, e->len);
    }
}

static void codecPutSnapshot(const struct raft_snapshot_chunk_msg *m,
                             struct codec_sink *s)
{
    uint8_t *p = s->p;
    size_t conf_len = raftConfEncodedSize(&m->conf);
    bytePut64(p, m->index);
    bytePut64(p + 8, m->term);
    bytePut64(p + 16, m->conf_index);
    bytePut64(p + 24, m->offset);
    p[32] = m->last;
    p[33] = p[34] = p[35] = 0;
    bytePut32(p + 36, (uint32_t)conf_len);
    raftConfEncodeTo(&m->conf, p + 40);
    p += 40 + conf_len;
    bytePut32(p, (uint32_t)m->len);
    s->p = p + 4;
    codecPutPayload(s, m->data, m->len);
}

static void codecPutBody(const struct raft_message *m, struct codec_sink *s)
{
    uint8_t *p = s->p;
    switch (m->type) {
    case RAFT_MSG_APPEND:
        bytePut64(p, m->append.prev_index);
        bytePut64(p + 8, m->append.prev_term);
        bytePut64(p + 16, m->append.commit);
        bytePut64(p + 24, m->append.read_seq);
        bytePut32(p + 32, m->append.n_entries);
        s->p = p + 36;
        codecPutEntries(&m->append, s);
        return;
    case RAFT_MSG_APPEND_RESULT:
        memset(p, 0, 8);
        p[0] = m->append_result.success;
        bytePut64(p + 8, m->append_result.index);
        bytePut64(p + 16, m->append_result.last_index);
        bytePut64(p + 24, m->append_result.hint_term);
        bytePut64(p + 32, m->append_result.read_seq);
        s->p = p + 40;
        return;
    case RAFT_MSG_VOTE:
        bytePut64(p, m->vote.last_index);
        bytePut64(p + 8, m->vote.last_term);
        memset(p + 16, 0, 8);
        p[16] = m->vote.pre_vote;
        p[17] = m->vote.disrupt_leader;
        s->p = p + 24;
        return;
    case RAFT_MSG_VOTE_RESULT:
        memset(p, 0, 8);
        p[0] = m->vote_result.granted;
        p[1] = m->vote_result.pre_vote;
        s->p = p + 8;
        return;
    case RAFT_MSG_SNAPSHOT:
        codecPutSnapshot(&m->snapshot, s);
        return;
    case RAFT_MSG_SNAPSHOT_RESULT:
        bytePut64(p, m->snapshot_result.index);
        bytePut64(p + 8, m->snapshot_result.offset);
        memset(p + 16, 0, 8);
        p[16] = m->snapshot_result.success;
        p[17] = m->snapshot_result.done;
        s->p = p + 24;
        return;
    case RAFT_MSG_READ_INDEX:
        bytePut64(p, m->read_index.ctx);
        s->p = p + 8;
        return;
    case RAFT_MSG_READ_INDEX_RESULT:
        bytePut64(p, m->read_index_result.ctx);
        bytePut64(p + 8, m->read_index_result.index);
        memset(p + 16, 0, 8);
        p[16] = m->read_index_result.success;
        s->p = p + 24;
        return;
    default:
        bytePut64(p, m->timeout_now.last_index);
        bytePut64(p + 8, m->timeout_now.last_term);
        s->p = p + 16;
        return;
    }
}

static void codecPutHeader(const struct raft_message *m, struct codec_sink *s)
{
    uint8_t *buf = s->p;
    buf[0] = RAFT_MSG_VERSION;
    buf[1] = m->type;
    memset(buf + 2, 0, 6);
    bytePut64(buf + 8, m->from);
    bytePut64(buf + 16, m->to);
    bytePut64(buf + 24, m->term);
    s->p = buf + HEADER_BYTES;
    codecPutBody(m, s);
}

/* The encoded size of `m`: ERR_INVALID for an unknown type, ERR_TOOBIG
 * past RAFT_MSG_MAX_BYTES. */
static int codecSize(const struct raft_message *m, size_t *len)
{
    size_t body = codecBodySize(m);
    if (body == SIZE_MAX) {
        return ERR_INVALID;
    }
    if (body > RAFT_MSG_MAX_BYTES - HEADER_BYTES) {
        return ERR_TOOBIG;
    }
    *len = HEADER_BYTES + body;
    return 0;
}

int raftMessageEncode(const struct raft_message *m, uint8_t **out, size_t *len)
{
    struct codec_sink s = {0};
    int rv = codecSize(m, len);
    if (rv != 0) {
        return rv;
    }
    s.p = libMalloc(*len);
    if (s.p == NULL) {
        return ERR_NOMEM;
    }
    *out = s.p;
    codecPutHeader(m, &s);
    POST((size_t)(s.p - *out) == *len);
    return 0;
}

/* The payloads of `m` that an encoding shares: how many, how many bytes. */
static void codecSharedPayloads(const struct raft_message *m, unsigned *n,
                                size_t *bytes)
{
    *n = 0;
    *bytes = 0;
    if (m->type == RAFT_MSG_APPEND) {
        for (unsigned i = 0; i < m->append.n_entries; i++) {
            size_t len = m->append.entries[i].len;
            if (len >= RAFT_SHARE_MIN_BYTES) {
                (*n)++;
                *bytes += len;
            }
        }
    } else if (m->type == RAFT_MSG_SNAPSHOT &&
               m->snapshot.len >= RAFT_SHARE_MIN_BYTES) {
        *n = 1;
        *bytes = m->snapshot.len;
    }
}

int raftMessageEncodeShared(const struct raft_message *m,
                            struct raft_encoded *out)
{
    struct codec_sink s = {0};
    unsigned n_shared;
    size_t len, shared_bytes;
    int rv = codecSize(m, &len);
    *out = (struct raft_encoded){0};
    if (rv != 0) {
        return rv;
    }
    codecSharedPayloads(m, &n_shared, &shared_bytes);
    /* head runs alternate with shared payloads: at most one more run */
    out->pieces = libMalloc((2 * n_shared + 1) * sizeof *out->pieces);
    out->head = libMalloc(len - shared_bytes);
    if (out->pieces == NULL || out->head == NULL) {
        libFree(out->pieces);
        libFree(out->head);
        *out = (struct raft_encoded){0};
        return ERR_NOMEM;
    }
    s.p = s.mark = out->head;
    s.pieces = out->pieces;
    codecPutHeader(m, &s);
    codecCut(&s);
    POST((size_t)(s.p - out->head) == len - shared_bytes);
    POST(s.n <= 2 * n_shared + 1);
    out->n_pieces = s.n;
    out->len = len;
    return 0;
}

void raftEncodedClose(struct raft_encoded *e)
{
    for (unsigned i = 0; i < e->n_pieces; i++) {
        if (e->pieces[i].shared) {
            raftPayloadUnref(e->pieces[i].data);
        }
    }
    libFree(e->pieces);
    libFree(e->head);
    *e = (struct raft_encoded){0};
}

/* ------------------------------------------------------------ decode */

struct reader {
    const uint8_t *p;
    size_t left;
};

static const uint8_t *readerTake(struct reader *r, size_t n)
{
    const uint8_t *p = r->p;
    if (r->left < n) {
        return NULL;
    }
    r->p += n;
    r->left -= n;
    return p;
}

/* Copies `len` bytes into a new payload block (NULL when len == 0). */
static int codecTakePayload(struct reader *r, size_t len, uint8_t **out)
{
    const uint8_t *src = readerTake(r, len);
    *out = NULL;
    if (src == NULL) {
        return ERR_MALFORMED;
    }
    if (len == 0) {
        return 0;
    }
    *out = raftPayloadAlloc(len);
    if (*out == NULL) {
        return ERR_NOMEM;
    }
    memcpy(*out, src, len);
    return 0;
}

static int codecGetEntry(struct reader *r, struct raft_entry *e)
{
    const uint8_t *p = readerTake(r, ENTRY_FIXED);
    if (p == NULL) {
        return ERR_MALFORMED;
    }
    e->term = byteGet64(p);
    e->type = p[8];
    e->len = byteGet32(p + 12);
    if (e->type < RAFT_COMMAND || e->type > RAFT_CHANGE || e->term == 0) {
        return ERR_MALFORMED;
    }
    if (e->len > RAFT_ENTRY_MAX_BYTES) {
        return ERR_TOOBIG;
    }
    return codecTakePayload(r, e->len, &e->data);
}

static int codecGetAppend(struct reader *r, struct raft_append *a)
{
    const uint8_t *p = readerTake(r, 36);
    uint32_t n;
    int rv = 0;
    if (p == NULL) {
        return ERR_MALFORMED;
    }
    a->prev_index = byteGet64(p);
    a->prev_term = byteGet64(p + 8);
    a->commit = byteGet64(p + 16);
    a->read_seq = byteGet64(p + 24);
    n = byteGet32(p + 32);
    a->entries = NULL;
    a->n_entries = 0;
    if (n > RAFT_MSG_MAX_ENTRIES) {
        return ERR_TOOBIG;
    }
    if ((size_t)n * ENTRY_FIXED > r->left) {
        return ERR_MALFORMED;
    }
    a->entries = libCalloc(n == 0 ? 1 : n, sizeof *a->entries);
    if (a->entries == NULL) {
        return ERR_NOMEM;
    }
    for (uint32_t i = 0; i < n && rv == 0; i++) {
        rv = codecGetEntry(r, &a->entries[i]);
        a->n_entries = i + 1; /* calloc-ed: a failed one holds NULL */
    }
    return rv;
}

static int codecGetSnapshot(struct reader *r, struct raft_snapshot_chunk_msg *s)
{
    const uint8_t *p = readerTake(r, 40);
    const uint8_t *conf;
    size_t conf_len, data_len;
    int rv;
    raftConfInit(&s->conf);
    s->data = NULL;
    s->len = 0;
    if (p == NULL) {
        return ERR_MALFORMED;
    }
    s->index = byteGet64(p);
    s->term = byteGet64(p + 8);
    s->conf_index = byteGet64(p + 16);
    s->offset = byteGet64(p + 24);
    s->last = p[32];
    conf_len = byteGet32(p + 36);
    if (s->last > 1 || (conf = readerTake(r, conf_len)) == NULL) {
        return ERR_MALFORMED;
    }
    rv = raftConfDecode(conf, conf_len, &s->conf);
    if (rv != 0) {
        return rv;
    }
    if ((p = readerTake(r, 4)) == NULL) {
        return ERR_MALFORMED;
    }
    data_len = byteGet32(p);
    if (data_len > RAFT_CHUNK_MAX_BYTES) {
        return ERR_TOOBIG;
    }
    rv = codecTakePayload(r, data_len, &s->data);
    s->len = s->data != NULL ? data_len : 0;
    return rv;
}

static int codecGetFixed(struct reader *r, struct raft_message *m)
{
    const uint8_t *p;
    switch (m->type) {
    case RAFT_MSG_APPEND_RESULT:
        if ((p = readerTake(r, 40)) == NULL || p[0] > 1) {
            return ERR_MALFORMED;
        }
        m->append_result.success = p[0];
        m->append_result.index = byteGet64(p + 8);
        m->append_result.last_index = byteGet64(p + 16);
        m->append_result.hint_term = byteGet64(p + 24);
        m->append_result.read_seq = byteGet64(p + 32);
        return 0;
    case RAFT_MSG_VOTE:
        if ((p = readerTake(r, 24)) == NULL || p[16] > 1 || p[17] > 1) {
            return ERR_MALFORMED;
        }
        m->vote.last_index = byteGet64(p);
        m->vote.last_term = byteGet64(p + 8);
        m->vote.pre_vote = p[16];
        m->vote.disrupt_leader = p[17];
        return 0;
    case RAFT_MSG_VOTE_RESULT:
        if ((p = readerTake(r, 8)) == NULL || p[0] > 1 || p[1] > 1) {
            return ERR_MALFORMED;
        }
        m->vote_result.granted = p[0];
        m->vote_result.pre_vote = p[1];
        return 0;
    case RAFT_MSG_SNAPSHOT_RESULT:
        if ((p = readerTake(r, 24)) == NULL || p[16] > 1 || p[17] > 1) {
            return ERR_MALFORMED;
        }
        m->snapshot_result.index = byteGet64(p);
        m->snapshot_result.offset = byteGet64(p + 8);
        m->snapshot_result.success = p[16];
        m->snapshot_result.done = p[17];
        return 0;
    case RAFT_MSG_READ_INDEX:
        if ((p = readerTake(r, 8)) == NULL) {
            return ERR_MALFORMED;
        }
        m->read_index.ctx = byteGet64(p);
        return 0;
    case RAFT_MSG_READ_INDEX_RESULT:
        /* Padding must be zero; a failure carries no index. */
        if ((p = readerTake(r, 24)) == NULL || p[16] > 1 ||
            (p[16] == 0 && byteGet64(p + 8) != 0) ||
            memcmp(p + 17, "\0\0\0\0\0\0\0", 7) != 0) {
            return ERR_MALFORMED;
        }
        m->read_index_result.ctx = byteGet64(p);
        m->read_index_result.index = byteGet64(p + 8);
        m->read_index_result.success = p[16];
        return 0;
    default:
        if ((p = readerTake(r, 16)) == NULL) {
            return ERR_MALFORMED;
        }
        m->timeout_now.last_index = byteGet64(p);
        m->timeout_now.last_term = byteGet64(p + 8);
        return 0;
    }
}

int raftMessageDecode(const uint8_t *buf, size_t len, struct raft_message *m)
{
    struct reader r = {buf, len};
    int rv;
    memset(m, 0, sizeof *m);
    if (len > RAFT_MSG_MAX_BYTES) {
        return ERR_TOOBIG;
    }
    if (len < HEADER_BYTES) {
        return ERR_MALFORMED;
    }
    if (buf[0] != RAFT_MSG_VERSION) {
        return ERR_UNSUPPORTED;
    }
    if (buf[1] < RAFT_MSG_APPEND || buf[1] > RAFT_MSG_READ_INDEX_RESULT) {
        return ERR_MALFORMED;
    }
    m->type = buf[1];
    m->from = byteGet64(buf + 8);
    m->to = byteGet64(buf + 16);
    m->term = byteGet64(buf + 24);
    readerTake(&r, HEADER_BYTES);
    if (m->type == RAFT_MSG_APPEND) {
        rv = codecGetAppend(&r, &m->append);
    } else if (m->type == RAFT_MSG_SNAPSHOT) {
        rv = codecGetSnapshot(&r, &m->snapshot);
    } else {
        rv = codecGetFixed(&r, m);
    }
    if (rv == 0 && r.left != 0) {
        rv = ERR_MALFORMED;
    }
    if (rv != 0) {
        goto err_after_body;
    }
    return 0;
err_after_body:
    raftMessageClose(m);
    memset(m, 0, sizeof *m);
    return rv;
}
