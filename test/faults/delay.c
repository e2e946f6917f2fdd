/*
 * faults-delay: the harness's packet delayer where the kernel has no
 * sch_netem (docs/faults.md, the `delay` fault). It runs inside one node's
 * network namespace, takes the packets that an iptables NFQUEUE rule hands
 * to queue QUEUE there, and lets each one go DELAY_MS +- JITTER_MS (uniform,
 * drawn from SEED) after it arrived. Packets leave in the order of their
 * release times, so jitter reorders them, as netem does. On SIGTERM or
 * SIGINT every held packet is released at once and the program exits 0.
 * It talks nfnetlink_queue on a raw netlink socket (no library needed).
 *   faults-delay QUEUE DELAY_MS JITTER_MS SEED
 * Prints "bound" once packets can be queued, and a summary at exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct held {
    uint64_t release_ns;
    uint32_t id; /* the kernel's packet id, host order */
};

static struct held *heap;
static size_t n_held, cap_held;
static int nl_fd;
static uint16_t queue_num;
static uint64_t rng_state;
static uint64_t n_packets, n_dropped_verdicts, total_delay_ns;

static uint64_t nowNs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rngNext(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* ------------------------------------------------ min-heap on release */

static int heapPush(struct held h)
{
    if (n_held == cap_held) {
        size_t cap = cap_held ? cap_held * 2 : 1024;
        struct held *grown = realloc(heap, cap * sizeof *grown);
        if (grown == NULL) {
            return -1;
        }
        heap = grown;
        cap_held = cap;
    }
    size_t i = n_held++;
    while (i > 0 && heap[(i - 1) / 2].release_ns > h.release_ns) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = h;
    return 0;
}

static struct held heapPop(void)
{
    struct held top = heap[0], last = heap[--n_held];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n_held) {
            break;
        }
        if (c + 1 < n_held && heap[c + 1].release_ns < heap[c].release_ns) {
            c++;
        }
        if (heap[c].release_ns >= last.release_ns) {
            break;
        }
        heap[i] = heap[c];
        i = c;
    }
    if (n_held > 0) {
        heap[i] = last;
    }
    return top;
}

/* ------------------------------------------------------------ netlink */

struct request {
    char buf[256];
    struct nlmsghdr *nlh;
};

static void requestInit(struct request *r, uint8_t type, uint16_t flags)
{
    memset(r->buf, 0, sizeof r->buf);
    r->nlh = (struct nlmsghdr *)r->buf;
    r->nlh->nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg));
    r->nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
    r->nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    struct nfgenmsg *g = NLMSG_DATA(r->nlh);
    g->nfgen_family = AF_UNSPEC;
    g->version = NFNETLINK_V0;
    g->res_id = htons(queue_num);
}

static void requestAttr(struct request *r, uint16_t type, const void *data,
                        size_t len)
{
    struct nlattr *a =
        (struct nlattr *)(r->buf + NLMSG_ALIGN(r->nlh->nlmsg_len));
    a->nla_type = type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + len);
    memcpy((char *)a + NLA_HDRLEN, data, len);
    r->nlh->nlmsg_len = NLMSG_ALIGN(r->nlh->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static int requestSend(struct request *r)
{
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    ssize_t n = sendto(nl_fd, r->buf, r->nlh->nlmsg_len, 0,
                       (struct sockaddr *)&kernel, sizeof kernel);
    return n == (ssize_t)r->nlh->nlmsg_len ? 0 : -1;
}

/* Sends a config request and waits for its acknowledgement. */
static int configure(uint16_t attr, const void *data, size_t len)
{
    struct request r;
    char reply[4096];
    requestInit(&r, NFQNL_MSG_CONFIG, NLM_F_ACK);
    requestAttr(&r, attr, data, len);
    if (requestSend(&r) != 0) {
        return -1;
    }
    ssize_t n = recv(nl_fd, reply, sizeof reply, 0);
    if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
        return -1;
    }
    struct nlmsghdr *h = (struct nlmsghdr *)reply;
    if (h->nlmsg_type != NLMSG_ERROR) {
        return -1;
    }
    struct nlmsgerr *e = NLMSG_DATA(h);
    if (e->error != 0) {
        errno = -e->error;
        return -1;
    }
    return 0;
}

static int verdict(uint32_t id)
{
    struct request r;
    struct nfqnl_msg_verdict_hdr v = {.verdict = htonl(NF_ACCEPT),
                                      .id = htonl(id)};
    requestInit(&r, NFQNL_MSG_VERDICT, 0);
    requestAttr(&r, NFQA_VERDICT_HDR, &v, sizeof v);
    if (requestSend(&r) != 0) {
        n_dropped_verdicts++;
        return -1;
    }
    return 0;
}

static int bindQueue(void)
{
    struct nfqnl_msg_config_cmd cmd = {.command = NFQNL_CFG_CMD_BIND,
                                       .pf = htons(AF_INET)};
    struct nfqnl_msg_config_params params = {.copy_range = htonl(0),
                                             .copy_mode = NFQNL_COPY_META};
    uint32_t maxlen = htonl(65536);
    uint32_t flags = htonl(NFQA_CFG_F_FAIL_OPEN);
    if (configure(NFQA_CFG_CMD, &cmd, sizeof cmd) != 0) {
        perror("faults-delay: bind queue");
        return -1;
    }
    if (configure(NFQA_CFG_PARAMS, &params, sizeof params) != 0 ||
        configure(NFQA_CFG_QUEUE_MAXLEN, &maxlen, sizeof maxlen) != 0) {
        perror("faults-delay: queue parameters");
        return -1;
    }
    /* Fail open (a full queue lets packets pass) where the kernel can. */
    struct request r;
    char reply[4096];
    requestInit(&r, NFQNL_MSG_CONFIG, NLM_F_ACK);
    requestAttr(&r, NFQA_CFG_FLAGS, &flags, sizeof flags);
    requestAttr(&r, NFQA_CFG_MASK, &flags, sizeof flags);
    if (requestSend(&r) != 0 || recv(nl_fd, reply, sizeof reply, 0) < 0) {
        perror("faults-delay: queue flags");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ packets */

static uint64_t drawDelayNs(unsigned delay_ms, unsigned jitter_ms)
{
    int64_t d = (int64_t)delay_ms * 1000000;
    if (jitter_ms > 0) {
        uint64_t span = (uint64_t)jitter_ms * 2000000 + 1;
        d += (int64_t)(rngNext() % span) - (int64_t)jitter_ms * 1000000;
    }
    return d > 0 ? (uint64_t)d : 0;
}

/* Reads one datagram of queued packets and holds each one. Returns 1 when
 * one was read, 0 when none was waiting, -1 on error. */
static int receive(char *buf, size_t size, unsigned delay_ms,
                   unsigned jitter_ms)
{
    ssize_t n = recv(nl_fd, buf, size, MSG_DONTWAIT);
    if (n < 0) {
        /* ENOBUFS: the kernel dropped notifications; carry on. */
        return errno == EAGAIN || errno == ENOBUFS || errno == EINTR ? 0 : -1;
    }
    uint64_t now = nowNs();
    size_t left = (size_t)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left);
         h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) {
            continue;
        }
        size_t off = NLMSG_LENGTH(sizeof(struct nfgenmsg));
        while (off + NLA_HDRLEN <= h->nlmsg_len) {
            struct nlattr *a = (struct nlattr *)((char *)h + off);
            if (a->nla_len < NLA_HDRLEN || off + a->nla_len > h->nlmsg_len) {
                break;
            }
            if ((a->nla_type & NLA_TYPE_MASK) == NFQA_PACKET_HDR &&
                a->nla_len >=
                    NLA_HDRLEN + sizeof(struct nfqnl_msg_packet_hdr)) {
                struct nfqnl_msg_packet_hdr ph;
                memcpy(&ph, (char *)a + NLA_HDRLEN, sizeof ph);
                uint64_t d = drawDelayNs(delay_ms, jitter_ms);
                struct held x = {.release_ns = now + d,
                                 .id = ntohl(ph.packet_id)};
                if (heapPush(x) != 0) {
                    verdict(x.id); /* out of memory: let it go now */
                } else {
                    n_packets++;
                    total_delay_ns += d;
                }
                break;
            }
            off += NLA_ALIGN(a->nla_len);
        }
    }
    return 1;
}

static void releaseDue(uint64_t now)
{
    while (n_held > 0 && heap[0].release_ns <= now) {
        verdict(heapPop().id);
    }
}

int main(int argc, char *argv[])
{
    if (argc != 5) {
        fprintf(stderr, "usage: faults-delay QUEUE DELAY_MS JITTER_MS SEED\n");
        return 2;
    }
    queue_num = (uint16_t)strtoul(argv[1], NULL, 10);
    unsigned delay_ms = (unsigned)strtoul(argv[2], NULL, 10);
    unsigned jitter_ms = (unsigned)strtoul(argv[3], NULL, 10);
    rng_state = strtoull(argv[4], NULL, 10) * 2654435761u + queue_num;

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    int sig_fd = signalfd(-1, &stop, SFD_CLOEXEC);

    nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (nl_fd < 0 || sig_fd < 0) {
        perror("faults-delay: socket");
        return 1;
    }
    int big = 8 << 20, one = 1;
    setsockopt(nl_fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    setsockopt(nl_fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
    struct sockaddr_nl self = {.nl_family = AF_NETLINK};
    if (bind(nl_fd, (struct sockaddr *)&self, sizeof self) != 0 ||
        bindQueue() != 0) {
        perror("faults-delay: bind");
        return 1;
    }
    printf("bound queue %u: delay %u ms, jitter %u ms\n", queue_num, delay_ms,
           jitter_ms);
    fflush(stdout);

    static char buf[1 << 16];
    for (;;) {
        struct pollfd fds[2] = {{.fd = nl_fd, .events = POLLIN},
                                {.fd = sig_fd, .events = POLLIN}};
        struct timespec wait = {.tv_sec = 1}, *tmo = &wait;
        if (n_held > 0) {
            uint64_t now = nowNs(), at = heap[0].release_ns;
            uint64_t d = at > now ? at - now : 0;
            wait.tv_sec = (time_t)(d / 1000000000u);
            wait.tv_nsec = (long)(d % 1000000000u);
        }
        int rv = ppoll(fds, 2, tmo, NULL);
        if (rv < 0 && errno != EINTR) {
            perror("faults-delay: poll");
            break;
        }
        if (rv > 0 && (fds[1].revents & POLLIN)) {
            break;
        }
        if (rv > 0 && (fds[0].revents & POLLIN) &&
            receive(buf, sizeof buf, delay_ms, jitter_ms) < 0) {
            perror("faults-delay: recv");
            break;
        }
        releaseDue(nowNs());
    }
    /* Stop (the harness removed the rule first): take what the kernel still
     * queues, then let everything held go now. */
    while (receive(buf, sizeof buf, delay_ms, jitter_ms) == 1) {
    }
    releaseDue(UINT64_MAX);
    printf("released: %llu packets delayed, mean %.1f ms, %llu verdicts "
           "failed\n",
           (unsigned long long)n_packets,
           n_packets ? (double)total_delay_ns / (double)n_packets / 1e6 : 0.0,
           (unsigned long long)n_dropped_verdicts);
    return 0;
}
