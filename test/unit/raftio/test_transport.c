/* Peer transport on loopback and abstract sockets: delivery in order,
 * the custom connect function on a worker thread, reconnection after the
 * peer restarts, bounded queues, cluster check, adoption of a socket whose
 * handshake the server read, and garbage closing the stream. Every test is
 * bounded by a deadline timer. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "raft/raft.h"
#include "raftio/transport.h"

#define MAX_SEEN 1000

struct node {
    struct raftio_transport t;
    uint64_t seen[MAX_SEEN]; /* vote.last_index of each message */
    int n_seen;
    uint8_t last_payload[64];
    size_t last_payload_len;
    int closed;
};

static uv_loop_t loop;
static pthread_t loop_thread;
static int connect_calls;
static int connect_on_loop_thread;

static void onRecv(struct raftio_transport *t, const struct raft_message *m)
{
    struct node *n = t->data;
    if (m->type == RAFT_MSG_APPEND && m->append.n_entries == 1) {
        n->last_payload_len = m->append.entries[0].len;
        memcpy(n->last_payload, m->append.entries[0].data, n->last_payload_len);
    }
    if (n->n_seen < MAX_SEEN) {
        n->seen[n->n_seen++] =
            m->type == RAFT_MSG_VOTE ? m->vote.last_index : 0;
    }
}

static void nodeInit(struct node *n, uint64_t id, const char *cluster,
                     raftio_connect_fn fn, unsigned queue_max)
{
    memset(n, 0, sizeof *n);
    char address[32];
    snprintf(address, sizeof address, "node-%llu", (unsigned long long)id);
    struct raftio_transport_options o = {.node_id = id,
                                         .address = address,
                                         .cluster = cluster,
                                         .connect_fn = fn,
                                         .queue_max_msgs = queue_max,
                                         .backoff_min_ms = 10,
                                         .backoff_max_ms = 40,
                                         .recv_cb = onRecv};
    cr_assert_eq(raftioTransportInit(&n->t, &loop, &o), 0);
    n->t.data = n;
}

static void nodeClosed(struct raftio_transport *t)
{
    ((struct node *)t->data)->closed = 1;
}

static void deadlineCb(uv_timer_t *timer)
{
    (void)timer;
    cr_assert_fail("deadline passed");
}

/* Runs the loop until *flag >= want, for at most 5 s. */
static void runUntil(const int *flag, int want)
{
    uv_timer_t deadline;
    uv_timer_init(&loop, &deadline);
    uv_timer_start(&deadline, deadlineCb, 5000, 0);
    while (*flag < want) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* Runs the loop for about `ms` milliseconds. */
static void runFor(unsigned ms)
{
    uv_update_time(&loop);
    uint64_t end = uv_now(&loop) + ms;
    while (uv_now(&loop) < end) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
        uv_update_time(&loop);
    }
}

static void closeNode(struct node *n)
{
    raftioTransportClose(&n->t, nodeClosed);
    runUntil(&n->closed, 1);
}

static void setup(void)
{
    cr_assert_eq(uv_loop_init(&loop), 0);
    loop_thread = pthread_self();
    connect_calls = 0;
    connect_on_loop_thread = 0;
}

static void teardown(void)
{
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(uv_loop_close(&loop), 0, "handles left open");
}

static struct raft_message vote(uint64_t from, uint64_t to, uint64_t i)
{
    struct raft_message m = {
        .type = RAFT_MSG_VOTE, .from = from, .to = to, .term = 1};
    m.vote.last_index = i;
    return m;
}

TestSuite(transport, .init = setup, .fini = teardown);

Test(transport, tcp_delivers_every_message_in_order)
{
    static struct node a, b;
    nodeInit(&a, 1, "c", NULL, 0);
    nodeInit(&b, 2, "c", NULL, 0);
    cr_assert_eq(raftioTransportListen(&b.t, "127.0.0.1:0"), 0);
    cr_assert(strncmp(b.t.bound, "127.0.0.1:", 10) == 0, "%s", b.t.bound);
    for (uint64_t i = 1; i <= 200; i++) {
        struct raft_message m = vote(1, 2, i);
        cr_assert_eq(raftioTransportSend(&a.t, 2, b.t.bound, &m), 0);
    }
    runUntil(&b.n_seen, 200);
    for (int i = 0; i < 200; i++) {
        cr_assert_eq(b.seen[i], (uint64_t)i + 1);
    }
    cr_assert_eq(a.t.stats.connects, 1);
    closeNode(&a);
    closeNode(&b);
}

static int countingConnect(void *arg, const char *address, int *fd)
{
    (void)arg;
    __atomic_add_fetch(&connect_calls, 1, __ATOMIC_SEQ_CST);
    if (pthread_equal(pthread_self(), loop_thread)) {
        connect_on_loop_thread = 1;
    }
    return raftioDial(NULL, address, fd);
}

Test(transport, abstract_socket_with_custom_connect_on_worker_thread)
{
    static struct node a, b;
    nodeInit(&a, 1, "", countingConnect, 0);
    nodeInit(&b, 2, "", NULL, 0);
    cr_assert_eq(raftioTransportListen(&b.t, "@"), 0);
    cr_assert_eq(b.t.bound[0], '@');
    uint8_t *payload = raftPayloadAlloc(5);
    memcpy(payload, "hello", 5);
    struct raft_entry e = {
        .term = 1, .type = RAFT_COMMAND, .data = payload, .len = 5};
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1};
    m.append.entries = &e;
    m.append.n_entries = 1;
    cr_assert_eq(raftioTransportSend(&a.t, 2, b.t.bound, &m), 0);
    raftPayloadUnref(payload);
    runUntil(&b.n_seen, 1);
    cr_assert_eq(b.last_payload_len, 5);
    cr_assert_arr_eq(b.last_payload, "hello", 5);
    cr_assert_eq(connect_calls, 1);
    cr_assert_eq(connect_on_loop_thread, 0);
    closeNode(&a);
    closeNode(&b);
}

Test(transport, reconnects_with_backoff_after_the_peer_restarts)
{
    static struct node a, b, b2;
    char address[64];
    snprintf(address, sizeof address, "@raftio-test-%d", (int)getpid());
    nodeInit(&a, 1, "", NULL, 0);
    nodeInit(&b, 2, "", NULL, 0);
    cr_assert_eq(raftioTransportListen(&b.t, address), 0);
    struct raft_message m = vote(1, 2, 1);
    cr_assert_eq(raftioTransportSend(&a.t, 2, address, &m), 0);
    runUntil(&b.n_seen, 1);
    closeNode(&b);
    runFor(100); /* a's stream breaks, dials fail, backoff */
    nodeInit(&b2, 2, "", NULL, 0);
    cr_assert_eq(raftioTransportListen(&b2.t, address), 0);
    for (int i = 0; i < 200 && b2.n_seen == 0; i++) {
        m = vote(1, 2, 2);
        int rv = raftioTransportSend(&a.t, 2, address, &m);
        cr_assert(rv == 0 || rv == ERR_SENDQ_FULL);
        runFor(20);
    }
    cr_assert_gt(b2.n_seen, 0, "no delivery after restart");
    cr_assert_geq(a.t.stats.dials, 2);
    cr_assert_geq(a.t.stats.connects, 2);
    closeNode(&a);
    closeNode(&b2);
}

/* A stopping node: the stream that is up still carries messages, the
 * peer that left is never dialled again, a new peer is never dialled. */
Test(transport, after_stop_dialling_only_open_streams_are_used)
{
    static struct node a, b, c;
    nodeInit(&a, 1, "", countingConnect, 0);
    nodeInit(&b, 2, "", NULL, 0);
    nodeInit(&c, 3, "", NULL, 0);
    cr_assert_eq(raftioTransportListen(&b.t, "@"), 0);
    cr_assert_eq(raftioTransportListen(&c.t, "@"), 0);
    struct raft_message m = vote(1, 2, 1);
    cr_assert_eq(raftioTransportSend(&a.t, 2, b.t.bound, &m), 0);
    m = vote(1, 3, 1);
    cr_assert_eq(raftioTransportSend(&a.t, 3, c.t.bound, &m), 0);
    runUntil(&b.n_seen, 1);
    runUntil(&c.n_seen, 1);
    cr_assert_eq(connect_calls, 2);

    raftioTransportStopDialling(&a.t);
    m = vote(1, 2, 2);
    cr_assert_eq(raftioTransportSend(&a.t, 2, b.t.bound, &m), 0);
    runUntil(&b.n_seen, 2);
    cr_assert_eq(b.seen[1], 2);

    closeNode(&c); /* c leaves: a's stream to it breaks */
    for (int i = 0; i < 50 && raftioTransportConnected(&a.t, 3); i++) {
        runFor(10);
    }
    cr_assert_not(raftioTransportConnected(&a.t, 3));
    m = vote(1, 3, 2);
    cr_assert_eq(raftioTransportSend(&a.t, 3, c.t.bound, &m), ERR_UNREACHABLE);
    m = vote(1, 4, 1);
    cr_assert_eq(raftioTransportSend(&a.t, 4, "@raftio-nobody", &m),
                 ERR_UNREACHABLE);
    runFor(100); /* several backoff periods (10-40 ms) */
    cr_assert_eq(connect_calls, 2, "a peer was dialled after the stop");
    cr_assert_eq(a.t.stats.dropped, 2);
    closeNode(&a);
    closeNode(&b);
}

Test(transport, queue_to_an_unreachable_peer_is_bounded)
{
    static struct node a;
    char address[64];
    snprintf(address, sizeof address, "@raftio-nobody-%d", (int)getpid());
    nodeInit(&a, 1, "", NULL, 10);
    for (uint64_t i = 1; i <= 10; i++) {
        struct raft_message m = vote(1, 3, i);
        cr_assert_eq(raftioTransportSend(&a.t, 3, address, &m), 0);
    }
    struct raft_message m = vote(1, 3, 11);
    cr_assert_eq(raftioTransportSend(&a.t, 3, address, &m), ERR_SENDQ_FULL);
    cr_assert_eq(a.t.stats.dropped, 1);
    runFor(50);
    closeNode(&a);
}

Test(transport, a_foreign_cluster_is_refused)
{
    static struct node a, b;
    nodeInit(&a, 1, "alpha", NULL, 0);
    nodeInit(&b, 2, "beta", NULL, 0);
    cr_assert_eq(raftioTransportListen(&b.t, "127.0.0.1:0"), 0);
    struct raft_message m = vote(1, 2, 1);
    cr_assert_eq(raftioTransportSend(&a.t, 2, b.t.bound, &m), 0);
    runFor(200);
    cr_assert_eq(b.n_seen, 0);
    closeNode(&a);
    closeNode(&b);
}

/* The server read the CONNECT request and hands the socket over. */
Test(transport, adopted_socket_delivers_and_garbage_closes_it)
{
    static struct node b;
    int sv[2];
    nodeInit(&b, 2, "", NULL, 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct raftio_handshake hs = {.node_id = 1};
    strcpy(hs.address, "node-1");
    struct buf frames;
    bufInit(&frames);
    for (uint64_t i = 1; i <= 3; i++) {
        struct raft_message m = vote(1, 2, i);
        uint8_t *body;
        size_t len;
        cr_assert_eq(raftMessageEncode(&m, &body, &len), 0);
        cr_assert_eq(frameEncode(&frames, body, len), 0);
        free(body);
    }
    /* the first frame arrives with the handshake, the rest afterwards */
    size_t first = frames.len / 3;
    cr_assert_eq(raftioTransportAdopt(&b.t, sv[0], &hs, frames.data, first), 0);
    cr_assert_eq(write(sv[1], frames.data + first, frames.len - first),
                 (ssize_t)(frames.len - first));
    runUntil(&b.n_seen, 3);
    cr_assert_eq(b.seen[2], 3);
    cr_assert_eq(write(sv[1], "garbage!garbage!", 16), 16);
    char c;
    runFor(50);
    struct pollfd pfd = {.fd = sv[1], .events = POLLIN};
    cr_assert_eq(poll(&pfd, 1, 2000), 1, "stream not closed on garbage");
    cr_assert_eq(read(sv[1], &c, 1), 0, "stream not closed on garbage");
    close(sv[1]);
    bufFree(&frames);
    closeNode(&b);
}

/* A peer speaks only for the id it announced at CONNECT: a message whose
 * `from` is another id (a stranger claiming the leader's id on its own
 * stream, issue 15) is not delivered, and the stream is closed. */
Test(transport, a_message_from_another_id_closes_the_stream)
{
    static struct node b;
    int sv[2];
    nodeInit(&b, 2, "", NULL, 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct raftio_handshake hs = {.node_id = 666};
    strcpy(hs.address, "attacker");
    struct buf frames;
    bufInit(&frames);
    uint64_t froms[2] = {666, 1}; /* its own id, then the leader's */
    for (unsigned i = 0; i < 2; i++) {
        struct raft_message m = vote(froms[i], 2, i + 1);
        uint8_t *body;
        size_t len;
        cr_assert_eq(raftMessageEncode(&m, &body, &len), 0);
        cr_assert_eq(frameEncode(&frames, body, len), 0);
        free(body);
    }
    cr_assert_eq(raftioTransportAdopt(&b.t, sv[0], &hs, NULL, 0), 0);
    cr_assert_eq(write(sv[1], frames.data, frames.len), (ssize_t)frames.len);
    runUntil(&b.n_seen, 1);
    runFor(50);
    cr_assert_eq(b.n_seen, 1, "a message claiming another id was delivered");
    struct pollfd pfd = {.fd = sv[1], .events = POLLIN};
    char c;
    cr_assert_eq(poll(&pfd, 1, 2000), 1, "stream left open");
    cr_assert_eq(read(sv[1], &c, 1), 0, "stream left open");
    close(sv[1]);
    bufFree(&frames);
    closeNode(&b);
}

/* Closing the transport while a write is still pending (the peer accepts
 * nothing and reads nothing, so the socket buffers fill): the write that
 * the close cancels must not close the stream a second time. */
Test(transport, close_with_a_write_pending)
{
    static struct node a;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    char address[32];
    int s = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(s >= 0);
    cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(s, 4), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    snprintf(address, sizeof address, "127.0.0.1:%d", ntohs(sa.sin_port));
    nodeInit(&a, 1, "c", NULL, 0);
    size_t big = 1 << 20;
    struct raft_entry e = {.term = 1,
                           .type = RAFT_COMMAND,
                           .data = raftPayloadAlloc(big),
                           .len = big};
    memset(e.data, 1, big);
    struct raft_message m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1};
    m.append.entries = &e;
    m.append.n_entries = 1;
    for (int i = 0; i < 16; i++) {
        cr_assert_eq(raftioTransportSend(&a.t, 2, address, &m), 0);
    }
    /* the queued frames share the entry: it outlives our reference */
    raftPayloadUnref(e.data);
    runFor(300); /* connected, handshake sent, the big write stuck */
    cr_assert_eq(a.t.stats.connects, 1);
    closeNode(&a);
    close(s);
}
