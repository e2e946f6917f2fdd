/*
 * .restore FILE [DB] [--force]: loads a SQLite file into the cluster as
 * database DB (the shell's database by default) through the C client's
 * dqlite_client_load() (docs/restore.md), with progress on a terminal.
 * Refused before anything is sent: a FILE with a non-empty FILE-wal beside
 * it (its last commits would be lost: checkpoint it first). A load lost to
 * a leader change is started again on the new leader, up to
 * RESTORE_ATTEMPTS times in all.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shell.h"

struct restore_progress {
    bool tty;
    int last_percent;
};

static int restoreProgress(void *arg, uint64_t done, uint64_t total)
{
    struct restore_progress *p = arg;
    int percent = total == 0 ? 100 : (int)(done * 100 / total);
    if (p->tty && percent != p->last_percent) {
        fprintf(stderr, "\rrestore: %3d%% (%llu of %llu bytes)", percent,
                (unsigned long long)done, (unsigned long long)total);
        fflush(stderr);
        p->last_percent = percent;
    }
    return 0;
}

/* A WAL beside `path` holding frames: the file alone is not the database. */
static bool restoreHasWal(const char *path)
{
    char wal[4096];
    struct stat st;
    if (snprintf(wal, sizeof wal, "%s-wal", path) >= (int)sizeof wal) {
        return false;
    }
    return stat(wal, &st) == 0 && st.st_size > 0;
}

/* Loads lost to a leader change are started again this many times in all. */
#define RESTORE_ATTEMPTS 3

/* Whether the load failed because the leader changed (or went away): the
 * cluster then dropped every part (docs/restore.md), so it can start over. */
static bool restoreLeaderChanged(struct dqlite_client *cli, int rv)
{
    uint64_t code = dqlite_client_errcode(cli);
    return rv == DQLITE_CLIENT_IOERR || code == DQLITE_CLIENT_CODE_NOT_LEADER ||
           code == DQLITE_CLIENT_CODE_LEADERSHIP_LOST ||
           (rv != DQLITE_CLIENT_OK &&
            strstr(dqlite_client_errmsg(cli), "abandoned") != NULL);
}

int shellRestore(struct shell *sh, int argc, char *argv[])
{
    const char *path = NULL;
    const char *db = NULL;
    int flags = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0) {
            flags |= DQLITE_LOAD_FORCE;
        } else if (path == NULL) {
            path = argv[i];
        } else if (db == NULL) {
            db = argv[i];
        } else {
            return shellError("usage: .restore FILE [DB] [--force]");
        }
    }
    if (path == NULL) {
        return shellError("usage: .restore FILE [DB] [--force]");
    }
    db = db != NULL ? db : sh->database;
    if (db == NULL) {
        return shellError("no database: name one (.restore FILE DB)");
    }
    if (access(path, R_OK) != 0) {
        return shellError("cannot read %s: %s", path, strerror(errno));
    }
    if (restoreHasWal(path)) {
        return shellError("%s-wal is not empty: checkpoint %s first (sqlite3 "
                          "%s 'PRAGMA wal_checkpoint(TRUNCATE)')",
                          path, path, path);
    }
    for (int attempt = 1;; attempt++) {
        struct dqlite_client *cli = dotClient(sh, NULL);
        if (cli == NULL) {
            return -1;
        }
        struct restore_progress p = {isatty(STDERR_FILENO) == 1, -1};
        int rv = dqlite_client_load(cli, db, path, flags, restoreProgress, &p);
        if (p.tty && p.last_percent >= 0) {
            fputc('\n', stderr);
        }
        if (rv == 0) {
            dqlite_client_close(cli);
            return 0;
        }
        if (attempt < RESTORE_ATTEMPTS && restoreLeaderChanged(cli, rv)) {
            /* The cluster dropped the whole load: start it again. */
            fprintf(stderr,
                    "restore: %s; starting again on the new leader "
                    "(attempt %d of %d)\n",
                    dqlite_client_errmsg(cli), attempt + 1, RESTORE_ATTEMPTS);
            dqlite_client_close(cli);
            continue;
        }
        shellError("restore failed: %s", dqlite_client_errmsg(cli));
        dqlite_client_close(cli);
        return -1;
    }
}
