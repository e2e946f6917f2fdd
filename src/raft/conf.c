/*
 * Cluster configurations: the list of servers with their roles, and its
 * byte encoding (docs/raft.md), carried by RAFT_CHANGE entries and by
 * snapshots. The decoder takes untrusted bytes and bounds every length.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "raft/raft.h"

#define CONF_VERSION 1
#define CONF_HEADER 8   /* version, 3 zero bytes, u32 count */
#define SERVER_FIXED 12 /* id, role, zero, u16 address length */

void raftConfInit(struct raft_configuration *c)
{
    c->servers = NULL;
    c->n = 0;
}

void raftConfClose(struct raft_configuration *c)
{
    for (unsigned i = 0; i < c->n; i++) {
        libFree(c->servers[i].address);
    }
    libFree(c->servers);
    raftConfInit(c);
}

const struct raft_server *raftConfGet(const struct raft_configuration *c,
                                      uint64_t id)
{
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].id == id) {
            return &c->servers[i];
        }
    }
    return NULL;
}

unsigned raftConfVoters(const struct raft_configuration *c)
{
    unsigned n = 0;
    for (unsigned i = 0; i < c->n; i++) {
        n += c->servers[i].role == RAFT_VOTER;
    }
    return n;
}

int raftConfAdd(struct raft_configuration *c, uint64_t id, const char *address,
                int role)
{
    struct raft_server *servers;
    char *copy;
    if (id == 0 || address == NULL || role < RAFT_VOTER || role > RAFT_SPARE ||
        strlen(address) > RAFT_ADDRESS_MAX) {
        return ERR_INVALID;
    }
    if (raftConfGet(c, id) != NULL) {
        return ERR_DUPLICATE_NODE;
    }
    if (c->n >= RAFT_CONF_MAX_SERVERS) {
        return ERR_TOOBIG;
    }
    copy = libStrdup(address);
    if (copy == NULL) {
        return ERR_NOMEM;
    }
    servers = libRealloc(c->servers, (c->n + 1) * sizeof *servers);
    if (servers == NULL) {
        libFree(copy);
        return ERR_NOMEM;
    }
    c->servers = servers;
    c->servers[c->n] = (struct raft_server){id, copy, role};
    c->n++;
    return 0;
}

int raftConfCopy(const struct raft_configuration *src,
                 struct raft_configuration *dst)
{
    raftConfInit(dst);
    for (unsigned i = 0; i < src->n; i++) {
        const struct raft_server *s = &src->servers[i];
        int rv = raftConfAdd(dst, s->id, s->address, s->role);
        if (rv != 0) {
            raftConfClose(dst);
            return rv;
        }
    }
    return 0;
}

size_t raftConfEncodedSize(const struct raft_configuration *c)
{
    size_t size = CONF_HEADER;
    for (unsigned i = 0; i < c->n; i++) {
        size += SERVER_FIXED + strlen(c->servers[i].address);
    }
    return size;
}

void raftConfEncodeTo(const struct raft_configuration *c, uint8_t *out)
{
    uint8_t *p = out;
    memset(p, 0, CONF_HEADER);
    p[0] = CONF_VERSION;
    bytePut32(p + 4, c->n);
    p += CONF_HEADER;
    for (unsigned i = 0; i < c->n; i++) {
        const struct raft_server *s = &c->servers[i];
        size_t len = strlen(s->address);
        bytePut64(p, s->id);
        p[8] = (uint8_t)s->role;
        p[9] = 0;
        bytePut16(p + 10, (uint16_t)len);
        memcpy(p + SERVER_FIXED, s->address, len);
        p += SERVER_FIXED + len;
    }
    POST((size_t)(p - out) == raftConfEncodedSize(c));
}

int raftConfEncodePayload(const struct raft_configuration *c, uint8_t **out,
                          size_t *len)
{
    *len = raftConfEncodedSize(c);
    *out = raftPayloadAlloc(*len);
    if (*out == NULL) {
        return ERR_NOMEM;
    }
    raftConfEncodeTo(c, *out);
    return 0;
}

/* Decodes one server at buf[*pos]; advances *pos. */
static int confDecodeServer(const uint8_t *buf, size_t len, size_t *pos,
                            struct raft_configuration *c)
{
    char address[RAFT_ADDRESS_MAX + 1];
    const uint8_t *p = buf + *pos;
    size_t addr_len;
    if (len - *pos < SERVER_FIXED) {
        return ERR_MALFORMED;
    }
    addr_len = byteGet16(p + 10);
    if (addr_len > RAFT_ADDRESS_MAX || len - *pos - SERVER_FIXED < addr_len) {
        return ERR_MALFORMED;
    }
    memcpy(address, p + SERVER_FIXED, addr_len);
    address[addr_len] = '\0';
    if (memchr(address, '\0', addr_len) != NULL || p[9] != 0) {
        return ERR_MALFORMED;
    }
    *pos += SERVER_FIXED + addr_len;
    int rv = raftConfAdd(c, byteGet64(p), address, p[8]);
    return rv == ERR_NOMEM ? rv : (rv != 0 ? ERR_MALFORMED : 0);
}

int raftConfDecode(const uint8_t *buf, size_t len, struct raft_configuration *c)
{
    size_t pos = CONF_HEADER;
    uint32_t n;
    int rv;
    raftConfInit(c);
    if (len < CONF_HEADER || buf[0] != CONF_VERSION || buf[1] != 0 ||
        buf[2] != 0 || buf[3] != 0) {
        return ERR_MALFORMED;
    }
    n = byteGet32(buf + 4);
    if (n > RAFT_CONF_MAX_SERVERS) {
        return ERR_MALFORMED;
    }
    for (uint32_t i = 0; i < n; i++) {
        rv = confDecodeServer(buf, len, &pos, c);
        if (rv != 0) {
            goto err_after_conf;
        }
    }
    if (pos != len) {
        rv = ERR_MALFORMED;
        goto err_after_conf;
    }
    return 0;
err_after_conf:
    raftConfClose(c);
    return rv;
}

int raftBootstrapEntry(const struct raft_configuration *c,
                       struct raft_entry *out)
{
    PRE(c->n > 0);
    if (raftConfVoters(c) == 0) {
        return ERR_INVALID;
    }
    out->term = 1;
    out->type = RAFT_CHANGE;
    return raftConfEncodePayload(c, &out->data, &out->len);
}
