/*
 * .restore FILE: loading an SQLite file into the cluster is not part of
 * this shell yet. The dot-command's name is reserved (dot.c calls
 * shellRestore) and this placeholder says so; the restore work replaces
 * this file with the real one.
 */
#include "shell.h"

int shellRestore(struct shell *sh, const char *path)
{
    (void)sh;
    (void)path;
    return shellError(".restore is not available in this build");
}
