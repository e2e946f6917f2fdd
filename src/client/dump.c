/*
 * DUMP through the cluster client: the database file and its WAL, copied
 * out of the FILES answer into memory the caller owns, or written into a
 * directory (each file through a temporary name, flushed, then renamed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"

DQLITE_API void dqlite_file_free(struct dqlite_file *files, unsigned n)
{
    unsigned i;
    if (files == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        libFree(files[i].name);
        libFree(files[i].data);
    }
    libFree(files);
}

/* Copies the files of a decoded FILES answer. */
static int dumpCopy(const struct proto_files *src, struct dqlite_file **out,
                    unsigned *n)
{
    struct proto_files_iter it;
    struct proto_file f;
    struct dqlite_file *files = libCalloc(src->count + 1, sizeof *files);
    unsigned i = 0;
    if (files == NULL) {
        return ERR_NOMEM;
    }
    protoFilesIterInit(&it, src);
    while (protoFilesIterNext(&it, &f)) {
        ASSERT(i < src->count);
        files[i].name = libStrdup(f.name.data);
        files[i].data = libMalloc(f.size > 0 ? f.size : 1);
        files[i].size = f.size;
        i++;
        if (files[i - 1].name == NULL || files[i - 1].data == NULL) {
            dqlite_file_free(files, i);
            return ERR_NOMEM;
        }
        memcpy(files[i - 1].data, f.data, f.size);
    }
    *out = files;
    *n = i;
    return 0;
}

DQLITE_API int dqlite_client_dump(struct dqlite_client *client,
                                  const char *name, struct dqlite_file **files,
                                  unsigned *n)
{
    struct proto_request req;
    int rv;
    if (client == NULL || name == NULL || files == NULL || n == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    protoRequestInit(&req, PROTO_REQ_DUMP);
    req.dump.name = protoText(name);
    rv = clientClusterCall(client, &req, PROTO_RESP_FILES);
    if (rv == 0) {
        rv = dumpCopy(&clientClusterResp(client)->files, files, n);
    }
    return clientErrPublic(rv);
}

/* Longest path dqlite_client_dump_to_dir() builds. */
#define DUMP_PATH_MAX 4096

/* Writes all of `data` to `fd`, flushes it to disk and closes `fd`.
 * Returns 0 or an errno value. Shared with backup.c. */
int clientWriteAllClose(int fd, const void *bytes, size_t size)
{
    const char *data = bytes;
    int err = 0;
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

/* A file name the server sent that stays inside the directory. */
static bool dumpNameOk(const char *name)
{
    return name[0] != '\0' && strchr(name, '/') == NULL &&
           strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* Writes one file as dir/name through a temporary file and a rename. */
static int dumpWriteFile(struct client_err *e, const char *dir,
                         const struct dqlite_file *f)
{
    char path[DUMP_PATH_MAX];
    char tmp[DUMP_PATH_MAX];
    int err;
    if (!dumpNameOk(f->name)) {
        return clientErrSet(e, ERR_CLIENT_PROTO, "bad file name \"%s\"",
                            f->name);
    }
    if (snprintf(path, sizeof path, "%s/%s", dir, f->name) >=
            (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, f->name) >=
            (int)sizeof tmp) {
        return clientErrSet(e, ERR_MISUSE, "path too long: %s/%s", dir,
                            f->name);
    }
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        return clientErrSet(e, ERR_IO, "cannot write %s: %s", path,
                            strerror(errno));
    }
    err = clientWriteAllClose(fd, f->data, f->size);
    if (err == 0 && rename(tmp, path) != 0) {
        err = errno;
    }
    if (err != 0) {
        unlink(tmp);
        return clientErrSet(e, ERR_IO, "cannot write %s: %s", path,
                            strerror(err));
    }
    return 0;
}

DQLITE_API int dqlite_client_dump_to_dir(struct dqlite_client *client,
                                         const char *name, const char *dir)
{
    struct dqlite_file *files = NULL;
    unsigned n = 0;
    int rv;
    if (client == NULL || name == NULL || dir == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    rv = dqlite_client_dump(client, name, &files, &n);
    if (rv != DQLITE_CLIENT_OK) {
        return rv;
    }
    for (unsigned i = 0; i < n && rv == 0; i++) {
        rv = dumpWriteFile(clientClusterErr(client), dir, &files[i]);
    }
    dqlite_file_free(files, n);
    return clientErrPublic(rv);
}
