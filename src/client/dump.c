/*
 * DUMP through the cluster client: the database file and its WAL, copied
 * out of the FILES answer into memory the caller owns.
 */
#include <string.h>

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
