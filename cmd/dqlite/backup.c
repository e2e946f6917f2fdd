/*
 * .backup FILE: the shell's database as a standalone SQLite file, through
 * the C client's dqlite_client_backup() on the leader (a consistent copy
 * of the pages at one point in time, checked with PRAGMA integrity_check
 * before it replaces FILE). Prints nothing on success, as sqlite3 does.
 */
#include "shell.h"

int shellBackup(struct shell *sh, const char *path)
{
    struct dqlite_client *cli = dotClient(sh, NULL);
    if (cli == NULL) {
        return -1;
    }
    if (dqlite_client_backup(cli, sh->database, path) != 0) {
        shellError("backup failed: %s", dqlite_client_errmsg(cli));
        dqlite_client_close(cli);
        return -1;
    }
    dqlite_client_close(cli);
    return 0;
}
