/*
 * A blocking wire-protocol client for the server's tests: connect to a node,
 * send requests built with the proto codec (or raw bytes), read responses.
 * Every read is bounded by a timeout so a silent server fails the test
 * instead of hanging it.
 */
#ifndef TEST_SERVER_WIRE_H
#define TEST_SERVER_WIRE_H

#include <dqlite.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "proto/reader.h"
#include "proto/request.h"
#include "proto/response.h"

struct wire {
    int fd;
    struct proto_reader reader;
    struct proto_frame frame;
    struct proto_response resp;
};

/* Connects and sends the handshake `version` (0: none). */
void wireOpen(struct wire *w, const char *address, uint64_t version);
void wireClose(struct wire *w);

/* Sends bytes as they are. */
void wireSendRaw(struct wire *w, const void *data, size_t len);
/* Sends an encoded request. */
void wireSend(struct wire *w, const struct proto_request *req);
/* Reads the next response into w->resp (valid until the next read);
 * false on EOF or timeout. */
bool wireRecv(struct wire *w);
/* Reads the next frame into w->frame only (an extension's answer). */
bool wireRecvFrame(struct wire *w);
/* Whether the server closed the connection (EOF within the timeout). */
bool wireClosed(struct wire *w);

/* Helpers for common requests: each checks the response type. */
void wireOpenDb(struct wire *w, const char *name);
void wireExecSql(struct wire *w, const char *sql, uint64_t *last_id,
                 uint64_t *changes);
/* Expects a FAILURE and returns its code; the message in w->resp. */
uint64_t wireExpectFailure(struct wire *w);

/* A one-node cluster in a temporary directory. */
struct wire_node {
    dqlite_node *node;
    char dir[64];
    char address[64];
};
void wireNodeStart(struct wire_node *n);
/* The same, with `setup` run on the node between create and start. */
void wireNodeStartWith(struct wire_node *n, void (*setup)(dqlite_node *node));
void wireNodeStop(struct wire_node *n);

#endif /* TEST_SERVER_WIRE_H */
