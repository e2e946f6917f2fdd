/*
 * Loading a SQLite file into the cluster through a node client connected
 * to the leader (docs/restore.md): LOAD_BEGIN, then the file in chunks of
 * the size the leader announces (each answered once the cluster applied
 * it, so at most one chunk is in memory on this side), then LOAD_COMMIT,
 * answered once every byte is installed on the leader.
 *
 * Two entry points: a file by path (the shell's .restore), and a caller's
 * reader of known size (an HTTP body: rqlite's /db/load).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client.h"
#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "proto/dbname.h"
#include "proto/load.h"

/* Longer than a plain call: a chunk waits for a raft round and the apply
 * of a large entry; the commit waits for PRAGMA integrity_check of the
 * whole file on the leader. */
#define LOAD_CHUNK_TIMEOUT_MS 120000u
#define LOAD_COMMIT_TIMEOUT_MS 1800000u

struct load_call {
    struct dqlite_client *cl;
    struct client_sock *s;
    struct client_err *e;
    struct proto_load_progress progress;
};

/* Sends what load.c queued in s->out and reads one LOAD_PROGRESS. */
static int loadCall(struct load_call *lc, unsigned timeout_ms)
{
    struct client_sock *s = lc->s;
    unsigned call_ms = clientClusterTimeoutMs(lc->cl);
    int rv = clientSockCall(
        s, clientDeadline(call_ms > timeout_ms ? call_ms : timeout_ms));
    if (rv != 0) {
        clientSockClose(s);
        clientSockInit(s);
        return clientErrSet(lc->e, rv, "load failed: %s", errString(rv));
    }
    if (s->resp.type == PROTO_RESP_FAILURE) {
        return clientErrServer(lc->e, s->resp.failure.code,
                               s->resp.failure.message.data);
    }
    if (s->resp.type != PROTO_RESP_LOAD_PROGRESS ||
        protoLoadProgressDecode(s->frame.body, s->frame.len, &lc->progress) !=
            0) {
        clientSockClose(s);
        clientSockInit(s);
        return clientErrSet(lc->e, ERR_CLIENT_PROTO,
                            "unexpected answer to a load request");
    }
    return 0;
}

static int loadBegin(struct load_call *lc, const char *name, uint64_t size,
                     int flags)
{
    struct proto_load_begin m = {
        protoText(name), size,
        (flags & DQLITE_LOAD_FORCE) != 0 ? PROTO_LOAD_FORCE : 0};
    bufReset(&lc->s->out);
    int rv = protoLoadBeginEncode(&lc->s->out, &m);
    if (rv != 0) {
        return clientErrSet(lc->e, ERR_MISUSE, "cannot encode: %s",
                            errString(rv));
    }
    return loadCall(lc, 0);
}

static int loadSend(struct load_call *lc, uint64_t size,
                    dqlite_load_read_fn read, void *read_arg,
                    dqlite_load_progress_fn progress, void *progress_arg)
{
    uint64_t chunk_max = lc->progress.chunk_max;
    uint8_t *chunk = libMalloc((size_t)chunk_max);
    if (chunk == NULL) {
        return clientErrSet(lc->e, ERR_NOMEM, "out of memory");
    }
    int rv = 0;
    for (uint64_t off = 0; off < size && rv == 0;) {
        size_t want = (size_t)(size - off < chunk_max ? size - off : chunk_max);
        if (read(read_arg, chunk, want) != 0) {
            rv = clientErrSet(lc->e, ERR_IO, "cannot read the file at %llu",
                              (unsigned long long)off);
            break;
        }
        bufReset(&lc->s->out);
        rv = protoLoadChunkEncode(&lc->s->out, off, chunk, want);
        if (rv != 0) {
            rv = clientErrSet(lc->e, ERR_NOMEM, "out of memory");
            break;
        }
        rv = loadCall(lc, LOAD_CHUNK_TIMEOUT_MS);
        off += want;
        if (rv == 0 && lc->progress.done != off) {
            rv = clientErrSet(lc->e, ERR_CLIENT_PROTO,
                              "the leader acknowledged %llu bytes of %llu",
                              (unsigned long long)lc->progress.done,
                              (unsigned long long)off);
        }
        if (rv == 0 && progress != NULL &&
            progress(progress_arg, off, size) != 0) {
            rv = clientErrSet(lc->e, ERR_CLIENT_CANCELLED,
                              "load stopped by its progress callback");
        }
    }
    libFree(chunk);
    return rv;
}

DQLITE_API int dqlite_client_load_stream(struct dqlite_client *client,
                                         const char *name, uint64_t size,
                                         dqlite_load_read_fn read,
                                         void *read_arg, int flags,
                                         dqlite_load_progress_fn progress,
                                         void *progress_arg)
{
    if (client == NULL || name == NULL || read == NULL ||
        (flags & ~DQLITE_LOAD_FORCE) != 0) {
        return DQLITE_CLIENT_MISUSE;
    }
    struct load_call lc = {
        client, clientClusterSock(client), clientClusterErr(client), {0, 0, 0}};
    clientErrClear(lc.e);
    const char *why = protoDbNameCheck(name, strlen(name));
    if (why != NULL) {
        return clientErrPublic(
            clientErrSet(lc.e, ERR_MISUSE, "bad database name: %s", why));
    }
    if (!clientSockOpen(lc.s)) {
        return clientErrPublic(clientErrSet(lc.e, ERR_NOCONN, "not connected"));
    }
    int rv = loadBegin(&lc, name, size, flags);
    if (rv == 0) {
        rv = loadSend(&lc, size, read, read_arg, progress, progress_arg);
    }
    if (rv == 0) {
        bufReset(&lc.s->out);
        rv = protoLoadCommitEncode(&lc.s->out, 0);
        rv = rv == 0 ? loadCall(&lc, LOAD_COMMIT_TIMEOUT_MS)
                     : clientErrSet(lc.e, ERR_NOMEM, "out of memory");
    }
    if (rv != 0 && rv != ERR_CLIENT_FAILURE && rv != ERR_CLIENT_NOTLEADER &&
        clientSockOpen(lc.s)) {
        /* Stopped mid-stream (a read error, the callback): the leader's
         * session ends with the connection; nothing was installed. */
        clientSockClose(lc.s);
        clientSockInit(lc.s);
    }
    return clientErrPublic(rv);
}

/* Reads exactly `len` bytes from the file descriptor in `arg`. */
static int loadReadFd(void *arg, void *buf, size_t len)
{
    int fd = *(int *)arg;
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

DQLITE_API int dqlite_client_load(struct dqlite_client *client,
                                  const char *name, const char *path, int flags,
                                  dqlite_load_progress_fn progress,
                                  void *progress_arg)
{
    struct stat st;
    if (client == NULL || name == NULL || path == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    struct client_err *e = clientClusterErr(client);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = fd < 0 ? errno : EINVAL;
        if (fd >= 0) {
            close(fd);
        }
        clientErrClear(e);
        return clientErrPublic(
            clientErrSet(e, ERR_IO, "cannot read %s: %s", path, strerror(err)));
    }
    int rv = dqlite_client_load_stream(client, name, (uint64_t)st.st_size,
                                       loadReadFd, &fd, flags, progress,
                                       progress_arg);
    close(fd);
    return rv;
}
