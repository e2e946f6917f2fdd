/*
 * dqlite_client_backup(): a database of the cluster as a standalone SQLite
 * file. The pages come from BACKUP (extension request 64): the node streams
 * the database's pages at one commit in chunks, each written to a temporary
 * file beside the destination as it arrives, so memory stays at one chunk
 * whatever the database's size. A node without BACKUP (go-dqlite's, the
 * reference's) answers "unrecognized request type"; the pages then come
 * from DUMP (the main file and its WAL, whole in memory). SQLite then
 * switches the copy to a rollback journal (folding a dumped WAL in) and
 * checks it (integrity_check); only then is it flushed and renamed to the
 * destination. Any failure removes the temporary files; the cluster is
 * only read.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

#define BACKUP_PATH_MAX 4096

/* The temporary files beside the destination. */
struct backup_paths {
    char main[BACKUP_PATH_MAX];
    char wal[BACKUP_PATH_MAX + 8];
    char journal[BACKUP_PATH_MAX + 8];
    char shm[BACKUP_PATH_MAX + 8];
};

static void backupUnlink(const struct backup_paths *p)
{
    unlink(p->main);
    unlink(p->wal);
    unlink(p->journal);
    unlink(p->shm);
}

/* Writes `size` bytes into a new file `path` (0600), flushed. 0 or an
 * errno value. */
static int backupWrite(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno;
    }
    return clientWriteAllClose(fd, data, size);
}

/* The main file and the WAL of a FILES answer into the temporary files. */
static int backupWriteFiles(struct client_err *e, const struct proto_files *f,
                            const struct backup_paths *p, const char *path)
{
    struct proto_files_iter it;
    struct proto_file file;
    unsigned i = 0;
    protoFilesIterInit(&it, f);
    while (protoFilesIterNext(&it, &file)) {
        /* DUMP sends the main file first, then the WAL. */
        const char *dst = i == 0 ? p->main : p->wal;
        if (i > 1) {
            return clientErrSet(e, ERR_CLIENT_PROTO, "unexpected file %s",
                                file.name.data);
        }
        i++;
        if (i == 2 && file.size == 0) {
            continue;
        }
        int err = backupWrite(dst, file.data, file.size);
        if (err != 0) {
            return clientErrSet(e, ERR_IO, "cannot write %s: %s", path,
                                strerror(err));
        }
    }
    if (i == 0) {
        return clientErrSet(e, ERR_CLIENT_PROTO, "no file in the dump");
    }
    return 0;
}

/* The first column of a one-row statement equals `want`. */
static bool backupPragma(sqlite3 *db, const char *sql, const char *want,
                         char *got, size_t size)
{
    sqlite3_stmt *stmt = NULL;
    bool ok = false;
    snprintf(got, size, "%s", "no answer");
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        snprintf(got, size, "%s", sqlite3_errmsg(db));
        return false;
    }
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        snprintf(got, size, "%s", text != NULL ? text : "NULL");
        ok = strcmp(got, want) == 0 && sqlite3_step(stmt) == SQLITE_DONE;
    } else {
        snprintf(got, size, "%s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(stmt);
    return ok;
}

/* SQLite folds the WAL into the main file and checks the result. */
static int backupFinish(struct client_err *e, const struct backup_paths *p,
                        const char *path)
{
    sqlite3 *db = NULL;
    char got[256];
    int rv = 0;
    if (sqlite3_open_v2(p->main, &db, SQLITE_OPEN_READWRITE, NULL) !=
        SQLITE_OK) {
        rv = clientErrSet(e, ERR_IO, "cannot open the copy of %s: %s", path,
                          db != NULL ? sqlite3_errmsg(db) : "out of memory");
    } else if (!backupPragma(db, "PRAGMA journal_mode=DELETE", "delete", got,
                             sizeof got)) {
        rv = clientErrSet(e, ERR_IO, "cannot write %s: %s", path, got);
    } else if (!backupPragma(db, "PRAGMA integrity_check", "ok", got,
                             sizeof got)) {
        rv = clientErrSet(e, ERR_IO, "the copy for %s is corrupt: %s", path,
                          got);
    }
    if (sqlite3_close(db) != SQLITE_OK && rv == 0) {
        rv = clientErrSet(e, ERR_IO, "cannot close the copy of %s", path);
    }
    return rv;
}

/* Flushes the file and its directory after the rename. */
static int backupSync(const char *path)
{
    char dir[BACKUP_PATH_MAX];
    int err = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        err = errno;
    }
    if (fd >= 0) {
        close(fd);
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else {
        slash[slash == dir ? 1 : 0] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        if (fsync(fd) != 0 && err == 0) {
            err = errno;
        }
        close(fd);
    }
    return err;
}

static int backupPaths(struct client_err *e, const char *path,
                       struct backup_paths *p)
{
    if (path[0] == '\0' || snprintf(p->main, sizeof p->main, "%s.backup-tmp",
                                    path) >= (int)sizeof p->main) {
        return clientErrSet(e, ERR_MISUSE, "bad backup path");
    }
    snprintf(p->wal, sizeof p->wal, "%s-wal", p->main);
    snprintf(p->journal, sizeof p->journal, "%s-journal", p->main);
    snprintf(p->shm, sizeof p->shm, "%s-shm", p->main);
    return 0;
}

/* Writes all of `data` at the end of `fd`: 0 or an errno value. */
static int backupAppend(int fd, const uint8_t *data, size_t size)
{
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno;
        }
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

/* Whether a chunk follows the previous ones: same page size and total,
 * starting where they ended. */
static bool backupChunkFits(const struct proto_backup *c,
                            const struct proto_backup *first, uint64_t next)
{
    return c->page_size == first->page_size && c->n_pages == first->n_pages &&
           c->first == next && (c->count > 0 || c->first == c->n_pages);
}

/* Streams the BACKUP chunks (the first one is in the client's answer)
 * into the temporary main file. */
static int backupStream(struct dqlite_client *client, struct client_err *e,
                        const struct backup_paths *p, const char *path)
{
    const struct proto_backup *chunk = &clientClusterResp(client)->backup;
    struct proto_backup first = *chunk;
    uint64_t next = 0;
    int rv = 0;
    int fd = open(p->main, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return clientErrSet(e, ERR_IO, "cannot write %s: %s", path,
                            strerror(errno));
    }
    for (;;) {
        if (!backupChunkFits(chunk, &first, next)) {
            rv = clientErrSet(e, ERR_CLIENT_PROTO, "backup chunk out of order");
            break;
        }
        int err = backupAppend(fd, chunk->data,
                               (size_t)(chunk->count * chunk->page_size));
        if (err != 0) {
            rv = clientErrSet(e, ERR_IO, "cannot write %s: %s", path,
                              strerror(err));
            break;
        }
        next += chunk->count;
        if (next == first.n_pages) {
            break;
        }
        rv = clientClusterNext(client, PROTO_RESP_BACKUP);
        if (rv != 0) {
            break;
        }
        chunk = &clientClusterResp(client)->backup;
    }
    if (rv == 0 && fsync(fd) != 0) {
        rv = clientErrSet(e, ERR_IO, "cannot write %s: %s", path,
                          strerror(errno));
    }
    close(fd);
    if (rv != 0 && next < first.n_pages) {
        clientClusterReset(client); /* the rest of the stream is unread */
    }
    return rv;
}

/* Whether the node does not know BACKUP (FAILURE 1005, DQLITE_PARSE). */
static bool backupUnknown(struct dqlite_client *client)
{
    const struct proto_response *r = clientClusterResp(client);
    return r->type == PROTO_RESP_FAILURE && r->failure.code == 1005;
}

/* The pages as DUMP gives them: the main file and its WAL. */
static int backupFromDump(struct dqlite_client *client, struct client_err *e,
                          const char *name, const struct backup_paths *p,
                          const char *path)
{
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_DUMP);
    req.dump.name = protoText(name);
    int rv = clientClusterCall(client, &req, PROTO_RESP_FILES);
    if (rv != 0) {
        return rv;
    }
    return backupWriteFiles(e, &clientClusterResp(client)->files, p, path);
}

DQLITE_API int dqlite_client_backup(struct dqlite_client *client,
                                    const char *name, const char *path)
{
    struct proto_request req;
    struct backup_paths p;
    struct client_err *e;
    int rv;
    if (client == NULL || name == NULL || path == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    e = clientClusterErr(client);
    rv = backupPaths(e, path, &p);
    if (rv != 0) {
        return clientErrPublic(rv);
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* The copy replaces `path` by a rename: never a device or a
         * directory. */
        return clientErrPublic(clientErrSet(
            e, ERR_IO, "cannot write %s: not a regular file", path));
    }
    backupUnlink(&p); /* leftovers of an interrupted backup */
    protoRequestInit(&req, PROTO_REQ_BACKUP);
    req.backup.name = protoText(name);
    rv = clientClusterCall(client, &req, PROTO_RESP_BACKUP);
    if (rv == 0) {
        rv = backupStream(client, e, &p, path);
    } else if (backupUnknown(client)) {
        rv = backupFromDump(client, e, name, &p, path);
    }
    if (rv == 0) {
        rv = backupFinish(e, &p, path);
    }
    if (rv == 0 && rename(p.main, path) != 0) {
        rv = clientErrSet(e, ERR_IO, "cannot write %s: %s", path,
                          strerror(errno));
    }
    if (rv == 0) {
        int err = backupSync(path);
        rv = err != 0 ? clientErrSet(e, ERR_IO, "cannot write %s: %s", path,
                                     strerror(err))
                      : 0;
    }
    backupUnlink(&p);
    return clientErrPublic(rv);
}
