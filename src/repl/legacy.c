/*
 * Translation of dqlite 1.11's FSM commands and snapshots into ours (see
 * legacy.h for the layouts and why database sizes are tracked here).
 */
#include "repl/legacy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "repl/command.h"

#define LEGACY_CMD_FORMAT 1
#define LEGACY_CMD_OPEN 1
#define LEGACY_CMD_FRAMES 2
#define LEGACY_CMD_UNDO 3
#define LEGACY_CMD_CHECKPOINT 4
#define LEGACY_SNAP_FORMAT 1
#define LEGACY_WAL_HEADER 32
#define LEGACY_FRAME_HEADER 24

static int legacyWhy(int rv, char *why, size_t why_len, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, why_len, fmt, args);
    va_end(args);
    return rv;
}

void replLegacyInit(struct repl_legacy *l)
{
    memset(l, 0, sizeof *l);
}

void replLegacyClose(struct repl_legacy *l)
{
    for (uint32_t i = 0; i < l->n_dbs; i++) {
        libFree(l->dbs[i].name);
    }
    libFree(l->dbs);
    memset(l, 0, sizeof *l);
}

/* The tracked database `name`, added with 0 pages if new; NULL on ENOMEM. */
static struct repl_legacy_db *legacyDb(struct repl_legacy *l, const char *name)
{
    for (uint32_t i = 0; i < l->n_dbs; i++) {
        if (strcmp(l->dbs[i].name, name) == 0) {
            return &l->dbs[i];
        }
    }
    if (l->n_dbs == REPL_LEGACY_MAX_DBS) {
        return NULL;
    }
    struct repl_legacy_db *dbs =
        libRealloc(l->dbs, sizeof *dbs * (l->n_dbs + 1));
    if (dbs == NULL) {
        return NULL;
    }
    l->dbs = dbs;
    size_t len = strlen(name);
    char *copy = libMalloc(len + 1);
    if (copy == NULL) {
        return NULL;
    }
    memcpy(copy, name, len + 1);
    dbs[l->n_dbs] = (struct repl_legacy_db){copy, 0};
    return &dbs[l->n_dbs++];
}

/* A NUL-terminated name padded to 8 bytes at *off (1..REPL_MAX_NAME). */
static const char *legacyText(const uint8_t *p, size_t n, size_t *off)
{
    const uint8_t *nul = memchr(p + *off, 0, n - *off);
    if (nul == NULL) {
        return NULL;
    }
    size_t len = (size_t)(nul - (p + *off));
    size_t padded = bytePad8(len + 1);
    if (len == 0 || len > REPL_MAX_NAME || padded > n - *off) {
        return NULL;
    }
    const char *s = (const char *)(p + *off);
    *off += padded;
    return s;
}

static bool legacyPageSizeValid(uint32_t ps)
{
    return ps >= 512 && ps <= 65536 && (ps & (ps - 1)) == 0;
}

/* ------------------------------------------------------------ commands */

/* The FRAMES body after the filename, into our FRAMES command. */
static int legacyFrames(struct repl_legacy *l, const char *name,
                        const uint8_t *p, size_t n, struct buf *out, char *why,
                        size_t why_len)
{
    if (n < 24) {
        return legacyWhy(ERR_MALFORMED, why, why_len, "short FRAMES");
    }
    if (p[12] == 0) {
        return legacyWhy(ERR_UNSUPPORTED, why, why_len,
                         "FRAMES without commit (pre-1.0 form)");
    }
    uint32_t n_pages = byteGet32(p + 16);
    uint32_t page_size = byteGet16(p + 20);
    if (n_pages == 0 || n_pages > REPL_MAX_FRAMES ||
        !legacyPageSizeValid(page_size) ||
        (uint64_t)n_pages * (8 + page_size) > n - 24) {
        return legacyWhy(ERR_MALFORMED, why, why_len,
                         "FRAMES of %u pages of %u bytes in %zu bytes", n_pages,
                         page_size, n);
    }
    struct repl_legacy_db *db = legacyDb(l, name);
    struct vfs_txn txn = {page_size, n_pages, 0, NULL, NULL};
    txn.page_numbers = libMalloc(sizeof *txn.page_numbers * n_pages);
    txn.pages = libMalloc(sizeof *txn.pages * n_pages);
    int rv = db == NULL || txn.page_numbers == NULL || txn.pages == NULL
                 ? ERR_NOMEM
                 : 0;
    uint32_t size = db != NULL ? db->n_pages : 0;
    for (uint32_t i = 0; rv == 0 && i < n_pages; i++) {
        uint64_t pgno = byteGet64(p + 24 + 8 * (size_t)i);
        if (pgno == 0 || pgno > UINT32_MAX) {
            rv = legacyWhy(ERR_MALFORMED, why, why_len, "page number %llu",
                           (unsigned long long)pgno);
        }
        txn.page_numbers[i] = (uint32_t)pgno;
        txn.pages[i] = p + 24 + 8 * (size_t)n_pages + (size_t)i * page_size;
        size = (uint32_t)pgno > size ? (uint32_t)pgno : size;
    }
    txn.db_size = size;
    if (rv == 0) {
        rv = replEncodeFrames(out, name, &txn);
    }
    if (rv == 0) {
        db->n_pages = size;
    }
    vfsTxnFree(&txn);
    return rv;
}

int replLegacyCommand(struct repl_legacy *l, const uint8_t *data, size_t len,
                      struct buf *out, bool *noop, char *why, size_t why_len)
{
    PRE(l != NULL && out != NULL && noop != NULL);
    *noop = false;
    if (len < 8 || data[0] != LEGACY_CMD_FORMAT) {
        return legacyWhy(ERR_MALFORMED, why, why_len,
                         "not a dqlite 1.11 command (format %d)",
                         len > 0 ? data[0] : -1);
    }
    size_t off = 8;
    const char *name = NULL;
    switch (data[1]) {
    case LEGACY_CMD_OPEN:
    case LEGACY_CMD_UNDO:
        *noop = true; /* 1.11 applies neither to the databases */
        return 0;
    case LEGACY_CMD_FRAMES:
    case LEGACY_CMD_CHECKPOINT:
        name = legacyText(data, len, &off);
        break;
    default:
        return legacyWhy(ERR_MALFORMED, why, why_len, "command type %u",
                         data[1]);
    }
    if (name == NULL) {
        return legacyWhy(ERR_MALFORMED, why, why_len, "bad database name");
    }
    if (data[1] == LEGACY_CMD_CHECKPOINT) {
        return replEncodeCheckpoint(out, name);
    }
    return legacyFrames(l, name, data + off, len - off, out, why, why_len);
}

/* ------------------------------------------------------------ snapshots */

/* Page size of a database image: main file header, else WAL header. */
static uint32_t legacyImagePageSize(const uint8_t *main, uint64_t main_len,
                                    const uint8_t *wal, uint64_t wal_len)
{
    if (main_len >= 100) {
        uint32_t ps = ((uint32_t)main[16] << 8) | main[17];
        return ps == 1 ? 65536 : ps;
    }
    return wal_len >= LEGACY_WAL_HEADER ? byteGet32Be(wal + 8) : 0;
}

/* Checks one database's image and finds its size in pages. */
static int legacyImage(const uint8_t *main, uint64_t main_len,
                       const uint8_t *wal, uint64_t wal_len, uint32_t *n_pages,
                       char *why, size_t why_len)
{
    uint32_t ps = legacyImagePageSize(main, main_len, wal, wal_len);
    if (!legacyPageSizeValid(ps) || main_len % ps != 0 ||
        main_len / ps > UINT32_MAX) {
        return legacyWhy(ERR_MALFORMED, why, why_len,
                         "database image of %llu bytes, page size %u",
                         (unsigned long long)main_len, ps);
    }
    *n_pages = (uint32_t)(main_len / ps);
    if (wal_len == 0) {
        return 0;
    }
    uint64_t frame = LEGACY_FRAME_HEADER + (uint64_t)ps;
    if (wal_len < LEGACY_WAL_HEADER + frame ||
        (wal_len - LEGACY_WAL_HEADER) % frame != 0) {
        return legacyWhy(ERR_MALFORMED, why, why_len, "WAL of %llu bytes",
                         (unsigned long long)wal_len);
    }
    uint32_t commit = byteGet32Be(wal + wal_len - frame + 4);
    if (commit == 0) {
        return legacyWhy(ERR_MALFORMED, why, why_len,
                         "WAL does not end with a commit");
    }
    *n_pages = commit;
    return 0;
}

/* One database of the 1.11 snapshot at *off, appended to `out`; *kept is
 * false for an empty database (1.11 held no page of it). */
static int legacySnapDb(struct repl_legacy *l, const uint8_t *p, size_t n,
                        size_t *off, struct buf *out, bool *kept, char *why,
                        size_t why_len)
{
    const char *name = legacyText(p, n, off);
    if (name == NULL || n - *off < 16) {
        return legacyWhy(ERR_MALFORMED, why, why_len, "bad database header");
    }
    uint64_t main_len = byteGet64(p + *off);
    uint64_t wal_len = byteGet64(p + *off + 8);
    *off += 16;
    if (main_len > n - *off || wal_len > n - *off - main_len) {
        return legacyWhy(ERR_MALFORMED, why, why_len, "%s: truncated", name);
    }
    const uint8_t *main = p + *off;
    const uint8_t *wal = main + main_len;
    *off += (size_t)(main_len + wal_len);
    *kept = main_len + wal_len > 0;
    if (!*kept) {
        return 0;
    }
    uint32_t n_pages = 0;
    int rv = legacyImage(main, main_len, wal, wal_len, &n_pages, why, why_len);
    struct repl_legacy_db *db = rv == 0 ? legacyDb(l, name) : NULL;
    if (rv == 0 && db == NULL) {
        rv = ERR_NOMEM;
    }
    size_t name_len = strlen(name);
    uint8_t *z;
    if (rv == 0 && (rv = bufAppend32(out, (uint32_t)name_len)) == 0 &&
        (rv = bufAppend32(out, 0)) == 0 &&
        (rv = bufAppendZeros(out, bytePad8(name_len), &z)) == 0) {
        memcpy(z, name, name_len);
        db->n_pages = n_pages;
        rv = bufAppend64(out, main_len);
    }
    if (rv == 0 && (rv = bufAppend64(out, wal_len)) == 0 &&
        (rv = bufAppend(out, main, (size_t)main_len)) == 0) {
        rv = bufAppend(out, wal, (size_t)wal_len);
    }
    return rv;
}

int replLegacySnapshot(struct repl_legacy *l, const uint8_t *data, size_t len,
                       uint64_t index, struct buf *out, char *why,
                       size_t why_len)
{
    PRE(l != NULL && out != NULL && (data != NULL || len == 0));
    if (len < 16 || byteGet64(data) != LEGACY_SNAP_FORMAT ||
        byteGet64(data + 8) > REPL_LEGACY_MAX_DBS) {
        return legacyWhy(ERR_MALFORMED, why, why_len,
                         "not a dqlite 1.11 snapshot (format or count)");
    }
    uint64_t n_dbs = byteGet64(data + 8);
    size_t start = out->len;
    int rv = bufAppend(out, "DQREPLSN", 8);
    if (rv == 0 && (rv = bufAppend32(out, 1)) == 0 &&
        (rv = bufAppend32(out, 0)) == 0) {
        rv = bufAppend64(out, index);
    }
    size_t off = 16;
    uint32_t kept_dbs = 0;
    for (uint64_t i = 0; rv == 0 && i < n_dbs; i++) {
        bool kept;
        rv = legacySnapDb(l, data, len, &off, out, &kept, why, why_len);
        kept_dbs += rv == 0 && kept;
    }
    if (rv == 0 && off != len) {
        rv = legacyWhy(ERR_MALFORMED, why, why_len, "%zu trailing bytes",
                       len - off);
    }
    if (rv != 0) {
        out->len = start;
        return rv;
    }
    bytePut32(out->data + start + 12, kept_dbs);
    return 0;
}
