/*
 * Pure decoders of dqlite 1.11's raft files (canonical/raft's uv format,
 * docs/disk-format.md §5.1): file names, metadata, segment batches,
 * configurations, snapshot .meta files and (LZ4-framed) snapshot data.
 * Every length is bounded by the input before it is used; no I/O here, so
 * test/fuzz/raftio_legacy.c drives these directly.
 */
#include <lz4frame.h>
#include <pthread.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "raftio/legacy.h"
#include "raftio/snapshot.h"

/* ------------------------------------------------------------ names */

/* Reads decimal digits at *p (at least one, at most 20, no overflow). */
static bool legacyDigits(const char **p, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        unsigned d = (unsigned)(s[n] - '0');
        if (n == 20 || v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
        n++;
    }
    *p = s + n;
    *out = v;
    return n > 0;
}

static bool legacySnapName(const char *s, struct legacy_name *out)
{
    if (strncmp(s, "snapshot-", 9) != 0) {
        return false;
    }
    s += 9;
    if (!legacyDigits(&s, &out->a) || *s++ != '-' ||
        !legacyDigits(&s, &out->b) || *s++ != '-' ||
        !legacyDigits(&s, &out->c)) {
        return false;
    }
    if (*s == '\0') {
        out->kind = LEGACY_SNAP_DATA;
        return true;
    }
    if (strcmp(s, ".meta") == 0) {
        out->kind = LEGACY_SNAP_META;
        return true;
    }
    return false;
}

void legacyNameParse(const char *name, struct legacy_name *out)
{
    PRE(name != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    const char *s = name;
    if (strcmp(name, "metadata1") == 0 || strcmp(name, "metadata2") == 0) {
        out->kind = LEGACY_METADATA;
        out->a = (uint64_t)(name[8] - '0');
    } else if (strncmp(name, "open-", 5) == 0) {
        s += 5;
        if (legacyDigits(&s, &out->a) && *s == '\0') {
            out->kind = LEGACY_OPEN;
        }
    } else if (legacySnapName(name, out)) {
        return;
    } else if (legacyDigits(&s, &out->a) && *s++ == '-' &&
               legacyDigits(&s, &out->b) && *s == '\0') {
        out->kind = LEGACY_CLOSED;
    }
    if (out->kind == LEGACY_NONE) {
        memset(out, 0, sizeof *out);
    }
}

/* ------------------------------------------------------------ checksum */

static uint32_t legacy_crc_table[256];
static pthread_once_t legacy_crc_once = PTHREAD_ONCE_INIT;

static void legacyCrcInit(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i << 24;
        for (int k = 0; k < 8; k++) {
            c = (c & 0x80000000u) ? (c << 1) ^ 0x04C11DB7u : c << 1;
        }
        legacy_crc_table[i] = c;
    }
}

uint32_t legacyCrc32(const void *buf, size_t n, uint32_t crc)
{
    pthread_once(&legacy_crc_once, legacyCrcInit);
    const uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) {
        crc = (crc << 8) ^ legacy_crc_table[((crc >> 24) ^ p[i]) & 0xff];
    }
    return crc;
}

/* ------------------------------------------------------------ metadata */

int legacyMetaDecode(const uint8_t *p, size_t n, uint64_t *version,
                     uint64_t *term, uint64_t *vote)
{
    *version = *term = *vote = 0;
    if (n < LEGACY_META_SIZE) {
        return 0; /* cut while being written: raft treats it as absent */
    }
    if (byteGet64(p) != LEGACY_FORMAT || byteGet64(p + 8) == 0) {
        return ERR_MALFORMED;
    }
    *version = byteGet64(p + 8);
    *term = byteGet64(p + 16);
    *vote = byteGet64(p + 24);
    return 0;
}

/* ------------------------------------------------------------ configuration */

static int legacyRole(uint8_t role)
{
    switch (role) {
    case 0:
        return RAFT_STANDBY;
    case 1:
        return RAFT_VOTER;
    case 2:
        return RAFT_SPARE;
    default:
        return -1;
    }
}

static int legacyConfServer(const uint8_t *p, size_t n, size_t *off,
                            struct raft_configuration *c)
{
    if (n - *off < 8) {
        return ERR_MALFORMED;
    }
    uint64_t id = byteGet64(p + *off);
    *off += 8;
    const uint8_t *nul = memchr(p + *off, 0, n - *off);
    if (nul == NULL || id == 0 || nul == p + *off ||
        (size_t)(nul - (p + *off)) > RAFT_ADDRESS_MAX ||
        (size_t)(nul - p) + 1 >= n) {
        return ERR_MALFORMED;
    }
    const char *address = (const char *)(p + *off);
    *off = (size_t)(nul - p) + 1;
    int role = legacyRole(p[(*off)++]);
    if (role < 0) {
        return ERR_MALFORMED;
    }
    int rv = raftConfAdd(c, id, address, role);
    return rv == ERR_NOMEM ? rv : (rv != 0 ? ERR_MALFORMED : 0);
}

int legacyConfDecode(const uint8_t *p, size_t n, struct raft_configuration *c)
{
    PRE(p != NULL || n == 0);
    if (n < 9 || p[0] != 1) {
        return ERR_MALFORMED;
    }
    uint64_t count = byteGet64(p + 1);
    if (count == 0 || count > RAFT_CONF_MAX_SERVERS) {
        return ERR_MALFORMED;
    }
    raftConfInit(c);
    size_t off = 9;
    for (uint64_t i = 0; i < count; i++) {
        int rv = legacyConfServer(p, n, &off, c);
        if (rv != 0) {
            raftConfClose(c);
            return rv;
        }
    }
    POST(c->n == count);
    return 0;
}

/* ------------------------------------------------------------ snapshots */

int legacySnapMetaDecode(const uint8_t *p, size_t n, uint64_t *conf_index,
                         const uint8_t **conf, size_t *conf_len)
{
    if (n < LEGACY_SNAP_META_HEADER || byteGet64(p) != LEGACY_FORMAT) {
        return ERR_MALFORMED;
    }
    uint64_t len = byteGet64(p + 24);
    if (len == 0 || len > LEGACY_CONF_MAX_BYTES ||
        len > n - LEGACY_SNAP_META_HEADER) {
        return ERR_MALFORMED;
    }
    uint32_t crc = legacyCrc32(p + 16, 16, 0);
    crc = legacyCrc32(p + LEGACY_SNAP_META_HEADER, (size_t)len, crc);
    if ((uint32_t)byteGet64(p + 8) != crc) {
        return ERR_MALFORMED;
    }
    *conf_index = byteGet64(p + 16);
    *conf = p + LEGACY_SNAP_META_HEADER;
    *conf_len = (size_t)len;
    return 0;
}

static bool legacyIsLz4Frame(const uint8_t *p, size_t n)
{
    return n >= 4 && byteGet32(p) == 0x184D2204u;
}

/* Decompresses a whole LZ4 frame, bounded by SNAPSHOT_DATA_MAX. */
static int legacyLz4(const uint8_t *p, size_t n, struct buf *out)
{
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
        return ERR_NOMEM;
    }
    size_t in_off = 0;
    size_t hint = 1;
    int rv = 0;
    while (hint != 0 && rv == 0) {
        if (in_off == n || out->len >= SNAPSHOT_DATA_MAX) {
            rv = ERR_MALFORMED; /* truncated frame, or too big */
            break;
        }
        rv = bufReserve(out, (size_t)1 << 20);
        if (rv != 0) {
            break;
        }
        size_t dst_len = out->cap - out->len;
        size_t src_len = n - in_off;
        hint = LZ4F_decompress(dctx, out->data + out->len, &dst_len, p + in_off,
                               &src_len, NULL);
        if (LZ4F_isError(hint) || (dst_len == 0 && src_len == 0)) {
            rv = ERR_MALFORMED;
            break;
        }
        out->len += dst_len;
        in_off += src_len;
    }
    LZ4F_freeDecompressionContext(dctx);
    return rv;
}

int legacySnapDataDecode(const uint8_t *p, size_t n, uint8_t **data,
                         size_t *len)
{
    struct buf b;
    bufInit(&b);
    b.limit = (size_t)SNAPSHOT_DATA_MAX + ((size_t)1 << 20);
    int rv = legacyIsLz4Frame(p, n) ? legacyLz4(p, n, &b) : bufAppend(&b, p, n);
    if (rv != 0) {
        bufFree(&b);
        return rv;
    }
    *data = bufDetach(&b, len);
    if (*data == NULL && *len == 0) {
        *data = libMalloc(1); /* an empty state: still a buffer to free */
        if (*data == NULL) {
            return ERR_NOMEM;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ segments */

/* Checks and decodes the batch at `off`: 0 and *end past it, ERR_MALFORMED
 * (any damage, including a zero count: unwritten space), ERR_NOMEM. */
static int legacyBatch(const uint8_t *file, size_t n, size_t off,
                       struct buf *entries, size_t *end)
{
    if (n - off < 16) {
        return ERR_MALFORMED;
    }
    uint64_t count = byteGet64(file + off + 8);
    if (count == 0 || count > (n - off - 16) / 16) {
        return ERR_MALFORMED;
    }
    size_t header_len = 8 + 16 * (size_t)count;
    const uint8_t *header = file + off + 8;
    if (legacyCrc32(header, header_len, 0) != byteGet32(file + off)) {
        return ERR_MALFORMED;
    }
    size_t data_off = off + 8 + header_len;
    size_t data_len = 0;
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *h = header + 8 + 16 * i;
        struct legacy_entry e = {byteGet64(h), h[8], byteGet32(h + 12), NULL};
        if (e.type < RAFT_COMMAND || e.type > RAFT_CHANGE || e.len % 8 != 0 ||
            e.len > n - data_off - data_len) {
            return ERR_MALFORMED;
        }
        e.data = file + data_off + data_len;
        data_len += e.len;
        int rv = bufAppend(entries, &e, sizeof e);
        if (rv != 0) {
            return rv;
        }
    }
    if (legacyCrc32(file + data_off, data_len, 0) !=
        byteGet32(file + off + 4)) {
        return ERR_MALFORMED;
    }
    *end = data_off + data_len;
    return 0;
}

int legacySegmentDecode(const uint8_t *file, size_t n, bool closed,
                        struct legacy_entry **entries, size_t *n_entries,
                        size_t *bad_offset)
{
    struct buf b;
    bufInit(&b);
    *entries = NULL;
    *n_entries = 0;
    *bad_offset = n;
    if (n < 8 || byteGet64(file) != LEGACY_FORMAT) {
        *bad_offset = 0;
        return ERR_MALFORMED;
    }
    size_t off = 8;
    while (off < n) {
        size_t kept = b.len;
        size_t end;
        int rv = legacyBatch(file, n, off, &b, &end);
        if (rv == ERR_NOMEM || (rv != 0 && closed)) {
            bufFree(&b);
            *bad_offset = off;
            return rv;
        }
        if (rv != 0) {
            b.len = kept; /* open segment: the rest was never acknowledged */
            *bad_offset = off;
            break;
        }
        off = end;
    }
    size_t len;
    *entries = (struct legacy_entry *)bufDetach(&b, &len);
    *n_entries = len / sizeof **entries;
    return 0;
}
