/*
 * dqlite-bench --probe DIR: the machine's floor under any replicated
 * commit. A commit needs at least one durable write on a majority and a
 * network round trip, so the tool measures, for a fixed time each: 4 KiB
 * appended then fdatasync'ed (a growing file, as a log segment), 4 KiB
 * overwritten in place then fdatasync'ed (a preallocated file), and a
 * 64-byte TCP ping-pong over 127.0.0.1 between two threads.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define PROBE_BLOCK 4096
#define PROBE_MSG 64

/* fdatasyncs per second writing 4 KiB blocks: appended or overwritten. */
static double probeSync(const char *dir, bool append, double seconds)
{
    char path[4096], block[PROBE_BLOCK];
    uint64_t n = 0, start_ns, end_ns;
    snprintf(path, sizeof path, "%s/dqlite-bench-probe", dir);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    if (fd < 0) {
        return -1;
    }
    memset(block, 'x', sizeof block);
    if (!append) {
        for (int i = 0; i < 256; i++) {
            (void)!write(fd, block, sizeof block);
        }
        fsync(fd);
    }
    start_ns = benchNowNs();
    end_ns = start_ns + (uint64_t)(seconds * 1e9);
    while (benchNowNs() < end_ns) {
        off_t off = append ? (off_t)(n * PROBE_BLOCK)
                           : (off_t)((n % 256) * PROBE_BLOCK);
        if (pwrite(fd, block, sizeof block, off) != PROBE_BLOCK ||
            fdatasync(fd) != 0) {
            break;
        }
        n++;
    }
    double rate = (double)n / ((double)(benchNowNs() - start_ns) / 1e9);
    close(fd);
    unlink(path);
    return rate;
}

static void *echoMain(void *arg)
{
    int fd = *(int *)arg;
    char buf[PROBE_MSG];
    while (recv(fd, buf, sizeof buf, MSG_WAITALL) == PROBE_MSG &&
           send(fd, buf, sizeof buf, 0) == PROBE_MSG) {
    }
    close(fd);
    return NULL;
}

/* A connected pair of loopback TCP sockets, Nagle off. */
static int loopbackPair(int fds[2])
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) != 0) {
        return -1;
    }
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fds[0], (struct sockaddr *)&a, sizeof a) != 0) {
        return -1;
    }
    fds[1] = accept(lfd, NULL, NULL);
    close(lfd);
    setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fds[1] < 0 ? -1 : 0;
}

/* Median round trip in microseconds. */
static double probeLoopback(double seconds)
{
    int fds[2];
    char buf[PROBE_MSG] = {0};
    pthread_t echo;
    struct bench_latencies lat = {0};
    if (loopbackPair(fds) != 0) {
        return -1;
    }
    pthread_create(&echo, NULL, echoMain, &fds[1]);
    uint64_t end_ns = benchNowNs() + (uint64_t)(seconds * 1e9);
    while (benchNowNs() < end_ns) {
        uint64_t t0_ns = benchNowNs();
        if (send(fds[0], buf, sizeof buf, 0) != PROBE_MSG ||
            recv(fds[0], buf, sizeof buf, MSG_WAITALL) != PROBE_MSG) {
            break;
        }
        benchLatAdd(&lat, benchNowNs() - t0_ns);
    }
    shutdown(fds[0], SHUT_RDWR);
    close(fds[0]);
    pthread_join(echo, NULL);
    double p50_us = benchLatMedianUs(&lat);
    benchLatFree(&lat);
    return p50_us;
}

int benchProbe(const char *dir, double seconds)
{
    double append = probeSync(dir, true, seconds);
    double overwrite = probeSync(dir, false, seconds);
    double rtt_us = probeLoopback(seconds);
    if (append < 0 || overwrite < 0 || rtt_us < 0) {
        fprintf(stderr, "dqlite-bench: probe in %s failed\n", dir);
        return 1;
    }
    printf("fdatasync_append_4k_per_s %.0f (%.3f ms)\n", append, 1e3 / append);
    printf("fdatasync_overwrite_4k_per_s %.0f (%.3f ms)\n", overwrite,
           1e3 / overwrite);
    printf("loopback_rtt_us %.1f\n", rtt_us);
    return 0;
}
