/*
 * Errors of the client: the per-handle record (message and server code)
 * and the translation of internal ERR_* codes into the public
 * DQLITE_CLIENT_* codes. Kept apart so every handle reports the same way.
 */
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "lib/assert.h"
#include "lib/err.h"

void clientErrClear(struct client_err *e)
{
    PRE(e != NULL);
    e->rv = 0;
    e->server_code = 0;
    snprintf(e->msg, sizeof e->msg, "not an error");
}

int clientErrSet(struct client_err *e, int rv, const char *fmt, ...)
{
    va_list args;
    PRE(e != NULL && rv != 0 && fmt != NULL);
    e->rv = rv;
    e->server_code = 0;
    va_start(args, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, args);
    va_end(args);
    return rv;
}

bool clientCodeIsNotLeader(uint64_t code)
{
    return code == DQLITE_CLIENT_CODE_NOT_LEADER ||
           code == DQLITE_CLIENT_CODE_LEADERSHIP_LOST ||
           code == (10 | (32 << 8)) || code == (10 | (33 << 8));
}

int clientErrServer(struct client_err *e, uint64_t code, const char *msg)
{
    int rv =
        clientCodeIsNotLeader(code) ? ERR_CLIENT_NOTLEADER : ERR_CLIENT_FAILURE;
    PRE(e != NULL && msg != NULL);
    e->rv = rv;
    e->server_code = code;
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    return rv;
}

int clientErrPublic(int rv)
{
    switch (rv) {
    case 0:
        return DQLITE_CLIENT_OK;
    case ERR_CLIENT_FAILURE:
        return DQLITE_CLIENT_ERROR;
    case ERR_NOMEM:
        return DQLITE_CLIENT_NOMEM;
    case ERR_MISUSE:
    case ERR_INVALID:
    case ERR_TOOBIG:
        return DQLITE_CLIENT_MISUSE;
    case ERR_CLIENT_NOTLEADER:
        return DQLITE_CLIENT_NOTLEADER;
    case ERR_CLIENT_NOLEADER:
        return DQLITE_CLIENT_NOLEADER;
    case ERR_TIMEOUT:
        return DQLITE_CLIENT_TIMEOUT;
    case ERR_IO:
    case ERR_CLIENT_EOF:
    case ERR_NOCONN:
        return DQLITE_CLIENT_IOERR;
    case ERR_CLIENT_TXCUT:
        return DQLITE_CLIENT_TXCUT;
    case ERR_CLIENT_STORE:
        return DQLITE_CLIENT_STORE;
    case ERR_CLIENT_CANCELLED:
        return DQLITE_CLIENT_CANCELLED;
    default:
        /* Everything the codec rejects, and unexpected answers. */
        return DQLITE_CLIENT_PROTO;
    }
}

const char *clientErrMsg(const struct client_err *e)
{
    PRE(e != NULL);
    return e->msg;
}
