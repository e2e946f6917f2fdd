/*
 * BACKUP (extension request 64): one database as the pages of a standalone
 * SQLite file, streamed in BACKUP chunks (response 64) of about
 * GATEWAY_BACKUP_CHUNK_BYTES, for online backups of any size with bounded
 * memory (docs/protocol.md, "Extensions", docs/backup.md).
 *
 * The database is frozen with a VFS snapshot (a short pause; pages shared
 * copy-on-write, so writers go on and only the pages they change while the
 * backup runs are copied). The snapshot holds the main file and the
 * committed WAL frames of one point in time, which is one commit: the
 * backup's page i is the last WAL frame of page i, else the main file's,
 * for the database size the last commit frame records. A map of page
 * number to frame (4 bytes a page) is built once; each chunk is then
 * encoded from the shared pages on the loop thread when the previous one
 * has been written, so at most one chunk sits in the output buffer.
 *
 * As DUMP: on the leader the snapshot waits for the read gate (a
 * read-index round, or a barrier), so the backup holds every write
 * acknowledged before it was asked for; a follower backs up its own copy.
 * A connection closed mid-stream releases the snapshot (gatewayFreeBuffers).
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "proto/cursor.h"
#include "server/conn.h"
#include "server/gateway_internal.h"
#include "server/node.h"
#include "vfs/vfs.h"

/* The page size of a database that holds no page yet: nothing is sent
 * but a valid chunk header. */
#define BACKUP_EMPTY_PAGE_SIZE 4096

struct gateway_backup {
    struct vfs_snapshot *snap;
    const struct vfs_snapshot_db *db;
    uint32_t page_size;
    uint32_t n_pages;
    uint32_t next;   /* first page of the next chunk (0-based) */
    uint32_t *frame; /* per page: 1 + its last WAL frame, 0: main file */
};

void gatewayBackupFree(struct gateway *g)
{
    struct gateway_backup *b = g->backup;
    if (b == NULL) {
        return;
    }
    if (b->snap != NULL) {
        vfsSnapshotRelease(b->snap);
    }
    libFree(b->frame);
    libFree(b);
    g->backup = NULL;
}

/* The database size and page size as a reader sees them: the last commit
 * frame's size field (bytes 4-7 of a frame header, SQLite's WAL format),
 * else the main file's pages. */
static void backupSize(struct gateway_backup *b)
{
    const struct vfs_snapshot_db *d = b->db;
    b->page_size = d->page_size;
    b->n_pages = d->n_pages;
    if (d->n_frames > 0) {
        const uint8_t *last = d->frames[d->n_frames - 1]->data;
        ASSERT(byteGet32Be(last + 4) != 0); /* only committed frames */
        b->page_size = d->wal_page_size;
        b->n_pages = byteGet32Be(last + 4);
    }
    if (b->page_size == 0) {
        ASSERT(b->n_pages == 0);
        b->page_size = BACKUP_EMPTY_PAGE_SIZE;
    }
}

/* Db thread: the snapshot, its size and the page map. */
static void backupWork(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    struct gateway_backup *b = libCalloc(1, sizeof *b);
    const char *name = g->req.backup.name.data;
    int rv;
    g->rc = SQLITE_OK;
    if (b == NULL) {
        gatewaySetError(g, SQLITE_NOMEM, errString(ERR_NOMEM));
        return;
    }
    g->backup = b;
    rv = vfsSnapshotAcquire(gatewayNode(g)->replica.vfs, name, &b->snap);
    if (rv == ERR_NOTFOUND) {
        gatewaySetError(g, GATEWAY_ERR_NOTFOUND, "database does not exist");
        return;
    }
    if (rv != 0) {
        gatewaySetError(g, SQLITE_IOERR, errString(rv));
        return;
    }
    ASSERT(b->snap->n_dbs == 1);
    b->db = &b->snap->dbs[0];
    backupSize(b);
    b->frame = libCalloc((size_t)b->n_pages + 1, sizeof *b->frame);
    if (b->frame == NULL) {
        gatewaySetError(g, SQLITE_NOMEM, errString(ERR_NOMEM));
        return;
    }
    for (uint32_t i = 0; i < b->db->n_frames; i++) {
        uint32_t pgno = byteGet32Be(b->db->frames[i]->data);
        if (pgno >= 1 && pgno <= b->n_pages) {
            b->frame[pgno - 1] = i + 1; /* a later frame wins */
        }
    }
}

/* Page `i` (0-based) of the backup. */
static const uint8_t *backupPage(const struct gateway_backup *b, uint32_t i)
{
    static const uint8_t zeros[PROTO_BACKUP_PAGE_MAX];
    if (b->frame[i] != 0) {
        return b->db->frames[b->frame[i] - 1]->data + VFS_FRAME_HDR_SIZE;
    }
    /* Pages past the main file's end that no frame wrote cannot be read
     * by SQLite; zeros keep the file's length right. */
    return i < b->db->n_pages ? b->db->pages[i]->data : zeros;
}

/* The next chunk into g->out. */
static int backupEncodeChunk(struct gateway *g)
{
    struct gateway_backup *b = g->backup;
    uint32_t per_chunk = GATEWAY_BACKUP_CHUNK_BYTES / b->page_size;
    uint32_t count = b->n_pages - b->next;
    struct proto_enc e;
    PRE(b->next <= b->n_pages && per_chunk > 0);
    count = count < per_chunk ? count : per_chunk;
    bufReset(&g->out);
    protoEncBegin(&e, &g->out, PROTO_RESP_BACKUP, 0);
    protoEncU64(&e, b->page_size);
    protoEncU64(&e, b->n_pages);
    protoEncU64(&e, b->next);
    protoEncU64(&e, count);
    for (uint32_t i = b->next; i < b->next + count; i++) {
        protoEncBytes(&e, backupPage(b, i), b->page_size);
    }
    b->next += count;
    return protoEncEnd(&e);
}

static void backupOnWritten(struct conn *c, int status)
{
    struct gateway *g = &c->gateway;
    ASSERT(g->stage == GATEWAY_WRITING && g->backup != NULL);
    if (status == 0 && g->backup->next < g->backup->n_pages) {
        if (backupEncodeChunk(g) != 0) {
            connClose(c); /* mid-stream: no answer can follow */
            return;
        }
        gatewayWrite(g, backupOnWritten);
        return;
    }
    gatewayBackupFree(g);
    g->stage = GATEWAY_IDLE;
    connRequestDone(c);
}

static void backupDone(struct worker_job *job)
{
    struct gateway *g = GATEWAY_OF(job, job);
    if (gatewayIsError(g)) {
        gatewayBackupFree(g);
        gatewayFailSaved(g);
        return;
    }
    int rv = backupEncodeChunk(g); /* the first, maybe the only one */
    if (rv != 0) {
        gatewayBackupFree(g);
        gatewayFailure(g, SQLITE_NOMEM, errString(rv));
        return;
    }
    gatewayWrite(g, backupOnWritten);
}

void gatewayBackup(struct gateway *g)
{
    const struct proto_text name = g->req.backup.name;
    PRE(g->backup == NULL);
    if (g->req.backup.flags != 0) {
        gatewayFailure(g, GATEWAY_ERR_PARSE, "unknown backup flags");
        return;
    }
    if (name.len == 0 || name.len > VFS_MAX_NAME) {
        gatewayFailure(g, GATEWAY_ERR_NOTFOUND, "database does not exist");
        return;
    }
    gatewayRunGated(g, backupWork, backupDone);
}
