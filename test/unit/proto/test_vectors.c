/*
 * The captured exchanges of test/vectors/ (libdqlite 1.11.1 and
 * go-dqlite 1.11.5): every handshake, request and response is decoded,
 * re-encoded and compared with the captured bytes, and every connection's
 * two byte streams are run through the chunked readers split in many ways.
 *
 * A re-encoding must be byte-identical except where the captured message
 * has dirty padding (go-dqlite's parameter tuples, the reference's blob
 * padding in rows): there the bytes may differ only inside the padding that
 * the decoded message locates. The few captured messages that are
 * deliberately malformed must fail with the error listed in `expected`,
 * and every listed failure must happen. Nothing is skipped: the test fails
 * on an unreadable file or line, and prints the number of messages checked.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/byte.h"
#include "lib/err.h"
#include "proto/reader.h"
#include "vectors.h"

#define MAX_CONNS 128
#define MAX_FILES 64

/* Captured messages the codec must refuse, by file and line. */
struct expected_failure {
    const char *file;
    int line;
    int rv;
    bool seen;
};

static struct expected_failure expected[] = {
    /* handshake words 2 and 0: the reference closes the connection */
    {"11-bad-version.txt", 6, ERR_PROTO_VERSION, false},
    {"11-bad-version.txt", 12, ERR_PROTO_VERSION, false},
    /* UNIXTIME and code 12 as parameters: FAILURE 1005 in the reference */
    {"16-exec-query-edge.txt", 57, ERR_PROTO_PARAM_TYPE, false},
    {"16-exec-query-edge.txt", 61, ERR_PROTO_PARAM_TYPE, false},
    /* request type 42 */
    {"17-heartbeat-unknown.txt", 40, ERR_PROTO_TYPE, false},
    /* words == 0 */
    {"31-misc-quirks.txt", 79, ERR_PROTO_EMPTY, false},
};

struct conn {
    bool open;   /* seen opened in this file */
    bool closed; /* seen closed (later lines may still arrive) */
    bool handshaken;
    uint64_t version;
    struct buf client;    /* bytes the client sent (handshake included) */
    struct buf server;    /* bytes the server sent */
    uint64_t formats[64]; /* CLUSTER formats waiting for their SERVERS */
    size_t n_formats;
};

struct stats {
    int files;
    int messages;
    int exact;
    int padding;
    int padding_requests;
    int refused;
    int streams;
};

static struct conn conns[MAX_CONNS];
static struct stats stats;

static int expectedFailure(const char *file, int line)
{
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        if (strcmp(expected[i].file, file) == 0 && expected[i].line == line) {
            expected[i].seen = true;
            return expected[i].rv;
        }
    }
    return 0;
}

/* Checks a decode result against the table; true if decoding succeeded. */
static bool checkDecode(const char *file, int line, int rv)
{
    int want = expectedFailure(file, line);
    cr_assert_eq(rv, want, "%s:%d: decode returned %d (%s), expected %d", file,
                 line, rv, errString(rv), want);
    if (rv != 0) {
        stats.refused++;
    }
    return rv == 0;
}

/* The captured message `orig` vs its re-encoding `again`: equal, or
 * different only in bytes that `mask` says are padding. */
static void compareBytes(const char *file, int line, const struct buf *orig,
                         const struct buf *again, const bool *mask)
{
    cr_assert_eq(again->len, orig->len, "%s:%d: re-encoded %zu bytes, not %zu",
                 file, line, again->len, orig->len);
    if (memcmp(again->data, orig->data, orig->len) == 0) {
        stats.exact++;
        return;
    }
    for (size_t i = 0; i < orig->len; i++) {
        if (again->data[i] != orig->data[i]) {
            cr_assert(i >= PROTO_HEADER_SIZE && mask[i - PROTO_HEADER_SIZE],
                      "%s:%d: byte %zu differs outside padding", file, line, i);
            cr_assert_eq(again->data[i], 0);
        }
    }
    stats.padding++;
}

static struct conn *connGet(int n)
{
    cr_assert(n > 0 && n < MAX_CONNS, "connection number %d", n);
    return &conns[n];
}

static void checkHandshake(const char *file, int line, struct conn *c,
                           const struct buf *msg)
{
    uint64_t version = 0;
    cr_assert_eq(msg->len, 8, "%s:%d: handshake of %zu bytes", file, line,
                 msg->len);
    int rv = protoHandshakeDecode(msg->data, &version);
    c->handshaken = true;
    c->version = version;
    if (checkDecode(file, line, rv)) {
        struct buf again;
        bufInit(&again);
        cr_assert_eq(protoHandshakeEncode(version, &again), 0);
        compareBytes(file, line, msg, &again, NULL);
        bufFree(&again);
    }
}

/* Splits a captured message line into header and body, checking framing. */
static void frameOf(const char *file, int line, const struct buf *msg,
                    struct proto_header *h)
{
    cr_assert(msg->len >= PROTO_HEADER_SIZE, "%s:%d: short message", file,
              line);
    protoHeaderGet(msg->data, h);
    cr_assert_eq((size_t)h->words * 8, msg->len - PROTO_HEADER_SIZE,
                 "%s:%d: framing", file, line);
}

static void checkRequest(const char *file, int line, struct conn *c,
                         const struct buf *msg)
{
    struct proto_header h;
    struct proto_request req;
    frameOf(file, line, msg, &h);
    const uint8_t *body = msg->data + PROTO_HEADER_SIZE;
    size_t len = msg->len - PROTO_HEADER_SIZE;
    int rv = protoRequestDecode(&h, body, len, &req);
    if (!checkDecode(file, line, rv)) {
        return;
    }
    if (req.type == PROTO_REQ_CLUSTER) {
        /* 1.11.1 answers any format but 0 with format 1 (vector 31) */
        cr_assert(c->n_formats < 64);
        c->formats[c->n_formats++] = req.cluster.format == 0 ? 0 : 1;
    }
    struct buf again;
    bufInit(&again);
    cr_assert_eq(protoRequestEncode(&req, &again), 0, "%s:%d", file, line);
    bool *mask = calloc(len + 1, 1);
    vecMaskRequest(&req, body, len, mask);
    int before = stats.padding;
    compareBytes(file, line, msg, &again, mask);
    stats.padding_requests += stats.padding - before;
    free(mask);
    bufFree(&again);
}

static void checkResponse(const char *file, int line, struct conn *c,
                          const struct buf *msg)
{
    struct proto_header h;
    struct proto_response resp;
    struct proto_expect expect = {c->version == PROTO_VERSION_LEGACY, 1};
    frameOf(file, line, msg, &h);
    if (h.type == PROTO_RESP_SERVERS) {
        cr_assert(c->n_formats > 0, "%s:%d: SERVERS unasked", file, line);
        expect.cluster_format = c->formats[0];
        memmove(c->formats, c->formats + 1,
                --c->n_formats * sizeof c->formats[0]);
    }
    const uint8_t *body = msg->data + PROTO_HEADER_SIZE;
    size_t len = msg->len - PROTO_HEADER_SIZE;
    int rv = protoResponseDecode(&h, body, len, &expect, &resp);
    if (!checkDecode(file, line, rv)) {
        return;
    }
    struct buf again;
    bufInit(&again);
    rv = protoResponseEncode(&resp, &expect, &again);
    cr_assert_eq(rv, 0, "%s:%d: encode: %s", file, line, errString(rv));
    bool *mask = calloc(len + 1, 1);
    vecMaskResponse(&resp, body, len, mask);
    compareBytes(file, line, msg, &again, mask);
    free(mask);
    bufFree(&again);
}

/* ------------------------------------------------------------ streams */

/* The frames a reader must produce from `stream`, and the error that ends
 * them (ERR_AGAIN when the stream is clean). */
static void expectedFrames(enum proto_side side, const struct buf *stream,
                           size_t *n_frames, int *end)
{
    size_t pos = 0;
    *n_frames = 0;
    *end = ERR_AGAIN;
    if (side == PROTO_SIDE_SERVER) {
        uint64_t v = stream->len >= 8 ? byteGet64(stream->data) : 0;
        if (v != PROTO_VERSION && v != PROTO_VERSION_LEGACY) {
            *end = ERR_PROTO_VERSION;
            return;
        }
        pos = 8;
    }
    while (pos < stream->len) {
        uint32_t words = byteGet32(stream->data + pos);
        if (words == 0) {
            *end = ERR_PROTO_EMPTY;
            return;
        }
        pos += 8 + (size_t)words * 8;
        (*n_frames)++;
    }
    cr_assert_eq(pos, stream->len);
}

/* Feeds `stream` in chunks drawn by `next_chunk` and checks every frame
 * against the stream's own bytes, in order. */
static void runReader(enum proto_side side, const struct buf *stream,
                      size_t (*next_chunk)(unsigned *seed), unsigned seed,
                      bool zero_copy)
{
    size_t want_frames;
    int want_end;
    expectedFrames(side, stream, &want_frames, &want_end);
    struct proto_reader r;
    struct proto_frame f;
    protoReaderInit(&r, side);
    size_t fed = 0, frames = 0, at = side == PROTO_SIDE_SERVER ? 8 : 0;
    int rv = ERR_AGAIN;
    while (rv == ERR_AGAIN || rv == 0) {
        if (rv == 0) {
            cr_assert_eq(f.len, (size_t)f.header.words * 8);
            cr_assert_eq(memcmp(f.body, stream->data + at + 8, f.len), 0);
            at += 8 + f.len;
            frames++;
        } else if (fed < stream->len) {
            size_t n = next_chunk(&seed);
            n = n > stream->len - fed ? stream->len - fed : n;
            if (zero_copy) {
                uint8_t *p;
                size_t avail;
                cr_assert_eq(protoReaderReserve(&r, n, &p, &avail), 0);
                memcpy(p, stream->data + fed, n);
                protoReaderCommit(&r, n);
            } else {
                cr_assert_eq(protoReaderFeed(&r, stream->data + fed, n), 0);
            }
            fed += n;
        } else {
            break;
        }
        rv = protoReaderNext(&r, &f);
    }
    cr_assert_eq(frames, want_frames);
    cr_assert_eq(rv, want_end, "reader ended with %d, expected %d", rv,
                 want_end);
    if (rv == ERR_AGAIN) {
        cr_assert_eq(protoReaderBuffered(&r), 0);
    }
    protoReaderClose(&r);
}

static size_t chunkAll(unsigned *seed)
{
    (void)seed;
    return PROTO_READER_CHUNK_MAX;
}

static size_t chunkOne(unsigned *seed)
{
    (void)seed;
    return 1;
}

static size_t chunkRandom(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    unsigned r = (*seed >> 16) & 0x7fff;
    return r % 4 == 0 ? 1 + r % 7 : 1 + r % 300; /* often tiny, always >0 */
}

static void checkStreams(struct conn *c)
{
    const struct buf *streams[2] = {&c->client, &c->server};
    enum proto_side sides[2] = {PROTO_SIDE_SERVER, PROTO_SIDE_CLIENT};
    for (int s = 0; s < 2; s++) {
        if (streams[s]->len == 0) {
            continue;
        }
        runReader(sides[s], streams[s], chunkAll, 0, false);
        runReader(sides[s], streams[s], chunkOne, 0, false);
        for (unsigned seed = 1; seed <= 4; seed++) {
            runReader(sides[s], streams[s], chunkRandom, seed, seed % 2);
        }
        stats.streams++;
    }
}

/* ------------------------------------------------------------ files */

static void connReset(struct conn *c)
{
    bufFree(&c->client);
    bufFree(&c->server);
    memset(c, 0, sizeof *c);
    bufInit(&c->client);
    bufInit(&c->server);
}

static void lineMessage(const char *file, int line, struct conn *c,
                        const char *text)
{
    bool from_client = text[0] == 'C';
    struct buf msg;
    bufInit(&msg);
    cr_assert(c != NULL && c->open, "%s:%d: no open connection", file, line);
    cr_assert(vecHex(text + 3, &msg), "%s:%d: bad hex", file, line);
    cr_assert_eq(
        bufAppend(from_client ? &c->client : &c->server, msg.data, msg.len), 0);
    if (from_client && !c->handshaken) {
        checkHandshake(file, line, c, &msg);
    } else if (from_client) {
        checkRequest(file, line, c, &msg);
    } else {
        checkResponse(file, line, c, &msg);
    }
    stats.messages++;
    bufFree(&msg);
}

static struct conn *lineConn(const char *file, int line, const char *text)
{
    int n;
    char what[32] = "";
    cr_assert(sscanf(text, "@ conn %d %31s", &n, what) >= 1,
              "%s:%d: bad connection line", file, line);
    struct conn *c = connGet(n);
    if (strcmp(what, "open") == 0) {
        cr_assert(!c->open, "%s:%d: reopened", file, line);
        connReset(c);
        c->open = true;
    } else if (strcmp(what, "closed") == 0) {
        cr_assert(c->open && !c->closed, "%s:%d: not open", file, line);
        c->closed = true;
    } else {
        cr_assert(what[0] == '\0', "%s:%d: unknown event", file, line);
    }
    return c;
}

static void runFile(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    cr_assert(f != NULL, "cannot open %s", path);
    char *text = NULL;
    size_t cap = 0;
    ssize_t n;
    int line = 0;
    struct conn *c = NULL;
    while ((n = getline(&text, &cap, f)) >= 0) {
        line++;
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) {
            text[--n] = '\0';
        }
        if (n == 0 || text[0] == '#') {
            continue;
        } else if (text[0] == '@') {
            c = lineConn(name, line, text);
        } else if (strncmp(text, "C> ", 3) == 0 ||
                   strncmp(text, "S< ", 3) == 0) {
            lineMessage(name, line, c, text);
        } else {
            cr_assert_fail("%s:%d: unrecognised line", name, line);
        }
    }
    free(text);
    fclose(f);
    for (int i = 0; i < MAX_CONNS; i++) {
        if (conns[i].open) {
            cr_assert(conns[i].closed, "%s: connection %d never closed", name,
                      i);
            checkStreams(&conns[i]);
            connReset(&conns[i]);
        }
    }
    stats.files++;
}

static int nameCmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The vector files of `dir`, sorted. */
static size_t listFiles(const char *dir, char **names)
{
    DIR *d = opendir(dir);
    cr_assert(d != NULL, "cannot open vector directory %s", dir);
    struct dirent *e;
    size_t n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".txt") == 0) {
            cr_assert(n < MAX_FILES);
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof names[0], nameCmp);
    return n;
}

Test(vectors, every_captured_message_round_trips)
{
    const char *dir = getenv("DQLITE_VECTORS_DIR");
    dir = dir != NULL ? dir : "test/vectors";
    char *names[MAX_FILES];
    size_t n = listFiles(dir, names);
    cr_assert(n > 0, "no vector files in %s", dir);
    for (size_t i = 0; i < n; i++) {
        runFile(dir, names[i]);
        free(names[i]);
    }
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        cr_assert(expected[i].seen, "%s:%d: expected failure not met",
                  expected[i].file, expected[i].line);
    }
    for (int i = 0; i < MAX_CONNS; i++) {
        connReset(&conns[i]);
    }
    cr_assert_eq(stats.messages, stats.exact + stats.padding + stats.refused);
    printf("proto vectors: %d files, %d messages checked (%d byte-identical, "
           "%d identical but for dirty padding (%d requests, %d responses), "
           "%d refused as expected), %d connection streams re-read in "
           "chunks\n",
           stats.files, stats.messages, stats.exact, stats.padding,
           stats.padding_requests, stats.padding - stats.padding_requests,
           stats.refused, stats.streams);
    fflush(stdout);
}

/* ------------------------------------------------------------ batching */

/* A row producer over the rows of captured batches, as a statement's
 * stepping would yield them. */
struct producer {
    struct proto_rows rows[64];
    size_t n_batches;
    size_t batch;
    struct proto_rows_iter it;
};

static bool producerNext(struct producer *p, struct proto_value *row)
{
    while (!protoRowsIterNext(&p->it, row)) {
        if (++p->batch >= p->n_batches) {
            return false;
        }
        protoRowsIterInit(&p->it, &p->rows[p->batch]);
    }
    return true;
}

/* Re-batches the rows of `batches` with the reference's rule: before each
 * step, end the batch with PART once the message (header included) has
 * reached the page size; DONE when the producer is exhausted. */
static size_t rebatch(const struct buf *batches, size_t n_batches,
                      struct buf *out)
{
    static struct producer p;
    cr_assert(n_batches > 0 && n_batches <= 64);
    for (size_t i = 0; i < n_batches; i++) {
        cr_assert_eq(protoRowsDecode(batches[i].data + 8, batches[i].len - 8,
                                     &p.rows[i]),
                     0);
    }
    p.n_batches = n_batches;
    p.batch = 0;
    protoRowsIterInit(&p.it, &p.rows[0]);
    size_t n = (size_t)p.rows[0].n_columns, n_out = 0;
    struct proto_text *names = calloc(n + 1, sizeof *names);
    struct proto_value *row = calloc(n + 1, sizeof *row);
    struct proto_rows_writer w;
    protoRowsNames(&p.rows[0], names);
    bufInit(out);
    cr_assert_eq(protoRowsBegin(&w, out, n, names), 0);
    for (;;) {
        if (protoRowsSize(&w) >= PROTO_ROWS_BATCH_BYTES) {
            cr_assert_eq(protoRowsFinish(&w, false), 0);
            n_out++;
            cr_assert_eq(protoRowsBegin(&w, out, n, names), 0);
        } else if (producerNext(&p, row)) {
            cr_assert_eq(protoRowsAdd(&w, row), 0);
        } else {
            break;
        }
    }
    cr_assert_eq(protoRowsFinish(&w, true), 0);
    free(names);
    free(row);
    return n_out + 1;
}

/* Compares the writer's batches (concatenated in `again`) with the
 * captured ones, padding aside. */
static void compareBatches(const char *file, const struct buf *batches,
                           size_t n_batches, const struct buf *again)
{
    size_t at = 0;
    for (size_t i = 0; i < n_batches; i++) {
        struct proto_response resp;
        struct proto_header h;
        struct buf one;
        frameOf(file, 0, &batches[i], &h);
        cr_assert(again->len - at >= batches[i].len, "%s: batch %zu", file, i);
        bufInit(&one);
        cr_assert_eq(bufAppend(&one, again->data + at, batches[i].len), 0);
        size_t len = batches[i].len - 8;
        cr_assert_eq(
            protoResponseDecode(&h, batches[i].data + 8, len, NULL, &resp), 0);
        bool *mask = calloc(len + 1, 1);
        vecMaskResponse(&resp, batches[i].data + 8, len, mask);
        compareBytes(file, 0, &batches[i], &one, mask);
        free(mask);
        bufFree(&one);
        at += batches[i].len;
    }
    cr_assert_eq(at, again->len, "%s: extra batches", file);
}

static int batchesChecked;

/* Called with every captured result set (its ROWS messages in order). */
static void checkResultSet(const char *file, struct buf *batches, size_t n)
{
    struct buf again;
    size_t n_again = rebatch(batches, n, &again);
    cr_assert_eq(n_again, n, "%s: %zu batches instead of %zu", file, n_again,
                 n);
    compareBatches(file, batches, n, &again);
    bufFree(&again);
    batchesChecked += (int)n;
}

static void batchFile(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    cr_assert(f != NULL);
    static struct buf batches[MAX_CONNS][64];
    static size_t n_batches[MAX_CONNS];
    char *text = NULL;
    size_t cap = 0;
    int conn = 0;
    while (getline(&text, &cap, f) >= 0) {
        if (text[0] == '@') {
            cr_assert(sscanf(text, "@ conn %d", &conn) == 1);
            cr_assert(conn > 0 && conn < MAX_CONNS);
            continue;
        }
        if (strncmp(text, "S< ", 3) != 0) {
            continue;
        }
        struct buf *b = &batches[conn][n_batches[conn]];
        bufInit(b);
        cr_assert(vecHex(text + 3, b));
        if (b->data[4] != PROTO_RESP_ROWS) {
            cr_assert_eq(n_batches[conn], 0, "%s: interleaved", name);
            bufFree(b);
            continue;
        }
        cr_assert(++n_batches[conn] < 64);
        if (byteGet64(b->data + b->len - 8) == PROTO_ROWS_DONE) {
            checkResultSet(name, batches[conn], n_batches[conn]);
            for (size_t i = 0; i < n_batches[conn]; i++) {
                bufFree(&batches[conn][i]);
            }
            n_batches[conn] = 0;
        }
    }
    free(text);
    fclose(f);
}

Test(vectors, rows_writer_batches_like_the_reference)
{
    const char *dir = getenv("DQLITE_VECTORS_DIR");
    dir = dir != NULL ? dir : "test/vectors";
    char *names[MAX_FILES];
    size_t n = listFiles(dir, names);
    cr_assert(n > 0);
    for (size_t i = 0; i < n; i++) {
        batchFile(dir, names[i]);
        free(names[i]);
    }
    cr_assert(batchesChecked >= 28);
    printf("proto vectors: %d ROWS batches re-produced by the rows writer\n",
           batchesChecked);
    fflush(stdout);
}
