/*
 * Replays captured exchanges (test/vectors) against the client:
 * one fake server per captured address; each accepted connection takes the
 * next captured connection to that address, checks that the client sends
 * exactly the captured bytes and answers with the captured responses.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake.h"

#define REPLAY_CONNS_MAX 32
#define REPLAY_ITEMS_MAX 256
#define REPLAY_ADDRS_MAX 8

struct replay_item {
    bool from_client;
    uint8_t *bytes;
    size_t len;
};

struct replay_conn {
    char address[64];
    struct replay_item items[REPLAY_ITEMS_MAX];
    int n_items;
    bool closed_by_client;
    bool claimed;
    bool done;
};

struct replay_addr {
    struct fake_replay *r;
    char address[64];
    struct fake_server *srv;
};

struct fake_replay {
    struct replay_conn conns[REPLAY_CONNS_MAX];
    int ids[REPLAY_CONNS_MAX]; /* capture's connection numbers */
    int n_conns;
    struct replay_addr addrs[REPLAY_ADDRS_MAX];
    int n_addrs;
    pthread_mutex_t mutex;
    int errors;
};

static uint8_t *replayHex(const char *s, size_t *len)
{
    uint8_t *out = malloc(strlen(s) / 2 + 1);
    size_t n = 0;
    while (*s != '\0') {
        unsigned v;
        if (isspace((unsigned char)*s)) {
            s++;
            continue;
        }
        sscanf(s, "%2x", &v);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    *len = n;
    return out;
}

static struct replay_conn *replayConn(struct fake_replay *r, int id)
{
    int i;
    for (i = 0; i < r->n_conns; i++) {
        if (r->ids[i] == id) {
            return &r->conns[i];
        }
    }
    return NULL;
}

static void replayLine(struct fake_replay *r, char *line,
                       struct replay_conn **cur)
{
    int id;
    char addr[64];
    if (sscanf(line, "@ conn %d open %63s", &id, addr) == 2) {
        r->ids[r->n_conns] = id;
        *cur = &r->conns[r->n_conns++];
        snprintf((*cur)->address, sizeof(*cur)->address, "%s", addr);
    } else if (sscanf(line, "@ conn %d", &id) == 1) {
        *cur = replayConn(r, id);
        if (*cur != NULL && strstr(line, "closed by client") != NULL) {
            (*cur)->closed_by_client = true;
        }
    } else if ((line[0] == 'C' || line[0] == 'S') && *cur != NULL) {
        struct replay_item *it = &(*cur)->items[(*cur)->n_items++];
        it->from_client = line[0] == 'C';
        it->bytes = replayHex(line + 2, &it->len);
    }
}

static int replayRead(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        ssize_t k;
        if (poll(&pf, 1, 3000) != 1 || (k = read(fd, p, n)) <= 0) {
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static bool replayItem(struct fake_conn *fc, struct replay_item *it)
{
    uint8_t *got;
    bool ok;
    if (!it->from_client) {
        fakeSendRaw(fc, it->bytes, it->len);
        return true;
    }
    got = malloc(it->len);
    ok = replayRead(fc->fd, got, it->len) == 0 &&
         memcmp(got, it->bytes, it->len) == 0;
    free(got);
    return ok;
}

static void replayHandler(struct fake_conn *fc, void *arg)
{
    struct replay_addr *a = arg;
    struct fake_replay *r = a->r;
    struct replay_conn *c = NULL;
    int i;
    bool ok = true;
    pthread_mutex_lock(&r->mutex);
    for (i = 0; i < r->n_conns && c == NULL; i++) {
        if (!r->conns[i].claimed &&
            strcmp(r->conns[i].address, a->address) == 0) {
            c = &r->conns[i];
            c->claimed = true;
        }
    }
    pthread_mutex_unlock(&r->mutex);
    for (i = 0; c != NULL && ok && i < c->n_items; i++) {
        ok = replayItem(fc, &c->items[i]);
    }
    if (ok && c != NULL && c->closed_by_client) {
        ok = fakeWaitClose(fc);
    }
    pthread_mutex_lock(&r->mutex);
    if (c == NULL || !ok) {
        r->errors++;
    } else {
        c->done = true;
    }
    pthread_mutex_unlock(&r->mutex);
}

static void replayServers(struct fake_replay *r)
{
    int i;
    int j;
    for (i = 0; i < r->n_conns; i++) {
        for (j = 0; j < r->n_addrs; j++) {
            if (strcmp(r->addrs[j].address, r->conns[i].address) == 0) {
                break;
            }
        }
        if (j == r->n_addrs) {
            struct replay_addr *a = &r->addrs[r->n_addrs++];
            a->r = r;
            snprintf(a->address, sizeof a->address, "%s", r->conns[i].address);
            a->srv = fakeStart(replayHandler, a);
        }
    }
}

struct fake_replay *fakeReplayStart(const char *file)
{
    char path[512];
    static char line[1 << 21]; /* DUMP answers are long lines */
    struct fake_replay *r = calloc(1, sizeof *r);
    struct replay_conn *cur = NULL;
    FILE *f;
    const char *dir = getenv("DQLITE_VECTORS_DIR");
    dir = dir != NULL ? dir : "test/vectors";
    snprintf(path, sizeof path, "%s/%s", dir, file);
    f = fopen(path, "r");
    if (f == NULL) {
        free(r);
        return NULL;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        replayLine(r, line, &cur);
    }
    fclose(f);
    pthread_mutex_init(&r->mutex, NULL);
    replayServers(r);
    return r;
}

void fakeReplayStop(struct fake_replay *r)
{
    int i;
    int j;
    for (i = 0; i < r->n_addrs; i++) {
        fakeStop(r->addrs[i].srv);
    }
    for (i = 0; i < r->n_conns; i++) {
        for (j = 0; j < r->conns[i].n_items; j++) {
            free(r->conns[i].items[j].bytes);
        }
    }
    pthread_mutex_destroy(&r->mutex);
    free(r);
    fakeLeakCheck();
}

int fakeReplayErrors(struct fake_replay *r)
{
    int n;
    pthread_mutex_lock(&r->mutex);
    n = r->errors;
    pthread_mutex_unlock(&r->mutex);
    return n;
}

bool fakeReplayDone(struct fake_replay *r)
{
    int i;
    bool done = true;
    pthread_mutex_lock(&r->mutex);
    for (i = 0; i < r->n_conns; i++) {
        done = done && r->conns[i].done;
    }
    pthread_mutex_unlock(&r->mutex);
    return done;
}

int fakeReplayDial(void *arg, const char *address, int timeout_ms, int *fd)
{
    struct fake_replay *r = arg;
    struct sockaddr_in sin = {.sin_family = AF_INET};
    const char *real = NULL;
    int i;
    (void)timeout_ms;
    for (i = 0; i < r->n_addrs; i++) {
        if (strcmp(r->addrs[i].address, address) == 0) {
            real = r->addrs[i].srv->address;
        }
    }
    if (real == NULL) {
        return -1;
    }
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)atoi(strchr(real, ':') + 1));
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(*fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        close(*fd);
        return -1;
    }
    return 0;
}
