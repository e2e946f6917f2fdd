/*
 * dqlite_client_backup(): a database of the cluster as a standalone SQLite
 * file. The pages come from DUMP (one VFS snapshot on the node: the main
 * file and the committed WAL frames at one point in time); they are written
 * next to the destination under a temporary name, SQLite folds the WAL in
 * (journal_mode=DELETE) and checks the result (integrity_check), and only
 * then is the file flushed and renamed to the destination. Any failure
 * removes the temporary files; the cluster is only read.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    int err = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno;
    }
    while (size > 0 && err == 0) {
        ssize_t n = write(fd, data, size);
        if (n < 0) {
            err = errno == EINTR ? 0 : errno;
            continue;
        }
        data += n;
        size -= (size_t)n;
    }
    if (err == 0 && fsync(fd) != 0) {
        err = errno;
    }
    if (close(fd) != 0 && err == 0) {
        err = errno;
    }
    return err;
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
    fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
    protoRequestInit(&req, PROTO_REQ_DUMP);
    req.dump.name = protoText(name);
    rv = clientClusterCall(client, &req, PROTO_RESP_FILES);
    if (rv != 0) {
        return clientErrPublic(rv);
    }
    backupUnlink(&p); /* leftovers of an interrupted backup */
    rv = backupWriteFiles(e, &clientClusterResp(client)->files, &p, path);
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
